"""`ThresholdProblem`: the per-asset liquidation-threshold program of one market, built once.

The problem gathers everything the convex core needs from the lower layers: the recovery ratio
of each asset in each scenario (:func:`optimizer.protocol.kernels.isolated_recovery`, with the
debt-basket relatives of :mod:`optimizer.protocol.mechanics` and the slippage of
:class:`optimizer.protocol.liquidity.DepthSlippage`), the collateral sitting at the threshold,
the bounds (``lt_min <= LT <= lt_max``, ``LT x (1 + bonus) <= 1 - slippage margin``, ``LTV = LT -
buffer``), the CVaR budget and the per-asset guard. :meth:`ThresholdProblem.solve` runs the
per-asset guards and the aggregate CVaR programme (:class:`~optimizer.optimize.ThresholdOptimizer`)
and returns a :class:`ThresholdSolution`.

Everything here is plain typed values: the pipeline reads the configuration and passes numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from optimizer.exceptions import ConfigError
from optimizer.optimize._labels import Binding, RunStatus
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray

if TYPE_CHECKING:
    from optimizer.protocol.book import Book
    from optimizer.protocol.liquidity import DepthSlippage
    from optimizer.protocol.sale import SaleSize

__all__ = [
    "HELD_LTV_LT",
    "StressRows",
    "ThresholdBounds",
    "ThresholdProblem",
    "ThresholdSolution",
    "asset_caps",
    "binding_label",
    "historical_stress_budget",
]

#: Range an LTV buffer inferred from current parameters (LT - LTV) is clipped to.
INFERRED_BUFFER_RANGE = (0.01, 0.15)
#: The lowest LT allowed lies at least this far above the LTV buffer (so LTV stays > 0).
MIN_LT_ABOVE_BUFFER = 0.01
#: Policies for the LT of a reserve whose LTV is held (:attr:`ThresholdBounds.held_ltv_lt`).
HELD_LTV_LT = ("up_to_current", "risk_limit")


@dataclass(frozen=True, eq=False)
class ThresholdBounds:
    """Bounds settings of the threshold program: market-wide defaults and per-asset overrides.

    Attributes
    ----------
    lt_min, lt_max : float
        Default bounds on each LT.
    ltv_buffer : float
        Default ``LT - LTV`` for assets without an override or current parameters.
    slippage_margin : float, default 0
        ``LT x (1 + bonus) <= 1 - slippage_margin`` caps every LT.
    keep_zero_ltv : bool, default False
        An asset whose current LTV is 0 keeps LTV = 0.
    held_ltv_lt : {"up_to_current", "risk_limit"}, default "up_to_current"
        The LT of a reserve whose LTV is held (its LT buys no borrowing power, so it carries no
        weight in the capital efficiency): ``"up_to_current"`` the highest LT up to its current
        value that the risk target allows (lowered only as risk requires); ``"risk_limit"`` the
        highest LT the risk target allows, above the current one if it allows that.
    asset_lt_min, asset_lt_max, asset_ltv_buffer : dict of str to float
        Per-asset overrides (asset -> value); assets not listed take the default.
    """

    lt_min: float
    lt_max: float
    ltv_buffer: float
    slippage_margin: float = 0.0
    keep_zero_ltv: bool = False
    asset_lt_min: dict[str, float] = field(default_factory=dict)
    asset_lt_max: dict[str, float] = field(default_factory=dict)
    asset_ltv_buffer: dict[str, float] = field(default_factory=dict)
    held_ltv_lt: str = "up_to_current"

    def __post_init__(self) -> None:
        if self.held_ltv_lt not in HELD_LTV_LT:
            raise ValueError(f"`held_ltv_lt` must be one of {', '.join(HELD_LTV_LT)}, got {self.held_ltv_lt!r}")

    def resolve(
        self, current: RiskParams, has_current: tuple[bool, ...], bonus: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(lt_min, lt_max, buffer)`` per asset of ``current.assets``.

        The buffer is the asset's override, else its current ``LT - LTV`` (clipped to
        :data:`INFERRED_BUFFER_RANGE`) when it has current parameters with LTV > 0, else the
        default. ``lt_max`` includes ``LT x (1 + bonus) <= 1 - slippage_margin``; ``lt_min`` is at
        least the buffer plus :data:`MIN_LT_ABOVE_BUFFER`.

        Raises
        ------
        ConfigError
            If an asset's lower bound exceeds its upper bound.
        """
        lo, hi, buf = [], [], []
        for i, a in enumerate(current.assets):
            if a in self.asset_ltv_buffer:
                b = self.asset_ltv_buffer[a]
            elif has_current[i] and current.ltv[i] > 0:
                b = float(np.clip(current.liquidation_threshold[i] - current.ltv[i], *INFERRED_BUFFER_RANGE))
            else:
                b = self.ltv_buffer
            top = min(self.asset_lt_max.get(a, self.lt_max), (1.0 - self.slippage_margin) / (1.0 + bonus[i]))
            bottom = max(self.asset_lt_min.get(a, self.lt_min), b + MIN_LT_ABOVE_BUFFER)
            if bottom > top:
                raise ConfigError(
                    f"[assets.{a}]: the lower bound on LT ({bottom:.4f}, from lt_min and the LTV buffer {b:.4f}) "
                    f"exceeds the upper bound ({top:.4f}, from lt_max and LT x (1 + bonus) <= 1)"
                )
            lo.append(bottom)
            hi.append(top)
            buf.append(b)
        return np.array(lo), np.array(hi), np.array(buf)


