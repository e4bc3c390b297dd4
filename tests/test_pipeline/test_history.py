"""The long history in a run and what uses it: VaR backtests, ``auto``, anti-procyclicality, end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.estimators import EWMAVolatility, run_var_backtests
from optimizer.optimize.anti_procyclicality import buffer_haircut
from optimizer.pipeline.config import load_config
from optimizer.pipeline.history import asset_returns, load_history, var_backtests
from optimizer.report import params_dict

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
CHEAP_BACKTEST = {"estimators": ["ewma", "garch"], "window": 500, "test_days": 250, "refit_every": 50,
                  "es_sims": 200}


def small_cfg(**sections):
    cfg = load_config(QUICK)
    cfg = cfg.with_overrides("scenarios", n_scenarios=2000).with_overrides("book", n_accounts=300)
    # Binance only: the usdc trading gap these tests follow is filled from CoinGecko otherwise
    cfg = cfg.with_overrides("data", volumes=False, sources=["binance"])
    cfg = cfg.with_overrides("backtest", **CHEAP_BACKTEST)
    for name, values in sections.items():
        cfg = cfg.with_overrides(name, **values)
    return cfg


@pytest.fixture(scope="module")
def history(data_dir):
    cfg = small_cfg()
    return load_history(cfg, data_dir, "2025-06-12")


def test_history_is_each_assets_own_prices_to_as_of(history):
    assert history.index[-1] == pd.Timestamp("2025-06-12")
    assert (history.index[1:] - history.index[:-1] == pd.Timedelta(days=1)).all()  # calendar days
    cfg = small_cfg()
    assert history.index[0] < pd.Timestamp("2025-06-12") - pd.Timedelta(days=cfg.run.window_days)  # full history
    assert history["usdc"].loc["2022-10-01":"2023-03-01"].isna().all()  # a gap stays a gap
    assert history["eth"].loc["2022-10-01":"2023-03-01"].notna().all()  # and clips no other asset
    rets = asset_returns(history)
    assert set(rets) == set(history.columns) and all(r.notna().all() for r in rets.values())


def test_var_backtests_map_the_config(history):
    cfg = small_cfg(backtest={"var_alpha": 0.975})
    res = var_backtests(cfg, history[["eth"]], rng=np.random.default_rng(5), estimators=("ewma",))
    assert res.settings == {"window": 500, "refit_every": 50, "test_days": 250, "es_sims": 200,
                            "estimators": ["ewma"], "levels": [0.99, 0.975], "as_of": "2025-06-12"}
    direct = run_var_backtests(asset_returns(history[["eth"]]), {"ewma": EWMAVolatility(lam=cfg.estimators.ewma_lambda)},
                               var_alpha=0.975, window=500, refit_every=50, test_days=250, es_sims=200,
                               as_of="2025-06-12", rng=np.random.default_rng(5))
    assert res.results == direct.results
    again = var_backtests(cfg, history[["eth"]], rng=np.random.default_rng(5), estimators=("ewma",))
    assert again.cached  # the per-process memo
    assert not var_backtests(cfg, history[["eth"]], rng=np.random.default_rng(5), estimators=("ewma",),
                             test_days=300).cached


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
    assert "### Backtests of the volatility estimators" in md  # in the appendix
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
    # the section measures the policy alone: its output before the grid rounds it (recommended is on the grid)
    applied = out.unrounded
    model = sec["model_params"]
    for i, a in enumerate(rec.assets):
        assert rec.ltv[i] <= model[a]["ltv"] + 1e-12
        assert rec.liquidation_threshold[i] <= model[a]["liquidation_threshold"] + 1e-12
        assert sec["haircut_increase_bps"][a] == pytest.approx((model[a]["ltv"] - applied.ltv[i]) * 1e4, abs=1e-6)
        assert sec["binds"][a] == (sec["haircut_increase_bps"][a] > 0.005 or sec["lt_decrease_bps"][a] > 0.005)
        if sec["binds"][a]:
            assert out.report.assets[i].binding.startswith("anti-procyclicality")
    if method == "buffer":
        lt = np.array([model[a]["liquidation_threshold"] for a in rec.assets])
        ltv = np.array([model[a]["ltv"] for a in rec.assets])
        np.testing.assert_allclose(applied.ltv, buffer_haircut(ltv, 0.25))
        np.testing.assert_allclose(applied.liquidation_threshold, lt)
    params = json.loads(json.dumps(params_dict(out.report)))
    assert params["anti_procyclicality"]["method"] == method
    assert any(sec["binds"].values()), "on 2025-06 data every method binds for some asset"
