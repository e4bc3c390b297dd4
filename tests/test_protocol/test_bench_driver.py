"""The benchmark driver merges figures into bench.json; the static-kernel benchmark reports what it measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

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


def test_static_kernel_benchmark_reports_what_it_measured(tmp_path, monkeypatch):
    """The registered benchmark, run by the driver on a small book: each rate is its scenarios x
    accounts over the time it reports, the speedup is their ratio, the float32 kernel it times
    agrees with the numpy baseline and does liquidate. (The kernel's float32 typing is checked in
    test_kernels; its numba re-compile is left out here.)"""
    import bench.kernels as bk

    assert "static_kernel" in bench.discover()
    for name, small in (("N_SCENARIOS", 3_000), ("N_ACCOUNTS", 400), ("N_ASSETS", 6), ("BASELINE_SCENARIOS", 1_000)):
        monkeypatch.setattr(bk, name, small)
    monkeypatch.setattr(bk, "_float64_temporaries", lambda: [])
    out = tmp_path / "bench.json"
    assert main(["static_kernel", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    d = data["static_kernel"]
    assert (d["n_scenarios"], d["n_accounts"], d["n_assets"], d["baseline_scenarios"]) == (3_000, 400, 6, 1_000)
    rate, base = data["static_kernel_account_scenarios_per_s"], data["static_kernel_numpy_baseline_per_s"]
    assert rate == pytest.approx(3_000 * 400 / d["kernel_float32_seconds"], rel=1e-12)
    assert base == pytest.approx(1_000 * 400 / d["baseline_seconds"], rel=1e-12)
    assert data["static_kernel_speedup"] == pytest.approx(rate / base, rel=1e-12)
    assert d["baseline_seconds"] == min(d["baseline_seconds_by_blas_threads"].values())
    assert d["mean_accounts_liquidated"] > 0 and d["share_scenarios_with_bad_debt"] > 0
    assert d["float32_vs_numpy_sum_rel_error"] < 1e-4
    assert d["float32_vs_numpy_max_rel_error"] < 1e-3
    assert d["kernel_dtypes"]["relatives"] == "float32" and d["kernel_dtypes"]["signature"]
