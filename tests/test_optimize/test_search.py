"""FrontierSearch, SearchSpace, the frontier functions, study construction, resume and replay.

Two evaluations stand in for the simulation, both pure:

* ``synthetic_evaluate`` has a KNOWN trade-off: capital efficiency ``sum_i C_i LT_i`` and tail
  ``sum_i W_i exp(k (LT_i - a_i)) (1 + bonus_i)``, both strictly increasing in every LT (and the
  tail in every bonus). So with one asset and a fixed bonus every distinct LT is Pareto-optimal.
* ``book_evaluate`` reads a real ``RiskParams`` (LTV, LT, bonus) on a small static book: one
  account per asset sitting at health factor 1 under the parameters, a seeded log-normal shock,
  bad debt ``max(debt - collateral x relative / (1 + bonus), 0)`` for liquidated accounts,
  CVaR 99 % of the total and the probability that it exceeds a fixed fund.
"""

from __future__ import annotations

import itertools
import math
import sqlite3

import numpy as np
import optuna
import pytest

from optimizer.optimize._frontier import choose, dominates, mark_appetites, pareto_front
from optimizer.optimize.search import (
    EFFICIENCY_METRIC,
    FrontierSearch,
    SearchSpace,
    _budgeted,
    _StudyBudget,
    make_sampler,
    make_study,
    objective,
    replay,
)
from optimizer.protocol.params import RiskParams

GRID = 0.0025
ASSETS = ("eth", "btc", "crv")
C = np.array([100e6, 80e6, 5e6])  # collateral supplied, USD
W = np.array([1e5, 1e5, 3e5])
A = np.array([0.85, 0.80, 0.50])
K = 20.0


def synthetic_evaluate(params: RiskParams) -> dict[str, float]:
    lt, b = params.liquidation_threshold, params.liquidation_bonus
    return {
        "capital_efficiency_usd": float(C[: lt.size] @ lt),
        "bad_debt_cvar_usd": float(
            np.sum(W[: lt.size] * np.exp(K * (lt - A[: lt.size])) * (1.0 + b))
        ),
        "mean_lt": float(lt.mean()),
        "per_asset": lt.copy(),  # not a scalar: must not be stored with the trial
    }


_SHOCKS = np.exp(
    np.random.default_rng(7).normal(-0.01, 0.12, size=(2000, 3)) * np.array([1.0, 0.8, 2.0])
)
FUND = 1.0e6


def book_evaluate(params: RiskParams) -> dict[str, float]:
    """Static bad debt of one account per asset at HF = 1 under ``params`` (pure, numpy only)."""
    lt, b, ltv = params.liquidation_threshold, params.liquidation_bonus, params.ltv
    debt = C * lt  # borrowers sit at the liquidation threshold
    value = C * _SHOCKS  # (n_scenarios, n_assets) collateral value after the shock
    liquidated = value * lt < debt
    bad = np.where(liquidated, np.maximum(debt - value / (1.0 + b), 0.0), 0.0).sum(axis=1)
    tail = np.sort(bad)[-int(0.01 * bad.size) :]
    return {
        "capital_efficiency_usd": float(C @ ltv),
        "bad_debt_cvar_usd": float(tail.mean()),
        "prob_bad_debt_exceeds_fund": float(np.mean(bad > FUND)),
        "expected_bad_debt_usd": float(bad.mean()),
    }


def make_space(**kw) -> SearchSpace:
    args = dict(
        assets=ASSETS,
        lt_low=[0.70, 0.70, 0.35],
        lt_high=[0.90, 0.88, 0.60],
        bonus_low=[0.03, 0.04, 0.08],
        bonus_high=[0.10, 0.10, 0.15],
        ltv_buffer=[0.05, 0.05, 0.10],
        grid=GRID,
    )
    args.update(kw)
    return SearchSpace(**args)


def start_params(lt=(0.83, 0.78, 0.45)) -> RiskParams:
    lt = np.asarray(lt)
    return RiskParams(
        assets=ASSETS,
        ltv=lt - np.array([0.05, 0.05, 0.10]),
        liquidation_threshold=lt,
        liquidation_bonus=[0.05, 0.06, 0.10],
    )


def on_grid(x: float, g: float = GRID) -> bool:
    return abs(x / g - round(x / g)) < 1e-6


def brute_front(points, max_key, min_key):
    return [
        p
        for p in points
        if not any(dominates(q, p, maximize_key=max_key, minimize_key=min_key) for q in points)
    ]


