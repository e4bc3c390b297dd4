"""Univariate conditional-volatility estimators: EWMA (RiskMetrics), constant, GARCH/GJR-GARCH.

The recursions are pure vectorised functions (:func:`ewma_variance`, :func:`garch_variance_path`,
:func:`garch_forecast_variance`); the estimator classes only fit parameters and call them.

Conventions shared by every estimator here:

- input: daily log returns as decimals, ``(n_observations, n_assets)``;
- zero conditional mean: ``r_t = sigma_t * z_t`` with ``z_t`` i.i.d., unit variance. Over 2021-2025
  the drift of crypto daily returns is statistically indistinguishable from zero, and an estimated
  in-sample drift (about +0.1 %/day for a bull sample) would leak straight into VaR and scenarios.
  It also keeps GARCH and EWMA on the same footing (RiskMetrics assumes a zero mean);
- a variance *path* has ``n_observations + 1`` rows: row ``t`` is the variance of day ``t`` given
  returns up to day ``t - 1``, and the last row is the one-day-ahead forecast;
- missing days: NaN cells are an error unless the estimator is built with ``missing="skip"``;
  then each asset is fitted on its own finite returns, in order (its series compressed over its
  gaps), and the in-sample paths are re-aligned to the full index with NaN on its missing days.
"""

from __future__ import annotations

import logging
import math
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.signal import lfilter
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from optimizer.estimators._tails import NU_MAX, NU_MIN, fit_t_dof
from optimizer.estimators._validation import check_fraction, check_int, check_returns
from optimizer.exceptions import ConvergenceWarning, EstimationError
from optimizer.typing import FloatArray

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from arch.univariate.base import ARCHModelResult

logger = logging.getLogger(__name__)

__all__ = [
    "BaseVolatility",
    "ConstantVolatility",
    "EWMAVolatility",
    "FitRecord",
    "GARCHVolatility",
    "ewma_variance",
    "garch_forecast_variance",
    "garch_variance_path",
    "rms_volatility",
]

#: Fewest observations a GARCH fit is attempted on (arch itself accepts far fewer, but below this
#: the persistence estimate is noise).
GARCH_MIN_OBS = 100
#: Fewest observations for any estimator here (the Student-t dof fit on residuals needs them).
MIN_OBS = 20
#: Values of the ``missing`` hyperparameter.
_MISSING = ("raise", "skip")

_FALLBACK_MESSAGE = (
    "{owner}: {n_fb} of {n} asset(s) fell back to {fallback}; the reasons are in fits_: {detail}"
)


def rms_volatility(returns: Any) -> float:
    """Unconditional volatility of a return series: the root mean square, ``sqrt(mean(r**2))``.

    The mean is not subtracted (daily log returns have a negligible drift next to their
    spread, and a through-the-cycle level should not depend on the sample's drift).

    Parameters
    ----------
    returns : array-like of shape (n_obs,)
        Finite returns (drop missing values first).

    Raises
    ------
    ValueError
        If ``returns`` is empty or holds a non-finite value.
    """
    r = np.asarray(returns, dtype=float).ravel()
    if r.size == 0 or not np.all(np.isfinite(r)):
        raise ValueError(f"`returns` must be a non-empty finite series, got {r.size} value(s)")
    return float(np.sqrt(np.mean(r**2)))


# ---------------------------------------------------------------------------------------------
# Fit records
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class FitRecord:
    """How one asset's volatility was estimated (read-only).

    Parameters
    ----------
    model : {"garch", "gjr", "ewma", "constant"}
        The model actually used for the asset.
    params : dict of str to float
        Parameters of that model in **decimal** units (GARCH ``omega`` is a daily variance in
        decimals, i.e. arch's percent-squared value divided by ``scale**2``). GARCH records also
        hold ``scale``, the factor the returns were multiplied by for arch (100 = percent).
    converged : bool
        Whether the estimation converged (always True for the closed-form models).
    persistence : float or None
        ``alpha + beta + gamma / 2`` for GARCH/GJR, 1.0 for EWMA (integrated by construction), None
        for the constant model.
    fallback_reason : str or None
        Why the primary model was rejected for this asset, or None if it was not.
    loglik : float or None
        Log-likelihood of the returns in decimal units under the fitted model with unit-variance
        Student-t innovations (comparable across models on the same data).
    warnings : tuple of str
        Warnings raised by the underlying library during the fit (suppressed, kept here).
    """

    model: str
    params: dict[str, float]
    converged: bool
    persistence: float | None
    fallback_reason: str | None = None
    loglik: float | None = None
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """One-line description: model, parameters, persistence and any fallback."""
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        s = f"{self.model}({ps})"
        if self.persistence is not None:
            s += f" persistence={self.persistence:.4f}"
        if not self.converged:
            s += " NOT CONVERGED"
        if self.fallback_reason:
            s += f" [fallback: {self.fallback_reason}]"
        return s

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"FitRecord({self.summary()})"


# ---------------------------------------------------------------------------------------------
# Pure recursions
# ---------------------------------------------------------------------------------------------
def _as_2d(x: Any, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"`{name}` must be 1-D or 2-D (n_observations, n_assets), got {a.shape}")
    return a


