"""posts.relevant -> alerts: one detector per zone (the message key), its state in a
table so a restarted or rebalanced worker carries on where the last one stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from models.errors import InvalidRecord
from models.records import RelevantPost, Watermark, loads
from streams.agents.publish import publish
from streams.chain import ZoneRunner

if TYPE_CHECKING:
    from streams.app import Context


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import reject

    table = app.Table("zone-state", default=dict, partitions=ctx.partitions.relevant)
    runners: dict[str, tuple[int, ZoneRunner]] = {}

    def runner_for(zone: str) -> tuple[int, ZoneRunner]:
        saved = table.get(zone) or {}
        seq = int(saved.get("seq", 0))
        cached = runners.get(zone)
        if cached is None or cached[0] != seq:
            runner = ZoneRunner.restore(
                ctx.stages, zone, ctx.partitions.normalized, saved.get("runner")
            )
            cached = runners[zone] = (seq, runner)
        return cached

    @app.agent(ctx.relevant, name="detect", concurrency=1)
    async def detect(stream: Any) -> None:
        async for event in stream.events():
            zone = (event.key or b"").decode("utf-8", "replace")
            try:
                if zone not in ctx.stages.zones:
                    raise InvalidRecord("unknown zone", zone)
                obj = loads(event.value or b"")
                seq, runner = runner_for(zone)
                if Watermark.is_watermark(obj):
                    mark = Watermark.from_wire(obj)
                    alerts = runner.on_watermark(mark.source, mark.watermark_ms)
                else:
                    post = RelevantPost.from_wire(obj)
                    if not runner.detector.observe(post) and post.region_id is not None:
                        raise InvalidRecord("late", f"window of {post.created_at_ms} closed")
                    alerts = []
            except Exception as exc:  # any failure is dead-lettered with its reason
                await reject(ctx, "detect", exc, event)
                continue
            for alert in alerts:
                await publish(ctx, alert)
            runners[zone] = (seq + 1, runner)
            table[zone] = {"seq": seq + 1, "runner": runner.to_state()}
