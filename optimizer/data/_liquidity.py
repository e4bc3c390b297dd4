"""Liquidity files: measured depth curves and DEX-aggregator quotes, read strictly.

The liquidity file (``[liquidity] depth_file``, relative to the data directory)
--------------------------------------------------------------------------------
A CSV with the header ``asset,date,slippage,sellable_usd,source`` and one row per point of a
depth curve::

    asset,date,slippage,sellable_usd,source
    eth,2023-11-20,0.01,18140000,1inch quotes (oneinch_quotes_20231120.csv)
    eth,2023-11-20,0.02,41550000,1inch quotes (oneinch_quotes_20231120.csv)

* ``asset``: the config's ticker (lower case);
* ``date``: the day the depth was measured (YYYY-MM-DD);
* ``slippage``: an average fill discount relative to the pre-trade price, a fraction in (0, 1)
  (0.02 = the seller receives 98 % of the oracle value);
* ``sellable_usd``: the sale, USD at the pre-trade price, that is filled at that discount (> 0);
* ``source``: where the numbers come from (free text, shown in the report).

One asset has one curve: one date and one source, its points strictly increasing in both
slippage and size. Any breach (a missing column, an unparsable cell, a second date, a curve
that does not increase) is a :class:`~optimizer.exceptions.DataError` of one line naming the
file, the row and the column.

The quotes file (``[liquidity] quotes_file``)
---------------------------------------------
The columns of ``reference/oneinch_quotes_20231120.csv``: ``timestamp_utc,sell,buy,sell_amount,
buy_amount,price_impact`` (amounts in tokens; the output of a trade is ``sell_amount x reference
price x (1 - price_impact)``). :func:`load_quotes` reads it into :class:`QuoteData`; the
estimators turn it into depth curves and fit the impact law.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data._csv import read_table
from optimizer.data._hash import bytes_sha256
from optimizer.exceptions import DataError
from optimizer.typing import FloatArray

__all__ = [
    "DEPTH_COLUMNS",
    "QUOTE_COLUMNS",
    "DepthCurve",
    "DepthData",
    "QuoteData",
    "load_depth_file",
    "load_quotes",
    "window_volume_levels",
    "write_depth_file",
]

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

#: Header of the liquidity file.
DEPTH_COLUMNS = ("asset", "date", "slippage", "sellable_usd", "source")
#: Header of the quotes file.
QUOTE_COLUMNS = ("timestamp_utc", "sell", "buy", "sell_amount", "buy_amount", "price_impact")


@dataclass(frozen=True, eq=False)
class DepthCurve:
    """One asset's measured depth curve.

    Attributes
    ----------
    asset : str
    date : str
        Day of the measurement, YYYY-MM-DD.
    source : str
    slippage : ndarray of shape (n_points,)
        Average fill discounts, strictly increasing, in (0, 1).
    sellable_usd : ndarray of shape (n_points,)
        USD sellable at each discount, strictly increasing, > 0.
    """

    asset: str
    date: str
    source: str
    slippage: FloatArray
    sellable_usd: FloatArray

    def __post_init__(self) -> None:
        s, q = np.asarray(self.slippage, float), np.asarray(self.sellable_usd, float)
        if s.ndim != 1 or s.shape != q.shape or len(s) < 1:
            raise ValueError(f"depth curve of {self.asset!r}: slippage and sellable_usd must be 1-D, equal length >= 1")
        if np.any(~(s > 0)) or np.any(s >= 1) or np.any(np.diff(s) <= 0):
            raise ValueError(f"depth curve of {self.asset!r}: slippage must lie in (0, 1) and strictly increase")
        if np.any(~np.isfinite(q)) or np.any(q <= 0) or np.any(np.diff(q) <= 0):
            raise ValueError(f"depth curve of {self.asset!r}: sellable_usd must be > 0 and strictly increase")

    def depth_at(self, level: float) -> float | None:
        """USD sellable at ``level`` read from the points (log-log interpolation), None outside them."""
        s, q = np.log(self.slippage), np.log(self.sellable_usd)
        x = math.log(level)
        if x < s[0] - 1e-12 or x > s[-1] + 1e-12:
            return None
        return float(np.exp(np.interp(x, s, q)))

    def summary(self) -> str:
        return (f"{self.asset}: {len(self.slippage)} points, {self.slippage[0]:.2%} at "
                f"${self.sellable_usd[0]:,.0f} .. {self.slippage[-1]:.2%} at ${self.sellable_usd[-1]:,.0f}"
                f" ({self.source}, {self.date})")

    def __repr__(self) -> str:
        return f"DepthCurve({self.summary()})"


@dataclass(frozen=True, eq=False)
class DepthData:
    """The depth curves of a liquidity file (or converted from quotes), one per asset.

    Attributes
    ----------
    curves : tuple of DepthCurve
    path : str
        File the curves were read from (as configured), or a description.
    sha256 : str
        Hash of the file's bytes ("" when not read from a file).
    """

    curves: tuple[DepthCurve, ...]
    path: str = ""
    sha256: str = ""

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(c.asset for c in self.curves)

    def get(self, asset: str) -> DepthCurve | None:
        for c in self.curves:
            if c.asset == asset:
                return c
        return None

    def merged(self, other: DepthData) -> DepthData:
        """These curves, then ``other``'s for the assets these lack."""
        mine = set(self.assets)
        return DepthData(self.curves + tuple(c for c in other.curves if c.asset not in mine),
                         path="; ".join(p for p in (self.path, other.path) if p),
                         sha256=self.sha256 or other.sha256)

    def summary(self) -> str:
        return "\n".join(c.summary() for c in self.curves) or "no depth curves"


