"""A synthetic RunReport built by hand (no pipeline run): 3 assets incl. a stablecoin, seeded samples."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from optimizer.optimize import Binding, RunStatus
from optimizer.report.model import FORMAT_VERSION, AssetResult, RunReport
from optimizer.report.section import Column, Figure, Format, Section, Table, text_table

ASSETS = ("eth", "wbtc", "usdc")
FIGURE_IDS = ("fig-prices", "fig-correlation", "fig-bad-debt", "fig-params", "fig-fund")


def _fake_market(rng: np.random.Generator, n_days: int = 420) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic prices from a random walk (not market data) and their EWMA daily volatility."""
    dates = pd.date_range("2024-01-01", periods=n_days, freq="D")
    daily_vol = np.array([0.036, 0.028, 0.0015])
    shocks = rng.standard_t(df=4, size=(n_days, 3)) * daily_vol / np.sqrt(2.0)
    shocks[:, 1] = 0.7 * shocks[:, 0] * daily_vol[1] / daily_vol[0] + 0.7 * shocks[:, 1]
    start = np.array([2300.0, 42000.0, 1.0])
    log_prices = np.log(start) + np.cumsum(shocks, axis=0)
    log_prices[:, 2] = np.log(1.0) + shocks[:, 2] - shocks[:, 2].mean()  # mean-reverting peg
    prices = pd.DataFrame(np.exp(log_prices), index=dates, columns=list(ASSETS))
    rets = np.log(prices).diff().fillna(0.0).to_numpy()
    var = np.empty_like(rets)
    var[0] = rets[:30].var(axis=0) + 1e-12
    for t in range(1, n_days):
        var[t] = 0.94 * var[t - 1] + 0.06 * rets[t - 1] ** 2
    vol = pd.DataFrame(np.sqrt(var), index=dates, columns=list(ASSETS))
    return prices, vol


def _bad_debt(rng: np.random.Generator, n: int, p: float, scale: float) -> np.ndarray:
    hit = rng.random(n) < p
    return np.where(hit, rng.lognormal(np.log(scale), 1.4, n), 0.0)


def _tail(x: np.ndarray, alpha: float) -> tuple[float, float]:
    var = float(np.quantile(x, alpha))
    tail = x[x >= var]
    return var, float(tail.mean())


def _draw_frontier() -> bytes | None:
    from optimizer.report import plots

    return plots.png_of(lambda: plots.plot_spec({
        "kind": "line", "x": [1e6, 5e6, 1e7], "series": {"efficiency": [4.5e9, 4.7e9, 4.8e9]},
        "xlabel": "CVaR budget (USD)", "ylabel": "USD"}))


