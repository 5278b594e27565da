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
from streams.app import Context, Partitions, bytes_topic
from streams.chain import Origin, Stages, load_regions
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


def _context(app: faust.App, stages: Any, source: str) -> Context:
    """The agent's input is a real (never consumed) topic; its outputs are recorders."""
    topics: dict[str, Any] = {
        name: bytes_topic(app, name) if name == source else Recorder()
        for name in (RAW, NORMALIZED, RELEVANT, GLOBAL, DEADLETTER, ALERTS)
    }
    return Context(
        settings=None,  # type: ignore[arg-type]
        stages=stages,
        partitions=Partitions(raw=2, normalized=3, relevant=2),
        metrics=Metrics(CollectorRegistry()),
        topics=topics,
    )


def outputs(ctx: Context, topic: str) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = ctx.topics[topic].sent
    return recorded


def metric(ctx: Context, name: str, **labels: str) -> float | None:
    return ctx.metrics.registry.get_sample_value(name, labels)


async def test_normalize_agent_forwards_rejects_and_ticks(app: faust.App) -> None:
    stages = SimpleNamespace(origin=lambda: Origin(60_000, 300_000, b"key"))
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
    assert sent["key"] == b"p1" and Post.from_wire(loads(sent["value"])) == replace(
        good, author=pseudonym(b"key", "u1")
    )
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
    assert metric(ctx, "groundswell_stage_processing_seconds_count", stage="normalize") == 3


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
    first, unlocated, *ticks = outputs(ctx, RELEVANT)
    rp = RelevantPost.from_wire(loads(first["value"]))
    assert (rp.post_id, rp.locate_method) == ("c1", "place")
    assert first["key"] == rp.zone_id.encode() == stages.zone_of[rp.region_id].encode()
    assert unlocated["key"] == b"unlocated"
    assert sorted(t["key"].decode() for t in ticks) == sorted(stages.zones)
    assert {Watermark.from_wire(loads(t["value"])) for t in ticks} == {Watermark("2", T)}
    # the global detector gets every relevant post, unlocated too, and the ticks
    assert [s["value"] for s in outputs(ctx, GLOBAL)] == [
        first["value"],
        unlocated["value"],
        ticks[0]["value"],
    ]
    assert {s["partition"] for s in outputs(ctx, GLOBAL)} == {0}
    assert [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)] == [b"missing text"]
    assert metric(ctx, "groundswell_relevance_posts_total", category=rp.category, lang="en") == 2
    assert metric(ctx, "groundswell_geo_posts_total", method="place") == 1
    assert metric(ctx, "groundswell_geo_posts_total", method="unlocated") == 1


async def test_detect_agent_alerts_from_zone_state(app: faust.App, stages: Stages) -> None:
    ctx = _context(app, stages, RELEVANT)
    detect.register(app, ctx)
    zone, region = stages.zones[0], stages.regions.ids[0]
    for rid in stages.regions.ids:
        if stages.zone_of[rid] == zone:
            region = rid
            break

    def post(i: int, minute: int) -> bytes:
        rp = RelevantPost(
            f"p{i}", T + minute * 60_000, f"a{i}", zone, region, "voice", "en", 0.9, "coordinates"
        )
        return dumps(rp.to_wire())

    async def tick(a: Any, minute: int) -> None:
        for source in ("0", "1", "2"):  # every normalized partition reports
            mark = Watermark(source, T + minute * 60_000)
            await a.put(dumps(mark.to_wire()), key=zone.encode(), partition=0)

    async with app.agents["detect"].test_context() as a:
        await a.put(post(0, 0), key=zone.encode(), partition=0)
        await tick(a, 70)  # 14 quiet windows: past the warm-up
        for i in range(12):
            await a.put(post(100 + i, 71), key=zone.encode(), partition=0)
        await tick(a, 75)
        await a.put(b"{}", key=b"no-such-zone", partition=0)
    (sent,) = outputs(ctx, ALERTS)
    alert = Alert.from_wire(loads(sent["value"]))
    assert (alert.status, alert.region_ids, alert.observed) == ("opened", (region,), 12)
    assert sent["key"] == alert.alert_id.encode()
    assert [dict(d["headers"])["reason"] for d in outputs(ctx, DEADLETTER)] == [b"unknown zone"]
    opened = dict(status="opened", category="voice", severity=alert.severity, zone=zone)
    assert metric(ctx, "groundswell_alerts_events_total", **opened) == 1
    assert metric(ctx, "groundswell_detect_windows_closed_total", detector="detect") == 1
    assert metric(ctx, "groundswell_detect_event_lag_seconds_count", detector="detect") == 20


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
