"""Why each recommendation moved: re-solve with one driver at a time reset to a baseline.

Five drivers are attributed: **volatility**, **tail thickness**, **correlation**, **liquidity**
and **book composition**. For each, the run's scenario set (or market input) is transformed so
that the driver takes its *baseline* value, everything else staying as it is now, and the
threshold program is solved again (:func:`~optimizer.pipeline.run.prepare_market` +
:func:`~optimizer.pipeline.run.solve_thresholds`). The effect of a driver on an asset is

    effect = LT(now) - LT(driver reset to its baseline)     (in bps)

so a positive effect means the driver's move since the baseline *raised* the threshold. Effects
do not add up exactly (the program is joint across assets and the drivers interact); the part
of the proposed change they leave unexplained is reported beside them.

Resets, as transformations of the terminal price relatives ``T`` (log returns ``x = log T``):

volatility (per asset)
    ``x_i -> m_i + (sigma_base / sigma_now) (x_i - m_i)``, and the slippage is recomputed with
    ``sigma_base`` (the square-root impact law scales with volatility).
tail thickness (per asset)
    quantile mapping of the standardised ``x_i`` from a unit-variance Student-t with the fitted
    dof to one with the baseline dof (ranks, hence the dependence between assets, are kept).
correlation (joint)
    whiten the standardised log returns with the Cholesky factor of their correlation now and
    re-colour with the baseline correlation's factor (marginal variances are kept).
liquidity (per asset)
    the asset's depth curve scaled by its baseline daily volume over today's
    (``prepare_market(slippage_law=law.scaled(...))``, the run's sale held).
book composition (joint)
    collateral and debt of every account scaled per asset so the book's per-asset totals match
    the baseline, solved at that book's own sale (``solve_market(book=...)``).

Each transformed column is re-centred so that its sample mean price relative is what it was: a
reset changes the shape of the distribution, not its drift. Per-asset drivers are reset for one
asset at a time (resetting, say, every asset's volatility at once would mostly measure how the
aggregate budget is shared out); correlation and book composition are joint by nature.

Baselines (:func:`make_baseline`), per driver and asset, in order of preference:

1. the previous calibration's recorded value, when a previous run directory is given
   (``drivers.json`` written by ``riskopt recalibrate``, or the ``drivers``/``book_summary`` of a
   plain run's ``params.json``);
2. the level implied by the current parameters, where one exists: for volatility, the daily
   sigma at which the analytic per-asset threshold
   (:func:`~optimizer.optimize.references.analytic_threshold`, with the run's horizon, tail dof,
   bonus, reference epsilon and slippage following the same square-root law) equals the current
   LT, found with :func:`scipy.optimize.brentq`;
3. a through-the-cycle estimate from each asset's full price history up to ``as_of``
   (:func:`through_the_cycle`): the unconditional daily volatility, the Student-t dof of the
   volatility model's residuals, the pairwise correlation of those residuals, and the volume
   relative to its full-history median. Book composition has no such estimate: without a
   previous run it is not attributed (its effect is ``None``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.estimators import mean_offdiagonal, merge_correlation
from optimizer.exceptions import ConfigError
from optimizer.scenarios import jump_factor, recolour, remap_tail, sample_correlation, scale_volatility
from optimizer.typing import FloatArray

#: Attributed drivers, in display order, with their labels.
DRIVERS: tuple[str, ...] = ("volatility", "tail", "correlation", "liquidity", "book")
DRIVER_LABELS: dict[str, str] = {
    "volatility": "volatility",
    "tail": "tail thickness",
    "correlation": "correlation",
    "liquidity": "liquidity",
    "book": "book composition",
}
#: Drivers reset for one asset at a time (the others are joint).
PER_ASSET_DRIVERS = ("volatility", "tail", "liquidity")

#: Version of drivers.json.
DRIVERS_FORMAT_VERSION = 1

#: An effect smaller than this (bps) is not named as a driver in a rationale.
NAMED_EFFECT_BPS = 1.0


# ---------------------------------------------------------------------------------------------
# Driver values
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DriverState:
    """The value of every driver at one calibration (the content of ``drivers.json``).

    Attributes
    ----------
    assets : tuple of str, length n_assets
    sigma : ndarray of shape (n_assets,)
        Daily volatility the scenarios were scaled to (forecast x ``vol_multiplier``).
    nu : ndarray of shape (n_assets,)
        Student-t dof of the volatility model's standardised residuals.
    correlation : ndarray of shape (n_assets, n_assets)
        Sample correlation of the scenarios' terminal log returns.
    adv_usd : ndarray of shape (n_assets,)
        Average daily volume used for slippage, USD.
    collateral_usd, debt_usd : ndarray of shape (n_assets,)
        The book's collateral and debt per asset, USD.
    as_of : str
        Date of the calibration's data.
    """

    assets: tuple[str, ...]
    sigma: FloatArray
    nu: FloatArray
    correlation: FloatArray
    adv_usd: FloatArray
    collateral_usd: FloatArray
    debt_usd: FloatArray
    as_of: str = ""

    def index(self, asset: str) -> int | None:
        return self.assets.index(asset) if asset in self.assets else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; per-asset values keyed by ticker, the correlation as nested rows."""
        per = {
            a: {
                "sigma_daily": float(self.sigma[i]),
                "tail_dof": float(self.nu[i]),
                "adv_usd": float(self.adv_usd[i]),
                "collateral_usd": float(self.collateral_usd[i]),
                "debt_usd": float(self.debt_usd[i]),
            }
            for i, a in enumerate(self.assets)
        }
        return {
            "format_version": DRIVERS_FORMAT_VERSION,
            "as_of": self.as_of,
            "assets": per,
            "correlation": {"assets": list(self.assets),
                            "matrix": [[float(v) for v in row] for row in np.asarray(self.correlation)]},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, allow_nan=False) + "\n"


