"""One worker process of a shared study (test_search_shared.py): ``python _shared_study_worker.py
URL STUDY N_TRIALS WORKER {starts|grid}``; prints the number of trials it ran.

The evaluation is synthetic and pure (a KNOWN trade-off, as in test_search.py) with a short sleep
standing in for the simulation, so two workers' trials overlap in time; it records which worker
ran each trial in the trial's metrics.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from optimizer.optimize.search import FrontierSearch, SearchSpace
from optimizer.protocol.params import RiskParams

SPACE = SearchSpace(assets=("eth", "crv"), lt_low=[0.60, 0.30], lt_high=[0.85, 0.60], bonus_low=0.02,
                    bonus_high=0.10, ltv_buffer=0.04)
C, W, A = np.array([100e6, 5e6]), np.array([1e5, 3e5]), np.array([0.85, 0.50])


def starts() -> list[RiskParams]:
    """Two starting points, as a run enqueues the convex answer."""
    return [SPACE.params_from_values({"eth.bonus": 0.05, "eth.lt_frac": 0.5, "crv.bonus": 0.08, "crv.lt_frac": 0.2}),
            SPACE.params_from_values({"eth.bonus": 0.03, "eth.lt_frac": 0.9, "crv.bonus": 0.04, "crv.lt_frac": 0.7})]


def grid() -> list[RiskParams]:
    """20 points spread over the box, enqueued in advance."""
    u = np.random.default_rng(3).random((20, 4))
    return [SPACE.params_from_values({"eth.bonus": round(0.02 + 0.08 * a, 2), "eth.lt_frac": float(b),
                                      "crv.bonus": round(0.02 + 0.08 * c, 2), "crv.lt_frac": float(d)})
            for a, b, c, d in u]


def evaluate(worker: int):
    def f(params: RiskParams) -> dict[str, float]:
        time.sleep(0.05)
        lt, b = params.liquidation_threshold, params.liquidation_bonus
        return {"capital_efficiency_usd": float(C @ lt),
                "bad_debt_cvar_usd": float(np.sum(W * np.exp(20 * (lt - A)) * (1 + b))),
                "worker": float(worker)}
    return f


def main(url: str, study: str, n_trials: int, worker: int, mode: str) -> FrontierSearch:
    points = starts() if mode == "starts" else grid()
    return FrontierSearch(n_trials=n_trials, storage=url, study_name=study, seed=worker).fit(
        evaluate(worker), SPACE, enqueue=points)


if __name__ == "__main__":
    url, study, n, w, mode = sys.argv[1:]
    print(main(url, study, int(n), int(w), mode).n_trials_run_)
