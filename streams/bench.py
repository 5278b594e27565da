"""``make bench``: offline throughput of each stage and of the whole chain, one core.

Input: the bundled scenario generated for several seeds (no external data). Each figure
is the median of ``--runs`` timed runs in one process; the report goes to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
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


def run(runs: int, seeds: int) -> list[tuple[str, float, float]]:
    settings = Settings()
    stages = Stages(settings, load_regions(settings))
    per_seed = [[dumps(p.to_wire()) for p in build_demo(seed=s).posts] for s in range(1, seeds + 1)]
    lines = [line for part in per_seed for line in part]
    posts = [p for line in lines for p in decode_raw(line)]

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

    results = [
        ("decode raw JSON -> Post", *_median_rate(decode, runs)),
        ("classify (lexicon)", *_median_rate(classify, runs)),
        ("locate (new Locator; gazetteer cache warm after run 1)", *_median_rate(locate, runs)),
        ("whole chain (backtest: decode, classify, locate, detect)", *_median_rate(chain, runs)),
    ]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench")
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    results = run(args.runs, args.seeds)
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m streams.bench`): offline, one process, one core,",
        f"input the bundled scenario for seeds 1..{args.seeds}; each figure is the median of "
        f"{args.runs} runs.",
        "",
        f"- machine: {_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}",
        "",
        "| stage | posts/s (median) | seconds per run (median) |",
        "|---|---:|---:|",
        *(f"| {name} | {rate:,.0f} | {secs:.3f} |" for name, rate, secs in results),
        "",
        "Not measured yet: throughput through the broker, event-to-alert latency, memory",
        "against the number of regions.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
