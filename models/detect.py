"""Burst detection for the regions of one zone: temporal tests, space-time scan, one alert
per outage.

A :class:`ZoneDetector` counts relevant posts per region, category group and tumbling
window as *distinct authors* (one author once per window; a repost counts only through
its original, so a repost wave counts once). When the event-time watermark passes a
window's end the window is closed:

1. **Baseline** (:class:`~models.series.SeasonalBaseline`, one per category group):
   ``expected = level(region) × season(hour of week)``, levels shrunk towards the zone
   rate split by region weight (population), the zone rate towards ``prior_rate``; a
   week-long profile shrunk towards hour of day; windows that alerted are not learned and
   the rest are winsorised, except in the ``warmup_windows`` first ones (history
   included), where a region's first count is its first level and nothing teaches the
   dispersion (see :mod:`models.series`); warm start from history with
   :meth:`ZoneDetector.warm_start`.
   Expectations are raised (never lowered) by how far the zone's other regions ran above
   their baseline over the last ``recent_half_life_windows``: a drift of the whole zone
   that the profile has not learned yet (the first mornings after a cold start) is not a
   local outage.
2. **Temporal test**: negative-binomial upper tail of each region's count (Poisson when
   the level is well known and the data are not over-dispersed); significant when the
   Bonferroni-adjusted ``p × tests < alpha`` (tests = ``n_regions_tested`` × groups: the
   whole region set, so ``alpha`` is a country-wide false-alert rate per window and test:
   0.001 with 5-minute windows is at most about 0.3 a day from each test) and
   ``count >= min_authors``.
3. **Space-time scan** (``scan=True``; :class:`~models.scan.SpaceTimeScan`): cylinders of
   each region's ``scan_k`` nearest regions × the last ``scan_windows`` windows; a zone
   gets the share ``regions in zone / n_regions_tested`` of ``scan_alpha``. A cluster
   stands for those of its regions that are elevated on their own (``p < member_alpha``
   over the cluster's windows; if none is, those with posts) and linked by neighbours to
   its most elevated region: a neighbour with one ordinary post, or a far region of the
   cylinder, does not join an outage.
4. **Lifecycle**: detections (significant regions and clusters) that overlap or touch each
   other form one group; a group that overlaps or touches an open alert's regions joins it
   (the earliest such alert; a region already in another open alert stays there, and keeps
   that one open), otherwise it opens a new one. An alert is *updated* when its
   regions grow or its severity rises, and *resolved* once it has had no detection for
   ``resolve_windows`` windows and its regions' distinct authors over the scan's reach (the
   last ``scan_windows`` windows, at least ``resolve_windows``), the windows an alert can
   open on, are back to baseline together: not elevated even at ``resolve_alpha`` (0.05). An
   outage that runs at a few times the usual rate without reaching ``alpha`` in any one
   window keeps its alert. The windows of open alerts are not learned, except in a region
   that has been in alerts most of the last ``max_alert_windows`` windows
   (:class:`AlertShare`): that is a lasting change of level, which its baseline then learns
   fast, so that the alert resolves rather than staying open for good.

Every event carries the evidence that triggered it (the strongest detection of its
group): observed and expected distinct authors over its regions and windows, the
family-wise adjusted p-value (significant iff ``p_value < alpha``), a score in [0, 1]
(0.5 at ``alpha``) and sample post ids; a resolved event, that of the windows it was
judged on. Alert ids
hash the zone, (category group,) first region and opening window, so replays and restarts
give the same ids. The first ``warmup_windows`` windows (history included) never alert.

The detector is pure: time comes only from the posts and the watermark, randomness from a
seed and the window, and ``to_state()`` / ``from_state()`` round-trip everything.
"""

from __future__ import annotations

import hashlib
import zlib
from bisect import insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.errors import ConfigError
from models.records import SEVERITIES, Alert, RelevantPost
from models.scan import P_METHODS, SpaceTimeScan
from models.series import (
    BaselineConfig,
    SeasonalBaseline,
    Seasonality,
    pooled_dispersion,
    score_from_p,
    upper_tail,
    validate,
)

GeometryFn = Callable[[Sequence[str]], Mapping[str, Any] | None]
WEEK = Seasonality("week")
DEFAULT_CATEGORY = "mobile_data"
CATEGORY_LEAD = 1.25  # how far another category must lead an alert's to replace it
RECENT_STRENGTH = 5.0  # pseudo-counts damping the zone's recent level
LASTING_SHARE = 1.0 - 1.0 / np.e  # a region this much in alerts lately learns again...
SETTLED_SHARE = np.exp(-2.0)  # ... until it is down to this much


