"""Wiring of the stress library: the config's assets, long history, intraday lows and shocks.

:func:`stress_library` maps a :class:`RunConfig` to :func:`optimizer.scenarios.build_stress_library`
(collateral weights from ``supplied_usd``, the upside of borrowed assets, stablecoins as the USD
class with the data directory's other USD stablecoins as class peers), and :func:`stress_outcome`
evaluates the book on every scenario under the recommended and the current parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.exceptions import DataError, DataQualityWarning
from optimizer.pipeline.config import RunConfig
from optimizer.scenarios import StressLibrary, StressRule

__all__ = ["USD_PEERS", "StressOutcome", "library_of", "peg_classes", "run_stress", "stress_budget",
           "stress_library", "stress_outcome", "stress_rows"]

#: Other USD stablecoins of the data directory that give a USD stablecoin of the config its class
#: move in a window where it has no price of its own (USDT reaches back to 2014 in Coin Metrics).
USD_PEERS: tuple[str, ...] = ("usdt", "dai")


@dataclass(frozen=True, eq=False)
class StressOutcome:
    """The library and the book's static bad debt in each scenario.

    ``bad_debt_recommended`` / ``bad_debt_current``: ndarray of shape (n_stress,), USD;
    ``by_asset_recommended``: ndarray of shape (n_stress, n_assets), the recommended bad debt by
    collateral asset (None when not evaluated).
    """

    library: StressLibrary
    bad_debt_recommended: np.ndarray
    bad_debt_current: np.ndarray
    by_asset_recommended: np.ndarray | None = None


def stress_library(cfg: RunConfig, data_dir: str | Path, as_of: str | None, *,
                   history: pd.DataFrame | None = None, rule: StressRule | None = None) -> StressLibrary:
    """The config's stress library, scanned over each asset's whole history up to ``as_of``.

    ``history`` is that history when the run already loaded it (``RunValidation.history``);
    ``rule`` the scan's rule (default ``StressRule()``).
    """
    from optimizer.data import intraday_extremes, load_prices
    from optimizer.pipeline.history import load_history
    from optimizer.scenarios import build_stress_library

    if history is None:
        history = load_history(cfg, data_dir, as_of)
    tickers = {a: (c.price_ticker or a) for a, c in cfg.assets.items()}
    classes = peg_classes(cfg)
    peer_prices, peer_classes = None, {}
    wanted = [p for p in USD_PEERS if p not in tickers.values()]
    if "usd" in classes.values() and wanted:
        frames = []
        for peer in wanted:  # one at a time: a peer a source lacks or disagrees on is left out
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DataQualityWarning)
                    frames.append(load_prices(data_dir, [peer], sources=list(cfg.data.sources), as_of=as_of,
                                              overlap_tolerance=cfg.data.overlap_tolerance).prices)
            except DataError:
                continue
        if frames:
            peer_prices = pd.concat(frames, axis=1).reindex(history.index)
            peer_classes = {p: "usd" for p in peer_prices.columns}
    return build_stress_library(
        history, cfg.scenarios.horizon_days,
        collateral={a: c.supplied_usd for a, c in cfg.assets.items()},
        classes=classes,
        market=[a for a in cfg.assets if classes.get(a) != "usd"],
        upside=[a for a, c in cfg.assets.items() if c.borrowed_usd > 0],
        peer_prices=peer_prices, peer_classes=peer_classes, tickers=tickers,
        intraday=intraday_extremes(), shocks=cfg.stress, rule=rule,
    )


def peg_classes(cfg: RunConfig) -> dict[str, str]:
    """Asset -> the class it follows in the stress library: its peg (``[assets.x] peg``, ``"usd"``
    for a stablecoin), named by the config asset that prices the peg when there is one (a
    ``peg = "eth"`` LST follows the config's eth). An asset priced by its own peg's series (wbtc,
    ``peg = "btc"``, read from the btc column) follows nothing but itself and is left out."""
    by_ticker = {(c.price_ticker or a): a for a, c in cfg.assets.items()}
    out = {}
    for a, c in cfg.assets.items():
        peg = c.peg or ("usd" if c.stablecoin else None)
        if peg is not None:
            cls = peg if peg in cfg.assets else by_ticker.get(peg, peg)
            if cls != a:
                out[a] = cls
    return out


def stress_outcome(library: StressLibrary, book: Any, current: Any, recommended: Any,
                   slippage: np.ndarray, *, slippage_current: np.ndarray | None = None) -> StressOutcome:
    """Static bad debt of ``book`` in every scenario of ``library`` (one scenario each); the current
    parameters at ``slippage_current`` (the sale their own liquidations cause; default ``slippage``)."""
    from optimizer.optimize import evaluate_book

    if library.n_scenarios == 0:
        empty = np.zeros(0)
        return StressOutcome(library=library, bad_debt_recommended=empty, bad_debt_current=empty,
                             by_asset_recommended=np.zeros((0, len(library.assets))))
    rel = library.terminal
    rec = evaluate_book(book, rel, current, recommended, slippage)
    return StressOutcome(
        library=library,
        bad_debt_recommended=rec.total,
        bad_debt_current=evaluate_book(book, rel, current, current,
                                       slippage if slippage_current is None else slippage_current).total,
        by_asset_recommended=rec.by_asset,
    )


def run_stress(cfg: RunConfig, inputs: Any, data_dir: str | Path | None, recommended: Any,
               slippage: np.ndarray, *, slippage_current: np.ndarray | None = None) -> StressOutcome:
    """The run's stress stage: the library of ``inputs.config`` (as_of resolved) and the book in it."""
    library = library_of(inputs.config, inputs, data_dir)
    return stress_outcome(library, inputs.book, inputs.current, recommended, slippage,
                          slippage_current=slippage_current)


def library_of(cfg: RunConfig, inputs: Any, data_dir: str | Path | None = None) -> StressLibrary:
    """The stress library of ``cfg`` on ``inputs``' data, built once per horizon and shocks
    (kept in ``inputs.stress_cache``: every stage of a run, and every sweep point, reads the same one)."""
    from optimizer.data import resolve_data_dir

    key = (cfg.scenarios.horizon_days, tuple((n, tuple(v.items())) for n, v in cfg.stress.items()))
    cache = getattr(inputs, "stress_cache", None)
    if cache is not None and key in cache:
        return cache[key]
    ddir = data_dir if data_dir is not None else (getattr(inputs, "data_dir", None) or cfg.run.data_dir)
    ddir = resolve_data_dir(ddir)
    validation = getattr(inputs, "validation", None)
    history = validation.history if validation is not None else None
    library = stress_library(cfg, ddir, inputs.config.run.as_of, history=history)
    if cache is not None:
        cache[key] = library
    return library


def stress_budget(cfg: RunConfig, library: StressLibrary, total_debt: float, *, alpha: float,
                  share: float | None) -> tuple[float, str]:
    """The stress budget in USD and how it was set: ``[optimizer] stress_budget_usd``, else
    ``stress_budget_share`` of the book's debt, else the appetite's CVaR budget at the history's
    length (:func:`optimizer.optimize.historical_stress_budget`)."""
    from optimizer.optimize import historical_stress_budget

    o = cfg.optimizer
    if o.stress_budget_usd is not None:
        return float(o.stress_budget_usd), "[optimizer] stress_budget_usd"
    if o.stress_budget_share is not None:
        return float(o.stress_budget_share * total_debt), \
            f"[optimizer] stress_budget_share = {o.stress_budget_share:g} of the book's debt"
    budget = o.risk_budget_usd if share is None else share * total_debt
    usd = historical_stress_budget(budget, alpha, library.n_windows)
    return usd, (f"the CVaR budget ${budget:,.0f} x (1 - alpha = {1 - alpha:.3g}) x {library.n_windows:,} horizon "
                 "windows scanned: a scenario counted at its historical frequency that loses more breaks the "
                 "CVaR budget on history by itself")


def stress_rows(cfg: RunConfig, inputs: Any, book: Any, *, alpha: float, share: float | None) -> dict[str, Any]:
    """Keyword arguments of ``ThresholdProblem.build`` for the stress rows ({} when off or empty)."""
    if not cfg.optimizer.stress_constraint:
        return {}
    library = library_of(cfg, inputs)
    if library.n_scenarios == 0:
        return {}
    usd, rule = stress_budget(cfg, library, book.total_debt, alpha=alpha, share=share)
    return {"stress_terminal": library.terminal, "stress_names": library.names, "stress_budget_usd": usd,
            "stress_rule": rule}
