"""RegionSet: loading, point lookup, ties, nearest-edge fallback, neighbours, unions."""

from __future__ import annotations

import json
import math
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape

from geo.regions import Region, RegionDataWarning, RegionSet
from models.errors import ConfigError

GEO_DATA = Path("/work/shared/data/geo")


def grid(nx: int = 4, ny: int = 3, **kwargs: Any) -> RegionSet:
    """``nx`` x ``ny`` one-degree squares; id ``r{row}{col}``, row 0 at the bottom."""
    regions = [
        Region(f"r{y}{x}", f"Cell {y}{x}", box(x, y, x + 1, y + 1))
        for y in range(ny)
        for x in range(nx)
    ]
    return RegionSet.from_regions(regions, **kwargs)


def feature(geometry: dict[str, Any] | None, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry, **extra}


def square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def italy_regions() -> RegionSet:
    path = GEO_DATA / "italy" / "limits_IT_regions.geojson"
    if not path.exists():
        pytest.skip("real boundary data not available")
    return RegionSet.from_geojson(path)


# --- point lookup -----------------------------------------------------------------------


def test_point_in_polygon_finds_each_cell() -> None:
    rs = grid()
    for y in range(3):
        for x in range(4):
            assert rs.locate_point(x + 0.5, y + 0.5) == (f"r{y}{x}", "coordinates")


def test_border_and_corner_ties_go_to_the_first_region_in_file_order() -> None:
    rs = grid()
    assert rs.locate_point(1.0, 0.5) == ("r00", "coordinates")  # r00 | r01
    assert rs.locate_point(2.5, 1.0) == ("r02", "coordinates")  # r02 / r12
    assert rs.locate_point(1.0, 1.0) == ("r00", "coordinates")  # corner of four cells
    # the rule is file order, not id order
    flipped = RegionSet.from_regions(list(reversed(list(grid()))))
    assert flipped.locate_point(1.0, 0.5) == ("r01", "coordinates")
    assert flipped.locate_point(1.0, 1.0) == ("r11", "coordinates")


def test_nearest_region_within_edge_tolerance() -> None:
    rs = grid()  # default tolerance 0.05 degrees
    assert rs.locate_point(4.03, 1.5) == ("r13", "nearest")
    assert rs.locate_point(-0.03, -0.03) == ("r00", "nearest")  # 0.042 from the corner
    assert rs.locate_point(-0.04, -0.04) is None  # 0.057 from the corner
    assert rs.locate_point(4.1, 1.5) is None
    assert rs.locate_point(2.0, 3.06) is None
    # equidistant from two regions: the first in file order
    assert rs.locate_point(2.0, -0.02) == ("r01", "nearest")


