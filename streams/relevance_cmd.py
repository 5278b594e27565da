"""The ``classify`` and ``relevance train|evaluate`` commands, and the stage's throughput.

``classify`` writes each post of the input (any supported raw format, or a dump) as a
native post with the relevance fields added. A line that cannot be read is reported with
its number and counted; the run goes on and exits with status 1 when any line was bad
(Twitter notices that are not posts, such as deletions, are counted but are not bad).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from models.errors import ConfigError, InvalidRecord
from models.formats import load_raw, normalize_raw
from models.records import Post, dumps
from models.relevance import Relevance, RelevanceClassifier
from models.trained import Example, TrainConfig, TrainedRelevance, needs_model, train
from streams.files import SHOW_BAD, InputLines, check_files
from streams.settings import Settings

_LABEL_KEYS = ("relevant", "category", "dataset", "event")  # not part of a post


def relevance_fields(verdict: Relevance, proba: float | None, explain: bool) -> dict[str, Any]:
    """The fields ``classify`` adds to a post; ``explain`` adds the matched terms, the
    operator account that wrote it (if so), whether it reads as an operator's reply and the
    model's probability (if asked).

    >>> fields = relevance_fields(Relevance(True, "sms", 0.75, ("sms",), (), "en"), 0.9, True)
    >>> fields["relevant"], fields["category"], fields["terms"], fields["model_proba"]
    (True, 'sms', ['sms'], 0.9)
    """
    out: dict[str, Any] = {
        "relevant": verdict.relevant,
        "category": verdict.category,
        "score": verdict.score,
        "tech": list(verdict.tech),
        "lang": verdict.lang,
        "brands": list(verdict.brands),
    }
    if explain:
        out["terms"] = list(verdict.terms)
        out["operator"] = verdict.operator
        out["reply"] = verdict.reply
        if proba is not None:
            out["model_proba"] = round(proba, 4)
    return out


def _explain(
    stage: RelevanceClassifier | TrainedRelevance, post: Post
) -> tuple[Relevance, float | None]:
    if isinstance(stage, TrainedRelevance):
        return stage.explain(post)
    return stage.classify(post), None


def cmd_classify(args: argparse.Namespace) -> int:
    from streams.chain import relevance_stage

    settings = Settings.from_env().with_overrides(relevance_model=args.model)
    check_files([("INPUT", args.input), *settings.input_files()], args.out)
    stage = relevance_stage(settings)
    lines = InputLines(args.input, "classify")
    posts = relevant = 0
    with open(args.out, "wb") as out:
        for post in lines.posts():
            verdict, proba = _explain(stage, post)
            row = post.to_wire()
            row.update(relevance_fields(verdict, proba, args.explain))
            out.write(dumps(row) + b"\n")
            posts += 1
            relevant += verdict.relevant
    print(f"{posts} posts, {relevant} relevant -> {args.out}; {lines.summary()}", file=sys.stderr)
    return 1 if lines.bad else 0


def _label(obj: Any) -> tuple[bool, Any]:
    """(relevant, the post object without the label keys) of one LABELLED line."""
    if not isinstance(obj, dict):
        raise InvalidRecord("not an object", type(obj).__name__)
    value = obj.get("relevant")
    if value not in (True, False, 0, 1) or isinstance(value, float):
        raise InvalidRecord("invalid relevant", f"relevant={value!r}; expected true/false/0/1")
    return bool(value), {k: v for k, v in obj.items() if k not in _LABEL_KEYS}


def read_labelled(path: str) -> tuple[list[Example], InputLines]:
    """The examples of a LABELLED JSON-lines file (bad lines reported and counted)."""
    lines = InputLines(path, "read")
    examples: list[Example] = []
    for line in lines:
        try:
            relevant, obj = _label(load_raw(line))
            posts = lines.kept(normalize_raw(obj))
        except InvalidRecord as exc:
            lines.reject(exc)
            continue
        examples += [Example(p.text, relevant, p.lang, p.author) for p in posts]
    return examples, lines


def _figures(name: str, truth: Iterable[bool], predicted: Iterable[bool]) -> str:
    from models.relevance_eval import Counts

    c = Counts.of(truth, predicted)
    return (
        f"{name:34} precision {c.precision:.3f}  recall {c.recall:.3f}  F1 {c.f1:.3f}  "
        f"(TP {c.tp}, FP {c.fp}, FN {c.fn})"
    )


def _train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        folds=args.folds,
        seed=args.seed,
        l2=args.l2,
        l2_evidence=args.l2_evidence,
        threshold=args.threshold,
        min_recall=args.min_recall,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from streams.chain import lexicon_classifier

    config = _train_config(args)
    settings = Settings.from_env()
    check_files([("LABELLED", args.labelled), *settings.input_files()], args.out)
    classifier = lexicon_classifier(settings)
    examples, lines = read_labelled(args.labelled)
    result = train(examples, classifier, config)
    result.model.save(args.out)
    data, cv, model = result.data, result.cv, result.model
    how = "given" if config.threshold is not None else "chosen inside each training split"
    print(
        f"{len(examples)} labelled posts, {int(data.y.sum())} relevant, "
        f"{int(data.gated.sum())} model candidates (a lexicon term or an operator's name); "
        f"{lines.summary()}"
    )
    print(_figures("lexicon alone", data.y, data.lexicon))
    print(_figures(f"trained layer, {config.folds}-fold CV", data.y, cv.relevant))
    print(
        f"  (out-of-fold figures; threshold {how}: {', '.join(f'{t:.3f}' for t in cv.thresholds)})"
    )
    keep = "the lexicon's" if config.min_recall is None else f"{config.min_recall:g}"
    rule = (
        "given"
        if config.threshold is not None
        else f"best out-of-fold precision at recall >= {keep}"
    )
    print(f"model -> {args.out} (threshold {model.threshold:.3f}, {rule})")
    return 1 if lines.bad else 0


def _outside_repository(path: str, option: str) -> None:
    """Refuse to write texts inside this source tree, where they could be committed."""
    root = Path(__file__).resolve().parents[1]
    target = Path(path).resolve()
    if (root / ".git").exists() and target.is_relative_to(root):
        raise ConfigError(option, path, "holds post texts; write it outside the repository")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.relevance_eval import (
        error_listing,
        evaluate,
        labelled_lines,
        load_labelled,
        report_markdown,
    )
    from streams.chain import lexicon_classifier

    if args.learning_curve < 0:
        raise ConfigError("--learning-curve", args.learning_curve, "must be >= 0")
    checked = _train_config(args)  # even when the trained layer is not evaluated
    config = checked if args.model_cv or args.learning_curve else None
    if args.out:
        check_files([], args.out)
    if args.export_labelled:
        _outside_repository(args.export_labelled, "--export-labelled")
        check_files([], args.export_labelled, "--export-labelled")
    labelled = load_labelled(args.labels, args.data)
    for problem in labelled.problems[:SHOW_BAD]:
        print(f"label problem: {problem}", file=sys.stderr)
    if args.export_labelled:
        with open(args.export_labelled, "wb") as fh:
            for line in labelled_lines(labelled.rows):
                fh.write(line + b"\n")
        print(f"{len(labelled.rows)} labelled posts -> {args.export_labelled}", file=sys.stderr)
    report = evaluate(
        labelled, lexicon_classifier(Settings.from_env()), config, args.learning_curve
    )
    markdown = report_markdown(report, args.top, args.at_recall)
    if args.out:
        Path(args.out).write_text(markdown + "\n")
    print(markdown)
    if args.show_texts:
        print("\n" + error_listing(report, args.top), file=sys.stderr)
    return 0


def bench_relevance(
    runs: int = 5,
    seeds: int = 4,
    model_path: str | None = None,
    posts: Sequence[Post] | None = None,
) -> list[tuple[str, float, float]]:
    """Posts per second of the relevance stage, one core: (name, median posts/s, median
    seconds per run) for the lexicon alone, the lexicon with the trained layer, and the
    model's own share on the posts it is asked about.

    ``posts`` default to the bundled scenario for seeds 1..``seeds``. Without
    ``model_path`` a stand-in model is trained on those posts labelled by the lexicon's
    own verdicts: it has the real size and cost, its decisions mean nothing.
    """
    from models.scenario import build_demo
    from models.trained import RelevanceModel
    from streams.bench import _median_rate
    from streams.chain import lexicon_classifier

    if posts is None:
        posts = [p for s in range(1, seeds + 1) for p in build_demo(seed=s).posts]
    lexicon = lexicon_classifier(Settings.from_env())
    if model_path:
        model = RelevanceModel.load(model_path, "model_path")
    else:
        verdicts = [lexicon.classify(p) for p in posts]
        examples = [Example(p.text, v.relevant) for p, v in zip(posts, verdicts, strict=True)]
        model = train(examples, lexicon, TrainConfig(folds=2)).model
    stage = TrainedRelevance(lexicon, model)
    asked = [p for p in posts if needs_model(lexicon.classify(p))]

    def timed(classify: Callable[[Post], Relevance], items: Sequence[Post]) -> Callable[[], int]:
        def run() -> int:
            for p in items:
                classify(p)
            return len(items)

        return run

    share = f"{len(asked)}/{len(posts)}"
    return [
        ("classify (lexicon alone)", *_median_rate(timed(lexicon.classify, posts), runs)),
        ("classify (lexicon + trained layer)", *_median_rate(timed(stage.classify, posts), runs)),
        (
            f"classify (lexicon + trained layer), model candidates only ({share})",
            *_median_rate(timed(stage.classify, asked), runs),
        ),
    ]


def register(sub: Any) -> None:
    """Add ``classify`` and ``relevance`` to the ``groundswell`` subcommands."""
    p = sub.add_parser("classify", help="add relevance fields (category, score...) to each post")
    p.add_argument("input", help="JSON lines: posts in any supported format, or a dump")
    p.add_argument("--out", required=True, help="posts with relevance fields, as JSON lines")
    p.add_argument("--explain", action="store_true", help="add matched terms and model proba")
    p.add_argument("--model", help="trained model file (GROUNDSWELL_RELEVANCE_MODEL)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("relevance", help="train and evaluate the relevance stage")
    rsub = p.add_subparsers(dest="relevance_command", required=True, metavar="ACTION")

    def train_opts(t: argparse.ArgumentParser) -> None:
        t.add_argument("--folds", type=int, default=5, help="cross-validation folds")
        t.add_argument("--seed", type=int, default=0, help="seed of the fold split")
        t.add_argument(
            "--l2", type=float, default=0.03, help="L2 penalty of the n-gram and role weights"
        )
        t.add_argument(
            "--l2-evidence",
            type=float,
            default=1.0,
            help="L2 penalty of the lexicon's evidence weights",
        )
        t.add_argument(
            "--threshold", type=float, help="fixed probability cut (default: chosen by CV)"
        )
        t.add_argument(
            "--min-recall",
            type=float,
            help="recall the CV-chosen cut keeps, 0..1 (default: the lexicon's own)",
        )

    t = rsub.add_parser("train", help="fit the trained layer on labelled posts")
    t.add_argument("labelled", help="JSON lines: a post plus 'relevant' (and 'category')")
    t.add_argument("--out", required=True, help="model file to write (.npz)")
    train_opts(t)
    t.set_defaults(func=cmd_train)

    e = rsub.add_parser("evaluate", help="precision and recall on the hand labels")
    e.add_argument("--data", default="../shared/data", help="shared data folder (texts)")
    e.add_argument("--labels", default="tests/data/relevance", help="folder of label CSVs")
    e.add_argument(
        "--model-cv", action="store_true", help="also the trained layer, cross-validated"
    )
    train_opts(e)
    e.add_argument("--top", type=int, default=10, help="false positives/negatives listed")
    e.add_argument(
        "--at-recall",
        type=float,
        default=0.7,
        help="report the trained layer's out-of-fold precision at this recall",
    )
    e.add_argument(
        "--learning-curve",
        type=int,
        default=0,
        metavar="SEEDS",
        help="also the trained layer's precision at --at-recall against the share of the "
        "labels trained on, over SEEDS fold seeds (implies --model-cv)",
    )
    e.add_argument("--out", help="write the markdown report here too")
    e.add_argument(
        "--show-texts",
        action="store_true",
        help="print the listed DEV errors' texts to stderr",
    )
    e.add_argument(
        "--export-labelled",
        metavar="FILE",
        help="write the labelled posts (with texts) as LABELLED JSON lines, outside the repo",
    )
    e.set_defaults(func=cmd_evaluate)
