"""Static bad-debt evaluation: the numba kernel against the chunked-numpy baseline.

Inputs: 100,000 scenarios x 10,000 accounts x 30 assets. The book is a synthetic one (seed 0)
whose accounts post 1-4 collateral assets and owe 1-2; every borrowing account is placed at
HF = 1 (the optimizer's worst case), slippage 0-5 %, so many accounts are liquidated in a bad
scenario. The kernel runs on all 100,000 scenarios; the numpy baseline, far slower, on the first
``BASELINE_SCENARIOS`` of them (with its better BLAS thread setting); both are reported as
account-scenarios per second of wall time (best of a few runs, JIT warmed first).
"""

from __future__ import annotations

import numpy as np

from bench import BenchResult, Comparison, benchmark, best_time

N_SCENARIOS = 100_000
N_ACCOUNTS = 10_000
N_ASSETS = 30
BASELINE_SCENARIOS = 5_000
SEED = 0


def _inputs():
    from optimizer.protocol.books import synthetic_book
    from optimizer.protocol.mechanics import debt_at_threshold_factor
    from optimizer.protocol.params import RiskParams

    rng = np.random.default_rng(SEED)
    assets = tuple(f"a{i:02d}" for i in range(N_ASSETS))
    lt = rng.uniform(0.60, 0.85, N_ASSETS)
    bonus = rng.uniform(0.05, 0.10, N_ASSETS)
    bonus = np.minimum(bonus, 1 / lt - 1)
    params = RiskParams(
        assets=assets, ltv=lt - 0.04, liquidation_threshold=lt, liquidation_bonus=bonus
    ).check()
    supplied = rng.lognormal(19, 1.5, N_ASSETS)
    borrowed = supplied * rng.uniform(0.05, 0.5, N_ASSETS)
    book = synthetic_book(
        assets,
        supplied_usd=supplied,
        borrowed_usd=borrowed,
        n_accounts=N_ACCOUNTS,
        current=params,
        rng=rng,
        max_assets_per_account=4,
    )
    # 10-day price relatives: a fat-tailed market factor plus idiosyncratic noise
    beta = rng.uniform(0.5, 1.5, N_ASSETS)
    market = rng.standard_t(4, size=(N_SCENARIOS, 1)) * 0.10
    idio = rng.standard_normal((N_SCENARIOS, N_ASSETS)) * rng.uniform(0.03, 0.12, N_ASSETS)
    relatives = np.exp(market * beta + idio)
    slippage = rng.uniform(0.0, 0.05, N_ASSETS)
    return book, params, relatives, slippage, debt_at_threshold_factor(book, params)


def _float64_temporaries() -> list[str]:
    """Variables of the float32 fast kernel inferred as float64, other than the accumulators."""
    import numba

    from optimizer.protocol import kernels

    f32 = np.float32
    accounts = kernels.CompactAccounts(
        np.ones(2, np.int64),
        np.zeros((2, 4), np.int32),
        np.ones((2, 4), f32),
        np.ones((2, 4), f32),
        np.zeros((2, 2), np.int32),
        np.ones((2, 2), f32),
    )
    out = kernels.Totals(np.zeros(16), np.zeros(16, np.int64), np.zeros((0, 2)))
    args = (np.ones(32, f32), 16, accounts, f32(0), out)
    serial = numba.njit(kernels._compact_kernel.py_func)
    serial.compile(tuple(numba.typeof(a) for a in args))
    typemap = serial.overloads[serial.signatures[0]].type_annotation.typemap
    allowed = {"acc", "total", "out"}  # the float64 accumulators and outputs
    names = {
        k.split(".")[0]
        for k, t in typemap.items()
        if "float64" in str(t) and not k.startswith(("$", "arg."))
    }
    return sorted(names - allowed)


