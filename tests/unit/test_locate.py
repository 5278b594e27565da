"""Locator: coordinates first, then the place text through the gazetteer."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from gazetteer_data import city
from shapely.geometry import box

from geo.gazetteer import MAX_PLACE_CHARS, Gazetteer
from geo.locate import UNLOCATED, Location, Locator
from geo.regions import Region, RegionSet
from models.errors import ConfigError
from models.records import Post

GEO_DATA = Path("/work/shared/data/geo")


def grid() -> RegionSet:
    """4 x 3 one-degree squares, ids ``r{row}{col}``."""
    return RegionSet.from_regions(
        [
            Region(f"r{y}{x}", f"Cell {y}{x}", box(x, y, x + 1, y + 1))
            for y in range(3)
            for x in range(4)
        ]
    )


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_records(
        [
            city("Alpha", 0.5, 0.5, "IT", "01", 500_000),
            city("Beta", 2.5, 1.5, "IT", "02", 90_000),
            city("Edge", 4.02, 2.5, "IT", "03", 50_000),  # just outside the grid
            city("Far", 20.0, 20.0, "IT", "04", 80_000),
            city("Twin", 3.5, 0.5, "IT", "01", 50_000),
            city("Twin", 50.0, 50.0, "FR", "11", 60_000),
            city("Springfield", 1.5, 2.5, "US", "IL", 100_000),
        ],
        us_states={"IL": "Illinois"},
        countries={"IT": "Italy", "FR": "France", "US": "United States"},
    )


def post(**kwargs: Any) -> Post:
    kwargs.setdefault("text", "no signal since noon")
    return Post(id="p1", created_at_ms=1_708_594_200_000, **kwargs)


def test_coordinates_inside_a_region(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    assert loc.locate(post(lon=1.5, lat=2.5)) == Location("r21", "coordinates", 1.0)


def test_coordinates_just_outside_are_nearest(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    assert loc.locate(post(lon=4.03, lat=0.5)) == Location("r03", "nearest", 0.8)


def test_coordinates_win_over_the_place_text(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    assert loc.locate(post(lon=0.5, lat=0.5, place="Beta")).region_id == "r00"
    # coordinates far outside every region: unlocated, the place is not used
    assert loc.locate(post(lon=-40.0, lat=10.0, place="Beta")) == UNLOCATED


def test_place_through_the_gazetteer(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    found = loc.locate(post(place="Beta, Italy"))
    assert found == Location("r12", "place", 0.95)
    alpha = loc.locate(post(place="ALPHA 🇮🇹"))
    assert alpha.region_id == "r00" and alpha.method == "place"
    edge = loc.locate(post(place="Edge"))  # city just outside the grid
    assert edge.region_id == "r23" and edge.method == "place"
    assert edge.confidence == pytest.approx(0.9 * 0.8)


def test_place_outside_the_regions_or_unknown_is_unlocated(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    assert loc.locate(post(place="Far")) == UNLOCATED
    assert loc.locate(post(place="Nowhere Special")) == UNLOCATED
    assert loc.locate(post(place="")) == UNLOCATED
    assert loc.locate(post()) == UNLOCATED


def test_country_bias_and_low_confidence(gazetteer: Gazetteer) -> None:
    # "Twin" is ambiguous (IT 50k vs FR 60k): below min_place_confidence without a bias
    assert Locator(grid(), gazetteer).locate(post(place="Twin")) == UNLOCATED
    biased = Locator(grid(), gazetteer, country_bias="it").locate(post(place="Twin"))
    assert biased.region_id == "r03" and biased.confidence > 0.8
    lenient = Locator(grid(), gazetteer, min_place_confidence=0.0)
    assert lenient.locate(post(place="Twin")) == UNLOCATED  # FR Twin is off the grid
    # a bare state goes where its people are: here all of Illinois is Springfield, in r21
    assert Locator(grid(), gazetteer).locate(post(place="Illinois")) == Location(
        "r21", "place", 0.9
    )


def test_without_a_gazetteer_only_coordinates_count() -> None:
    loc = Locator(grid(), None)
    assert loc.locate(post(place="Alpha")) == UNLOCATED
    assert loc.locate(post(lon=0.5, lat=0.5)).method == "coordinates"


def test_locate_place_alone(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    assert loc.locate_place("Beta, Italy") == Location("r12", "place", 0.95)
    assert loc.locate_place("Atlantis") == UNLOCATED
    assert Locator(grid(), None).locate_text("in Beta") == UNLOCATED


def test_place_results_are_cached(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    first = loc.locate(post(place="Beta"))
    assert loc.locate(post(place="Beta")) is first


def test_a_dropped_locator_frees_its_cache_at_once(gazetteer: Gazetteer) -> None:
    loc = Locator(grid(), gazetteer)
    assert loc.locate(post(place="Beta")).region_id == "r12"
    gone = weakref.ref(loc)
    gc.disable()
    try:
        del loc
        assert gone() is None  # no reference cycle waits for the garbage collector
    finally:
        gc.enable()


def test_place_cache_keys_are_what_the_gazetteer_reads(gazetteer: Gazetteer) -> None:
    # the gazetteer reads MAX_PLACE_CHARS of a place: longer texts that differ only past
    # them share one cache entry, so the cache cannot grow by a kilobyte a post
    loc = Locator(grid(), gazetteer)
    head = "Beta, Italy " + "x" * MAX_PLACE_CHARS
    assert {loc.locate(post(place=head + tail)) for tail in "abc"} == {loc.locate_place(head + "d")}
    assert loc._place.cache_info().currsize == 1


def test_bad_settings_are_config_errors(gazetteer: Gazetteer) -> None:
    with pytest.raises(ConfigError) as err:
        Locator(grid(), gazetteer, country_bias="Italy")
    assert err.value.setting == "country_bias"
    with pytest.raises(ConfigError) as err:
        Locator(grid(), gazetteer, min_place_confidence=1.5)
    assert err.value.setting == "min_place_confidence"


def test_unlocated_has_no_region_and_zero_confidence() -> None:
    assert Location(None, "unlocated", 0.0) == UNLOCATED


def test_real_italy_regions_with_the_default_gazetteer() -> None:
    path = GEO_DATA / "italy" / "limits_IT_regions.geojson"
    if not path.exists():
        pytest.skip("real boundary data not available")
    regions = RegionSet.from_geojson(path)
    loc = Locator(regions, Gazetteer.default(), country_bias="IT")

    def region_name(**kwargs: Any) -> str | None:
        where = loc.locate(post(**kwargs))
        return None if where.region_id is None else regions.name(where.region_id)

    assert region_name(lon=9.18951, lat=45.46427) == "Lombardia"
    assert region_name(place="Milano 🇮🇹") == "Lombardia"
    assert region_name(place="Napoli") == "Campania"
    assert region_name(place="Firenze, Toscana") == "Toscana"
    assert region_name(place="Florence") == "Toscana"
    assert region_name(place="Paris, France") is None
    assert region_name(lon=12.33, lat=45.44) == "Veneto"  # Venezia, in the lagoon


def test_a_state_counts_only_for_regions_that_hold_most_of_it() -> None:
    gz = Gazetteer.from_records(
        [
            city("Big", 0.5, 0.5, "US", "TX", 300_000),
            city("Mid", 1.5, 0.5, "US", "TX", 350_000),
            city("Small", 2.5, 0.5, "US", "TX", 350_000),
        ],
        us_states={"TX": "Texas"},
    )
    # the cells split Texas 30/35/35: the best cell holds too little of it (0.9 x 35 %)
    assert Locator(grid(), gz).locate(post(place="Texas")) == UNLOCATED
    halves = RegionSet.from_regions(
        [Region("west", "W", box(0, 0, 2, 1)), Region("east", "E", box(2, 0, 4, 1))]
    )
    assert Locator(halves, gz).locate(post(place="Texas")) == Location("west", "place", 0.585)
    whole = RegionSet.from_regions([Region("tx", "Texas", box(0, 0, 4, 1))])
    assert Locator(whole, gz).locate(post(place="Smallville, TX")) == Location("tx", "place", 0.9)


def test_text_names_a_city_when_nothing_else_does() -> None:
    gz = Gazetteer.from_records(
        [
            city("Alphaville", 0.5, 0.5, "IT", "01", 500_000),
            city("Betaburg", 2.5, 1.5, "IT", "02", 400_000),
            city("Gammatown", 0.6, 0.6, "IT", "01", 300_000),
        ],
        countries={"IT": "Italy"},
    )
    loc = Locator(grid(), gz)
    assert loc.locate(post(text="no signal in Alphaville")) == Location("r00", "text", 0.6)
    both = post(text="no signal in Alphaville and Gammatown")  # two cities, one region
    assert loc.locate(both) == Location("r00", "text", 0.6)
    apart = post(text="no signal in Alphaville and Betaburg")  # two regions: ambiguous
    assert loc.locate(apart) == UNLOCATED
    # a place that resolves wins; an unknown place falls through to the text
    assert loc.locate(post(text="down in Alphaville", place="Betaburg")).region_id == "r12"
    assert loc.locate(post(text="down in Alphaville", place="Narnia")).method == "text"
    # a known place outside the regions does not fall through
    far = Gazetteer.from_records([*gz_records(), city("Far", 40, 40, "IT", "09", 90_000)])
    assert Locator(grid(), far).locate(post(text="down in Alphaville", place="Far")) == UNLOCATED
    assert Locator(grid(), gz, text_scan=False).locate(post(text="in Alphaville")) == UNLOCATED


def gz_records() -> list[Any]:
    return [city("Alphaville", 0.5, 0.5, "IT", "01", 500_000)]


def test_places_are_placed_once_and_agree_with_point_lookups(gazetteer: Gazetteer) -> None:
    regions = grid()
    loc = Locator(regions, gazetteer)
    lons, lats, _ = gazetteer.places()
    for i, (lon, lat) in enumerate(zip(lons.tolist(), lats.tolist(), strict=True)):
        match = gazetteer.city(i, 1.0)
        expected = loc.locate_point(lon, lat)
        found = loc._match_region(match)
        if expected.region_id is None:
            assert found is None
        else:
            assert found == (expected.region_id, expected.confidence)