# ------------------------------------------------------------------------------------------
# SearchSpace
# ------------------------------------------------------------------------------------------
class TestSearchSpace:
    def test_parameters_and_fixed_values(self):
        space = make_space(
            bonus_low=[0.05, 0.04, 0.1],
            bonus_high=[0.05, 0.10, 0.1],
            lt_low=[0.8, 0.7, 0.35],
            lt_high=[0.8, 0.88, 0.6],
            close_factor=(0.5, 1.0),
        )
        assert space.param_names == ("btc.bonus", "btc.lt_frac", "crv.lt_frac", "close_factor")
        p = space.params_from_values(
            {"btc.bonus": 0.05, "btc.lt_frac": 0.0, "crv.lt_frac": 1.0, "close_factor": 1.0}
        )
        assert p.liquidation_threshold[0] == 0.8 and p.liquidation_bonus[0] == 0.05
        assert p.liquidation_bonus[2] == 0.1 and p.close_factor == 1.0
        assert p.liquidation_threshold[1] == 0.7  # u = 0 -> lt_low
        assert p.liquidation_threshold[2] == 0.6  # u = 1 -> lt_high (cap 1/1.1 does not bind)

    def test_params_from_values_always_valid_and_on_grid(self):
        margin = 0.02
        space = make_space(
            lt_high=[0.95, 0.95, 0.9], slippage_margin=margin
        )  # cap binds at high bonus
        rng = np.random.default_rng(0)
        spec = space.parameters()
        corners = [0.0, 1.0]
        for j in range(400):
            values = {}
            for name, s in spec.items():
                if s["step"] is None:
                    values[name] = corners[j % 2] if j < 20 else float(rng.uniform())
                else:
                    n = round((s["high"] - s["low"]) / s["step"])
                    values[name] = s["low"] + s["step"] * int(rng.integers(0, n + 1))
            p = space.params_from_values(values)
            assert p.violations() == []
            assert np.all(p.liquidation_threshold * (1 + p.liquidation_bonus) <= 1 - margin + 1e-12)
            assert all(on_grid(x) for x in p.liquidation_threshold)
            assert all(on_grid(x) for x in p.liquidation_bonus)
            np.testing.assert_allclose(
                p.ltv, np.maximum(p.liquidation_threshold - space.ltv_buffer, 0), atol=1e-12
            )
            assert np.all(p.liquidation_threshold >= space.lt_low - 1e-12)
            assert np.all(p.liquidation_threshold <= space.lt_high + 1e-12)

    def test_lt_frac_reaches_every_grid_value_with_equal_mass(self):
        space = SearchSpace(
            assets=("eth",),
            lt_low=0.80,
            lt_high=0.82,
            bonus_low=0.05,
            bonus_high=0.05,
            ltv_buffer=0.05,
        )
        us = (np.arange(9000) + 0.5) / 9000
        lts = [
            float(space.params_from_values({"eth.lt_frac": u}).liquidation_threshold[0]) for u in us
        ]
        values, counts = np.unique(np.round(lts, 6), return_counts=True)
        np.testing.assert_allclose(values, np.arange(0.80, 0.82 + 1e-9, GRID))
        assert counts.min() == counts.max() == 1000

    def test_cap_binds_on_the_feasible_range(self):
        space = SearchSpace(
            assets=("eth",),
            lt_low=0.80,
            lt_high=0.95,
            bonus_low=0.0,
            bonus_high=0.12,
            ltv_buffer=0.05,
            slippage_margin=0.01,
        )
        p = space.params_from_values({"eth.bonus": 0.12, "eth.lt_frac": 1.0})
        cap = 0.99 / 1.12
        assert p.liquidation_threshold[0] == pytest.approx(math.floor(cap / GRID) * GRID)
        p = space.params_from_values({"eth.bonus": 0.0, "eth.lt_frac": 1.0})
        assert p.liquidation_threshold[0] == pytest.approx(0.95)

    def test_values_from_params_round_trip_and_snapping(self):
        space = make_space(close_factor=(0.5, 1.0))
        p = start_params().replace(close_factor=1.0)
        back = space.params_from_values(space.values_from_params(p))
        np.testing.assert_array_equal(back.liquidation_threshold, p.liquidation_threshold)
        np.testing.assert_array_equal(back.liquidation_bonus, p.liquidation_bonus)
        np.testing.assert_allclose(back.ltv, p.ltv, atol=1e-12)
        assert back.close_factor == 1.0
        # off-grid LT goes down to the grid (toward safety); out-of-range values are clipped
        off = start_params(lt=(0.8349, 0.99, 0.2))
        back = space.params_from_values(space.values_from_params(off))
        np.testing.assert_allclose(back.liquidation_threshold, [0.8325, 0.88, 0.35])
        # asset order of the params does not matter
        shuffled = start_params().subset(("crv", "eth", "btc"))
        assert space.values_from_params(shuffled) == space.values_from_params(start_params())

    def test_held_ltv_stays_held_whatever_the_lt(self):
        # the third reserve's LTV is held at 0: every trial keeps it, so it adds no capital efficiency
        space = make_space(ltv_fixed=[np.nan, np.nan, 0.0])
        for u in (0.0, 0.5, 1.0):
            values = {k: (u if k.endswith("lt_frac") else spec["low"])
                      for k, spec in space.parameters().items()}
            p = space.params_from_values(values)
            assert p.ltv[2] == 0.0 and p.liquidation_threshold[2] > 0.3
            assert p.ltv[0] == pytest.approx(p.liquidation_threshold[0] - 0.05)
        assert space.to_dict()["ltv_fixed"] == [None, None, 0.0]
        assert "ltv_fixed" not in make_space().to_dict()  # a space without holds keeps its old form
        with pytest.raises(ValueError, match="ltv_fixed"):
            make_space(ltv_fixed=[np.nan, 1.2, np.nan])

    def test_continuous_space(self):
        space = make_space(grid=None)
        spec = space.parameters()
        p = space.params_from_values(
            {n: s["low"] + 0.37 * (s["high"] - s["low"]) for n, s in spec.items()}
        )
        assert p.violations() == []
        q = space.params_from_values(space.values_from_params(p))
        np.testing.assert_allclose(q.liquidation_threshold, p.liquidation_threshold, atol=1e-12)

    @pytest.mark.parametrize(
        ("kw", "match"),
        [
            (
                {"lt_low": [0.95, 0.7, 0.35], "lt_high": [0.97, 0.88, 0.6]},
                r"eth: the lowest liquidation threshold",
            ),
            ({"lt_high": [0.90, 1.0, 0.6]}, r"btc: liquidation threshold bounds must satisfy"),
            (
                {"lt_low": [0.8, 0.7, 0.35], "lt_high": [0.7, 0.88, 0.6]},
                r"eth: liquidation threshold bounds",
            ),
            (
                {"bonus_low": [0.1, 0.04, 0.08], "bonus_high": [0.05, 0.1, 0.15]},
                r"eth: bonus bounds",
            ),
            (
                {"lt_low": [0.801, 0.7, 0.35], "lt_high": [0.802, 0.88, 0.6]},
                r"eth: the liquidation threshold range",
            ),
            ({"ltv_buffer": [0.05, -0.01, 0.1]}, r"btc: `ltv_buffer` must be >= 0"),
            ({"slippage_margin": 1.0}, r"eth: `slippage_margin` must be in \[0, 1\)"),
            ({"lt_low": [0.7, 0.7]}, r"`lt_low` must be a float or have shape \(3,\)"),
            ({"grid": 0.0}, r"`grid` must be a float in \(0, 1\) or None"),
            ({"close_factor": (0.5, 1.5)}, r"`close_factor` must be None or distinct choices"),
            ({"assets": ("eth", "eth", "crv")}, r"`assets` must be unique"),
        ],
    )
    def test_invalid_space(self, kw, match):
        with pytest.raises(ValueError, match=match):
            make_space(**kw)

    def test_invalid_values(self):
        space = make_space()
        good = space.values_from_params(start_params())
        with pytest.raises(ValueError, match=r"missing \['eth.bonus'\]"):
            space.params_from_values({k: v for k, v in good.items() if k != "eth.bonus"})
        with pytest.raises(ValueError, match=r"unknown \['close_factor'\]"):
            space.params_from_values({**good, "close_factor": 0.5})
        with pytest.raises(
            ValueError, match=r"`values\['eth.lt_frac'\]` must be in \[0, 1\], got 1.5"
        ):
            space.params_from_values({**good, "eth.lt_frac": 1.5})
        with pytest.raises(ValueError, match=r"`values\['btc.bonus'\]` must be in"):
            space.params_from_values({**good, "btc.bonus": 0.2})
        with pytest.raises(ValueError, match=r"`params` covers assets"):
            space.values_from_params(start_params().subset(("eth", "btc")))
        with pytest.raises(TypeError, match=r"`params` must be a RiskParams"):
            space.values_from_params({"eth": {}})


