"""`riskopt reproduce DIR`: a fresh run reproduces byte for byte; a changed input is named."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.pipeline.config import dumps_toml

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
PRICE_FILE = "binance_prices_daily.csv"


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, data_dir):
    """A quick run (backtests in the report, cheap settings) on a private copy of the price file."""
    tmp = tmp_path_factory.mktemp("repro")
    ddir = tmp / "data"
    ddir.mkdir()
    shutil.copyfile(data_dir / PRICE_FILE, ddir / PRICE_FILE)
    cfg = _merge(tomllib.loads(QUICK.read_text(encoding="utf-8")), {
        "data": {"volumes": False},
        "scenarios": {"n_scenarios": 2000},
        "book": {"n_accounts": 400},
        "backtest": {"estimators": ["ewma", "garch"], "test_days": 250, "refit_every": 50, "es_sims": 200},
    })
    cfg_path = tmp / "quick-small.toml"
    cfg_path.write_text(dumps_toml(cfg), encoding="utf-8")
    out = tmp / "run"
    rc = main(["run", str(cfg_path), "--data-dir", str(ddir), "--out", str(out)])
    assert rc in (0, 3)
    return out, ddir


def test_fresh_run_reproduces(recorded, capsys, monkeypatch):
    out, _ = recorded
    from optimizer.estimators import BacktestCache
    from optimizer.pipeline import history

    monkeypatch.setattr(history, "BACKTEST_CACHE", BacktestCache())  # recompute the backtests too
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "byte-identical" in stdout
    params = json.loads((out / "params.json").read_text())
    assert "var_backtests" in params  # the backtests are part of what is reproduced


def test_changed_output_prints_the_difference(recorded, capsys, monkeypatch):
    out, _ = recorded
    from optimizer.pipeline import run as run_mod

    real = run_mod.insurance_fund

    def bumped(*args, **kwargs):  # the binding term, hence the fund, 1234.5 USD higher
        std = real(*args, **kwargs)
        terms = tuple(dataclasses.replace(t, usd=t.usd + 1234.5) if t.name == std.binding else t
                      for t in std.terms)
        return dataclasses.replace(std, terms=terms)

    monkeypatch.setattr(run_mod, "insurance_fund", bumped)
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 1
    stdout = capsys.readouterr().out
    assert "NOT reproduced" in stdout
    assert "insurance_fund_usd" in stdout and "params.json (recorded)" in stdout


def test_changed_config_is_named(recorded, tmp_path, capsys):
    out, _ = recorded
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    cfg = copy / "config.toml"
    cfg.write_text(cfg.read_text().replace("n_scenarios = 2000", "n_scenarios = 2500"))
    assert main(["reproduce", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "config.toml changed" in err and "Traceback" not in err


def test_changed_data_file_is_named(recorded, capsys):
    """Runs last in this module: it edits the private copy of the price file."""
    out, ddir = recorded
    path = ddir / PRICE_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    j = header.index("eth")
    i = next(k for k, ln in enumerate(lines) if ln.startswith("2024-06-03,"))
    cells = lines[i].rstrip("\n").split(",")
    cells[j] = f"{float(cells[j]) * 1.01:.2f}"
    lines[i] = ",".join(cells) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("riskopt: error: ") and "Traceback" not in err
    assert f"data file {path}" in err and "changed since the run" in err


def test_not_a_run_directory(tmp_path, capsys):
    assert main(["reproduce", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "run.json" in err and "Traceback" not in err
