"""Versioned wire records: JSON objects on Kafka topics and in files.

Inside the pipeline every record is a frozen dataclass; ``to_wire()`` gives the JSON-ready
dict (times as ISO 8601 UTC text) and ``from_wire()`` validates a decoded dict, raising
:class:`~models.errors.InvalidRecord` with a short reason.

>>> p = Post(id="1", text="no signal", created_at_ms=1708594200000)
>>> Post.from_wire(p.to_wire()) == p
True
>>> p.to_wire()["created_at"]
'2024-02-22T09:30:00.000Z'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from models.errors import InvalidRecord, describe
from models.timeutil import MAX_EVENT_MS, MIN_EVENT_MS, iso_from_ms, ms_from_iso

SCHEMA_VERSION = 1
MAX_TEXT_CHARS = 10_000
MAX_FIELD_CHARS = 1_000  # any other text field: ids, place, author, language...
ALERT_STATUSES = ("opened", "updated", "resolved")
SEVERITIES = ("minor", "major", "critical")


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes with sorted keys, so equal records give equal bytes."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def loads(data: bytes | str) -> Any:
    """Parse JSON; invalid JSON or UTF-8 raises ``InvalidRecord('invalid json')``."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord("invalid json", str(exc)) from None


# --- field validation -------------------------------------------------------------------
# NUL characters are removed from text fields before they are judged: no NUL reaches a
# topic, a key or a file name (JSON can carry them only as the escape \u0000).


def _no_nul(value: str) -> str:
    return value.replace("\x00", "") if "\x00" in value else value


