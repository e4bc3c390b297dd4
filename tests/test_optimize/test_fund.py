"""Insurance-fund sizing on known and simulated loss distributions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer.optimize import cover2, cvar, prob_exceeds, size_fund


def test_known_distribution() -> None:
    """98 zeros, then 5 and 10: the 99 % fund is 5 (P(L > 5) = 1 %), ES_0.99 is 10."""
    fs = size_fund([0.0] * 98 + [5.0, 10.0], epsilon=0.01, confidence=0.99)
    assert fs.fund_usd == 5.0
    assert fs.es_usd == pytest.approx(10.0)
    assert fs.prob_any == pytest.approx(0.02)
    assert fs.n_scenarios == 100


def test_fund_is_smallest_on_grid(rng: np.random.Generator) -> None:
    losses = np.maximum(rng.standard_t(3, size=20_000), 0.0) * 1e6
    for eps in (0.001, 0.01, 0.05):
        fs = size_fund(losses, epsilon=eps)
        assert prob_exceeds(losses, fs.fund_usd) <= eps
        funds = np.array([f for f, _ in fs.curve])
        probs = np.array([q for _, q in fs.curve])
        assert np.all(np.diff(funds) > 0) and np.all(np.diff(probs) <= 0)
        assert funds[0] == 0.0 and funds[-1] == pytest.approx(losses.max())
        i = int(np.searchsorted(funds, fs.fund_usd))
        assert funds[i] == fs.fund_usd and probs[i] <= eps
        assert probs[i - 1] > eps  # the next smaller fund on the grid is exceeded too often
        assert fs.es_usd == pytest.approx(cvar(losses, 0.99))
        assert fs.mc_stderr_usd > 0 and fs.es_stderr_usd > 0


def test_stderr_shrinks_with_sample_size(rng: np.random.Generator) -> None:
    small = size_fund(rng.exponential(size=2_000) * 1e6)
    large = size_fund(rng.exponential(size=200_000) * 1e6)
    assert large.mc_stderr_usd < small.mc_stderr_usd / 3
    assert large.es_stderr_usd < small.es_stderr_usd / 3
    # exponential(1e6): the 99 % quantile is ln(100) 1e6, the ES one more mean above it
    assert large.fund_usd == pytest.approx(np.log(100) * 1e6, rel=0.03)
    assert large.es_usd == pytest.approx((np.log(100) + 1) * 1e6, rel=0.03)


def test_weights_and_summary() -> None:
    fs = size_fund([0.0, 10.0], epsilon=0.2, weights=[0.9, 0.1])
    assert fs.fund_usd == 0.0
    fs = dataclasses.replace(fs, cover2_usd=cover2([3.0, 1.0, 2.0]))
    assert "cover-2" in str(fs) and fs.cover2_usd == 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        fs.fund_usd = 1.0  # type: ignore[misc]


def test_all_zero_losses() -> None:
    fs = size_fund(np.zeros(100))
    assert fs.fund_usd == 0.0 and fs.prob_any == 0.0 and fs.curve == ((0.0, 0.0),)


def test_cover2() -> None:
    assert cover2([1.0, 7.0, 0.0, 3.0]) == 10.0
    assert cover2([4.0]) == 4.0
    assert cover2(np.array([])) == 0.0
    with pytest.raises(ValueError, match=r"must be finite and >= 0"):
        cover2([1.0, -2.0])


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"`epsilon` must be in \(0, 1\), got epsilon=0"):
        size_fund([1.0], epsilon=0)
    with pytest.raises(ValueError, match=r"`losses` must be finite and >= 0"):
        size_fund([1.0, np.inf])


def _three_borrowers():
    from optimizer.protocol.book import Book
    from optimizer.protocol.params import RiskParams

    # three borrowers: 100 eth / 100 wbtc / 10 eth of collateral, debt in usdc; at HF = 1 under LT 0.8
    book = Book.from_dense(("eth", "wbtc", "usdc"),
                           collateral=np.array([[100.0, 0, 0], [0, 100.0, 0], [10.0, 0, 0]]),
                           debt=np.array([[0, 0, 50.0], [0, 0, 60.0], [0, 0, 1.0]]))
    params = RiskParams(assets=book.assets, ltv=np.full(3, 0.7), liquidation_threshold=np.full(3, 0.8),
                        liquidation_bonus=np.zeros(3))
    return book, params


def test_stressed_cover2_takes_each_large_account_in_its_worst_library_scenario() -> None:
    from optimizer.optimize import stressed_cover2

    book, params = _three_borrowers()
    library = np.array([[0.5, 1.0, 1.0],    # eth halves: account 0 owes 80, recovers 50
                        [1.0, 0.25, 1.0],   # wbtc falls 75 %: account 1 owes 80, recovers 25
                        [0.7, 0.7, 1.0]])   # both -30 %: 10 short each
    c = stressed_cover2(book, params, np.zeros(3), library, names=("eth-50", "wbtc-75", "both-30"))
    assert c.usd == pytest.approx(30.0 + 55.0)
    # largest debt first: account 1 (60), then account 0 (50); the small account never enters
    assert c.accounts == (book.account_ids[1], book.account_ids[0])
    assert c.account_usd == pytest.approx((55.0, 30.0))
    assert c.scenarios == ("wbtc-75", "eth-50")
    # without the wbtc crash, account 1's worst is the joint -30 % (10): cover-2 is 30 + 10
    assert stressed_cover2(book, params, np.zeros(3), library[[0, 2]]).usd == pytest.approx(40.0)
    assert stressed_cover2(book, params, np.zeros(3), np.empty((0, 3))).usd == 0.0


def test_cover2_with_slippage_and_bonus_in_closed_form() -> None:
    """At HF = 1 an account owes c LT; a fall d recovers c (1 - d)(1 - s)/(1 + b): the shortfall is
    c (LT - (1 - d)(1 - s)/(1 + b)), known in closed form."""
    from optimizer.optimize import stressed_cover2
    from optimizer.protocol.params import RiskParams

    book, _ = _three_borrowers()
    lt, b, s = 0.75, 0.05, np.array([0.1, 0.2, 0.0])
    params = RiskParams(assets=book.assets, ltv=np.full(3, 0.7), liquidation_threshold=np.full(3, lt),
                        liquidation_bonus=np.full(3, b))
    library = np.array([[0.6, 0.7, 1.0]])
    expect = 100 * (lt - 0.6 * 0.9 / (1 + b)) + 100 * (lt - 0.7 * 0.8 / (1 + b))
    assert stressed_cover2(book, params, s, library).usd == pytest.approx(expect)


def test_fund_is_the_largest_term_and_names_it() -> None:
    from optimizer.optimize import FUND_TERMS, Cover2, fund_by_standard

    sizing = size_fund([0.0] * 990 + [100.0] * 10, epsilon=0.01, confidence=0.99)
    assert sizing.es_usd == pytest.approx(100.0)
    c2 = Cover2(usd=150.0, accounts=("a", "b"), account_usd=(100.0, 50.0), scenarios=("s1", "s2"))
    for losses, c, binding, fund in (
        ([10.0, 120.0], Cover2(usd=0.0, accounts=(), account_usd=(), scenarios=()), "stress_loss", 120.0),
        ([10.0, 20.0], c2, "cover2", 150.0),
        ([10.0, 20.0], dataclasses.replace(c2, usd=5.0), "expected_shortfall", 100.0),
    ):
        std = fund_by_standard(sizing, losses, c, stress_names=("s1", "s2"))
        assert std.binding == binding
        assert std.fund_usd == pytest.approx(fund)
        assert std.fund_usd == max(t.usd for t in std.terms)
        assert tuple(t.name for t in std.terms) == FUND_TERMS
    std = fund_by_standard(sizing, [10.0, 120.0], c2, stress_names=("s1", "s2"), reference_usd=60.0)
    assert std.term("stress_loss").source == "s2"
    # the Monte Carlo term carries its standard error; the stress-library terms are deterministic
    assert std.term("expected_shortfall").stderr_usd == pytest.approx(sizing.es_stderr_usd)
    assert std.term("stress_loss").stderr_usd is None and std.term("cover2").stderr_usd is None
    assert std.reference_ratio == pytest.approx(150.0 / 60.0)
    with pytest.raises(ValueError, match="reference_usd"):
        fund_by_standard(sizing, [1.0], c2, reference_usd=0.0)


def test_simulated_term_is_the_quantile_fund_when_that_is_larger() -> None:
    from optimizer.optimize import Cover2, fund_by_standard

    # ES at 0.9 (mean of the worst 10 %) is below the 0.999 quantile of this tail
    sizing = size_fund([0.0] * 9000 + [1.0] * 990 + [1e6] * 10, epsilon=0.0005, confidence=0.9)
    assert sizing.fund_usd > sizing.es_usd
    std = fund_by_standard(sizing, [], Cover2(usd=0.0, accounts=(), account_usd=(), scenarios=()))
    assert std.binding == "expected_shortfall"
    assert std.fund_usd == sizing.fund_usd
    assert std.term("expected_shortfall").stderr_usd == sizing.mc_stderr_usd
