from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pytest

from optimizer.report import render_markdown

from .conftest import build_report

GOLD = Path(__file__).parent / "gold" / "report.md"
#: Lines that change with the library versions in the environment, not with the report code.
SCRUBS = [(re.compile(r"^versions:.*$", re.M), "versions: <scrubbed>")]


@pytest.fixture(scope="module")
def md(report):
    return render_markdown(report)


def _section(md: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, re.M | re.S)
    assert m, f"section {title!r} missing"
    return m.group(1)


def _appendix(md: str, title: str) -> str:
    """The body of the appendix's subsection ``title`` (### heading)."""
    m = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##|\Z)", md, re.M | re.S)
    assert m, f"appendix section {title!r} missing"
    return m.group(1)


def test_sections_in_order(md):
    titles = re.findall(r"^## (.+)$", md, re.M)
    assert titles == [
        "Headline", "Recommendations", "Rationale", "Risk metrics", "Insurance fund", "Efficiency frontier",
        "Backtests", "Appendix",
    ]
    assert re.findall(r"^### (.+)$", _section(md, "Appendix"), re.M) == [
        "LP internals", "Other measures", "Insurance fund: sizing detail", "What drove each asset", "References",
        "Backtests", "Data quality", "Method and assumptions", "Reproducibility",
    ]
    assert md.startswith("# Aave v3 Ethereum")


def test_opens_with_the_headline_then_the_recommendations(md):
    """The first screen (40 lines) holds the five facts and the whole recommendations table."""
    first = "\n".join(md.splitlines()[:40])
    facts = re.findall(r"^- \*\*(.+?):\*\*", _section(md, "Headline"), re.M)
    assert facts == ["Status", "Insurance fund", "Capital efficiency", "Bad debt (99% CVaR, static model)",
                     "Parameters"]
    assert first.index("## Headline") < first.index("## Recommendations")
    for a in ("ETH", "WBTC", "USDC"):
        assert re.search(rf"^\| {a} \|", first, re.M), a


def test_headline_facts(md):
    body = _section(md, "Headline")
    assert "- **Status:** OK: the risk target is met" in body
    assert "$2,500,000, set by the worst stress-library loss of the book (2020-03-13 intraday)" in body
    assert "- **Capital efficiency:** $4.75B → $4.7B (-$50M, -1.1%)" in body
    assert "- **Bad debt (99% CVaR, static model):** $2.56M → $1.16M" in body
    assert "5 of 9 change (LTV, LT and bonus of 3 assets); largest WBTC LTV 73.00% → 70.00% (-300 bps)" in body


def test_every_asset_in_recommendations_drivers_references(md):
    for body in (_section(md, "Recommendations"), _appendix(md, "What drove each asset"),
                 _appendix(md, "References")):
        for a in ("ETH", "WBTC", "USDC"):
            assert re.search(rf"^\| {a} \|", body, re.M), a


def test_recommendations_table_is_narrow(md):
    rec = _section(md, "Recommendations")
    assert "| Asset | LTV | Liq. threshold | Liq. bonus | Set by |" in rec
    assert max(len(ln) for ln in rec.splitlines() if ln.startswith("|")) <= 130


def test_bps_changes_with_sign(md):
    rec = _section(md, "Recommendations")
    eth = next(ln for ln in rec.splitlines() if ln.startswith("| ETH"))
    wbtc = next(ln for ln in rec.splitlines() if ln.startswith("| WBTC"))
    usdc = next(ln for ln in rec.splitlines() if ln.startswith("| USDC"))
    assert "80.50% → 81.00% (+50 bps)" in eth
    assert "83.00% → 83.50% (+50 bps)" in eth
    assert "73.00% → 70.00% (-300 bps)" in wbtc
    assert "78.00% → 75.50% (-250 bps)" in wbtc
    assert "5.00% → 5.75% (+75 bps)" in wbtc
    assert "bps" not in usdc and "no change" in usdc
    assert "risk budget" in eth and "upper bound" in usdc


def test_rationale_per_asset_from_the_data(md):
    """One bullet per asset: what moved it, what binds it, how the references compare."""
    items = re.findall(r"^- (.+)$", _section(md, "Rationale"), re.M)
    assert [i.split(" ")[0].rstrip(":") for i in items] == ["ETH", "WBTC", "USDC"]
    eth, wbtc, usdc = items
    assert eth.startswith("ETH: LT 83.00% → 83.50% (+50 bps) and LTV 80.50% → 81.00% (+50 bps), given a "
                          "10-day tail move of -26.0%")
    assert "The aggregate risk budget binds" in eth and "61.0% of the tail bad debt" in eth
    assert "the analytic LT is 84.20% (the recommendation 70 bp below)" in eth
    assert "bonus 5.00% → 5.75% (+75 bps)" in wbtc and "SmartLTV is 72.20% (the recommended LTV 220 bp below)" in wbtc
    assert usdc.startswith("USDC keeps its current parameters") and "highest threshold the configuration allows" in usdc
    assert all(2 <= i.count(". ") + 1 <= 3 for i in items)


