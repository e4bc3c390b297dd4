"""The run report's "Supply and borrow caps" section: per asset the live and the recommended caps, the
liquidity rule's inputs and what binds.

Formats :class:`~optimizer.protocol.caps.LiquidityCaps` and its :class:`~optimizer.protocol.caps.CapsInTokens`
(recommended and live); computes nothing of its own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import as_float
from optimizer.report.section import Column, Format, Section, Table

if TYPE_CHECKING:
    from optimizer.estimators import DepthAssessment
    from optimizer.protocol.caps import CapsInTokens, LiquidityCaps

__all__ = ["CAP_RULE", "caps_data", "caps_section"]

#: The rule in words (params.json ``caps.rule`` and the section's first paragraph).
CAP_RULE = (
    "supply cap = H x D / phi, with H the liquidation horizon (days), D the USD of the asset sellable in one day "
    "at a slippage equal to its recommended liquidation bonus on its depth curve (at the run's forecast daily "
    "volatility), at most the reachable share of its daily volume ([liquidity] reachable_volume_share x the "
    "run's daily volume), and phi the share of its supply liquidated in its worst stress-library scenario under the "
    "recommended parameters (the collateral liquidators seize, USD at stressed prices per USD supplied, borrowers "
    "re-levered to the recommendation), at least the floor phi_min: the stressed liquidation is sold evenly over "
    "the horizon at a daily slippage of at most the bonus. Borrow cap = supply cap x min(1 - h, 1 - phi), h the "
    "utilisation headroom: the unborrowed supply covers at least the headroom and the stressed liquidation, so "
    "liquidators can withdraw what they seize"
)


def _pair(tokens: float, usd: float) -> dict[str, float | None]:
    return {"tokens": as_float(tokens), "usd": as_float(usd)}


def caps_data(caps: LiquidityCaps, recommended: CapsInTokens, current: CapsInTokens | None, *,
              depth_sources: dict[str, str], sigma_source: str,
              volume_sources: tuple[str, ...] = ()) -> dict[str, Any]:
    """params.json ``caps``: the rule, its settings and per asset the caps (USD and tokens) and their inputs."""
    per: dict[str, Any] = {}
    for i, a in enumerate(caps.assets):
        row: dict[str, Any] = {
            "supply_cap": _pair(recommended.supply_tokens[i], caps.supply_cap_usd[i]),
            "borrow_cap": _pair(recommended.borrow_tokens[i], caps.borrow_cap_usd[i]),
            "supply_cap_binding": caps.supply_binds[i],
            "borrow_cap_binding": caps.borrow_binds[i],
            "inputs": {
                "worst_scenario": caps.worst_scenario[i] or None,
                "liquidated_share_stressed": float(caps.stressed_share[i]),
                "liquidated_share": float(caps.share_used[i]),
                "depth_at_bonus_usd_per_day": float(caps.depth_at_bonus_usd[i]),
                "curve_depth_at_bonus_usd_per_day": float(caps.curve_depth_usd[i]),
                "reachable_daily_volume_usd": as_float(caps.max_daily_sale_usd[i]),
                "daily_volume_source": volume_sources[i] if i < len(volume_sources) else "",
                "depth_binding": caps.depth_binds[i],
                "liquidation_bonus": float(caps.bonus[i]),
                "sigma_daily": float(caps.sigma_daily[i]),
                "utilisation": float(caps.utilisation[i]),
                "price_usd": float(recommended.price_usd[i]),
                "depth_source": depth_sources.get(a, ""),
            },
        }
        if current is not None:
            row["current"] = {"supply_cap": _pair(current.supply_tokens[i], current.supply_usd[i]),
                              "borrow_cap": _pair(current.borrow_tokens[i], current.borrow_usd[i]),
                              "last_seen": current.last_seen[i]}
        per[a] = row
    return {
        "rule": CAP_RULE,
        "horizon_days": caps.horizon_days,
        "min_liquidated_share": caps.min_liquidated_share,
        "utilisation_headroom": caps.utilisation_headroom,
        "n_stress_scenarios": caps.n_scenarios,
        "sigma": sigma_source,
        "price_date": recommended.price_date,
        "tokens_rounding": "down to 3 significant digits, at least 1 token",
        "current_source": None if current is None else current.source,
        "current_indicative": current is not None,
        "assets": per,
    }


def _ratio(rec: float, cur: float) -> float | None:
    return float(rec / cur) if math.isfinite(cur) and cur > 0 else None


def caps_section(caps: LiquidityCaps, recommended: CapsInTokens, current: CapsInTokens | None, *,
                 liquidity: DepthAssessment | None = None, sigma_source: str = "",
                 volume_sources: tuple[str, ...] = ()) -> Section:
    """Supply and borrow caps: current -> recommended per asset, the rule's inputs and what binds."""
    sources = {}
    if liquidity is not None:
        sources = {d.asset: (f"{d.source}, {d.date}" if d.measured else f"no depth data ({d.rule} rule)")
                   for d in liquidity.assets}
    data = caps_data(caps, recommended, current, depth_sources=sources, sigma_source=sigma_source,
                     volume_sources=volume_sources)
    nan = np.full(len(caps.assets), np.nan)
    cur_s = current.supply_tokens if current is not None else nan
    cur_b = current.borrow_tokens if current is not None else nan
    cur_su = current.supply_usd if current is not None else nan
    cur_bu = current.borrow_usd if current is not None else nan
    rows = []
    for i, a in enumerate(caps.assets):
        rows.append((a.upper(), as_float(cur_s[i]), as_float(cur_su[i]), float(recommended.supply_tokens[i]),
                     float(caps.supply_cap_usd[i]), _ratio(caps.supply_cap_usd[i], cur_su[i]),
                     as_float(cur_b[i]), as_float(cur_bu[i]), float(recommended.borrow_tokens[i]),
                     float(caps.borrow_cap_usd[i]), _ratio(caps.borrow_cap_usd[i], cur_bu[i])))
    caps_table = Table(
        columns=(Column("Asset"), Column("Supply cap now (tokens)", Format.NUM), Column("Now", Format.USD_SHORT),
                 Column("Recommended (tokens)", Format.NUM), Column("Recommended", Format.USD_SHORT),
                 Column("x now", Format.NUM), Column("Borrow cap now (tokens)", Format.NUM),
                 Column("Now", Format.USD_SHORT), Column("Recommended (tokens)", Format.NUM),
                 Column("Recommended", Format.USD_SHORT), Column("x now", Format.NUM)),
        rows=tuple(rows), id="tbl-caps",
    )
    inputs = []
    for i, a in enumerate(caps.assets):
        why = caps.supply_binds[i] + (f" {caps.worst_scenario[i]}" if caps.worst_scenario[i]
                                      and caps.supply_binds[i] == "stress scenario" else "")
        inputs.append((a.upper(), caps.worst_scenario[i] or None, float(caps.stressed_share[i]),
                       float(caps.share_used[i]), float(caps.bonus[i]), float(caps.curve_depth_usd[i]),
                       as_float(caps.max_daily_sale_usd[i]), float(caps.depth_at_bonus_usd[i]),
                       float(caps.sigma_daily[i]), sources.get(a), f"{why}; {caps.depth_binds[i]}",
                       float(caps.utilisation[i]), caps.borrow_binds[i]))
    inputs_table = Table(
        columns=(Column("Asset"), Column("Worst stress scenario"), Column("Liquidated share", Format.PCT),
                 Column("Share used (phi)", Format.PCT), Column("Bonus", Format.PCT),
                 Column("Curve depth at bonus, a day", Format.USD_SHORT),
                 Column("Reachable daily volume", Format.USD_SHORT), Column("D", Format.USD_SHORT),
                 Column("Daily vol", Format.PCT), Column("Depth source"), Column("Supply cap set by"),
                 Column("Utilisation", Format.PCT), Column("Borrow cap set by")),
        rows=tuple(inputs), id="tbl-cap-inputs",
    )
    paras = [
        f"The rule: {CAP_RULE}. Here H = {caps.horizon_days:g} day(s) ([scenarios] horizon_days), "
        f"phi_min = {caps.min_liquidated_share:.0%} ([caps] min_liquidated_share: a library in which nothing of an "
        f"asset is liquidated says nothing about a larger or more levered book) and h = "
        f"{caps.utilisation_headroom:.0%} ([caps] utilisation_headroom), over the {caps.n_scenarios} scenarios of "
        "the stress library. The share is taken as scale-free: a larger supply is held by a book like this one.",
        f"Token amounts are at each asset's price on {recommended.price_date} (the run's as_of), rounded down to 3 "
        "significant digits; a cap is never 0 (Aave reads 0 as \"no cap\").",
    ]
    if current is not None:
        paras.append(f"Current caps: {current.source} (supply_cap_tokens, borrow_cap_tokens), converted at the same "
                     "prices. They are indicative: the file's caps were last seen on "
                     + ", ".join(sorted({d for d in current.last_seen if d}) or ["an unknown date"])
                     + " and Aave's stewards move caps often; a blank is a cap of 0 (Aave's \"no cap\", or borrowing "
                     "disabled).")
    else:
        paras.append("No current caps are configured ([caps] current_file): only the recommendation is shown.")
    return Section(title="Supply and borrow caps", paragraphs=tuple(paras), tables=(caps_table, inputs_table),
                   data=data, data_key="caps")
