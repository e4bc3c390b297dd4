"""The on-disk cache: content keys, atomic entries, `riskopt cache`, and runs that never change.

The last test runs one small config three times (cache off, cold, warm from disk in a fresh
memo) and compares params.json bytes: the cache may only save time.
"""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest

from optimizer import _cache
from optimizer._cache import DiskCache
from optimizer.cli import main
from optimizer.pipeline.config import dumps_toml

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("RISKOPT_CACHE_DIR", str(d))
    monkeypatch.delenv("RISKOPT_CACHE", raising=False)
    return d


def test_round_trip_and_keys(cache_dir):
    c = DiskCache("things", packages=("numpy",), sources=("optimizer.estimators",))
    assert c.get(("a", 1)) is None
    c.put(("a", 1), {"x": [1.5, 2.0]})
    assert c.get(("a", 1)) == {"x": [1.5, 2.0]}
    assert c.get(("a", 2)) is None  # other content, other key
    assert DiskCache("others").get(("a", 1)) is None  # other namespace
    # the libraries and the source enter the key: another version or another code is a miss
    assert c.key(("a", 1)) != DiskCache("things", packages=("numpy", "scipy"),
                                        sources=("optimizer.estimators",)).key(("a", 1))
    assert c.key(("a", 1)) != DiskCache("things", packages=("numpy",),
                                        sources=("optimizer.protocol",)).key(("a", 1))
    entries = list(cache_dir.rglob("*.pkl"))
    assert len(entries) == 1 and entries[0].parent.parent.name == "things"
    assert not list(cache_dir.rglob(".tmp-*"))  # written through a temporary file, then replaced


def test_unreadable_entry_is_a_miss_and_removed(cache_dir):
    c = DiskCache("things")
    c.put("k", list(range(1000)))
    (entry,) = cache_dir.rglob("*.pkl")
    entry.write_bytes(entry.read_bytes()[:20])  # truncated, as by a full disk
    assert c.get("k") is None and not entry.exists()
    c.put("k", 3)
    assert c.get("k") == 3


def test_off_reads_and_writes_nothing(cache_dir, monkeypatch):
    c = DiskCache("things")
    c.put("k", 1)
    monkeypatch.setenv("RISKOPT_CACHE", "off")
    assert c.get("k") is None
    c.put("j", 2)
    monkeypatch.delenv("RISKOPT_CACHE")
    assert c.get("k") == 1 and c.get("j") is None


def test_concurrent_writers_and_readers_see_whole_entries(cache_dir):
    c = DiskCache("things")
    value = {"big": list(range(200_000))}
    seen, errors = [], []

    def work() -> None:
        try:
            for _ in range(5):
                c.put("same", value)
                got = c.get("same")
                seen.append(got is None or got == value)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and seen and all(seen)
    assert c.get("same") == value
    assert len(list(cache_dir.rglob("*.pkl"))) == 1 and not list(cache_dir.rglob(".tmp-*"))


def test_info_and_clear_commands(cache_dir, capsys):
    DiskCache("a").put(1, "x")
    DiskCache("a").put(2, "y")
    DiskCache("b").put(1, "z")
    assert _cache.info().entries == {"a": 2, "b": 1}
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and "a: 2 entries" in out and "total: 3 entries" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 3 entries" in capsys.readouterr().out
    assert _cache.info().entries == {} and DiskCache("a").get(1) is None
    assert main(["cache"]) == 2  # no action: usage


def test_default_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("RISKOPT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache.cache_dir() == tmp_path / "riskopt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _cache.cache_dir() == Path.home() / ".cache" / "riskopt"


def test_run_is_byte_identical_with_and_without_the_cache(tmp_path, monkeypatch, data_dir, capsys):
    """params.json of a run that computes its backtests (and stores them) and of a run that reads
    them back from disk through a fresh memo, as a new process would, are the same bytes."""
    from optimizer.estimators import BacktestCache
    from optimizer.pipeline import history

    raw = tomllib.loads(QUICK.read_text(encoding="utf-8"))
    # small and without the parts the cache does not touch (depeg bands, the simulation)
    raw["scenarios"].update(n_scenarios=2000, depeg_jumps=False, band_batches=0)
    raw["book"]["n_accounts"] = 400
    raw["simulation"] = {"enabled": False}
    raw["backtest"] = {"estimators": ["ewma", "garch"], "test_days": 250, "refit_every": 50, "es_sims": 200}
    cfg = tmp_path / "small.toml"
    cfg.write_text(dumps_toml(raw), encoding="utf-8")
    monkeypatch.setenv("RISKOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RISKOPT_CACHE", raising=False)

    def run(name: str) -> tuple[bytes, str]:
        # a fresh memo per run, as in a new process: only the disk can carry a result over
        monkeypatch.setattr(history, "BACKTEST_CACHE", BacktestCache(disk=history.BACKTEST_CACHE.disk))
        out = tmp_path / name
        assert main(["run", str(cfg), "--data-dir", str(data_dir), "--out", str(out), "--quiet"]) in (0, 3)
        return (out / "params.json").read_bytes(), (out / "report.md").read_text(encoding="utf-8")

    assert _cache.info().entries == {}
    computed, computed_md = run("computed")
    assert _cache.info().entries == {"var_backtests": 1}
    read, read_md = run("read")
    capsys.readouterr()
    assert "read from the cache" not in computed_md
    assert "read from the cache" in read_md  # the second run did take the backtests from disk
    assert b'"var_backtests"' in computed and computed == read
