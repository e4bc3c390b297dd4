"""Current (live) parameters from a file: the Aave reference CSV, Compound's, JSON or TOML.

Files give percentages (Aave CSV: ``ltv_pct``) or fractions (JSON/TOML); everything returned is a
fraction. Reserves are matched to config tickers by the config's ``symbol`` (WETH -> eth), falling
back to the lower-case symbol.
"""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path
from typing import Mapping

from optimizer.exceptions import ConfigError, DataError

Params = dict[str, float]
KEYS = ("ltv", "liquidation_threshold", "liquidation_bonus")


def load_current(path: str | Path, symbols: Mapping[str, str]) -> dict[str, Params]:
    """Read current parameters for the tickers in ``symbols`` (ticker -> protocol symbol).

    Tickers the file does not list are left out (the caller decides whether that is an error).
    Raises :class:`DataError` naming the file, row and column on a malformed value.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"current-parameters file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(p)
    elif suffix == ".json":
        try:
            table = _from_mapping(json.loads(p.read_text(encoding="utf-8")), p)
        except json.JSONDecodeError as err:
            raise DataError(f"{p}: invalid JSON: {err}") from None
    elif suffix == ".toml":
        try:
            table = _from_mapping(tomllib.loads(p.read_text(encoding="utf-8")), p)
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"{p}: invalid TOML: {err}") from None
    else:
        raise DataError(f"{p}: unknown format {suffix!r}; use .csv (Aave/Compound reference), .json or .toml")
    out: dict[str, Params] = {}
    for ticker, symbol in symbols.items():
        for key in (symbol, symbol.lower(), ticker, ticker.upper()):
            if key in table:
                out[ticker] = table[key]
                break
    return out


def _read_csv(p: Path) -> dict[str, Params]:
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DataError(f"{p}: empty file")
    cols = set(rows[0])
    table: dict[str, Params] = {}
    if {"symbol", "ltv_pct", "liquidation_threshold_pct", "liquidation_bonus_pct"} <= cols:  # Aave reference
        for n, r in enumerate(rows, start=2):
            if not r["ltv_pct"] and not r["liquidation_threshold_pct"]:
                continue  # listed reserve without a configuration yet
            try:
                table[r["symbol"]] = {
                    "ltv": float(r["ltv_pct"] or 0) / 100.0,
                    "liquidation_threshold": float(r["liquidation_threshold_pct"] or 0) / 100.0,
                    "liquidation_bonus": float(r["liquidation_bonus_pct"] or 0) / 100.0,
                }
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['symbol']}): a percentage is not a number") from None
        return table
    if {"asset", "borrowCF", "liquidateCF", "liquidation_penalty"} <= cols:  # Compound v3 reference
        for n, r in enumerate(rows, start=2):
            try:
                table.setdefault(r["asset"], {
                    "ltv": float(r["borrowCF"]),
                    "liquidation_threshold": float(r["liquidateCF"]),
                    "liquidation_bonus": float(r["liquidation_penalty"]),
                })
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['asset']}): a factor is not a number") from None
        return table
    if {"asset", *KEYS} <= cols:  # plain fractions
        for n, r in enumerate(rows, start=2):
            try:
                table[r["asset"]] = {k: float(r[k]) for k in KEYS}
            except ValueError:
                raise DataError(f"{p}: line {n} ({r['asset']}): a parameter is not a number") from None
        return table
    raise DataError(
        f"{p}: unrecognised columns; expected the Aave reference (symbol, ltv_pct, liquidation_threshold_pct, "
        "liquidation_bonus_pct), Compound (asset, borrowCF, liquidateCF, liquidation_penalty) or "
        "asset, ltv, liquidation_threshold, liquidation_bonus"
    )


def _from_mapping(d: dict, p: Path) -> dict[str, Params]:
    d = d.get("assets", d)
    table: dict[str, Params] = {}
    for name, v in d.items():
        if not isinstance(v, dict):
            raise DataError(f"{p}: entry {name!r} must be a table of {', '.join(KEYS)}")
        v = v.get("current", v) if "current" in v else v
        missing = [k for k in KEYS if k not in v]
        if missing:
            raise DataError(f"{p}: entry {name!r} lacks {missing[0]!r}")
        try:
            table[name] = {k: float(v[k]) for k in KEYS}
        except (TypeError, ValueError):
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
