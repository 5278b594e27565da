"""Benchmarks through the real broker: client limit, pipeline throughput, alert latency.

* **raw consume**: one plain aiokafka consumer reading the input topic from the start to
  the end, splitting batches into posts (no decoding): the client's limit on this machine;
* **Faust alone**: as many :mod:`streams.bare_faust` workers (Faust configured as the worker)
  whose one agent only splits the same messages: the framework's limit, timed alike;
* **pipeline**: ``workers`` real worker processes started on empty topics and left to
  settle into a stable group, then stopped (SIGSTOP) while the backlog is produced (no
  start-up, rebalance or producer in the figure); the clock starts when they are resumed
  and stops when the group has committed everything on ``posts.raw``,
  ``posts.normalized``, ``posts.relevant`` and ``posts.global`` (polled every 0.1 s);
* **latency**: posts produced in real time at a steady rate with event time = wall time,
  bursts planted in a few regions; for each alert opened, the wall time it arrives on
  ``alerts`` minus its first post's event time (``first_post_at``).

Every figure comes from the same broker, input and process layout; ratios are taken
within one run so machine noise cancels.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from models.records import Alert, Post, dumps, loads
from models.scenario import build_demo
from streams.bench import firehose_lines
from streams.files import REPLAY_BATCH, message_records
from streams.kafka_admin import delete_topics, describe_group, ensure_topics
from streams.kafka_io import replay
from streams.settings import Settings
from streams.topics import ALERTS, ALL, GLOBAL, NORMALIZED, RAW, RELEVANT, topic_specs
from streams.workers import WORKER, WorkerProcess


@dataclass(frozen=True)
class ThroughputRun:
    workers: int
    batch: int  # posts per raw message
    messages: int
    raw_consume_per_s: float  # messages
    raw_posts_per_s: float  # the posts those messages carry
    bare_per_s: float | None  # posts through Faust workers doing nothing else; one-post only
    pipeline_per_s: float  # posts
    peak_rss_mb: float
    busy: float  # the workers' CPU time over their number times the drain's seconds

    @property
    def ratio(self) -> float:
        """Pipeline posts/s over the posts/s a plain consumer takes off the same messages."""
        return self.pipeline_per_s / self.raw_posts_per_s

    @property
    def bare_ratio(self) -> float | None:
        """Pipeline posts/s over the posts/s Faust workers that only split messages reach."""
        return None if self.bare_per_s is None else self.pipeline_per_s / self.bare_per_s


def fresh_settings(base: Settings, **kw: object) -> Settings:
    """``base`` on a fresh topic prefix and consumer group."""
    tag = uuid.uuid4().hex[:8]
    return base.with_overrides(topic_prefix=f"bench-{tag}.", app_id=f"bench-{tag}", **kw)


async def raw_consume_rate(bootstrap: str, topic: str) -> tuple[float, float]:
    """(messages/s, posts/s) for one consumer reading ``topic`` from start to end and
    splitting batches into their records (no decoding)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        total = sum(ends.values())
        await consumer.seek_to_beginning(*tps)
        count = posts = 0
        t0 = time.perf_counter()
        while count < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            if not batch and time.perf_counter() - t0 > 60:
                raise TimeoutError(f"read {count} of {total} messages of {topic} in 60 s")
            for msgs in batch.values():
                count += len(msgs)
                posts += sum(len(message_records(m.value or b"", m.headers)) for m in msgs)
        seconds = time.perf_counter() - t0
        return count / seconds, posts / seconds
    finally:
        await consumer.stop()


def _raw_consume(settings: Settings, attempts: int = 3) -> tuple[float, float]:
    """:func:`raw_consume_rate` of the run's input; a consumer that stalls (seen now and
    then: no record in a minute) is replaced by a fresh one."""
    for _ in range(attempts - 1):
        try:
            return asyncio.run(raw_consume_rate(settings.bootstrap, settings.topic(RAW)))
        except TimeoutError:
            pass
    return asyncio.run(raw_consume_rate(settings.bootstrap, settings.topic(RAW)))


async def group_lags(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topics: list[str]
) -> dict[str, int]:
    """Messages of each of ``topics`` that ``group`` has not committed yet."""
    committed = await admin.list_consumer_group_offsets(group)
    tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
    ends = await consumer.end_offsets(tps)
    lag = {t: 0 for t in topics}
    for tp in tps:
        meta = committed.get(tp)
        lag[tp.topic] += ends[tp] - (meta.offset if meta is not None and meta.offset >= 0 else 0)
    return lag


