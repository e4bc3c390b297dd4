"""`riskopt backtest`: episode coverage, replays, the report files and their schema."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.report.validation import exclusion_reason, not_covered_reason, plausibility, replay_engine
from optimizer.scenarios import Exclusion, episode_coverage
from optimizer.pipeline.config import dumps_toml
from optimizer.report.backtest import BacktestReport, render_backtest_html, render_backtest_markdown

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
EPISODES = [["2020-03-12", "2020-03-12"], ["2021-05-19", "2021-05-19"], ["2022-11-08", "2022-11-10"],
            ["2024-08-05", "2024-08-05"]]


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ---------------------------------------------------------------------------------------------
# pure parts
# ---------------------------------------------------------------------------------------------
def _coverage(h, start, end, min_days):
    return {a: None if ex is None else exclusion_reason(ex)
            for a, ex in episode_coverage(h, start, end, min_days).items()}


def test_coverage_reasons():
    idx = pd.date_range("2022-01-01", "2022-12-31")
    h = pd.DataFrame({"ok": 1.0, "late": np.nan, "gap": 1.0, "hole": 1.0, "short": np.nan}, index=idx)
    h.loc["2022-11-01":, "late"] = 1.0
    h.loc["2022-10-01":"2022-10-10", "gap"] = np.nan
    h.loc["2022-10-12", "hole"] = np.nan
    h.loc["2022-06-01":, "short"] = 1.0
    facts = episode_coverage(h, pd.Timestamp("2022-10-10"), pd.Timestamp("2022-10-12"), 250)
    assert facts["gap"] == Exclusion("no_close_before", date="2022-10-09", gap=("2022-10-01", "2022-10-10"))
    assert facts["short"] == Exclusion("short_history", date="2022-10-09", n_before=131, min_days=250)
    cov = _coverage(h, pd.Timestamp("2022-10-10"), pd.Timestamp("2022-10-12"), 250)
    assert cov["ok"] is None
    assert cov["late"] == "data starts on 2022-11-01, after the episode"
    assert cov["gap"] == ("no close on 2022-10-09 (the day before the episode); its series has no prices "
                          "from 2022-10-01 to 2022-10-10")
    assert "no close on 2022-10-12 inside the episode" == cov["hole"]
    assert cov["short"] == "only 131 days of prices up to 2022-10-09 (need 250, [data] min_history_days)"
    end = _coverage(h, pd.Timestamp("2023-01-05"), pd.Timestamp("2023-01-05"), 250)
    assert all(why == "data ends on 2022-12-31, before the episode ends" for why in end.values())
    h.loc["2022-12-01":, "gap"] = np.nan  # a gap running to the end of the data
    assert _coverage(h, pd.Timestamp("2022-12-10"), pd.Timestamp("2022-12-10"), 1)["gap"].endswith(
        "from 2022-12-01 to the end of the data")
    assert not_covered_reason({"a": "x", "b": "y", "c": "y"}) == "b, c: y; a: x"
    assert replay_engine(False).startswith("static kernel")
    assert replay_engine(True, cascades=False, gas_usd=50.0) == (
        "dynamic market simulation on the daily closes (one step per day, sqrt-law impact, cascades off, gas $50; "
        "a day's liquidations all trade at its close, each paying its own sale's slippage, and their sales move "
        "prices from the next day on; a liquidator is paid its bonus at the oracle price)")


@pytest.mark.parametrize(
    ("p", "drop", "want"),
    [(0.2, 0.1, "plausible"), (0.005, 0.1, "tail (1 in 200)"), (0.0002, 0.1, "extreme tail (1 in 5,000)"),
     (0.0, 0.3, "implausible: worse than all 1,000 simulated paths"), (0.9, -0.02, "no drop")],
)
def test_plausibility(p, drop, want):
    assert plausibility(p, 1000, drop) == want


def _record(covers: bool) -> dict:
    asset = {"worst_move": -0.3, "worst_day": "2022-11-09", "liquidation_threshold": 0.8, "ltv": 0.75,
             "insolvency_buffer": 0.16, "margin_to_insolvency_buffer": -0.14, "lt_ltv_gap": 0.05,
             "liquidation_distance_at_max_ltv": 0.0625, "tail_probability": 0.0, "beyond_insolvency_buffer": True,
             "plausibility": "implausible: worse than all 1,000 simulated paths"}
    ep = {"start": "2022-11-08", "end": "2022-11-10", "as_of": "2022-11-07", "covered": True,
          "realised_bad_debt_usd": 2.0e6 if not covers else 0.0, "insurance_fund_usd": 1.0e6,
          "fund_covers": covers, "shortfall_usd": 0.0 if covers else 1.0e6, "realised_bad_debt_static_usd": 0.0,
          "realised_bad_debt_current_params_usd": 0.0, "engine": "static", "assets": {"eth": asset},
          "excluded_assets": {"usdc": "no close on 2022-11-07"}}
    return {"meta": {"as_of": "2025-06-12", "config_sha256": "x", "seed": 1}, "episodes": [ep],
            "var_backtests": {}, "var_backtest_settings": {}}


def test_report_states_a_failed_episode():
    rep = BacktestReport("t", "cfg", _record(covers=False))
    md = render_backtest_markdown(rep)
    assert "exceeded the recommended fund in 2022-11-08 .. 2022-11-10 (by $1,000,000)" in md
    assert "NO (short $1,000,000)" in md
    assert "eth -30.0% in 2022-11-08 .. 2022-11-10" in md
    assert "| 2022-11-08 .. 2022-11-10 | usdc | no close on 2022-11-07 |" in md
    html = render_backtest_html(rep)
    assert html.count("<script") == 1 and "<script src" not in html and "http://" not in html and "https://" not in html
    ok = render_backtest_markdown(BacktestReport("t", "cfg", _record(covers=True)))
    assert "stayed within the recommended insurance fund in every replayed episode" in ok


def test_book_exposure_under_both_rules_knows_the_answer():
    """Synthetic, known answer: $100 of ETH against $50 of USDC (HF 1 at LT 50 %), bonus 5 %, ETH closes at
    0.55. With the run's liquidation-day slippage (40 %) charged to the protocol it recovers
    55 x 0.6 / 1.05 = 31.43 of 50 (insolvent); under the dynamic replay's rule (bonus at the oracle price,
    slippage the liquidator's) 55 / 1.05 = 52.38 (solvent); at the prices that replay saw after earlier
    sales lowered the close by 10 %, 49.5 / 1.05 = 47.14 (insolvent)."""
    from optimizer.pipeline.backtest import book_exposure
    from optimizer.protocol.book import Book
    from optimizer.protocol.params import RiskParams

    book = Book.from_dense(("eth", "usdc"), np.array([[100.0, 0.0]]), np.array([[0.0, 50.0]]))
    params = RiskParams(assets=("eth", "usdc"), ltv=np.array([0.45, 0.0]),
                        liquidation_threshold=np.array([0.5, 0.0]), liquidation_bonus=np.array([0.05, 0.0]))
    days, ones = np.array([[0.55, 1.0]]), np.ones(1)
    x = book_exposure(book, days, params, np.array([0.4, 0.0]), ones, None, ["2020-03-12"])
    assert x["accounts_insolvent_at_a_close"] == 1 and x["closest_account"]["margin"] == pytest.approx(
        55 * 0.6 / 1.05 / 50 - 1)
    assert x["dynamic"]["accounts_insolvent_at_a_close"] == 0
    assert x["dynamic"]["closest_account"]["margin"] == pytest.approx(55 / 1.05 / 50 - 1)
    assert x["liquidation_day_slippage"] == {"eth": 0.4, "usdc": 0.0}
    seen = book_exposure(book, days, params, np.array([0.4, 0.0]), ones, None, ["2020-03-12"],
                         dynamic_days=days * [0.9, 1.0])
    assert seen["dynamic"]["accounts_insolvent_at_a_close"] == 1
    assert seen["dynamic"]["closest_account"]["margin"] == pytest.approx(49.5 / 1.05 / 50 - 1)


def _exposure_record(realised: float) -> dict:
    closest = {"account": "a1", "debt_rank": 7, "margin": -0.2, "worst_close": "2020-03-12",
               "health_factor_start": 1.01, "emode_rule": False, "collateral_usd": {"link": 2.0e4},
               "debt_usd": {"usdc": 7.7e3}}
    dyn_closest = dict(closest, account="a2", debt_rank=3, margin=0.0315, health_factor_start=1.0,
                       collateral_usd={"eth": 2.4e6}, debt_usd={"usdc": 1.3e6})
    rec = _record(covers=True)
    rec["episodes"][0].update(start="2020-03-12", end="2020-03-12", realised_bad_debt_usd=realised,
                              realised_bad_debt_static_usd=36.7e6, book_exposure={
        "accounts_insolvent_at_a_close": 1298, "insolvent_debt_usd": 246e6, "insolvent_emode_rule_accounts": 64,
        "insolvent_emode_rule_debt_usd": 2.9e6, "closest_account": closest,
        "liquidation_day_slippage": {"eth": 0.372, "link": 0.5},
        "dynamic": {"accounts_insolvent_at_a_close": 0, "insolvent_debt_usd": 0.0,
                    "insolvent_emode_rule_accounts": 0, "insolvent_emode_rule_debt_usd": 0.0,
                    "closest_account": dyn_closest, "accounts_insolvent_at_end": 0, "accounts_liquidated": 1910,
                    "liquidated_collateral_usd": 353e6, "impact_after_last_day": {"eth": 0.245, "link": 0.318}}})
    return rec


def test_a_zero_dynamic_replay_says_why_in_one_sentence():
    md = render_backtest_markdown(BacktestReport("t", "cfg", _exposure_record(0.0)))
    assert ("2020-03-12: no account could lose in the dynamic replay because at every daily close, at the prices "
            "the replay saw, each account's collateral was worth more than its debt plus the liquidation bonus, "
            "which is all a liquidator takes at the oracle price (the slippage of its sale is its own), so each of "
            "the 1,910 liquidations repaid its debt in full") in md
    assert "margin 3.15% on 2020-03-12" in md and "moves prices only from the next daily step on (link -31.8%, eth -24.5%" in md
    assert ("1,298 accounts are insolvent at a daily close with the run's liquidation-day slippage (link 50.0%, eth "
            "37.2%) charged to the protocol, as the static replay does") in md
    # a loss: the sentence is the insolvency count, with the realised figure
    lost = render_backtest_markdown(BacktestReport("t", "cfg", _exposure_record(5.0e6)))
    assert "no account could lose" not in lost and "Realised bad debt $5,000,000." in lost


# ---------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def backtest_dir(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("bt")
    cfg = _merge(tomllib.loads(QUICK.read_text(encoding="utf-8")), {
        # Binance only (from 2021-01-01): the coverage rules below need episodes without data
        "data": {"volumes": False, "sources": ["binance"]},
        "scenarios": {"n_scenarios": 2000},
        "book": {"n_accounts": 400},
        "backtest": {"estimators": ["ewma", "gjr"], "refit_every": 60, "es_sims": 200, "episodes": EPISODES},
    })
    path = tmp / "quick-bt.toml"
    path.write_text(dumps_toml(cfg), encoding="utf-8")
    out = tmp / "out"
    rc = main(["backtest", str(path), "--data-dir", str(data_dir), "--out", str(out)])
    assert rc == 0
    return out


def test_backtest_files(backtest_dir):
    assert sorted(p.name for p in backtest_dir.iterdir()) == ["backtest.html", "backtest.json", "backtest.md",
                                                               "config.toml"]


def test_backtest_json_schema(backtest_dir):
    data = json.loads((backtest_dir / "backtest.json").read_text())
    eps = data["episodes"]
    assert [(e["start"], e["end"]) for e in eps] == [tuple(x) for x in EPISODES]
    not_cov = {e["start"]: e for e in eps if not e["covered"]}
    assert "data starts on 2021-01-01" in not_cov["2020-03-12"]["reason"]
    assert "days of prices up to 2021-05-18" in not_cov["2021-05-19"]["reason"]
    covered = [e for e in eps if e["covered"]]
    assert [e["start"] for e in covered] == ["2022-11-08", "2024-08-05"]
    for e in covered:
        for key in ("realised_bad_debt_usd", "insurance_fund_usd", "assets", "fund_covers", "engine"):
            assert key in e
        assert e["realised_bad_debt_usd"] >= 0 and e["insurance_fund_usd"] >= 0
        for a, d in e["assets"].items():
            assert 0 <= d["tail_probability"] <= 1
            assert d["insolvency_buffer"] == pytest.approx(1 - d["liquidation_threshold"] * (1 + d["liquidation_bonus"]))
            assert d["lt_ltv_gap"] == pytest.approx(d["liquidation_threshold"] - d["ltv"])
    ftx = covered[0]
    assert "usdc" in ftx["excluded_assets"] and "2022-09-27" in ftx["excluded_assets"]["usdc"]
    assert ftx["assets"]["eth"]["worst_move"] < -0.2  # ETH fell about 30 % in the FTX week
    assert set(covered[1]["assets"]) == {"eth", "wbtc", "usdc", "crv"}
    vb = data["var_backtests"]
    assert set(vb) == {"eth", "wbtc", "usdc", "crv"}
    for per in vb.values():
        for m in per.values():
            for key in ("n", "exceptions", "zone", "kupiec_p", "christoffersen_p"):
                assert key in m
            assert m["zone"] in ("green", "yellow", "red")
    assert vb["eth"]["ewma"]["n"] > 800  # every day after the first window: the full data
    assert "created_utc" not in json.dumps(data) and "runtime_seconds" not in json.dumps(data)


def test_backtest_markdown_has_a_row_per_episode_and_asset(backtest_dir):
    md = (backtest_dir / "backtest.md").read_text()
    data = json.loads((backtest_dir / "backtest.json").read_text())
    for e in data["episodes"]:
        if not e["covered"]:
            continue
        label = e["start"] if e["start"] == e["end"] else f"{e['start']} .. {e['end']}"
        for a in e["assets"]:
            assert f"| {label} | {a} |" in md
    assert "## VaR backtests over the full data" in md
    html = (backtest_dir / "backtest.html").read_text()
    assert 'id="tbl-episode-assets"' in html and 'id="tbl-var-backtests"' in html


def test_failed_recalibration_is_recorded_and_others_go_on(tmp_path, data_dir, monkeypatch, capsys):
    from optimizer.exceptions import DataError
    from optimizer.pipeline import run as run_mod

    real = run_mod.run

    def flaky(cfg, **kw):
        if cfg.run.as_of == "2024-08-04":
            raise DataError("simulated: prices unavailable")
        return real(cfg, **kw)

    monkeypatch.setattr(run_mod, "run", flaky)
    cfg = _merge(tomllib.loads(QUICK.read_text(encoding="utf-8")), {
        "data": {"volumes": False}, "scenarios": {"n_scenarios": 1000}, "book": {"n_accounts": 300},
        "backtest": {"estimators": ["ewma"], "es_sims": 100, "refit_every": 100,
                     "episodes": [["2024-08-05", "2024-08-05"], ["2022-11-22", "2022-11-22"]]},
    })
    path = tmp_path / "c.toml"
    path.write_text(dumps_toml(cfg), encoding="utf-8")
    assert main(["backtest", str(path), "--data-dir", str(data_dir), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "2024-08-05: recalibration failed (simulated: prices unavailable)" in out
    assert "2022-11-22: realised bad debt" in out
    data = json.loads((tmp_path / "o" / "backtest.json").read_text())
    assert data["episodes"][0]["error"] == "simulated: prices unavailable"


def test_a_zero_with_accounts_below_debt_plus_bonus_says_why():
    rec = _exposure_record(0.0)
    rec["episodes"][0]["book_exposure"]["dynamic"]["accounts_insolvent_at_a_close"] = 3
    md = render_backtest_markdown(BacktestReport("t", "cfg", rec))
    assert ("2020-03-12: no account lost in the dynamic replay although 3 had collateral worth less than their debt "
            "plus the bonus at a close (from their starting positions), because none of them ran out of collateral") in md
