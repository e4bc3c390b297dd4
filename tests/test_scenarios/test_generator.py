"""ScenarioGenerator: contract, statistics of each method, stresses, reproducibility, errors.

Real-data tests use btc/eth/usdc/crv log returns from the Binance file. Tests that compare
against a known truth (std, correlation, dof) use the synthetic i.i.d. Student-t set from conftest,
or compare against the generator's own fitted inputs (``forecast_path``, ``correlation_``,
``residuals_``), which are the model's truth by construction.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import optimizer.scenarios._generator as generator_module
from optimizer.estimators import (
    EWMAVolatility,
    GARCHVolatility,
    SampleCorrelation,
    ShrinkageCorrelation,
    stress_correlation,
)
from optimizer.exceptions import DataError, EstimationError
from optimizer.scenarios import ScenarioGenerator, ScenarioSet, make_scenario_generator

METHODS = ("fhs", "parametric", "bootstrap")

# GARCH fits of btc/eth on this window sit on the integrated boundary and fall back to EWMA with a
# ConvergenceWarning; that is the volatility estimator's documented behaviour, not under test here.
pytestmark = pytest.mark.filterwarnings("ignore::optimizer.exceptions.ConvergenceWarning")


def _mean_offdiag(c: np.ndarray) -> float:
    n = c.shape[0]
    return float(c[~np.eye(n, dtype=bool)].mean())


def _daily_log_returns(scen: ScenarioSet) -> np.ndarray:
    logrel = np.log(scen.relatives)
    return np.diff(logrel, axis=1, prepend=0.0)


@pytest.fixture(scope="module")
def garch_gen(real_returns: pd.DataFrame) -> ScenarioGenerator:
    """Default parts (GARCH-t volatility, shrinkage correlation) fitted on real returns."""
    return ScenarioGenerator().fit(real_returns)


@pytest.fixture(scope="module")
def ewma_gen(real_returns: pd.DataFrame) -> ScenarioGenerator:
    return ScenarioGenerator(volatility=EWMAVolatility(), correlation=SampleCorrelation()).fit(
        real_returns
    )


@pytest.fixture(scope="module")
def stressed_gen(real_returns: pd.DataFrame) -> ScenarioGenerator:
    return ScenarioGenerator(
        volatility=EWMAVolatility(), correlation=SampleCorrelation(), corr_stress=0.5
    ).fit(real_returns)


@pytest.fixture(scope="module")
def syn_gen(synthetic_returns: pd.DataFrame) -> ScenarioGenerator:
    return ScenarioGenerator(
        volatility=EWMAVolatility(), correlation=SampleCorrelation(), method="parametric"
    ).fit(synthetic_returns)


# ---------------------------------------------------------------------------- fitted state
class TestFit:
    def test_default_parts_and_fitted_attributes(self, garch_gen, real_returns):
        assert garch_gen.volatility is None and garch_gen.correlation is None
        assert isinstance(garch_gen.volatility_, GARCHVolatility)
        assert isinstance(garch_gen.correlation_estimator_, ShrinkageCorrelation)
        assert list(garch_gen.asset_names_) == list(real_returns.columns)
        n = real_returns.shape[1]
        assert garch_gen.n_assets_ == n
        assert garch_gen.residuals_.ndim == 2 and garch_gen.residuals_.shape[1] == n
        assert np.isfinite(garch_gen.residuals_).all()
        assert garch_gen.correlation_.shape == (n, n)
        np.testing.assert_allclose(np.diag(garch_gen.correlation_), 1.0)
        assert garch_gen.innovations_ is garch_gen.residuals_  # no stress -> raw residual rows
        assert garch_gen.as_of_ == real_returns.index[-1].date().isoformat()

    def test_nu_is_median_of_volatility_dof(self, garch_gen):
        nus = np.asarray(garch_gen.volatility_.nu_, dtype=float)
        assert garch_gen.nu_ == pytest.approx(float(np.median(nus[~np.isnan(nus)])))

    def test_dof_overrides_pooled_nu(self, real_returns):
        gen = ScenarioGenerator(volatility=EWMAVolatility(), dof=7).fit(real_returns)
        assert gen.nu_ == 7.0

    def test_sub_estimators_are_cloned_not_mutated(self, real_returns):
        vol, cor = EWMAVolatility(lam=0.97), SampleCorrelation()
        gen = ScenarioGenerator(volatility=vol, correlation=cor).fit(real_returns)
        assert gen.volatility_ is not vol and gen.correlation_estimator_ is not cor
        assert not hasattr(vol, "residuals_") and not hasattr(cor, "correlation_")
        assert gen.volatility_.lam == 0.97
        assert clone(gen).get_params()["volatility"].lam == 0.97

    def test_get_params_round_trip(self):
        gen = ScenarioGenerator(method="parametric", dof=5, vol_multipliers={"btc": 2.0})
        params = gen.get_params(deep=False)
        assert params["method"] == "parametric" and params["dof"] == 5
        assert ScenarioGenerator(**params).get_params(deep=False) == params


# ---------------------------------------------------------------------------- simulate contract
class TestSimulateContract:
    @pytest.mark.parametrize("method", METHODS)
    def test_shape_labels_and_values(self, ewma_gen, real_returns, method):
        scen = ewma_gen.simulate(7, 500, rng=np.random.default_rng(1), method=method)
        assert isinstance(scen, ScenarioSet)
        assert scen.relatives.shape == (500, 7, 4)
        assert scen.relatives.dtype == np.float64
        assert scen.assets == tuple(real_returns.columns)
        assert scen.method == method
        assert scen.as_of == real_returns.index[-1].date().isoformat()
        assert scen.weights is None
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()
        assert scen.info["method"] == method
        assert set(scen.info["sigma_path"]) == {"first", "last", "mean"}

    def test_default_method_from_params(self, syn_gen):
        assert syn_gen.simulate(2, 10, rng=np.random.default_rng(0)).method == "parametric"

    def test_info_records_settings(self, real_returns):
        gen = ScenarioGenerator(
            volatility=EWMAVolatility(),
            dof=5,
            vol_multiplier=1.5,
            corr_stress=0.25,
            vol_multipliers={"crv": 2.0},
        ).fit(real_returns)
        info = gen.simulate(3, 10, rng=np.random.default_rng(0), method="parametric").info
        assert info["dof"] == 5.0 and info["vol_multiplier"] == 1.5
        assert info["vol_multipliers"] == {"crv": 2.0} and info["corr_stress"] == 0.25
        assert info["drift_correction"] == "ito (-sigma**2/2)"
        sig = gen.volatility_.forecast_path(3)
        assert info["sigma_path"]["first"]["btc"] == pytest.approx(sig[0, 0])

    @pytest.mark.parametrize("method", METHODS)
    def test_same_seed_same_paths_different_seed_different(self, garch_gen, method):
        a = garch_gen.simulate(5, 300, rng=np.random.default_rng(7), method=method).relatives
        b = garch_gen.simulate(5, 300, rng=np.random.default_rng(7), method=method).relatives
        c = garch_gen.simulate(5, 300, rng=np.random.default_rng(8), method=method).relatives
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    @pytest.mark.parametrize("method", METHODS)
    def test_blocks_fill_every_scenario(self, ewma_gen, monkeypatch, method):
        # Tiny blocks: many block boundaries, last block partial.
        monkeypatch.setattr(generator_module, "_BLOCK_ELEMENTS", 3 * 4 * 5)
        scen = ewma_gen.simulate(3, 23, rng=np.random.default_rng(3), method=method)
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()
        assert len(np.unique(scen.relatives[:, -1, 0])) == 23  # later blocks are fresh draws

    def test_relatives_are_exp_of_cumulated_log_returns(self, ewma_gen):
        scen = ewma_gen.simulate(6, 50, rng=np.random.default_rng(2), method="fhs")
        r = _daily_log_returns(scen)
        np.testing.assert_allclose(np.exp(np.cumsum(r, axis=1)), scen.relatives, rtol=1e-12)


# ---------------------------------------------------------------------------- parametric
class TestParametric:
    def test_terminal_std_matches_sigma_path(self, syn_gen, synthetic_truth):
        horizon, n = 10, 40_000
        scen = syn_gen.simulate(horizon, n, rng=np.random.default_rng(11))
        sigma = syn_gen.volatility_.forecast_path(horizon)
        expected = np.sqrt((sigma**2).sum(axis=0))  # = sigma * sqrt(H) for a flat path
        got = np.log(scen.terminal).std(axis=0)
        # MC s.e. of a std is about std * sqrt((kurt - 1) / (4 n)) < 0.6 % here.
        np.testing.assert_allclose(got, expected, rtol=0.03)
        # and the fitted sigma is close to the synthetic truth it was fitted on
        np.testing.assert_allclose(sigma[0], synthetic_truth["sigma"], rtol=0.35)

    def test_one_day_correlation_matches_correlation_(self, syn_gen):
        scen = syn_gen.simulate(1, 60_000, rng=np.random.default_rng(12))
        c = np.corrcoef(np.log(scen.relatives[:, 0, :]), rowvar=False)
        np.testing.assert_allclose(c, syn_gen.correlation_, atol=0.02)

    def test_correlation_recovers_synthetic_truth(self, syn_gen, synthetic_truth):
        np.testing.assert_allclose(syn_gen.correlation_, synthetic_truth["corr"], atol=0.06)

    def test_dof_fattens_tails(self, synthetic_returns):
        kurt = {}
        for dof in (5.0, np.inf):
            gen = ScenarioGenerator(
                volatility=EWMAVolatility(),
                correlation=SampleCorrelation(),
                method="parametric",
                dof=dof,
            ).fit(synthetic_returns)
            scen = gen.simulate(1, 200_000, rng=np.random.default_rng(13))
            kurt[dof] = stats.kurtosis(np.log(scen.relatives[:, 0, 0]))  # excess kurtosis
        assert kurt[5.0] > 1.5  # t(5): theoretical excess kurtosis 6
        assert abs(kurt[np.inf]) < 0.1  # Gaussian

    def test_unit_variance_scaling_of_student_t(self, synthetic_returns):
        # With dof=3 an unscaled t would have variance 3x; the scaled one has the sigma path's.
        gen = ScenarioGenerator(
            volatility=EWMAVolatility(),
            correlation=SampleCorrelation(),
            method="parametric",
            dof=4.5,
        ).fit(synthetic_returns)
        scen = gen.simulate(1, 200_000, rng=np.random.default_rng(14))
        r = np.log(scen.relatives[:, 0, :])
        sigma = gen.volatility_.forecast_path(1)[0]
        np.testing.assert_allclose(r.std(axis=0), sigma, rtol=0.05)

    @pytest.mark.parametrize("dof", [np.inf, None])
    def test_ito_correction_makes_mean_relative_one(self, synthetic_returns, dof):
        gen = ScenarioGenerator(
            volatility=EWMAVolatility(),
            correlation=SampleCorrelation(),
            method="parametric",
            dof=dof,
            vol_multiplier=2.0,
        ).fit(synthetic_returns)
        scen = gen.simulate(10, 100_000, rng=np.random.default_rng(15))
        term = scen.terminal
        se = term.std(axis=0) / np.sqrt(term.shape[0])
        assert np.all(np.abs(term.mean(axis=0) - 1.0) < 4 * se)
        # without the correction, the b asset (8 % daily vol, 10 days) would average ~1.03
        assert abs(term[:, 1].mean() - 1.0) < 0.01

    def test_corr_stress_is_applied_to_correlation_(self, synthetic_returns):
        base = ScenarioGenerator(volatility=EWMAVolatility(), correlation=SampleCorrelation())
        c0 = base.fit(synthetic_returns).correlation_
        gen = clone(base).set_params(corr_stress=0.5).fit(synthetic_returns)
        np.testing.assert_allclose(gen.correlation_, stress_correlation(c0, 0.5))
        scen = gen.simulate(1, 60_000, rng=np.random.default_rng(16), method="parametric")
        c = np.corrcoef(np.log(scen.relatives[:, 0, :]), rowvar=False)
        np.testing.assert_allclose(c, gen.correlation_, atol=0.02)

    def test_full_stress_singular_correlation_still_simulates(self, synthetic_returns):
        gen = ScenarioGenerator(
            volatility=EWMAVolatility(), correlation=SampleCorrelation(), corr_stress=1.0
        ).fit(synthetic_returns)
        for method in ("parametric", "fhs"):
            scen = gen.simulate(2, 2000, rng=np.random.default_rng(17), method=method)
            c = np.corrcoef(np.log(scen.terminal), rowvar=False)
            assert _mean_offdiag(c) > 0.97


# ---------------------------------------------------------------------------- fhs
class TestFHS:
    def test_draws_are_whole_rows_of_the_residual_matrix(self, garch_gen):
        horizon = 4
        scen = garch_gen.simulate(horizon, 400, rng=np.random.default_rng(21), method="fhs")
        sigma = garch_gen.volatility_.forecast_path(horizon)
        resid = garch_gen.residuals_
        # the documented drift: minus the log-mgf of the residual rows at each day's scale
        drift = -np.log(np.mean(np.exp(sigma[:, None, :] * resid[None, :, :]), axis=1))
        r = _daily_log_returns(scen)
        z = (r - drift) / sigma  # undo scale and drift
        flat = z.reshape(-1, z.shape[-1])
        dist = np.abs(flat[:, None, :] - resid[None, :, :]).max(axis=2)
        nearest = dist.argmin(axis=1)
        # every simulated day is one residual day, for all assets jointly
        assert dist[np.arange(len(flat)), nearest].max() < 1e-8
        assert len(np.unique(nearest)) > 300  # and days are resampled, not one repeated

    def test_vol_multiplier_two_doubles_terminal_std(self, ewma_gen, real_returns):
        double = clone(ewma_gen).set_params(vol_multiplier=2.0).fit(real_returns)
        s1 = np.log(ewma_gen.simulate(10, 5000, rng=np.random.default_rng(22)).terminal).std(0)
        s2 = np.log(double.simulate(10, 5000, rng=np.random.default_rng(22)).terminal).std(0)
        np.testing.assert_allclose(s2 / s1, 2.0, rtol=1e-9)  # same days drawn: exact

    def test_vol_multipliers_apply_without_refit(self, ewma_gen):
        # simulation-time knobs: a sensitivity sweep need not refit the volatility model
        s1 = np.log(ewma_gen.simulate(10, 3000, rng=np.random.default_rng(23)).terminal).std(0)
        bumped = copy.deepcopy(ewma_gen).set_params(vol_multiplier=3.0)
        s3 = np.log(bumped.simulate(10, 3000, rng=np.random.default_rng(23)).terminal).std(0)
        np.testing.assert_allclose(s3 / s1, 3.0, rtol=1e-9)
        bumped.set_params(vol_multiplier=1.0, vol_multipliers={"crv": 1.5})
        s4 = np.log(bumped.simulate(10, 3000, rng=np.random.default_rng(23)).terminal).std(0)
        np.testing.assert_allclose(s4 / s1, [1.0, 1.0, 1.0, 1.5], rtol=1e-9)

    def test_corr_stress_raises_mean_pairwise_correlation(self, ewma_gen, stressed_gen):
        corr = {}
        for name, gen in (("base", ewma_gen), ("stressed", stressed_gen)):
            scen = gen.simulate(10, 20_000, rng=np.random.default_rng(25), method="fhs")
            corr[name] = _mean_offdiag(np.corrcoef(np.log(scen.terminal), rowvar=False))
        assert corr["stressed"] > corr["base"] + 0.15

    def test_recoloured_innovations_have_stressed_correlation_and_same_variance(self, stressed_gen):
        gen = stressed_gen
        target = stress_correlation(gen.residual_correlation_, 0.5)
        np.testing.assert_allclose(np.corrcoef(gen.innovations_, rowvar=False), target, atol=1e-10)
        np.testing.assert_allclose(gen.innovations_.std(axis=0), gen.residuals_.std(axis=0))
        # the recoloured rows are what fhs draws
        scen = gen.simulate(1, 200, rng=np.random.default_rng(28), method="fhs")
        sigma = gen.volatility_.forecast_path(1)
        drift = -np.log(np.mean(np.exp(sigma * gen.innovations_), axis=0))
        z = (np.log(scen.relatives[:, 0, :]) - drift) / sigma
        dist = np.abs(z[:, None, :] - gen.innovations_[None, :, :]).max(axis=2)
        assert dist.min(axis=1).max() < 1e-8

    def test_mean_relative_is_one_despite_sample_drift(self, ewma_gen):
        # 2021-2025 btc/eth residuals have a positive mean; the exact centring removes it.
        gen = copy.deepcopy(ewma_gen).set_params(vol_multiplier=2.0)
        assert gen.residuals_[:, :2].mean(axis=0).min() > 0.01
        term = gen.simulate(10, 100_000, rng=np.random.default_rng(27), method="fhs").terminal
        se = term.std(axis=0) / np.sqrt(term.shape[0])
        assert np.all(np.abs(term.mean(axis=0) - 1.0) < 4 * se)

    def test_keeps_fat_tails_of_the_data(self, garch_gen):
        scen = garch_gen.simulate(1, 100_000, rng=np.random.default_rng(26), method="fhs")
        k = stats.kurtosis(np.log(scen.relatives[:, 0, :]), axis=0)
        assert np.all(k > 1.0)


# ---------------------------------------------------------------------------- bootstrap
class TestBootstrap:
    def test_draws_whole_days_of_raw_returns(self, ewma_gen, real_returns):
        scen = ewma_gen.simulate(3, 300, rng=np.random.default_rng(31), method="bootstrap")
        r = _daily_log_returns(scen).reshape(-1, 4)
        raw = real_returns.to_numpy()
        dist = np.abs(r[:, None, :] - raw[None, :, :]).max(axis=2)
        assert dist.min(axis=1).max() < 1e-12
        assert scen.info["drift_correction"] == "none"

    def test_rejects_stress_settings(self, real_returns):
        gen = ScenarioGenerator(volatility=EWMAVolatility(), vol_multiplier=2.0).fit(real_returns)
        with pytest.raises(ValueError, match=r"bootstrap.*vol_multiplier"):
            gen.simulate(2, 10, rng=np.random.default_rng(0), method="bootstrap")
        with pytest.raises(ValueError, match=r"bootstrap.*corr_stress"):  # at fit, before fitting
            ScenarioGenerator(method="bootstrap", corr_stress=0.2).fit(real_returns)


# ---------------------------------------------------------------------------- errors
class TestErrors:
    @pytest.mark.parametrize(
        ("kwargs", "exc", "match"),
        [
            ({"horizon": 0, "n_scenarios": 5}, ValueError, r"`horizon=0` must be >= 1"),
            ({"horizon": 3, "n_scenarios": 0}, ValueError, r"`n_scenarios=0` must be >= 1"),
            ({"horizon": 2.0, "n_scenarios": 5}, TypeError, r"`horizon` must be an int"),
            ({"horizon": 2, "n_scenarios": 5, "method": "mc"}, ValueError, r"`method` must be one"),
        ],
    )
    def test_bad_simulate_arguments(self, ewma_gen, kwargs, exc, match):
        with pytest.raises(exc, match=match):
            ewma_gen.simulate(rng=np.random.default_rng(0), **kwargs)

    @pytest.mark.parametrize("rng", [42, None, np.random.RandomState(0)])
    def test_rng_must_be_a_generator(self, ewma_gen, rng):
        with pytest.raises(TypeError, match=r"`rng` must be a numpy.random.Generator"):
            ewma_gen.simulate(2, 5, rng=rng)

    def test_not_fitted(self):
        with pytest.raises(NotFittedError):
            ScenarioGenerator().simulate(2, 5, rng=np.random.default_rng(0))

    @pytest.mark.parametrize(
        ("params", "exc", "match"),
        [
            ({"volatility": "garch"}, TypeError, r"`volatility` must be a BaseVolatility .*str"),
            ({"correlation": np.eye(4)}, TypeError, r"`correlation` must be a BaseCorrelation"),
            ({"volatility": SampleCorrelation()}, TypeError, r"got SampleCorrelation"),
            ({"method": "gbm"}, ValueError, r"`method` must be one of"),
            ({"dof": 2.0}, ValueError, r"`dof` must be > 2"),
            ({"vol_multiplier": 0.0}, ValueError, r"`vol_multiplier` must be a finite number > 0"),
            ({"corr_stress": 1.5}, ValueError, r"`corr_stress` must be in \[0, 1\]"),
            ({"vol_multipliers": {"doge": 2.0}}, ValueError, r"asset 'doge'"),
            ({"vol_multipliers": {"btc": -1.0}}, ValueError, r"`vol_multipliers\['btc'\]`"),
        ],
    )
    def test_bad_parameters(self, real_returns, params, exc, match):
        params = {"volatility": EWMAVolatility(), **params}
        with pytest.raises(exc, match=match):
            ScenarioGenerator(**params).fit(real_returns)

    def test_missing_return_needs_a_skipping_volatility_model(self, real_returns):
        bad = real_returns.copy()
        bad.iloc[10, 2] = np.nan
        match = rf"1 missing value\(s\), the first for asset 'usdc' on {bad.index[10]}.*'skip'"
        with pytest.raises(ValueError, match=match):
            ScenarioGenerator(volatility=EWMAVolatility()).fit(bad)
        with pytest.raises(ValueError, match=r"GARCHVolatility\(missing='skip'\)"):
            ScenarioGenerator().fit(bad)

    def test_infinite_return_names_asset_and_date(self, real_returns):
        bad = real_returns.copy()
        bad.iloc[10, 2] = np.inf
        with pytest.raises(DataError, match=rf"'usdc' on {bad.index[10]}"):
            ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(bad)

    def test_returns_must_be_a_dataframe(self, real_returns):
        with pytest.raises(TypeError, match=r"`returns` must be a pandas DataFrame"):
            ScenarioGenerator(volatility=EWMAVolatility()).fit(real_returns.to_numpy())

    def test_corr_stress_changed_after_fit(self, ewma_gen):
        gen = copy.deepcopy(ewma_gen).set_params(corr_stress=0.3)
        with pytest.raises(ValueError, match=r"call fit\(\) again"):
            gen.simulate(2, 5, rng=np.random.default_rng(0))

    def test_parametric_needs_finite_variance_dof(self, ewma_gen):
        gen = copy.deepcopy(ewma_gen)
        gen.nu_ = 1.9  # as if the volatility model had reported such tails
        with pytest.raises(EstimationError, match=r"pass `dof=`"):
            gen.simulate(2, 5, rng=np.random.default_rng(0), method="parametric")


# ---------------------------------------------------------------------------- factory
class TestFactory:
    def test_builds_named_parts(self):
        gen = make_scenario_generator("ewma", "sample", method="parametric", dof=5)
        assert isinstance(gen, ScenarioGenerator)
        assert isinstance(gen.volatility, EWMAVolatility)
        assert isinstance(gen.correlation, SampleCorrelation)
        assert gen.method == "parametric" and gen.dof == 5

    def test_gjr(self):
        gen = make_scenario_generator("gjr")
        assert isinstance(gen.volatility, GARCHVolatility) and gen.volatility.model == "gjr"
        assert isinstance(gen.correlation, ShrinkageCorrelation)

    @pytest.mark.parametrize(
        ("kwargs", "exc", "match"),
        [
            ({"vol": "egarch"}, ValueError, r"`vol` must be one of"),
            ({"corr": "kendall"}, ValueError, r"`corr` must be one of"),
            ({"volatility": EWMAVolatility()}, TypeError, r"by name"),
        ],
    )
    def test_bad_names(self, kwargs, exc, match):
        with pytest.raises(exc, match=match):
            make_scenario_generator(**kwargs)

    def test_fits_and_simulates(self, real_returns):
        scen = (
            make_scenario_generator("ewma", "ewma")
            .fit(real_returns)
            .simulate(3, 100, rng=np.random.default_rng(0))
        )
        assert scen.relatives.shape == (100, 3, 4) and scen.method == "fhs"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["parametric", "fhs"])
def test_speed_100k_paths(real_returns, method):
    two = ScenarioGenerator().fit(real_returns[["btc", "eth"]])
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    scen = two.simulate(15, 100_000, rng=rng, method=method)
    elapsed = time.perf_counter() - t0
    assert scen.relatives.shape == (100_000, 15, 2)
    assert elapsed < 3.0  # target is well under 1 s; the bound only catches regressions


def test_scaled_volatility_is_the_forecast_times_the_multipliers():
    from optimizer.estimators import EWMAVolatility
    from optimizer.scenarios import ScenarioGenerator

    rng = np.random.default_rng(0)
    r = pd.DataFrame(rng.normal(0, 0.02, size=(300, 2)), columns=["a", "b"],
                     index=pd.date_range("2021-01-01", periods=300, freq="D"))
    gen = ScenarioGenerator(volatility=EWMAVolatility(), vol_multiplier=1.5, vol_multipliers={"b": 2.0}).fit(r)
    np.testing.assert_allclose(gen.scaled_volatility(), gen.volatility_.forecast_ * np.array([1.5, 3.0]))
    with pytest.raises(NotFittedError):
        ScenarioGenerator().scaled_volatility()
