"""The `riskopt backtest` report: backtest.json, backtest.md and backtest.html from one record.

:class:`BacktestReport` holds the JSON-able record built by :mod:`optimizer.pipeline.backtest`
(``episodes``, ``var_backtests``, ``var_backtest_settings``, ``meta``). Every number on screen is
formatted here once, so the Markdown and HTML documents cannot disagree; the templates
(``templates/backtest.md.j2`` and ``templates/backtest.html.j2``) only lay them out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from optimizer.report._format import (
    JSON_SIGNIFICANT_DIGITS,
    canonicalize,
    fmt_num,
    fmt_pct,
    fmt_prob,
    fmt_text,
    fmt_usd,
    fmt_usd_short,
)
from optimizer.report._jinja import environment, read_template_file
from optimizer.report.section import Table, text_table

__all__ = [
    "BacktestReport",
    "BacktestView",
    "build_backtest_view",
    "render_backtest_html",
    "render_backtest_json",
    "render_backtest_markdown",
]


@dataclass(frozen=True, eq=False)
class BacktestReport:
    """What a backtest report shows.

    Attributes
    ----------
    title : str
    config_name : str
    record : dict
        The content of backtest.json: ``meta``, ``episodes`` (each with ``start``, ``end``,
        ``covered``, and when covered ``realised_bad_debt_usd``, ``insurance_fund_usd``,
        ``assets``...), ``var_backtests`` and ``var_backtest_settings``.
    run_info : dict
        Wall-clock facts (``created_utc``, ``runtime_seconds``, ``command``): shown, never in the JSON.
    """

    title: str
    config_name: str
    record: dict[str, Any]
    run_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BacktestView:
    """Preformatted text for the templates."""

    title: str
    config_name: str
    as_of: str
    summary: list[str]
    episodes: Table
    exposure: Table
    assets: Table
    not_covered: Table | None
    excluded: Table | None
    var: Table
    var_notes: list[str]
    method: list[str]
    repro: list[tuple[str, str]]


def render_backtest_json(report: BacktestReport) -> str:
    """backtest.json: sorted keys, floats to 10 significant digits, strict JSON, no wall-clock fields."""
    data = canonicalize(report.record, digits=JSON_SIGNIFICANT_DIGITS)
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _episode_label(e: dict[str, Any]) -> str:
    return e["start"] if e["start"] == e["end"] else f"{e['start']} .. {e['end']}"


def _fmt_hf(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.2f}"


def build_backtest_view(report: BacktestReport) -> BacktestView:
    """Format the record for the templates."""
    rec = report.record
    eps = rec.get("episodes", [])
    covered = [e for e in eps if e.get("covered") and "error" not in e]
    failed_runs = [e for e in eps if e.get("covered") and "error" in e]
    shortfalls = [e for e in covered if not e.get("fund_covers", True)]
    summary = [
        f"{len(covered)} of {len(eps)} episodes replayed"
        + (f", {len(eps) - len(covered) - len(failed_runs)} not covered by the data" if len(eps) > len(covered) else "")
        + (f", {len(failed_runs)} could not be recalibrated" if failed_runs else "") + ".",
    ]
    if covered:
        summary.append(
            "Realised bad debt stayed within the recommended insurance fund in every replayed episode."
            if not shortfalls else
            "Realised bad debt exceeded the recommended fund in "
            + ", ".join(f"{_episode_label(e)} (by {fmt_usd(e['shortfall_usd'])})" for e in shortfalls) + "."
        )
        static_over = [e for e in covered if e.get("realised_bad_debt_static_usd", 0.0) > e["insurance_fund_usd"]]
        if static_over:
            summary.append(
                "Without liquidations before the worst daily close (the static bound) bad debt would have exceeded "
                "the fund in " + ", ".join(
                    f"{_episode_label(e)} ({fmt_usd(e['realised_bad_debt_static_usd'])} vs {fmt_usd(e['insurance_fund_usd'])})"
                    for e in static_over) + ".")
        beyond = [(e, a) for e in covered for a, d in e["assets"].items() if d["beyond_insolvency_buffer"]]
        if beyond:
            summary.append("Moves beyond an asset's insolvency buffer 1 - LT x (1 + bonus): "
                           + ", ".join(f"{a} in {_episode_label(e)}" for e, a in beyond) + ".")
        implausible = [(e, a, d) for e in covered for a, d in e["assets"].items()
                       if str(d["plausibility"]).startswith(("implausible", "extreme"))]
        if implausible:
            summary.append("Moves the model gave (almost) no probability: " + ", ".join(
                f"{a} {fmt_pct(d['worst_move'], 1)} in {_episode_label(e)} (P = {fmt_prob(d['tail_probability'])})"
                for e, a, d in implausible) + ".")

    ep_rows = []
    for e in eps:
        if not e.get("covered"):
            continue
        if "error" in e:
            ep_rows.append([_episode_label(e), e["as_of"], "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a",
                            "n/a", f"recalibration failed: {e['error']}"])
            continue
        ep_rows.append([
            _episode_label(e), e["as_of"], ", ".join(e["assets"]),
            fmt_usd(e["realised_bad_debt_usd"]), fmt_usd(e["insurance_fund_usd"]),
            "yes" if e["fund_covers"] else f"NO (short {fmt_usd(e['shortfall_usd'])})",
            fmt_num(e.get("accounts_liquidated")), _fmt_hf(e.get("book_min_health_factor")),
            fmt_usd(e["realised_bad_debt_static_usd"]),
            fmt_usd(e["realised_bad_debt_current_params_usd"]),
            fmt_usd(e.get("realised_bad_debt_all_at_threshold_usd")), fmt_usd(e.get("risk_budget_usd")),
        ])
    episodes = text_table("tbl-episodes",
                      ["Episode", "Fitted to", "Assets", "Realised bad debt", "Insurance fund", "Fund covers",
                       "Accounts liquidated", "Lowest HF at start", "Static, worst close",
                       "Under current params", "All borrowers at threshold", "Risk budget (CVaR)"],
                      ep_rows, [False, False, False, True, True, False, True, True, True, True, True, True],
                      "Realised bad debt of the book under the parameters recommended on the day before the "
                      "episode, against the fund recommended with them. Static, worst close: the static "
                      "kernel at the episode's worst daily close; under current params: the same replay with "
                      "the configuration's current parameters; all borrowers at threshold: the optimizer's "
                      "worst case, every borrower at HF = 1 under the recommended parameters when the "
                      "episode starts, to set beside the CVaR budget it was designed for (a realised figure "
                      "above the budget is a move in the tail beyond the CVaR level).")
    exposure = _exposure_table(covered)
    summary += [_exposure_sentence(e) for e in covered if e.get("book_exposure")]
    a_rows = []
    for e in covered:
        for a, d in e["assets"].items():
            a_rows.append([
                _episode_label(e), a, f"{fmt_pct(d['worst_move'], 1)} ({d['worst_day']})",
                fmt_pct(d["liquidation_threshold"], 1), fmt_pct(d["ltv"], 1),
                fmt_pct(d["insolvency_buffer"], 1), fmt_pct(d["margin_to_insolvency_buffer"], 1),
                fmt_pct(d["lt_ltv_gap"], 1), fmt_pct(d["liquidation_distance_at_max_ltv"], 1),
                fmt_prob(d["tail_probability"]), fmt_text(d["plausibility"]),
            ])
    assets = text_table("tbl-episode-assets",
                    ["Episode", "Asset", "Worst close vs t0", "LT", "LTV", "Insolvency buffer",
                     "Margin left", "LT - LTV", "Drop to liquidate at max LTV", "Model P(at least as bad)",
                     "Plausibility"],
                    a_rows, [False, False, True, True, True, True, True, True, True, True, False],
                    "Insolvency buffer: 1 - LT x (1 + bonus), the drop that leaves an account at the threshold "
                    "with collateral worth less than its debt plus the bonus; margin left = buffer - realised "
                    "drop (negative: the move went through it). Model P: share of simulated paths of the "
                    "episode's length whose lowest point is at least as low.")
    nc = [[_episode_label(e), fmt_text(e.get("reason"))] for e in eps if not e.get("covered")]
    not_covered = text_table("tbl-not-covered", ["Episode", "Why not replayed"], nc, [False, False]) if nc else None
    ex = [[_episode_label(e), a, fmt_text(why)] for e in eps if e.get("covered")
          for a, why in (e.get("excluded_assets") or {}).items()]
    excluded = text_table("tbl-excluded", ["Episode", "Asset left out", "Why"], ex, [False] * 3) if ex else None

    v_rows = []
    for a, per in (rec.get("var_backtests") or {}).items():
        if "skipped" in per:
            v_rows.append([a, "all", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a",
                           f"not backtested: {per['skipped']}"])
            continue
        for est, m in per.items():
            if "error" in m:
                v_rows.append([a, est, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a",
                               f"failed: {m['error']}"])
                continue
            v_rows.append([a, est, f"{m['test_start']} .. {m['test_end']}", fmt_num(m["n"]),
                           fmt_num(m["exceptions"]), fmt_num(m["expected"], 3), m["zone"],
                           fmt_num(m["kupiec_p"], 3), fmt_num(m["christoffersen_p"], 3), fmt_num(m["cc_p"], 3),
                           fmt_num(m["es_p"], 3),
                           ("passes" if m["passes"] else "fails") + ("; best" if m.get("chosen") else "")])
    s = rec.get("var_backtest_settings") or {}
    var = text_table("tbl-var-backtests",
                 ["Asset", "Estimator", "Test period", "Days", "Exceptions", "Expected", "Zone", "Kupiec p",
                  "Christoffersen p", "Cond. coverage p", "ES p", "Verdict"],
                 v_rows, [False, False, False, True, True, True, False, True, True, True, True, False])
    var_notes = [
        f"One-day VaR at {', '.join(fmt_pct(x, 1) for x in s.get('levels', [0.99]))}, every day after the "
        f"first {s.get('window', 'n/a')}-day training window of each asset's own history (shorter windows for "
        f"short histories), refitted every {s.get('refit_every', 'n/a')} days. Zone: Basel traffic light "
        "generalised to the number of days; an estimator passes when green and neither Kupiec, "
        "Christoffersen independence nor the Acerbi-Szekely ES test (critical values simulated from the "
        f"fitted Student-t, {s.get('es_sims', 'n/a')} simulations) rejects at 5 %.",
    ]
    method = [
        "Each episode is replayed as a recalibration on the day before it would have been made: the "
        "configuration restricted to the assets with enough history, fitted on data up to that day only.",
        "Current parameters, book sizes and liquidity are those of the configuration (no historical "
        "snapshot is available); the book is synthetic unless the configuration loads one.",
        "The realised path is the daily closes from the day before the episode to its end; intraday lows "
        "are not in the data, so the replay understates moves that reverted within a day.",
        "Borrowers keep their health factor under the recommended parameters (debt re-levered), as in the "
        "run's book metrics.",
    ]
    engines = sorted({e["engine"] for e in covered if "engine" in e})
    method += [f"Replay engine: {x}." for x in engines]
    meta = rec.get("meta", {})
    ri = report.run_info or {}
    repro = [("config sha256", fmt_text(meta.get("config_sha256"))), ("seed", str(meta.get("seed"))),
             ("package", fmt_text(meta.get("package_version"))), ("data span", fmt_text(meta.get("data_span")))]
    for name, sha in sorted((meta.get("data_files") or {}).items()):
        repro.append((name, f"sha256 {sha}"))
    if ri.get("runtime_seconds") is not None:
        repro.append(("runtime", f"{ri['runtime_seconds']} s"))
    if ri.get("command"):
        repro.append(("command", fmt_text(ri["command"])))
    return BacktestView(
        title=report.title, config_name=report.config_name, as_of=fmt_text(meta.get("as_of")),
        summary=summary, episodes=episodes, exposure=exposure, assets=assets, not_covered=not_covered, excluded=excluded,
        var=var, var_notes=var_notes, method=method, repro=repro,
    )


def _positions(d: dict[str, float]) -> str:
    return ", ".join(f"{a} {fmt_usd_short(v)}" for a, v in d.items()) or "none"


def _closest(c: dict[str, Any]) -> str:
    return (f"rank {c['debt_rank']} by debt ({_positions(c['collateral_usd'])} of collateral against "
            f"{_positions(c['debt_usd'])} of debt, HF {c['health_factor_start']:.3f} at the start"
            + (", placed by the e-mode rule" if c["emode_rule"] else "") + ")")


def _moves(d: dict[str, float], sign: str = "") -> str:
    return ", ".join(f"{a} {sign}{fmt_pct(v, 1)}" for a, v in sorted(d.items(), key=lambda kv: -kv[1]))


def _why_no_dynamic_loss(e: dict[str, Any], label: str) -> str | None:
    """The one sentence that says why the dynamic replay's bad debt is 0, from the facts that make it so:
    the kernel books bad debt only when a liquidation runs out of collateral (collateral below debt plus
    bonus at the oracle price) or, after the last step, for debt above the collateral's value."""
    dx = e["book_exposure"].get("dynamic") or {}
    c = dx.get("closest_account")
    if c is None or "accounts_insolvent_at_end" not in dx or e["realised_bad_debt_usd"] > 0:
        return None
    n_liq = dx.get("accounts_liquidated") or 0
    moved = {a: v for a, v in (dx.get("impact_after_last_day") or {}).items() if v > 0}
    sold = (f"; the {fmt_usd_short(dx['liquidated_collateral_usd'])} of collateral liquidators sold moves prices "
            f"only from the next daily step on ({_moves(moved, '-')} after the last)" if moved else "")
    if dx["accounts_insolvent_at_a_close"] == 0:
        return (f"{label}: no account could lose in the dynamic replay because at every daily close, at the "
                "prices the replay saw, each account's collateral was worth more than its debt plus the "
                "liquidation bonus, which is all a liquidator takes at the oracle price (the slippage of its sale "
                f"is its own), so each of the {n_liq:,} liquidations repaid its debt in full and after the last "
                "step no account owed more than its collateral was worth (closest: "
                f"{_closest(c)}, margin {fmt_pct(c['margin'], 2)} on {c['worst_close']}{sold}).")
    return (f"{label}: no account lost in the dynamic replay although {dx['accounts_insolvent_at_a_close']:,} "
            "had collateral worth less than their debt plus the bonus at a close (from their starting positions), "
            "because none of them ran out of collateral in a liquidation there (a liquidator acts only when its "
            "sale beats the repayment by the gas cost, and one liquidated on an earlier day no longer holds those "
            "positions) and after the last step each one's collateral still covered its debt, which is when the "
            "replay writes unpaid debt off.")


