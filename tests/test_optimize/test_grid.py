"""The recommendation on the protocol's grid: multiples of the step, invariants kept, risk never raised.

Synthetic problems (the property must hold for any answer the program can give, so the test draws
them): recovery ratios ``k = P (1 - slippage) / (1 + bonus)`` from correlated Student-t moves, so
the risk can be re-evaluated with the rounded bonus as well as the rounded thresholds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.optimize import bps, cvar, round_to_grid, threshold_losses
from optimizer.protocol.params import RiskParams

ALPHA = 0.95
STEPS = (0.0025, 0.0005, 0.0001, 0.005)


def _on_grid(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) <= 1e-6


@st.composite
def answers(draw):
    """A program's answer (valid parameters) with live parameters, bounds, buffers and held reserves."""
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    step = draw(st.sampled_from(STEPS))
    bonus = rng.choice([0.05, 0.045, 0.075, 0.083, 0.1], n) + rng.choice([0.0, 0.0, 0.00137], n)
    buffer = rng.choice([0.025, 0.03, 0.05, 0.0725], n)
    held = rng.random(n) < 0.3
    lt_min = np.maximum(rng.choice([0.2, 0.3, 0.4537], n), buffer + 0.01)
    lt_max = np.minimum(0.95, 1.0 / (1.0 + bonus))
    lt = lt_min + rng.random(n) * (lt_max - lt_min)
    at_min = rng.random(n) < 0.15  # the program often answers at a bound
    lt = np.where(at_min, lt_min, lt)
    cur_lt = np.floor(np.minimum(lt_max, lt + rng.choice([-0.03, 0.0, 0.02], n)) * 1e4) / 1e4  # live: whole bps
    cur_lt = np.maximum(cur_lt, lt_min)
    cur = RiskParams(assets=tuple(f"a{i}" for i in range(n)),
                     ltv=np.where(held, 0.0, np.maximum(cur_lt - buffer, 0.0)), liquidation_threshold=cur_lt,
                     liquidation_bonus=bonus).check()
    is_cur = rng.random(n) < 0.3  # the program's answer is the live LT (a held reserve at its cap)
    lt = np.where(is_cur, cur_lt, lt)
    ltv = np.where(held, 0.0, np.maximum(lt - buffer, 0.0))
    # anti-procyclicality's haircut buffer lowers LTV below LT - buffer
    ltv = np.where(rng.random(n) < 0.2, ltv * 0.9, ltv)
    params = cur.replace(ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus).check()
    has = tuple(bool(x) for x in rng.random(n) < 0.8)
    return params, cur, has, step, lt_min, buffer, held, rng


def _losses(lt, bonus, moves, slip, exposure):
    k = moves * (1.0 - slip) / (1.0 + bonus)
    return threshold_losses(np.asarray(lt, float), k, exposure)


