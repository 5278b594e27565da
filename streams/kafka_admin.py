"""Small Kafka admin helpers: readiness, topic creation and inspection.

Every function opens its own ``AIOKafkaAdminClient`` and closes it before returning, so the
helpers are safe to call from scripts, tests and the worker's start-up alike. Every network
step is bounded by a timeout: a dead or wrong address fails fast instead of hanging.

Command line (used by ``deploy/kafka/kafka.sh`` for readiness)::

    python -m streams.kafka_admin ready --bootstrap 127.0.0.1:19092 --timeout 120
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    UnknownTopicOrPartitionError,
    for_code,
)

from models.errors import ConfigError
from streams.settings import KafkaAuth

PLAINTEXT = KafkaAuth()

__all__ = [
    "TopicSpec",
    "committed_offsets",
    "delete_topics",
    "ensure_topics",
    "main",
    "partition_count",
    "wait_until_ready",
]

log = logging.getLogger(__name__)

#: Upper bound for one request (and one connection attempt) to the broker.
REQUEST_TIMEOUT_S = 10.0
#: Pause between two readiness or metadata attempts.
RETRY_PAUSE_S = 0.25

_NO_ERROR = 0
_UNKNOWN_TOPIC_OR_PARTITION = 3
_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicSpec:
    """A topic the pipeline needs: its name, partition count and topic-level config."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def _admin(
    bootstrap: str, request_timeout_s: float = REQUEST_TIMEOUT_S, auth: KafkaAuth = PLAINTEXT
) -> AIOKafkaAdminClient:
    """A not yet started admin client whose every request is bounded."""
    timeout_ms = max(100, int(request_timeout_s * 1000))
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        client_id="groundswell-admin",
        request_timeout_ms=timeout_ms,
    )


async def _probe(bootstrap: str, timeout_s: float, auth: KafkaAuth) -> int:
    """One bounded metadata round trip; returns the number of live brokers. With TLS or
    SASL the first address is first greeted directly, so a refused certificate or password
    raises :class:`~models.errors.ConfigError` at once (a client only logs it)."""
    async with asyncio.timeout(timeout_s):
        if auth != PLAINTEXT:
            await _handshake(bootstrap, timeout_s, auth)
        client = _admin(bootstrap, timeout_s, auth)
        try:
            await client.start()
            cluster = await client.describe_cluster()
        finally:
            await client.close()
    return len(cluster.get("brokers") or [])


async def _handshake(bootstrap: str, timeout_s: float, auth: KafkaAuth) -> None:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        conn = await create_conn(
            host, int(port), request_timeout_ms=int(timeout_s * 1000), **auth.client_options()
        )
    except (AuthenticationFailedError, SaslAuthenticationFailed) as err:
        raise ConfigError(
            "GROUNDSWELL_SASL_USERNAME/_PASSWORD",
            auth.username,
            f"authentication failed ({auth.mechanism}): {_describe(err)}",
        ) from None
    except ssl.SSLCertVerificationError as err:
        raise ConfigError(
            "GROUNDSWELL_SSL_CAFILE",
            auth.cafile,
            f"broker certificate refused: {err.verify_message}",
        ) from None
    conn.close()


def _describe(err: BaseException) -> str:
    """``Type: message``, without repeating the type when the message already names it."""
    name, text = type(err).__name__, str(err)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


async def wait_until_ready(bootstrap: str, timeout_s: float, auth: KafkaAuth = PLAINTEXT) -> int:
    """Wait until the cluster at ``bootstrap`` answers a metadata request with a broker.

    Retries until ``timeout_s`` has passed; returns the number of brokers. Raises
    ``TimeoutError`` naming the address (and the last error seen) when it never gets ready.
    """
    deadline = time.monotonic() + timeout_s
    last_error = "no attempt made"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        attempt_s = max(0.1, min(REQUEST_TIMEOUT_S, remaining))
        try:
            brokers = await _probe(bootstrap, attempt_s, auth)
        except (KafkaError, OSError, TimeoutError) as err:
            last_error = _describe(err)
        else:
            if brokers >= 1:
                return brokers
            last_error = "metadata lists no broker yet"
        pause = min(RETRY_PAUSE_S, deadline - time.monotonic())
        if pause > 0:
            await asyncio.sleep(pause)
    raise TimeoutError(
        f"Kafka at {bootstrap} not ready after {timeout_s:g} s (last error: {last_error})"
    )


