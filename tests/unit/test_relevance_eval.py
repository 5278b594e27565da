"""Evaluation on hand labels: reading the shared-data formats, joining labels, the report."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from models.errors import ConfigError
from models.formats import decode_raw
from models.records import loads
from models.relevance import Lexicon, RelevanceClassifier
from models.relevance_eval import (
    CURVE_SHARES,
    Counts,
    LabelledPost,
    error_listing,
    evaluate,
    labelled_lines,
    load_labelled,
    report_markdown,
    split_of,
    wilson,
)
from models.trained import TrainConfig, needs_model

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
LABELS = Path(__file__).resolve().parents[1] / "data" / "relevance"

# Invented posts in each source's layout.
TWCS = [
    # tweet_id, author_id, inbound, text, response_tweet_id, in_response_to_tweet_id
    ("10", "501", "True", "no signal at all since this morning", "11", ""),
    ("11", "TMobileHelp", "False", "@501 sorry to hear that, please DM us", "", "10"),
    ("12", "502", "True", "@sprintcare internet down again in my street", "", ""),
    ("13", "503", "True", "@AmazonHelp my parcel is late", "14", ""),
    ("14", "AmazonHelp", "False", "@503 let us check", "", "13"),
    ("15", "504", "True", "thanks, the internet is working again", "", "16.0"),
    ("16", "comcastcares", "False", "@504 we fixed the outage in your area", "15", ""),
    ("17", "505", "True", "@O2UK my wifi router keeps dropping", "", ""),
    ("19", "506", "True", "you gonna fix your towers or nah", "", ""),
]
ACL = [
    ("9001", "my broadband has been down since 7am", "1", "services"),
    ("9002", "love this new jacket", "0", "apparel"),
    ("9003", "the TV network aired the finale last night", "0", "random_tweet"),
]
INDIHOME = [("7001", "internet mati dari pagi"), ("7002", "selamat pagi semua")]
CRISIS = [("3001", "power cut and no phone signal in the whole town"), ("3002", "stay safe")]


def write_csv(path: Path, rows: Sequence[tuple[str, ...]], header: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "shared"
    write_csv(
        root / "posts/twcs-sample/twcs_head5000.csv",
        [
            (str(i), t[0], t[1], t[2], "Tue Oct 31 22:10:47 +0000 2017", *t[3:])
            for i, t in enumerate(TWCS)
        ],
        [
            "",
            "tweet_id",
            "author_id",
            "inbound",
            "created_at",
            "text",
            "response_tweet_id",
            "in_response_to_tweet_id",
        ],
    )
    write_csv(root / "posts/complaints-acl2019/complaints-data.csv", ACL)
    write_csv(root / "posts/indihome-tweets-id/tweets_all.csv", INDIHOME, ["id", "text"])
    crisis = root / "posts/crisislex/CrisisLexT26/2013_X/2013_X-tweets_labeled.csv"
    crisis.parent.mkdir(parents=True)
    lines = ["Tweet ID, Tweet Text, Information Source, Information Type, Informativeness"]
    lines += [f'"{i}","{t}",Outsiders,Other,Related' for i, t in CRISIS]
    crisis.write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def labels_dir(tmp_path: Path) -> Path:
    root = tmp_path / "labels"
    head = ["id", "relevant", "category", "lang"]
    write_csv(
        root / "twcs.csv",
        [
            ("10", "1", "mobile_data", "en"),
            ("12", "1", "fixed_broadband", "en"),
            ("13", "0", "", "en"),
            ("15", "0", "", "en"),
            ("17", "1", "fixed_broadband", "en"),
            ("19", "1", "mobile_data", "en"),  # TEST half, missed by the lexicon
        ],
        head,
    )
    write_csv(
        root / "acl2019.csv",
        [
            ("9001", "1", "fixed_broadband", "en"),
            ("9002", "0", "", "en"),
            ("9003", "0", "", "en"),
            ("9999", "0", "", "en"),  # no such post in the data
            ("9002", "1", "", "en"),  # labelled twice
            ("9004", "maybe", "", "en"),  # bad value
        ],
        head,
    )
    write_csv(
        root / "indihome.csv",
        [("7001", "1", "fixed_broadband", "id"), ("7002", "0", "", "id")],
        head,
    )
    write_csv(
        root / "crisislex.csv",
        [("3001", "1", "total_outage", "en", "2013_X"), ("3002", "0", "", "en", "2013_X")],
        [*head, "event"],
    )
    return root


@pytest.fixture(scope="module")
def clf() -> RelevanceClassifier:
    return RelevanceClassifier(Lexicon.load(["en"]))


def test_labels_join_texts_from_every_source(data_dir: Path, labels_dir: Path) -> None:
    lab = load_labelled(labels_dir, data_dir)
    by_id = {r.id: r for r in lab.rows}
    assert lab.labels_per_set == {"twcs": 6, "acl2019": 4, "indihome": 2, "crisislex": 2}
    assert lab.missing_text == {"acl2019": 1}
    assert len(lab.problems) == 2
    assert any("acl2019.csv:6" in p and "twice" in p for p in lab.problems)
    assert any("acl2019.csv:7" in p and "maybe" in p for p in lab.problems)
    assert by_id["9002"].relevant is False  # the first label is kept
    assert by_id["3001"].text.startswith("power cut") and by_id["3001"].event == "2013_X"
    assert by_id["7001"].lang == "id" and by_id["10"].category == "mobile_data"


def test_operator_directed_posts(data_dir: Path, labels_dir: Path) -> None:
    lab = load_labelled(labels_dir, data_dir)
    directed = {r.id for r in lab.rows if r.operator_directed}
    # 10: answered by TMobileHelp; 12: mentions @sprintcare; 15: in reply to comcastcares
    # 13 is addressed to a shop; 17 mentions @O2UK, which is not @O2
    assert directed == {"10", "12", "15"}


def test_a_set_without_label_file_is_skipped(data_dir: Path, labels_dir: Path) -> None:
    (labels_dir / "crisislex.csv").unlink()
    lab = load_labelled(labels_dir, data_dir)
    assert "crisislex" not in lab.labels_per_set
    assert {r.dataset for r in lab.rows} == {"twcs", "acl2019", "indihome"}


def test_missing_shared_data_is_a_config_error(tmp_path: Path, labels_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"--data.*no shared data"):
        load_labelled(labels_dir, tmp_path / "nowhere")
    (tmp_path / "empty" / "posts").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no texts for twcs"):
        load_labelled(labels_dir, tmp_path / "empty")


def test_counts() -> None:
    c = Counts.of([True, True, True, False], [True, True, False, True])
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 1, 0)
    assert (c.precision, c.recall) == (2 / 3, 2 / 3)
    assert Counts().precision != Counts().precision  # undefined: NaN


def test_split_halves_by_id_hash(data_dir: Path, labels_dir: Path) -> None:
    lab = load_labelled(labels_dir, data_dir)
    halves = {r.id: r.split for r in lab.rows}
    assert set(halves.values()) == {"dev", "test"}
    assert all(split_of(i) == h for i, h in halves.items())
    # the half depends on the id alone: not on the label, the set or the other rows
    assert [split_of(str(i)) for i in range(8)] == [split_of(str(i)) for i in range(8)]
    share = sum(split_of(str(i)) == "test" for i in range(10_000)) / 10_000
    assert 0.48 < share < 0.52


def test_report_has_figures_ids_and_no_texts(
    data_dir: Path, labels_dir: Path, clf: RelevanceClassifier
) -> None:
    lab = load_labelled(labels_dir, data_dir)
    report = evaluate(lab, clf)
    md = report_markdown(report, top=5)
    for header in ("| all |", "| data set: twcs |", "| lang: id |", "operator-directed"):
        assert header in md
    for row in lab.rows:
        assert row.text not in md
    test_at, dev_at, all_at = (md.index(f"#### {h}") for h in ("TEST", "DEV", "ALL"))
    assert test_at < dev_at < all_at
    errors = [o for o in report.lexicon if o.verdict.relevant != o.row.relevant]
    assert {o.row.split for o in errors} == {"dev", "test"}
    listing = error_listing(report, top=5)
    for o in errors:  # only DEV errors are listed, by id and with texts
        assert (f"| {o.row.id} | {o.row.dataset} |" in md) == (o.row.split == "dev")
        assert (o.row.text in listing) == (o.row.split == "dev")
    for half, start, end in (("test", test_at, dev_at), ("all", all_at, len(md))):
        twcs = [
            o for o in report.lexicon if o.row.dataset == "twcs" and half in ("all", o.row.split)
        ]
        c = Counts.of((o.row.relevant for o in twcs), (o.verdict.relevant for o in twcs))
        row = f"| data set: twcs | {len(twcs)} | {c.tp + c.fn} | {c.tp} | {c.fp} | {c.fn} |"
        assert row in md[start:end], half


def test_model_cv_section(data_dir: Path, labels_dir: Path, clf: RelevanceClassifier) -> None:
    lab = load_labelled(labels_dir, data_dir)
    report = evaluate(lab, clf, TrainConfig(folds=2, seed=0))
    assert len(report.model) == len(report.lexicon) and len(report.fold_thresholds) == 2
    md = report_markdown(report, at_recall=0.5)
    assert "Trained layer (2-fold cross-validated)" in md
    assert "Out-of-fold precision at recall >= 0.5" in md
    for half in ("TEST", "DEV", "ALL"):
        assert f"| all | {half} |" in md
    for o in report.model:
        assert (o.proba is None) == (not needs_model(clf.classify_text(o.row.text)))


def test_learning_curve_section(data_dir: Path, labels_dir: Path, clf: RelevanceClassifier) -> None:
    lab = load_labelled(labels_dir, data_dir)
    assert evaluate(lab, clf, TrainConfig(folds=2)).curve == ()
    report = evaluate(lab, clf, TrainConfig(folds=2, seed=3), curve_seeds=2)
    assert [p.share for p in report.curve] == list(CURVE_SHARES)
    assert all(len(p.proba) == 2 for p in report.curve)
    # the full share with another fold seed is scored by other models
    whole = report.curve[-1].proba
    assert not np.array_equal(whole[0], whole[1], equal_nan=True)
    md = report_markdown(report, at_recall=0.5)
    start = md.index("#### Learning curve")
    curve = md[start : md.index("#### TEST", start)]
    assert "over fold seeds 3 to 4" in curve
    assert "| share of labels | all TEST | all DEV | all ALL |" in curve
    for share in ("0.25", "0.5", "0.75", "1"):
        assert f"\n| {share} | " in curve


def test_tables_give_wilson_intervals(
    data_dir: Path, labels_dir: Path, clf: RelevanceClassifier
) -> None:
    lab = load_labelled(labels_dir, data_dir)
    md = report_markdown(evaluate(lab, clf))
    assert "| precision 95 % | recall 95 % |" in md
    low, high = wilson(3, 4)
    assert 0.0 < low < 0.75 < high < 1.0
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    wide, narrow = wilson(22, 41), wilson(220, 410)
    assert wide[1] - wide[0] > 2.5 * (narrow[1] - narrow[0])


def test_labelled_lines_are_posts_with_labels(data_dir: Path, labels_dir: Path) -> None:
    lab = load_labelled(labels_dir, data_dir)
    lines = list(labelled_lines(lab.rows))
    assert len(lines) == len(lab.rows)
    first = loads(lines[0])
    assert {"relevant", "category", "dataset", "text", "id"} <= first.keys()
    posts = decode_raw(lines[0]).posts
    assert posts[0].text == lab.rows[0].text and posts[0].lang == lab.rows[0].lang
    crisis = next(r for r in lab.rows if r.id == "3001")
    assert crisis.post().created_at_ms == 946_684_800_000  # not a Twitter id: placeholder
    big = LabelledPost("x", "1903646876571938831", "t", True, None, None)
    assert big.post().created_at_ms == (1903646876571938831 >> 22) + 1_288_834_974_657


@pytest.mark.skipif(not (SHARED / "posts").is_dir(), reason="no ../shared/data")
def test_real_labels_join_their_texts(clf: RelevanceClassifier) -> None:
    lab = load_labelled(LABELS, SHARED)
    assert sum(lab.labels_per_set.values()) >= len(lab.rows)
    report_markdown(evaluate(lab, clf))