@settings(max_examples=300, deadline=None)
@given(answers())
def test_rounding_is_on_grid_keeps_invariants_and_never_raises_risk(case):
    params, cur, has, step, lt_min, buffer, held, rng = case
    g = round_to_grid(params, step=step, current=cur, has_current=has, lt_min=lt_min, buffer=buffer, ltv_held=held)
    r, u = g.params, params
    assert r.violations() == []
    for i, a in enumerate(r.assets):
        for key in ("ltv", "liquidation_threshold", "liquidation_bonus"):
            x = float(getattr(r, key)[i])
            live = has[i] and x == float(getattr(cur, key)[i])
            lower_bound = key == "liquidation_threshold" and x == lt_min[i] and any(a in n for n in g.off_grid)
            assert _on_grid(x, step) or live or lower_bound, (a, key, x, step)
            if live and abs(float(getattr(u, key)[i]) - x) <= 1e-9:
                assert x == float(getattr(cur, key)[i])  # equal to its live value: exactly live
            if key == "liquidation_threshold" and lower_bound:
                assert not any(lt_min[i] - 1e-9 <= j * step <= u.liquidation_threshold[i] + 1e-9
                               for j in range(int(1 / step) + 1))
        # safe direction: never above the program's answer (a live value within 1e-9 of it counts as it)
        assert r.liquidation_threshold[i] <= u.liquidation_threshold[i] + 1e-9
        assert r.ltv[i] <= u.ltv[i] + 1e-9
        assert r.liquidation_bonus[i] <= u.liquidation_bonus[i] + 1e-9
        assert r.liquidation_threshold[i] >= lt_min[i] - 1e-9
        assert r.liquidation_threshold[i] * (1 + r.liquidation_bonus[i]) <= 1 + 1e-12
        if held[i]:
            assert r.ltv[i] == 0.0
        elif not (has[i] and r.ltv[i] == cur.ltv[i]):
            assert r.ltv[i] <= r.liquidation_threshold[i] - buffer[i] + 1e-9
    assert bps(r.liquidation_threshold[0]) == round(r.liquidation_threshold[0] * 1e4)
    # re-evaluate: bad debt in every scenario (and so the CVaR and any budget the answer met) is no higher
    n = len(r.assets)
    moves = np.exp(rng.standard_t(3.0, (2000, n)) * rng.uniform(0.05, 0.3, n))
    slip, exposure = rng.uniform(0, 0.05, n), rng.uniform(1e6, 5e8, n)
    before = _losses(u.liquidation_threshold, u.liquidation_bonus, moves, slip, exposure)
    after = _losses(r.liquidation_threshold, r.liquidation_bonus, moves, slip, exposure)
    tol = 1e-9 * exposure.sum()  # a live value taken within CURRENT_TOL of the answer
    assert np.all(after <= before + tol)
    assert cvar(after, ALPHA) <= cvar(before, ALPHA) + tol


def test_default_run_numbers_round_down_to_25_bp():
    """The default run at 2be3f0a: ETH LT 0.8176162008, LTV 0.7926162008 (buffer 2.5 %) -> 81.75 % / 79.25 %;
    CRV held at its live LT 41 %, LTV 0 and its live off-grid 8.3 % bonus stay exactly live."""
    p = RiskParams(assets=("eth", "crv"), ltv=np.array([0.7926162008, 0.0]),
                   liquidation_threshold=np.array([0.8176162008, 0.41]), liquidation_bonus=np.array([0.05, 0.083]))
    cur = RiskParams(assets=("eth", "crv"), ltv=np.array([0.805, 0.0]), liquidation_threshold=np.array([0.83, 0.41]),
                     liquidation_bonus=np.array([0.05, 0.083]))
    g = round_to_grid(p, step=0.0025, current=cur, lt_min=[0.2, 0.2], buffer=[0.025, 0.04],
                      ltv_held=[False, True])
    assert g.params.liquidation_threshold.tolist() == [0.8175, 0.41]
    assert g.params.ltv.tolist() == [0.7925, 0.0]
    assert g.params.liquidation_bonus.tolist() == [0.05, 0.083]
    assert [bps(x) for x in g.params.liquidation_threshold] == [8175, 4100]
    assert g.off_grid == ()


def test_lower_bound_between_grid_points_is_kept_and_said():
    p = RiskParams(assets=("x",), ltv=np.array([0.37]), liquidation_threshold=np.array([0.4012]),
                   liquidation_bonus=np.array([0.05]))
    g = round_to_grid(p, step=0.0025, lt_min=[0.4011], buffer=[0.03])
    assert g.params.liquidation_threshold[0] == 0.4011
    assert g.params.ltv[0] == pytest.approx(0.37)  # 0.4011 - 0.03 = 0.3711 -> 0.37 on the grid
    assert len(g.off_grid) == 1 and "lower bound" in g.off_grid[0]


@pytest.mark.parametrize("step", [0.0, -0.0025, 0.2])
def test_step_out_of_range_is_refused(step):
    p = RiskParams(assets=("x",), ltv=np.array([0.5]), liquidation_threshold=np.array([0.6]),
                   liquidation_bonus=np.array([0.05]))
    with pytest.raises(ValueError, match=r"`step` must be in \(0, 0.1\]"):
        round_to_grid(p, step=step)
