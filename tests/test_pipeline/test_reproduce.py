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
CAPS_FILE = "aave_v3_ethereum_params.csv"


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
    (tmp / "reference").mkdir()  # the live caps quick.toml names ([caps] current_file, beside the data)
    shutil.copyfile(data_dir / ".." / "reference" / CAPS_FILE, tmp / "reference" / CAPS_FILE)
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


QUOTES = "oneinch_quotes_20231120.csv"


@pytest.fixture(scope="module")
def recorded_files(tmp_path_factory, data_dir):
    """A quick run on a CSV book that also reads a quotes file, all private copies: the price file in
    data/, the quotes in reference/ beside it (named ../reference/... as the default config does), the
    book beside the config (named relative to it)."""
    tmp = tmp_path_factory.mktemp("repro-files")
    ddir, ref, cdir = tmp / "data", tmp / "reference", tmp / "cfg"
    for d in (ddir, ref, cdir):
        d.mkdir()
    shutil.copyfile(data_dir / PRICE_FILE, ddir / PRICE_FILE)
    shutil.copyfile(data_dir.parent / "reference" / QUOTES, ref / QUOTES)
    shutil.copyfile(ROOT / "datasets" / "example_book.csv", cdir / "book.csv")
    cfg = _merge(tomllib.loads((ROOT / "configs" / "quick-csv-book.toml").read_text(encoding="utf-8")), {
        "data": {"volumes": False},
        "scenarios": {"n_scenarios": 2000},
        "book": {"path": "book.csv"},
        "liquidity": {"quotes_file": f"../reference/{QUOTES}"},
        "backtest": {"in_report": False},
    })
    cfg_path = cdir / "quick-files.toml"
    cfg_path.write_text(dumps_toml(cfg), encoding="utf-8")
    out = tmp / "run"
    assert main(["run", str(cfg_path), "--data-dir", str(ddir), "--out", str(out)]) in (0, 2)
    return out, ddir, ref, cdir


def test_every_input_file_is_recorded_and_checked(recorded_files, tmp_path, capsys):
    """run.json and params.json list the price file, the quotes file and the CSV book with their sha256;
    the run reproduces; a changed byte of a copy of the quotes file (or of the book) stops `riskopt
    reproduce` with one line naming it, exit code 1."""
    import hashlib

    out, ddir, ref, cdir = recorded_files
    rec = json.loads((out / "run.json").read_text())
    want = {PRICE_FILE: ddir / PRICE_FILE, f"../reference/{QUOTES}": ref / QUOTES, "book.csv": cdir / "book.csv"}
    assert rec["data_files"] == {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in want.items()}
    assert rec["config_relative_files"] == ["book.csv"]
    assert json.loads((out / "params.json").read_text())["meta"]["data_files"] == rec["data_files"]
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 0  # the book is found beside the config, as in the run
    assert "byte-identical" in capsys.readouterr().out

    copy = tmp_path / "data"
    shutil.copytree(ddir, copy)
    shutil.copytree(ref, tmp_path / "reference")
    quotes = tmp_path / "reference" / QUOTES
    raw = bytearray(quotes.read_bytes())
    raw[raw.rindex(b"1")] = ord("2")
    quotes.write_bytes(bytes(raw))
    assert main(["reproduce", str(out), "--data-dir", str(copy)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"riskopt: error: data file {quotes} changed since the run") and err.count("\n") == 1

    book = cdir / "book.csv"
    kept = book.read_bytes()
    try:
        book.write_bytes(kept.replace(b"239000.00", b"239000.01", 1))
        assert main(["reproduce", str(out)]) == 1
        assert f"data file {book} changed since the run" in capsys.readouterr().err
    finally:
        book.write_bytes(kept)


def test_config_file_hashes_name_the_reference_book(data_dir, tmp_path):
    """The default config's reference book, quotes file and live caps, named as the config names them."""
    import hashlib

    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.files import config_file_hashes

    cfg = load_config(ROOT / "configs" / "aave-v3-ethereum.toml")
    got = config_file_hashes(cfg, data_dir)
    names = [cfg.book.reference, cfg.liquidity.quotes_file, cfg.caps.current_file]
    assert got == {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() for n in names}


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
