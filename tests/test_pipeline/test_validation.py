"""Model validation in the run: per-asset volatility, VaR backtests, ``auto``, anti-procyclicality."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.estimators import EWMAVolatility, kupiec_pof, rolling_var_forecasts, traffic_light
from optimizer.pipeline.config import load_config
from optimizer.pipeline.validation import (
    MIN_TEST,
    MIN_WINDOW,
    PerAssetVolatility,
    asset_returns,
    backtest_plan,
    buffer_haircut,
    load_history,
    run_var_backtests,
    var_backtests_json,
)
from optimizer.report import params_dict

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
CHEAP_BACKTEST = {"estimators": ["ewma", "garch"], "window": 500, "test_days": 250, "refit_every": 50,
                  "es_sims": 200}


def small_cfg(**sections):
    cfg = load_config(QUICK)
    cfg = cfg.with_overrides("scenarios", n_scenarios=2000).with_overrides("book", n_accounts=300)
    cfg = cfg.with_overrides("data", volumes=False).with_overrides("backtest", **CHEAP_BACKTEST)
    for name, values in sections.items():
        cfg = cfg.with_overrides(name, **values)
    return cfg


@pytest.fixture(scope="module")
def history(data_dir):
    cfg = small_cfg()
    return load_history(cfg, data_dir, "2025-06-12")


# ---------------------------------------------------------------------------------------------
# PerAssetVolatility
# ---------------------------------------------------------------------------------------------
def test_per_asset_volatility_equals_separate_fits(history):
    rets = pd.DataFrame(asset_returns(history[["eth", "wbtc"]])).dropna().iloc[-600:]
    est = PerAssetVolatility({"eth": EWMAVolatility(lam=0.94), "wbtc": EWMAVolatility(lam=0.97)}).fit(rets)
    for name, lam in (("eth", 0.94), ("wbtc", 0.97)):
        alone = EWMAVolatility(lam=lam).fit(rets[[name]])
        np.testing.assert_allclose(est.volatility_[name], alone.volatility_[name], rtol=1e-12)
        np.testing.assert_allclose(est.forecast_[est.asset_names_.index(name)], alone.forecast_[0], rtol=1e-12)
        assert est.fits_[name].model == "ewma"
    assert est.forecast_path(3).shape == (3, 2)
    assert est.filter(rets.iloc[-5:].to_numpy()).shape == (6, 2)
    np.testing.assert_allclose(est.residuals_.to_numpy(), rets.to_numpy() / est.volatility_.to_numpy())


def test_per_asset_volatility_drives_the_scenario_generator(history):
    from optimizer.scenarios import ScenarioGenerator

    rets = pd.DataFrame(asset_returns(history[["eth", "crv"]])).dropna().iloc[-500:]
    vol = PerAssetVolatility({"crv": EWMAVolatility(lam=0.97)}, default=EWMAVolatility(lam=0.94))
    gen = ScenarioGenerator(volatility=vol).fit(rets)
    scen = gen.simulate(2, 500, rng=np.random.default_rng(0))
    assert scen.relatives.shape == (500, 2, 2) and np.all(scen.relatives > 0)


def test_per_asset_volatility_rejects_bad_models():
    with pytest.raises(TypeError, match="asset 'x'"):
        PerAssetVolatility({"x": "ewma"}).fit(pd.DataFrame({"x": np.random.default_rng(0).normal(0, 0.01, 300)},
                                                          index=pd.date_range("2024-01-01", periods=300)))


# ---------------------------------------------------------------------------------------------
# backtests
# ---------------------------------------------------------------------------------------------
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


@pytest.fixture(scope="module")
def vbt(history):
    cfg = small_cfg(backtest={"var_alpha": 0.975})
    short = history[["eth", "crv"]].copy()
    short["tiny"] = np.nan
    short.iloc[-300:, 2] = short["eth"].iloc[-300:]  # 299 returns: too short to backtest
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cfg, short, run_var_backtests(cfg, short, rng=np.random.default_rng(5))


def test_backtest_figures_match_a_direct_count(vbt):
    cfg, hist, res = vbt
    m = res.results["eth"]["ewma"]
    fc = rolling_var_forecasts(asset_returns(hist)["eth"], EWMAVolatility(lam=cfg.estimators.ewma_lambda),
                               alpha=0.99, window=500, refit_every=50, test_days=250)
    hits = int((fc["return"] < -fc["var"]).sum())
    assert (m["n"], m["exceptions"]) == (250, hits)
    assert m["zone"] == traffic_light(250, hits, 0.01)
    assert m["kupiec_p"] == pytest.approx(kupiec_pof(250, hits, 0.01)[1])
    assert m["test_end"] == "2025-06-12" and m["window"] == 500
    assert set(m["levels"]) == {"0.99", "0.975"}
    assert m["levels"]["0.975"]["exceptions"] >= m["exceptions"]  # a lower VaR is crossed more often
    assert 0 <= m["fallback_share"] <= 1
    assert m["passes"] == (m["zone"] == "green" and min(m["kupiec_p"], m["christoffersen_p"], m["es_p"]) > 0.05)


def test_backtest_choice_and_skips(vbt):
    _, _, res = vbt
    assert "tiny" in res.skipped and "299" in res.skipped["tiny"]
    for asset, per in res.results.items():
        chosen = [e for e, m in per.items() if m["chosen"]]
        assert chosen == [res.choice[asset]]
        if res.passing[asset]:
            assert res.choice[asset] in res.passing[asset]


def test_var_backtests_json_schema(vbt):
    _, _, res = vbt
    data = var_backtests_json(res)
    assert data["tiny"] == {"skipped": res.skipped["tiny"]}
    for key in ("n", "exceptions", "zone", "kupiec_p", "christoffersen_p", "cc_p", "es_p"):
        assert key in data["eth"]["garch"]
    assert data["eth"]["garch"]["zone"] in ("green", "yellow", "red")


def test_backtests_are_deterministic_and_cached(vbt):
    cfg, hist, res = vbt
    again = run_var_backtests(cfg, hist, rng=np.random.default_rng(5))
    assert again.cached and again.results == res.results
    other = run_var_backtests(cfg, hist, rng=np.random.default_rng(6), estimators=("ewma",))
    assert not other.cached
    assert other.results["eth"]["ewma"]["exceptions"] == res.results["eth"]["ewma"]["exceptions"]


# ---------------------------------------------------------------------------------------------
# in the run
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def auto_run(data_dir):
    from optimizer.pipeline.run import run

    cfg = small_cfg(estimators={"volatility": "auto"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(cfg, data_dir=data_dir)


def test_every_report_has_the_backtest_section(auto_run):
    rep = auto_run.report
    sec = rep.sections["backtests"]
    assert sec.title.startswith("Backtests")
    assets = {row[0] for row in sec.tables[0].rows}
    assert assets == set(rep.asset_names)
    params = params_dict(rep)
    assert set(params["var_backtests"]) == set(rep.asset_names)
    from optimizer.report import render_markdown

    md = render_markdown(rep)
    assert "## Backtests of the volatility estimators" in md
    assert "## Var backtests" not in md  # the JSON block is presented by the section above


def test_auto_uses_each_assets_chosen_estimator(auto_run):
    vbt = auto_run.inputs.validation.backtests
    assert vbt.choice
    for a in auto_run.report.assets:
        chosen = vbt.choice[a.asset]
        used = a.drivers["estimator"]
        # a chosen GARCH/GJR that is rejected on the run's window falls back to EWMA, and says so
        assert used == chosen or (used == "ewma" and a.drivers["fallback_reason"]), (a.asset, chosen, used)
    bullets = " ".join(auto_run.report.sections["backtests"].bullets)
    assert "used:" in bullets


@pytest.mark.parametrize("method", ["floor", "stress_weight", "buffer"])
def test_anti_procyclicality_methods(method, data_dir, auto_run):
    from optimizer.pipeline.run import run

    cfg = small_cfg(anti_procyclicality={"method": method})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run(cfg, data_dir=data_dir)
    sec = out.report.sections["anti_procyclicality"].data
    assert sec["method"] == method
    rec = out.recommended
    assert rec.violations() == []
    model = sec["model_params"]
    for i, a in enumerate(rec.assets):
        assert rec.ltv[i] <= model[a]["ltv"] + 1e-12
        assert rec.liquidation_threshold[i] <= model[a]["liquidation_threshold"] + 1e-12
        assert sec["haircut_increase_bps"][a] == pytest.approx((model[a]["ltv"] - rec.ltv[i]) * 1e4, abs=1e-6)
        assert sec["binds"][a] == (sec["haircut_increase_bps"][a] > 0.005 or sec["lt_decrease_bps"][a] > 0.005)
        if sec["binds"][a]:
            assert out.report.assets[i].binding.startswith("anti-procyclicality")
    if method == "buffer":
        lt = np.array([model[a]["liquidation_threshold"] for a in rec.assets])
        ltv = np.array([model[a]["ltv"] for a in rec.assets])
        np.testing.assert_allclose(rec.ltv, buffer_haircut(ltv, 0.25))
        np.testing.assert_allclose(rec.liquidation_threshold, lt)
    params = json.loads(json.dumps(params_dict(out.report)))
    assert params["anti_procyclicality"]["method"] == method
    assert any(sec["binds"].values()), "on 2025-06 data every method binds for some asset"
