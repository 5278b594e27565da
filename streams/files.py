"""Dump lines: one Kafka message per JSON line, bytes kept exactly.

``key`` and ``value`` are written as text when they are UTF-8, else as base64 in
``key_b64`` / ``value_b64``; headers likewise. Reading a line back gives the same bytes,
so dump -> replay -> dump round-trips.

>>> rec = DumpRecord("t", 0, 5, 1700000000000, b"k", b'{"a":1}', ((b"reason", b"x"),))
>>> DumpRecord.from_line(rec.to_line()) == rec
True
>>> DumpRecord.from_line(b'{"id": "1", "text": "hi"}') is None
True
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.errors import InvalidRecord
from models.records import dumps, loads


def _put(out: dict[str, Any], name: str, data: bytes | None) -> None:
    if data is None:
        out[name] = None
        return
    try:
        out[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        out[name] = None
        out[name + "_b64"] = base64.b64encode(data).decode("ascii")


def _get(obj: dict[str, Any], name: str) -> bytes | None:
    if obj.get(name + "_b64") is not None:
        return base64.b64decode(obj[name + "_b64"])
    text = obj.get(name)
    return None if text is None else str(text).encode("utf-8")


@dataclass(frozen=True)
class DumpRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[bytes, bytes], ...] = ()

    def to_line(self) -> bytes:
        out: dict[str, Any] = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp_ms,
        }
        _put(out, "key", self.key)
        _put(out, "value", self.value)
        headers = []
        for k, v in self.headers:
            h: dict[str, Any] = {"key": k.decode("utf-8", "replace")}
            _put(h, "value", v)
            headers.append(h)
        out["headers"] = headers
        return dumps(out)

    @classmethod
    def from_line(cls, line: bytes) -> DumpRecord | None:
        """The record of a dump line, or None when the line is not a dump line."""
        try:
            obj = loads(line)
        except InvalidRecord:
            return None
        if not (isinstance(obj, dict) and "offset" in obj and "partition" in obj):
            return None
        if "value" not in obj and "value_b64" not in obj:
            return None
        headers: Sequence[dict[str, Any]] = obj.get("headers") or ()
        return cls(
            topic=str(obj.get("topic", "")),
            partition=int(obj["partition"]),
            offset=int(obj["offset"]),
            timestamp_ms=obj.get("timestamp"),
            key=_get(obj, "key"),
            value=_get(obj, "value"),
            headers=tuple((str(h["key"]).encode(), _get(h, "value") or b"") for h in headers),
        )


def message_value(line: bytes) -> bytes:
    """The message bytes a file line stands for: a dump line's value, else the line."""
    rec = DumpRecord.from_line(line)
    if rec is None:
        return line
    return rec.value or b""
