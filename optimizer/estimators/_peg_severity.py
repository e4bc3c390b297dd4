"""Severity of a depeg over the liquidation horizon: empirical atoms or a peaks-over-threshold fit.

The pooled events of a class (:class:`~optimizer.estimators.PegBreakHistory`) give one horizon
move each (:meth:`PegBreak.move`). Two severity models of those moves:

- ``"empirical"``: every pooled move is an atom of probability ``1 / n_events``. Its tail
  quantiles jump from atom to atom: with 19 USD events the 1-in-1,000 two-day move sits in the
  gap between two of them and moves by several points when one event is added or removed.
- ``"gpd"`` (peaks over threshold): on the log scale, the moves beyond the break threshold
  (``|log move| > t``, ``t = -log(1 - threshold)`` below par, ``log(1 + threshold)`` above) are
  exceedances ``y = |log move| - t``; per side they get a generalized Pareto distribution fitted by
  maximum likelihood (``scipy.stats.genpareto.fit`` with location 0). Moves within the threshold
  (an event whose worst two days moved less than 2 %) stay empirical atoms. The severity is the
  mixture: a side's tail with probability (its exceedances / n_events), each body atom with
  ``1 / n_events``. A side with fewer than :data:`MIN_EXCEEDANCES` exceedances keeps its
  exceedances as atoms (said in ``TailFit.method``). Working in logs keeps every drawn relative
  positive.

The shape is held in :data:`XI_BOUNDS`, [-1/2, 0] (constrained MLE: at most an exponential tail,
see the constant's note). Standard errors are the asymptotic ones of the GPD MLE (Smith 1985, valid for ``xi > -1/2``):
``var xi = (1 + xi)^2 / n``, ``var sigma = 2 sigma^2 (1 + xi) / n``. Goodness of fit is the
Kolmogorov-Smirnov distance of the exceedances to the fitted GPD with a parametric-bootstrap
p-value (each bootstrap sample refitted, so the estimated parameters are accounted for).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import optimize, stats

from optimizer._cache import DiskCache
from optimizer.typing import FloatArray

__all__ = [
    "MIN_EXCEEDANCES",
    "XI_BOUNDS",
    "PegSeverity",
    "SeverityMethod",
    "TailFit",
    "fit_gpd",
    "SeverityEvidence",
    "fit_peg_severity",
    "severity_evidence",
]

SeverityMethod = Literal["gpd", "empirical"]

#: Fewest exceedances of a side for a GPD fit; below it the side's exceedances stay atoms.
MIN_EXCEEDANCES = 5

#: Bounds on the GPD shape. Below -1/2 the MLE is not regular (at xi < -1 the likelihood is
#: unbounded as the upper end point reaches the largest exceedance: the USD class's below-par
#: exceedances, unconstrained, give xi = -1.40 with its end point at USDC's -13 %, i.e. nothing
#: deeper is possible). Above 0 the tail is a power law, which seven points cannot support: the
#: shape's standard error is about (1 + xi) / sqrt(n), 0.6-0.8 at n = 7, and the USD class's
#: above-par fit, held at 0.5, put premiums of +65 % in a 100,000-scenario run and +9,000 % at
#: 1 in 100,000 (the largest two-day premium in the data is +9.25 %). At most an exponential
#: tail (xi <= 0) is what the data can set; where a bound binds the report shows it (xi at -0.50
#: or 0.00 with no standard error).
XI_BOUNDS = (-0.5, 0.0)


@dataclass(frozen=True)
class TailFit:
    """The fitted tail of one side (exceedances of the log move beyond the threshold).

    Attributes
    ----------
    side : {"below", "above"}
    method : {"gpd", "empirical"}
        ``"empirical"`` when there are fewer than :data:`MIN_EXCEEDANCES` exceedances.
    exceedances : tuple of float
        ``|log move| - t`` of the side's events beyond the threshold, sorted.
    xi, sigma : float
        GPD shape and scale (NaN for an empirical side).
    xi_se, sigma_se : float
        Asymptotic standard errors (NaN where they do not hold).
    ks : float
        Kolmogorov-Smirnov distance of the exceedances to the fitted GPD (NaN: empirical).
    ks_pvalue : float
        Its parametric-bootstrap p-value (NaN: not computed).
    """

    side: Literal["below", "above"]
    method: Literal["gpd", "empirical"]
    exceedances: tuple[float, ...]
    xi: float = float("nan")
    sigma: float = float("nan")
    xi_se: float = float("nan")
    sigma_se: float = float("nan")
    ks: float = float("nan")
    ks_pvalue: float = float("nan")

    @property
    def n(self) -> int:
        return len(self.exceedances)

    def ppf(self, u: FloatArray) -> FloatArray:
        """Exceedance quantiles at ``u`` in [0, 1) (the empirical inverse for an atom side)."""
        u = np.asarray(u, dtype=float)
        if self.method == "gpd":
            return stats.genpareto.ppf(u, self.xi, loc=0.0, scale=self.sigma)
        y = np.asarray(self.exceedances, dtype=float)
        return y[np.minimum((u * y.size).astype(np.int64), y.size - 1)]

    def sf(self, y: float) -> float:
        """P(exceedance > y)."""
        if self.method == "gpd":
            return float(stats.genpareto.sf(y, self.xi, loc=0.0, scale=self.sigma))
        return float(np.mean(np.asarray(self.exceedances) > y))


#: GPD fits by sample (:func:`fit_gpd`); the key adds numpy's and scipy's versions and this module's source.
_GPD_FITS = DiskCache("gpd_fits", packages=("numpy", "scipy"), sources=("optimizer.estimators._peg_severity",))


def fit_gpd(y: FloatArray, *, xi_bounds: tuple[float, float] = XI_BOUNDS) -> tuple[float, float]:
    """(xi, sigma): the GPD maximum-likelihood fit (location 0) of positive exceedances ``y``,
    the shape held in ``xi_bounds`` (scipy's unconstrained fit, and a bounded profile-likelihood
    search when it falls outside)."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.size < 2 or not np.all(np.isfinite(y) & (y > 0)):
        raise ValueError(f"`y` must hold at least 2 positive finite exceedances, got {y!r}")
    y = np.ascontiguousarray(y)
    lo, hi = float(xi_bounds[0]), float(xi_bounds[1])
    # a pure function of the sample: a run's goodness-of-fit bootstraps refit the same hundreds of
    # samples every time (same seed), so the fits are kept in the on-disk cache
    key = (hashlib.sha256(y.tobytes()).hexdigest(), y.size, lo, hi)
    hit = _GPD_FITS.get(key)
    if isinstance(hit, tuple):
        return hit
    fit = _fit_gpd(y, lo, hi)
    _GPD_FITS.put(key, fit)
    return fit


