"""The run report's "Stress library" section: every scenario, its moves and the book's bad debt in it.

It reads the typed :class:`~optimizer.scenarios.StressLibrary` and the bad debt of each scenario
(computed by the pipeline with ``optimize.evaluate_book``) and writes the words, the tables and the
params.json record (``stress_library``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.report._format import fmt_usd
from optimizer.report.section import Section, text_table
from optimizer.scenarios import AssetMove, MoveRule, StressKind, StressLibrary, StressScenario

__all__ = ["MARKS", "StressConstraintView", "contributors", "stress_data", "stress_section"]

#: The mark of a move that is not the asset's own closes, in the moves table.
MARKS: dict[MoveRule, str] = {
    MoveRule.PRICED: "",
    MoveRule.INTRADAY: " i",
    MoveRule.SHOCK: " s",
    MoveRule.CLASS: " c",
    MoveRule.BETA: " β",
    MoveRule.HELD: " h",
}


#: Short names of the kinds, for the scenario table.
KIND_SHORT: dict[StressKind, str] = {
    StressKind.HISTORICAL: "window",
    StressKind.INTRADAY: "intraday",
    StressKind.SHOCK: "shock",
}


@dataclass(frozen=True, eq=False)
class StressConstraintView:
    """What the pipeline measured of the stress library as a constraint (numbers only).

    ``by_asset``: recommended bad debt by collateral asset, shape (n_stress, n_assets), USD;
    ``fund_usd``: the recommended fund; ``lp_losses`` / ``lp_binds``: each LP row's loss on the
    worst-case book at the recommended thresholds and whether it binds (None when the rows are
    off); ``budget_usd`` / ``budget_rule``: the stress budget and how it was set.
    """

    by_asset: np.ndarray
    fund_usd: float
    lp_losses: np.ndarray | None = None
    lp_binds: np.ndarray | None = None
    budget_usd: float | None = None
    budget_rule: str = ""


def contributors(by_asset: np.ndarray, assets: Sequence[str], k: int = 2) -> list[tuple[str, float]]:
    """The ``k`` largest carriers of one scenario's bad debt: (asset, share of the total)."""
    row = np.asarray(by_asset, dtype=float)
    tot = float(row.sum())
    if tot <= 0:
        return []
    order = np.argsort(-row, kind="stable")[:k]
    return [(assets[i], float(row[i] / tot)) for i in order if row[i] > 0]


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def _rule_text(m: AssetMove) -> str:
    """One asset's rule in words (the moves table marks it; this is params.json and the bullets)."""
    if m.rule == MoveRule.CLASS:
        return f"class move: the worst priced asset of its class (or its peg reference), {m.reference}"
    if m.rule == MoveRule.BETA:
        return f"beta {m.beta:.2f} to {m.reference}"
    if m.rule == MoveRule.INTRADAY:
        return f"intraday low {m.low:g} {m.reference.upper() if m.reference else ''} on {m.date}".rstrip()
    if m.rule == MoveRule.HELD:
        return "held unchanged: no price, no priced class peer or beta reference"
    return str(m.rule)


def _trigger_text(s: StressScenario) -> str:
    if s.kind == StressKind.SHOCK:
        return "config [stress." + s.name + "]"
    if not s.triggers:
        return "documented intraday low"
    t = s.triggers[0]
    more = f" (+{len(s.triggers) - 1})" if len(s.triggers) > 1 else ""
    return f"{t.series} {_pct(t.move)} {'≤' if t.side == 'down' else '≥'} {_pct(t.threshold)}{more}"