def build_report(seed: int = 7, **changes: object) -> RunReport:
    """The synthetic fixture; ``changes`` replace fields (dataclasses.replace)."""
    rng = np.random.default_rng(seed)
    prices, vol = _fake_market(rng)
    corr = np.corrcoef(np.log(prices).diff().dropna().to_numpy(), rowvar=False)
    n = 5000
    bd = _bad_debt(rng, n, 0.04, 150_000.0)
    bd_cur = _bad_debt(rng, n, 0.07, 220_000.0)
    alpha = 0.99
    var, cvar = _tail(bd, alpha)
    var_c, cvar_c = _tail(bd_cur, alpha)
    fund_usd = 2_500_000.0
    grid = np.linspace(0.0, 5_000_000.0, 26)
    curve = [[float(g), float(np.mean(bd > g))] for g in grid]
    assets = [
        AssetResult(
            asset="eth",
            current={"ltv": 0.805, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05,
                     "haircut": 0.195},
            recommended={"ltv": 0.81, "liquidation_threshold": 0.835, "liquidation_bonus": 0.05,
                         "haircut": 0.19},
            drivers={"vol_annual": 0.70, "vol_forecast_daily": 0.0312, "tail_dof": 4.2,
                     "corr_to_debt": 0.05, "adv_usd": 9.5e9, "slippage": 0.0042,
                     "collateral_usd": 2.1e9, "estimator": "gjr-garch-t", "fallback_reason": None,
                     "horizon_drop_q": 0.74},
            references={"analytic_lt": 0.842, "smart_ltv": 0.795},
            binding=Binding.RISK_BUDGET,
        ),
        AssetResult(
            asset="wbtc",
            current={"ltv": 0.73, "liquidation_threshold": 0.78, "liquidation_bonus": 0.05,
                     "haircut": 0.27},
            recommended={"ltv": 0.70, "liquidation_threshold": 0.7550, "liquidation_bonus": 0.0575,
                         "haircut": 0.30},
            drivers={"vol_annual": 0.52, "vol_forecast_daily": np.float64(0.0241),
                     "tail_dof": np.float32(5.1), "corr_to_debt": 0.02, "adv_usd": 1.2e8,
                     "slippage": 0.0123, "collateral_usd": 6.4e8, "estimator": "ewma",
                     "fallback_reason": "GARCH did not converge (persistence 0.9995 | boundary)",
                     "horizon_drop_q": 0.79},
            references={"analytic_lt": 0.771, "smart_ltv": 0.722},
            binding=Binding.RISK_BUDGET,
        ),
        AssetResult(
            asset="usdc",
            current={"ltv": 0.75, "liquidation_threshold": 0.78, "liquidation_bonus": 0.045,
                     "haircut": 0.25},
            recommended={"ltv": 0.75, "liquidation_threshold": 0.78, "liquidation_bonus": 0.045,
                         "haircut": 0.25},
            drivers={"vol_annual": 0.03, "vol_forecast_daily": 0.0009, "tail_dof": float("nan"),
                     "corr_to_debt": 0.97, "adv_usd": 4.0e9, "slippage": 0.0004,
                     "collateral_usd": 3.3e9, "estimator": "ewma", "fallback_reason": None,
                     "horizon_drop_q": 0.995},
            references={"analytic_lt": 0.93, "smart_ltv": None},
            binding=Binding.UPPER_BOUND,
        ),
    ]
    report = RunReport(
        title="Aave v3 Ethereum: risk-parameter recommendation (synthetic test fixture)",
        config_name="synthetic-fixture",
        status=RunStatus.OK,
        status_message="The bad-debt CVaR is within the $5,000,000 risk budget.",
        meta={
            "format_version": FORMAT_VERSION,
            "package_version": "0.1.0",
            "config_sha256": "c0ffee" + "0" * 58,
            "data_sha256": "da7a" + "1" * 60,
            "seed": 20240601,
            "versions": {"numpy": np.__version__, "pandas": pd.__version__, "python": "3.11"},
            "as_of": "2025-02-23",
            "data_files": {"binance_prices_daily.csv": "ab" * 32},
        },
        run_info={"created_utc": "2025-02-24T10:11:12Z", "runtime_seconds": 12.345,
                  "command": "riskopt run configs/synthetic.toml --out reports/synthetic"},
        assets=assets,
        insurance_fund_usd=fund_usd,
        metrics={"capital_efficiency_usd": 4.7e9, "bad_debt_var_usd": var, "bad_debt_cvar_usd": cvar,
                 "prob_bad_debt": float(np.mean(bd > 0)),
                 "prob_bad_debt_exceeds_fund": float(np.mean(bd > fund_usd)),
                 "bad_debt_mean_usd": float(bd.mean()), "alpha": alpha, "mean_accounts_liquidated": 41.2,
                 "lp_worst_case_cvar_usd": 5e6, "risk_budget_usd": 5e6, "min_feasible_budget_usd": 1.2e6,
                 "tail_contribution_by_asset": {"eth": 0.61, "wbtc": 0.37, "usdc": 0.02},
                 "liquidated_collateral_usd": np.float64(3.1e8)},
        metrics_current={"capital_efficiency_usd": 4.75e9, "bad_debt_var_usd": var_c,
                         "bad_debt_cvar_usd": cvar_c, "prob_bad_debt": float(np.mean(bd_cur > 0)),
                         "prob_bad_debt_exceeds_fund": float(np.mean(bd_cur > fund_usd)),
                         "bad_debt_mean_usd": float(bd_cur.mean()), "alpha": alpha,
                         "mean_accounts_liquidated": 55.0, "liquidated_collateral_usd": 3.4e8},
        method={"scenario_method": "fhs", "n_scenarios": n, "horizon_days": 10, "alpha": alpha,
                "risk_budget_usd": 5e6, "appetite": "moderate", "volatility_estimator": "gjr-garch-t",
                "correlation_estimator": "ewm", "solver": "HIGHS", "solve_seconds": 0.4321,
                "book_source": "synthetic"},
        assumptions=[
            "Liquidations happen at the end of each day at the simulated price minus slippage.",
            "Debt is in stablecoins that hold their peg.",
        ],
        data_findings=[
            {"kind": "gap", "asset": "wbtc", "start": "2024-03-02", "end": "2024-03-04",
             "detail": "3 missing days, forward-filled"},
            {"kind": "depeg", "asset": "usdc", "start": pd.Timestamp("2024-05-10"),
             "end": pd.Timestamp("2024-05-10"), "detail": "close 0.9870 (|dev| > 1%)"},
        ],
        book_summary={"source": "synthetic", "n_accounts": 12000, "total_collateral_usd": 6.04e9,
                      "total_debt_usd": 3.1e9,
                      "collateral_by_asset_usd": {"eth": 2.1e9, "wbtc": 6.4e8, "usdc": 3.3e9}},
        fund={"insurance_fund_usd": fund_usd, "es_usd": 1.9e6, "cover2_usd": 2.2e6, "epsilon": 0.005,
              "mc_stderr_usd": 41_000.0, "curve": curve,
              "terms": {"expected_shortfall": {"usd": 1.9e6, "stderr_usd": 41_000.0, "deterministic": False,
                                               "source": "expected shortfall at 0.999 of 5,000 scenarios"},
                        "stress_loss": {"usd": fund_usd, "stderr_usd": None, "deterministic": True,
                                        "source": "2020-03-13 intraday"},
                        "cover2": {"usd": 2.2e6, "stderr_usd": None, "deterministic": True,
                                   "source": "accounts acct000001, acct000007"}},
              "binding_term": "stress_loss"},
        prices=prices,
        volatility=vol,
        correlation=corr,
        bad_debt=bd,
        bad_debt_current=bd_cur,
        # made-up half-widths (the band's measurement is tested in test_band): P(> fund) agrees exactly
        metrics_band={"recommended": {"bad_debt_var_usd": 41_000.0, "bad_debt_cvar_usd": 180_000.0,
                                      "bad_debt_mean_usd": 2_100.0, "prob_bad_debt": 0.0041,
                                      "prob_bad_debt_exceeds_fund": 0.0},
                      "current": {"bad_debt_var_usd": 52_000.0, "bad_debt_cvar_usd": 260_000.0,
                                  "bad_debt_mean_usd": 3_000.0, "prob_bad_debt": 0.0052,
                                  "prob_bad_debt_exceeds_fund": 0.0008}},
        sections={
            "frontier": Section(
                title="Efficiency frontier",
                paragraphs=("Capital efficiency against the bad-debt CVaR budget.",),
                tables=(Table((Column("Budget", Format.USD), Column("Capital efficiency", Format.USD)),
                              ((1e6, 4.5e9), (5e6, 4.7e9), (1e7, 4.8e9)), id="tbl-frontier"),),
                figures=(Figure("fig-frontier", "Frontier", draw=_draw_frontier),),
                data={"points": [[1e6, 4.5e9], [5e6, 4.7e9], [1e7, 4.8e9]]},
            ),
            "backtests": Section(
                title="Backtests",
                appendix=True,
                brief=Section(title="Backtests", paragraphs=("Kupiec p-value 0.41: the VaR model is not rejected.",)),
                tables=(text_table("tbl-backtests", ["Item", "Value"],
                                   [["Kupiec pvalue", "0.41"], ["Christoffersen pvalue", "0.37"],
                                    ["N exceedances", "4"], ["Elapsed seconds", "1.5"]], [False, True]),),
                data={"kupiec_pvalue": 0.41, "christoffersen_pvalue": 0.37, "n_exceedances": 4,
                      "elapsed_seconds": 1.5},
            ),
        },
        config_text='[run]\nname = "synthetic-fixture"\nseed = 20240601\n',
    )
    return dataclasses.replace(report, **changes) if changes else report


@pytest.fixture(scope="session")
def report() -> RunReport:
    return build_report()


@pytest.fixture(scope="session")
def html(report) -> str:
    """report.html of the fixture, rendered once (figures take most of the test time)."""
    from optimizer.report import render_html

    return render_html(report)


@pytest.fixture
def no_figures(monkeypatch):
    """Skip drawing for tests about text or files only (figures are tested in test_plots/test_html)."""
    from optimizer.report import plots

    monkeypatch.setattr(plots, "report_figures", lambda report, hover=None: dict.fromkeys(FIGURE_IDS))
