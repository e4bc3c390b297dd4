"""One price series per asset from several sources in priority order.

The first source that holds an asset gives its series. Each lower-priority source then fills only
the days the series built so far lacks (before its first price, inside a gap, after its last
price), and only after the two have been compared on the days both have: the median absolute
relative deviation must stay within a tolerance, else the load fails naming both files. Values
are never blended: a day's price is one source's own number. Every comparison and every filled
span is recorded as a finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.data._findings import DataFinding, finding
from optimizer.data._sources import SOURCES
from optimizer.exceptions import DataError

#: Fewest days a lower-priority source must share with the series before it may fill it: with
#: fewer, the agreement cannot be checked and the source is not used for that asset.
MIN_OVERLAP_DAYS = 30


@dataclass(frozen=True)
class FillSpan:
    """A run of consecutive days of ``asset`` taken from ``source`` (aligned dates)."""

    asset: str
    source: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class OverlapCheck:
    """Agreement of ``source`` with the series it fills, on the ``n_days`` both have."""

    asset: str
    source: str
    against: tuple[str, ...]
    n_days: int
    median: float
    worst: float
    worst_day: pd.Timestamp | None
    used: bool
    #: First and last day the source could have filled.
    lacking: tuple[pd.Timestamp, pd.Timestamp] | None = None


@dataclass(frozen=True, eq=False)
class MergedPrices:
    """Result of :func:`merge_sources`.

    Attributes
    ----------
    columns : dict of str to Series
        Asset -> merged daily prices (aligned close dates, only days with a price).
    used : dict of str to tuple of str
        Asset -> the sources its series holds values from, in priority order.
    fills : tuple of FillSpan
    checks : tuple of OverlapCheck
    """

    columns: dict[str, pd.Series]
    used: dict[str, tuple[str, ...]]
    fills: tuple[FillSpan, ...] = ()
    checks: tuple[OverlapCheck, ...] = field(default=())

    def window_findings(
        self, index: pd.DatetimeIndex, start: pd.Timestamp | None = None
    ) -> list[DataFinding]:
        """``"overlap"``, ``"unfilled"`` and ``"filled"`` findings, fills clipped to ``index``.

        ``start`` (the requested first day, if earlier than ``index[0]``) widens the window in
        which a source that could not be checked is reported as ``"unfilled"``.
        """
        out: list[DataFinding] = []
        hi = index[-1]
        lo = index[0] if start is None else min(index[0], start)
        for c in self.checks:
            against = "+".join(SOURCES[s].prices for s in c.against)
            file = SOURCES[c.source].prices
            if not c.used:
                if c.lacking is None or c.lacking[1] < lo or c.lacking[0] > hi:
                    continue  # it could only have filled days outside the window
                detail = (f"not used to fill {against}: only {c.n_days} day(s) in common "
                          f"(at least {MIN_OVERLAP_DAYS} needed to check that they agree)")
                out.append(finding("unfilled", file, c.asset, None, None, detail))
                continue
            if not any(f.asset == c.asset and f.source == c.source and f.end >= lo
                       and f.start <= hi for f in self.fills):
                continue  # the check let it fill days outside the window only
            worst_on = f" on {c.worst_day.date()}" if c.worst_day is not None else ""
            detail = (f"agrees with {against} on the {c.n_days} day(s) both have: median "
                      f"|deviation| {c.median:.3%}, worst {c.worst:.2%}{worst_on}")
            out.append(finding("overlap", file, c.asset, None, None, detail))
        for f in self.fills:
            start, end = max(f.start, index[0]), min(f.end, hi)
            if start > end:
                continue
            n = (end - start).days + 1
            primary = SOURCES[self.used[f.asset][0]].prices
            detail = (f"{n} day(s) without a price in {primary} filled from "
                      f"{SOURCES[f.source].prices}")
            if f.source != self.used[f.asset][0] and SOURCES[f.source].date_shift_days:
                detail += f" (its dates moved {SOURCES[f.source].date_shift_days:+d} day to the close)"
            out.append(finding("filled", SOURCES[f.source].prices, f.asset,
                               start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"), detail))
        return out


def merge_sources(
    assets: Sequence[str],
    priorities: Mapping[str, tuple[str, ...]],
    frames: Mapping[str, pd.DataFrame],
    *,
    as_of: pd.Timestamp | None = None,
    tolerance: float = 0.02,
) -> MergedPrices:
    """Build each asset's series from its sources in priority order.

    Parameters
    ----------
    assets : sequence of str
    priorities : mapping of str to tuple of str
        Asset -> source names, highest priority first.
    frames : mapping of str to DataFrame
        Source -> wide price frame on aligned (close) dates; an asset missing from a frame is
        skipped for that source.
    as_of : Timestamp, optional
        Values after it are ignored, by the comparison too (no look-ahead).
    tolerance : float, default 0.02
        Largest allowed median of ``|p_fill / p - 1|`` on the common days.

    Returns
    -------
    MergedPrices

    Raises
    ------
    DataError
        When a source disagrees with the series it would fill beyond ``tolerance`` (the message
        names both files, the asset, the days compared and the deviations), or when no source has
        the asset at all.
    """
    columns: dict[str, pd.Series] = {}
    used: dict[str, tuple[str, ...]] = {}
    fills: list[FillSpan] = []
    checks: list[OverlapCheck] = []
    problems: list[str] = []
    for asset in assets:
        series: pd.Series | None = None
        took: list[str] = []
        unclipped: tuple[str, pd.Series] | None = None
        for source in priorities[asset]:
            frame = frames.get(source)
            if frame is None or asset not in frame.columns:
                continue
            col = frame[asset].dropna().astype("float64")
            if unclipped is None:
                unclipped = (source, col)
            if as_of is not None:
                col = col.loc[:as_of]
            if col.empty:
                continue
            if series is None:
                series, took = col, [source]
                continue
            lacking = col.index.difference(series.index)
            if lacking.empty:
                continue
            common = series.index.intersection(col.index)
            dev = (col.loc[common] / series.loc[common] - 1.0).abs()
            n = int(dev.size)
            median = float(dev.median()) if n else float("nan")
            worst = float(dev.max()) if n else float("nan")
            check = OverlapCheck(asset, source, tuple(took), n, median, worst,
                                 dev.idxmax() if n else None, used=n >= MIN_OVERLAP_DAYS,
                                 lacking=(lacking[0], lacking[-1]))
            checks.append(check)
            if not check.used:
                continue
            if median > tolerance:
                problems.append(
                    f"asset '{asset}': {SOURCES[source].prices} disagrees with "
                    f"{'+'.join(SOURCES[s].prices for s in took)} on the {n} day(s) both have: "
                    f"median |deviation| {median:.2%} > overlap_tolerance {tolerance:.2%} "
                    f"(worst {worst:.2%} on {check.worst_day.date()}); the two do not price the "
                    "same thing in the same unit. Fix the file, raise [data] overlap_tolerance, "
                    "or take the source out of [data] sources"
                )
                continue
            fills += _spans(asset, source, lacking)
            series = pd.concat([series, col.loc[lacking]]).sort_index()
            took.append(source)
        if series is None and unclipped is not None:
            # No price up to as_of in any source: keep the first source's column, so that the
            # window checks report it as they do for a single source.
            series, took = unclipped[1], [unclipped[0]]
        if series is None:
            files = ", ".join(SOURCES[s].prices for s in priorities[asset])
            problems.append(f"asset '{asset}' has no price in any of its sources ({files})"
                            + (f" up to {as_of.date()}" if as_of is not None else ""))
            continue
        columns[asset], used[asset] = series, tuple(took)
    if problems:
        raise DataError("cannot merge the price sources:\n" + "\n".join(f"  - {p}" for p in problems))
    return MergedPrices(columns=columns, used=used, fills=tuple(fills), checks=tuple(checks))


def _spans(asset: str, source: str, days: pd.DatetimeIndex) -> list[FillSpan]:
    """Runs of consecutive calendar days in ``days`` (sorted)."""
    if days.empty:
        return []
    ordinals = np.asarray(days.to_numpy().astype("datetime64[D]").astype(np.int64))
    breaks = np.flatnonzero(np.diff(ordinals) != 1)
    starts = np.r_[0, breaks + 1]
    ends = np.r_[breaks, len(days) - 1]
    return [FillSpan(asset, source, days[a], days[b]) for a, b in zip(starts, ends)]
