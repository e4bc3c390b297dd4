"""The run's liquidity: measured depth curves from the configured files, flagged rules for the rest."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from optimizer.data import load_quotes
from optimizer.estimators import fit_impact_laws
from optimizer.exceptions import DataError
from optimizer.pipeline.config import load_config
from optimizer.pipeline.history import load_asset_prices
from optimizer.pipeline.liquidity import load_liquidity, slippage_law
from optimizer.pipeline.run import _average_daily_volume, resolve_as_of, resolve_window
from optimizer.protocol.sale import SaleSize
from optimizer.report.liquidity import liquidity_data

DEFAULT = Path(__file__).resolve().parents[2] / "configs" / "aave-v3-ethereum.toml"


def _sale(cfg, usd) -> SaleSize:
    """A day's sale of the given sizes (a quarter of the asset's collateral, for the share column)."""
    q = np.asarray(usd, dtype=float)
    return SaleSize(assets=cfg.asset_names, usd=q, collateral_usd=4 * q, rule="share", share=0.25)


@pytest.fixture(scope="module")
def default_liquidity(data_dir):
    cfg = resolve_as_of(load_config(DEFAULT), data_dir=data_dir)
    start, as_of = resolve_window(cfg, cfg.run.as_of)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prices = load_asset_prices(cfg, data_dir, start=start, as_of=as_of)
    adv, _ = _average_daily_volume(cfg, prices)
    return cfg, prices, adv, load_liquidity(cfg, data_dir, prices, adv)


def test_default_config_curves_have_a_source_or_are_flagged(default_liquidity):
    cfg, _, _, liq = default_liquidity
    measured = {a.asset for a in liq.assets if a.measured}
    assert measured == {"eth", "wbtc", "usdc"}  # the only default assets the 1inch quotes cover
    for a in liq.assets:
        if a.measured:
            assert "oneinch_quotes_20231120.csv" in a.source and a.date == "2023-11-20"
            assert 0.005 < a.sigma_ref < 0.05 or a.asset == "usdc"
        else:
            assert a.source == "no depth data" and a.rule in ("volume", "declared volume")
    # measured volume (CoinGecko) where the data has it, the hand-typed adv_usd where it has none
    assert {a.asset for a in liq.assets if a.rule == "volume"} == {"link", "uni", "ldo"}
    assert liq.get("crv").rule == "declared volume" and "hand-typed" in liq.get("crv").inputs
    # WBTC is priced by BTC: BTC's volume is not WBTC's, so only ETH gives the depth-to-volume ratio
    assert liq.references == ("eth",)
    # never the same depth for every asset: assets with different inputs get different depths (the config
    # declares the same hand-typed volume for crv and mkr, and for snx, ens and 1inch)
    law = slippage_law(cfg, liq)
    depth2 = dict(zip(cfg.asset_names, law.depth_at(0.02, [a.sigma_ref for a in liq.assets]), strict=True))
    inputs = {a.asset: (a.rule, a.inputs.split(" a day")[0]) for a in liq.assets}
    for x in cfg.asset_names:
        for y in cfg.asset_names:
            if x < y and inputs[x] != inputs[y]:
                assert depth2[x] != pytest.approx(depth2[y], rel=1e-6), (x, y)
    assert len(set(np.round(list(depth2.values()), 6))) == 9


def test_no_depth_rule_is_scaled_from_volume_with_a_haircut(default_liquidity, data_dir):
    from optimizer.data import window_volume_levels

    cfg, prices, adv, liq = default_liquidity
    vols, window = window_volume_levels(prices.volumes, cfg.asset_names, anchors=["eth"], as_of=prices.prices.index[-1])
    assert window == liq.volume_window == "2023-05-30 .. 2023-08-27"  # CoinGecko volumes end 2023-08-28
    eth, link, uni = liq.get("eth"), liq.get("link"), liq.get("uni")
    i2 = list(liq.ratio_levels).index(0.02)
    # at 2 %: half (the haircut) of ETH's measured depth per USD of ETH's volume, times LINK's volume
    assert liq.haircut == 0.5
    assert liq.ratio[i2] == pytest.approx(0.5 * eth.sellable_usd[list(eth.slippage).index(0.02)] / vols["eth"])
    assert link.sellable_usd[i2] == pytest.approx(liq.ratio[i2] * vols["link"])
    assert link.sellable_usd[i2] / uni.sellable_usd[i2] == pytest.approx(vols["link"] / vols["uni"])
    quarter = load_liquidity(cfg.with_overrides("liquidity", proxy_haircut=0.25), data_dir, prices, adv)
    np.testing.assert_allclose(quarter.get("link").sellable_usd, 0.5 * link.sellable_usd)


def test_slippage_is_the_curve_at_the_liquidated_size_scaled_by_volatility(default_liquidity):
    from optimizer.protocol.liquidity import curve_impact

    cfg, _, _, liq = default_liquidity
    law = slippage_law(cfg, liq)
    eth = liq.get("eth")
    i = cfg.asset_names.index("eth")
    q = np.zeros(len(cfg.asset_names))
    q[i] = 1e8
    sale = _sale(cfg, q)
    sig = np.full(len(q), 0.03)
    expected = curve_impact(1e8, eth.sellable_usd, eth.slippage) * 0.03 / eth.sigma_ref
    assert law.slippage(sale, sig)[i] == pytest.approx(expected)
    # thinner curves (liquidity_multiplier < 1) and higher volatility both raise it
    thin = slippage_law(cfg.with_overrides("liquidity", liquidity_multiplier=0.5), liq)
    assert thin.slippage(sale, sig)[i] > law.slippage(sale, sig)[i]
    assert law.slippage(sale, 2 * sig)[i] == pytest.approx(2 * law.slippage(sale, sig)[i])


def test_reported_fit_errors_are_those_of_the_quotes(default_liquidity, quotes_path):
    cfg, _, _, liq = default_liquidity
    law = slippage_law(cfg, liq)
    n = len(cfg.asset_names)
    data = liquidity_data(liq, law, _sale(cfg, np.full(n, 2.5e7)), np.full(n, 0.03), np.full(n, 0.01))
    fresh = fit_impact_laws(load_quotes(quotes_path))
    assert data["impact_fit"]["median_rel_error"] == pytest.approx(fresh.median_rel_error)
    assert data["impact_fit"]["worst_rel_error"] == pytest.approx(fresh.worst_rel_error)
    row = next(p for p in data["impact_fit"]["pairs"] if p["sell"] == "WETH" and p["buy"] == "USDC")
    assert row["median_rel_error"] == pytest.approx(fresh.get("WETH", "USDC").median_rel_error)
    assert data["assets"]["crv"]["rule"] == "declared volume" and data["assets"]["eth"]["date"] == "2023-11-20"


def test_bad_or_missing_liquidity_file_fails_with_one_line(default_liquidity, tmp_path):
    cfg, prices, adv, _ = default_liquidity
    (tmp_path / "depth.csv").write_text("asset,date,slippage,sellable_usd,source\neth,2023-11-20,0.02,x,desk\n")
    bad = cfg.with_overrides("liquidity", depth_file="depth.csv", quotes_file=None)
    with pytest.raises(DataError, match=r"depth.csv: row 2, column 'sellable_usd': 'x' is not a number") as err:
        load_liquidity(bad, tmp_path, prices, adv)
    assert "\n" not in str(err.value)
    missing = cfg.with_overrides("liquidity", depth_file="nope.csv", quotes_file=None)
    with pytest.raises(DataError, match=r"liquidity file .*nope.csv not found"):
        load_liquidity(missing, tmp_path, prices, adv)


def test_liquidity_file_curve_wins_over_the_rule(default_liquidity, tmp_path, data_dir):
    cfg, prices, adv, _ = default_liquidity
    (tmp_path / "depth.csv").write_text("asset,date,slippage,sellable_usd,source\n"
                                        "crv,2023-11-20,0.02,2.0e6,desk quote\ncrv,2023-11-20,0.05,6.0e6,desk quote\n")
    for f in data_dir.glob("*.csv"):
        (tmp_path / f.name).symlink_to(f)
    (tmp_path.parent / "reference").mkdir(exist_ok=True)
    liq = load_liquidity(cfg.with_overrides("liquidity", depth_file="depth.csv", quotes_file=None), tmp_path, prices, adv)
    crv = liq.get("crv")
    assert crv.measured and crv.source == "desk quote" and crv.date == "2023-11-20"
    # with no other measured curve there is no reference: the rest fall back to the square-root law, flagged
    assert liq.get("eth").rule == "square-root law" and liq.get("eth").source == "no depth data"


def test_liquidity_multiplier_scales_every_depth_curve(quick_stage):
    """The sensitivity axis: ``[liquidity] liquidity_multiplier`` multiplies the USD sellable of every curve."""
    from optimizer.pipeline.run import prepare_market

    cfg, inputs = quick_stage.cfg, quick_stage.inputs
    # the quick config has no depth data: every asset has the square-root-law curve, flagged
    assert {a.rule for a in inputs.liquidity.assets} == {"square-root law"}
    base = prepare_market(cfg, inputs).slippage
    thin = prepare_market(cfg.with_overrides("liquidity", liquidity_multiplier=0.25), inputs).slippage
    below_cap = thin < cfg.liquidity.max_slippage
    assert below_cap.any()
    # a quarter of the depth doubles a square-root-law slippage (below the cap)
    np.testing.assert_allclose(thin[below_cap], 2 * base[below_cap])


def test_a_run_before_the_measurement_names_the_look_ahead(data_dir):
    cfg = load_config(DEFAULT).with_overrides("run", as_of="2022-06-30")
    start, as_of = resolve_window(cfg, "2022-06-30")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prices = load_asset_prices(cfg, data_dir, start=start, as_of=as_of)
    adv, _ = _average_daily_volume(cfg, prices)
    liq = load_liquidity(cfg, data_dir, prices, adv)
    assert liq.as_of == "2022-06-30" and set(liq.after_as_of) == {a.asset for a in liq.assets}
    assert liq.volume_window.endswith("2022-06-30")  # volumes of the run's own days, never later ones


def test_the_liquidity_section_names_every_curve(default_liquidity):
    from optimizer.report.liquidity import liquidity_section

    cfg, _, _, liq = default_liquidity
    law = slippage_law(cfg, liq)
    n = len(cfg.asset_names)
    sale = _sale(cfg, np.full(n, 2.5e7))
    sec = liquidity_section(liq, law, sale, np.full(n, 0.03), law.slippage(sale, np.full(n, 0.03)))
    table, fit = sec.tables
    assert table.id == "tbl-liquidity" and fit.id == "tbl-impact-fit"
    src = {r[0]: r[1] for r in table.rows}
    assert src["ETH"].endswith("(WETH->USDC/USDT), 2023-11-20") and "oneinch_quotes_20231120.csv" in src["ETH"]
    assert src["CRV"] == "no depth data (declared volume rule)" and src["LINK"] == "no depth data (volume rule)"
    assert len(sec.bullets) == 9 and any(b.startswith("CRV (declared volume rule): $10,000,000 a day") for b in sec.bullets)
    assert fit.rows[-1][0] == "All pairs" and fit.rows[-1][5] == pytest.approx(liq.fit.median_rel_error)
    assert sec.data_key == "liquidity" and set(sec.data["assets"]) == set(cfg.asset_names)
