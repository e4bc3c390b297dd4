"""The run's words: what a :class:`RunReport` says, and the view the Markdown and HTML templates share.

The pipeline hands over numbers; the sentences of a run (its status message, its assumptions,
its labels) are written here (:func:`status_message`, :func:`run_assumptions`). Both templates
receive the same :class:`ReportView`: every number is already formatted as text here, so the two
documents cannot disagree, and the templates only lay the pieces out. Nothing is computed beyond
differences and formatting; the numbers come from the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import (
    MISSING,
    as_float,
    confidence_label,
    fmt_auto,
    fmt_bps,
    fmt_num,
    fmt_pct,
    fmt_prob,
    fmt_text,
    fmt_usd,
    fmt_usd_short,
    humanize,
)
from optimizer.optimize import RunStatus
from optimizer.report import post
from optimizer.report.headline import Headline
from optimizer.report.model import FORMAT_VERSION, AssetResult, RunReport
from optimizer.report.section import Section, Table, slug, text_table

if TYPE_CHECKING:
    from optimizer.protocol.sale import SaleSize

#: The four parameters shown per asset, in table order, with their column labels.
PARAM_KEYS: tuple[tuple[str, str], ...] = (
    ("ltv", "LTV"),
    ("liquidation_threshold", "Liq. threshold"),
    ("liquidation_bonus", "Liq. bonus"),
    ("haircut", "Haircut"),
)

#: The parameters of the recommendations table (the haircut, 1 - LTV, is said in its caption).
REC_KEYS: tuple[tuple[str, str], ...] = PARAM_KEYS[:3]

STATUS_LABELS = {
    RunStatus.OK: "OK: the risk target is met",
    RunStatus.INFEASIBLE: "Risk target not met",
}

FUND_LABELS = {
    "insurance_fund_usd": "Recommended insurance fund",
    "tail_band_usd": "Monte Carlo band of the simulated tail term (95 %, batch means over replications of the scenarios)",
    "es_usd": "Expected shortfall of bad debt",
    "cover2_usd": "Cover-2",
    "epsilon": "Target P(bad debt > fund), ε",
    "mc_stderr_usd": "Monte Carlo standard error of the quantile fund",
    "quantile_fund_usd": "Quantile fund: bad debt exceeded with probability ε",
    "confidence": "Level of the expected-shortfall term",
    "prob_any_bad_debt": "P(bad debt > 0)",
    "sized_from": "Sized from",
    "paths": "Paths",
}

DRIVER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("collateral_usd", "Collateral"),
    ("vol_annual", "Ann. vol"),
    ("vol_forecast_daily", "Daily vol forecast"),
    ("tail_dof", "Tail dof"),
    ("corr_to_debt", "Corr. to debt"),
    ("adv_usd", "Liquidity (ADV)"),
    ("slippage", "Slippage"),
    ("horizon_drop_q", "Horizon move (tail q.)"),
)

METHOD_LABELS = {
    "scenario_method": "Scenario method",
    "n_scenarios": "Scenarios",
    "horizon_days": "Horizon (days)",
    "alpha": "Confidence level α",
    "risk_budget_usd": "Risk budget (bad-debt CVaR)",
    "appetite": "Risk appetite",
    "volatility_estimator": "Volatility estimator",
    "correlation_estimator": "Correlation estimator",
    "solver": "Solver",
    "solve_seconds": "Solve time (s)",
    "book_source": "Book source",
}

@dataclass(frozen=True)
class ReportView:
    """Everything the templates print, as text."""

    title: str
    config_name: str
    status: str
    status_label: str
    status_message: str
    headline: list[tuple[str, str]]
    has_current: bool
    recommendations: Table
    binding_note: str
    rationale: list[tuple[str, str]]
    model_label: str
    metrics: Table
    metric_definitions: list[tuple[str, str]]
    bad_debt_note: str
    fund: Table
    fund_curve: Table | None
    fund_note: str
    fund_terms: Table | None
    drivers: Table
    references: Table
    #: The optional sections of the main part (after the insurance fund) and of the appendix.
    main_sections: list[tuple[str, Section]]
    appendix_lead: list[tuple[str, Section]]
    appendix_sections: list[tuple[str, Section]]
    #: Appendix tables of the metrics outside the model of record (None when the run has none).
    static_metrics: Table | None
    lp_internals: Table | None
    tail_shares: Table | None
    other_metrics: Table | None
    findings: Table | None
    method: Table
    book: Table | None
    assumptions: list[str]
    repro: list[tuple[str, str]]
    data_files: list[tuple[str, str]]
    versions: list[tuple[str, str]]
    command: str
    config_text: str
    conf_label: str
    as_of: str
    horizon: str
    n_scenarios: str


# --- the run's sentences (written into the RunReport when it is assembled) ------------------------------------

#: Where the fund is sized, by whether the dynamic simulation ran (params.json ``fund.sized_from``).
FUND_SIZED_FROM = {True: "dynamic simulation with cascades", False: "static scenarios on the book"}


def evaluation_source(*, paths: int | None = None, scenarios: int | None = None) -> str:
    """What bad debt was measured on: ``paths`` simulated paths, else the static book (on ``scenarios``)."""
    if paths is not None:
        return f"market simulation ({paths:,} paths)"
    return "static evaluation of the book" + ("" if scenarios is None else f" ({scenarios:,} scenarios)")


def report_title(title: str | None, config_name: str) -> str:
    """The configured title, else ``riskopt: <config name>``."""
    return title or f"riskopt: {config_name}"


def status_message(
    status: str,
    *,
    alpha: float,
    budget_usd: float,
    asset_share: float,
    guard_fails: Sequence[str],
    solver_optimal: bool,
    min_feasible_budget_usd: float,
    stress_budget_usd: float | None = None,
    min_feasible_stress_budget_usd: float = 0.0,
) -> str:
    """One paragraph on the run's status: met, an asset guard not met, or the budget (CVaR or
    stress) not met."""
    if status == RunStatus.OK:
        return (f"The recommended parameters keep the {alpha:.1%} CVaR of bad debt for accounts at the "
                f"threshold within the budget of ${budget_usd:,.0f}"
                + (f", and their bad debt in every stress-library scenario within the stress budget of "
                   f"${stress_budget_usd:,.0f}." if stress_budget_usd is not None else "."))
    if (stress_budget_usd is not None and min_feasible_stress_budget_usd > stress_budget_usd
            and not guard_fails and min_feasible_budget_usd <= budget_usd):
        return (f"Risk target not met: even at the lowest allowed thresholds a stress-library scenario costs "
                f"the book at the threshold ${min_feasible_stress_budget_usd:,.0f}, above the stress budget of "
                f"${stress_budget_usd:,.0f}. The smallest feasible stress budget is "
                f"${min_feasible_stress_budget_usd:,.0f}; the parameters shown are the most conservative allowed.")
    if guard_fails and solver_optimal:
        return (f"Risk target not met for {', '.join(guard_fails)}: even at the lowest allowed threshold the "
                f"{alpha:.1%} CVaR of bad debt per USD of collateral at the threshold exceeds the per-asset "
                f"guard of {asset_share:.2%}; those assets are shown at their lowest allowed threshold. "
                "Consider delisting them as collateral, raising lt_min's floor or the guard.")
    return (f"Risk target not met: even at the lowest allowed thresholds the {alpha:.1%} CVaR of bad debt "
            f"is ${min_feasible_budget_usd:,.0f}, above the budget of ${budget_usd:,.0f}. The smallest "
            f"feasible budget is ${min_feasible_budget_usd:,.0f}; the parameters shown are the "
            f"most conservative allowed.")


def run_assumptions(
    method: Mapping[str, Any],
    *,
    sale: SaleSize,
    reachable_share: float,
    gaps: Mapping[str, int],
    no_current: Sequence[str],
    placeholder_lt: float,
) -> list[str]:
    """The plain-language modelling assumptions of a run.

    Parameters
    ----------
    method : mapping
        The run's ``method`` record (``scenario_method``, ``horizon_days``, ``n_scenarios``,
        ``alpha``, ``asset_guard_share``, ``book_source``, ``data_sources``,
        ``imputed_residual_cells``).
    sale : SaleSize
        The liquidation day's sale the static slippage prices (its rule and share).
    reachable_share : float
        Share of an asset's daily volume reachable.
    gaps : mapping of str to int
        Days without a one-day return, per asset with any.
    no_current : sequence of str
        Assets the configuration gives no current parameters for.
    placeholder_lt : float
        The LT the book of those assets was shaped with.
    """
    kind, H, n = method["scenario_method"], method["horizon_days"], method["n_scenarios"]
    alpha, share = method["alpha"], method["asset_guard_share"]
    out = [
        f"Scenarios: {kind.upper()} over a {H}-day liquidation horizon, {n:,} joint "
        "price paths; USDT-quoted closes (Binance) are treated as USD (see the 'quote' data finding)."
        if "binance" in method["data_sources"] else
        f"Scenarios: {kind.upper()} over a {H}-day liquidation horizon, {n:,} paths.",
        "Optimizer worst case: every borrowing account sits exactly at its liquidation threshold when the shock "
        "starts; its bad debt is max(LT - k, 0) per USD of collateral, k being what liquidation recovers "
        "(collateral / debt-basket price relative x (1 - slippage) / (1 + bonus)).",
        f"Per-asset guard: each asset's own {alpha:.1%} CVaR of bad debt per USD of collateral at the threshold "
        f"is at most {share:.2%}, so a small asset cannot take a loose threshold by hiding in the "
        "aggregate tail.",
        "Book metrics: borrowers keep their health factor when parameters change (debt re-levered), so "
        "looser thresholds mean more debt at risk.",
        "Liquidation slippage: each asset's depth curve read at the day's sale ("
        + (f"{sale.share:.0%} of the collateral the book's liquidations seize in the asset's worst "
           f"{sale.tail:.1%} of scenarios" if sale.rule == "seized" else
           f"{sale.share:.0%} of the asset's whole collateral, [liquidity] sale_size = 'share'")
        + "), scaled by today's volatility over the volatility "
        "when the curve was measured (section Liquidity: a measured curve, or a rule flagged \"no depth data\"; "
        f"without any measured curve, the square-root law on {reachable_share:.0%} of daily volume).",
        "Static model: one shock over the horizon, no cascades or oracle lag (see the market simulation).",
        "Debt per collateral asset follows the book's debt mix of the accounts holding it.",
    ]
    if method["book_source"] == "synthetic":
        out.append("The book is synthetic, calibrated to the configured supplied and borrowed totals "
                   "with heavy-tailed account sizes; load the real book for a live proposal.")
    if gaps:
        n_imputed = int(method.get("imputed_residual_cells") or 0)
        out.append(
            "Missing days (a trading gap, or days before an asset's first price): "
            + ", ".join(f"{a} has no one-day return on {int(d)} day(s)" for a, d in gaps.items())
            + " of the estimation window. Those days are kept for the other assets (no asset "
            "shortens another's history) and no price is "
            "filled; the volatility models skip the missing days, each correlation uses the days "
            "both assets have (pairwise)"
            + (", and FHS imputes a missing residual from the same day's residuals of the assets "
               "that have one (regression through their residual correlation plus a resampled "
               f"regression residual), so a day that crashed the others crashes it too "
               f"({n_imputed} residual cells)."
               if kind == "fhs" else ".")
        )
    if no_current:
        out.append(f"No current parameters given for {', '.join(no_current)}: the book was shaped with "
                   f"placeholder LT {placeholder_lt} and those assets have no before/after comparison.")
    return out


# --- the view of a report ----------------------------------------------------------------------------------------


def _param(d: Mapping[str, Any] | None, key: str) -> float | None:
    if not d:
        return None
    v = as_float(d.get(key))
    if v is None and key == "haircut":
        ltv = as_float(d.get("ltv"))
        return None if ltv is None else 1.0 - ltv
    return v


def param_change(cur: float | None, rec: float | None) -> str:
    """``"80.00% → 82.50% (+250 bps)"``; just the recommended value when there is no current one."""
    if rec is None:
        return MISSING
    if cur is None:
        return fmt_pct(rec)
    if abs(rec - cur) < 5e-7:
        return f"{fmt_pct(rec)} (no change)"
    return f"{fmt_pct(cur)} → {fmt_pct(rec)} ({fmt_bps(rec - cur)})"


def _band_cell(a: AssetResult) -> str:
    """``"81.87% ± 13 bp"``: the band is of the program's answer, so it is shown beside that answer
    when the recommendation is its rounding to the grid."""
    if not a.band:
        return MISSING
    hw = f"± {a.band['liquidation_threshold'] * 1e4:.0f} bp"
    lt = _param(a.unrounded, "liquidation_threshold") if a.unrounded else None
    return hw if lt is None else f"{fmt_pct(lt)} {hw}"


def _recommendations(assets: Sequence[AssetResult], has_current: bool,
                     grid: Mapping[str, Any] | None = None) -> Table:
    rows = []
    banded = any(a.band for a in assets)
    for a in assets:
        cells = [a.asset.upper()]
        for key, _label in REC_KEYS:
            cells.append(param_change(_param(a.current, key), _param(a.recommended, key)))
        if banded:
            cells.append(_band_cell(a))
        # the long texts (held-LTV rule, the risk target's own limit) are in the rationale
        cells.append(str(a.binding) or MISSING)
        rows.append(cells)
    cols = (["Asset"] + [lab for _k, lab in REC_KEYS] + (["LT band (95 %)"] if banded else [])
            + ["Set by"])
    caption = (
        "Current → recommended, change in basis points (1 bp = 0.01 percentage point); the haircut is "
        "1 − LTV."
        if has_current
        else "Recommended values; no current parameters were given. The haircut is 1 − LTV."
    )
    if grid:
        caption += (f" Values on the {as_float(grid.get('step_bps')) or 0:.0f} bp grid ([guardrails] grid), LT and LTV "
                    "rounded down from the program's answer, live values kept; the program's CVaR of bad debt "
                    f"{fmt_usd(grid.get('lp_cvar_unrounded_usd'))} before rounding, "
                    f"{fmt_usd(grid.get('lp_cvar_usd'))} after.")
    if banded:
        caption += (" LT band: the Monte Carlo 95 % half-width of the threshold, measured by batch means "
                    "(the guards and the LP re-solved on independent replications of the scenarios: "
                    "index mod R), beside the program's unrounded LT; LTV's is the same, 0 where it is "
                    "held at 0.")
    return text_table("tbl-recommendations", cols, rows, [False] + [True] * (len(cols) - 2) + [False], caption)


def _ordered_keys(primary: Sequence[str], *dicts: Mapping[str, Any] | None) -> list[str]:
    keys = [k for k in primary if any(d and k in d for d in dicts)]
    for d in dicts:
        for k in d or {}:
            if k not in keys:
                keys.append(k)
    return keys


def _tail_word(alpha: Any) -> str:
    """The tail's share of the scenarios: ``0.99 -> "1%"``."""
    a = as_float(alpha)
    return "1 − α" if a is None else f"{(1 - a) * 100:.3g}%"


