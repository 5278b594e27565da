"""Long and stormy runs through the real broker, with event time = wall time.

* ``python -m streams.soak --minutes 60`` (``make soak``): posts at a steady rate for an
  hour, an outage planted every ten minutes; the worker's memory and the group's lag are
  sampled over time.
* ``python -m streams.soak --storm``: the same, with an outage storm — posts at ``factor``
  times the normal rate for ``storm_minutes`` minutes, most of them complaints from one
  region; reports whether the pipeline kept up (or lagged and recovered), its memory
  before, during and after, and the time from the storm's start to its alert.
* ``python -m streams.soak --offline [--no-background-complaints]``: the soak's posts
  replayed through the chain in event time, without broker or worker (seconds, and
  deterministic): which planted outages alert, and every alert event.

The steady posts are the bundled demo scenario's posts in turn, so the chatter has its
real share of complaints (the demo's 2,256 posts come round every 45 s at 50 posts/s);
each figure is printed as a Markdown table.
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
from streams.chain import Stages, backtest, load_regions
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
    alerts: list[tuple[float, Alert]] = field(default_factory=list)  # arrival s, alert event
    sent: int = 0


class _Feed:
    """The posts of a plan, a tenth of a second at a time: ``templates`` (the demo
    scenario's posts) in turn, re-stamped, plus the complainers of outages and the storm
    at ``region``."""

    def __init__(self, plan: Plan, region: tuple[float, float], templates: list[Post]) -> None:
        self.plan = plan
        self.region = region
        self.templates = templates
        self.rng = np.random.default_rng(7)
        self.sent = 0

    def step(self, now_s: float, now_ms: int) -> list[Post]:
        """The posts of the tenth of a second at ``now_s`` into the plan, at ``now_ms``."""
        plan = self.plan
        rate, extra = plan.rate, 0.0
        for start, length, per_s in plan.outages:
            if start <= now_s < start + length:
                extra += per_s
        if plan.storm is not None and plan.storm[0] <= now_s < plan.storm[0] + plan.storm[1]:
            rate *= plan.storm[2]
            extra += rate * 0.8  # a storm is mostly the outage's complaints
        n_chatter = int(self.rng.poisson(max(rate - extra, 0.0) * 0.1))
        n_extra = int(self.rng.poisson(extra * 0.1))
        posts = []
        for k in range(n_chatter + n_extra):
            i = self.sent + k
            if k < n_chatter:
                post = dataclasses.replace(self.templates[i % len(self.templates)], id=f"s{i}")
            else:
                lon, lat = self.region
                post = Post(f"s{i}", COMPLAINT, now_ms, lon=lon, lat=lat, author=f"x{i}")
            posts.append(dataclasses.replace(post, created_at_ms=now_ms))
        self.sent += len(posts)
        return posts


async def _produce(settings: Settings, feed: _Feed, run: Run) -> None:
    """Send the feed in real time, event time = wall time."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5, acks=1)
    await producer.start()
    topic = settings.topic(RAW)
    try:
        parts = sorted(await producer.partitions_for(topic))
        t0 = time.monotonic()
        end = feed.plan.minutes * 60
        while (now := time.monotonic() - t0) < end:
            for post in feed.step(now, int(time.time() * 1000)):
                await producer.send(
                    topic,
                    dumps(post.to_wire()),
                    partition=parts[run.sent % len(parts)],
                    timestamp_ms=post.created_at_ms,
                )
                run.sent += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - t0 - now)))
        await producer.flush()
    finally:
        await producer.stop()


async def _watch(settings: Settings, worker: WorkerProcess, run: Run, stop: asyncio.Event) -> None:
    """Sample lag and memory every SAMPLE_S; collect alert events as they arrive."""
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


def _setup(base: Settings, workdir: Path) -> tuple[Settings, list[Post], tuple[float, float], str]:
    """The soak's settings (window 60 s; the demo's regions, written to ``workdir``), the
    demo's posts, the centre of the region outages are planted in, and its id."""
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
    return settings, scenario.posts, centre, str(feature["properties"]["id"])


def soak(base: Settings, plan: Plan, drain_s: float, workdir: Path) -> tuple[Run, str]:
    """Run ``plan`` against one fresh worker (its log in ``workdir``); returns the samples
    and the storm region."""
    settings, posts, centre, region_id = _setup(base, workdir)
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
            await _produce(settings, _Feed(plan, centre, posts), run)
            await asyncio.sleep(drain_s)
            stop.set()
            await watcher

        asyncio.run(go())
    finally:
        if worker is not None:
            worker.stop()
        asyncio.run(delete_topics(settings.bootstrap, names))
    return run, region_id


OFFLINE_T0_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z, a Monday


