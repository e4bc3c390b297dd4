"""Fixtures for the scenario tests: real Binance prices and a synthetic set with known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ASSETS = ["btc", "eth", "usdc", "crv"]


def load_prices(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(
        data_dir / "binance_prices_daily.csv", parse_dates=["date"], index_col="date"
    )


@pytest.fixture(scope="session")
def prices(data_dir: Path) -> pd.DataFrame:
    """All daily closes of the Binance file (many assets list late, so columns have NaN heads)."""
    return load_prices(data_dir)


@pytest.fixture(scope="session")
def real_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily log returns of btc, eth, usdc and crv on the days where all four have two closes.

    The log difference is taken before dropping NaN, so no return spans usdc's 2022-09-27 ..
    2023-03-10 gap on Binance (a 166-day move is not a daily return).
    """
    return np.log(prices[ASSETS]).diff().dropna()


# Synthetic truth: i.i.d. multivariate Student-t (nu=6) with these daily vols and correlation.
SYN_SIGMA = np.array([0.02, 0.04, 0.01])
SYN_CORR = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, 0.3], [0.2, 0.3, 1.0]])
SYN_NU = 6.0


@pytest.fixture(scope="session")
def synthetic_truth() -> dict[str, np.ndarray | float]:
    """The parameters ``synthetic_returns`` is drawn from."""
    return {"sigma": SYN_SIGMA, "corr": SYN_CORR, "nu": SYN_NU}


@pytest.fixture(scope="session")
def synthetic_returns() -> pd.DataFrame:
    """3,000 days of synthetic log returns whose distribution is known exactly (see SYN_*)."""
    g = np.random.default_rng(20240601)
    n = 3000
    z = g.standard_normal((n, 3)) @ np.linalg.cholesky(SYN_CORR).T
    w = g.chisquare(SYN_NU, size=(n, 1))
    t = z * np.sqrt((SYN_NU - 2.0) / w)
    idx = pd.date_range("2015-01-01", periods=n, freq="D", name="date")
    return pd.DataFrame(t * SYN_SIGMA, index=idx, columns=["a", "b", "c"])
