"""``make bench``: every benchmark and evaluation, written to BENCHMARKS.md.

Sections: offline stage throughput (one core, the bundled scenario), relevance precision
and recall on hand-labelled public posts, geo accuracy and lookup speed, detection against
simulated ground truth and baselines, and throughput/latency/memory through the real
broker. Figures are medians of ``--runs`` runs; the public data sets are read from
``--data`` (``../shared/data`` beside the checkout) and their sections say so when absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from geo.locate import Locator
from models.formats import decode_raw
from models.records import dumps
from models.scenario import build_demo
from streams.chain import Stages, backtest, load_regions
from streams.settings import Settings


def _median_rate(fn: Callable[[], int], runs: int) -> tuple[float, float]:
    """(median items/s, median seconds) over ``runs`` calls of ``fn`` returning a count."""
    rates, secs = [], []
    for _ in range(runs):
        t = time.perf_counter()
        n = fn()
        dt = time.perf_counter() - t
        rates.append(n / dt)
        secs.append(dt)
    return statistics.median(rates), statistics.median(secs)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def firehose_lines(n: int, rate_per_s: int = 6_000, seed: int = 1) -> list[bytes]:
    """``n`` raw post lines at ``rate_per_s`` of event time, texts and places taken from
    the bundled scenario (mostly chatter, a few complaints), fresh ids, in time order."""
    templates = build_demo(seed=seed).posts
    start = templates[0].created_at_ms
    step_us = 1_000_000 // rate_per_s
    return [
        dumps(
            dataclasses.replace(
                templates[i % len(templates)],
                id=f"fh{i}",
                created_at_ms=start + i * step_us // 1000,
            ).to_wire()
        )
        for i in range(n)
    ]


FIREHOSE_POSTS = 60_000


def run(runs: int, seeds: int) -> list[tuple[str, float, float]]:
    settings = Settings()
    stages = Stages(settings, load_regions(settings))
    per_seed = [[dumps(p.to_wire()) for p in build_demo(seed=s).posts] for s in range(1, seeds + 1)]
    lines = [line for part in per_seed for line in part]
    posts = [p for line in lines for p in decode_raw(line).posts]

    def decode() -> int:
        for line in lines:
            decode_raw(line)
        return len(lines)

    def classify() -> int:
        for p in posts:
            stages.classifier.classify(p)
        return len(posts)

    def locate() -> int:
        locator = Locator(stages.regions, stages.locator.gazetteer)  # fresh place cache
        for p in posts:
            locator.locate(p)
        return len(posts)

    def chain() -> int:
        # one backtest per scenario: each is 8 h of event time, and a clock never rewinds
        for part in per_seed:
            backtest(stages, part)
        return len(lines)

    dense = firehose_lines(FIREHOSE_POSTS)

    def firehose_chain() -> int:
        backtest(stages, dense)
        return len(dense)

    results = [
        ("decode raw JSON -> Post", *_median_rate(decode, runs)),
        ("classify (lexicon)", *_median_rate(classify, runs)),
        ("locate (new Locator; gazetteer cache warm after run 1)", *_median_rate(locate, runs)),
        ("whole chain (backtest: decode, classify, locate, detect)", *_median_rate(chain, runs)),
        (
            f"whole chain, firehose density ({FIREHOSE_POSTS:,} posts at 6,000/s)",
            *_median_rate(firehose_chain, runs),
        ),
    ]
    return results


SECTIONS = ("offline", "relevance", "geo", "detection", "kafka")


def offline_markdown(runs: int, seeds: int) -> str:
    results = run(runs, seeds)
    return "\n".join(
        [
            "## Offline stages, one core",
            "",
            f"Input: the bundled scenario for seeds 1..{seeds}; each figure is the median of "
            f"{runs} runs in one process. The last row replays the scenario's texts at 6,000 "
            "posts/s of event time (the firehose's average) instead of its 9,135 posts over 32 "
            "hours: per-post costs, with detection's per-window work spread over the posts of "
            "a window as at full rate (a 300 s window holds 1.8 M posts).",
            "",
            "| stage | posts/s (median) | seconds per run (median) |",
            "|---|---:|---:|",
            *(f"| {name} | {rate:,.0f} | {secs:.3f} |" for name, rate, secs in results),
            "",
        ]
    )


def relevance_markdown(runs: int, seeds: int, data: Path) -> str:
    from models.relevance_eval import evaluate, load_labelled, report_markdown
    from models.trained import TrainConfig
    from streams.chain import lexicon_classifier
    from streams.relevance_cmd import bench_relevance

    speed = bench_relevance(runs=runs, seeds=seeds)
    lines = [
        "## Relevance stage",
        "",
        "Throughput, one core, bundled scenario (the trained layer here is a stand-in of the "
        "real size, trained on the lexicon's own verdicts: its speed is real, its decisions "
        "are not):",
        "",
        "| stage | posts/s (median) | seconds per run (median) |",
        "|---|---:|---:|",
        *(f"| {name} | {rate:,.0f} | {secs:.3f} |" for name, rate, secs in speed),
        "",
    ]
    if (data / "posts").is_dir():
        labelled = load_labelled(ROOT / "tests" / "data" / "relevance", data)
        report = evaluate(labelled, lexicon_classifier(Settings()), TrainConfig(), curve_seeds=5)
        lines += [
            "Precision and recall on hand-labelled public posts (`groundswell relevance "
            "evaluate --model-cv --learning-curve 5`):",
            "",
            report_markdown(report),
            "",
        ]
    else:
        lines += [f"Precision and recall not measured: {data / 'posts'} is absent.", ""]
    return "\n".join(lines)


def geo_markdown(runs: int, data: Path) -> str:
    from streams.geo_eval import report

    if not (data / "geo").is_dir():
        return f"## Geo\n\nNot measured: {data / 'geo'} is absent.\n"
    return report(data / "geo", runs)


def detection_markdown() -> str:
    from models.scan import benchmark
    from streams.detect_eval import benchmark_markdown

    rows = [benchmark(n, steps=30) for n in (100, 3000)]
    return "\n".join(
        [
            benchmark_markdown(jobs=os.cpu_count() or 1),
            "### Detection step time (one core)",
            "",
            "One window's detection over every zone (32 regions each: temporal test, scan with "
            "early exits, lifecycle) after a day of warm-start history, 30 steps "
            "(`python -m models.scan --regions 100 3000 --steps 30`). Target: <= 200 ms at "
            "3,000 regions.",
            "",
            "| regions | zones | median ms per step | max ms | one zone's Monte Carlo, ms |",
            "|---:|---:|---:|---:|---:|",
            *(
                f"| {r['regions']:,.0f} | {r['zones']:.0f} | {r['step_ms_median']:.1f} | "
                f"{r['step_ms_max']:.1f} | {r['one_zone_replicates_ms']:.0f} |"
                for r in rows
            ),
            "",
        ]
    )


def kafka_markdown(runs: int) -> str:
    from streams.bench_kafka import report

    return report(Settings.from_env(), runs)


ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench", description=__doc__)
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run"
    )
    args = parser.parse_args(argv)
    data = Path(args.data)
    makers: dict[str, Callable[[], str]] = {
        "offline": lambda: offline_markdown(args.runs, args.seeds),
        "relevance": lambda: relevance_markdown(args.runs, args.seeds, data),
        "geo": lambda: geo_markdown(args.runs, data),
        "detection": detection_markdown,
        "kafka": lambda: kafka_markdown(args.runs),
    }
    header = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (`python -m streams.bench --only {' '.join(args.only)}`).",
        "",
        f"- machine: {_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}",
        "",
    ]
    sections = []
    for name in args.only:
        t = time.perf_counter()
        text = makers[name]()
        print(text, flush=True)
        sections.append(text + f"\n_Section wall time: {time.perf_counter() - t:.0f} s._\n")
    Path(args.out).write_text("\n".join(header + sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
