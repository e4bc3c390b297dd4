"""Model validation inside a run: VaR/ES backtests, the ``auto`` volatility choice, anti-procyclicality.

Backtests
    Every run backtests each volatility estimator of ``[backtest] estimators`` on each collateral
    asset: rolling out-of-sample one-day VaR and ES (Student-t with the fitted tail) at 99 % and at
    ``[backtest] var_alpha`` when that differs, exceptions, Kupiec's proportion-of-failures test,
    Christoffersen's independence and conditional-coverage tests, the Basel traffic light
    generalised to the window length, and the Acerbi-Szekely Z2 test of ES with critical values
    simulated from the fitted Student-t. The data is each asset's **own** history up to ``as_of``
    (point in time, not clipped to the run's estimation window or to the common panel), so an asset
    listed late does not shorten the backtest of the others.

    Test period: the last ``test_days`` days before ``as_of`` (the same calendar days for every
    asset with enough history), forecast by refitting every ``refit_every`` days on the ``window``
    days before the refit. An asset with less history keeps the test period and trains on fewer days
    (never fewer than :data:`MIN_WINDOW`); one with less than ``MIN_WINDOW + MIN_TEST`` returns is
    not backtested and says so. ``test_days = None`` (used by ``riskopt backtest``) tests every day
    after the first window.

    An estimator *passes* on an asset when its zone is green and none of Kupiec, Christoffersen
    independence and the ES test rejects at 5 %. With ``[estimators] volatility = "auto"`` each
    asset uses the best passing estimator (largest Kupiec p-value), or the least bad when none
    passes (:func:`optimizer.estimators.best_estimator`); the choice is assembled into one
    :class:`PerAssetVolatility`, which the scenario generator takes like any other volatility model.

Cost
    Measured on the default config (12 assets, 3 estimators, 2 cores): ``test_days = 500`` and
    ``refit_every = 20`` take about 15 s of CPU, 600 GARCH/GJR refits at 20-50 ms each (EWMA and the
    ES simulations add about 2 s); the rest of the run without the frontier search takes about 5 s.
    ``refit_every = 40`` saves about a quarter; ``test_days = 250`` halves the refits but leaves a
    Basel year only, too short to tell the estimators apart. Results are cached per process
    (:data:`_CACHE`), so repeated runs on the same data (sensitivity sweeps, tests) pay once.

Anti-procyclicality (``[anti_procyclicality] method``)
    ``floor``: re-solve with every asset's scenarios rescaled to its full-history volatility (the
    standard deviation of its daily log returns from its first price to ``as_of``) and keep, per
    asset, the lower LT and LTV of the two solutions. ``stress_weight``: replace a share
    ``stress_weight`` (>= 25 %) of the scenarios by historical stress windows (the worst
    ``stress_quantile`` of horizon-long windows of the collateral basket in the full history) and
    keep, per asset, the lower of the two solutions. ``buffer``: raise each haircut ``1 - LTV`` by
    ``buffer`` (25 %), capped at 1 (LTV >= 0); LT is unchanged. Lowering LT never raises any
    scenario's bad debt (it is ``max(LT - k, 0)`` per USD), so the floors keep the risk budget met;
    every result satisfies 0 <= LTV <= LT and LT x (1 + bonus) <= 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from optimizer.estimators import (
    BaseVolatility,
    ConstantVolatility,
    EWMAVolatility,
    best_estimator,
    christoffersen_independence,
    conditional_coverage,
    es_backtest,
    kupiec_pof,
    make_volatility,
    rolling_var_forecasts,
    t_var_es,
    traffic_light,
)
from optimizer.exceptions import ConvergenceWarning, DataQualityWarning, EstimationError

if TYPE_CHECKING:
    from optimizer.pipeline.config import RunConfig
    from optimizer.pipeline.run import MarketInputs, RunInputs, ThresholdSolution
    from optimizer.report.model import RunReport

__all__ = [
    "BASE_ALPHA",
    "MIN_TEST",
    "MIN_WINDOW",
    "PerAssetVolatility",
    "RunValidation",
    "VaRBacktests",
    "apply_anti_procyclicality",
    "asset_returns",
    "attach_sections",
    "auto_volatility",
    "backtest_plan",
    "buffer_haircut",
    "floor_params",
    "load_history",
    "load_history_data",
    "needs_history",
    "prepare_validation",
    "run_var_backtests",
    "var_backtests_json",
    "volatility_estimator",
]

#: The confidence level every backtest reports (Basel's 99 %); ``[backtest] var_alpha`` is added.
BASE_ALPHA = 0.99
#: Fewest training days of a backtest refit.
MIN_WINDOW = 250
#: Fewest out-of-sample days of a backtest (one Basel year).
MIN_TEST = 250
#: Significance level of the pass/fail verdicts.
PASS_LEVEL = 0.05


# ---------------------------------------------------------------------------------------------
# Estimators by name, and the per-asset composite used by ``volatility = "auto"``
# ---------------------------------------------------------------------------------------------
def volatility_estimator(cfg: RunConfig, name: str) -> BaseVolatility:
    """The unfitted volatility estimator a config means by ``name`` (GARCH falls back to its EWMA)."""
    lam = cfg.estimators.ewma_lambda
    if name == "ewma":
        return EWMAVolatility(lam=lam)
    if name == "constant":
        return ConstantVolatility()
    return make_volatility(name, fallback=EWMAVolatility(lam=lam))


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
        returns : DataFrame of shape (n_observations, n_assets)
            Daily log returns as decimals, no NaN.
        y : None
            Ignored.

        Returns
        -------
        self : PerAssetVolatility
        """
        if not isinstance(returns, pd.DataFrame):
            raise TypeError(
                f"PerAssetVolatility.fit needs a DataFrame (assets are matched by column name), "
                f"got {type(returns).__name__}"
            )
        names = [str(c) for c in returns.columns]
        groups: dict[str, tuple[BaseVolatility, list[int]]] = {}
        for j, name in enumerate(names):
            tpl = self._template(name)
            groups.setdefault(repr(tpl), (tpl, []))[1].append(j)
        n = len(returns)
        var = np.empty((n + 1, len(names)))
        nu = np.empty(len(names))
        fits = {}
        self.groups_: list[tuple[list[int], BaseVolatility]] = []
        if self.missing not in ("raise", "skip"):
            raise ValueError(f"`missing` must be 'raise' or 'skip', got missing={self.missing!r}")
        for tpl, cols in groups.values():
            sub = clone(tpl)
            if "missing" in sub.get_params(deep=False):
                sub.set_params(missing=self.missing)
            sub.fit(returns.iloc[:, cols])
            var[:-1, cols] = sub.volatility_.to_numpy() ** 2
            var[-1, cols] = np.asarray(sub.forecast_) ** 2
            nu[cols] = sub.nu_
            fits.update(sub.fits_)
            self.groups_.append((cols, sub))
        self._set_fitted(
            returns.to_numpy(dtype=np.float64), returns.index, names, var, nu, fits
        )
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


