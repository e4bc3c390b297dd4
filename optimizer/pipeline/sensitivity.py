"""`riskopt sensitivity`: one-at-a-time and two-way sweeps of the assumptions, solved on Dask.

Each *point* of a sweep is the base configuration with one assumption (or two, for a grid)
changed; it is solved like a run (scenarios -> market -> threshold program -> fund) and gives
every asset's LT and LTV and the insurance fund. The assumptions (``[sensitivity]`` lists the
values of each):

=====================  ======================================================================
``alpha``              CVaR confidence of the risk budget (``[optimizer] alpha``)
``vol_multiplier``     every asset's volatility scaled (``[scenarios] vol_multiplier``)
``comonotone_share``   weight of the scenarios where every position crashes together
                       (``[scenarios] comonotone_share``)
``liquidity_multiplier`` every asset's depth curve, its sizes multiplied (``[liquidity]
                       liquidity_multiplier``; 0.5: half the USD sellable at every slippage level),
                       in the threshold program and the market simulation alike
``delay_steps``        liquidation delay, in steps of the dynamic market simulation
                       (``[simulation] delay_steps``). The convex core is static, so a delay moves
                       the insurance fund (sized on the simulated bad debt, as in a run), not the
                       thresholds. With ``[simulation] enabled = false`` there is no simulation: a
                       delay of ``d`` steps is then taken as ``ceil(d / steps_per_day)`` extra days of
                       liquidation horizon, which does move the thresholds.
``bonus_shift``        every asset's liquidation bonus shifted (absolute, 0.01 = 1 point)
``horizon_days``       liquidation horizon (``[scenarios] horizon_days``)
``volatility``         volatility estimator (``[estimators] volatility``)
``window_days``        estimation window (``[run] window_days``)
=====================  ======================================================================

A point is solved as a run solves it (same data, fit, scenario stream, book and market
simulation; see :func:`point_task`), with ``[sensitivity] n_scenarios`` scenarios and the run
seed: the same seed for every point (common random numbers), so two points differ only by their
assumption, not by Monte Carlo noise, and a point's numbers do not depend on which worker solved
it, how many workers there were or in which order points finished. Points whose resolved
configurations are identical (e.g. a multiplier of 1) are solved once. The price data is loaded
and the volatility model fitted once per (estimator, window, price-correlation stress)
combination, as a Dask task (:func:`fit_task`) whose result the points of that combination share.

Points run on a ``distributed.LocalCluster`` (processes, one thread each) by default, or on an
existing cluster when a scheduler address is given (its workers must see the data directory).
Sweeps show the optimizer's answer; the anti-procyclicality tools of a full run are not applied.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.report._format import utc_timestamp
from optimizer._random import RunStreams
from optimizer.exceptions import ConfigError, OptimizerError
from optimizer.pipeline.config import RENAMED_KEYS, RunConfig
from optimizer.pipeline.progress import Progress, Silent
from optimizer.report.sensitivity import (  # noqa: F401 (sensitivity_json re-exported)
    ASSUMPTION_DISPLAY,
    SENSITIVITY_FORMAT_VERSION,
    sensitivity_json,
)

#: The assumptions a sweep can move, in display order (their labels and value formats are
#: optimizer.report.sensitivity.ASSUMPTION_DISPLAY).
ASSUMPTIONS: tuple[str, ...] = tuple(ASSUMPTION_DISPLAY)


@dataclass(frozen=True)
class SweepPoint:
    """One point: ``overrides`` maps assumption -> value; ``sweep`` names what it belongs to."""

    index: int
    kind: str  # "base", "one-at-a-time" or "grid"
    sweep: str  # "base", an assumption name, or "x*y" for a grid
    overrides: dict[str, Any]


def base_value(cfg: RunConfig, name: str) -> Any:
    """The value an assumption takes in the base configuration."""
    alpha, _ = cfg.alpha_and_budget_share()
    return {
        "alpha": alpha,
        "vol_multiplier": cfg.scenarios.vol_multiplier,
        "comonotone_share": cfg.scenarios.comonotone_share,
        "liquidity_multiplier": cfg.liquidity.liquidity_multiplier,
        "delay_steps": cfg.simulation.delay_steps if cfg.simulation.enabled else 0,
        "bonus_shift": 0.0,
        "horizon_days": cfg.scenarios.horizon_days,
        "volatility": cfg.estimators.volatility,
        "window_days": cfg.run.window_days,
    }[name]


def sweep_points(cfg: RunConfig) -> list[SweepPoint]:
    """The base point, then every one-at-a-time value, then every cell of every 2-way grid."""
    s = cfg.sensitivity
    points = [SweepPoint(0, "base", "base", {})]
    for name in ASSUMPTIONS:
        for v in getattr(s, name):
            points.append(SweepPoint(len(points), "one-at-a-time", name, {name: v}))
    for grid in s.grids:
        x, y = grid
        for vx, vy in itertools.product(getattr(s, x), getattr(s, y)):
            points.append(SweepPoint(len(points), "grid", f"{x}*{y}", {x: vx, y: vy}))
    return points


def check_sensitivity(cfg: RunConfig) -> None:
    """Validate ``[sensitivity]``: known assumptions in grids, values in range, estimators known."""
    s = cfg.sensitivity
    for grid in s.grids:
        if len(grid) != 2 or grid[0] == grid[1]:
            raise ConfigError(f"[sensitivity] grids: each grid names two different assumptions, got {list(grid)}")
        for name in grid:
            if name not in ASSUMPTIONS:
                new = RENAMED_KEYS.get(("sensitivity", name))
                hint = f"{name!r} was renamed: use {new!r}" if new else f"{name!r} is not an assumption"
                raise ConfigError(f"[sensitivity] grids: {hint}; use one of {', '.join(ASSUMPTIONS)}")
    for v in s.alpha:
        if not 0.5 <= v < 1:
            raise ConfigError(f"[sensitivity] alpha = {v} must be in [0.5, 1)")
    for name in ("vol_multiplier", "liquidity_multiplier"):
        for v in getattr(s, name):
            if not v > 0:
                raise ConfigError(f"[sensitivity] {name} = {v} must be > 0")
    for v in s.comonotone_share:
        if not 0 <= v <= 1:
            raise ConfigError(f"[sensitivity] comonotone_share = {v} must be in [0, 1]")
    for name, lo in (("horizon_days", 1), ("delay_steps", 0), ("window_days", 60)):
        for v in getattr(s, name):
            if v < lo:
                raise ConfigError(f"[sensitivity] {name} = {v} must be >= {lo}")
    for v in s.bonus_shift:
        if abs(v) >= 0.5:
            raise ConfigError(f"[sensitivity] bonus_shift = {v} is not a plausible shift (|shift| < 0.5)")


def delay_days(cfg: RunConfig, steps: int) -> int:
    """Extra horizon days standing for a liquidation delay of ``steps`` simulation steps.

    Only used when the market simulation is disabled; otherwise the delay is the simulation's.
    """
    if cfg.simulation.enabled:
        return 0
    return int(math.ceil(steps / cfg.simulation.steps_per_day)) if steps > 0 else 0


def point_config(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """The base configuration with the point's assumptions applied (validated like a file's)."""
    out = cfg
    o = dict(overrides)
    if "alpha" in o:
        out = out.with_overrides("optimizer", alpha=float(o["alpha"]))
    if "vol_multiplier" in o:
        out = out.with_overrides("scenarios", vol_multiplier=float(o["vol_multiplier"]))
    if "comonotone_share" in o:
        out = out.with_overrides("scenarios", comonotone_share=float(o["comonotone_share"]))
    if "liquidity_multiplier" in o:
        out = out.with_overrides("liquidity", liquidity_multiplier=float(o["liquidity_multiplier"]))
    horizon = int(o.get("horizon_days", cfg.scenarios.horizon_days)) + delay_days(cfg, int(o.get("delay_steps", 0)))
    if horizon != out.scenarios.horizon_days:
        out = out.with_overrides("scenarios", horizon_days=horizon)
    if "delay_steps" in o and cfg.simulation.enabled:
        out = out.with_overrides("simulation", delay_steps=int(o["delay_steps"]))
    if "volatility" in o:
        out = out.with_overrides("estimators", volatility=str(o["volatility"]))
    if "window_days" in o:
        out = out.with_overrides("run", window_days=int(o["window_days"]))
    shift = float(o.get("bonus_shift", 0.0))
    if shift:
        from optimizer.pipeline.run import configured_bonus, current_params
        from optimizer.protocol.params import shifted_bonus

        bonus = configured_bonus(out, current_params(out)[0])
        assets = {}
        for i, (t, a) in enumerate(out.assets.items()):
            assets[t] = dataclasses.replace(a, bonus=shifted_bonus(float(bonus[i]), shift))
        out = dataclasses.replace(out, assets=assets)
    return out


def fit_key(cfg: RunConfig) -> tuple[Any, ...]:
    """What the loaded data and the fitted model depend on (points sharing it share one fit)."""
    return (cfg.estimators.volatility, cfg.run.window_days, cfg.scenarios.price_correlation_stress)


# ---------------------------------------------------------------------------------------------
# Tasks (run on the workers; module-level functions so they pickle by reference)
# ---------------------------------------------------------------------------------------------
def fit_config(cfg: RunConfig) -> RunConfig:
    """The configuration a fit task loads: backtests only when the estimator choice needs them.

    The VaR backtests of a full report are left out (``volatility = "auto"`` still runs them, as
    its per-asset choice comes from them), and only a token number of scenarios is drawn: each
    point draws its own.
    """
    out = cfg.with_overrides("scenarios", n_scenarios=100)
    if {f.name for f in dataclasses.fields(out.backtest)} >= {"in_report"}:
        out = out.with_overrides("backtest", in_report=False)
    return out


def fit_task(cfg: RunConfig, data_dir: str) -> Any:
    """Load the window's prices, fit the scenario model and build the book, exactly as a run does.

    Returns the :class:`~optimizer.pipeline.run.RunInputs` the points of this fit share.
    """
    import warnings

    from optimizer.pipeline.run import load_inputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_inputs(fit_config(cfg), data_dir=Path(data_dir))


def _data_hashes(inputs: Any) -> tuple[str, dict[str, str]]:
    return inputs.prices.data_sha256, dict(inputs.input_files or inputs.prices.file_hashes)


def point_task(cfg: RunConfig, fitted: Any, streams: RunStreams | None = None) -> dict[str, Any]:
    """Solve one point as a run would: scenarios, the threshold program, the insurance fund.

    The scenarios and the simulation paths come from ``streams``, the point's own fresh copy of
    the run's streams (default ``RunStreams.from_seed(cfg.run.seed)``), so the base point
    reproduces ``riskopt run`` at the same number of scenarios; the fund is sized by the standard as in a run
    (the largest of the simulated tail, on the market simulation's bad debt when ``[simulation] enabled``, else on
    the static evaluation of the book; the worst stress-library loss; cover-2), ``fund_tail_usd`` being the first
    term alone. Errors a
    user can cause (an infeasible bound, a window too short) are returned as ``status="error"``
    with the message, so one bad point does not lose the sweep.
    """
    import warnings

    from optimizer.optimize import evaluate_book, solution_on_grid
    from optimizer.optimize import fund as fund_mod
    from optimizer.optimize.measures import capital_efficiency
    from optimizer.pipeline.pegs import redraw_peg_jumps
    from optimizer.pipeline.run import insurance_fund_size, solve_market
    from optimizer.pipeline.run_report import insurance_fund_at
    from optimizer.report.run_view import evaluation_source

    assets = list(cfg.asset_names)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen = copy.copy(fitted.generator)  # shallow: fitted arrays shared, parameters private
            gen.set_params(vol_multiplier=cfg.scenarios.vol_multiplier)
            streams = streams if streams is not None else RunStreams.from_seed(cfg.run.seed, book_seed=cfg.book.seed)
            scen = gen.simulate(cfg.scenarios.horizon_days, cfg.scenarios.n_scenarios, rng=streams.scenarios)
            # the depeg jumps at full size, as a run draws them (never rescaled by vol_multiplier)
            scen, pegs = redraw_peg_jumps(fitted.pegs, scen, horizon_days=cfg.scenarios.horizon_days,
                                          rng=streams.pegs)
            inputs = dataclasses.replace(fitted, config=cfg, generator=gen, scenarios=scen, pegs=pegs)
            fixed = solve_market(cfg, inputs)  # the point's own sale (its scenarios), as a run sizes it
            # priced on the grid, as a run prices what a delegate posts; the sweep reports the program's
            # LT/LTV (unrounded: a 25 bp step would hide how an assumption moves them)
            market, sol = fixed.problem, solution_on_grid(fixed.solution, cfg.guardrails.grid)
            if cfg.simulation.enabled:
                from optimizer.pipeline import market_sim

                paths, weights, _, _ = market_sim.simulation_sample(cfg, inputs, sol.recommended, market.slippage,
                                                                    streams.simulation)
                losses = np.asarray(market_sim.simulate(cfg, inputs, sol.recommended, paths).bad_debt, dtype=float)
                fund_source = evaluation_source(paths=paths.shape[0])
            else:
                losses = evaluate_book(inputs.book, scen.terminal, inputs.current, sol.recommended,
                                       market.slippage).total
                weights = None
                fund_source = evaluation_source()
            fund = fund_mod.size_fund(losses, epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence,
                                      weights=weights)
            # the fund by the standard, as a run sizes it: the tail, the worst stress loss, cover-2
            standard = insurance_fund_at(cfg, inputs, sol.recommended, market.slippage, fund)
    except OptimizerError as err:
        return {"status": "error", "error": str(err)}
    rec, program = sol.recommended, sol.unrounded
    return {
        "status": sol.status,
        "lt": {a: float(program.liquidation_threshold[i]) for i, a in enumerate(assets)},
        "ltv": {a: float(program.ltv[i]) for i, a in enumerate(assets)},
        "insurance_fund_usd": float(standard.fund_usd),
        "fund_binding_term": standard.binding,
        "fund_tail_usd": float(insurance_fund_size(fund)),
        "fund_source": fund_source,
        "capital_efficiency_usd": capital_efficiency(market.collateral, rec.ltv),
        "lp_objective_usd": float(sol.optimizer.objective_),
        "lp_worst_case_cvar_usd": float(sol.optimizer.cvar_),
        "risk_budget_usd": float(market.budget),
        "sigma_daily": {a: float(market.sigma[i]) for i, a in enumerate(assets)},
    }


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """A finished sweep: ``doc`` is the content of sensitivity.json; ``run_info`` has wall-clock data."""

    config: RunConfig
    points: list[SweepPoint]
    results: list[dict[str, Any]]
    doc: dict[str, Any]
    run_info: dict[str, Any]

    @property
    def n_errors(self) -> int:
        return sum(1 for r in self.results if r["status"] == "error")


def check_scheduler_address(scheduler: str | None) -> None:
    """Raise ConfigError naming ``--scheduler`` when it is not a Dask address (``tcp://host:8786``)."""
    if not scheduler:
        return
    from distributed.comm.addressing import get_address_host_port

    try:
        host, _ = get_address_host_port(scheduler)
    except ValueError as err:
        raise ConfigError(f"--scheduler {scheduler!r} is not a Dask scheduler address such as "
                          f"tcp://host:8786 ({err})") from None
    if not host or any(c.isspace() for c in host):
        raise ConfigError(f"--scheduler {scheduler!r} is not a Dask scheduler address such as tcp://host:8786")


def _open_client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError, ValueError) as err:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
    # dashboard on a free port (":0"): two sweeps on one machine must not fight over 8787
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def _close(client: Any, cluster: Any) -> None:
    """Close the client and the local cluster.

    Results are collected by then; a worker process whose interpreter takes longer than the
    nanny's few seconds to exit (tearing down arch, numba and cvxpy) is killed, which distributed
    reports as a warning that would only alarm a reader, so it is not shown.
    """
    import logging

    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    finally:
        nanny.setLevel(level)


