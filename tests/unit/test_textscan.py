"""TextScanner: only distinctive city names, written as names, are taken from text."""

from __future__ import annotations

import functools

import pytest
from gazetteer_data import city
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.gazetteer import Gazetteer
from geo.textscan import TEXT_CONFIDENCE, TextScanner, default_exclusions


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return Gazetteer.from_records(
        [
            city("Milan", 9.19, 45.46, "IT", "09", 1_371_498, "Milano", "Mailand", "Que Que"),
            city("Turin", 7.68, 45.07, "IT", "12", 870_000, "Torino"),
            city("Nice", 7.27, 43.70, "FR", "93", 342_669),
            city("York", -1.08, 53.96, "GB", "ENG", 150_000),
            city("New York City", -74.0, 40.7, "US", "NY", 8_000_000),
            city("Springfield", -89.6, 39.8, "US", "IL", 114_000),
            city("Springfield", -72.6, 42.1, "US", "MA", 155_000),
            city("Smallville", 1.0, 1.0, "US", "KS", 20_000),
            city("Bergamo", 9.67, 45.69, "IT", "09", 120_000),
            city("Paris", 2.35, 48.85, "FR", "11", 2_138_551),
            city("Paris", -95.56, 33.66, "US", "TX", 24_782),
            city("Saint-Étienne", 4.39, 45.43, "FR", "84", 172_000),
        ],
        us_states={"NY": "New York"},
        countries={"IT": "Italy", "FR": "France"},
    )


def names(scanner: TextScanner, text: str) -> list[str]:
    return [m.name for m in scanner.scan(text)]


def test_names_inside_sentences(gz: Gazetteer) -> None:
    scan = TextScanner(gz, country_bias="IT", exclude=[])
    assert names(scan, "no signal in Bergamo since noon") == ["Bergamo"]
    assert names(scan, "rete giù a Milano e a Torino") == ["Milan", "Turin"]
    assert names(scan, "down in Paris again") == ["Paris"]  # Paris, Texas is far smaller
    assert names(scan, "outage near Saint-Étienne today") == ["Saint-Étienne"]
    match = scan.scan("down in Bergamo")[0]
    assert match.confidence == TEXT_CONFIDENCE and match.city >= 0


def test_capital_initial_and_whole_words(gz: Gazetteer) -> None:
    scan = TextScanner(gz, country_bias="IT", exclude=[])
    assert names(scan, "down in bergamo") == []  # lower case: could be anything
    assert names(scan, "down in Bergamonte") == []
    assert names(scan, "down in XBergamo") == []
    assert names(scan, "see @Bergamo and T-Bergamo or bergamo.it and Bergamo.it") == []
    assert names(scan, "reported on /Bergamo_net") == []
    assert names(scan, "is Bergamo's network down?") == ["Bergamo"]


def test_sentence_openers(gz: Gazetteer) -> None:
    scan = TextScanner(gz, country_bias="IT", exclude=[])
    assert names(scan, "Bergamo is down") == []  # a capital is expected there anyway
    assert names(scan, "ok. Bergamo is down") == []
    assert names(scan, "Bergamo: no signal") == ["Bergamo"]
    assert names(scan, "Bergamo, rete assente") == ["Bergamo"]
    assert names(scan, "#Bergamo rete assente") == ["Bergamo"]
    assert names(scan, "rete assente\n#Bergamo") == ["Bergamo"]


def test_ambiguous_common_and_alternate_names(gz: Gazetteer) -> None:
    biased = TextScanner(gz, country_bias="IT", exclude=[])
    assert names(biased, "trouble in Springfield today") == []  # two of similar size
    assert names(biased, "trouble in Mailand today") == ["Milan"]  # alternate, same initial
    assert names(biased, "trouble in Que Que today") == []  # alternate, other initial
    assert names(biased, "trouble in Smallville today") == []  # too small
    assert names(biased, "trouble in New York today") == []  # also a state's name
    unbiased = TextScanner(gz, exclude=[])
    assert names(unbiased, "trouble in Milano today") == []  # alternates only for the bias
    assert names(unbiased, "trouble in Milan today") == ["Milan"]
    assert names(unbiased, "the New York City outage") == ["New York City"]  # not "York"
    excluded = TextScanner(gz, exclude=["NICE", "bergamo"])
    assert names(excluded, "a Nice day in Bergamo") == []


def test_default_exclusions_are_loaded(gz: Gazetteer) -> None:
    words = default_exclusions()
    assert {"nice", "reading", "mobile", "orange"} <= set(words)
    assert names(TextScanner(gz), "a day in Nice") == []
    assert names(TextScanner(gz, exclude=[]), "a day in Nice") == ["Nice"]


@pytest.fixture(scope="module")
def nested() -> Gazetteer:
    """Names inside longer names, taken or not."""
    return Gazetteer.from_records(
        [
            city("Rock", 1.0, 1.0, "US", "AR", 150_000),
            city("Little Rock", 2.0, 2.0, "US", "AR", 200_000),
            city("Rock Hill", 3.0, 3.0, "US", "SC", 70_000),  # too small: hides Rock only
            city("Big Rock Hill Park", 3.5, 3.5, "US", "SC", 500),
            city("York", 4.0, 4.0, "GB", "ENG", 150_000),
            city("Old Town", 5.0, 5.0, "GB", "ENG", 20_000),  # hides no taken name
            city("Town", 6.0, 6.0, "GB", "ENG", 10_000),
        ],
        us_states={"NY": "New York"},
    )


def test_only_names_holding_a_taken_name_are_looked_for(nested: Gazetteer) -> None:
    scan = TextScanner(nested, exclude=[])
    assert names(scan, "down in Rock Hill, in Little Rock and in Rock") == ["Little Rock", "Rock"]
    assert names(scan, "no signal in New York or York") == ["York"]
    assert names(scan, "down at Big Rock Hill Park today") == []
    # taken: Rock, Little Rock, York; hiding: Rock Hill, Big Rock Hill Park, New York
    assert (scan.size, len(scan._automaton)) == (3, 6)


WORDS = ["Rock", "Little", "Hill", "Big", "Park", "York", "New", "Old", "Town", "in", ","]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_property_same_hits_as_with_every_longer_name(nested: Gazetteer, words: list[str]) -> None:
    """Looking only for the longer names that hold a taken name finds what looking for
    every longer name would."""
    text = "down in " + " ".join(words)
    every = TextScanner(nested, exclude=[])
    for key in (*nested.qualifier_names(), *nested.names()):
        if " " in key and key not in every._automaton:
            every._automaton.add_word(key, (len(key), -1, 0.0))
    every._automaton.make_automaton()
    assert TextScanner(nested, exclude=[]).scan(text) == every.scan(text)


@functools.cache
def italian_scanner() -> TextScanner:
    return TextScanner(Gazetteer.default(), country_bias="IT")


def test_real_gazetteer() -> None:
    scan = italian_scanner()
    assert names(scan, "Niente rete a Milano da stamattina") == ["Milan"]
    assert names(scan, "Vodafone giù a #Napoli") == ["Naples"]
    assert names(scan, "T-Mobile is down in Chicago") == ["Chicago"]
    assert names(scan, "I'm Reading the news, Orange is down, Nice") == []
    assert scan.size > 1000


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_scan_never_raises(text: str) -> None:
    for match in italian_scanner().scan(text):
        assert 0 < match.confidence <= TEXT_CONFIDENCE and match.city >= 0
