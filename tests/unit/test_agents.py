"""The Faust agents through ``agent.test_context()``: no broker, outputs recorded."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import faust
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from models.privacy import pseudonym
from models.records import Alert, Post, RelevantPost, Watermark, dumps, loads
from streams.agents import classify, detect, global_, normalize
from streams.app import (
    FETCH_MAX_WAIT_MS,
    Context,
    Partitions,
    bytes_topic,
    faust_app,
    hand_back_large_allocations,
)
from streams.chain import Origin, Stages, load_regions
from streams.files import batch_message, is_batch, message_records
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import ALERTS, DEADLETTER, GLOBAL, NORMALIZED, RAW, RELEVANT

T = 1_709_528_400_000  # 2024-03-04T05:00:00Z


class Recorder:
    """Stands in for an output topic: records what the agent sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kw: Any) -> None:
        self.sent.append(kw)


@pytest.fixture
async def app() -> faust.App:
    app = faust.App("test-agents", store="memory://", web_enabled=False)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.flow_control.resume()
    return app


def _context(app: faust.App, stages: Any, source: str, relevant: int = 2) -> Context:
    """The agent's input is a real (never consumed) topic; its outputs are recorders."""
    topics: dict[str, Any] = {
        name: bytes_topic(app, name) if name == source else Recorder()
        for name in (RAW, NORMALIZED, RELEVANT, GLOBAL, DEADLETTER, ALERTS)
    }
    return Context(
        settings=None,  # type: ignore[arg-type]
        stages=stages,
        partitions=Partitions(raw=2, normalized=3, relevant=relevant),
        metrics=Metrics(CollectorRegistry()),
        topics=topics,
    )


def outputs(ctx: Context, topic: str) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = ctx.topics[topic].sent
    return recorded


def records_of(ctx: Context, topic: str) -> list[tuple[int, Any]]:
    """(partition, decoded record) of every record sent on ``topic``, batches opened."""
    return [
        (sent["partition"], loads(record))
        for sent in outputs(ctx, topic)
        for record in message_records(sent["value"], sent["headers"])
    ]


def metric(ctx: Context, name: str, **labels: str) -> float | None:
    return ctx.metrics.registry.get_sample_value(name, labels)


async def test_normalize_agent_forwards_rejects_and_ticks(app: faust.App) -> None:
    stages = SimpleNamespace(origin=lambda: Origin(60_000, 300_000, b"key"), zones=())
    ctx = _context(app, stages, RAW)
    normalize.register(app, ctx)
    agent = app.agents["normalize"]
    good = Post("p1", "no signal", T + 400_000, author="u1")
    async with agent.test_context() as a:
        await a.put(dumps(good.to_wire()), partition=1)
        await a.put(b"{broken", partition=1)
        old = Post("p0", "no signal", T, author="u2")  # far behind the watermark: late
        await a.put(dumps(old.to_wire()), partition=1)
    (sent,) = outputs(ctx, NORMALIZED)[:1]
    assert Post.from_wire(loads(sent["value"])) == replace(good, author=pseudonym(b"key", "u1"))
    assert not is_batch(sent["headers"])
    ticks = [loads(s["value"]) for s in outputs(ctx, NORMALIZED)[1:]]
    assert [s["partition"] for s in outputs(ctx, NORMALIZED)[1:]] == [0, 1, 2]
    assert all(Watermark.from_wire(t) == Watermark("1", T + 300_000) for t in ticks)
    reasons = [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)]
    assert reasons == [b"invalid json", b"late"]
    assert outputs(ctx, DEADLETTER)[0]["value"] == b"{broken"
    assert metric(ctx, "groundswell_stage_messages_consumed_total", stage="normalize") == 3
    produced = metric(
        ctx, "groundswell_stage_messages_produced_total", stage="normalize", topic=NORMALIZED
    )
    assert produced == 4  # the post and a tick to each of 3 partitions
    dead = "groundswell_stage_dead_letters_total"
    assert metric(ctx, dead, stage="normalize", reason="late") == 1
    assert metric(ctx, dead, stage="normalize", reason="invalid json") == 1
    assert metric(ctx, "groundswell_stage_processing_seconds_count", stage="normalize") >= 1