def asset_caps(k: FloatArray, alpha: float, share: float) -> FloatArray:
    """Largest LT per asset whose own CVaR of bad debt per USD at the threshold is <= ``share``.

    One-dimensional and monotone, so it is an exact upper bound added to the joint LP; it keeps a
    small asset from taking a loose threshold just because it barely moves the aggregate tail.

    Parameters
    ----------
    k : ndarray of shape (n_scenarios, n_assets)
        Recovery ratios.
    alpha : float
    share : float
        CVaR budget per USD of the asset's collateral at the threshold.

    Returns
    -------
    ndarray of shape (n_assets,)
    """
    from optimizer.optimize.convex import single_asset_threshold

    return np.array([single_asset_threshold(k[:, i], 1.0, share, alpha) for i in range(k.shape[1])])


def historical_stress_budget(budget: float, alpha: float, n_windows: int) -> float:
    """Default bound of each stress row: ``budget x (1 - alpha) x n_windows``.

    A stress scenario counted at its historical frequency (one of ``n_windows`` horizon windows
    scanned) adds at least ``L / n_windows / (1 - alpha)`` to the CVaR_alpha of losses, so a scenario
    losing more than this breaks the appetite's CVaR budget on history by itself. The bound is
    the appetite's own, at the history's length: no number is added.
    """
    return float(budget * (1.0 - alpha) * max(int(n_windows), 1))


@dataclass(frozen=True, eq=False)
class StressRows:
    """Named stress scenarios as hard rows of the threshold LP, on its worst-case book.

    Attributes
    ----------
    names : tuple of str
    k : ndarray of shape (n_stress, n_assets)
        Recovery ratios in each stress scenario, with the LP's slippage and bonus.
    budget : float
        USD bound of every row: ``sum_i W_i max(LT_i - k[j, i], 0) <= budget``.
    rule : str
        How the budget was set (for the report).
    """

    names: tuple[str, ...]
    k: FloatArray
    budget: float
    rule: str

    def losses(self, lt: ArrayLike, exposure: FloatArray) -> FloatArray:
        """Worst-case-book loss of each row at thresholds ``lt``, USD."""
        from optimizer.optimize.convex import threshold_losses

        return threshold_losses(np.asarray(lt, dtype=float), self.k, exposure)

    def binding(self, lt: ArrayLike, exposure: FloatArray, rtol: float = 1e-6) -> np.ndarray:
        """Rows at their budget (within ``rtol``) at thresholds ``lt``, bool (n_stress,)."""
        loss = self.losses(lt, exposure)
        return (loss >= self.budget * (1.0 - rtol)) & (loss > 0)


def binding_label(lt: float, lt_min: float, lt_max: float, cap: float, atol: float = 1e-6) -> Binding:
    """What holds a threshold ``lt`` where it is, given its bounds and its asset guard ``cap``."""
    if lt <= lt_min + atol:
        return Binding.LOWER_BOUND if cap >= lt_min else Binding.LOWER_BOUND_GUARD_NOT_MET
    if cap < lt_max and abs(lt - cap) <= atol:
        return Binding.ASSET_GUARD
    if lt >= lt_max - atol:
        return Binding.UPPER_BOUND
    return Binding.RISK_BUDGET


