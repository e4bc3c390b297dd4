"""Download daily data from the public APIs into the wide CSV files :func:`load_prices` reads.

``riskopt data fetch`` calls :func:`fetch`. The files have the same names and format as the shared
datasets (see ``SOURCES``): a ``date`` column and one column per asset, one row per calendar day,
empty cells where the source has no value, values written as the API's own text (nothing rounded).

Only the standard library is used. The HTTP call is injected (``opener``), so the parsers and the
paging can be tested offline with canned responses.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from optimizer import __version__
from optimizer.data._csv import write_wide_csv
from optimizer.data._sources import SOURCES
from optimizer.exceptions import DataError

BINANCE_KLINES_URL = "https://api.binance.com/api/v3/klines"
COINGECKO_API_URL = "https://api.coingecko.com/api/v3"
COINMETRICS_API_URL = "https://community-api.coinmetrics.io/v4"

#: Binance returns at most this many klines per request.
BINANCE_PAGE_LIMIT = 1000

#: Ticker -> CoinGecko coin id for every asset in the shared files (CoinGecko, Binance and Coin
#: Metrics sets). For the CoinGecko set these are the source files' names, except bnb and busd,
#: whose API ids (binancecoin, binance-usd) differ from their file names.
COINGECKO_IDS: dict[str, str] = {
    # assets of the CoinGecko set
    "btc": "bitcoin",
    "wbtc": "wrapped-bitcoin",
    "eth": "ethereum",
    "steth": "staked-ether",
    "ldo": "lido-dao",
    "link": "chainlink",
    "uni": "uniswap",
    "matic": "matic-network",
    "sol": "solana",
    "bnb": "binancecoin",
    "doge": "dogecoin",
    "usdc": "usd-coin",
    "usdt": "tether",
    "dai": "dai",
    "frax": "frax",
    "busd": "binance-usd",
    "luna": "terra-luna",  # Terra Classic (LUNC), the original token, as in the shared file
    "ftt": "ftx-token",
    # further assets of the Binance set
    "wbeth": "wrapped-beacon-eth",
    "aave": "aave",
    "crv": "curve-dao-token",
    "mkr": "maker",
    "snx": "havven",
    "comp": "compound-governance-token",
    "1inch": "1inch",
    "ens": "ethereum-name-service",
    "rpl": "rocket-pool",
    "pol": "polygon-ecosystem-token",
    "arb": "arbitrum",
    "op": "optimism",
    "paxg": "pax-gold",
    # further assets of the Coin Metrics set
    "zrx": "0x",
    "bat": "basic-attention-token",
    "knc": "kyber-network",  # legacy KNC
    "rep": "augur",
    "mana": "decentraland",
    "omg": "omisego",
    "sai": "sai",
    "tusd": "true-usd",
    "pax": "paxos-standard",
    "gusd": "gemini-dollar",
    "xaut": "tether-gold",
    "bnb_mainnet": "binancecoin",
    "cro": "crypto-com-chain",
    "ht": "huobi-token",
    "ltc": "litecoin",
    "xrp": "ripple",
    "bch": "bitcoin-cash",
    "ada": "cardano",
    "xlm": "stellar",
    "xtz": "tezos",
    "eos": "eos",
    "trx": "tron",
}

#: Seconds to wait between requests, per source, to stay under the public rate limits
#: (Coin Metrics community: 10 requests per 6 s; CoinGecko keyless: a few requests per minute).
DEFAULT_PAUSE: dict[str, float] = {"binance": 0.2, "coingecko": 6.0, "coinmetrics": 0.7}

_DAY_MS = 86_400_000
_MAX_PAGES = 10_000  # guard against a server that keeps returning the same next page

Opener = Callable[..., Any]
Table = dict[str, dict[str, str]]  # asset -> ISO date -> value text


def fetch(
    source: str,
    assets: Sequence[str],
    out_dir: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    opener: Opener = urllib.request.urlopen,
    pause: float | None = None,
    timeout: float = 30.0,
) -> list[Path]:
    """Download daily data of ``assets`` from ``source`` and write the source's wide CSV files.

    Parameters
    ----------
    source : {"binance", "coingecko", "coinmetrics"}
        - ``binance``: spot klines ``<TICKER>USDT``, ``interval=1d``, paged 1000 at a time; the
          value is the close of the UTC day, dated by that day (candles not yet closed are
          skipped). Writes ``binance_prices_daily.csv`` (USDT).
        - ``coingecko``: ``/coins/<id>/market_chart?vs_currency=usd&days=max&interval=daily``
          (ids in ``COINGECKO_IDS``); 00:00 UTC snapshots dated by the snapshot date, as in the
          shared files (the loader shifts them by -1 day). The trailing intraday "live" point is
          dropped. Writes ``coingecko_prices_daily.csv``, ``coingecko_volume_daily.csv`` and
          ``coingecko_marketcap_daily.csv``.
        - ``coinmetrics``: community API ``timeseries/asset-metrics`` with
          ``PriceUSD,CapMrktCurUSD``, ``frequency=1d``, following ``next_page_url``. Writes
          ``coinmetrics_prices_daily.csv`` and ``coinmetrics_marketcap_daily.csv`` (market-cap
          columns only for assets that have one).
    assets : sequence of str
        Tickers (lower-case in the files). Each file holds exactly these assets: an existing file
        of the same name is replaced.
    out_dir : str or Path
        Directory to write to (created if missing).
    start, end : str, optional
        ISO dates bounding the data kept (inclusive).
    opener : callable, default urllib.request.urlopen
        Called as ``opener(request, timeout=...)``; must return a context manager with ``read()``.
    pause : float, optional
        Seconds between requests; default ``DEFAULT_PAUSE[source]``.
    timeout : float, default 30.0
        Socket timeout per request, in seconds.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    DataError
        On a network or HTTP error (the message has the URL), a response that is not in the
        expected shape, or an asset with no data. Nothing is written unless every download
        succeeded, and each file is written atomically (temporary file + rename).
    ValueError
        On an unknown source, an unknown CoinGecko ticker, or a bad date.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known sources: {', '.join(SOURCES)}")
    if isinstance(assets, str):
        raise TypeError(f"`assets` must be a sequence of tickers, not a string; got {assets!r}")
    names = list(dict.fromkeys(str(a).strip().lower() for a in assets))
    if not names:
        raise ValueError("`assets` must name at least one asset")
    first = _parse_iso(start, "start")
    last = _parse_iso(end, "end")
    if first and last and first > last:
        raise ValueError(f"`start` ({start}) must not be after `end` ({end})")
    wait = DEFAULT_PAUSE[source] if pause is None else float(pause)
    client = _Client(opener, timeout=timeout, pause=wait)

    spec = SOURCES[source]
    tables: dict[str, Table]
    if source == "binance":
        tables = {spec.prices: _fetch_binance(names, client, start=first, end=last)}
    elif source == "coingecko":
        prices, volumes, caps = _fetch_coingecko(names, client, start=first, end=last)
        assert spec.volume is not None and spec.marketcap is not None
        tables = {spec.prices: prices, spec.volume: volumes, spec.marketcap: caps}
    else:
        prices, caps = _fetch_coinmetrics(names, client, start=first, end=last)
        assert spec.marketcap is not None
        tables = {spec.prices: prices, spec.marketcap: caps}

    for asset in names:
        if not tables[spec.prices].get(asset):
            raise DataError(
                f"{source} returned no price for asset '{asset}' between "
                f"{start or 'the start'} and {end or 'today'}"
            )
    out = Path(out_dir).expanduser()
    written = []
    for file_name, table in tables.items():
        # Prices keep every requested column; volume / market-cap files only those with data, as in
        # the shared files (Coin Metrics has no market cap for eos and trx).
        columns = names if file_name == spec.prices else [a for a in names if table.get(a)]
        if columns:
            written.append(write_wide_csv(out / file_name, table, columns))
    return written


