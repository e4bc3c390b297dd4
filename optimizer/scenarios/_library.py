"""The stress library: named joint scenarios at full historical size, never rescaled by volatility.

Three kinds of scenario, each one joint move of every asset over the liquidation horizon:

* **historical windows**, found by scanning each asset's whole price history (every source the
  data merges) with :class:`StressRule`: a window is a stress when the market factor's or any
  asset's ``horizon``-day move is beyond a high quantile of its own history; stress days fewer
  than ``decluster_days`` apart are one episode, and each episode keeps its most severe window;
* **intraday extremes**: a documented intraday low (``optimizer.data.intraday_extremes``) deepens
  the window that holds its day, or becomes a scenario of its own (the window ending that day);
* **config shocks**: hypothetical moves a user names (``[stress.<name>]``).

An asset without a price in a window is never given a silent zero: it takes a stated
:class:`MoveRule` (its class's worst priced move, else its beta to a priced reference asset, else it
is held, and says so), recorded per (scenario, asset) in :class:`AssetMove`. The relatives are the
data's own closes: no volatility model is involved anywhere, so refitting or rescaling volatility
cannot change the library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from optimizer.data import one_day_log_returns
from optimizer.scenarios._historical import historical_windows
from optimizer.scenarios._set import ScenarioSet
from optimizer.typing import FloatArray

__all__ = [
    "STRESS_LABELS",
    "AssetMove",
    "Beta",
    "MoveRule",
    "StressKind",
    "StressLibrary",
    "StressRule",
    "StressScenario",
    "Threshold",
    "Trigger",
    "build_stress_library",
]

_DAY = pd.Timedelta(days=1)

#: Common names of well-known stress episodes, keyed by date range (inclusive). Labels only: a
#: window is found by the scan and then named by the first range it overlaps.
STRESS_LABELS: tuple[tuple[str, str, str], ...] = (
    ("2016-06-17", "2016-06-18", "The DAO hack"),
    ("2020-03-12", "2020-03-13", "Black Thursday"),
    ("2021-05-19", "2021-05-19", "May 2021 crash"),
    ("2022-05-09", "2022-05-13", "LUNA/UST collapse"),
    ("2022-06-13", "2022-06-18", "Celsius/3AC, stETH discount"),
    ("2022-11-08", "2022-11-11", "FTX collapse"),
    ("2022-11-22", "2022-11-23", "CRV squeeze"),
    ("2023-03-10", "2023-03-13", "USDC depeg (SVB)"),
    ("2024-08-05", "2024-08-05", "Yen carry-trade unwind"),
    ("2025-02-02", "2025-02-03", "February 2025 tariff crash"),
)


class StressKind(StrEnum):
    """Where a stress scenario comes from."""

    HISTORICAL = "historical window"
    INTRADAY = "intraday extreme"
    SHOCK = "config shock"


class MoveRule(StrEnum):
    """How one asset's move in one scenario was obtained."""

    #: The data's closes over the window.
    PRICED = "priced"
    #: Deepened to a documented intraday low (relative to the previous close), held to the end.
    INTRADAY = "intraday low"
    #: Given by the config's shock.
    SHOCK = "config"
    #: No price: the worst (lowest) move of a priced asset of its class (USD stablecoins; an LST's
    #: peg reference).
    CLASS = "class move"
    #: No price: ``beta`` times the log move of a priced reference asset.
    BETA = "beta"
    #: No price and no priced class peer or reference: unchanged (stated, not silent).
    HELD = "held"


