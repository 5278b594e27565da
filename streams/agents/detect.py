"""posts.relevant -> alerts: one detector per zone (the message key), its state in a
table so a restarted or rebalanced worker carries on where the last one stopped."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust

from models.errors import InvalidRecord
from models.records import RelevantPost, Watermark, loads
from streams.agents.publish import publish
from streams.chain import Redelivered, Runner
from streams.topics import RELEVANT

if TYPE_CHECKING:
    from streams.app import Context

STAGE = "detect"
SAVE_BATCH = 500
"""Most messages a runner takes before its state is written (and they are acknowledged)."""


class Held:
    """A message taken by detectors: acknowledged once every runner it changed has saved
    its state (a batch may change several), never once a change it made was dropped."""

    def __init__(self, event: Any, generation: int) -> None:
        self.event = event
        self.generation = generation  # of the runner table when the message was taken
        self.refs = 1  # the handler's own, released when it is done with the message
        self.dropped = False

    def take(self) -> Held:
        self.refs += 1
        return self

    def release(self) -> None:
        self.refs -= 1
        if self.refs == 0 and not self.dropped:
            self.event.ack()


class RunnerTable:
    """Runners whose state lives in a Faust table under their key, cached in memory while
    the saved ``seq`` matches (a table restored or taken over by a rebalance rebuilds the
    runner from its saved state).

    A runner's state is written to the table in batches, not after every record (it holds
    every distinct author of its open windows: writing it per record costs the square of
    an outage's size): when its watermark moves (every zone gets every window's watermark)
    or after ``batch`` records. The messages it took since its last save stay
    unacknowledged until that save, so the committed offsets never run ahead of the saved
    state: a restarted worker re-reads exactly the messages the table does not hold yet.
    (Table keys can only be written while handling a message of their own partition.)

    When the group rebalances, :meth:`forget` drops every unsaved change with the messages
    that made it, unacknowledged: whoever is assigned their partitions next reads them again
    on the saved state. (Waiting for them to be acknowledged instead, Faust's default, would
    wait for a window that cannot close while the partitions are paused: the revoking worker
    stalls until the group expels it.)"""

    def __init__(
        self, table: Any, restore: Callable[[str, Any], Runner], batch: int = SAVE_BATCH
    ) -> None:
        self.table = table
        self.restore = restore
        self.batch = batch
        self.cached: dict[str, tuple[int, Runner]] = {}
        self.held: dict[str, list[Held]] = {}
        self.generation = 0

    def message(self, event: Any) -> Held:
        """``event`` taken now."""
        return Held(event, self.generation)

    def get(self, key: str) -> Runner:
        saved = self.table.get(key) or {}
        seq = int(saved.get("seq", 0))
        cached = self.cached.get(key)
        if cached is None or cached[0] != seq:
            cached = self.cached[key] = (seq, self.restore(key, saved.get("runner")))
        return cached[1]

    def hold(self, key: str, message: Held, *, save_now: bool) -> None:
        """``message`` changed the runner under ``key`` (call after :meth:`get`); save and
        acknowledge now when ``save_now`` or when the batch is full. A message taken before
        the last :meth:`forget` changed a runner built before it: that runner is dropped."""
        if message.generation != self.generation:
            message.dropped = True
            self._drop(key)
            return
        held = self.held.setdefault(key, [])
        held.append(message.take())
        if save_now or len(held) >= self.batch:
            self.save(key)

    def save(self, key: str) -> None:
        """Write the runner's state and release the messages it holds."""
        seq, runner = self.cached[key]
        self.cached[key] = (seq + 1, runner)
        self.table[key] = {"seq": seq + 1, "runner": runner.to_state()}
        for message in self.held.pop(key, ()):
            message.release()

    def forget(self) -> None:
        """Drop every runner with unsaved changes and the messages they hold (see above)."""
        self.generation += 1
        for key in list(self.held):
            self._drop(key)

    def _drop(self, key: str) -> None:
        self.cached.pop(key, None)
        for message in self.held.pop(key, ()):
            message.dropped = True


def register(app: faust.App, ctx: Context) -> None:
    from streams.app import STATE_TOPIC_CONFIG, each

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

    async def step(event: Any, records: list[bytes]) -> None:
        part = event.message.partition

        def zone_of(post: RelevantPost) -> str:
            where = ctx.zone_partition.get(post.zone_id)
            if where is None:
                raise InvalidRecord("unknown zone", post.zone_id)
            if where != part:
                raise InvalidRecord("wrong partition", f"zone {post.zone_id} is on {where}")
            return post.zone_id

        await handle(ctx, runners, STAGE, event, records, ctx.zones_at[part], zone_of)

    @app.agent(ctx.topics[RELEVANT], name=STAGE, concurrency=1)
    async def detect(stream: Any) -> None:
        await each(ctx, STAGE, stream.noack(), step, event_lag=True)


async def handle(
    ctx: Context,
    runners: RunnerTable,
    stage: str,
    event: Any,
    records: list[bytes],
    marked: list[str],
    key_of: Callable[[RelevantPost], str],
) -> None:
    """One message of a detectors' topic (a stream without automatic acknowledgements): a
    watermark goes to the runners under every key of ``marked``, a relevant post to the
    runner under ``key_of(post)``; publish the alerts they close, and hold the message
    until each runner it changed has saved its state — at once when its watermark moved.
    Any failure is dead-lettered with its reason."""
    from streams.app import reject

    message = runners.message(event)
    for record in records:
        try:
            obj = loads(record)
            if Watermark.is_watermark(obj):
                mark = Watermark.from_wire(obj)
                for key in marked:
                    await feed(ctx, runners, key, stage, message, record, mark)
                continue
            post = RelevantPost.from_wire(obj)
            key = key_of(post)
        except Exception as exc:  # any failure is dead-lettered with its reason
            await reject(ctx, stage, exc, event, record)
            continue
        await feed(ctx, runners, key, stage, message, record, post)
    message.release()


async def feed(
    ctx: Context,
    runners: RunnerTable,
    key: str,
    stage: str,
    message: Held,
    record: bytes,
    item: Watermark | RelevantPost,
) -> None:
    """Give one watermark or post to the runner under ``key``."""
    from streams.app import reject

    try:
        runner = runners.get(key)
        before = runner.clock.current()
        alerts = runner.on_item(item)
    except Redelivered:
        ctx.metrics.redelivered(stage)
        return
    except Exception as exc:  # any failure is dead-lettered with its reason
        await reject(ctx, stage, exc, message.event, record)
        return
    after = runner.clock.current()
    if before is not None and after is not None:
        ctx.metrics.windows_closed(stage, (after - before) // ctx.stages.window_ms)
    for alert in alerts:
        await publish(ctx, stage, alert)
        ctx.metrics.alert(alert, key)
    runners.hold(key, message, save_now=after != before or bool(alerts))
