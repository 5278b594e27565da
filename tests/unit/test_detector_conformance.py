"""One conformance suite for every detector (the contract in models/detect.py).

Each entry of ``FACTORIES`` builds a fresh detector, restores one from a saved state, and
says where its planted burst goes. Add a detector by appending a :class:`Factory`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

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
from models.detect import DetectorConfig, ZoneDetector
from models.global_detect import GlobalDetector
from models.records import Alert, RelevantPost

W = 60_000
T0 = 1_709_251_200_000  # a Friday, 00:00 UTC
SIDE = 3
REGIONS = [(f"r{i}", f"Region {i}") for i in range(SIDE * SIDE)]
CENTROIDS = {f"r{i}": (10 + 0.1 * (i % SIDE), 45 + 0.1 * (i // SIDE)) for i in range(SIDE**2)}
NEIGHBOURS = {
    f"r{i}": [
        f"r{j}"
        for j in range(SIDE**2)
        if j != i and abs(i % SIDE - j % SIDE) <= 1 and abs(i // SIDE - j // SIDE) <= 1
    ]
    for i in range(SIDE**2)
}
LAYOUT: dict[str, Any] = {"centroids": CENTROIDS, "neighbours": NEIGHBOURS}
CONFIG = DetectorConfig(window_ms=W, warmup_windows=30, n_regions_tested=len(REGIONS))


class Detector(Protocol):
    def observe(self, post: RelevantPost) -> bool: ...

    def advance(self, watermark_ms: int) -> list[Alert]: ...

    def to_state(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Factory:
    """How to build, restore and test one detector."""

    name: str
    make: Callable[[], Detector]
    restore: Callable[[dict[str, Any]], Detector]
    burst: dict[str, int]  # extra distinct authors per minute, by region
    burst_regions: tuple[str, ...]  # what the alert must name


def _zone(config: DetectorConfig) -> Factory:
    return Factory(
        name=f"zone scan={config.scan}",
        make=lambda: ZoneDetector(config, "z", REGIONS, **LAYOUT),
        restore=lambda s: ZoneDetector.from_state(config, REGIONS, s, **LAYOUT),
        burst={"r4": 12},
        burst_regions=("r4",),
    )


def _baseline(cls: type[WindowDetector[Any]], config: Any) -> Factory:
    return Factory(
        name=cls.name,
        make=lambda: cls(config, REGIONS),
        restore=lambda s: cls.from_state(config, REGIONS, s),
        burst={"r4": 12},
        burst_regions=("r4",),
    )


FACTORIES: list[Factory] = [
    _zone(CONFIG),
    _zone(replace(CONFIG, scan=False)),
    Factory(
        name="global",
        make=lambda: GlobalDetector(CONFIG, REGIONS, trim_blocks=1),
        restore=lambda s: GlobalDetector.from_state(CONFIG, REGIONS, s, trim_blocks=1),
        burst={r: 4 for r, _ in REGIONS},
        burst_regions=("*",),
    ),
    _baseline(ThresholdDetector, ThresholdConfig(window_ms=W, span_ms=4 * W, warmup_windows=30)),
    _baseline(TimeOfDayDetector, TimeOfDayConfig(window_ms=W, warmup_windows=30)),
    _baseline(
        PoissonDetector,
        PoissonConfig(
            window_ms=W, warmup_windows=30, alpha=CONFIG.alpha, n_regions_tested=len(REGIONS)
        ),
    ),
]


def _stream(
    factory: Factory, seed: int, minutes: int = 150, burst_at: int | None = 100
) -> list[RelevantPost]:
    """About 0.3 distinct authors per region and minute, plus ``factory.burst`` for ten
    minutes from ``burst_at``; some authors post twice, some posts are reposts."""
    rng = random.Random(seed)
    rows: list[tuple[int, str, str, bool]] = []
    for m in range(minutes):
        for region, _ in REGIONS:
            for _ in range(rng.choices((0, 1, 2), (0.75, 0.2, 0.05))[0]):
                rows.append((m, region, f"u{rng.randrange(500)}", rng.random() < 0.1))
        if burst_at is not None and burst_at <= m < burst_at + 10:
            for region, extra in factory.burst.items():
                rows += [(m, region, f"b{m}-{region}-{k}", False) for k in range(extra)]
    posts = [
        RelevantPost(
            f"p{i}", T0 + m * W + rng.randrange(W), a, "z", r, "voice", "en", 0.9, "place", rp
        )
        for i, (m, r, a, rp) in enumerate(rows)
    ]
    return sorted(posts, key=lambda p: (p.created_at_ms, p.post_id))


def _run(detector: Detector, posts: list[RelevantPost], end_minute: int) -> list[Alert]:
    """Feed posts in time order with a watermark 5 s behind, then flush to the end."""
    alerts: list[Alert] = []
    for p in posts:
        detector.observe(p)
        alerts += detector.advance(p.created_at_ms - 5_000)
    return alerts + detector.advance(T0 + end_minute * W)


def _json(state: dict[str, Any]) -> dict[str, Any]:
    restored: dict[str, Any] = orjson.loads(orjson.dumps(state))
    return restored


@pytest.fixture(params=FACTORIES, ids=lambda f: f.name)
def factory(request: pytest.FixtureRequest) -> Factory:
    f: Factory = request.param
    return f


def test_input_is_not_mutated(factory: Factory) -> None:
    posts = _stream(factory, 1)
    before = copy.deepcopy(posts)
    _run(factory.make(), posts, 150)
    assert posts == before


def test_deterministic(factory: Factory) -> None:
    posts = _stream(factory, 2)
    a, b = factory.make(), factory.make()
    assert _run(a, posts, 150) == _run(b, posts, 150)
    assert orjson.dumps(a.to_state()) == orjson.dumps(b.to_state())


@pytest.mark.parametrize("cut", [20, 95, 103, 112, 140])
def test_state_round_trips_mid_stream(factory: Factory, cut: int) -> None:
    posts = _stream(factory, 3)
    whole = _run(factory.make(), posts, 150)
    first = factory.make()
    alerts = _run(first, [p for p in posts if p.created_at_ms < T0 + cut * W], cut)
    second = factory.restore(_json(first.to_state()))
    assert _json(second.to_state()) == _json(first.to_state())
    alerts += _run(second, [p for p in posts if p.created_at_ms >= T0 + cut * W], 150)
    assert alerts == whole


def test_no_alert_in_warmup(factory: Factory) -> None:
    posts = _stream(factory, 4, minutes=29, burst_at=5)
    assert _run(factory.make(), posts, 29) == []


def test_planted_burst_is_found_as_one_alert(factory: Factory) -> None:
    alerts = _run(factory.make(), _stream(factory, 5), 150)
    opened = [a for a in alerts if a.status == "opened"]
    assert len(opened) == 1, [(a.region_ids, a.window_start_ms) for a in opened]
    alert = opened[0]
    assert set(factory.burst_regions) <= set(alert.region_ids)
    assert T0 + 100 * W <= alert.detected_at_ms <= T0 + 103 * W
    assert alert.p_value < CONFIG.alpha and alert.observed > alert.expected
    assert alerts[-1].status == "resolved" and alerts[-1].alert_id == alert.alert_id


def test_late_posts_are_refused(factory: Factory) -> None:
    d = factory.make()
    _run(d, _stream(factory, 6, minutes=40, burst_at=None), 40)
    late = RelevantPost("old", T0 + 5 * W, "u", "z", "r0", "voice", None, 1.0, "place")
    assert d.observe(late) is False


def test_memory_stays_bounded_over_a_long_quiet_run(factory: Factory) -> None:
    d = factory.make()
    posts = _stream(factory, 7, minutes=600, burst_at=None)
    _run(d, [p for p in posts if p.created_at_ms < T0 + 300 * W], 300)
    half = len(orjson.dumps(d.to_state()))
    _run(d, [p for p in posts if p.created_at_ms >= T0 + 300 * W], 600)
    assert len(orjson.dumps(d.to_state())) < 1.2 * half
    assert all(not cells for cells in getattr(d, "pending", {}).values())
