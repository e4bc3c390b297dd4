"""Property-based tests of the protocol functions and of every way a parameter set is recommended.

Bad debt is never negative and never above the debt outstanding after the shock; health factors
scale exactly with prices; re-levering keeps health factors; and every parameter set the pipeline
can produce (the threshold LP, the anti-procyclicality buffer and floors) satisfies the
invariants 0 <= LTV <= LT < 1 and LT x (1 + bonus) <= 1.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer.protocol.book import Book
from optimizer.protocol.kernels import bad_debt_static
from optimizer.protocol.mechanics import (
    bad_debt_static_numpy,
    debt_at_threshold_factor,
    health_factor,
    relever_factor,
)
from optimizer.protocol.params import RiskParams

ASSETS = ("a", "b", "c")
N = len(ASSETS)
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

amounts = st.floats(1e-2, 1e6, allow_nan=False, allow_infinity=False)  # USD; no subnormal positions
sparse_amounts = st.one_of(st.just(0.0), amounts)
relatives = st.floats(0.02, 3.0, allow_nan=False, allow_infinity=False)


@st.composite
def params_st(draw, n: int = N) -> RiskParams:
    bonus = draw(arrays(np.float64, n, elements=st.floats(0.0, 0.2)))
    lt = draw(arrays(np.float64, n, elements=st.floats(0.05, 0.95)))
    lt = np.minimum(lt, 1.0 / (1.0 + bonus) - 1e-9)
    ltv = lt * draw(arrays(np.float64, n, elements=st.floats(0.0, 1.0)))
    return RiskParams(assets=ASSETS[:n], ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus).check()


@st.composite
def market_st(draw):
    n_acc = draw(st.integers(1, 8))
    n_s = draw(st.integers(1, 6))
    coll = draw(arrays(np.float64, (n_acc, N), elements=sparse_amounts))
    debt = draw(arrays(np.float64, (n_acc, N), elements=sparse_amounts))
    rel = draw(arrays(np.float64, (n_s, N), elements=relatives))
    slip = draw(arrays(np.float64, N, elements=st.floats(0.0, 0.5)))
    scale = draw(arrays(np.float64, n_acc, elements=st.floats(0.0, 3.0)))
    return Book.from_dense(ASSETS, coll, debt), coll, debt, rel, slip, scale, draw(params_st())


# ---------------------------------------------------------------------------------------------
# bad debt
# ---------------------------------------------------------------------------------------------
@PROPS
@given(market_st(), st.sampled_from([np.float32, np.float64]))
def test_bad_debt_never_negative_nor_above_total_debt(market, dtype):
    book, coll, debt, rel, slip, scale, p = market
    res = bad_debt_static(book, rel, p, slippage=slip, debt_scale=scale, dtype=dtype, by_asset=True)
    post_debt = rel @ (debt * scale[:, None]).sum(axis=0)  # all debt after the shock, USD
    tol = 1e-4 if dtype is np.float32 else 1e-9
    assert np.all(res.total >= 0)
    assert np.all(res.total <= post_debt * (1 + tol) + 1e-6)
    assert np.all(res.by_asset >= -1e-9)
    np.testing.assert_allclose(res.by_asset.sum(axis=1), res.total, rtol=tol, atol=1e-6)
    ref = bad_debt_static_numpy(book, rel, p, slippage=slip, debt_scale=scale)
    assert np.all(ref >= 0) and np.all(ref <= post_debt * (1 + 1e-12) + 1e-6)


@PROPS
@given(market_st(), st.floats(0.0, 1.0))
def test_healthy_book_without_price_move_has_no_bad_debt(market, headroom):
    """Accounts at or above HF = 1 with every price unchanged are never liquidated."""
    book, *_, p = market
    scale = debt_at_threshold_factor(book, p) * headroom
    res = bad_debt_static(book, np.ones((1, N)), p, debt_scale=scale, dtype=np.float64)
    assert res.total[0] == 0.0


@PROPS
@given(market_st())
def test_bad_debt_zero_when_collateral_covers_debt_and_bonus(market):
    """No slippage and every account's collateral worth at least debt x (1 + bonus): no bad debt."""
    book, coll, debt, rel, _, _, p = market
    c_after = (coll * rel[:, None, :]).sum(axis=2)  # (n_s, n_acc)
    d_after = (debt[None, :, :] * rel[:, None, :]).sum(axis=2)
    need = (1 + p.liquidation_bonus.max()) * d_after
    assume(np.all(c_after >= need * (1 + 1e-9)))
    res = bad_debt_static(book, rel, p, dtype=np.float64)
    np.testing.assert_allclose(res.total, 0.0, atol=1e-6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market_st())
def test_dynamic_simulation_bad_debt_bounded(market):
    simulation = pytest.importorskip("optimizer.protocol.simulation")
    book, coll, debt, rel, _, scale, p = market
    paths = np.cumprod(np.clip(rel[None, :, :], 0.02, 3.0), axis=1)  # one path of n_s steps
    res = simulation.simulate_market(book, paths, p, adv_usd=np.full(N, 1e7), sigma_daily=np.full(N, 0.05),
                                     debt_scale=scale, dtype=np.float64)
    worst_debt = (debt * scale[:, None]).sum(axis=0) @ np.maximum(paths[0].max(axis=0), 1.0)
    assert np.all(res.bad_debt >= 0)
    assert np.all(res.bad_debt <= worst_debt * (1 + 1e-9) + 1e-6)


