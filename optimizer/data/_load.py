"""`load_prices`: read, validate, align and slice daily prices from a data directory."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data._csv import WideFile, read_wide_file
from optimizer.data._findings import DataFinding, finding, raise_fatal, warn_by_kind
from optimizer.data._merge import MergedPrices, merge_sources
from optimizer.data._price_data import PriceData
from optimizer.data._sources import SOURCES, VOLUME_SOURCE, SourceSpec
from optimizer.data._validate import (
    Labels,
    check_scan_args,
    find_depegs,
    find_gaps,
    find_implausible_moves,
    find_spikes,
    find_stale_runs,
    find_zero_values,
    iso,
    to_daily,
)
from optimizer.exceptions import DataError

#: Environment variable naming the data directory when none is given explicitly.
DATA_DIR_ENV = "RISKOPT_DATA_DIR"

_WHERE_TO_GET_DATA = (
    "pass --data-dir DIR, set RISKOPT_DATA_DIR=DIR, "
    "or download the files with `riskopt data fetch`"
)
_CHECK_HINT = "Run `riskopt data check {path}` to list every problem of the file."


def resolve_data_dir(explicit: str | Path | None) -> Path:
    """Return the price-data directory: ``explicit`` if given, else ``$RISKOPT_DATA_DIR``.

    Parameters
    ----------
    explicit : str, Path or None
        Directory given on the command line (``--data-dir``) or in the config; None or an empty
        string means "not given".

    Returns
    -------
    Path
        An existing directory.

    Raises
    ------
    DataError
        If neither is set (the message lists the three ways to provide data: ``--data-dir``,
        ``RISKOPT_DATA_DIR``, ``riskopt data fetch``), or the directory does not exist.
    """
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if explicit is not None and str(explicit).strip():
        path, origin = Path(explicit).expanduser(), "given explicitly"
    elif env:
        path, origin = Path(env).expanduser(), f"from {DATA_DIR_ENV}"
    else:
        raise DataError(f"no price-data directory was given: {_WHERE_TO_GET_DATA}")
    if not path.is_dir():
        raise DataError(
            f"price-data directory {path} ({origin}) does not exist or is not a directory; "
            f"{_WHERE_TO_GET_DATA}"
        )
    return path


def load_prices(
    data_dir: str | Path,
    assets: Sequence[str],
    *,
    sources: Mapping[str, str | Sequence[str]] | Sequence[str] | str = "binance",
    start: str | None = None,
    as_of: str | None = None,
    with_volumes: bool = False,
    stablecoins: Sequence[str] = (),
    stale_run_days: int = 5,
    outlier_sigma: float = 12.0,
    depeg_tolerance: float = 0.02,
    min_history_days: int = 0,
    overlap_tolerance: float = 0.02,
) -> PriceData:
    """Load daily prices of ``assets`` from the wide CSVs in ``data_dir``.

    Each source's price file is read strictly (:func:`read_wide_csv`); its dates are aligned to the
    UTC close they stand for (CoinGecko's move back one day, see ``SOURCES``); the assets are
    joined on a daily calendar and the window ``[start, as_of]`` is kept. Nothing is filled or
    smoothed: artefacts are flagged in :attr:`PriceData.findings`, and one
    :class:`~optimizer.exceptions.DataQualityWarning` is issued per kind of flag.

    Parameters
    ----------
    data_dir : str or Path
        Directory holding the source files (see :func:`resolve_data_dir`).
    assets : sequence of str
        Tickers as in the files' headers (case-insensitive), e.g. ``["btc", "eth"]``.
    sources : str, sequence of str, or mapping of str to str or sequence of str, default "binance"
        One source for all assets, a priority list for all assets (e.g. ``["binance",
        "coingecko", "coinmetrics"]``), or asset -> source or priority list. Sources:
        ``"binance"``, ``"coingecko"``, ``"coinmetrics"``. With a priority list the first source
        holding the asset gives its series; each lower-priority source fills only the days the
        series built so far lacks (before its first price, in a gap, after its last price), after
        checking on the days both have that the two agree (see ``overlap_tolerance``). Every
        filled span is a ``"filled"`` finding and every check an ``"overlap"`` finding. An asset
        absent from a lower-priority file is simply not filled from it.
    start : str, optional
        First date kept (ISO, inclusive). Default: the first date on which any asset has a price.
    as_of : str, optional
        Last date kept (ISO, inclusive); nothing after it enters the panel. Default: the last date
        on which any asset has a price.
    with_volumes : bool, default False
        Also return USD 24h volumes from the CoinGecko volume file, aligned like the prices.
    stablecoins : sequence of str, default ()
        Assets checked for depegs and exempt from the stale-run scan.
    stale_run_days : int, default 5
        Flag runs of at least this many identical consecutive prices.
    outlier_sigma : float, default 12.0
        Flag a day whose return in and return out both exceed this many robust sigmas (MAD), with
        opposite signs: a one-day spike that reverts.
    depeg_tolerance : float, default 0.02
        Flag stablecoin prices with ``|price - 1|`` above this.
    min_history_days : int, default 0
        If > 0, require at least this many prices per asset in the window.
    overlap_tolerance : float, default 0.02
        Largest median absolute relative deviation ``|p_fill / p - 1|`` allowed between a
        lower-priority source and the series it fills, on the days up to ``as_of`` that both
        have. Beyond it the load fails with a DataError naming both files. A source with fewer
        than ``MIN_OVERLAP_DAYS`` such days is not used to fill (an ``"unfilled"`` finding).

    Returns
    -------
    PriceData

    Raises
    ------
    DataError
        On a missing directory or file, an asset not in its file, a fatal finding (zero, negative,
        NaN, inf or unparsable value; bad, duplicated or unsorted date; empty file) in a column
        used, ``as_of`` before the data start, an asset without a price in the window or with
        fewer than ``min_history_days``, or no date on which all assets have a price. The message
        names the file, the asset and the date.
    ValueError
        On invalid arguments (unknown source, bad date string, ``start`` after ``as_of``, ...).
    """
    names = _normalise_assets(assets)
    source_of = _assign_sources(names, sources)
    start_day = _parse_day(start, "start")
    as_of_day = _parse_day(as_of, "as_of")
    if start_day is not None and as_of_day is not None and start_day > as_of_day:
        raise ValueError(f"`start` ({start}) must not be after `as_of` ({as_of})")
    check_scan_args(stale_run_days, outlier_sigma, depeg_tolerance)
    if not (isinstance(overlap_tolerance, (int, float)) and 0 < overlap_tolerance < 1):
        raise ValueError(f"`overlap_tolerance` must be in (0, 1), got {overlap_tolerance!r}")
    if (
        isinstance(min_history_days, bool)
        or not isinstance(min_history_days, (int, np.integer))
        or min_history_days < 0
    ):
        raise ValueError(f"`min_history_days` must be an integer >= 0, got {min_history_days!r}")
    stable = {str(s).strip().lower() for s in stablecoins}

    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(
            f"price-data directory {root} does not exist or is not a directory; "
            f"{_WHERE_TO_GET_DATA}"
        )

    # Read each source's file once; gather the problems of every source before raising, so that
    # one run shows everything that needs fixing.
    by_source: dict[str, list[str]] = {}
    for asset in names:
        for source in source_of[asset]:
            by_source.setdefault(source, []).append(asset)
    file_hashes: dict[str, str] = {}
    frames: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    absent: list[DataFinding] = []
    for source, its_assets in by_source.items():
        spec = SOURCES[source]
        # An asset listed with several sources need not be in every file: only its first
        # source must hold it (checked after the merge, when no source has it).
        required = [a for a in its_assets if len(source_of[a]) == 1]
        if not (root / spec.prices).is_file() and all(source_of[a][0] != source for a in its_assets):
            # a lower-priority source whose file is not in the directory fills nothing
            detail = (f"not in {root}: not used to fill {', '.join(its_assets)}; "
                      f"{_WHERE_TO_GET_DATA}")
            absent.append(finding("unfilled", spec.prices, None, None, None, detail))
            continue
        try:
            wide = _read_source_file(root, spec.prices, spec, its_assets, required=required)
        except DataError as err:
            problems.append(str(err))
            continue
        file_hashes[spec.prices] = wide.sha256
        frames[source] = _shift(wide.frame, spec.date_shift_days)
    if problems:
        raise DataError("\n".join(problems))

    merged = merge_sources(
        names, source_of, frames, as_of=as_of_day, tolerance=overlap_tolerance
    )
    columns = merged.columns
    labels = Labels(
        files={a: "+".join(SOURCES[s].prices for s in merged.used[a]) for a in names},
        notes={a: "".join(_date_note(SOURCES[s]) for s in merged.used[a]) for a in names},
    )
    panel = pd.concat([columns[a] for a in names], axis=1, keys=names, sort=True)
    panel = to_daily(panel)
    panel.index.name = "date"
    panel = _slice_window(panel, labels, start_day, as_of_day)
    _check_history(panel, labels, min_history_days)

    quotes = {a: SOURCES[merged.used[a][0]].quote for a in names}
    flags: list[DataFinding] = []
    flags += absent + merged.window_findings(panel.index, start_day)
    flags += _find_quote_mix(panel, merged, frames)
    flags += find_gaps(panel, labels)
    flags += find_stale_runs(panel, labels, min_run=stale_run_days, exclude=stable)
    flags += find_spikes(panel, labels, n_sigma=outlier_sigma)
    flags += find_depegs(
        panel, labels, stablecoins=stable, tolerance=depeg_tolerance, quotes=quotes
    )
    flags += _find_ends_early(panel, labels, as_of_day)

    volumes = None
    if with_volumes:
        volumes, volume_flags, volume_hashes = _load_volumes(root, panel)
        flags += volume_flags
        file_hashes.update(volume_hashes)

    order = {a: i for i, a in enumerate(names)}
    flags.sort(key=lambda f: (order.get(f.asset or "", -1), f.kind, f.start or ""))
    warn_by_kind(flags)
    return PriceData(
        prices=panel,
        volumes=volumes,
        sources={a: merged.used[a][0] for a in names},
        findings=tuple(flags),
        file_hashes=file_hashes,
    )


def _normalise_assets(assets: Sequence[str]) -> list[str]:
    if isinstance(assets, str):
        raise TypeError(f"`assets` must be a sequence of tickers, not the string {assets!r}")
    names = [str(a).strip().lower() for a in assets]
    if not names:
        raise ValueError("`assets` must name at least one asset")
    if not all(names):
        raise ValueError(f"`assets` contains an empty name: {list(assets)!r}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"`assets` lists {', '.join(duplicated)} more than once")
    return names


def _assign_sources(
    names: list[str], sources: Mapping[str, str | Sequence[str]] | Sequence[str] | str
) -> dict[str, tuple[str, ...]]:
    """Asset -> its sources in priority order (one or more, no repeats, each known)."""
    if isinstance(sources, Mapping):
        lowered = {str(k).strip().lower(): v for k, v in sources.items()}
        missing = [n for n in names if n not in lowered]
        if missing:
            raise ValueError(f"`sources` has no source for asset(s) {', '.join(missing)}")
        chosen = {n: _priority(lowered[n], n) for n in names}
    elif isinstance(sources, (str, Sequence)):
        chosen = {n: _priority(sources, n) for n in names}
    else:
        raise TypeError(
            f"`sources` must be a source name, a priority list of names or a mapping "
            f"asset -> source(s), got {type(sources).__name__}"
        )
    return chosen


def _priority(value: object, asset: str) -> tuple[str, ...]:
    where = f" for asset '{asset}'"
    if isinstance(value, str):
        order = (value.strip().lower(),)
    elif isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        order = tuple(v.strip().lower() for v in value)
    else:
        raise TypeError(f"`sources`{where} must be a source name or a non-empty list of names, "
                        f"got {value!r}")
    for source in order:
        if source not in SOURCES:
            known = ", ".join(SOURCES)
            raise ValueError(f"unknown source {source!r}{where}; known: {known}")
    if len(set(order)) != len(order):
        raise ValueError(f"`sources`{where} lists a source twice: {list(order)}")
    return order


def _parse_day(value: str | date | None, name: str) -> pd.Timestamp | None:
    """Parse an ISO date string (or a date) into a tz-naive midnight Timestamp."""
    if value is None:
        return None
    if isinstance(value, date):  # datetime.date, datetime.datetime and pandas.Timestamp
        day = pd.Timestamp(value)
        if day.tzinfo is not None:
            day = day.tz_convert("UTC").tz_localize(None)
        return day.normalize()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return pd.Timestamp(date.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise ValueError(f"`{name}` must be an ISO date YYYY-MM-DD, got {value!r}")


def _read_source_file(
    root: Path,
    file_name: str,
    spec: SourceSpec,
    assets: list[str],
    *,
    allow_zero: bool = False,
    required: list[str] | None = None,
) -> WideFile:
    """Read one file of a source; raise DataError on a missing file or asset or a fatal finding.

    Fatal findings count when they concern the whole file (dates, header) or an asset used.
    Only the assets in ``required`` (default: all of ``assets``) must be columns of the file.
    """
    path = root / file_name
    quoted = ", ".join(f"'{a}'" for a in assets)
    if not path.is_file():
        raise DataError(
            f"{file_name} not found in {root} (needed for source '{spec.name}', asset(s) "
            f"{quoted}); {_WHERE_TO_GET_DATA}"
        )
    wide = read_wide_file(path, allow_zero=allow_zero)
    fatal = [f for f in wide.findings if f.fatal and (f.asset is None or f.asset in assets)]
    available = list(wide.frame.columns)
    if not any(f.kind == "empty_file" for f in fatal):
        for asset in assets if required is None else required:
            if asset not in available:
                detail = f"asset '{asset}' not in {file_name}; available: {', '.join(available)}"
                fatal.append(finding("missing_asset", file_name, asset, None, None, detail))
    if not any(f.asset is None for f in fatal) and not allow_zero:  # a price file with usable dates
        used = [a for a in assets if a in available and a not in {f.asset for f in fatal}]
        frame = to_daily(wide.frame[used])
        fatal += find_implausible_moves(frame, Labels(dict.fromkeys(used, file_name)))
    in_file = any(f.kind != "missing_asset" for f in fatal)
    raise_fatal(
        f"cannot load {quoted} from {file_name} (source '{spec.name}'): {len(fatal)} problem(s)",
        fatal,
        hint=_CHECK_HINT.format(path=path) if in_file else "",
    )
    return wide


def _shift(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    if days == 0:
        return frame
    shifted = frame.copy()
    shifted.index = pd.DatetimeIndex(frame.index + pd.Timedelta(days=days), name="date")
    return shifted


def _date_note(spec: SourceSpec) -> str:
    if spec.date_shift_days == 0:
        return ""
    return (
        f" (dates aligned to the close; {spec.prices} dates the same values "
        f"{-spec.date_shift_days} day(s) later)"
    )


def _slice_window(
    panel: pd.DataFrame, labels: Labels, start: pd.Timestamp | None, as_of: pd.Timestamp | None
) -> pd.DataFrame:
    """Keep ``[start, as_of]``, trimmed to the dates on which at least one asset has a price."""
    files = ", ".join(dict.fromkeys(labels.files.values()))
    has_price = panel.notna().any(axis=1).to_numpy()
    if not has_price.any():
        raise DataError(f"no price at all for {', '.join(panel.columns)} in {files}")
    firsts = {a: panel[a].first_valid_index() for a in panel.columns}
    first_asset = min((a for a in firsts if firsts[a] is not None), key=lambda a: firsts[a])
    first_day = firsts[first_asset]
    if as_of is not None and as_of < first_day:
        raise DataError(
            f"as_of {as_of.date()} is before the data start: the first price is on "
            f"{first_day.date()} (asset '{first_asset}' in {labels.files[first_asset]})"
        )
    priced = panel.index[has_price]
    lo = priced[0] if start is None else max(start, priced[0])
    hi = priced[-1] if as_of is None else min(as_of, priced[-1])
    window = panel.loc[lo:hi]
    # Trim rows without any price at either end (e.g. `start` inside a gap of every asset).
    rows = np.flatnonzero(window.notna().any(axis=1).to_numpy())
    if rows.size == 0:
        raise DataError(
            f"no price for {', '.join(panel.columns)} between {lo.date()} and {hi.date()} "
            f"in {files}"
        )
    return window.iloc[rows[0] : rows[-1] + 1]


def _check_history(panel: pd.DataFrame, labels: Labels, min_history_days: int) -> None:
    """Raise if an asset has no (or too few) prices in the window, or the assets never overlap."""
    last = len(panel.index) - 1
    lo, hi = iso(panel.index, 0), iso(panel.index, last)
    short: list[DataFinding] = []
    for asset in panel.columns:
        n = int(panel[asset].notna().sum())
        if n == 0 or n < min_history_days:
            need = max(min_history_days, 1)
            detail = f"{n} price(s) between {lo} and {hi}, at least {need} required"
            short.append(labels.flag("short_history", asset, panel.index, 0, last, detail))
    raise_fatal(
        f"not enough price history in the window {lo} to {hi}:",
        short,
        hint="Move `start` earlier or `as_of` later, or drop the asset.",
    )
    if not panel.notna().all(axis=1).any():
        spans = "; ".join(
            f"'{a}' {panel[a].first_valid_index().date()} to "
            f"{panel[a].last_valid_index().date()} ({labels.files[a]})"
            for a in panel.columns
        )
        raise DataError(
            f"the assets never all have a price on the same date between {lo} and {hi}: {spans}"
        )


def _find_ends_early(
    panel: pd.DataFrame, labels: Labels, as_of: pd.Timestamp | None
) -> list[DataFinding]:
    """Flag assets whose last price comes before ``as_of`` (or the window's end) ("ends_early").

    An ``as_of`` after the end of the data is allowed, since the panel simply ends with the data,
    but every asset is then flagged, so that a report dated ``as_of`` shows its prices are older.
    """
    found: list[DataFinding] = []
    end = panel.index[-1] if as_of is None else max(as_of, panel.index[-1])
    for asset in panel.columns:
        last = panel[asset].last_valid_index()
        if last < end:
            first_missing = last + pd.Timedelta(days=1)
            detail = (
                f"last price on {last.date()}, {(end - last).days} day(s) before "
                f"{'as_of' if end > panel.index[-1] else 'the end of the window'}; "
                "the common window of returns() stops there"
            )
            found.append(
                finding(
                    "ends_early",
                    labels.files[asset],
                    asset,
                    first_missing.strftime("%Y-%m-%d"),
                    end.strftime("%Y-%m-%d"),
                    detail + labels.notes.get(asset, ""),
                )
            )
    return found


def _load_volumes(
    root: Path, panel: pd.DataFrame
) -> tuple[pd.DataFrame | None, list[DataFinding], dict[str, str]]:
    """USD 24h volumes of the panel's assets from the CoinGecko volume file, on the panel's index.

    Returns the volume panel (None when the file or every asset is missing), the flags
    (``no_volume``, ``zero_value``) and the hash of the file read.
    """
    spec = SOURCES[VOLUME_SOURCE]
    assert spec.volume is not None
    file_name = spec.volume
    path = root / file_name
    lo, hi = iso(panel.index, 0), iso(panel.index, len(panel.index) - 1)
    if not path.is_file():
        detail = f"volume file not found in {root}, volumes are None; {_WHERE_TO_GET_DATA}"
        return None, [finding("no_volume", file_name, None, lo, hi, detail)], {}
    wide = read_wide_file(path, allow_zero=True)  # a day without trades has a volume of 0
    present = [a for a in panel.columns if a in wide.frame.columns]
    fatal = [f for f in wide.findings if f.fatal and (f.asset is None or f.asset in present)]
    raise_fatal(
        f"cannot load volumes from {file_name}: {len(fatal)} problem(s)",
        fatal,
        hint=_CHECK_HINT.format(path=path),
    )
    hashes = {file_name: wide.sha256}
    if not present:
        detail = f"none of {', '.join(panel.columns)} is in {file_name}; volumes are None"
        return None, [finding("no_volume", file_name, None, lo, hi, detail)], hashes
    volumes = _shift(wide.frame[present], spec.date_shift_days)
    volumes = volumes.reindex(index=panel.index, columns=panel.columns).astype("float64")
    volumes.index.name = "date"
    labels = Labels(
        files=dict.fromkeys(panel.columns, file_name),
        notes=dict.fromkeys(panel.columns, _date_note(spec)),
    )
    flags: list[DataFinding] = []
    for asset in panel.columns:
        missing = np.flatnonzero((panel[asset].notna() & volumes[asset].isna()).to_numpy())
        if missing.size:
            why = "" if asset in present else f" (asset not in {file_name})"
            detail = f"no volume on {missing.size} day(s) with a price{why}"
            first, last = int(missing[0]), int(missing[-1])
            flags.append(labels.flag("no_volume", asset, panel.index, first, last, detail))
    flags += find_zero_values(volumes, labels, what="volume")
    return volumes, flags, hashes


def _find_quote_mix(
    panel: pd.DataFrame, merged: MergedPrices, frames: Mapping[str, pd.DataFrame]
) -> list[DataFinding]:
    """One ``"quote"`` finding per file whose prices are not in USD: they are used as USD.

    The values are not converted. A conversion needs a USD price of the quote currency on every
    day of the window; the shipped USDT/USD series (CoinGecko) ends 2023-08-28 while Binance runs
    to 2025-06-12, so converting would change the unit inside the window. The finding gives the
    quote's measured deviation from USD where a USD-quoted file read here has it.
    """
    out: list[DataFinding] = []
    lo, hi = panel.index[0], panel.index[-1]
    by_file: dict[str, list[str]] = {}
    for asset, used in merged.used.items():
        for source in used:
            if SOURCES[source].quote != "USD":
                by_file.setdefault(source, []).append(asset)
    for source, assets in by_file.items():
        quote = SOURCES[source].quote
        ticker = quote.lower()
        measured = ""
        for other, frame in frames.items():
            if SOURCES[other].quote == "USD" and ticker in frame.columns:
                q = frame[ticker].loc[lo:hi].dropna()
                if len(q):
                    dev = float((q - 1.0).abs().max())
                    measured = (
                        f"; {ticker}/USD in {SOURCES[other].prices} from {q.index[0].date()} to "
                        f"{q.index[-1].date()}: {q.min():.4f} to {q.max():.4f} (at most "
                        f"{dev:.2%} from 1)"
                    )
                    if q.index[-1] < hi:
                        measured += f", no {ticker}/USD price after {q.index[-1].date()}"
                    break
        detail = (
            f"prices of {', '.join(assets)} are quoted in {quote} and used as USD, not "
            f"converted: no {ticker}/USD series covers the whole window, and converting part "
            f"of it would change the unit mid-series{measured}. {quote}'s own deviation from "
            "USD is inside these prices"
        )
        out.append(finding("quote", SOURCES[source].prices, None, iso(panel.index, 0),
                           iso(panel.index, len(panel.index) - 1), detail))
    return out
