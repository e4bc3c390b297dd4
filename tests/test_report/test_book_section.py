"""The report's book section: concentration book vs reference, the fitted tail, leverage, placed accounts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optimizer.protocol.calibrated_book import calibrated_book
from optimizer.protocol.params import RiskParams
from optimizer.protocol.reference_book import load_reference_book
from optimizer.report._format import canonicalize
from optimizer.report.book import book_section


@pytest.fixture(scope="module")
def section(data_dir: Path):
    ref = load_reference_book(data_dir.parent / "reference" / "aave_v3_ethereum_top_borrowers_20251201.csv")
    assets = ("eth", "usdc", "wbtc")
    current = RiskParams(assets=assets, ltv=np.array([0.8, 0.75, 0.73]),
                         liquidation_threshold=np.array([0.83, 0.78, 0.78]),
                         liquidation_bonus=np.array([0.05, 0.045, 0.05]))
    cal = calibrated_book(assets, symbols=("WETH", "USDC", "WBTC"), supplied_usd=[4e9, 3e9, 2.5e9],
                          borrowed_usd=[1.2e9, 2e9, 5e7], n_accounts=3000, current=current,
                          rng=np.random.default_rng(0), reference=ref)
    return cal, book_section(cal)


def test_book_section_compares_concentration_with_the_reference(section):
    cal, s = section
    conc, lev, loops, placed = s.tables
    assert [r[0] for r in conc.rows][:3] == ["top-1 share of debt", "top-10 share of debt", "top-100 share of debt"]
    ref = cal.reference.concentration()
    assert conc.rows[1][2] == pytest.approx(ref.share(10)) and conc.rows[1][1] == pytest.approx(cal.concentration.share(10))
    assert "tail index 0.6" in s.paragraphs[0] and "Kolmogorov-Smirnov" in s.paragraphs[0]
    assert "1,000 largest borrowers" in s.paragraphs[1]
    assert len(placed.rows) == cal.n_placed and placed.rows[0][5] == "eth"  # rank 1 owes WETH in the reference
    assert len(lev.rows) == 5


def test_book_section_data_is_typed_json(section):
    cal, s = section
    d = json.loads(json.dumps(canonicalize(s.data), allow_nan=False))
    assert s.data_key == "book_calibration"
    assert d["concentration"]["measured_on_largest"] == 1000
    assert set(d["concentration"]["book"]) == {"top_1", "top_10", "top_100"}
    assert d["size_tail"]["alpha"] == pytest.approx(cal.tail.alpha_, rel=1e-6)
    assert d["reference_sha256"] == cal.reference.sha256 and d["n_placed"] == 10
    assert 0 < d["emode_debt_share"] < 1


def test_book_section_states_the_loop_rule_and_shows_the_loops_collateral(section):
    """Without asset classes every loop keeps the supply rule: the section says so and shows them."""
    cal, s = section
    text = " ".join(s.paragraphs)
    assert "Loop collateral:" in text and "keep collateral drawn like everyone's" in text
    loops = s.tables[2]
    assert loops.rows[-1][0].startswith("fallback") and loops.rows[-1][3] == int(cal.emode.sum())
    assert s.data["loop_fallback_accounts"] == int(cal.emode.sum())
    assert set(s.data["missing_classes"]) <= {"eth", "usd", "btc"} and s.data["missing_classes"]
    assert max(abs(v) for v in s.data["debt_fit_by_asset"].values()) < 2e-3
