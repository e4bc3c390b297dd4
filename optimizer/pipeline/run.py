"""`riskopt run`: prices -> estimators -> scenarios -> book -> convex optimizer -> fund -> report."""

from __future__ import annotations

import dataclasses
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer._random import RunStreams
from optimizer.exceptions import DataError
from optimizer.pipeline.config import RunConfig
from optimizer.pipeline.history import load_asset_prices, needs_history, prepare_validation  # noqa: F401
from optimizer.pipeline.progress import Progress, Silent
from optimizer.pipeline.run_report import (  # noqa: F401 (re-exported)
    DEFAULT_LT,
    BookOutcome,
    RunContext,
    assemble_report,
    insurance_fund,
    insurance_fund_size,
    library_versions,
)
from optimizer.optimize import Binding, RunStatus
from optimizer.protocol.book import Book
from optimizer.protocol.params import (  # noqa: F401 (DEFAULT_BONUS re-exported)
    DEFAULT_BONUS,
    RiskParams,
    placeholder_params,
    resolve_bonus,
)
from optimizer.report.model import RunReport
from optimizer.typing import VolatilityName

if TYPE_CHECKING:
    from optimizer.optimize import BookEvaluation, RunMetrics, ThresholdBounds, ThresholdProblem, ThresholdSolution
    from optimizer.protocol.liquidity import DepthSlippage
    from optimizer.optimize import SaleFixedPoint
    from optimizer.protocol.sale import SaleSize

    #: The threshold problem's old name (the run's "market inputs").
    MarketInputs = ThresholdProblem


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
    #: optimizer.protocol.calibrated_book.CalibratedBook when [book] reference calibrates the book.
    book_calibration: Any = None
    #: optimizer.pipeline.pegs.PegInputs: pooled peg-break histories and the depeg jumps drawn.
    pegs: Any = None
    #: optimizer.estimators.DepthAssessment: every asset's depth curve (measured or by rule), the impact-law fit.
    liquidity: Any = None
    #: sha256 of every input file the run read (prices, volumes, quotes, depth, reference or CSV book), by
    #: the name `riskopt reproduce` finds it by (optimizer.pipeline.files); the peg histories' join in the report.
    input_files: dict[str, str] = field(default_factory=dict)
    #: The resolved data directory (the stress library reads its long history and peers from it).
    data_dir: Path | None = None
    #: Stress libraries built for these inputs, by horizon and shocks (pipeline.stress.library_of).
    stress_cache: dict[Any, Any] = dataclasses.field(default_factory=dict)


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
    market: Any = None  # ThresholdProblem: the slippage, volatility and bounds the recommendation was solved with
    metrics: RunMetrics | None = None  # the headline metrics (report.metrics is their as_dict())
    stress: Any = None  # pipeline.stress.StressOutcome: the stress library and the book's bad debt in it
    sale: Any = None  # optimizer.optimize.SaleFixedPoint: the day's sale the static slippage priced, how it was found
    caps: Any = None  # pipeline.caps.CapsOutcome: supply and borrow caps (None with [caps] enabled = false)
    unrounded: RiskParams | None = None  # the program's answer before the grid (``recommended`` is on it)

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
    from optimizer.pipeline.files import book_csv_path, config_file_hashes
    from optimizer.protocol.books import load_book_csv, synthetic_book

    progress = progress or Silent()
    seed = cfg.run.seed
    streams = streams if streams is not None else RunStreams.from_seed(seed, book_seed=cfg.book.seed)
    assets = cfg.asset_names
    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir)

    with progress.stage("loading prices"):
        # The window is anchored at as_of, which may be the data's last date: load once to learn it.
        cfg = resolve_as_of(cfg, data_dir=ddir)
        start, as_of = resolve_window(cfg, cfg.run.as_of)
        prices = load_asset_prices(cfg, ddir, start=start, as_of=as_of, proxies=True,
                                   min_history_days=cfg.data.min_history_days)
        # Each asset keeps its whole history in the window: a younger asset's missing days, like
        # an asset's trading gap, leave only its own returns NaN (never filled); the volatility
        # models skip them (missing="skip") and fhs imputes its residuals there from the same
        # day's residuals of the others (the imputation stream), counted in the report. No asset
        # truncates the others' history.
        returns = prices.returns(gaps="keep", history="each")
        n_finite = returns.notna().sum()
        short = n_finite[n_finite < cfg.data.min_history_days]
        if len(short):
            raise DataError(
                "too few days of returns up to " + str(as_of) + ": "
                + ", ".join(f"{a!r} has {int(n)} (first price {prices.prices[a].first_valid_index().date()})"
                            for a, n in short.items())
                + f"; [data] min_history_days = {cfg.data.min_history_days}. Lower it, or drop the asset"
            )

    with progress.stage("backtesting the volatility estimators") if needs_history(cfg) else nullcontext():
        validation = prepare_validation(cfg, ddir, as_of, rng=streams.validation)
    choice = validation.backtests.choice if validation.backtests is not None else None

    from optimizer.pipeline.pegs import draw_peg_jumps, peg_inputs

    # pegged assets: their depeg days leave the continuous part's returns, the depeg is a jump
    pegs = peg_inputs(cfg, ddir, returns=returns, as_of=as_of, start=start)
    with progress.stage(f"fitting {cfg.estimators.volatility} volatility and {cfg.estimators.correlation} correlation"):
        gen = make_generator(cfg, cfg.estimators.volatility, choice=choice).fit(pegs.returns, rng=streams.imputation)

    with progress.stage(f"simulating {cfg.scenarios.n_scenarios:,} scenarios"):
        scen = gen.simulate(cfg.scenarios.horizon_days, cfg.scenarios.n_scenarios, rng=streams.scenarios)
        scen, pegs = draw_peg_jumps(pegs, scen, rng=streams.pegs)

    current, has_current = current_params(cfg)
    calibration = None
    with progress.stage("building the book"):
        if cfg.book.kind == "csv":
            path = book_csv_path(cfg)
            # the report names the file as the config does, so params.json is the same on any machine
            book = dataclasses.replace(load_book_csv(path, assets), source=f"csv: {cfg.book.path}")
        elif cfg.book.reference is not None:
            calibration = calibrated_book_of(cfg, ddir, current, streams.book)
            book = calibration.book
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
    from optimizer.pipeline.liquidity import load_liquidity

    with progress.stage("reading the depth curves"):
        liquidity = load_liquidity(cfg, ddir, prices, adv)
    files = {**prices.file_hashes, **config_file_hashes(cfg, ddir)}
    return RunInputs(
        config=cfg, prices=prices, returns=returns, generator=gen, scenarios=scen, book=book,
        current=current, has_current=has_current, adv_usd=adv, adv_source=adv_src, seed=seed,
        validation=validation, book_calibration=calibration, pegs=pegs, liquidity=liquidity, data_dir=ddir,
        input_files=dict(sorted(files.items())),
    )


