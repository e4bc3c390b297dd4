"""One convenience factory for the common scenario generators, by name."""

from __future__ import annotations

from typing import Any, Literal, get_args

from optimizer.estimators import make_correlation, make_volatility
from optimizer.scenarios._generator import Method, ScenarioGenerator

VolName = Literal["ewma", "garch", "gjr"]
CorrName = Literal["sample", "ewma", "shrinkage"]


def make_scenario_generator(
    vol: VolName = "garch",
    corr: CorrName = "shrinkage",
    method: Method = "fhs",
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
    if vol not in get_args(VolName):
        raise ValueError(f"`vol` must be one of {get_args(VolName)}, got {vol!r}")
    if corr not in get_args(CorrName):
        raise ValueError(f"`corr` must be one of {get_args(CorrName)}, got {corr!r}")
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
