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


def test_sections_in_order(md):
    titles = re.findall(r"^## (.+)$", md, re.M)
    assert titles == [
        "Summary", "Recommendations", "Risk metrics", "Insurance fund", "What drove each asset",
        "References", "Efficiency frontier", "Backtests", "Data quality", "Method and assumptions",
        "Reproducibility",
    ]
    assert md.startswith("# Aave v3 Ethereum")


def test_every_asset_in_recommendations_drivers_references(md):
    for title in ("Recommendations", "What drove each asset", "References"):
        body = _section(md, title)
        for a in ("ETH", "WBTC", "USDC"):
            assert re.search(rf"^\| {a} \|", body, re.M), (title, a)


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


def test_summary_is_one_paragraph_with_status_changes_fund_metrics(md):
    body = _section(md, "Summary").strip()
    assert "\n" not in body
    assert body.startswith("**Status: OK")
    assert "ETH LTV +50 bps to 81.00%" in body
    assert "Unchanged: USDC" in body
    assert "$2,500,000" in body
    assert "bad-debt CVaR 99%" in body


def test_risk_metrics_before_after(md):
    body = _section(md, "Risk metrics")
    assert "| Metric | Current parameters | Recommended | Change |" in body
    for label in ("Capital efficiency", "Bad-debt VaR 99%", "Bad-debt CVaR 99%", "P(bad debt > 0)",
                  "P(bad debt > insurance fund)"):
        assert f"| {label} |" in body
    assert "| Capital efficiency | $4,750,000,000 | $4,700,000,000 | -$50,000,000 |" in body


def test_fund_drivers_references(md):
    fund = _section(md, "Insurance fund")
    assert "| Cover-2 | $2,200,000 |" in fund and "| Monte Carlo standard error of the quantile fund | $41,000 |" in fund
    assert "| Fund size | P(bad debt > fund) |" in fund
    drivers = _section(md, "What drove each asset")
    assert "| WBTC | $640M | 52.0% | 2.41% | 5.1 | 0.02 | $120M | 1.23% |" in drivers
    assert "ewma (fallback: GARCH did not converge (persistence 0.9995 \\| boundary))" in drivers
    refs = _section(md, "References")
    assert "| ETH | 83.50% | 84.20% | 81.00% | 79.50% |" in refs


def test_reproducibility_block(md):
    body = _section(md, "Reproducibility")
    assert "c0ffee" + "0" * 58 in body
    assert "da7a" + "1" * 60 in body
    assert "seed             20240601" in body
    assert "binance_prices_daily.csv  sha256 " + "ab" * 32 in body
    assert f"numpy {np.__version__}" in body
    assert "riskopt run configs/synthetic.toml" in body
    assert "2025-02-23" in body
    assert '```toml\n[run]\nname = "synthetic-fixture"' in body


def test_data_quality_and_method(md):
    dq = _section(md, "Data quality")
    assert "| gap | WBTC | 2024-03-02 to 2024-03-04 | 3 missing days, forward-filled |" in dq
    assert "| depeg | USDC | 2024-05-10 |" in dq
    method = _section(md, "Method and assumptions")
    assert "| Confidence level α | 99.00% |" in method
    assert "- Debt is in stablecoins that hold their peg." in method


def test_optional_sections_generic(md):
    frontier = _section(md, "Efficiency frontier")
    assert "| $5,000,000 | $4,700,000,000 |" in frontier
    assert "*Figure: Frontier (in report.html).*" in frontier
    assert "| Kupiec pvalue | 0.41 |" in _section(md, "Backtests")


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
    assert "None: no gaps, stale prices" in _section(md, "Data quality")
    rec = _section(md, "Recommendations")
    assert "bps" not in rec and "| ETH | 81.00% | 83.50% | 5.00% | 19.00% |" in rec
    assert "| Metric | Recommended |" in _section(md, "Risk metrics")
    assert "No current parameters were given" in _section(md, "Summary")


def test_one_asset_partly_missing_current():
    base = build_report()
    eth = dataclasses.replace(base.assets[0], current=None)
    r = dataclasses.replace(base, assets=[eth, base.assets[1]])
    rec = _section(render_markdown(r), "Recommendations")
    assert "| ETH | 81.00% |" in rec and "(-300 bps)" in rec
    assert "New (no current parameters): ETH" in render_markdown(r)


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
    assert "LTV held at 0.00%: LT up to current 78.00%; risk target alone: 81.23%" in row
    assert "`[optimizer] held_ltv_lt`" in rec
    assert "held_ltv_lt" not in _section(render_markdown(build_report()), "Recommendations")