class _Client:
    """GET JSON with a pause between requests; every failure becomes a DataError naming the URL."""

    def __init__(self, opener: Opener, *, timeout: float, pause: float) -> None:
        self.opener = opener
        self.timeout = timeout
        self.pause = pause
        self._calls = 0

    def get_json(self, url: str) -> Any:
        if self._calls and self.pause > 0:
            time.sleep(self.pause)
        self._calls += 1
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": f"riskopt/{__version__}"}
        )
        try:
            with self.opener(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            hint = " (rate limited: wait a minute and retry)" if err.code == 429 else ""
            raise DataError(
                f"download failed: HTTP {err.code} {err.reason} from {url}{hint}{_error_text(err)}"
            ) from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DataError(
                f"download failed for {url}: {reason}; check the network connection"
            ) from err
        try:
            # Numbers are kept as the API's text so that the files hold exactly what was served.
            return json.loads(body, parse_float=str, parse_int=str)
        except ValueError as err:
            raise DataError(f"{url} did not return JSON: {err}") from err


def _error_text(err: urllib.error.HTTPError) -> str:
    """The API's own error message from an error body (Binance "msg", Coin Metrics "error")."""
    try:
        payload = json.loads(err.read() or b"null")
    except (ValueError, OSError):
        return ""
    if isinstance(payload, dict):
        message = payload.get("msg") or payload.get("error") or payload.get("status")
        if isinstance(message, dict):
            message = message.get("message") or message.get("error_message")
        if message:
            return f": {message}"
    return ""


def _fetch_binance(
    assets: Sequence[str], client: _Client, *, start: date | None = None, end: date | None = None
) -> Table:
    """Daily closes of ``<TICKER>USDT`` klines keyed by the UTC day they close (see ``fetch``)."""
    table: Table = {}
    now_ms = int(time.time() * 1000)
    end_ms = _ms(end) + _DAY_MS - 1 if end else None
    for asset in assets:
        symbol = binance_symbol(asset)
        closes: dict[str, str] = {}
        start_ms = _ms(start) if start else 0
        for _ in range(_MAX_PAGES):
            query = {
                "symbol": symbol,
                "interval": "1d",
                "startTime": start_ms,
                "limit": BINANCE_PAGE_LIMIT,
            }
            if end_ms is not None:
                query["endTime"] = end_ms
            url = f"{BINANCE_KLINES_URL}?{urllib.parse.urlencode(query)}"
            rows = client.get_json(url)
            if not isinstance(rows, list):
                got = type(rows).__name__
                raise DataError(f"unexpected response from {url}: expected klines, got {got}")
            for row in rows:
                open_ms, close, close_ms = _kline_fields(row, url)
                if close_ms >= now_ms:  # the current day's candle is not closed yet
                    continue
                closes[_iso_from_ms(open_ms)] = _trim_decimal(close)
            if len(rows) < BINANCE_PAGE_LIMIT:
                break
            start_ms = _kline_fields(rows[-1], url)[0] + _DAY_MS
        table[asset] = closes
    return table


def binance_symbol(asset: str) -> str:
    """Binance spot symbol of ``asset`` against USDT, e.g. ``"btc"`` -> ``"BTCUSDT"``."""
    return f"{asset.upper()}USDT"


def _kline_fields(row: Any, url: str) -> tuple[int, str, int]:
    # A kline is [open time, open, high, low, close, volume, close time, ...], prices as strings.
    try:
        return int(row[0]), str(row[4]), int(row[6])
    except (TypeError, ValueError, IndexError, KeyError):
        raise DataError(f"unexpected kline in the response from {url}: {str(row)[:120]}") from None


def _fetch_coingecko(
    assets: Sequence[str], client: _Client, *, start: date | None = None, end: date | None = None
) -> tuple[Table, Table, Table]:
    """USD prices, 24h volumes and market caps from CoinGecko ``market_chart`` (see ``fetch``)."""
    unknown = [a for a in assets if a not in COINGECKO_IDS]
    if unknown:
        known = ", ".join(sorted(COINGECKO_IDS))
        raise ValueError(f"no CoinGecko id for {', '.join(unknown)}; known tickers: {known}")
    prices: Table = {}
    volumes: Table = {}
    caps: Table = {}
    for asset in assets:
        coin = COINGECKO_IDS[asset]
        query = urllib.parse.urlencode({"vs_currency": "usd", "days": "max", "interval": "daily"})
        url = f"{COINGECKO_API_URL}/coins/{urllib.parse.quote(coin)}/market_chart?{query}"
        data = client.get_json(url)
        if not isinstance(data, dict) or not isinstance(data.get("prices"), list):
            raise DataError(
                f"unexpected response from {url}: expected an object with a 'prices' list"
            )
        for key, table in (("prices", prices), ("total_volumes", volumes), ("market_caps", caps)):
            table[asset] = _snapshots(data.get(key) or [], url, start, end)
    return prices, volumes, caps


def _snapshots(
    points: Sequence[Any], url: str, start: date | None, end: date | None
) -> dict[str, str]:
    """``[[ms, value], ...]`` -> ISO date -> value: per UTC date, the earliest point of the date."""
    parsed: list[tuple[int, str | None]] = []
    for point in points:
        try:
            parsed.append((int(point[0]), None if point[1] is None else str(point[1])))
        except (TypeError, ValueError, IndexError):
            raise DataError(
                f"unexpected data point in the response from {url}: {str(point)[:120]}"
            ) from None
    parsed.sort(key=lambda p: p[0])
    # CoinGecko appends the current price at request time; it is not a 00:00 snapshot.
    if parsed and parsed[-1][0] % _DAY_MS != 0:
        parsed.pop()
    out: dict[str, str] = {}
    for ms, value in parsed:
        day = _iso_from_ms(ms)
        if value is None or day in out or not _within(day, start, end):
            continue
        out[day] = value
    return out


def _fetch_coinmetrics(
    assets: Sequence[str], client: _Client, *, start: date | None = None, end: date | None = None
) -> tuple[Table, Table]:
    """``PriceUSD`` and ``CapMrktCurUSD`` from the Coin Metrics community API (see ``fetch``)."""
    prices: Table = {}
    caps: Table = {}
    for asset in assets:
        query: dict[str, str] = {
            "assets": asset,
            "metrics": "PriceUSD,CapMrktCurUSD",
            "frequency": "1d",
            "page_size": "10000",
            # Some assets (eos, trx) have no market cap: return the price instead of failing.
            "ignore_unsupported_errors": "true",
        }
        if start:
            query["start_time"] = start.isoformat()
        if end:
            query["end_time"] = end.isoformat()
        encoded = urllib.parse.urlencode(query, safe=",")
        url: str | None = f"{COINMETRICS_API_URL}/timeseries/asset-metrics?{encoded}"
        prices[asset], caps[asset] = {}, {}
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise DataError(f"Coin Metrics paging does not end: {url} was already requested")
            seen.add(url)
            page = client.get_json(url)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise DataError(
                    f"unexpected response from {url}: expected an object with a 'data' list"
                )
            for row in page["data"]:
                if not isinstance(row, dict) or not isinstance(row.get("time"), str):
                    raise DataError(f"unexpected row in the response from {url}: {str(row)[:120]}")
                # The daily row's time is the start of the UTC day whose close PriceUSD is.
                day = row["time"][:10]
                if not _within(day, start, end):
                    continue
                for metric, table in (("PriceUSD", prices), ("CapMrktCurUSD", caps)):
                    value = row.get(metric)
                    if value not in (None, ""):
                        table[asset][day] = str(value)
            next_url = page.get("next_page_url")
            url = next_url if isinstance(next_url, str) and next_url else None
    return prices, caps


def _parse_iso(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"`{name}` must be an ISO date YYYY-MM-DD, got {value!r}") from None


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _iso_from_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def _within(day: str, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start.isoformat()) and (end is None or day <= end.isoformat())


def _trim_decimal(text: str) -> str:
    """``"29331.69000000"`` -> ``"29331.69"``: Binance pads to 8 decimals; same value."""
    if "." in text and "e" not in text.lower():
        text = text.rstrip("0").rstrip(".")
    return text


__all__ = ["BINANCE_PAGE_LIMIT", "COINGECKO_IDS", "DEFAULT_PAUSE", "binance_symbol", "fetch"]

