"""assign_zones: complete, connected, capped, deterministic."""

from __future__ import annotations

import random
from collections import Counter, defaultdict, deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.regions import Region, RegionSet
from geo.zones import assign_zones, hilbert_index
from models.errors import ConfigError

GEO_DATA = Path("/work/shared/data/geo")


def grid(nx: int = 4, ny: int = 3, skip: frozenset[tuple[int, int]] = frozenset()) -> RegionSet:
    return RegionSet.from_regions(
        [
            Region(f"r{y}{x}", f"Cell {y}{x}", box(x, y, x + 1, y + 1))
            for y in range(ny)
            for x in range(nx)
            if (x, y) not in skip
        ]
    )


def check_zones(regions: RegionSet, zones: dict[str, str], cap: int) -> None:
    """Every region in exactly one zone, zones connected, within the cap, numbered z000..."""
    assert list(zones) == list(regions.ids)
    members: dict[str, list[str]] = defaultdict(list)
    for region_id, zone in zones.items():
        members[zone].append(region_id)
    width = max(3, len(str(len(members) - 1)))
    assert sorted(members) == [f"z{k:0{width}d}" for k in range(len(members))]
    for zone, ids in members.items():
        assert len(ids) <= cap, zone
        seen = {ids[0]}
        queue = deque([ids[0]])
        while queue:
            for nb in regions.neighbours(queue.popleft()):
                if zones[nb] == zone and nb not in seen:
                    seen.add(nb)
                    queue.append(nb)
        assert seen == set(ids), f"{zone} is not connected"


def partition(zones: dict[str, str]) -> set[frozenset[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for region_id, zone in zones.items():
        members[zone].add(region_id)
    return {frozenset(m) for m in members.values()}


@pytest.mark.parametrize("cap", [1, 2, 3, 4, 5, 7, 12, 32])
def test_grid_zones_are_complete_connected_and_capped(cap: int) -> None:
    rs = grid()
    zones = assign_zones(rs, cap)
    check_zones(rs, zones, cap)
    sizes = Counter(zones.values())
    if cap >= 12:
        assert len(sizes) == 1
    if cap == 1:
        assert len(sizes) == 12


def test_default_cap_is_32() -> None:
    rs = grid(8, 5)  # 40 cells
    zones = assign_zones(rs)
    check_zones(rs, zones, 32)
    assert len(set(zones.values())) == 2


def test_deterministic_and_independent_of_file_order() -> None:
    rs = grid(6, 5)
    first = assign_zones(rs, 5)
    assert assign_zones(rs, 5) == first
    shuffled = list(rs)
    random.Random(3).shuffle(shuffled)
    again = assign_zones(RegionSet.from_regions(shuffled), 5)
    assert again == first  # same zones, same labels


def test_islands_form_their_own_zones() -> None:
    regions = [*grid(3, 2), Region("island", "I", box(10, 10, 11, 11))]
    rs = RegionSet.from_regions(regions)
    zones = assign_zones(rs, 4)
    check_zones(rs, zones, 4)
    assert Counter(zones.values())[zones["island"]] == 1


def test_small_leftovers_merge_into_a_neighbouring_zone() -> None:
    # 7 cells in a row with cap 3: never more zones than ceil(7 / 3) + 1
    rs = grid(7, 1)
    zones = assign_zones(rs, 3)
    check_zones(rs, zones, 3)
    assert len(set(zones.values())) <= 4


def test_invalid_cap_is_a_config_error() -> None:
    for bad in (0, -1, 1.5, True, "4"):
        with pytest.raises(ConfigError) as err:
            assign_zones(grid(), bad)  # type: ignore[arg-type]
        assert err.value.setting == "max_regions_per_zone"


def test_hilbert_index_is_a_continuous_bijection() -> None:
    order = 3
    side = 1 << order
    cells = {hilbert_index(x, y, order): (x, y) for x in range(side) for y in range(side)}
    assert sorted(cells) == list(range(side * side))
    for d in range(side * side - 1):
        (x0, y0), (x1, y1) = cells[d], cells[d + 1]
        assert abs(x0 - x1) + abs(y0 - y1) == 1


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=1, max_value=6),
    st.sets(st.tuples(st.integers(0, 6), st.integers(0, 5)), max_size=12),
    st.integers(min_value=1, max_value=10),
)
def test_property_random_grids(nx: int, ny: int, holes: set[tuple[int, int]], cap: int) -> None:
    skip = frozenset(h for h in holes if h[0] < nx and h[1] < ny)
    if len(skip) == nx * ny:
        return
    rs = grid(nx, ny, skip)
    zones = assign_zones(rs, cap)
    check_zones(rs, zones, cap)
    assert assign_zones(rs, cap) == zones


