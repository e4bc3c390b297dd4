"""Type aliases and option vocabularies shared across layers.

The option sets below are ``str`` enums (:class:`enum.StrEnum`): a member is equal to, hashes like
and prints as its value, so it round-trips through TOML, JSON and report text unchanged. They live
here, the bottom layer, because the config parser checks them without importing the estimators or
the scenario generator.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
Seed: TypeAlias = "int | np.random.Generator | None"


class VolatilityName(StrEnum):
    """Volatility models by name (``optimizer.estimators.make_volatility`` builds them)."""

    #: ``EWMAVolatility``: RiskMetrics exponentially weighted variance.
    EWMA = "ewma"
    #: ``GARCHVolatility(model="garch")``: GARCH(1,1), EWMA where a fit is rejected.
    GARCH = "garch"
    #: ``GARCHVolatility(model="gjr")``: GJR-GARCH(1,1,1) with a leverage term.
    GJR = "gjr"
    #: ``ConstantVolatility``: the sample standard deviation (a backtest benchmark).
    CONSTANT = "constant"
    #: Per asset, the model its VaR backtests choose (``PerAssetVolatility``).
    AUTO = "auto"


#: The models one VaR backtest compares: one model for every asset (``auto`` is chosen by them).
BACKTEST_VOLATILITIES: tuple[VolatilityName, ...] = (
    VolatilityName.EWMA,
    VolatilityName.GARCH,
    VolatilityName.GJR,
    VolatilityName.CONSTANT,
)
#: The models a run's scenarios can use (``[estimators] volatility``, ``[sensitivity] volatility``).
SCENARIO_VOLATILITIES: tuple[VolatilityName, ...] = (
    VolatilityName.GARCH,
    VolatilityName.GJR,
    VolatilityName.EWMA,
    VolatilityName.AUTO,
)


class SaleSizeRule(StrEnum):
    """How the static slippage law's sale is sized (``[liquidity] sale_size``)."""

    #: What the book's liquidations seize in each asset's tail scenarios (``optimizer.protocol.sale.seized_sale``).
    SEIZED = "seized"
    #: A fixed share of each asset's whole collateral (``[liquidity] liquidation_share``; the old rule).
    SHARE = "share"


class SaleParams(StrEnum):
    """Which parameters decide the liquidations that size the sale (``[liquidity] sale_params``)."""

    #: The recommended ones: a fixed point (``optimizer.optimize.solve_at_sale_fixed_point``).
    RECOMMENDED = "recommended"
    #: The current (live) ones: one solve.
    CURRENT = "current"


class CorrelationName(StrEnum):
    """Correlation models by name (``optimizer.estimators.make_correlation`` builds them)."""

    #: ``SampleCorrelation``: Pearson.
    SAMPLE = "sample"
    #: ``EWMCorrelation``: exponentially weighted.
    EWMA = "ewma"
    #: ``ShrinkageCorrelation``: Ledoit-Wolf shrinkage toward the identity.
    SHRINKAGE = "shrinkage"


class ScenarioMethod(StrEnum):
    """How ``ScenarioGenerator`` draws paths."""

    #: Filtered historical simulation: standardised residual rows, re-scaled by today's volatility.
    FHS = "fhs"
    #: Multivariate Student-t innovations with the fitted correlation.
    PARAMETRIC = "parametric"
    #: Whole days of raw historical returns, not rescaled (a reference method).
    BOOTSTRAP = "bootstrap"


def check_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Normalise ``seed`` to a :class:`numpy.random.Generator` (the one place this happens)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise TypeError(f"`seed` must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")
