"""posts.normalized -> posts.relevant and posts.global: keep network complaints, place them
in a region and zone (the message key), send each to its zone and to the global detector
(unlocated ones too), and pass the watermark on to every zone and to the global detector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from models.records import Post, Watermark, dumps, loads
from models.watermark import MinClock, TickGate
from streams.topics import GLOBAL, NORMALIZED, RELEVANT

if TYPE_CHECKING:
    from streams.app import Context

STAGE = "classify"


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import each, reject

    clocks: dict[int, tuple[MinClock, TickGate]] = {}
    stages = ctx.stages

    async def step(event: Any) -> None:
        part = event.message.partition
        try:
            obj = loads(event.value or b"")
            if Watermark.is_watermark(obj):
                mark = Watermark.from_wire(obj)
                if part not in clocks:
                    clocks[part] = (MinClock(ctx.partitions.raw), TickGate(stages.window_ms))
                clock, gate = clocks[part]
                tick = gate.offer(clock.observe(mark.source, mark.watermark_ms))
                if tick is not None:
                    value = dumps(Watermark(str(part), tick).to_wire())
                    for zone in stages.zones:
                        await ctx.send(
                            STAGE, RELEVANT, key=zone.encode(), value=value, timestamp=tick / 1000
                        )
                    await ctx.send(STAGE, GLOBAL, value=value, partition=0, timestamp=tick / 1000)
                return
            rp = stages.relevant(Post.from_wire(obj))
        except Exception as exc:  # any failure is dead-lettered with its reason
            await reject(ctx, STAGE, exc, event)
            return
        if rp is not None:
            ctx.metrics.relevant(rp)
            value = dumps(rp.to_wire())
            stamp = rp.created_at_ms / 1000
            await ctx.send(STAGE, RELEVANT, key=rp.zone_id.encode(), value=value, timestamp=stamp)
            await ctx.send(STAGE, GLOBAL, value=value, partition=0, timestamp=stamp)

    @app.agent(ctx.topics[NORMALIZED], name=STAGE, concurrency=1)
    async def classify(stream: Any) -> None:
        await each(ctx, STAGE, stream, step)
