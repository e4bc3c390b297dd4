"""`riskopt recalibrate`: guardrailed schedules, driver attribution, proposal files and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from optimizer.cli import main
from optimizer.exceptions import ConfigError, DataError
from optimizer.pipeline import attribution as attr
from optimizer.pipeline.config import load_config
from optimizer.pipeline.recalibrate import recalibrate, write_recalibration
from optimizer.protocol.guardrails import PARAM_KEYS, check_plan, invariant_breaches
from optimizer.report.proposal import load_proposal, proposal_json, read_proposal, render_proposal_md

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
N_SCEN = 5_000


def quick_cfg(**scen):
    return load_config(QUICK).with_overrides("scenarios", **({"n_scenarios": N_SCEN} | scen))


def write_cfg(cfg, path: Path) -> Path:
    path.write_text(cfg.to_toml(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def aave_csv(data_dir) -> Path:
    """The Aave v3 Ethereum reference parameters, beside the datasets (../shared/reference)."""
    p = data_dir.parent / "reference" / "aave_v3_ethereum_params.csv"
    if not p.is_file():
        pytest.fail(f"reference parameters not found: {p}")
    return p


@pytest.fixture(scope="module")
def recal(data_dir, aave_csv, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = recalibrate(quick_cfg(), current_file=aave_csv, data_dir=data_dir)
    d = write_recalibration(out, tmp_path_factory.mktemp("recal") / "out", data_dir=str(data_dir))
    return out, d


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------
def test_every_step_of_every_schedule_respects_the_guardrails(recal):
    out, _ = recal
    g = out.guardrails
    assert out.changed, "the quick config should propose changes against the live Aave parameters"
    for asset, plan in out.plans.items():
        assert check_plan(plan, g) == [], asset
        prev, prev_date = plan.current, None
        for step in plan.steps:
            p = step.params()
            assert invariant_breaches(p) == [], (asset, step)
            assert 0.0 < p["liquidation_threshold"] < 1.0
            for k in PARAM_KEYS:
                if p[k] != prev[k]:  # every value that moves lands on the 0.25 % grid
                    assert abs(p[k] / 0.0025 - round(p[k] / 0.0025)) < 1e-9, (asset, step, k)
                if not plan.needs_vote:
                    assert abs(p[k] - prev[k]) <= 0.005 + 1e-12, (asset, step, k)
            d = dt.date.fromisoformat(step.date)
            if prev_date is not None:
                assert (d - prev_date).days >= 3
            prev, prev_date = p, d
        if plan.steps:
            assert plan.steps[-1].params() == plan.recommended
    assert out.breaches() == {a: [] for a in out.plans}


def test_cap_schedules_respect_the_cap_guardrails(recal):
    """The plan checker on caps: at most +/-100 % of the cap per update, 3 days apart, never 0, whole tokens,
    ending at the recommendation; proposal.json and proposal.md show current -> recommended caps."""
    out, d = recal
    g = out.cap_guardrails
    assert g.max_relative_change == 1.0 and g.min_days_between == 3
    assert set(out.cap_plans) == {"eth", "wbtc", "usdc", "crv"}
    assert any(p.changed for p in out.cap_plans.values())
    assert out.cap_breaches() == {a: [] for a in out.cap_plans}
    caps = out.run.caps
    for i, (a, plan) in enumerate(out.cap_plans.items()):
        assert plan.recommended == {"supply_cap": caps.recommended.supply_tokens[i],
                                    "borrow_cap": caps.recommended.borrow_tokens[i]}
        assert plan.current["supply_cap"] == caps.current.supply_tokens[i]
        prev = plan.current
        for s in plan.steps:  # re-checked here, independently of check_cap_plan
            for k in ("supply_cap", "borrow_cap"):
                assert s.caps()[k] >= 1 and s.caps()[k] == round(s.caps()[k])
                if not plan.needs_vote:
                    assert abs(s.caps()[k] - prev[k]) <= prev[k] + 1e-9, (a, s)
            prev = s.caps()
        if plan.steps:
            assert plan.steps[-1].caps() == plan.recommended
    doc = json.loads((d / "proposal.json").read_text())
    assert set(doc["caps"]["assets"]) == set(out.cap_plans) and doc["caps"]["current_indicative"] is True
    eth = doc["caps"]["assets"]["eth"]
    assert eth["current"]["supply_cap"] == 1_800_000 and eth["recommended"]["supply_cap"] > 0 and eth["rationale"]
    md = (d / "proposal.md").read_text(encoding="utf-8")
    assert "### Supply and borrow caps" in md and "1,800,000" in md and "never set a cap to 0" in md


def test_schedule_starts_the_day_after_as_of(recal):
    out, _ = recal
    as_of = dt.date.fromisoformat(out.run.report.meta["as_of"])
    first = min(p.steps[0].date for p in out.plans.values() if p.steps)
    assert first == (as_of + dt.timedelta(days=1)).isoformat()
    assert out.proposal["start_date"] == first


def test_live_parameters_come_from_the_reference_file(recal):
    out, _ = recal
    crv = out.plans["crv"]
    # Aave reference: CRV LTV 0 (collateral only in e-modes), LT 41 %, bonus 8.3 % (off the grid)
    assert crv.current == {"ltv": 0.0, "liquidation_threshold": 0.41, "liquidation_bonus": 0.083}
    assert crv.recommended["ltv"] == 0.0
    assert crv.recommended["liquidation_bonus"] == 0.083  # unchanged: not moved just to round it
    assert all(s.liquidation_bonus == 0.083 and s.ltv == 0.0 for s in crv.steps)
    assert out.proposal["assets"]["crv"]["current_source"] == "aave_v3_ethereum_params.csv"


def test_final_parameters_meet_the_target_and_are_never_looser(recal):
    out, _ = recal
    assert out.status == "proposal" and out.exit_code == 0
    assert out.proposal["target"]["target_met"] is True
    assert out.proposal["target"]["worst_case_cvar_usd"] <= out.proposal["target"]["budget_usd"] * (1 + 1e-9)
    rec = out.run.recommended
    bands = {r.asset: r.band for r in out.run.report.assets}
    for i, a in enumerate(out.final.assets):
        fin, lt, cur = (out.final.liquidation_threshold[i], rec.liquidation_threshold[i],
                        out.plans[a].current["liquidation_threshold"])
        if fin == cur and 1e-12 < abs(lt - cur) < bands[a]["liquidation_threshold"]:
            # a change inside its Monte Carlo band is not proposed (issue 10): the live value stays;
            # a threshold held at its live value by policy (CRV) is no change, so it gets no note
            assert any("within its Monte Carlo band" in n for n in out.plans[a].notes), a
            continue
        assert fin <= lt + 1e-12
        assert lt - fin < 0.0025 + 1e-12


def test_proposal_fund_is_the_standard_a_run_uses(recal):
    # the fund after the schedule is the largest of the simulated tail, the worst stress loss and
    # cover-2 (as `riskopt run` sizes it), never the tail term alone
    out, d = recal
    p = out.proposal
    assert p["insurance_fund_binding_term"] in ("expected_shortfall", "stress_loss", "cover2")
    assert p["insurance_fund_usd"] >= p["insurance_fund_tail_usd"] > 0
    if p["insurance_fund_binding_term"] == "expected_shortfall":
        assert p["insurance_fund_usd"] == p["insurance_fund_tail_usd"]
    else:
        assert p["insurance_fund_usd"] > p["insurance_fund_tail_usd"]
    md = (d / "proposal.md").read_text(encoding="utf-8")
    assert f"${p['insurance_fund_usd']:,.0f}" in md and p["insurance_fund_binding_source"] in md


# ---------------------------------------------------------------------------------------------
# Drivers
# ---------------------------------------------------------------------------------------------
def test_rationale_names_the_drivers_of_each_changed_asset(recal):
    out, d = recal
    md = (d / "proposal.md").read_text(encoding="utf-8")
    for a in out.changed:
        entry = out.proposal["assets"][a]
        assert entry["top_drivers"], a
        for drv in entry["top_drivers"]:
            assert drv in attr.DRIVERS
            assert entry["drivers"][drv]["label"] in entry["rationale"], (a, drv)
            assert entry["drivers"][drv]["effect_bps"] is not None
        assert set(entry["drivers"]) == set(attr.DRIVERS)
        assert f"### {a.upper()}" in md and entry["rationale"] in md


def test_attribution_sources_without_a_previous_run(recal):
    out, _ = recal
    b = out.attribution.baseline
    assert b.book_source.startswith("none")
    assert np.all(np.isnan(out.attribution.effects["book"]))
    # volatility: implied by the live LT where that has a root, else through-the-cycle
    assert set(b.sigma_source) <= {"implied by the current LT", "through-the-cycle, full history"}
    assert "implied by the current LT" in b.sigma_source
    assert all(s.startswith("through-the-cycle") for s in b.nu_source)


def test_volatility_above_its_implied_level_lowers_lt(recal):
    out, _ = recal
    a = out.attribution
    for i, asset in enumerate(a.assets):
        if asset not in a.explained or a.baseline.sigma_source[i] != "implied by the current LT":
            continue
        e = a.effects["volatility"][i]
        if a.now.sigma[i] > a.baseline.sigma[i] * 1.05:
            assert e <= 1e-6, asset
        elif a.now.sigma[i] < a.baseline.sigma[i] / 1.05:
            assert e >= -1e-6, asset


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def test_proposal_json_round_trips(recal):
    out, d = recal
    doc = out.proposal
    assert json.loads(json.dumps(doc)) == doc
    text = (d / "proposal.json").read_text(encoding="utf-8")
    assert text == proposal_json(doc)
    assert json.loads(text) == doc
    assert load_proposal(d) == out.plans
    assert load_proposal(d / "proposal.json") == out.plans
    # proposal.md is a function of proposal.json alone
    assert render_proposal_md(read_proposal(d)) == (d / "proposal.md").read_text(encoding="utf-8")
    for a, entry in read_proposal(d)["assets"].items():
        assert set(entry["current"]) == set(entry["recommended"]) == set(PARAM_KEYS)
        for s in entry["schedule"]:
            assert set(s) == {"date", *PARAM_KEYS}
    assert set(doc["guardrails"]) >= {"max_step", "min_days_between", "grid"}


def test_output_directory_holds_proposal_and_run(recal):
    _, d = recal
    names = {p.name for p in d.iterdir()}
    assert {"proposal.md", "proposal.json", "drivers.json", "params.json", "report.md", "report.html",
            "config.toml", "run.json"} <= names
    md = (d / "proposal.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Motivation", "## Specification", "## Implementation schedule",
                    "## Rationale", "## Risk metrics", "## Method", "## Reproducibility"):
        assert heading in md
    meta = json.loads((d / "params.json").read_text())["meta"]
    assert meta["config_sha256"] in md and meta["data_sha256"] in md
    drivers = json.loads((d / "drivers.json").read_text())
    assert set(drivers["assets"]) == {"eth", "wbtc", "usdc", "crv"}


# ---------------------------------------------------------------------------------------------
# Errors and exit codes
# ---------------------------------------------------------------------------------------------
def test_missing_current_file_is_exit_1_naming_it(tmp_path, capsys, data_dir):
    missing = tmp_path / "nope.csv"
    rc = main(["recalibrate", str(QUICK), "--current", str(missing), "--out", str(tmp_path / "o"),
               "--data-dir", str(data_dir)])
    assert rc == 1
    assert "nope.csv" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_previous_and_start_date_are_errors(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="previous run directory"):
        recalibrate(quick_cfg(), previous_dir=tmp_path / "none", data_dir=data_dir)
    with pytest.raises(ConfigError, match="start-date"):
        recalibrate(quick_cfg(), start_date="2025-13-01", data_dir=data_dir)
    with pytest.raises(DataError, match="not found"):
        recalibrate(quick_cfg(), current_file=tmp_path / "x.json", data_dir=data_dir)


@pytest.mark.slow
def test_cli_writes_a_proposal_and_prints_its_directory(tmp_path, capsys, data_dir, aave_csv):
    cfg_file = write_cfg(quick_cfg(), tmp_path / "quick.toml")
    out = tmp_path / "proposal"
    rc = main(["recalibrate", str(cfg_file), "--current", str(aave_csv), "--out", str(out),
               "--data-dir", str(data_dir), "--start-date", "2025-07-01"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert Path(lines[-1]) == out.absolute()
    plans = load_proposal(out)
    assert min(p.steps[0].date for p in plans.values() if p.steps) == "2025-07-01"


@pytest.mark.slow
def test_previous_run_as_baseline(recal, data_dir, aave_csv):
    """Against a previous run on the same data every driver is where it was: nothing to attribute."""
    _, d = recal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = recalibrate(quick_cfg(), current_file=aave_csv, previous_dir=d, data_dir=data_dir)
    a = again.attribution
    assert all(s.startswith("previous run") for s in a.baseline.sigma_source + a.baseline.nu_source)
    assert a.baseline.correlation_source.startswith("previous run")
    assert a.baseline.book_source.startswith("previous run")
    for drv in attr.DRIVERS:
        eff = a.effects[drv][[a.assets.index(x) for x in a.explained]]
        np.testing.assert_allclose(eff, 0.0, atol=1e-6, err_msg=drv)
    assert again.proposal["meta"]["previous_run"]["as_of"] == again.run.report.meta["as_of"]


@pytest.mark.slow
def test_unreachable_target_exits_3(tmp_path, capsys, data_dir):
    # thresholds may not go below 85 %: CRV alone breaks a $1 budget there
    cfg = quick_cfg().with_overrides("optimizer", risk_budget_usd=1.0, lt_min=0.85)
    rc = main(["recalibrate", str(write_cfg(cfg, tmp_path / "tight.toml")), "--out", str(tmp_path / "o"),
               "--data-dir", str(data_dir)])
    assert rc == 3  # risk target not met (2 is a usage error)
    doc = read_proposal(tmp_path / "o")
    assert doc["status"] == "target_not_met" and doc["target"]["target_met"] is False
    assert "NOT met" in (tmp_path / "o" / "proposal.md").read_text()
