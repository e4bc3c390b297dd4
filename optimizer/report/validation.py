"""Report text of the validation: the VaR/ES backtests, anti-procyclicality, the crash replays.

Each function formats a typed result (:class:`~optimizer.estimators.VaRBacktests`,
:class:`~optimizer.optimize.anti_procyclicality.AntiProcyclicalityOutcome`) into a
:class:`~optimizer.report.section.Section`; its ``data`` is what params.json keeps
(``var_backtests``, ``anti_procyclicality``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from optimizer.estimators import BASE_ALPHA
from optimizer.optimize import RunStatus
from optimizer.typing import VolatilityName
from optimizer.report.section import Column, Format, Section, Table

if TYPE_CHECKING:
    from optimizer.estimators import VaRBacktests
    from optimizer.optimize.anti_procyclicality import AntiProcyclicalityOutcome
    from optimizer.report.model import RunReport
    from optimizer.scenarios import Exclusion

__all__ = [
    "EXTREME_P",
    "PLAUSIBLE_P",
    "anti_procyclicality_section",
    "attach_validation_sections",
    "backtest_section",
    "backtest_title",
    "date_span",
    "exclusion_reason",
    "not_covered_reason",
    "plausibility",
    "replay_engine",
    "tail_source",
    "var_backtests_json",
]

#: Tail probabilities at or above this are "plausible" (inside the model's 99 % range).
PLAUSIBLE_P = 0.01
#: Below this a move is an "extreme tail" event for the model.
EXTREME_P = 0.001


def var_backtests_json(vbt: VaRBacktests) -> dict[str, Any]:
    """The ``var_backtests`` block of params.json / backtest.json.

    ``{"<ticker>": {"<estimator>": {"n", "exceptions", "zone", "kupiec_p", "christoffersen_p",
    "cc_p", "expected", "es_z2", "es_p", ..., "levels": {"0.99": {...}}}}}``; a skipped asset has
    ``{"skipped": reason}``.
    """
    out: dict[str, Any] = {a: {e: dict(m) for e, m in per.items()} for a, per in vbt.results.items()}
    for a, why in vbt.skipped.items():
        out[a] = {"skipped": why}
    return out


#: Columns of the backtest table (the run's level) and of the table per further level.
_BACKTEST_COLUMNS = (
    Column("Asset"), Column("Estimator"), Column("Window", Format.NUM), Column("Test days", Format.NUM),
    Column("Exceptions", Format.NUM), Column("Expected", Format.NUM), Column("Zone"),
    Column("Kupiec p", Format.NUM), Column("Christoffersen p", Format.NUM),
    Column("Cond. coverage p", Format.NUM), Column("ES Z2", Format.NUM), Column("ES p", Format.NUM),
    Column("Fallback days", Format.PCT), Column("Passes"), Column("Used"),
)
_LEVEL_COLUMNS = (
    Column("Asset"), Column("Estimator"), Column("Test days", Format.NUM), Column("Exceptions", Format.NUM),
    Column("Expected", Format.NUM), Column("Zone"), Column("Kupiec p", Format.NUM),
    Column("Christoffersen p", Format.NUM), Column("ES p", Format.NUM),
)


def backtest_section(vbt: VaRBacktests, *, volatility: str) -> Section:
    """The report section ``backtests``: a table per asset and estimator, verdicts in bullets.

    Its data is the params.json block ``var_backtests`` (:func:`var_backtests_json`).

    Parameters
    ----------
    vbt : VaRBacktests
    volatility : str
        ``[estimators] volatility`` of the run; with ``"auto"`` the chosen estimators are the ones
        the scenarios use.
    """
    chosen_used = volatility == VolatilityName.AUTO
    s = vbt.settings
    lv = ", ".join(f"{a:.1%}" for a in vbt.levels)
    days = "every day after the first training window" if s["test_days"] is None else (
        f"the last {s['test_days']} days up to {s['as_of']}")
    text = (
        f"Rolling out-of-sample one-day VaR and ES at {lv} for each volatility estimator, on each "
        f"asset's own price history up to {s['as_of']}. Test period: {days}; the model is refitted "
        f"every {s['refit_every']} days on the {s['window']} days before (fewer for assets with a "
        f"short history, see the window column) and filtered forward in between. VaR and ES come "
        "from the forecast volatility and the fitted Student-t tail.",
        "Exceptions are days whose loss exceeded the 99 % VaR. Zone: Basel traffic light for the "
        "window length (green while P(at most this many | correct model) < 95 %, red from "
        "99.99 %). p-values: Kupiec proportion of failures, Christoffersen independence, and the "
        "Acerbi-Szekely Z2 test of ES with critical values simulated from the fitted Student-t "
        f"({s['es_sims']} simulations). An estimator passes when it is green and no test rejects "
        "at 5 %.",
    )
    rows = []
    for a, per in vbt.results.items():
        for e, m in per.items():
            if "error" in m:
                rows.append((a, e, None, None, None, None, "failed", None, None, None, None, None,
                             None, "no", ""))
                continue
            rows.append((a, e, m["window"], m["n"], m["exceptions"], round(m["expected"], 1),
                         m["zone"], round(m["kupiec_p"], 3), round(m["christoffersen_p"], 3),
                         round(m["cc_p"], 3), round(m["es_z2"], 3), round(m["es_p"], 3),
                         m["fallback_share"], "yes" if m["passes"] else "no",
                         "yes" if (m["chosen"] and chosen_used) else ""))
    tables = [Table(_BACKTEST_COLUMNS, tuple(rows), id="tbl-backtests")]
    extra = [a for a in vbt.levels if a != BASE_ALPHA]
    for i, alpha in enumerate(extra):
        key = f"{alpha:g}"
        xrows = tuple((a, e, m["levels"][key]["n"], m["levels"][key]["exceptions"],
                       round(m["levels"][key]["expected"], 1), m["levels"][key]["zone"],
                       round(m["levels"][key]["kupiec_p"], 3), round(m["levels"][key]["christoffersen_p"], 3),
                       round(m["levels"][key]["es_p"], 3))
                      for a, per in vbt.results.items() for e, m in per.items() if "error" not in m)
        tables.append(Table(_LEVEL_COLUMNS, xrows, id=f"tbl-backtests-{i + 2}",
                            caption=f"The same forecasts at the configured {alpha:.1%}."))
    bullets = []
    for a in vbt.results:
        ok = vbt.passing.get(a, ())
        verdict = f"{a}: passes with {', '.join(ok)}" if ok else f"{a}: no estimator passes"
        if a in vbt.choice:
            verdict += ("; used: " if chosen_used else "; best: ") + vbt.choice[a]
            if not ok:
                verdict += " (least bad)"
        bad = [e for e, m in vbt.results[a].items() if "error" in m]
        if bad:
            verdict += f"; failed to fit: {', '.join(bad)}"
        bullets.append(verdict)
    for a, why in vbt.skipped.items():
        bullets.append(f"{a}: not backtested: {why}" + ("; garch used" if chosen_used else ""))
    if volatility != VolatilityName.AUTO:
        bullets.append(f"The scenarios use [estimators] volatility = {str(volatility)!r} for "
                       "every asset; set it to 'auto' to use each asset's best passing estimator.")
    cost = " (computed earlier; read from the cache)." if vbt.cached else "."
    bullets.append(f"Backtest cost: {vbt.seconds:.1f} s{cost}")
    return Section("Backtests of the volatility estimators", paragraphs=text, bullets=tuple(bullets),
                   tables=tuple(tables), data=var_backtests_json(vbt), data_key="var_backtests",
                   appendix=True)


def _how(out: AntiProcyclicalityOutcome) -> str:
    p = out.policy
    if out.method == "buffer":
        return (f"Buffer: each haircut (1 - LTV) is held {p.buffer:.0%} above the model's value, "
                "capped at 100 % (LTV >= 0); liquidation thresholds are unchanged.")
    if out.method == "floor":
        return ("Floor: the scenarios are rescaled, asset by asset, from the current volatility "
                "forecast to the full-history volatility (standard deviation of daily log returns "
                "from the asset's first price to as_of), the thresholds re-solved, and each LT and "
                "LTV kept at the lower of the two solutions (each haircut floored at the long-"
                "lookback haircut).")
    pool = out.stress
    assert pool is not None
    return (f"Stress weight: {p.stress_weight:.0%} of the {out.n_scenarios:,} scenarios are replaced by "
            f"historical {out.horizon}-day windows drawn from the stressed ones (the worst "
            f"{p.stress_quantile:.0%} of windows of the collateral-weighted basket, "
            f"{pool.n_stressed} of {pool.n_windows} windows with a price for every asset, "
            f"t0 from {pool.first_t0} to {pool.last_t0}); the thresholds are re-solved and "
            "each LT and LTV kept at the lower of the two solutions.")


def _details(out: AntiProcyclicalityOutcome) -> dict[str, Any]:
    """The method's own data keys of the section (params.json)."""
    assets = out.assets
    if out.method == "floor":
        assert out.long_volatility is not None and out.forecast_volatility is not None
        assert out.history_start is not None
        return {
            "long_vol_daily": {a: float(v) for a, v in zip(assets, out.long_volatility)},
            "forecast_vol_daily": {a: float(v) for a, v in zip(assets, out.forecast_volatility)},
            "history_start": dict(zip(assets, out.history_start)),
        }
    if out.method == "stress_weight":
        pool = out.stress
        assert pool is not None
        info = {
            "n_windows": pool.n_windows,
            "n_stressed": pool.n_stressed,
            "first_t0": pool.first_t0,
            "last_t0": pool.last_t0,
            "cut_basket_move": pool.cut_basket_move,
            "worst_t0": list(pool.worst_t0),
        }
        return {"stress_pool": info, "n_stress_scenarios": out.n_stress_scenarios}
    return {}