def test_risk_metrics_one_model_named_and_defined(md):
    body = _section(md, "Risk metrics")
    assert "Under the model of record, the static evaluation of the book (5,000 scenarios" in body
    assert "| Quantity | Current parameters | Recommended | Change |" in body
    rows = [ln for ln in body.splitlines() if ln.startswith("| ") and not ln.startswith(("| Quantity", "| ---"))]
    names = [r.split(" | ")[0][2:] for r in rows]
    assert names == ["Capital efficiency", "Expected bad debt", "Bad-debt VaR 99%", "Bad-debt CVaR 99%",
                     "P(bad debt > 0)", "P(bad debt > insurance fund)", "Accounts liquidated (mean)"]
    defined = re.findall(r"^- \*\*(.+?)\*\*: ", body, re.M)
    assert defined == names
    assert "| Capital efficiency | $4,750,000,000 | $4,700,000,000 | -$50,000,000 |" in body
    # the Monte Carlo band beside each sampled quantity that has one (none where the replications agree)
    assert "| Bad-debt CVaR 99% | $2,557,135 ± $260k | $1,157,571 ± $180k | -$1,399,565 |" in body
    assert "| P(bad debt > insurance fund) | 0.340% ± 0.08 pp | 0.060% |" in body
    assert "Monte Carlo 95 % half-width, measured by batch means" in body
    assert not any("—" in r or "n/a" in r for r in rows)
    # no internal key names, and none of the diagnostics
    assert not re.search(r"_usd|\bLp\b|Static|Sim |Tail contribution|Alpha", body)


def test_no_missing_value_mark_n_a(md):
    assert "n/a" not in md


def test_diagnostics_in_the_appendix(md):
    lp = _appendix(md, "LP internals")
    assert "| CVaR of the worst-case book's bad debt (every borrower at the threshold) | $5,000,000 |" in lp
    assert "| Smallest budget the program can meet (at the lowest allowed thresholds) | $1,200,000 |" in lp
    assert "| ETH | 61.0% |" in lp
    assert "| Liquidated collateral (USD) | $340,000,000 | $310,000,000 |" in _appendix(md, "Other measures")
    # a section with a brief: its summary in the main part, its detail in the appendix
    assert "Kupiec p-value 0.41" in _section(md, "Backtests")
    assert "| Kupiec pvalue | 0.41 |" in _appendix(md, "Backtests")
    assert "Kupiec pvalue" not in _section(md, "Backtests")


def test_fund_drivers_references(md):
    fund = _section(md, "Insurance fund")
    assert "set by the worst stress-library loss of the book $2,500,000" in fund
    assert "| Fund size | P(bad debt > fund) |" in fund
    detail = _appendix(md, "Insurance fund: sizing detail")
    assert "| Cover-2 | $2,200,000 |" in detail
    assert "| Monte Carlo standard error of the quantile fund | $41,000 |" in detail
    drivers = _appendix(md, "What drove each asset")
    assert "| WBTC | $640M | 52.0% | 2.41% | 5.1 | 0.02 | $120M | 1.23% |" in drivers
    assert "ewma (fallback: GARCH did not converge (persistence 0.9995 \\| boundary))" in drivers
    refs = _appendix(md, "References")
    assert "| ETH | 83.50% | 84.20% | 81.00% | 79.50% |" in refs


def test_reproducibility_block(md):
    body = _appendix(md, "Reproducibility")
    assert "c0ffee" + "0" * 58 in body
    assert "da7a" + "1" * 60 in body
    assert "seed             20240601" in body
    assert "binance_prices_daily.csv  sha256 " + "ab" * 32 in body
    assert f"numpy {np.__version__}" in body
    assert "riskopt run configs/synthetic.toml" in body
    assert "2025-02-23" in body
    assert '```toml\n[run]\nname = "synthetic-fixture"' in body


def test_data_quality_and_method(md):
    dq = _appendix(md, "Data quality")
    assert "| gap | WBTC | 2024-03-02 to 2024-03-04 | 3 missing days, forward-filled |" in dq
    assert "| depeg | USDC | 2024-05-10 |" in dq
    method = _appendix(md, "Method and assumptions")
    assert "| Confidence level α | 99.00% |" in method
    assert "- Debt is in stablecoins that hold their peg." in method


