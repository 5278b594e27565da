"""Place a post in an operator region: GPS coordinates first, else its place text.

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
from dataclasses import dataclass

from geo.gazetteer import Gazetteer
from geo.regions import RegionSet
from models.errors import ConfigError
from models.records import Post

__all__ = ["METHODS", "NEAREST_CONFIDENCE", "UNLOCATED", "Location", "Locator"]

METHODS = ("coordinates", "nearest", "place", "unlocated")
NEAREST_CONFIDENCE = 0.8
"""Confidence of a point that lies just outside every region (``RegionSet`` tolerance);
for a place match it multiplies the gazetteer confidence."""


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

    Coordinates, when a post has them, decide alone: inside a region (confidence 1.0),
    within the region set's edge tolerance (``"nearest"``, 0.8), or unlocated; a place
    text is not used to overrule them. Without coordinates, ``post.place`` goes through
    the gazetteer and the matched city's point through the regions (``"place"``, the
    gazetteer's confidence, ×0.8 if only near a region); matches below
    ``min_place_confidence`` (by default: a bare US state, very ambiguous names) are
    left unlocated. Results per place text are cached.
    """

    def __init__(
        self,
        regions: RegionSet,
        gazetteer: Gazetteer | None,
        country_bias: str | None = None,
        *,
        min_place_confidence: float = 0.35,
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
        self._place = functools.lru_cache(maxsize=cache_size)(self._locate_place)

    def locate(self, post: Post) -> Location:
        """The region of ``post``; never raises for a valid :class:`Post`."""
        if post.lon is not None and post.lat is not None:
            return self.locate_point(post.lon, post.lat)
        if post.place and self.gazetteer is not None:
            return self._place(post.place)
        return UNLOCATED

    def locate_point(self, lon: float, lat: float) -> Location:
        hit = self.regions.locate_point(lon, lat)
        if hit is None:
            return UNLOCATED
        region_id, method = hit
        return Location(region_id, method, 1.0 if method == "coordinates" else NEAREST_CONFIDENCE)

    def _locate_place(self, place: str) -> Location:
        if self.gazetteer is None:
            return UNLOCATED
        match = self.gazetteer.lookup(place, self.country_bias)
        if match is None or match.confidence < self.min_place_confidence:
            return UNLOCATED
        hit = self.regions.locate_point(match.lon, match.lat)
        if hit is None:
            return UNLOCATED
        region_id, method = hit
        confidence = match.confidence * (1.0 if method == "coordinates" else NEAREST_CONFIDENCE)
        return Location(region_id, "place", round(confidence, 4))
