"""`riskopt sensitivity`: one-at-a-time and two-way sweeps of the assumptions, solved on Dask.

Each *point* of a sweep is the base configuration with one assumption (or two, for a grid)
changed; it is solved like a run (scenarios -> market -> threshold program -> fund) and gives
every asset's LT and LTV and the insurance fund. The assumptions (``[sensitivity]`` lists the
values of each):

=====================  ======================================================================
``alpha``              CVaR confidence of the risk budget (``[optimizer] alpha``)
``vol_multiplier``     every asset's volatility scaled (``[scenarios] vol_multiplier``)
``corr_stress``        correlation stress, blend toward 1 (``[scenarios] corr_stress``)
``liquidity_multiplier`` the volume liquidators can reach (``[liquidity] liquidity_multiplier``)
``delay_steps``        liquidation delay. This static model has no steps: a delay of ``d`` steps
                       of the dynamic simulation (``[simulation] steps_per_day``) is taken as
                       ``ceil(d / steps_per_day)`` extra days of liquidation horizon.
``bonus_shift``        every asset's liquidation bonus shifted (absolute, 0.01 = 1 point)
``horizon_days``       liquidation horizon (``[scenarios] horizon_days``)
``volatility``         volatility estimator (``[estimators] volatility``)
``window_days``        estimation window (``[run] window_days``)
=====================  ======================================================================

Every point uses ``[sensitivity] n_scenarios`` and the run seed: the same seed for every point
(common random numbers), so two points differ only by their assumption, not by Monte Carlo noise,
and a point's numbers do not depend on which worker solved it, how many workers there were or in
which order points finished. Points whose resolved configurations are identical (e.g. a
multiplier of 1) are solved once. The price data is loaded and the volatility model fitted once
per (estimator, window[, price-correlation stress]) combination, as a Dask task whose result the
points share; the book, which no assumption changes, is built once.

Points run on a ``distributed.LocalCluster`` (processes, one thread each) by default, or on an
existing cluster when a scheduler address is given (its workers must see the data directory).
Sweeps show the optimizer's answer; the anti-procyclicality tools of a full run are not applied.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.exceptions import ConfigError, OptimizerError
from optimizer.pipeline.config import RunConfig
from optimizer.pipeline.progress import Progress, Silent

#: Assumptions in display order, with labels and units for the report.
ASSUMPTIONS: dict[str, dict[str, str]] = {
    "alpha": {"label": "CVaR confidence", "fmt": "pct"},
    "vol_multiplier": {"label": "volatility multiplier", "fmt": "x"},
    "corr_stress": {"label": "correlation stress", "fmt": "num"},
    "liquidity_multiplier": {"label": "liquidity multiplier", "fmt": "x"},
    "delay_steps": {"label": "liquidation delay (steps)", "fmt": "int"},
    "bonus_shift": {"label": "bonus shift", "fmt": "pp"},
    "horizon_days": {"label": "horizon (days)", "fmt": "int"},
    "volatility": {"label": "volatility estimator", "fmt": "str"},
    "window_days": {"label": "estimation window (days)", "fmt": "int"},
}

#: Version of sensitivity.json.
SENSITIVITY_FORMAT_VERSION = 1


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
        "corr_stress": cfg.scenarios.corr_stress,
        "liquidity_multiplier": cfg.liquidity.liquidity_multiplier,
        "delay_steps": 0,
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
                raise ConfigError(
                    f"[sensitivity] grids: {name!r} is not an assumption; use one of {', '.join(ASSUMPTIONS)}"
                )
    for v in s.alpha:
        if not 0.5 <= v < 1:
            raise ConfigError(f"[sensitivity] alpha = {v} must be in [0.5, 1)")
    for name in ("vol_multiplier", "liquidity_multiplier"):
        for v in getattr(s, name):
            if not v > 0:
                raise ConfigError(f"[sensitivity] {name} = {v} must be > 0")
    for v in s.corr_stress:
        if not 0 <= v <= 1:
            raise ConfigError(f"[sensitivity] corr_stress = {v} must be in [0, 1]")
    for name, lo in (("horizon_days", 1), ("delay_steps", 0), ("window_days", 60)):
        for v in getattr(s, name):
            if v < lo:
                raise ConfigError(f"[sensitivity] {name} = {v} must be >= {lo}")
    for v in s.volatility:
        if v not in ("ewma", "garch", "gjr", "auto"):
            raise ConfigError(f"[sensitivity] volatility = {v!r} is not one of 'ewma', 'garch', 'gjr', 'auto'")
    for v in s.bonus_shift:
        if abs(v) >= 0.5:
            raise ConfigError(f"[sensitivity] bonus_shift = {v} is not a plausible shift (|shift| < 0.5)")


def delay_days(cfg: RunConfig, steps: int) -> int:
    """Extra horizon days standing for a liquidation delay of ``steps`` simulation steps."""
    return int(math.ceil(steps / cfg.simulation.steps_per_day)) if steps > 0 else 0


def point_config(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """The base configuration with the point's assumptions applied (validated like a file's)."""
    out = cfg
    o = dict(overrides)
    if "alpha" in o:
        out = out.with_overrides("optimizer", alpha=float(o["alpha"]))
    if "vol_multiplier" in o:
        out = out.with_overrides("scenarios", vol_multiplier=float(o["vol_multiplier"]))
    if "corr_stress" in o:
        out = out.with_overrides("scenarios", corr_stress=float(o["corr_stress"]))
    if "liquidity_multiplier" in o:
        out = out.with_overrides("liquidity", liquidity_multiplier=float(o["liquidity_multiplier"]))
    horizon = int(o.get("horizon_days", cfg.scenarios.horizon_days)) + delay_days(cfg, int(o.get("delay_steps", 0)))
    if horizon != out.scenarios.horizon_days:
        out = out.with_overrides("scenarios", horizon_days=horizon)
    if "volatility" in o:
        out = out.with_overrides("estimators", volatility=str(o["volatility"]))
    if "window_days" in o:
        out = out.with_overrides("run", window_days=int(o["window_days"]))
    shift = float(o.get("bonus_shift", 0.0))
    if shift:
        from optimizer.pipeline.run import current_params

        current, _ = current_params(out)
        assets = {}
        for i, (t, a) in enumerate(out.assets.items()):
            b = a.bonus if a.bonus is not None else float(current.liquidation_bonus[i])
            assets[t] = dataclasses.replace(a, bonus=float(np.clip(round(b + shift, 10), 0.0, 0.5)))
        out = dataclasses.replace(out, assets=assets)
    return out


def _generator_stress_field(cfg: RunConfig) -> str:
    """The [scenarios] key the scenario generator's correlation stress is read from."""
    names = {f.name for f in dataclasses.fields(cfg.scenarios)}
    return "price_corr_stress" if "price_corr_stress" in names else "corr_stress"


