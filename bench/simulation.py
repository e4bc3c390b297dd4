"""Dynamic market simulation: 100,000 scenarios x 10 daily steps x 10,000 accounts.

Inputs are synthetic (seed 0): 10 assets with the annualised volatilities of the field notes
(stablecoins 3 %, btc 52 % ... ldo 124 %), Aave-like liquidation thresholds and bonuses, made-up
market totals and daily volumes, a 10,000-account book from
:func:`optimizer.protocol.books.synthetic_book` (health factors log-normal above 1, median 1.6)
and 10-day paths from a fat-tailed (Student-t, 4 dof) market factor plus idiosyncratic noise.
Timed with cascades on and off (best of ``REPEAT`` runs after the JIT is warmed), float32.
A stress run re-levers every borrowing account to HF 1.1 and 1.0 (the optimizer's worst case)
on the first ``STRESS_SCENARIOS`` paths: the slow regime, reported in the details.
"""

from __future__ import annotations

import time

import numpy as np

from bench import BenchResult, benchmark, best_time

N_SCENARIOS = 100_000
N_STEPS = 10
N_ACCOUNTS = 10_000
REPEAT = 2
SEED = 0
STRESS_SCENARIOS = 10_000
STRESS_HF = (1.1, 1.0)

ASSETS = ("usdc", "usdt", "dai", "eth", "btc", "link", "aave", "uni", "crv", "ldo")
_VOL_ANNUAL = np.array([0.03, 0.03, 0.03, 0.70, 0.52, 0.92, 0.99, 1.01, 1.10, 1.24])
_LT = np.array([0.78, 0.78, 0.77, 0.83, 0.78, 0.68, 0.73, 0.74, 0.41, 0.50])
_BONUS = np.array([0.045, 0.045, 0.05, 0.05, 0.05, 0.07, 0.075, 0.10, 0.083, 0.10])
_SUPPLIED = np.array([3e9, 1e9, 3e8, 8e9, 4e9, 5e8, 2e8, 1e8, 5e7, 1e8])
_BORROWED = np.array([2.5e9, 1e9, 2e8, 1.5e9, 2e8, 1e7, 1e6, 1e6, 1e6, 1e6])
_ADV = np.array([5e9, 5e9, 1e8, 1e10, 1e10, 3e8, 1.5e8, 1.5e8, 6e7, 6e7])


def _inputs():
    from optimizer.protocol.books import synthetic_book
    from optimizer.protocol.params import RiskParams

    rng = np.random.default_rng(SEED)
    params = RiskParams(
        ASSETS, ltv=_LT - 0.04, liquidation_threshold=_LT, liquidation_bonus=_BONUS
    ).check()
    book = synthetic_book(
        ASSETS,
        supplied_usd=_SUPPLIED,
        borrowed_usd=_BORROWED,
        n_accounts=N_ACCOUNTS,
        current=params,
        rng=rng,
    )
    sigma = _VOL_ANNUAL / np.sqrt(365.0)
    n_as = len(ASSETS)
    market = rng.standard_t(4, size=(N_SCENARIOS, N_STEPS, 1)).astype(np.float32)
    market /= np.float32(np.sqrt(2.0))  # unit variance
    idio = rng.standard_normal((N_SCENARIOS, N_STEPS, n_as), dtype=np.float32)
    steps = (np.float32(0.85) * market + np.float32(0.5) * idio) * sigma.astype(np.float32)
    steps[:, :, :3] *= np.float32(0.1)  # stablecoins barely move
    paths = np.exp(np.cumsum(steps, axis=1), dtype=np.float32)
    return book, params, paths, dict(adv_usd=_ADV, sigma_daily=sigma)


def _stress_scale(book, params, hf: float) -> np.ndarray:
    """Debt multiplier that puts every borrowing account at health factor ``hf``."""
    from optimizer.protocol.mechanics import debt_at_threshold_factor

    return debt_at_threshold_factor(book, params) / hf


