"""Monte Carlo scenario generator composed from a volatility and a correlation estimator.

The generator turns daily log returns into joint price-relative paths in three ways:

``"fhs"`` (filtered historical simulation)
    Whole days (rows) of the standardised-residual matrix are drawn with replacement and scaled by
    the volatility forecast path. Drawing whole rows keeps the cross-asset dependence and the fat
    tails of the data, including joint crash days. A day on which an asset has no return (a
    trading gap, or a day before a young asset's first price) is still drawn for the others; that
    asset's cell is imputed at fit from the same day's residuals of the assets that have one
    (:func:`~optimizer.scenarios._impute.impute_conditional`: the regression on them through the
    pairwise residual correlation plus a resampled regression residual), so a crash day stays a
    joint crash for the young asset too (counted in ``n_imputed_cells_``).
``"parametric"``
    Multivariate Student-t innovations with the fitted correlation and a pooled degree of freedom,
    scaled to unit variance, times the volatility forecast path.
``"bootstrap"``
    Whole days of the raw returns, drawn with replacement and not rescaled: a reference method that
    ignores the current volatility regime. Only days complete across all assets are drawn.

Daily log returns are summed over the horizon and exponentiated, so the relatives are
``P[t0 + h] / P[t0] = exp(r_1 + ... + r_h)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from optimizer.estimators import (
    BaseCorrelation,
    BaseVolatility,
    GARCHVolatility,
    SampleCorrelation,
    ShrinkageCorrelation,
    stress_correlation,
)
from optimizer.exceptions import DataError, EstimationError
from optimizer.scenarios._impute import impute_conditional
from optimizer.scenarios._set import ScenarioSet
from optimizer.typing import FloatArray, ScenarioMethod

if TYPE_CHECKING:
    from collections.abc import Mapping

#: A :class:`~optimizer.typing.ScenarioMethod` or its value.
Method = ScenarioMethod | str
METHODS: tuple[str, ...] = tuple(m.value for m in ScenarioMethod)

# Scenarios are generated in blocks of about this many float64 numbers (16 MB per temporary), so
# memory beyond the output array stays bounded whatever ``n_scenarios`` is. The block size depends
# only on (horizon, n_assets), never on the machine, so a seed gives the same paths everywhere.
_BLOCK_ELEMENTS = 1 << 21


def _check_method(method: object) -> str:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    return str(method)


def _check_part(est: object, name: str, base: type, example: str) -> None:
    """Type-check a sub-estimator before it is cloned (as arch's setters and skfolio do)."""
    if not isinstance(est, base):
        raise TypeError(
            f"`{name}` must be a {base.__name__} estimator (e.g. {example}) or None, "
            f"got {type(est).__name__}"
        )


def _factor(corr: FloatArray) -> FloatArray:
    """Return ``A`` with ``A @ A.T == corr``: the Cholesky factor, or a PSD square root if singular.

    A singular correlation (e.g. the sample correlation of residuals of collinear assets) has no
    Cholesky factor; the eigen-decomposition, with negative round-off eigenvalues clipped to zero,
    still gives a valid factor.
    """
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(corr)
        return v * np.sqrt(np.clip(w, 0.0, None))


def _fhs_drift(pool: FloatArray, scale: FloatArray) -> FloatArray:
    """``c[h, i] = -log(mean_k exp(scale[h, i] * pool[k, i]))``, shape (horizon, n_assets).

    The exact centring of resampled rows: ``E[exp(scale * z[tau] + c)] = 1`` when ``tau`` is
    uniform over the rows. One (n_rows, n_assets) pass per day, through a stable log-sum-exp.

    NaN cells (days an asset has no residual) are left out of its mean, which keeps the centring
    exact under the imputation of :meth:`ScenarioGenerator.simulate`: with ``N`` rows, ``M`` of
    them missing for asset ``i`` and ``F = N - M`` finite, a finite residual ``z[k, i]`` is drawn
    with probability ``1/N + (M/N) (1/F) = 1/F``, so asset ``i``'s draw is uniform over its own
    finite residuals.
    """
    missing = np.isnan(pool)
    out = np.empty_like(scale)
    if missing.any():
        for i in range(pool.shape[1]):
            z = pool[~missing[:, i], i]
            out[:, i] = math.log(z.size) - logsumexp(scale[:, i, None] * z[None, :], axis=1)
        return out
    log_n = math.log(pool.shape[0])
    for h in range(scale.shape[0]):
        out[h] = log_n - logsumexp(scale[h] * pool, axis=0)
    return out


def _recolour_incomplete(
    z: FloatArray, own: FloatArray, target: FloatArray, std: FloatArray
) -> FloatArray:
    """Re-colour rows with missing cells, one pattern of observed assets at a time.

    For the rows whose observed assets are ``O``, the observed sub-vector is mapped by
    ``D_O A_t(O) A_o(O)^{-1} D_O^{-1}`` with ``A_t(O)``, ``A_o(O)`` factors of the ``O x O``
    blocks of ``target`` and ``own``: the same map as for complete rows, restricted to the assets
    the day has, so a crash day stays one joint draw. Missing cells stay NaN.

    Parameters
    ----------
    z : ndarray of shape (n_rows, n_assets)
        Residuals, NaN on missing days.
    own, target : ndarray of shape (n_assets, n_assets)
        Residual correlation and its stressed version.
    std : ndarray of shape (n_assets,)
        Residual standard deviations (positive).

    Returns
    -------
    ndarray of shape (n_rows, n_assets)
        Re-coloured rows, NaN exactly where ``z`` is NaN.
    """
    out = np.full_like(z, np.nan)
    observed = ~np.isnan(z)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        cols = np.flatnonzero(pattern)
        if cols.size == 0:
            continue
        rows = np.flatnonzero(which.ravel() == p)
        block = np.ix_(cols, cols)
        recolour = _factor(target[block]) @ np.linalg.pinv(_factor(own[block]))
        cells = np.ix_(rows, cols)
        out[cells] = ((z[cells] / std[cols]) @ recolour.T) * std[cols]
    return out


def _as_of(index: pd.Index) -> str:
    try:
        return pd.Timestamp(index[-1]).date().isoformat()
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"`returns` must be indexed by dates, got a last index label {index[-1]!r}"
        ) from err


