"""The dynamic market simulation and the frontier search, as stages of a run.

The static convex core sees one shock over the horizon. This stage replays a subset of the same
scenarios step by step through :func:`optimizer.protocol.simulation.simulate_market` (intraday
Brownian-bridge paths, oracle lag, liquidation delay, close factor, gas, square-root market impact
and cascades), measures what the static model leaves out, sizes the insurance fund from the
simulated distribution and, when ``[search] enabled``, runs the optuna multi-objective search of
capital efficiency against the tail of bad debt with the convex-core answer enqueued.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.pipeline.config import APPETITE_PRESETS, RunConfig
from optimizer.protocol.params import RiskParams


@dataclass(frozen=True, eq=False)
class SimulationStage:
    """Simulated outcomes under the recommended (and current) parameters.

    ``bad_debt`` arrays have shape (n_paths,); ``metrics`` are JSON-able.
    """

    n_paths: int
    steps: int
    bad_debt: np.ndarray
    bad_debt_nocascade: np.ndarray
    bad_debt_current: np.ndarray | None
    by_asset: np.ndarray
    liquidated_usd: np.ndarray
    worst_impact: np.ndarray
    n_liquidated: np.ndarray
    n_liquidated_current: np.ndarray | None
    metrics: dict[str, Any]
    fund: Any  # optimize.fund.FundSizing of the simulated distribution
    info: dict[str, Any]
    #: Path probabilities (a tail-stratified subsample of the scenarios), shape (n_paths,); None: equal.
    weights: np.ndarray | None = None
    #: The scenario each path refines, shape (n_paths,).
    rows: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class SearchStage:
    """The frontier search's outcome (see :class:`optimizer.optimize.search.FrontierSearch`)."""

    frontier: list[dict[str, Any]]
    chosen: dict[str, Any] | None
    explanation: str
    enqueued: list[dict[str, Any]]
    n_trials: int
    n_trials_run: int
    storage: str | None
    study_name: str
    study_file: bytes | None
    tail_metric: str
    budgets: dict[str, float]
    current_point: dict[str, float] | None = None
    #: Complete trials in the study when this process stopped (other workers' included).
    n_trials_complete: int | None = None


def simulation_paths(cfg: RunConfig, inputs: Any, n: int, rng: np.random.Generator,
                     rows: np.ndarray | None = None) -> np.ndarray:
    """Intraday paths for the scenarios ``rows`` (default: the first ``n``; scenarios are i.i.d.,
    so a prefix is a sample)."""
    from optimizer.protocol.paths import refine_paths

    scen = inputs.scenarios
    sigma = inputs.generator.scaled_volatility()
    rel = scen.relatives[: min(n, scen.n_scenarios)] if rows is None else scen.relatives[rows]
    return refine_paths(rel, cfg.simulation.steps_per_day, sigma, rng)


def simulation_sample(
    cfg: RunConfig, inputs: Any, recommended: RiskParams, slippage: np.ndarray, rng: np.random.Generator,
    *, score: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, int]:
    """The simulated paths: a tail-stratified subsample of ``[simulation] n_scenarios`` scenarios.

    The score is the static bad debt of the book under ``recommended`` (``score``, when the caller
    has it; else computed here), which ranks the simulated tail well (the run reports where the
    simulated 1-in-1,000 tail lies in it): half the paths are the highest-scoring scenarios, the
    rest a uniform draw of the others, weighted (:func:`optimizer.scenarios.tail_stratified_rows`);
    unbiased for any parameters, so the current parameters are measured on the same paths.
    ``rng`` (the run's ``simulation`` stream) draws the rows, then the bridges.

    Returns ``(paths, weights, rows, n_tail)``; weights None when every scenario is simulated.
    """
    from optimizer.optimize import evaluate_book
    from optimizer.scenarios import tail_stratified_rows

    scen = inputs.scenarios
    if score is None:
        score = evaluate_book(inputs.book, scen.terminal, inputs.current, recommended, slippage).total
    rows, weights, n_tail = tail_stratified_rows(score, int(cfg.simulation.n_scenarios), rng=rng)
    paths = simulation_paths(cfg, inputs, rows.size, rng, rows=rows)
    return paths, weights, rows, n_tail


