"""Liquidity files: the depth-curve format and the quotes file, read strictly."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.data import DepthCurve, DepthData, load_depth_file, load_quotes, write_depth_file
from optimizer.exceptions import DataError

HEADER = "asset,date,slippage,sellable_usd,source\n"
GOOD = HEADER + (
    "eth,2023-11-20,0.01,2.0e7,measured\n"
    "eth,2023-11-20,0.02,4.5e7,measured\n"
    "crv,2024-01-02,0.05,1.0e6,desk quote\n"
)


def test_reads_curves_and_round_trips(write_file, tmp_path):
    data = load_depth_file(write_file("depth.csv", GOOD))
    assert data.assets == ("eth", "crv")
    eth = data.get("eth")
    assert eth.date == "2023-11-20" and eth.source == "measured"
    np.testing.assert_allclose(eth.sellable_usd, [2e7, 4.5e7])
    assert eth.depth_at(0.02) == pytest.approx(4.5e7)
    assert eth.depth_at(0.5) is None  # outside the measured points
    back = load_depth_file(write_depth_file(data, tmp_path / "out" / "depth.csv"))
    for a in data.assets:
        np.testing.assert_array_equal(back.get(a).sellable_usd, data.get(a).sellable_usd)
        np.testing.assert_array_equal(back.get(a).slippage, data.get(a).slippage)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("asset,date,slippage,source\n", r"row 1: missing column 'sellable_usd'"),
        (HEADER + "eth,2023-11-20,two,1e6,x\n", r"row 2, column 'slippage': 'two' is not a number"),
        (HEADER + "eth,2023-11-20,1.5,1e6,x\n", r"row 2, column 'slippage': 1.5 is outside \(0, 1\)"),
        (HEADER + "eth,2023-11-20,0.01,-1,x\n", r"row 2, column 'sellable_usd': -1 is outside"),
        (HEADER + "eth,20231120,0.01,1e6,x\n", r"row 2, column 'date': '20231120' is not a YYYY-MM-DD date"),
        (HEADER + "eth,2023-11-20,0.01,1e6,\n", r"row 2, column 'source': empty"),
        (HEADER + "eth,2023-11-20,0.01,1e6,x\neth,2023-11-21,0.02,2e6,x\n",
         r"row 3, column 'date': 'eth' has a second date 2023-11-21"),
        (HEADER + "eth,2023-11-20,0.01,2e6,x\neth,2023-11-20,0.02,1e6,x\n",
         r"row 3, column 'sellable_usd': 'eth': 1e\+06 at slippage 0.02 is not above"),
        (HEADER + "eth,2023-11-20,0.01,1e6\n", r"row 2: 4 cells, the header has 5"),
    ],
)
def test_bad_liquidity_files_fail_with_one_line(write_file, text, match):
    path = write_file("depth.csv", text)
    with pytest.raises(DataError, match=match) as err:
        load_depth_file(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg


def test_missing_liquidity_file_names_it(tmp_path):
    with pytest.raises(DataError, match=r"liquidity file .*nope.csv not found"):
        load_depth_file(tmp_path / "nope.csv")


def test_depth_data_merge_prefers_its_own_curves():
    a = DepthData((DepthCurve("eth", "2023-11-20", "a", np.array([0.01]), np.array([1e6])),), path="a")
    b = DepthData((DepthCurve("eth", "2023-11-20", "b", np.array([0.01]), np.array([2e6])),
                   DepthCurve("crv", "2023-11-20", "b", np.array([0.01]), np.array([3e5]))), path="b")
    m = a.merged(b)
    assert m.assets == ("eth", "crv") and m.get("eth").source == "a"


def test_real_quotes_file(quotes_path):
    q = load_quotes(quotes_path)
    assert q.n_quotes == 19_278 and len(q.pairs) == 56 and len(q.tokens) == 8
    assert q.date == "2023-11-20"
    usd, imp = q.usd_size("WETH", "USDC")
    assert len(usd) == 340 and np.all(np.diff(usd) >= 0)
    # the implied reference price of small WETH sales is about 2,010 USDC on the day
    sa, ba, pi = q.pair("WETH", "USDC")
    assert np.median((ba / (1 - pi) / sa)[:20]) == pytest.approx(2010, rel=0.01)


def test_bad_quotes_fail_with_one_line(write_file):
    text = "timestamp_utc,sell,buy,sell_amount,buy_amount,price_impact\n2023-11-20T00:15:23Z,WETH,USDC,1,2000,1.2\n"
    with pytest.raises(DataError, match=r"row 2, column 'price_impact': 1.2 is outside \[0, 1\)"):
        load_quotes(write_file("q.csv", text))