@dataclass(frozen=True)
class DetectorConfig:
    """Hyper-parameters of the detectors; each is checked when built.

    ``category_groups`` lists the category groups that get their own baselines and alerts,
    each ``"cat,cat"``; exactly one is ``"*"``: every category not named elsewhere.
    Severity: *critical* when observed / expected >= ``critical_ratio`` and the excess
    >= ``critical_excess`` or the regions >= ``critical_regions``; *major* likewise;
    else *minor*. A region that has spent most of the last ``max_alert_windows``
    windows in open alerts learns again, elevated or not (a lasting change of level is
    not an outage forever): the share is an exponential average over that many windows,
    which a continuous alert lifts past ``1 - 1/e`` after ``max_alert_windows`` windows
    and an alert that resolves and opens again lowers only a little.

    >>> DetectorConfig(window_ms=60_000).window_ms
    60000
    >>> DetectorConfig(alpha=2.0)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: alpha=2.0: must be in (0, 1)
    >>> DetectorConfig(category_groups=("tv",))
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: category_groups=('tv',): exactly one group must be '*'
    """

    window_ms: int = 300_000
    alpha: float = 0.001
    min_authors: int = 3
    warmup_windows: int = 12
    resolve_windows: int = 3
    resolve_alpha: float = 0.05
    n_regions_tested: int = 1
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    category_groups: tuple[str, ...] = ("*",)
    scan: bool = True
    scan_k: int = 8
    scan_windows: int = 6
    scan_replicates: int = 199
    scan_alpha: float | None = None
    scan_p_method: str = "gumbel"
    seed: int = 0
    major_excess: int = 10
    critical_excess: int = 30
    major_regions: int = 3
    critical_regions: int = 8
    major_ratio: float = 2.0
    critical_ratio: float = 4.0
    max_samples: int = 5
    max_alert_windows: int = 288
    member_alpha: float = 0.05
    recent_half_life_windows: float = 6.0

    def __post_init__(self) -> None:
        named = [c.strip() for g in self.category_groups for c in g.split(",") if g != "*"]
        validate(
            [
                ("window_ms", self.window_ms, self.window_ms >= 1000, "must be >= 1000"),
                ("alpha", self.alpha, 0.0 < self.alpha < 1.0, "must be in (0, 1)"),
                ("min_authors", self.min_authors, self.min_authors >= 1, "must be >= 1"),
                ("warmup_windows", self.warmup_windows, self.warmup_windows >= 0, "must be >= 0"),
                (
                    "resolve_windows",
                    self.resolve_windows,
                    self.resolve_windows >= 1,
                    "must be >= 1",
                ),
                (
                    "resolve_alpha",
                    self.resolve_alpha,
                    0.0 < self.resolve_alpha < 1.0,
                    "must be in (0, 1)",
                ),
                ("n_regions_tested", self.n_regions_tested, self.n_regions_tested >= 1, ">= 1"),
                (
                    "category_groups",
                    self.category_groups,
                    self.category_groups.count("*") == 1,
                    "exactly one group must be '*'",
                ),
                (
                    "category_groups",
                    self.category_groups,
                    all(named) and len(set(named)) == len(named),
                    "a category may appear in one group only, and names may not be empty",
                ),
                ("scan_k", self.scan_k, self.scan_k >= 1, "must be >= 1"),
                ("scan_windows", self.scan_windows, self.scan_windows >= 1, "must be >= 1"),
                ("scan_replicates", self.scan_replicates, self.scan_replicates >= 9, ">= 9"),
                (
                    "scan_alpha",
                    self.scan_alpha,
                    self.scan_alpha is None or 0.0 < self.scan_alpha < 1.0,
                    "must be None (= alpha) or in (0, 1)",
                ),
                ("scan_p_method", self.scan_p_method, self.scan_p_method in P_METHODS, "?"),
                ("seed", self.seed, self.seed >= 0, "must be >= 0"),
                ("major_excess", self.major_excess, self.major_excess >= 1, "must be >= 1"),
                (
                    "critical_excess",
                    self.critical_excess,
                    self.critical_excess > self.major_excess,
                    "must be > major",
                ),
                ("major_regions", self.major_regions, self.major_regions >= 2, "must be >= 2"),
                (
                    "critical_regions",
                    self.critical_regions,
                    self.critical_regions > self.major_regions,
                    "must be > major",
                ),
                ("major_ratio", self.major_ratio, self.major_ratio >= 1, "must be >= 1"),
                (
                    "critical_ratio",
                    self.critical_ratio,
                    self.critical_ratio >= self.major_ratio,
                    "must be >= major",
                ),
                ("max_samples", self.max_samples, self.max_samples >= 0, "must be >= 0"),
                ("max_alert_windows", self.max_alert_windows, self.max_alert_windows >= 1, ">= 1"),
                ("member_alpha", self.member_alpha, 0 < self.member_alpha <= 1, "in (0, 1]"),
                (
                    "recent_half_life_windows",
                    self.recent_half_life_windows,
                    self.recent_half_life_windows >= 0,
                    "must be >= 0 (0: no zone-level adjustment)",
                ),
            ]
        )

    @property
    def shift_half_life_windows(self) -> float:
        """Half-life of a lasting region's past level (:class:`AlertShare`): a sixth of
        ``max_alert_windows`` (4 hours for a day), so that the level is the new one well
        before the region stops counting as lasting.

        >>> DetectorConfig(window_ms=300_000).shift_half_life_windows
        48.0
        """
        return self.max_alert_windows / 6

    def group_of(self, category: str) -> int:
        """Index of the category group that counts ``category``."""
        for i, group in enumerate(self.category_groups):
            if group != "*" and category in (c.strip() for c in group.split(",")):
                return i
        return self.category_groups.index("*")

    def severity(self, observed: float, expected: float, n_regions: int) -> str:
        """Three levels from the ratio observed / expected and the size (excess count or
        number of regions).

        >>> c = DetectorConfig()
        >>> c.severity(5, 1.0, 1), c.severity(20, 2.0, 1), c.severity(50, 4.0, 1)
        ('minor', 'major', 'critical')
        >>> c.severity(120, 100.0, 1), c.severity(12, 2.0, 9)
        ('minor', 'critical')
        """
        ratio = observed / max(expected, 1e-9)
        excess = observed - expected
        if ratio >= self.critical_ratio and (
            excess >= self.critical_excess or n_regions >= self.critical_regions
        ):
            return "critical"
        if ratio >= self.major_ratio and (
            excess >= self.major_excess or n_regions >= self.major_regions
        ):
            return "major"
        return "minor"


