"""Documented intraday extremes that daily closes hide: a small table shipped with the package.

A daily close is the last trade of a UTC day; a depeg or a crash can reach its worst hours before
that and recover by the close (USDC traded near 0.87 on 2023-03-11 and closed at 0.959 on Binance,
0.966 on CoinGecko). ``intraday_extremes.csv`` beside this module lists such lows, each with a
public source, so that the peg-break history and the stress library can use the depth a position
was actually exposed to.

Columns (exactly these, in this order):

``asset``
    Lower-case ticker as in the data files (``usdc``, ``steth``, ``eth``, ...).
``date``
    ISO day (UTC) of the low.
``low``
    The documented intraday low, a plain positive decimal, in units of ``reference``.
``reference``
    What the low is measured against: ``usd``, ``eth`` or ``btc`` (stETH's low is a stETH/ETH
    ratio, so ``eth``).
``quote``
    The quote as written by the source (``USD``, ``ETH``, ...), upper case.
``source``
    A citable public source: who published the figure and a URL (``http://`` or ``https://``).
``note``
    One line: the event and, where sources disagree, which figure was kept and why (the most
    conservative, i.e. the lowest, unless it is not a spot price of the asset).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from optimizer.data._csv import header_columns
from optimizer.exceptions import DataError

#: The shipped table.
INTRADAY_EXTREMES_FILE = Path(__file__).with_name("intraday_extremes.csv")

#: Its columns, in order.
INTRADAY_COLUMNS: tuple[str, ...] = ("asset", "date", "low", "reference", "quote", "source", "note")

#: What a low can be measured against.
REFERENCES: tuple[str, ...] = ("usd", "eth", "btc")

_TICKER = re.compile(r"[a-z0-9][a-z0-9_]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_QUOTE = re.compile(r"[A-Z0-9]+")
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class IntradayExtreme:
    """One documented intraday low.

    Attributes
    ----------
    asset : str
        Lower-case ticker.
    date : datetime.date
        UTC day of the low.
    low : float
        The low, in units of ``reference`` (> 0).
    reference : str
        ``"usd"``, ``"eth"`` or ``"btc"``.
    quote : str
        The quote as the source writes it (``"USD"``).
    source : str
        Publisher and URL of the figure.
    note : str
        One line on the event and the choice between disagreeing sources.
    """

    asset: str
    date: date
    low: float
    reference: str
    quote: str
    source: str
    note: str


def intraday_extremes(path: str | Path | None = None) -> tuple[IntradayExtreme, ...]:
    """Read and validate the table of documented intraday extremes.

    Parameters
    ----------
    path : str or Path, optional
        A table in the same format; default the one shipped with the package
        (``optimizer/data/intraday_extremes.csv``).

    Returns
    -------
    tuple of IntradayExtreme
        The rows in file order.

    Raises
    ------
    DataError
        If the file cannot be read, its header is not exactly ``asset,date,low,reference,quote,
        source,note``, or a row is bad: the message names the file, the row (line number) and
        the column.
    """
    return _shipped() if path is None else _read(Path(path))


@cache
def _shipped() -> tuple[IntradayExtreme, ...]:
    return _read(INTRADAY_EXTREMES_FILE)


def _read(path: Path) -> tuple[IntradayExtreme, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"intraday extremes file {path} not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read intraday extremes file {path}: {err}") from err
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        lines = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as err:
        raise DataError(f"{path.name}: not a CSV file: {err}") from err
    header_columns(lines[0][1] if lines else None, INTRADAY_COLUMNS, path.name, exact=True)
    rows: list[IntradayExtreme] = []
    seen: dict[tuple[str, date, str], int] = {}
    for line, cells in lines[1:]:
        row = _parse_row(path.name, line, cells)
        key = (row.asset, row.date, row.reference)
        if key in seen:
            raise DataError(
                f"{path.name}: row {line}, column 'date': {row.asset} {row.date.isoformat()} "
                f"against {row.reference} repeats row {seen[key]}"
            )
        seen[key] = line
        rows.append(row)
    return tuple(rows)


def _parse_row(file: str, line: int, cells: list[str]) -> IntradayExtreme:
    def bad(column: str, rule: str, value: str) -> DataError:
        return DataError(f"{file}: row {line}, column '{column}': {rule}, got {value!r}")

    if len(cells) != len(INTRADAY_COLUMNS):
        raise DataError(
            f"{file}: row {line} has {len(cells)} fields, the header has {len(INTRADAY_COLUMNS)}"
        )
    asset, day, low, reference, quote, source, note = (c.strip() for c in cells)
    if not _TICKER.fullmatch(asset):
        raise bad("asset", "must be a lower-case ticker", asset)
    parsed_day = None
    if _DATE.fullmatch(day):
        try:
            parsed_day = date.fromisoformat(day)
        except ValueError:
            parsed_day = None
    if parsed_day is None:
        raise bad("date", "must be a YYYY-MM-DD date", day)
    value = float(low) if _NUMBER.fullmatch(low) else math.nan
    if not (math.isfinite(value) and value > 0):
        raise bad("low", "must be a positive plain decimal number", low)
    if reference not in REFERENCES:
        raise bad("reference", f"must be one of {', '.join(REFERENCES)}", reference)
    if reference != "usd" and value > 2.0:
        raise bad("low", f"a ratio against {reference} must be <= 2", low)
    if not _QUOTE.fullmatch(quote):
        raise bad("quote", "must be an upper-case currency code such as USD", quote)
    if not _URL.search(source):
        raise bad("source", "must name the publisher and give a http(s):// URL", source)
    if not note or "\n" in note:
        raise bad("note", "must be one non-empty line", note)
    return IntradayExtreme(asset, parsed_day, value, reference, quote, source, note)
