"""Governance guardrails: how far and how often parameters may move, and the schedule that gets there.

Defaults follow Aave's risk stewards: LTV, LT and bonus move by at most 50 bps per update, at least
3 days apart, on a 0.25 % grid (values here are fractions: 0.005 and 0.0025). A change larger than
one step becomes a dated multi-step schedule, or is labelled as needing a full governance vote.

Every step of a schedule satisfies the protocol's invariants (0 <= LTV <= LT, LT x (1 + bonus) <= 1),
which constrains the *order* of moves: when thresholds fall, LTV must not end above LT; when the
bonus rises, LT must already be low enough. Each step therefore moves every parameter toward its
target by at most ``max_step`` and then holds back any move that would break an invariant.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from optimizer.protocol.params import RiskParams

PARAM_KEYS = ("ltv", "liquidation_threshold", "liquidation_bonus")
_EPS = 1e-12


@dataclass(frozen=True)
class Guardrails:
    """Limits on one update of a reserve's parameters.

    Attributes
    ----------
    max_step : float
        Largest change of LTV, LT or bonus in one update (0.005 = 50 bps).
    min_days_between : int
        Days between two updates of the same parameter.
    grid : float
        Parameters are multiples of this (0.0025 = 0.25 %).
    large_change : {"schedule", "vote"}
        What a change larger than one step becomes: a dated schedule of steward updates, or a
        single change labelled as needing a full governance vote.
    max_schedule_steps : int
        A schedule longer than this is labelled as needing a vote anyway.
    keep_zero_ltv : bool
        Reserves whose current LTV is 0 on purpose (collateral only inside e-modes) keep it.
    allow_delist : bool
        Whether a recommendation may set LT to 0 (delisting as collateral).
    """

    max_step: float = 0.005
    min_days_between: int = 3
    grid: float = 0.0025
    large_change: Literal["schedule", "vote"] = "schedule"
    max_schedule_steps: int = 40
    keep_zero_ltv: bool = True
    allow_delist: bool = False

    def __post_init__(self) -> None:
        if not (0 < self.grid <= self.max_step):
            raise ValueError(f"`grid` must be in (0, max_step], got grid={self.grid} max_step={self.max_step}")
        if abs(self.max_step / self.grid - round(self.max_step / self.grid)) > 1e-9:
            raise ValueError(f"`max_step`={self.max_step} must be a multiple of `grid`={self.grid}")
        if self.min_days_between < 0:
            raise ValueError(f"`min_days_between`={self.min_days_between} must be >= 0")

    def to_dict(self) -> dict[str, float | int | str | bool]:
        return {
            "max_step": self.max_step,
            "min_days_between": self.min_days_between,
            "grid": self.grid,
            "large_change": self.large_change,
            "max_schedule_steps": self.max_schedule_steps,
            "keep_zero_ltv": self.keep_zero_ltv,
            "allow_delist": self.allow_delist,
        }


@dataclass(frozen=True)
class Step:
    """One dated update: the full parameter set in force after it."""

    date: str
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float

    def params(self) -> dict[str, float]:
        return {"ltv": self.ltv, "liquidation_threshold": self.liquidation_threshold,
                "liquidation_bonus": self.liquidation_bonus}

    def to_dict(self) -> dict[str, float | str]:
        return {"date": self.date, **self.params()}


@dataclass(frozen=True)
class Plan:
    """How one asset gets from current to recommended parameters."""

    current: dict[str, float]
    recommended: dict[str, float]
    steps: tuple[Step, ...]
    needs_vote: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return any(abs(self.current[k] - self.recommended[k]) > _EPS for k in PARAM_KEYS)


def to_grid(x: float, grid: float, mode: Literal["down", "up", "nearest"] = "nearest") -> float:
    """Round ``x`` to a multiple of ``grid`` (result rounded to 10 decimals to kill float dust)."""
    q = x / grid
    n = {"down": math.floor(q + 1e-9), "up": math.ceil(q - 1e-9), "nearest": round(q)}[mode]
    return round(n * grid, 10)


def invariant_breaches(p: dict[str, float], *, tol: float = 1e-9) -> list[str]:
    """Rules every published parameter set obeys (those of :meth:`RiskParams.violations`)."""
    one = RiskParams(assets=("asset",), ltv=np.array([p["ltv"]]),
                     liquidation_threshold=np.array([p["liquidation_threshold"]]),
                     liquidation_bonus=np.array([p["liquidation_bonus"]]))
    return [v.removeprefix("asset: ") for v in one.violations(tol=tol)]


def snap_target(current: dict[str, float], target: dict[str, float], g: Guardrails) -> tuple[dict[str, float], list[str]]:
    """Put a recommendation on the protocol grid, conservatively, keeping the invariants.

    LT and LTV round down (never looser than the optimizer's answer), the bonus to the nearest
    grid point; then LT is lowered until LT x (1 + bonus) <= 1. Zero LTVs are kept when configured;
    LT is never set to 0 unless delisting is allowed. A parameter the target leaves unchanged keeps
    its live value even when that is off the grid (CRV's 8.3 % bonus is not moved just to round it).
    """
    notes: list[str] = []

    def kept_or_snapped(k: str, mode: Literal["down", "up", "nearest"]) -> float:
        if abs(target[k] - current[k]) <= _EPS:
            return float(current[k])
        return to_grid(target[k], g.grid, mode)

    b = kept_or_snapped("liquidation_bonus", "nearest")
    lt = kept_or_snapped("liquidation_threshold", "down")
    while lt * (1.0 + b) > 1.0 + 1e-12:
        lt = round(to_grid(lt, g.grid, "up") - g.grid, 10)
    if lt <= 0 and not g.allow_delist:
        lt = g.grid
        notes.append("LT floored at one grid step: delisting is not allowed by the guardrails")
    ltv = kept_or_snapped("ltv", "down") if target["ltv"] <= lt else to_grid(lt, g.grid, "down")
    ltv = min(ltv, lt)
    if g.keep_zero_ltv and current["ltv"] == 0.0:
        if ltv != 0.0:
            notes.append("LTV kept at 0 (collateral only inside e-modes); set keep_zero_ltv = false to change it")
        ltv = 0.0
    return {"ltv": ltv, "liquidation_threshold": lt, "liquidation_bonus": b}, notes


def hold_within_band(
    current: dict[str, float], target: dict[str, float], band: dict[str, float] | None,
) -> tuple[dict[str, float], list[str]]:
    """``target`` with every change smaller than its Monte Carlo band put back to ``current``.

    A move the estimator's own noise could reverse at the next run is not proposed. ``band`` maps
    ``ltv`` / ``liquidation_threshold`` to a 95 % half-width (fractions; a missing key holds
    nothing). LTV and LT are held together when holding one alone would break ``LTV <= LT``, and
    LT is not held when the target's bonus would then break ``LT x (1 + bonus) <= 1``.

    Returns
    -------
    target : dict
        The parameters to plan towards.
    held : list of str
        The keys put back to their current value.
    """
    out = {k: float(target[k]) for k in PARAM_KEYS}
    if not band:
        return out, []
    held = [k for k in ("ltv", "liquidation_threshold")
            if k in band and 0.0 < abs(out[k] - float(current[k])) < float(band[k])]
    for k in held:
        out[k] = float(current[k])
    lt = out["liquidation_threshold"]
    if out["ltv"] > lt + _EPS or lt * (1.0 + out["liquidation_bonus"]) > 1.0 + _EPS:
        out = {k: float(target[k]) for k in PARAM_KEYS}  # holding breaks an invariant: plan the target
        held = []
    return out, held


def plan_changes(
    current: dict[str, float],
    target: dict[str, float],
    g: Guardrails,
    *,
    start: dt.date | str,
) -> Plan:
    """Turn current -> target into guardrail-respecting dated steps.

    ``target`` is first snapped to the grid (:func:`snap_target`). With ``large_change="vote"``
    (or a schedule longer than ``max_schedule_steps``) the change is one step labelled
    ``needs_vote``; otherwise each step moves each parameter by at most ``max_step``, steps are
    ``min_days_between`` days apart, and every intermediate set satisfies the invariants.
    """
    start_date = dt.date.fromisoformat(start) if isinstance(start, str) else start
    snapped, notes = snap_target(current, target, g)
    cur = {k: float(current[k]) for k in PARAM_KEYS}
    if all(abs(cur[k] - snapped[k]) <= _EPS for k in PARAM_KEYS):
        return Plan(current=cur, recommended=snapped, steps=(), needs_vote=False, notes=tuple(notes))
    n_needed = max(math.ceil((abs(snapped[k] - cur[k]) - 1e-9) / g.max_step) for k in PARAM_KEYS)
    if g.large_change == "vote" and n_needed > 1:
        step = Step(start_date.isoformat(), **snapped)
        return Plan(cur, snapped, (step,), needs_vote=True,
                    notes=tuple(notes + ["change exceeds one steward step: needs a governance vote"]))
    steps: list[Step] = []
    state = dict(cur)
    date = start_date
    for _ in range(4 * n_needed + 8):
        if all(abs(state[k] - snapped[k]) <= _EPS for k in PARAM_KEYS):
            break
        state = _one_step(state, snapped, g)
        steps.append(Step(date.isoformat(), **state))
        date = date + dt.timedelta(days=g.min_days_between)
    else:  # pragma: no cover - guarded by the invariant-preserving step rule
        raise RuntimeError(f"schedule from {cur} to {snapped} did not converge")
    needs_vote = len(steps) > g.max_schedule_steps
    if needs_vote:
        notes.append(f"schedule of {len(steps)} steps exceeds max_schedule_steps={g.max_schedule_steps}: needs a vote")
    return Plan(cur, snapped, tuple(steps), needs_vote=needs_vote, notes=tuple(notes))


def _one_step(state: dict[str, float], target: dict[str, float], g: Guardrails) -> dict[str, float]:
    """Move every parameter at most one step toward target without breaking an invariant."""

    def toward(k: str) -> float:
        d = target[k] - state[k]
        if abs(d) <= g.max_step + 1e-12:
            return target[k]
        # a full step, rounded back toward the current value so it lands on the grid
        if d > 0:
            return to_grid(state[k] + g.max_step, g.grid, "down")
        return to_grid(state[k] - g.max_step, g.grid, "up")

    new = {k: toward(k) for k in PARAM_KEYS}
    # LTV may not exceed LT: hold LTV at LT (a move of at most one step, since LTV <= LT held before).
    if new["ltv"] > new["liquidation_threshold"]:
        new["ltv"] = new["liquidation_threshold"]
    # LT x (1 + bonus) <= 1: hold back whichever rise breaks it (an LT rise waits for the bonus to
    # come down; a bonus rise waits for LT to come down); the state before was valid, so holding
    # both always works and the falling one makes progress.
    def ok(p: dict[str, float]) -> bool:
        return p["liquidation_threshold"] * (1 + p["liquidation_bonus"]) <= 1 + 1e-12

    if not ok(new):
        for hold in ("liquidation_threshold", "liquidation_bonus"):
            trial = dict(new)
            trial[hold] = state[hold]
            if hold == "liquidation_threshold":
                trial["ltv"] = min(trial["ltv"], trial["liquidation_threshold"])
            if ok(trial) and trial != state:
                new = trial
                break
        else:
            new = dict(state)
    return new


def check_plan(plan: Plan, g: Guardrails) -> list[str]:
    """Every breach of the guardrails in a plan (empty when it is valid); used by tests and reports."""
    out: list[str] = []
    prev = plan.current
    prev_date: dt.date | None = None
    for s in plan.steps:
        p = s.params()
        for k in PARAM_KEYS:
            if not plan.needs_vote and abs(p[k] - prev[k]) > g.max_step + 1e-9:
                out.append(f"{s.date}: {k} moves {p[k] - prev[k]:+.4f} > {g.max_step}")
            if abs(p[k] / g.grid - round(p[k] / g.grid)) > 1e-6 and p[k] != prev[k]:
                out.append(f"{s.date}: {k}={p[k]} is off the {g.grid} grid")
        out += [f"{s.date}: {b}" for b in invariant_breaches(p)]
        d = dt.date.fromisoformat(s.date)
        if prev_date is not None and (d - prev_date).days < g.min_days_between:
            out.append(f"{s.date}: only {(d - prev_date).days} days after the previous update")
        prev, prev_date = p, d
    if plan.steps and any(abs(plan.steps[-1].params()[k] - plan.recommended[k]) > 1e-9 for k in PARAM_KEYS):
        out.append("schedule does not end at the recommended parameters")
    return out


# ---------------------------------------------------------------------------------------------
# Supply and borrow caps
# ---------------------------------------------------------------------------------------------
#: The two caps of a reserve, in whole tokens.
CAP_KEYS = ("supply_cap", "borrow_cap")


@dataclass(frozen=True)
class CapGuardrails:
    """Limits on one update of a reserve's caps (Aave's risk stewards: at most +/-100 % of the current
    cap per update, 3 days apart, never to 0, which Aave reads as "no cap").

    Attributes
    ----------
    max_relative_change : float
        Largest ``|new - current| / current`` of one update (1.0 = 100 %: a cap at most doubles; a
        fall is bounded only by the cap staying above 0).
    min_days_between : int
        Days between two updates of a reserve's caps.
    max_schedule_steps : int
        A schedule longer than this is labelled as needing a vote.
    """

    max_relative_change: float = 1.0
    min_days_between: int = 3
    max_schedule_steps: int = 40

    def __post_init__(self) -> None:
        if not self.max_relative_change > 0:
            raise ValueError(f"`max_relative_change` must be > 0, got {self.max_relative_change}")
        if self.min_days_between < 0:
            raise ValueError(f"`min_days_between`={self.min_days_between} must be >= 0")

    def to_dict(self) -> dict[str, float | int]:
        return {"max_relative_change": self.max_relative_change, "min_days_between": self.min_days_between,
                "max_schedule_steps": self.max_schedule_steps}


@dataclass(frozen=True)
class CapStep:
    """One dated update: both caps (tokens) in force after it."""

    date: str
    supply_cap: float
    borrow_cap: float

    def caps(self) -> dict[str, float]:
        return {"supply_cap": self.supply_cap, "borrow_cap": self.borrow_cap}

    def to_dict(self) -> dict[str, float | str]:
        return {"date": self.date, **self.caps()}


@dataclass(frozen=True)
class CapPlan:
    """How one reserve's caps get from current to recommended (tokens; a current cap of None is "no cap")."""

    current: dict[str, float | None]
    recommended: dict[str, float]
    steps: tuple[CapStep, ...]
    needs_vote: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return bool(self.steps)


def plan_cap_changes(
    current: dict[str, float | None],
    target: dict[str, float],
    g: CapGuardrails,
    *,
    start: dt.date | str,
) -> CapPlan:
    """Turn current -> target caps into dated steward updates.

    Each update moves each cap at most ``max_relative_change`` of its value before the update
    (rounded to whole tokens toward that value), both caps on the same dates, ``min_days_between``
    apart, until both are at the target. A cap that is 0 today ("no cap", ``None``) cannot be moved
    relative to 0: it is set in one update labelled as needing a vote. A target cap must be > 0.
    """
    start_date = dt.date.fromisoformat(start) if isinstance(start, str) else start
    tgt = {k: float(target[k]) for k in CAP_KEYS}
    bad = [k for k in CAP_KEYS if not (math.isfinite(tgt[k]) and tgt[k] >= 1)]
    if bad:
        raise ValueError(f"a recommended cap must be at least 1 token (0 is Aave's 'no cap'), got {bad[0]}={tgt[bad[0]]}")
    cur = {k: (None if current.get(k) is None else float(current[k])) for k in CAP_KEYS}
    notes: list[str] = []
    if all(cur[k] is not None and abs(cur[k] - tgt[k]) < 0.5 for k in CAP_KEYS):
        return CapPlan(cur, tgt, (), needs_vote=False)
    unset = [k for k in CAP_KEYS if cur[k] is None]
    if unset:
        notes += [f"{k.replace('_', ' ')} is 0 today (no cap): a steward cannot move it by a relative step; "
                  "setting it needs a governance vote" for k in unset]
        return CapPlan(cur, tgt, (CapStep(start_date.isoformat(), **tgt),), needs_vote=True, notes=tuple(notes))
    state = {k: float(cur[k]) for k in CAP_KEYS}  # type: ignore[arg-type]
    steps: list[CapStep] = []
    date = start_date
    while any(abs(state[k] - tgt[k]) >= 0.5 for k in CAP_KEYS):
        state = {k: _cap_step(state[k], tgt[k], g.max_relative_change) for k in CAP_KEYS}
        steps.append(CapStep(date.isoformat(), **state))
        date = date + dt.timedelta(days=g.min_days_between)
        if len(steps) > 10_000:  # pragma: no cover - each step moves a cap by at least one token
            raise RuntimeError(f"cap schedule from {cur} to {tgt} did not converge")
    needs_vote = len(steps) > g.max_schedule_steps
    if needs_vote:
        notes.append(f"cap schedule of {len(steps)} steps exceeds max_schedule_steps={g.max_schedule_steps}: "
                     "needs a vote")
    return CapPlan(cur, tgt, tuple(steps), needs_vote=needs_vote, notes=tuple(notes))


def _cap_step(value: float, target: float, max_rel: float) -> float:
    """One update of one cap toward ``target``: at most ``max_rel x value`` away, whole tokens, never 0."""
    limit = max_rel * value
    if abs(target - value) <= limit + 1e-9:
        return target
    if target > value:
        return float(max(math.floor(value + limit), value + 1))
    return float(max(math.ceil(value - limit), 1.0))


def check_cap_plan(plan: CapPlan, g: CapGuardrails) -> list[str]:
    """Every breach of the cap guardrails in a plan (empty when it is valid)."""
    out: list[str] = []
    prev = plan.current
    prev_date: dt.date | None = None
    for s in plan.steps:
        c = s.caps()
        for k in CAP_KEYS:
            if not c[k] > 0:
                out.append(f"{s.date}: {k} = {c[k]} (a cap is never set to 0)")
            if abs(c[k] - round(c[k])) > 1e-9:
                out.append(f"{s.date}: {k} = {c[k]} is not whole tokens")
            p = prev[k]
            if not plan.needs_vote:
                if p is None:
                    out.append(f"{s.date}: {k} moves from 0 (no cap) without a vote")
                elif abs(c[k] - p) > g.max_relative_change * p + 1e-9:
                    out.append(f"{s.date}: {k} moves {c[k] / p - 1:+.1%} > {g.max_relative_change:.0%} of {p:g}")
        d = dt.date.fromisoformat(s.date)
        if prev_date is not None and (d - prev_date).days < g.min_days_between:
            out.append(f"{s.date}: only {(d - prev_date).days} days after the previous cap update")
        prev, prev_date = c, d
    if plan.steps and any(abs(plan.steps[-1].caps()[k] - plan.recommended[k]) > 1e-9 for k in CAP_KEYS):
        out.append("cap schedule does not end at the recommended caps")
    return out
