"""The run's :class:`RunReport`: the data model every renderer reads, assembled from a run's parts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import numpy as np

from optimizer import __version__
from optimizer.optimize import RunStatus
from optimizer.protocol.book import Book
from optimizer.report.model import FORMAT_VERSION, AssetResult, RunReport

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
    """The recommended fund: expected shortfall of bad debt at the configured confidence.

    It is never below the smallest fund with P(bad debt > fund) <= epsilon (shown beside it), so
    both targets hold.
    """
    return float(max(fund.es_usd, fund.fund_usd))


def assemble_report(cfg, inputs, opt, binding, guard_fails, asset_share, rec, bonus, slippage, weights, basket, alpha, budget, fund,
                     cover2_usd, metrics, metrics_cur, ev_rec, ev_cur, zero_kept, status, progress,
                     t_start, command, *, fund_usd: float) -> RunReport:
    from optimizer.optimize.references import analytic_threshold, smart_ltv

    assets = cfg.asset_names
    gen, scen, book, cur = inputs.generator, inputs.scenarios, inputs.book, inputs.current
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
            "slippage": float(slippage[i]),
            "collateral_usd": float(book.collateral_by_asset[i]),
            "estimator": getattr(fit, "model", cfg.estimators.volatility),
            "fallback_reason": getattr(fit, "fallback_reason", None),
            "horizon_drop_q": float(np.quantile(scen.terminal[:, i], 1 - alpha)),
            "ltv_zero_kept": bool(zero_kept[i]),
        }
        current = cur.asset_dict(a) if inputs.has_current[i] else None
        results.append(AssetResult(
            asset=a, current=current, recommended=rec.asset_dict(a), drivers=drivers,
            references={"analytic_lt": float(analytic[i]), "smart_ltv": float(sltv[i])},
            binding=binding[i],
        ))
    findings = [_finding_dict(f) for f in inputs.prices.findings]
    if status == RunStatus.OK:
        msg = (f"The recommended parameters keep the {alpha:.1%} CVaR of bad debt for accounts at the "
               f"threshold within the budget of ${budget:,.0f}.")
    elif guard_fails and opt.status_ == "optimal":
        msg = (f"Risk target not met for {', '.join(guard_fails)}: even at the lowest allowed threshold the "
               f"{alpha:.1%} CVaR of bad debt per USD of collateral at the threshold exceeds the per-asset "
               f"guard of {asset_share:.2%}; those assets are shown at their lowest allowed threshold. "
               "Consider delisting them as collateral, raising lt_min's floor or the guard.")
    else:
        msg = (f"Risk target not met: even at the lowest allowed thresholds the {alpha:.1%} CVaR of bad debt "
               f"is ${opt.min_feasible_budget_:,.0f}, above the budget of ${budget:,.0f}. The smallest "
               f"feasible budget is ${opt.min_feasible_budget_:,.0f}; the parameters shown are the "
               f"most conservative allowed.")
    meta = {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config_sha256": cfg.sha256,
        "data_sha256": inputs.prices.data_sha256,
        "data_files": dict(sorted(inputs.prices.file_hashes.items())),
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
        "asset_guard_share": float(asset_share),
        "volatility_estimator": cfg.estimators.volatility,
        "correlation_estimator": cfg.estimators.correlation,
        "vol_multiplier": cfg.scenarios.vol_multiplier,
        "corr_stress": cfg.scenarios.comonotone_share,
        "solver": cfg.optimizer.solver,
        "optimizer_method": cfg.optimizer.method,
        "lp_rounds": int(getattr(opt, "n_rounds_", 0)),
        "lp_active_scenarios": int(getattr(opt, "n_active_scenarios_", 0)),
        "book_source": book.source,
        "estimation_window": f"{inputs.returns.index[0].date()} .. {inputs.returns.index[-1].date()}",
        "n_observations": len(inputs.returns),
        "imputed_residual_cells": int(scen.info.get("imputed_residual_cells", 0)),
        "data_source": cfg.data.source,
    }
    assumptions = [
        f"Scenarios: {cfg.scenarios.method.upper()} over a {H}-day liquidation horizon, {scen.n_scenarios:,} joint "
        "price paths; prices are USDT-quoted closes treated as USD." if cfg.data.source == "binance" else
        f"Scenarios: {cfg.scenarios.method.upper()} over a {H}-day liquidation horizon, {scen.n_scenarios:,} paths.",
        "Optimizer worst case: every borrowing account sits exactly at its liquidation threshold when the shock "
        "starts; its bad debt is max(LT - k, 0) per USD of collateral, k being what liquidation recovers "
        "(collateral / debt-basket price relative x (1 - slippage) / (1 + bonus)).",
        f"Per-asset guard: each asset's own {alpha:.1%} CVaR of bad debt per USD of collateral at the threshold "
        f"is at most {asset_share:.2%}, so a small asset cannot take a loose threshold by hiding in the "
        "aggregate tail.",
        "Book metrics: borrowers keep their health factor when parameters change (debt re-levered), so "
        "looser thresholds mean more debt at risk.",
        "Liquidation slippage: square-root impact of selling "
        f"{cfg.liquidity.liquidation_share:.0%} of the asset's collateral against "
        f"{cfg.liquidity.reachable_volume_share:.0%} of its daily volume.",
        "Static model: one shock over the horizon, no cascades or oracle lag (see the market simulation).",
        "Debt per collateral asset follows the book's debt mix of the accounts holding it.",
    ]
    if book.source == "synthetic":
        assumptions.append("The book is synthetic, calibrated to the configured supplied and borrowed totals "
                           "with heavy-tailed account sizes; load the real book for a live proposal.")
    gaps = inputs.returns.isna().sum()
    gaps = gaps[gaps > 0]
    if len(gaps):
        n_imputed = int(scen.info.get("imputed_residual_cells", 0))
        assumptions.append(
            "Trading gaps: "
            + ", ".join(f"{a} has no one-day return on {int(n)} day(s)" for a, n in gaps.items())
            + " of the estimation window. Those days are kept for the other assets and nothing is "
            "filled; the volatility models skip the missing days, correlations use the days "
            "complete across all assets"
            + (", and FHS replaces a missing residual on a drawn day with one of that asset's own "
               f"residuals drawn at random ({n_imputed} residual cells)."
               if scen.method == "fhs" else ".")
        )
    missing_cur = [a for i, a in enumerate(assets) if not inputs.has_current[i]]
    if missing_cur:
        assumptions.append(f"No current parameters given for {', '.join(missing_cur)}: the book was shaped with "
                           f"placeholder LT {DEFAULT_LT} and those assets have no before/after comparison.")
    book_summary = {
        "source": book.source,
        "n_accounts": book.n_accounts,
        "n_borrowers": int((book.account_debt > 0).sum()),
        "total_collateral_usd": book.total_collateral,
        "total_debt_usd": book.total_debt,
        "collateral_by_asset": {a: float(v) for a, v in zip(assets, book.collateral_by_asset)},
        "debt_by_asset": {a: float(v) for a, v in zip(assets, book.debt_by_asset)},
    }
    fund_d = {
        "insurance_fund_usd": float(fund_usd),
        "es_usd": float(fund.es_usd),
        "quantile_fund_usd": float(fund.fund_usd),
        "cover2_usd": float(cover2_usd),
        "epsilon": cfg.fund.epsilon,
        "confidence": cfg.fund.confidence,
        "mc_stderr_usd": float(fund.mc_stderr_usd),
        "prob_any_bad_debt": float(fund.prob_any),
        "curve": [[float(x), float(p)] for x, p in fund.curve],
        "sized_from": ("dynamic simulation with cascades" if cfg.simulation.enabled
                       else "static scenarios on the book"),
    }
    run_info = {
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "runtime_seconds": round(time.perf_counter() - t_start, 2),
        "stage_seconds": dict(progress.timings),
        "command": command,
        "data_dir": None,
    }
    return RunReport(
        title=cfg.run.title or f"riskopt: {cfg.name}",
        config_name=cfg.name,
        status=status,
        status_message=msg,
        meta=meta,
        run_info=run_info,
        assets=results,
        insurance_fund_usd=float(fund_usd),
        metrics=metrics,
        metrics_current=metrics_cur if any(inputs.has_current) else None,
        method=method,
        assumptions=assumptions,
        data_findings=findings,
        book_summary=book_summary,
        fund=fund_d,
        prices=inputs.prices.prices.loc[inputs.returns.index[0]:],
        volatility=vol.volatility_,
        correlation=np.asarray(gen.correlation_estimator_.correlation_
                               if hasattr(gen, "correlation_estimator_") else gen.correlation_),
        bad_debt=ev_rec.total,
        bad_debt_current=ev_cur.total,
        config_text=cfg.to_toml(),
    )


def _debt_backed(book: Book) -> np.ndarray:
    """Debt of the accounts holding each collateral asset, apportioned by collateral share, USD."""
    coll = book.collateral_matrix()
    tot = np.asarray(coll.sum(axis=1)).ravel()
    share = coll.multiply(1.0 / np.where(tot > 0, tot, 1.0)[:, None]).tocsr()
    return np.asarray(share.T @ book.account_debt).ravel()


def _finding_dict(f: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(f):
        d = dataclasses.asdict(f)
    else:
        d = dict(f)
    return {k: d.get(k) for k in ("kind", "file", "asset", "start", "end", "detail")}
