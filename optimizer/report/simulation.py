"""The run report's market-simulation and frontier sections, from the stages' typed results.

The simulation stage (:func:`optimizer.pipeline.market_sim.run_simulation`) and the frontier
search (:func:`optimizer.pipeline.market_sim.run_search`) hand over their result objects; this
module writes what the report says about them. It reads them through the :class:`SimulationResult`
and :class:`SearchResult` protocols, so the report layer does not import the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from optimizer.report._format import fmt_pct, fmt_usd
from optimizer.report.section import Column, Figure, Format, Section, Table, text_table

__all__ = ["SearchResult", "SimulationResult", "frontier_data", "frontier_section", "simulation_section"]


class SimulationResult(Protocol):
    """What the report reads of the simulation stage (``market_sim.SimulationStage``)."""

    @property
    def n_paths(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def bad_debt(self) -> np.ndarray: ...
    @property
    def bad_debt_nocascade(self) -> np.ndarray: ...
    @property
    def metrics(self) -> Mapping[str, Any]: ...
    @property
    def info(self) -> Mapping[str, Any]: ...


class SearchResult(Protocol):
    """What the report reads of the frontier search (``market_sim.SearchStage``)."""

    @property
    def frontier(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def explanation(self) -> str: ...
    @property
    def enqueued(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def n_trials(self) -> int: ...
    @property
    def n_trials_run(self) -> int: ...
    @property
    def study_name(self) -> str: ...
    @property
    def tail_metric(self) -> str: ...
    @property
    def budgets(self) -> Mapping[str, float]: ...
    @property
    def current_point(self) -> Mapping[str, float] | None: ...


def _usd(x: float) -> str:
    return fmt_usd(x, 0)


def simulation_section(stage: SimulationResult) -> Section:
    """What the dynamic simulation adds to the static answer: cascades, liquidations, price impact."""
    from optimizer.report import plots

    m, info = stage.metrics, stage.info
    contrib = m["sim_tail_contribution_by_asset"]
    rows = [
        ["Bad-debt CVaR, cascades on", _usd(m["sim_bad_debt_cvar_usd"])],
        ["Bad-debt CVaR, cascades off", _usd(m["sim_bad_debt_cvar_nocascade_usd"])],
        ["Cascade share of bad debt", fmt_pct(m["cascade_share_of_bad_debt"], 1)],
        ["P(bad debt > 0)", fmt_pct(m["sim_prob_bad_debt"], 3)],
        ["Liquidations at risk (VaR of liquidated collateral)", _usd(m["liquidations_at_risk_usd"])],
        ["Worst price impact, 99th percentile", fmt_pct(m["worst_price_impact_q99"], 2)],
    ] + [[f"Tail share of bad debt: {a.upper()}", fmt_pct(v, 1)] for a, v in contrib.items() if v > 0]
    bad_debt, off = stage.bad_debt, stage.bad_debt_nocascade
    return Section(
        title="Market simulation: cascade decomposition",
        paragraphs=(
            f"{stage.n_paths:,} of the scenarios are replayed in {stage.steps} steps "
            f"({info['steps_per_day']} a day, Brownian bridge between daily closes): liquidations "
            f"after {info['delay_steps']} step(s) of delay, oracle lag {info['oracle_lag_steps']} "
            f"step(s), close factor 50 % (100 % below HF 0.95), a liquidator acts only above "
            f"{_usd(info['gas_usd'])} of profit, and liquidation sales move prices by the square-root law "
            "(cascades). The insurance fund and the headline bad-debt metrics come from this simulation.",
            f"Cascades cause {fmt_pct(m['cascade_share_of_bad_debt'], 1)} of the simulated bad debt "
            f"(CVaR with cascades {_usd(m['sim_bad_debt_cvar_usd'])}, "
            f"without {_usd(m['sim_bad_debt_cvar_nocascade_usd'])}).",
        ),
        # one row per measure, each in its own unit: the cells are formatted row by row
        tables=(text_table("tbl-market-simulation", ["Measure", "Value"], rows, [False, False]),),
        figures=(Figure("fig-cascades", "Simulated bad debt, cascades on vs off",
                        draw=lambda: plots.png_of(lambda: plots.plot_cascades(bad_debt, off))),),
        appendix=True,  # the cascade decomposition: the main part's metrics are this simulation's
    )


def frontier_data(stage: SearchResult) -> list[dict[str, Any]]:
    """params.json ``frontier``: one point per non-dominated trial."""
    return [{
        "trial": p.get("trial"),
        "capital_efficiency_usd": p.get("capital_efficiency_usd"),
        "bad_debt_cvar_usd": p.get("bad_debt_cvar_usd"),
        "prob_bad_debt_exceeds_fund": p.get("prob_bad_debt_exceeds_fund"),
        "appetite": p.get("appetite"),
        "enqueued": bool(p.get("enqueued")),
        "assets": p.get("assets"),
    } for p in stage.frontier]


def frontier_section(stage: SearchResult) -> Section:
    """The capital-efficiency / bad-debt frontier with the appetites marked (params.json: ``frontier``)."""
    from optimizer.report import plots

    key = stage.tail_metric
    fr = list(stage.frontier)
    convex = stage.enqueued[0] if stage.enqueued else None
    enq = convex or {}
    where = ("on the frontier" if enq.get("on_frontier") else
             f"dominated by trial(s) {enq.get('dominated_by')}" if enq.get("dominated_by") else "evaluated")
    table = Table(
        columns=(Column("Trial", Format.NUM), Column("Capital efficiency", Format.USD, decimals=0),
                 Column("Bad-debt CVaR", Format.USD, decimals=0),
                 Column("P(bad debt > fund)", Format.PCT, decimals=3), Column("Appetite"),
                 Column("Convex start")),
        rows=tuple((p.get("trial"), p["capital_efficiency_usd"], p.get("bad_debt_cvar_usd"),
                    p.get("prob_bad_debt_exceeds_fund"), p.get("appetite") or "",
                    "yes" if p.get("enqueued") else "") for p in fr),
        id="tbl-frontier-view",
    )
    budgets, current = dict(stage.budgets), stage.current_point
    return Section(
        title="Capital-efficiency / bad-debt frontier",
        paragraphs=(
            f"{stage.n_trials} trials of an optuna multi-objective search ({stage.n_trials_run} run now; "
            f"study '{stage.study_name}') over each asset's liquidation threshold and bonus, evaluated by the "
            "dynamic simulation with every borrower at the threshold. The convex-core answer was trial 0 and is "
            f"{where}. Appetite budgets (USD of {key.replace('_', ' ')}): "
            + ", ".join(f"{k} {_usd(v)}" for k, v in budgets.items()) + ".",
            stage.explanation,
        ),
        tables=(table,),
        figures=(Figure("fig-frontier", "Pareto frontier with the risk appetites and current parameters",
                        draw=lambda: plots.png_of(lambda: plots.plot_frontier(
                            fr, key, budgets=budgets, convex_point=convex, current_point=current))),),
        data=frontier_data(stage),
        data_key="frontier",
    )
