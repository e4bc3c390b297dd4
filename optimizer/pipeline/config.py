"""Run configuration: TOML files parsed into frozen dataclasses, strictly.

Only the pipeline and the CLI read configuration; library classes take keyword arguments.
Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming the key
(``[optimizer] alpha = 1.5 must be < 1``). The resolved configuration serialises back to TOML for
the report, and its SHA-256 identifies the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from optimizer.exceptions import ConfigError
from optimizer.typing import (
    BACKTEST_VOLATILITIES,
    SCENARIO_VOLATILITIES,
    CorrelationName,
    SaleParams,
    SaleSizeRule,
    ScenarioMethod,
    VolatilityName,
)


#: Peg classes whose peg-break history the data directory can hold (optimizer.data.PEG_CLASSES).
PEG_REFERENCES: tuple[str, ...] = ("usd", "eth", "btc")


class Appetite(str, Enum):
    """Risk appetite presets: each sets the CVaR confidence and the bad-debt budget."""

    CONSERVATIVE = "conservative"
    MODERATE = "moderate"
    AGGRESSIVE = "aggressive"


#: (alpha, budget as a share of the book's total debt) per appetite.
APPETITE_PRESETS: dict[Appetite, tuple[float, float]] = {
    Appetite.CONSERVATIVE: (0.995, 0.005),
    Appetite.MODERATE: (0.99, 0.01),
    Appetite.AGGRESSIVE: (0.975, 0.02),
}


def _rng(lo: float | None = None, hi: float | None = None, *, lo_open=False, hi_open=False):
    """A range check for `field(metadata=...)`."""

    def check(v: Any) -> str | None:
        if v is None:
            return None
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return f"must be {'>' if lo_open else '>='} {lo}"
        if hi is not None and (v > hi or (hi_open and v == hi)):
            return f"must be {'<' if hi_open else '<='} {hi}"
        return None

    return {"check": check}


def _one_of(*allowed: Enum) -> dict[str, Any]:
    """A subset of an option set for `field(metadata=...)`: the value (or each list item) must be one."""
    return {"choices": tuple(a.value for a in allowed)}


@dataclass(frozen=True)
class CurrentParams:
    """Parameters live on the protocol today (fractions)."""

    ltv: float = field(metadata=_rng(0, 1, hi_open=True))
    liquidation_threshold: float = field(metadata=_rng(0, 1, hi_open=True))
    liquidation_bonus: float = field(metadata=_rng(0, 0.5))


@dataclass(frozen=True)
class AssetConfig:
    """One collateral asset (the TOML table ``[assets.<ticker>]``)."""

    symbol: str = ""
    source: str | None = None
    #: Price column to read instead of the ticker (a documented proxy: WBTC priced by BTC when the
    #: WBTC series is too short); the report names the proxy.
    price_ticker: str | None = None
    #: The days before the asset's first price in the window: "own" (its residuals imputed from
    #: the same day's residuals of the other assets) or "proxy" (the returns of `proxy`, scaled by
    #: the two assets' volatility ratio on their overlap).
    short_history: Literal["own", "proxy"] = "own"
    #: The configured asset or data ticker whose returns stand in for the days before the first
    #: price (only with short_history = "proxy").
    proxy: str | None = None
    #: USD that moves the price by 2 % (for [simulation] impact = "depth").
    depth_usd_2pct: float | None = field(default=None, metadata=_rng(0, lo_open=True))
    stablecoin: bool = False
    #: What the asset is pegged to: "usd", "eth", "btc" or another asset of the config; its
    #: scenarios get the depeg jumps of that class. ``stablecoin = true`` means "usd" unless given.
    peg: str | None = None
    supplied_usd: float = field(default=0.0, metadata=_rng(0))
    borrowed_usd: float = field(default=0.0, metadata=_rng(0))
    adv_usd: float | None = field(default=None, metadata=_rng(0, lo_open=True))
    current: CurrentParams | None = None
    bonus: float | None = field(default=None, metadata=_rng(0, 0.5))
    ltv_buffer: float | None = field(default=None, metadata=_rng(0, 0.5))
    lt_min: float | None = field(default=None, metadata=_rng(0, 1, hi_open=True))
    lt_max: float | None = field(default=None, metadata=_rng(0, 1, hi_open=True))


@dataclass(frozen=True)
class RunSection:
    name: str = ""
    title: str = ""
    #: Root seed of every random stream (numpy.random.SeedSequence takes integers >= 0).
    seed: int = field(default=20250612, metadata=_rng(0))
    as_of: str | None = None
    window_days: int | None = field(default=1460, metadata=_rng(60))
    data_dir: str | None = None


@dataclass(frozen=True)
class DataSection:
    #: Price sources in priority order: the first holding an asset gives its series, the next
    #: ones fill only the days it lacks (after an agreement check on the common days).
    sources: tuple[Literal["binance", "coingecko", "coinmetrics"], ...] = (
        "binance", "coingecko", "coinmetrics")
    #: Largest median |p_fill / p - 1| on the common days before a fill is refused (DataError).
    overlap_tolerance: float = field(default=0.02, metadata=_rng(0, 1, lo_open=True, hi_open=True))
    volumes: bool = True
    stale_run_days: int = field(default=5, metadata=_rng(2))
    outlier_sigma: float = field(default=12.0, metadata=_rng(3))
    depeg_tolerance: float = field(default=0.02, metadata=_rng(0, 1, lo_open=True))
    min_history_days: int = field(default=250, metadata=_rng(30))


@dataclass(frozen=True)
class EstimatorSection:
    volatility: VolatilityName = field(default=VolatilityName.GARCH, metadata=_one_of(*SCENARIO_VOLATILITIES))
    correlation: CorrelationName = CorrelationName.SHRINKAGE
    ewma_lambda: float = field(default=0.94, metadata=_rng(0.5, 1, hi_open=True))


@dataclass(frozen=True)
class ScenarioSection:
    method: ScenarioMethod = ScenarioMethod.FHS
    n_scenarios: int = field(default=100_000, metadata=_rng(100, 5_000_000))
    horizon_days: int = field(default=2, metadata=_rng(1, 60))
    vol_multiplier: float = field(default=1.0, metadata=_rng(0, 20, lo_open=True))
    #: Probability weight of the comonotone scenarios mixed into the optimizer's: every position
    #: crashes together (each asset's j-th worst recovery paired with every other's j-th worst),
    #: each asset's own distribution unchanged.
    comonotone_share: float = field(default=0.0, metadata=_rng(0, 1))
    #: Blend of the correlation between asset prices toward 1, inside the scenario generator
    #: (``ScenarioGenerator(corr_stress=)``).
    price_correlation_stress: float = field(default=0.0, metadata=_rng(0, 1))
    dof: float | None = field(default=None, metadata=_rng(2, lo_open=True))
    #: Pegged assets' depeg jumps (frequency and severity from the pooled peg-break history).
    depeg_jumps: bool = True
    #: A close more than this far from par is off peg.
    depeg_threshold: float = field(default=0.02, metadata=_rng(0, 0.5, lo_open=True, hi_open=True))
    #: Off-peg runs of one asset at most this many calendar days apart are one event.
    depeg_decluster_days: int = field(default=7, metadata=_rng(0, 365))
    #: Peg-break history: every day of the data up to as_of ("all") or the run's window only.
    depeg_history: Literal["all", "window"] = "all"
    #: Severity of a depeg over the horizon: "gpd" (the pooled horizon moves, a generalized Pareto
    #: tail per side beyond the threshold) or "empirical" (the pooled horizon moves as atoms).
    depeg_severity: Literal["gpd", "empirical"] = "gpd"
    #: Replications (scenario index mod R) the Monte Carlo band of every threshold and of the fund
    #: is measured on by batch means: the guards and the LP re-solved on each; 0: no band.
    band_batches: int = field(default=10, metadata=_rng(0, 1000))


@dataclass(frozen=True)
class BookSection:
    kind: Literal["synthetic", "csv"] = "synthetic"
    path: str | None = None
    n_accounts: int = field(default=10_000, metadata=_rng(1, 10_000_000))
    hf_median: float = field(default=1.6, metadata=_rng(1, lo_open=True))
    hf_sigma: float = field(default=0.35, metadata=_rng(0, lo_open=True))
    hf_min: float = field(default=1.0, metadata=_rng(0.5))
    size_tail: float = field(default=1.3, metadata=_rng(0.5))
    #: Largest borrowers of a real market (a CSV, relative to the data directory) the synthetic
    #: book is calibrated to: sizes, concentration and leverage (hf_median/hf_sigma then unused).
    reference: str | None = None
    #: Largest accounts placed individually from the reference (the rest drawn from its fitted tail).
    n_placed: int = field(default=10, metadata=_rng(1, 100_000))
    #: Seed of the synthetic book's draw (its own stream, that of a run with this root seed); None:
    #: ``[run] seed``. A synthetic book stands for the market's real one, so it is an input the
    #: recommendation is conditional on: with a book seed, ``--seed`` moves the Monte Carlo only.
    seed: int | None = field(default=None, metadata=_rng(0))


@dataclass(frozen=True)
class LiquiditySection:
    impact_coef: float = field(default=1.0, metadata=_rng(0))
    liquidity_multiplier: float = field(default=1.0, metadata=_rng(0, lo_open=True))
    #: How the static model sizes the liquidation day's sale that the depth curves price: "seized",
    #: the collateral the book's liquidations seize in each asset's tail scenarios (the run's CVaR
    #: tail, 1 - alpha), or "share", liquidation_share of the asset's whole collateral (the old rule).
    sale_size: SaleSizeRule = SaleSizeRule.SEIZED
    #: sale_size = "seized": the parameters whose liquidations size the sale: "recommended" (a fixed
    #: point: solve, resize the sale at the solution, re-solve until no slippage moves by 0.2 pp, at
    #: most 6 re-solves) or "current" (the live parameters, one solve).
    sale_params: SaleParams = SaleParams.RECOMMENDED
    #: sale_size = "seized": share of the seized collateral sold within the day (1: liquidators sell
    #: what they seize on the day; an assumption, conservative).
    seized_share_sold: float = field(default=1.0, metadata=_rng(0, 1))
    #: sale_size = "share": share of an asset's collateral sold on the liquidation day.
    liquidation_share: float = field(default=0.25, metadata=_rng(0, 1))
    #: Share of reported (CEX) volume that liquidators can actually reach on-chain.
    reachable_volume_share: float = field(default=0.2, metadata=_rng(0, 1, lo_open=True))
    default_adv_usd: float = field(default=5.0e6, metadata=_rng(0, lo_open=True))
    max_slippage: float = field(default=0.5, metadata=_rng(0, 1, hi_open=True))
    #: Liquidity file of measured depth curves (asset,date,slippage,sellable_usd,source), relative
    #: to the data directory (optimizer.data.load_depth_file).
    depth_file: str | None = None
    #: DEX-aggregator quotes file (timestamp_utc,sell,buy,sell_amount,buy_amount,price_impact),
    #: relative to the data directory: depth curves of the tokens it sells for USDC/USDT, and the
    #: impact-law fit the report shows.
    quotes_file: str | None = None
    #: Haircut on the measured depth-to-volume ratio for assets without depth data.
    proxy_haircut: float = field(default=0.5, metadata=_rng(0, 1, lo_open=True))
    #: Power of a depth curve beyond its measured sizes (0.5: the square-root law).
    depth_exponent: float = field(default=0.5, metadata=_rng(0, 2, lo_open=True))


@dataclass(frozen=True)
class OptimizerSection:
    """``[optimizer]``: the risk target, the solver and the bounds of the convex core.

    ``held_ltv_lt`` is the policy for the LT of a reserve whose LTV is held (``keep_zero_ltv``): its LT
    buys no borrowing power, so it has no weight in the capital efficiency the LP maximises;
    ``"up_to_current"`` (default) recommends the highest LT up to its current value that the risk
    target allows, ``"risk_limit"`` the highest the risk target allows even above the current one.
    Where the budget the other reserves leave cannot carry every held reserve to that cap, the held
    LTs share it by progressive filling: they rise together from ``lt_min``, each by the same share
    of its way to its cap (the current LT, or ``lt_max`` under ``"risk_limit"``), and each stops
    where its own guard or bound binds or where it alone could not rise within the budget.
    """

    appetite: Appetite = Appetite.MODERATE
    alpha: float | None = field(default=None, metadata=_rng(0.5, 1, hi_open=True))
    risk_budget_usd: float | None = field(default=None, metadata=_rng(0, lo_open=True))
    risk_budget_share: float | None = field(default=None, metadata=_rng(0, 1, lo_open=True))
    #: Per-asset guard: CVaR of one asset's bad debt per USD of its collateral at the threshold
    #: (default: the appetite's share), so a small asset cannot hide in the aggregate tail.
    asset_budget_share: float | None = field(default=None, metadata=_rng(0, 1, lo_open=True))
    solver: Literal["HIGHS", "CLARABEL", "SCS", "ECOS"] = "HIGHS"
    fallback_solver: Literal["HIGHS", "CLARABEL", "SCS", "ECOS"] = "CLARABEL"
    method: Literal["rowgen", "full"] = "rowgen"
    lt_min: float = field(default=0.20, metadata=_rng(0, 1, hi_open=True))
    lt_max: float = field(default=0.95, metadata=_rng(0, 1, hi_open=True))
    ltv_buffer: float = field(default=0.04, metadata=_rng(0, 0.5))
    slippage_margin: float = field(default=0.0, metadata=_rng(0, 0.5))
    keep_zero_ltv: bool = True
    held_ltv_lt: Literal["up_to_current", "risk_limit"] = "up_to_current"
    reference_epsilon: float = field(default=0.01, metadata=_rng(0, 0.5, lo_open=True))
    smart_ltv_c: float = field(default=2.33, metadata=_rng(0, lo_open=True))
    #: Stress as a hard constraint: every stress-library scenario is a row of the LP (the worst-case
    #: book's bad debt in it <= the stress budget); false turns the rows off.
    stress_constraint: bool = True
    #: The stress budget in USD, or as a share of the book's debt (at most one). Default: the
    #: appetite's CVaR budget x (1 - alpha) x the horizon windows the library scanned, the most one
    #: scenario counted at its historical frequency may lose without breaking that budget alone.
    stress_budget_usd: float | None = field(default=None, metadata=_rng(0))
    stress_budget_share: float | None = field(default=None, metadata=_rng(0, 1))


@dataclass(frozen=True)
class FundSection:
    """Insurance-fund sizing: the largest of the simulated tail (ES at ``confidence``, never below
    the smallest fund with P(bad debt > fund) <= ``epsilon``), the worst stress-library loss and
    cover-2 in the stress library (:func:`optimizer.optimize.fund_by_standard`).

    ``reference_usd`` (optional, > 0): a fund to compare with, e.g. the protocol's current coverage;
    the report gives the ratio of the recommended fund to it.
    """

    epsilon: float = field(default=0.01, metadata=_rng(0, 0.5, lo_open=True))
    confidence: float = field(default=0.99, metadata=_rng(0.5, 1, hi_open=True))
    reference_usd: float | None = field(default=None, metadata=_rng(0, lo_open=True))


@dataclass(frozen=True)
class SimulationSection:
    """The dynamic market simulation (liquidations step by step, liquidity, cascades)."""

    enabled: bool = True
    n_scenarios: int = field(default=20_000, metadata=_rng(100, 1_000_000))
    steps_per_day: int = field(default=4, metadata=_rng(1, 96))
    oracle_lag_steps: int = field(default=0, metadata=_rng(0, 96))
    delay_steps: int = field(default=1, metadata=_rng(0, 96))
    gas_usd: float = field(default=50.0, metadata=_rng(0))
    cascades: bool = True
    #: "curve": the depth-curve law of the static model ([liquidity]); "sqrt"/"depth": the older
    #: square-root law on adv_usd / linear book on depth_usd_2pct.
    impact: Literal["curve", "sqrt", "depth"] = "curve"


@dataclass(frozen=True)
class SearchSection:
    """Multi-objective optuna search over LT, bonus (and close factor) on the simulation."""

    enabled: bool = False
    n_trials: int = field(default=120, metadata=_rng(1, 100_000))
    sampler: Literal["nsga2", "tpe"] = "nsga2"
    #: Database URL of the optuna study (``sqlite:///path/study.db``, ``postgresql://user@host/db``);
    #: checked (driver, folder, connection) before the run starts. Default: study.db in the run directory.
    storage: str | None = None
    study_name: str | None = None
    tail_metric: Literal["bad_debt_cvar_usd", "prob_bad_debt_exceeds_fund"] = "bad_debt_cvar_usd"
    lt_span: float = field(default=0.15, metadata=_rng(0, 0.5))
    bonus_low: float = field(default=0.02, metadata=_rng(0, 0.5))
    bonus_high: float = field(default=0.15, metadata=_rng(0, 0.5))
    search_bonus: bool = True
    search_close_factor: bool = False
    n_jobs: int = field(default=1, metadata=_rng(1, 64))
    #: Scenarios the search simulates: the worst tail of the static worst case (see market_sim).
    n_scenarios: int = field(default=2_000, metadata=_rng(100, 1_000_000))
    steps_per_day: int = field(default=1, metadata=_rng(1, 96))
    #: Accounts the search simulates: the largest exactly, a scaled sample of the rest.
    n_accounts: int = field(default=1_500, metadata=_rng(10, 10_000_000))
    timeout_seconds: float | None = field(default=None, metadata=_rng(0, lo_open=True))


@dataclass(frozen=True)
class GuardrailSection:
    """Limits on parameter updates (defaults: Aave risk stewards).

    ``grid`` is the one step for deployable numbers: every run's recommendation is rounded to it
    (LT and LTV down, live values kept; params.json ``value``/``bps``) and recalibrate's schedules
    land on it. 25 bp, the stewards' step, not the protocol's 1 bp storage resolution: a 1 bp grid
    would pass the Monte Carlo's noise straight through to the posted numbers.
    """

    max_step: float = field(default=0.005, metadata=_rng(0, 1, lo_open=True))
    min_days_between: int = field(default=3, metadata=_rng(0, 365))
    grid: float = field(default=0.0025, metadata=_rng(0, 0.1, lo_open=True))  # 25 bp: see the docstring
    large_change: Literal["schedule", "vote"] = "schedule"
    max_schedule_steps: int = field(default=40, metadata=_rng(1, 1000))
    keep_zero_ltv: bool = True
    allow_delist: bool = False
    #: Supply and borrow caps: largest |new - current| / current of one update (1.0 = +/-100 %, Aave's
    #: risk stewards); caps move on the min_days_between rhythm and are never set to 0.
    cap_max_change: float = field(default=1.0, metadata=_rng(0, 10, lo_open=True))


@dataclass(frozen=True)
class SensitivitySection:
    """Sweeps of `riskopt sensitivity`: one value list per assumption, plus optional 2-way grids."""

    n_scenarios: int = field(default=20_000, metadata=_rng(100, 5_000_000))
    alpha: tuple[float, ...] = (0.975, 0.99, 0.995)
    vol_multiplier: tuple[float, ...] = (0.75, 1.0, 1.5, 2.0)
    comonotone_share: tuple[float, ...] = (0.0, 0.25, 0.5)
    liquidity_multiplier: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    horizon_days: tuple[int, ...] = (1, 2, 3, 5)
    bonus_shift: tuple[float, ...] = (-0.02, 0.0, 0.02)
    delay_steps: tuple[int, ...] = (0, 1, 4)
    volatility: tuple[VolatilityName, ...] = field(
        default=(VolatilityName.EWMA, VolatilityName.GARCH, VolatilityName.GJR),
        metadata=_one_of(*SCENARIO_VOLATILITIES),
    )
    window_days: tuple[int, ...] = (730, 1095, 1460)
    grids: tuple[tuple[str, ...], ...] = (("vol_multiplier", "comonotone_share"),)
    workers: int = field(default=2, metadata=_rng(1, 256))


@dataclass(frozen=True)
class BacktestSection:
    """VaR backtests of the estimators and crash replays."""

    var_alpha: float = field(default=0.99, metadata=_rng(0.5, 1, hi_open=True))
    window: int = field(default=750, metadata=_rng(100))
    refit_every: int = field(default=20, metadata=_rng(1))
    test_days: int | None = field(default=500, metadata=_rng(50))
    estimators: tuple[VolatilityName, ...] = field(
        default=(VolatilityName.EWMA, VolatilityName.GARCH, VolatilityName.GJR),
        metadata=_one_of(*BACKTEST_VOLATILITIES),
    )
    #: Simulations of the Acerbi-Szekely ES test's null distribution.
    es_sims: int = field(default=2000, metadata=_rng(100, 100_000))
    #: Put the backtests in every run report (``volatility = "auto"`` runs them regardless).
    in_report: bool = True
    episodes: tuple[tuple[str, ...], ...] = (
        ("2020-03-12", "2020-03-12"),
        ("2021-05-19", "2021-05-19"),
        ("2022-05-09", "2022-05-12"),
        ("2022-11-08", "2022-11-10"),
        ("2022-11-22", "2022-11-22"),
        ("2023-03-10", "2023-03-13"),
        ("2024-08-05", "2024-08-05"),
    )


@dataclass(frozen=True)
class AntiProcyclicalitySection:
    """Clearing-house style anti-procyclicality tools for haircuts."""

    method: Literal["none", "floor", "stress_weight", "buffer"] = "none"
    stress_weight: float = field(default=0.25, metadata=_rng(0.25, 1))
    #: Stressed windows for ``stress_weight``: this worst share of historical horizon windows.
    stress_quantile: float = field(default=0.1, metadata=_rng(0, 0.5, lo_open=True))
    buffer: float = field(default=0.25, metadata=_rng(0, 1))


@dataclass(frozen=True)
class CapsSection:
    """``[caps]``: per-asset supply and borrow caps from liquidity (:mod:`optimizer.protocol.caps`).

    Supply cap = horizon x (USD sellable in a day at a slippage of the bonus) / the share of the
    supply liquidated in the asset's worst stress-library scenario (at least
    ``min_liquidated_share``); borrow cap = supply cap x min(1 - ``utilisation_headroom``, 1 - that
    share). ``current_file``: the live caps (the Aave reference CSV's ``supply_cap_tokens`` and
    ``borrow_cap_tokens``), relative to the data directory; without it the report shows no current caps.
    """

    enabled: bool = True
    current_file: str | None = None
    min_liquidated_share: float = field(default=0.05, metadata=_rng(0, 1, lo_open=True))
    utilisation_headroom: float = field(default=0.10, metadata=_rng(0, 1, lo_open=True, hi_open=True))


@dataclass(frozen=True)
class RunConfig:
    """A whole run, as parsed from TOML. ``path`` is the file it came from (not hashed)."""

    run: RunSection
    assets: dict[str, AssetConfig]
    data: DataSection = DataSection()
    estimators: EstimatorSection = EstimatorSection()
    scenarios: ScenarioSection = ScenarioSection()
    book: BookSection = BookSection()
    liquidity: LiquiditySection = LiquiditySection()
    optimizer: OptimizerSection = OptimizerSection()
    fund: FundSection = FundSection()
    simulation: SimulationSection = SimulationSection()
    search: SearchSection = SearchSection()
    guardrails: GuardrailSection = GuardrailSection()
    sensitivity: SensitivitySection = SensitivitySection()
    backtest: BacktestSection = BacktestSection()
    anti_procyclicality: AntiProcyclicalitySection = AntiProcyclicalitySection()
    caps: CapsSection = CapsSection()
    #: Hypothetical shocks of the stress library: ``[stress.<name>] <asset> = <move>``, each a
    #: fractional move over the liquidation horizon (-0.35 is a 35 % fall), > -1; shock name ->
    #: asset -> move, in file order.
    stress: dict[str, dict[str, float]] = field(default_factory=dict)
    path: str | None = None

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def asset_names(self) -> tuple[str, ...]:
        return tuple(self.assets)

    @property
    def pegs(self) -> dict[str, str]:
        """Pegged assets and what each is pegged to (``stablecoin = true`` without a peg: "usd")."""
        out = {}
        for t, a in self.assets.items():
            peg = a.peg if a.peg is not None else ("usd" if a.stablecoin else None)
            if peg is not None:
                out[t] = peg
        return out

    def alpha_and_budget_share(self) -> tuple[float, float | None]:
        """CVaR confidence and budget share from the appetite, overridden by explicit values."""
        alpha, share = APPETITE_PRESETS[self.optimizer.appetite]
        if self.optimizer.alpha is not None:
            alpha = self.optimizer.alpha
        if self.optimizer.risk_budget_share is not None:
            share = self.optimizer.risk_budget_share
        if self.optimizer.risk_budget_usd is not None:
            share = None
        return alpha, share

    def to_dict(self) -> dict[str, Any]:
        d = _to_plain(self)
        d.pop("path", None)
        if self.book.reference is not None:  # the reference gives the leverage: these are not used
            for key in ("hf_median", "hf_sigma"):
                d["book"].pop(key, None)
        return d

    def to_toml(self) -> str:
        return dumps_toml(self.to_dict())

    @property
    def sha256(self) -> str:
        """Hash of the resolved configuration (canonical JSON), independent of file layout."""
        return self.digest()

    def digest(self, *, exclude: tuple[str, ...] = ()) -> str:
        """SHA-256 of the resolved configuration without the sections ``exclude``.

        Renamed keys are hashed under the names they had when hashes were first recorded
        (:data:`RENAMED_KEYS`), also where ``[sensitivity] grids`` names them: a rename is not a
        change of configuration, so it changes no hash.
        """
        d = self.to_dict()
        for section in exclude:
            d.pop(section, None)
        for section in ADDED_SECTIONS:
            if not d.get(section):
                d.pop(section, None)  # a config that does not use a later section hashes as before
        for section, default in ADDED_DEFAULT_SECTIONS.items():
            if d.get(section) == _to_plain(default):
                d.pop(section, None)  # a later section left at its defaults hashes as before
        for (section, key), default in ADDED_SECTION_KEYS.items():
            if key in (d.get(section) or {}) and d[section][key] == default:
                del d[section][key]  # a section key added later, left at its default, hashes as before
        for table in (d.get("assets") or {}).values():
            for key, default in ADDED_ASSET_KEYS.items():
                if key in table and table[key] == default:
                    del table[key]  # an asset that leaves a later key at its default hashes as before
        for (section, key), default in ADDED_KEYS.items():
            if section in d and d[section].get(key, default) == default:
                d[section].pop(key, None)
        for (section, old), new in RENAMED_KEYS.items():
            if section in d and new in d[section]:
                d[section] = {(old if k == new else k): v for k, v in d[section].items()}
            if section == "sensitivity" and "sensitivity" in d:
                d[section]["grids"] = [[old if n == new else n for n in g] for g in d[section]["grids"]]
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def replace(self, **sections: Any) -> RunConfig:
        return dataclasses.replace(self, **sections)

    def with_overrides(self, section: str, *, source: str = "<config>", **values: Any) -> RunConfig:
        """Copy with keys of one section replaced (values are validated like the file's; an error
        names ``source``, e.g. ``"--seed"``)."""
        current = getattr(self, section)
        merged = {**_to_plain(current), **values}
        new = _build(type(current), merged, f"[{section}]", source)
        return dataclasses.replace(self, **{section: new})


#: Keys that were renamed: (section, old key) -> new key. The old key is a ConfigError naming
#: the new one, and the config hash is computed over the old names (see `RunConfig.digest`).
RENAMED_KEYS: dict[tuple[str, str], str] = {
    ("scenarios", "corr_stress"): "comonotone_share",
    ("scenarios", "price_corr_stress"): "price_correlation_stress",
    ("sensitivity", "corr_stress"): "comonotone_share",
}


#: Sections added after hashes were first recorded: left out of the hash while empty.
ADDED_SECTIONS: tuple[str, ...] = ("stress",)

#: Sections with defaults added after hashes were first recorded: left out of the hash at their defaults.
ADDED_DEFAULT_SECTIONS: dict[str, Any] = {"caps": CapsSection()}

#: ``(section, key)`` of keys added to a section after hashes were first recorded, with their defaults:
#: left out of the hash while at the default.
ADDED_SECTION_KEYS: dict[tuple[str, str], Any] = {
    ("liquidity", "depth_file"): None, ("liquidity", "quotes_file"): None,
    ("liquidity", "proxy_haircut"): 0.5, ("liquidity", "depth_exponent"): 0.5,
    ("liquidity", "sale_size"): "seized", ("liquidity", "sale_params"): "recommended",
    ("liquidity", "seized_share_sold"): 1.0,
    ("guardrails", "cap_max_change"): 1.0,
}

#: ``[assets.<ticker>]`` keys added after hashes were first recorded, with their defaults: left out
#: of the hash while at the default.
ADDED_ASSET_KEYS: dict[str, Any] = {"short_history": "own", "proxy": None, "peg": None}
#: Keys added after hashes were first recorded, with their defaults: a key at its default is left
#: out of the hash, so a config that does not use a new key hashes as before (see `RunConfig.digest`).
ADDED_KEYS: dict[tuple[str, str], Any] = {
    ("book", "reference"): None,
    ("book", "n_placed"): 10,
    ("book", "seed"): None,
    ("scenarios", "depeg_jumps"): True,
    ("scenarios", "depeg_threshold"): 0.02,
    ("scenarios", "depeg_decluster_days"): 7,
    ("scenarios", "depeg_history"): "all",
    ("fund", "reference_usd"): None,
    ("scenarios", "depeg_severity"): "gpd",
    ("optimizer", "held_ltv_lt"): "up_to_current",
    ("scenarios", "band_batches"): 10,
    ("optimizer", "stress_constraint"): True,
    ("optimizer", "stress_budget_usd"): None,
    ("optimizer", "stress_budget_share"): None,
}


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML configuration file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: invalid TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    cfg = parse_config(raw, source=str(p))
    if not cfg.run.name:
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, name=p.stem))
    return dataclasses.replace(cfg, path=str(p.resolve()))


def parse_config(raw: dict[str, Any], *, source: str = "<config>") -> RunConfig:
    """Build a :class:`RunConfig` from a parsed TOML mapping; every error names its key."""
    known = {f.name for f in dataclasses.fields(RunConfig)} - {"path"}
    unknown = sorted(set(raw) - known)
    if unknown:
        valid = sorted(known)
        raise ConfigError(f"{source}: unknown section or key {unknown[0]!r}; valid: {', '.join(valid)}")
    if "run" not in raw:
        raw = {**raw, "run": {}}
    assets_raw = raw.get("assets")
    if not isinstance(assets_raw, dict) or not assets_raw:
        raise ConfigError(f"{source}: [assets] must list at least one asset as [assets.<ticker>]")
    assets: dict[str, AssetConfig] = {}
    for ticker, table in assets_raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [assets.{ticker}] must be a table")
        if not ticker or ticker != ticker.strip() or any(c.isspace() or c == "." for c in ticker):
            raise ConfigError(f"{source}: [assets.{json.dumps(ticker)}]: an asset ticker must be a non-empty name "
                              "without spaces or dots, e.g. [assets.eth]")
        if ticker != ticker.lower():
            raise ConfigError(f"{source}: asset ticker {ticker!r} must be lower-case (use {ticker.lower()!r})")
        assets[ticker] = _build(AssetConfig, table, f"[assets.{ticker}]", source)
    kwargs: dict[str, Any] = {"assets": assets}
    if "stress" in raw:
        kwargs["stress"] = _stress_shocks(raw["stress"], tuple(assets), source)
    for f in dataclasses.fields(RunConfig):
        if f.name in ("assets", "path", "stress") or f.name not in raw:
            continue
        if not isinstance(raw[f.name], dict):
            raise ConfigError(f"{source}: [{f.name}] must be a table")
        kwargs[f.name] = _build(_hint(RunConfig, f.name), raw[f.name], f"[{f.name}]", source)
    cfg = RunConfig(**kwargs)
    _cross_checks(cfg, source)
    book_raw = raw.get("book", {})
    if cfg.book.reference is not None:
        unused = [k for k in ("hf_median", "hf_sigma") if k in book_raw]
        if unused:
            raise ConfigError(f"{source}: [book] {unused[0]} has no effect with reference = {cfg.book.reference!r}: "
                              "the leverage comes from the reference's collateral_to_debt; remove it")
    return cfg


def _stress_shocks(raw: Any, assets: tuple[str, ...], source: str) -> dict[str, dict[str, float]]:
    """``[stress.<name>]`` tables: each a mapping of config assets to fractional moves > -1."""
    example = "e.g. [stress.eth_crash] eth = -0.35"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [stress] must hold tables [stress.<name>] of moves per asset, {example}")
    shocks: dict[str, dict[str, float]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [stress] {name} = {table!r} must be a table [stress.{name}] of "
                              f"moves per asset, {example}")
        if not table:
            raise ConfigError(f"{source}: [stress.{name}] names no asset; give at least one move, {example}")
        moves: dict[str, float] = {}
        for asset, value in table.items():
            key = f"[stress.{name}] {asset}"
            if asset not in assets:
                close = _closest(asset, list(assets))
                hint = f" (did you mean {close!r}?)" if close else ""
                raise ConfigError(f"{source}: unknown key [stress.{name}] {asset!r}: not an asset of this "
                                  f"config{hint}; assets: {', '.join(assets)}")
            move = _coerce(value, float, key, source)
            if move <= -1.0:
                raise ConfigError(f"{source}: {key} = {value!r} must be > -1 (a fractional move over the "
                                  "liquidation horizon: -0.35 is a 35 % fall)")
            moves[asset] = move
        shocks[str(name)] = moves
    return shocks


def _cross_checks(cfg: RunConfig, source: str) -> None:
    o = cfg.optimizer
    if o.stress_budget_usd is not None and o.stress_budget_share is not None:
        raise ConfigError(f"{source}: [optimizer] give stress_budget_usd or stress_budget_share, not both")
    if not o.stress_constraint and (o.stress_budget_usd is not None or o.stress_budget_share is not None):
        raise ConfigError(f"{source}: [optimizer] stress_constraint = false: the stress budget is unused, "
                          "remove stress_budget_usd / stress_budget_share")
    if o.lt_min >= o.lt_max:
        raise ConfigError(f"{source}: [optimizer] lt_min={o.lt_min} must be < lt_max={o.lt_max}")
    if cfg.scenarios.method == "bootstrap" and (
        cfg.scenarios.vol_multiplier != 1.0 or cfg.scenarios.price_correlation_stress > 0
    ):
        raise ConfigError(
            f"{source}: [scenarios] method = 'bootstrap' replays raw returns and cannot apply "
            "vol_multiplier or price_correlation_stress; use method = 'fhs' or 'parametric'"
        )
    if cfg.book.kind == "csv" and not cfg.book.path:
        raise ConfigError(f"{source}: [book] kind = 'csv' needs path = '<file.csv>'")
    if cfg.book.kind == "csv" and cfg.book.reference is not None:
        raise ConfigError(f"{source}: [book] reference calibrates a synthetic book; kind = 'csv' reads "
                          "its accounts from path: remove reference")
    if cfg.book.kind == "synthetic" and cfg.book.reference is None and cfg.book.hf_min >= cfg.book.hf_median:
        raise ConfigError(f"{source}: [book] hf_min = {cfg.book.hf_min} must be < hf_median = {cfg.book.hf_median} "
                          "(health factors are drawn above hf_min with median hf_median)")
    if cfg.search.storage is not None:
        _check_storage_url(cfg.search.storage, source)
    if cfg.book.kind == "synthetic":
        for t, a in cfg.assets.items():
            if a.supplied_usd <= 0:
                raise ConfigError(
                    f"{source}: [assets.{t}] supplied_usd must be > 0 for a synthetic book, got {a.supplied_usd}"
                )
    for t, a in cfg.assets.items():
        if a.current is not None and a.current.ltv > a.current.liquidation_threshold:
            raise ConfigError(
                f"{source}: [assets.{t}] current ltv={a.current.ltv} exceeds "
                f"liquidation_threshold={a.current.liquidation_threshold}"
            )
        if a.current is not None and a.current.liquidation_threshold * (1 + a.current.liquidation_bonus) > 1 + 1e-9:
            raise ConfigError(
                f"{source}: [assets.{t}] current liquidation_threshold x (1 + liquidation_bonus) > 1"
            )
    for t, a in cfg.assets.items():
        if a.proxy is not None and a.short_history != "proxy":
            raise ConfigError(f"{source}: [assets.{t}] proxy = {a.proxy!r} needs short_history = 'proxy' "
                              f"(got short_history = {a.short_history!r})")
        if a.short_history == "proxy" and not a.proxy:
            raise ConfigError(f"{source}: [assets.{t}] short_history = 'proxy' needs proxy = "
                              "'<asset or data ticker>'")
        if a.proxy is not None and a.proxy in (t, a.price_ticker):
            raise ConfigError(f"{source}: [assets.{t}] proxy = {a.proxy!r} is the asset's own price series")
        if a.peg is None:
            continue
        if a.peg == t:
            raise ConfigError(f"{source}: [assets.{t}] peg = {a.peg!r}: an asset cannot be pegged to itself")
        if a.peg not in PEG_REFERENCES and a.peg not in cfg.assets:
            known = ", ".join(repr(p) for p in (*PEG_REFERENCES, *[x for x in cfg.assets if x != t]))
            raise ConfigError(f"{source}: [assets.{t}] peg = {a.peg!r} is neither a peg class nor an asset of "
                              f"the config; use one of {known}")
    if cfg.run.as_of is not None:
        _check_date(cfg.run.as_of, "[run] as_of", source)
    _check_backtest(cfg.backtest, source)
    if not cfg.data.sources or len(set(cfg.data.sources)) != len(cfg.data.sources):
        raise ConfigError(f"{source}: [data] sources = {list(cfg.data.sources)} must name each source "
                          "once and at least one")


def _check_storage_url(url: str, source: str) -> None:
    """``[search] storage`` must be a database URL: a bare word would become a SQLite file of that name."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not rest or not all(c.isalnum() or c in "+-." for c in scheme):
        raise ConfigError(f"{source}: [search] storage = {url!r} is not a database URL; use e.g. "
                          "'sqlite:///studies/study.db' or 'postgresql://user@host/db' (or leave it out: "
                          "study.db in the run directory)")


