"""One convenience factory for the common scenario generators, by name."""

from __future__ import annotations

from typing import Any

from optimizer.estimators import make_correlation, make_volatility
from optimizer.scenarios._generator import Method, ScenarioGenerator
from optimizer.typing import CorrelationName, ScenarioMethod, VolatilityName

#: The volatility models a generator can be given by name alone.
_VOLATILITIES = (VolatilityName.EWMA, VolatilityName.GARCH, VolatilityName.GJR)


def make_scenario_generator(
    vol: VolatilityName | str = VolatilityName.GARCH,
    corr: CorrelationName | str = CorrelationName.SHRINKAGE,
    method: Method = ScenarioMethod.FHS,
    **kwargs: Any,
) -> ScenarioGenerator:
    """Build a :class:`ScenarioGenerator` from estimator names.

    Parameters
    ----------
    vol : {"ewma", "garch", "gjr"}, default "garch"
        Volatility model, built by ``optimizer.estimators.make_volatility``.
    corr : {"sample", "ewma", "shrinkage"}, default "shrinkage"
        Correlation model, built by ``optimizer.estimators.make_correlation``.
    method : {"fhs", "parametric", "bootstrap"}, default "fhs"
        Default simulation method.
    **kwargs
        Other :class:`ScenarioGenerator` parameters (``dof``, ``vol_multiplier``, ``corr_stress``,
        ``vol_multipliers``).

    Returns
    -------
    ScenarioGenerator
        Unfitted.

    Examples
    --------
    >>> gen = make_scenario_generator("gjr", "ewma", method="parametric", dof=4)  # doctest: +SKIP
    """
    if vol not in _VOLATILITIES:
        raise ValueError(f"`vol` must be one of {tuple(v.value for v in _VOLATILITIES)}, got {vol!r}")
    if corr not in tuple(CorrelationName):
        raise ValueError(f"`corr` must be one of {tuple(c.value for c in CorrelationName)}, got {corr!r}")
    reserved = {"volatility", "correlation"} & kwargs.keys()
    if reserved:
        raise TypeError(
            f"pass the estimators by name through `vol`/`corr`, or build ScenarioGenerator "
            f"directly; got {sorted(reserved)}"
        )
    return ScenarioGenerator(
        volatility=make_volatility(vol),
        correlation=make_correlation(corr),
        method=method,
        **kwargs,
    )
