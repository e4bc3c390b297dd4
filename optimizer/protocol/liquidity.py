"""Market-impact laws and the liquidation slippage they imply. Pure functions.

Conventions
-----------
An *impact* or *slippage* is the average discount, relative to the pre-trade (oracle) price, at
which a sale of ``q`` USD is filled: 0.03 means the seller receives 97 % of the oracle value.
Every law is capped at ``MAX_IMPACT`` (0.99) so recovery never reaches zero or turns negative.

* :func:`sqrt_impact` - the square-root law of metaorder impact,
  ``impact = coef * sigma_daily * sqrt(q / ADV)``, with ``coef`` (the ``Y`` of the literature)
  of order 1.
* :func:`curve_impact` - the one depth-curve law: a measured curve of (slippage, USD sellable)
  points, interpolated as a power law between them and continued beyond them as the power law
  ``s (q / Q)^exponent`` (0.5: the square-root law).
* :class:`DepthSlippage` - the liquidation slippage of the threshold program, the static
  evaluation and the market simulation (``impact="curve"``): one curve per asset, scaled with
  volatility (``impact(q, sigma) = curve(q) x sigma / sigma_at_measurement``, linear in sigma),
  pricing the day's sale of each asset, a :class:`~optimizer.protocol.sale.SaleSize` (by default
  the collateral the book's liquidations seize in the asset's tail scenarios,
  :func:`~optimizer.protocol.sale.seized_sale`). :func:`sqrt_law_curve` writes the square-root
  law on volume as such a curve.
* :func:`depth_curve_impact` - a linear book given by its "depth at 2 %" (the simulation's
  ``impact="depth"``).
* :func:`liquidation_slippage` - per-asset slippage of the collateral seized in a severe
  scenario (square-root law; see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams
from optimizer.protocol.sale import SaleSize, seized_collateral, tail_seized
from optimizer.typing import FloatArray

#: Upper bound of every impact law: a sale never loses more than 99 % of its value.
MAX_IMPACT = 0.99

__all__ = [
    "MAX_IMPACT",
    "DepthSlippage",
    "SaleSize",
    "check_curve",
    "curve_impact",
    "depth_curve_impact",
    "liquidation_slippage",
    "seized_collateral",
    "sqrt_impact",
    "sqrt_law_curve",
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


def curve_impact(
    q_usd: ArrayLike,
    sellable_usd: ArrayLike,
    slippage: ArrayLike,
    *,
    exponent: float = 0.5,
    cap: float = MAX_IMPACT,
) -> FloatArray:
    """Slippage of selling ``q_usd`` read from one depth curve: the one curve law of the package.

    A depth curve is a set of points ``(slippage_j, sellable_usd_j)``: a sale of ``sellable_usd_j``
    is filled at an average discount of ``slippage_j``. Between the points the curve is a power law
    (linear interpolation of ``log slippage`` in ``log size``); outside them it continues as the
    power law ``s_j (q / Q_j)^exponent`` through the nearest point (``exponent`` 0.5: the
    square-root law). A sale of 0 costs 0, and so does any sale into a curve whose first size is
    the no-impact depth (``sqrt_law_curve`` with ``coef = 0``); the result is capped at ``cap``.

    Parameters
    ----------
    q_usd : array_like
        Amounts sold, USD (>= 0).
    sellable_usd : array_like of shape (n_points,)
        Strictly increasing sizes, USD (> 0).
    slippage : array_like of shape (n_points,)
        Strictly increasing average discounts at those sizes, in (0, 1).
    exponent : float, default 0.5
        Power of the curve beyond its points (> 0).
    cap : float, default MAX_IMPACT

    Returns
    -------
    ndarray of the shape of ``q_usd``, values in [0, cap].

    Examples
    --------
    >>> round(float(curve_impact(4e6, [1e6], [0.01])), 6)  # one point, square-root law beyond it
    0.02
    """
    q = np.asarray(q_usd, dtype=np.float64)
    if np.any(~np.isfinite(q)) or np.any(q < 0):
        raise ValueError("`q_usd` must be finite and >= 0")
    xs, ys = check_curve(sellable_usd, slippage)
    if not (np.isfinite(exponent) and exponent > 0):
        raise ValueError(f"`exponent` must be finite and > 0, got {exponent}")
    if xs[0] >= _NO_IMPACT_USD:
        return np.zeros(q.shape)[()]
    lx, ly = np.log(xs), np.log(ys)
    with np.errstate(divide="ignore"):
        lq = np.log(q)
    inside = np.interp(lq, lx, ly)
    below = ly[0] + exponent * (lq - lx[0])
    above = ly[-1] + exponent * (lq - lx[-1])
    log_s = np.where(lq < lx[0], below, np.where(lq > lx[-1], above, inside))
    with np.errstate(over="ignore"):
        out = np.where(q > 0, np.exp(log_s), 0.0)
    return np.minimum(out, cap)[()]


def check_curve(sellable_usd: ArrayLike, slippage: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The points of a depth curve as float arrays, or ValueError naming the rule broken."""
    xs = np.asarray(sellable_usd, dtype=np.float64)
    ys = np.asarray(slippage, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape or len(xs) < 1:
        raise ValueError("a depth curve needs two 1-D arrays of equal length >= 1 (sellable_usd, slippage)")
    if np.any(~np.isfinite(xs)) or np.any(xs <= 0) or np.any(np.diff(xs) <= 0):
        raise ValueError(f"depth-curve sizes must be finite, > 0 and strictly increasing, got {xs}")
    if np.any(~(ys > 0)) or np.any(ys >= 1) or np.any(np.diff(ys) <= 0):
        raise ValueError(f"depth-curve slippages must lie in (0, 1) and strictly increase, got {ys}")
    return xs, ys


def sqrt_law_curve(adv_usd: float, *, coef: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """The square-root law on volume written as a one-point depth curve at unit daily volatility.

    With :class:`DepthSlippage`'s ``sigma_ref = 1`` and ``exponent = 0.5`` the curve gives
    ``coef x sigma x sqrt(q / adv_usd)``, the law of :func:`sqrt_impact`. Returns
    ``(sellable_usd, slippage)`` with the point at 2 % slippage.
    """
    if not (np.isfinite(adv_usd) and adv_usd > 0):
        raise ValueError(f"`adv_usd` must be finite and > 0, got {adv_usd}")
    if not (np.isfinite(coef) and coef >= 0):
        raise ValueError(f"`coef` must be finite and >= 0, got {coef}")
    level = 0.02
    size = adv_usd * (level / coef) ** 2 if coef > 0 else _NO_IMPACT_USD
    return np.array([min(size, _NO_IMPACT_USD)]), np.array([level])


#: A depth so large that no sale moves the price (a curve for "no impact").
_NO_IMPACT_USD = 1e300


@dataclass(frozen=True, eq=False)
class DepthSlippage:
    """Liquidation slippage from one depth curve per asset, scaled with volatility.

    The law, used by the threshold problem, the static evaluation and the market simulation:

    * a sale of ``q`` USD of asset ``i`` at daily volatility ``sigma`` is filled at the discount
      ``impact_i(q, sigma) = min(curve_i(q / (liquidity_multiplier x depth_scale_i)) x
      sigma / sigma_ref_i, cap)``, with ``curve_i`` the :func:`curve_impact` of the asset's points
      and ``sigma_ref_i`` the daily volatility on the day the curve was measured. A curve measured
      on a calm day is thinner in a crash in proportion to volatility, as in the square-root law,
      which keeps the slippage linear in ``sigma`` below the cap (:meth:`slippage_per_sigma`);
    * the liquidation day sells ``q_i``, the :class:`~optimizer.protocol.sale.SaleSize` of the run
      (what the book's liquidations seize, :mod:`optimizer.protocol.sale`):
      ``slippage_i = impact_i(q_i, sigma_i)`` (cap ``max_slippage``). The law holds no sale size of
      its own: the size is a property of the book and the scenarios, computed once per run.

    Attributes
    ----------
    sellable_usd, levels : tuple of ndarray, one per asset
        Each asset's depth curve: sizes (USD, increasing) and their slippage (increasing).
    sigma_ref : ndarray of shape (n_assets,)
        Daily volatility at each curve's measurement (> 0; 1 for a curve written per unit
        volatility, as :func:`sqrt_law_curve`).
    liquidity_multiplier : float
        Multiplies every curve's sizes (< 1: a liquidity crunch), > 0.
    max_slippage : float
        Cap of the liquidation slippage.
    exponent : float
        Power of each curve beyond its points (:func:`curve_impact`).
    depth_scale : ndarray of shape (n_assets,) or None
        Per-asset multiplier of the sizes (one asset's liquidity replaced, e.g. by its
        through-the-cycle level); None is 1.
    """

    sellable_usd: tuple[FloatArray, ...]
    levels: tuple[FloatArray, ...]
    sigma_ref: FloatArray
    liquidity_multiplier: float = 1.0
    max_slippage: float = 0.5
    exponent: float = 0.5
    depth_scale: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.sellable_usd)
        if len(self.levels) != n or np.shape(self.sigma_ref) != (n,):
            raise ValueError("`sellable_usd`, `levels` and `sigma_ref` must hold one entry per asset")
        for xs, ys in zip(self.sellable_usd, self.levels, strict=True):
            check_curve(xs, ys)
        ref = np.asarray(self.sigma_ref, dtype=float)
        if np.any(~np.isfinite(ref)) or np.any(ref <= 0):
            raise ValueError(f"`sigma_ref` must be finite and > 0, got {ref}")
        if not (np.isfinite(self.liquidity_multiplier) and self.liquidity_multiplier > 0):
            raise ValueError(f"`liquidity_multiplier` must be finite and > 0, got {self.liquidity_multiplier}")
        if not self.max_slippage >= 0:
            raise ValueError(f"`max_slippage` must be >= 0, got {self.max_slippage}")
        if self.depth_scale is not None:
            d = np.asarray(self.depth_scale, dtype=float)
            if d.shape != (n,) or np.any(~np.isfinite(d)) or np.any(d <= 0):
                raise ValueError(f"`depth_scale` must be finite, > 0 and of shape ({n},), got {d}")

    @property
    def n_assets(self) -> int:
        return len(self.sellable_usd)

    def _size_scale(self) -> FloatArray:
        d = np.ones(self.n_assets) if self.depth_scale is None else np.asarray(self.depth_scale, float)
        return self.liquidity_multiplier * d

    @property
    def size_scale(self) -> FloatArray:
        """Each asset's multiplier of its curve's sizes, ``liquidity_multiplier x depth_scale``, shape (n_assets,)."""
        return self._size_scale()

    def impact(self, i: int, q_usd: ArrayLike, sigma_daily: float, *, cap: float = MAX_IMPACT) -> FloatArray:
        """Discount of sales ``q_usd`` (USD, any shape) of asset ``i`` at daily volatility ``sigma_daily``."""
        if not (np.isfinite(sigma_daily) and sigma_daily >= 0):
            raise ValueError(f"`sigma_daily` must be finite and >= 0, got {sigma_daily}")
        q = np.asarray(q_usd, dtype=np.float64) / self._size_scale()[i]
        base = curve_impact(q, self.sellable_usd[i], self.levels[i], exponent=self.exponent, cap=np.inf)
        return np.minimum(base * (sigma_daily / float(self.sigma_ref[i])), cap)[()]

    def _sale_usd(self, sale: SaleSize) -> FloatArray:
        # typed on purpose: a bare array here was once the whole collateral (the old fixed share)
        if not isinstance(sale, SaleSize):
            raise TypeError(f"`sale` must be a SaleSize (optimizer.protocol.sale), got {type(sale).__name__}")
        if sale.n_assets != self.n_assets:
            raise ValueError(f"`sale` holds {sale.n_assets} assets, the law {self.n_assets}")
        return np.asarray(sale.usd, dtype=float)

    def slippage_per_sigma(self, sale: SaleSize) -> FloatArray:
        """Uncapped liquidation slippage per unit of daily volatility of the day's ``sale``, shape (n_assets,).

        ``slippage`` at volatility ``s`` is ``min(s x slippage_per_sigma, max_slippage)``.
        """
        q = self._sale_usd(sale)
        return np.array([float(self.impact(i, q[i], 1.0, cap=np.inf)) for i in range(self.n_assets)])

    def slippage(self, sale: SaleSize, sigma_daily: ArrayLike) -> FloatArray:
        """Liquidation slippage per asset, shape (n_assets,), of the day's ``sale`` at volatility ``sigma_daily``."""
        sig = np.broadcast_to(np.asarray(sigma_daily, dtype=float), (self.n_assets,))
        if np.any(~np.isfinite(sig)) or np.any(sig < 0):
            raise ValueError(f"`sigma_daily` must be finite and >= 0, got {sig}")
        return np.minimum(sig * self.slippage_per_sigma(sale), self.max_slippage)

    def depth_at(self, level: float, sigma_daily: ArrayLike) -> FloatArray:
        """USD sellable per asset at slippage ``level`` and volatility ``sigma_daily``, shape (n_assets,).

        The inverse of :meth:`impact` (below the cap): the curve read at ``level x sigma_ref / sigma``.
        """
        if not 0 < level < 1:
            raise ValueError(f"`level` must lie in (0, 1), got {level}")
        sig = np.broadcast_to(np.asarray(sigma_daily, dtype=float), (self.n_assets,))
        out = np.empty(self.n_assets)
        for i in range(self.n_assets):
            if sig[i] <= 0:
                out[i] = np.inf
                continue
            target = np.log(level * float(self.sigma_ref[i]) / sig[i])
            lx, ly = np.log(self.sellable_usd[i]), np.log(self.levels[i])
            if target < ly[0]:
                lq = lx[0] + (target - ly[0]) / self.exponent
            elif target > ly[-1]:
                lq = lx[-1] + (target - ly[-1]) / self.exponent
            else:
                lq = np.interp(target, ly, lx)
            out[i] = np.exp(lq) * self._size_scale()[i]
        return out

    def scaled(self, depth_scale: ArrayLike) -> DepthSlippage:
        """The same law with every asset's sizes multiplied by ``depth_scale`` (shape (n_assets,))."""
        d = np.broadcast_to(np.asarray(depth_scale, dtype=float), (self.n_assets,)).copy()
        if self.depth_scale is not None:
            d = d * np.asarray(self.depth_scale, float)
        return replace(self, depth_scale=d)

    def kernel_tables(self, sigma_daily: ArrayLike, *, n_grid: int = 256) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The law on a log-size grid for the market simulation's kernel.

        Returns ``log_q`` (n_grid,), the log discount of a sale ``-log(1 - impact(q))`` and the
        permanent log impact of cumulative sales ``Q``, ``d(Q alpha(Q)) / dQ`` (the marginal
        discount, whose average over ``0 .. q`` is the sale's own discount), both of shape
        (n_assets, n_grid), over ``q`` from 1 USD to 1e13 USD.
        """
        sig = np.broadcast_to(np.asarray(sigma_daily, dtype=float), (self.n_assets,))
        log_q = np.linspace(0.0, np.log(1e13), n_grid)
        q = np.exp(log_q)
        alpha = np.empty((self.n_assets, n_grid))
        for i in range(self.n_assets):
            alpha[i] = -np.log1p(-self.impact(i, q, float(sig[i])))
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.gradient(np.log(np.maximum(alpha, 1e-300)), log_q, axis=1)
        perm = alpha * (1.0 + np.clip(np.nan_to_num(slope), 0.0, None))
        return log_q, alpha, np.minimum(perm, -np.log1p(-MAX_IMPACT))


def depth_curve_impact(
    q_usd: ArrayLike,
    depth_usd_at_2pct: ArrayLike,
    *,
    pct: float = 0.02,
) -> FloatArray:
    """Impact of selling ``q_usd`` into a linear book: ``impact = pct * q / depth``, capped at ``MAX_IMPACT``.

    ``depth_usd_at_2pct`` is the sale that costs ``pct`` (2 %). A measured curve of several
    points is :func:`curve_impact`.

    Parameters
    ----------
    q_usd : array_like
        Amount sold, USD (>= 0).
    depth_usd_at_2pct : array_like
        Trade size with ``pct`` impact (broadcast against ``q_usd``); > 0.
    pct : float, default 0.02
        Impact at ``depth_usd_at_2pct``.

    Returns
    -------
    ndarray of the shape of ``q_usd`` (broadcast with the depth).
    """
    q = np.asarray(q_usd, dtype=np.float64)
    if np.any(~np.isfinite(q)) or np.any(q < 0):
        raise ValueError("`q_usd` must be finite and >= 0")
    depth = np.asarray(depth_usd_at_2pct, dtype=np.float64)
    if np.any(~np.isfinite(depth)) or np.any(depth <= 0):
        raise ValueError("`depth_usd_at_2pct` must be finite and > 0")
    if not 0 < pct < 1:
        raise ValueError(f"`pct` must lie in (0, 1), got {pct}")
    return np.minimum(pct * q / depth, MAX_IMPACT)[()]


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
    if not 0 <= share <= 1:
        raise ValueError(f"`share` must lie in [0, 1], got {share}")
    if not liquidity_multiplier > 0:
        raise ValueError(f"`liquidity_multiplier` must be > 0, got {liquidity_multiplier}")
    seized, _ = tail_seized(book, relatives, params, tail=tail, max_tail_scenarios=max_tail_scenarios,
                            debt_scale=debt_scale)
    n = book.n_assets
    adv = np.broadcast_to(np.asarray(adv_usd, dtype=np.float64), (n,))
    sig = np.broadcast_to(np.asarray(sigma_daily, dtype=np.float64), (n,))
    return sqrt_impact(share * seized, adv * liquidity_multiplier, sig, coef=coef)
