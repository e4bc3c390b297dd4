"""Typed report pieces: Table formats and alignment, Section data, the market-simulation sections."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from optimizer.report import params_dict, render_markdown
from optimizer.report.section import Column, Figure, Format, Section, Table, text_table
from optimizer.report.simulation import frontier_section, simulation_section

from .conftest import build_report


def test_table_formats_cells_by_column_and_aligns_numbers():
    t = Table((Column("Asset"), Column("LT", Format.PCT), Column("Fund", Format.USD, decimals=0),
               Column("P", Format.PROB), Column("Move", Format.BPS)),
              (("eth", 0.825, 523.4, 0.00012, 0.005), ("wbtc", None, 2e6, 0.0, -0.0025)))
    assert t.cells == [["eth", "82.50%", "$523", "0.012%", "+50 bps"],
                       ["wbtc", "—", "$2,000,000", "0%", "-25 bps"]]
    assert t.numeric == [False, True, True, True, True]  # text never right-aligned; a missing number is
    assert t.header == ["Asset", "LT", "Fund", "P", "Move"]


def test_table_pads_short_rows_and_declared_alignment_wins():
    t = Table((Column("a"), Column("b", Format.NUM, numeric=False)), (("x", 1), ("y",), ("z", 2, "extra")))
    assert t.header == ["a", "b", ""]
    assert t.cells == [["x", "1", "—"], ["y", "—", "—"], ["z", "2", "extra"]]
    assert t.numeric == [False, False, False]
    assert Table((Column("n", Format.NUM),), ()).numeric == [False]  # no rows: nothing to align


def test_text_table_checks_its_alignment_list():
    assert text_table("t", ["a", "b"], [["1", "2"]], [False, True]).numeric == [False, True]
    with pytest.raises(ValueError):
        text_table("t", ["a", "b"], [["1", "2"]], [False])


def test_section_data_and_visibility():
    assert not Section("", data={"x": 1}).shown
    assert Section("T").shown and Section("", paragraphs=("p",)).shown
    s = Section("T", paragraphs=["p"], tables=[text_table("t", ["a"], [["1"]], [False])])
    assert isinstance(s.paragraphs, tuple) and isinstance(s.tables, tuple)


def _stage():
    rng = np.random.default_rng(0)
    bd = np.where(rng.random(2000) < 0.05, rng.lognormal(12, 1, 2000), 0.0)
    metrics = {"sim_bad_debt_cvar_usd": 1.25e6, "sim_bad_debt_cvar_nocascade_usd": 9.5e5,
               "cascade_share_of_bad_debt": 0.1234, "sim_prob_bad_debt": 0.00421,
               "liquidations_at_risk_usd": 3.2e8, "worst_price_impact_q99": 0.0371,
               "sim_tail_contribution_by_asset": {"eth": 0.7, "wbtc": 0.3, "usdc": 0.0}}
    info = {"steps_per_day": 4, "oracle_lag_steps": 1, "delay_steps": 2, "gas_usd": 25.0}
    return SimpleNamespace(n_paths=2000, steps=40, bad_debt=bd, bad_debt_nocascade=bd * 0.9, metrics=metrics,
                           info=info)


def test_simulation_section_from_the_stage():
    s = simulation_section(_stage())
    assert s.title.startswith("Market simulation") and s.data is None
    assert "2,000 of the scenarios are replayed in 40 steps (4 a day" in s.paragraphs[0]
    assert "above $25 of profit" in s.paragraphs[0]
    assert s.paragraphs[1] == ("Cascades cause 12.3% of the simulated bad debt (CVaR with cascades $1,250,000, "
                               "without $950,000).")
    rows = dict(s.tables[0].cells)
    assert rows["P(bad debt > 0)"] == "0.421%" and rows["Worst price impact, 99th percentile"] == "3.71%"
    assert rows["Tail share of bad debt: ETH"] == "70.0%" and "Tail share of bad debt: USDC" not in rows
    assert s.figures[0].id == "fig-cascades" and s.figures[0].png[:4] == b"\x89PNG"


def test_frontier_section_writes_params_json_frontier():
    fr = [{"trial": 3, "capital_efficiency_usd": 7.2e9, "bad_debt_cvar_usd": 9.8e6,
           "prob_bad_debt_exceeds_fund": 0.00142, "appetite": None, "enqueued": False, "assets": {}},
          {"trial": 0, "capital_efficiency_usd": 8.3e9, "bad_debt_cvar_usd": 4.9e7,
           "prob_bad_debt_exceeds_fund": 0.00455, "appetite": "aggressive", "enqueued": True, "assets": {}}]
    stage = SimpleNamespace(frontier=fr, explanation="Chosen: trial 0.", enqueued=[{**fr[1], "on_frontier": True}],
                            n_trials=50, n_trials_run=50, study_name="s", tail_metric="bad_debt_cvar_usd",
                            budgets={"conservative": 1.5e7, "moderate": 3e7}, current_point=None)
    s = frontier_section(stage)
    assert s.data_key == "frontier" and [p["trial"] for p in s.data] == [3, 0]
    assert "trial 0 and is on the frontier" in s.paragraphs[0]
    assert "conservative $15,000,000, moderate $30,000,000." in s.paragraphs[0]
    assert s.tables[0].cells[1] == ["0", "$8,300,000,000", "$49,000,000", "0.455%", "aggressive", "yes"]
    assert s.tables[0].numeric == [True, True, True, True, False, False]
    assert s.figures[0].id == "fig-frontier" and s.figures[0].png[:4] == b"\x89PNG"
    r = build_report(sections={"frontier_view": s})
    assert params_dict(r)["frontier"][1]["appetite"] == "aggressive"
    md = render_markdown(r)
    assert "## Capital-efficiency / bad-debt frontier" in md and "*Figure: Pareto frontier" in md


def test_markdown_never_draws():
    def boom() -> bytes:
        raise AssertionError("Markdown drew a figure")

    r = build_report(sections={"x": Section("X", figures=(Figure("fig-x", "cap", draw=boom),))})
    assert "*Figure: cap (in report.html).*" in render_markdown(r)
