"""Report sections of the in-run validation: the VaR/ES backtests and anti-procyclicality.

Each function formats a typed result (:class:`~optimizer.estimators.VaRBacktests`,
:class:`~optimizer.optimize.anti_procyclicality.AntiProcyclicalityOutcome`) into a report
section. Sections are still the ``dict`` shape of :mod:`optimizer.report._context` (``title``,
``text``, ``bullets``, ``table``, ``tables`` and data keys); the data keys of a section named in
``RunReport.json_sections`` are written to params.json as they are.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from optimizer.estimators import BASE_ALPHA

if TYPE_CHECKING:
    from optimizer.estimators import VaRBacktests
    from optimizer.optimize.anti_procyclicality import AntiProcyclicalityOutcome
    from optimizer.report.model import RunReport

__all__ = [
    "anti_procyclicality_section",
    "attach_validation_sections",
    "backtest_section",
    "var_backtests_json",
]


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


def backtest_section(vbt: VaRBacktests, *, volatility: str) -> dict[str, Any]:
    """The report section ``backtests``: a table per asset and estimator, verdicts in bullets.

    Parameters
    ----------
    vbt : VaRBacktests
    volatility : str
        ``[estimators] volatility`` of the run; with ``"auto"`` the chosen estimators are the ones
        the scenarios use.
    """
    chosen_used = volatility == "auto"
    s = vbt.settings
    lv = ", ".join(f"{a:.1%}" for a in vbt.levels)
    days = "every day after the first training window" if s["test_days"] is None else (
        f"the last {s['test_days']} days up to {s['as_of']}")
    text = [
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
    ]
    cols = ["Asset", "Estimator", "Window", "Test days", "Exceptions", "Expected", "Zone",
            "Kupiec p", "Christoffersen p", "Cond. coverage p", "ES Z2", "ES p", "Fallback days",
            "Passes", "Used"]
    fmts = ["text", "text", "num", "num", "num", "num", "text", "num", "num", "num", "num", "num",
            "pct", "text", "text"]
    rows = []
    for a, per in vbt.results.items():
        for e, m in per.items():
            if "error" in m:
                rows.append([a, e, None, None, None, None, "failed", None, None, None, None, None,
                             None, "no", ""])
                continue
            rows.append([a, e, m["window"], m["n"], m["exceptions"], round(m["expected"], 1),
                         m["zone"], round(m["kupiec_p"], 3), round(m["christoffersen_p"], 3),
                         round(m["cc_p"], 3), round(m["es_z2"], 3), round(m["es_p"], 3),
                         m["fallback_share"], "yes" if m["passes"] else "no",
                         "yes" if (m["chosen"] and chosen_used) else ""])
    tables = []
    extra = [a for a in vbt.levels if a != BASE_ALPHA]
    for alpha in extra:
        key = f"{alpha:g}"
        xrows = [[a, e, m["levels"][key]["n"], m["levels"][key]["exceptions"],
                  round(m["levels"][key]["expected"], 1), m["levels"][key]["zone"],
                  round(m["levels"][key]["kupiec_p"], 3), round(m["levels"][key]["christoffersen_p"], 3),
                  round(m["levels"][key]["es_p"], 3)]
                 for a, per in vbt.results.items() for e, m in per.items() if "error" not in m]
        tables.append({"columns": ["Asset", "Estimator", "Test days", "Exceptions", "Expected", "Zone",
                                   "Kupiec p", "Christoffersen p", "ES p"],
                       "formats": ["text", "text", "num", "num", "num", "text", "num", "num", "num"],
                       "rows": xrows, "caption": f"The same forecasts at the configured {alpha:.1%}."})
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
    if volatility != "auto":
        bullets.append(f"The scenarios use [estimators] volatility = {volatility!r} for "
                       "every asset; set it to 'auto' to use each asset's best passing estimator.")
    bullets.append(f"Backtest cost: {vbt.seconds:.1f} s" + (" (computed earlier in this process)." if vbt.cached
                                                           else "."))
    return {
        "title": "Backtests of the volatility estimators",
        "text": text,
        "bullets": bullets,
        "table": {"columns": cols, "formats": fmts, "rows": rows, "id": "tbl-backtests"},
        "tables": tables,
    }


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
    if alt is not None and alt.status != "ok":
        bullets.append("The alternative calibration alone does not meet the risk target "
                       f"({', '.join(alt.guard_fails) or 'aggregate budget'}); its most "
                       "conservative allowed thresholds are used as the floor.")
    return bullets


def anti_procyclicality_section(out: AntiProcyclicalityOutcome) -> dict[str, Any]:
    """The report section ``anti_procyclicality``: what the policy did, per asset.

    Its data keys (``method``, ``binds``, ``haircut_increase_bps``, ``lt_decrease_bps``,
    ``model_params`` and the method's own) go to params.json.
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
    return {
        "title": "Anti-procyclicality",
        "text": [_how(out), summary],
        "bullets": _bullets(out),
        "table": {
            "columns": ["Asset", "Model LTV", "Applied LTV", "Haircut +bps", "Model LT", "Applied LT",
                        "LT -bps", "Binds"],
            "formats": ["text", "pct", "pct", "num", "pct", "pct", "num", "text"],
            "rows": rows,
            "id": "tbl-anti-procyclicality",
        },
        "method": out.method,
        "binds": {a: bool(binds[i]) for i, a in enumerate(assets)},
        "haircut_increase_bps": {a: float(haircut_bps[i]) for i, a in enumerate(assets)},
        "lt_decrease_bps": {a: float(lt_bps[i]) for i, a in enumerate(assets)},
        "model_params": model.to_dict(),
        **_details(out),
    }


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
    sections = dict(report.sections or {})
    json_names = list(report.json_sections)
    if backtests is not None:
        sections["backtests"] = backtest_section(backtests, volatility=volatility)
        sections["var_backtests"] = var_backtests_json(backtests)
        json_names.append("var_backtests")
    if anti_procyclicality is not None:
        sections["anti_procyclicality"] = anti_procyclicality_section(anti_procyclicality)
        json_names.append("anti_procyclicality")
    return dataclasses.replace(report, sections=sections, json_sections=tuple(dict.fromkeys(json_names)))
