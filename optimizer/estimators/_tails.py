"""Tail estimators: Student-t degrees of freedom, the Hill tail index, Student-t VaR/ES.

Pure functions on arrays. The Student-t used throughout riskopt is the **unit-variance** one: a draw
is ``sqrt((nu - 2) / nu) * T_nu``, so that ``sigma * z`` has standard deviation ``sigma``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from optimizer.estimators._validation import check_fraction, check_int
from optimizer.typing import FloatArray

#: Bounds applied to every fitted Student-t degrees of freedom. Below 2.5 the variance of the
#: unit-variance t is dominated by a handful of draws; above 50 the t is a normal for our purposes.
NU_MIN = 2.5
NU_MAX = 50.0

_MIN_OBS_T_FIT = 20
_LOG_NU_CAP = math.log(1e6)
_LOG_SCALE_CAP = 300.0


def _as_1d(x: Any, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        a = a.squeeze()
        if a.ndim != 1:
            raise ValueError(f"`{name}` must be 1-D, got an array of shape {np.shape(x)}")
    if not np.isfinite(a).all():
        raise ValueError(
            f"`{name}` has {int((~np.isfinite(a)).sum())} NaN or infinite value(s); drop them first"
        )
    return a


def _t_negloglik(theta: FloatArray, z2: FloatArray) -> tuple[float, FloatArray]:
    """Negative log-likelihood of a zero-location Student-t and its gradient.

    ``theta = (log nu, log scale)``; ``z2`` are the squared observations.
    """
    # clamp so a flat (near-Gaussian) likelihood cannot push exp() into overflow
    nu = math.exp(min(float(theta[0]), _LOG_NU_CAP))
    s = math.exp(float(np.clip(theta[1], -_LOG_SCALE_CAP, _LOG_SCALE_CAP)))
    n = z2.size
    u = z2 / (s * s)
    log1p_sum = float(np.log1p(u / nu).sum())
    w_sum = float((u / (nu + u)).sum())
    ll = (
        n
        * (
            special.gammaln(0.5 * (nu + 1.0))
            - special.gammaln(0.5 * nu)
            - 0.5 * math.log(nu * math.pi)
            - math.log(s)
        )
        - 0.5 * (nu + 1.0) * log1p_sum
    )
    d_nu = (
        n * 0.5 * (special.digamma(0.5 * (nu + 1.0)) - special.digamma(0.5 * nu) - 1.0 / nu)
        - 0.5 * log1p_sum
        + 0.5 * (nu + 1.0) / nu * w_sum
    )
    d_s = -n / s + (nu + 1.0) / s * w_sum
    return -float(ll), -np.array([d_nu * nu, d_s * s])


def fit_t_dof(z: Any, *, nu_min: float = NU_MIN, nu_max: float = NU_MAX) -> float:
    """Maximum-likelihood Student-t degrees of freedom of standardized residuals.

    The same estimate as ``scipy.stats.t.fit(z, floc=0)[0]`` (location fixed at 0, free scale,
    so the estimate describes the shape of the tails even when the residuals' variance is not
    exactly 1), then clipped. It is computed with an analytic gradient (BFGS on
    ``(log nu, log scale)``, started from the moment estimate ``4 + 6 / excess kurtosis``), 20-40x
    faster than ``scipy.stats.t.fit``: rolling backtests call it at every refit. (BFGS rather than
    L-BFGS-B: the latter calls BLAS on 2-vectors, which under a multi-threaded OpenBLAS on a busy
    machine cost ~50 ms per fit.)

    Parameters
    ----------
    z : array-like of shape (n_observations,)
        Standardized residuals, e.g. ``r_t / sigma_t``.
    nu_min, nu_max : float, default=2.5, 50.0
        Clipping bounds for the estimate.

    Returns
    -------
    float
        Degrees of freedom in ``[nu_min, nu_max]``.

    Raises
    ------
    ValueError
        If ``z`` is not 1-D and finite, has fewer than 20 observations or no variation.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.random.default_rng(0).standard_t(5, size=5000)
    >>> 4.0 < fit_t_dof(z) < 6.5
    True
    """
    a = _as_1d(z, "z")
    if a.size < _MIN_OBS_T_FIT:
        raise ValueError(
            f"fit_t_dof needs at least {_MIN_OBS_T_FIT} observations, got n_observations={a.size}"
        )
    if not np.any(a != a[0]):
        raise ValueError("`z` is constant; the Student-t degrees of freedom are not identified")
    if not 2.0 < nu_min <= nu_max:
        raise ValueError(f"need 2 < nu_min <= nu_max, got nu_min={nu_min}, nu_max={nu_max}")
    z2 = a * a
    m2 = float(z2.mean())
    excess = float((z2 * z2).mean()) / (m2 * m2) - 3.0
    nu0 = float(np.clip(4.0 + 6.0 / excess, 2.5, 30.0)) if excess > 0 else 30.0
    log_s0 = 0.5 * math.log(m2 * (nu0 - 2.0) / nu0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        res = optimize.minimize(
            _t_negloglik,
            np.array([math.log(nu0), log_s0]),
            args=(z2,),
            jac=True,
            method="BFGS",
        )
    nu = math.exp(min(float(res.x[0]), _LOG_NU_CAP))
    if not math.isfinite(nu):
        return float(nu_max)
    return float(np.clip(nu, nu_min, nu_max))


def hill_tail_index(x: Any, k: int | None = None) -> float:
    """Hill estimator of the tail index of the upper tail of ``x``.

    ``alpha_hat = 1 / mean(log(X_(i) / X_(k+1)))`` over the ``k`` largest order statistics. For a
    Student-t with ``nu`` degrees of freedom the tail index is ``nu``. Pass ``-returns`` for the
    loss tail or ``np.abs(returns)`` for both tails together.

    Parameters
    ----------
    x : array-like of shape (n_observations,)
        Sample.
    k : int, optional
        Number of upper order statistics used. Default ``floor(sqrt(n))``, a common compromise
        between bias (large ``k``) and variance (small ``k``).

    Returns
    -------
    float
        Estimated tail index (larger = thinner tail).

    Raises
    ------
    ValueError
        If ``x`` is not 1-D and finite, or ``k`` is not in ``[2, n - 1]``, or the ``(k+1)``-th
        largest value is not positive.
    """
    a = _as_1d(x, "x")
    n = a.size
    if k is None:
        k = int(np.floor(np.sqrt(n)))
    k = check_int(k, "k", minimum=2)
    if k > n - 1:
        raise ValueError(f"`k` must be <= n_observations - 1 = {n - 1}, got k={k}")
    top = np.sort(a)[::-1][: k + 1]
    threshold = top[k]
    if threshold <= 0:
        raise ValueError(
            f"the {k + 1}-th largest value of `x` is {threshold:.3g} <= 0; the Hill estimator "
            "needs a positive tail (pass -returns for losses, or use a smaller k)"
        )
    return float(1.0 / np.mean(np.log(top[:k] / threshold)))


def t_var_es(alpha: float, nu: Any) -> tuple[FloatArray, FloatArray]:
    """Value-at-Risk and Expected Shortfall of the unit-variance Student-t, as positive losses.

    With ``q = t_nu^{-1}(alpha)``: ``var = sqrt((nu-2)/nu) * q`` and
    ``es = sqrt((nu-2)/nu) * f_nu(q) / (1 - alpha) * (nu + q**2) / (nu - 1)``.
    Multiply by ``sigma`` for a return with conditional volatility ``sigma`` (zero mean).

    Parameters
    ----------
    alpha : float
        Confidence level in (0, 1), e.g. 0.99.
    nu : float or array-like
        Degrees of freedom, each > 2.

    Returns
    -------
    var : ndarray
        VaR per unit volatility, same shape as ``nu``.
    es : ndarray
        ES per unit volatility, same shape as ``nu``; ``es > var``.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1) or any ``nu <= 2``.
    """
    alpha = check_fraction(alpha, "alpha", low=0.0, high=1.0, closed="neither")
    nu_a = np.asarray(nu, dtype=np.float64)
    if not (np.isfinite(nu_a).all() and (nu_a > 2.0).all()):
        raise ValueError(f"`nu` must be finite and > 2 (unit variance), got nu={nu!r}")
    q = stats.t.ppf(alpha, nu_a)
    scale = np.sqrt((nu_a - 2.0) / nu_a)
    es = stats.t.pdf(q, nu_a) / (1.0 - alpha) * (nu_a + q**2) / (nu_a - 1.0)
    return np.asarray(scale * q), np.asarray(scale * es)
