"""riskopt: an open, reproducible risk-parameter optimizer for DeFi lending markets."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
