"""Event-time helpers: epoch milliseconds, UTC, window arithmetic and watermarks."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from models.errors import ConfigError

MIN_EVENT_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_EVENT_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


def window_start_ms(ts_ms: int, size_ms: int) -> int:
    """Start of the tumbling window of ``size_ms`` that holds ``ts_ms``.

    >>> window_start_ms(1_700_000_123_456, 60_000)
    1700000100000
    """
    return ts_ms - ts_ms % size_ms


def iso_from_ms(ts_ms: int) -> str:
    """ISO 8601 UTC text with milliseconds and a ``Z``.

    >>> iso_from_ms(0)
    '1970-01-01T00:00:00.000Z'
    """
    return _iso_second(ts_ms // 1000) + f"{ts_ms % 1000:03d}Z"


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    """The text of one second (posts come in time order: many share it)."""
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def ms_from_iso(text: str) -> int:
    """Epoch milliseconds from ISO 8601 text; a time without an offset is refused.

    >>> ms_from_iso("2024-02-22T09:30:00Z")
    1708594200000
    >>> ms_from_iso("2024-02-22T10:30:00.250+01:00")
    1708594200250
    >>> ms_from_iso("2024-02-22T09:30:00.250Z")
    1708594200250
    """
    # the form iso_from_ms writes, as every record on a topic has it: its second is parsed
    # once and cached (posts come in time order), its milliseconds added
    if len(text) == 24 and text[19] == "." and text[23] == "Z" and text[10] in "T ":
        second, millis = _second_ms(text[:19]), text[20:23]
        if second is not None and millis.isascii() and millis.isdigit():
            return second + int(millis)
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return round(dt.timestamp() * 1000)


def ms_from_option(value: str | None, option: str) -> int | None:
    """Epoch milliseconds of a command's ISO 8601 time option (None when not given); a bad
    one is a :class:`~models.errors.ConfigError` naming ``option``.

    >>> ms_from_option("2024-02-22T09:30:00Z", "--since"), ms_from_option(None, "--since")
    (1708594200000, None)
    >>> ms_from_option("yesterday", "--since")
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: --since='yesterday': must be an ISO 8601 time with a UTC offset
    """
    if not value:
        return None
    try:
        return ms_from_iso(value)
    except ValueError:
        raise ConfigError(option, value, "must be an ISO 8601 time with a UTC offset") from None


@lru_cache(maxsize=4096)
def _second_ms(text: str) -> int | None:
    """Epoch milliseconds of a UTC second written "2024-02-22T09:30:00"; None for text of
    another shape or not a time."""
    if text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
        return None
    try:
        return round(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)
    except ValueError:
        return None