def ewma_variance(
    returns_2d: Any,
    lam: float = 0.94,
    init_window: int = 30,
    *,
    sigma2_0: Any = None,
) -> FloatArray:
    """RiskMetrics EWMA variance path ``s_{t+1} = lam * s_t + (1 - lam) * r_t**2``.

    Parameters
    ----------
    returns_2d : array-like of shape (n_observations, n_assets) or (n_observations,)
        Daily log returns (decimals), zero mean assumed.
    lam : float, default=0.94
        Decay factor in (0, 1).
    init_window : int, default=30
        The seed ``s_0`` is the mean of the first ``init_window`` squared returns (all of them if
        there are fewer; the full-sample mean if those are all zero).
    sigma2_0 : float or array-like of shape (n_assets,), optional
        Explicit seed, overriding ``init_window`` (used to continue a fitted path on new data).

    Returns
    -------
    ndarray of shape (n_observations + 1, n_assets)
        Row ``t`` is the variance of day ``t`` given returns before it; the last row is the
        one-day-ahead forecast.

    Examples
    --------
    >>> import numpy as np
    >>> ewma_variance(np.array([0.01, -0.02]), lam=0.5, sigma2_0=1e-4).ravel()
    array([0.0001 , 0.0001 , 0.00025])
    """
    r = _as_2d(returns_2d, "returns_2d")
    lam = check_fraction(lam, "lam", low=0.0, high=1.0, closed="neither")
    r2 = r * r
    if sigma2_0 is None:
        init_window = check_int(init_window, "init_window", minimum=1)
        if r.shape[0] == 0:
            raise ValueError("`returns_2d` is empty and no `sigma2_0` was given")
        seed = r2[:init_window].mean(axis=0)
        seed = np.where(seed > 0, seed, r2.mean(axis=0))
    else:
        seed = np.broadcast_to(np.asarray(sigma2_0, dtype=np.float64), (r.shape[1],)).copy()
    out = np.empty((r.shape[0] + 1, r.shape[1]))
    out[0] = seed
    if r.shape[0]:
        out[1:] = lfilter([1.0 - lam], [1.0, -lam], r2, axis=0, zi=(lam * seed)[None, :])[0]
    return out


def garch_variance_path(
    eps_2d: Any,
    omega: Any,
    alpha: Any,
    beta: Any,
    gamma: Any = 0.0,
    *,
    sigma2_0: Any,
) -> FloatArray:
    """GARCH(1,1) / GJR-GARCH(1,1) variance recursion with fixed parameters.

    ``s_{t+1} = omega + (alpha + gamma * 1[eps_t < 0]) * eps_t**2 + beta * s_t``.

    Parameters
    ----------
    eps_2d : array-like of shape (n_observations, n_assets) or (n_observations,)
        Residuals (returns, under the zero-mean convention), decimals.
    omega, alpha, beta, gamma : float or array-like of shape (n_assets,)
        Parameters; ``omega`` is a daily variance in decimals.
    sigma2_0 : float or array-like of shape (n_assets,)
        Variance of the first observation.

    Returns
    -------
    ndarray of shape (n_observations + 1, n_assets)
        Row 0 is ``sigma2_0``; row ``t`` is the variance of day ``t``; the last row is the
        one-day-ahead forecast.
    """
    e = _as_2d(eps_2d, "eps_2d")
    n_obs, n_assets = e.shape
    pars = [
        np.broadcast_to(np.asarray(p, dtype=np.float64), (n_assets,))
        for p in (omega, alpha, beta, gamma, sigma2_0)
    ]
    om, al, be, ga, s0 = pars
    out = np.empty((n_obs + 1, n_assets))
    out[0] = s0
    if n_obs == 0:
        return out
    e2 = e * e
    shock = om + (al + ga * (e < 0.0)) * e2  # (n_obs, n_assets)
    for j in range(n_assets):  # one linear filter per asset (beta differs between assets)
        out[1:, j] = lfilter([1.0], [1.0, -be[j]], shock[:, j], zi=[be[j] * s0[j]])[0]
    return out


def garch_forecast_variance(
    sigma2_next: Any,
    omega: Any,
    persistence: Any,
    horizon: int,
) -> FloatArray:
    """Analytic GARCH variance term structure ``E[s_{T+h}] = omega + persistence * E[s_{T+h-1}]``.

    Valid for GARCH(1,1) and for GJR with a symmetric innovation distribution, where
    ``persistence = alpha + beta + gamma / 2``.

    Parameters
    ----------
    sigma2_next : float or array-like of shape (n_assets,)
        One-day-ahead variance ``s_{T+1}``.
    omega, persistence : float or array-like of shape (n_assets,)
        Parameters (``omega`` in decimal daily variance).
    horizon : int
        Number of days, >= 1.

    Returns
    -------
    ndarray of shape (horizon, n_assets)
        Expected variance of each of the next ``horizon`` days (row 0 is ``sigma2_next``).
    """
    horizon = check_int(horizon, "horizon", minimum=1)
    s = np.atleast_1d(np.asarray(sigma2_next, dtype=np.float64))
    om = np.broadcast_to(np.asarray(omega, dtype=np.float64), s.shape)
    ph = np.broadcast_to(np.asarray(persistence, dtype=np.float64), s.shape)
    out = np.empty((horizon, s.size))
    out[0] = s
    for h in range(1, horizon):
        out[h] = om + ph * out[h - 1]
    return out


