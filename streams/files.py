"""Files the commands read and write: dump lines, the lines of an input file (bad ones
reported with their number), and the checks made before a command opens any.

A dump line is one Kafka message per JSON line, bytes kept exactly. ``key`` and ``value``
are written as text when they are UTF-8, else as base64 in ``key_b64`` / ``value_b64``;
headers likewise. Reading a line back gives the same bytes, so dump -> replay -> dump
round-trips.

>>> rec = DumpRecord("t", 0, 5, 1700000000000, b"k", b'{"a":1}', ((b"reason", b"x"),))
>>> DumpRecord.from_line(rec.to_line()) == rec
True
>>> DumpRecord.from_line(b'{"id": "1", "text": "hi"}') is None
True
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import ConfigError, InvalidRecord, describe
from models.formats import Decoded, decode_raw
from models.records import Post, dumps, loads
from models.watermark import LATE, TOO_FAR_AHEAD


def _put(out: dict[str, Any], name: str, data: bytes | None) -> None:
    if data is None:
        out[name] = None
        return
    try:
        out[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        out[name] = None
        out[name + "_b64"] = base64.b64encode(data).decode("ascii")


def _bad(detail: str) -> InvalidRecord:
    return InvalidRecord("invalid dump line", detail)


def _get(obj: Mapping[str, Any], name: str) -> bytes | None:
    encoded = obj.get(name + "_b64")
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True)
        except (TypeError, ValueError):  # binascii.Error is a ValueError
            raise _bad(f"{name}_b64 is not base64 text: {describe(encoded)}") from None
    text = obj.get(name)
    if text is not None and not isinstance(text, str):
        raise _bad(f"{name} is not text: {describe(text)}")
    return None if text is None else text.encode("utf-8")


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{name} is not an integer: {describe(value)}")
    return value


def _headers(value: Any) -> tuple[tuple[bytes, bytes], ...]:
    if not value:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(h, dict) and isinstance(h.get("key"), str) for h in value
    ):
        raise _bad(f"headers are not a list of {{key, value}} objects: {describe(value)}")
    return tuple((h["key"].encode(), _get(h, "value") or b"") for h in value)


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

    def records(self) -> list[bytes]:
        """The records the message carries (several for a batch)."""
        headers = [(k.decode("utf-8", "replace"), v) for k, v in self.headers]
        return message_records(self.value or b"", headers)

    @classmethod
    def from_line(cls, line: bytes) -> DumpRecord | None:
        """The record of a dump line, or None when the line is not a dump line; a dump
        line with a field of the wrong kind raises :class:`InvalidRecord` ("invalid dump
        line").

        >>> DumpRecord.from_line(b'{"partition": "x", "offset": 0, "value": "{}"}')
        Traceback (most recent call last):
        ...
        models.errors.InvalidRecord: invalid dump line: partition is not an integer: 'x'
        """
        if b'"offset"' not in line:  # as `dump` writes it; most lines are posts: skip parsing
            return None
        try:
            obj = loads(line)
        except InvalidRecord:
            return None
        if not (isinstance(obj, dict) and "offset" in obj and "partition" in obj):
            return None
        if "value" not in obj and "value_b64" not in obj:
            return None
        timestamp = obj.get("timestamp")
        return cls(
            topic=str(obj.get("topic", "")),
            partition=_int(obj, "partition"),
            offset=_int(obj, "offset"),
            timestamp_ms=None if timestamp is None else _int(obj, "timestamp"),
            key=_get(obj, "key"),
            value=_get(obj, "value"),
            headers=_headers(obj.get("headers")),
        )


BATCH_HEADER = "records"
"""Header of a message that carries several records, one JSON per line (its value
``lines``): posts travel in batches so the per-message cost of a stream is paid once per
batch, not once per post. A message without it carries one record (which may span lines)."""
BATCH_LINES = b"lines"
REPLAY_BATCH = 500
"""Raw lines per message when ``groundswell replay`` sends at full speed."""
BATCH_BYTES = 512 << 10
"""Most bytes a batch grows to (a topic's default message limit is 1 MiB)."""

Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


def is_batch(headers: Headers) -> bool:
    """Whether a message with these headers carries records one per line.

    >>> is_batch([("records", b"lines")]), is_batch({"records": b"lines"}), is_batch(None)
    (True, True, False)
    """
    if not headers:
        return False
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return any(k == BATCH_HEADER and v == BATCH_LINES for k, v in pairs)


def message_records(value: bytes, headers: Headers) -> list[bytes]:
    """The records a message carries: its non-empty lines when it is a batch, else its value.

    >>> message_records(b'{"a":1}\\n{"a":2}\\n', [("records", b"lines")])
    [b'{"a":1}', b'{"a":2}']
    >>> message_records(b'{\\n "a": 1\\n}', None)
    [b'{\\n "a": 1\\n}']
    """
    if not is_batch(headers):
        return [value]
    return [line for line in value.split(b"\n") if line.strip()]


def batches(
    records: Iterable[bytes], max_bytes: int = BATCH_BYTES, max_records: int | None = None
) -> Iterator[list[bytes]]:
    """``records`` in order, in runs of at most ``max_bytes`` (a larger record alone) and
    ``max_records``.

    >>> [len(b) for b in batches([b"a" * 4, b"b" * 4, b"c" * 9, b"d"], max_bytes=10)]
    [2, 1, 1]
    >>> [len(b) for b in batches([b"a"] * 5, max_records=2)]
    [2, 2, 1]
    """
    run: list[bytes] = []
    size = 0
    for record in records:
        if run and size + len(record) + 1 > max_bytes:
            yield run
            run, size = [], 0
        run.append(record)
        size += len(record) + 1
        if max_records is not None and len(run) >= max_records:
            yield run
            run, size = [], 0
    if run:
        yield run


def batch_message(records: Sequence[bytes]) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) of one message carrying ``records`` (single-line JSON each); a single
    record travels as it is.

    >>> batch_message([b'{"a":1}', b'{"a":2}'])
    (b'{"a":1}\\n{"a":2}', [('records', b'lines')])
    >>> batch_message([b'{"a":1}'])
    (b'{"a":1}', [])
    """
    if len(records) == 1:
        return records[0], []
    return b"\n".join(records), [(BATCH_HEADER, BATCH_LINES)]


def message_value(line: bytes) -> bytes:
    """The message bytes a file line stands for: a dump line's value, else the line."""
    rec = DumpRecord.from_line(line)
    if rec is None:
        return line
    return rec.value or b""


def line_records(line: bytes) -> list[bytes]:
    """The records a file line stands for: the records of a dump line's message (several
    for a batch), else the line itself."""
    rec = DumpRecord.from_line(line)
    return [line] if rec is None else rec.records()


def check_files(
    inputs: Iterable[tuple[str, str | None]], out: str | None = None, out_option: str = "--out"
) -> None:
    """Refuse, before a command opens anything, an input (``(option, path)`` pairs, None
    skipped) that cannot be read, and an output in a folder that does not exist or that
    is one of the inputs by any path, symbolic or hard link (writing it would destroy
    the input). The error names the option (``out_option`` for the output).

    >>> check_files([("INPUT", __file__)], __file__)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: --out='...files.py': is the INPUT file; write elsewhere
    >>> check_files([], "nope/alerts.jsonl")
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: --out='nope/alerts.jsonl': no such folder: nope
    """
    for option, path in inputs:
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(option, path, f"cannot read: {exc.strerror}") from None
        if out is not None and _same_file(path, out):
            raise ConfigError(out_option, out, f"is the {option} file; write elsewhere")
    if out is not None:
        folder = Path(out).parent
        if not folder.is_dir():
            raise ConfigError(out_option, out, f"no such folder: {folder}")
        if Path(out).is_dir():
            raise ConfigError(out_option, out, "is a folder")


def _same_file(a: str, b: str) -> bool:
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either one does not exist (yet)
        return False


SHOW_BAD = 20
"""Bad lines of an input file reported one by one; the rest are only counted."""


def count_lines(path: str) -> int:
    """Non-empty lines of a file."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


class InputLines:
    """The non-empty lines of an input file, stripped, with a progress bar (unless
    ``progress`` is false). A line found bad is reported as ``FILE:N: reason`` (the first
    :data:`SHOW_BAD`) and counted; Twitter notices that are not posts (such as deletions)
    and posts refused for their time (late, too far ahead: the data is sound, the
    stream's clock is not) are counted but are not bad."""

    def __init__(self, path: str, desc: str, progress: bool = True) -> None:
        self.path = path
        self.desc = desc
        self.progress = progress
        self.number = 0  # of the line read last
        self.bad = 0
        self.notices = 0
        self.untimely = 0

    def __iter__(self) -> Iterator[bytes]:
        from tqdm import tqdm

        with (
            open(self.path, "rb") as fh,
            tqdm(
                total=count_lines(self.path) if self.progress else None,
                unit="line",
                disable=None if self.progress else True,
                desc=self.desc,
            ) as bar,
        ):
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if line:
                    self.number = n
                    yield line
                    bar.update(1)

    def reject(self, exc: InvalidRecord) -> None:
        """Report and count the line read last as bad (a notice is only counted)."""
        from tqdm import tqdm

        if exc.reason == "not a post":
            self.notices += 1
            return
        if exc.reason in (LATE, TOO_FAR_AHEAD):
            self.untimely += 1
            return
        self.bad += 1
        if self.bad <= SHOW_BAD:
            tqdm.write(f"{self.path}:{self.number}: {exc}", file=sys.stderr)

    def posts(self) -> Iterator[Post]:
        """The posts of every record of the lines (a dump line's message may carry
        several), in any supported format; a record that cannot be read is rejected."""
        for line in self:
            try:
                records = line_records(line)
            except InvalidRecord as exc:
                self.reject(exc)
                continue
            for record in records:
                try:
                    yield from self.kept(decode_raw(record))
                except InvalidRecord as exc:
                    self.reject(exc)

    def kept(self, decoded: Decoded) -> list[Post]:
        """The posts of a decoded record, its parts refused alone rejected."""
        for error, _part in decoded.refused:
            self.reject(error)
        return decoded.posts

    def summary(self) -> str:
        more = f" ({self.bad - SHOW_BAD} not shown)" if self.bad > SHOW_BAD else ""
        return (
            f"{self.bad} bad line(s){more}, {self.notices} notice(s) that are not posts, "
            f"{self.untimely} post(s) refused for their time (late or too far ahead)"
        )
