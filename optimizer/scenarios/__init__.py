"""Monte Carlo and historical scenarios of joint price paths."""

from __future__ import annotations

from optimizer.scenarios._set import ScenarioSet

__all__ = ["ScenarioSet"]
