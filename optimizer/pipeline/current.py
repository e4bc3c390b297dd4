"""Current (live) parameters from a file: the Aave reference CSV, Compound's, JSON or TOML.

Files give percentages (Aave CSV: ``ltv_pct``) or fractions (JSON/TOML); everything returned is a
fraction. Reserves are matched to config tickers by the config's ``symbol`` (WETH -> eth), falling
back to the lower-case symbol.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

from optimizer.exceptions import ConfigError, DataError

Params = dict[str, float]
KEYS = ("ltv", "liquidation_threshold", "liquidation_bonus")


def protocol_symbols(cfg: Any) -> dict[str, str]:
    """Config ticker -> the protocol's symbol the reference files list it by (``[assets.x] symbol``, else upper case)."""
    return {t: (a.symbol or t.upper()) for t, a in cfg.assets.items()}


def load_current(path: str | Path, symbols: Mapping[str, str]) -> dict[str, Params]:
    """Read current parameters for the tickers in ``symbols`` (ticker -> protocol symbol).

    Tickers the file does not list are left out (the caller decides whether that is an error).
    Raises :class:`DataError` naming the file, row and column on a malformed value.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"current-parameters file not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".json", ".toml"):
        raise DataError(f"{p}: unknown format {suffix!r}; use .csv (Aave/Compound reference), .json or .toml")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{p}: current-parameters file is not UTF-8 text (byte {err.object[err.start]:#04x} at "
                        f"offset {err.start}); expected {suffix[1:].upper()}") from None
    if suffix == ".csv":
        table = _read_csv(p, text)
    elif suffix == ".json":
        try:
            table = _from_mapping(json.loads(text, object_pairs_hook=_unique_keys(p)), p)
        except json.JSONDecodeError as err:
            raise DataError(f"{p}: invalid JSON: {err}") from None
    else:
        try:
            table = _from_mapping(tomllib.loads(text), p)
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"{p}: invalid TOML: {err}") from None
    return _match(table, symbols)


def _match(table: Mapping[str, Any], symbols: Mapping[str, str]) -> dict[str, Any]:
    """Each ticker's entry of ``table``: by its symbol, lower-case symbol, ticker or upper-case ticker."""
    out: dict[str, Any] = {}
    for ticker, symbol in symbols.items():
        for key in (symbol, symbol.lower(), ticker, ticker.upper()):
            if key in table:
                out[ticker] = table[key]
                break
    return out


