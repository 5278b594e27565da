"""Faults against the real broker, each compared with the uninterrupted run on the same input
(the offline backtest gives the same alerts as an uninterrupted replay: test_pipeline)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.records import Post, dumps, loads
from models.scenario import build_demo
from streams.chain import Stages, backtest, load_regions, relevant_stream
from streams.demo import KAFKA_SCRIPT
from streams.files import DumpRecord
from streams.kafka_admin import ensure_topics, group_state, wait_until_ready
from streams.kafka_io import dump, replay
from streams.settings import Settings
from streams.topics import ALERTS, DEADLETTER, RAW, RELEVANT, topic_specs
from streams.workers import WorkerProcess, free_port
from tests.support import LocalBroker, random_cluster_id

pytestmark = pytest.mark.integration


def _read(bootstrap: str, topic: str) -> list[DumpRecord]:
    buf = io.BytesIO()
    asyncio.run(dump(bootstrap, topic, buf))
    return [r for r in map(DumpRecord.from_line, buf.getvalue().splitlines()) if r is not None]


def _sum(worker: WorkerProcess, name: str, **labels: str) -> float:
    """The sum of a metric's samples with these labels (0 while the metrics are not up)."""
    try:
        with urllib.request.urlopen(worker.metrics_url, timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def _consumed(worker: WorkerProcess, stage: str) -> float:
    return _sum(worker, "groundswell_stage_messages_consumed_total", stage=stage)


def _kill_and_restart(first: WorkerProcess, start: Callable[[], WorkerProcess]) -> WorkerProcess:
    first.stop(signal.SIGKILL)
    return start()


def _broker_restart(first: WorkerProcess, start: Callable[[], WorkerProcess]) -> WorkerProcess:
    kafka("stop")
    time.sleep(3)
    kafka("start")
    return first


SETTLE_S = 40
"""A worker's start and a rebalance take seconds; a revocation that waits for messages the
detectors hold (nothing releases them while the partitions are paused) stalls until the
group expels the worker after its 60-s rebalance timeout."""


def _rebalance(first: WorkerProcess, start: Callable[[], WorkerProcess]) -> WorkerProcess:
    start()  # a second worker joins: the group rebalances, partitions and tables move
    bootstrap, group = first.settings.bootstrap, first.settings.app_id
    deadline = time.monotonic() + SETTLE_S
    while asyncio.run(group_state(bootstrap, group)) != ("Stable", 2):
        assert time.monotonic() < deadline, f"no stable group of both workers in {SETTLE_S} s"
        time.sleep(0.5)
    return first


def kafka(action: str) -> None:
    subprocess.run(
        [str(KAFKA_SCRIPT), action], check=True, env={**os.environ, "PYTHON": sys.executable}
    )


@pytest.mark.parametrize("moment", ["mid-stream", "after the first alert"])
@pytest.mark.parametrize(
    "fault",
    [_kill_and_restart, _broker_restart, _rebalance],
    ids=["kill -9 and restart", "broker restart", "rebalance"],
)
def test_a_fault_gives_the_uninterrupted_alerts_and_counts(
    settings_factory, start_worker, wait_for, tmp_path: Path, fault, moment: str
) -> None:
    _run_through(
        settings_factory(partitions=3, commit_interval_s=1.0),
        start_worker,
        wait_for,
        tmp_path,
        fault,
        moment,
    )


MALFORMED = b"{not json"
HELD = "while detectors hold posts of an open window"


def test_a_worker_joining_while_detectors_hold_posts_gives_the_uninterrupted_alerts(
    settings_factory, start_worker, wait_for, tmp_path: Path
) -> None:
    # watermarks two hours behind the posts (see _held_posts)
    settings = settings_factory(partitions=3, commit_interval_s=1.0, lateness_s=7_200)
    _run_through(settings, start_worker, wait_for, tmp_path, _rebalance, HELD)


def _held_posts(stages: Stages, lines: list[bytes], copies: int) -> list[bytes]:
    """``copies`` complaints by new authors repeating the last relevant post of ``lines``,
    dated 45 minutes before the latest post: every partition of every stage has seen a later
    post (each raw message spans about 11 minutes of the scenario), so they move no
    watermark, and lateness (two hours) keeps their window open: the detector that takes
    them holds them unsaved."""
    posts = {p.id: p for p in (Post.from_wire(loads(x)) for x in lines if x != MALFORMED)}
    at = max(p.created_at_ms for p in posts.values()) - 45 * 60_000
    (*_, item) = (i for i in relevant_stream(stages, lines) if not isinstance(i, int))
    model = posts[item.post_id]
    return [
        dumps(replace(model, id=f"{model.id}-{k}", author=f"held-{k}", created_at_ms=at).to_wire())
        for k in range(copies)
    ]


def _run_through(
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    wait_for: Callable[..., None],
    tmp_path: Path,
    fault: Callable[[WorkerProcess, Callable[[], WorkerProcess]], WorkerProcess],
    moment: str,
) -> None:
    """Replay the demo scenario (one malformed line in it), inject ``fault`` at ``moment``
    and compare with the uninterrupted run: the same alert events, every relevant post
    passed on, the malformed line dead-lettered."""
    scenario = build_demo(seed=3)
    regions_file = tmp_path / "regions.geojson"
    regions_file.write_bytes(dumps(scenario.regions))
    stages = Stages(settings, load_regions(settings.with_overrides(regions=str(regions_file))))
    lines = [dumps(p.to_wire()) for p in scenario.posts]
    lines.insert(100, MALFORMED)
    half = len(lines) // 2
    held = _held_posts(stages, lines[:half], 3) if moment == HELD else []
    # HELD: the first half, then posts held unsaved when the fault comes, then the rest
    lines[half:half] = held
    expected = {dumps(a.to_wire()) for a in backtest(stages, lines).alerts}
    relevant = {i.post_id for i in relevant_stream(stages, lines) if not isinstance(i, int)}
    raw = settings.topic(RAW)
    asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings), settings.replication))
    first_part = lines[:half] if held else lines
    asyncio.run(replay(settings.bootstrap, raw, first_part, flush=not held, batch=50))
    first = start_worker(settings, regions_file)
    if held:
        wait_for(lambda: _consumed(first, "normalize") >= half, 120, "the first half", first)
        time.sleep(2)  # the stages after it catch up
        taken = _consumed(first, "detect")
        asyncio.run(replay(settings.bootstrap, raw, held, flush=False))
        wait_for(lambda: _consumed(first, "detect") > taken, 60, "the held posts", first)
    elif moment == "mid-stream":
        wait_for(lambda: _consumed(first, "classify") > half, 120, "half the posts", first)
    else:
        wait_for(lambda: _sum(first, "groundswell_alerts_events_total") > 0, 120, moment, first)
    survivor = fault(first, lambda: start_worker(settings, regions_file))
    if held:
        rest = lines[half + len(held) :]
        asyncio.run(replay(settings.bootstrap, raw, rest, flush=True, batch=50))

    got: list[bytes] = []
    sent_on: set[str] = set()

    def all_in() -> bool:
        # the last relevant posts may still be on their way when the last alert is in
        got[:] = [r.value or b"" for r in _read(settings.bootstrap, settings.topic(ALERTS))]
        messages = _read(settings.bootstrap, settings.topic(RELEVANT))
        passed = (loads(record) for r in messages for record in r.records())
        sent_on.clear()
        sent_on.update(p["post_id"] for p in passed if "post_id" in p)
        return {dumps(loads(v)) for v in got} >= expected and sent_on >= relevant

    wait_for(all_in, 180, f"{len(expected)} alerts and {len(relevant)} relevant posts", survivor)
    events = [dumps(loads(v)) for v in got]
    assert set(events) == expected
    if fault is not _kill_and_restart:
        assert len(events) == len(expected), "an alert event was sent twice"
    # after kill -9 an event sent just before the crash, whose state was not yet saved, is
    # sent again: an exact copy (same bytes, so the set above holds), never another event
    assert sent_on == relevant
    dead = _read(settings.bootstrap, settings.topic(DEADLETTER))
    assert {r.value for r in dead} == {MALFORMED}
    print(f"alert events {len(expected)}, re-sent copies {len(events) - len(expected)}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[LocalBroker]]:
    """Three KRaft nodes (each broker and controller) on loopback."""
    ports = {n: (free_port(), free_port()) for n in (1, 2, 3)}
    voters = {n: controller for n, (_client, controller) in ports.items()}
    nodes = [
        LocalBroker(
            tmp_path,
            n,
            {"PLAINTEXT": ("PLAINTEXT", client), "CONTROLLER": ("PLAINTEXT", controller)},
            voters,
            {"min.insync.replicas": "2", "default.replication.factor": "3"},
        )
        for n, (client, controller) in ports.items()
    ]
    cluster_id = random_cluster_id()
    for node in nodes:
        node.format(cluster_id)
    for node in nodes:
        node.start()
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop(kill=True)


def test_a_three_broker_cluster_losing_a_broker_gives_the_uninterrupted_alerts(
    cluster: list[LocalBroker], start_worker, wait_for, tmp_path: Path
) -> None:
    bootstrap = ",".join(f"127.0.0.1:{node.client_port}" for node in cluster)
    try:
        deadline = time.monotonic() + 120
        while asyncio.run(wait_until_ready(bootstrap, 120)) < len(cluster):
            assert time.monotonic() < deadline
            time.sleep(0.5)
    except (TimeoutError, AssertionError):
        pytest.fail("cluster not ready:\n" + "\n".join(n.log_tail(10) for n in cluster))
    settings = Settings(
        bootstrap=bootstrap, app_id="cluster", partitions=3, replication=3, commit_interval_s=1.0
    )

    def lose_a_broker(first: WorkerProcess, _start: Callable[[], WorkerProcess]) -> WorkerProcess:
        cluster[1].stop(kill=True)
        return first

    _run_through(settings, start_worker, wait_for, tmp_path, lose_a_broker, "mid-stream")
