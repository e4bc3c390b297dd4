"""``proposal.md``, ``proposal.html`` and ``proposal.json``: a recalibration as an Aave governance forum post.

Both are rendered from one plain-JSON document (built by
:func:`optimizer.pipeline.recalibrate.build_proposal`), so the Markdown can always be regenerated
from the JSON. Layout of ``proposal.json`` (``format_version`` 1, sorted keys, fractions)::

    {"guardrails": {"max_step", "min_days_between", "grid", "large_change", ...},
     "assets": {"<ticker>": {"current": P, "recommended": P,
                             "schedule": [{"date": "YYYY-MM-DD", **P}, ...],
                             "drivers": {"<driver>": {"label", "effect_bps", "now", "baseline",
                                                      "unit", "baseline_source"}},
                             "top_drivers": [...], "needs_vote", "notes", "rationale",
                             "change_bps", "optimizer", "explained_bps", "unexplained_bps", ...}},
     "status": "proposal" | "no_change" | "target_not_met", "status_message",
     "risk_metrics": {"current": {...}, "recommended": {...}}, "target": {...},
     "start_date", "end_date", "insurance_fund_usd", "insurance_fund_binding_term",
     "insurance_fund_binding_source", "insurance_fund_tail_usd", "method", "assumptions", "meta": {...},
     "caps": {"guardrails": {"max_relative_change", "min_days_between", "max_schedule_steps"}, "rule",
              "current_source", "current_indicative", "price_date", "asset_order",
              "assets": {"<ticker>": {"current": C, "recommended": C, "current_usd": C, "recommended_usd": C,
                                      "schedule": [{"date", **C}, ...], "needs_vote", "notes", "changed",
                                      "rationale"}}}}

with ``P = {"ltv", "liquidation_threshold", "liquidation_bonus"}`` and ``C = {"supply_cap", "borrow_cap"}``
(tokens; a current cap of null is 0 on the protocol, "no cap"); ``caps`` only when the run has live caps. Nothing measured by a clock
is written, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.exceptions import OptimizerError
from optimizer.protocol.guardrails import CAP_KEYS, PARAM_KEYS, CapGuardrails, CapPlan, Plan, Step
from optimizer.report._format import fmt_bps, fmt_num, fmt_pct, fmt_prob, fmt_usd, fmt_usd_short
from optimizer.report._jinja import environment
from optimizer.report.run_view import FUND_TERM_LABELS
from optimizer.report.section import Table, text_table

TEMPLATE = "proposal.md.j2"

_PARAM_LABELS = {"ltv": "LTV", "liquidation_threshold": "Liquidation threshold",
                 "liquidation_bonus": "Liquidation bonus"}

#: (key, label, kind) of the risk-metric rows, in order.
_METRIC_ROWS = (
    ("capital_efficiency_usd", "Capital efficiency (borrowing power)", "usd"),
    ("bad_debt_var_usd", "Bad-debt VaR", "usd"),
    ("bad_debt_cvar_usd", "Bad-debt CVaR", "usd"),
    ("bad_debt_mean_usd", "Mean bad debt", "usd"),
    ("prob_bad_debt", "P(bad debt > 0)", "prob"),
    ("prob_bad_debt_exceeds_fund", "P(bad debt > insurance fund)", "prob"),
    ("lp_worst_case_cvar_usd", "Worst-case CVaR (all borrowers at the threshold)", "usd"),
)


def proposal_json(doc: dict[str, Any]) -> str:
    """proposal.json as text: sorted keys, two-space indent, strict JSON, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def read_proposal(path: str | Path) -> dict[str, Any]:
    """The proposal document of ``path`` (a proposal.json file or a directory holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "proposal.json"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptimizerError(f"proposal file not found: {p}") from None
    except json.JSONDecodeError as err:
        raise OptimizerError(f"{p}: invalid JSON ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("assets"), dict):
        raise OptimizerError(f"{p}: not a riskopt proposal (no 'assets' table)")
    return doc


def plans_from_proposal(doc: dict[str, Any]) -> dict[str, Plan]:
    """The per-asset :class:`Plan` objects a proposal document describes."""
    out: dict[str, Plan] = {}
    for asset, a in doc["assets"].items():
        try:
            out[asset] = Plan(
                current={k: float(a["current"][k]) for k in PARAM_KEYS},
                recommended={k: float(a["recommended"][k]) for k in PARAM_KEYS},
                steps=tuple(Step(date=s["date"], **{k: float(s[k]) for k in PARAM_KEYS}) for s in a["schedule"]),
                needs_vote=bool(a["needs_vote"]),
                notes=tuple(a.get("notes", ())),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise OptimizerError(f"proposal: asset {asset!r} is malformed ({err!r})") from None
    return out


def load_proposal(path: str | Path) -> dict[str, Plan]:
    """Read proposal.json (or the directory holding it) back into the per-asset plans."""
    return plans_from_proposal(read_proposal(path))


# ---------------------------------------------------------------------------------------------
# The proposal's sentences (written into proposal.json when it is built)
# ---------------------------------------------------------------------------------------------
#: How the drivers are attributed (proposal.json ``method.attribution``).
ATTRIBUTION_METHOD = ("each driver reset to its baseline, one at a time (volatility, tail thickness and "
                      "liquidity per asset; correlation and book composition jointly), then the threshold "
                      "program re-solved; effect = LT now - LT with the driver reset")

#: Where the baselines come from, by whether a previous run was given (``method.baseline``).
BASELINE_SOURCES = {
    True: "previous run",
    False: "implied by the current LT (volatility), else through-the-cycle full-history estimates",
}


def describe_driver(driver: str, d: Mapping[str, Any]) -> str:
    """``daily volatility 3.90% now vs 2.96% implied by the current LT``."""
    now, base = d.get("now"), d.get("baseline")
    src = d.get("baseline_source", "")
    if src.startswith("previous run"):
        src = "at the " + src
    if now is None or base is None:
        return f"no baseline: {src}"
    if driver == "volatility":
        txt = f"daily volatility {now:.2%} now vs {base:.2%}"
    elif driver == "tail":
        txt = f"tail dof {now:.1f} now vs {base:.1f}"
    elif driver == "correlation":
        txt = f"mean correlation {now:.2f} now vs {base:.2f}"
    elif driver == "liquidity":
        txt = f"daily volume ${now / 1e6:,.1f}M now vs ${base / 1e6:,.1f}M"
    else:
        txt = f"collateral ${now / 1e6:,.1f}M now vs ${base / 1e6:,.1f}M"
    return f"{txt} {src}"


def rationale(asset: str, plan: Plan, drivers: Mapping[str, Mapping[str, Any]], top: Sequence[str],
              binding: str, unexplained_bps: float | None) -> str:
    """One paragraph per asset naming its drivers, for proposal.md and proposal.json."""
    up = asset.upper()
    cur, rec = plan.current, plan.recommended
    if not plan.steps:
        return (f"{up}: no change; the recommendation rounds to the live parameters on the grid "
                f"(LT {cur['liquidation_threshold']:.2%}).")
    parts = []
    for k, name in (("liquidation_threshold", "LT"), ("ltv", "LTV"), ("liquidation_bonus", "bonus")):
        if abs(rec[k] - cur[k]) > 1e-12:
            parts.append(f"{name} {cur[k]:.2%} -> {rec[k]:.2%} ({(rec[k] - cur[k]) * 1e4:+.0f} bps)")
    lead = f"{up}: " + ", ".join(parts) + "."
    named = []
    for d in top:
        e = drivers[d]["effect_bps"]
        verb = "raises" if (e or 0) >= 0 else "lowers"
        named.append(f"{drivers[d]['label']} ({verb} LT by {abs(e or 0):.0f} bps; {describe_driver(d, drivers[d])})")
    if named:
        lead += " Main drivers: " + "; ".join(named) + "."
    if unexplained_bps is not None and abs(unexplained_bps) >= 1:
        lead += (f" {unexplained_bps:+.0f} bps are not explained by a single driver (the gap between the "
                 "live setting and the model at the baseline, the shared risk budget and interactions).")
    if binding:
        lead += f" Binding constraint: {binding}."
    if plan.needs_vote:
        lead += " The change exceeds what the risk stewards may do: it needs a governance vote."
    else:
        lead += (f" Schedule: {len(plan.steps)} update{'s' if len(plan.steps) != 1 else ''} "
                 f"from {plan.steps[0].date} to {plan.steps[-1].date}.")
    return lead


def status_message(
    status: str,
    *,
    alpha: float,
    worst_case_cvar_usd: float,
    budget_usd: float,
    guard_fails: Sequence[str],
    run_message: str,
    n_changed: int,
    n_assets: int,
    n_vote: int,
    last_date: str | None,
) -> str:
    """The proposal's status in one paragraph: target not met, nothing to change, or what changes when."""
    if status == "target_not_met":
        return ("The risk target is NOT met even by the parameters in force after the whole schedule: "
                f"worst-case {alpha:.1%} CVaR ${worst_case_cvar_usd:,.0f} against a budget of "
                f"${budget_usd:,.0f}"
                + (f"; per-asset guard exceeded for {', '.join(guard_fails)}" if guard_fails else "")
                + ". " + run_message)
    if status == "no_change":
        return "No parameter needs to change: every recommendation rounds to the live value on the grid."
    return (f"{n_changed} of {n_assets} assets change; {n_changed - n_vote} within the risk stewards' "
            f"limits by a dated schedule ending {last_date}" + (f", {n_vote} needing a governance vote" if n_vote else "")
            + ".")


