"""Prospective space-time scan (Kulldorff), expectation-based Poisson, vectorised.

Candidate cylinders are each region with its 1..k nearest regions (centroid distance,
precomputed once; ties by region order) times the last 1..T windows ending now. A cylinder
with observed ``y`` and expected ``μ`` (summed over its regions and windows) scores

``LLR = y·log(y/μ) − (y − μ)`` when ``y > μ`` and ``y >= min_count``, else 0,

and the scan statistic is the largest LLR among *active* cylinders: those whose newest
window raises the LLR of their older windows, so a burst that has ended is not reported
again while it slides through the last ``T`` windows. Its p-value under the null
(every count drawn from its expectation) is found as follows:

* screen: when even the most likely cylinder alone is unremarkable (its Poisson tail
  ``P(Y >= y) >= alpha``) the scan stops there; no reported p-value is below its own
  cylinder's tail;
* upper bound: Bonferroni over the cylinders, ``Σ_c P(LLR_c >= x)``; when it is below
  ``alpha`` already, no replicates are needed;
* otherwise a Gumbel fitted to the maxima of ``replicates`` Monte Carlo replicates
  (gamma-Poisson with each region's dispersion, Poisson when it is 0; seeded numpy
  Generator), or their rank with ``p_method="mc"``.

Sums over several regions are treated as negative binomial with the variance-matched
dispersion of their parts.

Secondary clusters are the next most likely cylinders that share no region with a
reported one, each tested against the same null.

>>> scan = SpaceTimeScan([(0, 0), (1, 0), (2, 0), (9, 9)], k=3, windows=2, min_count=3)
>>> mu = np.full((2, 4), 0.2)
>>> y = np.array([[0, 0, 0, 0], [4, 5, 0, 0]])
>>> [(c.regions, c.windows, c.observed) for c in scan.scan(y, mu, alpha=0.01, seed=[1])]
[((0, 1), 1, 9)]
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.series import upper_tail, validate

EULER_GAMMA = 0.5772156649015329
P_METHODS = ("gumbel", "mc")
_CHUNK_ELEMENTS = 2_000_000  # replicate cylinders held in memory at once


@dataclass(frozen=True)
class Cluster:
    """One significant cylinder: region indices (centre first), its last ``windows``
    windows, observed and expected counts, LLR and p-value within this scan."""

    regions: tuple[int, ...]
    windows: int
    observed: int
    expected: float
    llr: float
    p_value: float


def llr(y: np.ndarray, mu: np.ndarray, min_count: int) -> np.ndarray:
    """Expectation-based Poisson log-likelihood ratio, 0 unless ``y > mu`` and
    ``y >= min_count``.

    >>> llr(np.array([0, 2, 5]), np.array([1.0, 1.0, 1.0]), 3).round(3).tolist()
    [0.0, 0.0, 4.047]
    """
    y = np.asarray(y, dtype=float)
    mu = np.broadcast_to(np.asarray(mu, dtype=float), y.shape)
    out = np.zeros(y.shape)
    ok = (y > mu) & (y >= min_count)
    yo, mo = y[ok], mu[ok]
    out[ok] = yo * np.log(yo / mo) - (yo - mo)
    return out


def nearest_regions(centroids: Sequence[tuple[float, float]] | np.ndarray, k: int) -> np.ndarray:
    """For each region, itself then its ``k - 1`` nearest regions by centroid distance
    (lon scaled by the cosine of latitude; ties by index). Shape ``(n, min(k, n))``.

    >>> nearest_regions([(0, 0), (3, 0), (1, 0)], 2).tolist()
    [[0, 2], [1, 2], [2, 0]]
    """
    xy = np.asarray(centroids, dtype=float).reshape(-1, 2)
    n = xy.shape[0]
    k = min(k, n)
    out = np.zeros((n, k), dtype=np.int64)
    lat = np.radians(xy[:, 1])
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for lo in range(0, n, step):
        rows = np.arange(lo, min(n, lo + step))
        coslat = np.cos((lat[rows, None] + lat[None, :]) / 2)
        dx = (xy[rows, None, 0] - xy[None, :, 0]) * coslat
        dy = xy[rows, None, 1] - xy[None, :, 1]
        dist = dx * dx + dy * dy
        dist[np.arange(rows.size), rows] = -1.0  # the region itself comes first
        out[rows] = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return out


class SpaceTimeScan:
    """Space-time scan over a fixed set of regions; see the module docstring.

    Without centroids every cylinder is a single region (a multi-window temporal scan).
    """

    def __init__(
        self,
        centroids: Sequence[tuple[float, float]] | np.ndarray | None,
        *,
        n_regions: int | None = None,
        k: int = 8,
        windows: int = 6,
        replicates: int = 199,
        min_count: int = 3,
        p_method: str = "gumbel",
        max_clusters: int = 5,
    ) -> None:
        validate(
            [
                ("scan_k", k, k >= 1, "must be >= 1"),
                ("scan_windows", windows, windows >= 1, "must be >= 1"),
                ("scan_replicates", replicates, replicates >= 9, "must be >= 9"),
                ("min_count", min_count, min_count >= 1, "must be >= 1"),
                ("scan_p_method", p_method, p_method in P_METHODS, f"one of {P_METHODS}"),
                ("max_clusters", max_clusters, max_clusters >= 1, "must be >= 1"),
            ]
        )
        if centroids is None:
            if n_regions is None:
                raise ValueError("SpaceTimeScan needs centroids or n_regions")
            self.nn = np.arange(n_regions, dtype=np.int64)[:, None]
        else:
            self.nn = nearest_regions(centroids, k)
        self.n = int(self.nn.shape[0])
        self.windows = windows
        self.replicates = replicates
        self.min_count = min_count
        self.p_method = p_method
        self.max_clusters = max_clusters

    # --- cylinders ----------------------------------------------------------------------

    def cylinders(self, values: np.ndarray) -> np.ndarray:
        """Sums over every cylinder: ``values`` is ``(..., T, n)`` with the newest window
        last; the result is ``(..., T, n, k)``: last ``t + 1`` windows, ``j + 1`` regions
        around region ``i``."""
        recent = np.cumsum(values[..., ::-1, :], axis=-2)
        sums: np.ndarray = np.cumsum(recent[..., self.nn], axis=-1)
        return sums

    def null_maxima(self, mu: np.ndarray, seed: Sequence[int], dispersion: Any) -> np.ndarray:
        """The scan statistic of ``replicates`` data sets drawn under the null: each
        region's rate times a gamma factor (mean 1, variance ``dispersion``) shared by its
        windows, then Poisson counts."""
        rng = np.random.default_rng(list(seed))
        mu_cyl = self.cylinders(mu)
        phi = np.broadcast_to(np.asarray(dispersion, dtype=float), (self.n,))
        uncertain = phi > 1e-9
        shape = 1.0 / np.maximum(phi, 1e-9)
        per = max(1, _CHUNK_ELEMENTS // max(mu_cyl.size, 1))
        maxima = []
        for lo in range(0, self.replicates, per):
            size = (min(per, self.replicates - lo), *mu.shape)
            factor = rng.gamma(shape, 1.0 / shape, (size[0], 1, self.n))
            sims = rng.poisson(mu * np.where(uncertain, factor, 1.0), size)
            stat = self._scores(self.cylinders(sims), mu_cyl)
            maxima.append(stat.reshape(stat.shape[0], -1).max(axis=1))
        result: np.ndarray = np.concatenate(maxima)
        return result

    def _scores(self, y_cyl: np.ndarray, mu_cyl: np.ndarray) -> np.ndarray:
        """LLR of every active cylinder (its newest window raises its LLR), else 0."""
        scores = llr(y_cyl, mu_cyl, self.min_count)
        y_now = np.broadcast_to(y_cyl[..., :1, :, :], y_cyl.shape)
        mu_now = np.broadcast_to(mu_cyl[:1], y_cyl.shape)
        check = np.nonzero((scores > 0) & (y_now > mu_now))  # necessary for a rise
        older = llr(
            y_cyl[check] - y_now[check],
            np.maximum(np.broadcast_to(mu_cyl, y_cyl.shape)[check] - mu_now[check], 1e-12),
            self.min_count,
        )
        active = np.zeros(y_cyl.shape, dtype=bool)
        active[check] = scores[check] > older
        result: np.ndarray = np.where(active, scores, 0.0)
        return result

    def cylinder_dispersion(self, mu: np.ndarray, dispersion: Any) -> np.ndarray:
        """Dispersion of each cylinder's sum (``Σ φ_i·μ_i² / μ²``, ``μ_i`` a region's
        expectation over the cylinder's windows), shaped like :meth:`cylinders`."""
        phi = np.broadcast_to(np.asarray(dispersion, dtype=float), (self.n,))
        recent = np.cumsum(mu[::-1], axis=0)
        spread = np.cumsum((phi * recent**2)[:, self.nn], axis=-1)
        result: np.ndarray = spread / np.maximum(self.cylinders(mu), 1e-12) ** 2
        return result

    def union_bound(self, x: float, mu_cyl: np.ndarray, phi_cyl: np.ndarray) -> float:
        """``Σ_c P(LLR_c >= x)`` over all cylinders (an upper bound on the p-value)."""
        mu = np.maximum(mu_cyl.ravel(), 1e-12)
        # smallest y > mu with y·log(y/mu) − y + mu >= x: Newton from above (convex, rising)
        y = mu + x + np.sqrt(2 * mu * x) + 1.0
        for _ in range(60):
            step = (y * np.log(y / mu) - y + mu - x) / np.log(y / mu)
            y = y - step
            if np.all(np.abs(step) < 1e-9 * (1 + y)):
                break
        need = np.maximum(np.ceil(y - 1e-9), self.min_count)
        return float(min(1.0, upper_tail(need, mu, phi_cyl.ravel()).sum()))

    # --- the scan -----------------------------------------------------------------------

    def scan(
        self,
        counts: np.ndarray,
        expected: np.ndarray,
        *,
        alpha: float,
        seed: Sequence[int],
        dispersion: Any = 0.0,
    ) -> list[Cluster]:
        """Significant clusters (``p < alpha``), most likely first, none sharing a region.

        ``counts`` and ``expected`` are ``(T, n)`` arrays, oldest window first, newest last
        (``T`` at most ``windows``; fewer early on). ``dispersion`` (scalar or one per
        region) is the uncertainty of each region's expectation. ``seed`` makes the
        replicates reproducible (e.g. zone and window): same inputs, same result.
        """
        y = np.asarray(counts, dtype=float)[-self.windows :]
        mu = np.maximum(np.asarray(expected, dtype=float)[-self.windows :], 1e-9)
        if y.size == 0:
            return []
        y_cyl, mu_cyl = self.cylinders(y), self.cylinders(mu)
        scores = self._scores(y_cyl, mu_cyl).ravel()
        best = int(np.argmax(scores))
        if scores[best] <= 0:
            return []
        phi = np.broadcast_to(np.asarray(dispersion, dtype=float), (self.n,))
        t, members = self._cylinder(best)
        parts = mu[-1 - t :, members].sum(axis=0)
        phi_best = float((phi[members] * parts**2).sum()) / float(parts.sum()) ** 2
        if upper_tail(y_cyl.flat[best], mu_cyl.flat[best], phi_best) >= alpha:
            return []  # the screen: even the most likely cylinder is unremarkable
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] > 0]
        flat_y, flat_mu = y_cyl.ravel()[order], mu_cyl.ravel()[order]
        phi_cyl = self.cylinder_dispersion(mu, phi)
        own = upper_tail(flat_y, flat_mu, phi_cyl.ravel()[order])
        clusters: list[Cluster] = []
        used = np.zeros(self.n, dtype=bool)
        maxima: np.ndarray | None = None
        for pos in np.flatnonzero(own < alpha).tolist():
            if len(clusters) >= self.max_clusters:
                break
            t, members = self._cylinder(int(order[pos]))
            if used[members].any():
                continue
            x = float(scores[order[pos]])
            upper = self.union_bound(x, mu_cyl, phi_cyl)
            if upper >= alpha:
                if maxima is None:
                    maxima = self.null_maxima(mu, seed, dispersion)
                upper = min(upper, self._null_p(x, maxima))
                if upper >= alpha:
                    break  # every remaining cylinder scores lower
            used[members] = True
            clusters.append(
                Cluster(
                    regions=tuple(int(r) for r in members),
                    windows=t + 1,
                    observed=int(flat_y[pos]),
                    expected=float(flat_mu[pos]),
                    llr=x,
                    p_value=max(float(own[pos]), upper),
                )
            )
        return clusters

    def _cylinder(self, flat_index: int) -> tuple[int, np.ndarray]:
        """(windows - 1, member regions) of a cylinder by its flat index."""
        k = self.nn.shape[1]
        t, rest = divmod(flat_index, self.n * k)
        i, j = divmod(rest, k)
        return t, self.nn[i, : j + 1]

    def _null_p(self, x: float, maxima: np.ndarray) -> float:
        """P(statistic >= x) from the replicates: their rank, or a Gumbel fitted to the
        positive maxima times the share of positive replicates."""
        r = maxima.size
        rank = (int((maxima >= x).sum()) + 1) / (r + 1)
        positive = maxima[maxima > 0]
        if self.p_method == "mc" or positive.size < 10:
            return rank
        scale = float(positive.std()) * math.sqrt(6) / math.pi
        if scale <= 0:
            return rank
        loc = float(positive.mean()) - EULER_GAMMA * scale
        tail = -math.expm1(-math.exp(-(x - loc) / scale))
        return (positive.size + 1) / (r + 1) * tail


