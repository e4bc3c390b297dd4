"""The run report's liquidity section: every asset's depth curve and source, and the impact-law fit.

Formats the typed :class:`~optimizer.estimators.DepthAssessment`, the run's
:class:`~optimizer.protocol.liquidity.DepthSlippage` and the day's sale it prices
(:class:`~optimizer.protocol.sale.SaleSize`, found at :class:`~optimizer.optimize.SaleFixedPoint`);
computes nothing of its own (the depth at a level and the slippage are the law's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import fmt_pct, fmt_usd
from optimizer.report.section import Column, Format, Section, Table

if TYPE_CHECKING:
    from optimizer.estimators import DepthAssessment, ImpactFitTable
    from optimizer.optimize import SaleFixedPoint
    from optimizer.protocol.liquidity import DepthSlippage
    from optimizer.protocol.sale import SaleSize

__all__ = ["LEVELS", "liquidity_data", "liquidity_section", "sale_sentence"]

#: Slippage levels the report reads each curve at.
LEVELS = (0.02, 0.05, 0.10)


def _fit_data(fit: ImpactFitTable) -> dict[str, Any]:
    return {
        "source": fit.source, "date": fit.date, "q0_usd": fit.q0, "min_impact": fit.min_impact,
        "median_rel_error": fit.median_rel_error, "worst_rel_error": fit.worst_rel_error,
        "skipped": list(fit.skipped),
        "pairs": [{"sell": f.sell, "buy": f.buy, "n_quotes": f.n_quotes, "n_fitted": f.n_fitted, "k": f.k,
                   "beta": f.beta, "median_rel_error": f.median_rel_error, "worst_rel_error": f.worst_rel_error,
                   "k_sqrt": f.k_sqrt, "sqrt_median_rel_error": f.sqrt_median_rel_error,
                   "sqrt_worst_rel_error": f.sqrt_worst_rel_error} for f in fit.fits],
    }


def _sale_data(sale: SaleSize, fixed: SaleFixedPoint | None, law: DepthSlippage, sigma: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"rule": sale.rule, "share": sale.share, "params": sale.params_label or None}
    if sale.rule == "seized":
        out.update(tail=sale.tail, n_scenarios=sale.n_scenarios)
    if fixed is not None:
        out.update(params=fixed.params, re_solves=len(fixed.steps), converged=fixed.converged,
                   tolerance=fixed.tolerance, slippage_moves=list(fixed.steps),
                   current_params_sale_usd={a: float(fixed.live.usd[i]) for i, a in enumerate(fixed.live.assets)},
                   current_params_slippage={a: float(x) for a, x in zip(fixed.live.assets, law.slippage(fixed.live, sigma),
                                                                         strict=True)})
    return out


def sale_sentence(sale: SaleSize, fixed: SaleFixedPoint | None) -> str:
    """How the size sold on the liquidation day was found, in words."""
    if sale.rule == "share":
        return (f"The size sold on the liquidation day is {sale.share:.0%} of each asset's whole collateral "
                "([liquidity] sale_size = 'share': a fixed share, whatever the book's liquidations seize).")
    n_tail = int(np.ceil((sale.tail or 0) * (sale.n_scenarios or 0) - 1e-9))
    n_used = int(np.max(sale.n_tail_scenarios)) if sale.n_tail_scenarios is not None else 0
    text = (
        "The size sold on the liquidation day is what the book's liquidations seize: for each asset, "
        f"{n_used:,} of the {n_tail:,} scenarios in which its price relative is in its worst {sale.tail:.1%} "
        f"(the run's CVaR tail, of {sale.n_scenarios:,}; spread evenly by rank; whole joint scenarios, so the "
        "debt and the other assets move with it), the collateral of that asset seized from the accounts that "
        "fall below a health factor of 1 (at zero slippage, whole debt repaid, collateral taken pro rata with "
        f"the bonus), averaged, times {sale.share:.0%} sold within the day (an assumption: liquidators sell "
        "what they seize on the day).")
    if fixed is not None and fixed.params == "recommended":
        moves = ", ".join(f"{m * 100:.2f}" for m in fixed.steps)
        state = (f"converged after {len(fixed.steps)} re-solve(s)" if fixed.converged
                 else f"NOT converged after {len(fixed.steps)} re-solves (the last is shown)")
        text += (" The liquidations are those of the recommended parameters, borrowers keeping their health "
                 "factor (re-levered), as the evaluation assumes: a fixed point, started from the current "
                 "parameters' sale (solve, resize the sale at the solution, re-solve, until no asset's slippage "
                 f"moves by {fixed.tolerance * 100:g} pp); {state}, largest slippage move per re-solve {moves} pp. "
                 "The static figures of the current parameters (evaluation, stress library) price their own "
                 "liquidations' sale, the fixed point's start (params.json liquidity.sale).")
    else:
        text += " The liquidations are those of the current parameters (the book as it is)."
    return text


def liquidity_data(assessment: DepthAssessment, law: DepthSlippage, sale: SaleSize,
                   sigma: np.ndarray, slippage: np.ndarray, *, fixed: SaleFixedPoint | None = None) -> dict[str, Any]:
    """params.json ``liquidity``: per asset its curve, source, rule, depths and slippage; the fit."""
    depth = {s: law.depth_at(s, [a.sigma_ref for a in assessment.assets]) for s in LEVELS}
    per = {}
    for i, a in enumerate(assessment.assets):
        per[a.asset] = {
            "rule": a.rule, "measured": a.measured, "source": a.source, "date": a.date, "inputs": a.inputs,
            "curve": {"slippage": [float(x) for x in a.slippage], "sellable_usd": [float(x) for x in a.sellable_usd]},
            "sigma_at_measurement": a.sigma_ref, "sigma_at_measurement_note": a.sigma_ref_note,
            "sigma_now": float(sigma[i]),
            "depth_usd": {f"{s:.2f}": float(depth[s][i]) for s in LEVELS},
            "collateral_usd": float(sale.collateral_usd[i]),
            "sold_usd": float(sale.usd[i]),
            "sold_share_of_collateral": float(sale.share_of_collateral[i]),
            "slippage": float(slippage[i]),
        }
    out: dict[str, Any] = {
        "law": {"liquidity_multiplier": law.liquidity_multiplier, "exponent": law.exponent,
                "max_slippage": law.max_slippage},
        "sale": _sale_data(sale, fixed, law, sigma),
        "references": list(assessment.references), "volume_window": assessment.volume_window,
        "haircut": assessment.haircut, "files": list(assessment.files), "assets": per,
        "measured_after_as_of": list(assessment.after_as_of),
    }
    if assessment.fit is not None:
        out["impact_fit"] = _fit_data(assessment.fit)
    return out


def liquidity_section(assessment: DepthAssessment, law: DepthSlippage, sale: SaleSize,
                      sigma: np.ndarray, slippage: np.ndarray, *, fixed: SaleFixedPoint | None = None) -> Section:
    """Liquidity: source (file, date) or "no depth data" + rule per asset, the day's sale, depth at 2/5/10 %,
    slippage."""
    data = liquidity_data(assessment, law, sale, sigma, slippage, fixed=fixed)
    rows = []
    for a in assessment.assets:
        d = data["assets"][a.asset]
        src = f"{a.source}, {a.date}" if a.measured else f"no depth data ({a.rule} rule)"
        rows.append((a.asset.upper(), src, d["slippage"], d["sold_usd"], d["sold_share_of_collateral"],
                     *(d["depth_usd"][f"{s:.2f}"] for s in LEVELS),
                     a.sigma_ref if a.sigma_ref != 1.0 else None, d["sigma_now"]))
    table = Table(
        columns=(Column("Asset"), Column("Depth source"), Column("Slippage", Format.PCT),
                 Column("Sold in a day", Format.USD_SHORT), Column("Of its collateral", Format.PCT),
                 *(Column(f"Depth at {s:.0%}", Format.USD_SHORT) for s in LEVELS),
                 Column("Vol then", Format.PCT), Column("Vol now", Format.PCT)),
        rows=tuple(rows), id="tbl-liquidity",
    )
    rules = tuple(f"{a.asset.upper()} ({a.rule} rule): {a.inputs}; volatility at measurement: {a.sigma_ref_note}."
                  for a in assessment.assets if not a.measured)
    n_meas = sum(a.measured for a in assessment.assets)
    paras = [
        "Liquidation slippage of every asset is read from its depth curve (USD sellable at each slippage "
        "level) at the size sold on the liquidation day (below), "
        f"with sizes scaled by the liquidity multiplier ({law.liquidity_multiplier:g}) and the discount scaled "
        "with volatility: slippage = curve(size) x daily vol now / daily vol at measurement, capped at "
        f"{law.max_slippage:.0%}. Between its points a curve is a power law; beyond them it continues as "
        f"size^{law.exponent:g} through the last point (0.5: the square-root law). The same law prices the "
        "threshold program, the static evaluation, the stress library and the market simulation's sales (the "
        "simulation sells what it seizes, step by step).",
        sale_sentence(sale, fixed),
        f"{n_meas} of {len(assessment.assets)} assets have a measured curve"
        + (f" ({', '.join(assessment.files)})" if assessment.files else "")
        + ". Depths in the table are at the daily volatility of the measurement (vol then); the slippage is at "
        "today's forecast (vol now), for the sale of the liquidation day.",
    ]
    late = assessment.after_as_of
    if late:
        paras.append(f"Look-ahead: the curves of {', '.join(a.upper() for a in late)} were measured after this run's "
                     f"date ({assessment.as_of}); no earlier measurement is configured, so they stand in for the depth "
                     "of that day.")
    tables = [table]
    fit = assessment.fit
    if fit is not None:
        paras.append(
            f"Impact law fitted to {fit.source} ({fit.date}), per directed pair, impact = k (q / "
            f"{fmt_usd(fit.q0, 0)})^beta by robust least squares in log space on the quotes with impact >= "
            f"{fit.min_impact:.1%} (sizes in USD at the quote's implied price), and the square-root law "
            f"(beta = 0.5) beside it. Relative error |fit / quote - 1| over all {fit.rel_errors.size:,} fitted "
            f"quotes: median {fmt_pct(fit.median_rel_error, 1)}, worst {fmt_pct(fit.worst_rel_error, 0)}."
            + (f" Not fitted (too few quotes above the floor): {', '.join(fit.skipped)}." if fit.skipped else "")
        )
        tables.append(Table(
            columns=(Column("Pair"), Column("Quotes", Format.NUM), Column("Fitted", Format.NUM),
                     Column("k (impact at q0)", Format.PCT), Column("beta", Format.NUM),
                     Column("Median rel. error", Format.PCT), Column("Worst rel. error", Format.PCT),
                     Column("Square-root law k", Format.PCT), Column("Its median error", Format.PCT),
                     Column("Its worst error", Format.PCT)),
            rows=tuple((f"{f.sell}→{f.buy}", f.n_quotes, f.n_fitted, f.k, round(f.beta, 3), f.median_rel_error,
                        f.worst_rel_error, f.k_sqrt, f.sqrt_median_rel_error, f.sqrt_worst_rel_error)
                       for f in fit.fits)
            + (("All pairs", sum(f.n_quotes for f in fit.fits), int(fit.rel_errors.size), None, None,
                fit.median_rel_error, fit.worst_rel_error, None, None, None),),
            id="tbl-impact-fit",
        ))
    if rules and len(assessment.ratio_levels):
        lv = assessment.ratio_levels
        j = int(np.argmin(np.abs(lv - 0.02)))
        paras.append(
            "Assets flagged \"no depth data\" get a conservative rule from what is known: their daily volume "
            f"(the data's median over {assessment.volume_window} where it has one, else the config's hand-typed "
            "adv_usd) times the depth-to-volume ratio of the measured "
            f"{', '.join(a.upper() for a in assessment.references)} (the smaller at each slippage level, volumes of "
            f"the same days), times a haircut of {assessment.haircut:g}: {assessment.ratio[j]:.2%} of a day's volume "
            f"sellable at {lv[j]:.0%}. The curve is dated with that measurement and scaled with the asset's own "
            "volatility then. Per asset:")
    elif rules:
        paras.append("Assets flagged \"no depth data\" get the rule below (no asset has a measured curve to scale "
                     "from). Per asset:")
    return Section(title="Liquidity: depth curves and the impact law", paragraphs=tuple(paras), bullets=rules,
                   tables=tuple(tables), data=data, data_key="liquidity", appendix=True)
