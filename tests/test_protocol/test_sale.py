"""The liquidation day's sale: what the book's liquidations seize in each asset's tail scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.protocol.book import Book
from optimizer.protocol.liquidity import DepthSlippage
from optimizer.protocol.mechanics import relever_factor
from optimizer.protocol.params import RiskParams
from optimizer.protocol.sale import SaleSize, seized_collateral, seized_sale, share_sale, tail_seized

# Synthetic on purpose: one account, one collateral asset, so the true seized size is known by hand.
ONE = Book.from_dense(("usd", "x"), np.array([[0.0, 100.0]]), np.array([[70.0, 0.0]]))
P_ONE = RiskParams(assets=("usd", "x"), ltv=[0.0, 0.7], liquidation_threshold=[0.0, 0.8],
                   liquidation_bonus=[0.0, 0.05])


def _by_hand(r: np.ndarray) -> np.ndarray:
    """Seized x, USD: liquidated when HF = 80 r / 70 < 1; the debt 70 takes 70 x 1.05 = 73.5, at most all 100 r."""
    return np.where(0.8 * 100 * r < 70, np.minimum(73.5, 100 * r), 0.0)


def test_seized_size_of_one_account_in_closed_form():
    r_x = np.linspace(0.7, 1.2, 200)  # 200 scenarios, usd fixed at 1
    rel = np.column_stack([np.ones_like(r_x), r_x])
    sale = seized_sale(ONE, rel, P_ONE, tail=0.1)
    # the 20 lowest relatives of x: 0.70 .. 0.75, all liquidated (< 0.875); below 0.735 all 100 r is taken
    low = np.sort(r_x)[:20]
    assert (_by_hand(low) == 73.5).any() and (_by_hand(low) < 73.5).any()
    assert sale.n_tail_scenarios[1] == 20 and sale.n_scenarios == 200 and sale.rule == "seized"
    assert sale.usd[1] == pytest.approx(_by_hand(low).mean())
    assert sale.share_of_collateral[1] == pytest.approx(_by_hand(low).mean() / 100)
    # half sold within the day: half the size; a tail above the liquidation point seizes nothing
    assert seized_sale(ONE, rel, P_ONE, tail=0.1, share_sold=0.5).usd[1] == pytest.approx(sale.usd[1] / 2)
    calm = np.column_stack([np.ones(50), np.linspace(0.9, 1.1, 50)])
    assert seized_sale(ONE, calm, P_ONE, tail=0.1).usd[1] == 0.0
    # at most max_tail_scenarios of the tail, spread by rank from the worst to the last of the tail
    few = seized_sale(ONE, rel, P_ONE, tail=0.1, max_tail_scenarios=3)
    picks = low[[0, 10, 19]]  # linspace(0, 19, 3) rounded
    assert few.n_tail_scenarios[1] == 3 and few.usd[1] == pytest.approx(_by_hand(picks).mean())


def test_re_levered_debt_seizes_less_under_a_lower_threshold():
    rel = np.column_stack([np.ones(100), np.linspace(0.74, 1.2, 100)])  # the 20 lowest: 0.74 .. 0.83
    lower = RiskParams(assets=("usd", "x"), ltv=[0.0, 0.5], liquidation_threshold=[0.0, 0.6],
                       liquidation_bonus=[0.0, 0.05])
    scale = relever_factor(ONE, P_ONE, lower)  # the borrower keeps HF: debt 70 x 0.6 / 0.8 = 52.5
    assert scale[0] == pytest.approx(0.75)
    a = seized_sale(ONE, rel, P_ONE, tail=0.2)
    b = seized_sale(ONE, rel, lower, tail=0.2, debt_scale=scale)
    assert b.usd[1] == pytest.approx(0.75 * a.usd[1])  # every tail scenario liquidates: 52.5 x 1.05 vs 73.5


def test_sale_is_never_above_the_assets_collateral(synth_book, market_params, scenario_relatives):
    coll = synth_book.collateral_by_asset
    for rel in (scenario_relatives, scenario_relatives * 0.05, np.full((20, 6), 3.0)):
        for tail in (0.01, 0.2, 1.0):
            sale = seized_sale(synth_book, rel, market_params, tail=tail)
            assert np.all(sale.usd >= 0) and np.all(sale.usd <= coll * (1 + 1e-12))
            assert np.all(sale.share_of_collateral <= 1 + 1e-12)


def test_a_bigger_book_seizes_more_and_slips_more(synth_book, market_params, scenario_relatives):
    bigger = synth_book.rescale(2 * synth_book.collateral_by_asset, 2 * synth_book.debt_by_asset)
    a = seized_sale(synth_book, scenario_relatives, market_params, tail=0.02)
    b = seized_sale(bigger, scenario_relatives, market_params, tail=0.02)
    np.testing.assert_allclose(b.usd, 2 * a.usd)  # the same accounts, twice the size: twice the seizure
    curve = (np.array([1e6, 1e8]), np.array([0.01, 0.10]))
    law = DepthSlippage(tuple(curve[0] for _ in range(6)), tuple(curve[1] for _ in range(6)), np.full(6, 0.03))
    sig = np.full(6, 0.03)
    hit = a.usd > 0
    assert hit.any() and np.all(law.slippage(b, sig)[hit] > law.slippage(a, sig)[hit])


def test_share_rule_is_the_old_fixed_share(synth_book):
    sale = share_sale(synth_book, 0.25)
    np.testing.assert_allclose(sale.usd, 0.25 * synth_book.collateral_by_asset)
    assert sale.rule == "share" and sale.tail is None
    with pytest.raises(ValueError, match=r"`share` must lie in \[0, 1\]"):
        share_sale(synth_book, 1.5)


def test_tail_picks_are_the_lowest_relatives_of_each_asset(synth_book, market_params, scenario_relatives):
    seized, n_used = tail_seized(synth_book, scenario_relatives, market_params, tail=0.02)
    assert np.all(n_used == 10)  # 2 % of 500
    full = seized_collateral(synth_book, scenario_relatives, market_params)
    for i in range(6):
        low = np.argsort(scenario_relatives[:, i], kind="stable")[:10]
        assert seized[i] == pytest.approx(full[low, i].mean())


def test_bad_arguments_fail_clearly(synth_book, market_params, scenario_relatives):
    with pytest.raises(ValueError, match=r"`tail` must lie in \(0, 1\]"):
        seized_sale(synth_book, scenario_relatives, market_params, tail=0.0)
    with pytest.raises(ValueError, match=r"`share_sold` must lie in \[0, 1\]"):
        seized_sale(synth_book, scenario_relatives, market_params, tail=0.01, share_sold=2.0)
    with pytest.raises(ValueError, match=r"`usd` must be finite, >= 0 and of shape \(2,\)"):
        SaleSize(assets=("a", "b"), usd=np.array([1.0]), collateral_usd=np.ones(2), rule="share", share=1.0)
