"""Per-region burst detection on distinct complainers, with an alert lifecycle.

A :class:`ZoneDetector` owns the regions of one zone. Relevant posts are counted per
region and tumbling window as *distinct authors*; when the event-time watermark passes a
window's end the window is closed and each region is tested:

* expected count ``λ = level(region) × season(hour of day)``, where ``level`` is a
  discounted mean of the region's past (de-seasonalised) counts shrunk towards the zone's
  mean, and ``season`` is a per-zone hour-of-day profile learned the same way;
* one-sided Poisson upper tail ``p = P(X >= y | λ)``, significant when
  ``p < alpha / n_regions_tested`` (Bonferroni over every region of the region set) and
  ``y >= min_authors``;
* windows that alert, or belong to an open alert, are not learned from, so bursts do not
  inflate the baseline; the first ``warmup_windows`` windows learn but never alert.

An alert is *opened* on the first significant window, *updated* when it grows or changes
severity, and *resolved* after ``resolve_windows`` windows in a row that are not even
nominally elevated (``p >= alpha``). Alert ids hash the zone, region and opening window,
so a replay or a restart yields the same ids.

The detector is pure: time comes only from the posts and the watermark, and
``to_state()`` / ``from_state()`` round-trip everything it knows.
"""

from __future__ import annotations

import hashlib
import math
from bisect import insort
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import poisson

from models.errors import ConfigError
from models.records import SEVERITIES, Alert, RelevantPost

HOURS = 24
GeometryFn = Callable[[Sequence[str]], Mapping[str, Any] | None]


@dataclass(frozen=True)
class DetectorConfig:
    """Hyper-parameters of the temporal detector; each is checked when built.

    >>> DetectorConfig(window_ms=60_000).window_ms
    60000
    >>> DetectorConfig(alpha=2.0)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: alpha=2.0: must be in (0, 1)
    """

    window_ms: int = 300_000
    alpha: float = 0.01
    min_authors: int = 3
    warmup_windows: int = 12
    resolve_windows: int = 3
    n_regions_tested: int = 1
    prior_rate: float = 0.1
    prior_weight: float = 12.0
    half_life_windows: float = 2016.0
    season_weight: float = 20.0
    major_excess: int = 10
    critical_excess: int = 30
    max_samples: int = 5

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("window_ms", self.window_ms >= 1000, "must be >= 1000"),
            ("alpha", 0.0 < self.alpha < 1.0, "must be in (0, 1)"),
            ("min_authors", self.min_authors >= 1, "must be >= 1"),
            ("warmup_windows", self.warmup_windows >= 0, "must be >= 0"),
            ("resolve_windows", self.resolve_windows >= 1, "must be >= 1"),
            ("n_regions_tested", self.n_regions_tested >= 1, "must be >= 1"),
            ("prior_rate", self.prior_rate > 0, "must be > 0"),
            ("prior_weight", self.prior_weight > 0, "must be > 0"),
            ("half_life_windows", self.half_life_windows > 0, "must be > 0"),
            ("season_weight", self.season_weight > 0, "must be > 0"),
            ("major_excess", self.major_excess >= 1, "must be >= 1"),
            ("critical_excess", self.critical_excess > self.major_excess, "must be > major"),
            ("max_samples", self.max_samples >= 0, "must be >= 0"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), problem)

    @property
    def threshold(self) -> float:
        """Per-region significance level after the Bonferroni correction."""
        return self.alpha / self.n_regions_tested

    @property
    def decay(self) -> float:
        return 0.5 ** (1.0 / self.half_life_windows)


