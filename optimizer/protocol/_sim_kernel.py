"""numba kernel of the dynamic market simulation (see :mod:`optimizer.protocol.simulation`).

Layout
------
* Scenarios are cut into blocks; blocks are spread over threads with ``prange``. A block owns its
  rows of every output, so there are no write races. Each block allocates its own scratch once
  (account state of size nnz, per-account counters) and resets only what a scenario touched.
* Within a scenario the kernel walks the steps; within a step it walks *account blocks* (groups
  of ``ACCOUNT_BLOCK`` accounts sorted so that they hold similar assets and leverage), grouped
  in superblocks of ``SUPER_BLOCK`` blocks. A superblock, then a block, whose accounts are all
  untouched in this scenario is first tested with a linear lower bound on its accounts'
  liquidation margins (see below); only when the bound cannot certify that no account in it is
  liquidatable are its accounts evaluated one by one. Liquidations change the state of an
  account, which marks its block "dirty" (always evaluated exactly) for the rest of the
  scenario.
* Margins are computed block-wise from a dense per-block copy of the accounts' positions: one
  row per (asset, side) held in the block, ``ACCOUNT_BLOCK`` amounts per row (0 where an account
  has none), multiplied by one broadcast price (``o LT`` or ``h o``) -- a fixed-width
  multiply-add per row, no gathers. The copy is per thread and rewritten when a liquidation
  changes an account. The rows are summed in asset order; the liquidation itself re-tests the
  health factor with the account's own positions, so an account within rounding (~1e-7) of the
  threshold may be flagged by the block pass and left alone by the liquidation.
* Sales of the step are summed per asset and turned into price impact only after every account
  was processed, so all liquidations of one step see the same prices (cascades act from one step
  to the next).

Block bound
-----------
For an untouched account ``a`` the liquidation margin at oracle relatives ``o`` is linear,
``m_a(o) = sum_i w_ai o_i`` with ``w_ai = c_ai LT_i - h d_ai`` (``h`` = ``liq_hf``), and
``M_a = m_a(1) > 0`` for a healthy account. With ``v_ai = w_ai / M_a`` and ``delta_i = o_i - 1``,
``m_a(o) / M_a = 1 + sum_i v_ai delta_i >= 1 + sum_i min(lo_i delta_i, hi_i delta_i)`` where
``lo_i <= v_ai <= hi_i`` over the block (0 included for accounts that do not hold ``i``; a
superblock takes the widest range of its blocks). The bound is computed in float64 and the block
is skipped when it exceeds a tolerance that covers the float32 rounding of the exact margin,
``thr_b * max(1, max_i o_i)`` with ``thr_b = 2^-23 (K_b + 4) max_a G_a``, ``K_b`` the block's
largest number of positions per account and ``G_a = sum_i (c LT + h d)_ai / M_a``; so pruning
does not change a result, and ``use_bounds=False`` (every account evaluated) is there for the
tests to check exactly that.

Arguments
---------
The kernel takes its inputs as a few named tuples (numba compiles and caches functions of typed
NamedTuples of arrays and scalars): :class:`Accounts` (the book), :class:`Layout` (account
blocks and their dense copy), two :class:`Support` records (the bounds of blocks and superblocks),
:class:`Params` (protocol parameters and constants), :class:`Liquidity` (the impact law),
:class:`Settings` and :class:`Outputs` (the buffers it fills, one row per scenario).

Arithmetic is in the dtype of ``paths`` (float32 by default; every constant arrives in that dtype
through :class:`Params` so no float64 literal widens the loops); totals, impact and outputs are
float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

#: Accounts per account block (unit of the bound test).
ACCOUNT_BLOCK = 16
#: Account blocks per superblock (a first, coarser bound test).
SUPER_BLOCK = 16
#: Liquidation calls one account can receive within one step.
MAX_CALLS_PER_STEP = 8

# status bits returned by ``_liquidate``
CHANGED = 1
LIQUIDATED = 2


class Accounts(NamedTuple):
    """Borrowing accounts as CSR rows, in block order; amounts in the kernel's dtype."""

    #: (n_acc + 1,) int64
    c_indptr: np.ndarray
    #: (nnz_c,) int32
    c_asset: np.ndarray
    #: (nnz_c,) dtype: collateral at t0, USD
    c_base: np.ndarray
    #: (n_acc + 1,) int64
    d_indptr: np.ndarray
    #: (nnz_d,) int32
    d_asset: np.ndarray
    #: (nnz_d,) dtype: debt at t0 (x debt_scale), USD
    d_base: np.ndarray
    #: largest number of collateral entries of one account
    max_nc: int


