"""Configuration parsing: strict keys, types and ranges, each error naming its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from optimizer.exceptions import ConfigError
from optimizer.pipeline.config import APPETITE_PRESETS, Appetite, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))

BASE = """
[run]
name = "t"
seed = 1
[assets.eth]
supplied_usd = 1e9
borrowed_usd = 5e8
current = { ltv = 0.8, liquidation_threshold = 0.83, liquidation_bonus = 0.05 }
"""


def parse(text: str):
    return parse_config(tomllib.loads(text), source="t.toml")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_parse_and_round_trip(path):
    cfg = load_config(path)
    again = parse_config(tomllib.loads(cfg.to_toml()))
    assert again.sha256 == cfg.sha256
    assert cfg.name == path.stem


def test_default_config_uses_reference_parameters():
    cfg = load_config(ROOT / "configs" / "aave-v3-ethereum.toml")
    eth = cfg.assets["eth"].current
    # ../shared/reference/aave_v3_ethereum_params.csv: WETH 80.5 / 83.0 / 5.0 (percent)
    assert (eth.ltv, eth.liquidation_threshold, eth.liquidation_bonus) == (0.805, 0.83, 0.05)
    assert cfg.assets["crv"].current.liquidation_threshold == 0.41


@pytest.mark.parametrize(
    ("snippet", "needle"),
    [
        ("[optimizer]\nalpah = 0.99", "alpah"),
        ("[optimizer]\nalpha = 1.5", "alpha"),
        ("[scenarios]\nhorizon_days = -2", "horizon_days"),
        ("[scenarios]\nn_scenarios = 'many'", "n_scenarios"),
        ("[estimators]\nvolatility = 'garchy'", "volatility"),
        ("[optimizer]\nappetite = 'reckless'", "appetite"),
        ("[bogus]\nx = 1", "bogus"),
        ("[assets.btc]\nsupplied_usd = 1e9\ncurrent = { ltv = 0.5, liquidation_threshold = 1.2, liquidation_bonus = 0.05 }",
         "liquidation_threshold"),
        ("[assets.btc]\nsupplied_usd = 1e9\nwhat = 1", "what"),
        ("[run]\nas_of = '2024-13-45'", "as_of"),
    ],
)
def test_bad_values_name_the_key(snippet, needle):
    text = BASE + "\n" + snippet if not snippet.startswith("[run]") else BASE.replace("[run]", snippet.replace("[run]\n", "[run]\n") + "\n", 1)
    with pytest.raises(ConfigError, match=needle):
        parse(text)


def test_misspelt_key_gets_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'alpha'"):
        parse(BASE + "\n[optimizer]\nalpah = 0.99")


def test_ltv_above_lt_is_rejected():
    bad = BASE.replace("ltv = 0.8", "ltv = 0.9")
    with pytest.raises(ConfigError, match=r"\[assets.eth\].*ltv=0.9"):
        parse(bad)


def test_appetite_presets_order():
    cfg = parse(BASE)
    assert cfg.optimizer.appetite is Appetite.MODERATE
    cons, mod, agg = (APPETITE_PRESETS[a] for a in Appetite)
    # a more conservative appetite has a higher confidence and a smaller budget
    assert cons[0] > mod[0] > agg[0] and cons[1] < mod[1] < agg[1]
    explicit = parse(BASE + "\n[optimizer]\nalpha = 0.999\nrisk_budget_usd = 1e6")
    assert explicit.alpha_and_budget_share() == (0.999, None)


def test_overrides_are_validated_and_change_the_hash():
    cfg = parse(BASE)
    other = cfg.with_overrides("run", seed=2)
    assert other.sha256 != cfg.sha256 and other.run.seed == 2
    with pytest.raises(ConfigError, match="alpha"):
        cfg.with_overrides("optimizer", alpha=2.0)


def test_missing_file_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)


def test_default_config_matches_reference_file():
    """The default config's current parameters are the Aave reference snapshot's, every asset."""
    from optimizer.pipeline.current import load_current

    ref = ROOT.parent / "shared" / "reference" / "aave_v3_ethereum_params.csv"
    if not ref.exists():
        pytest.skip("../shared/reference not beside the project")
    cfg = load_config(ROOT / "configs" / "aave-v3-ethereum.toml")
    cur = load_current(ref, {t: a.symbol for t, a in cfg.assets.items()})
    assert set(cur) == set(cfg.assets)
    for t, a in cfg.assets.items():
        assert cur[t] == pytest.approx(
            {"ltv": a.current.ltv, "liquidation_threshold": a.current.liquidation_threshold,
             "liquidation_bonus": a.current.liquidation_bonus}, abs=1e-12), t
