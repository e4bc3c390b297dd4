"""Position books: loading a CSV export and drawing a synthetic book calibrated to market totals.

CSV format
----------
One row per account and asset, columns ``account,asset,collateral_usd,debt_usd`` (extra columns
are ignored; either amount may be 0). Asset tickers are matched case-insensitively against the
asset universe of the price data. Every problem raises :class:`~optimizer.exceptions.DataError`
naming the file, the line, the account and the asset.

Synthetic books
---------------
:func:`synthetic_book` draws accounts the way real lending markets look: a heavy tail of account
sizes (Pareto, tail index ``size_tail``), 1 to ``max_assets_per_account`` collateral assets chosen
in proportion to supply, debt in 1-2 assets chosen in proportion to borrows, and health factors
drawn from a shifted log-normal above ``hf_min``. See its docstring for how totals are matched.
"""

from __future__ import annotations

import csv
import logging
import math
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike

from optimizer.exceptions import DataError
from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams

logger = logging.getLogger(__name__)

#: Columns a book CSV must have.
BOOK_COLUMNS = ("account", "asset", "collateral_usd", "debt_usd")

__all__ = ["BOOK_COLUMNS", "load_book_csv", "open_csv", "save_book_csv", "synthetic_book"]


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

def read_header(reader: Any, path: Path, columns: Sequence[str], kind: str) -> dict[str, int]:
    """Column index of each of ``columns`` in a CSV reader's header (case- and space-insensitive).

    The protocol layer's own header check (the book readers'): protocol and data are both bottom layers
    and must not import each other (docs/architecture.md), so it cannot use
    :func:`optimizer.data._csv.header_columns`, the data layer's.

    Raises :class:`DataError` naming ``path`` when the header is empty or a column is missing.
    """
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise DataError(f"{path}: {kind} file is empty (expected a header {','.join(columns)})")
    names = [h.strip().lower() for h in header]
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: {kind} is missing column(s) {missing}; found {names}")
    return {c: names.index(c) for c in columns}

class open_csv:
    """``with open_csv(path, "book") as fh:`` a UTF-8 CSV whose decoding and parsing errors become one
    :class:`DataError` naming the file (a binary file would otherwise end in ``UnicodeDecodeError``)."""

    def __init__(self, path: Path, kind: str, columns: Sequence[str] = BOOK_COLUMNS) -> None:
        self.path, self.kind, self.columns = path, kind, columns

    def __enter__(self) -> Any:
        self._fh = self.path.open(newline="", encoding="utf-8")
        return self._fh

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._fh.close()
        if isinstance(exc, UnicodeDecodeError):
            raise DataError(f"{self.path}: {self.kind} file is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                            f"offset {exc.start}); expected a CSV with columns {','.join(self.columns)}") from None
        if isinstance(exc, csv.Error):
            raise DataError(f"{self.path}: {self.kind} file is not a readable CSV: {exc}") from None


def _parse_amount(
    text: str, *, path: Path, line: int, account: str, asset: str, column: str
) -> float:
    where = f"{path}, line {line} (account {account!r}, asset {asset!r})"
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: `{column}` is not a number: {text!r}") from None
    if math.isnan(value):
        raise DataError(f"{where}: `{column}` is NaN")
    if math.isinf(value):
        raise DataError(f"{where}: `{column}` is infinite")
    if value < 0:
        raise DataError(f"{where}: `{column}` is negative ({value}); amounts are USD values >= 0")
    return value


