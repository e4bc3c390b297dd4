"""The numba static bad-debt kernel against the numpy baseline and a brute-force reference."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer.protocol import kernels
from optimizer.protocol.book import Book
from optimizer.protocol.kernels import BadDebtResult, bad_debt_static, isolated_recovery
from optimizer.protocol.mechanics import (
    LIQUIDATION_HF,
    bad_debt_static_numpy,
    debt_at_threshold_factor,
    relever_factor,
)
from optimizer.protocol.params import RiskParams


def _brute(book: Book, rel: np.ndarray, p: RiskParams, slip: np.ndarray, scale: np.ndarray):
    """Per-scenario total, per-asset attribution and liquidation count, loop by loop."""
    coll = book.collateral_matrix().toarray()
    debt = book.debt_matrix().toarray()
    rec = (1 - slip) / (1 + p.liquidation_bonus)
    n_s, n = rel.shape
    total, by_asset, n_liq = np.zeros(n_s), np.zeros((n_s, n)), np.zeros(n_s, int)
    for s in range(n_s):
        for a in range(book.n_accounts):
            c = coll[a] * rel[s]
            d_vec = scale[a] * debt[a] * rel[s]
            d = d_vec.sum()
            if d > 0 and c @ p.liquidation_threshold < d * LIQUIDATION_HF:
                n_liq[s] += 1
                bad = max(d - c @ rec, 0.0)
                total[s] += bad
                by_asset[s] += bad * (c / c.sum() if c.sum() > 0 else d_vec / d)
    return total, by_asset, n_liq


@pytest.fixture(scope="module")
def small_case():
    rng = np.random.default_rng(5)
    n_acc, n = 40, 5
    coll = rng.lognormal(6, 1, (n_acc, n)) * (rng.random((n_acc, n)) < 0.45)
    debt = rng.lognormal(6, 1, (n_acc, n)) * (rng.random((n_acc, n)) < 0.3)
    debt[3] = 0.0  # a supply-only account
    coll[7] = 0.0  # debt without collateral
    debt[7, 0] = 10.0
    assets = tuple("abcde")
    book = Book.from_dense(assets, coll, debt)
    p = RiskParams(
        assets=assets,
        ltv=np.array([0.7, 0.6, 0.5, 0.4, 0.0]),
        liquidation_threshold=np.array([0.8, 0.7, 0.6, 0.5, 0.0]),
        liquidation_bonus=np.array([0.05, 0.07, 0.1, 0.12, 0.0]),
    )
    rel = np.exp(rng.normal(-0.05, 0.25, (130, n)))  # 130: two full blocks and a partial one
    slip = np.array([0.0, 0.01, 0.05, 0.2, 0.0])
    scale = rng.uniform(0.3, 1.5, n_acc)
    return book, p, rel, slip, scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_matches_brute_force_with_attribution(small_case, dtype):
    book, p, rel, slip, scale = small_case
    want_total, want_by_asset, want_n = _brute(book, rel, p, slip, scale)
    res = bad_debt_static(book, rel, p, slippage=slip, debt_scale=scale, dtype=dtype, by_asset=True)
    rtol = 1e-12 if dtype is np.float64 else 1e-4
    scale_usd = want_total.max()
    assert want_total.max() > 0 and want_n.max() > 0
    np.testing.assert_allclose(res.total, want_total, rtol=rtol, atol=rtol * scale_usd)
    np.testing.assert_allclose(res.by_asset, want_by_asset, rtol=rtol, atol=rtol * scale_usd)
    np.testing.assert_allclose(
        res.by_asset.sum(axis=1), res.total, rtol=1e-9, atol=1e-9 * scale_usd
    )
    if dtype is np.float64:
        np.testing.assert_array_equal(res.n_liquidated, want_n)
    assert res.total.dtype == np.float64 and res.n_liquidated.dtype == np.int64
    assert res.dtype == np.dtype(dtype).name


def test_kernel_equals_numpy_baseline_on_synthetic_book(
    synth_book, market_params, scenario_relatives
):
    """Seeded synthetic book (seed 7) and scenarios (seed 11): re-levered and worst-case debt."""
    new = market_params.replace(liquidation_threshold=market_params.liquidation_threshold - 0.02)
    slip = np.array([0.0, 0.01, 0.01, 0.03, 0.08, 0.04])
    for scale in (
        relever_factor(synth_book, market_params, new),
        debt_at_threshold_factor(synth_book, new),
    ):
        base = bad_debt_static_numpy(
            synth_book, scenario_relatives, new, slippage=slip, debt_scale=scale
        )
        assert base.max() > 0
        r64 = bad_debt_static(
            synth_book, scenario_relatives, new, slippage=slip, debt_scale=scale, dtype=np.float64
        )
        np.testing.assert_allclose(r64.total, base, rtol=1e-10, atol=1e-6)
        r32 = bad_debt_static(synth_book, scenario_relatives, new, slippage=slip, debt_scale=scale)
        assert r32.dtype == "float32"
        np.testing.assert_allclose(r32.total, base, rtol=1e-4, atol=1e-7 * synth_book.total_debt)
        assert abs(r32.total.sum() / base.sum() - 1) < 1e-5
        assert r32.by_asset is None


def test_kernel_edge_cases(small_case):
    book, p, rel, slip, scale = small_case
    empty = bad_debt_static(book, rel[:0], p, by_asset=True)
    assert empty.total.shape == (0,) and empty.by_asset.shape == (0, 5)
    at_one = debt_at_threshold_factor(book, p)
    assert at_one[7] == 0  # no collateral: no debt is possible at HF = 1
    flat = bad_debt_static(book, np.ones((3, 5)), p, debt_scale=at_one)
    assert np.all(flat.n_liquidated == 0) and np.all(flat.total == 0)
    lone = Book.from_dense(tuple("abcde"), np.zeros((1, 5)), np.eye(1, 5) * 10.0)
    res = bad_debt_static(lone, np.full((2, 5), 0.5), p, by_asset=True)
    np.testing.assert_allclose(res.total, 5.0)  # all of it, attributed to the debt asset
    np.testing.assert_allclose(res.by_asset[:, 0], 5.0)
    no_debt = Book.from_dense(tuple("abcde"), np.ones((4, 5)), np.zeros((4, 5)))
    assert np.all(bad_debt_static(no_debt, rel, p).total == 0)
    with pytest.raises(ValueError, match=r"`dtype` must be float32 or float64"):
        bad_debt_static(book, rel, p, dtype=np.float16)
    with pytest.raises(ValueError, match=r"`params.assets` must equal `book.assets`"):
        bad_debt_static(book, rel, p.subset(["e", "d", "c", "b", "a"]))


def test_result_summary_and_tail_contribution(small_case):
    book, p, rel, slip, scale = small_case
    res = bad_debt_static(book, rel, p, slippage=slip, debt_scale=scale, by_asset=True)
    assert isinstance(res, BadDebtResult)
    assert "BadDebtResult(n_scenarios=130" in repr(res)
    share = res.tail_contribution
    assert share.shape == (5,) and share.sum() == pytest.approx(1.0)


def _typemap(py_func, args):
    """Inferred types of a serial copy of a kernel (the cached parallel one carries none)."""
    serial = numba.njit(py_func)
    serial.compile(tuple(numba.typeof(a) for a in args))
    return {
        name.split(".")[0]: str(typ)
        for name, typ in serial.overloads[serial.signatures[0]].type_annotation.typemap.items()
    }


def _check_types(types, expected):
    for name, want in expected.items():
        assert types.get(name) == want, (name, types.get(name), want)


def test_kernel_arithmetic_stays_float32():
    """A float64 literal in a hot loop would silently widen it; check the inferred types."""
    f32, i32 = np.float32, np.int32
    n_s, n_acc = 16, 3
    indptr = np.arange(n_acc + 1, dtype=np.int64)
    assets = np.zeros(n_acc, i32)
    amounts = np.ones(n_acc, f32)
    out = kernels.Totals(np.zeros(n_s), np.zeros(n_s, np.int64), np.zeros((0, 2)))
    accounts = kernels.CsrAccounts(
        indptr, assets, amounts, amounts, amounts, indptr, assets, amounts
    )
    csr_args = (np.ones(2 * n_s, f32), n_s, accounts, f32(0), out)
    f32_scalar, f32_array = "float32", "array(float32, 1d, C)"
    types = _typemap(kernels._csr_kernel.py_func, csr_args)
    _check_types(
        types,
        {
            "clt": f32_array,
            "crec": f32_array,
            "dd": f32_array,
            "short": f32_scalar,
            "x": f32_scalar,
            "v": f32_scalar,
            "vl": f32_scalar,
            "vr": f32_scalar,
            "acc": "array(float64, 1d, C)",
        },
    )
    compact = kernels.CompactAccounts(
        np.ones(n_acc, np.int64),
        np.zeros((n_acc, 4), i32),
        np.ones((n_acc, 4), f32),
        np.ones((n_acc, 4), f32),
        np.zeros((n_acc, 2), i32),
        np.ones((n_acc, 2), f32),
    )
    compact_args = (np.ones(2 * n_s, f32), n_s, compact, f32(0), out)
    types = _typemap(kernels._compact_kernel.py_func, compact_args)
    _check_types(
        types,
        {
            name: f32_scalar
            for name in ("c", "r", "d", "short", "x0", "x1", "x2", "x3", "l0", "q3", "e0", "e1")
        },
    )
    assert types["acc"] == "array(float64, 1d, C)"


def test_isolated_recovery_formula_and_static_equivalence():
    rng = np.random.default_rng(2)
    n_s, n = 300, 3
    rel = np.exp(rng.normal(0, 0.2, (n_s, n)))
    debt_rel = np.exp(rng.normal(0, 0.02, n_s))
    bonus = np.array([0.05, 0.08, 0.1])
    slip = np.array([0.0, 0.02, 0.1])
    k = isolated_recovery(rel, debt_rel, bonus, slip)
    np.testing.assert_allclose(k, rel / debt_rel[:, None] * (1 - slip) / (1 + bonus))
    # one isolated account per collateral asset, at HF = 1, all borrowing the same stable asset
    lt = np.array([0.8, 0.7, 0.6])
    assets = ("usd", "x", "y", "z")
    coll = np.zeros((3, 4))
    coll[np.arange(3), np.arange(1, 4)] = [100.0, 200.0, 300.0]
    debt = np.zeros((3, 4))
    debt[:, 0] = coll[:, 1:].sum(axis=1) * lt
    book = Book.from_dense(assets, coll, debt)
    p = RiskParams(
        assets=assets,
        ltv=np.r_[0.0, lt - 0.05],
        liquidation_threshold=np.r_[0.0, lt],
        liquidation_bonus=np.r_[0.0, bonus],
    )
    full_rel = np.column_stack([debt_rel, rel])
    res = bad_debt_static(
        book, full_rel, p, slippage=np.r_[0.0, slip], dtype=np.float64, by_asset=True
    )
    liquidated = rel < debt_rel[:, None] * LIQUIDATION_HF
    want = (
        coll[np.arange(3), np.arange(1, 4)] * debt_rel[:, None] * np.maximum(lt - k, 0) * liquidated
    )
    np.testing.assert_allclose(res.by_asset[:, 1:], want, rtol=1e-10, atol=1e-9)
    with pytest.raises(ValueError, match=r"`debt_relatives` must have shape"):
        isolated_recovery(rel, debt_rel[:-1], bonus, slip)


small_books = st.integers(1, 8).flatmap(
    lambda n_acc: st.tuples(
        arrays(np.float64, (n_acc, 3), elements=st.floats(0, 1e6) | st.just(0.0)),
        arrays(np.float64, (n_acc, 3), elements=st.floats(0, 1e6) | st.just(0.0)),
        arrays(np.float64, (7, 3), elements=st.floats(0.0, 3.0)),
        arrays(np.float64, 3, elements=st.floats(0.0, 0.95)),
        arrays(np.float64, 3, elements=st.floats(0.0, 0.3)),
        arrays(np.float64, 3, elements=st.floats(0.0, 0.9)),
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_books)
def test_float64_kernel_equals_numpy_on_random_books(args):
    coll, debt, rel, lt, bonus, slip = args
    assets = ("a", "b", "c")
    book = Book.from_dense(assets, coll, debt)
    p = RiskParams(assets=assets, ltv=0.9 * lt, liquidation_threshold=lt, liquidation_bonus=bonus)
    want = bad_debt_static_numpy(book, rel, p, slippage=slip)
    got = bad_debt_static(book, rel, p, slippage=slip, dtype=np.float64)
    np.testing.assert_allclose(got.total, want, rtol=1e-9, atol=1e-6)
    attributed = bad_debt_static(book, rel, p, slippage=slip, dtype=np.float64, by_asset=True)
    np.testing.assert_allclose(attributed.total, want, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(attributed.by_asset.sum(axis=1), want, rtol=1e-9, atol=1e-6)


_CACHE_PROBE = """
import json
import numpy as np
from optimizer.protocol import _sim_kernel, kernels
from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams
from optimizer.protocol.simulation import simulate_market
assets = ("eth", "usdc")
book = Book.from_dense(assets, [[100.0, 0.0]], [[0.0, 75.0]])
p = RiskParams(assets, ltv=[0.75, 0.0], liquidation_threshold=[0.8, 0.0],
               liquidation_bonus=[0.05, 0.0])
simulate_market(book, np.array([[[0.7, 1.0]]]), p, adv_usd=[1e9, 1e9], sigma_daily=[0.03, 0.0])
kernels.bad_debt_static(book, np.array([[0.7, 1.0]]), p)
kernels.bad_debt_static(book, np.array([[0.7, 1.0]]), p, by_asset=True)
print(json.dumps({f.__name__: [sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())]
                  for f in (_sim_kernel.simulate_kernel, kernels._compact_kernel,
                            kernels._csr_kernel)}))
"""


@pytest.mark.slow
def test_kernels_taking_named_tuples_load_from_the_cache():
    """numba caches functions of NamedTuples: a second process compiles nothing."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(kernels.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _CACHE_PROBE], env=env, cwd=root, check=True,
                capture_output=True, text=True,
            ).stdout
        )
        for _ in range(2)  # the first fills the cache if this process has not
    ]
    assert runs[1] == {name: [1, 0] for name in runs[1]}, runs
