"""Offline detection as the workers run it: zone detectors and the global detector."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from models.records import Alert, Post, RelevantPost, dumps
from streams.chain import (
    MAX_AHEAD_MS,
    Detection,
    Origin,
    Runner,
    Stages,
    ZoneDetectors,
    backtest,
    load_regions,
    relevant_stream,
    run_detector,
)
from streams.settings import Settings

T = 1_709_528_400_000  # 2024-03-04T05:00:00Z
W = 300_000
WINDOWS = 48
SURGE = range(36, 40)
SETTINGS = Settings(window_s=300, lateness_s=60, zone_size=5)  # the demo grid in six zones


@pytest.fixture(scope="module")
def stages() -> Stages:
    return Stages(SETTINGS, load_regions(SETTINGS))


def _lines(stages: Stages, extra: int, seed: int = 7) -> list[bytes]:
    """Complaints at their regions' centroids (about one per region every two windows)
    and a few unlocated ones; ``extra`` more in every region during ``SURGE``."""
    rng = np.random.default_rng(seed)
    posts: list[Post] = []
    for w in range(WINDOWS):
        start = T + w * W
        for r in stages.regions.ids:
            lon, lat = stages.regions.centroid(r)
            for k in range(int(rng.poisson(0.5)) + (extra if w in SURGE else 0)):
                pid = f"{w}-{r}-{k}"
                text = "no signal on my phone since this morning"
                posts.append(Post(pid, text, start + 1000 * k, lon=lon, lat=lat, author=pid))
        for k in range(int(rng.poisson(1.0))):
            pid = f"{w}-u{k}"
            posts.append(Post(pid, "no signal again", start + 2000 * k, author=pid))
    return [dumps(p.to_wire()) for p in posts]


def _global(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.region_ids == ("*",)]


def test_backtest_finds_a_nationwide_surge_the_zones_alone_miss(stages: Stages) -> None:
    lines = _lines(stages, extra=1)  # one more complainer in every region
    alerts = backtest(stages, lines).alerts
    nationwide = _global(alerts)
    assert nationwide and nationwide[0].status == "opened"
    assert T + SURGE[0] * W < nationwide[0].detected_at_ms <= T + (SURGE[-1] + 1) * W
    assert len({a.alert_id for a in nationwide}) == 1
    zones_only = run_detector(relevant_stream(stages, lines), ZoneDetectors(stages))
    assert _global(zones_only) == []
    assert [a for a in alerts if a.region_ids != ("*",)] == zones_only


def test_quiet_data_gives_no_global_alert(stages: Stages) -> None:
    assert _global(backtest(stages, _lines(stages, extra=0)).alerts) == []


def test_each_tick_gives_zone_alerts_then_global_ones(stages: Stages) -> None:
    detection = Detection(stages)
    ticks = []
    for item in relevant_stream(stages, _lines(stages, extra=3)):
        if isinstance(item, int):
            ticks.append([a.region_ids == ("*",) for a in detection.advance(item)])
        else:
            detection.observe(item)
    assert any(t and t[0] is False and t[-1] is True for t in ticks)  # both on one tick
    assert all(t == sorted(t) for t in ticks)


def test_unlocated_posts_count_nationally(stages: Stages) -> None:
    post = RelevantPost("u", T, "a", "unlocated", None, "voice", "en", 0.9, "none")
    assert ZoneDetectors(stages).observe(post) is False
    detection = Detection(stages)
    assert detection.observe(post) is True
    assert detection.nationwide.pending  # counted in its window


def test_the_global_runner_round_trips_through_its_saved_state(stages: Stages) -> None:
    a = Runner.restore_global(stages, 2, None)
    for item in relevant_stream(stages, _lines(stages, extra=0)[:200]):
        if not isinstance(item, int):
            a.detector.observe(item)
    a.on_watermark("0", T + 2 * W)
    b = Runner.restore_global(stages, 2, orjson.loads(orjson.dumps(a.to_state())))
    assert b.to_state() == a.to_state()
    assert b.on_watermark("1", T + 3 * W) == a.on_watermark("1", T + 3 * W)
    assert b.to_state() == a.to_state()


def test_history_warm_starts_fresh_zone_detectors(tmp_path) -> None:
    from geo.regions import RegionSet
    from models.scenario import build_demo

    sc = build_demo(seed=1)
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"\n".join(dumps(p.to_wire()) for p in sc.posts))
    regions = RegionSet.from_mapping(sc.regions)
    cold = Stages(Settings(), regions)
    warm = Stages(Settings(history=str(history)), regions)
    region = sc.truth.outages[0].region_ids[0]
    zone = warm.zone_of[region]
    assert cold.new_detector(zone).windows_closed == 0
    assert warm.new_detector(zone).windows_closed >= Settings().warmup_windows

    # a burst in the very first live window, a day after the history: only the detector
    # that learned from the history is past its warm-up and may alert
    window = warm.window_ms
    t0 = (sc.posts[-1].created_at_ms + 86_400_000) // window * window
    burst = [
        RelevantPost(
            f"b{i}", t0 + i * 1000, f"a{i}", zone, region, "mobile_data", "en", 0.9, "point"
        )
        for i in range(12)
    ]
    opened = {}
    for name, stages in (("cold", cold), ("warm", warm)):
        detector = stages.new_detector(zone)
        for post in burst:
            detector.observe(post)
        opened[name] = [a.status for a in detector.advance(t0 + window)]
    assert opened == {"cold": [], "warm": ["opened"]}


def test_a_missing_history_file_is_a_setting_error(tmp_path) -> None:
    from models.errors import ConfigError

    with pytest.raises(ConfigError, match="GROUNDSWELL_HISTORY"):
        Settings(history=str(tmp_path / "nope.jsonl"))


def _native(pid: str, at_ms: int) -> bytes:
    return dumps(Post(pid, "no signal", at_ms).to_wire())


def test_a_lone_post_far_ahead_is_refused_and_moves_nothing() -> None:
    origin = Origin(60_000, W)
    assert origin.process(_native("a", T)).posts
    future = origin.process(_native("b", 4_102_444_799_999))  # 2099-12-31, a valid time
    assert [r[0] for r in future.rejected] == ["too far ahead"]
    assert future.tick_ms is None and origin.clock.watermark_ms == T - 60_000
    assert origin.process(_native("c", T + 1_000)).posts  # the stream goes on, not late
    assert origin.clock.watermark_ms == T + 1_000 - 60_000


def test_a_jump_in_time_costs_its_first_post() -> None:
    origin = Origin(60_000, W)
    origin.process(_native("a", T))
    later = T + 2 * MAX_AHEAD_MS  # the feed is back two days later
    assert origin.process(_native("b", later)).rejected
    kept = origin.process(_native("c", later + 1_000))
    assert [p.id for p in kept.posts] == ["c"]
    assert kept.tick_ms == later - W  # the watermark follows: 59 s before ``later``, quantised


def test_a_bad_tweet_is_refused_alone_and_the_others_of_its_response_kept() -> None:
    tweets = [
        {"id": str(i), "text": "no signal", "created_at": T + i, "author_id": "a"}
        for i in (1, 2, 3)
    ]
    tweets[1]["created_at"] = "yesterday"
    response = {"data": tweets, "includes": {"users": [{"id": "a", "location": "Milano"}]}}
    out = Origin(60_000, W).process(dumps(response))
    assert [(p.id, p.place) for p in out.posts] == [("1", "Milano"), ("3", "Milano")]
    ((reason, detail, data),) = out.rejected  # the dead letter: that tweet's response alone
    assert reason == "invalid created_at" and detail.startswith("data[1]")
    assert orjson.loads(data) == {**response, "data": [tweets[1]]}


def test_authors_and_contact_details_are_masked_at_normalization() -> None:
    settings = Settings(author_key="k1")
    stages = Stages(settings, load_regions(settings))
    origin = stages.origin()
    text = "no signal, call +39 347 123 4567 or alice@example.com"
    raw = dumps(Post("p1", text, T, author="@alice").to_wire())
    (kept,) = origin.process(raw).posts
    assert kept.author is not None and "alice" not in kept.author and len(kept.author) == 16
    assert kept.text == "no signal, call [phone] or [email]"
    late = origin.process(dumps(Post("p0", "no signal", T - W, author="@bob").to_wire()))
    (reason, _detail, data) = late.rejected[0]
    assert reason == "late" and b"bob" not in data
    other = Stages(Settings(author_key="k2"), stages.regions).origin()
    assert other.process(raw).posts[0].author != kept.author  # the key matters


def test_zone_detectors_link_regions_by_the_configured_neighbours(stages: Stages) -> None:
    settings = Settings(window_s=300, lateness_s=60, zone_size=5, neighbours="knn:1")
    knn = Stages(settings, stages.regions)
    ids = stages.regions.ids
    differ = 0
    for zone in knn.zones[:-1]:
        given = knn._layout(zone)["neighbours"]
        for r, others in given.items():
            row = knn.topology.neighbours[ids.index(r)]
            assert others == tuple(ids[j] for j in row)
            differ += set(others) != set(stages.regions.neighbours(r))
    assert differ  # k nearest is not touching: the setting reaches the detectors
