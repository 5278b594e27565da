"""Region weights: how much of the traffic a region is expected to carry.

The default is the population the gazetteer knows inside the region (every city, and in
the detail countries every town, counted where its point falls, with the region set's
edge tolerance), floored at :data:`MIN_WEIGHT` so that empty regions still count a little.

>>> from shapely.geometry import box
>>> from geo.gazetteer import Gazetteer
>>> from geo.regions import Region, RegionSet
>>> gz = Gazetteer.from_records([{"name": "Alpha", "longitude": 0.5, "latitude": 0.5,
...     "countrycode": "IT", "admin1code": "01", "population": 5000}])
>>> rs = RegionSet.from_regions([Region("a", "A", box(0, 0, 1, 1)),
...                              Region("b", "B", box(1, 0, 2, 1))])
>>> population_weights(rs, gz)
[5000.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from geo.gazetteer import Gazetteer
from geo.regions import RegionSet

__all__ = ["MIN_WEIGHT", "population_weights"]

MIN_WEIGHT = 1.0


def population_weights(regions: RegionSet, gazetteer: Gazetteer) -> list[float]:
    """Gazetteer population inside each region (file order), at least :data:`MIN_WEIGHT`."""
    lons, lats, pops = gazetteer.places()
    totals = np.zeros(len(regions))
    index = {rid: i for i, rid in enumerate(regions.ids)}
    for hit, pop in zip(regions.locate_points(lons, lats), pops.tolist(), strict=True):
        if hit is not None:
            totals[index[hit[0]]] += pop
    return np.maximum(totals, MIN_WEIGHT).tolist()
