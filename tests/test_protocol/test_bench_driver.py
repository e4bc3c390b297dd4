"""The benchmark driver merges figures into bench.json without dropping existing keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bench  # noqa: E402
from bench.__main__ import main  # noqa: E402


def test_driver_runs_registered_benchmark_and_keeps_keys(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"someone_elses_figure": 1.5}))

    def fake() -> bench.BenchResult:
        return bench.BenchResult(
            figures={"fast_per_s": 200.0, "slow_per_s": 10.0, "speedup": 20.0, "note": "x"},
            comparisons=[bench.Comparison("fast_per_s", "slow_per_s", "speedup")],
            details={"n": 3},
        )

    monkeypatch.setattr(bench, "discover", lambda: ["fake"])
    monkeypatch.setitem(bench.REGISTRY, "fake", fake)
    monkeypatch.setattr("bench.__main__.discover", lambda: ["fake"])
    assert main(["fake", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["someone_elses_figure"] == 1.5
    assert data["fast_per_s"] == 200.0 and data["speedup"] == 20.0
    assert data["fake"]["n"] == 3 and "elapsed_s" in data["fake"]
    assert "numpy" in data["environment"]
    printed = capsys.readouterr().out
    assert "fast_per_s = 200   baseline slow_per_s = 10   ratio speedup = 20" in printed
    assert main(["nope", "--out", str(out)]) == 1


def test_static_kernel_benchmark_is_registered():
    assert "static_kernel" in bench.discover()
