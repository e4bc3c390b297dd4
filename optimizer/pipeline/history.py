"""Wiring: the config's prices, each asset's full history, and the validation computed on it.

A run reads prices twice: the estimation window (:func:`load_asset_prices` with ``start``), and
each asset's **own** history from its first price to ``as_of`` (:func:`load_history_data`), which
the VaR backtests (:func:`optimizer.estimators.run_var_backtests`), the ``auto`` volatility
choice and the anti-procyclicality policy use. :func:`prepare_validation` maps ``[backtest]`` and
``[estimators]`` to those calls.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer._cache import DiskCache
from optimizer.estimators import BacktestCache, VaRBacktests, make_volatility, run_var_backtests
from optimizer.exceptions import ConfigError, DataQualityWarning
from optimizer.optimize.anti_procyclicality import AntiProcyclicality
from optimizer.pipeline.config import RunConfig
from optimizer.typing import VolatilityName

__all__ = [
    "BACKTEST_CACHE",
    "RunValidation",
    "anti_procyclicality_policy",
    "asset_returns",
    "load_asset_prices",
    "load_history",
    "load_history_data",
    "needs_history",
    "prepare_validation",
    "var_backtests",
]

#: Libraries whose versions enter the on-disk key of a backtest: a new one recomputes.
BACKTEST_PACKAGES = ("numpy", "scipy", "pandas", "arch")
#: The memo of VaR backtests (keyed by content, see :class:`BacktestCache`): a sensitivity sweep,
#: a recalibration or a test session that repeats a run on the same data pays for the backtests
#: once, and the on-disk cache (:mod:`optimizer._cache`) carries them to the next run.
BACKTEST_CACHE = BacktestCache(
    maxsize=16, disk=DiskCache("var_backtests", packages=BACKTEST_PACKAGES, sources=("optimizer.estimators",)))


def load_asset_prices(cfg: RunConfig, ddir: Path, *, proxies: bool = False, **kw: Any) -> Any:
    """Prices of the config's assets, reading a proxy column where ``price_ticker`` says so.

    Columns come back named by the config's tickers; each proxy is recorded as a finding. With
    ``proxies`` (the estimation window of a run), an asset with ``short_history = "proxy"`` gets
    its days before its first price from its proxy (:meth:`PriceData.backfilled_by`); a proxy
    that is not a configured asset is loaded for that and dropped.
    """
    from optimizer.data import load_prices

    tickers = {a: (c.price_ticker or a) for a, c in cfg.assets.items()}
    if len(set(tickers.values())) != len(tickers):
        raise ConfigError("two assets read the same price column; check [assets.*] price_ticker")
    asset_of = {t: a for a, t in tickers.items()}
    backfill = {a: c.proxy for a, c in cfg.assets.items() if proxies and c.short_history == "proxy" and c.proxy}
    # a proxy names a configured asset, or a data ticker (the column of the asset reading it, if any)
    backfill = {a: (p if p in cfg.assets else asset_of.get(p, p)) for a, p in backfill.items()}
    extra = tuple(dict.fromkeys(p for p in backfill.values() if p not in cfg.assets))
    sources = {tickers[a]: (c.source or cfg.data.sources) for a, c in cfg.assets.items()}
    sources.update({p: cfg.data.sources for p in extra})
    if backfill:
        # a proxied asset's own prices only need to cover the overlap the scale is estimated on;
        # the run checks every asset's returns against min_history_days after the backfill
        kw = {**kw, "min_history_days": 0}
    pd_ = load_prices(
        ddir, list(tickers.values()) + list(extra), sources=sources, with_volumes=cfg.data.volumes,
        stablecoins=[tickers[a] for a, c in cfg.assets.items() if c.stablecoin],
        stale_run_days=cfg.data.stale_run_days, outlier_sigma=cfg.data.outlier_sigma,
        depeg_tolerance=cfg.data.depeg_tolerance, overlap_tolerance=cfg.data.overlap_tolerance,
        **kw,
    )
    return pd_.priced_by({t: a for a, t in tickers.items() if t != a}).backfilled_by(backfill, drop=extra)


def load_history_data(cfg: RunConfig, data_dir: Any, as_of: str | None) -> Any:
    """:class:`~optimizer.data.PriceData` of the config's assets from each one's first price to ``as_of``.

    Price proxies (``price_ticker``) apply as in the run. Data flags of this longer span are not
    repeated in the report (those of the estimation window are); fatal problems raise
    :class:`~optimizer.exceptions.DataError` as in the run.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_asset_prices(cfg, data_dir, as_of=as_of)


