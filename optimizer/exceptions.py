"""Exceptions and warnings of riskopt.

Every error a user can cause derives from :class:`OptimizerError`; the CLI prints its message
(no traceback) and exits 1, or 2 for :class:`RiskTargetNotMet`.
"""

from __future__ import annotations


class OptimizerError(Exception):
    """Root of every riskopt error."""


class ConfigError(OptimizerError):
    """A configuration file or value is invalid."""


class DataError(OptimizerError):
    """Input data (prices, volumes, book) is unusable; the message names file, asset and date."""


class EstimationError(OptimizerError):
    """An estimator could not be fitted and no fallback applies."""


class InfeasibleError(OptimizerError):
    """The risk target cannot be met within the hard constraints."""


class SolverError(OptimizerError):
    """A numerical solver failed."""


class ReproducibilityError(OptimizerError):
    """A recorded run could not be reproduced (changed input or different output)."""


class ConvergenceWarning(UserWarning):
    """An estimator did not converge; a fallback was used and recorded."""


class DataQualityWarning(UserWarning):
    """Input data has a non-fatal problem (gap, stale run, outlier, depeg); it is flagged in the report."""


__all__ = [
    "ConfigError",
    "ConvergenceWarning",
    "DataError",
    "DataQualityWarning",
    "EstimationError",
    "InfeasibleError",
    "OptimizerError",
    "ReproducibilityError",
    "SolverError",
]
