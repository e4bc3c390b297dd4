"""`fetch` against a fake opener.

There is no network in the tests: every response below is SYNTHETIC, canned JSON written by hand
in the shape each public API returns (Binance klines, CoinGecko market_chart, Coin Metrics
asset-metrics with next_page_url paging). The numbers are made up; only the structure is real.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import optimizer.data.fetch as fetch_module
from optimizer.data import load_prices, read_wide_csv
from optimizer.data.fetch import BINANCE_PAGE_LIMIT, COINGECKO_IDS, fetch
from optimizer.exceptions import DataError

from .conftest import quiet_load

DAY_MS = 86_400_000


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


class FakeOpener:
    """Stands in for urllib.request.urlopen: each URL goes to a handler returning synthetic JSON."""

    def __init__(self, handler: Callable[[str], Any]) -> None:
        self.handler = handler
        self.urls: list[str] = []

    def __call__(self, request, timeout=None):
        url = request.full_url
        self.urls.append(url)
        assert timeout is not None and request.get_header("User-agent").startswith("riskopt/")
        payload = self.handler(url)
        if isinstance(payload, BaseException):
            raise payload
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return io.BytesIO(body)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


# --------------------------------------------------------------------------- Binance


def _kline(open_ms: int, close: str) -> list[Any]:
    # [open time, open, high, low, close, volume, close time, quote volume, trades, taker base,
    #  taker quote, ignore] - the layout of GET /api/v3/klines, values synthetic.
    return [open_ms, "1.00000000", "2.00000000", "0.50000000", close, "10.00000000",
            open_ms + DAY_MS - 1, "10.00000000", 5, "5.00000000", "5.00000000", "0"]  # fmt: skip


def test_binance_pages_through_klines(tmp_path):
    first = _ms("2021-01-01")
    n_days = BINANCE_PAGE_LIMIT + 3
    series = [_kline(first + i * DAY_MS, f"{100 + i}.50000000") for i in range(n_days)]
    today = _ms(datetime.now(UTC).date().isoformat())
    series.append(_kline(today, "999.00000000"))  # today's candle, not closed yet

    def handler(url: str) -> Any:
        q = _query(url)
        assert url.startswith("https://api.binance.com/api/v3/klines?")
        assert q["symbol"] == "BTCUSDT" and q["interval"] == "1d" and q["limit"] == "1000"
        start = int(q["startTime"])
        return [k for k in series if k[0] >= start][: BINANCE_PAGE_LIMIT]

    opener = FakeOpener(handler)
    written = fetch("binance", ["btc"], tmp_path, start="2021-01-01", opener=opener, pause=0)
    assert [p.name for p in written] == ["binance_prices_daily.csv"]
    starts = [int(_query(u)["startTime"]) for u in opener.urls]
    assert starts == [first, first + BINANCE_PAGE_LIMIT * DAY_MS]
    lines = written[0].read_text().splitlines()
    assert lines[:2] == ["date,btc", "2021-01-01,100.5"]  # Binance's zero padding is trimmed
    assert len(lines) == 1 + n_days  # the open candle of today is left out
    data = load_prices(tmp_path, ["btc"], sources="binance")
    assert len(data.prices) == n_days and data.prices["btc"].iloc[-1] == 100.5 + n_days - 1


def test_binance_end_date_is_passed_on(tmp_path):
    opener = FakeOpener(lambda url: [_kline(_ms("2021-01-01"), "5.0")])
    day = "2021-01-01"
    fetch("binance", ["eth"], tmp_path, start=day, end=day, opener=opener, pause=0)
    q = _query(opener.urls[0])
    assert q["symbol"] == "ETHUSDT"
    assert int(q["endTime"]) == _ms("2021-01-02") - 1


# --------------------------------------------------------------------------- CoinGecko


def _market_chart() -> dict[str, Any]:
    days = ["2023-03-10", "2023-03-11", "2023-03-12"]
    live = _ms("2023-03-12") + 14 * 3_600_000 + 123_456  # CoinGecko's trailing intraday point
    stamps = [_ms(d) for d in days] + [live]
    return {  # shape of GET /coins/{id}/market_chart, values synthetic
        "prices": [list(p) for p in zip(stamps, [1.0001, 0.9934, 0.9655, 0.98], strict=True)],
        "market_caps": [list(p) for p in zip(stamps, [0, None, 4.1e10, 4.2e10], strict=True)],
        "total_volumes": [list(p) for p in zip(stamps, [3e9, 1.2e10, 2.5e10, 1e9], strict=True)],
    }


def test_coingecko_writes_three_files(tmp_path):
    opener = FakeOpener(lambda url: _market_chart())
    written = fetch("coingecko", ["usdc"], tmp_path, opener=opener, pause=0)
    assert [p.name for p in written] == [
        "coingecko_prices_daily.csv",
        "coingecko_volume_daily.csv",
        "coingecko_marketcap_daily.csv",
    ]
    assert opener.urls == [
        "https://api.coingecko.com/api/v3/coins/usd-coin/market_chart"
        "?vs_currency=usd&days=max&interval=daily"
    ]
    # Dated by the snapshot (file convention); the live point is dropped; JSON text kept as served.
    assert (tmp_path / "coingecko_prices_daily.csv").read_text() == (
        "date,usdc\n2023-03-10,1.0001\n2023-03-11,0.9934\n2023-03-12,0.9655\n"
    )
    assert (tmp_path / "coingecko_marketcap_daily.csv").read_text() == (
        "date,usdc\n2023-03-10,0\n2023-03-11,\n2023-03-12,41000000000.0\n"
    )
    # The loader aligns the snapshot of 03-12 00:00 to the close of 03-11.
    data = quiet_load(
        tmp_path, ["usdc"], sources="coingecko", with_volumes=True, stablecoins=["usdc"]
    )
    assert data.prices.loc["2023-03-11", "usdc"] == 0.9655
    assert data.volumes is not None and data.volumes.loc["2023-03-11", "usdc"] == 2.5e10
    assert ("depeg", "2023-03-11") in {(f.kind, f.start) for f in data.findings}


def test_coingecko_filters_dates_and_knows_the_shared_tickers(tmp_path):
    opener = FakeOpener(lambda url: _market_chart())
    day = "2023-03-11"
    fetch("coingecko", ["usdc"], tmp_path, start=day, end=day, opener=opener, pause=0)
    frame, _ = read_wide_csv(tmp_path / "coingecko_prices_daily.csv")
    assert frame["usdc"].tolist() == [0.9934]
    shared = "btc wbtc eth steth ldo link uni matic sol bnb doge usdc usdt dai frax busd luna ftt"
    binance = "wbeth aave crv mkr snx comp 1inch ens rpl pol arb op paxg"
    assert set(f"{shared} {binance}".split()) <= set(COINGECKO_IDS)
    with pytest.raises(ValueError, match="no CoinGecko id for notacoin"):
        fetch("coingecko", ["notacoin"], tmp_path, opener=opener, pause=0)


# --------------------------------------------------------------------------- Coin Metrics


def test_coinmetrics_follows_next_page_url(tmp_path):
    base = "https://community-api.coinmetrics.io/v4/timeseries/asset-metrics"
    token = "0.MjAyMC0wMS0wMg"
    next_url = f"{base}?assets=eos&metrics=PriceUSD%2CCapMrktCurUSD&next_page_token={token}"
    pages = {  # shape of GET /v4/timeseries/asset-metrics, values synthetic
        "first": {
            "data": [
                {"asset": "eos", "time": "2020-01-01T00:00:00.000000000Z", "PriceUSD": "2.5903"},
                {"asset": "eos", "time": "2020-01-02T00:00:00.000000000Z", "PriceUSD": "2.5071"},
            ],
            "next_page_token": token,
            "next_page_url": next_url,
        },
        "second": {
            "data": [{"asset": "eos", "time": "2020-01-03T00:00:00.000000000Z", "PriceUSD": "2.7"}]
        },
        "btc": {
            "data": [
                {"asset": "btc", "time": "2020-01-01T00:00:00.000000000Z", "PriceUSD": "7193.75",
                 "CapMrktCurUSD": "130464791063.6"},  # fmt: skip
            ]
        },
    }

    def handler(url: str) -> Any:
        if url == next_url:
            return pages["second"]
        return pages["first"] if _query(url)["assets"] == "eos" else pages["btc"]

    opener = FakeOpener(handler)
    written = fetch("coinmetrics", ["btc", "eos"], tmp_path, opener=opener, pause=0)
    names = ["coinmetrics_prices_daily.csv", "coinmetrics_marketcap_daily.csv"]
    assert [p.name for p in written] == names
    first = _query(opener.urls[0])
    assert opener.urls[0].startswith(base + "?")
    assert (first["assets"], first["metrics"], first["frequency"], first["page_size"]) == (
        "btc", "PriceUSD,CapMrktCurUSD", "1d", "10000"
    )  # fmt: skip
    assert opener.urls[2] == next_url  # followed unmodified
    assert (tmp_path / "coinmetrics_prices_daily.csv").read_text() == (
        "date,btc,eos\n2020-01-01,7193.75,2.5903\n2020-01-02,,2.5071\n2020-01-03,,2.7\n"
    )
    # No market cap for eos: no column, as in the shared file.
    caps = (tmp_path / "coinmetrics_marketcap_daily.csv").read_text()
    assert caps == "date,btc\n2020-01-01,130464791063.6\n"


def test_coinmetrics_paging_loop_is_detected(tmp_path):
    url = "https://community-api.coinmetrics.io/v4/timeseries/asset-metrics?next_page_token=x"
    opener = FakeOpener(lambda _: {"data": [], "next_page_url": url})
    with pytest.raises(DataError, match="paging does not end"):
        fetch("coinmetrics", ["btc"], tmp_path, opener=opener, pause=0)


# --------------------------------------------------------------------------- failures


def test_network_error_names_the_url_and_writes_nothing(tmp_path):
    existing = tmp_path / "binance_prices_daily.csv"
    existing.write_text("date,btc\n2020-01-01,1\n")
    error = urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    opener = FakeOpener(lambda url: error)
    url = r"https://api\.binance\.com/api/v3/klines\?symbol=BTCUSDT"
    with pytest.raises(DataError, match=rf"download failed for {url}.*name resolution"):
        fetch("binance", ["btc"], tmp_path, opener=opener, pause=0)
    assert existing.read_text() == "date,btc\n2020-01-01,1\n"  # the previous file is left intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binance_prices_daily.csv"]


def test_http_error_names_the_url_and_the_api_message(tmp_path):
    def handler(url: str) -> Any:
        body = io.BytesIO(json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode())
        return urllib.error.HTTPError(url, 400, "Bad Request", {}, body)

    pattern = r"HTTP 400 Bad Request from https://api\.binance\.com/.*XYZUSDT.*Invalid symbol"
    with pytest.raises(DataError, match=pattern):
        fetch("binance", ["xyz"], tmp_path, opener=FakeOpener(handler), pause=0)


def test_rate_limit_is_explained(tmp_path):
    def handler(url: str) -> Any:
        return urllib.error.HTTPError(url, 429, "Too Many Requests", {}, io.BytesIO(b""))

    with pytest.raises(DataError, match=r"HTTP 429 .*coingecko\.com.*rate limited"):
        fetch("coingecko", ["btc"], tmp_path, opener=FakeOpener(handler), pause=0)


@pytest.mark.parametrize(
    ("source", "payload", "pattern"),
    [
        ("binance", b"<html>maintenance</html>", r"did not return JSON"),
        ("binance", {"code": 0}, r"expected klines"),
        ("binance", [[1, 2]], r"unexpected kline"),
        ("coingecko", {"error": "coin not found"}, r"expected an object with a 'prices' list"),
        ("coinmetrics", {"error": {"type": "bad_parameter"}}, r"an object with a 'data' list"),
        ("binance", [], r"binance returned no price for asset 'btc'"),
    ],
)
def test_unexpected_responses(tmp_path, source, payload, pattern):
    with pytest.raises(DataError, match=pattern):
        fetch(source, ["btc"], tmp_path, opener=FakeOpener(lambda url: payload), pause=0)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path):
    opener = FakeOpener(lambda url: [])
    with pytest.raises(ValueError, match="unknown source 'kraken'"):
        fetch("kraken", ["btc"], tmp_path, opener=opener)
    with pytest.raises(ValueError, match="`start` must be an ISO date"):
        fetch("binance", ["btc"], tmp_path, start="01/01/2021", opener=opener)
    with pytest.raises(ValueError, match="must not be after"):
        fetch("binance", ["btc"], tmp_path, start="2021-02-01", end="2021-01-01", opener=opener)
    with pytest.raises(TypeError, match="not a string"):
        fetch("binance", "btc", tmp_path, opener=opener)
    assert opener.urls == []


def test_pause_between_requests(tmp_path, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(fetch_module.time, "sleep", slept.append)
    day = _ms((datetime.now(UTC) - timedelta(days=3)).date().isoformat())
    opener = FakeOpener(lambda url: [_kline(day, "1.0")])
    fetch("binance", ["btc", "eth"], tmp_path, opener=opener, pause=0.5)
    assert slept == [0.5]  # between the two requests, not before the first
