"""Input checks shared by the estimators.

Every estimator accepts daily log returns (decimals) as a :class:`pandas.DataFrame` indexed by dates
with lower-case ticker columns, a :class:`pandas.Series` (one asset) or a 2-D :class:`numpy.ndarray`
(assets named ``"x0" .. "x{n-1}"``). The checks here turn any of those into a float64 array plus the
index and names, and raise :class:`ValueError` with the column, the rule and the value received.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from optimizer.exceptions import DataQualityWarning
from optimizer.typing import FloatArray

#: A daily standard deviation above this (100 % a day) almost certainly means percent returns.
_MAX_PLAUSIBLE_DAILY_STD = 1.0


def check_returns(
    returns: Any,
    *,
    min_obs: int,
    owner: str,
    arg: str = "returns",
    check_scale: bool = True,
    allow_nan: bool = False,
) -> tuple[FloatArray, pd.Index, list[str]]:
    """Validate a returns panel and split it into values, index and asset names.

    Parameters
    ----------
    returns : DataFrame, Series or ndarray of shape (n_observations, n_assets)
        Daily log returns as decimals.
    min_obs : int
        Minimum number of observations ``owner`` needs.
    owner : str
        Name used in messages (usually the estimator class).
    arg : str, default="returns"
        Argument name used in messages.
    check_scale : bool, default=True
        Warn (:class:`DataQualityWarning`) when a column's daily standard deviation exceeds 100 %,
        the signature of percent returns passed as decimals. Off for standardized residuals.
    allow_nan : bool, default=False
        Accept NaN cells (missing observations, e.g. an asset's trading gap); infinite values are
        still rejected. ``min_obs`` then applies to each column's count of finite values, and the
        scale check uses the finite values only.

    Returns
    -------
    values : ndarray of shape (n_observations, n_assets)
        The returns as a C-contiguous float64 array (a copy); NaN only if ``allow_nan``.
    index : Index
        The input's index, or a ``RangeIndex`` for arrays.
    names : list of str
        Asset names: the DataFrame columns (as str) or ``"x0" .. "x{n-1}"``.

    Raises
    ------
    TypeError
        If ``returns`` is not a DataFrame, Series or ndarray.
    ValueError
        If it is not 2-D, has no column, duplicate names, non-numeric or infinite values, NaN
        values (unless ``allow_nan``), or fewer than ``min_obs`` rows (with ``allow_nan`` and
        NaN present: a column with fewer than ``min_obs`` finite values; the message names the
        column and its count).
    """
    if isinstance(returns, pd.Series):
        returns = returns.to_frame(name=returns.name if returns.name is not None else "x0")
    if isinstance(returns, pd.DataFrame):
        names = [str(c) for c in returns.columns]
        index = returns.index
        try:
            values = returns.to_numpy(dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            bad = [str(c) for c in returns.columns if not pd.api.types.is_numeric_dtype(returns[c])]
            raise ValueError(
                f"`{arg}` must be numeric; non-numeric column(s) {bad} given to {owner}"
            ) from None
    elif isinstance(returns, np.ndarray):
        if returns.ndim != 2:
            raise ValueError(
                f"`{arg}` must be 2-D (n_observations, n_assets), got an array of shape "
                f"{returns.shape}; use returns.reshape(-1, 1) for a single asset"
            )
        try:
            values = np.array(returns, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise ValueError(f"`{arg}` must be numeric, got dtype {returns.dtype}") from None
        names = [f"x{j}" for j in range(values.shape[1])]
        index = pd.RangeIndex(values.shape[0])
    else:
        raise TypeError(
            f"`{arg}` must be a pandas DataFrame, Series or 2-D numpy array, "
            f"got {type(returns).__name__}"
        )

    n_obs, n_assets = values.shape
    if n_assets == 0:
        raise ValueError(f"`{arg}` has no asset column")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"`{arg}` has duplicate asset column(s) {dup}")
    finite = np.isfinite(values)
    if allow_nan and np.isinf(values).any():
        j = int(np.flatnonzero(np.isinf(values).any(axis=0))[0])
        bad_rows = np.flatnonzero(np.isinf(values[:, j]))
        raise ValueError(
            f"`{arg}` column {names[j]!r} has {bad_rows.size} infinite value(s), first at "
            f"{index[bad_rows[0]]}; only NaN marks a missing observation"
        )
    has_nan = not finite.all()
    if has_nan and not allow_nan:
        j = int(np.flatnonzero(~finite.all(axis=0))[0])
        bad_rows = np.flatnonzero(~finite[:, j])
        raise ValueError(
            f"`{arg}` column {names[j]!r} has {bad_rows.size} NaN or infinite value(s), first at "
            f"{index[bad_rows[0]]}; drop or fill them before calling {owner}.fit"
        )
    if has_nan:
        counts = finite.sum(axis=0)
        j = int(np.argmin(counts))
        if counts[j] < max(min_obs, 1):
            raise ValueError(
                f"{owner} needs at least {max(min_obs, 1)} finite observations per asset; "
                f"`{arg}` column {names[j]!r} has {int(counts[j])} (of n_observations={n_obs}, "
                "the rest NaN)"
            )
    elif n_obs < min_obs:
        raise ValueError(
            f"{owner} needs at least {min_obs} observations, got n_observations={n_obs} "
            f"(for {n_assets} asset(s))"
        )
    if check_scale and n_obs > 1:
        std = np.nanstd(values, axis=0) if has_nan else values.std(axis=0)
        loud = [names[j] for j in np.flatnonzero(std > _MAX_PLAUSIBLE_DAILY_STD)]
        if loud:
            warnings.warn(
                f"`{arg}` column(s) {loud} have a daily standard deviation above "
                f"{_MAX_PLAUSIBLE_DAILY_STD:.0%}; returns must be decimals (0.01 = 1 %), "
                "not percent",
                DataQualityWarning,
                stacklevel=3,
            )
    return np.ascontiguousarray(values), index, names


def check_fraction(value: Any, name: str, *, low: float, high: float, closed: str) -> float:
    """Check that a scalar hyperparameter lies in an interval.

    Parameters
    ----------
    value : float
        Value received.
    name : str
        Argument name used in the message.
    low, high : float
        Interval bounds.
    closed : {"neither", "left", "right", "both"}
        Which bounds are included.

    Returns
    -------
    float
        ``value`` as a float.

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number in the interval.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}") from None
    lo_ok = v >= low if closed in ("left", "both") else v > low
    hi_ok = v <= high if closed in ("right", "both") else v < high
    if not (np.isfinite(v) and lo_ok and hi_ok):
        lb = "[" if closed in ("left", "both") else "("
        rb = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"`{name}` must be in {lb}{low}, {high}{rb}, got {name}={value!r}")
    return v


def check_int(value: Any, name: str, *, minimum: int) -> int:
    """Check that a hyperparameter is an integer ``>= minimum``.

    Parameters
    ----------
    value : int
        Value received.
    name : str
        Argument name used in the message.
    minimum : int
        Smallest accepted value.

    Returns
    -------
    int
        ``value`` as an int.

    Raises
    ------
    ValueError
        If ``value`` is not an integer (bools rejected) or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {name}={value}")
    return int(value)
