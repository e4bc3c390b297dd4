"""Value canonicalisation (for params.json) and display formatting (for Markdown and HTML).

Two separate concerns live here because both must agree on what a missing value is:
``None``, NaN and infinities are "missing" everywhere (``null`` in JSON, ``—`` on screen).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

#: Significant digits kept for every float in params.json.
JSON_SIGNIFICANT_DIGITS = 10

#: Text shown for a missing value (None, NaN, inf): a dash, as a printed table leaves an empty cell.
MISSING = "—"


# ---------------------------------------------------------------------------------------------------------------
# Canonicalisation for JSON
# ---------------------------------------------------------------------------------------------------------------


def round_significant(x: float, digits: int = JSON_SIGNIFICANT_DIGITS) -> float | None:
    """Round ``x`` to ``digits`` significant digits; NaN and infinities become None, -0.0 becomes 0.0."""
    if not math.isfinite(x):
        return None
    if x == 0.0:
        return 0.0
    return float(f"{x:.{digits}g}")


def canonicalize(obj: Any, *, digits: int = JSON_SIGNIFICANT_DIGITS, _path: str = "$") -> Any:
    """Convert ``obj`` to plain JSON types with floats rounded to ``digits`` significant digits.

    numpy scalars and arrays, pandas Series and timestamps, dates, paths, enums, dataclasses, tuples and
    sets are converted; dict keys become strings. NaN and infinities become None so the output is strict
    JSON. Rounding removes last-bit platform noise, so the same run gives the same bytes everywhere.

    Raises
    ------
    TypeError
        For any other type; the message gives the path of the offending value (``$.sections.x[2]``).
    """
    if obj is None or obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, Enum):
        return canonicalize(obj.value, digits=digits, _path=_path)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return round_significant(float(obj), digits)
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else pd.Timestamp(obj).isoformat()
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, Mapping):
        return {
            str(k): canonicalize(v, digits=digits, _path=f"{_path}.{k}") for k, v in obj.items()
        }
    if isinstance(obj, pd.Series):
        return canonicalize(obj.to_dict(), digits=digits, _path=_path)
    if isinstance(obj, np.ndarray):
        return canonicalize(obj.tolist(), digits=digits, _path=_path)
    if isinstance(obj, (list, tuple)):
        return [canonicalize(v, digits=digits, _path=f"{_path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        items = [canonicalize(v, digits=digits, _path=f"{_path}[]") for v in obj]
        return sorted(items, key=repr)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return canonicalize(
            {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, digits=digits, _path=_path
        )
    raise TypeError(
        f"value at {_path} of type {type(obj).__name__} cannot be written to params.json; "
        "convert it to a number, string, list or dict first"
    )


# ---------------------------------------------------------------------------------------------------------------
# Display formatting
# ---------------------------------------------------------------------------------------------------------------


def as_float(x: Any) -> float | None:
    """``x`` as a finite float, or None when missing, non-numeric or not finite."""
    if x is None or isinstance(x, (bool, np.bool_, str)):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_pct(x: Any, decimals: int = 2) -> str:
    """A fraction as a percentage: ``0.825 -> "82.50%"``."""
    v = as_float(x)
    return MISSING if v is None else f"{v * 100:.{decimals}f}%"


def fmt_prob(x: Any) -> str:
    """A probability as a percentage with enough digits for rare events: ``0.00012 -> "0.012%"``."""
    v = as_float(x)
    if v is None:
        return MISSING
    if v == 0.0:
        return "0%"
    pct = v * 100
    if abs(pct) >= 1:
        return f"{pct:.2f}%"
    if abs(pct) >= 0.01:
        return f"{pct:.3f}%"
    return f"{pct:.2g}%"


def fmt_bps(delta: Any) -> str:
    """A change of a fraction in basis points with its sign: ``0.005 -> "+50 bps"``, ``0 -> "0 bps"``."""
    v = as_float(delta)
    if v is None:
        return MISSING
    bps = v * 10_000
    rounded = round(bps)
    if abs(bps - rounded) < 0.05:
        if rounded == 0:
            return "0 bps"
        return f"{rounded:+d} bps"
    return f"{bps:+.1f} bps"


def fmt_usd(x: Any, decimals: int | None = None) -> str:
    """Dollars with thousands separators: whole dollars from $1,000, cents below (or ``decimals``)."""
    v = as_float(x)
    if v is None:
        return MISSING
    sign = "-" if v < 0 else ""
    a = abs(v)
    if decimals is not None:
        return f"{sign}${a:,.{decimals}f}"
    if a >= 1000 or a == 0:
        return f"{sign}${a:,.0f}"
    return f"{sign}${a:,.2f}"


def fmt_usd_short(x: Any) -> str:
    """Dollars abbreviated for axes and dense tables: ``$1.2M``, ``$350k``, ``$42``."""
    v = as_float(x)
    if v is None:
        return MISSING
    sign = "-" if v < 0 else ""
    a = abs(v)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{sign}${a / scale:.3g}{suffix}"
    return f"{sign}${a:.3g}" if a else "$0"


def fmt_num(x: Any, sig: int = 4) -> str:
    """A plain number with ``sig`` significant digits (integers stay whole)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return f"{int(x):,}"
    v = as_float(x)
    if v is None:
        return MISSING
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.{sig}g}"


