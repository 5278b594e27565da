"""Measure the relevance stage on hand labels: precision, recall and F1 per data set, per
language and for English operator-directed posts.

Every labelled post belongs to one of two halves, DEV or TEST, by the parity of the
SHA-256 of its id (:func:`split_of`): lexicons are tuned on DEV errors only, TEST is the
headline figure, and the report shows DEV, TEST and ALL. Only DEV errors are listed.

Labels are CSV files keyed by post id only, ``<labels>/<set>.csv`` with columns ``id,
relevant, category, lang`` (crisislex also ``event``); :data:`SOURCES` says where each set's
texts are in the shared data folder. Nothing here copies a text anywhere: the markdown
report names posts by id; only :func:`error_listing` (for a terminal) and
:func:`labelled_lines` (for a file the user names) carry texts.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.errors import ConfigError
from models.records import Post, dumps
from models.relevance import CATEGORIES, Relevance, RelevanceClassifier
from models.timeutil import MAX_EVENT_MS, MIN_EVENT_MS
from models.trained import (
    Example,
    Featurizer,
    TrainConfig,
    TrainingSet,
    choose_threshold,
    cross_validate,
    model_verdict,
    out_of_fold,
)

__all__ = [
    "OPERATORS",
    "SOURCES",
    "SPLITS",
    "Counts",
    "Labelled",
    "LabelledPost",
    "Outcome",
    "Report",
    "error_listing",
    "evaluate",
    "labelled_lines",
    "load_labelled",
    "report_markdown",
    "split_of",
    "wilson",
]

# Telecom customer-care accounts in the twcs sample: "operator-directed" means addressed to one.
OPERATORS = (
    "sprintcare",
    "TMobileHelp",
    "VerizonSupport",
    "comcastcares",
    "Ask_Spectrum",
    "CoxHelp",
    "O2",
    "Safaricom_Care",
)
_MENTION = re.compile(
    r"@(" + "|".join(re.escape(h) for h in OPERATORS) + r")(?![A-Za-z0-9_])", re.IGNORECASE
)
_OPERATOR_IDS = frozenset(h.lower() for h in OPERATORS)
_DIRECTED = "English operator-directed (twcs)"
_TWITTER_EPOCH_MS = 1_288_834_974_657
_TRUE, _FALSE = frozenset({"1", "true", "yes"}), frozenset({"0", "false", "no"})
SPLITS = ("dev", "test")


def split_of(post_id: str) -> str:
    """The half a labelled post belongs to: ``"test"`` when the SHA-256 of its id is odd,
    else ``"dev"`` (deterministic, independent of the label and of the other posts).

    >>> split_of("2"), split_of("3"), split_of("1903646876571938831")
    ('test', 'dev', 'dev')
    """
    return SPLITS[hashlib.sha256(post_id.encode()).digest()[-1] & 1]


@dataclass(frozen=True)
class SourcePost:
    """A text from the shared data and whether it is addressed to a telecom operator."""

    text: str
    operator_directed: bool = False


def _rows(path: Path, header: bool = True) -> Iterator[dict[str, str]]:
    """CSV rows as dicts with stripped column names (a headerless file: columns 0, 1...)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        names = [h.strip() for h in next(reader, [])] if header else None
        for row in reader:
            keys = names if names is not None else [str(i) for i in range(len(row))]
            yield dict(zip(keys, row, strict=False))


def _clean_id(value: str | None) -> str:
    return (value or "").strip().strip("'\"").strip()


def _read_twcs(path: Path) -> dict[str, SourcePost]:
    rows = list(_rows(path))
    author = {_clean_id(r.get("tweet_id")): (r.get("author_id") or "").lower() for r in rows}
    out = {}
    for r in rows:
        text = r.get("text") or ""
        directed = False
        if r.get("inbound") == "True":
            linked = (r.get("response_tweet_id") or "").split(",")
            linked.append((r.get("in_response_to_tweet_id") or "").removesuffix(".0"))
            directed = bool(_MENTION.search(text)) or any(
                author.get(_clean_id(i)) in _OPERATOR_IDS for i in linked
            )
        out[_clean_id(r.get("tweet_id"))] = SourcePost(text, directed)
    return out


