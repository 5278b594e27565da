"""``groundswell report``: alerts as one self-contained HTML page.

The page holds a map of the regions, each shaded by the highest score among the alerts
that include it, with every alert's outline drawn over it; a table with one row per
alert; and a timeline per alert of observed against expected distinct authors per
window. Nothing is loaded from the network: styles, SVG and a few lines of script are
inline, so the file can be mailed or archived as it is.

Rendering is pure (alerts, a region set and optional per-window counts in, HTML text
out); :func:`cmd_report` reads the files and writes the page.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.regions import RegionSet, polygonal
from models.errors import ConfigError, InvalidRecord
from models.global_detect import ALL_REGIONS
from models.records import SEVERITIES, Alert, RelevantPost, loads
from models.timeutil import iso_from_ms
from streams.files import InputLines, check_files, message_value

MAP_WIDTH = 960
"""Width of the map's viewBox; heights follow the region set's shape."""
MAP_MAX_HEIGHT = 1100
SIMPLIFY = MAP_WIDTH / 2400
"""Simplification tolerance in map units (0.4 px at full width, 1/2400 of the extent):
invisible on screen, and it keeps a page of thousands of detailed regions small."""
PAD_WINDOWS = 6
"""Windows drawn before an alert opens and after it ends on its timeline."""
REGION_LABELS_MAX = 60
"""Region names are written on the map only for sets up to this size."""
NAMES_SHOWN = 3

NO_ALERT_FILL = "#e3e6ea"
_RAMP = ((255, 237, 160), (254, 178, 76), (253, 141, 60), (240, 59, 32), (189, 0, 38))
SEVERITY_STROKE = {"minor": "#1d5fa8", "major": "#6a2c91", "critical": "#111111"}
STATUS_STROKE = {"opened": "#c62828", "updated": "#7b3fa0", "resolved": "#2e7d32"}
_TIME_STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)


# --- alerts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSummary:
    """The events of one alert id, in event-time order, numbered in opening order."""

    number: int
    events: tuple[Alert, ...]
    region_ids: tuple[str, ...]  # every region the alert ever covered, first seen first
    region_names: tuple[str, ...]

    @property
    def alert_id(self) -> str:
        return self.events[0].alert_id

    @property
    def opened_ms(self) -> int:
        return self.events[0].detected_at_ms

    @property
    def start_ms(self) -> int:
        return min(e.window_start_ms for e in self.events)

    @property
    def end_ms(self) -> int:
        return max(e.window_end_ms for e in self.events)

    @property
    def status(self) -> str:
        return self.events[-1].status

    @property
    def category(self) -> str:
        return self.events[-1].category

    @property
    def severity(self) -> str:
        return max((e.severity for e in self.events), key=SEVERITIES.index)

    @property
    def peak(self) -> Alert:
        """The event with the strongest evidence (least p-value, then most authors)."""
        return min(self.events, key=lambda e: (e.p_value, -e.observed))

    @property
    def score(self) -> float:
        return max(e.score for e in self.events)

    @property
    def geometry(self) -> Mapping[str, Any] | None:
        """The latest event's GeoJSON geometry, if any event carries one."""
        return next((e.geometry for e in reversed(self.events) if e.geometry), None)


def fold_alerts(alerts: Iterable[Alert]) -> list[AlertSummary]:
    """One summary per alert id, sorted by opening time (then id) and numbered from 1.

    >>> from models.records import Alert
    >>> def ev(aid, status, t, regions):
    ...     return Alert(aid, status, "minor", "voice", regions, regions, None, t, t + 300_000,
    ...                  t, t + 300_000, 4, 0.5, 0.6, 1e-4, 4)
    >>> rows = fold_alerts([ev("b", "opened", 600_000, ("r2",)), ev("a", "opened", 0, ("r1",)),
    ...                     ev("a", "updated", 300_000, ("r1", "r3"))])
    >>> [(s.number, s.alert_id, s.status, s.region_ids) for s in rows]
    [(1, 'a', 'updated', ('r1', 'r3')), (2, 'b', 'opened', ('r2',))]
    """
    by_id: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_id.setdefault(alert.alert_id, []).append(alert)
    groups = [sorted(events, key=lambda e: e.detected_at_ms) for events in by_id.values()]
    groups.sort(key=lambda events: (events[0].detected_at_ms, events[0].alert_id))
    out = []
    for number, events in enumerate(groups, 1):
        names: dict[str, str] = {}
        for e in events:
            for rid, name in zip(e.region_ids, e.region_names, strict=False):
                names.setdefault(rid, name)
            for rid in e.region_ids[len(e.region_names) :]:
                names.setdefault(rid, rid)
        out.append(AlertSummary(number, tuple(events), tuple(names), tuple(names.values())))
    return out


