"""Bad debt of a book under a parameter set, and the risk metrics of that distribution.

:func:`evaluate_book` runs the static bad-debt kernel on the whole book (borrowers keep their
health factor when parameters change) and returns a :class:`BookEvaluation`; any other model (the
market simulation) can build one from its own per-scenario figures. :class:`RiskMetrics` holds the
tail measures of one evaluation; :class:`RunMetrics` the headline figures of a run (the
recommended and current parameters, the program's budget, and the static evaluation when the
headline comes from the simulation). ``RunMetrics.as_dict()`` is the ``metrics`` mapping of
``params.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from optimizer.optimize.measures import capital_efficiency, cvar, prob_exceeds, tail_shares, var
from optimizer.typing import FloatArray

if TYPE_CHECKING:
    from optimizer.protocol.book import Book
    from optimizer.protocol.params import RiskParams

__all__ = ["BookEvaluation", "RiskMetrics", "RunMetrics", "evaluate_book", "simulation_metrics"]


@dataclass(frozen=True, eq=False)
class BookEvaluation:
    """Bad debt of a book per scenario under one parameter set.

    Attributes
    ----------
    total : ndarray of shape (n_scenarios,)
        Bad debt, USD.
    by_asset : ndarray of shape (n_scenarios, n_assets)
        The same, by collateral asset.
    n_liquidated : ndarray of shape (n_scenarios,)
        Accounts liquidated.
    weights : ndarray of shape (n_scenarios,) or None
        Scenario probabilities (a tail-stratified subsample); None: equal weights.
    """

    total: FloatArray
    by_asset: FloatArray
    n_liquidated: np.ndarray
    weights: FloatArray | None = None


def evaluate_book(book: Book, relatives: ArrayLike, current: RiskParams, params: RiskParams,
                  slippage: ArrayLike) -> BookEvaluation:
    """Static bad debt of the whole book under ``params``, borrowers keeping their health factor.

    Parameters
    ----------
    book : Book
    relatives : array_like of shape (n_scenarios, n_assets)
        Terminal price relatives.
    current : RiskParams
        The parameters the book was built under (the debt is re-levered from them to ``params``).
    params : RiskParams
    slippage : array_like of shape (n_assets,)
    """
    from optimizer.protocol.kernels import bad_debt_static
    from optimizer.protocol.mechanics import relever_factor

    scale = relever_factor(book, current, params)
    res = bad_debt_static(book, relatives, params, slippage=slippage, debt_scale=scale, by_asset=True)
    return BookEvaluation(total=np.asarray(res.total, dtype=float), by_asset=np.asarray(res.by_asset, dtype=float),
                          n_liquidated=np.asarray(res.n_liquidated))


#: The loss measures of :class:`RiskMetrics` (the ones a second evaluation reports with a prefix).
LOSS_FIELDS = ("bad_debt_var_usd", "bad_debt_cvar_usd", "bad_debt_mean_usd", "prob_bad_debt",
               "prob_bad_debt_exceeds_fund", "tail_contribution_by_asset")


@dataclass(frozen=True, eq=False)
class RiskMetrics:
    """Tail measures of one bad-debt distribution under one parameter set.

    Attributes
    ----------
    capital_efficiency_usd : float
        Borrowing power of the book's collateral, ``sum(collateral x LTV)``.
    bad_debt_var_usd, bad_debt_cvar_usd, bad_debt_mean_usd : float
        VaR, CVaR and mean of the bad debt, USD.
    prob_bad_debt : float
        Probability of any bad debt.
    prob_bad_debt_exceeds_fund : float
        Probability the bad debt exceeds the insurance fund.
    alpha : float
        Level of the VaR and CVaR.
    mean_accounts_liquidated : float
    tail_contribution_by_asset : dict of str to float or None
        Share of the tail (>= VaR) bad debt by collateral asset; None when not asked for.
    """

    capital_efficiency_usd: float
    bad_debt_var_usd: float
    bad_debt_cvar_usd: float
    bad_debt_mean_usd: float
    prob_bad_debt: float
    prob_bad_debt_exceeds_fund: float
    alpha: float
    mean_accounts_liquidated: float
    tail_contribution_by_asset: dict[str, float] | None = None

    @classmethod
    def of(
        cls,
        evaluation: BookEvaluation,
        *,
        alpha: float,
        fund_usd: float,
        collateral_usd: ArrayLike,
        params: RiskParams,
        with_tail: bool = False,
    ) -> RiskMetrics:
        """Measure ``evaluation`` (bad debt under ``params``) against a fund of ``fund_usd``."""
        losses, w = evaluation.total, evaluation.weights
        return cls(
            capital_efficiency_usd=capital_efficiency(collateral_usd, params.ltv),
            bad_debt_var_usd=float(var(losses, alpha, w)),
            bad_debt_cvar_usd=float(cvar(losses, alpha, w)),
            bad_debt_mean_usd=float(np.average(losses, weights=w)),
            prob_bad_debt=float(prob_exceeds(losses, 0.0, w)),
            prob_bad_debt_exceeds_fund=float(prob_exceeds(losses, fund_usd, w)),
            alpha=float(alpha),
            mean_accounts_liquidated=float(np.average(evaluation.n_liquidated, weights=w)),
            tail_contribution_by_asset=(tail_shares(losses, evaluation.by_asset, alpha, params.assets, w)
                                        if with_tail else None),
        )

    def as_dict(self, *, prefix: str = "", losses_only: bool = False) -> dict[str, Any]:
        """``{name: value}`` of the measures (None fields left out), names prefixed with ``prefix``.

        ``losses_only`` keeps only :data:`LOSS_FIELDS`.
        """
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (losses_only and f.name not in LOSS_FIELDS):
                continue
            out[prefix + f.name] = dict(value) if isinstance(value, dict) else value
        return out


@dataclass(frozen=True, eq=False)
class RunMetrics:
    """Headline metrics of a run.

    Attributes
    ----------
    recommended : RiskMetrics
        The recommended parameters on the headline evaluation (the market simulation when it ran,
        else the static evaluation), with tail contributions.
    current : RiskMetrics
        The current parameters on the same evaluation and fund.
    lp_worst_case_cvar_usd : float
        CVaR of the program's worst-case loss (every borrower at the threshold) at the optimum.
    risk_budget_usd : float
    min_feasible_budget_usd : float
        Smallest budget the program can meet (NaN when not computed).
    static : RiskMetrics or None
        The static evaluation, when the headline is the simulation's.
    simulation : mapping of str to value, or None
        The market simulation's own figures (``sim_...``, cascade share, liquidations at risk).
    """

    recommended: RiskMetrics
    current: RiskMetrics
    lp_worst_case_cvar_usd: float
    risk_budget_usd: float
    min_feasible_budget_usd: float
    static: RiskMetrics | None = None
    simulation: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``metrics`` mapping of ``params.json`` (and of the report's metrics table, in order).

        The recommended parameters' measures, the program's figures, then the static
        evaluation's loss measures prefixed ``static_`` and the simulation's figures as they are
        when the headline is simulated.
        """
        out = self.recommended.as_dict()
        tail = out.pop("tail_contribution_by_asset", None)
        out["lp_worst_case_cvar_usd"] = float(self.lp_worst_case_cvar_usd)
        out["risk_budget_usd"] = float(self.risk_budget_usd)
        out["min_feasible_budget_usd"] = float(self.min_feasible_budget_usd)
        if tail is not None:
            out["tail_contribution_by_asset"] = tail
        if self.static is not None:
            out.update(self.static.as_dict(prefix="static_", losses_only=True))
        if self.simulation is not None:
            out.update(self.simulation)
        return out

    def current_dict(self) -> dict[str, Any]:
        """The ``metrics_current`` mapping of ``params.json``."""
        return self.current.as_dict()


