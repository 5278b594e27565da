"""Event-time watermarks that survive repartitioning.

A watermark says "no later record from here is older than this". The first stage reads
``posts.raw`` and keeps one :class:`OriginClock` per input partition (max event time minus
the allowed lateness). Each stage that repartitions sends its input partitions'
watermarks downstream as in-band :class:`~models.records.Watermark` records; the next
stage takes the minimum over all upstream sources with a :class:`MinClock`. Watermarks
are quantised to window boundaries (:class:`TickGate`) so a stage sends at most one per
window and source, and the windows a stage closes depend only on the data, never on how
Kafka interleaved its partitions.
"""

from __future__ import annotations

from typing import Any

from models.errors import InvalidRecord


def quantize(watermark_ms: int, size_ms: int) -> int:
    """The last window boundary at or before ``watermark_ms``.

    >>> quantize(125_000, 60_000)
    120000
    """
    return watermark_ms - watermark_ms % size_ms


LATE, TOO_FAR_AHEAD = "late", "too far ahead"
"""The reasons a well-formed post is refused for its time: the stream's clock, not the
record, is at odds with it (a worker dead-letters it all the same)."""


class OriginClock:
    """Watermark of one source partition: max event time seen minus ``lateness_ms``.

    >>> c = OriginClock(lateness_ms=60_000)
    >>> c.observe(1_000_000)
    True
    >>> c.watermark_ms
    940000
    >>> c.observe(900_000)  # older than the watermark: late
    False
    >>> c.flush(2_000_000); c.watermark_ms
    2000000
    """

    __slots__ = ("lateness_ms", "watermark_ms")

    def __init__(self, lateness_ms: int, watermark_ms: int | None = None) -> None:
        self.lateness_ms = lateness_ms
        self.watermark_ms = watermark_ms

    def observe(self, event_ms: int) -> bool:
        """Take one record's event time; False when the record is late (to be rejected)."""
        if self.watermark_ms is not None and event_ms < self.watermark_ms:
            return False
        candidate = event_ms - self.lateness_ms
        if self.watermark_ms is None or candidate > self.watermark_ms:
            self.watermark_ms = candidate
        return True

    def flush(self, watermark_ms: int) -> None:
        """Advance to an explicit watermark (end of a replay), never backwards."""
        if self.watermark_ms is None or watermark_ms > self.watermark_ms:
            self.watermark_ms = watermark_ms


class MinClock:
    """Minimum over the watermarks of ``n_sources`` upstream sources named "0".."n-1".

    Undefined (None) until every source has reported.

    >>> c = MinClock(2)
    >>> c.observe("0", 500), c.observe("1", 300), c.observe("1", 800)
    (None, 300, 500)
    """

    __slots__ = ("marks", "n_sources")

    def __init__(self, n_sources: int, marks: dict[str, int] | None = None) -> None:
        if n_sources < 1:
            raise ValueError(f"n_sources must be >= 1, got {n_sources}")
        self.n_sources = n_sources
        self.marks: dict[str, int] = dict(marks or {})

    def observe(self, source: str, watermark_ms: int) -> int | None:
        """Take one source's watermark; a source outside "0".."n-1" is refused."""
        if not (source.isdigit() and int(source) < self.n_sources):
            raise InvalidRecord("unknown watermark source", f"{source!r} of {self.n_sources}")
        if watermark_ms > self.marks.get(source, watermark_ms - 1):
            self.marks[source] = watermark_ms
        return self.current()

    def current(self) -> int | None:
        if len(self.marks) < self.n_sources:
            return None
        return min(self.marks.values())

    def to_state(self) -> dict[str, Any]:
        return {"n_sources": self.n_sources, "marks": dict(self.marks)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MinClock:
        return cls(int(state["n_sources"]), {str(k): int(v) for k, v in state["marks"].items()})


class TickGate:
    """Lets a watermark through only when it crosses a new window boundary.

    >>> g = TickGate(60_000)
    >>> g.offer(61_000), g.offer(119_000), g.offer(180_500)
    (60000, None, 180000)
    """

    __slots__ = ("last_ms", "size_ms")

    def __init__(self, size_ms: int) -> None:
        self.size_ms = size_ms
        self.last_ms: int | None = None

    def offer(self, watermark_ms: int | None) -> int | None:
        if watermark_ms is None:
            return None
        q = quantize(watermark_ms, self.size_ms)
        if self.last_ms is not None and q <= self.last_ms:
            return None
        self.last_ms = q
        return q
