"""The run keeps an asset's trading gap as NaN: real Binance data, configs/quick.toml.

quick.toml holds eth, wbtc (priced by btc), usdc and crv over three years to 2025-06-12. Binance
usdc has no trade from 2022-09-26 to 2023-03-11, so usdc has no one-day return on 166 days of the
window; those days (FTX, the CRV squeeze) stay for the other assets.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from optimizer.exceptions import DataError
from optimizer.pipeline.config import load_config
from optimizer.pipeline.run import load_inputs, run

QUICK = Path(__file__).resolve().parents[2] / "configs" / "quick.toml"
USDC_MISSING = 166


def _cfg(**data):
    # Binance only: with CoinGecko in [data] sources the usdc gap is filled (test_sources.py)
    cfg = load_config(QUICK).with_overrides("scenarios", n_scenarios=5_000)
    return cfg.with_overrides("data", **{"sources": ["binance"], **data})


@pytest.fixture(scope="module")
def outcome(data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(_cfg(), data_dir=data_dir)


def test_returns_keep_stress_days_of_the_other_assets(outcome):
    returns = outcome.inputs.returns
    for day in ("2022-11-09", "2022-11-22"):
        assert np.isfinite(returns.loc[day, ["eth", "wbtc", "crv"]]).all()
        assert np.isnan(returns.loc[day, "usdc"])
    assert returns.isna().sum().to_dict() == {"eth": 0, "wbtc": 0, "usdc": USDC_MISSING, "crv": 0}


def test_model_skips_the_gap_and_reports_the_imputed_cells(outcome):
    gen = outcome.inputs.generator
    assert gen.volatility_.missing == "skip"
    # plus USDC's own depeg day that the continuous part leaves out (a jump instead): 2023-03-12,
    # the return out of the 2023-03-11 depeg (the 03-11 return is the gap's)
    masked = outcome.inputs.pegs.masked_days["usdc"]
    assert masked == 1
    assert gen.n_imputed_cells_ == USDC_MISSING + masked
    scen = outcome.inputs.scenarios
    assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()
    method = outcome.report.method
    assert method["imputed_residual_cells"] == USDC_MISSING + masked
    assert method["n_observations"] == len(outcome.inputs.returns)
    assert any("usdc has no one-day return on 166 day(s)" in a for a in outcome.report.assumptions)


def test_min_history_counts_each_assets_own_returns(data_dir):
    # usdc has 931 prices in the window (enough for the loader) but 929 one-day returns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=r"too few days of returns up to 2025-06-12: 'usdc' has 929 \(first price 2022-06-13\)"):
            load_inputs(_cfg(min_history_days=930), data_dir=data_dir)
