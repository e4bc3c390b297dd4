"""The one factory building estimators from their names (config files, CLI, backtests)."""

from __future__ import annotations

from typing import Any

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
from optimizer.typing import CorrelationName, VolatilityName

__all__ = ["CorrelationName", "VolatilityName", "make_correlation", "make_volatility"]

#: The names :func:`make_volatility` builds on its own (``"auto"`` needs the backtests' choice).
_SINGLE = (VolatilityName.EWMA, VolatilityName.GARCH, VolatilityName.GJR, VolatilityName.CONSTANT)

_CORRELATIONS: dict[CorrelationName, type[BaseCorrelation]] = {
    CorrelationName.SAMPLE: SampleCorrelation,
    CorrelationName.EWMA: EWMCorrelation,
    CorrelationName.SHRINKAGE: ShrinkageCorrelation,
}


def make_volatility(
    name: VolatilityName | str, *, lam: float | None = None, **kwargs: Any
) -> BaseVolatility:
    """Build a volatility estimator from its name.

    Parameters
    ----------
    name : {"ewma", "garch", "gjr", "constant"}
        A :class:`~optimizer.typing.VolatilityName`. ``"gjr"`` is ``GARCHVolatility(model="gjr")``.
    lam : float, optional
        Decay of the EWMA model wherever one is used: the estimator's own for ``"ewma"``, the
        fallback's for ``"garch"``/``"gjr"`` (``fallback=EWMAVolatility(lam=lam)``); ``"constant"``
        has none. None keeps the estimators' defaults.
    **kwargs
        Other hyperparameters passed to the estimator's constructor (e.g. ``missing="skip"``).

    Returns
    -------
    BaseVolatility
        Unfitted estimator.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).
    TypeError
        If a keyword is not a hyperparameter of that estimator, or ``lam`` and ``fallback`` are
        both given.

    Examples
    --------
    >>> make_volatility("gjr", persistence_max=0.995)
    GARCHVolatility(model='gjr', persistence_max=0.995)
    >>> make_volatility("garch", lam=0.97)
    GARCHVolatility(fallback=EWMAVolatility(lam=0.97))
    """
    if name == VolatilityName.AUTO:
        raise ValueError(
            "'auto' is one model per asset, chosen by the VaR backtests: build it with "
            "per_asset_volatility(choice, assets, lam=...)"
        )
    vol = VolatilityName(name) if name in _SINGLE else None
    if vol is None:
        raise ValueError(
            f"unknown volatility estimator {name!r}; valid names are {[v.value for v in _SINGLE]}"
        )
    if vol is VolatilityName.EWMA:
        return EWMAVolatility(**kwargs) if lam is None else EWMAVolatility(lam=lam, **kwargs)
    if vol is VolatilityName.CONSTANT:
        return ConstantVolatility(**kwargs)
    if "model" in kwargs:
        raise TypeError(f"`model` is set by the name {vol.value!r}; do not pass it as a keyword")
    if lam is not None:
        if "fallback" in kwargs:
            raise TypeError("pass `lam` (an EWMA fallback with that decay) or `fallback`, not both")
        kwargs["fallback"] = EWMAVolatility(lam=lam)
    return GARCHVolatility(model=vol.value, **kwargs)


def make_correlation(name: CorrelationName | str, **kwargs: Any) -> BaseCorrelation:
    """Build a correlation estimator from its name.

    Parameters
    ----------
    name : {"sample", "ewma", "shrinkage"}
        A :class:`~optimizer.typing.CorrelationName`: sample (Pearson), exponentially weighted, or
        Ledoit-Wolf shrinkage.
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
    if name not in _CORRELATIONS:
        raise ValueError(
            f"unknown correlation estimator {name!r}; valid names are "
            f"{[c.value for c in CorrelationName]}"
        )
    return _CORRELATIONS[CorrelationName(name)](**kwargs)