def test_edge_tolerance_is_configurable() -> None:
    assert grid(edge_tolerance_deg=0).locate_point(4.001, 1.5) is None
    assert grid(edge_tolerance_deg=0.5).locate_point(4.4, 1.5) == ("r13", "nearest")
    for bad in (-1, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(ConfigError) as err:
            grid(edge_tolerance_deg=bad)
        assert err.value.setting == "edge_tolerance_deg"


def test_non_finite_coordinates_give_none() -> None:
    rs = grid()
    for lon, lat in [(math.nan, 1.0), (1.0, math.inf), (-math.inf, math.nan)]:
        assert rs.locate_point(lon, lat) is None


def test_hole_is_outside_and_its_edge_is_nearest() -> None:
    donut = Polygon(box(0, 0, 10, 10).exterior.coords, [box(4, 4, 6, 6).exterior.coords])
    rs = RegionSet.from_regions([Region("d", "Donut", donut)])
    assert rs.locate_point(5.0, 5.0) is None
    assert rs.locate_point(4.02, 5.0) == ("d", "nearest")
    assert rs.locate_point(4.0, 5.0) == ("d", "coordinates")  # on the hole's edge


def test_locate_points_matches_locate_point() -> None:
    rs = grid()
    rng = random.Random(7)
    lons = [rng.uniform(-0.5, 4.5) for _ in range(500)] + [math.nan, 1.0, 4.03]
    lats = [rng.uniform(-0.5, 3.5) for _ in range(500)] + [1.0, math.nan, 1.5]
    assert rs.locate_points(lons, lats) == [
        rs.locate_point(x, y) for x, y in zip(lons, lats, strict=True)
    ]
    assert rs.locate_points([], []) == []
    with pytest.raises(ValueError):
        rs.locate_points([1.0], [1.0, 2.0])


# A grid with a missing cell (a gap), an L-shaped region, an island and a concave region.
_PROPERTY_REGIONS = RegionSet.from_regions(
    [
        Region("a", "A", box(0, 0, 1, 1)),
        Region("b", "B", box(1, 0, 2, 1)),
        Region("c", "C", box(0, 1, 1, 2)),  # (1..2, 1..2) is a gap
        Region("l", "L", Polygon([(2, 0), (4, 0), (4, 2), (3, 2), (3, 1), (2, 1)])),
        Region(
            "m",
            "Multi",
            MultiPolygon([box(10, 10, 11, 11), box(12, 10, 13, 11)]),
        ),
        Region("v", "Concave", Polygon([(-3, 0), (-1, 0), (-2, 1), (-1, 2), (-3, 2)])),
    ]
)


def _check_located(rs: RegionSet, lon: float, lat: float) -> None:
    result = rs.locate_point(lon, lat)
    point = Point(lon, lat)
    distances = {r.id: r.geometry.distance(point) for r in rs}
    inside = [r.id for r in rs if r.geometry.intersects(point)]
    if result is None:
        assert not inside
        assert min(distances.values()) > rs.edge_tolerance_deg - 1e-9
        return
    region_id, method = result
    if method == "coordinates":
        assert inside and region_id == inside[0]  # first in file order
    else:
        assert method == "nearest"
        assert not inside
        assert distances[region_id] <= rs.edge_tolerance_deg + 1e-9
        assert distances[region_id] <= min(distances.values()) + 1e-9


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.floats(min_value=-90, max_value=90, allow_nan=False),
)
def test_property_anywhere_on_earth(lon: float, lat: float) -> None:
    _check_located(_PROPERTY_REGIONS, lon, lat)


@settings(max_examples=500, deadline=None)
@given(
    st.floats(min_value=-3.2, max_value=13.2, allow_nan=False),
    st.floats(min_value=-0.2, max_value=11.2, allow_nan=False),
)
def test_property_near_the_regions(lon: float, lat: float) -> None:
    _check_located(_PROPERTY_REGIONS, lon, lat)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=-4, max_value=8).map(lambda k: k / 2),
    st.integers(min_value=-2, max_value=6).map(lambda k: k / 2),
)
def test_property_on_borders_and_vertices(lon: float, lat: float) -> None:
    _check_located(_PROPERTY_REGIONS, lon, lat)


# --- access, neighbours, unions --------------------------------------------------------


def test_basic_access() -> None:
    rs = grid()
    assert len(rs) == 12
    assert rs.ids[:5] == ("r00", "r01", "r02", "r03", "r10")
    assert "r12" in rs and "r99" not in rs and 3 not in rs
    assert rs.name("r12") == "Cell 12"
    assert rs.geometry("r12").equals(box(2, 1, 3, 2))
    assert rs.centroid("r12") == pytest.approx((2.5, 1.5))
    assert rs.bounds == (0.0, 0.0, 4.0, 3.0)
    assert rs.index("r10") == 4
    with pytest.raises(KeyError, match="r99"):
        rs.name("r99")


def test_from_regions_rejects_duplicates_and_empty() -> None:
    with pytest.raises(ConfigError, match="duplicate"):
        RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1))] * 2)
    with pytest.raises(ConfigError, match="no regions"):
        RegionSet.from_regions([])


