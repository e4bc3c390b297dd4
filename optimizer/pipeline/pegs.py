"""Wiring of the peg-break jumps: config -> pooled history -> masked returns -> jump draws.

The formulas live below: the peg ratios in :mod:`optimizer.data._pegs`, the event scan and the
frequency in :mod:`optimizer.estimators._peg_breaks`, the jumps in :mod:`optimizer.scenarios._peg_jumps`, the
tail figures in :mod:`optimizer.optimize._peg_tail`. This module only maps the configuration onto them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.exceptions import ConfigError
from optimizer.pipeline.config import PEG_REFERENCES, RunConfig

#: Tail probability of the pegged assets' reported horizon move: the 1-in-1,000 move.
PEG_TAIL_Q = 0.001

if TYPE_CHECKING:
    from optimizer.estimators import PegBreakHistory
    from optimizer.scenarios import PegJump, PegJumpDraws, ScenarioSet


@dataclass(frozen=True, eq=False)
class PegInputs:
    """The run's pegged assets, their classes' pooled histories and the draws made from them.

    Attributes
    ----------
    pegs : dict of str to str
        Pegged asset -> its declared peg (``"usd"``, ``"eth"``, ``"btc"`` or an asset).
    classes : dict of str to str
        Pegged asset -> the class whose history it draws from.
    histories : dict of str to PegBreakHistory
        By class.
    horizon_days : int
    own_series : dict of str to bool
        Whether the asset's scenarios come from its own price series (False for a proxy such as
        WBTC priced by BTC, whose returns hold no WBTC depeg to take out).
    masked_days : dict of str to int
        Return days taken out of each asset's continuous part (its own depeg days in the window).
    returns : DataFrame
        The returns the scenario model is fitted on (the run's, depeg days NaN).
    jumps : tuple of PegJump
    draws : tuple of PegJumpDraws
        Empty until :func:`draw_peg_jumps`.
    enabled : bool
        ``[scenarios] depeg_jumps``.
    history_span : str
        ``"all"`` or ``"window"`` (``[scenarios] depeg_history``).
    data_files : dict of str to str
        SHA-256 of the price files the histories were read from (recorded with the run's own, so
        ``riskopt reproduce`` checks them too).
    """

    pegs: dict[str, str]
    classes: dict[str, str]
    histories: dict[str, PegBreakHistory]
    horizon_days: int
    own_series: dict[str, bool]
    masked_days: dict[str, int]
    returns: pd.DataFrame
    jumps: tuple[PegJump, ...] = ()
    draws: tuple[PegJumpDraws, ...] = field(default=())
    enabled: bool = True
    history_span: str = "all"
    data_files: dict[str, str] = field(default_factory=dict)


def peg_class(cfg: RunConfig, asset: str) -> str:
    """The class an asset's peg draws its history from (a peg to a pegged asset: that one's class)."""
    seen = {asset}
    peg = cfg.pegs[asset]
    while peg not in PEG_REFERENCES:
        if peg in seen or peg not in cfg.pegs:
            raise ConfigError(
                f"[assets.{asset}] peg = {cfg.pegs[asset]!r}: the data hold a peg-break history only for "
                f"assets pegged to {', '.join(map(repr, PEG_REFERENCES))}; peg {cfg.pegs[asset]!r} to one of "
                "them, or declare its own peg"
            )
        seen.add(peg)
        peg = cfg.pegs[peg]
    return peg


def peg_inputs(
    cfg: RunConfig, data_dir: str | Path, *, returns: pd.DataFrame, as_of: str | None, start: str | None
) -> PegInputs:
    """Pooled histories of the run's peg classes and the returns with the depeg days taken out."""
    from optimizer.data import INTRADAY_EXTREMES_FILE, intraday_extremes, peg_history, peg_history_files
    from optimizer.estimators import PegBreakModel
    from optimizer.scenarios import PegJump, mask_peg_days

    sc = cfg.scenarios
    pegs = cfg.pegs
    if not pegs or not sc.depeg_jumps:
        return PegInputs(pegs=pegs, classes={}, histories={}, horizon_days=sc.horizon_days, own_series={},
                         masked_days={}, returns=returns, enabled=sc.depeg_jumps, history_span=sc.depeg_history)
    classes = {a: peg_class(cfg, a) for a in pegs}
    first = start if sc.depeg_history == "window" else None
    histories: dict[str, PegBreakHistory] = {}
    # a data directory may carry its own table (same format), which replaces the package's
    own_table = Path(data_dir) / INTRADAY_EXTREMES_FILE.name
    table = intraday_extremes(own_table) if own_table.is_file() else intraday_extremes()
    for ref in sorted(set(classes.values())):
        series = peg_history(data_dir, reference=ref, as_of=as_of, start=first)
        if not series:
            histories[ref] = None  # type: ignore[assignment]
            continue
        model = PegBreakModel(threshold=sc.depeg_threshold, decluster_days=sc.depeg_decluster_days,
                              intraday=table).fit(series)
        histories[ref] = model.history_
    own = {a: cfg.assets[a].price_ticker in (None, a) for a in pegs}
    days = {a: [e.days() for e in histories[classes[a]].events if e.asset == a]
            for a in pegs if own[a] and histories.get(classes[a]) is not None}
    masked_returns, masked = mask_peg_days(returns, days)
    jumps = tuple(
        PegJump(asset=a, reference=classes[a],
                probability=histories[classes[a]].horizon_probability(sc.horizon_days),
                levels=histories[classes[a]].levels)
        for a in pegs if histories.get(classes[a]) is not None and histories[classes[a]].events
    )
    return PegInputs(pegs=pegs, classes=classes, histories={k: v for k, v in histories.items() if v is not None},
                     horizon_days=sc.horizon_days, own_series=own, masked_days=masked, returns=masked_returns,
                     jumps=jumps, enabled=True, history_span=sc.depeg_history,
                     data_files=peg_history_files(data_dir, extra=[own_table] if own_table.is_file() else []))


