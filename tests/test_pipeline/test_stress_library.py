"""The default config's stress library on the real data: the scan finds the known crashes from the
data, at the data's own closes, and volatility never enters it."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.pipeline.config import load_config
from optimizer.pipeline.history import load_history
from optimizer.pipeline.run import make_generator
from optimizer.pipeline.stress import run_stress, stress_library
from optimizer.scenarios import MoveRule, StressKind

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "configs" / "aave-v3-ethereum.toml"
AS_OF = "2025-06-12"


@pytest.fixture(scope="module")
def default_cfg():
    return load_config(DEFAULT).with_overrides("run", as_of=AS_OF)


@pytest.fixture(scope="module")
def history(default_cfg, data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_history(default_cfg, data_dir, AS_OF)


@pytest.fixture(scope="module")
def library(default_cfg, data_dir, history):
    return stress_library(default_cfg, data_dir, AS_OF, history=history)


def covering(library, lo: str, hi: str):
    """Historical windows overlapping [lo, hi]."""
    return [s for s in library.of_kind(StressKind.HISTORICAL) if s.start <= hi and s.end >= lo]


@pytest.mark.parametrize(("lo", "hi", "label"), [
    ("2020-03-12", "2020-03-12", "Black Thursday"),
    ("2021-05-19", "2021-05-19", "May 2021 crash"),
    ("2022-05-09", "2022-05-13", "LUNA/UST collapse"),
    ("2022-11-08", "2022-11-11", "FTX collapse"),
    ("2022-11-22", "2022-11-23", "CRV squeeze"),
    ("2023-03-11", "2023-03-11", "USDC depeg (SVB)"),
    ("2024-08-05", "2024-08-05", "Yen carry-trade unwind"),
    ("2025-02-02", "2025-02-03", "February 2025 tariff crash"),
])
def test_the_scan_finds_the_known_crashes_in_the_default_configs_assets(library, lo, hi, label):
    (s,) = covering(library, lo, hi)  # declustered: one window per crash
    assert s.label == label and s.triggers
    assert library.missed_labels == ()


def test_the_library_spans_every_source_and_starts_when_half_the_collateral_is_priced(library):
    # Coin Metrics gives eth (2015-08-07) and btc long before Binance (2021): the scan reaches 2015
    assert library.scanned[0] < "2016-01-01" and library.scanned[1] == AS_OF
    assert len(library.of_kind(StressKind.HISTORICAL)) >= 40


def test_the_moves_are_the_datas_closes_known_answers(library, history, data_dir):
    (bt,) = covering(library, "2020-03-12", "2020-03-12")
    assert (bt.t0, bt.end) == ("2020-03-10", "2020-03-12")
    # eth before Binance comes from CoinGecko (second in [data] sources), whose value dated D is the
    # close of D-1: the close of 2020-03-12 is its row 2020-03-13 (110.60; 200.75 on 03-10)
    raw = pd.read_csv(data_dir / "coingecko_prices_daily.csv", index_col="date")
    eth = library.assets.index("eth")
    assert bt.moves[eth].rule == MoveRule.PRICED
    assert bt.move[eth] == pytest.approx(raw.at["2020-03-13", "eth"] / raw.at["2020-03-11", "eth"] - 1, rel=1e-12)
    assert bt.move[eth] == pytest.approx(110.5979 / 200.7490 - 1, abs=1e-5)
    for j, a in enumerate(library.assets):  # every priced asset: its own closes of the merged history
        if bt.moves[j].rule == MoveRule.PRICED:
            assert bt.terminal[j] == pytest.approx(history.at[pd.Timestamp(bt.end), a]
                                                   / history.at[pd.Timestamp(bt.t0), a], rel=1e-12)
    # the USDC depeg at its documented intraday depth: 0.87 against the window's first close
    (dp,) = covering(library, "2023-03-11", "2023-03-11")
    usdc = library.assets.index("usdc")
    assert dp.moves[usdc].rule == MoveRule.INTRADAY and dp.moves[usdc].low == 0.87
    assert dp.terminal[usdc] == pytest.approx(0.87 / history.at[pd.Timestamp(dp.t0), "usdc"], rel=1e-12)
    assert dp.move[usdc] < -0.12  # the daily closes alone show -4 %


def test_assets_without_prices_get_a_stated_rule(library):
    (bt,) = covering(library, "2020-03-12", "2020-03-12")
    aave = bt.moves[library.assets.index("aave")]  # aave's prices start in 2021
    assert aave.rule == MoveRule.BETA and aave.reference == "eth" and 0.5 < aave.beta < 2.0
    assert any(b.asset == "aave" and b.reference == "eth" for b in library.betas)
    # before usdc's first price (2018-09-28) the stablecoin takes usdt's move (the USD class)
    early = [s for s in library.of_kind(StressKind.HISTORICAL) if s.end < "2018-09-01"]
    usdc = library.assets.index("usdc")
    assert early and all(s.moves[usdc].rule == MoveRule.CLASS for s in early)
    assert all(m.rule != MoveRule.HELD for s in library.scenarios for m in s.moves)


def test_the_library_is_never_rescaled_by_volatility(quick_stage, data_dir):
    """Doubling the fitted volatility (vol_multiplier 2) leaves every stress relative unchanged."""
    cfg, inputs = quick_stage.cfg, quick_stage.inputs
    cfg2 = cfg.with_overrides("scenarios", vol_multiplier=2.0)
    gen2 = make_generator(cfg2, cfg2.estimators.volatility).fit(inputs.returns)
    np.testing.assert_allclose(gen2.scaled_volatility(), 2 * inputs.generator.scaled_volatility())
    inputs2 = dataclasses.replace(inputs, config=cfg2, generator=gen2)
    rec, slip = quick_stage.solution.recommended, quick_stage.market.slippage
    a = run_stress(cfg, inputs, data_dir, rec, slip)
    b = run_stress(cfg2, inputs2, data_dir, rec, slip)
    assert a.library.n_scenarios > 0
    np.testing.assert_array_equal(a.library.relatives, b.library.relatives)
    np.testing.assert_array_equal(a.bad_debt_recommended, b.bad_debt_recommended)


def test_a_config_shock_appears_in_the_library(default_cfg, data_dir, history):
    cfg = dataclasses.replace(default_cfg, stress={"eth_crash": {"eth": -0.35, "usdc": -0.13}})
    lib = stress_library(cfg, data_dir, AS_OF, history=history)
    s = lib.scenarios[-1]
    assert s.name == "eth_crash" and s.kind == StressKind.SHOCK
    assert s.move[lib.assets.index("eth")] == pytest.approx(-0.35)
    assert s.move[lib.assets.index("usdc")] == pytest.approx(-0.13)
    link = s.moves[lib.assets.index("link")]
    assert link.rule == MoveRule.BETA and link.reference == "eth"


def test_a_stricter_rule_misses_a_moderate_episode_and_says_why(default_cfg, data_dir, history):
    from optimizer.scenarios import StressRule

    lib = stress_library(default_cfg, data_dir, AS_OF, history=history,
                         rule=StressRule(asset_quantile=0.001, factor_quantile=0.005))
    missed = {label: why for label, _, why in lib.missed_labels}
    # CRV rose 36.9 % in the two days to 2022-11-23: past its 99.5 % quantile, not its 99.9 % one
    assert missed["CRV squeeze"].startswith("closest: crv +36.9% against its threshold +")
    assert "Black Thursday" not in missed and "USDC depeg (SVB)" not in missed


def test_peg_classes_of_the_default_config(default_cfg, library):
    from optimizer.pipeline.stress import peg_classes

    # usdc is a USD stablecoin; wbtc (peg = "btc") reads the btc series itself, so it follows no class
    assert peg_classes(default_cfg) == {"usdc": "usd"}
    assert "wbtc" in library.factor_weights and "usdc" not in library.factor_weights
