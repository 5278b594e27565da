from __future__ import annotations

import pytest

from models.errors import InvalidRecord
from models.records import Alert, Post, RelevantPost, Ticket, Watermark, dumps, loads

T = 1_708_594_200_000


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
    ],
)
def test_invalid_posts_have_reasons(obj: object, reason: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        Post.from_wire(obj)
    assert err.value.reason == reason


def test_ticket_needs_a_place() -> None:
    with pytest.raises(InvalidRecord, match="ticket without place"):
        Ticket.from_wire({"id": "T", "opened_at": T})


def test_alert_status_checked() -> None:
    with pytest.raises(InvalidRecord, match="invalid status"):
        _alert(status="maybe")


def test_dumps_is_canonical() -> None:
    assert dumps({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    with pytest.raises(InvalidRecord, match="invalid json"):
        loads(b"{nope")