def _all_alive(workers: list[WorkerProcess]) -> None:
    """Raise with the log's tail of a worker that has died."""
    for w in workers:
        if not w.alive():
            raise RuntimeError(f"worker died:\n{w.tail_log()}")


async def _caught_up(
    settings: Settings,
    workers: list[WorkerProcess],
    timeout_s: float,
    stages: tuple[str, ...] = (RAW, NORMALIZED, RELEVANT, GLOBAL),
) -> float:
    """perf_counter at the first poll (every 0.1 s) finding nothing left on the topics of
    ``stages`` (detectors commit a message only once a later watermark saved it); a dead
    worker raises."""
    topics = [settings.topic(t) for t in stages]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        deadline = time.monotonic() + timeout_s
        lag: dict[str, int] = {}
        while time.monotonic() < deadline:
            _all_alive(workers)
            lag = await group_lags(admin, consumer, settings.app_id, topics)
            if not any(lag.values()):
                return time.perf_counter()
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{settings.app_id} did not drain in {timeout_s} s (lag {lag})")
    finally:
        await consumer.stop()
        await admin.close()


async def _wait_stable(settings: Settings, workers: list[WorkerProcess], timeout_s: float) -> None:
    """Until the workers' group is stable with every worker in it (no rebalance to come)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _all_alive(workers)
            if await describe_group(admin, settings.app_id) == ("Stable", len(workers)):
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"group {settings.app_id} not stable in {timeout_s} s")
    finally:
        await admin.close()


@dataclass(frozen=True)
class Drained:
    settings: Settings
    workers: list[WorkerProcess]
    messages: int
    seconds: float
    cpu_seconds: float  # of all the workers, while the clock ran


def with_closing_post(lines: list[bytes], window_s: int) -> list[bytes]:
    """``lines`` (native posts) and one ordinary post a window after the last: the flush
    watermark then passes the window of the last relevant posts, and their detectors close
    it, save and acknowledge them (the posts of a window still open are held until it
    closes or their detector saves a batch)."""
    last = Post.from_wire(loads(lines[-1]))
    closing = dataclasses.replace(
        last,
        id=f"{last.id}-closing",
        text="thanks, see you tomorrow",
        created_at_ms=last.created_at_ms + window_s * 1000,
    )
    return [*lines, dumps(closing.to_wire())]


@contextmanager
def _drained(
    base: Settings,
    lines: list[bytes],
    workers: int,
    workdir: Path,
    batch: int,
    entry: Sequence[str] = WORKER,
    stages: tuple[str, ...] = (RAW, NORMALIZED, RELEVANT, GLOBAL),
) -> Iterator[Drained]:
    """Fresh topics; ``workers`` processes of ``entry`` started and their group settled,
    then stopped (SIGSTOP) while the backlog (:func:`with_closing_post`) is produced,
    ``batch`` posts to a message; the seconds from their SIGCONT to nothing left on the
    topics of ``stages``: no start-up, rebalance or producer in them. The processes run and
    the topics exist until the block ends."""
    settings = fresh_settings(base, commit_interval_s=0.5)
    procs: list[WorkerProcess] = []
    try:
        asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings)))
        procs = [
            WorkerProcess(settings, workdir / f"{settings.app_id}-{i}.log", entry=entry)
            for i in range(workers)
        ]
        asyncio.run(_wait_stable(settings, procs, timeout_s=120))
        backlog = with_closing_post(lines, settings.window_s)
        for p in procs:
            p.pause()
        try:
            sent = asyncio.run(
                replay(settings.bootstrap, settings.topic(RAW), backlog, flush=True, batch=batch)
            )
        finally:
            for p in procs:
                p.resume()
        started, cpu = time.perf_counter(), _cpu(procs)
        done = asyncio.run(_caught_up(settings, procs, timeout_s=600, stages=stages))
        yield Drained(settings, procs, sent.messages, done - started, _cpu(procs) - cpu)
    finally:
        for p in procs:
            p.stop()
        asyncio.run(delete_topics(settings.bootstrap, [settings.topic(t) for t in ALL]))


BARE = ("streams.bare_faust",)


def _cpu(workers: list[WorkerProcess]) -> float:
    return sum(w.cpu_seconds() or 0.0 for w in workers)


def _timed(seconds: float) -> float:
    """``seconds`` of a drain, long enough to mean something at polls 0.1 s apart."""
    if seconds < 1.0:
        raise ValueError(f"drained in {seconds:.2f} s: too little to time")
    return seconds


def throughput(
    base: Settings, lines: list[bytes], workers: int, workdir: Path, batch: int
) -> ThroughputRun:
    """One run: the pipeline drains the backlog, then a plain consumer reads the same
    messages; with one post a message, ``workers`` bare Faust workers then drain the same
    backlog on topics of their own."""
    with _drained(base, lines, workers, workdir, batch) as run:
        raw_rate, raw_posts = _raw_consume(run.settings)
        peak = max(p.peak_rss_mb() or 0.0 for p in run.workers)
    bare_rate = None
    if batch == 1:
        with _drained(base, lines, workers, workdir, batch, BARE, (RAW,)) as bare:
            bare_rate = len(lines) / _timed(bare.seconds)
    return ThroughputRun(
        workers,
        batch,
        run.messages,
        raw_rate,
        raw_posts,
        bare_rate,
        len(lines) / _timed(run.seconds),
        peak,
        run.cpu_seconds / (workers * run.seconds),
    )


# --- latency ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyRun:
    rate_per_s: int
    window_s: int
    posts: int
    bursts: int
    alerted: int  # bursts whose region some alert event covered
    p50_s: float
    p99_s: float
    rss_mb: float


@dataclass(frozen=True)
class Burst:
    region_id: str
    lon: float
    lat: float
    start_s: float  # seconds after the start of the run
    authors: int = 40
    spread_s: float = 4.0


BACKGROUND_PER_S = 3.0
"""Ordinary complaints per second spread over every region (a real stream is never free
of them; without any the detectors have no baseline to measure a burst against)."""


async def _produce_live(
    settings: Settings,
    rate_per_s: int,
    seconds: float,
    centres: list[tuple[str, float, float]],
    bursts: list[Burst],
    first_sent: dict[int, float],
) -> int:
    """Produce ``rate_per_s`` posts a second for ``seconds``, one a message as a collector
    does (chatter, :data:`BACKGROUND_PER_S` complaints in regions drawn in turn, and the
    bursts' complainers at their region's centre), event time = wall time; fills in the
    wall time each burst's first post was sent. Returns the number of posts sent."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=2, acks=1)
    await producer.start()
    topic = settings.topic(RAW)
    complaint = "no signal at all, mobile network down"
    try:
        parts = sorted(await producer.partitions_for(topic))
        plan: list[tuple[float, int, dict[str, object]]] = []  # (due, burst or -1, fields)
        n = int(rate_per_s * seconds)
        every = max(1, round(rate_per_s / BACKGROUND_PER_S))
        for i in range(n):
            if i % every:
                chatter: dict[str, object] = {"text": "Lovely day in town", "author": f"c{i}"}
                plan.append((i / rate_per_s, -1, chatter))
            else:
                _, lon, lat = centres[(i // every * 11) % len(centres)]
                fields = {"text": complaint, "author": f"n{i}", "lon": lon, "lat": lat}
                plan.append((i / rate_per_s, -1, fields))
        for b, burst in enumerate(bursts):
            for k in range(burst.authors):
                due = burst.start_s + k * burst.spread_s / burst.authors
                fields = {"text": complaint, "author": f"b{b}-{k}", "lon": burst.lon}
                plan.append((due, b, {**fields, "lat": burst.lat}))
        plan.sort(key=lambda x: x[0])
        t0 = time.monotonic()
        sent = 0
        for i, (due, b, fields) in enumerate(plan):
            delay = due - (time.monotonic() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            now_ms = int(time.time() * 1000)
            if b >= 0:
                first_sent.setdefault(b, now_ms / 1000)
            post = Post(id=f"lv{i}", created_at_ms=now_ms, **fields)  # type: ignore[arg-type]
            await producer.send(
                topic,
                value=dumps(post.to_wire()),
                partition=parts[i % len(parts)],
                timestamp_ms=now_ms,
            )
            sent += 1
        await producer.flush()
        return sent
    finally:
        await producer.stop()


async def _collect_alerts(settings: Settings, stop: asyncio.Event) -> list[tuple[float, Alert]]:
    """(arrival wall time, alert) of every alert event until ``stop``."""
    consumer = AIOKafkaConsumer(
        settings.topic(ALERTS),
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    out: list[tuple[float, Alert]] = []
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for msgs in batch.values():
                out.extend((now, Alert.from_wire(loads(m.value or b""))) for m in msgs)
        return out
    finally:
        await consumer.stop()


def burst_latencies(
    bursts: list[Burst], events: list[tuple[float, Alert]], first_sent: dict[int, float]
) -> list[float]:
    """For each burst, seconds from sending its first post to the first alert event
    (opened, or an update as the outage spreads) covering its region after it began;
    bursts no event covered are left out."""
    out = []
    for b, burst in enumerate(bursts):
        first = first_sent[b]
        arrivals = [
            at
            for at, alert in events
            if burst.region_id in alert.region_ids
            and alert.status != "resolved"
            and alert.window_end_ms / 1000 > first
        ]
        if arrivals:
            out.append(min(arrivals) - first)
    return out


def latency(base: Settings, rate_per_s: int, seconds: float, workdir: Path) -> LatencyRun:
    """Steady ``rate_per_s`` for ``seconds``; after a minute of warm-up a burst every 13 s in
    another region; event-to-alert latency of each burst."""
    settings = fresh_settings(base, window_s=10, lateness_s=0, warmup_windows=5, resolve_windows=1)
    scenario = build_demo(seed=1)
    regions_file = workdir / "regions.geojson"
    regions_file.write_bytes(dumps(scenario.regions))
    settings = settings.with_overrides(regions=str(regions_file))
    centres = []
    for feature in scenario.regions["features"]:
        xs = [x for ring in feature["geometry"]["coordinates"] for x, _ in ring]
        ys = [y for ring in feature["geometry"]["coordinates"] for _, y in ring]
        centres.append((feature["id"], (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2))
    # every 13 s: the bursts start at every phase of the 10 s windows
    bursts = [
        Burst(*centres[(k * 7) % len(centres)], start_s=62.0 + 13.0 * k)
        for k in range(int((seconds - 77) // 13))
    ]
    names = [settings.topic(t) for t in ALL]
    worker = None
    try:
        asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings)))
        worker = running = WorkerProcess(settings, workdir / f"{settings.app_id}.log")
        asyncio.run(_wait_stable(settings, [worker], timeout_s=120))
        first_sent: dict[int, float] = {}

        async def go() -> tuple[int, list[tuple[float, Alert]]]:
            stop = asyncio.Event()
            collector = asyncio.create_task(_collect_alerts(settings, stop))
            sent = await _produce_live(settings, rate_per_s, seconds, centres, bursts, first_sent)
            # a worker behind catches up (the last relevant posts stay uncommitted: no
            # watermark follows them)
            await _caught_up(settings, [running], timeout_s=900, stages=(RAW, NORMALIZED))
            await asyncio.sleep(settings.window_s + 5)
            stop.set()
            return sent, await collector

        sent, events = asyncio.run(go())
        rss = worker.peak_rss_mb() or float("nan")
    finally:
        if worker is not None:
            worker.stop()
        asyncio.run(delete_topics(settings.bootstrap, names))
    lat = sorted(burst_latencies(bursts, events, first_sent))
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
    return LatencyRun(rate_per_s, settings.window_s, sent, len(bursts), len(lat), p50, p99, rss)


def memory(
    base: Settings, regions_spec: str, lines: list[bytes], workdir: Path
) -> tuple[int, float]:
    """(regions, peak worker RSS in MiB) once one worker drained ``lines`` on a region set."""
    from streams.chain import load_regions

    settings = base.with_overrides(regions=regions_spec)
    with _drained(settings, lines, 1, workdir, REPLAY_BATCH) as run:
        return len(load_regions(settings)), run.workers[0].peak_rss_mb() or float("nan")


LATENCY_RATES = (1_000, 4_000)
LATENCY_S = 240.0

MEMORY_SPECS = (
    "hex:bbox:7,44,13,46.5:4",
    "hex:bbox:7,38,17,46.5:5",
    "hex:bbox:4,35,21,48:6",
)


def report(base: Settings, runs: int, messages: int = 300_000) -> str:
    """The broker section of BENCHMARKS.md: medians of ``runs`` runs per layout."""
    lines = firehose_lines(messages)
    out = [
        "## Through the real broker",
        "",
        f"Apache Kafka 4.1.1 single-node KRaft on 127.0.0.1 (deploy/kafka), 4 partitions per "
        f"topic, {messages:,} posts of the bundled scenario's texts as a backlog on "
        "`posts.raw`, sent by `groundswell replay` while the workers, started on the empty "
        "topics and settled into a stable group, are stopped (SIGSTOP; batches of "
        f"{REPLAY_BATCH} posts a message, its default at full speed, or one post a "
        "message as a collector sending each post alone would). The clock starts when they "
        "are resumed and stops at the first poll (every 0.1 s) finding the group has "
        "committed everything on `posts.raw`, `posts.normalized`, `posts.relevant` and "
        "`posts.global`: no start-up, rebalance or producer in the figures. Raw consume = "
        "one aiokafka "
        "consumer reading the same messages and splitting batches into posts; Faust alone = "
        "as many Faust workers as the pipeline's, configured as `groundswell worker`, whose "
        "one agent takes the same messages as the normalize agent does and only splits them "
        "(`python -m streams.bare_faust`: no decoding, nothing sent on), timed as the pipeline, "
        "on one-post messages only; all measured in the same run. Ratios: pipeline posts/s "
        "over raw consume posts/s, and over Faust alone. CPU busy: the workers' CPU time "
        "while the clock ran over their number times its seconds (100 % = every worker on "
        "a core all the time). Medians of "
        f"{runs} runs.",
        "",
        "| posts per raw message | workers | raw consume, msg/s | raw consume, posts/s "
        "| pipeline, posts/s | ratio to raw | Faust alone, posts/s | ratio to Faust alone "
        "| workers' CPU busy | peak RSS per worker, MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for batch in (REPLAY_BATCH, 1):
            for workers in (1, 2):
                got = [throughput(base, lines, workers, work, batch) for _ in range(runs)]
                raw = statistics.median(r.raw_consume_per_s for r in got)
                raw_posts = statistics.median(r.raw_posts_per_s for r in got)
                piped = statistics.median(r.pipeline_per_s for r in got)
                ratio = statistics.median(r.ratio for r in got)
                rss = statistics.median(r.peak_rss_mb for r in got)
                busy = statistics.median(r.busy for r in got)
                bare_rates = [r.bare_per_s for r in got if r.bare_per_s is not None]
                bare_ratios = [r.bare_ratio for r in got if r.bare_ratio is not None]
                bare = (
                    f"{statistics.median(bare_rates):,.0f} | {statistics.median(bare_ratios):.2f}"
                    if bare_rates
                    else "– | –"
                )
                out.append(
                    f"| {batch} | {workers} | {raw:,.0f} | {raw_posts:,.0f} | {piped:,.0f} "
                    f"| {ratio:.3f} | {bare} | {busy:.0%} | {rss:.0f} |"
                )
        lats = [latency(base, rate, LATENCY_S, work) for rate in LATENCY_RATES]
        window_s = lats[0].window_s
        out += [
            "",
            f"Event-to-alert latency and worker memory under a steady rate, one post a "
            f"message, for {LATENCY_S:.0f} s ({BACKGROUND_PER_S:g} posts a second are "
            f"ordinary complaints over all regions; window {window_s} s, lateness 0): after a "
            f"minute of warm-up, a burst of 40 complainers over 4 s every 13 s in another "
            f"region; latency = wall time the first alert event covering the burst's region "
            f"arrives on `alerts` minus the burst's first post (target: window + 2 s = "
            f"{window_s + 2} s).",
            "",
            "| posts/s | posts | bursts alerted | p50, s | p99, s | worker peak RSS, MiB |",
            "|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {r.rate_per_s:,} | {r.posts:,} | {r.alerted} of {r.bursts} | {r.p50_s:.1f} "
                f"| {r.p99_s:.1f} | {r.rss_mb:.0f} |"
                for r in lats
            ),
            "",
            f"Worker memory by region set: one worker drains a backlog of {messages // 4:,} "
            f"posts, {REPLAY_BATCH} a message; peak RSS, median of {runs} runs (and their range).",
            "",
            "| region set | regions | peak worker RSS, MiB | range, MiB |",
            "|---|---:|---:|---:|",
        ]
        sample = lines[: messages // 4]
        for spec in MEMORY_SPECS:
            drains = [memory(base, spec, sample, work) for _ in range(runs)]
            peaks = [rss for _, rss in drains]
            out.append(
                f"| `{spec}` | {drains[0][0]:,} | {statistics.median(peaks):.0f} "
                f"| {min(peaks):.0f}-{max(peaks):.0f} |"
            )
    out.append("")
    return "\n".join(out)


def main() -> None:
    print(report(Settings.from_env(), runs=1))


if __name__ == "__main__":
    main()
