"""Fast static bad-debt evaluation (numba) and the per-asset isolated recovery of the optimizer.

The model is the one of :mod:`optimizer.protocol.mechanics` (see its docstring): after the shock an
account with ``HF' < 1`` leaves ``max(D' - sum_i c r (1 - slip_i) / (1 + bonus_i), 0)`` of bad debt.
:func:`bad_debt_static` computes it for every scenario without forming the dense
(scenario x account) matrix that :func:`~optimizer.protocol.mechanics.bad_debt_static_numpy`
builds chunk by chunk.

Layout of the kernels
---------------------
* Scenarios are cut into blocks of ``_BLOCK`` and the blocks are spread over threads (``prange``);
  a block owns its rows of every output, so there are no write races. The price relatives are
  stored transposed, ``(n_assets, n_scenarios)``, so a block of one asset is a contiguous run and
  every inner loop is SIMD over scenarios.
* Fast path (``_compact_kernel``): accounts with at most 4 collateral and 2 debt positions (almost
  all of them) are packed into fixed-width arrays (zero-padded) and sorted by number of collateral
  positions. For each account one fused loop over the block's scenarios computes LT-weighted
  collateral, recoverable collateral, debt and the shortfall in registers: nothing per account is
  written to memory except the running per-scenario totals.
* General path (``_csr_kernel``): any account, straight from the CSR rows, accumulating in short
  per-block vectors; it also attributes bad debt to assets (``by_asset=True``), so that option is
  slower (about half the speed).
* Arithmetic is in ``dtype`` (float32 by default; every constant is passed in that dtype so no
  float64 literal widens the loop). Per-scenario totals are accumulated in float64. The
  liquidation factor ``1 - HF_TOL`` is folded into the LT-weighted amounts on the host.
* Each kernel takes its accounts as one named tuple (:class:`CsrAccounts` or
  :class:`CompactAccounts`) and writes into :class:`Totals`; numba compiles and caches functions
  of typed NamedTuples of arrays.
* Offsets into the relatives are unsigned: numba then skips negative-index wraparound, which
  would otherwise turn every contiguous read into a gather (measured 4x slower).

float32 accuracy: every account's shortfall ``D' - recoverable`` is a difference of float32
sums, so its absolute error is about ``1e-7 x D'``; an account within about ``3e-7`` of the
liquidation threshold may be classified differently than in float64, which matters only when
slippage or ``LT (1 + bonus) > 1`` makes bad debt jump at the threshold. Use
``dtype=np.float64`` for exact agreement with the numpy baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.mechanics import (
    LIQUIDATION_HF,
    _account_sum,
    check_inputs,
    recovery_factor,
)
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray

#: Scenarios per block (one block is one unit of parallel work).
_BLOCK = 128

__all__ = ["BadDebtResult", "bad_debt_static", "isolated_recovery"]


@dataclass(frozen=True, eq=False)
class BadDebtResult:
    """Static bad debt per scenario.

    Attributes
    ----------
    total : ndarray of float64, shape (n_scenarios,)
        Aggregate bad debt, USD.
    by_asset : ndarray of float64, shape (n_scenarios, n_assets), or None
        Each account's bad debt attributed to its collateral assets pro rata to post-shock
        collateral value (to its debt assets when it has no collateral left); rows sum to
        ``total``. None unless requested.
    n_liquidated : ndarray of int64, shape (n_scenarios,)
        Accounts with ``HF' < 1``.
    assets : tuple of str
        Column labels of ``by_asset``.
    dtype : str
        Arithmetic dtype of the kernel.
    """

    total: FloatArray
    by_asset: FloatArray | None
    n_liquidated: np.ndarray
    assets: tuple[str, ...] = ()
    dtype: str = "float32"

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios."""
        return int(self.total.shape[0])

    @cached_property
    def tail_contribution(self) -> FloatArray | None:
        """Share of all bad debt (over every scenario) attributed to each asset, (n_assets,)."""
        if self.by_asset is None:
            return None
        col = self.by_asset.sum(axis=0)
        tot = col.sum()
        return col / tot if tot > 0 else np.zeros_like(col)

    def summary(self) -> str:
        """One-line description: mean, max and probability of bad debt."""
        t = self.total
        pos = float(np.mean(t > 0)) if t.size else 0.0
        return (
            f"BadDebtResult(n_scenarios={self.n_scenarios}, "
            f"mean={t.mean() if t.size else 0.0:.6g}, "
            f"max={t.max() if t.size else 0.0:.6g}, P(bad debt > 0)={pos:.4f}, dtype={self.dtype})"
        )

    def __repr__(self) -> str:
        return self.summary()

    def __str__(self) -> str:
        return self.summary()