@dataclass(frozen=True, eq=False)
class QuoteData:
    """DEX-aggregator quotes: one row per quoted trade.

    Attributes
    ----------
    sell, buy : tuple of str
        Token symbols of each quote.
    sell_amount, buy_amount : ndarray of shape (n_quotes,)
        Amounts in tokens (> 0).
    price_impact : ndarray of shape (n_quotes,)
        The source's impact field in [0, 1): output = sell_amount x reference price x (1 - impact).
    date : str
        Day of the quotes (YYYY-MM-DD, from the first timestamp).
    path : str
    sha256 : str
    """

    sell: tuple[str, ...]
    buy: tuple[str, ...]
    sell_amount: FloatArray
    buy_amount: FloatArray
    price_impact: FloatArray
    date: str
    path: str = ""
    sha256: str = ""

    @property
    def n_quotes(self) -> int:
        return len(self.sell)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Directed pairs (sell, buy) in order of first appearance."""
        return tuple(dict.fromkeys(zip(self.sell, self.buy, strict=True)))

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.sell + self.buy))

    def pair(self, sell: str, buy: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(sell_amount, buy_amount, price_impact) of one directed pair, sorted by size."""
        m = (np.array(self.sell) == sell) & (np.array(self.buy) == buy)
        order = np.argsort(self.sell_amount[m], kind="stable")
        return self.sell_amount[m][order], self.buy_amount[m][order], self.price_impact[m][order]

    def usd_size(self, sell: str, buy: str) -> tuple[FloatArray, FloatArray]:
        """(USD size, price_impact) of a sale of ``sell`` for the USD stablecoin ``buy``, sorted.

        The USD size is the sale at the quote's implied reference price,
        ``buy_amount / (1 - price_impact)`` (``buy`` counted at 1 USD).
        """
        _, out, imp = self.pair(sell, buy)
        usd = out / (1.0 - imp)
        order = np.argsort(usd, kind="stable")
        return usd[order], imp[order]

    def summary(self) -> str:
        return f"{self.n_quotes:,} quotes, {len(self.pairs)} pairs, {len(self.tokens)} tokens, {self.date} ({self.path})"


def _fail(path: Path | str, row: int, column: str, detail: str) -> DataError:
    return DataError(f"{path}: row {row}, column {column!r}: {detail}")


def _number(path: Path, row: int, column: str, text: str, *, lo: float, hi: float = math.inf,
            lo_open: bool = True, hi_open: bool = True) -> float:
    try:
        x = float(text)
    except ValueError:
        raise _fail(path, row, column, f"{text!r} is not a number") from None
    ok_lo = x > lo if lo_open else x >= lo
    ok_hi = x < hi if hi_open else x <= hi
    if not (math.isfinite(x) and ok_lo and ok_hi):
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise _fail(path, row, column, f"{text} is outside {interval}")
    return x


def _day(path: Path, row: int, column: str, text: str) -> str:
    """The ISO day ``text`` (YYYY-MM-DD), or the one-line DataError naming file, row and column."""
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise _fail(path, row, column, f"{text!r} is not a YYYY-MM-DD date") from None


