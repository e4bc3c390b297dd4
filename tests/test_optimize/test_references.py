"""Closed-form references: monotonicity, a brentq cross-check, limits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from optimizer.optimize import analytic_threshold, smart_ltv


def test_analytic_matches_brentq_on_t_cdf() -> None:
    sigma, h, nu, eps, b, s = 0.04, 3.0, 4.0, 0.01, 0.05, 0.02
    scale = sigma * np.sqrt(h) * np.sqrt((nu - 2) / nu)
    q = optimize.brentq(lambda x: stats.t.cdf(x / scale, nu) - eps, -5.0, 0.0, xtol=1e-14)
    expected = (1 - s) / (1 + b) * np.exp(q)
    assert float(analytic_threshold(sigma, h, nu, eps, b, s)) == pytest.approx(expected, rel=1e-10)


def test_analytic_monotone() -> None:
    lt = analytic_threshold(np.array([0.02, 0.04, 0.08]), 1.0, 4.0, 0.01, 0.05)
    assert np.all(np.diff(lt) < 0)  # more volatility, lower threshold
    hz = [float(analytic_threshold(0.04, h, 4.0, 0.01, 0.05)) for h in (1, 3, 10)]
    assert hz[0] > hz[1] > hz[2]
    ep = [float(analytic_threshold(0.04, 2, 4.0, e, 0.05)) for e in (0.001, 0.01, 0.05)]
    assert ep[0] < ep[1] < ep[2]


def test_analytic_limits() -> None:
    ceiling = 0.98 / 1.05
    # a stable pair (debt moves one for one with the collateral) never breaches the ceiling
    same = analytic_threshold(0.05, 5.0, 4.0, 0.01, 0.05, 0.02, debt_sigma=0.05, rho=1.0)
    assert float(same) == pytest.approx(ceiling, rel=1e-12)
    normal = analytic_threshold(0.04, 1.0, np.inf, 0.01, 0.05)
    assert float(normal) == pytest.approx(np.exp(0.04 * stats.norm.ppf(0.01)) / 1.05, rel=1e-12)
    # fatter tails at the same variance give a lower threshold at a 0.1 % breach probability
    assert float(analytic_threshold(0.04, 1.0, 3.0, 0.001, 0.05)) < float(normal)
    assert analytic_threshold([0.02, 0.03], 1.0, [4.0, 5.0], 0.01, [0.05, 0.1]).shape == (2,)


def test_analytic_errors() -> None:
    with pytest.raises(ValueError, match=r"`nu` must be > 2"):
        analytic_threshold(0.04, 1.0, 2.0, 0.01, 0.05)
    with pytest.raises(ValueError, match=r"`eps` must be in \(0, 1\), got eps=0"):
        analytic_threshold(0.04, 1.0, 4.0, 0, 0.05)
    with pytest.raises(ValueError, match=r"`horizon` must be > 0 days"):
        analytic_threshold(0.04, 0.0, 4.0, 0.01, 0.05)


def test_smart_ltv() -> None:
    ltv = smart_ltv(np.array([0.02, 0.05, 0.10]), 1e6, 4e6, 0.05)
    assert np.all(np.diff(ltv) < 0)  # more volatility, lower LTV
    assert float(smart_ltv(0.05, 1e6, 4e6, 0.05)) == pytest.approx(
        np.exp(-2.33 * 0.05 * 2.0) - 0.05
    )
    deeper = smart_ltv(0.05, [1e6, 4e6, 16e6], 4e6, 0.05)
    assert np.all(np.diff(deeper) > 0)  # more liquidity, higher LTV
    assert float(smart_ltv(0.05, 0.0, 1e6, 0.05)) == 0.0  # debt without liquidity
    assert float(smart_ltv(0.05, 1e6, 0.0, 0.05)) == pytest.approx(0.95)  # no debt: only the bonus
    assert float(smart_ltv(5.0, 1e6, 4e6, 0.05)) == 0.0  # clipped at 0
    assert float(smart_ltv(0.05, 1e6, 4e6, 0.05, c=4.0)) < float(
        smart_ltv(0.05, 1e6, 4e6, 0.05, c=2.0)
    )
    with pytest.raises(ValueError, match=r"`c` must be > 0"):
        smart_ltv(0.05, 1e6, 4e6, 0.05, c=0.0)


def test_implied_volatility_inverts_the_analytic_threshold() -> None:
    from optimizer.optimize.references import implied_volatility

    s = implied_volatility(0.8, horizon=2, nu=4.0, eps=0.01, bonus=0.05, slippage_per_sigma=0.5, max_slippage=0.5)
    assert s is not None
    assert float(analytic_threshold(s, 2, 4.0, 0.01, 0.05, 0.5 * s)) == pytest.approx(0.8, abs=1e-9)
    # above the zero-volatility bound 1 / (1 + bonus) there is no implied level
    assert implied_volatility(0.96, horizon=2, nu=4.0, eps=0.01, bonus=0.05, slippage_per_sigma=0.5,
                              max_slippage=0.5) is None
