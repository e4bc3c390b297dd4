"""Configuration parsing: strict keys, types and ranges, each error naming its key."""

from __future__ import annotations

import dataclasses

import tomllib
from pathlib import Path

import pytest

from optimizer.exceptions import ConfigError
from optimizer.pipeline.config import APPETITE_PRESETS, Appetite, CapsSection, load_config, parse_config

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
        ("[book]\nseed = -1", r"\[book\] seed"),
        ("[book]\nseed = 1.5", r"\[book\] seed"),
        ("[liquidity]\nsale_size = 'seize'", r"sale_size = 'seize' is not one of 'seized', 'share' \(did you mean 'seized'\?\)"),
        ("[liquidity]\nsale_params = 'live'", "sale_params = 'live' is not one of 'recommended', 'current'"),
        ("[liquidity]\nseized_share_sold = 1.5", "seized_share_sold"),
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


# ---------------------------------------------------------------------------------------------
# Option vocabularies and renamed keys
# ---------------------------------------------------------------------------------------------
def test_option_sets_parse_to_their_enums_and_serialise_as_values():
    from optimizer.typing import CorrelationName, ScenarioMethod, VolatilityName

    cfg = parse(BASE + "\n[estimators]\nvolatility = 'auto'\ncorrelation = 'ewma'\n"
                "[scenarios]\nmethod = 'parametric'\n[backtest]\nestimators = ['constant', 'gjr']")
    assert cfg.estimators.volatility is VolatilityName.AUTO
    assert cfg.estimators.correlation is CorrelationName.EWMA
    assert cfg.scenarios.method is ScenarioMethod.PARAMETRIC
    assert cfg.backtest.estimators == (VolatilityName.CONSTANT, VolatilityName.GJR)
    d = cfg.to_dict()
    assert d["estimators"]["volatility"] == "auto" and type(d["estimators"]["volatility"]) is str
    assert d["backtest"]["estimators"] == ["constant", "gjr"]
    assert 'volatility = "auto"' in cfg.to_toml()
    assert parse_config(tomllib.loads(cfg.to_toml())).sha256 == cfg.sha256


@pytest.mark.parametrize(
    ("snippet", "needle"),
    [
        # each place takes its own subset of the volatility names, and says which
        ("[estimators]\nvolatility = 'constant'", r"\[estimators\] volatility = 'constant' is not one of 'garch', 'gjr', 'ewma', 'auto'"),
        ("[backtest]\nestimators = ['ewma', 'auto']", r"\[backtest\] estimators = 'auto' is not one of 'ewma', 'garch', 'gjr', 'constant'$"),
        ("[sensitivity]\nvolatility = ['garhc']", r"\[sensitivity\] volatility = 'garhc' is not one of .*\(did you mean 'garch'\?\)"),
        ("[estimators]\ncorrelation = 'pearson'", r"\[estimators\] correlation = 'pearson' is not one of 'sample', 'ewma', 'shrinkage'"),
        ("[scenarios]\nmethod = 'fsh'", r"\[scenarios\] method = 'fsh' is not one of .*\(did you mean 'fhs'\?\)"),
        ("[backtest]\nestimators = []", r"\[backtest\] estimators must name at least one of 'ewma'"),
        ("[backtest]\nestimators = ['ewma', 'ewma']", r"lists a name twice: \['ewma', 'ewma'\]"),
    ],
)
def test_option_names_are_checked_when_parsed(snippet, needle):
    with pytest.raises(ConfigError, match=needle):
        parse(BASE + "\n" + snippet)


@pytest.mark.parametrize(("old", "new"), [("corr_stress", "comonotone_share"),
                                          ("price_corr_stress", "price_correlation_stress")])
def test_renamed_scenario_keys_name_their_new_key(old, new):
    with pytest.raises(ConfigError, match=rf"\[scenarios\] {old} was renamed: use {new}"):
        parse(BASE + f"\n[scenarios]\n{old} = 0.2")
    with pytest.raises(ConfigError, match=rf"use {new}"):
        parse(BASE).with_overrides("scenarios", **{old: 0.2})


