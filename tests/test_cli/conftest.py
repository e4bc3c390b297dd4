"""Fixtures of the CLI tests: small configs and edited copies of the real price file in tmp_path."""

from __future__ import annotations

import csv
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optimizer.pipeline.config import dumps_toml

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
PRICE_FILE = "binance_prices_daily.csv"
CAPS_FILE = "aave_v3_ethereum_params.csv"
#: Columns the quick config reads (wbtc is priced by btc).
COLUMNS = ("date", "btc", "eth", "usdc", "crv")


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


#: Keeps a run to a few seconds: few scenarios and accounts, no in-report backtests.
FAST = {
    "data": {"volumes": False},
    "scenarios": {"n_scenarios": 1000},
    "book": {"n_accounts": 300},
    "backtest": {"in_report": False},
}


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """``make_config(overrides, name=...)``: configs/quick.toml with ``FAST`` and ``overrides`` merged."""

    def _make(overrides: dict[str, Any] | None = None, *, name: str = "cfg", raw: str | None = None) -> Path:
        path = tmp_path / f"{name}.toml"
        if raw is not None:
            path.write_text(raw, encoding="utf-8")
            return path
        d = merge(tomllib.loads(QUICK.read_text(encoding="utf-8")), FAST)
        d = merge(d, overrides or {})
        path.write_text(dumps_toml(d), encoding="utf-8")
        return path

    return _make


@pytest.fixture(scope="session")
def price_rows(data_dir: Path) -> list[list[str]]:
    """The real Binance file, reduced to the quick config's columns (rows as lists of text)."""
    with open(data_dir / PRICE_FILE, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    idx = [rows[0].index(c) for c in COLUMNS]
    return [[r[i] for i in idx] for r in rows]


def _with_reference(tmp_path: Path, data_dir: Path) -> None:
    """The live caps quick.toml names ([caps] current_file: ../reference/ beside the data directory)."""
    ref = tmp_path / "reference"
    if not ref.exists():
        ref.mkdir()
        shutil.copyfile(data_dir / ".." / "reference" / CAPS_FILE, ref / CAPS_FILE)


@pytest.fixture
def edited_data(tmp_path: Path, price_rows: list[list[str]], data_dir: Path) -> Callable[..., Path]:
    """``edited_data(edit)``: a data directory whose price file is the real one after ``edit(rows)``.

    ``edit`` receives a copy of the rows (header first) and returns the rows to write, or None
    to write ``text`` verbatim when given.
    """

    def _make(edit: Callable[[list[list[str]]], list[list[str]] | None] | None = None, *,
              text: str | None = None, name: str = "data") -> Path:
        d = tmp_path / name
        d.mkdir()
        _with_reference(tmp_path, data_dir)
        if text is not None:
            (d / PRICE_FILE).write_text(text, encoding="utf-8")
            return d
        rows = [r[:] for r in price_rows]
        if edit is not None:
            rows = edit(rows)
        with open(d / PRICE_FILE, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        return d

    return _make

