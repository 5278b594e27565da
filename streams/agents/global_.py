"""posts.global -> alerts: the global detector (rises over the whole region set, such as a
nationwide outage, which no zone's detector sees) over every relevant post, unlocated ones
too; its state in a table so a restarted worker carries on where the last one stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from models.errors import InvalidRecord
from models.records import RelevantPost, Watermark, loads
from streams.agents.detect import RunnerTable
from streams.agents.publish import publish
from streams.chain import Runner
from streams.topics import GLOBAL_PARTITIONS

if TYPE_CHECKING:
    from streams.app import Context

KEY = "global"


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import reject

    table = app.Table("global-state", default=dict, partitions=GLOBAL_PARTITIONS)
    runners = RunnerTable(
        table,
        lambda _key, state: Runner.restore_global(ctx.stages, ctx.partitions.normalized, state),
    )

    @app.agent(ctx.global_, name="global", concurrency=1)
    async def detect_global(stream: Any) -> None:
        async for event in stream.events():
            try:
                obj = loads(event.value or b"")
                runner = runners.get(KEY)
                if Watermark.is_watermark(obj):
                    mark = Watermark.from_wire(obj)
                    alerts = runner.on_watermark(mark.source, mark.watermark_ms)
                else:
                    post = RelevantPost.from_wire(obj)
                    if not runner.detector.observe(post):
                        raise InvalidRecord("late", f"window of {post.created_at_ms} closed")
                    alerts = []
            except Exception as exc:  # any failure is dead-lettered with its reason
                await reject(ctx, "global", exc, event)
                continue
            for alert in alerts:
                await publish(ctx, alert)
            runners.save(KEY, runner)
