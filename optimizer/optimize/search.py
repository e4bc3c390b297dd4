"""Multi-objective search over liquidation thresholds, bonuses and close factor with optuna.

The search maximises capital efficiency and minimises a tail measure of bad debt. Its result is
the Pareto frontier of the evaluated parameter sets, from which a risk appetite picks a point
(:func:`~optimizer.optimize._frontier.mark_appetites`,
:func:`~optimizer.optimize._frontier.choose`).

optuna's roles are kept apart:

* :func:`objective` only suggests values (:func:`suggest_values`), turns them into a
  :class:`~optimizer.protocol.params.RiskParams` (:meth:`SearchSpace.params_from_values`) and calls
  the caller's pure ``evaluate(params) -> metrics``.
* :func:`make_study` (and :func:`make_sampler`) is the only place a study, storage or sampler is
  built; every argument is keyword-only.
* :func:`replay` re-runs given values through the same objective with
  :class:`optuna.trial.FixedTrial`, so the report's numbers come from the same code path.
* :class:`FrontierSearch` wires them together: it enqueues starting points (e.g. the convex-core
  solution), runs the remaining trials of a possibly resumed study and extracts the frontier.

Parametrisation of the coupled LT and bonus
-------------------------------------------
optuna needs one fixed distribution per parameter name, but the feasible liquidation threshold
depends on the bonus through ``LT x (1 + bonus) <= 1 - slippage_margin``. Per asset the search
therefore suggests

* ``"<asset>.bonus"`` in ``[bonus_low, bonus_high]`` on the protocol grid (``step=grid``), and
* ``"<asset>.lt_frac"``, a fraction ``u`` in ``[0, 1]`` of the *feasible* LT range
  ``[lt_low, min(lt_high, (1 - margin) / (1 + bonus))]``.

Every point of the unit box is feasible, so no sampler budget is spent on parameter sets that would
have to be rejected or clipped onto the boundary (clipping turns the infeasible corner into a flat
plateau of identical outcomes, which misleads TPE's densities and NSGA-II's crowding). While the
bonus cap does not bind (the usual case: ``lt_high x (1 + bonus_high) <= 1 - margin``) the upper
end is ``lt_high`` for every bonus and ``u`` is an affine function of LT alone; where it binds,
``u`` rescales smoothly. On a grid, ``u`` is split into equal buckets, one per feasible grid value
(``k = floor(u (n + 1))``), so each grid LT gets the same prior mass; the inverse used to enqueue a
known parameter set is the bucket centre. LTV is ``max(LT - ltv_buffer, 0)``.
A parameter whose bounds are equal is fixed and not suggested.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.study import StudyDirection
from optuna.trial import FixedTrial, TrialState
from sklearn.base import BaseEstimator

from optimizer.optimize._frontier import (
    DEFAULT_TAIL_METRIC,
    EFFICIENCY_METRIC,
    choose,
    dominates,
    mark_appetites,
    pareto_front,
)
from optimizer.protocol.params import INVARIANT_TOL, RiskParams
from optimizer.typing import FloatArray

__all__ = [
    "DEFAULT_TAIL_METRIC",
    "EFFICIENCY_METRIC",
    "FrontierSearch",
    "SearchSpace",
    "choose",
    "dominates",
    "make_sampler",
    "make_study",
    "mark_appetites",
    "objective",
    "pareto_front",
    "replay",
    "suggest_values",
]

SamplerName = Literal["nsga2", "tpe"]
Evaluate = Callable[[RiskParams], Mapping[str, Any]]

_SAMPLERS = ("nsga2", "tpe")
_DIRECTIONS = (StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE)
#: Trial user attribute holding the scalar metrics other than the two objectives.
_METRICS_ATTR = "metrics"
_SPACE_ATTR = "riskopt.search_space"
_TAIL_ATTR = "riskopt.tail_metric"
#: Slack when snapping values to the grid (values like 0.8250000000000001).
_GRID_EPS = 1e-9
_DECIMALS = 12


# ------------------------------------------------------------------------------------------
# search space
# ------------------------------------------------------------------------------------------
def _k_floor(x: float, g: float) -> int:
    return int(math.floor(x / g + _GRID_EPS))


def _k_ceil(x: float, g: float) -> int:
    return int(math.ceil(x / g - _GRID_EPS))


def _on_grid(k: int, g: float) -> float:
    return round(k * g, _DECIMALS)


def _as_vector(value: Any, n: int, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must be a float or have shape ({n},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got {arr.tolist()}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class SearchSpace:
    """Bounds of the per-asset parameters the search may choose, and how they map to RiskParams.

    Parameters
    ----------
    assets : tuple of str, length n_assets
        Lower-case tickers; the order of every array here and of the RiskParams built.
    lt_low, lt_high : float or array_like of shape (n_assets,)
        Bounds of the liquidation threshold; ``0 <= lt_low <= lt_high < 1``. Equal bounds fix it.
    bonus_low, bonus_high : float or array_like of shape (n_assets,)
        Bounds of the liquidation bonus (0.05 = 5 %); equal bounds fix it.
    ltv_buffer : float or array_like of shape (n_assets,)
        ``LTV = max(LT - ltv_buffer, 0)``.
    ltv_fixed : array_like of shape (n_assets,) or None, default None
        An LTV a policy holds (e.g. 0 for a reserve whose LTV is kept at 0), NaN where the LTV
        follows the LT; None holds none. A held LTV buys no borrowing power whatever the LT, so
        every trial's capital efficiency counts it as the recommendation does.
    close_factor : tuple of float or None, default None
        Close-factor choices searched as a categorical parameter; one choice fixes it; None keeps
        the RiskParams default (0.5).
    grid : float or None, default 0.0025
        Protocol grid of LT and bonus (25 bps): searched values are integer multiples of it (ranges
        are shrunk inwards onto the grid). None searches continuously. Fixed values are kept as
        given.
    slippage_margin : float or array_like of shape (n_assets,), default 0.0
        Required room for sale slippage: ``LT x (1 + bonus) <= 1 - slippage_margin``.

    Notes
    -----
    See the module docstring for the parametrisation (``"<asset>.bonus"`` and the fraction
    ``"<asset>.lt_frac"`` of the feasible LT range). Construction checks that the lowest LT is
    feasible with the highest bonus, so :meth:`params_from_values` can always honour the
    invariants.
    """

    assets: tuple[str, ...]
    lt_low: FloatArray
    lt_high: FloatArray
    bonus_low: FloatArray
    bonus_high: FloatArray
    ltv_buffer: FloatArray
    close_factor: tuple[float, ...] | None = None
    grid: float | None = 0.0025
    slippage_margin: FloatArray | float = 0.0
    ltv_fixed: FloatArray | None = None
    # derived: effective bounds (on the grid when searched) and which values are searched
    _lt_lo: FloatArray = field(init=False, repr=False)
    _lt_hi: FloatArray = field(init=False, repr=False)
    _b_lo: FloatArray = field(init=False, repr=False)
    _b_hi: FloatArray = field(init=False, repr=False)
    _lt_search: tuple[bool, ...] = field(init=False, repr=False)
    _b_search: tuple[bool, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Validate the bounds and derive the effective (grid) bounds."""
        assets = tuple(str(a) for a in self.assets)
        n = len(assets)
        if n == 0:
            raise ValueError("`assets` must name at least one asset")
        if len(set(assets)) != n:
            raise ValueError(f"`assets` must be unique, got {assets}")
        set_ = functools.partial(object.__setattr__, self)
        set_("assets", assets)
        for name in (
            "lt_low",
            "lt_high",
            "bonus_low",
            "bonus_high",
            "ltv_buffer",
            "slippage_margin",
        ):
            set_(name, _as_vector(getattr(self, name), n, name))
        if self.ltv_fixed is not None:
            fixed = np.array(np.broadcast_to(np.asarray(self.ltv_fixed, dtype=float), (n,)))
            held = fixed[~np.isnan(fixed)]
            if np.any((held < 0) | (held >= 1)):
                raise ValueError(f"`ltv_fixed` must be NaN or in [0, 1), got {fixed.tolist()}")
            fixed.setflags(write=False)
            set_("ltv_fixed", fixed)
        g = self.grid
        if g is not None:
            if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 < g < 1:
                raise ValueError(f"`grid` must be a float in (0, 1) or None, got grid={g!r}")
            set_("grid", float(g))
            g = float(g)
        if self.close_factor is not None:
            choices = tuple(float(c) for c in self.close_factor)
            if (
                not choices
                or any(not 0 < c <= 1 for c in choices)
                or len(set(choices)) != len(choices)
            ):
                raise ValueError(
                    "`close_factor` must be None or distinct choices in (0, 1], "
                    f"got {self.close_factor!r}"
                )
            set_("close_factor", choices)
        lt_lo, lt_hi, b_lo, b_hi = (np.empty(n) for _ in range(4))
        lt_search, b_search = [], []
        for i, a in enumerate(assets):
            lo, hi = self.lt_low[i], self.lt_high[i]
            if not 0 <= lo <= hi < 1:
                raise ValueError(
                    f"{a}: liquidation threshold bounds must satisfy 0 <= lt_low <= lt_high < 1, "
                    f"got lt_low={lo}, lt_high={hi}"
                )
            blo, bhi = self.bonus_low[i], self.bonus_high[i]
            if not 0 <= blo <= bhi:
                raise ValueError(
                    f"{a}: bonus bounds must satisfy 0 <= bonus_low <= bonus_high, "
                    f"got bonus_low={blo}, bonus_high={bhi}"
                )
            if self.ltv_buffer[i] < 0:
                raise ValueError(f"{a}: `ltv_buffer` must be >= 0, got {self.ltv_buffer[i]}")
            m = self.slippage_margin[i]
            if not 0 <= m < 1:
                raise ValueError(f"{a}: `slippage_margin` must be in [0, 1), got {m}")
            lt_lo[i], lt_hi[i] = _snap_range(a, "liquidation threshold", lo, hi, g)
            b_lo[i], b_hi[i] = _snap_range(a, "bonus", blo, bhi, g)
            lt_search.append(bool(lt_lo[i] < lt_hi[i]))
            b_search.append(bool(b_lo[i] < b_hi[i]))
            if lt_lo[i] * (1.0 + b_hi[i]) > 1.0 - m + INVARIANT_TOL:
                raise ValueError(
                    f"{a}: the lowest liquidation threshold {lt_lo[i]:.4f} with the highest bonus "
                    f"{b_hi[i]:.4f} breaks LT x (1 + bonus) <= 1 - slippage_margin = {1 - m:.4f}; "
                    "lower lt_low or bonus_high"
                )
        for name, arr in (("_lt_lo", lt_lo), ("_lt_hi", lt_hi), ("_b_lo", b_lo), ("_b_hi", b_hi)):
            arr.setflags(write=False)
            set_(name, arr)
        set_("_lt_search", tuple(lt_search))
        set_("_b_search", tuple(b_search))

    @property
    def n_assets(self) -> int:
        """Number of assets."""
        return len(self.assets)

    def parameters(self) -> dict[str, dict[str, Any]]:
        """Describe the searched parameters, by optuna name, in suggestion order.

        Returns
        -------
        dict
            ``{"<asset>.bonus": {"low", "high", "step"}, "<asset>.lt_frac": {"low": 0, "high": 1,
            "step": None}, "close_factor": {"choices"}}``; fixed parameters are absent.
        """
        out: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(self.assets):
            if self._b_search[i]:
                out[f"{a}.bonus"] = {
                    "low": float(self._b_lo[i]),
                    "high": float(self._b_hi[i]),
                    "step": self.grid,
                }
            if self._lt_search[i]:
                out[f"{a}.lt_frac"] = {"low": 0.0, "high": 1.0, "step": None}
        if self.close_factor is not None and len(self.close_factor) > 1:
            out["close_factor"] = {"choices": self.close_factor}
        return out

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the searched optuna parameters, in suggestion order."""
        return tuple(self.parameters())

    def _lt_range(self, i: int, bonus: float) -> tuple[float, float]:
        """Feasible LT interval of asset ``i`` given its bonus (end points on the grid if any)."""
        cap = (1.0 - float(self.slippage_margin[i])) / (1.0 + bonus)
        lo = float(self._lt_lo[i])
        if self.grid is None:
            hi = min(float(self._lt_hi[i]), cap)
        else:
            hi = _on_grid(
                min(_k_floor(float(self._lt_hi[i]), self.grid), _k_floor(cap, self.grid)), self.grid
            )
        return lo, max(hi, lo)

    def _lt_from_frac(self, i: int, bonus: float, u: float) -> float:
        lo, hi = self._lt_range(i, bonus)
        if self.grid is None:
            return lo + u * (hi - lo)
        k_lo, k_hi = round(lo / self.grid), round(hi / self.grid)
        n = k_hi - k_lo
        return _on_grid(k_lo + min(int(math.floor(u * (n + 1))), n), self.grid)

    def _frac_from_lt(self, i: int, bonus: float, lt: float) -> float:
        lo, hi = self._lt_range(i, bonus)
        if self.grid is None:
            return 0.0 if hi <= lo else float(np.clip((lt - lo) / (hi - lo), 0.0, 1.0))
        k_lo, k_hi = round(lo / self.grid), round(hi / self.grid)
        k = min(max(_k_floor(lt, self.grid), k_lo), k_hi)  # toward the lower (safer) grid value
        return (k - k_lo + 0.5) / (k_hi - k_lo + 1)

    def _snap_bonus(self, i: int, b: float) -> float:
        b = min(max(b, float(self._b_lo[i])), float(self._b_hi[i]))
        if self.grid is not None:
            b = _on_grid(round(b / self.grid), self.grid)
            b = min(max(b, float(self._b_lo[i])), float(self._b_hi[i]))
        return b

    def params_from_values(self, values: Mapping[str, Any]) -> RiskParams:
        """Build the RiskParams of one set of searched values; they always satisfy the invariants.

        Parameters
        ----------
        values : mapping of str to float
            One value per name of :meth:`parameters` (e.g. ``trial.params``); no other keys.

        Returns
        -------
        RiskParams
            LT on the grid within the feasible range of its bonus, bonus on the grid,
            ``LTV = max(LT - ltv_buffer, 0)`` (a held LTV, ``ltv_fixed``, stays as held, at most
            the LT), and ``RiskParams.violations() == []``.
        """
        spec = self.parameters()
        missing = sorted(set(spec) - set(values))
        extra = sorted(set(values) - set(spec))
        if missing or extra:
            raise ValueError(
                "`values` must hold exactly the searched parameters; "
                f"missing {missing}, unknown {extra}"
            )
        n = self.n_assets
        lt, bonus, ltv = np.empty(n), np.empty(n), np.empty(n)
        for i, a in enumerate(self.assets):
            if self._b_search[i]:
                b = float(values[f"{a}.bonus"])
                if not self._b_lo[i] - _GRID_EPS <= b <= self._b_hi[i] + _GRID_EPS:
                    raise ValueError(
                        f"`values['{a}.bonus']` must be in "
                        f"[{self._b_lo[i]}, {self._b_hi[i]}], got {b}"
                    )
                b = self._snap_bonus(i, b)
            else:
                b = float(self._b_lo[i])
            if self._lt_search[i]:
                u = float(values[f"{a}.lt_frac"])
                if not -_GRID_EPS <= u <= 1.0 + _GRID_EPS:
                    raise ValueError(f"`values['{a}.lt_frac']` must be in [0, 1], got {u}")
                lt[i] = self._lt_from_frac(i, b, min(max(u, 0.0), 1.0))
            else:
                lt[i] = float(self._lt_lo[i])
            bonus[i] = b
            held = None if self.ltv_fixed is None else float(self.ltv_fixed[i])
            if held is not None and not np.isnan(held):
                ltv[i] = min(held, lt[i])
            else:
                ltv[i] = max(round(lt[i] - float(self.ltv_buffer[i]), _DECIMALS), 0.0)
        kw: dict[str, Any] = {}
        if "close_factor" in spec:
            cf = float(values["close_factor"])
            if cf not in self.close_factor:  # type: ignore[operator]
                raise ValueError(
                    f"`values['close_factor']` must be one of {self.close_factor}, got {cf}"
                )
            kw["close_factor"] = cf
        elif self.close_factor is not None:
            kw["close_factor"] = self.close_factor[0]
        params = RiskParams(
            assets=self.assets, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus, **kw
        )
        bad = params.violations()
        if bad:  # cannot happen for a validated space; guard the invariant anyway
            raise RuntimeError("search space produced invalid parameters: " + "; ".join(bad))
        return params

    def values_from_params(self, params: RiskParams) -> dict[str, Any]:
        """Find the searched values that reproduce ``params`` as closely as the space allows.

        Used to enqueue known parameter sets (the current parameters, the convex-core solution).
        Values outside the space are clipped into it, a bonus goes to the nearest grid value, an LT
        down to the grid value at or below it (toward safety), a close factor to the nearest
        choice. ``params_from_values(values_from_params(p))`` equals ``p`` exactly when ``p`` lies
        in the space, on the grid, with ``LTV = LT - ltv_buffer``.

        Parameters
        ----------
        params : RiskParams
            Over the same assets as the space (any order).

        Returns
        -------
        dict of str to float
        """
        if not isinstance(params, RiskParams):
            raise TypeError(f"`params` must be a RiskParams, got {type(params).__name__}")
        if set(params.assets) != set(self.assets):
            raise ValueError(
                f"`params` covers assets {list(params.assets)}, "
                f"the search space {list(self.assets)}"
            )
        p = params.subset(self.assets)
        out: dict[str, Any] = {}
        for i, a in enumerate(self.assets):
            b = (
                self._snap_bonus(i, float(p.liquidation_bonus[i]))
                if self._b_search[i]
                else float(self._b_lo[i])
            )
            if self._b_search[i]:
                out[f"{a}.bonus"] = b
            if self._lt_search[i]:
                out[f"{a}.lt_frac"] = self._frac_from_lt(i, b, float(p.liquidation_threshold[i]))
        if self.close_factor is not None and len(self.close_factor) > 1:
            out["close_factor"] = min(self.close_factor, key=lambda c: (abs(c - p.close_factor), c))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Describe the space as JSON-ready data (stored with a study to detect a changed space)."""
        out = {
            "assets": list(self.assets),
            "lt_low": self.lt_low.tolist(),
            "lt_high": self.lt_high.tolist(),
            "bonus_low": self.bonus_low.tolist(),
            "bonus_high": self.bonus_high.tolist(),
            "ltv_buffer": self.ltv_buffer.tolist(),
            "close_factor": None if self.close_factor is None else list(self.close_factor),
            "grid": self.grid,
            "slippage_margin": np.asarray(self.slippage_margin).tolist(),
        }
        if self.ltv_fixed is not None:  # absent when none is held: older studies still match
            out["ltv_fixed"] = [None if np.isnan(v) else float(v) for v in self.ltv_fixed]
        return out