def _fit_gpd(y: FloatArray, lo: float, hi: float) -> tuple[float, float]:
    xi, _, sigma = stats.genpareto.fit(y, floc=0.0)
    if lo <= xi <= hi:
        return float(xi), float(sigma)

    return _profile_fit(y, lo, hi)


def _gpd_nll(y: FloatArray, xi: float, sigma: float) -> float:
    z = 1.0 + xi * y / sigma
    if sigma <= 0 or np.any(z <= 0):
        return 1e300
    if abs(xi) < 1e-9:
        return float(y.size * math.log(sigma) + y.sum() / sigma)
    return float(y.size * math.log(sigma) + (1.0 + 1.0 / xi) * np.log(z).sum())


def _profile_fit(y: FloatArray, lo: float, hi: float) -> tuple[float, float]:
    """Bounded MLE over the shape (a grid of step 0.05, then 0.005 around the best), the scale
    profiled out for each shape."""
    ymax = float(y.max())

    def profile(xi: float) -> tuple[float, float]:
        s_min = max(-xi * ymax * (1.0 + 1e-9), ymax * 1e-6)  # support: y < sigma / -xi when xi < 0
        res = optimize.minimize_scalar(lambda ls: _gpd_nll(y, xi, math.exp(ls)),
                                       bounds=(math.log(s_min), math.log(ymax) + 5.0), method="bounded")
        return float(res.fun), float(math.exp(res.x))

    coarse = np.linspace(lo, hi, int(round((hi - lo) / 0.05)) + 1)
    xi0 = min(coarse, key=lambda x: profile(float(x))[0])
    fine = np.linspace(max(lo, xi0 - 0.05), min(hi, xi0 + 0.05), 21)
    fits = [(*profile(float(x)), float(x)) for x in fine]
    nll, sigma, xi = min(fits)
    return xi, sigma


def _ks(y: FloatArray, xi: float, sigma: float) -> float:
    return float(stats.kstest(y, stats.genpareto(xi, loc=0.0, scale=sigma).cdf).statistic)


