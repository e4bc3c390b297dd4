"""Fixtures of the data-layer tests: real loads shared per module, synthetic files in tmp_path."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from optimizer.data import PriceData, load_prices

BINANCE = "binance_prices_daily.csv"
COINGECKO = "coingecko_prices_daily.csv"
COINMETRICS = "coinmetrics_prices_daily.csv"


def quiet_load(*args, **kwargs) -> PriceData:
    """``load_prices`` with DataQualityWarnings silenced (tests of them use pytest.warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_prices(*args, **kwargs)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write synthetic text to ``tmp_path / name`` and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def binance_usdc(data_dir: Path) -> PriceData:
    """Real Binance btc, eth and usdc over the whole file (usdc has its 2022-09 to 2023-03 gap)."""
    return quiet_load(data_dir, ["btc", "eth", "usdc"], sources="binance", stablecoins=["usdc"])