def _snap_range(
    asset: str, what: str, lo: float, hi: float, g: float | None
) -> tuple[float, float]:
    """Effective bounds: unchanged when fixed or continuous, else shrunk onto the grid."""
    if g is None or lo == hi:
        return float(lo), float(hi)
    k_lo, k_hi = _k_ceil(lo, g), _k_floor(hi, g)
    if k_lo > k_hi:
        raise ValueError(
            f"{asset}: the {what} range [{lo}, {hi}] holds no value on the grid {g}; widen it"
        )
    return _on_grid(k_lo, g), _on_grid(k_hi, g)


# ------------------------------------------------------------------------------------------
# study and sampler construction (the only place)
# ------------------------------------------------------------------------------------------
def make_sampler(
    *, sampler: SamplerName = "nsga2", seed: int | None, population_size: int | None = None
) -> optuna.samplers.BaseSampler:
    """Build the multi-objective sampler.

    Parameters
    ----------
    sampler : {"nsga2", "tpe"}, default "nsga2"
        NSGA-II (optuna's default for several objectives) or multivariate TPE (better for small
        budgets, say under 100 trials).
    seed : int or None
        Sampler seed; derive it from the run's Generator (``int(rng.integers(2**32))``). None
        draws fresh entropy (not reproducible).
    population_size : int or None, default None
        NSGA-II generation size (None: optuna's 50). Only for ``"nsga2"``.

    Returns
    -------
    optuna.samplers.BaseSampler
    """
    if sampler not in _SAMPLERS:
        raise ValueError(f"`sampler` must be one of {_SAMPLERS}, got sampler={sampler!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(
            "`seed` must be an int or None (optuna samplers take int seeds), "
            f"got {type(seed).__name__}"
        )
    seed = None if seed is None else int(seed)
    if sampler == "nsga2":
        if population_size is None:
            return optuna.samplers.NSGAIISampler(seed=seed)
        if (
            isinstance(population_size, bool)
            or not isinstance(population_size, int)
            or population_size < 2
        ):
            raise ValueError(
                f"`population_size` must be an int >= 2 or None, got {population_size!r}"
            )
        return optuna.samplers.NSGAIISampler(population_size=population_size, seed=seed)
    if population_size is not None:
        raise ValueError(
            f"`population_size` applies to sampler='nsga2' only, got {population_size!r} with 'tpe'"
        )
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def check_storage(url: str, *, timeout: float = 10.0) -> None:
    """Check a database URL for an optuna study before any work is done: it parses, its driver is
    installed, a SQLite file's folder exists, and a server answers within ``timeout`` seconds.

    Raises
    ------
    ValueError
        Naming the URL (password hidden) and what is wrong.
    """
    import sqlalchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        u = make_url(url)
    except ArgumentError:
        raise ValueError(f"{url!r} is not a database URL (e.g. sqlite:///study.db, postgresql://user@host/db)") from None
    shown = u.render_as_string(hide_password=True)
    backend = u.get_backend_name()
    if backend == "sqlite":
        if u.database and u.database != ":memory:":
            folder = Path(u.database).expanduser().absolute().parent
            if not folder.is_dir():
                raise ValueError(f"{shown}: the folder {folder} of the SQLite file does not exist; create it first")
        return
    connect_args = {"connect_timeout": int(max(timeout, 1))} if backend in ("postgresql", "mysql") else {}
    try:
        engine = sqlalchemy.create_engine(u, connect_args=connect_args)
    except NoSuchModuleError:
        raise ValueError(f"{shown}: unknown database kind {backend!r}") from None
    except ImportError as err:
        raise ValueError(f"{shown}: the database driver for {backend!r} is not installed ({err}); install it, "
                         "e.g. pip install 'psycopg[binary]' for postgresql:// URLs") from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise ValueError(f"cannot connect to {shown}: {reason}") from None
    finally:
        engine.dispose()


