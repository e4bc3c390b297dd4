"""The run report's book section: a calibrated synthetic book against the reference it copies.

Reads a :class:`~optimizer.protocol.calibrated_book.CalibratedBook` (computed in the protocol
layer) and formats it: concentration (top-1/10/100 shares of the debt of the largest borrowers,
measured the same way on the book and the reference), the fitted size tail, the leverage and
health-factor quantiles, the e-mode rule's share and the individually placed accounts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimizer.protocol.calibrated_book import QUANTILES, CalibratedBook
from optimizer.protocol.reference_book import LOOP_COLLATERAL_TO_DEBT
from optimizer.report._format import fmt_pct, fmt_usd_short
from optimizer.report.section import Column, Format, Section, Table

__all__ = ["book_data", "book_section"]


def book_data(cal: CalibratedBook) -> dict[str, Any]:
    """The section's params.json record (plain JSON types)."""
    ref = cal.reference
    book_c, ref_c, placed_c = cal.concentration, ref.concentration(), cal.concentration_as_placed
    q_ref, q_draw, q_book = cal.leverage_quantiles()
    t = cal.tail
    return {
        "reference": ref.source,
        "reference_sha256": ref.sha256,
        "reference_accounts": ref.n_accounts,
        "reference_debt_usd": ref.total_debt,
        "n_placed": cal.n_placed,
        "size_tail": {"law": "pareto, truncated", "alpha": t.alpha_, "alpha_se": t.alpha_se_,
                      "lower_usd": t.lower_, "upper_usd": t.upper_, "n_sizes": t.n_samples_,
                      "ks_statistic": t.ks_statistic_},
        "concentration": {
            "measured_on_largest": book_c.top,
            "book": {f"top_{k}": v for k, v in book_c.shares},
            "reference": {f"top_{k}": v for k, v in ref_c.shares},
            "loop_share_book_reference_leverage": book_c.loop_share,
            "loop_share_book_as_placed": placed_c.loop_share,
            "loop_share_reference": ref_c.loop_share,
            "loop_collateral_to_debt": LOOP_COLLATERAL_TO_DEBT,
        },
        "largest_share_of_book_debt": cal.market_share_top,
        "quantiles": list(QUANTILES),
        "collateral_to_debt_quantiles": {"reference": q_ref.tolist(), "book_reference_draws": q_draw.tolist(),
                                         "book_as_placed": q_book.tolist()},
        "health_factor_quantiles": cal.health_factor_quantiles().tolist(),
        "emode_lt": cal.emode_lt,
        "emode_debt_share": cal.emode_debt_share,
        "emode_accounts": int(cal.emode.sum()),
        "placed_with_reference_debt_asset": cal.preferred_found,
        "asset_classes": {a: c for a, c in zip(cal.book.assets, cal.asset_classes, strict=False) if c},
        "loop_collateral": [{"class": c, "debt_usd": d, "accounts": k, "collateral_usd": coll}
                            for c, d, k, coll in cal.loop_collateral()],
        "loop_fallback_accounts": int(cal.loop_fallback.sum()) if cal.loop_fallback is not None else None,
        "missing_classes": list(cal.missing_classes),
        "own_collateral_borrowers": {
            "accounts": int(len(cal.own_collateral_borrowers)),
            "debt_usd": float(cal.book.account_debt[cal.own_collateral_borrowers].sum())},
        "debt_fit_by_asset": {a: float(v) for a, v in zip(cal.book.assets, cal.debt_fit(), strict=True)
                              if np.isfinite(v)},
    }


