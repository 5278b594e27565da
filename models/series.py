"""The temporal model every detector shares: seasonal baselines and upper-tail tests.

A :class:`SeasonalBaseline` gives the expected count of ``n`` parallel series (the regions
of a zone, the blocks of the country, or one plain series) for the next window:

``expected[i] = level[i] × season[slot]``

* ``level[i]`` is a discounted rate shrunk towards its share of the pooled rate
  (``pooled × weight[i] / Σ weight``) by gamma-Poisson shrinkage measured in counts: a
  series leans on the pool until it has seen about ``κ`` counts, where ``κ`` is
  ``prior_strength``, lowered when the series differ from their weights more than Poisson
  noise explains (a moment estimate of the gamma prior); the pooled rate is shrunk
  towards ``prior_rate`` per series, by at most one window's worth (the pool has the
  most data);
* ``season[slot]`` is one profile shared by the ``n`` series: a fine slot (hour of week)
  shrunk towards its coarse slot (hour of day), which is shrunk towards 1, each by
  ``season_strength`` pseudo-counts, so a week of data does not make 168 noisy cells;
* learning is robust: the caller masks out series that alerted, and the others learn
  their count winsorised at ``expected + winsor_z·√expected + 1``;
* each series' count is negative binomial (variance ``μ + φ[i]μ²``) with
  ``φ[i] = 1 / (κ + counts seen)`` — the uncertainty of a young level, so a series with
  little history is not judged by a guess — plus an over-dispersion (unless fixed in the
  configuration) estimated from the learned (winsorised, so somewhat low) counts, as
  ``dispersion_from`` says: ``"differences"`` (the default) pairs each series' successive
  windows, ``Σ[(y₂ - y₁)² - y₁ - y₂ - (μ₂ - μ₁)²] / Σ(μ₁² + μ₂²)``, as
  ``E[(y₂ - y₁)² - y₁ - y₂] = φ·(μ₁² + μ₂²) + (μ₂ - μ₁)²``: a level still settling (a
  cold start, a shift) does not pass for noise, as the level estimate enters only the
  scale (a level too high for a while, as after an outage learned in the warm-up, lowers
  the estimate by as much); ``"residuals"`` compares each window with its expectation,
  ``Σ[(y - μ)² - y] / Σ μ²``, so the expectation's own error counts as noise too (a
  profile still being learned widens the test: for a lone series with nothing else to
  lean on);
* the caller marks the first windows (``warming``, while the levels settle): a series'
  first count is learned as it is (not winsorised against the prior's guess, from which a
  series far from its share would climb one ceiling at a time), and they teach nothing
  of the dispersion.

:class:`SeriesDetector` runs this model with an upper-tail test over one regular count
series (tickets per hour, another tool's report counts): ``groundswell detect-series``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import betainc, gammainc

from models.errors import ConfigError, InvalidRecord

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MIN_EXPECTED = 1e-3
MAX_DISPERSION = 5.0
DISPERSION_PRIOR = 10.0  # in units of expected², pulls a young estimate towards Poisson
MIN_STRENGTH = 1.0  # the least prior strength (counts) when the series are heterogeneous
MIN_POOLED_COUNTS = 20.0  # counts needed before heterogeneity is estimated
DROP_DECAY = 0.8  # weight of each earlier window in a shifted series' recent counts
DROP_ALPHA = 1e-3  # lower tail of those counts under which its level has come back down
DISPERSION_FROM = ("differences", "residuals")
SEASON_KINDS = ("week", "day", "weekday", "cycle", "none")


def validate(checks: Iterable[tuple[str, Any, bool, str]]) -> None:
    """Raise :class:`ConfigError` for the first ``(name, value, ok, problem)`` not ok.

    >>> validate([("k", 0, False, "must be >= 1")])
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: k=0: must be >= 1
    """
    for name, value, ok, problem in checks:
        if not ok:
            raise ConfigError(name, value, problem)


def upper_tail(y: Any, mu: Any, dispersion: Any = 0.0) -> np.ndarray:
    """``P(X >= y)`` for ``X`` Poisson(``mu``), or negative binomial with variance
    ``mu + dispersion·mu²`` where ``dispersion > 0`` (arrays broadcast); 1 where ``y <= 0``.

    >>> upper_tail([0, 1, 5], 1.0).round(4).tolist()
    [1.0, 0.6321, 0.0037]
    >>> upper_tail([5, 5], 1.0, dispersion=[0.0, 0.5]).round(4).tolist()
    [0.0037, 0.0178]
    """
    y_arr, mu_arr, phi = np.broadcast_arrays(
        np.asarray(y, dtype=float),
        np.maximum(np.asarray(mu, dtype=float), MIN_EXPECTED),
        np.asarray(dispersion, dtype=float),
    )
    # P(Poisson(mu) >= y) = P(y, mu) and P(NB >= y) = I_{1-p}(y, r), p = r / (r + mu)
    safe_y = np.maximum(y_arr, 1.0)
    p = np.asarray(gammainc(safe_y, mu_arr), dtype=float)
    nb = phi > 1e-9
    if np.any(nb):
        r = 1.0 / phi[nb]
        p[nb] = betainc(safe_y[nb], r, mu_arr[nb] / (r + mu_arr[nb]))
    return np.asarray(np.where(y_arr <= 0, 1.0, p), dtype=float)


def pooled_dispersion(mu: Any, dispersion: Any) -> float:
    """Dispersion of a sum of negative binomials matched on the variance:
    ``Σ φ·μ² / (Σ μ)²``.

    >>> pooled_dispersion([1.0, 1.0], [0.5, 0.0])
    0.125
    """
    mu_arr = np.asarray(mu, dtype=float)
    total = float(mu_arr.sum())
    return float((np.asarray(dispersion) * mu_arr**2).sum()) / total**2 if total > 0 else 0.0


def score_from_p(p_value: float, alpha: float) -> float:
    """Anomaly score in [0, 1] from a p-value: ``L / (L + L_alpha)`` with ``L = -log10 p``,
    so the score passes 0.5 exactly where ``p`` passes ``alpha``.

    >>> score_from_p(0.01, 0.01), score_from_p(1.0, 0.01), score_from_p(1e-6, 0.01) > 0.7
    (0.5, 0.0, True)
    """
    level = -math.log10(min(max(p_value, 1e-300), 1.0))
    return max(0.0, round(level / (level + -math.log10(alpha)), 6))


@dataclass(frozen=True)
class BaselineConfig:
    """Hyper-parameters of :class:`SeasonalBaseline`; each is checked when built.

    >>> BaselineConfig(prior_rate=0.5).prior_rate
    0.5
    >>> BaselineConfig(winsor_z=0)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: winsor_z=0: must be > 0
    >>> BaselineConfig(dispersion_from="moments")
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: dispersion_from='moments': must be one of differences, residuals
    """

    prior_rate: float = 0.1
    prior_strength: float = 5.0
    half_life_windows: float = 2016.0
    season_strength: float = 20.0
    season_half_life_windows: float = 8064.0
    winsor_z: float = 3.0
    dispersion: float | None = None
    dispersion_from: str = "differences"

    def __post_init__(self) -> None:
        validate(
            [
                ("prior_rate", self.prior_rate, self.prior_rate > 0, "must be > 0"),
                ("prior_strength", self.prior_strength, self.prior_strength > 0, "must be > 0"),
                (
                    "half_life_windows",
                    self.half_life_windows,
                    self.half_life_windows > 0,
                    "must be > 0",
                ),
                ("season_strength", self.season_strength, self.season_strength > 0, "must be > 0"),
                (
                    "season_half_life_windows",
                    self.season_half_life_windows,
                    self.season_half_life_windows > 0,
                    "must be > 0",
                ),
                ("winsor_z", self.winsor_z, self.winsor_z > 0, "must be > 0"),
                (
                    "dispersion",
                    self.dispersion,
                    self.dispersion is None or 0 <= self.dispersion <= MAX_DISPERSION,
                    f"must be None (estimated) or in [0, {MAX_DISPERSION}]",
                ),
                (
                    "dispersion_from",
                    self.dispersion_from,
                    self.dispersion_from in DISPERSION_FROM,
                    f"must be one of {', '.join(DISPERSION_FROM)}",
                ),
            ]
        )


@dataclass(frozen=True)
class Seasonality:
    """Which seasonal slot a window falls in (UTC calendar, or a cycle of windows).

    ``week``: hour of week (168 slots) shrunk towards hour of day; ``day``: hour of day;
    ``weekday``: day of week; ``cycle``: window index modulo ``period``; ``none``: flat.

    >>> w = Seasonality("week")
    >>> w.n_slots, w.slot(1_708_594_200_000, 300_000)  # Thursday 09:30 UTC
    (168, 81)
    >>> Seasonality("cycle", period=4).slot(7 * 60_000, 60_000)
    3
    """

    kind: str = "week"
    period: int = 1

    def __post_init__(self) -> None:
        validate(
            [
                ("period_kind", self.kind, self.kind in SEASON_KINDS, f"one of {SEASON_KINDS}"),
                (
                    "period",
                    self.period,
                    self.kind != "cycle" or self.period >= 2,
                    "a cycle needs period >= 2",
                ),
            ]
        )

    @property
    def n_slots(self) -> int:
        return {"week": 168, "day": 24, "weekday": 7, "cycle": self.period, "none": 1}[self.kind]

    def coarse(self) -> np.ndarray:
        """Coarse slot of each fine slot (hour of day for ``week``, one pool otherwise)."""
        if self.kind == "week":
            return np.arange(168) % 24
        return np.zeros(self.n_slots, dtype=int)

    def slot(self, start_ms: int, step_ms: int) -> int:
        """Slot of the window starting at ``start_ms`` (windows of ``step_ms``)."""
        hour = (start_ms // HOUR_MS) % 24
        weekday = (start_ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        if self.kind == "week":
            return int(weekday * 24 + hour)
        if self.kind == "day":
            return int(hour)
        if self.kind == "weekday":
            return int(weekday)
        if self.kind == "cycle":
            return int((start_ms // step_ms) % self.period)
        return 0


def _shares(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weights as shares summing to 1, each floored at 1 % of the mean (zero-weight
    regions still get a small expectation instead of alerting on a single post)."""
    w = np.asarray(weights, dtype=float)
    if w.size == 0:
        return w
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError("weights", w.tolist()[:5], "must be finite and >= 0")
    mean = float(w.mean())
    w = np.ones_like(w) if mean <= 0 else np.maximum(w, 0.01 * mean)
    shares: np.ndarray = w / w.sum()
    return shares


