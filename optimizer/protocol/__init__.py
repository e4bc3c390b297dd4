"""Protocol layer: risk parameters, position books, liquidation mechanics and bad-debt kernels.

Pure functions on arrays; nothing here reads prices or estimates anything. See
:mod:`optimizer.protocol.mechanics` for the model (re-levering, post-shock health factor,
static bad debt).

Names are re-exported lazily (PEP 562) so that importing ``optimizer.protocol.params`` does not
import numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optimizer.protocol.book import Book
    from optimizer.protocol.books import load_book_csv, save_book_csv, synthetic_book
    from optimizer.protocol.kernels import BadDebtResult, bad_debt_static, isolated_recovery
    from optimizer.protocol.liquidity import (
        DepthSlippage,
        curve_impact,
        depth_curve_impact,
        liquidation_slippage,
        seized_collateral,
        sqrt_impact,
    )
    from optimizer.protocol.mechanics import (
        HF_TOL,
        LiquidationOutcome,
        bad_debt_static_numpy,
        debt_at_threshold_factor,
        health_factor,
        liquidate_single,
        recovery_factor,
        relever_factor,
    )
    from optimizer.protocol.params import RiskParams

_EXPORTS = {
    "Book": "book",
    "RiskParams": "params",
    "load_book_csv": "books",
    "save_book_csv": "books",
    "synthetic_book": "books",
    "BadDebtResult": "kernels",
    "bad_debt_static": "kernels",
    "isolated_recovery": "kernels",
    "DepthSlippage": "liquidity",
    "curve_impact": "liquidity",
    "depth_curve_impact": "liquidity",
    "liquidation_slippage": "liquidity",
    "seized_collateral": "liquidity",
    "sqrt_impact": "liquidity",
    "HF_TOL": "mechanics",
    "LiquidationOutcome": "mechanics",
    "bad_debt_static_numpy": "mechanics",
    "debt_at_threshold_factor": "mechanics",
    "health_factor": "mechanics",
    "liquidate_single": "mechanics",
    "recovery_factor": "mechanics",
    "relever_factor": "mechanics",
}

__all__ = [
    "BadDebtResult",
    "Book",
    "DepthSlippage",
    "HF_TOL",
    "LiquidationOutcome",
    "RiskParams",
    "bad_debt_static",
    "bad_debt_static_numpy",
    "curve_impact",
    "debt_at_threshold_factor",
    "depth_curve_impact",
    "health_factor",
    "isolated_recovery",
    "liquidate_single",
    "liquidation_slippage",
    "load_book_csv",
    "recovery_factor",
    "relever_factor",
    "save_book_csv",
    "seized_collateral",
    "sqrt_impact",
    "synthetic_book",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