def read_alerts(path: str) -> list[Alert]:
    """Alert events from a JSON-lines file: ``backtest --out`` or a dump of the alerts
    topic. A bad line or an empty file raises ``ConfigError`` naming the file."""
    alerts: list[Alert] = []
    try:
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    alerts.append(Alert.from_wire(loads(message_value(line.strip()))))
                except InvalidRecord as exc:
                    raise ConfigError("ALERTS", path, f"line {n} is not an alert: {exc}") from None
    except OSError as exc:
        raise ConfigError("ALERTS", path, f"cannot read file: {exc.strerror}") from None
    if not alerts:
        raise ConfigError("ALERTS", path, "no alerts in the file")
    return alerts


def covered_regions(summary: AlertSummary, regions: RegionSet) -> tuple[str, ...]:
    """The alert's regions that are in the region set (all of them for a nationwide
    alert, whose region id is ``*``)."""
    if ALL_REGIONS in summary.region_ids:
        return regions.ids
    return tuple(r for r in summary.region_ids if r in regions)


# --- per-window counts --------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSeries:
    """Distinct authors per window, from ``start_ms`` in steps of ``window_ms``."""

    start_ms: int
    window_ms: int
    counts: tuple[int, ...]


def window_series(
    posts: Iterable[RelevantPost],
    summaries: Sequence[AlertSummary],
    window_ms: int,
    pad_windows: int = PAD_WINDOWS,
) -> dict[str, WindowSeries]:
    """Per alert id, the distinct authors per window of the relevant posts (of any
    category, reposts left out, as the detectors count) in the alert's regions, over the
    alert's windows and ``pad_windows`` either side. A nationwide alert counts every post.

    >>> from models.records import Alert, RelevantPost
    >>> a = Alert("a", "opened", "minor", "voice", ("r1",), ("R1",), None, 600_000, 900_000,
    ...           600_000, 900_000, 2, 0.1, 0.6, 1e-4, 2)
    >>> posts = [RelevantPost(str(i), 610_000 + i, f"u{i % 2}", "z", "r1", "voice", None, 1.0,
    ...                       "place") for i in range(5)]
    >>> s = window_series(posts, fold_alerts([a]), 300_000, pad_windows=1)["a"]
    >>> s.start_ms, s.counts
    (300000, (0, 2, 0))
    """
    by_region: dict[str | None, list[RelevantPost]] = {}
    for post in posts:
        if not post.is_repost:
            by_region.setdefault(post.region_id, []).append(post)
    out: dict[str, WindowSeries] = {}
    for s in summaries:
        first = s.start_ms // window_ms - pad_windows
        last = -(-s.end_ms // window_ms) + pad_windows
        authors: list[set[str]] = [set() for _ in range(last - first)]
        wanted = by_region if ALL_REGIONS in s.region_ids else s.region_ids
        for rid in wanted:
            for post in by_region.get(rid, ()):
                w = post.created_at_ms // window_ms - first
                if 0 <= w < len(authors):
                    authors[w].add(post.author_hash)
        out[s.alert_id] = WindowSeries(first * window_ms, window_ms, tuple(len(a) for a in authors))
    return out


# --- drawing helpers ----------------------------------------------------------------------


def score_colour(score: float) -> str:
    """Fill of a region whose highest alert score is ``score``: pale yellow at 0.5 (the
    significance level) to dark red at 1.

    >>> score_colour(0.5), score_colour(1.0), score_colour(0.2) == score_colour(0.5)
    ('#ffeda0', '#bd0026', True)
    """
    t = min(1.0, max(0.0, (score - 0.5) / 0.5)) * (len(_RAMP) - 1)
    i = min(int(t), len(_RAMP) - 2)
    f = t - i
    rgb = (round(a + (b - a) * f) for a, b in zip(_RAMP[i], _RAMP[i + 1], strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _num(x: float) -> str:
    """A coordinate with one decimal and no trailing zero."""
    return f"{round(x, 1):g}"


def _path_d(geom: BaseGeometry) -> str:
    """SVG path data of a projected polygonal geometry (one decimal; repeated points and
    rings too small to see dropped, but never every ring)."""
    rings = [
        np.asarray(ring.coords)[:-1]
        for poly in shapely.get_parts(geom)
        for ring in (poly.exterior, *poly.interiors)
    ]
    for decimals in (1, 2, 3):
        parts = []
        for xy in rings:
            xy = np.round(xy, decimals)
            keep = np.ones(len(xy), dtype=bool)
            keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
            xy = xy[keep]
            if len(xy) >= 3:
                parts.append("M" + " ".join(f"{x:g} {y:g}" for x, y in xy.tolist()) + "Z")
        if parts:
            return "".join(parts)
    return ""


@dataclass(frozen=True)
class _Frame:
    """Equirectangular projection (longitudes shrunk by the cosine of the mean latitude)
    fitted to a viewBox of ``width`` x ``height`` with a margin."""

    lon0: float
    lat1: float
    scale: float
    shrink: float
    margin: float
    width: float
    height: float

    @classmethod
    def fit(cls, bounds: tuple[float, float, float, float], margin: float = 8.0) -> _Frame:
        x0, y0, x1, y1 = bounds
        shrink = math.cos(math.radians((y0 + y1) / 2))
        span_x = max((x1 - x0) * shrink, 1e-9)
        span_y = max(y1 - y0, 1e-9)
        inner = MAP_WIDTH - 2 * margin
        scale = min(inner / span_x, (MAP_MAX_HEIGHT - 2 * margin) / span_y)
        return cls(
            x0, y1, scale, shrink, margin, span_x * scale + 2 * margin, span_y * scale + 2 * margin
        )

    def project(self, geoms: Any) -> Any:
        def xy(coords: np.ndarray) -> np.ndarray:
            out = np.empty_like(coords)
            out[:, 0] = self.margin + (coords[:, 0] - self.lon0) * self.shrink * self.scale
            out[:, 1] = self.margin + (self.lat1 - coords[:, 1]) * self.scale
            return out

        return shapely.transform(geoms, xy)


def _nice_step(span: float, target: int) -> float:
    """A 1-2-5 step giving about ``target`` intervals over ``span``."""
    raw = max(span, 1e-9) / target
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


def _clock(ms: int) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC)."""
    return iso_from_ms(ms)[:16].replace("T", " ")


def _duration(ms: int) -> str:
    """Minutes, hours and days of a span.

    >>> _duration(45 * 60_000), _duration(125 * 60_000), _duration(26 * 3_600_000)
    ('45 min', '2 h 05 min', '1 d 2 h')
    """
    minutes = ms // 60_000
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 1440:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // 1440} d {minutes % 1440 // 60} h"


def _names(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    more = f" +{len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# --- map ----------------------------------------------------------------------------------


def region_scores(
    summaries: Sequence[AlertSummary], regions: RegionSet
) -> dict[str, tuple[float, int]]:
    """Per region in the set, the highest score among the alerts that include it and the
    number of that alert. Nationwide alerts (region ``*``) are outlined but shade nothing:
    they would cover every local alert."""
    best: dict[str, tuple[float, int]] = {}
    for s in summaries:
        if ALL_REGIONS in s.region_ids:
            continue
        for rid in covered_regions(s, regions):
            if rid not in best or s.score > best[rid][0]:
                best[rid] = (s.score, s.number)
    return best


def _own_geometry(s: AlertSummary) -> BaseGeometry | None:
    """The alert's GeoJSON geometry as a polygonal shape, or None if it has none usable."""
    if s.geometry is None:
        return None
    try:
        geom = polygonal(shape(s.geometry))
    except (ShapelyError, ValueError, TypeError, AttributeError, KeyError):
        return None
    return None if geom.is_empty else geom


def _simplified(geoms: Any, preserve_topology: bool) -> Any:
    """Projected geometries simplified by :data:`SIMPLIFY`; any that would vanish kept."""
    flat = shapely.simplify(geoms, SIMPLIFY, preserve_topology=preserve_topology)
    if isinstance(flat, BaseGeometry):
        return geoms if flat.is_empty else flat
    return np.where(shapely.is_empty(flat), geoms, flat)


def render_map(summaries: Sequence[AlertSummary], regions: RegionSet) -> str:
    """The map SVG: one path per region (``data-region``, a ``<title>`` with its name),
    shaded by :func:`region_scores`, and the alerts' outlines and numbers over it. An
    alert without a geometry is outlined by the union of its regions."""
    own = [_own_geometry(s) for s in summaries]
    geoms = np.array([r.geometry for r in regions], dtype=object)
    bounds = shapely.total_bounds(np.concatenate([geoms, [g for g in own if g is not None]]))
    frame = _Frame.fit((bounds[0], bounds[1], bounds[2], bounds[3]))
    projected = frame.project(geoms)
    flat = _simplified(projected, preserve_topology=True)
    outlines: list[tuple[AlertSummary, BaseGeometry | None]] = []
    for s, geom in zip(summaries, own, strict=True):
        if geom is not None:
            outlines.append((s, frame.project(geom)))
        else:
            known = [regions.index(r) for r in covered_regions(s, regions)]
            outlines.append((s, shapely.union_all(projected[known]) if known else None))
    scores = region_scores(summaries, regions)
    out = [
        f'<svg id="map" class="map" viewBox="0 0 {_num(frame.width)} {_num(frame.height)}" '
        f'role="img" aria-label="map of {len(regions)} regions and {len(summaries)} alerts">',
        f'<g class="regions" fill="{NO_ALERT_FILL}" stroke="#fff" stroke-width="0.5" '
        'fill-rule="evenodd">',
    ]
    for region, geom in zip(regions, flat, strict=True):
        name = escape(region.name)
        if region.id in scores:
            score, number = scores[region.id]
            out.append(
                f'<path data-region="{escape(region.id)}" data-score="{score:.4f}" '
                f'fill="{score_colour(score)}" d="{_path_d(geom)}"><title>{name} · '
                f"score {score:.2f} (alert {number})</title></path>"
            )
        else:
            out.append(
                f'<path data-region="{escape(region.id)}" d="{_path_d(geom)}">'
                f"<title>{name}</title></path>"
            )
    out.append("</g>")
    lines = []
    labels = []
    placed: list[tuple[float, float]] = []
    for s, geom in outlines:
        if geom is None or geom.is_empty:
            continue
        flat_outline = _simplified(geom, preserve_topology=False)
        what = escape(f"Alert {s.number} · {s.severity} · {s.category} · {_names(s.region_names)}")
        lines.append(
            f'<path class="outline" data-alert="{escape(s.alert_id)}" '
            f'stroke="{SEVERITY_STROKE[s.severity]}" d="{_path_d(flat_outline)}">'
            f"<title>{what}</title></path>"
        )
        p = flat_outline.representative_point()
        x, y = p.x, p.y
        while any(abs(x - a) < 16 and abs(y - b) < 16 for a, b in placed):
            y += 17
        placed.append((x, y))
        labels.append(
            f'<a href="#alert-{s.number}" class="badge" data-alert="{escape(s.alert_id)}">'
            f'<circle cx="{_num(x)}" cy="{_num(y)}" r="10.5" '
            f'stroke="{SEVERITY_STROKE[s.severity]}"/>'
            f'<text x="{_num(x)}" y="{_num(y)}">{s.number}</text></a>'
        )
    if len(regions) <= REGION_LABELS_MAX:
        out.append('<g class="region-labels">')
        for region, geom in zip(regions, flat, strict=True):
            p = geom.representative_point()
            x, y = p.x, p.y
            if any(abs(x - a) < 45 and abs(y - b) < 14 for a, b in placed):
                y += 20  # below the alert's number
            out.append(f'<text x="{_num(x)}" y="{_num(y)}">{escape(region.name)}</text>')
        out.append("</g>")
    out.append('<g class="outlines" fill="none" fill-rule="evenodd">' + "".join(lines) + "</g>")
    out.append('<g class="alert-labels">' + "".join(labels) + "</g>")
    out.append("</svg>")
    return "".join(out)


def render_legend() -> str:
    """The map's key: the score ramp, the colour of regions without an alert and the
    outline colour of each severity."""
    stops = "".join(
        f'<stop offset="{i / (len(_RAMP) - 1):.2f}" stop-color="{score_colour(0.5 + i / 8)}"/>'
        for i in range(len(_RAMP))
    )
    ticks = "".join(
        f'<text x="{20 + v * 200:g}" y="40" text-anchor="middle">{0.5 + v / 2:.2f}</text>'
        for v in (0, 0.5, 1)
    )
    sev = "".join(
        f'<rect x="{340 + i * 92}" y="14" width="22" height="14" fill="none" '
        f'stroke="{SEVERITY_STROKE[name]}" stroke-width="2.5"/>'
        f'<text x="{368 + i * 92}" y="26">{name}</text>'
        for i, name in enumerate(SEVERITIES)
    )
    return (
        '<svg id="legend" class="legend" viewBox="0 0 620 48" role="img" aria-label="legend">'
        '<defs><linearGradient id="ramp">' + stops + "</linearGradient></defs>"
        '<text x="20" y="10">highest local alert score (0.5 = significance level)</text>'
        '<rect x="20" y="14" width="200" height="14" fill="url(#ramp)"/>' + ticks + ""
        f'<rect x="240" y="14" width="22" height="14" fill="{NO_ALERT_FILL}"/>'
        '<text x="267" y="26">no alert</text>'
        '<text x="340" y="10">alert outline by severity</text>' + sev + "</svg>"
    )


# --- table and summary --------------------------------------------------------------------


def render_table(summaries: Sequence[AlertSummary]) -> str:
    """One row per alert id, in opening order."""
    head = (
        "#",
        "opened (UTC)",
        "status",
        "severity",
        "category",
        "regions",
        "peak observed / expected",
        "min p-value",
        "duration",
    )
    rows = []
    for s in summaries:
        peak = s.peak
        ended = "" if s.status == "resolved" else " (open)"
        all_names = _names(s.region_names, 50)
        cells = (
            f'<a href="#alert-{s.number}" title="{escape(s.alert_id)}">{s.number}</a>',
            escape(_clock(s.opened_ms)),
            f'<span class="st st-{escape(s.status)}">{escape(s.status)}</span>',
            f'<span class="sev sev-{escape(s.severity)}">{escape(s.severity)}</span>',
            escape(s.category),
            f'<span title="{escape(all_names)}">{escape(_names(s.region_names))}</span>',
            f"{peak.observed} / {peak.expected:.2f}",
            f"{peak.p_value:.1e}",
            escape(_duration(s.end_ms - s.start_ms) + ended),
        )
        rows.append(
            f'<tr data-alert="{escape(s.alert_id)}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    return (
        '<table class="alerts"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def render_summary(
    summaries: Sequence[AlertSummary], alerts: Sequence[Alert], regions: RegionSet
) -> str:
    """Counts at the top of the page: alerts, events, time span, categories, severities."""
    start = min(a.window_start_ms for a in alerts)
    end = max(a.window_end_ms for a in alerts)
    open_now = sum(s.status != "resolved" for s in summaries)

    def counts(values: Iterable[str], order: Sequence[str] = ()) -> str:
        tally = Counter(values)
        keys = [k for k in order if k in tally] + sorted(k for k in tally if k not in order)
        return "".join(
            f'<li><span class="k">{escape(k)}</span> <b>{tally[k]}</b></li>' for k in keys
        )

    unknown = sorted(
        {r for s in summaries for r in s.region_ids if r != ALL_REGIONS and r not in regions}
    )
    note = (
        f'<p class="warn">{len(unknown)} region id(s) of the alerts are not in the region set '
        f"(first: {escape(', '.join(unknown[:5]))}); they are not drawn.</p>"
        if unknown
        else ""
    )
    return (
        '<section class="cards">'
        f'<div class="card"><div class="big">{len(summaries)}</div>'
        f"<div>alerts ({len(alerts)} events, {open_now} still open)</div></div>"
        f'<div class="card"><div class="mid">{escape(_clock(start))} → '
        f"{escape(_clock(end))} UTC</div><div>time span ({escape(_duration(end - start))})"
        "</div></div>"
        f'<div class="card"><div>by severity</div><ul>'
        f"{counts((s.severity for s in summaries), SEVERITIES)}</ul></div>"
        f'<div class="card"><div>by category</div><ul>'
        f"{counts(s.category for s in summaries)}</ul></div>"
        "</section>" + note
    )


# --- timelines ----------------------------------------------------------------------------


def render_chart(summary: AlertSummary, series: WindowSeries | None = None) -> str:
    """An SVG timeline of one alert: observed distinct authors per window (bars from
    ``series``, else the events' own counts as points) and the events' expected values as
    a line; an event spanning k windows shows its totals divided by k. Vertical marks
    show when the alert opened, was updated and resolved."""
    width, height = 600, 200
    left, right, top, bottom = 44, 24, 26, 30
    events = summary.events
    spans = [max(1, e.window_end_ms - e.window_start_ms) for e in events]
    window = series.window_ms if series else min(spans)
    per = [max(1, round((e.window_end_ms - e.window_start_ms) / window)) for e in events]
    if series:
        t0 = series.start_ms
        t1 = series.start_ms + len(series.counts) * series.window_ms
    else:
        t0 = summary.start_ms - 2 * window
        t1 = summary.end_ms + 2 * window
    mids = [(e.window_start_ms + e.window_end_ms) / 2 for e in events]
    expected = [(t, e.expected / k) for t, e, k in zip(mids, events, per, strict=True)]
    observed = [(t, e.observed / k) for t, e, k in zip(mids, events, per, strict=True)]
    top_value = max(
        [1.0, *(v for _, v in expected), *(v for _, v in observed)]
        + ([float(max(series.counts, default=0))] if series else [])
    )
    step = _nice_step(top_value, 4)
    y_max = math.ceil(top_value / step) * step
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return top + plot_h - v / y_max * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="timeline of alert {summary.number}">',
        f'<rect class="span" x="{_num(x(summary.start_ms))}" y="{top}" '
        f'width="{_num(x(summary.end_ms) - x(summary.start_ms))}" height="{plot_h}"/>',
    ]
    for i in range(round(y_max / step) + 1):
        v = i * step
        out.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_num(y(v))}" '
            f'y2="{_num(y(v))}"/><text class="ytick" x="{left - 5}" y="{_num(y(v) + 4)}">'
            f"{v:g}</text>"
        )
    minutes = (t1 - t0) / 60_000
    tick_min = next((m for m in _TIME_STEPS_MIN if minutes / m <= 6), _TIME_STEPS_MIN[-1])
    tick = -(-t0 // (tick_min * 60_000)) * tick_min * 60_000
    while tick <= t1:
        label = _clock(tick)[11:] if tick % 86_400_000 else _clock(tick)[5:10]
        out.append(
            f'<line class="xtick" x1="{_num(x(tick))}" x2="{_num(x(tick))}" '
            f'y1="{top + plot_h}" y2="{top + plot_h + 4}"/><text class="xlabel" '
            f'x="{_num(x(tick))}" y="{height - 10}">{label}</text>'
        )
        tick += tick_min * 60_000
    if series:
        bar = series.window_ms / (t1 - t0) * plot_w
        for i, count in enumerate(series.counts):
            if count:
                start = series.start_ms + i * series.window_ms
                out.append(
                    f'<rect class="obs" x="{_num(x(start) + 0.5)}" y="{_num(y(count))}" '
                    f'width="{_num(max(bar - 1, 0.5))}" height="{_num(y(0) - y(count))}">'
                    f"<title>{escape(_clock(start))}: {count} author(s)</title></rect>"
                )
    else:
        for (t, v), e in zip(observed, events, strict=True):
            out.append(
                f'<line class="obs-span" x1="{_num(x(e.window_start_ms))}" '
                f'x2="{_num(x(e.window_end_ms))}" y1="{_num(y(v))}" y2="{_num(y(v))}"/>'
                f'<circle class="obs-pt" cx="{_num(x(t))}" cy="{_num(y(v))}" r="3.5">'
                f"<title>{escape(e.status)}: observed {e.observed}</title></circle>"
            )
    out.append(
        '<polyline class="exp-line" points="'
        + " ".join(f"{_num(x(t))},{_num(y(v))}" for t, v in sorted(expected))
        + '"/>'
    )
    last_label = -1e9
    for (t, v), e in zip(expected, events, strict=True):
        what = f"{e.status}: expected {e.expected:.2f} over {_clock(e.window_start_ms)[11:]}"
        out.append(
            f'<line class="exp-span" x1="{_num(x(e.window_start_ms))}" '
            f'x2="{_num(x(e.window_end_ms))}" y1="{_num(y(v))}" y2="{_num(y(v))}"/>'
            f'<circle class="exp-pt" cx="{_num(x(t))}" cy="{_num(y(v))}" r="2.5">'
            f"<title>{escape(what)}–{escape(_clock(e.window_end_ms)[11:])}</title></circle>"
        )
        at = x(e.detected_at_ms)
        colour = STATUS_STROKE[e.status]
        out.append(
            f'<line class="mark" stroke="{colour}" x1="{_num(at)}" x2="{_num(at)}" '
            f'y1="{top - 4}" y2="{top + plot_h}"><title>{escape(e.status)} at '
            f"{escape(_clock(e.detected_at_ms))} · {escape(e.severity)} · observed "
            f"{e.observed} / expected {e.expected:.2f} · p {e.p_value:.1e}</title></line>"
        )
        if at - last_label > 52:
            out.append(
                f'<text class="mark-label" fill="{colour}" x="{_num(at)}" y="{top - 8}">'
                f"{escape(e.status)}</text>"
            )
            last_label = at
    out.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return "".join(out)


def render_charts(
    summaries: Sequence[AlertSummary], series: Mapping[str, WindowSeries] | None = None
) -> str:
    """One figure per alert with its timeline and a caption."""
    figures = []
    for s in summaries:
        one = series.get(s.alert_id) if series else None
        minutes = (
            one.window_ms if one else min(e.window_end_ms - e.window_start_ms for e in s.events)
        ) // 60_000
        source = (
            f"distinct authors of relevant posts per {minutes}-min window in the alert's regions"
            if one
            else f"the alert events' distinct authors per {minutes}-min window"
        )
        figures.append(
            f'<figure class="timeline" id="alert-{s.number}" data-alert="{escape(s.alert_id)}">'
            f"<figcaption><b>Alert {s.number}</b> · {escape(s.severity)} · "
            f"{escape(s.category)} · {escape(_names(s.region_names))}"
            f'<span class="key"><i class="k-obs"></i>observed <i class="k-exp"></i>expected'
            "</span></figcaption>"
            f"{render_chart(s, one)}"
            f'<p class="small">{escape(_clock(s.start_ms)[:10])} (UTC) · {source}</p>'
            "</figure>"
        )
    return '<div class="charts">' + "".join(figures) + "</div>"


# --- page ---------------------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}
body{margin:0;padding:20px 28px;font:14px/1.45 system-ui,"Segoe UI",Roboto,"DejaVu Sans",
sans-serif;color:#1d2330;background:#f6f7f9}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:26px 0 10px}
.sub,.small{color:#5b6474;font-size:12.5px;margin:0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 14px;
min-width:170px}
.card .big{font-size:28px;font-weight:700}.card .mid{font-size:15px;font-weight:600}
.card ul{list-style:none;margin:4px 0 0;padding:0}.card li{display:inline-block;margin-right:10px}
.warn{color:#9a3412;background:#fff7ed;border:1px solid #fed7aa;padding:6px 10px;
border-radius:6px}
.mapbox{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px;
max-width:980px}
.map{width:100%;height:auto;display:block;max-height:80vh}
.regions path:hover{stroke:#333;stroke-width:1.2}
.region-labels text{font-size:11px;fill:#374151;text-anchor:middle;pointer-events:none;
stroke:#fff;stroke-width:3px;stroke-opacity:.6;paint-order:stroke}
.outline{stroke-width:2.5;vector-effect:non-scaling-stroke;stroke-linejoin:round}
.outline.hl{stroke-width:5}
.badge circle{fill:#fff;stroke-width:2.5}.badge.hl circle{fill:#fde68a}
.badge text{font-size:13px;font-weight:700;text-anchor:middle;dominant-baseline:central;
fill:#111}
.legend{width:100%;max-width:620px;height:auto;display:block;margin-top:6px;font-size:11px;
fill:#374151}
table.alerts{border-collapse:collapse;background:#fff;width:100%;font-size:13px;
border:1px solid #dde1e7}
.alerts th{background:#eef1f5;text-align:left;padding:6px 8px;font-weight:600;
white-space:nowrap}
.alerts td{padding:5px 8px;border-top:1px solid #e6e9ee;white-space:nowrap}
.alerts td:nth-child(6){white-space:normal;min-width:200px}
.alerts tr.hl td{background:#fff7d6}
.sev,.st{padding:1px 7px;border-radius:9px;font-size:12px}
.sev-minor{background:#dbeafe;color:#1d4ed8}.sev-major{background:#ede9fe;color:#6a2c91}
.sev-critical{background:#1f2937;color:#fff}
.st-opened{color:#c62828}.st-updated{color:#7b3fa0}.st-resolved{color:#2e7d32}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 12px}
figure.hl{border-color:#f59e0b}
figcaption{font-size:13px;margin-bottom:4px}
.key{float:right;color:#5b6474;font-size:12px}
.key i{display:inline-block;width:12px;height:9px;margin:0 4px 0 10px}
.k-obs{background:#5b84c4}.k-exp{background:#e8710a;height:3px!important;
vertical-align:middle}
.chart{width:100%;height:auto;display:block;font-size:11px;fill:#4b5563}
.chart .span{fill:#fdecea}.chart .grid{stroke:#e5e7eb}.chart .axis,.chart .xtick{stroke:#9ca3af}
.chart .ytick{text-anchor:end}.chart .xlabel{text-anchor:middle}
.chart .obs{fill:#5b84c4}.chart .obs-span{stroke:#5b84c4;stroke-width:3}
.chart .obs-pt{fill:#5b84c4}
.chart .exp-line{fill:none;stroke:#e8710a;stroke-width:2}.chart .exp-pt{fill:#e8710a}
.chart .exp-span{stroke:#e8710a;stroke-width:1;opacity:.6}
.chart .mark{stroke-width:1.5;stroke-dasharray:4 3}
.chart .mark-label{font-size:10.5px;text-anchor:middle}
"""

_SCRIPT = """
document.querySelectorAll("[data-alert]").forEach(function (el) {
  function mark(on) {
    var sel = '[data-alert="' + CSS.escape(el.getAttribute("data-alert")) + '"]';
    document.querySelectorAll(sel).forEach(function (x) { x.classList.toggle("hl", on); });
  }
  el.addEventListener("mouseenter", function () { mark(true); });
  el.addEventListener("mouseleave", function () { mark(false); });
});
"""


def render_report(
    alerts: Sequence[Alert],
    regions: RegionSet,
    series: Mapping[str, WindowSeries] | None = None,
    *,
    title: str = "Groundswell alert report",
    source: str = "",
) -> str:
    """The whole page as HTML text; every text from the data is escaped.

    >>> from shapely.geometry import box
    >>> from geo.regions import Region
    >>> rs = RegionSet.from_regions([Region("a", "A<1>", box(0, 0, 1, 1)),
    ...                              Region("b", "B", box(1, 0, 2, 1))])
    >>> a = Alert("x", "opened", "major", "voice", ("a",), ("A<1>",), None, 0, 300_000, 0,
    ...           300_000, 9, 0.5, 0.8, 1e-9, 9)
    >>> page = render_report([a], rs)
    >>> page.count("<path data-region="), "A&lt;1&gt;" in page, "A<1>" in page
    (2, True, False)
    """
    if not alerts:
        raise ValueError("a report needs at least one alert")
    summaries = fold_alerts(alerts)
    sub = f"{source} · " if source else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="sub">{escape(sub)}{len(regions)} regions · times in UTC · '
        "hover a row or an outline to find the alert</p></header>"
        f"{render_summary(summaries, alerts, regions)}"
        f'<section class="mapbox">{render_map(summaries, regions)}{render_legend()}</section>'
        f"<h2>Alerts</h2>{render_table(summaries)}"
        f"<h2>Timelines</h2>{render_charts(summaries, series)}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


# --- command ------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from streams.chain import Stages, load_regions, relevant_stream
    from streams.cli import _settings

    started = time.perf_counter()
    settings = _settings(args)
    inputs = [("ALERTS", args.alerts), ("--posts", args.posts), *settings.input_files()]
    check_files(inputs, args.out)
    alerts = read_alerts(args.alerts)
    summaries = fold_alerts(alerts)
    regions = load_regions(settings)
    series = lines = None
    if args.posts:
        stages = Stages(settings, regions)
        lines = InputLines(args.posts, "posts")
        stream = relevant_stream(stages, lines, reject=lines.reject)
        series = window_series(
            [p for p in stream if not isinstance(p, int)], summaries, stages.window_ms
        )
    page = render_report(alerts, regions, series, title=args.title, source=Path(args.alerts).name)
    Path(args.out).write_text(page, encoding="utf-8")
    posts = f"; {args.posts}: {lines.summary()}" if lines else ""
    print(
        f"{len(summaries)} alerts ({len(alerts)} events), {len(regions)} regions "
        f"-> {args.out} ({len(page.encode()) / 1024:.0f} KiB in "
        f"{time.perf_counter() - started:.1f} s){posts}",
        file=sys.stderr,
    )
    return 1 if lines and lines.bad else 0


def add_report_command(sub: Any, regions_opts: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``report`` to the ``groundswell`` subcommands; ``regions_opts`` adds the
    shared ``--regions`` options."""
    p = sub.add_parser("report", help="write alerts as one self-contained HTML page")
    p.add_argument("alerts", metavar="ALERTS.jsonl", help="alerts (backtest --out) or a dump")
    p.add_argument(
        "--posts",
        help="posts (any supported format, or a dump): timelines of the alerts' regions",
    )
    regions_opts(p)
    p.add_argument("--out", required=True, metavar="REPORT.html", help="the page to write")
    p.add_argument("--title", default="Groundswell alert report", help="the page's title")
    p.set_defaults(func=cmd_report)
