"""The Faust app factory: topics, the detector-state tables and the agents.

Topics carry raw bytes; the agents decode them with the pure code in ``models`` so a
malformed message becomes a dead letter instead of a crashed agent.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiokafka
import faust
from aiokafka.partitioner import murmur2
from faust.transport.drivers import aiokafka as faust_kafka

from models.errors import ConfigError, InvalidRecord
from streams.agents import classify, detect, global_, normalize, observe
from streams.chain import Stages
from streams.files import batch_message, batches, message_records
from streams.metrics import Metrics
from streams.settings import KafkaAuth, Settings, env_name
from streams.topics import ALERTS, DEADLETTER, GLOBAL, GLOBAL_PARTITIONS, NORMALIZED, RAW, RELEVANT

log = logging.getLogger("groundswell")

MAX_STATE_BYTES = 64 << 20
"""Largest message a worker sends: a detector's saved state holds every distinct author of
its open windows, megabytes during an outage storm (its changelog topic allows as much)."""
STATE_TOPIC_CONFIG = {"max.message.bytes": str(MAX_STATE_BYTES)}
STREAM_BUFFER = 128
"""Messages a worker reads ahead per partition (Faust's default, 4,096, holds hundreds of
megabytes when messages are batches of posts)."""


@dataclass(frozen=True)
class Partitions:
    """Partition counts of the repartitioned topics, read from the broker at start."""

    raw: int
    normalized: int
    relevant: int


@dataclass
class Context:
    """What every agent needs, built once per worker: the topics by their default name."""

    settings: Settings
    stages: Stages
    partitions: Partitions
    metrics: Metrics
    topics: dict[str, Any]
    runners: dict[str, Any] = field(default_factory=dict)  # detector kind -> RunnerTable
    zone_partition: dict[str, int] = field(init=False)
    zones_at: dict[int, list[str]] = field(init=False)  # relevant partition -> its zones

    def __post_init__(self) -> None:
        self.zone_partition = {
            zone: key_partition(zone.encode(), self.partitions.relevant)
            for zone in self.stages.zones
        }
        self.zones_at = {p: [] for p in range(self.partitions.relevant)}
        for zone, p in self.zone_partition.items():
            self.zones_at[p].append(zone)

    async def send(self, stage: str, topic: str, records: int = 1, **kwargs: Any) -> None:
        """Send on ``topic`` (a default name such as ``posts.relevant``), counted."""
        await self.topics[topic].send(**kwargs)
        self.metrics.produced(stage, topic, records)

    async def send_records(
        self, stage: str, topic: str, records: list[bytes], partition: int, timestamp_ms: int
    ) -> None:
        """Send ``records`` to one partition of ``topic``, as few messages as fit."""
        for run in batches(records):
            value, headers = batch_message(run)
            await self.send(
                stage,
                topic,
                len(run),
                value=value,
                headers=headers,
                partition=partition,
                timestamp=timestamp_ms / 1000,
            )


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client):
    a zone's posts, watermarks and table entry all live on this partition."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def credentials(auth: KafkaAuth) -> faust.auth.Credentials | None:
    """Faust's form of the Kafka security settings (None: plaintext)."""
    if auth.uses_sasl:
        context = auth.ssl_context() if auth.uses_tls else None
        return faust.SASLCredentials(
            username=auth.username,
            password=auth.password,
            mechanism=auth.mechanism,
            ssl_context=context,
        )
    if auth.uses_tls:
        return faust.SSLCredentials(auth.ssl_context())
    return None


def bytes_topic(app: faust.App, name: str, partitions: int | None = None) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def data_folder(settings: Settings) -> Path:
    """The worker's local data folder, made if missing; one that cannot be made stops the
    program naming the setting."""
    folder = settings.worker_data_path() / settings.app_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(env_name("data_dir"), str(folder), f"cannot be made: {exc}") from None
    return folder


FETCH_MAX_WAIT_MS = 100
"""How long the broker may hold a worker's fetch when none of the partitions it asks for
has new messages. The consumer keeps one fetch in flight per broker and leaves out of it
the partitions whose fetched messages are still being processed; with Faust's fixed
1,500 ms, a worker that finished a backlog partition's messages sat idle until the fetch
for its caught-up partitions timed out before it could ask for more of the backlog."""


class _ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # taken by its fetcher at start
        return consumer


class _Consumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_kafka.Transport):
    Consumer = _Consumer


class _App(faust.App):
    """Faust's app with the worker's consumer fetching as :data:`FETCH_MAX_WAIT_MS` says."""

    def _new_transport(self) -> _Transport:
        return _Transport(self.conf.broker_consumer, self)


def faust_app(settings: Settings, datadir: Path) -> faust.App:
    """A Faust app with the worker's broker, consumer and producer configuration and no
    agents yet."""
    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap.split(",")]
    return _App(
        settings.app_id,
        broker=brokers,
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=settings.commit_interval_s,
        producer_linger_ms=5,  # batch sends: one produce request per message is the bottleneck
        producer_max_batch_size=262_144,
        producer_max_request_size=MAX_STATE_BYTES,
        stream_buffer_maxsize=STREAM_BUFFER,
        # a rebalance does not wait for held messages to be acknowledged (detectors hold
        # those of an open window): whoever is assigned their partitions reads them again
        stream_wait_empty=False,
        broker_credentials=credentials(settings.kafka_auth()),
    )


