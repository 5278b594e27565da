"""The global detector: a rise over the whole region set, not a local one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import orjson
import pytest

from models.detect import DetectorConfig
from models.errors import ConfigError
from models.global_detect import GlobalDetector
from models.records import Alert, RelevantPost

W = 300_000
T0 = 1_709_251_200_000  # a Friday, 00:00 UTC
REGIONS = [(f"r{i:02d}", f"Region {i}") for i in range(24)]
BLOCKS = {r: f"z{i // 4}" for i, (r, _) in enumerate(REGIONS)}  # six zones of four
CONFIG = DetectorConfig(window_ms=W, warmup_windows=24, alpha=0.001)


def _detector(**kw: object) -> GlobalDetector:
    options: dict[str, object] = {"blocks": BLOCKS}
    options.update(kw)
    return GlobalDetector(CONFIG, REGIONS, **options)  # type: ignore[arg-type]


def _posts(window: int, counts: np.ndarray, unlocated: int = 0) -> list[RelevantPost]:
    posts = [
        RelevantPost(
            f"{window}-{r}-{k}",
            T0 + window * W + 1000 * k,
            f"{window}-{r}-{k}",
            "z",
            r,
            "mobile_data",
            None,
            1.0,
            "place",
        )
        for (r, _), n in zip(REGIONS, counts, strict=True)
        for k in range(int(n))
    ]
    posts += [
        RelevantPost(
            f"{window}-u{k}",
            T0 + window * W + k,
            f"u{window}-{k}",
            "unlocated",
            None,
            "total_outage",
            None,
            1.0,
            "none",
        )
        for k in range(unlocated)
    ]
    return posts


def _run(
    d: GlobalDetector,
    windows: int,
    extra: dict[int, np.ndarray],
    seed: int = 1,
    unlocated: dict[int, int] | None = None,
) -> list[Alert]:
    rng = np.random.default_rng(seed)
    alerts: list[Alert] = []
    for w in range(windows):
        counts = rng.poisson(0.5, len(REGIONS)) + extra.get(w, 0)
        for p in _posts(w, counts, (unlocated or {}).get(w, 0)):
            d.observe(p)
        alerts += d.advance(T0 + (w + 1) * W)
    return alerts


def test_a_rise_everywhere_is_one_global_alert() -> None:
    rise = {w: np.full(len(REGIONS), 1) for w in range(60, 70)}  # +1 author in every region
    alerts = _run(_detector(), 90, rise)
    assert alerts[0].status == "opened" and alerts[-1].status == "resolved"
    assert len({a.alert_id for a in alerts}) == 1
    opened = alerts[0]
    assert opened.region_ids == ("*",) and opened.region_names == ("all regions",)
    assert T0 + 61 * W <= opened.detected_at_ms <= T0 + 63 * W
    assert opened.p_value < 0.001 and opened.observed > opened.expected
    assert opened.sample_post_ids and opened.distinct_authors >= opened.observed


def test_an_outage_in_one_zone_is_left_to_the_zone_detectors() -> None:
    local = np.zeros(len(REGIONS), dtype=int)
    local[:4] = 15  # a big outage confined to zone z0
    assert _run(_detector(trim_blocks=1), 90, {w: local for w in range(60, 70)}) == []


def test_a_local_outage_does_not_deafen_it_to_a_later_rise_everywhere() -> None:
    # The local outage is trimmed from the test; it must not be learned as the national
    # total's own spread either (it was: the rise everywhere two hours later went unseen).
    local = np.zeros(len(REGIONS), dtype=int)
    local[:4] = 15  # a big outage confined to zone z0 for an hour
    extra = {w: local for w in range(60, 72)}
    extra |= {w: np.full(len(REGIONS), 1) for w in range(96, 104)}  # +1 everywhere
    for seed in (1, 2, 3):
        alerts = _run(_detector(trim_blocks=1), 130, extra, seed=seed)
        late = [a for a in alerts if a.status == "opened" and a.detected_at_ms > T0 + 72 * W]
        assert len(late) == 1, seed
        assert T0 + 97 * W <= late[0].detected_at_ms <= T0 + 99 * W, seed


def test_a_rise_everywhere_with_short_lulls_is_one_alert_for_its_length() -> None:
    # +1 author in every region for 40 windows, back to usual for three windows out of
    # every ten: the lulls do not end the alert (they did, and each part opened anew).
    rise = np.full(len(REGIONS), 1)
    lulls = {w for start in range(70, 100, 10) for w in range(start, start + 3)}
    extra = {w: rise for w in range(60, 100) if w not in lulls}
    for seed in (1, 2, 3):
        alerts = _run(_detector(), 130, extra, seed=seed)
        assert [a.status for a in alerts] == ["opened", "resolved"], seed
        assert T0 + 100 * W < alerts[-1].detected_at_ms <= T0 + 108 * W, seed


def test_nothing_in_quiet_data_or_warm_up() -> None:
    assert _run(_detector(), 200, {}, seed=2) == []
    early = {w: np.full(len(REGIONS), 3) for w in range(5, 10)}
    assert _run(_detector(), 24, early) == []


def test_unlocated_posts_count_as_one_more_block() -> None:
    d = _detector()
    assert d.block_ids[-1] == "?"
    lone = RelevantPost("x", T0, "a", "unlocated", None, "voice", None, 1.0, "none")
    assert d.observe(lone) is True
    assert _detector(include_unlocated=False).observe(lone) is False
    assert (
        d.observe(RelevantPost("y", T0, "a", "z", "nowhere", "voice", None, 1.0, "place")) is False
    )
    # a surge of unlocated posts alongside a modest rise everywhere
    rise = {w: np.full(len(REGIONS), 1) for w in range(60, 64)}
    alerts = _run(_detector(trim_blocks=1), 80, rise, unlocated={w: 12 for w in range(60, 64)})
    assert alerts and alerts[0].status == "opened"


def test_warm_start_and_state_round_trip() -> None:
    history = np.random.default_rng(3).poisson(0.5, (100, len(REGIONS)))
    a = _detector()
    a.warm_start(T0 - 100 * W, history)
    assert a.windows_closed == 100
    rise = {w: np.full(len(REGIONS), 2) for w in range(3, 6)}
    head = _run(a, 4, rise)  # no warm-up left: the rise alerts at once
    assert head and head[0].status == "opened"
    b = GlobalDetector.from_state(
        CONFIG, REGIONS, orjson.loads(orjson.dumps(a.to_state())), blocks=BLOCKS
    )
    assert b.to_state() == a.to_state()
    tail_a = [x for x in _run(a, 20, {}, seed=9)]
    tail_b = [x for x in _run(b, 20, {}, seed=9)]
    assert tail_a == tail_b


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="trim_blocks"):
        _detector(trim_blocks=7)
    with pytest.raises(ConfigError, match="regions"):
        GlobalDetector(CONFIG, [])
    with pytest.raises(ValueError, match="other blocks"):
        GlobalDetector.from_state(CONFIG, REGIONS, _detector().to_state())


def test_a_lasting_rise_everywhere_ends_its_alert() -> None:
    config = DetectorConfig(window_ms=W, warmup_windows=24, alpha=0.001, max_alert_windows=40)
    rise = {w: np.full(len(REGIONS), 3) for w in range(100, 400)}  # +3 authors, for good
    never = GlobalDetector(replace(config, max_alert_windows=10**6), REGIONS, blocks=BLOCKS)
    assert [a.status for a in _run(never, 400, rise)] == ["opened"]  # open to the end
    lasting = GlobalDetector(config, REGIONS, blocks=BLOCKS)
    alerts = _run(lasting, 400, rise)
    assert [a.status for a in alerts][:2] == ["opened", "resolved"]
    assert T0 + 140 * W < alerts[1].detected_at_ms <= T0 + 260 * W
    assert lasting.open is None
    state = lasting.to_state()
    del state["alerting"]  # a state saved before the share was kept
    assert GlobalDetector.from_state(config, REGIONS, state, blocks=BLOCKS).alerting.share == [0]
