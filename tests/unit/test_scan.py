"""The space-time scan: cylinders, LLR, significance and speed."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import ConfigError
from models.scan import SpaceTimeScan, benchmark, llr, nearest_regions


def _grid(side: int) -> list[tuple[float, float]]:
    return [(10 + 0.1 * (i % side), 45 + 0.1 * (i // side)) for i in range(side * side)]


def test_llr_is_zero_unless_above_expectation_and_minimum() -> None:
    out = llr(np.array([0, 2, 3, 9]), np.array([1.0, 1.0, 4.0, 1.0]), min_count=3)
    assert out[:3].tolist() == [0.0, 0.0, 0.0]
    assert out[3] == pytest.approx(9 * np.log(9) - 8)


def test_nearest_regions_start_with_the_region_and_break_ties_by_index() -> None:
    nn = nearest_regions(_grid(3), 5)
    assert nn[:, 0].tolist() == list(range(9))
    assert sorted(nn[4, 1:].tolist()) == [1, 3, 5, 7]  # the centre's four edge neighbours
    assert nn[0].tolist() == [0, 1, 3, 4, 2]  # equal distances: lower index first


def test_cylinders_sum_regions_and_recent_windows() -> None:
    scan = SpaceTimeScan([(0, 0), (1, 0), (5, 0)], k=2, windows=2)
    values = np.array([[1, 10, 100], [2, 20, 200]])  # oldest row first
    cyl = scan.cylinders(values)
    assert cyl.shape == (2, 3, 2)
    assert cyl[0, 0].tolist() == [2, 22]  # newest window: region 0, then with region 1
    assert cyl[1, 2].tolist() == [300, 330]  # both windows: region 2, then with region 1


def test_a_planted_cluster_is_found_with_its_regions_and_windows() -> None:
    rng = np.random.default_rng(1)
    mu = np.full((6, 49), 0.3)
    y = rng.poisson(mu)
    y[-3:, [24, 25]] += 4  # the last three windows, two neighbouring regions
    scan = SpaceTimeScan(_grid(7), k=6, windows=6)
    (best, *_) = scan.scan(y, mu, alpha=0.001, seed=[1])
    assert {24, 25} <= set(best.regions) and len(best.regions) <= 4
    assert 2 <= best.windows <= 4 and best.p_value < 0.001
    assert best.observed == y[-best.windows :, list(best.regions)].sum()


def test_secondary_clusters_do_not_overlap() -> None:
    mu = np.full((3, 49), 0.2)
    y = np.zeros((3, 49), dtype=int)
    y[-1, 0] = y[-1, 48] = 8
    clusters = SpaceTimeScan(_grid(7), k=4, windows=3).scan(y, mu, alpha=0.01, seed=[2])
    assert len(clusters) == 2
    assert not set(clusters[0].regions) & set(clusters[1].regions)
    assert {c.regions[0] for c in clusters} == {0, 48}


def test_quiet_data_and_ended_bursts_give_nothing() -> None:
    scan = SpaceTimeScan(_grid(5), k=4, windows=4)
    mu = np.full((4, 25), 0.5)
    assert scan.scan(np.zeros((4, 25)), mu, alpha=0.05, seed=[3]) == []
    ended = np.zeros((4, 25))
    ended[0, 12] = 12  # a burst three windows ago, nothing since
    assert scan.scan(ended, mu, alpha=0.05, seed=[3]) == []


def test_null_p_values_are_not_too_small() -> None:
    """Under the null, a cluster at p < alpha turns up in at most about alpha of runs."""
    rng = np.random.default_rng(4)
    scan = SpaceTimeScan(_grid(6), k=6, windows=4, replicates=99)
    mu = np.tile(rng.uniform(0.1, 2.0, 36), (4, 1))
    hits = sum(bool(scan.scan(rng.poisson(mu), mu, alpha=0.05, seed=[s])) for s in range(200))
    assert hits <= 20  # 5 % of 200 is 10; allow for chance


def test_same_inputs_same_clusters_and_seed_matters_only_for_replicates() -> None:
    rng = np.random.default_rng(5)
    mu = np.full((6, 36), 1.0)
    y = rng.poisson(mu)
    y[-2:, 7] += 5
    scan = SpaceTimeScan(_grid(6), k=5, windows=6, p_method="mc")
    assert scan.scan(y, mu, alpha=0.05, seed=[9]) == scan.scan(y, mu, alpha=0.05, seed=[9])
    a = scan.null_maxima(mu, [1], 0.0)
    assert np.array_equal(a, scan.null_maxima(mu, [1], 0.0))
    assert not np.array_equal(a, scan.null_maxima(mu, [2], 0.0))


def test_uncertain_expectations_need_more_evidence() -> None:
    mu = np.full((3, 9), 0.2)
    y = np.zeros((3, 9), dtype=int)
    y[-1, 4] = 4
    scan = SpaceTimeScan(_grid(3), k=3, windows=3)
    sure = scan.scan(y, mu, alpha=0.05, seed=[1], dispersion=0.0)
    unsure = scan.scan(y, mu, alpha=0.05, seed=[1], dispersion=np.full(9, 3.0))
    assert sure and (not unsure or unsure[0].p_value > sure[0].p_value)


def test_without_centroids_cylinders_are_single_regions() -> None:
    scan = SpaceTimeScan(None, n_regions=4, k=8)
    assert scan.nn.tolist() == [[0], [1], [2], [3]]
    with pytest.raises(ConfigError, match="scan_windows"):
        SpaceTimeScan(None, n_regions=4, windows=0)


def test_benchmark_reports_step_times() -> None:
    figures = benchmark(n_regions=64, zone_size=32, steps=4)
    assert figures["zones"] == 2 and figures["step_ms_median"] > 0
    assert figures["step_ms_max"] >= figures["step_ms_median"]