@benchmark("static_kernel")
def static_kernel() -> BenchResult:
    """Time the float32 kernel on 100,000 scenarios and the numpy baseline on a subset."""
    from threadpoolctl import threadpool_limits

    from optimizer.protocol import kernels
    from optimizer.protocol.kernels import bad_debt_static
    from optimizer.protocol.mechanics import bad_debt_static_numpy

    book, params, rel, slip, scale = _inputs()
    kw = dict(slippage=slip, debt_scale=scale)
    for dt in (np.float32, np.float64):  # compile (or load the cache) before timing
        bad_debt_static(book, rel[:512], params, dtype=dt, **kw)
    bad_debt_static(book, rel[:512], params, by_asset=True, **kw)

    t32 = best_time(lambda: bad_debt_static(book, rel, params, **kw), repeat=3)
    t64 = best_time(lambda: bad_debt_static(book, rel, params, dtype=np.float64, **kw), repeat=1)
    n_attr = 20_000
    t_attr = best_time(
        lambda: bad_debt_static(book, rel[:n_attr], params, by_asset=True, **kw), repeat=1
    )
    base_rel = rel[:BASELINE_SCENARIOS]
    # the baseline gets its best BLAS threading: on a busy 2-core machine one thread often wins
    t_np_by_threads = {}
    for threads in (None, 1):
        with threadpool_limits(limits=threads, user_api="blas"):
            t_np_by_threads["default" if threads is None else str(threads)] = best_time(
                lambda: bad_debt_static_numpy(book, base_rel, params, **kw), repeat=2
            )
    blas_threads, t_np = min(t_np_by_threads.items(), key=lambda kv: kv[1])

    # agreement on the baseline's scenarios
    ref = bad_debt_static_numpy(book, base_rel, params, **kw)
    got = bad_debt_static(book, base_rel, params, **kw)
    hit = ref > 1e-6 * book.total_debt
    sig32 = [s for s in kernels._compact_kernel.signatures if "float32" in str(s[0])]

    n_acc = book.n_accounts
    rate32 = N_SCENARIOS * n_acc / t32
    rate_np = BASELINE_SCENARIOS * n_acc / t_np
    figures = {
        "static_kernel_account_scenarios_per_s": rate32,
        "static_kernel_numpy_baseline_per_s": rate_np,
        "static_kernel_speedup": rate32 / rate_np,
    }
    details = {
        "n_scenarios": N_SCENARIOS,
        "n_accounts": n_acc,
        "n_borrowing_accounts": int(np.count_nonzero(book.account_debt > 0)),
        "n_assets": book.n_assets,
        "collateral_positions_per_account": float(np.diff(book.coll_indptr).mean()),
        "debt_positions_per_borrower": float(
            np.diff(book.debt_indptr)[book.account_debt > 0].mean()
        ),
        "baseline_scenarios": BASELINE_SCENARIOS,
        "baseline": "mechanics.bad_debt_static_numpy: one dense float64 matmul per chunk of "
        "scenarios "
        "(chunk x 3 accounts), then in-place mask/max/sum; default chunk",
        "kernel_float32_seconds": t32,
        "kernel_float64_seconds": t64,
        "kernel_float64_account_scenarios_per_s": N_SCENARIOS * n_acc / t64,
        "kernel_by_asset_account_scenarios_per_s": n_attr * n_acc / t_attr,
        "baseline_seconds": t_np,
        "baseline_blas_threads": blas_threads,
        "baseline_seconds_by_blas_threads": t_np_by_threads,
        "mean_accounts_liquidated": float(got.n_liquidated.mean()),
        "share_scenarios_with_bad_debt": float(np.mean(got.total > 0)),
        "float32_vs_numpy_max_rel_error": float(np.max(np.abs(got.total[hit] / ref[hit] - 1)))
        if hit.any()
        else 0.0,
        "float32_vs_numpy_sum_rel_error": float(abs(got.total.sum() / ref.sum() - 1))
        if ref.sum() > 0
        else 0.0,
        "kernel_dtypes": {
            "relatives": "float32",
            "amounts": "float32",
            "totals": str(got.total.dtype),
            "signature": [str(t) for t in sig32[0]] if sig32 else [],
        },
        "float64_temporaries_in_float32_kernel": _float64_temporaries(),
    }
    return BenchResult(
        figures=figures,
        comparisons=[
            Comparison(
                "static_kernel_account_scenarios_per_s",
                "static_kernel_numpy_baseline_per_s",
                "static_kernel_speedup",
            )
        ],
        details=details,
    )
