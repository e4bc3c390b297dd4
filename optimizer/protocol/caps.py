"""Supply and borrow caps from liquidity: how much of an asset the market can absorb when it is liquidated.

The rule (RiskDAO's liquidation-to-depth idea, in the run's own sale model):

* **liquidated share** ``phi_i``: in every scenario of the stress library, the collateral of asset
  ``i`` that liquidators seize from the book under the given (recommended) parameters
  (:func:`optimizer.protocol.sale.seized_collateral`, USD at post-shock prices) per USD of the
  book's collateral of ``i`` (USD now). The *worst scenario for the asset* is the one with the
  largest share; ``phi_i`` is that share, floored at ``min_liquidated_share`` (a library in which
  nothing of an asset is liquidated says nothing about a larger or more levered book);
* **depth at the bonus** ``D_i``: the USD of ``i`` sellable within one day at a slippage equal to
  the asset's liquidation bonus ``b_i``, on its depth curve at the run's daily volatility
  (:meth:`optimizer.protocol.liquidity.DepthSlippage.depth_at`): a liquidation whose sale costs
  more than the bonus is not worth doing, and the debt stays uncovered. It is at most
  ``max_daily_sale_usd`` (the volume liquidators can reach in a day, scaled with the law's
  ``liquidity_multiplier`` and ``depth_scale`` like the curve): a curve scaled with a calm
  volatility, or continued far beyond its points, would otherwise promise more than a day's market
  (a stablecoin's square-root law at 0.02 % daily volatility sells trillions at 4.5 %);
* **supply cap** ``S_i = H x D_i / phi_i``: the largest supply whose stressed liquidation
  ``phi_i x S`` is sold over the liquidation horizon of ``H`` days (an even ``phi_i S / H`` a day,
  the curve recovering each day) at a daily slippage of at most ``b_i``. The share is taken as
  scale-free: a larger supply is held by a book like this one;
* **borrow cap** ``B_i = S_i x u_i`` with the utilisation ``u_i = min(1 - h, 1 - phi_i)``: the
  supply left unborrowed is at least the headroom ``h`` (``[caps] utilisation_headroom``) and at
  least what the worst stress liquidates, so liquidators can withdraw the collateral they seize.

Every cap is positive and finite (a zero cap means "no cap" to Aave). Pure functions; the inputs
are arrays (the stress library's terminal relatives), so this layer imports no scenario code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.liquidity import DepthSlippage
from optimizer.protocol.params import RiskParams
from optimizer.protocol.sale import seized_collateral
from optimizer.typing import FloatArray

__all__ = [
    "BORROW_BINDS",
    "DEPTH_BINDS",
    "SUPPLY_BINDS",
    "CapsInTokens",
    "LiquidityCaps",
    "borrow_caps",
    "cap_tokens",
    "liquidity_caps",
    "stressed_liquidated_share",
    "supply_caps",
]

#: What sets a supply cap: the worst stress scenario's liquidated share, or the floor on it.
SUPPLY_BINDS = ("stress scenario", "liquidated-share floor")
#: What sets the daily depth: the curve at the bonus, or the reachable daily volume.
DEPTH_BINDS = ("depth curve at the bonus", "reachable daily volume")
#: What sets a borrow cap's utilisation: the headroom, or the withdrawal of the stressed liquidation.
BORROW_BINDS = ("utilisation headroom", "stressed liquidation withdrawal")


def stressed_liquidated_share(
    book: Book,
    terminal: ArrayLike,
    params: RiskParams,
    *,
    debt_scale: ArrayLike | None = None,
) -> FloatArray:
    """Share of each asset's collateral liquidated in each scenario.

    ``seized_collateral(book, terminal, params)`` (USD at post-shock prices) divided by the book's
    collateral of the asset (USD now): the USD a liquidation sells per USD supplied. 0 where the
    book holds none of the asset.

    Parameters
    ----------
    book : Book
    terminal : array_like of shape (n_scenarios, n_assets)
        Price relatives at the horizon (the stress library's ``terminal``).
    params : RiskParams
        The parameters whose LT and bonus decide the liquidations.
    debt_scale : array_like of shape (n_accounts,), optional
        Debt multiplier per account (borrowers re-levered to ``params``).

    Returns
    -------
    ndarray of shape (n_scenarios, n_assets), values >= 0.
    """
    rel = np.atleast_2d(np.asarray(terminal, dtype=np.float64))
    if rel.shape[0] == 0:
        return np.zeros((0, book.n_assets))
    seized = seized_collateral(book, rel, params, debt_scale=debt_scale)
    coll = np.asarray(book.collateral_by_asset, dtype=float)
    out = np.zeros_like(seized)
    np.divide(seized, coll[None, :], out=out, where=coll[None, :] > 0)
    return out


def supply_caps(
    liquidated_share: ArrayLike,
    depth_at_bonus_usd: ArrayLike,
    *,
    horizon_days: float,
    min_liquidated_share: float,
) -> tuple[FloatArray, FloatArray]:
    """Supply cap per asset, ``horizon_days x depth_at_bonus_usd / max(liquidated_share, floor)``.

    Parameters
    ----------
    liquidated_share : array_like of shape (n_assets,)
        The worst scenario's liquidated share per asset (>= 0).
    depth_at_bonus_usd : array_like of shape (n_assets,)
        USD sellable in a day at a slippage of the asset's bonus (> 0, finite).
    horizon_days : float
        Days over which the liquidation is sold (> 0).
    min_liquidated_share : float
        Floor of the share, in (0, 1].

    Returns
    -------
    cap_usd : ndarray of shape (n_assets,)
        Positive and finite.
    share_used : ndarray of shape (n_assets,)
        The share the cap was computed with (the floor where it binds).

    Examples
    --------
    $10M sellable a day at the bonus, 2 days, 25 % of the supply liquidated: $80M.

    >>> cap, used = supply_caps([0.25], [1e7], horizon_days=2, min_liquidated_share=0.05)
    >>> float(cap[0]), float(used[0])
    (80000000.0, 0.25)
    """
    phi = np.asarray(liquidated_share, dtype=float)
    depth = np.asarray(depth_at_bonus_usd, dtype=float)
    if phi.shape != depth.shape or phi.ndim != 1:
        raise ValueError(f"`liquidated_share` and `depth_at_bonus_usd` must be 1-D of one shape, got {phi.shape} "
                         f"and {depth.shape}")
    if np.any(~np.isfinite(phi)) or np.any(phi < 0):
        raise ValueError(f"`liquidated_share` must be finite and >= 0, got {phi}")
    if np.any(~np.isfinite(depth)) or np.any(depth <= 0):
        raise ValueError(f"`depth_at_bonus_usd` must be finite and > 0, got {depth}")
    if not (np.isfinite(horizon_days) and horizon_days > 0):
        raise ValueError(f"`horizon_days` must be finite and > 0, got {horizon_days}")
    if not 0 < min_liquidated_share <= 1:
        raise ValueError(f"`min_liquidated_share` must lie in (0, 1], got {min_liquidated_share}")
    used = np.maximum(phi, min_liquidated_share)
    return horizon_days * depth / used, used


def borrow_caps(supply_cap_usd: ArrayLike, share_used: ArrayLike, *,
                utilisation_headroom: float) -> tuple[FloatArray, FloatArray]:
    """Borrow cap per asset, ``supply_cap x min(1 - utilisation_headroom, 1 - share_used)``.

    Returns ``(cap_usd, utilisation)``, both of shape (n_assets,); the utilisation is in (0, 1)
    since ``share_used > 0`` and ``utilisation_headroom`` lies in (0, 1).
    """
    s = np.asarray(supply_cap_usd, dtype=float)
    phi = np.asarray(share_used, dtype=float)
    if not 0 < utilisation_headroom < 1:
        raise ValueError(f"`utilisation_headroom` must lie in (0, 1), got {utilisation_headroom}")
    if np.any(~(phi > 0)) or np.any(phi > 1):
        raise ValueError(f"`share_used` must lie in (0, 1], got {phi}")
    # a whole-supply liquidation (phi = 1) would leave nothing to borrow: keep a sliver, never zero
    u = np.maximum(np.minimum(1.0 - utilisation_headroom, 1.0 - phi), 1e-6)
    return s * u, u


@dataclass(frozen=True, eq=False)
class LiquidityCaps:
    """Per-asset supply and borrow caps and every input of their rule.

    Attributes
    ----------
    assets : tuple of str
    supply_cap_usd, borrow_cap_usd : ndarray of shape (n_assets,)
        The caps, USD at today's prices (> 0, finite).
    stressed_share : ndarray of shape (n_assets,)
        The largest liquidated share over the stress library (before the floor).
    share_used : ndarray of shape (n_assets,)
        ``max(stressed_share, min_liquidated_share)``.
    worst_scenario : tuple of str
        Name of the library scenario with the largest share per asset ("" when the library is empty).
    depth_at_bonus_usd : ndarray of shape (n_assets,)
        USD sellable in a day at a slippage of the bonus, at ``sigma_daily``, at most ``max_daily_sale_usd``
        (``D`` of the rule).
    curve_depth_usd : ndarray of shape (n_assets,)
        The curve's depth at the bonus before that bound.
    max_daily_sale_usd : ndarray of shape (n_assets,)
        The bound (inf: none).
    depth_binds : tuple of str
        Entries of :data:`DEPTH_BINDS`.
    bonus, sigma_daily : ndarray of shape (n_assets,)
    utilisation : ndarray of shape (n_assets,)
        ``borrow_cap / supply_cap``.
    supply_binds, borrow_binds : tuple of str
        Entries of :data:`SUPPLY_BINDS` and :data:`BORROW_BINDS`.
    horizon_days : float
    min_liquidated_share, utilisation_headroom : float
    n_scenarios : int
        Stress scenarios evaluated.
    """

    assets: tuple[str, ...]
    supply_cap_usd: FloatArray
    borrow_cap_usd: FloatArray
    stressed_share: FloatArray
    share_used: FloatArray
    worst_scenario: tuple[str, ...]
    depth_at_bonus_usd: FloatArray
    curve_depth_usd: FloatArray
    max_daily_sale_usd: FloatArray
    depth_binds: tuple[str, ...]
    bonus: FloatArray
    sigma_daily: FloatArray
    utilisation: FloatArray
    supply_binds: tuple[str, ...]
    borrow_binds: tuple[str, ...]
    horizon_days: float
    min_liquidated_share: float
    utilisation_headroom: float
    n_scenarios: int

    def __post_init__(self) -> None:
        for name in ("supply_cap_usd", "borrow_cap_usd"):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.shape != (len(self.assets),) or np.any(~np.isfinite(a)) or np.any(a <= 0):
                raise ValueError(f"`{name}` must be finite, > 0 and one per asset, got {a}")

    def summary(self) -> str:
        """One line per asset: the caps, the share, the depth and what binds."""
        lines = [f"LiquidityCaps: horizon {self.horizon_days:g} day(s), {self.n_scenarios} stress scenario(s), "
                 f"share floor {self.min_liquidated_share:g}, utilisation headroom {self.utilisation_headroom:g}"]
        for i, a in enumerate(self.assets):
            lines.append(f"  {a}: supply ${self.supply_cap_usd[i]:,.0f} ({self.supply_binds[i]}"
                         f"{': ' + self.worst_scenario[i] if self.worst_scenario[i] else ''}, share "
                         f"{self.share_used[i]:.2%}, depth at {self.bonus[i]:.2%} ${self.depth_at_bonus_usd[i]:,.0f}/day)"
                         f", borrow ${self.borrow_cap_usd[i]:,.0f} (u {self.utilisation[i]:.2%}, "
                         f"{self.borrow_binds[i]})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def liquidity_caps(
    book: Book,
    terminal: ArrayLike,
    params: RiskParams,
    law: DepthSlippage,
    sigma_daily: ArrayLike,
    *,
    horizon_days: float,
    min_liquidated_share: float = 0.05,
    utilisation_headroom: float = 0.1,
    max_daily_sale_usd: ArrayLike | None = None,
    names: tuple[str, ...] | None = None,
    debt_scale: ArrayLike | None = None,
) -> LiquidityCaps:
    """Supply and borrow caps of every asset by the rule of this module.

    Parameters
    ----------
    book : Book
    terminal : array_like of shape (n_stress, n_assets)
        The stress library's terminal relatives (may have no rows: every share is then the floor).
    params : RiskParams
        The recommended parameters: their LT and bonus decide the liquidations, their bonus is the
        slippage a sale may cost.
    law : DepthSlippage
        The run's depth curves.
    sigma_daily : array_like of shape (n_assets,)
        Daily volatility the curves are read at.
    horizon_days : float
        The liquidation horizon.
    min_liquidated_share : float, default 0.05
    utilisation_headroom : float, default 0.1
    max_daily_sale_usd : array_like of shape (n_assets,), optional
        Most USD of each asset sellable in a day whatever the curve says (> 0; default: no bound), at a
        size scale of 1 (multiplied by the law's ``size_scale``).
    names : tuple of str, optional
        The scenarios' names (default ``"#k"``).
    debt_scale : array_like of shape (n_accounts,), optional
        Borrowers re-levered to ``params``, as the run's evaluation assumes.

    Returns
    -------
    LiquidityCaps
    """
    n = book.n_assets
    if tuple(params.assets) != tuple(book.assets) or law.n_assets != n:
        raise ValueError("`params`, `law` and `book` must hold the same assets in the same order")
    rel = np.asarray(terminal, dtype=float).reshape(-1, n)
    names = tuple(names) if names is not None else tuple(f"#{k}" for k in range(rel.shape[0]))
    if len(names) != rel.shape[0]:
        raise ValueError(f"`names` holds {len(names)} names for {rel.shape[0]} scenarios")
    share = stressed_liquidated_share(book, rel, params, debt_scale=debt_scale)
    if rel.shape[0]:
        worst = np.argmax(share, axis=0)
        phi = share[worst, np.arange(n)]
        worst_names = tuple(names[k] if phi[i] > 0 else "" for i, k in enumerate(worst))
    else:
        phi, worst_names = np.zeros(n), ("",) * n
    bonus = np.asarray(params.liquidation_bonus, dtype=float)
    if np.any(~(bonus > 0)) or np.any(bonus >= 1):
        bad = [a for a, b in zip(book.assets, bonus, strict=True) if not 0 < b < 1]
        raise ValueError(f"every liquidation bonus must lie in (0, 1) to read a depth at it; got {bad[0]}: "
                         f"{bonus[list(book.assets).index(bad[0])]}")
    sig = np.broadcast_to(np.asarray(sigma_daily, dtype=float), (n,))
    # each asset's curve read at its own bonus (depth_at takes one level for all assets)
    curve = np.array([float(law.depth_at(float(bonus[i]), sig)[i]) for i in range(n)])
    bound = np.full(n, np.inf) if max_daily_sale_usd is None else np.broadcast_to(
        np.asarray(max_daily_sale_usd, dtype=float), (n,)).copy()
    if np.any(np.isnan(bound)) or np.any(bound <= 0):
        raise ValueError(f"`max_daily_sale_usd` must be > 0, got {bound}")
    # the volume is liquidity too: a crunch (liquidity_multiplier, depth_scale) thins it as it thins the curve
    bound = bound * law.size_scale
    depth = np.minimum(curve, bound)
    supply, used = supply_caps(phi, depth, horizon_days=horizon_days, min_liquidated_share=min_liquidated_share)
    borrow, u = borrow_caps(supply, used, utilisation_headroom=utilisation_headroom)
    return LiquidityCaps(
        assets=tuple(book.assets), supply_cap_usd=supply, borrow_cap_usd=borrow, stressed_share=phi,
        share_used=used, worst_scenario=worst_names, depth_at_bonus_usd=depth, curve_depth_usd=curve,
        max_daily_sale_usd=bound, depth_binds=tuple(DEPTH_BINDS[int(bound[i] < curve[i])] for i in range(n)),
        bonus=bonus,
        sigma_daily=np.array(sig, dtype=float), utilisation=u,
        supply_binds=tuple(SUPPLY_BINDS[0] if phi[i] >= min_liquidated_share else SUPPLY_BINDS[1] for i in range(n)),
        borrow_binds=tuple(BORROW_BINDS[0] if 1.0 - utilisation_headroom <= 1.0 - used[i] else BORROW_BINDS[1]
                           for i in range(n)),
        horizon_days=float(horizon_days), min_liquidated_share=float(min_liquidated_share),
        utilisation_headroom=float(utilisation_headroom), n_scenarios=int(rel.shape[0]),
    )


def cap_tokens(usd: ArrayLike, price_usd: ArrayLike, *, digits: int = 3) -> FloatArray:
    """A cap in whole tokens: ``usd / price`` rounded down to ``digits`` significant digits, at least 1.

    Rounded down so the published cap is never looser than the rule's; never 0 (Aave reads a zero
    cap as "no cap").

    >>> cap_tokens([1234567.0, 0.4], [2.0, 1.0]).tolist()
    [617000.0, 1.0]
    """
    x = np.asarray(usd, dtype=float) / np.asarray(price_usd, dtype=float)
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"caps and prices must give finite, positive token amounts, got {x}")
    scale = 10.0 ** (np.floor(np.log10(x)) - (digits - 1))
    return np.maximum(np.floor(x / scale * (1 + 1e-12)) * scale, 1.0).round()


@dataclass(frozen=True, eq=False)
class CapsInTokens:
    """Caps per asset in tokens and the price that converts them to USD (the live caps, for example).

    Attributes
    ----------
    assets : tuple of str
    supply_tokens, borrow_tokens : ndarray of shape (n_assets,)
        NaN where the asset has no cap (not listed, or 0: Aave's "no cap").
    price_usd : ndarray of shape (n_assets,)
        Price of one token on ``price_date``.
    price_date : str
    source : str
        Where the caps come from (a file name).
    last_seen : tuple of str or None
        Per asset, the date the source last saw the caps.
    """

    assets: tuple[str, ...]
    supply_tokens: FloatArray
    borrow_tokens: FloatArray
    price_usd: FloatArray
    price_date: str
    source: str
    last_seen: tuple[str | None, ...]

    @property
    def supply_usd(self) -> FloatArray:
        """``supply_tokens x price_usd`` (NaN where no cap)."""
        return np.asarray(self.supply_tokens, float) * np.asarray(self.price_usd, float)

    @property
    def borrow_usd(self) -> FloatArray:
        """``borrow_tokens x price_usd`` (NaN where no cap)."""
        return np.asarray(self.borrow_tokens, float) * np.asarray(self.price_usd, float)
