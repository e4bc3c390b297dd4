"""`riskopt recalibrate`: run the optimizer and turn its answer into a guardrailed governance proposal.

The job is meant to run unattended (cron, CI): it reads the live parameters (from the config or a
file), runs the optimizer, puts each recommendation on the protocol's grid and plans the dated
schedule the guardrails allow (:func:`optimizer.protocol.guardrails.plan_changes`), explains every
change by its drivers (:mod:`optimizer.pipeline.attribution`) and writes ``proposal.md`` / ``proposal.html`` /
``proposal.json`` beside the run's own report.

Outcomes (and exit codes of the command): ``"no_change"`` (0) when every recommendation rounds
to the live parameters, ``"proposal"`` (0) when a proposal was written, ``"target_not_met"`` (2)
when the risk target is not met even by the parameters in force after the whole schedule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer._random import RunStreams
from optimizer.exceptions import ConfigError
from optimizer.pipeline import attribution as attr_mod
from optimizer.pipeline.config import RunConfig
from optimizer.pipeline.progress import Progress, Silent
from optimizer.protocol.guardrails import (
    PARAM_KEYS,
    CapGuardrails,
    CapPlan,
    Guardrails,
    Plan,
    check_cap_plan,
    check_plan,
    hold_within_band,
    plan_cap_changes,
    plan_changes,
)
from optimizer.protocol.params import RiskParams

#: Version of proposal.json. History: 1 = first release.
PROPOSAL_FORMAT_VERSION = 1

#: Files of a recalibration directory besides the run's report.
PROPOSAL_FILES = ("proposal.md", "proposal.html", "proposal.json", "drivers.json")


@dataclass(frozen=True, eq=False)
class RecalibrationOutcome:
    """Result of :func:`recalibrate` (nothing is written until :func:`write_recalibration`).

    Attributes
    ----------
    run : RunOutcome
        The optimizer run the proposal is built on (its report is written beside the proposal).
    config : RunConfig
        The configuration the run used (live parameters from ``--current`` applied).
    guardrails : Guardrails
    plans : dict of str to Plan
        Per asset, how to get from the live to the recommended parameters.
    attribution : Attribution
        Effects of each driver on each asset's LT.
    final : RiskParams
        The parameters in force after every schedule has run (the grid-snapped recommendation).
    proposal : dict
        The content of ``proposal.json`` (plain JSON types).
    status : {"no_change", "proposal", "target_not_met"}
    cap_plans : dict of str to CapPlan
        Per asset, the supply and borrow cap schedule (empty without live caps, ``[caps] current_file``).
    cap_guardrails : CapGuardrails
    """

    run: Any
    config: RunConfig
    guardrails: Guardrails
    plans: dict[str, Plan]
    attribution: attr_mod.Attribution
    final: RiskParams
    proposal: dict[str, Any]
    status: str
    cap_plans: dict[str, CapPlan] = dataclasses.field(default_factory=dict)
    cap_guardrails: CapGuardrails = CapGuardrails()

    @property
    def exit_code(self) -> int:
        return 2 if self.status == "target_not_met" else 0

    @property
    def changed(self) -> list[str]:
        return [a for a, p in self.plans.items() if p.steps]

    def breaches(self) -> dict[str, list[str]]:
        """Every guardrail breach of every plan (empty lists when all is well)."""
        return {a: check_plan(p, self.guardrails) for a, p in self.plans.items()}

    def cap_breaches(self) -> dict[str, list[str]]:
        """Every cap-guardrail breach of every cap plan (empty lists when all is well)."""
        return {a: check_cap_plan(p, self.cap_guardrails) for a, p in self.cap_plans.items()}


def guardrails_from_config(cfg: RunConfig) -> Guardrails:
    """The :class:`Guardrails` of the config's ``[guardrails]`` section."""
    s = cfg.guardrails
    try:
        return Guardrails(max_step=s.max_step, min_days_between=s.min_days_between, grid=s.grid,
                          large_change=s.large_change, max_schedule_steps=s.max_schedule_steps,
                          keep_zero_ltv=s.keep_zero_ltv, allow_delist=s.allow_delist)
    except ValueError as err:
        raise ConfigError(f"[guardrails]: {err}") from None


