"""Tail estimators: Student-t dof MLE, Hill tail index, unit-variance t VaR/ES."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from optimizer.estimators import fit_t_dof, hill_tail_index, t_var_es


@pytest.mark.parametrize("nu", [4.0, 8.0])
def test_fit_t_dof_recovers_known_dof(nu):
    """Known truth: 5000 unit-variance t(nu) draws (seeded)."""
    z = np.random.default_rng(11).standard_t(nu, size=5000) * np.sqrt((nu - 2) / nu)
    assert fit_t_dof(z) == pytest.approx(nu, rel=0.25)


def test_fit_t_dof_clips():
    rng = np.random.default_rng(0)
    assert fit_t_dof(rng.normal(size=5000)) == 50.0  # a normal: dof -> infinity, clipped
    assert fit_t_dof(rng.standard_cauchy(size=5000)) == 2.5  # dof 1, clipped up


@pytest.mark.parametrize(
    ("z", "match"),
    [
        (np.ones(30), "constant"),
        (np.arange(10.0), r"at least 20 observations, got n_observations=10"),
        (np.r_[np.arange(30.0), np.nan], "1 NaN or infinite"),
        (np.ones((10, 10)), "must be 1-D"),
    ],
)
def test_fit_t_dof_errors(z, match):
    with pytest.raises(ValueError, match=match):
        fit_t_dof(z)


def test_hill_recovers_student_t_tail_index():
    """Known truth: |t(4)| has tail index 4; 50,000 draws, k = 500."""
    x = np.abs(np.random.default_rng(5).standard_t(4, size=50_000))
    assert hill_tail_index(x, k=500) == pytest.approx(4.0, rel=0.15)
    assert hill_tail_index(x) == pytest.approx(4.0, rel=0.25)  # default k = sqrt(n)


def test_hill_errors():
    with pytest.raises(ValueError, match=r"`k` must be <= n_observations - 1 = 9, got k=10"):
        hill_tail_index(np.arange(1.0, 11.0), k=10)
    with pytest.raises(ValueError, match=r"needs a positive tail"):
        hill_tail_index(-np.arange(1.0, 101.0), k=5)


def test_t_var_es_match_definitions():
    nu, alpha = 5.0, 0.99
    var, es = t_var_es(alpha, nu)
    s = np.sqrt((nu - 2) / nu)
    # VaR: the unit-variance t loses more than var with probability 1 - alpha
    assert stats.t.cdf(-var / s, nu) == pytest.approx(1 - alpha, rel=1e-10)
    # ES: mean loss beyond VaR, by numerical integration
    num, _ = integrate.quad(lambda x: x * stats.t.pdf(x / s, nu) / s, var, np.inf)
    assert es == pytest.approx(num / (1 - alpha), rel=1e-7)
    assert es > var


def test_t_var_es_vectorised_and_tends_to_normal():
    var, es = t_var_es(0.99, np.array([3.0, 10.0, 1e6]))
    assert var.shape == (3,)
    assert var[2] == pytest.approx(stats.norm.ppf(0.99), rel=1e-4)
    assert es[2] == pytest.approx(stats.norm.pdf(stats.norm.ppf(0.99)) / 0.01, rel=1e-4)
    with pytest.raises(ValueError, match=r"`nu` must be finite and > 2"):
        t_var_es(0.99, 2.0)


@pytest.mark.parametrize(("nu", "n", "seed"), [(3.0, 750, 0), (5.0, 300, 1), (12.0, 3000, 2)])
def test_fit_t_dof_is_scipy_t_fit_mle(nu, n, seed):
    """Same maximum-likelihood estimate as scipy.stats.t.fit(z, floc=0), only faster."""
    z = np.random.default_rng(seed).standard_t(nu, size=n) * 1.7
    ref = stats.t.fit(z, floc=0)[0]
    assert fit_t_dof(z, nu_max=1e3) == pytest.approx(min(ref, 1e3), rel=2e-3)
