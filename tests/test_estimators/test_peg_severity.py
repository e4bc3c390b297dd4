"""Severity of depegs: the GPD fit on synthetic data with known parameters, the mixture's quantile
function, and the severity evidence. Synthetic data only: the true answer must be known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from optimizer.estimators import fit_gpd, fit_peg_severity, severity_evidence


@pytest.mark.parametrize("xi,sigma", [(0.25, 0.03), (-0.2, 0.05), (0.0, 0.02)])
def test_gpd_fit_recovers_known_parameters_on_synthetic_data(xi, sigma):
    y = stats.genpareto.rvs(xi, scale=sigma, size=5_000, random_state=np.random.default_rng(7))
    xi_hat, sigma_hat = fit_gpd(y, xi_bounds=(-0.5, 1.0))  # wide bounds: the plain MLE
    se_xi = (1 + xi) / math.sqrt(y.size)
    assert abs(xi_hat - xi) < 4 * se_xi
    assert sigma_hat == pytest.approx(sigma, rel=0.08)


def test_default_bounds_hold_a_power_law_at_an_exponential_tail():
    y = stats.genpareto.rvs(0.4, scale=0.02, size=2_000, random_state=np.random.default_rng(8))
    xi, sigma = fit_gpd(y)
    assert xi == 0.0 and sigma > 0.02  # the exponential's scale takes up part of the heavier tail


def test_gpd_shape_is_held_in_its_bounds():
    # three large and four small exceedances: the unconstrained MLE runs to xi < -1 (end point at the maximum)
    y = np.array([0.0034, 0.0096, 0.0104, 0.0332, 0.1076, 0.1076, 0.1191])
    assert stats.genpareto.fit(y, floc=0)[0] < -1
    xi, sigma = fit_gpd(y)
    assert xi == pytest.approx(-0.5) and sigma / 0.5 > y.max()  # the end point lies beyond the data


def test_mixture_quantile_function_is_monotone_and_matches_its_cdf():
    rng = np.random.default_rng(3)
    below = np.exp(-(math.log(1 / 0.98) + stats.genpareto.rvs(0.2, scale=0.03, size=40, random_state=rng)))
    above = np.exp(math.log(1.02) + stats.genpareto.rvs(0.1, scale=0.01, size=30, random_state=rng))
    body = rng.uniform(0.985, 1.015, size=30)
    sev = fit_peg_severity(np.concatenate([below, above, body]), threshold=0.02, method="gpd")
    assert sev.below.n == 40 and sev.above.n == 30 and sev.shares == pytest.approx((0.4, 0.3, 0.3))
    u = np.linspace(0.001, 0.999, 500)
    x = sev.ppf(u)
    assert np.all(np.diff(x) >= 0) and np.all(x > 0)
    for uu in (0.01, 0.2, 0.5, 0.9, 0.99):
        assert sev.cdf(float(sev.ppf(np.array([uu]))[0])) == pytest.approx(uu, abs=0.011)
    emp = fit_peg_severity(np.concatenate([below, above, body]), threshold=0.02, method="empirical")
    assert emp.below is None and set(emp.ppf(u)) <= set(emp.moves)


def test_weighted_and_stratified_quantile_matches_the_plain_one_at_large_n():
    """Synthetic: the stratified design's quantile equals the iid one's within MC error at large n."""
    rng = np.random.default_rng(5)
    moves = np.exp(-(math.log(1 / 0.98) + stats.genpareto.rvs(0.2, scale=0.03, size=60, random_state=rng)))
    sev = fit_peg_severity(moves, threshold=0.02, method="gpd")
    n = 400_000
    strat = sev.ppf((rng.permutation(n) + rng.random(n)) / n)
    iid = sev.ppf(rng.random(n))
    for q in (0.01, 0.1, 0.5):
        assert np.quantile(strat, q) == pytest.approx(np.quantile(iid, q), rel=0.01)
        assert np.quantile(strat, q) == pytest.approx(float(sev.ppf(np.array([q]))[0]), rel=1e-3)


def test_evidence_compares_both_models_with_leave_one_out_ranges():
    rng = np.random.default_rng(9)
    moves = np.concatenate([np.exp(-(0.0202 + stats.genpareto.rvs(0.1, scale=0.03, size=12, random_state=rng))),
                            rng.uniform(0.985, 1.015, 8)])
    fits = {m: fit_peg_severity(moves, threshold=0.02, method=m) for m in ("gpd", "empirical")}
    ev = severity_evidence(fits, moves, 20.0, 2, q=0.001, chosen="gpd")
    for m in ("gpd", "empirical"):
        lo, hi = ev.loo[m]
        assert lo <= ev.conditional[m] <= hi < 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        fit_peg_severity(np.array([0.9]), threshold=0.02, method="pot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        fit_peg_severity(np.array([0.9]), threshold=0.0)
    with pytest.raises(ValueError, match="exceedances"):
        fit_gpd(np.array([0.1]))
