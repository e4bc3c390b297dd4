"""`riskopt sensitivity --scheduler ADDRESS` on a separately started Dask cluster (tests/_servers.py):
a ``dask scheduler`` and two ``dask worker`` processes on loopback give the local run's numbers."""

from __future__ import annotations

import pytest

from optimizer.cli import main
from optimizer.pipeline import sensitivity as S
from optimizer.pipeline.config import load_config

from test_sensitivity import NONE, QUICK

#: A small sweep: two points on one fit, so the fit moves between the two worker processes.
SWEEP = NONE | dict(n_scenarios=2_000, vol_multiplier=[1.5])


@pytest.fixture(scope="module")
def dask_cluster():
    from _servers import start_dask

    cluster = start_dask(2)
    yield cluster
    cluster.stop()


@pytest.mark.slow  # three extra processes importing the stack: ~40-60 s on a loaded machine
def test_separate_scheduler_gives_the_local_numbers(dask_cluster, data_dir, tmp_path, capsys):
    cfg = load_config(QUICK).with_overrides("sensitivity", **SWEEP)
    cfg_file = tmp_path / "sweep.toml"
    cfg_file.write_text(cfg.to_toml(), encoding="utf-8")
    out = tmp_path / "remote"
    rc = main(["sensitivity", str(cfg_file), "--scheduler", dask_cluster.address, "--out", str(out),
               "--data-dir", str(data_dir)])
    assert rc == 0
    assert "2 points (2 distinct) on 2 workers" in capsys.readouterr().out
    # the local run (`riskopt sensitivity` without --scheduler: a LocalCluster of worker processes), byte for
    # byte. Not an in-process cluster: its threads see multi-threaded BLAS (worker processes get
    # OMP/OPENBLAS_NUM_THREADS=1 from the nanny) and the GARCH fits then differ in the 7th digit.
    local = S.run_sensitivity(load_config(cfg_file), data_dir=data_dir, workers=1)
    assert local.n_errors == 0 and local.run_info["scheduler"] == "local cluster"
    assert (out / "sensitivity.json").read_text(encoding="utf-8") == S.sensitivity_json(local.doc)
