"""The scenario simulator: determinism, the bundled scenarios, schema errors."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, shape

from models.errors import ConfigError
from models.evaluate import read_truth
from models.records import Post, Ticket, loads
from models.scenario import (
    DAY_MS,
    DECOY_KINDS,
    build_demo,
    build_scenario,
    load_spec,
    parse_spec,
    scenario_names,
    write_scenario,
)
from streams.cli import main

SMALL = """
name = "small"
kind = "grid"
start = "2024-03-04T00:00:00Z"
days = 1.0
history_days = 0.25

[grid]
lon0 = 9.0
lat0 = 45.0
cols = 12
rows = 10
dlon = 0.1
dlat = 0.08

[population]
law = "pareto"
shape = 1.2

[activity]
chatter_per_min = 4.0
complaints_per_min = 0.5
langs = { it = 0.5, en = 0.5 }
tickets_per_day = 3

[[outage]]
id = "o"
category = "voice"
between = ["0d 08:00", "0d 20:00"]
count = 2
minutes = [20, 40]
per_min = [0.5, 1.0]

[[outage]]
id = "wide"
category = "mobile_data"
at = "0d 12:00"
minutes = 30
per_min = 2.0
where = "area"
radius = 1

[[decoy]]
id = "rant"
kind = "rant"
at = "0d 09:00"
minutes = 30
posts = 12