def _read_columns(
    id_col: str, text_col: str, header: bool = True
) -> Callable[[Path], dict[str, SourcePost]]:
    def read(path: Path) -> dict[str, SourcePost]:
        out: dict[str, SourcePost] = {}
        for r in _rows(path, header):
            out.setdefault(_clean_id(r.get(id_col)), SourcePost(r.get(text_col) or ""))
        return out

    return read


@dataclass(frozen=True)
class Source:
    """Where a labelled set's texts are, under the shared data folder."""

    pattern: str
    read: Callable[[Path], dict[str, SourcePost]]


SOURCES: dict[str, Source] = {
    "twcs": Source("posts/twcs-sample/twcs_head5000.csv", _read_twcs),
    "acl2019": Source(
        "posts/complaints-acl2019/complaints-data.csv", _read_columns("0", "1", header=False)
    ),
    "indihome": Source("posts/indihome-tweets-id/tweets_all.csv", _read_columns("id", "text")),
    "crisislex": Source(
        "posts/crisislex/CrisisLexT26/*/*-tweets_labeled.csv",
        _read_columns("Tweet ID", "Tweet Text"),
    ),
}


# --- labels --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledPost:
    """One hand label joined with its text."""

    dataset: str
    id: str
    text: str
    relevant: bool
    category: str | None
    lang: str | None
    operator_directed: bool = False
    event: str | None = None

    @property
    def split(self) -> str:
        """``"dev"`` or ``"test"`` (:func:`split_of` of the id)."""
        return split_of(self.id)

    def post(self) -> Post:
        """As a native post; ``created_at`` is the time in a Twitter id, else 2000-01-01."""
        ms = MIN_EVENT_MS
        if self.id.isdigit() and int(self.id) > 1 << 32:
            ms = (int(self.id) >> 22) + _TWITTER_EPOCH_MS
        ms = ms if MIN_EVENT_MS <= ms < MAX_EVENT_MS else MIN_EVENT_MS
        return Post(id=self.id, text=self.text, created_at_ms=ms, lang=self.lang)


@dataclass(frozen=True)
class Labelled:
    """The labelled posts found, with what could not be used."""

    rows: tuple[LabelledPost, ...]
    labels_per_set: dict[str, int]
    missing_text: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def _parse_label(row: dict[str, str], where: str) -> tuple[bool, str | None, str | None]:
    raw = (row.get("relevant") or "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ValueError(f"{where}: relevant={raw!r} is not 0/1")
    category = (row.get("category") or "").strip() or None
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"{where}: unknown category {category!r}")
    lang = (row.get("lang") or "").strip().lower() or None
    return raw in _TRUE, category, lang


def load_labelled(labels_dir: str | Path, data_dir: str | Path) -> Labelled:
    """The hand labels in ``labels_dir`` joined with their texts from ``data_dir``.

    Sets without a label file are skipped; unusable label rows (bad value, duplicate id)
    are left out and listed in ``problems``. A set whose labels exist but whose texts are
    missing is a :class:`ConfigError` naming the ``--data`` folder.
    """
    labels_dir, data_dir = Path(labels_dir), Path(data_dir)
    if not (data_dir / "posts").is_dir():
        raise ConfigError("--data", str(data_dir), "no shared data here (expected a posts/ folder)")
    rows: list[LabelledPost] = []
    per_set: dict[str, int] = {}
    missing: dict[str, int] = {}
    problems: list[str] = []
    for name, source in SOURCES.items():
        label_file = labels_dir / f"{name}.csv"
        if not label_file.is_file():
            continue
        files = sorted(data_dir.glob(source.pattern))
        if not files:
            raise ConfigError("--data", str(data_dir), f"no texts for {name}: {source.pattern}")
        texts: dict[str, SourcePost] = {}
        for f in files:
            for key, value in source.read(f).items():
                texts.setdefault(key, value)
        seen: set[str] = set()
        for line, r in enumerate(_rows(label_file), 2):
            where = f"{label_file.name}:{line}"
            post_id = _clean_id(r.get("id"))
            try:
                if not post_id:
                    raise ValueError(f"{where}: no id")
                if post_id in seen:
                    raise ValueError(f"{where}: id {post_id} labelled twice, first label kept")
                relevant, category, lang = _parse_label(r, where)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            seen.add(post_id)
            per_set[name] = per_set.get(name, 0) + 1
            src = texts.get(post_id)
            if src is None:
                missing[name] = missing.get(name, 0) + 1
                continue
            rows.append(
                LabelledPost(
                    dataset=name,
                    id=post_id,
                    text=src.text,
                    relevant=relevant,
                    category=category,
                    lang=lang,
                    operator_directed=src.operator_directed,
                    event=(r.get("event") or "").strip() or None,
                )
            )
    return Labelled(tuple(rows), per_set, missing, tuple(problems))


