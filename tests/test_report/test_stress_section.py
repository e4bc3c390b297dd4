"""The "Stress library" section in report.md, report.html and params.json (synthetic library: the test
must know every scenario, so the prices are a random walk with a planted crash and a planted gap)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.report.html import render_html
from optimizer.report.json_out import params_json
from optimizer.report.markdown import render_markdown
from optimizer.report.stress import stress_section
from optimizer.scenarios import build_stress_library

from .conftest import build_report


@pytest.fixture(scope="module")
def library():
    rng = np.random.default_rng(3)
    days = pd.date_range("2021-01-01", periods=900, freq="D")
    r = rng.normal(0, 0.03, (len(days), 2))
    r[500] = np.log(0.7)  # both fall 30 % on 2022-05-16
    p = pd.DataFrame(np.exp(np.cumsum(r, axis=0)), index=days, columns=["eth", "wbtc"])
    p["usdc"] = 1.0 + rng.normal(0, 1e-4, len(days))
    p.loc["2022-05-10":"2022-05-20", "wbtc"] = np.nan  # wbtc has no price in the crash: beta rule
    return build_stress_library(p, 2, collateral={"eth": 2.0, "wbtc": 1.0, "usdc": 1.0}, classes={"usdc": "usd"},
                                shocks={"eth_crash": {"eth": -0.35, "usdc": -0.13}})


@pytest.fixture(scope="module")
def report(library):
    n = library.n_scenarios
    rec, cur = np.linspace(0, 1e6, n), np.linspace(0, 2e6, n)
    return build_report(sections={"stress_library": stress_section(library, rec, cur)})


def test_every_scenario_is_a_row_with_its_window_trigger_and_bad_debt(library, report):
    md = render_markdown(report)
    assert "## Stress library" in md
    body = md.split("## Stress library", 1)[1]
    for s in library.scenarios:
        assert f"| {s.name} |" in body
    crash = next(s for s in library.scenarios if s.start and s.start <= "2022-05-16" <= s.end)
    row = next(line for line in body.splitlines() if line.startswith(f"| {crash.name} |"))
    assert crash.t0 in row and "≤" in row and "$" in row
    # the moves table marks the filled asset with its rule
    moves = next(line for line in body.splitlines()[::-1] if line.startswith(f"| {crash.name} |"))
    assert "β" in moves
    assert "eth_crash" in body and "-35.0s" in body and "-13.0s" in body
    assert "beta" in body and "to eth" in body


def test_the_html_and_params_json_carry_the_section(library, report):
    html = render_html(report)
    assert 'id="tbl-stress-library"' in html and 'id="tbl-stress-moves"' in html
    data = json.loads(params_json(report))["stress_library"]
    assert [s["name"] for s in data["scenarios"]] == list(library.names)
    crash = next(s for s in data["scenarios"] if s["start"] and s["start"] <= "2022-05-16" <= s["end"])
    assert crash["moves"]["wbtc"]["rule"] == "beta" and "beta" in crash["moves"]["wbtc"]["detail"]
    assert crash["moves"]["eth"]["rule"] == "priced" and crash["moves"]["eth"]["move"] < -0.25
    assert data["rule"]["asset_quantile"] == 0.005 and data["thresholds"]
    assert data["scenarios"][-1]["kind"] == "config shock"


def test_the_constraint_view_adds_the_fund_check_the_carriers_and_the_lp_rows(library):
    from optimizer.report.stress import StressConstraintView, contributors

    n = library.n_scenarios
    rec = np.linspace(0, 1e6, n)
    by_asset = np.zeros((n, 3))
    by_asset[:, 0], by_asset[:, 1] = 0.75 * rec, 0.25 * rec  # eth carries 3/4, wbtc 1/4
    lp = np.linspace(0, 4e6, n)
    binds = lp >= 4e6 * (1 - 1e-6)
    view = StressConstraintView(by_asset=by_asset, fund_usd=1e6, lp_losses=lp, lp_binds=binds,
                                budget_usd=4e6, budget_rule="a stated rule")
    sec = stress_section(library, rec, None, view)
    text = " ".join(sec.paragraphs)
    assert "within the recommended insurance fund of $1,000,000" in text
    assert "stress budget of $4,000,000 (a stated rule)" in text and "1 row(s) bind" in text
    table = sec.tables[0]
    assert [c.label for c in table.columns][-2:] == ["Carried by (rec.)", "LP row"]
    last = table.rows[-1]
    assert last[-2] == "eth 75%, wbtc 25%" and last[-1] == "$4,000,000 binds"
    assert table.rows[0][-2] == "-"  # no bad debt, no carrier
    data = sec.data
    assert data["constraint"] == {"enabled": True, "budget_usd": 4e6, "budget_rule": "a stated rule",
                                  "fund_usd": 1e6, "n_binding": 1}
    assert data["scenarios"][-1]["carried_by"] == [{"asset": "eth", "share": 0.75}, {"asset": "wbtc", "share": 0.25}]
    assert data["scenarios"][-1]["lp_row_binds"] and not data["scenarios"][0]["lp_row_binds"]
    assert contributors(np.array([0.0, 0.0, 0.0]), ("a", "b", "c")) == []
    # above the fund: said, not hidden
    over = stress_section(library, rec, None, StressConstraintView(by_asset=by_asset, fund_usd=5e5))
    assert "above the recommended insurance fund" in " ".join(over.paragraphs)
    assert "not a constraint of the LP" in " ".join(over.paragraphs)