def simulation_metrics(
    bad_debt: ArrayLike,
    bad_debt_nocascade: ArrayLike,
    by_asset: ArrayLike,
    liquidated_usd: ArrayLike,
    worst_impact: ArrayLike,
    *,
    alpha: float,
    assets: tuple[str, ...],
    bad_debt_current: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> dict[str, Any]:
    """The market simulation's own figures (the ``sim_...`` entries of ``params.json`` metrics).

    Parameters
    ----------
    bad_debt, bad_debt_nocascade : array_like of shape (n_paths,)
        Simulated bad debt under the recommended parameters with cascades on and off, USD.
    by_asset : array_like of shape (n_paths, n_assets)
        ``bad_debt`` by collateral asset.
    liquidated_usd, worst_impact : array_like of shape (n_paths,)
        Collateral liquidated and the worst price impact per path.
    alpha : float
        Level of the VaR and CVaR.
    assets : tuple of str
    bad_debt_current : array_like of shape (n_paths,), optional
        Simulated bad debt under the current parameters.
    weights : array_like of shape (n_paths,), optional
        Path probabilities (a tail-stratified subsample of the scenarios); None: equal weights.
    """
    w = weights
    bd = np.asarray(bad_debt, dtype=float)
    bd_off = np.asarray(bad_debt_nocascade, dtype=float)
    liquidated = np.asarray(liquidated_usd)  # the mean is taken in the kernel's dtype, as it always was
    total_on, total_off = float(np.average(bd, weights=w)), float(np.average(bd_off, weights=w))
    cascade_share = (total_on - total_off) / total_on if total_on > 0 else 0.0
    out = {
        "sim_bad_debt_var_usd": float(var(bd, alpha, w)),
        "sim_bad_debt_cvar_usd": float(cvar(bd, alpha, w)),
        "sim_bad_debt_cvar_nocascade_usd": float(cvar(bd_off, alpha, w)),
        "sim_prob_bad_debt": float(prob_exceeds(bd, 0.0, w)),
        "sim_mean_bad_debt_usd": total_on,
        "sim_mean_bad_debt_nocascade_usd": total_off,
        "cascade_share_of_bad_debt": float(max(cascade_share, 0.0)),
        "liquidations_at_risk_usd": float(var(liquidated.astype(float), alpha, w)),
        "mean_liquidated_usd": float(np.average(liquidated, weights=w)) if w is not None else float(np.mean(liquidated)),
        "worst_price_impact_q99": float(var(np.asarray(worst_impact, dtype=float), 0.99, w)) if w is not None
        else float(np.quantile(worst_impact, 0.99)),
        "sim_tail_contribution_by_asset": tail_shares(bd, np.asarray(by_asset, dtype=float), alpha, assets, w),
    }
    if bad_debt_current is not None:
        out["sim_bad_debt_cvar_current_usd"] = float(cvar(np.asarray(bad_debt_current, dtype=float), alpha, w))
    return out
