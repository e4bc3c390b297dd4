"""`PriceData`: the price panel the data layer hands to the estimators and the report."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

from optimizer.data._findings import DataFinding
from optimizer.data._hash import panel_sha256
from optimizer.data._proxy import ProxySpan, backfill_from_proxies
from optimizer.exceptions import DataError

_ONE_DAY = pd.Timedelta(days=1)
_Panel = TypeVar("_Panel", pd.Series, pd.DataFrame)


@dataclass(frozen=True, eq=False)
class PriceData:
    """Daily prices of the requested assets over the requested window, with their provenance.

    Built by :func:`optimizer.data.load_prices`. Read-only by convention: the frames are not
    copied on access, so do not modify them.

    Attributes
    ----------
    prices : DataFrame of shape (n_days, n_assets)
        Daily closes, float64. Index: ``DatetimeIndex`` named ``"date"`` (tz-naive UTC close
        dates, one row per calendar day); columns: the requested assets, lower-case, in the
        requested order. Only the window ``[start, as_of]`` is kept; cells before an asset's first
        price, after its last one or in a gap are NaN. Values are never filled, except the days
        before an asset's first price that a declared proxy stands in for (:attr:`proxied`).
    volumes : DataFrame of shape (n_days, n_assets) or None
        USD 24h volumes on the same index and columns (CoinGecko volume file, aligned like its
        prices); NaN where there is no volume. None when not requested or not available.
    sources : dict of str to str
        Asset -> source name (``"binance"``, ``"coingecko"`` or ``"coinmetrics"``) of its series:
        the first source of its priority list that holds it. Days filled from a lower-priority
        source are listed in the ``"filled"`` findings.
    findings : tuple of DataFinding
        Non-fatal flags (gaps, stale runs, spikes, depegs, ...) in the loaded window.
    file_hashes : dict of str to str
        File name -> sha256 of the bytes that were parsed.
    proxied : tuple of ProxySpan
        The spans before an asset's first price that :meth:`backfilled_by` took from a declared
        proxy (``short_history = "proxy"``); their prices are the only values not read from a
        file, and each is also a ``"proxied"`` finding.
    """

    prices: pd.DataFrame
    volumes: pd.DataFrame | None = None
    sources: dict[str, str] = field(default_factory=dict)
    findings: tuple[DataFinding, ...] = ()
    file_hashes: dict[str, str] = field(default_factory=dict)
    proxied: tuple[ProxySpan, ...] = ()

    def __post_init__(self) -> None:
        prices = self.prices
        if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
            raise TypeError("`prices` must be a DataFrame indexed by a DatetimeIndex")
        if not prices.index.is_monotonic_increasing or prices.index.has_duplicates:
            raise ValueError("`prices` must have sorted, unique dates")
        volumes = self.volumes
        if volumes is not None and not (
            volumes.index.equals(prices.index) and list(volumes.columns) == list(prices.columns)
        ):
            raise ValueError("`volumes` must have the same dates and columns as `prices`")
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "sources", dict(self.sources))
        object.__setattr__(self, "file_hashes", dict(self.file_hashes))
        object.__setattr__(self, "proxied", tuple(self.proxied))

    @property
    def assets(self) -> tuple[str, ...]:
        """Asset names (the columns of ``prices``)."""
        return tuple(str(c) for c in self.prices.columns)

    @property
    def start(self) -> str | None:
        """ISO date of the first row of ``prices`` (None if empty)."""
        return _iso(self.prices.index[0]) if len(self.prices.index) else None

    @property
    def as_of(self) -> str | None:
        """ISO date of the last row of ``prices`` (None if empty)."""
        return _iso(self.prices.index[-1]) if len(self.prices.index) else None

    @property
    def data_sha256(self) -> str:
        """Sha256 of the price panel (and volumes, when present) serialised canonically.

        The same slice of the same data gives the same hash on any machine: values are written
        with ``repr(float)`` (see :func:`optimizer.data._hash.panel_sha256`), not with locale- or
        version-dependent formatting. Any change of a price in the window changes it.
        """
        return panel_sha256(self.prices, self.volumes)

    def priced_by(self, proxies: dict[str, str]) -> PriceData:
        """The same data with proxy series renamed to the assets they price.

        ``proxies`` maps a loaded column (the proxy's ticker) to the asset it prices; each one is
        recorded as a ``"proxy"`` finding, and the findings, volumes and sources follow the rename.
        """
        if not proxies:
            return self
        findings = tuple(
            dataclasses.replace(f, asset=proxies.get(f.asset, f.asset)) for f in self.findings
        ) + tuple(
            DataFinding(kind="proxy", file=f"{self.sources[t]} prices", asset=a, start=None, end=None,
                        detail=f"{a} is priced by the {t} series (price_ticker)", fatal=False)
            for t, a in proxies.items()
        )
        return PriceData(
            prices=self.prices.rename(columns=proxies),
            volumes=None if self.volumes is None else self.volumes.rename(columns=proxies),
            sources={proxies.get(k, k): v for k, v in self.sources.items()},
            findings=findings,
            file_hashes=self.file_hashes,
            proxied=self.proxied,
        )

    def backfilled_by(self, proxies: dict[str, str], *, drop: tuple[str, ...] = ()) -> PriceData:
        """The same data with each asset's days before its first price taken from its proxy.

        ``proxies`` maps an asset to the column it follows (another asset, or a ticker loaded for
        the purpose and named in ``drop``, which is then removed). Each one-day return before the
        asset's first price is the proxy's times ``sd(r_asset) / sd(r_proxy)`` on their overlap;
        see :mod:`optimizer.data._proxy` for the rule and why a volatility ratio, not a beta.
        Each span is recorded in :attr:`proxied` and as a ``"proxied"`` finding.
        """
        if not proxies:
            return self
        cols = list(dict.fromkeys([*proxies, *proxies.values()]))
        prices, spans, found = backfill_from_proxies(
            self.prices, one_day_log_returns(self.prices[cols]), proxies, self.sources)
        keep = [c for c in prices.columns if c not in drop]
        return PriceData(
            prices=prices[keep],
            volumes=None if self.volumes is None else self.volumes[keep],
            sources={k: v for k, v in self.sources.items() if k not in drop},
            findings=tuple(f for f in self.findings if f.asset not in drop) + found,
            file_hashes=self.file_hashes,
            proxied=self.proxied + spans,
        )

    def returns(
        self,
        *,
        gaps: Literal["drop", "keep"] = "drop",
        history: Literal["common", "each"] = "common",
    ) -> pd.DataFrame:
        """Daily log returns on the common window, or on each asset's own history.

        The common window runs from the first to the last date on which every asset has a price.
        With ``history="each"`` it starts instead at the first date on which any asset has a
        price: every asset keeps its whole history in the window, and an asset that starts later
        has NaN before its first return (like a gap; needs ``gaps="keep"``).
        The return dated t is ``log(P[t] / P[t - 1 day])``; the first date of the window has none.

        Missing prices are never filled. A price missing inside the window (an interior gap, see
        the ``"gap"`` findings) leaves the returns dated on the gap days and on the first day after
        it undefined for that asset: a return across a gap is not a one-day return, so it is never
        computed. ``gaps`` says what happens to those dates:

        - ``"drop"`` (default): they are dropped **for every asset**, so the panel stays aligned
          and holds no NaN. Simple, but one asset's gap removes the other assets' returns too,
          including stress days that fall inside it.
        - ``"keep"``: every date of the window on which at least one asset has a one-day return
          stays; only the asset(s) without one on that date get NaN. Feed this panel to
          estimators built with ``missing="skip"``.

        Either way each undefined return is covered by a ``"gap"`` finding naming the asset and
        the dates. Rows of ``prices`` more than one day apart (should a caller build ``PriceData``
        on a sparser calendar) give no return for any asset and are dropped in both modes.

        Parameters
        ----------
        gaps : {"drop", "keep"}, default="drop"
            Drop the dates on which any asset lacks a one-day return, or keep them with NaN in
            the cells of the assets that lack one.
        history : {"common", "each"}, default="common"
            Start at the first date on which every asset has a price (the youngest asset sets
            everyone's start), or at the first date on which any asset has one (only with
            ``gaps="keep"``).

        Returns
        -------
        DataFrame of shape (n_returns, n_assets)
            Log returns as decimals (0.01 = 1 %), index named ``"date"``, columns as ``prices``.
            No NaN with ``gaps="drop"``; NaN exactly where an asset has no one-day return with
            ``gaps="keep"`` (never a whole row of NaN).

        Raises
        ------
        ValueError
            If ``gaps`` is not ``"drop"`` or ``"keep"``, ``history`` not ``"common"`` or ``"each"``,
            or ``history="each"`` with ``gaps="drop"``.
        DataError
            If there is no date on which every asset has a price.
        """
        if gaps not in ("drop", "keep"):
            raise ValueError(f"`gaps` must be 'drop' or 'keep', got gaps={gaps!r}")
        if history not in ("common", "each"):
            raise ValueError(f"`history` must be 'common' or 'each', got history={history!r}")
        if history == "each" and gaps != "keep":
            raise ValueError("`history='each'` leaves NaN before a young asset's first price: "
                             "it needs gaps='keep'")
        prices = self.prices
        complete = np.flatnonzero(prices.notna().all(axis=1).to_numpy())
        if complete.size == 0:
            raise DataError(
                f"no date from {self.start} to {self.as_of} on which every asset "
                f"({', '.join(self.assets)}) has a price"
            )
        first = complete[0]
        if history == "each":
            first = int(np.flatnonzero(prices.notna().any(axis=1).to_numpy())[0])
        returns = one_day_log_returns(prices.iloc[first : complete[-1] + 1])
        values = returns.to_numpy()
        keep = np.isfinite(values).all(axis=1) if gaps == "drop" else ~np.isnan(values).all(axis=1)
        return pd.DataFrame(
            values[keep], index=pd.DatetimeIndex(returns.index[keep], name="date"),
            columns=prices.columns,
        )

    def summary(self) -> str:
        """Return a short description: window, assets by source, flags by kind, data hash."""
        n_days, n_assets = self.prices.shape
        lines = [f"PriceData: {n_days} days {self.start} to {self.as_of}, {n_assets} asset(s)"]
        by_source: dict[str, list[str]] = {}
        for asset in self.assets:
            by_source.setdefault(self.sources.get(asset, "?"), []).append(asset)
        lines += [f"  {source}: {', '.join(assets)}" for source, assets in by_source.items()]
        if self.volumes is not None:
            lines.append("  volumes: yes")
        if self.findings:
            counts = sorted(Counter(f.kind for f in self.findings).items())
            lines.append("  flags: " + ", ".join(f"{n} {kind}" for kind, n in counts))
        lines.append(f"  data_sha256: {self.data_sha256[:16]}...")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    __str__ = __repr__


def one_day_log_returns(prices: _Panel) -> _Panel:
    """Daily log returns ``log(P[t] / P[t - 1 day])``, the one definition every layer uses.

    The return dated t exists only when the asset has a price > 0 on t and on the calendar day
    before; a return across a gap is not a one-day return and is never computed. Nothing is
    filled or dropped here: the caller decides (``.dropna()`` for one asset on its own dates, a
    common window in :meth:`PriceData.returns`).

    Parameters
    ----------
    prices : Series or DataFrame of shape (n_days,) or (n_days, n_assets)
        Prices indexed by a sorted ``DatetimeIndex``; NaN where there is none.

    Returns
    -------
    Series or DataFrame of shape (n_days - 1,) or (n_days - 1, n_assets)
        Log returns as decimals on ``prices.index[1:]``; NaN exactly where there is no one-day
        return.

    Examples
    --------
    >>> idx = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04"])
    >>> one_day_log_returns(pd.Series([1.0, 2.0, 4.0], index=idx)).round(4).tolist()
    [0.6931, nan]
    """
    values = prices.to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(values > 0, values, np.nan))
    out = logs[1:] - logs[:-1]
    one_day = np.asarray((prices.index[1:] - prices.index[:-1]) == _ONE_DAY)
    out[~one_day] = np.nan
    if isinstance(prices, pd.Series):
        return pd.Series(out, index=prices.index[1:], name=prices.name)
    return pd.DataFrame(out, index=prices.index[1:], columns=prices.columns)


#: Source labels of :func:`average_daily_volume`, in order of precedence.
VOLUME_SOURCES = ("config", "data (30-day median)", "default")


def median_daily_volume(
    volumes: pd.Series | None,
    as_of: pd.Timestamp,
    *,
    days: int | None = 30,
    min_reports: int = 1,
    max_age_days: int = 7,
) -> float | None:
    """Median of an asset's last ``days`` reported daily volumes, or None when it has none usable.

    The volume rule: a series is usable at ``as_of`` when it has at least ``min_reports``
    reports (NaN is no report; a day without trades reports 0) and its last report is at most
    ``max_age_days`` before ``as_of``. The level is the median of the last ``days`` reports (all
    of them when ``days`` is None); a median that is not > 0 is no volume.

    Parameters
    ----------
    volumes : Series or None
        USD daily volumes indexed by date (a column of :attr:`PriceData.volumes`).
    as_of : Timestamp
        Date the volume is wanted at (the last date of the price panel).
    days : int or None, default 30
    min_reports : int, default 1
    max_age_days : int, default 7

    Returns
    -------
    float or None
    """
    if volumes is None:
        return None
    reports = volumes.dropna()
    if len(reports) < max(min_reports, 1) or reports.index[-1] < as_of - pd.Timedelta(days=max_age_days):
        return None
    level = float((reports if days is None else reports.iloc[-days:]).median())
    return level if level > 0 else None


def volume_ratio(volumes: pd.Series | None, as_of: pd.Timestamp, *, min_reports: int = 60) -> float | None:
    """Full-history median volume over the recent (30-day) median, both by :func:`median_daily_volume`.

    None when either level is not usable at ``as_of`` (the through-the-cycle liquidity of an asset
    without a volume history is not known).

    >>> idx = pd.date_range("2024-01-01", periods=90, freq="D")
    >>> volume_ratio(pd.Series([1.0] * 60 + [2.0] * 30, index=idx), idx[-1])
    0.5
    """
    recent = median_daily_volume(volumes, as_of, min_reports=min_reports)
    full = median_daily_volume(volumes, as_of, days=None, min_reports=min_reports)
    if recent is None or full is None:
        return None
    return full / recent


def average_daily_volume(
    prices: PriceData,
    configured: dict[str, float | None],
    default_usd: float,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """USD daily volume per asset: the configured value, else the data's, else ``default_usd``.

    The data's value is :func:`median_daily_volume` at the last date of ``prices``.

    Parameters
    ----------
    prices : PriceData
    configured : dict of str to float or None
        Asset -> configured volume (None: read it from the data), in the order wanted.
    default_usd : float

    Returns
    -------
    ndarray of shape (n_assets,), tuple of str
        The volumes and, per asset, which of :data:`VOLUME_SOURCES` gave it.
    """
    vols = prices.volumes
    as_of = prices.prices.index[-1]
    out, src = [], []
    for asset, value in configured.items():
        if value is not None:
            out.append(value)
            src.append(VOLUME_SOURCES[0])
            continue
        data = None
        if vols is not None and asset in vols.columns:
            data = median_daily_volume(vols[asset], as_of)
        out.append(default_usd if data is None else data)
        src.append(VOLUME_SOURCES[2] if data is None else VOLUME_SOURCES[1])
    return np.array(out, dtype=float), tuple(src)


def _iso(ts: pd.Timestamp) -> str:
    return str(ts.strftime("%Y-%m-%d"))
