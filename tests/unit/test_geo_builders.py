"""Built region sets: hexagons, Voronoi cells of sites, countries, derived admin areas."""

from __future__ import annotations

import warnings
from pathlib import Path

import h3
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo.builders import (
    COUNTRY_MARGIN_DEG,
    Place,
    Site,
    admin0_regions,
    admin1_regions,
    country_outline,
    geonames_places,
    grown_outline,
    hex_regions,
    read_sites_csv,
    voronoi_regions,
)
from geo.regions import RegionDataWarning, RegionSet
from models.errors import ConfigError

# --- hexagons ---------------------------------------------------------------------------


def test_hexagons_cover_the_area_without_overlap() -> None:
    area = box(9.0, 45.3, 9.4, 45.6)
    cells = hex_regions(area, 7)
    rs = RegionSet.from_regions(cells)
    union = shapely.union_all([r.geometry for r in cells])
    assert union.covers(area)  # "overlap" containment: every point of the area is in a cell
    assert sum(r.geometry.area for r in cells) == pytest.approx(union.area, rel=1e-6)
    for r in cells:
        assert h3.is_valid_cell(r.id) and h3.get_resolution(r.id) == 7 and r.name == r.id
        lat, lon = h3.cell_to_latlng(r.id)
        assert rs.locate_point(lon, lat) == (r.id, "coordinates")
    assert [r.id for r in cells] == sorted(r.id for r in cells)


def test_hexagon_neighbours_share_edges() -> None:
    rs = RegionSet.from_regions(hex_regions(box(9.0, 45.3, 9.4, 45.6), 6))
    for rid in rs.ids:
        ring = set(h3.grid_ring(rid, 1)) & set(rs.ids)
        assert set(rs.neighbours(rid)) == ring


def test_finer_resolution_gives_more_cells() -> None:
    area = box(9.0, 45.3, 9.4, 45.6)
    assert len(hex_regions(area, 5)) < len(hex_regions(area, 6)) < len(hex_regions(area, 7))


@pytest.mark.parametrize("bad", [-1, 16, 2.5, True, "5"])
def test_bad_resolution(bad: object) -> None:
    with pytest.raises(ConfigError, match="0-15") as err:
        hex_regions(box(0, 0, 1, 1), bad)  # type: ignore[arg-type]
    assert err.value.setting == "regions"


def test_too_many_hexagons_is_refused() -> None:
    with pytest.raises(ConfigError, match="coarser resolution"):
        hex_regions(box(0, 0, 10, 10), 10)


# --- Voronoi ----------------------------------------------------------------------------


def sites(*points: tuple[float, float]) -> list[Site]:
    return [Site(f"s{i}", f"Site {i}", x, y) for i, (x, y) in enumerate(points)]


def test_voronoi_cells_partition_the_boundary() -> None:
    boundary = box(0, 0, 10, 10)
    cells = voronoi_regions(sites((2, 2), (8, 2), (5, 8), (5, 5)), boundary)
    assert [r.id for r in cells] == ["s0", "s1", "s2", "s3"]
    assert sum(r.geometry.area for r in cells) == pytest.approx(100.0)
    rs = RegionSet.from_regions(cells)
    for r, (x, y) in zip(cells, [(2, 2), (8, 2), (5, 8), (5, 5)], strict=True):
        assert rs.locate_point(x, y) == (r.id, "coordinates")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 100)), min_size=2, max_size=25, unique=True
    ),
    st.tuples(st.integers(0, 100), st.integers(0, 100)),
)
def test_property_each_point_goes_to_its_nearest_site(
    grid: list[tuple[int, int]], probe: tuple[int, int]
) -> None:
    points = [(x / 10, y / 10) for x, y in grid]
    rs = RegionSet.from_regions(voronoi_regions(sites(*points), box(-1, -1, 11, 11)))
    px, py = probe[0] / 10 + 0.013, probe[1] / 10 + 0.007
    hit = rs.locate_point(px, py)
    assert hit is not None
    nearest = min(Point(p).distance(Point(px, py)) for p in points)
    own = points[int(hit[0][1:])]
    assert Point(own).distance(Point(px, py)) == pytest.approx(nearest, abs=1e-6)


def test_voronoi_rejects_duplicates_and_skips_outside_sites() -> None:
    with pytest.raises(ConfigError, match="same coordinates as 's0'"):
        voronoi_regions(sites((1, 1), (1, 1)), box(0, 0, 2, 2))
    with pytest.warns(RegionDataWarning, match="skipped 1 site"):
        cells = voronoi_regions(sites((1, 1), (1.5, 1), (50, 50)), box(0, 0, 2, 2))
    assert [r.id for r in cells] == ["s0", "s1"]
    one = voronoi_regions(sites((1, 1)), box(0, 0, 2, 2))
    assert len(one) == 1 and one[0].geometry.area == pytest.approx(4.0)