class CsrAccounts(NamedTuple):
    """Accounts as CSR rows, for the general kernel; amounts in the kernel's dtype."""

    #: (n_acc + 1,) int64
    c_indptr: np.ndarray
    #: (nnz_c,) int32
    c_asset: np.ndarray
    #: (nnz_c,) collateral x LT / (1 - HF_TOL)
    c_lt: np.ndarray
    #: (nnz_c,) collateral x recovery
    c_rec: np.ndarray
    #: (nnz_c,) collateral
    c_usd: np.ndarray
    #: (n_acc + 1,) int64; every account has at least one debt row
    d_indptr: np.ndarray
    #: (nnz_d,) int32
    d_asset: np.ndarray
    #: (nnz_d,) debt x debt_scale
    d_usd: np.ndarray


class CompactAccounts(NamedTuple):
    """Accounts with at most 4 collateral and 2 debt positions, zero-padded to fixed width."""

    #: (n_acc,) int64: collateral positions (0..4), accounts sorted by it
    n_coll: np.ndarray
    #: (n_acc, 4) int32: collateral assets (padding repeats a valid asset)
    ca: np.ndarray
    #: (n_acc, 4) collateral x LT / (1 - HF_TOL) (padding 0)
    cl: np.ndarray
    #: (n_acc, 4) collateral x recovery (padding 0)
    cr: np.ndarray
    #: (n_acc, 2) int32: debt assets
    da: np.ndarray
    #: (n_acc, 2) debt x debt_scale (padding 0)
    dv: np.ndarray


class Totals(NamedTuple):
    """Output buffers of a kernel, one row per scenario, float64 and int64."""

    #: (n_s,) bad debt
    total: np.ndarray
    #: (n_s,) int64: accounts with ``HF' < 1``
    n_liq: np.ndarray
    #: (n_s, n_assets) bad debt by asset, or (0, n_assets): no attribution
    by_asset: np.ndarray


@numba.njit(cache=True, inline="always")
def _settle(c, r, d, zero):
    """Shortfall and liquidation flag of one account in one scenario (``c`` is / (1 - HF_TOL))."""
    liq = c < d
    short = d - r
    short = short if liq else zero
    short = short if short > zero else zero
    return short, liq


