"""streams.kafka_admin against the real local broker (``deploy/kafka/kafka.sh start``)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.errors import UnknownTopicOrPartitionError

from models.errors import ConfigError
from streams.kafka_admin import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    partition_count,
    wait_until_ready,
)

pytestmark = pytest.mark.integration

BOOTSTRAP = os.environ.get("GROUNDSWELL_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


@pytest.fixture
async def topic_name() -> AsyncIterator[str]:
    """A fresh topic name, deleted again after the test."""
    name = f"gs-test-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        await delete_topics(BOOTSTRAP, [name])


async def test_ready_reports_at_least_one_broker() -> None:
    assert await wait_until_ready(BOOTSTRAP, timeout_s=30) >= 1


async def test_unreachable_address_times_out_promptly() -> None:
    timeout_s = 2.0
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"127\.0\.0\.1:1\b"):
        await wait_until_ready("127.0.0.1:1", timeout_s=timeout_s)
    assert time.monotonic() - started < timeout_s + 5


async def test_ensure_topics_creates_once(topic_name: str) -> None:
    spec = TopicSpec(topic_name, partitions=3, config={"retention.ms": "3600000"})

    assert await ensure_topics(BOOTSTRAP, [spec]) == [topic_name]
    assert await partition_count(BOOTSTRAP, topic_name) == 3
    # A second call finds it and creates nothing.
    assert await ensure_topics(BOOTSTRAP, [spec]) == []
    # Fewer partitions than the topic has is fine too.
    assert await ensure_topics(BOOTSTRAP, [TopicSpec(topic_name, partitions=1)]) == []
    assert await partition_count(BOOTSTRAP, topic_name) == 3


async def test_ensure_topics_refuses_too_few_partitions(topic_name: str) -> None:
    await ensure_topics(BOOTSTRAP, [TopicSpec(topic_name, partitions=1)])

    with pytest.raises(ConfigError, match="has 1 partitions, needs 4") as info:
        await ensure_topics(BOOTSTRAP, [TopicSpec(topic_name, partitions=4)])
    assert info.value.setting == f"topic {topic_name}"
    assert info.value.value == 1
    assert await partition_count(BOOTSTRAP, topic_name) == 1


async def test_ensure_topics_mixed_existing_and_new(topic_name: str) -> None:
    other = f"{topic_name}-b"
    try:
        await ensure_topics(BOOTSTRAP, [TopicSpec(topic_name, partitions=2)])
        created = await ensure_topics(
            BOOTSTRAP, [TopicSpec(topic_name, partitions=2), TopicSpec(other, partitions=2)]
        )
        assert created == [other]
        assert await partition_count(BOOTSTRAP, other) == 2
    finally:
        await delete_topics(BOOTSTRAP, [other])


async def test_delete_topics_removes_and_ignores_unknown(topic_name: str) -> None:
    await ensure_topics(BOOTSTRAP, [TopicSpec(topic_name, partitions=1)])
    never_created = f"{topic_name}-never"

    await delete_topics(BOOTSTRAP, [topic_name, never_created])

    with pytest.raises(UnknownTopicOrPartitionError):
        await partition_count(BOOTSTRAP, topic_name)


async def test_invalid_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="partitions must be >= 1"):
        await ensure_topics(BOOTSTRAP, [TopicSpec("gs-test-bad", partitions=0)])