class SeasonalBaseline:
    """Expected counts of ``n`` parallel series sharing one seasonal profile.

    ``weights`` (e.g. population) split the pooled rate between series before they have
    data of their own; ``prior_total`` is the pooled rate before any data (default
    ``prior_rate × n``).

    >>> b = SeasonalBaseline(BaselineConfig(prior_rate=1.0), Seasonality("none"), [1, 3])
    >>> b.expected(0).tolist()  # cold start: the prior split by weight share
    [0.5, 1.5]
    >>> for _ in range(200):
    ...     b.learn(0, np.array([4, 4]), b.expected(0), np.array([True, True]))
    >>> b.expected(0).round(1).tolist()
    [4.0, 4.0]
    """

    def __init__(
        self,
        config: BaselineConfig,
        seasonality: Seasonality,
        weights: Sequence[float] | np.ndarray,
        prior_total: float | None = None,
    ) -> None:
        self.config = config
        self.seasonality = seasonality
        self.shares = _shares(weights)
        n, slots = self.shares.size, seasonality.n_slots
        self.prior = config.prior_rate * n if prior_total is None else prior_total
        self.level_obs = np.zeros(n)
        self.level_exp = np.zeros(n)
        self.season_obs = np.zeros(slots)
        self.season_base = np.zeros(slots)
        self.disp_num = 0.0
        self.disp_den = 0.0
        self.last = np.full(n, -1.0)  # each series' last learned count, -1 none
        self.last_lam = np.zeros(n)
        self.shifted = np.zeros(n, dtype=bool)  # the last learning's shifted series
        self.drop = np.zeros((2, n))  # shifted series' recent counts and expectations
        self._cache: dict[str, Any] = {}  # derived numbers, cleared when anything is learned
        self._coarse = seasonality.coarse()
        self._decay = 0.5 ** (1.0 / config.half_life_windows)
        self._season_decay = 0.5 ** (1.0 / config.season_half_life_windows)

    @property
    def n(self) -> int:
        return int(self.shares.size)

    def pooled_rate(self) -> float:
        """Rate of all series together per window (season 1), shrunk towards the prior,
        which weighs as ``prior_strength`` counts but at most one window of data."""
        prior = max(self.prior, 1e-12)
        weight = min(self.config.prior_strength / prior, 1.0)  # in windows
        seen = float(self.level_obs.sum())
        exposure = float((self.shares * self.level_exp).sum())
        return (seen + prior * weight) / (exposure + weight)

    def _cached(self, name: str, compute: Any) -> Any:
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def strength(self) -> float:
        """Prior strength ``κ`` (in counts) of each series' level towards its share.

        ``prior_strength``, unless the series' rates relative to their shares vary more
        than Poisson noise explains (Marshall's moment estimate of a gamma prior), then
        ``1 / between-series relative variance``, at least ``MIN_STRENGTH``.
        """
        value: float = self._cached("strength", self._strength)
        return value

    def _strength(self) -> float:
        k_max = self.config.prior_strength
        seen = float(self.level_obs.sum())
        if self.n < 2 or seen < MIN_POOLED_COUNTS:
            return k_max
        e = self.level_exp * self.pooled_rate() * self.shares
        total = float(e.sum())
        if total <= 0:
            return k_max
        m = seen / total
        theta = self.level_obs / np.maximum(e, 1e-12)
        between = float((e * (theta - m) ** 2).sum()) / total - m / (total / self.n)
        if between <= 0:
            return k_max
        return float(min(k_max, max(MIN_STRENGTH, m * m / between)))

    def levels(self) -> np.ndarray:
        """Each series' rate per window (season 1), shrunk towards its share of the pool."""
        value: np.ndarray = self._cached("levels", self._levels)
        return value

    def _levels(self) -> np.ndarray:
        # a shifted series is known to differ from its share: its own data, unshrunk
        k = np.where(self.shifted, 0.0, self.strength())
        prior = np.maximum(self.pooled_rate() * self.shares, 1e-12)
        levels: np.ndarray = (self.level_obs + k) / np.maximum(self.level_exp + k / prior, 1e-12)
        return levels

    def factors(self) -> np.ndarray:
        """Seasonal factor of every slot (mean 1 over the slots)."""
        value: np.ndarray = self._cached("factors", self._factors)
        return value

    def _factors(self) -> np.ndarray:
        a = self.config.season_strength
        n_coarse = int(self._coarse.max()) + 1
        obs_c = np.bincount(self._coarse, self.season_obs, n_coarse)
        base_c = np.bincount(self._coarse, self.season_base, n_coarse)
        coarse = ((obs_c + a) / (base_c + a))[self._coarse]
        raw = coarse * (self.season_obs + a) / (coarse * self.season_base + a)
        factors: np.ndarray = raw / raw.mean()
        return factors

    def expected(self, slot: int) -> np.ndarray:
        """Expected count of each series in a window of ``slot``."""
        lam: np.ndarray = np.maximum(self.levels() * self.factors()[slot], MIN_EXPECTED)
        return lam

    def overdispersion(self) -> float:
        """Over-dispersion (0 = Poisson) shared by the series: fixed, or estimated from the
        learned counts (``dispersion_from``)."""
        if self.config.dispersion is not None:
            return self.config.dispersion
        return min(MAX_DISPERSION, max(0.0, self.disp_num) / (self.disp_den + DISPERSION_PRIOR))

    def dispersions(self) -> np.ndarray:
        """Each series' negative-binomial dispersion: level uncertainty plus over-dispersion."""
        value: np.ndarray = self._cached(
            "dispersions",
            lambda: np.minimum(
                MAX_DISPERSION, 1.0 / (self.strength() + self.level_obs) + self.overdispersion()
            ),
        )
        return value

    def winsorise(self, y: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Counts clipped at ``lam + winsor_z·√lam + 1`` (what a learning step may take)."""
        clipped: np.ndarray = np.minimum(y, self.ceiling(lam))
        return clipped

    def ceiling(self, lam: Any) -> Any:
        """The most a learning step takes from a count expected to be ``lam``."""
        return lam + self.config.winsor_z * np.sqrt(lam) + 1.0

    def decay(self, windows: int = 1) -> None:
        """Let ``windows`` windows pass without learning (a gap in the data)."""
        d, ds = self._decay**windows, self._season_decay**windows
        self._cache.clear()
        if windows > 0:
            self.last[:] = -1.0  # no pair of successive windows spans a gap
        self.level_obs *= d
        self.level_exp *= d
        self.season_obs *= ds
        self.season_base *= ds
        self.disp_num *= d
        self.disp_den *= d

    def learn(
        self,
        slot: int,
        y: np.ndarray,
        lam: np.ndarray,
        mask: np.ndarray,
        warming: bool = False,
        shift: tuple[np.ndarray, float] | None = None,
    ) -> None:
        """One window passes: the series in ``mask`` learn their (winsorised) counts;
        ``lam`` is what :meth:`expected` gave for this window. In a ``warming`` window (one
        of the first, while the levels settle) a series' first count is learned as it is,
        and nothing goes to the dispersion. ``shift`` is (series, half-life in windows):
        those series (a lasting change of level) learn their counts as they are and
        forget their past level: it weighs one window's worth when the shift starts or
        when their last few counts are too few for it (lower tail under
        :data:`DROP_ALPHA` over a :data:`DROP_DECAY` average), else no more than a memory
        of that half-life holds, and halves with each half-life; their levels are their
        own data, not shrunk towards their shares, and they teach the seasonal profile
        and the dispersion nothing.
        """
        factor = float(self.factors()[slot])
        shifted = None if shift is None else shift[0]
        # a lasting change of one series is that series' level, not the season's
        seasonal = mask if shifted is None else mask & ~shifted
        base = float(self.levels()[seasonal].sum())
        before, before_lam = self.last[mask], self.last_lam[mask]
        was_shifted, spread = self.shifted, self.dispersions()
        self.decay()  # a series that does not learn this window breaks its pairs
        self.shifted = np.zeros(self.n, dtype=bool) if shifted is None else shifted & mask
        self.drop[:, ~self.shifted] = 0.0
        if not mask.any():
            return
        settled = self.level_obs.sum() >= MIN_POOLED_COUNTS  # before, residuals show the prior
        ym, mu = np.asarray(y, dtype=float)[mask], lam[mask]
        yw = self.winsorise(ym, mu)
        if warming:  # a series' first window is its first level, not a deviation from a guess
            first = self.level_exp[mask] == 0
            yw[first] = ym[first]
        if shift is not None and shift[0].any():
            fast = shift[0] & mask
            # the past weighs at most what a memory of that half-life holds, and halves;
            # when the shift starts (the old level is the wrong one) and when the last few
            # counts are too low for the level (it has come back down), one window's worth
            decay = 0.5 ** (1.0 / shift[1])
            here = fast[mask]
            seen = self.drop[:, fast] * DROP_DECAY + [ym[here], mu[here]]
            low = 1.0 - upper_tail(seen[0] + 1, seen[1], spread[fast]) < DROP_ALPHA
            reset = low | ~was_shifted[fast]
            self.drop[:, fast] = np.where(reset, 0.0, seen)
            memory = np.where(reset, 1.0, 1.0 / (1.0 - decay))
            scale = decay * np.minimum(1.0, memory / np.maximum(self.level_exp[fast], 1e-12))
            self.level_obs[fast] *= scale
            self.level_exp[fast] *= scale
            yw[here] = ym[here]
        self.level_obs[mask] += yw
        self.level_exp[mask] += factor
        # the profile takes the total winsorised once more, so that a rise in every series
        # (each within its own bounds) does not pass for the season of a new slot
        keep = seasonal[mask]
        if keep.any():
            total = min(float(yw[keep].sum()), self.ceiling(float(mu[keep].sum())))
            self.season_obs[slot] += total
            self.season_base[slot] += base
        if warming:
            return
        if self.config.dispersion_from == "residuals":
            if settled:  # (a shifted series' residuals are its expectation catching up)
                yk, mk = yw[keep], mu[keep]
                self.disp_num += float(((yk - mk) ** 2 - yk).sum())
                self.disp_den += float((mk**2).sum())
            return
        self.last[mask], self.last_lam[mask] = yw, mu
        pair = (before >= 0) & keep  # (a shifted series' steps are its level moving)
        y1, y2, m1, m2 = before[pair], yw[pair], before_lam[pair], mu[pair]
        self.disp_num += float(((y2 - y1) ** 2 - y1 - y2 - (m2 - m1) ** 2).sum())
        self.disp_den += float((m1**2 + m2**2).sum())

    def to_state(self) -> dict[str, Any]:
        return {
            "level_obs": self.level_obs.tolist(),
            "level_exp": self.level_exp.tolist(),
            "season_obs": self.season_obs.tolist(),
            "season_base": self.season_base.tolist(),
            "disp": [self.disp_num, self.disp_den],
            "last": [self.last.tolist(), self.last_lam.tolist()],
            "shifted": self.shifted.tolist(),
            "drop": self.drop.tolist(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Take the learned numbers of :meth:`to_state` (same series and seasonality)."""
        arrays = {k: np.asarray(state[k], dtype=float) for k in ("level_obs", "level_exp")}
        season = {k: np.asarray(state[k], dtype=float) for k in ("season_obs", "season_base")}
        if any(a.shape != (self.n,) for a in arrays.values()) or any(
            a.shape != (self.seasonality.n_slots,) for a in season.values()
        ):
            raise ValueError("saved baseline has other series or seasonal slots")
        self._cache.clear()
        self.level_obs, self.level_exp = arrays["level_obs"], arrays["level_exp"]
        self.season_obs, self.season_base = season["season_obs"], season["season_base"]
        self.disp_num, self.disp_den = (float(v) for v in state["disp"])
        last = state.get("last") or [[-1.0] * self.n, [0.0] * self.n]  # saved before pairs
        self.last, self.last_lam = (np.asarray(v, dtype=float) for v in last)
        if self.last.shape != (self.n,) or self.last_lam.shape != (self.n,):
            raise ValueError("saved baseline has other series")
        self.shifted = np.asarray(state.get("shifted") or [False] * self.n, dtype=bool)
        self.drop = np.asarray(state.get("drop") or np.zeros((2, self.n)), dtype=float)
        if self.shifted.shape != (self.n,) or self.drop.shape != (2, self.n):
            raise ValueError("saved baseline has other series")


# --- one plain series ------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    """The verdict on one value of a series."""

    expected: float
    p_value: float
    score: float
    alert: bool


class SeriesDetector:
    """Temporal burst detector over one regular count series.

    Each value is scored against the seasonal baseline before it is learned (an upper-tail
    test); a value alerts when ``p < alpha``, it is at least ``min_count`` and the first
    ``warmup`` values are past. Alerting values are not learned. Without a ``baseline``
    configuration the dispersion comes from the residuals (``dispersion_from``): while the
    profile is young its errors widen the test; a given ``baseline`` says its own.

    >>> d = SeriesDetector(3_600_000, Seasonality("none"), warmup=5)
    >>> hour = 3_600_000
    >>> [d.update(i * hour, v).alert for i, v in enumerate([3, 4, 3, 5, 4, 3, 4, 30, 4])]
    [False, False, False, False, False, False, False, True, False]
    """

    def __init__(
        self,
        step_ms: int,
        seasonality: Seasonality | None = None,
        *,
        alpha: float = 0.01,
        min_count: float = 1.0,
        warmup: int = 24,
        baseline: BaselineConfig | None = None,
    ) -> None:
        validate(
            [
                ("step_ms", step_ms, step_ms >= 1, "must be >= 1"),
                ("alpha", alpha, 0 < alpha < 1, "must be in (0, 1)"),
                ("min_count", min_count, min_count >= 0, "must be >= 0"),
                ("warmup", warmup, warmup >= 0, "must be >= 0"),
            ]
        )
        self.step_ms = step_ms
        self.seasonality = seasonality or Seasonality("week")
        self.alpha = alpha
        self.min_count = min_count
        self.warmup = warmup
        self.baseline = SeasonalBaseline(
            baseline or BaselineConfig(dispersion_from="residuals"), self.seasonality, [1.0]
        )
        self.seen = 0
        self.last_ms: int | None = None

    def update(self, t_ms: int, value: float | None) -> SeriesPoint:
        """Score the value at ``t_ms`` (``None``/NaN: missing, neither scored nor learned)."""
        if self.last_ms is not None:
            if t_ms <= self.last_ms:
                raise InvalidRecord("time not increasing", f"{t_ms} after {self.last_ms}")
            self.baseline.decay((t_ms - self.last_ms) // self.step_ms - 1)
        self.last_ms = t_ms
        slot = self.seasonality.slot(t_ms, self.step_ms)
        lam = self.baseline.expected(slot)
        if value is None or not math.isfinite(value):
            self.baseline.decay()
            return SeriesPoint(float(lam[0]), math.nan, math.nan, False)
        if value < 0:
            raise InvalidRecord("negative count", f"{value} at {t_ms}")
        y = np.array([round(value)], dtype=float)
        p = float(upper_tail(y, lam, self.baseline.dispersions())[0])
        alert = self.seen >= self.warmup and p < self.alpha and value >= self.min_count
        self.baseline.learn(slot, y, lam, np.array([not alert]))
        self.seen += 1
        return SeriesPoint(float(lam[0]), p, score_from_p(p, self.alpha), bool(alert))

    def to_state(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "last_ms": self.last_ms,
            "seasonality": asdict(self.seasonality),
            "baseline": self.baseline.to_state(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        if Seasonality(**state["seasonality"]) != self.seasonality:
            raise ValueError("saved series state has another seasonality")
        self.seen = int(state["seen"])
        self.last_ms = None if state["last_ms"] is None else int(state["last_ms"])
        self.baseline.load_state(state["baseline"])


def infer_step_ms(times_ms: Sequence[int]) -> int:
    """The step of a regular series: its smallest gap, which every gap must be a multiple
    of (a longer gap is missing rows).

    >>> infer_step_ms([0, 60, 120, 240])
    60
    >>> infer_step_ms([0, 60, 100])
    Traceback (most recent call last):
    ...
    models.errors.InvalidRecord: irregular series: gap 60 is not a multiple of the step 40
    """
    t = np.asarray(times_ms, dtype=np.int64)
    if t.size < 2:
        raise InvalidRecord("series too short", f"{t.size} row(s)")
    gaps = np.diff(t)
    if np.any(gaps <= 0):
        raise InvalidRecord("time not increasing", f"at row {int(np.argmax(gaps <= 0)) + 1}")
    step = int(gaps.min())
    bad = gaps[gaps % step != 0]
    if bad.size:
        raise InvalidRecord(
            "irregular series", f"gap {int(bad[0])} is not a multiple of the step {step}"
        )
    return step


def seasonality_for(period: str | int, step_ms: int, calendar: bool) -> Seasonality:
    """The seasonality for ``--period``: ``auto`` uses the UTC calendar when times are
    dates (hour of week below a day, day of week for daily data, none above), ``none``
    is flat, an integer ``N`` is a cycle of ``N`` steps.

    >>> seasonality_for("auto", 3_600_000, calendar=True).kind
    'week'
    >>> seasonality_for("auto", DAY_MS, calendar=True).kind, seasonality_for(12, 1, False)
    ('weekday', Seasonality(kind='cycle', period=12))
    """
    if isinstance(period, int) or (isinstance(period, str) and period.isdigit()):
        return Seasonality("cycle", int(period))
    if period == "none" or (period == "auto" and not calendar):
        return Seasonality("none")
    if period != "auto":
        raise ConfigError("period", period, "must be auto, none or a whole number >= 2")
    if step_ms < DAY_MS:
        return Seasonality("week")
    if step_ms == DAY_MS:
        return Seasonality("weekday")
    return Seasonality("none")


def score_series(
    times_ms: Sequence[int],
    values: Sequence[float | None],
    *,
    period: str | int = "auto",
    calendar: bool = True,
    alpha: float = 0.01,
    min_count: float = 1.0,
    warmup: int | None = None,
) -> list[SeriesPoint]:
    """Run a fresh :class:`SeriesDetector` over a regular series, one verdict per value.

    ``warmup`` defaults to a day of steps for calendar seasonality, a cycle for a cycle,
    and at least 12 values.

    >>> pts = score_series([i * 60_000 for i in range(40)], [2] * 30 + [40] + [2] * 9,
    ...                    period="none")
    >>> [i for i, p in enumerate(pts) if p.alert], pts[30].score > 0.5
    ([30], True)
    """
    step = infer_step_ms(times_ms)
    season = seasonality_for(period, step, calendar)
    if warmup is None:
        span = {"week": DAY_MS // step, "cycle": season.period}.get(season.kind, 0)
        warmup = max(12, span)
    detector = SeriesDetector(step, season, alpha=alpha, min_count=min_count, warmup=warmup)
    return [
        detector.update(int(t), None if v is None else float(v))
        for t, v in zip(times_ms, values, strict=True)
    ]