def load_book_csv(path: str | PathLike[str], assets: tuple[str, ...] | list[str]) -> Book:
    """Load a position book from CSV.

    Parameters
    ----------
    path : path-like
        CSV with columns ``account,asset,collateral_usd,debt_usd``.
    assets : sequence of str
        Asset universe (the price columns); the book's ``assets`` in this order.

    Returns
    -------
    Book
        Accounts in order of first appearance; ``source`` is the path.

    Raises
    ------
    DataError
        Missing file or columns, empty file, a non-numeric / NaN / negative amount, an asset
        without prices, or a repeated (account, asset) row.
    """
    p = Path(path)
    universe = tuple(str(a).lower() for a in assets)
    index = {a: i for i, a in enumerate(universe)}
    if not p.is_file():
        raise DataError(f"{p}: book file not found")
    coll: dict[str, dict[int, float]] = {}
    debt: dict[str, dict[int, float]] = {}
    seen: dict[tuple[str, int], int] = {}
    first_line: dict[str, int] = {}
    with open_csv(p, "book") as fh:
        reader = csv.reader(fh)
        col = read_header(reader, p, BOOK_COLUMNS, "book")
        width = max(col.values()) + 1
        n_rows = 0
        for row in reader:
            line = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < width:
                raise DataError(
                    f"{p}, line {line}: expected at least {width} fields, got {len(row)}"
                )
            account = row[col["account"]].strip()
            asset = row[col["asset"]].strip().lower()
            if not account:
                raise DataError(f"{p}, line {line}: empty `account`")
            if asset not in index:
                raise DataError(
                    f"{p}, line {line} (account {account!r}): book references asset {asset!r} "
                    f"which has no prices; known assets: {', '.join(universe)}"
                )
            kw = dict(path=p, line=line, account=account, asset=asset)
            c_val = _parse_amount(row[col["collateral_usd"]].strip(), column="collateral_usd", **kw)
            d_val = _parse_amount(row[col["debt_usd"]].strip(), column="debt_usd", **kw)
            j = index[asset]
            if (account, j) in seen:
                raise DataError(
                    f"{p}, line {line}: account {account!r} has a second row for asset {asset!r} "
                    f"(first on line {seen[(account, j)]}); one row per account and asset"
                )
            seen[(account, j)] = line
            first_line.setdefault(account, line)
            coll.setdefault(account, {})
            debt.setdefault(account, {})
            if c_val > 0:
                coll[account][j] = c_val
            if d_val > 0:
                debt[account][j] = d_val
            n_rows += 1
    if n_rows == 0:
        raise DataError(f"{p}: book file has a header but no rows")
    bare = [a for a in coll if debt[a] and not coll[a]]
    if bare:
        more = f" (and {len(bare) - 1} more account(s))" if len(bare) > 1 else ""
        owed = sum(debt[bare[0]].values())
        raise DataError(
            f"{p}, line {first_line[bare[0]]}: account {bare[0]!r} owes ${owed:,.0f} and posts no collateral"
            f"{more}; a lending market cannot hold such a position (it would be bad debt in every scenario): "
            "add its collateral rows or drop the account"
        )
    ids = tuple(coll)

    def _csr(side: dict[str, dict[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        idx: list[int] = []
        val: list[float] = []
        for a, acct in enumerate(ids):
            items = sorted(side[acct].items())
            idx.extend(i for i, _ in items)
            val.extend(v for _, v in items)
            indptr[a + 1] = len(idx)
        return indptr, np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.float64)

    ci, ca, cu = _csr(coll)
    di, da, du = _csr(debt)
    return Book(
        assets=universe,
        account_ids=ids,
        coll_indptr=ci,
        coll_asset=ca,
        coll_usd=cu,
        debt_indptr=di,
        debt_asset=da,
        debt_usd=du,
        source=str(p),
    )


def save_book_csv(book: Book, path: str | PathLike[str]) -> Path:
    """Write ``book`` in the format :func:`load_book_csv` reads (one row per account and asset)."""
    p = Path(path)
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(BOOK_COLUMNS)
        for a, acct in enumerate(book.account_ids):
            rows: dict[int, list[float]] = {}
            for k in range(book.coll_indptr[a], book.coll_indptr[a + 1]):
                rows.setdefault(int(book.coll_asset[k]), [0.0, 0.0])[0] = float(book.coll_usd[k])
            for k in range(book.debt_indptr[a], book.debt_indptr[a + 1]):
                rows.setdefault(int(book.debt_asset[k]), [0.0, 0.0])[1] = float(book.debt_usd[k])
            for i in sorted(rows):
                w.writerow([acct, book.assets[i], repr(rows[i][0]), repr(rows[i][1])])
    return p


# --------------------------------------------------------------------------------------------
# synthetic
# --------------------------------------------------------------------------------------------
def _pick_assets(
    rng: np.random.Generator, weights: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row choose ``counts[row]`` distinct columns with probability ~ ``weights``.

    Gumbel top-k (sampling without replacement proportional to weight); ``weights`` is
    (n_cols,) for every row or (n_rows, n_cols). Each row needs ``counts[row]`` positive weights.
    Returns CSR (indptr, column) with columns sorted within a row.
    """
    n = len(counts)
    logw = np.full(weights.shape, -np.inf)
    np.log(weights, out=logw, where=weights > 0)
    keys = np.broadcast_to(logw, (n, weights.shape[-1])) + rng.gumbel(size=(n, weights.shape[-1]))
    order = np.argsort(-keys, axis=1)
    kmax = int(counts.max()) if n else 0
    top = order[:, :kmax]
    take = np.arange(kmax)[None, :] < counts[:, None]
    cols = np.where(take, top, np.iinfo(np.int64).max)
    cols.sort(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, cols[take]


def _count_draw(rng: np.random.Generator, n: int, k_max: int, available: int) -> np.ndarray:
    """Draw the number of assets per account: 1 most often, geometric decay up to ``k_max``."""
    k_max = max(1, min(k_max, available))
    p = 0.45 ** np.arange(k_max)
    return 1 + rng.choice(k_max, size=n, p=p / p.sum())


def _row_sums(indptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.add.reduceat(np.append(values, 0.0), indptr[:-1])
    out[np.diff(indptr) == 0] = 0.0
    return out


def _assign_debt(
    rng: np.random.Generator, borrow: np.ndarray, debt_tot: np.ndarray, ipf_iterations: int,
    preferred: np.ndarray | None = None, allowed_rows: np.ndarray | None = None,
    avoid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread each account's total debt over 1-2 assets so per-asset totals approach ``borrow``.

    ``preferred`` (one asset index per account, -1 for none) names an asset an account owes all
    its debt in, when that asset is still short of its target by at least the account's debt.
    ``allowed_rows`` (bool, shape (n_accounts, n_assets)) restricts each account to the borrowed
    assets its row allows (every borrower's row must allow at least one); the accounts allowed a
    single asset owe it first, so the others fill what is left. ``None``: every borrowed asset,
    with exactly the draws made without the argument. ``avoid`` (one asset index per account, -1
    for none) names an asset an account does not owe while another allowed asset has room for its
    debt (its remaining shortfall covers the account's debt; in the chunks, the other assets'
    shortfalls together, or always when the other open assets' targets can hold all of that asset's
    avoiders); otherwise the market's totals come first and it may owe it.

    Sizes are heavy-tailed, so assets are drawn in proportion to the *remaining* shortfall of
    each asset's target: the largest accounts one by one (a few hundred decide most of the
    total), the rest at once. Iterative proportional fitting then adjusts the splits, and a final
    exact row rescale keeps every account's total (hence its health factor).
    """
    n = len(debt_tot)
    n_assets = len(borrow)
    idx_b = np.flatnonzero(debt_tot > 0)
    n_debt = np.zeros(n, dtype=np.int64)
    d_indptr = np.zeros(n + 1, dtype=np.int64)
    if len(idx_b) == 0:
        return d_indptr, np.zeros(0, dtype=np.int32), np.zeros(0)
    n_avail = int(np.count_nonzero(borrow))
    n_debt[idx_b] = _count_draw(rng, len(idx_b), 2, n_avail)
    target = borrow * (debt_tot.sum() / borrow.sum())
    allowed = borrow > 0
    row_ok = None
    forced = np.zeros(n, dtype=bool)
    if allowed_rows is not None:
        row_ok = np.asarray(allowed_rows, dtype=bool) & allowed[None, :]
        if row_ok.shape != (n, n_assets) or not row_ok[idx_b].any(axis=1).all():
            raise ValueError("`allowed_rows` must be (n_accounts, n_assets) and allow a borrowed asset per borrower")
        # accounts allowed one asset owe it, before the others choose; what they fill is closed to the others
        forced = (row_ok.sum(axis=1) == 1) & (debt_tot > 0)
        own = row_ok.argmax(axis=1)
        filled = np.bincount(own[forced], weights=debt_tot[forced], minlength=n_assets)
        full = allowed & (target - filled <= 1e-3 * target)  # filled to within 0.1 %
        if forced.any() and (allowed & ~full).any():
            allowed = allowed & ~full
            keep = row_ok & allowed[None, :]
            row_ok = np.where(keep.any(axis=1)[:, None], keep, row_ok)
        n_debt = np.minimum(n_debt, row_ok.sum(axis=1))
    av = np.full(n, -1, dtype=np.int64) if avoid is None else np.asarray(avoid, dtype=np.int64)
    if avoid is not None:
        n_ok = (row_ok if row_ok is not None else np.broadcast_to(allowed, (n, n_assets))).sum(axis=1)
        has = av >= 0
        n_debt[has] = np.maximum(1, np.minimum(n_debt[has], n_ok[has] - 1))
        # an asset's avoiders are kept off it outright when the other open assets' targets can hold them
        free_cap = np.maximum(target - (filled if forced.any() else 0.0), 0.0) * allowed
        demand = np.bincount(av[has], weights=debt_tot[has], minlength=n_assets)
        hard = demand <= free_cap.sum() - free_cap
    else:
        hard = np.zeros(n_assets, dtype=bool)
    if preferred is not None:
        n_debt[(preferred >= 0) & (debt_tot > 0)] = 1
    np.cumsum(n_debt, out=d_indptr[1:])
    d_asset = np.zeros(d_indptr[-1], dtype=np.int64)
    d_usd = np.zeros(d_indptr[-1])
    assigned = np.zeros(n_assets)
    order = idx_b[np.argsort(-debt_tot[idx_b], kind="stable")]
    if forced.any():
        for a in order[forced[order]]:
            d_asset[d_indptr[a]] = own[a]
            d_usd[d_indptr[a]] = debt_tot[a]
        assigned += filled
        order = order[~forced[order]]
    n_big = min(len(order), 500)

    def pick(amount: float, deficit: np.ndarray, exclude: int = -1, row: np.ndarray | None = None,
             shun: int = -1) -> int:
        ok = allowed.copy() if row is None else allowed & row
        if exclude >= 0:
            ok[exclude] = False
        fits = ok & (deficit >= amount)
        if shun >= 0 and (fits & (np.arange(n_assets) != shun)).any():
            fits[shun] = False
        if fits.any():
            w = deficit * fits
            return int(rng.choice(n_assets, p=w / w.sum()))
        return int(np.argmax(np.where(ok, deficit, -np.inf)))  # nothing fits: largest shortfall

    for a in order[:n_big]:
        deficit = target - assigned
        total_a = float(debt_tot[a])
        pref = -1 if preferred is None else int(preferred[a])
        row = None if row_ok is None else row_ok[a]
        if pref >= 0 and allowed[pref] and (row is None or row[pref]) and deficit[pref] >= total_a:
            cols = np.array([pref])
            amounts = np.array([total_a])
        elif n_debt[a] == 1:
            cols = np.array([pick(total_a, deficit, row=row, shun=int(av[a]))])
            amounts = np.array([total_a])
        else:
            c0 = pick(0.0, np.maximum(deficit, 0.0) + 1e-300 * allowed, row=row, shun=int(av[a]))
            first = min(max(deficit[c0], 0.0), total_a) * rng.uniform(0.5, 1.0)
            c1 = pick(total_a - first, deficit, exclude=c0, row=row, shun=int(av[a]))
            cols = np.array([c0, c1])
            amounts = np.array([first, total_a - first])
        order_k = np.argsort(cols)
        sl = slice(d_indptr[a], d_indptr[a + 1])
        d_asset[sl] = cols[order_k]
        d_usd[sl] = amounts[order_k]
        assigned[cols] += amounts
    rest = order[n_big:]
    step = max(64, len(rest) // 64)
    for r0 in range(0, len(rest), step):  # smaller accounts in chunks, chasing the shortfall
        chunk = rest[r0 : r0 + step]
        deficit = np.maximum(target - assigned, 0.0) * allowed
        base_w = deficit if np.count_nonzero(deficit) >= 2 else borrow.copy()
        base_w = base_w + 1e-9 * base_w.sum() * allowed
        w = np.repeat(base_w[None, :], len(chunk), axis=0)
        if row_ok is not None:
            w = w * row_ok[chunk]
        # a one-asset account only takes an asset whose shortfall it fits in (when one exists)
        single = n_debt[chunk] == 1
        fits = deficit[None, :] >= debt_tot[chunk][:, None]
        if row_ok is not None:
            fits = fits & row_ok[chunk]
        if avoid is not None:  # shun the avoided asset while the others' shortfall covers the debt
            a_c = av[chunk]
            has = np.flatnonzero(a_c >= 0)
            w_has = w[has].copy()
            w_has[np.arange(len(has)), a_c[has]] = 0.0
            room = ((deficit[None, :] * (w_has > 0)).sum(axis=1) >= debt_tot[chunk][has]) | hard[a_c[has]]
            w[has[room], a_c[has[room]]] = 0.0
            fits[has, a_c[has]] &= ~room
            # kept off it with no shortfall left elsewhere: spread in proportion to the targets
            spill = has[room & ((deficit[None, :] * (w_has > 0)).sum(axis=1) < debt_tot[chunk][has])]
            w[spill] = np.where(w[spill] > 0, (borrow * allowed)[None, :], 0.0)
        use_fit = single & fits.any(axis=1)
        w[use_fit] *= fits[use_fit]
        sub_indptr, sub_asset = _pick_assets(rng, w, n_debt[chunk])
        split = rng.gamma(1.0, size=len(sub_asset))
        split /= np.repeat(_row_sums(sub_indptr, split), n_debt[chunk])
        amounts = np.repeat(debt_tot[chunk], n_debt[chunk]) * split
        pos = np.repeat(d_indptr[chunk] - sub_indptr[:-1], n_debt[chunk]) + np.arange(
            len(sub_asset)
        )
        d_asset[pos] = sub_asset
        d_usd[pos] = amounts
        assigned += np.bincount(sub_asset, weights=amounts, minlength=n_assets)
    # give the fit room: every borrowed asset appears in a few two-asset accounts
    pairs = np.flatnonzero(n_debt == 2)
    if len(pairs):
        small_pairs = pairs[np.argsort(debt_tot[pairs], kind="stable")][: max(1, len(pairs) // 2)]
        for j in np.flatnonzero(allowed):
            first = d_asset[d_indptr[small_pairs]]
            second = d_asset[d_indptr[small_pairs] + 1]
            have = np.count_nonzero((first == j) | (second == j))
            free = small_pairs[(first != j) & (second != j)]
            if row_ok is not None:
                free = free[row_ok[free, j]]
            if avoid is not None:
                free = free[av[free] != j]
            extra = min(max(0, 3 - have), len(free))
            if extra == 0:
                continue
            for a in rng.choice(free, size=extra, replace=False):
                keep = d_asset[d_indptr[a]]  # replace the second asset by j, re-sort the pair
                pair = sorted([(int(keep), d_usd[d_indptr[a]]), (int(j), d_usd[d_indptr[a] + 1])])
                d_asset[d_indptr[a] : d_indptr[a] + 2] = [pair[0][0], pair[1][0]]
                d_usd[d_indptr[a] : d_indptr[a] + 2] = [pair[0][1], pair[1][1]]
    rows = np.repeat(np.arange(n), n_debt)
    for _ in range(ipf_iterations):
        col = np.bincount(d_asset, weights=d_usd, minlength=n_assets)
        if np.allclose(col, target, rtol=1e-9, atol=1e-9 * target.sum()):
            break
        f = np.divide(target, col, out=np.ones(n_assets), where=col > 0)
        d_usd = d_usd * f[d_asset]
        rs = _row_sums(d_indptr, d_usd)
        d_usd = d_usd * np.divide(debt_tot, rs, out=np.zeros(n), where=rs > 0)[rows]
    return d_indptr, d_asset.astype(np.int32), d_usd


def _check_market(assets: tuple[str, ...] | list[str], current: RiskParams, supplied_usd: ArrayLike,
                  borrowed_usd: ArrayLike, rng: object) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The checked arguments every synthetic book shares: (asset names, supply, borrows)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    names = tuple(assets)
    n_assets = len(names)
    if tuple(current.assets) != names:
        raise ValueError(f"`current.assets` must equal `assets`; got {current.assets} and {names}")
    supply = np.asarray(supplied_usd, dtype=np.float64)
    borrow = np.asarray(borrowed_usd, dtype=np.float64)
    for nm, arr in (("supplied_usd", supply), ("borrowed_usd", borrow)):
        if arr.shape != (n_assets,):
            raise ValueError(f"`{nm}` must have shape ({n_assets},), got {arr.shape}")
        if np.any(~np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"`{nm}` must be finite and >= 0")
    if supply.sum() <= 0:
        raise ValueError("`supplied_usd` must have a positive total")
    return names, supply, borrow


def synthetic_book(
    assets: tuple[str, ...] | list[str],
    *,
    supplied_usd: ArrayLike,
    borrowed_usd: ArrayLike,
    n_accounts: int,
    current: RiskParams,
    rng: np.random.Generator,
    size_tail: float = 1.3,
    hf_median: float = 1.6,
    hf_sigma: float = 0.35,
    hf_min: float = 1.0,
    max_assets_per_account: int = 3,
    supply_only_share: float = 0.3,
    ipf_iterations: int = 200,
) -> Book:
    """Draw a synthetic book whose per-asset totals match the market.

    Construction:

    1. Account sizes are Pareto with tail index ``size_tail`` (``1 + Pareto(size_tail)``); at 1.3
       the top 1 % of accounts hold roughly a third of the collateral, as in real markets.
    2. Each account posts 1 to ``max_assets_per_account`` collateral assets (1 most often), drawn
       without replacement with probability proportional to ``supplied_usd``, split by a flat
       Dirichlet. Each asset's collateral is then rescaled so totals equal ``supplied_usd``
       exactly.
    3. A share ``supply_only_share`` of accounts has no debt; so has every account whose
       collateral has zero liquidation threshold under ``current``. The others draw
       ``HF = hf_min + (hf_median - hf_min) exp(hf_sigma Z)`` (median ``hf_median``, never below
       ``hf_min``) and owe ``sum_i c_i LT_i / HF``.
    4. Total debt is matched to ``sum(borrowed_usd)`` by one common multiplier on the debt, capped
       per account so no HF falls below ``hf_min`` (a bisection on the multiplier). If the book
       cannot carry that much debt with every HF >= ``hf_min``, every borrowing account ends at
       ``hf_min`` and the shortfall is logged: debt totals are then below ``borrowed_usd``.
    5. Each borrowing account owes 1-2 assets chosen in proportion to ``borrowed_usd``; the split
       over assets is fitted by iterative proportional fitting so per-asset debt approaches
       ``borrowed_usd`` (scaled to the debt total reached), ending with an exact row rescale so
       each account's total debt, hence its HF, is unchanged. Per-asset debt is therefore close
       to, not exactly, ``borrowed_usd`` when the random asset pattern makes it infeasible.

    Parameters
    ----------
    assets : sequence of str
    supplied_usd, borrowed_usd : array_like of shape (n_assets,)
        Market totals, USD (>= 0).
    n_accounts : int
    current : RiskParams
        Parameters in force (over ``assets``); HFs are drawn under them.
    rng : numpy.random.Generator
        The only source of randomness: same state, same book.
    size_tail : float, default 1.3
        Pareto tail index of account sizes (smaller = heavier tail); > 0.
    hf_median, hf_sigma, hf_min : float
        Health-factor distribution of borrowing accounts (``hf_median > hf_min >= 1`` typical).
    max_assets_per_account : int, default 3
        Maximum collateral assets per account.
    supply_only_share : float, default 0.3
        Share of accounts that only supply.
    ipf_iterations : int, default 200
        Iterations of the per-asset debt fit.

    Returns
    -------
    Book
        ``source="synthetic"``; account ids ``acct000000`` ...
    """
    names, supply, borrow = _check_market(assets, current, supplied_usd, borrowed_usd, rng)
    n_assets = len(names)
    if n_accounts < 1:
        raise ValueError(f"`n_accounts` must be >= 1, got {n_accounts}")
    if size_tail <= 0:
        raise ValueError(f"`size_tail` must be > 0, got {size_tail}")
    if not hf_median > hf_min > 0:
        raise ValueError(f"need hf_median > hf_min > 0, got {hf_median=} and {hf_min=}")
    if hf_sigma < 0:
        raise ValueError(f"`hf_sigma` must be >= 0, got {hf_sigma}")
    if max_assets_per_account < 1:
        raise ValueError(f"`max_assets_per_account` must be >= 1, got {max_assets_per_account}")
    if not 0 <= supply_only_share <= 1:
        raise ValueError(f"`supply_only_share` must lie in [0, 1], got {supply_only_share}")

    n = int(n_accounts)
    lt = current.liquidation_threshold

    # 1-2. collateral
    size = 1.0 + rng.pareto(size_tail, size=n)
    n_coll = _count_draw(rng, n, max_assets_per_account, int(np.count_nonzero(supply)))
    c_indptr, c_asset = _pick_assets(rng, supply, n_coll)
    split = rng.gamma(1.0, size=len(c_asset))
    split /= np.repeat(_row_sums(c_indptr, split), n_coll)
    c_usd = np.repeat(size, n_coll) * split
    col_tot = np.bincount(c_asset, weights=c_usd, minlength=n_assets)
    scale = np.divide(supply, col_tot, out=np.zeros(n_assets), where=col_tot > 0)
    c_usd = c_usd * scale[c_asset]

    # 3. health factors and debt per account
    lt_coll = _row_sums(c_indptr, c_usd * lt[c_asset])
    borrower = (rng.random(n) >= supply_only_share) & (lt_coll > 0)
    if borrow.sum() <= 0:
        borrower[:] = False
    hf = hf_min + (hf_median - hf_min) * np.exp(hf_sigma * rng.standard_normal(n))
    debt_tot = np.where(borrower, lt_coll / hf, 0.0)
    cap = np.where(borrower, lt_coll / hf_min, 0.0)

    # 4. match the debt total with a common multiplier, capped at hf_min
    target = float(borrow.sum())
    if borrower.any():
        if cap.sum() <= target:
            if cap.sum() < target * (1 - 1e-12):
                logger.warning(
                    "synthetic book: borrowed_usd total %.6g exceeds what the collateral carries "
                    "at "
                    "HF >= %.3g (%.6g); every borrowing account is placed at hf_min",
                    target,
                    hf_min,
                    cap.sum(),
                )
            debt_tot = cap
        else:
            lo, hi = 0.0, 1.0
            while np.minimum(hi * debt_tot, cap).sum() < target:
                hi *= 2.0
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if np.minimum(mid * debt_tot, cap).sum() < target:
                    lo = mid
                else:
                    hi = mid
            debt_tot = np.minimum(hi * debt_tot, cap)
            debt_tot *= target / debt_tot.sum()  # exact total; moves each HF by < 1e-12 relative
            debt_tot = np.minimum(debt_tot, cap)

    # 5. debt assets and their split
    d_indptr, d_asset, d_usd = _assign_debt(rng, borrow, debt_tot, ipf_iterations)

    return Book(
        assets=names,
        account_ids=tuple(f"acct{i:06d}" for i in range(n)),
        coll_indptr=c_indptr,
        coll_asset=c_asset.astype(np.int32),
        coll_usd=c_usd,
        debt_indptr=d_indptr,
        debt_asset=np.asarray(d_asset, dtype=np.int32),
        debt_usd=d_usd,
        source="synthetic",
    )