class Layout(NamedTuple):
    """Account blocks and the dense per-block copy of their positions."""

    #: (n_blk + 1,) int64: account range of each account block
    blk_ptr: np.ndarray
    #: (n_blk + 1,) int64: rows of each block in the dense layout
    dn_ptr: np.ndarray
    #: (n_rows,) uint32: index of each row into [o LT, h o]
    dn_idx: np.ndarray
    #: (n_rows * ACCOUNT_BLOCK,) dtype: collateral USD, or -debt USD, at t0
    dn_w: np.ndarray
    #: (nnz_c,) int64: position of each collateral entry in dn_w
    c_pos: np.ndarray
    #: (nnz_d,) int64: position of each debt entry in dn_w
    d_pos: np.ndarray


class Support(NamedTuple):
    """Linear margin bound of each block (or superblock): its assets with ``[lo, hi]``, float64."""

    #: (n_groups + 1,) int64: CSR of each group's asset support
    ptr: np.ndarray
    #: (nnz,) uint32
    asset: np.ndarray
    #: (nnz,) float64
    lo: np.ndarray
    #: (nnz,) float64
    hi: np.ndarray
    #: (n_groups,) float64: tolerance of the bound; +inf: always evaluate exactly
    thr: np.ndarray


class Params(NamedTuple):
    """Protocol parameters and constants, every one in the kernel's dtype."""

    #: (n_assets,) liquidation thresholds
    lt: np.ndarray
    #: (n_assets,) liquidation bonuses
    bonus: np.ndarray
    #: health factor below which an account is liquidatable (``LIQUIDATION_HF``)
    liq_hf: np.floating
    #: share of the debt one call repays
    close: np.floating
    #: health factor below which a call repays all the debt
    full_hf: np.floating
    #: minimum profit for a liquidator to act, USD
    gas: np.floating
    zero: np.floating
    one: np.floating


class Liquidity(NamedTuple):
    """The impact law: ``impact = imp_scale * sqrt(Q)`` (law 0), ``imp_scale * Q`` (law 1), or
    tables of a depth curve on a log-size grid (law 2, :meth:`DepthSlippage.kernel_tables`)."""

    #: 0: square root, 1: linear depth, 2: depth-curve tables
    law: int
    #: (n_assets,) float64: scale of the permanent impact of cumulative sales ``Q``
    imp_scale: np.ndarray
    #: (n_assets,) float64: slippage = 1 - exp(-slip_scale * sqrt(q)) (or * q)
    slip_scale: np.ndarray
    #: (n_grid,) float64: uniform log USD grid of the tables (law 2; two dummy points otherwise)
    log_q: np.ndarray
    #: (n_assets, n_grid) float64: log discount of a sale of q, -log(1 - slippage) (law 2)
    slip_tab: np.ndarray
    #: (n_assets, n_grid) float64: permanent log impact of cumulative sales Q (law 2)
    imp_tab: np.ndarray


class Settings(NamedTuple):
    """Oracle, liquidators and pruning."""

    #: oracle lag, steps
    lag: int
    #: liquidation delay, steps
    delay: int
    #: whether sales move later prices
    cascades: bool
    #: prune blocks with the bound
    use_bounds: bool
    #: the bound may also prune the end-of-horizon insolvency pass
    final_bounds: bool
    #: scenarios per parallel work item
    scen_block: int


