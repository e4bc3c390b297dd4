"""Wiring of the supply and borrow caps: the run's book, stress library, depth curves and prices.

The rule is :func:`optimizer.protocol.caps.liquidity_caps`; the live caps are read by
:func:`optimizer.pipeline.current.load_current_caps` from ``[caps] current_file``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.pipeline.config import RunConfig
from optimizer.protocol.caps import CapsInTokens, LiquidityCaps, cap_tokens

__all__ = ["CapsOutcome", "current_caps", "prices_at_as_of", "run_caps"]


@dataclass(frozen=True, eq=False)
class CapsOutcome:
    """The recommended caps (USD and tokens), the live ones and the volatility the curves were read at."""

    caps: LiquidityCaps
    recommended: CapsInTokens
    current: CapsInTokens | None
    sigma_source: str
    volume_source: tuple[str, ...] = ()


def prices_at_as_of(inputs: Any) -> tuple[np.ndarray, str]:
    """Each asset's last price up to the run's as_of (USD per token) and the date of the data's last row."""
    px = inputs.prices.prices
    last = px.ffill().iloc[-1]
    return np.array([float(last[a]) for a in inputs.config.asset_names]), px.index[-1].date().isoformat()


def current_caps(cfg: RunConfig, data_dir: Path, price_usd: np.ndarray, price_date: str) -> CapsInTokens | None:
    """The live caps of ``[caps] current_file`` (relative to the data directory), or None without one."""
    from optimizer.pipeline.current import load_current_caps, protocol_symbols

    name = cfg.caps.current_file
    if not name:
        return None
    symbols = protocol_symbols(cfg)
    found = load_current_caps(Path(data_dir) / name, symbols)
    nan = float("nan")

    def col(key: str) -> np.ndarray:
        return np.array([nan if (found.get(a) or {}).get(key) is None else float(found[a][key])
                         for a in cfg.asset_names])

    return CapsInTokens(assets=cfg.asset_names, supply_tokens=col("supply_cap_tokens"),
                        borrow_tokens=col("borrow_cap_tokens"), price_usd=price_usd, price_date=price_date,
                        source=name, last_seen=tuple((found.get(a) or {}).get("last_seen") for a in cfg.asset_names))


def run_caps(cfg: RunConfig, inputs: Any, recommended: Any, market: Any, library: Any, *,
             current: CapsInTokens | None = None) -> CapsOutcome:
    """The caps of the recommended parameters: the stress library's scenarios on the run's book (borrowers
    re-levered to the recommendation, as the evaluation assumes), the run's depth curves at its forecast
    volatility, the liquidation horizon of ``[scenarios] horizon_days``; ``current`` the live caps
    (default: read from ``[caps] current_file``)."""
    from optimizer.pipeline.liquidity import slippage_law
    from optimizer.protocol.caps import liquidity_caps
    from optimizer.protocol.mechanics import relever_factor

    book = inputs.book
    caps = liquidity_caps(
        book, library.terminal, recommended, slippage_law(cfg, inputs.liquidity), market.sigma,
        horizon_days=cfg.scenarios.horizon_days, min_liquidated_share=cfg.caps.min_liquidated_share,
        utilisation_headroom=cfg.caps.utilisation_headroom, names=library.names,
        # liquidators reach this share of a day's volume ([liquidity] reachable_volume_share)
        max_daily_sale_usd=cfg.liquidity.reachable_volume_share * np.asarray(inputs.adv_usd, dtype=float),
        debt_scale=relever_factor(book, inputs.current, recommended),
    )
    price, day = prices_at_as_of(inputs)
    rec = CapsInTokens(assets=caps.assets, supply_tokens=cap_tokens(caps.supply_cap_usd, price),
                       borrow_tokens=cap_tokens(caps.borrow_cap_usd, price), price_usd=price, price_date=day,
                       source="recommended", last_seen=(None,) * len(caps.assets))
    if current is None:
        current = current_caps(cfg, inputs.data_dir, price, day)
    return CapsOutcome(caps=caps, recommended=rec, current=current,
                       sigma_source="the run's forecast daily volatility (as the threshold program reads the curves)",
                       volume_source=tuple(inputs.adv_source))
