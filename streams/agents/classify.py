"""posts.normalized -> posts.relevant and posts.global: keep network complaints, place them
in a region and zone, send each to its zone's partition and to the global detector
(unlocated ones too), and pass the watermark on to every zone partition and to the global
detector.

The agent takes messages a group at a time; their relevant posts travel on as one message
per partition they go to (as few as fit); a watermark tick is sent after the posts before
it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from models.formats import native_post
from models.records import Post, Watermark, dumps, loads
from models.watermark import MinClock, TickGate
from streams.topics import GLOBAL, NORMALIZED, RELEVANT

if TYPE_CHECKING:
    from streams.app import Context, Taken

STAGE = "classify"


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import each_taken, reject

    clocks: dict[int, tuple[MinClock, TickGate]] = {}
    stages = ctx.stages

    async def send_posts(pending: list[tuple[int, bytes]], latest_ms: int) -> None:
        """Each zone partition's posts as one message, then all of them, in order, to the
        global detector."""
        by_partition: dict[int, list[bytes]] = {}
        for target, value in pending:
            by_partition.setdefault(target, []).append(value)
        for target, values in sorted(by_partition.items()):
            await ctx.send_records(STAGE, RELEVANT, values, target, latest_ms)
        if pending:
            await ctx.send_records(STAGE, GLOBAL, [v for _, v in pending], 0, latest_ms)
        pending.clear()

    async def on_watermark(
        part: int, mark: Watermark, pending: list[tuple[int, bytes]], latest_ms: int
    ) -> None:
        """A watermark from input partition ``part``: when it crosses a window boundary,
        the posts so far, then the tick to every zone partition and the global detector."""
        if part not in clocks:
            clocks[part] = (MinClock(ctx.partitions.raw), TickGate(stages.window_ms))
        clock, gate = clocks[part]
        tick = gate.offer(clock.observe(mark.source, mark.watermark_ms))
        if tick is not None:
            await send_posts(pending, latest_ms)
            value = dumps(Watermark(str(part), tick).to_wire())
            for target in range(ctx.partitions.relevant):
                await ctx.send_records(STAGE, RELEVANT, [value], target, tick)
            await ctx.send_records(STAGE, GLOBAL, [value], 0, tick)

    async def step(taken: Taken) -> None:
        pending: list[tuple[int, bytes]] = []
        latest_ms = 0
        for event, records in taken:
            part = event.message.partition
            for record in records:
                try:
                    post = native_post(record)  # a post as the normalize stage writes it
                    if post is None:
                        obj = loads(record)
                        if Watermark.is_watermark(obj):
                            await on_watermark(part, Watermark.from_wire(obj), pending, latest_ms)
                            continue
                        post = Post.from_wire(obj)
                    rp = stages.relevant(post)
                except Exception as exc:  # any failure is dead-lettered with its reason
                    await reject(ctx, STAGE, exc, event, record)
                    continue
                if rp is not None:
                    ctx.metrics.relevant(rp)
                    pending.append((ctx.zone_partition[rp.zone_id], dumps(rp.to_wire())))
                    latest_ms = max(latest_ms, rp.created_at_ms)
        await send_posts(pending, latest_ms)

    @app.agent(ctx.topics[NORMALIZED], name=STAGE, concurrency=1)
    async def classify(stream: Any) -> None:
        await each_taken(ctx, STAGE, stream, step)
