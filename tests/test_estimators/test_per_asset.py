"""`PerAssetVolatility`: one model per asset in one estimator (the ``auto`` volatility choice)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.data import one_day_log_returns
from optimizer.estimators import (
    EWMAVolatility,
    GARCHVolatility,
    PerAssetVolatility,
    per_asset_volatility,
)


@pytest.fixture(scope="module")
def rets(data_dir):
    """eth, wbtc, crv daily log returns, the last 600 days to 2025-06-12 (all three priced)."""
    prices = pd.read_csv(data_dir / "binance_prices_daily.csv", parse_dates=["date"], index_col="date")
    prices = prices.loc[:"2025-06-12", ["eth", "wbtc", "crv"]].asfreq("D")
    return one_day_log_returns(prices).dropna().iloc[-600:]


def test_equals_separate_fits(rets):
    est = PerAssetVolatility({"eth": EWMAVolatility(lam=0.94), "wbtc": EWMAVolatility(lam=0.97)}).fit(
        rets[["eth", "wbtc"]])
    for name, lam in (("eth", 0.94), ("wbtc", 0.97)):
        alone = EWMAVolatility(lam=lam).fit(rets[[name]])
        np.testing.assert_allclose(est.volatility_[name], alone.volatility_[name], rtol=1e-12)
        np.testing.assert_allclose(est.forecast_[est.asset_names_.index(name)], alone.forecast_[0], rtol=1e-12)
        np.testing.assert_allclose(est.forecast_path(4)[:, est.asset_names_.index(name)],
                                   alone.forecast_path(4)[:, 0], rtol=1e-12)
        assert est.fits_[name].model == "ewma"
    assert len(est.groups_) == 2
    assert est.forecast_path(3).shape == (3, 2)
    assert est.filter(rets[["eth", "wbtc"]].iloc[-5:].to_numpy()).shape == (6, 2)
    np.testing.assert_allclose(est.residuals_.to_numpy(),
                               rets[["eth", "wbtc"]].to_numpy() / est.volatility_.to_numpy())


def test_assets_sharing_a_model_are_fitted_together(rets):
    est = PerAssetVolatility({"crv": GARCHVolatility()}, default=EWMAVolatility(lam=0.97)).fit(rets)
    groups = {tuple(cols): type(sub).__name__ for cols, sub in est.groups_}
    assert groups == {(0, 1): "EWMAVolatility", (2,): "GARCHVolatility"}
    assert est.fits_["crv"].model in ("garch", "ewma")  # GARCH, or its fallback, said so
    assert est.fits_["eth"].model == "ewma"


def test_drives_the_scenario_generator(rets):
    from optimizer.scenarios import ScenarioGenerator

    vol = PerAssetVolatility({"crv": EWMAVolatility(lam=0.97)}, default=EWMAVolatility(lam=0.94))
    gen = ScenarioGenerator(volatility=vol).fit(rets[["eth", "crv"]])
    scen = gen.simulate(2, 500, rng=np.random.default_rng(0))
    assert scen.relatives.shape == (500, 2, 2) and np.all(scen.relatives > 0)


def test_missing_skip_fits_each_asset_on_its_own_days(rets):
    gappy = rets.copy()
    gappy.iloc[100:160, 1] = np.nan  # a trading gap in wbtc only
    est = PerAssetVolatility(default=EWMAVolatility(), missing="skip").fit(gappy)
    alone = EWMAVolatility(missing="skip").fit(gappy[["wbtc"]])
    np.testing.assert_allclose(est.volatility_["wbtc"], alone.volatility_["wbtc"], rtol=1e-12)
    with pytest.raises(ValueError, match=r"column 'wbtc' has 60 NaN"):
        PerAssetVolatility().fit(gappy)


def test_rejects_bad_models_and_options(rets):
    with pytest.raises(TypeError, match="the model of asset 'eth' must be a BaseVolatility, got str"):
        PerAssetVolatility({"eth": "ewma"}).fit(rets)
    with pytest.raises(ValueError, match=r"`missing` must be 'raise' or 'skip', got missing='drop'"):
        PerAssetVolatility(missing="drop").fit(rets)


def test_per_asset_volatility_builds_the_choice():
    est = per_asset_volatility({"eth": "ewma", "crv": "gjr", "gone": "ewma"}, ["eth", "crv", "usdc"], lam=0.95)
    assert set(est.estimators) == {"eth", "crv"}  # an asset not in the run is ignored
    assert est.estimators["eth"].get_params()["lam"] == 0.95
    assert est.estimators["crv"].model == "gjr"
    assert est.default.model == "garch" and est.default.fallback.get_params()["lam"] == 0.95
    assert est.missing == "skip"
