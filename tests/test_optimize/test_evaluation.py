"""`simulation_metrics`: the market simulation's figures from its per-path outcomes (synthetic, known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.optimize import cvar, simulation_metrics


def test_simulation_metrics_known_case():
    bd = np.array([0.0, 0.0, 0.0, 10.0])        # with cascades
    off = np.array([0.0, 0.0, 0.0, 6.0])        # without: 40 % of the bad debt is the cascade's
    by_asset = np.array([[0, 0], [0, 0], [0, 0], [7.5, 2.5]], dtype=float)
    liq = np.array([1.0, 2.0, 3.0, 4.0])
    impact = np.array([0.0, 0.01, 0.02, 0.05])
    m = simulation_metrics(bd, off, by_asset, liq, impact, alpha=0.75, assets=("eth", "usdc"),
                           bad_debt_current=np.array([0.0, 0.0, 0.0, 20.0]))
    assert m["cascade_share_of_bad_debt"] == pytest.approx(0.4)
    assert m["sim_mean_bad_debt_usd"] == pytest.approx(2.5)
    assert m["sim_mean_bad_debt_nocascade_usd"] == pytest.approx(1.5)
    assert m["sim_prob_bad_debt"] == pytest.approx(0.25)
    assert m["sim_bad_debt_cvar_usd"] == pytest.approx(cvar(bd, 0.75))
    assert m["sim_bad_debt_cvar_current_usd"] == pytest.approx(cvar(np.array([0.0, 0.0, 0.0, 20.0]), 0.75))
    assert m["mean_liquidated_usd"] == pytest.approx(2.5)
    assert m["sim_tail_contribution_by_asset"]["eth"] == pytest.approx(0.75)


def test_no_bad_debt_means_no_cascade_share_and_no_current_entry():
    z = np.zeros(5)
    m = simulation_metrics(z, z, np.zeros((5, 1)), z, z, alpha=0.9, assets=("eth",))
    assert m["cascade_share_of_bad_debt"] == 0.0 and m["sim_bad_debt_cvar_usd"] == 0.0
    assert "sim_bad_debt_cvar_current_usd" not in m
