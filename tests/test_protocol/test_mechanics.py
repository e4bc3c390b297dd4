"""Pure mechanics: health factor, recovery, re-levering, static bad debt, liquidation by call."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer.protocol.book import Book
from optimizer.protocol.mechanics import (
    LIQUIDATION_HF,
    bad_debt_static_numpy,
    debt_at_threshold_factor,
    health_factor,
    liquidate_single,
    recovery_factor,
    relever_factor,
)
from optimizer.protocol.params import RiskParams

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _params(assets, lt, bonus, ltv=None) -> RiskParams:
    lt = np.asarray(lt, float)
    return RiskParams(
        assets=tuple(assets),
        ltv=np.asarray(ltv, float) if ltv is not None else 0.9 * lt,
        liquidation_threshold=lt,
        liquidation_bonus=np.asarray(bonus, float),
    )


def brute_force(coll, debt, rel, lt, bonus, slippage=0.0, scale=None):
    """Loop-by-loop static bad debt (total per scenario, per account), the model as written."""
    n_s, n_acc = rel.shape[0], coll.shape[0]
    scale = np.ones(n_acc) if scale is None else scale
    rec = (1 - np.broadcast_to(slippage, lt.shape)) / (1 + bonus)
    out = np.zeros((n_s, n_acc))
    for s in range(n_s):
        for a in range(n_acc):
            c = coll[a] * rel[s]
            d = scale[a] * float(debt[a] @ rel[s])
            if d > 0 and c @ lt < d * LIQUIDATION_HF:
                out[s, a] = max(d - c @ rec, 0.0)
    return out


# --------------------------------------------------------------------------------------------
# health factor and recovery
# --------------------------------------------------------------------------------------------
def test_health_factor_hand_values():
    coll = np.array([[100.0, 50.0], [10.0, 0.0], [5.0, 5.0]])
    debt = np.array([80.0, 0.0, 8.0])
    hf = health_factor(coll, debt, np.array([0.8, 0.5]))
    np.testing.assert_allclose(hf, [(80 + 25) / 80, np.inf, (4 + 2.5) / 8])


def test_health_factor_broadcasts_over_leading_dims():
    rng = np.random.default_rng(0)
    coll = rng.random((4, 5, 3))
    debt = rng.random(5)
    lt = np.array([0.7, 0.8, 0.5])
    hf = health_factor(coll, debt, lt)
    assert hf.shape == (4, 5)
    np.testing.assert_allclose(hf[2, 3], coll[2, 3] @ lt / debt[3])


# Amounts and thresholds are zero or at least 1e-6: smaller ones are not prices but underflow
# (LT = 2.2e-308 times a collateral amount is subnormal and loses relative precision).
_amount = st.one_of(st.just(0.0), st.floats(1e-6, 1e9))
_threshold = st.one_of(st.just(0.0), st.floats(1e-6, 0.95))
hf_inputs = st.tuples(
    arrays(np.float64, 4, elements=_amount),
    st.floats(1e-3, 1e9),
    arrays(np.float64, 4, elements=_threshold),
    st.floats(1e-3, 1e3),
)


@PROPS
@given(hf_inputs)
def test_health_factor_invariant_to_uniform_price_move(args):
    coll, debt, lt, lam = args
    np.testing.assert_allclose(
        health_factor(coll * lam, debt * lam, lt), health_factor(coll, debt, lt), rtol=1e-12
    )


@PROPS
@given(hf_inputs)
def test_health_factor_linear_in_collateral_prices(args):
    coll, debt, lt, lam = args
    np.testing.assert_allclose(
        health_factor(coll * lam, debt, lt),
        lam * health_factor(coll, debt, lt),
        rtol=1e-12,
        atol=1e-300,
    )


def test_recovery_factor_values_and_errors():
    np.testing.assert_allclose(
        recovery_factor(np.array([0.05, 0.1]), 0.02), [0.98 / 1.05, 0.98 / 1.1]
    )
    with pytest.raises(ValueError, match=r"`slippage` must lie in \[0, 1\)"):
        recovery_factor(0.05, 1.0)
    with pytest.raises(ValueError, match=r"`bonus` must be finite and >= 0"):
        recovery_factor(-0.01, 0.0)


# --------------------------------------------------------------------------------------------
# re-levering and the worst case
# --------------------------------------------------------------------------------------------
def test_relever_factor_hand_values_and_hf_kept():
    book = Book.from_dense(
        ("a", "b"),
        collateral=np.array([[100.0, 0.0], [50.0, 50.0], [0.0, 0.0]]),
        debt=np.array([[0.0, 40.0], [30.0, 0.0], [0.0, 10.0]]),
    )
    cur = _params(("a", "b"), [0.8, 0.5], [0.05, 0.05])
    new = _params(("a", "b"), [0.7, 0.6], [0.05, 0.05])
    lev = relever_factor(book, cur, new)
    np.testing.assert_allclose(lev, [0.7 / 0.8, (35 + 30) / (40 + 25), 1.0])
    coll = book.collateral_matrix().toarray()
    hf_cur = health_factor(coll, book.account_debt, cur.liquidation_threshold)
    hf_new = health_factor(coll, book.account_debt * lev, new.liquidation_threshold)
    np.testing.assert_allclose(hf_new[:2], hf_cur[:2])
    np.testing.assert_allclose(relever_factor(book, cur, cur), 1.0)


def test_debt_at_threshold_puts_every_borrower_at_hf_one(synth_book, market_params):
    f = debt_at_threshold_factor(synth_book, market_params)
    hf = health_factor(
        synth_book.collateral_matrix().toarray(),
        synth_book.account_debt * f,
        market_params.liquidation_threshold,
    )
    borrowing = synth_book.account_debt > 0
    np.testing.assert_allclose(hf[borrowing], 1.0, rtol=1e-12)
    assert np.all(np.isinf(hf[~borrowing]))


def test_asset_order_mismatch_is_rejected(synth_book, market_params):
    swapped = market_params.subset(list(reversed(market_params.assets)))
    with pytest.raises(ValueError, match=r"`params.assets` must equal `book.assets`"):
        debt_at_threshold_factor(synth_book, swapped)


# --------------------------------------------------------------------------------------------
# static bad debt (numpy baseline)
# --------------------------------------------------------------------------------------------
def test_static_bad_debt_hand_example():
    # account 0: 100 ETH-USD collateral, 80 USDC debt; account 1: 100 ETH-USD, 50 USDC; ETH -30 %
    book = Book.from_dense(
        ("usdc", "eth"),
        collateral=np.array([[0.0, 100.0], [0.0, 100.0]]),
        debt=np.array([[80.0, 0.0], [50.0, 0.0]]),
    )
    p = _params(("usdc", "eth"), [0.8, 0.8], [0.05, 0.05])
    rel = np.array([[1.0, 0.7], [1.0, 1.0]])
    out = bad_debt_static_numpy(book, rel, p, slippage=np.array([0.0, 0.1]))
    # account 0: HF = 56/80 < 1, recovery = 70 * 0.9 / 1.05 = 60 -> bad debt 20; account 1: HF 1.12
    np.testing.assert_allclose(out, [80 - 70 * 0.9 / 1.05, 0.0])


def test_static_bad_debt_matches_brute_force(rng):
    n_acc, n_assets = 25, 4
    coll = rng.random((n_acc, n_assets)) * (rng.random((n_acc, n_assets)) < 0.5) * 1e3
    debt = rng.random((n_acc, n_assets)) * (rng.random((n_acc, n_assets)) < 0.3) * 6e2
    book = Book.from_dense(tuple("abcd"), coll, debt)
    p = _params(tuple("abcd"), [0.8, 0.7, 0.5, 0.0], [0.05, 0.08, 0.1, 0.0])
    rel = np.exp(rng.normal(-0.1, 0.3, (40, n_assets)))
    slip = np.array([0.0, 0.02, 0.1, 0.3])
    scale = rng.uniform(0.5, 1.5, n_acc)
    want = brute_force(
        coll, debt, rel, p.liquidation_threshold, p.liquidation_bonus, slip, scale
    ).sum(1)
    got = bad_debt_static_numpy(book, rel, p, slippage=slip, debt_scale=scale, chunk=7)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_no_bad_debt_when_prices_do_not_fall(synth_book, market_params):
    rng = np.random.default_rng(3)
    n = synth_book.n_assets
    uniform_up = np.repeat(rng.uniform(1.0, 2.0, (50, 1)), n, axis=1)
    coll_up_stable_debt = rng.uniform(1.0, 1.5, (50, n))
    coll_up_stable_debt[:, 0] = 1.0  # usdc, the main debt asset, keeps its price
    slip = np.full(n, 0.2)  # slippage cannot create bad debt without a liquidation
    for rel in (np.ones((1, n)), uniform_up):
        assert np.all(bad_debt_static_numpy(synth_book, rel, market_params, slippage=slip) == 0)
    # every account at exactly HF = 1: no price move, no liquidation (HF_TOL absorbs rounding)
    at_one = debt_at_threshold_factor(synth_book, market_params)
    assert np.all(
        bad_debt_static_numpy(
            synth_book, uniform_up, market_params, slippage=slip, debt_scale=at_one
        )
        == 0
    )
    # all prices up while the debt assets stay: HF cannot fall
    debt_only = np.unique(synth_book.debt_asset)
    rel = coll_up_stable_debt.copy()
    rel[:, debt_only] = 1.0
    assert np.all(bad_debt_static_numpy(synth_book, rel, market_params, slippage=slip) == 0)


def test_single_asset_bad_debt_threshold_is_lt_times_one_plus_bonus():
    """With LT (1 + bonus) <= 1, liquidation at HF' >= LT (1 + bonus) leaves no bad debt."""
    lt, bonus = 0.8, 0.1  # LT (1 + b) = 0.88
    book = Book.from_dense(("usd", "x"), np.array([[0.0, 100.0]]), np.array([[80.0, 0.0]]))
    p = _params(("usd", "x"), [0.8, lt], [0.0, bonus])
    r = np.linspace(0.5, 1.2, 701)  # post-shock HF' = r
    rel = np.column_stack([np.ones_like(r), r])
    bad = bad_debt_static_numpy(book, rel, p)
    assert np.all(bad[r >= lt * (1 + bonus) - 1e-12] == 0)
    assert np.all(bad[r < lt * (1 + bonus) - 1e-9] > 0)
    np.testing.assert_allclose(bad, np.maximum(80 - 100 * r / (1 + bonus), 0) * (r < 1))