def run_sensitivity(
    cfg: RunConfig,
    *,
    data_dir: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: Progress | None = None,
    command: str = "",
) -> SensitivityResult:
    """Solve every point of the configured sweeps on Dask and collect them in point order.

    Parameters
    ----------
    cfg : RunConfig
    data_dir : path, optional
        Price data (must be visible to the workers).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default a local cluster.
    workers : int, optional
        Worker processes of the local cluster (default ``[sensitivity] workers``).
    client : distributed.Client, optional
        Use this client (neither ``scheduler`` nor ``workers`` then apply).
    progress : Progress, optional
    command : str
    """
    from distributed import as_completed

    from optimizer.data import resolve_data_dir
    from optimizer.pipeline.run import library_versions, resolve_as_of

    t0 = time.perf_counter()
    progress = progress or Silent()
    check_sensitivity(cfg)
    if client is None:
        check_scheduler_address(scheduler)
    from optimizer.pipeline.preflight import check_inputs

    check_inputs(cfg, data_dir=data_dir)
    workers = int(workers if workers is not None else cfg.sensitivity.workers)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir).resolve()
    base = cfg.with_overrides("scenarios", n_scenarios=cfg.sensitivity.n_scenarios)
    base = resolve_as_of(base, data_dir=ddir)
    points = sweep_points(base)
    configs = [point_config(base, p.overrides) for p in points]
    unique: dict[str, RunConfig] = {}
    for c in configs:
        unique.setdefault(c.sha256, c)
    fits: dict[tuple[Any, ...], RunConfig] = {}
    for c in unique.values():
        fits.setdefault(fit_key(c), c)

    own_client = client is None
    cluster = None
    if own_client:
        where = f" at {scheduler}" if scheduler else f" ({workers} worker{'s' if workers != 1 else ''})"
        with progress.stage("starting Dask" + where):
            client, cluster = _open_client(scheduler, workers)
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        fit_f = {k: client.submit(fit_task, c, str(ddir), pure=False) for k, c in fits.items()}
        pt_f = {sha: client.submit(point_task, c, fit_f[fit_key(c)], RunStreams.from_seed(c.run.seed, book_seed=c.book.seed), pure=False)
                for sha, c in unique.items()}
        out: dict[str, dict[str, Any]] = {}
        with progress.counter(f"solving {len(unique)} distinct points of {len(points)}", len(unique)) as advance:
            futures = {f: sha for sha, f in pt_f.items()}
            for fut in as_completed(list(futures)):
                if fut.status == "error":
                    exc = fut.exception()
                    out[futures[fut]] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                else:
                    out[futures[fut]] = fut.result()
                advance(1)
        base_fit = fit_f[fit_key(configs[0])]
        if base_fit.status == "error":
            exc = base_fit.exception()
            raise exc if isinstance(exc, OptimizerError) else OptimizerError(f"fitting the base model failed: {exc}")
        meta_data = client.submit(_data_hashes, base_fit, pure=False).result()
    finally:
        if own_client:
            _close(client, cluster)

    results = [out[c.sha256] for c in configs]
    doc = build_document(base, points, configs, results, data=meta_data, versions=library_versions())
    run_info = {
        "created_utc": utc_timestamp(),
        "runtime_seconds": round(time.perf_counter() - t0, 2),
        "workers": n_workers,
        "scheduler": scheduler or "local cluster",
        "distinct_points": len(unique),
        "fits": len(fits),
        "command": command,
        "stage_seconds": dict(progress.timings),
    }
    return SensitivityResult(config=base, points=points, results=results, doc=doc, run_info=run_info)


