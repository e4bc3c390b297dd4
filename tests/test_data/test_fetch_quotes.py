"""`riskopt data fetch --source paraswap` on a stored response (no network).

The stored file ``data/paraswap_prices_20231120.json`` is described in its ``note``: ParaSwap's
/prices response shape, amounts from the 1inch reference quotes (not a live capture).
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from optimizer.data import load_quotes
from optimizer.data.fetch_quotes import TOKENS, default_sizes_usd, fetch_quotes
from optimizer.estimators import depth_curves_from_quotes
from optimizer.exceptions import DataError

STORED = Path(__file__).parent / "data" / "paraswap_prices_20231120.json"


class Replay:
    """urlopen stand-in answering each request from the stored responses (by token and amount)."""

    def __init__(self, path: Path) -> None:
        self.responses = {(r["query"]["srcToken"], r["query"]["amount"]): r for r in json.loads(path.read_text())["responses"]}
        self.urls: list[str] = []

    def __call__(self, request, timeout=None):
        url = request.full_url
        self.urls.append(url)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}
        assert q["side"] == "SELL" and q["network"] == "1" and timeout is not None
        r = self.responses[(q["srcToken"], q["amount"])]
        body = json.dumps(r["body"]).encode()
        if r["status"] != 200:
            raise urllib.error.HTTPError(url, r["status"], "Bad Request", {}, io.BytesIO(body))
        return io.BytesIO(body)


def test_fetch_quotes_on_the_stored_response(tmp_path):
    opener = Replay(STORED)
    path = fetch_quotes(["weth", "USDC"], tmp_path, sizes_usd=default_sizes_usd(10, 1e3, 2e8), opener=opener,
                        pause=0, now=datetime(2023, 11, 20, 12, 0, tzinfo=UTC))
    assert path.name == "paraswap_quotes_20231120.csv"
    q = load_quotes(path)
    assert q.pairs == (("WETH", "USDC"), ("USDC", "USDT"))
    assert q.date == "2023-11-20"
    # the ladder stops at the first size the API cannot route ($200M of WETH, $200M of USDC answered 400)
    assert "ESTIMATED_LOSS" in STORED.read_text() and len(opener.urls) == 2 * 11
    usd, imp = q.usd_size("WETH", "USDC")
    assert usd[0] == pytest.approx(1000, rel=0.01) and np.all(np.diff(imp) >= -1e-9)
    # the quotes file turns into a depth curve like the 1inch one (WETH 1 % at about $20M)
    curve = depth_curves_from_quotes(q, {"eth": "WETH", "usdc": "USDC"}).get("eth")
    assert 1e7 < curve.depth_at(0.01) < 3e7


def test_fetch_quotes_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown token 'DOGE'"):
        fetch_quotes(["DOGE"], tmp_path, opener=Replay(STORED))

    def bad(request, timeout=None):
        return io.BytesIO(b'{"priceRoute": {"srcAmount": "1"}}')

    with pytest.raises(DataError, match=r"unexpected response \(no priceRoute.srcAmount/destAmount\)"):
        fetch_quotes(["WETH"], tmp_path, opener=bad, pause=0)
    assert TOKENS["WBTC"].decimals == 8
