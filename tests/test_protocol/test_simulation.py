"""Dynamic market simulation and intraday path refinement.

Books and paths here are synthetic (made up for the tests); closed-form cases are worked by hand
in the comments.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams
from optimizer.protocol.paths import refine_paths
from optimizer.protocol.simulation import SimResult, simulate_market

ASSETS2 = ("eth", "usdc")
#: float64 compiles a second specialisation of the kernel (cold: about as long as float32)
F64 = pytest.param(np.float64, marks=pytest.mark.slow, id="float64")
NO_IMPACT = dict(adv_usd=[1e12, 1e12], sigma_daily=[0.05, 0.001], impact_coef=0.0)


def _params2(bonus: float = 0.05, close_factor: float = 0.5) -> RiskParams:
    return RiskParams(
        ASSETS2,
        ltv=[0.75, 0.0],
        liquidation_threshold=[0.8, 0.0],
        liquidation_bonus=[bonus, 0.0],
        close_factor=close_factor,
    )


def _one_account(coll: float = 100.0, debt: float = 75.0) -> Book:
    return Book.from_dense(ASSETS2, [[coll, 0.0]], [[0.0, debt]])


def _eth_path(*eth: float) -> np.ndarray:
    """One scenario: eth relatives per step, usdc at 1."""
    out = np.ones((1, len(eth), 2))
    out[0, :, 0] = eth
    return out


# --------------------------------------------------------------------------------------------
# closed forms, one account: 100 USD of eth (LT 0.8, bonus 5 %), 75 USD of usdc debt, HF0 1.067
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [F64, np.float32])
def test_close_factor_liquidation_by_hand(dtype):
    # eth -10 %: C = 90, HF = 72 / 75 = 0.96 in [0.95, 1): repay 50 % = 37.5,
    # seize 37.5 x 1.05 = 39.375; left C = 50.625 (56.25 eth-USD units), D = 37.5, HF = 1.08.
    res = simulate_market(_one_account(), _eth_path(0.9), _params2(), **NO_IMPACT, dtype=dtype)
    assert res.n_liquidated[0] == 1
    assert res.repaid_usd[0] == pytest.approx(37.5, rel=1e-6)
    assert res.liquidated_usd[0] == pytest.approx(39.375, rel=1e-6)
    assert res.bad_debt[0] == 0.0
    assert res.first_liquidation_step[0] == 0
    # the remaining position: a second step at 0.9 changes nothing (HF 1.08) ...
    res = simulate_market(_one_account(), _eth_path(0.9, 0.9), _params2(), **NO_IMPACT, dtype=dtype)
    assert res.repaid_usd[0] == pytest.approx(37.5, rel=1e-6)
    assert res.n_insolvent[0] == 0
    # ... and at 0.6 it is worth 56.25 x 0.6 = 33.75, HF = 27 / 37.5 = 0.72 < 0.95: full close
    # needs 39.375 > 33.75, so all is seized, 33.75 / 1.05 = 32.142857 repaid, the rest is bad.
    res = simulate_market(_one_account(), _eth_path(0.9, 0.6), _params2(), **NO_IMPACT, dtype=dtype)
    assert res.liquidated_usd[0] == pytest.approx(39.375 + 33.75, rel=1e-6)
    assert res.repaid_usd[0] == pytest.approx(37.5 + 33.75 / 1.05, rel=1e-6)
    assert res.bad_debt[0] == pytest.approx(37.5 - 33.75 / 1.05, rel=1e-5)
    assert res.n_liquidated[0] == 1  # one account, liquidated at two steps


@pytest.mark.parametrize("dtype", [F64, np.float32])
def test_full_close_below_095(dtype):
    # eth -15 %: C = 85, HF = 68 / 75 = 0.907 < 0.95: repay all 75, seize 78.75, 6.25 left;
    # with no debt left a later collapse of eth costs nothing.
    res = simulate_market(_one_account(), _eth_path(0.85), _params2(), **NO_IMPACT, dtype=dtype)
    assert res.repaid_usd[0] == pytest.approx(75.0, rel=1e-6)
    assert res.liquidated_usd[0] == pytest.approx(78.75, rel=1e-6)
    assert res.bad_debt[0] == 0.0
    path = _eth_path(0.85, 0.01)
    res = simulate_market(_one_account(), path, _params2(), **NO_IMPACT, dtype=dtype)
    assert res.bad_debt[0] == 0.0
    assert res.n_insolvent[0] == 0


@pytest.mark.parametrize("dtype", [F64, np.float32])
def test_insufficient_collateral_leaves_bad_debt(dtype):
    # eth -30 %: C = 70 < 75 x 1.05: all seized, 70 / 1.05 = 66.667 repaid, 8.333 bad debt
    res = simulate_market(_one_account(), _eth_path(0.7), _params2(), **NO_IMPACT, dtype=dtype)
    assert res.liquidated_usd[0] == pytest.approx(70.0, rel=1e-6)
    assert res.bad_debt[0] == pytest.approx(75.0 - 70.0 / 1.05, rel=1e-5)
    assert res.bad_debt_by_asset[0] == pytest.approx([75.0 - 70.0 / 1.05, 0.0], rel=1e-5)
    assert res.n_insolvent[0] == 0  # written off during the liquidation, not at the end


def test_largest_collateral_seized_first():
    # eth 60 (LT 0.8, bonus 5 %) + btc 40 (LT 0.75, bonus 10 %), 75 usdc debt; both -15 %:
    # C = 51 + 34, HF = (40.8 + 25.5) / 75 = 0.884 -> full close. eth first: all 51 seized,
    # 51 / 1.05 = 48.571 repaid; btc: the remaining 26.429 x 1.1 = 29.071 of 34 seized.
    assets = ("eth", "btc", "usdc")
    params = RiskParams(
        assets,
        ltv=[0.75, 0.7, 0.0],
        liquidation_threshold=[0.8, 0.75, 0.0],
        liquidation_bonus=[0.05, 0.1, 0.0],
    )
    book = Book.from_dense(assets, [[60.0, 40.0, 0.0]], [[0.0, 0.0, 75.0]])
    paths = np.array([[[0.85, 0.85, 1.0]]])
    kw = dict(adv_usd=[1e12] * 3, sigma_daily=[0.05, 0.05, 0.0], impact_coef=0.0)
    res = simulate_market(book, paths, params, **kw)
    rest = 75.0 - 51.0 / 1.05
    assert res.repaid_usd[0] == pytest.approx(75.0, rel=1e-6)
    assert res.liquidated_usd[0] == pytest.approx(51.0 + rest * 1.1, rel=1e-6)
    assert res.bad_debt[0] == 0.0
    # both -20 %: eth 48 -> 45.714 repaid; btc 32 covers 29.091 of the 29.286 left: 0.195 bad,
    # attributed pro rata to the initial composition at the oracle price (48 : 32)
    res = simulate_market(book, np.array([[[0.8, 0.8, 1.0]]]), params, **kw)
    bad = 75.0 - 48.0 / 1.05 - 32.0 / 1.1
    assert res.bad_debt[0] == pytest.approx(bad, abs=1e-4)
    assert res.bad_debt_by_asset[0] == pytest.approx([bad * 0.6, bad * 0.4, 0.0], abs=1e-4)


def test_end_of_horizon_insolvency_counts_as_bad_debt():
    # a gap through the liquidation zone with a liquidator that never acts (gas): at the end
    # debt 75 exceeds collateral 60, so 15 is bad debt
    res = simulate_market(_one_account(), _eth_path(0.6), _params2(), **NO_IMPACT, gas_usd=1e9)
    assert res.n_liquidated[0] == 0
    assert res.n_insolvent[0] == 1
    assert res.bad_debt[0] == pytest.approx(15.0, rel=1e-6)
    assert res.bad_debt_by_asset[0, 0] == pytest.approx(15.0, rel=1e-6)


def test_debt_without_collateral_is_written_off():
    # an account that owes 10 USD and holds nothing (a malformed but loadable book) is written
    # off as soon as it is liquidatable; the loss is charged to its debt asset
    book = Book.from_dense(ASSETS2, [[100.0, 0.0], [0.0, 0.0]], [[0.0, 10.0], [0.0, 10.0]])
    res = simulate_market(book, _eth_path(1.0), _params2(), **NO_IMPACT)
    assert res.bad_debt[0] == pytest.approx(10.0)
    assert res.bad_debt_by_asset[0] == pytest.approx([0.0, 10.0])
    assert res.n_liquidated[0] == 0


def test_slippage_and_gas_by_hand():
    # square-root law: selling q = 39.375 USD of eth with V = adv x share pays
    # 1 - exp(-2/3 sigma sqrt(q / V)); the permanent impact left is 1 - exp(-sigma sqrt(q / V)).
    sigma, adv, share = 0.05, 100.0, 0.5
    q = 39.375
    slip = 1.0 - math.exp(-2.0 / 3.0 * sigma * math.sqrt(q / (adv * share)))
    profit = q * (1.0 - slip) - 37.5
    kw = dict(adv_usd=[adv, 1e12], sigma_daily=[sigma, 0.0], reachable_share=share)
    res = simulate_market(_one_account(), _eth_path(0.9), _params2(), **kw, gas_usd=profit * 0.99)
    assert res.n_liquidated[0] == 1
    impact = 1.0 - math.exp(-sigma * math.sqrt(q / (adv * share)))
    assert res.final_impact[0, 0] == pytest.approx(impact)
    assert res.worst_impact[0] == pytest.approx(res.final_impact[0, 0])
    res = simulate_market(_one_account(), _eth_path(0.9), _params2(), **kw, gas_usd=profit * 1.01)
    assert res.n_liquidated[0] == 0
    assert res.final_impact[0, 0] == 0.0


def test_depth_law_by_hand():
    # linear book: depth_usd moves the price 2 %; the seized 78.75 (full close at -15 %) moves
    # it by 0.02 x 78.75 / 1000 in log price
    kw = dict(adv_usd=[1.0, 1.0], sigma_daily=[0.05, 0.0], impact="depth", depth_usd=[1000.0, 1e12])
    res = simulate_market(_one_account(), _eth_path(0.85), _params2(), **kw)
    assert res.final_impact[0, 0] == pytest.approx(1.0 - math.exp(-0.02 * 78.75 / 1000.0), rel=1e-6)
    assert res.repaid_usd[0] == pytest.approx(75.0, rel=1e-6)


def test_cascade_by_hand():
    # A (75 debt) is liquidated at step 0 (eth 0.9) and sells 39.375 USD of eth. With
    # V = 39.375 and sigma = 5 % the impact is exactly 5 %: at step 1 eth trades at
    # 0.9 exp(-0.05) = 0.856 < 70 / 80, so B (70 debt, liquidatable below 0.875) is liquidated
    # too -- but only if sales move later prices.
    book = Book.from_dense(ASSETS2, [[100.0, 0.0], [100.0, 0.0]], [[0.0, 75.0], [0.0, 70.0]])
    kw = dict(adv_usd=[39.375, 1e12], sigma_daily=[0.05, 0.0], reachable_share=1.0)
    on = simulate_market(book, _eth_path(0.9, 0.9), _params2(), **kw)
    off = simulate_market(book, _eth_path(0.9, 0.9), _params2(), **kw, cascades=False)
    assert off.n_liquidated[0] == 1
    assert on.n_liquidated[0] == 2
    assert on.liquidated_usd[0] > off.liquidated_usd[0]
    assert off.final_impact[0, 0] == pytest.approx(1.0 - math.exp(-0.05), rel=1e-6)
    assert on.final_impact[0, 0] > off.final_impact[0, 0]


def test_no_fall_no_liquidation(rng):
    # debt only in the stable asset; collateral prices flat, rising, or everything rising together
    book, params, kw = _random_market(rng, n_accounts=300, volatile_debt_share=0.0)
    n_as = book.n_assets
    rising = np.exp(np.cumsum(np.abs(rng.normal(0.0, 0.02, (50, 6, n_as))), axis=1))
    rising[:, :, 0] = 1.0
    together = np.repeat(np.exp(np.cumsum(rng.normal(0.0, 0.02, (50, 6, 1)), axis=1)), n_as, axis=2)
    for p in (np.ones_like(rising), rising, together):
        res = simulate_market(book, p, params, **kw)
        assert np.all(res.bad_debt == 0.0)
        assert np.all(res.n_liquidated == 0)
        assert np.all(res.liquidated_usd == 0.0)
        assert np.all(res.final_impact == 0.0)
        assert np.all(res.first_liquidation_step == -1)


# --------------------------------------------------------------------------------------------
# random (synthetic) market: properties
# --------------------------------------------------------------------------------------------
def _random_market(rng, n_accounts=2000, n_assets=6, volatile_debt_share=0.2):
    """A synthetic book: volatile collateral, debt mostly in the first (stable) asset."""
    assets = tuple(f"a{i}" for i in range(n_assets))
    lt = np.r_[0.8, rng.uniform(0.5, 0.85, n_assets - 1)]
    bonus = np.full(n_assets, 0.08)
    params = RiskParams(assets, ltv=lt - 0.05, liquidation_threshold=lt, liquidation_bonus=bonus)
    coll = np.zeros((n_accounts, n_assets))
    debt = np.zeros((n_accounts, n_assets))
    size = np.exp(rng.normal(8.0, 2.0, n_accounts))
    for a in range(n_accounts):
        k = rng.integers(1, 4)
        idx = rng.choice(np.arange(1, n_assets), k, replace=False)
        coll[a, idx] = size[a] * rng.dirichlet(np.ones(k))
        hf = 1.0 + rng.lognormal(np.log(0.3), 0.6)
        d_idx = [0] if rng.random() >= volatile_debt_share else [0, int(rng.integers(1, n_assets))]
        d = (coll[a] * lt).sum() / hf
        for j, w in zip(d_idx, rng.dirichlet(np.ones(len(d_idx)))):
            debt[a, j] += d * w
    book = Book.from_dense(assets, coll, debt)
    sigma = np.r_[0.001, rng.uniform(0.03, 0.07, n_assets - 1)]
    adv = np.r_[1e12, rng.uniform(0.2, 2.0, n_assets - 1) * book.collateral_by_asset[1:]]
    return book, params, dict(adv_usd=adv, sigma_daily=sigma)


def _crash_paths(rng, n_s, n_t, n_assets, sigma):
    common = rng.standard_t(3, (n_s, n_t, 1)) * 0.8
    idio = rng.standard_normal((n_s, n_t, n_assets)) * 0.6
    steps = (common + idio) * sigma - 0.01
    steps[:, :, 0] = 0.0
    return np.exp(np.cumsum(steps, axis=1))


@pytest.fixture(scope="module")
def market():
    rng = np.random.default_rng(7)
    book, params, kw = _random_market(rng)
    paths = _crash_paths(rng, 400, 8, book.n_assets, kw["sigma_daily"])
    return book, params, kw, paths


@pytest.mark.parametrize("dtype", [F64, np.float32])
def test_bounds_do_not_change_results(market, dtype):
    book, params, kw, paths = market
    a = simulate_market(book, paths, params, **kw, dtype=dtype)
    b = simulate_market(book, paths, params, **kw, dtype=dtype, use_bounds=False)
    for name in ("bad_debt", "bad_debt_by_asset", "liquidated_usd", "n_liquidated", "final_impact"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.info["exact_share"] < 1.0 == b.info["exact_share"]


def test_invariants_on_random_book(market):
    book, params, kw, paths = market
    res = simulate_market(book, paths, params, **kw)
    assert res.bad_debt.shape == (paths.shape[0],)
    assert res.bad_debt_by_asset.shape == (paths.shape[0], book.n_assets)
    assert np.all(res.bad_debt >= 0)
    # debt is at most the book's debt valued at the highest price each debt asset reached
    peak = paths.max(axis=1)
    assert np.all(res.bad_debt <= peak @ book.debt_by_asset + 1e-6)
    rows = res.bad_debt_by_asset.sum(axis=1)
    np.testing.assert_allclose(rows, res.bad_debt, rtol=1e-9, atol=1e-6)
    assert np.all((res.final_impact >= 0) & (res.final_impact < 1))
    assert np.all(res.n_liquidated <= book.n_accounts)
    assert res.bad_debt.max() > 0  # the synthetic crash paths do produce bad debt


@pytest.mark.slow
def test_float32_agrees_with_float64(market):
    book, params, kw, paths = market
    f32 = simulate_market(book, paths, params, **kw)
    f64 = simulate_market(book, paths, params, **kw, dtype=np.float64)
    np.testing.assert_allclose(f64.bad_debt.sum(), f32.bad_debt.sum(), rtol=1e-3)
    np.testing.assert_allclose(f64.liquidated_usd.sum(), f32.liquidated_usd.sum(), rtol=1e-4)


def test_cascades_add_bad_debt(market):
    # In aggregate cascades add bad debt. Not in every scenario: the impact can make an account
    # liquidatable a step earlier, and a partial liquidation before a gap down saves more than
    # the impact costs (found by hand in a few scenarios of this book: one account at HF 0.954
    # is half-liquidated at step 4, the impact tips it below 1 at step 5 and it is liquidated
    # again before the next step's 19 % drop; without the impact that drop leaves bad debt).
    book, params, kw, paths = market
    on = simulate_market(book, paths, params, **kw, cascades=True)
    off = simulate_market(book, paths, params, **kw, cascades=False)
    assert on.bad_debt.sum() > off.bad_debt.sum()
    assert on.liquidated_usd.sum() > off.liquidated_usd.sum()
    assert np.mean(on.bad_debt < off.bad_debt - 1e-6 * (1.0 + off.bad_debt)) < 0.02
    assert np.mean(on.bad_debt > off.bad_debt) > 0.05
    # with a single step there is no later price to move: identical results
    one = paths[:, -1:, :]
    np.testing.assert_array_equal(
        simulate_market(book, one, params, **kw).bad_debt,
        simulate_market(book, one, params, **kw, cascades=False).bad_debt,
    )


def test_more_liquidity_less_bad_debt(market):
    # Monotone in aggregate; per scenario there are two legitimate exceptions: the timing effect
    # of the cascade test, and slippage above the bonus stopping liquidators -- a stopped
    # liquidation of an account already under water leaves ``D - C`` at the end, a completed one
    # ``D - C / (1 + bonus)`` (the bonus is a loss too), so better liquidity can cost a little.
    book, params, kw, paths = market
    prev = None
    for mult in (0.25, 1.0, 4.0, 100.0):
        res = simulate_market(book, paths, params, **kw, liquidity_multiplier=mult)
        if prev is not None:
            assert res.bad_debt.sum() < prev.bad_debt.sum()
            assert np.mean(res.bad_debt > prev.bad_debt + 1e-6 * (1.0 + prev.bad_debt)) < 0.05
            assert res.worst_impact.max() < prev.worst_impact.max()
        prev = res


def test_delay_adds_bad_debt(market):
    book, params, kw, paths = market
    totals = [simulate_market(book, paths, params, **kw, delay_steps=d).bad_debt for d in range(4)]
    for a, b in zip(totals, totals[1:]):
        assert b.sum() >= a.sum()
    assert totals[-1].sum() > totals[0].sum()


def test_delay_and_lag_postpone_liquidation():
    # eth falls to 0.9 at step 1 and stays: liquidated at step 1, or `delay` / `lag` steps later
    path = _eth_path(1.0, 0.9, 0.9, 0.9, 0.9, 0.9)
    for d in range(4):
        res = simulate_market(_one_account(), path, _params2(), **NO_IMPACT, delay_steps=d)
        assert res.first_liquidation_step[0] == 1 + d
        res = simulate_market(_one_account(), path, _params2(), **NO_IMPACT, oracle_lag_steps=d)
        assert res.first_liquidation_step[0] == 1 + d
    # a lag longer than the path: the oracle never shows the drop and the account ends insolvent
    path = _eth_path(1.0, 0.7)
    res = simulate_market(_one_account(), path, _params2(), **NO_IMPACT, oracle_lag_steps=2)
    assert res.n_liquidated[0] == 0 and res.bad_debt[0] == pytest.approx(5.0)


def test_falling_path_delay_monotone():
    # a steady fall: the later the liquidation, the lower the price it gets
    path = _eth_path(*np.linspace(0.97, 0.6, 10))
    bad = [
        simulate_market(_one_account(), path, _params2(), **NO_IMPACT, delay_steps=d).bad_debt[0]
        for d in range(8)
    ]
    assert all(b >= a for a, b in zip(bad, bad[1:]))
    assert bad[0] == 0.0 and bad[-1] > 0.0


def test_gas_strands_small_accounts_and_bonus_revives_them():
    # 50 small accounts (10 USD debt) and one large (1e6 USD debt), all at HF 1.0667; eth falls
    # 4 % a step. A liquidation at the first liquidatable step repays half the debt and earns
    # bonus x repaid (5 % x 5 = 0.25 for a small account): below a gas cost of 0.5, so small
    # accounts are stranded and end insolvent; a 15 % bonus earns 0.75 and they are liquidated.
    n_small = 50
    coll = np.array([[100.0 / 75.0 * 10.0, 0.0]] * n_small + [[100.0 / 75.0 * 1e6, 0.0]])
    debt = np.array([[0.0, 10.0]] * n_small + [[0.0, 1e6]])
    book = Book.from_dense(ASSETS2, coll, debt)
    path = _eth_path(*(0.96 ** np.arange(1, 16)))
    kw = dict(NO_IMPACT, gas_usd=0.5)
    low = simulate_market(book, path, _params2(bonus=0.05), **kw)
    high = simulate_market(book, path, _params2(bonus=0.15), **kw)
    free = simulate_market(book, path, _params2(bonus=0.05), **dict(kw, gas_usd=0.0))
    assert low.n_liquidated[0] == 1  # only the large account
    assert low.n_insolvent[0] == n_small
    assert high.n_liquidated[0] == n_small + 1
    assert high.n_insolvent[0] < low.n_insolvent[0]
    small_bad_low = low.bad_debt[0]  # the large account is liquidated in time: no bad debt
    assert small_bad_low > 0
    assert high.bad_debt[0] < small_bad_low
    assert free.bad_debt[0] < small_bad_low


def test_debt_scale():
    book = _one_account(debt=37.5)
    # doubling the debt is the same as the 75-debt book
    a = simulate_market(book, _eth_path(0.7), _params2(), **NO_IMPACT, debt_scale=[2.0])
    b = simulate_market(_one_account(), _eth_path(0.7), _params2(), **NO_IMPACT)
    assert a.bad_debt[0] == pytest.approx(b.bad_debt[0], rel=1e-6)
    c = simulate_market(book, _eth_path(0.1), _params2(), **NO_IMPACT, debt_scale=[0.0])
    assert c.bad_debt[0] == 0.0 and c.info["n_borrowing_accounts"] == 0


def test_thread_count_and_reproducibility(market):
    book, params, kw, paths = market
    a = simulate_market(book, paths, params, **kw)
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = simulate_market(book, paths, params, **kw)
    finally:
        numba.set_num_threads(n)
    np.testing.assert_array_equal(a.bad_debt, b.bad_debt)
    np.testing.assert_array_equal(a.bad_debt_by_asset, b.bad_debt_by_asset)


def test_accepts_scenario_set_like_and_summary(market):
    book, params, kw, paths = market

    class _Scen:  # what a ScenarioSet exposes
        assets = book.assets
        relatives = paths[:5]

    res = simulate_market(book, _Scen(), params, **kw)
    assert isinstance(res, SimResult)
    assert res.n_scenarios == 5
    assert "SimResult(n_scenarios=5" in repr(res) and str(res) == repr(res)
    assert res.tail_contribution.shape == (book.n_assets,)
    assert res.info["dtype"] == "float32" and res.info["cascades"] is True


def test_argument_errors():
    book, params = _one_account(), _params2()
    path = _eth_path(0.9)
    with pytest.raises(ValueError, match=r"`params.assets` must equal `book.assets`"):
        simulate_market(book, path, params.subset(["eth"]), **NO_IMPACT)
    with pytest.raises(ValueError, match=r"`paths` must have shape \(n_scenarios, n_steps, 2\)"):
        simulate_market(book, path[..., :1], params, **NO_IMPACT)
    with pytest.raises(ValueError, match=r"`paths` must be finite and > 0"):
        simulate_market(book, -path, params, **NO_IMPACT)
    with pytest.raises(ValueError, match=r"`gas_usd` must be finite and >= 0"):
        simulate_market(book, path, params, **NO_IMPACT, gas_usd=-1.0)
    with pytest.raises(ValueError, match=r"`depth_usd` is required"):
        simulate_market(book, path, params, **NO_IMPACT, impact="depth")
    with pytest.raises(ValueError, match=r"`impact` must be 'sqrt', 'depth' or 'curve'"):
        simulate_market(book, path, params, **NO_IMPACT, impact="linear")
    with pytest.raises(ValueError, match=r"`adv_usd` must be > 0"):
        simulate_market(book, path, params, **dict(NO_IMPACT, adv_usd=[0.0, 1.0]))
    with pytest.raises(ValueError, match=r"`delay_steps` must be an int >= 0"):
        simulate_market(book, path, params, **NO_IMPACT, delay_steps=-1)
    with pytest.raises(ValueError, match=r"`steps_per_day` must be >= 1 and divide"):
        simulate_market(book, _eth_path(0.9, 0.9, 0.9), params, **NO_IMPACT, steps_per_day=2)
    with pytest.raises(ValueError, match=r"`debt_scale` must be finite, >= 0 and of shape \(1,\)"):
        simulate_market(book, path, params, **NO_IMPACT, debt_scale=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"`reachable_share` must lie in \(0, 1\]"):
        simulate_market(book, path, params, **NO_IMPACT, reachable_share=0.0)
    with pytest.raises(ValueError, match=r"`dtype` must be float32 or float64"):
        simulate_market(book, path, params, **NO_IMPACT, dtype=np.float16)


@pytest.mark.slow
def test_float32_kernel_has_no_float64_in_its_loops(monkeypatch):
    # one float64 literal silently widens a float32 loop (field notes): compile the per-block
    # function afresh for float32 inputs and list the variables typed float64
    from optimizer.protocol import _sim_kernel

    captured = {}
    monkeypatch.setattr(_sim_kernel, "simulate_kernel", lambda *a: captured.setdefault("args", a))
    simulate_market(_one_account(), _eth_path(0.7), _params2(), **NO_IMPACT)
    args = captured["args"]
    # the constants reach the kernel in its dtype (a Python float would be float64)
    prm = next(a for a in args if isinstance(a, _sim_kernel.Params))
    assert {type(x) for x in prm} == {np.ndarray, np.float32}
    assert {x.dtype for x in prm} == {np.dtype(np.float32)}
    serial = numba.njit(_sim_kernel._run_block.py_func)
    serial.compile(tuple(numba.typeof(x) for x in [0, 1, *args]))
    typemap = serial.overloads[serial.signatures[0]].type_annotation.typemap
    wide = {n.split(".")[0] for n, t in typemap.items() if "float64" in str(t)}
    hot = {"marg", "p2", "ell_st", "cu", "du", "zero", "one", "liq_hf", "market", "oracle", "hist"}
    assert not hot & wide
    # the float64 ones are the intended accumulators, bounds and impact
    assert {"acc", "delta", "q_cum", "impact", "omax"} <= wide


# --------------------------------------------------------------------------------------------
# refine_paths
# --------------------------------------------------------------------------------------------
def _daily(rng, n_s=200, horizon=5, n_assets=3):
    return np.exp(np.cumsum(rng.normal(0.0, 0.04, (n_s, horizon, n_assets)), axis=1))


def test_refine_endpoints_exact(rng):
    daily = _daily(rng)
    out = refine_paths(daily, 24, [0.04, 0.02, 0.06], rng)
    assert out.shape == (200, 5 * 24, 3)
    np.testing.assert_array_equal(out[:, 23::24, :], daily)
    assert np.all(out > 0)
    out32 = refine_paths(daily, 6, [0.04, 0.02, 0.06], rng, dtype=np.float32)
    assert out32.dtype == np.float32
    np.testing.assert_array_equal(out32[:, 5::6, :], daily.astype(np.float32))


def test_refine_identity_for_one_step(rng):
    daily = _daily(rng)
    out = refine_paths(daily, 1, [0.04, 0.02, 0.06], rng)
    assert out is daily

    class _Scen:
        relatives = daily

    np.testing.assert_array_equal(refine_paths(_Scen(), 1, [0.0, 0.0, 0.0], rng), daily)


def test_refine_bridge_statistics():
    # flat daily path: the interior log price is sigma x Brownian bridge, variance sigma^2 u (1-u)
    rng = np.random.default_rng(3)
    daily = np.ones((20000, 1, 1))
    out = refine_paths(daily, 4, [0.1], rng)
    var = np.log(out[:, :3, 0]).var(axis=0)
    u = np.array([0.25, 0.5, 0.75])
    np.testing.assert_allclose(var, 0.01 * u * (1 - u), rtol=0.05)
    # zero volatility: straight line in log price between the daily points
    daily = np.array([[[0.8], [0.8 * 1.1]]])
    out = refine_paths(daily, 2, [0.0], rng)
    np.testing.assert_allclose(out[0, :, 0], [math.sqrt(0.8), 0.8, 0.8 * math.sqrt(1.1), 0.88])


def test_refine_errors(rng):
    daily = _daily(rng)
    with pytest.raises(ValueError, match=r"`steps_per_day` must be an int >= 1"):
        refine_paths(daily, 0, [0.1] * 3, rng)
    with pytest.raises(ValueError, match=r"`sigma_daily` must be finite, >= 0 and of shape \(3,\)"):
        refine_paths(daily, 2, [0.1] * 2, rng)
    with pytest.raises(ValueError, match=r"relatives must be finite and > 0"):
        refine_paths(-daily, 2, [0.1] * 3, rng)
    with pytest.raises(TypeError, match=r"`rng` must be a numpy.random.Generator"):
        refine_paths(daily, 2, [0.1] * 3, 42)


def test_refined_paths_feed_the_simulation(rng):
    # intraday steps: the liquidation happens within the day
    daily = _eth_path(0.9)
    fine = refine_paths(daily, 4, [0.05, 0.0], rng)
    res = simulate_market(_one_account(), fine, _params2(), **NO_IMPACT, steps_per_day=4)
    assert res.info["horizon_days"] == 1 and res.info["n_steps"] == 4
    assert res.n_liquidated[0] == 1


def test_curve_law_matches_the_square_root_law_it_encodes():
    """impact='curve' with square-root curves is the sqrt law whose own-sale discount is the curve's:
    the sqrt law's permanent impact is 3/2 of its sale discount, so impact_coef = 1.5 must agree."""
    from optimizer.protocol.liquidity import DepthSlippage, sqrt_law_curve

    rng = np.random.default_rng(3)
    n = 200
    c = np.zeros((n, 2))
    d = np.zeros((n, 2))
    c[:, 0] = rng.uniform(1e5, 1e6, n)
    d[:, 1] = c[:, 0] * rng.uniform(0.6, 0.8, n)
    book = Book.from_dense(["eth", "usdc"], c, d)
    params = RiskParams(("eth", "usdc"), ltv=[0.75, 0.0], liquidation_threshold=[0.8, 0.0],
                        liquidation_bonus=[0.05, 0.0])
    paths = np.exp(np.cumsum(rng.normal(-0.05, 0.1, (300, 4, 2)) * [1, 0], axis=1))
    sig = [0.05, 0.001]
    ref = simulate_market(book, paths, params, adv_usd=[1e9, 1e9], sigma_daily=sig, reachable_share=1.0,
                          impact_coef=1.5, dtype=np.float64)
    curves = [sqrt_law_curve(1e9), sqrt_law_curve(1e9)]
    law = DepthSlippage(tuple(x for x, _ in curves), tuple(y for _, y in curves), np.ones(2))
    got = simulate_market(book, paths, params, adv_usd=[1.0, 1.0], sigma_daily=sig, impact="curve",
                          slippage_law=law, dtype=np.float64)
    assert ref.bad_debt.mean() > 0
    assert got.bad_debt.mean() == pytest.approx(ref.bad_debt.mean(), rel=0.01)
    np.testing.assert_allclose(got.final_impact[:, 0], ref.final_impact[:, 0], rtol=0.02, atol=1e-6)
    thinner = simulate_market(book, paths, params, adv_usd=[1.0, 1.0], sigma_daily=sig, impact="curve",
                              slippage_law=law.scaled([0.1, 1.0]), dtype=np.float64)
    assert thinner.bad_debt.mean() > got.bad_debt.mean()
    with pytest.raises(ValueError, match=r"impact='curve' needs a `slippage_law`"):
        simulate_market(book, paths, params, adv_usd=[1.0, 1.0], sigma_daily=sig, impact="curve")