def _metrics(report: RunReport, conf: str) -> tuple[Table, list[tuple[str, str]]]:
    """The risk-metrics table (model of record, current beside recommended) and its definitions."""
    rec, cur = report.metrics or {}, report.metrics_current
    tail = _tail_word(report.method.get("alpha"))
    conf_txt = conf or "α"
    bands = report.metrics_band or {}
    rows, defs = [], []
    for d in post.METRIC_DEFS:
        if d.key not in rec or (cur is not None and d.key not in cur):
            continue
        name = d.name.format(conf=conf_txt, tail=tail)
        value = post.metric_value(d.kind, rec[d.key]) + post.band_text(d.kind, bands.get("recommended", {}).get(d.key))
        if cur is not None:
            rows.append([name, post.metric_value(d.kind, cur[d.key])
                         + post.band_text(d.kind, bands.get("current", {}).get(d.key)), value,
                         post.metric_change(d.kind, cur[d.key], rec[d.key])])
        else:
            rows.append([name, value])
        defs.append((name, d.definition.format(conf=conf_txt, tail=tail)))
    caption = "" if cur is not None else "No current parameters were given, so there is no before/after comparison."
    if bands:
        mc = report.method.get("mc_band") or {}
        r = f" {mc['replications']}" if mc.get("replications") else ""
        caption += ((" " if caption else "") + f"±: the Monte Carlo 95 % half-width, measured by batch means over{r} "
                    "independent replications of the scenarios (none shown where they agree exactly); capital "
                    "efficiency is computed, not sampled.")
    if cur is not None:
        table = text_table("tbl-metrics", ["Quantity", "Current parameters", "Recommended", "Change"], rows,
                           [False, True, True, True], caption)
    else:
        table = text_table("tbl-metrics", ["Quantity", "Recommended"], rows, [False, True], caption)
    return table, defs