def load_depth_file(path: str | Path, *, label: str | None = None) -> DepthData:
    """Read a liquidity file (see the module docstring) into :class:`DepthData`.

    Parameters
    ----------
    path : str or Path
    label : str, optional
        How the report names the file (default: ``path``).

    Raises
    ------
    DataError
        One line naming the file, the row and the column of the first problem.
    """
    p = Path(path)
    rows, raw = read_table(p, DEPTH_COLUMNS, "liquidity file")
    points: dict[str, list[tuple[int, float, float]]] = {}
    meta: dict[str, tuple[str, str, int]] = {}
    for n, r in rows:
        asset = r["asset"].lower()
        if not asset:
            raise _fail(p, n, "asset", "empty")
        day = _day(p, n, "date", r["date"])
        if not r["source"]:
            raise _fail(p, n, "source", "empty: say where the depth comes from")
        s = _number(p, n, "slippage", r["slippage"], lo=0.0, hi=1.0)
        q = _number(p, n, "sellable_usd", r["sellable_usd"], lo=0.0)
        if asset in meta:
            d0, src0, n0 = meta[asset]
            if day != d0:
                raise _fail(p, n, "date", f"{asset!r} has a second date {day} (row {n0}: {d0}); one curve per asset")
            if r["source"] != src0:
                raise _fail(p, n, "source", f"{asset!r} has a second source (row {n0}: {src0!r}); one curve per asset")
        else:
            meta[asset] = (day, r["source"], n)
        points.setdefault(asset, []).append((n, s, q))
    curves = []
    for asset, pts in points.items():
        pts.sort(key=lambda t: t[1])
        for (n0, s0, q0), (n1, s1, q1) in zip(pts, pts[1:], strict=False):
            if s1 == s0:
                raise _fail(p, n1, "slippage", f"{asset!r} repeats slippage {s1:g} (row {n0})")
            if q1 <= q0:
                raise _fail(p, n1, "sellable_usd", f"{asset!r}: {q1:g} at slippage {s1:g} is not above "
                            f"{q0:g} at {s0:g} (row {n0}); a depth curve must increase")
        day, src, _ = meta[asset]
        curves.append(DepthCurve(asset=asset, date=day, source=src,
                                 slippage=np.array([t[1] for t in pts]),
                                 sellable_usd=np.array([t[2] for t in pts])))
    return DepthData(tuple(curves), path=label or str(path), sha256=bytes_sha256(raw))


def write_depth_file(data: DepthData | Iterable[DepthCurve], path: str | Path) -> Path:
    """Write depth curves in the liquidity-file format (full float precision); returns the path."""
    curves = data.curves if isinstance(data, DepthData) else tuple(data)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(DEPTH_COLUMNS)
        for c in curves:
            for s, q in zip(c.slippage, c.sellable_usd, strict=True):
                w.writerow([c.asset, c.date, repr(float(s)), repr(float(q)), c.source])
    return p


def load_quotes(path: str | Path, *, label: str | None = None) -> QuoteData:
    """Read a quotes file (columns :data:`QUOTE_COLUMNS`) into :class:`QuoteData`.

    Raises
    ------
    DataError
        One line naming the file, the row and the column of the first problem.
    """
    p = Path(path)
    rows, raw = read_table(p, QUOTE_COLUMNS, "quotes file")
    sell, buy, sa, ba, imp = [], [], [], [], []
    first_day = None
    for n, r in rows:
        ts = r["timestamp_utc"]
        day = _day(p, n, "timestamp_utc", ts[:10])
        first_day = first_day or day
        for col in ("sell", "buy"):
            if not r[col]:
                raise _fail(p, n, col, "empty token symbol")
        if r["sell"] == r["buy"]:
            raise _fail(p, n, "buy", f"sells and buys the same token {r['buy']!r}")
        sell.append(r["sell"])
        buy.append(r["buy"])
        sa.append(_number(p, n, "sell_amount", r["sell_amount"], lo=0.0))
        ba.append(_number(p, n, "buy_amount", r["buy_amount"], lo=0.0))
        imp.append(_number(p, n, "price_impact", r["price_impact"], lo=0.0, hi=1.0, lo_open=False))
    assert first_day is not None
    return QuoteData(sell=tuple(sell), buy=tuple(buy), sell_amount=np.array(sa), buy_amount=np.array(ba),
                     price_impact=np.array(imp), date=first_day, path=label or str(path),
                     sha256=bytes_sha256(raw))


def window_volume_levels(
    volumes: pd.DataFrame | None,
    assets: Iterable[str],
    *,
    anchors: Iterable[str],
    as_of: str | pd.Timestamp,
    days: int = 90,
    min_reports: int = 30,
) -> tuple[dict[str, float | None], str]:
    """Median daily volume of each asset over one common window, for depth-to-volume ratios.

    The window is the ``days`` days ending at the last day, on or before ``as_of``, on which every
    anchor (the assets whose ratio is measured) reports a volume, so that the ratio's volumes and
    the volumes it is applied to are of the same days. An asset with fewer than ``min_reports``
    reports in the window (or a median not > 0) has None.

    Returns
    -------
    dict of str to float or None, str
        The levels, and the window in words ("" when there are no volumes).
    """
    names = list(assets)
    out: dict[str, float | None] = dict.fromkeys(names)
    if volumes is None or volumes.empty:
        return out, ""
    v = volumes.loc[: pd.Timestamp(as_of)]
    cols = [a for a in anchors if a in v.columns]
    have = v[cols].notna().all(axis=1) if cols else v.notna().any(axis=1)
    if not have.any():
        return out, ""
    end = have[have].index[-1]
    start = end - pd.Timedelta(days=days - 1)
    w = v.loc[start:end]
    for a in names:
        if a in w.columns:
            r = w[a].dropna()
            level = float(r.median()) if len(r) >= min_reports else 0.0
            out[a] = level if level > 0 else None
    return out, f"{start.date()} .. {end.date()}"