def test_region_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="polygonal"):
        Region("p", "P", Point(0, 0))
    with pytest.raises(ValueError, match="empty"):
        Region("p", "P", Polygon())
    with pytest.raises(ValueError, match="non-empty"):
        Region("", "P", box(0, 0, 1, 1))
    with pytest.raises(ValueError, match="weight"):
        Region("p", "P", box(0, 0, 1, 1), weight=-1.0)


def test_neighbours_share_a_border_or_a_corner() -> None:
    rs = grid()
    assert rs.neighbours("r00") == ("r01", "r10", "r11")
    assert rs.neighbours("r11") == ("r00", "r01", "r02", "r10", "r12", "r20", "r21", "r22")
    assert rs.neighbours("r23") == ("r12", "r13", "r22")
    assert rs.neighbour_indices() is rs.neighbour_indices()  # computed once
    for a in rs.ids:
        for b in rs.neighbours(a):
            assert a in rs.neighbours(b)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 60))
def test_property_neighbours_are_the_regions_that_meet(seed: int, n: int) -> None:
    rs = _voronoi_set(seed, n, 0.0)
    geoms = [rs.geometry(r) for r in rs.ids]
    expected = tuple(
        tuple(j for j, other in enumerate(geoms) if j != i and geom.intersects(other))
        for i, geom in enumerate(geoms)
    )
    assert rs.neighbour_indices() == expected


def test_neighbour_numbers_are_held_once() -> None:
    rs = RegionSet.from_regions(
        [Region(f"r{y}-{x}", "", box(x, y, x + 1, y + 1)) for y in range(30) for x in range(30)]
    )
    numbers = [j for nb in rs.neighbour_indices() for j in nb]
    assert len(numbers) > 6000 and len({id(j) for j in numbers}) == len(rs)


def test_island_has_no_neighbours() -> None:
    rs = RegionSet.from_regions(
        [Region("a", "A", box(0, 0, 1, 1)), Region("island", "I", box(3, 3, 4, 4))]
    )
    assert rs.neighbours("island") == ()
    assert rs.neighbours("a") == ()


def test_union_geometry_is_valid_and_covers_the_regions() -> None:
    rs = grid()
    merged = shape(rs.union_geojson(["r00", "r01", "r11"]))
    assert merged.is_valid and merged.geom_type == "Polygon"
    assert merged.area == pytest.approx(3.0)
    apart = shape(rs.union_geojson(["r00", "r22"]))  # touch nowhere
    assert apart.is_valid and apart.geom_type == "MultiPolygon"
    everything = rs.union_geojson(rs.ids, tolerance_deg=0)
    assert shape(everything).equals(box(0, 0, 4, 3))
    json.dumps(everything)  # plain JSON types
    with pytest.raises(KeyError):
        rs.union_geojson(["r00", "nope"])
    with pytest.raises(ValueError):
        rs.union_geojson([])


def test_union_simplifies_but_stays_valid() -> None:
    circle = Point(0, 0).buffer(1.0, quad_segs=256)
    ring = Point(0, 0).buffer(3.0, quad_segs=256).difference(Point(0, 0).buffer(1.0, quad_segs=256))
    rs = RegionSet.from_regions([Region("in", "In", circle), Region("out", "Out", ring)])
    fine = shape(rs.union_geojson(["in", "out"], tolerance_deg=0))
    coarse = shape(rs.union_geojson(["in", "out"], tolerance_deg=0.05))
    assert coarse.is_valid and fine.is_valid
    assert shapely.get_num_coordinates(coarse) < shapely.get_num_coordinates(fine) / 4
    assert coarse.area == pytest.approx(fine.area, rel=0.01)


def test_sha256_is_stable_and_content_sensitive() -> None:
    a, b = grid(), grid(edge_tolerance_deg=0.2)
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    renamed = RegionSet.from_regions([Region(r.id, r.name + "!", r.geometry) for r in grid()])
    moved = RegionSet.from_regions(
        [Region(r.id, r.name, shapely.affinity.translate(r.geometry, 1e-9)) for r in grid()]
    )
    assert len({a.sha256, renamed.sha256, moved.sha256}) == 3
    assert RegionSet.from_mapping(a.to_geojson()).sha256 == a.sha256