def book_section(cal: CalibratedBook) -> Section:
    """The report section of a book calibrated to a reference."""
    ref = cal.reference
    book = cal.book
    book_c, ref_c, placed_c = cal.concentration, ref.concentration(), cal.concentration_as_placed
    t = cal.tail
    paragraphs = (
        f"The synthetic book is calibrated to `{ref.source}`: the {ref.n_accounts:,} largest borrowers of a real "
        f"market ({fmt_usd_short(ref.total_debt)} of debt). Its {cal.n_placed} largest accounts are placed one by "
        "one (the reference's accounts of the same rank: size, collateral/debt, largest debt asset), scaled to "
        f"this market's {fmt_usd_short(book.total_debt)} of debt; the others are drawn from a Pareto tail fitted "
        f"by maximum likelihood to the reference's debts below the placed ones: tail index {t.alpha_:.3f} "
        f"(s.e. {t.alpha_se_:.3f}) on {t.n_samples_} debts between {fmt_usd_short(t.lower_)} and "
        f"{fmt_usd_short(t.upper_)}, Kolmogorov-Smirnov distance {t.ks_statistic_:.3f}.",
        f"Shares are of the debt of the {book_c.top:,} largest borrowers, on the book as on the reference (which "
        f"lists only those); the book continues the fitted tail past them, so they hold "
        f"{fmt_pct(cal.market_share_top, 1)} of its debt (the reference does not give its market's total).",
        f"Leverage: each borrower takes the collateral/debt of a reference account of similar size. "
        f"{fmt_pct(cal.emode_debt_share, 1)} of the book's debt ({int(cal.emode.sum()):,} accounts) has a "
        "collateral/debt the reserve thresholds cannot carry (the reference's e-mode loops; e-modes are not "
        f"modelled): those accounts sit at hf_min x max(collateral/debt x {fmt_pct(cal.emode_lt, 0)}, 1), their "
        f"distance to liquidation in the e-mode of the largest loops, as reserve positions.",
        _loop_rule_text(cal),
    )
    share_cols = (Column("Measure"), Column("Book", Format.PCT, decimals=1),
                  Column("Reference", Format.PCT, decimals=1), Column("Book / reference", Format.NUM))
    rows = [(f"top-{k} share of debt", b, r, b / r if r else None)
            for (k, b), (_, r) in zip(book_c.shares, ref_c.shares, strict=True)]
    rows.append((f"debt at collateral/debt <= {LOOP_COLLATERAL_TO_DEBT} (reference leverage)",
                 book_c.loop_share, ref_c.loop_share,
                 book_c.loop_share / ref_c.loop_share if ref_c.loop_share else None))
    rows.append((f"debt at collateral/debt <= {LOOP_COLLATERAL_TO_DEBT} (as placed under reserve LTs)",
                 placed_c.loop_share, ref_c.loop_share, None))
    conc = Table(share_cols, tuple(rows), "tbl-book-concentration",
                 f"Concentration of the {book_c.top:,} largest borrowers' debt: book and reference")
    q_ref, q_draw, q_book = cal.leverage_quantiles()
    q_hf = cal.health_factor_quantiles()
    lev = Table(
        (Column("Debt-weighted quantile"), Column("Reference collateral/debt", Format.NUM),
         Column("Book, drawn from the reference", Format.NUM), Column("Book, as placed", Format.NUM),
         Column("Book health factor", Format.NUM)),
        tuple((fmt_pct(q, 0), a, b, c, h) for q, a, b, c, h in zip(QUANTILES, q_ref, q_draw, q_book, q_hf,
                                                                  strict=True)),
        "tbl-book-leverage", "Leverage of the largest borrowers and the book's health factors",
    )
    debt = book.account_debt
    top = np.argsort(-debt, kind="stable")[: cal.n_placed]
    placed_rows = []
    for a in top:
        d_assets = ", ".join(book.assets[i] for i in book.debt_asset[book.debt_indptr[a]:book.debt_indptr[a + 1]])
        c_sl = slice(book.coll_indptr[a], book.coll_indptr[a + 1])
        c_tot = book.coll_usd[c_sl].sum()
        c_assets = ", ".join(f"{book.assets[i]} {fmt_pct(v / c_tot, 0)}"
                             for i, v in zip(book.coll_asset[c_sl], book.coll_usd[c_sl], strict=True))
        placed_rows.append((int(a) + 1, float(debt[a]), float(cal.reference_cd[a]), float(cal.health_factor[a]),
                            "yes" if cal.emode[a] else "no", d_assets, c_assets))
    placed = Table(
        (Column("Rank"), Column("Debt", Format.USD_SHORT), Column("Reference collateral/debt", Format.NUM),
         Column("Health factor", Format.NUM), Column("E-mode rule"), Column("Debt asset"), Column("Collateral")),
        tuple(placed_rows), "tbl-book-placed", "The individually placed accounts",
    )
    debt_total = float(book.total_debt) or 1.0
    loop_rows = []
    for c, d, k, coll in cal.loop_collateral():
        c_tot = sum(coll.values()) or 1.0
        loop_rows.append((c if c != "fallback" else "fallback (drawn like everyone's)", d, d / debt_total, k,
                          ", ".join(f"{a} {fmt_pct(v / c_tot, 0)}" for a, v in sorted(coll.items(), key=lambda x: -x[1]))))
    loops_t = Table(
        (Column("Debt class"), Column("Loops' debt", Format.USD_SHORT), Column("Share of the book's debt", Format.PCT,
                                                                              decimals=1),
         Column("Accounts"), Column("Loops' collateral")),
        tuple(loop_rows), "tbl-book-loops", "E-mode loops: collateral per debt class",
    )
    return Section(title="Book: calibrated to the largest real borrowers", paragraphs=paragraphs,
                   tables=(conc, lev, loops_t, placed), data=book_data(cal), data_key="book_calibration",
                   appendix=True)