class WindowClock:
    """The tumbling windows of one detector: which window a post falls in, and which
    windows a watermark closes. Windows close in order; a post for a closed window is
    late. Until the first window closes, an earlier post moves the start back.

    >>> c = WindowClock(60_000)
    >>> c.admit(125_000), c.admit(61_000), list(c.due(185_000)), c.admit(100_000)
    (120000, 60000, [60000, 120000], None)
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.start_ms: int | None = None
        self.next_window_ms: int | None = None
        self.late_posts = 0

    def admit(self, ts_ms: int) -> int | None:
        """Start of the window of ``ts_ms``, or None (counted late) if it has closed."""
        window = ts_ms - ts_ms % self.window_ms
        if self.next_window_ms is None or (
            self.start_ms == self.next_window_ms and window < self.next_window_ms
        ):
            self.start_ms = self.next_window_ms = window
        elif window < self.next_window_ms:
            self.late_posts += 1
            return None
        return window

    def due(self, watermark_ms: int) -> Iterator[int]:
        """Each window that ends at or before ``watermark_ms``, oldest first, as it closes."""
        while self.next_window_ms is not None and (
            self.next_window_ms + self.window_ms <= watermark_ms
        ):
            window = self.next_window_ms
            self.next_window_ms += self.window_ms
            yield window

    def to_state(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "next_ms": self.next_window_ms, "late": self.late_posts}

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.start_ms, self.next_window_ms = state["start_ms"], state["next_ms"]
        self.late_posts = int(state["late"])


@dataclass
class Cell:
    """What one region saw in one category group and open window: each author once, with
    the time and category of their first post there (one complainer, one vote: an
    author posting thirty times does not choose the category)."""

    authors: dict[str, tuple[int, str]] = field(default_factory=dict)
    samples: list[tuple[int, str]] = field(default_factory=list)
    first_ms: int | None = None

    @property
    def categories(self) -> Counter[str]:
        """Authors per category (that of each author's first post)."""
        return Counter(category for _, category in self.authors.values())

    def add(self, post: RelevantPost, max_samples: int) -> None:
        mine = (post.created_at_ms, post.category)
        known = self.authors.get(post.author_hash)
        if known is None or mine < known:
            self.authors[post.author_hash] = mine
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
            "authors": {a: list(first) for a, first in sorted(self.authors.items())},
            "samples": [list(s) for s in self.samples],
            "first_ms": self.first_ms,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Cell:
        saved = state["authors"]
        if isinstance(saved, Mapping):
            authors = {str(a): (int(t), str(c)) for a, (t, c) in saved.items()}
        else:  # older states: a list of authors and posts per category
            counts = Counter({str(k): int(v) for k, v in state.get("categories", {}).items()})
            top = min(counts, key=lambda c: (-counts[c], c)) if counts else DEFAULT_CATEGORY
            authors = {str(a): (int(state["first_ms"] or 0), top) for a in saved}
        return cls(
            authors=authors,
            samples=[(int(t), str(i)) for t, i in state["samples"]],
            first_ms=state["first_ms"],
        )


def one_cell_per_author(cells: Sequence[Cell]) -> None:
    """Keep each author only in the cell of ``cells`` (one window's, in region or block
    order) where they posted first (ties: the earlier cell): someone posting from several
    regions in a window is one complainer, not one in each, and a single account cannot
    raise a cluster of neighbouring regions alone."""
    owner: dict[str, tuple[int, int]] = {}
    for i, cell in enumerate(cells):
        for author, (ms, _) in cell.authors.items():
            if author not in owner or (ms, i) < owner[author]:
                owner[author] = (ms, i)
    for i, cell in enumerate(cells):
        for author in [a for a in cell.authors if owner[a][1] != i]:
            del cell.authors[author]


@dataclass
class _Open:
    """An open alert of one category group."""

    alert_id: str
    opened_window_ms: int
    first_post_at_ms: int
    regions: list[int]
    severity: str
    category: str
    quiet: int = 0
    tally: dict[str, int] = field(default_factory=dict)  # posts per category so far

    def count(self, categories: Counter[str]) -> bool:
        """Add a window's complainers per category; True when the category changed: to
        the one most counted so far, once it leads the current one by a quarter and by
        three complainers (a mix of two does not flip the alert back and forth)."""
        for c, n in categories.items():
            self.tally[c] = self.tally.get(c, 0) + n
        if not self.tally:
            return False
        best = min(self.tally, key=lambda c: (-self.tally[c], c))
        current = self.tally.get(self.category, 0)
        if best == self.category or self.tally[best] < max(CATEGORY_LEAD * current, current + 3):
            return False
        self.category = best
        return True


@dataclass(frozen=True)
class _Evidence:
    """One significant detection: regions over the last ``windows`` windows, with the
    observed and expected distinct authors there and its adjusted p-value."""

    regions: frozenset[int]
    windows: int
    observed: int
    expected: float
    p_value: float


def _author_key(author_hash: str) -> int:
    """A compact key for an author (32 bits), enough to tell a region's authors apart."""
    return zlib.crc32(author_hash.encode())


class AlertShare:
    """Each series' recent share of windows spent in open alerts: an exponential average
    over ``windows`` windows. A series past :data:`LASTING_SHARE` (most of those windows
    in alerts; a continuous alert gets there after ``windows`` windows, and one that
    resolves and opens again loses little) has changed level for good, not had an outage:
    it is *lasting* until its share is down to :data:`SETTLED_SHARE` (about one and a
    half times ``windows`` windows out of alerts), so that its baseline follows the level
    there and, should it come back down (a long outage that ended), back again.

    >>> a = AlertShare(2, windows=10)
    >>> for _ in range(10):
    ...     a.count(np.array([True, False]))
    >>> a.lasting().tolist(), round(float(a.share[0]), 3)
    ([True, False], 0.651)
    >>> for _ in range(5):
    ...     a.count(np.array([False, False]))
    >>> a.lasting().tolist(), round(float(a.share[0]), 3)
    ([True, False], 0.385)
    """

    def __init__(self, n: int, windows: int) -> None:
        self.decay = 1.0 - 1.0 / windows
        self.share = np.zeros(n)
        self._lasting = np.zeros(n, dtype=bool)

    def count(self, inside: np.ndarray) -> None:
        """One window passes; ``inside`` marks the series in an open alert."""
        self.share = self.decay * self.share + (1.0 - self.decay) * inside
        self._lasting = (self.share >= LASTING_SHARE) | (
            self._lasting & (self.share > SETTLED_SHARE)
        )

    def lasting(self) -> np.ndarray:
        """The series whose raised level has lasted (they learn fast) until they settle."""
        return self._lasting.copy()

    def changing(self) -> np.ndarray:
        """The series past :data:`LASTING_SHARE` now: every window of theirs is learned,
        alerting or not (after that, as any series: a new outage in the tail of a change
        is not learned)."""
        changing: np.ndarray = self.share >= LASTING_SHARE
        return changing

    def to_state(self) -> dict[str, list[Any]]:
        return {"share": [float(v) for v in self.share], "lasting": self._lasting.tolist()}

    def load_state(self, saved: Mapping[str, Sequence[Any]] | None) -> None:
        """Take :meth:`to_state`'s data; None (a state saved before shares were kept)
        starts from none."""
        n = self.share.size
        share = np.asarray((saved or {}).get("share", np.zeros(n)), dtype=float)
        lasting = np.asarray((saved or {}).get("lasting", np.zeros(n, bool)), dtype=bool)
        if share.shape != (n,) or lasting.shape != (n,):
            raise ValueError("saved alert shares are for other series")
        self.share, self._lasting = share, lasting


class _Track:
    """Baseline, recent windows and open alerts of one category group.

    The recent windows (the scan's reach, and at least the windows an alert's end is
    judged on) keep, per region, the number of *new* distinct authors (not seen anywhere
    in the zone in the earlier recent windows), so that a cylinder counts an author once
    however many of its windows and regions they posted in; the window's own distinct
    authors (what the baseline expects of a window); the expectation; the first post's
    offset into the window; and the authors' keys.
    """

    def __init__(self, baseline: SeasonalBaseline, depth: int, config: DetectorConfig) -> None:
        self.baseline = baseline
        self.depth = depth
        recent_half_life = config.recent_half_life_windows
        self.recent_decay = 0.5 ** (1 / recent_half_life) if recent_half_life > 0 else 0.0
        self.recent_obs = 0.0  # discounted zone count of the last windows (learned regions)
        self.recent_exp = 0.0  # ... and what the baseline expected of them
        n = baseline.n
        self.alerting = AlertShare(n, config.max_alert_windows)
        self.shift_half_life = config.shift_half_life_windows
        self.ring_y = np.zeros((0, n), dtype=np.int64)
        self.ring_count = np.zeros((0, n), dtype=np.int64)
        self.ring_mu = np.zeros((0, n))
        self.ring_first = np.zeros((0, n), dtype=np.int64)  # ms into the window, -1 none
        self.ring_authors: list[dict[int, list[int]]] = []
        self.open: list[_Open] = []

    def push(self, cells: Mapping[int, Cell], mu: np.ndarray, window_ms: int) -> np.ndarray:
        """Add the window that just closed; returns each region's distinct authors."""
        n = self.baseline.n
        y, new, first = np.zeros(n, np.int64), np.zeros(n, np.int64), np.full(n, -1, np.int64)
        authors: dict[int, list[int]] = {}
        # seen anywhere in the zone in the earlier recent windows
        seen = {k for row in self.ring_authors[1 - self.depth :] for ks in row.values() for k in ks}
        for r, cell in cells.items():
            keys = sorted({_author_key(a) for a in cell.authors})
            y[r] = len(cell.authors)
            new[r] = sum(1 for k in keys if k not in seen)
            first[r] = (cell.first_ms or window_ms) - window_ms
            if self.depth > 1:
                authors[r] = keys
        self.ring_y = np.concatenate([self.ring_y, new[None]])[-self.depth :]
        self.ring_count = np.concatenate([self.ring_count, y[None]])[-self.depth :]
        self.ring_mu = np.concatenate([self.ring_mu, mu[None]])[-self.depth :]
        self.ring_first = np.concatenate([self.ring_first, first[None]])[-self.depth :]
        self.ring_authors = [*self.ring_authors, authors][-self.depth :]
        return y

    def zone_factor(self) -> float:
        """How far the zone as a whole runs above its baseline lately (at least 1)."""
        if self.recent_decay <= 0:
            return 1.0
        k = RECENT_STRENGTH
        return max(1.0, (self.recent_obs + k) / (self.recent_exp + k))

    def learn(
        self,
        slot: int,
        y: np.ndarray,
        lam: np.ndarray,
        mask: np.ndarray,
        warming: bool,
        shifted: np.ndarray | None = None,
    ) -> None:
        """The baseline and the zone's recent level learn one window (``mask``: regions
        that may learn, ``lam``: the baseline's own expectation; a ``warming`` window
        teaches only the baseline; ``shifted``: regions learning a lasting change of
        level, :meth:`SeasonalBaseline.learn`)."""
        shift = None if shifted is None else (shifted, self.shift_half_life)
        self.baseline.learn(slot, y, lam, mask, warming, shift)
        if warming:
            return
        if shifted is not None:  # a region catching up with its new level is no zone drift
            mask = mask & ~shifted
        self.recent_obs = self.recent_decay * self.recent_obs + float(
            self.baseline.winsorise(y[mask], lam[mask]).sum()
        )
        self.recent_exp = self.recent_decay * self.recent_exp + float(lam[mask].sum())

    def retire(self, regions: list[int]) -> None:
        """Drop the excess of ``regions`` from the recent windows (an alert on them ended:
        its evidence must not raise a new one)."""
        past = self.ring_y[:, regions]
        self.ring_y[:, regions] = np.minimum(past, np.floor(self.ring_mu[:, regions]))

    def to_state(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.to_state(),
            "recent": [self.recent_obs, self.recent_exp],
            "ring_y": self.ring_y.tolist(),
            "ring_count": self.ring_count.tolist(),
            "ring_mu": self.ring_mu.tolist(),
            "ring_first": self.ring_first.tolist(),
            "ring_authors": [
                {str(r): k for r, k in sorted(row.items())} for row in self.ring_authors
            ],
            "open": [asdict(o) for o in self.open],
            "alerting": self.alerting.to_state(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        n = self.baseline.n
        self.baseline.load_state(state["baseline"])
        self.recent_obs, self.recent_exp = (float(v) for v in state["recent"])
        rows = len(state["ring_y"])
        self.ring_y = np.asarray(state["ring_y"], dtype=np.int64).reshape(rows, n)
        counts = state.get("ring_count", state["ring_y"])  # older states: the new authors
        self.ring_count = np.asarray(counts, dtype=np.int64).reshape(rows, n)
        self.ring_mu = np.asarray(state["ring_mu"], dtype=float).reshape(rows, n)
        self.ring_first = np.asarray(state["ring_first"], dtype=np.int64).reshape(rows, n)
        self.ring_authors = [
            {int(r): [int(k) for k in keys] for r, keys in row.items()}
            for row in state["ring_authors"]
        ]
        self.open = [_Open(**o) for o in state["open"]]
        self.alerting.load_state(state.get("alerting"))


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class ZoneDetector:
    """Burst detector for the regions of one zone (see the module docstring).

    ``centroids`` (lon, lat), ``weights`` (e.g. population) and ``neighbours`` are keyed by
    region id and optional: without centroids the scan's cylinders are single regions,
    without weights regions share the zone rate equally, without neighbours only
    overlapping detections merge.

    >>> cfg = DetectorConfig(window_ms=60_000, warmup_windows=10, n_regions_tested=2)
    >>> d = ZoneDetector(cfg, "z0", [("r1", "North"), ("r2", "South")],
    ...                  centroids={"r1": (9.0, 45.1), "r2": (9.0, 45.0)})
    >>> t0 = 1_700_000_040_000
    >>> def post(i, minute, region="r1"):
    ...     return RelevantPost(f"p{i}", t0 + minute * 60_000, f"a{i}", "z0", region,
    ...                         "mobile_data", "en", 0.9, "coordinates")
    >>> for i in range(20):
    ...     _ = d.observe(post(i, minute=i))
    >>> d.advance(t0 + 20 * 60_000)
    []
    >>> for i in range(12):
    ...     _ = d.observe(post(100 + i, minute=20))
    >>> [(a.status, a.region_ids, a.observed) for a in d.advance(t0 + 21 * 60_000)]
    [('opened', ('r1',), 12)]
    >>> [(a.status, a.region_ids) for a in d.advance(t0 + 27 * 60_000)]
    [('resolved', ('r1',))]
    """

    def __init__(
        self,
        config: DetectorConfig,
        zone_id: str,
        regions: Sequence[tuple[str, str]],
        geometry: GeometryFn | None = None,
        *,
        centroids: Mapping[str, tuple[float, float]] | None = None,
        weights: Mapping[str, float] | None = None,
        neighbours: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.config = config
        self.zone_id = zone_id
        self.region_ids = [r for r, _ in regions]
        self.region_names = {r: n for r, n in regions}
        self._index = {r: i for i, r in enumerate(self.region_ids)}
        self._geometry = geometry
        n = len(self.region_ids)
        self._adjacent = [set[int]() for _ in range(n)]
        for r, others in (neighbours or {}).items():
            if r in self._index:
                for o in others:
                    if o in self._index and o != r:
                        self._adjacent[self._index[r]].add(self._index[o])
                        self._adjacent[self._index[o]].add(self._index[r])
        w = [float((weights or {}).get(r, 1.0)) for r in self.region_ids]
        self._scan: SpaceTimeScan | None = None
        if config.scan and n:
            missing = [r for r in self.region_ids if centroids is not None and r not in centroids]
            if missing:
                raise ConfigError("centroids", missing[:3], "missing for regions of the zone")
            self._scan = SpaceTimeScan(
                None if centroids is None else [centroids[r] for r in self.region_ids],
                n_regions=n,
                k=config.scan_k,
                windows=config.scan_windows,
                replicates=config.scan_replicates,
                min_count=config.min_authors,
                p_method=config.scan_p_method,
            )
        # the scan's reach, and the windows an alert's end is judged on
        depth = max(config.scan_windows if self._scan is not None else 1, config.resolve_windows)
        self.tracks = [
            _Track(SeasonalBaseline(config.baseline, WEEK, w), depth, config)
            for _ in config.category_groups
        ]
        self._tests = max(config.n_regions_tested, n) * len(config.category_groups)
        self._zone_seed = _hash_int(zone_id)
        self.clock = WindowClock(config.window_ms)
        self.windows_closed = 0
        self.pending: dict[int, dict[tuple[int, int], Cell]] = {}

    # --- input --------------------------------------------------------------------------

    def observe(self, post: RelevantPost) -> bool:
        """Count one relevant post; False if it is late (its window already closed) or
        belongs to no region of this zone."""
        region = self._index.get(post.region_id) if post.region_id is not None else None
        if region is None:
            return False
        window = self.clock.admit(post.created_at_ms)
        if window is None:
            return False
        if post.is_repost:
            return True  # a repost counts only through its original: a wave counts once
        key = (self.config.group_of(post.category), region)
        cell = self.pending.setdefault(window, {}).get(key)
        if cell is None:
            cell = self.pending[window][key] = Cell()
        cell.add(post, self.config.max_samples)
        return True

    def advance(self, watermark_ms: int) -> list[Alert]:
        """Close every window that ends at or before ``watermark_ms``; return alert events."""
        return [alert for window in self.clock.due(watermark_ms) for alert in self._close(window)]

    def warm_start(self, start_ms: int, counts: Any) -> None:
        """Learn the baselines from history: ``counts[t][region]`` (or
        ``counts[t][group][region]``) distinct authors in consecutive windows from
        ``start_ms``, region order as given. Windows whose counts would have alerted are
        not learned; history counts towards the warm-up. Call before live data.
        """
        cfg = self.config
        arr = np.asarray(counts, dtype=float)
        n_groups, n = len(self.tracks), len(self.region_ids)
        if arr.ndim == 2 and n_groups == 1:
            arr = arr[:, None, :]
        if arr.ndim != 3 or arr.shape[1:] != (n_groups, n):
            raise ValueError(f"counts must be (windows, {n}) or (windows, {n_groups}, {n})")
        for t in range(arr.shape[0]):
            window = start_ms - start_ms % cfg.window_ms + t * cfg.window_ms
            slot = WEEK.slot(window, cfg.window_ms)
            for track, y in zip(self.tracks, arr[t], strict=True):
                lam = track.baseline.expected(slot)
                _, hot = self._temporal(y, lam * track.zone_factor(), track.baseline.dispersions())
                warm = self.windows_closed >= cfg.warmup_windows
                track.learn(slot, y, lam, ~(hot & warm), not warm)
            self.windows_closed += 1

    def window_counts(self, posts: Iterable[RelevantPost]) -> tuple[int, np.ndarray]:
        """``(start_ms, counts)`` for :meth:`warm_start` from past relevant posts of this
        zone: distinct authors per window, category group and region.

        >>> d = ZoneDetector(DetectorConfig(window_ms=60_000), "z", [("a", "A")])
        >>> rp = lambda i, t: RelevantPost(str(i), t, f"u{i % 2}", "z", "a", "tv", None,
        ...                                1.0, "place")
        >>> d.window_counts([rp(i, 120_000 + i * 10_000) for i in range(9)])[1][:, 0, 0]
        array([2., 2.])
        """
        size = self.config.window_ms
        # as live windows count them: each author once, where they posted first
        owner: dict[tuple[int, int], dict[str, tuple[int, int]]] = {}
        for p in posts:
            region = self._index.get(p.region_id) if p.region_id is not None else None
            if region is not None and not p.is_repost:
                key = (p.created_at_ms // size, self.config.group_of(p.category))
                mine, got = (p.created_at_ms, region), owner.setdefault(key, {})
                if p.author_hash not in got or mine < got[p.author_hash]:
                    got[p.author_hash] = mine
        if not owner:
            return 0, np.zeros((0, len(self.tracks), len(self.region_ids)))
        first = min(k[0] for k in owner)
        counts = np.zeros(
            (max(k[0] for k in owner) - first + 1, len(self.tracks), len(self._index))
        )
        for (w, g), authors in owner.items():
            for _, r in authors.values():
                counts[w - first, g, r] += 1
        return first * size, counts

    # --- detection ----------------------------------------------------------------------

    def _temporal(
        self, y: np.ndarray, lam: np.ndarray, dispersion: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Adjusted p-values and the significant regions of one window."""
        p = np.minimum(1.0, upper_tail(y, lam, dispersion) * self._tests)
        return p, (p < self.config.alpha) & (y >= self.config.min_authors)

    def _detect(self, track: _Track, group: int, window_ms: int, y: np.ndarray) -> list[_Evidence]:
        """Significant regions (temporal test on ``y``, this window's distinct authors)
        and clusters (scan over the recent windows)."""
        cfg = self.config
        dispersion = track.baseline.dispersions()
        lam = track.ring_mu[-1]
        found: list[_Evidence] = []
        test = np.flatnonzero(y >= cfg.min_authors)  # the others cannot be significant
        if test.size:
            p, hot = self._temporal(y[test], lam[test], dispersion[test])
            for i in np.flatnonzero(hot):
                r = int(test[i])
                found.append(_Evidence(frozenset([r]), 1, int(y[r]), float(lam[r]), float(p[i])))
        if self._scan is None or track.ring_y.sum() < cfg.min_authors:
            return found
        factor = self._tests / len(self.region_ids)
        alpha = cfg.scan_alpha if cfg.scan_alpha is not None else cfg.alpha
        clusters = self._scan.scan(
            track.ring_y,
            track.ring_mu,
            alpha=alpha / factor,
            seed=[cfg.seed, self._zone_seed, group, window_ms // cfg.window_ms],
            dispersion=dispersion,
        )
        for c in clusters:
            members = list(c.regions)
            counts = track.ring_y[-c.windows :, members].sum(axis=0)
            mu = track.ring_mu[-c.windows :, members].sum(axis=0)
            own = upper_tail(counts, mu, dispersion[members])
            keep = own < cfg.member_alpha if (own < cfg.member_alpha).any() else counts > 0
            kept = [r for r, k in zip(members, keep, strict=True) if k]
            regions = self._connected(members[int(np.argmin(own))], set(kept))
            p_value = min(1.0, c.p_value * factor)
            found.append(_Evidence(regions, c.windows, c.observed, c.expected, p_value))
        return found

    def _connected(self, start: int, regions: set[int]) -> frozenset[int]:
        """The regions of ``regions`` linked to ``start`` by neighbours (all of them when
        the detector was given no neighbours)."""
        if not any(self._adjacent):
            return frozenset(regions)
        seen, todo = {start}, [start]
        while todo:
            for nxt in self._adjacent[todo.pop()] & regions:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def _touches(self, a: Iterable[int], b: set[int]) -> bool:
        return any(i in b or not self._adjacent[i].isdisjoint(b) for i in a)

    def _close(self, window_ms: int) -> list[Alert]:
        cfg = self.config
        cells = self.pending.pop(window_ms, {})
        slot = WEEK.slot(window_ms, cfg.window_ms)
        warm = self.windows_closed >= cfg.warmup_windows
        alerts: list[Alert] = []
        n = len(self.region_ids)
        for g, track in enumerate(self.tracks):
            base = track.baseline.expected(slot)
            mine = {r: cell for (gg, r), cell in cells.items() if gg == g}
            one_cell_per_author([mine[r] for r in sorted(mine)])
            y = track.push(mine, base * track.zone_factor(), window_ms)
            found = self._detect(track, g, window_ms, y) if warm and n else []
            alerts += self._lifecycle(track, g, window_ms, found, y, cells)
            busy = np.zeros(n, dtype=bool)
            for o in track.open:
                busy[o.regions] = True
            track.alerting.count(busy)
            for e in found:
                busy[list(e.regions)] = True
            changing = track.alerting.changing()
            track.learn(slot, y, base, ~busy | changing, not warm, track.alerting.lasting())
        self.windows_closed += 1
        return alerts

    def _lifecycle(
        self,
        track: _Track,
        group: int,
        window_ms: int,
        found: list[_Evidence],
        y: np.ndarray,
        cells: Mapping[tuple[int, int], Cell],
    ) -> list[Alert]:
        cfg = self.config
        # detections that overlap or touch form one group (transitively)
        merged: list[list[_Evidence]] = []
        for e in sorted(found, key=lambda e: (min(e.regions), -len(e.regions), e.windows)):
            joined = [m for m in merged if self._touches(e.regions, self._regions_of(m))]
            rest = [m for m in merged if all(m is not j for j in joined)]
            merged = [*rest, [e, *(x for m in joined for x in m)]]
        merged.sort(key=lambda m: min(self._regions_of(m)))
        events: list[Alert] = []
        touched: set[str] = set()
        for evidence in merged:
            regions = self._regions_of(evidence)
            best = min(evidence, key=lambda e: (e.p_value, -e.observed))
            firsts = [
                window_ms - t * cfg.window_ms + int(track.ring_first[-1 - t, r])
                for e in evidence
                for r in e.regions
                for t in range(e.windows)
                if track.ring_first[-1 - t, r] >= 0
            ]
            # the earliest open alert it overlaps, else the earliest it touches
            target = next((o for o in track.open if not regions.isdisjoint(o.regions)), None)
            if target is None:
                target = next((o for o in track.open if self._touches(o.regions, regions)), None)
            # a region stays in the one open alert it is in; that alert is still going on
            others = [o for o in track.open if o is not target]
            for o in others:
                if not regions.isdisjoint(o.regions):
                    o.quiet = 0
                    touched.add(o.alert_id)
            regions -= {r for o in others for r in o.regions}
            if not regions:
                continue
            severity = cfg.severity(
                best.observed, best.expected, len(regions | set(target.regions if target else ()))
            )
            if target is None:
                status = "opened"
                key = "|".join(
                    [self.zone_id]
                    + ([] if cfg.category_groups == ("*",) else [cfg.category_groups[group]])
                    + [self.region_ids[min(regions)], str(window_ms)]
                )
                target = _Open(
                    alert_id=hashlib.sha256(key.encode()).hexdigest()[:20],
                    opened_window_ms=window_ms,
                    first_post_at_ms=min(firsts, default=window_ms),
                    regions=sorted(regions),
                    severity=severity,
                    category=self._default_category(group),
                )
                target.count(self._categories(cells, group, regions))
                track.open.append(target)
            else:
                grown = sorted(set(target.regions) | regions)
                worse = SEVERITIES.index(severity) > SEVERITIES.index(target.severity)
                recategorised = target.count(self._categories(cells, group, regions))
                changed = len(grown) > len(target.regions) or worse or recategorised
                status = "updated" if changed else ""
                target.regions = grown
                target.severity = max(target.severity, severity, key=SEVERITIES.index)
                target.quiet = 0
            touched.add(target.alert_id)
            if status:
                evidence_at = (window_ms, best.windows, best.observed, best.expected, best.p_value)
                events.append(self._event(target, status, evidence_at, cells, group))
        dispersions = track.baseline.dispersions()
        for o in list(track.open):
            if o.alert_id in touched:
                continue
            o.quiet += 1
            if o.quiet < cfg.resolve_windows:
                continue
            # back to baseline: the recent windows together, each window's distinct authors
            mus = track.ring_mu[:, o.regions]
            now = int(track.ring_count[:, o.regions].sum())
            mu = float(mus.sum())
            phi = pooled_dispersion(mus, np.broadcast_to(dispersions[o.regions], mus.shape))
            p = float(upper_tail(now, mu, phi))
            if p >= cfg.resolve_alpha:
                track.open.remove(o)
                track.retire(o.regions)
                judged = (window_ms, len(mus), now, mu, p)
                events.append(self._event(o, "resolved", judged, cells, group))
        return events

    def _regions_of(self, evidence: Iterable[_Evidence]) -> set[int]:
        return {r for e in evidence for r in e.regions}

    def _categories(
        self, cells: Mapping[tuple[int, int], Cell], group: int, regions: Iterable[int]
    ) -> Counter[str]:
        """Posts per category in this window's cells of ``regions``."""
        counts: Counter[str] = Counter()
        for r in regions:
            cell = cells.get((group, r))
            if cell is not None:
                counts.update(cell.categories)
        return counts

    def _default_category(self, group: int) -> str:
        label = self.config.category_groups[group]
        return DEFAULT_CATEGORY if label == "*" else label.split(",")[0].strip()

    def _event(
        self,
        o: _Open,
        status: str,
        evidence: tuple[int, int, int, float, float],
        cells: Mapping[tuple[int, int], Cell],
        group: int,
    ) -> Alert:
        """An alert event; ``evidence`` is (window, windows spanned, observed, expected, p)."""
        cfg = self.config
        window_ms, span, observed, expected, p_value = evidence
        ids = tuple(self.region_ids[r] for r in o.regions)
        samples = sorted(
            s for r in o.regions for s in getattr(cells.get((group, r)), "samples", ())
        )
        return Alert(
            alert_id=o.alert_id,
            status=status,
            severity=o.severity,
            category=o.category,
            region_ids=ids,
            region_names=tuple(self.region_names[r] for r in ids),
            geometry=self._geometry(ids) if self._geometry else None,
            window_start_ms=window_ms - (span - 1) * cfg.window_ms,
            window_end_ms=window_ms + cfg.window_ms,
            first_post_at_ms=o.first_post_at_ms,
            detected_at_ms=window_ms + cfg.window_ms,
            observed=observed,
            expected=round(expected, 6),
            score=score_from_p(p_value, cfg.alpha),
            p_value=float(p_value),
            distinct_authors=observed,
            sample_post_ids=tuple(i for _, i in samples[: cfg.max_samples]),
        )

    # --- state --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything the detector knows, as JSON-ready data."""
        return {
            "zone_id": self.zone_id,
            "region_ids": list(self.region_ids),
            "category_groups": list(self.config.category_groups),
            "clock": self.clock.to_state(),
            "windows_closed": self.windows_closed,
            "pending": {
                str(w): {
                    f"{g}:{self.region_ids[r]}": c.to_state() for (g, r), c in sorted(cells.items())
                }
                for w, cells in sorted(self.pending.items())
            },
            "tracks": [t.to_state() for t in self.tracks],
        }

    @classmethod
    def from_state(
        cls,
        config: DetectorConfig,
        regions: Sequence[tuple[str, str]],
        state: Mapping[str, Any],
        geometry: GeometryFn | None = None,
        *,
        centroids: Mapping[str, tuple[float, float]] | None = None,
        weights: Mapping[str, float] | None = None,
        neighbours: Mapping[str, Iterable[str]] | None = None,
    ) -> ZoneDetector:
        """A detector that carries on exactly where ``state`` (from :meth:`to_state`) was."""
        d = cls(
            config,
            str(state["zone_id"]),
            regions,
            geometry,
            centroids=centroids,
            weights=weights,
            neighbours=neighbours,
        )
        if list(state["region_ids"]) != d.region_ids:
            raise ValueError(f"zone {d.zone_id}: saved state is for other regions")
        if tuple(state["category_groups"]) != config.category_groups:
            raise ValueError(f"zone {d.zone_id}: saved state is for other category groups")
        d.clock.load_state(state["clock"])
        d.windows_closed = int(state["windows_closed"])
        d.pending = {}
        for w, cells in state["pending"].items():
            d.pending[int(w)] = {}
            for key, c in cells.items():
                g, region = key.split(":", 1)
                d.pending[int(w)][(int(g), d._index[region])] = Cell.from_state(c)
        for track, saved in zip(d.tracks, state["tracks"], strict=True):
            track.load_state(saved)
        return d