def _measure() -> tuple[dict[str, float | str], dict[str, object]]:
    import numba

    from optimizer.protocol.simulation import simulate_market

    book, params, paths, kw = _inputs()
    t0 = time.perf_counter()
    simulate_market(book, paths[:64], params, **kw)  # compile or load the cache
    warm = time.perf_counter() - t0
    out: dict[bool, object] = {}

    def run(cascades: bool) -> None:
        out[cascades] = simulate_market(book, paths, params, **kw, cascades=cascades)

    on = best_time(lambda: run(True), REPEAT)
    off = best_time(lambda: run(False), REPEAT)
    res_on, res_off = out[True], out[False]
    figures: dict[str, float | str] = {
        "dynamic_sim_seconds": round(on, 3),
        "dynamic_sim_nocascade_seconds": round(off, 3),
        "dynamic_sim_shape": f"{N_SCENARIOS}x{N_STEPS}x{N_ACCOUNTS}",
    }
    # stress: every borrowing account re-levered to a low health factor, on the first
    # STRESS_SCENARIOS paths (the slow regime: most accounts evaluated, many liquidated)
    stress: dict[str, dict[str, float]] = {}
    for hf in STRESS_HF:
        scale = _stress_scale(book, params, hf)
        sub = paths[:STRESS_SCENARIOS]
        t0 = time.perf_counter()
        res = simulate_market(book, sub, params, **kw, debt_scale=scale)
        secs = time.perf_counter() - t0
        stress[f"hf_{hf:g}"] = {
            "seconds": round(secs, 3),
            "seconds_per_100k_scenarios": round(secs * N_SCENARIOS / STRESS_SCENARIOS, 2),
            "exact_share": round(res.info["exact_share"], 4),
            "mean_accounts_liquidated": round(float(res.n_liquidated.mean()), 1),
        }
    details = {
        "threads": numba.get_num_threads(),
        "first_call_seconds": round(warm, 3),
        "exact_share": round(res_on.info["exact_share"], 5),
        "mean_bad_debt_usd": round(float(res_on.bad_debt.mean()), 2),
        "mean_bad_debt_nocascade_usd": round(float(res_off.bad_debt.mean()), 2),
        "prob_bad_debt": res_on.prob_bad_debt,
        "stress_scenarios": STRESS_SCENARIOS,
        "stress": stress,
    }
    print(
        f"dynamic simulation {figures['dynamic_sim_shape']} (scenarios x steps x accounts), "
        f"{details['threads']} threads: cascades {on:.2f} s, no cascades {off:.2f} s "
        f"(first call {warm:.2f} s); exact share {details['exact_share']:.4f}; mean bad debt "
        f"{details['mean_bad_debt_usd']:,.0f} vs {details['mean_bad_debt_nocascade_usd']:,.0f} USD"
    )
    for name, st in stress.items():
        print(
            f"  stress {name}: {st['seconds']:.2f} s for {STRESS_SCENARIOS} scenarios "
            f"(~{st['seconds_per_100k_scenarios']:.0f} s per 100k), exact share "
            f"{st['exact_share']:.3f}, {st['mean_accounts_liquidated']:.0f} accounts liquidated"
        )
    return figures, details


def bench_simulation() -> dict[str, float | str]:
    """Time :func:`~optimizer.protocol.simulation.simulate_market` with cascades on and off.

    Prints the figures, the stress timings (accounts re-levered to a low health factor) and
    summary statistics.

    Returns
    -------
    dict
        ``dynamic_sim_seconds`` and ``dynamic_sim_nocascade_seconds`` (wall time, best of
        ``REPEAT``) and ``dynamic_sim_shape`` (scenarios x steps x accounts).
    """
    return _measure()[0]


@benchmark("dynamic_sim")
def dynamic_sim() -> BenchResult:
    figures, details = _measure()
    return BenchResult(figures=dict(figures), details=details)


if __name__ == "__main__":
    print(bench_simulation())
