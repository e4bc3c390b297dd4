"""Which assets a dated crash episode can be replayed for (the data each one has around it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["Exclusion", "ExclusionKind", "episode_coverage"]

ExclusionKind = Literal[
    "no_prices", "starts_after", "ends_before", "no_close_before", "missing_close", "short_history"
]


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).date().isoformat()


@dataclass(frozen=True)
class Exclusion:
    """Why an asset cannot take part in an episode (the facts; the report words them).

    Attributes
    ----------
    kind : {"no_prices", "starts_after", "ends_before", "no_close_before", "missing_close", "short_history"}
        No price at all; its data starts after the episode; it ends before the episode ends; no
        close on the day before the episode; a missing close inside it; too little history
        before it.
    date : str or None
        ``starts_after``: the first date; ``ends_before``: the last date of the data (None when
        there is none); ``no_close_before`` and ``short_history``: the day before the episode;
        ``missing_close``: the first day without a close.
    gap : tuple of (str, str or None), optional
        ``no_close_before``: the first and last day of the price gap around it (None: the gap
        lasts to the end of the data); None when the series has no earlier price.
    n_before, min_days : int, optional
        ``short_history``: the prices before the episode, and how many are needed.
    """

    kind: ExclusionKind
    date: str | None = None
    gap: tuple[str, str | None] | None = None
    n_before: int | None = None
    min_days: int | None = None


def _gap_around(s: pd.Series, t: pd.Timestamp) -> tuple[str, str | None] | None:
    before = s.loc[:t].last_valid_index()
    after = s.loc[t:].first_valid_index()
    if before is None:
        return None
    lo = _iso(before + pd.Timedelta(days=1))
    hi = _iso(after - pd.Timedelta(days=1)) if after is not None else None
    return lo, hi


def episode_coverage(
    prices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, min_days: int
) -> dict[str, Exclusion | None]:
    """Per asset, None when it can take part in the episode ``[start, end]``, else why not.

    An asset takes part when the data has its close on the day before ``start`` and on every day
    of the episode, and at least ``min_days`` prices up to the day before.

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_assets)
        Daily closes on a calendar index (NaN where there is none).
    start, end : Timestamp
        First and last day of the episode.
    min_days : int
        Fewest prices an asset needs before the episode.

    Returns
    -------
    dict of str to Exclusion or None
        In column order.
    """
    t0 = start - pd.Timedelta(days=1)
    out: dict[str, Exclusion | None] = {}
    last = prices.index[-1] if len(prices.index) else None
    for a in prices.columns:
        s = prices[a]
        first = s.first_valid_index()
        if first is None:
            out[a] = Exclusion("no_prices")
        elif first > end:
            out[a] = Exclusion("starts_after", date=_iso(first))
        elif last is None or end > last:
            out[a] = Exclusion("ends_before", date=_iso(last) if last is not None else None)
        elif t0 not in s.index or not np.isfinite(s.get(t0, np.nan)):
            out[a] = Exclusion("no_close_before", date=_iso(t0), gap=_gap_around(s, t0))
        elif s.loc[start:end].isna().any():
            window = s.loc[start:end]
            out[a] = Exclusion("missing_close", date=_iso(window[window.isna()].index[0]))
        else:
            n_before = int(s.loc[:t0].notna().sum())
            out[a] = None if n_before >= min_days else Exclusion(
                "short_history", date=_iso(t0), n_before=n_before, min_days=min_days)
    return out
