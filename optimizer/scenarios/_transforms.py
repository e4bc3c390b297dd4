"""Transformations of a scenario set's terminal price relatives that change one driver at a time.

Used to attribute a change of the recommended thresholds to its drivers: each transform moves one
feature of the scenarios (an asset's volatility, its tail thickness, the correlation) to a
baseline value and keeps everything else, including each asset's mean price relative.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from optimizer.scenarios._generator import _factor
from optimizer.typing import FloatArray

__all__ = ["recolour", "remap_tail", "sample_correlation", "scale_volatility"]


def sample_correlation(x: FloatArray) -> FloatArray:
    """Sample correlation of the columns of ``x`` (n_scenarios, n_assets); 0 where undefined, 1 on the diagonal."""
    c = np.atleast_2d(np.corrcoef(x, rowvar=False))
    c = np.nan_to_num(c, nan=0.0)
    np.fill_diagonal(c, 1.0)
    return c


def _recentre(new: FloatArray, old: FloatArray) -> FloatArray:
    """Shift log returns ``new`` (per column) so their mean price relative equals that of ``old``."""
    shift = logsumexp(old, axis=0) - logsumexp(new, axis=0)
    return new + shift


def scale_volatility(terminal: FloatArray, i: int, factor: float) -> FloatArray:
    """Terminal relatives with asset ``i``'s log returns scaled by ``factor`` about their mean.

    The scaled column is shifted so its mean price relative is unchanged; the other assets are
    untouched.

    Parameters
    ----------
    terminal : ndarray of shape (n_scenarios, n_assets)
        Terminal price relatives (> 0).
    i : int
        Column of the asset.
    factor : float
        Multiplier of the asset's log-return dispersion.

    Returns
    -------
    ndarray of shape (n_scenarios, n_assets)
    """
    x = np.log(terminal)
    col = x[:, i]
    m = col.mean()
    new = m + factor * (col - m)
    out = x.copy()
    out[:, i] = _recentre(new[:, None], col[:, None])[:, 0]
    return np.exp(out)


def _unit_t_cdf_tail(z: FloatArray, nu: float) -> tuple[FloatArray, FloatArray]:
    """(lower-tail probability, upper-tail probability) of a unit-variance Student-t."""
    from scipy import stats

    scale = math.sqrt((nu - 2.0) / nu) if math.isfinite(nu) else 1.0
    t = z / scale
    if math.isfinite(nu):
        return stats.t.cdf(t, nu), stats.t.sf(t, nu)
    return stats.norm.cdf(t), stats.norm.sf(t)


def _unit_t_quantile(p_low: FloatArray, p_high: FloatArray, below: FloatArray, nu: float) -> FloatArray:
    from scipy import stats

    scale = math.sqrt((nu - 2.0) / nu) if math.isfinite(nu) else 1.0
    dist = stats.t(nu) if math.isfinite(nu) else stats.norm()
    tiny = 1e-300
    q = np.where(below, dist.ppf(np.maximum(p_low, tiny)), dist.isf(np.maximum(p_high, tiny)))
    return q * scale


def remap_tail(terminal: FloatArray, i: int, nu_from: float, nu_to: float) -> FloatArray:
    """Asset ``i``'s standardised log returns mapped quantile-for-quantile from t(nu_from) to t(nu_to).

    Both Student-t distributions have unit variance, so the mapping changes tail thickness, not
    the scale; ranks are kept, so the dependence with the other assets is unchanged.
    """
    for name, nu in (("nu_from", nu_from), ("nu_to", nu_to)):
        if not nu > 2:
            raise ValueError(f"`{name}` must be > 2 (unit-variance Student-t), got {nu!r}")
    x = np.log(terminal)
    col = x[:, i]
    m, s = col.mean(), col.std()
    if s <= 0:
        return terminal.copy()
    z = (col - m) / s
    lo, hi = _unit_t_cdf_tail(z, nu_from)
    new = m + s * _unit_t_quantile(lo, hi, z < 0, nu_to)
    out = x.copy()
    out[:, i] = _recentre(new[:, None], col[:, None])[:, 0]
    return np.exp(out)


def recolour(terminal: FloatArray, corr_to: FloatArray) -> FloatArray:
    """Terminal relatives whose standardised log returns have sample correlation ``corr_to``.

    ``z -> z A_now^{-T} A_to^T`` with ``A`` the Cholesky factors of the correlation now and of
    the target; each asset's mean and standard deviation are kept (and its mean relative).
    """
    x = np.log(terminal)
    m, s = x.mean(axis=0), x.std(axis=0)
    s_safe = np.where(s > 0, s, 1.0)
    z = (x - m) / s_safe
    a_to = _factor(np.asarray(corr_to, dtype=float))
    # z_new = z @ inv(A_now).T @ A_to.T: a triangular solve with the Cholesky factor when it
    # exists, the pseudo-inverse of a PSD square root when the correlation is singular
    now = sample_correlation(x)
    try:
        from scipy.linalg import solve_triangular

        w = solve_triangular(np.linalg.cholesky(now), z.T, lower=True).T
    except np.linalg.LinAlgError:
        w = z @ np.linalg.pinv(_factor(now)).T
    new = m + s_safe * (w @ a_to.T)
    new[:, s <= 0] = x[:, s <= 0]
    return np.exp(_recentre(new, x))