def fit_key(cfg: RunConfig) -> tuple[Any, ...]:
    """What the loaded data and the fitted model depend on (points sharing it share one fit)."""
    return (cfg.estimators.volatility, cfg.run.window_days, getattr(cfg.scenarios, _generator_stress_field(cfg)))


# ---------------------------------------------------------------------------------------------
# Tasks (run on the workers; module-level functions so they pickle by reference)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FittedModel:
    """Data and fitted scenario generator shared by the points of one fit key."""

    prices: Any
    returns: Any
    generator: Any
    adv_usd: np.ndarray
    adv_source: tuple[str, ...]
    data_sha256: str
    data_files: dict[str, str]


def fit_task(cfg: RunConfig, data_dir: str) -> FittedModel:
    """Load the window's prices and fit the scenario generator (as a run does)."""
    import warnings

    from optimizer.exceptions import DataError
    from optimizer.pipeline.run import _average_daily_volume, load_asset_prices, make_generator, resolve_window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start, as_of = resolve_window(cfg, cfg.run.as_of)
        prices = load_asset_prices(cfg, Path(data_dir), start=start, as_of=as_of,
                                   min_history_days=cfg.data.min_history_days)
        returns = prices.returns()
        if len(returns) < cfg.data.min_history_days:
            raise DataError(f"only {len(returns)} days of common returns up to {as_of} with window_days="
                            f"{cfg.run.window_days} (need {cfg.data.min_history_days})")
        gen = make_generator(cfg, cfg.estimators.volatility).fit(returns)
    adv, src = _average_daily_volume(cfg, prices)
    return FittedModel(prices=prices, returns=returns, generator=gen, adv_usd=adv, adv_source=src,
                       data_sha256=prices.data_sha256, data_files=dict(prices.file_hashes))


def _data_hashes(fitted: FittedModel) -> tuple[str, dict[str, str]]:
    return fitted.data_sha256, fitted.data_files


