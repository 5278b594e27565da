"""posts.relevant -> alerts: one detector per zone (the message key), its state in a
table so a restarted or rebalanced worker carries on where the last one stopped."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust

from models.errors import InvalidRecord
from models.records import loads
from streams.agents.publish import publish
from streams.chain import Redelivered, Runner
from streams.topics import RELEVANT

if TYPE_CHECKING:
    from streams.app import Context

STAGE = "detect"


class RunnerTable:
    """Runners whose state lives in a Faust table under their key, cached in memory while
    the saved ``seq`` matches (a table restored or taken over by a rebalance rebuilds the
    runner from its saved state)."""

    def __init__(self, table: Any, restore: Callable[[str, Any], Runner]) -> None:
        self.table = table
        self.restore = restore
        self.cached: dict[str, tuple[int, Runner]] = {}

    def get(self, key: str) -> Runner:
        saved = self.table.get(key) or {}
        seq = int(saved.get("seq", 0))
        cached = self.cached.get(key)
        if cached is None or cached[0] != seq:
            cached = self.cached[key] = (seq, self.restore(key, saved.get("runner")))
        return cached[1]

    def save(self, key: str, runner: Runner) -> None:
        """Store the runner's state after a message it handled (call after :meth:`get`)."""
        seq = self.cached[key][0] + 1
        self.cached[key] = (seq, runner)
        self.table[key] = {"seq": seq, "runner": runner.to_state()}


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import each, reject

    table = app.Table("zone-state", default=dict, partitions=ctx.partitions.relevant)
    runners = ctx.runners[STAGE] = RunnerTable(
        table,
        lambda zone, state: Runner.restore_zone(ctx.stages, zone, ctx.partitions.normalized, state),
    )

    async def step(event: Any) -> None:
        zone = (event.key or b"").decode("utf-8", "replace")
        if zone not in ctx.stages.zones:
            await reject(ctx, STAGE, InvalidRecord("unknown zone", zone), event)
            return
        await handle(ctx, runners, zone, STAGE, event)

    @app.agent(ctx.topics[RELEVANT], name=STAGE, concurrency=1)
    async def detect(stream: Any) -> None:
        await each(ctx, STAGE, stream, step, event_lag=True)


async def handle(ctx: Context, runners: RunnerTable, key: str, stage: str, event: Any) -> None:
    """One message of a detector's topic: feed the runner stored under ``key``, publish the
    alerts it closes and save its state; any failure is dead-lettered with its reason."""
    from streams.app import reject

    try:
        runner = runners.get(key)
        before = runner.clock.current()
        alerts = runner.on_record(loads(event.value or b""))
    except Redelivered:
        ctx.metrics.redelivered(stage)
        return
    except Exception as exc:  # any failure is dead-lettered with its reason
        await reject(ctx, stage, exc, event)
        return
    after = runner.clock.current()
    if before is not None and after is not None:
        ctx.metrics.windows_closed(stage, (after - before) // ctx.stages.window_ms)
    for alert in alerts:
        await publish(ctx, stage, alert)
        ctx.metrics.alert(alert, key)
    runners.save(key, runner)