@contextlib.contextmanager
def _setup_lock(storage: Any, study_name: str) -> Iterator[None]:
    """Serialise the set-up of one study across processes: a PostgreSQL advisory lock held on its
    own connection, or an exclusive lock on a file beside a SQLite database; none in memory."""
    url = os.fspath(storage) if isinstance(storage, (str, os.PathLike)) else None
    if url is None:
        yield
        return
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    from sqlalchemy.engine import make_url

    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite" and u.database and u.database != ":memory:":
        import fcntl

        lock = Path(u.database).expanduser().resolve()
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock.with_name(lock.name + ".lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    if backend != "postgresql":
        yield
        return
    import sqlalchemy

    key = zlib.crc32(study_name.encode()) - 2**31  # the int4 pg_advisory_lock(int, int) takes
    engine = sqlalchemy.create_engine(u, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT pg_advisory_lock(:a, :b)"), {"a": _LOCK_CLASS, "b": key})
            try:
                yield
            finally:
                con.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:a, :b)"), {"a": _LOCK_CLASS, "b": key})
    finally:
        engine.dispose()


#: First key of riskopt's PostgreSQL advisory locks (the second is the study name's CRC).
_LOCK_CLASS = 0x7269736B  # "risk"


def _make_storage(storage: str | os.PathLike[str] | BaseStorage | None) -> BaseStorage | None:
    if storage is None or isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"`storage` must be None, a file path or a database URL, got {type(storage).__name__}"
        )
    s = os.fspath(storage)
    if "://" in s:
        return RDBStorage(s)
    path = Path(s).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return RDBStorage(f"sqlite:///{path}")