# ------------------------------------------------------------------------------------------
# study construction and the objective
# ------------------------------------------------------------------------------------------
class TestStudy:
    def test_samplers(self):
        assert isinstance(
            make_sampler(sampler="nsga2", seed=1, population_size=8), optuna.samplers.NSGAIISampler
        )
        assert isinstance(make_sampler(sampler="tpe", seed=1), optuna.samplers.TPESampler)
        with pytest.raises(
            ValueError, match=r"`sampler` must be one of \('nsga2', 'tpe'\), got sampler='cmaes'"
        ):
            make_sampler(sampler="cmaes", seed=1)
        with pytest.raises(TypeError, match=r"`seed` must be an int or None"):
            make_sampler(sampler="tpe", seed=np.random.default_rng(0))
        with pytest.raises(ValueError, match=r"`population_size` applies to sampler='nsga2' only"):
            make_sampler(sampler="tpe", seed=1, population_size=10)
        with pytest.raises(ValueError, match=r"`population_size` must be an int >= 2"):
            make_sampler(sampler="nsga2", seed=1, population_size=1)

    def test_storages(self, tmp_path):
        study = make_study(storage=None, study_name="mem", seed=0)
        assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
        path = tmp_path / "sub" / "s.db"
        make_study(storage=str(path), study_name="file", seed=0)
        assert path.exists()
        url = f"sqlite:///{tmp_path / 'u.db'}"
        make_study(storage=url, study_name="url", seed=0, sampler="tpe")
        names = [s.study_name for s in optuna.get_all_study_summaries(url)]
        assert names == ["url"]
        with pytest.raises(optuna.exceptions.DuplicatedStudyError):
            make_study(storage=url, study_name="url", seed=0, load_if_exists=False)
        with pytest.raises(ValueError, match=r"`study_name` must be a non-empty string"):
            make_study(storage=None, study_name="", seed=0)

    def test_objective_stores_scalar_metrics(self):
        space = make_space()
        study = make_study(storage=None, study_name="o", seed=0, sampler="tpe")
        study.optimize(lambda t: objective(t, space, synthetic_evaluate), n_trials=3)
        t = study.trials[0]
        assert set(t.user_attrs["metrics"]) == {
            "mean_lt"
        }  # the objectives are values; arrays dropped
        p = space.params_from_values(t.params)
        assert t.values[0] == pytest.approx(synthetic_evaluate(p)["capital_efficiency_usd"])

    def test_objective_errors(self):
        space = make_space()
        fixed = optuna.trial.FixedTrial(space.values_from_params(start_params()))
        with pytest.raises(KeyError, match=r"`evaluate` returned no 'bad_debt_cvar_usd'"):
            objective(fixed, space, lambda p: {"capital_efficiency_usd": 1.0})
        with pytest.raises(TypeError, match=r"`evaluate` must return a mapping"):
            objective(fixed, space, lambda p: (1.0, 2.0))


