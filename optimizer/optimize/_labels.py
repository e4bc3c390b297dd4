"""What a run says about its answer: the binding constraint of each threshold and the run status.

Both are written to ``params.json`` (``assets.<asset>.binding``, ``status``) and read by the report
and the CLI, so they are defined once, here, as ``str`` enums that serialise as their values.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Binding", "RunStatus"]


class Binding(StrEnum):
    """What stops an asset's recommended liquidation threshold from moving further."""

    #: At ``lt_min``: the risk budget would allow less, the floor keeps it there.
    LOWER_BOUND = "lower bound"
    #: At ``lt_min`` although the asset's own risk guard asks for less (the run is infeasible).
    LOWER_BOUND_GUARD_NOT_MET = "lower bound (asset guard not met)"
    #: At the per-asset cap: the asset's own CVaR of bad debt per USD of collateral.
    ASSET_GUARD = "asset risk guard"
    #: At ``lt_max``.
    UPPER_BOUND = "upper bound"
    #: Between the bounds: the aggregate CVaR budget of the whole book sets it.
    RISK_BUDGET = "aggregate risk budget"
    #: A reserve whose LTV a policy holds (``keep_zero_ltv``): its LT buys no borrowing power, so it is
    #: kept at its current value, which the risk target would allow to be higher
    #: (``[optimizer] held_ltv_lt = "up_to_current"``).
    HELD_AT_CURRENT = "current LT (LTV held, risk target allows more)"
    #: Between the bounds: a stress-library row of the LP (its scenario's bad debt <= the stress budget).
    STRESS_BUDGET = "stress budget"
    #: Between the bounds, with both the aggregate CVaR budget and a stress row binding.
    RISK_AND_STRESS_BUDGET = "aggregate risk budget and stress budget"
    #: Lowered by an anti-procyclicality tool (``[anti_procyclicality] method``).
    ANTI_PROCYCLICALITY_FLOOR = "anti-procyclicality (floor)"
    ANTI_PROCYCLICALITY_STRESS_WEIGHT = "anti-procyclicality (stress_weight)"
    ANTI_PROCYCLICALITY_BUFFER = "anti-procyclicality (buffer)"

    @classmethod
    def anti_procyclicality(cls, method: str) -> Binding:
        """The label of a threshold that the anti-procyclicality ``method`` binds."""
        return cls(f"anti-procyclicality ({method})")


class RunStatus(StrEnum):
    """Whether a run met its risk target (``riskopt run`` exits 0 or 2)."""

    #: The aggregate budget and every asset's risk guard are met.
    OK = "ok"
    #: The budget cannot be met even at ``lt_min``, or some asset's guard is not met there.
    INFEASIBLE = "infeasible"