#: Metrics keys shown by the appendix's own tables (or by the market-simulation section), not as "other".
#: The static model's loss measures (RunMetrics.as_dict: ``static_`` + a METRIC_DEFS key).
_STATIC_PREFIX = "static_"
_LP_KEYS = {"lp_worst_case_cvar_usd": "CVaR of the worst-case book's bad debt (every borrower at the threshold)",
            "risk_budget_usd": "Risk budget (on that CVaR)",
            "min_feasible_budget_usd": "Smallest budget the program can meet (at the lowest allowed thresholds)"}
_TAIL_KEYS = ("tail_contribution_by_asset", "static_tail_contribution_by_asset", "sim_tail_contribution_by_asset")
_SIM_KEYS = ("sim_bad_debt_var_usd", "sim_bad_debt_cvar_usd", "sim_bad_debt_cvar_nocascade_usd", "sim_prob_bad_debt",
             "sim_mean_bad_debt_usd", "sim_mean_bad_debt_nocascade_usd", "cascade_share_of_bad_debt",
             "liquidations_at_risk_usd", "mean_liquidated_usd", "worst_price_impact_q99",
             "sim_bad_debt_cvar_current_usd")


def _appendix_metrics(report: RunReport, conf: str) -> tuple[Table | None, Table | None, Table | None, Table | None]:
    """The static model's figures, the LP's internals, the tail shares by asset and any other metric."""
    m, cur = report.metrics or {}, report.metrics_current or {}
    c = f" {conf}" if conf else ""
    tail = _tail_word(report.method.get("alpha"))
    static = None
    srows = [[d.name.format(conf=conf or "α", tail=tail), post.metric_value(d.kind, m[_STATIC_PREFIX + d.key])]
             for d in post.METRIC_DEFS if _STATIC_PREFIX + d.key in m]
    if srows:
        static = text_table("tbl-static-metrics", ["Quantity (static model, recommended)", "Value"], srows,
                            [False, True], "The static model: one shock over the horizon on the calibrated book, no "
                            "cascades or oracle lag; the market simulation is the model of record (Risk metrics).")
    lrows = [[label, fmt_usd(m[k])] for k, label in _LP_KEYS.items() if k in m]
    lp = text_table("tbl-lp", ["Quantity", "USD"], lrows, [False, True]) if lrows else None
    tails = [(k, m[k]) for k in _TAIL_KEYS[:2] if isinstance(m.get(k), Mapping)]
    tail_table = None
    if tails:
        names = {"tail_contribution_by_asset": "Model of record", "static_tail_contribution_by_asset": "Static model"}
        assets = [a.asset for a in report.assets]
        rows = [[a.upper()] + [fmt_pct(d.get(a), 1) for _k, d in tails] for a in assets]
        tail_table = text_table("tbl-tail-shares", ["Asset"] + [names[k] for k, _ in tails], rows,
                          [False] + [True] * len(tails),
                          f"Share of the bad debt in the scenarios at or beyond the{c} VaR, by collateral asset.")
    known = ({d.key for d in post.METRIC_DEFS} | {_STATIC_PREFIX + d.key for d in post.METRIC_DEFS}
             | set(_LP_KEYS) | set(_TAIL_KEYS)
             | set(_SIM_KEYS) | {"alpha"})
    extra = [k for k in _ordered_keys([], m, cur) if k not in known and not isinstance(m.get(k), Mapping)]
    other = None
    if extra:
        has_cur = any(k in cur for k in extra)
        rows = [[humanize(k)] + ([fmt_auto(k, cur.get(k)) if k in cur else "not measured"] if has_cur else [])
                + [fmt_auto(k, m.get(k)) if k in m else "not measured"] for k in extra]
        cols = ["Quantity"] + (["Current parameters"] if has_cur else []) + ["Recommended"]
        other = text_table("tbl-other-metrics", cols, rows, [False] + [True] * (len(cols) - 1))
    return static, lp, tail_table, other


