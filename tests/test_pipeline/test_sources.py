"""Whole histories from every source in the run (issue 9, item 1), on the default config."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.data import load_prices
from optimizer.estimators import GARCHVolatility
from optimizer.exceptions import ConfigError
from optimizer.pipeline.config import load_config, parse_config
from optimizer.pipeline.run import load_inputs, run
from optimizer.scenarios import ScenarioGenerator

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "configs" / "aave-v3-ethereum.toml"
BASE = """
[run]
name = "t"
[assets.eth]
supplied_usd = 1e9
borrowed_usd = 5e8
"""


@pytest.mark.parametrize(
    ("snippet", "pattern"),
    [
        ('sources = ["binance", "kraken"]', r"\[data\] sources = 'kraken' is not one of"),
        ('sources = "binance"', r"\[data\] sources must be a list"),
        ("sources = []", r"\[data\] sources = \[\] must name each source once"),
        ('sources = ["coingecko", "coingecko"]', r"\[data\] sources = .* must name each source once"),
        ('source = "binance"', r"unknown key \[data\] 'source' \(did you mean 'sources'\?\)"),
        ("overlap_tolerance = 0", r"\[data\] overlap_tolerance = 0 must be > 0"),
        ("overlap_tolerance = 1.5", r"\[data\] overlap_tolerance = 1.5 must be < 1"),
    ],
)
def test_bad_sources_are_config_errors_naming_the_key(snippet, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(tomllib.loads(BASE + "[data]\n" + snippet + "\n"), source="t.toml")


def test_default_priority_is_binance_coingecko_coinmetrics():
    cfg = parse_config(tomllib.loads(BASE), source="t.toml")
    assert cfg.data.sources == ("binance", "coingecko", "coinmetrics")
    assert load_config(DEFAULT).data.sources == cfg.data.sources


@pytest.fixture(scope="module")
def default_inputs(data_dir):
    """load_inputs on the default config at its as_of (2025-06-12), with a small simulation."""
    cfg = load_config(DEFAULT).with_overrides("scenarios", n_scenarios=2_000)
    cfg = cfg.with_overrides("backtest", in_report=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_inputs(cfg, data_dir=data_dir)


def test_usdc_has_no_gap_in_the_default_config(default_inputs):
    returns, prices = default_inputs.returns, default_inputs.prices
    assert returns["usdc"].notna().all()
    fills = [f for f in prices.findings if f.kind == "filled" and f.asset == "usdc"]
    assert [(f.file, f.start, f.end) for f in fills] == [
        ("coingecko_prices_daily.csv", "2022-09-27", "2023-03-10")
    ]
    # the depeg day is now a one-day return: CoinGecko's close of 03-10, Binance's of 03-11
    assert returns.loc["2023-03-11", "usdc"] == pytest.approx(np.log(0.9592 / 0.99348), abs=1e-4)


def test_each_asset_keeps_its_whole_window(default_inputs):
    prices, returns = default_inputs.prices.prices, default_inputs.returns
    assert prices.index[0] == pd.Timestamp("2021-06-13")  # as_of 2025-06-12 minus 1,460 days
    assert returns["eth"].first_valid_index() == pd.Timestamp("2021-06-14")
    assert returns["eth"].notna().all() and len(returns) == 1460
    # ENS (Binance from 2021-11-10, not in CoinGecko) starts later without moving ETH's start;
    # LDO's earlier history comes from CoinGecko
    assert returns["ens"].first_valid_index() == pd.Timestamp("2021-11-11")
    assert returns["ldo"].first_valid_index() == pd.Timestamp("2021-06-14")
    # ENS's 150 days before its listing, and USDC's two depeg days (2023-03-11/12) that the peg
    # model takes out of the continuous part (drawn as a jump instead), are imputed
    assert default_inputs.scenarios.info["imputed_residual_cells"] == 152
    assert default_inputs.generator.imputed_by_asset_ == {"usdc": 2, "ens": 150}


def _eth_and_young(returns: pd.DataFrame, seed: int) -> tuple[np.ndarray, ScenarioGenerator, object]:
    """ETH's sorted 2-day relatives, the fitted generator and its scenarios."""
    gen = ScenarioGenerator(volatility=GARCHVolatility(missing="skip")).fit(
        returns, rng=np.random.default_rng(seed + 100))
    scen = gen.simulate(2, 200_000, rng=np.random.default_rng(seed))
    return np.sort(scen.terminal[:, list(returns.columns).index("eth")]), gen, scen