class Outputs(NamedTuple):
    """Buffers the kernel fills, one row per scenario (float64 and int64)."""

    #: (n_s,) bad debt, USD
    bad: np.ndarray
    #: (n_s, n_assets) bad debt by collateral asset, USD
    bad_asset: np.ndarray
    #: (n_s,) collateral seized, USD at oracle
    liq: np.ndarray
    #: (n_s,) debt repaid, USD at oracle
    rep: np.ndarray
    #: (n_s,) int64: accounts liquidated at least once
    nliq: np.ndarray
    #: (n_s,) int64: accounts insolvent at the end
    nunder: np.ndarray
    #: (n_s,) int64: step of the first liquidation, -1 if none
    first: np.ndarray
    #: (n_s, n_assets) final log impact
    imp: np.ndarray
    #: (n_s,) int64: account evaluations (exact margin computations)
    work: np.ndarray

    @classmethod
    def empty(cls, n_s: int, n_as: int) -> Outputs:
        """Buffers for ``n_s`` scenarios of ``n_as`` assets, holding the no-account results."""
        return cls(
            bad=np.zeros(n_s),
            bad_asset=np.zeros((n_s, n_as)),
            liq=np.zeros(n_s),
            rep=np.zeros(n_s),
            nliq=np.zeros(n_s, dtype=np.int64),
            nunder=np.zeros(n_s, dtype=np.int64),
            first=np.full(n_s, -1, dtype=np.int64),
            imp=np.zeros((n_s, n_as)),
            work=np.zeros(n_s, dtype=np.int64),
        )


@numba.njit(cache=True, inline="always")
def _slippage(q, liq, i):
    """Sale discount (fraction) of a sale of ``q`` USD of asset ``i``: own-size impact, float64."""
    if q <= 0.0:
        return 0.0
    if liq.law == 0:
        return 1.0 - np.exp(-liq.slip_scale[i] * np.sqrt(q))
    if liq.law == 1:
        return 1.0 - np.exp(-liq.slip_scale[i] * q)
    return 1.0 - np.exp(-_table(np.log(q), liq.log_q, liq.slip_tab, i))


@numba.njit(cache=True, inline="always")
def _impact(q_cum, liq, i):
    """Permanent log impact of cumulative sales ``q_cum`` USD of asset ``i``, float64."""
    if liq.law == 0:
        return liq.imp_scale[i] * np.sqrt(q_cum)
    if liq.law == 1:
        return liq.imp_scale[i] * q_cum
    if q_cum <= 0.0:
        return 0.0
    return _table(np.log(q_cum), liq.log_q, liq.imp_tab, i)


@numba.njit(cache=True, inline="always")
def _table(lq, log_q, tab, i):
    """Row ``i`` of ``tab`` interpolated linearly at ``lq`` on the uniform grid ``log_q`` (clamped at its ends)."""
    n = log_q.shape[0]
    x = (lq - log_q[0]) / (log_q[1] - log_q[0])
    if x <= 0.0:
        return tab[i, 0]
    if x >= n - 1:
        return tab[i, n - 1]
    j = int(x)
    w = x - j
    return tab[i, j] * (1.0 - w) + tab[i, j + 1] * w


@numba.njit(cache=True, inline="always")
def _split(bad, a, amounts, bk, price, row):
    """Add ``bad`` to ``row`` pro rata to ``amounts`` of account ``a`` at ``price``; False if 0."""
    c_indptr, c_asset = bk.c_indptr, bk.c_asset
    tot = 0.0
    for k in range(c_indptr[a], c_indptr[a + 1]):
        tot += np.float64(amounts[k]) * np.float64(price[c_asset[k]])
    if not tot > 0.0:
        return False
    for k in range(c_indptr[a], c_indptr[a + 1]):
        i = c_asset[k]
        row[i] += bad * (np.float64(amounts[k]) * np.float64(price[i]) / tot)
    return True


@numba.njit(cache=True)
def _attribute(bad, a, cu, use_state, bk, price, row):
    """Add ``bad`` USD to ``row`` pro rata to account ``a``'s collateral value at ``price``.

    With ``use_state`` the current collateral ``cu`` is used; when it is worth nothing (or
    without ``use_state``) the account's initial collateral composition at ``price``; an account
    that never had collateral (possible only in a book loaded as such) charges its debt assets
    equally, so that rows always sum to the bad debt.
    """
    if use_state and _split(bad, a, cu, bk, price, row):
        return
    if _split(bad, a, bk.c_base, bk, price, row):
        return
    d_indptr, d_asset = bk.d_indptr, bk.d_asset
    n = d_indptr[a + 1] - d_indptr[a]
    for k in range(d_indptr[a], d_indptr[a + 1]):
        row[d_asset[k]] += bad / n


