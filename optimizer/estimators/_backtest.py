"""Out-of-sample VaR / ES forecasts and their backtests.

Pure test statistics (Kupiec, Christoffersen, conditional coverage, Basel-style traffic light,
Acerbi-Szekely Z2 with Student-t critical values, all in :func:`evaluate_forecasts`) plus the
drivers: :func:`rolling_var_forecasts` (one asset, one estimator), :func:`backtest_var` (a panel
against several estimators at one level), :func:`best_estimator` to pick one per asset, and
:func:`run_var_backtests`, the backtests of a run: each asset on its own history, at 99 % and a
second level, with a choice per asset, in a read-only :class:`VaRBacktests`.

Backtests of a run
    The data is each asset's **own** history up to ``as_of`` (point in time, not clipped to a
    run's estimation window or to a common panel), so an asset listed late does not shorten the
    backtest of the others. Test period: the last ``test_days`` days (the same calendar days for
    every asset with enough history), forecast by refitting every ``refit_every`` days on the
    ``window`` days before the refit. An asset with less history keeps the test period and trains
    on fewer days (never fewer than :data:`MIN_WINDOW`); one with less than
    ``MIN_WINDOW + MIN_TEST`` returns is not backtested and says so. ``test_days = None`` tests
    every day after the first window. An estimator *passes* on an asset when its zone is green
    and none of Kupiec, Christoffersen independence and the ES test rejects at 5 %.

    Cost, measured on the default config (12 assets, 3 estimators, 2 cores): ``test_days = 500``
    and ``refit_every = 20`` take about 15 s of CPU, 600 GARCH/GJR refits at 20-50 ms each (EWMA
    and the ES simulations add about 2 s). ``refit_every = 40`` saves about a quarter;
    ``test_days = 250`` halves the refits but leaves a Basel year only, too short to tell the
    estimators apart. A :class:`BacktestCache` lets repeated runs on the same data pay once.

Sign conventions: ``returns`` are daily log returns (decimals); VaR and ES are **positive loss
numbers**, so an exception ("hit") is a day with ``return < -var``. ``alpha`` is the confidence
level (0.99), and ``p = 1 - alpha`` the expected exception rate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy
from sklearn.base import clone

from optimizer.estimators._tails import t_var_es
from optimizer.estimators._validation import check_fraction, check_int, check_returns
from optimizer.estimators._volatility import BaseVolatility
from optimizer.exceptions import ConvergenceWarning, DataQualityWarning, EstimationError
from optimizer.typing import FloatArray, check_rng

__all__ = [
    "BASE_ALPHA",
    "MIN_TEST",
    "MIN_WINDOW",
    "PASS_LEVEL",
    "BacktestCache",
    "VaRBacktestMetrics",
    "VaRBacktests",
    "acerbi_szekely_z2",
    "backtest_plan",
    "backtest_var",
    "best_estimator",
    "christoffersen_independence",
    "conditional_coverage",
    "es_backtest",
    "evaluate_forecasts",
    "kupiec_pof",
    "rolling_var_forecasts",
    "run_var_backtests",
    "traffic_light",
]

#: The confidence level every run backtest reports (Basel's 99 %); ``var_alpha`` is added.
BASE_ALPHA = 0.99
#: Fewest training days of a backtest refit.
MIN_WINDOW = 250
#: Fewest out-of-sample days of a backtest (one Basel year).
MIN_TEST = 250
#: Significance level of the pass/fail verdicts of :func:`evaluate_forecasts`.
PASS_LEVEL = 0.05

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


def evaluate_forecasts(
    returns: FloatArray,
    sigma: FloatArray,
    nu: FloatArray,
    alpha: float,
    *,
    n_sims: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """All backtest figures of one-day Student-t VaR/ES forecasts at confidence ``alpha``.

    Parameters
    ----------
    returns, sigma, nu : ndarray of shape (n_days,)
        Realised returns, forecast volatility and Student-t degrees of freedom of each day (the
        ``return``, ``sigma`` and ``nu`` columns of :func:`rolling_var_forecasts`).
    alpha : float
        Confidence level; VaR is ``sigma`` times the unit-variance t quantile at ``alpha``.
    n_sims : int
        Simulations of the ES test (:func:`es_backtest`).
    rng : Generator
        Seed of the ES simulations.

    Returns
    -------
    dict
        ``alpha``, ``n``, ``exceptions``, ``expected``, ``zone``, ``kupiec_p``,
        ``christoffersen_p``, ``cc_p``, ``es_z2``, ``es_p``, ``es_critical_5pct`` and ``passes``
        (green, and none of Kupiec, Christoffersen independence and the ES test rejects at
        :data:`PASS_LEVEL`).
    """
    q, _ = t_var_es(alpha, nu)
    hits = returns < -(sigma * q)
    n, x, p = int(hits.size), int(hits.sum()), 1.0 - alpha
    es = es_backtest(returns, sigma, nu, alpha, n_sims=n_sims, rng=rng)
    out: dict[str, Any] = {
        "alpha": alpha,
        "n": n,
        "exceptions": x,
        "expected": n * p,
        "zone": traffic_light(n, x, p),
        "kupiec_p": kupiec_pof(n, x, p)[1],
        "christoffersen_p": christoffersen_independence(hits)[1] if n >= 2 else 1.0,
        "cc_p": conditional_coverage(hits, p)[1] if n >= 2 else 1.0,
        "es_z2": es["z2"],
        "es_p": es["p_value"],
        "es_critical_5pct": es["critical_value_5pct"],
    }
    out["passes"] = bool(
        out["zone"] == "green" and out["kupiec_p"] > PASS_LEVEL
        and out["christoffersen_p"] > PASS_LEVEL and out["es_p"] > PASS_LEVEL
    )
    return out


def _evaluate(
    fc: pd.DataFrame, alpha: float, n_sims: int, rng: np.random.Generator
) -> VaRBacktestMetrics:
    cols = (fc[c].to_numpy(dtype=float) for c in ("return", "sigma", "nu"))
    full = evaluate_forecasts(*cols, alpha, n_sims=n_sims, rng=rng)
    return {k: full[k] for k in VaRBacktestMetrics.__annotations__}  # type: ignore[return-value]


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


# ---------------------------------------------------------------------------------------------
# The backtests of a run: every estimator on every asset's own history
# ---------------------------------------------------------------------------------------------
def backtest_plan(n: int, window: int, test_days: int | None) -> tuple[int, int] | str:
    """``(training window, test days)`` for an asset with ``n`` returns, or the reason it has none.

    The test covers ``test_days`` (all days after the first ``window`` when None), at least
    :data:`MIN_TEST`; the window shrinks to fit short histories, down to :data:`MIN_WINDOW`.
    """
    test = (n - window) if test_days is None else test_days
    test = max(test, MIN_TEST)
    win = min(window, n - test)
    if win < MIN_WINDOW:
        win, test = MIN_WINDOW, n - MIN_WINDOW
        if test < MIN_TEST:
            return (f"only {n} daily returns up to as_of; a backtest needs {MIN_WINDOW + MIN_TEST} "
                    f"({MIN_WINDOW} to train, {MIN_TEST} to test)")
    return win, test


@dataclass(frozen=True, eq=False)
class VaRBacktests:
    """Backtests of several volatility estimators on several assets (read-only).

    Built by :func:`run_var_backtests`; :func:`optimizer.report.validation.backtest_section` and
    :func:`~optimizer.report.validation.var_backtests_json` format it.

    Attributes
    ----------
    results : dict
        ``results[asset][estimator]``: the figures of :func:`evaluate_forecasts` at 99 % plus
        ``window``, ``test_start``, ``test_end``, ``fallback_share`` (share of days a GARCH refit
        fell back), ``chosen`` and ``levels`` (the figures per confidence level, keyed
        ``f"{alpha:g}"``); or ``error``, ``passes`` (False) and ``chosen`` (False) when the
        estimator could not be fitted.
    choice : dict of str to str
        Asset -> the estimator ``auto`` uses (best passing, else least bad).
    passing : dict of str to tuple of str
        Asset -> the estimators that pass.
    skipped : dict of str to str
        Assets without a backtest, with the reason.
    levels : tuple of float
        Confidence levels tested (99 % first).
    settings : dict
        ``window``, ``refit_every``, ``test_days``, ``es_sims``, ``estimators``, ``levels``,
        ``as_of``.
    seconds : float
        Wall-clock cost of the computation.
    cached : bool
        True when this object came from a :class:`BacktestCache` instead of being computed.
    """

    results: dict[str, dict[str, dict[str, Any]]]
    choice: dict[str, str]
    passing: dict[str, tuple[str, ...]]
    skipped: dict[str, str]
    levels: tuple[float, ...]
    settings: dict[str, Any]
    seconds: float
    cached: bool = False

    def summary(self) -> str:
        """One line per asset and estimator: exceptions, zone and verdict."""
        lines = []
        for a, per in self.results.items():
            for e, m in per.items():
                if "error" in m:
                    lines.append(f"{a:>6} {e:>8}: failed ({m['error']})")
                    continue
                lines.append(
                    f"{a:>6} {e:>8}: {m['exceptions']:>3} exceptions in {m['n']} days "
                    f"(expected {m['expected']:.1f}), {m['zone']}, Kupiec p={m['kupiec_p']:.3f}, "
                    f"Christoffersen p={m['christoffersen_p']:.3f}, ES p={m['es_p']:.3f}"
                    + (" PASS" if m["passes"] else "") + (" <- used" if m["chosen"] else "")
                )
        for a, why in self.skipped.items():
            lines.append(f"{a:>6}: not backtested ({why})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


class BacktestCache:
    """A memo of :class:`VaRBacktests` keyed by content, least recently used dropped first.

    The key is everything the result depends on: the returns (values and dates), the
    estimators' hyperparameters (their ``repr``), the settings and the seed of the ES
    simulations (the generator's seed sequence and state). Results are deterministic given the
    key, so a hit returns exactly what a recomputation would (with ``cached=True``). The pipeline
    keeps one per process so workflows that repeat a run on the same data (sensitivity sweeps,
    recalibration, tests) pay for the backtests once.

    With ``disk`` (an :class:`optimizer._cache.DiskCache`) a result also goes to the on-disk cache
    and a miss in memory looks there, so separate runs share it; the disk key adds the package
    and library versions to the content key.

    Parameters
    ----------
    maxsize : int, default=16
        Results kept in memory.
    disk : DiskCache, optional
        The on-disk cache behind the memo (None: memory only).
    """

    def __init__(self, maxsize: int = 16, *, disk: Any = None) -> None:
        self.maxsize = check_int(maxsize, "maxsize", minimum=1)
        self.disk = disk
        self._store: OrderedDict[tuple[Any, ...], VaRBacktests] = OrderedDict()

    def __len__(self) -> int:
        return len(self._store)

    def get(self, key: tuple[Any, ...]) -> VaRBacktests | None:
        """The stored result of ``key`` (marked ``cached``), or None."""
        if key not in self._store:
            found = self.disk.get(key) if self.disk is not None else None
            if not isinstance(found, VaRBacktests):
                return None
            self._remember(key, found)
        self._store.move_to_end(key)
        return dataclasses.replace(self._store[key], cached=True)

    def put(self, key: tuple[Any, ...], value: VaRBacktests) -> None:
        """Store ``value`` under ``key`` (in memory, and on disk with ``disk``)."""
        self._remember(key, value)
        if self.disk is not None:
            self.disk.put(key, value)

    def _remember(self, key: tuple[Any, ...], value: VaRBacktests) -> None:
        self._store[key] = value
        while len(self._store) > self.maxsize:
            self._store.popitem(last=False)

    def clear(self) -> None:
        """Forget every result."""
        self._store.clear()


def _content_key(
    returns: Mapping[str, pd.Series],
    estimators: Mapping[str, BaseVolatility],
    rng: np.random.Generator,
    settings: tuple[Any, ...],
) -> tuple[Any, ...]:
    digest = hashlib.sha256()
    for name, series in returns.items():
        digest.update(str(name).encode() + b"\x1f")
        digest.update(np.ascontiguousarray(series.to_numpy(dtype=np.float64)).tobytes())
        digest.update(np.asarray(pd.DatetimeIndex(series.index).asi8).tobytes())
    seq = rng.bit_generator.seed_seq
    seed_id = (repr(getattr(seq, "entropy", None)), tuple(getattr(seq, "spawn_key", ())),
               repr(rng.bit_generator.state))
    models = tuple((k, repr(v)) for k, v in estimators.items())
    return (digest.hexdigest(), models, settings, seed_id)


def run_var_backtests(
    returns: Mapping[str, pd.Series],
    estimators: Mapping[str, BaseVolatility],
    *,
    var_alpha: float = BASE_ALPHA,
    window: int = 750,
    refit_every: int = 20,
    test_days: int | None = 500,
    es_sims: int = 2000,
    as_of: str | None = None,
    rng: np.random.Generator,
    cache: BacktestCache | None = None,
) -> VaRBacktests:
    """Backtest every estimator on every asset's own return history.

    Per asset, :func:`backtest_plan` sets the training window and the test days; the forecasts
    of :func:`rolling_var_forecasts` (at 99 %) are evaluated by :func:`evaluate_forecasts` at 99 %
    and at ``var_alpha`` when that differs. Each asset then gets the best passing estimator
    (:func:`best_estimator` among those that pass), or the least bad when none passes.

    Parameters
    ----------
    returns : dict of str to Series
        Asset -> its daily log returns on its own dates (no NaN), in report order.
    estimators : dict of str to BaseVolatility
        Name -> unfitted model (cloned at every refit).
    var_alpha : float, default=0.99
        Confidence level tested beside 99 %.
    window, refit_every : int
        Training days and days between refits.
    test_days : int or None, default=500
        Out-of-sample days (None: every day after the first window).
    es_sims : int, default=2000
        Simulations of the ES test.
    as_of : str, optional
        Date the data ends (recorded in ``settings``).
    rng : Generator
        Seeds the ES critical values; one child stream per (asset, estimator), one grandchild
        per confidence level.
    cache : BacktestCache, optional
        Where to look the result up first and store it after.

    Returns
    -------
    VaRBacktests
    """
    t0 = time.perf_counter()
    names = tuple(estimators)
    key = None
    if cache is not None:
        key = _content_key(returns, estimators, rng,
                           (names, test_days, window, refit_every, var_alpha, es_sims, as_of))
        hit = cache.get(key)
        if hit is not None:
            return hit
    levels = (BASE_ALPHA,) + ((var_alpha,) if abs(var_alpha - BASE_ALPHA) > 1e-12 else ())
    children = rng.spawn(len(returns) * len(names))
    results: dict[str, dict[str, dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    k = 0
    for asset, series in returns.items():
        plan = backtest_plan(len(series), window, test_days)
        if isinstance(plan, str):
            skipped[asset] = plan
            k += len(names)
            continue
        win, n_test = plan
        per: dict[str, dict[str, Any]] = {}
        for name in names:
            child = children[k]
            k += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.simplefilter("ignore", DataQualityWarning)
                    fc = rolling_var_forecasts(
                        series, estimators[name], alpha=BASE_ALPHA, window=win,
                        refit_every=refit_every, test_days=n_test,
                    )
            except (ValueError, EstimationError) as err:
                per[name] = {"error": str(err), "passes": False, "chosen": False}
                continue
            r, sigma, nu = (fc[c].to_numpy(dtype=float) for c in ("return", "sigma", "nu"))
            lv = {f"{a:g}": evaluate_forecasts(r, sigma, nu, a, n_sims=es_sims, rng=s)
                  for a, s in zip(levels, child.spawn(len(levels)), strict=True)}
            m = dict(lv[f"{BASE_ALPHA:g}"])
            m.update(
                window=win,
                test_start=fc.index[0].date().isoformat(),
                test_end=fc.index[-1].date().isoformat(),
                fallback_share=float(np.mean(fc["model"].to_numpy() != name)),
                levels=lv,
                chosen=False,
            )
            per[name] = m
        results[asset] = per
    choice: dict[str, str] = {}
    passing: dict[str, tuple[str, ...]] = {}
    for asset, per in results.items():
        ok = {e: m for e, m in per.items() if "error" not in m}
        passing[asset] = tuple(e for e, m in ok.items() if m["passes"])
        if not ok:
            continue
        pool = {e: ok[e] for e in passing[asset]} or ok
        choice[asset] = best_estimator(pool)  # type: ignore[arg-type]
        per[choice[asset]]["chosen"] = True
    settings = {
        "window": window, "refit_every": refit_every, "test_days": test_days,
        "es_sims": es_sims, "estimators": list(names), "levels": list(levels), "as_of": as_of,
    }
    out = VaRBacktests(results=results, choice=choice, passing=passing, skipped=skipped,
                       levels=levels, settings=settings, seconds=time.perf_counter() - t0)
    if cache is not None and key is not None:
        cache.put(key, out)
    return out
