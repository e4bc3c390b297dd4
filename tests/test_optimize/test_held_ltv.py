"""Reserves whose LTV is held at 0: no weight in the capital efficiency, LT up to current as risk allows.

Synthetic market (seeded, so the answers can be checked against their definitions): ETH borrows,
CRV and LINK have LTV 0 (collateral only inside e-modes) with current LTs 0.60 and 0.50, USDC is
the debt. The properties asserted are those of the policy, not numbers read off a run.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.optimize import Binding, RiskMetrics, BookEvaluation, ThresholdBounds, ThresholdProblem
from optimizer.optimize.convex import STAGE_SLACK, threshold_losses
from optimizer.optimize.measures import capital_efficiency, cvar
from optimizer.protocol.book import Book
from optimizer.protocol.liquidity import DepthSlippage, sqrt_law_curve
from optimizer.protocol.sale import share_sale
from optimizer.protocol.params import RiskParams

ASSETS = ("eth", "crv", "link", "usdc")
N = 4000
ALPHA = 0.95
CURRENT_LT = np.array([0.83, 0.60, 0.50, 0.78])
HELD = np.array([False, True, True, False])


def _terminal() -> np.ndarray:
    rng = np.random.default_rng(7)
    common, own = rng.standard_normal((N, 1)), rng.standard_normal((N, 3))
    log_r = np.array([0.08, 0.25, 0.15]) * (0.8 * common + 0.6 * own)
    return np.column_stack([np.exp(log_r), np.ones(N)])


TERMINAL = _terminal()


def _problem(policy: str = "up_to_current", budget: float = 3e4, share: float = 10.0, *,
             keep_zero_ltv: bool = True) -> ThresholdProblem:
    book = Book.from_dense(
        ASSETS,
        collateral=np.array([[1e6, 0, 0, 0], [0, 2e5, 0, 0], [0, 0, 2e5, 0]]),
        debt=np.array([[0, 0, 0, 6e5], [0, 0, 0, 5e4], [0, 0, 0, 5e4]]),
    )
    current = RiskParams(assets=ASSETS, ltv=np.array([0.8, 0.0, 0.0, 0.75]), liquidation_threshold=CURRENT_LT,
                         liquidation_bonus=np.full(4, 0.05))
    xs, ys = sqrt_law_curve(2e8, coef=0.0)
    law = DepthSlippage((xs,) * 4, (ys,) * 4, np.ones(4))
    bounds = ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05, keep_zero_ltv=keep_zero_ltv,
                             held_ltv_lt=policy)
    return ThresholdProblem.build(TERMINAL, book, current, has_current=(True,) * 4, bonus=np.full(4, 0.05),
                                  sigma_daily=np.full(4, 0.04), slippage_law=law, sale=share_sale(book, 0.25), bounds=bounds, alpha=ALPHA,
                                  asset_share=share, budget_usd=budget)


def _cvar(p: ThresholdProblem, lt: np.ndarray) -> float:
    return cvar(threshold_losses(lt, p.k, p.exposure), p.alpha)


def test_held_reserves_carry_no_weight_and_the_lp_objective_is_the_reported_capital_efficiency():
    p = _problem()
    assert list(p.ltv_held) == list(HELD)
    np.testing.assert_array_equal(p.efficiency_weight, np.where(HELD, 0.0, p.collateral))
    rng = np.random.default_rng(0)
    for _ in range(200):  # every candidate inside the bounds, not only the optimum
        lt = rng.uniform(p.lt_min, p.lt_max)
        reported = capital_efficiency(p.collateral, p.params(lt).ltv)
        assert p.lp_objective(lt) == pytest.approx(reported, rel=1e-12)
        assert p.capital_efficiency(lt) == pytest.approx(reported, rel=1e-12)
    sol = p.solve()
    ev = BookEvaluation(total=np.zeros(3), by_asset=np.zeros((3, 4)), n_liquidated=np.zeros(3))
    metrics = RiskMetrics.of(ev, alpha=ALPHA, fund_usd=0.0, collateral_usd=p.collateral, params=sol.recommended)
    assert sol.optimizer.objective_ == pytest.approx(metrics.capital_efficiency_usd, rel=1e-12)


def test_no_held_reserve_gets_an_lt_above_its_current_value_and_each_is_lowered_only_as_risk_requires():
    for budget in (1e4, 3e4, 1e5):
        p = _problem(budget=budget)
        sol = p.solve()
        lt, lim = sol.lt, sol.risk_limit_lt
        assert np.all(lt[HELD] <= CURRENT_LT[HELD] + 1e-12)
        assert np.all(np.isnan(lim[~HELD])) and np.all(np.isfinite(lim[HELD]))
        # the highest LT up to current that the risk target allows: min(current, the risk limit)
        np.testing.assert_allclose(lt[HELD], np.minimum(CURRENT_LT[HELD], lim[HELD]), atol=1e-9)
        # the risk limit is what the budget allows that reserve with the others as recommended
        assert _cvar(p, lt) <= budget * (1 + 1e-6)
        for i in np.flatnonzero(HELD):
            if lim[i] < p.lt_max[i] - 1e-4:
                up = lt.copy()
                up[i] = lim[i] + 1e-4
                assert _cvar(p, up) > budget
        # CRV: risk requires less than its current 0.60; LINK: held at its current 0.50
        assert lt[1] < CURRENT_LT[1] - 0.01 and sol.binding[1] == Binding.RISK_BUDGET
        assert lt[2] == pytest.approx(CURRENT_LT[2], abs=1e-9) and sol.binding[2] == Binding.HELD_AT_CURRENT
        assert lim[2] > CURRENT_LT[2] + 0.01


def test_the_risk_limit_policy_lets_a_held_lt_rise_above_current_to_what_the_target_allows():
    sol = _problem("risk_limit").solve()
    assert sol.lt[2] > CURRENT_LT[2] + 0.01
    np.testing.assert_allclose(sol.lt[HELD], sol.risk_limit_lt[HELD], atol=1e-9)
    assert Binding.HELD_AT_CURRENT not in sol.binding


def test_held_reserves_take_no_budget_from_the_reserves_with_borrowing_power():
    """ETH gets what it would get if the held reserves sat at lt_min (CE first, to STAGE_SLACK of the budget)."""
    p = _problem()
    sol = p.solve()
    from optimizer.optimize.convex import ThresholdOptimizer

    floor = np.where(HELD, p.lt_min, np.minimum(p.lt_max, p.caps))
    alone = ThresholdOptimizer(alpha=p.alpha, budget=p.budget).fit(
        p.k, p.exposure, p.efficiency_weight, p.lt_min, floor, p.buffer)
    assert p.capital_efficiency(sol.lt) == pytest.approx(alone.objective_, rel=10 * STAGE_SLACK)
    # the former objective (collateral weight on every reserve) gives ETH less
    old = ThresholdOptimizer(alpha=p.alpha, budget=p.budget).fit(
        p.k, p.exposure, p.collateral, p.lt_min, np.minimum(np.minimum(p.lt_max, p.caps), CURRENT_LT), p.buffer)
    assert sol.lt[0] > old.lt_[0] + 1e-3
    assert p.capital_efficiency(sol.lt) > p.capital_efficiency(old.lt_)


def test_without_keep_zero_ltv_nothing_is_held_and_there_is_no_second_stage():
    sol = _problem(keep_zero_ltv=False).solve()
    assert not sol.problem.ltv_held.any() and np.all(np.isnan(sol.risk_limit_lt))
    np.testing.assert_array_equal(sol.optimizer.primary_lt_, sol.lt)


def test_held_ltv_lt_is_validated():
    with pytest.raises(ValueError, match=r"`held_ltv_lt` must be one of up_to_current, risk_limit"):
        ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05, held_ltv_lt="free")
