"""Guardrails: every step of every schedule respects the steward limits and the invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.protocol.guardrails import (
    Guardrails,
    check_plan,
    invariant_breaches,
    plan_changes,
    snap_target,
    to_grid,
)

G = Guardrails()


def P(ltv, lt, b):
    return {"ltv": ltv, "liquidation_threshold": lt, "liquidation_bonus": b}


def test_to_grid():
    assert to_grid(0.8237, 0.0025, "down") == 0.8225
    assert to_grid(0.8237, 0.0025, "up") == 0.825
    assert to_grid(0.8237, 0.0025) == 0.8225


def test_small_change_is_one_step():
    plan = plan_changes(P(0.805, 0.83, 0.05), P(0.80, 0.8275, 0.05), G, start="2025-06-13")
    assert len(plan.steps) == 1 and not plan.needs_vote
    assert check_plan(plan, G) == []


def test_large_cut_becomes_dated_schedule():
    # WETH 83 % -> 78 %: 500 bps = 10 steward steps, 3 days apart
    plan = plan_changes(P(0.805, 0.83, 0.05), P(0.755, 0.78, 0.05), G, start="2025-06-13")
    assert len(plan.steps) == 10
    dates = [dt.date.fromisoformat(s.date) for s in plan.steps]
    assert all((b - a).days == 3 for a, b in zip(dates, dates[1:]))
    assert check_plan(plan, G) == []
    assert plan.steps[-1].params() == plan.recommended


def test_vote_mode_labels_large_change():
    g = Guardrails(large_change="vote")
    plan = plan_changes(P(0.805, 0.83, 0.05), P(0.70, 0.75, 0.05), g, start="2025-06-13")
    assert plan.needs_vote and len(plan.steps) == 1


def test_zero_ltv_kept_and_no_delisting():
    snapped, notes = snap_target(P(0.0, 0.41, 0.083), P(0.30, 0.40, 0.083), G)
    assert snapped["ltv"] == 0.0 and any("e-mode" in n for n in notes)
    snapped, _ = snap_target(P(0.5, 0.6, 0.08), P(0.0, 0.0, 0.08), G)
    assert snapped["liquidation_threshold"] > 0


def test_bonus_rise_waits_for_lt():
    # LT 0.95 with bonus 5 % -> 0.90 with bonus 10 %: LT x (1 + b) <= 1 must hold at every step
    plan = plan_changes(P(0.93, 0.95, 0.05), P(0.85, 0.90, 0.10), G, start="2025-01-01")
    assert check_plan(plan, G) == []
    assert all(invariant_breaches(s.params()) == [] for s in plan.steps)


grid_val = st.integers(min_value=4, max_value=380).map(lambda n: n * 0.0025)


@settings(max_examples=300, deadline=None)
@given(cur_lt=grid_val, tgt_lt=grid_val, gap1=st.integers(0, 40), gap2=st.integers(0, 40),
       b1=st.integers(0, 60), b2=st.integers(0, 60))
def test_every_schedule_respects_guardrails(cur_lt, tgt_lt, gap1, gap2, b1, b2):
    cur_b, tgt_b = b1 * 0.0025, b2 * 0.0025
    cur_lt = min(cur_lt, to_grid(1 / (1 + cur_b), 0.0025, "down"))
    cur = P(max(cur_lt - gap1 * 0.0025, 0.0), cur_lt, cur_b)
    tgt = P(max(tgt_lt - gap2 * 0.0025, 0.0), tgt_lt, tgt_b)
    plan = plan_changes(cur, tgt, G, start="2025-01-01")
    assert check_plan(plan, G) == []
    assert invariant_breaches(plan.recommended) == []


def test_bad_guardrails():
    with pytest.raises(ValueError, match="multiple of"):
        Guardrails(max_step=0.004, grid=0.0025)


def test_changes_within_the_monte_carlo_band_are_held():
    from optimizer.protocol.guardrails import hold_within_band

    cur = {"ltv": 0.80, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05}
    band = {"ltv": 0.0030, "liquidation_threshold": 0.0030}
    # -20 bps on both: inside a 30 bps band, nothing to propose
    held, keys = hold_within_band(cur, {"ltv": 0.798, "liquidation_threshold": 0.828, "liquidation_bonus": 0.05}, band)
    assert held == cur and sorted(keys) == ["liquidation_threshold", "ltv"]
    # -50 bps is beyond the band: proposed as it is
    tgt = {"ltv": 0.795, "liquidation_threshold": 0.825, "liquidation_bonus": 0.05}
    assert hold_within_band(cur, tgt, band) == (tgt, [])
    # no band (a run without one): nothing held
    assert hold_within_band(cur, tgt, None) == (tgt, [])
    # holding LT alone would leave LTV above it: both move
    cur2 = {"ltv": 0.70, "liquidation_threshold": 0.75, "liquidation_bonus": 0.05}
    tgt2 = {"ltv": 0.76, "liquidation_threshold": 0.752, "liquidation_bonus": 0.05}
    assert hold_within_band(cur2, tgt2, {"ltv": 0.001, "liquidation_threshold": 0.003}) == (tgt2, [])
