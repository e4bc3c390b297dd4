"""Monte Carlo bands by batch means: the half-width formula, and (synthetic) a guard's band that covers its closed form."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.optimize import ThresholdBounds, ThresholdProblem, batch_half_width, fund_band, threshold_band
from optimizer.protocol.book import Book
from optimizer.protocol.liquidity import DepthSlippage, sqrt_law_curve
from optimizer.protocol.params import RiskParams
from optimizer.protocol.sale import share_sale

ASSETS = ("eth", "usdc")
ALPHA, BONUS, SHARE = 0.99, 0.05, 0.05
#: eth's relative ~ U(0.5, 1.5) against usdc debt, no slippage: k = r / (1 + bonus) ~ U(a, b)
A, B = 0.5 / (1 + BONUS), 1.5 / (1 + BONUS)
Q = A + (1 - ALPHA) * (B - A)  # the 1 - alpha quantile of k
#: the guard: CVaR_alpha((x - k)+) = x - E[k | k <= Q] = x - (A + Q) / 2 <= SHARE
TRUE_CAP = SHARE + (A + Q) / 2


def _problem(n: int, seed: int, comonotone_share: float = 0.0) -> ThresholdProblem:
    rng = np.random.default_rng(seed)
    terminal = np.column_stack([rng.uniform(0.5, 1.5, n), np.ones(n)])
    book = Book.from_dense(ASSETS, collateral=np.array([[1e6, 0.0]]), debt=np.array([[0.0, 5e5]]))
    cur = RiskParams(assets=ASSETS, ltv=np.full(2, 0.7), liquidation_threshold=np.full(2, 0.75),
                     liquidation_bonus=np.full(2, BONUS))
    xs, ys = sqrt_law_curve(2e8, coef=0.0)
    return ThresholdProblem.build(
        terminal, book, cur, has_current=(False, False), bonus=np.full(2, BONUS), sigma_daily=np.full(2, 0.04),
        slippage_law=DepthSlippage((xs, xs), (ys, ys), np.ones(2)), sale=share_sale(book, 0.25),
        bounds=ThresholdBounds(lt_min=0.3, lt_max=0.95, ltv_buffer=0.05), alpha=ALPHA, asset_share=SHARE,
        budget_usd=1e9, comonotone_share=comonotone_share,
    )


def test_half_width_is_students_t_over_root_r():
    x = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [4.0, 10.0]])
    # sd 1.2910, t_{0.975, 3} = 3.1824, sqrt(4) = 2
    np.testing.assert_allclose(batch_half_width(x), [3.1824463 * 1.2909944 / 2, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="at least 2 batches"):
        batch_half_width([1.0])


def test_batches_equal_but_for_their_last_bits_have_no_band():
    # an LT held at a bound in every batch, reached along different float paths (CRV: 4e-17 before)
    held = 0.41 + np.array([0.0, 5.6e-17, 0.0, -5.6e-17])
    assert batch_half_width(held) == 0.0
    # a spread of a few parts in a billion is Monte Carlo variation, however small, and is kept
    moved = 0.41 * (1 + np.array([0.0, 3e-9, -2e-9, 1e-9]))
    assert 0.0 < batch_half_width(moved) < 1e-8


def test_guard_band_covers_the_closed_form_and_shrinks_with_n():
    """Synthetic: a guard-bound threshold with a known value inside its 95 % band, the band
    quartering as N grows 16-fold (1 / sqrt(N))."""
    p = _problem(20_000, 0)
    band = threshold_band(p, n_batches=10)
    lt = p.solve().lt[0]
    assert lt == pytest.approx(p.caps[0])  # the guard binds (the budget is loose)
    assert abs(lt - TRUE_CAP) <= band.half_width[0]
    assert band.batches.shape == (10, 2) and band.method == "batch means"
    big = threshold_band(_problem(320_000, 1), n_batches=10).half_width[0]
    assert 0.12 < big / band.half_width[0] < 0.5  # 1 / sqrt(16) = 0.25


@pytest.mark.slow
def test_guard_band_coverage_over_independent_problems():
    """Synthetic: over 12 independent problems the 95 % band covers the closed form at least 9
    times (binomial(12, 0.95) gives fewer than 9 with probability < 0.3 %)."""
    covered = 0
    for seed in range(100, 112):
        p = _problem(20_000, seed)
        covered += abs(p.solve().lt[0] - TRUE_CAP) <= threshold_band(p, n_batches=10).half_width[0]
    assert covered >= 9


def test_band_of_a_stressed_mixture_rebuilds_it_per_replication():
    p = _problem(20_000, 0, comonotone_share=0.3)
    band = threshold_band(p, n_batches=5)
    assert np.all(np.isfinite(band.half_width)) and band.n_batches == 5


def test_fund_band_groups_paths_by_scenario_index():
    rng = np.random.default_rng(0)
    losses = rng.exponential(size=50_000)
    band = fund_band(losses, np.arange(50_000), epsilon=0.01, confidence=0.99, n_batches=10)
    # ES_0.99 of Exp(1) is 1 + log(100); its standard error at n = 50,000 is about 0.045
    assert 0.03 < band.half_width[0] < 0.2
    with pytest.raises(ValueError, match="replication 3 of 10 has no path"):
        fund_band(losses[:3], np.array([0, 1, 2]), epsilon=0.01, confidence=0.99, n_batches=10)
    with pytest.raises(ValueError, match="`n_batches` must lie in"):
        threshold_band(_problem(1_000, 0), n_batches=11)


def test_loss_band_of_the_bad_debt_measures():
    """Synthetic losses whose measures' standard errors are known: 10 % of paths lose Exp(1)."""
    from optimizer.optimize import LOSS_BAND_FIELDS, loss_band

    rng = np.random.default_rng(1)
    n = 100_000
    losses = np.where(rng.random(n) < 0.1, rng.exponential(size=n), 0.0)
    band = loss_band(losses, np.arange(n), alpha=0.99, fund_usd=3.0, n_batches=10)
    hw = dict(zip(LOSS_BAND_FIELDS, band.half_width, strict=True))
    assert band.batches.shape == (10, 5)
    # mean 0.1 with sd sqrt(0.2 - 0.01): standard error 0.00138, 95 % half-width about 0.0027
    assert 0.001 < hw["bad_debt_mean_usd"] < 0.006
    # P(loss > 0) = 0.1: standard error 0.00095; the band is of the same order
    assert 0.0007 < hw["prob_bad_debt"] < 0.004
    assert hw["bad_debt_cvar_usd"] > 0 and hw["bad_debt_var_usd"] > 0
    # equal weights given explicitly change nothing; a loss the same on every path has no band
    same = loss_band(losses, np.arange(n), alpha=0.99, fund_usd=3.0, weights=np.full(n, 1 / n), n_batches=10)
    np.testing.assert_allclose(same.half_width, band.half_width, rtol=1e-9)
    flat = loss_band(np.ones(1_000), np.arange(1_000), alpha=0.99, fund_usd=3.0, n_batches=10)
    assert np.all(flat.half_width == 0.0)
