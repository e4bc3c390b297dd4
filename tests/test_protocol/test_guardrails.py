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


# ---------------------------------------------------------------------------------------------
# Caps: +/-100 % relative per update, 3 days apart, never to 0
# ---------------------------------------------------------------------------------------------
def test_cap_rises_double_at_most_per_update_and_falls_in_one_step():
    from optimizer.protocol.guardrails import CapGuardrails, check_cap_plan, plan_cap_changes

    g = CapGuardrails()
    up = plan_cap_changes({"supply_cap": 1000.0, "borrow_cap": 800.0}, {"supply_cap": 7000.0, "borrow_cap": 900.0},
                          g, start="2025-07-01")
    assert [s.supply_cap for s in up.steps] == [2000.0, 4000.0, 7000.0]  # 1000 -> 2000 -> 4000 -> 7000
    assert [s.borrow_cap for s in up.steps] == [900.0, 900.0, 900.0]
    assert [s.date for s in up.steps] == ["2025-07-01", "2025-07-04", "2025-07-07"]
    assert check_cap_plan(up, g) == [] and not up.needs_vote
    down = plan_cap_changes({"supply_cap": 1000.0, "borrow_cap": 800.0}, {"supply_cap": 3.0, "borrow_cap": 1.0},
                            g, start="2025-07-01")
    assert len(down.steps) == 1 and down.steps[0].caps() == {"supply_cap": 3.0, "borrow_cap": 1.0}
    assert check_cap_plan(down, g) == []
    half = CapGuardrails(max_relative_change=0.5)  # a tighter steward: -50 % at most
    d2 = plan_cap_changes({"supply_cap": 1000.0, "borrow_cap": 800.0}, {"supply_cap": 200.0, "borrow_cap": 800.0},
                          half, start="2025-07-01")
    assert [s.supply_cap for s in d2.steps] == [500.0, 250.0, 200.0] and check_cap_plan(d2, half) == []
    same = plan_cap_changes({"supply_cap": 1000.0, "borrow_cap": 800.0}, {"supply_cap": 1000.0, "borrow_cap": 800.0},
                            g, start="2025-07-01")
    assert not same.changed


def test_cap_plan_checker_finds_every_breach():
    from optimizer.protocol.guardrails import CapGuardrails, CapPlan, CapStep, check_cap_plan, plan_cap_changes

    g = CapGuardrails()
    cur = {"supply_cap": 1000.0, "borrow_cap": 800.0}
    bad = CapPlan(cur, {"supply_cap": 5000.0, "borrow_cap": 0.0},
                  (CapStep("2025-07-01", 2500.0, 800.0), CapStep("2025-07-02", 5000.0, 0.0)), needs_vote=False)
    msgs = check_cap_plan(bad, g)
    assert any("supply_cap moves +150.0%" in m for m in msgs)
    assert any("borrow_cap = 0.0 (a cap is never set to 0)" in m for m in msgs)
    assert any("only 1 days after" in m for m in msgs)
    short = CapPlan(cur, {"supply_cap": 1500.0, "borrow_cap": 800.0}, (CapStep("2025-07-01", 1200.0, 800.0),), False)
    assert check_cap_plan(short, g) == ["cap schedule does not end at the recommended caps"]
    with pytest.raises(ValueError, match=r"at least 1 token"):
        plan_cap_changes(cur, {"supply_cap": 0.0, "borrow_cap": 10.0}, g, start="2025-07-01")
    # no cap today (0): a steward cannot move it relative to 0; one update, needs a vote
    unset = plan_cap_changes({"supply_cap": 1000.0, "borrow_cap": None}, {"supply_cap": 1000.0, "borrow_cap": 50.0},
                             g, start="2025-07-01")
    assert unset.needs_vote and len(unset.steps) == 1 and "no cap" in unset.notes[0]
    assert check_cap_plan(unset, g) == []
