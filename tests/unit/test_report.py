"""``groundswell report``: the page's map, table and timelines, escaping, no network
references, the command line, and the page as headless Chromium renders it.

The browser check needs ``/usr/bin/chromium`` and the ``playwright`` package (it drives the
installed Chromium, never a downloaded one); without them it is skipped, or fails when
``GROUNDSWELL_REQUIRE_TOOLS=1``. :func:`screenshot` also writes the documentation's picture
(``deploy/report/report.png``) from the demo scenario.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, box

from geo.regions import Region, RegionSet
from models.errors import ConfigError
from models.records import Alert, RelevantPost, dumps
from streams.cli import main
from streams.files import DumpRecord
from streams.report import (
    fold_alerts,
    read_alerts,
    region_scores,
    render_report,
    score_colour,
    window_series,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T0 = 1_709_535_600_000  # 2024-03-04T07:00:00Z
W = 300_000  # five-minute windows
EVIL = "<script>alert(1)</script>"


# --- a tiny HTML reader -------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find_all(self, tag: str, **attrs: str | None) -> list[Element]:
        """Descendants with this tag whose attributes have these values (None: present)."""
        out = []
        for child in self.children:
            if child.tag == tag and all(
                k.replace("_", "-") in child.attrs
                and (v is None or child.attrs[k.replace("_", "-")] == v)
                for k, v in attrs.items()
            ):
                out.append(child)
            out.extend(child.find_all(tag, **attrs))
        return out

    def all_text(self) -> str:
        """The text of the element and its descendants, words one space apart."""
        return " ".join([*self.text.split(), *(c.all_text() for c in self.children)]).strip()


class _Reader(HTMLParser):
    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.at = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, self.at)
        self.at.children.append(el)
        if tag not in self.VOID:
            self.at = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.at.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.at))

    def handle_endtag(self, tag: str) -> None:
        assert self.at.tag == tag, f"</{tag}> closes <{self.at.tag}>"
        assert self.at.parent is not None
        self.at = self.at.parent

    def handle_data(self, data: str) -> None:
        self.at.text += data


def parse(page: str) -> Element:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    assert reader.at is reader.root, "unclosed elements"
    return reader.root


# --- fixtures -----------------------------------------------------------------------------


def _regions() -> RegionSet:
    return RegionSet.from_regions(
        [
            Region("r1", "North", box(9, 45, 10, 45.5)),
            Region("r2", "Centre", box(9, 44.5, 10, 45)),
            Region("r3", EVIL, box(10, 44.5, 11, 45)),
            Region('r"4&', "East & 'Co'", box(10, 45, 11, 45.5)),
        ]
    )


def _event(
    alert_id: str,
    status: str,
    window: int,
    regions: tuple[str, ...],
    *,
    observed: int = 6,
    expected: float = 0.5,
    score: float = 0.7,
    p_value: float = 1e-5,
    severity: str = "minor",
    category: str = "mobile_data",
    names: tuple[str, ...] | None = None,
    geometry: dict[str, Any] | None = None,
    span: int = 1,
) -> Alert:
    end = T0 + (window + 1) * W
    return Alert(
        alert_id=alert_id,
        status=status,
        severity=severity,
        category=category,
        region_ids=regions,
        region_names=names if names is not None else regions,
        geometry=geometry,
        window_start_ms=end - span * W,
        window_end_ms=end,
        first_post_at_ms=end - span * W,
        detected_at_ms=end,
        observed=observed,
        expected=expected,
        score=score,
        p_value=p_value,
        distinct_authors=observed,
    )


def _alerts() -> list[Alert]:
    north_centre = {
        "type": "Polygon",
        "coordinates": [[[9, 44.5], [10, 44.5], [10, 45.5], [9, 45.5], [9, 44.5]]],
    }
    return [
        # listed out of order on purpose: the table sorts by opening time
        _event("b", "opened", 5, ("r3",), names=(EVIL,), score=0.6, category="<b>voice</b>"),
        _event("a", "opened", 2, ("r1",), names=("North",), score=0.55),
        _event(
            "a",
            "updated",
            3,
            ("r1", "r2"),
            names=("North", "Centre"),
            score=0.9,
            p_value=1e-12,
            observed=30,
            expected=1.5,
            severity="critical",
            geometry=north_centre,
            span=3,
        ),
        _event(
            "a",
            "resolved",
            6,
            ("r1", "r2"),
            names=("North", "Centre"),
            observed=0,
            score=0.0,
            p_value=1.0,
            severity="critical",
            geometry=north_centre,
        ),
        _event("c", "opened", 7, ("r2",), names=("Centre",), score=0.52, severity="major"),
    ]


@pytest.fixture(scope="module")
def page() -> Element:
    return parse(render_report(_alerts(), _regions(), title="Report & <co>", source="x.jsonl"))


def _map(doc: Element) -> Element:
    (svg,) = doc.find_all("svg", id="map")
    return svg


# --- rendering ----------------------------------------------------------------------------


def test_the_map_has_one_titled_path_per_region(page: Element) -> None:
    paths = _map(page).find_all("path", data_region=None)
    assert [p.attrs["data-region"] for p in paths] == list(_regions().ids)
    for path, region in zip(paths, _regions(), strict=True):
        assert path.find_all("title")[0].all_text().startswith(region.name)
        assert re.fullmatch(r"(M[-\d. ]+Z)+", path.attrs["d"]), path.attrs["d"]


def test_each_region_is_shaded_by_the_highest_score_of_its_alerts(page: Element) -> None:
    summaries = fold_alerts(_alerts())
    scores = region_scores(summaries, _regions())
    assert scores == {"r1": (0.9, 1), "r2": (0.9, 1), "r3": (0.6, 2)}  # r2: a (0.9) > c (0.52)
    fills = {
        p.attrs["data-region"]: p.attrs.get("fill")
        for p in _map(page).find_all("path")
        if "data-region" in p.attrs
    }
    assert fills == {
        "r1": score_colour(0.9),
        "r2": score_colour(0.9),
        "r3": score_colour(0.6),
        'r"4&': None,  # no alert: the group's light grey
    }
    (group,) = _map(page).find_all("g", **{"class": "regions"})
    assert group.attrs["fill"] == "#e3e6ea"


def test_the_colour_ramp_darkens_with_the_score() -> None:
    def lightness(colour: str) -> int:
        return sum(int(colour[i : i + 2], 16) for i in (1, 3, 5))

    shades = [lightness(score_colour(s / 20)) for s in range(10, 21)]
    assert shades == sorted(shades, reverse=True) and len(set(shades)) == len(shades)


def test_every_alert_is_outlined_and_numbered_on_the_map(page: Element) -> None:
    outlines = _map(page).find_all("path", **{"class": "outline"})
    assert [o.attrs["data-alert"] for o in outlines] == ["a", "b", "c"]
    assert all(o.attrs["d"].startswith("M") for o in outlines)
    # "b" has no geometry: its outline is its region's box, like r3's own path
    r3 = _map(page).find_all("path", data_region="r3")[0]
    assert sorted(outlines[1].attrs["d"].strip("MZ").split()) == sorted(
        r3.attrs["d"].strip("MZ").split()
    )
    badges = _map(page).find_all("a", **{"class": "badge"})
    assert [(b.attrs["href"], b.all_text()) for b in badges] == [
        ("#alert-1", "1"),
        ("#alert-2", "2"),
        ("#alert-3", "3"),
    ]


def test_the_table_has_one_row_per_alert_in_opening_order(page: Element) -> None:
    (table,) = page.find_all("table")
    rows = table.find_all("tbody")[0].find_all("tr")
    assert [r.attrs["data-alert"] for r in rows] == ["a", "b", "c"]
    cells = [td.all_text() for td in rows[0].find_all("td")]
    assert cells == [
        "1",
        "2024-03-04 07:15",
        "resolved",
        "critical",
        "mobile_data",
        "North, Centre",
        "30 / 1.50",
        "1.0e-12",
        "30 min",
    ]
    assert [td.all_text() for td in rows[1].find_all("td")][2] == "opened"
    assert rows[1].find_all("td")[8].all_text() == "5 min (open)"


def test_the_summary_counts_alerts_severities_and_categories(page: Element) -> None:
    (cards,) = page.find_all("section", **{"class": "cards"})
    text = cards.all_text()
    assert "3 alerts (5 events, 2 still open)" in text
    assert "2024-03-04 07:05 → 2024-03-04 07:40 UTC" in text
    by_severity, by_category = (
        [li.all_text() for li in ul.find_all("li")] for ul in cards.find_all("ul")
    )
    assert by_severity == ["minor 1", "major 1", "critical 1"]
    assert by_category == ["<b>voice</b> 1", "mobile_data 2"]


def test_one_timeline_per_alert_from_the_events_alone(page: Element) -> None:
    figures = page.find_all("figure")
    assert [f.attrs["id"] for f in figures] == ["alert-1", "alert-2", "alert-3"]
    first = figures[0].find_all("svg", **{"class": "chart"})[0]
    assert len(first.find_all("circle", **{"class": "obs-pt"})) == 3
    assert len(first.find_all("circle", **{"class": "exp-pt"})) == 3
    marks = first.find_all("line", **{"class": "mark"})
    assert [m.find_all("title")[0].all_text().split()[0] for m in marks] == [
        "opened",
        "updated",
        "resolved",
    ]


def test_a_timeline_with_posts_draws_one_bar_per_busy_window() -> None:
    alerts = _alerts()
    posts = [
        RelevantPost(
            f"p{i}", T0 + 2 * W + i * 1000, f"u{i % 3}", "z", "r1", "voice", None, 1.0, "place"
        )
        for i in range(7)
    ] + [RelevantPost("q", T0 + 4 * W, "v", "z", "r2", "voice", None, 1.0, "place")]
    series = window_series(posts, fold_alerts(alerts), W, pad_windows=2)
    assert series["a"].start_ms == T0 - W
    assert series["a"].counts == (0, 0, 0, 3, 0, 1, 0, 0, 0, 0)
    assert sum(series["b"].counts) == 0
    doc = parse(render_report(alerts, _regions(), series))
    first = doc.find_all("figure", id="alert-1")[0]
    bars = first.find_all("rect", **{"class": "obs"})
    assert [b.find_all("title")[0].all_text() for b in bars] == [
        "2024-03-04 07:10: 3 author(s)",
        "2024-03-04 07:20: 1 author(s)",
    ]
    assert float(bars[0].attrs["height"]) == pytest.approx(3 * float(bars[1].attrs["height"]))


def test_window_series_counts_distinct_authors_without_reposts() -> None:
    alerts = [_event("n", "opened", 0, ("*",), names=("all regions",))]
    rp = RelevantPost
    posts = [
        rp("1", T0 + 10, "u1", "z", None, "tv", None, 1.0, "none"),  # unlocated: nationwide
        rp("2", T0 + 20, "u1", "z", "r1", "tv", None, 1.0, "place"),  # same author
        rp("3", T0 + 30, "u2", "z", "r3", "tv", None, 1.0, "place", is_repost=True),
        rp("4", T0 + 40, "u3", "z", "r2", "tv", None, 1.0, "place"),
    ]
    assert window_series(posts, fold_alerts(alerts), W, pad_windows=0)["n"].counts == (2,)


def test_every_text_from_the_data_is_escaped(page: Element) -> None:
    page_text = render_report(_alerts(), _regions(), title="Report & <co>", source="x.jsonl")
    assert EVIL not in page_text and "<b>voice" not in page_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text
    assert page_text.count("<script>") == 1  # the page's own few lines
    assert all("voice" not in b.all_text() for b in page.find_all("b"))
    assert page.find_all("title")[0].all_text() == "Report & <co>"
    assert _map(page).find_all("path", data_region='r"4&')[0].find_all("title")[0].all_text() == (
        "East & 'Co'"
    )


def test_the_page_references_nothing_on_the_network() -> None:
    page_text = render_report(_alerts(), _regions())
    assert re.findall(r"https?://", page_text.replace("http://www.w3.org/2000/svg", "")) == []
    for needle in ("<link", "@import", " src=", "url(http"):
        assert needle not in page_text


def test_a_large_detailed_region_set_gives_a_small_page() -> None:
    # 3,000 round regions of 256 vertices each, as detailed as county boundaries
    cells = [
        Region(
            f"c{i}", f"cell {i}", Point(6 + (i % 60) * 0.2, 36 + (i // 60) * 0.2).buffer(0.1, 64)
        )
        for i in range(3000)
    ]
    regions = RegionSet.from_regions(cells)
    alerts = [
        _event(f"x{i}", "opened", i, (f"c{i * 7}", f"c{i * 7 + 1}"), score=0.5 + i / 40)
        for i in range(20)
    ] + [_event("all", "opened", 30, ("*",), names=("all regions",), score=0.51)]
    started = time.perf_counter()
    html = render_report(alerts, regions)
    seconds = time.perf_counter() - started
    assert len(parse(html).find_all("path", data_region=None)) == 3000
    assert len(html.encode()) < 3_000_000, len(html)
    assert seconds < 20


# --- reading alerts and the command line ------------------------------------------------


def test_alerts_are_read_from_backtest_lines_and_from_dumps(tmp_path: Path) -> None:
    alerts = _alerts()
    plain = tmp_path / "alerts.jsonl"
    plain.write_bytes(b"".join(dumps(a.to_wire()) + b"\n" for a in alerts))
    dump = tmp_path / "dump.jsonl"
    dump.write_bytes(
        b"".join(
            DumpRecord("alerts", 0, n, None, a.alert_id.encode(), dumps(a.to_wire())).to_line()
            + b"\n\n"
            for n, a in enumerate(alerts)
        )
    )
    assert read_alerts(str(plain)) == alerts
    assert read_alerts(str(dump)) == alerts


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "no alerts in the file"),
        (b"\n\n", "no alerts"),
        (b'{"a": 1}\n', "line 1 is not an alert"),
        (b"not json\n", "line 1 is not an alert: invalid json"),
    ],
)
def test_a_bad_or_empty_alerts_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str
) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=problem):
        read_alerts(str(path))
    assert main(["report", str(path), "--out", str(tmp_path / "r.html")]) == 2
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_a_missing_alerts_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r.html")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo scenario (seed 1), its backtest alerts and the report with posts."""
    out = tmp_path_factory.mktemp("demo")
    assert main(["simulate", "--scenario", "demo", "--seed", "1", "--out", str(out)]) == 0
    posts, alerts = str(out / "posts.jsonl"), str(out / "alerts.jsonl")
    assert main(["backtest", posts, "--out", alerts]) == 0
    assert main(["report", alerts, "--posts", posts, "--out", str(out / "report.html")]) == 0
    return out


