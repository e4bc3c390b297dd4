"""The comonotone correlation stress keeps each asset's distribution and worsens the joint tail."""

from __future__ import annotations

import numpy as np

from optimizer.optimize.measures import cvar
from optimizer.scenarios import comonotone_stress


def test_comonotone_stress_keeps_marginals_and_raises_the_tail_of_a_sum() -> None:
    rng = np.random.default_rng(3)
    k = rng.uniform(0.5, 1.5, size=(400, 3))
    same, none = comonotone_stress(k, 0.0)
    assert same is k and none is None
    stacked, w = comonotone_stress(k, 0.5)
    assert stacked.shape == (800, 3) and w.shape == (800,)
    assert np.isclose(w.sum(), 1.0) and np.allclose(w[:400], 0.5 / 400)
    for i in range(3):  # each column's weighted distribution is the original one
        np.testing.assert_allclose(np.sort(stacked[400:, i]), np.sort(k[:, i]))
    loss = lambda x: np.maximum(0.9 - x, 0.0).sum(axis=1)  # noqa: E731
    assert cvar(loss(stacked), 0.95, w) > cvar(loss(k), 0.95)
    # the comonotone part sorts every column together
    assert np.all(np.diff(stacked[400:], axis=0) >= 0)
