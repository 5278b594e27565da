"""Replay files into a topic, dump a topic to a file, and read alerts: plain aiokafka,
no consumer group, so none of these disturbs the workers' offsets. Only
``consume_group`` (the alert bridges) commits offsets, under its own group id."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from itertools import chain, groupby
from typing import IO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from models.errors import InvalidRecord
from models.records import Watermark, dumps
from models.timeutil import MAX_EVENT_MS
from streams.chain import Origin
from streams.files import BATCH_BYTES, DumpRecord, batch_message, batches
from streams.kafka_admin import PLAINTEXT
from streams.settings import KafkaAuth


@dataclass
class ReplayStats:
    messages: int = 0
    lines: int = 0
    watermark_ms: int | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Outgoing:
    """One message ``replay`` sends."""

    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int | None
    timestamp_ms: int | None
    posts_ms: list[int]  # event times of the posts the workers will keep
    lines: int = 1


def _outgoing(
    lines: Iterable[bytes],
    parts: list[int],
    batch: int,
    reject: Callable[[InvalidRecord], None] | None = None,
) -> Iterator[Outgoing]:
    """The messages for ``lines``: dump lines as they were; consecutive raw lines ``batch``
    at a time (at most :data:`BATCH_BYTES`; a blank line or one holding a newline alone),
    the messages to the partitions in turn, each stamped with the latest event time the
    workers keep in it. A malformed dump line is passed to ``reject`` (raised without
    one) and not sent."""
    # the workers' rule for which posts move time (none late here)
    origin = Origin(MAX_EVENT_MS, 1)
    turn = 0
    last_ts: int | None = None

    def run_of(item: tuple[bytes, DumpRecord | None]) -> object:
        """Equal for raw lines a batch can carry as they are, distinct for anything else."""
        line, rec = item
        return "raw" if rec is None and b"\n" not in line and line.strip() else object()

    def parsed() -> Iterator[tuple[bytes, DumpRecord | None]]:
        for line in lines:
            try:
                rec = DumpRecord.from_line(line)
            except InvalidRecord as exc:
                if reject is None:
                    raise
                reject(exc)
                continue
            yield line, rec

    for _, items in groupby(parsed(), run_of):
        group = iter(items)  # read once: its first item, then the rest
        first, rec = next(group)
        if rec is not None:
            partition = None if rec.key is not None else rec.partition % len(parts)
            headers = [(k.decode("utf-8", "replace"), v) for k, v in rec.headers]
            stamp = rec.timestamp_ms
            posts = [stamp] if stamp is not None else []
            yield Outgoing(rec.value or b"", rec.key, headers, partition, stamp, posts)
            continue
        raw = chain([first], (line for line, _ in group))
        for chunk in batches(raw, BATCH_BYTES, batch):
            kept = [p.created_at_ms for line in chunk for p in origin.process(line).posts]
            last_ts = max(kept, default=last_ts)
            value, headers = batch_message(chunk)
            partition = parts[turn % len(parts)]
            turn += 1
            yield Outgoing(value, None, headers, partition, last_ts, kept, len(chunk))


async def replay(
    bootstrap: str,
    topic: str,
    lines: Iterable[bytes],
    *,
    speed: float | None = None,
    flush: bool = True,
    total: int | None = None,
    auth: KafkaAuth = PLAINTEXT,
    batch: int = 1,
    reject: Callable[[InvalidRecord], None] | None = None,
) -> ReplayStats:
    """Send file lines to ``topic`` in order; ``speed`` paces by event time (None: max);
    a malformed dump line goes to ``reject`` (raised without one), unsent.

    Raw lines keep their order, ``batch`` lines to a message (one at a time when paced),
    stamped with their posts' event time (never later than now: brokers refuse timestamps
    ahead of their clock); dump lines keep key, timestamp, headers and (for unkeyed
    messages) partition. With ``flush``, a watermark at the latest event time the workers
    accept (a lone post far ahead does not count) is sent to every partition at the end, so
    downstream windows close exactly as ``groundswell backtest`` closes them.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=262_144,
        request_timeout_ms=30_000,
    )
    await producer.start()
    stats = ReplayStats()
    started = time.monotonic()
    try:
        parts = sorted(await producer.partitions_for(topic))
        first_event: int | None = None
        pending = []
        bar = tqdm(lines, total=total, unit="line", disable=None, desc=f"replay {topic}")
        for msg in _outgoing(bar, parts, 1 if speed is not None else batch, reject):
            if msg.posts_ms:
                stats.watermark_ms = max(stats.watermark_ms or 0, *msg.posts_ms)
            if speed is not None and msg.timestamp_ms is not None:
                first_event = msg.timestamp_ms if first_event is None else first_event
                due = (msg.timestamp_ms - first_event) / 1000 / speed
                due -= time.monotonic() - started
                if due > 0:
                    await asyncio.sleep(due)
            pending.append(
                await producer.send(
                    topic,
                    value=msg.value,
                    key=msg.key,
                    partition=msg.partition,
                    timestamp_ms=_not_ahead(msg.timestamp_ms),
                    headers=msg.headers or None,
                )
            )
            stats.messages += 1
            stats.lines += msg.lines
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        if flush and stats.watermark_ms is not None:
            mark = dumps(Watermark("replay", stats.watermark_ms).to_wire())
            for p in parts:
                pending.append(
                    await producer.send(
                        topic, value=mark, partition=p, timestamp_ms=_not_ahead(stats.watermark_ms)
                    )
                )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    stats.seconds = time.monotonic() - started
    return stats