def make_study(
    *,
    storage: str | os.PathLike[str] | BaseStorage | None,
    study_name: str,
    seed: int | None,
    directions: Sequence[str] = ("maximize", "minimize"),
    sampler: SamplerName = "nsga2",
    population_size: int | None = None,
    load_if_exists: bool = True,
) -> optuna.Study:
    """Create (or resume) the optuna study of a search.

    Parameters
    ----------
    storage : str, path, optuna storage or None
        None keeps the study in memory. A file path or ``"sqlite:///..."`` URL uses an
        :class:`optuna.storages.RDBStorage` on that SQLite file (created with its directory); any
        other SQLAlchemy URL (``postgresql://...``) works the same and lets several workers share
        one study.
    study_name : str
        Name of the study inside the storage.
    seed : int or None
        Sampler seed (see :func:`make_sampler`).
    directions : sequence of {"maximize", "minimize"}, default ("maximize", "minimize")
        One per objective: capital efficiency, tail measure.
    sampler : {"nsga2", "tpe"}, default "nsga2"
    population_size : int or None, default None
        NSGA-II generation size.
    load_if_exists : bool, default True
        Resume a study of that name found in ``storage`` instead of failing.

    Returns
    -------
    optuna.Study
        Its sampler is new (seeded with ``seed``); trials already in the storage are kept.

    Notes
    -----
    Sets optuna's log verbosity to WARNING, silencing its per-trial INFO lines.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not isinstance(study_name, str) or not study_name:
        raise ValueError(f"`study_name` must be a non-empty string, got {study_name!r}")
    smp = make_sampler(sampler=sampler, seed=seed, population_size=population_size)
    return optuna.create_study(
        storage=_make_storage(storage),
        sampler=smp,
        study_name=study_name,
        directions=list(directions),
        load_if_exists=load_if_exists,
    )


# ------------------------------------------------------------------------------------------
# objective and replay
# ------------------------------------------------------------------------------------------
def suggest_values(trial: optuna.trial.BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Suggest every searched parameter of ``space`` on ``trial`` (only ``trial.suggest_*``)."""
    out: dict[str, Any] = {}
    for name, spec in space.parameters().items():
        if "choices" in spec:
            out[name] = trial.suggest_categorical(name, spec["choices"])
        else:
            out[name] = trial.suggest_float(name, spec["low"], spec["high"], step=spec["step"])
    return out


