"""Closed-form reference thresholds to compare the optimizer against.

Pure functions, vectorised over assets with numpy broadcasting: pass arrays of per-asset values
(or scalars).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from optimizer.protocol.mechanics import recovery_factor
from optimizer.typing import FloatArray

__all__ = ["analytic_threshold", "implied_volatility", "smart_ltv"]


def analytic_threshold(
    sigma_daily: npt.ArrayLike,
    horizon: npt.ArrayLike,
    nu: npt.ArrayLike,
    eps: float,
    bonus: npt.ArrayLike,
    slippage: npt.ArrayLike = 0.0,
    debt_sigma: npt.ArrayLike = 0.0,
    rho: npt.ArrayLike = 0.0,
) -> FloatArray:
    """Liquidation threshold breached by the recovery with probability ``eps`` over the horizon.

    Model: the log price relative of collateral against the debt over ``horizon`` days is one
    Student-t shock with ``nu`` degrees of freedom, scaled to unit variance and to the volatility
    ``sigma_rel * sqrt(horizon)``, where ``sigma_rel**2 = sigma**2 + debt_sigma**2
    - 2 rho sigma debt_sigma`` (daily volatilities of the two legs and their correlation). The
    recovery per USD of debt is ``k = (1 - slippage) / (1 + bonus) * exp(X)``, and the threshold
    ``LT`` solves ``P(k < LT) = eps``:

        LT = (1 - slippage) / (1 + bonus) * exp(q_eps),
        q_eps = sigma_rel sqrt(horizon) sqrt((nu - 2) / nu) t_nu^{-1}(eps).

    ``q_eps`` is the root of ``F(q) = eps`` for the shock's CDF ``F``; the t quantile function
    gives it in closed form (identical to a ``scipy.optimize.brentq`` root of the CDF, which the
    tests check). ``nu = inf`` gives a normal shock.

    Parameters
    ----------
    sigma_daily : float or ndarray of shape (n_assets,)
        Daily volatility of the collateral's log returns (0.03 = 3 %).
    horizon : float or ndarray of shape (n_assets,)
        Liquidation horizon in days (> 0).
    nu : float or ndarray of shape (n_assets,)
        Student-t degrees of freedom, > 2 (``numpy.inf`` for a normal).
    eps : float
        Probability in (0, 1) that the recovery falls below the threshold.
    bonus : float or ndarray of shape (n_assets,)
        Liquidation bonus (0.05 = 5 %).
    slippage : float or ndarray of shape (n_assets,)
        Price impact of selling the seized collateral, in [0, 1).
    debt_sigma : float or ndarray of shape (n_assets,)
        Daily volatility of the debt asset (0 for a stable debt).
    rho : float or ndarray of shape (n_assets,)
        Correlation of collateral and debt log returns, in [-1, 1].

    Returns
    -------
    ndarray of shape (n_assets,)
        Thresholds, fractions (a 0-d array for scalar inputs).

    Examples
    --------
    >>> round(float(analytic_threshold(0.04, 1, 4.0, 0.01, 0.05)), 4)
    0.8566
    """
    sig = np.asarray(sigma_daily, dtype=np.float64)
    dsig = np.asarray(debt_sigma, dtype=np.float64)
    r = np.asarray(rho, dtype=np.float64)
    df = np.asarray(nu, dtype=np.float64)
    b = np.asarray(bonus, dtype=np.float64)
    s = np.asarray(slippage, dtype=np.float64)
    if np.any(sig < 0) or np.any(dsig < 0):
        raise ValueError(f"`sigma_daily` and `debt_sigma` must be >= 0, got {sig!r}, {dsig!r}")
    h = np.asarray(horizon, dtype=np.float64)
    if np.any(~(h > 0)):
        raise ValueError(f"`horizon` must be > 0 days, got horizon={horizon!r}")
    if np.any(~(df > 2)):
        raise ValueError(f"`nu` must be > 2 (unit-variance Student-t), got nu={nu!r}")
    if not 0 < eps < 1:
        raise ValueError(f"`eps` must be in (0, 1), got eps={eps!r}")
    if np.any(b < 0) or np.any((s < 0) | (s >= 1)) or np.any(np.abs(r) > 1):
        raise ValueError(
            "need bonus >= 0, 0 <= slippage < 1 and -1 <= rho <= 1, "
            f"got {bonus!r}, {slippage!r}, {rho!r}"
        )
    sigma_rel = np.sqrt(np.maximum(sig**2 + dsig**2 - 2.0 * r * sig * dsig, 0.0))
    unit = np.where(np.isfinite(df), np.sqrt((df - 2.0) / np.where(np.isfinite(df), df, 1.0)), 1.0)
    z = np.where(
        np.isfinite(df), stats.t.ppf(eps, np.where(np.isfinite(df), df, 3.0)), stats.norm.ppf(eps)
    )
    q = sigma_rel * np.sqrt(h) * unit * z
    return np.asarray(recovery_factor(b, s) * np.exp(q), dtype=np.float64)


def smart_ltv(
    sigma: npt.ArrayLike,
    liquidity_usd: npt.ArrayLike,
    debt_usd: npt.ArrayLike,
    bonus: npt.ArrayLike,
    c: float = 2.33,
) -> FloatArray:
    """RiskDAO's SmartLTV: ``LTV = exp(-c sigma / sqrt(l / d)) - bonus``, clipped to [0, 1).

    The formula sizes the loan-to-value so that the collateral still covers the debt after the
    price has moved ``c`` standard deviations against it during the time needed to liquidate.

    * ``sigma``: volatility of the collateral's log price per unit of time in which ``l`` USD can
      be sold at a slippage no worse than the bonus (e.g. daily vol with daily DEX liquidity).
      Liquidating ``d`` USD takes ``d / l`` such units, so ``sigma / sqrt(l / d)`` is the
      volatility over the liquidation horizon.
    * ``c``: the confidence factor, the number of those standard deviations covered; larger is
      more conservative (2.33 covers 99 % of normal moves; the default here, not RiskDAO's).
    * ``bonus``: the liquidation incentive paid out of the collateral.

    Parameters
    ----------
    sigma : float or ndarray of shape (n_assets,)
        Volatility per liquidity period (>= 0).
    liquidity_usd : float or ndarray of shape (n_assets,)
        USD sellable per period within the bonus as slippage (>= 0).
    debt_usd : float or ndarray of shape (n_assets,)
        USD of debt backed by the collateral (>= 0).
    bonus : float or ndarray of shape (n_assets,)
        Liquidation bonus (0.05 = 5 %).
    c : float
        Confidence factor (> 0).

    Returns
    -------
    ndarray of shape (n_assets,)
        LTV per asset in [0, 1): 0 when there is debt but no liquidity.

    Examples
    --------
    >>> round(float(smart_ltv(0.05, 1e6, 4e6, 0.05)), 4)
    0.7422
    """
    sig = np.asarray(sigma, dtype=np.float64)
    liq = np.asarray(liquidity_usd, dtype=np.float64)
    debt = np.asarray(debt_usd, dtype=np.float64)
    b = np.asarray(bonus, dtype=np.float64)
    if np.any(sig < 0) or np.any(liq < 0) or np.any(debt < 0) or np.any(b < 0):
        raise ValueError("`sigma`, `liquidity_usd`, `debt_usd` and `bonus` must be >= 0")
    if not c > 0:
        raise ValueError(f"`c` must be > 0, got c={c!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        horizon_sigma = np.where(debt > 0, sig * np.sqrt(debt / liq), 0.0)
    horizon_sigma = np.where(np.isnan(horizon_sigma), np.inf, horizon_sigma)
    ltv = np.exp(-c * horizon_sigma) - b
    return np.asarray(np.clip(ltv, 0.0, np.nextafter(1.0, 0.0)), dtype=np.float64)


def implied_volatility(
    lt: float,
    *,
    horizon: float,
    nu: float,
    eps: float,
    bonus: float,
    slippage_per_sigma: float,
    max_slippage: float,
    upper: float = 2.0,
) -> float | None:
    """Daily volatility at which the analytic per-asset threshold equals ``lt``; None if none.

    The inverse of :func:`analytic_threshold` in its volatility. The slippage follows the static
    slippage law (:class:`~optimizer.protocol.liquidity.DepthSlippage`), linear in sigma:
    ``slippage = min(slippage_per_sigma * sigma, max_slippage)``. The analytic threshold falls
    from ``1 / (1 + bonus)`` at sigma = 0 as sigma grows, so a root exists when ``lt`` is below
    that and above the threshold at ``upper`` (a daily volatility of 200 %).
    """

    def f(s: float) -> float:
        slip = min(slippage_per_sigma * s, max_slippage)
        return float(analytic_threshold(s, horizon, nu, eps, bonus, slip)) - lt

    if not (lt > 0) or f(0.0) <= 0.0 or f(upper) >= 0.0:
        return None
    return float(optimize.brentq(f, 0.0, upper, xtol=1e-12, rtol=1e-10))
