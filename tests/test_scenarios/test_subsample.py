"""Tail-stratified subsample: unbiased weights, and (synthetic) a CVaR that matches its closed form within its band."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.optimize import batch_half_width, cvar
from optimizer.scenarios import tail_stratified_rows


def _replicated_cvar(losses, rows, weights, alpha, r=10):
    """CVaR on each replication (scenario index mod r) and the full-sample figure."""
    g = rows % r
    per = [cvar(losses[g == b], alpha, None if weights is None else weights[g == b]) for b in range(r)]
    return cvar(losses, alpha, weights), float(batch_half_width(per))


def test_weights_are_probabilities_and_the_tail_is_kept(rng):
    score = rng.exponential(size=10_000)
    rows, w, n_tail = tail_stratified_rows(score, 2_000, rng=rng)
    assert rows.size == 2_000 and np.all(np.diff(rows) > 0) and n_tail == 1_000
    assert w.sum() == pytest.approx(1.0)
    top = np.argsort(-score)[:n_tail]
    assert np.isin(top, rows).all() and np.allclose(w[np.isin(rows, top)], 1 / 10_000)
    # the rest stands for the 9,000 others: 1,000 rows of probability 9 / 10,000 each
    assert np.allclose(w[~np.isin(rows, top)], 9_000 / (1_000 * 10_000))


def test_every_scenario_kept_when_n_covers_the_set(rng):
    rows, w, n_tail = tail_stratified_rows(np.ones(50), 80, rng=rng)
    assert np.array_equal(rows, np.arange(50)) and w is None and n_tail == 50


def test_weighted_mean_is_unbiased_for_any_function(rng):
    # synthetic: the mean of a function the score does not rank (|x - 1|) over many subsamples
    x = rng.exponential(size=5_000)
    f = np.abs(x - 1.0)
    means = []
    for _ in range(400):
        rows, w, _ = tail_stratified_rows(x, 500, rng=rng)
        means.append(float(w @ f[rows]))
    se = np.std(means) / np.sqrt(len(means))
    assert abs(np.mean(means) - f.mean()) < 4 * se


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stratified_cvar_matches_the_closed_form_within_its_band(seed):
    """Synthetic losses with a known tail: Exp(1), CVaR_alpha = 1 - log(1 - alpha).

    400,000 scenarios, 40,000 kept (half of them the highest of a noisy score, as the static bad
    debt ranks the simulated one), CVaR at 99.9 %: within its 95 % batch-means band of the closed
    form, and that band is under half the band of a uniform prefix of the same 40,000.
    """
    rng = np.random.default_rng(seed)
    alpha, n_all, n = 0.999, 400_000, 40_000
    losses = rng.exponential(size=n_all)
    score = losses * np.exp(0.3 * rng.standard_normal(n_all))  # ranks the tail, imperfectly
    truth = 1.0 - np.log(1.0 - alpha)
    rows, w, _ = tail_stratified_rows(score, n, rng=rng)
    est, band = _replicated_cvar(losses[rows], rows, w, alpha)
    assert abs(est - truth) <= band
    prefix = np.arange(n)
    _, band_prefix = _replicated_cvar(losses[prefix], prefix, None, alpha)
    assert band < 0.5 * band_prefix


def test_bad_arguments_are_named(rng):
    with pytest.raises(ValueError, match="`score` must be a non-empty finite"):
        tail_stratified_rows([1.0, np.nan], 1, rng=rng)
    with pytest.raises(ValueError, match="`n` must be an int >= 1"):
        tail_stratified_rows([1.0, 2.0], 0, rng=rng)
    with pytest.raises(ValueError, match="`tail_share` must lie in"):
        tail_stratified_rows([1.0, 2.0], 1, rng=rng, tail_share=1.0)
