"""Volatility estimators: EWMA, constant, GARCH/GJR via arch, and the per-asset fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import optimizer.estimators._volatility as vol_mod
from optimizer.estimators import (
    ConstantVolatility,
    EWMAVolatility,
    FitRecord,
    GARCHVolatility,
    ewma_variance,
    garch_forecast_variance,
    garch_variance_path,
)
from optimizer.exceptions import ConvergenceWarning, EstimationError


# ---------------------------------------------------------------------------------------------
# Pure recursions
# ---------------------------------------------------------------------------------------------
def test_ewma_variance_matches_hand_written_loop(rng):
    r = rng.normal(0.0, 0.03, size=(400, 3))
    lam, w = 0.94, 30
    expected = np.empty((401, 3))
    for j in range(3):
        s2 = np.mean(r[:w, j] ** 2)
        expected[0, j] = s2
        for t in range(400):
            s2 = lam * s2 + (1 - lam) * r[t, j] ** 2
            expected[t + 1, j] = s2
    np.testing.assert_allclose(ewma_variance(r, lam, w), expected, rtol=1e-12)


def test_ewma_variance_explicit_seed_and_1d_input():
    out = ewma_variance(np.array([0.01, -0.02]), lam=0.5, sigma2_0=1e-4)
    np.testing.assert_allclose(out.ravel(), [1e-4, 1e-4, 2.5e-4])


def test_garch_variance_path_matches_hand_written_loop(rng):
    e = rng.normal(0.0, 0.02, size=(300, 2))
    om, al, ga, be = np.array([1e-5, 2e-5]), np.array([0.05, 0.03]), np.array([0.0, 0.1]), 0.9
    s0 = np.array([4e-4, 5e-4])
    expected = np.empty((301, 2))
    expected[0] = s0
    for j in range(2):
        s2 = s0[j]
        for t in range(300):
            s2 = om[j] + (al[j] + ga[j] * (e[t, j] < 0)) * e[t, j] ** 2 + be * s2
            expected[t + 1, j] = s2
    got = garch_variance_path(e, om, al, be, ga, sigma2_0=s0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_garch_forecast_variance_converges_to_unconditional():
    path = garch_forecast_variance(np.array([3e-3]), omega=2e-5, persistence=0.98, horizon=2000)
    assert path.shape == (2000, 1)
    assert path[0, 0] == pytest.approx(3e-3)
    assert path[-1, 0] == pytest.approx(2e-5 / 0.02, rel=1e-6)  # unconditional variance 1e-3
    steps = np.diff(path[:, 0])
    assert steps[0] < 0 and np.all(steps <= 0)  # decays monotonically from above


# ---------------------------------------------------------------------------------------------
# EWMA and constant
# ---------------------------------------------------------------------------------------------
def test_ewma_estimator_uses_the_recursion_and_flat_term_structure(rng):
    r = rng.normal(0.0, 0.02, size=(500, 2))
    est = EWMAVolatility(lam=0.9, init_window=20).fit(r)
    var = ewma_variance(r, 0.9, 20)
    np.testing.assert_allclose(est.volatility_.to_numpy(), np.sqrt(var[:-1]))
    np.testing.assert_allclose(est.forecast_, np.sqrt(var[-1]))
    np.testing.assert_allclose(est.forecast_path(7), np.tile(est.forecast_, (7, 1)))
    assert est.fits_["x0"].model == "ewma" and est.fits_["x0"].persistence == 1.0


@pytest.mark.parametrize("make", [EWMAVolatility, ConstantVolatility])
def test_filter_continues_the_fitted_path(make, rng):
    r = rng.normal(0.0, 0.02, size=(600, 2))
    full = make().fit(r)
    head = make().fit(r[:400])
    cont = head.filter(r[400:])
    assert cont.shape == (201, 2)
    np.testing.assert_allclose(cont[0], head.forecast_)
    if make is EWMAVolatility:  # same recursion, same seed -> identical to fitting all at once
        np.testing.assert_allclose(cont[:-1], full.volatility_.to_numpy()[400:], rtol=1e-12)
        np.testing.assert_allclose(cont[-1], full.forecast_, rtol=1e-12)


def test_ewma_nu_is_mle_on_residuals():
    """Known truth: i.i.d. unit-variance t(5) * 2 %, so the residual dof should be near 5."""
    z = np.random.default_rng(3).standard_t(5, size=(3000, 1)) * np.sqrt(3 / 5) * 0.02
    est = ConstantVolatility().fit(z)
    assert 4.0 < est.nu_[0] < 6.5


def test_constant_volatility_window():
    r = np.r_[np.full(100, 0.05), np.full(100, 0.01)][:, None] * np.resize([1, -1], 200)[:, None]
    est = ConstantVolatility(window=100).fit(r)
    assert est.forecast_[0] == pytest.approx(0.01)
    assert est.fits_["x0"].params["window"] == 100


# ---------------------------------------------------------------------------------------------
# GARCH on synthetic data with known parameters
# ---------------------------------------------------------------------------------------------
def test_garch_recovers_known_parameters(garch_t_sample):
    """Known truth: GARCH(1,1)-t with omega=2e-5, alpha=0.08, beta=0.90, nu=6, 3000 days."""
    est = GARCHVolatility().fit(garch_t_sample)
    rec = est.fits_["sim"]
    assert rec.model == "garch" and rec.converged and rec.fallback_reason is None
    assert rec.params["alpha"] == pytest.approx(0.08, abs=0.03)
    assert rec.params["beta"] == pytest.approx(0.90, abs=0.05)
    assert rec.persistence < 1.0
    assert rec.params["omega"] == pytest.approx(2e-5, rel=0.5)
    assert 4.5 < est.nu_[0] < 8.0
    assert rec.params["scale"] == 100.0


def test_gjr_recovers_leverage(simulate_garch_t):
    """Known truth: GJR-GARCH-t, omega=2e-5, alpha=0.03, gamma=0.12, beta=0.88, nu=6, 3000 days."""
    r = simulate_garch_t(3000, alpha=0.03, gamma=0.12, beta=0.88, seed=1).to_frame()
    rec = GARCHVolatility(model="gjr").fit(r).fits_["sim"]
    assert rec.model == "gjr" and rec.fallback_reason is None
    assert rec.params["gamma"] == pytest.approx(0.12, abs=0.05)
    assert rec.params["alpha"] == pytest.approx(0.03, abs=0.03)
    assert rec.params["beta"] == pytest.approx(0.88, abs=0.05)
    assert rec.persistence == pytest.approx(
        rec.params["alpha"] + rec.params["beta"] + rec.params["gamma"] / 2
    )


@pytest.mark.parametrize("model", ["garch", "gjr"])
def test_garch_path_and_forecast_agree_with_arch(model, simulate_garch_t):
    r = simulate_garch_t(2000, alpha=0.05, gamma=0.08, beta=0.88, seed=5).to_frame()
    est = GARCHVolatility(model=model).fit(r)
    res = est.arch_results_["sim"]
    np.testing.assert_allclose(
        est.volatility_["sim"].to_numpy(), np.asarray(res.conditional_volatility) / 100, rtol=1e-10
    )
    arch_var = res.forecast(horizon=10, reindex=False).variance.to_numpy()[0] / 1e4
    np.testing.assert_allclose(est.forecast_path(10)[:, 0] ** 2, arch_var, rtol=1e-10)


def test_garch_filter_with_fixed_params_reproduces_in_sample_path(garch_t_sample):
    est = GARCHVolatility().fit(garch_t_sample)
    p = est.fits_["sim"].params
    x = garch_t_sample["sim"].to_numpy()
    path = garch_variance_path(
        x, p["omega"], p["alpha"], p["beta"], sigma2_0=est.volatility_["sim"].iloc[0] ** 2
    )
    np.testing.assert_allclose(np.sqrt(path[-1]), est.forecast_, rtol=1e-12)
    new = np.array([[-0.05], [0.01], [0.02]])
    cont = est.filter(new)
    s2 = est.forecast_[0] ** 2
    for t in range(3):
        assert cont[t, 0] == pytest.approx(np.sqrt(s2), rel=1e-12)
        s2 = p["omega"] + p["alpha"] * new[t, 0] ** 2 + p["beta"] * s2
    assert cont[3, 0] == pytest.approx(np.sqrt(s2), rel=1e-12)


def test_garch_normal_dist_fits_nu_on_residuals(garch_t_sample):
    est = GARCHVolatility(dist="normal").fit(garch_t_sample)
    rec = est.fits_["sim"]
    assert "nu" not in rec.params
    assert 4.0 < est.nu_[0] < 9.0


# ---------------------------------------------------------------------------------------------
# Fallbacks
# ---------------------------------------------------------------------------------------------
def test_tiny_persistence_max_forces_recorded_ewma_fallback(garch_t_sample):
    with pytest.warns(ConvergenceWarning, match=r"1 of 1 asset.*persistence .* >= persistence_max"):
        est = GARCHVolatility(persistence_max=0.5).fit(garch_t_sample)
    rec = est.fits_["sim"]
    assert rec.model == "ewma"
    assert rec.fallback_reason.startswith("persistence 0.9")
    assert "persistence_max 0.5" in rec.fallback_reason
    # the rejected GARCH fit is kept for inspection
    assert est.rejected_fits_["sim"].model == "garch"
    assert est.rejected_fits_["sim"].persistence > 0.5
    # everything downstream comes from the fallback EWMA
    ewma = EWMAVolatility().fit(garch_t_sample)
    np.testing.assert_allclose(est.volatility_.to_numpy(), ewma.volatility_.to_numpy())
    np.testing.assert_allclose(est.forecast_path(5), ewma.forecast_path(5))
    np.testing.assert_allclose(est.filter(np.zeros((3, 1))), ewma.filter(np.zeros((3, 1))))
    assert est.nu_[0] == pytest.approx(ewma.nu_[0])


def test_integrated_garch_falls_back(simulate_garch_t):
    """Known truth: IGARCH-t (alpha=0.1, beta=0.9, persistence exactly 1), 3000 days, seed 2."""
    r = simulate_garch_t(3000, omega=1e-6, alpha=0.1, beta=0.9, seed=2).to_frame()
    with pytest.warns(ConvergenceWarning):
        est = GARCHVolatility().fit(r)
    rec = est.fits_["sim"]
    assert rec.model == "ewma"
    assert "persistence" in rec.fallback_reason
    assert est.rejected_fits_["sim"].persistence >= 0.999


def test_arch_exception_falls_back_per_asset(monkeypatch, garch_t_sample):
    real_fit = vol_mod._fit_arch
    calls = []

    def flaky(y, *, model, dist):
        calls.append(1)
        if len(calls) == 2:
            raise np.linalg.LinAlgError("Singular matrix")
        return real_fit(y, model=model, dist=dist)

    monkeypatch.setattr(vol_mod, "_fit_arch", flaky)
    two = pd.concat([garch_t_sample["sim"].rename("a"), garch_t_sample["sim"].rename("b")], axis=1)
    with pytest.warns(ConvergenceWarning, match=r"b: arch raised LinAlgError: Singular matrix"):
        est = GARCHVolatility().fit(two)
    assert est.fits_["a"].model == "garch" and est.fits_["a"].fallback_reason is None
    assert est.fits_["b"].model == "ewma"
    assert "b" not in est.rejected_fits_ and "b" not in est.arch_results_
    # mixed kept/fallback assets still give full-width outputs
    assert est.forecast_path(4).shape == (4, 2)
    assert est.filter(np.zeros((2, 2))).shape == (3, 2)


def test_non_convergence_falls_back_and_keeps_arch_warning(monkeypatch, garch_t_sample):
    def one_iteration(y, *, model, dist):
        from arch import arch_model

        am = arch_model(y, mean="Zero", p=1, q=1, dist=dist, rescale=False)
        return am.fit(disp="off", options={"maxiter": 2})

    monkeypatch.setattr(vol_mod, "_fit_arch", one_iteration)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = GARCHVolatility().fit(garch_t_sample)
    ours = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(ours) == 1  # only our summary warning escapes; arch's own is recorded, not shown
    assert ours[0].filename == __file__  # the warning points at the caller of fit
    rec = est.fits_["sim"]
    assert rec.model == "ewma"
    assert "convergence_flag=9" in rec.fallback_reason
    assert not est.rejected_fits_["sim"].converged
    assert any("The optimizer returned code 9" in w for w in rec.warnings)


def test_non_finite_params_fall_back(monkeypatch, garch_t_sample):
    real_fit = vol_mod._fit_arch

    class NanParams:
        def __init__(self, res):
            self._res = res
            self.params = res.params * np.nan
            self.loglikelihood = res.loglikelihood
            self.convergence_flag = 0
            self.optimization_result = res.optimization_result
            self.conditional_volatility = res.conditional_volatility

    def nan_fit(y, *, model, dist):
        return NanParams(real_fit(y, model=model, dist=dist))

    monkeypatch.setattr(vol_mod, "_fit_arch", nan_fit)
    with pytest.warns(ConvergenceWarning, match="non-finite"):
        est = GARCHVolatility().fit(garch_t_sample)
    assert est.fits_["sim"].model == "ewma"


def test_custom_fallback_is_cloned_and_used(garch_t_sample):
    template = ConstantVolatility()
    with pytest.warns(ConvergenceWarning, match="ConstantVolatility"):
        est = GARCHVolatility(persistence_max=0.1, fallback=template).fit(garch_t_sample)
    assert est.fits_["sim"].model == "constant"
    assert isinstance(est.fallback_, ConstantVolatility) and est.fallback_ is not template
    assert not hasattr(template, "volatility_")  # the template stays unfitted


def test_failing_fallback_raises_estimation_error(garch_t_sample):
    short = garch_t_sample.iloc[:150]
    with pytest.raises(EstimationError, match=r"GARCH rejected for \['sim'\].*ConstantVolatility"):
        GARCHVolatility(persistence_max=0.1, fallback=ConstantVolatility(window=500)).fit(short)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"model": "egarch"}, ValueError, r"one of \('garch', 'gjr'\), got model='egarch'"),
        ({"dist": "skewt"}, ValueError, r"`dist` must be one of"),
        ({"persistence_max": 1.5}, ValueError, r"`persistence_max` must be in \(0.0, 1.0\], got"),
        ({"scale": -1.0}, ValueError, r"`scale` must be in"),
        ({"fallback": "ewma"}, TypeError, r"`fallback` must be a BaseVolatility"),
    ],
)
def test_garch_bad_hyperparameters(kwargs, exc, match, garch_t_sample):
    with pytest.raises(exc, match=match):
        GARCHVolatility(**kwargs).fit(garch_t_sample)


def test_garch_needs_100_observations(garch_t_sample):
    with pytest.raises(ValueError, match=r"at least 100 observations, got n_observations=99"):
        GARCHVolatility().fit(garch_t_sample.iloc[:99])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lam": 1.0}, r"`lam` must be in \(0.0, 1.0\), got lam=1.0"),
        ({"init_window": 0}, r"`init_window` must be >= 1, got init_window=0"),
    ],
)
def test_ewma_bad_hyperparameters(kwargs, match, rng):
    with pytest.raises(ValueError, match=match):
        EWMAVolatility(**kwargs).fit(rng.normal(size=(100, 1)) * 0.01)


def test_zero_series_rejected():
    r = pd.DataFrame({"btc": np.full(200, 0.01), "usdt": np.zeros(200)})
    with pytest.raises(ValueError, match=r"\['usdt'\] are identically zero"):
        EWMAVolatility().fit(r)


def test_fit_record_is_read_only_and_printable():
    rec = FitRecord("garch", {"alpha": 0.1, "beta": 0.8}, True, 0.9)
    with pytest.raises(AttributeError):
        rec.model = "ewma"  # type: ignore[misc]
    assert "garch(alpha=0.1, beta=0.8) persistence=0.9000" in str(rec)
    assert repr(rec).startswith("FitRecord(")


# ---------------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["garch", "gjr"])
def test_real_data_fits_converge_or_fall_back_with_reason(model, real_returns):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GARCHVolatility(model=model).fit(real_returns)
    assert est.asset_names_ == ["btc", "eth", "usdc", "crv"]
    for name, rec in est.fits_.items():
        if rec.fallback_reason is None:
            assert rec.model == model and rec.converged
            assert rec.persistence < 0.999
        else:
            assert rec.model == "ewma"
            assert name in est.rejected_fits_ or "arch raised" in rec.fallback_reason
    # usdc is fitted on a finer scale than percent (its percent returns stall arch's optimiser)
    usdc = est.rejected_fits_.get("usdc") or est.fits_["usdc"]
    assert usdc.params.get("scale", 1e4) >= 1e3
    assert np.isfinite(est.volatility_.to_numpy()).all() and (est.forecast_ > 0).all()
    assert ((est.nu_ >= 2.5) & (est.nu_ <= 50)).all()


def test_real_data_volatility_ordering(real_returns):
    """Annualised (sqrt(365)) vol ordering usdc < btc < eth < crv, realised and model-implied."""
    realised = real_returns.std() * np.sqrt(365)
    assert realised["usdc"] < realised["btc"] < realised["eth"] < realised["crv"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        summary = GARCHVolatility().fit(real_returns).summary()
    ann = summary["ann_vol_mean"]
    assert ann["usdc"] < ann["btc"] < ann["eth"] < ann["crv"]
    assert 0.4 < ann["btc"] < 0.8 and 0.6 < ann["eth"] < 1.0
    # fat tails everywhere
    assert (summary["nu"] < 8).all()


def test_rms_volatility_is_the_uncentred_root_mean_square():
    from optimizer.estimators import rms_volatility

    r = np.array([0.01, -0.02, 0.03, 0.02])
    assert rms_volatility(r) == pytest.approx(np.sqrt((1 + 4 + 9 + 4) / 4) * 0.01)
    # not the standard deviation: a constant drift counts
    assert rms_volatility(np.full(5, 0.01)) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="returns"):
        rms_volatility(np.array([0.01, np.nan]))
    with pytest.raises(ValueError, match="returns"):
        rms_volatility(np.array([]))
