"""Every asset's depth curve: measured, or a stated conservative rule scaled from what is known.

:func:`assess_depth` gives each asset one curve and says where it came from:

1. **measured**: the asset's curve in the liquidity file, else the one read from the quotes file
   (:func:`~optimizer.estimators.depth_curves_from_quotes`); source and date are the file's.
2. **no depth data**, in order of what is known about the asset:

   * ``volume``: its median daily volume in the data over the volume window
     (:func:`~optimizer.data.window_volume_levels`) times the *depth-to-volume ratio* of the
     measured reference assets (non-stablecoins with a measured curve and a volume in the same
     window): at each slippage level both references reach, the smallest ratio
     ``depth_ref(s) / volume_ref`` among them, times ``proxy_haircut`` (long-tail tokens have
     thinner on-chain books per unit of traded volume than the majors the ratio is measured on);
   * ``declared volume``: the same with the config's ``adv_usd`` (a hand-typed volume, flagged);
   * ``default volume``: the same with ``[liquidity] default_adv_usd``;
   * ``square-root law``: when no reference asset is measured at all, the square-root law on
     the asset's volume, ``impact_coef x sigma x sqrt(q / (adv x reachable_volume_share))``
     (:func:`~optimizer.protocol.liquidity.sqrt_law_curve`, written per unit volatility).

A rule-based curve is dated with the references' measurement and scaled with the asset's own
volatility on that day (``sigma_ref``), so that the one law of
:class:`~optimizer.protocol.liquidity.DepthSlippage` applies to every curve alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from optimizer.data import DepthCurve, DepthData, one_day_log_returns
from optimizer.estimators._impact import DEPTH_LEVELS, ImpactFitTable
from optimizer.estimators._volatility import rms_volatility
from optimizer.protocol.liquidity import DepthSlippage, sqrt_law_curve
from optimizer.typing import FloatArray

__all__ = ["AssetDepth", "DepthAssessment", "DepthRule", "assess_depth", "volatility_at"]

DepthRule = Literal["measured", "volume", "declared volume", "default volume", "square-root law"]


@dataclass(frozen=True, eq=False)
class AssetDepth:
    """One asset's depth curve and where it came from.

    Attributes
    ----------
    asset : str
    rule : DepthRule
        ``measured`` or the rule that made the curve.
    source : str
        The file (and pair) of a measured curve; ``no depth data`` otherwise.
    date : str or None
        Day of the measurement (of the references' measurement for ``volume`` rules).
    inputs : str
        What the rule used, in words (the volume and its source, the ratio, the haircut).
    sellable_usd, slippage : ndarray of shape (n_points,)
        The curve (at volatility ``sigma_ref``).
    sigma_ref : float
        Daily volatility the curve holds at (1 for a curve per unit volatility).
    sigma_ref_note : str
        How ``sigma_ref`` was measured.
    """

    asset: str
    rule: DepthRule
    source: str
    date: str | None
    inputs: str
    sellable_usd: FloatArray
    slippage: FloatArray
    sigma_ref: float
    sigma_ref_note: str

    @property
    def measured(self) -> bool:
        return self.rule == "measured"


@dataclass(frozen=True, eq=False)
class DepthAssessment:
    """The depth curves of a run's assets, the impact-law fit and the rule's inputs.

    Attributes
    ----------
    assets : tuple of AssetDepth
        One per asset, in the config's order.
    fit : ImpactFitTable or None
        The impact law fitted to the quotes file (None without one).
    references : tuple of str
        Measured assets whose depth-to-volume ratio the ``volume`` rules use.
    ratio_levels, ratio : ndarray of shape (n_levels,)
        Slippage levels and depth per USD of daily volume at each, after the haircut.
    volume_window : str
        The days the volumes were measured over ("" when unused).
    haircut : float
    files : tuple of str
        The liquidity inputs read (for the report and the input hash).
    as_of : str
        The run's date: a curve measured after it is a look-ahead the report names.
    """

    assets: tuple[AssetDepth, ...]
    fit: ImpactFitTable | None
    references: tuple[str, ...]
    ratio_levels: FloatArray
    ratio: FloatArray
    volume_window: str
    haircut: float
    files: tuple[str, ...] = ()
    as_of: str = ""

    @property
    def after_as_of(self) -> tuple[str, ...]:
        """Assets whose curve is dated after the run's ``as_of`` (no earlier measurement)."""
        return tuple(a.asset for a in self.assets if self.as_of and a.date and a.date > self.as_of)

    def get(self, asset: str) -> AssetDepth:
        return next(a for a in self.assets if a.asset == asset)

    def law(self, *, liquidity_multiplier: float = 1.0, max_slippage: float = 0.5,
            exponent: float = 0.5) -> DepthSlippage:
        """The slippage law of these curves (:class:`~optimizer.protocol.liquidity.DepthSlippage`)."""
        return DepthSlippage(
            sellable_usd=tuple(a.sellable_usd for a in self.assets),
            levels=tuple(a.slippage for a in self.assets),
            sigma_ref=np.array([a.sigma_ref for a in self.assets]),
            liquidity_multiplier=liquidity_multiplier, max_slippage=max_slippage, exponent=exponent,
        )

    def summary(self) -> str:
        return "\n".join(f"{a.asset}: {a.rule} ({a.source}{', ' + a.date if a.date else ''}); {a.inputs}"
                         for a in self.assets)


def volatility_at(prices: pd.DataFrame, day: str, *, days: int = 30, min_returns: int = 20) -> dict[str, float]:
    """Each column's daily volatility on ``day``: the RMS of its last ``days`` one-day log returns.

    Columns with fewer than ``min_returns`` returns in that span are left out.
    """
    end = pd.Timestamp(day)
    window = prices.loc[end - pd.Timedelta(days=days): end]
    rets = one_day_log_returns(window)
    out = {}
    for col in rets.columns:
        r = rets[col].dropna().to_numpy()
        if len(r) >= min_returns:
            out[col] = rms_volatility(r)
    return out


def _ratio_curve(refs: list[tuple[DepthCurve, float]], haircut: float) -> tuple[FloatArray, FloatArray]:
    """Levels every reference reaches, and the smallest depth per USD of volume at each (after the haircut)."""
    levels, ratio = [], []
    for s in DEPTH_LEVELS:
        depths = [c.depth_at(s) for c, _ in refs]
        if any(d is None for d in depths):
            continue
        r = haircut * min(d / v for d, (_, v) in zip(depths, refs, strict=True) if d is not None)
        if ratio and r <= ratio[-1]:
            continue
        levels.append(s)
        ratio.append(r)
    return np.array(levels), np.array(ratio)


def assess_depth(
    assets: tuple[str, ...],
    measured: DepthData,
    *,
    stablecoins: frozenset[str] | set[str],
    volumes: dict[str, float | None],
    volume_window: str,
    declared: dict[str, float | None],
    default_adv_usd: float,
    sigma_ref: dict[str, dict[str, float]],
    haircut: float = 0.5,
    sqrt_volume: dict[str, float] | None = None,
    impact_coef: float = 1.0,
    reachable_volume_share: float = 1.0,
    fit: ImpactFitTable | None = None,
    files: tuple[str, ...] = (),
    as_of: str = "",
) -> DepthAssessment:
    """One depth curve per asset (see the module docstring for the rules).

    Parameters
    ----------
    assets : tuple of str
    measured : DepthData
        Measured curves (liquidity file first, then the quotes file's).
    stablecoins : set of str
        Assets that cannot be references (a stablecoin's depth says nothing of a volatile token's).
    volumes : dict of str to float or None
        Median daily volume per asset over ``volume_window`` (None: the data has none).
    volume_window : str
        The volume window, in words.
    declared : dict of str to float or None
        The config's ``adv_usd`` per asset.
    default_adv_usd : float
    sigma_ref : dict of str to dict of str to float
        Date -> asset -> daily volatility on that date (:func:`volatility_at`).
    haircut : float, default 0.5
    sqrt_volume : dict of str to float, optional
        Volume of the square-root-law fallback per asset (the run's ADV); default: ``declared``,
        else ``volumes``, else the default.
    impact_coef, reachable_volume_share : float
        Of the square-root-law fallback.
    fit : ImpactFitTable, optional
    files : tuple of str
    as_of : str, optional
        The run's date (the report names curves measured after it).
    """
    if not 0 < haircut <= 1:
        raise ValueError(f"`haircut` must lie in (0, 1], got {haircut}")
    refs = [(c, volumes[c.asset]) for c in measured.curves
            if c.asset in assets and c.asset not in stablecoins and volumes.get(c.asset)]
    ref_date = max((c.date for c, _ in refs), default=None)
    levels, ratio = _ratio_curve([(c, float(v)) for c, v in refs], haircut) if refs else (np.zeros(0), np.zeros(0))
    ref_names = tuple(c.asset for c, _ in refs) if len(levels) else ()
    out = []
    for a in assets:
        curve = measured.get(a)
        if curve is not None:
            sig = sigma_ref.get(curve.date, {}).get(a)
            out.append(AssetDepth(
                asset=a, rule="measured", source=curve.source, date=curve.date,
                inputs=f"{len(curve.slippage)} points, {curve.slippage[0]:.2%} .. {curve.slippage[-1]:.2%}",
                sellable_usd=curve.sellable_usd, slippage=curve.slippage,
                sigma_ref=sig if sig else 1.0,
                sigma_ref_note=(f"30-day realised volatility to {curve.date}" if sig
                                else f"no prices around {curve.date}: not volatility-scaled"),
            ))
            continue
        if ref_names:
            if volumes.get(a):
                rule: DepthRule = "volume"
                vol, vsrc = float(volumes[a] or 0.0), f"median daily volume {volume_window} (data)"
            elif declared.get(a):
                rule, vol, vsrc = "declared volume", float(declared[a] or 0.0), "config adv_usd (hand-typed, not measured)"
            else:
                rule, vol, vsrc = "default volume", default_adv_usd, "[liquidity] default_adv_usd"
            assert ref_date is not None
            sig = sigma_ref.get(ref_date, {}).get(a)
            out.append(AssetDepth(
                asset=a, rule=rule, source="no depth data", date=ref_date,
                inputs=f"${vol:,.0f} a day ({vsrc})",
                sellable_usd=vol * ratio, slippage=levels.copy(),
                sigma_ref=sig if sig else 1.0,
                sigma_ref_note=(f"own 30-day realised volatility to {ref_date}" if sig
                                else f"no prices around {ref_date}: not volatility-scaled"),
            ))
            continue
        v = (sqrt_volume or {}).get(a) or declared.get(a) or volumes.get(a) or default_adv_usd
        xs, ys = sqrt_law_curve(float(v) * reachable_volume_share, coef=impact_coef)
        out.append(AssetDepth(
            asset=a, rule="square-root law", source="no depth data", date=None,
            inputs=(f"{impact_coef:g} x sigma x sqrt(q / (${float(v):,.0f} x {reachable_volume_share:g})); "
                    "no measured reference asset"),
            sellable_usd=xs, slippage=ys, sigma_ref=1.0, sigma_ref_note="per unit volatility",
        ))
    return DepthAssessment(assets=tuple(out), fit=fit, references=ref_names, ratio_levels=levels, ratio=ratio,
                           volume_window=volume_window if ref_names else "", haircut=haircut, files=files,
                           as_of=as_of)
