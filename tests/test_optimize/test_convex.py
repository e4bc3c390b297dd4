"""The threshold LP: closed-form one-asset answers, row generation vs the full LP, invariants.

Synthetic inputs come from ``conftest.make_problem`` (seeded, correlated Student-t); the one-asset
cases have an exact answer (sorted tail, see ``single_asset_threshold``) checked against a
bisection on the exact CVaR.
"""

from __future__ import annotations

import time

import cvxpy as cp
import numpy as np
import pytest
from optimize_problems import Problem, make_problem
from sklearn.base import clone

from optimizer.exceptions import InfeasibleError, SolverError
from optimizer.optimize import ThresholdOptimizer, cvar, single_asset_threshold, threshold_losses


def bisect_threshold(k: np.ndarray, w: float, budget: float, alpha: float, p=None) -> float:
    lo, hi = 0.0, 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if cvar(w * np.maximum(mid - k, 0.0), alpha, p) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


# ----------------------------------------------------------------------------- one asset
@pytest.mark.parametrize("alpha", [0.9, 0.99, 0.995])
@pytest.mark.parametrize("weighted", [False, True])
def test_single_asset_closed_form(rng: np.random.Generator, alpha: float, weighted: bool) -> None:
    """Known answer: CVaR of W (x - k)+ is piecewise linear in x over the sorted-k tail."""
    k = np.exp(rng.standard_t(4, size=5_003) * 0.1) * 0.93
    p = rng.uniform(0.2, 1.8, size=k.size) if weighted else None
    for budget in (1e5, 3e6, 2e7):
        x = single_asset_threshold(k, 1e8, budget, alpha, p)
        assert x == pytest.approx(bisect_threshold(k, 1e8, budget, alpha, p), abs=1e-10)
        assert cvar(1e8 * np.maximum(x - k, 0.0), alpha, p) == pytest.approx(budget, rel=1e-9)
    assert single_asset_threshold(k, 0.0, 1.0, alpha) == np.inf
    assert single_asset_threshold(k, 1e8, 0.0, alpha) == pytest.approx(k.min())


@pytest.mark.parametrize("method", ["rowgen", "full"])
def test_single_asset_lp_matches_closed_form(rng: np.random.Generator, method: str) -> None:
    k = np.exp(rng.standard_t(4, size=(8_000, 1)) * 0.12) * 0.92
    budget = 4e6
    opt = ThresholdOptimizer(alpha=0.99, budget=budget, method=method).fit(
        k, [1e8], [1e8], [0.2], [0.95], [0.05]
    )
    expected = single_asset_threshold(k[:, 0], 1e8, budget, 0.99)
    assert 0.2 < expected < 0.95
    assert opt.status_ == "optimal"
    assert opt.lt_[0] == pytest.approx(expected, abs=1e-6)
    assert opt.binding_ == ("aggregate risk budget",)
    assert opt.cvar_ == pytest.approx(budget, rel=1e-6)


def test_single_asset_monotone(rng: np.random.Generator) -> None:
    """One asset: LT falls when alpha rises or the recovery is more dispersed, rises with budget."""
    z = rng.standard_t(4, size=(10_000, 1))
    args = ([1e8], [1e8], [0.1], [0.95], [0.0])

    def lt(alpha=0.99, budget=5e6, vol=0.1):
        k = np.exp(z * vol) * 0.92
        return ThresholdOptimizer(alpha=alpha, budget=budget).fit(k, *args).lt_[0]

    assert lt(alpha=0.95) > lt(alpha=0.99) > lt(alpha=0.999)
    assert lt(vol=0.05) > lt(vol=0.10) > lt(vol=0.20)
    assert lt(budget=1e6) < lt(budget=5e6) < lt(budget=2e7)