@dataclass(frozen=True, eq=False)
class ThresholdProblem:
    """The threshold program of one market: recoveries, exposures, bounds and budgets.

    Build it with :meth:`build`. Arrays are per asset, shape (n_assets,), unless noted.

    Attributes
    ----------
    current : RiskParams
        Current parameters (placeholders where ``has_current`` is False); they give the buffer,
        the close factor and the assets whose zero LTV is kept.
    has_current : tuple of bool
    bonus : ndarray
        Liquidation bonus of the recommended parameters.
    lt_min, lt_max, buffer : ndarray
        Bounds on LT and ``LT - LTV`` (see :meth:`ThresholdBounds.resolve`).
    sigma : ndarray
        Daily volatility the slippage is computed with.
    collateral : ndarray
        Collateral per asset, USD: the capital-efficiency weight.
    slippage : ndarray
        Liquidation slippage per asset (:class:`~optimizer.protocol.liquidity.DepthSlippage`) of
        the day's sale ``sale``.
    sale : SaleSize or None
        The day's sale per asset the slippage prices (:mod:`optimizer.protocol.sale`).
    weights : ndarray of shape (n_assets, n_assets)
        Debt-basket weights per collateral asset.
    basket : ndarray of shape (n_scenarios, n_assets)
        Debt-basket price relative per scenario and collateral asset.
    k : ndarray of shape (n_scenarios, n_assets)
        Recovery ratio per USD of debt of each asset's collateral.
    exposure : ndarray
        Collateral of borrowing accounts per asset, USD (what sits at the threshold).
    alpha : float
        CVaR level.
    k_stressed : ndarray of shape (2 n_scenarios, n_assets) or None
        Recoveries of the comonotone-stressed mixture the LP is solved on (None: no stress).
    scenario_weights : ndarray of shape (2 n_scenarios,) or None
        Probabilities of the stressed mixture.
    budget : float
        CVaR budget on bad debt, USD.
    asset_share : float
        Per-asset guard: CVaR of bad debt per USD of collateral at the threshold.
    keep_zero_ltv : bool
    held_ltv_lt : {"up_to_current", "risk_limit"}
        See :class:`ThresholdBounds`.
    """

    current: RiskParams
    has_current: tuple[bool, ...]
    bonus: FloatArray
    lt_min: FloatArray
    lt_max: FloatArray
    buffer: FloatArray
    sigma: FloatArray
    collateral: FloatArray
    slippage: FloatArray
    weights: FloatArray
    basket: FloatArray
    k: FloatArray
    exposure: FloatArray
    alpha: float
    k_stressed: FloatArray | None
    scenario_weights: FloatArray | None
    budget: float
    asset_share: float
    keep_zero_ltv: bool = False
    sale: SaleSize | None = None
    held_ltv_lt: str = "up_to_current"
    #: Stress-library rows of the LP (None: off).
    stress: StressRows | None = None

    @classmethod
    def build(
        cls,
        scenarios: Any,
        book: Book,
        current: RiskParams,
        *,
        has_current: tuple[bool, ...],
        bonus: ArrayLike,
        sigma_daily: ArrayLike,
        slippage_law: DepthSlippage,
        sale: SaleSize,
        bounds: ThresholdBounds,
        alpha: float,
        asset_share: float,
        budget_usd: float | None = None,
        budget_share: float | None = None,
        comonotone_share: float = 0.0,
        stress_terminal: ArrayLike | None = None,
        stress_names: tuple[str, ...] = (),
        stress_budget_usd: float | None = None,
        stress_rule: str = "",
    ) -> ThresholdProblem:
        """Derive the program from the scenarios, the book, current parameters and liquidity.

        Parameters
        ----------
        scenarios : ScenarioSet or ndarray of shape (n_scenarios, n_assets)
            The scenarios, or their terminal price relatives.
        book : Book
        current : RiskParams
        has_current : tuple of bool
            Which assets have real current parameters.
        bonus : array_like of shape (n_assets,)
            Liquidation bonus of the recommended parameters.
        sigma_daily : array_like of shape (n_assets,)
            Daily volatility the slippage is computed with.
        slippage_law : DepthSlippage
            The depth curves of the assets.
        sale : SaleSize
            The liquidation day's sale per asset that ``slippage_law`` prices.
        bounds : ThresholdBounds
        alpha : float
            CVaR level.
        asset_share : float
            Per-asset guard (CVaR per USD of collateral at the threshold).
        budget_usd, budget_share : float, optional
            The CVaR budget, in USD, or as a share of the book's debt (``budget_share`` wins).
        comonotone_share : float, default 0
            Weight of the comonotone part of the scenarios the LP is solved on
            (:func:`optimizer.scenarios.comonotone_stress`).
        stress_terminal : array_like of shape (n_stress, n_assets), optional
            Terminal relatives of named stress scenarios: each becomes a hard LP row (bad debt of
            the worst-case book <= ``stress_budget_usd``), its recoveries from the same slippage
            and bonus as the scenarios'. None: no stress rows.
        stress_names, stress_rule : names of the rows, how their budget was set (report text).
        stress_budget_usd : float, optional
            Bound of every stress row, USD (required with ``stress_terminal``).

        Raises
        ------
        ConfigError
            If an asset's bounds cross or the budget is not > 0.
        """
        from optimizer.protocol.kernels import isolated_recovery
        from optimizer.protocol.mechanics import (
            debt_basket_relatives,
            debt_basket_weights,
            exposure_at_threshold,
        )
        from optimizer.scenarios import comonotone_stress

        terminal = np.asarray(getattr(scenarios, "terminal", scenarios))
        bonus = np.asarray(bonus, dtype=float)
        lt_min, lt_max, buffer = bounds.resolve(current, tuple(has_current), bonus)
        sigma = np.asarray(sigma_daily, dtype=float)
        collateral = book.collateral_by_asset
        slippage = slippage_law.slippage(sale, sigma)
        weights = debt_basket_weights(book)
        basket = debt_basket_relatives(terminal, weights)
        k = isolated_recovery(terminal, basket, bonus, slippage)
        stress = None
        if stress_terminal is not None:
            rel = np.asarray(stress_terminal, dtype=float).reshape(-1, terminal.shape[1])
            if stress_budget_usd is None or not stress_budget_usd >= 0:
                raise ConfigError(f"[optimizer]: the stress budget must be >= 0 USD, got {stress_budget_usd!r}")
            # the same slippage and bonus as the scenario rows: one recovery law for the whole LP
            ks = isolated_recovery(rel, debt_basket_relatives(rel, weights), bonus, slippage)
            stress = StressRows(names=tuple(stress_names), k=ks, budget=float(stress_budget_usd), rule=stress_rule)
        k_st, w_st = comonotone_stress(k, comonotone_share)
        budget = budget_usd if budget_share is None else budget_share * book.total_debt
        if budget is None or budget <= 0:
            raise ConfigError("[optimizer]: the risk budget is zero: set risk_budget_usd or give the book some debt")
        return cls(
            current=current, has_current=tuple(has_current), bonus=bonus, lt_min=lt_min, lt_max=lt_max,
            buffer=buffer, sigma=sigma, collateral=collateral, slippage=slippage, weights=weights,
            basket=basket, k=k, exposure=exposure_at_threshold(book), alpha=alpha,
            k_stressed=None if w_st is None else k_st, scenario_weights=w_st, budget=float(budget),
            asset_share=asset_share, keep_zero_ltv=bounds.keep_zero_ltv, sale=sale, held_ltv_lt=bounds.held_ltv_lt,
            stress=stress,
        )

    @property
    def assets(self) -> tuple[str, ...]:
        """Asset names, in the order of every array here."""
        return self.current.assets

    @cached_property
    def caps(self) -> FloatArray:
        """Per-asset guard: the largest LT whose own CVaR per USD is <= ``asset_share``."""
        return asset_caps(self.k, self.alpha, self.asset_share)

    @property
    def zero_kept(self) -> np.ndarray:
        """Assets whose LTV stays 0 (``keep_zero_ltv`` and a current LTV of 0), bool (n_assets,)."""
        cur = self.current
        return np.array([
            self.keep_zero_ltv and self.has_current[i] and cur.ltv[i] == 0.0 for i in range(len(self.assets))
        ])

    @property
    def ltv_held(self) -> np.ndarray:
        """Reserves whose LTV a policy holds, bool (n_assets,): today those of :attr:`zero_kept`.

        Their LT buys no borrowing power, so they carry no weight in the capital efficiency and
        their LT follows :attr:`held_ltv_lt`; any parameter held by a later policy joins this mask.
        """
        return self.zero_kept

    @property
    def efficiency_weight(self) -> FloatArray:
        """``C_i`` of the LP: the collateral whose borrowing power counts (0 where the LTV is held).

        With ``LTV = LT - buffer`` elsewhere, ``C @ (LT - buffer)`` is exactly the reported capital
        efficiency ``sum(collateral x LTV)`` (:meth:`capital_efficiency`).
        """
        return np.where(self.ltv_held, 0.0, self.collateral)

    @property
    def held_lt_cap(self) -> FloatArray:
        """Upper bound the held-LTV policy puts on each LT: the current LT under ``"up_to_current"``
        for a reserve with current parameters whose LTV is held, else +inf."""
        cur = np.asarray(self.current.liquidation_threshold, dtype=float)
        on = self.ltv_held & np.array(self.has_current) & (self.held_ltv_lt == "up_to_current")
        return np.where(on, cur, np.inf)

    @property
    def held_lt_target(self) -> FloatArray:
        """Where the second stage heads each held reserve's LT: the held-LTV policy's cap
        (:attr:`held_lt_cap`) within ``lt_max``, before any risk limit; NaN for the other reserves."""
        return np.where(self.ltv_held, np.minimum(self.lt_max, self.held_lt_cap), np.nan)

    def capital_efficiency(self, lt: ArrayLike) -> float:
        """``sum(collateral x LTV)`` of the parameters at thresholds ``lt``, USD: what the report shows."""
        from optimizer.optimize.measures import capital_efficiency

        return capital_efficiency(self.collateral, self.params(lt).ltv)

    def lp_objective(self, lt: ArrayLike) -> float:
        """The LP's objective at thresholds ``lt``: ``efficiency_weight @ (lt - buffer)``, USD."""
        return float(self.efficiency_weight @ (np.asarray(lt, dtype=float) - self.buffer))

    def params(self, lt: ArrayLike) -> RiskParams:
        """The parameters at thresholds ``lt``: LTV = LT - buffer (>= 0), or kept at 0."""
        lt = np.asarray(lt, dtype=float)
        ltv = np.where(self.zero_kept, 0.0, np.maximum(lt - self.buffer, 0.0))
        cur = self.current
        return RiskParams(assets=self.assets, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=self.bonus,
                          close_factor=cur.close_factor, full_close_hf=cur.full_close_hf).check()

    def tail_scenarios(self, lt: ArrayLike, m: int) -> tuple[np.ndarray, float]:
        """Indices of the ``m`` scenarios with the largest worst-case bad debt at thresholds ``lt``.

        With ``lt`` the loosest thresholds a search may try, these hold the tail of every trial
        (bad debt grows with LT). Returns the sorted indices and the total probability of the
        scenarios left out.
        """
        from optimizer.optimize.convex import threshold_losses

        losses = threshold_losses(np.asarray(lt, dtype=float), self.k, self.exposure)
        n = losses.shape[0]
        m = min(m, n)
        idx = np.sort(np.argsort(-losses, kind="stable")[:m])
        return idx, float((n - m) / n)

    def solve(
        self, *, solver: str = "HIGHS", fallback_solver: str | None = "CLARABEL", method: str = "rowgen"
    ) -> ThresholdSolution:
        """Per-asset guards, then the aggregate CVaR LP (on the stressed mixture when there is one).

        An asset whose guard is below its lower bound is held at the lower bound and reported in
        ``guard_fails``; the status is ``"ok"`` only when the LP is optimal and no guard fails.

        The LP maximises the capital efficiency, in which a reserve whose LTV is held has no weight.
        Such a reserve's LT is then set lexicographically (``secondary_target`` of
        :class:`~optimizer.optimize.ThresholdOptimizer`): with every other threshold fixed at the
        first optimum, the held LTs rise together from ``lt_min`` toward their targets (:attr:`held_lt_target`:
        the current LT under ``"up_to_current"``), each by the same share of its way, as far as the
        same budget allows; one whose own guard or bound binds first stops there, one that could not
        rise alone within the budget stops, the others rise on (progressive filling). The division of
        the remaining budget is thus a property of the inputs, not of an LP vertex. The capital
        efficiency is exactly the first stage's and the budget is still met. ``risk_limit_lt`` gives
        the LT the risk target alone would allow each held reserve (the others as recommended).
        """
        from optimizer.optimize.convex import ThresholdOptimizer, coordinate_limits

        caps = self.caps
        capped = np.minimum(self.lt_max, caps)
        guard_fails = [a for i, a in enumerate(self.assets) if capped[i] < self.lt_min[i]]
        lt_max_eff = np.maximum(capped, self.lt_min)
        held = self.ltv_held
        policy_max = np.maximum(np.minimum(lt_max_eff, self.held_lt_cap), self.lt_min)
        k = self.k if self.k_stressed is None else self.k_stressed
        opt = ThresholdOptimizer(
            alpha=self.alpha, budget=self.budget, solver=solver, fallback_solver=fallback_solver, method=method,
        ).fit(k, self.exposure, self.efficiency_weight, self.lt_min, policy_max, self.buffer,
              weights=self.scenario_weights,
              secondary_target=np.where(held, self.held_lt_target, np.nan) if held.any() else None,
              stress_recovery=None if self.stress is None else self.stress.k,
              stress_budget=None if self.stress is None else self.stress.budget)
        lt = np.asarray(opt.lt_, dtype=float)
        risk_limit = np.full(lt.size, np.nan)
        if held.any() and opt.status_ == "optimal":
            risk_limit = coordinate_limits(lt, k, self.exposure, lt_max_eff, opt.secondary_budget_, self.alpha,
                                           weights=self.scenario_weights, which=held)
        status = RunStatus.OK if opt.status_ == "optimal" and not guard_fails else RunStatus.INFEASIBLE
        return ThresholdSolution(problem=self, optimizer=opt, recommended=self.params(lt), lt=lt, caps=caps,
                                 guard_fails=guard_fails, zero_kept=self.zero_kept, status=status,
                                 risk_limit_lt=risk_limit, policy_max=policy_max)


