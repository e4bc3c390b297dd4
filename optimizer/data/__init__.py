"""Data layer: strict loading of daily prices and volumes, validation findings, hashing, fetching; liquidity
(depth-curve and quote) files.

The price files live outside the project, in a directory given by ``--data-dir``, the configuration
or ``RISKOPT_DATA_DIR`` (:func:`resolve_data_dir`). :func:`load_prices` reads them strictly, aligns
the sources' date conventions, slices ``[start, as_of]`` and returns a :class:`PriceData`; problems
that make a value unusable raise :class:`~optimizer.exceptions.DataError`, real artefacts are
flagged as :class:`DataFinding` records and never repaired.

:func:`intraday_extremes` reads the shipped table of documented intraday lows (``asset, date,
low, reference, quote, source, note``; see :mod:`optimizer.data._intraday`) that daily closes hide.

``from optimizer.data.fetch import fetch`` downloads the files. It is not re-exported here: a
function named ``fetch`` in this namespace would hide the ``optimizer.data.fetch`` module.
"""

from __future__ import annotations

from optimizer.data._csv import read_wide_csv
from optimizer.data._findings import FATAL_KINDS, DataFinding
from optimizer.data._hash import file_sha256
from optimizer.data._intraday import INTRADAY_EXTREMES_FILE, IntradayExtreme, intraday_extremes
from optimizer.data._liquidity import (
    DepthCurve,
    DepthData,
    QuoteData,
    load_depth_file,
    load_quotes,
    window_volume_levels,
    write_depth_file,
)
from optimizer.data._pegs import PEG_CLASSES, PegSeries, peg_history, peg_history_files
from optimizer.data._load import DATA_DIR_ENV, load_prices, resolve_data_dir
from optimizer.data._price_data import (
    VOLUME_SOURCES,
    PriceData,
    average_daily_volume,
    median_daily_volume,
    one_day_log_returns,
    volume_ratio,
)
from optimizer.data._proxy import MIN_OVERLAP_DAYS, ProxySpan
from optimizer.data._sources import KNOWN_STABLECOINS, SOURCES, SourceSpec
from optimizer.data._validate import check_file

__all__ = [
    "DATA_DIR_ENV",
    "FATAL_KINDS",
    "INTRADAY_EXTREMES_FILE",
    "KNOWN_STABLECOINS",
    "MIN_OVERLAP_DAYS",
    "PEG_CLASSES",
    "SOURCES",
    "VOLUME_SOURCES",
    "DataFinding",
    "DepthCurve",
    "DepthData",
    "IntradayExtreme",
    "PegSeries",
    "PriceData",
    "ProxySpan",
    "QuoteData",
    "SourceSpec",
    "average_daily_volume",
    "check_file",
    "file_sha256",
    "intraday_extremes",
    "load_depth_file",
    "load_prices",
    "load_quotes",
    "median_daily_volume",
    "one_day_log_returns",
    "peg_history",
    "peg_history_files",
    "read_wide_csv",
    "resolve_data_dir",
    "volume_ratio",
    "window_volume_levels",
    "write_depth_file",
]
