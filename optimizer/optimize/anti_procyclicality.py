"""Anti-procyclicality: hold a calm-market calibration back from loosening to its point estimate.

A threshold fitted on today's volatility loosens in calm markets and tightens in a crash, the
procyclical pattern margin regulation guards against (EMIR RTS 153/2013, art. 28). The policy
takes the convex core's solution and a **solve callable** (the run's own threshold problem on
other scenarios), so it never needs to know how that problem is built.

``buffer``
    Raise each haircut ``1 - LTV`` by ``buffer`` (25 %), capped at 1 (LTV >= 0); LT is unchanged.
``floor``
    Re-solve with every asset's scenarios rescaled to its full-history volatility (the standard
    deviation of its daily log returns from its first price to ``as_of``) and keep, per asset,
    the lower LT and LTV of the two solutions.
``stress_weight``
    Replace a share ``stress_weight`` (>= 25 %) of the scenarios by historical stress windows
    (the worst ``stress_quantile`` of horizon-long windows of the collateral basket in the full
    history) and keep, per asset, the lower of the two solutions.

Lowering LT never raises any scenario's bad debt (it is ``max(LT - k, 0)`` per USD), so the
floors keep the risk budget met; every result satisfies 0 <= LTV <= LT and LT x (1 + bonus) <= 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pandas as pd

from optimizer.data import one_day_log_returns
from optimizer.exceptions import EstimationError
from optimizer.protocol.params import RiskParams

if TYPE_CHECKING:
    from optimizer.estimators import BaseVolatility
    from optimizer.scenarios import ScenarioSet

__all__ = [
    "AntiProcyclicality",
    "AntiProcyclicalityOutcome",
    "Method",
    "StressPool",
    "buffer_haircut",
    "floor_params",
]

Method = Literal["buffer", "floor", "stress_weight"]
_METHODS = ("buffer", "floor", "stress_weight")
#: A change smaller than this (in bps of LT or LTV) does not count as the policy binding.
BIND_TOLERANCE_BPS = 0.005


class Solution(Protocol):
    """What the solve callable returns: a threshold solution (``ThresholdSolution``)."""

    @property
    def recommended(self) -> RiskParams: ...

    @property
    def status(self) -> str: ...

    @property
    def guard_fails(self) -> Sequence[str]: ...

    @property
    def zero_kept(self) -> np.ndarray: ...


#: ``solve(terminal, sigma)``: the run's threshold problem on the terminal price relatives
#: ``terminal`` (n_scenarios, n_assets), with ``sigma`` (n_assets,) the daily volatility of the
#: slippage model (None: the run's forecast).
Solve = Callable[[np.ndarray, "np.ndarray | None"], Solution]


def buffer_haircut(ltv: np.ndarray, buffer: float) -> np.ndarray:
    """LTV after raising the haircut ``1 - LTV`` by ``buffer`` (0.25 = 25 %), capped at 1.

    Returns ``max(0, 1 - (1 + buffer) (1 - LTV))``: never above the input, never negative, and an
    LTV of 0 stays 0.
    """
    ltv = np.asarray(ltv, dtype=float)
    return np.clip(1.0 - (1.0 + buffer) * (1.0 - ltv), 0.0, ltv)


def floor_params(lt: np.ndarray, ltv: np.ndarray, lt_alt: np.ndarray, ltv_alt: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per asset the lower LT and the lower LTV of two parameter sets (haircuts floored at the larger).

    Both sets satisfy ``0 <= LTV <= LT``; so does the result.
    """
    return np.minimum(lt, lt_alt), np.minimum(ltv, ltv_alt)


@dataclass(frozen=True, eq=False)
class StressPool:
    """The historical stress windows ``stress_weight`` draws from.

    Attributes
    ----------
    terminal : ndarray of shape (n_stressed, n_assets)
        Terminal price relatives of the stressed windows.
    n_windows : int
        Horizon-long windows with a price for every asset.
    first_t0, last_t0 : str
        First and last start date of those windows.
    cut_basket_move : float
        The collateral-weighted basket's move at the ``stress_quantile`` cut (a simple return).
    worst_t0 : tuple of str
        Start dates of the five worst windows.
    """

    terminal: np.ndarray
    n_windows: int
    first_t0: str
    last_t0: str
    cut_basket_move: float
    worst_t0: tuple[str, ...]

    @property
    def n_stressed(self) -> int:
        return int(self.terminal.shape[0])