def test_to_geojson_round_trips() -> None:
    rs = grid()
    fc = rs.to_geojson()
    assert fc["type"] == "FeatureCollection"
    assert fc["features"][5]["properties"] == {"id": "r11", "name": "Cell 11", "weight": 1.0}
    back = RegionSet.from_mapping(json.loads(json.dumps(fc)))
    assert back.ids == rs.ids
    assert all(back.geometry(r).equals(rs.geometry(r)) for r in rs.ids)


# --- loading: ids, names, repairs -------------------------------------------------------


def test_ids_names_and_weights_are_not_the_documents_objects() -> None:
    """A region set keeps copies, so that the decoded document's memory can all be freed."""
    props = {"id": "hex-a", "name": "hex-a", "weight": 2.5}
    other = {"id": "b", "name": "B", "weight": 1}
    fc = collection(feature(square(0, 0), props), feature(square(1, 0), other))
    rs = RegionSet.from_mapping(fc, weight_property=None)
    a = rs.region("hex-a")
    assert (a.id, a.name) == ("hex-a", "hex-a") and a.id is not props["id"]
    assert a.name is a.id  # a name equal to the id is the same string
    assert rs.name("b") == "B" and rs.name("b") is not fc["features"][1]["properties"]["name"]
    weighted = RegionSet.from_mapping(fc, weight_property="weight").region("hex-a").weight
    assert weighted == 2.5 and weighted is not props["weight"]


def test_centroids() -> None:
    rs = grid()
    assert rs.centroid("r12") == (2.5, 1.5)
    assert all(rs.centroid(r.id) == r.geometry.centroid.coords[0] for r in rs)


def test_id_and_name_defaults(tmp_path: Path) -> None:
    by_prop = write(
        tmp_path / "a.geojson", collection(feature(square(0, 0), {"id": 7, "name": "Seven"}))
    )
    rs = RegionSet.from_geojson(by_prop)
    assert rs.ids == ("7",) and rs.name("7") == "Seven"

    by_feature_id = collection(feature(square(0, 0), {"nom": "Ain"}, id="01"))
    rs = RegionSet.from_mapping(by_feature_id)
    assert rs.ids == ("01",) and rs.name("01") == "Ain"

    census = collection(
        feature(square(0, 0), {"GEO_ID": "0400000US04", "NAME": "Arizona"}),
        feature(square(1, 0), {"GEO_ID": "0400000US05", "NAME": "Arkansas"}),
    )
    rs = RegionSet.from_mapping(census)
    assert rs.ids == ("0400000US04", "0400000US05") and rs.name("0400000US05") == "Arkansas"

    nothing = collection(feature(square(0, 0), {}), feature(square(1, 0), {"other": 1}))
    rs = RegionSet.from_mapping(nothing)
    assert rs.ids == ("0", "1") and rs.name("1") == "1"


def test_first_unique_id_candidate_wins() -> None:
    # Italian provinces carry their region's code too: it repeats, so it is passed over.
    provinces = collection(
        feature(
            square(0, 0),
            {
                "reg_istat_code": "03",
                "prov_istat_code": "015",
                "prov_name": "Milano",
                "reg_name": "Lombardia",
            },
        ),
        feature(
            square(1, 0),
            {
                "reg_istat_code": "03",
                "prov_istat_code": "016",
                "prov_name": "Bergamo",
                "reg_name": "Lombardia",
            },
        ),
    )
    rs = RegionSet.from_mapping(provinces)
    assert rs.ids == ("015", "016") and rs.name("016") == "Bergamo"
    rs = RegionSet.from_mapping(provinces, id_property="prov_name", name_property="reg_name")
    assert rs.ids == ("Milano", "Bergamo") and rs.name("Milano") == "Lombardia"