def test_the_command_reports_the_demo_scenario(demo: Path) -> None:
    doc = parse((demo / "report.html").read_text(encoding="utf-8"))
    summaries = fold_alerts(read_alerts(str(demo / "alerts.jsonl")))
    assert len(_map(doc).find_all("path", data_region=None)) == 30
    rows = doc.find_all("tbody")[0].find_all("tr")
    assert [r.attrs["data-alert"] for r in rows] == [s.alert_id for s in summaries]
    # the planted outage in R32 (Monza) is a critical alert with posts drawn per window
    monza = next(s for s in summaries if s.region_ids == ("R32",))
    assert monza.severity == "critical"
    figure = doc.find_all("figure", data_alert=monza.alert_id)[0]
    counts = [
        int(b.find_all("title")[0].all_text().split(": ")[1].split()[0])
        for b in figure.find_all("rect", **{"class": "obs"})
    ]
    assert max(counts) >= 10


# --- the page in a real browser -----------------------------------------------------------


def screenshot(
    html_path: Path, png_path: Path, width: int = 1280, chromium: str = CHROMIUM
) -> dict[str, Any]:
    """Open the page in headless Chromium, write a full-page PNG and return what the DOM
    holds: region paths, outlines, charts, whether hovering the first table row highlights
    its outline, console errors and every URL the page asked for."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
            facts: dict[str, Any] = page.evaluate(
                """() => ({
                    regions: document.querySelectorAll("svg#map path[data-region]").length,
                    outlines: document.querySelectorAll("svg#map path.outline").length,
                    charts: document.querySelectorAll("figure svg.chart").length,
                    rows: document.querySelectorAll("table.alerts tbody tr").length,
                    mapWidth: document.querySelector("svg#map").getBoundingClientRect().width,
                })"""
            )
            page.hover("table.alerts tbody tr")
            facts["highlighted"] = page.evaluate(
                "() => document.querySelectorAll('svg#map path.outline.hl').length"
            )
            page.mouse.move(0, 0)
            page.screenshot(path=str(png_path), full_page=True)
        finally:
            browser.close()
    facts["errors"] = errors
    facts["requests"] = requests
    return facts


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_chromium_renders_the_demo_report(
    demo: Path, tmp_path: Path, require_tool: Callable[[str], str]
) -> None:
    png = tmp_path / "report.png"
    facts = screenshot(demo / "report.html", png, chromium=require_tool("chromium"))
    n_alerts = len(fold_alerts(read_alerts(str(demo / "alerts.jsonl"))))
    assert facts["errors"] == []
    assert all(url.startswith("file://") for url in facts["requests"]), facts["requests"]
    assert facts["regions"] == 30
    assert facts["outlines"] == facts["charts"] == facts["rows"] == n_alerts
    assert facts["highlighted"] == 1
    assert facts["mapWidth"] > 600
    width, height = _png_size(png)
    assert width == 1280 and height > 900
    assert png.stat().st_size > 50_000


def test_bad_lines_of_the_posts_are_reported_with_their_numbers(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    posts = tmp_path / "posts.jsonl"
    lines = (demo / "posts.jsonl").read_bytes().splitlines()
    posts.write_bytes(b"\n".join([lines[0], b'{"id": "x", "text": ', *lines[1:]]) + b"\n")
    out = tmp_path / "report.html"
    alerts = str(demo / "alerts.jsonl")
    assert main(["report", alerts, "--posts", str(posts), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{posts}:2: invalid json" in err and "1 bad line(s)" in err
    assert out.read_bytes() == (demo / "report.html").read_bytes()