def test_a_young_asset_leaves_an_old_assets_tail_unchanged(data_dir):
    """ETH's 2-day 1-in-100 and 1-in-1,000 moves with and without ENS (listed 2021-11-10).

    ETH's quantiles must not move; ENS's imputed pre-listing days must move with ETH's.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_prices(data_dir, ["eth", "btc", "ens"], sources=["binance", "coingecko"],
                           start="2021-06-13", as_of="2025-06-12")
    each = data.returns(gaps="keep", history="each")
    old, _, _ = _eth_and_young(each[["eth", "btc"]], seed=1)
    young, gen, scen = _eth_and_young(each, seed=2)
    n = old.size
    for p in (0.001, 0.01):
        # distribution-free 99.99 % band of the p-quantile of `old` (binomial order statistics)
        half = 4.0 * np.sqrt(n * p * (1 - p))
        lo, hi = old[int(n * p - half)], old[int(np.ceil(n * p + half))]
        assert lo <= young[int(n * p)] <= hi, (p, lo, young[int(n * p)], hi)
    # the common window (the rule before issue 9) would have started ETH at ENS's listing
    assert data.returns(gaps="keep").index[0] == pd.Timestamp("2021-11-11")
    # ENS's 150 days before its listing are imputed from that day's eth and btc residuals: on
    # them its residual moves with ETH's as it does after the listing (an independent draw of
    # its own residuals, the rule this replaces, has correlation 0 there)
    assert gen.imputed_by_asset_ == {"ens": 150}
    pre = gen.imputed_cells_[:, 2]
    z = gen.innovations_
    listed = np.corrcoef(z[~pre, 0], z[~pre, 2])[0, 1]
    assert np.corrcoef(z[pre, 0], z[pre, 2])[0, 1] == pytest.approx(listed, abs=0.15)
    assert listed > 0.5


@pytest.mark.slow
# month ends, and 2023-05-28 (a Sunday): the recalibration that failed before issue 9
@pytest.mark.parametrize("as_of", ["2022-06-30", "2023-05-28", "2024-01-31"])
def test_default_config_runs_at_past_month_ends(data_dir, as_of):
    cfg = load_config(DEFAULT).with_overrides("run", as_of=as_of)
    cfg = cfg.with_overrides("scenarios", n_scenarios=10_000)
    cfg = cfg.with_overrides("simulation", enabled=False).with_overrides("search", enabled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run(cfg, data_dir=data_dir)
    assert outcome.inputs.returns.index[-1] == pd.Timestamp(as_of)
    start = pd.Timestamp(as_of) - pd.Timedelta(days=1460)
    assert outcome.inputs.prices.prices["eth"].first_valid_index() == start
    assert outcome.inputs.returns.notna().sum().min() >= 200
    assert np.isfinite(outcome.recommended.liquidation_threshold).all()
    # the young assets' missing days are imputed from the others', never truncating them
    gen = outcome.inputs.generator
    # (every missing residual: young assets' days, and a pegged asset's depeg days left out of
    # the continuous part)
    missing = np.isnan(gen.residuals_).sum(axis=0)
    assert gen.imputed_by_asset_ == {a: int(n) for a, n in zip(gen.asset_names_, missing) if n}
    young = outcome.inputs.returns.isna().sum()
    assert all(gen.imputed_by_asset_.get(a, 0) >= n for a, n in young.items())
    assert "price_history" in outcome.report.sections


def test_the_history_section_lists_each_assets_first_price_imputation_and_fills(default_inputs):
    from optimizer.report.history import asset_histories, history_section

    inputs = default_inputs
    rows = {h.asset: h for h in asset_histories(inputs.prices, inputs.returns, inputs.generator)}
    assert set(rows) == set(inputs.returns.columns)
    ens = rows["ens"]
    assert (ens.first_price, ens.priced_before_window, ens.missing_days, ens.imputed_days) == (
        "2021-11-10", False, 150, 150)
    assert ens.how.startswith("imputed from the others' residuals that day (R")
    usdc = rows["usdc"]
    assert usdc.filled == ("coingecko 2022-09-27..2023-03-10 (165 days)",)
    assert usdc.missing_days == 0 and usdc.how.startswith("2 day(s) left out of the continuous part")
    assert rows["eth"].how == "complete"
    assert rows["eth"].priced_before_window and rows["eth"].first_price == "2021-06-13"
    section = history_section(tuple(rows.values()), window="w")
    table = section.tables[0]
    assert table.header[:4] == ["asset", "series", "first price", "missing days"]
    assert table.rows[0][2] == "earlier" and rows["ens"].first_price in [r[2] for r in table.rows]
    assert section.data_key == "price_history" and len(section.data) == len(rows)
