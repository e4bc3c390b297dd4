"""Fixtures for the estimators tests: real Binance returns and a GARCH-t simulator.

The data loader belongs to another layer, so the real returns are read here with a tiny local
helper: daily closes -> log returns, computed per column *before* dropping missing rows, so a gap
(usdc 2022-09-26 .. 2023-03-11) leaves no multi-month "daily" return behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REAL_TICKERS = ["btc", "eth", "usdc", "crv"]


def load_log_returns(
    data_dir: Path, tickers: list[str], start: str = "2021-01-01", end: str = "2025-12-31"
) -> pd.DataFrame:
    prices = pd.read_csv(
        data_dir / "binance_prices_daily.csv", parse_dates=["date"], index_col="date"
    )
    p = prices.loc[start:end, tickers]
    return np.log(p).diff().dropna()


@pytest.fixture(scope="session")
def real_returns(data_dir: Path) -> pd.DataFrame:
    """btc, eth, usdc, crv daily log returns 2021-2025 (rows where all four exist)."""
    return load_log_returns(data_dir, REAL_TICKERS)


def _simulate_garch_t(
    n: int,
    *,
    omega: float = 2e-5,
    alpha: float = 0.08,
    beta: float = 0.90,
    gamma: float = 0.0,
    nu: float = 6.0,
    seed: int = 0,
    burn: int = 500,
) -> pd.Series:
    """Zero-mean GARCH(1,1)/GJR-t path in decimals with unit-variance Student-t innovations."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, size=n + burn) * np.sqrt((nu - 2.0) / nu)
    pers = alpha + beta + 0.5 * gamma
    s2 = omega / (1.0 - pers) if pers < 1.0 else 1e-3
    r = np.empty(n + burn)
    for t in range(n + burn):
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (r[t] < 0.0)) * r[t] ** 2 + beta * s2
    return pd.Series(r[burn:], index=pd.date_range("2012-01-01", periods=n, freq="D"), name="sim")


@pytest.fixture(scope="session")
def simulate_garch_t() -> Callable[..., pd.Series]:
    return _simulate_garch_t


@pytest.fixture(scope="session")
def garch_t_sample() -> pd.DataFrame:
    """Known truth: GARCH(1,1)-t, omega=2e-5, alpha=0.08, beta=0.90, nu=6, 3000 days, seed 2."""
    return _simulate_garch_t(3000, seed=2).to_frame("sim")
