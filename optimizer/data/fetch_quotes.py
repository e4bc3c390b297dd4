"""Download DEX-aggregator quotes (ParaSwap, keyless public API) into the quotes-file format.

``riskopt data fetch --source paraswap --assets WETH,WBTC,LINK --out DIR`` calls
:func:`fetch_quotes`: for each token it asks ParaSwap's price API
(``GET https://api.paraswap.io/prices``, ``side=SELL``, Ethereum mainnet) for the best route
selling a geometric ladder of sizes into USDC (USDC itself into USDT) and writes
``paraswap_quotes_<YYYYMMDD>.csv`` with the columns of the 1inch reference file
(``timestamp_utc,sell,buy,sell_amount,buy_amount,price_impact``), which ``[liquidity]
quotes_file`` reads (:func:`optimizer.data.load_quotes`) and turns into depth curves.

``price_impact`` follows the reference file's meaning, output = sell_amount x reference price
x (1 - price_impact); the reference price is the rate of the smallest size quoted (the first
rung, $1,000 by default). The sizes are set in USD from a probe quote of one token. A size the
API cannot route (HTTP 400, e.g. "No routes found with enough liquidity" or the estimated loss
above its maximum impact) ends that token's ladder: larger sizes would fail too.

Only the standard library is used and the HTTP call is injected (``opener``): the tests replay
a stored response (``tests/test_data/data/paraswap_prices_*.json``) with no network.
"""

from __future__ import annotations

import csv
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from optimizer.data._liquidity import QUOTE_COLUMNS
from optimizer.data.fetch import Opener, _Client
from optimizer.exceptions import DataError

__all__ = ["PARASWAP_PRICES_URL", "TOKENS", "Token", "default_sizes_usd", "fetch_quotes"]

PARASWAP_PRICES_URL = "https://api.paraswap.io/prices"


@dataclass(frozen=True)
class Token:
    """An ERC-20 token on Ethereum mainnet."""

    symbol: str
    address: str
    decimals: int


