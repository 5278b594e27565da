"""Integration fixtures: the real local broker, fresh topic prefixes, real worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.kafka_admin import delete_topics, wait_until_ready
from streams.settings import Settings
from streams.topics import ALL

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


class Worker:
    """A real ``groundswell worker`` process."""

    def __init__(self, settings: Settings, log: Path, regions: Path | None = None) -> None:
        env = {
            **os.environ,
            "GROUNDSWELL_BOOTSTRAP": settings.bootstrap,
            "GROUNDSWELL_TOPIC_PREFIX": settings.topic_prefix,
            "GROUNDSWELL_APP_ID": settings.app_id,
            "GROUNDSWELL_PARTITIONS": str(settings.partitions),
        }
        if regions is not None:
            env["GROUNDSWELL_REGIONS"] = str(regions)
        self.log = log
        self._fh = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._fh.close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail_log(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(settings: Settings, regions: Path | None = None) -> Worker:
        w = Worker(settings, tmp_path / f"worker{len(workers)}.log", regions)
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop()


def _wait_for(
    predicate: Callable[[], bool], timeout_s: float, what: str, worker: Worker | None = None
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
