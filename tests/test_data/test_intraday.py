"""The shipped table of documented intraday extremes and its strict reader."""

from __future__ import annotations

from datetime import date

import pytest

from optimizer.data import INTRADAY_EXTREMES_FILE, IntradayExtreme, intraday_extremes
from optimizer.data._sources import SOURCES
from optimizer.exceptions import DataError

HEADER = "asset,date,low,reference,quote,source,note\n"
GOOD = "usdc,2023-03-11,0.87,usd,USD,CNBC https://www.cnbc.com/x,SVB weekend\n"


def test_shipped_table_loads_with_the_events_daily_closes_hide():
    rows = intraday_extremes()
    assert rows and all(isinstance(r, IntradayExtreme) for r in rows)
    by_key = {(r.asset, r.date): r for r in rows}
    usdc = by_key[("usdc", date(2023, 3, 11))]
    # the Binance close of that day is 0.9592 and CoinGecko's 0.9656: the table is deeper
    assert usdc.reference == "usd" and usdc.low <= 0.88
    steth = next(r for r in rows if r.asset == "steth")
    assert steth.reference == "eth" and steth.low < 0.935 and steth.date.year == 2022
    assert by_key[("usdt", date(2022, 5, 12))].low < 0.96
    for r in rows:
        assert "http" in r.source and r.note
    assert INTRADAY_EXTREMES_FILE.name == "intraday_extremes.csv"


def test_every_asset_of_the_table_is_a_ticker_of_the_data(data_dir):
    import csv

    tickers: set[str] = set()
    for spec in SOURCES.values():
        with open(data_dir / spec.prices, encoding="utf-8") as fh:
            tickers.update(next(csv.reader(fh))[1:])
    assert {r.asset for r in intraday_extremes()} <= tickers


def test_custom_table_reads(write_file):
    path = write_file("x.csv", HEADER + GOOD)
    (row,) = intraday_extremes(path)
    assert row == IntradayExtreme(
        "usdc", date(2023, 3, 11), 0.87, "usd", "USD", "CNBC https://www.cnbc.com/x", "SVB weekend"
    )


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("USDC,2023-03-11,0.87,usd,USD,S https://a.b,n\n", r"x\.csv: row 2, column 'asset'"),
        ("usdc,2023-3-11,0.87,usd,USD,S https://a.b,n\n", r"row 2, column 'date'"),
        ("usdc,2023-02-30,0.87,usd,USD,S https://a.b,n\n", r"row 2, column 'date'"),
        ("usdc,2023-03-11,0,usd,USD,S https://a.b,n\n", r"row 2, column 'low'"),
        ("usdc,2023-03-11,nan,usd,USD,S https://a.b,n\n", r"row 2, column 'low'"),
        ("usdc,2023-03-11,-1,usd,USD,S https://a.b,n\n", r"row 2, column 'low'"),
        ("usdc,2023-03-11,0.87,eur,USD,S https://a.b,n\n", r"row 2, column 'reference'"),
        ("steth,2022-06-18,93,eth,ETH,S https://a.b,n\n", r"row 2, column 'low'.*<= 2"),
        ("usdc,2023-03-11,0.87,usd,usd,S https://a.b,n\n", r"row 2, column 'quote'"),
        ("usdc,2023-03-11,0.87,usd,USD,a blog,n\n", r"row 2, column 'source'"),
        ("usdc,2023-03-11,0.87,usd,USD,S https://a.b,\n", r"row 2, column 'note'"),
        ("usdc,2023-03-11,0.87,usd,USD\n", r"row 2 has 5 fields"),
    ],
)
def test_bad_row_names_file_row_and_column(write_file, line, match):
    path = write_file("x.csv", HEADER + line)
    with pytest.raises(DataError, match=match):
        intraday_extremes(path)


def test_bad_header_and_duplicate_row(write_file):
    with pytest.raises(DataError, match=r"x\.csv: the header must be asset,date,low"):
        intraday_extremes(write_file("x.csv", "asset,date,low\n" + GOOD))
    with pytest.raises(DataError, match=r"y\.csv: row 3, column 'date'.*repeats row 2"):
        intraday_extremes(write_file("y.csv", HEADER + GOOD + GOOD))
    with pytest.raises(DataError, match=r"not found"):
        intraday_extremes(write_file("z.csv", "").with_name("missing.csv"))
