"""`riskopt search-worker`: two processes on the quick config fill one study on a real PostgreSQL server.

Each worker computes the run's inputs itself (same config, data and seed), so both find the same
search space and the convex answer enqueued as trial 0; between them they run the study's budget,
each trial once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from optimizer.pipeline.config import load_config
from optimizer.pipeline.market_sim import default_study_name
from optimizer.pipeline.run import resolve_as_of

ROOT = Path(__file__).resolve().parents[2]
SEARCH = {"search": {"enabled": True, "n_trials": 8, "n_scenarios": 200, "n_accounts": 200},
          "simulation": {"n_scenarios": 500}}


@pytest.mark.slow  # two processes each loading the quick config's inputs: ~30-40 s on a loaded machine
def test_two_search_workers_share_one_study(make_config, postgres_url, data_dir):
    cfg_file = make_config(SEARCH)
    cmd = [sys.executable, "-m", "optimizer.cli", "search-worker", str(cfg_file), "--storage", postgres_url,
           "--data-dir", str(data_dir), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([*cmd, "--worker", str(k)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for k in (1, 2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append(out.strip().splitlines()[-1])
    name = default_study_name(resolve_as_of(load_config(cfg_file), data_dir=data_dir))  # the run's own study
    for k, line in zip((1, 2), outs):
        assert line.startswith(f"worker {k}: ran ") and f"study {name!r} holds" in line, line
    ran = [int(line.split()[3]) for line in outs]
    trials = optuna.load_study(study_name=name, storage=postgres_url).get_trials(deepcopy=False)
    # the budget's rule: a trial sampled as another worker took the last waiting one is pruned
    # unevaluated and marked over_budget; exactly the budget's 8 trials run, each once
    counted = [t for t in trials if not t.user_attrs.get("over_budget", False)]
    extra = [t for t in trials if t.user_attrs.get("over_budget", False)]
    assert {t.state for t in counted} == {TrialState.COMPLETE}
    assert all(t.state == TrialState.PRUNED and not t.values for t in extra), [t.state for t in extra]
    assert len(counted) == 8 and len(extra) <= 1, (len(counted), len(extra))
    assert sum(ran) == len(counted) and min(ran) >= 1, (ran, len(counted))
    enqueued = [t.number for t in trials if "fixed_params" in t.system_attrs]
    assert enqueued == [0], "the convex answer is enqueued once, as trial 0, by whichever worker came first"
    # riskopt run on the same storage finds its own study (same space: else an error) full and reports it
    from optimizer.cli import main

    out = cfg_file.parent / "run"
    cfg_run = make_config(SEARCH | {"search": SEARCH["search"] | {"storage": postgres_url}}, name="run")
    assert main(["run", str(cfg_run), "--out", str(out), "--data-dir", str(data_dir), "-q"]) in (0, 3)
    after = optuna.load_study(study_name=name, storage=postgres_url).get_trials(deepcopy=False)
    assert len(after) == len(trials)
    assert (out / "params.json").is_file()


def test_search_worker_needs_a_shared_storage(make_config, data_dir, capsys):
    from optimizer.cli import main

    rc = main(["search-worker", str(make_config(SEARCH)), "--data-dir", str(data_dir)])
    assert rc == 1
    assert "search-worker needs a shared study: give --storage URL or set [search] storage" in capsys.readouterr().err
    rc = main(["search-worker", str(make_config(SEARCH, name="w0")), "--data-dir", str(data_dir),
               "--storage", "sqlite:////tmp/x.db", "--worker", "0"])
    assert rc == 1
    assert "--worker must be an integer >= 1" in capsys.readouterr().err
