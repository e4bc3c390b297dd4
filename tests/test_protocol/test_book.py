"""`Book`: the compact position layout and its operations."""

from __future__ import annotations

import numpy as np

from optimizer.protocol.book import Book


def _book() -> Book:
    return Book(assets=("a", "b"), account_ids=("x", "y"), coll_indptr=np.array([0, 2, 3]),
                coll_asset=np.array([0, 1, 1]), coll_usd=np.array([10.0, 5.0, 5.0]),
                debt_indptr=np.array([0, 1, 2]), debt_asset=np.array([1, 0]), debt_usd=np.array([4.0, 6.0]))


def test_rescale_matches_totals_and_keeps_the_accounts():
    book = _book()
    out = book.rescale(np.array([20.0, 30.0]), np.array([3.0, 8.0]))
    np.testing.assert_allclose(out.collateral_by_asset, [20.0, 30.0])
    np.testing.assert_allclose(out.debt_by_asset, [3.0, 8.0])
    assert out.account_ids == book.account_ids and out.source == book.source
    np.testing.assert_array_equal(out.coll_asset, book.coll_asset)


def test_rescale_keeps_assets_with_nothing_to_scale():
    book = _book()
    out = book.rescale(np.array([0.0, 30.0]), np.array([3.0, 0.0]))
    np.testing.assert_allclose(out.collateral_by_asset, [10.0, 30.0])  # a zero target keeps the amount
    np.testing.assert_allclose(out.debt_by_asset, [3.0, 4.0])