def stress_pool(history: pd.DataFrame, horizon: int, collateral: np.ndarray, quantile: float) -> StressPool:
    """The worst ``quantile`` of the horizon-long windows of the collateral basket in ``history``.

    Parameters
    ----------
    history : DataFrame of shape (n_days, n_assets)
        Prices, one column per asset in the order of ``collateral``.
    horizon : int
    collateral : ndarray of shape (n_assets,)
        USD collateral per asset: the basket weights (equal weights when it is all zero).
    quantile : float
        Share of windows kept, the worst by basket log move.
    """
    from optimizer.scenarios import historical_windows

    hist = historical_windows(history, horizon)
    term = hist.terminal
    coll = np.asarray(collateral, dtype=float)
    w = coll / coll.sum() if coll.sum() > 0 else np.full(coll.size, 1.0 / coll.size)
    score = np.log(term) @ w
    cut = np.quantile(score, quantile)
    stressed = score <= cut
    t0 = np.asarray(hist.info["t0_dates"])[stressed]
    return StressPool(
        terminal=term[stressed],
        n_windows=int(hist.n_scenarios),
        first_t0=hist.info["first_t0"],
        last_t0=hist.info["last_t0"],
        cut_basket_move=float(np.expm1(cut)),
        worst_t0=tuple(str(d) for d in t0[np.argsort(score[stressed])[:5]]),
    )


def long_volatility(history: pd.DataFrame) -> np.ndarray:
    """Each column's standard deviation of daily log returns over its whole history (NaN if < 2)."""
    rets = one_day_log_returns(history)
    out = []
    for a in history.columns:
        r = rets[a].dropna()
        out.append(float(r.std(ddof=1)) if len(r) > 1 else np.nan)
    return np.array(out)


