"""A position book: who holds which collateral and owes which debt, in USD at the start."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optimizer.typing import FloatArray


@dataclass(frozen=True, eq=False)
class Book:
    """Positions of a lending market at the valuation date, in compact (CSR) form.

    Accounts hold few assets, so collateral and debt are stored as CSR rows: account ``a``'s
    collateral is ``coll_usd[coll_indptr[a]:coll_indptr[a+1]]`` in assets
    ``coll_asset[coll_indptr[a]:coll_indptr[a+1]]``; the same for debt. This is the layout the
    bad-debt kernels read without ever forming a (scenario x account) matrix.

    Attributes
    ----------
    assets : tuple of str, length n_assets
        Asset universe; indices in ``coll_asset``/``debt_asset`` refer to it.
    account_ids : tuple of str, length n_accounts
    coll_indptr, debt_indptr : ndarray of int64, shape (n_accounts + 1,)
    coll_asset, debt_asset : ndarray of int32, shape (nnz,)
    coll_usd, debt_usd : ndarray of float64, shape (nnz,)
        USD values at the valuation date (non-negative).
    source : str
        ``"synthetic"`` or the path of the CSV it was loaded from; the report says which.
    """

    assets: tuple[str, ...]
    account_ids: tuple[str, ...]
    coll_indptr: np.ndarray
    coll_asset: np.ndarray
    coll_usd: FloatArray
    debt_indptr: np.ndarray
    debt_asset: np.ndarray
    debt_usd: FloatArray
    source: str = "synthetic"

    def __post_init__(self) -> None:
        n = len(self.account_ids)
        for side in ("coll", "debt"):
            indptr = np.ascontiguousarray(getattr(self, f"{side}_indptr"), dtype=np.int64)
            asset = np.ascontiguousarray(getattr(self, f"{side}_asset"), dtype=np.int32)
            usd = np.ascontiguousarray(getattr(self, f"{side}_usd"), dtype=np.float64)
            if indptr.shape != (n + 1,) or indptr[0] != 0 or indptr[-1] != len(usd):
                raise ValueError(f"`{side}_indptr` must have shape ({n + 1},) and span {side}_usd")
            if asset.shape != usd.shape:
                raise ValueError(f"`{side}_asset` and `{side}_usd` must have the same shape")
            if len(asset) and (asset.min() < 0 or asset.max() >= len(self.assets)):
                raise ValueError(f"`{side}_asset` holds an index outside 0..{len(self.assets) - 1}")
            if np.any(~np.isfinite(usd)) or np.any(usd < 0):
                raise ValueError(f"`{side}_usd` must be finite and non-negative")
            for arr in (indptr, asset, usd):
                arr.setflags(write=False)
            object.__setattr__(self, f"{side}_indptr", indptr)
            object.__setattr__(self, f"{side}_asset", asset)
            object.__setattr__(self, f"{side}_usd", usd)
        object.__setattr__(self, "assets", tuple(self.assets))
        object.__setattr__(self, "account_ids", tuple(self.account_ids))

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def collateral_matrix(self) -> sp.csr_matrix:
        """Sparse (n_accounts, n_assets) collateral in USD."""
        return sp.csr_matrix(
            (self.coll_usd, self.coll_asset, self.coll_indptr), shape=(self.n_accounts, self.n_assets)
        )

    def debt_matrix(self) -> sp.csr_matrix:
        """Sparse (n_accounts, n_assets) debt in USD."""
        return sp.csr_matrix(
            (self.debt_usd, self.debt_asset, self.debt_indptr), shape=(self.n_accounts, self.n_assets)
        )

    @property
    def collateral_by_asset(self) -> FloatArray:
        """Total collateral per asset, USD, shape (n_assets,)."""
        return np.bincount(self.coll_asset, weights=self.coll_usd, minlength=self.n_assets)

    @property
    def debt_by_asset(self) -> FloatArray:
        """Total debt per asset, USD, shape (n_assets,)."""
        return np.bincount(self.debt_asset, weights=self.debt_usd, minlength=self.n_assets)

    @property
    def account_collateral(self) -> FloatArray:
        """Collateral per account, USD, shape (n_accounts,)."""
        return np.asarray(self.collateral_matrix().sum(axis=1)).ravel()

    @property
    def account_debt(self) -> FloatArray:
        """Debt per account, USD, shape (n_accounts,)."""
        return np.asarray(self.debt_matrix().sum(axis=1)).ravel()

    @property
    def total_debt(self) -> float:
        return float(self.debt_usd.sum())

    def insolvent_accounts(self) -> np.ndarray:
        """Indices of the accounts whose collateral is already worth less than their debt (at the
        book's own USD values, before any scenario): their shortfall is bad debt before any price move."""
        return np.flatnonzero(self.account_collateral < self.account_debt)

    @property
    def total_collateral(self) -> float:
        return float(self.coll_usd.sum())

    def take(self, rows: np.ndarray, *, scale: np.ndarray | None = None, source: str | None = None) -> Book:
        """The book of accounts ``rows`` (in that order), amounts optionally scaled per account.

        ``scale`` has one factor per selected row (e.g. inverse sampling rates).
        """
        rows = np.asarray(rows, dtype=np.int64)
        c = self.collateral_matrix()[rows]
        d = self.debt_matrix()[rows]
        if scale is not None:
            factor = sp.diags(np.asarray(scale, dtype=float))
            c, d = (factor @ c).tocsr(), (factor @ d).tocsr()
        return Book(
            assets=self.assets,
            account_ids=tuple(self.account_ids[i] for i in rows),
            coll_indptr=c.indptr, coll_asset=c.indices, coll_usd=c.data,
            debt_indptr=d.indptr, debt_asset=d.indices, debt_usd=d.data,
            source=self.source if source is None else source,
        )

    def sample(self, m: int, rng: np.random.Generator, *, keep_largest: float = 0.2) -> Book:
        """A book of ``m`` accounts with the same aggregate positions in expectation.

        The ``keep_largest`` share of ``m`` goes to the largest accounts (collateral + debt), kept
        exactly because they drive the tail and the cascades; the rest is a uniform sample of the
        other accounts with amounts scaled by the inverse sampling rate (Horvitz-Thompson), so
        per-asset totals, and the sales that move prices, match the full book in expectation. A
        book of at most ``m`` accounts is returned as it is.
        """
        n = self.n_accounts
        if n <= m:
            return self
        size = self.account_collateral + self.account_debt
        order = np.argsort(-size, kind="stable")
        k = int(m * keep_largest)
        top, others = order[:k], order[k:]
        pick = np.sort(rng.choice(others, size=m - k, replace=False))
        scale = np.ones(n)
        scale[pick] = len(others) / (m - k)
        rows = np.sort(np.concatenate([top, pick]))
        return self.take(rows, scale=scale[rows], source=f"{self.source} (sample of {m} accounts)")

    def rescale(self, collateral_usd: FloatArray, debt_usd: FloatArray) -> Book:
        """The same accounts with collateral and debt scaled per asset to the given totals.

        Parameters
        ----------
        collateral_usd, debt_usd : array_like of shape (n_assets,)
            Target totals per asset, USD. Assets with nothing now, or a zero target, keep their
            amounts (there is nothing to scale).
        """
        def factors(now: FloatArray, target: FloatArray) -> FloatArray:
            now = np.asarray(now, dtype=float)
            target = np.asarray(target, dtype=float)
            ok = (now > 0) & (target > 0)
            return np.where(ok, target / np.where(ok, now, 1.0), 1.0)

        fc = factors(self.collateral_by_asset, collateral_usd)
        fd = factors(self.debt_by_asset, debt_usd)
        return Book(
            assets=self.assets, account_ids=self.account_ids,
            coll_indptr=self.coll_indptr, coll_asset=self.coll_asset, coll_usd=self.coll_usd * fc[self.coll_asset],
            debt_indptr=self.debt_indptr, debt_asset=self.debt_asset, debt_usd=self.debt_usd * fd[self.debt_asset],
            source=self.source,
        )

    @classmethod
    def from_dense(
        cls,
        assets: tuple[str, ...] | list[str],
        collateral: np.ndarray,
        debt: np.ndarray,
        *,
        account_ids: tuple[str, ...] | list[str] | None = None,
        source: str = "synthetic",
    ) -> Book:
        """Build from dense (n_accounts, n_assets) USD arrays; zeros are dropped."""
        c = sp.csr_matrix(np.asarray(collateral, dtype=float))
        d = sp.csr_matrix(np.asarray(debt, dtype=float))
        c.eliminate_zeros()
        d.eliminate_zeros()
        n = c.shape[0]
        ids = tuple(account_ids) if account_ids is not None else tuple(f"acct{i:06d}" for i in range(n))
        return cls(
            assets=tuple(assets),
            account_ids=ids,
            coll_indptr=c.indptr,
            coll_asset=c.indices,
            coll_usd=c.data,
            debt_indptr=d.indptr,
            debt_asset=d.indices,
            debt_usd=d.data,
            source=source,
        )