@numba.njit(parallel=True, cache=True, fastmath=False)
def _csr_kernel(rel_t, n_s, accounts, zero, out):
    """Bad debt of ``accounts`` (:class:`CsrAccounts`) into ``out`` (:class:`Totals`).

    ``rel_t`` (n_assets * n_s,) holds the relatives transposed to (n_assets, n_s) and flattened,
    in the kernel's dtype, as ``zero`` is.
    """
    c_indptr, c_asset, c_lt, c_rec, c_usd, d_indptr, d_asset, d_usd = accounts
    total, n_liq, asset_out = out
    by_asset = asset_out.shape[0] > 0
    n_acc = c_indptr.shape[0] - 1
    n_assets = asset_out.shape[1]
    ns = np.uint64(n_s)
    blk_len = np.uint64(_BLOCK)
    n_blocks = (n_s + _BLOCK - 1) // _BLOCK
    for blk in numba.prange(n_blocks):
        s0 = np.uint64(blk) * blk_len
        m = min(blk_len, ns - s0)
        clt = np.empty(_BLOCK, dtype=rel_t.dtype)
        crec = np.empty(_BLOCK, dtype=rel_t.dtype)
        dd = np.empty(_BLOCK, dtype=rel_t.dtype)
        ctot = np.empty(_BLOCK, dtype=np.float64)
        share = np.empty(_BLOCK, dtype=np.float64)
        den = np.empty(_BLOCK, dtype=np.float64)
        acc = np.zeros(_BLOCK, dtype=np.float64)
        cnt = np.zeros(_BLOCK, dtype=np.int64)
        loc = np.zeros(n_assets * _BLOCK if by_asset else 0, dtype=np.float64)
        for a in range(n_acc):
            d0 = d_indptr[a]
            d1 = d_indptr[a + 1]
            c0 = c_indptr[a]
            c1 = c_indptr[a + 1]
            v = d_usd[d0]
            base = np.uint64(d_asset[d0]) * ns + s0
            for t in range(m):
                dd[t] = v * rel_t[base + t]
            for k in range(d0 + 1, d1):
                v = d_usd[k]
                base = np.uint64(d_asset[k]) * ns + s0
                for t in range(m):
                    dd[t] += v * rel_t[base + t]
            if c1 > c0:
                vl = c_lt[c0]
                vr = c_rec[c0]
                base = np.uint64(c_asset[c0]) * ns + s0
                for t in range(m):
                    x = rel_t[base + t]
                    clt[t] = vl * x
                    crec[t] = vr * x
            else:
                for t in range(m):
                    clt[t] = zero
                    crec[t] = zero
            for k in range(c0 + 1, c1):
                vl = c_lt[k]
                vr = c_rec[k]
                base = np.uint64(c_asset[k]) * ns + s0
                for t in range(m):
                    x = rel_t[base + t]
                    clt[t] += vl * x
                    crec[t] += vr * x
            if not by_asset:  # the loop below without its stores: kept apart for speed
                for t in range(m):
                    short, liq = _settle(clt[t], crec[t], dd[t], zero)
                    acc[t] += np.float64(short)
                    cnt[t] += liq
                continue
            # with attribution: this account's bad debt per scenario, then its split over assets
            n_bad = 0
            for t in range(m):
                short, liq = _settle(clt[t], crec[t], dd[t], zero)
                acc[t] += np.float64(short)
                cnt[t] += liq
                share[t] = np.float64(short)
                n_bad += short > zero
            if n_bad == 0:
                continue
            # post-shock collateral value in float64 from the same products that are split below,
            # so each account's shares sum to 1 to float64 rounding
            for t in range(m):
                ctot[t] = 0.0
            for k in range(c0, c1):
                v = c_usd[k]
                base = np.uint64(c_asset[k]) * ns + s0
                for t in range(m):
                    ctot[t] += np.float64(v * rel_t[base + t])
            no_coll = 0
            for t in range(m):
                if ctot[t] > 0.0:
                    den[t] = ctot[t]
                else:
                    den[t] = 1.0  # no collateral value: every position below is 0 as well
                    no_coll += share[t] > 0.0
            for k in range(c0, c1):
                v = c_usd[k]
                base = np.uint64(c_asset[k]) * ns + s0
                lbase = np.uint64(c_asset[k]) * blk_len
                for t in range(m):  # weight in [0, 1] first: no overflow with tiny collateral
                    loc[lbase + t] += share[t] * (np.float64(v * rel_t[base + t]) / den[t])
            if no_coll > 0:  # debt but no collateral value left: attribute to the debt assets
                for t in range(m):
                    if ctot[t] > 0.0 or share[t] == 0.0:
                        continue
                    d_tot = 0.0
                    for k in range(d0, d1):
                        d_tot += np.float64(d_usd[k] * rel_t[np.uint64(d_asset[k]) * ns + s0 + t])
                    for k in range(d0, d1):
                        w = (
                            np.float64(d_usd[k] * rel_t[np.uint64(d_asset[k]) * ns + s0 + t])
                            / d_tot
                        )
                        loc[np.uint64(d_asset[k]) * blk_len + t] += share[t] * w
        for t in range(m):
            total[s0 + t] = acc[t]
            n_liq[s0 + t] = cnt[t]
        if by_asset:
            for i in range(n_assets):
                for t in range(m):
                    asset_out[s0 + t, i] = loc[np.uint64(i) * blk_len + t]