async def test_normalize_agent_takes_a_batch_record_by_record(app: faust.App) -> None:
    stages = SimpleNamespace(origin=lambda: Origin(60_000, 300_000, b"key"), zones=())
    ctx = _context(app, stages, RAW)
    normalize.register(app, ctx)
    posts = [Post(f"p{i}", "no signal", T + i * 1000, author=f"u{i}") for i in range(3)]
    late = Post("p9", "no signal", T - 3_600_000)
    records = [dumps(posts[0].to_wire()), b"{broken", dumps(posts[1].to_wire())]
    records += [dumps(late.to_wire()), dumps(posts[2].to_wire())]
    value, headers = batch_message(records)
    async with app.agents["normalize"].test_context() as a:
        await a.put(value, headers=headers, partition=0)
        await a.put(dumps(posts[0].to_wire()), partition=0)  # one record, no header
    flat = records_of(ctx, NORMALIZED)
    ids = [r.get("id") or r["source"] for _, r in flat]
    # the first post opens time: it goes out before the tick that follows it, to every
    # partition; the other posts (both messages) travel on together
    assert ids == ["p0", "0", "0", "0", "p1", "p2", "p0"]
    assert [p for p, _ in flat][1:4] == [0, 1, 2]
    first, *_, together = [m for m in outputs(ctx, NORMALIZED) if b'"text"' in m["value"]]
    assert not is_batch(first["headers"]) and is_batch(together["headers"])
    assert together["timestamp"] == (T + 2000) / 1000  # the latest post it carries
    assert [first["partition"], together["partition"]] == [0, 1]  # partitions in turn
    dead = outputs(ctx, DEADLETTER)
    assert [(dict(d["headers"])["reason"], d["value"][:7]) for d in dead] == [
        (b"invalid json", b"{broken"),
        (b"late", b'{"autho'),
    ]
    assert metric(ctx, "groundswell_stage_messages_consumed_total", stage="normalize") == 6
    produced = metric(
        ctx, "groundswell_stage_messages_produced_total", stage="normalize", topic=NORMALIZED
    )
    assert produced == 7  # 4 posts, 3 ticks
    assert metric(ctx, "groundswell_stage_processing_seconds_count", stage="normalize") >= 1


@pytest.fixture(scope="module")
def stages() -> Stages:
    return Stages(Settings(window_s=300, lateness_s=60), load_regions(Settings()))


async def test_classify_agent_keys_complaints_by_zone_and_passes_watermarks(
    app: faust.App, stages: Stages
) -> None:
    ctx = _context(app, stages, NORMALIZED)
    classify.register(app, ctx)
    complaint = Post(
        "c1", "no signal in Bergamo since this morning", T, place="Bergamo", author="u1"
    )
    chatter = Post("c2", "lovely pizza in Bergamo", T, place="Bergamo", author="u2")
    nowhere = Post("c3", "no signal again", T, author="u3")
    async with app.agents["classify"].test_context() as a:
        await a.put(dumps(complaint.to_wire()), partition=0)
        await a.put(dumps(chatter.to_wire()), partition=0)
        await a.put(dumps(nowhere.to_wire()), partition=1)
        await a.put(b'{"id": "x"}', partition=0)
        await a.put(dumps(Watermark("0", T).to_wire()), partition=2)  # one of 2 raw sources
        await a.put(dumps(Watermark("1", T + 600_000).to_wire()), partition=2)
    (first_at, first), (unlocated_at, unlocated), *ticks = records_of(ctx, RELEVANT)
    rp = RelevantPost.from_wire(first)
    assert (rp.post_id, rp.locate_method) == ("c1", "place")
    assert rp.zone_id == stages.zone_of[rp.region_id]
    assert first_at == ctx.zone_partition[rp.zone_id]
    assert RelevantPost.from_wire(unlocated).zone_id == "unlocated"
    assert unlocated_at == ctx.zone_partition["unlocated"]
    assert [p for p, _ in ticks] == [0, 1]  # one tick to every zone partition
    assert {Watermark.from_wire(t) for _, t in ticks} == {Watermark("2", T)}
    # the global detector gets every relevant post, unlocated too, and the ticks
    assert records_of(ctx, GLOBAL) == [(0, first), (0, unlocated), (0, ticks[0][1])]
    assert [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)] == [b"missing text"]
    assert metric(ctx, "groundswell_relevance_posts_total", category=rp.category, lang="en") == 2
    assert metric(ctx, "groundswell_geo_posts_total", method="place") == 1
    assert metric(ctx, "groundswell_geo_posts_total", method="unlocated") == 1


