"""`--current FILE` reads a riskopt params.json of either format version."""

from __future__ import annotations

import json

import pytest

from optimizer.exceptions import DataError
from optimizer.pipeline.current import load_current


def _v(x, unrounded=None):
    return {"value": x, "bps": round(x * 1e4), "unrounded": x if unrounded is None else unrounded, "band": None}


def test_params_json_version_2_and_1(tmp_path):
    v2 = {"meta": {"format_version": 2}, "assets": {
        # its live block where it has one ...
        "eth": {"ltv": _v(0.7925, 0.79261), "liquidation_threshold": _v(0.8175, 0.81761),
                "liquidation_bonus": _v(0.05), "haircut": 0.2075,
                "current": {"ltv": 0.805, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05, "haircut": 0.195}},
        # ... else its parameters (a config without live ones writes current: null)
        "wbtc": {"ltv": _v(0.7), "liquidation_threshold": _v(0.75, 0.7512), "liquidation_bonus": _v(0.05),
                 "haircut": 0.3, "current": None}}}
    p2 = tmp_path / "v2.json"
    p2.write_text(json.dumps(v2))
    got = load_current(p2, {"eth": "WETH", "wbtc": "WBTC"})
    assert got["eth"] == {"ltv": 0.805, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05}
    assert got["wbtc"] == {"ltv": 0.7, "liquidation_threshold": 0.75, "liquidation_bonus": 0.05}  # the grid value
    v1 = {"assets": {"wbtc": {"ltv": 0.7012, "liquidation_threshold": 0.7512, "liquidation_bonus": 0.05,
                              "current": None}}}
    p1 = tmp_path / "v1.json"
    p1.write_text(json.dumps(v1))
    assert load_current(p1, {"wbtc": "WBTC"})["wbtc"]["liquidation_threshold"] == 0.7512


def test_parameter_object_without_value_is_refused(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"assets": {"eth": {"ltv": {"bps": 7925}, "liquidation_threshold": 0.8,
                                                "liquidation_bonus": 0.05}}}))
    with pytest.raises(DataError, match=r"entry 'eth': parameters must be numbers"):
        load_current(p, {"eth": "WETH"})
