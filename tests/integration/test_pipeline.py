"""The whole pipeline on the real broker: replay -> worker -> alerts, and file round trips."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from models.records import Alert, Post, dumps, loads
from models.scenario import build_demo
from streams.chain import Stages, backtest, load_regions
from streams.files import DumpRecord
from streams.kafka_admin import ensure_topics
from streams.kafka_io import dump, replay
from streams.topics import ALERTS, DEADLETTER, RAW, topic_specs

pytestmark = pytest.mark.integration

MALFORMED = [
    (b"{not json", "invalid json"),
    (b'{"id": "x1", "created_at": "2024-03-04T05:00:00Z"}', "missing text"),
    (
        b'{"id": "x2", "text": "no signal", "created_at": "1970-01-01T00:00:00Z"}',
        "created_at out of range",
    ),
    (b"\xff\xfe\x00garbage", "invalid utf-8"),
]


def _read(bootstrap: str, topic: str) -> list[DumpRecord]:
    buf = io.BytesIO()
    asyncio.run(dump(bootstrap, topic, buf))
    return [r for r in map(DumpRecord.from_line, buf.getvalue().splitlines()) if r is not None]


def _alert_key(a: dict[str, object]) -> tuple[str, str, str]:
    return (str(a["detected_at"]), str(a["alert_id"]), str(a["status"]))


def _nationwide(posts: list[Post], stages: Stages) -> list[Post]:
    """The posts with one more complainer in every region for four windows, five hours in."""
    start = min(p.created_at_ms for p in posts) + 5 * 3_600_000
    start -= start % stages.window_ms
    extra = []
    for w in range(4):
        for r in stages.regions.ids:
            lon, lat = stages.regions.centroid(r)
            pid = f"nationwide-{w}-{r}"
            at = start + w * stages.window_ms + 60_000
            text = "no signal on my phone since this morning"
            extra.append(Post(pid, text, at, lon=lon, lat=lat, author=pid))
    return sorted([*posts, *extra], key=lambda p: p.created_at_ms)


@pytest.mark.parametrize("nationwide", [False, True], ids=["demo", "demo+nationwide"])
def test_replay_gives_the_backtest_alerts_and_dead_letters_bad_lines(
    settings_factory, start_worker, wait_for, tmp_path: Path, nationwide: bool
) -> None:
    settings = settings_factory(partitions=3, zone_size=5 if nationwide else 32)
    scenario = build_demo(seed=3)
    regions_file = tmp_path / "regions.geojson"
    regions_file.write_bytes(dumps(scenario.regions))
    stages = Stages(settings, load_regions(settings.with_overrides(regions=str(regions_file))))
    posts = _nationwide(list(scenario.posts), stages) if nationwide else list(scenario.posts)
    lines = [dumps(p.to_wire()) for p in posts]
    for i, (bad, _reason) in enumerate(MALFORMED):
        lines.insert(100 + 500 * i, bad)

    expected = sorted((a.to_wire() for a in backtest(stages, lines).alerts), key=_alert_key)
    assert any(
        a["status"] == "opened" and a["region_ids"] == [*scenario.truth.outages[0].region_ids]
        for a in expected
    ), "the planted outage must alert offline"
    assert any(a["region_ids"] == ["*"] for a in expected) == nationwide

    worker = start_worker(settings, regions_file)
    asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings)))
    asyncio.run(replay(settings.bootstrap, settings.topic(RAW), lines, flush=True, batch=100))

    got: list[dict[str, object]] = []

    def all_alerts_in() -> bool:
        got[:] = [loads(r.value or b"") for r in _read(settings.bootstrap, settings.topic(ALERTS))]
        return len(got) >= len(expected)

    wait_for(all_alerts_in, 150, f"{len(expected)} alerts", worker)
    assert sorted(got, key=_alert_key) == expected
    assert all(Alert.from_wire(a) for a in got)

    dead = _read(settings.bootstrap, settings.topic(DEADLETTER))
    reasons = sorted(dict(r.headers)[b"reason"].decode() for r in dead)
    assert reasons == sorted(reason for _, reason in MALFORMED)
    assert {r.value for r in dead} == {bad for bad, _ in MALFORMED}
    assert worker.alive()


def test_dump_replay_dump_round_trips_keys_values_and_headers(settings_factory) -> None:
    first, second = settings_factory(partitions=2), settings_factory(partitions=2)
    for s in (first, second):
        asyncio.run(ensure_topics(s.bootstrap, topic_specs(s)))
    lines = [dumps(p.to_wire()) for p in build_demo(seed=5).posts[:300]]
    keyed = DumpRecord(
        "x", 0, 0, 1_709_528_400_000, b"zone-1", b"\x00\xffbinary", ((b"reason", b"late"),)
    ).to_line()
    asyncio.run(replay(first.bootstrap, first.topic(RAW), [*lines, keyed], flush=False))
    a = _read(first.bootstrap, first.topic(RAW))
    asyncio.run(replay(second.bootstrap, second.topic(RAW), [r.to_line() for r in a], flush=False))
    b = _read(second.bootstrap, second.topic(RAW))

    def essence(recs: list[DumpRecord]) -> list[tuple[object, ...]]:
        return sorted(
            (r.partition, r.offset, r.key, r.value, r.timestamp_ms, r.headers) for r in recs
        )

    assert len(a) == 301
    assert essence(a) == essence(b)
    assert any(r.key == b"zone-1" and r.headers == ((b"reason", b"late"),) for r in b)