def _curve_points(curve: Sequence[Sequence[Any]], fund: float | None, k: int = 8) -> list[list[float]]:
    pts = [
        [as_float(p[0]), as_float(p[1])] for p in curve
        if len(p) >= 2 and as_float(p[0]) is not None
    ]
    pts.sort(key=lambda p: p[0])
    if len(pts) <= k:
        return pts
    idx = set(np.unique(np.linspace(0, len(pts) - 1, k).round().astype(int)).tolist())
    if fund is not None:
        idx.add(int(np.argmin([abs(p[0] - fund) for p in pts])))
    return [pts[i] for i in sorted(idx)]


#: The fund standard's terms (params.json ``fund.terms``), in report order, with their names.
FUND_TERM_LABELS = {
    "expected_shortfall": "Simulated tail: expected shortfall of bad debt",
    "stress_loss": "Worst stress-library loss of the book",
    "cover2": "Cover-2: two largest borrowers in their worst stress scenario",
}
#: Keys of params.json ``fund`` shown elsewhere than the quantity table.
_FUND_OWN_ROWS = ("curve", "terms", "binding_term", "reference_usd", "fund_to_reference")


def fund_standard_sentence(fund: Mapping[str, Any], fund_usd: Any) -> str:
    """"The fund is set by <term> ...; the other two ...; reference ..." ('' without the terms)."""
    terms = fund.get("terms") or {}
    bind = fund.get("binding_term")
    if not terms or bind not in terms:
        return ""

    def one(name: str) -> str:
        t = terms[name]
        band = (f" ± {fmt_usd(t.get('stderr_usd'))} (Monte Carlo standard error)" if t.get("stderr_usd") is not None
                else " (deterministic given the parameters)")
        return f"{FUND_TERM_LABELS.get(name, humanize(name)).lower()} {fmt_usd(t.get('usd'))}{band}"

    others = [n for n in terms if n != bind]
    txt = (f"The recommended insurance fund is {fmt_usd(fund_usd)}, set by the {one(bind)}; beside it the "
           + " and the ".join(one(n) for n in others) + ".")
    ref = as_float(fund.get("reference_usd"))
    if ref is not None:
        ratio = as_float(fund.get("fund_to_reference"))
        txt += (f" Against the reference fund of {fmt_usd(ref)} ([fund] reference_usd) it is "
                f"{fmt_num(ratio, 3)}x" + (" (the reference falls short)." if ratio is not None and ratio > 1
                                           else " (the reference covers it)."))
    return txt


