"""posts.raw -> posts.normalized: decode any supported format, reject late or bad posts,
and send each raw partition's watermark to every normalized partition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from models.records import Watermark, dumps
from streams.chain import Origin
from streams.topics import NORMALIZED, RAW

if TYPE_CHECKING:
    from streams.app import Context

STAGE = "normalize"


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import dead_letter, each

    origins: dict[int, Origin] = {}

    async def step(event: Any) -> None:
        part = event.message.partition
        origin = origins.get(part)
        if origin is None:
            origin = origins[part] = ctx.stages.origin()
        out = origin.process(event.value or b"")
        for reason, detail, data in out.rejected:
            await dead_letter(ctx, STAGE, reason, detail, data, event)
        for post in out.posts:
            await ctx.send(
                STAGE,
                NORMALIZED,
                key=post.id.encode(),
                value=dumps(post.to_wire()),
                timestamp=post.created_at_ms / 1000,
            )
        if out.tick_ms is not None:
            tick = dumps(Watermark(str(part), out.tick_ms).to_wire())
            for target in range(ctx.partitions.normalized):
                await ctx.send(
                    STAGE, NORMALIZED, value=tick, partition=target, timestamp=out.tick_ms / 1000
                )

    @app.agent(ctx.topics[RAW], name=STAGE, concurrency=1)
    async def normalize(stream: Any) -> None:
        await each(ctx, STAGE, stream, step)