def test_a_renamed_key_keeps_the_config_hash():
    """The hash is over the keys' first names, so recorded runs still match after a rename."""
    import hashlib
    import json

    cfg = parse(BASE + "\n[scenarios]\ncomonotone_share = 0.3\nprice_correlation_stress = 0.1")
    d = cfg.to_dict()
    d.pop("stress")  # an unused later section is not hashed (see the test of [stress] below)
    d.pop("caps")  # nor a later section left at its defaults
    for table in d["assets"].values():  # nor a later asset key left at its default
        del table["short_history"], table["proxy"], table["peg"]
    for key in ("depth_file", "quotes_file", "proxy_haircut", "depth_exponent",  # nor a later section key
                "sale_size", "sale_params", "seized_share_sold"):
        del d["liquidity"][key]
    del d["guardrails"]["cap_max_change"]
    assert "corr_stress" not in d["scenarios"]
    scen = d["scenarios"]
    scen["corr_stress"], scen["price_corr_stress"] = scen.pop("comonotone_share"), scen.pop("price_correlation_stress")
    sens = d["sensitivity"]
    sens["corr_stress"] = sens.pop("comonotone_share")
    sens["grids"] = [["corr_stress" if n == "comonotone_share" else n for n in g] for g in sens["grids"]]
    for key in ("reference", "n_placed", "seed"):  # added keys at their default are not hashed
        d["book"].pop(key)
    d["fund"].pop("reference_usd")
    for key in ("stress_constraint", "stress_budget_usd", "stress_budget_share"):
        d["optimizer"].pop(key)
    # section keys added later are hashed only when set (test_an_added_key_at_its_default_keeps_the_hash)
    for key in ("depeg_jumps", "depeg_threshold", "depeg_decluster_days", "depeg_history", "depeg_severity",
                "band_batches"):
        scen.pop(key)
    d["optimizer"].pop("held_ltv_lt")
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    assert cfg.sha256 == hashlib.sha256(blob.encode()).hexdigest()
    assert cfg.digest(exclude=("search",)) != cfg.sha256


def test_an_added_key_at_its_default_keeps_the_hash():
    """A key added after hashes were recorded changes no hash unless it is set to another value."""
    cfg = parse(BASE)
    explicit = parse(BASE + "\n[scenarios]\ndepeg_threshold = 0.02\ndepeg_jumps = true")
    assert explicit.sha256 == cfg.sha256
    assert parse(BASE + "\n[scenarios]\ndepeg_threshold = 0.03").sha256 != cfg.sha256
    assert parse(BASE + "\n[scenarios]\ndepeg_jumps = false").sha256 != cfg.sha256
    assert parse(BASE + "\n[liquidity]\nsale_size = 'seized'\nseized_share_sold = 1.0").sha256 == cfg.sha256
    assert parse(BASE + "\n[liquidity]\nsale_size = 'share'").sha256 != cfg.sha256
    assert parse(BASE + "\n[liquidity]\nsale_params = 'current'").sha256 != cfg.sha256
    assert parse(BASE + "\n[caps]\nenabled = true\nutilisation_headroom = 0.1").sha256 == cfg.sha256
    assert parse(BASE + "\n[caps]\nutilisation_headroom = 0.2").sha256 != cfg.sha256


def test_default_config_hash_is_unchanged():
    """params.json records this hash: a change to it is a change to every run's output.

    Adding or renaming a key changes it; a rename should instead go in RENAMED_KEYS.
    """
    cfg = load_config(ROOT / "configs" / "aave-v3-ethereum.toml")
    # issue 9: [data] sources (priority list) replaces source, overlap_tolerance, min_history_days 200;
    # [book] reference and n_placed (the calibrated book; hf_median/hf_sigma then not hashed);
    # [assets.wbtc] peg = "btc" (the [scenarios] depeg_* keys at their defaults are not hashed);
    # [liquidity] quotes_file, proxy_haircut, depth_exponent and [simulation] impact = "curve" (depth curves)
    # [book] seed = 20250612 (the book's own draw, issue 10: --seed moves the Monte Carlo only)
    # [scenarios] n_scenarios = 400000 (issue 10: the 1 % tail of 4,000 scenarios, LTs stable to the seed)
    # [caps] current_file and the cap rule's settings (issue 12 item 4)
    assert cfg.sha256 == "07c26628e5f663fd8786836fc24b62eef5068ea00d7afaecedfc0009c94e20a5"
    # without [caps] (at its defaults) the hash is the one before caps existed
    assert dataclasses.replace(cfg, caps=CapsSection()).sha256 == \
        "b73220ea9e06f8558abed6eba09a5aa83c52b69a91b37ae4ec127da863336169"