@pytest.mark.parametrize(
    ("path", "encoding"),
    [
        ("italy/limits_IT_provinces.geojson", "utf-8"),
        ("france/departements-version-simplifiee.geojson", "utf-8"),
        ("us/gz_2010_us_050_00_20m.json", "latin-1"),
    ],
)
def test_real_boundaries(path: str, encoding: str) -> None:
    file = GEO_DATA / path
    if not file.exists():
        pytest.skip("real boundary data not available")
    rs = RegionSet.from_geojson(file, encoding=encoding)
    for cap in (8, 32):
        zones = assign_zones(rs, cap)
        check_zones(rs, zones, cap)
        assert partition(assign_zones(rs, cap)) == partition(zones)


# --- weights and adjacency ---------------------------------------------------------------


def weighted(nx: int, ny: int, heavy: dict[tuple[int, int], float]) -> RegionSet:
    return RegionSet.from_regions(
        [
            Region(f"r{y}{x}", "", box(x, y, x + 1, y + 1), heavy.get((x, y), 1.0))
            for y in range(ny)
            for x in range(nx)
        ]
    )


def test_zones_balance_expected_volume() -> None:
    # one cell carries as much as the other 35 together: it gets a zone of its own
    rs = weighted(6, 6, {(2, 2): 35.0})
    zones = assign_zones(rs, 32)
    check_zones(rs, zones, 32)
    assert len(set(zones.values())) >= 2
    heavy_zone = zones["r22"]
    assert Counter(zones.values())[heavy_zone] == 1
    load: defaultdict[str, float] = defaultdict(float)
    for region in rs:
        load[zones[region.id]] += region.weight
    assert max(load.values()) <= 35.0 + 1e-9


def test_unit_weights_keep_zones_near_the_cap() -> None:
    rs = grid(8, 5)
    sizes = sorted(Counter(assign_zones(rs, 32).values()).values())
    assert sizes == [20, 20]  # 40 regions, two zones of equal volume


def test_explicit_weights_and_adjacency() -> None:
    rs = grid(4, 1)
    chain = ((1,), (0, 2), (1, 3), (2,))
    none: tuple[tuple[int, ...], ...] = ((), (), (), ())
    assert len(set(assign_zones(rs, 4, adjacency=none).values())) == 4
    assert len(set(assign_zones(rs, 4, adjacency=chain).values())) == 1
    split = assign_zones(rs, 4, weights=[5.0, 5.0, 5.0, 5.0], adjacency=chain)
    assert len(set(split.values())) == 1  # target = total / ceil(4 / 4): one zone
    with pytest.raises(ValueError, match="weights"):
        assign_zones(rs, 4, weights=[1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="adjacency"):
        assign_zones(rs, 4, adjacency=chain[:2])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=1, max_value=6),
    st.lists(st.floats(min_value=0, max_value=1000), min_size=42, max_size=42),
    st.integers(min_value=1, max_value=10),
)
def test_property_weighted_zones(nx: int, ny: int, w: list[float], cap: int) -> None:
    rs = grid(nx, ny)
    weights = w[: nx * ny]
    zones = assign_zones(rs, cap, weights=weights)
    check_zones(rs, zones, cap)
    assert assign_zones(rs, cap, weights=weights) == zones
