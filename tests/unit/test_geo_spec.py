"""Region-set specs: parsing, every kind of source, weights and the build cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gazetteer_data import city
from shapely.geometry import box

from geo import builders
from geo.cache import GeoCache, GeoCacheWarning
from geo.gazetteer import Gazetteer
from geo.regions import Region, RegionSet
from geo.spec import RegionSpec, load_region_set
from models.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_gazetteer() -> Gazetteer:
    return Gazetteer.from_records(
        [
            city("Milano", 9.19, 45.46, "IT", "09", 1_300_000),
            city("Torino", 7.68, 45.07, "IT", "12", 850_000),
            city("Genova", 8.93, 44.41, "IT", "08", 560_000),
        ]
    )


@pytest.mark.parametrize(
    ("text", "kind", "fields"),
    [
        ("regions.geojson", "file", {"path": "regions.geojson"}),
        ("file:hex:odd.geojson", "file", {"path": "hex:odd.geojson"}),
        ("hex:it:5", "hex", {"countries": ("IT",), "resolution": 5}),
        ("hex:bbox:7,44,13,46.5:6", "hex", {"bbox": (7.0, 44.0, 13.0, 46.5), "resolution": 6}),
        ("voronoi:s.csv", "voronoi", {"path": "s.csv", "boundary": ""}),
        ("voronoi:s.csv:it", "voronoi", {"path": "s.csv", "boundary": "IT"}),
        ("voronoi:s.csv:b.geojson", "voronoi", {"path": "s.csv", "boundary": "b.geojson"}),
        ("admin0:IT,fr", "admin0", {"countries": ("IT", "FR")}),
        (" admin1:US ", "admin1", {"countries": ("US",)}),
    ],
)
def test_parse(text: str, kind: str, fields: dict[str, object]) -> None:
    spec = RegionSpec.parse(text)
    assert spec.kind == kind and spec.text == text.strip()
    for name, value in fields.items():
        assert getattr(spec, name) == value


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("hex:IT", "resolution"),
        ("hex:IT:16", "0-15"),
        ("hex:ITA:5", "2-letter"),
        ("hex:bbox:7,44,13:5", "W,S,E,N"),
        ("hex:bbox:13,44,7,46:5", "W < E"),
        ("hex:bbox:a,b,c,d:5", "degrees"),
        ("voronoi:", "site list"),
        ("admin1:", "2-letter"),
        ("admin0:IT,IT", "twice"),
        ("file:", "needs a path"),
    ],
)
def test_parse_errors_name_the_setting(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        RegionSpec.parse(text, "GROUNDSWELL_REGIONS")
    assert err.value.setting == "GROUNDSWELL_REGIONS" and err.value.value == text.strip()


def test_input_files() -> None:
    assert RegionSpec.parse("voronoi:s.csv:b.geojson").input_files() == ("s.csv", "b.geojson")
    assert RegionSpec.parse("voronoi:s.csv:IT").input_files() == ("s.csv",)
    assert RegionSpec.parse("hex:IT:4").input_files() == ()


def test_missing_input_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_region_set(f"voronoi:{tmp_path / 'none.csv'}")


def write_regions(path: Path) -> Path:
    regions = RegionSet.from_regions(
        [Region("w", "West", box(7, 44, 9, 46)), Region("e", "East", box(9, 44, 11, 46))]
    )
    fc = regions.to_geojson()
    fc["features"][0]["properties"]["pop"] = 5
    fc["features"][1]["properties"]["pop"] = 7
    path.write_text(json.dumps(fc))
    return path


def test_file_weights_from_a_property_or_the_gazetteer(
    tmp_path: Path, tiny_gazetteer: Gazetteer
) -> None:
    path = write_regions(tmp_path / "r.geojson")
    assert load_region_set(str(path)).weights == (1.0, 1.0)
    assert load_region_set(str(path), weight_property="pop").weights == (5.0, 7.0)
    by_people = load_region_set(str(path), gazetteer=tiny_gazetteer)
    assert by_people.weights == (850_000 + 560_000, 1_300_000.0)
    calls: list[int] = []

    def factory() -> Gazetteer:
        calls.append(1)
        return tiny_gazetteer

    assert load_region_set(str(path), weight_property="pop", gazetteer=factory).weights == (
        5.0,
        7.0,
    )
    assert calls == []  # the gazetteer is not even built when the file has weights


def test_hex_bbox_and_country(tiny_gazetteer: Gazetteer) -> None:
    rs = load_region_set("hex:bbox:9.0,45.3,9.4,45.6:6", gazetteer=tiny_gazetteer)
    assert len(rs) == 43
    milano = rs.locate_point(9.19, 45.46)
    assert milano is not None and rs.region(milano[0]).weight == 1_300_000
    assert sorted(rs.weights)[:-1] == [1.0] * (len(rs) - 1)
    italy = load_region_set("hex:IT:3")
    assert italy.locate_point(12.5, 41.9) is not None and italy.locate_point(2.35, 48.85) is None


def test_voronoi_kinds(tmp_path: Path, tiny_gazetteer: Gazetteer) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text("id,lon,lat\nMI,9.19,45.46\nTO,7.68,45.07\nGE,8.93,44.41\n")
    plain = load_region_set(f"voronoi:{sites}", gazetteer=tiny_gazetteer)
    assert plain.ids == ("MI", "TO", "GE")
    assert plain.weights == (1_300_000.0, 850_000.0, 560_000.0)
    x0, y0, x1, y1 = plain.bounds
    assert x0 < 7.68 and x1 > 9.19 and y0 < 44.41 and y1 > 45.46
    country = load_region_set(f"voronoi:{sites}:IT")
    assert country.locate_point(12.5, 41.9) is not None  # Rome: inside Italy, nearest Genova
    outline = write_regions(tmp_path / "b.geojson")
    clipped = load_region_set(f"voronoi:{sites}:{outline}")
    assert clipped.bounds == pytest.approx((7.0, 44.0, 11.0, 46.0))
    weighted = tmp_path / "weighted.csv"
    weighted.write_text("id,lon,lat,weight\nA,9,45,2\nB,10,45,3\n")
    assert load_region_set(f"voronoi:{weighted}", gazetteer=tiny_gazetteer).weights == (2.0, 3.0)


def test_admin_kinds() -> None:
    countries = load_region_set("admin0:IT,FR")
    assert countries.ids == ("IT", "FR")
    areas = load_region_set("admin1:IT")
    assert len(areas) == 20 and all(rid.startswith("IT-") for rid in areas.ids)
    assert min(areas.weights) > 50_000  # populations of the areas' places
    lombardy = areas.locate_point(9.19, 45.46)
    assert lombardy is not None and "Milan" in areas.name(lombardy[0])


def test_built_sets_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = GeoCache(tmp_path)
    first = load_region_set("hex:bbox:9.0,45.3,9.4,45.6:5", cache=cache)
    (entry,) = tmp_path.glob("regions-*.json")

    def refuse(*args: object, **kwargs: object) -> list[Region]:
        raise AssertionError("built again")

    monkeypatch.setattr(builders, "hex_regions", refuse)
    again = load_region_set("hex:bbox:9.0,45.3,9.4,45.6:5", cache=cache)
    assert again.sha256 == first.sha256
    monkeypatch.undo()
    entry.write_text("{}")
    with pytest.warns(GeoCacheWarning):
        rebuilt = load_region_set("hex:bbox:9.0,45.3,9.4,45.6:5", cache=cache)
    assert rebuilt.sha256 == first.sha256


def test_voronoi_cache_follows_the_file_content(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path / "cache")
    sites = tmp_path / "sites.csv"
    sites.write_text("id,lon,lat\nA,9,45\nB,10,45\n")
    assert load_region_set(f"voronoi:{sites}", cache=cache).ids == ("A", "B")
    sites.write_text("id,lon,lat\nA,9,45\nC,10,45\n")
    assert load_region_set(f"voronoi:{sites}", cache=cache).ids == ("A", "C")
    assert load_region_set(f"voronoi:{sites}:IT", cache=cache).bounds[0] < 7.0
