"""The attribution's one-driver transforms of a scenario set (volatility, tails, correlation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from optimizer.scenarios import recolour, remap_tail, sample_correlation, scale_volatility


@pytest.fixture
def terminal(rng):
    c = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, 0.3], [0.2, 0.3, 1.0]])
    z = stats.t.rvs(4, size=(40_000, 3), random_state=rng) @ np.linalg.cholesky(c).T
    return np.exp(0.03 * z)


def test_scale_volatility(terminal):
    out = scale_volatility(terminal, 1, 2.0)
    x, y = np.log(terminal), np.log(out)
    assert y[:, 1].std() == pytest.approx(2 * x[:, 1].std(), rel=1e-9)
    np.testing.assert_array_equal(out[:, [0, 2]], terminal[:, [0, 2]])
    assert out[:, 1].mean() == pytest.approx(terminal[:, 1].mean(), rel=1e-12)  # same mean relative


def test_remap_tail_keeps_ranks_and_changes_kurtosis(terminal):
    same = remap_tail(terminal, 0, 4.0, 4.0)
    np.testing.assert_allclose(same, terminal, rtol=1e-9)
    thin = remap_tail(terminal, 0, 4.0, 30.0)
    assert np.array_equal(np.argsort(thin[:, 0]), np.argsort(terminal[:, 0]))
    assert stats.kurtosis(np.log(thin[:, 0])) < stats.kurtosis(np.log(terminal[:, 0]))
    with pytest.raises(ValueError, match="nu_to"):
        remap_tail(terminal, 0, 4.0, 2.0)


def test_recolour_hits_the_target_correlation(terminal):
    target = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.4], [0.5, 0.4, 1.0]])
    out = recolour(terminal, target)
    np.testing.assert_allclose(np.corrcoef(np.log(out), rowvar=False), target, atol=1e-10)
    np.testing.assert_allclose(np.log(out).std(axis=0), np.log(terminal).std(axis=0), rtol=1e-10)
    # a singular target (two assets perfectly correlated) still works through the PSD factor
    singular = np.array([[1.0, 1.0, 0.2], [1.0, 1.0, 0.2], [0.2, 0.2, 1.0]])
    out = recolour(terminal, singular)
    assert np.corrcoef(np.log(out), rowvar=False)[0, 1] == pytest.approx(1.0, abs=1e-8)


def test_sample_correlation_of_a_constant_column_is_zero_off_the_diagonal():
    x = np.column_stack([np.arange(5.0), np.ones(5), np.arange(5.0) ** 2])
    with np.errstate(invalid="ignore", divide="ignore"):
        c = sample_correlation(x)
    np.testing.assert_array_equal(np.diag(c), 1.0)
    assert c[0, 1] == 0.0 and c[1, 2] == 0.0 and c[0, 2] > 0.9
