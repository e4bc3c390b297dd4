"""A real market's largest borrowers, read from a file, and the laws a synthetic book takes from it.

Reference file
--------------
One row per account, largest debt first, columns ``rank,total_debt_usd,total_collateral_usd,
collateral_to_debt,largest_debt_asset`` (others, such as ``account`` or
``health_factor_reserve_lt``, are ignored; ``largest_debt_asset`` may be blank). The shipped
example is ``reference/aave_v3_ethereum_top_borrowers_20251201.csv``: the 1,000 largest Aave v3
Ethereum borrowers on 2025-12-01 (see that directory's README). Every problem raises
:class:`~optimizer.exceptions.DataError` naming the file, the row and the column.

What is taken from it
---------------------
- :class:`ParetoTail`: the size law of the accounts below the individually placed ones, a Pareto
  tail truncated to the range it was observed in, fitted by maximum likelihood.
- :meth:`ReferenceBook.leverage_pool`: the accounts whose ``collateral_to_debt`` is usable (>= 1;
  below 1 the source lacks collateral rows), by rank, so a book can draw leverage by size.
- :func:`debt_concentration`: top-k shares of the largest accounts' debt, measured the same way on
  the reference and on a book.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from optimizer.exceptions import DataError
from optimizer.protocol.books import open_csv, read_header
from optimizer.typing import FloatArray

__all__ = [
    "REFERENCE_COLUMNS",
    "Concentration",
    "ParetoTail",
    "ReferenceBook",
    "debt_concentration",
    "load_reference_book",
    "weighted_quantiles",
]

#: Columns a reference file must have.
REFERENCE_COLUMNS = ("rank", "total_debt_usd", "total_collateral_usd", "collateral_to_debt",
                     "largest_debt_asset")

#: The concentration shares a comparison reports (top-k accounts).
CONCENTRATION_KS = (1, 10, 100)

#: Collateral/debt at or below which an account is a loop (the reference's README: half the debt
#: sits at 1.02-1.15, which only e-mode loops reach).
LOOP_COLLATERAL_TO_DEBT = 1.15


@dataclass(frozen=True, eq=False)
class ReferenceBook:
    """The largest borrowers of a real market, largest debt first.

    Attributes
    ----------
    source : str
        The file it was read from.
    rank : ndarray of int64, shape (n_accounts,)
    debt_usd, collateral_usd, collateral_to_debt : ndarray of float64, shape (n_accounts,)
        Debt (> 0, non-increasing), collateral (>= 0) and their ratio as the file gives it.
    largest_debt_asset : tuple of str, length n_accounts
        Symbol of each account's largest debt (``""`` where the source has none).
    sha256 : str
        Hex SHA-256 of the file's bytes (empty when built in memory).
    """

    source: str
    rank: np.ndarray
    debt_usd: FloatArray
    collateral_usd: FloatArray
    collateral_to_debt: FloatArray
    largest_debt_asset: tuple[str, ...]
    sha256: str = ""

    def __post_init__(self) -> None:
        for name in ("rank", "debt_usd", "collateral_usd", "collateral_to_debt"):
            arr = np.array(getattr(self, name), dtype=np.int64 if name == "rank" else np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "largest_debt_asset", tuple(self.largest_debt_asset))

    @property
    def n_accounts(self) -> int:
        return len(self.debt_usd)

    @property
    def total_debt(self) -> float:
        return float(self.debt_usd.sum())

    @property
    def total_collateral(self) -> float:
        return float(self.collateral_usd.sum())

    @property
    def leverage_known(self) -> np.ndarray:
        """Accounts whose collateral/debt is usable: >= 1 (below it the source lacks collateral rows)."""
        return self.collateral_to_debt >= 1.0

    def leverage_pool(self) -> tuple[np.ndarray, FloatArray]:
        """(rank, collateral/debt) of the accounts with usable leverage, by rank."""
        ok = self.leverage_known
        return self.rank[ok], self.collateral_to_debt[ok]

    def concentration(self) -> Concentration:
        """Top-k shares of this file's debt (its accounts are the market's largest)."""
        return debt_concentration(self.debt_usd, top=self.n_accounts,
                                  collateral_to_debt=self.collateral_to_debt)


@dataclass(frozen=True)
class Concentration:
    """How concentrated the debt of the ``top`` largest accounts is.

    Attributes
    ----------
    top : int
        Accounts measured: shares are of their debt (the reference lists the 1,000 largest, so a
        book is measured on its 1,000 largest too).
    shares : tuple of (k, share)
        Share of that debt held by the k largest accounts, for k in :data:`CONCENTRATION_KS`.
    loop_share : float or None
        Share of that debt in accounts with collateral/debt <= :data:`LOOP_COLLATERAL_TO_DEBT`.
    """

    top: int
    shares: tuple[tuple[int, float], ...]
    loop_share: float | None = None

    def share(self, k: int) -> float:
        """Share of the measured debt held by the ``k`` largest accounts."""
        return dict(self.shares)[k]


def debt_concentration(
    debt_usd: ArrayLike, *, top: int = 1000, collateral_to_debt: ArrayLike | None = None,
    ks: tuple[int, ...] = CONCENTRATION_KS,
) -> Concentration:
    """Top-k shares of the debt of the ``top`` largest borrowers (zero debts are not borrowers).

    Parameters
    ----------
    debt_usd : array_like of shape (n_accounts,)
    top : int, default 1000
        How many of the largest borrowers the shares are of (fewer when there are fewer).
    collateral_to_debt : array_like of shape (n_accounts,), optional
        When given, ``loop_share`` is the share of that debt at collateral/debt <= 1.15.
    """
    d = np.asarray(debt_usd, dtype=float)
    order = np.argsort(-d, kind="stable")
    order = order[d[order] > 0][:top]
    sel = d[order]
    tot = float(sel.sum())
    shares = tuple((k, float(sel[:k].sum() / tot) if tot > 0 else float("nan")) for k in ks)
    loop = None
    if collateral_to_debt is not None and tot > 0:
        cd = np.asarray(collateral_to_debt, dtype=float)[order]
        loop = float(sel[cd <= LOOP_COLLATERAL_TO_DEBT].sum() / tot)
    return Concentration(top=len(sel), shares=shares, loop_share=loop)


def weighted_quantiles(values: ArrayLike, weights: ArrayLike, q: ArrayLike) -> FloatArray:
    """Quantiles ``q`` of ``values`` under ``weights`` (the lower quantile: no interpolation)."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    cw = np.cumsum(w[order])
    idx = np.searchsorted(cw, np.asarray(q, dtype=float) * cw[-1], side="left")
    return v[order][np.minimum(idx, len(v) - 1)]


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def load_reference_book(path: str | PathLike[str]) -> ReferenceBook:
    """Read a reference file of the largest borrowers (format in the module docstring).

    Raises
    ------
    DataError
        Missing file or column, no rows, a non-numeric / non-finite / negative value, a debt of
        zero, ranks that do not run 1, 2, ... or debts that increase with rank; the message names
        the file, the row (line) and the column.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: reference book file not found")
    ranks: list[int] = []
    debt: list[float] = []
    coll: list[float] = []
    cd: list[float] = []
    largest: list[str] = []
    with open_csv(p, "reference book", REFERENCE_COLUMNS) as fh:
        reader = csv.reader(fh)
        col = read_header(reader, p, REFERENCE_COLUMNS, "reference book")
        width = max(col.values()) + 1
        for row in reader:
            line = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < width:
                raise DataError(f"{p}, line {line}: expected at least {width} fields, got {len(row)}")

            def number(column: str, *, positive: bool = False) -> float:
                text = row[col[column]].strip()
                where = f"{p}, line {line}, column `{column}`"
                try:
                    value = float(text)
                except ValueError:
                    raise DataError(f"{where}: not a number: {text!r}") from None
                if not math.isfinite(value):
                    raise DataError(f"{where}: not finite: {text!r}")
                if value < 0 or (positive and value == 0):
                    raise DataError(f"{where}: must be {'> 0' if positive else '>= 0'}, got {value}")
                return value

            r = number("rank")
            if r != int(r) or int(r) != len(ranks) + 1:
                raise DataError(f"{p}, line {line}, column `rank`: expected rank {len(ranks) + 1} "
                                f"(rows largest debt first, ranks 1, 2, ...), got {row[col['rank']].strip()!r}")
            d = number("total_debt_usd", positive=True)
            if debt and d > debt[-1] * (1 + 1e-12):
                raise DataError(f"{p}, line {line}, column `total_debt_usd`: {d} exceeds the debt of rank "
                                f"{len(ranks)} ({debt[-1]}); rows must be sorted by debt, largest first")
            ranks.append(int(r))
            debt.append(d)
            coll.append(number("total_collateral_usd"))
            cd.append(number("collateral_to_debt"))
            largest.append(row[col["largest_debt_asset"]].strip())
    if not ranks:
        raise DataError(f"{p}: reference book file has a header but no rows")
    return ReferenceBook(source=str(p), rank=np.array(ranks), debt_usd=np.array(debt),
                         collateral_usd=np.array(coll), collateral_to_debt=np.array(cd),
                         largest_debt_asset=tuple(largest), sha256=hashlib.sha256(p.read_bytes()).hexdigest())


# --------------------------------------------------------------------------------------------
# the size tail
# --------------------------------------------------------------------------------------------
class ParetoTail(BaseEstimator):
    """Pareto law of sizes truncated to ``[lower, upper]``, fitted by maximum likelihood.

    Density ``alpha lower^alpha x^(-alpha-1) / (1 - (lower/upper)^alpha)`` on ``[lower, upper]``
    (``upper = inf``: the plain Pareto tail, whose MLE is the Hill estimator). The truncation is
    what a list of the largest accounts with its very largest set aside observes: sizes above the
    list's smallest and below the smallest account placed individually. The MLE solves the score
    equation ``m / alpha - sum(log(x / lower)) + m r^alpha log(r) / (1 - r^alpha) = 0``,
    ``r = lower / upper`` (Aban, Meerschaert and Panorska 2006), by bracketing.

    Parameters
    ----------
    lower, upper : float, optional
        Truncation bounds; default the sample's minimum and ``inf``.

    Attributes
    ----------
    alpha_ : float
        Tail index (smaller = heavier).
    alpha_se_ : float
        Its asymptotic standard error (observed information).
    lower_, upper_ : float
    n_samples_ : int
    ks_statistic_ : float
        Largest gap between the sample's and the fitted distribution function (Kolmogorov-Smirnov).
    log_likelihood_ : float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = 1.0 + rng.pareto(1.5, size=20_000)
    >>> round(ParetoTail(lower=1.0).fit(x).alpha_, 1)
    1.5
    """

    def __init__(self, lower: float | None = None, upper: float | None = None) -> None:
        self.lower = lower
        self.upper = upper

    def fit(self, X: ArrayLike, y: None = None) -> ParetoTail:
        """Fit the tail index to the sizes ``X`` (1-D, all in ``[lower, upper]``)."""
        from scipy.optimize import brentq

        x = np.asarray(X, dtype=float).ravel()
        if len(x) < 2:
            raise ValueError(f"ParetoTail needs at least 2 sizes, got {len(x)}")
        if np.any(~np.isfinite(x)) or np.any(x <= 0):
            raise ValueError("ParetoTail: sizes must be finite and > 0")
        lo = float(x.min()) if self.lower is None else float(self.lower)
        hi = math.inf if self.upper is None else float(self.upper)
        if not 0 < lo < hi:
            raise ValueError(f"ParetoTail needs 0 < lower < upper, got lower={lo} and upper={hi}")
        if x.min() < lo * (1 - 1e-12) or x.max() > hi * (1 + 1e-12):
            raise ValueError(f"ParetoTail: sizes must lie in [lower, upper] = [{lo}, {hi}]; "
                             f"got [{x.min()}, {x.max()}]")
        m = len(x)
        s = float(np.log(x / lo).sum())
        log_r = math.log(lo / hi) if math.isfinite(hi) else -math.inf
        if s <= 0:
            raise ValueError("ParetoTail: every size equals `lower`; the tail index is not identified")

        def score(a: float) -> float:
            if not math.isfinite(log_r):
                return m / a - s
            ra = math.exp(a * log_r)
            return m / a - s + m * ra * log_r / (1.0 - ra)

        a_lo, a_hi = 1e-6, 1e3
        if score(a_lo) <= 0:
            raise ValueError("ParetoTail: the sizes are not denser at the lower end than a log-uniform law; "
                             "no tail index > 0 fits them")
        alpha = float(brentq(score, a_lo, a_hi, xtol=1e-12, rtol=1e-12))
        if math.isfinite(log_r):
            ra = math.exp(alpha * log_r)
            info = m / alpha**2 - m * log_r**2 * ra / (1.0 - ra) ** 2
            loglik = m * math.log(alpha) + m * alpha * math.log(lo) - (alpha + 1) * float(np.log(x).sum()) \
                - m * math.log(1.0 - ra)
        else:
            info = m / alpha**2
            loglik = m * math.log(alpha) + m * alpha * math.log(lo) - (alpha + 1) * float(np.log(x).sum())
        self.alpha_ = alpha
        self.alpha_se_ = float(1.0 / math.sqrt(info)) if info > 0 else float("nan")
        self.lower_, self.upper_ = lo, hi
        self.n_samples_ = m
        xs = np.sort(x)
        f = self.cdf(xs)
        emp_hi = np.arange(1, m + 1) / m
        self.ks_statistic_ = float(max(np.max(emp_hi - f), np.max(f - (emp_hi - 1.0 / m))))
        self.log_likelihood_ = float(loglik)
        return self

    def cdf(self, x: ArrayLike) -> FloatArray:
        """Distribution function of the fitted law at ``x``."""
        x = np.clip(np.asarray(x, dtype=float), self.lower_, self.upper_)
        norm = 1.0 - (self.lower_ / self.upper_) ** self.alpha_
        return (1.0 - (self.lower_ / x) ** self.alpha_) / norm

    def sample(self, n: int, rng: np.random.Generator, *, lower: float | None = None,
               upper: float | None = None) -> FloatArray:
        """``n`` sizes from the fitted tail index truncated to ``[lower, upper]`` (default: the fit's).

        The same law extends below the fitted range (``lower < lower_``): how a list of the largest
        accounts continues past its last row.
        """
        lo = self.lower_ if lower is None else float(lower)
        hi = self.upper_ if upper is None else float(upper)
        if not 0 < lo < hi:
            raise ValueError(f"need 0 < lower < upper, got lower={lo} and upper={hi}")
        r = (lo / hi) ** self.alpha_ if math.isfinite(hi) else 0.0
        u = rng.random(int(n))
        return lo * (1.0 - u * (1.0 - r)) ** (-1.0 / self.alpha_)

    def summary(self) -> str:
        """One line: the tail index with its standard error, the range and the fit's KS distance."""
        return (f"Pareto tail index {self.alpha_:.3f} (s.e. {self.alpha_se_:.3f}) on {self.n_samples_} sizes in "
                f"[{self.lower_:,.0f}, {self.upper_:,.0f}], KS distance {self.ks_statistic_:.3f}")