def stress_section(library: StressLibrary, bad_debt_recommended: Sequence[float],
                   bad_debt_current: Sequence[float] | None,
                   constraint: StressConstraintView | None = None) -> Section:
    """The "Stress library" section (params.json: ``stress_library``, see :func:`stress_data`);
    ``constraint`` adds the fund check, the carriers of each scenario and its LP row."""
    lib = library
    assets = lib.assets
    rec = np.asarray(bad_debt_recommended, dtype=float)
    cur = None if bad_debt_current is None else np.asarray(bad_debt_current, dtype=float)
    n_hist, n_intra, n_shock = (len(lib.of_kind(k)) for k in StressKind)
    rule = lib.rule
    down = {t.series: t for t in lib.thresholds if t.side == "down"}
    up = [t.series for t in lib.thresholds if t.side == "up"]
    market = down.get("market")
    factor = ", ".join(f"{a} {w / sum(lib.factor_weights.values()):.1%}" for a, w in lib.factor_weights.items())
    paras = [
        f"{lib.n_scenarios} named joint scenarios over the {lib.horizon}-day liquidation horizon, at full "
        f"historical size (never rescaled by volatility): {n_hist} historical windows found by scanning "
        f"every asset's whole price history ({lib.n_windows:,} windows ending "
        f"{lib.scanned[0] if lib.scanned else '-'} to {lib.scanned[1] if lib.scanned else '-'}), "
        f"{n_intra} built on documented intraday lows and {n_shock} hypothetical shock(s) from the config. "
        "Bad debt is the static model's on the whole book, each scenario on its own, under the "
        "recommended and the current parameters.",
        f"Rule: a {lib.horizon}-day window is a stress when the market factor (collateral-weighted mean "
        f"log move of {factor}, renormalised over those priced) is at or below its "
        f"{rule.factor_quantile:.1%} quantile"
        + (f" ({_pct(market.move)})" if market else "")
        + f", or any asset's move is at or below its own {rule.asset_quantile:.1%} quantile"
        + (f" (at or above the {1 - rule.asset_quantile:.1%} quantile too for the assets the market lends: "
           f"{', '.join(up)})" if up else "")
        + f". An asset's first {rule.burn_in_days} days trigger nothing; a window is scanned only when "
        f"assets holding {rule.min_coverage:.0%} of the collateral are priced over it. Stress windows "
        f"ending fewer than {rule.decluster_days} days apart are one episode, which keeps its most severe "
        f"window (largest ratio of move to threshold): {lib.n_stress_days} stress windows, {n_hist} "
        "episodes. There is no top-K cut: ranked by that ratio, broad but moderate crashes such as "
        "2024-08-05 would be the first to go.",
    ]
    n_cells = lib.n_scenarios * len(assets)
    counts = {r: sum(m.rule == r for s in lib.scenarios for m in s.moves) for r in MoveRule}
    fill = [f"{counts[r]} {r}" for r in (MoveRule.BETA, MoveRule.CLASS, MoveRule.HELD) if counts[r]]
    betas = "; ".join(f"{b.asset} {b.beta:.2f} to {b.reference} ({b.n_days:,} days from {b.start})"
                      for b in lib.betas)
    paras.append(
        "An asset without a price of its own in a window takes a stated rule, never a silent zero: a "
        "USD stablecoin the worst move of a priced USD stablecoin of the window (the config's, or usdt/dai "
        "of the data directory), an asset pegged to another asset that asset's move, any other asset its beta to the first priced reference ("
        + ", ".join(lib.references[:3]) + ", ...) times that asset's log move, else it is held "
        f"unchanged (marked h). Of {n_cells:,} asset moves, {counts[MoveRule.PRICED]:,} are the data's "
        f"closes, {counts[MoveRule.INTRADAY]} documented intraday lows (i), "
        + (", ".join(fill) if fill else "none filled") + " (β, c)."
        + (f" Betas (daily log returns on each asset's own history, OLS): {betas}." if betas else "")
    )
    paras.append(
        "Intraday lows (optimizer/data/intraday_extremes.csv): each deepens the window holding its day "
        "(the low relative to the previous close, on top of the window's move to that close, held to the "
        "end of the horizon) or becomes the window ending that day."
        + (" Not used: " + "; ".join(f"{a} {d} ({why})" for a, d, why in lib.unused_extremes) + "."
           if lib.unused_extremes else "")
    )
    if lib.missed_labels:
        paras.append("Labelled episodes the rule does not select: " + "; ".join(
            f"{label} ({dates}): {why}" for label, dates, why in lib.missed_labels) + ".")
    else:
        paras.append("Every episode of the label table (2020-03-12, 2021-05-19, LUNA, FTX, the CRV squeeze, "
                     "the USDC depeg, 2024-08-05, February 2025, ...) is selected by the rule; labels only "
                     "name windows the scan found.")
    n_method = len(paras)  # the paragraphs after these say what the library finds (the main part's brief)
    if lib.n_scenarios and rec.size:
        k = int(np.argmax(rec))
        s = lib.scenarios[k]
        paras.append(
            f"Worst for the book under the recommended parameters: {s.name}"
            + (f" ({s.label})" if s.label else "") + f", bad debt {fmt_usd(rec[k], 0)}"
            + (f" (current parameters: {fmt_usd(cur[k], 0)})" if cur is not None else "")
            + f"; {int((rec > 0).sum())} of {lib.n_scenarios} scenarios leave bad debt under the "
            "recommended parameters"
            + (f", {int((cur > 0).sum())} under the current ones." if cur is not None else ".")
        )
    c = constraint
    if c is not None and lib.n_scenarios and rec.size:
        over = int((rec > c.fund_usd * (1 + 1e-12)).sum())
        paras.append(
            (f"Every scenario's bad debt under the recommended parameters is within the recommended insurance "
             f"fund of {fmt_usd(c.fund_usd, 0)} (the worst, {lib.scenarios[int(np.argmax(rec))].name}, is "
             f"{fmt_usd(rec.max(), 0)})." if over == 0 else
             f"{over} scenario(s) leave bad debt above the recommended insurance fund of {fmt_usd(c.fund_usd, 0)}.")
            + " Carried by: the collateral assets with the largest share of the scenario's bad debt under the "
            "recommended parameters.")
        if c.lp_losses is not None and c.budget_usd is not None:
            binds = np.asarray(c.lp_binds, dtype=bool)
            paras.append(
                "Stress as a hard constraint: every scenario is a row of the threshold LP, on its worst-case book "
                "(every borrower at its threshold, the LP's slippage and bonus): that book's bad debt in the "
                f"scenario is at most the stress budget of {fmt_usd(c.budget_usd, 0)} ({c.budget_rule}). "
                + (f"{int(binds.sum())} row(s) bind at the recommended thresholds: "
                   + ", ".join(lib.scenarios[i].name for i in np.flatnonzero(binds)) + "."
                   if binds.any() else
                   f"No row binds: the largest is {fmt_usd(float(np.max(c.lp_losses)), 0)}.")
                + " The calibrated book's bad debt (the columns rec. and current) is below the worst-case book's "
                "because its borrowers keep their health factors.")
        elif c.lp_losses is None:
            paras.append("The stress library is not a constraint of the LP here ([optimizer] stress_constraint = "
                         "false): the fund covers its worst scenario, nothing bounds it.")
    rows = []
    for i, s in enumerate(lib.scenarios):
        j = int(np.argmin(s.move))
        row = [
            s.name, s.label or "", KIND_SHORT[s.kind], s.t0 or "-", _trigger_text(s),
            f"{assets[j]} {_pct(float(s.move[j]))}{MARKS[s.moves[j].rule]}",
            fmt_usd(rec[i], 0) if rec.size else "-",
            fmt_usd(cur[i], 0) if cur is not None and cur.size else "-",
        ]
        if c is not None:
            row.append(", ".join(f"{a} {w:.0%}" for a, w in contributors(c.by_asset[i], assets)) or "-")
            if c.lp_losses is not None:
                row.append(fmt_usd(float(c.lp_losses[i]), 0) + (" binds" if c.lp_binds[i] else ""))
        rows.append(row)
    cols = ["Scenario (last close)", "Label", "Kind", "From the close of", "Trigger", "Worst move",
            "Bad debt, rec.", "Bad debt, current"]
    caption = ("One row per scenario, named by its last close; the trigger is the series past its threshold "
               "by the largest ratio (+n: more series past theirs); rec.: the recommended parameters.")
    if c is not None:
        cols.append("Carried by (rec.)")
        if c.lp_losses is not None:
            cols.append("LP row")
            caption += (" LP row: the worst-case book's bad debt in the scenario at the recommended thresholds, "
                        "against the stress budget (binds: at it).")
    scen_table = text_table(
        "tbl-stress-library", cols, rows, [False] * 6 + [True, True] + [False] * (len(cols) - 8), caption=caption,
    )
    # compact cells (percent without the sign, the mark right after) so 12+ assets fit at 1280 px
    moves_rows = [[s.name] + [f"{x * 100:+.1f}{MARKS[m.rule].strip()}" for x, m in zip(s.move, s.moves)]
                  for s in lib.scenarios]
    moves_table = text_table(
        "tbl-stress-moves", ["Scenario"] + list(assets), moves_rows, [False] + [True] * len(assets),
        caption="Move of each asset over the horizon, in % (close of t0 to the window's last close). "
                "i: documented intraday low; s: config shock; β: beta to a reference; c: class move; h: held.",
    )
    worst = [int(i) for i in np.argsort(-rec, kind="stable")[:BRIEF_ROWS]] if rec.size else []
    brief_table = text_table(
        "tbl-stress-worst", ["Scenario (last close)", "Label", "Worst move", "Bad debt, rec.", "Bad debt, current"],
        [[rows[i][0], rows[i][1], rows[i][5], rows[i][6], rows[i][7]] for i in worst],
        [False, False, False, True, True],
        caption=f"The {len(worst)} scenarios of the library worst for the book under the recommended parameters; "
                "every scenario is in the appendix.",
    )
    brief = Section(title="Stress library", paragraphs=(paras[0], *paras[n_method:]),
                    tables=(brief_table,) if worst else ())
    return Section(
        title="Stress library",
        paragraphs=tuple(paras),
        tables=(scen_table, moves_table),
        data=stress_data(lib, rec, cur, c),
        data_key="stress_library",
        appendix=True,
        brief=brief,
    )