def _fund_terms(f: Mapping[str, Any]) -> Table | None:
    terms = f.get("terms") or {}
    if not terms:
        return None
    rows = []
    for name, t in terms.items():
        band = fmt_usd(t.get("stderr_usd")) if t.get("stderr_usd") is not None else "none: deterministic"
        rows.append([FUND_TERM_LABELS.get(name, humanize(name)), fmt_usd(t.get("usd")), band,
                     fmt_text(t.get("source")), "yes" if name == f.get("binding_term") else ""])
    ref = as_float(f.get("reference_usd"))
    caption = ("The fund is the largest of the three terms. Monte Carlo terms carry their measured standard "
               "error; the stress-library terms are deterministic given the parameters (named scenarios, no draw).")
    if ref is not None:
        caption += f" Reference fund ([fund] reference_usd): {fmt_usd(ref)}; recommended / reference = " \
                   f"{fmt_num(as_float(f.get('fund_to_reference')), 3)}."
    return text_table("tbl-fund-terms", ["Term", "USD", "Standard error", "From", "Sets the fund"], rows,
                      [False, True, True, False, False], caption)


def _fund(report: RunReport) -> tuple[Table, Table | None]:
    f = dict(report.fund or {})
    f.setdefault("insurance_fund_usd", report.insurance_fund_usd)
    keys = _ordered_keys(list(FUND_LABELS), f)
    rows = []
    for k in keys:
        if k in _FUND_OWN_ROWS:
            continue
        v = f[k]
        text = fmt_prob(v) if k == "epsilon" else fmt_pct(v, 1) if k == "confidence" else fmt_auto(k, v)
        rows.append([FUND_LABELS.get(k, humanize(k)), text])
    table = text_table("tbl-fund", ["Quantity", "Value"], rows, [False, True])
    curve = f.get("curve") or []
    pts = _curve_points(curve, as_float(report.insurance_fund_usd))
    if not pts:
        return table, None
    fund_v = as_float(report.insurance_fund_usd)
    crow = []
    for x, p in pts:
        mark = " (recommended)" if fund_v is not None and abs(x - fund_v) <= 1e-6 * max(1.0, fund_v) else ""
        crow.append([fmt_usd(x) + mark, fmt_prob(p)])
    return table, text_table(
        "tbl-fund-curve", ["Fund size", "P(bad debt > fund)"], crow, [True, True],
        f"{len(pts)} of {len(curve)} points of the curve.",
    )


