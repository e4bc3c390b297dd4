"""A weighted subsample of a scenario set that keeps its whole tail: stratified by a loss score.

A costly model (the dynamic market simulation) cannot run on every scenario. A uniform prefix of
``n`` of the ``N`` scenarios keeps ``n / N`` of the tail, so a 1-in-1,000 figure rests on
``0.001 n`` paths. Ranked by a cheap score that orders the tail well (the static bad debt of the
same book), the scenarios split into two strata:

* **A**, the ``n_tail`` highest scores: every one is kept, with probability ``1 / N``;
* **B**, the other ``N - n_tail``: ``n - n_tail`` of them drawn uniformly without replacement,
  each standing for ``(N - n_tail) / (n - n_tail)`` scenarios, probability
  ``(N - n_tail) / ((n - n_tail) N)``.

For any function ``f`` of a scenario the weighted mean over the subsample has expectation
``(1 / N) sum_s f(s)``, the full set's mean, whatever the score: the score only decides the
variance. When the costly model's tail lies inside A (the report measures where it lies), its
VaR/CVaR are those of all ``N`` scenarios, at the cost of ``n``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from optimizer.typing import FloatArray

__all__ = ["tail_stratified_rows"]


def tail_stratified_rows(
    score: ArrayLike, n: int, *, rng: np.random.Generator, tail_share: float = 0.5
) -> tuple[np.ndarray, FloatArray | None, int]:
    """Rows of a tail-stratified subsample of ``n`` of the ``len(score)`` scenarios, and their weights.

    Parameters
    ----------
    score : array_like of shape (n_scenarios,)
        Per-scenario score, larger = further in the tail (finite).
    n : int
        Scenarios to keep (>= 1).
    rng : numpy.random.Generator
        Draws stratum B's rows.
    tail_share : float in (0, 1), default 0.5
        Share of ``n`` spent on stratum A (the highest scores, kept with certainty).

    Returns
    -------
    rows : ndarray of int64, shape (n,)
        Sorted scenario indices (all of them when ``n >= n_scenarios``).
    weights : ndarray of shape (n,) or None
        Probabilities of the rows (sum 1); None when every scenario is kept (equal weights).
    n_tail : int
        Size of stratum A (``n_scenarios`` when every scenario is kept).

    Examples
    --------
    >>> rows, w, a = tail_stratified_rows([5.0, 0.0, 1.0, 0.0], 3, rng=np.random.default_rng(0))
    >>> a, float(w.sum())
    (1, 1.0)
    """
    s = np.asarray(score, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError(f"`score` must be a non-empty finite 1-D array, got shape {s.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`n` must be an int >= 1, got {n!r}")
    if not 0.0 < tail_share < 1.0:
        raise ValueError(f"`tail_share` must lie in (0, 1), got {tail_share!r}")
    total = s.size
    if n >= total:
        return np.arange(total, dtype=np.int64), None, total
    n_a = max(1, min(int(round(tail_share * n)), n - 1))
    order = np.argsort(-s, kind="stable")  # ties: lower index first, so a seed gives one answer
    a, rest = order[:n_a], order[n_a:]
    b = rng.choice(rest.size, size=n - n_a, replace=False)
    rows = np.concatenate([a, rest[b]])
    w = np.concatenate([np.full(n_a, 1.0 / total), np.full(n - n_a, (total - n_a) / ((n - n_a) * total))])
    keep = np.argsort(rows, kind="stable")
    return rows[keep].astype(np.int64), w[keep], n_a
