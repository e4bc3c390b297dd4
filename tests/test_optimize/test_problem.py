"""`ThresholdProblem`: closed-form single-asset cases, bounds, buffers, budgets, and the metrics records."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.exceptions import ConfigError
from optimizer.optimize import (
    Binding,
    BookEvaluation,
    RiskMetrics,
    RunMetrics,
    ThresholdBounds,
    ThresholdProblem,
    binding_label,
)
from optimizer.protocol.book import Book
from optimizer.protocol.liquidity import DepthSlippage, sqrt_law_curve
from optimizer.protocol.params import RiskParams
from optimizer.protocol.sale import share_sale

ASSETS = ("eth", "usdc")
N = 1000
ALPHA = 0.9
BONUS = 0.05
W = 1e6  # eth collateral of the one borrower, USD
#: eth's price relative on an even grid; usdc (the debt) stays at 1
R_ETH = np.linspace(0.5, 1.5, N)
TERMINAL = np.column_stack([R_ETH, np.ones(N)])
#: recovery per USD of debt with no slippage and usdc debt: k = r / (1 + bonus)
K_ETH = R_ETH / (1 + BONUS)
#: the worst 1 - alpha of eth's recoveries: a single asset's CVaR tail is always its lowest k
K_TAIL = np.sort(K_ETH)[: round((1 - ALPHA) * N)]


def _book() -> Book:
    return Book.from_dense(ASSETS, collateral=np.array([[W, 0.0]]), debt=np.array([[0.0, 0.5 * W]]))


def _current(ltv=(0.7, 0.7), lt=(0.75, 0.75)) -> RiskParams:
    return RiskParams(assets=ASSETS, ltv=np.array(ltv), liquidation_threshold=np.array(lt),
                      liquidation_bonus=np.full(2, BONUS))


BOUNDS = ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05)


def _sqrt_law(volume: float, coef: float) -> DepthSlippage:
    """The square-root law on ``volume`` as per-unit-volatility depth curves (``sqrt_law_curve``)."""
    xs, ys = sqrt_law_curve(volume, coef=coef)
    return DepthSlippage((xs, xs), (ys, ys), np.ones(2))


def _problem(*, budget_usd=None, asset_share=10.0, bounds=BOUNDS, current=None, has_current=(False, False),
             comonotone_share=0.0, impact_coef=0.0, budget_share=None) -> ThresholdProblem:
    return ThresholdProblem.build(
        TERMINAL, _book(), current or _current(), has_current=has_current, bonus=np.full(2, BONUS),
        sigma_daily=np.full(2, 0.04), slippage_law=_sqrt_law(1e9 * 0.2, impact_coef), sale=share_sale(_book(), 0.25),
        bounds=bounds, alpha=ALPHA,
        asset_share=asset_share, budget_usd=budget_usd, budget_share=budget_share, comonotone_share=comonotone_share,
    )


def test_build_derives_recovery_exposure_and_bounds():
    p = _problem(budget_usd=1e5)
    np.testing.assert_allclose(p.k[:, 0], K_ETH)  # debt in usdc: the basket does not move
    np.testing.assert_allclose(p.basket[:, 0], 1.0)
    np.testing.assert_allclose(p.exposure, [W, 0.0])
    np.testing.assert_allclose(p.slippage, 0.0)
    np.testing.assert_allclose(p.lt_max, [0.95, 0.95])  # 1 / 1.05 = 0.952 is above lt_max
    np.testing.assert_allclose(p.lt_min, [0.3, 0.3])
    np.testing.assert_allclose(p.buffer, [0.05, 0.05])
    assert p.assets == ASSETS and p.k_stressed is None and p.scenario_weights is None


def test_single_asset_threshold_matches_the_closed_form():
    """Above the tail's largest k, CVaR_alpha(W max(LT - k, 0)) = W (LT - mean of the tail's k)."""
    budget = 0.2 * W
    sol = _problem(budget_usd=budget).solve()
    expected = K_TAIL.mean() + budget / W
    assert expected > K_TAIL.max()  # the closed form applies
    assert sol.status == "ok" and not sol.guard_fails
    assert sol.lt[0] == pytest.approx(expected, abs=1e-6)
    assert sol.optimizer.cvar_ == pytest.approx(budget, rel=1e-6)
    assert sol.binding[0] == "aggregate risk budget"
    # LTV = LT - buffer
    assert sol.recommended.ltv[0] == pytest.approx(expected - 0.05, abs=1e-6)
    np.testing.assert_allclose(sol.recommended.liquidation_bonus, BONUS)


def test_asset_guard_is_the_closed_form_per_usd_threshold():
    share = 0.1
    sol = _problem(budget_usd=10 * W, asset_share=share).solve()
    assert sol.caps[0] == pytest.approx(K_TAIL.mean() + share, abs=1e-9)
    assert sol.lt[0] == pytest.approx(sol.caps[0], abs=1e-6)
    assert sol.binding[0] == "asset risk guard"


def test_bounds_are_respected():
    loose = _problem(budget_usd=10 * W).solve()
    assert loose.lt[0] == pytest.approx(0.95, abs=1e-7) and loose.binding[0] == "upper bound"
    tight_bounds = ThresholdBounds(lt_min=0.3, lt_max=0.6, ltv_buffer=0.05, asset_lt_min={"eth": 0.55})
    sol = _problem(budget_usd=10 * W, bounds=tight_bounds).solve()
    assert np.all(sol.lt >= sol.problem.lt_min - 1e-9) and np.all(sol.lt <= sol.problem.lt_max + 1e-9)
    assert sol.problem.lt_min[0] == 0.55 and sol.problem.lt_max[0] == 0.6
    # a slippage margin caps LT x (1 + bonus) below 1
    margin = ThresholdBounds(lt_min=0.3, lt_max=0.99, ltv_buffer=0.05, slippage_margin=0.1)
    np.testing.assert_allclose(_problem(budget_usd=W, bounds=margin).lt_max, 0.9 / 1.05)


def test_a_guard_below_the_lower_bound_fails_and_holds_the_lower_bound():
    bounds = ThresholdBounds(lt_min=0.7, lt_max=0.95, ltv_buffer=0.05)
    sol = _problem(budget_usd=10 * W, asset_share=0.01, bounds=bounds).solve()
    assert sol.guard_fails == ["eth"] and sol.status == "infeasible"
    assert sol.lt[0] == pytest.approx(0.7, abs=1e-7)
    assert sol.binding[0] == "lower bound (asset guard not met)"


def test_buffer_from_current_parameters_and_zero_ltv_kept():
    # current LT - LTV = 0.4 is clipped to 0.15; usdc's current LTV of 0 is kept with keep_zero_ltv
    cur = _current(ltv=(0.5, 0.0), lt=(0.9, 0.75))
    keep = ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05, keep_zero_ltv=True)
    p = _problem(budget_usd=0.2 * W, current=cur, has_current=(True, True), bounds=keep)
    np.testing.assert_allclose(p.buffer, [0.15, 0.05])
    sol = p.solve()
    assert sol.recommended.ltv[0] == pytest.approx(sol.lt[0] - 0.15)
    assert sol.recommended.ltv[1] == 0.0 and list(sol.zero_kept) == [False, True]
    # without keep_zero_ltv the usdc LTV is LT - buffer
    sol2 = _problem(budget_usd=0.2 * W, current=cur, has_current=(True, True)).solve()
    assert sol2.recommended.ltv[1] == pytest.approx(sol2.lt[1] - 0.05)
    # an override wins over the current parameters
    over = ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05, asset_ltv_buffer={"eth": 0.08})
    assert _problem(budget_usd=W, current=cur, has_current=(True, True), bounds=over).buffer[0] == 0.08


def test_budget_share_and_errors():
    p = _problem(budget_share=0.1)
    assert p.budget == pytest.approx(0.1 * 0.5 * W)  # a share of the book's debt
    with pytest.raises(ConfigError, match=r"the risk budget is zero"):
        _problem(budget_usd=0.0)
    crossed = ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05, asset_lt_min={"eth": 0.96})
    with pytest.raises(ConfigError, match=r"\[assets\.eth\]: the lower bound on LT \(0\.9600.*exceeds the upper"):
        _problem(budget_usd=W, bounds=crossed)


def test_comonotone_share_solves_on_the_comonotone_mixture():
    p = _problem(budget_usd=0.2 * W, comonotone_share=0.5)
    assert p.k_stressed.shape == (2 * N, 2) and p.scenario_weights.sum() == pytest.approx(1.0)
    # one asset: the comonotone mixture has the same marginal, so the same threshold
    assert p.solve().lt[0] == pytest.approx(_problem(budget_usd=0.2 * W).solve().lt[0], abs=1e-6)


def test_slippage_lowers_recovery_and_the_threshold():
    p = _problem(budget_usd=0.2 * W, impact_coef=1.0)
    assert p.slippage[0] > 0
    np.testing.assert_allclose(p.k[:, 0], K_ETH * (1 - p.slippage[0]))
    assert p.solve().lt[0] < _problem(budget_usd=0.2 * W).solve().lt[0]


def test_binding_label_rules():
    assert binding_label(0.3, 0.3, 0.9, 0.5) == Binding.LOWER_BOUND
    assert binding_label(0.3, 0.3, 0.9, 0.2) == Binding.LOWER_BOUND_GUARD_NOT_MET
    assert binding_label(0.5, 0.3, 0.9, 0.5) == Binding.ASSET_GUARD
    assert binding_label(0.9, 0.3, 0.9, 1.0) == Binding.UPPER_BOUND
    assert binding_label(0.6, 0.3, 0.9, 1.0) == Binding.RISK_BUDGET


def _evaluation() -> BookEvaluation:
    total = np.array([0.0, 0.0, 0.0, 10.0])
    return BookEvaluation(total=total, by_asset=np.column_stack([total * 0.25, total * 0.75]),
                          n_liquidated=np.array([0, 1, 1, 2]))


def test_risk_metrics_values_and_mapping():
    params = _current()
    m = RiskMetrics.of(_evaluation(), alpha=0.5, fund_usd=5.0, collateral_usd=[100.0, 10.0], params=params,
                       with_tail=True)
    assert m.capital_efficiency_usd == pytest.approx(77.0)
    assert (m.bad_debt_mean_usd, m.bad_debt_cvar_usd, m.prob_bad_debt) == (2.5, 5.0, 0.25)
    assert m.mean_accounts_liquidated == 1.0
    assert m.tail_contribution_by_asset == pytest.approx({"eth": 0.25, "usdc": 0.75})
    d = m.as_dict()
    assert list(d)[:2] == ["capital_efficiency_usd", "bad_debt_var_usd"]
    assert set(m.as_dict(prefix="static_", losses_only=True)) == {
        "static_bad_debt_var_usd", "static_bad_debt_cvar_usd", "static_bad_debt_mean_usd", "static_prob_bad_debt",
        "static_prob_bad_debt_exceeds_fund", "static_tail_contribution_by_asset"}
    assert "tail_contribution_by_asset" not in RiskMetrics.of(
        _evaluation(), alpha=0.5, fund_usd=5.0, collateral_usd=[1.0, 1.0], params=params).as_dict()


def test_run_metrics_mapping_is_the_params_json_one():
    params = _current()
    rec = RiskMetrics.of(_evaluation(), alpha=0.5, fund_usd=5.0, collateral_usd=[1.0, 1.0], params=params,
                         with_tail=True)
    run = RunMetrics(recommended=rec, current=rec, lp_worst_case_cvar_usd=3.0, risk_budget_usd=4.0,
                     min_feasible_budget_usd=0.0)
    d = run.as_dict()
    assert list(d)[-4:] == ["lp_worst_case_cvar_usd", "risk_budget_usd", "min_feasible_budget_usd",
                            "tail_contribution_by_asset"]
    assert "static_bad_debt_cvar_usd" not in d
    sim = RunMetrics(recommended=rec, current=rec, lp_worst_case_cvar_usd=3.0, risk_budget_usd=4.0,
                     min_feasible_budget_usd=0.0, static=rec, simulation={"sim_bad_debt_cvar_usd": 1.0})
    d = sim.as_dict()
    assert d["static_bad_debt_cvar_usd"] == rec.bad_debt_cvar_usd and d["sim_bad_debt_cvar_usd"] == 1.0
    assert run.current_dict() == rec.as_dict()


def test_tail_scenarios_are_the_largest_worst_case_losses():
    p = _problem(budget_usd=1e5)
    lt = np.array([0.9, 0.9])
    losses = np.maximum(lt[0] - p.k[:, 0], 0.0) * p.exposure[0]  # only eth has exposure
    idx, rest = p.tail_scenarios(lt, 3)
    assert list(idx) == sorted(idx) and len(idx) == 3
    assert losses[idx].min() >= np.delete(losses, idx).max()
    assert rest == pytest.approx((p.k.shape[0] - 3) / p.k.shape[0])
    all_idx, none_left = p.tail_scenarios(lt, 10 * p.k.shape[0])
    assert len(all_idx) == p.k.shape[0] and none_left == 0.0
