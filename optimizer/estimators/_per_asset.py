"""A different volatility model per asset, assembled into one estimator.

``[estimators] volatility = "auto"`` gives each asset the estimator its VaR backtest chose
(:func:`~optimizer.estimators.best_estimator`); :func:`per_asset_volatility` builds that choice by
name, and :class:`PerAssetVolatility` fits it so a scenario generator takes it like any other
:class:`~optimizer.estimators.BaseVolatility`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from optimizer.estimators._factory import make_volatility
from optimizer.estimators._validation import check_returns
from optimizer.estimators._volatility import BaseVolatility, EWMAVolatility
from optimizer.exceptions import DataQualityWarning
from optimizer.typing import VolatilityName

__all__ = ["PerAssetVolatility", "per_asset_volatility"]


class PerAssetVolatility(BaseVolatility):
    """A different volatility model per asset, assembled into one estimator.

    Assets sharing a model (equal ``repr``) are fitted together by one clone of it; every model
    here is univariate per asset, so this equals fitting each asset alone. Volatility paths,
    residuals, ``nu_`` and the per-asset :class:`~optimizer.estimators.FitRecord` (with any GARCH
    fallback) are gathered column by column, so a scenario generator uses it like any other
    :class:`~optimizer.estimators.BaseVolatility`.

    Parameters
    ----------
    estimators : dict of str to BaseVolatility, optional
        Asset -> unfitted model. Assets not listed use ``default``.
    default : BaseVolatility, optional
        Model of the unlisted assets; None means :class:`~optimizer.estimators.EWMAVolatility` ``()``.
    missing : {"raise", "skip"}, default="raise"
        Passed to every model that has this hyperparameter: "skip" fits each asset on its own
        finite returns when the panel has NaN on an asset's missing days.

    Attributes
    ----------
    asset_names_, n_assets_, volatility_, residuals_, forecast_, nu_, fits_
        See :class:`~optimizer.estimators.BaseVolatility`.
    groups_ : list of (list of int, BaseVolatility)
        Column positions and the fitted model covering them.

    Examples
    --------
    >>> from optimizer.estimators import GARCHVolatility
    >>> PerAssetVolatility({"crv": GARCHVolatility()}, default=EWMAVolatility(lam=0.97))
    PerAssetVolatility(default=EWMAVolatility(lam=0.97), estimators={'crv': GARCHVolatility()})
    """

    def __init__(
        self,
        estimators: Mapping[str, BaseVolatility] | None = None,
        default: BaseVolatility | None = None,
        missing: str = "raise",
    ) -> None:
        self.estimators = estimators
        self.default = default
        self.missing = missing

    def _template(self, name: str) -> BaseVolatility:
        est = (self.estimators or {}).get(name)
        if est is None:
            est = EWMAVolatility() if self.default is None else self.default
        if not isinstance(est, BaseVolatility):
            raise TypeError(
                f"the model of asset {name!r} must be a BaseVolatility, got {type(est).__name__}"
            )
        return est

    def fit(self, returns: Any, y: None = None) -> PerAssetVolatility:
        """Fit each asset's model on its column.

        Parameters
        ----------
        returns : DataFrame or ndarray of shape (n_observations, n_assets)
            Daily log returns as decimals; NaN only with ``missing="skip"``. Assets are matched to
            ``estimators`` by column name (``"x0" ..`` for arrays).
        y : None
            Ignored.

        Returns
        -------
        self : PerAssetVolatility
        """
        if self.missing not in ("raise", "skip"):
            raise ValueError(f"`missing` must be 'raise' or 'skip', got missing={self.missing!r}")
        values, index, names = check_returns(
            returns, min_obs=1, owner=type(self).__name__, allow_nan=self.missing == "skip"
        )
        frame = pd.DataFrame(values, index=index, columns=names)
        groups: dict[str, tuple[BaseVolatility, list[int]]] = {}
        for j, name in enumerate(names):
            tpl = self._template(name)
            groups.setdefault(repr(tpl), (tpl, []))[1].append(j)
        n = len(frame)
        var = np.empty((n + 1, len(names)))
        nu = np.empty(len(names))
        fits = {}
        self.groups_: list[tuple[list[int], BaseVolatility]] = []
        for tpl, cols in groups.values():
            sub = clone(tpl)
            if "missing" in sub.get_params(deep=False):
                sub.set_params(missing=self.missing)
            with warnings.catch_warnings():
                # the scale of the whole panel was checked above, once
                warnings.simplefilter("ignore", DataQualityWarning)
                sub.fit(frame.iloc[:, cols])
            var[:-1, cols] = sub.volatility_.to_numpy() ** 2
            var[-1, cols] = np.asarray(sub.forecast_) ** 2
            nu[cols] = sub.nu_
            fits.update(sub.fits_)
            self.groups_.append((cols, sub))
        self._set_fitted(values, index, names, var, nu, fits)
        return self

    def forecast_path(self, horizon: int) -> np.ndarray:
        """Each asset's own model's term structure, shape (horizon, n_assets)."""
        check_is_fitted(self, "groups_")
        out = np.empty((int(horizon), self.n_assets_))
        for cols, sub in self.groups_:
            out[:, cols] = sub.forecast_path(horizon)
        return out

    def filter(self, returns: Any) -> np.ndarray:
        """Continue each asset's recursion over new returns, shape (n_new + 1, n_assets)."""
        values = self._check_new_returns(returns)
        out = np.empty((values.shape[0] + 1, self.n_assets_))
        for cols, sub in self.groups_:
            out[:, cols] = sub.filter(values[:, cols])
        return out


def per_asset_volatility(
    choice: Mapping[str, str],
    assets: list[str] | tuple[str, ...],
    *,
    default: VolatilityName | str = VolatilityName.GARCH,
    lam: float,
    missing: str = "skip",
) -> PerAssetVolatility:
    """The ``volatility = "auto"`` model: each asset's chosen estimator, ``default`` elsewhere.

    Parameters
    ----------
    choice : dict of str to str
        Asset -> estimator name (:attr:`VaRBacktests.choice`); assets not in ``assets`` are
        ignored.
    assets : sequence of str
        The assets of the run.
    default : str, default="garch"
        Name of the model of the assets without a choice (not backtested).
    lam : float
        EWMA decay of the models built by name (:func:`~optimizer.estimators.make_volatility`).
    missing : {"raise", "skip"}, default="skip"

    Returns
    -------
    PerAssetVolatility
        Unfitted.
    """
    return PerAssetVolatility(
        estimators={a: make_volatility(choice[a], lam=lam) for a in assets if a in choice},
        default=make_volatility(default, lam=lam),
        missing=missing,
    )
