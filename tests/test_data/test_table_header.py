"""`header_columns`: the one header check of the data layer's table readers (liquidity, quotes, intraday)."""

from __future__ import annotations

import pytest

from optimizer.data._csv import header_columns
from optimizer.exceptions import DataError

COLS = ("asset", "date", "low")


def test_columns_in_any_order_with_others_ignored():
    assert header_columns([" date", "x", "asset ", "low"], COLS, "f.csv") == {"asset": 2, "date": 0, "low": 3}


@pytest.mark.parametrize(
    ("header", "exact", "match"),
    [
        (None, False, r"^f\.csv: empty file; expected the header asset,date,low$"),
        (["", " "], False, r"^f\.csv: empty file; expected the header asset,date,low$"),
        (["asset", "low"], False, r"^f\.csv: row 1: missing column 'date'; expected the header asset,date,low$"),
        (["date", "asset", "low"], True, r"^f\.csv: the header must be asset,date,low, got date,asset,low$"),
    ],
)
def test_a_bad_header_is_one_line_naming_file_and_column(header, exact, match):
    with pytest.raises(DataError, match=match):
        header_columns(header, COLS, "f.csv", exact=exact)


def test_every_reader_uses_it(write_file):
    """The liquidity, quotes and intraday readers all raise its message for a header missing a column."""
    from optimizer.data import intraday_extremes, load_depth_file, load_quotes

    for read, name in ((load_depth_file, "d.csv"), (load_quotes, "q.csv")):
        with pytest.raises(DataError, match=r"row 1: missing column 'asset'|row 1: missing column 'timestamp_utc'"):
            read(write_file(name, "foo\n1\n"))
    with pytest.raises(DataError, match=r"i\.csv: the header must be asset,date,low"):
        intraday_extremes(write_file("i.csv", "foo\n1\n"))