# ---------------------------------------------------------------------------------------------
# sensitivity.json
# ---------------------------------------------------------------------------------------------
def build_document(base: RunConfig, points: list[SweepPoint], configs: list[RunConfig],
                   results: list[dict[str, Any]], *, data: tuple[str, dict[str, str]],
                   versions: dict[str, str]) -> dict[str, Any]:
    """The content of sensitivity.json: the sweep's setup and points handed to the report."""
    from optimizer import __version__
    from optimizer.report.sensitivity import SweepEntry, SweepSetup, sensitivity_document

    s = base.sensitivity
    alpha, share = base.alpha_and_budget_share()
    setup = SweepSetup(
        title=base.run.title, config_name=base.name, config_sha256=base.sha256, seed=int(base.run.seed),
        as_of=base.run.as_of, assets=tuple(base.asset_names),
        values={name: list(getattr(s, name)) for name in ASSUMPTIONS},
        base_values={name: base_value(base, name) for name in ASSUMPTIONS},
        grids=tuple((x, y) for x, y in s.grids),
        n_scenarios=base.scenarios.n_scenarios, horizon_days=base.scenarios.horizon_days,
        scenario_method=base.scenarios.method, volatility_estimator=base.estimators.volatility,
        alpha=alpha, budget_share=share, steps_per_day=base.simulation.steps_per_day,
        simulation_enabled=base.simulation.enabled,
        simulation_paths=min(base.simulation.n_scenarios, base.scenarios.n_scenarios),
    )
    entries = [SweepEntry(index=p.index, kind=p.kind, sweep=p.sweep, overrides=dict(p.overrides),
                          config_sha256=c.sha256, horizon_days=c.scenarios.horizon_days, result=r)
               for p, c, r in zip(points, configs, results, strict=True)]
    return sensitivity_document(setup, entries, package_version=__version__, data_sha256=data[0],
                                data_files=data[1], versions=versions)


def write_sensitivity(result: SensitivityResult, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write sensitivity.json, sensitivity.md, sensitivity.html and config.toml atomically."""
    from optimizer.report import write_report_dir
    from optimizer.report.sensitivity import render_sensitivity_html, render_sensitivity_md

    files: dict[str, Any] = {
        "sensitivity.json": lambda: sensitivity_json(result.doc),
        "sensitivity.md": lambda: render_sensitivity_md(result.doc, result.run_info),
        "sensitivity.html": lambda: render_sensitivity_html(result.doc, result.run_info),
        "config.toml": result.config.to_toml(),
    }
    return write_report_dir(Path(out_dir), files, overwrite=overwrite)


__all__ = [
    "ASSUMPTIONS",
    "SensitivityResult",
    "SweepPoint",
    "check_sensitivity",
    "point_config",
    "run_sensitivity",
    "sweep_points",
    "write_sensitivity",
]
