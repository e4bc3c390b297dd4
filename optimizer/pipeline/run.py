"""`riskopt run`: prices -> estimators -> scenarios -> book -> convex optimizer -> fund -> report."""

from __future__ import annotations

import dataclasses
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer._random import RunStreams
from optimizer.exceptions import ConfigError, DataError
from optimizer.pipeline.config import RunConfig
from optimizer.pipeline.history import load_asset_prices, needs_history, prepare_validation  # noqa: F401
from optimizer.pipeline.progress import Progress, Silent
from optimizer.pipeline.run_report import (  # noqa: F401 (re-exported)
    DEFAULT_LT,
    assemble_report,
    insurance_fund_size,
    library_versions,
)
from optimizer.optimize import Binding, RunStatus
from optimizer.protocol.book import Book
from optimizer.protocol.liquidity import StaticSlippage
from optimizer.protocol.params import DEFAULT_BONUS, RiskParams, resolve_bonus  # noqa: F401 (re-exported)
from optimizer.report.model import RunReport
from optimizer.typing import VolatilityName


@dataclass(frozen=True, eq=False)
class RunInputs:
    """What the run consumed: data, fitted models, scenarios and the book."""

    config: RunConfig
    prices: Any  # optimizer.data.PriceData
    returns: pd.DataFrame
    generator: Any  # fitted ScenarioGenerator
    scenarios: Any  # ScenarioSet
    book: Book
    current: RiskParams
    has_current: tuple[bool, ...]
    adv_usd: np.ndarray
    adv_source: tuple[str, ...]
    seed: int
    #: optimizer.pipeline.history.RunValidation: long history, VaR backtests, anti-procyclicality stream.
    validation: Any = None


@dataclass(frozen=True, eq=False)
class RunOutcome:
    """Result of :func:`run`: the report and the numbers behind it."""

    report: RunReport
    inputs: RunInputs
    recommended: RiskParams
    optimizer: Any  # fitted ThresholdOptimizer
    bad_debt: np.ndarray
    bad_debt_current: np.ndarray
    search: Any = None  # market_sim.SearchStage when [search] enabled
    market: Any = None  # MarketInputs: the slippage, volatility and bounds the recommendation was solved with

    @property
    def status(self) -> str:
        return self.report.status

    @property
    def exit_code(self) -> int:
        return 0 if self.status == RunStatus.OK else 2


def resolve_window(cfg: RunConfig, as_of: str | None) -> tuple[str | None, str | None]:
    """(start, as_of) of the estimation window; start is None when the window is unbounded."""
    as_of = as_of or cfg.run.as_of
    if cfg.run.window_days is None or as_of is None:
        return None, as_of
    start = (pd.Timestamp(as_of) - pd.Timedelta(days=cfg.run.window_days)).date().isoformat()
    return start, as_of


def resolve_as_of(cfg: RunConfig, *, data_dir: str | Path | None = None) -> RunConfig:
    """Pin ``[run] as_of`` to the last date of the data when the config leaves it open.

    The resolved date is part of the configuration hash, so a data file that later grows does not
    silently change what a recorded run means.
    """
    if cfg.run.as_of is not None:
        return cfg
    from optimizer.data import resolve_data_dir

    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the real load reports the data flags
        probe = load_asset_prices(cfg, ddir)
    last = probe.prices.dropna(how="all").index[-1].date().isoformat()
    return cfg.with_overrides("run", as_of=last)