def test_higher_slippage_and_bonus_give_more_bad_debt(
    synth_book, market_params, scenario_relatives
):
    at_one = debt_at_threshold_factor(synth_book, market_params)
    base = bad_debt_static_numpy(synth_book, scenario_relatives, market_params, debt_scale=at_one)
    more_slip = bad_debt_static_numpy(
        synth_book, scenario_relatives, market_params, slippage=0.05, debt_scale=at_one
    )
    richer = market_params.replace(liquidation_bonus=market_params.liquidation_bonus + 0.03)
    more_bonus = bad_debt_static_numpy(synth_book, scenario_relatives, richer, debt_scale=at_one)
    assert base.sum() > 0
    for worse in (more_slip, more_bonus):
        assert np.all(worse >= base - 1e-6)
        assert worse.sum() > base.sum() * 1.01


book_inputs = st.integers(1, 6).flatmap(
    lambda n_acc: st.tuples(
        arrays(np.float64, (n_acc, 3), elements=st.floats(0, 1e6) | st.just(0.0)),
        arrays(np.float64, (n_acc, 3), elements=st.floats(0, 1e6) | st.just(0.0)),
        arrays(np.float64, (5, 3), elements=st.floats(0.0, 3.0)),
        arrays(np.float64, 3, elements=st.floats(0.0, 0.95)),
        arrays(np.float64, 3, elements=st.floats(0.0, 0.3)),
        arrays(np.float64, 3, elements=st.floats(0.0, 0.9)),
        arrays(np.float64, n_acc, elements=st.floats(0.0, 3.0)),
    )
)