def load_history(cfg: RunConfig, data_dir: Any, as_of: str | None) -> pd.DataFrame:
    """Prices (calendar days, NaN where there is none) of :func:`load_history_data`."""
    return load_history_data(cfg, data_dir, as_of).prices


def asset_returns(prices: pd.DataFrame) -> dict[str, pd.Series]:
    """Each column's one-day log returns on its own dates (a return across a gap is left out)."""
    from optimizer.data import one_day_log_returns

    rets = one_day_log_returns(prices)
    return {str(a): rets[a].dropna() for a in prices.columns}


def var_backtests(
    cfg: RunConfig,
    history: pd.DataFrame,
    *,
    rng: np.random.Generator,
    test_days: int | None | str = "config",
    estimators: tuple[str, ...] | None = None,
) -> VaRBacktests:
    """The ``[backtest]`` backtests of the config's estimators on every asset of ``history``.

    ``test_days`` overrides ``[backtest] test_days`` (None: every day after the first window),
    ``estimators`` overrides ``[backtest] estimators``. Results come from :data:`BACKTEST_CACHE`
    when this process computed them before.
    """
    bt = cfg.backtest
    names = tuple(estimators or bt.estimators)
    lam = cfg.estimators.ewma_lambda
    return run_var_backtests(
        asset_returns(history),
        {name: make_volatility(name, lam=lam) for name in names},
        var_alpha=bt.var_alpha,
        window=bt.window,
        refit_every=bt.refit_every,
        test_days=bt.test_days if test_days == "config" else test_days,
        es_sims=bt.es_sims,
        as_of=history.index[-1].date().isoformat() if len(history.index) else None,
        rng=rng,
        cache=BACKTEST_CACHE,
    )


@dataclass(frozen=True, eq=False)
class RunValidation:
    """Validation inputs of one run, built by :func:`prepare_validation` in ``load_inputs``.

    Attributes
    ----------
    history : DataFrame or None
        Each asset's prices from its first date to as_of (None when nothing needs them).
    backtests : VaRBacktests or None
    rng : Generator
        Stream of the anti-procyclicality draws (a child of the run's ``validation`` stream).
    """

    history: pd.DataFrame | None
    backtests: VaRBacktests | None
    rng: np.random.Generator


def anti_procyclicality_policy(cfg: RunConfig) -> AntiProcyclicality | None:
    """The ``[anti_procyclicality]`` policy, or None for ``method = "none"``."""
    apc = cfg.anti_procyclicality
    if apc.method == "none":
        return None
    return AntiProcyclicality(method=apc.method, buffer=apc.buffer, stress_weight=apc.stress_weight,
                              stress_quantile=apc.stress_quantile)


def needs_history(cfg: RunConfig) -> bool:
    """Whether the run reads each asset's full history (backtests, ``auto``, floor or stress weight)."""
    policy = anti_procyclicality_policy(cfg)
    return (cfg.backtest.in_report or cfg.estimators.volatility == VolatilityName.AUTO
            or (policy is not None and policy.needs_history))


def prepare_validation(cfg: RunConfig, data_dir: Any, as_of: str | None, *,
                       rng: np.random.Generator) -> RunValidation:
    """Load the long history and run the backtests the config asks for (in the run, before fitting).

    ``rng`` is the run's ``validation`` stream; its first child seeds the backtests, its second
    the anti-procyclicality draws.
    """
    rng_bt, rng_apc = rng.spawn(2)
    if not needs_history(cfg):
        return RunValidation(history=None, backtests=None, rng=rng_apc)
    history = load_history(cfg, data_dir, as_of)
    vbt = None
    if cfg.backtest.in_report or cfg.estimators.volatility == VolatilityName.AUTO:
        vbt = var_backtests(cfg, history, rng=rng_bt)
    return RunValidation(history=history, backtests=vbt, rng=rng_apc)