def _drivers(assets: Sequence[AssetResult]) -> Table:
    known = {k for k, _ in DRIVER_COLUMNS} | {"estimator", "fallback_reason"}
    present = [(k, lab) for k, lab in DRIVER_COLUMNS if any(k in a.drivers for a in assets)]
    extras = sorted({k for a in assets for k in a.drivers if k not in known})
    cols = ["Asset"] + [lab for _k, lab in present] + [humanize(k) for k in extras] + ["Estimator"]
    rows = []
    for a in assets:
        d = a.drivers
        cells = [a.asset.upper()]
        for k, _lab in present:
            v = d.get(k)
            if k in ("vol_annual",):
                cells.append(fmt_pct(v, 1))
            elif k in ("vol_forecast_daily", "slippage"):
                cells.append(fmt_pct(v, 2))
            elif k == "tail_dof":
                cells.append(fmt_num(v, 3))
            elif k == "corr_to_debt":
                fv = as_float(v)
                cells.append(MISSING if fv is None else f"{fv:.2f}")
            elif k == "horizon_drop_q":
                fv = as_float(v)
                cells.append(MISSING if fv is None else f"{(fv - 1) * 100:+.1f}%")
            elif k.endswith("_usd"):
                cells.append(fmt_usd_short(v))
            else:
                cells.append(fmt_auto(k, v))
        for k in extras:
            cells.append(fmt_auto(k, d.get(k)))
        est = fmt_text(d.get("estimator")) if d.get("estimator") is not None else MISSING
        if d.get("fallback_reason"):
            est += f" (fallback: {fmt_text(d['fallback_reason'])})"
        cells.append(est)
        rows.append(cells)
    numeric = [False] + [True] * (len(present) + len(extras)) + [False]
    caption = (
        "Vol = volatility of daily log returns; tail dof = Student-t degrees of freedom of the "
        "residuals (lower = fatter tails); ADV = average daily traded volume; slippage = price impact "
        "of liquidating the position; horizon move = the tail quantile of the price change over the "
        "horizon."
    )
    return text_table("tbl-drivers", cols, rows, numeric, caption)


def _references(assets: Sequence[AssetResult]) -> Table:
    extras = sorted({k for a in assets for k in a.references if k not in ("analytic_lt", "smart_ltv")})
    cols = ["Asset", "Recommended LT", "Analytic LT", "Recommended LTV", "SmartLTV"]
    cols += [humanize(k) for k in extras]
    rows = []
    for a in assets:
        r = a.references
        cells = [
            a.asset.upper(),
            fmt_pct(_param(a.recommended, "liquidation_threshold")),
            fmt_pct(r.get("analytic_lt")),
            fmt_pct(_param(a.recommended, "ltv")),
            fmt_pct(r.get("smart_ltv")),
        ] + [fmt_pct(r.get(k)) if as_float(r.get(k)) is not None else fmt_text(r.get(k)) for k in extras]
        rows.append(cells)
    return text_table("tbl-references", cols, rows, [False] + [True] * (len(cols) - 1),
                 "Simple benchmarks computed from the same inputs, shown beside the recommendation.")


