"""Seconds per stage of `riskopt run` on the default config, cold and warm (issue 13).

Each measurement is a fresh interpreter (``python -m bench.stages CONFIG OUT``) that imports the
pipeline, runs it with a :class:`~optimizer.pipeline.progress.Progress` that records each stage's
time, and writes the report as ``riskopt run`` does. *Cold*: an empty riskopt cache
(``RISKOPT_CACHE_DIR``) and an empty numba cache (``NUMBA_CACHE_DIR``), so the backtests are
computed and the kernels compiled; *warm*: the same run again on the caches the cold run filled.
``stages_cold`` and ``stages_warm`` map each stage to seconds, with ``imports`` (before the run),
``report`` (writing it), ``other`` (the run's time outside any named stage) and ``total``.
The 1-minute load average is recorded beside each: the machine may be shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import BenchResult, Comparison, benchmark

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "aave-v3-ethereum.toml"
#: The chained prototype's compute of a recalibration, warm (../shared/FIELD-NOTES.md).
PROTOTYPE_COMPUTE_SECONDS = 2.4
#: Stage-name prefixes counted as compute (fit, scenarios, LP, simulation, fund/evaluation).
COMPUTE_PREFIXES = ("fitting", "simulating", "solving the CVaR program", "evaluating bad debt")


def _load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def _child(config: str, out_json: str) -> None:
    """Run once in this process and write the timings to ``out_json``."""
    t0 = time.perf_counter()
    import warnings

    from optimizer.pipeline.config import load_config
    from optimizer.pipeline.output import write_run
    from optimizer.pipeline.progress import Progress
    from optimizer.pipeline.run import run

    imports = time.perf_counter() - t0
    cfg = load_config(config)
    progress = Progress(enabled=False)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run(cfg, progress=progress, command="bench")
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_run(outcome, Path(tmp) / "out")
    t3 = time.perf_counter()
    stages = {"imports": round(imports, 3), **progress.timings}
    stages["other"] = round((t2 - t1) - sum(progress.timings.values()), 3)
    stages["report"] = round(t3 - t2, 3)
    stages["total"] = round(t3 - t0, 3)
    Path(out_json).write_text(json.dumps(stages), encoding="utf-8")


def time_stages(config: Path, env: dict[str, str]) -> dict[str, float]:
    """Stage timings of one fresh-process run of ``config`` with ``env``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stages.json"
        cmd = [sys.executable, "-m", "bench.stages", str(config), str(out)]
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def compute_seconds(stages: dict[str, float]) -> float:
    """Sum of the compute stages (:data:`COMPUTE_PREFIXES`)."""
    return round(sum(v for k, v in stages.items() if k.startswith(COMPUTE_PREFIXES)), 3)


@benchmark("stages")
def bench_stages() -> BenchResult:
    from bench.end_to_end import _data_env

    with tempfile.TemporaryDirectory() as caches:
        env = {**_data_env(), "RISKOPT_CACHE_DIR": str(Path(caches) / "riskopt"),
               "NUMBA_CACHE_DIR": str(Path(caches) / "numba"), "PYTHONPATH": str(ROOT)}
        env.pop("RISKOPT_CACHE", None)
        load_cold = _load()
        cold = time_stages(DEFAULT_CONFIG, env)
        load_warm = _load()
        warm = time_stages(DEFAULT_CONFIG, env)
    figures: dict[str, object] = {
        # top-level keys of reports/bench.json, as issue 13 names them
        "stages_cold": cold,
        "stages_warm": warm,
        "default_cold_seconds": cold["total"],
        "default_warm_seconds": warm["total"],
        "warm_over_cold": round(warm["total"] / cold["total"], 3),
        "compute_warm_seconds": compute_seconds(warm),
        "prototype_compute_seconds": PROTOTYPE_COMPUTE_SECONDS,
        "compute_over_prototype": round(compute_seconds(warm) / PROTOTYPE_COMPUTE_SECONDS, 3),
    }
    details = {"load_cold": load_cold, "load_warm": load_warm,
               "config": str(DEFAULT_CONFIG.relative_to(ROOT)),
               "targets": {"warm_seconds": 10, "cold_seconds": 30, "compute_over_prototype": 2}}
    return BenchResult(
        figures,  # type: ignore[arg-type]
        [Comparison("default_warm_seconds", "default_cold_seconds", "warm_over_cold"),
         Comparison("compute_warm_seconds", "prototype_compute_seconds", "compute_over_prototype")],
        details,
    )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
