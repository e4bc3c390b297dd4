"""Market-impact laws and the liquidation slippage they imply. Pure functions.

Conventions
-----------
An *impact* or *slippage* is the average discount, relative to the pre-trade (oracle) price, at
which a sale of ``q`` USD is filled: 0.03 means the seller receives 97 % of the oracle value.
Every law is capped at ``MAX_IMPACT`` (0.99) so recovery never reaches zero or turns negative.

* :func:`sqrt_impact` - the square-root law of metaorder impact,
  ``impact = coef * sigma_daily * sqrt(q / ADV)``, with ``coef`` (the ``Y`` of the literature)
  of order 1.
* :func:`depth_curve_impact` - an order-book depth curve: linear in size with the market's
  "depth at 2 %" (the trade size that moves the fill price by 2 %, as DEX aggregators quote it),
  or an explicit curve of (size, impact) points measured from quotes.
* :func:`liquidation_slippage` - per-asset slippage of the collateral seized in a severe
  scenario, used as the ``slippage`` of the bad-debt evaluations (see its docstring).
* :class:`StaticSlippage` - the slippage of the static model and of the threshold program: a
  fixed share of each asset's collateral sold into the volume liquidators can reach, under
  :func:`sqrt_impact`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.mechanics import LIQUIDATION_HF
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray

#: Upper bound of every impact law: a sale never loses more than 99 % of its value.
MAX_IMPACT = 0.99

__all__ = [
    "MAX_IMPACT",
    "StaticSlippage",
    "depth_curve_impact",
    "liquidation_slippage",
    "seized_collateral",
    "sqrt_impact",
]


def sqrt_impact(
    q_usd: ArrayLike,
    adv_usd: ArrayLike,
    sigma_daily: ArrayLike,
    *,
    coef: float = 1.0,
    cap: float = MAX_IMPACT,
) -> FloatArray:
    """Square-root-law price impact of selling ``q_usd`` within a day.

    ``impact = coef * sigma_daily * sqrt(q_usd / adv_usd)``, capped at ``cap``.

    Parameters
    ----------
    q_usd : array_like
        Amount sold, USD (>= 0).
    adv_usd : array_like
        Average daily traded volume, USD (>= 0). With no volume any positive sale gets
        ``MAX_IMPACT``.
    sigma_daily : array_like
        Daily volatility (decimal, >= 0).
    coef : float, default 1.0
        Prefactor ``Y`` (empirically 0.5-1).
    cap : float, default MAX_IMPACT
        Largest impact returned (>= 0; ``inf`` for none).

    Returns
    -------
    ndarray of the broadcast shape, values in [0, cap].
    """
    q, adv, sig = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (q_usd, adv_usd, sigma_daily))
    )
    for name, arr in (("q_usd", q), ("adv_usd", adv), ("sigma_daily", sig)):
        if np.any(~np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"`{name}` must be finite and >= 0")
    if not (np.isfinite(coef) and coef >= 0):
        raise ValueError(f"`coef` must be finite and >= 0, got {coef}")
    if not cap >= 0:
        raise ValueError(f"`cap` must be >= 0, got {cap}")
    ratio = np.full(q.shape, np.inf)
    np.divide(q, adv, out=ratio, where=adv > 0)
    ratio[q == 0] = 0.0
    with np.errstate(invalid="ignore"):
        impact = coef * sig * np.sqrt(ratio)
    impact = np.where(np.isnan(impact), cap, impact)  # 0 * inf: no volume, no volatility
    return np.minimum(impact, cap)[()]


@dataclass(frozen=True)
class StaticSlippage:
    """Slippage of a liquidation day in the static model (square-root law, :func:`sqrt_impact`).

    On the day, ``liquidation_share`` of each asset's collateral is sold into the volume
    liquidators can reach, ``V = adv x reachable_volume_share x liquidity_multiplier``; the
    slippage is ``min(impact_coef x sigma_daily x sqrt(q / V), max_slippage)``.

    Attributes
    ----------
    liquidation_share : float
        Share of the collateral sold on the day, in [0, 1].
    reachable_volume_share : float
        Share of reported volume liquidators can reach, in (0, 1].
    liquidity_multiplier : float
        Multiplies the reachable volume (< 1: a liquidity crunch), > 0.
    impact_coef : float
        Square-root-law prefactor, >= 0.
    max_slippage : float
        Cap of the slippage (``inf`` for none).
    """

    liquidation_share: float = 0.25
    reachable_volume_share: float = 0.2
    liquidity_multiplier: float = 1.0
    impact_coef: float = 1.0
    max_slippage: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.liquidation_share <= 1:
            raise ValueError(f"`liquidation_share` must lie in [0, 1], got {self.liquidation_share}")
        if not 0 < self.reachable_volume_share <= 1:
            raise ValueError(f"`reachable_volume_share` must lie in (0, 1], got {self.reachable_volume_share}")
        if not self.liquidity_multiplier > 0:
            raise ValueError(f"`liquidity_multiplier` must be > 0, got {self.liquidity_multiplier}")

    def slippage(self, collateral_usd: ArrayLike, adv_usd: ArrayLike, sigma_daily: ArrayLike) -> FloatArray:
        """Per-asset slippage, shape (n_assets,), of selling the day's share of ``collateral_usd``.

        Parameters
        ----------
        collateral_usd, adv_usd, sigma_daily : array_like of shape (n_assets,)
            Collateral (USD), reported daily volume (USD) and daily volatility per asset.
        """
        q = self.liquidation_share * np.asarray(collateral_usd, dtype=float)
        v = np.asarray(adv_usd, dtype=float) * self.reachable_volume_share * self.liquidity_multiplier
        return sqrt_impact(q, v, sigma_daily, coef=self.impact_coef, cap=self.max_slippage)

    def slippage_per_sigma(self, collateral_usd: ArrayLike, adv_usd: ArrayLike) -> FloatArray:
        """Uncapped slippage per unit of daily volatility, shape (n_assets,).

        The square-root law is linear in ``sigma_daily`` below the cap, so ``slippage`` at volatility
        ``s`` is ``min(s x slippage_per_sigma, max_slippage)``.
        """
        law = replace(self, max_slippage=np.inf)
        return law.slippage(collateral_usd, adv_usd, np.ones(len(np.atleast_1d(collateral_usd))))


def depth_curve_impact(
    q_usd: ArrayLike,
    depth_usd_at_2pct: ArrayLike | None = None,
    *,
    curve: tuple[ArrayLike, ArrayLike] | None = None,
    pct: float = 0.02,
) -> FloatArray:
    """Impact of selling ``q_usd`` read from a depth curve.

    Either linear, ``impact = pct * q / depth`` (``depth_usd_at_2pct``: the sale that costs
    ``pct`` = 2 %), or a configured curve ``(sizes_usd, impacts)`` interpolated linearly,
    through (0, 0), and extrapolated beyond the last point with the last segment's slope.
    Capped at ``MAX_IMPACT``.

    Parameters
    ----------
    q_usd : array_like
        Amount sold, USD (>= 0).
    depth_usd_at_2pct : array_like, optional
        Trade size with ``pct`` impact (broadcast against ``q_usd``); > 0.
    curve : (array_like, array_like), optional
        Increasing sizes (USD, > 0) and non-decreasing impacts of one market.
    pct : float, default 0.02
        Impact at ``depth_usd_at_2pct``.

    Returns
    -------
    ndarray of the shape of ``q_usd`` (broadcast with the depth).
    """
    q = np.asarray(q_usd, dtype=np.float64)
    if np.any(~np.isfinite(q)) or np.any(q < 0):
        raise ValueError("`q_usd` must be finite and >= 0")
    if (depth_usd_at_2pct is None) == (curve is None):
        raise ValueError("give exactly one of `depth_usd_at_2pct` and `curve`")
    if depth_usd_at_2pct is not None:
        depth = np.asarray(depth_usd_at_2pct, dtype=np.float64)
        if np.any(~np.isfinite(depth)) or np.any(depth <= 0):
            raise ValueError("`depth_usd_at_2pct` must be finite and > 0")
        if not 0 < pct < 1:
            raise ValueError(f"`pct` must lie in (0, 1), got {pct}")
        return np.minimum(pct * q / depth, MAX_IMPACT)[()]
    assert curve is not None
    sizes = np.asarray(curve[0], dtype=np.float64)
    impacts = np.asarray(curve[1], dtype=np.float64)
    if sizes.ndim != 1 or sizes.shape != impacts.shape or len(sizes) < 1:
        raise ValueError("`curve` must be two 1-D arrays of equal length >= 1 (sizes_usd, impacts)")
    if np.any(sizes <= 0) or np.any(np.diff(sizes) <= 0):
        raise ValueError("`curve` sizes must be > 0 and strictly increasing")
    if np.any(impacts < 0) or np.any(np.diff(impacts) < 0):
        raise ValueError("`curve` impacts must be >= 0 and non-decreasing")
    xs = np.concatenate([[0.0], sizes])
    ys = np.concatenate([[0.0], impacts])
    slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    out = np.where(q <= xs[-1], np.interp(q, xs, ys), ys[-1] + slope * (q - xs[-1]))
    return np.minimum(out, MAX_IMPACT)[()]


def seized_collateral(
    book: Book,
    relatives: ArrayLike,
    params: RiskParams,
    *,
    debt_scale: ArrayLike | None = None,
) -> FloatArray:
    """Collateral liquidators seize per scenario and asset, USD at post-shock prices.

    Each liquidated account (``HF' < 1``) repays its whole debt if its collateral allows;
    collateral is seized pro rata across its assets, a fraction
    ``min(1, D' / sum_i c r / (1 + bonus_i))`` of every position (computed at zero slippage).
    Chunked dense numpy (like the bad-debt baseline): meant for a few thousand scenarios.

    Parameters
    ----------
    book : Book
    relatives : array_like of shape (n_scenarios, n_assets)
    params : RiskParams
    debt_scale : array_like of shape (n_accounts,), optional

    Returns
    -------
    ndarray of shape (n_scenarios, n_assets)
    """
    rel = np.atleast_2d(np.asarray(relatives, dtype=np.float64))
    if rel.shape[1] != book.n_assets or tuple(params.assets) != tuple(book.assets):
        raise ValueError("`relatives` columns and `params.assets` must follow `book.assets`")
    scale = np.ones(book.n_accounts) if debt_scale is None else np.asarray(debt_scale, float)
    coll = book.collateral_matrix().toarray()  # (n_accounts, n_assets)
    debt = book.debt_matrix().toarray() * scale[:, None]
    borrowing = debt.sum(axis=1) > 0
    coll, debt = coll[borrowing], debt[borrowing]
    m_lt = coll * params.liquidation_threshold
    m_cover = coll / (1.0 + params.liquidation_bonus)
    out = np.zeros(rel.shape)
    chunk = max(1, (1 << 21) // max(len(coll), 1))
    for s0 in range(0, rel.shape[0], chunk):
        r = rel[s0 : s0 + chunk].T  # (n_assets, k)
        d_now = debt @ r  # (n_accounts, k)
        cover = m_cover @ r
        frac = np.minimum(1.0, np.divide(d_now, cover, out=np.ones_like(d_now), where=cover > 0))
        frac[(m_lt @ r) >= d_now * LIQUIDATION_HF] = 0.0
        out[s0 : s0 + chunk] = (frac.T @ coll) * r.T
    return out


def liquidation_slippage(
    book: Book,
    params: RiskParams,
    relatives: ArrayLike,
    adv_usd: ArrayLike,
    sigma_daily: ArrayLike,
    *,
    liquidity_multiplier: float = 1.0,
    coef: float = 1.0,
    share: float = 1.0,
    tail: float = 0.01,
    max_tail_scenarios: int = 100,
    debt_scale: ArrayLike | None = None,
) -> FloatArray:
    """Per-asset slippage of the collateral sold in a severe scenario (square-root law).

    Choice of the severe amount: for each asset ``i``, take the scenarios in which ``i``'s price
    relative is in its lower ``tail`` quantile (at most ``max_tail_scenarios`` of them, evenly
    spread by rank; joint scenarios, so other assets and the debt move coherently). In each,
    compute the collateral of ``i`` seized from liquidated accounts (:func:`seized_collateral`),
    average over those scenarios and multiply by ``share``, the fraction of seized collateral
    sold into the market within the day. The slippage is then
    ``sqrt_impact(q_i, adv_i * liquidity_multiplier, sigma_i, coef=coef)``.

    The amount is computed at zero slippage (no feedback of slippage on the seized amount); a
    ``liquidity_multiplier`` below 1 models a liquidity crunch.

    Parameters
    ----------
    book : Book
    params : RiskParams
        Parameters whose LT and bonus decide liquidations (over ``book.assets``).
    relatives : array_like of shape (n_scenarios, n_assets)
        Scenario price relatives at the horizon. A single row (n_assets,) is used as the
        severe scenario for every asset.
    adv_usd : array_like of shape (n_assets,)
        Average daily traded volume, USD.
    sigma_daily : array_like of shape (n_assets,)
        Daily volatility.
    liquidity_multiplier : float, default 1.0
        Multiplies ``adv_usd``.
    coef : float, default 1.0
        Square-root-law prefactor.
    share : float, default 1.0
        Fraction of the seized collateral sold on the day (1 = all of it, conservative).
    tail : float, default 0.01
        Lower quantile of each asset's price relative that defines its severe scenarios.
    max_tail_scenarios : int, default 100
    debt_scale : array_like of shape (n_accounts,), optional
        Debt multiplier per account (re-levering or worst case).

    Returns
    -------
    ndarray of shape (n_assets,)
        Slippage per asset in [0, MAX_IMPACT].
    """
    n = book.n_assets
    rel = np.asarray(relatives, dtype=np.float64)
    if rel.ndim == 1:
        rel = rel[None, :]
    if rel.ndim != 2 or rel.shape[1] != n:
        raise ValueError(
            f"`relatives` must have shape (n_scenarios, {n}) or ({n},), got {rel.shape}"
        )
    if not 0 < tail <= 1:
        raise ValueError(f"`tail` must lie in (0, 1], got {tail}")
    if not 0 <= share <= 1:
        raise ValueError(f"`share` must lie in [0, 1], got {share}")
    if not liquidity_multiplier > 0:
        raise ValueError(f"`liquidity_multiplier` must be > 0, got {liquidity_multiplier}")
    if max_tail_scenarios < 1:
        raise ValueError(f"`max_tail_scenarios` must be >= 1, got {max_tail_scenarios}")
    adv = np.broadcast_to(np.asarray(adv_usd, dtype=np.float64), (n,))
    sig = np.broadcast_to(np.asarray(sigma_daily, dtype=np.float64), (n,))

    n_s = rel.shape[0]
    n_tail = max(1, int(np.ceil(tail * n_s)))
    picks = np.unique(
        np.linspace(0, n_tail - 1, min(n_tail, max_tail_scenarios)).round().astype(int)
    )
    if n_tail < n_s:  # the n_tail lowest of each column, then sorted among themselves
        low = np.argpartition(rel, n_tail - 1, axis=0)[:n_tail]
    else:
        low = np.tile(np.arange(n_s)[:, None], (1, n))
    order = np.take_along_axis(
        low, np.argsort(np.take_along_axis(rel, low, axis=0), axis=0), axis=0
    )
    chosen = order[picks]  # (n_picks, n_assets) scenario indices per asset
    uniq, inverse = np.unique(chosen, return_inverse=True)
    seized = seized_collateral(book, rel[uniq], params, debt_scale=debt_scale)  # (n_uniq, n_assets)
    per_asset = seized[inverse.reshape(chosen.shape), np.arange(n)[None, :]]  # (n_picks, n_assets)
    q = share * per_asset.mean(axis=0)
    return sqrt_impact(q, adv * liquidity_multiplier, sig, coef=coef)