def point_task(cfg: RunConfig, fitted: FittedModel, book: Any) -> dict[str, Any]:
    """Solve one point: scenarios from the shared fit, the threshold program, the fund.

    Errors a user can cause (an infeasible bound, a window too short) are returned as
    ``status="error"`` with the message, so one bad point does not lose the sweep.
    """
    import warnings

    from optimizer.optimize import fund as fund_mod
    from optimizer.pipeline.run import (
        RunInputs,
        current_params,
        evaluate_book,
        insurance_fund_size,
        prepare_market,
        solve_thresholds,
    )

    assets = list(cfg.asset_names)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen = copy.copy(fitted.generator)  # shallow: fitted arrays shared, parameters private
            gen.set_params(vol_multiplier=cfg.scenarios.vol_multiplier)
            _, rng_scen = np.random.default_rng(cfg.run.seed).spawn(2)
            scen = gen.simulate(cfg.scenarios.horizon_days, cfg.scenarios.n_scenarios, rng=rng_scen)
            current, has_current = current_params(cfg)
            inputs = RunInputs(config=cfg, prices=fitted.prices, returns=fitted.returns, generator=gen,
                               scenarios=scen, book=book, current=current, has_current=has_current,
                               adv_usd=fitted.adv_usd, adv_source=fitted.adv_source, seed=cfg.run.seed)
            market = prepare_market(cfg, inputs)
            sol = solve_thresholds(cfg, inputs, market)
            ev = evaluate_book(book, scen, current, sol.recommended, market.slippage)
            fund = fund_mod.size_fund(ev["total"], epsilon=cfg.fund.epsilon, confidence=cfg.fund.confidence)
    except OptimizerError as err:
        return {"status": "error", "error": str(err)}
    rec = sol.recommended
    return {
        "status": sol.status,
        "lt": {a: float(rec.liquidation_threshold[i]) for i, a in enumerate(assets)},
        "ltv": {a: float(rec.ltv[i]) for i, a in enumerate(assets)},
        "insurance_fund_usd": float(insurance_fund_size(fund)),
        "capital_efficiency_usd": float(np.dot(market.collateral, rec.ltv)),
        "lp_objective_usd": float(sol.optimizer.objective_),
        "lp_worst_case_cvar_usd": float(sol.optimizer.cvar_),
        "risk_budget_usd": float(market.budget),
        "sigma_daily": {a: float(market.sigma[i]) for i, a in enumerate(assets)},
    }


def _build_book(cfg: RunConfig) -> Any:
    """The book every point shares (no assumption changes it), built as a run builds it."""
    from optimizer.pipeline.run import current_params
    from optimizer.protocol.books import load_book_csv, synthetic_book

    assets = cfg.asset_names
    rng_book, _ = np.random.default_rng(cfg.run.seed).spawn(2)
    current, _ = current_params(cfg)
    if cfg.book.kind == "csv":
        path = Path(cfg.book.path)
        if not path.is_absolute() and cfg.path:
            path = Path(cfg.path).parent / path
        return load_book_csv(path, assets)
    return synthetic_book(
        assets,
        supplied_usd=np.array([cfg.assets[a].supplied_usd for a in assets]),
        borrowed_usd=np.array([cfg.assets[a].borrowed_usd for a in assets]),
        n_accounts=cfg.book.n_accounts, current=current, rng=rng_book, size_tail=cfg.book.size_tail,
        hf_median=cfg.book.hf_median, hf_sigma=cfg.book.hf_sigma, hf_min=cfg.book.hf_min,
    )


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


