"""Impact laws and liquidation slippage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.protocol.book import Book
from optimizer.protocol.kernels import bad_debt_static
from optimizer.protocol.liquidity import (
    MAX_IMPACT,
    DepthSlippage,
    curve_impact,
    depth_curve_impact,
    liquidation_slippage,
    seized_collateral,
    sqrt_impact,
    sqrt_law_curve,
)
from optimizer.protocol.mechanics import debt_at_threshold_factor
from optimizer.protocol.params import RiskParams
from optimizer.protocol.sale import SaleSize


def _sale(usd) -> SaleSize:
    """A day's sale of the given USD amounts (the law prices whatever size it is handed)."""
    q = np.asarray(usd, dtype=float)
    names = tuple(f"a{i}" for i in range(len(q)))
    return SaleSize(assets=names, usd=q, collateral_usd=np.maximum(q, 1.0), rule="share", share=1.0)


def test_sqrt_impact_values():
    # 1 % of daily volume, 4 % daily volatility: 0.04 * sqrt(0.01) = 0.4 %
    assert sqrt_impact(1e6, 1e8, 0.04) == pytest.approx(0.004)
    assert sqrt_impact(1e6, 1e8, 0.04, coef=0.5) == pytest.approx(0.002)
    np.testing.assert_allclose(sqrt_impact([0.0, 4e6], 1e8, 0.04), [0.0, 0.008])
    assert sqrt_impact(1e12, 1e6, 0.05) == MAX_IMPACT  # capped
    assert sqrt_impact(1.0, 0.0, 0.05) == MAX_IMPACT  # no volume at all
    assert sqrt_impact(0.0, 0.0, 0.05) == 0.0
    with pytest.raises(ValueError, match=r"`adv_usd` must be finite and >= 0"):
        sqrt_impact(1.0, -1.0, 0.05)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1e9), st.floats(0, 1e9), st.floats(1e3, 1e10), st.floats(0, 0.5))
def test_sqrt_impact_monotone_and_bounded(q1, q2, adv, sigma):
    lo, hi = sorted((q1, q2))
    a, b = sqrt_impact(lo, adv, sigma), sqrt_impact(hi, adv, sigma)
    assert 0 <= a <= b <= MAX_IMPACT


def test_depth_curve_impact_linear():
    assert depth_curve_impact(5e6, 5e6) == pytest.approx(0.02)
    assert depth_curve_impact(2.5e6, 5e6) == pytest.approx(0.01)
    assert depth_curve_impact(1e12, 5e6) == MAX_IMPACT
    with pytest.raises(ValueError, match=r"`depth_usd_at_2pct` must be finite and > 0"):
        depth_curve_impact(1.0, 0.0)


def test_curve_impact_interpolates_in_log_log_and_extends_as_a_power_law():
    xs, ys = [1e6, 1e8], [0.01, 0.10]
    # between the points: log-log interpolation (the geometric mean of the sizes -> geometric mean of the slippages)
    assert curve_impact(1e7, xs, ys) == pytest.approx(np.sqrt(0.01 * 0.10))
    np.testing.assert_allclose(curve_impact([0.0, 1e6, 1e8], xs, ys), [0.0, 0.01, 0.10])
    # beyond: the square-root law through the last point, or the exponent given
    assert curve_impact(4e8, xs, ys) == pytest.approx(0.20)
    assert curve_impact(4e8, xs, ys, exponent=1.0) == pytest.approx(0.40)
    assert curve_impact(0.25e6, xs, ys) == pytest.approx(0.005)  # below the first point, same law
    assert curve_impact(1e20, xs, ys) == MAX_IMPACT
    with pytest.raises(ValueError, match=r"slippages must lie in \(0, 1\) and strictly increase"):
        curve_impact(1.0, xs, [0.1, 0.1])
    with pytest.raises(ValueError, match=r"sizes must be finite, > 0 and strictly increasing"):
        curve_impact(1.0, [2.0, 1.0], ys)


def test_sqrt_law_curve_reproduces_the_square_root_law():
    adv, sigma = np.array([1e8, 3e6]), np.array([0.04, 0.07])
    curves = [sqrt_law_curve(a, coef=0.8) for a in adv]
    law = DepthSlippage(tuple(c[0] for c in curves), tuple(c[1] for c in curves), np.ones(2), max_slippage=0.99)
    q = np.array([1e7, 5e5])
    np.testing.assert_allclose(law.slippage(_sale(q), sigma), sqrt_impact(q, adv, sigma, coef=0.8))


def _law(**kw):
    # a measured-looking curve at a reference volatility of 2 % a day
    return DepthSlippage((np.array([1e6, 1e7, 1e8]),), (np.array([0.005, 0.02, 0.08]),), np.array([0.02]), **kw)


def test_depth_slippage_rises_when_the_curve_thins_and_with_volatility():
    law, q = _law(), _sale([1e7])
    base = float(law.slippage(q, [0.02])[0])
    assert base == pytest.approx(0.02)  # a 10M sale: the curve point at 2 %, at the reference volatility
    thinner = float(_law(liquidity_multiplier=0.5).slippage(q, [0.02])[0])
    assert thinner > base
    assert float(law.scaled([0.5]).slippage(q, [0.02])[0]) == pytest.approx(thinner)
    # volatility: linear below the cap, slippage_per_sigma x sigma
    assert float(law.slippage(q, [0.04])[0]) == pytest.approx(2 * base)
    assert float(law.slippage_per_sigma(q)[0]) * 0.03 == pytest.approx(float(law.slippage(q, [0.03])[0]))
    assert float(law.slippage(q, [10.0])[0]) == law.max_slippage
    # the law prices a typed sale only: a bare array was once the whole collateral
    with pytest.raises(TypeError, match=r"`sale` must be a SaleSize"):
        law.slippage(np.array([4e7]), [0.02])
    # depth_at inverts the law
    q = float(law.depth_at(0.03, [0.04])[0])
    assert float(law.impact(0, q, 0.04)) == pytest.approx(0.03)


