"""Per-asset risk parameters of a lending market and their invariants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer.typing import FloatArray

#: Numerical slack when checking invariants on values that went through a solver.
INVARIANT_TOL = 1e-9

#: Liquidation bonus of an asset that is given neither a bonus nor current parameters.
DEFAULT_BONUS = 0.075


def resolve_bonus(configured: float | None, current: float | None = None, *, default: float = DEFAULT_BONUS) -> float:
    """The bonus rule: the configured liquidation bonus, else the current one, else ``default``.

    >>> resolve_bonus(None, 0.05), resolve_bonus(0.1, 0.05), resolve_bonus(None)
    (0.05, 0.1, 0.075)
    """
    if configured is not None:
        return configured
    return default if current is None else current


#: Largest liquidation bonus a configuration accepts (``[assets.*] bonus`` lies in [0, MAX_BONUS]).
MAX_BONUS = 0.5


def shifted_bonus(bonus: float, shift: float, *, max_bonus: float = MAX_BONUS) -> float:
    """``bonus + shift``, rounded to 10 decimals (no float dust such as 0.08499999...), clipped to [0, max_bonus].

    >>> shifted_bonus(0.075, 0.01), shifted_bonus(0.02, -0.05), shifted_bonus(0.45, 0.1)
    (0.085, 0.0, 0.5)
    """
    return float(np.clip(round(float(bonus) + shift, 10), 0.0, max_bonus))


def placeholder_params(bonus: float, *, lt: float, ltv_buffer: float) -> tuple[float, float]:
    """``(ltv, liquidation_threshold)`` standing in for an asset without current parameters.

    The threshold is ``lt``, lowered to ``1 / (1 + bonus)`` if needed (``LT x (1 + bonus) <= 1``);
    the LTV is ``lt - ltv_buffer``. Only the synthetic book is shaped by it.

    >>> placeholder_params(0.075, lt=0.7, ltv_buffer=0.05)
    (0.6499999999999999, 0.7)
    """
    return lt - ltv_buffer, min(lt, 1.0 / (1.0 + bonus))


@dataclass(frozen=True, eq=False)
class RiskParams:
    """Risk parameters of every collateral asset of one market.

    Parameters are fractions (0.825, not 82.5).

    Attributes
    ----------
    assets : tuple of str, length n_assets
        Lower-case tickers, in the column order of every array here.
    ltv : ndarray of shape (n_assets,)
        Loan-to-value: borrowing power per USD of collateral. ``haircut = 1 - ltv``.
    liquidation_threshold : ndarray of shape (n_assets,)
        Health factor weight: an account is liquidatable when sum(collateral x LT) < debt.
    liquidation_bonus : ndarray of shape (n_assets,)
        Extra collateral the liquidator receives per USD repaid (0.05 = 5 %).
    close_factor : float
        Share of the debt a liquidator may repay in one call while HF >= ``full_close_hf``.
    full_close_hf : float
        Below this health factor the whole debt may be repaid (Aave: 0.95).
    """

    assets: tuple[str, ...]
    ltv: FloatArray
    liquidation_threshold: FloatArray
    liquidation_bonus: FloatArray
    close_factor: float = 0.5
    full_close_hf: float = 0.95
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.assets)
        for name in ("ltv", "liquidation_threshold", "liquidation_bonus"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ValueError(f"`{name}` must have shape ({n},), got {arr.shape}")
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "assets", tuple(self.assets))

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def haircut(self) -> FloatArray:
        """``1 - ltv`` per asset: the borrowing power withheld."""
        return 1.0 - self.ltv

    def index(self, asset: str) -> int:
        return self.assets.index(asset)

    def violations(self, *, tol: float = INVARIANT_TOL) -> list[str]:
        """Invariant breaches, one message per asset and rule (empty when the set is valid).

        Rules: 0 <= LTV <= LT < 1, bonus >= 0, LT x (1 + bonus) <= 1.
        An LTV of exactly 0 is allowed (collateral usable only inside e-modes).
        """
        out: list[str] = []
        for i, a in enumerate(self.assets):
            ltv, lt, b = self.ltv[i], self.liquidation_threshold[i], self.liquidation_bonus[i]
            if not (np.isfinite(ltv) and np.isfinite(lt) and np.isfinite(b)):
                out.append(f"{a}: non-finite parameter (ltv={ltv}, lt={lt}, bonus={b})")
                continue
            if ltv < -tol:
                out.append(f"{a}: ltv={ltv:.6f} < 0")
            if ltv > lt + tol:
                out.append(f"{a}: ltv={ltv:.6f} > liquidation_threshold={lt:.6f}")
            if lt >= 1.0:
                out.append(f"{a}: liquidation_threshold={lt:.6f} >= 1")
            if b < -tol:
                out.append(f"{a}: liquidation_bonus={b:.6f} < 0")
            if lt * (1.0 + b) > 1.0 + tol:
                out.append(f"{a}: liquidation_threshold x (1 + bonus) = {lt * (1 + b):.6f} > 1")
        return out

    def check(self) -> RiskParams:
        """Raise ``ValueError`` listing every invariant breach; return ``self`` when valid."""
        bad = self.violations()
        if bad:
            raise ValueError("invalid risk parameters: " + "; ".join(bad))
        return self

    def subset(self, assets: tuple[str, ...] | list[str]) -> RiskParams:
        idx = [self.index(a) for a in assets]
        return RiskParams(
            assets=tuple(assets),
            ltv=self.ltv[idx],
            liquidation_threshold=self.liquidation_threshold[idx],
            liquidation_bonus=self.liquidation_bonus[idx],
            close_factor=self.close_factor,
            full_close_hf=self.full_close_hf,
            meta=dict(self.meta),
        )

    def replace(self, **changes: Any) -> RiskParams:
        kw = {
            "assets": self.assets,
            "ltv": self.ltv,
            "liquidation_threshold": self.liquidation_threshold,
            "liquidation_bonus": self.liquidation_bonus,
            "close_factor": self.close_factor,
            "full_close_hf": self.full_close_hf,
            "meta": dict(self.meta),
        }
        kw.update(changes)
        return RiskParams(**kw)

    def asset_dict(self, asset: str) -> dict[str, float]:
        """``{"ltv", "liquidation_threshold", "liquidation_bonus", "haircut"}`` of one asset."""
        i = self.index(asset)
        return {
            "ltv": float(self.ltv[i]),
            "liquidation_threshold": float(self.liquidation_threshold[i]),
            "liquidation_bonus": float(self.liquidation_bonus[i]),
            "haircut": float(1.0 - self.ltv[i]),
        }

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {a: self.asset_dict(a) for a in self.assets}

    @classmethod
    def from_dict(
        cls,
        d: dict[str, dict[str, float]],
        *,
        close_factor: float = 0.5,
        full_close_hf: float = 0.95,
    ) -> RiskParams:
        assets = tuple(d)
        return cls(
            assets=assets,
            ltv=np.array([d[a]["ltv"] for a in assets], dtype=float),
            liquidation_threshold=np.array([d[a]["liquidation_threshold"] for a in assets], dtype=float),
            liquidation_bonus=np.array([d[a]["liquidation_bonus"] for a in assets], dtype=float),
            close_factor=close_factor,
            full_close_hf=full_close_hf,
        )
