from __future__ import annotations

import json

import numpy as np
import pytest

from optimizer.report import FORMAT_VERSION, params_dict, params_json
from optimizer.report.json_out import META_KEYS, is_wall_clock_key
from optimizer.report.section import Section

from .conftest import build_report


@pytest.fixture(scope="module")
def text(report):
    return params_json(report)


def test_valid_json_with_required_keys(text):
    data = json.loads(text)
    for key in ("meta", "assets", "insurance_fund_usd", "fund", "metrics", "metrics_current", "status",
                "status_message", "method", "data_findings"):
        assert key in data, key
    assert set(META_KEYS) <= set(data["meta"])
    assert data["meta"]["format_version"] == FORMAT_VERSION
    assert data["meta"]["seed"] == 20240601
    assert data["meta"]["data_files"] == {"binance_prices_daily.csv": "ab" * 32}
    assert data["status"] == "ok"


def test_assets_are_fractions_with_current_and_drivers(text):
    assets = json.loads(text)["assets"]
    assert list(assets) == ["eth", "usdc", "wbtc"]  # sorted keys
    eth = assets["eth"]
    assert eth["ltv"]["value"] == 0.81 and eth["liquidation_threshold"]["value"] == 0.835
    assert eth["liquidation_bonus"]["value"] == 0.05 and eth["haircut"] == 0.19
    assert eth["current"]["liquidation_threshold"] == 0.83  # live parameters: plain fractions
    assert eth["binding"] == "aggregate risk budget"
    assert eth["references"] == {"analytic_lt": 0.842, "smart_ltv": 0.795}
    for a in assets.values():
        assert 0.0 <= a["haircut"] < 1.0
        for k in ("ltv", "liquidation_threshold", "liquidation_bonus"):
            assert 0.0 <= a[k]["value"] < 1.0
    # NaN -> null, numpy float32 converted and rounded to 10 significant digits
    assert assets["usdc"]["drivers"]["tail_dof"] is None
    assert assets["wbtc"]["drivers"]["tail_dof"] == 5.099999905
    assert assets["usdc"]["references"]["smart_ltv"] is None


def test_sorted_keys_indent_and_trailing_newline(text):
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "NaN" not in text and "Infinity" not in text


def test_byte_identical_across_renders(report, text):
    assert params_json(report) == text
    assert params_json(build_report()) == text  # rebuilt from the same seed


def test_no_wall_clock_anywhere(text):
    assert "created_utc" not in text
    assert "2025-02-24T10:11:12Z" not in text  # run_info timestamp
    assert "runtime" not in text
    assert "solve_seconds" not in text  # method's wall-clock field
    assert "elapsed_seconds" not in text  # inside a json section
    assert "command" not in json.loads(text)["meta"]


def test_json_sections_copied(text):
    data = json.loads(text)
    assert data["backtests"] == {"christoffersen_pvalue": 0.37, "kupiec_pvalue": 0.41, "n_exceedances": 4}
    assert data["frontier"]["points"][0] == [1000000.0, 4500000000.0]


def test_fund_curve_and_metrics(text):
    data = json.loads(text)
    assert data["insurance_fund_usd"] == 2_500_000.0
    assert data["fund"]["curve"][0][0] == 0.0 and len(data["fund"]["curve"]) == 26
    assert data["metrics_current"]["prob_bad_debt"] > data["metrics"]["prob_bad_debt"]


def test_float_noise_does_not_change_bytes(report):
    noisy = build_report(insurance_fund_usd=2_500_000.0 * (1 + 1e-14))
    assert params_json(noisy) == params_json(report)


def test_missing_current_is_null():
    import dataclasses

    base = build_report()
    assets = [dataclasses.replace(a, current=None) for a in base.assets]
    data = json.loads(params_json(dataclasses.replace(base, assets=assets, metrics_current=None)))
    assert data["assets"]["eth"]["current"] is None
    assert data["metrics_current"] is None


def test_missing_meta_keys_written_as_null():
    data = params_dict(build_report(meta={"seed": 1}))
    assert data["meta"]["config_sha256"] is None
    assert data["meta"]["format_version"] == FORMAT_VERSION


def test_numpy_arrays_in_sections():
    r = build_report(sections={"x": Section("X", data={"arr": np.array([1.0, np.inf, 2.5])})})
    assert params_dict(r)["x"] == {"arr": [1.0, None, 2.5]}


def test_section_data_key_and_display_only_sections():
    r = build_report(sections={"frontier_view": Section("Frontier", data=[{"trial": 0}], data_key="frontier"),
                               "shown_only": Section("Shown only", paragraphs=("text",))})
    data = params_dict(r)
    assert data["frontier"] == [{"trial": 0}]
    assert "frontier_view" not in data and "shown_only" not in data


def test_reserved_section_key_raises():
    with pytest.raises(ValueError, match=r"section 'm' would overwrite the params.json key 'metrics'"):
        params_json(build_report(sections={"m": Section("M", data={}, data_key="metrics")}))


def test_two_sections_one_key_raises():
    with pytest.raises(ValueError, match=r"two sections write the params.json key 'x'"):
        params_json(build_report(sections={"x": Section("X", data=1), "y": Section("Y", data=2, data_key="x")}))


def test_unserialisable_value_names_its_path():
    r = build_report(sections={"bad": Section("Bad", data={"obj": object()})})
    with pytest.raises(TypeError, match=r"\$\.bad\.obj"):
        params_json(r)


def test_untyped_section_is_a_type_error():
    with pytest.raises(TypeError, match=r"RunReport.sections\['x'\] is a dict; build an optimizer.report.Section"):
        build_report(sections={"x": {"title": "X"}})


@pytest.mark.parametrize(
    ("key", "expected"),
    [("created_utc", True), ("solve_seconds", True), ("timestamp", True), ("seed", False),
     ("horizon_days", False)],
)
def test_is_wall_clock_key(key, expected):
    assert is_wall_clock_key(key) is expected


def test_parameters_carry_value_bps_unrounded_and_band():
    """Version 2: each parameter is {"value", "bps", "unrounded", "band"}; without an unrounded answer the
    value is it, without a band the band is null; the bonus has no band."""
    import dataclasses

    base = build_report()
    eth = base.assets[0]
    rounded = dataclasses.replace(
        eth, recommended={**eth.recommended, "liquidation_threshold": 0.835, "ltv": 0.81},
        unrounded={**eth.recommended, "liquidation_threshold": 0.8361234, "ltv": 0.8111234},
        band={"liquidation_threshold": 0.0012, "ltv": 0.0012})
    data = params_dict(dataclasses.replace(base, assets=[rounded, *base.assets[1:]]))
    lt = data["assets"]["eth"]["liquidation_threshold"]
    assert lt == {"value": 0.835, "bps": 8350, "unrounded": 0.8361234, "band": 0.0012}
    assert data["assets"]["eth"]["liquidation_bonus"] == {"value": 0.05, "bps": 500, "unrounded": 0.05,
                                                          "band": None}
    assert "band" not in data["assets"]["eth"]  # folded into the parameters
    usdc = data["assets"]["usdc"]["liquidation_threshold"]
    assert usdc["unrounded"] == usdc["value"] and usdc["bps"] == round(usdc["value"] * 1e4)


def test_parameter_value_reads_both_layouts():
    from optimizer.report.json_out import parameter_value

    assert parameter_value({"value": 0.8175, "bps": 8175, "unrounded": 0.81762, "band": None}) == 0.8175
    assert parameter_value(0.8176162008) == 0.8176162008  # version 1
