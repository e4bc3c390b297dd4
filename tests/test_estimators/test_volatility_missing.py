"""Volatility estimators with ``missing="skip"``: one asset with a gap, fitted on its own returns.

All data here are synthetic: two simulated GARCH(1,1)-t assets on a daily calendar, and a gap of
150 days cut into the second one (its cells set to NaN, as ``PriceData.returns(gaps="keep")``
leaves them).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from optimizer.estimators import (
    ConstantVolatility,
    EWMAVolatility,
    GARCHVolatility,
)
from optimizer.exceptions import ConvergenceWarning

GAP = slice(400, 550)

ESTIMATORS = [
    EWMAVolatility(missing="skip"),
    ConstantVolatility(missing="skip"),
    ConstantVolatility(window=250, missing="skip"),
    GARCHVolatility(missing="skip"),
    GARCHVolatility(model="gjr", dist="normal", missing="skip"),
    GARCHVolatility(persistence_max=0.5, missing="skip"),  # every asset falls back to EWMA
]


@pytest.fixture(scope="module")
def gappy(simulate_garch_t) -> pd.DataFrame:
    """Synthetic: two GARCH-t assets, 1,200 days; "b" has no return on days 400..549."""
    a = simulate_garch_t(1200, seed=11)
    b = simulate_garch_t(1200, seed=12, alpha=0.1, beta=0.85, omega=4e-5)
    panel = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()}, index=a.index.rename("date"))
    panel.iloc[GAP, 1] = np.nan
    return panel


def _fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clone(est).fit(X)


def _raising(est):
    return clone(est).set_params(missing="raise")


@pytest.mark.parametrize("est", ESTIMATORS, ids=repr)
class TestSkipMissing:
    def test_paths_keep_the_full_index_with_nan_exactly_on_the_gap(self, est, gappy):
        fitted = _fit(est, gappy)
        for frame in (fitted.volatility_, fitted.residuals_):
            pd.testing.assert_index_equal(frame.index, gappy.index)
            np.testing.assert_array_equal(frame.isna().to_numpy(), gappy.isna().to_numpy())
        np.testing.assert_allclose(
            fitted.residuals_.to_numpy(), gappy.to_numpy() / fitted.volatility_.to_numpy()
        )
        assert np.isfinite(fitted.forecast_).all() and (fitted.forecast_ > 0).all()
        assert np.isfinite(fitted.forecast_path(5)).all()
        assert np.isfinite(fitted.nu_).all()
        assert np.isfinite(fitted.summary()["ann_vol_mean"]).all()

    def test_equals_fitting_each_asset_on_its_compressed_series(self, est, gappy):
        fitted = _fit(est, gappy)
        for j, name in enumerate(["a", "b"]):
            alone = _fit(_raising(est), gappy[[name]].dropna())
            np.testing.assert_allclose(
                fitted.volatility_[name].dropna().to_numpy(),
                alone.volatility_[name].to_numpy(),
                rtol=1e-12,
            )
            np.testing.assert_allclose(fitted.forecast_[j], alone.forecast_[0], rtol=1e-12)
            np.testing.assert_allclose(
                fitted.forecast_path(10)[:, j], alone.forecast_path(10)[:, 0], rtol=1e-12
            )
            np.testing.assert_allclose(fitted.nu_[j], alone.nu_[0], rtol=1e-12)
            assert fitted.fits_[name].model == alone.fits_[name].model
            assert fitted.fits_[name].params == pytest.approx(alone.fits_[name].params, rel=1e-12)
            assert fitted.fits_[name].loglik == pytest.approx(alone.fits_[name].loglik, rel=1e-12)

    def test_complete_data_gives_the_same_fit_as_missing_raise(self, est, gappy):
        complete = gappy.dropna()
        skip, plain = _fit(est, complete), _fit(_raising(est), complete)
        pd.testing.assert_frame_equal(skip.volatility_, plain.volatility_)
        np.testing.assert_array_equal(skip.forecast_, plain.forecast_)
        np.testing.assert_array_equal(skip.nu_, plain.nu_)

    def test_missing_raise_rejects_nan(self, est, gappy):
        with pytest.raises(ValueError, match=r"column 'b' has 150 NaN or infinite value\(s\)"):
            _raising(est).fit(gappy)

    def test_infinite_values_are_still_rejected(self, est, gappy):
        bad = gappy.copy()
        bad.iloc[10, 0] = -np.inf
        with pytest.raises(ValueError, match=r"column 'a' has 1 infinite value\(s\)"):
            clone(est).fit(bad)

    def test_a_column_needs_enough_finite_values(self, est, gappy):
        empty = gappy.assign(b=np.nan)
        with pytest.raises(ValueError, match=r"column 'b' has 0 \(of n_observations=1200"):
            clone(est).fit(empty)
        short = gappy.copy()
        short.iloc[15:, 1] = np.nan
        with pytest.raises(ValueError, match=r"at least \d+ finite observations per asset; "
                           r"`returns` column 'b' has 15 "):
            clone(est).fit(short)

    def test_invalid_missing(self, est, gappy):
        with pytest.raises(ValueError, match=r"`missing` must be one of \('raise', 'skip'\)"):
            clone(est).set_params(missing="fill").fit(gappy)


def test_garch_passes_skip_on_to_its_fallback(gappy):
    fitted = _fit(GARCHVolatility(persistence_max=0.5, missing="skip"), gappy)
    assert fitted.fallback_ is not None and fitted.fallback_.missing == "skip"
    assert all(rec.fallback_reason for rec in fitted.fits_.values())
    # The estimator the user passed is not modified.
    fb = EWMAVolatility(lam=0.97)
    _fit(GARCHVolatility(persistence_max=0.5, fallback=fb, missing="skip"), gappy)
    assert fb.missing == "raise"


def test_a_flat_asset_with_a_gap_is_still_rejected(gappy):
    flat = gappy.assign(b=np.where(gappy["b"].isna(), np.nan, 0.0))
    with pytest.raises(ValueError, match=r"\['b'\] are identically zero"):
        EWMAVolatility(missing="skip").fit(flat)
