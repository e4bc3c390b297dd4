"""Peg breaks as a jump component of the scenarios, at full historical size.

A pegged asset's continuous part (filtered historical simulation, rescaled by today's volatility)
cannot produce a depeg: USDC's daily volatility forecast is 0.02 %, and a depeg day's residual,
rescaled by it, becomes a wobble. The jump component adds the depeg as what it is, an event:

- **Probability.** Each scenario of a pegged asset holds a depeg with the horizon's event
  probability ``p = 1 - exp(-lambda h / 365.25)``, ``lambda`` the pooled frequency of its class
  (:class:`~optimizer.estimators.PegBreakModel`), ``h`` the horizon in days.
- **Size.** The depeg's price relative is one of the pooled event levels (a USDC scenario may draw
  USDC's 0.87 of March 2023, DAI's 0.88, USDT's 0.8493 of 2017 or DAI's premium of 1.066), at
  full size: it is never multiplied by a volatility, so no volatility estimate or multiplier
  changes it. A peg to ETH or BTC applies on top of the asset's own move (stETH's relative is
  ETH-like already; WBTC priced by BTC moves with BTC, and the depeg multiplies that).
- **Timing.** The depeg happens on a day drawn uniformly in the horizon and lasts to its end.
- **Sampling design (proportional stratification).** Rather than one Bernoulli draw per scenario
  (whose count of depeg scenarios is itself random: 100 +- 10 at p = 1e-3 and 100,000
  scenarios), the count is fixed at its expectation, ``floor(p N)`` plus one with probability
  ``frac(p N)``, on scenarios drawn at random without replacement; and the levels are allocated
  systematically, each pooled event drawn ``n / n_events`` times (+-1) in random order. Every
  scenario keeps the weight 1/N, so every downstream measure (the LP, the guards, the fund, the
  simulation) reads the set as before; the design only removes the variance of the jump count
  and of the mix of severities, which dominate the error of the tail figures.
- **No double counting.** The depeg days of the asset's own events (:meth:`PegBreak.days`: the
  event's days and the return out of it) are taken out of the continuous part's returns before
  the volatility model is fitted (:func:`mask_peg_days`): they become missing days, which the
  volatility model skips and which fhs imputes as it does any missing day of an asset (a trading
  gap): the depeg's own residual is never drawn, so the depeg lives in the jump only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimizer.scenarios._set import ScenarioSet
from optimizer.typing import FloatArray

__all__ = ["PegJump", "PegJumpDraws", "add_peg_jumps", "jump_factor", "mask_peg_days"]


@dataclass(frozen=True, eq=False)
class PegJump:
    """The jump component of one pegged asset.

    Attributes
    ----------
    asset : str
    reference : str
        Its class (``"usd"``, ``"eth"``, ``"btc"``).
    probability : float
        Probability of a depeg within the horizon, in [0, 1).
    levels : ndarray of shape (n_events,)
        The pooled event levels (price relatives to par) a depeg draws from.
    """

    asset: str
    reference: str
    probability: float
    levels: FloatArray

    def __post_init__(self) -> None:
        p = self.probability
        if not (isinstance(p, (int, float, np.floating)) and 0.0 <= p < 1.0):
            raise ValueError(f"`probability` of {self.asset!r} must be in [0, 1), got {p!r}")
        lv = np.asarray(self.levels, dtype=float)
        if lv.ndim != 1 or (p > 0 and lv.size == 0) or not np.all(np.isfinite(lv) & (lv > 0)):
            raise ValueError(f"`levels` of {self.asset!r} must be a 1-d array of positive relatives")
        object.__setattr__(self, "levels", lv)


@dataclass(frozen=True, eq=False)
class PegJumpDraws:
    """Which scenarios of a set hold a depeg of one asset, and how deep.

    Attributes
    ----------
    asset : str
    reference : str
    probability : float
        The horizon probability the draws realise.
    rows : ndarray of int, shape (n_jumps,)
        Scenario indices with a depeg (sorted).
    levels : ndarray of shape (n_jumps,)
        The depeg's price relative in each of them.
    events : ndarray of int, shape (n_jumps,)
        Index of the pooled event each level comes from.
    days : ndarray of int, shape (n_jumps,)
        Horizon day (1-based) on which the depeg happens.
    """

    asset: str
    reference: str
    probability: float
    rows: np.ndarray
    levels: FloatArray
    events: np.ndarray
    days: np.ndarray

    @property
    def n_jumps(self) -> int:
        return int(self.rows.size)


def add_peg_jumps(
    scenarios: ScenarioSet, jumps: Sequence[PegJump], *, rng: np.random.Generator
) -> tuple[ScenarioSet, tuple[PegJumpDraws, ...]]:
    """The scenarios with each pegged asset's depeg jumps multiplied in (see the module notes).

    Parameters
    ----------
    scenarios : ScenarioSet
        The continuous part (equal weights).
    jumps : sequence of PegJump
        One per pegged asset of the set; drawn in this order, independently of one another.
    rng : numpy.random.Generator
        The run's ``pegs`` stream.

    Returns
    -------
    scenarios : ScenarioSet
        A new set (the input is not modified), ``relatives[s, d-1:, i]`` multiplied by the drawn
        level for each drawn scenario ``s`` and day ``d``; ``info["peg_jumps"]`` holds the count
        per asset.
    draws : tuple of PegJumpDraws
        What was drawn, per asset, in the order of ``jumps``.

    Raises
    ------
    ValueError
        If a jump names an asset the set does not have, or the set has weights.
    """
    if scenarios.weights is not None:
        raise ValueError("add_peg_jumps needs equally weighted scenarios; the set has weights")
    n, horizon = scenarios.n_scenarios, scenarios.horizon
    rel = scenarios.relatives.copy()
    draws: list[PegJumpDraws] = []
    for jump in jumps:
        if jump.asset not in scenarios.assets:
            raise ValueError(f"`jumps` names {jump.asset!r}, which is not an asset of the scenarios")
        i = scenarios.assets.index(jump.asset)
        expected = jump.probability * n
        count = int(math.floor(expected))
        count += int(rng.random() < expected - count)
        rows = np.sort(rng.choice(n, size=count, replace=False)) if count else np.zeros(0, dtype=np.int64)
        n_events = jump.levels.size
        if count:
            # systematic allocation: event k gets floor or ceil of count / n_events draws
            start = rng.random()
            events = np.floor((start + np.arange(count)) * n_events / count).astype(np.int64) % n_events
            events = rng.permutation(events)
            days = rng.integers(1, horizon + 1, size=count)
        else:
            events = days = np.zeros(0, dtype=np.int64)
        levels = jump.levels[events]
        for s, d, lv in zip(rows, days, levels, strict=True):
            rel[s, d - 1 :, i] *= lv
        draws.append(PegJumpDraws(asset=jump.asset, reference=jump.reference, probability=jump.probability,
                                  rows=rows, levels=levels, events=events, days=days))
    info = dict(scenarios.info)
    info["peg_jumps"] = {d.asset: d.n_jumps for d in draws}
    return replace(scenarios, relatives=rel, info=info), tuple(draws)


def jump_factor(assets: Sequence[str], n_scenarios: int, draws: Sequence[PegJumpDraws]) -> FloatArray:
    """Terminal jump relative per scenario and asset (1 where no depeg), shape (n_scenarios, n_assets).

    ``terminal / jump_factor(...)`` is the continuous part, to which a transform of volatility or
    tails applies before the jumps are multiplied back: jumps are never rescaled.
    """
    out = np.ones((n_scenarios, len(assets)))
    for d in draws:
        out[d.rows, list(assets).index(d.asset)] *= d.levels
    return out


def mask_peg_days(
    returns: pd.DataFrame, days: Mapping[str, Sequence[pd.DatetimeIndex]]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Returns with each asset's depeg days taken out (NaN), for the continuous part.

    Parameters
    ----------
    returns : DataFrame
        Daily log returns (dates x assets).
    days : mapping of asset to sequence of DatetimeIndex
        The days of each of the asset's own events (:meth:`PegBreak.days`).

    Returns
    -------
    returns : DataFrame
        A copy with those cells NaN.
    masked : dict of str to int
        Number of return days taken out per asset (those the window holds a return on).
    """
    out = returns.copy()
    masked: dict[str, int] = {}
    for asset, spans in days.items():
        if asset not in out.columns:
            continue
        idx = pd.DatetimeIndex(sorted({day for span in spans for day in span}))
        hit = out.index.intersection(idx)
        n = int(out.loc[hit, asset].notna().sum())
        out.loc[hit, asset] = np.nan
        masked[asset] = n
    return out, masked
