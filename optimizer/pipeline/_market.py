"""Market inputs the optimizer needs, derived from the book, the scenarios and liquidity data.

Pure functions: each takes arrays / frozen objects and returns arrays.
"""

from __future__ import annotations

import numpy as np

from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray


def debt_basket_weights(book: Book) -> FloatArray:
    """For each collateral asset, the composition of the debt it backs, shape (n_assets, n_assets).

    Row i gives the USD-weighted debt mix of the accounts holding collateral i, each account
    weighted by its collateral in i. Borrowing ETH against stETH therefore moves with ETH.
    Assets backing no debt get the book's overall debt mix (or, for an empty book, debt in the
    numeraire, represented by an all-zero row).
    """
    coll = book.collateral_matrix().tocsc()
    debt = book.debt_matrix()
    debt_tot = np.asarray(debt.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(debt_tot[:, None] > 0, debt.toarray() / debt_tot[:, None], 0.0)
    # (n_assets x n_accounts) @ (n_accounts x n_assets): debt mix weighted by collateral held
    w = np.asarray((coll.T @ share))
    row = w.sum(axis=1, keepdims=True)
    overall = book.debt_by_asset / book.total_debt if book.total_debt > 0 else np.zeros(book.n_assets)
    return np.where(row > 0, w / np.where(row > 0, row, 1.0), overall[None, :])


def debt_basket_relatives(terminal: FloatArray, weights: FloatArray) -> FloatArray:
    """Price relative of each collateral asset's debt basket per scenario, shape (n_s, n_assets).

    Rows of ``weights`` that sum to less than one hold the rest in the numeraire (relative 1).
    """
    rest = 1.0 - weights.sum(axis=1)
    return terminal @ weights.T + rest[None, :]


def exposure_at_threshold(book: Book) -> FloatArray:
    """Collateral of borrowing accounts per asset, USD: what sits at the threshold in the worst case."""
    borrowing = book.account_debt > 0
    coll = book.collateral_matrix()
    return np.asarray(coll[borrowing].sum(axis=0)).ravel()


def static_slippage(
    collateral_usd: FloatArray,
    adv_usd: FloatArray,
    sigma_daily: FloatArray,
    *,
    liquidation_share: float,
    reachable_volume_share: float,
    liquidity_multiplier: float,
    impact_coef: float,
    max_slippage: float,
) -> FloatArray:
    """Per-asset slippage of selling ``liquidation_share`` of the collateral (square-root law).

    ``impact = coef * sigma_daily * sqrt(q / V)`` with q the USD sold and V the volume liquidators
    can reach in a day (reported volume x reachable share x multiplier), capped at ``max_slippage``.
    """
    q = liquidation_share * np.asarray(collateral_usd, dtype=float)
    v = np.asarray(adv_usd, dtype=float) * reachable_volume_share * liquidity_multiplier
    s = impact_coef * np.asarray(sigma_daily, dtype=float) * np.sqrt(np.divide(q, v, out=np.zeros_like(q), where=v > 0))
    return np.minimum(s, max_slippage)


def recovery_matrix(
    terminal: FloatArray,
    basket_rel: FloatArray,
    bonus: FloatArray,
    slippage: FloatArray,
) -> FloatArray:
    """k[s, i]: USD recovered by liquidating collateral i per USD of (t0) debt-equivalent.

    ``k = (r_collateral / r_debt_basket) * (1 - slippage) / (1 + bonus)``; an account at the
    threshold (debt = LT x collateral) leaves bad debt ``max(LT - k, 0)`` per USD of collateral.
    """
    return (terminal / basket_rel) * ((1.0 - slippage) / (1.0 + bonus))[None, :]


def capital_efficiency(collateral_usd: FloatArray, params: RiskParams) -> float:
    """USD borrowing power of the book's collateral: sum of collateral x LTV."""
    return float(np.dot(collateral_usd, params.ltv))


def comonotone_stress(k: FloatArray, blend: float) -> tuple[FloatArray, FloatArray | None]:
    """Correlation stress that keeps every asset's own distribution exactly.

    The stressed scenario set is the mixture ``(1 - blend) x original + blend x comonotone``, where
    the comonotone part pairs each asset's j-th worst recovery with every other asset's j-th worst
    (all positions crash together). Each asset's marginal is unchanged, so its own guard is too,
    while the aggregate loss grows in convex order with ``blend``: its CVaR never falls as the
    blend rises. Returns the stacked recoveries (2N, n_assets) and their probability weights.
    """
    if blend <= 0:
        return k, None
    n = k.shape[0]
    stacked = np.vstack([k, np.sort(k, axis=0)])
    weights = np.concatenate([np.full(n, (1.0 - blend) / n), np.full(n, blend / n)])
    return stacked, weights


def tail_shares(losses: FloatArray, by_asset: FloatArray, alpha: float, assets: tuple[str, ...]) -> dict[str, float]:
    """Share of tail (>= VaR_alpha) bad debt attributed to each collateral asset (zeros if none)."""
    from optimizer.optimize.measures import var

    tail = losses >= var(losses, alpha)
    tot = by_asset[tail].sum(axis=0)
    s = tot.sum()
    return {a: (float(tot[i] / s) if s > 0 else 0.0) for i, a in enumerate(assets)}
