"""The shared temporal model (baselines, tails) and the series detector with its command."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import nbinom, poisson

from models.errors import ConfigError, InvalidRecord
from models.series import (
    DAY_MS,
    HOUR_MS,
    BaselineConfig,
    SeasonalBaseline,
    Seasonality,
    SeriesDetector,
    infer_step_ms,
    pooled_dispersion,
    score_from_p,
    score_series,
    seasonality_for,
    upper_tail,
)
from streams.cli import main

MONDAY = 1_709_510_400_000  # 2024-03-04T00:00Z


@given(
    st.integers(min_value=0, max_value=60),
    st.floats(min_value=0.01, max_value=40),
    st.floats(min_value=0, max_value=3),
)
@settings(max_examples=200, deadline=None)
def test_upper_tail_matches_scipy(y: int, mu: float, phi: float) -> None:
    got = float(upper_tail(y, mu, phi))
    if y == 0:
        assert got == 1.0
    elif phi <= 1e-9:
        assert got == pytest.approx(poisson.sf(y - 1, mu), rel=1e-6, abs=1e-300)
    else:
        r = 1 / phi
        # near-Poisson dispersions leave betainc a few ulps of a huge r: relative 1e-4
        assert got == pytest.approx(nbinom.sf(y - 1, r, r / (r + mu)), rel=1e-4, abs=1e-300)


def test_score_is_monotone_and_half_at_alpha() -> None:
    ps = [1.0, 0.5, 0.01, 1e-4, 1e-30]
    scores = [score_from_p(p, 0.01) for p in ps]
    assert scores == sorted(scores) and scores[2] == 0.5
    assert all(0 <= s <= 1 for s in scores)
    assert pooled_dispersion([2.0, 0.0], [0.3, 5.0]) == pytest.approx(0.3)


def test_calendar_slots_are_utc_hour_of_week() -> None:
    week = Seasonality("week")
    assert week.slot(MONDAY, HOUR_MS) == 0
    assert week.slot(MONDAY + 6 * DAY_MS + 23 * HOUR_MS, HOUR_MS) == 167
    assert Seasonality("weekday").slot(MONDAY + 2 * DAY_MS, DAY_MS) == 2
    assert list(week.coarse()[:26]) == [*range(24), 0, 1]
    with pytest.raises(ConfigError, match="period"):
        Seasonality("cycle", period=1)


def _learn_week(b: SeasonalBaseline, rates: np.ndarray, weeks: int, seed: int = 0) -> None:
    """Feed ``weeks`` of hourly Poisson counts with the given hour-of-day rates."""
    rng = np.random.default_rng(seed)
    for h in range(weeks * 168):
        slot = h % 168
        lam = b.expected(slot)
        y = rng.poisson(rates[h % 24], b.n)
        b.learn(slot, y, lam, np.ones(b.n, dtype=bool))


def test_baseline_learns_the_daily_profile_and_shrinks_sparse_hours() -> None:
    rates = np.where((np.arange(24) >= 8) & (np.arange(24) < 20), 6.0, 1.0)
    b = SeasonalBaseline(BaselineConfig(prior_rate=3.0), Seasonality("week"), [1.0, 1.0])
    _learn_week(b, rates, weeks=3)
    hour = np.arange(168) % 24
    expected = np.array([b.expected(s).mean() for s in range(168)])
    day, night = expected[(hour >= 8) & (hour < 20)].mean(), expected[hour < 6].mean()
    assert day == pytest.approx(6.0, rel=0.1) and night == pytest.approx(1.0, rel=0.25)
    # every hour-of-week cell is pulled towards its hour of day: no cell is wild
    assert expected[(hour >= 8) & (hour < 20)].min() > 4 > 2 > expected[hour < 6].max()


def test_cold_start_splits_the_zone_rate_by_weight_then_data_wins() -> None:
    b = SeasonalBaseline(BaselineConfig(prior_rate=1.0), Seasonality("none"), [1, 1, 2])
    assert b.expected(0).tolist() == [0.75, 0.75, 1.5]
    rng = np.random.default_rng(3)
    for _ in range(400):  # region 0 is in truth ten times busier than its weight says
        b.learn(0, rng.poisson([5.0, 0.5, 1.0]), b.expected(0), np.ones(3, dtype=bool))
    assert b.expected(0) == pytest.approx([5.0, 0.5, 1.0], rel=0.2)
    assert b.strength() < BaselineConfig().prior_strength  # heterogeneity was noticed


def test_masked_and_winsorised_counts_do_not_inflate_the_baseline() -> None:
    b = SeasonalBaseline(BaselineConfig(prior_rate=1.0), Seasonality("none"), [1.0])
    for i in range(300):
        y = np.array([1000 if i % 50 == 0 else 1])
        b.learn(0, y, b.expected(0), np.array([i % 100 != 0]))
    assert b.expected(0)[0] < 1.3


def test_a_shifted_series_takes_its_new_level_fast_and_leaves_the_season() -> None:
    daily = Seasonality("day")
    b = SeasonalBaseline(BaselineConfig(dispersion=0.0), daily, [1.0, 1.0])
    every = np.ones(2, dtype=bool)
    for w in range(24 * 60):  # two months of hourly windows at 3 and 3
        b.learn(w % 24, np.array([3, 3]), b.expected(w % 24), every)
    season = b.factors().copy()
    slow = SeasonalBaseline(BaselineConfig(dispersion=0.0), daily, [1.0, 1.0])
    slow.load_state(b.to_state())
    shifted = np.array([True, False])

    def step(w: int, first: int) -> None:
        y = np.array([first, 3])
        b.learn(w % 24, y, b.expected(w % 24), every, shift=(shifted, 48))
        slow.learn(w % 24, y, slow.expected(w % 24), every)

    for w in range(4):  # the shift starts: the old level weighs one window
        step(w, 30)
    assert b.expected(4)[0] > 20 and slow.expected(4)[0] < 4
    for w in range(4, 3 * 48):
        step(w, 30)
    assert abs(b.expected(0)[0] - 30) < 1 and slow.expected(0)[0] < 10
    assert np.allclose(b.factors(), season, atol=1e-3)  # the profile is still flat
    assert abs(b.expected(0)[1] - 3) < 0.2
    assert b.to_state()["shifted"] == [True, False]
    for w in range(4):  # back down: a count under what the level allows
        step(w, 3)
    assert b.expected(4)[0] < 8


def test_young_series_are_uncertain_old_ones_are_not() -> None:
    b = SeasonalBaseline(BaselineConfig(dispersion=0.0), Seasonality("none"), [1.0, 1.0])
    young = b.dispersions().copy()
    for _ in range(500):
        b.learn(0, np.array([2, 2]), b.expected(0), np.ones(2, dtype=bool))
    assert np.all(young > 0.1) and np.all(b.dispersions() < 0.01)


@pytest.mark.parametrize("source", ["differences", "residuals"])
def test_overdispersion_is_estimated_for_overdispersed_counts_only(source: str) -> None:
    rng = np.random.default_rng(5)
    config = BaselineConfig(dispersion_from=source)
    poissonian = SeasonalBaseline(config, Seasonality("none"), np.ones(20))
    clumpy = SeasonalBaseline(config, Seasonality("none"), np.ones(20))
    for _ in range(400):
        poissonian.learn(0, rng.poisson(4.0, 20), poissonian.expected(0), np.ones(20, bool))
        y = rng.poisson(4.0 * rng.gamma(2.0, 0.5, 20))  # variance 4 + 0.5 * 16
        clumpy.learn(0, y, clumpy.expected(0), np.ones(20, bool))
    assert poissonian.overdispersion() < 0.05 < 0.2 < clumpy.overdispersion()


def test_a_cold_start_far_from_the_shares_settles_without_passing_for_noise() -> None:
    """One series runs at twelve times its share: its first (warming) window sets its
    level, and neither that nor a later lasting shift makes the counts look clumpy."""
    rng = np.random.default_rng(11)
    rates = np.array([60.0, 5.0, 5.0, 5.0])
    b = SeasonalBaseline(BaselineConfig(), Seasonality("none"), np.ones(4))
    for t in range(200):
        if t == 100:
            rates[1] = 15.0  # a lasting change of level in one series
        b.learn(0, rng.poisson(rates), b.expected(0), np.ones(4, bool), warming=t < 3)
        if t == 3:
            assert b.expected(0)[0] == pytest.approx(60.0, rel=0.15)
            assert np.all(b.expected(0)[1:] < 10)
    assert b.overdispersion() < 0.01
    residuals = SeasonalBaseline(
        BaselineConfig(dispersion_from="residuals"), Seasonality("none"), np.ones(4)
    )
    for _ in range(20):  # without warming windows the levels climb one ceiling at a time
        residuals.learn(0, rng.poisson(rates), residuals.expected(0), np.ones(4, bool))
    assert residuals.expected(0)[0] < 40 and residuals.overdispersion() > 0.1


def test_baseline_state_round_trips() -> None:
    b = SeasonalBaseline(BaselineConfig(), Seasonality("week"), [1, 2, 3])
    _learn_week(b, np.full(24, 2.0), weeks=1)
    c = SeasonalBaseline(BaselineConfig(), Seasonality("week"), [1, 2, 3])
    c.load_state(b.to_state())
    assert np.array_equal(b.expected(40), c.expected(40))
    assert np.array_equal(b.last, c.last) and np.array_equal(b.last_lam, c.last_lam)
    with pytest.raises(ValueError):
        SeasonalBaseline(BaselineConfig(), Seasonality("day"), [1, 2, 3]).load_state(b.to_state())
    older = {k: v for k, v in b.to_state().items() if k != "last"}  # saved before the pairs
    c.load_state(older)
    assert np.array_equal(b.expected(40), c.expected(40)) and np.all(c.last == -1)
    with pytest.raises(ValueError):
        c.load_state({**b.to_state(), "last": [[1.0], [1.0]]})


def test_pairs_are_successive_learned_windows_only() -> None:
    """No pair spans a gap, a masked window or a warming one, and warming windows add
    nothing to the dispersion."""

    def sums(*steps: str) -> tuple[float, float]:
        b = SeasonalBaseline(BaselineConfig(), Seasonality("none"), np.ones(2))
        y = {"a": np.array([2.0, 9.0]), "b": np.array([8.0, 1.0])}
        for i, step in enumerate(steps):
            if step == "gap":
                b.decay(3)
            elif step == "masked":
                b.learn(0, y["a"], b.expected(0), np.zeros(2, bool))
            else:
                b.learn(0, y["ab"[i % 2]], b.expected(0), np.ones(2, bool), step == "warm")
        return b.disp_num, b.disp_den

    assert sums("warm", "warm", "warm") == (0.0, 0.0)
    assert sums("warm", "learn", "learn")[1] > 0
    for breaks in ("gap", "masked"):
        assert sums("warm", "learn", breaks, "learn") == (0.0, 0.0)


def test_series_detector_flags_the_spike_and_not_the_daily_cycle() -> None:
    rng = np.random.default_rng(7)
    hours = 24 * 21
    rates = np.where(np.arange(hours) % 24 < 12, 20.0, 2.0)
    values = rng.poisson(rates).astype(float)
    values[400] += 40  # a night hour (rate 2) with 40 extra
    points = score_series([MONDAY + h * HOUR_MS for h in range(hours)], list(values))
    alerts = [i for i, p in enumerate(points) if p.alert]
    assert alerts == [400]
    assert points[400].score > 0.5 > max(p.score for i, p in enumerate(points[48:]) if i != 352)


def test_series_detector_state_round_trip_and_missing_values() -> None:
    a = SeriesDetector(HOUR_MS, Seasonality("day"), warmup=5)
    values = [3, 4, None, 5, float("nan"), 4, 3, 30, 4]
    first = [a.update(MONDAY + i * HOUR_MS, v) for i, v in enumerate(values[:5])]
    b = SeriesDetector(HOUR_MS, Seasonality("day"), warmup=5)
    b.load_state(a.to_state())
    rest_a = [a.update(MONDAY + i * HOUR_MS, v) for i, v in enumerate(values) if i >= 5]
    rest_b = [b.update(MONDAY + i * HOUR_MS, v) for i, v in enumerate(values) if i >= 5]
    assert rest_a == rest_b
    assert first[2].alert is False and np.isnan(first[2].p_value)
    with pytest.raises(InvalidRecord, match="time not increasing"):
        a.update(MONDAY, 1)
    with pytest.raises(InvalidRecord, match="negative"):
        a.update(MONDAY + 100 * HOUR_MS, -1)


def test_step_and_period_choices() -> None:
    assert infer_step_ms([0, 10, 30, 40]) == 10
    with pytest.raises(InvalidRecord, match="irregular"):
        infer_step_ms([0, 10, 25])
    with pytest.raises(InvalidRecord, match="not increasing"):
        infer_step_ms([0, 10, 10])
    assert seasonality_for("auto", 300_000, True) == Seasonality("week")
    assert seasonality_for("auto", 300_000, False) == Seasonality("none")
    assert seasonality_for("7", DAY_MS, True) == Seasonality("cycle", 7)
    with pytest.raises(ConfigError, match="period"):
        seasonality_for("weekly", HOUR_MS, True)
    with pytest.raises(ConfigError, match="alpha"):
        score_series([0, 1, 2], [1, 2, 3], alpha=0)


def test_detect_series_command_writes_scores_and_flags(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    series = tmp_path / "tickets.csv"
    counts = rng.poisson(5.0, 24 * 10)
    counts[200] = 40
    with series.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["hour", "tickets", "note"])
        for h, c in enumerate(counts):
            day, hour = divmod(h, 24)
            w.writerow([f"2024-03-{4 + day:02d} {hour:02d}:00", c, "x"])
    out = tmp_path / "scores.csv"
    args = ["detect-series", str(series), "--time-col", "hour", "--value-col", "tickets"]
    assert main([*args, "--out", str(out), "--period", "none", "--alpha", "0.001"]) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(counts) and rows[0]["note"] == "x"
    assert [i for i, r in enumerate(rows) if r["alert"] == "True"] == [200]
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    assert main([*args[:-1], "nope", "--out", str(out)]) == 2  # unknown column: config error
