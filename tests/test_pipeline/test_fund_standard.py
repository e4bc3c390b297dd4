"""The fund by the standard on the quick config, end to end: the largest of the simulated tail, the
worst stress-library loss and cover-2, every stress scenario within it, the binding term named."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from optimizer.pipeline.config import load_config
from optimizer.pipeline.run import run

QUICK = Path(__file__).resolve().parents[2] / "configs" / "quick.toml"


@pytest.fixture(scope="module")
def outcome(data_dir):
    cfg = (load_config(QUICK).with_overrides("scenarios", n_scenarios=5_000)
           .with_overrides("simulation", n_scenarios=2_000).with_overrides("backtest", in_report=False)
           .with_overrides("fund", reference_usd=50e6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(cfg, data_dir=data_dir)


def test_every_stress_scenario_is_within_the_fund(outcome):
    fund = outcome.report.insurance_fund_usd
    rec = outcome.stress.bad_debt_recommended
    assert rec.size > 10 and rec.max() > 0
    assert rec.max() <= fund * (1 + 1e-12)
    lib = outcome.report.sections["stress_library"].data["scenarios"]
    assert max(s["bad_debt_recommended_usd"] for s in lib) <= fund * (1 + 1e-12)


def test_fund_is_the_largest_term_and_params_name_the_binding_one(outcome):
    f = json.loads(json.dumps(outcome.report.fund))
    terms = f["terms"]
    assert set(terms) == {"expected_shortfall", "stress_loss", "cover2"}
    assert outcome.report.insurance_fund_usd == max(t["usd"] for t in terms.values())
    assert terms[f["binding_term"]]["usd"] == outcome.report.insurance_fund_usd
    # the simulated term carries its measured band; the library's terms are deterministic
    assert terms["expected_shortfall"]["stderr_usd"] is not None
    assert terms["stress_loss"]["deterministic"] and terms["cover2"]["deterministic"]
    assert terms["stress_loss"]["usd"] == pytest.approx(float(outcome.stress.bad_debt_recommended.max()))
    assert f["fund_to_reference"] == pytest.approx(outcome.report.insurance_fund_usd / 50e6)


def test_report_names_the_binding_term_with_the_other_two(outcome):
    from optimizer.report.markdown import render_markdown

    md = render_markdown(outcome.report)
    headline = md.split("## Headline", 1)[1].split("\n## ", 1)[0]
    term = {"expected_shortfall": "expected shortfall", "stress_loss": "stress-library loss", "cover2": "cover-2"}
    assert "set by the " in headline and term[outcome.report.fund["binding_term"]] in headline
    section = md.split("## Insurance fund", 1)[1].split("\n## ", 1)[0]
    assert "set by the" in section
    assert "expected shortfall" in section and "stress-library loss" in section and "cover-2" in section
    assert "deterministic given the parameters" in section and "Monte Carlo standard error" in section
    assert "reference fund of $50,000,000" in section
    assert "| Sets the fund |" in section
