"""Intraday refinement of daily scenario paths (Brownian bridge in log price).

A :class:`~optimizer.scenarios._set.ScenarioSet` gives cumulative daily price relatives
``R[s, d, i] = P_i(t0 + d + 1) / P_i(t0)``. The dynamic simulation may need finer steps (a
liquidation can happen hours after a drop, and oracles lag by minutes to hours). Between two
daily points the log price is filled in with a Brownian bridge: for day ``d`` and step
``j = 1 .. n`` (``n = steps_per_day``, ``u = j / n``)

    log P(d + u) = (1 - u) log R[d - 1] + u log R[d] + sigma_daily * B(u),

where ``B`` is a standard Brownian bridge on [0, 1] (``B(0) = B(1) = 0``, variance ``u (1 - u)``)
and ``log R[-1] = 0``. The last step of each day is set to the daily relative itself, so the
refined path passes exactly through every daily point, and with ``n = 1`` the daily relatives are
returned unchanged.

The bridges of different assets are independent: the daily scenario carries the cross-asset
dependence; within a day only the path shape is random. ``sigma_daily`` should be the daily
volatility of log returns the scenarios were generated with (a bridge with the conditional
volatility of the day is better still, but it is not stored in a ``ScenarioSet``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from optimizer.typing import FloatArray

#: Scenarios refined per chunk (bounds the memory of the normal draws).
_CHUNK = 4096

__all__ = ["refine_paths"]


def refine_paths(
    scenarios: Any,
    steps_per_day: int,
    sigma_daily: ArrayLike,
    rng: np.random.Generator,
    *,
    dtype: DTypeLike | None = None,
) -> FloatArray:
    """Price relatives at ``steps_per_day`` steps a day, consistent with the daily scenarios.

    Parameters
    ----------
    scenarios : ScenarioSet or array_like of shape (n_scenarios, horizon_days, n_assets)
        Daily cumulative price relatives ``P[t0 + h] / P[t0]``, all > 0 (a ``ScenarioSet``'s
        ``relatives``; any object with that attribute is accepted).
    steps_per_day : int
        Steps per day, >= 1.
    sigma_daily : array_like of shape (n_assets,)
        Daily volatility of log returns per asset (>= 0), scales the bridge.
    rng : numpy.random.Generator
        Source of the bridge noise.
    dtype : dtype, optional
        Output dtype (float32 halves memory and is what the simulation kernel uses); default
        the dtype of the relatives.

    Returns
    -------
    ndarray of shape (n_scenarios, horizon_days * steps_per_day, n_assets)
        Cumulative price relatives at the end of each step; entry ``(d + 1) * steps_per_day - 1``
        equals the daily relative of day ``d`` (cast to ``dtype``). With ``steps_per_day == 1``
        the daily relatives themselves (no copy when no cast is needed).

    Examples
    --------
    >>> rel = np.array([[[0.9], [0.8]]])
    >>> out = refine_paths(rel, 4, [0.05], np.random.default_rng(0))
    >>> out.shape, bool(out[0, 3, 0] == 0.9), bool(out[0, 7, 0] == 0.8)
    ((1, 8, 1), True, True)
    """
    # duck-typed: the protocol layer does not import the scenarios layer
    rel = np.asarray(getattr(scenarios, "relatives", scenarios))
    if rel.ndim != 3:
        raise ValueError(
            f"`scenarios` must have shape (n_scenarios, horizon_days, n_assets), got {rel.shape}"
        )
    if not np.issubdtype(rel.dtype, np.floating):
        rel = rel.astype(np.float64)
    out_dtype = np.dtype(rel.dtype if dtype is None else dtype)
    if out_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"`dtype` must be float32 or float64, got {out_dtype}")
    is_int = isinstance(steps_per_day, (int, np.integer)) and not isinstance(steps_per_day, bool)
    if not is_int or steps_per_day < 1:
        raise ValueError(f"`steps_per_day` must be an int >= 1, got {steps_per_day!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    n_s, horizon, n_a = rel.shape
    sig = np.asarray(sigma_daily, dtype=np.float64)
    if sig.shape != (n_a,) or not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise ValueError(f"`sigma_daily` must be finite, >= 0 and of shape ({n_a},), got {sig!r}")
    if not np.all(np.isfinite(rel)) or np.any(rel <= 0):
        raise ValueError("`scenarios` relatives must be finite and > 0")
    n = int(steps_per_day)
    if n == 1:
        return rel if rel.dtype == out_dtype else rel.astype(out_dtype)

    out = np.empty((n_s, horizon * n, n_a), dtype=out_dtype)
    u = np.arange(1, n, dtype=np.float64) / n  # interior points of a day, shape (n - 1,)
    noise_dtype = np.float32 if out_dtype == np.float32 else np.float64
    for s0 in range(0, n_s, _CHUNK):
        r = rel[s0 : s0 + _CHUNK].astype(np.float64)
        m = r.shape[0]
        logs = np.empty((m, horizon + 1, n_a))
        logs[:, 0] = 0.0
        np.log(r, out=logs[:, 1:])
        # Brownian bridge: W at the n grid points of each day, minus u * W(1)
        w = rng.standard_normal((m, horizon, n, n_a), dtype=noise_dtype)
        np.cumsum(w, axis=2, out=w)
        w *= noise_dtype(1.0 / np.sqrt(n))
        bridge = w[:, :, :-1, :] - u[None, None, :, None] * w[:, :, -1:, :]
        start = logs[:, :-1, None, :]
        step = (logs[:, 1:] - logs[:, :-1])[:, :, None, :]
        interior = np.exp(start + u[None, None, :, None] * step + sig * bridge)
        block = out[s0 : s0 + m].reshape(m, horizon, n, n_a)
        block[:, :, :-1, :] = interior
        block[:, :, -1, :] = rel[s0 : s0 + m]
    return out