def _exposure_sentence(e: dict[str, Any]) -> str:
    """Which of the book's accounts could lose in episode ``e``, or precisely why none could."""
    x = e["book_exposure"]
    c = x.get("closest_account")
    label = _episode_label(e)
    if c is None:
        return f"{label}: the book has no borrower, so no account could lose."
    slip = x.get("liquidation_day_slippage")
    charged = (f"with the run's liquidation-day slippage ({_moves(slip)}) charged to the protocol, as the static "
               "replay does" if slip else "with the run's liquidation-day slippage charged to the protocol")
    n = x.get("accounts_insolvent_at_a_close", 0)
    why = _why_no_dynamic_loss(e, label)
    if n == 0:
        static = (f"at every daily close what liquidators recover from each account's collateral, (1 - slippage) / "
                  f"(1 + bonus) of its value {charged}, covers its debt; the closest, {_closest(c)}, kept a margin of "
                  f"{fmt_pct(c['margin'], 2)} on {c['worst_close']}.")
        if why is not None:
            return f"{why} No account could lose in the static replay either: {static}"
        return (f"{label}: no account of the book could lose: {static} "
                f"Realised bad debt {fmt_usd(e['realised_bad_debt_usd'])}.")
    static = (f"{n:,} accounts are insolvent at a daily close {charged} ({fmt_usd_short(x['insolvent_debt_usd'])} "
              f"of debt; {x['insolvent_emode_rule_accounts']:,} of them, "
              f"{fmt_usd_short(x['insolvent_emode_rule_debt_usd'])}, placed by the e-mode rule; static replay "
              f"{fmt_usd(e.get('realised_bad_debt_static_usd'))}); the worst, {_closest(c)}, would recover "
              f"{fmt_pct(-c['margin'], 1)} less than its debt on {c['worst_close']}.")
    if why is not None:
        return f"{why} {static[0].upper()}{static[1:]}"
    return f"{label}: {static} Realised bad debt {fmt_usd(e['realised_bad_debt_usd'])}."