async def test_classify_agent_sends_a_batch_on_as_one_message_per_zone_partition(
    app: faust.App, stages: Stages
) -> None:
    ctx = _context(app, stages, NORMALIZED)
    classify.register(app, ctx)
    places = ["Bergamo", "Milano", "Torino", "Bologna", "Napoli", "Palermo", None]
    posts = [
        Post(f"c{i}", "no signal since this morning", T + i, place=place, author=f"u{i}")
        for i, place in enumerate(places)
    ]
    records = [dumps(p.to_wire()) for p in posts]
    records.insert(2, b'{"id": "x"}')
    records.insert(4, dumps(Post("chat", "lovely pizza", T, place="Bergamo").to_wire()))
    value, headers = batch_message(records)
    async with app.agents["classify"].test_context() as a:
        await a.put(value, headers=headers, partition=0)
    sent = outputs(ctx, RELEVANT)
    assert [s["partition"] for s in sent] == sorted({s["partition"] for s in sent})
    seen = []
    for s in sent:
        for record in message_records(s["value"], s["headers"]):
            rp = RelevantPost.from_wire(loads(record))
            assert ctx.zone_partition[rp.zone_id] == s["partition"]
            seen.append(rp.post_id)
    assert sorted(seen) == sorted(p.id for p in posts)
    (to_global,) = outputs(ctx, GLOBAL)
    in_order = [loads(r)["post_id"] for r in message_records(to_global["value"], headers)]
    assert in_order == [p.id for p in posts]
    assert [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)] == [b"missing text"]
    assert metric(ctx, "groundswell_stage_messages_consumed_total", stage="classify") == 9


async def test_detect_agent_alerts_from_zone_state(app: faust.App, stages: Stages) -> None:
    ctx = _context(app, stages, RELEVANT, relevant=5)  # the two zones on two partitions
    detect.register(app, ctx)
    region = stages.regions.ids[0]
    zone = stages.zone_of[region]
    part = ctx.zone_partition[zone]
    elsewhere = next(z for z in stages.zones if ctx.zone_partition[z] != part)

    def post(i: int, minute: int, in_zone: str = zone) -> bytes:
        rp = RelevantPost(
            f"p{i}",
            T + minute * 60_000,
            f"a{i}",
            in_zone,
            region,
            "voice",
            "en",
            0.9,
            "coordinates",
        )
        return dumps(rp.to_wire())

    async def tick(a: Any, minute: int) -> None:
        for source in ("0", "1", "2"):  # every normalized partition reports
            mark = Watermark(source, T + minute * 60_000)
            await a.put(dumps(mark.to_wire()), key=zone.encode(), partition=part)

    async with app.agents["detect"].test_context() as a:
        await a.put(post(0, 0), key=zone.encode(), partition=part)
        await tick(a, 70)  # 14 quiet windows: past the warm-up
        value, headers = batch_message([post(100 + i, 71) for i in range(12)])
        await a.put(value, headers=headers, partition=part)
        await tick(a, 75)
        await a.put(post(200, 76, "no-such-zone"), partition=part)
        await a.put(post(201, 76, elsewhere), partition=part)
    (sent,) = outputs(ctx, ALERTS)
    alert = Alert.from_wire(loads(sent["value"]))
    assert (alert.status, alert.region_ids, alert.observed) == ("opened", (region,), 12)
    assert sent["key"] == alert.alert_id.encode()
    reasons = [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)]
    assert reasons == [b"unknown zone", b"wrong partition"]
    opened = dict(status="opened", category="voice", severity=alert.severity, zone=zone)
    assert metric(ctx, "groundswell_alerts_events_total", **opened) == 1
    assert metric(ctx, "groundswell_detect_windows_closed_total", detector="detect") == 1
    assert metric(ctx, "groundswell_detect_event_lag_seconds_count", detector="detect") == 10


