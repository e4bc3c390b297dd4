"""The container scenario generators hand to the protocol and optimizer layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer.typing import FloatArray


@dataclass(frozen=True, eq=False)
class ScenarioSet:
    """Joint price scenarios over a horizon.

    Attributes
    ----------
    assets : tuple of str, length n_assets
    relatives : ndarray of shape (n_scenarios, horizon, n_assets)
        Cumulative price relatives ``P[t0 + h] / P[t0]`` for ``h = 1 .. horizon`` (days); always > 0.
    method : str
        ``"fhs"``, ``"parametric"``, ``"bootstrap"`` or ``"historical"`` (a replayed path).
    as_of : str
        ISO date of ``t0`` (the last price used).
    weights : ndarray of shape (n_scenarios,) or None
        Probability weights (None means equal weights).
    info : dict
        Generator settings worth reporting (dof, multipliers, ...).
    """

    assets: tuple[str, ...]
    relatives: FloatArray
    method: str
    as_of: str
    weights: FloatArray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rel = np.asarray(self.relatives)
        if rel.ndim != 3 or rel.shape[2] != len(self.assets):
            raise ValueError(
                f"`relatives` must have shape (n_scenarios, horizon, {len(self.assets)}), got {rel.shape}"
            )
        object.__setattr__(self, "assets", tuple(self.assets))

    @property
    def n_scenarios(self) -> int:
        return int(self.relatives.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.relatives.shape[1])

    @property
    def n_assets(self) -> int:
        return int(self.relatives.shape[2])

    @property
    def terminal(self) -> FloatArray:
        """Price relatives at the end of the horizon, shape (n_scenarios, n_assets)."""
        return self.relatives[:, -1, :]

