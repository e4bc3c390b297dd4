"""Monte Carlo and historical scenarios of joint price paths."""

from __future__ import annotations

from optimizer.scenarios._episodes import Exclusion, episode_coverage
from optimizer.scenarios._factory import make_scenario_generator
from optimizer.scenarios._generator import ScenarioGenerator
from optimizer.scenarios._historical import historical_windows, realised_path
from optimizer.scenarios._library import (
    STRESS_LABELS,
    AssetMove,
    Beta,
    MoveRule,
    StressKind,
    StressLibrary,
    StressRule,
    StressScenario,
    build_stress_library,
)
from optimizer.scenarios._peg_jumps import (
    PegJump,
    PegJumpDraws,
    add_peg_jumps,
    draw_jumps,
    jump_factor,
    mask_peg_days,
    replicate_tail,
)
from optimizer.scenarios._set import ScenarioSet
from optimizer.scenarios._stress import comonotone_stress
from optimizer.scenarios._subsample import tail_stratified_rows
from optimizer.scenarios._transforms import recolour, remap_tail, sample_correlation, scale_volatility

__all__ = [
    "STRESS_LABELS",
    "AssetMove",
    "Beta",
    "Exclusion",
    "MoveRule",
    "ScenarioGenerator",
    "ScenarioSet",
    "StressKind",
    "StressLibrary",
    "StressRule",
    "StressScenario",
    "PegJump",
    "PegJumpDraws",
    "add_peg_jumps",
    "build_stress_library",
    "tail_stratified_rows",
    "comonotone_stress",
    "episode_coverage",
    "historical_windows",
    "jump_factor",
    "make_scenario_generator",
    "mask_peg_days",
    "draw_jumps",
    "replicate_tail",
    "realised_path",
    "recolour",
    "remap_tail",
    "sample_correlation",
    "scale_volatility",
]
