"""The governance post's own words: the headline's five facts, the per-asset rationale and the named,
defined risk metrics.

Everything here is generated from the typed report (:class:`RunReport`, :class:`AssetResult`,
:class:`~optimizer.report.headline.Headline`): no per-asset text is written by hand, and every
number is one the report already holds (only differences are taken).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.optimize import Binding, RunStatus
from optimizer.report._format import MISSING, as_float, fmt_bps, fmt_pct, fmt_prob, fmt_usd, fmt_usd_short
from optimizer.report.headline import Headline
from optimizer.report.model import AssetResult, RunReport

__all__ = ["METRIC_DEFS", "MetricDef", "asset_rationale", "headline_facts", "model_of_record"]

#: Short names of the parameters in sentences.
_SHORT = {"ltv": "LTV", "liquidation_threshold": "LT", "liquidation_bonus": "bonus"}


@dataclass(frozen=True)
class MetricDef:
    """One quantity of the risk-metrics table: its params.json key, plain name and definition.

    ``name`` and ``definition`` may hold ``{conf}`` (the confidence level, "99%") and ``{tail}``
    (its complement, "1%").
    """

    key: str
    name: str
    definition: str
    kind: str  # "usd", "prob" or "count": how the value and its change are written


#: The risk-metrics table, in order: quantities of the model of record under both parameter sets.
METRIC_DEFS: tuple[MetricDef, ...] = (
    MetricDef("capital_efficiency_usd", "Capital efficiency",
              "what the book's collateral may borrow: the sum over assets of collateral x LTV (USD; "
              "computed, not simulated).", "usd"),
    MetricDef("bad_debt_mean_usd", "Expected bad debt",
              "mean over the scenarios of the debt left uncovered by collateral at the horizon (USD).", "usd"),
    MetricDef("bad_debt_var_usd", "Bad-debt VaR {conf}",
              "the bad debt exceeded in only {tail} of the scenarios (USD).", "usd"),
    MetricDef("bad_debt_cvar_usd", "Bad-debt CVaR {conf}",
              "the mean bad debt over the worst {tail} of the scenarios (expected shortfall, USD); the "
              "risk target's measure.", "usd"),
    MetricDef("prob_bad_debt", "P(bad debt > 0)",
              "probability that at least one account ends with debt above its collateral's value.", "prob"),
    MetricDef("prob_bad_debt_exceeds_fund", "P(bad debt > insurance fund)",
              "probability that the bad debt exceeds the recommended insurance fund.", "prob"),
    MetricDef("mean_accounts_liquidated", "Accounts liquidated (mean)",
              "mean number of accounts liquidated at least once over the horizon.", "count"),
)


def model_of_record(report: RunReport) -> str:
    """The evaluation the headline figures are measured on, as a phrase."""
    n = int(report.bad_debt.size) if report.bad_debt is not None else 0
    if "sim_bad_debt_cvar_usd" in (report.metrics or {}):
        return f"the market simulation ({n:,} paths, with liquidation cascades)"
    return f"the static evaluation of the book ({n:,} scenarios, one shock, no cascades)"


def _usd(x: Any) -> str:
    return fmt_usd_short(x)


def _change_usd(cur: float, rec: float) -> str:
    d = rec - cur
    rel = f", {d / cur:+.1%}" if cur else ""
    return f"{_usd(cur)} → {_usd(rec)} ({'+' if d > 0 else ''}{_usd(d)}{rel})"


def headline_facts(report: RunReport, headline: Headline, *, status_label: str,
                   term_labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """The five facts of the post's first lines: ``(label, text)`` pairs.

    Status; the fund and the term of the standard that sets it; capital efficiency and bad debt
    (under the model of record) before and after; how many parameters change and the largest change.
    """
    h = headline
    facts = [("Status", status_label + ("" if h.status == RunStatus.OK else f": {h.status_message}"))]
    fund = f"{fmt_usd(h.insurance_fund_usd)}"
    if h.fund_binding_term:
        terms = (report.fund or {}).get("terms") or {}
        src = (terms.get(h.fund_binding_term) or {}).get("source")
        label = term_labels.get(h.fund_binding_term, h.fund_binding_term).lower()
        fund += f", set by the {label}" + (f" ({src})" if src else "")
    facts.append(("Insurance fund", fund))
    ce, ce_cur = h.capital_efficiency_usd, h.capital_efficiency_current_usd
    if ce is not None:
        facts.append(("Capital efficiency", _change_usd(ce_cur, ce) if ce_cur is not None else _usd(ce)))
    bd, bd_cur = h.bad_debt_cvar_usd, h.bad_debt_cvar_current_usd
    if bd is not None:
        conf = f"{h.alpha:.0%} " if h.alpha is not None else ""
        where = "market simulation" if "sim_bad_debt_cvar_usd" in (report.metrics or {}) else "static model"
        facts.append((f"Bad debt ({conf}CVaR, {where})",
                      _change_usd(bd_cur, bd) if bd_cur is not None else _usd(bd)))
    if h.n_compared:
        txt = f"{h.n_changed} of {h.n_compared} change (LTV, LT and bonus of {h.n_compared // 3} assets)"
        c = h.largest_change
        if c is not None:
            txt += (f"; largest {c['asset'].upper()} {_SHORT.get(c['parameter'], c['parameter'])} "
                    f"{fmt_pct(c['current'])} → {fmt_pct(c['recommended'])} "
                    f"({fmt_bps(c['recommended'] - c['current'])})")
        new = [a.asset.upper() for a in report.assets if a.current is None]
        if new:
            txt += f"; new (no current parameters): {', '.join(new)}"
        facts.append(("Parameters", txt))
    else:
        facts.append(("Parameters", f"no current parameters given: {len(report.assets)} assets recommended outright"))
    return facts


def _moves(a: AssetResult) -> str:
    """``"LT 83.00% → 81.76% (-123.8 bps) and LTV 80.50% → 79.26% (-123.8 bps)"``; '' when nothing moves."""
    out = []
    for key in ("liquidation_threshold", "ltv", "liquidation_bonus"):
        cur, rec = as_float(a.current.get(key)), as_float(a.recommended.get(key))
        if cur is not None and rec is not None and abs(rec - cur) >= 5e-7:
            out.append(f"{_SHORT[key]} {fmt_pct(cur)} → {fmt_pct(rec)} ({fmt_bps(rec - cur)})")
    return out[0] if len(out) == 1 else ", ".join(out[:-1]) + " and " + out[-1] if out else ""


def _drivers(a: AssetResult, horizon: str) -> str:
    """The market facts behind the threshold: horizon tail move, volatility, liquidation slippage."""
    d = a.drivers
    parts = []
    q = as_float(d.get("horizon_drop_q"))
    if q is not None:
        parts.append(f"a {horizon} tail move of {(q - 1) * 100:+.1f}%")
    vol = as_float(d.get("vol_annual"))
    if vol is not None:
        parts.append(f"{fmt_pct(vol, 1)} annual volatility")
    slip = as_float(d.get("slippage"))
    if slip is not None:
        parts.append(f"{fmt_pct(slip)} slippage on liquidation")
    return ", ".join(parts)


def _binds(a: AssetResult, *, alpha_label: str, budget_usd: float | None, guard: float | None,
           stress_budget_usd: float | None, tail_share: float | None) -> str:
    """What holds the threshold where it is, as a sentence."""
    b, p = str(a.binding), a.policy
    band = a.band or {}
    hw = as_float(band.get("liquidation_threshold"))
    band_txt = f"; the threshold's Monte Carlo band is ± {hw * 1e4:.0f} bp" if hw else ""
    if p:
        held = f"Its LTV is held at {fmt_pct(p.get('ltv_held_at'))}, so its LT buys no borrowing power"
        lim = as_float(p.get("risk_limit_lt"))
        cap = as_float(p.get("lt_cap"))
        if b == Binding.HELD_AT_CURRENT:
            return (f"{held}: it stays at its current {fmt_pct(cap)}"
                    + (f", below the {fmt_pct(lim)} the risk target alone would allow" if lim is not None else "")
                    + f"{band_txt}.")
        shared = ("; the held reserves share what the budget leaves them by progressive filling (each the same "
                  "share of its way from lt_min to its cap)"
                  if b in (Binding.RISK_BUDGET, Binding.STRESS_BUDGET, Binding.RISK_AND_STRESS_BUDGET) else "")
        return (f"{held}: it is the highest LT the {b} allows once the other assets are set"
                + (f" ({fmt_pct(lim)})" if lim is not None else "")
                + (f", capped at its current {fmt_pct(cap)}" if cap is not None else "") + f"{shared}{band_txt}.")
    share = ("" if tail_share is None else
             f"; it carries {fmt_pct(tail_share, 1)} of the tail bad debt" if tail_share >= 5e-4 else
             "; it carries under 0.1% of the tail bad debt")
    budget = f" of {fmt_usd_short(budget_usd)}" if budget_usd is not None else ""
    stress = f" of {fmt_usd_short(stress_budget_usd)}" if stress_budget_usd is not None else ""
    if b == Binding.RISK_BUDGET:
        return (f"The aggregate risk budget binds: the book's {alpha_label} CVaR of bad debt, every borrower "
                f"at the threshold, is at the budget{budget}{share}{band_txt}.")
    if b == Binding.ASSET_GUARD:
        g = f" of {fmt_pct(guard)}" if guard is not None else ""
        return (f"Its own risk guard binds: its {alpha_label} CVaR of bad debt per USD of collateral at the "
                f"threshold is at the guard{g}{share}{band_txt}.")
    if b == Binding.UPPER_BOUND:
        return f"It sits at the highest threshold the configuration allows (lt_max): risk does not bind{band_txt}."
    if b in (Binding.LOWER_BOUND, Binding.LOWER_BOUND_GUARD_NOT_MET):
        return (f"It sits at the lowest threshold the configuration allows (lt_min): the risk target "
                f"would ask for less{band_txt}.")
    if b == Binding.STRESS_BUDGET:
        return (f"The stress budget binds: in a stress-library scenario the worst-case book's bad debt is at "
                f"the stress budget{stress}{share}{band_txt}.")
    if b == Binding.RISK_AND_STRESS_BUDGET:
        return (f"Both budgets bind: the book's {alpha_label} CVaR of bad debt, every borrower at the threshold, "
                f"is at the risk budget{budget}, and in a stress-library scenario that book's bad debt is at the "
                f"stress budget{stress}{share}{band_txt}.")
    if b.startswith("anti-procyclicality"):
        return f"An {b} rule sets it below what the risk target alone allows{band_txt}."
    return f"What sets it: {b or 'not recorded'}{band_txt}."


def _references(a: AssetResult) -> str:
    """How the closed-form references compare with the recommendation."""
    r = a.references or {}
    out = []
    lt = as_float(a.recommended.get("liquidation_threshold"))
    alt = as_float(r.get("analytic_lt"))
    if alt is not None and lt is not None:
        side = "above" if lt > alt else "below"
        out.append(f"the analytic LT is {fmt_pct(alt)} (the recommendation {abs(lt - alt) * 1e4:.0f} bp {side})"
                   if abs(lt - alt) >= 5e-5 else f"the analytic LT is {fmt_pct(alt)} (the same)")
    sltv = as_float(r.get("smart_ltv"))
    ltv = as_float(a.recommended.get("ltv"))
    if sltv is not None and ltv is not None:
        if a.policy:
            out.append(f"SmartLTV is {fmt_pct(sltv)} (not comparable: the LTV is held)")
        else:
            side = "above" if ltv > sltv else "below"
            out.append(f"SmartLTV is {fmt_pct(sltv)} (the recommended LTV {abs(ltv - sltv) * 1e4:.0f} bp {side})"
                       if abs(ltv - sltv) >= 5e-5 else f"SmartLTV is {fmt_pct(sltv)} (the same)")
    if not out:
        return ""
    return "References: " + " and ".join(out) + "."


def asset_rationale(report: RunReport, a: AssetResult, *, horizon: str, alpha_label: str) -> str:
    """Two or three sentences on one asset: what moved it, what binds it, how the references compare."""
    name = a.asset.upper()
    drivers = _drivers(a, horizon)
    on = f", given {drivers}" if drivers else ""
    if a.current is None:
        first = (f"{name} has no current parameters: recommended LT {fmt_pct(a.recommended.get('liquidation_threshold'))}, "
                 f"LTV {fmt_pct(a.recommended.get('ltv'))}{on}.")
    else:
        moves = _moves(a)
        first = f"{name}: {moves}{on}." if moves else f"{name} keeps its current parameters{on}."
    tails = (report.metrics or {}).get("tail_contribution_by_asset") or {}
    m = report.method or {}
    second = _binds(a, alpha_label=alpha_label, budget_usd=as_float(m.get("risk_budget_usd")),
                    guard=as_float(m.get("asset_guard_share")), stress_budget_usd=as_float(m.get("stress_budget_usd")),
                    tail_share=as_float(tails.get(a.asset)))
    third = _references(a)
    return " ".join(s for s in (first, second, third) if s)


def metric_value(kind: str, x: Any) -> str:
    """A metric's value in its kind's format."""
    if kind == "usd":
        return fmt_usd(x)
    if kind == "prob":
        return fmt_prob(x)
    v = as_float(x)
    return MISSING if v is None else f"{v:,.3g}"


def metric_change(kind: str, cur: Any, rec: Any) -> str:
    """Recommended minus current, in the kind's unit (percentage points for probabilities)."""
    c, r = as_float(cur), as_float(rec)
    if c is None or r is None:
        return ""
    d = r - c
    if kind == "usd":
        return ("+" if d > 0 else "") + fmt_usd(d)
    if kind == "prob":
        return f"{d * 100:+.3g} pp" if d else "0 pp"
    return f"{d:+.3g}" if d else "0"


def band_text(kind: str, half_width: Any) -> str:
    """``" ± $1.93M"`` / ``" ± 0.41 pp"`` for a measured band; '' for none or an exact 0."""
    h = as_float(half_width)
    if h is None or h <= 0:
        return ""
    if kind == "usd":
        return f" ± {fmt_usd_short(h)}"
    if kind == "prob":
        return f" ± {h * 100:.2g} pp"
    return f" ± {h:.2g}"
