"""Reference detectors, to measure the project's detector against on the same stream.

Each follows the detector contract of :mod:`models.detect`: built from checked
hyper-parameters and the region list, ``observe(post)`` counts distinct authors per
region and tumbling window (a repost counts only through its original, so a repost wave
counts once), ``advance(watermark_ms)`` closes the windows that ended and returns alert
events (opened / updated / resolved) in region order, warm-up windows never alert,
windows that alerted (or belong to an open alert) are not learned from, and
``to_state()`` / ``from_state()`` round-trip everything.

* :class:`ThresholdDetector`: more than ``threshold`` distinct authors in a region over
  the last ``span_ms`` (by default more than 10 in 20 minutes); learns nothing.
* :class:`TimeOfDayDetector`: Downdetector-style; a region's typical count for each hour
  of day is learned from its history, and a window alerts when its count is above
  ``k`` times that and at least ``floor``.
* :class:`PoissonDetector`: a plain per-region Poisson test with no space-time scan and
  no seasonality; the region's own discounted mean count, Bonferroni over the regions.

An alert's ``expected`` is the level the count was compared with (the threshold, the
typical count, the Poisson mean). Its ``p_value`` follows the contract (significant iff
``p_value < alpha``): the Bonferroni-adjusted upper tail for the Poisson baseline, and 0
when the rule holds (1 when not) for the two rule-based ones, which have no null model.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from scipy.stats import poisson

from models.detect import Cell
from models.errors import ConfigError
from models.records import SEVERITIES, Alert, RelevantPost

HOURS = 24
MAJOR_EXCESS = 10
CRITICAL_EXCESS = 30
Regions = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class BaselineConfig:
    """Hyper-parameters every baseline has; each is checked when built."""

    window_ms: int = 300_000
    warmup_windows: int = 0
    resolve_windows: int = 3
    max_samples: int = 5

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            ("window_ms", self.window_ms >= 1000, "must be >= 1000"),
            ("warmup_windows", self.warmup_windows >= 0, "must be >= 0"),
            ("resolve_windows", self.resolve_windows >= 1, "must be >= 1"),
            ("max_samples", self.max_samples >= 0, "must be >= 0"),
        ]

    def __post_init__(self) -> None:
        for name, ok, problem in self.checks():
            if not ok:
                raise ConfigError(name, getattr(self, name), problem)


@dataclass(frozen=True)
class ThresholdConfig(BaselineConfig):
    """More than ``threshold`` distinct authors over ``span_ms``.

    >>> ThresholdConfig(span_ms=1_000_000)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: span_ms=1000000: must be a positive multiple of window_ms
    """

    span_ms: int = 1_200_000
    threshold: int = 10

    def checks(self) -> list[tuple[str, bool, str]]:
        multiple = self.span_ms >= self.window_ms and self.span_ms % self.window_ms == 0
        return [
            *super().checks(),
            ("span_ms", multiple, "must be a positive multiple of window_ms"),
            ("threshold", self.threshold >= 0, "must be >= 0"),
        ]


@dataclass(frozen=True)
class TimeOfDayConfig(BaselineConfig):
    """Alert when the count is above ``k`` x the hour's typical count and >= ``floor``;
    the typical count is a discounted mean with a half-life of ``half_life_days``.

    >>> TimeOfDayConfig(k=0.5)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: k=0.5: must be >= 1
    """

    warmup_windows: int = 288
    k: float = 3.0
    floor: int = 5
    half_life_days: float = 7.0

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            *super().checks(),
            ("k", self.k >= 1.0, "must be >= 1"),
            ("floor", self.floor >= 1, "must be >= 1"),
            ("half_life_days", self.half_life_days > 0, "must be > 0"),
        ]


@dataclass(frozen=True)
class PoissonConfig(BaselineConfig):
    """One-sided Poisson test at ``alpha / n_regions_tested`` with at least
    ``min_authors``; the mean is the region's discounted mean count, shrunk towards
    ``prior_rate`` with the weight of ``prior_weight`` windows.

    >>> PoissonConfig(alpha=0.0)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: alpha=0.0: must be in (0, 1)
    """

    warmup_windows: int = 12
    alpha: float = 0.01
    n_regions_tested: int = 1
    min_authors: int = 3
    prior_rate: float = 0.05
    prior_weight: float = 12.0
    half_life_windows: float = 2016.0

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            *super().checks(),
            ("alpha", 0.0 < self.alpha < 1.0, "must be in (0, 1)"),
            ("n_regions_tested", self.n_regions_tested >= 1, "must be >= 1"),
            ("min_authors", self.min_authors >= 1, "must be >= 1"),
            ("prior_rate", self.prior_rate > 0, "must be > 0"),
            ("prior_weight", self.prior_weight > 0, "must be > 0"),
            ("half_life_windows", self.half_life_windows > 0, "must be > 0"),
        ]


def pack(values: np.ndarray) -> str:
    """A float array as base64 text (little-endian float64): exact, and as long for a
    region that has seen nothing as for one with a long history.

    >>> unpack(pack(np.array([0.1, 2.0]))).tolist()
    [0.1, 2.0]
    """
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode()


def unpack(text: str) -> np.ndarray:
    """The flat float array saved by :func:`pack`."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(float)


