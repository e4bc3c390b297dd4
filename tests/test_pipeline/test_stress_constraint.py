"""Stress as a hard constraint on the quick config (real data): the library's scenarios are rows of
the threshold LP; a budget that binds lowers the thresholds against the LP without the rows."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.exceptions import ConfigError
from optimizer.optimize import Binding, RunStatus
from optimizer.pipeline.run import prepare_market, solve_thresholds
from optimizer.pipeline.stress import library_of


@pytest.fixture(scope="module")
def stage(quick_stage):
    return quick_stage.cfg, quick_stage.inputs


def solve(cfg, inputs):
    market = prepare_market(cfg, inputs)
    return market, solve_thresholds(cfg, inputs, market)


def test_default_budget_is_the_cvar_budget_at_the_historys_length(stage):
    cfg, inputs = stage
    market, sol = solve(cfg, inputs)
    lib = library_of(cfg, inputs)
    assert market.stress is not None and market.stress.k.shape == (lib.n_scenarios, len(cfg.asset_names))
    assert market.stress.budget == pytest.approx(market.budget * (1 - market.alpha) * lib.n_windows)
    assert market.stress.losses(sol.lt, market.exposure).max() <= market.stress.budget * (1 + 1e-6)
    # the rows use the LP's own slippage and bonus: the recoveries match isolated_recovery on them
    from optimizer.protocol.kernels import isolated_recovery
    from optimizer.protocol.mechanics import debt_basket_relatives

    rel = lib.terminal
    k = isolated_recovery(rel, debt_basket_relatives(rel, market.weights), market.bonus, market.slippage)
    np.testing.assert_allclose(market.stress.k, k)


def test_a_binding_stress_budget_lowers_thresholds_and_holds(stage):
    cfg, inputs = stage
    off_cfg = cfg.with_overrides("optimizer", stress_constraint=False)
    market_off, off = solve(off_cfg, inputs)
    assert market_off.stress is None
    rows = prepare_market(cfg, inputs).stress
    loose = rows.losses(off.lt, market_off.exposure)
    budget = 0.6 * float(loose.max())  # 40 % below what the unconstrained answer loses in its worst scenario
    market, sol = solve(cfg.with_overrides("optimizer", stress_budget_usd=budget), inputs)
    assert sol.status == RunStatus.OK
    losses = market.stress.losses(sol.lt, market.exposure)
    assert losses.max() <= budget * (1 + 1e-6)
    assert market.stress.binding(sol.lt, market.exposure)[int(np.argmax(loose))]
    eth = cfg.asset_names.index("eth")
    assert sol.lt[eth] < off.lt[eth] - 0.005  # ETH gives up at least 50 bps
    assert sol.optimizer.objective_ < off.optimizer.objective_
    assert {Binding.STRESS_BUDGET, Binding.RISK_AND_STRESS_BUDGET} & set(sol.binding)


def test_an_unmeetable_stress_budget_is_infeasible_and_says_so(stage):
    from optimizer.report.run_view import status_message

    cfg, inputs = stage
    market, sol = solve(cfg.with_overrides("optimizer", stress_budget_usd=1.0, lt_min=0.6), inputs)
    assert sol.status == RunStatus.INFEASIBLE
    opt = sol.optimizer
    assert opt.min_feasible_stress_budget_ > 1.0
    msg = status_message(sol.status, alpha=market.alpha, budget_usd=market.budget, asset_share=market.asset_share,
                         guard_fails=sol.guard_fails, solver_optimal=False,
                         min_feasible_budget_usd=opt.min_feasible_budget_, stress_budget_usd=1.0,
                         min_feasible_stress_budget_usd=opt.min_feasible_stress_budget_)
    assert "stress budget" in msg and f"${opt.min_feasible_stress_budget_:,.0f}" in msg


def test_stress_budget_keys_are_checked(stage):
    cfg, _ = stage
    with pytest.raises(ConfigError, match="not both"):
        from optimizer.pipeline.config import _cross_checks

        _cross_checks(cfg.with_overrides("optimizer", stress_budget_usd=1e6, stress_budget_share=0.1), "x.toml")
    with pytest.raises(ConfigError, match="stress_constraint = false"):
        _cross_checks(cfg.with_overrides("optimizer", stress_constraint=False, stress_budget_share=0.1), "x.toml")
    share = cfg.with_overrides("optimizer", stress_budget_share=0.05)
    from optimizer.pipeline.stress import stress_budget

    usd, rule = stress_budget(share, library_of(share, stage[1]), 1e9, alpha=0.99, share=0.01)
    assert usd == pytest.approx(5e7) and "stress_budget_share" in rule
