"""``params.json``: the machine-readable answer of a run, byte-for-byte reproducible.

The same inputs, seed and library versions give the same bytes: keys are sorted, floats are rounded to
:data:`~optimizer.report._format.JSON_SIGNIFICANT_DIGITS` significant digits, NaN and infinities are
written as ``null``, and nothing measured by a clock is included: ``run_info`` is left out, and any key
named ``created``, ``created_at``, ``timestamp`` or ending in ``_utc`` or ``_seconds`` is dropped
wherever it appears (for example ``method["solve_seconds"]``). Those belong in report.md/report.html.

Layout (``FORMAT_VERSION`` 2)::

    {"meta": {"format_version", "package_version", "config_sha256", "data_sha256", "seed",
              "versions", "as_of", "data_files", ...},
     "config_name", "status", "status_message",
     "assets": {"<ticker>": {"ltv" | "liquidation_threshold" | "liquidation_bonus":
                                 {"value", "bps", "unrounded", "band"},
                             "haircut",
                             "current": {...} | null, "drivers", "references", "binding",
                             "policy": {"ltv_held_at", "lt_rule", "lt_cap", "risk_limit_lt"} | null}},

``value`` is the parameter a delegate posts, on the protocol's grid (``method.grid``: the step, and the
program's CVaR before and after rounding); ``bps`` the same in whole basis points (the protocol's
storage unit); ``unrounded`` the program's answer; ``band`` its Monte Carlo 95 % half-width or null.
``haircut`` is ``1 - ltv.value``, ``current`` the live parameters as plain fractions. Version 1 gave
each parameter as a plain fraction and the bands in a separate ``band`` mapping;
:func:`parameter_value` reads either.
     "insurance_fund_usd", "fund": {..., "curve": [[fund_usd, prob_exceed], ...]},
     "metrics", "metrics_current" | null, "metrics_band": {"recommended", "current"} | null, "method",
     "book_summary", "data_findings",
     "<data_key>": ... for each section of RunReport.sections that carries data}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from optimizer.optimize import bps
from optimizer.report._format import JSON_SIGNIFICANT_DIGITS, canonicalize
from optimizer.report.model import FORMAT_VERSION, RunReport

#: Keys of ``meta`` always written (null when the report lacks them), so the layout is stable.
META_KEYS = (
    "format_version",
    "package_version",
    "config_sha256",
    "data_sha256",
    "seed",
    "versions",
    "as_of",
    "data_files",
)

#: Top-level keys owned by the report itself; a section's data may not reuse them.
RESERVED_KEYS = frozenset(
    {
        "meta", "config_name", "status", "status_message", "assets", "insurance_fund_usd", "fund",
        "metrics", "metrics_current", "metrics_band", "method", "book_summary", "data_findings",
    }
)

_WALL_CLOCK_NAMES = frozenset({"created", "created_at", "timestamp"})
_WALL_CLOCK_SUFFIXES = ("_utc", "_seconds")


def is_wall_clock_key(key: str) -> bool:
    """True for keys whose values depend on when or how fast the run happened."""
    k = str(key).lower()
    return k in _WALL_CLOCK_NAMES or k.endswith(_WALL_CLOCK_SUFFIXES)


#: Mappings whose keys are names (files, libraries), not fields: never stripped.
_NAME_KEYED = frozenset({"data_files", "versions"})


def _strip_wall_clock(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {
            k: (v if k in _NAME_KEYED else _strip_wall_clock(v))
            for k, v in obj.items()
            if not is_wall_clock_key(k)
        }
    if isinstance(obj, (list, tuple)):
        return [_strip_wall_clock(v) for v in obj]
    return obj


#: The protocol parameters params.json gives as ``{"value", "bps", "unrounded", "band"}`` (version 2).
PARAMETER_KEYS = ("ltv", "liquidation_threshold", "liquidation_bonus")


def parameter_value(entry: Any) -> float:
    """A parameter of a params.json asset entry as a fraction, from either layout: version 2's
    ``{"value": ...}`` or version 1's plain number (readers of user files accept both)."""
    if isinstance(entry, Mapping):
        entry = entry["value"]
    return float(entry)


def _parameter(value: float, unrounded: float | None, band: float | None) -> dict[str, Any]:
    return {"value": value, "bps": bps(value), "unrounded": value if unrounded is None else unrounded,
            "band": band}


def params_dict(report: RunReport) -> dict[str, Any]:
    """The content of params.json as plain JSON types (already canonicalised).

    Raises
    ------
    ValueError
        When a section's data would overwrite one of :data:`RESERVED_KEYS` or another section's.
    TypeError
        When a value cannot be represented in JSON (the message gives its path).
    """
    meta = dict(report.meta or {})
    meta.setdefault("format_version", FORMAT_VERSION)
    for key in META_KEYS:
        meta.setdefault(key, None)

    assets: dict[str, Any] = {}
    for a in report.assets:
        if a.asset in assets:
            raise ValueError(f"asset {a.asset!r} appears twice in RunReport.assets")
        entry: dict[str, Any] = dict(a.recommended)
        if "haircut" not in entry and entry.get("ltv") is not None:
            entry["haircut"] = 1.0 - float(entry["ltv"])
        band, unrounded = a.band or {}, a.unrounded or {}
        for k in PARAMETER_KEYS:
            if entry.get(k) is not None:
                entry[k] = _parameter(float(entry[k]), unrounded.get(k), band.get(k))
        entry.update(
            current=None if a.current is None else dict(a.current),
            drivers=dict(a.drivers),
            references=dict(a.references),
            binding=a.binding,
            policy=None if a.policy is None else dict(a.policy),
        )
        assets[a.asset] = entry

    fund = dict(report.fund or {})
    out: dict[str, Any] = {
        "meta": meta,
        "config_name": report.config_name,
        "status": report.status,
        "status_message": report.status_message,
        "assets": assets,
        "insurance_fund_usd": report.insurance_fund_usd,
        "fund": fund,
        "metrics": dict(report.metrics or {}),
        "metrics_current": None if report.metrics_current is None else dict(report.metrics_current),
        "metrics_band": None if report.metrics_band is None else {k: dict(v) for k, v in report.metrics_band.items()},
        "method": dict(report.method or {}),
        "book_summary": dict(report.book_summary or {}),
        "data_findings": [dict(f) for f in report.data_findings],
    }
    for name, section in report.sections.items():
        if section.data is None:
            continue
        key = section.data_key or name
        if key in RESERVED_KEYS:
            raise ValueError(
                f"section {name!r} would overwrite the params.json key {key!r}; rename the section's data_key"
            )
        if key in out:
            raise ValueError(f"two sections write the params.json key {key!r}; give one another data_key")
        out[key] = section.data
    return canonicalize(_strip_wall_clock(out), digits=JSON_SIGNIFICANT_DIGITS)


def params_json(report: RunReport) -> str:
    """params.json as text: sorted keys, two-space indent, trailing newline, strict JSON (no NaN)."""
    text = json.dumps(params_dict(report), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return text + "\n"
