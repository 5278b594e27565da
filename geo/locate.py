"""Place a post in an operator region: GPS coordinates first, else its place text, else a
place its text names.

>>> from shapely.geometry import box
>>> from geo.regions import Region, RegionSet
>>> from models.records import Post
>>> loc = Locator(RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1))]), None)
>>> loc.locate(Post(id="1", text="no signal", created_at_ms=0, lon=0.5, lat=0.5))
Location(region_id='a', method='coordinates', confidence=1.0)
>>> loc.locate(Post(id="2", text="no signal", created_at_ms=0, place="Milano"))
Location(region_id=None, method='unlocated', confidence=0.0)
"""

from __future__ import annotations

import functools
import types
import weakref
from collections import defaultdict
from dataclasses import dataclass

from geo.gazetteer import MAX_PLACE_CHARS, Gazetteer, PlaceMatch
from geo.regions import RegionSet
from geo.textscan import TextScanner
from models.errors import ConfigError
from models.records import Post

__all__ = [
    "ADMIN_AREA_CONFIDENCE",
    "METHODS",
    "NEAREST_CONFIDENCE",
    "UNLOCATED",
    "Location",
    "Locator",
]

METHODS = ("coordinates", "nearest", "place", "text", "unlocated")
NEAREST_CONFIDENCE = 0.8
"""Confidence of a point that lies just outside every region (``RegionSet`` tolerance);
for a place match it multiplies the gazetteer confidence."""
ADMIN_AREA_CONFIDENCE = 0.9
"""Confidence of a place known only as a state ("Smallville, KS", "Texas"), times the
share of the state's population that lives in the region it is given to."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a post was placed: ``method`` is one of :data:`METHODS`; ``region_id`` is None
    exactly when it is ``"unlocated"`` (confidence 0)."""

    region_id: str | None
    method: str
    confidence: float


UNLOCATED = Location(None, "unlocated", 0.0)


