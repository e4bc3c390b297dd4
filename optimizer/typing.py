"""Type aliases shared across layers."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
Seed: TypeAlias = "int | np.random.Generator | None"


def check_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Normalise ``seed`` to a :class:`numpy.random.Generator` (the one place this happens)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise TypeError(f"`seed` must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")