# --- benchmark --------------------------------------------------------------------------


def benchmark(
    n_regions: int = 3000,
    zone_size: int = 32,
    steps: int = 30,
    seed: int = 0,
) -> dict[str, float]:
    """Median and maximum milliseconds of one detection step (closing one window for every
    zone: temporal tests, scan, lifecycle, learning) over ``n_regions`` regions on a grid
    in zones of ``zone_size``, with heterogeneous background rates and one planted cluster,
    after a day of warm-start history. Also the scan alone with forced replicates.
    """
    from models.detect import DetectorConfig, ZoneDetector  # the detector uses this module

    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(n_regions))
    ids = [f"r{i:05d}" for i in range(n_regions)]
    centroids = {r: (float(i % side) * 0.1, 40 + float(i // side) * 0.1) for i, r in enumerate(ids)}
    rates = rng.lognormal(-3.0, 1.2, n_regions)  # distinct authors per region per window
    config = DetectorConfig(window_ms=300_000, warmup_windows=12, n_regions_tested=n_regions)
    zones = [ids[i : i + zone_size] for i in range(0, n_regions, zone_size)]
    index = {r: i for i, r in enumerate(ids)}
    start = 1_709_251_200_000  # a Friday, 00:00 UTC
    history = rng.poisson(rates, (288, n_regions))
    detectors = []
    for z, members in enumerate(zones):
        d = ZoneDetector(config, f"z{z}", [(r, r) for r in members], centroids=centroids)
        cols = [index[r] for r in members]
        d.warm_start(start - 288 * 300_000, history[:, cols])
        detectors.append(d)
    step_ms: list[float] = []
    from models.records import RelevantPost

    for s in range(steps):
        window = start + s * 300_000
        counts = rng.poisson(rates)
        if s >= steps // 2:
            counts[: min(3, n_regions)] += 3  # a small outage over three regions
        for z, members in enumerate(zones):
            for r in members:
                for a in range(int(counts[index[r]])):
                    detectors[z].observe(
                        RelevantPost(
                            f"{r}-{s}-{a}",
                            window + a,
                            f"{r}-{a}",
                            f"z{z}",
                            r,
                            "voice",
                            None,
                            1.0,
                            "coordinates",
                        )
                    )
        t0 = time.perf_counter()
        for d in detectors:
            d.advance(window + 300_000)
        step_ms.append((time.perf_counter() - t0) * 1000)
    scan = SpaceTimeScan(list(centroids.values()), n_regions=n_regions)
    mu = np.tile(rates, (6, 1))
    forced = []
    for s in range(3):
        t0 = time.perf_counter()
        scan.null_maxima(mu, [seed, s], 0.0)
        forced.append((time.perf_counter() - t0) * 1000)
    return {
        "regions": float(n_regions),
        "zones": float(len(zones)),
        "step_ms_median": statistics.median(step_ms),
        "step_ms_max": max(step_ms),
        "one_zone_replicates_ms": statistics.median(forced),
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m models.scan", description=benchmark.__doc__)
    parser.add_argument("--regions", type=int, nargs="+", default=[100, 3000])
    parser.add_argument("--zone-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    for n in args.regions:
        print(benchmark(n, args.zone_size, args.steps))