def test_weight_property() -> None:
    fc = collection(feature(square(0, 0), {"id": "a", "pop": 1200}))
    assert RegionSet.from_mapping(fc, weight_property="pop").region("a").weight == 1200.0
    assert RegionSet.from_mapping(fc).region("a").weight == 1.0
    bad = collection(feature(square(0, 0), {"id": "a", "pop": "many"}))
    with pytest.raises(ConfigError, match="pop"):
        RegionSet.from_mapping(bad, weight_property="pop")


def test_bow_tie_is_repaired_with_a_warning_naming_the_region(tmp_path: Path) -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    path = write(
        tmp_path / "bow.geojson", collection(feature(bow_tie, {"id": "bt", "name": "Bowtie"}))
    )
    with pytest.warns(RegionDataWarning, match="'bt' \\(Bowtie\\).*make_valid"):
        rs = RegionSet.from_geojson(path)
    geom = rs.geometry("bt")
    assert geom.is_valid and geom.area == pytest.approx(2.0)
    assert rs.locate_point(0.5, 1.0) == ("bt", "coordinates")
    assert rs.locate_point(1.0, 0.5) is None  # between the two triangles, > 0.05 away


def test_non_polygon_features_are_skipped_with_a_warning() -> None:
    fc = collection(
        feature(square(0, 0), {"id": "a"}),
        feature({"type": "Point", "coordinates": [5, 5]}, {"id": "p"}),
        feature(None, {"id": "n"}),
    )
    with pytest.warns(RegionDataWarning, match="skipped 2"):
        rs = RegionSet.from_mapping(fc)
    assert rs.ids == ("a",)


def test_utf8_bom_and_other_encodings(tmp_path: Path) -> None:
    fc = collection(feature(square(0, 0), {"id": "a", "name": "Città"}))
    bom = tmp_path / "bom.geojson"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(fc, ensure_ascii=False).encode())
    assert RegionSet.from_geojson(bom).name("a") == "Città"
    latin = tmp_path / "latin.geojson"
    latin.write_bytes(json.dumps(fc, ensure_ascii=False).encode("latin-1"))
    assert RegionSet.from_geojson(latin, encoding="latin-1").name("a") == "Città"


def test_clean_file_gives_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.geojson", grid().to_geojson())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(RegionSet.from_geojson(path)) == 12


# --- loading: every ConfigError ---------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, dict[str, Any], str]]:
    ok = feature(square(0, 0), {"id": "a"})
    cases: dict[str, tuple[Path, dict[str, Any], str]] = {}

    def case(name: str, content: bytes | Any, match: str, **kwargs: Any) -> None:
        path = tmp_path / f"{name}.geojson"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write(path, content)
        cases[name] = (path, kwargs, match)

    cases["missing"] = (tmp_path / "nope.geojson", {}, "file not found")
    cases["directory"] = (tmp_path, {}, "cannot read")
    case("latin1", json.dumps(collection(ok)).encode().replace(b'"a"', b'"\xe0"'), "not utf-8")
    case("not_json", b"{not json", "not valid JSON")
    case("empty", b"", "not valid JSON")
    case("array", [ok], "not a GeoJSON FeatureCollection")
    case("feature", ok, "not a GeoJSON FeatureCollection")
    case("no_features", {"type": "FeatureCollection"}, "'features' list")
    case("zero_features", collection(), "no Polygon")
    case(
        "only_points",
        collection(feature({"type": "Point", "coordinates": [1, 1]}, {})),
        "no Polygon",
    )
    case("bad_feature", collection("oops"), "feature 0 is not an object")
    case(
        "malformed",
        collection(feature({"type": "Polygon", "coordinates": [[1, 2]]}, {})),
        "malformed",
    )
    case("projected", collection(feature(square(500000, 4000000, 1000), {"id": "a"})), "WGS84")
    dup = collection(ok, feature(square(1, 0), {"id": "a"}))
    case("duplicate_auto", dup, "duplicate region id 'a'")
    two = collection(feature(square(0, 0), {"k": "x"}), feature(square(1, 0), {"k": "x"}))
    case("duplicate_explicit", two, "duplicate region id 'x'", id_property="k")
    case(
        "missing_id",
        collection(ok, feature(square(1, 0), {})),
        "no usable id property 'code'",
        id_property="code",
    )
    case("missing_name", collection(ok), "no usable name property 'nom'", name_property="nom")
    return cases


