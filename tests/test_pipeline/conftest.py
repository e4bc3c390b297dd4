"""The pipeline tests' shared stage: the quick config's inputs, loaded once per test run."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from optimizer.pipeline.config import RunConfig, load_config
from optimizer.pipeline.run import load_inputs, solve_market

if TYPE_CHECKING:
    from optimizer.optimize import ThresholdProblem, ThresholdSolution
    from optimizer.pipeline.run import RunInputs

QUICK = Path(__file__).resolve().parents[2] / "configs" / "quick.toml"


@dataclass(frozen=True)
class QuickStage:
    """``configs/quick.toml`` at 10,000 scenarios, up to the solved thresholds.

    Shared by every module of a test run: read it, never change it (derive a config with
    ``cfg.with_overrides`` and re-run the stage you test on it instead).
    """

    cfg: RunConfig
    inputs: RunInputs
    market: ThresholdProblem
    solution: ThresholdSolution


@pytest.fixture(scope="session")
def quick_stage(data_dir: Path) -> QuickStage:
    """Prices, fitted models, scenarios and book of the quick config, then its market and LP."""
    cfg = load_config(QUICK).with_overrides("scenarios", n_scenarios=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_inputs(cfg, data_dir=data_dir)
        fixed = solve_market(cfg, inputs)  # as a run solves it: at the sale its recommendation causes
        market, solution = fixed.problem, fixed.solution
    return QuickStage(cfg=cfg, inputs=inputs, market=market, solution=solution)