@numba.njit(parallel=True, cache=True, fastmath=False)
def _compact_kernel(rel_t, n_s, accounts, zero, out):
    """Bad debt of ``accounts`` (:class:`CompactAccounts`) into ``out.total`` and ``out.n_liq``.

    ``rel_t`` as in :func:`_csr_kernel`.
    """
    n_coll, ca, cl, cr, da, dv = accounts
    total, n_liq = out.total, out.n_liq
    n_acc = ca.shape[0]
    # scenario blocks as in _csr_kernel: the block loop is the parallel kernel, one per kernel
    ns = np.uint64(n_s)
    blk_len = np.uint64(_BLOCK)
    n_blocks = (n_s + _BLOCK - 1) // _BLOCK
    for blk in numba.prange(n_blocks):
        s0 = np.uint64(blk) * blk_len
        m = min(blk_len, ns - s0)
        acc = np.zeros(_BLOCK, dtype=np.float64)
        cnt = np.zeros(_BLOCK, dtype=np.int64)
        for a in range(n_acc):
            b0 = np.uint64(ca[a, 0]) * ns + s0
            b1 = np.uint64(ca[a, 1]) * ns + s0
            b2 = np.uint64(ca[a, 2]) * ns + s0
            b3 = np.uint64(ca[a, 3]) * ns + s0
            g0 = np.uint64(da[a, 0]) * ns + s0
            g1 = np.uint64(da[a, 1]) * ns + s0
            l0, l1, l2, l3 = cl[a, 0], cl[a, 1], cl[a, 2], cl[a, 3]
            q0, q1, q2, q3 = cr[a, 0], cr[a, 1], cr[a, 2], cr[a, 3]
            e0, e1 = dv[a, 0], dv[a, 1]
            k = n_coll[a]
            if k == 1:  # one loop specialised to 1, 2 and 4 positions (speed: no padding work)
                for t in range(m):
                    x0 = rel_t[b0 + t]
                    d = e0 * rel_t[g0 + t] + e1 * rel_t[g1 + t]
                    short, liq = _settle(l0 * x0, q0 * x0, d, zero)
                    acc[t] += np.float64(short)
                    cnt[t] += liq
            elif k == 2:
                for t in range(m):
                    x0 = rel_t[b0 + t]
                    x1 = rel_t[b1 + t]
                    d = e0 * rel_t[g0 + t] + e1 * rel_t[g1 + t]
                    short, liq = _settle(l0 * x0 + l1 * x1, q0 * x0 + q1 * x1, d, zero)
                    acc[t] += np.float64(short)
                    cnt[t] += liq
            else:  # 0, 3 or 4 positions, zero-padded to 4
                for t in range(m):
                    x0 = rel_t[b0 + t]
                    x1 = rel_t[b1 + t]
                    x2 = rel_t[b2 + t]
                    x3 = rel_t[b3 + t]
                    c = l0 * x0 + l1 * x1 + l2 * x2 + l3 * x3
                    r = q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
                    d = e0 * rel_t[g0 + t] + e1 * rel_t[g1 + t]
                    short, liq = _settle(c, r, d, zero)
                    acc[t] += np.float64(short)
                    cnt[t] += liq
        for t in range(m):
            total[s0 + t] = acc[t]
            n_liq[s0 + t] = cnt[t]