@PROPS
@given(book_inputs)
def test_bad_debt_between_zero_and_relevered_debt(args):
    coll, debt, rel, lt, bonus, slip, scale = args
    book = Book.from_dense(("a", "b", "c"), coll, debt)
    p = _params(("a", "b", "c"), lt, bonus)
    bad = bad_debt_static_numpy(book, rel, p, slippage=slip, debt_scale=scale)
    post_debt = rel @ (debt * scale[:, None]).sum(axis=0)
    assert np.all(bad >= 0)
    assert np.all(bad <= post_debt * (1 + 1e-12) + 1e-9)


def test_static_input_errors(synth_book, market_params):
    n = synth_book.n_assets
    with pytest.raises(ValueError, match=r"`relatives` must have shape \(n_scenarios, 6\)"):
        bad_debt_static_numpy(synth_book, np.ones((3, n + 1)), market_params)
    with pytest.raises(ValueError, match=r"`relatives` must be finite and >= 0"):
        bad_debt_static_numpy(synth_book, -np.ones((3, n)), market_params)
    with pytest.raises(ValueError, match=r"`slippage` must lie in \[0, 1\)"):
        bad_debt_static_numpy(synth_book, np.ones((3, n)), market_params, slippage=1.2)
    with pytest.raises(ValueError, match=r"`debt_scale` must be finite and >= 0"):
        bad_debt_static_numpy(synth_book, np.ones((3, n)), market_params, debt_scale=-1.0)


