"""Strict reading of wide CSVs (synthetic files written to tmp_path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.data import read_wide_csv
from optimizer.data._csv import write_wide_csv
from optimizer.exceptions import DataError

GOOD = "date,BTC,eth\n2021-01-01,29331.69,728.91\n2021-01-02,32178.33,\n2021-01-03,33000,1e3\n"


def test_reads_a_good_file(write_file):
    frame, findings = read_wide_csv(write_file("p.csv", GOOD))
    assert findings == []
    assert list(frame.columns) == ["btc", "eth"]  # headers are lower-cased
    assert frame.index.name == "date"
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.tz is None
    assert frame.dtypes.eq("float64").all()
    assert frame.loc["2021-01-01", "btc"] == 29331.69
    assert np.isnan(frame.loc["2021-01-02", "eth"])  # empty cell = missing, allowed
    assert frame.loc["2021-01-03", "eth"] == 1000.0


def test_tolerates_bom_blank_lines_and_spaces(write_file):
    text = "\ufeffdate, btc\n2021-01-01, 1.5 \n\n2021-01-02,2\n\n"
    frame, findings = read_wide_csv(write_file("p.csv", text))
    assert findings == []
    assert frame["btc"].tolist() == [1.5, 2.0]


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("0", "non_positive"),
        ("0.0", "non_positive"),
        ("-3.5", "non_positive"),
        ("NaN", "nan"),
        ("nan", "nan"),
        ("inf", "infinite"),
        ("-Infinity", "infinite"),
        ("1e999", "infinite"),
        ("abc", "unparsable_value"),
        ("1_000", "unparsable_value"),
        ('"1,5"', "unparsable_value"),
        ("NA", "unparsable_value"),
    ],
)
def test_bad_values_are_fatal_findings(write_file, cell, kind):
    text = f"date,btc,eth\n2021-01-01,1,2\n2021-01-02,{cell},2\n2021-01-03,1,2\n"
    frame, findings = read_wide_csv(write_file("p.csv", text))
    summary = [(f.kind, f.asset, f.start, f.fatal) for f in findings]
    assert summary == [(kind, "btc", "2021-01-02", True)]
    assert np.isnan(frame.loc["2021-01-02", "btc"])  # the bad cell never becomes a number
    assert "p.csv" in findings[0].message() and "2021-01-02" in findings[0].message()


def test_zero_is_accepted_when_allowed(write_file):
    path = write_file("v.csv", "date,btc\n2021-01-01,0\n")
    frame, findings = read_wide_csv(path, allow_zero=True)
    assert findings == [] and frame.iloc[0, 0] == 0.0


def test_consecutive_bad_cells_are_one_finding(write_file):
    text = "date,btc\n2021-01-01,0\n2021-01-02,0\n2021-01-03,0\n2021-01-04,5\n2021-01-05,0\n"
    _, findings = read_wide_csv(write_file("p.csv", text))
    spans = [(f.start, f.end) for f in findings]
    assert spans == [("2021-01-01", "2021-01-03"), ("2021-01-05", "2021-01-05")]
    assert "3 consecutive cells" in findings[0].detail


@pytest.mark.parametrize(
    ("text", "kind", "start"),
    [
        ("date,btc\n2021-01-01,1\n2021-01-02,1\n2021-01-02,1\n", "duplicate_date", "2021-01-02"),
        ("date,btc\n2021-01-01,1\n2021-01-03,1\n2021-01-02,1\n", "unsorted_dates", "2021-01-02"),
        ("date,btc\n2021-01-01,1\n2021-13-01,1\n", "unparsable_date", None),
        ("date,btc\n2021-01-01,1\n01/02/2021,1\n", "unparsable_date", None),
        ("date,btc\n2021-01-01,1\n20210102,1\n", "unparsable_date", None),
        ("date,btc\n2021-01-01,1\n2021-01-02,1,7\n", "malformed_row", "2021-01-02"),
    ],
)
def test_bad_dates_and_rows_are_fatal_findings(write_file, text, kind, start):
    frame, findings = read_wide_csv(write_file("p.csv", text))
    assert [(f.kind, f.start, f.fatal) for f in findings] == [(kind, start, True)]
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


def test_unparsable_date_detail_quotes_the_text(write_file):
    _, findings = read_wide_csv(write_file("p.csv", "date,btc\n2021-01-01,1\n2021-13-01,1\n"))
    assert "'2021-13-01'" in findings[0].message() and "line 3" in findings[0].message()


def test_a_file_written_newest_first_is_one_finding(write_file):
    rows = "".join(f"2021-01-{d:02d},1\n" for d in range(9, 0, -1))
    _, findings = read_wide_csv(write_file("p.csv", "date,btc\n" + rows))
    assert [f.kind for f in findings] == ["unsorted_dates"]
    assert "7 more row(s) out of order" in findings[0].detail


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "empty_file"),
        ("\n\n", "empty_file"),
        ("date,btc\n", "empty_file"),
        ("date\n2021-01-01\n", "empty_file"),
        ("day,btc\n2021-01-01,1\n", "bad_header"),
    ],
)
def test_empty_or_headless_files(write_file, text, kind):
    frame, findings = read_wide_csv(write_file("p.csv", text))
    assert [f.kind for f in findings] == [kind]
    assert findings[0].fatal and frame.empty


def test_duplicate_column_is_fatal(write_file):
    frame, findings = read_wide_csv(write_file("p.csv", "date,btc,BTC\n2021-01-01,1,2\n"))
    assert [(f.kind, f.asset) for f in findings] == [("duplicate_column", "btc")]
    assert list(frame.columns) == ["btc"]


def test_every_finding_is_returned_at_once(write_file):
    text = "date,btc,eth\n2021-01-01,0,nan\n2021-01-01,1,2\nxx,1,1\n2021-01-03,inf,-1\n"
    _, findings = read_wide_csv(write_file("p.csv", text))
    kinds = sorted(f.kind for f in findings)
    assert kinds == [
        "duplicate_date", "infinite", "nan", "non_positive", "non_positive", "unparsable_date"
    ]  # fmt: skip


def test_missing_file_raises(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv not found"):
        read_wide_csv(tmp_path / "nope.csv")


def test_binary_file_is_unreadable(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    _, findings = read_wide_csv(path)
    assert [f.kind for f in findings] == ["unreadable"]


def test_writer_round_trips_and_fills_the_calendar(tmp_path):
    table = {"btc": {"2021-01-01": "1.5", "2021-01-03": "2"}, "eth": {"2021-01-02": "3e-05"}}
    path = write_wide_csv(tmp_path / "out.csv", table, ["btc", "eth"])
    assert path.read_text() == "date,btc,eth\n2021-01-01,1.5,\n2021-01-02,,3e-05\n2021-01-03,2,\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind
    frame, findings = read_wide_csv(path)
    assert findings == [] and frame.shape == (3, 2)
