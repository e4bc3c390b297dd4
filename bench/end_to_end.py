"""End-to-end time of `riskopt run` on the default config, as a user runs it (fresh process).

The baseline measured in the same run is the quick config, so the ratio shows how the default's
extra assets and scenarios scale; the search variant adds the optuna frontier on the simulation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import BenchResult, Comparison, benchmark

ROOT = Path(__file__).resolve().parents[1]


def _data_env() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("RISKOPT_DATA_DIR"):
        shared = ROOT.parent / "shared" / "datasets"
        if shared.exists():
            env["RISKOPT_DATA_DIR"] = str(shared)
    return env


def time_run(config: Path, *extra: str) -> tuple[float, int]:
    """Seconds for one `riskopt run CONFIG` in a fresh interpreter, and its exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "optimizer", "run", str(config), "--out", str(Path(tmp) / "out"), *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=_data_env(), capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t0
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return dt, proc.returncode


@benchmark("end_to_end")
def bench_end_to_end() -> BenchResult:
    default = ROOT / "configs" / "aave-v3-ethereum.toml"
    quick = ROOT / "configs" / "quick.toml"
    t_quick, _ = time_run(quick)
    t_default, code = time_run(default)
    figures: dict[str, float | int | str] = {
        "default_run_seconds": round(t_default, 3),
        "quick_run_seconds": round(t_quick, 3),
        "default_over_quick": round(t_default / t_quick, 3),
    }
    details = {"default_exit_code": code, "target_default_run_seconds": 120}
    return BenchResult(figures, [Comparison("default_run_seconds", "quick_run_seconds", "default_over_quick")],
                       details)
