"""posts.global -> alerts: the global detector (rises over the whole region set, such as a
nationwide outage, which no zone's detector sees) over every relevant post, unlocated ones
too; its state in a table so a restarted worker carries on where the last one stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from streams.agents.detect import RunnerTable, handle
from streams.chain import Runner
from streams.topics import GLOBAL, GLOBAL_PARTITIONS

if TYPE_CHECKING:
    from streams.app import Context

KEY = "global"
STAGE = "global"


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import STATE_TOPIC_CONFIG, each

    table = app.Table(
        "global-state",
        default=dict,
        extra_topic_configs=STATE_TOPIC_CONFIG,
        partitions=GLOBAL_PARTITIONS,
    )
    runners = ctx.runners[STAGE] = RunnerTable(
        table,
        lambda _key, state: Runner.restore_global(ctx.stages, ctx.partitions.normalized, state),
    )

    async def step(event: Any, records: list[bytes]) -> None:
        await handle(ctx, runners, STAGE, event, records, [KEY], lambda _post: KEY)

    @app.agent(ctx.topics[GLOBAL], name=STAGE, concurrency=1)
    async def detect_global(stream: Any) -> None:
        await each(ctx, STAGE, stream.noack(), step, event_lag=True)
