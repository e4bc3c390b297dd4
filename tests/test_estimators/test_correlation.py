"""Correlation estimators and matrix repair."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.estimators import (
    EWMCorrelation,
    SampleCorrelation,
    ShrinkageCorrelation,
    nearest_correlation,
    stress_correlation,
)

TRUE_C = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])


@pytest.fixture(scope="module")
def correlated():
    """Known truth: 2000 Gaussian draws with correlation TRUE_C (seeded)."""
    rng = np.random.default_rng(8)
    return rng.standard_normal((2000, 3)) @ np.linalg.cholesky(TRUE_C).T


def _off(c):
    return c[np.triu_indices(c.shape[0], 1)]


def _assert_valid(c):
    assert np.array_equal(c, c.T)
    assert np.array_equal(np.diag(c), np.ones(c.shape[0]))
    np.linalg.cholesky(c)
    assert np.linalg.eigvalsh(c).min() > 0


@pytest.mark.parametrize("est", [SampleCorrelation(), EWMCorrelation(), ShrinkageCorrelation()])
def test_estimators_give_valid_correlations_near_truth(est, correlated):
    c = est.fit(correlated).correlation_
    _assert_valid(c)
    assert est.n_assets_ == 3 and est.asset_names_ == ["x0", "x1", "x2"]
    tol = 0.25 if isinstance(est, EWMCorrelation) else 0.06  # EWM: effective window ~ 33 days
    np.testing.assert_allclose(c, TRUE_C, atol=tol)
    assert not est.repaired_


def test_sample_correlation_is_pearson(correlated):
    np.testing.assert_allclose(
        SampleCorrelation().fit(correlated).correlation_, np.corrcoef(correlated.T), atol=1e-14
    )


def test_ewm_correlation_tracks_the_recent_regime():
    """Known truth: correlation +0.8 for 1000 days, then -0.8 for the last 200."""
    rng = np.random.default_rng(1)
    pos = rng.standard_normal((1000, 2)) @ np.linalg.cholesky([[1, 0.8], [0.8, 1]]).T
    neg = rng.standard_normal((200, 2)) @ np.linalg.cholesky([[1, -0.8], [-0.8, 1]]).T
    x = np.vstack([pos, neg])
    assert EWMCorrelation(lam=0.97).fit(x).correlation_[0, 1] < -0.6
    assert SampleCorrelation().fit(x).correlation_[0, 1] > 0.4


def test_shrinkage_lies_between_sample_and_identity():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 10)) @ np.linalg.cholesky(0.5 * np.eye(10) + 0.5).T
    sample = SampleCorrelation().fit(x).correlation_
    est = ShrinkageCorrelation().fit(x)
    assert 0.0 < est.shrinkage_ < 1.0
    # (1 - s) * sample + s * identity, entry by entry
    expected = (1 - est.shrinkage_) * _off(sample)
    np.testing.assert_allclose(_off(est.correlation_), expected, atol=1e-10)
    assert np.all(np.abs(_off(est.correlation_)) <= np.abs(_off(sample)) + 1e-12)


def test_nearest_correlation_matches_higham_example():
    """Higham (2002) / NAG G02AA example: the nearest correlation matrix is known to 4 decimals."""
    a = np.array([[2, -1, 0, 0], [-1, 2, -1, 0], [0, -1, 2, -1], [0, 0, -1, 2]], dtype=float)
    expected = np.array(
        [
            [1.0, -0.8084, 0.1916, 0.1068],
            [-0.8084, 1.0, -0.6562, 0.1916],
            [0.1916, -0.6562, 1.0, -0.8084],
            [0.1068, 0.1916, -0.8084, 1.0],
        ]
    )
    x = nearest_correlation(a)
    np.testing.assert_allclose(x, expected, atol=1e-4)
    _assert_valid(x)


def test_nearest_correlation_repairs_indefinite_matrix():
    c = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    assert np.linalg.eigvalsh(c).min() < 0
    x = nearest_correlation(c, min_eig=1e-6)
    _assert_valid(x)
    assert np.linalg.eigvalsh(x).min() >= 0.5e-6
    np.testing.assert_allclose(_off(x), [0.5, -0.5, 0.5], atol=1e-4)


def test_nearest_correlation_leaves_valid_matrix_alone():
    np.testing.assert_array_equal(nearest_correlation(TRUE_C), TRUE_C)


@pytest.mark.parametrize(
    ("c", "match"),
    [
        (np.ones((2, 3)), "square"),
        (np.array([[1.0, 0.2], [0.3, 1.0]]), "symmetric"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
    ],
)
def test_nearest_correlation_errors(c, match):
    with pytest.raises(ValueError, match=match):
        nearest_correlation(c)


def test_stress_correlation_is_monotone_and_pd():
    means = []
    for b in np.linspace(0.0, 1.0, 11):
        s = stress_correlation(TRUE_C, b)
        _assert_valid(s)
        means.append(_off(s).mean())
    assert np.all(np.diff(means) > 0)
    np.testing.assert_allclose(stress_correlation(TRUE_C, 0.0), TRUE_C)
    assert _off(stress_correlation(TRUE_C, 1.0)) == pytest.approx([0.999] * 3, abs=1e-6)


def test_stress_correlation_negative_entries_move_up():
    c = np.array([[1.0, -0.5], [-0.5, 1.0]])
    assert stress_correlation(c, 0.5)[0, 1] == pytest.approx(0.25)


@pytest.mark.parametrize("blend", [-0.1, 1.1, np.nan])
def test_stress_correlation_rejects_bad_blend(blend):
    with pytest.raises(ValueError, match=r"`blend` must be in \[0.0, 1.0\]"):
        stress_correlation(TRUE_C, blend)


def test_correlation_rejects_constant_column(correlated):
    x = correlated.copy()
    x[:, 1] = 0.3
    with pytest.raises(ValueError, match=r"\['x1'\] are constant"):
        SampleCorrelation().fit(x)


def test_real_residual_correlations(real_returns):
    """Standardized EWMA residuals of btc, eth, usdc, crv: majors correlate, usdc does not."""
    from optimizer.estimators import EWMAVolatility

    z = EWMAVolatility().fit(real_returns).residuals_
    for est in (SampleCorrelation(), EWMCorrelation(), ShrinkageCorrelation()):
        c = est.fit(z).correlation_
        _assert_valid(c)
        assert est.asset_names_ == ["btc", "eth", "usdc", "crv"]
    c = SampleCorrelation().fit(z).correlation_
    assert c[0, 1] > 0.7 and c[1, 3] > 0.5 and abs(c[0, 2]) < 0.2


# ---------------------------------------------------------------------------------------------
# Pure helpers of the attribution baselines
# ---------------------------------------------------------------------------------------------
def test_pairwise_correlation_uses_common_days_and_zeroes_short_pairs():
    import pandas as pd

    from optimizer.estimators import pairwise_correlation

    rng = np.random.default_rng(3)
    z = rng.standard_normal((400, 2))
    a = z[:, 0]
    b = 0.8 * z[:, 0] + 0.6 * z[:, 1]
    c = np.full(400, np.nan)
    c[:10] = rng.standard_normal(10)  # 10 common days < min_periods: correlation taken as 0
    b_short = b.copy()
    b_short[:200] = np.nan  # b only on the last 200 days: its pair with a uses those days
    panel = pd.DataFrame({"a": a, "b": b_short, "c": c})
    out = pairwise_correlation(panel, min_periods=30)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(np.diag(out), 1.0)
    np.testing.assert_allclose(out[0, 1], np.corrcoef(a[200:], b[200:])[0, 1], atol=1e-6)
    assert abs(out[0, 2]) < 1e-6 and abs(out[1, 2]) < 1e-6
    assert np.linalg.eigvalsh(out).min() > 0


def test_merge_correlation_takes_previous_pairs_and_fallback_elsewhere():
    from optimizer.estimators import merge_correlation

    fallback = np.array([[1.0, 0.1, 0.2], [0.1, 1.0, 0.3], [0.2, 0.3, 1.0]])
    # previous run knew c and a (in another order) and an asset no longer held
    prev_names = ("c", "x", "a")
    prev = np.array([[1.0, 0.0, 0.7], [0.0, 1.0, 0.0], [0.7, 0.0, 1.0]])
    out = merge_correlation(("a", "b", "c"), prev_names, prev, fallback)
    assert out[0, 2] == pytest.approx(0.7, abs=1e-9) and out[2, 0] == pytest.approx(0.7, abs=1e-9)
    assert out[0, 1] == pytest.approx(0.1, abs=1e-9) and out[1, 2] == pytest.approx(0.3, abs=1e-9)
    np.testing.assert_array_equal(fallback[0, 2], 0.2)  # the fallback is not modified


def test_mean_offdiagonal():
    from optimizer.estimators import mean_offdiagonal

    c = np.array([[1.0, 0.2, 0.6], [0.2, 1.0, 0.4], [0.6, 0.4, 1.0]])
    assert mean_offdiagonal(c, 0) == pytest.approx(0.4)
    assert mean_offdiagonal(c, 1) == pytest.approx(0.3)
    assert mean_offdiagonal(np.eye(1), 0) is None