# ---------------------------------------------------------------------------------------------
# Data: each asset's own history up to as_of
# ---------------------------------------------------------------------------------------------
def load_history_data(cfg: RunConfig, data_dir: Any, as_of: str | None) -> Any:
    """:class:`~optimizer.data.PriceData` of the config's assets from each one's first price to ``as_of``.

    Price proxies (``price_ticker``) apply as in the run. Data flags of this longer span are not
    repeated in the report (those of the estimation window are); fatal problems raise
    :class:`~optimizer.exceptions.DataError` as in the run.
    """
    from optimizer.pipeline.run import load_asset_prices

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_asset_prices(cfg, data_dir, as_of=as_of)


def load_history(cfg: RunConfig, data_dir: Any, as_of: str | None) -> pd.DataFrame:
    """Prices (calendar days, NaN where there is none) of :func:`load_history_data`."""
    return load_history_data(cfg, data_dir, as_of).prices


def asset_returns(prices: pd.DataFrame) -> dict[str, pd.Series]:
    """Daily log returns of each column on its own dates; a return across a gap is left out."""
    one_day = np.r_[False, np.diff(prices.index.to_numpy()) == np.timedelta64(1, "D")]
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(prices.astype(float))
    r = logp.diff().loc[one_day]
    return {str(a): r[a].dropna() for a in prices.columns}


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