def cap_guardrails_from_config(cfg: RunConfig) -> CapGuardrails:
    """The :class:`CapGuardrails` of ``[guardrails]`` (cap_max_change, min_days_between, max_schedule_steps)."""
    s = cfg.guardrails
    return CapGuardrails(max_relative_change=s.cap_max_change, min_days_between=s.min_days_between,
                         max_schedule_steps=s.max_schedule_steps)


def plan_caps(caps: Any, g: CapGuardrails, *, start: dt.date) -> dict[str, CapPlan]:
    """Per asset the cap schedule from the live caps to the run's recommendation (``pipeline.caps.CapsOutcome``);
    empty when the run has no caps or no live caps."""
    if caps is None or caps.current is None:
        return {}
    cur, rec = caps.current, caps.recommended

    def live(x: float) -> float | None:
        return None if not np.isfinite(x) else float(x)

    return {a: plan_cap_changes({"supply_cap": live(cur.supply_tokens[i]), "borrow_cap": live(cur.borrow_tokens[i])},
                                {"supply_cap": float(rec.supply_tokens[i]), "borrow_cap": float(rec.borrow_tokens[i])},
                                g, start=start)
            for i, a in enumerate(rec.assets)}


def apply_current_file(cfg: RunConfig, path: str | Path) -> tuple[RunConfig, dict[str, str]]:
    """The config with live parameters read from ``path``; also which source each asset's came from.

    Assets the file does not list keep the config's ``current`` table. Raises ``DataError``
    (missing/malformed file) or ``ConfigError`` (a value breaking LTV <= LT or LT x (1 + bonus) <= 1).
    """
    from optimizer.pipeline.current import apply_current, load_current, protocol_symbols

    symbols = protocol_symbols(cfg)
    found = load_current(path, symbols)
    for t, p in found.items():
        ltv, lt, b = (p[k] for k in PARAM_KEYS)
        if ltv > lt + 1e-12 or lt * (1 + b) > 1 + 1e-9 or min(ltv, lt, b) < 0 or lt >= 1:
            raise ConfigError(
                f"{path}: current parameters of {t} ({symbols[t]}) break LTV <= LT, LT x (1 + bonus) <= 1: "
                f"ltv={ltv}, liquidation_threshold={lt}, liquidation_bonus={b}"
            )
    source = {t: (Path(path).name if t in found else "config") for t in cfg.assets}
    return apply_current(cfg, found), source


def _clean(p: dict[str, float]) -> dict[str, float]:
    """The three parameters as floats without conversion dust (8.3 / 100 -> 0.083)."""
    return {k: round(float(p[k]), 10) for k in PARAM_KEYS}