# ------------------------------------------------------------------------------------------
# FrontierSearch
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted() -> FrontierSearch:
    return FrontierSearch(n_trials=60, seed=3, population_size=12).fit(
        synthetic_evaluate, make_space(close_factor=(0.5, 1.0)), enqueue=[start_params()]
    )


class TestFrontierSearch:
    def test_every_trial_valid_and_on_grid(self, fitted):
        assert len(fitted.trials_) == 60 and fitted.n_trials_run_ == 60
        space = fitted.space_
        cfs = set()
        for t in fitted.trials_:
            p = RiskParams.from_dict(t["params"], close_factor=t["close_factor"])
            assert p.violations() == []
            assert all(on_grid(x) for x in p.liquidation_threshold)
            assert all(on_grid(x) for x in p.liquidation_bonus)
            np.testing.assert_allclose(
                p.ltv, p.liquidation_threshold - space.ltv_buffer, atol=1e-12
            )
            assert t["metrics"][EFFICIENCY_METRIC] == t[EFFICIENCY_METRIC]
            cfs.add(t["close_factor"])
        assert cfs == {0.5, 1.0}

    def test_frontier_is_non_dominated_and_sorted(self, fitted):
        front = fitted.frontier_
        assert len(front) >= 3
        for a, b in itertools.permutations(front, 2):
            assert not dominates(a, b)
        eff = [f[EFFICIENCY_METRIC] for f in front]
        tail = [f["bad_debt_cvar_usd"] for f in front]
        assert eff == sorted(eff) and tail == sorted(tail)
        # it is exactly the set of non-dominated trials (brute force)
        brute = brute_front(fitted.trials_, EFFICIENCY_METRIC, "bad_debt_cvar_usd")
        brute_values = {(t[EFFICIENCY_METRIC], t["bad_debt_cvar_usd"]) for t in brute}
        assert {(f[EFFICIENCY_METRIC], f["bad_debt_cvar_usd"]) for f in front} == brute_values
        f = front[0]
        assert set(f) >= {
            "capital_efficiency_usd",
            "bad_debt_cvar_usd",
            "appetite",
            "assets",
            "trial",
            "enqueued",
        }
        assert f["appetite"] is None
        assert set(f["assets"]["eth"]) == {"ltv", "liquidation_threshold", "liquidation_bonus"}

    def test_enqueued_point(self, fitted):
        (rec,) = fitted.enqueued_points_
        assert rec["trial"] == 0 and fitted.trials_[0]["enqueued"]
        assert not any(t["enqueued"] for t in fitted.trials_[1:])
        assert rec["adjusted"] is False
        assert rec["params"]["eth"]["liquidation_threshold"] == 0.83
        frontier_trials = {f["trial"]: f for f in fitted.frontier_}
        if rec["on_frontier"]:
            assert 0 in frontier_trials and rec["dominated_by"] == []
        else:
            assert rec["dominated_by"]
            for n in rec["dominated_by"]:
                assert dominates(frontier_trials[n], rec)

    def test_known_tradeoff_one_asset(self):
        """One asset, fixed bonus: efficiency and tail both rise with LT, so every LT is optimal."""
        space = SearchSpace(
            assets=("eth",),
            lt_low=0.75,
            lt_high=0.85,
            bonus_low=0.05,
            bonus_high=0.05,
            ltv_buffer=0.05,
        )
        s = FrontierSearch(n_trials=25, sampler="tpe", seed=0).fit(synthetic_evaluate, space)
        distinct = {t["params"]["eth"]["liquidation_threshold"] for t in s.trials_}
        assert len(s.frontier_) == len(distinct)
        lts = [f["assets"]["eth"]["liquidation_threshold"] for f in s.frontier_]
        assert lts == sorted(distinct)
        # duplicates are represented by their earliest trial
        for f in s.frontier_:
            same = [
                t["number"]
                for t in s.trials_
                if t["params"]["eth"]["liquidation_threshold"]
                == f["assets"]["eth"]["liquidation_threshold"]
            ]
            assert f["trial"] == min(same)

    def test_off_grid_start_is_snapped_and_reported(self):
        space = make_space()
        lp_solution = start_params(lt=(0.8349, 0.7812, 0.4471))
        s = FrontierSearch(n_trials=8, sampler="tpe", seed=1).fit(
            synthetic_evaluate, space, enqueue=[lp_solution]
        )
        (rec,) = s.enqueued_points_
        assert rec["adjusted"] is True and rec["trial"] == 0
        assert rec["requested"]["eth"]["liquidation_threshold"] == 0.8349
        assert rec["params"]["eth"]["liquidation_threshold"] == 0.8325
        assert rec["metrics"] == s.trials_[0]["metrics"]

    @pytest.mark.parametrize(("sampler", "population_size"), [("nsga2", 8), ("tpe", None)])
    def test_same_seed_same_trials(self, sampler, population_size):
        def run(seed):
            s = FrontierSearch(
                n_trials=30, sampler=sampler, population_size=population_size, seed=seed
            )
            return s.fit(synthetic_evaluate, make_space(), enqueue=[start_params()])

        a, b, c = run(11), run(11), run(12)
        assert [t["values"] for t in a.trials_] == [t["values"] for t in b.trials_]
        assert [f["trial"] for f in a.frontier_] == [f["trial"] for f in b.frontier_]
        assert [t["values"] for t in a.trials_] != [t["values"] for t in c.trials_]

    def test_generator_seed_is_derived_to_an_int(self):
        s = FrontierSearch(n_trials=5, sampler="tpe", seed=np.random.default_rng(5))
        s.fit(synthetic_evaluate, make_space())
        expected = int(np.random.default_rng(5).integers(2**32))
        assert s.sampler_seed_ == expected
        t = FrontierSearch(n_trials=5, sampler="tpe", seed=expected).fit(
            synthetic_evaluate, make_space()
        )
        assert [x["values"] for x in s.trials_] == [x["values"] for x in t.trials_]

    def test_resume_runs_only_the_remainder(self, tmp_path):
        calls = []

        def counted(p):
            calls.append(1)
            return synthetic_evaluate(p)

        storage = str(tmp_path / "search.db")
        space = make_space()
        kw = dict(storage=storage, study_name="resume", sampler="nsga2", population_size=6, seed=4)
        first = FrontierSearch(n_trials=10, **kw).fit(counted, space, enqueue=[start_params()])
        assert len(calls) == 10 and first.n_trials_run_ == 10
        second = FrontierSearch(n_trials=15, **kw).fit(counted, space, enqueue=[start_params()])
        assert len(calls) == 15 and second.n_trials_run_ == 5
        assert len(second.study_.trials) == 15 and len(second.trials_) == 15
        assert sum(t["enqueued"] for t in second.trials_) == 1  # not enqueued twice
        assert second.enqueued_points_[0]["trial"] == 0
        # the trials are in the SQLite file
        with sqlite3.connect(tmp_path / "search.db") as con:
            assert con.execute("select count(*) from trials").fetchone()[0] == 15
        # nothing left to do
        third = FrontierSearch(n_trials=12, **kw).fit(counted, space)
        assert len(calls) == 15 and third.n_trials_run_ == 0 and len(third.trials_) == 15

    def test_a_trial_past_the_budget_is_pruned_unevaluated(self):
        # the race two workers can run into, played out in one process: trials 0 and 1 fill a
        # budget of 2 (one worker took the last waiting trial) as the other worker creates trial 2
        study = make_study(storage=None, study_name="race", seed=0)
        budget = _StudyBudget(2)
        t0, t1, t2 = study.ask(), study.ask(), study.ask()
        evaluated = []

        def inner(trial):
            evaluated.append(trial.number)
            return 1.0, 0.0

        assert _budgeted(t1, study=study, budget=budget, inner=inner) == (1.0, 0.0)
        with pytest.raises(optuna.TrialPruned, match="past the budget of 2"):
            _budgeted(t2, study=study, budget=budget, inner=inner)
        assert evaluated == [1] and t2.user_attrs == {"over_budget": True}
        study.tell(t2, state=optuna.trial.TrialState.PRUNED)
        # the pruned trial does not count: with trial 0 failing, a new trial is inside the budget
        study.tell(t0, state=optuna.trial.TrialState.FAIL)
        assert [t.number for t in budget.counted(study)] == [1]
        assert budget.admit(study, study.ask().number)

    def test_resume_with_another_space_fails(self, tmp_path):
        storage = f"sqlite:///{tmp_path / 's.db'}"
        FrontierSearch(n_trials=3, storage=storage, sampler="tpe").fit(
            synthetic_evaluate, make_space()
        )
        with pytest.raises(
            ValueError, match=r"study 'riskopt' in the storage was run with another search space"
        ):
            FrontierSearch(n_trials=6, storage=storage, sampler="tpe").fit(
                synthetic_evaluate, make_space(grid=0.005)
            )
        with pytest.raises(
            ValueError, match=r"minimises 'bad_debt_cvar_usd', not 'prob_bad_debt_exceeds_fund'"
        ):
            FrontierSearch(
                n_trials=6, storage=storage, tail_metric="prob_bad_debt_exceeds_fund"
            ).fit(synthetic_evaluate, make_space())

    def test_real_risk_params_evaluation_and_replay(self):
        space = make_space(close_factor=None)
        s = FrontierSearch(n_trials=30, sampler="tpe", seed=2).fit(
            book_evaluate, space, enqueue=[start_params()]
        )
        assert all(RiskParams.from_dict(t["params"]).violations() == [] for t in s.trials_)
        for f in s.frontier_:
            assert "prob_bad_debt_exceeds_fund" in f and f["tail_metric"] == "bad_debt_cvar_usd"
            replayed = replay(book_evaluate, space, f["values"])
            assert replayed == f["metrics"]
        best = max(s.frontier_, key=lambda f: f[EFFICIENCY_METRIC])
        direct = book_evaluate(space.params_from_values(best["values"]))
        assert direct["capital_efficiency_usd"] == best[EFFICIENCY_METRIC]

    def test_probability_tail_metric(self):
        space = make_space()
        s = FrontierSearch(
            n_trials=15, sampler="tpe", seed=0, tail_metric="prob_bad_debt_exceeds_fund"
        )
        s.fit(book_evaluate, space)
        assert all(f["tail_metric"] == "prob_bad_debt_exceeds_fund" for f in s.frontier_)
        for a, b in itertools.permutations(s.frontier_, 2):
            assert not dominates(a, b, minimize_key="prob_bad_debt_exceeds_fund")
        metrics = replay(
            book_evaluate, space, s.trials_[3]["values"], tail_metric="prob_bad_debt_exceeds_fund"
        )
        assert metrics == s.trials_[3]["metrics"]

    @pytest.mark.parametrize(
        ("kw", "err", "match"),
        [
            ({"n_trials": 0}, ValueError, r"`n_trials` must be an int >= 1, got n_trials=0"),
            (
                {"tail_metric": "capital_efficiency_usd"},
                ValueError,
                r"`tail_metric` must name a metric other",
            ),
            ({"sampler": "grid"}, ValueError, r"`sampler` must be one of"),
            ({"n_jobs": 0}, ValueError, r"`n_jobs` must be an int >= 1 or -1"),
            ({"timeout": -1}, ValueError, r"`timeout` must be None or > 0"),
            ({"seed": 1.5}, TypeError, r"`seed` must be an int, a numpy.random.Generator or None"),
        ],
    )
    def test_invalid_arguments(self, kw, err, match):
        with pytest.raises(err, match=match):
            FrontierSearch(**kw).fit(synthetic_evaluate, make_space())

    def test_invalid_fit_inputs(self):
        with pytest.raises(TypeError, match=r"`space` must be a SearchSpace"):
            FrontierSearch(n_trials=2).fit(synthetic_evaluate, {"assets": ASSETS})
        with pytest.raises(TypeError, match=r"`enqueue\[0\]` must be a RiskParams"):
            FrontierSearch(n_trials=2).fit(synthetic_evaluate, make_space(), enqueue=[{"eth": 0.8}])
        with pytest.raises(TypeError, match=r"`evaluate` must be callable"):
            FrontierSearch(n_trials=2).fit(None, make_space())

    def test_sklearn_params(self):
        s = FrontierSearch(n_trials=7, sampler="tpe")
        assert s.get_params()["n_trials"] == 7 and "FrontierSearch(" in repr(s)