@dataclass
class _Cell:
    """What one region saw in one open window."""

    authors: set[str] = field(default_factory=set)
    samples: list[tuple[int, str]] = field(default_factory=list)
    categories: Counter[str] = field(default_factory=Counter)
    first_ms: int | None = None

    def add(self, post: RelevantPost, max_samples: int) -> None:
        self.authors.add(post.author_hash)
        self.categories[post.category] += 1
        if self.first_ms is None or post.created_at_ms < self.first_ms:
            self.first_ms = post.created_at_ms
        item = (post.created_at_ms, post.post_id)
        if (
            max_samples
            and item not in self.samples
            and (len(self.samples) < max_samples or item < self.samples[-1])
        ):
            insort(self.samples, item)
            del self.samples[max_samples:]

    def to_state(self) -> dict[str, Any]:
        return {
            "authors": sorted(self.authors),
            "samples": [list(s) for s in self.samples],
            "categories": dict(sorted(self.categories.items())),
            "first_ms": self.first_ms,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _Cell:
        return cls(
            authors=set(state["authors"]),
            samples=[(int(t), str(i)) for t, i in state["samples"]],
            categories=Counter({str(k): int(v) for k, v in state["categories"].items()}),
            first_ms=state["first_ms"],
        )


@dataclass
class _Open:
    """An open alert of one region."""

    alert_id: str
    opened_window_ms: int
    first_post_at_ms: int
    peak: int
    severity: str
    category: str
    quiet: int = 0


class ZoneDetector:
    """Temporal burst detector for the regions of one zone.

    >>> cfg = DetectorConfig(window_ms=60_000, warmup_windows=2, n_regions_tested=2)
    >>> d = ZoneDetector(cfg, "z0", [("r1", "North"), ("r2", "South")])
    >>> t0 = 1_700_000_040_000
    >>> def post(i, minute, region="r1"):
    ...     return RelevantPost(f"p{i}", t0 + minute * 60_000, f"a{i}", "z0", region,
    ...                         "mobile_data", "en", 0.9, "coordinates")
    >>> for i in range(10):
    ...     _ = d.observe(post(i, minute=i))
    >>> d.advance(t0 + 20 * 60_000)
    []
    >>> for i in range(12):
    ...     _ = d.observe(post(100 + i, minute=20))
    >>> [(a.status, a.region_ids, a.observed) for a in d.advance(t0 + 21 * 60_000)]
    [('opened', ('r1',), 12)]
    """

    def __init__(
        self,
        config: DetectorConfig,
        zone_id: str,
        regions: Sequence[tuple[str, str]],
        geometry: GeometryFn | None = None,
    ) -> None:
        self.config = config
        self.zone_id = zone_id
        self.region_ids = [r for r, _ in regions]
        self.region_names = {r: n for r, n in regions}
        self._index = {r: i for i, r in enumerate(self.region_ids)}
        self._geometry = geometry
        n = len(self.region_ids)
        self.start_ms: int | None = None
        self.next_window_ms: int | None = None
        self.windows_closed = 0
        self.level_sum = np.zeros(n)
        self.level_weight = np.zeros(n)
        self.season_sum = np.zeros(HOURS)
        self.season_weight = np.zeros(HOURS)
        self.pending: dict[int, dict[str, _Cell]] = {}
        self.open: dict[str, _Open] = {}
        self.late_posts = 0

    # --- input --------------------------------------------------------------------------

    def observe(self, post: RelevantPost) -> bool:
        """Count one relevant post; False if it is late (its window already closed) or
        belongs to no region of this zone."""
        if post.region_id is None or post.region_id not in self._index:
            return False
        window = post.created_at_ms - post.created_at_ms % self.config.window_ms
        if self.start_ms is None or (self.windows_closed == 0 and window < self.start_ms):
            self.start_ms = self.next_window_ms = window
        elif self.next_window_ms is not None and window < self.next_window_ms:
            self.late_posts += 1
            return False
        cells = self.pending.setdefault(window, {})
        cell = cells.get(post.region_id)
        if cell is None:
            cell = cells[post.region_id] = _Cell()
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

    # --- model --------------------------------------------------------------------------

    def _season(self, hour: int) -> float:
        """Hour-of-day factor, shrunk towards 1 while the profile is young."""
        w = self.config.season_weight
        total_w = self.season_weight.sum()
        if total_w <= 0:
            return 1.0
        mean = self.season_sum.sum() / total_w
        if mean <= 0:
            return 1.0
        hour_mean = self.season_sum[hour] / max(self.season_weight[hour], 1e-12)
        raw = hour_mean / mean if self.season_weight[hour] > 0 else 1.0
        k = self.season_weight[hour]
        return float((k * raw + w) / (k + w))

    def expected(self, hour: int) -> np.ndarray:
        """Expected distinct authors per region for a window starting at ``hour`` (UTC)."""
        cfg = self.config
        zone_mean = (self.level_sum.sum() + cfg.prior_rate * cfg.prior_weight) / (
            self.level_weight.sum() + cfg.prior_weight
        )
        level = (self.level_sum + cfg.prior_weight * zone_mean) / (
            self.level_weight + cfg.prior_weight
        )
        lam: np.ndarray = np.maximum(level * self._season(hour), 1e-3)
        return lam

    def _close(self, window_ms: int) -> list[Alert]:
        cfg = self.config
        cells = self.pending.pop(window_ms, {})
        hour = (window_ms // 3_600_000) % HOURS
        y = np.zeros(len(self.region_ids))
        for region, cell in cells.items():
            y[self._index[region]] = len(cell.authors)
        lam = self.expected(hour)
        p = np.where(y > 0, poisson.sf(y - 1, lam), 1.0)
        warm = self.windows_closed >= cfg.warmup_windows
        significant = (p < cfg.threshold) & (y >= cfg.min_authors) & warm
        alerts: list[Alert] = []
        learn = np.ones(len(self.region_ids), dtype=bool)
        for i in np.flatnonzero(significant | np.isin(self.region_ids, list(self.open))):
            region = self.region_ids[i]
            event = self._lifecycle(
                region,
                window_ms,
                bool(significant[i]),
                int(y[i]),
                float(lam[i]),
                float(p[i]),
                cells.get(region),
            )
            learn[i] = False
            if event is not None:
                alerts.append(event)
        self._learn(y, lam, learn, hour)
        self.windows_closed += 1
        return alerts

    def _learn(self, y: np.ndarray, lam: np.ndarray, learn: np.ndarray, hour: int) -> None:
        decay = self.config.decay
        season = self._season(hour)
        self.level_sum *= decay
        self.level_weight *= decay
        self.level_sum[learn] += y[learn] / season
        self.level_weight[learn] += 1.0
        if learn.any():
            # the profile learns the zone's observed-to-level ratio at this hour
            base = float((lam[learn] / season).sum())
            self.season_sum *= decay
            self.season_weight *= decay
            self.season_sum[hour] += float(y[learn].sum()) / max(base, 1e-9)
            self.season_weight[hour] += 1.0

    def _severity(self, observed: int, expected: float) -> str:
        excess = observed - expected
        if excess >= self.config.critical_excess:
            return "critical"
        if excess >= self.config.major_excess:
            return "major"
        return "minor"

    def _lifecycle(
        self,
        region: str,
        window_ms: int,
        significant: bool,
        observed: int,
        expected: float,
        p_value: float,
        cell: _Cell | None,
    ) -> Alert | None:
        cfg = self.config
        state = self.open.get(region)
        severity = self._severity(observed, expected)
        category = cell.categories.most_common(1)[0][0] if cell and cell.categories else None
        if significant:
            if state is None:
                assert cell is not None  # significant implies posts
                key = f"{self.zone_id}|{region}|{window_ms}".encode()
                state = _Open(
                    alert_id=hashlib.sha256(key).hexdigest()[:20],
                    opened_window_ms=window_ms,
                    first_post_at_ms=cell.first_ms if cell.first_ms is not None else window_ms,
                    peak=observed,
                    severity=severity,
                    category=category or "mobile_data",
                )
                self.open[region] = state
                status = "opened"
            else:
                state.quiet = 0
                grew = observed > state.peak
                worse = SEVERITIES.index(severity) > SEVERITIES.index(state.severity)
                if not (grew or worse):
                    return None
                state.peak = max(state.peak, observed)
                state.severity = max(state.severity, severity, key=SEVERITIES.index)
                status = "updated"
        else:
            if state is None:
                return None
            if p_value < cfg.alpha:
                state.quiet = 0
                return None
            state.quiet += 1
            if state.quiet < cfg.resolve_windows:
                return None
            del self.open[region]
            status = "resolved"
        return Alert(
            alert_id=state.alert_id,
            status=status,
            severity=state.severity,
            category=state.category,
            region_ids=(region,),
            region_names=(self.region_names[region],),
            geometry=self._geometry((region,)) if self._geometry else None,
            window_start_ms=window_ms,
            window_end_ms=window_ms + cfg.window_ms,
            first_post_at_ms=state.first_post_at_ms,
            detected_at_ms=window_ms + cfg.window_ms,
            observed=observed,
            expected=round(expected, 6),
            score=round(min(1.0, -math.log10(max(p_value, 1e-300)) / 30), 6),
            p_value=float(p_value),
            distinct_authors=observed,
            sample_post_ids=tuple(i for _, i in cell.samples) if cell else (),
        )

    # --- state --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything the detector knows, as JSON-ready data."""
        return {
            "zone_id": self.zone_id,
            "region_ids": list(self.region_ids),
            "start_ms": self.start_ms,
            "next_window_ms": self.next_window_ms,
            "windows_closed": self.windows_closed,
            "level_sum": self.level_sum.tolist(),
            "level_weight": self.level_weight.tolist(),
            "season_sum": self.season_sum.tolist(),
            "season_weight": self.season_weight.tolist(),
            "pending": {
                str(w): {r: c.to_state() for r, c in sorted(cells.items())}
                for w, cells in sorted(self.pending.items())
            },
            "open": {r: asdict(o) for r, o in sorted(self.open.items())},
            "late_posts": self.late_posts,
        }

    @classmethod
    def from_state(
        cls,
        config: DetectorConfig,
        regions: Sequence[tuple[str, str]],
        state: Mapping[str, Any],
        geometry: GeometryFn | None = None,
    ) -> ZoneDetector:
        d = cls(config, str(state["zone_id"]), regions, geometry)
        if list(state["region_ids"]) != d.region_ids:
            raise ValueError(f"zone {d.zone_id}: saved state is for other regions")
        d.start_ms = state["start_ms"]
        d.next_window_ms = state["next_window_ms"]
        d.windows_closed = int(state["windows_closed"])
        d.level_sum = np.asarray(state["level_sum"], dtype=float)
        d.level_weight = np.asarray(state["level_weight"], dtype=float)
        d.season_sum = np.asarray(state["season_sum"], dtype=float)
        d.season_weight = np.asarray(state["season_weight"], dtype=float)
        d.pending = {
            int(w): {r: _Cell.from_state(c) for r, c in cells.items()}
            for w, cells in state["pending"].items()
        }
        d.open = {r: _Open(**o) for r, o in state["open"].items()}
        d.late_posts = int(state["late_posts"])
        return d