@numba.njit(cache=True, inline="always")
def _write_off(bad, a, cu, du, bk, oracle, row, acc, zero):
    """Book the rest ``bad`` of account ``a``'s debt as bad debt (nothing left to seize)."""
    acc[0] += bad
    _attribute(bad, a, cu, False, bk, oracle, row)
    for k in range(bk.d_indptr[a], bk.d_indptr[a + 1]):
        du[k] = zero


@numba.njit(cache=True, inline="always")
def _liquidate(a, cu, du, bk, oracle, market, prm, liq, seize_buf, sales, acc, row, gain_max):
    """Liquidation calls on account ``a`` at one step.

    Returns 0 when nothing happened, ``CHANGED`` when the account's state changed (a write-off)
    and ``CHANGED | LIQUIDATED`` when at least one call was executed.

    ``acc`` (float64, length 3) accumulates bad debt, seized collateral (USD at oracle) and
    repaid debt (USD at oracle); ``row`` is the scenario's bad-debt-by-asset row; ``sales``
    the step's USD sold per asset (at market). ``gain_max`` (float64) bounds the profit per USD
    repaid, ``max_i (1 + bonus_i) market_i / oracle_i - 1``: calls that cannot beat ``gas`` even
    so are not worked out.
    """
    c_indptr, c_asset, d_indptr, d_asset = bk.c_indptr, bk.c_asset, bk.d_indptr, bk.d_asset
    lt, bonus = prm.lt, prm.bonus
    zero = prm.zero
    one = prm.one
    liq_hf = prm.liq_hf
    close = prm.close
    full_hf = prm.full_hf
    gas = prm.gas
    c0 = c_indptr[a]
    nc = c_indptr[a + 1] - c0
    status = 0
    for _ in range(MAX_CALLS_PER_STEP):
        coll = zero
        clt = zero
        for k in range(c0, c0 + nc):
            v = cu[k] * oracle[c_asset[k]]
            coll += v
            clt += v * lt[c_asset[k]]
        debt = zero
        for k in range(d_indptr[a], d_indptr[a + 1]):
            debt += du[k] * oracle[d_asset[k]]
        if not debt > zero:
            break
        if not clt < debt * liq_hf:
            break
        if not coll > zero:
            # nothing left to seize: the debt is bad debt
            _write_off(np.float64(debt), a, cu, du, bk, oracle, row, acc, zero)
            status |= CHANGED
            break
        want = debt if clt < full_hf * debt else close * debt
        if not np.float64(want) * gain_max > np.float64(gas):
            break  # cannot be profitable
        # seize from the largest collateral first, then the next
        for j in range(nc):
            seize_buf[j] = zero
        remaining = want
        repaid = zero
        emptied = True
        while remaining > zero:
            best = -1
            best_v = zero
            for j in range(nc):
                if seize_buf[j] == zero:
                    v = cu[c0 + j] * oracle[c_asset[c0 + j]]
                    if v > best_v:
                        best_v = v
                        best = j
            if best < 0:
                break
            b1 = one + bonus[c_asset[c0 + best]]
            need = remaining * b1
            if need < best_v:
                seize_buf[best] = need
                repaid += remaining
                remaining = zero
                emptied = False
            else:
                seize_buf[best] = best_v
                rep = best_v / b1
                repaid += rep
                remaining -= rep
        # the liquidator sells what it seized at the market price, minus its own slippage
        proceeds = 0.0
        for j in range(nc):
            y = seize_buf[j]
            if y > zero:
                i = c_asset[c0 + j]
                q = np.float64(y) * (np.float64(market[i]) / np.float64(oracle[i]))
                proceeds += q * (1.0 - _slippage(q, liq, i))
        if not proceeds - np.float64(repaid) > np.float64(gas):
            break  # unprofitable: nobody liquidates
        status = CHANGED | LIQUIDATED
        seized_tot = 0.0
        for j in range(nc):
            y = seize_buf[j]
            if y > zero:
                k = c0 + j
                i = c_asset[k]
                if y >= cu[k] * oracle[i]:
                    cu[k] = zero
                else:
                    cu[k] -= y / oracle[i]
                    if cu[k] < zero:
                        cu[k] = zero
                sales[i] += np.float64(y) * (np.float64(market[i]) / np.float64(oracle[i]))
                seized_tot += np.float64(y)
        acc[1] += seized_tot
        acc[2] += np.float64(repaid)
        left = one - repaid / debt
        if repaid >= debt or left <= zero:
            for k in range(d_indptr[a], d_indptr[a + 1]):
                du[k] = zero
            break
        for k in range(d_indptr[a], d_indptr[a + 1]):
            du[k] *= left
        if emptied:
            empty = True
            for k in range(c0, c0 + nc):
                if cu[k] > zero:
                    empty = False
            if empty:
                _write_off(np.float64(debt - repaid), a, cu, du, bk, oracle, row, acc, zero)
                break
    return status


