"""The default config's book is calibrated to the real top borrowers (issue 9, item 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.exceptions import DataError
from optimizer.pipeline.config import load_config
from optimizer.pipeline.run import calibrated_book_of, current_params

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def default_book(data_dir: Path):
    cfg = load_config(ROOT / "configs" / "aave-v3-ethereum.toml")
    current, _ = current_params(cfg)
    from optimizer._random import RunStreams

    return cfg, calibrated_book_of(cfg, data_dir, current, RunStreams.from_seed(cfg.run.seed).book)


def test_default_books_concentration_is_the_references(default_book):
    """Done when: the default book's top-10 share of debt is within a factor 1.5 of the reference's
    (shares of the 1,000 largest borrowers' debt, as the reference's); top-1 and top-100 too."""
    cfg, cal = default_book
    ref_c, book_c = cal.reference.concentration(), cal.concentration
    assert book_c.top == 1000
    ratio = {k: book_c.share(k) / ref_c.share(k) for k in (1, 10, 100)}
    assert 1 / 1.5 <= ratio[10] <= 1.5
    assert all(1 / 1.5 <= r <= 1.5 for r in ratio.values()), ratio
    # the book is the market of the config: its debt is sum(borrowed_usd), its collateral supplied_usd
    book = cal.book
    supplied = np.array([cfg.assets[a].supplied_usd for a in cfg.asset_names])
    borrowed = np.array([cfg.assets[a].borrowed_usd for a in cfg.asset_names])
    np.testing.assert_allclose(book.collateral_by_asset, supplied, rtol=1e-9)
    np.testing.assert_allclose(book.debt_by_asset, borrowed, rtol=2e-3)
    assert book.source.startswith("synthetic, calibrated to ../reference/")


def test_default_books_leverage_is_the_references_and_every_borrower_is_healthy(default_book):
    cfg, cal = default_book
    q_ref, q_draw, _ = cal.leverage_quantiles()
    np.testing.assert_allclose(q_draw, q_ref, rtol=0.10)
    assert cal.health_factor[cal.book.account_debt > 0].min() >= cfg.book.hf_min


def test_a_missing_reference_names_the_file(data_dir, tmp_path):
    cfg = load_config(ROOT / "configs" / "aave-v3-ethereum.toml").with_overrides("book", reference="nope.csv")
    current, _ = current_params(cfg)
    with pytest.raises(DataError, match=r"nope.csv: reference book file not found"):
        calibrated_book_of(cfg, data_dir, current, np.random.default_rng(0))
