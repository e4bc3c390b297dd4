"""`[assets.x] short_history = "own" | "proxy"`: a young asset's days before its first price.

Real data, Binance only, so that LDO is young (LDOUSDT from 2022-05-09) beside ETH and BTC over
four years to 2025-06-12: with "proxy" its earlier days follow ETH, scaled by the two assets'
volatility ratio on their overlap; with "own" (the default) its residuals there are imputed from
ETH's and BTC's of the same day.
"""

from __future__ import annotations

import tomllib
import warnings

import numpy as np
import pandas as pd
import pytest

from optimizer.exceptions import ConfigError
from optimizer.pipeline.config import parse_config
from optimizer.pipeline.run import load_inputs

BASE = """
[run]
name = "young"
as_of = "2025-06-12"
window_days = 1460
[data]
sources = ["binance"]
min_history_days = 200
[scenarios]
n_scenarios = 4000
[backtest]
in_report = false
[book]
n_accounts = 200
[assets.eth]
supplied_usd = 1e9
borrowed_usd = 5e8
[assets.btc]
supplied_usd = 1e9
borrowed_usd = 1e8
[assets.ldo]
supplied_usd = 1e7
"""


def _cfg(extra: str = ""):
    text = BASE.replace("[assets.ldo]\n", "[assets.ldo]\n" + extra)
    return parse_config(tomllib.loads(text), source="young.toml")


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ('proxy = "eth"\n', r"\[assets.ldo\] proxy = 'eth' needs short_history = 'proxy'"),
        ('short_history = "own"\nproxy = "eth"\n', r"\[assets.ldo\] proxy = 'eth' needs short_history"),
        ('short_history = "proxy"\n', r"\[assets.ldo\] short_history = 'proxy' needs proxy = "),
        ('short_history = "peer"\n', r"\[assets.ldo\] short_history = 'peer' is not one of"),
        ('short_history = "proxy"\nproxy = "ldo"\n', r"proxy = 'ldo' is the asset's own price"),
        ('short_history = "proxy"\nprox = "eth"\n', r"\[assets.ldo\].*'prox'"),
    ],
)
def test_bad_short_history_is_a_config_error_naming_the_key(extra, pattern):
    with pytest.raises(ConfigError, match=pattern):
        _cfg(extra)


def _inputs(cfg, data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_inputs(cfg, data_dir=data_dir)


@pytest.fixture(scope="module")
def proxied(data_dir):
    return _inputs(_cfg('short_history = "proxy"\nproxy = "eth"\n'), data_dir)


@pytest.fixture(scope="module")
def own(data_dir):
    return _inputs(_cfg(), data_dir)


LISTED = pd.Timestamp("2022-05-10")  # ldo's first one-day return on Binance


def test_proxied_days_follow_the_proxy_scaled_on_the_overlap(proxied):
    r = proxied.returns
    assert r["ldo"].notna().all() and r.index[0] == pd.Timestamp("2021-06-14")
    pre, post = r.loc[: LISTED - pd.Timedelta(days=1)], r.loc[LISTED:]
    both = post[["ldo", "eth"]].dropna()
    scale = both["ldo"].std(ddof=0) / both["eth"].std(ddof=0)
    # every pre-listing return is scale x eth's: correlation 1, the scale of the overlap
    np.testing.assert_allclose(pre["ldo"], scale * pre["eth"], rtol=1e-9, atol=1e-12)
    assert 1.2 < scale < 2.5
    (span,) = proxied.prices.proxied
    assert (span.asset, span.proxy, span.first_price) == ("ldo", "eth", "2022-05-09")
    assert (span.start, span.end) == ("2021-06-13", "2022-05-08")
    assert span.scale == pytest.approx(scale, rel=1e-9)
    (f,) = [f for f in proxied.prices.findings if f.kind == "proxied"]
    assert (f.asset, f.start, f.end) == ("ldo", "2021-06-13", "2022-05-08")
    assert "follows eth" in f.detail
    # the fhs residuals of those days move with eth's (two GARCH filters, so not exactly 1)
    gen = proxied.generator
    assert gen.n_imputed_cells_ == 0
    z = pd.DataFrame(gen.innovations_, index=r.index, columns=gen.asset_names_)
    assert z.loc[: LISTED - pd.Timedelta(days=1)].corr().loc["ldo", "eth"] > 0.95


def test_proxied_scenarios_crash_with_the_proxy(proxied, own):
    # scenarios: a 2021-05-19-like eth day, drawn from the proxied rows, is ldo's at 1.2-2.5x
    for inputs, low in ((proxied, 0.95), (own, 0.5)):
        gen = inputs.generator
        i_eth, i_ldo = list(gen.asset_names_).index("eth"), list(gen.asset_names_).index("ldo")
        pre = inputs.returns.index < LISTED
        c = np.corrcoef(gen.innovations_[pre, i_eth], gen.innovations_[pre, i_ldo])[0, 1]
        assert c > low, (inputs.config.assets["ldo"].short_history, c)
    assert own.generator.imputed_by_asset_ == {"ldo": int((own.returns.index < LISTED).sum())}
    assert own.prices.proxied == ()


def test_a_proxy_that_is_a_data_ticker_is_loaded_and_dropped(data_dir):
    cfg = _cfg('short_history = "proxy"\nproxy = "uni"\n')
    inputs = _inputs(cfg, data_dir)
    assert list(inputs.prices.prices.columns) == ["eth", "btc", "ldo"]
    (span,) = inputs.prices.proxied
    assert span.proxy == "uni" and inputs.returns["ldo"].notna().all()


def test_the_history_section_says_how_each_young_asset_is_filled(proxied, own):
    from optimizer.report.history import asset_histories

    (p,) = [h for h in asset_histories(proxied.prices, proxied.returns, proxied.generator) if h.asset == "ldo"]
    assert (p.first_price, p.proxied_days, p.imputed_days) == ("2022-05-09", 330, 0)
    assert p.how.startswith("proxy: 330 days follow eth x ")
    (o,) = [h for h in asset_histories(own.prices, own.returns, own.generator) if h.asset == "ldo"]
    assert (o.first_price, o.missing_days, o.imputed_days, o.proxied_days) == ("2022-05-09", 330, 330, 0)
    assert o.how.startswith("imputed from the others' residuals that day (R")