def _req_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if isinstance(value, str):
        value = _no_nul(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(f"missing {key}", f"{key}={describe(value)}")
    return _short(value, key)


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is str and len(value) <= MAX_FIELD_CHARS and "\x00" not in value:
        return value or None  # the common case, first
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidRecord(f"invalid {key}", f"{key}={describe(value)}")
    return _short(_no_nul(value), key) or None


def _short(value: str, key: str) -> str:
    """``value`` unless longer than :data:`MAX_FIELD_CHARS` (a hostile id or place would
    be carried to every topic, key and cache)."""
    if len(value) > MAX_FIELD_CHARS:
        raise InvalidRecord(f"{key} too long", f"{len(value)} characters")
    return value


def _opt_float(obj: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"invalid {key}", f"{key}={describe(value)}")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidRecord(f"invalid {key}", f"{key}={describe(value)}")
    return value


def _str_tuple(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """An optional list of strings (absent or null: empty)."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRecord(f"invalid {key}", f"{key}={describe(value)}")
    return tuple(value)


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(f"invalid {key}", f"{key}={describe(value)}")
    return value


def _float(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRecord(f"invalid {key}", f"{key}={describe(value)}")
    return float(value)


def event_ms(value: Any, key: str = "created_at") -> int:
    """Epoch ms from ISO text or epoch milliseconds, inside 2000..2100 UTC."""
    if isinstance(value, str):
        try:
            ts = ms_from_iso(_no_nul(value))
        except ValueError as exc:
            raise InvalidRecord(f"invalid {key}", str(exc)) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        ts = value
    else:
        raise InvalidRecord(
            f"missing {key}" if value is None else f"invalid {key}", describe(value)
        )
    if not MIN_EVENT_MS <= ts < MAX_EVENT_MS:
        raise InvalidRecord(f"{key} out of range", describe(value))
    return ts


def _check_version(obj: Mapping[str, Any]) -> None:
    version = obj.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise InvalidRecord("unsupported schema_version", describe(version))


def _mapping(obj: Any) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise InvalidRecord("not an object", type(obj).__name__)
    return obj


# --- records ----------------------------------------------------------------------------

Private = Callable[[str | None, str], tuple[str | None, str]]
"""What replaces a post's author and text as it is made (``Post.from_wire``)."""


@dataclass(frozen=True, slots=True)
class Post:
    """A normalized social-media post (the native input format)."""

    id: str
    text: str
    created_at_ms: int
    lang: str | None = None
    lon: float | None = None
    lat: float | None = None
    place: str | None = None
    author: str | None = None
    source: str | None = None
    is_repost: bool = False
    reply_to: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "created_at": iso_from_ms(self.created_at_ms),
            "lang": self.lang,
            "lon": self.lon,
            "lat": self.lat,
            "place": self.place,
            "author": self.author,
            "source": self.source,
            "is_repost": self.is_repost,
            "reply_to": self.reply_to,
            "schema_version": SCHEMA_VERSION,
        }

    @classmethod
    def from_wire(cls, obj: Any, private: Private | None = None) -> Post:
        """The post of a wire dict; ``private`` replaces its author and text (a keyed
        pseudonym, masked contact details) before the post is made.

        >>> wire = {"id": "p1", "text": "call 555", "created_at": 1708594200000, "author": "@a"}
        >>> Post.from_wire(wire, lambda author, text: ("x1", "call [phone]")).author
        'x1'
        """
        obj = _mapping(obj)
        _check_version(obj)
        text = obj.get("text")
        if not isinstance(text, str):
            raise InvalidRecord("missing text" if text is None else "invalid text", describe(text))
        text = _no_nul(text)
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidRecord("text too long", f"{len(text)} characters")
        lon = _opt_float(obj, "lon", -180.0, 180.0)
        lat = _opt_float(obj, "lat", -90.0, 90.0)
        if (lon is None) != (lat is None):
            raise InvalidRecord("invalid coordinates", "lon and lat must come together")
        is_repost = obj.get("is_repost", False)
        if not isinstance(is_repost, bool):
            raise InvalidRecord("invalid is_repost", describe(is_repost))
        # judged in this order, so a record with several faults gets a stable reason
        post_id = _req_str(obj, "id")
        created_at_ms = event_ms(obj.get("created_at"))
        lang = _opt_str(obj, "lang")
        place = _opt_str(obj, "place")
        author = _opt_str(obj, "author")
        source = _opt_str(obj, "source")
        reply_to = _opt_str(obj, "reply_to")
        if private is not None:
            author, text = private(author, text)
        return cls(
            post_id, text, created_at_ms, lang, lon, lat, place, author, source, is_repost, reply_to
        )


@dataclass(frozen=True, slots=True)
class RelevantPost:
    """A network complaint placed in a region (or not) and a zone, ready for detection."""

    post_id: str
    created_at_ms: int
    author_hash: str
    zone_id: str
    region_id: str | None
    category: str
    lang: str | None
    score: float
    locate_method: str
    is_repost: bool = False
    brands: tuple[str, ...] = ()  # operator brand ids mentioned (relevance brand lexicon)

    def to_wire(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "created_at": iso_from_ms(self.created_at_ms),
            "author_hash": self.author_hash,
            "zone_id": self.zone_id,
            "region_id": self.region_id,
            "category": self.category,
            "lang": self.lang,
            "score": self.score,
            "locate_method": self.locate_method,
            "is_repost": self.is_repost,
            "brands": list(self.brands),
            "schema_version": SCHEMA_VERSION,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> RelevantPost:
        obj = _mapping(obj)
        _check_version(obj)
        return cls(
            post_id=_req_str(obj, "post_id"),
            created_at_ms=event_ms(obj.get("created_at")),
            author_hash=_req_str(obj, "author_hash"),
            zone_id=_req_str(obj, "zone_id"),
            region_id=_opt_str(obj, "region_id"),
            category=_req_str(obj, "category"),
            lang=_opt_str(obj, "lang"),
            score=_float(obj, "score"),
            locate_method=_req_str(obj, "locate_method"),
            is_repost=bool(obj.get("is_repost", False)),
            brands=_str_tuple(obj, "brands"),
        )


@dataclass(frozen=True, slots=True)
class Watermark:
    """Event-time progress of one upstream partition: no later record from ``source``
    will be older than ``watermark_ms``. Travels in-band on the post topics."""

    source: str
    watermark_ms: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": "watermark",
            "source": self.source,
            "watermark_ms": self.watermark_ms,
            "schema_version": SCHEMA_VERSION,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> Watermark:
        obj = _mapping(obj)
        _check_version(obj)
        source = obj.get("source", "")
        if not isinstance(source, str):
            raise InvalidRecord("invalid source", f"source={describe(source)}")
        ms = _int(obj, "watermark_ms")
        if not MIN_EVENT_MS <= ms < MAX_EVENT_MS:  # else it closes centuries of windows
            raise InvalidRecord("watermark_ms out of range", str(ms))
        return cls(source=_short(source, "source"), watermark_ms=ms)

    @staticmethod
    def is_watermark(obj: Any) -> bool:
        return isinstance(obj, Mapping) and obj.get("kind") == "watermark"


@dataclass(frozen=True, slots=True)
class Ticket:
    """A formal customer-care ticket, the ground truth alerts race against."""

    id: str
    opened_at_ms: int
    region_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    category: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "opened_at": iso_from_ms(self.opened_at_ms),
            "region": self.region_id,
            "lon": self.lon,
            "lat": self.lat,
            "category": self.category,
            "schema_version": SCHEMA_VERSION,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> Ticket:
        obj = _mapping(obj)
        _check_version(obj)
        region = _opt_str(obj, "region")
        lon = _opt_float(obj, "lon", -180.0, 180.0)
        lat = _opt_float(obj, "lat", -90.0, 90.0)
        if region is None and (lon is None or lat is None):
            raise InvalidRecord("ticket without place", "needs region or lon and lat")
        return cls(
            id=_req_str(obj, "id"),
            opened_at_ms=event_ms(obj.get("opened_at"), "opened_at"),
            region_id=region,
            lon=lon,
            lat=lat,
            category=_opt_str(obj, "category"),
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """One state change of one outage alert (opened, updated or resolved)."""

    alert_id: str
    status: str
    severity: str
    category: str
    region_ids: tuple[str, ...]
    region_names: tuple[str, ...]
    geometry: Mapping[str, Any] | None
    window_start_ms: int
    window_end_ms: int
    first_post_at_ms: int
    detected_at_ms: int
    observed: int
    expected: float
    score: float
    p_value: float
    distinct_authors: int
    sample_post_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.status not in ALERT_STATUSES:
            raise InvalidRecord("invalid status", self.status)
        if self.severity not in SEVERITIES:
            raise InvalidRecord("invalid severity", self.severity)

    def to_wire(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "status": self.status,
            "severity": self.severity,
            "category": self.category,
            "region_ids": list(self.region_ids),
            "region_names": list(self.region_names),
            "geometry": self.geometry,
            "window_start": iso_from_ms(self.window_start_ms),
            "window_end": iso_from_ms(self.window_end_ms),
            "first_post_at": iso_from_ms(self.first_post_at_ms),
            "detected_at": iso_from_ms(self.detected_at_ms),
            "observed": self.observed,
            "expected": self.expected,
            "score": self.score,
            "p_value": self.p_value,
            "distinct_authors": self.distinct_authors,
            "sample_post_ids": list(self.sample_post_ids),
            "schema_version": SCHEMA_VERSION,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> Alert:
        obj = _mapping(obj)
        _check_version(obj)
        geometry = obj.get("geometry")
        if geometry is not None and not isinstance(geometry, Mapping):
            raise InvalidRecord("invalid geometry", type(geometry).__name__)
        return cls(
            alert_id=_req_str(obj, "alert_id"),
            status=_req_str(obj, "status"),
            severity=_req_str(obj, "severity"),
            category=_req_str(obj, "category"),
            region_ids=_str_tuple(obj, "region_ids"),
            region_names=_str_tuple(obj, "region_names"),
            geometry=geometry,
            window_start_ms=event_ms(obj.get("window_start"), "window_start"),
            window_end_ms=event_ms(obj.get("window_end"), "window_end"),
            first_post_at_ms=event_ms(obj.get("first_post_at"), "first_post_at"),
            detected_at_ms=event_ms(obj.get("detected_at"), "detected_at"),
            observed=_int(obj, "observed"),
            expected=_float(obj, "expected"),
            score=_float(obj, "score"),
            p_value=_float(obj, "p_value"),
            distinct_authors=_int(obj, "distinct_authors"),
            sample_post_ids=_str_tuple(obj, "sample_post_ids"),
        )