def draw_peg_jumps(pegs: PegInputs, scenarios: ScenarioSet, *, rng: np.random.Generator) -> tuple[ScenarioSet, PegInputs]:
    """The scenarios with the pegged assets' depeg jumps, and the inputs with the draws recorded."""
    from optimizer.scenarios import add_peg_jumps

    if not pegs.jumps:
        return scenarios, pegs
    scen, draws = add_peg_jumps(scenarios, pegs.jumps, rng=rng)
    return scen, dataclasses.replace(pegs, draws=draws)


def redraw_peg_jumps(
    pegs: PegInputs | None, scenarios: ScenarioSet, *, horizon_days: int, rng: np.random.Generator
) -> tuple[ScenarioSet, PegInputs | None]:
    """:func:`draw_peg_jumps` on freshly simulated scenarios of another horizon (a sensitivity point
    that shares a fit): the probabilities are the histories' at ``horizon_days``."""
    if pegs is None or not pegs.jumps:
        return scenarios, pegs
    jumps = tuple(dataclasses.replace(j, probability=pegs.histories[j.reference].horizon_probability(horizon_days))
                  for j in pegs.jumps)
    return draw_peg_jumps(dataclasses.replace(pegs, jumps=jumps, horizon_days=horizon_days, draws=()), scenarios,
                          rng=rng)


def peg_figures(inputs: Any, evaluation: Any, *, alpha: float) -> tuple[Any, ...]:
    """:func:`~optimizer.optimize.peg_tail_figures` of the run: the scenarios with the jumps and the
    static bad debt of the recommended parameters (``evaluation``, a BookEvaluation)."""
    from optimizer.optimize import peg_tail_figures

    pegs = inputs.pegs
    if pegs is None or not pegs.draws:
        return ()
    scen = inputs.scenarios
    return peg_tail_figures(scen.terminal, scen.assets, pegs.draws, bad_debt_by_asset=evaluation.by_asset,
                            bad_debt=evaluation.total, alpha=alpha, q=PEG_TAIL_Q)


def attach_peg_section(report: Any, inputs: Any, figures: tuple[Any, ...]) -> Any:
    """The report with its "Peg risk" section (params.json ``peg_risk``) when the run has pegged assets."""
    from optimizer.report.peg import peg_section

    pegs = inputs.pegs
    if pegs is None or not pegs.pegs or not pegs.enabled:
        return report
    section = peg_section(figures, pegs.histories, pegs=pegs.pegs, classes=pegs.classes,
                          masked_days=pegs.masked_days, own_series=pegs.own_series,
                          horizon_days=pegs.horizon_days, history_span=pegs.history_span)
    meta = dict(report.meta)
    meta["data_files"] = dict(sorted({**pegs.data_files, **meta.get("data_files", {})}.items()))
    return dataclasses.replace(report, meta=meta, sections={**report.sections, "peg_risk": section})
