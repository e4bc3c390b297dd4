"""Stable to the seed (issue 10, item 1): the quick config's answer moves with the seed less than its band.

The default config (400,000 scenarios) is held to: every LT within 25 bps of the five-seed median, the
fund within 10 % of its median, each LT's band covering the spread (the closing note of issue 10 gives
that table). The quick config has 20,000 scenarios, a twentieth, so its Monte Carlo error is about
4.5x larger; this test holds it to looser tolerances, stated here: every LT within 75 bps of the
five-seed median, every seed's deviation from the median within 1.5x that seed's reported band, the
fund within 30 % of its median (the fund is the stress term, set by the thresholds). The book is the config's own draw ([book] seed), the same for every seed.

The reported LTs are on the 25 bp grid ([guardrails] grid), rounded down from the program's answer;
the band is the program's, so the band and 75 bp checks apply to the unrounded LTs, and the reported
ones may spread by one grid step more (rounding down is monotone: the median's rounding is the
rounded median, and two values within d round to values within d + step).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from optimizer.pipeline.config import load_config
from optimizer.pipeline.run import run

QUICK = Path(__file__).resolve().parents[2] / "configs" / "quick.toml"
LT_TOL, BAND_FACTOR, FUND_TOL = 0.0075, 1.5, 0.30


@pytest.mark.slow
def test_quick_config_is_stable_to_the_seed():
    cfg = load_config(QUICK).with_overrides("backtest", in_report=False)  # backtests do not move the answer
    lts, reported, bands, funds = [], [], [], []
    for seed in range(1, 6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = run(cfg.with_overrides("run", seed=seed)).report
        lts.append([a.unrounded["liquidation_threshold"] for a in rep.assets])
        reported.append([a.recommended["liquidation_threshold"] for a in rep.assets])
        bands.append([a.band["liquidation_threshold"] for a in rep.assets])
        funds.append(rep.insurance_fund_usd)
    lts, reported, bands, funds = np.array(lts), np.array(reported), np.array(bands), np.array(funds)
    dev = np.abs(lts - np.median(lts, axis=0))
    assert dev.max() <= LT_TOL, dev.max(axis=0)
    dev_reported = np.abs(reported - np.median(reported, axis=0))
    assert dev_reported.max() <= LT_TOL + cfg.guardrails.grid + 1e-12, dev_reported.max(axis=0)
    assert np.all(dev <= BAND_FACTOR * bands), (dev, bands)
    assert np.all((bands > 0) | (dev == 0))  # a threshold held by policy (CRV at its current LT) has none
    assert np.abs(funds / np.median(funds) - 1.0).max() <= FUND_TOL, funds
