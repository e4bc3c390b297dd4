"""A failing main solver is retried with the fallback and the incident is recorded (synthetic LP)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from optimizer.exceptions import ConvergenceWarning, SolverError
from optimizer.optimize.convex import ThresholdOptimizer


def _problem(rng):
    k = np.exp(rng.standard_t(4, size=(3000, 3)) * 0.05) / 1.05
    return k, np.array([1e6, 2e6, 5e5]), np.array([1e6, 2e6, 5e5]), np.full(3, 0.3), np.full(3, 0.95), np.full(3, 0.03)


def test_crashing_main_solver_falls_back(monkeypatch, rng):
    args = _problem(rng)
    ref = ThresholdOptimizer(alpha=0.99, budget=2e4, method="full").fit(*args)
    real = cp.Problem.solve

    def flaky(self, *a, solver=None, **kw):
        if solver == "HIGHS":
            raise cp.error.SolverError("simulated crash")
        return real(self, *a, solver=solver, **kw)

    monkeypatch.setattr(cp.Problem, "solve", flaky)
    with pytest.warns(ConvergenceWarning, match="retrying with CLARABEL"):
        opt = ThresholdOptimizer(alpha=0.99, budget=2e4, method="full", solver="HIGHS",
                                 fallback_solver="CLARABEL").fit(*args)
    assert opt.status_ == "optimal"
    assert any("HIGHS failed" in n for n in opt.solver_notes_)
    # the optimum's value is unique (the thresholds need not be): within 1 bp, and feasible
    assert opt.objective_ == pytest.approx(ref.objective_, rel=1e-4)
    assert opt.cvar_ <= 2e4 * (1 + 1e-4)


def test_crash_without_fallback_names_the_fix(monkeypatch, rng):
    args = _problem(rng)

    def broken(self, *a, **kw):
        raise cp.error.SolverError("simulated crash")

    monkeypatch.setattr(cp.Problem, "solve", broken)
    with pytest.raises(SolverError, match="Try another solver"):
        ThresholdOptimizer(alpha=0.99, budget=2e4, method="full", fallback_solver=None).fit(*args)
