"""`riskopt search-worker`: one more process on a run's frontier search, through a shared study.

Each worker computes what the search needs (prices, scenarios, book, the convex answer and the
market it was solved on: the same stages as :func:`optimizer.pipeline.run.run`, same config,
data and seed, so the same numbers) and then runs trials of the study named by ``[search]
study_name`` (default: the run's) in ``[search] storage`` until the study holds ``[search]
n_trials``. Start as many as you like, on any machine that sees the data and the database; a
``riskopt run`` with the same storage is one more worker and writes the report from the whole study.

The in-report VaR backtests are not run: they feed only the report (``volatility = "auto"``
still runs them to choose its model), and the search space is checked against the study's, so a
worker whose inputs differed would stop with an error rather than mix its trials in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from optimizer._random import RunStreams
from optimizer.exceptions import ConfigError
from optimizer.pipeline.config import RunConfig
from optimizer.pipeline.market_sim import SearchStage, default_study_name, run_search
from optimizer.pipeline.progress import Progress, Silent


def search_worker(
    cfg: RunConfig,
    *,
    storage: str | None = None,
    worker: int = 1,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> SearchStage:
    """Run trials of ``cfg``'s frontier search in a shared study until it holds ``n_trials``.

    ``storage`` overrides ``[search] storage``; one of them must be a database URL. ``worker``
    (>= 1; 0 is ``riskopt run`` itself) seeds this process's sampler apart from the others'.
    """
    from optimizer.pipeline.preflight import check_inputs
    from optimizer.pipeline.run import load_inputs, resolve_as_of, solve_recommendation

    if isinstance(worker, bool) or not isinstance(worker, int) or worker < 1:
        raise ConfigError(f"--worker must be an integer >= 1 (0 is riskopt run itself), got {worker!r}")
    url = storage or cfg.search.storage
    if url is None:
        raise ConfigError("search-worker needs a shared study: give --storage URL or set [search] storage")
    cfg = cfg.with_overrides("search", enabled=True, storage=url)
    check_inputs(cfg, data_dir=data_dir)
    progress = progress or Silent()
    cfg = resolve_as_of(cfg, data_dir=data_dir)
    study_name = cfg.search.study_name or default_study_name(cfg)
    streams = RunStreams.from_seed(cfg.run.seed, book_seed=cfg.book.seed)
    inputs = load_inputs(cfg.with_overrides("backtest", in_report=False), data_dir=data_dir, progress=progress,
                         streams=streams)
    inputs = dataclasses.replace(inputs, config=cfg)
    fixed, sol, _ = solve_recommendation(cfg, inputs, progress)
    return run_search(cfg, inputs, fixed.problem, sol.recommended, rng=streams.search, progress=progress,
                      study_name=study_name, worker=worker)