def offline(
    base: Settings, plan: Plan, complaints: bool = True
) -> tuple[list[tuple[float, Alert]], str, int]:
    """``plan`` replayed through the chain offline, in event time from
    :data:`OFFLINE_T0_MS` (no broker, no worker; the same alerts as a replay through
    Kafka): the alert events with the second of the plan each was made at, the outage
    region and the number of posts.
    ``complaints=False`` leaves out of the background the demo's posts the lexicon keeps."""
    settings, templates, centre, region_id = _setup(base, Path(tempfile.mkdtemp(prefix="soak-")))
    stages = Stages(settings, load_regions(settings))
    if not complaints:
        templates = [p for p in templates if not stages.classifier.classify(p).relevant]
    feed = _Feed(plan, centre, templates)
    lines = [
        dumps(post.to_wire())
        for k in range(round(plan.minutes * 600))
        for post in feed.step(k / 10, OFFLINE_T0_MS + k * 100)
    ]
    events = [
        ((a.detected_at_ms - OFFLINE_T0_MS) / 1000, a) for a in backtest(stages, lines).alerts
    ]
    return events, region_id, feed.sent


def _raised(alert: Alert, region_id: str) -> bool:
    """An alert opened or updated on ``region_id``."""
    return alert.status != "resolved" and region_id in alert.region_ids


def outages_alerted(
    plan: Plan, region_id: str, events: list[tuple[float, Alert]]
) -> list[float | None]:
    """For each planted outage, the seconds from its start to the first alert event
    (opened or updated, at second ``at`` of the run) naming its region during the outage
    or the two windows after it; None when there was none."""
    found: list[float | None] = []
    for start, length, _ in plan.outages:
        delays = [
            at - start
            for at, alert in events
            if _raised(alert, region_id) and start <= at <= start + length + 120
        ]
        found.append(min(delays) if delays else None)
    return found


def _alerted_line(plan: Plan, region_id: str, events: list[tuple[float, Alert]]) -> str:
    found = outages_alerted(plan, region_id, events)
    delays = ", ".join("none" if d is None else f"{d:.0f}" for d in found)
    alerted = sum(d is not None for d in found)
    return (
        f"- planted outages alerted: {alerted} of {len(found)} (seconds from each start: {delays})"
    )


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
    hit = [at for at, a in run.alerts if _raised(a, region) and at >= start]
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
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    plan = soak_plan(rate, minutes)
    run, region = soak(base, plan, drain_s=60, workdir=workdir)
    rss = [s.rss_mb for s in run.samples]
    lines = [
        f"Soak: {_soak_words(rate, minutes, region)}, one worker, window 60 s.",
        "",
        f"- posts sent: {run.sent:,}; opened alerts: {_opened(run.alerts)}; largest lag: "
        f"{max(s.lag for s in run.samples):,} messages",
        _alerted_line(plan, region, run.alerts),
        f"- worker RSS: first sample {rss[0]:.0f} MiB, median {statistics.median(rss):.0f}, "
        f"last {rss[-1]:.0f}, largest {max(rss):.0f}",
        "",
        *_table(run, 300.0),
    ]
    return "\n".join(lines)


def _opened(events: list[tuple[float, Alert]]) -> int:
    return sum(alert.status == "opened" for _, alert in events)


def _soak_words(rate: float, minutes: float, region: str) -> str:
    return (
        f"{rate:g} posts/s for {minutes:g} min (an outage of 30 complainers/min in region "
        f"{region} every 10 min)"
    )


def soak_plan(rate: float, minutes: float) -> Plan:
    """The soak: ``rate`` posts/s, an outage of 30 complainers/min for 4 min every 10 min."""
    return Plan(
        rate, minutes, tuple((600.0 * k + 300.0, 240.0, 0.5) for k in range(int(minutes // 10)))
    )


def offline_report(base: Settings, rate: float, minutes: float, complaints: bool) -> str:
    plan = soak_plan(rate, minutes)
    events, region, posts = offline(base, plan, complaints)
    lines = [
        f"Soak plan replayed offline in event time: {_soak_words(rate, minutes, region)}, "
        "window 60 s"
        + ("" if complaints else "; background without the posts the lexicon keeps")
        + ".",
        "",
        f"- posts: {posts:,}; opened alerts: {_opened(events)}",
        _alerted_line(plan, region, events),
        "",
        "| minute | status | regions | observed | expected |",
        "|---:|---|---|---:|---:|",
        *(
            f"| {at / 60:.1f} | {a.status} | {' '.join(a.region_ids[:6])} | {a.observed} "
            f"| {a.expected:.1f} |"
            for at, a in events
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="normal posts per second")
    parser.add_argument("--minutes", type=float, default=60.0, help="soak length")
    parser.add_argument("--storm", action="store_true", help="run the storm instead")
    parser.add_argument("--factor", type=float, default=20.0, help="storm rate factor")
    parser.add_argument("--storm-minutes", type=float, default=5.0)
    parser.add_argument(
        "--offline", action="store_true", help="replay the soak's posts offline (no broker)"
    )
    parser.add_argument(
        "--no-background-complaints",
        action="store_true",
        help="with --offline: leave the demo's complaints out of the background",
    )
    args = parser.parse_args(argv)
    base = Settings.from_env()
    if args.offline:
        print(offline_report(base, args.rate, args.minutes, not args.no_background_complaints))
    elif args.storm:
        print(storm_report(base, args.rate, args.factor, args.storm_minutes))
    else:
        print(soak_report(base, args.rate, args.minutes))


if __name__ == "__main__":
    main()