def test_a_config_without_the_added_book_keys_hashes_as_before():
    """[book] reference / n_placed at their defaults leave the hash as it was before they existed:
    the quick config (as of 2025-06-12) has the config_sha256 its params.json recorded before."""
    cfg = load_config(ROOT / "configs" / "quick.toml").with_overrides("run", as_of="2025-06-12")
    # quick.toml has declared wbtc's peg = "btc" since issue 9's peg item: without it, as recorded
    cfg = dataclasses.replace(cfg, assets={**cfg.assets, "wbtc": dataclasses.replace(cfg.assets["wbtc"], peg=None)})
    # and with the simulation's impact law of then ([simulation] impact = "curve", the depth curves, is the default now)
    cfg = cfg.with_overrides("simulation", impact="sqrt")
    # and without the book's own seed (issue 10: quick.toml sets [book] seed = 7, its run seed)
    assert cfg.book.seed == cfg.run.seed == 7
    cfg = cfg.with_overrides("book", seed=None)
    # and without [caps] (issue 12 item 4: quick.toml names the reference CSV's caps)
    cfg = dataclasses.replace(cfg, caps=CapsSection())
    assert cfg.book.reference is None and cfg.book.n_placed == 10
    assert cfg.sha256 == "378c4bfc3ed4b93409c774aa427e5d5d4dd6a8ab38972158f8b5c1e4276aba0b"
    # using a key changes the hash; setting n_placed without a reference too (it is a setting)
    assert cfg.with_overrides("book", reference="ref.csv").sha256 != cfg.sha256
    assert cfg.with_overrides("book", n_placed=20).sha256 != cfg.sha256


def test_book_reference_keys_are_strict():
    with pytest.raises(ConfigError, match=r"\[book\] hf_median has no effect with reference"):
        parse(BASE + "\n[book]\nreference = 'r.csv'\nhf_median = 1.5")
    with pytest.raises(ConfigError, match=r"\[book\] reference calibrates a synthetic book"):
        parse(BASE + "\n[book]\nkind = 'csv'\npath = 'b.csv'\nreference = 'r.csv'")
    with pytest.raises(ConfigError, match=r"\[book\] n_placed = 0 must be >= 1"):
        parse(BASE + "\n[book]\nreference = 'r.csv'\nn_placed = 0")
    with pytest.raises(ConfigError, match=r"unknown key \[book\] 'referenc'"):
        parse(BASE + "\n[book]\nreferenc = 'r.csv'")
    cfg = parse(BASE + "\n[book]\nreference = 'r.csv'")
    assert "hf_median" not in cfg.to_dict()["book"]  # not part of a calibrated book's configuration
    assert parse(cfg.to_toml()).sha256 == cfg.sha256


def test_every_anti_procyclicality_method_has_a_binding_label():
    import typing

    from optimizer.optimize import Binding
    from optimizer.pipeline.config import AntiProcyclicalitySection

    methods = typing.get_args(typing.get_type_hints(AntiProcyclicalitySection)["method"])
    labels = {Binding.anti_procyclicality(m) for m in methods if m != "none"}
    assert {str(b) for b in labels} == {b.value for b in Binding if b.value.startswith("anti-procyclicality")}


def test_a_later_asset_key_changes_the_hash_only_when_used():
    base = parse(BASE)
    assert parse(BASE.replace("[assets.eth]\n", "[assets.eth]\nshort_history = \"own\"\n")).sha256 == base.sha256
    used = BASE.replace("[assets.eth]\n", "[assets.eth]\nshort_history = \"proxy\"\nproxy = \"btc\"\n")
    assert parse(used).sha256 != base.sha256


def test_the_sensitivity_sweep_of_the_renamed_key_is_renamed_too():
    from optimizer.pipeline.sensitivity import check_sensitivity

    with pytest.raises(ConfigError, match=r"\[sensitivity\] corr_stress was renamed: use comonotone_share"):
        parse(BASE + "\n[sensitivity]\ncorr_stress = [0.0, 0.5]")
    old_grid = parse(BASE + "\n[sensitivity]\ngrids = [['vol_multiplier', 'corr_stress']]")
    with pytest.raises(ConfigError, match=r"'corr_stress' was renamed: use 'comonotone_share'"):
        check_sensitivity(old_grid)
    # the grid names the renamed key; hashed under its old name like the key itself
    cfg = parse(BASE + "\n[sensitivity]\ncomonotone_share = [0.1]\ngrids = [['comonotone_share', 'alpha']]")
    assert cfg.sensitivity.grids == (("comonotone_share", "alpha"),)
    assert cfg.digest() != parse(BASE + "\n[sensitivity]\ncomonotone_share = [0.1]").digest()