def calibrated_book_of(cfg: RunConfig, data_dir: Path, current: RiskParams, rng: np.random.Generator) -> Any:
    """The synthetic book calibrated to ``[book] reference`` (a path relative to the data directory)."""
    from optimizer.protocol.calibrated_book import calibrated_book
    from optimizer.protocol.reference_book import load_reference_book

    path = Path(cfg.book.reference)
    ref = load_reference_book(path if path.is_absolute() else Path(data_dir) / path)
    # the report names the file as the config does, so params.json is the same on any machine
    ref = dataclasses.replace(ref, source=cfg.book.reference)
    assets = cfg.asset_names
    return calibrated_book(
        assets,
        symbols=tuple(cfg.assets[a].symbol for a in assets),
        supplied_usd=np.array([cfg.assets[a].supplied_usd for a in assets]),
        borrowed_usd=np.array([cfg.assets[a].borrowed_usd for a in assets]),
        n_accounts=cfg.book.n_accounts,
        current=current,
        rng=rng,
        reference=ref,
        n_placed=cfg.book.n_placed,
        hf_min=cfg.book.hf_min,
        size_tail=cfg.book.size_tail,
        classes=tuple(loop_class_of(cfg, a) for a in assets),
    )


def loop_class_of(cfg: RunConfig, asset: str, _seen: frozenset[str] = frozenset()) -> str | None:
    """An asset's correlated class for the book's e-mode loops: its peg class ("usd", "eth", "btc";
    a stablecoin is "usd"), that of the asset it is pegged to, or the class it is the asset of
    (``eth``, which stands for the liquid-staking tokens too; ``btc``); None otherwise."""
    from optimizer.pipeline.config import PEG_REFERENCES

    peg = cfg.pegs.get(asset)
    if peg in PEG_REFERENCES:
        return peg
    if peg is not None:  # pegged to another asset of the config
        return None if peg in _seen else loop_class_of(cfg, peg, _seen | {asset})
    ticker = (cfg.assets[asset].price_ticker or asset).lower()
    return ticker if ticker in PEG_REFERENCES else None


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
            ltv_b, lt_b = placeholder_params(b, lt=DEFAULT_LT, ltv_buffer=cfg.optimizer.ltv_buffer)
            ltv.append(ltv_b)
            lt.append(lt_b)
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


