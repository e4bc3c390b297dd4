"""The run report's peg-risk section: the depeg jumps of each pegged asset and the history behind them.

It reads typed results only: the pooled :class:`~optimizer.estimators.PegBreakHistory` of each
class and the :class:`~optimizer.optimize.PegTailFigures` of each pegged asset; it computes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from optimizer.report._format import fmt_pct
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
        return "n/a (no bad debt in the tail)"
    return fmt_pct(x, 1) + (f" ± {fmt_pct(se, 1)}" if se is not None else "")


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
            } for e in h.events],
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
    paras = [
        "Peg risk is a jump, not a volatility. Each scenario of a pegged asset holds, with the horizon's "
        f"event probability (Poisson over {horizon_days} day(s) at its class's pooled frequency), a depeg "
        "whose size is one of the pooled events of its class, at full size: never rescaled by today's "
        "volatility. A peg to ETH or BTC multiplies the asset's own move. The count of depeg scenarios is "
        "fixed at its expectation and each pooled event is drawn equally often (proportional stratification); "
        f"every scenario keeps its weight. The history is {span}; each event's depth is its worst close, "
        "or the documented intraday low where the package's table has a deeper one. Jumps are drawn "
        "independently of the continuous part and of one another, a stated simplification: USDT's 2022-05 and "
        "DAI's 2020-03 breaks came with market crashes, and USDC, DAI and FRAX broke together in 2023-03.",
    ]
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
        ("Highest premium", *(fmt_pct(f.level_best - 1, 1) for f in figures)),
        (f"{_one_in(q)} {horizon_days}-day move [95 % MC band]",
         *(f"{fmt_pct(f.move, 1)} [{fmt_pct(f.move_band[0], 1)}, {fmt_pct(f.move_band[1], 1)}]" for f in figures)),
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
    for ref, h in histories.items():
        ev_rows = tuple((
            e.asset.upper(), e.start.isoformat(), e.end.isoformat(), e.side,
            "" if e.close_level is None else f"{e.close_level:.4f} ({e.close_source})",
            e.level - 1.0, e.depth_source if e.intraday_source is None else f"intraday table: {e.intraday_source}",
        ) for e in h.events)
        tables.append(Table(
            columns=(Column("Asset"), Column("From"), Column("To"), Column("Side"), Column("Worst close (source)"),
                     Column("Depth used", Format.PCT, decimals=2), Column("Depth from")),
            rows=ev_rows, id=f"tbl-peg-events-{ref}",
            caption=(f"Peg breaks pooled for {_CLASS_NAME.get(ref, ref)}: {len(h.events)} events in "
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
                   data=data, data_key="peg_risk")

