"""Missing standardised residuals imputed from the same day's residuals of the other assets.

A day on which an asset has no return (a trading gap, or a day before a young asset's first
price) still holds the other assets' residuals. Filtered historical simulation draws whole days,
so the missing cell must be filled with a move that belongs to that day: drawing one of the
asset's own residuals at random treats its move as independent of the others', and a day that
crashed every listed asset (2021-05-19) would then crash ETH but not LDO, understating the joint
tail. :func:`impute_conditional` fills it instead with the regression of the missing assets on
the observed ones (the conditional-Gaussian mean through the residual correlation) plus one
resampled regression residual of a complete day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.typing import FloatArray

__all__ = ["ImputedResiduals", "impute_conditional"]

#: Fewest complete days (donors of the regression residual) for the conditional imputation; with
#: fewer, the cells stay missing and fhs draws them from the asset's own residuals.
MIN_DONORS = 30


@dataclass(frozen=True, eq=False)
class ImputedResiduals:
    """Residuals with the missing cells imputed, and which cells were.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_assets)
        The residuals; missing cells filled, except (NaN) when there were too few complete days.
    imputed : ndarray of bool, shape (n_rows, n_assets)
        The cells filled by the conditional imputation.
    n_unfilled : int
        Missing cells left NaN (fewer than :data:`MIN_DONORS` complete days).
    r_squared : ndarray of shape (n_assets,)
        Per asset, the share of its standardised residual's variance the regression on the others
        explains, for the largest set of observed assets it was imputed from (NaN for an asset
        never imputed): how joint its imputed days are.
    """

    values: FloatArray
    imputed: np.ndarray
    n_unfilled: int
    r_squared: FloatArray

    @property
    def counts(self) -> np.ndarray:
        """Imputed cells per asset, shape (n_assets,)."""
        return self.imputed.sum(axis=0)


def impute_conditional(
    z: FloatArray,
    corr: FloatArray,
    *,
    rng: np.random.Generator,
    min_donors: int = MIN_DONORS,
) -> ImputedResiduals:
    """Fill missing residuals conditionally on the same day's residuals of the other assets.

    Residuals are standardised by each asset's standard deviation over its own days,
    ``u = z / s``. For the days whose observed assets are ``O`` and missing ones ``M`` (one
    pattern at a time), with ``C`` the residual correlation:

    ``u_M = B u_O + e``, ``B = C_MO C_OO^{-1}``

    ``B u_O`` is the conditional mean of a Gaussian vector with correlation ``C`` given the day's
    observed residuals; ``e = u_M[k] - B u_O[k]`` is the regression residual of a complete day
    ``k`` drawn uniformly (one ``k`` per imputed day, shared by the assets of ``M``, so missing
    assets keep their joint dependence too). The imputed cell keeps the day's joint move
    (``cov(u_M, u_O) = C_MO``) and, through the resampled ``e``, the fat tails and the variance
    the regression does not explain (``var(u_M) = 1`` when ``C`` is the correlation of the data).

    Parameters
    ----------
    z : ndarray of shape (n_rows, n_assets)
        Standardised residuals, NaN where an asset has none; every row has at least one value.
    corr : ndarray of shape (n_assets, n_assets)
        Positive-definite residual correlation, estimated on the days each pair has (pairwise).
    rng : numpy.random.Generator
        The draws of the donor days, pattern by pattern in the order of ``numpy.unique`` over the
        rows' observed-asset patterns.
    min_donors : int, default :data:`MIN_DONORS`
        Fewest complete days needed; with fewer nothing is imputed.

    Returns
    -------
    ImputedResiduals
    """
    z = np.asarray(z, dtype=np.float64)
    observed = ~np.isnan(z)
    out = z.copy()
    imputed = np.zeros_like(observed)
    n_assets = z.shape[1]
    r2 = np.full(n_assets, np.nan)
    r2_size = np.zeros(n_assets, dtype=int)
    complete = observed.all(axis=1)
    n_missing = int((~observed).sum())
    if n_missing == 0 or int(complete.sum()) < min_donors:
        return ImputedResiduals(values=out, imputed=imputed, n_unfilled=n_missing, r_squared=r2)
    scale = np.nanstd(z, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    u = z / scale
    donors = u[complete]
    incomplete = ~complete
    patterns, which = np.unique(observed[incomplete], axis=0, return_inverse=True)
    rows_incomplete = np.flatnonzero(incomplete)
    for p, pattern in enumerate(patterns):
        obs_cols, miss_cols = np.flatnonzero(pattern), np.flatnonzero(~pattern)
        rows = rows_incomplete[which.ravel() == p]
        beta = np.linalg.solve(corr[np.ix_(obs_cols, obs_cols)], corr[np.ix_(obs_cols, miss_cols)]).T
        resid = donors[:, miss_cols] - donors[:, obs_cols] @ beta.T
        k = rng.integers(0, donors.shape[0], size=rows.size)
        fill = u[np.ix_(rows, obs_cols)] @ beta.T + resid[k]
        out[np.ix_(rows, miss_cols)] = fill * scale[miss_cols]
        imputed[np.ix_(rows, miss_cols)] = True
        explained = np.einsum("mo,om->m", beta, corr[np.ix_(obs_cols, miss_cols)])
        for c, value in zip(miss_cols, explained, strict=True):
            if obs_cols.size > r2_size[c]:
                r2[c], r2_size[c] = value, obs_cols.size
    return ImputedResiduals(values=out, imputed=imputed, n_unfilled=0, r_squared=r2)
