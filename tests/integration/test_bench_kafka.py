"""The broker benchmark's throughput runs, small, on the real broker: every figure comes out
of real processes draining real topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.bench import firehose_lines
from streams.bench_kafka import memory, throughput
from streams.settings import Settings


def test_batched_run_measures_raw_consume_and_pipeline(bootstrap: str, tmp_path: Path) -> None:
    run = throughput(Settings(bootstrap=bootstrap), firehose_lines(60_000), 1, tmp_path, 500)
    assert run.messages == 121  # and the closing post
    # 121 batches and a watermark message per partition
    assert run.raw_posts_per_s == pytest.approx(run.raw_consume_per_s * 60_005 / 125)
    assert 0 < run.pipeline_per_s < run.raw_posts_per_s
    assert run.ratio == run.pipeline_per_s / run.raw_posts_per_s
    assert run.bare_per_s is None and run.bare_ratio is None
    assert run.peak_rss_mb > 50
    assert 0.05 < run.busy < 1.2  # the worker's CPU time while the clock ran, over it


def test_one_post_run_measures_bare_faust_too(bootstrap: str, tmp_path: Path) -> None:
    run = throughput(Settings(bootstrap=bootstrap), firehose_lines(20_000), 1, tmp_path, 1)
    assert run.messages == 20_001
    assert run.raw_posts_per_s == pytest.approx(run.raw_consume_per_s)
    assert run.bare_per_s is not None and 0 < run.bare_per_s < run.raw_posts_per_s
    assert run.bare_ratio == run.pipeline_per_s / run.bare_per_s


def test_memory_run_reports_the_region_count_and_worker_rss(bootstrap: str, tmp_path: Path) -> None:
    spec = "hex:bbox:7,44,13,46.5:4"
    regions, rss = memory(Settings(bootstrap=bootstrap), spec, firehose_lines(30_000), tmp_path)
    assert regions == 96
    assert 50 < rss < 2_000
