"""The convex core: liquidation thresholds that maximise capital efficiency under a CVaR budget.

Problem
-------
With ``k[s, i]`` the USD a liquidator recovers per USD of debt-equivalent of collateral ``i`` in
scenario ``s``, ``W_i`` the USD of collateral assumed to sit exactly at the liquidation threshold
(every borrowing account at health factor 1, so its debt is ``LT_i * W_i``) and ``C_i`` the USD of
collateral whose borrowing power counts, the bad debt of scenario ``s`` is

    L_s(LT) = sum_i W_i max(LT_i - k[s, i], 0),

convex, piecewise linear and non-decreasing in ``LT``. The thresholds solve

    maximise   sum_i C_i LT_i
    subject to CVaR_alpha(L(LT)) <= B,   lt_min <= LT <= lt_max,

and ``LTV = LT - buffer`` (so this also maximises the borrowing power ``sum_i C_i LTV_i``). The
CVaR is written with Rockafellar-Uryasev, ``min_t t + sum_s p_s (L_s - t)+ / (1 - alpha)``, which
turns the problem into a linear programme.

Because ``L`` is non-decreasing in every threshold, the problem is feasible exactly when
``CVaR(L(lt_min)) <= B``: that CVaR is the smallest budget that can be met.

A threshold with ``C_i = 0`` (a reserve whose LTV a policy holds at 0) buys no capital efficiency,
so the first stage leaves it anywhere in its box. An optional second, lexicographic stage then fixes
every threshold with a weight in the first objective at its first-stage optimum and shares the rest
of the same CVaR budget among the others by progressive filling (:func:`progressive_fill`): they
rise together from ``lt_min`` toward their targets, by the same share of the way, and each stops
where it reaches its upper bound or can no longer rise alone within the budget. A linear objective
over them would put the answer at a vertex whose division of the budget jumps with the Monte
Carlo sample; the filling's answer is the unique lexicographic max-min of those shares, a
property of the inputs. The capital efficiency of the first stage is kept exactly (not within a
tolerance).

Stress rows (optional): named stress scenarios ``j`` with recoveries ``ks[j, i]`` add the hard
constraints ``L^st_j(LT) = sum_i W_i max(LT_i - ks[j, i], 0) <= B_st``, convex in ``LT`` like the
scenario losses and modelled exactly in every LP (they are few); the problem is then feasible
exactly when moreover ``max_j L^st_j(lt_min) <= B_st``.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from optimizer.exceptions import ConvergenceWarning, InfeasibleError, SolverError
from optimizer.optimize._blocks import (
    box_block,
    cvar_block,
    make_threshold_loss_data,
    threshold_loss_block,
)
from optimizer.optimize._labels import Binding
from optimizer.optimize.measures import cvar, tail_probabilities, var_cvar
from optimizer.typing import FloatArray, IntArray

__all__ = ["ThresholdOptimizer", "coordinate_limits", "progressive_fill", "single_asset_threshold", "threshold_losses"]

logger = logging.getLogger(__name__)

_SOLVER_HINT = "Try another solver, or solver_params=dict(verbose=True)"


def _quiet_highs_banner() -> None:
    """Keep HiGHS's "Running HiGHS ... Copyright" banner off stdout.

    HiGHS writes that header once per process, to its log, on the first call into a solver whose
    ``output_flag`` is on. highspy's ``Highs()`` makes such a call in its constructor, before cvxpy
    can pass ``verbose=False`` (``log_to_console``) or ``output_flag=False``, so no solver option
    reaches it. A first instance with ``log_to_console`` off takes the header into a log that goes
    nowhere; later instances (cvxpy's) then have none to print. Solver output with
    ``solver_params=dict(verbose=True)`` is unaffected.
    """
    global _HIGHS_QUIET
    if _HIGHS_QUIET:
        return
    _HIGHS_QUIET = True
    try:
        from highspy import HighsLp
        from highspy._core import _Highs
    except ImportError:  # no HiGHS, or another layout: nothing to do
        return
    h = _Highs()
    h.setOptionValue("log_to_console", False)
    h.passModel(HighsLp())


_HIGHS_QUIET = False
#: Relative objective gap between two solvers above which a warning is raised (1 bp).
_DISAGREE_RTOL = 1e-4
#: Row generation: share of the tail mass aggregated as "surely in the tail" ...
_SURE_TAIL = 0.7
#: ... and tail mass (as a multiple of 1 - alpha) modelled exactly with one row each.
_BAND_TAIL = 1.5
#: Trust-region half-widths: first level, warm-started levels, floor.
_DELTA_COLD, _DELTA_WARM, _DELTA_MIN = 0.05, 0.01, 0.005
#: Sub-sample sizes of the warm-start levels, in expected tail scenarios (x 1 / (1 - alpha)).
_LEVEL_TAILS = (40, 200)
_EDGE = 1e-9
#: Share of the budget the first stage leaves unused when a second (lexicographic) stage follows.
STAGE_SLACK = 1e-6
#: Progressive filling: a threshold that cannot rise alone by this much (LT, 1e-5 bp) has stopped ...
FILL_STEP = 1e-9
#: ... and the common share is bisected to this width (far below the step, so the test is sharp).
_FILL_WIDTH = 1e-13

Method = Literal["rowgen", "full"]


def threshold_losses(lt: FloatArray, recovery: FloatArray, exposure: FloatArray) -> FloatArray:
    """Bad debt per scenario of accounts sitting at the thresholds.

    Parameters
    ----------
    lt : ndarray of shape (n_assets,)
        Liquidation thresholds.
    recovery : ndarray of shape (n_scenarios, n_assets)
        ``k[s, i]``.
    exposure : ndarray of shape (n_assets,)
        ``W_i`` in USD.

    Returns
    -------
    ndarray of shape (n_scenarios,)
        ``L_s = sum_i W_i max(lt_i - k[s, i], 0)`` in USD.
    """
    d = np.subtract(lt, recovery)
    np.maximum(d, 0.0, out=d)
    return d @ exposure


def single_asset_threshold(
    recovery: npt.ArrayLike,
    exposure: float,
    budget: float,
    alpha: float,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Largest threshold of one asset whose CVaR of bad debt fits the budget (closed form).

    For a single asset ``L(x) = W max(x - k, 0)`` is a non-increasing function of ``k``, so the
    worst ``1 - alpha`` of the losses are always the scenarios with the smallest ``k`` (with a
    fractional weight on the last one), whatever ``x``. Hence
    ``CVaR(x) = W / (1 - alpha) * sum_j q_j max(x - k_(j), 0)`` over the sorted tail, a
    piecewise-linear increasing function, and ``CVaR(x) = B`` is solved exactly on the right
    linear piece. For several assets ``L >= W_i max(LT_i - k_i, 0)`` term by term, so this value
    is also an upper bound on each asset's optimal threshold in the joint problem.

    Parameters
    ----------
    recovery : array-like of shape (n_scenarios,)
        ``k[s]`` of the asset.
    exposure : float
        ``W`` in USD.
    budget : float
        CVaR budget ``B`` in USD.
    alpha : float
        Confidence level in [0, 1).
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights.

    Returns
    -------
    float
        ``max{x : CVaR_alpha(W max(x - k, 0)) <= B}``; ``inf`` when ``W == 0``.
    """
    k = np.asarray(recovery, dtype=np.float64)
    if exposure <= 0:
        return float("inf")
    p = tail_probabilities(weights, k.size)
    mass = 1.0 - alpha
    if weights is None or np.all(p == p[0]):
        # equal weights: only the ceil(mass * N) + 1 smallest values can carry tail weight
        m = min(int(np.ceil(mass * k.size)) + 1, k.size)
        ks = np.sort(np.partition(k, m - 1)[:m]) if m < k.size else np.sort(k)
        ps = np.full(ks.size, p[0])
    else:
        order = np.argsort(k, kind="stable")
        ks, ps = k[order], p[order]
    before = np.concatenate(([0.0], np.cumsum(ps)[:-1]))
    q = np.clip(mass - before, 0.0, ps)  # tail weight of each sorted scenario
    keep = q > 0
    ks, q = ks[keep], q[keep]
    qc = np.cumsum(q)
    kc = np.cumsum(q * ks)
    target = budget * mass / exposure  # sum_j q_j (x - k_j)+ must not exceed this
    # value of the tail sum at each breakpoint x = ks[m] (pieces j < m active)
    at_break = ks * np.concatenate(([0.0], qc[:-1])) - np.concatenate(([0.0], kc[:-1]))
    m = int(np.searchsorted(at_break, target, side="right")) - 1  # last breakpoint within budget
    m = max(m, 0)
    return float((target + kc[m]) / qc[m])


def coordinate_limits(
    lt: npt.ArrayLike,
    recovery: npt.ArrayLike,
    exposure: npt.ArrayLike,
    upper: npt.ArrayLike,
    budget: float,
    alpha: float,
    *,
    weights: npt.ArrayLike | None = None,
    which: npt.ArrayLike | None = None,
    rtol: float = 0.0,
    iters: int = 50,
) -> FloatArray:
    """Per asset, the largest threshold the CVaR budget allows with every other threshold at ``lt``.

    ``CVaR(L)`` is non-decreasing in each threshold, so each limit is found by bisection on the exact
    CVaR over all scenarios, between ``lt_i`` (assumed within budget) and ``upper_i``.

    Parameters
    ----------
    lt : array-like of shape (n_assets,)
        The point; when its CVaR exceeds ``budget`` (within a solver's tolerance) that CVaR is
        the budget.
    recovery : array-like of shape (n_scenarios, n_assets)
    exposure : array-like of shape (n_assets,)
    upper : array-like of shape (n_assets,)
        Upper bounds (bounds and guards): a limit never exceeds them.
    budget : float
        CVaR budget, USD.
    alpha : float
    weights : array-like of shape (n_scenarios,), optional
    which : array-like of bool, shape (n_assets,), optional
        Assets to compute (default all); the others get NaN.
    rtol : float
        Relative slack on the budget.
    iters : int
        Bisection steps (50 halve the interval to below 1e-15).

    Returns
    -------
    ndarray of shape (n_assets,)
    """
    x = np.asarray(lt, dtype=np.float64)
    k = np.asarray(recovery, dtype=np.float64)
    W = np.asarray(exposure, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    pick = np.ones(x.size, dtype=bool) if which is None else np.asarray(which, dtype=bool)
    base = threshold_losses(x, k, W)
    # a point certified within the LP's tolerance may sit a hair above the budget: measure from it
    cap = max(budget, cvar(base, alpha, weights)) * (1.0 + rtol)
    out = np.full(x.size, np.nan)
    for i in np.flatnonzero(pick):
        ki = np.ascontiguousarray(k[:, i])  # read ~50 times below: a strided column costs a cache line per value
        rest = base - W[i] * np.maximum(x[i] - ki, 0.0)

        def risk(t: float, i: int = i, rest: FloatArray = rest, ki: FloatArray = ki) -> float:
            return cvar(rest + W[i] * np.maximum(t - ki, 0.0), alpha, weights)

        a, b = float(x[i]), float(max(hi[i], x[i]))
        if risk(b) <= cap:
            out[i] = b
            continue
        for _ in range(iters):
            m = 0.5 * (a + b)
            if risk(m) <= cap:
                a = m
            else:
                b = m
        out[i] = a
    return out


def progressive_fill(
    feasible: Callable[[FloatArray], bool],
    lower: npt.ArrayLike,
    target: npt.ArrayLike,
    upper: npt.ArrayLike,
    *,
    step: float = FILL_STEP,
) -> FloatArray:
    """Thresholds raised together toward their targets as far as a monotone constraint allows.

    Every threshold moves by the same share ``u`` of its way from ``lower`` to ``target``,
    ``x_i(u) = min(lower_i + u (target_i - lower_i), upper_i)``, and ``u`` is raised (bisection)
    as far as ``feasible`` holds. Each threshold that then cannot rise alone by ``step`` stops
    there; the others rise on together from that share, until every threshold has stopped or
    reached ``min(target_i, upper_i)`` (water-filling). For a convex feasible set this is the
    lexicographic max-min of the shares ``(x_i - lower_i) / (target_i - lower_i)``, which is
    unique: the answer depends on the constraint only, so two identical thresholds get the same
    value and a small change of the constraint moves every threshold a little, not one a lot.

    Parameters
    ----------
    feasible : callable
        ``feasible(x) -> bool`` for ``x`` of shape (n,); monotone (false at ``x`` means false at
        every point above it) and true at ``lower``.
    lower, target, upper : array-like of shape (n,)
        Start, the point each threshold heads for, and its upper bound (a target below
        ``lower`` means the threshold stays at ``lower``).
    step : float
        A threshold that cannot rise alone by this much has stopped.

    Returns
    -------
    ndarray of shape (n,)
        ``lower <= x <= max(lower, min(target, upper))``, ``feasible(x)`` true.

    Examples
    --------
    >>> ok = lambda x: x.sum() <= 1.0                     # a budget of 1 shared by three
    >>> progressive_fill(ok, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.2, 1.0, 1.0]).round(6)
    array([0.2, 0.4, 0.4])
    """
    lo = np.asarray(lower, dtype=np.float64)
    top = np.maximum(np.minimum(np.asarray(target, dtype=np.float64), np.asarray(upper, dtype=np.float64)), lo)
    span = np.asarray(target, dtype=np.float64) - lo
    x = lo.copy()
    moving = top > lo
    level = 0.0

    def at(u: float) -> FloatArray:
        y = x.copy()
        # at u = 1 exactly the target itself, not lower + (target - lower) rounded
        y[moving] = top[moving] if u >= 1.0 else np.minimum(lo[moving] + u * span[moving], top[moving])
        return y

    while moving.any():
        u_top = float(np.max((top[moving] - lo[moving]) / span[moving]))
        if feasible(at(u_top)):
            return at(u_top)
        a, b = level, u_top
        while b - a > _FILL_WIDTH:
            m = 0.5 * (a + b)
            if feasible(at(m)):
                a = m
            else:
                b = m
        x, level = at(a), a
        done = moving & (x >= top)
        for i in np.flatnonzero(moving & ~done):
            y = x.copy()
            y[i] = min(x[i] + step, top[i])
            done[i] = not feasible(y)
        if not done[moving].any():  # no threshold stopped: rounding at the budget's edge, stop all
            done = moving
        moving &= ~done
    return x


def _asset_caps(
    recovery: FloatArray, exposure: FloatArray, budget: float, alpha: float, p: FloatArray
) -> FloatArray:
    return np.array(
        [
            single_asset_threshold(recovery[:, i], float(exposure[i]), budget, alpha, p)
            for i in range(recovery.shape[1])
        ]
    )


def _top_order(losses: FloatArray, p: FloatArray, mass: float) -> IntArray:
    """Indices of the largest losses, descending, covering at least ``mass`` of probability."""
    n = losses.size
    if np.all(p == p[0]):
        m = min(int(np.ceil(mass / p[0])) + 2, n)
        if m < n:
            top = np.argpartition(-losses, m - 1)[:m]
            return top[np.argsort(-losses[top], kind="stable")]
    return np.argsort(-losses, kind="stable")


@dataclass
class _Round:
    level: int
    n_scenarios: int
    n_rows: int
    n_sure: int
    n_pairs: int
    n_linear: int
    cvar_ratio: float
    trust_hits: int
    seconds: float
    status: str


class ThresholdOptimizer(BaseEstimator):
    r"""Liquidation thresholds maximising capital efficiency under a CVaR budget on bad debt.

    Solves ``max sum_i C_i LT_i`` s.t. ``CVaR_alpha(L(LT)) <= budget`` and
    ``lt_min <= LT <= lt_max`` (see the module docstring) exactly, as a linear programme built
    from the blocks of :mod:`optimizer.optimize._blocks`.

    Parameters
    ----------
    alpha : float
        CVaR confidence level in [0, 1), e.g. 0.99.
    budget : float
        CVaR budget ``B`` on bad debt, USD. Required.
    solver : str
        cvxpy solver for the LPs; must be in ``cvxpy.installed_solvers()``.
    fallback_solver : str or None
        Solver used when the first one is inaccurate or fails; None disables the fallback.
    method : {"rowgen", "full"}
        ``"full"`` solves the LP over every scenario at once (the reference). ``"rowgen"``
        (default) solves a sequence of small relaxations and certifies the answer on every
        scenario; same optimum, much faster on large scenario sets (see Notes).
    tol : float
        Relative feasibility tolerance of the exact CVaR check: ``CVaR <= B (1 + tol)``.
    max_rounds : int
        Row-generation rounds per level before giving up and solving the full LP (with a
        :class:`~optimizer.exceptions.ConvergenceWarning`).
    solver_params : dict, optional
        Keyword arguments for ``cvxpy.Problem.solve`` (e.g. ``dict(verbose=True)``).

    Attributes
    ----------
    lt_ : ndarray of shape (n_assets,)
        Optimal liquidation thresholds (``lt_min`` when infeasible).
    ltv_ : ndarray of shape (n_assets,)
        ``lt_ - buffer``.
    status_ : {"optimal", "infeasible"}
        ``"infeasible"`` when ``budget < min_feasible_budget_``; ``fit`` does not raise then,
        call :meth:`raise_if_infeasible` to turn it into an error.
    cvar_ : float
        CVaR_alpha of the bad debt at ``lt_``, recomputed exactly on every scenario, USD.
    var_ : float
        VaR_alpha of the bad debt at ``lt_``, USD.
    objective_ : float
        Capital efficiency ``sum_i C_i ltv_i``, USD of borrowing power.
    binding_ : tuple of Binding, length n_assets
        What stops each threshold: ``"upper bound"``, ``"lower bound"`` or
        ``"aggregate risk budget"``.
    min_feasible_budget_ : float
        CVaR_alpha at ``LT = lt_min``: the smallest budget that can be met, USD.
    primary_lt_ : ndarray of shape (n_assets,)
        The first stage's thresholds (equal to ``lt_`` without ``secondary_target``).
    secondary_budget_ : float
        The budget of the second stage (``budget``, or the CVaR with the second stage's thresholds
        at their floor when that is higher), USD.
    solve_seconds_ : float
        Wall time of the optimisation (presolve, rounds, certification).
    n_rounds_ : int
        LPs solved (all levels of row generation; 1 for ``"full"``).
    n_active_scenarios_ : int
        Scenarios modelled in the last LP.
    solver_status_ : str
        cvxpy status of the last LP (``"skipped"`` when infeasible before solving).
    raw_ : cvxpy.Problem or None
        The last LP, for inspection.
    history_ : list of dict
        One entry per LP: level, sizes, CVaR / budget at its solution, seconds.
    stress_losses_ : ndarray of shape (n_stress,)
        ``L^st_j`` at ``lt_``, USD (empty without stress rows).
    stress_binding_ : ndarray of bool, shape (n_stress,)
        Stress rows at their budget (within ``1e-6`` relative) at ``lt_``.
    min_feasible_stress_budget_ : float
        ``max_j L^st_j(lt_min)``: the smallest stress budget that can be met, USD (0 without rows).
    n_assets_ : int
    asset_names_ : tuple of str

    Notes
    -----
    Row generation. Every master LP is a *relaxation* of the full problem restricted to a box
    (trust region) ``T = [lo, hi]`` around the current point ``x_c``:

    * scenarios are dropped (their non-negative RU terms removed, keeping the full-set
      probabilities ``p_s / (1 - alpha)``);
    * the scenarios ranked first at ``x_c`` are treated as surely in the tail
      (``(L_s - t)`` instead of ``(L_s - t)+``), which aggregates them into one row;
    * loss terms with ``k < lo`` are linearised (``LT - k <= (LT - k)+``) and terms with
      ``k >= hi`` dropped (``0 <= (LT - k)+``); both are exact inside ``T``;
    * ``t >= 0`` is valid because the losses, hence the VaR, are non-negative.

    Each change can only lower the modelled CVaR, so the master's feasible set contains that of
    the full problem within ``T`` and its optimum ``x*`` is at least as good. The losses are then
    evaluated on *all* scenarios at ``x*``. If ``CVaR(L(x*)) <= B (1 + tol)``, ``x*`` is feasible
    for the full problem, hence optimal within ``T``; if moreover no coordinate of ``x*`` sits on
    a box face that is not one of the real bounds, ``x*`` is a local, hence (the problem is
    convex) global, optimum: the answer is certified on every scenario, not on the sample the
    master saw. Otherwise the box is re-centred on ``x*``, widened along the coordinates that hit
    it, the scenarios re-ranked (the exact tail ``{L >= VaR, L > 0}`` of every iterate stays
    modelled), and the master re-solved. The first centre comes from the same procedure on
    nested random sub-samples (a fixed-seed permutation, so results are deterministic; the
    sub-samples only choose where to start, never the certified answer). When a master is
    infeasible because the box lies wholly above the budget, its lower faces are dropped to
    ``lt_min``, where the problem is known to be feasible.
    """

    def __init__(
        self,
        alpha: float = 0.99,
        budget: float | None = None,
        solver: str = "HIGHS",
        fallback_solver: str | None = "CLARABEL",
        method: Method = "rowgen",
        tol: float = 1e-7,
        max_rounds: int = 50,
        solver_params: dict[str, Any] | None = None,
    ) -> None:
        self.alpha = alpha
        self.budget = budget
        self.solver = solver
        self.fallback_solver = fallback_solver
        self.method = method
        self.tol = tol
        self.max_rounds = max_rounds
        self.solver_params = solver_params

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if not 0.0 <= float(self.alpha) < 1.0:
            raise ValueError(f"`alpha` must be in [0, 1), got alpha={self.alpha!r}")
        if self.budget is None:
            raise ValueError("`budget` is required: the CVaR budget on bad debt in USD")
        if not np.isfinite(self.budget) or self.budget < 0:
            raise ValueError(
                f"`budget` must be a finite number >= 0 USD, got budget={self.budget!r}"
            )
        if self.method not in ("rowgen", "full"):
            raise ValueError(f"`method` must be 'rowgen' or 'full', got method={self.method!r}")
        if not self.tol > 0:
            raise ValueError(f"`tol` must be > 0, got tol={self.tol!r}")
        if int(self.max_rounds) < 1:
            raise ValueError(f"`max_rounds` must be >= 1, got max_rounds={self.max_rounds!r}")
        installed = cp.installed_solvers()
        for name in ("solver", "fallback_solver"):
            s = getattr(self, name)
            if s is None and name == "fallback_solver":
                continue
            if s not in installed:
                raise ValueError(f"`{name}`={s!r} is not installed; cvxpy has {sorted(installed)}")

    @staticmethod
    def _vector(name: str, value: npt.ArrayLike, n: int, names: tuple[str, ...]) -> FloatArray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise ValueError(f"`{name}` must have shape ({n},), got {arr.shape}")
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(
                f"`{name}` must be finite, got {arr[bad[0]]} for asset {names[bad[0]]!r}"
            )
        return arr

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        recovery: npt.ArrayLike,
        exposure: npt.ArrayLike,
        efficiency_weight: npt.ArrayLike,
        lt_min: npt.ArrayLike,
        lt_max: npt.ArrayLike,
        buffer: npt.ArrayLike,
        *,
        weights: npt.ArrayLike | None = None,
        asset_names: Sequence[str] | None = None,
        secondary_target: npt.ArrayLike | None = None,
        stress_recovery: npt.ArrayLike | None = None,
        stress_budget: float | None = None,
    ) -> ThresholdOptimizer:
        """Solve for the thresholds.

        Parameters
        ----------
        recovery : array-like of shape (n_scenarios, n_assets)
            ``k[s, i]``: USD a liquidator recovers per USD of debt-equivalent, i.e. (collateral
            price relative / debt-basket price relative) x (1 - slippage_i) / (1 + bonus_i).
        exposure : array-like of shape (n_assets,)
            ``W_i``: USD of collateral assumed to sit at the threshold.
        efficiency_weight : array-like of shape (n_assets,)
            ``C_i``: USD of collateral whose borrowing power counts.
        lt_min, lt_max : array-like of shape (n_assets,)
            Bounds of the thresholds, fractions in [0, 1).
        buffer : array-like of shape (n_assets,)
            ``LT - LTV`` per asset, >= 0 and <= ``lt_min``.
        weights : array-like of shape (n_scenarios,), optional
            Scenario probability weights; None means equal weights.
        asset_names : sequence of str, optional
            Names used in messages and the summary.
        secondary_target : array-like of shape (n_assets,), optional
            Second, lexicographic stage for the thresholds with a finite target (NaN elsewhere):
            the first stage is solved at ``1 - STAGE_SLACK`` (1e-6) of the budget, every other
            threshold is then fixed at its optimum and these share the rest of the full budget by
            progressive filling (:func:`progressive_fill`): from ``lt_min`` they rise together,
            ``LT_i = lt_min_i + u (target_i - lt_min_i)`` with one share ``u``, never above
            ``lt_max_i`` or the target; each stops where it could not rise alone within the CVaR
            budget and the stress rows, the others rise on. The CVaR is the exact one over every
            scenario (no LP tolerance), so each stopped threshold sits at its limit given the rest.
            Finite only where ``efficiency_weight`` is 0, so the capital efficiency is exactly the
            first stage's (the optimum at 99.9999 % of the budget).
        stress_recovery : array-like of shape (n_stress, n_assets), optional
            ``ks[j, i]`` of named stress scenarios: each adds the hard row
            ``sum_i W_i max(LT_i - ks[j, i], 0) <= stress_budget``. None: no stress rows.
        stress_budget : float, optional
            USD bound of every stress row (required with ``stress_recovery``).

        Returns
        -------
        self
        """
        self._check_params()
        k = np.asarray(recovery, dtype=np.float64)
        if k.ndim != 2 or k.shape[0] == 0 or k.shape[1] == 0:
            raise ValueError(f"`recovery` must have shape (n_scenarios, n_assets), got {k.shape}")
        n_scen, n = k.shape
        names = (
            tuple(asset_names) if asset_names is not None else tuple(f"asset{i}" for i in range(n))
        )
        if len(names) != n:
            raise ValueError(f"`asset_names` has {len(names)} names for {n} assets")
        if not np.all(np.isfinite(k)):
            s, i = np.argwhere(~np.isfinite(k))[0]
            raise ValueError(
                f"`recovery` must be finite, got {k[s, i]} at scenario {s}, asset {names[i]!r}"
            )
        W = self._vector("exposure", exposure, n, names)
        C = self._vector("efficiency_weight", efficiency_weight, n, names)
        lo = self._vector("lt_min", lt_min, n, names)
        hi = self._vector("lt_max", lt_max, n, names)
        buf = self._vector("buffer", buffer, n, names)
        target2 = None if secondary_target is None else np.asarray(secondary_target, dtype=np.float64)
        if target2 is not None and (target2.shape != (n,) or np.any(np.isinf(target2))):
            raise ValueError(f"`secondary_target` must have shape ({n},), finite or NaN, got {target2}")
        for name, arr in (("exposure", W), ("efficiency_weight", C), ("buffer", buf)):
            if np.any(arr < 0):
                i = int(np.flatnonzero(arr < 0)[0])
                raise ValueError(f"`{name}` must be >= 0, got {arr[i]} for asset {names[i]!r}")
        if np.any((lo < 0) | (hi >= 1) | (lo > hi)):
            i = int(np.flatnonzero((lo < 0) | (hi >= 1) | (lo > hi))[0])
            raise ValueError(
                f"need 0 <= lt_min <= lt_max < 1, got lt_min={lo[i]}, lt_max={hi[i]} "
                f"for asset {names[i]!r}"
            )
        if np.any(buf > lo):
            i = int(np.flatnonzero(buf > lo)[0])
            raise ValueError(
                f"`buffer` must be <= lt_min so that LTV = LT - buffer >= 0, got buffer={buf[i]} "
                f"and lt_min={lo[i]} for asset {names[i]!r}; raise lt_min or lower the buffer"
            )
        free = np.zeros(n, dtype=bool) if target2 is None else np.isfinite(target2)
        if np.any(free & (C > 0)):
            i = int(np.flatnonzero(free & (C > 0))[0])
            raise ValueError(
                f"`secondary_target` must be NaN where `efficiency_weight` is positive (asset {names[i]!r}): "
                "the second stage may not change the capital efficiency"
            )
        p = tail_probabilities(weights, n_scen)
        alpha = float(self.alpha)
        budget = float(self.budget)  # type: ignore[arg-type]
        self._stress = self._stress_rows(stress_recovery, stress_budget, n, names)

        self.n_assets_ = n
        self.asset_names_ = names
        self.history_: list[dict[str, Any]] = []
        self.raw_: cp.Problem | None = None
        self.n_rounds_ = 0
        self.n_active_scenarios_ = 0
        self.solver_status_ = "skipped"

        t0 = time.perf_counter()
        self._solver_notes: list[str] = []
        self.min_feasible_budget_ = cvar(threshold_losses(lo, k, W), alpha, p)
        self.secondary_budget_ = budget
        self.primary_lt_ = lo.copy()
        self.min_feasible_stress_budget_ = (
            float(threshold_losses(lo, self._stress[0], W).max()) if self._stress is not None else 0.0
        )
        stress_infeasible = self._stress is not None and (
            self._stress[1] < self.min_feasible_stress_budget_ * (1.0 - 1e-12)
        )
        if budget < self.min_feasible_budget_ * (1.0 - 1e-12) or stress_infeasible:
            x = lo.copy()
            self.status_ = "infeasible"
        else:
            self.status_ = "optimal"
            scale = budget if budget > 0 else max(float(W.sum()), 1.0)
            solve = self._solve_full if self.method == "full" else self._solve_rowgen
            second = bool(free.any())
            # with a second stage the first is solved at (1 - STAGE_SLACK) of the budget: a second
            # stage at exactly the first stage's binding CVaR has a feasible set without interior,
            # which HiGHS and Clarabel both call infeasible
            budget1 = max(budget * (1.0 - STAGE_SLACK), self.min_feasible_budget_) if second else budget
            x = solve(k, W, C, lo, hi, budget1, scale, p)
            self.primary_lt_ = x.copy()
            if second:
                # lexicographic second stage: the first stage's weighted thresholds stay where they are
                assert target2 is not None
                lo2 = np.where(free, lo, x)
                floor = cvar(threshold_losses(lo2, k, W), alpha, p)
                if budget - floor > 0.5 * STAGE_SLACK * budget:  # else nothing is left to give them
                    x = lo2.copy()
                    x[free] = progressive_fill(self._second_stage_check(k, W, p, lo2, hi, target2, free, budget),
                                               lo[free], target2[free], hi[free])
                else:
                    x = lo2
                self.secondary_budget_ = max(budget, floor)
        self.solve_seconds_ = time.perf_counter() - t0
        #: Solver incidents worth reporting: a failed main solver, two solvers disagreeing > 1 bp.
        self.solver_notes_ = list(self._solver_notes)

        self.lt_ = x
        self.ltv_ = x - buf
        losses = threshold_losses(x, k, W)
        self.var_, self.cvar_ = var_cvar(losses, alpha, p)
        self.objective_ = float(C @ self.ltv_)
        self.binding_ = tuple(self._binding(x, lo, hi))
        if self._stress is None:
            self.stress_losses_ = np.zeros(0)
            self.stress_binding_ = np.zeros(0, dtype=bool)
        else:
            ks, b_st = self._stress
            self.stress_losses_ = threshold_losses(x, ks, W)
            self.stress_binding_ = (self.stress_losses_ >= b_st * (1.0 - 1e-6)) & (self.stress_losses_ > 0)
        return self

    def _second_stage_check(
        self, k: FloatArray, W: FloatArray, p: FloatArray, start: FloatArray, hi: FloatArray,
        target: FloatArray, free: np.ndarray, budget: float,
    ) -> Callable[[FloatArray], bool]:
        """``feasible(x_free)`` of the second stage: exact CVaR <= ``budget`` and every stress row
        within its budget, the thresholds outside ``free`` at ``start``.

        Only scenarios that can be in some point's tail are kept: losses rise with every threshold,
        so a scenario whose loss with the free thresholds at their tops is below the VaR at
        ``start`` lies below the VaR of every point in between. Those scenarios are pooled into one
        of loss 0 with their probability, which changes neither the VaR nor the CVaR there.
        """
        alpha = float(self.alpha)
        k_f, W_f = k[:, free], W[free]
        top = np.maximum(np.minimum(target[free], hi[free]), start[free])
        base = threshold_losses(start[~free], k[:, ~free], W[~free])
        v0 = var_cvar(base + threshold_losses(start[free], k_f, W_f), alpha, p)[0]
        keep = base + threshold_losses(top, k_f, W_f) >= v0
        if v0 > 0 and not keep.all():
            k_f, base = k_f[keep], np.append(base[keep], 0.0)
            p = np.append(p[keep], max(1.0 - float(p[keep].sum()), 0.0))
            k_f = np.vstack([k_f, np.full((1, k_f.shape[1]), np.inf)])  # the pooled scenario: no loss
        rows = None
        if self._stress is not None:
            ks, b_st = self._stress
            s_base = threshold_losses(start[~free], ks[:, ~free], W[~free])
            # rows the first stage's point meets only within the LP's tolerance are not tightened here
            s_cap = np.maximum(b_st * (1.0 + float(self.tol)), s_base + threshold_losses(start[free], ks[:, free], W_f))
            rows = (ks[:, free], s_base, s_cap)

        def feasible(x: FloatArray) -> bool:
            if rows is not None and np.any(rows[1] + threshold_losses(x, rows[0], W_f) > rows[2]):
                return False
            return cvar(base + threshold_losses(x, k_f, W_f), alpha, p) <= budget

        return feasible

    @staticmethod
    def _stress_rows(
        recovery: npt.ArrayLike | None, budget: float | None, n: int, names: tuple[str, ...]
    ) -> tuple[FloatArray, float] | None:
        """Validated ``(ks, B_st)`` of the stress rows, None without any."""
        if recovery is None:
            return None
        ks = np.asarray(recovery, dtype=np.float64)
        if ks.ndim != 2 or ks.shape[1] != n:
            raise ValueError(f"`stress_recovery` must have shape (n_stress, {n}), got {ks.shape}")
        if not np.all(np.isfinite(ks)):
            j, i = np.argwhere(~np.isfinite(ks))[0]
            raise ValueError(f"`stress_recovery` must be finite, got {ks[j, i]} at stress {j}, asset {names[i]!r}")
        if budget is None or not np.isfinite(budget) or budget < 0:
            raise ValueError(f"`stress_budget` must be a finite number >= 0 USD with stress rows, got {budget!r}")
        if ks.shape[0] == 0:
            return None
        return ks, float(budget)

    def _stress_ok(self, x: FloatArray, W: FloatArray) -> bool:
        """Every stress row within its budget at ``x`` (True without rows)."""
        if self._stress is None:
            return True
        ks, b_st = self._stress
        return bool(threshold_losses(x, ks, W).max() <= b_st * (1.0 + float(self.tol)))

    @staticmethod
    def _binding(x: FloatArray, lo: FloatArray, hi: FloatArray, atol: float = 1e-7) -> list[Binding]:
        out = []
        for xi, low, h in zip(x, lo, hi, strict=True):
            if xi >= h - atol:
                out.append(Binding.UPPER_BOUND)
            elif xi <= low + atol:
                out.append(Binding.LOWER_BOUND)
            else:
                out.append(Binding.RISK_BUDGET)
        return out

    # ------------------------------------------------------------------ solving
    def _solve(self, problem: cp.Problem, solver: str) -> str:
        params = dict(self.solver_params or {})
        if solver == "HIGHS":
            _quiet_highs_banner()
        try:
            problem.solve(solver=solver, **params)
        except cp.error.SolverError as err:
            raise SolverError(
                f"solver {solver} failed on a "
                f"{problem.size_metrics.num_scalar_variables}-variable LP: {err}. {_SOLVER_HINT}"
            ) from err
        return str(problem.status)

    def _solve_model(
        self, build: Any, *, may_be_infeasible: bool = False
    ) -> tuple[FloatArray | None, cp.Problem, str]:
        """Solve ``build() -> (problem, lt_variable)`` with the main solver, then the fallback.

        Returns the thresholds (None when no solver produced a finite optimum), the problem and
        its status. cvxpy does not raise on an infeasible or inaccurate solve, so the status and
        the finiteness of the values are checked here. The fallback solver is tried when the
        status is not "optimal" (for "infeasible" only when ``may_be_infeasible`` is False, i.e.
        when the LP is known to be feasible); a warning is raised when the first status was
        "optimal_inaccurate" and the two objectives differ by more than 1 bp.
        """
        problem, lt = build()
        try:
            status = self._solve(problem, self.solver)
        except SolverError as err:
            if self.fallback_solver is None:
                raise
            # a crash of the main solver is retried with the fallback, and recorded
            warnings.warn(f"{err}; retrying with {self.fallback_solver}", ConvergenceWarning, stacklevel=3)
            self._solver_notes.append(f"{self.solver} failed ({type(err.__cause__).__name__}); "
                                      f"{self.fallback_solver} used")
            status = "solver_error"
        value = lt.value if status != "solver_error" else None
        ok = status == cp.OPTIMAL and value is not None and bool(np.all(np.isfinite(value)))
        infeasible = status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)
        if ok or self.fallback_solver is None or (infeasible and may_be_infeasible):
            return (value if ok else None), problem, status
        first_obj = problem.value
        problem2, lt2 = build()
        status2 = self._solve(problem2, self.fallback_solver)
        value2 = lt2.value
        ok2 = (
            status2 in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
            and value2 is not None
            and np.all(np.isfinite(value2))
        )
        if (
            ok2
            and status == cp.OPTIMAL_INACCURATE
            and first_obj is not None
            and np.isfinite(first_obj)
        ):
            gap = abs(first_obj - problem2.value) / max(abs(problem2.value), 1e-12)
            if gap > _DISAGREE_RTOL:
                self._solver_notes.append(
                    f"{self.solver} {status} and {self.fallback_solver} disagree by {gap:.2e} (> 1 bp)")
                warnings.warn(
                    f"{self.solver} returned {status} and {self.fallback_solver} an objective "
                    f"{gap:.2e} (relative) away; the {self.fallback_solver} answer is used. "
                    f"{_SOLVER_HINT}",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        if ok2:
            return value2, problem2, status2
        if status == cp.OPTIMAL_INACCURATE and value is not None and np.all(np.isfinite(value)):
            warnings.warn(
                f"{self.solver} returned {status} and {self.fallback_solver} {status2}; the "
                f"inaccurate answer is used. {_SOLVER_HINT}",
                ConvergenceWarning,
                stacklevel=3,
            )
            return value, problem, status
        return None, problem2, status2

    def _master(
        self,
        k: FloatArray,
        W: FloatArray,
        C: FloatArray,
        lower: FloatArray,
        upper: FloatArray,
        scale: float,
        budget: float,
        rows: IntArray | None,
        n_sure: int,
        p: FloatArray,
        linear_below: FloatArray,
    ) -> Any:
        alpha = float(self.alpha)
        data = make_threshold_loss_data(
            k, W, upper, lt_lower=linear_below, scenarios=rows, scale=scale
        )
        probs = p if rows is None else p[rows]
        weight = C / C.sum() if C.sum() > 0 else np.zeros_like(C)
        # stress rows: every one in every LP, exact inside the box (few rows)
        stress = None
        if self._stress is not None:
            stress = make_threshold_loss_data(self._stress[0], W, upper, lt_lower=linear_below, scale=scale)

        def build() -> tuple[cp.Problem, cp.Variable]:
            lt = cp.Variable(k.shape[1], name="lt")
            _, box = box_block(lt, lower, upper)
            loss, loss_cons = threshold_loss_block(lt, data)
            risk, risk_cons = cvar_block(loss, alpha, probs, n_sure=n_sure)
            cap = cp.Parameter(nonneg=True, name="budget", value=budget / scale)
            cons = [*box, *loss_cons, *risk_cons, risk <= cap]
            if stress is not None and (stress.n_pairs or stress.n_linear):
                s_loss, s_cons = threshold_loss_block(lt, stress)
                cons += [*s_cons, s_loss <= self._stress[1] / scale]
            problem = cp.Problem(cp.Maximize(weight @ lt), cons)
            return problem, lt

        return build, data

    def _solve_full(
        self,
        k: FloatArray,
        W: FloatArray,
        C: FloatArray,
        lo: FloatArray,
        hi: FloatArray,
        budget: float,
        scale: float,
        p: FloatArray,
    ) -> FloatArray:
        t0 = time.perf_counter()
        build, data = self._master(k, W, C, lo, hi, scale, budget, None, 0, p, lo)
        x, problem, status = self._solve_model(build)
        self.raw_, self.solver_status_ = problem, status
        self.n_rounds_ += 1
        self.n_active_scenarios_ = k.shape[0]
        if x is None:
            raise SolverError(
                f"{self.solver} returned status {status!r} on the full LP although LT = lt_min "
                f"meets the budget. {_SOLVER_HINT}"
            )
        x = np.clip(x, lo, hi)
        ratio = (
            cvar(threshold_losses(x, k, W), float(self.alpha), p) / budget if budget > 0 else 0.0
        )
        self.history_.append(
            _Round(
                0,
                k.shape[0],
                data.n_rows,
                0,
                data.n_pairs,
                data.n_linear,
                ratio,
                0,
                time.perf_counter() - t0,
                status,
            ).__dict__
        )
        if budget > 0 and ratio > 1.0 + max(float(self.tol), 1e-6):
            warnings.warn(
                f"the full LP's solution has CVaR {ratio:.8f} x budget on exact recomputation; "
                f"{_SOLVER_HINT}",
                ConvergenceWarning,
                stacklevel=3,
            )
        return x

    def _solve_rowgen(
        self,
        k: FloatArray,
        W: FloatArray,
        C: FloatArray,
        lo: FloatArray,
        hi: FloatArray,
        budget: float,
        scale: float,
        p: FloatArray,
        *,
        subsample: bool = True,
    ) -> FloatArray:
        alpha = float(self.alpha)
        n_scen = k.shape[0]
        # Presolve: each asset alone must fit the budget (L >= its own term), an exact cap.
        caps = np.clip(np.minimum(_asset_caps(k, W, budget, alpha, p), self._stress_caps(W)), lo, hi)
        sizes = [int(np.ceil(m / (1.0 - alpha))) for m in _LEVEL_TAILS] if subsample else []
        sizes = [s for s in sizes if 2 * s <= n_scen] + [n_scen]
        perm = np.random.default_rng(0).permutation(n_scen) if len(sizes) > 1 else None
        x0: FloatArray | None = None
        for level, size in enumerate(sizes):
            if size < n_scen:
                assert perm is not None
                sub = np.sort(perm[:size])
                k_l, p_l = k[sub], p[sub] / p[sub].sum()
            else:
                k_l, p_l = k, p
            if x0 is None:
                x0 = self._ray_start(k_l, W, lo, caps, budget, p_l)
                delta0 = _DELTA_COLD
            else:
                delta0 = _DELTA_WARM
            final = size == n_scen
            x = self._rowgen_level(
                k_l, W, C, lo, caps, budget, scale, p_l, x0, delta0, level, final
            )
            if x is None:  # no certificate within max_rounds
                if not final:
                    continue
                warnings.warn(
                    f"row generation did not certify an optimum in {self.max_rounds} rounds; "
                    "solving the full LP instead",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                return self._solve_full(k, W, C, lo, hi, budget, scale, p)
            x0 = x
        assert x0 is not None
        return x0

    def _stress_caps(self, W: FloatArray) -> FloatArray:
        """Largest LT of each asset alone within every stress row: ``min_j ks[j, i] + B_st / W_i``
        (``L^st_j >= W_i max(LT_i - ks[j, i], 0)``, so an exact cap); inf without rows."""
        if self._stress is None:
            return np.full(W.size, np.inf)
        ks, b_st = self._stress
        with np.errstate(divide="ignore"):
            return np.where(W > 0, ks.min(axis=0) + b_st / np.where(W > 0, W, 1.0), np.inf)

    def _ray_start(
        self,
        k: FloatArray,
        W: FloatArray,
        lo: FloatArray,
        hi: FloatArray,
        budget: float,
        p: FloatArray,
    ) -> FloatArray:
        """Feasible start on the segment lt_min -> caps, by bisection on the exact CVaR."""
        alpha = float(self.alpha)

        def ok(x: FloatArray) -> bool:
            return cvar(threshold_losses(x, k, W), alpha, p) <= budget and self._stress_ok(x, W)

        if ok(hi):
            return hi.copy()
        a, b = 0.0, 1.0
        for _ in range(20):
            m = 0.5 * (a + b)
            if ok(lo + m * (hi - lo)):
                a = m
            else:
                b = m
        return lo + a * (hi - lo)

    def _rowgen_level(
        self,
        k: FloatArray,
        W: FloatArray,
        C: FloatArray,
        lo: FloatArray,
        hi: FloatArray,
        budget: float,
        scale: float,
        p: FloatArray,
        x0: FloatArray,
        delta0: float,
        level: int,
        final: bool,
    ) -> FloatArray | None:
        alpha = float(self.alpha)
        mass = 1.0 - alpha
        n_scen = k.shape[0]
        xc = np.clip(x0, lo, hi)
        delta = np.full(xc.size, delta0)
        known_tail = np.zeros(0, dtype=np.int64)
        for _ in range(int(self.max_rounds)):
            t0 = time.perf_counter()
            lc = threshold_losses(xc, k, W)
            order = _top_order(lc, p, _BAND_TAIL * mass)
            cum = np.cumsum(p[order])
            n_sure = int(np.searchsorted(cum, _SURE_TAIL * mass, side="right"))
            n_band = min(int(np.searchsorted(cum, _BAND_TAIL * mass, side="left")) + 1, n_scen)
            sure = order[:n_sure]
            band = np.union1d(order[n_sure:n_band], np.setdiff1d(known_tail, sure))
            rows = np.concatenate([sure, band])
            box_lo = np.maximum(lo, xc - delta)
            box_hi = np.minimum(hi, xc + delta)
            build, data = self._master(
                k, W, C, box_lo, box_hi, scale, budget, rows, n_sure, p, box_lo
            )
            x, problem, status = self._solve_model(
                build, may_be_infeasible=bool(np.any(box_lo > lo))
            )
            if (
                x is None
                and status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)
                and np.any(box_lo > lo)
            ):
                # the box lies above the budget: open it down to lt_min, where it is feasible
                box_lo = lo.copy()
                build, data = self._master(
                    k, W, C, box_lo, box_hi, scale, budget, rows, n_sure, p, box_lo
                )
                x, problem, status = self._solve_model(build)
            self.raw_, self.solver_status_ = problem, status
            self.n_rounds_ += 1
            self.n_active_scenarios_ = int(rows.size)
            if x is None:
                raise SolverError(
                    f"{self.solver} returned status {status!r} on a row-generation LP "
                    f"({rows.size} scenarios) although LT = lt_min meets the budget. {_SOLVER_HINT}"
                )
            x = np.clip(x, box_lo, box_hi)
            losses = threshold_losses(x, k, W)
            v, cv = var_cvar(losses, alpha, p)
            known_tail = np.union1d(known_tail, np.flatnonzero((losses >= v) & (losses > 0)))
            hit = ((x >= box_hi - _EDGE) & (box_hi < hi)) | ((x <= box_lo + _EDGE) & (box_lo > lo))
            ratio = cv / budget if budget > 0 else (0.0 if cv == 0 else np.inf)
            self.history_.append(
                _Round(
                    level,
                    n_scen,
                    data.n_rows,
                    n_sure,
                    data.n_pairs,
                    data.n_linear,
                    ratio,
                    int(hit.sum()),
                    time.perf_counter() - t0,
                    status,
                ).__dict__
            )
            feasible = cv <= budget * (1.0 + float(self.tol)) if budget > 0 else cv <= 0.0
            if not hit.any() and (feasible or not final):
                return x
            step = np.abs(x - xc)
            delta = np.where(hit, 2.0 * delta, np.maximum(_DELTA_MIN, 2.0 * step))
            xc = x
        return None

    # ------------------------------------------------------------------ reporting
    def raise_if_infeasible(self) -> ThresholdOptimizer:
        """Raise :class:`~optimizer.exceptions.InfeasibleError` if the budget cannot be met.

        Returns
        -------
        self
        """
        check_is_fitted(self, "status_")
        if self.status_ == "infeasible" and self.budget is not None \
                and float(self.budget) >= self.min_feasible_budget_ * (1.0 - 1e-12):
            raise InfeasibleError(
                f"the stress budget of {self._stress[1]:,.2f} USD cannot be met: even at LT = lt_min a "
                f"stress scenario costs {self.min_feasible_stress_budget_:,.2f} USD; raise the stress "
                f"budget to at least that or lower `lt_min`"
            )
        if self.status_ == "infeasible":
            raise InfeasibleError(
                f"the CVaR_{self.alpha:g} budget of {float(self.budget):,.2f} USD "  # type: ignore[arg-type]
                f"cannot be met: even at LT = lt_min the CVaR of bad debt is "
                f"{self.min_feasible_budget_:,.2f} USD, the smallest feasible budget; raise "
                f"`budget` to at least that or lower `lt_min`"
            )
        return self

    def summary(self) -> str:
        """Plain-text summary of the fitted solution."""
        check_is_fitted(self, "status_")
        lines = [
            f"ThresholdOptimizer ({self.method}, {self.solver}) -- status: {self.status_}",
            f"  alpha={self.alpha:g}  budget={float(self.budget):,.2f} USD  "  # type: ignore[arg-type]
            f"min feasible budget={self.min_feasible_budget_:,.2f} USD",
            f"  CVaR={self.cvar_:,.2f} USD  VaR={self.var_:,.2f} USD  "
            f"capital efficiency={self.objective_:,.2f} USD",
            f"  {self.n_rounds_} LP(s), {self.n_active_scenarios_} scenarios in the last, "
            f"{self.solve_seconds_:.3f} s, solver status {self.solver_status_}",
            f"  {'asset':<12}{'LT':>9}{'LTV':>9}  binding",
        ]
        for name, lt, ltv, b in zip(
            self.asset_names_, self.lt_, self.ltv_, self.binding_, strict=True
        ):
            lines.append(f"  {name:<12}{lt:>9.4f}{ltv:>9.4f}  {b}")
        return "\n".join(lines)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:  # noqa: N803 (sklearn's signature)
        """The summary once fitted; sklearn's parameter repr before."""
        if hasattr(self, "status_"):
            return self.summary()
        return super().__repr__(N_CHAR_MAX)
