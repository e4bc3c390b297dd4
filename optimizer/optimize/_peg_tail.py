"""What the depeg jumps do to a pegged asset's tail, with Monte Carlo error bands.

For each pegged asset: its 1-in-N horizon move with and without the jumps, the share of the
scenarios at or beyond that move that hold a depeg, and the share of the asset's contribution to
the bad-debt CVaR that comes from depeg scenarios. The error bands are Monte Carlo errors of the
equally weighted scenario set:

- the quantile's 95 % band is the order-statistic interval: the sorted values at ranks
  ``qN -+ 1.96 sqrt(N q (1 - q))``;
- the shares' standard errors are batch means over :data:`N_BATCHES` interleaved batches of the
  scenarios (``std / sqrt(n_batches)``), which holds under the stratified jump design (the
  binomial formula would overstate it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.optimize.measures import var

if TYPE_CHECKING:
    from optimizer.scenarios import PegJumpDraws
    from optimizer.typing import FloatArray

#: Batches of the batch-means standard errors.
N_BATCHES = 10
_Z95 = 1.959963984540054


@dataclass(frozen=True, eq=False)
class PegTailBands:
    """Replications of one pegged asset's tail figures (from ``pipeline.pegs``).

    Attributes
    ----------
    mc_moves, mc_probs : ndarray of shape (n_rep,)
        The ``q`` move and P(move <= depth) over Monte Carlo replications of the design.
    est_moves, est_probs : ndarray of shape (n_boot,)
        The same over parametric-bootstrap refits of the severity and the frequency.
    depth : float
    kind_mc, kind_est : str
        How each was measured (for the report).
    """

    mc_moves: FloatArray
    mc_probs: FloatArray
    est_moves: FloatArray
    est_probs: FloatArray
    depth: float
    kind_mc: str = "replications"
    kind_est: str = "parametric bootstrap"

    @staticmethod
    def band(x: FloatArray) -> tuple[float, float]:
        """The 2.5 % and 97.5 % points."""
        lo, hi = np.percentile(np.asarray(x, dtype=float), [2.5, 97.5])
        return float(lo), float(hi)


@dataclass(frozen=True)
class PegTailFigures:
    """The depeg jumps' part in one pegged asset's tail.

    Attributes
    ----------
    asset, reference : str
    probability : float
        Probability of a depeg within the horizon.
    n_jumps, n_scenarios : int
        Depeg scenarios drawn, of all scenarios.
    n_below, n_above : int
        Depeg scenarios below and above par.
    level_median, level_worst, level_best : float
        Median of the drawn relatives below par, the lowest and the highest drawn relative (NaN
        where there is none).
    q : float
        Tail probability of the move (0.001: the 1-in-1,000 horizon move).
    move : float
        The asset's ``q`` quantile of the horizon price relative, minus 1 (-0.13: a 13 % fall).
    move_band : tuple of float
        Its 95 % Monte Carlo band.
    move_without_jumps : float
        The same quantile of the continuous part alone.
    tail_share : float
        Share of the scenarios at or below ``move`` that hold a depeg.
    tail_share_se : float
    cvar_share : float or None
        Share of the asset's bad debt in the aggregate bad-debt tail (at or beyond VaR_alpha)
        that comes from depeg scenarios; None when the asset has no bad debt there.
    cvar_share_se : float or None
    alpha : float
        The CVaR level of ``cvar_share``.
    move_est_band : tuple of float or None
        The move's estimation band (None without replications).
    depth : float
        The reported depth (-0.13).
    prob_depth : float
        P(move <= depth) in the scenarios.
    prob_depth_band, prob_depth_est_band : tuple of float or None
        Its Monte Carlo and estimation bands.
    n_mc, n_boot : int
        Replications behind the bands (0: the order-statistic band).
    evidence : SeverityEvidence or None
        The class's severity models side by side.
    """

    asset: str
    reference: str
    probability: float
    n_jumps: int
    n_scenarios: int
    n_below: int
    n_above: int
    level_median: float
    level_worst: float
    level_best: float
    q: float
    move: float
    move_band: tuple[float, float]
    move_without_jumps: float
    tail_share: float
    tail_share_se: float
    cvar_share: float | None
    cvar_share_se: float | None
    alpha: float
    move_est_band: tuple[float, float] | None = None
    depth: float = -0.13
    prob_depth: float = float("nan")
    prob_depth_band: tuple[float, float] | None = None
    prob_depth_est_band: tuple[float, float] | None = None
    n_mc: int = 0
    n_boot: int = 0
    evidence: Any = None


def quantile_band(x: FloatArray, q: float) -> tuple[float, float, float]:
    """(quantile, low, high): the ``q`` quantile of ``x`` and its 95 % order-statistic band."""
    srt = np.sort(np.asarray(x, dtype=float))
    n = srt.size
    k = q * n
    half = _Z95 * math.sqrt(n * q * (1.0 - q))
    lo = int(min(max(math.floor(k - half), 0), n - 1))
    hi = int(min(max(math.ceil(k + half), 0), n - 1))
    return float(np.quantile(srt, q)), float(srt[lo]), float(srt[hi])


def _tail_share(rel: FloatArray, jump: np.ndarray, q: float) -> float:
    cut = np.quantile(rel, q)
    tail = rel <= cut
    return float(jump[tail].mean()) if tail.any() else float("nan")


def _cvar_share(by_asset_i: FloatArray, total: FloatArray, jump: np.ndarray, alpha: float) -> float | None:
    t = var(total, alpha)
    tail = total >= t
    contrib = by_asset_i[tail].sum()
    if contrib <= 0:
        return None
    return float(by_asset_i[tail & jump].sum() / contrib)


def _batch_se(values: Sequence[float | None]) -> float | None:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size < 2:
        return None
    return float(v.std(ddof=1) / math.sqrt(v.size))


def peg_tail_figures(
    terminal: FloatArray,
    assets: Sequence[str],
    draws: Sequence[PegJumpDraws],
    *,
    bad_debt_by_asset: FloatArray | None = None,
    bad_debt: FloatArray | None = None,
    alpha: float = 0.99,
    q: float = 0.001,
    depth: float = -0.13,
    bands: Mapping[str, PegTailBands] | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> tuple[PegTailFigures, ...]:
    """The tail figures of every pegged asset (see the module notes).

    Parameters
    ----------
    terminal : ndarray of shape (n_scenarios, n_assets)
        Terminal price relatives with the jumps.
    assets : sequence of str
    draws : sequence of PegJumpDraws
        The jumps drawn into ``terminal``.
    bad_debt_by_asset : ndarray of shape (n_scenarios, n_assets), optional
        Bad debt per scenario by collateral asset (for the CVaR share).
    bad_debt : ndarray of shape (n_scenarios,), optional
        Aggregate bad debt per scenario.
    alpha : float, default 0.99
        CVaR level of the CVaR share.
    q : float, default 0.001
        Tail probability of the move.
    depth : float, default -0.13
        The move whose probability is reported (overridden by the bands' own).
    bands : mapping of str to PegTailBands, optional
        Per asset: the replications the bands are measured from.
    evidence : mapping of str to SeverityEvidence, optional
        Per class.

    Returns
    -------
    tuple of PegTailFigures
        In the order of ``draws``.
    """
    terminal = np.asarray(terminal, dtype=float)
    n = terminal.shape[0]
    batches = [np.arange(b, n, N_BATCHES) for b in range(N_BATCHES)]
    out = []
    for d in draws:
        i = list(assets).index(d.asset)
        rel = terminal[:, i]
        jump = np.zeros(n, dtype=bool)
        jump[d.rows] = True
        continuous = rel.copy()
        continuous[d.rows] /= d.levels
        move, lo, hi = quantile_band(rel, q)
        share = _tail_share(rel, jump, q)
        share_se = _batch_se([_tail_share(rel[b], jump[b], q) for b in batches]) or 0.0
        cvar_share = cvar_se = None
        if bad_debt_by_asset is not None and bad_debt is not None:
            col = np.asarray(bad_debt_by_asset)[:, i]
            total = np.asarray(bad_debt, dtype=float)
            cvar_share = _cvar_share(col, total, jump, alpha)
            if cvar_share is not None:
                cvar_se = _batch_se([_cvar_share(col[b], total[b], jump[b], alpha) for b in batches])
        levels = d.levels
        b = (bands or {}).get(d.asset)
        dep = b.depth if b is not None else depth
        extra: dict[str, Any] = {"depth": dep, "prob_depth": float(np.mean(rel - 1.0 <= dep)),
                                 "evidence": (evidence or {}).get(d.reference)}
        if b is not None:
            lo, hi = PegTailBands.band(b.mc_moves)
            extra.update(move_est_band=PegTailBands.band(b.est_moves), prob_depth_band=PegTailBands.band(b.mc_probs),
                         prob_depth_est_band=PegTailBands.band(b.est_probs), n_mc=int(b.mc_moves.size),
                         n_boot=int(b.est_moves.size))
            lo, hi = lo + 1.0, hi + 1.0
        out.append(PegTailFigures(
            asset=d.asset, reference=d.reference, probability=d.probability, n_jumps=d.n_jumps, n_scenarios=n,
            n_below=int((levels < 1).sum()), n_above=int((levels > 1).sum()),
            level_median=float(np.median(levels[levels < 1])) if (levels < 1).any() else float("nan"),
            level_worst=float(levels.min()) if levels.size else float("nan"),
            level_best=float(levels.max()) if levels.size else float("nan"),
            q=q, move=move - 1.0, move_band=(lo - 1.0, hi - 1.0),
            move_without_jumps=float(np.quantile(continuous, q)) - 1.0,
            tail_share=share, tail_share_se=share_se, cvar_share=cvar_share, cvar_share_se=cvar_se, alpha=alpha,
            **extra,
        ))
    return tuple(out)
