"""One contract run against every estimator: scikit-learn conventions and riskopt's input rules."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from optimizer.estimators import (
    BaseCorrelation,
    BaseVolatility,
    ConstantVolatility,
    EWMAVolatility,
    EWMCorrelation,
    FitRecord,
    GARCHVolatility,
    PerAssetVolatility,
    SampleCorrelation,
    ShrinkageCorrelation,
)
from optimizer.exceptions import ConvergenceWarning, DataQualityWarning

VOLATILITY = [
    EWMAVolatility(),
    ConstantVolatility(),
    GARCHVolatility(),
    GARCHVolatility(model="gjr", dist="normal"),
    PerAssetVolatility(estimators={"eth": GARCHVolatility()}),  # btc: the EWMA default
]
CORRELATION = [SampleCorrelation(), EWMCorrelation(lam=0.95), ShrinkageCorrelation()]


@pytest.fixture(scope="module")
def panel():
    """Two GARCH-ish simulated assets with a DatetimeIndex and lower-case tickers (seeded)."""
    rng = np.random.default_rng(42)
    n = 800
    s2 = np.full(2, 4e-4)
    out = np.empty((n, 2))
    for t in range(n):
        out[t] = np.sqrt(s2) * rng.standard_t(6, size=2) * np.sqrt(4 / 6)
        s2 = 1e-5 + 0.07 * out[t] ** 2 + 0.9 * s2
    return pd.DataFrame(out, index=pd.date_range("2021-01-01", periods=n), columns=["btc", "eth"])


def _fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clone(est).fit(X)


@pytest.mark.parametrize("est", VOLATILITY, ids=lambda e: repr(e))
class TestVolatilityContract:
    def test_init_stores_params_only(self, est):
        fresh = type(est)(**est.get_params())
        assert fresh.get_params() == est.get_params()
        assert not [k for k in vars(fresh) if k.endswith("_")]

    def test_fitted_attributes(self, est, panel):
        fitted = _fit(est, panel)
        assert isinstance(fitted, BaseVolatility)
        assert fitted.asset_names_ == ["btc", "eth"] and fitted.n_assets_ == 2
        pd.testing.assert_index_equal(fitted.volatility_.index, panel.index)
        assert list(fitted.volatility_.columns) == ["btc", "eth"]
        assert (fitted.volatility_.to_numpy() > 0).all()
        np.testing.assert_allclose(
            fitted.residuals_.to_numpy(), panel.to_numpy() / fitted.volatility_.to_numpy()
        )
        assert fitted.forecast_.shape == (2,) and (fitted.forecast_ > 0).all()
        assert fitted.nu_.shape == (2,) and ((fitted.nu_ >= 2.5) & (fitted.nu_ <= 50)).all()
        assert set(fitted.fits_) == {"btc", "eth"}
        assert all(isinstance(r, FitRecord) for r in fitted.fits_.values())
        assert list(fitted.summary().index) == ["btc", "eth"]

    def test_forecast_path_and_filter(self, est, panel):
        fitted = _fit(est, panel)
        path = fitted.forecast_path(10)
        assert path.shape == (10, 2) and (path > 0).all()
        np.testing.assert_allclose(path[0], fitted.forecast_)
        cont = fitted.filter(panel.iloc[:5])
        assert cont.shape == (6, 2)
        np.testing.assert_allclose(cont[0], fitted.forecast_)
        with pytest.raises(ValueError, match=r"`horizon` must be >= 1, got horizon=0"):
            fitted.forecast_path(0)
        with pytest.raises(ValueError, match=r"fitted on 2"):
            fitted.filter(np.zeros((3, 3)))
        with pytest.raises(ValueError, match=r"differ from the fitted assets"):
            fitted.filter(panel.iloc[:3, ::-1])

    def test_ndarray_input_names(self, est, panel):
        fitted = _fit(est, panel.to_numpy())
        assert fitted.asset_names_ == ["x0", "x1"]
        assert isinstance(fitted.volatility_.index, pd.RangeIndex)

    def test_reproducible_and_input_untouched(self, est, panel):
        before = panel.copy()
        a, b = _fit(est, panel), _fit(est, panel)
        pd.testing.assert_frame_equal(a.volatility_, b.volatility_)
        np.testing.assert_array_equal(a.nu_, b.nu_)
        pd.testing.assert_frame_equal(panel, before)

    def test_clone_and_pickle(self, est, panel):
        fitted = _fit(est, panel)
        assert not hasattr(clone(fitted), "volatility_")
        again = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(again.forecast_, fitted.forecast_)

    def test_nan_names_the_column(self, est, panel):
        bad = panel.copy()
        bad.iloc[300, 1] = np.nan
        msg = r"column 'eth' has 1 NaN or infinite value\(s\), first at 2021-10-28"
        with pytest.raises(ValueError, match=msg):
            clone(est).fit(bad)
        bad.iloc[300, 1] = np.inf
        with pytest.raises(ValueError, match=r"column 'eth'"):
            clone(est).fit(bad)

    def test_too_few_observations(self, est, panel):
        msg = r"needs at least \d+ observations, got n_observations=10"
        with pytest.raises(ValueError, match=msg):
            clone(est).fit(panel.iloc[:10])

    def test_bad_input_types(self, est, panel):
        with pytest.raises(ValueError, match=r"must be 2-D"):
            clone(est).fit(panel["btc"].to_numpy())
        with pytest.raises(TypeError, match=r"got list"):
            clone(est).fit(panel.to_numpy().tolist())
        with pytest.raises(ValueError, match=r"non-numeric column\(s\) \['name'\]"):
            clone(est).fit(panel.assign(name="x"))

    def test_percent_returns_warn(self, est, panel):
        with pytest.warns(DataQualityWarning, match=r"\['btc', 'eth'\].*not percent"):
            _fit(est, panel * 100)

    def test_not_fitted(self, est):
        with pytest.raises(NotFittedError):
            clone(est).forecast_path(3)


@pytest.mark.parametrize("est", CORRELATION, ids=lambda e: repr(e))
class TestCorrelationContract:
    def test_fitted(self, est, panel):
        fitted = clone(est).fit(panel)
        assert isinstance(fitted, BaseCorrelation)
        c = fitted.correlation_
        assert c.shape == (2, 2) and np.array_equal(c, c.T) and np.all(np.diag(c) == 1.0)
        np.linalg.cholesky(c)
        assert fitted.asset_names_ == ["btc", "eth"] and fitted.n_assets_ == 2

    def test_errors(self, est, panel):
        bad = panel.copy()
        bad.iloc[3, 0] = np.inf
        with pytest.raises(ValueError, match=r"`X` column 'btc' has 1 infinite value"):
            clone(est).fit(bad)
        with pytest.raises(ValueError, match=r"at least 2 observations, got n_observations=1"):
            clone(est).fit(panel.iloc[:1])
        disjoint = panel.iloc[:4].copy()
        disjoint.iloc[:2, 0] = np.nan
        disjoint.iloc[2:, 1] = np.nan
        with pytest.raises(ValueError, match=r"at least 2 rows on which both assets of a pair have "
                           r"a value, got n_common=0 for 'btc' and 'eth'"):
            clone(est).fit(disjoint)
        with pytest.raises(ValueError, match=r"`X` column 'eth' has 0 \(of n_observations=4"):
            clone(est).fit(disjoint.assign(eth=np.nan))

    def test_nan_rows_are_left_out_of_their_pair(self, est, panel):
        gappy = panel.copy()
        gappy.iloc[100:250, 1] = np.nan  # synthetic gap in one asset
        fitted = clone(est).fit(gappy)
        complete = clone(est).fit(gappy.dropna())
        # two assets: the pair's common days are the complete rows
        np.testing.assert_allclose(fitted.correlation_, complete.correlation_, rtol=0, atol=1e-12)
        assert fitted.n_complete_ == len(panel) - 150
        assert fitted.n_common_.tolist() == [[800, 650], [650, 650]]
        assert clone(est).fit(panel).n_complete_ == len(panel)

    def test_a_young_assets_missing_days_leave_two_old_assets_correlation(self, est):
        """Synthetic, known answer: a, b correlated 0.6 and y listed on day 300 (NaN before).

        Pairwise: the (a, b) entry is estimated on all their days whatever y's history, so it is
        the entry of the panel without y (Ledoit-Wolf: before its one global intensity). Listwise
        deletion would estimate it on days 300.. only, a different sample.
        """
        rng = np.random.default_rng(7)
        n = 1_000
        cov = np.array([[1.0, 0.6, 0.5], [0.6, 1.0, 0.5], [0.5, 0.5, 1.0]])
        x = rng.multivariate_normal(np.zeros(3), cov, size=n)
        x[:300] *= 3.0  # a calm/stressed split so the early days matter to (a, b)
        x[:300, 1] = 0.95 * x[:300, 0] + 0.31 * x[:300, 1]
        full = pd.DataFrame(x, index=pd.date_range("2021-01-01", periods=n), columns=["a", "b", "y"])
        young = full.copy()
        young.iloc[:300, 2] = np.nan
        with_y = clone(est).fit(young)
        old_only = clone(est).fit(full[["a", "b"]])
        got = with_y.correlation_[0, 1]
        want = old_only.correlation_[0, 1]
        if isinstance(est, ShrinkageCorrelation):
            got, want = got / (1 - with_y.shrinkage_), want / (1 - old_only.shrinkage_)
        assert got == pytest.approx(want, abs=1e-12)
        if not isinstance(est, EWMCorrelation):  # (EWM gives days 0..299 weights of 0.95**700)
            listwise = clone(est).fit(young.dropna())
            entry = listwise.correlation_[0, 1] / (1 - getattr(listwise, "shrinkage_", 0.0))
            assert abs(entry - want) > 0.02  # the rule this replaces would have moved it
        assert with_y.n_common_[0, 1] == n and with_y.n_common_[0, 2] == n - 300

    def test_no_scale_warning_on_residuals(self, est, panel):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataQualityWarning)
            clone(est).fit(panel / panel.std() * 3.0)
