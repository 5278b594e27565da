"""``groundswell demo``: a real broker, a real worker and the bundled outage scenario.

Starts the local broker if none answers, writes the scenario to a temporary folder,
starts a worker process on fresh topics, replays the posts, prints alerts as they open,
update and resolve, and stops everything it started, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.records import Alert, dumps, loads
from models.scenario import build_demo
from models.timeutil import ms_from_iso
from streams.agents.publish import describe
from streams.files import REPLAY_BATCH, DumpRecord
from streams.kafka_admin import delete_topics, partition_count, wait_until_ready
from streams.kafka_io import replay, tail
from streams.settings import Settings
from streams.topics import ALERTS, ALL, RAW
from streams.workers import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _broker_up(settings: Settings) -> bool:
    try:
        asyncio.run(wait_until_ready(settings.bootstrap, 2.0, settings.kafka_auth()))
        return True
    except TimeoutError:
        return False


def run_demo(base: Settings, timeout_s: float = 150.0) -> int:
    t0 = time.monotonic()
    stamp = time.strftime("%Y%m%d%H%M%S")
    settings = base.with_overrides(
        topic_prefix=f"demo-{stamp}-{os.getpid()}.",
        app_id=f"groundswell-demo-{stamp}-{os.getpid()}",
    )
    started_broker = False
    worker: WorkerProcess | None = None
    workdir = Path(tempfile.mkdtemp(prefix="groundswell-demo-"))
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        if not _broker_up(settings):
            _say(f"starting the local Kafka broker on {settings.bootstrap}")
            started_broker = True  # set first: Ctrl-C during the start still stops it
            subprocess.run(
                [str(KAFKA_SCRIPT), "start"],
                check=True,
                env={**os.environ, "PYTHON": sys.executable},
            )
        scenario = build_demo()
        regions_file = workdir / "regions.geojson"
        regions_file.write_bytes(dumps(scenario.regions))
        posts = [dumps(p.to_wire()) for p in scenario.posts]
        truth = scenario.truth.outages[0].to_wire()
        _say(
            f"scenario: {len(posts)} posts over 8 h, {len(scenario.region_ids)} regions; "
            f"planted outage in {truth['region_ids'][0]} from {truth['start']}, "
            f"first customer ticket at {truth['first_ticket_at']}"
        )
        worker = WorkerProcess(
            settings.with_overrides(regions=str(regions_file)), workdir / "worker.log"
        )
        _say(
            f"worker started (pid {worker.pid}, metrics {worker.metrics_url}, "
            f"log {workdir / 'worker.log'})"
        )
        asyncio.run(_wait_topic(settings))
        stats = asyncio.run(
            replay(
                settings.bootstrap,
                settings.topic(RAW),
                posts,
                flush=True,
                auth=settings.kafka_auth(),
                batch=REPLAY_BATCH,
            )
        )
        _say(f"replayed {stats.lines} posts in {stats.seconds:.1f} s; waiting for alerts")
        found = _watch(
            settings,
            truth["region_ids"][0],
            truth["first_ticket_at"],
            worker,
            deadline=t0 + timeout_s,
        )
        asyncio.run(
            delete_topics(
                settings.bootstrap,
                [settings.topic(t) for t in ALL],
                auth=settings.kafka_auth(),
            )
        )
        _say(f"done in {time.monotonic() - t0:.0f} s")
        return 0 if found else 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    finally:
        if worker is not None:
            worker.stop()
        if started_broker:
            subprocess.run([str(KAFKA_SCRIPT), "stop"], check=False)


async def _wait_topic(settings: Settings) -> None:
    """The worker creates the topics; wait until it has."""
    for _ in range(120):
        try:
            await partition_count(
                settings.bootstrap, settings.topic(RAW), timeout_s=1.0, auth=settings.kafka_auth()
            )
            return
        except Exception:
            await asyncio.sleep(0.5)
    raise TimeoutError("the worker did not create the topics in 60 s")


def _watch(
    settings: Settings,
    region: str,
    first_ticket: str,
    worker: WorkerProcess,
    deadline: float,
) -> bool:
    """Print alerts until the planted outage's alert is resolved or time runs out."""
    opened_ok = False

    def show(rec: DumpRecord) -> bool:
        nonlocal opened_ok
        alert = Alert.from_wire(loads(rec.value or b""))
        _say(describe(alert))
        if region in alert.region_ids and alert.status == "opened":
            opened_ok = True
            lead = (ms_from_iso(first_ticket) - alert.detected_at_ms) / 60_000
            _say(f"  -> planted outage detected, {lead:.0f} min before the first ticket")
        return opened_ok and region in alert.region_ids and alert.status == "resolved"

    remaining = max(1.0, deadline - time.monotonic())
    try:
        asyncio.run(
            asyncio.wait_for(
                tail(
                    settings.bootstrap,
                    settings.topic(ALERTS),
                    show,
                    from_beginning=True,
                    auth=settings.kafka_auth(),
                ),
                timeout=remaining,
            )
        )
    except TimeoutError:
        if not worker.alive():
            _say("the worker stopped unexpectedly; see its log")
        _say("time is up" + ("" if opened_ok else " and the planted outage was not seen"))
    return opened_ok