def _findings(findings: Sequence[Mapping[str, Any]]) -> Table | None:
    if not findings:
        return None
    rows = []
    for f in findings:
        start, end = f.get("start"), f.get("end")
        if start is not None and end is not None and fmt_text(start) != fmt_text(end):
            period = f"{fmt_text(start)} to {fmt_text(end)}"
        else:
            period = fmt_text(start if start is not None else end)
        rows.append([fmt_text(f.get("kind")), fmt_text(f.get("asset")).upper(), period,
                     fmt_text(f.get("detail"))])
    return text_table("tbl-findings", ["Kind", "Asset", "Period", "Detail"], rows, [False] * 4)


def _method(method: Mapping[str, Any]) -> Table:
    rows = []
    for k in _ordered_keys(list(METHOD_LABELS), method):
        v = method[k]
        rows.append([METHOD_LABELS.get(k, humanize(k)),
                     fmt_num(v, 3) if k == "solve_seconds" else fmt_auto(k, v)])
    return text_table("tbl-method", ["Setting", "Value"], rows, [False, False])


def _book(book: Mapping[str, Any]) -> Table | None:
    if not book:
        return None
    rows = []
    for k, v in book.items():
        if isinstance(v, Mapping):
            text = ", ".join(f"{str(a).upper()} {fmt_auto(k, x)}" for a, x in v.items())
        else:
            text = fmt_auto(k, v)
        rows.append([humanize(k), text])
    return text_table("tbl-book", ["Book", "Value"], rows, [False, False])


def _repro(report: RunReport) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    m, ri = report.meta or {}, report.run_info or {}
    rows = [
        ("format version", fmt_text(m.get("format_version", FORMAT_VERSION))),
        ("package version", fmt_text(m.get("package_version"))),
        ("config", report.config_name or MISSING),
        ("config sha256", fmt_text(m.get("config_sha256"))),
        ("data sha256", fmt_text(m.get("data_sha256"))),
        ("seed", MISSING if m.get("seed") is None else str(m.get("seed"))),
        ("as of", fmt_text(m.get("as_of"))),
    ]
    if ri.get("created_utc") is not None:
        rows.append(("created (UTC)", fmt_text(ri["created_utc"])))
    if ri.get("runtime_seconds") is not None:
        rows.append(("runtime", f"{fmt_num(ri['runtime_seconds'], 3)} s"))
    files = [(str(k), fmt_text(v)) for k, v in sorted((m.get("data_files") or {}).items())]
    versions = [(str(k), fmt_text(v)) for k, v in sorted((m.get("versions") or {}).items())]
    return rows, files, versions


# --- the view ----------------------------------------------------------------------------------------------------


def _samples(x: Any) -> np.ndarray:
    """Finite values of a per-scenario array (None -> empty)."""
    if x is None:
        return np.empty(0)
    a = np.asarray(x, dtype=float).ravel()
    return a[np.isfinite(a)]


#: The appendix's sections in this order, after its own tables (the drivers, the references); others
#: follow as added. APPENDIX_LEAD: those printed right after the static model, before the LP internals.
APPENDIX_LEAD = ("market_simulation",)
APPENDIX_ORDER = ("market_simulation", "backtests", "anti_procyclicality", "price_history", "stress_library",
                  "book_calibration", "peg_risk", "liquidity")


def _sections(sections: Mapping[str, Section]) -> tuple[list[tuple[str, Section]], list[tuple[str, Section]],
                                                       list[tuple[str, Section]]]:
    """The optional sections of the main part and of the appendix, each with its HTML id.

    A section marked ``appendix`` goes to the appendix; one that also has a ``brief`` leaves that
    summary in the main part (the stress library: its worst scenarios up front, every one after).
    Returns the main part's, the appendix's lead (:data:`APPENDIX_LEAD`) and the other appendix sections.
    """
    main, appendix = [], []
    for name, s in sections.items():
        if not s.shown:
            continue
        sid = f"sec-{slug(name)}"
        if s.appendix:
            if s.brief is not None and s.brief.shown:
                main.append((sid, s.brief))
                sid += "-detail"
            appendix.append((name, sid, s))
        else:
            main.append((sid, s))
    rank = {name: i for i, name in enumerate(APPENDIX_ORDER)}
    appendix.sort(key=lambda t: rank.get(t[0], len(rank)))  # stable: unknown sections keep their order
    lead = [(sid, s) for name, sid, s in appendix if name in APPENDIX_LEAD]
    return main, lead, [(sid, s) for name, sid, s in appendix if name not in APPENDIX_LEAD]


