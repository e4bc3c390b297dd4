"""Report sections of the in-run validation, formatted from hand-built typed results (no run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimizer.estimators import VaRBacktests
from optimizer.optimize.anti_procyclicality import AntiProcyclicality, AntiProcyclicalityOutcome, StressPool
from optimizer.protocol.params import RiskParams
from optimizer.report import params_dict, render_markdown
from optimizer.report.validation import (
    anti_procyclicality_section,
    attach_validation_sections,
    backtest_section,
    var_backtests_json,
)
from tests.test_report.conftest import build_report


def _metrics(exceptions, passes, chosen, **kw):
    m = {"alpha": 0.99, "n": 250, "exceptions": exceptions, "expected": 2.5, "zone": "green",
         "kupiec_p": 0.51234, "christoffersen_p": 0.7, "cc_p": 0.6, "es_z2": -0.1234, "es_p": 0.4,
         "es_critical_5pct": -0.7, "passes": passes, "window": 500, "test_start": "2024-10-06",
         "test_end": "2025-06-12", "fallback_share": 0.0, "chosen": chosen}
    m.update(kw)
    m["levels"] = {"0.99": {k: m[k] for k in ("alpha", "n", "exceptions", "expected", "zone", "kupiec_p",
                                              "christoffersen_p", "cc_p", "es_z2", "es_p")},
                   "0.975": {"n": 250, "exceptions": exceptions + 3, "expected": 6.25, "zone": "green",
                             "kupiec_p": 0.3, "christoffersen_p": 0.8, "es_p": 0.5}}
    return m


@pytest.fixture
def vbt():
    return VaRBacktests(
        results={"eth": {"ewma": _metrics(3, True, False), "garch": _metrics(2, True, True)},
                 "wbtc": {"ewma": _metrics(9, False, True, zone="yellow"),
                          "garch": {"error": "no convergence", "passes": False, "chosen": False}}},
        choice={"eth": "garch", "wbtc": "ewma"},
        passing={"eth": ("ewma", "garch"), "wbtc": ()},
        skipped={"usdc": "only 299 daily returns up to as_of"},
        levels=(0.99, 0.975),
        settings={"window": 500, "refit_every": 50, "test_days": 250, "es_sims": 200,
                  "estimators": ["ewma", "garch"], "levels": [0.99, 0.975], "as_of": "2025-06-12"},
        seconds=1.25,
    )


def test_var_backtests_json(vbt):
    data = var_backtests_json(vbt)
    assert data["usdc"] == {"skipped": "only 299 daily returns up to as_of"}
    assert data["eth"]["garch"]["exceptions"] == 2 and data["wbtc"]["garch"]["error"] == "no convergence"
    data["eth"]["garch"]["exceptions"] = 99
    assert vbt.results["eth"]["garch"]["exceptions"] == 2  # a copy


def test_backtest_section_with_auto(vbt):
    sec = backtest_section(vbt, volatility="auto")
    assert sec.title == "Backtests of the volatility estimators"
    assert "97.5%" in sec.paragraphs[0] and "the last 250 days up to 2025-06-12" in sec.paragraphs[0]
    main, level = sec.tables
    rows = main.rows
    assert main.id == "tbl-backtests" and len(rows) == 4 and len(main.columns) == len(rows[0])
    assert rows[1] == ("eth", "garch", 500, 250, 2, 2.5, "green", 0.512, 0.7, 0.6, -0.123, 0.4, 0.0, "yes", "yes")
    assert main.cells[1][-3:] == ["0.00%", "yes", "yes"] and main.cells[3][2:7] == ["—"] * 4 + ["failed"]
    assert rows[3][:7] == ("wbtc", "garch", None, None, None, None, "failed")
    assert main.numeric[:3] == [False, False, True]  # a failed fit's missing numbers keep the column numeric
    assert level.id == "tbl-backtests-2" and level.caption == "The same forecasts at the configured 97.5%."
    assert [r[:4] for r in level.rows] == [("eth", "ewma", 250, 6), ("eth", "garch", 250, 5),
                                           ("wbtc", "ewma", 250, 12)]
    assert sec.data_key == "var_backtests" and sec.data == var_backtests_json(vbt)
    assert list(sec.bullets) == [
        "eth: passes with ewma, garch; used: garch",
        "wbtc: no estimator passes; used: ewma (least bad); failed to fit: garch",
        "usdc: not backtested: only 299 daily returns up to as_of; garch used",
        "Backtest cost: 1.2 s.",
    ]


def test_backtest_section_without_auto(vbt):
    sec = backtest_section(VaRBacktests(**{**vbt.__dict__, "cached": True}), volatility="garch")
    assert all(r[-1] == "" for r in sec.tables[0].rows)  # nothing is "used" per asset
    assert sec.bullets[0] == "eth: passes with ewma, garch; best: garch"
    assert sec.bullets[-2].startswith("The scenarios use [estimators] volatility = 'garch' for every asset")
    assert sec.bullets[-1] == "Backtest cost: 1.2 s (computed earlier; read from the cache)."


def _outcome(method, **kw):
    assets = ("eth", "wbtc", "usdc")
    model = RiskParams(assets=assets, ltv=np.array([0.78, 0.70, 0.0]), liquidation_threshold=np.array([0.82, 0.75, 0.9]),
                       liquidation_bonus=np.array([0.05, 0.06, 0.04]))
    applied = model.replace(ltv=np.array([0.7250, 0.70, 0.0]), liquidation_threshold=np.array([0.80, 0.75, 0.9]))
    return AntiProcyclicalityOutcome(policy=AntiProcyclicality(method), model=model, applied=applied,
                                     alternative=kw.pop("alternative", None), n_scenarios=10_000, horizon=2, **kw)


def test_anti_procyclicality_section_floor():
    out = _outcome("floor", long_volatility=np.array([0.03, 0.025, 0.001]),
                   forecast_volatility=np.array([0.02, 0.025, 0.0005]),
                   history_start=("2017-08-17", "2019-01-01", None))
    section = anti_procyclicality_section(out)
    assert section.paragraphs[0].startswith("Floor: the scenarios are rescaled")
    assert section.paragraphs[1] == ("Applied: floor. It binds for 1 of 3 assets (eth); largest haircut "
                                     "increase 550 bps.")
    assert section.bullets[0] == "eth: full-history daily volatility 3.00% vs forecast 2.00% (since 2017-08-17)"
    assert section.bullets[2].endswith("(since None)")
    assert section.tables[0].rows[0] == ("eth", 0.78, 0.725, 550.0, 0.82, 0.8, 200.0, "yes")
    assert section.tables[0].cells[0] == ["eth", "78.00%", "72.50%", "550", "82.00%", "80.00%", "200", "yes"]
    sec = section.data
    assert sec["table"]["rows"][0] == ["eth", 0.78, 0.725, 550.0, 0.82, 0.8, 200.0, "yes"]
    assert sec["text"] == list(section.paragraphs) and sec["title"] == section.title
    assert sec["binds"] == {"eth": True, "wbtc": False, "usdc": False}
    assert sec["haircut_increase_bps"]["eth"] == pytest.approx(550.0)
    assert sec["lt_decrease_bps"]["eth"] == pytest.approx(200.0)
    assert sec["model_params"]["eth"]["ltv"] == 0.78
    assert sec["history_start"] == {"eth": "2017-08-17", "wbtc": "2019-01-01", "usdc": None}
    assert sec["long_vol_daily"]["eth"] == 0.03 and sec["forecast_vol_daily"]["usdc"] == 0.0005
    json.dumps(sec)  # plain JSON types


def test_anti_procyclicality_section_stress_weight_with_a_failed_alternative():
    class Alt:
        status, guard_fails = "infeasible", ("wbtc",)

    pool = StressPool(terminal=np.ones((40, 3)), n_windows=400, first_t0="2021-01-01", last_t0="2025-06-10",
                      cut_basket_move=-0.1234, worst_t0=("2022-05-09", "2022-06-12"))
    sec = anti_procyclicality_section(_outcome("stress_weight", stress=pool, n_stress_scenarios=2500,
                                               alternative=Alt())).data
    assert sec["text"][0].startswith("Stress weight: 25% of the 10,000 scenarios are replaced by historical "
                                     "2-day windows")
    assert "40 of 400 windows" in sec["text"][0]
    assert sec["bullets"] == [
        "Stressed windows: basket move of -12.34% or worse over 2 days; the worst start on 2022-05-09, 2022-06-12.",
        "The alternative calibration alone does not meet the risk target (wbtc); its most conservative "
        "allowed thresholds are used as the floor.",
    ]
    assert sec["stress_pool"] == {"n_windows": 400, "n_stressed": 40, "first_t0": "2021-01-01",
                                  "last_t0": "2025-06-10", "cut_basket_move": -0.1234,
                                  "worst_t0": ["2022-05-09", "2022-06-12"]}
    assert sec["n_stress_scenarios"] == 2500


def test_anti_procyclicality_section_buffer():
    sec = anti_procyclicality_section(_outcome("buffer")).data
    assert sec["text"][0] == ("Buffer: each haircut (1 - LTV) is held 25% above the model's value, capped at "
                              "100 % (LTV >= 0); liquidation thresholds are unchanged.")
    assert sec["bullets"] == [] and "stress_pool" not in sec and "long_vol_daily" not in sec


def test_attach_validation_sections(vbt):
    report = build_report()
    out = attach_validation_sections(report, vbt, _outcome("buffer"), volatility="auto")
    assert {"backtests", "anti_procyclicality"} <= set(out.sections) and "var_backtests" not in out.sections
    params = params_dict(out)
    assert params["var_backtests"]["usdc"] == {"skipped": "only 299 daily returns up to as_of"}
    assert params["anti_procyclicality"]["method"] == "buffer"
    md = render_markdown(out)
    assert "## Backtests of the volatility estimators" in md and "## Anti-procyclicality" in md
    assert "## Var backtests" not in md  # the JSON block is presented by the section above
    same = attach_validation_sections(report, None, None, volatility="garch")
    assert same.sections == report.sections
