"""VaR / CVaR / exceedance on distributions whose answers are known by hand."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from optimizer.optimize import cvar, prob_exceeds, var, var_cvar
from optimizer.optimize._blocks import cvar_block


def brute_force_cvar(losses: np.ndarray, alpha: float, p: np.ndarray | None = None) -> float:
    """Mean of the worst 1 - alpha probability mass, filling the last scenario fractionally."""
    p = np.full(losses.size, 1.0 / losses.size) if p is None else p / p.sum()
    order = np.argsort(-losses)
    need, total = 1.0 - alpha, 0.0
    for s in order:
        take = min(p[s], need)
        total += take * losses[s]
        need -= take
        if need <= 1e-15:
            break
    return total / (1.0 - alpha)


def ru_minimum_by_enumeration(losses: np.ndarray, alpha: float, p: np.ndarray) -> float:
    """The RU objective is convex piecewise linear in t with kinks at the losses."""
    p = p / p.sum()
    return min(t + p @ np.maximum(losses - t, 0.0) / (1.0 - alpha) for t in losses)


def test_uniform_1_to_100() -> None:
    """Losses 1..100, equal weights: VaR_0.95 = 95 and CVaR_0.95 = mean(96..100) = 98."""
    losses = np.arange(1.0, 101.0)
    assert var(losses, 0.95) == 95.0
    assert cvar(losses, 0.95) == pytest.approx(98.0, abs=1e-12)
    assert var_cvar(losses, 0.95) == (95.0, pytest.approx(98.0, abs=1e-12))


def test_fractional_atom() -> None:
    """1..10 at alpha = 0.85: the tail is 10 (mass 0.10) and half of 9 (mass 0.05)."""
    losses = np.arange(1.0, 11.0)
    assert cvar(losses, 0.85) == pytest.approx((0.1 * 10 + 0.05 * 9) / 0.15, abs=1e-12)
    assert var(losses, 0.85) == 9.0


def test_atom_at_zero() -> None:
    """[0, 0, 0, 4] at alpha = 0.25: worst 75 % is {4, 0, 0} -> 4/3; VaR is 0."""
    assert cvar([0.0, 0.0, 0.0, 4.0], 0.25) == pytest.approx(4.0 / 3.0, abs=1e-12)
    assert var([0.0, 0.0, 0.0, 4.0], 0.25) == 0.0


def test_alpha_zero_is_mean_and_bounds(rng: np.random.Generator) -> None:
    losses = rng.exponential(size=1_000)
    assert cvar(losses, 0.0) == pytest.approx(losses.mean(), rel=1e-12)
    for a in (0.5, 0.9, 0.99, 0.999):
        assert var(losses, a) <= cvar(losses, a) <= losses.max()


@pytest.mark.parametrize("alpha", [0.5, 0.9, 0.95, 0.99, 0.973])
def test_cvar_matches_brute_force_and_ru(rng: np.random.Generator, alpha: float) -> None:
    losses = np.maximum(rng.standard_t(3, size=777), 0.0) * 1e6
    w = rng.uniform(0.1, 2.0, size=losses.size)
    for p in (None, w):
        expected = brute_force_cvar(losses, alpha, p)
        pp = np.ones(losses.size) if p is None else p
        assert cvar(losses, alpha, p) == pytest.approx(expected, rel=1e-11)
        assert cvar(losses, alpha, p) == pytest.approx(
            ru_minimum_by_enumeration(losses, alpha, pp), rel=1e-11
        )


def test_cvar_matches_ru_lp(rng: np.random.Generator) -> None:
    """The cvxpy RU block minimised over (t, z) reproduces the exact CVaR (losses in O(1))."""
    losses = np.maximum(rng.normal(size=500), 0.0)
    p = rng.uniform(0.5, 1.5, size=500)
    p /= p.sum()
    expr, cons = cvar_block(cp.Constant(losses), 0.95, p)
    prob = cp.Problem(cp.Minimize(expr), cons)
    prob.solve(solver="HIGHS")
    assert prob.status == cp.OPTIMAL
    assert prob.value == pytest.approx(cvar(losses, 0.95, p), rel=1e-9)


def test_weights_equal_duplicates(rng: np.random.Generator) -> None:
    losses = rng.exponential(size=50)
    dup = np.concatenate([losses, losses[:10]])
    w = np.ones(50)
    w[:10] = 2.0
    for a in (0.8, 0.95):
        assert cvar(losses, a, w) == pytest.approx(cvar(dup, a), rel=1e-12)
        assert var(losses, a, w) == var(dup, a)


def test_prob_exceeds() -> None:
    losses = np.array([0.0, 1.0, 2.0, 3.0])
    assert prob_exceeds(losses, 1.0) == 0.5
    assert prob_exceeds(losses, 3.0) == 0.0
    assert prob_exceeds(losses, -1.0) == 1.0
    np.testing.assert_allclose(prob_exceeds(losses, [0.0, 0.5, 2.5]), [0.75, 0.75, 0.25])
    assert prob_exceeds(losses, 0.0, [3.0, 1.0, 0.0, 0.0]) == pytest.approx(0.25)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"`alpha` must be in \[0, 1\), got alpha=1"):
        cvar([1.0, 2.0], 1)
    with pytest.raises(ValueError, match=r"`losses` must be finite, got nan at scenario 1"):
        var([1.0, np.nan], 0.5)
    with pytest.raises(ValueError, match=r"`weights` must have shape \(2,\)"):
        cvar([1.0, 2.0], 0.5, [1.0])
    with pytest.raises(ValueError, match=r"`weights` must be finite and >= 0"):
        cvar([1.0, 2.0], 0.5, [1.0, -1.0])
    with pytest.raises(ValueError, match=r"`losses` must be 1-D"):
        cvar(np.zeros((2, 2)), 0.5)


def test_tail_shares_and_capital_efficiency() -> None:
    from optimizer.optimize.measures import capital_efficiency, tail_shares

    losses = np.array([0.0, 0.0, 1.0, 4.0])
    by_asset = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 3.0]])
    # VaR_0.5 = 0: every scenario is in the tail; asset a holds 2 of 5
    assert tail_shares(losses, by_asset, 0.5, ("a", "b")) == pytest.approx({"a": 0.4, "b": 0.6})
    # VaR_0.75 = 1: only the last two
    assert tail_shares(losses, by_asset, 0.75, ("a", "b")) == pytest.approx({"a": 0.4, "b": 0.6})
    assert tail_shares(losses * 0, by_asset * 0, 0.9, ("a", "b")) == {"a": 0.0, "b": 0.0}
    assert capital_efficiency([100.0, 50.0], [0.8, 0.5]) == 105.0


def _sorted_var_cvar(losses: np.ndarray, alpha: float, weights: np.ndarray | None) -> tuple[float, float]:
    """var_cvar as it was computed before the selection path: a full stable sort every time."""
    from optimizer.optimize.measures import _quantile_index, _sorted, tail_probabilities

    p = tail_probabilities(weights, losses.size)
    srt, cum = _sorted(losses, p)
    t = float(srt[_quantile_index(cum, alpha)])
    value = t + float(p @ np.maximum(losses - t, 0.0)) / (1.0 - alpha)
    return t, float(min(max(value, t), srt[-1]))


@pytest.mark.parametrize("kind", ["normal", "ties", "mostly_zero", "signed_zeros"])
def test_selection_path_is_bitwise_the_sort(rng: np.random.Generator, kind: str) -> None:
    """Equal probabilities take a selection instead of a sort: the same bits, whatever the ties.

    Signed zeros are the one case where equal losses differ in bits (+0.0 / -0.0), so a zero
    quantile must still come out as the stable sort's pick.
    """
    for _ in range(40):
        n = int(rng.integers(1, 2000))
        x = rng.standard_normal(n)
        if kind == "ties":
            x = np.round(x, 1)
        elif kind == "mostly_zero":
            x = np.maximum(x - 2.0, 0.0)
        elif kind == "signed_zeros":
            x = np.where(rng.random(n) < 0.5, -0.0, 0.0)
            x[rng.random(n) < 0.03] = 1.0
        for alpha in (0.0, 0.5, 0.95, 0.99, float(rng.random())):
            for w in (None, np.full(n, 1.0 / n), np.full(n, 3.0)):
                got = np.array(var_cvar(x, alpha, w))
                want = np.array(_sorted_var_cvar(x, alpha, w))
                assert got.tobytes() == want.tobytes(), (n, alpha, got, want)
                assert np.array(var(x, alpha, w)).tobytes() == want[:1].tobytes()
