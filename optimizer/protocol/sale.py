"""The size of the liquidation day's sale: what the static slippage law prices. Pure functions.

The static model (the threshold program, the static evaluation, the stress library, cover-2, the
attribution and the static replays) prices one sale per asset with
:class:`optimizer.protocol.liquidity.DepthSlippage`. Its size comes from the mechanism:

* :func:`seized_collateral` - the collateral liquidators seize per scenario and asset, at zero
  slippage, from the accounts of a book that fall below HF 1 under given parameters;
* :func:`seized_sale` - the rule ``sale_size = "seized"``: for each asset ``i``, the scenarios in
  which ``i``'s price relative lies in its lower ``tail`` (the run's CVaR tail, ``1 - alpha``;
  joint scenarios, so the debt and the other assets move with it), at most
  ``max_tail_scenarios`` of them spread evenly by rank; the collateral of ``i`` seized in each,
  averaged, times ``share_sold`` (the part of it sold within the day);
* :func:`share_sale` - the old rule ``sale_size = "share"``: a fixed share of each asset's whole
  collateral, kept as an explicit option.

Both return a :class:`SaleSize`, the one typed value every consumer of the static law receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.mechanics import LIQUIDATION_HF
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray, IntArray

__all__ = ["MAX_TAIL_SCENARIOS", "SaleSize", "seized_collateral", "seized_sale", "share_sale", "tail_seized"]

#: Largest number of tail scenarios averaged per asset (spread evenly by rank over the tail).
MAX_TAIL_SCENARIOS = 100


@dataclass(frozen=True, eq=False)
class SaleSize:
    """USD of each asset sold on the liquidation day, and how it was found.

    Attributes
    ----------
    assets : tuple of str
    usd : ndarray of shape (n_assets,)
        Size of the day's sale per asset, USD (>= 0, never above ``collateral_usd``).
    collateral_usd : ndarray of shape (n_assets,)
        The book's collateral per asset, USD.
    rule : str
        ``"seized"`` (:func:`seized_sale`) or ``"share"`` (:func:`share_sale`).
    share : float
        ``"seized"``: share of the seized collateral sold within the day; ``"share"``: share of
        the whole collateral.
    tail : float or None
        Lower-tail probability defining each asset's scenarios (``"seized"`` only).
    n_tail_scenarios : ndarray of int, shape (n_assets,), or None
        Scenarios averaged per asset (``"seized"`` only).
    n_scenarios : int or None
        Scenarios of the run the tails are taken from (``"seized"`` only).
    seized_usd : ndarray of shape (n_assets,) or None
        Mean collateral seized over those scenarios, before ``share`` (``"seized"`` only).
    params_label : str
        Which parameters decided the liquidations (``"current"``, ``"recommended"``, ...).
    """

    assets: tuple[str, ...]
    usd: FloatArray
    collateral_usd: FloatArray
    rule: str
    share: float
    tail: float | None = None
    n_tail_scenarios: IntArray | None = None
    n_scenarios: int | None = None
    seized_usd: FloatArray | None = None
    params_label: str = ""

    def __post_init__(self) -> None:
        n = len(self.assets)
        for name in ("usd", "collateral_usd"):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.shape != (n,) or np.any(~np.isfinite(a)) or np.any(a < 0):
                raise ValueError(f"`{name}` must be finite, >= 0 and of shape ({n},), got {a}")
        if self.rule not in ("seized", "share"):
            raise ValueError(f"`rule` must be 'seized' or 'share', got {self.rule!r}")
        if not 0 <= self.share <= 1:
            raise ValueError(f"`share` must lie in [0, 1], got {self.share}")

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @cached_property
    def share_of_collateral(self) -> FloatArray:
        """``usd / collateral_usd`` per asset (0 where the asset has no collateral)."""
        c = np.asarray(self.collateral_usd, dtype=float)
        out = np.zeros(self.n_assets)
        np.divide(np.asarray(self.usd, dtype=float), c, out=out, where=c > 0)
        return out

    def with_label(self, params_label: str) -> SaleSize:
        """The same sizes with another ``params_label``."""
        from dataclasses import replace

        return replace(self, params_label=params_label)

    def summary(self) -> str:
        """One line per asset: the size, its share of the collateral, the rule."""
        head = (f"sale size ({self.rule}, share {self.share:g}"
                + (f", tail {self.tail:g}" if self.tail is not None else "")
                + (f", {self.params_label} parameters" if self.params_label else "") + ")")
        rows = [f"  {a}: ${self.usd[i]:,.0f} ({self.share_of_collateral[i]:.2%} of ${self.collateral_usd[i]:,.0f})"
                for i, a in enumerate(self.assets)]
        return "\n".join([head, *rows])

    def __str__(self) -> str:
        return self.summary()


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


def tail_seized(
    book: Book,
    relatives: ArrayLike,
    params: RiskParams,
    *,
    tail: float,
    max_tail_scenarios: int = MAX_TAIL_SCENARIOS,
    debt_scale: ArrayLike | None = None,
) -> tuple[FloatArray, IntArray]:
    """Mean collateral of each asset seized over that asset's lower-tail scenarios.

    For asset ``i``: the ``ceil(tail x n_scenarios)`` scenarios with the lowest relative of ``i``,
    of which at most ``max_tail_scenarios``, evenly spread by rank, are kept; in each the seized
    collateral of ``i`` (:func:`seized_collateral`, the whole joint scenario), averaged.

    Parameters
    ----------
    book : Book
    relatives : array_like of shape (n_scenarios, n_assets) or (n_assets,)
        Price relatives at the horizon; a single row is every asset's tail scenario.
    params : RiskParams
        The parameters whose LT and bonus decide the liquidations.
    tail : float
        Lower-tail probability, in (0, 1].
    max_tail_scenarios : int, default MAX_TAIL_SCENARIOS
    debt_scale : array_like of shape (n_accounts,), optional
        Debt multiplier per account (re-levering to ``params``, or worst case).

    Returns
    -------
    seized : ndarray of shape (n_assets,)
        USD, at post-shock prices.
    n_used : ndarray of int, shape (n_assets,)
        Scenarios averaged per asset.
    """
    n = book.n_assets
    rel = np.asarray(relatives, dtype=np.float64)
    if rel.ndim == 1:
        rel = rel[None, :]
    if rel.ndim != 2 or rel.shape[1] != n:
        raise ValueError(f"`relatives` must have shape (n_scenarios, {n}) or ({n},), got {rel.shape}")
    if not 0 < tail <= 1:
        raise ValueError(f"`tail` must lie in (0, 1], got {tail}")
    if max_tail_scenarios < 1:
        raise ValueError(f"`max_tail_scenarios` must be >= 1, got {max_tail_scenarios}")
    n_s = rel.shape[0]
    n_tail = max(1, int(np.ceil(tail * n_s - 1e-9)))
    picks = np.unique(np.linspace(0, n_tail - 1, min(n_tail, max_tail_scenarios)).round().astype(int))
    if n_tail < n_s:  # the n_tail lowest of each column, then sorted among themselves
        low = np.argpartition(rel, n_tail - 1, axis=0)[:n_tail]
    else:
        low = np.tile(np.arange(n_s)[:, None], (1, n))
    # stable order (ties by scenario index), so the picks do not depend on the partition's order
    low = np.sort(low, axis=0)
    order = np.take_along_axis(low, np.argsort(np.take_along_axis(rel, low, axis=0), axis=0, kind="stable"), axis=0)
    chosen = order[picks]  # (n_picks, n_assets) scenario indices per asset
    uniq, inverse = np.unique(chosen, return_inverse=True)
    seized = seized_collateral(book, rel[uniq], params, debt_scale=debt_scale)  # (n_uniq, n_assets)
    per_asset = seized[inverse.reshape(chosen.shape), np.arange(n)[None, :]]  # (n_picks, n_assets)
    return per_asset.mean(axis=0), np.full(n, len(picks), dtype=np.int64)


def seized_sale(
    book: Book,
    relatives: ArrayLike,
    params: RiskParams,
    *,
    tail: float,
    share_sold: float = 1.0,
    max_tail_scenarios: int = MAX_TAIL_SCENARIOS,
    debt_scale: ArrayLike | None = None,
    params_label: str = "",
) -> SaleSize:
    """The day's sale from the book's liquidations: ``share_sold x`` :func:`tail_seized`.

    The size is what the book's liquidations seize when the asset is in its tail, not a fixed
    share of the whole collateral: a market whose borrowers hold their collateral far from the
    threshold seizes little even in a crash. It is at zero slippage (no feedback of the discount on
    the seized amount) and bounded by the asset's collateral (a sale cannot exceed what exists).

    Parameters
    ----------
    book, relatives, params, tail, max_tail_scenarios, debt_scale
        As in :func:`tail_seized`.
    share_sold : float, default 1.0
        Share of the seized collateral sold within the day, in [0, 1] (1: liquidators sell what
        they seize on the day, the conservative assumption).
    params_label : str, optional
        Names the parameters in the report (e.g. ``"current"``).

    Returns
    -------
    SaleSize

    Examples
    --------
    One account, 100 of collateral at LT 0.8, debt 70, bonus 5 %: a 20 % fall makes HF 0.91 and
    the whole debt is repaid with 70 x 1.05 = 73.5 of collateral.

    >>> book = Book.from_dense(("usd", "x"), np.array([[0.0, 100.0]]), np.array([[70.0, 0.0]]))
    >>> p = RiskParams(assets=("usd", "x"), ltv=[0.0, 0.7], liquidation_threshold=[0.0, 0.8],
    ...                liquidation_bonus=[0.0, 0.05])
    >>> float(seized_sale(book, np.array([1.0, 0.8]), p, tail=1.0).usd[1])
    73.5
    """
    if not 0 <= share_sold <= 1:
        raise ValueError(f"`share_sold` must lie in [0, 1], got {share_sold}")
    seized, n_used = tail_seized(book, relatives, params, tail=tail, max_tail_scenarios=max_tail_scenarios,
                                 debt_scale=debt_scale)
    coll = np.asarray(book.collateral_by_asset, dtype=float)
    return SaleSize(assets=tuple(book.assets), usd=np.minimum(share_sold * seized, coll), collateral_usd=coll,
                    rule="seized", share=float(share_sold), tail=float(tail), n_tail_scenarios=n_used,
                    n_scenarios=int(np.atleast_2d(np.asarray(relatives)).shape[0]), seized_usd=seized, params_label=params_label)


def share_sale(book: Book, share: float) -> SaleSize:
    """The old rule: ``share`` of each asset's whole collateral sold on the day, whatever is liquidated."""
    if not 0 <= share <= 1:
        raise ValueError(f"`share` must lie in [0, 1], got {share}")
    coll = np.asarray(book.collateral_by_asset, dtype=float)
    return SaleSize(assets=tuple(book.assets), usd=share * coll, collateral_usd=coll, rule="share",
                    share=float(share))