def _scalar(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str) or v is None:
        return v
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _scalar(v.item())
    return _NOT_SCALAR


_NOT_SCALAR = object()


def _split_metrics(metrics: Any, tail_metric: str) -> tuple[float, float, dict[str, Any]]:
    if not isinstance(metrics, Mapping):
        raise TypeError(
            "`evaluate` must return a mapping of metric name to value, "
            f"got {type(metrics).__name__}"
        )
    for key in (EFFICIENCY_METRIC, tail_metric):
        if key not in metrics:
            raise KeyError(f"`evaluate` returned no {key!r}; it returned {sorted(metrics)}")
    efficiency, tail = float(metrics[EFFICIENCY_METRIC]), float(metrics[tail_metric])
    others = {}
    for k, v in metrics.items():
        if k in (EFFICIENCY_METRIC, tail_metric):
            continue
        s = _scalar(v)
        if s is not _NOT_SCALAR:  # arrays (per-scenario losses) are not stored with the trial
            others[str(k)] = s
    return efficiency, tail, others


def objective(
    trial: optuna.trial.BaseTrial,
    space: SearchSpace,
    evaluate: Evaluate,
    *,
    tail_metric: str = DEFAULT_TAIL_METRIC,
) -> tuple[float, float]:
    """One trial: suggest values, build the RiskParams, evaluate them.

    Parameters
    ----------
    trial : optuna.trial.Trial or FixedTrial
    space : SearchSpace
    evaluate : callable
        Pure ``evaluate(params: RiskParams) -> mapping`` with at least ``"capital_efficiency_usd"``
        and ``tail_metric``.
    tail_metric : str, default "bad_debt_cvar_usd"
        Key of the tail measure to minimise (e.g. ``"prob_bad_debt_exceeds_fund"``).

    Returns
    -------
    (float, float)
        Capital efficiency and the tail measure. The other scalar metrics are stored as the trial's
        user attribute ``"metrics"``.
    """
    values = suggest_values(trial, space)
    params = space.params_from_values(values)
    metrics = evaluate(params)
    efficiency, tail, others = _split_metrics(metrics, tail_metric)
    trial.set_user_attr(_METRICS_ATTR, others)
    return efficiency, tail


