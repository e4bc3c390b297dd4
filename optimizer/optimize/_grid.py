"""Deployable parameters: the program's answer on the protocol's grid.

The protocol stores basis points and risk stewards move parameters in steps of 25 bp
(``[guardrails] grid = 0.0025``, the same key the recalibration's schedule lands on). A
recommendation of 0.8176162008 is therefore rounded, in the direction that never adds risk:

- LT and LTV round **down** (bad debt per scenario, ``sum_i W_i max(LT_i - k_si, 0)``, is
  non-decreasing in every LT, so the CVaR target, the per-asset guards and every stress row
  still hold);
- LTV is then at most ``LT - buffer`` at the rounded LT (the program's gap), and 0 where a
  policy holds it at 0;
- the bonus is an input of the program, not a result: kept as given when it is on the grid (or
  equals its current value), else rounded down, which only lowers ``LT x (1 + bonus)``;
- a parameter equal to its current value stays exactly current (CRV's live 8.3 % bonus is not
  moved just to round it), since the live value is deployed already;
- an LT is not taken below its lower bound: when no grid point lies between ``lt_min`` and the
  program's LT, the LT is ``lt_min`` and the rounding says so (:attr:`GridRounding.off_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from optimizer.protocol.guardrails import to_grid
from optimizer.protocol.params import RiskParams

if TYPE_CHECKING:
    from optimizer.optimize._problem import ThresholdSolution

__all__ = ["CURRENT_TOL", "GridRounding", "bps", "round_to_grid", "solution_on_grid"]

#: A value within this of its current one is the current value (solver output at a bound).
CURRENT_TOL = 1e-9
_PARAMS = ("ltv", "liquidation_threshold", "liquidation_bonus")


def bps(x: float) -> int:
    """A fraction in whole basis points (the protocol's storage unit): ``0.8175 -> 8175``."""
    return int(round(float(x) * 10_000))


@dataclass(frozen=True, eq=False)
class GridRounding:
    """The recommendation on the grid and the program's answer it came from.

    Attributes
    ----------
    step : float
        Grid step (fraction; 0.0025 = 25 bp).
    params : RiskParams
        The rounded parameters: each a multiple of ``step``, its current value, or (noted in
        ``off_grid``) the asset's lower bound on LT.
    unrounded : RiskParams
        The program's answer.
    off_grid : tuple of str
        One note per parameter left off the grid for a reason other than being current.
    lp_cvar_usd, lp_cvar_unrounded_usd : float or None
        The program's CVaR of bad debt (its scenarios, recovery and weights) at the rounded and
        at the unrounded thresholds, USD: the re-check that rounding kept the target
        (:func:`solution_on_grid`); None when no program was given.
    stress_max_usd, stress_max_unrounded_usd : float or None
        The largest stress-library row's bad debt at each, USD (None: no stress rows).
    """

    step: float
    params: RiskParams
    unrounded: RiskParams
    off_grid: tuple[str, ...] = ()
    lp_cvar_usd: float | None = None
    lp_cvar_unrounded_usd: float | None = None
    stress_max_usd: float | None = None
    stress_max_unrounded_usd: float | None = None

    def as_dict(self) -> dict[str, object]:
        """params.json ``method.grid``: the step and the re-check of the target."""
        return {"step": self.step, "step_bps": bps(self.step), "direction": "LT and LTV down",
                "lp_cvar_usd": self.lp_cvar_usd, "lp_cvar_unrounded_usd": self.lp_cvar_unrounded_usd,
                "stress_max_usd": self.stress_max_usd, "stress_max_unrounded_usd": self.stress_max_unrounded_usd,
                "off_grid": list(self.off_grid)}


def _is_on(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) <= 1e-6


def round_to_grid(
    params: RiskParams,
    *,
    step: float,
    current: RiskParams | None = None,
    has_current: tuple[bool, ...] | None = None,
    lt_min: npt.ArrayLike | None = None,
    buffer: npt.ArrayLike | None = None,
    ltv_held: npt.ArrayLike | None = None,
) -> GridRounding:
    """Round ``params`` to multiples of ``step`` in the safe direction (see the module docstring).

    Parameters
    ----------
    params : RiskParams
        The program's answer (valid: ``params.check()`` passes).
    step : float
        Grid step, in (0, 0.1].
    current : RiskParams or None
        Live parameters; a value equal to its live one (within :data:`CURRENT_TOL`) stays live.
    has_current : tuple of bool or None
        Which assets have live parameters (default: all, when ``current`` is given).
    lt_min : array_like of shape (n_assets,) or None
        Lower bounds on LT.
    buffer : array_like of shape (n_assets,) or None
        Required ``LT - LTV`` per asset (default 0: only ``LTV <= LT``).
    ltv_held : array_like of bool, shape (n_assets,) or None
        Reserves whose LTV a policy holds at 0.

    Returns
    -------
    GridRounding

    Examples
    --------
    >>> p = RiskParams(assets=("eth",), ltv=np.array([0.7926162008]),
    ...                liquidation_threshold=np.array([0.8176162008]), liquidation_bonus=np.array([0.05]))
    >>> g = round_to_grid(p, step=0.0025, buffer=[0.025])
    >>> float(g.params.liquidation_threshold[0]), float(g.params.ltv[0])
    (0.8175, 0.7925)
    """
    if not (0.0 < step <= 0.1):
        raise ValueError(f"`step` must be in (0, 0.1], got step={step}")
    n = len(params.assets)
    if current is not None and current.assets != params.assets:
        raise ValueError(f"`current` assets {current.assets} differ from the parameters' {params.assets}")
    has = tuple(current is not None for _ in range(n)) if has_current is None else tuple(has_current)
    lo = np.zeros(n) if lt_min is None else np.asarray(lt_min, dtype=float)
    buf = np.zeros(n) if buffer is None else np.asarray(buffer, dtype=float)
    held = np.zeros(n, dtype=bool) if ltv_held is None else np.asarray(ltv_held, dtype=bool)

    def live(i: int, key: str, x: float) -> float | None:
        if current is None or not has[i]:
            return None
        c = float(getattr(current, key)[i])
        return c if abs(x - c) <= CURRENT_TOL else None

    ltv, lt, bonus, notes = np.empty(n), np.empty(n), np.empty(n), []
    for i, a in enumerate(params.assets):
        lt0, ltv0 = float(params.liquidation_threshold[i]), float(params.ltv[i])
        b0 = float(params.liquidation_bonus[i])
        b = live(i, "liquidation_bonus", b0)
        if b is None:
            b = to_grid(b0, step, "nearest") if _is_on(b0, step) else to_grid(b0, step, "down")
        x = live(i, "liquidation_threshold", lt0)
        if x is None:
            x = to_grid(lt0, step, "down")
            if x < lo[i] - CURRENT_TOL:  # no grid point in [lt_min, lt]: the bound wins, off the grid
                x = min(float(lo[i]), lt0)
                notes.append(f"{a}: liquidation_threshold {x:.6f} is its lower bound, no {step:g} grid point "
                             f"lies between it and {lt0:.6f}")
        while x * (1.0 + b) > 1.0 + 1e-12:  # only if a live LT met a lower bonus' rounding: never looser
            x = round(to_grid(x, step, "up") - step, 10)
        if held[i]:
            v = 0.0
        else:
            cap = min(ltv0, x - float(buf[i]))
            c = live(i, "ltv", ltv0)
            v = c if c is not None and c <= cap + CURRENT_TOL else max(to_grid(max(cap, 0.0), step, "down"), 0.0)
        ltv[i], lt[i], bonus[i] = v, x, b
    rounded = params.replace(ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus).check()
    return GridRounding(step=float(step), params=rounded, unrounded=params, off_grid=tuple(notes))


def solution_on_grid(solution: ThresholdSolution, step: float) -> ThresholdSolution:
    """``solution`` with its recommendation on the grid (:func:`round_to_grid` with the program's
    live parameters, LT bounds, LTV buffers and held reserves); the program's answer is kept as
    ``unrounded`` and ``lt`` (so binding labels describe what set it), ``grid`` is the rounding."""
    import dataclasses

    from optimizer.optimize.convex import threshold_losses
    from optimizer.optimize.measures import cvar

    p = solution.problem
    g = round_to_grid(solution.recommended, step=step, current=p.current, has_current=p.has_current,
                      lt_min=p.lt_min, buffer=p.buffer, ltv_held=p.ltv_held)
    k = p.k if p.k_stressed is None else p.k_stressed  # the scenarios the LP met its budget on

    def lp_cvar(r: RiskParams) -> float:
        return cvar(threshold_losses(np.asarray(r.liquidation_threshold, float), k, p.exposure), p.alpha,
                    p.scenario_weights)

    def stress_max(r: RiskParams) -> float | None:
        if p.stress is None:
            return None
        return float(np.max(p.stress.losses(r.liquidation_threshold, p.exposure), initial=0.0))

    g = dataclasses.replace(g, lp_cvar_usd=lp_cvar(g.params), lp_cvar_unrounded_usd=lp_cvar(g.unrounded),
                            stress_max_usd=stress_max(g.params), stress_max_unrounded_usd=stress_max(g.unrounded))
    return dataclasses.replace(solution, recommended=g.params, unrounded=g.unrounded, grid=g)