def load_inputs(
    cfg: RunConfig,
    *,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    streams: RunStreams | None = None,
) -> RunInputs:
    """Load prices, fit the scenario model, simulate, and build the book.

    ``streams`` (default: those of ``[run] seed``) supplies the book, scenario and validation draws.
    """
    from optimizer.data import resolve_data_dir
    from optimizer.protocol.books import load_book_csv, synthetic_book

    progress = progress or Silent()
    seed = cfg.run.seed
    streams = streams if streams is not None else RunStreams.from_seed(seed)
    assets = cfg.asset_names
    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir)

    with progress.stage("loading prices"):
        # The window is anchored at as_of, which may be the data's last date: load once to learn it.
        cfg = resolve_as_of(cfg, data_dir=ddir)
        start, as_of = resolve_window(cfg, cfg.run.as_of)
        prices = load_asset_prices(cfg, ddir, start=start, as_of=as_of,
                                   min_history_days=cfg.data.min_history_days)
        # An asset's trading gap leaves only its own returns NaN (never filled); the volatility
        # models skip them (missing="skip") and fhs imputes those cells, counted in the report.
        returns = prices.returns(gaps="keep")
        n_finite = returns.notna().sum()
        if n_finite.min() < cfg.data.min_history_days:
            raise DataError(
                f"only {int(n_finite.min())} days of returns for {n_finite.idxmin()!r} in the "
                f"common window of {', '.join(assets)} up to {as_of} "
                f"(need {cfg.data.min_history_days}); "
                f"the asset with the shortest history is {_shortest_history(prices.prices)!r}; "
                "shorten the window or drop it"
            )

    with progress.stage("backtesting the volatility estimators") if needs_history(cfg) else nullcontext():
        validation = prepare_validation(cfg, ddir, as_of, rng=streams.validation)
    choice = validation.backtests.choice if validation.backtests is not None else None

    with progress.stage(f"fitting {cfg.estimators.volatility} volatility and {cfg.estimators.correlation} correlation"):
        gen = make_generator(cfg, cfg.estimators.volatility, choice=choice).fit(returns)

    with progress.stage(f"simulating {cfg.scenarios.n_scenarios:,} scenarios"):
        scen = gen.simulate(cfg.scenarios.horizon_days, cfg.scenarios.n_scenarios, rng=streams.scenarios)

    current, has_current = current_params(cfg)
    with progress.stage("building the book"):
        if cfg.book.kind == "csv":
            path = Path(cfg.book.path)
            if not path.is_absolute() and cfg.path:
                path = Path(cfg.path).parent / path
            # the report names the file as the config does, so params.json is the same on any machine
            book = dataclasses.replace(load_book_csv(path, assets), source=f"csv: {cfg.book.path}")
        else:
            book = synthetic_book(
                assets,
                supplied_usd=np.array([cfg.assets[a].supplied_usd for a in assets]),
                borrowed_usd=np.array([cfg.assets[a].borrowed_usd for a in assets]),
                n_accounts=cfg.book.n_accounts,
                current=current,
                rng=streams.book,
                size_tail=cfg.book.size_tail,
                hf_median=cfg.book.hf_median,
                hf_sigma=cfg.book.hf_sigma,
                hf_min=cfg.book.hf_min,
            )

    adv, adv_src = _average_daily_volume(cfg, prices)
    return RunInputs(
        config=cfg, prices=prices, returns=returns, generator=gen, scenarios=scen, book=book,
        current=current, has_current=has_current, adv_usd=adv, adv_source=adv_src, seed=seed,
        validation=validation,
    )


def make_generator(cfg: RunConfig, volatility: VolatilityName | str, *, corr_stress: float | None = None,
                   choice: dict[str, str] | None = None) -> Any:
    """An unfitted scenario generator built from the config's estimator choices.

    ``volatility = "auto"`` with ``choice`` (asset -> estimator, from the VaR backtests) gives each
    asset its own model; without a choice it means GARCH.
    """
    from optimizer.estimators import make_correlation, make_volatility
    from optimizer.scenarios import ScenarioGenerator

    auto = volatility == VolatilityName.AUTO
    if auto and choice is not None:
        from optimizer.estimators import per_asset_volatility

        vol = per_asset_volatility(choice, cfg.asset_names, lam=cfg.estimators.ewma_lambda)
    else:
        name = VolatilityName.GARCH if auto else volatility
        vol = make_volatility(name, lam=cfg.estimators.ewma_lambda, missing="skip")
    return ScenarioGenerator(
        volatility=vol,
        correlation=make_correlation(cfg.estimators.correlation),
        method=cfg.scenarios.method,
        dof=cfg.scenarios.dof,
        vol_multiplier=cfg.scenarios.vol_multiplier,
        corr_stress=cfg.scenarios.price_correlation_stress if corr_stress is None else corr_stress,
    )


