"""The command line without a broker: simulate, backtest, help, bad settings."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from models.records import Alert, dumps, loads
from streams.cli import build_parser, main


def test_backtest_twice_gives_identical_files_with_the_planted_outage(tmp_path: Path) -> None:
    assert main(["simulate", "--seed", "2", "--out", str(tmp_path)]) == 0
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        args = [
            "backtest",
            str(tmp_path / "posts.jsonl"),
            "--regions",
            str(tmp_path / "regions.geojson"),
            "--out",
            str(out),
        ]
        assert main(args) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    alerts = [Alert.from_wire(loads(line)) for line in outs[0].splitlines()]
    truth = [loads(line) for line in (tmp_path / "truth.jsonl").read_bytes().splitlines()]
    opened = [a for a in alerts if a.status == "opened"]
    assert [list(a.region_ids) for a in opened] == [t["region_ids"] for t in truth[1:]]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["worker"],
        ["topics"],
        ["replay"],
        ["dump"],
        ["backtest"],
        ["alerts"],
        ["alerts", "tail"],
        ["simulate"],
        ["demo"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: groundswell" in capsys.readouterr().out


def test_bad_setting_stops_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("GROUNDSWELL_MIN_AUTHORS", "0")
    assert main(["backtest", "x.jsonl", "--out", str(tmp_path / "o")]) == 2
    assert "GROUNDSWELL_MIN_AUTHORS" in capsys.readouterr().err


def test_a_worker_stops_naming_an_unreachable_broker_after_its_timeout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROUNDSWELL_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("GROUNDSWELL_METRICS_PORT", "0")
    started = time.monotonic()
    assert main(["worker", "--connect-timeout", "1.5"]) == 2
    assert time.monotonic() - started < 30  # a timeout, not a hang
    err = capsys.readouterr().err
    assert "GROUNDSWELL_BOOTSTRAP" in err and "not ready after 1.5 s" in err


def test_a_taken_metrics_port_stops_a_worker_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("GROUNDSWELL_METRICS_PORT", str(taken.getsockname()[1]))
        assert main(["worker", "--connect-timeout", "1"]) == 2
    assert "GROUNDSWELL_METRICS_PORT" in capsys.readouterr().err


def test_a_data_folder_that_cannot_be_made_stops_a_worker_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("GROUNDSWELL_DATA_DIR", str(tmp_path / "file"))
    monkeypatch.setenv("GROUNDSWELL_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("GROUNDSWELL_METRICS_PORT", "0")
    assert main(["worker", "--connect-timeout", "1"]) == 2
    assert "GROUNDSWELL_DATA_DIR" in capsys.readouterr().err


def test_missing_region_file_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["backtest", "x.jsonl", "--regions", str(tmp_path / "none.geojson"), "--out", "o"]
    assert main(args) == 2
    assert "GROUNDSWELL_REGIONS" in capsys.readouterr().err


def test_regions_info_and_locate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--seed", "3", "--out", str(tmp_path)]) == 0
    regions = str(tmp_path / "regions.geojson")
    assert main(["regions", "info", regions, "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert "regions   30" in out and "sha256" in out
    located = tmp_path / "located.jsonl"
    assert (
        main(["locate", str(tmp_path / "posts.jsonl"), "--regions", regions, "--out", str(located)])
        == 0
    )
    rows = [loads(line) for line in located.read_bytes().splitlines()]
    posts = (tmp_path / "posts.jsonl").read_bytes().splitlines()
    assert len(rows) == len(posts)
    assert {r["locate_method"] for r in rows} >= {"coordinates", "place", "unlocated"}
    with_coords = [r for r in rows if r["lon"] is not None]
    assert all(r["region_id"] is not None for r in with_coords)


@pytest.mark.parametrize(
    "command",
    [
        ["classify", "{input}"],
        ["locate", "{input}"],
        ["backtest", "{input}"],
        ["report", "{input}"],
        ["report", "{other}", "--posts", "{input}"],
        ["relevance", "train", "{input}"],
        ["detect-series", "{input}", "--time-col", "t", "--value-col", "v"],
    ],
)
@pytest.mark.parametrize("link", ["same", "relative", "symlink", "hardlink"])
def test_an_output_that_is_an_input_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], link: str
) -> None:
    src = tmp_path / "in.jsonl"
    content = b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T09:00:00Z"}\n'
    src.write_bytes(content)
    other = tmp_path / "other.jsonl"
    other.write_bytes(content)
    out = {
        "same": src,
        "relative": tmp_path / ".." / tmp_path.name / "in.jsonl",
        "symlink": tmp_path / "link.jsonl",
        "hardlink": tmp_path / "hard.jsonl",
    }[link]
    if link == "symlink":
        out.symlink_to(src)
    elif link == "hardlink":
        out.hardlink_to(src)
    argv = [a.format(input=src, other=other) for a in command]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out=" in err and "write elsewhere" in err
    assert src.read_bytes() == content


def test_an_output_that_is_the_region_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--seed", "3", "--out", str(tmp_path)]) == 0
    regions = tmp_path / "regions.geojson"
    before = regions.read_bytes()
    posts = str(tmp_path / "posts.jsonl")
    assert main(["locate", posts, "--regions", str(regions), "--out", str(regions)]) == 2
    assert "is the GROUNDSWELL_REGIONS file" in capsys.readouterr().err
    assert regions.read_bytes() == before


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["classify", "{missing}", "--out", "{out}"], "INPUT"),
        (["locate", "{missing}", "--out", "{out}"], "INPUT"),
        (["backtest", "{missing}", "--out", "{out}"], "INPUT"),
        (["report", "{input}", "--posts", "{missing}", "--out", "{out}"], "--posts"),
        (["relevance", "train", "{missing}", "--out", "{out}"], "LABELLED"),
        (["evaluate", "--alerts", "{missing}", "--truth", "{input}"], "--alerts"),
        (["evaluate", "--alerts", "{input}", "--truth", "{missing}"], "--truth"),
        (["replay", "{missing}"], "FILE"),
        (["classify", "{input}", "--out", "{nowhere}"], "--out"),
        (["locate", "{input}", "--out", "{nowhere}"], "--out"),
        (["backtest", "{input}", "--out", "{nowhere}"], "--out"),
        (["report", "{input}", "--out", "{nowhere}"], "--out"),
        (["dump", "alerts", "--out", "{nowhere}"], "--out"),
        (["relevance", "evaluate", "--out", "{nowhere}"], "--out"),
        (
            [
                "detect-series",
                "{input}",
                "--time-col",
                "t",
                "--value-col",
                "v",
                "--out",
                "{nowhere}",
            ],
            "--out",
        ),
        (["classify", "{input}", "--out", "{folder}"], "--out"),
    ],
)
def test_a_missing_input_or_output_folder_stops_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], named: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T09:00:00Z"}\n')
    paths = {
        "input": src,
        "missing": tmp_path / "missing.jsonl",
        "out": tmp_path / "out.jsonl",
        "nowhere": tmp_path / "no" / "out.jsonl",
        "folder": tmp_path,
    }
    assert main([a.format(**paths) for a in command]) == 2
    assert f"{named}=" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def _lines(path: Path, lines: list[bytes]) -> Path:
    """``path`` holding ``lines``, one a line."""
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


BAD_LINES = [
    b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T09:00:00Z"}',
    b"",
    b'{"id": "3", "text": ',  # line 3: broken JSON
    b'{"delete": {"status": {"id_str": "4"}}}',  # a notice, not a post
    b'{"id": "5", "text": "no 4G", "created_at": "yesterday"}',  # line 5: bad time
    b'{"id": "6", "text": "wifi down", "created_at": "2024-03-04T09:01:00Z"}',
]


@pytest.mark.parametrize("command", ["backtest", "locate"])
def test_bad_lines_are_reported_with_their_numbers_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    src = _lines(tmp_path / "in.jsonl", BAD_LINES)
    out = tmp_path / "out.jsonl"
    assert main([command, str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:3: invalid json" in err and f"{src}:5: invalid created_at" in err
    assert "2 bad line(s), 1 notice(s) that are not posts" in err
    if command == "locate":
        assert [loads(line)["id"] for line in out.read_bytes().splitlines()] == ["1", "6"]


def test_posts_refused_for_their_time_are_counted_not_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A dump of a real feed has late posts: the run is sound, its status 0.
    src = _lines(
        tmp_path / "in.jsonl",
        [
            b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T09:10:00Z"}',
            b'{"id": "2", "text": "wifi down", "created_at": "2024-03-04T09:00:00Z"}',
            b'{"id": "3", "text": "no 4G", "created_at": "2024-03-04T19:00:00Z"}',
            b'{"id": "4", "text": "no 5G", "created_at": "2024-03-04T09:10:30Z"}',
        ],
    )
    assert main(["backtest", str(src), "--out", str(tmp_path / "out.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "0 bad line(s)" in err and "2 post(s) refused for their time" in err


MALFORMED_DUMP = [
    b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T09:01:01Z", "author": "u1"}',
    b'{"topic":"t","partition":"x","offset":0,"timestamp":null,"value":"{}","headers":[]}',
    b'{"topic":"t","partition":0,"offset":1,"value":null,"value_b64":"!!!notbase64"}',
    b'{"topic":"t","partition":0,"offset":2,"value":"{}","headers":"x"}',
    b'{"id": "5", "text": "wifi down", "created_at": "2024-03-04T09:02:00Z", "author": "u5"}',
]


@pytest.mark.parametrize("command", ["classify", "backtest", "locate"])
def test_malformed_dump_lines_are_bad_lines_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    src = _lines(tmp_path / "dump.jsonl", MALFORMED_DUMP)
    out = tmp_path / "out.jsonl"
    assert main([command, str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    for n in (2, 3, 4):
        assert f"{src}:{n}: invalid dump line" in err
    assert "3 bad line(s)" in err
    if command != "backtest":
        assert [loads(line)["id"] for line in out.read_bytes().splitlines()] == ["1", "5"]


def test_malformed_dump_lines_in_the_history_are_reported_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    history = _lines(tmp_path / "history.jsonl", MALFORMED_DUMP)
    monkeypatch.setenv("GROUNDSWELL_HISTORY", str(history))
    src = _lines(tmp_path / "in.jsonl", MALFORMED_DUMP[-1:])
    assert main(["backtest", str(src), "--out", str(tmp_path / "out.jsonl")]) == 0
    err = capsys.readouterr().err
    assert f"{history}:3: invalid dump line: value_b64 is not base64" in err
    assert f"{history}: 3 bad line(s)" in err


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("GROUNDSWELL_REGION_ENCODING", "nope", "unknown encoding 'nope'"),
        ("GROUNDSWELL_REGION_ENCODING", "ascii", "not ascii text"),
        ("GROUNDSWELL_REGION_ID_PROPERTY", "code", "no usable id property 'code'"),
        ("GROUNDSWELL_REGION_NAME_PROPERTY", "nom", "no usable name property 'nom'"),
        ("GROUNDSWELL_REGION_WEIGHT_PROPERTY", "pop", "'pop' must be a number >= 0"),
    ],
)
def test_a_region_option_the_file_does_not_suit_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    problem: str,
) -> None:
    square = {"type": "Polygon", "coordinates": [[[9, 45], [10, 45], [10, 46], [9, 45]]]}
    feature = {"type": "Feature", "properties": {"id": "a", "name": "Città"}, "geometry": square}
    regions = tmp_path / "regions.geojson"
    regions.write_bytes(dumps({"type": "FeatureCollection", "features": [feature]}))
    monkeypatch.setenv(variable, value)
    assert main(["regions", "info", str(regions)]) == 2
    err = capsys.readouterr().err
    assert f"{variable}={value!r}: {regions}: " in err and problem in err


def test_dump_with_a_bad_time_stops_before_touching_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kept.jsonl"
    out.write_bytes(b"earlier dump\n")
    assert main(["dump", "alerts", "--since", "yesterday", "--out", str(out)]) == 2
    assert "--since" in capsys.readouterr().err and out.read_bytes() == b"earlier dump\n"


def test_replay_speed_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _lines(tmp_path / "in.jsonl", BAD_LINES[:1])
    for speed in ("0", "-2"):
        assert main(["replay", str(src), "--speed", speed]) == 2
        assert "--speed" in capsys.readouterr().err