# --------------------------------------------------------------------------------------------
# one account, call by call
# --------------------------------------------------------------------------------------------
def test_liquidate_single_full_close_by_hand():
    # 125 of collateral falls 20 % to 100; debt 90; HF = 80 / 90 = 0.889 < 0.95 -> all of it
    out = liquidate_single(125.0, 90.0, 0.8, 0.8, 0.05, 0.5, 0.95, 0.0)
    assert out.repaid == pytest.approx(90.0)
    assert out.seized == pytest.approx(94.5)
    assert out.collateral == pytest.approx(5.5)
    assert out.debt == pytest.approx(0.0)
    assert out.bad_debt == pytest.approx(0.0)
    assert out.calls == 1


def test_liquidate_single_insufficient_collateral_by_hand():
    # collateral 100, debt 98, 5 % bonus, 2 % slippage: the liquidator would need 105 -> takes all
    out = liquidate_single(100.0, 98.0, 1.0, 0.8, 0.05, 0.5, 0.95, 0.02)
    assert out.seized == pytest.approx(100.0)
    assert out.repaid == pytest.approx(100 * 0.98 / 1.05)
    assert out.bad_debt == pytest.approx(98 - 100 * 0.98 / 1.05)
    assert out.collateral == 0.0 and out.debt == 0.0


def test_liquidate_single_close_factor_by_hand():
    # HF = 80 / 82 = 0.9756 >= 0.95: one call repays 50 %, receives 41 x 1.05; HF then 1.11
    out = liquidate_single(100.0, 82.0, 1.0, 0.8, 0.05, 0.5, 0.95, 0.0)
    assert out.repaid == pytest.approx(41.0)
    assert out.seized == pytest.approx(43.05)
    assert out.collateral == pytest.approx(56.95)
    assert out.debt == pytest.approx(41.0)
    assert out.bad_debt == 0.0
    assert out.calls == 1
    assert out.collateral * 0.8 / out.debt > 1


def test_liquidate_single_healthy_and_debt_relative():
    healthy = liquidate_single(100.0, 70.0, 1.0, 0.8, 0.05)
    assert healthy.calls == 0 and healthy.repaid == 0 and healthy.debt == 70.0
    # debt in a volatile asset: 40 units worth 1 -> price doubles -> 80 owed against 90 collateral
    out = liquidate_single(90.0, 40.0, 1.0, 0.8, 0.05, debt_relative=2.0)
    assert out.calls >= 1 and out.repaid > 0


single_inputs = st.tuples(
    st.floats(0, 1e6),
    st.floats(0, 1e6),
    st.floats(0.01, 2.0),
    st.floats(0.0, 0.95),
    st.floats(0.0, 0.2),
    st.floats(0.05, 1.0),
    st.floats(0.0, 0.5),
)