async def _topics(client: AIOKafkaAdminClient) -> dict[str, dict[str, Any]]:
    """All topics in the cluster by name.

    Asks for *all* topics: a metadata request naming a topic may auto-create it on brokers
    where ``auto.create.topics.enable`` is on.
    """
    return {t["topic"]: t for t in await client.describe_topics()}


def _raise_for(code: int, topic: str, message: str | None = None) -> None:
    """Raise the aiokafka error for a non-zero Kafka error code."""
    if code != _NO_ERROR:
        detail = f"topic {topic}: {message}" if message else f"topic {topic}"
        raise for_code(code)(detail)


def _is_usable(meta: dict[str, Any] | None) -> bool:
    """True when the topic exists and every partition has a leader."""
    if meta is None or meta["error_code"] != _NO_ERROR or not meta["partitions"]:
        return False
    return all(p["error_code"] == _NO_ERROR and p["leader"] >= 0 for p in meta["partitions"])


async def _wait_metadata(
    client: AIOKafkaAdminClient, names: Iterable[str], *, present: bool
) -> None:
    """Poll until the metadata shows ``names`` usable (or gone, when not ``present``).

    Unbounded by itself: callers run it inside their session's timeout.
    """
    wanted = set(names)
    while wanted:
        topics = await _topics(client)
        if present:
            wanted = {n for n in wanted if not _is_usable(topics.get(n))}
        else:
            wanted &= topics.keys()
        if wanted:
            await asyncio.sleep(RETRY_PAUSE_S)


