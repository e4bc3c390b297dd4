"""Strict reader (and atomic writer) of the wide daily CSV format.

The format is a ``date`` column (``YYYY-MM-DD``) followed by one column per asset (lower-case
ticker); an empty cell means "no value that day". Every other cell must be a plain decimal number.
The reader does not let pandas guess: cells are read as text, so ``"NaN"``, ``"inf"``, ``"1,000"``
or ``"0"`` are reported as findings instead of silently becoming floats.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data._findings import DataFinding, finding
from optimizer.data._hash import bytes_sha256
from optimizer.exceptions import DataError

# The characters of a plain decimal number, what JSON and the sources write. A cell made of them
# alone is parsed with float() (correctly rounded, the same on every machine); anything else is
# rejected, since float() would also accept "1_000", "infinity", spaces and non-ASCII digits.
_NUMBER_CHARS = "0123456789.eE+-"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAN_TEXT = frozenset({"nan", "+nan", "-nan"})
_INF_TEXT = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})


@dataclass(frozen=True)
class WideFile:
    """A parsed wide CSV together with what was found in it and the hash of the bytes parsed."""

    frame: pd.DataFrame
    findings: list[DataFinding]
    sha256: str


def read_wide_csv(
    path: str | Path, *, allow_zero: bool = False
) -> tuple[pd.DataFrame, list[DataFinding]]:
    """Read a wide daily CSV strictly.

    Parameters
    ----------
    path : str or Path
        File to read.
    allow_zero : bool, default False
        Accept ``0`` as a value (volumes and market caps). Prices must be > 0.

    Returns
    -------
    frame : DataFrame
        Index: ``DatetimeIndex`` named ``"date"`` (tz-naive, sorted, unique), one float64 column
        per asset (lower-case). Rows with an unusable date are left out; cells with an unusable
        value are NaN.
    findings : list of DataFinding
        Every problem found, fatal ones included, so that a caller can print all of them at once.
        Fatal: ``unparsable_date``, ``duplicate_date``, ``unsorted_dates``, ``nan`` (a literal
        NaN), ``infinite``, ``non_positive``, ``unparsable_value``, ``empty_file`` (no rows or no
        asset columns), ``bad_header``, ``duplicate_column``, ``malformed_row``, ``unreadable``.

    Raises
    ------
    DataError
        If the file does not exist or cannot be read.
    """
    wide = read_wide_file(Path(path), allow_zero=allow_zero)
    return wide.frame, wide.findings


def read_wide_file(path: Path, *, allow_zero: bool = False) -> WideFile:
    """Read ``path`` once, hash its bytes and parse them (see :func:`read_wide_csv`)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"data file {path} not found") from None
    except OSError as err:
        raise DataError(f"cannot read data file {path}: {err}") from err
    frame, findings = parse_wide_csv(raw, path.name, allow_zero=allow_zero)
    return WideFile(frame, findings, bytes_sha256(raw))


def _empty_frame(columns: Sequence[str] = ()) -> pd.DataFrame:
    index = pd.DatetimeIndex([], name="date")
    return pd.DataFrame(columns=list(columns), index=index, dtype="float64")


