"""impute_conditional: known answers at the two ends of the correlation, and its counts."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.scenarios._impute import MIN_DONORS, impute_conditional


def _panel(rng, n=400, young=150):
    """Student-t draws, each part (before and after ``young``) exactly centred with unit spread,
    so that every standardisation of x (all days, complete days) divides by 1."""
    x = rng.standard_t(5, size=n)
    for part in (slice(0, young), slice(young, n)):
        x[part] = (x[part] - x[part].mean()) / x[part].std()
    return x, young


def test_perfect_correlation_imputes_the_scaled_observed_residual(rng):
    """y = 2 x on the complete days (correlation 1): the imputed y is 2 x exactly (e = 0)."""
    x, young = _panel(rng)
    z = np.column_stack([x, 2.0 * x])
    z[:young, 1] = np.nan
    corr = np.array([[1.0, 1.0], [1.0, 1.0]])
    out = impute_conditional(z, corr, rng=np.random.default_rng(0))
    # B = 1 in standard units and every regression residual is 0: y = s_y * x / s_x = 2 x
    np.testing.assert_allclose(out.values[:young, 1], 2.0 * x[:young], rtol=1e-9, atol=1e-12)
    assert out.imputed[:young, 1].all() and not out.imputed[young:].any() and not out.imputed[:, 0].any()
    assert out.counts.tolist() == [0, young] and out.n_unfilled == 0
    assert out.r_squared[1] == pytest.approx(1.0)


def test_zero_correlation_imputes_a_resampled_complete_day(rng):
    """Correlation 0: the regression explains nothing, so each imputed cell is a donor day's y."""
    x, young = _panel(rng)
    y = rng.standard_t(5, size=x.size)
    z = np.column_stack([x, y])
    z[:young, 1] = np.nan
    out = impute_conditional(z, np.eye(2), rng=np.random.default_rng(3))
    donors = set(np.round(y[young:], 12))
    assert set(np.round(out.values[:young, 1], 12)) <= donors
    k = np.random.default_rng(3).integers(0, x.size - young, size=young)  # the documented draws
    np.testing.assert_allclose(out.values[:young, 1], y[young:][k], rtol=1e-12)
    assert out.r_squared[1] == pytest.approx(0.0)


def test_too_few_complete_days_imputes_nothing(rng):
    x, _ = _panel(rng, n=MIN_DONORS + 10, young=11)
    z = np.column_stack([x, x])
    z[:11, 1] = np.nan  # 29 complete days
    out = impute_conditional(z, np.eye(2), rng=np.random.default_rng(0))
    assert out.n_unfilled == 11 and not out.imputed.any()
    assert np.isnan(out.values[:11, 1]).all()
