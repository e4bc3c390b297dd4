"""Peg-break jumps through the pipeline: a pegged asset's LT follows its class's peg-break history.

A small default-like config (ETH, WBTC priced by BTC and USDC, with no USDC debt, so that USDC
collateral backs volatile debt and its depeg is not hedged by a depeg of the debt; two years to 2024-06-30, 20,000 scenarios, no simulation
or backtests) on the real data, and on a copy of the data with the March 2023 depeg (USDC, and DAI
and FRAX that broke with it) taken out of the price files and of the intraday table.
"""

from __future__ import annotations

import csv
import shutil
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

from optimizer.data import INTRADAY_EXTREMES_FILE
from optimizer.pipeline.config import parse_config
from optimizer.pipeline.run import load_inputs, prepare_market, solve_thresholds

CONFIG = """
[run]
name = "peg-test"
seed = 11
as_of = "2024-06-30"
window_days = 730
[data]
sources = ["binance", "coingecko", "coinmetrics"]
[scenarios]
n_scenarios = 20000
horizon_days = 2
[simulation]
enabled = false
[backtest]
in_report = false
[book]
n_accounts = 2000
[assets.eth]
supplied_usd = 4.0e9
borrowed_usd = 1.2e9
adv_usd = 2.0e9
current = { ltv = 0.805, liquidation_threshold = 0.83, liquidation_bonus = 0.05 }
[assets.wbtc]
price_ticker = "btc"
supplied_usd = 2.5e9
borrowed_usd = 1.0e9
adv_usd = 3.0e8
current = { ltv = 0.73, liquidation_threshold = 0.78, liquidation_bonus = 0.05 }
[assets.usdc]
stablecoin = true
supplied_usd = 3.0e9
adv_usd = 2.0e9
current = { ltv = 0.75, liquidation_threshold = 0.78, liquidation_bonus = 0.045 }
"""
EPISODE = ("2023-03-09", "2023-03-16")  # file dates (CoinGecko's snapshot of D is the close of D-1)
BROKE = ("usdc", "dai", "frax")


def config(**scenarios):
    cfg = parse_config(tomllib.loads(CONFIG), source="peg-test.toml")
    return cfg.with_overrides("scenarios", **scenarios) if scenarios else cfg