def _fund_basis(doc: Mapping[str, Any]) -> str:
    """'set by the <term> (<source>)' of the fund after the schedule."""
    term = doc["insurance_fund_binding_term"]
    label = FUND_TERM_LABELS.get(term, term)
    return f"set by the {label[0].lower() + label[1:]} ({doc['insurance_fund_binding_source']})"


def summary_lines(doc: Mapping[str, Any]) -> list[str]:
    """A few lines for the terminal from a proposal document: status and one line per changed asset."""
    lines = [f"status: {doc['status']}", doc["status_message"]]
    for a in doc.get("asset_order") or list(doc["assets"]):
        v = doc["assets"][a]
        if not v["changed"]:
            continue
        cur, rec = v["current"]["liquidation_threshold"], v["recommended"]["liquidation_threshold"]
        tops = ", ".join(v["drivers"][d]["label"] for d in v["top_drivers"])
        how = "vote" if v["needs_vote"] else f"{len(v['schedule'])} steps"
        lines.append(f"  {a:<6} LT {cur:.2%} -> {rec:.2%} ({how}; drivers: {tops})")
    caps = doc.get("caps") or {}
    for a in caps.get("asset_order") or list(caps.get("assets", {})):
        v = caps["assets"][a]
        if v["changed"]:
            how = "vote" if v["needs_vote"] else f"{len(v['schedule'])} steps"
            lines.append(f"  {a:<6} caps supply {_cap(v['current']['supply_cap'])} -> {_cap(v['recommended']['supply_cap'])}, "
                         f"borrow {_cap(v['current']['borrow_cap'])} -> {_cap(v['recommended']['borrow_cap'])} ({how})")
    lines.append(f"insurance fund after the schedule: ${doc['insurance_fund_usd']:,.0f}, {_fund_basis(doc)}")
    return lines


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------
def _metric(kind: str, x: Any) -> str:
    return fmt_usd(x) if kind == "usd" else fmt_prob(x)