def _t_loglik(r: FloatArray, sigma: FloatArray, nu: float) -> float:
    """Log-likelihood of ``r`` with ``r / sigma`` unit-variance Student-t(nu); NaN days skipped."""
    ok = ~np.isnan(r)
    if not ok.all():
        r, sigma = r[ok], sigma[ok]
    scale = sigma * math.sqrt((nu - 2.0) / nu)
    return float(np.sum(stats.t.logpdf(r / scale, nu) - np.log(scale)))


# ---------------------------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------------------------
class BaseVolatility(BaseEstimator, metaclass=ABCMeta):
    """Base class of the conditional-volatility estimators.

    Subclasses implement :meth:`fit`, :meth:`forecast_path` and :meth:`filter`.

    Attributes
    ----------
    asset_names_ : list of str
        Asset names (DataFrame columns, or ``"x0" ..`` for arrays).
    n_assets_ : int
        Number of assets.
    volatility_ : DataFrame of shape (n_observations, n_assets)
        In-sample conditional daily volatility (decimals), same index as the input; NaN on an
        asset's missing days (``missing="skip"`` only).
    residuals_ : DataFrame of shape (n_observations, n_assets)
        Standardized residuals ``r_t / sigma_t``; NaN exactly where the return is NaN.
    forecast_ : ndarray of shape (n_assets,)
        Next-day volatility (decimals).
    nu_ : ndarray of shape (n_assets,)
        Student-t degrees of freedom of the innovations, in [2.5, 50].
    fits_ : dict of str to FitRecord
        Per-asset record of the model used, its parameters and any fallback.
    """

    asset_names_: list[str]
    n_assets_: int
    volatility_: pd.DataFrame
    residuals_: pd.DataFrame
    forecast_: FloatArray
    nu_: FloatArray
    fits_: dict[str, FitRecord]

    @abstractmethod
    def fit(self, returns: Any, y: None = None) -> Self:
        """Fit the estimator to ``returns`` (n_observations, n_assets) of daily log returns."""

    @abstractmethod
    def forecast_path(self, horizon: int) -> FloatArray:
        """Expected daily volatility of the next ``horizon`` days, shape (horizon, n_assets)."""

    @abstractmethod
    def filter(self, returns: Any) -> FloatArray:
        """Continue the volatility path over new returns with the fitted parameters held fixed."""

    # -- helpers shared by subclasses ------------------------------------------------------
    def _set_fitted(
        self,
        values: FloatArray,
        index: pd.Index,
        names: list[str],
        var_path: FloatArray,
        nu: FloatArray,
        fits: dict[str, FitRecord],
    ) -> None:
        vol = np.sqrt(var_path)
        self.asset_names_ = list(names)
        self.n_assets_ = len(names)
        self.volatility_ = pd.DataFrame(vol[:-1], index=index, columns=names)
        self.residuals_ = pd.DataFrame(values / vol[:-1], index=index, columns=names)
        self.forecast_ = vol[-1].copy()
        self.nu_ = np.asarray(nu, dtype=np.float64)
        self.fits_ = {n: fits[n] for n in names}

    def _check_new_returns(self, returns: Any) -> FloatArray:
        check_is_fitted(self, "volatility_")
        values, _, names = check_returns(
            returns, min_obs=0, owner=f"{type(self).__name__}.filter"
        )
        if values.shape[1] != self.n_assets_:
            raise ValueError(
                f"`returns` has {values.shape[1]} column(s); the estimator was fitted on "
                f"{self.n_assets_} ({self.asset_names_})"
            )
        if isinstance(returns, (pd.DataFrame, pd.Series)) and names != self.asset_names_:
            raise ValueError(
                f"`returns` columns {names} differ from the fitted assets {self.asset_names_}"
            )
        return values

    def _skip_missing(self) -> bool:
        """Validate the ``missing`` hyperparameter; True for ``"skip"``."""
        missing = getattr(self, "missing", "raise")
        if missing not in _MISSING:
            raise ValueError(f"`missing` must be one of {_MISSING}, got missing={missing!r}")
        return bool(missing == "skip")

    @staticmethod
    def _check_variation(values: FloatArray, names: list[str], owner: str) -> None:
        moved = (values != 0.0) & ~np.isnan(values)
        flat = [names[j] for j in np.flatnonzero(~np.any(moved, axis=0))]
        if flat:
            raise ValueError(
                f"`returns` column(s) {flat} are identically zero; {owner} needs price variation "
                "(drop stale or pegged-at-tick series)"
            )

    def summary(self, periods_per_year: float = 365.0) -> pd.DataFrame:
        """Per-asset table of the fitted models.

        Parameters
        ----------
        periods_per_year : float, default=365.0
            Annualisation factor for the volatility columns (crypto trades every calendar day).

        Returns
        -------
        DataFrame
            Indexed by asset, with columns ``model``, ``converged``, ``persistence``, ``nu``,
            ``ann_vol_mean`` (root-mean-square in-sample volatility, annualised),
            ``ann_vol_forecast`` and ``fallback_reason``.
        """
        check_is_fitted(self, "volatility_")
        k = math.sqrt(periods_per_year)
        rms = np.sqrt(np.nanmean(self.volatility_.to_numpy() ** 2, axis=0))
        rows = []
        for j, name in enumerate(self.asset_names_):
            rec = self.fits_[name]
            rows.append(
                {
                    "model": rec.model,
                    "converged": rec.converged,
                    "persistence": rec.persistence,
                    "nu": float(self.nu_[j]),
                    "ann_vol_mean": float(rms[j] * k),
                    "ann_vol_forecast": float(self.forecast_[j] * k),
                    "fallback_reason": rec.fallback_reason,
                }
            )
        return pd.DataFrame(rows, index=pd.Index(self.asset_names_, name="asset"))


