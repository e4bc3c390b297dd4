"""Non-fatal scans of a price panel: gaps, stale runs, one-day spikes, depegs, zero values.

Every scan takes a frame on a regular daily calendar (see :func:`to_daily`) so that "consecutive"
always means "one calendar day apart": a missing row and an empty cell are the same thing. The
scans only flag; they never change a value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data._csv import read_wide_file
from optimizer.data._findings import DataFinding, finding
from optimizer.data._price_data import one_day_log_returns
from optimizer.data._sources import KNOWN_STABLECOINS, file_role

# 1.4826 * MAD estimates the standard deviation of a normal sample. sqrt(pi/2) * mean absolute
# deviation is the fallback when more than half of the returns are identical (pegged or stale
# series): the MAD is then 0 and every move would count as infinitely many sigmas.
_MAD_TO_SIGMA = 1.4826
_MEAN_AD_TO_SIGMA = 1.2533
# Below this many returns a robust scale is not worth estimating.
_MIN_RETURNS_FOR_SCALE = 20


@dataclass(frozen=True)
class Labels:
    """How findings of a panel are labelled: the file each asset came from, and a note per asset.

    The note (e.g. the date convention of the source) is appended to each finding's detail.
    """

    files: Mapping[str, str]
    notes: Mapping[str, str] = field(default_factory=dict)

    def flag(
        self, kind: str, asset: str, index: pd.DatetimeIndex, first: int, last: int, detail: str
    ) -> DataFinding:
        """Build the finding of ``kind`` for ``asset`` over rows ``first..last`` of ``index``."""
        detail += self.notes.get(asset, "")
        start, end = iso(index, first), iso(index, last)
        return finding(kind, self.files[asset], asset, start, end, detail)


def iso(index: pd.DatetimeIndex, i: int) -> str:
    """ISO date of row ``i`` of ``index``."""
    return str(index[i].strftime("%Y-%m-%d"))


def to_daily(frame: pd.DataFrame) -> pd.DataFrame:
    """Reindex ``frame`` onto every calendar day from its first to its last date (new rows NaN)."""
    if len(frame.index) == 0:
        return frame
    days = pd.date_range(frame.index[0], frame.index[-1], freq="D", name="date")
    return frame if len(days) == len(frame.index) else frame.reindex(days)


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return the ``(first, last)`` positions (inclusive) of each run of True in a 1-d mask."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def find_gaps(frame: pd.DataFrame, labels: Labels) -> list[DataFinding]:
    """Flag runs of missing prices between each asset's first and last price ("gap")."""
    found: list[DataFinding] = []
    index = frame.index
    for asset in frame.columns:
        have = frame[asset].notna().to_numpy()
        quoted = np.flatnonzero(have)
        if quoted.size == 0:
            continue
        first, last = int(quoted[0]), int(quoted[-1])
        for a, b in true_runs(~have[first : last + 1]):
            a, b = a + first, b + first
            detail = (
                f"{b - a + 1} day(s) without a price between {iso(index, a - 1)} and "
                f"{iso(index, b + 1)}; a return across it is not a one-day return, so this asset has "
                f"no return dated {iso(index, a)} to {iso(index, b + 1)} (never filled)"
            )
            found.append(labels.flag("gap", asset, index, a, b, detail))
    return found


def find_stale_runs(
    frame: pd.DataFrame, labels: Labels, *, min_run: int, exclude: Collection[str] = ()
) -> list[DataFinding]:
    """Flag runs of at least ``min_run`` identical consecutive prices ("stale").

    Assets in ``exclude`` (stablecoins) are skipped: a pegged price quoted to a 0.0001 tick
    repeats by design. A gap breaks a run, because NaN never equals the previous value.
    """
    found: list[DataFinding] = []
    for asset in frame.columns:
        if asset in exclude:
            continue
        x = frame[asset].to_numpy(dtype="float64")
        same = x[1:] == x[:-1]  # same[i]: the price of day i+1 equals that of day i
        for a, b in true_runs(same):
            n = b - a + 2  # k equal moves in a row are k+1 equal prices
            if n >= min_run:
                detail = f"{n} identical consecutive prices ({float(x[a])!r})"
                found.append(labels.flag("stale", asset, frame.index, a, b + 1, detail))
    return found