def _loop_rule_text(cal: CalibratedBook) -> str:
    """The loop-collateral rule as applied, with its fallbacks and exceptions."""
    classes = {c: [a for a, k in zip(cal.book.assets, cal.asset_classes, strict=False) if k == c]
               for c in ("eth", "usd", "btc")}
    have = "; ".join(f"{c}: {', '.join(v)}" for c, v in classes.items() if v) or "none"
    n_fb = int(cal.loop_fallback.sum()) if cal.loop_fallback is not None else int(cal.emode.sum())
    own = cal.own_collateral_borrowers
    own_debt = float(cal.book.account_debt[own].sum())
    text = (
        "Loop collateral: a real loop borrows against collateral of its debt's class (WETH against liquid-staking "
        "ETH in the ETH-correlated e-mode, stablecoins against stablecoins), so an account placed by the e-mode "
        "rule posts collateral of its debt's class only and owes only that class's borrowed assets. Its class is "
        "that of its reference account's largest debt asset (WETH, wstETH: eth; USDT, USDC, USDe, ...: usd; WBTC, "
        "cbBTC: btc), or, when that has no class or the class's borrows have no room left, the class with the most "
        f"room. The config's classes ([assets.x] peg, a stablecoin is usd; eth stands for the liquid-staking "
        f"tokens too, so an ETH loop's LST/ETH depeg risk is not in this book): {have}. "
    )
    if n_fb:
        miss = ", ".join(cal.missing_classes) or "no supply or borrow room left"
        text += (f"{n_fb:,} loop account(s) keep collateral drawn like everyone's (in proportion to supply): the "
                 f"config has no asset of their class ({miss}); their price risk is overstated. ")
    else:
        text += "Every loop found collateral of its class. "
    text += (
        "An account that is not a loop and posts one collateral asset does not borrow that asset while another "
        "borrowed asset has room for its debt"
    )
    if len(own):
        text += (f"; {len(own):,} account(s) ({fmt_usd_short(own_debt)}, {fmt_pct(own_debt / cal.book.total_debt, 1)}"
                 " of the debt) still owe only their collateral asset because the config's borrows left no other "
                 "asset with room (the loops hold their class's borrows).")
    else:
        text += "."
    return text