def _delta(kind: str, before: Any, after: Any) -> str:
    if before is None or after is None:
        return "n/a"
    d = float(after) - float(before)
    if kind == "usd":
        return ("+" if d > 0 else "") + fmt_usd(d) if d else "$0"
    return f"{d * 100:+.3f} pp" if d else "0 pp"


def _signed_bps(x: float) -> str:
    return "0 bps" if abs(x) < 0.5 else f"{x:+.0f} bps"


def _driver_value(unit: str, x: Any) -> str:
    if x is None:
        return "n/a"
    if unit.startswith("daily volatility"):
        return fmt_pct(x)
    if "USD" in unit:
        return fmt_usd(x)
    if unit.startswith("Student-t"):
        return f"{float(x):.2f}"
    return f"{float(x):.3f}"


_CAP_LABELS = {"supply_cap": "Supply cap", "borrow_cap": "Borrow cap"}


def cap_rationale(asset: str, inputs: Mapping[str, Any], supply_binding: str, borrow_binding: str) -> str:
    """Why the caps are where they are, in one paragraph (from params.json ``caps.assets.<asset>``)."""
    worst = inputs.get("worst_scenario")
    share = (f"{fmt_pct(inputs['liquidated_share_stressed'])} of its supply is liquidated in its worst stress "
             f"scenario ({worst})" if worst else "no stress scenario liquidates any of it")
    text = (f"{asset.upper()}: {share}; the rule uses {fmt_pct(inputs['liquidated_share'])} "
            f"({'the floor' if supply_binding != 'stress scenario' else 'that share'}). "
            f"{fmt_usd_short(inputs['depth_at_bonus_usd_per_day'])} a day is sellable at a slippage of its "
            f"{fmt_pct(inputs['liquidation_bonus'])} bonus (set by the {inputs.get('depth_binding', 'depth curve')}; "
            f"{inputs.get('depth_source') or 'depth curve'}). The borrow cap keeps "
            f"{fmt_pct(1 - inputs['utilisation'])} of the supply unborrowed ({borrow_binding}).")
    return text