# ---------------------------------------------------------------------------------------------
# health factors
# ---------------------------------------------------------------------------------------------
hf_case = st.tuples(
    arrays(np.float64, (5, N), elements=amounts),
    arrays(np.float64, 5, elements=st.floats(1.0, 1e6)),
    arrays(np.float64, N, elements=st.floats(0.0, 0.95)),
    arrays(np.float64, N, elements=st.floats(0.01, 10.0)),
    st.floats(0.01, 10.0),
)


@PROPS
@given(hf_case)
def test_health_factor_scales_with_prices(case):
    coll, debt, lt, move, debt_move = case
    hf = health_factor(coll, debt, lt)
    # each collateral price moves by its own factor: HF is linear in the collateral values
    np.testing.assert_allclose(health_factor(coll * move, debt, lt), (coll * move) @ lt / debt, rtol=1e-12)
    # debt repriced by debt_move: HF divides by it
    np.testing.assert_allclose(health_factor(coll, debt * debt_move, lt), hf / debt_move, rtol=1e-12)
    # every price by the same factor: HF unchanged
    np.testing.assert_allclose(health_factor(coll * debt_move, debt * debt_move, lt), hf, rtol=1e-12)
    # prices only fall: HF never rises
    down = np.minimum(move, 1.0)
    assert np.all(health_factor(coll * down, debt, lt) <= hf * (1 + 1e-12))


@PROPS
@given(market_st(), params_st())
def test_relevering_keeps_health_factors(market, new):
    book, coll, debt, *_, cur = market
    lev = relever_factor(book, cur, new)
    d = debt.sum(axis=1)
    ok = (d > 0) & (coll @ cur.liquidation_threshold > 0)
    before = health_factor(coll[ok], d[ok], cur.liquidation_threshold)
    after = health_factor(coll[ok], d[ok] * lev[ok], new.liquidation_threshold)
    np.testing.assert_allclose(after[np.isfinite(after)], before[np.isfinite(after)], rtol=1e-9)


@PROPS
@given(market_st())
def test_debt_at_threshold_puts_every_borrower_at_one(market):
    book, coll, debt, *_, p = market
    f = debt_at_threshold_factor(book, p)
    d = debt.sum(axis=1)
    ok = (d > 0) & (coll @ p.liquidation_threshold > 0)
    np.testing.assert_allclose(health_factor(coll[ok], d[ok] * f[ok], p.liquidation_threshold), 1.0, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# recommended parameter sets
# ---------------------------------------------------------------------------------------------
@st.composite
def lp_case(draw):
    n_s = draw(st.integers(20, 60))
    k = draw(arrays(np.float64, (n_s, N), elements=st.floats(0.3, 1.5)))
    bonus = draw(arrays(np.float64, N, elements=st.floats(0.0, 0.15)))
    buffer = draw(arrays(np.float64, N, elements=st.floats(0.0, 0.1)))
    lt_max = np.minimum(draw(arrays(np.float64, N, elements=st.floats(0.5, 0.95))), 1.0 / (1.0 + bonus))
    lt_min = np.minimum(np.maximum(buffer + 0.01, 0.2), lt_max)
    budget = draw(st.floats(1.0, 1e6))
    coll = draw(arrays(np.float64, N, elements=st.floats(1e5, 1e8)))
    return k, bonus, buffer, lt_min, lt_max, budget, coll


@pytest.mark.filterwarnings("ignore:row generation did not certify")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lp_case())
def test_threshold_lp_recommendations_satisfy_invariants(case):
    from optimizer.optimize import ThresholdOptimizer

    k, bonus, buffer, lt_min, lt_max, budget, coll = case
    opt = ThresholdOptimizer(alpha=0.9, budget=budget).fit(k, coll, coll, lt_min, lt_max, buffer)
    lt = np.asarray(opt.lt_, dtype=float)
    assert np.all(lt >= lt_min - 1e-9) and np.all(lt <= lt_max + 1e-9)
    p = RiskParams(assets=ASSETS, ltv=np.maximum(lt - buffer, 0.0), liquidation_threshold=lt,
                   liquidation_bonus=bonus)
    assert p.violations() == []
    if opt.status_ == "optimal":
        assert opt.cvar_ <= budget * (1 + 1e-6) + 1e-9


@PROPS
@given(params_st(), st.floats(0.0, 1.0))
def test_anti_procyclicality_buffer_keeps_invariants(p, buffer):
    from optimizer.optimize.anti_procyclicality import buffer_haircut

    ltv = buffer_haircut(p.ltv, buffer)
    assert np.all(ltv <= p.ltv + 1e-15) and np.all(ltv >= 0)
    np.testing.assert_allclose(1 - ltv, np.minimum(1.0, (1 - p.ltv) * (1 + buffer)), atol=1e-12)
    assert p.replace(ltv=ltv).violations() == []
    assert np.all(ltv[p.ltv == 0] == 0)


@PROPS
@given(params_st(), params_st())
def test_anti_procyclicality_floor_keeps_invariants(p, q):
    from optimizer.optimize.anti_procyclicality import floor_params

    q = q.replace(liquidation_bonus=p.liquidation_bonus,
                  liquidation_threshold=np.minimum(q.liquidation_threshold, 1 / (1 + p.liquidation_bonus) - 1e-9))
    q = q.replace(ltv=np.minimum(q.ltv, q.liquidation_threshold))
    lt, ltv = floor_params(p.liquidation_threshold, p.ltv, q.liquidation_threshold, q.ltv)
    out = p.replace(ltv=ltv, liquidation_threshold=lt)
    assert out.violations() == []
    assert np.all(1 - ltv >= np.maximum(1 - p.ltv, 1 - q.ltv) - 1e-15)  # each haircut floored
