"""Which regions are neighbours, and the topology (neighbours + zones) kept on disk.

Modes, as written in settings (``neighbours``):

- ``touch``: regions whose boundaries meet, even at one corner point (the default);
- ``border``: regions that share a stretch of border (a line, not just a point);
- ``knn:K``: each region and its K nearest regions by centroid, made symmetric (for
  region sets with gaps, such as Voronoi cells of scattered sites or islands).

>>> from shapely.geometry import box
>>> from geo.regions import Region, RegionSet
>>> rs = RegionSet.from_regions([Region(f"r{y}{x}", "", box(x, y, x + 1, y + 1))
...                              for y in range(2) for x in range(2)])
>>> adjacency(rs, "touch")[0], adjacency(rs, "border")[0], adjacency(rs, "knn:2")[0]
((1, 2, 3), (1, 2), (1, 2))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo.cache import GeoCache
from geo.regions import RegionSet, detached
from geo.zones import assign_zones
from models.errors import ConfigError

__all__ = ["MODES", "Topology", "adjacency", "load_topology", "parse_neighbours"]

MODES = ("touch", "border", "knn")
Adjacency = tuple[tuple[int, ...], ...]


def parse_neighbours(text: str, setting: str = "neighbours") -> tuple[str, int]:
    """``(mode, k)`` from ``touch``, ``border`` or ``knn:K`` (k is 0 unless knn).

    >>> parse_neighbours("knn:6"), parse_neighbours("border")
    (('knn', 6), ('border', 0))
    """
    mode, _, k = text.strip().partition(":")
    if mode in ("touch", "border") and not k:
        return mode, 0
    if mode == "knn" and k.isdigit() and int(k) >= 1:
        return mode, int(k)
    raise ConfigError(setting, text, "must be touch, border or knn:K with K >= 1")


def adjacency(regions: RegionSet, mode: str = "touch") -> Adjacency:
    """For each region (file order), the sorted indices of its neighbours."""
    kind, k = parse_neighbours(mode)
    if kind == "touch":
        return regions.neighbour_indices()
    n = len(regions)
    pairs: set[tuple[int, int]] = set()
    if kind == "border":
        touching = regions.neighbour_indices()
        a = np.array([i for i in range(n) for j in touching[i] if i < j], dtype=np.int64)
        b = np.array([j for i in range(n) for j in touching[i] if i < j], dtype=np.int64)
        if a.size:
            geoms = np.array([r.geometry for r in regions], dtype=object)
            shared = shapely.intersection(geoms[a], geoms[b])
            keep = shapely.get_dimensions(shared) >= 1
            pairs.update(zip(a[keep].tolist(), b[keep].tolist(), strict=True))
    else:
        from scipy.spatial import cKDTree  # local: only knn needs it

        lon, lat = np.array([regions.centroid(r) for r in regions.ids], dtype=float).T
        scale = math.cos(math.radians(float(np.clip(np.mean(lat), -80, 80))))
        points = np.column_stack([lon * scale, lat])
        kk = min(k + 1, n)
        _, nearest = cKDTree(points).query(points, k=kk)
        nearest = np.asarray(nearest).reshape(n, kk)
        for i in range(n):
            for j in nearest[i].tolist():
                if j != i:
                    pairs.add((min(i, j), max(i, j)))
    result: list[set[int]] = [set() for _ in range(n)]
    for i, j in pairs:
        result[i].add(j)
        result[j].add(i)
    return tuple(tuple(sorted(s)) for s in result)


@dataclass(frozen=True, slots=True)
class Topology:
    """Neighbours and zones of a region set, as computed at load."""

    neighbours: Adjacency
    zone_of: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"neighbours": [list(nb) for nb in self.neighbours], "zones": self.zone_of}


def load_topology(
    regions: RegionSet,
    mode: str = "touch",
    max_regions_per_zone: int = 32,
    cache: GeoCache | None = None,
) -> Topology:
    """Neighbours (``mode``) and weight-balanced zones of ``regions``, from ``cache`` when
    it holds them for the same region content (its SHA-256) and options."""

    def build() -> dict[str, Any]:
        neighbours = adjacency(regions, mode)
        zones = assign_zones(
            regions, max_regions_per_zone, adjacency=neighbours, weights=regions.weights
        )
        return Topology(neighbours, zones).to_json()

    def decode(value: Any) -> Topology:
        rows = [[int(j) for j in nb] for nb in value["neighbours"]]
        zones = value["zones"]
        n = len(regions)
        if len(rows) != n or list(zones) != list(regions.ids):
            raise ValueError("topology does not match the regions")
        if any(not 0 <= j < n for nb in rows for j in nb):
            raise ValueError("neighbour index out of range")
        # held once: the region set's own neighbours when they are the same, and each
        # zone label once (a copy: see detached), keyed by the region set's own ids
        touching = regions.neighbour_indices() if kind == "touch" else None
        if touching is not None and all(
            tuple(row) == nb for row, nb in zip(rows, touching, strict=True)
        ):
            neighbours = touching
        else:
            numbers = list(range(n))
            neighbours = tuple(tuple(numbers[j] for j in nb) for nb in rows)
        labels = [str(z) for z in zones.values()]
        copies = {z: detached(z) for z in set(labels)}
        return Topology(
            neighbours, {r: copies[z] for r, z in zip(regions.ids, labels, strict=True)}
        )

    kind, _ = parse_neighbours(mode)
    key = GeoCache.key("topology", regions.sha256, mode, max_regions_per_zone)
    return (cache or GeoCache(None)).get_or_build("topology", key, build, decode)