def _pack(
    indptr: np.ndarray,
    asset: np.ndarray,
    values: list[np.ndarray],
    width: int,
    fill_asset: np.ndarray,
):
    """Fixed-width (n_rows, width) arrays of CSR rows with at most ``width`` entries, zero-padded.

    Padding slots repeat ``fill_asset`` (a valid asset of the row) with amount 0.
    """
    n = len(indptr) - 1
    counts = np.diff(indptr)
    rows = np.repeat(np.arange(n), counts)
    cols = np.arange(indptr[-1]) - np.repeat(indptr[:-1], counts)
    out_asset = np.repeat(fill_asset.astype(np.int32)[:, None], width, axis=1)
    out_asset[rows, cols] = asset
    outs = []
    for v in values:
        o = np.zeros((n, width), dtype=v.dtype)
        o[rows, cols] = v
        outs.append(o)
    return out_asset, outs


def _select_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR indptr of ``rows`` (indices, in that order) and the element index into the old arrays."""
    counts = np.diff(indptr)[rows]
    new_indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_indptr[1:])
    start = np.repeat(indptr[:-1][rows] - new_indptr[:-1], counts)
    elem = start + np.arange(new_indptr[-1], dtype=np.int64)
    return new_indptr, elem


def bad_debt_static(
    book: Book,
    relatives: ArrayLike,
    params: RiskParams,
    *,
    slippage: ArrayLike | float | None = None,
    debt_scale: ArrayLike | float | None = None,
    dtype: type[np.floating] | np.dtype = np.float32,
    by_asset: bool = False,
) -> BadDebtResult:
    """Compute static bad debt per scenario with the numba kernels.

    Same model and arguments as :func:`~optimizer.protocol.mechanics.bad_debt_static_numpy`;
    totals agree to about 1e-4 relative in float32 and to rounding in float64.

    Parameters
    ----------
    book, relatives, params, slippage, debt_scale
        As in :func:`~optimizer.protocol.mechanics.bad_debt_static_numpy`: the book, price
        relatives at the horizon (n_scenarios, n_assets), the parameters whose LT and bonus apply,
        the sale discount per asset (default 0) and the debt multiplier per account (default 1).
    dtype : {np.float32, np.float64}, default np.float32
        Arithmetic dtype inside the kernel; totals are always accumulated in float64.
    by_asset : bool, default False
        Also attribute bad debt to collateral assets (runs the general kernel: about half the
        speed).

    Returns
    -------
    BadDebtResult
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"`dtype` must be float32 or float64, got {dt}")
    rel, slip, scale = check_inputs(book, relatives, params, slippage, debt_scale)
    n_s, n_assets = rel.shape
    rec = recovery_factor(params.liquidation_bonus, slip)
    lt = params.liquidation_threshold

    d_scaled = book.debt_usd * np.repeat(scale, np.diff(book.debt_indptr))
    borrowing = _account_sum(book.debt_indptr, d_scaled) > 0  # others are never liquidated
    n_c = np.diff(book.coll_indptr)
    n_d = np.diff(book.debt_indptr)
    compact = borrowing & (n_c <= 4) & (n_d <= 2) & (not by_asset)
    general = borrowing & ~compact

    c_lt_all = book.coll_usd * lt[book.coll_asset] / LIQUIDATION_HF
    c_rec_all = book.coll_usd * rec[book.coll_asset]
    rel_t = np.ascontiguousarray(rel.T, dtype=dt).ravel()
    out = Totals(
        total=np.zeros(n_s, dtype=np.float64),
        n_liq=np.zeros(n_s, dtype=np.int64),
        by_asset=np.zeros((n_s if by_asset else 0, n_assets), dtype=np.float64),
    )
    zero = dt.type(0)

    if n_s and compact.any():
        ci, c_el = _select_rows(book.coll_indptr, np.flatnonzero(compact))
        di, d_el = _select_rows(book.debt_indptr, np.flatnonzero(compact))
        c_asset = book.coll_asset[c_el]
        d_asset = book.debt_asset[d_el]
        n_coll = np.diff(ci)
        fill_d = d_asset[di[:-1]]  # every compact account has a debt row
        fill_c = fill_d.copy()  # padding must point at a valid row; reuse a line already read
        has = n_coll > 0
        fill_c[has] = c_asset[ci[:-1][has]]
        ca, (cl, cr) = _pack(
            ci, c_asset, [c_lt_all[c_el].astype(dt), c_rec_all[c_el].astype(dt)], 4, fill_c
        )
        da, (dv,) = _pack(di, d_asset, [d_scaled[d_el].astype(dt)], 2, fill_d)
        order = np.argsort(n_coll, kind="stable")  # same branch for runs of accounts
        accounts = CompactAccounts(
            *(np.ascontiguousarray(x[order]) for x in (n_coll, ca, cl, cr, da, dv))
        )
        _compact_kernel(rel_t, n_s, accounts, zero, out)

    if n_s and general.any():
        c_indptr, c_el = _select_rows(book.coll_indptr, np.flatnonzero(general))
        d_indptr, d_el = _select_rows(book.debt_indptr, np.flatnonzero(general))
        accounts = CsrAccounts(
            c_indptr=c_indptr,
            c_asset=np.ascontiguousarray(book.coll_asset[c_el]),
            c_lt=c_lt_all[c_el].astype(dt),
            c_rec=c_rec_all[c_el].astype(dt),
            c_usd=book.coll_usd[c_el].astype(dt),
            d_indptr=d_indptr,
            d_asset=np.ascontiguousarray(book.debt_asset[d_el]),
            d_usd=d_scaled[d_el].astype(dt),
        )
        general_out = Totals(np.zeros(n_s), np.zeros(n_s, dtype=np.int64), out.by_asset)
        _csr_kernel(rel_t, n_s, accounts, zero, general_out)
        out.total[:] += general_out.total
        out.n_liq[:] += general_out.n_liq
    return BadDebtResult(
        total=out.total,
        by_asset=out.by_asset if by_asset else None,
        n_liquidated=out.n_liq,
        assets=tuple(book.assets),
        dtype=dt.name,
    )