@asynccontextmanager
async def _session(
    bootstrap: str, timeout_s: float, what: str, auth: KafkaAuth = PLAINTEXT
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client; the whole block is bounded by ``timeout_s``, then closed."""
    client = _admin(bootstrap, min(REQUEST_TIMEOUT_S, timeout_s), auth)
    try:
        async with asyncio.timeout(timeout_s):
            await client.start()
            yield client
    except TimeoutError as err:
        raise TimeoutError(
            f"{what} on Kafka at {bootstrap}: no result after {timeout_s:g} s"
        ) from err
    finally:
        await client.close()


async def ensure_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    replication: int = 1,
    *,
    timeout_s: float = 30.0,
    auth: KafkaAuth = PLAINTEXT,
) -> list[str]:
    """Create the topics of ``specs`` that are missing; returns the names created.

    Existing topics are left alone (their config is not changed). An existing topic with
    fewer partitions than its spec raises ``ConfigError``: keyed state and ordering depend on
    the partition count, so it is never changed behind the operator's back. Returns once every
    created topic has a leader for each partition.
    """
    for spec in specs:
        if spec.partitions < 1:
            raise ConfigError(f"topic {spec.name}", spec.partitions, "partitions must be >= 1")
    if replication < 1:
        raise ConfigError("replication", replication, "must be >= 1")
    created: set[str] = set()
    if not specs:
        return []

    names = [s.name for s in specs]
    async with _session(bootstrap, timeout_s, f"ensuring topics {names}", auth) as client:
        existing = await _topics(client)
        _check_partitions(specs, existing)
        missing = [s for s in specs if s.name not in existing]
        if missing:
            new = [
                NewTopic(s.name, s.partitions, replication, topic_configs=dict(s.config))
                for s in missing
            ]
            response = await client.create_topics(new)
            raced: list[str] = []
            for topic, code, *rest in response.topic_errors:
                if code == _TOPIC_ALREADY_EXISTS:
                    raced.append(topic)
                    continue
                _raise_for(code, topic, rest[0] if rest else None)
                created.add(topic)
            await _wait_metadata(client, [*created, *raced], present=True)
            if raced:  # created by someone else meanwhile: check it like any existing topic
                _check_partitions(specs, await _topics(client))
    if created:
        log.info("created Kafka topics %s", sorted(created))
    return [n for n in names if n in created]


def _check_partitions(specs: Sequence[TopicSpec], existing: dict[str, dict[str, Any]]) -> None:
    """Raise ``ConfigError`` for an existing topic with fewer partitions than its spec."""
    for spec in specs:
        meta = existing.get(spec.name)
        if meta is None or meta["error_code"] != _NO_ERROR:
            continue
        actual = len(meta["partitions"])
        if actual < spec.partitions:
            raise ConfigError(
                setting=f"topic {spec.name}",
                value=actual,
                problem=(
                    f"has {actual} partitions, needs {spec.partitions}; "
                    "delete the topic or add partitions with kafka-topics.sh --alter"
                ),
            )


async def delete_topics(
    bootstrap: str, names: Sequence[str], *, timeout_s: float = 30.0, auth: KafkaAuth = PLAINTEXT
) -> None:
    """Delete the named topics, ignoring unknown ones; returns once they are gone."""
    if not names:
        return
    async with _session(bootstrap, timeout_s, f"deleting topics {list(names)}", auth) as client:
        response = await client.delete_topics(list(names))
        for topic, code in response.topic_error_codes:
            if code != _UNKNOWN_TOPIC_OR_PARTITION:
                _raise_for(code, topic)
        await _wait_metadata(client, names, present=False)


async def partition_count(
    bootstrap: str, topic: str, *, timeout_s: float = 30.0, auth: KafkaAuth = PLAINTEXT
) -> int:
    """Number of partitions of ``topic``; raises ``UnknownTopicOrPartitionError`` if absent."""
    async with _session(bootstrap, timeout_s, f"describing topic {topic}", auth) as client:
        meta = (await _topics(client)).get(topic)
    if meta is None:
        raise UnknownTopicOrPartitionError(f"topic {topic} does not exist")
    _raise_for(meta["error_code"], topic)
    return len(meta["partitions"])


async def committed_offsets(
    bootstrap: str,
    group_id: str,
    partitions: Iterable[tuple[str, int]],
    *,
    timeout_s: float = REQUEST_TIMEOUT_S,
    auth: KafkaAuth = PLAINTEXT,
) -> dict[tuple[str, int], int]:
    """Offsets ``group_id`` has committed on ``partitions`` (a partition it never committed
    is left out)."""
    wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
    if not wanted:
        return {}
    what = f"reading offsets of group {group_id}"
    async with _session(bootstrap, timeout_s, what, auth) as client:
        offsets = await client.list_consumer_group_offsets(group_id, partitions=wanted)
    return {
        (tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0
    }


async def describe_group(client: AIOKafkaAdminClient, group_id: str) -> tuple[str, int] | None:
    """(state, number of members) of ``group_id``; None while the broker answers with a
    retriable error (a new broker makes its group coordinator on first use)."""
    try:
        (described,) = await client.describe_consumer_groups([group_id])
    except KafkaError as exc:
        if not exc.retriable:
            raise
        return None
    (group,) = described.groups
    return str(group[2]), len(group[5])


async def group_state(
    bootstrap: str,
    group_id: str,
    *,
    timeout_s: float = REQUEST_TIMEOUT_S,
    auth: KafkaAuth = PLAINTEXT,
) -> tuple[str, int] | None:
    """:func:`describe_group` in a session of its own."""
    async with _session(bootstrap, timeout_s, f"describing group {group_id}", auth) as client:
        return await describe_group(client, group_id)


def main(argv: Sequence[str] | None = None) -> int:
    """``ready``: exit 0 once the broker answers metadata, 1 (with a message) otherwise."""
    parser = argparse.ArgumentParser(prog="python -m streams.kafka_admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ready = sub.add_parser("ready", help="wait until the broker answers a metadata request")
    ready.add_argument("--bootstrap", default="127.0.0.1:19092", help="host:port[,host:port]")
    ready.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    ready.add_argument("--quiet", action="store_true", help="print nothing when ready")
    args = parser.parse_args(argv)

    # aiokafka logs every refused connection at ERROR; retries are expected here.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        brokers = asyncio.run(wait_until_ready(args.bootstrap, args.timeout))
    except TimeoutError as err:
        print(f"not ready: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if not args.quiet:
        print(f"ready: {args.bootstrap} ({brokers} broker{'s' if brokers != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
