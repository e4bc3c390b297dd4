"""Risk measures of a loss distribution given by scenarios: VaR, CVaR, exceedance probabilities.

Pure numpy functions (no state, no solver). Losses are positive numbers (bad debt in USD); the
measures look at the right tail.

Conventions
-----------
Scenario ``s`` has probability ``p_s = weights_s / sum(weights)`` (``1 / N`` when ``weights``
is None).

* ``var(L, alpha)`` is the lower alpha-quantile ``inf{x : P(L <= x) >= alpha}``. Equivalently, the
  smallest ``x`` with ``P(L > x) <= 1 - alpha``: an insurance fund of size ``var(L, 1 - eps)`` is
  exceeded with probability at most ``eps``, and any smaller fund more often.
* ``cvar(L, alpha)`` is the Rockafellar-Uryasev value
  ``min_t t + E[(L - t)+] / (1 - alpha)``, attained at ``t = var(L, alpha)``. It is the mean of the
  worst ``1 - alpha`` probability mass of the losses, where the scenario at the VaR contributes the
  fraction of its probability needed to fill the mass exactly (the "fractional atom"); so it is
  exact for any N and any weights, not only when ``(1 - alpha) N`` is an integer.

A relative tolerance of ``1e-12`` on cumulative probabilities absorbs rounding when
``alpha * N`` is an integer (``0.99 * 100`` is ``98.99999999999999`` in floating point); the CVaR
does not depend on it because the RU objective is flat between the two candidate VaRs then.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from optimizer.typing import FloatArray

__all__ = ["capital_efficiency", "cvar", "prob_exceeds", "tail_probabilities", "tail_shares", "var", "var_cvar"]

_CUM_TOL = 1e-12


def _check_losses(losses: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"`losses` must be 1-D (n_scenarios,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("`losses` is empty; pass at least one scenario")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"`losses` must be finite, got {arr[bad]} at scenario {bad}")
    return arr


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    a = float(alpha)
    if not 0.0 <= a < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1), got {name}={alpha!r}")
    return a


def tail_probabilities(weights: npt.ArrayLike | None, n_scenarios: int) -> FloatArray:
    """Normalised scenario probabilities.

    Parameters
    ----------
    weights : array-like of shape (n_scenarios,) or None
        Non-negative scenario weights with a positive sum; None means equal weights.
    n_scenarios : int
        Expected length.

    Returns
    -------
    ndarray of shape (n_scenarios,)
        Probabilities summing to one.
    """
    if weights is None:
        return np.full(n_scenarios, 1.0 / n_scenarios)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_scenarios,):
        raise ValueError(f"`weights` must have shape ({n_scenarios},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("`weights` must be finite and >= 0")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"`weights` must have a positive sum, got {total}")
    return w / total


def _sorted(losses: FloatArray, p: FloatArray) -> tuple[FloatArray, FloatArray]:
    order = np.argsort(losses, kind="stable")
    return losses[order], np.cumsum(p[order])


def _quantile_index(cum: FloatArray, alpha: float) -> int:
    return min(int(np.searchsorted(cum, alpha * (1.0 - _CUM_TOL), side="left")), cum.size - 1)


@lru_cache(maxsize=64)
def _equal_quantile_index(n: int, p0: float, alpha: float) -> int:
    """:func:`_quantile_index` of ``n`` equal probabilities ``p0`` (their cumulative sum, once)."""
    return _quantile_index(np.cumsum(np.full(n, p0)), alpha)


def _quantile_and_max(arr: FloatArray, p: FloatArray, alpha: float) -> tuple[float, float]:
    """``(lower alpha-quantile, largest loss)`` of ``arr`` under probabilities ``p``.

    With equal probabilities the cumulative sum does not depend on the order, so the quantile's
    position is known before sorting and a selection (O(n)) finds the very element the sort
    would put there: the same value, at a fraction of the cost (the bisections of the threshold
    program evaluate the CVaR thousands of times). A zero quantile takes the sort: +0.0 and -0.0
    tie there, and the stable sort's pick is the one the results were always computed with.
    """
    if np.all(p == p[0]):
        i = _equal_quantile_index(arr.size, float(p[0]), alpha)
        # losses are mostly 0: when the quantile lies among the positive ones, select there
        pos = arr[arr > 0.0]
        below = arr.size - pos.size  # all <= every positive loss
        if i >= below:
            return float(np.partition(pos, i - below)[i - below]), float(pos.max())
        t = float(np.partition(arr, i)[i])
        if t != 0.0:
            return t, float(arr.max())
    srt, cum = _sorted(arr, p)
    return float(srt[_quantile_index(cum, alpha)]), float(srt[-1])


def var_cvar(
    losses: npt.ArrayLike, alpha: float, weights: npt.ArrayLike | None = None
) -> tuple[float, float]:
    """``(var(losses, alpha), cvar(losses, alpha))`` from a single sort.

    Parameters
    ----------
    losses : array-like of shape (n_scenarios,)
        Loss per scenario.
    alpha : float
        Confidence level in [0, 1).
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights; None means equal weights.

    Returns
    -------
    tuple of float
        VaR and CVaR.
    """
    a = _check_alpha(alpha)
    arr = _check_losses(losses)
    p = tail_probabilities(weights, arr.size)
    t, top = _quantile_and_max(arr, p, a)
    excess = np.maximum(arr - t, 0.0)
    value = t + float(p @ excess) / (1.0 - a)
    # rounding in the division must not push the CVaR past its bounds
    return t, float(min(max(value, t), top))


def var(losses: npt.ArrayLike, alpha: float, weights: npt.ArrayLike | None = None) -> float:
    """Value at risk: the lower ``alpha``-quantile of the losses.

    Parameters
    ----------
    losses : array-like of shape (n_scenarios,)
        Loss per scenario (positive = loss).
    alpha : float
        Confidence level in [0, 1), e.g. 0.99.
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights (normalised here); None means equal weights.

    Returns
    -------
    float
        ``inf{x : P(L <= x) >= alpha}``.

    Examples
    --------
    >>> var([0.0, 1.0, 2.0, 3.0], 0.5)
    1.0
    """
    a = _check_alpha(alpha)
    arr = _check_losses(losses)
    p = tail_probabilities(weights, arr.size)
    return _quantile_and_max(arr, p, a)[0]


def cvar(losses: npt.ArrayLike, alpha: float, weights: npt.ArrayLike | None = None) -> float:
    """Conditional value at risk (expected shortfall) of the losses at level ``alpha``.

    Computed as the Rockafellar-Uryasev objective at its minimiser ``t = VaR``:
    ``VaR + sum_s p_s (L_s - VaR)+ / (1 - alpha)``, which is the exact empirical CVaR including
    the fractional atom at the VaR. ``alpha = 0`` gives the mean.

    Parameters
    ----------
    losses : array-like of shape (n_scenarios,)
        Loss per scenario.
    alpha : float
        Confidence level in [0, 1).
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights; None means equal weights.

    Returns
    -------
    float
        The CVaR, between ``var(losses, alpha)`` and ``max(losses)``.

    Examples
    --------
    >>> cvar([0.0, 0.0, 0.0, 4.0], 0.5)   # worst half: {0, 4}
    2.0
    """
    return var_cvar(losses, alpha, weights)[1]


def prob_exceeds(
    losses: npt.ArrayLike,
    threshold: float | npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float | FloatArray:
    """Probability that the loss exceeds ``threshold`` strictly: ``P(L > threshold)``.

    Parameters
    ----------
    losses : array-like of shape (n_scenarios,)
        Loss per scenario.
    threshold : float or array-like of shape (n_thresholds,)
        One or several thresholds (vectorised by sorting once).
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights; None means equal weights.

    Returns
    -------
    float or ndarray of shape (n_thresholds,)
        A float for a scalar threshold.

    Examples
    --------
    >>> prob_exceeds([0.0, 1.0, 2.0, 3.0], 1.0)
    0.5
    """
    arr = _check_losses(losses)
    p = tail_probabilities(weights, arr.size)
    order = np.argsort(arr, kind="stable")
    srt = arr[order]
    thr = np.asarray(threshold, dtype=np.float64)
    idx = np.searchsorted(srt, thr, side="right")  # number of scenarios with L <= threshold
    if weights is None:
        out = (arr.size - idx) / arr.size  # exact counts, no rounding from a cumulative sum
    else:
        # probability at or above each sorted position, summed from the top (no 1 - cum rounding)
        above = np.append(np.cumsum(p[order][::-1])[::-1], 0.0)
        out = np.clip(above[idx], 0.0, 1.0)
    if thr.ndim == 0:
        return float(out)
    return out


def tail_shares(
    losses: npt.ArrayLike, by_asset: npt.ArrayLike, alpha: float, assets: tuple[str, ...],
    weights: npt.ArrayLike | None = None,
) -> dict[str, float]:
    """Share of the tail (losses >= VaR_alpha) bad debt attributed to each collateral asset.

    Parameters
    ----------
    losses : array_like of shape (n_scenarios,)
    by_asset : array_like of shape (n_scenarios, n_assets)
        The same losses split by collateral asset.
    alpha : float
    assets : tuple of str, length n_assets
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights; None means equal weights.

    Returns
    -------
    dict of str to float
        Asset -> share (all zeros when the tail holds no bad debt).
    """
    losses = np.asarray(losses, dtype=np.float64)
    p = tail_probabilities(weights, losses.size)
    tail = losses >= var(losses, alpha, weights)
    tot = p[tail] @ np.asarray(by_asset)[tail] if weights is not None else np.asarray(by_asset)[tail].sum(axis=0)
    s = tot.sum()
    return {a: (float(tot[i] / s) if s > 0 else 0.0) for i, a in enumerate(assets)}


def capital_efficiency(collateral_usd: npt.ArrayLike, ltv: npt.ArrayLike) -> float:
    """USD borrowing power of the collateral: ``sum(collateral x LTV)``."""
    return float(np.dot(collateral_usd, ltv))
