"""Operator regions (polygons) and fast point-in-region lookup.

A :class:`RegionSet` is loaded once from a GeoJSON FeatureCollection in WGS84 lon/lat and
answers ``locate_point`` with an STR-tree over the geometries (the detailed ones prepared).

>>> from shapely.geometry import box
>>> rs = RegionSet.from_regions([Region("w", "West", box(0, 0, 1, 1)),
...                              Region("e", "East", box(1, 0, 2, 1))])
>>> rs.locate_point(0.5, 0.5)
('w', 'coordinates')
>>> rs.locate_point(1.0, 0.5)  # on the shared border: the first region in file order
('w', 'coordinates')
>>> rs.locate_point(2.02, 0.5)  # outside, but within edge_tolerance_deg of "e"
('e', 'nearest')
>>> rs.locate_point(5.0, 5.0) is None
True
>>> rs.neighbours("w")
('e',)
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from geo.cellindex import DETAILED_COORDS, CellIndex
from models.errors import ConfigError

__all__ = [
    "DEFAULT_EDGE_TOLERANCE_DEG",
    "ID_PROPERTIES",
    "NAME_PROPERTIES",
    "Region",
    "RegionDataWarning",
    "RegionSet",
    "detached",
    "polygonal",
]

DEFAULT_EDGE_TOLERANCE_DEG = 0.05
"""How far (in degrees, ~5 km of latitude) outside every polygon a point may be and still
be given to the nearest region: coastlines in boundary files are simplified."""

ID_PROPERTIES: tuple[str, ...] = (
    "id",
    "<feature id>",
    "GEOID",
    "GEO_ID",
    "geoid",
    "code",
    "CODE",
    "prov_istat_code",
    "reg_istat_code",
    "com_istat_code",
    "iso_3166_2",
    "ISO",
    "iso",
)
"""Where a region's id comes from when no ``id_property`` is given, in order. The first
candidate that every polygon feature has *and* whose values are unique is used
(``"<feature id>"`` is the Feature's own ``id`` member); if none is present in every
feature, the id is the feature's position in the file (``"0"``, ``"1"``...)."""

NAME_PROPERTIES: tuple[str, ...] = (
    "name",
    "NAME",
    "Name",
    "nom",
    "NOM",
    "prov_name",
    "reg_name",
    "com_name",
)
"""Where a region's name comes from when no ``name_property`` is given: the first of these
that the feature has (a non-empty string), else its id."""

_FEATURE_ID = "<feature id>"
_UNION_GRID_DEG = 1e-6
_POLYGONAL = ("Polygon", "MultiPolygon")
_LONLAT_SLACK = 1e-6
_Fail = Callable[[str], ConfigError]


class RegionDataWarning(UserWarning):
    """A boundary file was usable but needed a fix (repaired or skipped features)."""


@dataclass(frozen=True, slots=True)
class Region:
    """One operator region: a polygon or multipolygon in WGS84 lon/lat."""

    id: str
    name: str
    geometry: Polygon | MultiPolygon
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"region id must be a non-empty string, not {self.id!r}")
        if not isinstance(self.geometry, Polygon | MultiPolygon):
            kind = type(self.geometry).__name__
            raise ValueError(f"region {self.id!r}: geometry must be polygonal, not {kind}")
        if self.geometry.is_empty:
            raise ValueError(f"region {self.id!r}: geometry is empty")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"region {self.id!r}: weight must be finite and >= 0")


