"""Shared fixtures: the real data directory and a seeded generator."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# The on-disk cache (optimizer._cache) of a test session is its own: never the user's, shared by
# the session's tests and the commands they start, removed at the end.
_SESSION_CACHE = tempfile.mkdtemp(prefix="riskopt-test-cache-")
os.environ["RISKOPT_CACHE_DIR"] = _SESSION_CACHE
os.environ.pop("RISKOPT_CACHE", None)
atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)

# CI runs the property tests on a fixed example sequence (same inputs every run); locally they
# keep exploring new inputs.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("RISKOPT_DATA_DIR")
    return Path(env) if env else (ROOT.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "binance_prices_daily.csv").exists():
        pytest.fail(f"real data not found in {d}; set RISKOPT_DATA_DIR to the datasets folder")
    return d


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


@pytest.fixture(scope="session")
def quotes_path(data_dir: Path) -> Path:
    """The real 1inch quotes of 2023-11-20, beside the datasets (../reference, read-only)."""
    p = data_dir.parent / "reference" / "oneinch_quotes_20231120.csv"
    if not p.exists():
        pytest.fail(f"1inch quotes not found at {p}")
    return p


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests/_servers.py); a test takes its own database."""
    from _servers import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres, request) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    import re

    return postgres.create_database(re.sub(r"\W", "_", request.node.name.lower())[:50])
