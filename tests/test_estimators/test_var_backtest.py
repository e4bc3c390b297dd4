"""VaR / ES backtests: coverage tests, traffic light, Acerbi-Szekely Z2 and the rolling driver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from optimizer.estimators import (
    ConstantVolatility,
    EWMAVolatility,
    GARCHVolatility,
    acerbi_szekely_z2,
    backtest_var,
    best_estimator,
    christoffersen_independence,
    conditional_coverage,
    es_backtest,
    kupiec_pof,
    rolling_var_forecasts,
    t_var_es,
    traffic_light,
)


# ---------------------------------------------------------------------------------------------
# Traffic light
# ---------------------------------------------------------------------------------------------
def test_traffic_light_basel_zones_for_250_days():
    zones = [traffic_light(250, x, 0.01) for x in range(16)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 6


def test_traffic_light_scales_with_sample_size():
    # 1000 days at 1 %: expected 10; green needs binom.cdf < 0.95
    first_yellow = min(x for x in range(60) if traffic_light(1000, x) != "green")
    cdf = stats.binom.cdf([first_yellow - 1, first_yellow], 1000, 0.01)
    assert cdf[0] < 0.95 <= cdf[1]
    with pytest.raises(ValueError, match=r"`x` \(exceptions\) must be <= n, got x=11, n=10"):
        traffic_light(10, 11)


# ---------------------------------------------------------------------------------------------
# Coverage tests
# ---------------------------------------------------------------------------------------------
def test_kupiec_p_is_one_at_expected_count():
    lr, p = kupiec_pof(1000, 10, 0.01)
    assert lr == pytest.approx(0.0, abs=1e-12) and p == pytest.approx(1.0)
    assert kupiec_pof(250, 2, 0.01)[1] > kupiec_pof(250, 8, 0.01)[1]


def test_kupiec_edge_cases_are_finite_limits():
    lr0, p0 = kupiec_pof(250, 0, 0.01)
    assert lr0 == pytest.approx(-2 * 250 * np.log(0.99)) and 0 < p0 < 1
    lrn, _ = kupiec_pof(10, 10, 0.01)
    assert lrn == pytest.approx(-2 * 10 * np.log(0.01))
    assert kupiec_pof(2000, 60, 0.01)[1] < 1e-6


@pytest.mark.parametrize(
    ("n", "x", "p"), [(0, 0, 0.01), (10, -1, 0.01), (10, 1, 0.0), (10, 1, 1.0)]
)
def test_kupiec_rejects_bad_arguments(n, x, p):
    with pytest.raises(ValueError):
        kupiec_pof(n, x, p)


def test_christoffersen_detects_clustered_hits():
    n = 1000
    scattered = np.zeros(n, bool)
    scattered[np.arange(50, n, 100)] = True  # 10 isolated hits
    clustered = np.zeros(n, bool)
    clustered[[100, 101, 102, 103, 104, 500, 501, 502, 503, 504]] = True  # same count, in runs
    assert christoffersen_independence(scattered)[1] > 0.5
    assert christoffersen_independence(clustered)[1] < 1e-6
    assert kupiec_pof(n, 10, 0.01)[1] == pytest.approx(1.0)  # coverage alone cannot tell them apart
    assert conditional_coverage(clustered, 0.01)[1] < 1e-5
    assert conditional_coverage(scattered, 0.01)[1] > 0.5


def test_christoffersen_edge_cases():
    assert christoffersen_independence(np.zeros(100, bool)) == (0.0, 1.0)  # no hits
    last = np.zeros(100, bool)
    last[-1] = True  # a hit with no following day: no 1 -> . transition
    lr, p = christoffersen_independence(last)
    assert np.isfinite(lr) and np.isfinite(p)
    assert np.isfinite(conditional_coverage(np.ones(50, bool), 0.01)[0])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        christoffersen_independence([0, 2, 1])


# ---------------------------------------------------------------------------------------------
# Expected shortfall
# ---------------------------------------------------------------------------------------------
def test_z2_is_zero_in_expectation_and_negative_when_risk_is_underestimated():
    rng = np.random.default_rng(4)
    nu, alpha, n = 5.0, 0.975, 200_000
    r = rng.standard_t(nu, size=n) * np.sqrt((nu - 2) / nu) * 0.02
    q, e = t_var_es(alpha, nu)
    z_true = acerbi_szekely_z2(r, np.full(n, 0.02 * q), np.full(n, 0.02 * e), alpha)
    assert z_true == pytest.approx(0.0, abs=0.03)
    z_small = acerbi_szekely_z2(r, np.full(n, 0.014 * q), np.full(n, 0.014 * e), alpha)
    assert z_small < -0.5


def test_es_backtest_accepts_true_model_and_rejects_small_sigma():
    """Known truth: 1000 days of unit-variance t(4) returns with a time-varying sigma (seeded)."""
    rng = np.random.default_rng(9)
    n, nu = 1000, 4.0
    sigma = 0.02 * np.exp(0.5 * np.sin(np.arange(n) / 50))
    r = sigma * rng.standard_t(nu, size=n) * np.sqrt((nu - 2) / nu)
    true = es_backtest(r, sigma, nu, 0.99, n_sims=1000, rng=1)
    assert true["p_value"] > 0.05
    assert true["critical_value_5pct"] < 0
    small = es_backtest(r, 0.7 * sigma, nu, 0.99, n_sims=1000, rng=1)
    assert small["p_value"] < 0.01 and small["z2"] < small["critical_value_5pct"]
    # same seed, same answer
    assert es_backtest(r, sigma, nu, 0.99, n_sims=1000, rng=1) == true


def test_es_backtest_critical_values_come_from_the_t_not_the_normal():
    n, sigma = 1000, np.full(1000, 0.02)
    fat = es_backtest(np.zeros(n), sigma, 3.0, 0.99, n_sims=1000, rng=0)["critical_value_5pct"]
    thin = es_backtest(np.zeros(n), sigma, 50.0, 0.99, n_sims=1000, rng=0)["critical_value_5pct"]
    assert fat < thin < 0  # fatter tails -> wider null distribution of Z2


def test_es_backtest_input_checks():
    with pytest.raises(ValueError, match=r"equal length, got sizes \{'returns': 3, 'sigma': 2\}"):
        es_backtest(np.zeros(3), np.ones(2), 5.0, 0.99, rng=0)
    with pytest.raises(ValueError, match=r"`sigma` must be > 0"):
        es_backtest(np.zeros(3), np.zeros(3), 5.0, 0.99, rng=0)
    with pytest.raises(TypeError, match=r"`seed` must be"):
        es_backtest(np.zeros(3), np.ones(3), 5.0, 0.99, rng="abc")


# ---------------------------------------------------------------------------------------------
# Rolling forecasts
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def iid_t():
    """Known truth: i.i.d. unit-variance t(5) returns with 3 % daily vol, 2750 days (seeded)."""
    rng = np.random.default_rng(7)
    x = rng.standard_t(5, size=2750) * np.sqrt(3 / 5) * 0.03
    return pd.Series(x, index=pd.date_range("2016-01-01", periods=x.size), name="iid")


def test_rolling_forecasts_columns_and_no_look_ahead(iid_t):
    fc = rolling_var_forecasts(iid_t, EWMAVolatility(), window=500, refit_every=25, test_days=200)
    assert list(fc.columns) == ["return", "sigma", "var", "es", "nu", "model"]
    assert len(fc) == 200 and fc.index[0] == iid_t.index[-200]
    assert (fc["es"] > fc["var"]).all() and (fc["var"] > 0).all()
    np.testing.assert_array_equal(fc["return"], iid_t.iloc[-200:])
    # change the future from test day 100 on: forecasts up to and including day 100 must not move
    shocked = iid_t.copy()
    shocked.iloc[-100:] *= 5
    fc2 = rolling_var_forecasts(
        shocked, EWMAVolatility(), window=500, refit_every=25, test_days=200
    )
    forecast_cols = ["sigma", "var", "es", "nu", "model"]
    pd.testing.assert_frame_equal(fc[forecast_cols].iloc[:101], fc2[forecast_cols].iloc[:101])
    assert not np.allclose(fc["sigma"].iloc[101:], fc2["sigma"].iloc[101:])


def test_rolling_forecasts_refit_matches_direct_fit(iid_t):
    """With refit_every=1 each day's sigma equals a fresh fit's forecast on the window before it."""
    fc = rolling_var_forecasts(iid_t, EWMAVolatility(), window=300, refit_every=1, test_days=3)
    for k in range(3):
        t = len(iid_t) - 3 + k
        direct = EWMAVolatility().fit(iid_t.iloc[t - 300 : t].to_frame())
        assert fc["sigma"].iloc[k] == pytest.approx(direct.forecast_[0], rel=1e-12)
        assert fc["nu"].iloc[k] == pytest.approx(direct.nu_[0])


def test_exception_rate_near_one_percent_with_the_right_model(iid_t):
    fc = rolling_var_forecasts(iid_t, ConstantVolatility(), window=750, refit_every=100)
    hits = fc["return"] < -fc["var"]
    assert len(fc) == 2000
    assert 0.006 < hits.mean() < 0.014
    assert kupiec_pof(len(hits), int(hits.sum()), 0.01)[1] > 0.05
    assert christoffersen_independence(hits.to_numpy())[1] > 0.05


def test_exception_rate_garch_t_with_garch(simulate_garch_t):
    """Known truth: GARCH(1,1)-t (alpha=0.08, beta=0.90, nu=6), 2750 days; fitted GARCH-t."""
    r = simulate_garch_t(2750, seed=3)
    fc = rolling_var_forecasts(r, GARCHVolatility(), window=750, refit_every=100)
    hits = (fc["return"] < -fc["var"]).to_numpy()
    assert 0.005 < hits.mean() < 0.015
    assert traffic_light(hits.size, int(hits.sum())) == "green"
    assert christoffersen_independence(hits)[1] > 0.05
    es = es_backtest(fc["return"], fc["sigma"], fc["nu"], 0.99, n_sims=1000, rng=0)
    assert es["p_value"] > 0.05
    assert set(fc["model"]) <= {"garch", "ewma"}


def test_rolling_forecasts_argument_checks(iid_t):
    msg = r"window \+ test_days <= n_observations, got window=750, test_days=2500, n_obs.*=2750"
    with pytest.raises(ValueError, match=msg):
        rolling_var_forecasts(iid_t, EWMAVolatility(), test_days=2500)
    with pytest.raises(ValueError, match=r"at least 3001 observations, got n_observations=2750"):
        rolling_var_forecasts(iid_t, EWMAVolatility(), window=3000)
    with pytest.raises(TypeError, match=r"`estimator` must be a BaseVolatility"):
        rolling_var_forecasts(iid_t, "ewma")
    with pytest.raises(ValueError, match=r"takes one asset"):
        rolling_var_forecasts(pd.concat([iid_t, iid_t.rename("b")], axis=1), EWMAVolatility())


def test_expanding_window_uses_all_history(iid_t):
    fc = rolling_var_forecasts(
        iid_t, ConstantVolatility(), window=500, expanding=True, refit_every=1000, test_days=10
    )
    direct = ConstantVolatility().fit(iid_t.iloc[:-10].to_frame())
    assert fc["sigma"].iloc[0] == pytest.approx(direct.forecast_[0])


# ---------------------------------------------------------------------------------------------
# Panel driver and selection
# ---------------------------------------------------------------------------------------------
def test_backtest_var_and_best_estimator(real_returns):
    """btc and crv 2021-2025, last 500 days, EWMA vs constant vs GARCH-t."""
    ests = {"ewma": EWMAVolatility(), "constant": ConstantVolatility(), "garch": GARCHVolatility()}
    res = backtest_var(
        real_returns[["btc", "crv"]], ests, window=750, refit_every=50, test_days=500,
        n_sims=500, rng=123,
    )
    assert set(res) == {"btc", "crv"}
    for asset, by_est in res.items():
        assert set(by_est) == set(ests)
        for m in by_est.values():
            assert m["n"] == 500 and m["expected"] == pytest.approx(5.0)
            assert m["zone"] in {"green", "yellow", "red"}
            for key in ("kupiec_p", "christoffersen_p", "cc_p", "es_p"):
                assert 0.0 <= m[key] <= 1.0
        assert best_estimator(by_est) in ests


def test_backtest_var_handles_ragged_panels(iid_t):
    panel = pd.concat([iid_t, iid_t.rename("late").iloc[1000:]], axis=1)  # 'late' lists later
    kw = {"window": 500, "refit_every": 500, "n_sims": 50, "rng": 0}
    res = backtest_var(panel, {"c": ConstantVolatility()}, **kw)
    assert res["iid"]["c"]["n"] == 2250 and res["late"]["c"]["n"] == 1250
    again = backtest_var(panel, {"c": ConstantVolatility()}, **kw)
    assert again == res  # same seed, same ES p-values


def _m(zone, kp, cp):
    return {"n": 250, "exceptions": 0, "expected": 2.5, "zone": zone, "kupiec_p": kp,
            "christoffersen_p": cp, "cc_p": 0.5, "es_z2": 0.0, "es_p": 0.5}


def test_best_estimator_rules():
    # passing estimators: highest Kupiec p wins
    assert best_estimator({"a": _m("green", 0.3, 0.9), "b": _m("green", 0.8, 0.2)}) == "b"
    # failing Christoffersen excludes even a higher Kupiec p
    assert best_estimator({"a": _m("green", 0.3, 0.9), "b": _m("green", 0.9, 0.01)}) == "a"
    # nobody passes: best zone first, then the larger min(kupiec, christoffersen)
    assert best_estimator({"a": _m("red", 0.9, 0.9), "b": _m("yellow", 0.01, 0.02)}) == "b"
    assert best_estimator({"a": _m("yellow", 0.01, 0.5), "b": _m("yellow", 0.03, 0.04)}) == "b"
    with pytest.raises(ValueError, match="empty"):
        best_estimator({})