def build_view(report: RunReport) -> ReportView:
    """Format every part of ``report`` for the templates (figures are drawn only when the HTML asks)."""
    conf = confidence_label(report.method.get("alpha"))
    has_current = any(a.current for a in report.assets)
    bindings = [a.binding for a in report.assets if a.binding]
    binding_note = (
        "Set by: what holds each threshold where it is: the aggregate risk budget, the asset's own risk "
        "guard, a lower/upper bound, the stress budget or an anti-procyclicality floor." if bindings else ""
    )
    if any(a.policy for a in report.assets):
        binding_note += (
            " A reserve whose LTV is held buys no borrowing power with its LT, so it has no weight in the "
            "capital efficiency the optimizer maximises: its LT is the highest the risk target allows once "
            "the others are set, capped by the held-LTV rule (`[optimizer] held_ltv_lt`), with the LT the "
            "risk target alone would allow beside it. The budget the others leave is shared by one rule: "
            "the held LTs rise together from `lt_min` toward their caps, each by the same share of its way "
            "(LT = lt_min + u x (cap - lt_min), one u for all); one stops where its own guard or bound "
            "binds or where it alone could not rise within the budget, the others rise on (progressive "
            "filling), so the split is a property of the inputs, not of the solver."
    )
    bd = _samples(report.bad_debt)
    bd_cur = None if report.bad_debt_current is None else _samples(report.bad_debt_current)
    w = report.bad_debt_weights
    n = int(bd.size)

    def share(x: np.ndarray) -> float:  # of the probability (weighted paths), not of the paths
        return float(np.average(x > 0, weights=w if w is not None and len(w) == x.size else None))

    if n and not np.any(bd > 0):
        note = f"No bad debt in any scenario under the recommended parameters ({n:,} scenarios)"
        if bd_cur is not None and bd_cur.size:
            if np.any(bd_cur > 0):
                note += f"; {share(bd_cur):.2%} of scenarios have bad debt under the current parameters."
            else:
                note += " nor under the current parameters."
        else:
            note += "."
    elif n:
        note = (
            f"{share(bd):.2%} of {n:,} scenarios end with bad debt under the recommended parameters; "
            f"the largest is {fmt_usd(np.nanmax(bd))}."
        )
    else:
        note = "No bad-debt scenarios were recorded."
    fund, fund_curve = _fund(report)
    repro, files, versions = _repro(report)
    main_sections, appendix_lead, appendix_sections = _sections(report.sections)
    horizon = (f"{fmt_num(report.method['horizon_days'])}-day"
               if as_float(report.method.get("horizon_days")) is not None else "simulation")
    metrics, definitions = _metrics(report, conf)
    static, lp, tails, other = _appendix_metrics(report, conf)
    headline = post.headline_facts(report, Headline.of(report), status_label=STATUS_LABELS.get(
        report.status, report.status), term_labels=FUND_TERM_LABELS)
    rationale = [(a.asset.upper(), post.asset_rationale(report, a, horizon=horizon, alpha_label=conf))
                 for a in report.assets]
    return ReportView(
        title=report.title,
        config_name=report.config_name,
        status=report.status,
        status_label=STATUS_LABELS.get(report.status, report.status),
        status_message=report.status_message,
        headline=headline,
        has_current=has_current,
        recommendations=_recommendations(report.assets, has_current, (report.method or {}).get("grid")),
        binding_note=binding_note,
        rationale=rationale,
        model_label=post.model_of_record(report),
        metrics=metrics,
        metric_definitions=definitions,
        bad_debt_note=note,
        fund=fund,
        fund_curve=fund_curve,
        fund_note=fund_standard_sentence(report.fund or {}, report.insurance_fund_usd),
        fund_terms=_fund_terms(report.fund or {}),
        drivers=_drivers(report.assets),
        references=_references(report.assets),
        main_sections=main_sections,
        appendix_lead=appendix_lead,
        appendix_sections=appendix_sections,
        static_metrics=static,
        lp_internals=lp,
        tail_shares=tails,
        other_metrics=other,
        findings=_findings(report.data_findings),
        method=_method(report.method or {}),
        book=_book(report.book_summary or {}),
        assumptions=[fmt_text(a) for a in report.assumptions],
        repro=repro,
        data_files=files,
        versions=versions,
        command=fmt_text((report.run_info or {}).get("command") or ""),
        config_text=report.config_text or "",
        conf_label=conf,
        as_of=fmt_text((report.meta or {}).get("as_of")),
        horizon=horizon,
        n_scenarios=fmt_num(report.method.get("n_scenarios", n) or n),
    )