def test_depth_slippage_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"`sigma_ref` must be finite and > 0"):
        DepthSlippage((np.array([1e6]),), (np.array([0.01]),), np.array([0.0]))
    with pytest.raises(ValueError, match=r"one entry per asset"):
        DepthSlippage((np.array([1e6]),), (), np.array([0.02]))


def test_seized_collateral_by_hand():
    # HF 0.7 -> liquidated: debt 70 takes 70 x 1.05 = 73.5 of the 80 collateral; other healthy
    book = Book.from_dense(
        ("usd", "x"), np.array([[0.0, 100.0], [0.0, 100.0]]), np.array([[70.0, 0], [40.0, 0]])
    )
    p = RiskParams(
        assets=("usd", "x"),
        ltv=[0.0, 0.7],
        liquidation_threshold=[0.0, 0.8],
        liquidation_bonus=[0.0, 0.05],
    )
    out = seized_collateral(book, np.array([[1.0, 0.8], [1.0, 1.0]]), p)
    np.testing.assert_allclose(out, [[0.0, 73.5], [0.0, 0.0]])


def test_liquidation_slippage_behaviour(synth_book, market_params, scenario_relatives):
    adv = np.array([5e9, 1e9, 5e8, 5e7, 1e7, 2e7])
    sigma = np.array([0.001, 0.04, 0.035, 0.06, 0.08, 0.06])
    at_one = debt_at_threshold_factor(synth_book, market_params)
    kw = dict(debt_scale=at_one)
    base = liquidation_slippage(synth_book, market_params, scenario_relatives, adv, sigma, **kw)
    assert base.shape == (6,) and np.all((base >= 0) & (base <= MAX_IMPACT))
    assert base[1:].max() > 0
    crunch = liquidation_slippage(
        synth_book, market_params, scenario_relatives, adv, sigma, liquidity_multiplier=0.25, **kw
    )
    np.testing.assert_allclose(crunch, np.minimum(base * 2, MAX_IMPACT))  # sqrt(1 / 0.25) = 2
    none_sold = liquidation_slippage(
        synth_book, market_params, scenario_relatives, adv, sigma, share=0.0
    )
    assert np.all(none_sold == 0)
    calm = liquidation_slippage(synth_book, market_params, np.ones((20, 6)), adv, sigma, **kw)
    assert np.all(calm == 0)
    # feeding the slippage back raises bad debt
    plain = bad_debt_static(synth_book, scenario_relatives, market_params, debt_scale=at_one).total
    slipped = bad_debt_static(
        synth_book, scenario_relatives, market_params, slippage=base, debt_scale=at_one
    )
    assert slipped.total.sum() > plain.sum()
    with pytest.raises(ValueError, match=r"`tail` must lie in \(0, 1\]"):
        liquidation_slippage(synth_book, market_params, scenario_relatives, adv, sigma, tail=0.0)


def _sqrt_law(adv, *, reach, coef, cap, mult=1.0):
    curves = [sqrt_law_curve(v * reach, coef=coef) for v in adv]
    return DepthSlippage(tuple(c[0] for c in curves), tuple(c[1] for c in curves), np.ones(len(adv)),
                         liquidity_multiplier=mult, max_slippage=cap)


def test_the_square_root_law_as_depth_curves_on_the_days_sale():
    adv = np.array([1e9, 1e9, 1e9])
    law = _sqrt_law(adv, reach=0.2, mult=0.5, coef=0.8, cap=0.05)
    q, sig = _sale([1e8, 2.5e5, 0.0]), np.array([0.04, 0.04, 0.04])
    # V = 0.1 x adv: 0.8 x 0.04 x sqrt(1e8 / 1e8) = 0.032; 0.8 x 0.04 x sqrt(2.5e-3) = 1.6e-3
    np.testing.assert_allclose(law.slippage(q, sig), [0.032, 0.8 * 0.04 * np.sqrt(2.5e-3), 0.0])
    assert law.slippage(_sale([1e10, 0, 0]), sig)[0] == 0.05  # capped at max_slippage
    with pytest.raises(ValueError, match=r"`cap` must be >= 0"):
        sqrt_impact(1.0, 1.0, 0.1, cap=-1.0)


def test_slippage_per_sigma_is_uncapped_and_linear_in_sigma():
    adv = np.array([1e7, 1e7])
    law = _sqrt_law(adv, reach=0.2, coef=1.5, cap=0.05)
    q = np.array([5e5, 2e8])
    per = law.slippage_per_sigma(_sale(q))
    np.testing.assert_allclose(per, 1.5 * np.sqrt(q / (adv * 0.2)))
    assert per[1] > law.max_slippage  # not capped
    sig = np.array([0.03, 0.03])
    np.testing.assert_allclose(law.slippage(_sale(q), sig), np.minimum(sig * per, law.max_slippage))