def parse_wide_csv(
    raw: bytes, file: str, *, allow_zero: bool = False
) -> tuple[pd.DataFrame, list[DataFinding]]:
    """Parse the bytes of a wide CSV named ``file`` (see :func:`read_wide_csv`)."""

    def whole_file(kind: str, detail: str, asset: str | None = None) -> DataFinding:
        return finding(kind, file, asset, None, None, detail)

    try:
        # utf-8-sig: tolerate the byte-order mark spreadsheet programs put in front of CSVs.
        text = raw.decode("utf-8-sig")
        lines = [(n, row) for n, row in _numbered_rows(text) if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as err:
        return _empty_frame(), [whole_file("unreadable", f"not a UTF-8 CSV file: {err}")]

    if not lines:
        return _empty_frame(), [whole_file("empty_file", "the file has no header and no rows")]
    _, header = lines[0]
    if header[0].strip().lower() != "date":
        detail = f"the first column must be 'date', got '{header[0].strip()}'"
        return _empty_frame(), [whole_file("bad_header", detail)]
    names = [h.strip().lower() for h in header[1:]]
    if not names:
        return _empty_frame(), [whole_file("empty_file", "the file has no asset columns")]
    found: list[DataFinding] = []
    for i, name in enumerate(names):
        if not name:
            found.append(whole_file("bad_header", f"column {i + 2} has no name"))
        elif name in names[:i]:
            found.append(whole_file("duplicate_column", f"column '{name}' appears twice", name))
    if len(lines) == 1:
        found.append(whole_file("empty_file", "the file has a header but no data rows"))
        return _empty_frame([n for n in dict.fromkeys(names) if n]), found

    dates, cells, date_findings = _parse_rows(lines[1:], len(header), file)
    found += date_findings
    values, value_findings = _parse_cells(cells, dates, names, file, allow_zero=allow_zero)
    found += value_findings

    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"), columns=names)
    # Keep the first of duplicated columns/dates and sort, so the frame itself is always well
    # formed; the findings above already make the file unusable for the columns and dates concerned.
    frame = frame.loc[:, ~frame.columns.duplicated()]
    if "" in frame.columns:
        frame = frame.drop(columns="")
    frame = frame.loc[~frame.index.duplicated()].sort_index()
    return frame.astype("float64"), found


def _numbered_rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    return [(reader.line_num, row) for row in reader]


def _parse_rows(
    rows: Sequence[tuple[int, list[str]]], width: int, file: str
) -> tuple[list[pd.Timestamp], list[list[str]], list[DataFinding]]:
    """Check each row's length and date; return the usable rows' dates and raw cells."""
    found: list[DataFinding] = []
    dates: list[pd.Timestamp] = []
    cells: list[list[str]] = []
    seen: dict[date, int] = {}
    latest: tuple[date, int] | None = None
    unsorted: list[tuple[int, date, date]] = []
    for line, row in rows:
        raw_date = row[0].strip()
        day = _parse_date(raw_date)
        if day is None:
            after = f" (after {latest[0].isoformat()})" if latest else ""
            detail = f"line {line}: '{raw_date}' is not a YYYY-MM-DD date{after}"
            found.append(finding("unparsable_date", file, None, None, None, detail))
            continue
        iso = day.isoformat()
        if len(row) != width:
            detail = f"line {line} has {len(row)} fields, the header has {width}"
            found.append(finding("malformed_row", file, None, iso, iso, detail))
            continue
        if day in seen:
            detail = f"line {line} repeats the date of line {seen[day]}"
            found.append(finding("duplicate_date", file, None, iso, iso, detail))
            continue
        seen[day] = line
        if latest is not None and day < latest[0]:
            unsorted.append((line, day, latest[0]))
        else:
            latest = (day, line)
        dates.append(pd.Timestamp(day))
        cells.append(row[1:])
    if unsorted:
        # One finding, not one per row: a file written newest-first would otherwise list every row.
        line, day, previous = unsorted[0]
        more = f"; {len(unsorted) - 1} more row(s) out of order" if len(unsorted) > 1 else ""
        iso = day.isoformat()
        detail = f"dates must increase: line {line} ({iso}) comes after {previous}{more}"
        found.append(finding("unsorted_dates", file, None, iso, iso, detail))
    return dates, cells, found


def _parse_date(text: str) -> date | None:
    # date.fromisoformat alone would also accept "20210101" and week dates on Python >= 3.11.
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_cells(
    cells: list[list[str]],
    dates: list[pd.Timestamp],
    names: list[str],
    file: str,
    *,
    allow_zero: bool,
) -> tuple[np.ndarray, list[DataFinding]]:
    """Turn the text cells into floats; report each cell that is neither empty nor a valid value."""
    n_rows, n_cols = len(cells), len(names)
    if n_rows == 0:
        return np.empty((0, n_cols)), []
    flat = [cell.strip() for row in cells for cell in row]
    parsed = [math.nan] * len(flat)  # a list: item assignment is much cheaper than on an array
    kind = np.full(len(flat), "", dtype=object)
    for i, cell in enumerate(flat):
        if not cell:
            continue  # an empty cell is a missing value, which is allowed
        if cell.strip(_NUMBER_CHARS):  # a character no plain decimal number has
            lowered = cell.lower()
            kind[i] = (
                "nan" if lowered in _NAN_TEXT
                else "infinite" if lowered in _INF_TEXT
                else "unparsable_value"
            )  # fmt: skip
            continue
        try:
            value = float(cell)
        except ValueError:  # e.g. "1e", "--1", "1.2.3"
            kind[i] = "unparsable_value"
            continue
        if not math.isfinite(value):  # "1e999" overflows
            kind[i] = "infinite"
        elif value < 0 or (value == 0 and not allow_zero):
            kind[i] = "non_positive"
        else:
            parsed[i] = value
    values = np.array(parsed, dtype="float64")

    kind = kind.reshape(n_rows, n_cols)
    raw = np.asarray(flat, dtype=object).reshape(n_rows, n_cols)
    found: list[DataFinding] = []
    rule = ">= 0" if allow_zero else "> 0"
    for j in np.flatnonzero((kind != "").any(axis=0)):
        # Consecutive bad cells of one kind become one finding: a column of "n/a" is one problem.
        column = kind[:, j]
        i = 0
        while i < n_rows:
            if not column[i]:
                i += 1
                continue
            k = i
            while k + 1 < n_rows and column[k + 1] == column[i]:
                k += 1
            count = f" ({k - i + 1} consecutive cells)" if k > i else ""
            what = {
                "nan": "a literal NaN; leave the cell empty for a missing value",
                "infinite": "not finite",
                "non_positive": f"not {rule}",
                "unparsable_value": "not a number; leave the cell empty for a missing value",
            }[column[i]]
            detail = f"value '{raw[i, j]}' is {what}{count}"
            start, end = dates[i].date().isoformat(), dates[k].date().isoformat()
            found.append(finding(column[i], file, names[j], start, end, detail))
            i = k + 1
    return values.reshape(n_rows, n_cols), found


def header_columns(header: Sequence[str] | None, columns: Sequence[str], file: str | Path, *,
                   exact: bool = False) -> dict[str, int]:
    """Index of each of ``columns`` in a CSV header row (cells stripped): the header check of the data
    layer's tables (liquidity, quotes, intraday extremes). The wide price format has its own rule
    (``date`` then any assets) and reports findings instead of raising.

    Raises :class:`DataError`, one line naming ``file`` (and row 1 with the column), when the header is
    empty, a column is missing or, with ``exact``, the header is not ``columns`` in that order.
    """
    if header is None or not any(h.strip() for h in header):
        raise DataError(f"{file}: empty file; expected the header {','.join(columns)}")
    names = [h.strip() for h in header]
    if exact and tuple(names) != tuple(columns):
        raise DataError(f"{file}: the header must be {','.join(columns)}, got {','.join(header)}")
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{file}: row 1: missing column {missing[0]!r}; expected the header {','.join(columns)}")
    return {c: names.index(c) for c in columns}


def read_table(path: Path, columns: tuple[str, ...], label: str) -> tuple[list[tuple[int, dict[str, str]]], bytes]:
    """The rows of a CSV table with named ``columns`` (any order, others ignored) and its raw bytes.

    Each row is ``(row number, {column: stripped cell})``; blank rows are skipped. A missing file,
    non-UTF-8 text, a bad header (:func:`header_columns`), a row whose cell count differs from the
    header's, or no data rows: one :class:`DataError` line naming the file (``label`` when missing) and row.
    """
    if not path.is_file():
        raise DataError(f"{label} {path} not found: check the path, relative to the data directory")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    idx = header_columns(header, columns, path)
    width = len(header or ())
    rows = []
    for n, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != width:
            raise DataError(f"{path}: row {n}: {len(cells)} cells, the header has {width}")
        rows.append((n, {c: cells[i].strip() for c, i in idx.items()}))
    if not rows:
        raise DataError(f"{path}: no data rows")
    return rows, raw


def write_wide_csv(
    path: Path, table: Mapping[str, Mapping[str, str]], assets: Sequence[str]
) -> Path:
    """Write ``table`` (asset -> ISO date -> value text) as a wide CSV, atomically.

    One row per calendar day from the first to the last date of any asset (like the shared
    files); a missing value is an empty cell. The text is written as given so that nothing is
    rounded. The file is written to a temporary name in the same folder and renamed over ``path``,
    so a reader never sees a half-written file and a failure leaves the previous file intact.
    """
    all_dates = sorted({d for a in assets for d in table.get(a, {})})
    if not all_dates:
        raise DataError(f"no data to write to {path.name}")
    first, last = date.fromisoformat(all_dates[0]), date.fromisoformat(all_dates[-1])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["date", *assets])
    day = first
    while day <= last:
        iso = day.isoformat()
        writer.writerow([iso, *(table.get(a, {}).get(iso, "") for a in assets)])
        day += timedelta(days=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
