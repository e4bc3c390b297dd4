"""The data model of a run report: assembled first, then rendered to JSON, Markdown and HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.report.section import Section

#: Version of params.json / report layout. History: 1 = first release; 2 = each asset's ``ltv``,
#: ``liquidation_threshold`` and ``liquidation_bonus`` is ``{"value", "bps", "unrounded", "band"}``
#: (the value on the protocol's grid), its ``band`` dict folded into them.
FORMAT_VERSION = 2


@dataclass(frozen=True, eq=False)
class AssetResult:
    """One collateral asset's answer and what drove it.

    current / recommended : dict with keys ``ltv``, ``liquidation_threshold``, ``liquidation_bonus``,
        ``haircut`` (fractions); ``current`` is None when the config gives no current parameters;
        ``recommended`` is on the protocol's grid (``unrounded`` the program's answer).
    drivers : dict of floats/str, e.g. ``vol_annual`` (annualised vol of daily log returns),
        ``vol_forecast_daily``, ``tail_dof`` (Student-t dof of residuals), ``corr_to_debt`` (correlation
        with the debt basket), ``adv_usd`` (average daily volume), ``slippage`` (fraction),
        ``collateral_usd``, ``estimator`` (model used), ``fallback_reason`` (None or text),
        ``horizon_drop_q`` (the 1 - alpha quantile of the horizon price relative).
    references : dict, ``analytic_lt`` and ``smart_ltv`` (simple benchmarks on the same inputs).
    policy : dict or None
        For a reserve whose LTV a policy holds: ``ltv_held_at`` (the held LTV), ``lt_rule`` (the
        ``[optimizer] held_ltv_lt`` policy), ``lt_cap`` (the current LT the rule caps at, or None) and
        ``risk_limit_lt`` (the LT the risk target alone would allow); None for other reserves.
    """

    asset: str
    current: dict[str, float] | None
    recommended: dict[str, float]
    drivers: dict[str, Any]
    references: dict[str, float | None]
    binding: str = ""  # what set the value: an `optimizer.optimize.Binding` ("upper bound", ...)
    policy: dict[str, Any] | None = None
    #: Monte Carlo band (95 % half-width, fractions) of ``liquidation_threshold`` and ``ltv``, or None.
    band: dict[str, float] | None = None
    #: The program's answer before the grid (same keys as ``recommended``), or None: ``recommended`` is it.
    unrounded: dict[str, float] | None = None


@dataclass(frozen=True, eq=False)
class RunReport:
    """Everything a report shows. Renderers read this and nothing else.

    Attributes
    ----------
    title : str
    config_name : str
    status : str
        A :class:`~optimizer.optimize.RunStatus`: ``"ok"`` or ``"infeasible"`` (risk target not met).
    status_message : str
        One paragraph explaining the status (for infeasible: the smallest feasible budget).
    meta : dict
        ``format_version``, ``package_version``, ``config_sha256``, ``data_sha256``, ``seed``,
        ``versions`` (library -> version), ``as_of``, ``data_files`` (file -> sha256).
        Wall-clock fields (``created_utc``, ``runtime_seconds``) go in ``run_info``, never in params.json.
    run_info : dict
        ``created_utc``, ``runtime_seconds``, ``command``: shown in md/html only.
    assets : list of AssetResult
    insurance_fund_usd : float
    metrics : dict
        Under the recommended parameters: ``capital_efficiency_usd``, ``bad_debt_var_usd``,
        ``bad_debt_cvar_usd``, ``prob_bad_debt``, ``prob_bad_debt_exceeds_fund`` (+ any extras).
    metrics_current : dict or None
        The same under the current parameters.
    method : dict
        Settings to print: ``scenario_method``, ``n_scenarios``, ``horizon_days``, ``alpha``,
        ``risk_budget_usd``, ``appetite``, ``volatility_estimator``, ``correlation_estimator``,
        ``solver``, ``solve_seconds``, ``book_source``, ...
    assumptions : list of str
        Plain-language modelling assumptions.
    data_findings : list of dict
        Non-fatal data flags: ``kind`` (gap, stale, outlier, depeg, ...), ``asset``, ``start``, ``end``,
        ``detail``.
    book_summary : dict
        ``source``, ``n_accounts``, ``total_collateral_usd``, ``total_debt_usd``, per-asset totals.
    fund : dict
        ``insurance_fund_usd``, ``es_usd``, ``cover2_usd``, ``epsilon``, ``mc_stderr_usd``,
        ``curve``: list of ``[fund_usd, prob_exceed]`` pairs.
    prices : DataFrame (dates x assets)
        Price history used (for plots).
    volatility : DataFrame (dates x assets)
        Conditional daily volatility history (for plots).
    correlation : ndarray of shape (n_assets, n_assets)
    bad_debt : ndarray of shape (n_scenarios,)
        Aggregate bad debt per scenario, USD, under the recommended parameters.
    bad_debt_current : ndarray of shape (n_scenarios,) or None
    bad_debt_weights : ndarray of shape (n_scenarios,) or None
        Probabilities of the scenarios of both (a tail-stratified simulation sample); None: equal.
    metrics_band : dict or None
        Monte Carlo band (95 % half-width, batch means) of the bad-debt measures of ``metrics`` and
        ``metrics_current``: ``{"recommended": {key: half_width}, "current": {...}}`` with the keys
        ``bad_debt_var_usd``, ``bad_debt_cvar_usd``, ``bad_debt_mean_usd``, ``prob_bad_debt``,
        ``prob_bad_debt_exceeds_fund``; None when the run measured none.
    sections : dict of str to Section
        Optional sections added by later stages, keyed by name (``backtests``,
        ``anti_procyclicality``, ``market_simulation``, ``frontier_view``, ...), printed in this
        order (HTML id ``sec-<name>``); a section's ``data`` goes into params.json under its
        ``data_key`` (default its name).
    config_text : str
        The resolved configuration as TOML.
    """

    title: str
    config_name: str
    status: str
    status_message: str
    meta: dict[str, Any]
    run_info: dict[str, Any]
    assets: list[AssetResult]
    insurance_fund_usd: float
    metrics: dict[str, Any]
    metrics_current: dict[str, Any] | None
    method: dict[str, Any]
    assumptions: list[str]
    data_findings: list[dict[str, Any]]
    book_summary: dict[str, Any]
    fund: dict[str, Any]
    prices: pd.DataFrame
    volatility: pd.DataFrame
    correlation: np.ndarray
    bad_debt: np.ndarray
    bad_debt_current: np.ndarray | None = None
    bad_debt_weights: np.ndarray | None = None
    metrics_band: dict[str, dict[str, float]] | None = None
    sections: dict[str, Section] = field(default_factory=dict)
    config_text: str = ""

    def __post_init__(self) -> None:
        sections = dict(self.sections or {})
        for name, s in sections.items():
            if not isinstance(s, Section):
                raise TypeError(
                    f"RunReport.sections[{name!r}] is a {type(s).__name__}; build an "
                    "optimizer.report.Section (title, paragraphs, bullets, tables, figures, data)"
                )
        object.__setattr__(self, "sections", sections)

    @property
    def asset_names(self) -> list[str]:
        return [a.asset for a in self.assets]