# ----------------------------------------------------------------------------- many assets
def check_invariants(opt: ThresholdOptimizer, pr: Problem, budget: float) -> None:
    assert np.all(opt.lt_ >= pr.lt_min - 1e-12) and np.all(opt.lt_ <= pr.lt_max + 1e-12)
    np.testing.assert_allclose(opt.ltv_, opt.lt_ - pr.buffer, atol=0)
    assert opt.cvar_ <= budget * (1 + opt.tol)
    assert opt.cvar_ == pytest.approx(pr.cvar_at(opt.lt_, opt.alpha), rel=1e-12)
    assert opt.objective_ == pytest.approx(pr.weight @ opt.ltv_, rel=1e-12)
    assert opt.min_feasible_budget_ == pytest.approx(pr.cvar_at(pr.lt_min, opt.alpha), rel=1e-12)
    for lt, lo, hi, b in zip(opt.lt_, pr.lt_min, pr.lt_max, opt.binding_, strict=True):
        assert b == (
            "upper bound"
            if lt >= hi - 1e-7
            else "lower bound"
            if lt <= lo + 1e-7
            else "aggregate risk budget"
        )


def test_rowgen_matches_full_small(small_problem: Problem) -> None:
    for frac in (0.05, 0.3, 0.8):
        budget = small_problem.budget(0.99, frac)
        row = ThresholdOptimizer(budget=budget).fit(*small_problem.args())
        full = ThresholdOptimizer(budget=budget, method="full").fit(*small_problem.args())
        assert row.objective_ == pytest.approx(full.objective_, rel=1e-7)
        np.testing.assert_allclose(row.lt_, full.lt_, atol=1e-6)
        check_invariants(row, small_problem, budget)
        check_invariants(full, small_problem, budget)


@pytest.mark.slow
def test_rowgen_matches_full_20k_x_12() -> None:
    """20,000 correlated scenarios x 12 assets: same optimum, printed timings (full LP ~10 s)."""
    pr = make_problem(20_000, 12, np.random.default_rng(2024))
    budget = pr.budget(0.99, 0.3)
    row = ThresholdOptimizer(budget=budget).fit(*pr.args())
    full = ThresholdOptimizer(budget=budget, method="full").fit(*pr.args())
    print(
        f"\n20k x 12: rowgen {row.solve_seconds_:.2f} s ({row.n_rounds_} LPs), "
        f"full {full.solve_seconds_:.2f} s"
    )
    assert row.objective_ == pytest.approx(full.objective_, rel=1e-7)
    np.testing.assert_allclose(row.lt_, full.lt_, atol=1e-6)
    check_invariants(row, pr, budget)


@pytest.mark.slow
def test_rowgen_100k_x_30_certified() -> None:
    """100,000 x 30: row generation only (the full LP takes minutes); timing printed only."""
    pr = make_problem(100_000, 30, np.random.default_rng(99))
    budget = pr.budget(0.99, 0.3)
    t0 = time.perf_counter()
    row = ThresholdOptimizer(budget=budget).fit(*pr.args())
    print(
        f"\n100k x 30: rowgen {time.perf_counter() - t0:.2f} s, {row.n_rounds_} LPs, "
        f"{row.n_active_scenarios_} scenarios in the last"
    )
    check_invariants(row, pr, budget)
    assert row.cvar_ == pytest.approx(budget, rel=1e-6)  # the budget binds at the optimum


def test_monotone_in_alpha_and_budget(small_problem: Problem) -> None:
    b = small_problem.budget(0.99, 0.3)
    objs = [
        ThresholdOptimizer(alpha=a, budget=b).fit(*small_problem.args()).objective_
        for a in (0.95, 0.99, 0.995)
    ]
    assert objs[0] > objs[1] > objs[2]
    fits = [
        ThresholdOptimizer(budget=small_problem.budget(0.99, f)).fit(*small_problem.args())
        for f in (0.1, 0.3, 0.6)
    ]
    assert fits[0].objective_ < fits[1].objective_ < fits[2].objective_
    assert np.all(np.diff(np.array([f.lt_ for f in fits]), axis=0) >= -1e-9)  # here every LT rises


