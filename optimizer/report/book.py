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
        f"distance to liquidation in the e-mode of the largest loops, as reserve positions. Their collateral is "
        "drawn like everyone's (in proportion to supply), not correlated with their debt as a real loop's "
        "liquid-staking or stablecoin collateral is, so their price risk is overstated.",
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
    return Section(title="Book: calibrated to the largest real borrowers", paragraphs=paragraphs,
                   tables=(conc, lev, placed), data=book_data(cal), data_key="book_calibration")
