"""Monte Carlo and historical scenarios of joint price paths."""

from __future__ import annotations

from optimizer.scenarios._factory import make_scenario_generator
from optimizer.scenarios._generator import ScenarioGenerator
from optimizer.scenarios._historical import historical_windows, realised_path
from optimizer.scenarios._set import ScenarioSet
from optimizer.scenarios._stress import comonotone_stress

__all__ = [
    "ScenarioGenerator",
    "ScenarioSet",
    "comonotone_stress",
    "historical_windows",
    "make_scenario_generator",
    "realised_path",
]
