"""posts.normalized -> posts.relevant: keep network complaints, place them in a region and
zone (the message key), and pass the watermark on to every zone."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import faust

from models.errors import InvalidRecord
from models.records import Post, Watermark, dumps, loads
from models.watermark import MinClock, TickGate

if TYPE_CHECKING:
    from streams.app import Context

log = logging.getLogger("groundswell.classify")


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import dead_letter

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
                    continue
                post = Post.from_wire(obj)
                rp = stages.relevant(post)
            except InvalidRecord as exc:
                await dead_letter(ctx, "classify", exc.reason, exc.detail, event.value, event)
                continue
            except Exception as exc:  # a bug must not stop the stream: keep the message
                log.exception("classify failed on a message")
                await dead_letter(ctx, "classify", "internal error", repr(exc), event.value, event)
                continue
            if rp is not None:
                await ctx.relevant.send(
                    key=rp.zone_id.encode(),
                    value=dumps(rp.to_wire()),
                    timestamp=rp.created_at_ms / 1000,
                )
