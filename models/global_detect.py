"""A detector for rises across the whole region set: the space-time scan's blind spot.

A nationwide outage raises complaints a little in every region: no region and no
cluster stands out against its neighbours, but the country's total does. The
:class:`GlobalDetector` counts distinct authors per window in *blocks* of regions (the
zones, or any grouping; unlocated posts form one more block) and tests the **trimmed
total**: the sum over all blocks except the ``trim_blocks`` blocks (default 2, fewer
when there are few blocks) with the largest excess over their expectation, so an outage
confined to a couple of zones (the zone detectors' job) does not raise a global alert,
while a rise spread over the country does; several outages at once in different zones
may.

* Baseline: one :class:`~models.series.SeasonalBaseline` over the blocks (hour-of-week
  profile, block levels shrunk towards the total split by weight), learning from windows
  without a global alert, blocks that are significant on their own left out; once the
  alert has been open most of the last ``max_alert_windows`` windows
  (:class:`~models.detect.AlertShare`), from every window, as a lasting change of level.
* Test: negative-binomial upper tail of the trimmed total, its dispersion the larger of
  the blocks' (level uncertainty and over-dispersion) and the total's own, estimated from
  past windows after the warm-up (national totals vary together more than independent
  blocks would).
* Lifecycle as the zone detectors: opened when ``p < alpha`` (one test per window), updated
  when its severity rises, resolved once ``resolve_windows`` windows have passed without a
  significant one and the trimmed totals of the last ``scan_windows`` windows (at least
  ``resolve_windows``) together are back to baseline (``p >= resolve_alpha``). Its
  ``region_ids`` are ``("*",)``: the whole region set (``region_names``
  ``("all regions",)``), its geometry that of every region, computed once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.detect import (
    WEEK,
    AlertShare,
    Cell,
    DetectorConfig,
    GeometryFn,
    WindowClock,
    one_cell_per_author,
)
from models.errors import ConfigError
from models.records import SEVERITIES, Alert, RelevantPost
from models.series import (
    DISPERSION_PRIOR,
    MAX_DISPERSION,
    SeasonalBaseline,
    pooled_dispersion,
    score_from_p,
    upper_tail,
)

ALL_REGIONS = "*"
UNLOCATED_BLOCK = "?"
DEFAULT_TRIM = 2


@dataclass
class _Open:
    """The open global alert."""

    alert_id: str
    first_post_at_ms: int
    severity: str
    category: str
    quiet: int = 0


class GlobalDetector:
    """Burst detector for the total of a whole region set (see the module docstring).

    >>> cfg = DetectorConfig(window_ms=60_000, warmup_windows=30)
    >>> regions = [(f"r{i}", f"R{i}") for i in range(10)]
    >>> d = GlobalDetector(cfg, regions)
    >>> t0 = 1_700_000_040_000
    >>> def posts(minute, per_region, tag):
    ...     for i in range(10):
    ...         for k in range(per_region):
    ...             yield RelevantPost(f"{tag}{minute}-{i}-{k}", t0 + minute * 60_000,
    ...                                f"{tag}{i}-{k}", "z", f"r{i}", "voice", None, 1.0, "place")
    >>> for m in range(60):
    ...     for p in posts(m, 1, "u"):
    ...         _ = d.observe(p)
    >>> d.advance(t0 + 60 * 60_000)
    []
    >>> for p in posts(60, 4, "x"):  # four complainers in every region
    ...     _ = d.observe(p)
    >>> [(a.status, a.region_ids, a.severity) for a in d.advance(t0 + 61 * 60_000)]
    [('opened', ('*',), 'critical')]
    """

    def __init__(
        self,
        config: DetectorConfig,
        regions: Sequence[tuple[str, str]],
        geometry: GeometryFn | None = None,
        *,
        weights: Mapping[str, float] | None = None,
        blocks: Mapping[str, str] | None = None,
        trim_blocks: int | None = None,
        include_unlocated: bool = True,
        detector_id: str = "global",
    ) -> None:
        self.config = config
        self.detector_id = detector_id
        self.region_ids = [r for r, _ in regions]
        if not self.region_ids:
            raise ConfigError("regions", "<none>", "the global detector needs regions")
        labels = [(blocks or {}).get(r, r) for r in self.region_ids]
        self.block_ids = sorted(set(labels)) + ([UNLOCATED_BLOCK] if include_unlocated else [])
        if trim_blocks is None:
            trim_blocks = min(DEFAULT_TRIM, len(self.block_ids) - 1)
        if not 0 <= trim_blocks < len(self.block_ids):
            raise ConfigError("trim_blocks", trim_blocks, f"must be in [0, {len(self.block_ids)})")
        self.trim_blocks = trim_blocks
        index = {b: i for i, b in enumerate(self.block_ids)}
        self._block_of = {r: index[b] for r, b in zip(self.region_ids, labels, strict=True)}
        if include_unlocated:
            self._block_of[UNLOCATED_BLOCK] = index[UNLOCATED_BLOCK]
        w = np.zeros(len(self.block_ids))
        for r, b in zip(self.region_ids, labels, strict=True):
            w[index[b]] += float((weights or {}).get(r, 1.0))
        if include_unlocated:
            w[-1] = float(w[:-1].mean())
        self.baseline = SeasonalBaseline(
            config.baseline, WEEK, w, prior_total=config.baseline.prior_rate * len(self.region_ids)
        )
        self._geometry = geometry
        self._shape: Mapping[str, Any] | None = None
        self.clock = WindowClock(config.window_ms)
        self.windows_closed = 0
        self.pending: dict[int, dict[int, Cell]] = {}
        self.total_disp = [0.0, 0.0]  # discounted Σ((Y - M)² - Y) and Σ M² of the total
        # the trimmed total's observed, expected and dispersion in the last windows
        self.recent: list[tuple[float, float, float]] = []
        self.open: _Open | None = None
        self.alerting = AlertShare(1, config.max_alert_windows)

    # --- input --------------------------------------------------------------------------

    def observe(self, post: RelevantPost) -> bool:
        """Count one relevant post (unlocated ones too, unless excluded); False if it is
        late or its region is not in the set."""
        block = self._block_of.get(post.region_id or UNLOCATED_BLOCK)
        if block is None:
            return False
        window = self.clock.admit(post.created_at_ms)
        if window is None:
            return False
        if not post.is_repost:
            cells = self.pending.setdefault(window, {})
            cells.setdefault(block, Cell()).add(post, self.config.max_samples)
        return True

    def advance(self, watermark_ms: int) -> list[Alert]:
        """Close every window that ends at or before ``watermark_ms``; return alert events."""
        return [alert for window in self.clock.due(watermark_ms) for alert in self._close(window)]

    def warm_start(self, start_ms: int, counts: Any) -> None:
        """Learn from history: ``counts[t][region]`` distinct authors per region (order as
        given; a last extra column, if any, is the unlocated posts) in consecutive windows
        from ``start_ms``. History counts towards the warm-up."""
        arr = np.asarray(counts, dtype=float)
        n = len(self.region_ids)
        if arr.ndim != 2 or arr.shape[1] not in (n, n + 1):
            raise ValueError(f"counts must be (windows, {n}) or (windows, {n + 1})")
        cols = [self._block_of[r] for r in self.region_ids]
        if arr.shape[1] == n + 1 and UNLOCATED_BLOCK in self._block_of:
            cols.append(self._block_of[UNLOCATED_BLOCK])
        for t in range(arr.shape[0]):
            y = np.zeros(len(self.block_ids))
            np.add.at(y, cols, arr[t, : len(cols)])
            window = start_ms - start_ms % self.config.window_ms + t * self.config.window_ms
            self._step(window, y, alerting=False)

    # --- detection ----------------------------------------------------------------------

    def _total_dispersion(self) -> float:
        num, den = self.total_disp
        return min(MAX_DISPERSION, max(0.0, num) / (den + DISPERSION_PRIOR))

    def trimmed(self, y: np.ndarray, lam: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        """Observed, expected, dispersion and kept blocks of the trimmed total."""
        order = np.lexsort((np.arange(y.size), -(y - lam)))
        keep = np.ones(y.size, dtype=bool)
        keep[order[: self.trim_blocks]] = False
        phi = pooled_dispersion(lam[keep], self.baseline.dispersions()[keep])
        phi = max(phi, self._total_dispersion())  # the total's own spread includes the blocks'
        return float(y[keep].sum()), float(lam[keep].sum()), phi, keep

    def _close(self, window_ms: int) -> list[Alert]:
        cells = self.pending.pop(window_ms, {})
        one_cell_per_author([cells[b] for b in sorted(cells)])
        y = np.zeros(len(self.block_ids))
        for b, cell in cells.items():
            y[b] = len(cell.authors)
        return self._step(window_ms, y, alerting=True, cells=cells)

    def _step(
        self,
        window_ms: int,
        y: np.ndarray,
        *,
        alerting: bool,
        cells: Mapping[int, Cell] | None = None,
    ) -> list[Alert]:
        cfg = self.config
        slot = WEEK.slot(window_ms, cfg.window_ms)
        lam = self.baseline.expected(slot)
        observed, expected, phi, _ = self.trimmed(y, lam)
        p = float(upper_tail(observed, expected, phi))
        reach = max(cfg.scan_windows, cfg.resolve_windows)
        self.recent = [*self.recent, (observed, expected, phi)][-reach:]
        warm = self.windows_closed >= cfg.warmup_windows
        significant = warm and p < cfg.alpha and observed >= cfg.min_authors
        events = (
            self._lifecycle(window_ms, significant, observed, expected, p, y, lam, cells or {})
            if alerting
            else []
        )
        self.alerting.count(np.array([self.open is not None]))
        lasting = self.alerting.lasting()[0]
        every = np.ones(len(self.block_ids), dtype=bool)
        shift = (every, cfg.shift_half_life_windows)
        if self.alerting.changing()[0]:  # a lasting change of the total: learn it, fast
            self.baseline.learn(slot, y, lam, every, not warm, shift)
        elif self.open is None and not significant:
            block_p = upper_tail(y, lam, self.baseline.dispersions()) * len(self.block_ids)
            quiet = ~((block_p < cfg.alpha) & (y >= cfg.min_authors) & warm)
            # the tail of a change: fast, downwards too
            self.baseline.learn(slot, y, lam, quiet, not warm, shift if lasting else None)
            num, den = self.total_disp
            decay = 0.5 ** (1 / cfg.baseline.half_life_windows)
            # from the total of the blocks that are not significant on their own (a local
            # outage is no spread of the national total; the trimmed total would be biased
            # low by its selection of the largest excesses every window), and only once
            # past the warm-up (before, the residuals show the prior)
            total, mean = float(y[quiet].sum()), float(lam[quiet].sum())
            fresh = [(total - mean) ** 2 - total, mean**2] if warm else [0.0, 0.0]
            self.total_disp = [decay * num + fresh[0], decay * den + fresh[1]]
        else:
            self.baseline.decay()
        self.windows_closed += 1
        return events

    def _lifecycle(
        self,
        window_ms: int,
        significant: bool,
        observed: float,
        expected: float,
        p: float,
        y: np.ndarray,
        lam: np.ndarray,
        cells: Mapping[int, Cell],
    ) -> list[Alert]:
        cfg = self.config
        rising = int((y > lam).sum())
        severity = cfg.severity(observed, expected, rising)
        if significant:
            if self.open is None:
                categories: Counter[str] = Counter()
                for cell in cells.values():
                    categories.update(cell.categories)
                firsts = [c.first_ms for c in cells.values() if c.first_ms is not None]
                key = f"{self.detector_id}|{ALL_REGIONS}|{window_ms}"
                self.open = _Open(
                    alert_id=hashlib.sha256(key.encode()).hexdigest()[:20],
                    first_post_at_ms=min(firsts, default=window_ms),
                    severity=severity,
                    category=min(categories, key=lambda c: (-categories[c], c))
                    if categories
                    else "total_outage",
                )
                status = "opened"
            else:
                self.open.quiet = 0
                if SEVERITIES.index(severity) <= SEVERITIES.index(self.open.severity):
                    return []
                self.open.severity = severity
                status = "updated"
        else:
            if self.open is None:
                return []
            self.open.quiet += 1
            if self.open.quiet < cfg.resolve_windows:
                return []
            seen, mus, phis = (np.array(v) for v in zip(*self.recent, strict=True))
            observed, expected = float(seen.sum()), float(mus.sum())
            p = float(upper_tail(observed, expected, pooled_dispersion(mus, phis)))
            if p < cfg.resolve_alpha:
                return []
            status = "resolved"
        state = self.open
        windows = 1
        if status == "resolved":
            self.open = None
            windows = len(self.recent)  # the evidence is that of the windows judged
        return [self._event(state, status, window_ms, windows, observed, expected, p, cells)]

    def _event(
        self,
        state: _Open,
        status: str,
        window_ms: int,
        windows: int,
        observed: float,
        expected: float,
        p: float,
        cells: Mapping[int, Cell],
    ) -> Alert:
        """The event of ``state``; its evidence spans the ``windows`` windows ending with
        the one at ``window_ms``."""
        cfg = self.config
        if self._shape is None and self._geometry is not None:
            self._shape = self._geometry(self.region_ids)
        samples = sorted(s for c in cells.values() for s in c.samples)
        authors: set[str] = set().union(*(c.authors for c in cells.values()))
        return Alert(
            alert_id=state.alert_id,
            status=status,
            severity=state.severity,
            category=state.category,
            region_ids=(ALL_REGIONS,),
            region_names=("all regions",),
            geometry=self._shape,
            window_start_ms=window_ms - (windows - 1) * cfg.window_ms,
            window_end_ms=window_ms + cfg.window_ms,
            first_post_at_ms=state.first_post_at_ms,
            detected_at_ms=window_ms + cfg.window_ms,
            observed=int(observed),
            expected=round(expected, 6),
            score=score_from_p(p, cfg.alpha),
            p_value=p,
            distinct_authors=len(authors),
            sample_post_ids=tuple(i for _, i in samples[: cfg.max_samples]),
        )

    # --- state --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything the detector knows, as JSON-ready data."""
        return {
            "detector_id": self.detector_id,
            "block_ids": list(self.block_ids),
            "clock": self.clock.to_state(),
            "windows_closed": self.windows_closed,
            "pending": {
                str(w): {self.block_ids[b]: c.to_state() for b, c in sorted(cells.items())}
                for w, cells in sorted(self.pending.items())
            },
            "baseline": self.baseline.to_state(),
            "total_disp": list(self.total_disp),
            "recent": [list(r) for r in self.recent],
            "open": None if self.open is None else asdict(self.open),
            "alerting": self.alerting.to_state(),
        }

    @classmethod
    def from_state(
        cls,
        config: DetectorConfig,
        regions: Sequence[tuple[str, str]],
        state: Mapping[str, Any],
        geometry: GeometryFn | None = None,
        **layout: Any,
    ) -> GlobalDetector:
        """A detector that carries on exactly where ``state`` was (same ``layout``
        keywords as the constructor)."""
        d = cls(config, regions, geometry, detector_id=str(state["detector_id"]), **layout)
        if list(state["block_ids"]) != d.block_ids:
            raise ValueError("saved global state is for other blocks")
        index = {b: i for i, b in enumerate(d.block_ids)}
        d.clock.load_state(state["clock"])
        d.windows_closed = int(state["windows_closed"])
        d.pending = {
            int(w): {index[b]: Cell.from_state(c) for b, c in cells.items()}
            for w, cells in state["pending"].items()
        }
        d.baseline.load_state(state["baseline"])
        d.total_disp = [float(v) for v in state["total_disp"]]
        d.recent = [(float(o), float(e), float(f)) for o, e, f in state.get("recent", [])]
        d.open = None if state["open"] is None else _Open(**state["open"])
        d.alerting.load_state(state.get("alerting"))
        return d
