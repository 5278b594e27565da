from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from models.watermark import MinClock, OriginClock, TickGate, quantize


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=200), st.integers(0, 10**6))
def test_origin_watermark_is_monotone_and_late_is_below_it(times: list[int], lateness: int) -> None:
    clock = OriginClock(lateness)
    last = None
    for t in times:
        before = clock.watermark_ms
        accepted = clock.observe(t)
        assert accepted == (before is None or t >= before)
        assert last is None or (clock.watermark_ms is not None and clock.watermark_ms >= last)
        last = clock.watermark_ms


@given(st.lists(st.tuples(st.sampled_from("0123"), st.integers(0, 10**9)), max_size=100))
def test_min_clock_is_min_of_max_per_source(events: list[tuple[str, int]]) -> None:
    clock = MinClock(4)
    best: dict[str, int] = {}
    for source, mark in events:
        clock.observe(source, mark)
        best[source] = max(best.get(source, mark), mark)
    assert clock.current() == (min(best.values()) if len(best) == 4 else None)
    assert MinClock.from_state(clock.to_state()).current() == clock.current()


@given(st.lists(st.integers(0, 10**9), max_size=100), st.integers(1, 10**6))
def test_tick_gate_emits_increasing_window_boundaries(marks: list[int], size: int) -> None:
    gate = TickGate(size)
    out = [t for t in (gate.offer(m) for m in marks) if t is not None]
    assert out == sorted(set(out))
    assert all(t % size == 0 for t in out)
    if marks:
        assert out[-1] == quantize(max(marks), size)


def test_min_clock_refuses_unknown_sources() -> None:
    import pytest

    from models.errors import InvalidRecord

    clock = MinClock(2)
    for source in ("2", "replay", "-1", ""):
        with pytest.raises(InvalidRecord, match="unknown watermark source"):
            clock.observe(source, 10)
    assert clock.marks == {}