def _metrics(
    efficiency: float, tail: float, others: Mapping[str, Any], tail_metric: str
) -> dict[str, Any]:
    return {EFFICIENCY_METRIC: efficiency, tail_metric: tail, **others}


def replay(
    evaluate: Evaluate,
    space: SearchSpace,
    values: Mapping[str, Any],
    *,
    tail_metric: str = DEFAULT_TAIL_METRIC,
) -> dict[str, Any]:
    """Re-run searched values through :func:`objective` with :class:`optuna.trial.FixedTrial`.

    Parameters
    ----------
    evaluate : callable
        The same pure evaluation as the search.
    space : SearchSpace
    values : mapping of str to float
        Searched values, e.g. a trial's ``params`` (``FrontierSearch.trials_[i]["values"]``).
    tail_metric : str, default "bad_debt_cvar_usd"

    Returns
    -------
    dict
        The scalar metrics, as recorded for a trial (``FrontierSearch.trials_[i]["metrics"]``).
    """
    fixed = FixedTrial(dict(values))
    efficiency, tail = objective(fixed, space, evaluate, tail_metric=tail_metric)
    return _metrics(efficiency, tail, fixed.user_attrs[_METRICS_ATTR], tail_metric)


# ------------------------------------------------------------------------------------------
# the search
# ------------------------------------------------------------------------------------------
_OVER_BUDGET_ATTR = "over_budget"


class _StudyBudget:
    """Keep a study to ``n_trials`` counted trials, however many workers share it.

    A trial counts when it is complete, pruned, running or waiting (failed ones do not) and was
    not itself past the budget. The storage numbers trials one at a time, so the rule "a trial
    is evaluated only if fewer than ``n_trials`` counted trials have a smaller number" lets
    exactly ``n_trials`` run. It matters when a worker finds no waiting trial and samples a new
    one just as another worker took the last waiting one (optuna pops or creates a trial in one
    step, so no check can sit between): that extra trial is pruned before it is evaluated and
    marked ``over_budget``. After each trial a worker stops once no trial waits and the budget is
    full; trials other workers are still running count, so an early finisher starts nothing new
    (optuna's MaxTrialsCallback counts finished trials only).
    """

    _STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials
        self.ran = 0  #: trials this process evaluated
        self._lock = threading.Lock()  # n_jobs > 1: callbacks run on the trial threads

    @classmethod
    def counted(cls, study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
        return [t for t in study.get_trials(deepcopy=False, states=cls._STATES)
                if not t.user_attrs.get(_OVER_BUDGET_ATTR, False)]

    def spent(self, study: optuna.Study) -> bool:
        trials = self.counted(study)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        return not waiting and len(trials) >= self.n_trials

    def admit(self, study: optuna.Study, number: int) -> bool:
        """Whether trial ``number`` is inside the budget."""
        return sum(t.number < number for t in self.counted(study)) < self.n_trials

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not trial.user_attrs.get(_OVER_BUDGET_ATTR, False):
            with self._lock:
                self.ran += 1
        if self.spent(study):
            study.stop()


def _budgeted(
    trial: optuna.trial.Trial,
    *,
    study: optuna.Study,
    budget: _StudyBudget,
    inner: Callable[[optuna.trial.Trial], tuple[float, float]],
) -> tuple[float, float]:
    if not budget.admit(study, trial.number):
        trial.set_user_attr(_OVER_BUDGET_ATTR, True)
        raise optuna.TrialPruned(f"trial {trial.number} is past the budget of {budget.n_trials}")
    return inner(trial)


def _sampler_seed(seed: Any) -> int | None:
    """Derive the int sampler seed: an int as is, a Generator gives ``int(rng.integers(2**32))``."""
    if seed is None:
        return None
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**32))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    raise TypeError(
        f"`seed` must be an int, a numpy.random.Generator or None, got {type(seed).__name__}"
    )


def _json_normal(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True))


def _same_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    for k, v in a.items():
        w = b[k]
        if isinstance(v, (int, float)) and isinstance(w, (int, float)):
            if not math.isclose(float(v), float(w), rel_tol=1e-12, abs_tol=1e-12):
                return False
        elif v != w:
            return False
    return True


def _same_params(a: RiskParams, b: RiskParams) -> bool:
    return (
        a.assets == b.assets
        and np.allclose(a.ltv, b.ltv, rtol=0, atol=INVARIANT_TOL)
        and np.allclose(
            a.liquidation_threshold, b.liquidation_threshold, rtol=0, atol=INVARIANT_TOL
        )
        and np.allclose(a.liquidation_bonus, b.liquidation_bonus, rtol=0, atol=INVARIANT_TOL)
        and math.isclose(a.close_factor, b.close_factor, abs_tol=INVARIANT_TOL)
    )


