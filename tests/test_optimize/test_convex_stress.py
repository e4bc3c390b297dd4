"""Stress rows of the threshold LP: hard per-scenario bounds on the worst-case book's bad debt.

Synthetic problems (``optimize_problems.make_problem``) with named stress scenarios built as a deep
joint crash, so the answer's direction and, for one asset, its value are known.
"""

from __future__ import annotations

import numpy as np
import pytest
from optimize_problems import Problem, make_problem

from optimizer.exceptions import InfeasibleError
from optimizer.optimize import ThresholdOptimizer, single_asset_threshold, threshold_losses


@pytest.fixture(scope="module")
def problem() -> Problem:
    return make_problem(4_000, 6, np.random.default_rng(7))


def crash(pr: Problem, depth: float) -> np.ndarray:
    """Stress recoveries: every asset at ``depth`` x its lowest scenario recovery, plus a milder one."""
    kmin = pr.recovery.min(axis=0)
    return np.vstack([kmin * depth, kmin * (0.5 + 0.5 * depth)])


def test_a_binding_stress_budget_lowers_the_thresholds_and_holds(problem: Problem) -> None:
    budget = problem.budget(0.99, 0.5)
    free = ThresholdOptimizer(budget=budget).fit(*problem.args())
    ks = crash(problem, 0.6)
    loose = float(threshold_losses(free.lt_, ks, problem.exposure).max())
    b_st = 0.5 * loose  # half what the unconstrained answer loses in the worst stress
    for method in ("rowgen", "full"):
        opt = ThresholdOptimizer(budget=budget, method=method).fit(
            *problem.args(), stress_recovery=ks, stress_budget=b_st)
        assert opt.status_ == "optimal"
        assert opt.stress_losses_.max() <= b_st * (1 + 1e-6)
        assert opt.stress_binding_[0] and opt.stress_losses_[0] == pytest.approx(b_st, rel=1e-6)
        assert opt.objective_ < free.objective_
        assert (free.lt_ - opt.lt_).max() > 1e-2  # some threshold gives up at least 100 bps
        assert opt.cvar_ <= budget * (1 + 1e-6)
    row = ThresholdOptimizer(budget=budget).fit(*problem.args(), stress_recovery=ks, stress_budget=b_st)
    full = ThresholdOptimizer(budget=budget, method="full").fit(*problem.args(), stress_recovery=ks,
                                                                  stress_budget=b_st)
    # row generation certifies the same optimum as the full LP with the stress rows
    assert row.objective_ == pytest.approx(full.objective_, rel=1e-7)
    np.testing.assert_allclose(row.lt_, full.lt_, atol=1e-6)


def test_a_slack_stress_budget_changes_nothing(problem: Problem) -> None:
    budget = problem.budget(0.99, 0.5)
    free = ThresholdOptimizer(budget=budget).fit(*problem.args())
    ks = crash(problem, 0.6)
    b_st = 2.0 * float(threshold_losses(free.lt_, ks, problem.exposure).max())
    opt = ThresholdOptimizer(budget=budget).fit(*problem.args(), stress_recovery=ks, stress_budget=b_st)
    np.testing.assert_allclose(opt.lt_, free.lt_, atol=1e-7)
    assert not opt.stress_binding_.any()


def test_one_asset_stress_cap_in_closed_form() -> None:
    """One asset, one stress row: W (x - ks)+ <= B_st gives x = ks + B_st / W when that is below the
    CVaR answer."""
    rng = np.random.default_rng(3)
    k = np.exp(rng.standard_t(4, size=(5_000, 1)) * 0.1) * 0.92
    w, budget = 1e8, 4e6
    x_cvar = single_asset_threshold(k[:, 0], w, budget, 0.99)
    ks, b_st = np.array([[0.4]]), 1e7
    opt = ThresholdOptimizer(budget=budget).fit(k, [w], [w], [0.2], [0.95], [0.05], stress_recovery=ks,
                                                stress_budget=b_st)
    assert 0.4 + b_st / w < x_cvar
    assert opt.lt_[0] == pytest.approx(0.4 + b_st / w, abs=1e-9)


def test_stress_budget_below_the_floor_is_infeasible(problem: Problem) -> None:
    budget = problem.budget(0.99, 0.5)
    ks = crash(problem, 0.3)
    floor = float(threshold_losses(problem.lt_min, ks, problem.exposure).max())
    opt = ThresholdOptimizer(budget=budget).fit(*problem.args(), stress_recovery=ks, stress_budget=0.5 * floor)
    assert opt.status_ == "infeasible"
    assert opt.min_feasible_stress_budget_ == pytest.approx(floor)
    np.testing.assert_array_equal(opt.lt_, problem.lt_min)
    with pytest.raises(InfeasibleError, match="stress budget"):
        opt.raise_if_infeasible()


def test_stress_rows_need_a_budget_and_the_asset_count(problem: Problem) -> None:
    with pytest.raises(ValueError, match="stress_budget"):
        ThresholdOptimizer(budget=1.0).fit(*problem.args(), stress_recovery=crash(problem, 0.5))
    with pytest.raises(ValueError, match="stress_recovery"):
        ThresholdOptimizer(budget=1.0).fit(*problem.args(), stress_recovery=np.ones((2, 3)), stress_budget=1.0)