def fmt_text(x: Any) -> str:
    """Any value as short text: None -> —, floats via :func:`fmt_num`, lists joined with commas."""
    if x is None or x is pd.NaT or x is pd.NA:
        return MISSING
    if isinstance(x, Enum):
        x = x.value
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, float, np.integer, np.floating)):
        return fmt_num(x)
    if isinstance(x, (pd.Timestamp, _dt.datetime)):
        if x.tzinfo is None and (x.hour, x.minute, x.second, x.microsecond) == (0, 0, 0, 0):
            return x.date().isoformat()
        return x.isoformat()
    if isinstance(x, _dt.date):
        return x.isoformat()
    if isinstance(x, Mapping):
        return ", ".join(f"{k}={fmt_text(v)}" for k, v in x.items())
    if isinstance(x, (list, tuple, np.ndarray)):
        return ", ".join(fmt_text(v) for v in x)
    return str(x)


def fmt_auto(key: str, x: Any) -> str:
    """Format ``x`` by the naming convention of ``key``.

    ``*_usd`` -> dollars; ``prob_*`` / ``p_*`` / ``*_prob`` -> probability; ``*_bps`` -> basis points
    as given; ``*_pct`` -> already a percentage; ``*_frac`` / ``*_share`` / ``ltv`` / ``liquidation_*`` /
    ``haircut`` -> fraction as percent; anything else -> :func:`fmt_text`.
    """
    k = key.lower()
    if isinstance(x, (str, list, tuple, Mapping)) or x is None:
        return fmt_text(x)
    if k.endswith("_usd") or k.startswith("usd_"):
        return fmt_usd(x)
    if k.startswith(("prob_", "p_")) or k.endswith(("_prob", "_probability")):
        return fmt_prob(x)
    if k.endswith("_bps"):
        v = as_float(x)
        return MISSING if v is None else f"{v:g} bps"
    if k.endswith("_pct"):
        v = as_float(x)
        return MISSING if v is None else f"{v:.2f}%"
    if (
        k.endswith(("_frac", "_share", "_fraction"))
        or k in {"ltv", "haircut", "alpha", "slippage"}
        or k.startswith("liquidation_")
    ):
        return fmt_pct(x)
    return fmt_text(x)


def confidence_label(alpha: Any) -> str:
    """``0.99`` or ``0.01`` -> ``"99%"`` (the tail is the smaller side); empty when unknown."""
    a = as_float(alpha)
    if a is None or not 0 < a < 1:
        return ""
    return f"{(a if a >= 0.5 else 1 - a) * 100:.4g}%"


def humanize(key: str) -> str:
    """``"capital_efficiency_usd" -> "Capital efficiency (USD)"``; used for keys without a known label."""
    words = key.replace("-", "_").split("_")
    unit = ""
    if len(words) > 1 and words[-1].lower() in {"usd", "bps", "pct"}:
        unit = {"usd": " (USD)", "bps": " (bps)", "pct": " (%)"}[words.pop().lower()]
    text = " ".join(w for w in words if w)
    return (text[:1].upper() + text[1:] + unit) if text else key


#: Units and short phrases a table cell must not break inside ("(-113.4 / bps)" at 1280 px).
_GLUED = ((" bps", "\u00a0bps"), (" bp", "\u00a0bp"), (" pp", "\u00a0pp"), ("(no change)", "(no\u00a0change)"),
          ("± ", "±\u00a0"))


def keep_units(x: Any) -> str:
    """HTML cell text with a no-break space between a number and its unit, so a narrow column wraps
    between values ("80.50% → 79.37%" / "(-113.4 bps)"), never inside one."""
    s = str(x)
    for a, b in _GLUED:
        s = s.replace(a, b)
    return s


def md_cell(x: Any) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks flattened."""
    s = fmt_text(x) if not isinstance(x, str) else x
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_inline(x: Any) -> str:
    """Text safe on one Markdown line (no accidental table or heading), keeping ordinary punctuation."""
    s = fmt_text(x) if not isinstance(x, str) else x
    return " ".join(s.split())


def utc_timestamp() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ`` (the ``created_utc`` of every report)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
