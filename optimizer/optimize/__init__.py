"""Optimize layer: risk measures, the convex threshold LP, reference formulas, fund sizing."""

from __future__ import annotations

from optimizer.optimize._labels import Binding, RunStatus
from optimizer.optimize.convex import ThresholdOptimizer, single_asset_threshold, threshold_losses
from optimizer.optimize.fund import FundSizing, cover2, size_fund
from optimizer.optimize.measures import cvar, prob_exceeds, var, var_cvar
from optimizer.optimize.references import analytic_threshold, smart_ltv

__all__ = [
    "Binding",
    "FundSizing",
    "RunStatus",
    "ThresholdOptimizer",
    "analytic_threshold",
    "cover2",
    "cvar",
    "prob_exceeds",
    "single_asset_threshold",
    "size_fund",
    "smart_ltv",
    "threshold_losses",
    "var",
    "var_cvar",
]
