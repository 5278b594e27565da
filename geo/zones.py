"""Group neighbouring regions into zones of bounded size for the burst detector.

The rule, deterministic for a given :class:`~geo.regions.RegionSet`:

1. Order regions along a Hilbert curve through their centroids (a 2^16 x 2^16 grid over
   the square that holds all centroids), ties by file order.
2. Walk that order; each region not yet in a zone starts a new zone, which grows one
   region at a time: of the unassigned regions touching the zone, take the one with the
   fewest unassigned neighbours (ties: Hilbert order), so no region is left stranded,
   until it has ``max_regions_per_zone`` regions or nothing unassigned touches it.
3. Merge small leftovers: repeatedly take the smallest zone (ties: earliest) and merge it
   into its smallest neighbouring zone (ties: earliest) if both together still fit in
   ``max_regions_per_zone``; a zone that cannot merge now never can.
4. Number zones ``z000``, ``z001``... by the Hilbert rank of their first region.

Every zone is connected (regions touch, see ``RegionSet.neighbours``); a region without
neighbours (an island) is a zone of its own.

>>> from shapely.geometry import box
>>> from geo.regions import Region, RegionSet
>>> grid = RegionSet.from_regions([Region(f"r{y}{x}", f"r{y}{x}", box(x, y, x + 1, y + 1))
...                                for y in range(2) for x in range(3)])
>>> assign_zones(grid, max_regions_per_zone=3)
{'r00': 'z000', 'r01': 'z001', 'r02': 'z001', 'r10': 'z000', 'r11': 'z000', 'r12': 'z001'}
>>> set(assign_zones(grid).values())
{'z000'}
"""

from __future__ import annotations

import heapq

from geo.regions import RegionSet
from models.errors import ConfigError

__all__ = ["assign_zones", "hilbert_index"]

_HILBERT_ORDER = 16


def hilbert_index(x: int, y: int, order: int = _HILBERT_ORDER) -> int:
    """Position of cell ``(x, y)`` along the Hilbert curve filling a 2^order square.

    >>> [hilbert_index(x, y, 1) for x, y in [(0, 0), (0, 1), (1, 1), (1, 0)]]
    [0, 1, 2, 3]
    """
    n = 1 << order
    d = 0
    s = n >> 1
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:  # rotate the quadrant so the curve stays continuous
            if rx == 1:
                x = n - 1 - x
                y = n - 1 - y
            x, y = y, x
        s >>= 1
    return d


def _hilbert_ranks(regions: RegionSet) -> list[int]:
    """Rank of each region (file order) along the Hilbert curve through centroids."""
    points = [regions.centroid(r) for r in regions.ids]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, y0 = min(xs), min(ys)
    side = max(max(xs) - x0, max(ys) - y0) or 1.0
    top = (1 << _HILBERT_ORDER) - 1
    keys = [
        hilbert_index(round((x - x0) / side * top), round((y - y0) / side * top)) for x, y in points
    ]
    order = sorted(range(len(points)), key=lambda i: (keys[i], i))
    ranks = [0] * len(points)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


def assign_zones(regions: RegionSet, max_regions_per_zone: int = 32) -> dict[str, str]:
    """Map every region id to a zone id (``"z000"``...); see the module docstring."""
    if (
        isinstance(max_regions_per_zone, bool)
        or not isinstance(max_regions_per_zone, int)
        or max_regions_per_zone < 1
    ):
        raise ConfigError(
            "max_regions_per_zone", max_regions_per_zone, "must be a positive integer"
        )
    cap = max_regions_per_zone
    n = len(regions)
    ranks = _hilbert_ranks(regions)
    adjacency = [sorted(nb, key=ranks.__getitem__) for nb in regions.neighbour_indices()]

    # 2. greedy growth from seeds taken in Hilbert order
    zone_of = [-1] * n

    def free_degree(k: int) -> int:
        return sum(1 for w in adjacency[k] if zone_of[w] < 0)

    members: list[list[int]] = []
    for start in sorted(range(n), key=ranks.__getitem__):
        if zone_of[start] >= 0:
            continue
        z = len(members)
        zone = [start]
        zone_of[start] = z
        frontier = {v for v in adjacency[start] if zone_of[v] < 0}
        while frontier and len(zone) < cap:
            v = min(frontier, key=lambda k: (free_degree(k), ranks[k]))
            frontier.discard(v)
            zone_of[v] = z
            zone.append(v)
            frontier.update(w for w in adjacency[v] if zone_of[w] < 0)
        members.append(zone)

    # 3. merge small zones into neighbouring zones while the cap allows
    first = [min(ranks[i] for i in zone) for zone in members]
    alive = [True] * len(members)
    heap = [(len(zone), first[z], z) for z, zone in enumerate(members)]
    heapq.heapify(heap)
    while heap:
        size, _, z = heapq.heappop(heap)
        if not alive[z] or size != len(members[z]):
            continue  # merged away, or a stale entry for a zone that grew
        touching = {zone_of[v] for u in members[z] for v in adjacency[u]} - {z}
        fits = [w for w in touching if len(members[w]) + size <= cap]
        if not fits:
            continue
        w = min(fits, key=lambda k: (len(members[k]), first[k]))
        for i in members[z]:
            zone_of[i] = w
        members[w].extend(members[z])
        members[z] = []
        alive[z] = False
        first[w] = min(first[w], first[z])
        heapq.heappush(heap, (len(members[w]), first[w], w))

    # 4. number the surviving zones by Hilbert rank of their first region
    survivors = sorted((z for z in range(len(members)) if alive[z]), key=first.__getitem__)
    width = max(3, len(str(len(survivors) - 1)))
    label = {z: f"z{k:0{width}d}" for k, z in enumerate(survivors)}
    ids = regions.ids
    return {ids[i]: label[zone_of[i]] for i in range(n)}
