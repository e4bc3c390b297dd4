"""Peg ratios of every pegged asset the data directory holds: the input of the peg-break history.

A pegged asset's *peg ratio* is its price over its reference's: the USD price itself for a
USD stablecoin, ``steth / eth`` for Lido's stETH, ``wbtc / btc`` for wrapped BTC. The peg-break
history pools the ratios of a whole class (every USD stablecoin of the data, not only a run's
assets), so this module reads the price files of every source, whatever the run's
``[data] sources``.

Rules (each a stated choice, reported with the ratios):

- **One value per asset and day.** Sources in the order :data:`PEG_SOURCE_ORDER` (Coin Metrics,
  CoinGecko, Binance): USD-quoted sources first; Binance's USDT-quoted close is used only on
  the days neither has. CoinGecko's 00:00 UTC snapshot is dated by the close it stands for
  (moved back one day), as the price loader does.
- **Quote.** A Binance stablecoin close is USDC/USDT: it is converted to USD with CoinGecko's USDT
  price of the same day; on days without one (after CoinGecko's last, 2023-08-28) USDT is
  taken at 1, a stated assumption (USDT stayed within 0.9919-1.0114 USD in 2021-2023). For the ETH and
  BTC classes the asset and its reference come from the same file and day, so the quote cancels.
- **Launch markets are left out.** The first :data:`LAUNCH_DAYS` days of each asset's series
  (thin first markets: gusd's launch prints of 1.29-1.82, wbtc/btc at 0.757 in its second month,
  CoinGecko's first week of multi-collateral DAI) are not part of the history.
- **Thin markets are counted out.** An asset's history counts from the first day its market cap
  (the largest of the sources' ``marketcap`` files on that day, CoinGecko's snapshot dated back
  one day) reaches :data:`MIN_MARKET_CAP_USD`; the days before stay in the ratio (their events
  are found and listed) but are not part of the history (:attr:`PegSeries.counted_from`). The
  evidence is the ratio's own noise: on days without a break the median absolute daily change of
  the ratio was 0.51 % (USDT, cap below $10M, 2015-2016), 0.35 % (USDT, $10M-$100M), 0.29 % (DAI
  below $100M), 0.34-0.44 % (GUSD, never above $100M), against 0.10-0.11 % for USDT, USDC and
  DAI above $1B: below $100M a daily close is a thin market's print (USDT's 0.849 of 2017-05-07
  in Coin Metrics is a one-day print between 0.986 and 0.992, CoinGecko 0.969 that day), not a
  price a liquidation of lending-market size could trade at. The rule is a one-time start, like
  the launch rule: a cap that falls after the floor was reached (a run on the coin) keeps
  counting. An asset with no market cap in any source is counted from its first kept day (noted).
- **Accruing tokens.** A token whose exchange rate to its reference grows by design
  (:data:`ACCRUING`, e.g. Binance's wbeth) is measured against its own trailing 30-day median
  ratio, not against 1.
- **Gaps stay gaps.** A day without a value is NaN: it is neither a depeg nor a recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data._csv import read_wide_file
from optimizer.data._sources import SOURCES
from optimizer.exceptions import DataError

#: Pegged assets of the supported sources, by reference (class): source -> tickers.
PEG_CLASSES: dict[str, dict[str, tuple[str, ...]]] = {
    "usd": {
        "coinmetrics": ("usdt", "usdc", "dai", "sai", "tusd", "pax", "gusd", "busd"),
        "coingecko": ("usdc", "usdt", "dai", "frax", "busd"),
        "binance": ("usdc",),
    },
    "eth": {"coingecko": ("steth",), "binance": ("wbeth",)},
    "btc": {"coingecko": ("wbtc",), "binance": ("wbtc",)},
}

#: Which source gives an asset's ratio on a day several sources have (USD-quoted first).
PEG_SOURCE_ORDER: tuple[str, ...] = ("coinmetrics", "coingecko", "binance")

#: Days at the start of each asset's series left out as its launch market.
LAUNCH_DAYS = 90

#: Market cap (USD) from which an asset's peg ratio counts in the history: below it, thin markets.
MIN_MARKET_CAP_USD = 1.0e8

#: Tokens whose exchange rate to the reference accrues (staking rewards): par is their own
#: trailing median ratio.
ACCRUING: frozenset[str] = frozenset({"wbeth", "reth", "cbeth", "wsteth"})
_ACCRUING_WINDOW = 30


@dataclass(frozen=True, eq=False)
class PegSeries:
    """The daily peg ratio of one pegged asset of the data, against par.

    Attributes
    ----------
    asset : str
        Ticker (``"usdc"``).
    reference : str
        Its class: ``"usd"``, ``"eth"`` or ``"btc"``.
    ratio : Series
        Price over reference price, divided by par (1, or the trailing median for an
        :data:`ACCRUING` token), on every calendar day from the first to the last value kept;
        NaN on a day without one.
    source : Series
        Name of the source of each day's value (``""`` where ``ratio`` is NaN).
    notes : tuple of str
        The choices applied to this asset (launch days left out, quote conversion, ...).
    counted_from : Timestamp or None
        First day of the counted history (the thin-market rule); None: every day counts. After
        the last day when the market cap never reached the floor.
    """

    asset: str
    reference: str
    ratio: pd.Series
    source: pd.Series
    notes: tuple[str, ...] = field(default=())
    counted_from: pd.Timestamp | None = None

    @property
    def counted(self) -> pd.Series:
        """The ratio on the counted days (:attr:`counted_from` on)."""
        return self.ratio if self.counted_from is None else self.ratio[self.ratio.index >= self.counted_from]

    @property
    def observed_days(self) -> int:
        """Number of counted days with a ratio."""
        return int(self.counted.notna().sum())


def peg_history(
    data_dir: str | Path,
    *,
    reference: str | None = None,
    as_of: str | pd.Timestamp | None = None,
    start: str | pd.Timestamp | None = None,
    launch_days: int = LAUNCH_DAYS,
    min_market_cap: float | None = MIN_MARKET_CAP_USD,
) -> tuple[PegSeries, ...]:
    """Peg ratios of every pegged asset of :data:`PEG_CLASSES` found in ``data_dir``.

    Parameters
    ----------
    data_dir : str or Path
        The data directory (the shared price files).
    reference : {"usd", "eth", "btc"}, optional
        Only this class; default all.
    as_of : date-like, optional
        Last day used (inclusive); default the data's last.
    start : date-like, optional
        First day used; default the first the data have.
    launch_days : int, default :data:`LAUNCH_DAYS`
        Days at the start of each asset's series left out.
    min_market_cap : float or None, default :data:`MIN_MARKET_CAP_USD`
        The thin-market floor (USD); None counts every day.

    Returns
    -------
    tuple of PegSeries
        One per asset with at least one value, ordered by class then ticker. A source file that is
        absent from ``data_dir`` is skipped (its assets come from the others).

    Raises
    ------
    DataError
        If a file that is present cannot be parsed, or no file of any source is present.
    ValueError
        If ``reference`` is not a known class.
    """
    if reference is not None and reference not in PEG_CLASSES:
        raise ValueError(f"`reference` must be one of {sorted(PEG_CLASSES)}, got {reference!r}")
    root = Path(data_dir)
    frames = _read_sources(root)
    caps = _read_caps(root) if min_market_cap is not None else None
    if not frames:
        names = ", ".join(SOURCES[s].prices for s in PEG_SOURCE_ORDER)
        raise DataError(f"no price file of any source in {root} (looked for {names})")
    last = pd.Timestamp(as_of) if as_of is not None else None
    first = pd.Timestamp(start) if start is not None else None
    out: list[PegSeries] = []
    for ref in sorted(PEG_CLASSES) if reference is None else [reference]:
        members = PEG_CLASSES[ref]
        tickers = sorted({t for ts in members.values() for t in ts})
        for asset in tickers:
            series = _asset_ratio(frames, ref, asset, members, first, last, launch_days)
            if series is not None and caps is not None:
                series = _thin_market(series, caps, float(min_market_cap))  # type: ignore[arg-type]
            if series is not None:
                out.append(series)
    return tuple(out)


def peg_history_files(data_dir: str | Path, *, extra: Sequence[Path] = ()) -> dict[str, str]:
    """SHA-256 of each price file :func:`peg_history` reads from ``data_dir`` (those present) and of
    the ``extra`` files, by file name."""
    from optimizer.data._hash import bytes_sha256

    root = Path(data_dir)
    names = [SOURCES[s].prices for s in PEG_SOURCE_ORDER] + [SOURCES[s].marketcap for s in PEG_SOURCE_ORDER]
    paths = [root / n for n in names if n is not None and (root / n).is_file()]
    return {p.name: bytes_sha256(p.read_bytes()) for p in [*paths, *extra]}


def _read_sources(root: Path) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    for name in PEG_SOURCE_ORDER:
        spec = SOURCES[name]
        path = root / spec.prices
        if not path.is_file():
            continue
        wide = read_wide_file(path)
        fatal = [f for f in wide.findings if f.fatal and f.asset is None]
        if fatal:
            raise DataError(f"cannot read {spec.prices} for the peg history: {fatal[0].detail}")
        frame = wide.frame.copy()
        frame.index = pd.DatetimeIndex(frame.index + pd.Timedelta(days=spec.date_shift_days), name="date")
        frames[name] = frame
    return frames


def _read_caps(root: Path) -> pd.DataFrame | None:
    """Largest market cap of the day over the sources' marketcap files (None: no file)."""
    frames = []
    for name in PEG_SOURCE_ORDER:
        spec = SOURCES[name]
        if spec.marketcap is None or not (root / spec.marketcap).is_file():
            continue
        wide = read_wide_file(root / spec.marketcap)
        fatal = [f for f in wide.findings if f.fatal and f.asset is None]
        if fatal:
            raise DataError(f"cannot read {spec.marketcap} for the peg history: {fatal[0].detail}")
        frame = wide.frame.copy()
        frame.index = pd.DatetimeIndex(frame.index + pd.Timedelta(days=spec.date_shift_days), name="date")
        frames.append(frame)
    if not frames:
        return None
    return pd.concat(frames).groupby(level=0).max()


