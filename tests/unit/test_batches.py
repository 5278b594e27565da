"""Messages carrying several posts: how replay packs them and how files and the backtest
read them back."""

from __future__ import annotations

from models.records import Post, dumps, loads
from models.scenario import build_demo
from streams.chain import Stages, backtest, load_regions
from streams.files import BATCH_BYTES, DumpRecord, is_batch, message_records
from streams.kafka_io import _outgoing
from streams.settings import Settings

T = 1_709_528_400_000


def _line(i: int, at_ms: int) -> bytes:
    return dumps(Post(f"p{i}", "no signal", at_ms, author=f"u{i}").to_wire())


def test_replay_packs_consecutive_lines_and_turns_partitions() -> None:
    lines = [_line(i, T + 1000 * i) for i in range(7)]
    lines[4] = b"{broken"
    sent = list(_outgoing(lines, [0, 1], batch=3))
    assert [m.lines for m in sent] == [3, 3, 1]
    assert [m.partition for m in sent] == [0, 1, 0]
    assert [is_batch(m.headers) for m in sent] == [True, True, False]
    assert [message_records(m.value, m.headers) for m in sent] == [
        lines[:3],
        lines[3:6],
        [lines[6]],
    ]
    # stamped with the latest post the workers keep; a broken line moves nothing
    assert [m.timestamp_ms for m in sent] == [T + 2000, T + 5000, T + 6000]
    assert sent[1].posts_ms == [T + 3000, T + 5000]


def test_a_dump_line_ends_the_batch_and_travels_as_it_was() -> None:
    dumped = DumpRecord("posts.raw", 3, 9, T, b"k", b'{"x":1}', ((b"h", b"v"),)).to_line()
    sent = list(_outgoing([_line(0, T), _line(1, T + 1), dumped, _line(2, T + 2)], [0, 1], 500))
    assert [m.lines for m in sent] == [2, 1, 1]
    assert (sent[1].key, sent[1].value, sent[1].headers) == (b"k", b'{"x":1}', [("h", b"v")])
    assert sent[1].partition is None  # keyed: Kafka's partitioner places it as before


def test_backtest_reads_dumped_batches_as_their_posts() -> None:
    scenario = build_demo(seed=2)
    settings = Settings()
    stages = Stages(settings, load_regions(settings))
    lines = [dumps(p.to_wire()) for p in scenario.posts]
    dumped = [
        DumpRecord(
            "posts.raw",
            m.partition or 0,
            i,
            m.timestamp_ms,
            None,
            m.value,
            tuple((k.encode(), v) for k, v in m.headers),
        ).to_line()
        for i, m in enumerate(_outgoing(lines, [0], batch=200))
    ]
    assert len(dumped) == -(-len(lines) // 200)
    plain, packed = backtest(stages, lines), backtest(stages, dumped)
    assert packed.posts == plain.posts and packed.relevant == plain.relevant > 0
    assert [a.to_wire() for a in packed.alerts] == [a.to_wire() for a in plain.alerts]
    assert plain.alerts and loads(dumps(plain.alerts[0].to_wire()))["status"] == "opened"


def test_a_blank_line_a_line_of_several_lines_or_a_full_batch_goes_alone() -> None:
    pretty = b'{\n "id": "x",\n "text": "no signal"\n}'
    big = b"x" * (BATCH_BYTES - 10)
    lines = [_line(0, T), pretty, _line(1, T + 1), big, _line(2, T + 2), b" ", _line(3, T + 3)]
    sent = list(_outgoing(lines, [0], batch=500))
    assert [m.value for m in sent][-2:] == [b" ", lines[6]]  # a blank line too
    assert [message_records(m.value, m.headers) for m in sent][:-2] == [
        [lines[0]],
        [pretty],  # one record however many lines it spans
        [lines[2]],  # the next would not fit with it
        [big],
        [lines[4]],
    ]
