from __future__ import annotations

import random

import orjson
import pytest

from models.detect import DetectorConfig, ZoneDetector
from models.errors import ConfigError
from models.records import Alert, RelevantPost

W = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % W
REGIONS = [(f"r{i}", f"Region {i}") for i in range(6)]


def _config(**kw: object) -> DetectorConfig:
    base: dict[str, object] = dict(window_ms=W, warmup_windows=30, n_regions_tested=6)
    base.update(kw)
    return DetectorConfig(**base)  # type: ignore[arg-type]


def _stream(seed: int, minutes: int = 180, burst_at: int | None = 120) -> list[RelevantPost]:
    """Background of ~0.3 authors/min/region plus a burst of 15 authors/min in r2."""
    rng = random.Random(seed)
    posts = []
    for m in range(minutes):
        for rid, _ in REGIONS:
            for _ in range(rng.choices((0, 1, 2), (0.75, 0.2, 0.05))[0]):
                posts.append((m, rid, f"u{rng.randrange(400)}"))
        if burst_at is not None and burst_at <= m < burst_at + 10:
            posts += [(m, "r2", f"burst{m}-{k}") for k in range(15)]
    return [
        RelevantPost(
            f"p{i}", T0 + m * W + rng.randrange(W), a, "z", r, "voice", "en", 0.9, "coordinates"
        )
        for i, (m, r, a) in enumerate(posts)
    ]


def _run(detector: ZoneDetector, posts: list[RelevantPost], end_minute: int) -> list[Alert]:
    alerts: list[Alert] = []
    for p in sorted(posts, key=lambda p: p.created_at_ms):
        detector.observe(p)
        alerts += detector.advance(p.created_at_ms - 5_000)
    return alerts + detector.advance(T0 + end_minute * W)


def test_planted_burst_is_one_alert_opened_then_resolved() -> None:
    alerts = _run(ZoneDetector(_config(), "z", REGIONS), _stream(1), 180)
    ids = {a.alert_id for a in alerts}
    assert len(ids) == 1
    assert alerts[0].status == "opened"
    assert alerts[-1].status == "resolved"
    assert all(a.region_ids == ("r2",) for a in alerts)
    opened = alerts[0]
    assert opened.window_start_ms == T0 + 120 * W
    assert opened.observed >= 15 and opened.p_value < 0.01 / 6
    assert 0 < opened.score <= 1 and opened.sample_post_ids


def test_no_alert_without_burst_and_none_in_warmup() -> None:
    assert _run(ZoneDetector(_config(), "z", REGIONS), _stream(2, burst_at=None), 180) == []
    early = _run(ZoneDetector(_config(), "z", REGIONS), _stream(3, burst_at=5), 60)
    assert early == []


@pytest.mark.parametrize("cut", [50, 121, 125, 140])
def test_state_round_trip_mid_stream_changes_nothing(cut: int) -> None:
    posts = sorted(_stream(4), key=lambda p: p.created_at_ms)
    whole = _run(ZoneDetector(_config(), "z", REGIONS), posts, 180)
    first = ZoneDetector(_config(), "z", REGIONS)
    head = [p for p in posts if p.created_at_ms < T0 + cut * W]
    alerts = _run(first, head, cut)
    state = orjson.loads(orjson.dumps(first.to_state()))
    second = ZoneDetector.from_state(_config(), REGIONS, state)
    assert second.to_state() == first.to_state()
    alerts += _run(second, [p for p in posts if p.created_at_ms >= T0 + cut * W], 180)
    assert alerts == whole


def test_order_within_open_windows_does_not_matter() -> None:
    posts = _stream(5)
    a = ZoneDetector(_config(), "z", REGIONS)
    b = ZoneDetector(_config(), "z", REGIONS)
    for p in posts:
        a.observe(p)
    for p in random.Random(9).sample(posts, len(posts)):
        b.observe(p)
    assert a.advance(T0 + 180 * W) == b.advance(T0 + 180 * W)


def test_one_author_counts_once_per_window() -> None:
    d = ZoneDetector(_config(warmup_windows=0, min_authors=1), "z", REGIONS)
    rant = [
        RelevantPost(f"x{i}", T0 + i, "same", "z", "r0", "voice", "en", 0.9, "place")
        for i in range(50)
    ]
    for p in rant:
        d.observe(p)
    assert d.advance(T0 + W) == []


def test_late_posts_are_refused_and_memory_is_bounded() -> None:
    d = ZoneDetector(_config(), "z", REGIONS)
    _run(d, _stream(6, burst_at=None), 180)
    assert d.pending == {}
    late = RelevantPost("old", T0, "u", "z", "r0", "voice", "en", 0.9, "place")
    assert d.observe(late) is False and d.late_posts == 1
    foreign = RelevantPost("f", T0 + 200 * W, "u", "z", "elsewhere", "voice", "en", 0.9, "place")
    assert d.observe(foreign) is False


def test_bad_hyper_parameters_are_named() -> None:
    with pytest.raises(ConfigError, match="min_authors"):
        DetectorConfig(min_authors=0)
    with pytest.raises(ConfigError, match="critical_excess"):
        DetectorConfig(major_excess=10, critical_excess=5)


def test_no_samples_kept_when_max_samples_is_zero() -> None:
    d = ZoneDetector(_config(max_samples=0), "z", REGIONS)
    alerts = _run(d, _stream(7), 180)
    assert alerts and all(a.sample_post_ids == () for a in alerts)
    assert alerts[0].first_post_at_ms >= alerts[0].window_start_ms