def simulate(
    cfg: RunConfig,
    inputs: Any,
    params: RiskParams,
    paths: np.ndarray,
    *,
    cascades: bool | None = None,
    worst_case: bool = False,
    liquidity_multiplier: float | None = None,
    delay_steps: int | None = None,
    steps_per_day: int | None = None,
    book: Any = None,
) -> Any:
    """One simulation of the book under ``params``.

    ``worst_case`` puts every borrower at HF = 1 under ``params`` (the convex core's book);
    otherwise borrowers keep their health factor (debt re-levered from the current parameters).
    """
    from optimizer.protocol.mechanics import debt_at_threshold_factor, relever_factor
    from optimizer.protocol.simulation import simulate_market

    book = inputs.book if book is None else book
    scale = debt_at_threshold_factor(book, params) if worst_case else relever_factor(book, inputs.current, params)
    sim = cfg.simulation
    depth = None
    if sim.impact == "depth":
        depth = np.array([
            c.depth_usd_2pct if c.depth_usd_2pct is not None else inputs.adv_usd[i] * 0.01
            for i, c in enumerate(cfg.assets.values())
        ])
    law = None
    if sim.impact == "curve":
        from optimizer.pipeline.liquidity import slippage_law

        law = slippage_law(cfg, inputs.liquidity)
        if liquidity_multiplier is not None:
            law = dataclasses.replace(law, liquidity_multiplier=liquidity_multiplier)
    return simulate_market(
        book, paths, params,
        slippage_law=law,
        adv_usd=inputs.adv_usd,
        sigma_daily=inputs.generator.scaled_volatility(),
        reachable_share=cfg.liquidity.reachable_volume_share,
        liquidity_multiplier=cfg.liquidity.liquidity_multiplier if liquidity_multiplier is None else liquidity_multiplier,
        impact_coef=cfg.liquidity.impact_coef,
        impact=sim.impact,
        depth_usd=depth,
        oracle_lag_steps=sim.oracle_lag_steps,
        delay_steps=sim.delay_steps if delay_steps is None else delay_steps,
        gas_usd=sim.gas_usd,
        cascades=sim.cascades if cascades is None else cascades,
        debt_scale=scale,
        steps_per_day=sim.steps_per_day if steps_per_day is None else steps_per_day,
    )


def run_simulation(
    cfg: RunConfig, inputs: Any, recommended: RiskParams, *, alpha: float, rng: np.random.Generator,
    progress: Any, slippage: np.ndarray, score: np.ndarray | None = None,
) -> SimulationStage:
    """Simulate the real book under the recommended and current parameters, cascades on and off.

    ``rng`` is the run's ``simulation`` stream (:class:`~optimizer._random.RunStreams`); the paths
    are :func:`simulation_sample`'s (``score``: the static bad debt under ``recommended``).
    """
    from optimizer.optimize import simulation_metrics, size_fund

    with progress.stage(f"simulating liquidations on {min(cfg.simulation.n_scenarios, inputs.scenarios.n_scenarios):,} paths"):
        paths, w, rows, n_tail = simulation_sample(cfg, inputs, recommended, slippage, rng, score=score)
        rec = simulate(cfg, inputs, recommended, paths, cascades=True)
        off = simulate(cfg, inputs, recommended, paths, cascades=False)
        cur = simulate(cfg, inputs, inputs.current, paths, cascades=True) if any(inputs.has_current) else None
    bd, bd_off = np.asarray(rec.bad_debt, float), np.asarray(off.bad_debt, float)
    fund = size_fund(bd, epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence, weights=w)
    by_asset = np.asarray(rec.bad_debt_by_asset, float)
    metrics = simulation_metrics(bd, bd_off, by_asset, rec.liquidated_usd, rec.worst_impact, alpha=alpha,
                                 assets=cfg.asset_names, bad_debt_current=None if cur is None else cur.bad_debt,
                                 weights=w)
    info = {"steps_per_day": cfg.simulation.steps_per_day, "oracle_lag_steps": cfg.simulation.oracle_lag_steps,
            "delay_steps": cfg.simulation.delay_steps, "gas_usd": cfg.simulation.gas_usd,
            "impact": cfg.simulation.impact, "n_scenarios": int(inputs.scenarios.n_scenarios),
            "n_tail_stratum": int(n_tail)}
    return SimulationStage(
        n_paths=int(paths.shape[0]), steps=int(paths.shape[1]), bad_debt=bd, bad_debt_nocascade=bd_off,
        bad_debt_current=None if cur is None else np.asarray(cur.bad_debt, float), by_asset=by_asset,
        liquidated_usd=np.asarray(rec.liquidated_usd, float), worst_impact=np.asarray(rec.worst_impact, float),
        n_liquidated=np.asarray(rec.n_liquidated),
        n_liquidated_current=None if cur is None else np.asarray(cur.n_liquidated),
        metrics=metrics, fund=fund, info=info, weights=w, rows=rows,
    )


def default_study_name(cfg: RunConfig) -> str:
    """``<config name>-<hash of everything but [search]>``: a larger n_trials resumes the same study."""
    return f"{cfg.name}-{cfg.digest(exclude=('search',))[:12]}"


def appetite_budgets(cfg: RunConfig, total_debt: float) -> dict[str, float]:
    """Tail budget of each appetite in USD: its share of the book's debt."""
    return {a.value: share * total_debt for a, (_, share) in APPETITE_PRESETS.items()}


