"""Peg breaks of a class of pegged assets: how often they happen and how deep they go.

A **peg break** of an asset is a run of days on which its peg ratio (price over reference, see
:func:`optimizer.data.peg_history`) closes more than ``threshold`` away from par, below or
above. Runs of the same side closer than ``decluster_days`` calendar days are one event (a
depeg that recovers for a day and breaks again is one episode, not two). A day without a value is
neither part of an event nor a recovery: it is skipped, and two off-peg runs on either side of a
gap merge only if they are within ``decluster_days`` of each other on the calendar.

Each event's **level** is its worst close (lowest below par, highest above), replaced by the
documented intraday extreme of :func:`optimizer.data.intraday_extremes` where the table has a
deeper low for that asset within the event (USDC 2023-03: 0.87 intraday, not the 0.966 close). A
table low beyond the threshold that no close-based event covers (USDT 0.948 on 2022-05-12,
whose closes stayed within 1 %) is an event of its own.

An event's **horizon move** (:meth:`PegBreak.move`) is what a liquidation horizon of ``h`` days
sees of it: the worst ``h``-day change of the ratio over the windows that end inside the event,
each from the last close at or before ``h`` days earlier (so the first window starts from the
last on-peg close), the documented intraday low counting as a value on its day; par when the
series has no earlier close. A scenario starts on peg, so a base on the far side of par (a
premium before a fall, a discount before a rise) counts as par: the move is never deeper than
the event's distance from par, and a recovery from a discount is not a premium. An event that drifts for months (USDT 2015 at 0.8238 after eleven
months below par) contributes the worst two days of the drift, not its whole distance from par;
a one-day crash from par (USDC 2023-03-11 at 0.87) contributes all of it. The level is kept for
the event table.

**Counted events.** An event that starts before its series' counted history
(:attr:`optimizer.data.PegSeries.counted_from`, the thin-market rule of the peg ratios) is found
and listed with the reason it is out, but it is neither part of the frequency nor of the
severities; the asset-years count the counted days only.

The **frequency** is events per asset-year observed in the class (pooled over every asset of the
class in the data); the severity distribution is fitted on the pooled horizon moves
(:mod:`optimizer.estimators._peg_severity`). Breaks above par are kept: a stablecoin's premium
(DAI at 1.066 on 2020-03-12) revalues the debt of its borrowers as a discount revalues its
collateral.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from optimizer.data._validate import true_runs
from optimizer.estimators._validation import check_fraction, check_int

if TYPE_CHECKING:
    from optimizer.data import IntradayExtreme, PegSeries
    from optimizer.typing import FloatArray

Side = Literal["below", "above"]
DAYS_PER_YEAR = 365.25
#: Days of the ratio kept before an event (the longest horizon a move is measured over).
LOOKBACK_DAYS = 60


@dataclass(frozen=True)
class PegBreak:
    """One peg-break event of one asset.

    Attributes
    ----------
    asset, reference : str
        The asset and its class (``"usd"``, ``"eth"``, ``"btc"``).
    start, end : datetime.date
        First and last day off peg (closes; the intraday day for an intraday-only event).
    side : {"below", "above"}
    close_level : float or None
        Worst daily close of the peg ratio in the event (None for an intraday-only event).
    close_source : str
        Data source of that close (``"coingecko"``, ...), or ``""``.
    level : float
        The event's severity as a price relative to par: ``close_level`` or the deeper documented
        intraday low.
    depth_source : {"close", "intraday"}
        Where ``level`` comes from.
    intraday_source : str or None
        The table's source of the intraday low, when it is used.
    intraday_date : datetime.date or None
        Day of that low.
    excluded : str
        Why the event is out of the history (``""``: it counts).
    path : Series or None
        The ratio from :data:`LOOKBACK_DAYS` before ``start`` to ``end`` (calendar days, NaN on a
        gap): what :meth:`move` reads.
    """

    asset: str
    reference: str
    start: date
    end: date
    side: Side
    close_level: float | None
    close_source: str
    level: float
    depth_source: Literal["close", "intraday"]
    intraday_source: str | None = None
    intraday_date: date | None = None
    excluded: str = ""
    path: pd.Series | None = field(default=None, compare=False, repr=False)

    def move(self, horizon_days: int) -> float:
        """The event's worst ``horizon_days``-day price relative (see the module notes).

        Below par the lowest, above par the highest change over the windows ending inside the
        event; 1 at worst (a window cannot move the wrong way for the event's side). Without a
        path: the level.
        """
        if self.path is None:
            return self.level
        h = pd.Timedelta(days=int(horizon_days))
        path = self.path.dropna()
        inside = path[(path.index >= pd.Timestamp(self.start)) & (path.index <= pd.Timestamp(self.end))]
        points = list(zip(inside.index, inside.to_numpy(dtype=float), strict=True))
        if self.intraday_date is not None and self.depth_source == "intraday":
            points.append((pd.Timestamp(self.intraday_date), self.level))
        if not points:
            return self.level
        index, values = path.index, path.to_numpy(dtype=float)
        # a scenario starts on peg: a base beyond par on the event's far side counts as par, so
        # the move is never deeper than the distance from par (no recovery, no fall from a premium)
        clip = min if self.side == "below" else max
        rel = []
        for day, value in points:
            k = int(index.searchsorted(day - h, side="right")) - 1  # last close at or before day - h
            rel.append(value / clip(values[k] if k >= 0 else 1.0, 1.0))
        return float(min(min(rel), 1.0)) if self.side == "below" else float(max(max(rel), 1.0))

    @property
    def depth(self) -> float:
        """``level - 1``: -0.13 for a fall to 0.87."""
        return self.level - 1.0

    def days(self) -> pd.DatetimeIndex:
        """The calendar days the event's moves fall on: ``start`` to the day after ``end``.

        The day after ``end`` holds the return out of the event (the recovery), which is part of
        the jump too.
        """
        return pd.date_range(self.start, pd.Timestamp(self.end) + pd.Timedelta(days=1), freq="D")


@dataclass(frozen=True, eq=False)
class PegBreakHistory:
    """The pooled peg-break history of a class: a typed result of :class:`PegBreakModel`.

    Attributes
    ----------
    reference : str
        The class.
    events : tuple of PegBreak
        Every event of every asset of the class, by start date.
    asset_years : dict of str to float
        Years with a peg ratio per asset (observed days / 365.25).
    threshold : float
    decluster_days : int
    notes : tuple of str
        The data choices behind the ratios (from :class:`~optimizer.data.PegSeries`).
    excluded : tuple of PegBreak
        Events found but out of the history (:attr:`PegBreak.excluded` says why).
    """

    reference: str
    events: tuple[PegBreak, ...]
    asset_years: dict[str, float]
    threshold: float
    decluster_days: int
    notes: tuple[str, ...] = ()
    excluded: tuple[PegBreak, ...] = ()

    def moves(self, horizon_days: int) -> FloatArray:
        """The counted events' horizon moves (price relatives), ndarray of shape (n_events,)."""
        return np.array([e.move(horizon_days) for e in self.events], dtype=float)

    @property
    def sides(self) -> np.ndarray:
        """True where a counted event is below par, shape (n_events,)."""
        return np.array([e.side == "below" for e in self.events], dtype=bool)

    @property
    def total_asset_years(self) -> float:
        return float(sum(self.asset_years.values()))

    @property
    def frequency(self) -> float:
        """Events per asset-year observed in the class (0 when nothing was observed)."""
        years = self.total_asset_years
        return len(self.events) / years if years > 0 else 0.0

    @property
    def levels(self) -> FloatArray:
        """The pooled severities (price relatives to par), ndarray of shape (n_events,)."""
        return np.array([e.level for e in self.events], dtype=float)

    def horizon_probability(self, horizon_days: int, n_events: int | None = None) -> float:
        """Probability of at least one event in ``horizon_days`` (Poisson at :attr:`frequency`, or
        at ``n_events`` over the same asset-years: a bootstrap replicate's count)."""
        years = self.total_asset_years
        freq = self.frequency if n_events is None else (n_events / years if years > 0 else 0.0)
        return float(-math.expm1(-freq * horizon_days / DAYS_PER_YEAR))

    def summary(self) -> str:
        """One line per event, then the frequency."""
        lines = [
            f"{e.asset} {e.start}..{e.end} {e.side} {e.level:.4f} ({e.depth_source})" for e in self.events
        ]
        lines.append(
            f"{self.reference}: {len(self.events)} events in {self.total_asset_years:.1f} asset-years, "
            f"{self.frequency:.3f} per asset-year"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def find_peg_breaks(
    series: PegSeries, *, threshold: float, decluster_days: int
) -> list[PegBreak]:
    """Close-based peg breaks of one asset (see the module docstring); levels are the closes."""
    x = series.ratio.to_numpy(dtype=float)
    index = series.ratio.index
    found: list[PegBreak] = []
    with np.errstate(invalid="ignore"):
        masks: dict[Side, np.ndarray] = {"below": x < 1.0 - threshold, "above": x > 1.0 + threshold}
    for side, mask in masks.items():
        runs = true_runs(mask)
        merged: list[list[int]] = []
        for a, b in runs:
            if merged and (index[a] - index[merged[-1][1]]).days <= decluster_days:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        for a, b in merged:
            window = x[a : b + 1]
            k = a + int(np.nanargmin(window) if side == "below" else np.nanargmax(window))
            found.append(PegBreak(
                asset=series.asset, reference=series.reference, start=index[a].date(), end=index[b].date(),
                side=side, close_level=float(x[k]), close_source=str(series.source.iloc[k]),
                level=float(x[k]), depth_source="close", path=_path(series, index[a], index[b]),
            ))
    return sorted(found, key=lambda e: (e.start, e.side))


def _path(series: PegSeries, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    r = series.ratio
    return r[(r.index >= start - pd.Timedelta(days=LOOKBACK_DAYS)) & (r.index <= end)]


def mark_thin(events: list[PegBreak], series: PegSeries) -> list[PegBreak]:
    """Events starting before the series' counted history, marked out (thin market)."""
    start = series.counted_from
    if start is None:
        return events
    why = (f"thin market: before its market cap first reached the floor ({start.date()})"
           if start <= series.ratio.index[-1] else "thin market: its market cap never reached the floor")
    return [PegBreak(**{**e.__dict__, "excluded": why}) if pd.Timestamp(e.start) < start else e for e in events]


def with_intraday(
    events: list[PegBreak],
    series: PegSeries,
    intraday: Sequence[IntradayExtreme],
    *,
    threshold: float,
    decluster_days: int,
) -> list[PegBreak]:
    """Events with their level replaced by a deeper documented intraday low (or added by one)."""
    out = list(events)
    first, last = series.ratio.first_valid_index(), series.ratio.last_valid_index()
    for row in intraday:
        if row.asset != series.asset or row.reference != series.reference:
            continue
        day = pd.Timestamp(row.date)
        if first is None or not first <= day <= last:
            continue  # outside the asset's observed history (or after as_of)
        slack = pd.Timedelta(days=decluster_days)
        hit = [i for i, e in enumerate(out) if e.side == "below"
               and pd.Timestamp(e.start) - slack <= day <= pd.Timestamp(e.end) + slack]
        if hit:
            i = hit[0]
            if row.low < out[i].level:
                out[i] = PegBreak(**{**out[i].__dict__, "level": float(row.low), "depth_source": "intraday",
                                     "intraday_source": row.source, "intraday_date": row.date})
        elif row.low < 1.0 - threshold:
            out.append(PegBreak(
                asset=series.asset, reference=series.reference, start=row.date, end=row.date, side="below",
                close_level=None, close_source="", level=float(row.low), depth_source="intraday",
                intraday_source=row.source, intraday_date=row.date, path=_path(series, day, day),
            ))
    return sorted(out, key=lambda e: (e.start, e.side))


class PegBreakModel(BaseEstimator):
    """Frequency and severity of peg breaks, pooled over a class of pegged assets.

    Parameters
    ----------
    threshold : float, default 0.02
        Distance of the peg ratio from par beyond which a close is off peg (0 < threshold < 1).
    decluster_days : int, default 7
        Off-peg runs of one asset and side at most this many calendar days apart are one event.
    intraday : sequence of IntradayExtreme or None, default None
        Documented intraday lows (``optimizer.data.intraday_extremes()``); None uses none.

    Attributes
    ----------
    history_ : PegBreakHistory
        The events, asset-years and notes.
    reference_ : str
    events_ : tuple of PegBreak
    n_events_ : int
    asset_years_ : dict of str to float
    frequency_ : float
        Events per asset-year.
    levels_ : ndarray of shape (n_events,)
        Pooled severities (price relatives to par).

    Examples
    --------
    >>> from optimizer.data import intraday_extremes, peg_history  # doctest: +SKIP
    >>> m = PegBreakModel(intraday=intraday_extremes()).fit(peg_history(d, reference="usd"))  # doctest: +SKIP
    >>> m.history_.horizon_probability(2)  # doctest: +SKIP
    """

    def __init__(
        self,
        threshold: float = 0.02,
        decluster_days: int = 7,
        intraday: Sequence[IntradayExtreme] | None = None,
    ) -> None:
        self.threshold = threshold
        self.decluster_days = decluster_days
        self.intraday = intraday

    def fit(self, history: Sequence[PegSeries], y: None = None) -> PegBreakModel:
        """Scan every series for peg breaks and pool them.

        Parameters
        ----------
        history : sequence of PegSeries
            The peg ratios of one class (all with the same ``reference``).
        y : None
            Ignored.

        Returns
        -------
        self : PegBreakModel

        Raises
        ------
        ValueError
            If ``history`` is empty, mixes classes, or a parameter is out of range.
        """
        threshold = check_fraction(self.threshold, "threshold", low=0.0, high=1.0, closed="neither")
        decluster = check_int(self.decluster_days, "decluster_days", minimum=0)
        series = list(history)
        if not series:
            raise ValueError("`history` must hold at least one PegSeries")
        refs = {s.reference for s in series}
        if len(refs) != 1:
            raise ValueError(f"`history` mixes classes {sorted(refs)}; fit one class at a time")
        events: list[PegBreak] = []
        years: dict[str, float] = {}
        notes: list[str] = []
        for s in series:
            found = find_peg_breaks(s, threshold=threshold, decluster_days=decluster)
            found = with_intraday(found, s, self.intraday or (), threshold=threshold, decluster_days=decluster)
            events += mark_thin(found, s)
            years[s.asset] = s.observed_days / DAYS_PER_YEAR
            notes += [f"{s.asset}: {n}" for n in s.notes]
        self.reference_ = refs.pop()
        order = sorted(events, key=lambda e: (e.start, e.asset, e.side))
        self.history_ = PegBreakHistory(
            reference=self.reference_, events=tuple(e for e in order if not e.excluded),
            asset_years=years, threshold=threshold, decluster_days=decluster, notes=tuple(notes),
            excluded=tuple(e for e in order if e.excluded),
        )
        self.events_ = self.history_.events
        self.n_events_ = len(self.events_)
        self.asset_years_ = dict(years)
        self.frequency_ = self.history_.frequency
        self.levels_ = self.history_.levels
        return self