def _open_client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as err:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
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

    with progress.stage("building the book"):
        book = _build_book(base)

    own_client = client is None
    cluster = None
    if own_client:
        where = f" at {scheduler}" if scheduler else f" ({workers} worker{'s' if workers != 1 else ''})"
        with progress.stage("starting Dask" + where):
            client, cluster = _open_client(scheduler, workers)
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        book_f = client.scatter(book, broadcast=True)
        fit_f = {k: client.submit(fit_task, c, str(ddir), pure=False) for k, c in fits.items()}
        pt_f = {sha: client.submit(point_task, c, fit_f[fit_key(c)], book_f, pure=False)
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
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
def _tornado(base_val: float | None, points: list[tuple[Any, float | None]]) -> dict[str, Any] | None:
    """Lowest and highest outcome of one assumption's sweep, relative to the base."""
    vals = [(v, y) for v, y in points if y is not None and math.isfinite(y)]
    if base_val is None or not vals:
        return None
    lo = min(vals, key=lambda t: t[1])
    hi = max(vals, key=lambda t: t[1])
    return {"low": lo[1] - base_val, "low_value": lo[0], "high": hi[1] - base_val, "high_value": hi[0],
            "range": hi[1] - lo[1]}


def build_document(base: RunConfig, points: list[SweepPoint], configs: list[RunConfig],
                   results: list[dict[str, Any]], *, data: tuple[str, dict[str, str]],
                   versions: dict[str, str]) -> dict[str, Any]:
    """The content of sensitivity.json (plain JSON types, no wall-clock values)."""
    from optimizer import __version__
    from optimizer.report._format import canonicalize

    assets = list(base.asset_names)
    s = base.sensitivity
    entries = []
    for p, c, r in zip(points, configs, results, strict=True):
        e = {"index": p.index, "kind": p.kind, "sweep": p.sweep, "overrides": dict(p.overrides),
             "config_sha256": c.sha256, "horizon_days": c.scenarios.horizon_days, **r}
        entries.append(e)
    b = results[0]
    base_lt = b.get("lt") or {}
    base_fund = b.get("insurance_fund_usd")
    tornado: dict[str, Any] = {a: {} for a in assets}
    tornado["insurance_fund_usd"] = {}
    for name in ASSUMPTIONS:
        sweep = [(p, r) for p, r in zip(points, results, strict=True) if p.sweep == name]
        if not sweep:
            continue
        for a in assets:
            t = _tornado(base_lt.get(a), [(p.overrides[name], (r.get("lt") or {}).get(a)) for p, r in sweep])
            if t is not None:
                tornado[a][name] = t
        t = _tornado(base_fund, [(p.overrides[name], r.get("insurance_fund_usd")) for p, r in sweep])
        if t is not None:
            tornado["insurance_fund_usd"][name] = t
    grids = []
    for x, y in s.grids:
        xs, ys = list(getattr(s, x)), list(getattr(s, y))
        cells = {(p.overrides[x], p.overrides[y]): r for p, r in zip(points, results, strict=True)
                 if p.sweep == f"{x}*{y}"}
        def mat(get):
            return [[get(cells.get((vx, vy), {})) for vx in xs] for vy in ys]
        grids.append({
            "x": x, "y": y, "x_values": xs, "y_values": ys,
            "lt": {a: mat(lambda r, a=a: (r.get("lt") or {}).get(a)) for a in assets},
            "insurance_fund_usd": mat(lambda r: r.get("insurance_fund_usd")),
            "status": mat(lambda r: r.get("status")),
        })
    assumptions = {
        name: {"label": meta["label"], "fmt": meta["fmt"], "values": list(getattr(s, name)),
               "base": base_value(base, name)}
        for name, meta in ASSUMPTIONS.items()
    }
    notes = [
        "Every point uses the run seed (common random numbers): differences between points come from the "
        "assumption, not from Monte Carlo noise.",
        f"Liquidation delay: this static model has no time steps; a delay of d steps of the dynamic simulation "
        f"({base.simulation.steps_per_day} steps per day) is taken as ceil(d / {base.simulation.steps_per_day}) "
        "extra days of liquidation horizon.",
        "Correlation stress ([scenarios] corr_stress) blends correlations toward 1; it acts mainly through the "
        "aggregate risk budget, so it can move an asset's threshold less than its own volatility does.",
        "Points show the optimizer's answer; the anti-procyclicality tools of a full run are not applied.",
    ]
    if base.estimators.volatility == "auto" or "auto" in s.volatility:
        notes.append("volatility = 'auto' is fitted as GARCH here (the per-asset choice needs the VaR backtests "
                     "of a full run).")
    alpha, share = base.alpha_and_budget_share()
    doc = {
        "format_version": SENSITIVITY_FORMAT_VERSION,
        "title": base.run.title or f"riskopt: {base.name}",
        "config_name": base.name,
        "assets": assets,
        "assumptions": assumptions,
        "points": entries,
        "base": entries[0],
        "tornado": tornado,
        "grids": grids,
        "n_points": len(points),
        "n_errors": sum(1 for r in results if r["status"] == "error"),
        "notes": notes,
        "method": {
            "n_scenarios": base.scenarios.n_scenarios,
            "horizon_days": base.scenarios.horizon_days,
            "scenario_method": base.scenarios.method,
            "volatility_estimator": base.estimators.volatility,
            "alpha": alpha,
            "risk_budget_share_of_debt": share,
            "steps_per_day": base.simulation.steps_per_day,
            "seeding": "every point uses the run seed (common random numbers)",
            "delay": ("static model: a delay of d simulation steps is ceil(d / steps_per_day) extra days of "
                      "liquidation horizon"),
        },
        "meta": {
            "format_version": SENSITIVITY_FORMAT_VERSION,
            "package_version": __version__,
            "config_sha256": base.sha256,
            "data_sha256": data[0],
            "data_files": dict(sorted(data[1].items())),
            "seed": int(base.run.seed),
            "as_of": base.run.as_of,
            "versions": versions,
        },
    }
    return canonicalize(doc)


def sensitivity_json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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
