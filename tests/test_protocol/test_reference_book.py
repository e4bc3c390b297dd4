"""The reference of real borrowers: strict reading, concentration and the Pareto size-tail fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.exceptions import DataError
from optimizer.protocol.reference_book import (
    ParetoTail,
    debt_concentration,
    load_reference_book,
    weighted_quantiles,
)

REFERENCE = "aave_v3_ethereum_top_borrowers_20251201.csv"
HEADER = "rank,account,total_debt_usd,total_collateral_usd,collateral_to_debt,largest_debt_asset\n"


@pytest.fixture(scope="module")
def reference(data_dir: Path):
    return load_reference_book(data_dir.parent / "reference" / REFERENCE)


def test_reference_reads_the_real_file_with_its_readme_figures(reference):
    # README: 1,000 accounts, $14.81B debt, $23.52B collateral; top-1 10.4 %, top-10 33 %, top-100 68 %
    assert reference.n_accounts == 1000
    assert reference.total_debt == pytest.approx(14.81e9, rel=1e-3)
    assert reference.total_collateral == pytest.approx(23.52e9, rel=1e-3)
    c = reference.concentration()
    assert (round(c.share(1), 3), round(c.share(10), 2), round(c.share(100), 2)) == (0.104, 0.33, 0.68)
    # README: 49 % of the debt at collateral/debt 1.02-1.15 (plus 0.4 % below 1.02)
    assert c.loop_share == pytest.approx(0.50, abs=0.01)
    assert reference.largest_debt_asset[0] == "WETH" and len(reference.sha256) == 64
    # 18 accounts have collateral/debt < 1 (collateral the source lacks): not drawn as leverage
    assert int((~reference.leverage_known).sum()) == 18


@pytest.mark.parametrize(("body", "match"), [
    ("1,a,100,200,2.0,WETH\n2,b,50,x,2.0,USDC\n", r"line 3, column `total_collateral_usd`: not a number: 'x'"),
    ("1,a,100,200,2.0,WETH\n2,b,0,200,2.0,USDC\n", r"line 3, column `total_debt_usd`: must be > 0, got 0"),
    ("1,a,100,200,2.0,WETH\n3,b,50,200,2.0,USDC\n", r"line 3, column `rank`: expected rank 2"),
    ("1,a,100,200,2.0,WETH\n2,b,150,200,2.0,USDC\n", r"line 3, column `total_debt_usd`: 150.0 exceeds the debt"),
    ("1,a,100,200,-2.0,WETH\n", r"line 2, column `collateral_to_debt`: must be >= 0"),
    ("1,a,100,200,inf,WETH\n", r"line 2, column `collateral_to_debt`: not finite"),
    ("", r"header but no rows"),
])
def test_a_bad_reference_row_names_file_line_and_column(tmp_path, body, match):
    p = tmp_path / "ref.csv"
    p.write_text(HEADER + body)
    with pytest.raises(DataError, match=match) as err:
        load_reference_book(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_a_reference_without_a_column_or_file_is_refused(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text("rank,total_debt_usd\n1,100\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['total_collateral_usd'"):
        load_reference_book(p)
    with pytest.raises(DataError, match=r"reference book file not found"):
        load_reference_book(tmp_path / "nope.csv")


@pytest.mark.parametrize("alpha", [0.6, 1.3, 2.5])
def test_pareto_tail_recovers_a_known_index_on_synthetic_pareto_data(alpha):
    """Synthetic data, because the test must know the true tail index: Pareto draws, truncated to
    [1, 200] like the reference's sizes below the placed accounts, and untruncated."""
    rng = np.random.default_rng(3)
    lo, hi = 1.0, 200.0
    x = lo * (1 - rng.random(20_000) * (1 - (lo / hi) ** alpha)) ** (-1 / alpha)  # truncated draws
    fit = ParetoTail(lower=lo, upper=hi).fit(x)
    assert fit.alpha_ == pytest.approx(alpha, abs=4 * fit.alpha_se_)
    assert abs(fit.alpha_ - alpha) / alpha < 0.05
    assert fit.ks_statistic_ < 0.015
    # ignoring the truncation (plain Hill) is biased: the truncated likelihood is what recovers it
    hill = ParetoTail(lower=lo).fit(x)
    assert abs(hill.alpha_ - alpha) > abs(fit.alpha_ - alpha)
    # and the fitted law's draws reproduce the sample
    y = fit.sample(20_000, np.random.default_rng(4))
    assert y.min() >= lo and y.max() <= hi
    assert np.median(y) == pytest.approx(np.median(x), rel=0.05)


def test_pareto_tail_on_the_reference_is_heavy_and_fits(reference):
    d = reference.debt_usd
    fit = ParetoTail(lower=d[-1], upper=d[9]).fit(d[10:])
    assert 0.5 < fit.alpha_ < 0.75 and fit.ks_statistic_ < 0.05
    assert "Pareto tail index" in fit.summary()


def test_pareto_tail_argument_errors():
    with pytest.raises(ValueError, match=r"must lie in \[lower, upper\]"):
        ParetoTail(lower=2.0, upper=3.0).fit([1.0, 2.5])
    with pytest.raises(ValueError, match=r"at least 2 sizes"):
        ParetoTail().fit([1.0])
    with pytest.raises(ValueError, match=r"not identified"):
        ParetoTail().fit([1.0, 1.0, 1.0])


def test_concentration_is_of_the_largest_accounts_debt():
    debt = np.r_[np.zeros(5), 50.0, 30.0, 20.0, np.ones(10)]
    c = debt_concentration(debt, top=3, ks=(1, 2))
    assert c.top == 3 and c.share(1) == pytest.approx(0.5) and c.share(2) == pytest.approx(0.8)
    assert weighted_quantiles([1.0, 2.0, 3.0], [1.0, 1.0, 2.0], [0.25, 0.5, 0.9]).tolist() == [1.0, 2.0, 3.0]
