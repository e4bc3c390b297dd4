"""`run_var_backtests`: every estimator on every asset's own history, as a run backtests them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.data import one_day_log_returns
from optimizer.estimators import (
    MIN_TEST,
    MIN_WINDOW,
    BacktestCache,
    EWMAVolatility,
    GARCHVolatility,
    VaRBacktests,
    backtest_plan,
    kupiec_pof,
    rolling_var_forecasts,
    run_var_backtests,
    traffic_light,
)

SETTINGS = {"window": 500, "test_days": 250, "refit_every": 50, "es_sims": 200, "var_alpha": 0.975,
            "as_of": "2025-06-12"}


@pytest.fixture(scope="module")
def returns(data_dir):
    """eth and crv on their own dates to 2025-06-12, and 'tiny' with 299 returns (too short)."""
    prices = pd.read_csv(data_dir / "binance_prices_daily.csv", parse_dates=["date"], index_col="date")
    prices = prices.loc[:"2025-06-12", ["eth", "crv"]].asfreq("D")
    prices["tiny"] = np.nan
    prices.iloc[-300:, 2] = prices["eth"].iloc[-300:]
    rets = one_day_log_returns(prices)
    return {a: rets[a].dropna() for a in prices.columns}


def _estimators():
    return {"ewma": EWMAVolatility(lam=0.94), "garch": GARCHVolatility(fallback=EWMAVolatility(lam=0.94))}


@pytest.fixture(scope="module")
def vbt(returns):
    return run_var_backtests(returns, _estimators(), rng=np.random.default_rng(5), **SETTINGS)


@pytest.mark.parametrize(
    ("n", "window", "test_days", "want"),
    [(1600, 750, 500, (750, 500)), (776, 750, 500, (276, 500)), (776, 750, None, (526, MIN_TEST)),
     (1600, 750, None, (750, 850)), (1600, 750, 100, (750, MIN_TEST))],
)
def test_backtest_plan(n, window, test_days, want):
    assert backtest_plan(n, window, test_days) == want


def test_backtest_plan_too_short():
    why = backtest_plan(MIN_WINDOW + MIN_TEST - 1, 750, 500)
    assert isinstance(why, str) and str(MIN_WINDOW + MIN_TEST) in why


def test_figures_match_a_direct_count(returns, vbt):
    m = vbt.results["eth"]["ewma"]
    fc = rolling_var_forecasts(returns["eth"], EWMAVolatility(lam=0.94), alpha=0.99, window=500,
                               refit_every=50, test_days=250)
    hits = int((fc["return"] < -fc["var"]).sum())
    assert (m["n"], m["exceptions"]) == (250, hits)
    assert m["zone"] == traffic_light(250, hits, 0.01)
    assert m["kupiec_p"] == pytest.approx(kupiec_pof(250, hits, 0.01)[1])
    assert m["test_end"] == "2025-06-12" and m["window"] == 500
    assert set(m["levels"]) == {"0.99", "0.975"}
    assert m["levels"]["0.975"]["exceptions"] >= m["exceptions"]  # a lower VaR is crossed more often
    assert m["levels"]["0.99"] == {k: v for k, v in m.items() if k in m["levels"]["0.99"]}
    assert m["fallback_share"] == 0.0 and 0 <= vbt.results["eth"]["garch"]["fallback_share"] <= 1
    assert m["passes"] == (m["zone"] == "green" and min(m["kupiec_p"], m["christoffersen_p"], m["es_p"]) > 0.05)
    assert vbt.settings == {"window": 500, "refit_every": 50, "test_days": 250, "es_sims": 200,
                            "estimators": ["ewma", "garch"], "levels": [0.99, 0.975], "as_of": "2025-06-12"}


def test_choice_and_skips(vbt):
    assert set(vbt.results) == {"eth", "crv"}
    assert "tiny" in vbt.skipped and "299" in vbt.skipped["tiny"]
    for asset, per in vbt.results.items():
        chosen = [e for e, m in per.items() if m["chosen"]]
        assert chosen == [vbt.choice[asset]]
        if vbt.passing[asset]:
            assert vbt.choice[asset] in vbt.passing[asset]


def test_a_failed_fit_is_recorded_not_raised(returns):
    class Broken(EWMAVolatility):
        def fit(self, returns, y=None):
            raise ValueError("cannot fit")

    res = run_var_backtests({"eth": returns["eth"]}, {"broken": Broken(), "ewma": EWMAVolatility()},
                            rng=np.random.default_rng(0), **{**SETTINGS, "es_sims": 100})
    assert res.results["eth"]["broken"] == {"error": "cannot fit", "passes": False, "chosen": False}
    assert res.choice["eth"] == "ewma"
    assert "eth   broken: failed (cannot fit)" in res.summary()


def test_deterministic_and_cached_by_content(returns, vbt):
    again = run_var_backtests(returns, _estimators(), rng=np.random.default_rng(5), **SETTINGS)
    assert not again.cached and again.results == vbt.results  # same seed, same numbers, no cache
    cache = BacktestCache(maxsize=2)
    first = run_var_backtests(returns, _estimators(), rng=np.random.default_rng(5), cache=cache, **SETTINGS)
    hit = run_var_backtests(returns, _estimators(), rng=np.random.default_rng(5), cache=cache, **SETTINGS)
    assert not first.cached and hit.cached and hit.results == vbt.results and len(cache) == 1
    # another seed, another estimator set or other settings are other keys
    other = run_var_backtests(returns, {"ewma": EWMAVolatility(lam=0.94)}, rng=np.random.default_rng(6),
                              cache=cache, **SETTINGS)
    assert not other.cached
    assert other.results["eth"]["ewma"]["exceptions"] == vbt.results["eth"]["ewma"]["exceptions"]
    lam = run_var_backtests(returns, {"ewma": EWMAVolatility(lam=0.9)}, rng=np.random.default_rng(6),
                            cache=cache, **SETTINGS)
    assert not lam.cached and len(cache) == 2  # the oldest key was dropped
    assert not run_var_backtests(returns, _estimators(), rng=np.random.default_rng(5), cache=cache,
                                 **SETTINGS).cached
    cache.clear()
    assert len(cache) == 0


def test_result_is_read_only_and_summarised(vbt):
    assert isinstance(vbt, VaRBacktests)
    with pytest.raises(AttributeError):
        vbt.choice = {}  # type: ignore[misc]
    lines = vbt.summary().splitlines()
    assert len(lines) == 2 * 2 + 1 and lines[-1].startswith("  tiny: not backtested")
    assert str(vbt) == vbt.summary()
    assert sum("<- used" in line for line in lines) == 2