def _shortest_history(prices: pd.DataFrame) -> str:
    return str(prices.notna().sum().idxmin())


def current_params(cfg: RunConfig) -> tuple[RiskParams, tuple[bool, ...]]:
    """Current parameters from the config; placeholders (flagged) where none are given."""
    ltv, lt, bonus, has = [], [], [], []
    for a, c in cfg.assets.items():
        if c.current is not None:
            ltv.append(c.current.ltv)
            lt.append(c.current.liquidation_threshold)
            bonus.append(c.current.liquidation_bonus)
            has.append(True)
        else:
            b = resolve_bonus(c.bonus)
            ltv.append(DEFAULT_LT - cfg.optimizer.ltv_buffer)
            lt.append(min(DEFAULT_LT, 1.0 / (1.0 + b)))
            bonus.append(b)
            has.append(False)
    return RiskParams(assets=cfg.asset_names, ltv=np.array(ltv), liquidation_threshold=np.array(lt),
                      liquidation_bonus=np.array(bonus)), tuple(has)


def _average_daily_volume(cfg: RunConfig, prices: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """USD volume per asset: config value, else the data's 30-day median at as_of, else the default."""
    from optimizer.data import average_daily_volume

    return average_daily_volume(prices, {a: c.adv_usd for a, c in cfg.assets.items()},
                                cfg.liquidity.default_adv_usd)


def configured_bonus(cfg: RunConfig, current: RiskParams) -> np.ndarray:
    """Liquidation bonus per asset under the bonus rule (config, else current, else default)."""
    return np.array([resolve_bonus(c.bonus, current.liquidation_bonus[i]) for i, c in enumerate(cfg.assets.values())])


def static_slippage(cfg: RunConfig) -> StaticSlippage:
    """The static model's slippage law with the config's ``[liquidity]`` settings."""
    liq = cfg.liquidity
    return StaticSlippage(liquidation_share=liq.liquidation_share, reachable_volume_share=liq.reachable_volume_share,
                          liquidity_multiplier=liq.liquidity_multiplier, impact_coef=liq.impact_coef,
                          max_slippage=liq.max_slippage)


def per_asset_bounds(cfg: RunConfig, current: RiskParams, has_current: tuple[bool, ...],
                     bonus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lt_min, lt_max, buffer) per asset; LT x (1 + bonus) <= 1 - slippage margin is built in."""
    o = cfg.optimizer
    lo, hi, buf = [], [], []
    for i, (a, c) in enumerate(cfg.assets.items()):
        if c.ltv_buffer is not None:
            b = c.ltv_buffer
        elif has_current[i] and current.ltv[i] > 0:
            b = float(np.clip(current.liquidation_threshold[i] - current.ltv[i], 0.01, 0.15))
        else:
            b = o.ltv_buffer
        top = min(c.lt_max if c.lt_max is not None else o.lt_max, (1.0 - o.slippage_margin) / (1.0 + bonus[i]))
        bottom = max(c.lt_min if c.lt_min is not None else o.lt_min, b + 0.01)
        if bottom > top:
            raise ConfigError(
                f"[assets.{a}]: the lower bound on LT ({bottom:.4f}, from lt_min and the LTV buffer {b:.4f}) "
                f"exceeds the upper bound ({top:.4f}, from lt_max and LT x (1 + bonus) <= 1)"
            )
        lo.append(bottom)
        hi.append(top)
        buf.append(b)
    return np.array(lo), np.array(hi), np.array(buf)


@dataclass(frozen=True, eq=False)
class MarketInputs:
    """Everything the threshold optimizer needs, derived from the run inputs.

    Arrays are per asset (n_assets,) unless noted; ``k`` is (n_scenarios, n_assets).
    """

    bonus: np.ndarray
    lt_min: np.ndarray
    lt_max: np.ndarray
    buffer: np.ndarray
    sigma: np.ndarray
    collateral: np.ndarray
    slippage: np.ndarray
    weights: np.ndarray
    basket: np.ndarray
    k: np.ndarray
    exposure: np.ndarray
    alpha: float
    k_stressed: np.ndarray | None
    scenario_weights: np.ndarray | None
    budget: float
    asset_share: float


@dataclass(frozen=True, eq=False)
class ThresholdSolution:
    """Recommended parameters from the convex core, and what bound them."""

    optimizer: Any
    recommended: RiskParams
    lt: np.ndarray
    caps: np.ndarray
    guard_fails: list[str]
    zero_kept: np.ndarray
    status: str


def prepare_market(
    cfg: RunConfig,
    inputs: RunInputs,
    *,
    terminal: np.ndarray | None = None,
    adv_usd: np.ndarray | None = None,
    book: Book | None = None,
    sigma: np.ndarray | None = None,
) -> MarketInputs:
    """Recovery ratios, exposures, slippage and bounds; keyword overrides let other workflows
    (driver attribution, sensitivity) re-solve with one input replaced."""
    from optimizer.protocol.kernels import isolated_recovery
    from optimizer.protocol.mechanics import debt_basket_relatives, debt_basket_weights, exposure_at_threshold
    from optimizer.scenarios import comonotone_stress

    current = inputs.current
    book = book if book is not None else inputs.book
    bonus = configured_bonus(cfg, current)
    lt_min, lt_max, buffer = per_asset_bounds(cfg, current, inputs.has_current, bonus)
    if sigma is None:
        sigma = np.asarray(inputs.generator.volatility_.forecast_, dtype=float) * cfg.scenarios.vol_multiplier
    collateral = book.collateral_by_asset
    slippage = static_slippage(cfg).slippage(collateral, inputs.adv_usd if adv_usd is None else adv_usd, sigma)
    terminal = inputs.scenarios.terminal if terminal is None else terminal
    weights = debt_basket_weights(book)
    basket = debt_basket_relatives(terminal, weights)
    k = isolated_recovery(terminal, basket, bonus, slippage)
    exposure = exposure_at_threshold(book)
    k_st, w_st = comonotone_stress(k, cfg.scenarios.comonotone_share)
    if w_st is None:
        k_st = None
    alpha, share = cfg.alpha_and_budget_share()
    budget = cfg.optimizer.risk_budget_usd if share is None else share * book.total_debt
    if budget is None or budget <= 0:
        raise ConfigError("[optimizer]: the risk budget is zero: set risk_budget_usd or give the book some debt")
    return MarketInputs(bonus=bonus, lt_min=lt_min, lt_max=lt_max, buffer=buffer, sigma=sigma,
                        collateral=collateral, slippage=slippage, weights=weights, basket=basket, k=k,
                        exposure=exposure, k_stressed=k_st, scenario_weights=w_st, alpha=alpha, budget=float(budget), asset_share=asset_budget_share(cfg))


def solve_thresholds(cfg: RunConfig, inputs: RunInputs, m: MarketInputs) -> ThresholdSolution:
    """Per-asset guards, then the aggregate CVaR LP; LTV = LT - buffer (or kept at 0)."""
    from optimizer.optimize import ThresholdOptimizer

    assets = cfg.asset_names
    current = inputs.current
    caps = asset_caps(m.k, m.alpha, m.asset_share)
    capped = np.minimum(m.lt_max, caps)
    guard_fails = [a for i, a in enumerate(assets) if capped[i] < m.lt_min[i]]
    lt_max_eff = np.maximum(capped, m.lt_min)
    opt = ThresholdOptimizer(
        alpha=m.alpha, budget=m.budget, solver=cfg.optimizer.solver,
        fallback_solver=cfg.optimizer.fallback_solver, method=cfg.optimizer.method,
    ).fit(m.k if m.k_stressed is None else m.k_stressed, m.exposure, m.collateral, m.lt_min, lt_max_eff,
          m.buffer, weights=m.scenario_weights)
    lt = np.asarray(opt.lt_, dtype=float)
    ltv = np.maximum(lt - m.buffer, 0.0)
    zero_kept = np.array([
        cfg.optimizer.keep_zero_ltv and inputs.has_current[i] and current.ltv[i] == 0.0 for i in range(len(assets))
    ])
    ltv = np.where(zero_kept, 0.0, ltv)
    recommended = RiskParams(assets=assets, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=m.bonus,
                             close_factor=current.close_factor, full_close_hf=current.full_close_hf).check()
    status = RunStatus.OK if opt.status_ == "optimal" and not guard_fails else RunStatus.INFEASIBLE
    return ThresholdSolution(optimizer=opt, recommended=recommended, lt=lt, caps=caps, guard_fails=guard_fails,
                             zero_kept=zero_kept, status=status)


def run(
    cfg: RunConfig,
    *,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    command: str = "",
) -> RunOutcome:
    """Execute one run end to end and assemble its :class:`RunReport` (nothing is written here)."""

    t_start = time.perf_counter()
    progress = progress or Silent()
    cfg = resolve_as_of(cfg, data_dir=data_dir)
    streams = RunStreams.from_seed(cfg.run.seed)
    inputs = load_inputs(cfg, data_dir=data_dir, progress=progress, streams=streams)
    assets = cfg.asset_names
    scen, book, current = inputs.scenarios, inputs.book, inputs.current

    market = prepare_market(cfg, inputs)
    with progress.stage("solving the CVaR program"):
        sol = solve_thresholds(cfg, inputs, market)
    apc = None
    if cfg.anti_procyclicality.method != "none":
        with progress.stage(f"anti-procyclicality ({cfg.anti_procyclicality.method})"):
            apc = _anti_procyclicality(cfg, inputs, sol)
        sol = dataclasses.replace(sol, recommended=apc.applied, lt=apc.applied.liquidation_threshold)
    opt, recommended, zero_kept = sol.optimizer, sol.recommended, sol.zero_kept
    lt, guard_fails, caps = sol.lt, sol.guard_fails, sol.caps
    bonus, slippage, weights, basket = market.bonus, market.slippage, market.weights, market.basket
    alpha, budget, asset_share, collateral = market.alpha, market.budget, market.asset_share, market.collateral
    lt_min, lt_max = market.lt_min, market.lt_max

    with progress.stage("evaluating bad debt on the book"):
        ev_rec = evaluate_book(book, scen, current, recommended, slippage)
        ev_cur = evaluate_book(book, scen, current, current, slippage)

    from optimizer.optimize import fund as fund_mod
    from optimizer.optimize.measures import tail_shares

    status = sol.status
    fund = fund_mod.size_fund(ev_rec["total"], epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence)
    cover2_usd = _cover2(book, scen, inputs.prices.prices, current, recommended, slippage, ev_rec["total"])
    fund_usd = insurance_fund_size(fund)
    metrics = _metrics(ev_rec, alpha, fund_usd, collateral, recommended)
    metrics["lp_worst_case_cvar_usd"] = float(opt.cvar_)
    metrics["risk_budget_usd"] = float(budget)
    metrics["min_feasible_budget_usd"] = float(getattr(opt, "min_feasible_budget_", float("nan")))
    metrics_cur = _metrics(ev_cur, alpha, fund_usd, collateral, current)
    metrics["tail_contribution_by_asset"] = tail_shares(ev_rec["total"], ev_rec["by_asset"], alpha, assets)
    sim_stage = search_stage = None
    if cfg.simulation.enabled:
        from optimizer.pipeline import market_sim

        sim_stage = market_sim.run_simulation(cfg, inputs, recommended, alpha=alpha, rng=streams.simulation,
                                               progress=progress)
        fund = sim_stage.fund
        fund_usd = insurance_fund_size(fund)
        ev_rec, ev_cur = _sim_evaluation(sim_stage, ev_cur)
        static = {f"static_{k}": v for k, v in metrics.items()
                  if k.startswith(("bad_debt_", "prob_bad_debt")) or k == "tail_contribution_by_asset"}
        metrics = {**metrics, **_metrics(ev_rec, alpha, fund_usd, collateral, recommended), **static,
                   **sim_stage.metrics}
        metrics["tail_contribution_by_asset"] = sim_stage.metrics["sim_tail_contribution_by_asset"]
        metrics_cur = _metrics(ev_cur, alpha, fund_usd, collateral, current)
        if cfg.search.enabled:
            search_stage = market_sim.run_search(cfg, inputs, market, recommended, rng=streams.search,
                                                  progress=progress)

    binding = [_binding_label(opt, i, lt, lt_min, lt_max, caps) for i in range(len(assets))]
    if apc is not None:
        binding = [Binding.anti_procyclicality(apc.method) if binds else b for b, binds in zip(binding, apc.binds)]
    report = assemble_report(
        cfg, inputs, opt, binding, guard_fails, asset_share, recommended, bonus, slippage, weights, basket, alpha, budget, fund, cover2_usd,
        metrics, metrics_cur, ev_rec, ev_cur, zero_kept, status, progress, t_start, command, fund_usd=fund_usd,
    )
    from optimizer.report.validation import attach_validation_sections

    backtests = inputs.validation.backtests if cfg.backtest.in_report else None
    report = attach_validation_sections(report, backtests, apc, volatility=cfg.estimators.volatility)
    report = _attach_market_sections(report, cfg, inputs, market, sim_stage, search_stage)
    return RunOutcome(report=report, inputs=inputs, recommended=recommended, optimizer=opt,
                      bad_debt=ev_rec["total"], bad_debt_current=ev_cur["total"], search=search_stage,
                      market=market)


def _anti_procyclicality(cfg: RunConfig, inputs: RunInputs, sol: ThresholdSolution) -> Any:
    """The ``[anti_procyclicality]`` policy applied to ``sol``; it re-solves through this run's problem."""
    from optimizer.pipeline.history import anti_procyclicality_policy

    def solve(terminal: np.ndarray, sigma: np.ndarray | None) -> ThresholdSolution:
        return solve_thresholds(cfg, inputs, prepare_market(cfg, inputs, terminal=terminal, sigma=sigma))

    val = inputs.validation
    return anti_procyclicality_policy(cfg).apply(
        sol, solve=solve, scenarios=inputs.scenarios, volatility=inputs.generator.volatility_,
        vol_multiplier=cfg.scenarios.vol_multiplier, history=val.history,
        collateral=inputs.book.collateral_by_asset, rng=val.rng,
    )


def _sim_evaluation(stage: Any, ev_cur: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The simulated distributions in the shape of :func:`evaluate_book`'s output."""
    rec = {"total": stage.bad_debt, "by_asset": stage.by_asset, "n_liquidated": stage.n_liquidated}
    cur = ev_cur if stage.bad_debt_current is None else {
        "total": stage.bad_debt_current, "by_asset": ev_cur["by_asset"][: stage.n_paths],
        "n_liquidated": stage.n_liquidated_current}
    return rec, cur


def _attach_market_sections(report: RunReport, cfg: RunConfig, inputs: RunInputs, market: Any,
                            sim_stage: Any, search_stage: Any) -> RunReport:
    """Market-simulation and frontier sections (params.json: ``frontier``)."""
    if sim_stage is None:
        return report
    from optimizer.report.simulation import frontier_section, simulation_section

    sections = dict(report.sections)
    sections["market_simulation"] = simulation_section(sim_stage)
    if search_stage is not None:
        sections["frontier_view"] = frontier_section(search_stage)
    return dataclasses.replace(report, sections=sections)


def evaluate_book(book: Book, scen: Any, current: RiskParams, params: RiskParams,
                  slippage: np.ndarray) -> dict[str, np.ndarray]:
    """Aggregate bad debt per scenario on the whole book, borrowers keeping their health factor."""
    from optimizer.protocol.kernels import bad_debt_static
    from optimizer.protocol.mechanics import relever_factor

    scale = relever_factor(book, current, params)
    res = bad_debt_static(book, scen.terminal, params, slippage=slippage, debt_scale=scale, by_asset=True)
    return {"total": np.asarray(res.total, dtype=float), "by_asset": np.asarray(res.by_asset, dtype=float),
            "n_liquidated": np.asarray(res.n_liquidated)}


def _metrics(ev: dict[str, np.ndarray], alpha: float, fund_usd: float, collateral: np.ndarray,
             params: RiskParams) -> dict[str, Any]:
    from optimizer.optimize.measures import capital_efficiency, cvar, prob_exceeds, var

    losses = ev["total"]
    return {
        "capital_efficiency_usd": capital_efficiency(collateral, params.ltv),
        "bad_debt_var_usd": float(var(losses, alpha)),
        "bad_debt_cvar_usd": float(cvar(losses, alpha)),
        "bad_debt_mean_usd": float(losses.mean()),
        "prob_bad_debt": float(prob_exceeds(losses, 0.0)),
        "prob_bad_debt_exceeds_fund": float(prob_exceeds(losses, fund_usd)),
        "alpha": float(alpha),
        "mean_accounts_liquidated": float(np.mean(ev["n_liquidated"])),
    }


def _cover2(book: Book, scen: Any, prices: pd.DataFrame, current: RiskParams, params: RiskParams, slippage: np.ndarray,
            totals: np.ndarray) -> float:
    """"Cover 2": stressed shortfall of the two largest borrowers.

    The two accounts with the largest debt are assumed to sit at their liquidation threshold
    (HF = 1, the most they may borrow under ``params``) and each is taken in the scenario that is
    worst for it: the largest bad debt it leaves across all simulated scenarios and every
    historical horizon-length window of the price data (extreme but plausible). The figure is the
    sum, as in a clearing house's cover-2 standard.
    """
    from optimizer.optimize.fund import cover2
    from optimizer.protocol.mechanics import bad_debt_static_numpy, debt_at_threshold_factor
    from optimizer.scenarios import historical_windows

    stress = scen.terminal
    hist = historical_windows(prices, scen.horizon)
    if hist.n_scenarios:
        stress = np.vstack([stress, hist.terminal])

    largest = np.argsort(book.account_debt, kind="stable")[-2:]
    scale = debt_at_threshold_factor(book, params)
    worst = []
    for a in largest:
        # a one-account book: the mechanics' per-scenario total is that account's bad debt
        one = book.take(np.array([a]))
        per_scen = bad_debt_static_numpy(one, stress, params, slippage=slippage, debt_scale=scale[[a]])
        worst.append(float(per_scen.max()))
    return float(cover2(np.array(worst)))

def asset_budget_share(cfg: RunConfig) -> float:
    """Per-asset guard: CVaR of bad debt per USD of the asset's collateral at the threshold."""
    from optimizer.pipeline.config import APPETITE_PRESETS

    if cfg.optimizer.asset_budget_share is not None:
        return cfg.optimizer.asset_budget_share
    return APPETITE_PRESETS[cfg.optimizer.appetite][1]


def asset_caps(k: np.ndarray, alpha: float, share: float) -> np.ndarray:
    """Largest LT per asset whose own CVaR of bad debt per USD at the threshold is <= ``share``.

    One-dimensional and monotone, so it is an exact upper bound added to the joint LP; it keeps a
    small asset from taking a loose threshold just because it barely moves the aggregate tail.
    """
    from optimizer.optimize.convex import single_asset_threshold

    return np.array([single_asset_threshold(k[:, i], 1.0, share, alpha) for i in range(k.shape[1])])


def _binding_label(opt: Any, i: int, lt: np.ndarray, lt_min: np.ndarray, lt_max: np.ndarray,
                   caps: np.ndarray, atol: float = 1e-6) -> Binding:
    if lt[i] <= lt_min[i] + atol:
        return Binding.LOWER_BOUND if caps[i] >= lt_min[i] else Binding.LOWER_BOUND_GUARD_NOT_MET
    if caps[i] < lt_max[i] and abs(lt[i] - caps[i]) <= atol:
        return Binding.ASSET_GUARD
    if lt[i] >= lt_max[i] - atol:
        return Binding.UPPER_BOUND
    return Binding.RISK_BUDGET