def test_read_sites_csv(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("\ufeffID, Lon ,lat,name,weight\nA,9.1,45.4,Alpha,3\nB,9.2,45.5,,\n")
    assert read_sites_csv(path) == [
        Site("A", "Alpha", 9.1, 45.4, 3.0),
        Site("B", "B", 9.2, 45.5, 1.0),
    ]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("name,lon,lat\nA,1,2\n", "lacks id"),
        ("id,lon,lat\n", "no sites"),
        ("id,lon,lat\nA,1,2\nA,3,4\n", "line 3: duplicate id 'A'"),
        ("id,lon,lat\n,1,2\n", "line 2: empty id"),
        ("id,lon,lat\nA,east,2\n", "must be numbers"),
        ("id,lon,lat\nA,500000,4000000\n", "not lon/lat"),
        ("id,lon,lat,weight\nA,1,2,-4\n", "weight must be >= 0"),
    ],
)
def test_bad_site_lists(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match) as err:
        read_sites_csv(path)
    assert err.value.value == str(path)


def test_site_list_must_be_utf8_and_exist(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes("id,lon,lat\nCittà,1,2\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_sites_csv(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_sites_csv(tmp_path / "missing.csv")


# --- countries and derived first-level areas --------------------------------------------


def test_country_outlines() -> None:
    italy = country_outline("it")
    assert italy.is_valid and italy.contains(Point(12.5, 41.9))  # Rome
    grown = grown_outline("IT")
    assert grown.contains(italy) and grown.area > italy.area
    assert grown.distance(Point(italy.bounds[0] - COUNTRY_MARGIN_DEG * 2, 45)) > 0
    for code, match in (("XX", "unknown country"), ("SM", "no outline"), ("ITA", "2-letter")):
        with pytest.raises(ConfigError, match=match):
            country_outline(code)


def test_admin0_regions_do_not_overlap() -> None:
    regions = admin0_regions(["FR", "IT", "CH"])
    assert [(r.id, r.name) for r in regions] == [
        ("FR", "France"),
        ("IT", "Italy"),
        ("CH", "Switzerland"),
    ]
    rs = RegionSet.from_regions(regions)
    assert rs.locate_point(2.35, 48.85) == ("FR", "coordinates")  # Paris
    assert rs.locate_point(7.45, 46.95) == ("CH", "coordinates")  # Bern
    for a in regions:
        for b in regions:
            if a.id != b.id:
                assert a.geometry.intersection(b.geometry).area < 1e-9


def test_admin1_from_tiny_places() -> None:
    places = [
        Place("North", 12.0, 45.0, "IT", "01", 1000),
        Place("North2", 12.5, 45.5, "IT", "01", 50),
        Place("South", 14.0, 41.0, "IT", "02", 3000),
        Place("Nowhere", 14.0, 41.5, "IT", "", 10),  # no code: ignored
        Place("Abroad", 2.0, 48.0, "FR", "11", 10**6),
    ]
    regions = admin1_regions("IT", places)
    assert [(r.id, r.name, r.weight) for r in regions] == [
        ("IT-01", "IT-01 (North)", 1050.0),
        ("IT-02", "IT-02 (South)", 3000.0),
    ]
    rs = RegionSet.from_regions(regions)
    assert rs.locate_point(12.2, 45.2) == ("IT-01", "coordinates")
    assert rs.locate_point(14.0, 40.9) == ("IT-02", "coordinates")
    with pytest.raises(ConfigError, match="too few places"):
        admin1_regions("IT", places[:1])


def test_admin1_us_states_from_geonames() -> None:
    places = geonames_places(["US"])
    assert len(places) > 20_000 and all(p.country == "US" for p in places)
    regions = admin1_regions("US", places, {"IL": "Illinois", "TX": "Texas"})
    rs = RegionSet.from_regions(regions)
    chicago = rs.locate_point(-87.65, 41.85)
    assert chicago is not None and rs.name(chicago[0]) == "Illinois"
    houston = rs.locate_point(-95.37, 29.76)
    assert houston is not None and rs.name(houston[0]) == "Texas"
    assert rs.name("US-CA") == "US-CA (Los Angeles)"  # no name given for it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(r.geometry.is_valid for r in regions)