class FrontierSearch(BaseEstimator):
    """Pareto search of capital efficiency against a tail measure of bad debt.

    Parameters
    ----------
    n_trials : int, default 200
        Total trials of the study. A resumed study's finished trials (complete, failed, pruned)
        count toward it: only the remainder is run.
    tail_metric : str, default "bad_debt_cvar_usd"
        Metric of ``evaluate`` to minimise (e.g. ``"prob_bad_debt_exceeds_fund"``).
    sampler : {"nsga2", "tpe"}, default "nsga2"
    storage : str, path or None, default None
        None: in memory. A SQLite file path / URL or another SQLAlchemy URL: persistent and
        resumable (see :func:`make_study`).
    study_name : str, default "riskopt"
    seed : int, numpy.random.Generator or None, default 0
        Sampler seed. An int is passed to the sampler as is; a Generator (the run's stage
        generator) gives ``int(rng.integers(2**32))``. Same seed, same trials with ``n_jobs=1``.
    timeout : float or None, default None
        Stop starting trials after this many seconds.
    n_jobs : int, default 1
        Parallel trials (threads); results are then not reproducible trial by trial.
    population_size : int or None, default None
        NSGA-II generation size (optuna's default 50 when None).

    Attributes
    ----------
    study_ : optuna.Study
    space_ : SearchSpace
    sampler_seed_ : int or None
        Seed given to the sampler.
    n_trials_run_ : int
        Trials finished by this call to :meth:`fit`, in this process (fewer than ``n_trials`` when
        resumed or when other workers share the study).
    trials_ : list of dict
        Every complete trial in trial order: ``number``, ``params`` (``RiskParams.to_dict()``),
        ``close_factor``, ``values`` (the searched values, for :func:`replay`),
        ``capital_efficiency_usd``, the ``tail_metric`` value, ``metrics`` (all scalar metrics) and
        ``enqueued``.
    frontier_ : list of dict
        The non-dominated trials, by capital efficiency ascending: ``trial``,
        ``capital_efficiency_usd``, ``tail_metric`` (its name) and value, ``bad_debt_cvar_usd`` and
        ``prob_bad_debt_exceeds_fund`` when evaluated, ``appetite`` (None until
        :func:`mark_appetites`), ``assets`` (per-asset ``ltv``, ``liquidation_threshold``,
        ``liquidation_bonus``), ``close_factor``, ``enqueued``, ``values`` and ``metrics``.
    enqueued_points_ : list of dict
        One per ``enqueue`` entry: ``index``, ``requested`` and ``params`` (the evaluated,
        grid-snapped parameters), ``adjusted`` (whether they differ), ``trial`` (None if the study
        had no budget left to evaluate it), ``values``, the two objectives, ``metrics``,
        ``on_frontier``, ``dominated_by`` (frontier trial numbers that dominate it) and
        ``equivalent_to`` (a frontier trial with the same objective values, when neither).

    Examples
    --------
    >>> search = FrontierSearch(n_trials=200, seed=int(rng.integers(2**32)))  # doctest: +SKIP
    >>> search.fit(evaluate, space, enqueue=[convex_params])  # doctest: +SKIP
    >>> marked = mark_appetites(search.frontier_, {"moderate": 1.2e6})  # doctest: +SKIP
    >>> point, why = choose(marked, "moderate")  # doctest: +SKIP
    """

    def __init__(
        self,
        n_trials: int = 200,
        tail_metric: str = DEFAULT_TAIL_METRIC,
        sampler: SamplerName = "nsga2",
        storage: str | None = None,
        study_name: str = "riskopt",
        seed: int | np.random.Generator | None = 0,
        timeout: float | None = None,
        n_jobs: int = 1,
        population_size: int | None = None,
    ) -> None:
        self.n_trials = n_trials
        self.tail_metric = tail_metric
        self.sampler = sampler
        self.storage = storage
        self.study_name = study_name
        self.seed = seed
        self.timeout = timeout
        self.n_jobs = n_jobs
        self.population_size = population_size

    def _check_params(self) -> None:
        if (
            isinstance(self.n_trials, bool)
            or not isinstance(self.n_trials, (int, np.integer))
            or self.n_trials < 1
        ):
            raise ValueError(f"`n_trials` must be an int >= 1, got n_trials={self.n_trials!r}")
        if (
            not isinstance(self.tail_metric, str)
            or not self.tail_metric
            or self.tail_metric == EFFICIENCY_METRIC
        ):
            raise ValueError(
                f"`tail_metric` must name a metric other than {EFFICIENCY_METRIC!r}, "
                f"got {self.tail_metric!r}"
            )
        if self.sampler not in _SAMPLERS:
            raise ValueError(f"`sampler` must be one of {_SAMPLERS}, got sampler={self.sampler!r}")
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and self.timeout > 0
        ):
            raise ValueError(f"`timeout` must be None or > 0 seconds, got timeout={self.timeout!r}")
        if (
            isinstance(self.n_jobs, bool)
            or not isinstance(self.n_jobs, int)
            or self.n_jobs == 0
            or self.n_jobs < -1
        ):
            raise ValueError(
                f"`n_jobs` must be an int >= 1 or -1 (all cores), got n_jobs={self.n_jobs!r}"
            )

    def _check_study(self, study: optuna.Study, space: SearchSpace) -> None:
        if tuple(study.directions) != _DIRECTIONS:
            raise ValueError(
                f"study {self.study_name!r} optimises "
                f"{[d.name.lower() for d in study.directions]}, "
                "the search needs ['maximize', 'minimize']; use another study_name"
            )
        attrs = study.user_attrs
        want_space = _json_normal(space.to_dict())
        if _SPACE_ATTR in attrs:
            if _json_normal(attrs[_SPACE_ATTR]) != want_space:
                raise ValueError(
                    f"study {self.study_name!r} in the storage was run with another search space; "
                    "use a new study_name (or the same bounds) to resume"
                )
            if attrs.get(_TAIL_ATTR) != self.tail_metric:
                raise ValueError(
                    f"study {self.study_name!r} minimises {attrs.get(_TAIL_ATTR)!r}, "
                    f"not {self.tail_metric!r}; "
                    "use a new study_name"
                )
            return
        if study.get_trials(deepcopy=False):
            raise ValueError(
                f"study {self.study_name!r} already holds trials not made by FrontierSearch; "
                "use a new study_name"
            )
        study.set_user_attr(_SPACE_ATTR, want_space)
        study.set_user_attr(_TAIL_ATTR, self.tail_metric)

    def fit(
        self,
        evaluate: Evaluate,
        space: SearchSpace,
        *,
        enqueue: Sequence[RiskParams] = (),
    ) -> FrontierSearch:
        """Run the search.

        Parameters
        ----------
        evaluate : callable
            Pure ``evaluate(params: RiskParams) -> mapping`` returning at least
            ``"capital_efficiency_usd"`` and ``tail_metric`` (other scalar metrics are kept).
        space : SearchSpace
        enqueue : sequence of RiskParams, default ()
            Starting points evaluated first (in a new study they are trials 0, 1, ...), e.g. the
            convex-core solution. Each is mapped into the space with
            :meth:`SearchSpace.values_from_params`; a point already in a resumed study is not
            enqueued again.

        Returns
        -------
        self : FrontierSearch
        """
        self._check_params()
        if not callable(evaluate):
            raise TypeError(f"`evaluate` must be callable, got {type(evaluate).__name__}")
        if not isinstance(space, SearchSpace):
            raise TypeError(f"`space` must be a SearchSpace, got {type(space).__name__}")
        starts = list(enqueue)
        for i, p in enumerate(starts):
            if not isinstance(p, RiskParams):
                raise TypeError(f"`enqueue[{i}]` must be a RiskParams, got {type(p).__name__}")
        start_values = [space.values_from_params(p) for p in starts]

        seed = _sampler_seed(self.seed)
        with _setup_lock(self.storage, self.study_name):
            # workers starting together: one creates the tables and the study and enqueues the
            # starting points, the others then find them (skip_if_exists alone is check-then-insert)
            study = make_study(
                storage=self.storage,
                study_name=self.study_name,
                seed=seed,
                sampler=self.sampler,
                population_size=self.population_size,
            )
            self._check_study(study, space)
            for i, values in enumerate(start_values):
                study.enqueue_trial(values, user_attrs={"enqueued_index": i}, skip_if_exists=True)

        budget = _StudyBudget(int(self.n_trials))
        n_before = sum(t.state != TrialState.WAITING for t in budget.counted(study))
        remaining = int(self.n_trials) - n_before
        if remaining > 0 and not budget.spent(study):
            inner = functools.partial(
                objective, space=space, evaluate=evaluate, tail_metric=self.tail_metric
            )
            study.optimize(
                functools.partial(_budgeted, study=study, budget=budget, inner=inner),
                n_trials=remaining,
                timeout=self.timeout,
                n_jobs=self.n_jobs,
                # other workers on the same storage count too (see _StudyBudget)
                callbacks=[budget],
                catch=(),
            )

        self.study_ = study
        self.space_ = space
        self.sampler_seed_ = seed
        self.n_trials_run_ = budget.ran  # by this process: other workers' trials are in the study too
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        self.trials_ = [self._trial_record(t, space) for t in complete]
        front = pareto_front(self.trials_, EFFICIENCY_METRIC, self.tail_metric)
        self.frontier_ = [self._frontier_point(t) for t in front]
        self.enqueued_points_ = [
            self._enqueued_record(i, p, v, space)
            for i, (p, v) in enumerate(zip(starts, start_values, strict=True))
        ]
        return self

    # ------------------------------------------------------------------ records
    def _trial_record(self, t: optuna.trial.FrozenTrial, space: SearchSpace) -> dict[str, Any]:
        params = space.params_from_values(t.params)
        efficiency, tail = t.values
        return {
            "number": t.number,
            "params": params.to_dict(),
            "close_factor": params.close_factor,
            "values": dict(t.params),
            EFFICIENCY_METRIC: float(efficiency),
            self.tail_metric: float(tail),
            "metrics": _metrics(
                float(efficiency),
                float(tail),
                t.user_attrs.get(_METRICS_ATTR, {}),
                self.tail_metric,
            ),
            "enqueued": "fixed_params" in t.system_attrs,
        }

    def _frontier_point(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        metrics = rec["metrics"]
        point: dict[str, Any] = {
            "trial": rec["number"],
            EFFICIENCY_METRIC: rec[EFFICIENCY_METRIC],
            "tail_metric": self.tail_metric,
            self.tail_metric: rec[self.tail_metric],
        }
        for key in ("bad_debt_cvar_usd", "prob_bad_debt_exceeds_fund"):
            if key in metrics:
                point[key] = metrics[key]
        point.update(
            appetite=None,
            assets={
                a: {k: d[k] for k in ("ltv", "liquidation_threshold", "liquidation_bonus")}
                for a, d in rec["params"].items()
            },
            close_factor=rec["close_factor"],
            enqueued=rec["enqueued"],
            values=rec["values"],
            metrics=metrics,
        )
        return point

    def _enqueued_record(
        self, index: int, requested: RiskParams, values: dict[str, Any], space: SearchSpace
    ) -> dict[str, Any]:
        evaluated = space.params_from_values(values)
        rec: dict[str, Any] = {
            "index": index,
            "requested": requested.subset(space.assets).to_dict(),
            "params": evaluated.to_dict(),
            "adjusted": not _same_params(requested.subset(space.assets), evaluated),
            "values": values,
            "trial": None,
            EFFICIENCY_METRIC: None,
            self.tail_metric: None,
            "metrics": None,
            "on_frontier": False,
            "dominated_by": [],
            "equivalent_to": None,
        }
        matches = [t for t in self.trials_ if _same_values(t["values"], values)]
        if not matches:
            return rec
        trial = min(matches, key=lambda t: (not t["enqueued"], t["number"]))
        rec.update(
            trial=trial["number"],
            metrics=trial["metrics"],
            **{
                EFFICIENCY_METRIC: trial[EFFICIENCY_METRIC],
                self.tail_metric: trial[self.tail_metric],
            },
        )
        keys = {"maximize_key": EFFICIENCY_METRIC, "minimize_key": self.tail_metric}
        on = [f["trial"] for f in self.frontier_]
        rec["on_frontier"] = trial["number"] in on
        if not rec["on_frontier"]:
            rec["dominated_by"] = [
                f["trial"] for f in self.frontier_ if dominates(f, trial, **keys)
            ]
            if not rec["dominated_by"]:
                rec["equivalent_to"] = next(
                    (
                        f["trial"]
                        for f in self.frontier_
                        if f[EFFICIENCY_METRIC] == trial[EFFICIENCY_METRIC]
                        and f[self.tail_metric] == trial[self.tail_metric]
                    ),
                    None,
                )
        return rec
