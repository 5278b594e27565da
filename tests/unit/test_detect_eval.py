"""The detection benchmark harness on the demo scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.regions import RegionSet
from models.errors import ConfigError
from models.records import dumps
from models.scenario import build_demo
from streams.chain import Stages, backtest, relevant_stream
from streams.detect_eval import PROJECT, benchmark_markdown, detector_factories, evaluate_run, main
from streams.settings import Settings


@pytest.fixture(scope="module")
def demo() -> tuple[Stages, list[bytes]]:
    sc = build_demo(seed=2)
    stages = Stages(Settings(), RegionSet.from_mapping(sc.regions))
    return stages, [dumps(p.to_wire()) for p in sc.posts]


def test_the_stream_holds_every_relevant_post_and_tick(demo: tuple[Stages, list[bytes]]) -> None:
    stages, lines = demo
    stream = relevant_stream(stages, lines)
    assert sum(not isinstance(x, int) for x in stream) == backtest(stages, lines).relevant > 0
    ticks = [t for t in stream if isinstance(t, int)]
    assert ticks == sorted(ticks) and len(ticks) > 90  # a tick per 5-minute window of 8 h


def test_every_detector_is_fed_and_scored(demo: tuple[Stages, list[bytes]]) -> None:
    stages, lines = demo
    factories = detector_factories(stages)
    assert {PROJECT, "threshold", "time_of_day", "poisson"} <= set(factories)
    results, timing = evaluate_run("demo", 2)
    by_name = {r.detector: r for r in results}
    assert set(by_name) == set(factories)
    assert by_name[PROJECT].evaluation.recall == 1.0
    assert by_name["time_of_day"].alert_events == 0  # 8 hours: still learning its first day
    assert timing.posts == len(lines) and 0 < timing.relevant < timing.posts
    assert all(r.evaluation.days == pytest.approx(8 / 24) for r in results)


def test_markdown_has_a_row_per_run_and_detector_and_a_pooled_summary(tmp_path: Path) -> None:
    text = benchmark_markdown(("demo",), (1, 2), jobs=1)
    rows = [line for line in text.splitlines() if line.startswith("| demo |")]
    n = len(detector_factories(Stages(Settings(), RegionSet.from_mapping(build_demo().regions))))
    assert len(rows) == 3 * n  # two seeds and the pooled row, per detector
    assert f"| demo | 1,2 | {PROJECT} | 1.00 (2/2) |" in text
    assert "wall time" in text
    out = tmp_path / "results.md"
    assert main(["--scenarios", "demo", "--seeds", "1", "--jobs", "1", "--out", str(out)]) == 0
    assert out.read_text().startswith("## Detection against ground truth")


def test_a_subset_of_detectors_can_be_run_and_unknown_names_are_refused() -> None:
    results, timing = evaluate_run("demo", 1, detectors=["threshold"])
    assert [r.detector for r in results] == ["threshold"] and list(timing.detect_s) == ["threshold"]
    with pytest.raises(ConfigError, match="detectors='nope'"):
        evaluate_run("demo", 1, detectors=["nope"])
