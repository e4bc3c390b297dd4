"""The run report's liquidity section: every asset's depth curve and source, and the impact-law fit.

Formats the typed :class:`~optimizer.estimators.DepthAssessment` and the run's
:class:`~optimizer.protocol.liquidity.DepthSlippage`; computes nothing of its own (the depth at a
level and the slippage are the law's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import fmt_pct, fmt_usd
from optimizer.report.section import Column, Format, Section, Table

if TYPE_CHECKING:
    from optimizer.estimators import DepthAssessment, ImpactFitTable
    from optimizer.protocol.liquidity import DepthSlippage

__all__ = ["LEVELS", "liquidity_data", "liquidity_section"]

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


def liquidity_data(assessment: DepthAssessment, law: DepthSlippage, collateral: np.ndarray,
                   sigma: np.ndarray, slippage: np.ndarray) -> dict[str, Any]:
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
            "liquidated_usd": float(law.liquidation_share * collateral[i]),
            "slippage": float(slippage[i]),
        }
    out: dict[str, Any] = {
        "law": {"liquidation_share": law.liquidation_share, "liquidity_multiplier": law.liquidity_multiplier,
                "exponent": law.exponent, "max_slippage": law.max_slippage},
        "references": list(assessment.references), "volume_window": assessment.volume_window,
        "haircut": assessment.haircut, "files": list(assessment.files), "assets": per,
        "measured_after_as_of": list(assessment.after_as_of),
    }
    if assessment.fit is not None:
        out["impact_fit"] = _fit_data(assessment.fit)
    return out


def liquidity_section(assessment: DepthAssessment, law: DepthSlippage, collateral: np.ndarray,
                      sigma: np.ndarray, slippage: np.ndarray) -> Section:
    """Liquidity: source (file, date) or "no depth data" + rule per asset, depth at 2/5/10 %, slippage."""
    data = liquidity_data(assessment, law, collateral, sigma, slippage)
    rows = []
    for a in assessment.assets:
        d = data["assets"][a.asset]
        src = f"{a.source}, {a.date}" if a.measured else f"no depth data ({a.rule} rule)"
        rows.append((a.asset.upper(), src, d["slippage"], d["liquidated_usd"],
                     *(d["depth_usd"][f"{s:.2f}"] for s in LEVELS),
                     a.sigma_ref if a.sigma_ref != 1.0 else None, d["sigma_now"]))
    table = Table(
        columns=(Column("Asset"), Column("Depth source"), Column("Slippage", Format.PCT),
                 Column("Sold in a day", Format.USD_SHORT),
                 *(Column(f"Depth at {s:.0%}", Format.USD_SHORT) for s in LEVELS),
                 Column("Vol then", Format.PCT), Column("Vol now", Format.PCT)),
        rows=tuple(rows), id="tbl-liquidity",
    )
    rules = tuple(f"{a.asset.upper()} ({a.rule} rule): {a.inputs}; volatility at measurement: {a.sigma_ref_note}."
                  for a in assessment.assets if not a.measured)
    n_meas = sum(a.measured for a in assessment.assets)
    paras = [
        "Liquidation slippage of every asset is read from its depth curve (USD sellable at each slippage "
        f"level) at the size sold on the liquidation day ({law.liquidation_share:.0%} of the asset's collateral), "
        f"with sizes scaled by the liquidity multiplier ({law.liquidity_multiplier:g}) and the discount scaled "
        "with volatility: slippage = curve(size) x daily vol now / daily vol at measurement, capped at "
        f"{law.max_slippage:.0%}. Between its points a curve is a power law; beyond them it continues as "
        f"size^{law.exponent:g} through the last point (0.5: the square-root law). The same law prices the "
        "threshold program, the static evaluation and the market simulation's sales.",
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
                   tables=tuple(tables), data=data, data_key="liquidity")
