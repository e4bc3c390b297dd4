"""Correlation estimators (sample, EWM, Ledoit-Wolf shrinkage) and correlation-matrix repair.

Estimators are usually fitted on the standardized residuals of a volatility estimator
(``BaseVolatility.residuals_``). Missing cells (NaN: an asset's trading gap, or the days before a
young asset's first price) are handled **pairwise**: the entry of assets ``i`` and ``j`` is
estimated on the days both have (``n_common_``), so a young asset's missing days never shorten,
and so never change, the sample on which two older assets' correlation is estimated. (Listwise
deletion, the rows complete across all assets, would let the youngest asset truncate every pair.)
A pairwise matrix need not be positive definite; the repair below makes it one. Every fitted
``correlation_`` is exactly symmetric, has an exactly unit diagonal and is positive definite
(Cholesky succeeds): when the raw estimate is not, it is repaired with
:func:`nearest_correlation` and ``repaired_`` is set.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.covariance import LedoitWolf

from optimizer.estimators._validation import check_fraction, check_int, check_returns
from optimizer.typing import FloatArray

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "BaseCorrelation",
    "EWMCorrelation",
    "SampleCorrelation",
    "ShrinkageCorrelation",
    "mean_offdiagonal",
    "merge_correlation",
    "nearest_correlation",
    "pairwise_correlation",
    "stress_correlation",
]

_SYMMETRY_TOL = 1e-8


# ---------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------
def _check_square(C: Any, name: str = "C") -> FloatArray:
    a = np.array(C, dtype=np.float64, copy=True)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty square matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"`{name}` has NaN or infinite entries")
    asym = float(np.max(np.abs(a - a.T)))
    if asym > _SYMMETRY_TOL * max(1.0, float(np.max(np.abs(a)))):
        raise ValueError(f"`{name}` must be symmetric, got max |C - C.T| = {asym:.3g}")
    return 0.5 * (a + a.T)


def _unit_diag(a: FloatArray) -> FloatArray:
    """Exact symmetry and unit diagonal after a congruence rescale ``D^-1/2 A D^-1/2``."""
    d = np.sqrt(np.diag(a))
    out = a / np.outer(d, d)
    out = 0.5 * (out + out.T)
    np.fill_diagonal(out, 1.0)
    return out


def _is_pd(a: FloatArray, min_eig: float) -> bool:
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return False
    return bool(np.linalg.eigvalsh(a)[0] >= min_eig)


def _clip_eigen(a: FloatArray, floor: float) -> FloatArray:
    w, v = np.linalg.eigh(a)
    return (v * np.maximum(w, floor)) @ v.T


def nearest_correlation(
    C: Any,
    min_eig: float = 1e-8,
    *,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> FloatArray:
    """Nearest positive-definite correlation matrix (Higham 2002, then an eigenvalue floor).

    Alternating projections with Dykstra's correction between the positive semi-definite cone and
    the unit-diagonal matrices (Frobenius norm, unit weights), followed by clipping the eigenvalues
    at ``min_eig`` and rescaling to a unit diagonal (a congruence, so positive definiteness is
    kept). A matrix that already is a correlation matrix with smallest eigenvalue ``>= min_eig``
    is returned unchanged (up to exact symmetrisation).

    Parameters
    ----------
    C : array-like of shape (n_assets, n_assets)
        Symmetric matrix, usually an indefinite "correlation" estimate.
    min_eig : float, default=1e-8
        Eigenvalue floor in (0, 1).
    max_iter : int, default=200
        Maximum alternating-projection iterations.
    tol : float, default=1e-10
        Relative Frobenius change below which the projections stop.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        Exactly symmetric, unit diagonal, positive definite (Cholesky succeeds).

    Raises
    ------
    ValueError
        If ``C`` is not square, finite and symmetric, or ``min_eig`` is not in (0, 1).

    References
    ----------
    N. J. Higham, "Computing the nearest correlation matrix - a problem from finance",
    IMA J. Numer. Anal. 22 (2002) 329-343.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    >>> X = nearest_correlation(C)
    >>> bool(np.linalg.eigvalsh(X).min() > 0), np.diag(X).tolist()
    (True, [1.0, 1.0, 1.0])
    """
    a = _check_square(C)
    min_eig = check_fraction(min_eig, "min_eig", low=0.0, high=1.0, closed="neither")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if np.allclose(np.diag(a), 1.0, rtol=0.0, atol=1e-12) and _is_pd(a, min_eig):
        out = a.copy()
        np.fill_diagonal(out, 1.0)
        return out

    y = a.copy()
    ds = np.zeros_like(a)
    for _ in range(max_iter):
        r = y - ds
        x = _clip_eigen(r, 0.0)
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        change = np.linalg.norm(y_new - y) / max(np.linalg.norm(y_new), 1.0)
        y = y_new
        if change < tol:
            break

    out = _unit_diag(_clip_eigen(y, min_eig))
    # The rescale keeps positive definiteness but may nudge the smallest eigenvalue below
    # min_eig by rounding; a couple of extra clips settle it.
    for _ in range(5):
        if _is_pd(out, 0.5 * min_eig):
            break
        out = _unit_diag(_clip_eigen(out, 2.0 * min_eig))
    return out


def stress_correlation(C: Any, blend: float, *, max_corr: float = 0.999) -> FloatArray:
    """Blend a correlation matrix toward perfect co-movement: ``(1 - b) C + b * ones``.

    Off-diagonal entries are then capped at ``max_corr`` (``b = 1`` would be singular) and the
    result is repaired with :func:`nearest_correlation`, so it stays positive definite. Every
    off-diagonal entry is non-decreasing in ``blend``.

    Parameters
    ----------
    C : array-like of shape (n_assets, n_assets)
        Correlation matrix.
    blend : float
        Weight ``b`` in [0, 1] on the all-ones matrix; 0 returns ``C`` (repaired if needed).
    max_corr : float, default=0.999
        Cap on off-diagonal entries, in (0, 1).

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        Positive-definite correlation matrix.

    Raises
    ------
    ValueError
        If ``blend`` is not in [0, 1], ``max_corr`` not in (0, 1), or ``C`` is not a symmetric
        matrix with unit diagonal.
    """
    a = _check_square(C)
    b = check_fraction(blend, "blend", low=0.0, high=1.0, closed="both")
    cap = check_fraction(max_corr, "max_corr", low=0.0, high=1.0, closed="neither")
    if not np.allclose(np.diag(a), 1.0, rtol=0.0, atol=1e-8):
        raise ValueError(f"`C` must have a unit diagonal, got diag={np.diag(a).round(6).tolist()}")
    s = (1.0 - b) * a + b
    s = np.clip(s, -1.0, cap)
    np.fill_diagonal(s, 1.0)
    return nearest_correlation(s)


def pairwise_correlation(panel: Any, *, min_periods: int = 30) -> FloatArray:
    """Correlation of each pair of columns on the rows both have, repaired to positive definite.

    Parameters
    ----------
    panel : pandas.DataFrame of shape (n_days, n_assets)
        Series per asset, NaN where an asset has no value (histories of different lengths).
    min_periods : int, default=30
        Fewest common rows for a pair's correlation; a pair with fewer is taken as 0.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        Positive-definite correlation matrix (:func:`nearest_correlation`).
    """
    corr = panel.corr(min_periods=min_periods).to_numpy(dtype=float)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return nearest_correlation(corr)


def merge_correlation(
    assets: tuple[str, ...], names: tuple[str, ...], matrix: Any, fallback: Any
) -> FloatArray:
    """``matrix`` (over ``names``) where it has both assets of a pair, ``fallback`` elsewhere.

    Parameters
    ----------
    assets : tuple of str, length n_assets
        Order of the result (and of ``fallback``).
    names : tuple of str
        Assets of ``matrix``, in its order (may be a subset or superset of ``assets``).
    matrix : array-like of shape (len(names), len(names))
    fallback : array-like of shape (n_assets, n_assets)

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        The merged matrix repaired to positive definite (:func:`nearest_correlation`).
    """
    mat = np.asarray(matrix, dtype=float)
    out = np.array(fallback, dtype=float, copy=True)
    idx = {a: i for i, a in enumerate(names)}
    for i, a in enumerate(assets):
        for j, b in enumerate(assets):
            if a in idx and b in idx:
                out[i, j] = mat[idx[a], idx[b]]
    return nearest_correlation(out)


def mean_offdiagonal(C: Any, i: int) -> float | None:
    """Mean correlation of asset ``i`` with the other assets (None when there is no other asset)."""
    c = np.asarray(C, dtype=float)
    if c.shape[0] < 2:
        return None
    return float(np.delete(c[i], i).mean())


def _cov_to_corr(cov: FloatArray) -> FloatArray:
    d = np.sqrt(np.diag(cov))
    out = cov / np.outer(d, d)
    return 0.5 * (out + out.T)


def _pairwise_moments(
    values: FloatArray, *, center: bool, lam: float | None = None
) -> FloatArray:
    """Correlation of each pair of columns on the rows both have (NaN elsewhere).

    ``center=True`` demeans each pair on its common rows (Pearson, as pandas' ``corr``);
    ``center=False`` uses zero-mean second moments. With ``lam`` the common rows of a pair are
    weighted ``lam**(n_ij - 1 - k)``, ``k`` counting that pair's common rows (a day missing for
    either asset does not decay the weights). Columns without NaN give the plain estimates.
    """
    obs = ~np.isnan(values)
    p = values.shape[1]
    out = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            both = obs[:, i] & obs[:, j]
            a, b = values[both, i], values[both, j]
            w = np.ones(a.size) if lam is None else lam ** np.arange(a.size - 1, -1, -1.0)
            w = w / w.sum()
            if center:
                a = a - w @ a
                b = b - w @ b
            den = np.sqrt((w @ (a * a)) * (w @ (b * b)))
            # a pair constant on its few common days has no correlation there: 0
            out[i, j] = out[j, i] = (w @ (a * b)) / den if den > 0 else 0.0
    return out


# ---------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------
class BaseCorrelation(BaseEstimator, metaclass=ABCMeta):
    """Base class of the correlation estimators.

    Attributes
    ----------
    correlation_ : ndarray of shape (n_assets, n_assets)
        Exactly symmetric, unit diagonal, positive definite.
    asset_names_ : list of str
        Asset names (DataFrame columns or ``"x0" ..``).
    n_assets_ : int
        Number of assets.
    repaired_ : bool
        True if the raw estimate needed :func:`nearest_correlation`.
    n_complete_ : int
        Number of rows complete across all assets.
    n_common_ : ndarray of shape (n_assets, n_assets)
        Number of rows on which both assets of a pair have a value (the diagonal: each asset's
        own count): the rows each entry is estimated on.
    """

    correlation_: FloatArray
    asset_names_: list[str]
    n_assets_: int
    repaired_: bool
    n_complete_: int
    n_common_: FloatArray

    _min_obs = 2

    @abstractmethod
    def _estimate(self, values: FloatArray) -> FloatArray:
        """Raw correlation estimate from validated data (n_observations, n_assets).

        ``values`` may hold NaN (missing cells); an estimate then uses, for each pair, the rows
        both assets have.
        """

    def _validate_params(self) -> None:
        """Check hyperparameters (override when there are any)."""

    def fit(self, X: Any, y: None = None) -> Self:
        """Estimate the correlation matrix.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_observations, n_assets)
            Usually standardized residuals ``r_t / sigma_t``. NaN marks an asset's missing day:
            each pair's entry is estimated on the rows both assets have (pairwise), and the
            matrix is then repaired to positive definite; infinite values are rejected.
        y : None
            Ignored.

        Returns
        -------
        self
            Fitted estimator.

        Raises
        ------
        ValueError
            If ``X`` is invalid (see :func:`check_returns`), a column is constant, or a pair of
            assets has fewer than the estimator's minimum number of rows in common.
        """
        self._validate_params()
        owner = type(self).__name__
        values, _, names = check_returns(
            X, min_obs=self._min_obs, owner=owner, arg="X", check_scale=False, allow_nan=True
        )
        obs = ~np.isnan(values)
        common = obs.T.astype(np.float64) @ obs.astype(np.float64)
        n_complete = int(obs.all(axis=1).sum())
        if common.min() < self._min_obs:
            i, j = np.unravel_index(int(np.argmin(common)), common.shape)
            raise ValueError(
                f"{owner} needs at least {self._min_obs} rows on which both assets of a pair have "
                f"a value, got n_common={int(common[i, j])} for {names[i]!r} and {names[j]!r} "
                f"(n_observations={values.shape[0]}); their missing days barely overlap"
            )
        if n_complete == values.shape[0]:
            spread = np.ptp(values, axis=0)
        else:
            spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
        flat = [names[j] for j in np.flatnonzero(spread == 0.0)]
        if flat:
            raise ValueError(f"`X` column(s) {flat} are constant; their correlation is undefined")
        raw = self._estimate(values)
        raw = 0.5 * (raw + raw.T)
        np.fill_diagonal(raw, 1.0)
        fixed = nearest_correlation(raw)
        self.repaired_ = not np.array_equal(fixed, raw)
        self.correlation_ = fixed
        self.asset_names_ = names
        self.n_assets_ = len(names)
        self.n_complete_ = n_complete
        self.n_common_ = common
        return self


class SampleCorrelation(BaseCorrelation):
    """Pearson sample correlation (demeaned, equal weights).

    Attributes
    ----------
    correlation_, asset_names_, n_assets_, repaired_
        See :class:`BaseCorrelation`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> SampleCorrelation().fit(X).correlation_.shape
    (3, 3)
    """

    def _estimate(self, values: FloatArray) -> FloatArray:
        if np.isnan(values).any():
            return _pairwise_moments(values, center=True)
        return np.atleast_2d(np.corrcoef(values, rowvar=False))


class EWMCorrelation(BaseCorrelation):
    """Exponentially weighted correlation as of the last observation (RiskMetrics).

    Weights ``lam**(T-1-t)`` normalised to one; zero-mean second moments (the RiskMetrics
    convention, appropriate for standardized residuals), converted to a correlation. With
    missing cells each pair is estimated on the rows both assets have, ``t`` counting those rows
    (a gap does not decay the weights).

    Parameters
    ----------
    lam : float, default=0.97
        Decay factor in (0, 1); 0.97 gives an effective window of about 33 days.

    Attributes
    ----------
    correlation_, asset_names_, n_assets_, repaired_
        See :class:`BaseCorrelation`.
    """

    def __init__(self, lam: float = 0.97) -> None:
        self.lam = lam

    def _validate_params(self) -> None:
        check_fraction(self.lam, "lam", low=0.0, high=1.0, closed="neither")

    def _estimate(self, values: FloatArray) -> FloatArray:
        if np.isnan(values).any():
            return _pairwise_moments(values, center=False, lam=float(self.lam))
        n = values.shape[0]
        w = float(self.lam) ** np.arange(n - 1, -1, -1, dtype=np.float64)
        w /= w.sum()
        cov = (values * w[:, None]).T @ values
        return _cov_to_corr(cov)


class ShrinkageCorrelation(BaseCorrelation):
    """Ledoit-Wolf shrinkage of the correlation toward the identity.

    The data are standardized (demeaned, unit variance with ``ddof=0``), so the Ledoit-Wolf target
    ``mu * I`` is the identity and the result is ``(1 - s) * sample + s * I`` with the
    Ledoit-Wolf optimal intensity ``s``. With missing cells ``sample`` is the pairwise Pearson
    correlation (each pair on the days both assets have, as :class:`SampleCorrelation`) and ``s``,
    one number for the whole matrix, is the Ledoit-Wolf intensity of the rows complete across all
    assets.

    Attributes
    ----------
    correlation_, asset_names_, n_assets_, repaired_
        See :class:`BaseCorrelation`.
    shrinkage_ : float
        Ledoit-Wolf shrinkage intensity in [0, 1].
    """

    def _estimate(self, values: FloatArray) -> FloatArray:
        complete = ~np.isnan(values).any(axis=1)
        if not complete.all():
            if complete.sum() < 2:
                raise ValueError(
                    f"ShrinkageCorrelation needs at least 2 rows complete across all assets for "
                    f"its intensity, got n_complete={int(complete.sum())} of "
                    f"n_observations={values.shape[0]}; the assets' missing days barely overlap"
                )
            self._estimate(values[complete])  # sets shrinkage_ from the complete rows
            s = self.shrinkage_
            out = (1.0 - s) * _pairwise_moments(values, center=True)
            np.fill_diagonal(out, 1.0)
            return out
        z = (values - values.mean(axis=0)) / values.std(axis=0)
        lw = LedoitWolf(assume_centered=True).fit(z)
        self.shrinkage_ = float(lw.shrinkage_)
        return _cov_to_corr(lw.covariance_)