# ------------------------------------------------------------------------------------------
# pure frontier functions
# ------------------------------------------------------------------------------------------
def pt(e, t, n=None, **kw):
    return {"capital_efficiency_usd": e, "bad_debt_cvar_usd": t, "trial": n, **kw}


class TestParetoFront:
    def test_dominates(self):
        assert (
            dominates(pt(2, 1), pt(1, 1))
            and dominates(pt(1, 0), pt(1, 1))
            and dominates(pt(2, 0), pt(1, 1))
        )
        assert not dominates(pt(1, 1), pt(1, 1))
        assert not dominates(pt(2, 2), pt(1, 1)) and not dominates(pt(1, 1), pt(2, 2))
        assert not dominates(pt(float("nan"), 0), pt(1, 1))
        assert dominates({"x": 1, "y": 0}, {"x": 0, "y": 0}, maximize_key="x", minimize_key="y")

    def test_hand_made(self):
        pts = [
            pt(1, 1, 0),
            pt(3, 3, 1),
            pt(2, 4, 2),
            pt(3, 3, 3),
            pt(0, 0, 4),
            pt(3, 5, 5),
            pt(float("nan"), 0, 6),
        ]
        front = pareto_front(pts)
        assert [p["trial"] for p in front] == [4, 0, 1]  # duplicate (3, 3): the first one is kept
        assert front[2] is pts[1]
        assert pareto_front([]) == []

    def test_matches_brute_force(self):
        rng = np.random.default_rng(0)
        for _ in range(20):
            pts = [
                pt(float(e), float(t), i)
                for i, (e, t) in enumerate(rng.integers(0, 15, size=(80, 2)))
            ]
            front = pareto_front(pts)
            brute = brute_front(pts, "capital_efficiency_usd", "bad_debt_cvar_usd")
            assert {(p["capital_efficiency_usd"], p["bad_debt_cvar_usd"]) for p in brute} == {
                (p["capital_efficiency_usd"], p["bad_debt_cvar_usd"]) for p in front
            }
            assert len(front) == len(
                {(p["capital_efficiency_usd"], p["bad_debt_cvar_usd"]) for p in front}
            )
            effs = [p["capital_efficiency_usd"] for p in front]
            tails = [p["bad_debt_cvar_usd"] for p in front]
            assert all(np.diff(effs) > 0) and all(np.diff(tails) > 0)

    def test_missing_key(self):
        with pytest.raises(KeyError, match=r"point has no 'bad_debt_cvar_usd' value"):
            pareto_front([{"capital_efficiency_usd": 1.0}])