async def test_global_agent_alerts_as_the_global_detector_does_offline(app: faust.App) -> None:
    settings = Settings(window_s=300, lateness_s=60, zone_size=5)  # six zones
    stages = Stages(settings, load_regions(settings))
    ctx = _context(app, stages, GLOBAL)
    global_.register(app, ctx)
    offline = stages.new_global_detector()
    rng = np.random.default_rng(5)
    expected: list[Alert] = []
    async with app.agents["global"].test_context() as a:
        for w in range(40):
            for i, region in enumerate(stages.regions.ids):
                for k in range(int(rng.poisson(0.5)) + (2 if w in (30, 31) else 0)):
                    rp = RelevantPost(
                        f"{w}-{i}-{k}",
                        T + w * 300_000 + k,
                        f"{w}-{i}-{k}",
                        stages.zone_of[region],
                        region,
                        "voice",
                        "en",
                        0.9,
                        "coordinates",
                    )
                    offline.observe(rp)
                    await a.put(dumps(rp.to_wire()), partition=0)
            tick = T + (w + 1) * 300_000
            expected += offline.advance(tick)
            for source in ("0", "1", "2"):  # every normalized partition reports
                await a.put(dumps(Watermark(source, tick).to_wire()), partition=0)
        await a.put(dumps(Watermark("7", T).to_wire()), partition=0)
    got = [Alert.from_wire(loads(s["value"])) for s in outputs(ctx, ALERTS)]
    assert got == expected
    assert got[0].status == "opened" and got[0].region_ids == ("*",)
    reasons = [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)]
    assert reasons == [b"unknown watermark source"]


class Acked:
    """A taken event that counts its acknowledgements."""

    def __init__(self) -> None:
        self.acks = 0

    def ack(self) -> None:
        self.acks += 1


def _runner_table(batch: int = 3) -> tuple[detect.RunnerTable, dict[str, Any]]:
    table: dict[str, Any] = {}
    restored: list[Any] = []

    def restore(key: str, state: Any) -> Any:
        runner = SimpleNamespace(key=key, seen=list(state or ()))
        runner.to_state = lambda: list(runner.seen)
        restored.append(runner)
        return runner

    return detect.RunnerTable(table, restore, batch=batch), table


def _take(runners: detect.RunnerTable, key: str, item: int, *, save_now: bool = False) -> Acked:
    event = Acked()
    message = runners.message(event)
    runners.get(key).seen.append(item)
    runners.hold(key, message, save_now=save_now)
    message.release()
    return event


def test_runner_table_acknowledges_a_message_once_its_change_is_saved() -> None:
    runners, table = _runner_table(batch=2)
    first = _take(runners, "z", 1)
    assert first.acks == 0 and "z" not in table
    second = _take(runners, "z", 2)
    assert (first.acks, second.acks) == (1, 1)
    assert table["z"] == {"seq": 1, "runner": [1, 2]}


def test_forget_drops_unsaved_changes_and_never_acknowledges_their_messages() -> None:
    runners, table = _runner_table(batch=10)
    saved = _take(runners, "z", 1, save_now=True)
    unsaved = _take(runners, "z", 2)
    runners.forget()  # the group rebalances
    assert runners.get("z").seen == [1]  # rebuilt from the saved state
    again = _take(runners, "z", 2, save_now=True)  # read again by the next owner
    assert (saved.acks, unsaved.acks, again.acks) == (1, 0, 1)
    assert table["z"]["runner"] == [1, 2]


def test_a_message_taken_before_forget_drops_the_runner_it_changes_after_it() -> None:
    runners, table = _runner_table(batch=10)
    _take(runners, "a", 1, save_now=True)
    event = Acked()
    message = runners.message(event)  # in the agent's hands when the rebalance starts
    runners.forget()
    runners.get("a").seen.append(2)
    runners.hold("a", message, save_now=True)
    message.release()
    assert event.acks == 0 and table["a"]["runner"] == [1]
    assert runners.get("a").seen == [1]  # the change went with the runner


async def test_a_worker_consumer_has_the_broker_hold_an_empty_fetch_briefly(tmp_path: Any) -> None:
    # one fetch per broker is in flight, without the partitions still being processed: held
    # Faust's fixed 1.5 s, it left a worker with a backlog idle until it timed out
    worker_app = faust_app(Settings(), tmp_path)
    consumer = worker_app.consumer._thread._create_worker_consumer(worker_app.consumer.transport)
    try:
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS
    finally:
        await consumer.stop()


def test_a_worker_hands_large_allocations_back_to_the_system() -> None:
    # glibc (this project's Linux workers) accepts the fixed threshold
    assert hand_back_large_allocations()
