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
