"""The run's :class:`RunReport`: the data model every renderer reads, assembled from a run's parts."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import utc_timestamp
from optimizer import __version__
from optimizer.optimize import LOSS_BAND_FIELDS
from optimizer.protocol.book import Book
from optimizer.report.model import FORMAT_VERSION, AssetResult, RunReport

if TYPE_CHECKING:
    from optimizer.optimize import RunMetrics, ThresholdProblem, ThresholdSolution
    from optimizer.pipeline.config import RunConfig
    from optimizer.pipeline.run import RunInputs

#: Placeholder LT of assets without current parameters (see run.current_params).
DEFAULT_LT = 0.70


def library_versions() -> dict[str, str]:
    """Versions of every library a result depends on (numpy's streams change across versions)."""
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for name in ("numpy", "pandas", "scipy", "arch", "cvxpy", "highspy", "clarabel", "optuna",
                 "numba", "scikit-learn", "matplotlib", "jinja2"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def insurance_fund_size(fund: Any) -> float:
    """The simulated tail's fund (term (a) of the standard): expected shortfall of bad debt at the
    configured confidence, never below the smallest fund with P(bad debt > fund) <= epsilon.

    The recommended fund is :func:`insurance_fund` (run, recalibrate and sensitivity alike); this
    term is reported beside it.
    """
    return float(fund.tail_fund_usd)


def insurance_fund(cfg: RunConfig, sizing: Any, stress: Any, cover: Any) -> Any:
    """The recommended fund of a run: :func:`optimizer.optimize.fund_by_standard` of the simulated
    (or static) tail ``sizing``, the stress library's losses (``pipeline.stress.StressOutcome``) and
    cover-2 ``cover``, with ``[fund] reference_usd`` beside it."""
    from optimizer.optimize import fund_by_standard

    return fund_by_standard(sizing, stress.bad_debt_recommended, cover, stress_names=stress.library.names,
                            reference_usd=cfg.fund.reference_usd)


def insurance_fund_at(cfg: RunConfig, inputs: Any, params: Any, slippage: Any, sizing: Any) -> Any:
    """:func:`insurance_fund` at ``params`` on ``inputs``: the stress library's losses and cover-2
    priced at those parameters and ``slippage``, beside the simulated (or static) tail ``sizing``.

    A run prices its stress library once for its report and calls :func:`insurance_fund` on it;
    the recalibration (at the scheduled parameters) and each sensitivity point call this.
    """
    from optimizer.optimize import stressed_cover2
    from optimizer.pipeline.stress import run_stress

    stress = run_stress(cfg, inputs, None, params, slippage)
    cover = stressed_cover2(inputs.book, params, slippage, stress.library.terminal, names=stress.library.names)
    return insurance_fund(cfg, sizing, stress, cover)


@dataclass(frozen=True, eq=False)
class BookOutcome:
    """What the recommended (and current) parameters do to the book, and the fund sized from it.

    ``metrics`` are the run's :class:`~optimizer.optimize.RunMetrics`; ``bad_debt`` and
    ``bad_debt_current`` are aggregate bad debt per scenario (or simulated path), ndarray of shape
    (n_scenarios,), USD; ``fund`` is the :class:`~optimizer.optimize.fund.FundSizing` of
    ``bad_debt``; ``fund_usd`` the recommended fund (:func:`insurance_fund_size`).
    """

    metrics: RunMetrics
    bad_debt: np.ndarray
    bad_debt_current: np.ndarray
    fund: Any
    fund_usd: float
    cover2_usd: float
    #: optimizer.optimize.FundStandard: the three terms of the fund and the binding one.
    standard: Any = None
    #: Probabilities of ``bad_debt``'s paths (a tail-stratified simulation sample); None: equal.
    bad_debt_weights: np.ndarray | None = None
    #: optimize.Band of the thresholds (the LP's answer, per asset) and of the fund, or None.
    lt_band: Any = None
    fund_band: Any = None
    #: ``{"recommended": Band, "current": Band}`` of the bad-debt measures (optimize.loss_band), or None.
    metrics_band: Any = None


@dataclass(frozen=True, eq=False)
class RunContext:
    """How the run was started and how long it took (report.md/report.html only, never params.json)."""

    t_start: float
    command: str
    stage_seconds: dict[str, float]


def assemble_report(cfg: RunConfig, inputs: RunInputs, market: ThresholdProblem, solution: ThresholdSolution,
                    binding: Sequence[str], outcome: BookOutcome, context: RunContext) -> RunReport:
    """The run's :class:`RunReport` from its inputs, market, solution, binding labels and book outcome."""
    from optimizer.optimize.references import analytic_threshold, smart_ltv
    from optimizer.report import run_view
    from optimizer.report.validation import date_span

    assets = cfg.asset_names
    gen, scen, book, cur = inputs.generator, inputs.scenarios, inputs.book, inputs.current
    opt, rec, alpha, budget = solution.optimizer, solution.recommended, market.alpha, market.budget
    bonus, slippage, basket = market.bonus, market.slippage, market.basket
    vol = gen.volatility_
    sigma = np.asarray(vol.forecast_, dtype=float)
    nu = np.asarray(vol.nu_, dtype=float)
    H = scen.horizon
    eps = cfg.optimizer.reference_epsilon
    analytic = analytic_threshold(sigma, H, nu, eps, bonus, slippage)
    debt_backed = _debt_backed(book)
    sltv = smart_ltv(sigma * np.sqrt(H), inputs.adv_usd * cfg.liquidity.reachable_volume_share,
                     np.maximum(debt_backed, 1.0), bonus, c=cfg.optimizer.smart_ltv_c)
    rets = inputs.returns
    log_t = np.log(scen.terminal)
    log_b = np.log(basket)
    results = []
    held, cap = market.ltv_held, market.held_lt_cap
    risk_limit = solution.risk_limit_lt
    for i, a in enumerate(assets):
        fit = vol.fits_.get(a) if hasattr(vol, "fits_") else None
        b_std = log_b[:, i].std()
        corr = float(np.corrcoef(log_t[:, i], log_b[:, i])[0, 1]) if b_std > 1e-12 and log_t[:, i].std() > 0 else None
        drivers = {
            "vol_annual": float(rets[a].std() * np.sqrt(365)),
            "vol_forecast_daily": float(sigma[i]),
            "tail_dof": float(nu[i]),
            "corr_to_debt": corr,
            "adv_usd": float(inputs.adv_usd[i]),
            "adv_source": inputs.adv_source[i],
            "depth_rule": inputs.liquidity.get(a).rule,
            "slippage": float(slippage[i]),
            "collateral_usd": float(book.collateral_by_asset[i]),
            "estimator": getattr(fit, "model", cfg.estimators.volatility),
            "fallback_reason": getattr(fit, "fallback_reason", None),
            "horizon_drop_q": float(np.quantile(scen.terminal[:, i], 1 - alpha)),
            "ltv_zero_kept": bool(solution.zero_kept[i]),
        }
        current = cur.asset_dict(a) if inputs.has_current[i] else None
        band = None
        if outcome.lt_band is not None:
            hw = float(outcome.lt_band.half_width[i])
            band = {"liquidation_threshold": hw, "ltv": 0.0 if solution.zero_kept[i] else hw}
        results.append(AssetResult(
            asset=a, current=current, recommended=rec.asset_dict(a), drivers=drivers,
            unrounded=None if solution.unrounded is None else solution.unrounded.asset_dict(a),
            references={"analytic_lt": float(analytic[i]), "smart_ltv": float(sltv[i])},
            binding=binding[i], band=band,
            policy=None if not held[i] else {
                "ltv_held_at": float(rec.ltv[i]), "lt_rule": market.held_ltv_lt,
                "lt_cap": float(cap[i]) if np.isfinite(cap[i]) else None,
                "risk_limit_lt": None if risk_limit is None else float(risk_limit[i]),
            },
        ))
    findings = [_finding_dict(f) for f in inputs.prices.findings] + _book_findings(inputs.book)
    msg = run_view.status_message(
        solution.status, alpha=alpha, budget_usd=budget, asset_share=market.asset_share,
        guard_fails=solution.guard_fails, solver_optimal=opt.status_ == "optimal",
        min_feasible_budget_usd=getattr(opt, "min_feasible_budget_", float("nan")),
        stress_budget_usd=None if market.stress is None else market.stress.budget,
        min_feasible_stress_budget_usd=float(getattr(opt, "min_feasible_stress_budget_", 0.0)),
    )
    meta = {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config_sha256": cfg.sha256,
        "data_sha256": inputs.prices.data_sha256,
        "data_files": dict(sorted((inputs.input_files or inputs.prices.file_hashes).items())),
        "seed": int(cfg.run.seed),
        "versions": library_versions(),
        "as_of": inputs.returns.index[-1].date().isoformat(),
    }
    method = {
        "scenario_method": cfg.scenarios.method,
        "n_scenarios": scen.n_scenarios,
        "horizon_days": H,
        "alpha": alpha,
        "appetite": cfg.optimizer.appetite.value,
        "risk_budget_usd": float(budget),
        "risk_budget_share_of_debt": float(budget / book.total_debt) if book.total_debt else None,
        "asset_guard_share": float(market.asset_share),
        "volatility_estimator": cfg.estimators.volatility,
        "correlation_estimator": cfg.estimators.correlation,
        "vol_multiplier": cfg.scenarios.vol_multiplier,
        "corr_stress": cfg.scenarios.comonotone_share,
        "solver": cfg.optimizer.solver,
        "optimizer_method": cfg.optimizer.method,
        "lp_rounds": int(getattr(opt, "n_rounds_", 0)),
        "lp_active_scenarios": int(getattr(opt, "n_active_scenarios_", 0)),
        "lp_stress_rows": 0 if market.stress is None else int(market.stress.k.shape[0]),
        "stress_budget_usd": None if market.stress is None else float(market.stress.budget),
        "book_source": book.source,
        "estimation_window": date_span(inputs.returns.index),
        "n_observations": len(inputs.returns),
        "history_start_by_asset": {str(a): inputs.returns[a].first_valid_index().date().isoformat()
                                   for a in inputs.returns.columns},
        "imputed_residual_cells": int(scen.info.get("imputed_residual_cells", 0)),
        "data_sources": list(cfg.data.sources),
    }
    if outcome.lt_band is not None:
        b = outcome.lt_band
        method["mc_band"] = {"method": b.method, "replications": b.n_batches, "level": b.level,
                             "replication": "scenario index mod replications"}
    if solution.grid is not None:
        method["grid"] = solution.grid.as_dict()
    gaps = inputs.returns.isna().sum()
    assumptions = run_view.run_assumptions(
        method,
        sale=market.sale,
        reachable_share=cfg.liquidity.reachable_volume_share,
        gaps={a: int(n) for a, n in gaps[gaps > 0].items()},
        no_current=[a for i, a in enumerate(assets) if not inputs.has_current[i]],
        placeholder_lt=DEFAULT_LT,
    )
    book_summary = {
        "source": book.source,
        "n_accounts": book.n_accounts,
        "n_borrowers": int((book.account_debt > 0).sum()),
        "total_collateral_usd": book.total_collateral,
        "total_debt_usd": book.total_debt,
        "collateral_by_asset": {a: float(v) for a, v in zip(assets, book.collateral_by_asset)},
        "debt_by_asset": {a: float(v) for a, v in zip(assets, book.debt_by_asset)},
    }
    fund = outcome.fund
    fund_d = {
        "insurance_fund_usd": float(outcome.fund_usd),
        "es_usd": float(fund.es_usd),
        "quantile_fund_usd": float(fund.fund_usd),
        "cover2_usd": float(outcome.cover2_usd),
        "epsilon": cfg.fund.epsilon,
        "confidence": cfg.fund.confidence,
        "mc_stderr_usd": float(fund.mc_stderr_usd),
        "prob_any_bad_debt": float(fund.prob_any),
        "curve": [[float(x), float(p)] for x, p in fund.curve],
        "sized_from": run_view.FUND_SIZED_FROM[bool(cfg.simulation.enabled)],
    }
    if outcome.standard is not None:
        fund_d.update(_standard_dict(outcome.standard))
    if outcome.fund_band is not None:
        fund_d["tail_band_usd"] = float(outcome.fund_band.half_width[0])
    if outcome.bad_debt_weights is not None:
        fund_d["paths"] = "tail-stratified sample of the scenarios (weighted)"
    run_info = {
        "created_utc": utc_timestamp(),
        "runtime_seconds": round(time.perf_counter() - context.t_start, 2),
        "stage_seconds": dict(context.stage_seconds),
        "command": context.command,
        "data_dir": None,
    }
    return RunReport(
        title=run_view.report_title(cfg.run.title, cfg.name),
        config_name=cfg.name,
        status=solution.status,
        status_message=msg,
        meta=meta,
        run_info=run_info,
        assets=results,
        insurance_fund_usd=float(outcome.fund_usd),
        metrics=outcome.metrics.as_dict(),
        metrics_current=outcome.metrics.current_dict() if any(inputs.has_current) else None,
        method=method,
        assumptions=assumptions,
        data_findings=findings,
        book_summary=book_summary,
        fund=fund_d,
        prices=inputs.prices.prices.loc[inputs.returns.index[0]:],
        volatility=vol.volatility_,
        correlation=np.asarray(gen.correlation_estimator_.correlation_
                               if hasattr(gen, "correlation_estimator_") else gen.correlation_),
        bad_debt=outcome.bad_debt,
        bad_debt_current=outcome.bad_debt_current,
        bad_debt_weights=outcome.bad_debt_weights,
        metrics_band=None if outcome.metrics_band is None else {
            name: dict(zip(LOSS_BAND_FIELDS, (float(h) for h in b.half_width), strict=True))
            for name, b in outcome.metrics_band.items()},
        config_text=cfg.to_toml(),
    )


def _standard_dict(std: Any) -> dict[str, Any]:
    """params.json ``fund``: the three terms of the standard, the binding one, the reference."""
    return {
        "terms": {t.name: {"usd": float(t.usd), "stderr_usd": None if t.stderr_usd is None else float(t.stderr_usd),
                           "deterministic": t.stderr_usd is None, "source": t.source} for t in std.terms},
        "binding_term": std.binding,
        "reference_usd": std.reference_usd,
        "fund_to_reference": std.reference_ratio,
    }


def _debt_backed(book: Book) -> np.ndarray:
    """Debt of the accounts holding each collateral asset, apportioned by collateral share, USD."""
    coll = book.collateral_matrix()
    tot = np.asarray(coll.sum(axis=1)).ravel()
    share = coll.multiply(1.0 / np.where(tot > 0, tot, 1.0)[:, None]).tocsr()
    return np.asarray(share.T @ book.account_debt).ravel()


def _book_findings(book: Book) -> list[dict[str, Any]]:
    """Accounts already insolvent in the book: a finding, since their shortfall is bad debt before any
    price move, whatever the parameters (a CSV book refuses debt without any collateral outright)."""
    bad = book.insolvent_accounts()
    if not len(bad):
        return []
    coll, debt = book.account_collateral[bad], book.account_debt[bad]
    worst = int(np.argmax(debt - coll))
    detail = (f"{len(bad)} account(s) already insolvent at the book's values (collateral below debt): "
              f"${float((debt - coll).sum()):,.0f} of their ${float(debt.sum()):,.0f} debt is bad debt before any "
              f"price move, whatever the parameters; largest shortfall {book.account_ids[bad[worst]]!r} "
              f"(${float(coll[worst]):,.0f} collateral, ${float(debt[worst]):,.0f} debt)")
    return [{"kind": "insolvent_accounts", "file": book.source, "asset": None, "start": None, "end": None,
             "detail": detail}]


def _finding_dict(f: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(f):
        d = dataclasses.asdict(f)
    else:
        d = dict(f)
    return {k: d.get(k) for k in ("kind", "file", "asset", "start", "end", "detail")}
