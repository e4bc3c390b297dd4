"""The stress library's mechanics on synthetic prices whose answers are known by construction.

Synthetic data only where the test must know the true answer (a planted crash, a known beta, a
planted gap); the real-data scan is tested in tests/test_pipeline/test_stress.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from optimizer.scenarios import (
    MoveRule,
    StressKind,
    StressLibrary,
    StressRule,
    build_stress_library,
)

DAYS = pd.date_range("2020-01-01", periods=1200, freq="D", name="date")
CRASH = pd.Timestamp("2022-06-01")  # eth falls 40 % from the close of 05-30 to the close of 06-01


def market(seed: int = 0, *, beta: float = 1.5) -> pd.DataFrame:
    """Synthetic closes: eth a random walk with a planted two-day crash, alt = ``beta`` x eth +
    noise (so its beta is known), usdc near 1, usdt its class peer."""
    rng = np.random.default_rng(seed)
    r_eth = rng.normal(0.0, 0.03, len(DAYS))
    r_eth[DAYS.get_indexer([CRASH - pd.Timedelta(days=1), CRASH])] = np.log(0.8), np.log(0.75)
    r_alt = beta * r_eth + rng.normal(0.0, 0.01, len(DAYS))
    r_usd = rng.normal(0.0, 0.0005, len(DAYS))
    return pd.DataFrame({
        "eth": 1000 * np.exp(np.cumsum(r_eth)),
        "alt": 10 * np.exp(np.cumsum(r_alt)),
        "usdc": np.exp(r_usd),
    }, index=DAYS)


def build(prices: pd.DataFrame, **kw) -> StressLibrary:
    kw.setdefault("collateral", {"eth": 5.0, "alt": 1.0, "usdc": 4.0})
    kw.setdefault("classes", {"usdc": "usd"})
    return build_stress_library(prices, 2, **kw)


def scenario_ending(lib: StressLibrary, day: str):
    return next(s for s in lib.scenarios if s.end == day)


def test_a_planted_crash_is_one_window_at_full_size_equal_to_the_closes():
    p = market()
    lib = build(p)
    s = scenario_ending(lib, "2022-06-01")
    assert s.kind == StressKind.HISTORICAL and s.t0 == "2022-05-30" and s.start == "2022-05-31"
    # known answer: the relatives are the closes' ratios, for every asset, at every step
    expected = p.loc[["2022-05-31", "2022-06-01"]].to_numpy() / p.loc["2022-05-30"].to_numpy()
    np.testing.assert_allclose(s.relatives, expected, rtol=1e-12)
    assert s.move[0] == pytest.approx(0.8 * 0.75 - 1, rel=1e-12)
    assert s.rules == (MoveRule.PRICED,) * 3
    assert {t.series for t in s.triggers} >= {"market", "eth"}
    # declustered: no other window ends within decluster_days of the crash
    ends = pd.to_datetime([x.end for x in lib.scenarios])
    assert (abs(ends - CRASH) < pd.Timedelta(days=7)).sum() == 1


def test_stress_windows_are_beyond_the_stated_quantiles():
    lib = build(market())
    levels = {(t.series, t.side): t.move for t in lib.thresholds}
    for s in lib.of_kind(StressKind.HISTORICAL):
        for t in s.triggers:
            assert t.move <= levels[(t.series, "down")] if t.side == "down" else t.move >= levels[(t.series, "up")]
            assert t.severity >= 1.0


def test_the_upside_of_a_borrowed_asset_is_a_stress_only_when_the_market_lends_it():
    p = market(1)
    pump = pd.Timestamp("2021-03-01")
    p.loc[pump:, "alt"] *= 1.6  # alt jumps 60 % in a day
    assert not any(s.end in ("2021-03-01", "2021-03-02") for s in build(p).scenarios)
    lib = build(p, upside=["alt"])
    s = next(s for s in lib.scenarios if s.start <= "2021-03-01" <= s.end)
    assert s.triggers[0].series == "alt" and s.triggers[0].side == "up"


def test_an_asset_without_prices_gets_its_beta_to_eth_estimated_on_its_own_history():
    """Synthetic: alt = 1.5 x eth + noise, so its true beta is 1.5; its prices are removed in the crash."""
    p = market(2, beta=1.5)
    p.loc["2022-05-25":"2022-06-05", "alt"] = np.nan
    lib = build(p)
    s = scenario_ending(lib, "2022-06-01")
    m = s.moves[1]
    assert m.rule == MoveRule.BETA and m.reference == "eth"
    assert m.beta == pytest.approx(1.5, abs=0.03)
    (b,) = [b for b in lib.betas if b.asset == "alt"]
    assert b.beta == m.beta and b.n_days > 1000
    # the filled path is the beta times eth's log path, not zero
    np.testing.assert_allclose(np.log(s.relatives[:, 1]), m.beta * np.log(s.relatives[:, 0]), rtol=1e-12)
    assert s.move[1] == pytest.approx((0.8 * 0.75) ** m.beta - 1, rel=1e-9)


def test_an_unpriced_stablecoin_takes_the_worst_priced_move_of_its_class():
    p = market(3)
    p.loc["2022-05-20":"2022-06-10", "usdc"] = np.nan
    peers = pd.DataFrame({"usdt": 1.0, "dai": 1.0}, index=DAYS)
    peers.loc["2022-06-01", "dai"] = 0.9  # dai at 0.90 at the window's end: the worst peer
    lib = build(p, peer_prices=peers, peer_classes={"usdt": "usd", "dai": "usd"})
    s = scenario_ending(lib, "2022-06-01")
    assert s.moves[2].rule == MoveRule.CLASS and s.moves[2].reference == "dai"
    assert s.move[2] == pytest.approx(-0.10)
    # without a peer, the stablecoin falls back to its beta (stated), never a silent zero
    s2 = scenario_ending(build(p), "2022-06-01")
    assert s2.moves[2].rule == MoveRule.BETA and s2.moves[2].reference == "eth"


@dataclass(frozen=True)
class Low:
    asset: str
    date: str
    low: float
    reference: str = "usd"
    source: str = "test"


def test_an_intraday_low_deepens_the_window_that_holds_its_day():
    p = market(4)
    s0 = scenario_ending(build(p), "2022-06-01")
    prev = float(p.at[pd.Timestamp("2022-05-31"), "eth"])
    lib = build(p, intraday=[Low("eth", "2022-06-01", 0.5 * prev)])
    s = scenario_ending(lib, "2022-06-01")
    assert s.moves[0].rule == MoveRule.INTRADAY and s.moves[0].low == pytest.approx(0.5 * prev)
    # the low relative to the previous close (0.5), on top of the move to that close (0.8)
    assert s.terminal[0] == pytest.approx(0.8 * 0.5, rel=1e-12)
    np.testing.assert_array_equal(s.terminal[1:], s0.terminal[1:])
    assert len(lib.scenarios) == len(build(p).scenarios)


def test_an_intraday_low_outside_every_window_becomes_its_own_scenario():
    p = market(5)
    day = pd.Timestamp("2021-01-15")
    low = 0.8 * float(p.at[day - pd.Timedelta(days=1), "usdc"])
    lib = build(p, intraday=[Low("usdc", "2021-01-15", low), Low("dai", "2021-01-15", 0.5)])
    s = next(s for s in lib.scenarios if s.kind == StressKind.INTRADAY)
    assert s.name == "2021-01-15 intraday" and s.t0 == "2021-01-13" and s.end == "2021-01-15"
    assert s.moves[2].rule == MoveRule.INTRADAY
    assert s.terminal[2] == pytest.approx(p.at[day - pd.Timedelta(days=1), "usdc"] / p.at[pd.Timestamp(s.t0), "usdc"]
                                          * 0.8, rel=1e-12)
    assert ("dai", "2021-01-15", "not an asset of this config") in lib.unused_extremes


def test_a_config_shock_appears_with_its_moves_and_the_rest_by_rule():
    lib = build(market(6), shocks={"eth_crash": {"eth": -0.35, "usdc": -0.13}})
    s = lib.scenarios[-1]
    assert s.name == "eth_crash" and s.kind == StressKind.SHOCK and s.t0 is None
    assert s.move[0] == pytest.approx(-0.35) and s.move[2] == pytest.approx(-0.13)
    assert s.rules[0] == s.rules[2] == MoveRule.SHOCK
    assert s.moves[1].rule == MoveRule.BETA and s.move[1] == pytest.approx(0.65 ** s.moves[1].beta - 1)


def test_the_library_converts_to_a_scenario_set_of_one_scenario_per_stress():
    lib = build(market(7), shocks={"x": {"eth": -0.5}})
    ss = lib.to_scenario_set()
    assert ss.relatives.shape == (lib.n_scenarios, 2, 3) and ss.method == "stress"
    assert ss.info["names"] == lib.names
    np.testing.assert_array_equal(ss.terminal, lib.terminal)
    assert "eth_crash" not in lib.summary() and "x" in lib.summary()


def test_the_coverage_rule_skips_windows_where_most_collateral_is_unpriced():
    p = market(8)
    p.loc[:"2021-06-30", "eth"] = np.nan  # eth (half the collateral) lists late
    lib = build(p, rule=StressRule(min_coverage=0.6))
    assert lib.scanned[0] > "2021-07-01"


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match=r"asset_quantile"):
        StressRule(asset_quantile=0.7)
    with pytest.raises(ValueError, match=r"one row per calendar day"):
        build(market().iloc[::2])
    with pytest.raises(ValueError, match=r"horizon"):
        build_stress_library(market(), 0, collateral={})


def test_an_unpriced_lst_takes_its_peg_references_move():
    """Synthetic: steth follows eth (class "eth"), unpriced in the crash: it takes eth's path."""
    p = market(9)
    p["steth"] = p["eth"] * 0.99
    p.loc["2022-05-20":"2022-06-10", "steth"] = np.nan
    lib = build(p, collateral={"eth": 5.0, "alt": 1.0, "usdc": 4.0, "steth": 1.0},
                classes={"usdc": "usd", "steth": "eth"})
    s = scenario_ending(lib, "2022-06-01")
    j = lib.assets.index("steth")
    assert s.moves[j].rule == MoveRule.CLASS and s.moves[j].reference == "eth"
    np.testing.assert_array_equal(s.relatives[:, j], s.relatives[:, 0])
    assert "steth" not in lib.factor_weights


def test_each_scenario_names_its_source():
    p = market(10)
    prev = float(p.at[pd.Timestamp("2022-05-31"), "eth"])
    lib = build(p, intraday=[Low("eth", "2022-06-01", 0.5 * prev, source="Publisher https://x.test")],
                shocks={"x": {"eth": -0.2}})
    assert scenario_ending(lib, "2022-06-01").source.endswith("intraday low: Publisher https://x.test")
    assert lib.scenarios[-1].source == "config [stress.x]"
    assert all(s.source.startswith("daily closes") for s in lib.of_kind(StressKind.HISTORICAL))
