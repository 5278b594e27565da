"""Score alerts against the truth of a generated scenario.

Alert events are grouped by ``alert_id``: an alert opens at its first event's
``detected_at`` and covers every region any of its events named. An alert *detects* an
outage when it opened between the outage's start and its end plus a grace period, in
one of the outage's regions or a neighbour of one. An alert that opened in the scored
span (after the scenario's history) and detects no outage is a *false alert*; it is a
*decoy alert* when it also overlaps a decoy in the same way.

>>> from models.scenario import Outage, Truth
>>> t = Truth("x", 1, 0, 2 * DAY_MS, DAY_MS, 10,
...           (Outage("o1", ("r1",), "voice", DAY_MS, DAY_MS + 1_800_000, 1.0, 30.0, 30,
...                   DAY_MS + 1_200_000),))
>>> a = Alert("a", "opened", "minor", "voice", ("r1",), ("R1",), None, DAY_MS, DAY_MS + 300_000,
...           DAY_MS, DAY_MS + 300_000, 5, 0.5, 0.9, 1e-9, 5)
>>> ev = evaluate([a], t)
>>> ev.recall, ev.false_alerts, ev.ttd_median_min, ev.lead_median_min
(1.0, 0, 5.0, 15.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import InvalidRecord
from models.global_detect import ALL_REGIONS
from models.records import Alert, loads
from models.scenario import DAY_MS, Truth

SIZE_CLASSES: tuple[tuple[str, int, float], ...] = (
    ("tiny <8", 0, 8),
    ("small 8-29", 8, 30),
    ("medium 30-99", 30, 100),
    ("large >=100", 100, math.inf),
)
"""Outage size classes by planted extra distinct complainers: (label, low, high)."""

DEFAULT_GRACE_MS = 30 * 60_000
MINUTE_MS = 60_000


@dataclass(frozen=True)
class AlertSpan:
    """All events of one alert: when it opened and every region it named."""

    alert_id: str
    opened_ms: int
    region_ids: tuple[str, ...]


def group_alerts(alerts: Iterable[Alert]) -> list[AlertSpan]:
    """One :class:`AlertSpan` per ``alert_id``, in order of opening.

    >>> def ev(i, status, t, regions):
    ...     return Alert(i, status, "minor", "voice", regions, regions, None, t, t, t, t,
    ...                  3, 1.0, 0.5, 0.01, 3)
    >>> group_alerts([ev("a", "opened", 5, ("r1",)), ev("a", "updated", 9, ("r2",))])
    [AlertSpan(alert_id='a', opened_ms=5, region_ids=('r1', 'r2'))]
    """
    opened: dict[str, int] = {}
    regions: dict[str, set[str]] = {}
    for a in alerts:
        opened[a.alert_id] = min(opened.get(a.alert_id, a.detected_at_ms), a.detected_at_ms)
        regions.setdefault(a.alert_id, set()).update(a.region_ids)
    spans = [AlertSpan(i, opened[i], tuple(sorted(regions[i]))) for i in opened]
    return sorted(spans, key=lambda s: (s.opened_ms, s.alert_id))


def size_class(planted_authors: int) -> str:
    """The label of the size class of an outage.

    >>> size_class(3), size_class(8), size_class(250)
    ('tiny <8', 'small 8-29', 'large >=100')
    """
    return next(label for label, lo, hi in SIZE_CLASSES if lo <= planted_authors < hi)


@dataclass(frozen=True)
class OutageResult:
    """How one outage fared: when it was first detected, how fast, how far ahead of the
    first ticket (positive: the alert came first)."""

    outage_id: str
    size_class: str
    planted_authors: int
    extra_per_min: float
    detected_ms: int | None
    ttd_ms: int | None
    lead_ms: int | None


def _median_min(values: Sequence[int]) -> float | None:
    return round(statistics.median(values) / MINUTE_MS, 2) if values else None


@dataclass(frozen=True)
class Evaluation:
    """The scores of one run (or of several runs pooled with :meth:`pooled`)."""

    outcomes: tuple[OutageResult, ...]
    alerts: int
    false_alerts: int
    decoy_alerts: int
    days: float
    region_days: float

    @classmethod
    def pooled(cls, runs: Sequence[Evaluation]) -> Evaluation:
        """All outages of several runs together; alert counts and days summed."""
        return cls(
            outcomes=tuple(o for r in runs for o in r.outcomes),
            alerts=sum(r.alerts for r in runs),
            false_alerts=sum(r.false_alerts for r in runs),
            decoy_alerts=sum(r.decoy_alerts for r in runs),
            days=sum(r.days for r in runs),
            region_days=sum(r.region_days for r in runs),
        )

    def recall_of(self, outcomes: Sequence[OutageResult]) -> float | None:
        if not outcomes:
            return None
        return round(sum(o.detected_ms is not None for o in outcomes) / len(outcomes), 4)

    @property
    def detected(self) -> int:
        return sum(o.detected_ms is not None for o in self.outcomes)

    @property
    def recall(self) -> float | None:
        return self.recall_of(self.outcomes)

    def recall_at_least(self, authors: int) -> float | None:
        """Recall over the outages with at least ``authors`` planted complainers."""
        return self.recall_of([o for o in self.outcomes if o.planted_authors >= authors])

    @property
    def recall_by_size(self) -> dict[str, tuple[int, float | None]]:
        """Size class -> (number of outages, recall)."""
        out = {}
        for label, _, _ in SIZE_CLASSES:
            members = [o for o in self.outcomes if o.size_class == label]
            out[label] = (len(members), self.recall_of(members))
        return out

    @property
    def false_per_day(self) -> float | None:
        return round(self.false_alerts / self.days, 3) if self.days > 0 else None

    @property
    def false_per_1000_region_days(self) -> float | None:
        if self.region_days <= 0:
            return None
        return round(1000 * self.false_alerts / self.region_days, 4)

    def _ttds(self, min_per_min: float = 0.0) -> list[int]:
        return [
            o.ttd_ms
            for o in self.outcomes
            if o.ttd_ms is not None and o.extra_per_min >= min_per_min
        ]

    @property
    def ttd_median_min(self) -> float | None:
        """Median minutes from outage start to the first matching alert."""
        return _median_min(self._ttds())

    @property
    def ttd_p90_min(self) -> float | None:
        ttds = self._ttds()
        return round(float(np.percentile(ttds, 90)) / MINUTE_MS, 2) if ttds else None

    @property
    def ttd_median_fast_min(self) -> float | None:
        """Median time to detect of outages with >= 1 extra complainer per minute."""
        return _median_min(self._ttds(1.0))

    @property
    def lead_median_min(self) -> float | None:
        """Median minutes by which the first alert preceded the first ticket."""
        return _median_min([o.lead_ms for o in self.outcomes if o.lead_ms is not None])

    def to_dict(self) -> dict[str, Any]:
        return {
            "outages": len(self.outcomes),
            "detected": self.detected,
            "recall": self.recall,
            "recall_ge8": self.recall_at_least(8),
            "recall_by_size": {
                k: {"n": n, "recall": r} for k, (n, r) in self.recall_by_size.items()
            },
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_per_day": self.false_per_day,
            "false_per_1000_region_days": self.false_per_1000_region_days,
            "decoy_alerts": self.decoy_alerts,
            "ttd_median_min": self.ttd_median_min,
            "ttd_p90_min": self.ttd_p90_min,
            "ttd_median_fast_min": self.ttd_median_fast_min,
            "lead_median_min": self.lead_median_min,
            "days": round(self.days, 4),
            "region_days": round(self.region_days, 2),
            "per_outage": [
                {
                    "id": o.outage_id,
                    "size": o.size_class,
                    "planted_authors": o.planted_authors,
                    "extra_per_min": o.extra_per_min,
                    "detected": o.detected_ms is not None,
                    "ttd_min": None if o.ttd_ms is None else round(o.ttd_ms / MINUTE_MS, 2),
                    "lead_min": None if o.lead_ms is None else round(o.lead_ms / MINUTE_MS, 2),
                }
                for o in self.outcomes
            ],
        }

    def table(self) -> str:
        """A plain-text report."""

        def fmt(value: float | None, unit: str = "") -> str:
            return "-" if value is None else f"{value:g}{unit}"

        sizes = ", ".join(
            f"{label}: {fmt(r)} (n={n})" for label, (n, r) in self.recall_by_size.items() if n
        )
        lines = [
            f"outages               {len(self.outcomes)} planted, {self.detected} detected",
            f"recall                {fmt(self.recall)}  (>= 8 complainers: "
            f"{fmt(self.recall_at_least(8))})",
            f"recall by size        {sizes or '-'}",
            f"alerts                {self.alerts} opened in {self.days:g} scored day(s)",
            f"false alerts          {self.false_alerts}  ({fmt(self.false_per_day)} per day, "
            f"{fmt(self.false_per_1000_region_days)} per 1,000 region-days)",
            f"decoy alerts          {self.decoy_alerts}",
            f"time to detect        median {fmt(self.ttd_median_min, ' min')}, "
            f"p90 {fmt(self.ttd_p90_min, ' min')}  (>= 1/min: "
            f"{fmt(self.ttd_median_fast_min, ' min')})",
            f"lead over 1st ticket  median {fmt(self.lead_median_min, ' min')}",
            "",
            f"{'outage':24} {'size':14} {'authors':>7} {'per min':>7} {'ttd min':>8} "
            f"{'lead min':>8}",
        ]
        for o in self.outcomes:
            ttd = "missed" if o.ttd_ms is None else f"{o.ttd_ms / MINUTE_MS:.1f}"
            lead = "-" if o.lead_ms is None else f"{o.lead_ms / MINUTE_MS:.1f}"
            lines.append(
                f"{o.outage_id:24} {o.size_class:14} {o.planted_authors:7d} "
                f"{o.extra_per_min:7g} {ttd:>8} {lead:>8}"
            )
        return "\n".join(lines)


def _near(region_ids: Iterable[str], neighbours: Mapping[str, Sequence[str]]) -> frozenset[str]:
    near = set(region_ids)
    for r in list(near):
        near.update(neighbours.get(r, ()))
    return frozenset(near)


def evaluate(
    alerts: Iterable[Alert],
    truth: Truth,
    neighbours: Mapping[str, Sequence[str]] | None = None,
    grace_ms: int = DEFAULT_GRACE_MS,
) -> Evaluation:
    """Match alerts to the planted outages and decoys of ``truth``; ``neighbours`` (region
    -> neighbouring regions) widens each outage's place by one ring of regions. A global
    alert (region ``"*"``: the whole region set) is near every outage and decoy."""
    if grace_ms < 0:
        raise ValueError("grace_ms must be >= 0")
    neighbours = neighbours or {}
    spans = [s for s in group_alerts(alerts) if truth.eval_start_ms <= s.opened_ms < truth.end_ms]

    def hits(region_ids: Sequence[str], start: int, end: int) -> list[AlertSpan]:
        near = _near(region_ids, neighbours)
        return [
            s
            for s in spans
            if start <= s.opened_ms <= end + grace_ms
            and (ALL_REGIONS in s.region_ids or not near.isdisjoint(s.region_ids))
        ]

    matched: set[str] = set()
    outcomes = []
    for o in truth.outages:
        found = hits(o.region_ids, o.start_ms, o.end_ms)
        matched.update(s.alert_id for s in found)
        first = found[0].opened_ms if found else None
        outcomes.append(
            OutageResult(
                outage_id=o.id,
                size_class=size_class(o.planted_authors),
                planted_authors=o.planted_authors,
                extra_per_min=o.extra_per_min,
                detected_ms=first,
                ttd_ms=None if first is None else first - o.start_ms,
                lead_ms=None
                if first is None or o.first_ticket_ms is None
                else o.first_ticket_ms - first,
            )
        )
    false = {s.alert_id for s in spans} - matched
    decoy = {s.alert_id for d in truth.decoys for s in hits(d.region_ids, d.start_ms, d.end_ms)}
    days = max(0, truth.end_ms - truth.eval_start_ms) / DAY_MS
    return Evaluation(
        outcomes=tuple(outcomes),
        alerts=len(spans),
        false_alerts=len(false),
        decoy_alerts=len(decoy & false),
        days=days,
        region_days=days * truth.region_count,
    )


def _json_lines(path: str | Path) -> list[Any]:
    rows = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(loads(line))
                except InvalidRecord as exc:
                    raise InvalidRecord(exc.reason, f"{path} line {n}: {exc.detail}") from None
    return rows


def read_alerts(path: str | Path) -> list[Alert]:
    """Alerts from a JSON-lines file (``groundswell backtest --out``)."""
    return [Alert.from_wire(row) for row in _json_lines(path)]


def read_truth(path: str | Path) -> Truth:
    """The truth written by ``groundswell simulate`` (``truth.jsonl``)."""
    return Truth.from_lines(_json_lines(path))
