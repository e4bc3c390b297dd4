"""Stressed mixtures of a scenario set that keep every asset's own distribution."""

from __future__ import annotations

import numpy as np

from optimizer.typing import FloatArray

__all__ = ["comonotone_stress"]


def comonotone_stress(outcomes: FloatArray, blend: float) -> tuple[FloatArray, FloatArray | None]:
    """Correlation stress that keeps every asset's own distribution exactly.

    The stressed scenario set is the mixture ``(1 - blend) x original + blend x comonotone``, where
    the comonotone part pairs each asset's j-th lowest outcome with every other asset's j-th lowest
    (all positions crash together). Each asset's marginal is unchanged, while any loss that is a
    sum of decreasing functions of the outcomes grows in convex order with ``blend``: its CVaR
    never falls as the blend rises.

    Parameters
    ----------
    outcomes : ndarray of shape (n_scenarios, n_assets)
        Per-asset outcomes (e.g. recovery ratios or price relatives), equally likely scenarios.
    blend : float
        Weight of the comonotone part, in [0, 1]; <= 0 leaves the set as it is.

    Returns
    -------
    outcomes : ndarray of shape (2 n_scenarios, n_assets), or the input when ``blend <= 0``
    weights : ndarray of shape (2 n_scenarios,), or None when ``blend <= 0``
        Scenario probabilities of the mixture.
    """
    if blend <= 0:
        return outcomes, None
    n = outcomes.shape[0]
    stacked = np.vstack([outcomes, np.sort(outcomes, axis=0)])
    weights = np.concatenate([np.full(n, (1.0 - blend) / n), np.full(n, blend / n)])
    return stacked, weights