#: Tokens :func:`fetch_quotes` knows (symbol -> mainnet address and decimals).
TOKENS: dict[str, Token] = {t.symbol: t for t in (
    Token("WETH", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", 18),
    Token("WBTC", "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", 8),
    Token("USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
    Token("USDT", "0xdAC17F958D2ee523a2206206994597C13D831ec7", 6),
    Token("wstETH", "0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0", 18),
    Token("LINK", "0x514910771AF9Ca656af840dff83E8264EcF986CA", 18),
    Token("AAVE", "0x7Fc66500c84A76Ad7e9c93437bFc5Ac33E2DDaE9", 18),
    Token("CRV", "0xD533a949740bb3306d119CC777fa900bA034cd52", 18),
    Token("MKR", "0x9f8F72aA9304c8B593d555F12eF6589cC3A579A2", 18),
    Token("SNX", "0xC011a73ee8576Fb46F5E1c5751cA3B9Fe0af2a6F", 18),
    Token("UNI", "0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984", 18),
    Token("LDO", "0x5A98FcBEA516Cf06857215779Fd812CA3beF1B32", 18),
    Token("ENS", "0xC18360217D8F7Ab5e7c516566761Ea12Ce7F9D72", 18),
    Token("1INCH", "0x111111111117dC0aa78b770fA6A738034120C302", 18),
)}


def default_sizes_usd(n: int = 25, lo: float = 1e3, hi: float = 2e8) -> list[float]:
    """A geometric ladder of ``n`` USD sizes from ``lo`` to ``hi``."""
    if n < 2 or not 0 < lo < hi:
        raise ValueError(f"need n >= 2 and 0 < lo < hi, got n={n}, lo={lo}, hi={hi}")
    r = (hi / lo) ** (1 / (n - 1))
    return [lo * r**k for k in range(n)]


def _token(symbol: str) -> Token:
    by_upper = {k.upper(): v for k, v in TOKENS.items()}
    t = by_upper.get(symbol.strip().upper())
    if t is None:
        raise ValueError(f"unknown token {symbol!r}; known: {', '.join(TOKENS)}")
    return t


def _quote(client: _Client, sell: Token, buy: Token, units: int, network: int) -> tuple[int, int] | None:
    """(srcAmount, destAmount) in base units of the best route, or None when the API cannot route it."""
    query = urllib.parse.urlencode({
        "srcToken": sell.address, "srcDecimals": sell.decimals, "destToken": buy.address,
        "destDecimals": buy.decimals, "amount": str(units), "side": "SELL", "network": network,
    })
    url = f"{PARASWAP_PRICES_URL}?{query}"
    try:
        payload = client.get_json(url)
    except DataError as err:
        if "HTTP 400" in str(err):
            return None
        raise
    route = payload.get("priceRoute") if isinstance(payload, dict) else None
    if not isinstance(route, dict) or "srcAmount" not in route or "destAmount" not in route:
        raise DataError(f"{url}: unexpected response (no priceRoute.srcAmount/destAmount): {str(payload)[:200]}")
    try:
        return int(route["srcAmount"]), int(route["destAmount"])
    except (TypeError, ValueError):
        raise DataError(f"{url}: priceRoute amounts are not integers: {route['srcAmount']!r}, "
                        f"{route['destAmount']!r}") from None


def fetch_quotes(
    tokens: Sequence[str],
    out_dir: str | Path,
    *,
    sizes_usd: Sequence[float] | None = None,
    opener: Opener = urllib.request.urlopen,
    pause: float = 1.0,
    timeout: float = 30.0,
    network: int = 1,
    now: datetime | None = None,
) -> Path:
    """Quote a ladder of sale sizes of each token into USDC (USDC into USDT) and write the quotes file.

    Parameters
    ----------
    tokens : sequence of str
        Symbols of :data:`TOKENS` (case-insensitive).
    out_dir : str or Path
    sizes_usd : sequence of float, optional
        Sale sizes in USD, increasing (default :func:`default_sizes_usd`).
    opener, pause, timeout
        As :func:`optimizer.data.fetch.fetch`.
    network : int, default 1
        Chain id (1: Ethereum mainnet).
    now : datetime, optional
        Timestamp written for the quotes (default: the UTC time of each response).

    Returns
    -------
    Path
        ``out_dir / paraswap_quotes_<YYYYMMDD>.csv``.

    Raises
    ------
    DataError
        A network error or a response of the wrong shape (naming the URL), or a token whose
        probe quote fails.
    """
    toks = [_token(t) for t in dict.fromkeys(tokens)]
    if not toks:
        raise ValueError("`tokens` must name at least one token")
    sizes = list(sizes_usd) if sizes_usd is not None else default_sizes_usd()
    if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)) or sizes[0] <= 0:
        raise ValueError("`sizes_usd` must be > 0 and strictly increasing")
    client = _Client(opener, timeout=timeout, pause=pause)
    rows: list[list[str]] = []
    stamp = now or datetime.now(UTC)
    for sell in toks:
        buy = TOKENS["USDT"] if sell.symbol == "USDC" else TOKENS["USDC"]
        probe = _quote(client, sell, buy, 10**sell.decimals, network)
        if probe is None or probe[1] <= 0:
            raise DataError(f"ParaSwap has no route selling one {sell.symbol} for {buy.symbol}")
        usd_per_token = Decimal(probe[1]) / Decimal(10**buy.decimals)
        ref = None
        for usd in sizes:
            units = int(Decimal(str(usd)) / usd_per_token * Decimal(10**sell.decimals))
            if units <= 0:
                continue
            got = _quote(client, sell, buy, units, network)
            if got is None:
                break
            src, dst = Decimal(got[0]) / Decimal(10**sell.decimals), Decimal(got[1]) / Decimal(10**buy.decimals)
            rate = dst / src
            ref = ref or rate
            impact = max(Decimal(0), 1 - rate / ref)
            ts = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append([ts, sell.symbol, buy.symbol, str(src), str(dst), f"{float(impact):.15g}"])
    if not rows:
        raise DataError("ParaSwap returned no quote for any size")
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"paraswap_quotes_{stamp.strftime('%Y%m%d')}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(QUOTE_COLUMNS)
        w.writerows(rows)
    tmp.replace(path)
    return path
