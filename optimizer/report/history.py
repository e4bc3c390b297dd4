"""The report's "Price history per asset" section: where each asset's window comes from.

Per asset: the source of its series, its first price, the days of the window without its own
one-day return and how the scenarios fill them (its residuals imputed conditionally on the other
assets' of the same day, or a declared proxy's returns), and the spans a lower-priority source
filled. Built from the run's :class:`~optimizer.data.PriceData`, its returns and the fitted
scenario generator, read only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from optimizer.report.section import Column, Format, Section, Table

__all__ = ["AssetHistory", "asset_histories", "attach_history_section", "history_section"]


@dataclass(frozen=True)
class AssetHistory:
    """Where one asset's estimation window comes from.

    Attributes
    ----------
    asset, source : str
        The asset and the source of its series (the first of ``[data] sources`` holding it).
    first_price : str
        ISO date of its own first price, or of the window's first day when it is priced earlier.
    priced_before_window : bool
        True when its own history starts before the window (nothing is missing at the start).
    missing_days : int
        Days of the window without its own one-day return (before its first price, and gaps).
    imputed_days : int
        Of those, residuals imputed conditionally on the other assets' of the same day.
    proxied_days : int
        Days before its first price taken from its declared proxy (``short_history = "proxy"``).
    how : str
        How the scenarios fill the missing days, in words.
    filled : tuple of str
        Spans filled from a lower-priority source, ``"coingecko 2022-09-27..2023-03-10 (165 days)"``.
    """

    asset: str
    source: str
    first_price: str
    priced_before_window: bool
    missing_days: int
    imputed_days: int
    proxied_days: int
    how: str
    filled: tuple[str, ...]


def asset_histories(prices: Any, returns: pd.DataFrame, generator: Any) -> tuple[AssetHistory, ...]:
    """One :class:`AssetHistory` per column of ``returns``.

    Parameters
    ----------
    prices : PriceData
        The run's estimation-window prices (findings, sources, proxied spans).
    returns : DataFrame of shape (n_days, n_assets)
        The returns the generator was fitted on (NaN where an asset has no one-day return).
    generator : ScenarioGenerator
        Fitted; its ``imputed_by_asset_`` and ``imputed_r_squared_`` are read when present.
    """
    window_start = prices.prices.index[0]
    imputed = dict(getattr(generator, "imputed_by_asset_", {}) or {})
    r2 = dict(getattr(generator, "imputed_r_squared_", {}) or {})
    proxied = {s.asset: s for s in getattr(prices, "proxied", ())}
    out = []
    for asset in (str(c) for c in returns.columns):
        span = proxied.get(asset)
        first = pd.Timestamp(span.first_price) if span else prices.prices[asset].first_valid_index()
        own_missing = int(returns[asset].isna().sum())
        missing = own_missing + (span.n_days if span else 0)
        n_imp = int(imputed.get(asset, 0))
        parts = []
        if span is not None:
            parts.append(f"proxy: {span.n_days} days follow {span.proxy} x {span.scale:.2f} (volatility "
                         f"ratio on {span.overlap_days} days; correlation {span.correlation:.2f})")
        if own_missing:
            if n_imp:
                parts.append(f"imputed from the others' residuals that day (R\u00b2 "
                             f"{r2.get(asset, float('nan')):.2f})")
            if n_imp < own_missing:
                parts.append(f"{own_missing - n_imp} day(s) drawn from its own residuals at random "
                             "(too few complete days to impute)")
        if n_imp > own_missing:
            # days the scenario model itself leaves out (a pegged asset's depeg days: a jump instead)
            parts.append(f"{n_imp - own_missing} day(s) left out of the continuous part (depeg days, "
                         "drawn as a jump) imputed from the others' residuals that day")
        how = "; ".join(parts) or "complete"
        fills = tuple(
            f"{f.file.split('_')[0]} {f.start}..{f.end} ({_days(f.start, f.end)} days)"
            for f in prices.findings if f.kind == "filled" and f.asset == asset
        )
        out.append(AssetHistory(
            asset=asset, source=str(prices.sources.get(asset, "?")),
            first_price=_iso(max(first, window_start)), priced_before_window=bool(first <= window_start),
            missing_days=missing, imputed_days=n_imp, proxied_days=span.n_days if span else 0,
            how=how, filled=fills,
        ))
    return tuple(out)


def history_section(histories: Sequence[AssetHistory], *, window: str) -> Section:
    """The section (params.json: ``price_history``, one record per asset)."""
    rows = tuple(
        (h.asset, h.source, "earlier" if h.priced_before_window else h.first_price,
         h.missing_days, h.how, "; ".join(h.filled) or "none")
        for h in histories
    )
    table = Table(
        columns=(Column("asset"), Column("series"), Column("first price"),
                 Column("missing days", Format.NUM, numeric=True),
                 Column("how the scenarios fill them"), Column("days from another source")),
        rows=rows, id="tbl-price-history",
        caption=(f"Estimation window {window}. First price: earlier = before the window. Missing days: "
                 "days of the window without the asset's own one-day return. Days from another source: "
                 "spans the first source lacks, filled from the next one in [data] sources."),
    )
    paragraphs = (
        "Every asset keeps its whole history inside the window; no asset shortens another's. A day "
        "an asset has no one-day return of its own (before its first price, or a trading gap) stays "
        "in the scenarios for the others, and the asset's move that day comes from the same day: its "
        "standardised residual is the regression on the other assets' residuals of that day (through "
        "their correlation on the days both have) plus a regression residual resampled from a complete "
        "day, so a day that crashed the others crashes it too; or, with short_history = \"proxy\", its "
        "price follows the declared proxy scaled by the two assets' volatility ratio. Prices are never "
        "filled otherwise.",
    )
    return Section(title="Price history per asset", paragraphs=paragraphs, tables=(table,),
                   data=[_record(h) for h in histories], data_key="price_history", appendix=True)


def attach_history_section(report: Any, prices: Any, returns: pd.DataFrame, generator: Any) -> Any:
    """``report`` with the ``price_history`` section added (see :func:`history_section`)."""
    import dataclasses

    idx = returns.index
    window = f"{idx[0].date().isoformat()} to {idx[-1].date().isoformat()}" if len(idx) else "empty"
    sections = dict(report.sections)
    sections["price_history"] = history_section(asset_histories(prices, returns, generator), window=window)
    return dataclasses.replace(report, sections=sections)


def _record(h: AssetHistory) -> dict[str, Any]:
    d = asdict(h)
    d["filled"] = list(h.filled)
    return d


def _days(start: str | None, end: str | None) -> int:
    if start is None or end is None:
        return 0
    return (pd.Timestamp(end) - pd.Timestamp(start)).days + 1


def _iso(ts: pd.Timestamp) -> str:
    return str(pd.Timestamp(ts).strftime("%Y-%m-%d"))