@dataclass(frozen=True)
class StressRule:
    """The documented rule that picks historical stress windows (every number a keyword).

    Parameters
    ----------
    asset_quantile : float, default 0.005
        An asset's ``horizon``-day log move at or below this quantile of its own history is a
        stress (1 in 200 windows); for an asset the market lends (``upside``), a move at or above
        the ``1 - asset_quantile`` quantile is one too (a borrowed asset's rise inflates debt).
    factor_quantile : float, default 0.02
        The market factor's move at or below this quantile is a stress (1 in 50 windows: the
        factor is diversified, so its tail is thinner than one asset's).
    decluster_days : int, default 7
        Stress windows ending fewer than this many days apart are one episode; the episode keeps
        its most severe window (largest ratio of the move to its threshold).
    burn_in_days : int, default 30
        An asset's first days after its first price (price discovery of a listing) trigger nothing;
        its moves there still enter any window another trigger selects.
    min_coverage : float, default 0.5
        A window is scanned only when the assets priced over it hold at least this share of the
        collateral weights: a window in which most of the book is unpriced would be mostly filled.
    min_beta_days : int, default 60
        Fewest common days of returns for a beta estimate.
    """

    asset_quantile: float = 0.005
    factor_quantile: float = 0.02
    decluster_days: int = 7
    burn_in_days: int = 30
    min_coverage: float = 0.5
    min_beta_days: int = 60

    def __post_init__(self) -> None:
        for name in ("asset_quantile", "factor_quantile"):
            q = getattr(self, name)
            if not 0.0 < q < 0.5:
                raise ValueError(f"`{name}` must be in (0, 0.5), got {name}={q!r}")
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ValueError(f"`min_coverage` must be in [0, 1], got min_coverage={self.min_coverage!r}")
        for name in ("decluster_days", "burn_in_days", "min_beta_days"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (1 if name != "burn_in_days" else 0):
                raise ValueError(f"`{name}` must be a positive int, got {name}={v!r}")


@dataclass(frozen=True)
class Threshold:
    """A trigger level of the scan: ``series`` (an asset or ``"market"``), side, quantile, move."""

    series: str
    side: str  # "down" | "up"
    quantile: float
    move: float  # fractional move over the horizon at the quantile
    n_windows: int


@dataclass(frozen=True)
class Trigger:
    """Why a window was selected: ``series`` moved ``move`` past its ``threshold`` (fractions)."""

    series: str
    side: str
    move: float
    threshold: float
    severity: float  # log move / log threshold, >= 1


@dataclass(frozen=True)
class Beta:
    """OLS slope of ``asset``'s daily log returns on ``reference``'s over their common days."""

    asset: str
    reference: str
    beta: float
    n_days: int
    start: str
    end: str


@dataclass(frozen=True)
class AssetMove:
    """How one asset's move in one scenario was obtained (``rule``) and from what.

    ``reference`` is the class peer or beta reference (or the intraday low's quote), ``beta`` the
    slope used, ``low``/``date``/``source`` the documented intraday low.
    """

    rule: MoveRule
    reference: str | None = None
    beta: float | None = None
    low: float | None = None
    date: str | None = None
    source: str | None = None

    @property
    def filled(self) -> bool:
        """Whether the asset had no price of its own in the window."""
        return self.rule in (MoveRule.CLASS, MoveRule.BETA, MoveRule.HELD)


@dataclass(frozen=True, eq=False)
class StressScenario:
    """One named joint scenario of the library.

    Attributes
    ----------
    name : str
        Unique: the window's last day (historical), ``"<day> intraday"``, or the config's name.
    label : str
        Common name from :data:`STRESS_LABELS` ("" when none).
    kind : StressKind
    t0, start, end : str or None
        The close the relatives are measured from, the first and the last day of the move (ISO
        dates; None for a config shock).
    relatives : ndarray of shape (horizon, n_assets)
        Cumulative price relatives ``P[t0 + h] / P[t0]``, at full historical size.
    moves : tuple of AssetMove, length n_assets
        The rule used for each asset.
    triggers : tuple of Trigger
        What made the scan select the window (empty for intraday and config scenarios).
    episode : tuple of (str, str) or None
        First and last day of the declustered episode the window stands for.
    source : str
        Where the moves come from: the data's closes, the documented lows' publishers, the config.
    """

    name: str
    label: str
    kind: StressKind
    t0: str | None
    start: str | None
    end: str | None
    relatives: FloatArray
    moves: tuple[AssetMove, ...]
    triggers: tuple[Trigger, ...] = ()
    episode: tuple[str, str] | None = None
    source: str = ""

    @property
    def terminal(self) -> FloatArray:
        """Relatives at the end of the horizon, shape (n_assets,)."""
        return self.relatives[-1]

    @property
    def move(self) -> FloatArray:
        """Fractional move over the horizon per asset, shape (n_assets,)."""
        return self.relatives[-1] - 1.0

    @property
    def worst(self) -> FloatArray:
        """Lowest point of the window per asset as a fractional move, shape (n_assets,)."""
        return np.minimum(self.relatives.min(axis=0), 1.0) - 1.0

    @property
    def rules(self) -> tuple[MoveRule, ...]:
        return tuple(m.rule for m in self.moves)


@dataclass(frozen=True, eq=False)
class StressLibrary:
    """Every stress scenario of a run, with the rule that found them.

    Attributes
    ----------
    assets : tuple of str
    horizon : int
    scenarios : tuple of StressScenario
        Historical and intraday scenarios in date order, then the config shocks in file order.
    rule : StressRule
    thresholds : tuple of Threshold
        The trigger level of every series, from the scan.
    betas : tuple of Beta
        Every beta a fill rule used.
    references : tuple of str
        The beta references in order of preference (the largest collateral first).
    factor_weights : dict of str to float
        Weights of the market factor (before renormalising over the assets priced in a window).
    scanned : tuple of (str, str) or None
        First and last day of the scanned windows (their last days).
    n_windows : int
        Windows scanned.
    n_stress_days : int
        Windows beyond a threshold, before declustering.
    unused_extremes : tuple of (str, str, str)
        ``(asset, date, reason)`` of intraday lows that shape no scenario.
    missed_labels : tuple of (str, str, str)
        ``(label, dates, reason)`` of labelled episodes up to as_of that the scan did not select.
    as_of : str
    """

    assets: tuple[str, ...]
    horizon: int
    scenarios: tuple[StressScenario, ...]
    rule: StressRule
    thresholds: tuple[Threshold, ...] = ()
    betas: tuple[Beta, ...] = ()
    references: tuple[str, ...] = ()
    factor_weights: dict[str, float] = field(default_factory=dict)
    scanned: tuple[str, str] | None = None
    n_windows: int = 0
    n_stress_days: int = 0
    unused_extremes: tuple[tuple[str, str, str], ...] = ()
    missed_labels: tuple[tuple[str, str, str], ...] = ()
    as_of: str = ""

    @property
    def n_scenarios(self) -> int:
        return len(self.scenarios)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenarios)

    @cached_property
    def relatives(self) -> FloatArray:
        """All scenarios stacked, shape (n_stress, horizon, n_assets)."""
        if not self.scenarios:
            return np.ones((0, self.horizon, len(self.assets)))
        return np.stack([s.relatives for s in self.scenarios])

    @property
    def terminal(self) -> FloatArray:
        """Terminal relatives, shape (n_stress, n_assets): one row per scenario."""
        return self.relatives[:, -1, :]

    def of_kind(self, kind: StressKind) -> tuple[StressScenario, ...]:
        return tuple(s for s in self.scenarios if s.kind == kind)

    def to_scenario_set(self) -> ScenarioSet:
        """The library as a :class:`ScenarioSet` (``method="stress"``, equal weights, names in info)."""
        return ScenarioSet(
            assets=self.assets, relatives=self.relatives, method="stress", as_of=self.as_of, weights=None,
            info={"method": "stress", "horizon": self.horizon, "names": self.names,
                  "kinds": tuple(str(s.kind) for s in self.scenarios)},
        )

    def summary(self) -> str:
        """One line per scenario: name, kind, window, worst asset move."""
        lines = [f"StressLibrary: {self.n_scenarios} scenario(s) over {self.horizon} day(s), "
                 f"{len(self.assets)} asset(s), as of {self.as_of}"]
        for s in self.scenarios:
            j = int(np.argmin(s.move))
            when = f"{s.t0} -> {s.end}" if s.t0 else "hypothetical"
            lines.append(f"  {s.name:<24} {str(s.kind):<18} {when:<26} worst {self.assets[j]} {s.move[j]:+.1%}"
                         + (f"  [{s.label}]" if s.label else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


class IntradayLow(Protocol):
    """What the library reads of a documented intraday low (``optimizer.data.IntradayExtreme``)."""

    @property
    def asset(self) -> str: ...
    @property
    def date(self) -> Any: ...
    @property
    def low(self) -> float: ...
    @property
    def reference(self) -> str: ...
    @property
    def source(self) -> str: ...


def _iso(ts: Any) -> str:
    return pd.Timestamp(ts).date().isoformat()


def _window_paths(prices: pd.DataFrame, horizon: int) -> FloatArray:
    """Per-asset ``horizon``-day paths starting at every row, shape (n_days, horizon, n_assets).

    Each column's windows are :func:`historical_windows` of that column alone (a window spanning a
    gap is dropped there), so an asset's history is never cut by another's; NaN where an asset has
    no window starting that day.
    """
    idx = prices.index
    out = np.full((len(idx), horizon, prices.shape[1]), np.nan)
    for j, a in enumerate(prices.columns):
        col = prices[[a]]
        if int(col[a].notna().sum()) <= horizon:
            continue
        try:
            w = historical_windows(col, horizon)
        except ValueError:  # no run of horizon + 1 priced days
            continue
        pos = idx.get_indexer(pd.DatetimeIndex(w.info["t0_dates"]))
        out[pos, :, j] = w.relatives[:, :, 0]
    return out


def _check_daily(prices: Any, horizon: int) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise TypeError("`prices` must be a DataFrame indexed by a DatetimeIndex")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"`horizon` must be an int >= 1, got horizon={horizon!r}")
    if len(prices.index) > 1 and not (np.diff(prices.index.to_numpy()) == np.timedelta64(1, "D")).all():
        raise ValueError("`prices` must have one row per calendar day (NaN where there is no price), "
                         "as PriceData.prices has")
    return prices


class _Betas:
    """Betas to the reference assets, estimated on each pair's common history, once each."""

    def __init__(self, returns: pd.DataFrame, min_days: int) -> None:
        self.returns, self.min_days = returns, min_days
        self.cache: dict[tuple[str, str], Beta | None] = {}

    def get(self, asset: str, reference: str) -> Beta | None:
        key = (asset, reference)
        if key not in self.cache:
            both = self.returns[[asset, reference]].dropna()
            x, y = both[reference].to_numpy(), both[asset].to_numpy()
            if len(both) < self.min_days or float(np.var(x)) <= 0.0:
                self.cache[key] = None
            else:
                b = float(np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1))
                self.cache[key] = Beta(asset=asset, reference=reference, beta=b, n_days=len(both),
                                       start=_iso(both.index[0]), end=_iso(both.index[-1]))
        return self.cache[key]

    @property
    def used(self) -> tuple[Beta, ...]:
        return tuple(b for b in self.cache.values() if b is not None)


