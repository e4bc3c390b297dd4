"""Benchmarks of riskopt: ``python -m bench [name ...]`` (``make bench``).

Every module of this package registers its benchmark functions with :func:`benchmark`; the driver
(:mod:`bench.__main__`) imports the modules, runs the functions and merges their figures into
``reports/bench.json`` (existing keys are kept). A function returns a :class:`BenchResult`:
flat ``figures`` (the keys written to the JSON), ``comparisons`` (value, baseline, ratio keys
printed side by side) and free-form ``details`` stored under the benchmark's name.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Default output, relative to the repository root.
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "reports" / "bench.json"


@dataclass(frozen=True)
class Comparison:
    """A figure, its baseline and their ratio (keys into ``BenchResult.figures``)."""

    value: str
    baseline: str
    ratio: str


@dataclass
class BenchResult:
    """What one benchmark function measured."""

    figures: dict[str, float | int | str]
    comparisons: list[Comparison] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, Callable[[], BenchResult]] = {}


def benchmark(name: str) -> Callable[[Callable[[], BenchResult]], Callable[[], BenchResult]]:
    """Register ``func`` under ``name`` (unique across the package)."""

    def wrap(func: Callable[[], BenchResult]) -> Callable[[], BenchResult]:
        if name in REGISTRY and REGISTRY[name] is not func:
            raise ValueError(f"benchmark {name!r} is registered twice")
        REGISTRY[name] = func
        return func

    return wrap


def discover() -> list[str]:
    """Import every module of the package so its benchmarks register; return their names."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return sorted(REGISTRY)


def merge_json(path: Path, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge ``updates`` into the JSON object at ``path`` (created if missing), atomically."""
    path = Path(path)
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text())
        except json.JSONDecodeError:
            current = {}
    current.update(updates)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(current, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
    os.replace(tmp, path)
    return current


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded next to the figures."""
    import numba
    import numpy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def best_time(func: Callable[[], Any], repeat: int) -> float:
    """Shortest wall time of ``repeat`` calls, seconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


__all__ = [
    "DEFAULT_OUT",
    "REGISTRY",
    "BenchResult",
    "Comparison",
    "benchmark",
    "best_time",
    "discover",
    "environment",
    "merge_json",
]
