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
    with tempfile.TemporaryDirectory() as tmp:
        # the default config without the frontier search: the spine's end-to-end time
        no_search = Path(tmp) / "aave-v3-ethereum.toml"
        text = default.read_text(encoding="utf-8")
        marker = "[search]\nenabled = true"
        if marker not in text:
            raise RuntimeError(f"{default} no longer enables the search as this bench expects")
        no_search.write_text(text.replace(marker, "[search]\nenabled = false"), encoding="utf-8")
        t_spine, _ = time_run(no_search)
    t_search, code = time_run(default)
    figures: dict[str, float | int | str] = {
        "default_run_seconds": round(t_spine, 3),
        "default_run_with_search_seconds": round(t_search, 3),
        "quick_run_seconds": round(t_quick, 3),
        "default_over_quick": round(t_spine / t_quick, 3),
        "search_over_spine": round(t_search / t_spine, 3),
    }
    details = {"default_exit_code": code, "target_default_run_seconds": 120,
               "target_default_run_with_search_seconds": 300}
    return BenchResult(
        figures,
        [Comparison("default_run_seconds", "quick_run_seconds", "default_over_quick"),
         Comparison("default_run_with_search_seconds", "default_run_seconds", "search_over_spine")],
        details,
    )
