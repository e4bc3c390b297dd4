"""Peg breaks as a jump component of the scenarios, at full historical size.

A pegged asset's continuous part (filtered historical simulation, rescaled by today's volatility)
cannot produce a depeg: USDC's daily volatility forecast is 0.02 %, and a depeg day's residual,
rescaled by it, becomes a wobble. The jump component adds the depeg as what it is, an event:

- **Probability.** Each scenario of a pegged asset holds a depeg with the horizon's event
  probability ``p = 1 - exp(-lambda h / 365.25)``, ``lambda`` the pooled frequency of its class
  (:class:`~optimizer.estimators.PegBreakModel`), ``h`` the horizon in days.
- **Size.** The depeg's price relative is drawn from the class's severity over the horizon
  (:class:`~optimizer.estimators.PegSeverity`: the pooled events' horizon moves, as atoms or with
  a generalized Pareto tail per side), at full size: it is never multiplied by a volatility, so
  no volatility estimate or multiplier changes it. A peg to ETH or BTC applies on top of the
  asset's own move (stETH's relative is ETH-like already; WBTC priced by BTC moves with BTC, and
  the depeg multiplies that). A :class:`PegJump` given bare ``levels`` draws them as atoms.
- **Timing.** The depeg happens on a day drawn uniformly in the horizon and lasts to its end.
- **Sampling design (proportional stratification).** Rather than one Bernoulli draw per scenario
  (whose count of depeg scenarios is itself random: 100 +- 10 at p = 1e-3 and 100,000
  scenarios), the count is fixed at its expectation, ``floor(p N)`` plus one with probability
  ``frac(p N)``, on scenarios drawn at random without replacement; and the severities are
  stratified: the ``n`` depegs take the quantiles ``F^-1((k + U_k) / n)``, ``k = 0 .. n-1``, in
  random order (for atoms this is the systematic allocation: each pooled event ``n / n_events``
  times, +-1; for a fitted tail every stratum of the distribution is hit once). Every
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
from typing import Any

import numpy as np
import pandas as pd

from optimizer.scenarios._set import ScenarioSet
from optimizer.typing import FloatArray

__all__ = ["PegJump", "PegJumpDraws", "add_peg_jumps", "draw_jumps", "jump_factor", "mask_peg_days", "replicate_tail"]


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
        The pooled events' horizon moves (price relatives) a depeg draws from as atoms when
        ``severity`` is None.
    severity : PegSeverity or None
        The fitted severity (its ``ppf``) the depegs are drawn from.
    """

    asset: str
    reference: str
    probability: float
    levels: FloatArray
    severity: Any = None

    def ppf(self, u: FloatArray) -> FloatArray:
        """Severity quantiles (price relatives) at ``u`` in [0, 1)."""
        if self.severity is not None:
            return np.asarray(self.severity.ppf(u), dtype=float)
        lv = np.sort(self.levels)
        return lv[np.minimum((np.asarray(u) * lv.size).astype(np.int64), lv.size - 1)]

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
        The stratum of each draw (0 .. n_jumps-1: the draw holding the lowest level is 0).
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
        d = draw_jumps(jump, n, horizon, rng=rng)
        for s, day, lv in zip(d.rows, d.days, d.levels, strict=True):
            rel[s, day - 1 :, i] *= lv
        draws.append(d)
    info = dict(scenarios.info)
    info["peg_jumps"] = {d.asset: d.n_jumps for d in draws}
    return replace(scenarios, relatives=rel, info=info), tuple(draws)


def draw_jumps(jump: PegJump, n: int, horizon: int, *, rng: np.random.Generator) -> PegJumpDraws:
    """One asset's depeg draws on ``n`` scenarios of ``horizon`` days (the design of the module notes)."""
    expected = jump.probability * n
    count = int(math.floor(expected))
    count += int(rng.random() < expected - count)
    rows = np.sort(rng.choice(n, size=count, replace=False)) if count else np.zeros(0, dtype=np.int64)
    if count:
        strata = rng.permutation(count)
        levels = jump.ppf((strata + rng.random(count)) / count)
        days = rng.integers(1, horizon + 1, size=count)
    else:
        strata = days = np.zeros(0, dtype=np.int64)
        levels = np.zeros(0)
    return PegJumpDraws(asset=jump.asset, reference=jump.reference, probability=jump.probability,
                        rows=rows, levels=levels, events=strata, days=days)


def replicate_tail(
    continuous: FloatArray,
    jumps: Sequence[PegJump],
    *,
    q: float,
    depth: float,
    rng: np.random.Generator,
    resample: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Replications of one asset's tail figures, one per jump model in ``jumps``.

    Each replication draws the jumps afresh (:func:`draw_jumps`, terminal only, so the day does
    not matter) onto the continuous part's terminal relatives, resampled with replacement when
    ``resample`` (the Monte Carlo error of both parts). With ``jumps`` the same model repeated this
    is the Monte Carlo band; with bootstrap refits of the severity it is the estimation band.

    Parameters
    ----------
    continuous : ndarray of shape (n_scenarios,)
        The asset's terminal relatives without jumps.
    jumps : sequence of PegJump
        The model of each replication.
    q : float
        Tail probability of the move.
    depth : float
        A move (-0.13): the probability of a move at least this deep is replicated too.
    rng : numpy.random.Generator
    resample : bool, default True

    Returns
    -------
    moves, probs : ndarray of shape (len(jumps),)
        The ``q`` quantile of the move (relative - 1) and P(move <= depth) per replication.
    """
    c = np.asarray(continuous, dtype=float)
    n = c.size
    moves, probs = np.empty(len(jumps)), np.empty(len(jumps))
    for r, jump in enumerate(jumps):
        rel = c[rng.integers(0, n, size=n)] if resample else c.copy()
        d = draw_jumps(jump, n, 1, rng=rng)
        rel[d.rows] *= d.levels
        moves[r] = np.quantile(rel, q) - 1.0
        probs[r] = np.mean(rel - 1.0 <= depth)
    return moves, probs


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