def test_every_bad_file_raises_a_clear_config_error(tmp_path: Path) -> None:
    for name, (path, kwargs, match) in _bad_files(tmp_path).items():
        with warnings.catch_warnings(), pytest.raises(ConfigError, match=match) as err:
            warnings.simplefilter("ignore", RegionDataWarning)
            RegionSet.from_geojson(path, **kwargs)
        assert err.value.setting == "regions", name
        assert err.value.value == str(path), name


# --- real boundary files (skipped when /work/shared is absent) --------------------------


def test_italy_regions(italy_regions: RegionSet) -> None:
    rs = italy_regions
    assert len(rs) == 20
    lombardia = rs.locate_point(9.18951, 45.46427)  # Milano
    assert lombardia is not None and rs.name(lombardia[0]) == "Lombardia"
    lazio = rs.locate_point(12.51133, 41.89193)  # Roma
    assert lazio is not None and rs.name(lazio[0]) == "Lazio"
    names = {rs.name(r) for r in rs.neighbours(lombardia[0])}
    assert {"Piemonte", "Emilia-Romagna", "Veneto"} <= names
    sicilia = next(r for r in rs.ids if rs.name(r) == "Sicilia")
    assert rs.neighbours(sicilia) == ()
    assert rs.locate_point(0.0, 0.0) is None
    union = shape(rs.union_geojson(rs.ids))
    assert union.is_valid


def test_us_counties_need_their_encoding() -> None:
    path = GEO_DATA / "us" / "gz_2010_us_050_00_20m.json"
    if not path.exists():
        pytest.skip("real boundary data not available")
    with pytest.raises(ConfigError, match="not utf-8"):
        RegionSet.from_geojson(path)
    rs = RegionSet.from_geojson(path, encoding="latin-1")
    cook = rs.locate_point(-87.65005, 41.85003)  # Chicago
    assert cook == ("0500000US17031", "coordinates") and rs.name(cook[0]) == "Cook"


# --- the cell grid behind locate_point ---------------------------------------------------


def _voronoi_set(seed: int, n: int, tolerance: float) -> RegionSet:
    rng = random.Random(seed)
    points = shapely.multipoints([(rng.uniform(0, 10), rng.uniform(0, 10)) for _ in range(n)])
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=box(0, 0, 10, 10)))
    holed = [c.intersection(box(0, 0, 10, 10)).difference(Point(5, 5).buffer(1.3)) for c in cells]
    regions = [
        Region(f"v{i}", "", geom)
        for i, geom in enumerate(holed)
        if isinstance(geom, Polygon | MultiPolygon) and not geom.is_empty
    ]
    return RegionSet.from_regions(regions, edge_tolerance_deg=tolerance)


def _reference(rs: RegionSet, lon: float, lat: float) -> tuple[str, str] | None:
    """The plain STR-tree answer the grid must reproduce."""
    (hit,) = rs.locate_points([lon], [lat])
    return hit


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(2, 40),
    st.sampled_from([0.0, 0.05, 0.4]),
    st.lists(
        st.tuples(st.floats(-1, 11, allow_nan=False), st.floats(-1, 11, allow_nan=False)),
        min_size=1,
        max_size=60,
    ),
)
def test_property_grid_matches_the_tree(
    seed: int, n: int, tolerance: float, probes: list[tuple[float, float]]
) -> None:
    rs = _voronoi_set(seed, n, tolerance)
    vertices = shapely.get_coordinates([r.geometry for r in rs]).tolist()
    rng = random.Random(seed)
    for lon, lat in [*probes, *rng.sample(vertices, min(20, len(vertices)))]:
        assert rs.locate_point(lon, lat) == _reference(rs, lon, lat), (lon, lat)


