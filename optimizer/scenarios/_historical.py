"""Historical scenario sets: every realised window, and replays of a single dated episode."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.exceptions import DataError
from optimizer.scenarios._set import ScenarioSet
from optimizer.typing import FloatArray


def _check_prices(prices: object) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame):
        raise TypeError(f"`prices` must be a pandas DataFrame, got {type(prices).__name__}")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise TypeError(
            f"`prices` must be indexed by a DatetimeIndex, got {type(prices.index).__name__}"
        )
    if prices.shape[1] < 1:
        raise ValueError("`prices` has no columns")
    if not prices.index.is_monotonic_increasing or prices.index.has_duplicates:
        raise DataError(
            "`prices` index must be strictly increasing dates (sort it, drop duplicates)"
        )
    return prices


def _check_positive(values: FloatArray, frame: pd.DataFrame) -> None:
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        what = "no price" if np.isnan(values[i, j]) else f"the price {float(values[i, j])!r}"
        raise DataError(
            f"`prices` has {what} for asset {frame.columns[j]!r} on "
            f"{frame.index[i].date().isoformat()}; prices must be finite and > 0"
        )


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).date().isoformat()


def historical_windows(
    prices: pd.DataFrame, horizon: int, *, as_of: str | pd.Timestamp | None = None
) -> ScenarioSet:
    """Every overlapping ``horizon``-day window of realised price relatives (historical stresses).

    Parameters
    ----------
    prices : DataFrame of shape (n_dates, n_assets)
        Daily prices (levels), indexed by a sorted DatetimeIndex, one column per asset.
    horizon : int
        Window length in rows (days), >= 1.
    as_of : str or Timestamp or None, default None
        Ignore prices after this date (point-in-time use in backtests). None uses all the data.

    Returns
    -------
    ScenarioSet
        ``method="historical"``; ``relatives`` of shape (n_windows, horizon, n_assets) with
        ``relatives[k, h-1] = P[t_k + h] / P[t_k]``, one scenario per start date ``t_k``, in date
        order. ``as_of`` is the last date used; ``info["t0_dates"]`` lists the start dates.

    Notes
    -----
    A window must not touch a date on which any asset's price is missing: such dates are skipped
    and the windows that would span them are dropped, because a relative across a gap is not an
    ``h``-day relative (e.g. usdc has no Binance close from 2022-09-27 to 2023-03-10). With no
    interior gap ``n_windows = n_valid_dates - horizon``; each run of ``L`` consecutive complete
    dates contributes ``max(L - horizon, 0)`` windows. Dates absent from the index altogether are
    not detected: pass a daily index with NaN rows for gaps. Windows overlap by ``horizon - 1``
    days, so they are not independent draws.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise TypeError(f"`horizon` must be an int, got {type(horizon).__name__}")
    if horizon < 1:
        raise ValueError(f"`{horizon=}` must be >= 1")
    prices = _check_prices(prices)
    if as_of is not None:
        prices = prices.loc[: pd.Timestamp(as_of)]
    complete = prices.notna().all(axis=1).to_numpy()
    valid = prices.loc[complete]
    values = valid.to_numpy(dtype=np.float64)
    _check_positive(values, valid)
    # Window k starts at valid row k; keep it if rows k .. k+horizon are consecutive in the input.
    pos = np.flatnonzero(complete)
    n_candidates = max(len(pos) - horizon, 0)
    keep = pos[horizon : horizon + n_candidates] - pos[:n_candidates] == horizon
    starts = np.flatnonzero(keep)
    if starts.size == 0:
        raise ValueError(
            f"`prices` has no run of more than `{horizon=}` consecutive dates with a price for "
            f"every asset ({len(pos)} complete dates"
            + (f" up to {pd.Timestamp(as_of).date()}" if as_of is not None else "")
            + ")"
        )
    log_p = np.log(values)
    # ahead[k, :, h-1] = log P[k + h]; sliding_window_view puts the window axis last.
    ahead = np.lib.stride_tricks.sliding_window_view(log_p[1:], horizon, axis=0)
    relatives = np.exp(np.transpose(ahead[starts], (0, 2, 1)) - log_p[starts, None, :])
    t0 = valid.index[starts]
    return ScenarioSet(
        assets=tuple(str(c) for c in valid.columns),
        relatives=np.ascontiguousarray(relatives, dtype=np.float64),
        method="historical",
        as_of=_iso(valid.index[-1]),
        weights=None,
        info={
            "method": "historical",
            "horizon": int(horizon),
            "n_windows": int(starts.size),
            "n_dates_skipped": int((~complete).sum()),
            "n_windows_dropped_at_gaps": int(n_candidates - starts.size),
            "first_t0": _iso(t0[0]),
            "last_t0": _iso(t0[-1]),
            "t0_dates": tuple(_iso(d) for d in t0),
        },
    )


def realised_path(prices: pd.DataFrame, start: str, end: str) -> ScenarioSet:
    """Replay one dated episode as a single scenario (e.g. the CRV squeeze of 2022-11-22).

    Parameters
    ----------
    prices : DataFrame of shape (n_dates, n_assets)
        Daily closing prices, indexed by a sorted DatetimeIndex. Select the assets you need first:
        every column must have a price on every date of the episode.
    start, end : str
        First and last day of the episode (ISO dates), inclusive. ``t0`` is the close of the last
        date in the data before ``start`` (normally the day before).

    Returns
    -------
    ScenarioSet
        ``method="historical"``, ``n_scenarios == 1``, ``horizon`` = number of dates from
        ``start`` to ``end`` in the data; ``relatives[0, h-1] = P[d_h] / P[t0]``. ``as_of`` is the
        ``t0`` date; ``info["dates"]`` lists the dates ``d_1 .. d_H``.

    Raises
    ------
    ValueError
        If ``end`` is before ``start`` or the data does not cover ``t0``, ``start`` or ``end``
        (the message names the date).
    DataError
        If a price in the episode is missing or not positive (the message names asset and date).
    """
    prices = _check_prices(prices)
    t_start, t_end = pd.Timestamp(start), pd.Timestamp(end)
    if t_end < t_start:
        raise ValueError(f"`end`={end!r} is before `start`={start!r}")
    idx = prices.index
    if len(idx) == 0:
        raise ValueError("`prices` has no dates")
    if t_start not in idx:
        raise ValueError(
            f"the prices do not contain `start` date {t_start.date()} "
            f"(data covers {_iso(idx[0])} to {_iso(idx[-1])})"
        )
    pos0 = idx.get_loc(t_start) - 1
    if pos0 < 0:
        raise ValueError(
            f"the prices do not cover the day before `start` {t_start.date()} (the t0 close; "
            f"data starts on {_iso(idx[0])})"
        )
    if t_end > idx[-1]:
        raise ValueError(
            f"the prices do not cover `end` date {t_end.date()} (data ends on {_iso(idx[-1])})"
        )
    window = prices.iloc[pos0:][lambda f: f.index <= t_end]
    values = window.to_numpy(dtype=np.float64)
    _check_positive(values, window)
    relatives = values[1:] / values[0]
    return ScenarioSet(
        assets=tuple(str(c) for c in window.columns),
        relatives=relatives[None, :, :].astype(np.float64),
        method="historical",
        as_of=_iso(window.index[0]),
        weights=None,
        info={
            "method": "historical",
            "start": _iso(t_start),
            "end": _iso(t_end),
            "t0": _iso(window.index[0]),
            "dates": tuple(_iso(d) for d in window.index[1:]),
        },
    )
