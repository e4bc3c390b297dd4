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


def _big_book(n: int = 400) -> Book:
    rng = np.random.default_rng(3)
    coll = rng.pareto(1.5, n) * 100 + 1.0
    debt = coll * rng.uniform(0.1, 0.8, n)
    idx = np.arange(n + 1)
    return Book(assets=("a", "b"), account_ids=tuple(f"u{i}" for i in range(n)),
                coll_indptr=idx, coll_asset=np.zeros(n, dtype=np.int64), coll_usd=coll,
                debt_indptr=idx, debt_asset=np.ones(n, dtype=np.int64), debt_usd=debt, source="test")


def test_sample_keeps_the_largest_exactly_and_totals_in_expectation():
    book = _big_book()
    size = book.account_collateral + book.account_debt
    largest = {book.account_ids[i] for i in np.argsort(-size, kind="stable")[:20]}
    totals = []
    for seed in range(200):
        s = book.sample(100, np.random.default_rng(seed), keep_largest=0.2)
        assert s.n_accounts == 100 and largest <= set(s.account_ids)
        assert s.source == "test (sample of 100 accounts)"
        totals.append(s.collateral_by_asset[0])
    # Horvitz-Thompson: unbiased for the per-asset total (200 samples: well inside 3 standard errors)
    totals = np.array(totals)
    assert abs(totals.mean() - book.collateral_by_asset[0]) < 3 * totals.std() / np.sqrt(len(totals))


def test_sample_of_a_small_book_is_the_book():
    book = _big_book(50)
    assert book.sample(100, np.random.default_rng(0)) is book
