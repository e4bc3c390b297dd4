"""Fixtures of the protocol tests: a small market, its parameters and a seeded synthetic book."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.protocol.book import Book
from optimizer.protocol.books import synthetic_book
from optimizer.protocol.params import RiskParams

ASSETS = ("usdc", "weth", "wbtc", "link", "crv", "uni")


@pytest.fixture(scope="module")
def assets() -> tuple[str, ...]:
    return ASSETS


@pytest.fixture(scope="module")
def market_params() -> RiskParams:
    """Aave-like parameters (LT x (1 + bonus) <= 1 for every asset)."""
    return RiskParams(
        assets=ASSETS,
        ltv=np.array([0.75, 0.80, 0.73, 0.66, 0.35, 0.65]),
        liquidation_threshold=np.array([0.78, 0.83, 0.78, 0.71, 0.41, 0.70]),
        liquidation_bonus=np.array([0.045, 0.05, 0.05, 0.07, 0.083, 0.10]),
    ).check()


@pytest.fixture(scope="module")
def market_totals() -> tuple[np.ndarray, np.ndarray]:
    supplied = np.array([3.0e9, 8.0e9, 4.0e9, 5.0e8, 6.0e7, 9.0e7])
    borrowed = np.array([2.2e9, 2.5e9, 3.0e8, 2.0e7, 1.0e6, 4.0e6])
    return supplied, borrowed


@pytest.fixture(scope="module")
def synth_book(market_params: RiskParams, market_totals: tuple[np.ndarray, np.ndarray]) -> Book:
    """Synthetic book, 3,000 accounts, seed 7 (every comparison on it is seeded)."""
    supplied, borrowed = market_totals
    return synthetic_book(
        ASSETS,
        supplied_usd=supplied,
        borrowed_usd=borrowed,
        n_accounts=3000,
        current=market_params,
        rng=np.random.default_rng(7),
    )


@pytest.fixture(scope="module")
def scenario_relatives() -> np.ndarray:
    """500 joint price-relative scenarios (a common crash factor plus noise; usdc near 1)."""
    rng = np.random.default_rng(11)
    n_s = 500
    common = rng.standard_t(3, size=(n_s, 1)) * 0.12
    idio = rng.standard_normal((n_s, len(ASSETS))) * np.array([0.002, 0.05, 0.05, 0.10, 0.15, 0.10])
    beta = np.array([0.0, 1.0, 0.9, 1.3, 1.6, 1.3])
    return np.exp(common * beta + idio)
