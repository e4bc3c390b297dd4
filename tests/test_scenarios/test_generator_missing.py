"""ScenarioGenerator on returns with an asset's missing days (NaN cells).

Synthetic tests use the i.i.d. Student-t set of conftest with a 200-day gap cut into asset "c"
(its cells set to NaN, as ``PriceData.returns(gaps="keep")`` leaves them). The real-data test
loads Binance btc, eth, usdc and crv over four years to 2025-06-12: usdc has no trade from
2022-09-26 to 2023-03-11, which covers FTX and the CRV squeeze.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from optimizer.data import load_prices
from optimizer.estimators import (
    EWMAVolatility,
    GARCHVolatility,
    SampleCorrelation,
    stress_correlation,
)
from optimizer.exceptions import DataQualityWarning
from optimizer.scenarios import ScenarioGenerator
from optimizer.scenarios._generator import _fhs_drift

GAP = slice(1000, 1200)
N_GAP = 200


@pytest.fixture(scope="module")
def gappy(synthetic_returns: pd.DataFrame) -> pd.DataFrame:
    """Synthetic: the conftest t returns with asset "c" missing on days 1000..1199."""
    out = synthetic_returns.copy()
    out.iloc[GAP, 2] = np.nan
    return out


@pytest.fixture(scope="module")
def gen(gappy: pd.DataFrame) -> ScenarioGenerator:
    return ScenarioGenerator(
        volatility=EWMAVolatility(missing="skip"), correlation=SampleCorrelation()
    ).fit(gappy)


def _recovered_innovations(gen: ScenarioGenerator, relatives: np.ndarray) -> np.ndarray:
    """Invert ``log rel = scale * z + c`` for a one-day horizon (vol_multiplier 1)."""
    scale = gen.volatility_.forecast_path(1)
    drift = _fhs_drift(gen.innovations_, scale)
    return (np.log(relatives[:, 0, :]) - drift[0]) / scale[0]


class TestFit:
    def test_residuals_keep_every_day_with_nan_exactly_on_the_gap(self, gen, gappy):
        assert gen.residuals_.shape == gappy.shape
        np.testing.assert_array_equal(np.isnan(gen.residuals_), gappy.isna().to_numpy())
        assert gen.n_imputed_cells_ == N_GAP
        assert gen.innovations_ is gen.residuals_

    def test_correlation_and_bootstrap_use_complete_rows(self, gen, gappy):
        complete = gappy.dropna()
        assert gen.correlation_estimator_.n_complete_ == len(complete)
        expected = SampleCorrelation().fit(gen.volatility_.residuals_.dropna()).correlation_
        np.testing.assert_array_equal(gen.correlation_, expected)
        np.testing.assert_array_equal(gen.returns_, complete.to_numpy())
        complete_rows = gen.residuals_[~np.isnan(gen.residuals_).any(axis=1)]
        np.testing.assert_allclose(
            gen.residual_correlation_, np.corrcoef(complete_rows, rowvar=False)
        )

    def test_volatility_estimator_must_skip(self, gappy):
        with pytest.raises(ValueError, match=r"200 missing value\(s\), the first for asset 'c'"):
            ScenarioGenerator(volatility=EWMAVolatility()).fit(gappy)

    def test_complete_data_imputes_nothing(self, synthetic_returns):
        gen = ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(synthetic_returns)
        assert gen.n_imputed_cells_ == 0
        scen = gen.simulate(2, 100, rng=np.random.default_rng(0))
        assert scen.info["imputed_residual_cells"] == 0


class TestFhs:
    def test_draws_whole_rows_and_imputes_from_the_assets_own_residuals(self, gen):
        n = 20_000
        scen = gen.simulate(1, n, rng=np.random.default_rng(5), method="fhs")
        z = _recovered_innovations(gen, scen.relatives)
        # The day indices are the first draws of the generator (documented order).
        tau = np.random.default_rng(5).integers(0, gen.innovations_.shape[0], size=(n, 1))[:, 0]
        rows = gen.innovations_[tau]
        hole = np.isnan(rows[:, 2])
        # Every drawn day is drawn from all rows, gap days included ...
        assert 0.05 < hole.mean() < 0.085  # 200 of 3000 rows
        # ... the assets with a residual that day keep exactly that day's residuals ...
        np.testing.assert_allclose(z[:, :2], rows[:, :2], rtol=0, atol=1e-9)
        np.testing.assert_allclose(z[~hole, 2], rows[~hole, 2], rtol=0, atol=1e-9)
        # ... and a missing cell gets one of that asset's own finite residuals.
        own = np.sort(gen.innovations_[~np.isnan(gen.innovations_[:, 2]), 2])
        filled = z[hole, 2]
        pos = np.clip(np.searchsorted(own, filled), 1, own.size - 1)
        nearest = np.minimum(np.abs(own[pos] - filled), np.abs(own[pos - 1] - filled))
        assert nearest.max() < 1e-9
        assert np.unique(np.round(filled, 9)).size > 0.5 * filled.size  # not one value
        assert scen.info["imputed_residual_cells"] == N_GAP

    def test_same_seed_same_scenarios(self, gen):
        a = gen.simulate(5, 2_000, rng=np.random.default_rng(11))
        b = gen.simulate(5, 2_000, rng=np.random.default_rng(11))
        c = gen.simulate(5, 2_000, rng=np.random.default_rng(12))
        np.testing.assert_array_equal(a.relatives, b.relatives)
        assert not np.array_equal(a.relatives, c.relatives)

    def test_drift_is_exact_over_each_assets_own_residuals(self, gen):
        scale = gen.volatility_.forecast_path(3) * 2.0
        drift = _fhs_drift(gen.innovations_, scale)
        own = gen.innovations_[~np.isnan(gen.innovations_[:, 2]), 2]
        np.testing.assert_allclose(
            drift[:, 2], -np.log(np.mean(np.exp(scale[:, 2, None] * own[None, :]), axis=1))
        )
        full = gen.innovations_[:, 0]
        np.testing.assert_allclose(
            drift[:, 0], -np.log(np.mean(np.exp(scale[:, 0, None] * full[None, :]), axis=1))
        )

    def test_mean_relative_is_one(self, gen):
        scen = gen.simulate(2, 200_000, rng=np.random.default_rng(3))
        terminal = scen.terminal
        se = terminal.std(axis=0) / np.sqrt(terminal.shape[0])
        assert np.all(np.abs(terminal.mean(axis=0) - 1.0) < 4 * se)

    def test_stressed_rows_are_recoloured_with_nan_kept(self, gappy):
        gen = ScenarioGenerator(
            volatility=EWMAVolatility(missing="skip"),
            correlation=SampleCorrelation(),
            corr_stress=0.5,
        ).fit(gappy)
        np.testing.assert_array_equal(np.isnan(gen.innovations_), np.isnan(gen.residuals_))
        complete = ~np.isnan(gen.residuals_).any(axis=1)
        target = stress_correlation(gen.residual_correlation_, 0.5)
        np.testing.assert_allclose(
            np.corrcoef(gen.innovations_[complete], rowvar=False), target, atol=1e-10
        )
        # Rows missing "c" keep the stressed correlation of a and b.
        partial = gen.innovations_[~complete][:, :2]
        assert np.corrcoef(partial, rowvar=False)[0, 1] > gen.residual_correlation_[0, 1]
        scen = gen.simulate(3, 5_000, rng=np.random.default_rng(0))
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()


class TestOtherMethods:
    def test_bootstrap_draws_complete_rows_only(self, gen, gappy):
        scen = gen.simulate(1, 5_000, rng=np.random.default_rng(2), method="bootstrap")
        drawn = np.log(scen.relatives[:, 0, :])
        complete = gappy.dropna().to_numpy()
        tau = np.random.default_rng(2).integers(0, complete.shape[0], size=(5_000, 1))[:, 0]
        np.testing.assert_allclose(drawn, complete[tau], rtol=0, atol=1e-14)
        assert scen.info["imputed_residual_cells"] == 0

    def test_parametric_is_finite(self, gen):
        scen = gen.simulate(4, 5_000, rng=np.random.default_rng(2), method="parametric")
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()
        assert scen.info["imputed_residual_cells"] == 0


# ---------------------------------------------------------------------------------------- real
@pytest.fixture(scope="module")
def binance_gappy(data_dir) -> pd.DataFrame:
    """Real: Binance btc, eth, usdc, crv log returns, four years to 2025-06-12, gaps kept."""
    as_of = "2025-06-12"
    start = (pd.Timestamp(as_of) - pd.Timedelta(days=1460)).date().isoformat()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        prices = load_prices(
            data_dir, ["btc", "eth", "usdc", "crv"], sources="binance", start=start,
            as_of=as_of, stablecoins=["usdc"],
        )
    return prices.returns(gaps="keep")


def test_real_panel_keeps_ftx_and_the_crv_squeeze(binance_gappy):
    for day in ("2022-11-09", "2022-11-22"):
        row = binance_gappy.loc[day]
        assert np.isfinite(row[["btc", "eth", "crv"]]).all()
        assert np.isnan(row["usdc"])
    assert binance_gappy.loc["2022-11-22", "crv"] > 0.2  # the squeeze itself (+26 %)
    assert int(binance_gappy["usdc"].isna().sum()) == 166  # 2022-09-27 .. 2023-03-11


# btc/eth GARCH fits may fall back to EWMA with a ConvergenceWarning (documented, not tested here).
@pytest.mark.filterwarnings("ignore::optimizer.exceptions.ConvergenceWarning")
def test_real_scenarios_are_finite_and_positive(binance_gappy):
    gen = ScenarioGenerator(volatility=GARCHVolatility(missing="skip")).fit(binance_gappy)
    assert gen.n_imputed_cells_ == 166
    resid = pd.DataFrame(gen.residuals_, columns=gen.asset_names_)
    assert resid.isna().sum().to_dict() == {"btc": 0, "eth": 0, "usdc": 166, "crv": 0}
    for method in ("fhs", "parametric", "bootstrap"):
        scen = gen.simulate(5, 20_000, rng=np.random.default_rng(1), method=method)
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all(), method
