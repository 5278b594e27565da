"""The Faust app factory: topics, the detector-state tables and the agents.

Topics carry raw bytes; the agents decode them with the pure code in ``models`` so a
malformed message becomes a dead letter instead of a crashed agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust

from models.errors import InvalidRecord
from streams.agents import classify, detect, global_, normalize
from streams.chain import Stages
from streams.settings import Settings
from streams.topics import GLOBAL_PARTITIONS, TopicNames

log = logging.getLogger("groundswell")


@dataclass(frozen=True)
class Partitions:
    """Partition counts of the repartitioned topics, read from the broker at start."""

    raw: int
    normalized: int
    relevant: int


@dataclass
class Context:
    """What every agent needs, built once per worker."""

    settings: Settings
    stages: Stages
    partitions: Partitions
    raw: Any
    normalized: Any
    relevant: Any
    global_: Any
    deadletter: Any
    alerts: Any


def bytes_topic(app: faust.App, name: str, partitions: int | None = None) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def create_app(settings: Settings, stages: Stages, partitions: Partitions) -> faust.App:
    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap.split(",")]
    app = faust.App(
        settings.app_id,
        broker=brokers,
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=settings.commit_interval_s,
        producer_linger_ms=5,  # batch sends: one produce request per message is the bottleneck
        producer_max_batch_size=262_144,
    )
    names = TopicNames.of(settings)
    ctx = Context(
        settings=settings,
        stages=stages,
        partitions=partitions,
        raw=bytes_topic(app, names.raw, partitions.raw),
        normalized=bytes_topic(app, names.normalized, partitions.normalized),
        relevant=bytes_topic(app, names.relevant, partitions.relevant),
        global_=bytes_topic(app, names.global_, GLOBAL_PARTITIONS),
        deadletter=bytes_topic(app, names.deadletter),
        alerts=bytes_topic(app, names.alerts),
    )
    normalize.register(app, ctx)
    classify.register(app, ctx)
    detect.register(app, ctx)
    global_.register(app, ctx)
    return app


async def reject(ctx: Context, stage: str, exc: Exception, event: Any) -> None:
    """Dead-letter the current message: bad data with its reason, a bug as "internal error"
    (logged with its traceback) — either way the stream goes on and nothing is lost."""
    if isinstance(exc, InvalidRecord):
        await dead_letter(ctx, stage, exc.reason, exc.detail, event.value, event)
        return
    log.error("%s failed on %s", stage, event.message, exc_info=exc)
    await dead_letter(ctx, stage, "internal error", repr(exc), event.value, event)


async def dead_letter(
    ctx: Context, stage: str, reason: str, detail: str, data: bytes, event: Any
) -> None:
    """Send the original bytes to the dead-letter topic, the reason in headers."""
    msg = event.message
    headers = [
        ("reason", reason.encode()),
        ("detail", detail[:500].encode()),
        ("stage", stage.encode()),
        ("source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode()),
    ]
    await ctx.deadletter.send(value=data, headers=headers, timestamp=msg.timestamp)
    log.debug("dead letter from %s: %s (%s)", stage, reason, detail)
