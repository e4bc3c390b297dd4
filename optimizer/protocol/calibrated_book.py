"""A synthetic book calibrated to a real market's largest borrowers (:class:`ReferenceBook`).

:func:`calibrated_book` builds the borrowing accounts from the reference instead of from guesses:
their debt sizes (the largest placed one by one, the rest drawn from a Pareto tail fitted to the
reference), their leverage (the reference's collateral/debt, drawn by size) and the debt asset of
the largest (the reference's ``largest_debt_asset`` where the market has it). The market's totals
still come from the configuration: collateral per asset equals ``supplied_usd`` exactly and debt
per asset approaches ``borrowed_usd`` (the fit of :func:`optimizer.protocol.books.synthetic_book`).
The construction and its stated rules are in the docstring of :func:`calibrated_book`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from optimizer.protocol.book import Book
from optimizer.protocol.books import _assign_debt, _check_market, _count_draw, _pick_assets, _row_sums
from optimizer.protocol.params import RiskParams
from optimizer.protocol.reference_book import (
    Concentration,
    ParetoTail,
    ReferenceBook,
    debt_concentration,
    weighted_quantiles,
)
from optimizer.typing import FloatArray

logger = logging.getLogger(__name__)

__all__ = ["EMODE_LT", "LOOP_CLASSES", "REFERENCE_SYMBOL_CLASS", "CalibratedBook", "calibrated_book"]

#: Liquidation threshold of the e-mode an account is in when its collateral/debt is below what the
#: reserve thresholds allow: Aave v3 Ethereum e-mode 1 (WETH and the ETH liquid-staking tokens
#: against WETH), LT 95 %, the e-mode of the largest loops
#: (reference/aave_v3_ethereum_emodes.csv; the USDe/sUSDe stablecoin e-modes sit at 92-96 %).
EMODE_LT = 0.95

#: Correlated classes an e-mode loop's debt and collateral share (Aave v3 Ethereum's ETH-correlated and
#: stablecoin e-modes; a BTC class likewise).
LOOP_CLASSES = ("eth", "usd", "btc")

#: Class of the reference's ``largest_debt_asset`` symbols (lower case): WETH and the ETH liquid-staking
#: tokens, the BTC wrappers, the USD stablecoins (reference/README.md lists them). EURC and LINK have none.
REFERENCE_SYMBOL_CLASS = {
    "weth": "eth", "wsteth": "eth", "weeth": "eth", "steth": "eth", "reth": "eth", "cbeth": "eth",
    "wbtc": "btc", "cbbtc": "btc", "tbtc": "btc", "lbtc": "btc",
    "usdt": "usd", "usdc": "usd", "dai": "usd", "usde": "usd", "gho": "usd", "pyusd": "usd", "rlusd": "usd",
    "usdtb": "usd", "usds": "usd", "frax": "usd", "lusd": "usd",
}

#: Quantiles of the leverage and health-factor distributions a comparison reports.
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)

#: Accounts whose collateral is placed one by one (the rest in chunks, chasing what is left).
_N_SEQUENTIAL = 500


@dataclass(frozen=True, eq=False)
class CalibratedBook:
    """A book built from a reference, with what was taken from the reference and how it compares.

    Attributes
    ----------
    book : Book
    reference : ReferenceBook
    tail : ParetoTail
        The size tail fitted to the reference's accounts below the placed ones.
    n_placed : int
        Accounts placed individually (their size, leverage and largest debt asset from the
        reference's accounts of the same rank).
    reference_cd : ndarray of shape (n_accounts,)
        Collateral/debt each borrowing account took from the reference (NaN for supply-only ones).
    emode : ndarray of bool, shape (n_accounts,)
        Accounts whose reference collateral/debt the reserve thresholds cannot carry (e-mode loops),
        placed by the e-mode rule of :func:`calibrated_book`.
    health_factor : ndarray of shape (n_accounts,)
        Health factor at the start under the parameters the book was drawn with (inf: no debt).
    preferred_found : int
        Placed accounts whose largest debt asset the market has (they owe it when it has room).
    market_share_top : float
        Share of the whole book's debt held by its ``reference.n_accounts`` largest borrowers.
    emode_lt : float
    loop_class : ndarray of str, shape (n_accounts,)
        The correlated class (:data:`LOOP_CLASSES`) whose collateral and debt an e-mode account
        holds; "" for the others and for the loops placed by the fallback (``loop_fallback``).
    loop_fallback : ndarray of bool, shape (n_accounts,)
        E-mode accounts whose class the configuration lacks (or whose class has no supply or borrow
        room left): their collateral is drawn like everyone's.
    asset_classes : tuple of (str or None)
        Each asset's correlated class as given (None: none).
    missing_classes : tuple of str
        Classes loops asked for that the configuration has no collateral or borrowed asset of.
    borrowed_usd : ndarray of shape (n_assets,)
        The configuration's per-asset borrows the debt was fitted to.
    """

    book: Book
    reference: ReferenceBook
    tail: ParetoTail
    n_placed: int
    reference_cd: FloatArray
    emode: np.ndarray
    health_factor: FloatArray
    preferred_found: int
    market_share_top: float
    emode_lt: float = EMODE_LT
    loop_class: np.ndarray | None = None
    loop_fallback: np.ndarray | None = None
    asset_classes: tuple[str | None, ...] = ()
    missing_classes: tuple[str, ...] = ()
    borrowed_usd: FloatArray | None = None

    @cached_property
    def collateral_to_debt(self) -> FloatArray:
        """The book's collateral/debt per account (inf: no debt)."""
        d = self.book.account_debt
        out = np.full(len(d), np.inf)
        np.divide(self.book.account_collateral, d, out=out, where=d > 0)
        return out

    @cached_property
    def concentration(self) -> Concentration:
        """The book's top-k shares, of the debt of its largest ``reference.n_accounts`` borrowers
        (how the reference's shares are measured), with the reference leverage's loop share."""
        return debt_concentration(self.book.account_debt, top=self.reference.n_accounts,
                                  collateral_to_debt=np.nan_to_num(self.reference_cd, nan=np.inf))

    @cached_property
    def concentration_as_placed(self) -> Concentration:
        """The same measured on the book's own collateral/debt (after the e-mode rule)."""
        return debt_concentration(self.book.account_debt, top=self.reference.n_accounts,
                                  collateral_to_debt=self.collateral_to_debt)

    def leverage_quantiles(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Debt-weighted quantiles (:data:`QUANTILES`) of collateral/debt: the reference's, the
        book's reference draws (its largest ``reference.n_accounts`` borrowers) and the book's own."""
        ref = self.reference
        ok = ref.leverage_known
        q_ref = weighted_quantiles(ref.collateral_to_debt[ok], ref.debt_usd[ok], QUANTILES)
        debt = self.book.account_debt
        top = np.argsort(-debt, kind="stable")[: ref.n_accounts]
        top = top[debt[top] > 0]
        q_draw = weighted_quantiles(self.reference_cd[top], debt[top], QUANTILES)
        q_book = weighted_quantiles(self.collateral_to_debt[top], debt[top], QUANTILES)
        return q_ref, q_draw, q_book

    def health_factor_quantiles(self) -> FloatArray:
        """Debt-weighted quantiles (:data:`QUANTILES`) of the borrowers' health factors."""
        debt = self.book.account_debt
        b = debt > 0
        return weighted_quantiles(self.health_factor[b], debt[b], QUANTILES)

    def loop_collateral(self) -> list[tuple[str, float, int, dict[str, float]]]:
        """Per debt class of the e-mode accounts ("fallback" for those drawn like everyone's):
        (class, debt USD, accounts, collateral USD per asset), classes in :data:`LOOP_CLASSES` order."""
        book = self.book
        debt = book.account_debt
        cls = self.loop_class if self.loop_class is not None else np.full(len(debt), "", dtype=object)
        fb = self.loop_fallback if self.loop_fallback is not None else self.emode
        rows = np.repeat(np.arange(book.n_accounts), np.diff(book.coll_indptr))
        out = []
        for name, sel in [(c, self.emode & (cls == c)) for c in LOOP_CLASSES] + [("fallback", self.emode & fb)]:
            if not sel.any():
                continue
            mine = sel[rows]
            usd = np.bincount(book.coll_asset[mine], weights=book.coll_usd[mine], minlength=len(book.assets))
            out.append((name, float(debt[sel].sum()), int(sel.sum()),
                        {book.assets[i]: float(usd[i]) for i in np.flatnonzero(usd > 0)}))
        return out

    @cached_property
    def own_collateral_borrowers(self) -> np.ndarray:
        """Accounts that are not loops, post one collateral asset and owe only that asset (the
        market's borrows left them no other asset with room: step 5 of :func:`calibrated_book`)."""
        book = self.book
        nc, nd = np.diff(book.coll_indptr), np.diff(book.debt_indptr)
        cand = np.flatnonzero((nc == 1) & (nd == 1) & ~self.emode)
        same = book.coll_asset[book.coll_indptr[cand]] == book.debt_asset[book.debt_indptr[cand]]
        return cand[same]

    def debt_fit(self) -> FloatArray:
        """Per asset, the book's debt over the configuration's ``borrowed_usd`` minus 1 (NaN where
        nothing is borrowed)."""
        got = np.bincount(self.book.debt_asset, weights=self.book.debt_usd, minlength=len(self.book.assets))
        b = np.asarray(self.borrowed_usd if self.borrowed_usd is not None else np.full(len(got), np.nan))
        return np.divide(got, b, out=np.full(len(got), np.nan), where=b > 0) - 1.0

    @property
    def emode_debt_share(self) -> float:
        """Share of the book's debt placed by the e-mode rule."""
        debt = self.book.account_debt
        return float(debt[self.emode].sum() / debt.sum()) if debt.sum() > 0 else 0.0


def _leverage_draws(ref: ReferenceBook, ranks: np.ndarray, n_placed: int,
                    rng: np.random.Generator) -> tuple[FloatArray, np.ndarray]:
    """(collateral/debt, reference account index) for accounts of book rank ``ranks`` (1-based):
    each from a reference account of a similar rank (within a factor 2, above the placed ones; past
    the reference's last rank, from its lower half), uniformly."""
    pool_rank, pool_cd = ref.leverage_pool()
    pool_idx = np.flatnonzero(ref.leverage_known)
    keep = pool_rank > n_placed
    if keep.sum() >= 1:
        pool_rank, pool_cd, pool_idx = pool_rank[keep], pool_cd[keep], pool_idx[keep]
    n_ref = ref.n_accounts
    r = np.minimum(ranks.astype(float), n_ref)
    lo_rank = np.where(ranks > n_ref, n_ref / 2.0, r / 2.0)
    hi_rank = np.where(ranks > n_ref, n_ref, r * 2.0)
    lo = np.searchsorted(pool_rank, lo_rank, side="left")
    hi = np.searchsorted(pool_rank, hi_rank, side="right")
    empty = hi <= lo
    lo = np.where(empty, 0, lo)
    hi = np.where(empty, len(pool_rank), hi)
    j = lo + np.floor(rng.random(len(ranks)) * (hi - lo)).astype(np.int64)
    j = np.minimum(j, len(pool_cd) - 1)
    return pool_cd[j], pool_idx[j]


def _health_rule(cd: FloatArray, lt_acct: FloatArray, hf_min: float, emode_lt: float) -> tuple[FloatArray, np.ndarray]:
    """(health factor, e-mode flag) of accounts of collateral/debt ``cd`` whose collateral has the
    LT-weighted threshold ``lt_acct``: the reserve health factor ``cd x lt_acct`` when it is at
    least ``hf_min``; otherwise (an e-mode loop) ``hf_min x max(cd x emode_lt, 1)``."""
    hf_res = cd * lt_acct
    emode = hf_res < hf_min
    return np.where(emode, hf_min * np.maximum(cd * emode_lt, 1.0), hf_res), emode


def calibrated_book(
    assets: tuple[str, ...] | list[str],
    *,
    symbols: tuple[str, ...] | list[str],
    supplied_usd: ArrayLike,
    borrowed_usd: ArrayLike,
    n_accounts: int,
    current: RiskParams,
    rng: np.random.Generator,
    reference: ReferenceBook,
    n_placed: int = 10,
    hf_min: float = 1.0,
    size_tail: float = 1.3,
    max_assets_per_account: int = 3,
    supply_only_share: float = 0.3,
    emode_lt: float = EMODE_LT,
    ipf_iterations: int = 200,
    classes: tuple[str | None, ...] | list[str | None] | None = None,
) -> CalibratedBook:
    """Draw a book whose borrowers are shaped like the reference's and whose totals match the market.

    Construction (``N`` = the reference's accounts, ``n_b = round(n_accounts (1 - supply_only_share))``
    borrowers, at least one account left to supply only):

    1. **Sizes.** The book's borrowers are the reference's rank-size structure, scaled. Ranks
       ``1..n_placed`` take the reference's debts of the same rank. Ranks ``n_placed+1..min(N, n_b)``
       are drawn from a Pareto tail fitted by maximum likelihood (:class:`ParetoTail`) to the
       reference's debts below the placed ones, truncated to the range it was fitted on (the
       reference's smallest debt to its ``n_placed``-th). Ranks past ``N`` continue the same law
       below the reference's smallest debt, down to the size at which a Pareto tail with that index
       holds ``n_b`` accounts (``x_N (n_b / N)^(-1/alpha)``). All debts are then scaled so they sum
       to ``sum(borrowed_usd)``. The book's top-k shares are therefore measured on its ``N``
       largest borrowers, like the reference's (:attr:`CalibratedBook.concentration`).
    2. **Leverage.** A placed account takes its reference account's collateral/debt; a drawn one,
       that of a reference account of similar rank (within a factor 2; past rank ``N``, the
       reference's lower half), so leverage depends on size as in the data (the largest accounts
       are loops). Reference accounts with collateral/debt below 1 (the source lacks their
       collateral) are not drawn.
    3. **Collateral assets** (the reference has no breakdown): 1 to ``max_assets_per_account``
       assets with a non-zero LT, drawn with probability proportional to what is left of each
       asset's ``supplied_usd``. The largest 500 accounts are placed one by one, never past an
       asset's supply, their split proportional to that remaining supply times a flat Dirichlet
       draw; the rest in chunks, split by a flat Dirichlet.
    4. **Health factor.** With ``LT_a`` the account's LT-weighted threshold under ``current``, the
       account keeps the reference's leverage (collateral = debt x collateral/debt, HF =
       collateral/debt x ``LT_a``) when that HF is at least ``hf_min``. Otherwise its leverage is
       one only an e-mode reaches (the reference's 1.02-1.15 loops); e-modes are not modelled, so it
       is placed as a reserve position at the same distance to liquidation it has in the e-mode of
       the largest loops (``emode_lt``, 95 %): ``HF = hf_min x max(collateral/debt x emode_lt, 1)``,
       and posts the collateral that HF needs under ``LT_a``. Every borrower starts at HF >= ``hf_min``.
    4b. **A loop's collateral is of its debt's class** (a real loop is WETH debt against liquid-staking
       ETH, stablecoin debt against stablecoins). Its class (:data:`LOOP_CLASSES`) is that of its
       reference account's ``largest_debt_asset`` (:data:`REFERENCE_SYMBOL_CLASS`; a placed account's
       own, a drawn one's the account its leverage came from); when that symbol has no class, or the
       config's borrowed assets of that class have no room left for the account's debt (their
       ``borrowed_usd`` less earlier loops' debt), the class with the most room. The account's
       collateral is then redrawn as in 3 among the config's assets of that class only (``classes``:
       an asset pegged to the class, or the class's own asset, e.g. ``eth``, which stands for the
       liquid-staking tokens too), at the same HF rule, and its debt (step 5) is in that class's
       borrowed assets only. A loop whose class the config has no collateral or borrowed asset of
       (or whose class supply is used up) keeps the collateral of 3: it is flagged
       (:attr:`CalibratedBook.loop_fallback`; :attr:`CalibratedBook.missing_classes`). An account
       whose class collateral carries its leverage at reserve thresholds is an ordinary position.
    5. **Debt assets.** A placed account owes its reference account's ``largest_debt_asset`` when
       the market has an asset of that symbol with room for it (the largest shortfall otherwise);
       the others 1-2 assets in proportion to the remaining shortfall, with the split fitted so
       per-asset debt approaches ``borrowed_usd`` (:func:`optimizer.protocol.books._assign_debt`).
       A loop owes only its class's borrowed assets; an account that is not a loop and posts one
       collateral asset does not borrow that asset (supplying USDC to borrow USDC buys nothing
       outside a loop) unless it is the only asset borrowed.
    6. **Supply-only accounts** (``n_accounts - n_b``) hold what is left of each asset's
       ``supplied_usd``: Pareto sizes with tail index ``size_tail``, assets in proportion to the
       remainder, rescaled so collateral per asset equals ``supplied_usd`` exactly.

    If the borrowers' collateral would exceed an asset's supply (the chunks overshoot), their
    holdings of it are scaled down and those accounts' debt with them (their HF kept), and the
    shortfall of debt is logged.

    Parameters
    ----------
    assets, symbols : sequence of str
        Asset names (the book's universe) and their market symbols (matched, case-insensitively,
        against ``largest_debt_asset``).
    supplied_usd, borrowed_usd : array_like of shape (n_assets,)
    n_accounts : int
    current : RiskParams
        Parameters in force; health factors are drawn under them.
    rng : numpy.random.Generator
    reference : ReferenceBook
    n_placed : int, default 10
        Accounts placed individually (1 <= n_placed < reference.n_accounts - 1).
    hf_min : float, default 1.0
    size_tail : float, default 1.3
        Pareto tail index of the supply-only accounts' sizes.
    max_assets_per_account, supply_only_share, ipf_iterations
        As in :func:`~optimizer.protocol.books.synthetic_book`.
    emode_lt : float, default :data:`EMODE_LT`
    classes : sequence of (str or None), optional
        Each asset's correlated class ("eth", "usd", "btc" or None); None: no asset has one (every
        loop keeps the collateral of step 3, flagged).

    Returns
    -------
    CalibratedBook
        The book (``source="synthetic, calibrated to <reference file>"``; borrowers first, largest
        first) and what it took from the reference.
    """
    names, supply, borrow = _check_market(assets, current, supplied_usd, borrowed_usd, rng)
    n_assets = len(names)
    if len(symbols) != n_assets:
        raise ValueError(f"`symbols` must have one symbol per asset ({n_assets}), got {len(symbols)}")
    if n_accounts < 2:
        raise ValueError(f"`n_accounts` must be >= 2 (a borrower and a supplier), got {n_accounts}")
    n_ref = reference.n_accounts
    if not 1 <= n_placed <= n_ref - 2:
        raise ValueError(f"`n_placed` must lie in [1, {n_ref - 2}] (the reference has {n_ref} accounts), "
                         f"got {n_placed}")
    if not hf_min > 0:
        raise ValueError(f"`hf_min` must be > 0, got {hf_min}")
    if not 0 < emode_lt < 1:
        raise ValueError(f"`emode_lt` must lie in (0, 1), got {emode_lt}")
    if not 0 <= supply_only_share < 1:
        raise ValueError(f"`supply_only_share` must lie in [0, 1), got {supply_only_share}")
    cls = np.array(["" if c is None else str(c) for c in (classes if classes is not None else [None] * n_assets)],
                   dtype=object)
    if len(cls) != n_assets:
        raise ValueError(f"`classes` must have one entry per asset ({n_assets}), got {len(cls)}")
    lt = current.liquidation_threshold
    can_back = (supply > 0) & (lt > 0)
    if not can_back.any():
        raise ValueError("no asset has both supply and a liquidation threshold > 0: nothing can back debt")

    n = int(n_accounts)
    n_b = 0 if borrow.sum() <= 0 else int(min(max(1, round(n * (1 - supply_only_share))), n - 1))
    ref_debt = reference.debt_usd
    tail = ParetoTail(lower=float(ref_debt[-1]), upper=float(ref_debt[n_placed - 1])).fit(ref_debt[n_placed:])

    # 1. sizes, in the reference's dollars, then scaled to the market
    k_placed = min(n_placed, n_b)
    k_in = max(0, min(n_ref, n_b) - n_placed)
    k_out = max(0, n_b - n_ref)
    drawn_in = np.sort(tail.sample(k_in, rng))[::-1]
    floor = tail.lower_ * (n_b / n_ref) ** (-1.0 / tail.alpha_) if k_out else tail.lower_
    drawn_out = np.sort(tail.sample(k_out, rng, lower=floor, upper=tail.lower_))[::-1] if k_out else np.zeros(0)
    size_ref = np.concatenate([ref_debt[:k_placed], drawn_in, drawn_out])
    debt_b = size_ref * (borrow.sum() / size_ref.sum()) if n_b else np.zeros(0)
    market_share_top = float(size_ref[:n_ref].sum() / size_ref.sum()) if n_b else float("nan")

    # 2. leverage by rank
    ranks = np.arange(1, n_b + 1)
    cd, ref_of = _leverage_draws(reference, ranks, n_placed, rng)
    own = reference.collateral_to_debt[:k_placed]
    cd[:k_placed] = np.where(own >= 1.0, own, cd[:k_placed])
    ref_of[:k_placed] = np.arange(k_placed)
    wanted = np.array([REFERENCE_SYMBOL_CLASS.get(reference.largest_debt_asset[j].strip().lower(), "")
                       for j in ref_of], dtype=object)
    loops = _LoopClasses(cls, can_back, borrow, scale=float(debt_b.sum() / borrow.sum()) if n_b else 1.0)
    loop_class = np.full(n_b, "", dtype=object)

    def class_place(a: int, room: FloatArray) -> tuple[np.ndarray, FloatArray, float, bool] | None:
        """Account ``a``'s collateral among its class's assets (None: the fallback)."""
        c = loops.choose(str(wanted[a]), float(debt_b[a]))
        if not c:
            return None
        got = _place_one(rng, np.where(loops.collateral[c], room, 0.0), int(n_coll[a]), float(debt_b[a]),
                         float(cd[a]), lt, hf_min, emode_lt)
        if got[2] is None:  # its class's supply is used up
            return None
        if got[3]:
            loop_class[a] = c
            loops.take(c, float(debt_b[a]))
        return got[0], got[1], float(got[2]), bool(got[3])

    # 3-4. collateral assets, split and amount, never past an asset's supply
    n_coll = _count_draw(rng, n_b, max_assets_per_account, int(np.count_nonzero(can_back)))
    cap = np.where(can_back, supply, 0.0)
    used = np.zeros(n_assets)
    rows_asset: list[np.ndarray] = []
    rows_usd: list[np.ndarray] = []
    hf = np.zeros(n_b)
    emode = np.zeros(n_b, dtype=bool)
    n_seq = min(n_b, _N_SEQUENTIAL)
    for a in range(n_seq):
        cols, amounts, h, e = _place_one(rng, cap - used, int(n_coll[a]), float(debt_b[a]), float(cd[a]),
                                         lt, hf_min, emode_lt)
        if h is not None and e:  # a loop: its class's collateral
            placed_c = class_place(a, cap - used)
            if placed_c is not None:
                cols, amounts, h, e = placed_c
        if h is None:  # the supply left cannot carry it: the account owes what its collateral allows
            lt_coll = float(np.dot(amounts, lt[cols]))
            lt_acct = lt_coll / amounts.sum() if amounts.sum() > 0 else 0.0
            h_arr, e_arr = _health_rule(np.array([cd[a]]), np.array([lt_acct]), hf_min, emode_lt)
            h, e = float(h_arr[0]), bool(e_arr[0])
            debt_b[a] = lt_coll / h if lt_acct > 0 else 0.0
            logger.warning("calibrated book: the supply left cannot carry account %d's debt; it owes %.6g",
                           a, debt_b[a])
        rows_asset.append(cols)
        rows_usd.append(amounts)
        used[cols] += amounts
        hf[a], emode[a] = h, e
    rest = np.arange(n_seq, n_b)
    step = max(64, len(rest) // 64)
    chunk_asset: list[np.ndarray] = []
    chunk_usd: list[np.ndarray] = []
    chunk_indptr: list[np.ndarray] = []
    for r0 in range(0, len(rest), step):
        chunk = rest[r0 : r0 + step]
        left = np.maximum(cap - used, 0.0)
        w = left if np.count_nonzero(left) >= int(n_coll[chunk].max()) else cap
        counts = np.minimum(n_coll[chunk], np.count_nonzero(w))
        sub_indptr, sub_asset = _pick_assets(rng, w, counts)
        split = rng.gamma(1.0, size=len(sub_asset))
        split /= np.repeat(_row_sums(sub_indptr, split), counts)
        lt_acct = _row_sums(sub_indptr, split * lt[sub_asset])
        h, e = _health_rule(cd[chunk], lt_acct, hf_min, emode_lt)
        coll_tot = h * debt_b[chunk] / lt_acct
        amounts = np.repeat(coll_tot, counts) * split
        if e.any():  # loops: their class's collateral, placed one by one
            r_cols = np.split(sub_asset, sub_indptr[1:-1])
            r_usd = np.split(amounts, sub_indptr[1:-1])
            extra = np.zeros(n_assets)
            for i in np.flatnonzero(e):
                placed_c = class_place(int(chunk[i]), cap - used - extra)
                if placed_c is not None:
                    r_cols[i], r_usd[i], h[i], e[i] = placed_c
                    extra[r_cols[i]] += r_usd[i]
            counts = np.array([len(c) for c in r_cols], dtype=np.int64)
            sub_indptr = np.concatenate([[0], np.cumsum(counts)])
            sub_asset = np.concatenate(r_cols).astype(np.int64)
            amounts = np.concatenate(r_usd)
        used += np.bincount(sub_asset, weights=amounts, minlength=n_assets)
        hf[chunk], emode[chunk] = h, e
        chunk_asset.append(sub_asset)
        chunk_usd.append(amounts)
        chunk_indptr.append(sub_indptr)
    b_coll = _csr(n_b, rows_asset, rows_usd, chunk_indptr, chunk_asset, chunk_usd, n_assets)
    over = used > cap * (1 + 1e-12)
    if over.any():  # chunks overshot an asset's supply: scale those holdings and the accounts' debt
        f = np.where(over, cap / np.where(used > 0, used, 1.0), 1.0)
        lt_before = _row_sums(b_coll.indptr, b_coll.data * lt[b_coll.indices])
        b_coll.data = b_coll.data * f[b_coll.indices]
        lt_after = _row_sums(b_coll.indptr, b_coll.data * lt[b_coll.indices])
        debt_b = debt_b * np.divide(lt_after, lt_before, out=np.ones(n_b), where=lt_before > 0)
        logger.warning("calibrated book: borrowers' collateral exceeded the supply of %s; their holdings "
                       "and debt were scaled down (HF kept): debt total %.6g instead of %.6g",
                       ", ".join(np.array(names)[over]), debt_b.sum(), borrow.sum())
    used = np.bincount(b_coll.indices, weights=b_coll.data, minlength=n_assets)

    # 5. debt assets: the placed accounts' largest debt asset where the market has it
    index = {s.strip().lower(): i for i, s in enumerate(symbols) if s and borrow[i] > 0}
    preferred = np.full(n_b, -1, dtype=np.int64)
    allowed_rows, avoid = _debt_rows(b_coll, loop_class, loops, borrow)
    for a in range(k_placed):
        p = index.get(reference.largest_debt_asset[a].strip().lower(), -1)
        preferred[a] = p if p >= 0 and allowed_rows[a, p] else -1
    d_indptr, d_asset, d_usd = _assign_debt(rng, borrow, debt_b, ipf_iterations, preferred, allowed_rows, avoid)

    # 6. supply-only accounts hold what is left of each asset
    remainder = np.maximum(supply - used, 0.0)
    remainder[remainder < 1e-9 * supply.sum()] = 0.0
    n_s = n - n_b
    s_coll = _supply_only(rng, remainder, n_s, size_tail, max_assets_per_account)

    coll = sp.vstack([b_coll, s_coll]).tocsr()
    coll.sort_indices()
    debt_indptr = np.concatenate([d_indptr, np.full(n_s, d_indptr[-1])])
    book = Book(
        assets=names,
        account_ids=tuple(f"acct{i:06d}" for i in range(n)),
        coll_indptr=coll.indptr, coll_asset=coll.indices, coll_usd=coll.data,
        debt_indptr=debt_indptr, debt_asset=d_asset, debt_usd=d_usd,
        source=f"synthetic, calibrated to {reference.source}",
    )
    hf_all = np.full(n, np.inf)
    hf_all[:n_b] = hf
    cd_all = np.full(n, np.nan)
    cd_all[:n_b] = cd
    em_all = np.zeros(n, dtype=bool)
    em_all[:n_b] = emode
    lc_all = np.full(n, "", dtype=object)
    lc_all[:n_b] = np.where(emode, loop_class, "")
    fb_all = np.zeros(n, dtype=bool)
    fb_all[:n_b] = emode & (loop_class == "")
    if fb_all.any():
        logger.warning("calibrated book: %d e-mode account(s) keep collateral drawn like everyone's (classes "
                       "missing from the config: %s)", int(fb_all.sum()), ", ".join(loops.missing) or "none")
    return CalibratedBook(
        book=book, reference=reference, tail=tail, n_placed=int(n_placed), reference_cd=cd_all, emode=em_all,
        health_factor=hf_all, preferred_found=int(np.count_nonzero(preferred[:k_placed] >= 0)),
        market_share_top=market_share_top, emode_lt=float(emode_lt),
        loop_class=lc_all, loop_fallback=fb_all, asset_classes=tuple(c or None for c in cls),
        missing_classes=tuple(loops.missing), borrowed_usd=borrow.copy(),
    )


class _LoopClasses:
    """The correlated classes the config has (collateral and borrowed assets of each) and the borrow
    room each has left for loops."""

    def __init__(self, cls: np.ndarray, can_back: np.ndarray, borrow: FloatArray, scale: float) -> None:
        self.collateral = {c: (cls == c) & can_back for c in LOOP_CLASSES}
        self.debt = {c: (cls == c) & (borrow > 0) for c in LOOP_CLASSES}
        self.room = {c: float(borrow[self.debt[c]].sum()) * scale for c in LOOP_CLASSES
                     if self.collateral[c].any() and self.debt[c].any()}
        self.missing: list[str] = []

    def choose(self, wanted: str, debt: float) -> str:
        """The account's class: ``wanted`` when the config has it with room for ``debt``; "" (the
        fallback) when the config lacks it; else (no class, or no room) the class with the most room."""
        if wanted and wanted not in self.room:
            if wanted not in self.missing:
                self.missing.append(wanted)
            return ""
        if wanted and self.room[wanted] >= debt:
            return wanted
        best = max(self.room, key=lambda c: self.room[c], default="")
        return best if best and self.room[best] >= debt else ""

    def take(self, c: str, debt: float) -> None:
        self.room[c] -= debt


def _debt_rows(b_coll: sp.csr_matrix, loop_class: np.ndarray, loops: _LoopClasses,
               borrow: FloatArray) -> tuple[np.ndarray, np.ndarray]:
    """(assets each borrower may owe, asset each should avoid): a loop owes its class's borrowed
    assets only; an ordinary account with one collateral asset avoids that one when another asset
    is borrowed (-1: nothing to avoid)."""
    n_b, n_assets = b_coll.shape
    ok = np.broadcast_to(borrow > 0, (n_b, n_assets)).copy()
    avoid = np.full(n_b, -1, dtype=np.int64)
    counts = np.diff(b_coll.indptr)
    single = np.flatnonzero((counts == 1) & (loop_class == ""))
    j = b_coll.indices[b_coll.indptr[single]]
    other = ((borrow > 0).sum() - (borrow[j] > 0)) > 0
    avoid[single[other]] = j[other]
    for c in LOOP_CLASSES:
        rows = np.flatnonzero(loop_class == c)
        if len(rows):
            ok[rows] = loops.debt[c]
    return ok, avoid


def _place_one(
    rng: np.random.Generator, room: FloatArray, k: int, debt: float, cd: float, lt: FloatArray,
    hf_min: float, emode_lt: float,
) -> tuple[np.ndarray, FloatArray, float | None, bool]:
    """One large account's collateral: ``k`` assets drawn in proportion to the ``room`` left, split in
    proportion to that room times a flat Dirichlet draw (no account takes most of a small asset), the amount its health factor needs; an asset's share beyond its room moves to
    the chosen assets with room, then to the asset with the most room. Returns (assets sorted,
    USD, HF or None when the supply left cannot carry it, e-mode flag)."""
    room = np.maximum(room, 0.0)
    avail = np.flatnonzero(room > 0)
    if len(avail) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), None, False
    k = max(1, min(k, len(avail)))
    _, cols = _pick_assets(rng, room, np.array([k]))
    cols = np.asarray(cols, dtype=np.int64)
    split = rng.gamma(1.0, size=len(cols)) * room[cols]
    split /= split.sum()
    for _ in range(2 * len(room) + 2):
        lt_acct = float(np.dot(split, lt[cols]))
        h, e = _health_rule(np.array([cd]), np.array([lt_acct]), hf_min, emode_lt)
        need = float(h[0]) * debt / lt_acct
        amounts = split * need
        excess = amounts - room[cols]
        if np.all(excess <= 1e-9 * need):
            order = np.argsort(cols)
            return cols[order], amounts[order], float(h[0]), bool(e[0])
        amounts = np.minimum(amounts, room[cols])
        spill = need - amounts.sum()
        spare = room[cols] - amounts
        if spare.sum() >= spill:
            amounts = amounts + spill * spare / spare.sum()
        else:
            amounts = amounts + spare
            others = np.setdiff1d(avail, cols)
            if len(others) == 0:  # every asset is full: keep what fits, the caller lowers the debt
                order = np.argsort(cols)
                return cols[order], amounts[order], None, bool(e[0])
            j = others[np.argmax(room[others])]
            cols = np.append(cols, j)
            amounts = np.append(amounts, min(spill - spare.sum(), room[j]))
        split = amounts / amounts.sum()
    order = np.argsort(cols)
    return cols[order], amounts[order], None, bool(e[0])


def _csr(n_b: int, rows_asset: list[np.ndarray], rows_usd: list[np.ndarray], chunk_indptr: list[np.ndarray],
         chunk_asset: list[np.ndarray], chunk_usd: list[np.ndarray], n_assets: int) -> sp.csr_matrix:
    """The borrowers' collateral as one (n_b, n_assets) CSR matrix: sequential rows, then chunks."""
    counts = [len(c) for c in rows_asset] + [int(c) for ip in chunk_indptr for c in np.diff(ip)]
    indptr = np.zeros(n_b + 1, dtype=np.int64)
    if not counts:
        return sp.csr_matrix((n_b, n_assets))
    np.cumsum(np.asarray(counts, dtype=np.int64), out=indptr[1:])
    idx = np.concatenate(rows_asset + chunk_asset)
    val = np.concatenate(rows_usd + chunk_usd)
    m = sp.csr_matrix((val, idx.astype(np.int32), indptr), shape=(n_b, n_assets))
    m.sum_duplicates()
    m.sort_indices()
    return m


def _supply_only(rng: np.random.Generator, remainder: FloatArray, n_s: int, size_tail: float,
                 max_assets: int) -> sp.csr_matrix:
    """``n_s`` supply-only accounts holding ``remainder`` per asset exactly (every asset with a
    remainder has at least one holder)."""
    n_assets = len(remainder)
    if n_s == 0 or remainder.sum() <= 0:
        if remainder.sum() > 0:
            logger.warning("calibrated book: no supply-only account to hold %.6g of supply left over",
                           remainder.sum())
        return sp.csr_matrix((n_s, n_assets))
    size = 1.0 + rng.pareto(size_tail, size=n_s)
    counts = _count_draw(rng, n_s, max_assets, int(np.count_nonzero(remainder)))
    indptr, cols = _pick_assets(rng, remainder, counts)
    split = rng.gamma(1.0, size=len(cols))
    split /= np.repeat(_row_sums(indptr, split), counts)
    vals = np.repeat(size, counts) * split
    rows = np.repeat(np.arange(n_s), counts)
    missing = np.setdiff1d(np.flatnonzero(remainder > 0), cols)
    if len(missing):  # an asset nobody drew goes to accounts drawn for it
        extra = rng.integers(0, n_s, size=len(missing))
        rows = np.concatenate([rows, extra])
        cols = np.concatenate([cols, missing])
        vals = np.concatenate([vals, size[extra]])
    m = sp.csr_matrix((vals, (rows, cols)), shape=(n_s, n_assets))
    m.sum_duplicates()
    tot = np.asarray(m.sum(axis=0)).ravel()
    f = np.divide(remainder, tot, out=np.zeros(n_assets), where=tot > 0)
    m.data = m.data * f[m.indices]
    m.eliminate_zeros()
    m.sort_indices()
    return m
