"""Estimators layer: volatility, correlation, tails and VaR/ES backtests.

Everything here takes daily log returns as decimals, a DataFrame (dates x lower-case tickers) or a
2-D array, and follows the scikit-learn estimator contract (hyperparameters in ``__init__``,
``fit(returns) -> self``, fitted attributes ending in ``_``).
"""

from __future__ import annotations

from optimizer.estimators._backtest import (
    BASE_ALPHA,
    MIN_TEST,
    MIN_WINDOW,
    PASS_LEVEL,
    BacktestCache,
    VaRBacktestMetrics,
    VaRBacktests,
    acerbi_szekely_z2,
    backtest_plan,
    backtest_var,
    best_estimator,
    christoffersen_independence,
    conditional_coverage,
    es_backtest,
    evaluate_forecasts,
    kupiec_pof,
    rolling_var_forecasts,
    run_var_backtests,
    traffic_light,
)
from optimizer.estimators._correlation import (
    BaseCorrelation,
    EWMCorrelation,
    SampleCorrelation,
    ShrinkageCorrelation,
    mean_offdiagonal,
    merge_correlation,
    nearest_correlation,
    pairwise_correlation,
    stress_correlation,
)
from optimizer.estimators._factory import (
    CorrelationName,
    VolatilityName,
    make_correlation,
    make_volatility,
)
from optimizer.estimators._per_asset import (
    PerAssetVolatility,
    per_asset_volatility,
)
from optimizer.estimators._tails import fit_t_dof, hill_tail_index, t_var_es
from optimizer.estimators._volatility import (
    BaseVolatility,
    ConstantVolatility,
    EWMAVolatility,
    FitRecord,
    GARCHVolatility,
    ewma_variance,
    garch_forecast_variance,
    garch_variance_path,
    rms_volatility,
)

__all__ = [
    "BASE_ALPHA",
    "BacktestCache",
    "BaseCorrelation",
    "BaseVolatility",
    "ConstantVolatility",
    "CorrelationName",
    "EWMAVolatility",
    "EWMCorrelation",
    "FitRecord",
    "GARCHVolatility",
    "MIN_TEST",
    "MIN_WINDOW",
    "PASS_LEVEL",
    "PerAssetVolatility",
    "SampleCorrelation",
    "ShrinkageCorrelation",
    "VaRBacktestMetrics",
    "VaRBacktests",
    "VolatilityName",
    "acerbi_szekely_z2",
    "backtest_plan",
    "backtest_var",
    "best_estimator",
    "christoffersen_independence",
    "conditional_coverage",
    "es_backtest",
    "evaluate_forecasts",
    "ewma_variance",
    "fit_t_dof",
    "garch_forecast_variance",
    "garch_variance_path",
    "hill_tail_index",
    "kupiec_pof",
    "make_correlation",
    "make_volatility",
    "mean_offdiagonal",
    "merge_correlation",
    "nearest_correlation",
    "pairwise_correlation",
    "per_asset_volatility",
    "rms_volatility",
    "rolling_var_forecasts",
    "run_var_backtests",
    "stress_correlation",
    "t_var_es",
    "traffic_light",
]
