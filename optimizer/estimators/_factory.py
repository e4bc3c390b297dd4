"""Convenience factories building estimators from string names (config files, CLI)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from optimizer.estimators._correlation import (
    BaseCorrelation,
    EWMCorrelation,
    SampleCorrelation,
    ShrinkageCorrelation,
)
from optimizer.estimators._volatility import (
    BaseVolatility,
    ConstantVolatility,
    EWMAVolatility,
    GARCHVolatility,
)

__all__ = ["CorrelationName", "VolatilityName", "make_correlation", "make_volatility"]

VolatilityName = Literal["ewma", "garch", "gjr", "constant"]
CorrelationName = Literal["sample", "ewma", "shrinkage"]


def make_volatility(name: VolatilityName, **kwargs: Any) -> BaseVolatility:
    """Build a volatility estimator from its name.

    Parameters
    ----------
    name : {"ewma", "garch", "gjr", "constant"}
        ``"gjr"`` is ``GARCHVolatility(model="gjr")``.
    **kwargs
        Hyperparameters passed to the estimator's constructor.

    Returns
    -------
    BaseVolatility
        Unfitted estimator.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).
    TypeError
        If a keyword is not a hyperparameter of that estimator.

    Examples
    --------
    >>> make_volatility("gjr", persistence_max=0.995)
    GARCHVolatility(model='gjr', persistence_max=0.995)
    """
    if name == "ewma":
        return EWMAVolatility(**kwargs)
    if name == "constant":
        return ConstantVolatility(**kwargs)
    if name in ("garch", "gjr"):
        if "model" in kwargs:
            raise TypeError(f"`model` is set by the name {name!r}; do not pass it as a keyword")
        return GARCHVolatility(model=name, **kwargs)
    raise ValueError(
        f"unknown volatility estimator {name!r}; valid names are {list(get_args(VolatilityName))}"
    )


def make_correlation(name: CorrelationName, **kwargs: Any) -> BaseCorrelation:
    """Build a correlation estimator from its name.

    Parameters
    ----------
    name : {"sample", "ewma", "shrinkage"}
        Sample (Pearson), exponentially weighted, or Ledoit-Wolf shrinkage.
    **kwargs
        Hyperparameters passed to the estimator's constructor.

    Returns
    -------
    BaseCorrelation
        Unfitted estimator.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).

    Examples
    --------
    >>> make_correlation("ewma", lam=0.95)
    EWMCorrelation(lam=0.95)
    """
    classes: dict[str, type[BaseCorrelation]] = {
        "sample": SampleCorrelation,
        "ewma": EWMCorrelation,
        "shrinkage": ShrinkageCorrelation,
    }
    if name not in classes:
        raise ValueError(
            f"unknown correlation estimator {name!r}; valid names are "
            f"{list(get_args(CorrelationName))}"
        )
    return classes[name](**kwargs)
