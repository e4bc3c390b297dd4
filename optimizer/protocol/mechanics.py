"""Pure liquidation mechanics: health factor, re-levering, static bad debt, one-account liquidation.

Model
-----
A scenario ``s`` gives price relatives ``r[s, i] = P_i(t0 + H) / P_i(t0)`` for every asset ``i``.
Account ``a`` holds collateral ``c[a, i]`` and debt ``d[a, j]`` (USD at ``t0``).

Re-levering.
    When the parameters change from ``current`` to ``params``, borrowers are assumed to keep their
    health factor, so each account's debt scales by
    ``lev[a] = sum_i c[a, i] LT_new[i] / sum_i c[a, i] LT_cur[i]`` (:func:`relever_factor`).
    The worst case the optimizer uses puts every borrowing account at HF = 1 under ``params``
    (:func:`debt_at_threshold_factor`).

After the shock.
    ``C'[a] = sum_i c r``, ``C_LT[a] = sum_i c r LT_i``, ``D'[a] = lev[a] sum_j d r_j`` and
    ``HF' = C_LT / D'``. An account with ``HF' < 1`` is liquidated. Liquidators recover
    ``(1 - slip_i) / (1 + bonus_i)`` of debt per USD (oracle value) of collateral, so the account
    leaves ``bad[a] = max(D' - sum_i c r (1 - slip_i) / (1 + bonus_i), 0)`` of bad debt; a healthy
    account leaves none. The static model lets the liquidation run to completion (every unit of
    collateral can be seized at the same rate), so it is an upper bound of the call-by-call outcome
    of :func:`liquidate_single`, which it equals whenever the collateral runs out.

Slippage.
    ``slip_i`` is the discount of the price at which seized collateral can actually be sold to its
    oracle price. The liquidator must be paid its bonus at that realisable price: repaying ``x``
    hands it ``x (1 + bonus) / (1 - slip)`` of collateral at oracle value. With ``slip = 0`` this is
    Aave's rule (collateral worth ``x (1 + bonus)``).

Numerical convention.
    An account is liquidated when ``C_LT < D' * (1 - HF_TOL)`` (``HF_TOL = 1e-6``), not at the
    exact threshold: the worst-case book places every account at exactly HF = 1, where rounding
    alone (different summation orders, float32 kernels) would otherwise decide. With slippage or
    ``LT x (1 + bonus) > 1`` that decision moves bad debt discontinuously.

Everything here is vectorised numpy without I/O or state; :mod:`optimizer.protocol.kernels` holds
the fast numba equivalent of :func:`bad_debt_static_numpy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray

#: Relative tolerance of the liquidation test: liquidated when ``HF' < 1 - HF_TOL``.
HF_TOL = 1e-6
#: ``1 - HF_TOL`` rounded to float32, so float32 and float64 code test the same threshold.
LIQUIDATION_HF = float(np.float32(1.0 - HF_TOL))

#: Target size of one dense (scenario x 3 accounts) block in the numpy baseline, in elements.
_DENSE_BLOCK = 1 << 20

__all__ = [
    "HF_TOL",
    "LIQUIDATION_HF",
    "LiquidationOutcome",
    "bad_debt_static_numpy",
    "check_inputs",
    "debt_at_threshold_factor",
    "debt_basket_relatives",
    "debt_basket_weights",
    "exposure_at_threshold",
    "health_factor",
    "liquidate_single",
    "recovery_factor",
    "relever_factor",
]


# --------------------------------------------------------------------------------------------
# elementary functions
# --------------------------------------------------------------------------------------------
def health_factor(collateral: ArrayLike, debt: ArrayLike, lt: ArrayLike) -> FloatArray:
    """Health factor ``sum_i collateral_i LT_i / debt``.

    Parameters
    ----------
    collateral : array_like of shape (..., n_assets)
        Collateral value per asset, USD.
    debt : array_like broadcastable to ``collateral.shape[:-1]``
        Total debt value, USD.
    lt : array_like of shape (n_assets,)
        Liquidation thresholds.

    Returns
    -------
    ndarray of shape broadcast(collateral.shape[:-1], debt.shape)
        ``inf`` where the debt is 0.
    """
    c = np.asarray(collateral, dtype=np.float64)
    d = np.asarray(debt, dtype=np.float64)
    weighted = c @ np.asarray(lt, dtype=np.float64)
    weighted, d = np.broadcast_arrays(weighted, d)
    out = np.full(weighted.shape, np.inf)
    np.divide(weighted, d, out=out, where=d > 0)
    return out


def recovery_factor(bonus: ArrayLike, slippage: ArrayLike = 0.0) -> FloatArray:
    """Debt repaid per USD (oracle value) of seized collateral: ``(1 - slippage) / (1 + bonus)``.

    Parameters
    ----------
    bonus : array_like
        Liquidation bonus (0.05 = 5 %), >= 0.
    slippage : array_like, broadcastable to ``bonus``
        Sale discount of the seized collateral, in [0, 1).
    """
    b = np.asarray(bonus, dtype=np.float64)
    s = np.asarray(slippage, dtype=np.float64)
    if np.any(~np.isfinite(b)) or np.any(b < 0):
        raise ValueError(f"`bonus` must be finite and >= 0, got {b}")
    if np.any(~np.isfinite(s)) or np.any(s < 0) or np.any(s >= 1):
        raise ValueError(f"`slippage` must lie in [0, 1), got {s}")
    return (1.0 - s) / (1.0 + b)


def _check_same_assets(book: Book, params: RiskParams, name: str = "params") -> None:
    if tuple(params.assets) != tuple(book.assets):
        raise ValueError(
            f"`{name}.assets` must equal `book.assets` (same order); "
            f"got {params.assets} and {book.assets}"
        )


def _account_sum(indptr: np.ndarray, values: FloatArray) -> FloatArray:
    counts = np.diff(indptr)
    out = np.add.reduceat(np.append(values, 0.0), indptr[:-1])
    out[counts == 0] = 0.0
    return out


def relever_factor(book: Book, current: RiskParams, params: RiskParams) -> FloatArray:
    """Debt multiplier per account when borrowers keep their health factor under new parameters.

    ``lev[a] = sum_i c[a, i] LT_new[i] / sum_i c[a, i] LT_cur[i]``; accounts whose LT-weighted
    collateral under ``current`` is 0 (no collateral, or only LT = 0 collateral) keep their debt
    (factor 1).

    Parameters
    ----------
    book : Book
    current, params : RiskParams
        Parameters in force and proposed; both over ``book.assets``.

    Returns
    -------
    ndarray of shape (n_accounts,)
    """
    _check_same_assets(book, current, "current")
    _check_same_assets(book, params)
    new = _account_sum(
        book.coll_indptr, book.coll_usd * params.liquidation_threshold[book.coll_asset]
    )
    cur = _account_sum(
        book.coll_indptr, book.coll_usd * current.liquidation_threshold[book.coll_asset]
    )
    out = np.ones(book.n_accounts)
    np.divide(new, cur, out=out, where=cur > 0)
    return out


def debt_at_threshold_factor(book: Book, params: RiskParams) -> FloatArray:
    """Debt multiplier that puts every borrowing account at HF = 1 under ``params``.

    ``factor[a] = sum_i c[a, i] LT_i / sum_j d[a, j]``; accounts without debt get 1 (scaling
    nothing changes nothing); a borrowing account without LT-weighted collateral gets 0 (under
    ``params`` it could not borrow at all).

    Returns
    -------
    ndarray of shape (n_accounts,)
    """
    _check_same_assets(book, params)
    lt_coll = _account_sum(
        book.coll_indptr, book.coll_usd * params.liquidation_threshold[book.coll_asset]
    )
    debt = _account_sum(book.debt_indptr, book.debt_usd)
    out = np.ones(book.n_accounts)
    np.divide(lt_coll, debt, out=out, where=debt > 0)
    return out


# --------------------------------------------------------------------------------------------
# argument checks shared with the kernels
# --------------------------------------------------------------------------------------------
def check_inputs(
    book: Book,
    relatives: ArrayLike,
    params: RiskParams,
    slippage: ArrayLike | None,
    debt_scale: ArrayLike | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and normalise the inputs of a static bad-debt evaluation.

    Returns
    -------
    relatives : ndarray of shape (n_scenarios, n_assets)
    slippage : ndarray of shape (n_assets,)
    debt_scale : ndarray of shape (n_accounts,)
    """
    _check_same_assets(book, params)
    n = book.n_assets
    rel = np.asarray(relatives)
    if rel.ndim != 2 or rel.shape[1] != n:
        raise ValueError(f"`relatives` must have shape (n_scenarios, {n}), got {rel.shape}")
    if not np.all(np.isfinite(rel)) or np.any(rel < 0):
        raise ValueError("`relatives` must be finite and >= 0 (price relatives, not returns)")
    slip = (
        np.zeros(n)
        if slippage is None
        else np.broadcast_to(np.asarray(slippage, float), (n,)).copy()
    )
    if np.any(~np.isfinite(slip)) or np.any(slip < 0) or np.any(slip >= 1):
        raise ValueError(f"`slippage` must lie in [0, 1), got {slip}")
    if debt_scale is None:
        scale = np.ones(book.n_accounts)
    else:
        scale = np.broadcast_to(np.asarray(debt_scale, float), (book.n_accounts,)).copy()
        if np.any(~np.isfinite(scale)) or np.any(scale < 0):
            raise ValueError("`debt_scale` must be finite and >= 0")
    return rel, slip, scale