def static_slippage(cfg: RunConfig, inputs: RunInputs) -> DepthSlippage:
    """The liquidation slippage law (the run's depth curves) with the config's ``[liquidity]`` settings."""
    from optimizer.pipeline.liquidity import slippage_law

    return slippage_law(cfg, inputs.liquidity)


def run_sale(cfg: RunConfig, inputs: RunInputs, *, book: Book | None = None, terminal: np.ndarray | None = None,
             params: RiskParams | None = None) -> SaleSize:
    """The liquidation day's sale per asset (``[liquidity] sale_size``) of ``book`` in ``terminal``
    (default: the run's), liquidations decided by ``params`` (default: the current parameters)."""
    from optimizer.pipeline.liquidity import sale_size

    from optimizer.protocol.mechanics import relever_factor

    alpha, _ = cfg.alpha_and_budget_share()
    book = inputs.book if book is None else book
    src = inputs.scenarios if terminal is None else terminal
    terminal = np.asarray(getattr(src, "terminal", src))
    if params is None:
        return sale_size(cfg, book, terminal, inputs.current, alpha=alpha, params_label="current")
    # borrowers keep their health factor under ``params``, as the static evaluation assumes
    return sale_size(cfg, book, terminal, params, alpha=alpha, debt_scale=relever_factor(book, inputs.current, params),
                     params_label="recommended")


def threshold_bounds(cfg: RunConfig) -> ThresholdBounds:
    """The config's bounds settings: ``[optimizer]`` defaults and ``[assets.*]`` overrides."""
    from optimizer.optimize import ThresholdBounds

    o = cfg.optimizer

    def overrides(name: str) -> dict[str, float]:
        return {a: getattr(c, name) for a, c in cfg.assets.items() if getattr(c, name) is not None}

    return ThresholdBounds(lt_min=o.lt_min, lt_max=o.lt_max, ltv_buffer=o.ltv_buffer,
                           slippage_margin=o.slippage_margin, keep_zero_ltv=o.keep_zero_ltv,
                           asset_lt_min=overrides("lt_min"), asset_lt_max=overrides("lt_max"),
                           asset_ltv_buffer=overrides("ltv_buffer"), held_ltv_lt=o.held_ltv_lt)