def test_a_stress_shock_parses_in_file_order_and_round_trips():
    cfg = parse(BASE + "\n[assets.usdc]\nsupplied_usd = 1e9\nstablecoin = true\n"
                "[stress.eth_crash]\neth = -0.35\nusdc = -0.13\n[stress.usdc_up]\nusdc = 0.05\n")
    assert cfg.stress == {"eth_crash": {"eth": -0.35, "usdc": -0.13}, "usdc_up": {"usdc": 0.05}}
    again = parse_config(tomllib.loads(cfg.to_toml()))
    assert again.stress == cfg.stress and again.sha256 == cfg.sha256


def test_a_stress_shock_changes_the_hash_and_no_shock_hashes_as_before():
    """Without [stress] the hash is the recorded one (test_default_config_hash_is_unchanged)."""
    cfg = parse(BASE)
    assert cfg.stress == {} and "stress" in cfg.to_dict()
    assert parse(BASE + "\n[stress.x]\neth = -0.3\n").sha256 != cfg.sha256
    assert parse(BASE + "\n[stress.x]\neth = -0.3\n").sha256 != parse(BASE + "\n[stress.x]\neth = -0.31\n").sha256


@pytest.mark.parametrize(("text", "message"), [
    ("[stress.eth_crash]\nbtc = -0.3", r"t\.toml: unknown key \[stress\.eth_crash\] 'btc': not an asset of this config"),
    ("[stress.eth_crash]\netj = -0.3", r"\(did you mean 'eth'\?\); assets: eth$"),
    ("[stress.eth_crash]\neth = -1.0", r"\[stress\.eth_crash\] eth = -1\.0 must be > -1"),
    ("[stress.eth_crash]\neth = -1.5", r"\[stress\.eth_crash\] eth = -1\.5 must be > -1"),
    ("[stress.eth_crash]\neth = 'big'", r"\[stress\.eth_crash\] eth must be a number, got 'big'"),
    ("[stress]\neth = -0.3", r"\[stress\] eth = -0\.3 must be a table \[stress\.eth\]"),
    ("[stress.empty]", r"\[stress\.empty\] names no asset"),
])
def test_bad_stress_shocks_fail_with_one_line_naming_the_table_and_key(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse(BASE + "\n" + text + "\n")
    assert "\n" not in str(err.value)


def test_peg_declaration_is_strict_and_stablecoin_means_usd():
    two = BASE + "[assets.usdc]\nsupplied_usd = 1e9\nstablecoin = true\n"
    assert parse(two).pegs == {"usdc": "usd"}
    assert parse(two.replace("stablecoin = true", 'stablecoin = true\npeg = "eth"')).pegs == {"usdc": "eth"}
    assert parse(two.replace("stablecoin = true", 'peg = "btc"')).pegs == {"usdc": "btc"}
    assert parse(two.replace("stablecoin = true", 'peg = "eth"')).pegs == {"usdc": "eth"}  # an asset of the config
    with pytest.raises(ConfigError, match=r"t\.toml: \[assets\.usdc\] peg = 'eur' is neither a peg class nor an asset"):
        parse(two.replace("stablecoin = true", 'peg = "eur"'))
    with pytest.raises(ConfigError, match=r"\[assets\.usdc\] peg = 'usdc': an asset cannot be pegged to itself"):
        parse(two.replace("stablecoin = true", 'peg = "usdc"'))
    with pytest.raises(ConfigError, match=r"\[assets\.usdc\] peg must be a string"):
        parse(two.replace("stablecoin = true", "peg = 1"))
    with pytest.raises(ConfigError, match=r"unknown key \[scenarios\] 'depeg_treshold'.*did you mean 'depeg_threshold'"):
        parse(BASE + "[scenarios]\ndepeg_treshold = 0.02\n")
    with pytest.raises(ConfigError, match=r"\[scenarios\] depeg_history = 'some' is not one of 'all', 'window'"):
        parse(BASE + "[scenarios]\ndepeg_history = 'some'\n")