def test_more_dispersed_asset_gets_lower_threshold(small_problem: Problem) -> None:
    """Doubling asset 0's log-recovery dispersion lowers its threshold and the efficiency."""
    b = small_problem.budget(0.99, 0.3)
    base = ThresholdOptimizer(budget=b).fit(*small_problem.args())
    k = small_problem.recovery.copy()
    logk = np.log(k[:, 0])
    k[:, 0] = np.exp(np.median(logk) + 2.0 * (logk - np.median(logk)))
    args = list(small_problem.args())
    args[0] = k
    wider = ThresholdOptimizer(budget=b).fit(*args)
    assert wider.lt_[0] < base.lt_[0]
    assert wider.objective_ < base.objective_


def test_binding_labels() -> None:
    """No exposure: at lt_max; tiny weight and huge exposure: at lt_min; the rest in between."""
    pr = make_problem(5_000, 4, np.random.default_rng(3))
    W = pr.exposure.copy()
    C = pr.weight.copy()
    W[0] = 0.0
    W[1], C[1] = 5e9, 1.0
    pr2 = Problem(pr.recovery, W, C, pr.lt_min, pr.lt_max, pr.buffer)
    budget = pr2.cvar_at(np.array([0.9, 0.4, 0.65, 0.65]), 0.99)
    for method in ("rowgen", "full"):
        opt = ThresholdOptimizer(budget=budget, method=method).fit(*pr2.args())
        assert opt.binding_[0] == "upper bound"
        assert opt.binding_[1] == "lower bound"
        assert "aggregate risk budget" in opt.binding_[2:]
        check_invariants(opt, pr2, budget)


def test_scenario_weights_equal_duplicates(small_problem: Problem) -> None:
    k = small_problem.recovery
    dup = np.vstack([k, k[:500]])
    w = np.ones(k.shape[0])
    w[:500] = 2.0
    b = small_problem.budget(0.99, 0.3)
    a = ThresholdOptimizer(budget=b).fit(*small_problem.args(), weights=w)
    args = list(small_problem.args())
    args[0] = dup
    d = ThresholdOptimizer(budget=b, method="full").fit(*args)
    assert a.objective_ == pytest.approx(d.objective_, rel=1e-7)
    np.testing.assert_allclose(a.lt_, d.lt_, atol=1e-6)


def test_clarabel_agrees(small_problem: Problem) -> None:
    b = small_problem.budget(0.99, 0.3)
    h = ThresholdOptimizer(budget=b).fit(*small_problem.args())
    c = ThresholdOptimizer(budget=b, solver="CLARABEL", fallback_solver=None, tol=1e-6).fit(
        *small_problem.args()
    )
    assert c.objective_ == pytest.approx(h.objective_, rel=1e-5)


# ----------------------------------------------------------------------------- infeasible, errors
def test_infeasible_budget(small_problem: Problem) -> None:
    floor = small_problem.cvar_at(small_problem.lt_min, 0.99)
    opt = ThresholdOptimizer(budget=0.5 * floor).fit(*small_problem.args())
    assert opt.status_ == "infeasible"
    assert opt.solver_status_ == "skipped"
    np.testing.assert_array_equal(opt.lt_, small_problem.lt_min)
    assert opt.min_feasible_budget_ == pytest.approx(floor, rel=1e-12)
    assert "infeasible" in repr(opt)
    with pytest.raises(
        InfeasibleError, match=r"budget of [\d,]+\.\d\d USD cannot be met.*smallest feasible budget"
    ):
        opt.raise_if_infeasible()
    edge = ThresholdOptimizer(budget=floor).fit(*small_problem.args())
    assert edge.status_ == "optimal"
    assert edge.raise_if_infeasible() is edge
    assert edge.cvar_ <= floor * (1 + 1e-7)