def _bullets(out: AntiProcyclicalityOutcome) -> list[str]:
    bullets: list[str] = []
    if out.method == "floor":
        assert out.long_volatility is not None and out.forecast_volatility is not None
        assert out.history_start is not None
        for a, s_l, s_n, start in zip(out.assets, out.long_volatility, out.forecast_volatility,
                                      out.history_start):
            bullets.append(f"{a}: full-history daily volatility {s_l:.2%} vs forecast {s_n:.2%} "
                           f"(since {start})")
    elif out.method == "stress_weight":
        pool = out.stress
        assert pool is not None
        bullets.append(f"Stressed windows: basket move of {pool.cut_basket_move:.2%} or worse over "
                       f"{out.horizon} days; the worst start on {', '.join(pool.worst_t0)}.")
    alt = out.alternative
    if alt is not None and alt.status != RunStatus.OK:
        bullets.append("The alternative calibration alone does not meet the risk target "
                       f"({', '.join(alt.guard_fails) or 'aggregate budget'}); its most "
                       "conservative allowed thresholds are used as the floor.")
    return bullets


#: Columns of the anti-procyclicality table.
_APC_COLUMNS = (
    Column("Asset"), Column("Model LTV", Format.PCT), Column("Applied LTV", Format.PCT),
    Column("Haircut +bps", Format.NUM), Column("Model LT", Format.PCT), Column("Applied LT", Format.PCT),
    Column("LT -bps", Format.NUM), Column("Binds"),
)


