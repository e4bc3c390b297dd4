"""Synthetic threshold problems shared by the optimize tests.

Imported by module name (the tests directories are not packages).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.optimize import cvar, threshold_losses


@dataclass(frozen=True)
class Problem:
    recovery: np.ndarray
    exposure: np.ndarray
    weight: np.ndarray
    lt_min: np.ndarray
    lt_max: np.ndarray
    buffer: np.ndarray

    def args(self) -> tuple[np.ndarray, ...]:
        return (self.recovery, self.exposure, self.weight, self.lt_min, self.lt_max, self.buffer)

    def cvar_at(self, lt: np.ndarray, alpha: float) -> float:
        return cvar(threshold_losses(lt, self.recovery, self.exposure), alpha)

    def budget(self, alpha: float, frac: float) -> float:
        """A budget ``frac`` of the way from the smallest feasible one to the CVaR at lt_max."""
        lo, hi = self.cvar_at(self.lt_min, alpha), self.cvar_at(self.lt_max, alpha)
        return lo + frac * (hi - lo)


def make_problem(
    n_scenarios: int,
    n_assets: int,
    rng: np.random.Generator,
    *,
    nu: float = 4.0,
    lt_min: float = 0.4,
    lt_max: float = 0.9,
) -> Problem:
    """Correlated Student-t horizon returns -> recovery ratios, with a common tail factor.

    Horizon volatilities 5-30 %, one-factor-plus-noise correlation, bonus 4-10 %, slippage 0-5 %,
    exposures from 1 M to 500 M USD: the joint-crash shape of crypto collateral.
    """
    sig = rng.uniform(0.05, 0.30, n_assets)
    load = rng.uniform(0.4, 0.9, n_assets)
    common = rng.standard_normal((n_scenarios, 1))
    idio = rng.standard_normal((n_scenarios, n_assets))
    z = common * load + idio * np.sqrt(1.0 - load**2)
    mix = np.sqrt(rng.chisquare(nu, (n_scenarios, 1)) / nu)
    r = z / mix * np.sqrt((nu - 2.0) / nu) * sig
    bonus = rng.uniform(0.04, 0.10, n_assets)
    slip = rng.uniform(0.0, 0.05, n_assets)
    k = np.exp(r) * (1.0 - slip) / (1.0 + bonus)
    W = rng.uniform(1e6, 5e8, n_assets)
    C = W * rng.uniform(0.8, 1.2, n_assets)
    return Problem(
        recovery=k,
        exposure=W,
        weight=C,
        lt_min=np.full(n_assets, lt_min),
        lt_max=np.full(n_assets, lt_max),
        buffer=np.full(n_assets, 0.04),
    )
