"""Book CSV loading (and its errors) and the synthetic book generator."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from optimizer.exceptions import DataError
from optimizer.protocol.books import load_book_csv, save_book_csv, synthetic_book
from optimizer.protocol.mechanics import health_factor


def _write(tmp_path, text: str, name: str = "book.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------
def test_load_book_csv_reads_rows(tmp_path, assets):
    path = _write(
        tmp_path,
        "account,asset,collateral_usd,debt_usd,note\n"
        "0xA,WETH,1000,0,x\n"
        "0xA,usdc,0,600,\n"
        "0xB,wbtc,250.5,0,\n"
        "\n"
        "0xC,usdc,0,0,\n",
    )
    book = load_book_csv(path, assets)
    assert book.account_ids == ("0xA", "0xB", "0xC")
    assert book.assets == assets
    assert book.source == str(path)
    np.testing.assert_allclose(book.account_collateral, [1000.0, 250.5, 0.0])
    np.testing.assert_allclose(book.account_debt, [600.0, 0.0, 0.0])
    assert book.coll_asset.tolist() == [assets.index("weth"), assets.index("wbtc")]


def test_book_csv_round_trip(tmp_path, synth_book):
    path = save_book_csv(synth_book, tmp_path / "out.csv")
    again = load_book_csv(path, synth_book.assets)
    assert again.account_ids == synth_book.account_ids
    np.testing.assert_array_equal(again.coll_usd, synth_book.coll_usd)
    np.testing.assert_array_equal(again.debt_usd, synth_book.debt_usd)
    np.testing.assert_array_equal(again.debt_asset, synth_book.debt_asset)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "account,asset,collateral_usd\n0xA,weth,1\n",
            r"book\.csv: book is missing column\(s\) \['debt_usd'\]",
        ),
        ("", r"book\.csv: book file is empty"),
        (
            "account,asset,collateral_usd,debt_usd\n",
            r"book\.csv: book file has a header but no rows",
        ),
        (
            "account,asset,collateral_usd,debt_usd\n0xA,weth,1,0\n0xB,xyz,5,0\n",
            r"book\.csv, line 3 \(account '0xB'\): book references asset 'xyz' which has no prices",
        ),
        (
            "account,asset,collateral_usd,debt_usd\n0xA,weth,-1,0\n",
            r"book\.csv, line 2 \(account '0xA', asset 'weth'\): `collateral_usd` is negative",
        ),
        (
            "account,asset,collateral_usd,debt_usd\n0xA,weth,1,nan\n",
            r"book\.csv, line 2 \(account '0xA', asset 'weth'\): `debt_usd` is NaN",
        ),
        (
            "account,asset,collateral_usd,debt_usd\n0xA,weth,1,\n",
            r"line 2 \(account '0xA', asset 'weth'\): `debt_usd` is not a number: ''",
        ),
        (
            "account,asset,collateral_usd,debt_usd\n0xA,weth,1,0\n0xA,WETH,2,0\n",
            r"line 3: account '0xA' has a second row for asset 'weth' \(first on line 2\)",
        ),
    ],
)
def test_load_book_csv_errors_name_the_culprit(tmp_path, text, match, assets):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=match):
        load_book_csv(path, assets)


def test_load_book_csv_missing_file(tmp_path, assets):
    with pytest.raises(DataError, match=r"nope\.csv: book file not found"):
        load_book_csv(tmp_path / "nope.csv", assets)


# --------------------------------------------------------------------------------------------
# synthetic
# --------------------------------------------------------------------------------------------
def test_synthetic_book_matches_market_totals(synth_book, market_totals):
    supplied, borrowed = market_totals
    np.testing.assert_allclose(synth_book.collateral_by_asset, supplied, rtol=1e-12)
    assert synth_book.total_debt == pytest.approx(borrowed.sum(), rel=1e-10)
    np.testing.assert_allclose(synth_book.debt_by_asset, borrowed, rtol=1e-3)
    assert synth_book.source == "synthetic"


def test_synthetic_book_health_factors(synth_book, market_params):
    hf = health_factor(
        synth_book.collateral_matrix().toarray(),
        synth_book.account_debt,
        market_params.liquidation_threshold,
    )
    borrowing = synth_book.account_debt > 0
    assert 0.5 < borrowing.mean() < 0.85  # a share of accounts only supply
    assert hf[borrowing].min() >= 1.0 - 1e-12
    assert 1.2 < np.median(hf[borrowing]) < 2.0


def test_synthetic_book_shape_of_accounts(synth_book):
    sizes = np.sort(synth_book.account_collateral)[::-1]
    top = sizes[: len(sizes) // 100].sum() / sizes.sum()
    assert top > 0.20  # heavy tail: top 1 % of accounts hold over a fifth of the collateral
    n_coll = np.diff(synth_book.coll_indptr)
    n_debt = np.diff(synth_book.debt_indptr)
    assert n_coll.min() >= 1 and n_coll.max() <= 3 and (n_coll == 1).mean() > 0.4
    assert n_debt.max() <= 2


def test_synthetic_book_is_deterministic(market_params, market_totals, assets):
    supplied, borrowed = market_totals
    kw = dict(supplied_usd=supplied, borrowed_usd=borrowed, n_accounts=300, current=market_params)
    a = synthetic_book(assets, rng=np.random.default_rng(1), **kw)
    b = synthetic_book(assets, rng=np.random.default_rng(1), **kw)
    c = synthetic_book(assets, rng=np.random.default_rng(2), **kw)
    np.testing.assert_array_equal(a.coll_usd, b.coll_usd)
    np.testing.assert_array_equal(a.debt_usd, b.debt_usd)
    np.testing.assert_array_equal(a.debt_asset, b.debt_asset)
    assert a.coll_usd.shape != c.coll_usd.shape or not np.array_equal(a.coll_usd, c.coll_usd)


def test_synthetic_book_caps_debt_at_hf_min(market_params, market_totals, caplog, assets):
    supplied, _ = market_totals
    too_much = supplied * 0.9  # more than the collateral carries at HF >= 1.05
    with caplog.at_level(logging.WARNING, logger="optimizer.protocol.books"):
        book = synthetic_book(
            assets,
            supplied_usd=supplied,
            borrowed_usd=too_much,
            n_accounts=400,
            current=market_params,
            rng=np.random.default_rng(4),
            hf_min=1.05,
        )
    assert "every borrowing account is placed at hf_min" in caplog.text
    hf = health_factor(
        book.collateral_matrix().toarray(), book.account_debt, market_params.liquidation_threshold
    )
    borrowing = book.account_debt > 0
    np.testing.assert_allclose(hf[borrowing], 1.05, rtol=1e-9)
    assert book.total_debt < too_much.sum()


def test_synthetic_book_argument_errors(market_params, market_totals, assets):
    supplied, borrowed = market_totals
    kw = dict(supplied_usd=supplied, borrowed_usd=borrowed, n_accounts=10, current=market_params)
    with pytest.raises(TypeError, match=r"`rng` must be a numpy.random.Generator"):
        synthetic_book(assets, rng=1, **kw)
    with pytest.raises(ValueError, match=r"need hf_median > hf_min"):
        synthetic_book(assets, rng=np.random.default_rng(0), hf_median=1.0, **kw)
    with pytest.raises(ValueError, match=r"`supplied_usd` must have shape \(6,\)"):
        synthetic_book(assets, rng=np.random.default_rng(0), **{**kw, "supplied_usd": supplied[:3]})