def _thin_market(series: PegSeries, caps: pd.DataFrame, floor: float) -> PegSeries:
    """The series with :attr:`PegSeries.counted_from` set by the thin-market rule."""
    cap = (caps[series.asset].dropna() if series.asset in caps.columns
           else pd.Series(dtype="float64", index=pd.DatetimeIndex([])))
    first, last = series.ratio.index[0], series.ratio.index[-1]
    cap = cap[cap.index <= last]  # nothing after as_of
    if cap.empty:
        note = f"no market cap in the data: every day counts (the thin-market rule of ${floor / 1e6:,.0f}M cannot apply)"
        return replace(series, notes=(*series.notes, note))
    reached = cap.index[cap.to_numpy() >= floor]
    start = reached[0] if len(reached) else last + pd.Timedelta(days=1)
    if start <= first:
        return replace(series, counted_from=None)
    if start > last:
        note = (f"thin market: its market cap never reached ${floor / 1e6:,.0f}M "
                f"(largest ${cap.max() / 1e6:,.1f}M): no day counts")
    else:
        note = (f"thin market left out: {first.date()} to {(start - pd.Timedelta(days=1)).date()}, before its "
                f"market cap first reached ${floor / 1e6:,.0f}M")
    return replace(series, notes=(*series.notes, note), counted_from=start)