class ScenarioGenerator(BaseEstimator):
    """Joint price-path scenarios from a fitted volatility model and a correlation model.

    Parameters
    ----------
    volatility : BaseVolatility or None, default None
        Fitted on the returns; provides ``residuals_`` (standardised residuals), ``nu_``
        (per-asset Student-t dof) and ``forecast_path(horizon)``. None means
        :class:`~optimizer.estimators.GARCHVolatility` ``()``. Cloned into ``volatility_`` at fit.
        To fit returns with missing days (NaN) it must be built with ``missing="skip"``.
    correlation : BaseCorrelation or None, default None
        Fitted on the standardised residuals; provides ``correlation_``. None means
        :class:`~optimizer.estimators.ShrinkageCorrelation` ``()``. Cloned into
        ``correlation_estimator_`` at fit.
    method : {"fhs", "parametric", "bootstrap"}, default "fhs"
        Default simulation method of :meth:`simulate`.
    dof : float or None, default None
        Degrees of freedom of the parametric Student-t (> 2; ``numpy.inf`` gives a Gaussian).
        None pools the volatility model's per-asset ``nu_`` by their median.
    vol_multiplier : float, default 1.0
        Multiplies every asset's volatility path (fhs and parametric).
    corr_stress : float in [0, 1], default 0.0
        Blend of the correlation towards one (:func:`~optimizer.estimators.stress_correlation`).
        Applied at fit: it defines ``correlation_`` and the re-coloured fhs innovations.
    vol_multipliers : dict of str to float or None, default None
        Per-asset volatility multipliers, applied on top of ``vol_multiplier``; assets not listed
        keep 1.

    Attributes
    ----------
    volatility_ : BaseVolatility
        The fitted clone of ``volatility``.
    correlation_estimator_ : BaseCorrelation
        The fitted clone of ``correlation``. (``correlation_`` holds its matrix after the stress, so
        that the fitted matrix has the name every other estimator in the package gives it.)
    asset_names_ : ndarray of shape (n_assets,)
        Column names of the returns.
    n_assets_ : int
    returns_ : ndarray of shape (n_obs, n_assets)
        The returns used by the ``"bootstrap"`` method: the days complete across all assets.
    residuals_ : ndarray of shape (n_residuals, n_assets)
        Standardised residuals of the volatility model. With complete returns, days with a missing
        residual for any asset are dropped. With missing returns (an asset's gap), every day with
        at least one residual is kept and the cells of the assets without one are NaN.
    n_imputed_cells_ : int
        Number of NaN cells in ``residuals_`` (0 for complete returns). Each is imputed at fit
        from the same day's residuals of the other assets (``imputed_cells_``), or, when fewer
        than 30 days are complete, left NaN in ``innovations_`` and filled every time its day is
        drawn with one of that asset's own finite innovations (see :meth:`simulate`).
    imputed_cells_ : ndarray of bool, shape (n_residuals, n_assets)
        The cells of ``innovations_`` imputed conditionally on the other assets.
    imputed_by_asset_ : dict of str to int
        Conditionally imputed cells per asset (assets with none are left out).
    imputed_r_squared_ : dict of str to float
        Per imputed asset, the share of its residual variance the regression on the others
        explains (how joint its imputed days are).
    residual_correlation_ : ndarray of shape (n_assets, n_assets)
        Correlation of ``residuals_``, each pair on the days both assets have a residual
        (:class:`~optimizer.estimators.SampleCorrelation`, pairwise; repaired to positive
        definite); the imputation's regression uses it.
    innovations_ : ndarray of shape (n_residuals, n_assets)
        The rows the ``"fhs"`` method draws: ``residuals_`` with the missing cells imputed when
        ``corr_stress == 0``, else those rows re-coloured to the stressed correlation (see
        :meth:`simulate`); NaN only where a missing cell could not be imputed.
    correlation_ : ndarray of shape (n_assets, n_assets)
        The correlation model's matrix after ``corr_stress``; used by the ``"parametric"`` method.
    nu_ : float
        Pooled Student-t dof of the parametric method: ``dof`` if given, else the median of the
        volatility model's per-asset ``nu_`` (``inf`` when it reports none).
    as_of_ : str
        ISO date of the last return, the ``t0`` of every scenario.

    Examples
    --------
    >>> gen = ScenarioGenerator(vol_multiplier=1.5).fit(returns)  # doctest: +SKIP
    >>> scen = gen.simulate(10, 100_000, rng=np.random.default_rng(0))  # doctest: +SKIP
    >>> scen.relatives.shape  # doctest: +SKIP
    (100000, 10, 4)
    """

    def __init__(
        self,
        volatility: BaseVolatility | None = None,
        correlation: BaseCorrelation | None = None,
        method: Method = "fhs",
        dof: float | None = None,
        vol_multiplier: float = 1.0,
        corr_stress: float = 0.0,
        vol_multipliers: Mapping[str, float] | None = None,
    ) -> None:
        self.volatility = volatility
        self.correlation = correlation
        self.method = method
        self.dof = dof
        self.vol_multiplier = vol_multiplier
        self.corr_stress = corr_stress
        self.vol_multipliers = vol_multipliers

    # ------------------------------------------------------------------ fit
    def fit(
        self, returns: pd.DataFrame, y: None = None, *, rng: np.random.Generator | None = None
    ) -> ScenarioGenerator:
        """Fit the volatility model on ``returns`` and the correlation model on its residuals.

        Parameters
        ----------
        returns : DataFrame of shape (n_obs, n_assets)
            Daily log returns as decimals, indexed by date, one column per asset. NaN marks a day
            on which an asset has no return (e.g. ``PriceData.returns(gaps="keep")``); it needs a
            volatility estimator built with ``missing="skip"``. Infinite values are rejected.
        y : None
            Ignored (sklearn signature).
        rng : numpy.random.Generator or None, default None
            Draws the resampled regression residuals of the imputation of missing residuals (the
            run's named ``imputation`` stream); required when ``returns`` has NaN, unused
            otherwise.

        Returns
        -------
        self : ScenarioGenerator

        Raises
        ------
        DataError
            If ``returns`` has an infinite value.
        ValueError
            If ``returns`` has NaN and the volatility estimator does not have ``missing="skip"``,
            or no ``rng`` is given.
        EstimationError
            If fewer than ``max(2, n_assets + 1)`` days have a residual for every asset.
        """
        _check_method(self.method)
        self._check_params()
        if self.method == "bootstrap":
            self._check_bootstrap_unstressed()  # fail before fitting anything
        if not isinstance(returns, pd.DataFrame):
            raise TypeError(f"`returns` must be a pandas DataFrame, got {type(returns).__name__}")
        if returns.shape[0] < 2 or returns.shape[1] < 1:
            raise ValueError(
                f"`returns` needs at least 2 rows and 1 column, got shape {returns.shape}"
            )
        values = returns.to_numpy(dtype=np.float64)
        bad = np.isinf(values)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DataError(
                f"`returns` has a missing or non-finite value for asset {returns.columns[j]!r} on "
                f"{returns.index[i]}; drop or fill such days before fitting"
            )
        self.as_of_ = _as_of(returns.index)
        self.asset_names_ = np.asarray([str(c) for c in returns.columns], dtype=object)
        self.n_assets_ = len(self.asset_names_)
        self._check_vol_multipliers(self.vol_multipliers)

        vol = GARCHVolatility() if self.volatility is None else self.volatility
        cor = ShrinkageCorrelation() if self.correlation is None else self.correlation
        _check_part(vol, "volatility", BaseVolatility, "GARCHVolatility()")
        _check_part(cor, "correlation", BaseCorrelation, "ShrinkageCorrelation()")
        missing = np.isnan(values)
        if missing.any() and vol.get_params(deep=False).get("missing") != "skip":
            i, j = np.argwhere(missing)[0]
            raise ValueError(
                f"`returns` has {int(missing.sum())} missing value(s), the first for asset "
                f"{returns.columns[j]!r} on {returns.index[i]}; to fit across such gaps build the "
                f"volatility estimator with missing='skip' (e.g. {type(vol).__name__}"
                "(missing='skip')), or drop those days"
            )
        if missing.any() and not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"`returns` has {int(missing.sum())} missing value(s), which fit imputes from the "
                "other assets' residuals of the same day: pass `rng=` a numpy.random.Generator "
                f"(the run's imputation stream), got {type(rng).__name__}"
            )

        self.volatility_ = clone(vol).fit(returns)
        resid = pd.DataFrame(self.volatility_.residuals_)
        try:
            resid = resid.loc[:, list(returns.columns)]
        except KeyError as err:
            raise EstimationError(
                f"{type(vol).__name__}.residuals_ does not have the return columns: {err}"
            ) from None
        resid = resid.replace([np.inf, -np.inf], np.nan)
        # With gaps in the returns a day stays if any asset has a residual on it: the others'
        # moves on an asset's missing days (FTX, the CRV squeeze inside usdc's Binance gap) are
        # exactly the days the scenarios must see. A day with no residual at all holds nothing.
        resid = resid.dropna(how="all" if missing.any() else "any")
        z = resid.to_numpy(dtype=np.float64)
        complete = ~np.isnan(z).any(axis=1)
        n_complete = int(complete.sum())
        if n_complete < max(2, self.n_assets_ + 1):
            raise EstimationError(
                f"only {n_complete} days of complete standardised residuals for "
                f"{self.n_assets_} assets; need at least {max(2, self.n_assets_ + 1)}"
            )
        self.returns_ = values[~missing.any(axis=1)] if missing.any() else values
        self.residuals_ = z
        self.n_imputed_cells_ = int(z.size - np.count_nonzero(~np.isnan(z)))
        if self.n_imputed_cells_:
            self.residual_correlation_ = SampleCorrelation().fit(z).correlation_
            filled = impute_conditional(z, self.residual_correlation_, rng=rng)
            pool = filled.values
            self.imputed_cells_ = filled.imputed
            names = [str(a) for a in self.asset_names_]
            self.imputed_by_asset_ = {a: int(c) for a, c in zip(names, filled.counts) if c}
            self.imputed_r_squared_ = {a: float(filled.r_squared[i]) for i, a in enumerate(names)
                                       if a in self.imputed_by_asset_}
        else:
            pool = z
            self.imputed_cells_ = np.zeros(z.shape, dtype=bool)
            self.imputed_by_asset_, self.imputed_r_squared_ = {}, {}
        pool_complete = ~np.isnan(pool).any(axis=1)
        imputing = not pool_complete.all()  # cells left for the per-draw own-residual fill

        self.correlation_estimator_ = clone(cor).fit(resid)
        base = np.asarray(self.correlation_estimator_.correlation_, dtype=np.float64)
        if base.shape != (self.n_assets_, self.n_assets_):
            raise EstimationError(
                f"{type(cor).__name__}.correlation_ has shape {base.shape}, "
                f"expected {(self.n_assets_, self.n_assets_)}"
            )
        # the rows fhs draws: their own sample correlation is what the stress re-colours
        own = np.atleast_2d(np.corrcoef(pool[pool_complete] if imputing else pool, rowvar=False))
        own = np.nan_to_num(own, nan=0.0)  # a constant residual column has no correlation
        np.fill_diagonal(own, 1.0)
        if not self.n_imputed_cells_:
            self.residual_correlation_ = own
        stress = float(self.corr_stress)
        if stress > 0.0:
            self.correlation_ = np.asarray(stress_correlation(base, stress), float)
            target = np.asarray(stress_correlation(own, stress), float)
            # Whiten with the residuals' own correlation, re-colour with its stressed version, in
            # units of each asset's residual std so that the marginal variances are kept and the
            # sample correlation of the re-coloured rows is exactly ``target``.
            std = (pool[pool_complete] if imputing else pool).std(axis=0)
            std = np.where(std > 0, std, 1.0)
            if imputing:
                self.innovations_ = _recolour_incomplete(pool, own, target, std)
            else:
                recolour = _factor(target) @ np.linalg.pinv(_factor(own))
                self.innovations_ = ((pool / std) @ recolour.T) * std
        else:
            self.correlation_ = base
            self.innovations_ = pool
        self._fitted_corr_stress = stress

        if self.dof is not None:
            self.nu_ = float(self.dof)
        else:
            nus = np.asarray(getattr(self.volatility_, "nu_", np.array([])), dtype=np.float64)
            nus = nus[~np.isnan(nus)]
            self.nu_ = float(np.median(nus)) if nus.size else math.inf
        return self

    def _check_params(self) -> None:
        vm = self.vol_multiplier
        if not (isinstance(vm, (int, float, np.number)) and math.isfinite(vm) and vm > 0):
            raise ValueError(f"`vol_multiplier` must be a finite number > 0, got {vm!r}")
        cs = self.corr_stress
        if not (isinstance(cs, (int, float, np.number)) and 0.0 <= cs <= 1.0):
            raise ValueError(f"`corr_stress` must be in [0, 1], got {cs!r}")
        if self.dof is not None and not (
            isinstance(self.dof, (int, float, np.number)) and self.dof > 2
        ):
            raise ValueError(
                f"`dof` must be > 2 (unit-variance Student-t) or None, got {self.dof!r}"
            )

    def _check_bootstrap_unstressed(self) -> None:
        stressed = (
            float(self.vol_multiplier) != 1.0
            or float(self.corr_stress) != 0.0
            or any(float(v) != 1.0 for v in dict(self.vol_multipliers or {}).values())
        )
        if stressed:
            raise ValueError(
                "method='bootstrap' replays raw returns and applies no `vol_multiplier`, "
                f"`vol_multipliers` or `corr_stress` (got {self.vol_multiplier!r}, "
                f"{self.vol_multipliers!r}, {self.corr_stress!r}); use method='fhs' for stressed "
                "historical scenarios"
            )

    def _check_vol_multipliers(self, multipliers: Mapping[str, float] | None) -> FloatArray:
        out = np.ones(len(self.asset_names_))
        if multipliers is None:
            return out
        names = list(self.asset_names_)
        for asset, m in dict(multipliers).items():
            if asset not in names:
                raise ValueError(
                    f"`vol_multipliers` names asset {asset!r}, which is not in the returns {names}"
                )
            if not (isinstance(m, (int, float, np.number)) and math.isfinite(m) and m > 0):
                raise ValueError(
                    f"`vol_multipliers[{asset!r}]` must be a finite number > 0, got {m!r}"
                )
            out[names.index(asset)] = float(m)
        return out

    def scaled_volatility(self) -> FloatArray:
        """Daily volatility the scenarios are simulated at, shape (n_assets,).

        The fitted one-step forecast ``volatility_.forecast_`` times ``vol_multiplier`` and the
        per-asset ``vol_multipliers``.
        """
        check_is_fitted(self, "volatility_")
        per_asset = self._check_vol_multipliers(self.vol_multipliers)
        return np.asarray(self.volatility_.forecast_, dtype=float) * self.vol_multiplier * per_asset

    # ------------------------------------------------------------- simulate
    def simulate(
        self,
        horizon: int,
        n_scenarios: int,
        *,
        rng: np.random.Generator,
        method: Method | None = None,
    ) -> ScenarioSet:
        """Draw joint price-relative paths.

        Parameters
        ----------
        horizon : int
            Number of days, >= 1.
        n_scenarios : int
            Number of paths, >= 1.
        rng : numpy.random.Generator
            The only source of randomness.
        method : {"fhs", "parametric", "bootstrap"} or None, default None
            None uses the ``method`` parameter.

        Returns
        -------
        ScenarioSet
            ``relatives`` is a float64 ndarray of shape (n_scenarios, horizon, n_assets) with
            ``relatives[s, h-1, i] = exp(sum_{k<=h} r[s, k, i])``. ``info`` holds the method, the
            dof (parametric), the multipliers, ``corr_stress``, the estimators and a summary of the
            model's daily volatility path (before multipliers).

        Notes
        -----
        For day ``h`` (1-based) and asset ``i`` let ``s[h, i] = sigma_path[h, i] * m_i`` where
        ``sigma_path = volatility_.forecast_path(horizon)`` and ``m_i = vol_multiplier *
        vol_multipliers.get(asset_i, 1)``. The daily log return is

        - fhs: ``r = s * z[tau] + c`` where ``tau`` is a uniformly drawn day (row) of
          ``innovations_``, one draw per scenario and day shared by all assets, and
          ``c[h, i] = -log(mean_k exp(s[h, i] * z[k, i]))`` over all rows ``k`` (over the rows
          where asset ``i`` has an innovation, when some are missing; see below);
        - parametric: ``r = s * t - s**2 / 2`` where ``t`` is multivariate Student-t with
          correlation ``correlation_`` and dof ``nu_``, scaled by ``sqrt((nu - 2) / nu)`` to unit
          variance (Gaussian when ``nu_`` is infinite); independent across days;
        - bootstrap: ``r = returns_[tau]``, raw: no drift correction, volatility or correlation
          change, so the sample's own drift stays in (a reference, not a risk forecast). The
          multipliers and ``corr_stress`` do not apply; setting them raises ``ValueError``.

        The drift terms centre the paths so that the expected price relative is 1 on every day (no
        drift over the risk horizon, whatever the sample's trend). For the parametric method
        ``-s**2 / 2`` is the Ito correction, exact for Gaussian innovations; a Student-t has no
        moment-generating function, so there it holds to second order in ``s`` only: at daily
        volatilities the Monte Carlo mean of the relatives is 1 within its standard error, at
        stressed ones (``s`` near 0.2, e.g. crv times 3) the right tail pushes it about 1 % above.
        For fhs the innovation distribution is the finite set of rows, so ``c`` is its exact
        log-moment-generating function: ``E[relative] = 1`` exactly under resampling. It also
        removes the residuals' sample mean (a bull market's positive residuals), which with only
        the Ito term left 10-day mean relatives of 1.006-1.010 for 2021-2025 btc/eth.

        With ``corr_stress > 0`` the fhs rows are re-coloured at fit:
        ``z -> D A_t A_o^{-1} D^{-1} z`` where ``D`` holds the residuals' standard deviations,
        ``A_o`` is the Cholesky factor of their own sample correlation and ``A_t`` that of its
        stressed version (``stress_correlation``). The re-coloured rows have exactly the stressed
        sample correlation and the same per-asset variances; each day stays one joint draw, so
        crash days stay joint, and ``corr_stress -> 0`` recovers plain fhs continuously. (The
        correlation *model*, e.g. shrinkage, is used by the parametric method only: fhs keeps the
        empirical dependence by design.) Rows with missing cells are re-coloured with the blocks
        of the assets they have.

        Missing residuals (``n_imputed_cells_ > 0``: a trading gap, or the days before a young
        asset's first price). fhs still draws ``tau`` uniformly over **all** rows, so the other
        assets' moves on an asset's missing days are drawn, and the asset's cell on such a day was
        imputed at fit from that day's residuals of the assets that have one: with ``u`` the
        residuals in units of each asset's standard deviation, ``u_M = C_MO C_OO^{-1} u_O + e``,
        ``C`` their pairwise correlation and ``e`` the regression residual of a complete day drawn
        with the ``rng`` of :meth:`fit` (:func:`~optimizer.scenarios._impute.impute_conditional`).
        A day that crashed every listed asset is then a crash for the young asset too, in
        proportion to how much the regression explains (``imputed_r_squared_``); its marginal
        keeps unit variance and its fat tails come from the resampled ``e``. The imputed rows are
        part of the pool, so the drift correction ``c`` stays exact over what is drawn. Counted in
        ``info["imputed_residual_cells"]`` and, per asset, ``info["imputation"]``. Only with fewer
        than 30 complete days is a drawn missing cell replaced, per draw, by one of that asset's
        own innovations drawn uniformly with the simulation ``rng`` (after ``tau``, block by block,
        asset by asset): independent of the others' moves that day. Prices are never filled; the
        parametric method uses the correlation model (pairwise on missing days), and bootstrap
        draws complete rows only.
        """
        check_is_fitted(self, "innovations_")
        method = _check_method(self.method if method is None else method)
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
            raise TypeError(f"`horizon` must be an int, got {type(horizon).__name__}")
        if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, (int, np.integer)):
            raise TypeError(f"`n_scenarios` must be an int, got {type(n_scenarios).__name__}")
        if horizon < 1:
            raise ValueError(f"`{horizon=}` must be >= 1")
        if n_scenarios < 1:
            raise ValueError(f"`{n_scenarios=}` must be >= 1")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"`rng` must be a numpy.random.Generator, got {type(rng).__name__}; "
                "normalise seeds with optimizer.typing.check_rng"
            )
        self._check_params()
        if float(self.corr_stress) != self._fitted_corr_stress:
            raise ValueError(
                f"`corr_stress` is {self.corr_stress!r} but the generator was fitted with "
                f"{self._fitted_corr_stress!r}; call fit() again after changing it"
            )
        horizon, n_scenarios = int(horizon), int(n_scenarios)
        per_asset = self._check_vol_multipliers(self.vol_multipliers)
        multiplier = float(self.vol_multiplier) * per_asset
        n = self.n_assets_

        sigma_path = np.asarray(self.volatility_.forecast_path(horizon), dtype=np.float64)
        if sigma_path.shape != (horizon, n) or not np.all(np.isfinite(sigma_path)):
            raise EstimationError(
                f"{type(self.volatility_).__name__}.forecast_path({horizon}) returned "
                f"shape {sigma_path.shape} (expected {(horizon, n)}) or non-finite values"
            )
        if np.any(sigma_path < 0):
            raise EstimationError(
                f"{type(self.volatility_).__name__}.forecast_path gave a negative volatility"
            )

        out = np.empty((n_scenarios, horizon, n), dtype=np.float64)
        block = max(1, _BLOCK_ELEMENTS // (horizon * n))
        scale = sigma_path * multiplier  # (horizon, n)
        drift = -0.5 * scale**2  # parametric; fhs replaces it below

        if method == "bootstrap":
            self._check_bootstrap_unstressed()
            pool = self.returns_
            for lo in range(0, n_scenarios, block):
                hi = min(lo + block, n_scenarios)
                tau = rng.integers(0, pool.shape[0], size=(hi - lo, horizon))
                x = pool[tau]
                np.cumsum(x, axis=1, out=x)
                np.exp(x, out=out[lo:hi])
        elif method == "fhs":
            pool = self.innovations_
            drift = _fhs_drift(pool, scale)
            holes = [
                (j, pool[~np.isnan(pool[:, j]), j])
                for j in np.flatnonzero(np.isnan(pool).any(axis=0))
            ]
            for lo in range(0, n_scenarios, block):
                hi = min(lo + block, n_scenarios)
                tau = rng.integers(0, pool.shape[0], size=(hi - lo, horizon))
                x = pool[tau]
                for j, own_z in holes:
                    xj = x[:, :, j]  # a view: filling it fills x
                    gap = np.isnan(xj)
                    n_gap = int(np.count_nonzero(gap))
                    if n_gap:
                        xj[gap] = own_z[rng.integers(0, own_z.size, size=n_gap)]
                x *= scale
                x += drift
                np.cumsum(x, axis=1, out=x)
                np.exp(x, out=out[lo:hi])
        else:  # parametric
            nu = self.nu_
            if not nu > 2:
                raise EstimationError(
                    f"pooled Student-t dof `nu_`={nu!r} is not > 2, so the innovations would have "
                    "infinite variance; pass `dof=` (e.g. 4) to the generator"
                )
            factor = _factor(self.correlation_)
            for lo in range(0, n_scenarios, block):
                m = min(lo + block, n_scenarios) - lo
                z = rng.standard_normal((m * horizon, n))
                # x = z @ A.T through einsum: BLAS gemm on these tall-thin shapes is multi-threaded
                # and, on a busy machine, stalled for up to 0.7 s per block; einsum is
                # single-threaded, steady (10-50 ms per block) and returns a C-contiguous array.
                x = np.einsum("mk,jk->mj", z, factor).reshape(m, horizon, n)
                if math.isfinite(nu):
                    # Unit-variance t: t * sqrt((nu-2)/nu) with t = z / sqrt(w/nu), w ~ chi2(nu),
                    # i.e. z * sqrt((nu-2)/w); w = 2 * Gamma(nu/2), as numpy's chisquare draws it.
                    w = rng.standard_gamma(0.5 * nu, size=(m, horizon))
                    w *= 2.0
                    x *= np.sqrt((nu - 2.0) / w)[:, :, None]
                x *= scale
                x += drift
                np.cumsum(x, axis=1, out=x)
                np.exp(x, out=out[lo : lo + m])

        names = tuple(self.asset_names_)
        info: dict[str, Any] = {
            "method": method,
            "dof": self.nu_ if method == "parametric" else None,
            "vol_multiplier": float(self.vol_multiplier),
            "vol_multipliers": {a: float(v) for a, v in dict(self.vol_multipliers or {}).items()},
            "corr_stress": self._fitted_corr_stress,
            "drift_correction": {
                "fhs": "exact log-mgf of the residual rows",
                "parametric": "ito (-sigma**2/2)",
                "bootstrap": "none",
            }[method],
            "volatility": repr(self.volatility_),
            "correlation": repr(self.correlation_estimator_),
            "n_obs": int((self.returns_ if method == "bootstrap" else self.innovations_).shape[0]),
            "imputed_residual_cells": self.n_imputed_cells_ if method == "fhs" else 0,
            "imputation": {
                "rule": "conditional on the same day's residuals of the other assets",
                "cells_by_asset": dict(self.imputed_by_asset_),
                "r_squared": dict(self.imputed_r_squared_),
            } if method == "fhs" and self.imputed_by_asset_ else None,
            "sigma_path": {
                "first": dict(zip(names, map(float, sigma_path[0]), strict=True)),
                "last": dict(zip(names, map(float, sigma_path[-1]), strict=True)),
                "mean": dict(zip(names, map(float, sigma_path.mean(axis=0)), strict=True)),
            },
        }
        return ScenarioSet(
            assets=names, relatives=out, method=method, as_of=self.as_of_, weights=None, info=info
        )