def _nu_from_residuals(resid: FloatArray) -> FloatArray:
    return np.array([fit_t_dof(_finite(resid[:, j])) for j in range(resid.shape[1])])


def _finite(x: FloatArray) -> FloatArray:
    """``x`` without its NaN entries (``x`` itself when it has none)."""
    ok = ~np.isnan(x)
    return x if ok.all() else x[ok]


def _place(out: FloatArray, j: int, observed: FloatArray, path: FloatArray) -> None:
    """Write one asset's compressed variance path into column ``j`` of a full-index path.

    ``path`` has ``observed.sum() + 1`` rows (its observed days, then the forecast); the rows of
    ``out`` on the asset's missing days are left as they are (NaN).
    """
    if observed.all():
        out[:, j] = path
        return
    col = out[:-1, j]  # a view: the boolean assignment below writes into ``out``
    col[observed] = path[:-1]
    out[-1, j] = path[-1]


def _masked_paths(values: FloatArray, path_fn: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """Variance path of every asset fitted on its own finite returns, NaN on its missing days.

    Parameters
    ----------
    values : ndarray of shape (n_observations, n_assets)
        Returns with NaN on missing days.
    path_fn : callable
        Maps one asset's finite returns, shape (n_j,), to its variance path, shape (n_j + 1,).

    Returns
    -------
    ndarray of shape (n_observations + 1, n_assets)
        Row ``t`` is the variance of day ``t`` (NaN where the asset has no return); the last row
        is the one-day-ahead forecast.
    """
    out = np.full((values.shape[0] + 1, values.shape[1]), np.nan)
    for j in range(values.shape[1]):
        observed = ~np.isnan(values[:, j])
        _place(out, j, observed, path_fn(values[observed, j]))
    return out


# ---------------------------------------------------------------------------------------------
# EWMA
# ---------------------------------------------------------------------------------------------
class EWMAVolatility(BaseVolatility):
    """RiskMetrics exponentially weighted moving-average volatility.

    ``sigma2_{t+1} = lam * sigma2_t + (1 - lam) * r_t**2`` with zero mean, seeded with the mean
    squared return of the first ``init_window`` days. The variance term structure is flat.
    The Student-t degrees of freedom ``nu_`` are fitted by maximum likelihood on the standardized
    residuals (:func:`fit_t_dof`).

    Parameters
    ----------
    lam : float, default=0.94
        Decay factor in (0, 1); 0.94 is the RiskMetrics daily value.
    init_window : int, default=30
        Days used to seed the recursion (the asset's first finite returns with ``missing="skip"``).
    missing : {"raise", "skip"}, default="raise"
        NaN cells in ``returns`` (an asset's missing days, e.g. from
        ``PriceData.returns(gaps="keep")``): "raise" rejects them with a ValueError; "skip" fits
        each asset on its own finite returns, in order, as one series (the return after a gap
        is already NaN, so no multi-day move enters). ``volatility_`` and ``residuals_`` keep
        the full index with NaN on the asset's missing days; each asset needs the minimum number
        of finite returns on its own.

    Attributes
    ----------
    asset_names_, n_assets_, volatility_, residuals_, forecast_, nu_, fits_
        See :class:`BaseVolatility`.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(0).normal(0, 0.02, size=(500, 2))
    >>> est = EWMAVolatility().fit(r)
    >>> est.forecast_.shape, est.forecast_path(5).shape
    ((2,), (5, 2))
    """

    def __init__(
        self,
        lam: float = 0.94,
        init_window: int = 30,
        missing: Literal["raise", "skip"] = "raise",
    ) -> None:
        self.lam = lam
        self.init_window = init_window
        self.missing = missing

    def fit(self, returns: Any, y: None = None) -> Self:
        """Fit to daily log returns.

        Parameters
        ----------
        returns : DataFrame or ndarray of shape (n_observations, n_assets)
            Daily log returns as decimals; NaN only with ``missing="skip"``.
        y : None
            Ignored (scikit-learn convention).

        Returns
        -------
        self : EWMAVolatility
            Fitted estimator.
        """
        owner = type(self).__name__
        lam = check_fraction(self.lam, "lam", low=0.0, high=1.0, closed="neither")
        init_window = check_int(self.init_window, "init_window", minimum=1)
        values, index, names = check_returns(
            returns, min_obs=max(init_window, MIN_OBS), owner=owner, allow_nan=self._skip_missing()
        )
        self._check_variation(values, names, owner)
        if np.isnan(values).any():
            var = _masked_paths(values, lambda x: ewma_variance(x, lam, init_window)[:, 0])
        else:
            var = ewma_variance(values, lam, init_window)
        resid = values / np.sqrt(var[:-1])
        nu = _nu_from_residuals(resid)
        fits = {
            name: FitRecord(
                model="ewma",
                params={
                    "lam": lam,
                    "init_window": float(init_window),
                    "sigma2_0": float(_finite(var[:, j])[0]),
                },
                converged=True,
                persistence=1.0,
                loglik=_t_loglik(values[:, j], np.sqrt(var[:-1, j]), float(nu[j])),
            )
            for j, name in enumerate(names)
        }
        self._set_fitted(values, index, names, var, nu, fits)
        return self

    def forecast_path(self, horizon: int) -> FloatArray:
        """Flat term structure: ``forecast_`` repeated ``horizon`` times.

        Parameters
        ----------
        horizon : int
            Number of days, >= 1.

        Returns
        -------
        ndarray of shape (horizon, n_assets)
            Daily volatility (decimals).
        """
        check_is_fitted(self, "volatility_")
        horizon = check_int(horizon, "horizon", minimum=1)
        return np.tile(self.forecast_, (horizon, 1))

    def filter(self, returns: Any) -> FloatArray:
        """Continue the EWMA recursion over new returns, starting from ``forecast_``.

        Parameters
        ----------
        returns : DataFrame or ndarray of shape (n_new, n_assets)
            Returns observed after the fit sample, same assets.

        Returns
        -------
        ndarray of shape (n_new + 1, n_assets)
            Row 0 is ``forecast_``; row ``t`` is the volatility of new day ``t`` given new returns
            before it; the last row is the forecast after the new data.
        """
        values = self._check_new_returns(returns)
        lam = self.fits_[self.asset_names_[0]].params["lam"]  # as fitted, even after set_params
        return np.sqrt(ewma_variance(values, lam, sigma2_0=self.forecast_**2))


# ---------------------------------------------------------------------------------------------
# Constant
# ---------------------------------------------------------------------------------------------
class ConstantVolatility(BaseVolatility):
    """Constant (equal-weight, zero-mean) volatility: the unconditional benchmark.

    ``sigma = sqrt(mean(r**2))`` over the last ``window`` days (all days if None). The in-sample
    ``volatility_`` is that one number on every day (so it uses the whole sample), and the term
    structure and :meth:`filter` are flat. It is the correct model for i.i.d. returns and the
    baseline every conditional model should beat in a VaR backtest.

    Parameters
    ----------
    window : int, optional
        Number of most recent days used (the asset's most recent finite returns with
        ``missing="skip"``); None uses all.
    missing : {"raise", "skip"}, default="raise"
        NaN cells in ``returns`` (an asset's missing days, e.g. from
        ``PriceData.returns(gaps="keep")``): "raise" rejects them with a ValueError; "skip" fits
        each asset on its own finite returns, in order, as one series (the return after a gap
        is already NaN, so no multi-day move enters). ``volatility_`` and ``residuals_`` keep
        the full index with NaN on the asset's missing days; each asset needs the minimum number
        of finite returns on its own.

    Attributes
    ----------
    asset_names_, n_assets_, volatility_, residuals_, forecast_, nu_, fits_
        See :class:`BaseVolatility`.
    """

    def __init__(
        self, window: int | None = None, missing: Literal["raise", "skip"] = "raise"
    ) -> None:
        self.window = window
        self.missing = missing

    def fit(self, returns: Any, y: None = None) -> Self:
        """Fit to daily log returns.

        Parameters
        ----------
        returns : DataFrame or ndarray of shape (n_observations, n_assets)
            Daily log returns as decimals; NaN only with ``missing="skip"``.
        y : None
            Ignored.

        Returns
        -------
        self : ConstantVolatility
            Fitted estimator.
        """
        owner = type(self).__name__
        window = None if self.window is None else check_int(self.window, "window", minimum=MIN_OBS)
        values, index, names = check_returns(
            returns,
            min_obs=max(window or 0, MIN_OBS),
            owner=owner,
            allow_nan=self._skip_missing(),
        )
        missing = np.isnan(values)
        if missing.any():
            # Each asset's own finite returns; with a window, its last `window` of them (every
            # asset has at least that many, checked above, so they stack into one array).
            cols = [_finite(values[:, j]) for j in range(values.shape[1])]
            if window:
                used = np.column_stack([c[-window:] for c in cols])
                self._check_variation(used, names, owner)
                s2 = (used * used).mean(axis=0)
            else:
                self._check_variation(values, names, owner)
                s2 = np.array([np.mean(c * c) for c in cols])
            n_used = [float(window or c.size) for c in cols]
        else:
            self._check_variation(values[-window:] if window else values, names, owner)
            used = values[-window:] if window else values
            s2 = (used * used).mean(axis=0)
            n_used = [float(window or values.shape[0])] * values.shape[1]
        var = np.broadcast_to(s2, (values.shape[0] + 1, s2.size)).copy()
        var[:-1][missing] = np.nan
        resid = values / np.sqrt(var[:-1])
        nu = _nu_from_residuals(resid)
        fits = {
            name: FitRecord(
                model="constant",
                params={"sigma2": float(s2[j]), "window": n_used[j]},
                converged=True,
                persistence=None,
                loglik=_t_loglik(values[:, j], np.sqrt(var[:-1, j]), float(nu[j])),
            )
            for j, name in enumerate(names)
        }
        self._set_fitted(values, index, names, var, nu, fits)
        return self

    def forecast_path(self, horizon: int) -> FloatArray:
        """Flat term structure, shape (horizon, n_assets)."""
        check_is_fitted(self, "volatility_")
        horizon = check_int(horizon, "horizon", minimum=1)
        return np.tile(self.forecast_, (horizon, 1))

    def filter(self, returns: Any) -> FloatArray:
        """Constant path over new returns, shape (n_new + 1, n_assets)."""
        values = self._check_new_returns(returns)
        return np.tile(self.forecast_, (values.shape[0] + 1, 1))


# ---------------------------------------------------------------------------------------------
# GARCH
# ---------------------------------------------------------------------------------------------
_GARCH_MODELS = ("garch", "gjr")
_DISTS = ("t", "normal")


@dataclass(frozen=True, eq=False)
class _Attempt:
    """Outcome of one asset's arch fit (internal)."""

    record: FitRecord | None
    reason: str | None
    var: FloatArray | None = None
    nu: float = float("nan")
    result: Any = None
    warnings: tuple[str, ...] = ()


def _fit_arch(y: FloatArray, *, model: str, dist: str) -> ARCHModelResult:
    """Fit one zero-mean GARCH(1,1)/GJR(1,1,1) with arch (``y`` already scaled)."""
    from arch import arch_model  # imported here: `import arch` costs about 1 s

    am = arch_model(
        y,
        mean="Zero",
        vol="GARCH",
        p=1,
        o=1 if model == "gjr" else 0,
        q=1,
        dist=dist,
        rescale=False,
    )
    return am.fit(disp="off", show_warning=True)


def _auto_scale(x: FloatArray) -> float:
    """Percent (100), times further powers of 10 until the scaled mean square is in [1, 1000).

    arch's optimiser is tuned for that range; percent returns of a stablecoin (mean square about
    0.007) leave it at its starting values while reporting success.
    """
    m2 = float(np.mean(x * x))
    s = 100.0
    if m2 <= 0:
        return s
    while m2 * s * s < 1.0:
        s *= 10.0
    while m2 * s * s >= 1000.0:
        s /= 10.0
    return s


def _fit_one_garch(
    x: FloatArray, *, model: str, dist: str, persistence_max: float, scale: float | str
) -> _Attempt:
    """Fit one asset and decide whether to keep the fit (pure apart from arch)."""
    s = _auto_scale(x) if scale == "auto" else float(scale)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = _fit_arch(x * s, model=model, dist=dist)
        except Exception as err:  # noqa: BLE001 - any arch failure means: use the fallback
            caught_msgs = tuple(f"{w.category.__name__}: {w.message}" for w in caught)
            return _Attempt(
                record=None,
                reason=f"arch raised {type(err).__name__}: {err}",
                warnings=caught_msgs,
            )
    msgs = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    p = res.params
    omega = float(p["omega"]) / (s * s)
    alpha = float(p["alpha[1]"])
    beta = float(p["beta[1]"])
    gamma = float(p["gamma[1]"]) if model == "gjr" else 0.0
    params = {"omega": omega, "alpha": alpha}
    if model == "gjr":
        params["gamma"] = gamma
    params["beta"] = beta
    nu_raw = float(p["nu"]) if dist == "t" else float("nan")
    if dist == "t":
        params["nu"] = nu_raw
    params["scale"] = s
    persistence = alpha + beta + 0.5 * gamma
    loglik = float(res.loglikelihood) + x.size * math.log(s)
    flag = int(res.convergence_flag)
    record = FitRecord(
        model=model,
        params=params,
        converged=flag == 0,
        persistence=persistence,
        loglik=loglik,
        warnings=msgs,
    )

    def reject(reason: str) -> _Attempt:
        return _Attempt(record=record, reason=reason, result=res, warnings=msgs)

    if not (all(math.isfinite(v) for v in params.values()) and math.isfinite(loglik)):
        return reject(f"non-finite parameter(s) or log-likelihood: {params}, loglik={loglik}")
    if flag != 0:
        msg = getattr(res.optimization_result, "message", "")
        return reject(f"arch optimizer did not converge (convergence_flag={flag}: {msg})")
    if persistence >= persistence_max:
        return reject(f"persistence {persistence:.6f} >= persistence_max {persistence_max}")
    sigma2_first = (float(np.asarray(res.conditional_volatility)[0]) / s) ** 2
    var = garch_variance_path(x, omega, alpha, beta, gamma, sigma2_0=sigma2_first)[:, 0]
    if not (np.isfinite(var).all() and (var > 0).all()):
        return reject("non-finite or non-positive conditional variance")
    return _Attempt(record=record, reason=None, var=var, nu=nu_raw, result=res, warnings=msgs)


class GARCHVolatility(BaseVolatility):
    """GARCH(1,1) or GJR-GARCH(1,1) per asset via :mod:`arch`, with a recorded EWMA fallback.

    Each asset is fitted separately with ``arch.arch_model(mean="Zero", vol="GARCH", p=1, o=0|1,
    q=1, dist=dist, rescale=False)`` on scaled returns (see ``scale``). The fit is rejected for that
    asset, and the ``fallback`` estimator (default :class:`EWMAVolatility`) used instead, when

    - arch raises,
    - a parameter or the log-likelihood is not finite,
    - ``convergence_flag != 0``,
    - the persistence ``alpha + beta + gamma / 2 >= persistence_max``: arch constrains it to
      ``<= 1``, so an integrated fit sits silently on the boundary.

    The reason is stored in ``fits_[asset].fallback_reason`` and one :class:`ConvergenceWarning`
    per call lists the assets that fell back. arch's own warnings are suppressed and kept in
    ``fits_[asset].warnings``.

    Parameters
    ----------
    model : {"garch", "gjr"}, default="garch"
        Symmetric GARCH(1,1) or GJR-GARCH(1,1,1) (leverage term ``gamma``).
    dist : {"t", "normal"}, default="t"
        Innovation distribution for the likelihood. With "t" the fitted dof (clipped to
        [2.5, 50]) is ``nu_``; with "normal" ``nu_`` is fitted on the standardized residuals.
    persistence_max : float, default=0.999
        Fits at or above this persistence are rejected.
    fallback : BaseVolatility, optional
        Estimator used for rejected assets; None means ``EWMAVolatility()``. It is cloned and fitted
        once on all rejected assets together.
    scale : "auto" or float, default="auto"
        Factor applied to the returns before arch sees them. "auto" uses percent (100) unless the
        percent mean square is below 1 (stablecoins), then further powers of 10 until it is in
        [1, 1000). All reported parameters are converted back to decimals.
    missing : {"raise", "skip"}, default="raise"
        NaN cells in ``returns`` (an asset's missing days, e.g. from
        ``PriceData.returns(gaps="keep")``): "raise" rejects them with a ValueError; "skip" fits
        each asset on its own finite returns, in order, as one series: the recursion runs
        straight across a gap (the return after it is already NaN, so no multi-day move
        enters). ``volatility_`` and ``residuals_`` keep the full index with NaN on the asset's
        missing days; each asset needs 100 finite returns on its own. The fallback's clone is
        given the same ``missing`` when it has that parameter.

    Attributes
    ----------
    asset_names_, n_assets_, volatility_, residuals_, forecast_, nu_, fits_
        See :class:`BaseVolatility`.
    rejected_fits_ : dict of str to FitRecord
        For assets that fell back: the rejected arch fit (absent if arch raised).
    arch_results_ : dict of str to ARCHModelResult
        Raw arch results per asset (absent if arch raised), for inspection.
    fallback_ : BaseVolatility or None
        The fitted fallback (on the rejected assets only), or None if every fit was kept.

    Notes
    -----
    On Binance daily closes 2021-2025 the GARCH-t and GJR-t fits of btc and eth sit on the
    integrated boundary (``alpha + beta = 1.0000``), so with the default ``persistence_max`` both
    use EWMA; crv (0.995) and usdc (0.976, fitted in basis points) keep their GARCH fits.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(0).standard_t(6, size=(1500, 1)) * 0.02
    >>> est = GARCHVolatility().fit(r)  # doctest: +SKIP
    >>> est.fits_["x0"].model  # doctest: +SKIP
    'garch'
    """

    def __init__(
        self,
        model: Literal["garch", "gjr"] = "garch",
        dist: Literal["t", "normal"] = "t",
        persistence_max: float = 0.999,
        fallback: BaseVolatility | None = None,
        scale: float | Literal["auto"] = "auto",
        missing: Literal["raise", "skip"] = "raise",
    ) -> None:
        self.model = model
        self.dist = dist
        self.persistence_max = persistence_max
        self.fallback = fallback
        self.scale = scale
        self.missing = missing

    def _check_params(self) -> tuple[float, BaseVolatility]:
        if self.model not in _GARCH_MODELS:
            raise ValueError(f"`model` must be one of {_GARCH_MODELS}, got model={self.model!r}")
        if self.dist not in _DISTS:
            raise ValueError(f"`dist` must be one of {_DISTS}, got dist={self.dist!r}")
        pmax = check_fraction(
            self.persistence_max, "persistence_max", low=0.0, high=1.0, closed="right"
        )
        if not (isinstance(self.scale, str) and self.scale == "auto"):
            check_fraction(self.scale, "scale", low=0.0, high=math.inf, closed="neither")
        fallback = EWMAVolatility() if self.fallback is None else self.fallback
        if not isinstance(fallback, BaseVolatility):
            raise TypeError(
                "`fallback` must be a BaseVolatility estimator (e.g. EWMAVolatility()) or None, "
                f"got {type(fallback).__name__}"
            )
        return pmax, fallback

    def fit(self, returns: Any, y: None = None) -> Self:
        """Fit every asset, falling back per asset where the GARCH fit is rejected.

        Parameters
        ----------
        returns : DataFrame or ndarray of shape (n_observations, n_assets)
            Daily log returns as decimals, at least 100 rows; NaN only with ``missing="skip"``
            (then at least 100 finite returns per asset).
        y : None
            Ignored.

        Returns
        -------
        self : GARCHVolatility
            Fitted estimator.

        Raises
        ------
        EstimationError
            If the fallback estimator itself cannot be fitted on the rejected assets.
        """
        owner = type(self).__name__
        pmax, fallback = self._check_params()
        skip = self._skip_missing()
        values, index, names = check_returns(
            returns, min_obs=GARCH_MIN_OBS, owner=owner, allow_nan=skip
        )
        self._check_variation(values, names, owner)
        n_obs, n_assets = values.shape
        observed = ~np.isnan(values)

        var = np.full((n_obs + 1, n_assets), np.nan)
        nu = np.empty(n_assets)
        fits: dict[str, FitRecord] = {}
        self.rejected_fits_: dict[str, FitRecord] = {}
        self.arch_results_: dict[str, Any] = {}
        rejected: dict[str, _Attempt] = {}
        for j, name in enumerate(names):
            x = _finite(values[:, j])  # the asset's own returns, compressed over its gaps
            att = _fit_one_garch(
                x,
                model=self.model,
                dist=self.dist,
                persistence_max=pmax,
                scale=self.scale,
            )
            if att.result is not None:
                self.arch_results_[name] = att.result
            if att.reason is not None:
                rejected[name] = att
                if att.record is not None:
                    self.rejected_fits_[name] = replace(att.record, fallback_reason=att.reason)
                continue
            assert att.record is not None and att.var is not None
            _place(var, j, observed[:, j], att.var)
            if self.dist == "t":
                nu[j] = float(np.clip(att.nu, NU_MIN, NU_MAX))
            else:
                nu[j] = fit_t_dof(x / np.sqrt(att.var[:-1]))
            fits[name] = att.record

        self.fallback_: BaseVolatility | None = None
        if rejected:
            fb_names = list(rejected)
            fb_idx = [names.index(n) for n in fb_names]
            fb_frame = pd.DataFrame(values[:, fb_idx], index=index, columns=fb_names)
            fb = clone(fallback)
            if skip and "missing" in fb.get_params(deep=False):
                fb.set_params(missing="skip")
            try:
                fb = fb.fit(fb_frame)
            except (ValueError, EstimationError) as err:
                raise EstimationError(
                    f"{owner}: GARCH rejected for {fb_names} and the fallback "
                    f"{type(fallback).__name__} could not be fitted: {err}"
                ) from err
            fb_var = np.vstack([fb.volatility_.to_numpy() ** 2, fb.forecast_[None, :] ** 2])
            for i, (name, j) in enumerate(zip(fb_names, fb_idx, strict=True)):
                var[:, j] = fb_var[:, i]
                nu[j] = fb.nu_[i]
                att = rejected[name]
                fits[name] = replace(
                    fb.fits_[name],
                    fallback_reason=att.reason,
                    warnings=att.warnings + fb.fits_[name].warnings,
                )
            self.fallback_ = fb
            detail = "; ".join(f"{n}: {rejected[n].reason}" for n in fb_names)
            message = _FALLBACK_MESSAGE.format(
                owner=owner,
                n_fb=len(fb_names),
                n=n_assets,
                fallback=type(fallback).__name__,
                detail=detail,
            )
            logger.info(message)
            warnings.warn(message, ConvergenceWarning, stacklevel=2)

        self._set_fitted(values, index, names, var, nu, fits)
        return self

    def _split(self) -> tuple[list[int], list[int]]:
        kept = [j for j, n in enumerate(self.asset_names_) if self.fits_[n].fallback_reason is None]
        fb = [j for j, n in enumerate(self.asset_names_) if self.fits_[n].fallback_reason]
        return kept, fb

    def _kept_params(self, kept: list[int]) -> dict[str, FloatArray]:
        recs = [self.fits_[self.asset_names_[j]] for j in kept]
        return {
            k: np.array([r.params.get(k, 0.0) for r in recs])
            for k in ("omega", "alpha", "beta", "gamma")
        }

    def forecast_path(self, horizon: int) -> FloatArray:
        """Analytic GARCH term structure (fallback assets: the fallback's own path).

        Parameters
        ----------
        horizon : int
            Number of days, >= 1.

        Returns
        -------
        ndarray of shape (horizon, n_assets)
            Expected daily volatility ``sqrt(E[sigma2_{T+h}])`` for h = 1..horizon (decimals).
        """
        check_is_fitted(self, "volatility_")
        horizon = check_int(horizon, "horizon", minimum=1)
        out = np.empty((horizon, self.n_assets_))
        kept, fb = self._split()
        if kept:
            p = self._kept_params(kept)
            pers = np.array([self.fits_[self.asset_names_[j]].persistence for j in kept])
            out[:, kept] = np.sqrt(
                garch_forecast_variance(self.forecast_[kept] ** 2, p["omega"], pers, horizon)
            )
        if fb:
            assert self.fallback_ is not None
            out[:, fb] = self.fallback_.forecast_path(horizon)
        return out

    def filter(self, returns: Any) -> FloatArray:
        """Continue each asset's fitted recursion over new returns (no refit).

        Parameters
        ----------
        returns : DataFrame or ndarray of shape (n_new, n_assets)
            Returns observed after the fit sample, same assets.

        Returns
        -------
        ndarray of shape (n_new + 1, n_assets)
            Row 0 is ``forecast_``; row ``t`` is the volatility of new day ``t`` given new returns
            before it; the last row is the forecast after the new data.
        """
        values = self._check_new_returns(returns)
        out = np.empty((values.shape[0] + 1, self.n_assets_))
        kept, fb = self._split()
        if kept:
            p = self._kept_params(kept)
            out[:, kept] = np.sqrt(
                garch_variance_path(
                    values[:, kept],
                    p["omega"],
                    p["alpha"],
                    p["beta"],
                    p["gamma"],
                    sigma2_0=self.forecast_[kept] ** 2,
                )
            )
        if fb:
            assert self.fallback_ is not None
            out[:, fb] = self.fallback_.filter(values[:, fb])
        return out