def _source_ratio(
    frames: dict[str, pd.DataFrame], source: str, ref: str, asset: str
) -> tuple[pd.Series, str | None] | None:
    """(ratio to the reference before par, note) of ``asset`` in ``source``, or None."""
    frame = frames.get(source)
    if frame is None or asset not in frame.columns:
        return None
    price = frame[asset]
    if ref != "usd":
        if ref not in frame.columns:
            return None
        return (price / frame[ref]).dropna(), None
    quote = SOURCES[source].quote
    if quote == "USD":
        return price.dropna(), None
    cg = frames.get("coingecko")
    usdt = cg["usdt"] if cg is not None and "usdt" in cg.columns else pd.Series(dtype="float64")
    rate = usdt.reindex(price.index)
    converted = (price * rate.fillna(1.0)).dropna()
    note = (f"{asset} from {source} is {asset.upper()}/{quote}: converted to USD with CoinGecko's "
            f"USDT price of the day, and taken as USD (USDT at 1) on the days CoinGecko has none")
    return converted, note


def _asset_ratio(
    frames: dict[str, pd.DataFrame],
    ref: str,
    asset: str,
    members: dict[str, tuple[str, ...]],
    first: pd.Timestamp | None,
    last: pd.Timestamp | None,
    launch_days: int,
) -> PegSeries | None:
    ratio = pd.Series(dtype="float64")
    source = pd.Series(dtype="object")
    notes: list[str] = []
    for name in PEG_SOURCE_ORDER:
        if asset not in members.get(name, ()):
            continue
        got = _source_ratio(frames, name, ref, asset)
        if got is None:
            continue
        values, note = got
        new = values.index.difference(ratio.index)
        if len(new) == 0:
            continue
        ratio = pd.concat([ratio, values.loc[new]]).sort_index()
        source = pd.concat([source, pd.Series(name, index=new, dtype="object")]).sort_index()
        if note:
            notes.append(note)
    if ratio.empty:
        return None
    if len(set(source)) > 1:
        used = [s for s in PEG_SOURCE_ORDER if s in set(source)]
        notes.insert(0, f"one value per day from {', then '.join(used)} (the first that has the day)")
    if launch_days > 0:
        cut = ratio.index[0] + pd.Timedelta(days=launch_days)
        notes.append(f"launch market left out: the first {launch_days} days "
                     f"({ratio.index[0].date()} to {(cut - pd.Timedelta(days=1)).date()})")
        keep = ratio.index >= cut
        ratio, source = ratio[keep], source[keep]
    if asset in ACCRUING:
        par = ratio.rolling(_ACCRUING_WINDOW, min_periods=5).median().shift(1)
        ratio = (ratio / par).dropna()
        source = source.reindex(ratio.index)
        notes.append(f"{asset} accrues rewards: measured against its trailing {_ACCRUING_WINDOW}-day "
                     "median ratio, not 1")
    if first is not None:
        ratio, source = ratio[ratio.index >= first], source[source.index >= first]
    if last is not None:
        ratio, source = ratio[ratio.index <= last], source[source.index <= last]
    if ratio.empty:
        return None
    days = pd.date_range(ratio.index[0], ratio.index[-1], freq="D", name="date")
    ratio = ratio.reindex(days).astype("float64")
    source = source.reindex(days).fillna("").astype("object")
    ratio.name = source.name = asset
    if not np.all(ratio.dropna() > 0):
        raise DataError(f"peg ratio of {asset!r} has a non-positive value")
    return PegSeries(asset=asset, reference=ref, ratio=ratio, source=source, notes=tuple(notes))
