"""A synthetic book calibrated to the real top borrowers: totals, health, concentration, leverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.protocol.calibrated_book import EMODE_LT, calibrated_book
from optimizer.protocol.mechanics import health_factor
from optimizer.protocol.reference_book import load_reference_book

SYMBOLS = ("USDC", "WETH", "WBTC", "LINK", "CRV", "UNI")


@pytest.fixture(scope="module")
def reference(data_dir: Path):
    return load_reference_book(data_dir.parent / "reference" / "aave_v3_ethereum_top_borrowers_20251201.csv")


def _build(reference, market_params, market_totals, assets, *, seed=5, n_accounts=4000, **kw):
    supplied, borrowed = market_totals
    return calibrated_book(assets, symbols=SYMBOLS, supplied_usd=supplied, borrowed_usd=borrowed,
                           n_accounts=n_accounts, current=market_params, rng=np.random.default_rng(seed),
                           reference=reference, **kw)


@pytest.fixture(scope="module")
def cal(reference, market_params, market_totals, assets):
    return _build(reference, market_params, market_totals, assets)


def test_calibrated_book_matches_the_market_totals(cal, market_totals):
    supplied, borrowed = market_totals
    book = cal.book
    np.testing.assert_allclose(book.collateral_by_asset, supplied, rtol=1e-9)
    assert book.total_debt == pytest.approx(borrowed.sum(), rel=1e-9)
    np.testing.assert_allclose(book.debt_by_asset, borrowed, rtol=2e-3)


def test_every_borrower_starts_healthy_and_the_recorded_hf_is_the_books(cal, market_params):
    book = cal.book
    debt = book.account_debt
    b = debt > 0
    hf = health_factor(book.collateral_matrix().toarray()[b], debt[b], market_params.liquidation_threshold)
    assert hf.min() >= 1.0 - 1e-12
    np.testing.assert_allclose(hf, cal.health_factor[b], rtol=1e-9)
    assert np.isinf(cal.health_factor[~b]).all()
    hf_min = 1.1
    cal2 = _build(cal.reference, market_params, (book.collateral_by_asset, book.debt_by_asset), book.assets,
                  hf_min=hf_min)
    assert cal2.health_factor[cal2.book.account_debt > 0].min() >= hf_min - 1e-12


def test_concentration_matches_the_reference_measured_on_the_largest_1000(cal, reference):
    ref_c, book_c = reference.concentration(), cal.concentration
    assert book_c.top == 1000
    for k in (1, 10, 100):
        assert 1 / 1.5 <= book_c.share(k) / ref_c.share(k) <= 1.5, k
    # the 10 placed accounts carry the reference's relative sizes exactly
    debt = np.sort(cal.book.account_debt)[::-1]
    np.testing.assert_allclose(debt[:10] / debt[0], reference.debt_usd[:10] / reference.debt_usd[0], rtol=1e-9)
    assert 0.8 < cal.market_share_top < 1.0  # the tail continued past rank 1,000 holds the rest


def test_leverage_follows_the_reference_quantiles_and_size(cal, reference):
    q_ref, q_draw, _ = cal.leverage_quantiles()
    np.testing.assert_allclose(q_draw, q_ref, rtol=0.10)
    # size-dependent as in the data: the largest accounts are looped far more than the small
    cd, debt = cal.reference_cd, cal.book.account_debt
    order = np.argsort(-debt)
    big, small = order[:50], order[1000:3000]
    assert np.mean(cd[big] <= 1.15) > 2 * np.mean(cd[small] <= 1.15)


def test_accounts_the_reserve_lts_can_carry_keep_their_leverage_the_others_get_the_emode_rule(cal, market_params):
    book = cal.book
    b = book.account_debt > 0
    cd_book = book.account_collateral / np.where(b, book.account_debt, 1.0)
    keep = b & ~cal.emode
    np.testing.assert_allclose(cd_book[keep], cal.reference_cd[keep], rtol=1e-9)
    em = cal.emode
    assert em.any() and cal.emode_debt_share > 0.3
    np.testing.assert_allclose(cal.health_factor[em], np.maximum(cal.reference_cd[em] * EMODE_LT, 1.0), rtol=1e-9)
    # an e-mode account's reference leverage is one its reserve collateral cannot carry
    lt_acct = (book.collateral_matrix() @ market_params.liquidation_threshold) / book.account_collateral
    assert np.all(cal.reference_cd[em] * lt_acct[em] < 1.0)


def test_placed_accounts_owe_their_reference_debt_asset_where_the_market_has_it(cal, reference):
    book = cal.book
    assert reference.largest_debt_asset[0] == "WETH"
    # the top 10 owe WETH (ranks 1, 2, 8), USDT (5) and wstETH (2): only WETH is in this market
    assert cal.preferred_found == 3
    for a in (0, 1, 7):
        assert [book.assets[i] for i in book.debt_asset[book.debt_indptr[a]:book.debt_indptr[a + 1]]] == ["weth"]


def test_calibrated_book_is_deterministic(reference, market_params, market_totals, assets):
    a = _build(reference, market_params, market_totals, assets, seed=1)
    b = _build(reference, market_params, market_totals, assets, seed=1)
    c = _build(reference, market_params, market_totals, assets, seed=2)
    assert np.array_equal(a.book.coll_usd, b.book.coll_usd) and np.array_equal(a.book.debt_usd, b.book.debt_usd)
    assert not np.array_equal(a.book.debt_usd, c.book.debt_usd)


def test_a_small_book_is_its_largest_accounts(reference, market_params, market_totals, assets):
    cal = _build(reference, market_params, market_totals, assets, n_accounts=50)
    assert (cal.book.account_debt > 0).sum() == 35
    np.testing.assert_allclose(cal.book.collateral_by_asset, market_totals[0], rtol=1e-9)


def test_calibrated_book_argument_errors(reference, market_params, market_totals, assets):
    with pytest.raises(ValueError, match=r"`n_placed` must lie in \[1, 998\]"):
        _build(reference, market_params, market_totals, assets, n_placed=999)
    with pytest.raises(ValueError, match=r"`symbols` must have one symbol per asset"):
        calibrated_book(assets, symbols=("X",), supplied_usd=market_totals[0], borrowed_usd=market_totals[1],
                        n_accounts=10, current=market_params, rng=np.random.default_rng(0), reference=reference)
    with pytest.raises(TypeError, match=r"`rng` must be a numpy.random.Generator"):
        calibrated_book(assets, symbols=SYMBOLS, supplied_usd=market_totals[0], borrowed_usd=market_totals[1],
                        n_accounts=10, current=market_params, rng=1, reference=reference)


# --- e-mode loops post collateral of their debt's class --------------------------------------------
CLASSES = ("usd", "eth", "btc", None, None, None)  # USDC, WETH, WBTC; LINK, CRV, UNI have none


@pytest.fixture(scope="module")
def cal_classes(reference, market_params, market_totals, assets):
    return _build(reference, market_params, market_totals, assets, classes=CLASSES)


def _classes_of(book, cols):
    return {CLASSES[int(i)] for i in cols}


def test_loop_accounts_post_and_owe_their_debt_class(cal_classes):
    cal, book = cal_classes, cal_classes.book
    loops = np.flatnonzero(cal.emode)
    assert len(loops) > 100 and not cal.loop_fallback.any() and cal.missing_classes == ()
    for a in loops:
        c = cal.loop_class[a]
        assert c in ("eth", "usd", "btc")
        coll = book.coll_asset[book.coll_indptr[a]:book.coll_indptr[a + 1]]
        debt = book.debt_asset[book.debt_indptr[a]:book.debt_indptr[a + 1]]
        assert _classes_of(book, coll) == {c} and _classes_of(book, debt) == {c}, a
    # the two largest reference accounts are WETH loops: ETH collateral against ETH debt
    assert cal.loop_class[0] == cal.loop_class[1] == "eth"
    by_class = {c: coll for c, _, _, coll in cal.loop_collateral()}
    assert set(by_class["eth"]) == {"weth"} and set(by_class["usd"]) == {"usdc"}


def test_without_classes_every_loop_keeps_the_supply_rule_and_is_flagged(cal):
    assert cal.emode.any() and (cal.loop_fallback == cal.emode).all()
    assert set(cal.missing_classes) <= {"eth", "usd", "btc"} and "eth" in cal.missing_classes
    assert [c for c, *_ in cal.loop_collateral()] == ["fallback"]


def test_no_ordinary_account_borrows_only_its_own_collateral(cal_classes):
    """Where the market has room elsewhere (this market: every account found some), an account that
    is not a loop and posts one asset does not owe that asset alone."""
    cal, book = cal_classes, cal_classes.book
    assert len(cal.own_collateral_borrowers) == 0
    single = np.flatnonzero((np.diff(book.coll_indptr) == 1) & (book.account_debt > 0) & ~cal.emode)
    assert len(single) > 500
    for a in single:
        j = book.coll_asset[book.coll_indptr[a]]
        debt = book.debt_asset[book.debt_indptr[a]:book.debt_indptr[a + 1]]
        assert set(debt.tolist()) != {j}, a


def test_the_loop_rule_moves_collateral_not_sizes(cal, cal_classes, market_totals):
    """Concentration and leverage draws are those of the book without the rule; totals still match."""
    for k in (1, 10, 100):
        assert cal_classes.concentration.share(k) == pytest.approx(cal.concentration.share(k), rel=1e-12)
    np.testing.assert_allclose(np.sort(cal_classes.book.account_debt), np.sort(cal.book.account_debt), rtol=1e-9)
    np.testing.assert_array_equal(cal_classes.reference_cd, cal.reference_cd)
    supplied, borrowed = market_totals
    np.testing.assert_allclose(cal_classes.book.collateral_by_asset, supplied, rtol=1e-9)
    np.testing.assert_allclose(cal_classes.book.debt_by_asset, borrowed, rtol=2e-3)
    assert np.nanmax(np.abs(cal_classes.debt_fit())) < 2e-3
    assert cal_classes.health_factor[cal_classes.book.account_debt > 0].min() >= 1.0 - 1e-12


def test_a_class_the_config_lacks_falls_back_and_is_named(reference, market_params, market_totals, assets):
    """No ETH-class asset: ETH loops keep the supply rule (flagged), the others still get theirs."""
    cal = _build(reference, market_params, market_totals, assets, classes=("usd", None, "btc", None, None, None))
    assert "eth" in cal.missing_classes
    assert cal.loop_fallback[0] and cal.loop_fallback[1]  # the two WETH loops
    assert (cal.loop_class[cal.emode & ~cal.loop_fallback] != "").all()
    assert not (cal.loop_class == "eth").any()