def test_optional_sections_generic(md):
    frontier = _section(md, "Efficiency frontier")
    assert "| $5,000,000 | $4,700,000,000 |" in frontier
    assert "*Figure: Frontier (in report.html).*" in frontier
    assert "| Kupiec pvalue | 0.41 |" in _appendix(md, "Backtests")


def test_plain_text_hygiene(md):
    assert md.endswith("\n") and not md.endswith("\n\n")
    assert "\n\n\n" not in md
    assert not any(ln != ln.rstrip() for ln in md.splitlines())
    assert not re.search(r"\b(None|nan|NaN|inf)\b", md)


def test_no_findings_and_no_current():
    base = build_report()
    r = dataclasses.replace(
        base,
        assets=[dataclasses.replace(a, current=None) for a in base.assets],
        metrics_current=None, bad_debt_current=None, data_findings=[], sections={},
    )
    md = render_markdown(r)
    assert "None: no gaps, stale prices" in _appendix(md, "Data quality")
    rec = _section(md, "Recommendations")
    assert "bps" not in rec and "| ETH | 81.00% | 83.50% | 5.00% | aggregate risk budget |" in rec
    assert "| Quantity | Recommended |" in _section(md, "Risk metrics")
    assert "no current parameters given" in _section(md, "Headline")
    assert "ETH has no current parameters: recommended LT 83.50%" in _section(md, "Rationale")


def test_one_asset_partly_missing_current():
    base = build_report()
    eth = dataclasses.replace(base.assets[0], current=None)
    r = dataclasses.replace(base, assets=[eth, base.assets[1]])
    rec = _section(render_markdown(r), "Recommendations")
    assert "| ETH | 81.00% |" in rec and "(-300 bps)" in rec
    assert "new (no current parameters): ETH" in _section(render_markdown(r), "Headline")


def test_all_zero_bad_debt_markdown():
    r = build_report(bad_debt=np.zeros(5000), bad_debt_current=np.zeros(5000))
    body = _section(render_markdown(r), "Risk metrics")
    assert "No bad debt in any scenario" in body


def test_golden_file(md):
    """report.md matches tests/test_report/gold/report.md; RISKOPT_UPDATE_GOLD=1 rewrites it."""
    actual = md
    for rx, repl in SCRUBS:
        actual = rx.sub(repl, actual)
    if os.environ.get("RISKOPT_UPDATE_GOLD") == "1":
        GOLD.parent.mkdir(exist_ok=True)
        GOLD.write_text(actual, encoding="utf-8")
    assert GOLD.exists(), "gold file missing: run with RISKOPT_UPDATE_GOLD=1 and review the diff"
    assert actual == GOLD.read_text(encoding="utf-8")


def test_a_held_reserve_shows_its_lt_rule_and_the_risk_targets_own_limit():
    r = build_report()
    held = dataclasses.replace(
        r.assets[1], binding="current LT (LTV held, risk target allows more)",
        policy={"ltv_held_at": 0.0, "lt_rule": "up_to_current", "lt_cap": 0.78, "risk_limit_lt": 0.8123},
    )
    r = dataclasses.replace(r, assets=[r.assets[0], held, r.assets[2]])
    md = render_markdown(r)
    rec = _section(md, "Recommendations")
    row = next(line for line in rec.splitlines() if line.startswith("| WBTC"))
    assert row.endswith("| current LT (LTV held, risk target allows more) |")  # the long text is the rationale's
    why = next(i for i in _section(md, "Rationale").splitlines() if i.startswith("- WBTC"))
    assert ("Its LTV is held at 0.00%, so its LT buys no borrowing power: it stays at its current 78.00%, "
            "below the 81.23% the risk target alone would allow") in why
    assert "SmartLTV is 72.20% (not comparable: the LTV is held)" in why
    assert "`[optimizer] held_ltv_lt`" in _section(md, "Rationale")
    assert "held_ltv_lt" not in _section(render_markdown(build_report()), "Rationale")


def test_a_held_reserve_set_by_the_budget_names_the_sharing_rule():
    r = build_report()
    held = dataclasses.replace(
        r.assets[1], binding="aggregate risk budget",
        policy={"ltv_held_at": 0.0, "lt_rule": "up_to_current", "lt_cap": 0.78, "risk_limit_lt": 0.7012},
    )
    md = render_markdown(dataclasses.replace(r, assets=[r.assets[0], held, r.assets[2]]))
    why = next(i for i in _section(md, "Rationale").splitlines() if i.startswith("- WBTC"))
    assert "the highest LT the aggregate risk budget allows once the other assets are set (70.12%)" in why
    assert "share what the budget leaves them by progressive filling" in why
    assert "progressive filling" in _section(md, "Rationale")  # and the note states the rule
