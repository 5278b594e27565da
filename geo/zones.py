"""Group neighbouring regions into zones of bounded size for the burst detector.

The rule, deterministic for a given :class:`~geo.regions.RegionSet`:

1. Order regions along a Hilbert curve through their centroids (a 2^16 x 2^16 grid over
   the square that holds all centroids), ties by file order.
2. Walk that order; each region not yet in a zone starts a new zone, which grows one
   region at a time. Of the unassigned neighbours of the zone that keep its weight
   (expected volume) within the target ``total weight / ceil(regions /
   max_regions_per_zone)``, it takes the one with the fewest unassigned neighbours
   (ties: Hilbert order), so no region is left stranded, until it has
   ``max_regions_per_zone`` regions or no such neighbour is left. A region heavier than
   the target is a zone of its own.
3. Merge light leftovers: repeatedly take the lightest zone (ties: fewer regions, then
   earliest) and merge it into its lightest neighbouring zone if both together fit in
   ``max_regions_per_zone`` and in the target weight (a zone lighter than
   ``target / max_regions_per_zone`` needs only the room); a zone that cannot merge now
   never can.
4. Number zones ``z000``, ``z001``... by the Hilbert rank of their first region.

Every zone is connected (through the given adjacency, by default regions that touch, see
``RegionSet.neighbours``); a region without neighbours (an island) is a zone of its own.

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
import math
from collections.abc import Sequence

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


def assign_zones(
    regions: RegionSet,
    max_regions_per_zone: int = 32,
    *,
    adjacency: Sequence[Sequence[int]] | None = None,
    weights: Sequence[float] | None = None,
) -> dict[str, str]:
    """Map every region id to a zone id (``"z000"``...); see the module docstring.

    ``adjacency`` (per region, in file order, the indices of its neighbours; default the
    regions that touch) says which regions may share a zone; ``weights`` (default the
    regions' own) is the expected volume that zones balance.
    """
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
    weight = [float(w) for w in (regions.weights if weights is None else weights)]
    if len(weight) != n or any(not (math.isfinite(w) and w >= 0) for w in weight):
        raise ValueError("weights must be one finite number >= 0 per region")
    neighbours = regions.neighbour_indices() if adjacency is None else adjacency
    if len(neighbours) != n:
        raise ValueError("adjacency must list the neighbours of every region")
    total = math.fsum(weight)
    target = total / math.ceil(n / cap) if total > 0 else math.inf
    ranks = _hilbert_ranks(regions)
    adj = [sorted(set(nb) - {i}, key=ranks.__getitem__) for i, nb in enumerate(neighbours)]

    # 2. greedy growth from seeds taken in Hilbert order
    zone_of = [-1] * n

    def free_degree(k: int) -> int:
        return sum(1 for w in adj[k] if zone_of[w] < 0)

    members: list[list[int]] = []
    mass: list[float] = []
    for start in sorted(range(n), key=ranks.__getitem__):
        if zone_of[start] >= 0:
            continue
        z = len(members)
        zone = [start]
        zone_of[start] = z
        load = weight[start]
        frontier = {v for v in adj[start] if zone_of[v] < 0}
        while len(zone) < cap:
            fits = [k for k in frontier if load + weight[k] <= target]
            if not fits:
                break
            v = min(fits, key=lambda k: (free_degree(k), ranks[k]))
            frontier.discard(v)
            zone_of[v] = z
            zone.append(v)
            load += weight[v]
            frontier.update(w for w in adj[v] if zone_of[w] < 0)
        members.append(zone)
        mass.append(load)

    # 3. merge light zones into neighbouring zones while the cap and the target allow
    #    (a zone lighter than target / cap merges whatever the target)
    first = [min(ranks[i] for i in zone) for zone in members]
    alive = [True] * len(members)
    heap = [(mass[z], len(zone), first[z], z) for z, zone in enumerate(members)]
    heapq.heapify(heap)
    while heap:
        load, size, _, z = heapq.heappop(heap)
        if not alive[z] or size != len(members[z]) or load != mass[z]:
            continue  # merged away, or a stale entry for a zone that grew
        touching = {zone_of[v] for u in members[z] for v in adj[u]} - {z}
        light = load <= target / cap
        fits = [
            w
            for w in touching
            if len(members[w]) + size <= cap and (light or mass[w] + load <= target)
        ]
        if not fits:
            continue
        w = min(fits, key=lambda k: (mass[k], len(members[k]), first[k]))
        for i in members[z]:
            zone_of[i] = w
        members[w].extend(members[z])
        mass[w] += load
        members[z] = []
        alive[z] = False
        first[w] = min(first[w], first[z])
        heapq.heappush(heap, (mass[w], len(members[w]), first[w], w))

    # 4. number the surviving zones by Hilbert rank of their first region
    survivors = sorted((z for z in range(len(members)) if alive[z]), key=first.__getitem__)
    width = max(3, len(str(len(survivors) - 1)))
    label = {z: f"z{k:0{width}d}" for k, z in enumerate(survivors)}
    ids = regions.ids
    return {ids[i]: label[zone_of[i]] for i in range(n)}
