"""A young asset's days before its first price from a declared proxy (``short_history = "proxy"``).

The asset's log price before its first price ``t0`` follows the proxy's, scaled by the ratio of
the two assets' volatilities on the days both have a one-day return (their overlap):

``log P_x(t) = log P_x(t0) - k (log P_p(t0) - log P_p(t))``, ``t < t0``, ``k = sd(r_x) / sd(r_p)``

so every one-day return on those days is ``k r_p(t)``: a day that crashed the proxy crashes the
asset at its own volatility. The volatility ratio, not the regression beta ``rho k``, is used on
purpose: a beta shrinks the asset's variance on the proxied days by ``rho**2`` (the part of its
risk the proxy does not explain), which understates the tail of the very days the proxy stands in
for; with the ratio the proxied days have the asset's own volatility and correlation 1 with the
proxy. Nothing is taken from the other assets, and no asset's window is shortened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.data._findings import DataFinding
from optimizer.exceptions import DataError

__all__ = ["MIN_OVERLAP_DAYS", "ProxySpan", "backfill_from_proxies"]

#: Fewest days on which asset and proxy both have a one-day return, to estimate the scale.
MIN_OVERLAP_DAYS = 60


@dataclass(frozen=True)
class ProxySpan:
    """One asset's days taken from its proxy.

    Attributes
    ----------
    asset, proxy : str
        The asset and the column (a configured asset or a data ticker) whose returns it follows.
    first_price : str
        ISO date of the asset's own first price in the window.
    start, end : str
        ISO dates of the first and last proxied price (``end`` is the day before ``first_price``).
    n_days : int
        Proxied prices (days in ``[start, end]`` on which the proxy has a price).
    scale : float
        ``k = sd(r_asset) / sd(r_proxy)`` on the overlap.
    correlation : float
        Correlation of the two one-day returns on the overlap (what the ratio leaves aside).
    overlap_days : int
        Days both have a one-day return, from ``first_price`` to the window's end.
    """

    asset: str
    proxy: str
    first_price: str
    start: str
    end: str
    n_days: int
    scale: float
    correlation: float
    overlap_days: int

    def detail(self) -> str:
        """One sentence for the finding and the report."""
        return (f"{self.asset} before its first price ({self.first_price}) follows {self.proxy}: "
                f"each one-day return is {self.scale:.3f} x {self.proxy}'s (volatility ratio on "
                f"{self.overlap_days} overlap days; correlation there {self.correlation:.2f})")


def backfill_from_proxies(
    prices: pd.DataFrame, returns: pd.DataFrame, proxies: dict[str, str], sources: dict[str, str]
) -> tuple[pd.DataFrame, tuple[ProxySpan, ...], tuple[DataFinding, ...]]:
    """Each asset's prices before its first one taken from its proxy (the rule of this module).

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_columns)
        Daily prices (``PriceData.prices``) holding every asset and every proxy column.
    returns : DataFrame of shape (n_days - 1, n_columns)
        Their one-day log returns (``one_day_log_returns(prices)``).
    proxies : dict of str to str
        Asset -> proxy column.
    sources : dict of str to str
        Column -> source name, for the findings.

    Returns
    -------
    prices : DataFrame
        A copy with the proxied cells filled.
    spans : tuple of ProxySpan
    findings : tuple of DataFinding
        One ``"proxied"`` finding per span.

    Raises
    ------
    DataError
        If an asset or proxy column is missing, or they share fewer than
        :data:`MIN_OVERLAP_DAYS` one-day returns in the window.
    """
    prices = prices.copy()
    spans: list[ProxySpan] = []
    findings: list[DataFinding] = []
    idx = prices.index
    window = f"{_iso(idx[0])} to {_iso(idx[-1])}" if len(idx) else "(empty)"
    for asset, proxy in proxies.items():
        for col in (asset, proxy):
            if col not in prices.columns:
                raise DataError(f"proxy of '{asset}': no '{col}' prices in the window {window}")
        x, p = prices[asset], prices[proxy]
        t0 = x.first_valid_index()
        if t0 is None:
            raise DataError(f"'{asset}' has no price in the window {window} to scale its proxy '{proxy}' on")
        both = returns[[asset, proxy]].dropna()
        if len(both) < MIN_OVERLAP_DAYS:
            raise DataError(
                f"'{asset}' and its proxy '{proxy}' share {len(both)} one-day returns in the window "
                f"{window}, at least {MIN_OVERLAP_DAYS} required to scale the proxy; pick a proxy "
                "priced over the asset's history"
            )
        rx, rp = both[asset].to_numpy(), both[proxy].to_numpy()
        scale = float(rx.std() / rp.std())
        before = p.loc[: t0 - pd.Timedelta(days=1)].dropna()
        if before.empty or pd.isna(p.loc[t0]):
            continue  # the proxy has no price before (or on) the asset's first day: nothing to fill
        filled = np.exp(np.log(x.loc[t0]) - scale * (np.log(p.loc[t0]) - np.log(before)))
        prices.loc[before.index, asset] = filled
        span = ProxySpan(
            asset=asset, proxy=proxy, first_price=_iso(t0), start=_iso(before.index[0]),
            end=_iso(before.index[-1]), n_days=len(before), scale=scale,
            correlation=float(np.corrcoef(rx, rp)[0, 1]), overlap_days=len(both),
        )
        spans.append(span)
        findings.append(DataFinding(
            kind="proxied", file=f"{sources.get(proxy, '?')} prices", asset=asset,
            start=span.start, end=span.end, detail=span.detail(), fatal=False,
        ))
    return prices, tuple(spans), tuple(findings)


def _iso(ts: pd.Timestamp) -> str:
    return str(pd.Timestamp(ts).strftime("%Y-%m-%d"))