def _tail(side: Literal["below", "above"], y: FloatArray, *, rng: np.random.Generator | None,
          n_gof: int) -> TailFit:
    y = np.sort(np.asarray(y, dtype=float))
    if y.size < MIN_EXCEEDANCES:
        return TailFit(side=side, method="empirical", exceedances=tuple(map(float, y)))
    xi, sigma = fit_gpd(y)
    n = y.size
    lo, hi = XI_BOUNDS
    ok = lo + 1e-9 < xi < hi - 1e-9  # no asymptotic s.e. where a bound binds
    xi_se = (1.0 + xi) / math.sqrt(n) if ok else float("nan")
    sigma_se = sigma * math.sqrt(2.0 * (1.0 + xi) / n) if ok else float("nan")
    ks = _ks(y, xi, sigma)
    pvalue = float("nan")
    if rng is not None and n_gof > 0:
        dist = stats.genpareto(xi, loc=0.0, scale=sigma)
        hits = 0
        for _ in range(n_gof):
            sample = dist.rvs(size=n, random_state=rng)
            sample = np.maximum(sample, 1e-12)
            hits += _ks(sample, *fit_gpd(sample)) >= ks
        pvalue = (hits + 1) / (n_gof + 1)
    return TailFit(side=side, method="gpd", exceedances=tuple(map(float, y)), xi=xi, sigma=sigma,
                   xi_se=xi_se, sigma_se=sigma_se, ks=ks, ks_pvalue=pvalue)