@dataclass(frozen=True, eq=False)
class ThresholdSolution:
    """Recommended parameters from the convex core, and what bound them.

    Attributes
    ----------
    problem : ThresholdProblem
    optimizer : ThresholdOptimizer
        The fitted LP (``lt_``, ``cvar_``, ``objective_``, ``status_``, ...).
    recommended : RiskParams
    lt : ndarray of shape (n_assets,)
    caps : ndarray of shape (n_assets,)
        Per-asset guards.
    guard_fails : list of str
        Assets whose guard lies below their lower bound.
    zero_kept : ndarray of bool, shape (n_assets,)
    status : RunStatus
    risk_limit_lt : ndarray of shape (n_assets,)
        For a reserve whose LTV is held: the highest LT the risk target alone allows it (bounds,
        its guard, the aggregate budget with the others as recommended); NaN elsewhere.
    policy_max : ndarray of shape (n_assets,)
        Upper bound the LP used: ``lt_max``, the guard and the held-LTV policy's cap.
    unrounded : RiskParams or None
        The program's answer when ``recommended`` is it on the protocol's grid
        (:func:`~optimizer.optimize.solution_on_grid`; ``lt`` stays the program's, so
        :attr:`binding` says what set it); None: ``recommended`` is the program's answer.
    grid : GridRounding or None
        The rounding, with the program's CVaR before and after it.
    """

    problem: ThresholdProblem
    optimizer: Any
    recommended: RiskParams
    lt: FloatArray
    caps: FloatArray
    guard_fails: list[str]
    zero_kept: np.ndarray
    status: RunStatus
    risk_limit_lt: FloatArray | None = None
    policy_max: FloatArray | None = None
    unrounded: RiskParams | None = None
    grid: Any = None

    @property
    def binding(self) -> list[Binding]:
        """Per asset, what holds its threshold (:func:`binding_label`); an asset between its bounds
        that carries a binding stress row (its LT above its recovery there) is held by the stress
        budget, or by both budgets when the aggregate CVaR budget binds too."""
        p = self.problem
        out = [binding_label(self.lt[i], p.lt_min[i], p.lt_max[i], self.caps[i]) for i in range(len(self.lt))]
        lim = self.risk_limit_lt
        for i in np.flatnonzero(p.ltv_held) if lim is not None else ():
            cap = p.held_lt_cap[i]
            if np.isfinite(cap) and abs(self.lt[i] - cap) <= 1e-6 and lim[i] > cap + 1e-6:
                out[i] = Binding.HELD_AT_CURRENT
        binds = getattr(self.optimizer, "stress_binding_", np.zeros(0, dtype=bool))
        if p.stress is None or not binds.any():
            return out
        in_row = (self.lt[None, :] > p.stress.k[binds] + 1e-9).any(axis=0) & (p.exposure > 0)
        cvar_binds = self.optimizer.cvar_ >= p.budget * (1.0 - 1e-6)
        both = Binding.RISK_AND_STRESS_BUDGET if cvar_binds else Binding.STRESS_BUDGET
        return [both if in_row[i] and b == Binding.RISK_BUDGET else b for i, b in enumerate(out)]