def isolated_recovery(
    relatives: ArrayLike,
    debt_relatives: ArrayLike,
    bonus: ArrayLike,
    slippage: ArrayLike = 0.0,
) -> FloatArray:
    """Recovery per USD of debt of an isolated one-collateral position.

    ``k[s, i] = r[s, i] / r_debt[s, i] * (1 - slip_i) / (1 + bonus_i)``: what liquidators recover,
    per USD of (re-priced) debt, for each USD of collateral ``i`` posted at ``t0``. A position in
    asset ``i`` at HF = 1 under threshold ``LT_i`` loses ``r_debt * max(LT_i - k, 0)`` per USD of
    collateral when ``r[s, i] < r_debt[s, i]``.

    Parameters
    ----------
    relatives : array_like of shape (n_scenarios, n_assets)
        Collateral price relatives.
    debt_relatives : array_like of shape (n_scenarios,) or (n_scenarios, n_assets)
        Price relative of the debt basket (per scenario, or per scenario and collateral asset).
    bonus : array_like of shape (n_assets,)
    slippage : float or array_like of shape (n_assets,), default 0

    Returns
    -------
    ndarray of shape (n_scenarios, n_assets)
    """
    r = np.asarray(relatives, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"`relatives` must have shape (n_scenarios, n_assets), got {r.shape}")
    rd = np.asarray(debt_relatives, dtype=np.float64)
    if rd.ndim == 1:
        rd = rd[:, None]
    if rd.shape[0] != r.shape[0] or rd.shape[1] not in (1, r.shape[1]):
        raise ValueError(
            f"`debt_relatives` must have shape ({r.shape[0]},) or {r.shape}, got {rd.shape}"
        )
    if np.any(~(rd > 0)):
        raise ValueError("`debt_relatives` must be > 0")
    rec = recovery_factor(bonus, slippage)
    return r / rd * rec
