"""cvxpy building blocks of the threshold LP.

Each block is a function ``(variables, data) -> (expression, list of constraints)``: a model is
assembled by collecting the blocks' constraints and combining their expressions, and each block
can be tested on its own. The data a block needs is prepared with numpy/scipy first
(:class:`ThresholdLossData`), so no cvxpy atom ever sees a dense (scenarios x assets) broadcast:
the whole loss model is a handful of sparse matrices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeAlias

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from optimizer.typing import FloatArray, IntArray

__all__ = [
    "Block",
    "ThresholdLossData",
    "box_block",
    "cvar_block",
    "make_threshold_loss_data",
    "threshold_loss_block",
]

#: What every block returns: an expression and the constraints that define it.
Block: TypeAlias = tuple[cp.Expression, list[cp.Constraint]]


@dataclass(frozen=True, eq=False)
class ThresholdLossData:
    """Sparse model of the threshold losses ``L_s(LT) = sum_i W_i max(LT_i - k[s, i], 0)``.

    Inside a box ``lt_lower <= LT <= lt_upper`` each (scenario, asset) term is one of
    three kinds, and only the middle kind needs an auxiliary variable:

    * ``k >= lt_upper``: never positive, dropped;
    * ``lt_lower <= k < lt_upper``: a kink inside the box, modelled exactly with
      ``y >= LT_i - k``, ``y >= 0`` ("exact pairs");
    * ``k < lt_lower``: always positive, so ``max(LT_i - k, 0) = LT_i - k`` is affine
      ("linear pairs", folded into a sparse (n_rows, n_assets) matrix).

    Outside the box the same model under-estimates every term (``0 <= max(x, 0)`` and
    ``x <= max(x, 0)``), which is what a relaxation of a loss upper bound needs.

    Attributes
    ----------
    scenarios : ndarray of shape (n_rows,)
        Indices into the full scenario set of the rows modelled.
    pair_row, pair_asset : ndarray of shape (n_pairs,)
        Row (0 .. n_rows - 1) and asset of each exact pair.
    pair_recovery, pair_exposure : ndarray of shape (n_pairs,)
        ``k[s, i]`` and ``W_i / scale`` of each exact pair.
    linear : scipy.sparse.csr_array of shape (n_rows, n_assets)
        ``W_i / scale`` at (row, asset) of each linear pair.
    linear_offset : ndarray of shape (n_rows,)
        ``sum W_i k[s, i] / scale`` over the row's linear pairs.
    n_assets : int
        Number of assets.
    scale : float
        USD per model unit of money (losses are divided by it to be O(1)).
    """

    scenarios: IntArray
    pair_row: IntArray
    pair_asset: IntArray
    pair_recovery: FloatArray
    pair_exposure: FloatArray
    linear: sp.csr_array
    linear_offset: FloatArray
    n_assets: int
    scale: float

    @property
    def n_rows(self) -> int:
        """Number of scenarios modelled."""
        return int(self.scenarios.size)

    @property
    def n_pairs(self) -> int:
        """Number of exact (auxiliary-variable) pairs."""
        return int(self.pair_row.size)

    @property
    def n_linear(self) -> int:
        """Number of linear pairs."""
        return int(self.linear.nnz)

    @cached_property
    def asset_selector(self) -> sp.csr_array:
        """Sparse (n_pairs, n_assets) 0/1 matrix E with ``(E @ lt)[p] = lt[pair_asset[p]]``."""
        p = self.n_pairs
        return sp.csr_array((np.ones(p), (np.arange(p), self.pair_asset)), shape=(p, self.n_assets))

    @cached_property
    def row_aggregator(self) -> sp.csr_array:
        """Sparse (n_rows, n_pairs) S: ``S[r, p] = pair_exposure[p]`` when pair p is in row r."""
        p = self.n_pairs
        return sp.csr_array(
            (self.pair_exposure, (self.pair_row, np.arange(p))), shape=(self.n_rows, p)
        )


def make_threshold_loss_data(
    recovery: FloatArray,
    exposure: FloatArray,
    lt_upper: FloatArray,
    *,
    lt_lower: FloatArray | None = None,
    scenarios: IntArray | None = None,
    scale: float = 1.0,
) -> ThresholdLossData:
    """Classify the (scenario, asset) terms of a recovery matrix for a box of thresholds.

    Parameters
    ----------
    recovery : ndarray of shape (n_scenarios, n_assets)
        ``k[s, i]``, USD recovered per USD of debt-equivalent.
    exposure : ndarray of shape (n_assets,)
        ``W_i``, USD of collateral at the threshold.
    lt_upper : ndarray of shape (n_assets,)
        Upper end of the box; terms with ``k >= lt_upper`` are dropped.
    lt_lower : ndarray of shape (n_assets,), optional
        Lower end of the box; terms with ``k < lt_lower`` are linear. None: every term that
        is not dropped is exact.
    scenarios : ndarray of int, optional
        Rows of ``recovery`` to model, in the order wanted (default: all).
    scale : float
        Divide money by this (USD per model unit).

    Returns
    -------
    ThresholdLossData
    """
    n_assets = recovery.shape[1]
    rows_idx = (
        np.arange(recovery.shape[0], dtype=np.int64)
        if scenarios is None
        else np.asarray(scenarios, dtype=np.int64)
    )
    sub = recovery[rows_idx]
    n_rows = rows_idx.size
    live = exposure > 0
    w = exposure / scale
    below_upper = (sub < lt_upper) & live
    if lt_lower is None:
        exact = below_upper
        lin = np.zeros_like(exact)
    else:
        lin = (sub < lt_lower) & below_upper
        exact = below_upper & ~lin
    pair_row, pair_asset = np.nonzero(exact)
    lin_row, lin_asset = np.nonzero(lin)
    lin_w = w[lin_asset]
    linear = sp.csr_array((lin_w, (lin_row, lin_asset)), shape=(n_rows, n_assets))
    offset = np.bincount(lin_row, weights=lin_w * sub[lin_row, lin_asset], minlength=n_rows)
    return ThresholdLossData(
        scenarios=rows_idx,
        pair_row=pair_row.astype(np.int64),
        pair_asset=pair_asset.astype(np.int64),
        pair_recovery=sub[pair_row, pair_asset],
        pair_exposure=w[pair_asset],
        linear=linear,
        linear_offset=offset,
        n_assets=n_assets,
        scale=float(scale),
    )


def threshold_loss_block(lt: cp.Variable, data: ThresholdLossData) -> Block:
    """Scaled losses of the modelled scenarios as one sparse affine expression.

    ``L = S @ y + A @ lt - a`` with ``y >= E @ lt - k``, ``y >= 0`` (exact pairs) and the linear
    pairs in ``(A, a)``. At an optimum of a problem that bounds the losses from above,
    ``y = max(lt - k, 0)``; in any case ``L`` is at least the modelled loss, the direction a
    CVaR upper bound needs.

    Parameters
    ----------
    lt : cvxpy.Variable of shape (n_assets,)
        Liquidation thresholds.
    data : ThresholdLossData
        Output of :func:`make_threshold_loss_data`.

    Returns
    -------
    loss : cvxpy.Expression of shape (n_rows,)
        Loss per modelled scenario, in units of ``data.scale`` USD.
    constraints : list of cvxpy.Constraint
    """
    loss: cp.Expression = cp.Constant(-data.linear_offset)
    constraints: list[cp.Constraint] = []
    if data.n_linear:
        loss = data.linear @ lt + loss
    if data.n_pairs:
        y = cp.Variable(data.n_pairs, nonneg=True, name="excess")
        constraints.append(y >= data.asset_selector @ lt - data.pair_recovery)
        loss = data.row_aggregator @ y + loss
    return loss, constraints


def cvar_block(
    loss: cp.Expression,
    alpha: float,
    probabilities: FloatArray,
    *,
    n_sure: int = 0,
) -> Block:
    """Rockafellar-Uryasev CVaR of non-negative scenario losses.

    ``t + sum_s p_s z_s / (1 - alpha)`` with ``z >= loss - t``, ``z >= 0`` and ``t >= 0``.
    Minimised over ``(t, z)`` it equals CVaR_alpha when ``probabilities`` covers every scenario.
    ``t >= 0`` loses nothing because the losses, hence the VaR that minimises over ``t``, are
    non-negative; it also keeps relaxations bounded.

    Relaxations, used by row generation: passing the full-set probabilities of a subset of
    scenarios gives a lower bound (terms are dropped); so does treating the first ``n_sure`` rows
    as surely in the tail, i.e. ``z_s = loss_s - t`` instead of ``max(loss_s - t, 0)``: those
    rows are aggregated into one affine term and need no variable. Keep their total probability
    below ``1 - alpha`` so the relaxation stays bounded in ``t``.

    Parameters
    ----------
    loss : cvxpy.Expression of shape (n_rows,)
        Non-negative scenario losses.
    alpha : float
        Confidence level in [0, 1).
    probabilities : ndarray of shape (n_rows,)
        Probability of each modelled scenario in the full distribution.
    n_sure : int
        Number of leading rows treated as surely in the tail.

    Returns
    -------
    cvar : cvxpy.Expression (scalar)
    constraints : list of cvxpy.Constraint
    """
    p = np.asarray(probabilities, dtype=np.float64) / (1.0 - alpha)
    n_rows = p.size
    t = cp.Variable(nonneg=True, name="var")
    cvar: cp.Expression = t
    constraints: list[cp.Constraint] = []
    if n_sure:
        cvar = cvar + p[:n_sure] @ loss[:n_sure] - float(p[:n_sure].sum()) * t
    if n_rows > n_sure:
        z = cp.Variable(n_rows - n_sure, nonneg=True, name="tail_excess")
        constraints.append(z >= loss[n_sure:] - t)
        cvar = cvar + p[n_sure:] @ z
    return cvar, constraints


def box_block(lt: cp.Variable, lower: FloatArray, upper: FloatArray) -> Block:
    """Bounds ``lower <= lt <= upper``; the expression is ``lt`` itself."""
    return lt, [lt >= lower, lt <= upper]
