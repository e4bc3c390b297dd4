"""Out-of-sample VaR / ES forecasts and their backtests.

Pure test statistics (Kupiec, Christoffersen, conditional coverage, Basel-style traffic light,
Acerbi-Szekely Z2 with Student-t critical values) plus two drivers:
:func:`rolling_var_forecasts` (one asset, one estimator) and :func:`backtest_var` (a panel against
several estimators), and :func:`best_estimator` to pick one per asset.

Sign conventions: ``returns`` are daily log returns (decimals); VaR and ES are **positive loss
numbers**, so an exception ("hit") is a day with ``return < -var``. ``alpha`` is the confidence
level (0.99), and ``p = 1 - alpha`` the expected exception rate.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy
from sklearn.base import clone

from optimizer.estimators._tails import t_var_es
from optimizer.estimators._validation import check_fraction, check_int, check_returns
from optimizer.estimators._volatility import BaseVolatility
from optimizer.exceptions import ConvergenceWarning
from optimizer.typing import FloatArray, check_rng

__all__ = [
    "VaRBacktestMetrics",
    "acerbi_szekely_z2",
    "backtest_var",
    "best_estimator",
    "christoffersen_independence",
    "conditional_coverage",
    "es_backtest",
    "kupiec_pof",
    "rolling_var_forecasts",
    "traffic_light",
]

Zone = Literal["green", "yellow", "red"]
_ZONE_RANK = {"green": 0, "yellow": 1, "red": 2}
_SIM_BLOCK_ELEMENTS = 4_000_000  # draws per block in es_backtest (32 MB of float64)


class VaRBacktestMetrics(TypedDict):
    """Backtest figures of one estimator on one asset (see :func:`backtest_var`)."""

    n: int
    exceptions: int
    expected: float
    zone: Zone
    kupiec_p: float
    christoffersen_p: float
    cc_p: float
    es_z2: float
    es_p: float


# ---------------------------------------------------------------------------------------------
# Coverage tests
# ---------------------------------------------------------------------------------------------
def _check_counts(n: Any, x: Any, p: Any) -> tuple[int, int, float]:
    n = check_int(n, "n", minimum=1)
    x = check_int(x, "x", minimum=0)
    if x > n:
        raise ValueError(f"`x` (exceptions) must be <= n, got x={x}, n={n}")
    p = check_fraction(p, "p", low=0.0, high=1.0, closed="neither")
    return n, x, p


def kupiec_pof(n: int, x: int, p: float) -> tuple[float, float]:
    """Kupiec (1995) proportion-of-failures likelihood-ratio test.

    ``LR = -2 ln[(1-p)^(n-x) p^x / ((1-x/n)^(n-x) (x/n)^x)]`` ~ chi2(1), with ``0 ln 0 = 0`` so
    that ``x = 0`` and ``x = n`` have finite limits.

    Parameters
    ----------
    n : int
        Number of days, >= 1.
    x : int
        Number of exceptions, ``0 <= x <= n``.
    p : float
        Expected exception probability ``1 - alpha``, in (0, 1).

    Returns
    -------
    lr : float
        Likelihood-ratio statistic (>= 0).
    p_value : float
        ``chi2(1)`` survival probability; close to 1 when ``x`` is close to ``n p``.

    Examples
    --------
    >>> lr, pv = kupiec_pof(1000, 10, 0.01)
    >>> round(lr, 12), round(pv, 6)
    (0.0, 1.0)
    """
    n, x, p = _check_counts(n, x, p)
    phat = x / n
    ll0 = xlogy(n - x, 1.0 - p) + xlogy(x, p)
    ll1 = xlogy(n - x, 1.0 - phat) + xlogy(x, phat)
    lr = max(0.0, float(-2.0 * (ll0 - ll1)))
    return lr, float(stats.chi2.sf(lr, 1))


def _check_hits(hits: Any) -> np.ndarray:
    h = np.asarray(hits)
    if h.ndim != 1 or h.size < 2:
        raise ValueError(f"`hits` must be 1-D with at least 2 days, got shape {h.shape}")
    if h.dtype != bool:
        if not np.isin(h, (0, 1)).all():
            raise ValueError("`hits` must be booleans or 0/1 integers (1 = exception)")
        h = h.astype(bool)
    return h


def christoffersen_independence(hits: Any) -> tuple[float, float]:
    """Christoffersen (1998) independence test against first-order Markov clustering of hits.

    Compares the likelihood of the hit sequence under one exception probability with that under
    separate probabilities after a non-exception day (``pi01``) and after an exception day
    (``pi11``); ``0 ln 0 = 0``, so a sequence without hits, or without a day following a hit,
    gives ``LR = 0`` (p-value 1) instead of NaN.

    Parameters
    ----------
    hits : array-like of bool or 0/1, shape (n_days,)
        Exception indicator per day, in time order.

    Returns
    -------
    lr : float
        Likelihood-ratio statistic (>= 0), ~ chi2(1).
    p_value : float
        Survival probability; small when exceptions cluster.
    """
    h = _check_hits(hits)
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    ll0 = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    ll1 = (
        xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11) + xlogy(n11, pi11)
    )
    lr = max(0.0, float(-2.0 * (ll0 - ll1)))
    return lr, float(stats.chi2.sf(lr, 1))


def conditional_coverage(hits: Any, p: float) -> tuple[float, float]:
    """Christoffersen conditional-coverage test: ``LR_pof + LR_ind`` ~ chi2(2).

    The proportion-of-failures part uses all ``n`` days; the independence part the ``n - 1``
    transitions (the usual practical form of the joint test).

    Parameters
    ----------
    hits : array-like of bool or 0/1, shape (n_days,)
        Exception indicator per day.
    p : float
        Expected exception probability ``1 - alpha``.

    Returns
    -------
    lr : float
        Joint statistic.
    p_value : float
        ``chi2(2)`` survival probability.
    """
    h = _check_hits(hits)
    lr = kupiec_pof(h.size, int(h.sum()), p)[0] + christoffersen_independence(h)[0]
    return lr, float(stats.chi2.sf(lr, 2))


def traffic_light(n: int, x: int, p: float = 0.01) -> Zone:
    """Basel traffic-light zone generalised to any sample size and level.

    With ``F = binom.cdf(x, n, p)`` (probability of at most ``x`` exceptions for a correct model):
    green if ``F < 0.95``, yellow if ``F < 0.9999``, red otherwise. For ``n = 250, p = 0.01`` this
    is Basel's green 0-4, yellow 5-9, red 10+.

    Parameters
    ----------
    n : int
        Number of days.
    x : int
        Number of exceptions.
    p : float, default=0.01
        Expected exception probability.

    Returns
    -------
    {"green", "yellow", "red"}
        Zone.

    Examples
    --------
    >>> [traffic_light(250, x) for x in (4, 5, 9, 10)]
    ['green', 'yellow', 'yellow', 'red']
    """
    n, x, p = _check_counts(n, x, p)
    cdf = float(stats.binom.cdf(x, n, p))
    if cdf < 0.95:
        return "green"
    if cdf < 0.9999:
        return "yellow"
    return "red"


# ---------------------------------------------------------------------------------------------
# Expected-shortfall test
# ---------------------------------------------------------------------------------------------
def _z2(r: FloatArray, var: FloatArray, es: FloatArray, alpha: float) -> FloatArray:
    """Z2 along the last axis (vectorised over simulated rows)."""
    hit = r < -var
    return 1.0 + np.sum(np.where(hit, r / es, 0.0), axis=-1) / (r.shape[-1] * (1.0 - alpha))


def _aligned(name_values: dict[str, Any]) -> list[FloatArray]:
    arrs = [np.asarray(v, dtype=np.float64).ravel() for v in name_values.values()]
    sizes = {k: a.size for k, a in zip(name_values, arrs, strict=True)}
    if len(set(sizes.values())) != 1 or next(iter(sizes.values())) == 0:
        raise ValueError(f"inputs must be non-empty and of equal length, got sizes {sizes}")
    for k, a in zip(name_values, arrs, strict=True):
        if not np.isfinite(a).all():
            raise ValueError(f"`{k}` has NaN or infinite values")
    return arrs


def acerbi_szekely_z2(returns: Any, var: Any, es: Any, alpha: float) -> float:
    """Acerbi-Szekely (2014) Z2 statistic for Expected Shortfall.

    ``Z2 = 1 + sum_t r_t 1[r_t < -VaR_t] / ES_t / (T (1 - alpha))``. Its expectation is 0 when VaR
    and ES are correct; negative values mean risk is underestimated (one-sided test).

    Parameters
    ----------
    returns : array-like of shape (n_days,)
        Realised returns.
    var, es : array-like of shape (n_days,)
        Forecast VaR and ES as positive loss numbers (``es > 0``).
    alpha : float
        Confidence level, e.g. 0.99.

    Returns
    -------
    float
        Z2.
    """
    alpha = check_fraction(alpha, "alpha", low=0.0, high=1.0, closed="neither")
    r, v, e = _aligned({"returns": returns, "var": var, "es": es})
    if not (e > 0).all():
        raise ValueError("`es` must be > 0 (a positive loss number)")
    return float(_z2(r, v, e, alpha))


def es_backtest(
    returns: Any,
    sigma: Any,
    nu: Any,
    alpha: float,
    *,
    n_sims: int = 2000,
    rng: int | np.random.Generator | None,
) -> dict[str, float]:
    """Acerbi-Szekely Z2 test of Student-t ES forecasts with simulated critical values.

    VaR and ES are those of ``sigma_t`` times the unit-variance Student-t(``nu_t``). Under the null
    the returns are drawn from that same distribution ``n_sims`` times and Z2 recomputed with the
    same forecasts, so the critical values reflect the fitted fat tails (a Gaussian null would
    understate the spread of Z2).

    Parameters
    ----------
    returns : array-like of shape (n_days,)
        Realised returns.
    sigma : array-like of shape (n_days,)
        Forecast daily volatility, > 0.
    nu : float or array-like of shape (n_days,)
        Student-t degrees of freedom (> 2).
    alpha : float
        Confidence level, e.g. 0.99.
    n_sims : int, default=2000
        Simulations under the null.
    rng : int, Generator or None
        Source of randomness (required; None draws fresh OS entropy).

    Returns
    -------
    dict
        ``z2`` (observed), ``p_value`` (``(1 + #{Z2_sim <= z2}) / (n_sims + 1)``, one-sided) and
        ``critical_value_5pct`` (5 % quantile of the simulated Z2).
    """
    alpha = check_fraction(alpha, "alpha", low=0.0, high=1.0, closed="neither")
    n_sims = check_int(n_sims, "n_sims", minimum=1)
    gen = check_rng(rng)
    r, s = _aligned({"returns": returns, "sigma": sigma})
    if not (s > 0).all():
        raise ValueError("`sigma` must be > 0")
    nu_a = np.broadcast_to(np.asarray(nu, dtype=np.float64), r.shape)
    q, esu = t_var_es(alpha, nu_a)
    var, es = s * q, s * esu
    z_obs = float(_z2(r, var, es, alpha))

    const_nu = bool(np.all(nu_a == nu_a[0]))
    df: float | FloatArray = float(nu_a[0]) if const_nu else nu_a
    unit = np.sqrt((nu_a - 2.0) / nu_a) * s
    block = max(1, _SIM_BLOCK_ELEMENTS // r.size)
    sims = np.empty(n_sims)
    for i in range(0, n_sims, block):
        b = min(block, n_sims - i)
        draws = gen.standard_t(df, size=(b, r.size)) * unit
        sims[i : i + b] = _z2(draws, var, es, alpha)
    return {
        "z2": z_obs,
        "p_value": float((1 + np.sum(sims <= z_obs)) / (n_sims + 1)),
        "critical_value_5pct": float(np.quantile(sims, 0.05)),
    }


# ---------------------------------------------------------------------------------------------
# Drivers
# ---------------------------------------------------------------------------------------------
def rolling_var_forecasts(
    returns: pd.Series | pd.DataFrame | np.ndarray,
    estimator: BaseVolatility,
    *,
    alpha: float = 0.99,
    window: int = 750,
    expanding: bool = False,
    refit_every: int = 20,
    test_days: int | None = None,
) -> pd.DataFrame:
    """Out-of-sample one-day VaR/ES forecasts of one asset.

    The estimator is re-fitted every ``refit_every`` days on the ``window`` days before the refit
    day (all earlier days if ``expanding``); between refits its parameters are held fixed and
    sigma is filtered forward with :meth:`BaseVolatility.filter` (a pure recursion). The forecast
    for day ``t`` uses only returns strictly before ``t``. VaR and ES come from ``sigma_t`` times
    the unit-variance Student-t with the fitted ``nu``.

    Parameters
    ----------
    returns : Series, one-column DataFrame or ndarray of shape (n_observations,)
        Daily log returns (decimals), no NaN.
    estimator : BaseVolatility
        Unfitted template; cloned at every refit. ``ConvergenceWarning``s from refits are
        silenced; the model used each day is in the ``model`` column.
    alpha : float, default=0.99
        Confidence level.
    window : int, default=750
        Training days (rolling), or the first training size if ``expanding``.
    expanding : bool, default=False
        Train on all days before the refit day instead of a rolling window.
    refit_every : int, default=20
        Days between refits (1 = refit daily).
    test_days : int, optional
        Forecast only the last ``test_days`` days; default all days after the first ``window``.

    Returns
    -------
    DataFrame
        One row per out-of-sample day (the input's index), columns ``return``, ``sigma``,
        ``var``, ``es`` (positive losses), ``nu`` and ``model`` (the model in use that day,
        e.g. "ewma" when a GARCH refit fell back).

    Raises
    ------
    TypeError
        If ``estimator`` is not a BaseVolatility.
    ValueError
        If the series is too short for ``window`` (+ ``test_days``) or arguments are invalid.
    """
    if not isinstance(estimator, BaseVolatility):
        raise TypeError(
            f"`estimator` must be a BaseVolatility, got {type(estimator).__name__}"
        )
    alpha = check_fraction(alpha, "alpha", low=0.0, high=1.0, closed="neither")
    window = check_int(window, "window", minimum=2)
    refit_every = check_int(refit_every, "refit_every", minimum=1)
    if isinstance(returns, np.ndarray) and returns.ndim == 1:
        returns = returns[:, None]
    values, index, names = check_returns(
        returns, min_obs=window + 1, owner="rolling_var_forecasts"
    )
    if values.shape[1] != 1:
        raise ValueError(
            f"rolling_var_forecasts takes one asset, got {values.shape[1]} columns {names}; "
            "use backtest_var for a panel"
        )
    x = values[:, 0]
    n = x.size
    start = window
    if test_days is not None:
        test_days = check_int(test_days, "test_days", minimum=1)
        if n - test_days < window:
            raise ValueError(
                f"need window + test_days <= n_observations, got window={window}, "
                f"test_days={test_days}, n_observations={n}"
            )
        start = n - test_days
    n_test = n - start
    sigma = np.empty(n_test)
    nu = np.empty(n_test)
    model = np.empty(n_test, dtype=object)
    name = names[0]
    for s0 in range(start, n, refit_every):
        e = min(s0 + refit_every, n)
        lo = 0 if expanding else s0 - window
        train = pd.DataFrame(x[lo:s0, None], index=index[lo:s0], columns=[name])
        est = clone(estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(train)
        path = est.filter(x[s0 : e - 1, None])  # row k = sigma of day s0 + k
        sigma[s0 - start : e - start] = path[: e - s0, 0]
        nu[s0 - start : e - start] = est.nu_[0]
        model[s0 - start : e - start] = est.fits_[name].model
    q, esu = t_var_es(alpha, nu)
    return pd.DataFrame(
        {
            "return": x[start:],
            "sigma": sigma,
            "var": sigma * q,
            "es": sigma * esu,
            "nu": nu,
            "model": model,
        },
        index=index[start:],
    )


def _evaluate(
    fc: pd.DataFrame, alpha: float, n_sims: int, rng: np.random.Generator
) -> VaRBacktestMetrics:
    r = fc["return"].to_numpy()
    hits = r < -fc["var"].to_numpy()
    n, x, p = int(hits.size), int(hits.sum()), 1.0 - alpha
    es = es_backtest(
        r, fc["sigma"].to_numpy(), fc["nu"].to_numpy(), alpha, n_sims=n_sims, rng=rng
    )
    return {
        "n": n,
        "exceptions": x,
        "expected": n * p,
        "zone": traffic_light(n, x, p),
        "kupiec_p": kupiec_pof(n, x, p)[1],
        "christoffersen_p": christoffersen_independence(hits)[1] if n >= 2 else 1.0,
        "cc_p": conditional_coverage(hits, p)[1] if n >= 2 else 1.0,
        "es_z2": es["z2"],
        "es_p": es["p_value"],
    }


def backtest_var(
    returns_df: pd.DataFrame | np.ndarray,
    estimators: dict[str, BaseVolatility],
    *,
    alpha: float = 0.99,
    window: int = 750,
    expanding: bool = False,
    refit_every: int = 20,
    test_days: int | None = None,
    n_sims: int = 2000,
    rng: int | np.random.Generator | None,
) -> dict[str, dict[str, VaRBacktestMetrics]]:
    """Backtest one-day VaR/ES of several volatility estimators on every asset of a panel.

    Each column is used from its first to its last valid value with missing days dropped (assets
    list at different dates), then passed to :func:`rolling_var_forecasts`.

    Parameters
    ----------
    returns_df : DataFrame or ndarray of shape (n_observations, n_assets)
        Daily log returns (decimals).
    estimators : dict of str to BaseVolatility
        Named unfitted estimators, e.g. ``{"ewma": EWMAVolatility(), "garch": GARCHVolatility()}``.
    alpha, window, expanding, refit_every, test_days
        As in :func:`rolling_var_forecasts`.
    n_sims : int, default=2000
        Simulations for the ES test.
    rng : int, Generator or None
        Seed of the ES simulations; one independent child stream per (asset, estimator).

    Returns
    -------
    dict
        ``results[asset][estimator_name]`` is a :class:`VaRBacktestMetrics` dict with ``n``,
        ``exceptions``, ``expected``, ``zone``, ``kupiec_p``, ``christoffersen_p``, ``cc_p``,
        ``es_z2`` and ``es_p``.
    """
    if not estimators:
        raise ValueError("`estimators` is empty; pass e.g. {'ewma': EWMAVolatility()}")
    for k, est in estimators.items():
        if not isinstance(est, BaseVolatility):
            raise TypeError(f"estimators[{k!r}] must be a BaseVolatility, got {type(est).__name__}")
    alpha = check_fraction(alpha, "alpha", low=0.0, high=1.0, closed="neither")
    if isinstance(returns_df, np.ndarray):
        returns_df = pd.DataFrame(
            returns_df, columns=[f"x{j}" for j in range(np.shape(returns_df)[1])]
        )
    if not isinstance(returns_df, pd.DataFrame):
        raise TypeError(
            f"`returns_df` must be a DataFrame or 2-D array, got {type(returns_df).__name__}"
        )
    gen = check_rng(rng)
    children = gen.spawn(returns_df.shape[1] * len(estimators))
    results: dict[str, dict[str, VaRBacktestMetrics]] = {}
    i = 0
    for col in returns_df.columns:
        series = returns_df[col].dropna()
        results[str(col)] = {}
        for name, est in estimators.items():
            fc = rolling_var_forecasts(
                series,
                est,
                alpha=alpha,
                window=window,
                expanding=expanding,
                refit_every=refit_every,
                test_days=test_days,
            )
            results[str(col)][name] = _evaluate(fc, alpha, n_sims, children[i])
            i += 1
    return results


def best_estimator(results_for_asset: dict[str, VaRBacktestMetrics]) -> str:
    """Pick the estimator to use for one asset from its backtest results.

    An estimator *passes* if its zone is green and both the Kupiec and the Christoffersen
    independence p-values exceed 0.05. Among passing estimators the one with the largest Kupiec
    p-value wins (ties: larger Christoffersen p-value, then input order). If none passes, the
    least bad is chosen: best zone first, then the largest ``min(kupiec_p, christoffersen_p)``,
    then the largest Kupiec p-value. The ES test is reported but not used for the choice.

    Parameters
    ----------
    results_for_asset : dict of str to VaRBacktestMetrics
        ``backtest_var(...)[asset]``.

    Returns
    -------
    str
        Name of the chosen estimator.
    """
    if not results_for_asset:
        raise ValueError("`results_for_asset` is empty")
    names = list(results_for_asset)

    def passes(m: VaRBacktestMetrics) -> bool:
        return m["zone"] == "green" and m["kupiec_p"] > 0.05 and m["christoffersen_p"] > 0.05

    passing = [k for k in names if passes(results_for_asset[k])]
    if passing:
        return max(
            passing,
            key=lambda k: (
                results_for_asset[k]["kupiec_p"],
                results_for_asset[k]["christoffersen_p"],
                -names.index(k),
            ),
        )
    return min(
        names,
        key=lambda k: (
            _ZONE_RANK[results_for_asset[k]["zone"]],
            -min(results_for_asset[k]["kupiec_p"], results_for_asset[k]["christoffersen_p"]),
            -results_for_asset[k]["kupiec_p"],
            names.index(k),
        ),
    )
