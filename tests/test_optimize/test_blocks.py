"""The cvxpy blocks on their own: the sparse loss model reproduces the numpy losses."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from optimizer.optimize import cvar, threshold_losses
from optimizer.optimize._blocks import (
    box_block,
    cvar_block,
    make_threshold_loss_data,
    threshold_loss_block,
)


def solve_at(lt_value: np.ndarray, data, alpha=None, probs=None):
    lt = cp.Variable(lt_value.size)
    loss, cons = threshold_loss_block(lt, data)
    _, box = box_block(lt, lt_value, lt_value)
    if alpha is None:
        prob = cp.Problem(cp.Minimize(cp.sum(loss)), cons + box)
        prob.solve(solver="HIGHS")
        return prob, loss.value
    risk, rc = cvar_block(loss, alpha, probs)
    prob = cp.Problem(cp.Minimize(risk), cons + box + rc)
    prob.solve(solver="HIGHS")
    return prob, prob.value


def test_loss_block_matches_numpy(rng: np.random.Generator) -> None:
    k = rng.uniform(0.3, 1.1, size=(300, 5))
    W = rng.uniform(1e6, 1e8, size=5)
    x = rng.uniform(0.5, 0.9, size=5)
    scale = 1e7
    expected = threshold_losses(x, k, W) / scale
    # all exact; linear below 0.5 (exact for x >= 0.5); rows subset in a chosen order
    for lower in (None, np.full(5, 0.5)):
        data = make_threshold_loss_data(k, W, np.full(5, 0.95), lt_lower=lower, scale=scale)
        prob, value = solve_at(x, data)
        assert prob.status == cp.OPTIMAL
        np.testing.assert_allclose(value, expected, rtol=1e-8, atol=1e-9)
    rows = np.array([7, 3, 250])
    data = make_threshold_loss_data(k, W, np.full(5, 0.95), scenarios=rows, scale=scale)
    _, value = solve_at(x, data)
    np.testing.assert_allclose(value, expected[rows], rtol=1e-8, atol=1e-9)
    assert data.n_rows == 3 and data.n_pairs == int((k[rows] < 0.95).sum())


def test_cvar_block_at_fixed_thresholds(rng: np.random.Generator) -> None:
    k = rng.uniform(0.3, 1.1, size=(400, 4))
    W = np.array([1e7, 2e7, 5e6, 3e7])
    x = np.array([0.7, 0.6, 0.8, 0.5])
    data = make_threshold_loss_data(k, W, np.full(4, 0.9), scale=1e7)
    _, value = solve_at(x, data, alpha=0.95, probs=np.full(400, 1 / 400))
    assert value * 1e7 == pytest.approx(cvar(threshold_losses(x, k, W), 0.95), rel=1e-8)


def test_cvar_block_relaxations_are_lower_bounds(rng: np.random.Generator) -> None:
    """Dropping rows or aggregating 'sure tail' rows can only lower the modelled CVaR."""
    losses = np.sort(rng.exponential(size=1_000))[::-1].copy()
    p = np.full(1_000, 1e-3)
    exact = cvar(losses, 0.95)

    def ru(values, probs, n_sure=0):
        expr, cons = cvar_block(cp.Constant(values), 0.95, probs, n_sure=n_sure)
        prob = cp.Problem(cp.Minimize(expr), cons)
        prob.solve(solver="HIGHS")
        return prob.value

    assert ru(losses, p) == pytest.approx(exact, rel=1e-9)
    assert ru(losses[:80], p[:80]) == pytest.approx(exact, rel=1e-9)  # the tail is 50 rows
    assert ru(losses[:30], p[:30]) < exact
    assert ru(losses[:80], p[:80], n_sure=30) == pytest.approx(exact, rel=1e-9)
    assert ru(losses[::-1].copy(), p, n_sure=30) < exact  # "sure" rows that are not in the tail