def caps_document(plans: Mapping[str, CapPlan], g: CapGuardrails, caps_data: Mapping[str, Any] | None) -> dict[str, Any]:
    """proposal.json ``caps``: per asset current -> recommended caps (tokens and USD), the schedule and why."""
    per_asset = (caps_data or {}).get("assets", {})
    assets: dict[str, Any] = {}
    for a, plan in plans.items():
        d = per_asset.get(a, {})
        price = (d.get("inputs") or {}).get("price_usd")

        def usd(c: Mapping[str, float | None]) -> dict[str, float | None]:
            return {k: (None if c.get(k) is None or price is None else float(c[k]) * float(price)) for k in CAP_KEYS}

        assets[a] = {
            "current": dict(plan.current), "recommended": dict(plan.recommended),
            "current_usd": usd(plan.current), "recommended_usd": usd(plan.recommended),
            "schedule": [s.to_dict() for s in plan.steps], "needs_vote": bool(plan.needs_vote),
            "notes": list(plan.notes), "changed": bool(plan.changed),
            "rationale": cap_rationale(a, d["inputs"], d["supply_cap_binding"], d["borrow_cap_binding"])
            if d else "",
        }
    data = caps_data or {}
    return {"guardrails": g.to_dict(), "rule": data.get("rule"), "current_source": data.get("current_source"),
            "current_indicative": bool(data.get("current_indicative")), "price_date": data.get("price_date"),
            "asset_order": list(plans), "assets": assets}


@dataclass(frozen=True)
class CapsView:
    """The proposal's caps: the specification table, one schedule per changed asset, the rationale."""

    spec: Table
    schedules: list[ScheduleView]
    rationale: list[str]
    source: str
    max_change: str
    min_days: int


def _cap(x: Any) -> str:
    return "0 (no cap)" if x is None else fmt_num(x)


def caps_view(doc: Mapping[str, Any]) -> CapsView | None:
    """The caps part of ``build_view`` (None when the proposal has no caps)."""
    c = doc.get("caps")
    if not c:
        return None
    order = [a for a in c.get("asset_order", []) if a in c["assets"]]
    assets = {a: c["assets"][a] for a in order + sorted(set(c["assets"]) - set(order))}
    rows, schedules = [], []
    for a, v in assets.items():
        for k in CAP_KEYS:
            cur, rec = v["current"][k], v["recommended"][k]
            ratio = "" if not cur else f"x{rec / cur:.3g}"
            rows.append([a.upper(), _CAP_LABELS[k], _cap(cur), fmt_usd_short(v["current_usd"][k]) if cur else "",
                         _cap(rec), fmt_usd_short(v["recommended_usd"][k]), ratio])
        if v["schedule"]:
            srows = [[s["date"], fmt_num(s["supply_cap"]), fmt_num(s["borrow_cap"])] for s in v["schedule"]]
            schedules.append(ScheduleView(
                asset=a.upper(), needs_vote=v["needs_vote"], n_steps=len(srows), first=v["schedule"][0]["date"],
                last=v["schedule"][-1]["date"],
                table=text_table("", ["Date", "Supply cap (tokens)", "Borrow cap (tokens)"], srows, [False, True, True]),
                notes=list(v["notes"])))
    g = c["guardrails"]
    src = c.get("current_source") or "the live caps"
    return CapsView(
        spec=text_table("", ["Asset", "Cap", "Current (tokens)", "Current", "Recommended (tokens)", "Recommended",
                             "Change"], rows, [False, False, True, True, True, True, True]),
        schedules=schedules, rationale=[v["rationale"] for v in assets.values() if v["rationale"]],
        source=src + (" (indicative)" if c.get("current_indicative") else ""),
        max_change=f"{float(g['max_relative_change']):.0%}", min_days=int(g["min_days_between"]))


