"""The anti-procyclicality policy on synthetic inputs, with a solve callable standing in for the run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from optimizer.estimators import EWMAVolatility
from optimizer.exceptions import EstimationError
from optimizer.optimize.anti_procyclicality import (
    AntiProcyclicality,
    AntiProcyclicalityOutcome,
    buffer_haircut,
    long_volatility,
    stress_pool,
)
from optimizer.protocol.params import RiskParams
from optimizer.scenarios import ScenarioSet

ASSETS = ("eth", "crv", "usdc")


@dataclass(frozen=True)
class Sol:
    recommended: RiskParams
    status: str = "ok"
    guard_fails: tuple[str, ...] = ()
    zero_kept: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=bool))


def _params(lt, ltv):
    return RiskParams(assets=ASSETS, ltv=np.array(ltv), liquidation_threshold=np.array(lt),
                      liquidation_bonus=np.array([0.05, 0.08, 0.04])).check()


MODEL = _params([0.82, 0.60, 0.90], [0.78, 0.55, 0.0])


@pytest.fixture(scope="module")
def history():
    """Three assets' prices, 1500 calendar days; crv lists 500 days late; vol 2 %, 5 %, 0.1 %."""
    rng = np.random.default_rng(3)
    idx = pd.date_range("2021-01-01", periods=1500, freq="D", name="date")
    r = rng.normal(0, [0.02, 0.05, 0.001], size=(1500, 3))
    prices = pd.DataFrame(np.exp(np.cumsum(r, axis=0)), index=idx, columns=list(ASSETS))
    prices.iloc[:500, 1] = np.nan
    return prices


@pytest.fixture(scope="module")
def fitted(history):
    rets = np.log(history).diff().iloc[-400:]
    return EWMAVolatility().fit(rets / 2)  # today's forecast: calmer than the full history


@pytest.fixture(scope="module")
def scenarios():
    rel = np.exp(np.random.default_rng(4).normal(0, 0.03, size=(1000, 2, 3)).cumsum(axis=1))
    return ScenarioSet(assets=ASSETS, relatives=rel, method="parametric", as_of="2025-02-08")


class Recorder:
    """A solve callable: records its inputs and answers with given parameters."""

    def __init__(self, answer: RiskParams, status: str = "ok"):
        self.answer, self.status, self.calls = answer, status, []

    def __call__(self, terminal, sigma):
        self.calls.append((terminal, sigma))
        return Sol(self.answer, status=self.status, guard_fails=("crv",) if self.status != "ok" else ())


def _apply(policy, solve, scenarios, fitted, history, sol=None):
    return policy.apply(sol or Sol(MODEL), solve=solve, scenarios=scenarios, volatility=fitted,
                        vol_multiplier=1.5, history=history, collateral=np.array([5e6, 1e6, 2e6]),
                        rng=np.random.default_rng(0))


def test_buffer_raises_haircuts_only(scenarios, fitted):
    solve = Recorder(MODEL)
    out = _apply(AntiProcyclicality("buffer", buffer=0.25), solve, scenarios, fitted, None)
    assert solve.calls == [] and out.alternative is None
    np.testing.assert_allclose(out.applied.ltv, buffer_haircut(MODEL.ltv, 0.25))
    np.testing.assert_array_equal(out.applied.liquidation_threshold, MODEL.liquidation_threshold)
    np.testing.assert_allclose(out.haircut_increase_bps, (MODEL.ltv - out.applied.ltv) * 1e4)
    assert out.binds.tolist() == [True, True, False]  # an LTV of 0 stays 0: usdc does not bind
    assert out.binding_assets == ("eth", "crv")
    assert out.summary().startswith("anti-procyclicality buffer: binds for 2 of 3 assets (eth, crv)")


def test_floor_resolves_on_the_full_history_volatility(scenarios, fitted, history):
    alt = _params([0.80, 0.65, 0.85], [0.70, 0.60, 0.80])
    solve = Recorder(alt)
    out = _apply(AntiProcyclicality("floor"), solve, scenarios, fitted, history)
    (terminal, sigma), = solve.calls
    sig_long = long_volatility(history)
    np.testing.assert_allclose(sig_long, [0.02, 0.05, 0.001], rtol=0.1)
    np.testing.assert_allclose(sigma, sig_long * 1.5)  # the slippage model's volatility, multiplied
    sig_now = np.sqrt(np.mean(fitted.forecast_path(2) ** 2, axis=0))
    np.testing.assert_allclose(out.forecast_volatility, sig_now)
    np.testing.assert_allclose(np.log(terminal), np.log(scenarios.terminal) * sig_long / sig_now)
    np.testing.assert_array_equal(out.applied.liquidation_threshold, np.minimum(MODEL.liquidation_threshold,
                                                                               alt.liquidation_threshold))
    np.testing.assert_array_equal(out.applied.ltv, np.minimum(MODEL.ltv, alt.ltv))
    assert out.history_start == ("2021-01-01", "2022-05-16", "2021-01-01")
    assert out.alternative.recommended is alt and out.model is MODEL
    assert out.binds.tolist() == [True, False, True]  # crv: the model is the lower LT and LTV


def test_floor_keeps_a_kept_zero_ltv(scenarios, fitted, history):
    model = _params([0.82, 0.60, 0.90], [0.78, 0.0, 0.85])
    sol = Sol(model, zero_kept=np.array([False, True, False]))
    out = _apply(AntiProcyclicality("floor"), Recorder(_params([0.9, 0.7, 0.9], [0.8, 0.5, 0.85])),
                 scenarios, fitted, history, sol=sol)
    assert out.applied.ltv[1] == 0.0 and out.applied.violations() == []


def test_stress_weight_replaces_the_last_scenarios_by_stress_windows(scenarios, fitted, history):
    solve = Recorder(MODEL)
    policy = AntiProcyclicality("stress_weight", stress_weight=0.3, stress_quantile=0.1)
    out = _apply(policy, solve, scenarios, fitted, history)
    (terminal, sigma), = solve.calls
    assert sigma is None and out.n_stress_scenarios == 300
    np.testing.assert_array_equal(terminal[:700], scenarios.terminal[:700])
    pool = stress_pool(history, 2, np.array([5e6, 1e6, 2e6]), 0.1)
    assert out.stress.n_stressed == pool.n_stressed and out.stress.worst_t0 == pool.worst_t0
    rows = {tuple(r) for r in pool.terminal}
    assert all(tuple(r) in rows for r in terminal[700:])
    assert pool.n_windows == 998  # crv's first 500 days and the last horizon have no window
    assert pool.n_stressed == pytest.approx(0.1 * pool.n_windows, abs=1)
    assert not out.binds.any()  # re-solving to the same parameters binds nowhere


def test_outcome_is_read_only(scenarios, fitted):
    out = _apply(AntiProcyclicality("buffer"), Recorder(MODEL), scenarios, fitted, None)
    assert isinstance(out, AntiProcyclicalityOutcome) and out.method == "buffer"
    with pytest.raises(AttributeError):
        out.applied = MODEL  # type: ignore[misc]


def test_errors(scenarios, fitted):
    with pytest.raises(EstimationError, match=r"method = 'floor' needs the price history"):
        _apply(AntiProcyclicality("floor"), Recorder(MODEL), scenarios, fitted, None)
    with pytest.raises(ValueError, match=r"`method` must be one of \['buffer', 'floor', 'stress_weight'\]"):
        AntiProcyclicality("none")  # type: ignore[arg-type]
    assert AntiProcyclicality("floor").needs_history and not AntiProcyclicality("buffer").needs_history
