"""Insurance-fund sizing from simulated bad debt.

Pure functions over a loss vector (one bad-debt figure per scenario, USD). Conventions follow
:mod:`optimizer.optimize.measures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from optimizer.optimize.measures import prob_exceeds, tail_probabilities, var, var_cvar

if TYPE_CHECKING:
    from optimizer.protocol.book import Book
    from optimizer.protocol.params import RiskParams

__all__ = ["FUND_TERMS", "Cover2", "FundSizing", "FundStandard", "FundTerm", "cover2", "fund_by_standard",
           "size_fund", "stressed_cover2"]


@dataclass(frozen=True, eq=False)
class FundSizing:
    """Size of an insurance fund covering simulated bad debt.

    Attributes
    ----------
    fund_usd : float
        Smallest ``F >= 0`` with ``P(L > F) <= epsilon``: the lower ``1 - epsilon`` quantile of
        the losses (:func:`~optimizer.optimize.measures.var`). Any smaller fund is exceeded with
        probability above ``epsilon``.
    epsilon : float
        Tolerated probability that the bad debt exceeds the fund.
    es_usd : float
        Expected shortfall (CVaR) of the losses at ``confidence``.
    confidence : float
        Level of ``es_usd``.
    mc_stderr_usd : float
        Monte Carlo standard error of ``fund_usd``, by the order-statistic (binomial) method: the
        count of scenarios below the quantile is Binomial(n, 1 - epsilon), so the quantiles at
        ``1 - epsilon -/+ sqrt(epsilon (1 - epsilon) / n)`` bracket one standard error; half
        their distance is reported (``n`` is the effective sample size ``1 / sum p_s**2``).
    es_stderr_usd : float
        Standard error of ``es_usd``: ``sd((L - VaR)+) / ((1 - confidence) sqrt(n))``.
    prob_any : float
        ``P(L > 0)``.
    curve : tuple of (float, float)
        ``(fund, P(L > fund))`` on 101 evenly spaced funds from 0 to the largest loss, plus
        ``fund_usd`` itself; funds increasing, probabilities non-increasing.
    n_scenarios : int
        Number of scenarios.
    cover2_usd : float or None
        Not computed here: fill with :func:`cover2` (``dataclasses.replace``) when the
        per-account stress losses are known.
    """

    fund_usd: float
    epsilon: float
    es_usd: float
    confidence: float
    mc_stderr_usd: float
    es_stderr_usd: float
    prob_any: float
    curve: tuple[tuple[float, float], ...]
    n_scenarios: int
    cover2_usd: float | None = None

    @property
    def tail_fund_usd(self) -> float:
        """The fund the simulated tail asks for: the expected shortfall at ``confidence``, never
        below the smallest fund with P(bad debt > fund) <= ``epsilon``, so both targets hold."""
        return float(max(self.es_usd, self.fund_usd))

    @property
    def tail_stderr_usd(self) -> float:
        """Monte Carlo standard error of :attr:`tail_fund_usd` (of whichever figure it is)."""
        return float(self.es_stderr_usd if self.es_usd >= self.fund_usd else self.mc_stderr_usd)

    def summary(self) -> str:
        """Plain-text summary."""
        lines = [
            f"Insurance fund: {self.fund_usd:,.2f} USD (+/- {self.mc_stderr_usd:,.2f}) so that "
            f"P(bad debt > fund) <= {self.epsilon:g}",
            f"  ES_{self.confidence:g} = {self.es_usd:,.2f} USD (+/- {self.es_stderr_usd:,.2f}); "
            f"P(any bad debt) = {self.prob_any:.4%}; {self.n_scenarios} scenarios",
        ]
        if self.cover2_usd is not None:
            lines.append(
                f"  cover-2 (two largest accounts in the stress) = {self.cover2_usd:,.2f} USD"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def size_fund(
    losses: npt.ArrayLike,
    *,
    epsilon: float = 0.01,
    confidence: float = 0.99,
    weights: npt.ArrayLike | None = None,
) -> FundSizing:
    """Size an insurance fund from scenario bad debt.

    Parameters
    ----------
    losses : array-like of shape (n_scenarios,)
        Bad debt per scenario, USD (>= 0).
    epsilon : float
        Tolerated exceedance probability, in (0, 1).
    confidence : float
        Level of the reported expected shortfall, in [0, 1).
    weights : array-like of shape (n_scenarios,), optional
        Scenario weights; None means equal weights.

    Returns
    -------
    FundSizing

    Examples
    --------
    >>> size_fund([0.0] * 98 + [5.0, 10.0], epsilon=0.01).fund_usd
    5.0
    """
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"`epsilon` must be in (0, 1), got epsilon={epsilon!r}")
    arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`losses` must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("`losses` must be finite and >= 0 (bad debt in USD)")
    p = tail_probabilities(weights, arr.size)
    n_eff = 1.0 / float(p @ p)
    level = 1.0 - epsilon
    fund = var(arr, level, p)
    half = np.sqrt(level * epsilon / n_eff)
    lo_q = var(arr, max(level - half, 0.0), p)
    hi_q = var(arr, min(level + half, np.nextafter(1.0, 0.0)), p)
    var_c, es = var_cvar(arr, confidence, p)
    excess = np.maximum(arr - var_c, 0.0)
    mean_ex = float(p @ excess)
    sd_ex = np.sqrt(max(float(p @ (excess - mean_ex) ** 2), 0.0))
    es_se = sd_ex / ((1.0 - confidence) * np.sqrt(n_eff))
    top = float(arr.max())
    grid = np.unique(np.concatenate([np.linspace(0.0, top, 101), [fund]]))
    probs = np.asarray(prob_exceeds(arr, grid, weights))
    probs = np.minimum.accumulate(probs)  # guard rounding: exceedance is non-increasing
    return FundSizing(
        fund_usd=float(fund),
        epsilon=float(epsilon),
        es_usd=float(es),
        confidence=float(confidence),
        mc_stderr_usd=float(0.5 * (hi_q - lo_q)),
        es_stderr_usd=float(es_se),
        prob_any=float(prob_exceeds(arr, 0.0, weights)),
        curve=tuple((float(f), float(q)) for f, q in zip(grid, probs, strict=True)),
        n_scenarios=int(arr.size),
    )


def cover2(account_bad_debt_worst: npt.ArrayLike) -> float:
    """Cover-2: the shortfall of the two largest accounts in the chosen stress scenario.

    Parameters
    ----------
    account_bad_debt_worst : array-like of shape (n_accounts,)
        Bad debt of each account in the stress scenario, USD (>= 0).

    Returns
    -------
    float
        Sum of the two largest values (of all of them when there are fewer than two).

    Examples
    --------
    >>> cover2([1.0, 7.0, 0.0, 3.0])
    10.0
    """
    arr = np.asarray(account_bad_debt_worst, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"`account_bad_debt_worst` must be 1-D (n_accounts,), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("`account_bad_debt_worst` must be finite and >= 0 (USD of bad debt)")
    if arr.size <= 2:
        return float(arr.sum())
    return float(np.partition(arr, arr.size - 2)[-2:].sum())


def _scenario_label(names: tuple[str, ...] | None, j: int) -> str:
    return names[j] if names is not None else f"scenario {j}"


@dataclass(frozen=True, eq=False)
class Cover2:
    """Cover-2 of the stress library: the two largest borrowers, each in its worst scenario.

    Attributes
    ----------
    usd : float
        Sum of the two accounts' shortfalls, USD.
    accounts : tuple of str
        The two accounts with the largest debt (``book.account_ids``), largest first.
    account_usd : tuple of float
        Each one's shortfall in its worst scenario, USD.
    scenarios : tuple of str
        Each one's worst scenario (by name when names were given).
    """

    usd: float
    accounts: tuple[str, ...]
    account_usd: tuple[float, ...]
    scenarios: tuple[str, ...]


def stressed_cover2(book: Book, params: RiskParams, slippage: npt.ArrayLike, stress: npt.ArrayLike,
                    names: tuple[str, ...] | None = None) -> Cover2:
    """"Cover 2": shortfall of the two largest borrowers in their worst stress-library scenario.

    The two accounts with the largest debt are assumed to sit at their liquidation threshold
    (HF = 1, the most they may borrow under ``params``) and each is taken in the scenario of
    ``stress`` that is worst for it. ``stress`` is the stress library (extreme but plausible: named
    historical windows, intraday lows, config shocks), not a Monte Carlo set: the worst of 100,000
    draws is an artefact of the sample size and the fitted tail, not a plausible scenario. The
    figure is the sum, as in a clearing house's cover-2 standard (:func:`cover2`); given
    ``params`` it is deterministic.

    Parameters
    ----------
    book : Book
    params : RiskParams
    slippage : array_like of shape (n_assets,)
    stress : array_like of shape (n_stress, n_assets)
        Terminal price relatives of the library's scenarios (may be empty: cover-2 is then 0).
    names : tuple of str, optional
        Scenario names, for :attr:`Cover2.scenarios`.

    Returns
    -------
    Cover2
    """
    from optimizer.protocol.mechanics import bad_debt_static_numpy, debt_at_threshold_factor

    rel = np.asarray(stress, dtype=np.float64).reshape(-1, len(book.assets))
    borrowers = np.flatnonzero(book.account_debt > 0)
    largest = borrowers[np.argsort(-book.account_debt[borrowers], kind="stable")[:2]]
    if rel.shape[0] == 0 or largest.size == 0:
        return Cover2(usd=0.0, accounts=tuple(book.account_ids[a] for a in largest), account_usd=(0.0,) * largest.size,
                      scenarios=("-",) * largest.size)
    scale = debt_at_threshold_factor(book, params)
    worst, where = [], []
    for a in largest:
        # a one-account book: the mechanics' per-scenario total is that account's bad debt
        one = book.take(np.array([a]))
        per_scen = bad_debt_static_numpy(one, rel, params, slippage=slippage, debt_scale=scale[[a]])
        j = int(np.argmax(per_scen))
        worst.append(float(per_scen[j]))
        where.append(_scenario_label(names, j) if per_scen[j] > 0 else "-")
    return Cover2(usd=float(cover2(np.array(worst))), accounts=tuple(book.account_ids[a] for a in largest),
                  account_usd=tuple(worst), scenarios=tuple(where))


#: The fund standard's three terms, in the order they are reported.
FUND_TERMS: tuple[str, ...] = ("expected_shortfall", "stress_loss", "cover2")


@dataclass(frozen=True, eq=False)
class FundTerm:
    """One term of the fund standard.

    ``stderr_usd`` is the measured Monte Carlo standard error, None for a term that is
    deterministic given the parameters (the stress-library terms); ``source`` says where it comes
    from (the scenario, the accounts).
    """

    name: str
    usd: float
    stderr_usd: float | None
    source: str


@dataclass(frozen=True, eq=False)
class FundStandard:
    """The recommended insurance fund: the largest of the three terms of the standard.

    Attributes
    ----------
    terms : tuple of FundTerm
        In :data:`FUND_TERMS` order: the expected shortfall of simulated bad debt at the fund's
        confidence (never below the epsilon-quantile fund), the worst stress-library loss of the
        book, cover-2 in the stress library.
    binding : str
        Name of the largest term (the first in order on a tie).
    reference_usd : float or None
        A reference the user gives (``[fund] reference_usd``, e.g. the protocol's coverage).
    """

    terms: tuple[FundTerm, ...]
    binding: str
    reference_usd: float | None = None

    @property
    def fund_usd(self) -> float:
        """The recommended fund, USD: the binding term's value."""
        return self.term(self.binding).usd

    @property
    def reference_ratio(self) -> float | None:
        """``fund_usd / reference_usd`` (None without a reference)."""
        if self.reference_usd is None:
            return None
        return self.fund_usd / self.reference_usd

    def term(self, name: str) -> FundTerm:
        """The term called ``name`` (one of :data:`FUND_TERMS`)."""
        for t in self.terms:
            if t.name == name:
                return t
        raise KeyError(name)


def fund_by_standard(sizing: FundSizing, stress_losses: npt.ArrayLike, cover: Cover2, *,
                     stress_names: tuple[str, ...] | None = None,
                     reference_usd: float | None = None) -> FundStandard:
    """The fund standard: the largest of the simulated tail, the worst stress loss and cover-2.

    Parameters
    ----------
    sizing : FundSizing
        The simulated (or static) bad-debt distribution's sizing: the term is the larger of its
        expected shortfall and its epsilon-quantile fund, with that figure's standard error.
    stress_losses : array_like of shape (n_stress,)
        Bad debt of the book in each stress-library scenario under the recommended parameters, USD.
    cover : Cover2
        :func:`stressed_cover2` of the same library.
    stress_names : tuple of str, optional
        Scenario names, to say which scenario sets the stress term.
    reference_usd : float, optional
        A user's reference fund (> 0).

    Returns
    -------
    FundStandard

    Examples
    --------
    >>> s = size_fund([0.0] * 98 + [5.0, 10.0], epsilon=0.01, confidence=0.99)
    >>> c = Cover2(usd=4.0, accounts=("a0", "a1"), account_usd=(3.0, 1.0), scenarios=("a", "b"))
    >>> f = fund_by_standard(s, [2.0, 12.0], c)
    >>> f.binding, f.fund_usd
    ('stress_loss', 12.0)
    """
    if reference_usd is not None and not (np.isfinite(reference_usd) and reference_usd > 0):
        raise ValueError(f"`reference_usd` must be a finite number > 0, got {reference_usd!r}")
    losses = np.asarray(stress_losses, dtype=np.float64).ravel()
    if not np.all(np.isfinite(losses)) or np.any(losses < 0):
        raise ValueError("`stress_losses` must be finite and >= 0 (bad debt in USD)")
    if sizing.es_usd >= sizing.fund_usd:
        src = f"expected shortfall at {sizing.confidence:g} of {sizing.n_scenarios:,} scenarios"
    else:
        src = (f"quantile fund at epsilon {sizing.epsilon:g} of {sizing.n_scenarios:,} scenarios "
               f"(above the expected shortfall at {sizing.confidence:g})")
    es = FundTerm("expected_shortfall", sizing.tail_fund_usd, sizing.tail_stderr_usd, src)
    if losses.size:
        j = int(np.argmax(losses))
        stress = FundTerm("stress_loss", float(losses[j]), None, _scenario_label(stress_names, j))
    else:
        stress = FundTerm("stress_loss", 0.0, None, "empty library")
    c2 = FundTerm("cover2", float(cover.usd), None, "; ".join(
        f"account {a}: {u:,.0f} USD in {s}" if u > 0 else f"account {a}: no shortfall in any scenario"
        for a, u, s in zip(cover.accounts, cover.account_usd, cover.scenarios)) or "no borrower")
    terms = (es, stress, c2)
    binding = max(terms, key=lambda t: t.usd).name  # max keeps the first on a tie
    return FundStandard(terms=terms, binding=binding,
                        reference_usd=None if reference_usd is None else float(reference_usd))