def prepare_market(
    cfg: RunConfig,
    inputs: RunInputs,
    *,
    terminal: np.ndarray | None = None,
    slippage_law: DepthSlippage | None = None,
    book: Book | None = None,
    sigma: np.ndarray | None = None,
    sale: SaleSize | None = None,
) -> ThresholdProblem:
    """The run's :class:`~optimizer.optimize.ThresholdProblem`; keyword overrides let other
    workflows (driver attribution, sensitivity, anti-procyclicality) re-solve with one input replaced.

    ``sale`` is the day's sale the slippage law prices; without it the sale is computed
    (:func:`run_sale`) for ``book`` in ``terminal``: pass the run's (``market.sale``) to re-solve
    the same run with another input. With ``[optimizer] stress_constraint`` the stress library's
    scenarios are rows of the LP (:func:`optimizer.pipeline.stress.stress_rows`), priced with the
    same slippage as the scenarios'.
    """
    from optimizer.optimize import ThresholdProblem
    from optimizer.pipeline.stress import stress_rows

    alpha, share = cfg.alpha_and_budget_share()
    if sale is None:
        sale = run_sale(cfg, inputs, book=book, terminal=terminal)
    book = inputs.book if book is None else book
    rows = stress_rows(cfg, inputs, book, alpha=alpha, share=share)
    return ThresholdProblem.build(
        inputs.scenarios if terminal is None else terminal,
        book,
        inputs.current,
        has_current=inputs.has_current,
        bonus=configured_bonus(cfg, inputs.current),
        sigma_daily=inputs.generator.scaled_volatility() if sigma is None else sigma,
        slippage_law=static_slippage(cfg, inputs) if slippage_law is None else slippage_law,
        sale=sale,
        bounds=threshold_bounds(cfg),
        alpha=alpha,
        asset_share=asset_budget_share(cfg),
        budget_usd=cfg.optimizer.risk_budget_usd,
        budget_share=share,
        comonotone_share=cfg.scenarios.comonotone_share,
        **rows,
    )


def solve_thresholds(cfg: RunConfig, inputs: RunInputs, m: ThresholdProblem) -> ThresholdSolution:
    """Solve the threshold problem with the config's solver settings."""
    o = cfg.optimizer
    return m.solve(solver=o.solver, fallback_solver=o.fallback_solver, method=o.method)


def solve_recommendation(cfg: RunConfig, inputs: RunInputs, progress: Progress) -> tuple[SaleFixedPoint, Any, Any]:
    """The run's convex answer: the program at its sale's fixed point (:func:`solve_market`), then the
    ``[anti_procyclicality]`` policy. Returns ``(fixed, solution, apc)``; ``solution.recommended`` is
    the recommendation (the policy's when one applies; ``apc`` None otherwise), on the protocol's grid (``solution.unrounded``
    keeps the program's answer). Shared by :func:`run` and ``riskopt search-worker``, whose search
    space is built from it."""
    with progress.stage("solving the CVaR program"):
        fixed = solve_market(cfg, inputs)
    sol, apc = fixed.solution, None
    if cfg.anti_procyclicality.method != "none":
        with progress.stage(f"anti-procyclicality ({cfg.anti_procyclicality.method})"):
            apc = _anti_procyclicality(cfg, inputs, sol, fixed.problem.sale)
        sol = dataclasses.replace(sol, recommended=apc.applied, lt=apc.applied.liquidation_threshold)
    from optimizer.optimize import solution_on_grid

    # deployable numbers: on the stewards' grid ([guardrails] grid), rounded the safe way; everything
    # after this (evaluation, simulation, stress, fund, search) prices the parameters a delegate posts
    return fixed, solution_on_grid(sol, cfg.guardrails.grid), apc