def _not_ahead(ts_ms: int | None) -> int | None:
    """A message timestamp no later than the wall clock."""
    return None if ts_ms is None else min(ts_ms, int(time.time() * 1000))


async def _consume(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = True,
    from_time_ms: int | None = None,
    follow: bool = False,
    idle_timeout_s: float | None = None,
    auth: KafkaAuth = PLAINTEXT,
) -> AsyncGenerator[DumpRecord, None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        enable_auto_commit=False,
        group_id=None,
        # a seek_to_beginning racing a leader change must not fall back to "latest"
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:  # not in the cached metadata yet: ask the broker
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise InvalidRecord("unknown topic", topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        if from_time_ms is not None:
            found = await consumer.offsets_for_times({tp: from_time_ms for tp in tps})
            for tp in tps:
                meta = found.get(tp)
                consumer.seek(tp, meta.offset if meta else ends[tp])
        elif from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        idle_since = time.monotonic()
        while True:
            if not follow:
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= ends[tp] for tp in tps):
                    return
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            if not batch:
                if idle_timeout_s is not None and time.monotonic() - idle_since > idle_timeout_s:
                    return
                continue
            idle_since = time.monotonic()
            for tp, msgs in sorted(batch.items(), key=lambda kv: kv[0].partition):
                for m in msgs:
                    yield DumpRecord(
                        topic=topic,
                        partition=tp.partition,
                        offset=m.offset,
                        timestamp_ms=m.timestamp,
                        key=m.key,
                        value=m.value,
                        headers=tuple((k.encode(), v) for k, v in m.headers),
                    )
    finally:
        await consumer.stop()


async def dump(
    bootstrap: str,
    topic: str,
    out: IO[bytes],
    *,
    from_time_ms: int | None = None,
    to_time_ms: int | None = None,
    max_messages: int | None = None,
    follow: bool = False,
    auth: KafkaAuth = PLAINTEXT,
) -> int:
    """Write ``topic`` as dump lines; stops at the end offsets seen at start unless
    ``follow``. Returns the number of lines written."""
    count = 0
    bar = tqdm(unit="msg", disable=None, desc=f"dump {topic}", file=sys.stderr)
    records = _consume(bootstrap, topic, from_time_ms=from_time_ms, follow=follow, auth=auth)
    async with aclosing(records):
        async for rec in records:
            if to_time_ms is not None and (rec.timestamp_ms or 0) >= to_time_ms:
                continue
            out.write(rec.to_line() + b"\n")
            count += 1
            bar.update()
            if max_messages is not None and count >= max_messages:
                break
    bar.close()
    return count


async def tail(
    bootstrap: str,
    topic: str,
    on_record: Callable[[DumpRecord], bool | None],
    *,
    from_beginning: bool = False,
    follow: bool = True,
    idle_timeout_s: float | None = None,
    auth: KafkaAuth = PLAINTEXT,
) -> None:
    """Call ``on_record`` for each message; stop when it returns True."""
    records = _consume(
        bootstrap,
        topic,
        from_beginning=from_beginning,
        follow=follow,
        idle_timeout_s=idle_timeout_s,
        auth=auth,
    )
    async with aclosing(records):
        async for rec in records:
            if on_record(rec):
                return


async def consume_group(
    bootstrap: str,
    topic: str,
    group_id: str,
    handle: Callable[[DumpRecord], Awaitable[None]],
    *,
    from_beginning: bool = False,
    auth: KafkaAuth = PLAINTEXT,
) -> None:
    """Await ``handle`` for each message of ``topic`` as a member of ``group_id``, then
    commit that message's offset: a restarted consumer goes on after the last handled
    message (at least once). An exception from ``handle`` stops the consumer before the
    commit. ``from_beginning`` applies only while the group has no committed offset."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        async for m in consumer:
            await handle(
                DumpRecord(
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    timestamp_ms=m.timestamp,
                    key=m.key,
                    value=m.value,
                    headers=tuple((k.encode(), v) for k, v in m.headers),
                )
            )
            await consumer.commit({TopicPartition(m.topic, m.partition): m.offset + 1})
    finally:
        await consumer.stop()
