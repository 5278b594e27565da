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
SAVE_BATCH = 500
"""Most messages a runner takes before its state is written (and they are acknowledged)."""


class RunnerTable:
    """Runners whose state lives in a Faust table under their key, cached in memory while
    the saved ``seq`` matches (a table restored or taken over by a rebalance rebuilds the
    runner from its saved state).

    A runner's state is written to the table in batches, not after every message (it holds
    every distinct author of its open windows: writing it per message costs the square of
    an outage's size): when its watermark moves (every zone gets every window's watermark)
    or after ``batch`` messages. The messages it took since its last save stay
    unacknowledged until that save, so the committed offsets never run ahead of the saved
    state: a restarted worker re-reads exactly the messages the table does not hold yet.
    (Table keys can only be written while handling a message of their own partition.)"""

    def __init__(
        self, table: Any, restore: Callable[[str, Any], Runner], batch: int = SAVE_BATCH
    ) -> None:
        self.table = table
        self.restore = restore
        self.batch = batch
        self.cached: dict[str, tuple[int, Runner]] = {}
        self.held: dict[str, list[Any]] = {}

    def get(self, key: str) -> Runner:
        saved = self.table.get(key) or {}
        seq = int(saved.get("seq", 0))
        cached = self.cached.get(key)
        if cached is None or cached[0] != seq:
            cached = self.cached[key] = (seq, self.restore(key, saved.get("runner")))
        return cached[1]

    def hold(self, key: str, event: Any, *, save_now: bool) -> None:
        """``event`` changed the runner under ``key`` (call after :meth:`get`); save and
        acknowledge now when ``save_now`` or when the batch is full."""
        held = self.held.setdefault(key, [])
        held.append(event)
        if save_now or len(held) >= self.batch:
            self.save(key)

    def save(self, key: str) -> None:
        """Write the runner's state and acknowledge the messages it holds."""
        seq, runner = self.cached[key]
        self.cached[key] = (seq + 1, runner)
        self.table[key] = {"seq": seq + 1, "runner": runner.to_state()}
        for event in self.held.pop(key, ()):
            event.ack()


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import STATE_TOPIC_CONFIG, each, reject

    table = app.Table(
        "zone-state",
        default=dict,
        extra_topic_configs=STATE_TOPIC_CONFIG,
        partitions=ctx.partitions.relevant,
    )
    runners = ctx.runners[STAGE] = RunnerTable(
        table,
        lambda zone, state: Runner.restore_zone(ctx.stages, zone, ctx.partitions.normalized, state),
    )

    async def step(event: Any) -> None:
        zone = (event.key or b"").decode("utf-8", "replace")
        if zone not in ctx.stages.zones:
            await reject(ctx, STAGE, InvalidRecord("unknown zone", zone), event)
            event.ack()
            return
        await handle(ctx, runners, zone, STAGE, event)

    @app.agent(ctx.topics[RELEVANT], name=STAGE, concurrency=1)
    async def detect(stream: Any) -> None:
        await each(ctx, STAGE, stream.noack(), step, event_lag=True)


async def handle(ctx: Context, runners: RunnerTable, key: str, stage: str, event: Any) -> None:
    """One message of a detector's topic (a stream without automatic acknowledgements):
    feed the runner stored under ``key``, publish the alerts it closes, and hold the message
    until the runner's state is saved — at once when its watermark moved; any failure is
    dead-lettered with its reason."""
    from streams.app import reject

    try:
        runner = runners.get(key)
        before = runner.clock.current()
        alerts = runner.on_record(loads(event.value or b""))
    except Redelivered:
        ctx.metrics.redelivered(stage)
        event.ack()
        return
    except Exception as exc:  # any failure is dead-lettered with its reason
        await reject(ctx, stage, exc, event)
        event.ack()
        return
    after = runner.clock.current()
    if before is not None and after is not None:
        ctx.metrics.windows_closed(stage, (after - before) // ctx.stages.window_ms)
    for alert in alerts:
        await publish(ctx, stage, alert)
        ctx.metrics.alert(alert, key)
    runners.hold(key, event, save_now=after != before or bool(alerts))