def run_search(
    cfg: RunConfig,
    inputs: Any,
    market: Any,
    recommended: RiskParams,
    *,
    rng: np.random.Generator,
    progress: Any,
    storage: str | None = None,
    study_name: str | None = None,
    worker: int = 0,
) -> SearchStage:
    """Multi-objective search over LT, bonus (and close factor) on the worst-case simulated book.

    The search evaluates the dynamic simulation with every borrower at the threshold, the book the
    convex core optimises, so its tail measure is comparable with the risk budget and the convex
    answer (enqueued as trial 0) sits on or behind the frontier. Storage: ``[search] storage``
    (any SQLAlchemy URL, shared by several workers), else a SQLite file written into the run's
    directory (``study.db``). ``rng`` is the run's ``search`` stream
    (:class:`~optimizer._random.RunStreams`): the path refinement, the account sample and the
    sampler's seed are drawn from it in that order. ``worker`` > 0 (one of several processes
    sharing the study, see :mod:`optimizer.pipeline.search_worker`) seeds its sampler from the
    run's seed and its number, so two workers do not propose the same points; worker 0 is the run.
    """
    from optimizer.optimize.measures import capital_efficiency, cvar
    from optimizer.optimize.search import FrontierSearch, SearchSpace, choose, mark_appetites

    s = cfg.search
    lt = recommended.liquidation_threshold
    # a reserve whose LTV a policy holds keeps it in every trial (it buys no borrowing power), and
    # its LT stays within the held-LTV policy's cap, as in the recommendation
    held = market.ltv_held
    lt_high = np.minimum(np.minimum(market.lt_max, lt + s.lt_span), market.held_lt_cap)
    lt_high = np.maximum(lt_high, lt)
    idx, rest = market.tail_scenarios(lt_high, s.n_scenarios)
    n_all = inputs.scenarios.n_scenarios
    sub = np.asarray(inputs.scenarios.relatives)[idx]
    sigma = inputs.generator.scaled_volatility()
    from optimizer.protocol.paths import refine_paths

    paths = refine_paths(sub, s.steps_per_day, sigma, np.random.default_rng(rng.integers(2**63)))
    # every tail scenario of every trial is in the subset; the rest carry no bad debt in the
    # worst-case static model and are one zero-loss atom of their total probability
    weights = np.concatenate([np.full(len(idx), 1.0 / n_all), [rest]])
    alpha = market.alpha
    fund_ref = market.budget
    collateral = market.collateral

    search_book = inputs.book.sample(s.n_accounts, np.random.default_rng(rng.integers(2**63)))

    def evaluate(params: RiskParams) -> dict[str, float]:
        res = simulate(cfg, inputs, params, paths, worst_case=True, steps_per_day=s.steps_per_day,
                       book=search_book)
        bd = np.append(np.asarray(res.bad_debt, float), 0.0)
        return {
            "capital_efficiency_usd": capital_efficiency(collateral, params.ltv),
            "bad_debt_cvar_usd": float(cvar(bd, alpha, weights)),
            "prob_bad_debt_exceeds_fund": float(np.dot(weights, bd > fund_ref)),
            "prob_bad_debt": float(np.dot(weights, bd > 0)),
        }

    bonus = recommended.liquidation_bonus
    space = SearchSpace(
        assets=cfg.asset_names,
        lt_low=np.maximum(market.lt_min, lt - s.lt_span),
        lt_high=lt_high,
        bonus_low=np.full(len(lt), s.bonus_low) if s.search_bonus else bonus,
        bonus_high=np.full(len(lt), s.bonus_high) if s.search_bonus else bonus,
        ltv_buffer=market.buffer,
        close_factor=(0.5, 1.0) if s.search_close_factor else None,
        grid=cfg.guardrails.grid,
        slippage_margin=cfg.optimizer.slippage_margin,
        ltv_fixed=np.where(held, recommended.ltv, np.nan) if held.any() else None,
    )
    tmpdir = None
    url = storage or s.storage
    if url is None:
        tmpdir = Path(tempfile.mkdtemp(prefix="riskopt-study-"))
        url = f"sqlite:///{tmpdir / 'study.db'}"
    study_name = study_name or s.study_name or default_study_name(cfg)
    try:
        seed = int(rng.integers(2**32))
        if worker:
            seed = int(np.random.SeedSequence([seed, worker]).generate_state(1)[0])
        with progress.stage(f"searching the frontier ({s.n_trials} trials on {len(idx):,} tail paths)"):
            search = FrontierSearch(
                n_trials=s.n_trials, tail_metric=s.tail_metric, sampler=s.sampler, storage=url,
                study_name=study_name, seed=seed, timeout=s.timeout_seconds,
                n_jobs=s.n_jobs,
            ).fit(evaluate, space, enqueue=[recommended])  # the space snaps it to the grid
        current_point = evaluate(inputs.current) if any(inputs.has_current) else None
        budgets = appetite_budgets(cfg, inputs.book.total_debt)
        frontier = mark_appetites(search.frontier_, budgets, tail_key=s.tail_metric)
        chosen, why = choose(frontier, cfg.optimizer.appetite.value, budgets=budgets, tail_key=s.tail_metric)
        study_file = (tmpdir / "study.db").read_bytes() if tmpdir is not None else None
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return SearchStage(
        frontier=frontier, chosen=chosen, explanation=why, enqueued=list(search.enqueued_points_),
        n_trials=s.n_trials, n_trials_run=int(search.n_trials_run_),
        storage=None if tmpdir is not None else url, study_name=study_name, study_file=study_file,
        tail_metric=s.tail_metric, budgets=budgets, current_point=current_point,
        n_trials_complete=len(search.trials_),
    )
