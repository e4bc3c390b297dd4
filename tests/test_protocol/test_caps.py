"""Supply and borrow caps from liquidity (optimizer.protocol.caps): known answers on synthetic books and curves."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.protocol.book import Book
from optimizer.protocol.caps import borrow_caps, liquidity_caps, stressed_liquidated_share, supply_caps
from optimizer.protocol.liquidity import DepthSlippage
from optimizer.protocol.params import RiskParams

# Synthetic on purpose: one account holding 100 of x against 70 of USD debt, so the liquidated share is
# known by hand (a 20 % fall: HF 0.91, the whole debt repaid with 70 x 1.05 = 73.5 of x: share 0.735).
ASSETS = ("usd", "x")
ONE = Book.from_dense(ASSETS, np.array([[0.0, 100.0]]), np.array([[70.0, 0.0]]))
P = RiskParams(assets=ASSETS, ltv=[0.7, 0.7], liquidation_threshold=[0.8, 0.8], liquidation_bonus=[0.05, 0.05])
STRESS = np.array([[1.0, 0.9], [1.0, 0.8], [1.0, 1.1]])  # -10 % (HF 1.03: nothing), -20 %, +10 %
NAMES = ("mild", "crash", "rally")


def _law(q: float = 1e6) -> DepthSlippage:
    """One synthetic point per asset: $q sold at 1 % when daily volatility was 2 %; the square-root law around it."""
    return DepthSlippage(sellable_usd=(np.array([q]), np.array([q])), levels=(np.array([0.01]), np.array([0.01])),
                         sigma_ref=np.array([0.02, 0.02]), exponent=0.5)


def test_cap_rule_matches_its_closed_form_on_a_synthetic_curve():
    caps = liquidity_caps(ONE, STRESS, P, _law(), [0.04, 0.04], horizon_days=2, names=NAMES,
                          min_liquidated_share=0.05, utilisation_headroom=0.1)
    # impact(q) = 0.01 sqrt(q / 1e6) x 0.04 / 0.02 = bonus 0.05  =>  q* = 1e6 x 2.5^2 = $6.25M a day
    assert caps.depth_at_bonus_usd[1] == pytest.approx(6.25e6)
    assert caps.stressed_share[1] == pytest.approx(0.735) and caps.worst_scenario[1] == "crash"
    assert caps.supply_cap_usd[1] == pytest.approx(2 * 6.25e6 / 0.735)
    assert caps.supply_binds[1] == "stress scenario"
    # the borrow cap keeps the stressed liquidation withdrawable: u = 1 - 0.735 < 1 - headroom
    assert caps.utilisation[1] == pytest.approx(0.265) and caps.borrow_binds[1] == "stressed liquidation withdrawal"
    assert caps.borrow_cap_usd[1] == pytest.approx(caps.supply_cap_usd[1] * 0.265)
    # nothing of usd is collateral: its share is the floor, its utilisation the headroom's
    assert caps.stressed_share[0] == 0.0 and caps.worst_scenario[0] == ""
    assert caps.supply_cap_usd[0] == pytest.approx(2 * 6.25e6 / 0.05) and caps.supply_binds[0] == "liquidated-share floor"
    assert caps.utilisation[0] == pytest.approx(0.9) and caps.borrow_binds[0] == "utilisation headroom"
    # selling the capped supply's liquidation over the horizon costs exactly the bonus a day
    day = caps.share_used[1] * caps.supply_cap_usd[1] / 2
    assert float(_law().impact(1, day, 0.04)) == pytest.approx(0.05)


def test_the_reachable_daily_volume_bounds_the_depth():
    caps = liquidity_caps(ONE, STRESS, P, _law(), [0.04, 0.04], horizon_days=2, max_daily_sale_usd=[1e9, 1e6])
    assert caps.curve_depth_usd[1] == pytest.approx(6.25e6) and caps.depth_at_bonus_usd[1] == 1e6
    assert caps.depth_binds == ("depth curve at the bonus", "reachable daily volume")
    assert caps.supply_cap_usd[1] == pytest.approx(2 * 1e6 / 0.735)


def test_halving_an_assets_depth_halves_its_supply_cap():
    law = _law()
    full = liquidity_caps(ONE, STRESS, P, law, [0.04, 0.04], horizon_days=2)
    half = liquidity_caps(ONE, STRESS, P, law.scaled([1.0, 0.5]), [0.04, 0.04], horizon_days=2)
    assert half.supply_cap_usd[1] < full.supply_cap_usd[1]
    assert half.supply_cap_usd[1] == pytest.approx(full.supply_cap_usd[1] / 2)
    assert half.supply_cap_usd[0] == full.supply_cap_usd[0]  # the other asset's depth is untouched
    # where the reachable volume bounds the day's sale, halving the asset's liquidity halves that bound too
    vol_full = liquidity_caps(ONE, STRESS, P, law, [0.04, 0.04], horizon_days=2, max_daily_sale_usd=[1e6, 1e6])
    vol_half = liquidity_caps(ONE, STRESS, P, law.scaled([1.0, 0.5]), [0.04, 0.04], horizon_days=2,
                              max_daily_sale_usd=[1e6, 1e6])
    assert vol_full.depth_binds[1] == vol_half.depth_binds[1] == "reachable daily volume"
    assert vol_half.supply_cap_usd[1] == pytest.approx(vol_full.supply_cap_usd[1] / 2)
    # on a measured multi-point curve (not a pure power law) halving the depth lowers the cap too
    multi = DepthSlippage(sellable_usd=(np.array([1e5, 1e6, 5e6]),) * 2, levels=(np.array([0.004, 0.02, 0.09]),) * 2,
                          sigma_ref=np.array([0.03, 0.03]))
    a = liquidity_caps(ONE, STRESS, P, multi, [0.05, 0.05], horizon_days=1)
    b = liquidity_caps(ONE, STRESS, P, multi.scaled([1.0, 0.5]), [0.05, 0.05], horizon_days=1)
    assert b.supply_cap_usd[1] < a.supply_cap_usd[1]


def test_higher_volatility_and_a_lower_bonus_lower_the_cap():
    base = liquidity_caps(ONE, STRESS, P, _law(), [0.04, 0.04], horizon_days=2).supply_cap_usd[1]
    assert liquidity_caps(ONE, STRESS, P, _law(), [0.08, 0.08], horizon_days=2).supply_cap_usd[1] < base
    low = RiskParams(assets=ASSETS, ltv=[0.7, 0.7], liquidation_threshold=[0.8, 0.8], liquidation_bonus=[0.05, 0.03])
    assert liquidity_caps(ONE, STRESS, low, _law(), [0.04, 0.04], horizon_days=2).supply_cap_usd[1] < base


def test_caps_are_never_zero_or_negative():
    law = _law()
    wiped = np.array([[1.0, 0.01], [1.0, 1e-9]])  # the whole collateral seized, worth next to nothing
    for stress in (STRESS, wiped, np.ones((0, 2)), np.ones((1, 2))):
        caps = liquidity_caps(ONE, stress, P, law, [0.04, 0.04], horizon_days=2)
        assert np.all(caps.supply_cap_usd > 0) and np.all(np.isfinite(caps.supply_cap_usd))
        assert np.all(caps.borrow_cap_usd > 0) and np.all(caps.borrow_cap_usd <= caps.supply_cap_usd)
    rng = np.random.default_rng(3)  # random shares, depths and headrooms: positive, finite, borrow <= supply
    for _ in range(50):
        phi = rng.uniform(0, 1, 5) * rng.integers(0, 2, 5)
        cap, used = supply_caps(phi, rng.uniform(1, 1e9, 5), horizon_days=float(rng.uniform(0.5, 5)),
                                min_liquidated_share=float(rng.uniform(1e-3, 0.5)))
        b, u = borrow_caps(cap, used, utilisation_headroom=float(rng.uniform(0.01, 0.99)))
        assert np.all(cap > 0) and np.all(np.isfinite(cap)) and np.all(b > 0) and np.all(b <= cap)


def test_liquidated_share_per_scenario():
    share = stressed_liquidated_share(ONE, STRESS, P)
    assert share.shape == (3, 2)
    assert share[:, 1] == pytest.approx([0.0, 0.735, 0.0]) and not share[:, 0].any()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"min_liquidated_share": 0.0}, r"min_liquidated_share"),
    ({"horizon_days": 0.0}, r"horizon_days"),
    ({"utilisation_headroom": 1.0}, r"utilisation_headroom"),
])
def test_bad_arguments_are_refused(kwargs, match):
    args = {"horizon_days": 2.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        liquidity_caps(ONE, STRESS, P, _law(), [0.04, 0.04], **args)


def test_a_zero_bonus_is_refused():
    zero = RiskParams(assets=ASSETS, ltv=[0.7, 0.7], liquidation_threshold=[0.8, 0.8], liquidation_bonus=[0.0, 0.05])
    with pytest.raises(ValueError, match=r"bonus must lie in \(0, 1\).*usd"):
        liquidity_caps(ONE, STRESS, zero, _law(), [0.04, 0.04], horizon_days=2)