def solve_market(cfg: RunConfig, inputs: RunInputs, *, terminal: np.ndarray | None = None,
                 slippage_law: DepthSlippage | None = None, book: Book | None = None,
                 sigma: np.ndarray | None = None) -> SaleFixedPoint:
    """The threshold program solved at the sale its liquidations cause (``[liquidity] sale_params``:
    the recommended parameters' fixed point, or the current parameters'); overrides as in
    :func:`prepare_market`. The run's own answer; re-solves of the same run pass ``sale=market.sale``
    to :func:`prepare_market` instead."""
    from optimizer.optimize import solve_at_sale_fixed_point

    def build(sale: SaleSize) -> ThresholdProblem:
        return prepare_market(cfg, inputs, terminal=terminal, slippage_law=slippage_law, book=book, sigma=sigma,
                              sale=sale)

    return solve_at_sale_fixed_point(
        build, lambda m: solve_thresholds(cfg, inputs, m),
        lambda p: run_sale(cfg, inputs, book=book, terminal=terminal, params=p),
        run_sale(cfg, inputs, book=book, terminal=terminal), params=cfg.liquidity.sale_params,
    )


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
    from optimizer.pipeline.preflight import check_inputs

    check_inputs(cfg, data_dir=data_dir)  # book, storage: fail in a second, not after the scenarios
    cfg = resolve_as_of(cfg, data_dir=data_dir)
    streams = RunStreams.from_seed(cfg.run.seed, book_seed=cfg.book.seed)
    inputs = load_inputs(cfg, data_dir=data_dir, progress=progress, streams=streams)
    assets = cfg.asset_names
    scen, book, current = inputs.scenarios, inputs.book, inputs.current
    live_caps = None
    if cfg.caps.enabled:  # read now: a bad caps file fails before the solve, not after it
        from optimizer.pipeline.caps import current_caps, prices_at_as_of

        live_caps = current_caps(cfg, inputs.data_dir, *prices_at_as_of(inputs))

    fixed, sol, apc = solve_recommendation(cfg, inputs, progress)
    market = fixed.problem
    lt_band = None
    if cfg.scenarios.band_batches:  # of the program's answer: the policy does not change the market
        from optimizer.optimize import threshold_band

        o = cfg.optimizer
        with progress.stage(f"measuring the Monte Carlo band ({cfg.scenarios.band_batches} replications)"):
            lt_band = threshold_band(market, n_batches=cfg.scenarios.band_batches, solver=o.solver,
                                     fallback_solver=o.fallback_solver, method=o.method)
    opt, recommended, zero_kept = sol.optimizer, sol.recommended, sol.zero_kept
    guard_fails, status = sol.guard_fails, sol.status
    bonus, slippage, weights, basket = market.bonus, market.slippage, market.weights, market.basket
    alpha, budget, asset_share, collateral = market.alpha, market.budget, market.asset_share, market.collateral

    from optimizer.optimize import evaluate_book

    # the current parameters are priced by the sale their own liquidations cause (the fixed point's start)
    slippage_cur = static_slippage(cfg, inputs).slippage(fixed.live, market.sigma)
    with progress.stage("evaluating bad debt on the book"):
        ev_rec = evaluate_book(book, scen.terminal, current, recommended, slippage)
        ev_cur = evaluate_book(book, scen.terminal, current, current, slippage_cur)
    from optimizer.pipeline.pegs import attach_peg_section, peg_figures

    peg_tail = peg_figures(inputs, ev_rec, alpha=alpha)  # before the simulation replaces ev_rec

    from optimizer.optimize import RiskMetrics, RunMetrics, size_fund, stressed_cover2

    from optimizer.pipeline.stress import run_stress

    with progress.stage("stress library"):
        stress = run_stress(cfg, inputs, data_dir, recommended, slippage, slippage_current=slippage_cur)
    # cover-2: the two largest borrowers, each in its worst stress-library scenario (extreme but
    # plausible: the library, not the worst of the Monte Carlo draws)
    cover = stressed_cover2(book, recommended, slippage, stress.library.terminal, names=stress.library.names)

    fund = size_fund(ev_rec.total, epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence)
    standard = insurance_fund(cfg, fund, stress, cover)
    fund_usd = standard.fund_usd
    static = RiskMetrics.of(ev_rec, alpha=alpha, fund_usd=fund_usd, collateral_usd=collateral, params=recommended,
                            with_tail=True)
    run_metrics = RunMetrics(
        recommended=static,
        current=RiskMetrics.of(ev_cur, alpha=alpha, fund_usd=fund_usd, collateral_usd=collateral, params=current),
        lp_worst_case_cvar_usd=opt.cvar_, risk_budget_usd=budget,
        min_feasible_budget_usd=getattr(opt, "min_feasible_budget_", float("nan")),
    )
    sim_stage = search_stage = None
    if cfg.simulation.enabled:
        from optimizer.pipeline import market_sim

        sim_stage = market_sim.run_simulation(cfg, inputs, recommended, alpha=alpha, rng=streams.simulation,
                                               progress=progress, slippage=slippage, score=ev_rec.total)
        fund = sim_stage.fund
        standard = insurance_fund(cfg, fund, stress, cover)
        fund_usd = standard.fund_usd
        ev_rec, ev_cur = _sim_evaluation(sim_stage, ev_cur)
        run_metrics = dataclasses.replace(
            run_metrics, static=static, simulation=sim_stage.metrics,
            recommended=RiskMetrics.of(ev_rec, alpha=alpha, fund_usd=fund_usd, collateral_usd=collateral,
                                       params=recommended, with_tail=True),
            current=RiskMetrics.of(ev_cur, alpha=alpha, fund_usd=fund_usd, collateral_usd=collateral, params=current),
        )
        if cfg.search.enabled:
            search_stage = market_sim.run_search(cfg, inputs, market, recommended, rng=streams.search,
                                                  progress=progress)

    f_band = None
    if cfg.scenarios.band_batches:
        from optimizer.optimize import fund_band

        if sim_stage is not None:
            f_band = fund_band(sim_stage.bad_debt, sim_stage.rows, weights=sim_stage.weights,
                               epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence,
                               n_batches=cfg.scenarios.band_batches)
        else:
            f_band = fund_band(ev_rec.total, np.arange(ev_rec.total.size), epsilon=cfg.fund.epsilon,
                               confidence=cfg.fund.confidence, n_batches=cfg.scenarios.band_batches)
    m_band = None
    if cfg.scenarios.band_batches:  # the metrics of the model of record, both parameter sets on the same paths
        from optimizer.optimize import loss_band

        rows = (sim_stage.rows if sim_stage is not None and sim_stage.rows is not None
                else np.arange(ev_rec.total.size))
        m_band = {name: loss_band(ev.total, rows, alpha=alpha, fund_usd=fund_usd, weights=ev.weights,
                                  n_batches=cfg.scenarios.band_batches)
                  for name, ev in (("recommended", ev_rec), ("current", ev_cur))}
    binding = sol.binding
    if apc is not None:
        binding = [Binding.anti_procyclicality(apc.method) if binds else b for b, binds in zip(binding, apc.binds)]
    outcome = BookOutcome(metrics=run_metrics, bad_debt=ev_rec.total, bad_debt_current=ev_cur.total, fund=fund,
                          fund_usd=fund_usd, cover2_usd=cover.usd, standard=standard,
                          bad_debt_weights=ev_rec.weights, lt_band=lt_band, fund_band=f_band,
                          metrics_band=m_band)
    context = RunContext(t_start=t_start, command=command, stage_seconds=dict(progress.timings))
    report = assemble_report(cfg, inputs, market, sol, binding, outcome, context)
    from optimizer.report.validation import attach_validation_sections

    backtests = inputs.validation.backtests if cfg.backtest.in_report else None
    report = attach_validation_sections(report, backtests, apc, volatility=cfg.estimators.volatility)
    report = _attach_market_sections(report, cfg, inputs, market, sim_stage, search_stage)
    from optimizer.report.history import attach_history_section

    report = attach_history_section(report, inputs.prices, inputs.returns, inputs.generator)
    from optimizer.report.stress import StressConstraintView, stress_section

    rows = market.stress
    view = StressConstraintView(
        by_asset=stress.by_asset_recommended, fund_usd=fund_usd,
        lp_losses=None if rows is None else rows.losses(recommended.liquidation_threshold, market.exposure),
        lp_binds=None if rows is None else rows.binding(recommended.liquidation_threshold, market.exposure),
        budget_usd=None if rows is None else rows.budget, budget_rule="" if rows is None else rows.rule)
    report = dataclasses.replace(report, sections={**report.sections, "stress_library": stress_section(
        stress.library, stress.bad_debt_recommended, stress.bad_debt_current, view)})
    if inputs.book_calibration is not None:
        from optimizer.report.book import book_section

        report = dataclasses.replace(report, sections={**report.sections,
                                                       "book": book_section(inputs.book_calibration)})
    report = attach_peg_section(report, inputs, peg_tail)
    report = _attach_liquidity_section(report, cfg, inputs, market, fixed)
    caps = None
    if cfg.caps.enabled:
        from optimizer.pipeline.caps import run_caps
        from optimizer.report.caps import caps_section

        with progress.stage("supply and borrow caps"):
            caps = run_caps(cfg, inputs, recommended, market, stress.library, current=live_caps)
        report = dataclasses.replace(report, sections={**report.sections, "caps": caps_section(
            caps.caps, caps.recommended, caps.current, liquidity=inputs.liquidity, sigma_source=caps.sigma_source,
            volume_sources=caps.volume_source)})
    return RunOutcome(report=report, inputs=inputs, recommended=recommended, optimizer=opt,
                      bad_debt=ev_rec.total, bad_debt_current=ev_cur.total, search=search_stage,
                      market=market, metrics=run_metrics, stress=stress, sale=fixed, caps=caps,
                      unrounded=sol.unrounded)


