"""Monte Carlo bands of the recommendation, measured by batch means over the scenarios.

The scenarios are i.i.d., so the classes ``s mod R`` of their index are ``R`` independent
replications of size ``N / R``. The run's answer is recomputed on each (the thresholds: the
per-asset guards and the aggregate LP; the fund: its simulated paths); with ``x_b`` the
replications' answers the band is the 95 % half-width of the full-sample answer,

    band = t_{0.975, R - 1} sd(x_b) / sqrt(R),

the batch-means estimate of its standard error (the estimators' variance scales as ``1 / N``)
times Student's quantile for ``R - 1`` degrees of freedom. It is measured, not assumed: any
source of the scenarios' randomness (the tail draws, the depeg jumps, the bridges of the simulated
paths) is in it; what the scenarios do not draw (the book, the fitted models) is not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from optimizer.typing import FloatArray

if TYPE_CHECKING:
    from optimizer.optimize._problem import ThresholdProblem

__all__ = ["LOSS_BAND_FIELDS", "Band", "batch_half_width", "fund_band", "loss_band", "threshold_band"]

#: Coverage of the reported bands.
BAND_LEVEL = 0.95
#: How the bands are measured (params.json and the report name it).
BAND_METHOD = "batch means"


_ULPS = 16  #: spread, in units of the values' last place, below which batches agree exactly


def batch_half_width(values: Any, level: float = BAND_LEVEL) -> FloatArray:
    """Half-width of the ``level`` confidence interval of the full-sample answer from ``R`` batches.

    Parameters
    ----------
    values : array_like of shape (n_batches,) or (n_batches, m)
        Each batch's answer.
    level : float, default 0.95

    Returns
    -------
    ndarray of shape () or (m,)
        ``t_{(1 + level) / 2, R - 1} sd(values) / sqrt(R)``.

    Examples
    --------
    >>> round(float(batch_half_width([1.0, 2.0, 3.0, 4.0])), 4)
    2.0543
    >>> float(batch_half_width([0.41, 0.41, 0.41 + 5.6e-17]))  # the same answer, in its last bit
    0.0
    """
    x = np.asarray(values, dtype=np.float64)
    r = x.shape[0]
    if r < 2:
        raise ValueError(f"need at least 2 batches, got {r}")
    t = float(stats.t.ppf(0.5 + level / 2.0, r - 1))
    half = t * x.std(axis=0, ddof=1) / np.sqrt(r)
    # batches that differ only in their last bits (an answer held by a bound or a policy, reached
    # by different float paths) agree: a band of 4e-17 would read as Monte Carlo noise
    scale = np.max(np.abs(x), axis=0)
    return np.where(np.ptp(x, axis=0) <= _ULPS * np.finfo(np.float64).eps * scale, 0.0, half)


@dataclass(frozen=True, eq=False)
class Band:
    """A measured Monte Carlo band: the batches' answers and the half-width they give.

    Attributes
    ----------
    half_width : ndarray of shape (m,)
        95 % half-width per quantity.
    batches : ndarray of shape (n_batches, m)
        Each replication's answer.
    n_batches : int
    method : str
        :data:`BAND_METHOD`.
    level : float
    """

    half_width: FloatArray
    batches: FloatArray
    n_batches: int
    method: str = BAND_METHOD
    level: float = BAND_LEVEL


def _batch(problem: ThresholdProblem, idx: np.ndarray) -> ThresholdProblem:
    """The threshold problem on the scenarios ``idx`` only (its stressed mixture rebuilt from them)."""
    from optimizer.scenarios import comonotone_stress

    k = problem.k[idx]
    k_st = w_st = None
    if problem.k_stressed is not None:
        share = _comonotone_share(problem)
        k_st, w_st = comonotone_stress(k, share)
    sub = dataclasses.replace(problem, k=k, basket=problem.basket[idx], k_stressed=k_st, scenario_weights=w_st)
    sub.__dict__.pop("caps", None)  # the cached guards are the full set's
    return sub


def _comonotone_share(problem: ThresholdProblem) -> float:
    """The comonotone share the stressed mixture was built with (its second half's probability)."""
    w = np.asarray(problem.scenario_weights, dtype=float)
    n = problem.k.shape[0]
    return float(w[n:].sum() / w.sum())


def _guards_only(problem: ThresholdProblem) -> FloatArray | None:
    """The thresholds when every asset sits at its upper bound or guard within the aggregate budget
    (the LP's optimum then, without solving it); None when the budget binds."""
    from optimizer.optimize.convex import threshold_losses
    from optimizer.optimize.measures import cvar

    top = np.maximum(np.minimum(problem.lt_max, problem.caps), problem.lt_min)
    k = problem.k if problem.k_stressed is None else problem.k_stressed
    worst = cvar(threshold_losses(top, k, problem.exposure), problem.alpha, problem.scenario_weights)
    return top if worst <= problem.budget else None


def threshold_band(
    problem: ThresholdProblem, *, n_batches: int = 10, solver: str = "HIGHS",
    fallback_solver: str | None = "CLARABEL", method: str = "rowgen",
) -> Band:
    """Band of every asset's threshold: the guards and the LP re-solved on ``n_batches`` replications.

    Parameters
    ----------
    problem : ThresholdProblem
        The run's problem (its scenarios are split by index, ``s mod n_batches``).
    n_batches : int, default 10
    solver, fallback_solver, method
        As for :meth:`ThresholdProblem.solve`.

    Returns
    -------
    Band
        ``half_width`` and ``batches`` per asset (thresholds, fractions).
    """
    n = problem.k.shape[0]
    if not 2 <= n_batches <= n // 100:
        raise ValueError(f"`n_batches` must lie in [2, n_scenarios / 100 = {n // 100}], got {n_batches}")
    lts = []
    for b in range(n_batches):
        sub = _batch(problem, np.arange(b, n, n_batches))
        lt = _guards_only(sub)
        if lt is None:  # the aggregate budget binds on this replication: the LP decides
            lt = sub.solve(solver=solver, fallback_solver=fallback_solver, method=method).lt
        lts.append(np.asarray(lt, dtype=float))
    batches = np.vstack(lts)
    return Band(half_width=batch_half_width(batches), batches=batches, n_batches=int(n_batches))


def fund_band(
    losses: Any, rows: Any, *, epsilon: float, confidence: float, weights: Any = None, n_batches: int = 10,
) -> Band:
    """Band of the simulated tail's fund (``FundSizing.tail_fund_usd``) by batch means.

    Parameters
    ----------
    losses : array_like of shape (n_paths,)
        Simulated bad debt per path, USD.
    rows : array_like of int, shape (n_paths,)
        The scenario each path refines: path ``j`` is in replication ``rows[j] mod n_batches``.
    epsilon, confidence : float
        As for :func:`~optimizer.optimize.size_fund`.
    weights : array_like of shape (n_paths,), optional
        Path probabilities (a tail-stratified sample); None: equal.
    n_batches : int, default 10

    Returns
    -------
    Band
        ``half_width`` and ``batches`` of shape (1,) / (n_batches, 1), USD.
    """
    from optimizer.optimize.fund import size_fund

    return _replicated(losses, rows, weights, n_batches, lambda x, w: [
        size_fund(x, epsilon=epsilon, confidence=confidence, weights=w).tail_fund_usd])


def _replicated(losses: Any, rows: Any, weights: Any, n_batches: int, measure: Any) -> Band:
    """Batch means of ``measure(losses, weights) -> list of floats`` over the replications (paths
    whose scenario index is ``b mod n_batches``)."""
    x = np.asarray(losses, dtype=np.float64)
    g = np.asarray(rows, dtype=np.int64) % int(n_batches)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    out = []
    for b in range(int(n_batches)):
        m = g == b
        if not m.any():
            raise ValueError(f"replication {b} of {n_batches} has no path; simulate more paths")
        out.append(measure(x[m], None if w is None else w[m]))
    batches = np.asarray(out, dtype=np.float64)
    return Band(half_width=batch_half_width(batches), batches=batches, n_batches=int(n_batches))


#: The bad-debt measures :func:`loss_band` bands, in column order (the ``RiskMetrics`` field names).
LOSS_BAND_FIELDS = ("bad_debt_var_usd", "bad_debt_cvar_usd", "bad_debt_mean_usd", "prob_bad_debt",
                    "prob_bad_debt_exceeds_fund")


def loss_band(
    losses: Any, rows: Any, *, alpha: float, fund_usd: float, weights: Any = None, n_batches: int = 10,
) -> Band:
    """Band of the bad-debt measures of one distribution (:data:`LOSS_BAND_FIELDS`) by batch means.

    Each replication (paths whose scenario index is ``b mod n_batches``) measures VaR and CVaR at
    ``alpha``, the mean, P(bad debt > 0) and P(bad debt > ``fund_usd``) with the measures'
    own functions, as :meth:`~optimizer.optimize.RiskMetrics.of` does on the whole sample.

    Parameters
    ----------
    losses : array_like of shape (n_paths,)
        Bad debt per path (or scenario), USD.
    rows : array_like of int, shape (n_paths,)
        The scenario each path refines (``arange(n)`` for the scenarios themselves).
    alpha, fund_usd : float
    weights : array_like of shape (n_paths,), optional
        Path probabilities (a tail-stratified sample); None: equal.
    n_batches : int, default 10

    Returns
    -------
    Band
        ``half_width`` of shape (5,) and ``batches`` of shape (n_batches, 5), in field order.
    """
    from optimizer.optimize.measures import cvar, prob_exceeds, var

    return _replicated(losses, rows, weights, n_batches, lambda x, w: [
        var(x, alpha, w), cvar(x, alpha, w), float(np.average(x, weights=w)),
        prob_exceeds(x, 0.0, w), prob_exceeds(x, fund_usd, w)])
