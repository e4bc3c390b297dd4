"""One price series per asset from several sources in priority order (issue 9, item 1)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from optimizer.data import load_prices
from optimizer.exceptions import DataError

from .conftest import BINANCE, COINGECKO, COINMETRICS, quiet_load

ALL = ["binance", "coingecko", "coinmetrics"]


def _csv(days: pd.DatetimeIndex, columns: dict[str, list[float | None]]) -> str:
    lines = ["date," + ",".join(columns)]
    for i, day in enumerate(days):
        cells = ["" if v[i] is None else repr(float(v[i])) for v in columns.values()]
        lines.append(day.strftime("%Y-%m-%d") + "," + ",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.fixture
def two_sources(write_file):
    """Binance btc from day 40 (with a gap on days 60-64), Coin Metrics btc on days 0-99.

    Coin Metrics agrees within 0.1 % on the common days; both are dated by the close.
    """
    days = pd.date_range("2020-01-01", periods=100, freq="D")
    rng = np.random.default_rng(3)
    truth = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, size=100)))
    cm = truth * (1 + rng.uniform(-0.001, 0.001, size=100))
    bn = [None if i < 40 or 60 <= i < 65 else v for i, v in enumerate(truth)]
    write_file(BINANCE, _csv(days, {"btc": bn}))
    write_file(COINMETRICS, _csv(days, {"btc": list(cm)}))
    return days, truth, cm


def test_lower_source_fills_only_the_missing_days(tmp_path, two_sources):
    days, truth, cm = two_sources
    data = quiet_load(tmp_path, ["btc"], sources=["binance", "coinmetrics"])
    btc = data.prices["btc"]
    assert btc.notna().all()
    # the primary's own values wherever it has one; the fill's values only where it has none
    assert np.allclose(btc.iloc[40:60], truth[40:60], rtol=0, atol=0)
    assert np.allclose(btc.iloc[:40], cm[:40], rtol=0, atol=0)
    assert np.allclose(btc.iloc[60:65], cm[60:65], rtol=0, atol=0)
    assert data.sources == {"btc": "binance"}


def test_every_filled_span_is_a_finding(tmp_path, two_sources):
    data = quiet_load(tmp_path, ["btc"], sources=["binance", "coinmetrics"])
    filled = [(f.file, f.asset, f.start, f.end) for f in data.findings if f.kind == "filled"]
    assert filled == [
        (COINMETRICS, "btc", "2020-01-01", "2020-02-09"),
        (COINMETRICS, "btc", "2020-03-01", "2020-03-05"),
    ]
    (overlap,) = [f for f in data.findings if f.kind == "overlap"]
    assert overlap.file == COINMETRICS and overlap.asset == "btc"
    assert re.search(r"on the 55 day\(s\) both have: median \|deviation\| 0\.0\d\d%, worst 0\.\d\d%",
                     overlap.detail)
    assert not any(f.kind == "gap" for f in data.findings)


def test_priorities_are_respected(tmp_path, two_sources):
    days, truth, cm = two_sources
    data = quiet_load(tmp_path, ["btc"], sources=["coinmetrics", "binance"])
    assert np.allclose(data.prices["btc"], cm, rtol=0, atol=0)  # Coin Metrics has every day
    assert data.sources == {"btc": "coinmetrics"}
    assert not any(f.kind == "filled" for f in data.findings)
    # one source only: nothing is filled, the gap and the late start stay
    only = quiet_load(tmp_path, ["btc"], sources="binance")
    assert only.prices["btc"].isna().sum() == 5 and only.start == "2020-02-10"


def test_overlap_disagreement_names_both_files(tmp_path, write_file, two_sources):
    days, truth, cm = two_sources
    write_file(COINMETRICS, _csv(days, {"btc": list(cm * 1.05)}))  # 5 % off: another unit
    with pytest.raises(DataError) as err:
        load_prices(tmp_path, ["btc"], sources=["binance", "coinmetrics"])
    msg = str(err.value)
    assert COINMETRICS in msg and BINANCE in msg and "'btc'" in msg
    assert re.search(r"median \|deviation\| 5\.\d\d% > overlap_tolerance 2\.00%", msg)
    # a looser tolerance accepts it
    data = quiet_load(tmp_path, ["btc"], sources=["binance", "coinmetrics"], overlap_tolerance=0.1)
    assert data.prices["btc"].notna().all()


def test_too_short_an_overlap_does_not_fill(tmp_path, write_file):
    days = pd.date_range("2020-01-01", periods=60, freq="D")
    write_file(BINANCE, _csv(days, {"btc": [None] * 40 + [100.0 + i for i in range(20)]}))
    write_file(COINMETRICS, _csv(days, {"btc": [100.0 + i for i in range(45)] + [None] * 15}))
    data = quiet_load(tmp_path, ["btc"], sources=["binance", "coinmetrics"], start="2020-01-01")
    assert data.start == "2020-02-10"
    (unfilled,) = [f for f in data.findings if f.kind == "unfilled"]
    assert "only 5 day(s) in common" in unfilled.detail


def test_asset_missing_from_a_lower_source_is_not_an_error(tmp_path, write_file, two_sources):
    days, truth, cm = two_sources
    write_file(COINGECKO, _csv(days, {"eth": list(cm)}))
    data = quiet_load(tmp_path, ["btc"], sources=["binance", "coingecko", "coinmetrics"])
    assert data.prices["btc"].notna().all()
    with pytest.raises(DataError, match=r"asset 'sol' has no price in any of its sources"):
        load_prices(tmp_path, ["sol"], sources=["binance", "coingecko"])


@pytest.mark.parametrize(
    ("sources", "pattern"),
    [
        (["binance", "kraken"], r"unknown source 'kraken' for asset 'btc'"),
        (["binance", "binance"], r"lists a source twice"),
        ([], r"non-empty list"),
    ],
)
def test_bad_priority_lists(tmp_path, sources, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        load_prices(tmp_path, ["btc"], sources=sources)


# --------------------------------------------------------------------------- real files
@pytest.fixture(scope="module")
def real(data_dir):
    return quiet_load(data_dir, ["eth", "usdc", "ldo"], sources=ALL, start="2021-06-13",
                      as_of="2025-06-12", stablecoins=["usdc"])


def test_usdc_binance_gap_is_filled_from_coingecko(real):
    usdc = real.prices["usdc"]
    assert usdc.notna().all()
    (fill,) = [f for f in real.findings if f.kind == "filled" and f.asset == "usdc"]
    assert (fill.file, fill.start, fill.end) == (COINGECKO, "2022-09-27", "2023-03-10")
    assert fill.detail.startswith("165 day(s) without a price in binance_prices_daily.csv")
    # CoinGecko's 00:00 snapshot of 2023-03-11 is the close of 2023-03-10
    assert usdc["2023-03-10"] == pytest.approx(0.99348, abs=5e-6)
    assert usdc["2023-03-11"] == pytest.approx(0.9592)  # Binance's own close
    assert not any(f.kind == "gap" and f.asset == "usdc" for f in real.findings)


def test_young_binance_asset_gets_its_earlier_coingecko_history(real):
    (fill,) = [f for f in real.findings if f.kind == "filled" and f.asset == "ldo"]
    assert (fill.start, fill.end) == ("2021-06-13", "2022-05-08")
    assert not any(f.kind == "filled" and f.asset == "eth" for f in real.findings)


def test_usdt_quote_is_a_finding(real):
    (quote,) = [f for f in real.findings if f.kind == "quote"]
    assert quote.file == BINANCE
    assert "quoted in USDT and used as USD, not converted" in quote.detail
    assert "no usdt/USD price after 2023-08-27" in quote.detail


def test_fill_uses_nothing_after_as_of(data_dir):
    data = quiet_load(data_dir, ["usdc"], sources=ALL, as_of="2022-12-31")
    overlap = next(f for f in data.findings if f.kind == "overlap")
    assert data.as_of == "2022-12-31"
    n_common = int(re.search(r"on the (\d+) day", overlap.detail).group(1))
    assert n_common == (pd.Timestamp("2022-09-26") - pd.Timestamp("2021-01-01")).days + 1



def test_missing_lower_priority_file_is_a_finding_not_an_error(tmp_path, write_file):
    write_file(BINANCE, "date,btc\n2021-01-01,1\n2021-01-02,2\n")
    data = quiet_load(tmp_path, ["btc"], sources=ALL)
    unfilled = [(f.file, f.asset) for f in data.findings if f.kind == "unfilled"]
    assert unfilled == [(COINGECKO, None), (COINMETRICS, None)]
    # the first source's file is required
    with pytest.raises(DataError, match=r"coingecko_prices_daily\.csv not found"):
        load_prices(tmp_path, ["btc"], sources=["coingecko", "binance"])