def anti_procyclicality_section(out: AntiProcyclicalityOutcome) -> Section:
    """The report section ``anti_procyclicality``: what the policy did, per asset.

    Its data (params.json ``anti_procyclicality``) holds ``method``, ``binds``,
    ``haircut_increase_bps``, ``lt_decrease_bps``, ``model_params`` and the method's own keys, and,
    so the block keeps its bytes, the section's text and table as they were written before sections
    were typed (``title``, ``text``, ``bullets``, ``table``).
    """
    assets = out.assets
    model, applied = out.model, out.applied
    ltv0, ltv1 = model.ltv, applied.ltv
    lt0, lt1 = model.liquidation_threshold, applied.liquidation_threshold
    haircut_bps, lt_bps, binds = out.haircut_increase_bps, out.lt_decrease_bps, out.binds
    binding = out.binding_assets
    summary = (f"Applied: {out.method}. It binds for {len(binding)} of {len(assets)} assets"
               + (f" ({', '.join(binding)})" if binding else "")
               + f"; largest haircut increase {haircut_bps.max():.0f} bps.")
    rows = [[a, ltv0[i], ltv1[i], round(float(haircut_bps[i]), 1), lt0[i], lt1[i], round(float(lt_bps[i]), 1),
             "yes" if binds[i] else "no"] for i, a in enumerate(assets)]
    title, text, bullets = "Anti-procyclicality", [_how(out), summary], _bullets(out)
    table = Table(_APC_COLUMNS, tuple(tuple(r) for r in rows), id="tbl-anti-procyclicality")
    data = {
        "title": title,
        "text": text,
        "bullets": bullets,
        "table": {"columns": table.header, "formats": [c.format.value for c in table.columns], "rows": rows,
                  "id": table.id},
        "method": out.method,
        "binds": {a: bool(binds[i]) for i, a in enumerate(assets)},
        "haircut_increase_bps": {a: float(haircut_bps[i]) for i, a in enumerate(assets)},
        "lt_decrease_bps": {a: float(lt_bps[i]) for i, a in enumerate(assets)},
        "model_params": model.to_dict(),
        **_details(out),
    }
    return Section(title, paragraphs=tuple(text), bullets=tuple(bullets), tables=(table,), data=data,
                   appendix=True)