def _unique_keys(p: Path):
    """A ``json.loads`` hook refusing a key given twice in one object (json keeps the last silently)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise DataError(f"{p}: key {k!r} is given twice; give each asset's parameters once")
            out[k] = v
        return out

    return hook


def _finite(p: Path, where: str, values: Params) -> Params:
    for k, v in values.items():
        if not math.isfinite(v):
            raise DataError(f"{p}: {where}: {k} = {v} is not a finite number")
    return values


class _Rows(dict):
    """Parameters per asset; a second row for an asset must agree with the first (the line is kept)."""

    def __init__(self, p: Path) -> None:
        super().__init__()
        self.p, self.lines = p, {}

    def put(self, name: str, values: Params, line: int) -> None:
        values = _finite(self.p, f"line {line} ({name})", values)
        if name in self and self[name] != values:
            raise DataError(f"{self.p}: line {line} gives {name} {_show(values)}, line {self.lines[name]} gave "
                            f"{_show(self[name])}; give each asset's parameters once")
        self.setdefault(name, values)
        self.lines.setdefault(name, line)


def _show(v: Params) -> str:
    return ", ".join(f"{k}={v[k]:g}" for k in KEYS)


def _read_csv(p: Path, text: str) -> dict[str, Params]:
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise DataError(f"{p}: not a readable CSV: {err}") from None
    if not rows:
        raise DataError(f"{p}: empty file")
    cols = set(rows[0])
    table = _Rows(p)
    if {"symbol", "ltv_pct", "liquidation_threshold_pct", "liquidation_bonus_pct"} <= cols:  # Aave reference
        for n, r in enumerate(rows, start=2):
            if not r["ltv_pct"] and not r["liquidation_threshold_pct"]:
                continue  # listed reserve without a configuration yet
            try:
                values = {
                    "ltv": float(r["ltv_pct"] or 0) / 100.0,
                    "liquidation_threshold": float(r["liquidation_threshold_pct"] or 0) / 100.0,
                    "liquidation_bonus": float(r["liquidation_bonus_pct"] or 0) / 100.0,
                }
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['symbol']}): a percentage is not a number") from None
            table.put(r["symbol"], values, n)
        return table
    if {"asset", "borrowCF", "liquidateCF", "liquidation_penalty"} <= cols:  # Compound v3 reference
        # one asset sits in several markets (network, base token) with their own factors: the first
        # listed is used, as documented for --current
        first: dict[str, Params] = {}
        for n, r in enumerate(rows, start=2):
            try:
                values = {
                    "ltv": float(r["borrowCF"]),
                    "liquidation_threshold": float(r["liquidateCF"]),
                    "liquidation_bonus": float(r["liquidation_penalty"]),
                }
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['asset']}): a factor is not a number") from None
            first.setdefault(r["asset"], _finite(p, f"line {n} ({r['asset']})", values))
        return first
    if {"asset", *KEYS} <= cols:  # plain fractions
        for n, r in enumerate(rows, start=2):
            try:
                values = {k: float(r[k]) for k in KEYS}
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['asset']}): a parameter is not a number") from None
            table.put(r["asset"], values, n)
        return table
    raise DataError(
        f"{p}: unrecognised columns; expected the Aave reference (symbol, ltv_pct, liquidation_threshold_pct, "
        "liquidation_bonus_pct), Compound (asset, borrowCF, liquidateCF, liquidation_penalty) or "
        "asset, ltv, liquidation_threshold, liquidation_bonus"
    )


def _from_mapping(d: dict, p: Path) -> dict[str, Params]:
    """Plain ``{asset: {ltv, liquidation_threshold, liquidation_bonus}}``, or a riskopt params.json
    (its ``current`` block where it has one, else its parameters: version 2's ``{"value": ...}`` or
    version 1's plain fractions)."""
    from optimizer.report.json_out import parameter_value

    d = d.get("assets", d)
    table: dict[str, Params] = {}
    for name, v in d.items():
        if not isinstance(v, dict):
            raise DataError(f"{p}: entry {name!r} must be a table of {', '.join(KEYS)}")
        if isinstance(v.get("current"), dict):
            v = v["current"]
        missing = [k for k in KEYS if k not in v]
        if missing:
            raise DataError(f"{p}: entry {name!r} lacks {missing[0]!r}")
        try:
            table[name] = _finite(p, f"entry {name!r}", {k: parameter_value(v[k]) for k in KEYS})
        except (TypeError, ValueError, KeyError):
            raise DataError(f"{p}: entry {name!r}: parameters must be numbers (fractions)") from None
    return table


def apply_current(cfg, current: Mapping[str, Params]):
    """A config whose ``[assets.*] current`` tables are replaced by ``current`` where given."""
    import dataclasses

    from optimizer.pipeline.config import CurrentParams

    assets = {}
    for t, a in cfg.assets.items():
        if t in current:
            c = current[t]
            try:
                cp = CurrentParams(**{k: float(c[k]) for k in KEYS})
            except (KeyError, TypeError) as err:
                raise ConfigError(f"current parameters for {t}: {err}") from None
            a = dataclasses.replace(a, current=cp)
        assets[t] = a
    return dataclasses.replace(cfg, assets=assets)


#: Columns of the Aave reference CSV that hold a reserve's caps (whole tokens; 0 or blank: no cap).
CAP_COLUMNS = ("supply_cap_tokens", "borrow_cap_tokens")


def load_current_caps(path: str | Path, symbols: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Live supply and borrow caps, in tokens, for the tickers in ``symbols`` (ticker -> protocol symbol).

    Read from the Aave reference CSV (``supply_cap_tokens``, ``borrow_cap_tokens``, ``caps_last_seen``),
    matched as :func:`load_current` matches parameters. A cap of 0 or blank is ``None``: Aave reads 0 as
    "no cap". Tickers the file does not list are left out. Returns ticker -> ``{"supply_cap_tokens",
    "borrow_cap_tokens", "last_seen"}``.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"current-caps file not found: {p}")
    try:
        rows = list(csv.DictReader(io.StringIO(p.read_text(encoding="utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{p}: not a readable CSV: {err}") from None
    if not rows:
        raise DataError(f"{p}: empty file")
    missing = [c for c in ("symbol", *CAP_COLUMNS) if c not in rows[0]]
    if missing:
        raise DataError(f"{p}: no column {missing[0]!r}; the caps come from the Aave reference CSV "
                        f"(symbol, {', '.join(CAP_COLUMNS)})")
    table: dict[str, dict[str, Any]] = {}
    for n, r in enumerate(rows, start=2):
        caps: dict[str, Any] = {}
        for col in CAP_COLUMNS:
            try:
                v = float(r[col] or 0)
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['symbol']}): {col} = {r[col]!r} is not a number") from None
            if not math.isfinite(v) or v < 0:
                raise DataError(f"{p}: line {n} ({r['symbol']}): {col} = {r[col]!r} must be a finite number >= 0")
            caps[col] = v if v > 0 else None
        caps["last_seen"] = r.get("caps_last_seen") or None
        if r["symbol"] in table and table[r["symbol"]] != caps:
            raise DataError(f"{p}: line {n} gives {r['symbol']} other caps than an earlier line; give each once")
        table.setdefault(r["symbol"], caps)
    return _match(table, symbols)
