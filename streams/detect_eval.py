"""Detection benchmark: every detector on the same simulated streams, scored on the truth.

For each scenario and seed: generate the scenario, run the offline chain once (decode,
classify, locate: the stages of ``groundswell backtest``) to get the relevant located
posts and the watermark ticks, feed that same stream to every detector (the project's
zone and global detectors exactly as ``streams.chain.backtest`` runs them, and each baseline of
:mod:`models.baselines`), score each with :func:`models.evaluate.evaluate`, and write a
markdown table with a summary pooled over the seeds.

    python -m streams.detect_eval --scenarios demo country towns --seeds 1 2 3 --out results.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.regions import RegionSet
from models.baselines import (
    PoissonConfig,
    PoissonDetector,
    ThresholdConfig,
    ThresholdDetector,
    TimeOfDayConfig,
    TimeOfDayDetector,
)
from models.errors import ConfigError
from models.evaluate import DEFAULT_GRACE_MS, Evaluation, evaluate
from models.records import dumps
from models.scenario import DAY_MS, build_scenario
from streams.chain import (
    Detection,
    Detector,
    Stages,
    ZoneDetectors,
    load_regions,
    relevant_stream,
    run_detector,
)
from streams.settings import Settings

DEFAULT_SCENARIOS = ("demo", "country", "towns")
PROJECT = "groundswell"


def detector_factories(stages: Stages) -> dict[str, Callable[[], Detector]]:
    """The project's detection (zone and global detectors), its zone detectors alone
    without their space-time scan, and each baseline, set up for the stages' window and
    regions (the time-of-day baseline learns for a day before it may alert)."""
    regions = [(r, stages.regions.name(r)) for r in stages.regions.ids]
    cfg = stages.detector_config
    w = stages.window_ms
    return {
        PROJECT: lambda: Detection(stages),
        f"{PROJECT} no scan": lambda: ZoneDetectors(stages, dataclasses.replace(cfg, scan=False)),
        "threshold": lambda: ThresholdDetector(ThresholdConfig(window_ms=w), regions),
        "time_of_day": lambda: TimeOfDayDetector(
            TimeOfDayConfig(window_ms=w, warmup_windows=DAY_MS // w), regions
        ),
        "poisson": lambda: PoissonDetector(
            PoissonConfig(
                window_ms=w,
                alpha=cfg.alpha,
                n_regions_tested=len(regions),
                min_authors=cfg.min_authors,
                warmup_windows=cfg.warmup_windows,
                resolve_windows=cfg.resolve_windows,
            ),
            regions,
        ),
    }


@dataclass(frozen=True)
class RunResult:
    scenario: str
    seed: int
    detector: str
    evaluation: Evaluation
    alert_events: int


@dataclass(frozen=True)
class RunTiming:
    scenario: str
    seed: int
    posts: int
    relevant: int
    simulate_s: float
    chain_s: float
    detect_s: dict[str, float]


def _weighted_regions(collection: dict[str, Any], settings: Settings) -> RegionSet:
    """The scenario's regions as a worker loads them: weighted by their ``population``
    property when the scenario has one (an operator's subscriber counts), else by the
    gazetteer's population, exactly as ``load_regions`` does for a region file."""
    props = collection["features"][0].get("properties") or {}
    weight = "population" if "population" in props else ""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "regions.geojson"
        path.write_bytes(dumps(collection))
        return load_regions(
            settings.with_overrides(regions=str(path), region_weight_property=weight)
        )


def evaluate_run(
    scenario: str,
    seed: int,
    settings: Settings | None = None,
    detectors: Sequence[str] | None = None,
) -> tuple[list[RunResult], RunTiming]:
    """Simulate one scenario and seed, run the chain once and score every detector (or
    those named in ``detectors``)."""
    settings = settings or Settings()
    t0 = time.perf_counter()
    sc = build_scenario(scenario, seed)
    lines = [dumps(p.to_wire()) for p in sc.posts]
    t1 = time.perf_counter()
    regions = _weighted_regions(sc.regions, settings)
    stages = Stages(settings, regions)
    stream = relevant_stream(stages, lines)
    t2 = time.perf_counter()
    neighbours = {r: regions.neighbours(r) for r in regions.ids}
    results, detect_s = [], {}
    factories = detector_factories(stages)
    for name in detectors or factories:
        if name not in factories:
            raise ConfigError(
                "detectors", name, f"unknown; expected some of: {', '.join(factories)}"
            )
        factory = factories[name]
        t = time.perf_counter()
        alerts = run_detector(stream, factory())
        detect_s[name] = time.perf_counter() - t
        ev = evaluate(alerts, sc.truth, neighbours)
        results.append(RunResult(scenario, seed, name, ev, len(alerts)))
    relevant = sum(1 for item in stream if not isinstance(item, int))
    timing = RunTiming(scenario, seed, len(lines), relevant, t1 - t0, t2 - t1, detect_s)
    return results, timing


def _job(
    args: tuple[str, int, Settings, Sequence[str] | None],
) -> tuple[list[RunResult], RunTiming]:
    return evaluate_run(*args)


def run_matrix(
    scenarios: Sequence[str],
    seeds: Sequence[int],
    settings: Settings | None = None,
    jobs: int = 1,
    detectors: Sequence[str] | None = None,
) -> tuple[list[RunResult], list[RunTiming]]:
    """:func:`evaluate_run` for every scenario x seed, over ``jobs`` processes."""
    settings = settings or Settings()
    tasks = [(s, seed, settings, detectors) for s in scenarios for seed in seeds]
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            done = list(pool.map(_job, tasks))
    else:
        done = [_job(t) for t in tasks]
    return [r for rs, _ in done for r in rs], [t for _, t in done]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


HEADER = (
    "| scenario | seed | detector | recall | recall ≥8 | false/day | false/1k region-days "
    "| decoy alerts | TTD median (min) | TTD p90 (min) | TTD median, ≥ 1/min (min) "
    "| lead median (min) |\n"
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _row(scenario: str, seed: str, detector: str, ev: Evaluation) -> str:
    return (
        f"| {scenario} | {seed} | {detector} | {_fmt(ev.recall)} ({ev.detected}/"
        f"{len(ev.outcomes)}) | {_fmt(ev.recall_at_least(8))} | {_fmt(ev.false_per_day)} | "
        f"{_fmt(ev.false_per_1000_region_days, 3)} | {ev.decoy_alerts} | "
        f"{_fmt(ev.ttd_median_min, 1)} | {_fmt(ev.ttd_p90_min, 1)} | "
        f"{_fmt(ev.ttd_median_fast_min, 1)} | {_fmt(ev.lead_median_min, 1)} |"
    )


def results_table(results: Sequence[RunResult]) -> str:
    """Markdown: one row per run and detector, then the seeds pooled per scenario."""
    lines = ["### Per run", "", HEADER]
    lines += [_row(r.scenario, str(r.seed), r.detector, r.evaluation) for r in results]
    lines += ["", "### Pooled over seeds", "", HEADER]
    keys = list(dict.fromkeys((r.scenario, r.detector) for r in results))
    for scenario, detector in keys:
        runs = [r for r in results if (r.scenario, r.detector) == (scenario, detector)]
        seeds = ",".join(str(r.seed) for r in runs)
        lines.append(
            _row(scenario, seeds, detector, Evaluation.pooled([r.evaluation for r in runs]))
        )
    return "\n".join(lines)


def benchmark_markdown(
    scenarios: Sequence[str] = DEFAULT_SCENARIOS,
    seeds: Sequence[int] = (1, 2, 3),
    settings: Settings | None = None,
    jobs: int = 1,
    detectors: Sequence[str] | None = None,
) -> str:
    """The whole benchmark as a markdown section, with its wall time."""
    settings = settings or Settings()
    t0 = time.perf_counter()
    results, timings = run_matrix(scenarios, seeds, settings, jobs, detectors)
    wall = time.perf_counter() - t0
    posts = sum(t.posts for t in timings)
    names = list(dict.fromkeys(r.detector for r in results))
    seconds = [
        ("simulate", sum(t.simulate_s for t in timings)),
        ("chain", sum(t.chain_s for t in timings)),
        *((d, sum(t.detect_s[d] for t in timings)) for d in names),
    ]
    command = f"--scenarios {' '.join(scenarios)} --seeds {' '.join(map(str, seeds))}"
    if detectors:
        command += " --detectors " + " ".join(f"'{d}'" for d in detectors)
    return "\n".join(
        [
            "## Detection against ground truth",
            "",
            f"Produced by `python -m streams.detect_eval {command} --jobs {jobs}`: each "
            "scenario is simulated per seed, the chain (decode, classify, locate) runs once, "
            "and every detector gets the same relevant posts and watermarks. An alert detects "
            f"an outage when it opens between the outage's start and {DEFAULT_GRACE_MS // 60_000} "
            "minutes after its end in one of its regions or a neighbour; false alerts are "
            "counted after the scenario's history. Recall ≥8: outages with at least 8 planted "
            "complainers; TTD ≥ 1/min: outages with at least one extra complainer per minute.",
            "",
            results_table(results),
            "",
            f"{len(timings)} runs, {posts:,} posts, {wall:.1f} s wall time with {jobs} "
            f"process(es) on {os.cpu_count()} cores (Python {platform.python_version()}); "
            f"window {settings.window_s} s, alpha {settings.alpha}, min authors "
            f"{settings.min_authors}. Seconds per step, summed over runs: "
            + ", ".join(f"{d} {s:.1f}" for d, s in seconds)
            + ".",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.detect_eval", description=__doc__)
    parser.add_argument("--scenarios", nargs="+", default=list(DEFAULT_SCENARIOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--detectors", nargs="+", help="only these (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", help="write the markdown here (default: print only)")
    args = parser.parse_args(argv)
    try:
        text = benchmark_markdown(
            args.scenarios, args.seeds, Settings.from_env(), args.jobs, args.detectors
        )
    except ConfigError as exc:
        parser.error(str(exc))
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