def labelled_lines(rows: Iterable[LabelledPost]) -> Iterator[bytes]:
    """The LABELLED JSON lines ``relevance train`` reads: a native post plus ``relevant``,
    ``category`` and ``dataset``. They hold texts: write them only where the user asks."""
    for r in rows:
        wire = r.post().to_wire()
        wire.update(relevant=r.relevant, category=r.category, dataset=r.dataset)
        yield dumps(wire)


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Binary confusion counts.

    >>> c = Counts.of([True, True, False, False], [True, False, True, False])
    >>> c, c.precision, c.recall, round(c.f1, 3)
    (Counts(tp=1, fp=1, fn=1, tn=1), 0.5, 0.5, 0.5)
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def of(cls, truth: Iterable[bool], predicted: Iterable[bool]) -> Counts:
        t = np.asarray(list(truth), dtype=bool)
        p = np.asarray(list(predicted), dtype=bool)
        return cls(
            int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((~t & ~p).sum())
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else float("nan")

    @property
    def precision_interval(self) -> tuple[float, float]:
        return wilson(self.tp, self.tp + self.fp)

    @property
    def recall_interval(self) -> tuple[float, float]:
        return wilson(self.tp, self.tp + self.fn)


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``hits``/``n`` (95 % for the default
    ``z``); (NaN, NaN) when ``n`` is 0. With a few dozen posts behind a figure it spans
    tenths: 22 of 41 is 0.54, between 0.39 and 0.68.

    >>> [round(x, 3) for x in wilson(22, 41)]
    [0.387, 0.679]
    >>> wilson(0, 0)
    (nan, nan)
    """
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Outcome:
    """One labelled post and the stage's verdict on it (``proba``: the model's, if any)."""

    row: LabelledPost
    verdict: Relevance
    proba: float | None = None


@dataclass(frozen=True, eq=False)
class CurvePoint:
    """The trained layer's out-of-fold probabilities over the labelled rows (NaN: not
    scored), one array per fold seed, with models fitted on ``share`` of each training
    split (:func:`~models.trained.out_of_fold`)."""

    share: float
    proba: tuple[np.ndarray, ...]


# The shares of the labels a learning curve trains on.
CURVE_SHARES = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Report:
    """Lexicon outcomes, and the trained layer's cross-validated ones when asked for (and
    its learning curve, when asked for too)."""

    labelled: Labelled
    langs: tuple[str, ...]
    lexicon: tuple[Outcome, ...]
    model: tuple[Outcome, ...] = ()
    model_config: TrainConfig | None = None
    fold_thresholds: tuple[float, ...] = ()
    curve: tuple[CurvePoint, ...] = ()


def evaluate(
    labelled: Labelled,
    classifier: RelevanceClassifier,
    model_cv: TrainConfig | None = None,
    curve_seeds: int = 0,
) -> Report:
    """Run the lexicon on every labelled post (the text only: a label's ``lang`` is the
    truth to group by, not an input) and, with ``model_cv``, cross-validate the trained
    layer on the same rows (each fold scored by a model fitted on the other folds); with
    ``curve_seeds`` too, its learning curve: out-of-fold probabilities for each of
    :data:`CURVE_SHARES` and fold seeds ``model_cv.seed`` onwards."""
    rows = labelled.rows
    lexicon = tuple(Outcome(r, classifier.classify_text(r.text)) for r in rows)
    if model_cv is None or not rows:
        return Report(labelled, classifier.langs, lexicon)
    featurizer = Featurizer(model_cv.features, classifier.lexicon)
    examples = [Example(r.text, r.relevant) for r in rows]
    data = TrainingSet.build(examples, classifier, featurizer)
    cv = cross_validate(data, model_cv)

    def proba(share: float, k: int) -> np.ndarray:
        if share == 1.0 and k == 0:  # the cross-validation above
            return cv.proba
        return out_of_fold(data, model_cv, model_cv.seed + k, share)

    curve = tuple(
        CurvePoint(share, tuple(proba(share, k) for k in range(curve_seeds)))
        for share in (CURVE_SHARES if curve_seeds > 0 else ())
    )
    model = tuple(
        Outcome(o.row, o.verdict)
        if np.isnan(p)
        else Outcome(o.row, model_verdict(o.verdict, float(p), float(cut), featurizer), float(p))
        for o, p, cut in zip(lexicon, cv.proba, cv.cuts, strict=True)
    )
    return Report(labelled, classifier.langs, lexicon, model, model_cv, cv.thresholds, curve)


def _subsets(outcomes: Sequence[Outcome]) -> list[tuple[str, list[Outcome]]]:
    """(name, outcomes) for: all, each data set, each label language, operator-directed."""
    out = [("all", list(outcomes))]
    for name in SOURCES:
        picked = [o for o in outcomes if o.row.dataset == name]
        if picked:
            out.append((f"data set: {name}", picked))
    for lang in sorted({o.row.lang or "?" for o in outcomes}):
        out.append((f"lang: {lang}", [o for o in outcomes if (o.row.lang or "?") == lang]))
    directed = [o for o in outcomes if o.row.operator_directed]
    if directed:
        out.append((_DIRECTED, directed))
    return out


def _fmt(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"  # NaN: undefined (no positive predicted or labelled)


def _interval(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return "–" if low != low else f"{low:.2f}–{high:.2f}"


def _table(outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
        "| subset | posts | relevant | TP | FP | FN | precision | recall | F1 "
        "| precision 95 % | recall 95 % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, picked in _subsets(outcomes):
        c = Counts.of((o.row.relevant for o in picked), (o.verdict.relevant for o in picked))
        lines.append(
            f"| {name} | {len(picked)} | {c.tp + c.fn} | {c.tp} | {c.fp} | {c.fn} | "
            f"{_fmt(c.precision)} | {_fmt(c.recall)} | {_fmt(c.f1)} | "
            f"{_interval(c.precision_interval)} | {_interval(c.recall_interval)} |"
        )
    return lines


def _category_line(outcomes: Sequence[Outcome]) -> str:
    judged = [o for o in outcomes if o.row.relevant and o.verdict.relevant and o.row.category]
    right = sum(o.verdict.category == o.row.category for o in judged)
    share = _fmt(right / len(judged)) if judged else "–"
    return f"Category accuracy on true positives with a labelled category: {share} " + (
        f"({right}/{len(judged)})."
    )


def _errors(outcomes: Sequence[Outcome], top: int) -> tuple[list[Outcome], list[Outcome]]:
    """The most confident false positives and the nearest-miss false negatives of DEV."""
    dev = [o for o in outcomes if o.row.split == "dev"]
    fps = [o for o in dev if o.verdict.relevant and not o.row.relevant]
    fns = [o for o in dev if o.row.relevant and not o.verdict.relevant]
    fps.sort(key=lambda o: (-o.verdict.score, o.row.dataset, o.row.id))
    fns.sort(key=lambda o: (-(o.proba or 0.0), -len(o.verdict.terms), o.row.dataset, o.row.id))
    return fps[:top], fns[:top]


def _error_rows(kind: str, outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
        f"{kind}:",
        "",
        "| id | data set | lang | score | model p | matched terms |",
        "|---|---|---|---:|---:|---|",
    ]
    for o in outcomes:
        p = "" if o.proba is None else f"{o.proba:.3f}"
        terms = ", ".join(o.verdict.terms) or "(none)"
        lines.append(
            f"| {o.row.id} | {o.row.dataset} | {o.row.lang or '?'} | {o.verdict.score:.2f} "
            f"| {p} | {terms} |"
        )
    if not outcomes:
        lines.append("| (none) | | | | | |")
    return [*lines, ""]


_HALVES = (
    ("test", "TEST half (headline; never used for tuning)"),
    ("dev", "DEV half (lexicon errors studied here)"),
    ("all", "ALL"),
)


def _section(title: str, intro: list[str], outcomes: Sequence[Outcome], top: int) -> list[str]:
    lines = [f"### {title}", "", *intro]
    for half, name in _HALVES:
        picked = [o for o in outcomes if half in ("all", o.row.split)]
        lines += [f"#### {name}", "", *_table(picked), "", _category_line(picked), ""]
    fps, fns = _errors(outcomes, top)
    return [
        *lines,
        *_error_rows(f"Top {top} DEV false positives (most confident first)", fps),
        *_error_rows(f"Top {top} DEV false negatives (nearest misses first)", fns),
    ]


def report_markdown(report: Report, top: int = 10, at_recall: float = 0.7) -> str:
    """The report as markdown for BENCHMARKS.md: figures, ids and matched terms, no texts;
    for the trained layer also the out-of-fold precision at recall >= ``at_recall``."""
    lab = report.labelled
    sets = ", ".join(f"{k} {v}" for k, v in lab.labels_per_set.items()) or "none"
    missing = ", ".join(f"{k} {v}" for k, v in lab.missing_text.items()) or "none"
    halves = ", ".join(f"{h.upper()} {sum(r.split == h for r in lab.rows)}" for h in SPLITS)
    lines = [
        "## Relevance on hand labels",
        "",
        f"Labels per set: {sets}; posts whose text was not found: {missing}; "
        f"unusable label rows: {len(lab.problems)}. Lexicon languages: "
        f"{', '.join(report.langs)}. The classifier sees the text only; `lang` is the "
        "labelled language. Posts are split by the SHA-256 of their id (odd: TEST, even: "
        f"DEV): {halves}; lexicons are tuned on DEV errors only, TEST is the headline. "
        "The 95 % columns are Wilson score intervals of the counts: how far the figure "
        "could move on other posts like these (a few dozen relevant posts span tenths).",
        "",
        *_section("Lexicon", [], report.lexicon, top),
    ]
    cfg = report.model_config
    if cfg is not None:
        cuts = ", ".join(f"{t:.3f}" for t in report.fold_thresholds)
        keep = "the lexicon's" if cfg.min_recall is None else f"{cfg.min_recall:g}"
        how = (
            f"fixed at {cfg.threshold}"
            if cfg.threshold is not None
            else "chosen on each training split alone (best out-of-fold precision at recall "
            f">= {keep} on the split, nested cross-validation): {cuts}"
        )
        intro = [
            f"{cfg.folds}-fold stratified cross-validation (seed {cfg.seed}, l2 {cfg.l2}, "
            f"{cfg.l2_evidence} on the lexicon's evidence) over all labelled posts: each post "
            "is scored by a model fitted on the other folds "
            f"only; threshold {how}. The model's candidates are the posts with a lexicon term "
            "or an operator's name that are not operator replies; the others count as "
            "misses.",
            "",
            *_curve_table(report, at_recall),
            "",
            *_learning_curve(report, at_recall),
        ]
        title = f"Trained layer ({cfg.folds}-fold cross-validated)"
        lines += _section(title, intro, report.model, top)
    return "\n".join(lines)


def _at_recall(truth: np.ndarray, proba: np.ndarray, at_recall: float) -> tuple[float, Counts]:
    """The most precise single cut on ``proba`` (NaN: not scored, never relevant) whose
    recall reaches ``at_recall`` (:func:`~models.trained.choose_threshold`), and the counts
    there."""
    scored = ~np.isnan(proba)
    cut = choose_threshold(truth[scored], proba[scored], int(truth.sum()), at_recall)
    return cut, Counts.of(truth, proba >= cut)  # NaN compares false: never relevant


def _curve_columns(rows: Sequence[LabelledPost]) -> list[tuple[str, str, np.ndarray]]:
    """(subset, half, row mask) for all posts and the English operator-directed ones,
    each by half."""
    directed = np.array([r.operator_directed for r in rows], dtype=bool)
    subsets = [("all", np.ones(len(rows), dtype=bool))]
    if directed.any():
        subsets.append((_DIRECTED, directed))
    split = np.array([r.split for r in rows])
    return [
        (name, half.upper(), mask & (split == half) if half != "all" else mask)
        for name, mask in subsets
        for half, _ in _HALVES
    ]


def _curve_table(report: Report, at_recall: float) -> list[str]:
    """Precision where the pooled out-of-fold probabilities first reach ``at_recall``:
    a summary of the precision-recall curve per half, not a deployable operating point."""
    lines = [
        f"Out-of-fold precision at recall >= {at_recall:g} (the best single cut on the pooled "
        "out-of-fold probabilities of the subset; a curve summary, not the operating point "
        "above):",
        "",
        "| subset | half | cut | precision | recall | precision 95 % |",
        "|---|---|---:|---:|---:|---:|",
    ]
    truth = np.array([o.row.relevant for o in report.model], dtype=bool)
    proba = np.array([np.nan if o.proba is None else o.proba for o in report.model])
    for name, half, mask in _curve_columns([o.row for o in report.model]):
        cut, c = _at_recall(truth[mask], proba[mask], at_recall)
        lines.append(
            f"| {name} | {half} | {cut:.3f} | {_fmt(c.precision)} | {_fmt(c.recall)} "
            f"| {_interval(c.precision_interval)} |"
        )
    return lines


def _learning_curve(report: Report, at_recall: float) -> list[str]:
    """The out-of-fold precision at ``at_recall`` against the share of the labels trained
    on: median and range over the fold seeds."""
    if not report.curve or report.model_config is None:
        return []
    first_seed = report.model_config.seed
    rows = report.labelled.rows
    truth = np.array([r.relevant for r in rows], dtype=bool)
    columns = _curve_columns(rows)
    seeds = len(report.curve[0].proba)
    lines = [
        "#### Learning curve",
        "",
        f"Out-of-fold precision at recall >= {at_recall:g} (as above) with each model fitted "
        "on a share of its training folds (the same stratified draw whichever fold is "
        "scored; the scored fold is whole), median and range over fold seeds "
        f"{first_seed} to {first_seed + seeds - 1}. A "
        "precision still rising at the full share says more labels would raise it; the "
        "range is the spread the fold draw alone gives.",
        "",
        "| share of labels | " + " | ".join(f"{n} {h}" for n, h, _ in columns) + " |",
        "|---:|" + "---:|" * len(columns),
    ]
    for point in report.curve:
        cells = []
        for _, _, mask in columns:
            got = [_at_recall(truth[mask], p[mask], at_recall)[1].precision for p in point.proba]
            cells.append(f"{_fmt(float(np.median(got)))} ({_fmt(min(got))}–{_fmt(max(got))})")
        lines.append(f"| {point.share:g} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def error_listing(report: Report, top: int = 10) -> str:
    """The top DEV false positives and negatives with their texts, for a terminal only."""
    lines = []
    for title, outcomes in (("lexicon", report.lexicon), ("trained layer (CV)", report.model)):
        if not outcomes:
            continue
        fps, fns = _errors(outcomes, top)
        for kind, picked in (("false positive", fps), ("false negative", fns)):
            for o in picked:
                text = " ".join(o.row.text.split())
                terms = ", ".join(o.verdict.terms) or "-"
                lines.append(f"[{title}] {kind} {o.row.dataset}:{o.row.id} ({terms}): {text}")
    return "\n".join(lines)