class Locator:
    """Locate posts in ``regions``.

    1. Coordinates, when a post has them, decide alone: inside a region (confidence 1.0),
       within the region set's edge tolerance (``"nearest"``, 0.8), or unlocated; no
       text overrules them.
    2. Else ``post.place`` goes through the gazetteer and the matched city's point
       through the regions (``"place"``, the gazetteer's confidence, ×0.8 if only near a
       region). A place known only as a US state goes to the region holding most of the
       state's population (confidence 0.9 × that share), so it counts for state-sized
       regions and not for counties. A place that resolves outside every region leaves
       the post unlocated.
    3. Else, when the place text is missing or unknown, a city the post's text names
       (``"text"``, see :class:`~geo.textscan.TextScanner`), if every city it names lies
       in one region.

    Matches below ``min_place_confidence`` are left unlocated. Results per place text
    are cached; ``text_scan=False`` skips step 3.
    """

    def __init__(
        self,
        regions: RegionSet,
        gazetteer: Gazetteer | None,
        country_bias: str | None = None,
        *,
        min_place_confidence: float = 0.35,
        text_scan: bool = True,
        cache_size: int = 100_000,
    ) -> None:
        if not (0.0 <= min_place_confidence <= 1.0):
            raise ConfigError(
                "min_place_confidence", min_place_confidence, "must be between 0 and 1"
            )
        if country_bias is not None and not (
            len(country_bias) == 2 and country_bias.isascii() and country_bias.isalpha()
        ):
            raise ConfigError("country_bias", country_bias, "must be a 2-letter ISO code")
        self.regions = regions
        self.gazetteer = gazetteer
        self.country_bias = country_bias.upper() if country_bias else None
        self.min_place_confidence = min_place_confidence
        self.scanner = (
            _scanner(gazetteer, self.country_bias) if gazetteer is not None and text_scan else None
        )
        # the cache calls back through a weak proxy: a Locator and its cache form no
        # reference cycle, so a dropped Locator frees its cache at once, not at the next
        # full garbage collection
        self._place = functools.lru_cache(maxsize=cache_size)(
            types.MethodType(Locator._locate_place, weakref.proxy(self))
        )
        self._admin_areas: dict[tuple[str, str], tuple[str, float] | None] = {}
        self._city_regions = [] if gazetteer is None else _city_regions(regions, gazetteer)

    def locate(self, post: Post) -> Location:
        """The region of ``post``; never raises for a valid :class:`Post`."""
        if post.lon is not None and post.lat is not None:
            return self.locate_point(post.lon, post.lat)
        if post.place and self.gazetteer is not None:
            found = self._place(post.place[:MAX_PLACE_CHARS])  # all the gazetteer reads
            if found is not None:
                return found
        if self.scanner is not None and post.text:
            return self.locate_text(post.text)
        return UNLOCATED

    def locate_point(self, lon: float, lat: float) -> Location:
        hit = self.regions.locate_point(lon, lat)
        if hit is None:
            return UNLOCATED
        return Location(hit[0], hit[1], 1.0 if hit[1] == "coordinates" else NEAREST_CONFIDENCE)

    def locate_place(self, place: str) -> Location:
        """Step 2 alone: the region of a free-text place (cached)."""
        return self._place(place[:MAX_PLACE_CHARS]) or UNLOCATED

    def locate_text(self, text: str) -> Location:
        """Step 3 alone: the region of the one city (or cities in one region) the text
        names."""
        if self.scanner is None:
            return UNLOCATED
        region_id: str | None = None
        confidence = 1.0
        for match in self.scanner.scan(text):
            hit = self._match_region(match)
            if hit is None or (region_id is not None and hit[0] != region_id):
                return UNLOCATED
            region_id = hit[0]
            confidence = min(confidence, hit[1])
        if region_id is None or confidence < self.min_place_confidence:
            return UNLOCATED
        return Location(region_id, "text", round(confidence, 4))

    def _locate_place(self, place: str) -> Location | None:
        """The place's region; ``UNLOCATED`` for a known place outside the regions or
        too uncertain; ``None`` when the text names no known place."""
        if self.gazetteer is None:
            return None
        hit = self.gazetteer.lookup_hit(place, self.country_bias)
        if hit is None:
            return None
        city, confidence, state_only = hit
        if state_only:
            placed = self._state_region(*self.gazetteer.where(city))
        else:
            placed = self._city_region(city, confidence)
        if placed is None or placed[1] < self.min_place_confidence:
            return UNLOCATED
        return Location(placed[0], "place", round(placed[1], 4))

    def _city_region(self, city: int, confidence: float) -> tuple[str, float] | None:
        placed = self._city_regions[city]
        return None if placed is None else (placed[0], confidence * placed[1])

    def _state_region(self, country: str, admin1: str) -> tuple[str, float] | None:
        area = self._admin_area(country, admin1)
        return None if area is None else (area[0], ADMIN_AREA_CONFIDENCE * area[1])

    def _match_region(self, match: PlaceMatch) -> tuple[str, float] | None:
        if match.level == "admin1":
            return self._state_region(match.country, match.admin1)
        if 0 <= match.city < len(self._city_regions):
            return self._city_region(match.city, match.confidence)
        placed = _placed(self.regions.locate_point(match.lon, match.lat))
        return None if placed is None else (placed[0], match.confidence * placed[1])

    def _admin_area(self, country: str, admin1: str) -> tuple[str, float] | None:
        """The region holding most of the area's gazetteer population, and that share."""
        key = (country, admin1)
        if key not in self._admin_areas:
            assert self.gazetteer is not None
            people: defaultdict[str, int] = defaultdict(int)
            total = 0
            for city in self.gazetteer.cities_in(country, admin1):
                weight = max(self.gazetteer.population(city), 1)
                total += weight
                placed = self._city_regions[city]
                if placed is not None:
                    people[placed[0]] += weight
            best = max(people, key=lambda r: (people[r], -self.regions.index(r)), default=None)
            self._admin_areas[key] = None if best is None else (best, people[best] / total)
        return self._admin_areas[key]


# Built once per process and shared by every Locator over the same objects (a new
# Locator, say for a fresh place cache, is then cheap).
_SCANNERS: weakref.WeakKeyDictionary[Gazetteer, dict[str | None, TextScanner]] = (
    weakref.WeakKeyDictionary()
)
_PLACED: weakref.WeakKeyDictionary[
    RegionSet, weakref.WeakKeyDictionary[Gazetteer, list[tuple[str, float] | None]]
] = weakref.WeakKeyDictionary()


def _scanner(gazetteer: Gazetteer, country_bias: str | None) -> TextScanner:
    by_bias = _SCANNERS.setdefault(gazetteer, {})
    if country_bias not in by_bias:
        by_bias[country_bias] = TextScanner(gazetteer, country_bias=country_bias)
    return by_bias[country_bias]


def _city_regions(regions: RegionSet, gazetteer: Gazetteer) -> list[tuple[str, float] | None]:
    """Every gazetteer city placed once, so a place lookup needs no geometry."""
    by_gazetteer = _PLACED.setdefault(regions, weakref.WeakKeyDictionary())
    if gazetteer not in by_gazetteer:
        lons, lats, _ = gazetteer.places()
        by_gazetteer[gazetteer] = [_placed(hit) for hit in regions.locate_points(lons, lats)]
    return by_gazetteer[gazetteer]


def _placed(hit: tuple[str, str] | None) -> tuple[str, float] | None:
    """A point lookup as ``(region, confidence factor)``."""
    if hit is None:
        return None
    return hit[0], 1.0 if hit[1] == "coordinates" else NEAREST_CONFIDENCE
