"""Long and stormy runs through the real broker, with event time = wall time.

* ``python -m streams.soak --minutes 60`` (``make soak``): posts at a steady rate for an
  hour, an outage planted every ten minutes; the worker's memory and the group's lag are
  sampled over time.
* ``python -m streams.soak --storm``: the same, with an outage storm — posts at ``factor``
  times the normal rate for ``storm_minutes`` minutes, most of them complaints from one
  region; reports whether the pipeline kept up (or lagged and recovered), its memory
  before, during and after, and the time from the storm's start to its alert.

The steady posts are the bundled demo scenario's texts and places, so the chatter has its
real share of complaints; each figure is printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from models.records import Alert, Post, dumps, loads
from models.scenario import build_demo
from streams.bench_kafka import fresh_settings, group_lags
from streams.kafka_admin import delete_topics, ensure_topics
from streams.settings import Settings
from streams.topics import ALERTS, ALL, GLOBAL, NORMALIZED, RAW, RELEVANT, topic_specs
from streams.workers import WorkerProcess

SAMPLE_S = 5.0
COMPLAINT = "no signal at all here, the mobile network is down"


@dataclass(frozen=True)
class Plan:
    """What to send: a steady ``rate`` for ``minutes``; outages (start s, length s, extra
    complainers per s) in one region each; ``storm`` = (start s, length s, rate factor)."""

    rate: float
    minutes: float
    outages: tuple[tuple[float, float, float], ...] = ()
    storm: tuple[float, float, float] | None = None


@dataclass
class Sample:
    at_s: float
    sent: int
    lag: int
    rss_mb: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    alerts: list[tuple[float, Alert]] = field(default_factory=list)  # arrival s, opened alert
    sent: int = 0


async def _produce(settings: Settings, plan: Plan, region: tuple[float, float], run: Run) -> None:
    """Send the plan in real time: the scenario's posts re-stamped to now, plus the extra
    complainers of outages and the storm at ``region``."""
    templates = build_demo(seed=1).posts
    rng = np.random.default_rng(7)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5, acks=1)
    await producer.start()
    topic = settings.topic(RAW)
    try:
        parts = sorted(await producer.partitions_for(topic))
        t0 = time.monotonic()
        end = plan.minutes * 60
        i = 0
        while (now := time.monotonic() - t0) < end:
            rate, extra = plan.rate, 0.0
            for start, length, per_s in plan.outages:
                if start <= now < start + length:
                    extra += per_s
            if plan.storm is not None and plan.storm[0] <= now < plan.storm[0] + plan.storm[1]:
                rate *= plan.storm[2]
                extra += rate * 0.8  # a storm is mostly the outage's complaints
            n_chatter = int(rng.poisson(max(rate - extra, 0.0) * 0.1))
            n_extra = int(rng.poisson(extra * 0.1))
            now_ms = int(time.time() * 1000)
            for k in range(n_chatter + n_extra):
                if k < n_chatter:
                    post = dataclasses.replace(templates[i % len(templates)], id=f"s{i}")
                else:
                    lon, lat = region
                    post = Post(f"s{i}", COMPLAINT, now_ms, lon=lon, lat=lat, author=f"x{i}")
                post = dataclasses.replace(post, created_at_ms=now_ms)
                await producer.send(
                    topic,
                    dumps(post.to_wire()),
                    partition=parts[i % len(parts)],
                    timestamp_ms=now_ms,
                )
                i += 1
            run.sent = i
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - t0 - now)))
        await producer.flush()
    finally:
        await producer.stop()


async def _watch(settings: Settings, worker: WorkerProcess, run: Run, stop: asyncio.Event) -> None:
    """Sample lag and memory every SAMPLE_S; collect opened alerts as they arrive."""
    topics = [settings.topic(t) for t in (RAW, NORMALIZED, RELEVANT, GLOBAL)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    meta = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None)
    alerts = AIOKafkaConsumer(
        settings.topic(ALERTS),
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    for client in (admin, meta, alerts):
        await client.start()
    try:
        await meta._client.force_metadata_update()
        t0 = time.monotonic()
        next_sample = 0.0
        while not stop.is_set():
            if not worker.alive():
                raise RuntimeError(f"worker died:\n{worker.tail_log()}")
            batch = await alerts.getmany(timeout_ms=200)
            for msgs in batch.values():
                for m in msgs:
                    alert = Alert.from_wire(loads(m.value or b""))
                    if alert.status == "opened":
                        run.alerts.append((time.monotonic() - t0, alert))
            if (now := time.monotonic() - t0) >= next_sample:
                lag = await group_lags(admin, meta, settings.app_id, topics)
                rss = worker.rss_mb() or float("nan")
                run.samples.append(Sample(now, run.sent, sum(lag.values()), rss))
                next_sample += SAMPLE_S
    finally:
        await alerts.stop()
        await meta.stop()
        await admin.close()


def soak(base: Settings, plan: Plan, drain_s: float, workdir: Path) -> tuple[Run, str]:
    """Run ``plan`` against one fresh worker (its log in ``workdir``); returns the samples
    and the storm region."""
    settings = fresh_settings(
        base, window_s=60, lateness_s=5, warmup_windows=3, resolve_windows=2, commit_interval_s=1
    )
    scenario = build_demo(seed=1)
    regions_file = workdir / "regions.geojson"
    regions_file.write_bytes(dumps(scenario.regions))
    settings = settings.with_overrides(regions=str(regions_file))
    feature = scenario.regions["features"][14]
    ring = feature["geometry"]["coordinates"][0]
    centre = (statistics.fmean(x for x, _ in ring), statistics.fmean(y for _, y in ring))
    region_id = str(feature["properties"]["id"])
    names = [settings.topic(t) for t in ALL]
    run = Run()
    worker = None
    try:
        asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings)))
        worker = WorkerProcess(settings, workdir / f"{settings.app_id}.log")
        time.sleep(10)  # the worker joins the group before the clock starts

        async def go() -> None:
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch(settings, worker, run, stop))
            await _produce(settings, plan, centre, run)
            await asyncio.sleep(drain_s)
            stop.set()
            await watcher

        asyncio.run(go())
    finally:
        if worker is not None:
            worker.stop()
        asyncio.run(delete_topics(settings.bootstrap, names))
    return run, region_id


def _table(run: Run, every_s: float) -> list[str]:
    rows = [
        "| minute | posts sent | group lag, messages | worker RSS, MiB |",
        "|---:|---:|---:|---:|",
    ]
    next_row = 0.0
    for s in run.samples:
        if s.at_s >= next_row:
            rows.append(f"| {s.at_s / 60:.1f} | {s.sent:,} | {s.lag:,} | {s.rss_mb:.0f} |")
            next_row += every_s
    return rows


def storm_report(base: Settings, rate: float, factor: float, storm_minutes: float) -> str:
    start = 240.0  # after the warm-up windows
    plan = Plan(
        rate, (start + storm_minutes * 60 + 180) / 60, storm=(start, storm_minutes * 60, factor)
    )
    run, region = soak(base, plan, drain_s=60, workdir=Path(tempfile.mkdtemp(prefix="soak-")))
    before = [s for s in run.samples if s.at_s < start]
    during = [s for s in run.samples if start <= s.at_s < start + storm_minutes * 60]
    after = [s for s in run.samples if s.at_s >= start + storm_minutes * 60]
    hit = [at for at, a in run.alerts if region in a.region_ids and at >= start]
    drained = next((s.at_s for s in after if s.lag < rate), None)
    lines = [
        f"Outage storm: {rate:g} posts/s, then {factor:g}x ({rate * factor:,.0f} posts/s, 80 % "
        f"of them complaints from region {region}) for {storm_minutes:g} min, then {rate:g} "
        "posts/s again; window 60 s; one worker; event time = wall time.",
        "",
        f"- posts sent: {run.sent:,}; largest group lag: {max(s.lag for s in run.samples):,} "
        f"messages; lag back under one second of input "
        + (f"{drained - start - storm_minutes * 60:.0f} s after the storm" if drained else "never"),
        f"- worker RSS: {statistics.median(s.rss_mb for s in before):.0f} MiB before, "
        f"{max(s.rss_mb for s in during):.0f} MiB peak during, "
        f"{after[-1].rss_mb:.0f} MiB at the end",
        "- time from the storm's start to its alert: "
        + (f"{hit[0] - start:.0f} s" if hit else "no alert"),
        "",
        *_table(run, 30.0),
    ]
    return "\n".join(lines)


def soak_report(base: Settings, rate: float, minutes: float) -> str:
    outages = tuple((600.0 * k + 300.0, 240.0, 0.5) for k in range(int(minutes // 10)))
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    run, region = soak(base, Plan(rate, minutes, outages), drain_s=60, workdir=workdir)
    rss = [s.rss_mb for s in run.samples]
    lines = [
        f"Soak: {rate:g} posts/s for {minutes:g} min (an outage of 30 complainers/min in "
        f"region {region} every 10 min), one worker, window 60 s.",
        "",
        f"- posts sent: {run.sent:,}; opened alerts: {len(run.alerts)}; largest lag: "
        f"{max(s.lag for s in run.samples):,} messages",
        f"- worker RSS: first sample {rss[0]:.0f} MiB, median {statistics.median(rss):.0f}, "
        f"last {rss[-1]:.0f}, largest {max(rss):.0f}",
        "",
        *_table(run, 300.0),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="normal posts per second")
    parser.add_argument("--minutes", type=float, default=60.0, help="soak length")
    parser.add_argument("--storm", action="store_true", help="run the storm instead")
    parser.add_argument("--factor", type=float, default=20.0, help="storm rate factor")
    parser.add_argument("--storm-minutes", type=float, default=5.0)
    args = parser.parse_args(argv)
    base = Settings.from_env()
    if args.storm:
        print(storm_report(base, args.rate, args.factor, args.storm_minutes))
    else:
        print(soak_report(base, args.rate, args.minutes))


if __name__ == "__main__":
    main()
