"""posts.normalized -> posts.relevant and posts.global: keep network complaints, place them
in a region and zone (the message key), send each to its zone and to the global detector
(unlocated ones too), and pass the watermark on to every zone and to the global detector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from models.records import Post, Watermark, dumps, loads
from models.watermark import MinClock, TickGate

if TYPE_CHECKING:
    from streams.app import Context


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import reject

    clocks: dict[int, tuple[MinClock, TickGate]] = {}
    stages = ctx.stages

    @app.agent(ctx.normalized, name="classify", concurrency=1)
    async def classify(stream: Any) -> None:
        async for event in stream.events():
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
                            await ctx.relevant.send(
                                key=zone.encode(), value=value, timestamp=tick / 1000
                            )
                        await ctx.global_.send(value=value, partition=0, timestamp=tick / 1000)
                    continue
                post = Post.from_wire(obj)
                rp = stages.relevant(post)
            except Exception as exc:  # any failure is dead-lettered with its reason
                await reject(ctx, "classify", exc, event)
                continue
            if rp is not None:
                value = dumps(rp.to_wire())
                await ctx.relevant.send(
                    key=rp.zone_id.encode(), value=value, timestamp=rp.created_at_ms / 1000
                )
                await ctx.global_.send(value=value, partition=0, timestamp=rp.created_at_ms / 1000)
