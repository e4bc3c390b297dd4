"""`riskopt backtest`: VaR backtests over the full data and crash replays of dated episodes.

For each episode ``[start, end]`` of ``[backtest] episodes``:

1. ``as_of`` is the day before ``start``. An asset takes part when the data has its close on that
   day and on every day of the episode, and at least ``[data] min_history_days`` prices before it;
   the others are listed with the reason (data starts later, a gap, too little history). An episode
   with no such asset is "not covered".
2. The run is repeated as a recalibration on ``as_of`` would have done it: the same configuration
   restricted to those assets, fitted on data up to ``as_of`` only, giving recommended parameters
   and an insurance fund. (Current parameters, book sizes and liquidity are the config's: no
   historical snapshot of them is available.)
3. The realised path of daily closes, from the close of ``as_of`` to ``end``, is replayed through the
   protocol with the book under the recommended parameters (borrowers keep their health factor, as
   in the run): the dynamic market simulation (:func:`optimizer.protocol.simulation.simulate_market`,
   one step per day, liquidations with price impact and cascades) when it is available, else the
   static kernel; beside it the static kernel on the episode's worst daily close, the same under the
   current parameters, and the optimizer's worst case (every borrower at its threshold when the
   episode starts). Realised bad debt is compared with the fund.
4. Per asset: the worst close of the episode against the ``as_of`` close, the asset's buffers
   (``1 - LT x (1 + bonus)``, the drop that makes an account at the threshold insolvent; and the
   LT - LTV gap, with ``1 - LTV / LT``, the drop that takes a borrower at the maximum LTV to
   liquidation), and the model's probability of a move at least as bad: the share of the run's
   simulated paths over the episode's length whose lowest point is at least as low.

A failed episode (bad debt above the fund, a move the model called impossible) is reported as a
finding; an episode whose run raised an error is reported with the message and the others go on.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.report._format import utc_timestamp
from optimizer import __version__
from optimizer.estimators import VaRBacktests
from optimizer.exceptions import ConvergenceWarning, DataQualityWarning, OptimizerError
from optimizer.pipeline.config import RunConfig
from optimizer.pipeline.progress import Progress, Silent

__all__ = ["BacktestOutcome", "EpisodeOutcome", "run_backtest", "write_backtest"]

#: The impact law of a replay: the run's depth curves (:class:`~optimizer.protocol.liquidity.DepthSlippage`),
#: scaled with the episode's volatility like every use of the law.
REPLAY_IMPACT = "curve"


@dataclass(frozen=True, eq=False)
class EpisodeOutcome:
    """One replayed (or skipped) episode; ``data`` is its JSON record."""

    start: str
    end: str
    covered: bool
    data: dict[str, Any]


@dataclass(frozen=True, eq=False)
class BacktestOutcome:
    """Everything `riskopt backtest` found; :func:`backtest_record` turns it into backtest.json."""

    config: RunConfig
    episodes: list[EpisodeOutcome]
    var_backtests: VaRBacktests
    meta: dict[str, Any]
    run_info: dict[str, Any] = field(default_factory=dict)


def _episode_config(cfg: RunConfig, assets: list[str], as_of: str) -> RunConfig:
    sub = dataclasses.replace(cfg, assets={a: cfg.assets[a] for a in assets})
    sub = sub.with_overrides("run", as_of=as_of)
    # Not needed for a replay: the in-run backtest section (auto still backtests, point in time) and
    # the frontier search (it reports alternatives; the recommendation and the fund do not use it).
    return sub.with_overrides("backtest", in_report=False).with_overrides("search", enabled=False)


def _simulate_dynamic(cfg: RunConfig, book: Any, relatives: np.ndarray, params: Any, scale: np.ndarray,
                      law: Any, sigma: np.ndarray) -> Any | None:
    """Replay one path through the market simulation; None when the simulation is not installed.

    The impact law is the run's depth-curve law ``law``, one step per day.
    """
    try:
        from optimizer.protocol.simulation import simulate_market
    except ImportError:
        return None
    sim = cfg.simulation
    return simulate_market(
        book, relatives, params, adv_usd=np.ones(book.n_assets), sigma_daily=sigma, slippage_law=law,
        reachable_share=cfg.liquidity.reachable_volume_share,
        liquidity_multiplier=cfg.liquidity.liquidity_multiplier, impact_coef=cfg.liquidity.impact_coef,
        impact=REPLAY_IMPACT, oracle_lag_steps=0, delay_steps=0, gas_usd=sim.gas_usd, cascades=sim.cascades,
        debt_scale=scale, steps_per_day=1, dtype=np.float64,
    )


def _book_health(book: Any, params: Any, scale: np.ndarray) -> float | None:
    """Lowest health factor of a borrower at the start (debt re-levered to ``params``)."""
    from optimizer.protocol.mechanics import health_factor

    coll = book.collateral_matrix().toarray()
    debt = book.debt_matrix().toarray().sum(axis=1) * scale
    ok = debt > 0
    if not ok.any():
        return None
    return float(health_factor(coll[ok], debt[ok], params.liquidation_threshold).min())


def _impact_before_days(cfg: RunConfig, book: Any, relatives: np.ndarray, params: Any, scale: np.ndarray,
                        law: Any, sigma: np.ndarray) -> np.ndarray | None:
    """Price drop from the liquidation sales of the days before each day of the dynamic replay,
    shape (n_days, n_assets): the simulation rerun on each shorter prefix of the path (it is causal)."""
    n_days = relatives.shape[1]
    out = np.zeros((n_days, book.n_assets))
    for k in range(1, n_days):
        res = _simulate_dynamic(cfg, book, relatives[:, :k], params, scale, law, sigma)
        if res is None:
            return None
        out[k] = res.final_impact[0]
    return out


def _account_record(book: Any, m: Any, a: int, debt: np.ndarray, scale: np.ndarray, params: Any,
                    emode: np.ndarray, dates: list[str]) -> dict[str, Any]:
    from optimizer.protocol.mechanics import health_factor

    sl_c = slice(book.coll_indptr[a], book.coll_indptr[a + 1])
    sl_d = slice(book.debt_indptr[a], book.debt_indptr[a + 1])
    coll = book.collateral_matrix()[a].toarray()[0]
    return {
        "account": book.account_ids[a],
        "debt_rank": int((debt > debt[a]).sum()) + 1,
        "margin": float(m.margin[a]),
        "worst_close": dates[int(m.worst_day[a])],
        "health_factor_start": float(health_factor(coll, debt[a], params.liquidation_threshold)),
        "emode_rule": bool(emode[a]),
        "collateral_usd": {book.assets[i]: float(v) for i, v in zip(book.coll_asset[sl_c], book.coll_usd[sl_c])},
        "debt_usd": {book.assets[i]: float(v) * float(scale[a])
                     for i, v in zip(book.debt_asset[sl_d], book.debt_usd[sl_d])},
    }


def book_exposure(book: Any, days: np.ndarray, params: Any, slippage: np.ndarray, scale: np.ndarray,
                  calibration: Any, dates: list[str], dynamic_days: np.ndarray | None = None) -> dict[str, Any]:
    """Which accounts could lose on the episode's closes (:func:`optimizer.protocol.replay.insolvency_margins`):
    how many were insolvent at some close (and how many of them the calibrated book placed by its e-mode
    rule), and the account that came closest, with its margin, positions and starting health factor.

    The top-level figures charge the run's liquidation-day ``slippage`` to the protocol (the static
    replay's recovery). ``dynamic`` gives the same under the dynamic replay's rule (the liquidator is paid
    its bonus at the oracle price and bears its own slippage) at the prices that replay saw,
    ``dynamic_days`` (the closes after the impact of earlier days' sales; default the closes)."""
    from optimizer.protocol.replay import insolvency_margins

    debt = book.account_debt * scale
    emode = calibration.emode if calibration is not None else np.zeros(book.n_accounts, dtype=bool)
    out: dict[str, Any] = {}
    for key, path, slip in (("static", days, slippage),
                            ("dynamic", days if dynamic_days is None else dynamic_days, None)):
        m = insolvency_margins(book, path, params, slippage=slip, debt_scale=scale)
        ins = m.insolvent
        rec: dict[str, Any] = {
            "accounts_insolvent_at_a_close": int(ins.sum()),
            "insolvent_debt_usd": float(debt[ins].sum()),
            "insolvent_emode_rule_accounts": int((ins & emode).sum()),
            "insolvent_emode_rule_debt_usd": float(debt[ins & emode].sum()),
            "closest_account": (_account_record(book, m, m.closest, debt, scale, params, emode, dates)
                                if (debt > 0).any() else None),
        }
        if key == "static":
            out.update(rec)
        else:
            out["dynamic"] = rec
    out["liquidation_day_slippage"] = {a: float(v) for a, v in zip(book.assets, slippage)}
    return out


def _replay_episode(cfg: RunConfig, history: pd.DataFrame, start: str, end: str, *, data_dir: Path,
                    rng: np.random.Generator, progress: Progress) -> EpisodeOutcome:
    from optimizer.pipeline.run import run
    from optimizer.protocol.kernels import bad_debt_static
    from optimizer.protocol.mechanics import debt_at_threshold_factor, relever_factor
    from optimizer.protocol.replay import asset_buffers
    from optimizer.report import validation as words
    from optimizer.scenarios import episode_coverage, realised_path

    t_start, t_end = pd.Timestamp(start), pd.Timestamp(end)
    t0 = (t_start - pd.Timedelta(days=1)).date().isoformat()
    cover = episode_coverage(history, t_start, t_end, cfg.data.min_history_days)
    assets = [a for a, why in cover.items() if why is None]
    excluded = {a: words.exclusion_reason(why) for a, why in cover.items() if why is not None}
    rec: dict[str, Any] = {"start": start, "end": end, "as_of": t0, "excluded_assets": excluded}
    if not assets:
        rec.update(covered=False, reason=words.not_covered_reason(excluded))
        return EpisodeOutcome(start, end, False, rec)

    sub = _episode_config(cfg, assets, t0)
    try:
        with progress.stage(f"episode {start}..{end}: recalibrating on data to {t0}"):
            outcome = run(sub, data_dir=data_dir)
    except OptimizerError as err:
        rec.update(covered=True, error=str(err), assets={})
        return EpisodeOutcome(start, end, True, rec)

    inp = outcome.inputs
    book, current, params = inp.book, inp.current, outcome.recommended
    path = realised_path(history[assets], start, end)
    relatives = np.asarray(path.relatives, dtype=float)          # (1, L, n)
    L = path.horizon
    report = outcome.report
    # the episode run's own slippage and (multiplied) volatility forecast, asset order of ``sub``
    slippage = np.asarray(outcome.market.slippage, dtype=float)
    sigma = np.asarray(outcome.market.sigma, dtype=float)
    fits = inp.generator.volatility_.fits_
    scale = relever_factor(book, current, params)
    # static kernel on each daily close of the episode (liquidation at that close); the worst day counts
    days = relatives[0]  # (L, n): each day as a scenario
    static_res = bad_debt_static(book, days, params, slippage=slippage, debt_scale=scale, dtype=np.float64)
    static = float(static_res.total.max())
    static_cur = float(bad_debt_static(book, days, current, slippage=slippage, dtype=np.float64).total.max())
    # the optimizer's worst case: every borrower at its threshold when the episode starts
    worst = float(bad_debt_static(book, days, params, slippage=slippage,
                                  debt_scale=debt_at_threshold_factor(book, params), dtype=np.float64).total.max())
    from optimizer.pipeline.liquidity import slippage_law

    law = slippage_law(sub, inp.liquidity)
    dyn = _simulate_dynamic(sub, book, relatives, params, scale, law, sigma)
    dyn_cur = _simulate_dynamic(sub, book, relatives, current, np.ones(book.n_accounts), law, sigma)
    engine = words.replay_engine(dyn is not None, impact=REPLAY_IMPACT, cascades=sub.simulation.cascades,
                                 gas_usd=sub.simulation.gas_usd)
    if dyn is not None:
        realised = float(dyn.bad_debt[0])
        realised_cur = float(dyn_cur.bad_debt[0]) if dyn_cur is not None else None
        n_liq, liq_usd = int(dyn.n_liquidated[0]), float(dyn.liquidated_usd[0])
    else:
        realised, realised_cur = static, static_cur
        n_liq = int(static_res.n_liquidated.max())
        liq_usd = None
    hf = _book_health(book, params, scale)
    from optimizer.protocol.replay import closes_after_impact

    before = _impact_before_days(sub, book, relatives, params, scale, law, sigma) if dyn is not None else None
    seen = None if before is None else closes_after_impact(days, before)
    exposure = book_exposure(book, days, params, slippage, scale, inp.book_calibration, path.info["dates"],
                             dynamic_days=seen)
    if dyn is not None:
        exposure["dynamic"].update(
            accounts_insolvent_at_end=int(dyn.n_insolvent[0]),
            accounts_liquidated=n_liq,
            liquidated_collateral_usd=liq_usd,
            impact_after_last_day={a: float(v) for a, v in zip(assets, dyn.final_impact[0])},
        )

    # the model's distribution of the worst point over L days
    scen = inp.scenarios
    if L <= scen.horizon:
        sim_min = np.asarray(scen.relatives[:, :L, :], dtype=float).min(axis=1)
        n_sim = scen.n_scenarios
        tail_src = words.tail_source(n_sim, L, run_horizon=scen.horizon)
    else:
        long = inp.generator.simulate(L, scen.n_scenarios, rng=rng)
        sim_min = np.asarray(long.relatives, dtype=float).min(axis=1)
        n_sim = long.n_scenarios
        tail_src = words.tail_source(n_sim, L, run_horizon=None)

    fund = float(report.insurance_fund_usd)
    buf = asset_buffers(relatives[0], params, sim_min)
    per_asset: dict[str, Any] = {}
    for i, a in enumerate(assets):
        p = float(buf.tail_probability[i])
        drop = float(buf.drop[i])
        per_asset[a] = {
            "worst_move": -drop,
            "worst_day": path.info["dates"][int(buf.worst_day[i])],
            "end_move": float(buf.end_move[i]),
            "liquidation_threshold": float(params.liquidation_threshold[i]),
            "ltv": float(params.ltv[i]),
            "liquidation_bonus": float(params.liquidation_bonus[i]),
            "insolvency_buffer": float(buf.insolvency_buffer[i]),
            "lt_ltv_gap": float(buf.lt_ltv_gap[i]),
            "liquidation_distance_at_max_ltv": (None if np.isnan(buf.liquidation_distance[i])
                                                else float(buf.liquidation_distance[i])),
            "margin_to_insolvency_buffer": float(buf.margin_to_insolvency_buffer[i]),
            "beyond_insolvency_buffer": bool(buf.beyond_insolvency_buffer[i]),
            "tail_probability": p,
            "plausibility": words.plausibility(p, n_sim, drop),
            "current": current.asset_dict(a) if inp.has_current[i] else None,
            "estimator": fits[a].model,
            "vol_forecast_daily": float(sigma[i]),
        }
    metrics = outcome.metrics  # typed, not read back out of the report
    excess = realised - fund
    rec.update(
        covered=True,
        status=report.status,
        realised_bad_debt_usd=realised,
        realised_bad_debt_static_usd=static,
        realised_bad_debt_current_params_usd=realised_cur,
        realised_bad_debt_all_at_threshold_usd=worst,
        accounts_liquidated=n_liq,
        liquidated_collateral_usd=liq_usd,
        book_min_health_factor=hf,
        insurance_fund_usd=fund,
        fund_covers=bool(realised <= fund),
        shortfall_usd=max(excess, 0.0),
        engine=engine,
        tail_source=tail_src,
        n_days=L,
        dates=list(path.info["dates"]),
        total_debt_usd=float(book.total_debt),
        book_exposure=exposure,
        assets=per_asset,
        model_bad_debt_cvar_usd=float(metrics.recommended.bad_debt_cvar_usd),
        risk_budget_usd=float(metrics.risk_budget_usd),
        worst_case_cvar_usd=float(metrics.lp_worst_case_cvar_usd),
        prob_bad_debt_exceeds_fund=float(metrics.recommended.prob_bad_debt_exceeds_fund),
    )
    return EpisodeOutcome(start, end, True, rec)


def run_backtest(
    cfg: RunConfig,
    *,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    command: str = "",
) -> BacktestOutcome:
    """VaR backtests over each asset's full history and a replay of every configured episode."""
    from optimizer.data import resolve_data_dir
    from optimizer.pipeline.files import config_file_hashes
    from optimizer.pipeline.run import library_versions, resolve_as_of
    from optimizer.pipeline.history import load_history_data, var_backtests
    from optimizer.report.validation import date_span

    t_start = time.perf_counter()
    progress = progress or Silent()
    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir)
    cfg = resolve_as_of(cfg, data_dir=ddir)
    episodes = cfg.backtest.episodes
    root = np.random.default_rng(cfg.run.seed)
    rng_var, *rng_eps = root.spawn(1 + len(episodes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        with progress.stage("loading the full price history"):
            data = load_history_data(cfg, ddir, cfg.run.as_of)
            history = data.prices
        with progress.stage("backtesting the volatility estimators on the full data"):
            vbt = var_backtests(cfg, history, rng=rng_var, test_days=None)
        outs = [
            _replay_episode(cfg, history, s, e, data_dir=ddir, rng=r, progress=progress)
            for (s, e), r in zip(episodes, rng_eps, strict=True)
        ]
    meta = {
        "package_version": __version__,
        "config_sha256": cfg.sha256,
        "seed": int(cfg.run.seed),
        "as_of": cfg.run.as_of,
        "data_span": date_span(history.index),
        "data_files": dict(sorted({**data.file_hashes, **config_file_hashes(cfg, ddir)}.items())),
        "versions": library_versions(),
    }
    run_info = {
        "created_utc": utc_timestamp(),
        "runtime_seconds": round(time.perf_counter() - t_start, 1),
        "stage_seconds": dict(progress.timings),
        "command": command,
    }
    return BacktestOutcome(config=cfg, episodes=outs, var_backtests=vbt, meta=meta, run_info=run_info)


def backtest_record(out: BacktestOutcome) -> dict[str, Any]:
    """The content of backtest.json (plain JSON types, wall-clock fields left out)."""
    from optimizer.report.validation import var_backtests_json

    vbt = out.var_backtests
    return {
        "meta": dict(out.meta),
        "config_name": out.config.name,
        "episodes": [dict(e.data) for e in out.episodes],
        "var_backtests": var_backtests_json(vbt),
        "var_backtest_settings": dict(vbt.settings),
    }


def write_backtest(out: BacktestOutcome, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write backtest.json, backtest.md, backtest.html and config.toml atomically."""
    from optimizer.report import write_report_dir
    from optimizer.report.backtest import BacktestReport, render_backtest_html, render_backtest_json, \
        render_backtest_markdown
    from optimizer.report.validation import backtest_title

    rep = BacktestReport(
        title=backtest_title(out.config.run.title, out.config.name),
        config_name=out.config.name,
        record=backtest_record(out),
        run_info=dict(out.run_info),
    )
    files = {
        "backtest.json": lambda: render_backtest_json(rep),
        "backtest.md": lambda: render_backtest_markdown(rep),
        "backtest.html": lambda: render_backtest_html(rep),
        "config.toml": out.config.to_toml(),
    }
    return write_report_dir(Path(out_dir), files, overwrite=overwrite)