#: Scenarios the main part's stress summary lists.
BRIEF_ROWS = 5


def stress_data(library: StressLibrary, bad_debt_recommended: np.ndarray,
                bad_debt_current: np.ndarray | None,
                constraint: StressConstraintView | None = None) -> dict[str, Any]:
    """params.json ``stress_library``: the rule, the betas and every scenario with its moves and rules
    (with ``constraint``: each scenario's carriers and LP row, the stress budget and the fund)."""
    c = constraint
    lib = library
    scenarios = []
    for i, s in enumerate(lib.scenarios):
        scenarios.append({
            "name": s.name,
            "label": s.label,
            "kind": str(s.kind),
            "t0": s.t0,
            "start": s.start,
            "end": s.end,
            "episode": list(s.episode) if s.episode else None,
            "source": s.source,
            "triggers": [{"series": t.series, "side": t.side, "move": t.move, "threshold": t.threshold,
                          "severity": t.severity} for t in s.triggers],
            "moves": {a: {"move": float(s.move[j]), "worst": float(s.worst[j]), "rule": str(m.rule),
                          **({"detail": _rule_text(m)} if m.rule != MoveRule.PRICED else {}),
                          **({"source": m.source} if m.source else {})}
                      for j, (a, m) in enumerate(zip(lib.assets, s.moves))},
            "bad_debt_recommended_usd": float(bad_debt_recommended[i]) if bad_debt_recommended.size else None,
            "bad_debt_current_usd": (float(bad_debt_current[i])
                                     if bad_debt_current is not None and bad_debt_current.size else None),
            **({"carried_by": [{"asset": a, "share": w}
                                for a, w in contributors(c.by_asset[i], lib.assets, k=len(lib.assets))]}
               if c is not None else {}),
            **({"lp_row_usd": float(c.lp_losses[i]), "lp_row_binds": bool(c.lp_binds[i])}
               if c is not None and c.lp_losses is not None else {}),
        })
    r = lib.rule
    return {
        "horizon_days": lib.horizon,
        "as_of": lib.as_of,
        "rule": {"asset_quantile": r.asset_quantile, "factor_quantile": r.factor_quantile,
                 "decluster_days": r.decluster_days, "burn_in_days": r.burn_in_days,
                 "min_coverage": r.min_coverage, "min_beta_days": r.min_beta_days,
                 "factor_weights": dict(lib.factor_weights)},
        "scanned": list(lib.scanned) if lib.scanned else None,
        "n_windows_scanned": lib.n_windows,
        "n_stress_windows": lib.n_stress_days,
        "thresholds": [{"series": t.series, "side": t.side, "quantile": t.quantile, "move": t.move,
                        "n_windows": t.n_windows} for t in lib.thresholds],
        "betas": [{"asset": b.asset, "reference": b.reference, "beta": b.beta, "n_days": b.n_days,
                   "start": b.start, "end": b.end} for b in lib.betas],
        "unused_intraday_extremes": [{"asset": a, "date": d, "reason": why} for a, d, why in lib.unused_extremes],
        "missed_labels": [{"label": lb, "dates": d, "reason": why} for lb, d, why in lib.missed_labels],
        "scenarios": scenarios,
        **({"constraint": {"enabled": c.lp_losses is not None, "budget_usd": c.budget_usd,
                           "budget_rule": c.budget_rule or None, "fund_usd": float(c.fund_usd),
                           "n_binding": int(np.sum(c.lp_binds)) if c.lp_binds is not None else 0}}
           if c is not None else {}),
    }