# --------------------------------------------------------------------------------------------
# static bad debt: the plain numpy baseline
# --------------------------------------------------------------------------------------------
def bad_debt_static_numpy(
    book: Book,
    relatives: ArrayLike,
    params: RiskParams,
    *,
    slippage: ArrayLike | float = 0.0,
    debt_scale: ArrayLike | None = None,
    chunk: int | None = None,
) -> FloatArray:
    """Aggregate static bad debt per scenario, chunked dense numpy (the reference implementation).

    Each chunk forms the dense (chunk x n_accounts) matrices of LT-weighted collateral, debt and
    recoverable collateral with one matrix product of the chunk's price relatives and the stacked
    dense (n_assets x 3 n_accounts) position matrix, then masks, takes ``max`` and sums over
    accounts (in place). Only borrowing accounts enter.

    Parameters
    ----------
    book : Book
    relatives : array_like of shape (n_scenarios, n_assets)
        Price relatives at the horizon, columns in ``book.assets`` order.
    params : RiskParams
        Parameters whose LT and bonus apply (over ``book.assets``).
    slippage : float or array_like of shape (n_assets,), default 0
        Sale discount of seized collateral per asset, in [0, 1).
    debt_scale : float or array_like of shape (n_accounts,), optional
        Debt multiplier per account, e.g. :func:`relever_factor` or
        :func:`debt_at_threshold_factor`.
    chunk : int, optional
        Scenarios per dense block; default keeps a block near 1 M elements.

    Returns
    -------
    ndarray of shape (n_scenarios,)
        Bad debt in USD.
    """
    rel, slip, scale = check_inputs(book, relatives, params, slippage, debt_scale)
    n_s = rel.shape[0]
    lt = params.liquidation_threshold
    rec = recovery_factor(params.liquidation_bonus, slip)
    coll = book.collateral_matrix().toarray()
    debt = book.debt_matrix().toarray() * scale[:, None]
    borrowing = debt.sum(axis=1) > 0
    coll, debt = coll[borrowing], debt[borrowing]
    n = len(coll)
    if chunk is None:
        chunk = max(1, _DENSE_BLOCK // max(3 * n, 1))
    if chunk < 1:
        raise ValueError(f"`chunk` must be >= 1, got {chunk}")
    # one (n_assets, 3 n) matrix: LT-weighted collateral / (1 - HF_TOL) | debt | recoverable
    stacked = np.ascontiguousarray(
        np.hstack([(coll * (lt / LIQUIDATION_HF)).T, debt.T, (coll * rec).T])
    )
    out = np.zeros(n_s)
    rel = np.asarray(rel, dtype=np.float64)
    for s0 in range(0, n_s, chunk):
        z = rel[s0 : s0 + chunk] @ stacked
        c_lt, d, shortfall = z[:, :n], z[:, n : 2 * n], z[:, 2 * n :]
        np.subtract(d, shortfall, out=shortfall)
        np.maximum(shortfall, 0.0, out=shortfall)
        shortfall *= c_lt < d  # liquidated: HF' < 1 - HF_TOL
        out[s0 : s0 + chunk] = shortfall.sum(axis=1)
    return out


# --------------------------------------------------------------------------------------------
# one account, call by call
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LiquidationOutcome:
    """Result of :func:`liquidate_single`; arrays share the broadcast shape of the inputs.

    ``repaid + debt + bad_debt`` equals the post-shock debt.

    Attributes
    ----------
    repaid : ndarray
        Debt repaid by liquidators, USD.
    seized : ndarray
        Collateral handed to liquidators, USD at the post-shock oracle price.
    collateral : ndarray
        Collateral left with the account, USD.
    debt : ndarray
        Debt still owed by the account (0 once written off as bad debt), USD.
    bad_debt : ndarray
        Debt left without collateral, USD.
    calls : ndarray of int
        Liquidation calls made.
    """

    repaid: FloatArray
    seized: FloatArray
    collateral: FloatArray
    debt: FloatArray
    bad_debt: FloatArray
    calls: np.ndarray

    def summary(self) -> str:
        """All fields on one line."""
        return (
            f"LiquidationOutcome(repaid={self.repaid}, seized={self.seized}, "
            f"collateral={self.collateral}, "
            f"debt={self.debt}, bad_debt={self.bad_debt}, calls={self.calls})"
        )

    def __repr__(self) -> str:
        return self.summary()


def liquidate_single(
    collateral_usd: ArrayLike,
    debt_usd: ArrayLike,
    price_relative: ArrayLike,
    lt: ArrayLike,
    bonus: ArrayLike,
    close_factor: float = 0.5,
    full_close_hf: float = 0.95,
    slippage: ArrayLike = 0.0,
    debt_relative: ArrayLike = 1.0,
    rounds: int = 64,
) -> LiquidationOutcome:
    """Aave-style liquidation of a one-collateral account after a price shock, call by call.

    After the shock the account holds ``C = collateral_usd * price_relative`` and owes
    ``D = debt_usd * debt_relative``. While ``HF = C LT / D`` is below 1 (see ``HF_TOL``), a
    liquidator repays up to ``close_factor * D`` (all of ``D`` when ``HF < full_close_hf``) and
    receives ``repaid (1 + bonus) / (1 - slippage)`` of collateral at oracle value. When the
    collateral does not cover that, all of it is seized, ``repaid = C (1 - slippage) / (1 + bonus)``
    and the remaining debt is bad debt. Each call is closed-form; calls repeat until the account
    is healthy, empty, or ``rounds`` calls were made. No dust rule is applied.

    Parameters
    ----------
    collateral_usd, debt_usd : array_like
        Collateral and debt at ``t0``, USD.
    price_relative : array_like
        Collateral price relative.
    lt, bonus : array_like
        Liquidation threshold and bonus of the collateral.
    close_factor : float, default 0.5
    full_close_hf : float, default 0.95
    slippage : array_like, default 0
        Sale discount of the seized collateral, in [0, 1).
    debt_relative : array_like, default 1
        Price relative of the debt (1 for a stablecoin).
    rounds : int, default 64
        Maximum number of liquidation calls.

    Returns
    -------
    LiquidationOutcome
    """
    if rounds < 1:
        raise ValueError(f"`rounds` must be >= 1, got {rounds}")
    if not 0 < close_factor <= 1:
        raise ValueError(f"`close_factor` must lie in (0, 1], got {close_factor}")
    arrays = np.broadcast_arrays(
        *(
            np.asarray(x, dtype=np.float64)
            for x in (collateral_usd, debt_usd, price_relative, lt, bonus, slippage, debt_relative)
        )
    )
    c0, d0, r, lt_, b, s, rd = (a.copy() for a in arrays)
    if any(np.any(~np.isfinite(a)) or np.any(a < 0) for a in (c0, d0, r, lt_, rd)):
        raise ValueError("amounts, relatives and `lt` must be finite and >= 0")
    rec = recovery_factor(b, s)  # validates bonus and slippage
    coll = c0 * r
    debt = d0 * rd
    repaid = np.zeros_like(coll)
    seized = np.zeros_like(coll)
    bad = np.zeros_like(coll)
    calls = np.zeros(coll.shape, dtype=np.int64)
    for _ in range(rounds):
        active = (debt > 0) & (coll * lt_ < debt * LIQUIDATION_HF)
        if not np.any(active):
            break
        hf = np.divide(coll * lt_, debt, out=np.zeros_like(coll), where=debt > 0)
        share = np.where(hf < full_close_hf, 1.0, close_factor)
        want = share * debt
        need = want / rec  # collateral (oracle USD) the liquidator must receive
        enough = need <= coll
        x = np.where(enough, want, coll * rec)
        y = np.where(enough, need, coll)
        x = np.where(active, x, 0.0)
        y = np.where(active, y, 0.0)
        repaid += x
        seized += y
        debt = debt - x
        coll = coll - y
        calls += active
        empty = active & ~enough
        bad += np.where(empty, debt, 0.0)
        debt = np.where(empty, 0.0, debt)
    return LiquidationOutcome(
        repaid=repaid[()],
        seized=seized[()],
        collateral=coll[()],
        debt=debt[()],
        bad_debt=bad[()],
        calls=calls[()],
    )


# --------------------------------------------------------------------------------------------
# what the threshold program sees of the book
# --------------------------------------------------------------------------------------------
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


def debt_basket_relatives(relatives: FloatArray, weights: FloatArray) -> FloatArray:
    """Price relative of each collateral asset's debt basket per scenario, shape (n_scenarios, n_assets).

    ``relatives`` are the assets' price relatives (n_scenarios, n_assets), ``weights`` the output
    of :func:`debt_basket_weights`. Rows of ``weights`` that sum to less than one hold the rest in
    the numeraire (relative 1).
    """
    rest = 1.0 - weights.sum(axis=1)
    return relatives @ weights.T + rest[None, :]


def exposure_at_threshold(book: Book) -> FloatArray:
    """Collateral of borrowing accounts per asset, USD, shape (n_assets,).

    What sits at the threshold in the worst case (every borrower at HF = 1).
    """
    borrowing = book.account_debt > 0
    coll = book.collateral_matrix()
    return np.asarray(coll[borrowing].sum(axis=0)).ravel()
