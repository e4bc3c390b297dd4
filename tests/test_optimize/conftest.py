"""Fixtures of the optimize tests."""

from __future__ import annotations

import numpy as np
import pytest
from optimize_problems import Problem, make_problem


@pytest.fixture(scope="module")
def small_problem() -> Problem:
    return make_problem(4_000, 6, np.random.default_rng(7))