@dataclass(frozen=True, eq=False)
class PegSeverity:
    """The severity distribution of a class's depegs over the horizon (see the module notes).

    Attributes
    ----------
    method : {"gpd", "empirical"}
    threshold : float
        The break threshold (a distance from par: 0.02).
    moves : ndarray of shape (n_events,)
        The pooled horizon moves (price relatives), sorted.
    below, above : TailFit or None
        The tails (``"gpd"`` only; None for ``"empirical"``).
    """

    method: SeverityMethod
    threshold: float
    moves: FloatArray
    below: TailFit | None = None
    above: TailFit | None = None

    def __post_init__(self) -> None:
        mv = np.sort(np.asarray(self.moves, dtype=float))
        if mv.ndim != 1 or mv.size == 0 or not np.all(np.isfinite(mv) & (mv > 0)):
            raise ValueError("`moves` must be a non-empty 1-d array of positive relatives")
        object.__setattr__(self, "moves", mv)

    @property
    def n_events(self) -> int:
        return int(self.moves.size)

    @property
    def t_below(self) -> float:
        return -math.log1p(-self.threshold)

    @property
    def t_above(self) -> float:
        return math.log1p(self.threshold)

    @property
    def body(self) -> FloatArray:
        """The atoms: every move (``"empirical"``) or the moves within the threshold (``"gpd"``)."""
        if self.method == "empirical":
            return self.moves
        lg = np.log(self.moves)
        return self.moves[(lg >= -self.t_below) & (lg <= self.t_above)]

    @property
    def shares(self) -> tuple[float, float, float]:
        """(below tail, body, above tail) probabilities of the mixture."""
        n = self.n_events
        nb = self.below.n if self.below is not None else 0
        na = self.above.n if self.above is not None else 0
        return nb / n, (n - nb - na) / n, na / n

    def ppf(self, u: FloatArray) -> FloatArray:
        """The severity's quantile function: price relatives at ``u`` in [0, 1), increasing in ``u``."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0 - 1e-12)
        body = self.body
        if self.method == "empirical":
            return body[np.minimum((u * body.size).astype(np.int64), body.size - 1)]
        pb, pm, pa = self.shares
        out = np.empty_like(u)
        lo = u < pb
        hi = u >= pb + pm
        mid = ~lo & ~hi
        if lo.any():  # deepest first: u -> 0 is the largest exceedance
            out[lo] = np.exp(-(self.t_below + self.below.ppf(1.0 - u[lo] / pb)))  # type: ignore[union-attr]
        if mid.any():
            k = ((u[mid] - pb) / pm * body.size).astype(np.int64)
            out[mid] = body[np.minimum(k, body.size - 1)]
        if hi.any():
            out[hi] = np.exp(self.t_above + self.above.ppf((u[hi] - pb - pm) / pa))  # type: ignore[union-attr]
        return out

    def cdf(self, x: float) -> float:
        """P(relative <= x)."""
        if self.method == "empirical":
            return float(np.mean(self.moves <= x))
        pb, pm, pa = self.shares
        lg = math.log(x)
        if lg < -self.t_below:
            return pb * self.below.sf(-lg - self.t_below) if self.below is not None else 0.0
        body = self.body
        p = pb + (pm * float(np.mean(body <= x)) if body.size else 0.0)
        if lg > self.t_above and self.above is not None:
            p += pa * (1.0 - self.above.sf(lg - self.t_above))
        return float(min(p, 1.0))

    def resample(self, rng: np.random.Generator) -> tuple[PegSeverity, int]:
        """A parametric-bootstrap replicate and its event count: a Poisson number of events (mean
        ``n_events``: the frequency's error too), each a body atom or a tail draw in the fitted
        proportions, refitted the same way (no GOF)."""
        n = max(int(rng.poisson(self.n_events)), 1)
        draws = self.ppf(rng.random(n))
        return fit_peg_severity(draws, threshold=self.threshold, method=self.method), n


def fit_peg_severity(
    moves: FloatArray,
    *,
    threshold: float,
    method: SeverityMethod = "gpd",
    rng: np.random.Generator | None = None,
    n_gof: int = 0,
) -> PegSeverity:
    """Fit the severity of pooled horizon moves (see the module notes).

    Parameters
    ----------
    moves : ndarray of shape (n_events,)
        Horizon moves (price relatives to the pre-event price).
    threshold : float
        The break threshold, in (0, 1).
    method : {"gpd", "empirical"}, default "gpd"
    rng : numpy.random.Generator, optional
        For the goodness-of-fit bootstrap.
    n_gof : int, default 0
        Bootstrap samples of the KS p-value (0: not computed).

    Returns
    -------
    PegSeverity
    """
    if method not in ("gpd", "empirical"):
        raise ValueError(f"`method` must be 'gpd' or 'empirical', got {method!r}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must be in (0, 1), got {threshold!r}")
    mv = np.asarray(moves, dtype=float)
    sev = PegSeverity(method=method, threshold=threshold, moves=mv)
    if method == "empirical":
        return sev
    lg = np.log(sev.moves)
    below = _tail("below", -lg[lg < -sev.t_below] - sev.t_below, rng=rng, n_gof=n_gof)
    above = _tail("above", lg[lg > sev.t_above] - sev.t_above, rng=rng, n_gof=n_gof)
    return replace(sev, below=below if below.n else None, above=above if above.n else None)


@dataclass(frozen=True, eq=False)
class SeverityEvidence:
    """Both severity models of one class, side by side: the evidence behind the default.

    Attributes
    ----------
    fits : dict of str to PegSeverity
        ``"gpd"`` and ``"empirical"``, fitted on the same pooled horizon moves.
    chosen : str
        The run's ``[scenarios] depeg_severity``.
    q : float
        Tail probability of the compared move (0.001).
    conditional : dict of str to float
        Per model, the jump-only ``q`` move: the severity's quantile at ``q / p`` minus 1, ``p`` the
        horizon probability of a depeg (NaN when ``q >= p``).
    loo : dict of str to tuple of float
        Per model, (lowest, highest) of that move when one pooled event at a time is left out
        (the frequency with it): how much one event moves the tail.
    """

    fits: dict[str, PegSeverity]
    chosen: str
    q: float
    conditional: dict[str, float]
    loo: dict[str, tuple[float, float]]


def severity_evidence(
    fits: dict[str, PegSeverity], moves: FloatArray, asset_years: float, horizon_days: int, *, q: float,
    chosen: str,
) -> SeverityEvidence:
    """:class:`SeverityEvidence` of the fitted models over the pooled ``moves``."""
    moves = np.asarray(moves, dtype=float)

    def move_at(sev: PegSeverity | None, n: int) -> float:
        p = -math.expm1(-(n / asset_years) * horizon_days / 365.25) if asset_years > 0 else 0.0
        if sev is None or p <= q:
            return float("nan")
        return float(sev.ppf(np.array([q / p]))[0]) - 1.0

    cond = {m: move_at(f, moves.size) for m, f in fits.items()}
    loo: dict[str, tuple[float, float]] = {}
    for m, f in fits.items():
        vals = []
        for i in range(moves.size):
            rest = np.delete(moves, i)
            if rest.size:
                vals.append(move_at(fit_peg_severity(rest, threshold=f.threshold, method=f.method), rest.size))
        v = np.array([x for x in vals if np.isfinite(x)])
        loo[m] = (float(v.min()), float(v.max())) if v.size else (float("nan"), float("nan"))
    return SeverityEvidence(fits=dict(fits), chosen=chosen, q=q, conditional=cond, loo=loo)
