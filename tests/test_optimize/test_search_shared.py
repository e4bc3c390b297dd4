"""One study shared by worker processes through a real PostgreSQL server (tests/_servers.py).

The workers are separate processes (``_shared_study_worker.py``, a synthetic pure evaluation with a
sleep so their trials overlap), started together on an empty database: the tables, the study and
the enqueued points are set up once, every trial is run by exactly one worker, and with every
trial enqueued in advance the frontier is the single-process one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import _shared_study_worker as W

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _workers(url: str, study: str, n_trials: int, mode: str, n: int = 2) -> list[int]:
    env_path = str(ROOT)
    procs = [subprocess.Popen([sys.executable, str(HERE / "_shared_study_worker.py"), url, study, str(n_trials),
                               str(k), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**__import__("os").environ, "PYTHONPATH": env_path})
             for k in range(1, n + 1)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr[-2000:]
        out.append(int(stdout.split()[-1]))
    return out


def _frontier(search) -> list[str]:
    keys = ("trial", "values", "capital_efficiency_usd", "bad_debt_cvar_usd", "assets", "enqueued")
    return [json.dumps({k: p[k] for k in keys}, sort_keys=True) for p in search.frontier_]


@pytest.mark.slow  # ~20 s: two fresh Python processes importing optuna
def test_two_workers_fill_one_study_each_trial_once(postgres_url):
    n_trials = 16
    ran = _workers(postgres_url, "shared", n_trials, "starts")
    assert all(r >= 1 for r in ran), f"a worker ran no trial: {ran}"
    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(len(trials)))
    run = [t for t in trials if not t.user_attrs.get("over_budget")]
    # the budget, counting both workers' trials, exactly: a trial sampled as the other worker took
    # the last waiting one is pruned before it is evaluated, never run
    assert len(run) == n_trials == sum(ran)
    assert {t.state for t in run} == {TrialState.COMPLETE}, "a trial was left running, waiting or failed"
    assert all(t.state == TrialState.PRUNED and "metrics" not in t.user_attrs for t in trials if t not in run)
    # each starting point enqueued once and run once, although both workers enqueued both
    assert Counter(t.user_attrs.get("enqueued_index") for t in trials if "fixed_params" in t.system_attrs) == {0: 1, 1: 1}
    assert {t.user_attrs["metrics"]["worker"] for t in run} == {1.0, 2.0}
    assert len(optuna.get_all_study_summaries(postgres_url)) == 1


@pytest.mark.slow
def test_enqueued_trials_give_the_single_process_frontier(postgres_url, tmp_path):
    n_trials = len({json.dumps(W.SPACE.values_from_params(p), sort_keys=True) for p in W.grid()})
    ran = _workers(postgres_url, "grid", n_trials, "grid")
    assert sum(ran) == n_trials and min(ran) >= 1
    shared = W.main(postgres_url, "grid", n_trials, 3, "grid")  # a third process just reads the study
    assert shared.n_trials_run_ == 0
    alone = W.main(f"sqlite:///{tmp_path / 'one.db'}", "grid", n_trials, 1, "grid")
    assert alone.n_trials_run_ == n_trials
    assert len(shared.trials_) == n_trials
    assert _frontier(shared) == _frontier(alone)
    assert len(shared.frontier_) >= 3  # a trade-off, not one point