[[decoy]]
id = "promo"
kind = "marketing"
at = "0d 10:00"
minutes = 20
per_min = 1.0
"""


def _small(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(text)
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("scenario", ["demo", "small"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, scenario: str) -> None:
    name = str(_small(tmp_path)) if scenario == "small" else scenario
    outs = []
    for folder, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        assert (
            main(["simulate", "--scenario", name, "--seed", seed, "--out", str(tmp_path / folder)])
            == 0
        )
        outs.append(_files(tmp_path / folder))
    assert sorted(outs[0]) == ["posts.jsonl", "regions.geojson", "tickets.jsonl", "truth.jsonl"]
    assert outs[0] == outs[1]
    assert outs[0]["posts.jsonl"] != outs[2]["posts.jsonl"]


def test_files_round_trip_and_posts_are_time_ordered(tmp_path: Path) -> None:
    sc = build_scenario(str(_small(tmp_path)), 3)
    write_scenario(sc, tmp_path / "out")
    posts = [
        Post.from_wire(loads(x))
        for x in (tmp_path / "out/posts.jsonl").read_bytes().split(b"\n")
        if x
    ]
    tickets = [
        Ticket.from_wire(loads(x))
        for x in (tmp_path / "out/tickets.jsonl").read_bytes().split(b"\n")
        if x
    ]
    assert posts == sc.posts and tickets == sc.tickets
    assert [p.created_at_ms for p in posts] == sorted(p.created_at_ms for p in posts)
    assert read_truth(tmp_path / "out/truth.jsonl") == sc.truth


def test_demo_is_unchanged_and_bundled_as_data() -> None:
    sc = build_demo(seed=2)
    assert len(sc.posts) == 2289  # the demo's output is pinned: make demo and tests rely on it
    assert sc.truth.outages[0].region_ids == ("R32",)
    assert build_scenario("demo", 2).posts == sc.posts
    assert {"demo", "country", "towns"} <= set(scenario_names())


@pytest.fixture(scope="module")
def country() -> Any:
    return build_scenario("country", 1)


def test_country_has_3000_regions_several_days_and_sane_size(country: Any) -> None:
    truth = country.truth
    assert truth.region_count == len(country.region_ids) == 3000
    assert (truth.end_ms - truth.start_ms) / DAY_MS == 4
    assert 50_000 < len(country.posts) < 400_000
    pops = sorted(f["properties"]["population"] for f in country.regions["features"])
    assert pops[-1] > 100 * pops[len(pops) // 2]  # heavy-tailed


def test_country_plants_outages_from_tiny_to_nationwide_and_every_decoy(country: Any) -> None:
    outages = {o.id: o for o in country.truth.outages}
    assert len(outages["nationwide"].region_ids) == 3000
    assert len(outages["regional"].region_ids) == 9
    assert outages["tiny-night"].expected_authors < 8 <= outages["small-town"].expected_authors
    assert {d.kind for d in country.truth.decoys} == set(DECOY_KINDS)
    for o in outages.values():
        assert o.start_ms >= country.truth.eval_start_ms
        assert o.first_ticket_ms is None or o.first_ticket_ms > o.start_ms  # tickets lag


def test_country_posts_look_real(country: Any) -> None:
    posts = country.posts
    with_coords = sum(p.lon is not None for p in posts) / len(posts)
    with_place = sum(p.place is not None for p in posts) / len(posts)
    assert 0.25 < with_coords < 0.6 and 0.2 < with_place < 0.6
    assert {p.lang for p in posts} >= {"it", "en", "fr", "es", None}
    per_author = Counter(p.author for p in posts)
    assert max(per_author.values()) >= 5 and len(per_author) > 10_000
    assert len({p.text for p in posts}) > 1000
    reposts = [p for p in posts if p.is_repost]
    assert reposts and len({p.text for p in reposts}) == 1  # the marketing wave


def test_outage_posts_fall_in_their_regions(country: Any) -> None:
    outage = next(o for o in country.truth.outages if o.id == "regional")
    cells = [
        shape(f["geometry"]) for f in country.regions["features"] if f["id"] in outage.region_ids
    ]

    def located_inside(start_ms: int) -> int:
        return sum(
            1
            for p in country.posts
            if start_ms <= p.created_at_ms < start_ms + outage.end_ms - outage.start_ms
            and p.lon is not None
            and p.lat is not None
            and any(c.contains(Point(p.lon, p.lat)) for c in cells)
        )

    before = located_inside(outage.start_ms - DAY_MS)
    assert located_inside(outage.start_ms) > before + 0.2 * outage.planted_authors


def _spec(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("", "colour = 1"), "small.toml.colour=1: unknown key"),
        (("days = 1.0", 'days = "one"'), "small.toml.days='one': must be a number"),
        (("days = 1.0", "days = 90"), "small.toml.days=90: must be between"),
        (("lon0 = 9.0", ""), "small.toml.grid.lon0=None: is required"),
        (("cols = 12", "cols = 0"), "small.toml.grid.cols=0: must be an integer"),
        (('law = "pareto"', 'law = "zipf"'), "must be one of: pareto, lognormal"),
        (('category = "voice"', 'category = "pigeons"'), "outage[0].category='pigeons'"),
        (('at = "0d 12:00"', 'at = "noon"'), "outage[1].at='noon': must look like '2d 14:30'"),
        (('at = "0d 12:00"', 'at = "0d 12:00"\nbetween = ["0d 01:00", "0d 02:00"]'), "exactly one"),
        (('at = "0d 12:00"', 'at = "3d 12:00"'), "after the scenario's end"),
        (('at = "0d 12:00"', 'at = "0d 02:00"'), "starts in the history"),
        (('id = "wide"', 'id = "o"'), "ids must be unique"),
        (("per_min = [0.5, 1.0]", "per_min = [1.0, 0.5]"), "outage[0].per_min=[1.0, 0.5]"),
        (('kind = "rant"', 'kind = "gossip"'), "decoy[0].kind='gossip'"),
        (("radius = 1", "radius = 1\nquantiles = [0.2, 1.5]"), "outage[1].quantiles"),
        (("langs = { it = 0.5, en = 0.5 }", "langs = { xx = 1 }"), "activity.langs='xx'"),
    ],
)
def test_schema_errors_name_the_key_and_value(change: tuple[str, str], message: str) -> None:
    old, new = change
    text = SMALL.replace(old, new, 1) if old else new + "\n" + SMALL
    with pytest.raises(ConfigError) as err:
        parse_spec(_spec(text), "small.toml")
    assert message in str(err.value)


def test_unknown_scenario_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no bundled scenario"):
        load_spec("atlantis")
    with pytest.raises(ConfigError, match="not a readable TOML file"):
        load_spec(str(_small(tmp_path, "name = ")))
    assert main(["simulate", "--scenario", "atlantis", "--out", str(tmp_path / "x")]) == 2


def test_a_band_without_free_regions_is_reported(tmp_path: Path) -> None:
    text = SMALL.replace("count = 2", "count = 2\nquantiles = [1.0, 1.0]")
    with pytest.raises(ConfigError, match="no free region left"):
        build_scenario(str(_small(tmp_path, text)), 1)


def test_bundled_specs_all_load() -> None:
    for name in scenario_names():
        assert load_spec(name).name == name
