"""`riskopt reproduce DIR`: re-run a recorded run and confirm a byte-identical params.json."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from optimizer.exceptions import ReproducibilityError
from optimizer.pipeline.config import parse_config


@dataclass(frozen=True)
class ReproduceResult:
    """Outcome of a reproduction: ``identical`` and, when not, a unified diff of params.json."""

    run_dir: str
    identical: bool
    diff: str


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReproducibilityError(f"{path} not found: is {path.parent} a riskopt run directory?") from None
    except json.JSONDecodeError as err:
        raise ReproducibilityError(f"{path}: invalid JSON ({err})") from None


def check_inputs(run_dir: Path, data_dir: str | Path | None) -> tuple[object, Path]:
    """Load the recorded config and verify config and data files are unchanged.

    Raises :class:`ReproducibilityError` naming the changed file.
    """
    from optimizer.data import resolve_data_dir

    record = _read_json(run_dir / "run.json")
    cfg_path = run_dir / "config.toml"
    try:
        cfg = parse_config(tomllib.loads(cfg_path.read_text(encoding="utf-8")), source=str(cfg_path))
    except FileNotFoundError:
        raise ReproducibilityError(f"{cfg_path} not found") from None
    if cfg.sha256 != record.get("config_sha256"):
        raise ReproducibilityError(
            f"{cfg_path} changed since the run: config sha256 {cfg.sha256[:12]} != recorded "
            f"{str(record.get('config_sha256'))[:12]}"
        )
    ddir = resolve_data_dir(data_dir or record.get("data_dir"))
    # a CSV book is named relative to the config file the run was started with, the rest to the data directory
    cfg_dir = Path(record["config_path"]).parent if record.get("config_path") else None
    cfg_relative = set(record.get("config_relative_files") or [])
    for name, digest in sorted(record.get("data_files", {}).items()):
        f = Path(os.path.normpath((cfg_dir if name in cfg_relative and cfg_dir else ddir) / name))
        if not f.is_file():
            raise ReproducibilityError(f"data file {f} used by the run is missing")
        now = hashlib.sha256(f.read_bytes()).hexdigest()
        if now != digest:
            raise ReproducibilityError(
                f"data file {f} changed since the run (sha256 {now[:12]} != recorded {digest[:12]})"
            )
    if record.get("config_path"):
        cfg = dataclasses.replace(cfg, path=record["config_path"])  # relative paths resolve as in the run
    return cfg, ddir


def reproduce(run_dir: str | Path, *, data_dir: str | Path | None = None) -> ReproduceResult:
    """Re-run the run recorded in ``run_dir`` and compare its params.json byte for byte."""
    from optimizer.pipeline.run import run
    from optimizer.report import params_json

    rd = Path(run_dir)
    cfg, ddir = check_inputs(rd, data_dir)
    try:
        recorded = (rd / "params.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReproducibilityError(f"{rd / 'params.json'} not found") from None
    outcome = run(cfg, data_dir=ddir)
    fresh = params_json(outcome.report)
    if fresh == recorded:
        return ReproduceResult(str(rd), True, "")
    if json.loads(fresh).get("meta", {}).get("data_sha256") != json.loads(recorded).get("meta", {}).get("data_sha256"):
        raise ReproducibilityError("the price data used differs from the recorded run (data_sha256 changed)")
    diff = "".join(difflib.unified_diff(
        recorded.splitlines(keepends=True), fresh.splitlines(keepends=True),
        fromfile=f"{rd}/params.json (recorded)", tofile="params.json (re-run)", n=1,
    ))
    return ReproduceResult(str(rd), False, diff)
