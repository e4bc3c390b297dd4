"""Dynamic market simulation: liquidity, liquidations call by call, oracle lag and cascades.

The static model (:mod:`optimizer.protocol.mechanics`) values every account once at the horizon
and lets liquidations complete at a fixed slippage. Realised bad debt came from what that model
leaves out: collateral too illiquid to absorb the liquidations it triggers (Aave CRV, Nov 2022),
liquidations that stopped paying (gas, zero-bid auctions at Maker on Black Thursday, Mar 2020)
and oracles lagging the market. :func:`simulate_market` walks each scenario step by step.

Model
-----
Prices.
    ``paths[s, t, i]`` is the exogenous price relative of asset ``i`` at step ``t`` (cumulative
    from ``t0``; :func:`optimizer.protocol.paths.refine_paths` makes intraday steps from daily
    scenarios). The *market* price is ``x[t, i] exp(-I_i(t))`` where the permanent impact
    ``I_i(t)`` comes from the liquidation sales of steps ``0 .. t-1``:

    * ``impact="sqrt"`` (square-root law): ``I_i = impact_coef * sigma_daily_i * sqrt(Q_i / V_i)``,
      ``Q_i`` the cumulative USD of ``i`` sold in the simulation so far and
      ``V_i = adv_usd_i * reachable_share * liquidity_multiplier`` the daily volume liquidators
      can reach;
    * ``impact="depth"`` (linear book): ``I_i = impact_coef * 0.02 * Q_i / (depth_usd_i *
      liquidity_multiplier)``, ``depth_usd_i`` the USD that moves the price by 2 %;
    * ``impact="curve"`` (measured depth curves): the law of
      :class:`optimizer.protocol.liquidity.DepthSlippage` (``slippage_law``), the one the static
      model and the threshold program use: a sale of ``q`` pays the curve's discount
      ``impact_i(q, sigma_daily_i)`` and the permanent log impact of cumulative sales is the
      marginal discount ``d(Q alpha(Q)) / dQ`` with ``alpha = -log(1 - impact)``
      (:meth:`~optimizer.protocol.liquidity.DepthSlippage.kernel_tables`), so a sale's own
      discount is the average of the price moves along its size; ``liquidity_multiplier`` and
      ``impact_coef`` are those of the law, not of this function.

    The *oracle* price is the market price ``oracle_lag_steps`` steps earlier (the ``t0`` price
    before the path starts). Impact is in log price, so prices stay positive. The square-root
    formula is the one of :func:`optimizer.protocol.liquidity.sqrt_impact`, used here as the
    permanent move of the price after cumulative sales ``Q``; the depth here is the size that
    moves the *price* by 2 % (order-book depth at 2 %), whose average fill discount is 1 %.
Accounts.
    Account ``a`` holds collateral ``c[a, i]`` and debt ``d[a, j]`` (USD at ``t0``; debt times
    ``debt_scale[a]``, e.g. the re-levering factor). Positions are fixed quantities: their values
    move with the prices. Accounts without debt are dropped.
Liquidation.
    An account is *liquidatable* at step ``t`` when its health factor at the oracle price is
    below 1 (``sum c LT o < LIQUIDATION_HF * sum d o``, the tolerance convention of
    :mod:`~optimizer.protocol.mechanics`). It is liquidated once it has been liquidatable for
    ``delay_steps`` consecutive steps before (``delay_steps = 0``: at the first such step). A call
    repays ``close_factor`` of the debt (all of it when HF < ``full_close_hf``) and seizes
    collateral worth ``repaid (1 + bonus_i)`` at the oracle price from the account's largest
    collateral asset, then the next; when the collateral does not cover it, everything is seized
    and the repayment is what it covers (``value / (1 + bonus_i)`` per asset). Repayment reduces
    every debt asset of the account pro rata. The liquidator sells the seized collateral at the
    market price less its own slippage and acts only if the profit ``proceeds - repaid`` exceeds
    ``gas_usd`` -- so small accounts may never be liquidated. Calls repeat within a step while the
    account stays liquidatable and profitable (at most ``MAX_CALLS_PER_STEP``), as liquidators do
    within minutes on chain. Debt left on an account whose collateral was all seized is written
    off as bad debt at its oracle value.
Slippage and cascades.
    A sale of ``q`` USD of asset ``i`` (at market) pays the average impact of its own size on top
    of the market price: ``1 - exp(-2/3 I(q))`` for the square-root law, ``1 - exp(-I(q) / 2)`` for
    the linear book (the mean along the impact curve from 0 to ``q``). All sales of a step execute
    at that step's market price; their sum is added to ``Q_i`` after the step, moving the market
    (and, through the oracle, health factors) from the next step on. With ``cascades=False``
    sales still pay their own slippage but ``Q`` does not move later prices, so the difference of
    the two runs on the same paths is the cascade share of bad debt.
End of horizon.
    Every account whose debt exceeds its collateral's market value (final prices including the
    impact of all sales) adds ``debt - collateral`` to bad debt: it is insolvent and would not be
    liquidated profitably.
Attribution.
    Each bad-debt amount is attributed to the account's collateral assets pro rata to their
    value at the moment it is recognised (its initial collateral composition when nothing is left).

Path dependence.
    Cascades, less liquidity and liquidation delays add bad debt in aggregate but not in every
    scenario: impact can make an account liquidatable a step earlier, and a partial liquidation
    before a gap down loses less than a later one; slippage above the bonus stops liquidators,
    and an account left under water counts ``D - C`` while a completed liquidation of it costs
    ``D - C / (1 + bonus)``. Compare distributions (means, tail measures), not single paths.

Not modelled: impact decay (resilience), liquidators' inventory and capital limits, the Aave 3.3
dust rule (full liquidation of small remainders), interest accrual, auctions (Maker), and
correlation of the intraday bridge noise across assets.

Speed: see :mod:`optimizer.protocol._sim_kernel` (numba, parallel over scenarios, per-thread
compact state, bound-based pruning of account blocks that cannot be liquidatable). The cost per
account-step is lowest when most accounts are far from liquidation (the benchmark's synthetic
book, health factors log-normal with median 1.6: under 0.1 ns on one core) and grows with the
share of accounts that must be evaluated and liquidated; a book with every account at HF = 1 is
the slowest case (about 12 ns, three quarters of the accounts liquidated in every scenario).
``SimResult.info["exact_share"]`` reports the share of account-steps evaluated exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from optimizer.protocol import _sim_kernel as _k
from optimizer.protocol.book import Book
from optimizer.protocol.kernels import _select_rows
from optimizer.protocol.liquidity import DepthSlippage
from optimizer.protocol.mechanics import LIQUIDATION_HF
from optimizer.protocol.params import RiskParams
from optimizer.typing import FloatArray

#: Relative rounding of one float32 operation (2^-23, twice the unit roundoff): the block bound
#: tolerance is this times (entries + 4) times the block's largest ``gross / margin``.
_ROUNDING = 2.0**-23
#: Price move of the configured depth (``depth_usd`` moves the price by this fraction).
DEPTH_MOVE = 0.02

MAX_CALLS_PER_STEP = _k.MAX_CALLS_PER_STEP

__all__ = ["MAX_CALLS_PER_STEP", "SimResult", "simulate_market"]


@dataclass(frozen=True, eq=False)
class SimResult:
    """Outcome of :func:`simulate_market`, one row per scenario.

    Attributes
    ----------
    bad_debt : ndarray of float64, shape (n_scenarios,)
        Bad debt, USD: debt written off when an account's collateral ran out plus, at the end of
        the horizon, ``debt - collateral`` of every insolvent account.
    bad_debt_by_asset : ndarray of float64, shape (n_scenarios, n_assets)
        ``bad_debt`` attributed to the accounts' collateral assets pro rata; rows sum to
        ``bad_debt``.
    liquidated_usd : ndarray of float64, shape (n_scenarios,)
        Collateral seized by liquidators, USD at the oracle price (liquidations at risk).
    repaid_usd : ndarray of float64, shape (n_scenarios,)
        Debt repaid by liquidators, USD at the oracle price.
    n_liquidated : ndarray of int64, shape (n_scenarios,)
        Accounts liquidated at least once.
    n_insolvent : ndarray of int64, shape (n_scenarios,)
        Accounts whose debt exceeds their collateral's market value at the end of the horizon.
    first_liquidation_step : ndarray of int64, shape (n_scenarios,)
        Step of the first liquidation, -1 when there was none.
    worst_impact : ndarray of float64, shape (n_scenarios,)
        Largest ``final_impact`` over assets.
    final_impact : ndarray of float64, shape (n_scenarios, n_assets)
        Price drop caused by all liquidation sales, ``1 - exp(-I)``. With ``cascades=False`` it
        is the drop the sales *would* have caused (it was not applied to prices).
    assets : tuple of str
        Column labels of the per-asset arrays.
    info : dict
        Settings of the run (impact law, liquidity, lags, gas, dtype, steps, ...).
    """

    bad_debt: FloatArray
    bad_debt_by_asset: FloatArray
    liquidated_usd: FloatArray
    repaid_usd: FloatArray
    n_liquidated: np.ndarray
    n_insolvent: np.ndarray
    first_liquidation_step: np.ndarray
    worst_impact: FloatArray
    final_impact: FloatArray
    assets: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_scenarios(self) -> int:
        return int(self.bad_debt.shape[0])

    @cached_property
    def prob_bad_debt(self) -> float:
        """Share of scenarios with positive bad debt."""
        return float(np.mean(self.bad_debt > 0)) if self.bad_debt.size else 0.0

    @cached_property
    def tail_contribution(self) -> FloatArray:
        """Share of all bad debt (over scenarios) attributed to each asset, shape (n_assets,)."""
        col = self.bad_debt_by_asset.sum(axis=0)
        tot = col.sum()
        return col / tot if tot > 0 else np.zeros_like(col)

    def summary(self) -> str:
        b = self.bad_debt
        mean = float(b.mean()) if b.size else 0.0
        mx = float(b.max()) if b.size else 0.0
        wi = float(self.worst_impact.max()) if b.size else 0.0
        return (
            f"SimResult(n_scenarios={self.n_scenarios}, mean bad debt={mean:.6g}, max={mx:.6g}, "
            f"P(bad debt > 0)={self.prob_bad_debt:.4f}, max impact={wi:.4f}, "
            f"cascades={self.info.get('cascades')}, dtype={self.info.get('dtype')})"
        )

    def __repr__(self) -> str:
        return self.summary()

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _per_asset(name: str, value: ArrayLike, n: int, *, positive: bool) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},), got {arr.shape}")
    bad = np.isnan(arr) | (arr <= 0 if positive else arr < 0) | np.isneginf(arr)
    if np.any(bad):
        rule = "> 0" if positive else ">= 0"
        raise ValueError(f"`{name}` must be {rule} and not NaN for every asset, got {arr}")
    return arr


def _nonneg_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0, got {value!r}")
    return int(value)


def _row_sum(indptr: np.ndarray, values: np.ndarray) -> FloatArray:
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return np.bincount(rows, weights=values, minlength=n)


def _row_argmax_asset(
    indptr: np.ndarray, asset: np.ndarray, values: np.ndarray, fill: int
) -> np.ndarray:
    """Asset of the largest entry of each CSR row (``fill`` for empty rows)."""
    n = len(indptr) - 1
    out = np.full(n, fill, dtype=np.int64)
    if len(values) == 0:
        return out
    rows = np.repeat(np.arange(n), np.diff(indptr))
    order = np.lexsort((-values, rows))  # per row, largest first
    first = np.ones(len(order), dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    out[rows[order][first]] = asset[order][first]
    return out


# --------------------------------------------------------------------------------------------
# preparation: borrowing accounts, sorted into blocks with linear margin bounds
# --------------------------------------------------------------------------------------------
class _Prepared(NamedTuple):
    """The kernel's view of a book: accounts, block layout and the bounds of blocks/superblocks."""

    accounts: _k.Accounts
    layout: _k.Layout
    blocks: _k.Support
    supers: _k.Support

    @property
    def n_accounts(self) -> int:
        return len(self.accounts.c_indptr) - 1