@dataclass(frozen=True, eq=False)
class PreviousDrivers:
    """What a previous run directory records; any field may be missing (None / absent key)."""

    source: str
    as_of: str | None
    sigma: dict[str, float] = field(default_factory=dict)
    nu: dict[str, float] = field(default_factory=dict)
    adv_usd: dict[str, float] = field(default_factory=dict)
    collateral_usd: dict[str, float] = field(default_factory=dict)
    debt_usd: dict[str, float] = field(default_factory=dict)
    correlation: tuple[tuple[str, ...], FloatArray] | None = None


def read_previous(path: str | Path) -> PreviousDrivers:
    """Read the drivers recorded in a previous run directory.

    ``drivers.json`` (written by ``riskopt recalibrate``) gives every driver; a plain
    ``riskopt run`` directory's ``params.json`` gives volatility, tail dof, volume and the book's
    totals but no correlation matrix (that driver then falls back to its through-the-cycle
    baseline).

    Raises
    ------
    ConfigError
        When the directory does not exist or holds neither file, or a file is not valid JSON.
    """
    d = Path(path)
    if not d.is_dir():
        raise ConfigError(f"previous run directory not found: {d}")
    drivers_file, params_file = d / "drivers.json", d / "params.json"
    if drivers_file.is_file():
        raw = _read_json(drivers_file)
        try:
            per = raw["assets"]
            corr = raw.get("correlation")
            correlation = None
            if corr:
                correlation = (tuple(corr["assets"]), np.asarray(corr["matrix"], dtype=float))
            return PreviousDrivers(
                source=f"previous run ({raw.get('as_of') or d.name})",
                as_of=raw.get("as_of"),
                sigma={a: float(v["sigma_daily"]) for a, v in per.items()},
                nu={a: float(v["tail_dof"]) for a, v in per.items()},
                adv_usd={a: float(v["adv_usd"]) for a, v in per.items()},
                collateral_usd={a: float(v["collateral_usd"]) for a, v in per.items()},
                debt_usd={a: float(v["debt_usd"]) for a, v in per.items()},
                correlation=correlation,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{drivers_file}: not a riskopt drivers file ({err!r})") from None
    if params_file.is_file():
        raw = _read_json(params_file)
        try:
            assets = raw["assets"]
            mult = float((raw.get("method") or {}).get("vol_multiplier") or 1.0)
            as_of = (raw.get("meta") or {}).get("as_of")
            book = raw.get("book_summary") or {}
            sigma, nu, adv = {}, {}, {}
            for a, v in assets.items():
                dr = v.get("drivers") or {}
                if dr.get("vol_forecast_daily") is not None:
                    sigma[a] = float(dr["vol_forecast_daily"]) * mult
                if dr.get("tail_dof") is not None:
                    nu[a] = float(dr["tail_dof"])
                if dr.get("adv_usd") is not None:
                    adv[a] = float(dr["adv_usd"])
            return PreviousDrivers(
                source=f"previous run ({as_of or d.name})",
                as_of=as_of,
                sigma=sigma,
                nu=nu,
                adv_usd=adv,
                collateral_usd={a: float(x) for a, x in (book.get("collateral_by_asset") or {}).items()},
                debt_usd={a: float(x) for a, x in (book.get("debt_by_asset") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ConfigError(f"{params_file}: not a riskopt params.json ({err!r})") from None
    raise ConfigError(
        f"previous run directory {d} holds neither drivers.json nor params.json; "
        "give the output directory of an earlier `riskopt recalibrate` or `riskopt run`"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        out = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON ({err})") from None
    if not isinstance(out, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return out


def current_state(inputs: Any, market: Any) -> DriverState:
    """The drivers of this run: what the scenarios, market inputs and book hold now."""
    x = np.log(inputs.scenarios.terminal)
    book = inputs.book
    return DriverState(
        assets=tuple(inputs.config.asset_names),
        sigma=np.asarray(market.sigma, dtype=float).copy(),
        nu=np.asarray(inputs.generator.volatility_.nu_, dtype=float).copy(),
        correlation=sample_correlation(x),
        adv_usd=np.asarray(inputs.adv_usd, dtype=float).copy(),
        collateral_usd=np.asarray(book.collateral_by_asset, dtype=float).copy(),
        debt_usd=np.asarray(book.debt_by_asset, dtype=float).copy(),
        as_of=inputs.returns.index[-1].date().isoformat(),
    )


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ThroughTheCycle:
    """Full-history estimates per asset (each asset over its own history up to ``as_of``).

    Attributes
    ----------
    sigma : ndarray of shape (n_assets,)
        Unconditional daily volatility of the full history (mean square of log returns).
    nu : ndarray of shape (n_assets,)
        Student-t dof of the volatility model's residuals over the full history.
    correlation : ndarray of shape (n_assets, n_assets)
        Pairwise correlation of those residuals on the days both assets have one, repaired to
        positive definite.
    adv_ratio : ndarray of shape (n_assets,)
        Full-history median volume / median of the last 30 days (1 where there is no volume
        history at ``as_of``).
    n_days : ndarray of shape (n_assets,)
        Days of returns per asset.
    """

    sigma: FloatArray
    nu: FloatArray
    correlation: FloatArray
    adv_ratio: FloatArray
    has_volume: tuple[bool, ...]
    n_days: np.ndarray
    start: tuple[str, ...]


def through_the_cycle(cfg: Any, data_dir: Any, *, volatility: Any = None) -> ThroughTheCycle:
    """Estimate the through-the-cycle drivers from each asset's full history up to ``as_of``.

    Each asset's returns are its own consecutive one-day log returns (no common window, so a
    short-history asset does not shorten the others'); the config's volatility model is fitted
    per asset.
    """
    import warnings

    from sklearn.base import clone

    from optimizer.data import one_day_log_returns, resolve_data_dir, volume_ratio
    from optimizer.estimators import pairwise_correlation, rms_volatility
    from optimizer.pipeline.run import load_asset_prices, make_generator

    assets = cfg.asset_names
    ddir = resolve_data_dir(data_dir if data_dir is not None else cfg.run.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run reports the data flags
        prices = load_asset_prices(cfg, ddir, as_of=cfg.run.as_of)
    vol_model = volatility if volatility is not None else make_generator(cfg, cfg.estimators.volatility).volatility
    sigma, nu, n_days, start = [], [], [], []
    resid: dict[str, pd.Series] = {}
    for a in assets:
        r = one_day_log_returns(prices.prices[a]).dropna()
        if len(r) < 30:
            raise ConfigError(f"[assets.{a}]: only {len(r)} days of returns up to {cfg.run.as_of}")
        sigma.append(rms_volatility(r.to_numpy()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = clone(vol_model).fit(r.to_frame(a))
        nu.append(float(np.asarray(est.nu_)[0]))
        resid[a] = est.residuals_[a]
        n_days.append(len(r))
        start.append(r.index[0].date().isoformat())
    corr = pairwise_correlation(pd.DataFrame(resid), min_periods=30)
    ratio, has_vol = [], []
    vols = prices.volumes
    last = prices.prices.index[-1]
    for a in assets:
        v = vols[a] if vols is not None and a in vols.columns else None
        r = volume_ratio(v, last, min_reports=60)
        has_vol.append(r is not None)
        ratio.append(1.0 if r is None else r)
    return ThroughTheCycle(sigma=np.array(sigma), nu=np.array(nu), correlation=corr, adv_ratio=np.array(ratio),
                           has_volume=tuple(has_vol), n_days=np.array(n_days), start=tuple(start))


@dataclass(frozen=True, eq=False)
class Baseline:
    """Baseline value of every driver, with where it came from (per asset or for the matrix).

    ``sigma``, ``nu`` and ``adv_usd`` are arrays of shape (n_assets,); ``correlation`` is
    (n_assets, n_assets); ``collateral_usd``/``debt_usd`` are None when book composition has no
    baseline. ``*_source`` say which rule gave each value.
    """

    assets: tuple[str, ...]
    sigma: FloatArray
    sigma_source: tuple[str, ...]
    nu: FloatArray
    nu_source: tuple[str, ...]
    correlation: FloatArray
    correlation_source: str
    adv_usd: FloatArray
    adv_source: tuple[str, ...]
    collateral_usd: FloatArray | None
    debt_usd: FloatArray | None
    book_source: str


def make_baseline(
    cfg: Any,
    inputs: Any,
    market: Any,
    now: DriverState,
    *,
    previous: PreviousDrivers | None = None,
    ttc: ThroughTheCycle | None = None,
) -> Baseline:
    """Baseline per driver: previous run, else implied by the current parameters, else through-the-cycle."""
    assets = now.assets
    n = len(assets)
    prev = previous
    ttc_label = "through-the-cycle, full history"

    sigma, sigma_src = np.empty(n), []
    nu, nu_src = np.empty(n), []
    adv, adv_src = np.empty(n), []
    cur = inputs.current
    H = float(inputs.scenarios.horizon)
    eps = cfg.optimizer.reference_epsilon
    from optimizer.optimize.references import implied_volatility

    from optimizer.pipeline.run import static_slippage

    per_sigma = static_slippage(cfg, inputs).slippage_per_sigma(market.sale)
    for i, a in enumerate(assets):
        if prev is not None and a in prev.sigma:
            sigma[i], s_src = prev.sigma[a], prev.source
        else:
            imp = None
            if inputs.has_current[i]:
                imp = implied_volatility(float(cur.liquidation_threshold[i]), horizon=H, nu=float(now.nu[i]), eps=eps,
                                    bonus=float(market.bonus[i]), slippage_per_sigma=float(per_sigma[i]),
                                    max_slippage=cfg.liquidity.max_slippage)
            if imp is not None:
                sigma[i], s_src = imp, "implied by the current LT"
            elif ttc is not None:
                sigma[i], s_src = ttc.sigma[i] * cfg.scenarios.vol_multiplier, ttc_label
            else:
                sigma[i], s_src = now.sigma[i], "none (kept)"
        sigma_src.append(s_src)
        if prev is not None and a in prev.nu:
            nu[i], n_src = prev.nu[a], prev.source
        elif ttc is not None:
            nu[i], n_src = ttc.nu[i], ttc_label
        else:
            nu[i], n_src = now.nu[i], "none (kept)"
        nu_src.append(n_src)
        if prev is not None and a in prev.adv_usd:
            adv[i], l_src = prev.adv_usd[a], prev.source
        elif ttc is not None and ttc.has_volume[i]:
            adv[i], l_src = now.adv_usd[i] * ttc.adv_ratio[i], "through-the-cycle, full-history median volume"
        else:
            adv[i], l_src = now.adv_usd[i], "none (no volume history)"
        adv_src.append(l_src)

    if prev is not None and prev.correlation is not None:
        fallback = ttc.correlation if ttc is not None else now.correlation
        corr = merge_correlation(assets, *prev.correlation, fallback)
        c_src = prev.source if set(assets) <= set(prev.correlation[0]) else f"{prev.source}, else {ttc_label}"
    elif ttc is not None:
        corr, c_src = ttc.correlation, ttc_label
    else:
        corr, c_src = now.correlation, "none (kept)"

    coll = debt = None
    b_src = "none (no previous run)"
    if prev is not None and prev.collateral_usd:
        coll = np.array([prev.collateral_usd.get(a, now.collateral_usd[i]) for i, a in enumerate(assets)])
        debt = np.array([prev.debt_usd.get(a, now.debt_usd[i]) for i, a in enumerate(assets)])
        b_src = prev.source
    return Baseline(
        assets=assets, sigma=sigma, sigma_source=tuple(sigma_src), nu=nu, nu_source=tuple(nu_src),
        correlation=corr, correlation_source=c_src, adv_usd=adv, adv_source=tuple(adv_src),
        collateral_usd=coll, debt_usd=debt, book_source=b_src,
    )


# ---------------------------------------------------------------------------------------------
# Attribution
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Attribution:
    """Effects of each driver on each asset's LT.

    Attributes
    ----------
    assets : tuple of str
    lt_now : ndarray of shape (n_assets,)
        The optimizer's LT with every driver as it is now (before rounding to the grid).
    effects : dict of str to ndarray of shape (n_assets,)
        Per driver, ``LT(now) - LT(driver at baseline)`` in bps; NaN where the driver was not
        reset (no baseline, or the asset was not explained).
    lt_reset : dict of str to ndarray of shape (n_assets,)
        The LT of each asset with that driver reset (NaN where not computed).
    now : DriverState
    baseline : Baseline
    explained : tuple of str
        Assets whose per-asset drivers were reset.
    n_solves : int
    """

    assets: tuple[str, ...]
    lt_now: FloatArray
    effects: dict[str, FloatArray]
    lt_reset: dict[str, FloatArray]
    now: DriverState
    baseline: Baseline
    explained: tuple[str, ...]
    n_solves: int

    def asset_drivers(self, asset: str) -> dict[str, dict[str, Any]]:
        """Per driver: ``label``, ``effect_bps`` (None when not attributed), ``now``, ``baseline``,
        ``unit`` and ``baseline_source`` for one asset (JSON-ready)."""
        i = self.assets.index(asset)
        b, n = self.baseline, self.now
        corr_now = mean_offdiagonal(n.correlation, i)
        corr_base = mean_offdiagonal(b.correlation, i)
        values = {
            "volatility": (n.sigma[i], b.sigma[i], "daily volatility", b.sigma_source[i]),
            "tail": (n.nu[i], b.nu[i], "Student-t dof (lower = fatter tails)", b.nu_source[i]),
            "correlation": (corr_now, corr_base, "mean correlation with the other assets", b.correlation_source),
            "liquidity": (n.adv_usd[i], b.adv_usd[i], "daily volume, USD", b.adv_source[i]),
            "book": (n.collateral_usd[i], None if b.collateral_usd is None else b.collateral_usd[i],
                     "collateral in the book, USD", b.book_source),
        }
        out: dict[str, dict[str, Any]] = {}
        for d in DRIVERS:
            now_v, base_v, unit, src = values[d]
            e = float(self.effects[d][i])
            out[d] = {
                "label": DRIVER_LABELS[d],
                "effect_bps": None if not math.isfinite(e) else round(e, 2),
                "now": _num(now_v),
                "baseline": _num(base_v),
                "unit": unit,
                "baseline_source": src,
            }
        return out

    def top_drivers(self, asset: str, k: int = 3) -> list[str]:
        """Drivers with the largest absolute effect on ``asset`` (at least one when any was attributed)."""
        i = self.assets.index(asset)
        eff = [(abs(float(self.effects[d][i])), d) for d in DRIVERS if math.isfinite(float(self.effects[d][i]))]
        eff.sort(key=lambda t: (-t[0], DRIVERS.index(t[1])))
        named = [d for e, d in eff if e >= NAMED_EFFECT_BPS][:k]
        return named or [d for _, d in eff[:1]]


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def attribute(
    cfg: Any,
    inputs: Any,
    market: Any,
    baseline: Baseline,
    *,
    explain: tuple[str, ...] | None = None,
    lt_now: FloatArray | None = None,
    now: DriverState | None = None,
    progress: Any = None,
) -> Attribution:
    """Re-solve with each driver reset to its baseline and measure the effect on every LT.

    Parameters
    ----------
    cfg, inputs, market
        The run's configuration, inputs and market (``solve_market(cfg, inputs).problem``; its
        ``sale`` is held in every re-solve but the book's).
    baseline : Baseline
    explain : tuple of str, optional
        Assets whose per-asset drivers are reset (default: all). Joint drivers (correlation,
        book) are solved once and apply to every asset.
    lt_now : ndarray, optional
        The run's LT (solved again when not given).
    now : DriverState, optional
        :func:`current_state` of the run (computed when not given).
    """
    from optimizer.pipeline.run import prepare_market, solve_market, solve_thresholds, static_slippage

    assets = tuple(cfg.asset_names)
    n = len(assets)
    explain = assets if explain is None else tuple(explain)
    now = now if now is not None else current_state(inputs, market)
    if lt_now is None:
        lt_now = solve_thresholds(cfg, inputs, market).lt
    lt_now = np.asarray(lt_now, dtype=float)
    terminal = inputs.scenarios.terminal
    # the transforms act on the continuous part; depeg jumps are multiplied back at full size
    pegs = getattr(inputs, "pegs", None)
    jumps = jump_factor(assets, terminal.shape[0], pegs.draws if pegs is not None else ())
    continuous = terminal / jumps
    effects = {d: np.full(n, np.nan) for d in DRIVERS}
    resets = {d: np.full(n, np.nan) for d in DRIVERS}
    n_solves = 0

    def solve(**overrides: Any) -> FloatArray:
        # the run's sale held: the scenario and liquidity drivers do not change the book's liquidations
        nonlocal n_solves
        n_solves += 1
        m = prepare_market(cfg, inputs, sale=market.sale, **overrides)
        return np.asarray(solve_thresholds(cfg, inputs, m).lt, dtype=float)

    def record(d: str, lt: FloatArray, idx: list[int]) -> None:
        for j in idx:
            resets[d][j] = lt[j]
            effects[d][j] = (lt_now[j] - lt[j]) * 1e4

    for a in explain:
        i = assets.index(a)
        # volatility: scale the log returns and recompute slippage with the baseline sigma
        if _differs(baseline.sigma[i], now.sigma[i]):
            sig = now.sigma.copy()
            sig[i] = baseline.sigma[i]
            lt = solve(terminal=scale_volatility(continuous, i, baseline.sigma[i] / now.sigma[i]) * jumps
                       if now.sigma[i] > 0 else terminal, sigma=sig)
            record("volatility", lt, [i])
        else:
            record("volatility", lt_now, [i])
        if _differs(baseline.nu[i], now.nu[i]):
            record("tail", solve(terminal=remap_tail(continuous, i, float(now.nu[i]), float(baseline.nu[i])) * jumps),
                   [i])
        else:
            record("tail", lt_now, [i])
        if _differs(baseline.adv_usd[i], now.adv_usd[i]):
            # the asset's depth curve scaled by its baseline volume over today's
            scale = np.ones(n)
            scale[i] = baseline.adv_usd[i] / now.adv_usd[i]
            record("liquidity", solve(slippage_law=static_slippage(cfg, inputs).scaled(scale)), [i])
        else:
            record("liquidity", lt_now, [i])

    if np.max(np.abs(baseline.correlation - now.correlation)) > 1e-9:
        record("correlation", solve(terminal=recolour(continuous, baseline.correlation) * jumps), list(range(n)))
    else:
        record("correlation", lt_now, list(range(n)))

    if baseline.collateral_usd is not None and baseline.debt_usd is not None:
        if _differs_arr(baseline.collateral_usd, now.collateral_usd) or _differs_arr(baseline.debt_usd, now.debt_usd):
            book = inputs.book.rescale(baseline.collateral_usd, baseline.debt_usd)
            # another book seizes another sale: solved at its own, as a run would
            fixed = solve_market(cfg, inputs, book=book)
            n_solves += fixed.n_solves
            record("book", np.asarray(fixed.solution.lt, dtype=float), list(range(n)))
        else:
            record("book", lt_now, list(range(n)))
    return Attribution(assets=assets, lt_now=lt_now, effects=effects, lt_reset=resets, now=now,
                       baseline=baseline, explained=explain, n_solves=n_solves)


def _differs(a: float, b: float, rtol: float = 1e-9) -> bool:
    return abs(float(a) - float(b)) > rtol * max(abs(float(a)), abs(float(b)), 1e-300)


def _differs_arr(a: FloatArray, b: FloatArray, rtol: float = 1e-9) -> bool:
    return bool(np.any(np.abs(np.asarray(a) - np.asarray(b)) > rtol * np.maximum(np.abs(a), np.abs(b))))
