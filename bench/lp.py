"""Benchmark of the threshold LP: row generation against the full LP solved by HiGHS.

``bench_lp()`` returns the figures the bench driver records and prints them. Both methods solve
the same seeded synthetic problem (correlated Student-t recovery ratios, see
``tests/test_optimize/optimize_problems.py`` for the same recipe) and must agree on the optimum.
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.optimize import ThresholdOptimizer, cvar, threshold_losses


def _problem(n_scenarios: int, n_assets: int, seed: int) -> tuple[tuple[np.ndarray, ...], float]:
    rng = np.random.default_rng(seed)
    sig = rng.uniform(0.05, 0.30, n_assets)
    load = rng.uniform(0.4, 0.9, n_assets)
    z = rng.standard_normal((n_scenarios, 1)) * load + rng.standard_normal(
        (n_scenarios, n_assets)
    ) * np.sqrt(1.0 - load**2)
    nu = 4.0
    mix = np.sqrt(rng.chisquare(nu, (n_scenarios, 1)) / nu)
    k = np.exp(z / mix * np.sqrt((nu - 2.0) / nu) * sig)
    k *= rng.uniform(0.95, 1.0, n_assets) / (1.0 + rng.uniform(0.04, 0.10, n_assets))
    W = rng.uniform(1e6, 5e8, n_assets)
    C = W * rng.uniform(0.8, 1.2, n_assets)
    lo, hi, buf = np.full(n_assets, 0.4), np.full(n_assets, 0.9), np.full(n_assets, 0.04)
    c_lo = cvar(threshold_losses(lo, k, W), 0.99)
    c_hi = cvar(threshold_losses(hi, k, W), 0.99)
    return (k, W, C, lo, hi, buf), c_lo + 0.3 * (c_hi - c_lo)


def bench_lp(
    n_scenarios: int = 20_000,
    n_assets: int = 15,
    *,
    large_scenarios: int = 100_000,
    large_assets: int = 30,
    seed: int = 0,
) -> dict[str, float]:
    """Time row generation and the full LP on one problem, and row generation on a large one.

    Returns
    -------
    dict
        ``lp_solve_seconds`` (row generation), ``lp_full_highs_seconds`` (full LP, HiGHS),
        ``lp_speedup`` (their ratio) at ``n_scenarios x n_assets``; ``lp_objective_rel_diff``
        between the two; ``lp_rowgen_large_seconds`` at ``large_scenarios x large_assets``
        (0 to skip) with its LP count.
    """
    args, budget = _problem(n_scenarios, n_assets, seed)
    row = ThresholdOptimizer(alpha=0.99, budget=budget).fit(*args)
    t0 = time.perf_counter()
    full = ThresholdOptimizer(alpha=0.99, budget=budget, method="full", solver="HIGHS").fit(*args)
    full_seconds = time.perf_counter() - t0
    rel = abs(row.objective_ - full.objective_) / abs(full.objective_)
    out = {
        "lp_solve_seconds": row.solve_seconds_,
        "lp_full_highs_seconds": full_seconds,
        "lp_speedup": full_seconds / row.solve_seconds_,
        "lp_objective_rel_diff": rel,
        "lp_n_scenarios": float(n_scenarios),
        "lp_n_assets": float(n_assets),
    }
    if large_scenarios:
        big, big_budget = _problem(large_scenarios, large_assets, seed + 1)
        t0 = time.perf_counter()
        large = ThresholdOptimizer(alpha=0.99, budget=big_budget).fit(*big)
        out["lp_rowgen_large_seconds"] = time.perf_counter() - t0
        out["lp_rowgen_large_lps"] = float(large.n_rounds_)
    print(
        f"threshold LP {n_scenarios} x {n_assets}: row generation {out['lp_solve_seconds']:.3f} s "
        f"({row.n_rounds_} LPs), full LP (HiGHS) {full_seconds:.3f} s, speed-up "
        f"{out['lp_speedup']:.1f}x, objective gap {rel:.1e}"
    )
    if large_scenarios:
        print(
            f"threshold LP {large_scenarios} x {large_assets}: row generation "
            f"{out['lp_rowgen_large_seconds']:.3f} s ({int(out['lp_rowgen_large_lps'])} LPs)"
        )
    return out


try:  # registration with the bench driver (``python -m bench lp``)
    from bench import BenchResult, Comparison, benchmark
except ImportError:  # run as a script outside the package
    pass
else:

    @benchmark("lp")
    def lp() -> BenchResult:
        """Row generation vs the full HiGHS LP (``bench_lp`` with its defaults)."""
        return BenchResult(
            figures=dict(bench_lp()),
            comparisons=[Comparison("lp_solve_seconds", "lp_full_highs_seconds", "lp_speedup")],
        )


if __name__ == "__main__":
    bench_lp()
