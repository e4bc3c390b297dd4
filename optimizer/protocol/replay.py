"""What a realised price path did to each asset's buffers (the per-asset figures of a crash replay)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.protocol.book import Book
from optimizer.protocol.params import RiskParams

__all__ = ["AssetBuffers", "InsolvencyMargins", "asset_buffers", "closes_after_impact", "insolvency_margins"]


@dataclass(frozen=True, eq=False)
class AssetBuffers:
    """Per asset (arrays of shape (n_assets,)): the realised move against the parameters' buffers.

    Attributes
    ----------
    worst_relative : ndarray
        Lowest close of the path relative to its start.
    worst_day : ndarray of int
        Index of the day of that close.
    end_move : ndarray
        Last close relative to the start, minus 1.
    drop : ndarray
        ``1 - worst_relative``.
    insolvency_buffer : ndarray
        ``1 - LT (1 + bonus)``: the drop that makes an account at the threshold insolvent.
    lt_ltv_gap : ndarray
        ``LT - LTV``.
    liquidation_distance : ndarray
        ``1 - LTV / LT``: the drop that takes a borrower at the maximum LTV to liquidation (NaN
        where LT = 0).
    margin_to_insolvency_buffer : ndarray
        ``insolvency_buffer - drop``.
    beyond_insolvency_buffer : ndarray of bool
        ``drop > insolvency_buffer``.
    tail_probability : ndarray
        Share of the model's paths whose lowest point is at least as low as the realised one.
    """

    worst_relative: np.ndarray
    worst_day: np.ndarray
    end_move: np.ndarray
    drop: np.ndarray
    insolvency_buffer: np.ndarray
    lt_ltv_gap: np.ndarray
    liquidation_distance: np.ndarray
    margin_to_insolvency_buffer: np.ndarray
    beyond_insolvency_buffer: np.ndarray
    tail_probability: np.ndarray


def asset_buffers(path: np.ndarray, params: RiskParams, model_lows: np.ndarray) -> AssetBuffers:
    """The realised path ``path`` against ``params``' buffers and the model's distribution of lows.

    Parameters
    ----------
    path : ndarray of shape (n_days, n_assets)
        Daily closes relative to the close before the first day.
    params : RiskParams
        The parameters in force (assets in the order of the columns).
    model_lows : ndarray of shape (n_paths, n_assets)
        The lowest relative of each of the model's paths over the same number of days.

    Returns
    -------
    AssetBuffers
    """
    path = np.asarray(path, dtype=float)
    lows = np.asarray(model_lows, dtype=float)
    lt = np.asarray(params.liquidation_threshold, dtype=float)
    ltv = np.asarray(params.ltv, dtype=float)
    bonus = np.asarray(params.liquidation_bonus, dtype=float)
    worst = path.min(axis=0)
    drop = 1.0 - worst
    buffer = 1.0 - lt * (1.0 + bonus)
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.where(lt > 0, 1.0 - ltv / lt, np.nan)
    return AssetBuffers(
        worst_relative=worst,
        worst_day=np.argmin(path, axis=0),
        end_move=path[-1] - 1.0,
        drop=drop,
        insolvency_buffer=buffer,
        lt_ltv_gap=lt - ltv,
        liquidation_distance=distance,
        margin_to_insolvency_buffer=buffer - drop,
        beyond_insolvency_buffer=drop > buffer,
        tail_probability=np.mean(lows <= worst, axis=0),
    )


@dataclass(frozen=True, eq=False)
class InsolvencyMargins:
    """How close each borrowing account came to insolvency on a realised path.

    An account is insolvent at a close when what liquidators would recover from its collateral,
    ``sum_i c_i rel_i (1 - slippage_i) / (1 + bonus_i)``, is below its debt at that close,
    ``scale x sum_j d_j rel_j``: liquidating it then leaves bad debt whatever the close factor.

    Two conventions meet here. With the run's liquidation-day ``slippage`` the sale discount is
    charged to the protocol (the static model's recovery). With ``slippage=None`` it is not: the
    liquidator is paid ``repaid x (1 + bonus)`` of collateral at the oracle price and bears its own
    slippage (Aave's rule, the dynamic simulation's). Under that rule a liquidation call leaves
    ``sum_i c_i rel_i / (1 + bonus_i) - debt`` unchanged, so an account whose margin is >= 0 at
    every step's price is liquidated without bad debt (exactly for one-asset accounts, and for
    any account at a single step).

    Attributes
    ----------
    margin : ndarray of shape (n_accounts,)
        Lowest over the path's closes of recovery / debt - 1 (inf for accounts without debt);
        negative: insolvent at some close.
    worst_day : ndarray of int, shape (n_accounts,)
        Index of the close where the margin is lowest.
    """

    margin: np.ndarray
    worst_day: np.ndarray

    @property
    def insolvent(self) -> np.ndarray:
        """Accounts insolvent at some close, bool (n_accounts,)."""
        return self.margin < 0

    @property
    def closest(self) -> int:
        """Index of the account with the lowest margin."""
        return int(np.argmin(self.margin))


def insolvency_margins(book: Book, path: np.ndarray, params: RiskParams, *, slippage: np.ndarray | None = None,
                       debt_scale: np.ndarray | None = None) -> InsolvencyMargins:
    """Each account's margin to insolvency at each close of ``path`` (shape (n_days, n_assets),
    price relatives to the start), under ``params``' bonus, the sale discount ``slippage`` and the
    debt multiplier ``debt_scale`` per account (borrowers re-levered to ``params``)."""
    from optimizer.protocol.mechanics import recovery_factor

    rel = np.atleast_2d(np.asarray(path, dtype=float))
    slip = np.zeros(book.n_assets) if slippage is None else np.asarray(slippage, dtype=float)
    rec = recovery_factor(params.liquidation_bonus, slip)
    scale = np.ones(book.n_accounts) if debt_scale is None else np.asarray(debt_scale, dtype=float)
    recovered = book.collateral_matrix() @ (rel * rec).T          # (n_accounts, n_days)
    owed = (book.debt_matrix() @ rel.T) * scale[:, None]
    ratio = np.full(recovered.shape, np.inf)
    np.divide(recovered, owed, out=ratio, where=owed > 0)
    day = np.argmin(ratio, axis=1)
    return InsolvencyMargins(margin=ratio[np.arange(len(day)), day] - 1.0, worst_day=day)


def closes_after_impact(closes: np.ndarray, impact: np.ndarray) -> np.ndarray:
    """The prices a one-step-per-day simulation sees: each daily close lowered by the permanent
    impact of the liquidation sales of the days before it.

    Parameters
    ----------
    closes : ndarray of shape (n_days, n_assets)
        Realised closes relative to the start.
    impact : ndarray of shape (n_days, n_assets)
        Price drop ``1 - exp(-I)`` caused by the sales of the days before each day (row 0: none).
    """
    return np.asarray(closes, dtype=float) * (1.0 - np.asarray(impact, dtype=float))