@numba.njit(cache=True, inline="always")
def _safe(sp, g, delta, omax):
    """True when the linear bound proves every margin of (super)block ``g`` positive (float64)."""
    thr = sp.thr[g] * omax
    bound = 1.0
    for k in range(sp.ptr[g], sp.ptr[g + 1]):
        d = delta[sp.asset[k]]
        x1 = sp.lo[k] * d
        x2 = sp.hi[k] * d
        bound += x1 if x1 < x2 else x2
    return bound > thr


@numba.njit(cache=True, inline="always")
def _sync_rows(a, cu, du, bk, lay, dn_st, zero):
    """Write account ``a``'s state into its cells of the dense layout."""
    c_indptr, d_indptr, c_pos, d_pos = bk.c_indptr, bk.d_indptr, lay.c_pos, lay.d_pos
    for e in range(c_indptr[a], c_indptr[a + 1]):
        dn_st[c_pos[e]] = zero
    for e in range(d_indptr[a], d_indptr[a + 1]):
        dn_st[d_pos[e]] = zero
    for e in range(c_indptr[a], c_indptr[a + 1]):
        dn_st[c_pos[e]] += cu[e]
    for e in range(d_indptr[a], d_indptr[a + 1]):
        dn_st[d_pos[e]] -= du[e]