def _check_backtest(bt: BacktestSection, source: str) -> None:
    if not bt.estimators:
        valid = ", ".join(repr(v.value) for v in BACKTEST_VOLATILITIES)
        raise ConfigError(f"{source}: [backtest] estimators must name at least one of {valid}")
    if len(set(bt.estimators)) != len(bt.estimators):
        raise ConfigError(f"{source}: [backtest] estimators lists a name twice: {[str(e) for e in bt.estimators]}")
    for ep in bt.episodes:
        if len(ep) != 2:
            raise ConfigError(f"{source}: [backtest] episodes: each episode is [start, end], got {list(ep)}")
        for d in ep:
            _check_date(d, "[backtest] episodes", source)
        if ep[1] < ep[0]:
            raise ConfigError(f"{source}: [backtest] episodes: end {ep[1]} is before start {ep[0]}")


def _check_date(value: str, key: str, source: str) -> None:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{source}: {key} = {value!r} is not a date (YYYY-MM-DD)") from None


def _hint(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _build(cls: type, table: dict[str, Any], where: str, source: str = "<config>") -> Any:
    """Instantiate dataclass ``cls`` from ``table`` with strict key, type and range checks."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    for (section, old), new in RENAMED_KEYS.items():
        if where == f"[{section}]" and old in unknown:
            raise ConfigError(f"{source}: {where} {old} was renamed: use {new} (same meaning and range)")
    if unknown:
        close = _closest(unknown[0], list(fields))
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ConfigError(
            f"{source}: unknown key {where} {unknown[0]!r}{hint}; valid keys: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in table.items():
        key = f"{where} {name}"
        choices = fields[name].metadata.get("choices")
        if choices is not None:
            _check_choices(value, choices, key, source)
        kwargs[name] = _coerce(value, hints[name], key, source)
        check = fields[name].metadata.get("check")
        if check is not None:
            msg = check(kwargs[name])
            if msg:
                raise ConfigError(f"{source}: {key} = {value!r} {msg}")
    try:
        return cls(**kwargs)
    except TypeError as err:
        missing = [n for n, f in fields.items() if n not in kwargs and _required(f)]
        if missing:
            raise ConfigError(f"{source}: {where} is missing required key {missing[0]!r}") from None
        raise ConfigError(f"{source}: {where}: {err}") from None


def _check_choices(value: Any, choices: tuple[str, ...], key: str, source: str) -> None:
    """``value`` (or each item of a list) must be one of ``choices``; other types fail in `_coerce`."""
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, str) and v not in choices:
            raise ConfigError(f"{source}: {key} = {v!r} is not one of {_options(choices, v)}")


def _options(choices: Any, value: Any) -> str:
    """``'a', 'b', 'c'``, with a suggestion when ``value`` looks like a misspelt choice."""
    names = [str(c) for c in choices]
    close = _closest(value, names) if isinstance(value, str) else None
    return ", ".join(map(repr, names)) + (f" (did you mean {close!r}?)" if close else "")


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        errors = []
        for a in non_none:
            try:
                return _coerce(value, a, key, source)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key} = {value!r} is not one of {_options(args, value)}")
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise ConfigError(f"{source}: {key} = {value!r} is not one of {_options([m.value for m in hint], value)}") from None
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a table")
        return _build(hint, value, key, source)
    if origin in (dict,):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a table")
        return {str(k): _coerce(v, args[1], f"{key}.{k}", source) for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key} must be a list, got {type(value).__name__}")
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, key, source) for v in value)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{source}: {key} must be finite, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
        return value
    return value


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib

    m = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return m[0] if m else None


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def dumps_toml(d: dict[str, Any]) -> str:
    """Serialise a nested mapping of plain values to TOML (None values are omitted)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{_key(k)} = {scalar(x)}" for k, x in v.items() if x is not None) + " }"
        raise TypeError(f"cannot serialise {type(v).__name__} to TOML")

    def table(prefix: str, t: dict[str, Any]) -> None:
        plain = {k: v for k, v in t.items() if not isinstance(v, dict) or _inline(v)}
        nested = {k: v for k, v in t.items() if isinstance(v, dict) and not _inline(v)}
        if prefix and any(v is not None for v in plain.values()):
            lines.append(f"\n[{prefix}]")
        for k, v in plain.items():
            if v is not None:
                lines.append(f"{_key(k)} = {scalar(v)}")
        for k, v in nested.items():
            table(f"{prefix}.{_key(k)}" if prefix else _key(k), v)

    table("", d)
    return "\n".join(lines).lstrip("\n") + "\n"


def _inline(v: dict[str, Any]) -> bool:
    """Small leaf tables (like ``current``) are written inline."""
    return all(not isinstance(x, dict) for x in v.values()) and len(v) <= 4 and "ltv" in v


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and not k[0].isdigit() else json.dumps(k)
