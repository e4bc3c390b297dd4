"""`asset_buffers`: a realised path against each asset's insolvency and liquidation buffers."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.protocol.params import RiskParams
from optimizer.protocol.replay import asset_buffers


def test_buffers_of_a_crash_path():
    params = RiskParams(assets=("eth", "crv", "usdc"), ltv=np.array([0.80, 0.0, 0.75]),
                        liquidation_threshold=np.array([0.83, 0.0, 0.78]),
                        liquidation_bonus=np.array([0.05, 0.10, 0.045]))
    path = np.array([[0.95, 0.90, 1.0], [0.80, 0.70, 0.999], [0.85, 0.75, 1.001]])  # 3 days
    lows = np.array([[0.70, 0.9, 0.99], [0.85, 0.6, 0.999], [0.90, 0.95, 1.0], [0.80, 0.8, 0.98]])
    b = asset_buffers(path, params, lows)
    np.testing.assert_allclose(b.worst_relative, [0.80, 0.70, 0.999])
    assert b.worst_day.tolist() == [1, 1, 1]
    np.testing.assert_allclose(b.end_move, [-0.15, -0.25, 0.001])
    np.testing.assert_allclose(b.insolvency_buffer, [1 - 0.83 * 1.05, 1.0, 1 - 0.78 * 1.045])
    np.testing.assert_allclose(b.lt_ltv_gap, [0.03, 0.0, 0.03])
    assert b.liquidation_distance[0] == pytest.approx(1 - 0.80 / 0.83) and np.isnan(b.liquidation_distance[1])
    np.testing.assert_allclose(b.margin_to_insolvency_buffer, b.insolvency_buffer - b.drop)
    assert b.beyond_insolvency_buffer.tolist() == [True, False, False]
    np.testing.assert_allclose(b.tail_probability, [0.5, 0.25, 0.75])  # share of model lows <= the realised


def test_insolvency_margins_know_the_answer():
    """Two accounts, known answer: A holds $130 of ETH against $100 USDC debt, B $200 of USDC against
    $100 ETH debt. ETH falls 30 % then recovers to -10 %; bonus 5 %, no slippage."""
    from optimizer.protocol.book import Book
    from optimizer.protocol.replay import insolvency_margins

    book = Book.from_dense(("eth", "usdc"), np.array([[130.0, 0.0], [0.0, 200.0]]),
                           np.array([[0.0, 100.0], [100.0, 0.0]]))
    params = RiskParams(assets=("eth", "usdc"), ltv=np.array([0.8, 0.75]),
                        liquidation_threshold=np.array([0.83, 0.78]), liquidation_bonus=np.array([0.05, 0.05]))
    path = np.array([[0.7, 1.0], [0.9, 1.0]])
    m = insolvency_margins(book, path, params)
    # A at the first close: 130 x 0.7 / 1.05 = 86.67 against 100 -> -13.3 %; B: 200 / 1.05 / 70 - 1 at day 2
    np.testing.assert_allclose(m.margin, [130 * 0.7 / 1.05 / 100 - 1, 200 / 1.05 / 90 - 1])
    assert m.worst_day.tolist() == [0, 1] and m.insolvent.tolist() == [True, False] and m.closest == 0
    # a debt multiplier (re-levered borrowers) scales what they owe
    m2 = insolvency_margins(book, path, params, debt_scale=np.array([0.5, 1.0]))
    assert m2.margin[0] == pytest.approx(130 * 0.7 / 1.05 / 50 - 1)


def _one_account(close: float):
    """Synthetic, known answer: $100 of ETH against $50 of USDC debt, LT 50 % (HF 1), bonus 5 %; one
    daily step to ``close``."""
    from optimizer.protocol.book import Book

    book = Book.from_dense(("eth", "usdc"), np.array([[100.0, 0.0]]), np.array([[0.0, 50.0]]))
    params = RiskParams(assets=("eth", "usdc"), ltv=np.array([0.45, 0.0]),
                        liquidation_threshold=np.array([0.5, 0.0]), liquidation_bonus=np.array([0.05, 0.0]))
    return book, params, np.array([[[close, 1.0]]])


@pytest.mark.parametrize(("close", "dynamic_bad"), [(0.55, 0.0), (0.50, 50 - 50 / 1.05)])
def test_the_dynamic_replay_loses_only_below_debt_plus_bonus_at_the_oracle_price(close, dynamic_bad):
    """Why 2020-03-12 ends at 0 under the recommended parameters (synthetic case): the simulation pays the
    liquidator its bonus at the oracle price and leaves its sale's slippage to it, so an account at HF 1 loses
    only when the close is below LT x (1 + bonus) = 0.525; the static model charges the liquidation-day
    slippage (40 % here) to the protocol and loses at both closes. insolvency_margins without slippage is
    the simulation's rule."""
    from optimizer.protocol.kernels import bad_debt_static
    from optimizer.protocol.replay import insolvency_margins
    from optimizer.protocol.simulation import simulate_market

    book, params, path = _one_account(close)
    dyn = simulate_market(book, path, params, adv_usd=[1e12, 1e12], sigma_daily=[0.05, 0.0], impact_coef=0.0,
                          dtype=np.float64)
    assert dyn.bad_debt[0] == pytest.approx(dynamic_bad, abs=1e-9) and dyn.n_liquidated[0] == 1
    static = bad_debt_static(book, path[0], params, slippage=[0.4, 0.0], dtype=np.float64).total[0]
    assert static == pytest.approx(50 - 100 * close * 0.6 / 1.05)
    oracle = insolvency_margins(book, path[0], params)
    assert oracle.margin[0] == pytest.approx(100 * close / 1.05 / 50 - 1)
    assert bool(oracle.insolvent[0]) == (dynamic_bad > 0)
    assert insolvency_margins(book, path[0], params, slippage=np.array([0.4, 0.0])).insolvent[0]


def test_a_steps_sales_move_prices_only_after_it():
    """Synthetic: 400 accounts like the one above at a 0.55 close, sold into a square-root law whose
    impact of the whole step's sales (all at the close: none lose) would take ETH below 0.525; the drop
    is applied after the step (final_impact), and closes_after_impact gives the price the next step sees."""
    from optimizer.protocol.book import Book
    from optimizer.protocol.replay import closes_after_impact, insolvency_margins
    from optimizer.protocol.simulation import simulate_market

    _, params, path = _one_account(0.55)
    n = 400
    book = Book.from_dense(("eth", "usdc"), np.tile([100.0, 0.0], (n, 1)), np.tile([0.0, 50.0], (n, 1)))
    dyn = simulate_market(book, path, params, adv_usd=[1e4, 1e12], sigma_daily=[0.05, 0.0], reachable_share=1.0,
                          dtype=np.float64)
    assert dyn.bad_debt[0] == 0.0 and dyn.n_liquidated[0] == n and dyn.n_insolvent[0] == 0
    sold = dyn.liquidated_usd[0]  # at the close, oracle = market
    assert sold == pytest.approx(n * 50 * 1.05)
    assert dyn.final_impact[0, 0] == pytest.approx(1 - np.exp(-0.05 * np.sqrt(sold / 1e4)))
    seen = closes_after_impact(np.array([[0.55, 1.0]]), dyn.final_impact[0][None, :])
    assert seen[0, 0] < 0.525  # the next step's price: an account left at HF 1 would lose there
    assert insolvency_margins(Book.from_dense(("eth", "usdc"), [[100.0, 0.0]], [[0.0, 50.0]]), seen,
                              params).insolvent[0]