def _parse_date(value: str | dt.date | None, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{what} = {value!r} is not a date (YYYY-MM-DD)") from None


def recalibrate(
    cfg: RunConfig,
    *,
    current_file: str | Path | None = None,
    previous_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    start_date: str | dt.date | None = None,
    command: str = "",
) -> RecalibrationOutcome:
    """Run the optimizer, plan guardrailed schedules and attribute each change to its drivers.

    Parameters
    ----------
    cfg : RunConfig
    current_file : path, optional
        Live parameters (Aave reference CSV, Compound CSV, JSON or TOML); assets it does not list
        keep the config's ``current``.
    previous_dir : path, optional
        Output directory of an earlier recalibration (or run): drivers are attributed against its
        recorded values instead of the current parameters' implied / through-the-cycle levels.
    data_dir : path, optional
    progress : Progress, optional
    start_date : str or date, optional
        Date of the first update (default: the day after the data's last date).
    command : str
        Command line, for the report.

    Returns
    -------
    RecalibrationOutcome

    Raises
    ------
    ConfigError
        An asset without live parameters, a bad date or previous directory.
    DataError
        A missing or malformed current-parameters file.
    """
    from optimizer.pipeline.run import resolve_as_of, run

    progress = progress or Silent()
    start = _parse_date(start_date, "--start-date")
    current_source = {t: "config" for t in cfg.assets}
    current_meta: dict[str, Any] = {"file": None, "sha256": None}
    if current_file is not None:
        cfg, current_source = apply_current_file(cfg, current_file)
        current_meta = {"file": Path(current_file).name,
                        "sha256": hashlib.sha256(Path(current_file).read_bytes()).hexdigest()}
    missing = [t for t, a in cfg.assets.items() if a.current is None]
    if missing:
        where = f" in {current_file} or" if current_file is not None else " with --current FILE or"
        raise ConfigError(
            f"no live parameters for {', '.join(missing)}: give them{where} as [assets.{missing[0]}] current = "
            "{ ltv, liquidation_threshold, liquidation_bonus }"
        )
    previous = attr_mod.read_previous(previous_dir) if previous_dir is not None else None
    g = guardrails_from_config(cfg)

    cfg = resolve_as_of(cfg, data_dir=data_dir)
    outcome = run(cfg, data_dir=data_dir, progress=progress, command=command)
    inputs = outcome.inputs
    cfg = inputs.config
    assets = cfg.asset_names
    as_of = dt.date.fromisoformat(outcome.report.meta["as_of"])
    start = start or (as_of + dt.timedelta(days=1))

    with progress.stage("planning guardrailed schedules"):
        plans: dict[str, Plan] = {}
        bands = {r.asset: r.band for r in outcome.report.assets}
        for a in assets:
            cur = _clean(inputs.current.asset_dict(a))
            rec = {k: float(v) for k, v in outcome.recommended.asset_dict(a).items() if k in PARAM_KEYS}
            # no change smaller than the recommendation's Monte Carlo band: the next seed could reverse it
            rec, held = hold_within_band(cur, rec, bands.get(a))
            plans[a] = plan_changes(cur, rec, g, start=start)
            if held:
                band = bands[a] or {}
                plans[a] = dataclasses.replace(plans[a], notes=plans[a].notes + tuple(
                    f"{k} change within its Monte Carlo band (± {band[k] * 1e4:.0f} bps): held" for k in held))
        changed = tuple(a for a in assets if plans[a].steps)
        cap_g = cap_guardrails_from_config(cfg)
        cap_plans = plan_caps(outcome.caps, cap_g, start=start)

    with progress.stage("attributing changes to their drivers"):
        market = outcome.market  # the run's program, solved at its sale
        now = attr_mod.current_state(inputs, market)
        ttc = None
        if _needs_ttc(previous, assets):
            ttc = attr_mod.through_the_cycle(cfg, data_dir, volatility=inputs.generator.volatility)
        baseline = attr_mod.make_baseline(cfg, inputs, market, now, previous=previous, ttc=ttc)
        # the drivers explain the program's answer: its re-solves are unrounded, so is what they explain
        program = outcome.unrounded if outcome.unrounded is not None else outcome.recommended
        attribution = attr_mod.attribute(cfg, inputs, market, baseline, explain=changed,
                                         lt_now=program.liquidation_threshold, now=now)

    with progress.stage("evaluating the parameters after the schedule"):
        final = RiskParams(
            assets=assets,
            ltv=np.array([plans[a].recommended["ltv"] for a in assets]),
            liquidation_threshold=np.array([plans[a].recommended["liquidation_threshold"] for a in assets]),
            liquidation_bonus=np.array([plans[a].recommended["liquidation_bonus"] for a in assets]),
            close_factor=inputs.current.close_factor, full_close_hf=inputs.current.full_close_hf,
        ).check()
        after = _after_schedule(cfg, inputs, market, final, recommended=outcome.recommended)

    if not after["target_met"]:
        status = "target_not_met"
    elif not changed and not any(p.changed for p in cap_plans.values()):
        status = "no_change"
    else:
        status = "proposal"
    context = ProposalContext(status=status, start=start, current_source=current_source,
                              current_meta=current_meta, previous=previous, previous_dir=previous_dir)
    proposal = build_proposal(cfg, outcome, plans, g, attribution, after, context, cap_plans=cap_plans,
                              cap_guardrails=cap_g)
    return RecalibrationOutcome(run=outcome, config=cfg, guardrails=g, plans=plans, attribution=attribution,
                                final=final, proposal=proposal, status=status, cap_plans=cap_plans,
                                cap_guardrails=cap_g)


def _needs_ttc(previous: attr_mod.PreviousDrivers | None, assets: tuple[str, ...]) -> bool:
    if previous is None or previous.correlation is None:
        return True
    return any(a not in previous.nu or a not in previous.sigma or a not in previous.adv_usd for a in assets)


def _losses(cfg: RunConfig, inputs: Any, market: Any, params: list[RiskParams],
            recommended: RiskParams) -> tuple[list[Any], str]:
    """Bad debt per scenario under each parameter set, measured as the run measures its fund.

    With ``[simulation] enabled`` the market simulation's paths (the run's own stream and its
    tail-stratified sample, drawn from the run's ``recommended``) are replayed under each set;
    otherwise the book is evaluated on the static scenarios.
    """
    from optimizer.optimize import BookEvaluation, evaluate_book
    from optimizer.report.run_view import evaluation_source

    if not cfg.simulation.enabled:
        static = [evaluate_book(inputs.book, inputs.scenarios.terminal, inputs.current, p, market.slippage)
                  for p in params]
        return static, evaluation_source(scenarios=inputs.scenarios.n_scenarios)
    from optimizer.pipeline import market_sim

    rng_paths = RunStreams.from_seed(cfg.run.seed).simulation  # the run's stream, fresh: the run's paths
    paths, w, _, _ = market_sim.simulation_sample(cfg, inputs, recommended, market.slippage, rng_paths)
    out = []
    for p in params:
        sim = market_sim.simulate(cfg, inputs, p, paths)
        out.append(BookEvaluation(total=np.asarray(sim.bad_debt, dtype=float),
                                  by_asset=np.asarray(sim.bad_debt_by_asset, dtype=float),
                                  n_liquidated=np.asarray(sim.n_liquidated), weights=w))
    return out, evaluation_source(paths=paths.shape[0])


def _after_schedule(cfg: RunConfig, inputs: Any, market: Any, final: RiskParams, *,
                    recommended: RiskParams) -> dict[str, Any]:
    """Risk metrics before (live) and after the schedule (final), the fund, and the target check."""
    from optimizer.optimize import RiskMetrics
    from optimizer.optimize import fund as fund_mod
    from optimizer.optimize.convex import threshold_losses
    from optimizer.optimize.measures import cvar
    from optimizer.pipeline.run_report import insurance_fund_at

    (ev_cur, ev_fin), source = _losses(cfg, inputs, market, [inputs.current, final], recommended)
    fund = fund_mod.size_fund(ev_fin.total, epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence,
                              weights=ev_fin.weights)
    # the fund by the standard, as a run sizes it: the tail, the worst stress loss, cover-2
    standard = insurance_fund_at(cfg, inputs, final, market.slippage, fund)
    fund_usd = standard.fund_usd
    measure = {"alpha": market.alpha, "fund_usd": fund_usd, "collateral_usd": market.collateral}
    metrics = RiskMetrics.of(ev_fin, params=final, **measure).as_dict()
    metrics_cur = RiskMetrics.of(ev_cur, params=inputs.current, **measure).as_dict()
    lt = np.asarray(final.liquidation_threshold, dtype=float)
    # the scenarios the program was solved on (a correlation-stressed mixture, when configured)
    k = market.k if market.k_stressed is None else market.k_stressed
    w = market.scenario_weights
    worst = float(cvar(threshold_losses(lt, k, market.exposure), market.alpha, w))
    worst_cur = float(cvar(threshold_losses(np.asarray(inputs.current.liquidation_threshold, dtype=float),
                                            k, market.exposure), market.alpha, w))
    caps = market.caps
    guard_fails = [a for i, a in enumerate(final.assets) if lt[i] > caps[i] + 1e-9]
    met = worst <= market.budget * (1 + 1e-9) and not guard_fails
    metrics["lp_worst_case_cvar_usd"] = worst
    metrics_cur["lp_worst_case_cvar_usd"] = worst_cur
    return {"metrics": metrics, "metrics_current": metrics_cur, "fund_usd": float(fund_usd),
            "fund_binding_term": standard.binding, "fund_tail_usd": float(fund.tail_fund_usd),
            "fund_binding_source": standard.term(standard.binding).source,
            "evaluation": source, "worst_case_cvar_usd": worst,
            "worst_case_cvar_usd_current": worst_cur, "budget_usd": float(market.budget),
            "alpha": float(market.alpha), "asset_guard_share": float(market.asset_share),
            "guard_fails": guard_fails, "target_met": bool(met),
            "asset_caps": {a: float(caps[i]) for i, a in enumerate(final.assets)}}


# ---------------------------------------------------------------------------------------------
# The proposal document (plain JSON types)
# ---------------------------------------------------------------------------------------------
def _bps(x: float) -> float:
    return round(float(x) * 1e4, 2)


@dataclass(frozen=True, eq=False)
class ProposalContext:
    """The proposal's outcome, its first update date and where its inputs came from.

    ``status`` is ``"no_change"``, ``"proposal"`` or ``"target_not_met"``; ``current_source`` maps
    each asset to the file (or ``"config"``) its live parameters came from; ``current_meta`` is
    ``{"file", "sha256"}`` of ``--current``; ``previous`` the drivers read from ``previous_dir``
    (``--previous``), or None.
    """

    status: str
    start: dt.date
    current_source: dict[str, str]
    current_meta: dict[str, Any]
    previous: attr_mod.PreviousDrivers | None = None
    previous_dir: str | Path | None = None


def build_proposal(
    cfg: RunConfig,
    outcome: Any,
    plans: dict[str, Plan],
    g: Guardrails,
    attribution: attr_mod.Attribution,
    after: dict[str, Any],
    context: ProposalContext,
    *,
    cap_plans: dict[str, CapPlan] | None = None,
    cap_guardrails: CapGuardrails | None = None,
) -> dict[str, Any]:
    """The content of proposal.json (canonical plain JSON: it round-trips through ``json``)."""
    from optimizer.report import proposal as proposal_view
    from optimizer.report._format import canonicalize
    from optimizer.report.run_view import report_title

    status, start = context.status, context.start
    current_source, current_meta = context.current_source, context.current_meta
    previous, previous_dir = context.previous, context.previous_dir

    report = outcome.report
    binding = {a.asset: a.binding for a in report.assets}
    assets: dict[str, Any] = {}
    for a, plan in plans.items():
        i = attribution.assets.index(a)
        drivers = attribution.asset_drivers(a)
        top = attribution.top_drivers(a) if plan.steps else []
        effects = [d["effect_bps"] for d in drivers.values() if d["effect_bps"] is not None]
        change = _bps(plan.recommended["liquidation_threshold"] - plan.current["liquidation_threshold"])
        explained = round(float(sum(effects)), 2) if plan.steps else None
        unexplained = round(change - explained, 2) if explained is not None else None
        assets[a] = {
            "current": dict(plan.current),
            "recommended": dict(plan.recommended),
            "schedule": [s.to_dict() for s in plan.steps],
            "needs_vote": bool(plan.needs_vote),
            "notes": list(plan.notes),
            "changed": bool(plan.steps),
            "change_bps": {k: _bps(plan.recommended[k] - plan.current[k]) for k in PARAM_KEYS},
            "optimizer": {"liquidation_threshold": float(attribution.lt_now[i]),
                          "ltv": float(outcome.recommended.ltv[i]),
                          "binding": binding.get(a, "")},
            "drivers": drivers,
            "top_drivers": top,
            "explained_bps": explained,
            "unexplained_bps": unexplained,
            "rationale": proposal_view.rationale(a, plan, drivers, top, binding.get(a, ""), unexplained),
            "current_source": current_source.get(a, "config"),
        }
    changed = [a for a, p in plans.items() if p.steps]
    n_vote = sum(1 for a in changed if plans[a].needs_vote)
    last = max((p.steps[-1].date for p in plans.values() if p.steps), default=None)
    msg = proposal_view.status_message(
        status, alpha=after["alpha"], worst_case_cvar_usd=after["worst_case_cvar_usd"],
        budget_usd=after["budget_usd"], guard_fails=after["guard_fails"], run_message=report.status_message,
        n_changed=len(changed), n_assets=len(plans), n_vote=n_vote, last_date=last,
    )
    meta = dict(report.meta)
    meta.update({
        "proposal_format_version": PROPOSAL_FORMAT_VERSION,
        "current_parameters": current_meta,
        "previous_run": None if previous is None else {"directory": Path(previous_dir).name,
                                                        "as_of": previous.as_of},
    })
    method = dict(report.method)
    method.update({
        "attribution": proposal_view.ATTRIBUTION_METHOD,
        "attribution_solves": attribution.n_solves,
        "baseline": proposal_view.BASELINE_SOURCES[previous is not None],
    })
    target = {k: after[k] for k in ("alpha", "budget_usd", "worst_case_cvar_usd", "worst_case_cvar_usd_current",
                                    "asset_guard_share", "guard_fails", "target_met")}
    doc = {
        "format_version": PROPOSAL_FORMAT_VERSION,
        "title": report_title(cfg.run.title, cfg.name),
        "config_name": cfg.name,
        "status": status,
        "status_message": msg,
        "start_date": start.isoformat(),
        "end_date": last,
        "guardrails": g.to_dict(),
        "assets": assets,
        "asset_order": list(plans),
        "driver_order": list(attr_mod.DRIVERS),
        "risk_metrics": {"current": after["metrics_current"], "recommended": after["metrics"],
                         "evaluation": after["evaluation"]},
        "run_status": report.status,
        "target": target,
        "insurance_fund_usd": after["fund_usd"],
        "insurance_fund_binding_term": after["fund_binding_term"],
        "insurance_fund_binding_source": after["fund_binding_source"],
        "insurance_fund_tail_usd": after["fund_tail_usd"],
        "method": method,
        "assumptions": list(report.assumptions),
        "meta": meta,
    }
    if cap_plans:
        doc["caps"] = proposal_view.caps_document(cap_plans, cap_guardrails or CapGuardrails(),
                                                  (report.sections.get("caps") or None) and report.sections["caps"].data)
    return canonicalize(doc)


def write_recalibration(outcome: RecalibrationOutcome, out_dir: str | Path, *, data_dir: str | None,
                        overwrite: bool = False) -> Path:
    """Write proposal.md, proposal.html, proposal.json, drivers.json and the run's report, atomically."""
    from optimizer.pipeline.output import run_record
    from optimizer.report import write_report
    from optimizer.report.proposal import proposal_json, render_proposal_html, render_proposal_md

    report = outcome.run.report
    cfg = outcome.config
    files: dict[str, Any] = {
        "proposal.md": lambda: render_proposal_md(outcome.proposal),
        "proposal.html": lambda: render_proposal_html(outcome.proposal),
        "proposal.json": lambda: proposal_json(outcome.proposal),
        "drivers.json": outcome.attribution.now.to_json,
        "config.toml": cfg.to_toml(),
        "run.json": run_record(cfg, report.meta, data_dir=data_dir, kind="recalibrate"),
    }
    return write_report(report, Path(out_dir), overwrite=overwrite, extra_files=files)


def summary_lines(outcome: RecalibrationOutcome) -> list[str]:
    """A few lines for the terminal: status and one line per changed asset."""
    from optimizer.report.proposal import summary_lines as lines

    return lines(outcome.proposal)


__all__ = [
    "PROPOSAL_FORMAT_VERSION",
    "ProposalContext",
    "RecalibrationOutcome",
    "apply_current_file",
    "build_proposal",
    "cap_guardrails_from_config",
    "plan_caps",
    "guardrails_from_config",
    "recalibrate",
    "summary_lines",
    "write_recalibration",
]
