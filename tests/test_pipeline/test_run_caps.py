"""Supply and borrow caps on the quick config (real data) and the live caps of the reference CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optimizer.exceptions import DataError
from optimizer.pipeline.caps import run_caps
from optimizer.pipeline.config import load_config
from optimizer.pipeline.current import load_current_caps
from optimizer.pipeline.stress import library_of
from optimizer.report.caps import caps_section

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "configs" / "aave-v3-ethereum.toml"


@pytest.fixture(scope="module")
def outcome(quick_stage):
    s = quick_stage
    return run_caps(s.cfg, s.inputs, s.solution.recommended, s.market, library_of(s.cfg, s.inputs))


def test_every_asset_gets_positive_caps_with_the_rules_inputs(outcome, quick_stage):
    caps = outcome.caps
    assert caps.assets == quick_stage.cfg.asset_names
    assert np.all(caps.supply_cap_usd > 0) and np.all(np.isfinite(caps.supply_cap_usd))
    assert np.all(caps.borrow_cap_usd > 0) and np.all(caps.borrow_cap_usd < caps.supply_cap_usd)
    assert caps.n_scenarios == library_of(quick_stage.cfg, quick_stage.inputs).n_scenarios > 0
    # the rule holds on the run's own numbers: S = H x min(curve depth, reachable volume) / phi
    h = quick_stage.cfg.scenarios.horizon_days
    d = np.minimum(caps.curve_depth_usd, caps.max_daily_sale_usd)
    np.testing.assert_allclose(caps.supply_cap_usd, h * d / caps.share_used)
    np.testing.assert_allclose(caps.max_daily_sale_usd, quick_stage.cfg.liquidity.reachable_volume_share
                               * quick_stage.cfg.liquidity.liquidity_multiplier * quick_stage.inputs.adv_usd)
    # tokens: at the as_of price, rounded down, never 0
    rec = outcome.recommended
    assert np.all(rec.supply_tokens >= 1) and np.all(rec.supply_tokens * rec.price_usd <= caps.supply_cap_usd)
    assert np.all(rec.supply_tokens * rec.price_usd > 0.99 * caps.supply_cap_usd)


def test_halving_the_depth_halves_every_supply_cap_on_real_data(outcome, quick_stage):
    """liquidity_multiplier 0.5 halves every curve and the reachable volume: with the same parameters and
    liquidations (seized at zero slippage), every supply cap halves."""
    s = quick_stage
    cfg = s.cfg.with_overrides("liquidity", liquidity_multiplier=0.5)
    half = run_caps(cfg, s.inputs, s.solution.recommended, s.market, library_of(s.cfg, s.inputs),
                    current=outcome.current)
    assert np.all(half.caps.supply_cap_usd < outcome.caps.supply_cap_usd)
    np.testing.assert_allclose(half.caps.supply_cap_usd, outcome.caps.supply_cap_usd / 2, rtol=1e-9)
    np.testing.assert_array_equal(half.caps.share_used, outcome.caps.share_used)


def test_current_caps_come_from_the_reference_csv_at_the_as_of_price(outcome):
    cur = outcome.current
    assert cur is not None and cur.source.endswith("aave_v3_ethereum_params.csv")
    i = cur.assets.index("eth")
    assert cur.supply_tokens[i] == 1_800_000 and cur.borrow_tokens[i] == 1_400_000  # WETH's row
    assert cur.supply_usd[i] == pytest.approx(1_800_000 * cur.price_usd[i])
    assert cur.price_date == outcome.recommended.price_date


def test_section_and_params_json_data(outcome, quick_stage):
    sec = caps_section(outcome.caps, outcome.recommended, outcome.current, liquidity=quick_stage.inputs.liquidity,
                       sigma_source=outcome.sigma_source, volume_sources=outcome.volume_source)
    assert sec.title == "Supply and borrow caps" and sec.data_key == "caps"
    assert [r[0] for r in sec.tables[0].rows] == [a.upper() for a in quick_stage.cfg.asset_names]
    data = json.loads(json.dumps(sec.data))  # plain JSON
    assert data["current_indicative"] is True and "supply cap = H x D / phi" in data["rule"]
    for a in quick_stage.cfg.asset_names:
        row = data["assets"][a]
        assert row["supply_cap"]["usd"] > 0 and row["supply_cap"]["tokens"] >= 1
        assert row["borrow_cap"]["usd"] > 0 and row["current"]["supply_cap"]["tokens"] > 0
        assert row["supply_cap_binding"] in ("stress scenario", "liquidated-share floor")
        assert {"worst_scenario", "liquidated_share", "depth_at_bonus_usd_per_day", "liquidation_bonus",
                "reachable_daily_volume_usd", "depth_binding"} <= set(row["inputs"])
    assert "indicative" in " ".join(sec.paragraphs)


def test_default_config_has_current_caps_for_every_asset(data_dir):
    cfg = load_config(DEFAULT)
    assert cfg.caps.enabled and cfg.caps.current_file
    found = load_current_caps(data_dir / cfg.caps.current_file, {t: a.symbol for t, a in cfg.assets.items()})
    assert set(found) == set(cfg.asset_names)
    assert all(c["supply_cap_tokens"] and c["supply_cap_tokens"] > 0 for c in found.values())
    assert found["aave"]["borrow_cap_tokens"] is None  # 0 in the file: Aave's "no cap" (borrowing disabled)


def test_bad_caps_files_are_refused(tmp_path):
    p = tmp_path / "caps.csv"
    p.write_text("symbol,supply_cap_tokens\nWETH,1\n")
    with pytest.raises(DataError, match=r"no column 'borrow_cap_tokens'"):
        load_current_caps(p, {"eth": "WETH"})
    p.write_text("symbol,supply_cap_tokens,borrow_cap_tokens\nWETH,lots,1\n")
    with pytest.raises(DataError, match=r"line 2 \(WETH\): supply_cap_tokens = 'lots' is not a number"):
        load_current_caps(p, {"eth": "WETH"})
    with pytest.raises(DataError, match=r"not found"):
        load_current_caps(tmp_path / "none.csv", {"eth": "WETH"})
