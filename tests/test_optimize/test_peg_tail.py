"""Tail figures of the depeg jumps: known answers on synthetic scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.optimize import peg_tail_figures
from optimizer.optimize._peg_tail import quantile_band
from optimizer.scenarios import PegJumpDraws


def draws(rows, levels):
    rows = np.asarray(rows)
    return PegJumpDraws(asset="usdc", reference="usd", probability=rows.size / 10_000, rows=rows,
                        levels=np.asarray(levels, float), events=np.zeros(rows.size, int),
                        days=np.ones(rows.size, int))


def test_known_answer_one_in_a_thousand_move_is_the_jump():
    """Synthetic: 10,000 scenarios, usdc flat at 0.999 but 30 of them at 0.87 x 0.999."""
    n = 10_000
    rel = np.column_stack([np.linspace(0.7, 1.3, n), np.full(n, 0.999)])
    rows = np.arange(0, n, n // 30)[:30]
    rel[rows, 1] *= 0.87
    bad = np.zeros((n, 2))
    bad[rows, 1] = 5.0  # usdc's bad debt: only in its depeg scenarios
    bad[:200, 0] = 10.0  # eth's worst 2 %
    (f,) = peg_tail_figures(rel, ("eth", "usdc"), [draws(rows, np.full(30, 0.87))],
                            bad_debt_by_asset=bad, bad_debt=bad.sum(axis=1), alpha=0.99, q=0.001)
    assert f.move == pytest.approx(0.87 * 0.999 - 1)
    assert f.move_without_jumps == pytest.approx(-0.001)
    assert f.tail_share == 1.0 and f.n_jumps == 30 and f.n_below == 30 and f.n_above == 0
    assert f.level_worst == f.level_median == 0.87
    assert f.cvar_share == 1.0  # all of usdc's tail bad debt is in depeg scenarios
    assert f.move_band[0] <= f.move <= f.move_band[1]


def test_no_bad_debt_gives_no_cvar_share_and_band_contains_the_quantile(rng):
    x = rng.normal(size=100_000)
    q, lo, hi = quantile_band(x, 0.001)
    assert lo < q < hi and lo == pytest.approx(-3.09, abs=0.15) and hi - lo < 0.4
    rel = np.ones((1000, 1))
    (f,) = peg_tail_figures(rel, ("usdc",), [draws([3], [0.9])], bad_debt_by_asset=np.zeros((1000, 1)),
                            bad_debt=np.zeros(1000))
    assert f.cvar_share is None and f.cvar_share_se is None
