"""The classify and relevance train|evaluate commands, the relevance_model setting, the bench."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from test_trained import NOT_RELEVANT, RELEVANT

from models.records import Post, dumps, loads
from models.trained import RelevanceModel, TrainedRelevance
from streams.chain import Stages, load_regions, relevance_stage
from streams.cli import build_parser, main
from streams.relevance_cmd import bench_relevance, read_labelled
from streams.settings import Settings

T0 = "2024-02-22T09:30:00Z"


def native(i: int, text: str, **extra: Any) -> bytes:
    return dumps({"id": str(i), "text": text, "created_at": T0, **extra})


def twitter_v1(i: int, text: str) -> bytes:
    return dumps(
        {
            "id_str": str(i),
            "text": text,
            "created_at": "Thu Feb 22 09:30:00 +0000 2024",
            "user": {"id_str": "77"},
            "lang": "en",
        }
    )


def twitter_v2(i: int, texts: list[str]) -> bytes:
    data = [{"id": str(i + n), "text": t, "created_at": T0} for n, t in enumerate(texts)]
    return dumps({"data": data})


def mastodon(i: int, html: str) -> bytes:
    return dumps(
        {
            "id": str(i),
            "content": html,
            "created_at": T0,
            "account": {"acct": "someone@example.social"},
            "language": "en",
        }
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """English lexicon only (fast, and what the models in these tests are trained with)."""
    monkeypatch.setenv("GROUNDSWELL_LANGS", "en")
    monkeypatch.delenv("GROUNDSWELL_RELEVANCE_MODEL", raising=False)
    monkeypatch.delenv("GROUNDSWELL_CONFIG", raising=False)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.jsonl"
    lines = [native(i, t, relevant=True, category="mobile_data") for i, t in enumerate(RELEVANT)]
    lines += [native(100 + i, t, relevant=0) for i, t in enumerate(NOT_RELEVANT)]
    lines.append(twitter_v1(200, "my 4G is not working since noon")[:-1] + b',"relevant":1}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def model_file(env: None, labelled: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model.npz"
    assert main(["relevance", "train", str(labelled), "--out", str(out), "--folds", "3"]) == 0
    return out


# --- classify ------------------------------------------------------------------------------


def test_classify_every_format_and_reports_bad_lines(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        native(1, "no signal on my phone since this morning"),
        twitter_v1(2, "lovely walk in the park today"),
        b"",
        twitter_v2(3, ["internet down again at home", "new phone arrived"]),
        mastodon(5, "<p>my broadband has been down since 7am</p>"),
        b'{"id": "6", "text": ',  # line 6: broken JSON
        b'{"delete": {"status": {"id_str": "7"}}}',  # a notice, not a post
        native(8, "wifi down"),
    ]
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    assert main(["classify", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:6: invalid json" in err
    assert "6 posts, 3 relevant" in err and "1 bad line(s), 1 notice(s)" in err
    rows = [loads(line) for line in out.read_bytes().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5", "8"]
    assert [r["relevant"] for r in rows] == [True, False, True, False, True, False]
    assert rows[0]["category"] == "mobile_data" and rows[1]["lang"] == "en"  # its tag
    assert rows[4]["text"] == "my broadband has been down since 7am"
    for r in rows:
        assert {"relevant", "category", "score", "tech", "lang"} <= r.keys()
        assert "terms" not in r
        assert Post.from_wire(r).id == r["id"]  # still a native post


def test_classify_clean_input_exits_0_and_explains(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(native(1, "4G keeps dropping, no signal") + b"\n")
    out = tmp_path / "out.jsonl"
    assert main(["classify", str(src), "--out", str(out), "--explain"]) == 0
    row = loads(out.read_bytes())
    assert row["tech"] == ["4g"] and "no signal" in row["terms"]
    assert "model_proba" not in row and row["reply"] is False


def test_classify_keeps_the_good_tweets_of_a_response_with_a_bad_one(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = orjson.loads(twitter_v2(1, ["no signal", "wifi down", "internet down"]))
    response["data"][1]["created_at"] = "yesterday"
    src = tmp_path / "in.jsonl"
    src.write_bytes(native(0, "hello") + b"\n" + orjson.dumps(response) + b"\n")
    out = tmp_path / "out.jsonl"
    assert main(["classify", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: invalid created_at: data[1]" in err and "1 bad line(s)" in err
    assert [loads(line)["id"] for line in out.read_bytes().splitlines()] == ["0", "1", "3"]


def test_classify_with_a_model(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        native(1, "no internet connection since last night") + b"\n" + native(2, "hello") + b"\n"
    )
    out = tmp_path / "out.jsonl"
    args = ["classify", str(src), "--out", str(out), "--explain", "--model", str(model_file)]
    assert main(args) == 0
    first, second = (loads(line) for line in out.read_bytes().splitlines())
    model = RelevanceModel.load(model_file)
    assert 0.0 <= first["model_proba"] <= 1.0
    assert first["relevant"] == (first["model_proba"] >= model.threshold)
    assert "model_proba" not in second and second["relevant"] is False


# --- train ---------------------------------------------------------------------------------


def test_train_prints_cross_validated_figures(
    env: None, labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.npz"
    assert main(["relevance", "train", str(labelled), "--out", str(out), "--folds", "3"]) == 0
    text = capsys.readouterr().out
    assert "25 labelled posts, 13 relevant" in text
    assert "lexicon alone" in text and "trained layer, 3-fold CV" in text
    assert "out-of-fold" in text
    model = RelevanceModel.load(out)
    assert model.info["rows"] == 25 and model.info["folds"] == 3
    assert model.info["min_recall"] is None and "recall >= the lexicon's" in text
    args = ["relevance", "train", str(labelled), "--out", str(out), "--min-recall", "0.9"]
    assert main(args) == 0
    assert "recall >= 0.9" in capsys.readouterr().out
    assert RelevanceModel.load(out).info["min_recall"] == 0.9
    assert main([*args[:-1], "1.5"]) == 2  # a bad setting stops with its name
    assert "min_recall" in capsys.readouterr().err
    penalties = ["--folds", "3", "--l2", "0.1", "--l2-evidence", "2.5"]
    assert main([*args[:5], *penalties]) == 0
    info = RelevanceModel.load(out).info
    assert (info["l2"], info["l2_evidence"]) == (0.1, 2.5)
    assert main([*args[:5], "--l2-evidence", "-1"]) == 2
    assert "l2_evidence" in capsys.readouterr().err


def test_read_labelled_accepts_raw_formats_and_reports_bad_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                native(1, "no signal", relevant=True),
                native(2, "hello", relevant="yes"),  # line 2: bad label
                native(3, "hello"),  # line 3: no label
                mastodon(4, "<p>wifi down</p>")[:-1] + b',"relevant":false}',
            ]
        )
    )
    examples, lines = read_labelled(str(path))
    assert [(e.text, e.relevant) for e in examples] == [("no signal", True), ("wifi down", False)]
    assert lines.bad == 2
    err = capsys.readouterr().err
    assert f"{path}:2: invalid relevant" in err and f"{path}:3: invalid relevant" in err


def test_train_with_too_few_examples_is_a_config_error(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.jsonl"
    path.write_bytes(native(1, "no signal", relevant=True) + b"\n")
    assert main(["relevance", "train", str(path), "--out", str(tmp_path / "m.npz")]) == 2
    assert "at least 2" in capsys.readouterr().err


# --- the relevance_model setting -----------------------------------------------------------


def test_setting_makes_the_pipeline_use_the_model(model_file: Path) -> None:
    settings = Settings(langs="en", relevance_model=str(model_file))
    assert isinstance(relevance_stage(settings), TrainedRelevance)
    stages = Stages(settings, load_regions(settings))
    assert isinstance(stages.classifier, TrainedRelevance)
    assert not isinstance(relevance_stage(Settings(langs="en")), TrainedRelevance)


def test_missing_or_corrupt_model_setting_stops_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROUNDSWELL_RELEVANCE_MODEL", str(tmp_path / "none.npz"))
    src = tmp_path / "in.jsonl"
    src.write_bytes(native(1, "x") + b"\n")
    assert main(["classify", str(src), "--out", str(tmp_path / "o")]) == 2
    assert "GROUNDSWELL_RELEVANCE_MODEL" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    monkeypatch.setenv("GROUNDSWELL_RELEVANCE_MODEL", str(bad))
    assert main(["backtest", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "GROUNDSWELL_RELEVANCE_MODEL" in err and "not a relevance model" in err


def test_model_with_other_lexicon_stops_at_start(
    model_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GROUNDSWELL_LANGS", "en,it")
    src = tmp_path / "in.jsonl"
    src.write_bytes(native(1, "x") + b"\n")
    args = ["classify", str(src), "--out", str(tmp_path / "o"), "--model", str(model_file)]
    assert main(args) == 2
    assert "another lexicon" in capsys.readouterr().err


# --- evaluate ------------------------------------------------------------------------------


def test_evaluate_without_shared_data_exits_2(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["relevance", "evaluate", "--data", str(tmp_path / "nowhere")]) == 2
    assert "no shared data" in capsys.readouterr().err


def test_evaluate_writes_markdown_and_exports_outside_the_repo_only(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "shared"
    (data / "posts/indihome-tweets-id").mkdir(parents=True)
    (data / "posts/indihome-tweets-id/tweets_all.csv").write_text(
        "id,text\n1,internet down since this morning\n2,hello there\n3,no signal at all\n"
    )
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "indihome.csv").write_text("id,relevant,category,lang\n1,1,,en\n2,0,,en\n3,0,,en\n")
    md, export = tmp_path / "r.md", tmp_path / "l.jsonl"
    args = ["relevance", "evaluate", "--data", str(data), "--labels", str(labels)]
    assert main([*args, "--out", str(md), "--export-labelled", str(export), "--show-texts"]) == 0
    captured = capsys.readouterr()
    assert md.read_text().strip() == captured.out.strip()
    assert "| data set: indihome | 3 | 1 | 1 | 1 | 0 |" in captured.out
    assert "hello" not in md.read_text() and "no signal at all" in captured.err
    assert len(export.read_bytes().splitlines()) == 3
    inside = Path(__file__).resolve().parents[2] / "labelled-test.jsonl"
    assert main([*args, "--export-labelled", str(inside)]) == 2
    assert not inside.exists()
    assert "outside the repository" in capsys.readouterr().err
    assert main([*args, "--learning-curve", "-1"]) == 2
    assert "--learning-curve" in capsys.readouterr().err
    assert main([*args, "--folds", "0"]) == 2  # checked without --model-cv too
    assert "folds" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["classify"], ["relevance"], ["relevance", "train"], ["relevance", "evaluate"]]
)
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: groundswell" in capsys.readouterr().out


# --- throughput ----------------------------------------------------------------------------


def test_bench_relevance_reports_three_rates(env: None) -> None:
    rows = bench_relevance(runs=1, seeds=1)
    assert [name.split(",")[0] for name, _, _ in rows][:2] == [
        "classify (lexicon alone)",
        "classify (lexicon + trained layer)",
    ]
    assert all(rate > 0 and secs > 0 for _, rate, secs in rows)


def test_dump_lines_are_read_through(env: None, tmp_path: Path) -> None:
    value = native(1, "internet down again").decode()
    line = orjson.dumps(
        {"topic": "t", "partition": 0, "offset": 3, "timestamp": None, "key": None, "value": value}
    )
    src = tmp_path / "dump.jsonl"
    src.write_bytes(line + b"\n")
    out = tmp_path / "out.jsonl"
    assert main(["classify", str(src), "--out", str(out)]) == 0
    assert loads(out.read_bytes())["relevant"] is True
