"""Dump lines read back, and malformed ones found on every path that reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import InvalidRecord
from streams.files import DumpRecord, InputLines
from streams.kafka_io import _outgoing

POST = b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T09:01:01Z", "author": "u1"}'
DUMPED = DumpRecord("posts.raw", 0, 7, None, None, POST).to_line()


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (b'{"partition":"x","offset":0,"timestamp":null,"value":"{}"}', "partition is not"),
        (b'{"partition":0,"offset":1.5,"value":"{}"}', "offset is not an integer"),
        (b'{"partition":0,"offset":0,"timestamp":"now","value":"{}"}', "timestamp is not"),
        (b'{"partition":0,"offset":0,"value":null,"value_b64":"!!!notbase64"}', "not base64"),
        (b'{"partition":0,"offset":0,"value":null,"value_b64":7}', "value_b64 is not base64"),
        (b'{"partition":0,"offset":0,"value":{"a":1}}', "value is not text"),
        (b'{"partition":0,"offset":0,"key_b64":"*","value":"{}"}', "key_b64 is not base64"),
        (b'{"partition":0,"offset":0,"value":"{}","headers":[1,2]}', "headers are not"),
        (b'{"partition":0,"offset":0,"value":"{}","headers":"x"}', "headers are not"),
        (b'{"partition":0,"offset":0,"value":"{}","headers":[{"value":"v"}]}', "headers are"),
    ],
)
def test_a_malformed_dump_line_is_an_invalid_record(line: bytes, detail: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        DumpRecord.from_line(line)
    assert err.value.reason == "invalid dump line"
    assert detail in err.value.detail


def test_replay_reports_a_malformed_dump_line_and_sends_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dump.jsonl"
    bad = b'{"topic":"t","partition":"x","offset":0,"timestamp":null,"value":"{}"}'
    path.write_bytes(b"\n".join([DUMPED, bad, POST]) + b"\n")
    lines = InputLines(str(path), "replay", progress=False)
    sent = list(_outgoing(lines, [0, 1], 500, lines.reject))
    assert [m.value for m in sent] == [POST, POST]
    assert lines.bad == 1
    assert f"{path}:2: invalid dump line: partition is not an integer" in capsys.readouterr().err
    with pytest.raises(InvalidRecord, match="invalid dump line"):
        list(_outgoing([bad], [0], 500))  # without a reject callback
