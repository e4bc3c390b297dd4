"""The run report's peg-risk section: the depeg jumps of each pegged asset and the history behind them.

It reads typed results only: the pooled :class:`~optimizer.estimators.PegBreakHistory` of each
class and the :class:`~optimizer.optimize.PegTailFigures` of each pegged asset; it computes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from optimizer.report._format import MISSING, fmt_pct
from optimizer.report.section import Column, Format, Section, Table, text_table

if TYPE_CHECKING:
    from optimizer.estimators import PegBreakHistory
    from optimizer.optimize import PegTailFigures

__all__ = ["peg_data", "peg_section"]

_CLASS_NAME = {"usd": "USD stablecoins", "eth": "ETH-pegged tokens", "btc": "BTC-pegged tokens"}


def _one_in(q: float) -> str:
    return f"1-in-{round(1 / q):,}"


def _pm(x: float | None, se: float | None) -> str:
    if x is None:
        return "none (no bad debt in the tail)"
    return fmt_pct(x, 1) + (f" ± {fmt_pct(se, 1)}" if se is not None else "")


def _prob(f: PegTailFigures) -> str:
    out = f"{f.prob_depth:.2e}"
    if f.prob_depth_band is not None:
        out += f" [{f.prob_depth_band[0]:.2e}, {f.prob_depth_band[1]:.2e}]"
    if f.prob_depth_est_band is not None:
        out += f"; [{f.prob_depth_est_band[0]:.2e}, {f.prob_depth_est_band[1]:.2e}]"
    return out


def _fmt(x: float, d: int = 3) -> str:
    return MISSING if x != x else f"{x:.{d}f}"


def _severity_table(ref: str, ev: Any) -> Table:
    rows = []
    for m in ("gpd", "empirical"):
        fit = ev.fits[m]
        for side in ("below", "above"):
            t = getattr(fit, side)
            if m == "empirical" or t is None:
                desc = "atoms" if m == "empirical" else "none beyond the threshold"
                if m == "empirical" and side == "above":
                    continue
                rows.append((m + (" (default)" if m == ev.chosen else ""), "both" if m == "empirical" else side,
                             desc, "", "", "", fmt_pct(ev.conditional[m], 1),
                             f"[{fmt_pct(ev.loo[m][0], 1)}, {fmt_pct(ev.loo[m][1], 1)}]"))
                continue
            fit_txt = (f"xi {_fmt(t.xi, 2)} ± {_fmt(t.xi_se, 2)}, sigma {_fmt(t.sigma, 4)} ± {_fmt(t.sigma_se, 4)}"
                       if t.method == "gpd" else "atoms (too few for a fit)")
            rows.append((m + (" (default)" if m == ev.chosen else ""), side, fit_txt, str(t.n),
                         _fmt(t.ks, 3), _fmt(t.ks_pvalue, 2), fmt_pct(ev.conditional[m], 1),
                         f"[{fmt_pct(ev.loo[m][0], 1)}, {fmt_pct(ev.loo[m][1], 1)}]"))
    return text_table(
        f"tbl-peg-severity-{ref}",
        ["Model", "Side", "Fit (± s.e.)", "Exceedances", "KS", "KS p (bootstrap)",
         f"Jump-only {_one_in(ev.q)} move", "Leave-one-out range"],
        rows, [False] * 8,
        caption=(f"Severity models of {_CLASS_NAME.get(ref, ref)} on the same pooled horizon moves: goodness of fit "
                 "of the tails and stability of the tail move when one event is left out"),
    )


def peg_data(
    figures: Sequence[PegTailFigures],
    histories: Mapping[str, PegBreakHistory],
    *,
    pegs: Mapping[str, str],
    classes: Mapping[str, str],
    masked_days: Mapping[str, int],
    own_series: Mapping[str, bool],
    horizon_days: int,
    history_span: str,
) -> dict[str, Any]:
    """params.json ``peg_risk``: per pegged asset its jump figures, per class its pooled events."""
    assets = {}
    for f in figures:
        assets[f.asset] = {
            "peg": pegs[f.asset], "class": f.reference, "probability": f.probability,
            "horizon_days": horizon_days, "n_jumps": f.n_jumps, "n_scenarios": f.n_scenarios,
            "n_below_par": f.n_below, "n_above_par": f.n_above, "level_median_below_par": f.level_median,
            "level_worst": f.level_worst, "level_best": f.level_best,
            "q": f.q, "move": f.move, "move_band": list(f.move_band), "move_without_jumps": f.move_without_jumps,
            "tail_share": f.tail_share, "tail_share_se": f.tail_share_se,
            "cvar_share": f.cvar_share, "cvar_share_se": f.cvar_share_se, "alpha": f.alpha,
            "move_est_band": None if f.move_est_band is None else list(f.move_est_band),
            "depth": f.depth, "prob_depth": f.prob_depth,
            "prob_depth_band": None if f.prob_depth_band is None else list(f.prob_depth_band),
            "prob_depth_est_band": None if f.prob_depth_est_band is None else list(f.prob_depth_est_band),
            "n_mc_replications": f.n_mc, "n_bootstrap": f.n_boot,
            "masked_return_days": int(masked_days.get(f.asset, 0)), "own_series": bool(own_series.get(f.asset, True)),
        }
    for a, peg in pegs.items():
        assets.setdefault(a, {"peg": peg, "class": classes.get(a), "n_jumps": 0, "probability": 0.0})
    out_classes = {}
    for ref, h in histories.items():
        out_classes[ref] = {
            "n_events": len(h.events), "asset_years": {a: y for a, y in sorted(h.asset_years.items())},
            "frequency_per_asset_year": h.frequency, "threshold": h.threshold, "decluster_days": h.decluster_days,
            "history": history_span, "horizon_probability": h.horizon_probability(horizon_days),
            "events": [{
                "asset": e.asset, "start": e.start.isoformat(), "end": e.end.isoformat(), "side": e.side,
                "close_level": e.close_level, "close_source": e.close_source, "level": e.level,
                "depth_source": e.depth_source, "intraday_source": e.intraday_source,
                "horizon_move": e.move(horizon_days), "counted": not e.excluded, "excluded": e.excluded,
            } for e in sorted((*h.events, *h.excluded), key=lambda e: (e.start, e.asset))],
            "notes": list(h.notes),
        }
    return {"assets": assets, "classes": out_classes}


def peg_section(
    figures: Sequence[PegTailFigures],
    histories: Mapping[str, PegBreakHistory],
    *,
    pegs: Mapping[str, str],
    classes: Mapping[str, str],
    masked_days: Mapping[str, int],
    own_series: Mapping[str, bool],
    horizon_days: int,
    history_span: str,
) -> Section:
    """The "Peg risk" section (see the module docstring)."""
    data = peg_data(figures, histories, pegs=pegs, classes=classes, masked_days=masked_days,
                    own_series=own_series, horizon_days=horizon_days, history_span=history_span)
    q = figures[0].q if figures else 0.001
    alpha = figures[0].alpha if figures else 0.99
    span = "every day of the data up to as_of" if history_span == "all" else "the run's window only"
    ev = next((f.evidence for f in figures if f.evidence is not None), None)
    method = ev.chosen if ev is not None else "gpd"
    n_mc = figures[0].n_mc if figures else 0
    n_boot = figures[0].n_boot if figures else 0
    paras = [
        "Peg risk is a jump, not a volatility. Each scenario of a pegged asset holds, with the horizon's "
        f"event probability (Poisson over {horizon_days} day(s) at its class's pooled frequency), a depeg "
        "drawn from its class's severity over the horizon, at full size: never rescaled by today's "
        "volatility. A peg to ETH or BTC multiplies the asset's own move. "
        f"The history is {span}. An event is a run of closes more than the threshold off par; its size is "
        f"its worst {horizon_days}-day move: the worst change over the windows that end inside the event, "
        f"each from the close {horizon_days} day(s) earlier (the first from the last on-peg close), the "
        "documented intraday low counting on its day, and never deeper than its distance from par. An event "
        "that drifts for months contributes its worst two days, not its whole distance from par (the event "
        "table shows both). Thin markets are counted out: an asset's history counts from the first day its "
        "market cap reached $100M (the largest of the sources' market caps that day); the events before are "
        "listed as out. Below that size the ratio's daily noise is 3-5 times that of the large stablecoins "
        "(USDT's 0.849 of 2017-05-07 is a one-day print between 0.986 and 0.992).",
        f"Severity: {'a generalized Pareto tail per side' if method == 'gpd' else 'the pooled moves as atoms'} "
        "(`[scenarios] depeg_severity`). With `gpd` the log moves beyond the threshold are exceedances fitted "
        "per side by maximum likelihood (scipy.stats.genpareto, location 0, shape held in [-0.5, 0]: at most an exponential tail, since a handful of exceedances cannot support a power law; a side "
        "with fewer than 5 exceedances keeps them as atoms); the moves within the threshold stay atoms. The "
        "count of depeg scenarios is fixed at its expectation and the severities are stratified (the n "
        "depegs take the quantiles F^-1((k + U)/n)); every scenario keeps its weight 1/N. "
        f"The MC bands are the 2.5-97.5 % points over {n_mc} replications of the design (continuous part "
        f"resampled, jumps redrawn on a child of the pegs stream); the estimation bands over {n_boot} "
        "parametric-bootstrap refits of the frequency (a Poisson count of events) and the severity. "
        "Jumps are drawn independently of the continuous part and of one another, a stated simplification: "
        "USDT's 2022-05 break came with the LUNA crash, and USDC, DAI and FRAX broke together in 2023-03 "
        "(pooled here as three events).",
    ]
    seen: set[str] = set()
    for f in figures:
        e = f.evidence
        if e is None or f.reference in seen or "gpd" not in e.fits:
            continue
        seen.add(f.reference)
        g = e.fits["gpd"]
        ks = ", ".join(f"{t.side} KS p {_fmt(t.ks_pvalue, 2)}" for t in (g.below, g.above)
                       if t is not None and t.method == "gpd")
        paras.append(
            f"Severity evidence, {_CLASS_NAME.get(f.reference, f.reference)}: the jump-only {_one_in(e.q)} move is "
            f"{fmt_pct(e.conditional['gpd'], 1)} with the GPD tails (leave-one-out "
            f"[{fmt_pct(e.loo['gpd'][0], 1)}, {fmt_pct(e.loo['gpd'][1], 1)}]) and {fmt_pct(e.conditional['empirical'], 1)} "
            f"with the atoms ([{fmt_pct(e.loo['empirical'][0], 1)}, {fmt_pct(e.loo['empirical'][1], 1)}])"
            + (f"; goodness of fit of the fitted tails: {ks}" if ks else "") + ". "
            f"The run uses `{e.chosen}`. The default is `gpd`: the atoms give no mass beyond the deepest pooled "
            "move and between atoms, so a probability at a given depth (-13 %) is a count of events and jumps "
            "when one is added; the GPD is continuous, not rejected below par at 5 %, and its wider "
            "leave-one-out range is the estimation error the atoms hide. Above par the exponential bound "
            "(xi <= 0) is a stated limit: where its KS p is below 0.05 the premiums' tail is heavier than it "
            "draws."
        )
    for a in pegs:
        if not own_series.get(a, True):
            paras.append(
                f"{a.upper()} is priced by a proxy series (price_ticker): its continuous part is the proxy's, "
                f"which has no {a.upper()} depeg in it; the depeg risk of {a.upper()} comes from the jumps alone."
            )
        elif masked_days.get(a):
            paras.append(
                f"No double counting: {masked_days[a]} return day(s) of {a.upper()}'s own depegs in the window "
                "were taken out of its continuous part (the volatility model skips them and fhs imputes them "
                "like any missing day); those moves are in the jumps only."
            )
    measures: list[tuple[str, ...]] = [
        ("Peg (class)", *(f"{pegs[f.asset]} ({_CLASS_NAME.get(f.reference, f.reference)})" for f in figures)),
        ("Events pooled in the class", *(f"{len(histories[f.reference].events)} in "
                                         f"{histories[f.reference].total_asset_years:.1f} asset-years" for f in figures)),
        ("Events per asset-year", *(f"{histories[f.reference].frequency:.3f}" for f in figures)),
        (f"P(depeg in {horizon_days} days)", *(fmt_pct(f.probability, 3) for f in figures)),
        ("Depeg scenarios", *(f"{f.n_jumps:,} of {f.n_scenarios:,} ({f.n_below:,} below par, {f.n_above:,} above)"
                              for f in figures)),
        ("Depeg below par: median / worst", *(f"{fmt_pct(f.level_median - 1, 1)} / {fmt_pct(f.level_worst - 1, 1)}"
                                              for f in figures)),
        ("Highest premium", *(fmt_pct(f.level_best - 1, 1) if f.n_above else "none" for f in figures)),
        (f"{_one_in(q)} {horizon_days}-day move [95 % MC band]",
         *(f"{fmt_pct(f.move, 1)} [{fmt_pct(f.move_band[0], 1)}, {fmt_pct(f.move_band[1], 1)}]" for f in figures)),
        ("  its estimation band (95 %)", *(MISSING if f.move_est_band is None else
                                           f"[{fmt_pct(f.move_est_band[0], 1)}, {fmt_pct(f.move_est_band[1], 1)}]"
                                           for f in figures)),
        (f"P({horizon_days}-day move <= {fmt_pct(figures[0].depth if figures else -0.13, 0)}) [MC band]; "
         "[estimation band]", *(_prob(f) for f in figures)),
        (f"{_one_in(q)} {horizon_days}-day move without the jumps", *(fmt_pct(f.move_without_jumps, 2) for f in figures)),
        ("Depeg share of that tail (± MC s.e.)", *(_pm(f.tail_share, f.tail_share_se) for f in figures)),
        (f"Depeg share of its bad debt in the {fmt_pct(1 - alpha, 0)} worst scenarios (± MC s.e.)",
         *(_pm(f.cvar_share, f.cvar_share_se) for f in figures)),
    ]
    tables = [text_table(
        "tbl-peg-risk", ["Measure", *(f.asset.upper() for f in figures)], measures,
        [False] * (1 + len(figures)),
        caption="Depeg jumps per pegged asset: probability, size and share of the asset's tail",
    )]
    for f in figures:
        if f.evidence is not None and not any(t.id == f"tbl-peg-severity-{f.reference}" for t in tables):
            tables.append(_severity_table(f.reference, f.evidence))
    for ref, h in histories.items():
        ev_rows = tuple((
            e.asset.upper(), e.start.isoformat(), e.end.isoformat(), e.side,
            "" if e.close_level is None else f"{e.close_level:.4f} ({e.close_source})",
            e.level - 1.0, e.move(horizon_days) - 1.0,
            e.depth_source if e.intraday_source is None else f"intraday table: {e.intraday_source}",
            "in" if not e.excluded else f"out: {e.excluded}",
        ) for e in sorted((*h.events, *h.excluded), key=lambda e: (e.start, e.asset)))
        tables.append(Table(
            columns=(Column("Asset"), Column("From"), Column("To"), Column("Side"), Column("Worst close (source)"),
                     Column("Distance from par", Format.PCT, decimals=2),
                     Column(f"{horizon_days}-day move used", Format.PCT, decimals=2), Column("Depth from"),
                     Column("Counted")),
            rows=ev_rows, id=f"tbl-peg-events-{ref}",
            caption=(f"Peg breaks pooled for {_CLASS_NAME.get(ref, ref)}: {len(h.events)} events counted "
                     f"({len(h.excluded)} out) in "
                     f"{h.total_asset_years:.1f} asset-years ({h.frequency:.3f} per asset-year; a close more than "
                     f"{fmt_pct(h.threshold, 0)} from par, runs within {h.decluster_days} days one event)"),
        ))
    notes = tuple((n.split(": ", 1)[0].upper(), n.split(": ", 1)[1]) for h in histories.values() for n in h.notes)
    if notes:
        tables.append(Table(columns=(Column("Asset"), Column("How its peg ratio was built")), rows=notes,
                            id="tbl-peg-notes", caption="Data choices behind the peg ratios"))
    if not figures:
        paras.append("No pegged asset has a depeg history in the data: no jumps were drawn.")
    return Section(title="Peg risk: depeg jumps", paragraphs=tuple(paras), tables=tuple(tables),
                   data=data, data_key="peg_risk", appendix=True)

