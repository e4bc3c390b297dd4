"""Where a run's files go: the default report directory and the one call that writes it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from optimizer.pipeline.config import RunConfig


def default_out_dir(cfg: RunConfig, *, root: str | Path = "reports", suffix: str = "") -> Path:
    """``reports/<config-name>[-suffix]-<UTC timestamp>/``."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{cfg.name}-{suffix}" if suffix else cfg.name
    return Path(root) / f"{name}-{stamp}"


def run_record(cfg: RunConfig, outcome_meta: dict[str, Any], *, data_dir: str | None, kind: str) -> str:
    """``run.json``: what `riskopt reproduce` needs to re-run (config file is written beside it).

    ``data_files`` names every input file with its sha256: relative to ``data_dir``, except those in
    ``config_relative_files`` (a CSV book), relative to the directory of ``config_path``, the config
    file the run was started with.
    """
    from optimizer.pipeline.files import config_relative_files

    rec = {
        "kind": kind,
        "config_name": cfg.name,
        "config_sha256": cfg.sha256,
        "data_sha256": outcome_meta.get("data_sha256"),
        "data_files": outcome_meta.get("data_files", {}),
        "data_dir": data_dir,
        "config_path": cfg.path,
        "config_relative_files": config_relative_files(cfg),
        "seed": cfg.run.seed,
        "as_of": cfg.run.as_of,
    }
    return json.dumps(rec, sort_keys=True, indent=2) + "\n"


def write_run(outcome: Any, out_dir: str | Path, *, data_dir: str | None, overwrite: bool = False) -> Path:
    """Render the run's report and write the directory atomically (nothing half-written is left)."""
    from optimizer.report import write_report

    cfg = outcome.inputs.config
    extra: dict[str, str | bytes] = {
        "config.toml": cfg.to_toml(),
        "run.json": run_record(cfg, outcome.report.meta, data_dir=data_dir, kind="run"),
    }
    search = getattr(outcome, "search", None)
    if search is not None and search.study_file is not None:
        extra["study.db"] = search.study_file  # the optuna study, resumable with [search] storage
    return write_report(outcome.report, Path(out_dir), overwrite=overwrite, extra_files=extra)
