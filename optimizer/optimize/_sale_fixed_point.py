"""The threshold program solved at the sale its own recommendation causes (a fixed point).

The static slippage law prices the liquidation day's sale (:mod:`optimizer.protocol.sale`), and the
sale depends on the parameters that decide the liquidations. Two choices:

* **current** - the live parameters decide the liquidations: one solve. It prices the sale the
  market would face tomorrow, before any change takes effect.
* **recommended** (the default) - the sale of the book under the *recommended* parameters, its
  borrowers re-levered to them as the static evaluation and the simulation assume: start from the
  current parameters' sale, solve, recompute the sale at the solution, re-solve, and stop when no
  asset's slippage moves by more than :data:`SALE_TOLERANCE` (at most :data:`SALE_MAX_ITERATIONS`
  re-solves). The recommendation is then priced by the liquidations it would itself cause.

On the default config (aave-v3-ethereum, 2025-06-12) the iteration contracts (the largest slippage
move per re-solve: 11.2, 3.8, 1.2, 0.4, 0.14 pp, AAVE's guard-bound threshold the slowest) and
moves no LT by more than 6.2 pp from the current-parameter answer, so both are stable; the fixed
point is shipped because it is the consistent one: the sizes, the evaluation and the simulation
then describe the same market.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from optimizer.exceptions import ConvergenceWarning

if TYPE_CHECKING:
    from optimizer.optimize._problem import ThresholdProblem, ThresholdSolution
    from optimizer.protocol.params import RiskParams
    from optimizer.protocol.sale import SaleSize

__all__ = ["SALE_MAX_ITERATIONS", "SALE_TOLERANCE", "SaleFixedPoint", "solve_at_sale_fixed_point"]

#: Stop when no asset's slippage moves by more than this between two solves (0.2 percentage point).
SALE_TOLERANCE = 2e-3
#: Largest number of re-solves after the first.
SALE_MAX_ITERATIONS = 6


@dataclass(frozen=True, eq=False)
class SaleFixedPoint:
    """The threshold program solved at its sale, and how the sale was found.

    Attributes
    ----------
    problem : ThresholdProblem
        The last program solved; its ``sale`` and ``slippage`` are the ones the recommendation used.
    solution : ThresholdSolution
    live : SaleSize
        The sale under the current parameters (the start; the sale of ``params = "current"``).
    params : str
        ``"current"`` (one solve) or ``"recommended"`` (the fixed point).
    steps : tuple of float
        Largest slippage move of each re-solve (empty for one solve).
    converged : bool
        The last step is below ``tolerance`` (True for one solve).
    tolerance : float
    max_iterations : int
    """

    problem: ThresholdProblem
    solution: ThresholdSolution
    live: SaleSize
    params: str
    steps: tuple[float, ...] = ()
    converged: bool = True
    tolerance: float = SALE_TOLERANCE
    max_iterations: int = SALE_MAX_ITERATIONS

    @property
    def sale(self) -> SaleSize:
        return self.problem.sale

    @property
    def n_solves(self) -> int:
        return 1 + len(self.steps)

    def summary(self) -> str:
        if self.params == "current":
            return "sale under the current parameters (one solve)"
        moves = ", ".join(f"{s:.4f}" for s in self.steps)
        state = "converged" if self.converged else "NOT converged"
        return (f"sale at the recommended parameters: {state} after {len(self.steps)} re-solve(s) "
                f"(largest slippage move per re-solve {moves}; tolerance {self.tolerance:g})")

    def __str__(self) -> str:
        return self.summary()


def solve_at_sale_fixed_point(
    build: Callable[[SaleSize], ThresholdProblem],
    solve: Callable[[ThresholdProblem], ThresholdSolution],
    resize: Callable[[RiskParams], SaleSize],
    live: SaleSize,
    *,
    params: str = "recommended",
    tolerance: float = SALE_TOLERANCE,
    max_iterations: int = SALE_MAX_ITERATIONS,
) -> SaleFixedPoint:
    """Solve the program at the current parameters' sale, then (``params="recommended"``) iterate.

    Parameters
    ----------
    build : callable
        ``build(sale) -> ThresholdProblem``: the program with the slippage of ``sale``.
    solve : callable
        ``solve(problem) -> ThresholdSolution``.
    resize : callable
        ``resize(recommended) -> SaleSize``: the sale when ``recommended`` decides the liquidations.
    live : SaleSize
        The sale under the current parameters.
    params : {"recommended", "current"}
    tolerance : float
        Largest slippage move (any asset) at which the iteration stops, > 0.
    max_iterations : int
        Largest number of re-solves, >= 1. Not converged by then: a ConvergenceWarning, and the
        last solve is kept (its steps are in the result and the report).
    """
    if params not in ("recommended", "current"):
        raise ValueError(f"`params` must be 'recommended' or 'current', got {params!r}")
    if not tolerance > 0:
        raise ValueError(f"`tolerance` must be > 0, got {tolerance}")
    if max_iterations < 1:
        raise ValueError(f"`max_iterations` must be >= 1, got {max_iterations}")
    problem = build(live)
    solution = solve(problem)
    if params == "current" or live.rule == "share":  # a share of the collateral does not depend on the parameters
        return SaleFixedPoint(problem, solution, live, "current" if params == "current" else params,
                              tolerance=tolerance, max_iterations=max_iterations)
    steps: list[float] = []
    converged = False
    for _ in range(max_iterations):
        nxt = build(resize(solution.recommended).with_label("recommended"))
        step = float(np.max(np.abs(nxt.slippage - problem.slippage), initial=0.0))
        problem, solution = nxt, solve(nxt)
        steps.append(step)
        if step < tolerance:
            converged = True
            break
    if not converged:
        warnings.warn(f"the sale-size fixed point did not converge in {max_iterations} re-solves (largest slippage "
                      f"moves {', '.join(f'{s:.4f}' for s in steps)}; tolerance {tolerance:g}): the last solve is "
                      "kept. Set [liquidity] sale_params = \"current\" for one solve at the live parameters",
                      ConvergenceWarning, stacklevel=2)
    return SaleFixedPoint(problem, solution, live, params, tuple(steps), converged, tolerance, max_iterations)