LARGE_ALLOCATION = 128 << 10
"""Bytes from which an allocation gets memory of its own, handed back to the system when it
is freed (glibc's ``M_MMAP_THRESHOLD``, fixed). A worker makes and drops batch messages of
hundreds of kilobytes; glibc's adaptive threshold moved them onto the heap after the first
were freed, and the heap's fragments kept a draining worker 40-60 MiB larger."""
_M_MMAP_THRESHOLD = -3  # malloc.h


def hand_back_large_allocations() -> bool:
    """Fix glibc's threshold at :data:`LARGE_ALLOCATION`; False where the C library is not
    glibc (its allocator keeps its own policy)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, LARGE_ALLOCATION))


def run_worker(app: faust.App, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
    """Run ``app`` as a Faust worker on ``loop`` until it is stopped."""
    hand_back_large_allocations()
    worker = faust.Worker(
        app, loglevel=settings.log_level, loop=loop, quiet=True, redirect_stdouts=False
    )
    worker.execute_from_commandline()


def create_app(
    settings: Settings, stages: Stages, partitions: Partitions, metrics: Metrics, datadir: Path
) -> faust.App:
    app = faust_app(settings, datadir)
    counts = {
        RAW: partitions.raw,
        NORMALIZED: partitions.normalized,
        RELEVANT: partitions.relevant,
        GLOBAL: GLOBAL_PARTITIONS,
    }
    topics = {
        name: bytes_topic(app, settings.topic(name), counts.get(name))
        for name in (RAW, NORMALIZED, RELEVANT, GLOBAL, DEADLETTER, ALERTS)
    }
    ctx = Context(settings, stages, partitions, metrics, topics)
    normalize.register(app, ctx)
    classify.register(app, ctx)
    detect.register(app, ctx)
    global_.register(app, ctx)
    observe.register(app, ctx)

    @app.on_partitions_revoked.connect
    def forget_unsaved(_app: Any, /, *_revoked: Any, signal: Any, **_kw: Any) -> None:
        for runners in ctx.runners.values():
            runners.forget()

    return app


async def each(
    ctx: Context,
    stage: str,
    stream: Any,
    step: Callable[[Any, list[bytes]], Awaitable[None]],
    *,
    event_lag: bool = False,
) -> None:
    """Run ``step`` on every message of an agent's stream with the records it carries (one,
    or several for a batch), counted and timed; ``event_lag`` also records how far each
    message's event time is behind the wall clock."""
    async for event in stream.events():
        started = time.perf_counter()
        records = message_records(event.value or b"", event.message.headers)
        ctx.metrics.consumed(stage, len(records))
        await step(event, records)
        lag_from = event.message.timestamp if event_lag else None
        ctx.metrics.processed(stage, time.perf_counter() - started, lag_from)


TAKE = 100
"""Most messages the normalize and classify agents take at once: the posts of many small
messages go on as one message per target partition."""
TAKE_WITHIN_S = 0.05
"""How long those agents wait for more messages before handling what they have."""
STEP_RECORDS = 10_000
"""Most records one step handles: messages taken at once that carry more (batches) are
handled in consecutive parts, which bounds the posts a worker holds decoded at a time."""

Taken = list[tuple[Any, list[bytes]]]
"""Messages taken at once, each with the records it carries."""


def parts(taken: Taken, most: int = STEP_RECORDS) -> Iterator[Taken]:
    """``taken`` in consecutive parts of at most ``most`` records; a message carrying more
    is a part alone.

    >>> [[len(r) for _, r in part] for part in parts([(1, [b"a"] * 3)] * 5, most=7)]
    [[3, 3], [3, 3], [3]]
    >>> [[len(r) for _, r in part] for part in parts([(1, [b"a"] * 9), (2, [b"b"])], most=7)]
    [[9], [1]]
    """
    part: Taken = []
    records = 0
    for message in taken:
        if part and records + len(message[1]) > most:
            yield part
            part, records = [], 0
        part.append(message)
        records += len(message[1])
    if part:
        yield part


async def each_taken(
    ctx: Context, stage: str, stream: Any, step: Callable[[Taken], Awaitable[None]]
) -> None:
    """Run ``step`` on the messages of an agent's stream a group at a time (up to
    :data:`TAKE`, or what came within :data:`TAKE_WITHIN_S`, in :func:`parts`), each with
    the records it carries, counted and timed; the group is acknowledged once ``step`` is
    done with all of it."""
    async for events in stream.take_events(TAKE, within=TAKE_WITHIN_S):
        taken = [(e, message_records(e.value or b"", e.message.headers)) for e in events]
        for part in parts(taken):
            started = time.perf_counter()
            ctx.metrics.consumed(stage, sum(len(records) for _, records in part))
            await step(part)
            ctx.metrics.processed(stage, time.perf_counter() - started)


async def reject(ctx: Context, stage: str, exc: Exception, event: Any, record: bytes) -> None:
    """Dead-letter one record of the current message: bad data with its reason, a bug as
    "internal error" (logged with its traceback) — either way the stream goes on and
    nothing is lost."""
    if isinstance(exc, InvalidRecord):
        await dead_letter(ctx, stage, exc.reason, exc.detail, record, event)
        return
    log.error("%s failed on %s", stage, event.message, exc_info=exc)
    await dead_letter(ctx, stage, "internal error", repr(exc), record, event)


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
    await ctx.send(stage, DEADLETTER, value=data, headers=headers, timestamp=msg.timestamp)
    ctx.metrics.dead_letter(stage, reason)
    log.debug("dead letter from %s: %s (%s)", stage, reason, detail)