def robust_sigma(returns: np.ndarray) -> float:
    """Robust scale of ``returns`` (NaN ignored): 1.4826 * MAD, or the mean-deviation fallback."""
    r = returns[np.isfinite(returns)]
    if r.size < _MIN_RETURNS_FOR_SCALE:
        return 0.0
    deviation = np.abs(r - np.median(r))
    sigma = _MAD_TO_SIGMA * float(np.median(deviation))
    return sigma if sigma > 0 else _MEAN_AD_TO_SIGMA * float(np.mean(deviation))


def find_spikes(frame: pd.DataFrame, labels: Labels, *, n_sigma: float) -> list[DataFinding]:
    """Flag one-day spikes that revert the next day ("outlier").

    Day t is flagged when the log return into t and the log return out of t both exceed
    ``n_sigma`` robust sigmas of the asset's daily log returns (1.4826 * MAD over the frame) and
    have opposite signs: the price on t sits far from both neighbours. Requiring the reversal to be
    as large as the jump keeps real moves that only partly revert (doge 2021-01-28, bnb
    2021-02-19 in the Binance set) out of the flags. Returns spanning a gap are NaN, so a move
    across a gap is never called a spike.
    """
    found: list[DataFinding] = []
    for asset in frame.columns:
        x = frame[asset].to_numpy(dtype="float64")
        if x.size < 3:
            continue
        # the frame is on every calendar day (to_daily), so r[i] is the return into day i+1
        r = one_day_log_returns(frame[asset]).to_numpy()
        sigma = robust_sigma(r)
        if sigma <= 0:
            continue
        z_in, z_out = r[:-1] / sigma, r[1:] / sigma  # returns into and out of day i+1
        with np.errstate(invalid="ignore"):
            big = (np.abs(z_in) > n_sigma) & (np.abs(z_out) > n_sigma)
            spike = big & (np.sign(z_in) != np.sign(z_out))
        for i in np.flatnonzero(spike):
            t = int(i) + 1
            detail = (
                f"price {float(x[t])!r} between {float(x[t - 1])!r} and {float(x[t + 1])!r}: "
                f"log returns {r[i]:+.3f} then {r[i + 1]:+.3f}, both beyond {n_sigma:g} robust "
                f"sigmas ({sigma:.4f})"
            )
            found.append(labels.flag("outlier", asset, frame.index, t, t, detail))
    return found


#: Largest one-day price ratio (either way) a price file may hold. The largest real one in the
#: shipped data is LUNA's collapse, 872x (CoinGecko, 2022-05-13); a close 10,000x from the day
#: before is a unit or placeholder error (1e308, 1e-300, a price in wei), and it would overflow the
#: scenario arithmetic downstream rather than fail here.
MAX_DAILY_RATIO = 1e4


def find_implausible_moves(
    frame: pd.DataFrame, labels: Labels, *, max_ratio: float = MAX_DAILY_RATIO
) -> list[DataFinding]:
    """Fatal "implausible_move" findings: a close more than ``max_ratio`` times (or less than
    1 / ``max_ratio`` of) the day before's.

    A one-day spike (out and back) is one finding, dated the day of the spike. ``frame`` is on a
    daily calendar (:func:`to_daily`); a move across a gap is not a one-day move and is not checked.
    """
    found: list[DataFinding] = []
    limit = float(np.log(max_ratio))
    for asset in frame.columns:
        x = frame[asset].to_numpy(dtype="float64")
        if x.size < 2:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            r = one_day_log_returns(frame[asset]).to_numpy()  # r[i]: the move into day i + 1
            bad = np.abs(r) > limit
        skip = -1
        for i in np.flatnonzero(bad):
            t = int(i) + 1
            if t == skip:
                continue
            back = t < x.size - 1 and bad[t] and np.sign(r[t]) != np.sign(r[i])
            skip = t + 1 if back else -1
            detail = (
                f"value {float(x[t])!r} is {float(np.exp(r[i])):.3g} times the day before's {float(x[t - 1])!r}"
                + (" and back the next day" if back else "")
                + f": a one-day move beyond {max_ratio:g}x is a unit or placeholder error, not a market move "
                "(the largest real one in the data, LUNA on 2022-05-13, is 872x); correct or blank the cell"
            )
            found.append(labels.flag("implausible_move", asset, frame.index, t, t, detail))
    return found