def solve(cfg, data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_inputs(cfg, data_dir=data_dir)
        sol = solve_thresholds(cfg, inputs, prepare_market(cfg, inputs))
    lt = dict(zip(cfg.asset_names, sol.recommended.liquidation_threshold, strict=True))
    return inputs, lt


def without_march_2023(src: Path, dst: Path) -> Path:
    """Copy of the data directory with USDC, DAI and FRAX at 1.0 over the March 2023 depeg."""
    dst.mkdir()
    for name in ("binance_prices_daily.csv", "coingecko_prices_daily.csv", "coinmetrics_prices_daily.csv"):
        with open(src / name, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        cols = [j for j, c in enumerate(rows[0]) if c in BROKE]
        for r in rows[1:]:
            if EPISODE[0] <= r[0] <= EPISODE[1]:
                for j in cols:
                    if r[j]:
                        r[j] = "1.0"
        with open(dst / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
    for name in ("coinmetrics_marketcap_daily.csv", "coingecko_marketcap_daily.csv"):  # the thin-market rule
        shutil.copyfile(src / name, dst / name)
    with open(INTRADAY_EXTREMES_FILE, newline="", encoding="utf-8") as fh:
        table = [r for r in csv.reader(fh) if not (r[0] in BROKE and r[1].startswith("2023-03"))]
    with open(dst / INTRADAY_EXTREMES_FILE.name, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)
    return dst


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    edited = without_march_2023(data_dir, tmp_path_factory.mktemp("peg") / "data")
    return {
        "off": solve(config(depeg_jumps=False), data_dir),
        "real": solve(config(), data_dir),
        "removed": solve(config(), edited),
    }


def test_usdc_lt_falls_with_its_peg_break_history_and_rises_when_the_event_is_removed(runs):
    lt_off, lt_real, lt_removed = (runs[k][1]["usdc"] for k in ("off", "real", "removed"))
    # measured on main after the horizon-move severity and the thin-market rule: off 84.60 %, real 84.32 %,
    # removed 84.58 % (the same continuous scenarios in all three: the differences are the jumps')
    assert lt_real < lt_off - 0.002
    assert lt_removed > lt_real + 0.002
    # the history without the episode has no USDC event left in it
    pegs = runs["removed"][0].pegs
    assert not [e for e in pegs.histories["usd"].events if e.asset in BROKE and e.start.year == 2023]
    real = runs["real"][0].pegs
    usdc = [e for e in real.histories["usd"].events if e.asset == "usdc" and e.start.year == 2023]
    assert usdc and usdc[0].level == 0.87


def test_depeg_days_leave_the_continuous_part_and_eth_is_untouched(runs):
    inputs = runs["real"][0]
    assert inputs.pegs.masked_days == {"usdc": 2}  # 2023-03-11 and the return out of it, 03-12
    fitted = inputs.pegs.returns
    assert np.isnan(fitted.loc["2023-03-11", "usdc"]) and np.isnan(fitted.loc["2023-03-12", "usdc"])
    assert not np.isnan(inputs.returns.loc["2023-03-11", "usdc"])  # the run's own returns keep them
    off = runs["off"][0]
    # eth and wbtc get no jumps: their tails are those of the run without jumps, within MC error
    for i in (0, 1):
        q_on, q_off = (np.quantile(x.scenarios.terminal[:, i], 0.01) for x in (inputs, off))
        assert q_on == pytest.approx(q_off, abs=0.01)
    assert set(inputs.scenarios.info["peg_jumps"]) == {"usdc"}


def test_jumps_drawn_at_the_pooled_probability(runs):
    inputs = runs["real"][0]
    (d,) = inputs.pegs.draws
    h = inputs.pegs.histories["usd"]
    assert d.asset == "usdc" and d.probability == pytest.approx(h.horizon_probability(2))
    assert abs(d.n_jumps - d.probability * 20_000) < 1
    # stratified: the k-th lowest drawn level lies in the k-th of n equal-probability strata of the severity
    sev, n = inputs.pegs.severities["usd"], d.n_jumps
    k = np.arange(n)
    lv = np.sort(d.levels)
    assert np.all(lv >= sev.ppf(k / n) - 1e-12) and np.all(lv <= sev.ppf(np.minimum((k + 1) / n, 1 - 1e-12)) + 1e-12)


def test_default_config_usdc_tail_holds_the_march_2023_depeg_at_its_intraday_depth(data_dir):
    """The default config's USDC jumps on a flat continuous part (its own is +-0.1 %): the pooled
    history counts USDC 2023-03 at 0.87 with a two-day move of -13 % (a crash from par), and the
    two-day tail beyond -12 % has the probability the fitted severity gives it: 3 of the 19 counted
    moves are that deep (USDC, DAI, FRAX 2023-03; USDT 2015 and 2017 are thin markets now)."""
    import pandas as pd

    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.pegs import draw_peg_jumps, peg_inputs
    from optimizer.scenarios import ScenarioSet

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "aave-v3-ethereum.toml")
    returns = pd.DataFrame({a: [0.0] for a in cfg.asset_names}, index=pd.DatetimeIndex(["2025-06-12"]))
    pegs = peg_inputs(cfg, data_dir, returns=returns, as_of="2025-06-12", start=None)
    assert pegs.classes == {"wbtc": "btc", "usdc": "usd"}
    usd = pegs.histories["usd"]
    (usdc,) = [e for e in usd.events if e.asset == "usdc" and e.start.year == 2023]
    assert usdc.level == 0.87 and usdc.depth_source == "intraday" and usdc.move(2) == pytest.approx(0.87)
    assert not [e for e in usd.events if e.asset == "usdt" and e.start.year in (2015, 2017) and e.side == "below"]
    n = cfg.scenarios.n_scenarios
    flat = ScenarioSet(assets=cfg.asset_names, relatives=np.ones((n, 2, len(cfg.asset_names))), method="fhs",
                       as_of="2025-06-12")
    scen, pegs = draw_peg_jumps(pegs, flat, rng=np.random.default_rng(cfg.run.seed))
    move = scen.terminal[:, cfg.asset_names.index("usdc")] - 1.0
    assert (usd.moves(2) <= 0.88).sum() == 3
    sev = pegs.severities["usd"]
    expected = usd.horizon_probability(2) * sev.cdf(0.88)
    assert (move <= -0.12).mean() == pytest.approx(expected, abs=2 / n)  # stratified: the count is exact +-1
    # the 1-in-1,000 two-day move is the severity's quantile at 0.001 / p (the continuous part is flat)
    assert np.quantile(move, 0.001) == pytest.approx(float(sev.ppf(np.array([0.001 / usd.horizon_probability(2)]))[0]) - 1,
                                                     abs=0.005)


def test_a_sensitivity_point_of_another_horizon_redraws_at_that_horizons_probability(runs):
    from optimizer.pipeline.pegs import redraw_peg_jumps
    from optimizer.scenarios import ScenarioSet

    pegs = runs["real"][0].pegs
    flat = ScenarioSet(assets=("eth", "wbtc", "usdc"), relatives=np.ones((20_000, 5, 3)), method="fhs", as_of="x")
    _, again = redraw_peg_jumps(pegs, flat, horizon_days=5, rng=np.random.default_rng(0))
    (d,) = again.draws
    assert again.horizon_days == 5 and d.probability == pytest.approx(pegs.histories["usd"].horizon_probability(5))
    assert d.probability > pegs.draws[0].probability and d.days.max() <= 5
