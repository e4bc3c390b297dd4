"""Insurance-fund sizing from simulated bad debt.

Pure functions over a loss vector (one bad-debt figure per scenario, USD). Conventions follow
:mod:`optimizer.optimize.measures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from optimizer.optimize.measures import prob_exceeds, tail_probabilities, var, var_cvar

if TYPE_CHECKING:
    from optimizer.protocol.book import Book
    from optimizer.protocol.params import RiskParams

__all__ = ["FundSizing", "cover2", "size_fund", "stressed_cover2"]


@dataclass(frozen=True, eq=False)
class FundSizing:
    """Size of an insurance fund covering simulated bad debt.

    Attributes
    ----------
    fund_usd : float
        Smallest ``F >= 0`` with ``P(L > F) <= epsilon``: the lower ``1 - epsilon`` quantile of
        the losses (:func:`~optimizer.optimize.measures.var`). Any smaller fund is exceeded with
        probability above ``epsilon``.
    epsilon : float
        Tolerated probability that the bad debt exceeds the fund.
    es_usd : float
        Expected shortfall (CVaR) of the losses at ``confidence``.
    confidence : float
        Level of ``es_usd``.
    mc_stderr_usd : float
        Monte Carlo standard error of ``fund_usd``, by the order-statistic (binomial) method: the
        count of scenarios below the quantile is Binomial(n, 1 - epsilon), so the quantiles at
        ``1 - epsilon -/+ sqrt(epsilon (1 - epsilon) / n)`` bracket one standard error; half
        their distance is reported (``n`` is the effective sample size ``1 / sum p_s**2``).
    es_stderr_usd : float
        Standard error of ``es_usd``: ``sd((L - VaR)+) / ((1 - confidence) sqrt(n))``.
    prob_any : float
        ``P(L > 0)``.
    curve : tuple of (float, float)
        ``(fund, P(L > fund))`` on 101 evenly spaced funds from 0 to the largest loss, plus
        ``fund_usd`` itself; funds increasing, probabilities non-increasing.
    n_scenarios : int
        Number of scenarios.
    cover2_usd : float or None
        Not computed here: fill with :func:`cover2` (``dataclasses.replace``) when the
        per-account stress losses are known.
    """

    fund_usd: float
    epsilon: float
    es_usd: float
    confidence: float
    mc_stderr_usd: float
    es_stderr_usd: float
    prob_any: float
    curve: tuple[tuple[float, float], ...]
    n_scenarios: int
    cover2_usd: float | None = None

    def summary(self) -> str:
        """Plain-text summary."""
        lines = [
            f"Insurance fund: {self.fund_usd:,.2f} USD (+/- {self.mc_stderr_usd:,.2f}) so that "
            f"P(bad debt > fund) <= {self.epsilon:g}",
            f"  ES_{self.confidence:g} = {self.es_usd:,.2f} USD (+/- {self.es_stderr_usd:,.2f}); "
            f"P(any bad debt) = {self.prob_any:.4%}; {self.n_scenarios} scenarios",
        ]
        if self.cover2_usd is not None:
            lines.append(
                f"  cover-2 (two largest accounts in the stress) = {self.cover2_usd:,.2f} USD"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def size_fund(
    losses: npt.ArrayLike,
    *,
    epsilon: float = 0.01,
    confidence: float = 0.99,
    weights: npt.ArrayLike | None = None,
) -> FundSizing:
    """Size an insurance fund from scenario bad debt.

    Parameters
    ----------
    losses : array-like of shape (n_scenarios,)
        Bad debt per scenario, USD (>= 0).
    epsilon : float
        Tolerated exceedance probability, in (0, 1).
    confidence : float
        Level of the reported expected shortfall, in [0, 1).
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights; None means equal weights.

    Returns
    -------
    FundSizing

    Examples
    --------
    >>> size_fund([0.0] * 98 + [5.0, 10.0], epsilon=0.01).fund_usd
    5.0
    """
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"`epsilon` must be in (0, 1), got epsilon={epsilon!r}")
    arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`losses` must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("`losses` must be finite and >= 0 (bad debt in USD)")
    p = tail_probabilities(weights, arr.size)
    n_eff = 1.0 / float(p @ p)
    level = 1.0 - epsilon
    fund = var(arr, level, p)
    half = np.sqrt(level * epsilon / n_eff)
    lo_q = var(arr, max(level - half, 0.0), p)
    hi_q = var(arr, min(level + half, np.nextafter(1.0, 0.0)), p)
    var_c, es = var_cvar(arr, confidence, p)
    excess = np.maximum(arr - var_c, 0.0)
    mean_ex = float(p @ excess)
    sd_ex = np.sqrt(max(float(p @ (excess - mean_ex) ** 2), 0.0))
    es_se = sd_ex / ((1.0 - confidence) * np.sqrt(n_eff))
    top = float(arr.max())
    grid = np.unique(np.concatenate([np.linspace(0.0, top, 101), [fund]]))
    probs = np.asarray(prob_exceeds(arr, grid, weights))
    probs = np.minimum.accumulate(probs)  # guard rounding: exceedance is non-increasing
    return FundSizing(
        fund_usd=float(fund),
        epsilon=float(epsilon),
        es_usd=float(es),
        confidence=float(confidence),
        mc_stderr_usd=float(0.5 * (hi_q - lo_q)),
        es_stderr_usd=float(es_se),
        prob_any=float(prob_exceeds(arr, 0.0, weights)),
        curve=tuple((float(f), float(q)) for f, q in zip(grid, probs, strict=True)),
        n_scenarios=int(arr.size),
    )


def cover2(account_bad_debt_worst: npt.ArrayLike) -> float:
    """Cover-2: the shortfall of the two largest accounts in the chosen stress scenario.

    Parameters
    ----------
    account_bad_debt_worst : array-like of shape (n_accounts,)
        Bad debt of each account in the stress scenario, USD (>= 0).

    Returns
    -------
    float
        Sum of the two largest values (of all of them when there are fewer than two).

    Examples
    --------
    >>> cover2([1.0, 7.0, 0.0, 3.0])
    10.0
    """
    arr = np.asarray(account_bad_debt_worst, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"`account_bad_debt_worst` must be 1-D (n_accounts,), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("`account_bad_debt_worst` must be finite and >= 0 (USD of bad debt)")
    if arr.size <= 2:
        return float(arr.sum())
    return float(np.partition(arr, arr.size - 2)[-2:].sum())


def stressed_cover2(book: Book, params: RiskParams, slippage: npt.ArrayLike, *stress: npt.ArrayLike) -> float:
    """"Cover 2": stressed shortfall of the two largest borrowers.

    The two accounts with the largest debt are assumed to sit at their liquidation threshold
    (HF = 1, the most they may borrow under ``params``) and each is taken in the scenario that is
    worst for it, across every scenario of the ``stress`` sets (e.g. the simulated scenarios,
    every historical horizon-length window and the stress library: extreme but plausible). The
    figure is the sum, as in a clearing house's cover-2 standard (:func:`cover2`).

    Parameters
    ----------
    book : Book
    params : RiskParams
    slippage : array_like of shape (n_assets,)
    *stress : array_like of shape (n_scenarios_j, n_assets)
        Terminal price relatives; empty sets are skipped.

    Returns
    -------
    float
    """
    from optimizer.protocol.mechanics import bad_debt_static_numpy, debt_at_threshold_factor

    sets = [np.asarray(s) for s in stress]
    relatives = np.vstack([s for i, s in enumerate(sets) if i == 0 or s.shape[0]])
    largest = np.argsort(book.account_debt, kind="stable")[-2:]
    scale = debt_at_threshold_factor(book, params)
    worst = []
    for a in largest:
        # a one-account book: the mechanics' per-scenario total is that account's bad debt
        one = book.take(np.array([a]))
        per_scen = bad_debt_static_numpy(one, relatives, params, slippage=slippage, debt_scale=scale[[a]])
        worst.append(float(per_scen.max()))
    return float(cover2(np.array(worst)))
