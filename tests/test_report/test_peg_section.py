"""The peg-risk section: what it shows and what params.json holds (typed inputs, nothing computed)."""

from __future__ import annotations

from datetime import date

from optimizer.estimators import PegBreak, PegBreakHistory
from optimizer.optimize import PegTailFigures
from optimizer.report.peg import peg_section


def test_section_lists_the_jump_figures_and_every_pooled_event():
    ev = PegBreak(asset="usdc", reference="usd", start=date(2023, 3, 11), end=date(2023, 3, 11), side="below",
                  close_level=0.9656, close_source="coingecko", level=0.87, depth_source="intraday",
                  intraday_source="CNBC https://x")
    up = PegBreak(asset="dai", reference="usd", start=date(2020, 3, 12), end=date(2020, 4, 18), side="above",
                  close_level=1.0663, close_source="coinmetrics", level=1.0663, depth_source="close")
    h = PegBreakHistory(reference="usd", events=(up, ev), asset_years={"usdc": 4.0, "dai": 4.0}, threshold=0.02,
                        decluster_days=7, notes=("usdc: launch market left out",))
    f = PegTailFigures(asset="usdc", reference="usd", probability=0.0014, n_jumps=140, n_scenarios=100_000,
                       n_below=70, n_above=70, level_median=0.87, level_worst=0.87, level_best=1.0663, q=0.001,
                       move=-0.13, move_band=(-0.131, -0.129), move_without_jumps=-0.001, tail_share=1.0,
                       tail_share_se=0.0, cvar_share=0.4, cvar_share_se=0.05, alpha=0.99)
    sec = peg_section([f], {"usd": h}, pegs={"usdc": "usd"}, classes={"usdc": "usd"}, masked_days={"usdc": 2},
                      own_series={"usdc": True}, horizon_days=2, history_span="all")
    assert sec.title == "Peg risk: depeg jumps" and sec.data_key == "peg_risk"
    per_asset, events, notes = sec.tables
    assert per_asset.header == ["Measure", "USDC"]
    cells = dict(per_asset.cells)
    assert cells["1-in-1,000 2-day move [95 % MC band]"] == "-13.0% [-13.1%, -12.9%]"
    assert cells["Depeg share of its bad debt in the 1% worst scenarios (± MC s.e.)"] == "40.0% ± 5.0%"
    assert notes.rows == (("USDC", "launch market left out"),)
    assert [r[0] for r in events.rows] == ["DAI", "USDC"] and "intraday table: CNBC" in events.cells[1][-2] and events.cells[1][-1] == "in"
    assert any("2 return day(s)" in p for p in sec.paragraphs)
    data = sec.data
    assert data["assets"]["usdc"]["move"] == -0.13 and data["assets"]["usdc"]["masked_return_days"] == 2
    assert data["classes"]["usd"]["n_events"] == 2 and data["classes"]["usd"]["frequency_per_asset_year"] == 0.25
    assert data["classes"]["usd"]["events"][1] == {
        "asset": "usdc", "start": "2023-03-11", "end": "2023-03-11", "side": "below", "close_level": 0.9656,
        "close_source": "coingecko", "level": 0.87, "depth_source": "intraday", "intraday_source": "CNBC https://x",
            "horizon_move": 0.87, "counted": True, "excluded": ""}
