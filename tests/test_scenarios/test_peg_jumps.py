"""Depeg jumps: the stratified draw, full size on top of the continuous part, never vol-rescaled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.estimators import EWMAVolatility
from optimizer.scenarios import (
    PegJump,
    ScenarioGenerator,
    ScenarioSet,
    add_peg_jumps,
    jump_factor,
    mask_peg_days,
)

LEVELS = np.array([0.87, 0.95, 0.97, 1.06])


def flat_set(n=10_000, horizon=2, assets=("eth", "usdc")) -> ScenarioSet:
    return ScenarioSet(assets=assets, relatives=np.ones((n, horizon, len(assets))), method="fhs", as_of="2025-01-01")


def test_count_is_its_expectation_and_every_event_is_drawn_equally_often():
    """Synthetic, known answer: p N = 123.4 depeg scenarios, 4 pooled events."""
    counts = []
    for seed in range(20):
        scen, (d,) = add_peg_jumps(flat_set(), [PegJump("usdc", "usd", 0.01234, LEVELS)],
                                   rng=np.random.default_rng(seed))
        counts.append(d.n_jumps)
        assert d.n_jumps in (123, 124)
        per_event = np.bincount(d.events, minlength=4)
        assert per_event.max() - per_event.min() <= 1
        assert np.array_equal(np.sort(d.rows), d.rows) and np.unique(d.rows).size == d.n_jumps
        # full size from the drawn day to the end of the horizon; eth untouched
        rel = scen.relatives
        for s, day, lv in zip(d.rows, d.days, d.levels, strict=True):
            assert np.allclose(rel[s, day - 1:, 1], lv) and np.allclose(rel[s, : day - 1, 1], 1.0)
        assert np.all(rel[:, :, 0] == 1.0)
        others = np.setdiff1d(np.arange(10_000), d.rows)
        assert np.all(rel[others, :, 1] == 1.0)
        assert scen.info["peg_jumps"] == {"usdc": d.n_jumps}
    assert 123.0 < np.mean(counts) < 124.0  # randomised rounding keeps the expectation


def test_input_set_is_not_modified_and_jump_factor_recovers_the_continuous_part():
    base = flat_set()
    base.relatives[:, :, 1] = 0.999
    scen, draws = add_peg_jumps(base, [PegJump("usdc", "usd", 0.05, LEVELS)], rng=np.random.default_rng(1))
    assert np.all(base.relatives[:, :, 1] == 0.999)
    j = jump_factor(scen.assets, scen.n_scenarios, draws)
    np.testing.assert_allclose(scen.terminal / j, base.terminal)


def test_jumps_are_never_vol_rescaled(rng):
    """Doubling the continuous part's volatility leaves every drawn depeg (row, day, size) unchanged."""
    days = pd.date_range("2022-01-01", periods=400, freq="D")
    returns = pd.DataFrame({"eth": rng.standard_t(4, 400) * 0.03, "usdc": rng.standard_t(4, 400) * 0.0003},
                           index=days)
    jumps = [PegJump("usdc", "usd", 0.02, LEVELS)]
    out = {}
    for mult in (1.0, 2.0):
        gen = ScenarioGenerator(volatility=EWMAVolatility(), vol_multiplier=mult).fit(returns)
        cont = gen.simulate(2, 20_000, rng=np.random.default_rng(5))
        scen, (d,) = add_peg_jumps(cont, jumps, rng=np.random.default_rng(9))
        ratio = scen.terminal[d.rows, 1] / cont.terminal[d.rows, 1]
        np.testing.assert_allclose(ratio, d.levels)  # the jump is the level itself, at full size
        out[mult] = (d, np.log(cont.terminal[:, 1]).std())
    (d1, s1), (d2, s2) = out[1.0], out[2.0]
    assert s2 == pytest.approx(2 * s1, rel=0.05)  # the continuous part did double
    for a in ("rows", "days", "levels", "events"):
        np.testing.assert_array_equal(getattr(d1, a), getattr(d2, a))


def test_zero_probability_and_bad_input():
    scen, (d,) = add_peg_jumps(flat_set(), [PegJump("usdc", "usd", 0.0, LEVELS)], rng=np.random.default_rng(0))
    assert d.n_jumps == 0 and np.all(scen.relatives == 1.0)
    with pytest.raises(ValueError, match="not an asset of the scenarios"):
        add_peg_jumps(flat_set(), [PegJump("dai", "usd", 0.1, LEVELS)], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"`probability` of 'usdc' must be in \[0, 1\)"):
        PegJump("usdc", "usd", 1.5, LEVELS)
    with pytest.raises(ValueError, match="positive relatives"):
        PegJump("usdc", "usd", 0.1, np.array([0.9, -1.0]))
    weighted = ScenarioSet(assets=("usdc",), relatives=np.ones((4, 1, 1)), method="fhs", as_of="x",
                           weights=np.full(4, 0.25))
    with pytest.raises(ValueError, match="equally weighted"):
        add_peg_jumps(weighted, [PegJump("usdc", "usd", 0.1, LEVELS)], rng=np.random.default_rng(0))


def test_mask_peg_days_takes_the_depeg_days_out_of_the_continuous_part():
    days = pd.date_range("2023-03-01", periods=20, freq="D")
    r = pd.DataFrame({"eth": 0.01, "usdc": 0.0001}, index=days)
    r.loc["2023-03-12", "usdc"] = np.nan  # already missing: not counted
    event = pd.date_range("2023-03-11", "2023-03-13", freq="D")
    out, n = mask_peg_days(r, {"usdc": [event], "dai": [event]})
    assert n == {"usdc": 2}
    assert out.loc["2023-03-11":"2023-03-13", "usdc"].isna().all()
    assert out["usdc"].notna().sum() == 17 and out["eth"].notna().all()
    assert r.loc["2023-03-11", "usdc"] == 0.0001  # input untouched
