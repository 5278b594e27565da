"""posts.raw -> posts.normalized: decode any supported format, reject late or bad posts,
and send each raw partition's watermark to every normalized partition.

The agent takes raw messages a group at a time (each one record or a batch); their posts
travel on together, as few messages as fit, to the normalized partitions in turn. A
watermark tick is sent to every partition after the posts before it, so no partition
sees a tick ahead of its posts."""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING, Any

import faust

from models.records import Watermark, dumps
from streams.chain import Origin
from streams.topics import NORMALIZED, RAW

if TYPE_CHECKING:
    from streams.app import Context, Taken

STAGE = "normalize"


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import dead_letter, each_taken

    origins: dict[int, Origin] = {}
    turn = count()

    async def send_posts(posts: list[bytes], latest_ms: int) -> None:
        if posts:
            target = next(turn) % ctx.partitions.normalized
            await ctx.send_records(STAGE, NORMALIZED, posts, target, latest_ms)
            posts.clear()

    async def step(taken: Taken) -> None:
        posts: list[bytes] = []
        latest_ms = 0
        for event, records in taken:
            part = event.message.partition
            origin = origins.get(part)
            if origin is None:
                origin = origins[part] = ctx.stages.origin()
            for record in records:
                out = origin.process(record)
                for reason, detail, data in out.rejected:
                    await dead_letter(ctx, STAGE, reason, detail, data, event)
                for post in out.posts:
                    posts.append(dumps(post.to_wire()))
                    latest_ms = max(latest_ms, post.created_at_ms)
                if out.tick_ms is not None:
                    await send_posts(posts, latest_ms)
                    tick = dumps(Watermark(str(part), out.tick_ms).to_wire())
                    for target in range(ctx.partitions.normalized):
                        await ctx.send_records(STAGE, NORMALIZED, [tick], target, out.tick_ms)
        await send_posts(posts, latest_ms)

    @app.agent(ctx.topics[RAW], name=STAGE, concurrency=1)
    async def normalize(stream: Any) -> None:
        await each_taken(ctx, STAGE, stream, step)