@dataclass
class _Open:
    """An open alert of one region."""

    alert_id: str
    first_post_at_ms: int
    peak: int
    severity: str
    category: str
    quiet: int = 0


C = TypeVar("C", bound=BaselineConfig)


class WindowDetector(Generic[C]):
    """Windows, distinct authors, the alert lifecycle and state, shared by the baselines.

    A subclass says what it compares (:meth:`_measure`), when that alerts (:meth:`_rule`,
    or :meth:`_test` for a statistical test) and what it learns (:meth:`_learn`,
    :meth:`_model_state`, :meth:`_load_model`).
    """

    name: ClassVar[str] = "window"

    def __init__(self, config: C, regions: Regions) -> None:
        self.config = config
        self.region_ids = [r for r, _ in regions]
        self.region_names = dict(regions)
        self._index = {r: i for i, r in enumerate(self.region_ids)}
        if len(self._index) != len(self.region_ids):
            raise ConfigError("regions", len(self.region_ids), "region ids must be unique")
        self.start_ms: int | None = None
        self.next_window_ms: int | None = None
        self.windows_closed = 0
        self.pending: dict[int, dict[int, Cell]] = {}
        self.open: dict[int, _Open] = {}
        self.late_posts = 0

    # --- contract ---------------------------------------------------------------------------

    def observe(self, post: RelevantPost) -> bool:
        """Count one relevant post; False if it is late or in no region of this detector.
        A repost is accepted but not counted (its original is)."""
        index = self._index.get(post.region_id) if post.region_id is not None else None
        if index is None:
            return False
        size = self.config.window_ms
        window = post.created_at_ms - post.created_at_ms % size
        if self.next_window_ms is None or (
            self.windows_closed == 0 and window < self.next_window_ms
        ):
            self.start_ms = self.next_window_ms = window
        elif window < self.next_window_ms:
            self.late_posts += 1
            return False
        if not post.is_repost:
            cell = self.pending.setdefault(window, {}).setdefault(index, Cell())
            cell.add(post, self.config.max_samples)
        return True

    def advance(self, watermark_ms: int) -> list[Alert]:
        """Close every window that ends at or before ``watermark_ms``; return alert events."""
        alerts: list[Alert] = []
        size = self.config.window_ms
        while self.next_window_ms is not None and self.next_window_ms + size <= watermark_ms:
            alerts.extend(self._close(self.next_window_ms))
            self.next_window_ms += size
        return alerts

    def to_state(self) -> dict[str, Any]:
        """Everything the detector knows, as JSON-ready data."""
        ids = self.region_ids
        return {
            "detector": self.name,
            "region_ids": list(ids),
            "start_ms": self.start_ms,
            "next_window_ms": self.next_window_ms,
            "windows_closed": self.windows_closed,
            "pending": {
                str(w): {ids[i]: c.to_state() for i, c in sorted(cells.items())}
                for w, cells in sorted(self.pending.items())
            },
            "open": {ids[i]: asdict(o) for i, o in sorted(self.open.items())},
            "late_posts": self.late_posts,
            "model": self._model_state(),
        }

    @classmethod
    def from_state(cls, config: C, regions: Regions, state: Mapping[str, Any]) -> WindowDetector[C]:
        d = cls(config, regions)
        if state.get("detector") != cls.name or list(state["region_ids"]) != d.region_ids:
            raise ValueError(f"{cls.name}: saved state is for another detector or other regions")
        d.start_ms = state["start_ms"]
        d.next_window_ms = state["next_window_ms"]
        d.windows_closed = int(state["windows_closed"])
        d.pending = {
            int(w): {d._index[r]: Cell.from_state(c) for r, c in cells.items()}
            for w, cells in state["pending"].items()
        }
        d.open = {d._index[r]: _Open(**o) for r, o in state["open"].items()}
        d.late_posts = int(state["late_posts"])
        d._load_model(state["model"])
        return d

    # --- what subclasses decide -----------------------------------------------------------

    def _measure(
        self, window_ms: int, authors: Mapping[int, set[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(observed, expected) per region for the window being closed."""
        raise NotImplementedError

    def _rule(self, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Which regions are over the line (before the warm-up is applied)."""
        raise NotImplementedError

    def _test(self, observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(over the line, p-value) per region: p is 0 where the rule holds, else 1."""
        flagged = self._rule(observed, expected)
        return flagged, np.where(flagged, 0.0, 1.0)

    def _learn(self, window_ms: int, counts: np.ndarray, learn: np.ndarray) -> None:
        """Take the window's per-region distinct-author counts where ``learn`` is set."""

    def _model_state(self) -> dict[str, Any]:
        return {}

    def _load_model(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`_model_state` saved."""

    # --- shared machinery -----------------------------------------------------------------

    def _close(self, window_ms: int) -> list[Alert]:
        cells = self.pending.pop(window_ms, {})
        counts = np.zeros(len(self.region_ids))
        for i, cell in cells.items():
            counts[i] = len(cell.authors)
        observed, expected = self._measure(window_ms, {i: set(c.authors) for i, c in cells.items()})
        flagged, p = self._test(observed, expected)
        flagged &= self.windows_closed >= self.config.warmup_windows
        learn = np.ones(len(self.region_ids), dtype=bool)
        alerts: list[Alert] = []
        open_now = np.zeros(len(self.region_ids), dtype=bool)
        open_now[list(self.open)] = True
        for i in np.flatnonzero(flagged | open_now).tolist():
            learn[i] = False
            event = self._lifecycle(
                i, window_ms, bool(flagged[i]), int(observed[i]), float(expected[i]),
                float(p[i]), cells.get(i),
            )  # fmt: skip
            if event is not None:
                alerts.append(event)
        self._learn(window_ms, counts, learn)
        self.windows_closed += 1
        return alerts

    def _lifecycle(
        self,
        i: int,
        window_ms: int,
        flagged: bool,
        observed: int,
        expected: float,
        p_value: float,
        cell: Cell | None,
    ) -> Alert | None:
        state = self.open.get(i)
        excess = observed - expected
        severity = (
            "critical"
            if excess >= CRITICAL_EXCESS
            else "major"
            if excess >= MAJOR_EXCESS
            else "minor"
        )
        if flagged:
            if state is None:
                region = self.region_ids[i]
                key = f"{self.name}|{region}|{window_ms}".encode()
                state = _Open(
                    alert_id=hashlib.sha256(key).hexdigest()[:20],
                    first_post_at_ms=cell.first_ms
                    if cell and cell.first_ms is not None
                    else window_ms,
                    peak=observed,
                    severity=severity,
                    category=cell.categories.most_common(1)[0][0]
                    if cell and cell.categories
                    else "mobile_data",
                )
                self.open[i] = state
                status = "opened"
            else:
                state.quiet = 0
                worse = SEVERITIES.index(severity) > SEVERITIES.index(state.severity)
                if observed <= state.peak and not worse:
                    return None
                state.peak = max(state.peak, observed)
                state.severity = max(state.severity, severity, key=SEVERITIES.index)
                status = "updated"
        else:
            if state is None:
                return None
            state.quiet += 1
            if state.quiet < self.config.resolve_windows:
                return None
            del self.open[i]
            status = "resolved"
        region = self.region_ids[i]
        size = self.config.window_ms
        return Alert(
            alert_id=state.alert_id,
            status=status,
            severity=state.severity,
            category=state.category,
            region_ids=(region,),
            region_names=(self.region_names[region],),
            geometry=None,
            window_start_ms=window_ms,
            window_end_ms=window_ms + size,
            first_post_at_ms=state.first_post_at_ms,
            detected_at_ms=window_ms + size,
            observed=observed,
            expected=round(expected, 6),
            score=round(min(1.0, -math.log10(max(p_value, 1e-300)) / 30), 6),
            p_value=p_value,
            distinct_authors=observed,
            sample_post_ids=tuple(i for _, i in cell.samples) if cell else (),
        )


class ThresholdDetector(WindowDetector[ThresholdConfig]):
    """More than ``threshold`` distinct authors in a region over the last ``span_ms``.

    >>> d = ThresholdDetector(ThresholdConfig(window_ms=60_000, span_ms=120_000, threshold=3),
    ...                       [("r1", "North")])
    >>> def post(i, minute):
    ...     return RelevantPost(f"p{i}", minute * 60_000, f"a{i}", "z", "r1", "voice", None, 1.0,
    ...                         "place")
    >>> for i in range(4):
    ...     _ = d.observe(post(i, minute=i % 2))  # 2 authors in minute 0, 2 in minute 1
    >>> [(a.status, a.observed) for a in d.advance(2 * 60_000)]
    [('opened', 4)]
    """

    name = "threshold"

    def __init__(self, config: ThresholdConfig, regions: Regions) -> None:
        super().__init__(config, regions)
        self.recent: list[dict[int, set[str]]] = []

    def _measure(
        self, window_ms: int, authors: Mapping[int, set[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        observed = np.zeros(len(self.region_ids))
        regions = set(authors).union(*self.recent)
        for i in regions:
            observed[i] = len(set(authors.get(i, ())).union(*(w.get(i, ()) for w in self.recent)))
        keep = cfg.span_ms // cfg.window_ms - 1
        self.recent = [*self.recent, dict(authors)][-keep:] if keep else []
        return observed, np.full(len(self.region_ids), float(cfg.threshold))

    def _rule(self, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        flagged: np.ndarray = observed > expected
        return flagged

    def _model_state(self) -> dict[str, Any]:
        ids = self.region_ids
        return {"recent": [{ids[i]: sorted(a) for i, a in sorted(w.items())} for w in self.recent]}

    def _load_model(self, state: Mapping[str, Any]) -> None:
        self.recent = [{self._index[r]: set(a) for r, a in w.items()} for w in state["recent"]]


class TimeOfDayDetector(WindowDetector[TimeOfDayConfig]):
    """Above ``k`` x the region's typical count for this hour of day (UTC) and >= ``floor``.

    >>> cfg = TimeOfDayConfig(window_ms=3_600_000, warmup_windows=24, k=3.0, floor=3)
    >>> d = TimeOfDayDetector(cfg, [("r1", "North")])
    >>> def post(i, hour):
    ...     return RelevantPost(f"p{i}", hour * 3_600_000, f"a{i}", "z", "r1", "voice", None,
    ...                         1.0, "place")
    >>> for h in range(24):  # one complainer an hour for a day
    ...     _ = d.observe(post(h, h))
    >>> d.advance(24 * 3_600_000)
    []
    >>> for i in range(4):
    ...     _ = d.observe(post(100 + i, 24))
    >>> [(a.status, a.observed, a.expected) for a in d.advance(25 * 3_600_000)]
    [('opened', 4, 1.0)]
    """

    name = "time_of_day"

    def __init__(self, config: TimeOfDayConfig, regions: Regions) -> None:
        super().__init__(config, regions)
        n = len(self.region_ids)
        self.sums = np.zeros((n, HOURS))
        self.weights = np.zeros((n, HOURS))
        per_hour = max(1.0, 3_600_000 / config.window_ms)
        self.decay = 0.5 ** (1.0 / (config.half_life_days * per_hour))

    def typical(self, hour: int) -> np.ndarray:
        """The learned count per region for windows starting in ``hour`` (0 if unseen)."""
        w = self.weights[:, hour]
        typical: np.ndarray = np.divide(self.sums[:, hour], w, out=np.zeros_like(w), where=w > 0)
        return typical

    def _measure(
        self, window_ms: int, authors: Mapping[int, set[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        observed = np.zeros(len(self.region_ids))
        for i, a in authors.items():
            observed[i] = len(a)
        return observed, self.typical((window_ms // 3_600_000) % HOURS)

    def _rule(self, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        cfg = self.config
        flagged: np.ndarray = (observed > cfg.k * expected) & (observed >= cfg.floor)
        return flagged

    def _learn(self, window_ms: int, counts: np.ndarray, learn: np.ndarray) -> None:
        hour = (window_ms // 3_600_000) % HOURS
        self.sums[learn, hour] = self.sums[learn, hour] * self.decay + counts[learn]
        self.weights[learn, hour] = self.weights[learn, hour] * self.decay + 1.0

    def _model_state(self) -> dict[str, Any]:
        return {"sums": pack(self.sums), "weights": pack(self.weights)}

    def _load_model(self, state: Mapping[str, Any]) -> None:
        self.sums = unpack(state["sums"]).reshape(-1, HOURS)
        self.weights = unpack(state["weights"]).reshape(-1, HOURS)


class PoissonDetector(WindowDetector[PoissonConfig]):
    """Per-region Poisson upper tail on a discounted mean count; no scan, no seasonality.

    >>> cfg = PoissonConfig(window_ms=60_000, warmup_windows=5, n_regions_tested=2)
    >>> d = PoissonDetector(cfg, [("r1", "North"), ("r2", "South")])
    >>> def post(i, minute):
    ...     return RelevantPost(f"p{i}", minute * 60_000, f"a{i}", "z", "r1", "voice", None,
    ...                         1.0, "place")
    >>> for m in range(10):
    ...     _ = d.observe(post(m, m))
    >>> d.advance(10 * 60_000)
    []
    >>> for i in range(8):
    ...     _ = d.observe(post(100 + i, 10))
    >>> [(a.status, a.region_ids, a.observed) for a in d.advance(11 * 60_000)]
    [('opened', ('r1',), 8)]
    """

    name = "poisson"

    def __init__(self, config: PoissonConfig, regions: Regions) -> None:
        super().__init__(config, regions)
        n = len(self.region_ids)
        self.level_sum = np.zeros(n)
        self.level_weight = np.zeros(n)
        self.decay = 0.5 ** (1.0 / config.half_life_windows)

    def expected(self) -> np.ndarray:
        """The Poisson mean per region for the next window."""
        cfg = self.config
        lam: np.ndarray = (self.level_sum + cfg.prior_rate * cfg.prior_weight) / (
            self.level_weight + cfg.prior_weight
        )
        return lam

    def _measure(
        self, window_ms: int, authors: Mapping[int, set[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        observed = np.zeros(len(self.region_ids))
        for i, a in authors.items():
            observed[i] = len(a)
        return observed, self.expected()

    def _test(self, observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bonferroni-adjusted Poisson upper tail; significant below ``alpha``."""
        cfg = self.config
        tail = np.where(observed > 0, poisson.sf(observed - 1, np.maximum(expected, 1e-3)), 1.0)
        p: np.ndarray = np.minimum(1.0, tail * cfg.n_regions_tested)
        return (p < cfg.alpha) & (observed >= cfg.min_authors), p

    def _learn(self, window_ms: int, counts: np.ndarray, learn: np.ndarray) -> None:
        self.level_sum *= self.decay
        self.level_weight *= self.decay
        self.level_sum[learn] += counts[learn]
        self.level_weight[learn] += 1.0

    def _model_state(self) -> dict[str, Any]:
        return {"level_sum": pack(self.level_sum), "level_weight": pack(self.level_weight)}

    def _load_model(self, state: Mapping[str, Any]) -> None:
        self.level_sum = unpack(state["level_sum"])
        self.level_weight = unpack(state["level_weight"])