@numba.njit(cache=True, fastmath=False)
def _run_block(s_begin, s_end, paths, bk, lay, blk, sup, prm, liq, cfg, out):
    """Scenarios ``s_begin .. s_end - 1``, sequentially, with one set of scratch arrays.

    ``paths`` (n_s, T, n_assets) in the kernel's dtype holds the exogenous price relatives per
    step; ``blk`` and ``sup`` are the bounds of the account blocks and the superblocks.
    """
    _, n_t, n_as = paths.shape
    c_indptr, c_asset, c_base = bk.c_indptr, bk.c_asset, bk.c_base
    d_indptr, d_asset, d_base = bk.d_indptr, bk.d_asset, bk.d_base
    blk_ptr, dn_ptr, dn_idx, dn_w, c_pos, d_pos = lay
    lt, bonus = prm.lt, prm.bonus
    lag, delay, cascades, use_bounds = cfg.lag, cfg.delay, cfg.cascades, cfg.use_bounds
    n_acc = c_indptr.shape[0] - 1
    n_blk = blk_ptr.shape[0] - 1
    zero = prm.zero
    one = prm.one
    liq_hf = prm.liq_hf
    cu = c_base.copy()
    dn_st = dn_w.copy()
    du = d_base.copy()
    last_seen = np.full(n_acc, -2, dtype=np.int64)
    since = np.zeros(n_acc, dtype=np.int64)
    touched = np.zeros(n_acc, dtype=np.bool_)
    liquidated = np.zeros(n_acc, dtype=np.bool_)
    seen_list = np.empty(n_acc, dtype=np.int64)
    touched_list = np.empty(n_acc, dtype=np.int64)
    dirty = np.zeros(n_blk, dtype=np.bool_)
    dirty_list = np.empty(n_blk, dtype=np.int64)
    marg = np.empty(ACCOUNT_BLOCK, dtype=paths.dtype)
    p2 = np.empty(2 * n_as, dtype=paths.dtype)
    hist = np.empty((n_t + 1, n_as), dtype=paths.dtype)
    oracle = np.empty(n_as, dtype=paths.dtype)
    market = np.empty(n_as, dtype=paths.dtype)
    delta = np.empty(n_as, dtype=np.float64)
    n_sup = sup.ptr.shape[0] - 1
    sdirty = np.zeros(n_sup, dtype=np.int64)
    q_cum = np.zeros(n_as, dtype=np.float64)
    impact = np.zeros(n_as, dtype=np.float64)
    sales = np.zeros(n_as, dtype=np.float64)
    seize_buf = np.empty(max(bk.max_nc, 1), dtype=paths.dtype)
    acc = np.zeros(3, dtype=np.float64)
    row = np.zeros(n_as, dtype=np.float64)
    for s in range(s_begin, s_end):
        n_seen = 0
        n_touched = 0
        n_dirty = 0
        n_liq = 0
        n_evals = 0
        first = -1
        for i in range(n_as):
            q_cum[i] = 0.0
            impact[i] = 0.0
            row[i] = 0.0
            hist[0, i] = one
        acc[0] = 0.0
        acc[1] = 0.0
        acc[2] = 0.0
        for t in range(n_t):
            for i in range(n_as):
                if cascades and impact[i] > 0.0:
                    market[i] = np.float64(paths[s, t, i]) * np.exp(-impact[i])
                else:
                    market[i] = paths[s, t, i]
                hist[t + 1, i] = market[i]
            src = t + 1 - lag
            if src < 0:
                src = 0
            omax = 1.0
            for i in range(n_as):
                o = hist[src, i]
                oracle[i] = o
                p2[i] = o * lt[i]
                p2[n_as + i] = o * liq_hf
                delta[i] = np.float64(o) - 1.0
                if o > omax:
                    omax = np.float64(o)
                sales[i] = 0.0
            gain_max = 0.0
            for i in range(n_as):
                g1 = (1.0 + np.float64(bonus[i])) * np.float64(market[i]) / np.float64(oracle[i])
                if g1 - 1.0 > gain_max:
                    gain_max = g1 - 1.0
            for g in range(n_sup):
                if use_bounds and sdirty[g] == 0 and _safe(sup, g, delta, omax):
                    continue
                for b in range(g * SUPER_BLOCK, min(n_blk, (g + 1) * SUPER_BLOCK)):
                    if use_bounds and not dirty[b] and _safe(blk, b, delta, omax):
                        continue
                    a0 = blk_ptr[b]
                    nb = blk_ptr[b + 1] - a0
                    n_evals += nb
                    # margins of the block's accounts: one broadcast price per dense row
                    for j in range(ACCOUNT_BLOCK):
                        marg[j] = zero
                    for r in range(dn_ptr[b], dn_ptr[b + 1]):
                        pr = p2[dn_idx[r]]
                        base = r * ACCOUNT_BLOCK
                        for j in range(ACCOUNT_BLOCK):
                            marg[j] += dn_st[base + j] * pr
                    for j in range(nb):
                        if not marg[j] < zero:
                            continue
                        a = a0 + j
                        if last_seen[a] == -2:
                            seen_list[n_seen] = a
                            n_seen += 1
                        if last_seen[a] != t - 1:
                            since[a] = t
                        last_seen[a] = t
                        if t - since[a] < delay:
                            continue
                        st = _liquidate(
                            a, cu, du, bk, oracle, market, prm, liq, seize_buf, sales, acc, row,
                            gain_max,
                        )
                        if st & CHANGED:
                            _sync_rows(a, cu, du, bk, lay, dn_st, zero)
                            if not touched[a]:
                                # reset the state after the scenario; no bound for this block
                                touched[a] = True
                                touched_list[n_touched] = a
                                n_touched += 1
                                if not dirty[b]:
                                    dirty[b] = True
                                    dirty_list[n_dirty] = b
                                    n_dirty += 1
                                    sdirty[g] += 1
                        if st & LIQUIDATED:
                            if not liquidated[a]:
                                liquidated[a] = True
                                n_liq += 1
                            if first < 0:
                                first = t
            # price impact of this step's sales
            for i in range(n_as):
                if sales[i] > 0.0:
                    q_cum[i] += sales[i]
                    impact[i] = _impact(q_cum[i], liq, i)
        # end of horizon: insolvent accounts at the final market price (the bound also covers
        # insolvency when LT <= h, see ``final_bounds``)
        omax = 1.0
        for i in range(n_as):
            if cascades and impact[i] > 0.0:
                market[i] = np.float64(paths[s, n_t - 1, i]) * np.exp(-impact[i])
            else:
                market[i] = paths[s, n_t - 1, i]
            delta[i] = np.float64(market[i]) - 1.0
            if market[i] > omax:
                omax = np.float64(market[i])
        n_under = 0
        use_final = use_bounds and cfg.final_bounds
        # the pruned walk of the step pass, written twice for speed: a shared helper that lists
        # the blocks first measured slower in the stress regime (every account at HF 1)
        for g in range(n_sup):
            if use_final and sdirty[g] == 0 and _safe(sup, g, delta, omax):
                continue
            for b in range(g * SUPER_BLOCK, min(n_blk, (g + 1) * SUPER_BLOCK)):
                if use_final and not dirty[b] and _safe(blk, b, delta, omax):
                    continue
                for a in range(blk_ptr[b], blk_ptr[b + 1]):
                    cm = 0.0
                    for k in range(c_indptr[a], c_indptr[a + 1]):
                        cm += np.float64(cu[k] * market[c_asset[k]])
                    dm = 0.0
                    for k in range(d_indptr[a], d_indptr[a + 1]):
                        dm += np.float64(du[k] * market[d_asset[k]])
                    if dm > cm:
                        n_under += 1
                        bad = dm - cm
                        acc[0] += bad
                        _attribute(bad, a, cu, True, bk, market, row)
        out.bad[s] = acc[0]
        out.liq[s] = acc[1]
        out.rep[s] = acc[2]
        out.nunder[s] = n_under
        out.nliq[s] = n_liq
        out.work[s] = n_evals
        out.first[s] = first
        for i in range(n_as):
            out.bad_asset[s, i] = row[i]
            out.imp[s, i] = _impact(q_cum[i], liq, i)
        # reset what this scenario touched
        for j in range(n_touched):
            a = touched_list[j]
            touched[a] = False
            for e in range(c_indptr[a], c_indptr[a + 1]):
                dn_st[c_pos[e]] = dn_w[c_pos[e]]
            for e in range(d_indptr[a], d_indptr[a + 1]):
                dn_st[d_pos[e]] = dn_w[d_pos[e]]
            liquidated[a] = False
            for k in range(c_indptr[a], c_indptr[a + 1]):
                cu[k] = c_base[k]
            for k in range(d_indptr[a], d_indptr[a + 1]):
                du[k] = d_base[k]
        for j in range(n_seen):
            a = seen_list[j]
            last_seen[a] = -2
            since[a] = 0
        for j in range(n_dirty):
            dirty[dirty_list[j]] = False
            sdirty[dirty_list[j] // SUPER_BLOCK] = 0


@numba.njit(parallel=True, cache=True, fastmath=False)
def simulate_kernel(paths, bk, lay, blk, sup, prm, liq, cfg, out):
    """Run every scenario of ``paths`` (n_s, T, n_assets), ``cfg.scen_block`` per work item.

    ``bk`` :class:`Accounts`, ``lay`` :class:`Layout`, ``blk`` and ``sup`` the :class:`Support`
    of the account blocks and of the superblocks, ``prm`` :class:`Params`, ``liq``
    :class:`Liquidity`, ``cfg`` :class:`Settings`; fills ``out`` (:class:`Outputs`).
    """
    n_s = paths.shape[0]
    scen_block = cfg.scen_block
    n_items = (n_s + scen_block - 1) // scen_block
    for wb in numba.prange(n_items):
        _run_block(
            wb * scen_block,
            min(n_s, (wb + 1) * scen_block),
            paths, bk, lay, blk, sup, prm, liq, cfg, out,
        )
