"""The baseline detectors: each one's rule, the shared contract and state."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest

from models.baselines import (
    PoissonConfig,
    PoissonDetector,
    ThresholdConfig,
    ThresholdDetector,
    TimeOfDayConfig,
    TimeOfDayDetector,
    WindowDetector,
)
from models.errors import ConfigError
from models.records import Alert, RelevantPost

W = 300_000
T0 = 1_709_510_400_000  # 2024-03-04T00:00:00Z, a window boundary
REGIONS = [(f"r{i}", f"Region {i}") for i in range(5)]


def _post(i: int, ts: int, author: str, region: str = "r1", repost: bool = False) -> RelevantPost:
    return RelevantPost(
        f"p{i}", ts, author, "z", region, "voice", "en", 0.9, "coordinates", is_repost=repost
    )


def _background(seed: int, windows: int) -> list[RelevantPost]:
    """About 0.4 authors per window and region, from a pool of 300 accounts."""
    rng = random.Random(seed)
    posts: list[RelevantPost] = []
    for w in range(windows):
        for region, _ in REGIONS:
            for _ in range(rng.choices((0, 1, 2), (0.68, 0.25, 0.07))[0]):
                ts = T0 + w * W + rng.randrange(W)
                posts.append(_post(len(posts), ts, f"u{rng.randrange(300)}", region))
    return sorted(posts, key=lambda p: p.created_at_ms)


def _burst(
    start_window: int, windows: int, per_window: int, region: str = "r2"
) -> list[RelevantPost]:
    return [
        _post(10**6 + w * 1000 + k, T0 + (start_window + w) * W + k * 1000, f"b{w}-{k}", region)
        for w in range(windows)
        for k in range(per_window)
    ]


def _run(detector: WindowDetector, posts: list[RelevantPost], end_window: int) -> list[Alert]:
    """Observe in time order, advancing at every window boundary."""
    alerts: list[Alert] = []
    posts = sorted(posts, key=lambda p: p.created_at_ms)
    i = 0
    for w in range(1, end_window + 1):
        while i < len(posts) and posts[i].created_at_ms < T0 + w * W:
            detector.observe(posts[i])
            i += 1
        alerts += detector.advance(T0 + w * W)
    return alerts


FACTORIES: dict[str, Callable[[], WindowDetector]] = {
    "threshold": lambda: ThresholdDetector(ThresholdConfig(window_ms=W), REGIONS),
    "time_of_day": lambda: TimeOfDayDetector(
        TimeOfDayConfig(window_ms=W, warmup_windows=288, floor=5), REGIONS
    ),
    "poisson": lambda: PoissonDetector(
        PoissonConfig(window_ms=W, warmup_windows=48, n_regions_tested=len(REGIONS)), REGIONS
    ),
}


# --- each baseline's rule -------------------------------------------------------------------


def test_threshold_needs_more_than_ten_distinct_authors_in_twenty_minutes() -> None:
    d = ThresholdDetector(ThresholdConfig(window_ms=W), REGIONS)
    ten = [_post(i, T0 + i * 100_000, f"a{i}") for i in range(10)]  # 10 authors in 16.7 min
    repeats = [_post(100 + i, T0 + 60_000 + i, "a0") for i in range(20)]  # one author, again
    assert _run(d, ten + repeats, 8) == []
    d = ThresholdDetector(ThresholdConfig(window_ms=W), REGIONS)
    eleven = [*ten, _post(10, T0 + 1_150_000, "a10")]
    alerts = _run(d, eleven, 8)
    assert [(a.status, a.region_ids, a.observed) for a in alerts[:1]] == [("opened", ("r1",), 11)]
    assert alerts[0].detected_at_ms == T0 + 4 * W and alerts[-1].status == "resolved"


def test_threshold_window_slides_past_old_authors() -> None:
    d = ThresholdDetector(ThresholdConfig(window_ms=W), REGIONS)
    early = [_post(i, T0 + 1000 * i, f"a{i}") for i in range(6)]
    late = [_post(10 + i, T0 + 4 * W + 1000 * i, f"b{i}") for i in range(6)]  # 20 min later
    assert _run(d, early + late, 8) == []


def test_repost_wave_counts_once() -> None:
    d = ThresholdDetector(ThresholdConfig(window_ms=W), REGIONS)
    wave = [_post(i, T0 + i, f"a{i}", repost=True) for i in range(50)]
    assert all(d.observe(p) for p in wave)
    assert d.advance(T0 + W) == []


def test_time_of_day_compares_with_the_hour_it_learned() -> None:
    cfg = TimeOfDayConfig(window_ms=W, warmup_windows=288, k=3.0, floor=5)
    d = TimeOfDayDetector(cfg, REGIONS)
    # a busy hour every day: 09:00-10:00 has 4 authors a window in r1, other hours 0
    day1 = [
        _post(w * 10 + k, T0 + w * W + k, f"d1-{w}-{k}") for w in range(108, 120) for k in range(4)
    ]
    day1.append(_post(0, T0, "early", region="r0"))  # the detector starts at T0
    assert _run(d, day1, 288) == []
    hour = (T0 + 108 * W) // 3_600_000 % 24
    assert d.typical(hour)[1] == pytest.approx(4.0)
    # next day: 10 authors at 09:00 is not 3 x 4; 6 at 03:00 is above floor and 3 x 0
    day2 = [_post(5000 + k, T0 + (288 + 108) * W + k, f"x{k}") for k in range(10)]
    day2 += [_post(6000 + k, T0 + (288 + 36) * W + k, f"y{k}") for k in range(6)]
    restored = TimeOfDayDetector.from_state(cfg, REGIONS, d.to_state())
    out = _run(restored, day1 + day2, 288 * 2)
    opened = [a for a in out if a.status == "opened"]
    assert [(a.window_start_ms, a.observed, a.expected) for a in opened] == [(T0 + 324 * W, 6, 0.0)]


def test_time_of_day_floor_holds_back_small_counts() -> None:
    d = TimeOfDayDetector(TimeOfDayConfig(window_ms=W, warmup_windows=0, floor=5), REGIONS)
    assert _run(d, [_post(k, T0 + k, f"a{k}") for k in range(4)], 2) == []


def test_poisson_flags_a_burst_and_does_not_learn_from_it() -> None:
    d = FACTORIES["poisson"]()
    assert isinstance(d, PoissonDetector)
    alerts = _run(d, _background(1, 200) + _burst(150, 3, 40), 200)
    opened = [a for a in alerts if a.status == "opened"]
    assert [a.region_ids for a in opened] == [("r2",)]
    assert opened[0].window_start_ms == T0 + 150 * W and opened[0].p_value < 0.01
    assert d.expected()[2] < 0.6  # learning the 120 burst authors would lift it above 1


def test_poisson_needs_min_authors() -> None:
    cfg = PoissonConfig(window_ms=W, warmup_windows=0, min_authors=3, prior_rate=0.001)
    d = PoissonDetector(cfg, REGIONS)
    assert _run(d, [_post(0, T0, "a"), _post(1, T0 + 1, "b")], 1) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ThresholdConfig(window_ms=10), "window_ms=10: must be >= 1000"),
        (lambda: ThresholdConfig(threshold=-1), "threshold=-1"),
        (lambda: TimeOfDayConfig(floor=0), "floor=0"),
        (lambda: TimeOfDayConfig(half_life_days=0), "half_life_days=0"),
        (lambda: PoissonConfig(n_regions_tested=0), "n_regions_tested=0"),
        (lambda: PoissonConfig(resolve_windows=0), "resolve_windows=0"),
    ],
)
def test_bad_hyper_parameters_are_named(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        make()


def test_duplicate_regions_are_refused() -> None:
    with pytest.raises(ConfigError, match="unique"):
        ThresholdDetector(ThresholdConfig(), [("a", "A"), ("a", "B")])


# --- the contract, for every baseline -----------------------------------------------------


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Callable[[], WindowDetector]:
    return FACTORIES[request.param]


def _stream() -> list[RelevantPost]:
    return sorted(_background(7, 600) + _burst(400, 4, 14), key=lambda p: p.created_at_ms)


def test_finds_the_planted_burst(make: Callable[[], WindowDetector]) -> None:
    opened = [a for a in _run(make(), _stream(), 600) if a.status == "opened"]
    assert ("r2",) in [a.region_ids for a in opened]
    first = next(a for a in opened if a.region_ids == ("r2",))
    assert T0 + 400 * W < first.detected_at_ms <= T0 + 404 * W


def test_no_alert_in_warm_up(make: Callable[[], WindowDetector]) -> None:
    d = make()
    d.config = replace(d.config, warmup_windows=500)
    assert [a for a in _run(d, _stream(), 450) if a.status == "opened"] == []


def test_deterministic_and_input_not_mutated(make: Callable[[], WindowDetector]) -> None:
    posts = _stream()
    before = list(posts)
    assert _run(make(), posts, 600) == _run(make(), posts, 600)
    assert posts == before


def test_state_round_trips_mid_stream(make: Callable[[], WindowDetector]) -> None:
    posts = _stream()
    whole = _run(make(), posts, 600)
    cut = T0 + 402 * W + 150_000  # inside window 402, which stays open
    d = make()
    first = _run(d, [p for p in posts if p.created_at_ms < T0 + 402 * W], 402)
    for p in posts:
        if T0 + 402 * W <= p.created_at_ms < cut:
            d.observe(p)
    assert d.pending, "the saved state must hold an open window"
    state = orjson.loads(orjson.dumps(d.to_state()))
    again = type(d).from_state(d.config, REGIONS, state)
    assert again.to_state() == d.to_state()
    rest = [p for p in posts if p.created_at_ms >= cut]
    later: list[Alert] = []
    i = 0
    for w in range(403, 601):
        while i < len(rest) and rest[i].created_at_ms < T0 + w * W:
            again.observe(rest[i])
            i += 1
        later += again.advance(T0 + w * W)
    assert first + later == whole


def test_late_posts_and_unknown_regions_are_refused(make: Callable[[], WindowDetector]) -> None:
    d = make()
    assert d.observe(_post(0, T0 + 2 * W, "a"))
    d.advance(T0 + 3 * W)
    assert not d.observe(_post(1, T0 + W, "b")) and d.late_posts == 1
    assert not d.observe(_post(2, T0 + 3 * W, "c", region="elsewhere"))


def test_memory_stays_bounded_over_a_long_quiet_run(make: Callable[[], WindowDetector]) -> None:
    d = make()
    _run(d, _background(3, 2000), 2000)
    assert len(d.pending) <= 1 and len(d.open) <= len(REGIONS)
    size = len(orjson.dumps(d.to_state()))
    _run(d, _background(4, 4000)[-3000:], 4000)
    assert len(orjson.dumps(d.to_state())) < 2 * size + 10_000


def test_saved_state_of_another_detector_is_refused() -> None:
    state = ThresholdDetector(ThresholdConfig(), REGIONS).to_state()
    with pytest.raises(ValueError, match="another detector"):
        PoissonDetector.from_state(PoissonConfig(), REGIONS, state)
