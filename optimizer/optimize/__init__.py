"""Optimize layer: the threshold problem, risk measures and metrics, the convex LP, references, fund sizing."""

from __future__ import annotations

from optimizer.optimize._band import LOSS_BAND_FIELDS, Band, batch_half_width, fund_band, loss_band, threshold_band
from optimizer.optimize._evaluation import (
    BookEvaluation,
    RiskMetrics,
    RunMetrics,
    evaluate_book,
    simulation_metrics,
)
from optimizer.optimize._grid import GridRounding, bps, round_to_grid, solution_on_grid
from optimizer.optimize._labels import Binding, RunStatus
from optimizer.optimize._peg_tail import PegTailBands, PegTailFigures, peg_tail_figures
from optimizer.optimize._problem import (
    StressRows,
    ThresholdBounds,
    ThresholdProblem,
    ThresholdSolution,
    asset_caps,
    binding_label,
    historical_stress_budget,
)
from optimizer.optimize._sale_fixed_point import (
    SALE_MAX_ITERATIONS,
    SALE_TOLERANCE,
    SaleFixedPoint,
    solve_at_sale_fixed_point,
)
from optimizer.optimize.convex import ThresholdOptimizer, single_asset_threshold, threshold_losses
from optimizer.optimize.fund import (
    FUND_TERMS,
    Cover2,
    FundSizing,
    FundStandard,
    FundTerm,
    cover2,
    fund_by_standard,
    size_fund,
    stressed_cover2,
)
from optimizer.optimize.measures import cvar, prob_exceeds, var, var_cvar
from optimizer.optimize.references import analytic_threshold, smart_ltv

__all__ = [
    "Band",
    "LOSS_BAND_FIELDS",
    "FUND_TERMS",
    "SALE_MAX_ITERATIONS",
    "SALE_TOLERANCE",
    "SaleFixedPoint",
    "Binding",
    "Cover2",
    "BookEvaluation",
    "FundSizing",
    "FundStandard",
    "FundTerm",
    "GridRounding",
    "PegTailBands",
    "PegTailFigures",
    "RiskMetrics",
    "RunMetrics",
    "RunStatus",
    "StressRows",
    "ThresholdBounds",
    "ThresholdOptimizer",
    "ThresholdProblem",
    "ThresholdSolution",
    "analytic_threshold",
    "batch_half_width",
    "fund_band",
    "loss_band",
    "asset_caps",
    "binding_label",
    "bps",
    "cover2",
    "cvar",
    "evaluate_book",
    "fund_by_standard",
    "historical_stress_budget",
    "peg_tail_figures",
    "prob_exceeds",
    "round_to_grid",
    "single_asset_threshold",
    "size_fund",
    "smart_ltv",
    "solution_on_grid",
    "solve_at_sale_fixed_point",
    "stressed_cover2",
    "threshold_band",
    "threshold_losses",
    "var",
    "var_cvar",
    "simulation_metrics",
]
