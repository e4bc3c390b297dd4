"""The impact-law fit and the depth curves read from quotes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from optimizer.data import QuoteData, load_quotes
from optimizer.estimators import PowerLawImpact, depth_curves_from_quotes, fit_impact_laws
from optimizer.exceptions import EstimationError


def test_fit_recovers_known_parameters_on_synthetic_quotes(rng):
    """SYNTHETIC quotes: impact = 0.004 (q / 1M)^0.7 with 5 % log-normal noise; the fit must find them."""
    q = np.exp(rng.uniform(np.log(1e5), np.log(2e8), 400))
    y = 0.004 * (q / 1e6) ** 0.7 * np.exp(rng.normal(0, 0.05, q.size))
    est = PowerLawImpact(min_impact=1e-4).fit(q, np.minimum(y, 0.99))
    assert est.k_ == pytest.approx(0.004, rel=0.02)
    assert est.beta_ == pytest.approx(0.7, abs=0.01)
    assert est.median_rel_error_ < 0.05
    # the square-root law is the wrong shape here: its errors are larger
    assert est.sqrt_median_rel_error_ > 3 * est.median_rel_error_
    # exact square-root data: both laws agree
    sq = PowerLawImpact(min_impact=1e-4).fit(q, 0.003 * np.sqrt(q / 1e6))
    assert sq.beta_ == pytest.approx(0.5, abs=1e-6) and sq.k_sqrt_ == pytest.approx(0.003, rel=1e-6)
    assert sq.worst_rel_error_ < 1e-6
    assert clone(est).get_params() == est.get_params()


def test_fit_is_robust_to_outlying_quotes(rng):
    """SYNTHETIC: 5 % of the quotes 10x off; the soft-L1 loss keeps the exponent."""
    q = np.exp(rng.uniform(np.log(1e5), np.log(2e8), 400))
    y = 0.004 * (q / 1e6) ** 0.7
    bad = rng.random(q.size) < 0.05
    y[bad] = np.minimum(y[bad] * 10, 0.9)
    assert PowerLawImpact(min_impact=1e-4).fit(q, y).beta_ == pytest.approx(0.7, abs=0.02)


def test_fit_needs_quotes_above_the_floor():
    with pytest.raises(EstimationError, match=r"only 1 quotes have an impact >= 0.005"):
        PowerLawImpact().fit([1e5, 1e6, 1e7], [0.0, 0.001, 0.01])


@pytest.fixture(scope="module")
def quotes(quotes_path):
    return load_quotes(quotes_path)


def test_fit_on_the_real_quotes(quotes):
    tab = fit_impact_laws(quotes)
    assert len(tab.fits) + len(tab.skipped) == 56
    weth = tab.get("WETH", "USDC")
    # near-linear at the sizes that move WETH's price by more than 50 bp (pools being emptied)
    assert 0.8 < weth.beta < 1.2 and weth.median_rel_error < 0.15
    # the overall figures are those of the pooled per-quote errors
    assert tab.median_rel_error == pytest.approx(np.median(tab.rel_errors))
    assert tab.worst_rel_error == max(f.worst_rel_error for f in tab.fits)


def test_depth_curves_from_real_quotes(quotes):
    d = depth_curves_from_quotes(quotes, {"eth": "WETH", "wbtc": "WBTC", "usdc": "USDC", "crv": "CRV"})
    assert d.assets == ("eth", "wbtc", "usdc")  # no CRV quotes: no curve
    eth = d.get("eth")
    assert eth.date == "2023-11-20" and "oneinch_quotes_20231120.csv" in eth.source
    # WETH -> USDT reaches 5 % at about $95-120M on the day (README: wstETH 5.8 % at ~46.6k tokens)
    assert 8e7 < eth.depth_at(0.05) < 1.3e8
    # WBTC was thinner than WETH at every level both reach
    wbtc = d.get("wbtc")
    for s in (0.01, 0.02, 0.05):
        assert wbtc.depth_at(s) < eth.depth_at(s)


def test_depth_curve_reads_the_deeper_stablecoin():
    """SYNTHETIC quotes of one token into two stablecoins: the curve takes the deeper at each level."""
    sizes = np.geomspace(1e5, 1e8, 30)
    imp_a = np.minimum(0.01 * sizes / 1e6, 0.5)   # 1 % at $1M
    imp_b = np.minimum(0.01 * sizes / 4e6, 0.5)   # 1 % at $4M: deeper
    n = sizes.size
    q = QuoteData(sell=("TKN",) * 2 * n, buy=("USDC",) * n + ("USDT",) * n,
                  sell_amount=np.concatenate([sizes, sizes]),
                  buy_amount=np.concatenate([sizes * (1 - imp_a), sizes * (1 - imp_b)]),
                  price_impact=np.concatenate([imp_a, imp_b]), date="2024-01-01", path="synthetic.csv")
    c = depth_curves_from_quotes(q, {"tkn": "TKN"}).get("tkn")
    assert c.depth_at(0.01) == pytest.approx(4e6, rel=0.05)
