"""Integration fixtures: the real local broker, fresh topic prefixes, real worker processes."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.kafka_admin import delete_topics, wait_until_ready
from streams.settings import Settings
from streams.topics import ALL
from streams.workers import WorkerProcess

BOOTSTRAP = os.environ.get("GROUNDSWELL_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


@pytest.fixture(scope="session")
def bootstrap() -> str:
    try:
        asyncio.run(wait_until_ready(BOOTSTRAP, 30.0))
    except TimeoutError:
        pytest.fail(f"no Kafka broker at {BOOTSTRAP}: start it with `make kafka-up`")
    return BOOTSTRAP


@pytest.fixture
def settings_factory(bootstrap: str) -> Iterator[Callable[..., Settings]]:
    """Settings on a fresh topic prefix and app id; the topics are deleted afterwards."""
    made: list[Settings] = []

    def make(**kw: object) -> Settings:
        tag = uuid.uuid4().hex[:10]
        s = Settings(bootstrap=bootstrap, topic_prefix=f"it-{tag}.", app_id=f"it-{tag}")
        s = s.with_overrides(**kw)
        made.append(s)
        return s

    yield make
    for s in made:
        asyncio.run(delete_topics(bootstrap, [s.topic(t) for t in ALL]))


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(settings, regions=None)``: a real ``groundswell worker`` process."""
    workers: list[WorkerProcess] = []

    def start(settings: Settings, regions: Path | None = None) -> WorkerProcess:
        if regions is not None:
            settings = settings.with_overrides(regions=str(regions))
        w = WorkerProcess(settings, tmp_path / f"worker{len(workers)}.log")
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop()


def _wait_for(
    predicate: Callable[[], bool], timeout_s: float, what: str, worker: WorkerProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if worker is not None and not worker.alive():
            raise AssertionError(f"worker died while waiting for {what}:\n{worker.tail_log()}")
        time.sleep(0.5)
    log = worker.tail_log() if worker is not None else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{log}")


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """``wait_for(predicate, timeout_s, what, worker=None)``: poll until true or fail."""
    return _wait_for