def attach_validation_sections(
    report: RunReport,
    backtests: VaRBacktests | None,
    anti_procyclicality: AntiProcyclicalityOutcome | None,
    *,
    volatility: str,
) -> RunReport:
    """Add the ``backtests`` (params.json: ``var_backtests``) and ``anti_procyclicality`` sections.

    ``backtests`` is None when the report leaves them out (``[backtest] in_report = false``).
    """
    sections = dict(report.sections)
    if backtests is not None:
        sections["backtests"] = backtest_section(backtests, volatility=volatility)
    if anti_procyclicality is not None:
        sections["anti_procyclicality"] = anti_procyclicality_section(anti_procyclicality)
    return dataclasses.replace(report, sections=sections)


# ---------------------------------------------------------------------------------------------
# Crash replays (`riskopt backtest`): the wording of each episode's record
# ---------------------------------------------------------------------------------------------
def plausibility(p: float | None, n: int, drop: float) -> str:
    """Verdict on the model's probability ``p`` of a move at least as bad as the realised one.

    ``n`` is the number of simulated paths ``p`` was counted on, ``drop`` the realised fall
    (a fraction; <= 0 is no fall).
    """
    if drop <= 0:
        return "no drop"
    if p is None:
        return "not measured"
    if p >= PLAUSIBLE_P:
        return "plausible"
    if p >= EXTREME_P:
        return f"tail (1 in {1 / p:,.0f})"
    if p > 0:
        return f"extreme tail (1 in {1 / p:,.0f})"
    return f"implausible: worse than all {n:,} simulated paths"


def exclusion_reason(ex: Exclusion) -> str:
    """Why an asset does not take part in an episode, in words."""
    if ex.kind == "no_prices":
        return "no prices at all"
    if ex.kind == "starts_after":
        return f"data starts on {ex.date}, after the episode"
    if ex.kind == "ends_before":
        return f"data ends on {ex.date or '?'}, before the episode ends"
    if ex.kind == "no_close_before":
        gap = "" if ex.gap is None else (
            f"its series has no prices from {ex.gap[0]} to {ex.gap[1] or 'the end of the data'}")
        return f"no close on {ex.date} (the day before the episode)" + (f"; {gap}" if gap else "")
    if ex.kind == "missing_close":
        return f"no close on {ex.date} inside the episode"
    return (f"only {ex.n_before} days of prices up to {ex.date} "
            f"(need {ex.min_days}, [data] min_history_days)")


def not_covered_reason(excluded: dict[str, str]) -> str:
    """Why no asset takes part in an episode: the assets grouped by reason, largest group first."""
    by_reason: dict[str, list[str]] = {}
    for a, why in excluded.items():
        by_reason.setdefault(str(why), []).append(a)
    return "; ".join(f"{', '.join(names)}: {why}"
                     for why, names in sorted(by_reason.items(), key=lambda kv: -len(kv[1])))


def replay_engine(dynamic: bool, *, impact: str = "sqrt", cascades: bool = True, gas_usd: float = 0.0) -> str:
    """What replayed an episode: the dynamic market simulation, or the static kernel without it."""
    if not dynamic:
        return "static kernel on the episode's worst daily close (the dynamic simulation is not available)"
    return (f"dynamic market simulation on the daily closes (one step per day, {impact}-law impact, "
            f"cascades {'on' if cascades else 'off'}, gas ${gas_usd:,.0f}; a day's liquidations all trade at its "
            "close, each paying its own sale's slippage, and their sales move prices from the next day on; a "
            "liquidator is paid its bonus at the oracle price)")


def tail_source(n_paths: int, days: int, *, run_horizon: int | None) -> str:
    """Where an episode's tail probabilities come from.

    ``run_horizon`` is the horizon of the run's own paths when those were used (their first
    ``days`` days), None when ``n_paths`` longer paths were simulated from the fitted model.
    """
    if run_horizon is not None:
        return f"the run's {n_paths:,} simulated {run_horizon}-day paths (first {days} day(s))"
    return f"{n_paths:,} paths of {days} days simulated from the run's fitted model"


def date_span(index: Any) -> str:
    """``"first .. last"`` dates of a DatetimeIndex."""
    return f"{index[0].date()} .. {index[-1].date()}"


def backtest_title(run_title: str | None, config_name: str) -> str:
    """Title of the `riskopt backtest` report: the run's title, else the config's name."""
    return f"riskopt backtest: {run_title or config_name}"