def test_grid_shape_and_real_file(italy_regions: RegionSet) -> None:
    nx, ny = italy_regions.cell_index.shape
    assert (1 << 14) <= nx * ny <= (1 << 19)
    rng = random.Random(5)
    x0, y0, x1, y1 = italy_regions.bounds
    for _ in range(3000):
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        assert italy_regions.locate_point(lon, lat) == _reference(italy_regions, lon, lat)


def test_grid_cuts_only_detailed_polygons() -> None:
    """Simple polygons are tested whole (the grid keeps only their indices: tens of
    thousands of hexagons cost megabytes, not gigabytes); a detailed one is cut into
    per-cell pieces; both answer as the tree does."""
    hexes = [Point(x * 0.1 + (y % 2) * 0.05, y * 0.087).buffer(0.058, 2) for y in range(40)
             for x in range(40)]  # fmt: skip
    simple = RegionSet.from_regions([Region(f"h{i}", "", g) for i, g in enumerate(hexes)])
    disc = Point(0, 0).buffer(1.0, 64)  # 257 coordinates
    detailed = RegionSet.from_regions([Region("d", "", disc), Region("e", "", box(1, -1, 2, 1))])
    assert not simple.cell_index._pieces and detailed.cell_index._pieces
    rng = random.Random(3)
    for rs in (simple, detailed):
        x0, y0, x1, y1 = rs.bounds
        for _ in range(2000):
            lon, lat = rng.uniform(x0 - 0.1, x1 + 0.1), rng.uniform(y0 - 0.1, y1 + 0.1)
            assert rs.locate_point(lon, lat) == _reference(rs, lon, lat), (lon, lat)


def test_grid_built_band_by_band_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.cellindex

    def built(chunk_cells: int) -> tuple[list[int], list[int], list[int], list[int]]:
        monkeypatch.setattr(geo.cellindex, "_CHUNK_CELLS", chunk_cells)
        disc = Point(0, 0).buffer(1.0, 64)  # detailed: cut into pieces per cell
        squares = [box(x * 0.3, 1 + y * 0.3, x * 0.3 + 0.3, 1.3 + y * 0.3) for y in range(4)
                   for x in range(-4, 5)]  # fmt: skip
        regions = [Region("d", "", disc), *(Region(f"s{i}", "", g) for i, g in enumerate(squares))]
        index = RegionSet.from_regions(regions, edge_tolerance_deg=0.2).cell_index
        pieces = sorted(index._pieces)
        return list(index._codes), list(index._bounds), list(index._members), pieces

    whole = built(1 << 30)
    assert whole[1] and whole[3]  # mixed cells, and detailed regions cut into pieces
    assert built(97) == whole  # many bands, one not a whole number of rows


def test_with_weights_and_union() -> None:
    rs = grid(2, 1)
    heavy = rs.with_weights([3.0, 4.0])
    assert heavy.weights == (3.0, 4.0) and rs.weights == (1.0, 1.0)
    assert heavy.ids == rs.ids and heavy.sha256 != rs.sha256
    with pytest.raises(ValueError):
        rs.with_weights([1.0])
    union = rs.union(["r00", "r01"])
    assert union.is_valid and union.equals(box(0, 0, 2, 1))
    wobbly = Polygon([(0, 0), (1, 0.0000001), (2, 0), (2, 1), (0, 1)])
    snapped = RegionSet.from_regions([Region("w", "", wobbly)]).union(["w"])
    assert snapped.is_valid
    assert [1.0, 0.0] in shapely.get_coordinates(snapped).tolist()  # on the 1e-6 grid