def test_zero_budget() -> None:
    """B = 0 is feasible when no scenario loses at lt_min; then every LT stays at or below min k."""
    k = np.random.default_rng(1).uniform(0.8, 1.0, size=(1_000, 3))
    opt = ThresholdOptimizer(budget=0.0).fit(
        k, [1e6] * 3, [1e6] * 3, [0.5] * 3, [0.95] * 3, [0.0] * 3
    )
    assert opt.status_ == "optimal"
    np.testing.assert_allclose(opt.lt_, k.min(axis=0), atol=1e-7)
    assert opt.cvar_ == pytest.approx(0.0, abs=1e-3)


def test_solver_crash_raises_with_hint(
    small_problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self, *args, **kwargs):
        raise cp.error.SolverError("simulated crash")

    monkeypatch.setattr(cp.Problem, "solve", boom)
    opt = ThresholdOptimizer(budget=small_problem.budget(0.99, 0.3))
    with pytest.raises(
        SolverError,
        match=r"simulated crash.*Try another solver, or solver_params=dict\(verbose=True\)",
    ):
        opt.fit(*small_problem.args())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(budget=None), r"`budget` is required"),
        (dict(budget=-1.0), r"`budget` must be a finite number >= 0 USD, got budget=-1.0"),
        (dict(budget=1.0, alpha=1.0), r"`alpha` must be in \[0, 1\), got alpha=1.0"),
        (
            dict(budget=1.0, method="dense"),
            r"`method` must be 'rowgen' or 'full', got method='dense'",
        ),
        (dict(budget=1.0, solver="NOPE"), r"`solver`='NOPE' is not installed; cvxpy has"),
        (dict(budget=1.0, tol=0.0), r"`tol` must be > 0"),
    ],
)
def test_bad_params(small_problem: Problem, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ThresholdOptimizer(**kwargs).fit(*small_problem.args())


def test_bad_inputs(small_problem: Problem) -> None:
    pr = small_problem
    opt = ThresholdOptimizer(budget=1e6)
    with pytest.raises(ValueError, match=r"`exposure` must have shape \(6,\), got \(5,\)"):
        opt.fit(pr.recovery, pr.exposure[:5], pr.weight, pr.lt_min, pr.lt_max, pr.buffer)
    k = pr.recovery.copy()
    k[3, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"`recovery` must be finite, got nan at scenario 3, asset 'eth'"
    ):
        opt.fit(k, *pr.args()[1:], asset_names=["btc", "wbtc", "eth", "a", "b", "c"])
    with pytest.raises(ValueError, match=r"`buffer` must be <= lt_min .* for asset 'asset0'"):
        opt.fit(pr.recovery, pr.exposure, pr.weight, pr.lt_min, pr.lt_max, pr.lt_min + 0.01)
    with pytest.raises(
        ValueError, match=r"need 0 <= lt_min <= lt_max < 1, got lt_min=0.4, lt_max=0.3"
    ):
        opt.fit(pr.recovery, pr.exposure, pr.weight, pr.lt_min, np.full(6, 0.3), pr.buffer)
    with pytest.raises(ValueError, match=r"`exposure` must be >= 0, got -1.0 for asset 'asset1'"):
        opt.fit(
            pr.recovery,
            np.array([1.0, -1.0, 1, 1, 1, 1]),
            pr.weight,
            pr.lt_min,
            pr.lt_max,
            pr.buffer,
        )


def test_estimator_contract(small_problem: Problem) -> None:
    opt = ThresholdOptimizer(alpha=0.975, budget=small_problem.budget(0.975, 0.3), method="full")
    assert opt.get_params()["alpha"] == 0.975
    assert "ThresholdOptimizer(" in repr(opt)
    twin = clone(opt)
    assert twin.get_params() == opt.get_params()
    fitted = opt.fit(*small_problem.args(), asset_names=list("abcdef"))
    assert fitted is opt
    text = opt.summary()
    assert "status: optimal" in text and "\n  a " in text
    assert repr(opt) == text
    assert isinstance(opt.raw_, cp.Problem)
    assert (
        opt.history_
        and opt.n_rounds_ == 1
        and opt.n_active_scenarios_ == small_problem.recovery.shape[0]
    )


def test_deterministic(small_problem: Problem) -> None:
    b = small_problem.budget(0.99, 0.3)
    a = ThresholdOptimizer(budget=b).fit(*small_problem.args())
    c = ThresholdOptimizer(budget=b).fit(*small_problem.args())
    np.testing.assert_array_equal(a.lt_, c.lt_)


def test_threshold_losses_definition() -> None:
    k = np.array([[0.5, 1.0], [0.9, 0.7]])
    np.testing.assert_allclose(
        threshold_losses(np.array([0.8, 0.8]), k, np.array([10.0, 100.0])), [3.0, 10.0]
    )


# ----------------------------------------------------------------------------- progressive filling
def test_progressive_fill_is_water_filling_on_a_linear_budget() -> None:
    """Known answer: budget sum(x) <= 1 from 0 toward 1 each; the first stops at its bound 0.1,
    the other three share the rest equally (0.3 each)."""
    from optimizer.optimize.convex import progressive_fill

    x = progressive_fill(lambda y: y.sum() <= 1.0, np.zeros(4), np.ones(4), [0.1, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(x, [0.1, 0.3, 0.3, 0.3], atol=1e-9)
    assert x.sum() <= 1.0


def test_progressive_fill_moves_by_shares_of_the_way_and_stops_at_targets() -> None:
    """Equal shares of unequal ways: x_i = lo_i + u (target_i - lo_i); a constraint that one
    threshold alone meets stops that one, the other rises on to its target."""
    from optimizer.optimize.convex import progressive_fill

    lo, target = np.array([0.2, 0.4]), np.array([0.6, 0.5])
    # the first may not pass 0.4: at that point u = 0.5, the second is at 0.45 and rises on to 0.5
    x = progressive_fill(lambda y: y[0] <= 0.4, lo, target, np.ones(2))
    np.testing.assert_allclose(x, [0.4, 0.5], atol=1e-9)
    assert x[1] == 0.5  # the target itself, not 0.4 + 1.0 x 0.1 rounded
    # a budget on the sum: one common share u, 0.2 + 0.4u + 0.4 + 0.1u = 0.85 at u = 0.5
    x = progressive_fill(lambda y: y.sum() <= 0.85, lo, target, np.ones(2))
    np.testing.assert_allclose(x, [0.4, 0.45], atol=1e-9)


def test_second_stage_gives_identical_held_thresholds_the_same_value() -> None:
    """Two held thresholds with the same recoveries and exposure are exchangeable: the CVaR budget
    cannot tell them apart, so they get the same LT. With the first asset at its upper bound, the
    budget left to the twins is real; the former LP vertex (and its polish) split it unevenly
    (0.5168 / 0.5175 here at a budget of 1e4)."""
    rng = np.random.default_rng(1)
    n = 4000
    z = rng.standard_normal((n, 3))
    k = np.exp(np.column_stack([0.08 * z[:, 0], 0.25 * (0.8 * z[:, 0] + 0.6 * z[:, 1])])) / 1.05
    k = np.column_stack([k, k[:, 1]])  # the third asset is the second's twin
    W = np.array([1e6, 2e5, 2e5])
    C = np.array([1e6, 0.0, 0.0])
    lo, hi, buf = np.full(3, 0.3), np.array([0.80, 0.6, 0.6]), np.full(3, 0.05)
    for budget in (1e4, 2e4):
        opt = ThresholdOptimizer(alpha=0.95, budget=budget).fit(
            k, W, C, lo, hi, buf, secondary_target=np.array([np.nan, 0.6, 0.6]))
        assert opt.lt_[0] == opt.primary_lt_[0] == pytest.approx(0.80)  # the first stage's stays
        assert opt.lt_[1] == opt.lt_[2] < 0.6 - 1e-3  # the same, and the budget holds them
        assert budget * (1 - 1e-9) <= opt.cvar_ <= budget * (1 + 1e-12)
