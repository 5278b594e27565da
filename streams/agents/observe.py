"""A timer that reads what no message tells: the consumer lag of this worker's partitions
(end offset minus the group's committed offset) and the size of its detector state."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import faust

from models.records import dumps
from streams.kafka_admin import committed_offsets
from streams.topics import ALL

if TYPE_CHECKING:
    from streams.app import Context

log = logging.getLogger("groundswell")


def register(app: faust.App, ctx: Context) -> None:
    settings = ctx.settings
    by_name = {settings.topic(name): name for name in ALL}
    auth = settings.kafka_auth()

    @app.timer(interval=settings.metrics_interval_s, name="observe")
    async def observe() -> None:
        for kind, runners in ctx.runners.items():
            size = sum(len(dumps(runner.to_state())) for _seq, runner in runners.cached.values())
            ctx.metrics.state_bytes(kind, size)
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in by_name]
        ends = {(tp.topic, tp.partition): app.consumer.highwater(tp) for tp in assigned}
        try:
            committed = await committed_offsets(
                settings.bootstrap, settings.app_id, ends, auth=auth
            )
        except Exception as exc:  # a broker hiccup costs one reading, not the worker
            log.warning("consumer lag not read: %s", exc)
            return
        ctx.metrics.consumer_lag(
            {
                (by_name[topic], partition): max(0, end - committed.get((topic, partition), 0))
                for (topic, partition), end in ends.items()
                if end is not None
            }
        )