def _anti_procyclicality(cfg: RunConfig, inputs: RunInputs, sol: ThresholdSolution, sale: SaleSize) -> Any:
    """The ``[anti_procyclicality]`` policy applied to ``sol``; it re-solves through this run's problem
    (the run's sale held: the policy changes the scenarios' volatility, not the book)."""
    from optimizer.pipeline.history import anti_procyclicality_policy

    def solve(terminal: np.ndarray, sigma: np.ndarray | None) -> ThresholdSolution:
        return solve_thresholds(cfg, inputs, prepare_market(cfg, inputs, terminal=terminal, sigma=sigma, sale=sale))

    val = inputs.validation
    return anti_procyclicality_policy(cfg).apply(
        sol, solve=solve, scenarios=inputs.scenarios, volatility=inputs.generator.volatility_,
        vol_multiplier=cfg.scenarios.vol_multiplier, history=val.history,
        collateral=inputs.book.collateral_by_asset, rng=val.rng,
    )


def _sim_evaluation(stage: Any, ev_cur: BookEvaluation) -> tuple[BookEvaluation, BookEvaluation]:
    """The simulated distributions as :class:`~optimizer.optimize.BookEvaluation` records."""
    from optimizer.optimize import BookEvaluation

    rec = BookEvaluation(total=stage.bad_debt, by_asset=stage.by_asset, n_liquidated=stage.n_liquidated,
                         weights=stage.weights)
    rows = stage.rows if stage.rows is not None else slice(stage.n_paths)
    cur = ev_cur if stage.bad_debt_current is None else BookEvaluation(
        total=stage.bad_debt_current, by_asset=ev_cur.by_asset[rows],
        n_liquidated=stage.n_liquidated_current, weights=stage.weights)
    return rec, cur


def _attach_liquidity_section(report: RunReport, cfg: RunConfig, inputs: RunInputs, market: Any,
                              fixed: SaleFixedPoint) -> RunReport:
    """Depth curves, their sources and the impact-law fit (params.json: ``liquidity``)."""
    from optimizer.report.liquidity import liquidity_section

    section = liquidity_section(inputs.liquidity, static_slippage(cfg, inputs), market.sale, market.sigma,
                                market.slippage, fixed=fixed)
    return dataclasses.replace(report, sections={**report.sections, "liquidity": section})


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


def asset_budget_share(cfg: RunConfig) -> float:
    """Per-asset guard: CVaR of bad debt per USD of the asset's collateral at the threshold."""
    from optimizer.pipeline.config import APPETITE_PRESETS

    if cfg.optimizer.asset_budget_share is not None:
        return cfg.optimizer.asset_budget_share
    return APPETITE_PRESETS[cfg.optimizer.appetite][1]
