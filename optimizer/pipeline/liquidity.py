"""The run's liquidity: depth curves from the configured files, or the stated rules, and the slippage law.

Wiring only: the files are read by :mod:`optimizer.data`, the curves made and the rules applied by
:func:`optimizer.estimators.assess_depth`, the law is
:class:`optimizer.protocol.liquidity.DepthSlippage`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.exceptions import DataError, DataQualityWarning
from optimizer.pipeline.config import RunConfig

if TYPE_CHECKING:
    from optimizer.estimators import DepthAssessment
    from optimizer.protocol.book import Book
    from optimizer.protocol.liquidity import DepthSlippage
    from optimizer.protocol.params import RiskParams
    from optimizer.protocol.sale import SaleSize

#: Days of returns behind a curve's volatility at measurement.
SIGMA_REF_DAYS = 30


def quote_tokens(cfg: RunConfig, tokens: tuple[str, ...]) -> dict[str, str]:
    """Config ticker -> the quotes file's token, matched by the asset's ``symbol`` (case-insensitive)."""
    by_upper = {t.upper(): t for t in tokens}
    out = {}
    for a, c in cfg.assets.items():
        t = by_upper.get((c.symbol or a).upper())
        if t is not None:
            out[a] = t
    return out


def _sigma_at(cfg: RunConfig, ddir: Path, days: set[str]) -> dict[str, dict[str, float]]:
    """Each asset's daily volatility on each measurement day (assets without prices there are left out)."""
    from optimizer.estimators import volatility_at
    from optimizer.pipeline.history import load_asset_prices

    out: dict[str, dict[str, float]] = {}
    for day in sorted(days):
        start = (pd.Timestamp(day) - pd.Timedelta(days=SIGMA_REF_DAYS + 5)).date().isoformat()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataQualityWarning)
                prices = load_asset_prices(cfg, ddir, start=start, as_of=day)
        except DataError:
            out[day] = {}
            continue
        out[day] = volatility_at(prices.prices, day, days=SIGMA_REF_DAYS)
    return out


def load_liquidity(cfg: RunConfig, ddir: Path, prices: Any, adv_usd: np.ndarray) -> DepthAssessment:
    """Every asset's depth curve (measured or by rule) and the impact-law fit of the quotes file."""
    from optimizer.data import DepthData, load_depth_file, load_quotes, window_volume_levels
    from optimizer.estimators import assess_depth, depth_curves_from_quotes, fit_impact_laws

    liq = cfg.liquidity
    assets = cfg.asset_names
    measured = DepthData(())
    files = []
    fit = None
    if liq.depth_file:
        measured = load_depth_file(ddir / liq.depth_file, label=liq.depth_file)
        files.append(f"{liq.depth_file} (sha256 {measured.sha256[:12]})")
        unknown = [a for a in measured.assets if a not in assets]
        measured = DepthData(tuple(c for c in measured.curves if c.asset in assets), measured.path, measured.sha256)
        if unknown:
            warnings.warn(f"{liq.depth_file}: curves of assets the config does not hold are ignored: "
                          f"{', '.join(unknown)}", DataQualityWarning, stacklevel=2)
    if liq.quotes_file:
        quotes = load_quotes(ddir / liq.quotes_file, label=liq.quotes_file)
        files.append(f"{liq.quotes_file} (sha256 {quotes.sha256[:12]})")
        fit = fit_impact_laws(quotes)
        measured = measured.merged(depth_curves_from_quotes(quotes, quote_tokens(cfg, quotes.tokens)))
    stables = {a for a, c in cfg.assets.items() if c.stablecoin}
    anchors = [c.asset for c in measured.curves if c.asset not in stables]
    as_of = prices.prices.index[-1]
    # an asset priced by a proxy column (price_ticker) carries the proxy's volume, not its own: no volume
    proxied = {a for a, c in cfg.assets.items() if c.price_ticker}
    anchors = [a for a in anchors if a not in proxied]
    volumes, window = window_volume_levels(prices.volumes, assets, anchors=anchors, as_of=as_of)
    volumes = {a: (None if a in proxied else v) for a, v in volumes.items()}
    return assess_depth(
        assets, measured, stablecoins=stables, volumes=volumes, volume_window=window,
        declared={a: c.adv_usd for a, c in cfg.assets.items()}, default_adv_usd=liq.default_adv_usd,
        sigma_ref=_sigma_at(cfg, ddir, {c.date for c in measured.curves}), haircut=liq.proxy_haircut,
        sqrt_volume=dict(zip(assets, map(float, adv_usd), strict=True)), impact_coef=liq.impact_coef,
        reachable_volume_share=liq.reachable_volume_share, fit=fit, files=tuple(files),
        as_of=as_of.date().isoformat(),
    )


def slippage_law(cfg: RunConfig, liquidity: DepthAssessment) -> DepthSlippage:
    """The liquidation slippage law of the run: the curves with the config's ``[liquidity]`` settings."""
    liq = cfg.liquidity
    return liquidity.law(liquidity_multiplier=liq.liquidity_multiplier, max_slippage=liq.max_slippage,
                         exponent=liq.depth_exponent)


def sale_size(cfg: RunConfig, book: Book, terminal: np.ndarray, params: RiskParams, *, alpha: float,
              debt_scale: np.ndarray | None = None, params_label: str = "") -> SaleSize:
    """The liquidation day's sale per asset under ``[liquidity] sale_size`` (:mod:`optimizer.protocol.sale`)."""
    from optimizer.protocol.sale import seized_sale, share_sale
    from optimizer.typing import SaleSizeRule

    liq = cfg.liquidity
    if liq.sale_size == SaleSizeRule.SHARE:
        return share_sale(book, liq.liquidation_share)
    return seized_sale(book, terminal, params, tail=1.0 - alpha, share_sold=liq.seized_share_sold,
                       debt_scale=debt_scale, params_label=params_label)
