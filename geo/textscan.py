"""Find the place a post's text names, when it names exactly one and unmistakably.

Precision comes first: most words that are also town names ("Nice", "Reading", "Bar")
are ordinary words, so a name is taken from the text only when

1. it is the name of a city of at least ``min_population`` people that no other place
   of that name rivals (:meth:`Gazetteer.distinctive_names`), is at least four
   characters long and is not in the exclusion list (``geo/data/text_scan.toml``);
2. it is written as a whole word with a capital initial, not glued to ``-``, ``@``,
   ``/``, ``_`` or a ``.`` that continues a word (brands, handles, web addresses);
3. it does not open a sentence, unless it is a hashtag or a comma or colon follows it
   ("Milano: no signal"), since a capital is expected there anyway.

Text is matched with one Aho-Corasick pass over a lower-cased, accent-free copy that
keeps every character's position, so the checks above read the original characters.

>>> from geo.gazetteer import Gazetteer
>>> gz = Gazetteer.from_records([
...     {"name": "Milan", "longitude": 9.19, "latitude": 45.46, "countrycode": "IT",
...      "population": 1371498, "alternatenames": ["Milano"]},
...     {"name": "Nice", "longitude": 7.27, "latitude": 43.70, "countrycode": "FR",
...      "population": 342669}])
>>> scan = TextScanner(gz, country_bias="IT", exclude=["nice"])
>>> [m.name for m in scan.scan("Rete down a Milano da stamattina")]
['Milan']
>>> scan.scan("Nice weather, no signal in Nice"), scan.scan("milano")
([], [])
"""

from __future__ import annotations

import itertools
import tomllib
import unicodedata
from collections.abc import Iterable
from importlib import resources

import ahocorasick

from geo.gazetteer import Gazetteer, PlaceMatch, normalize_place

__all__ = ["DEFAULT_MIN_POPULATION", "TEXT_CONFIDENCE", "TextScanner", "default_exclusions"]

DEFAULT_MIN_POPULATION = 100_000
TEXT_CONFIDENCE = 0.6
"""Confidence of a name found in the text, times its share among places of that name."""

MIN_SHARE = 0.9
MIN_CHARS = 4
_SENTENCE_END = frozenset(".!?¡¿…\n\r")
_GLUE_BEFORE = frozenset("-@/._\\")
_GLUE_AFTER = frozenset("-@/_\\")
_OPENING_OK = frozenset(",:;")
_ASCII = "".join(chr(c) for c in range(128))


def _fold_char(c: str) -> str:
    """One character for one: lower case, accent-free, non-alphanumerics a space."""
    low = c.lower()
    if len(low) != 1:
        low = c
    if low.isascii():
        return low if low.isalnum() else " "
    base = "".join(x for x in unicodedata.normalize("NFKD", low) if not unicodedata.combining(x))
    if len(base) == 1 and base.isalnum():
        return base.lower() if base.isascii() else base
    return low if low.isalnum() else " "


class _FoldTable(dict[int, str]):
    """``str.translate`` table built as characters are met."""

    def __missing__(self, code: int) -> str:
        value = self[code] = _fold_char(chr(code))
        return value


_TABLE = _FoldTable({ord(c): _fold_char(c) for c in _ASCII})


def default_exclusions() -> list[str]:
    """The exclusion list shipped in ``geo/data/text_scan.toml``."""
    data = resources.files("geo").joinpath("data/text_scan.toml").read_bytes()
    words = tomllib.loads(data.decode("utf-8"))["exclude"]
    return [str(w) for w in words]


class TextScanner:
    """Names of distinctive cities in post text (see the module docstring).

    ``exclude`` defaults to :func:`default_exclusions`; ``country_bias`` makes that
    country's cities win shared names and lets their alternate names count.
    """

    def __init__(
        self,
        gazetteer: Gazetteer,
        *,
        country_bias: str | None = None,
        min_population: int = DEFAULT_MIN_POPULATION,
        exclude: Iterable[str] | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        banned = {
            normalize_place(w) for w in (default_exclusions() if exclude is None else exclude)
        }
        self._automaton = ahocorasick.Automaton()
        names = gazetteer.distinctive_names(min_population, MIN_SHARE, country_bias)
        taken: set[str] = set()
        for key, (city, share) in names.items():
            if len(key) >= MIN_CHARS and key not in banned and any(c.isalpha() for c in key):
                self._automaton.add_word(key, (len(key), city, share))
                taken.add(key)
        self.size = len(taken)
        """Number of names the scan looks for."""
        # longer names that are not taken still hide the names inside them: "New York"
        # (a state) is not York, "Little Rock" is not Rock; only those that hold a taken
        # name can hide one, so only those are looked for
        for key in itertools.chain(gazetteer.qualifier_names(), gazetteer.names()):
            if key not in taken and _holds_any(key, taken):
                self._automaton.add_word(key, (len(key), -1, 0.0))
        if len(self._automaton):
            self._automaton.make_automaton()

    def scan(self, text: str) -> list[PlaceMatch]:
        """The distinct cities named in ``text`` (first mention order), with confidence
        :data:`TEXT_CONFIDENCE` times the name's share."""
        if not self.size or not isinstance(text, str):
            return []
        folded = text.translate(_TABLE)
        n = len(folded)
        spans: list[tuple[int, int, int, float]] = []
        for end, (length, city, share) in self._automaton.iter(folded):
            start = end - length + 1
            if (start == 0 or folded[start - 1] == " ") and (
                end + 1 == n or folded[end + 1] == " "
            ):
                spans.append((start, end + 1, city, share))
        if not spans:
            return []
        spans.sort(key=lambda s: (s[0], -s[1]))
        found: dict[int, PlaceMatch] = {}
        reach = -1
        for start, stop, city, share in spans:
            if stop <= reach:
                continue  # inside a longer name ("York" in "New York City")
            reach = stop
            if city >= 0 and city not in found and _written_as_name(text, start, stop):
                found[city] = self.gazetteer.city(city, round(TEXT_CONFIDENCE * share, 4))
        return list(found.values())


def _holds_any(key: str, names: set[str]) -> bool:
    """``key`` has one of ``names`` inside it as whole words (and is longer).

    >>> _holds_any("new york city", {"york"}), _holds_any("yorkshire", {"york"})
    (True, False)
    """
    words = key.split(" ")
    n = len(words)
    return any(
        " ".join(words[i:j]) in names for i in range(n) for j in range(i + 1, n + 1) if j - i < n
    )


def _written_as_name(text: str, start: int, stop: int) -> bool:
    """Capital initial, not glued to a handle/brand/address, not a plain sentence opener."""
    if text[start].islower():
        return False
    before = text[start - 1] if start else ""
    after = text[stop] if stop < len(text) else ""
    if before in _GLUE_BEFORE or after in _GLUE_AFTER:
        return False
    if after == "." and stop + 1 < len(text) and text[stop + 1].isalnum():
        return False
    if before == "#":
        return True
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘«(":
        i -= 1
    if i >= 0 and text[i] not in _SENTENCE_END:
        return True
    j = stop
    while j < len(text) and text[j] in " \t":
        j += 1
    return j < len(text) and text[j] in _OPENING_OK
