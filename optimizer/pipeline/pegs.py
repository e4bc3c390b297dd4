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
#: The reported depth: USDC's intraday low of 2023-03-11 (0.87), P(move <= it) per pegged asset.
PEG_TAIL_DEPTH = -0.13
#: Replications of the Monte Carlo band, bootstrap refits of the estimation band, and bootstrap
#: samples of the goodness-of-fit p-value.
N_MC_REPLICATIONS = 100
N_BOOTSTRAP = 100
N_GOF = 100

if TYPE_CHECKING:
    from collections.abc import Sequence

    from optimizer.estimators import PegBreakHistory
    from optimizer.typing import FloatArray
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
    severities : dict of str to PegSeverity
        By class: the severity the jumps draw from, at ``horizon_days``.
    severity_method : str
        ``[scenarios] depeg_severity``.
    band_rng : Generator or None
        A child of the ``pegs`` stream, spawned after the draws: the report's bands and
        bootstraps (so they change no draw of the run).
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
    severities: dict[str, Any] = field(default_factory=dict)
    severity_method: str = "gpd"
    band_rng: np.random.Generator | None = None


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
    from optimizer.scenarios import mask_peg_days

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
    kept = {k: v for k, v in histories.items() if v is not None}
    severities = _severities(kept, sc.horizon_days, sc.depeg_threshold, sc.depeg_severity)
    jumps = _jumps(pegs, classes, kept, severities, sc.horizon_days)
    return PegInputs(pegs=pegs, classes=classes, histories=kept,
                     horizon_days=sc.horizon_days, own_series=own, masked_days=masked, returns=masked_returns,
                     jumps=jumps, enabled=True, history_span=sc.depeg_history,
                     data_files=peg_history_files(data_dir, extra=[own_table] if own_table.is_file() else []),
                     severities=severities, severity_method=sc.depeg_severity)


def _severities(histories: dict[str, Any], horizon: int, threshold: float, method: str) -> dict[str, Any]:
    from optimizer.estimators import fit_peg_severity

    return {ref: fit_peg_severity(h.moves(horizon), threshold=threshold, method=method)  # type: ignore[arg-type]
            for ref, h in histories.items() if h.events}


def _jumps(pegs: dict[str, str], classes: dict[str, str], histories: dict[str, Any], severities: dict[str, Any],
           horizon: int) -> tuple[PegJump, ...]:
    from optimizer.scenarios import PegJump

    return tuple(
        PegJump(asset=a, reference=classes[a], probability=histories[classes[a]].horizon_probability(horizon),
                levels=histories[classes[a]].moves(horizon), severity=severities[classes[a]])
        for a in pegs if classes[a] in severities
    )


def draw_peg_jumps(
    pegs: PegInputs, scenarios: ScenarioSet, *, rng: np.random.Generator
) -> tuple[ScenarioSet, PegInputs]:
    """The scenarios with the pegged assets' depeg jumps, and the inputs with the draws recorded
    (and a child of the stream for the report's error bands, :func:`peg_figures`)."""
    from optimizer.scenarios import add_peg_jumps

    if not pegs.jumps:
        return scenarios, pegs
    scen, draws = add_peg_jumps(scenarios, pegs.jumps, rng=rng)
    return scen, dataclasses.replace(pegs, draws=draws, band_rng=rng.spawn(1)[0])


def _bands(pegs: PegInputs, continuous: FloatArray, assets: Sequence[str], rng: np.random.Generator) -> dict[str, Any]:
    """Per jump: the Monte Carlo replications and the parametric-bootstrap refits of its tail."""
    from optimizer.optimize import PegTailBands
    from optimizer.scenarios import PegJump, replicate_tail

    out: dict[str, Any] = {}
    for jump in pegs.jumps:
        col = continuous[:, list(assets).index(jump.asset)]
        mc = replicate_tail(col, [jump] * N_MC_REPLICATIONS, q=PEG_TAIL_Q, depth=PEG_TAIL_DEPTH, rng=rng)
        hist, sev = pegs.histories[jump.reference], pegs.severities[jump.reference]
        boot = []
        for _ in range(N_BOOTSTRAP):
            s_b, n_b = sev.resample(rng)
            boot.append(PegJump(asset=jump.asset, reference=jump.reference, levels=s_b.moves, severity=s_b,
                                probability=hist.horizon_probability(pegs.horizon_days, n_events=n_b)))
        est = replicate_tail(col, boot, q=PEG_TAIL_Q, depth=PEG_TAIL_DEPTH, rng=rng, resample=False)
        out[jump.asset] = PegTailBands(mc_moves=mc[0], mc_probs=mc[1], est_moves=est[0], est_probs=est[1],
                                       depth=PEG_TAIL_DEPTH, kind_mc="replications", kind_est="parametric bootstrap")
    return out


def _evidence(pegs: PegInputs, rng: np.random.Generator) -> dict[str, Any]:
    """Per class: both severity models with goodness of fit and leave-one-out stability."""
    from optimizer.estimators import fit_peg_severity, severity_evidence

    out: dict[str, Any] = {}
    for ref, hist in pegs.histories.items():
        if not hist.events:
            continue
        moves = hist.moves(pegs.horizon_days)
        fits = {m: fit_peg_severity(moves, threshold=hist.threshold, method=m, rng=rng, n_gof=N_GOF)  # type: ignore[arg-type]
                for m in ("gpd", "empirical")}
        out[ref] = severity_evidence(fits, moves, hist.total_asset_years, pegs.horizon_days, q=PEG_TAIL_Q,
                                     chosen=pegs.severity_method)
    return out


def redraw_peg_jumps(
    pegs: PegInputs | None, scenarios: ScenarioSet, *, horizon_days: int, rng: np.random.Generator
) -> tuple[ScenarioSet, PegInputs | None]:
    """:func:`draw_peg_jumps` on freshly simulated scenarios of another horizon (a sensitivity point
    that shares a fit): the probabilities are the histories' at ``horizon_days``."""
    if pegs is None or not pegs.jumps:
        return scenarios, pegs
    threshold = next(iter(pegs.histories.values())).threshold
    severities = _severities(pegs.histories, horizon_days, threshold, pegs.severity_method)
    jumps = _jumps(pegs.pegs, pegs.classes, pegs.histories, severities, horizon_days)
    again = dataclasses.replace(pegs, jumps=jumps, horizon_days=horizon_days, draws=(), severities=severities)
    return draw_peg_jumps(again, scenarios, rng=rng)


def peg_figures(inputs: Any, evaluation: Any, *, alpha: float) -> tuple[Any, ...]:
    """:func:`~optimizer.optimize.peg_tail_figures` of the run: the scenarios with the jumps and the
    static bad debt of the recommended parameters (``evaluation``, a BookEvaluation)."""
    from optimizer.optimize import peg_tail_figures
    from optimizer.scenarios import jump_factor

    pegs = inputs.pegs
    if pegs is None or not pegs.draws:
        return ()
    scen = inputs.scenarios
    rng = pegs.band_rng
    if rng is None:
        raise ValueError("the peg inputs have draws but no band stream: draw them with draw_peg_jumps")
    continuous = scen.terminal / jump_factor(scen.assets, scen.n_scenarios, pegs.draws)
    bands = _bands(pegs, continuous, scen.assets, rng)
    evidence = _evidence(pegs, rng)
    return peg_tail_figures(scen.terminal, scen.assets, pegs.draws, bad_debt_by_asset=evaluation.by_asset,
                            bad_debt=evaluation.total, alpha=alpha, q=PEG_TAIL_Q, depth=PEG_TAIL_DEPTH, bands=bands,
                            evidence=evidence)


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