# ---------------------------------------------------------------------------------------------
# VaR / ES backtests
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class VaRBacktests:
    """Backtests of every configured estimator on every asset (read-only).

    Attributes
    ----------
    results : dict
        ``results[asset][estimator]``: figures at 99 % (``n``, ``exceptions``, ``expected``,
        ``zone``, ``kupiec_p``, ``christoffersen_p``, ``cc_p``, ``es_z2``, ``es_p``,
        ``es_critical_5pct``, ``passes``, ``chosen``, ``window``, ``test_start``, ``test_end``,
        ``fallback_share``) and ``levels`` (the same per confidence level), or ``error``.
    choice : dict of str to str
        Asset -> the estimator ``auto`` uses (best passing, else least bad).
    passing : dict of str to tuple of str
        Asset -> the estimators that pass.
    skipped : dict of str to str
        Assets without a backtest, with the reason.
    levels : tuple of float
        Confidence levels tested (99 % first).
    settings : dict
        ``window``, ``refit_every``, ``test_days``, ``es_sims``, ``estimators``, ``as_of``.
    seconds : float
        Wall-clock cost.
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


def _evaluate(r: np.ndarray, sigma: np.ndarray, nu: np.ndarray, alpha: float, n_sims: int,
              rng: np.random.Generator) -> dict[str, Any]:
    q, _ = t_var_es(alpha, nu)
    hits = r < -(sigma * q)
    n, x, p = int(hits.size), int(hits.sum()), 1.0 - alpha
    es = es_backtest(r, sigma, nu, alpha, n_sims=n_sims, rng=rng)
    out = {
        "alpha": alpha,
        "n": n,
        "exceptions": x,
        "expected": n * p,
        "zone": traffic_light(n, x, p),
        "kupiec_p": kupiec_pof(n, x, p)[1],
        "christoffersen_p": christoffersen_independence(hits)[1],
        "cc_p": conditional_coverage(hits, p)[1],
        "es_z2": es["z2"],
        "es_p": es["p_value"],
        "es_critical_5pct": es["critical_value_5pct"],
    }
    out["passes"] = bool(
        out["zone"] == "green" and out["kupiec_p"] > PASS_LEVEL
        and out["christoffersen_p"] > PASS_LEVEL and out["es_p"] > PASS_LEVEL
    )
    return out


def run_var_backtests(
    cfg: RunConfig,
    history: pd.DataFrame,
    *,
    rng: np.random.Generator,
    test_days: int | None | str = "config",
    estimators: tuple[str, ...] | None = None,
) -> VaRBacktests:
    """Backtest the configured estimators on every asset of ``history`` (prices up to as_of).

    Parameters
    ----------
    cfg : RunConfig
        ``[backtest]`` gives ``var_alpha``, ``window``, ``refit_every``, ``test_days``, ``es_sims``
        and ``estimators``.
    history : DataFrame of shape (n_days, n_assets)
        Prices on a daily calendar (:func:`load_history`).
    rng : Generator
        Seeds the ES critical values; one child stream per (asset, estimator).
    test_days : int, None or "config"
        Override of ``[backtest] test_days`` (None: every day after the first window).
    estimators : tuple of str, optional
        Override of ``[backtest] estimators``.

    Returns
    -------
    VaRBacktests
    """
    t0 = time.perf_counter()
    bt = cfg.backtest
    names = tuple(estimators or bt.estimators)
    days = bt.test_days if test_days == "config" else test_days
    key = _cache_key(cfg, history, rng, names, days)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return dataclasses.replace(_CACHE[key], cached=True)
    levels = (BASE_ALPHA,) + ((bt.var_alpha,) if abs(bt.var_alpha - BASE_ALPHA) > 1e-12 else ())
    rets = asset_returns(history)
    children = rng.spawn(len(rets) * len(names))
    results: dict[str, dict[str, dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    k = 0
    for asset, series in rets.items():
        plan = backtest_plan(len(series), bt.window, days)
        if isinstance(plan, str):
            skipped[asset] = plan
            k += len(names)
            continue
        window, n_test = plan
        per: dict[str, dict[str, Any]] = {}
        for name in names:
            child = children[k]
            k += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.simplefilter("ignore", DataQualityWarning)
                    fc = rolling_var_forecasts(
                        series, volatility_estimator(cfg, name), alpha=BASE_ALPHA, window=window,
                        refit_every=bt.refit_every, test_days=n_test,
                    )
            except (ValueError, EstimationError) as err:
                per[name] = {"error": str(err), "passes": False, "chosen": False}
                continue
            r, sigma, nu = (fc[c].to_numpy(dtype=float) for c in ("return", "sigma", "nu"))
            lv = {f"{a:g}": _evaluate(r, sigma, nu, a, bt.es_sims, s)
                  for a, s in zip(levels, child.spawn(len(levels)), strict=True)}
            m = dict(lv[f"{BASE_ALPHA:g}"])
            m.update(
                window=window,
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
        "window": bt.window, "refit_every": bt.refit_every, "test_days": days,
        "es_sims": bt.es_sims, "estimators": list(names), "levels": list(levels),
        "as_of": history.index[-1].date().isoformat() if len(history.index) else None,
    }
    out = VaRBacktests(results=results, choice=choice, passing=passing, skipped=skipped,
                       levels=levels, settings=settings, seconds=time.perf_counter() - t0)
    _CACHE[key] = out
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return out


#: Backtests already computed in this process, keyed by everything they depend on (the prices,
#: the settings and the seed of the ES simulations), so workflows that repeat a run on the same
#: data (sensitivity sweeps, recalibration, tests) pay for them once. Results are deterministic
#: given the key, so a hit returns exactly what a recomputation would.
_CACHE: OrderedDict[tuple[Any, ...], VaRBacktests] = OrderedDict()
_CACHE_SIZE = 16


def _cache_key(cfg: RunConfig, history: pd.DataFrame, rng: np.random.Generator, names: tuple[str, ...],
               days: int | None) -> tuple[Any, ...]:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(history.to_numpy(dtype=np.float64)).tobytes())
    digest.update(np.asarray(history.index.asi8).tobytes())
    digest.update("\x1f".join(map(str, history.columns)).encode())
    seq = rng.bit_generator.seed_seq
    seed_id = (repr(getattr(seq, "entropy", None)), tuple(getattr(seq, "spawn_key", ())),
               repr(rng.bit_generator.state))
    bt = cfg.backtest
    return (digest.hexdigest(), names, days, bt.window, bt.refit_every, bt.var_alpha, bt.es_sims,
            cfg.estimators.ewma_lambda, seed_id)


def var_backtests_json(vbt: VaRBacktests) -> dict[str, Any]:
    """The ``var_backtests`` block of params.json / backtest.json.

    ``{"<ticker>": {"<estimator>": {"n", "exceptions", "zone", "kupiec_p", "christoffersen_p",
    "cc_p", "expected", "es_z2", "es_p", ..., "levels": {"0.99": {...}}}}}``; a skipped asset has
    ``{"skipped": reason}``.
    """
    out: dict[str, Any] = {a: {e: dict(m) for e, m in per.items()} for a, per in vbt.results.items()}
    for a, why in vbt.skipped.items():
        out[a] = {"skipped": why}
    return out


def backtest_section(vbt: VaRBacktests, cfg: RunConfig, *, chosen_used: bool) -> dict[str, Any]:
    """The report section ``backtests``: a table per asset and estimator, verdicts in bullets."""
    s = vbt.settings
    lv = ", ".join(f"{a:.1%}" for a in vbt.levels)
    days = "every day after the first training window" if s["test_days"] is None else (
        f"the last {s['test_days']} days up to {s['as_of']}")
    text = [
        f"Rolling out-of-sample one-day VaR and ES at {lv} for each volatility estimator, on each "
        f"asset's own price history up to {s['as_of']}. Test period: {days}; the model is refitted "
        f"every {s['refit_every']} days on the {s['window']} days before (fewer for assets with a "
        f"short history, see the window column) and filtered forward in between. VaR and ES come "
        "from the forecast volatility and the fitted Student-t tail.",
        "Exceptions are days whose loss exceeded the 99 % VaR. Zone: Basel traffic light for the "
        "window length (green while P(at most this many | correct model) < 95 %, red from "
        "99.99 %). p-values: Kupiec proportion of failures, Christoffersen independence, and the "
        "Acerbi-Szekely Z2 test of ES with critical values simulated from the fitted Student-t "
        f"({s['es_sims']} simulations). An estimator passes when it is green and no test rejects "
        "at 5 %.",
    ]
    cols = ["Asset", "Estimator", "Window", "Test days", "Exceptions", "Expected", "Zone",
            "Kupiec p", "Christoffersen p", "Cond. coverage p", "ES Z2", "ES p", "Fallback days",
            "Passes", "Used"]
    fmts = ["text", "text", "num", "num", "num", "num", "text", "num", "num", "num", "num", "num",
            "pct", "text", "text"]
    rows = []
    for a, per in vbt.results.items():
        for e, m in per.items():
            if "error" in m:
                rows.append([a, e, None, None, None, None, "failed", None, None, None, None, None,
                             None, "no", ""])
                continue
            rows.append([a, e, m["window"], m["n"], m["exceptions"], round(m["expected"], 1),
                         m["zone"], round(m["kupiec_p"], 3), round(m["christoffersen_p"], 3),
                         round(m["cc_p"], 3), round(m["es_z2"], 3), round(m["es_p"], 3),
                         m["fallback_share"], "yes" if m["passes"] else "no",
                         "yes" if (m["chosen"] and chosen_used) else ""])
    tables = []
    extra = [a for a in vbt.levels if a != BASE_ALPHA]
    for alpha in extra:
        key = f"{alpha:g}"
        xrows = [[a, e, m["levels"][key]["n"], m["levels"][key]["exceptions"],
                  round(m["levels"][key]["expected"], 1), m["levels"][key]["zone"],
                  round(m["levels"][key]["kupiec_p"], 3), round(m["levels"][key]["christoffersen_p"], 3),
                  round(m["levels"][key]["es_p"], 3)]
                 for a, per in vbt.results.items() for e, m in per.items() if "error" not in m]
        tables.append({"columns": ["Asset", "Estimator", "Test days", "Exceptions", "Expected", "Zone",
                                   "Kupiec p", "Christoffersen p", "ES p"],
                       "formats": ["text", "text", "num", "num", "num", "text", "num", "num", "num"],
                       "rows": xrows, "caption": f"The same forecasts at the configured {alpha:.1%}."})
    bullets = []
    for a in vbt.results:
        ok = vbt.passing.get(a, ())
        verdict = f"{a}: passes with {', '.join(ok)}" if ok else f"{a}: no estimator passes"
        if a in vbt.choice:
            verdict += ("; used: " if chosen_used else "; best: ") + vbt.choice[a]
            if not ok:
                verdict += " (least bad)"
        bad = [e for e, m in vbt.results[a].items() if "error" in m]
        if bad:
            verdict += f"; failed to fit: {', '.join(bad)}"
        bullets.append(verdict)
    for a, why in vbt.skipped.items():
        bullets.append(f"{a}: not backtested: {why}" + ("; garch used" if chosen_used else ""))
    if cfg.estimators.volatility != "auto":
        bullets.append(f"The scenarios use [estimators] volatility = {cfg.estimators.volatility!r} for "
                       "every asset; set it to 'auto' to use each asset's best passing estimator.")
    bullets.append(f"Backtest cost: {vbt.seconds:.1f} s" + (" (computed earlier in this process)." if vbt.cached
                                                           else "."))
    return {
        "title": "Backtests of the volatility estimators",
        "text": text,
        "bullets": bullets,
        "table": {"columns": cols, "formats": fmts, "rows": rows, "id": "tbl-backtests"},
        "tables": tables,
    }


# ---------------------------------------------------------------------------------------------
# What a run carries for validation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RunValidation:
    """Validation inputs of one run, built by :func:`prepare_validation` in ``load_inputs``.

    Attributes
    ----------
    history : DataFrame or None
        Each asset's prices from its first date to as_of (None when nothing needs them).
    backtests : VaRBacktests or None
    rng : Generator
        Stream of the anti-procyclicality draws (a child of the run's root generator).
    """

    history: pd.DataFrame | None
    backtests: VaRBacktests | None
    rng: np.random.Generator


def needs_history(cfg: RunConfig) -> bool:
    return (cfg.backtest.in_report or cfg.estimators.volatility == "auto"
            or cfg.anti_procyclicality.method in ("floor", "stress_weight"))


def prepare_validation(cfg: RunConfig, data_dir: Any, as_of: str | None, *,
                       rng: np.random.Generator) -> RunValidation:
    """Load the long history and run the backtests the config asks for (in the run, before fitting)."""
    rng_bt, rng_apc = rng.spawn(2)
    if not needs_history(cfg):
        return RunValidation(history=None, backtests=None, rng=rng_apc)
    history = load_history(cfg, data_dir, as_of)
    vbt = None
    if cfg.backtest.in_report or cfg.estimators.volatility == "auto":
        vbt = run_var_backtests(cfg, history, rng=rng_bt)
    return RunValidation(history=history, backtests=vbt, rng=rng_apc)


def auto_volatility(cfg: RunConfig, choice: Mapping[str, str]) -> PerAssetVolatility:
    """The ``volatility = "auto"`` model: each asset's chosen estimator (GARCH where none was chosen)."""
    return PerAssetVolatility(
        estimators={a: volatility_estimator(cfg, choice[a]) for a in cfg.asset_names if a in choice},
        default=volatility_estimator(cfg, "garch"),
        missing="skip",
    )


# ---------------------------------------------------------------------------------------------
# Anti-procyclicality
# ---------------------------------------------------------------------------------------------
def buffer_haircut(ltv: np.ndarray, buffer: float) -> np.ndarray:
    """LTV after raising the haircut ``1 - LTV`` by ``buffer`` (0.25 = 25 %), capped at 1.

    Returns ``max(0, 1 - (1 + buffer) (1 - LTV))``: never above the input, never negative, and an
    LTV of 0 stays 0.
    """
    ltv = np.asarray(ltv, dtype=float)
    return np.clip(1.0 - (1.0 + buffer) * (1.0 - ltv), 0.0, ltv)


def floor_params(lt: np.ndarray, ltv: np.ndarray, lt_alt: np.ndarray, ltv_alt: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per asset the lower LT and the lower LTV of two parameter sets (haircuts floored at the larger).

    Both sets satisfy ``0 <= LTV <= LT``; so does the result.
    """
    return np.minimum(lt, lt_alt), np.minimum(ltv, ltv_alt)


def _rms_forecast(inputs: RunInputs, horizon: int) -> np.ndarray:
    path = np.asarray(inputs.generator.volatility_.forecast_path(horizon), dtype=float)
    return np.sqrt(np.mean(path**2, axis=0))


def _long_volatility(cfg: RunConfig, history: pd.DataFrame) -> np.ndarray:
    rets = asset_returns(history)
    return np.array([float(rets[a].std(ddof=1)) if len(rets[a]) > 1 else np.nan for a in cfg.asset_names])


def _stress_pool(cfg: RunConfig, inputs: RunInputs, history: pd.DataFrame
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """Terminal relatives of the stressed historical windows, and a description of the pool."""
    from optimizer.scenarios import historical_windows

    H = inputs.scenarios.horizon
    hist = historical_windows(history[list(cfg.asset_names)], H)
    term = hist.terminal
    coll = np.asarray(inputs.book.collateral_by_asset, dtype=float)
    w = coll / coll.sum() if coll.sum() > 0 else np.full(coll.size, 1.0 / coll.size)
    score = np.log(term) @ w
    q = cfg.anti_procyclicality.stress_quantile
    cut = np.quantile(score, q)
    stressed = score <= cut
    t0 = np.asarray(hist.info["t0_dates"])[stressed]
    return term[stressed], {
        "n_windows": int(hist.n_scenarios),
        "n_stressed": int(stressed.sum()),
        "first_t0": hist.info["first_t0"],
        "last_t0": hist.info["last_t0"],
        "cut_basket_move": float(np.expm1(cut)),
        "worst_t0": [str(d) for d in t0[np.argsort(score[stressed])[:5]]],
    }


def apply_anti_procyclicality(
    cfg: RunConfig, inputs: RunInputs, market: MarketInputs, sol: ThresholdSolution
) -> tuple[ThresholdSolution, dict[str, Any]]:
    """Apply ``[anti_procyclicality] method`` to a solved run; return the new solution and a section.

    The section's data keys (``method``, ``binds_bps``, ``lt_change_bps``, ...) go to params.json.
    """
    from optimizer.pipeline.run import prepare_market, solve_thresholds

    apc = cfg.anti_procyclicality
    method = apc.method
    assets = cfg.asset_names
    base = sol.recommended
    lt0, ltv0 = np.asarray(base.liquidation_threshold, float), np.asarray(base.ltv, float)
    val: RunValidation | None = getattr(inputs, "validation", None)
    details: dict[str, Any] = {}
    bullets: list[str] = []
    if method == "buffer":
        lt1, ltv1 = lt0.copy(), buffer_haircut(ltv0, apc.buffer)
        how = (f"Buffer: each haircut (1 - LTV) is held {apc.buffer:.0%} above the model's value, "
               "capped at 100 % (LTV >= 0); liquidation thresholds are unchanged.")
    elif method in ("floor", "stress_weight"):
        if val is None or val.history is None:
            raise EstimationError(f"[anti_procyclicality] method = {method!r} needs the price history")
        H = inputs.scenarios.horizon
        terminal = np.asarray(inputs.scenarios.terminal, dtype=float)
        if method == "floor":
            sig_long = _long_volatility(cfg, val.history)
            sig_now = _rms_forecast(inputs, H)
            ratio = np.where(np.isfinite(sig_long) & (sig_now > 0), sig_long / sig_now, 1.0)
            alt_terminal = np.exp(np.log(terminal) * ratio)
            m_alt = prepare_market(cfg, inputs, terminal=alt_terminal,
                                   sigma=sig_long * cfg.scenarios.vol_multiplier)
            hist_start = {a: val.history[a].first_valid_index() for a in assets}
            details = {
                "long_vol_daily": {a: float(v) for a, v in zip(assets, sig_long)},
                "forecast_vol_daily": {a: float(v) for a, v in zip(assets, sig_now)},
                "history_start": {a: (d.date().isoformat() if d is not None else None)
                                  for a, d in hist_start.items()},
            }
            how = ("Floor: the scenarios are rescaled, asset by asset, from the current volatility "
                   "forecast to the full-history volatility (standard deviation of daily log returns "
                   "from the asset's first price to as_of), the thresholds re-solved, and each LT and "
                   "LTV kept at the lower of the two solutions (each haircut floored at the long-"
                   "lookback haircut).")
            for a, s_l, s_n in zip(assets, sig_long, sig_now):
                bullets.append(f"{a}: full-history daily volatility {s_l:.2%} vs forecast {s_n:.2%} "
                               f"(since {details['history_start'][a]})")
        else:
            pool, info = _stress_pool(cfg, inputs, val.history)
            n = terminal.shape[0]
            n_st = int(math.ceil(apc.stress_weight * n))
            pick = val.rng.integers(0, pool.shape[0], size=n_st)
            alt_terminal = terminal.copy()
            alt_terminal[n - n_st:] = pool[pick]
            m_alt = prepare_market(cfg, inputs, terminal=alt_terminal)
            details = {"stress_pool": info, "n_stress_scenarios": n_st}
            how = (f"Stress weight: {apc.stress_weight:.0%} of the {n:,} scenarios are replaced by "
                   f"historical {H}-day windows drawn from the stressed ones (the worst "
                   f"{apc.stress_quantile:.0%} of windows of the collateral-weighted basket, "
                   f"{info['n_stressed']} of {info['n_windows']} windows with a price for every asset, "
                   f"t0 from {info['first_t0']} to {info['last_t0']}); the thresholds are re-solved and "
                   "each LT and LTV kept at the lower of the two solutions.")
            bullets.append(f"Stressed windows: basket move of {info['cut_basket_move']:.2%} or worse over "
                           f"{H} days; the worst start on {', '.join(info['worst_t0'])}.")
        sol_alt = solve_thresholds(cfg, inputs, m_alt)
        if sol_alt.status != "ok":
            bullets.append("The alternative calibration alone does not meet the risk target "
                           f"({', '.join(sol_alt.guard_fails) or 'aggregate budget'}); its most "
                           "conservative allowed thresholds are used as the floor.")
        lt1, ltv1 = floor_params(lt0, ltv0, np.asarray(sol_alt.recommended.liquidation_threshold, float),
                                 np.asarray(sol_alt.recommended.ltv, float))
        ltv1 = np.where(sol.zero_kept, 0.0, ltv1)
    else:  # pragma: no cover - the caller checks
        raise ValueError(f"unknown anti-procyclicality method {method!r}")

    rec = base.replace(ltv=ltv1, liquidation_threshold=lt1).check()
    new_sol = dataclasses.replace(sol, recommended=rec, lt=lt1)
    haircut_bps = (ltv0 - ltv1) * 1e4
    lt_bps = (lt0 - lt1) * 1e4
    rows = [[a, ltv0[i], ltv1[i], haircut_bps[i], lt0[i], lt1[i], lt_bps[i],
             "yes" if (haircut_bps[i] > 0.005 or lt_bps[i] > 0.005) else "no"] for i, a in enumerate(assets)]
    binding = [a for a, r in zip(assets, rows) if r[-1] == "yes"]
    summary = (f"Applied: {method}. It binds for {len(binding)} of {len(assets)} assets"
               + (f" ({', '.join(binding)})" if binding else "")
               + f"; largest haircut increase {haircut_bps.max():.0f} bps.")
    section = {
        "title": "Anti-procyclicality",
        "text": [how, summary],
        "bullets": bullets,
        "table": {
            "columns": ["Asset", "Model LTV", "Applied LTV", "Haircut +bps", "Model LT", "Applied LT",
                        "LT -bps", "Binds"],
            "formats": ["text", "pct", "pct", "num", "pct", "pct", "num", "text"],
            "rows": [[r[0], r[1], r[2], round(float(r[3]), 1), r[4], r[5], round(float(r[6]), 1), r[7]]
                     for r in rows],
            "id": "tbl-anti-procyclicality",
        },
        "method": method,
        "binds": {a: a in binding for a in assets},
        "haircut_increase_bps": {a: float(haircut_bps[i]) for i, a in enumerate(assets)},
        "lt_decrease_bps": {a: float(lt_bps[i]) for i, a in enumerate(assets)},
        "model_params": base.to_dict(),
        **details,
    }
    return new_sol, section


def attach_sections(report: RunReport, inputs: RunInputs, apc_section: dict[str, Any] | None) -> RunReport:
    """Add the ``backtests`` (params.json: ``var_backtests``) and ``anti_procyclicality`` sections."""
    cfg = inputs.config
    sections = dict(report.sections or {})
    json_names = list(report.json_sections)
    val: RunValidation | None = getattr(inputs, "validation", None)
    vbt = val.backtests if val is not None else None
    if vbt is not None and cfg.backtest.in_report:
        sections["backtests"] = backtest_section(vbt, cfg, chosen_used=cfg.estimators.volatility == "auto")
        sections["var_backtests"] = var_backtests_json(vbt)
        json_names.append("var_backtests")
    if apc_section is not None:
        sections["anti_procyclicality"] = apc_section
        json_names.append("anti_procyclicality")
    return dataclasses.replace(report, sections=sections, json_sections=tuple(dict.fromkeys(json_names)))
