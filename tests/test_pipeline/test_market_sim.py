"""The simulation and frontier-search stages of a run, on real data (quick config, small sizes)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer._random import RunStreams
from optimizer.optimize.search import dominates
from optimizer.pipeline import market_sim
from optimizer.report.simulation import frontier_data


@pytest.fixture(scope="module")
def staged(quick_stage):
    """The shared quick stage; [simulation] and [search] (which it does not read) made small."""
    cfg = quick_stage.cfg.with_overrides("simulation", n_scenarios=2_000)
    cfg = cfg.with_overrides("search", enabled=True, n_trials=10, n_scenarios=300, n_accounts=300)
    return cfg, quick_stage.inputs, quick_stage.market, quick_stage.solution


class _Quiet:
    def stage(self, name):
        import contextlib

        return contextlib.nullcontext()


def test_simulation_stage_metrics(staged):
    cfg, inputs, market, sol = staged
    st = market_sim.run_simulation(cfg, inputs, sol.recommended, alpha=market.alpha,
                                   rng=RunStreams.from_seed(cfg.run.seed).simulation, progress=_Quiet(),
                                   slippage=market.slippage)
    m = st.metrics
    assert st.n_paths == 2_000
    assert np.all(st.bad_debt >= 0) and np.all(st.bad_debt_nocascade >= 0)
    assert 0.0 <= m["cascade_share_of_bad_debt"] <= 1.0
    # cascades only add price pressure: in aggregate, never less bad debt than without them
    assert st.bad_debt.sum() >= st.bad_debt_nocascade.sum() * (1 - 1e-9)
    shares = m["sim_tail_contribution_by_asset"]
    assert set(shares) == set(cfg.asset_names)
    assert sum(shares.values()) == pytest.approx(1.0) or sum(shares.values()) == 0.0
    # the fund covers the simulated bad debt with probability >= 1 - epsilon
    from optimizer.pipeline.run import insurance_fund_size

    fund = insurance_fund_size(st.fund)
    assert np.average(st.bad_debt > fund, weights=st.weights) <= cfg.fund.epsilon + 1e-12


def test_less_liquidity_more_simulated_bad_debt(staged):
    cfg, inputs, market, sol = staged
    paths = market_sim.simulation_paths(cfg, inputs, 2_000, np.random.default_rng(1))
    thin = market_sim.simulate(cfg, inputs, sol.recommended, paths, worst_case=True, liquidity_multiplier=0.1)
    deep = market_sim.simulate(cfg, inputs, sol.recommended, paths, worst_case=True, liquidity_multiplier=10.0)
    assert thin.bad_debt.sum() > deep.bad_debt.sum()


def test_frontier_is_non_dominated_and_holds_the_convex_point(staged, tmp_path):
    cfg, inputs, market, sol = staged
    url = f"sqlite:///{tmp_path / 'study.db'}"
    st = market_sim.run_search(cfg, inputs, market, sol.recommended, rng=RunStreams.from_seed(cfg.run.seed).search,
                               progress=_Quiet(), storage=url)
    fr = st.frontier
    assert fr, "empty frontier"
    key = st.tail_metric
    for a in fr:
        for b in fr:
            assert not dominates(a, b, maximize_key="capital_efficiency_usd", minimize_key=key)
    eff = [p["capital_efficiency_usd"] for p in fr]
    assert eff == sorted(eff)
    start = st.enqueued[0]
    assert start["trial"] == 0
    assert start["on_frontier"] or start["dominated_by"] or start.get("equivalent_to") is not None
    for p in fr:
        for a, v in p["assets"].items():
            assert v["ltv"] <= v["liquidation_threshold"] and v["liquidation_threshold"] * (1 + v["liquidation_bonus"]) <= 1 + 1e-12
    # a reserve whose LTV is held (quick: CRV at 0) keeps it in every trial, and its LT stays within
    # the held-LTV cap (its current LT): the frontier counts capital efficiency as the recommendation does
    held = market.ltv_held
    assert held.any()
    for p in fr:
        for i in np.flatnonzero(held):
            v = p["assets"][cfg.asset_names[i]]
            assert v["ltv"] == sol.recommended.ltv[i]
            assert v["liquidation_threshold"] <= market.held_lt_cap[i] + 1e-12
    from optimizer.optimize.measures import capital_efficiency

    # the convex start, snapped onto the grid, is valued as the report values a recommendation
    ltv0 = [start["params"][a]["ltv"] for a in cfg.asset_names]
    assert [ltv0[i] for i in np.flatnonzero(held)] == [0.0] * int(held.sum())
    assert start["capital_efficiency_usd"] == pytest.approx(capital_efficiency(market.collateral, ltv0), rel=1e-12)
    json_points = frontier_data(st)
    assert {"capital_efficiency_usd", "bad_debt_cvar_usd", "prob_bad_debt_exceeds_fund", "appetite", "assets"} <= set(json_points[0])

    # resume: the same study with a larger budget runs only the remaining trials
    more = cfg.with_overrides("search", n_trials=13)
    st2 = market_sim.run_search(more, inputs, market, sol.recommended, rng=RunStreams.from_seed(cfg.run.seed).search,
                                progress=_Quiet(), storage=url)
    assert st2.n_trials_run == 3


def test_simulated_headline_counts_simulated_liquidations(staged):
    cfg, inputs, market, sol = staged
    st = market_sim.run_simulation(cfg, inputs, sol.recommended, alpha=market.alpha,
                                   rng=RunStreams.from_seed(cfg.run.seed).simulation, progress=_Quiet(),
                                   slippage=market.slippage)
    assert st.n_liquidated.shape == (st.n_paths,)
    # the run's simulation stream, fresh: the stage's own paths
    paths, _, rows, _ = market_sim.simulation_sample(cfg, inputs, sol.recommended, market.slippage,
                                                     RunStreams.from_seed(cfg.run.seed).simulation)
    np.testing.assert_array_equal(rows, st.rows)
    again = market_sim.simulate(cfg, inputs, sol.recommended, paths, cascades=True)
    np.testing.assert_array_equal(st.n_liquidated, again.n_liquidated)


def test_simulated_paths_are_a_tail_stratified_sample(staged):
    """Half the paths are the scenarios of highest static bad debt, the rest a weighted draw: the
    weights sum to 1 and every top-scoring scenario is simulated."""
    from optimizer.optimize import evaluate_book

    cfg, inputs, market, sol = staged
    st = market_sim.run_simulation(cfg, inputs, sol.recommended, alpha=market.alpha,
                                   rng=RunStreams.from_seed(cfg.run.seed).simulation, progress=_Quiet(),
                                   slippage=market.slippage)
    n_all = inputs.scenarios.n_scenarios
    assert st.n_paths < n_all and st.weights.sum() == pytest.approx(1.0)
    score = evaluate_book(inputs.book, inputs.scenarios.terminal, inputs.current, sol.recommended,
                          market.slippage).total
    top = np.argsort(-score, kind="stable")[: st.info["n_tail_stratum"]]
    assert np.isin(top, st.rows).all()
    assert np.allclose(st.weights[np.isin(st.rows, top)], 1.0 / n_all)