@dataclass(frozen=True)
class ScheduleView:
    """One changed asset's dated updates."""

    asset: str
    needs_vote: bool
    n_steps: int
    first: str
    last: str
    table: Table
    notes: list[str]


@dataclass(frozen=True)
class RationaleView:
    """One changed asset's rationale paragraph and its driver table."""

    asset: str
    text: str
    table: Table


@dataclass(frozen=True)
class ProposalView:
    """Everything ``proposal.md.j2`` prints, as text (the document's records where printed as they are)."""

    title: str
    config_name: str
    as_of: Any
    status: str
    status_message: str
    changed: list[str]
    unchanged: list[str]
    n_assets: int
    n_vote: int
    start_date: str
    end_date: str | None
    spec: Table
    schedules: list[ScheduleView]
    rationale: list[RationaleView]
    metrics: Table
    target: Mapping[str, Any]
    budget: str
    worst: str
    conf: str
    guardrails: Mapping[str, Any]
    method: Mapping[str, Any]
    n_scenarios: str
    evaluation: str
    assumptions: list[str]
    meta: Mapping[str, Any]
    versions: str
    current_file: str | None
    current_sha: str | None
    previous: Mapping[str, Any] | None
    caps: CapsView | None = None


def build_view(doc: Mapping[str, Any]) -> ProposalView:
    """Format a proposal document for ``proposal.md.j2``."""
    # JSON keys come back sorted: present assets and drivers in the recorded order
    order = [a for a in doc.get("asset_order", []) if a in doc["assets"]]
    assets = {a: doc["assets"][a] for a in order + sorted(set(doc["assets"]) - set(order))}
    driver_order = doc.get("driver_order") or []
    changed = [a for a, v in assets.items() if v["changed"]]
    spec_rows = []
    for a in changed:
        v = assets[a]
        for k in PARAM_KEYS:
            if v["current"][k] != v["recommended"][k]:
                spec_rows.append([a.upper(), _PARAM_LABELS[k], fmt_pct(v["current"][k]),
                                  fmt_pct(v["recommended"][k]),
                                  fmt_bps(v["recommended"][k] - v["current"][k])])
    unchanged = [a.upper() for a, v in assets.items() if not v["changed"]]
    schedules = []
    for a in changed:
        v = assets[a]
        rows = [[s["date"], fmt_pct(s["ltv"]), fmt_pct(s["liquidation_threshold"]), fmt_pct(s["liquidation_bonus"])]
                for s in v["schedule"]]
        schedules.append(ScheduleView(
            asset=a.upper(),
            needs_vote=v["needs_vote"],
            n_steps=len(rows),
            first=v["schedule"][0]["date"],
            last=v["schedule"][-1]["date"],
            table=text_table("", ["Date", "LTV", "Liq. threshold", "Liq. bonus"], rows, [False, True, True, True]),
            notes=list(v["notes"]),
        ))
    rationales = []
    for a, v in assets.items():
        if not v["changed"]:
            continue
        rows = []
        names = [d for d in driver_order if d in v["drivers"]]
        for d in names + sorted(set(v["drivers"]) - set(names)):
            dv = v["drivers"][d]
            e = dv["effect_bps"]
            rows.append([dv["label"], _driver_value(dv["unit"], dv["now"]), _driver_value(dv["unit"], dv["baseline"]),
                         dv["baseline_source"], "not attributed" if e is None else _signed_bps(e)])
        if v.get("unexplained_bps") is not None:
            rows.append(["not explained by one driver", "", "", "interactions, shared budget, live setting vs model",
                         _signed_bps(v["unexplained_bps"])])
        rationales.append(RationaleView(
            asset=a.upper(),
            text=v["rationale"],
            table=text_table("", ["Driver", "Now", "Baseline", "Baseline from", "Effect on LT"], rows,
                            [False, True, True, False, True],
                            "Effect on LT = LT now - LT with that driver reset to its baseline, before rounding."),
        ))
    evaluation = doc["risk_metrics"].get("evaluation") or "static evaluation of the book"
    cur_m = doc["risk_metrics"].get("current") or {}
    rec_m = doc["risk_metrics"].get("recommended") or {}
    conf = f"{float(doc['target']['alpha']) * 100:.4g}%"
    metric_rows = []
    for key, label, kind in _METRIC_ROWS:
        if key not in rec_m and key not in cur_m:
            continue
        lab = label + (f" {conf}" if key in ("bad_debt_var_usd", "bad_debt_cvar_usd", "lp_worst_case_cvar_usd") else "")
        before = cur_m.get(key)
        metric_rows.append([lab, _metric(kind, before), _metric(kind, rec_m.get(key)), _delta(kind, before, rec_m.get(key))])
    metric_rows.append([f"Insurance fund (largest of tail ES, worst stress loss, cover-2), {_fund_basis(doc)}", "",
                        fmt_usd(doc["insurance_fund_usd"]), ""])
    metric_rows.append(["Insurance fund's simulated tail term (expected shortfall of bad debt)", "",
                        fmt_usd(doc["insurance_fund_tail_usd"]), ""])
    g = doc["guardrails"]
    meta = doc["meta"]
    method = doc["method"]
    versions = meta.get("versions") or {}
    cur_file = (meta.get("current_parameters") or {}).get("file")
    return ProposalView(
        title=doc["title"],
        config_name=doc["config_name"],
        as_of=meta.get("as_of"),
        status=doc["status"],
        status_message=doc["status_message"],
        changed=[a.upper() for a in changed],
        unchanged=unchanged,
        n_assets=len(assets),
        n_vote=sum(1 for a in changed if assets[a]["needs_vote"]),
        start_date=doc["start_date"],
        end_date=doc.get("end_date"),
        spec=text_table("", ["Asset", "Parameter", "Current", "Recommended", "Change"], spec_rows,
                       [False, False, True, True, True]),
        schedules=schedules,
        rationale=rationales,
        metrics=text_table("", ["Metric", "Current", "After the schedule", "Change"], metric_rows,
                          [False, True, True, True]),
        target=doc["target"],
        budget=fmt_usd(doc["target"]["budget_usd"]),
        worst=fmt_usd(doc["target"]["worst_case_cvar_usd"]),
        conf=conf,
        guardrails={
            "max_step": fmt_bps(g["max_step"]).lstrip("+"),
            "min_days": g["min_days_between"],
            "grid": fmt_pct(g["grid"]),
            "large_change": g["large_change"],
            "max_steps": g["max_schedule_steps"],
        },
        method=method,
        n_scenarios=f"{int(method.get('n_scenarios') or 0):,}",
        evaluation=evaluation,
        assumptions=doc.get("assumptions", []),
        meta=meta,
        versions=", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        current_file=cur_file,
        current_sha=(meta.get("current_parameters") or {}).get("sha256"),
        previous=meta.get("previous_run"),
        caps=caps_view(doc),
    )


def render_proposal_md(doc: dict[str, Any]) -> str:
    """Render a proposal document as a governance forum post (Markdown, ends with one newline)."""
    from optimizer.report.markdown import _tidy

    text = environment().get_template(TEMPLATE).render(v=build_view(doc))
    return _tidy(text)


def render_proposal_html(doc: dict[str, Any]) -> str:
    """The same post as one self-contained HTML page (``proposal.html.j2``, style.css inlined)."""
    from optimizer.report._jinja import read_template_file

    html = environment().get_template("proposal.html.j2").render(v=build_view(doc), css=read_template_file("style.css"))
    return "\n".join(ln.rstrip() for ln in html.splitlines()).strip("\n") + "\n"


__all__ = ["ATTRIBUTION_METHOD", "BASELINE_SOURCES", "CapsView", "ProposalView", "build_view", "cap_rationale",
           "caps_document", "caps_view", "describe_driver", "load_proposal",
           "plans_from_proposal", "proposal_json", "rationale", "read_proposal", "render_proposal_html", "render_proposal_md", "status_message",
           "summary_lines"]