@dataclass(frozen=True, eq=False)
class AntiProcyclicalityOutcome:
    """What the policy did to a solution (read-only).

    Attributes
    ----------
    policy : AntiProcyclicality
    model : RiskParams
        The convex core's recommendation, before the policy.
    applied : RiskParams
        The recommendation after it.
    alternative : Solution or None
        The second solution (``floor``, ``stress_weight``): the threshold problem re-solved on
        the through-the-cycle scenarios.
    n_scenarios, horizon : int
        Of the run's scenarios.
    long_volatility, forecast_volatility : ndarray of shape (n_assets,) or None
        ``floor``: full-history daily volatility and the RMS of the forecast over the horizon.
    history_start : tuple of (str or None) or None
        ``floor``: each asset's first price date.
    stress : StressPool or None
        ``stress_weight``: the pool the replaced scenarios were drawn from.
    n_stress_scenarios : int or None
        ``stress_weight``: scenarios replaced.
    """

    policy: AntiProcyclicality
    model: RiskParams
    applied: RiskParams
    alternative: Solution | None
    n_scenarios: int
    horizon: int
    long_volatility: np.ndarray | None = None
    forecast_volatility: np.ndarray | None = None
    history_start: tuple[str | None, ...] | None = None
    stress: StressPool | None = None
    n_stress_scenarios: int | None = None

    @property
    def method(self) -> str:
        return self.policy.method

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.model.assets)

    @cached_property
    def haircut_increase_bps(self) -> np.ndarray:
        """Per asset ``(model LTV - applied LTV) x 1e4``."""
        return (np.asarray(self.model.ltv, float) - np.asarray(self.applied.ltv, float)) * 1e4

    @cached_property
    def lt_decrease_bps(self) -> np.ndarray:
        """Per asset ``(model LT - applied LT) x 1e4``."""
        return (np.asarray(self.model.liquidation_threshold, float)
                - np.asarray(self.applied.liquidation_threshold, float)) * 1e4

    @cached_property
    def binds(self) -> np.ndarray:
        """Per asset: the policy moved its LTV or LT by more than :data:`BIND_TOLERANCE_BPS`."""
        return (self.haircut_increase_bps > BIND_TOLERANCE_BPS) | (self.lt_decrease_bps > BIND_TOLERANCE_BPS)

    @property
    def binding_assets(self) -> tuple[str, ...]:
        return tuple(a for a, b in zip(self.assets, self.binds) if b)

    def summary(self) -> str:
        """One line: the method, where it binds and the largest haircut increase."""
        binding = self.binding_assets
        return (f"anti-procyclicality {self.method}: binds for {len(binding)} of {len(self.assets)} assets"
                + (f" ({', '.join(binding)})" if binding else "")
                + f"; largest haircut increase {self.haircut_increase_bps.max():.0f} bps")

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class AntiProcyclicality:
    """The anti-procyclicality policy (``[anti_procyclicality]``).

    Parameters
    ----------
    method : {"buffer", "floor", "stress_weight"}
    buffer : float, default=0.25
        ``buffer``: relative increase of each haircut.
    stress_weight : float, default=0.25
        ``stress_weight``: share of the scenarios replaced by stress windows.
    stress_quantile : float, default=0.1
        ``stress_weight``: share of the historical windows counted as stressed.
    """

    method: Method
    buffer: float = 0.25
    stress_weight: float = 0.25
    stress_quantile: float = 0.1

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"`method` must be one of {list(_METHODS)}, got method={self.method!r}")

    @property
    def needs_history(self) -> bool:
        """Whether :meth:`apply` reads the price history."""
        return self.method in ("floor", "stress_weight")

    def apply(
        self,
        solution: Solution,
        *,
        solve: Solve,
        scenarios: ScenarioSet,
        volatility: BaseVolatility,
        vol_multiplier: float,
        history: pd.DataFrame | None,
        collateral: np.ndarray,
        rng: np.random.Generator,
    ) -> AntiProcyclicalityOutcome:
        """Apply the policy to the convex core's ``solution``.

        Parameters
        ----------
        solution : Solution
            The run's threshold solution (its ``recommended`` and ``zero_kept`` are used).
        solve : callable
            ``solve(terminal, sigma) -> Solution``, the run's threshold problem on other
            scenarios (see :data:`Solve`).
        scenarios : ScenarioSet
            The run's scenarios.
        volatility : BaseVolatility
            The fitted volatility model of the scenarios (``floor``: its forecast path).
        vol_multiplier : float
            ``[scenarios] vol_multiplier``, applied to the full-history volatility that replaces
            the forecast in the slippage model (``floor``), as to the forecast in the run.
        history : DataFrame of shape (n_days, n_assets) or None
            Each asset's prices from its first date to as_of, columns in the order of the
            solution's assets (``floor``, ``stress_weight``).
        collateral : ndarray of shape (n_assets,)
            USD collateral per asset, the weights of the stress basket.
        rng : Generator
            ``stress_weight``: which stress windows replace scenarios.

        Returns
        -------
        AntiProcyclicalityOutcome
        """
        base = solution.recommended
        assets = list(base.assets)
        lt0, ltv0 = np.asarray(base.liquidation_threshold, float), np.asarray(base.ltv, float)
        terminal = np.asarray(scenarios.terminal, dtype=float)
        H = scenarios.horizon
        common = {"policy": self, "model": base, "n_scenarios": int(terminal.shape[0]), "horizon": int(H)}
        if self.method == "buffer":
            applied = base.replace(ltv=buffer_haircut(ltv0, self.buffer), liquidation_threshold=lt0.copy()).check()
            return AntiProcyclicalityOutcome(applied=applied, alternative=None, **common)
        if history is None:
            raise EstimationError(f"[anti_procyclicality] method = {self.method!r} needs the price history")
        history = history[assets]
        extra: dict[str, object] = {}
        if self.method == "floor":
            sig_long = long_volatility(history)
            path = np.asarray(volatility.forecast_path(H), dtype=float)
            sig_now = np.sqrt(np.mean(path**2, axis=0))
            ratio = np.where(np.isfinite(sig_long) & (sig_now > 0), sig_long / sig_now, 1.0)
            alt = solve(np.exp(np.log(terminal) * ratio), sig_long * vol_multiplier)
            starts = [history[a].first_valid_index() for a in assets]
            extra = {
                "long_volatility": sig_long,
                "forecast_volatility": sig_now,
                "history_start": tuple(d.date().isoformat() if d is not None else None for d in starts),
            }
        else:
            pool = stress_pool(history, H, collateral, self.stress_quantile)
            n = terminal.shape[0]
            n_st = int(math.ceil(self.stress_weight * n))
            pick = rng.integers(0, pool.terminal.shape[0], size=n_st)
            alt_terminal = terminal.copy()
            alt_terminal[n - n_st:] = pool.terminal[pick]
            alt = solve(alt_terminal, None)
            extra = {"stress": pool, "n_stress_scenarios": n_st}
        lt1, ltv1 = floor_params(lt0, ltv0, np.asarray(alt.recommended.liquidation_threshold, float),
                                 np.asarray(alt.recommended.ltv, float))
        ltv1 = np.where(solution.zero_kept, 0.0, ltv1)
        applied = base.replace(ltv=ltv1, liquidation_threshold=lt1).check()
        return AntiProcyclicalityOutcome(applied=applied, alternative=alt, **common, **extra)  # type: ignore[arg-type]
