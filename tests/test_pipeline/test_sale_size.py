"""The run's liquidation-day sale on real data (the quick config): sized from the book's liquidations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from optimizer.pipeline.run import prepare_market, run_sale, solve_market, solve_thresholds, static_slippage
from optimizer.protocol.sale import seized_sale


def test_the_run_sale_is_what_the_book_seizes_in_each_assets_tail(quick_stage):
    cfg, inputs, market = quick_stage.cfg, quick_stage.inputs, quick_stage.market
    sale = market.sale
    assert sale.rule == "seized" and sale.params_label == "recommended"
    assert sale.tail == pytest.approx(1 - market.alpha) and sale.n_scenarios == inputs.scenarios.n_scenarios
    coll = inputs.book.collateral_by_asset
    assert np.all(sale.usd <= coll) and sale.usd.max() > 0
    # the slippage the program used is the law's at that sale: nothing else sizes it
    np.testing.assert_allclose(market.slippage, static_slippage(cfg, inputs).slippage(sale, market.sigma))
    live = run_sale(cfg, inputs)
    expected = seized_sale(inputs.book, inputs.scenarios.terminal, inputs.current, tail=1 - market.alpha)
    np.testing.assert_allclose(live.usd, expected.usd)
    assert live.params_label == "current"


def test_the_fixed_point_holds_at_its_solution(quick_stage):
    cfg, inputs, market, sol = quick_stage.cfg, quick_stage.inputs, quick_stage.market, quick_stage.solution
    fixed = solve_market(cfg, inputs)
    assert fixed.converged and fixed.params == "recommended" and 1 <= len(fixed.steps) <= fixed.max_iterations
    np.testing.assert_array_equal(fixed.solution.lt, sol.lt)  # deterministic: the shared stage is the same solve
    # resizing at the solution moves no slippage by more than the tolerance's order
    again = run_sale(cfg, inputs, params=sol.recommended)
    law = static_slippage(cfg, inputs)
    assert np.max(np.abs(law.slippage(again, market.sigma) - market.slippage)) < 2 * fixed.tolerance
    live = solve_market(cfg.with_overrides("liquidity", sale_params="current"), inputs)
    assert live.steps == () and live.sale.params_label == "current"


def test_the_share_option_reproduces_the_old_fixed_share(quick_stage):
    cfg, inputs = quick_stage.cfg, quick_stage.inputs
    old = cfg.with_overrides("liquidity", sale_size="share", liquidation_share=0.25)
    fixed = solve_market(old, inputs)
    assert fixed.steps == () and fixed.sale.rule == "share"  # a share of the collateral does not iterate
    law, sigma, coll = static_slippage(old, inputs), fixed.problem.sigma, inputs.book.collateral_by_asset
    # the old law written out: the curve at 25 % of the collateral, scaled by volatility, capped
    before = [min(float(law.impact(i, 0.25 * coll[i], float(sigma[i]), cap=np.inf)), old.liquidity.max_slippage)
              for i in range(len(coll))]
    np.testing.assert_allclose(fixed.problem.slippage, before)


def test_a_bigger_book_seizes_more_slips_more_and_gets_no_looser_thresholds(quick_stage):
    cfg, inputs, market = quick_stage.cfg, quick_stage.inputs, quick_stage.market
    book = inputs.book
    bigger = book.rescale(3 * book.collateral_by_asset, 3 * book.debt_by_asset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = solve_thresholds(cfg, inputs, prepare_market(cfg, inputs, sale=run_sale(cfg, inputs)))
        big_m = prepare_market(cfg, inputs, book=bigger)  # its own sale
        big = solve_thresholds(cfg, inputs, big_m)
    small_sale = run_sale(cfg, inputs)
    np.testing.assert_allclose(big_m.sale.usd, 3 * small_sale.usd, rtol=1e-9)
    hit = small_sale.usd > 0
    small_slip = static_slippage(cfg, inputs).slippage(small_sale, market.sigma)
    assert np.all(big_m.slippage[hit] > small_slip[hit])
    # every recovery is lower, so each asset's own guard is no looser and the program's capital
    # efficiency no higher; a budget-bound asset may still gain a little LT where another gives up more
    assert np.all(big_m.caps <= base.problem.caps + 1e-9)
    coll = book.collateral_by_asset
    assert np.dot(coll, big.lt) < np.dot(coll, base.lt)
    assert big.lt[0] < base.lt[0]  # eth, the largest sale
