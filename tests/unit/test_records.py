from __future__ import annotations

import random

import pytest

from models.errors import InvalidRecord
from models.records import Alert, Post, RelevantPost, Ticket, Watermark, dumps, loads
from models.timeutil import MAX_EVENT_MS, MIN_EVENT_MS, iso_from_ms, ms_from_iso

T = 1_708_594_200_000
NESTED = loads(b"[" * 1_000 + b"]" * 1_000)


def _alert(**kw: object) -> Alert:
    base: dict[str, object] = dict(
        alert_id="a1",
        status="opened",
        severity="major",
        category="mobile_data",
        region_ids=("R1",),
        region_names=("North",),
        geometry={"type": "Point", "coordinates": [1.0, 2.0]},
        window_start_ms=T,
        window_end_ms=T + 300_000,
        first_post_at_ms=T + 5,
        detected_at_ms=T + 300_000,
        observed=12,
        expected=0.5,
        score=0.4,
        p_value=1e-9,
        distinct_authors=12,
        sample_post_ids=("p1", "p2"),
    )
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [
        Post("1", "no signal", T, "en", 9.1, 45.4, "Milano", "twitter:5", "twitter", True, "0"),
        RelevantPost("p", T, "abc", "z001", "R1", "voice", "it", 0.9, "place", True),
        RelevantPost("p", T, "abc", "unlocated", None, "voice", None, 0.7, "unlocated"),
        Ticket("T1", T, "R1", None, None, "voice"),
        Ticket("T2", T, None, 9.0, 45.0),
        Watermark("3", T),
        _alert(),
        _alert(status="resolved", severity="minor", geometry=None),
    ],
)
def test_wire_round_trip(record: object) -> None:
    cls = type(record)
    wire = loads(dumps(record.to_wire()))  # type: ignore[attr-defined]
    assert wire["schema_version"] == 1
    assert cls.from_wire(wire) == record  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"id": "1", "created_at": "2024-01-01T00:00:00Z"}, "missing text"),
        ({"id": "1", "text": 5, "created_at": "2024-01-01T00:00:00Z"}, "invalid text"),
        ({"text": "x", "created_at": "2024-01-01T00:00:00Z"}, "missing id"),
        ({"id": "1", "text": "x"}, "missing created_at"),
        ({"id": "1", "text": "x", "created_at": "yesterday"}, "invalid created_at"),
        ({"id": "1", "text": "x", "created_at": "2024-01-01T00:00:00"}, "invalid created_at"),
        ({"id": "1", "text": "x", "created_at": "1970-01-01T00:00:00Z"}, "created_at out of range"),
        ({"id": "1", "text": "x", "created_at": -5}, "created_at out of range"),
        ({"id": "1", "text": "x", "created_at": T, "lon": 200, "lat": 1}, "invalid lon"),
        ({"id": "1", "text": "x", "created_at": T, "lon": 2}, "invalid coordinates"),
        (
            {"id": "1", "text": "x", "created_at": T, "schema_version": 9},
            "unsupported schema_version",
        ),
        ({"id": "1", "text": "x" * 10_001, "created_at": T}, "text too long"),
        ([1, 2], "not an object"),
        # hostile sizes: a field longer than any id, place or name is refused, not carried
        ({"id": "7" * 1_001, "text": "x", "created_at": T}, "id too long"),
        ({"id": "1", "text": "x", "created_at": T, "place": "Roma " * 201}, "place too long"),
        ({"id": "1", "text": "x", "created_at": T, "author": "a" * 1_001}, "author too long"),
        # a value nested 1,000 deep (JSON allows 1,024) is described, not printed: its repr
        # would raise RecursionError, which no stage expects
        ({"id": NESTED, "text": "x", "created_at": T}, "missing id"),
        ({"id": "1", "text": NESTED, "created_at": T}, "invalid text"),
        ({"id": "1", "text": "x", "created_at": NESTED}, "invalid created_at"),
        ({"id": "1", "text": "x", "created_at": T, "lon": NESTED, "lat": 1}, "invalid lon"),
        ({"id": "1", "text": "x", "created_at": T, "place": NESTED}, "invalid place"),
        ({"id": "1", "text": "x", "created_at": T, "is_repost": NESTED}, "invalid is_repost"),
        (
            {"id": "1", "text": "x", "created_at": T, "schema_version": NESTED},
            "unsupported schema_version",
        ),
    ],
)
def test_invalid_posts_have_reasons(obj: object, reason: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        Post.from_wire(obj)
    assert err.value.reason == reason


def test_ticket_needs_a_place() -> None:
    with pytest.raises(InvalidRecord, match="ticket without place"):
        Ticket.from_wire({"id": "T", "opened_at": T})


def test_alert_lists_are_lists_of_strings() -> None:
    wire = _alert().to_wire()
    for key in ("region_ids", "region_names", "sample_post_ids"):
        for bad in (NESTED, "R1", [1]):  # a deep one was printed whole: RecursionError
            with pytest.raises(InvalidRecord) as err:
                Alert.from_wire({**wire, key: bad})
            assert err.value.reason == f"invalid {key}"


def test_alert_status_checked() -> None:
    with pytest.raises(InvalidRecord, match="invalid status"):
        _alert(status="maybe")


def test_dumps_is_canonical() -> None:
    assert dumps({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    with pytest.raises(InvalidRecord, match="invalid json"):
        loads(b"{nope")


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        # a watermark in 9999 (or at 2**64 - 1) would make every detector close each window
        # up to it, one by one: the stream would stall for good
        (
            {"kind": "watermark", "source": "0", "watermark_ms": 253_402_300_799_999},
            "watermark_ms out of range",
        ),
        (
            {"kind": "watermark", "source": "0", "watermark_ms": 2**64 - 1},
            "watermark_ms out of range",
        ),
        ({"kind": "watermark", "source": "0", "watermark_ms": -1}, "watermark_ms out of range"),
        ({"kind": "watermark", "source": "0", "watermark_ms": 1.7e12}, "invalid watermark_ms"),
        ({"kind": "watermark", "source": NESTED, "watermark_ms": T}, "invalid source"),
        ({"kind": "watermark", "source": "0" * 1_001, "watermark_ms": T}, "source too long"),
    ],
)
def test_invalid_watermarks_have_reasons(obj: object, reason: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        Watermark.from_wire(obj)
    assert err.value.reason == reason


def _parsed(text: str) -> int | None:
    try:
        return ms_from_iso(text)
    except ValueError:
        return None


def test_times_as_records_write_them_parse_as_any_iso_time() -> None:
    # "...Z" in iso_from_ms's form takes a cached path; the same time with "+00:00" the
    # general one: canonical and damaged texts must agree (a value, or both refused)
    rng = random.Random(5)
    damage = "0123456789-:T .Zz+t\u0663\u00b2_\t"
    for _ in range(20_000):
        chars = list(iso_from_ms(rng.randrange(MIN_EVENT_MS, MAX_EVENT_MS)))
        for _ in range(rng.choice((0, 1, 2))):
            chars[rng.randrange(len(chars))] = rng.choice(damage)
        text = "".join(chars)
        if text.endswith("Z"):
            assert _parsed(text) == _parsed(text[:-1] + "+00:00"), text