def _exposure_table(covered: list[dict[str, Any]]) -> Table:
    rows = []
    for e in covered:
        x = e.get("book_exposure") or {}
        c = x.get("closest_account") or {}
        dx = x.get("dynamic") or {}
        dc = dx.get("closest_account") or {}
        rows.append([
            _episode_label(e), fmt_num(x.get("accounts_insolvent_at_a_close")),
            fmt_usd_short(x.get("insolvent_debt_usd")), fmt_num(x.get("insolvent_emode_rule_accounts")),
            fmt_text(c.get("debt_rank")), fmt_pct(c.get("margin"), 2), fmt_text(c.get("worst_close")),
            _fmt_hf(c.get("health_factor_start")), "yes" if c.get("emode_rule") else "no",
            _positions(c.get("collateral_usd") or {}), _positions(c.get("debt_usd") or {}),
            fmt_num(dx.get("accounts_insolvent_at_a_close")), fmt_text(dc.get("debt_rank")),
            fmt_pct(dc.get("margin"), 2),
        ])
    return text_table("tbl-episode-exposure",
                      ["Episode", "Accounts insolvent at a close (slippage charged)", "Their debt",
                       "Of which e-mode rule",
                       "Closest account (debt rank)", "Its margin", "On", "Its HF at start", "E-mode rule",
                       "Its collateral", "Its debt", "Insolvent at a close, dynamic rule",
                       "Closest, dynamic rule (debt rank)", "Its margin, dynamic rule"],
                      rows, [False, True, True, True, True, True, False, True, False, False, False, True, True,
                             True],
                      "Which accounts could lose: an account is insolvent at a close when what liquidators "
                      "recover from its collateral, (1 - slippage) / (1 + bonus) of its value at that close, is "
                      "below its debt at that close (re-levered to the recommended parameters), had it not been "
                      "liquidated at an earlier close; slippage charged: the run's liquidation-day slippage is "
                      "deducted from the protocol's recovery, as in the static replay. Dynamic rule: the "
                      "dynamic replay's, where a liquidator is paid its bonus at the oracle price and bears the "
                      "slippage of its own sale, so recovery is 1 / (1 + bonus), at the prices that replay saw "
                      "(each close after the impact of the earlier days' sales). Margin = recovery / debt - 1 at "
                      "its worst close (negative: insolvent). E-mode rule: accounts whose "
                      "reference leverage only an e-mode reaches, placed as reserve positions (see the run "
                      "report's book section).")


def _tidy(text: str) -> str:
    lines = [ln.rstrip() for ln in text.splitlines()]
    out: list[str] = []
    for ln in lines:
        if not ln and out and not out[-1]:
            continue
        out.append(ln)
    return "\n".join(out).strip("\n") + "\n"


def render_backtest_markdown(report: BacktestReport) -> str:
    """backtest.md: summary, one row per episode, one row per episode and asset, VaR backtests."""
    view = build_backtest_view(report)
    return _tidy(environment().get_template("backtest.md.j2").render(v=view))


def render_backtest_html(report: BacktestReport) -> str:
    """backtest.html: the same content, self-contained (inline CSS, no scripts)."""
    view = build_backtest_view(report)
    html = environment().get_template("backtest.html.j2").render(v=view, css=read_template_file("style.css"))
    return "\n".join(ln.rstrip() for ln in html.splitlines()).strip("\n") + "\n"
