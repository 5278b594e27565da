"""Neighbour modes and the cached topology (neighbours + zones)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.adjacency import adjacency, load_topology, parse_neighbours
from geo.cache import GeoCache, GeoCacheWarning
from geo.regions import Region, RegionSet
from geo.zones import assign_zones
from models.errors import ConfigError


def grid(nx: int = 3, ny: int = 3) -> RegionSet:
    return RegionSet.from_regions(
        [Region(f"r{y}{x}", "", box(x, y, x + 1, y + 1)) for y in range(ny) for x in range(nx)]
    )


def test_touch_border_and_knn() -> None:
    rs = grid()
    centre = rs.index("r11")
    assert len(adjacency(rs, "touch")[centre]) == 8
    assert [rs.ids[j] for j in adjacency(rs, "border")[centre]] == ["r01", "r10", "r12", "r21"]
    corner = adjacency(rs, "knn:2")[rs.index("r00")]
    assert [rs.ids[j] for j in corner] == ["r01", "r10"]
    assert adjacency(rs, "touch") == rs.neighbour_indices()


def test_knn_links_islands() -> None:
    rs = RegionSet.from_regions(
        [Region("a", "", box(0, 0, 1, 1)), Region("island", "", box(5, 5, 6, 6))]
    )
    assert adjacency(rs, "touch") == ((), ())
    assert adjacency(rs, "knn:1") == ((1,), (0,))
    assert adjacency(rs, "knn:9") == ((1,), (0,))  # k larger than the set


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.sampled_from(["touch", "border"])
)
def test_property_adjacency_is_symmetric(nx: int, ny: int, k: int, mode: str) -> None:
    rs = grid(nx, ny)
    for m in (mode, f"knn:{k}"):
        adj = adjacency(rs, m)
        for i, nb in enumerate(adj):
            assert i not in nb and list(nb) == sorted(nb)
            for j in nb:
                assert i in adj[j]


@pytest.mark.parametrize("bad", ["", "near", "knn", "knn:0", "knn:x", "touch:2"])
def test_bad_modes(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_neighbours(bad)
    assert err.value.setting == "neighbours"


def test_topology_is_cached_by_content(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path)
    rs = grid(6, 6)
    first = load_topology(rs, "border", 4, cache)
    assert first.zone_of == assign_zones(rs, 4, adjacency=adjacency(rs, "border"))
    assert len(list(tmp_path.glob("topology-*.json"))) == 1
    again = load_topology(grid(6, 6), "border", 4, cache)  # same content, new object
    assert again == first
    load_topology(rs, "touch", 4, cache)
    load_topology(rs, "border", 5, cache)
    assert len(list(tmp_path.glob("topology-*.json"))) == 3


def test_topology_read_back_shares_what_the_regions_hold(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path)
    rs = RegionSet.from_regions(
        [Region(f"r{y}-{x}", "", box(x, y, x + 1, y + 1)) for y in range(20) for x in range(20)]
    )
    for mode in ("touch", "knn:3"):
        built = load_topology(rs, mode, 8, cache)
        read = load_topology(rs, mode, 8, cache)
        assert read == built and read.neighbours == adjacency(rs, mode)
        assert all(a is b for a, b in zip(read.zone_of, rs.ids, strict=True))
        assert len({id(z) for z in read.zone_of.values()}) == len(set(read.zone_of.values()))
    assert load_topology(rs, "touch", 8, cache).neighbours is rs.neighbour_indices()


def test_corrupt_or_mismatched_topology_is_rebuilt(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path)
    rs = grid()
    good = load_topology(rs, "touch", 4, cache)
    (entry,) = tmp_path.glob("topology-*.json")
    for broken in (b"not json", b'{"neighbours": [], "zones": {}}', b'{"zones": 1}'):
        entry.write_bytes(broken)
        with pytest.warns(GeoCacheWarning):
            assert load_topology(rs, "touch", 4, cache) == good
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_topology(rs, "touch", 4, cache) == good


def test_topology_rejects_a_bad_mode() -> None:
    with pytest.raises(ConfigError):
        load_topology(grid(), "diagonal")
