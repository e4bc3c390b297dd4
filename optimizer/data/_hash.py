"""Content hashes of data files and of the price panel a run actually used.

Reports record both: the file hashes say which files were read, the panel hash says which numbers
went into the run. The panel hash must not depend on the machine, the pandas version or the float
formatting defaults, so the panel is serialised by hand with Python's ``repr`` of each float (the
shortest string that round-trips, identical on every IEEE-754 platform).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd


def bytes_sha256(raw: bytes) -> str:
    """Return the hex sha256 of ``raw``."""
    return hashlib.sha256(raw).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Return the hex sha256 of the bytes of the file ``path``."""
    return bytes_sha256(Path(path).read_bytes())


def _frame_lines(label: str, frame: pd.DataFrame) -> Iterable[str]:
    yield f"[{label}]"
    yield ",".join(["date", *map(str, frame.columns)])
    dates = [ts.strftime("%Y-%m-%d") for ts in frame.index]
    columns = [frame[c].to_numpy(dtype="float64") for c in frame.columns]
    for i, day in enumerate(dates):
        cells = (_cell(float(col[i])) for col in columns)
        yield ",".join([day, *cells])


def _cell(x: float) -> str:
    # NaN is an empty cell, as in the files; -0.0 and 0.0 differ in repr, which is what we want.
    return "" if math.isnan(x) else repr(x)


def panel_sha256(prices: pd.DataFrame, volumes: pd.DataFrame | None = None) -> str:
    """Hash a price panel (and optional volume panel) serialised canonically.

    Parameters
    ----------
    prices : DataFrame
        Dates x assets, float.
    volumes : DataFrame or None
        Same layout; included in the hash when given.

    Returns
    -------
    str
        Hex sha256 of the text ``[prices]``, header, ``date,v1,v2,...`` lines (then ``[volumes]``
        and its lines), each line ending in ``\\n``, values written as ``repr(float)``, NaN as an
        empty cell.
    """
    digest = hashlib.sha256()
    parts = [("prices", prices)] + ([("volumes", volumes)] if volumes is not None else [])
    for label, frame in parts:
        for line in _frame_lines(label, frame):
            digest.update(line.encode("utf-8"))
            digest.update(b"\n")
    return digest.hexdigest()