class RegionSet:
    """An ordered, immutable set of regions with spatial lookups.

    Region order is the file order (``ids``); it decides ties: a point on a shared border,
    or equally near two regions, goes to the region that comes first.
    """

    def __init__(
        self,
        regions: Sequence[Region],
        *,
        edge_tolerance_deg: float = DEFAULT_EDGE_TOLERANCE_DEG,
    ) -> None:
        if isinstance(edge_tolerance_deg, bool) or not (
            isinstance(edge_tolerance_deg, int | float)
            and math.isfinite(edge_tolerance_deg)
            and edge_tolerance_deg >= 0
        ):
            raise ConfigError(
                "edge_tolerance_deg", edge_tolerance_deg, "must be a finite number >= 0"
            )
        regions = tuple(regions)
        if not regions:
            raise ConfigError("regions", "<none>", "no regions given")
        index: dict[str, int] = {}
        for i, region in enumerate(regions):
            if region.id in index:
                raise ConfigError("regions", region.id, "duplicate region id")
            index[region.id] = i
        self._regions = regions
        self._ids = tuple(r.id for r in regions)
        self._index = index
        self._tol = float(edge_tolerance_deg)
        self._geoms = np.array([r.geometry for r in regions], dtype=object)
        shapely.prepare(self._geoms[shapely.get_num_coordinates(self._geoms) > DETAILED_COORDS])
        self._tree = shapely.STRtree(self._geoms)
        cx, cy = shapely.get_coordinates(shapely.centroid(self._geoms)).T
        self._centroids = array("d", cx.tolist()), array("d", cy.tolist())
        self._neighbours: tuple[tuple[int, ...], ...] | None = None
        self._cells: CellIndex | None = None
        self._sha256: str | None = None

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_regions(
        cls,
        regions: Sequence[Region],
        *,
        edge_tolerance_deg: float = DEFAULT_EDGE_TOLERANCE_DEG,
    ) -> RegionSet:
        """Build from ready :class:`Region` objects (ids must be unique)."""
        return cls(regions, edge_tolerance_deg=edge_tolerance_deg)

    @classmethod
    def from_geojson(
        cls,
        path: str | os.PathLike[str],
        id_property: str | None = None,
        name_property: str | None = None,
        *,
        weight_property: str | None = None,
        edge_tolerance_deg: float = DEFAULT_EDGE_TOLERANCE_DEG,
        encoding: str = "utf-8",
        setting: str = "regions",
        options: Mapping[str, str] | None = None,
    ) -> RegionSet:
        """Load a GeoJSON FeatureCollection of Polygon/MultiPolygon features (WGS84).

        Ids follow ``id_property`` or else :data:`ID_PROPERTIES`; names follow
        ``name_property`` or else :data:`NAME_PROPERTIES`. Invalid geometries are
        repaired with ``shapely.make_valid`` and non-polygonal or empty features are
        skipped, each with a :class:`RegionDataWarning`. Any unusable file raises
        ``ConfigError(setting=setting, value=path, ...)``; one that does not suit an
        option (``encoding``, ``id_property``, ``name_property``, ``weight_property``)
        names instead the setting ``options`` gives for it, with its value.
        """
        where = os.fspath(path)
        try:
            with open(where, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise ConfigError(setting, where, "file not found") from None
        except OSError as exc:
            raise ConfigError(setting, where, f"cannot read file: {exc.strerror}") from None
        bad_encoding = _option_fail(options, "encoding", encoding, setting, where)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            problem = f"not {encoding} text (byte {exc.start}); give its encoding if it is another"
            raise bad_encoding(problem) from None
        except LookupError:
            raise bad_encoding(f"unknown encoding {encoding!r}") from None
        try:
            obj = orjson.loads(text.removeprefix("\ufeff"))
        except orjson.JSONDecodeError as exc:
            raise ConfigError(setting, where, f"not valid JSON: {exc}") from None
        return cls.from_mapping(
            obj,
            source=where,
            id_property=id_property,
            name_property=name_property,
            weight_property=weight_property,
            edge_tolerance_deg=edge_tolerance_deg,
            setting=setting,
            options=options,
        )

    @classmethod
    def from_mapping(
        cls,
        obj: Any,
        *,
        source: str = "<mapping>",
        id_property: str | None = None,
        name_property: str | None = None,
        weight_property: str | None = None,
        edge_tolerance_deg: float = DEFAULT_EDGE_TOLERANCE_DEG,
        setting: str = "regions",
        options: Mapping[str, str] | None = None,
    ) -> RegionSet:
        """Like :meth:`from_geojson` for an already decoded FeatureCollection.

        >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
        ...       "properties": {"code": "A1", "nom": "Alpha"}, "geometry": {
        ...       "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}
        >>> rs = RegionSet.from_mapping(fc)
        >>> rs.ids, rs.name("A1")
        (('A1',), 'Alpha')
        """

        def fail(problem: str) -> ConfigError:
            return ConfigError(setting, source, problem)

        if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection":
            raise fail("not a GeoJSON FeatureCollection")
        features = obj.get("features")
        if not isinstance(features, list):
            raise fail("FeatureCollection has no 'features' list")

        kept: list[tuple[int, Mapping[str, Any], Mapping[str, Any], BaseGeometry]] = []
        skipped: list[str] = []
        for pos, feature in enumerate(features):
            if not isinstance(feature, Mapping):
                raise fail(f"feature {pos} is not an object")
            props = feature.get("properties") or {}
            if not isinstance(props, Mapping):
                raise fail(f"feature {pos}: 'properties' is not an object")
            gj = feature.get("geometry")
            if not isinstance(gj, Mapping) or gj.get("type") not in _POLYGONAL:
                kind = gj.get("type") if isinstance(gj, Mapping) else gj
                skipped.append(f"{pos} ({kind})")
                continue
            try:
                geom = shape(gj)
            except Exception as exc:  # shapely raises several types on bad coordinates
                raise fail(f"feature {pos}: malformed {gj.get('type')}: {exc}") from None
            if geom.is_empty:
                skipped.append(f"{pos} (empty)")
                continue
            kept.append((pos, feature, props, geom))
        if skipped:
            warn_skipped(f"{source}: skipped", "feature(s) without polygon geometry", skipped)
        if not kept:
            raise fail("no Polygon or MultiPolygon features")

        minx, miny, maxx, maxy = shapely.total_bounds([g for _, _, _, g in kept])
        lim = _LONLAT_SLACK
        if minx < -180 - lim or maxx > 180 + lim or miny < -90 - lim or maxy > 90 + lim:
            raise fail(
                f"coordinates ({minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g}) are not "
                "lon/lat degrees; the file must be in WGS84 (EPSG:4326)"
            )

        ids = _pick_ids(
            [(pos, f, p) for pos, f, p, _ in kept],
            id_property,
            _option_fail(options, "id_property", id_property, setting, source),
        )
        bad_name = _option_fail(options, "name_property", name_property, setting, source)
        bad_weight = _option_fail(options, "weight_property", weight_property, setting, source)
        regions: list[Region] = []
        for (pos, _feature, props, geom), region_id in zip(kept, ids, strict=True):
            name = _pick_name(props, name_property, region_id, pos, bad_name)
            weight = _pick_weight(props, weight_property, pos, bad_weight)
            if not geom.is_valid:
                reason = shapely.is_valid_reason(geom)
                geom = polygonal(shapely.make_valid(geom))
                warnings.warn(
                    f"{source}: region {region_id!r} ({name}) had an invalid geometry "
                    f"({reason}); repaired with make_valid",
                    RegionDataWarning,
                    stacklevel=2,
                )
                if geom.is_empty:
                    warnings.warn(
                        f"{source}: region {region_id!r} ({name}) has no area after repair; "
                        "skipped",
                        RegionDataWarning,
                        stacklevel=2,
                    )
                    continue
            # copies: the text of a large decoded document would keep all of that
            # document's memory (see detached)
            own_id = detached(region_id)
            own_name = own_id if name == region_id else detached(name)
            regions.append(Region(own_id, own_name, geom, weight))
        if not regions:
            raise fail("no Polygon or MultiPolygon features with an area")
        return cls(regions, edge_tolerance_deg=edge_tolerance_deg)

    def with_weights(self, weights: Sequence[float]) -> RegionSet:
        """The same regions (and tolerance) with new weights, one per region in order.

        >>> from shapely.geometry import box
        >>> rs = RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1))])
        >>> rs.with_weights([250.0]).region("a").weight
        250.0
        """
        if len(weights) != len(self._regions):
            raise ValueError(f"{len(weights)} weights for {len(self._regions)} regions")
        return RegionSet(
            [
                Region(r.id, r.name, r.geometry, float(w))
                for r, w in zip(self, weights, strict=True)
            ],
            edge_tolerance_deg=self._tol,
        )

    @property
    def weights(self) -> tuple[float, ...]:
        """Region weights (expected volume) in file order."""
        return tuple(r.weight for r in self._regions)

    def to_geojson(self) -> dict[str, Any]:
        """A FeatureCollection with ``id`` and ``name`` (and ``weight``) properties.

        >>> from shapely.geometry import box
        >>> fc = RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1))]).to_geojson()
        >>> fc["features"][0]["properties"]
        {'id': 'a', 'name': 'A', 'weight': 1.0}
        """
        features = [
            {
                "type": "Feature",
                "id": r.id,
                "properties": {"id": r.id, "name": r.name, "weight": r.weight},
                "geometry": orjson.loads(shapely.to_geojson(r.geometry)),
            }
            for r in self._regions
        ]
        return {"type": "FeatureCollection", "features": features}

    # --- basic access -------------------------------------------------------------------

    @property
    def ids(self) -> tuple[str, ...]:
        """Region ids in file order."""
        return self._ids

    @property
    def edge_tolerance_deg(self) -> float:
        return self._tol

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` of all regions."""
        minx, miny, maxx, maxy = shapely.total_bounds(self._geoms).tolist()
        return (minx, miny, maxx, maxy)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, region_id: object) -> bool:
        return region_id in self._index

    def __iter__(self) -> Iterator[Region]:
        return iter(self._regions)

    def index(self, region_id: str) -> int:
        """Position of a region in file order; ``KeyError`` if unknown."""
        try:
            return self._index[region_id]
        except KeyError:
            raise KeyError(f"unknown region {region_id!r}") from None

    def region(self, region_id: str) -> Region:
        return self._regions[self.index(region_id)]

    def name(self, region_id: str) -> str:
        return self._regions[self.index(region_id)].name

    def geometry(self, region_id: str) -> Polygon | MultiPolygon:
        return self._regions[self.index(region_id)].geometry

    def centroid(self, region_id: str) -> tuple[float, float]:
        """``(lon, lat)`` of the region's centroid (may lie outside a concave region)."""
        i = self.index(region_id)
        return self._centroids[0][i], self._centroids[1][i]

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of ids, names, weights and geometries (WKB), in order.

        Equal content gives an equal hash across processes; use it as a cache key.
        """
        if self._sha256 is None:
            h = hashlib.sha256(b"groundswell-regions-v1\0")
            for r in self._regions:
                for text in (r.id, r.name):
                    data = text.encode()
                    h.update(struct.pack("<Q", len(data)) + data)
                h.update(struct.pack("<d", r.weight))
                wkb = shapely.to_wkb(r.geometry, output_dimension=2, byte_order=1)
                h.update(struct.pack("<Q", len(wkb)) + wkb)
            self._sha256 = h.hexdigest()
        return self._sha256

    # --- spatial queries ----------------------------------------------------------------

    def locate_point(self, lon: float, lat: float) -> tuple[str, str] | None:
        """``(region_id, "coordinates")`` for the region containing the point (border
        included), else ``(region_id, "nearest")`` for the nearest region within
        ``edge_tolerance_deg``, else ``None``. Never raises for numbers; NaN gives None."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        hit = self.cell_index.locate(lon, lat)
        if hit is None:
            return None
        return self._ids[hit[0]], ("nearest" if hit[1] else "coordinates")

    @property
    def cell_index(self) -> CellIndex:
        """The grid behind :meth:`locate_point`, built on first use."""
        if self._cells is None:
            self._cells = CellIndex(self._geoms, self._tree, self._tol)
        return self._cells

    def locate_points(
        self, lons: Iterable[float], lats: Iterable[float]
    ) -> list[tuple[str, str] | None]:
        """Vectorised :meth:`locate_point` over two equally long sequences.

        >>> from shapely.geometry import box
        >>> rs = RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1))])
        >>> rs.locate_points([0.5, 1.01, 9.0], [0.5, 0.5, 9.0])
        [('a', 'coordinates'), ('a', 'nearest'), None]
        """
        x = np.asarray(lons, dtype=float)
        y = np.asarray(lats, dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError("lons and lats must be 1-d sequences of equal length")
        n = x.size
        best = np.full(n, -1, dtype=np.int64)
        method = np.zeros(n, dtype=np.int8)  # 1 coordinates, 2 nearest
        ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if ok.size:
            points = shapely.points(x[ok], y[ok])
            src, dst = self._tree.query(points)
            if src.size:
                hit = shapely.intersects(self._geoms[dst], points[src])
                src, dst = src[hit], dst[hit]
                first = np.full(ok.size, np.iinfo(np.int64).max, dtype=np.int64)
                np.minimum.at(first, src, dst)
                found = first != np.iinfo(np.int64).max
                best[ok[found]] = first[found]
                method[ok[found]] = 1
            missing = ok[best[ok] < 0]
            if missing.size and self._tol > 0:
                pts = shapely.points(x[missing], y[missing])
                src, dst = self._tree.query_nearest(pts, max_distance=self._tol, all_matches=True)
                if src.size:
                    first = np.full(missing.size, np.iinfo(np.int64).max, dtype=np.int64)
                    np.minimum.at(first, src, dst)
                    found = first != np.iinfo(np.int64).max
                    best[missing[found]] = first[found]
                    method[missing[found]] = 2
        names = ("", "coordinates", "nearest")
        ids = self._ids
        return [
            (ids[b], names[m]) if b >= 0 else None
            for b, m in zip(best.tolist(), method.tolist(), strict=True)
        ]

    def neighbours(self, region_id: str) -> tuple[str, ...]:
        """Regions whose geometry touches or overlaps this one (a shared border or even a
        shared corner point), in file order. Computed for all regions on first use."""
        return tuple(self._ids[j] for j in self.neighbour_indices()[self.index(region_id)])

    def neighbour_indices(self) -> tuple[tuple[int, ...], ...]:
        """For each region (file order), the sorted indices of its neighbours."""
        if self._neighbours is None:
            n = len(self._ids)
            src, dst = self._tree.query(self._geoms, predicate="intersects")
            keep = src != dst
            pairs = np.unique(
                np.concatenate([src[keep] * n + dst[keep], dst[keep] * n + src[keep]])
            )
            ends = np.cumsum(np.bincount(pairs // n, minlength=n)).tolist()
            # the region numbers held once (the index's own ints), not once per neighbour
            numbers = list(self._index.values())
            flat = [numbers[j] for j in (pairs % n).tolist()]
            self._neighbours = tuple(
                tuple(flat[start:end]) for start, end in zip([0, *ends[:-1]], ends, strict=True)
            )
        return self._neighbours

    def union(
        self, region_ids: Iterable[str], tolerance_deg: float = 0.0
    ) -> Polygon | MultiPolygon:
        """The union of the regions, simplified with ``preserve_topology`` when
        ``tolerance_deg`` > 0, its coordinates snapped to a 1e-6 degree grid; valid.

        >>> from shapely.geometry import box
        >>> rs = RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1)),
        ...                              Region("b", "B", box(1, 0, 2, 1))])
        >>> rs.union(["a", "b"]).area
        2.0
        """
        indices = sorted({self.index(r) for r in region_ids})
        if not indices:
            raise ValueError("a union needs at least one region id")
        if not (math.isfinite(tolerance_deg) and tolerance_deg >= 0):
            raise ValueError("tolerance_deg must be finite and >= 0")
        merged = shapely.union_all(self._geoms[indices])
        geom = merged
        if tolerance_deg > 0:
            geom = shapely.simplify(geom, tolerance_deg, preserve_topology=True)
        snapped = polygonal(shapely.set_precision(geom, _UNION_GRID_DEG))
        geom = snapped if not snapped.is_empty else geom
        if not geom.is_valid:
            geom = polygonal(shapely.make_valid(geom))
        return polygonal(geom) if not geom.is_empty else polygonal(merged)

    def union_geojson(
        self, region_ids: Iterable[str], tolerance_deg: float = 0.01
    ) -> dict[str, Any]:
        """GeoJSON geometry of :meth:`union` (an alert's area); always valid.

        >>> from shapely.geometry import box
        >>> rs = RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1)),
        ...                              Region("b", "B", box(1, 0, 2, 1))])
        >>> g = rs.union_geojson(["a", "b"])
        >>> g["type"], shape(g).area
        ('Polygon', 2.0)
        """
        result: dict[str, Any] = orjson.loads(
            shapely.to_geojson(self.union(region_ids, tolerance_deg))
        )
        return result


# --- loader helpers ---------------------------------------------------------------------


def warn_skipped(prefix: str, what: str, items: list[str], stacklevel: int = 2) -> None:
    """One :class:`RegionDataWarning` for items left out of a region set, naming up to 5;
    ``stacklevel`` counts from the function calling this one, as for ``warnings.warn``."""
    shown = ", ".join(items[:5]) + (" ..." if len(items) > 5 else "")
    warnings.warn(
        f"{prefix} {len(items)} {what}: {shown}", RegionDataWarning, stacklevel=stacklevel + 1
    )


def detached(text: str) -> str:
    """A new string equal to ``text``, for keeping text taken from a decoded document.

    Strings of a decoded JSON document sit among the document's other small objects, and
    the allocator cannot hand back a block of memory that still holds one of them: region
    ids kept as they are would keep most of a large document's memory for good.

    >>> s = "r" * 3
    >>> detached(s) == s and detached(s) is not s
    True
    """
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """The polygonal part of a (repaired) geometry; empty if it has none."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys: list[Polygon] = []
    for part in shapely.get_parts(geom).tolist():
        if isinstance(part, Polygon):
            polys.append(part)
        elif isinstance(part, MultiPolygon):
            polys.extend(part.geoms)
    polys = [p for p in polys if not p.is_empty]
    if len(polys) == 1:
        return polys[0]
    return MultiPolygon(polys)


def _option_fail(
    options: Mapping[str, str] | None, key: str, value: str | None, setting: str, source: str
) -> _Fail:
    """Errors of a file that does not suit the option ``key`` set to ``value``: named by
    the setting ``options`` gives for it, with the value; else (no such setting, or the
    option unset) by ``setting``, with the file."""
    name = (options or {}).get(key)
    if name is None or value is None:
        return lambda problem: ConfigError(setting, source, problem)
    return lambda problem: ConfigError(name, value, f"{source}: {problem}")


def _text_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _feature_value(feature: Mapping[str, Any], props: Mapping[str, Any], key: str) -> Any:
    if key == _FEATURE_ID:
        return feature.get("id")
    return props.get(key)


def _pick_ids(
    features: list[tuple[int, Mapping[str, Any], Mapping[str, Any]]],
    id_property: str | None,
    fail: _Fail,
) -> list[str]:
    if id_property is not None:
        ids: list[str] = []
        for pos, feature, props in features:
            value = _text_value(props.get(id_property))
            if value is None and id_property == "id":
                value = _text_value(feature.get("id"))
            if value is None:
                raise fail(f"feature {pos} has no usable id property {id_property!r}")
            ids.append(value)
        _check_unique(ids, id_property, fail)
        return ids
    first_duplicated: tuple[str, list[str]] | None = None
    for key in ID_PROPERTIES:
        values = [_text_value(_feature_value(f, p, key)) for _, f, p in features]
        if any(v is None for v in values):
            continue
        found = [v for v in values if v is not None]
        if len(set(found)) == len(found):
            return found
        if first_duplicated is None:
            first_duplicated = (key, found)
    if first_duplicated is not None:
        _check_unique(first_duplicated[1], first_duplicated[0], fail)
    return [str(pos) for pos, _, _ in features]


def _check_unique(ids: list[str], key: str, fail: _Fail) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise fail(f"duplicate region id {value!r} (from {key!r}); pass id_property=")
        seen.add(value)


def _pick_name(
    props: Mapping[str, Any], name_property: str | None, region_id: str, pos: int, fail: _Fail
) -> str:
    if name_property is not None:
        value = _text_value(props.get(name_property))
        if value is None:
            raise fail(f"feature {pos} has no usable name property {name_property!r}")
        return value
    for key in NAME_PROPERTIES:
        value = _text_value(props.get(key))
        if value is not None:
            return value
    return region_id


def _pick_weight(
    props: Mapping[str, Any], weight_property: str | None, pos: int, fail: _Fail
) -> float:
    if weight_property is None:
        return 1.0
    value = props.get(weight_property)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise fail(f"feature {pos}: {weight_property!r} must be a number >= 0, not {value!r}")
    return float(value) * 1.0  # a new float, not the decoded document's (see detached)