def find_depegs(
    frame: pd.DataFrame,
    labels: Labels,
    *,
    stablecoins: Collection[str],
    tolerance: float,
    quotes: Mapping[str, str] | None = None,
) -> list[DataFinding]:
    """Flag runs of days on which a stablecoin is more than ``tolerance`` away from 1 ("depeg")."""
    found: list[DataFinding] = []
    for asset in frame.columns:
        if asset not in stablecoins:
            continue
        x = frame[asset].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            off = np.abs(x - 1.0) > tolerance
        quote = f" {quotes[asset]}" if quotes and asset in quotes else ""
        for a, b in true_runs(off):
            window = x[a : b + 1]
            detail = (
                f"{b - a + 1} day(s) more than {tolerance:g} from 1{quote}: "
                f"min {float(np.nanmin(window))!r}, max {float(np.nanmax(window))!r}"
            )
            found.append(labels.flag("depeg", asset, frame.index, a, b, detail))
    return found


def find_zero_values(frame: pd.DataFrame, labels: Labels, *, what: str) -> list[DataFinding]:
    """Flag runs of exact zeros ("zero_value") in a volume or market-cap panel."""
    found: list[DataFinding] = []
    for asset in frame.columns:
        for a, b in true_runs((frame[asset] == 0).to_numpy()):
            detail = f"{what} is 0 on {b - a + 1} day(s)"
            found.append(labels.flag("zero_value", asset, frame.index, a, b, detail))
    return found


def check_file(
    path: str | Path,
    *,
    stablecoins: Sequence[str] | None = None,
    stale_run_days: int = 5,
    outlier_sigma: float = 12.0,
    depeg_tolerance: float = 0.02,
) -> list[DataFinding]:
    """Check one wide data file and return every finding, fatal and non-fatal.

    This is what ``riskopt data check`` prints. Dates are the file's own dates (no alignment of
    the source's convention). Price files get the gap, stale, spike and depeg scans; volume and
    market-cap files (recognised by name) accept zeros, flagged as ``zero_value``, and get the gap
    scan only. Columns with a fatal finding are left out of the non-fatal scans (their bad cells
    would show up again as gaps), and a file whose date column is unusable gets none.

    Parameters
    ----------
    path : str or Path
        The file to check.
    stablecoins : sequence of str, optional
        Assets scanned for depegs and exempt from the stale scan. Default: ``KNOWN_STABLECOINS``
        (``usdc``, ``usdt``, ``dai``, ...).
    stale_run_days : int, default 5
        Minimum number of identical consecutive prices flagged as stale.
    outlier_sigma : float, default 12.0
        Robust sigmas that a one-day spike and its reversal must both exceed.
    depeg_tolerance : float, default 0.02
        Largest accepted ``|price - 1|`` of a stablecoin.

    Returns
    -------
    list of DataFinding
        The reader's findings (fatal ones included) in file order, then the flags.

    Raises
    ------
    DataError
        If the file does not exist or cannot be read.
    """
    check_scan_args(stale_run_days, outlier_sigma, depeg_tolerance)
    path = Path(path)
    role = file_role(path.name)
    wide = read_wide_file(path, allow_zero=role != "prices")
    found = list(wide.findings)
    if any(f.fatal and f.asset is None for f in found):
        return found
    bad_columns = {f.asset for f in found if f.fatal}
    frame = to_daily(wide.frame.drop(columns=[c for c in wide.frame.columns if c in bad_columns]))
    labels = Labels(dict.fromkeys(frame.columns, path.name))
    found += find_gaps(frame, labels)
    if role == "prices":
        listed = KNOWN_STABLECOINS if stablecoins is None else stablecoins
        stable = {s.strip().lower() for s in listed}
        found += find_stale_runs(frame, labels, min_run=stale_run_days, exclude=stable)
        moves = find_implausible_moves(frame, labels)
        found += moves
        found += find_spikes(frame[[c for c in frame.columns if c not in {f.asset for f in moves}]], labels,
                             n_sigma=outlier_sigma)
        found += find_depegs(frame, labels, stablecoins=stable, tolerance=depeg_tolerance)
    else:
        what = "volume" if role == "volume" else "market cap"
        found += find_zero_values(frame, labels, what=what)
    return found


def check_scan_args(stale_run_days: int, outlier_sigma: float, depeg_tolerance: float) -> None:
    """Raise ValueError for scan thresholds that make no sense."""
    integer = isinstance(stale_run_days, (int, np.integer)) and not isinstance(stale_run_days, bool)
    if not integer or stale_run_days < 2:
        raise ValueError(f"`stale_run_days` must be an integer >= 2, got {stale_run_days!r}")
    for name, value in (("outlier_sigma", outlier_sigma), ("depeg_tolerance", depeg_tolerance)):
        if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"`{name}` must be a positive number, got {value!r}")