@PROPS
@given(single_inputs)
def test_liquidate_single_conserves_and_is_bounded_by_static(args):
    coll, debt, r, lt, bonus, cf, slip = args
    out = liquidate_single(coll, debt, r, lt, bonus, cf, 0.95, slip, rounds=500)
    c_now, d_now = coll * r, debt
    assert out.repaid + out.debt + out.bad_debt == pytest.approx(d_now, rel=1e-9, abs=1e-6)
    assert out.seized + out.collateral == pytest.approx(c_now, rel=1e-9, abs=1e-6)
    assert min(out.repaid, out.seized, out.collateral, out.debt, out.bad_debt) >= -1e-9
    liquidatable = d_now > 0 and c_now * lt < d_now * LIQUIDATION_HF
    static = max(d_now - c_now * (1 - slip) / (1 + bonus), 0.0) if liquidatable else 0.0
    assert out.bad_debt <= static + 1e-6 * max(d_now, 1)
    if liquidatable and c_now * lt < 0.95 * d_now:  # full close at once: the static outcome
        assert out.bad_debt == pytest.approx(static, rel=1e-9, abs=1e-6)


def test_liquidate_single_vectorised():
    out = liquidate_single(
        np.array([125.0, 100.0, 100.0]),
        np.array([90.0, 98.0, 70.0]),
        0.8,
        0.8,
        0.05,
        0.5,
        0.95,
        0.0,
    )
    assert out.bad_debt.shape == (3,)
    for k, (c, d) in enumerate([(125.0, 90.0), (100.0, 98.0), (100.0, 70.0)]):
        one = liquidate_single(c, d, 0.8, 0.8, 0.05, 0.5, 0.95, 0.0)
        assert (
            out.bad_debt[k] == one.bad_debt
            and out.repaid[k] == one.repaid
            and out.calls[k] == one.calls
        )
    assert out.bad_debt[1] > 0 and out.bad_debt[0] == 0
    assert "LiquidationOutcome(" in repr(out)


def test_bonus_rule_config_else_current_else_default():
    from optimizer.protocol.params import DEFAULT_BONUS, resolve_bonus

    assert resolve_bonus(0.1, 0.05) == 0.1
    assert resolve_bonus(None, 0.05) == 0.05
    assert resolve_bonus(None) == DEFAULT_BONUS
    assert resolve_bonus(None, None, default=0.02) == 0.02


def test_shifted_bonus_rounds_and_clips():
    from optimizer.protocol.params import MAX_BONUS, shifted_bonus

    assert shifted_bonus(0.075, 0.01) == 0.085  # rounded: 0.075 + 0.01 is 0.08499999999999999
    assert shifted_bonus(0.02, -0.05) == 0.0
    assert shifted_bonus(0.45, 0.1) == MAX_BONUS
    assert shifted_bonus(0.1, 0.05, max_bonus=0.12) == 0.12


def test_debt_basket_and_exposure_at_threshold():
    from optimizer.protocol.mechanics import debt_basket_relatives, debt_basket_weights, exposure_at_threshold

    # account 0: 100 eth collateral, debt 50 usdc; account 1: 100 eth + 100 wbtc, debt 30 eth + 10 usdc;
    # account 2: 40 usdc collateral, no debt
    book = Book.from_dense(
        ("eth", "wbtc", "usdc"),
        collateral=np.array([[100.0, 0, 0], [100.0, 100.0, 0], [0, 0, 40.0]]),
        debt=np.array([[0, 0, 50.0], [30.0, 0, 10.0], [0, 0, 0]]),
    )
    w = debt_basket_weights(book)
    # eth backs account 0 (all usdc) and 1 (75 % eth, 25 % usdc), equal collateral weights
    np.testing.assert_allclose(w[0], [0.375, 0.0, 0.625])
    np.testing.assert_allclose(w[1], [0.75, 0.0, 0.25])
    # usdc backs no debt: the book's overall mix (30 eth, 60 usdc of 90)
    np.testing.assert_allclose(w[2], [1 / 3, 0.0, 2 / 3])
    rel = np.array([[0.5, 1.0, 1.0]])
    np.testing.assert_allclose(debt_basket_relatives(rel, w)[0], [0.375 * 0.5 + 0.625, 0.75 * 0.5 + 0.25, 1 / 6 + 2 / 3])
    np.testing.assert_allclose(exposure_at_threshold(book), [200.0, 100.0, 0.0])
