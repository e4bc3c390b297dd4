"""Price-impact law fitted to DEX-aggregator quotes, and depth curves read from quotes.

* :class:`PowerLawImpact` fits ``impact = k (q / q0)^beta`` to (USD size, impact) pairs by robust
  least squares in log space (``scipy.optimize.least_squares``, soft-L1 loss), and the square-root
  law ``impact = k_sqrt (q / q0)^0.5`` with its coefficient alone; it reports the median and worst
  relative error ``|fit / observed - 1|`` of both on the quotes it was fitted to.
* :func:`fit_impact_laws` fits one law per directed pair of a :class:`~optimizer.data.QuoteData`
  and returns an :class:`ImpactFitTable`.
* :func:`depth_curves_from_quotes` turns the sales of each token for USD stablecoins into the
  token's USD depth curve (see its docstring for the rule).

Fits and relative errors use the quotes with an impact of at least ``min_impact`` (default 50 bp):
below that the 1inch quotes are noise (quotes of neighbouring sizes differ by tens of bp, the
file holds exact zeros at the smallest sizes), and a relative error there says nothing about the law.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression

from optimizer.data import DepthCurve, DepthData, QuoteData
from optimizer.exceptions import EstimationError
from optimizer.typing import FloatArray

__all__ = [
    "DEPTH_LEVELS",
    "ImpactFit",
    "ImpactFitTable",
    "PowerLawImpact",
    "USD_STABLES",
    "depth_curves_from_quotes",
    "fit_impact_laws",
]

#: Slippage levels at which :func:`depth_curves_from_quotes` reads the sellable size.
DEPTH_LEVELS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20, 0.30)

#: Tokens counted at 1 USD when a sale into them gives a USD depth curve.
USD_STABLES: tuple[str, ...] = ("USDC", "USDT")


class PowerLawImpact(BaseEstimator):
    """``impact = k (q / q0)^beta`` fitted in log space, with the square-root law beside it.

    Parameters
    ----------
    q0 : float, default 1e6
        Reference size, USD: ``k`` is the impact of a sale of ``q0``.
    min_impact : float, default 5e-3
        Quotes below this impact are left out of the fit and of the errors.
    loss : {"soft_l1", "linear", "huber"}, default "soft_l1"
        Loss of ``scipy.optimize.least_squares`` on the log residuals (``linear``: ordinary least
        squares in log space).
    f_scale : float, default 0.1
        Log residual at which the robust loss starts to discount a quote.

    Attributes
    ----------
    k_, beta_ : float
        Fitted power law.
    k_sqrt_ : float
        Coefficient of the square-root law (``beta = 0.5``) fitted alone.
    n_quotes_ : int
        Quotes used.
    median_rel_error_, worst_rel_error_ : float
        Of the power law.
    sqrt_median_rel_error_, sqrt_worst_rel_error_ : float
        Of the square-root law.
    """

    def __init__(self, *, q0: float = 1e6, min_impact: float = 5e-3, loss: str = "soft_l1",
                 f_scale: float = 0.1) -> None:
        self.q0 = q0
        self.min_impact = min_impact
        self.loss = loss
        self.f_scale = f_scale

    def fit(self, size_usd: ArrayLike, impact: ArrayLike) -> PowerLawImpact:
        """Fit both laws to sales of ``size_usd`` (USD, > 0) observed at ``impact`` (in [0, 1)).

        Raises
        ------
        EstimationError
            If fewer than 3 quotes have an impact >= ``min_impact``.
        """
        q = np.asarray(size_usd, dtype=float)
        y = np.asarray(impact, dtype=float)
        if q.shape != y.shape or q.ndim != 1:
            raise ValueError(f"`size_usd` and `impact` must be 1-D of equal length, got {q.shape} and {y.shape}")
        if not (np.isfinite(self.q0) and self.q0 > 0):
            raise ValueError(f"`q0` must be finite and > 0, got {self.q0}")
        if np.any(~np.isfinite(q)) or np.any(q <= 0) or np.any(~np.isfinite(y)) or np.any(y < 0) or np.any(y >= 1):
            raise ValueError("`size_usd` must be finite and > 0, `impact` finite in [0, 1)")
        m = y >= self.min_impact
        if m.sum() < 3:
            raise EstimationError(
                f"only {int(m.sum())} quotes have an impact >= {self.min_impact:g}; the law needs 3 or more"
            )
        x, ly = np.log(q[m] / self.q0), np.log(y[m])
        beta0, lk0 = np.polyfit(x, ly, 1)
        res = least_squares(lambda p: p[0] + p[1] * x - ly, x0=[lk0, beta0], loss=self.loss, f_scale=self.f_scale)
        res_sqrt = least_squares(lambda p: p[0] + 0.5 * x - ly, x0=[float(np.mean(ly - 0.5 * x))],
                                 loss=self.loss, f_scale=self.f_scale)
        self.k_, self.beta_ = float(np.exp(res.x[0])), float(res.x[1])
        self.k_sqrt_ = float(np.exp(res_sqrt.x[0]))
        self.n_quotes_ = int(m.sum())
        rel = np.abs(self.k_ * np.exp(self.beta_ * x) / y[m] - 1.0)
        rel_sqrt = np.abs(self.k_sqrt_ * np.exp(0.5 * x) / y[m] - 1.0)
        self.median_rel_error_, self.worst_rel_error_ = float(np.median(rel)), float(rel.max())
        self.sqrt_median_rel_error_, self.sqrt_worst_rel_error_ = float(np.median(rel_sqrt)), float(rel_sqrt.max())
        self.rel_errors_ = rel
        return self

    def predict(self, size_usd: ArrayLike) -> FloatArray:
        """Impact of sales of ``size_usd`` under the fitted power law."""
        return self.k_ * (np.asarray(size_usd, dtype=float) / self.q0) ** self.beta_


@dataclass(frozen=True)
class ImpactFit:
    """The impact law fitted to one directed pair (sizes in USD at the quote's implied price)."""

    sell: str
    buy: str
    n_quotes: int
    n_fitted: int
    k: float
    beta: float
    k_sqrt: float
    median_rel_error: float
    worst_rel_error: float
    sqrt_median_rel_error: float
    sqrt_worst_rel_error: float


@dataclass(frozen=True, eq=False)
class ImpactFitTable:
    """Per-pair impact-law fits to a quotes file.

    Attributes
    ----------
    fits : tuple of ImpactFit
    source : str
        The quotes file.
    date : str
    q0 : float
        Reference size of ``k`` (USD).
    min_impact : float
        Quotes below this impact are out of the fit and the errors.
    rel_errors : ndarray of shape (n_fitted_total,)
        Relative errors of every fitted quote of every pair (for the overall figures).
    skipped : tuple of str
        Pairs with too few quotes above ``min_impact`` to fit, with the count.
    """

    fits: tuple[ImpactFit, ...]
    source: str
    date: str
    q0: float
    min_impact: float
    rel_errors: FloatArray
    skipped: tuple[str, ...] = ()

    @cached_property
    def median_rel_error(self) -> float:
        return float(np.median(self.rel_errors)) if self.rel_errors.size else float("nan")

    @cached_property
    def worst_rel_error(self) -> float:
        return float(self.rel_errors.max()) if self.rel_errors.size else float("nan")

    def get(self, sell: str, buy: str) -> ImpactFit | None:
        return next((f for f in self.fits if f.sell == sell and f.buy == buy), None)

    def summary(self) -> str:
        return (f"impact law impact = k (q / {self.q0:,.0f} USD)^beta on {len(self.fits)} pairs of {self.source} "
                f"({self.date}): median relative error {self.median_rel_error:.1%}, worst {self.worst_rel_error:.1%}")

    def __repr__(self) -> str:
        return f"ImpactFitTable({self.summary()})"


def pair_usd_sizes(quotes: QuoteData, sell: str, buy: str, usd_price: dict[str, float]) -> tuple[FloatArray, FloatArray]:
    """(USD size, impact) of the quotes of one pair, sorted by size.

    The size is the sale at the quote's implied reference price, ``buy_amount / (1 - impact)``
    tokens of ``buy``, times ``buy``'s USD price (``usd_price``; a USD stablecoin counts 1).
    """
    usd, imp = quotes.usd_size(sell, buy)
    return usd * usd_price[buy], imp


def implied_usd_prices(quotes: QuoteData) -> dict[str, float]:
    """USD price of every token of ``quotes``: 1 for :data:`USD_STABLES`, else the median implied
    reference price of its 20 smallest sales into USDC (or USDT)."""
    out = {t: 1.0 for t in quotes.tokens if t in USD_STABLES}
    for t in quotes.tokens:
        if t in out:
            continue
        for stable in USD_STABLES:
            sa, ba, imp = quotes.pair(t, stable)
            if len(sa):
                out[t] = float(np.median((ba / (1.0 - imp) / sa)[:20]))
                break
        else:
            raise EstimationError(f"{quotes.path}: {t!r} is never sold for {' or '.join(USD_STABLES)}: no USD price")
    return out


def fit_impact_laws(quotes: QuoteData, *, q0: float = 1e6, min_impact: float = 5e-3,
                    loss: str = "soft_l1") -> ImpactFitTable:
    """Fit :class:`PowerLawImpact` to every directed pair of ``quotes`` (sizes in USD)."""
    prices = implied_usd_prices(quotes)
    fits, errs, skipped = [], [], []
    for sell, buy in quotes.pairs:
        usd, imp = pair_usd_sizes(quotes, sell, buy, prices)
        try:
            est = PowerLawImpact(q0=q0, min_impact=min_impact, loss=loss).fit(usd, imp)
        except EstimationError:
            skipped.append(f"{sell}->{buy} ({int((imp >= min_impact).sum())} quotes >= {min_impact:g})")
            continue
        fits.append(ImpactFit(sell=sell, buy=buy, n_quotes=len(usd), n_fitted=est.n_quotes_, k=est.k_,
                              beta=est.beta_, k_sqrt=est.k_sqrt_, median_rel_error=est.median_rel_error_,
                              worst_rel_error=est.worst_rel_error_, sqrt_median_rel_error=est.sqrt_median_rel_error_,
                              sqrt_worst_rel_error=est.sqrt_worst_rel_error_))
        errs.append(est.rel_errors_)
    return ImpactFitTable(fits=tuple(fits), source=quotes.path, date=quotes.date, q0=q0, min_impact=min_impact,
                          rel_errors=np.concatenate(errs) if errs else np.zeros(0), skipped=tuple(skipped))


def _pair_depth(usd: FloatArray, imp: FloatArray, levels: tuple[float, ...]) -> tuple[dict[float, float], float]:
    """Sellable USD at each level reached by one pair's monotone (isotonic) impact curve, and its largest size."""
    fit = IsotonicRegression(increasing=True).fit_transform(np.log(usd), imp)
    out = {}
    for s in levels:
        above = np.nonzero(fit > s)[0]
        if not len(above):
            continue
        j = int(above[0])
        if j == 0:
            out[s] = float(usd[0])  # the smallest quote already costs more: depth below its size
            continue
        # interpolate the log size between the last quote at or below s and the first above it
        f0, f1 = fit[j - 1], fit[j]
        w = (s - f0) / (f1 - f0) if f1 > f0 else 0.0
        out[s] = float(np.exp(np.log(usd[j - 1]) + w * (np.log(usd[j]) - np.log(usd[j - 1]))))
    return out, float(usd[-1])


def depth_curves_from_quotes(quotes: QuoteData, assets: dict[str, str], *,
                             levels: tuple[float, ...] = DEPTH_LEVELS) -> DepthData:
    """USD depth curves of the tokens ``assets`` names, from their sales into USD stablecoins.

    Rule, per token ``T`` (``assets`` maps a config ticker to ``T``'s symbol in the file):

    1. every pair ``T -> S``, ``S`` in :data:`USD_STABLES` (``S != T``), gives (USD size, impact)
       points, the size at the quote's implied reference price (:func:`pair_usd_sizes`);
    2. the impact is made monotone in size by isotonic regression (quotes of one pair were taken
       over the day and are noisy), and each level of ``levels`` reached is read as the size where
       the monotone curve crosses it (log-size interpolation);
    3. the token's depth at a level is the deeper of its stablecoin pairs (a liquidator sells into
       the better one; not their sum, since the aggregator's routes share pools); a pair that never
       reaches the level counts its largest quoted size (a lower bound). Levels no pair reaches are
       left out: beyond the quotes the law extrapolates (:func:`optimizer.protocol.liquidity.curve_impact`).

    Tokens the file does not sell for a USD stablecoin get no curve.

    Returns
    -------
    DepthData
        One curve per covered asset, dated with the quotes' day, source naming the file.
    """
    curves = []
    name = quotes.path.rsplit("/", 1)[-1]
    for asset, token in assets.items():
        pairs = [(token, s) for s in USD_STABLES if s != token and (token, s) in quotes.pairs]
        if not pairs:
            continue
        per = []
        for sell, buy in pairs:
            usd, imp = quotes.usd_size(sell, buy)
            per.append(_pair_depth(usd, imp, levels))
        pts_s, pts_q = [], []
        for s in levels:
            if not any(s in d for d, _ in per):
                continue
            q = max(d.get(s, top) for d, top in per)
            if pts_q and q <= pts_q[-1]:
                continue  # keep the curve strictly increasing: a flat step adds no information
            pts_s.append(s)
            pts_q.append(q)
        if not pts_s:
            continue
        via = "/".join(b for _, b in pairs)
        curves.append(DepthCurve(asset=asset, date=quotes.date, source=f"quotes {name} ({token}->{via})",
                                 slippage=np.array(pts_s), sellable_usd=np.array(pts_q)))
    return DepthData(tuple(curves), path=quotes.path, sha256=quotes.sha256)