BUDGETS = {"conservative": 1.5e5, "moderate": 5.0e5, "aggressive": 2.0e6}


class TestAppetites:
    frontier = [pt(40e6, 9e5, 3), pt(10e6, 1e5, 0), pt(30e6, 5e5, 2), pt(20e6, 2e5, 1)]  # unsorted

    def test_mark_appetites(self):
        marked = mark_appetites(self.frontier, BUDGETS)
        by_trial = {p["trial"]: p for p in marked}
        assert by_trial[0]["appetite"] == "conservative"
        assert by_trial[2]["appetite"] == "moderate"  # tail == budget qualifies
        assert by_trial[3]["appetite"] == "aggressive"
        assert by_trial[1]["appetite"] is None and by_trial[1]["appetites"] == []
        assert [p["trial"] for p in marked] == [3, 0, 2, 1]  # input order kept, input not modified
        assert "appetite" not in self.frontier[0]

    def test_none_qualifies_and_shared_choice(self):
        marked = mark_appetites(
            self.frontier, {"conservative": 5e4, "moderate": 3e5, "aggressive": 4e5}
        )
        assert all("conservative" not in p["appetites"] for p in marked)
        (shared,) = [p for p in marked if p["appetites"]]
        assert shared["trial"] == 1 and shared["appetites"] == ["moderate", "aggressive"]
        assert shared["appetite"] == "moderate"
        point, text = choose(marked, "conservative")
        assert point is None
        assert (
            "No point on the frontier meets it" in text
            and "(trial 0)" in text
            and "$100.0k" in text
        )

    def test_choose_explains(self):
        point, text = choose(self.frontier, "moderate", budgets=BUDGETS)
        assert point["trial"] == 2
        assert "$500.0k" in text and "$30.00M" in text and "(100% of the budget)" in text
        assert "next point on the frontier (trial 3) would add $10.00M (+33.3%)" in text
        assert "$400.0k over the budget" in text
        point, text = choose(mark_appetites(self.frontier, BUDGETS), "aggressive")
        assert point["trial"] == 3 and "budget does not bind" in text

    def test_choose_probability_measure(self):
        front = [
            {
                "capital_efficiency_usd": 1e6,
                "prob_bad_debt_exceeds_fund": 0.001,
                "trial": 0,
                "tail_metric": "prob_bad_debt_exceeds_fund",
            },
            {
                "capital_efficiency_usd": 2e6,
                "prob_bad_debt_exceeds_fund": 0.02,
                "trial": 1,
                "tail_metric": "prob_bad_debt_exceeds_fund",
            },
        ]
        point, text = choose(front, "moderate", budgets={"moderate": 0.01})
        assert point["trial"] == 0
        assert "at most 1.00%" in text and "by 1.90 percentage points to 2.00%" in text

    def test_errors(self):
        with pytest.raises(ValueError, match=r"`frontier` is not marked"):
            choose(self.frontier, "moderate")
        with pytest.raises(ValueError, match=r"unknown appetite 'bold'"):
            choose(self.frontier, "bold", budgets=BUDGETS)
        with pytest.raises(ValueError, match=r"`budgets\['moderate'\]` must be finite and >= 0"):
            mark_appetites(self.frontier, {"moderate": -1.0})
        with pytest.raises(ValueError, match=r"`budgets` must be a non-empty mapping"):
            mark_appetites(self.frontier, {})
        with pytest.raises(ValueError, match=r"`frontier` is empty"):
            choose([], "moderate")

    def test_on_a_fitted_frontier(self, fitted):
        tails = [f["bad_debt_cvar_usd"] for f in fitted.frontier_]
        budgets = {
            "conservative": tails[0],
            "moderate": float(np.median(tails)),
            "aggressive": tails[-1] * 2,
        }
        marked = mark_appetites(fitted.frontier_, budgets)
        for name, budget in budgets.items():
            point, text = choose(marked, name)
            ok = [f for f in fitted.frontier_ if f["bad_debt_cvar_usd"] <= budget]
            assert point["trial"] == max(ok, key=lambda f: f[EFFICIENCY_METRIC])["trial"]
            assert f"(trial {point['trial']})" in text