def _fill(asset: str, priced: Mapping[str, FloatArray], classes: Mapping[str, str],
          peer_classes: Mapping[str, str], references: Sequence[str], betas: _Betas,
          horizon: int) -> tuple[FloatArray, AssetMove]:
    """The path and rule of an asset without a price, from the ``priced`` paths (name -> (horizon,))."""
    cls = classes.get(asset)
    if cls is not None:
        # the assets of its class, and the class's reference asset itself (an LST's "eth")
        peers = [p for p, c in {**peer_classes, **classes}.items() if c == cls and p != asset and p in priced]
        peers += [cls] if cls != asset and cls in priced and cls not in peers else []
        if peers:
            worst = min(peers, key=lambda p: (float(priced[p][-1]), p))
            return priced[worst].copy(), AssetMove(MoveRule.CLASS, reference=worst)
    for ref in references:
        if ref == asset or ref not in priced:
            continue
        b = betas.get(asset, ref)
        if b is not None:
            return np.exp(b.beta * np.log(priced[ref])), AssetMove(MoveRule.BETA, reference=ref, beta=b.beta)
    return np.ones(horizon), AssetMove(MoveRule.HELD)


def build_stress_library(
    prices: pd.DataFrame,
    horizon: int,
    *,
    collateral: Mapping[str, float],
    classes: Mapping[str, str] | None = None,
    market: Iterable[str] | None = None,
    upside: Iterable[str] = (),
    peer_prices: pd.DataFrame | None = None,
    peer_classes: Mapping[str, str] | None = None,
    tickers: Mapping[str, str] | None = None,
    intraday: Sequence[IntradayLow] = (),
    shocks: Mapping[str, Mapping[str, float]] | None = None,
    rule: StressRule | None = None,
) -> StressLibrary:
    """Scan the price history for stress windows and assemble the stress library.

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_assets)
        Each asset's whole history up to as_of, one row per calendar day, NaN where there is no
        price (``PriceData.prices`` of a long-history load).
    horizon : int
        Liquidation horizon in days.
    collateral : mapping of str to float
        Collateral weight per asset (USD supplied): the market factor's weights and the coverage
        rule's.
    classes : mapping of str to str, optional
        Assets that follow a class (``{"usdc": "usd", "steth": "eth"}``): without a price they take
        the worst priced move of their class (its other members, and the asset the class is named
        after when it is one: an LST pegged to eth takes eth's move).
    market : iterable of str, optional
        The assets of the market factor and the beta references (default: those outside
        ``classes``; the pipeline passes every asset but the USD stablecoins).
    upside : iterable of str
        Assets whose rise is a stress too (borrowed assets).
    peer_prices : DataFrame, optional
        Extra price columns on the same calendar (e.g. other stablecoins of the data directory),
        used only by the class rule; their classes in ``peer_classes``.
    tickers : mapping of str to str, optional
        Asset -> the price column it reads (``wbtc`` -> ``btc``), to match intraday lows.
    intraday : sequence of IntradayLow
        Documented intraday lows; those of assets outside the config are listed as unused.
    shocks : mapping of str to mapping of str to float, optional
        Hypothetical shocks: name -> asset -> fractional move over the horizon (> -1).
    rule : StressRule, optional
        Default ``StressRule()``.

    Returns
    -------
    StressLibrary
    """
    prices = _check_daily(prices, horizon)
    rule = rule or StressRule()
    classes = dict(classes or {})
    peer_classes = dict(peer_classes or {})
    tickers = {a: (tickers or {}).get(a, a) for a in prices.columns}
    assets = tuple(str(a) for a in prices.columns)
    n = len(assets)
    upside = set(upside)
    idx = prices.index
    weights = np.array([max(float(collateral.get(a, 0.0)), 0.0) for a in assets])
    if weights.sum() <= 0:
        weights = np.ones(n)
    in_market = set(market) if market is not None else {a for a in assets if a not in classes}
    is_market = np.array([a in in_market for a in assets])
    factor_w = np.where(is_market, weights, 0.0)
    references = tuple(a for _, a in sorted(((-factor_w[j], j), a) for j, a in enumerate(assets) if is_market[j]))

    paths = _window_paths(prices, horizon)  # (n_days, H, n)
    peers = (peer_prices.reindex(idx) if peer_prices is not None else pd.DataFrame(index=idx))
    peers = peers[[c for c in peers.columns if c not in assets]]
    peer_paths = _window_paths(peers, horizon) if peers.shape[1] else np.empty((len(idx), horizon, 0))
    all_prices = pd.concat([prices, peers], axis=1)
    betas = _Betas(one_day_log_returns(prices), rule.min_beta_days)

    log_t = np.log(paths[:, -1, :])  # (n_days, n)
    finite = np.isfinite(log_t)
    coverage = (finite * weights).sum(axis=1) / weights.sum()
    scanned = coverage >= rule.min_coverage - 1e-12
    # triggers ignore each asset's first burn_in_days (a listing's price discovery), in the factor too
    first = [prices[a].first_valid_index() for a in assets]
    seasoned = log_t.copy()
    for j in range(n):
        if first[j] is not None:
            seasoned[idx < first[j] + rule.burn_in_days * _DAY, j] = np.nan
    ok_f = np.isfinite(seasoned)
    fw = (ok_f * factor_w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(fw > 0, (np.where(ok_f, seasoned, 0.0) * factor_w).sum(axis=1) / fw, np.nan)
    series = {"market": factor, **{a: seasoned[:, j] for j, a in enumerate(assets)}}

    thresholds: list[Threshold] = []
    trig: dict[int, list[Trigger]] = {}
    for name, x in series.items():
        ok = scanned & np.isfinite(x)
        if ok.sum() < 2:
            continue
        sides = [("down", rule.factor_quantile if name == "market" else rule.asset_quantile)]
        if name in upside:
            sides.append(("up", 1.0 - rule.asset_quantile))
        for side, q in sides:
            level = float(np.quantile(x[ok], q))
            if (side == "down" and level >= 0) or (side == "up" and level <= 0):
                continue
            thresholds.append(Threshold(series=name, side=side, quantile=q, move=float(np.expm1(level)),
                                        n_windows=int(ok.sum())))
            hit = ok & ((x <= level) if side == "down" else (x >= level))
            for i in np.flatnonzero(hit):
                trig.setdefault(int(i), []).append(Trigger(
                    series=name, side=side, move=float(np.expm1(x[i])), threshold=float(np.expm1(level)),
                    severity=float(x[i] / level)))

    # decluster: stress windows fewer than decluster_days apart are one episode
    days = sorted(trig)
    episodes: list[list[int]] = []
    for i in days:
        if episodes and i - episodes[-1][-1] < rule.decluster_days:
            episodes[-1].append(i)
        else:
            episodes.append([i])

    def joint(i: int) -> tuple[FloatArray, list[AssetMove]]:
        rel = paths[i].copy()
        priced = {a: rel[:, j] for j, a in enumerate(assets) if np.isfinite(rel[:, j]).all()}
        priced.update({c: peer_paths[i, :, k] for k, c in enumerate(peers.columns)
                       if np.isfinite(peer_paths[i, :, k]).all()})
        moves = []
        for j, a in enumerate(assets):
            if a in priced:
                moves.append(AssetMove(MoveRule.PRICED))
                continue
            rel[:, j], mv = _fill(a, priced, classes, peer_classes, references, betas, horizon)
            moves.append(mv)
        return rel, moves

    built: dict[int, dict[str, Any]] = {}
    for ep in episodes:
        best = max(ep, key=lambda i: (max(t.severity for t in trig[i]), -i))
        rel, moves = joint(best)
        built[best] = dict(kind=StressKind.HISTORICAL, rel=rel, moves=moves,
                           triggers=tuple(sorted(trig[best], key=lambda t: -t.severity)),
                           episode=(_iso(idx[ep[0]] + horizon * _DAY), _iso(idx[ep[-1]] + horizon * _DAY)))

    # intraday lows: deepen the window holding the day, else a window ending that day
    unused: list[tuple[str, str, str]] = []
    by_ticker = {t: a for a, t in tickers.items()}
    by_day: dict[pd.Timestamp, list[IntradayLow]] = {}
    as_of = idx[-1] if len(idx) else None
    for e in intraday:
        day = pd.Timestamp(e.date)
        asset = e.asset if e.asset in assets else by_ticker.get(e.asset)
        if asset is None:
            unused.append((e.asset, _iso(day), "not an asset of this config"))
        elif as_of is None or day > as_of:
            unused.append((e.asset, _iso(day), "after as_of"))
        elif day - _DAY < idx[0]:
            unused.append((e.asset, _iso(day), "before the price history"))
        else:
            by_day.setdefault(day, []).append(e)
    for day, lows in sorted(by_day.items()):
        holders = [i for i in built if idx[i] < day <= idx[i] + horizon * _DAY]
        if not holders:
            i = idx.get_loc(day - horizon * _DAY) if day - horizon * _DAY >= idx[0] else None
            if i is None:
                unused.extend((e.asset, _iso(day), "no window of the horizon ends that day") for e in lows)
                continue
            rel, moves = joint(i)
            built[i] = dict(kind=StressKind.INTRADAY, rel=rel, moves=moves, triggers=(), episode=None)
            holders = [i]
        for i in holders:
            reasons = [(e, _deepen(built[i], i, day, e, assets, by_ticker, all_prices, idx)) for e in lows]
            unused.extend((e.asset, _iso(day), why) for e, why in reasons if why)
            if built[i]["kind"] == StressKind.INTRADAY and all(why for _, why in reasons):
                del built[i]  # no low of the day is below the closes: nothing to add

    scenarios: list[StressScenario] = []
    for i in sorted(built):
        b = built[i]
        t0 = idx[i]
        start, end = t0 + _DAY, t0 + horizon * _DAY
        name = _iso(end) if b["kind"] == StressKind.HISTORICAL else f"{_iso(end)} intraday"
        lows = list(dict.fromkeys(m.source for m in b["moves"] if m.rule == MoveRule.INTRADAY and m.source))
        scenarios.append(StressScenario(
            name=name, label=_label(start, end), kind=b["kind"], t0=_iso(t0), start=_iso(start), end=_iso(end),
            relatives=np.ascontiguousarray(b["rel"]), moves=tuple(b["moves"]), triggers=b["triggers"],
            episode=b["episode"], source="daily closes of the price history"
            + "".join(f"; intraday low: {src}" for src in lows)))
    for name, shock in (shocks or {}).items():
        scenarios.append(_shock(name, shock, assets, classes, references, betas, horizon))

    scan_rows = np.flatnonzero(scanned)
    found = [(s.start, s.end) for s in scenarios if s.start]
    missed = []
    for lo, hi, label in STRESS_LABELS:
        if any(s <= hi and e >= lo for s, e in found) or as_of is None or pd.Timestamp(lo) > as_of:
            continue  # found, or after as_of (not history yet)
        why = _why_missed(lo, hi, idx, horizon, scanned, series, thresholds)
        missed.append((label, lo if lo == hi else f"{lo} to {hi}", why))
    return StressLibrary(
        assets=assets, horizon=int(horizon), scenarios=tuple(scenarios), rule=rule,
        thresholds=tuple(thresholds), betas=betas.used, references=references,
        factor_weights={a: float(w) for a, w in zip(assets, factor_w) if w > 0},
        scanned=(_iso(idx[scan_rows[0]] + horizon * _DAY), _iso(idx[scan_rows[-1]] + horizon * _DAY))
        if scan_rows.size else None,
        n_windows=int(scan_rows.size), n_stress_days=len(days), unused_extremes=tuple(unused),
        missed_labels=tuple(missed), as_of=_iso(as_of) if as_of is not None else "",
    )


def _deepen(b: dict[str, Any], i: int, day: pd.Timestamp, e: IntradayLow, assets: tuple[str, ...],
            by_ticker: Mapping[str, str], prices: pd.DataFrame, idx: pd.DatetimeIndex) -> str | None:
    """Deepen the asset's path in scenario ``b`` (window starting at row ``i``) to the low of ``day``.

    The low is taken relative to the previous close (``low / P[day - 1]``; for a low quoted in
    another asset, times that asset's close-to-close move of the day) and applied on top of the
    window's move to that close; the path keeps the lower of it and the close from that day to the
    end of the horizon. Returns why the low was not used, or None.
    """
    asset = e.asset if e.asset in assets else by_ticker[e.asset]
    j = assets.index(asset)
    if b["moves"][j].rule not in (MoveRule.PRICED, MoveRule.INTRADAY):
        return f"{asset} has no price of its own in the window"
    prev = day - _DAY
    p_prev = float(prices.at[prev, asset])
    if not np.isfinite(p_prev):
        return f"{asset} has no close on {_iso(prev)}"
    r = float(e.low) / p_prev
    if e.reference != "usd":
        ref = e.reference if e.reference in prices.columns else by_ticker.get(e.reference)
        if ref is None or not (np.isfinite(prices.at[prev, ref]) and np.isfinite(prices.at[day, ref])):
            return f"its reference {e.reference} has no price on {_iso(prev)} and {_iso(day)}"
        r *= float(prices.at[day, ref])  # USD value of the low at the reference's close
    h = (day - idx[i]).days  # the low's step, 1 .. horizon
    rel = b["rel"]
    base = rel[h - 2, j] if h >= 2 else 1.0
    deep = base * r
    if deep >= rel[h - 1 :, j].min():
        return f"not below the close ({deep:.4g} of the window's start vs {rel[h - 1:, j].min():.4g})"
    rel[h - 1 :, j] = np.minimum(rel[h - 1 :, j], deep)
    b["moves"][j] = AssetMove(MoveRule.INTRADAY, reference=e.reference, low=float(e.low), date=_iso(day),
                              source=e.source)
    return None


def _shock(name: str, shock: Mapping[str, float], assets: tuple[str, ...], classes: Mapping[str, str],
           references: Sequence[str], betas: _Betas, horizon: int) -> StressScenario:
    """A config shock: the named moves over the horizon (log-linear path), the rest by rule."""
    steps = np.arange(1, horizon + 1) / horizon
    named = {a: np.exp(np.log1p(float(m)) * steps) for a, m in shock.items()}
    rel = np.ones((horizon, len(assets)))
    moves = []
    for j, a in enumerate(assets):
        if a in named:
            rel[:, j] = named[a]
            moves.append(AssetMove(MoveRule.SHOCK))
        else:
            rel[:, j], mv = _fill(a, named, classes, {}, references, betas, horizon)
            moves.append(mv)
    return StressScenario(name=name, label="", kind=StressKind.SHOCK, t0=None, start=None, end=None,
                          relatives=rel, moves=tuple(moves), source=f"config [stress.{name}]")


def _label(start: pd.Timestamp, end: pd.Timestamp) -> str:
    for lo, hi, label in STRESS_LABELS:
        if pd.Timestamp(lo) <= end and pd.Timestamp(hi) >= start:
            return label
    return ""


def _why_missed(lo: str, hi: str, idx: pd.DatetimeIndex, horizon: int, scanned: np.ndarray,
                series: Mapping[str, np.ndarray], thresholds: Sequence[Threshold]) -> str:
    """Why no selected window overlaps a labelled episode: no data, or nothing beyond a threshold."""
    t_lo, t_hi = pd.Timestamp(lo), pd.Timestamp(hi)
    rows = np.flatnonzero((idx + horizon * _DAY >= t_lo) & (idx + _DAY <= t_hi))
    if rows.size == 0 or t_lo > idx[-1]:
        return "outside the price history"
    if not scanned[rows].any():
        return "too little of the collateral is priced there (coverage rule)"
    best = None
    for t in thresholds:
        x = series[t.series][rows]
        x = x[np.isfinite(x)]
        if not x.size:
            continue
        v = float(x.min() if t.side == "down" else x.max())
        ratio = v / float(np.log1p(t.move))
        if best is None or ratio > best[0]:
            best = (ratio, t, float(np.expm1(v)))
    if best is None:
        return "no priced asset there"
    ratio, t, v = best
    return (f"closest: {t.series} {v:+.1%} against its threshold {t.move:+.1%} "
            f"({'lower' if t.side == 'down' else 'upper'} {t.quantile:.3g} quantile); a window that "
            "no series moves past its threshold is not a stress by the rule")
