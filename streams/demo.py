"""``groundswell demo``: a real broker, a real worker and the bundled outage scenario.

Starts the local broker if none answers, writes the scenario to a temporary folder,
starts a worker process on fresh topics, replays the posts, prints alerts as they open,
update and resolve, and stops everything it started, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.records import Alert, dumps, loads
from models.scenario import build_demo
from models.timeutil import ms_from_iso
from streams.agents.publish import describe
from streams.files import DumpRecord
from streams.kafka_admin import delete_topics, partition_count, wait_until_ready
from streams.kafka_io import replay, tail
from streams.settings import Settings
from streams.topics import ALERTS, ALL, RAW

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _broker_up(settings: Settings) -> bool:
    try:
        asyncio.run(wait_until_ready(settings.bootstrap, 2.0))
        return True
    except TimeoutError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_demo(base: Settings, timeout_s: float = 150.0) -> int:
    t0 = time.monotonic()
    stamp = time.strftime("%Y%m%d%H%M%S")
    settings = base.with_overrides(
        topic_prefix=f"demo-{stamp}-{os.getpid()}.",
        app_id=f"groundswell-demo-{stamp}-{os.getpid()}",
    )
    started_broker = False
    worker: subprocess.Popen[bytes] | None = None
    workdir = Path(tempfile.mkdtemp(prefix="groundswell-demo-"))
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    stack = contextlib.ExitStack()
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
        truth = scenario.truth[0]
        _say(
            f"scenario: {len(posts)} posts over 8 h, {len(scenario.region_ids)} regions; "
            f"planted outage in {truth['region_id']} from {truth['start']}, "
            f"first customer ticket at {truth['first_ticket_at']}"
        )
        env = {
            **os.environ,
            "GROUNDSWELL_TOPIC_PREFIX": settings.topic_prefix,
            "GROUNDSWELL_APP_ID": settings.app_id,
            "GROUNDSWELL_REGIONS": str(regions_file),
            "GROUNDSWELL_BOOTSTRAP": settings.bootstrap,
        }
        log = stack.enter_context(open(workdir / "worker.log", "wb"))  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _say(f"worker started (pid {worker.pid}, log {workdir / 'worker.log'})")
        asyncio.run(_wait_topic(settings))
        stats = asyncio.run(replay(settings.bootstrap, settings.topic(RAW), posts, flush=True))
        _say(f"replayed {stats.messages} posts in {stats.seconds:.1f} s; waiting for alerts")
        found = _watch(
            settings, truth["region_id"], truth["first_ticket_at"], worker, deadline=t0 + timeout_s
        )
        asyncio.run(delete_topics(settings.bootstrap, [settings.topic(t) for t in ALL]))
        _say(f"done in {time.monotonic() - t0:.0f} s")
        return 0 if found else 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    finally:
        if worker is not None:
            _stop(worker)
        stack.close()
        if started_broker:
            subprocess.run([str(KAFKA_SCRIPT), "stop"], check=False)


async def _wait_topic(settings: Settings) -> None:
    """The worker creates the topics; wait until it has."""
    for _ in range(120):
        try:
            await partition_count(settings.bootstrap, settings.topic(RAW), timeout_s=1.0)
            return
        except Exception:
            await asyncio.sleep(0.5)
    raise TimeoutError("the worker did not create the topics in 60 s")


def _watch(
    settings: Settings,
    region: str,
    first_ticket: str,
    worker: subprocess.Popen[bytes],
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
                tail(settings.bootstrap, settings.topic(ALERTS), show, from_beginning=True),
                timeout=remaining,
            )
        )
    except TimeoutError:
        if worker.poll() is not None:
            _say("the worker stopped unexpectedly; see its log")
        _say("time is up" + ("" if opened_ok else " and the planted outage was not seen"))
    return opened_ok