def _support(
    group: np.ndarray, asset: np.ndarray, lo: FloatArray, hi: FloatArray, n_groups: int, n_as: int
) -> tuple[np.ndarray, np.ndarray, FloatArray, FloatArray]:
    """Each group's assets (CSR over groups) with the range ``[min lo, max hi]``, 0 included."""
    u, inv = np.unique(group * n_as + asset, return_inverse=True)
    g_lo = np.zeros(len(u))
    g_hi = np.zeros(len(u))
    np.minimum.at(g_lo, inv, lo)
    np.maximum.at(g_hi, inv, hi)
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(u // n_as, minlength=n_groups), out=ptr[1:])
    return ptr, (u % n_as).astype(np.uint32), g_lo, g_hi


def _prepare(book: Book, lt: FloatArray, scale: FloatArray, dt: np.dtype) -> _Prepared:
    """Borrowing accounts of ``book`` sorted into blocks with their bounds; amounts in ``dt``."""
    n_as = book.n_assets
    d_all = book.debt_usd * np.repeat(scale, np.diff(book.debt_indptr))
    borrowing = np.flatnonzero(_row_sum(book.debt_indptr, d_all) > 0)
    c_ptr0, c_el = _select_rows(book.coll_indptr, borrowing)
    d_ptr0, d_el = _select_rows(book.debt_indptr, borrowing)
    c_asset0, c_usd0 = book.coll_asset[c_el], book.coll_usd[c_el]
    d_asset0, d_usd0 = book.debt_asset[d_el], d_all[d_el]
    n = len(borrowing)

    c_lt = c_usd0 * lt[c_asset0]
    margin = _row_sum(c_ptr0, c_lt) - LIQUIDATION_HF * _row_sum(d_ptr0, d_usd0)
    gross = _row_sum(c_ptr0, c_lt) + LIQUIDATION_HF * _row_sum(d_ptr0, d_usd0)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(margin > 0, gross / margin, np.inf)
    prim_c = _row_argmax_asset(c_ptr0, c_asset0, c_usd0, n_as)
    prim_d = _row_argmax_asset(d_ptr0, d_asset0, d_usd0, n_as)
    order = np.lexsort((risk, prim_d, prim_c))

    c_ptr, c_el = _select_rows(c_ptr0, order)
    d_ptr, d_el = _select_rows(d_ptr0, order)
    c_asset, c_usd = c_asset0[c_el], c_usd0[c_el]
    d_asset, d_usd = d_asset0[d_el], d_usd0[d_el]
    margin, risk = margin[order], risk[order]

    bs = _k.ACCOUNT_BLOCK
    n_blk = (n + bs - 1) // bs
    blk_ptr = np.minimum(np.arange(n_blk + 1, dtype=np.int64) * bs, n)
    acc_blk = np.arange(n) // bs
    # v[a, i] = (c LT - h d)[a, i] / M_a as (block, asset, v) triples
    rows = np.concatenate(
        [np.repeat(np.arange(n), np.diff(c_ptr)), np.repeat(np.arange(n), np.diff(d_ptr))]
    )
    assets = np.concatenate([c_asset, d_asset]).astype(np.int64)
    w = np.concatenate([c_usd * lt[c_asset], -LIQUIDATION_HF * d_usd])
    key = rows * n_as + assets
    uk, inv = np.unique(key, return_inverse=True)
    w_net = np.bincount(inv, weights=w, minlength=len(uk))
    acc_of = uk // n_as
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(margin[acc_of] > 0, w_net / margin[acc_of], 0.0)
    bs_ptr, bs_asset, lo, hi = _support(acc_blk[acc_of], uk % n_as, v, v, n_blk, n_as)
    max_nc = int(np.diff(c_ptr).max()) if n else 0
    # dense per-block layout of the margin: block b has one row per (asset, side) any of its
    # accounts holds, keyed by the index into [o LT, h o] (collateral: asset, debt: n + asset);
    # row r holds the accounts' amounts (debt negated) at dn_w[r * bs + j], 0 where none
    nc = np.diff(c_ptr)
    nd = np.diff(d_ptr)
    c_rows = np.repeat(np.arange(n), nc)
    d_rows = np.repeat(np.arange(n), nd)
    e_acc = np.concatenate([c_rows, d_rows])
    e_key = np.concatenate([c_asset, d_asset + n_as]).astype(np.int64)
    rkey = acc_blk[e_acc] * (2 * n_as) + e_key
    urow, rinv = np.unique(rkey, return_inverse=True)
    dn_ptr = np.zeros(n_blk + 1, dtype=np.int64)
    np.cumsum(np.bincount(urow // (2 * n_as), minlength=n_blk), out=dn_ptr[1:])
    dn_idx = (urow % (2 * n_as)).astype(np.uint32)
    e_pos = rinv * bs + (e_acc - blk_ptr[acc_blk[e_acc]])
    dn_w = np.zeros(len(urow) * bs)
    np.add.at(dn_w, e_pos, np.concatenate([c_usd, -d_usd]))
    c_pos, d_pos = e_pos[: len(c_asset)], e_pos[len(c_asset) :]
    dn_rows = np.diff(dn_ptr)
    # tolerance of the bound: covers the float32 rounding of a margin summed over the block's
    # rows, of the rounded amounts and of o LT; +inf when an account is liquidatable at t0
    blk_risk = np.full(n_blk, -np.inf)
    np.maximum.at(blk_risk, acc_blk, risk)
    blk_thr = _ROUNDING * (dn_rows + 4) * blk_risk
    # superblocks of SUPER_BLOCK blocks: the union of their supports, the widest [lo, hi]
    sb = _k.SUPER_BLOCK
    n_sup = (n_blk + sb - 1) // sb
    blk_of_entry = np.repeat(np.arange(n_blk, dtype=np.int64), np.diff(bs_ptr))
    sup_ptr, sup_asset, s_lo, s_hi = _support(
        blk_of_entry // sb, bs_asset.astype(np.int64), lo, hi, n_sup, n_as
    )
    sup_thr = np.full(n_sup, -np.inf)
    np.maximum.at(sup_thr, np.arange(n_blk) // sb, blk_thr)
    return _Prepared(
        accounts=_k.Accounts(
            c_indptr=c_ptr,
            c_asset=c_asset.astype(np.int32),
            c_base=c_usd.astype(dt),
            d_indptr=d_ptr,
            d_asset=d_asset.astype(np.int32),
            d_base=d_usd.astype(dt),
            max_nc=max_nc,
        ),
        layout=_k.Layout(
            blk_ptr=blk_ptr, dn_ptr=dn_ptr, dn_idx=dn_idx, dn_w=dn_w.astype(dt), c_pos=c_pos,
            d_pos=d_pos,
        ),
        blocks=_k.Support(ptr=bs_ptr, asset=bs_asset, lo=lo, hi=hi, thr=blk_thr),
        supers=_k.Support(ptr=sup_ptr, asset=sup_asset, lo=s_lo, hi=s_hi, thr=sup_thr),
    )


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def simulate_market(
    book: Book,
    paths: Any,
    params: RiskParams,
    *,
    adv_usd: ArrayLike,
    sigma_daily: ArrayLike,
    reachable_share: float = 0.2,
    liquidity_multiplier: float = 1.0,
    impact_coef: float = 1.0,
    impact: Literal["sqrt", "depth", "curve"] = "sqrt",
    depth_usd: ArrayLike | None = None,
    slippage_law: DepthSlippage | None = None,
    oracle_lag_steps: int = 0,
    delay_steps: int = 0,
    gas_usd: float = 0.0,
    cascades: bool = True,
    debt_scale: ArrayLike | None = None,
    steps_per_day: int = 1,
    dtype: DTypeLike = np.float32,
    use_bounds: bool = True,
) -> SimResult:
    """Simulate liquidations, their price impact and the resulting bad debt along price paths.

    See the module docstring for the model.

    Parameters
    ----------
    book : Book
        Positions at ``t0``.
    paths : ndarray of shape (n_scenarios, n_steps, n_assets), or ScenarioSet
        Exogenous cumulative price relatives at the end of each step, columns in ``book.assets``
        order (a ``ScenarioSet``'s daily ``relatives`` when ``steps_per_day == 1``).
    params : RiskParams
        Liquidation thresholds, bonuses, close factor and full-close health factor, over
        ``book.assets``.
    adv_usd : array_like of shape (n_assets,)
        Average daily traded volume per asset, USD (> 0; ``inf`` means no impact).
    sigma_daily : array_like of shape (n_assets,)
        Daily volatility of log returns per asset (>= 0), scale of the square-root law.
    reachable_share : float, default 0.2
        Share of the daily volume liquidators can reach, in (0, 1].
    liquidity_multiplier : float, default 1.0
        Scales the reachable volume (or the depth); a liquidity-stress knob, > 0.
    impact_coef : float, default 1.0
        Scales the impact law (>= 0; 0 gives no impact and no slippage).
    impact : {"sqrt", "depth", "curve"}, default "sqrt"
        Square-root law on volume, a linear book given by ``depth_usd``, or the depth curves of
        ``slippage_law``.
    depth_usd : array_like of shape (n_assets,), optional
        USD that moves each asset's price by 2 %; required with ``impact="depth"``.
    slippage_law : DepthSlippage, optional
        The depth-curve law; required with ``impact="curve"`` (``adv_usd`` is then unused).
    oracle_lag_steps : int, default 0
        Steps by which the oracle price trails the market price.
    delay_steps : int, default 0
        Steps an account must have been liquidatable before a liquidator acts.
    gas_usd : float, default 0.0
        Minimum profit for a liquidator to act, USD (gas and operating cost).
    cascades : bool, default True
        Whether liquidation sales move later prices (permanent impact).
    debt_scale : array_like of shape (n_accounts,), optional
        Debt multiplier per account, e.g. :func:`~optimizer.protocol.mechanics.relever_factor`.
    steps_per_day : int, default 1
        Steps per day in ``paths``; ``n_steps`` must be a multiple of it. Lags and delays are in
        steps; the volume ``V`` is per day.
    dtype : {numpy.float32, numpy.float64}, default float32
        Arithmetic dtype of the kernel; totals and outputs are float64.
    use_bounds : bool, default True
        Skip account blocks whose linear margin bound proves them safe. The results do not
        depend on it (the tolerance covers rounding); ``False`` is for checking that.

    Returns
    -------
    SimResult

    Examples
    --------
    >>> from optimizer.protocol.book import Book
from optimizer.protocol.kernels import _select_rows
    >>> from optimizer.protocol.params import RiskParams
    >>> book = Book.from_dense(["eth", "usdc"], [[100.0, 0.0]], [[0.0, 75.0]])
    >>> params = RiskParams(("eth", "usdc"), ltv=[0.75, 0.0], liquidation_threshold=[0.8, 0.0],
    ...                     liquidation_bonus=[0.05, 0.0])
    >>> paths = np.array([[[0.7, 1.0]]])
    >>> res = simulate_market(book, paths, params, adv_usd=[1e9, 1e9], sigma_daily=[0.03, 0.0],
    ...                       impact_coef=0.0, dtype=np.float64)
    >>> round(float(res.bad_debt[0]), 4)  # 75 - 70 / 1.05
    8.3333
    """
    if tuple(params.assets) != tuple(book.assets):
        raise ValueError(
            "`params.assets` must equal `book.assets` (same order); "
            f"got {params.assets} and {book.assets}"
        )
    n_as = book.n_assets
    rel = getattr(paths, "relatives", paths)
    if hasattr(paths, "assets") and tuple(paths.assets) != tuple(book.assets):
        raise ValueError(
            f"scenario assets {tuple(paths.assets)} differ from `book.assets` {book.assets}"
        )
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"`dtype` must be float32 or float64, got {dt}")
    rel = np.ascontiguousarray(rel, dtype=dt)
    if rel.ndim != 3 or rel.shape[2] != n_as:
        raise ValueError(f"`paths` must have shape (n_scenarios, n_steps, {n_as}), got {rel.shape}")
    if rel.shape[1] < 1:
        raise ValueError("`paths` must hold at least one step")
    if not np.all(np.isfinite(rel)) or np.any(rel <= 0):
        raise ValueError("`paths` must be finite and > 0 (price relatives, not returns)")
    spd = _nonneg_int("steps_per_day", steps_per_day)
    if spd < 1 or rel.shape[1] % spd:
        raise ValueError(
            "`steps_per_day` must be >= 1 and divide the number of steps "
            f"{rel.shape[1]}, got {steps_per_day}"
        )
    lag = _nonneg_int("oracle_lag_steps", oracle_lag_steps)
    delay = _nonneg_int("delay_steps", delay_steps)
    if impact not in ("sqrt", "depth", "curve"):
        raise ValueError(f"`impact` must be 'sqrt', 'depth' or 'curve', got {impact!r}")
    if not 0 < reachable_share <= 1:
        raise ValueError(f"`reachable_share` must lie in (0, 1], got {reachable_share}")
    if not (np.isfinite(liquidity_multiplier) and liquidity_multiplier > 0):
        raise ValueError(
            f"`liquidity_multiplier` must be finite and > 0, got {liquidity_multiplier}"
        )
    if not (np.isfinite(impact_coef) and impact_coef >= 0):
        raise ValueError(f"`impact_coef` must be finite and >= 0, got {impact_coef}")
    if not (np.isfinite(gas_usd) and gas_usd >= 0):
        raise ValueError(f"`gas_usd` must be finite and >= 0, got {gas_usd}")
    if not 0 < params.close_factor <= 1:
        raise ValueError(f"`params.close_factor` must lie in (0, 1], got {params.close_factor}")
    sig = _per_asset("sigma_daily", sigma_daily, n_as, positive=False)
    if np.any(np.isinf(sig)):
        raise ValueError(f"`sigma_daily` must be finite, got {sig}")
    log_q, slip_tab, imp_tab = np.arange(2.0), np.zeros((n_as, 2)), np.zeros((n_as, 2))
    if impact == "curve":
        if slippage_law is None or slippage_law.n_assets != n_as:
            raise ValueError(f"impact='curve' needs a `slippage_law` over the {n_as} assets")
        log_q, slip_tab, imp_tab = slippage_law.kernel_tables(sig)
        imp_scale = slip_scale = np.zeros(n_as)
        law = 2
    elif impact == "sqrt":
        adv = _per_asset("adv_usd", adv_usd, n_as, positive=True)
        volume = adv * reachable_share * liquidity_multiplier
        imp_scale = impact_coef * sig / np.sqrt(volume)
        slip_scale = (2.0 / 3.0) * imp_scale
        law = 0
    else:
        if depth_usd is None:
            raise ValueError("`depth_usd` is required with impact='depth'")
        depth = _per_asset("depth_usd", depth_usd, n_as, positive=True)
        imp_scale = impact_coef * DEPTH_MOVE / (depth * liquidity_multiplier)
        slip_scale = 0.5 * imp_scale
        law = 1
    if debt_scale is None:
        scale = np.ones(book.n_accounts)
    else:
        scale = np.asarray(debt_scale, dtype=np.float64)
        if scale.ndim == 0:
            scale = np.full(book.n_accounts, float(scale))
        if scale.shape != (book.n_accounts,) or not np.all(np.isfinite(scale)) or np.any(scale < 0):
            raise ValueError(
                f"`debt_scale` must be finite, >= 0 and of shape ({book.n_accounts},), "
                f"got shape {scale.shape}"
            )
    lt = np.asarray(params.liquidation_threshold, dtype=np.float64)
    bonus = np.asarray(params.liquidation_bonus, dtype=np.float64)
    if np.any(~np.isfinite(lt)) or np.any(lt < 0) or np.any(lt >= 1):
        raise ValueError(f"`params.liquidation_threshold` must lie in [0, 1), got {lt}")
    if np.any(~np.isfinite(bonus)) or np.any(bonus < 0):
        raise ValueError(f"`params.liquidation_bonus` must be finite and >= 0, got {bonus}")

    prep = _prepare(book, lt, scale, dt)
    n_s, n_t, _ = rel.shape
    prm = _k.Params(
        lt=lt.astype(dt),
        bonus=bonus.astype(dt),
        liq_hf=dt.type(LIQUIDATION_HF),
        close=dt.type(params.close_factor),
        full_hf=dt.type(params.full_close_hf),
        gas=dt.type(gas_usd),
        zero=dt.type(0),
        one=dt.type(1),
    )
    liq = _k.Liquidity(
        law=law,
        imp_scale=np.ascontiguousarray(imp_scale, dtype=np.float64),
        slip_scale=np.ascontiguousarray(slip_scale, dtype=np.float64),
        log_q=np.ascontiguousarray(log_q, dtype=np.float64),
        slip_tab=np.ascontiguousarray(slip_tab, dtype=np.float64),
        imp_tab=np.ascontiguousarray(imp_tab, dtype=np.float64),
    )
    n_threads = numba.get_num_threads()
    cfg = _k.Settings(
        lag=lag,
        delay=delay,
        cascades=bool(cascades),
        use_bounds=bool(use_bounds),
        # the end-of-horizon test is insolvency; the HF bound implies solvency only when LT <= h
        final_bounds=bool(np.all(lt <= LIQUIDATION_HF)),
        scen_block=max(1, -(-n_s // (8 * n_threads))),
    )
    out = _k.Outputs.empty(n_s, n_as)
    if n_s and prep.n_accounts:
        _k.simulate_kernel(rel, *prep, prm, liq, cfg, out)
    final_impact = -np.expm1(-out.imp)
    info = {
        "impact": impact,
        "impact_coef": float(impact_coef),
        "reachable_share": float(reachable_share),
        "liquidity_multiplier": float(liquidity_multiplier),
        "oracle_lag_steps": lag,
        "delay_steps": delay,
        "gas_usd": float(gas_usd),
        "cascades": bool(cascades),
        "steps_per_day": spd,
        "n_steps": n_t,
        "horizon_days": n_t // spd,
        "n_borrowing_accounts": prep.n_accounts,
        "dtype": dt.name,
        "max_calls_per_step": MAX_CALLS_PER_STEP,
        # share of account-steps whose margin was computed (the rest were proved safe by bounds)
        "exact_share": float(out.work.sum()) / max(n_s * n_t * prep.n_accounts, 1),
    }
    return SimResult(
        bad_debt=out.bad,
        bad_debt_by_asset=out.bad_asset,
        liquidated_usd=out.liq,
        repaid_usd=out.rep,
        n_liquidated=out.nliq,
        n_insolvent=out.nunder,
        first_liquidation_step=out.first,
        worst_impact=final_impact.max(axis=1) if n_as else np.zeros(n_s),
        final_impact=final_impact,
        assets=tuple(book.assets),
        info=info,
    )
