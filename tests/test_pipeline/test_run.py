"""End to end on real data: the run is reproducible and its answers move the right way."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from optimizer.cli import main
from optimizer.optimize import RunStatus
from optimizer.pipeline.config import load_config
from optimizer.pipeline.run import load_inputs, prepare_market, solve_thresholds

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"


def quick_cfg(**scen):
    cfg = load_config(QUICK)
    return cfg.with_overrides("scenarios", **({"n_scenarios": 10_000} | scen))


def write_config(path: Path, cfg) -> Path:
    """The config as a TOML file that parses back to the same configuration (checked)."""
    path.write_text(cfg.to_toml())
    assert load_config(path).sha256 == cfg.sha256
    return path


@pytest.fixture(scope="module")
def base(quick_stage):
    """The quick config at 10,000 scenarios, solved (shared with the other pipeline tests)."""
    assert quick_stage.cfg.sha256 == quick_cfg().sha256
    return quick_stage.cfg, quick_stage.inputs, quick_stage.market, quick_stage.solution


def lt_of(sol, asset):
    return float(sol.recommended.liquidation_threshold[sol.recommended.index(asset)])


def test_invariants_hold_for_every_asset(base):
    cfg, _, market, sol = base
    p = sol.recommended
    assert p.violations() == []
    assert np.all(p.ltv <= p.liquidation_threshold + 1e-12)
    assert np.all(p.liquidation_threshold * (1 + p.liquidation_bonus) <= 1 + 1e-12)
    assert np.all(p.liquidation_threshold >= market.lt_min - 1e-9)
    assert np.all(p.liquidation_threshold <= market.lt_max + 1e-9)


def test_eth_above_long_tail_and_a_stablecoins_depeg_jumps_lower_its_lt(base):
    """A stablecoin's LT above ETH's is no law once its peg risk is modelled: test the mechanism.

    The quick config's USDC scenarios hold depeg jumps from the pooled USD-stablecoin history;
    with the jumps divided out of the same scenarios, USDC's threshold can only rise, and its
    horizon tail is its jumps'.
    """
    from optimizer.scenarios import jump_factor

    cfg, inputs, market, sol = base
    assert lt_of(sol, "eth") > lt_of(sol, "crv")
    scen = inputs.scenarios
    jumps = jump_factor(scen.assets, scen.n_scenarios, inputs.pegs.draws)
    i = cfg.asset_names.index("usdc")
    (usdc,) = [d for d in inputs.pegs.draws if d.asset == "usdc"]
    assert (jumps[:, i] != 1).sum() == usdc.n_jumps > 0
    calm = solve_thresholds(cfg, inputs, prepare_market(cfg, inputs, terminal=scen.terminal / jumps,
                                                               sale=market.sale))
    assert lt_of(calm, "usdc") > lt_of(sol, "usdc")
    assert np.quantile(scen.terminal[:, i], 0.001) < np.quantile(scen.terminal[:, i] / jumps[:, i], 0.001) - 0.02


def test_higher_volatility_lowers_that_assets_lt(base):
    cfg, inputs, market, sol = base
    # CRV (LTV held at 0) sits at its current LT, below what the risk target allows: follow the risk limit
    cfg = cfg.with_overrides("optimizer", held_ltv_lt="risk_limit")
    sol = solve_thresholds(cfg, inputs, prepare_market(cfg, inputs))
    for asset in ("eth", "crv"):
        i = cfg.asset_names.index(asset)
        logs = np.log(inputs.scenarios.terminal)
        logs[:, i] *= 1.5  # the asset's horizon log returns scaled: 1.5x volatility
        sigma = market.sigma.copy()
        sigma[i] *= 1.5
        m2 = prepare_market(cfg, inputs, terminal=np.exp(logs), sigma=sigma, sale=market.sale)
        lt2 = lt_of(solve_thresholds(cfg, inputs, m2), asset)
        assert lt2 < lt_of(sol, asset) - 1e-4, asset


def test_higher_alpha_lowers_thresholds(base):
    cfg, inputs, market, sol = base
    strict = cfg.with_overrides("optimizer", alpha=0.995)
    # the run's sale held: the test is of the CVaR level, not of the deeper tail's larger sale
    sol2 = solve_thresholds(strict, inputs, prepare_market(strict, inputs, sale=market.sale))
    lt1, lt2 = sol.recommended.liquidation_threshold, sol2.recommended.liquidation_threshold
    assert np.all(lt2 <= lt1 + 1e-9)
    assert lt2.sum() < lt1.sum() - 1e-3


def test_correlation_stress_lowers_thresholds(base):
    """Positions crashing together (correlation blended toward 1) cost capital efficiency.

    Each asset's own distribution is unchanged by the stress, so its per-asset guard is too; the
    aggregate CVaR budget tightens, so the efficiency-weighted thresholds fall and none rises by
    more than the LP's reallocation between assets.
    """
    from optimizer.optimize.measures import cvar
    from optimizer.optimize.convex import threshold_losses
    from optimizer.scenarios import comonotone_stress

    cfg, inputs, market, sol = base
    k_st, w_st = comonotone_stress(market.k, 0.5)
    # at fixed thresholds the aggregate tail gets worse ...
    assert cvar(threshold_losses(sol.lt, k_st, market.exposure), market.alpha, w_st) > sol.optimizer.cvar_
    stressed = cfg.with_overrides("scenarios", comonotone_share=0.5)
    sol2 = solve_thresholds(stressed, inputs, prepare_market(stressed, inputs, sale=market.sale))
    # ... so the optimum gives up capital efficiency, and some asset's threshold falls
    assert sol2.optimizer.objective_ < sol.optimizer.objective_
    assert np.any(sol2.lt < sol.lt - 1e-4)
    np.testing.assert_allclose(sol2.caps, sol.caps)


def test_infeasible_budget_reports_smallest_feasible(base):
    cfg, inputs, _, _ = base
    tiny = cfg.with_overrides("optimizer", risk_budget_usd=1.0, lt_min=0.75)
    sol = solve_thresholds(tiny, inputs, prepare_market(tiny, inputs))
    assert sol.status is RunStatus.INFEASIBLE
    assert sol.optimizer.min_feasible_budget_ > 1.0
    assert sol.recommended.violations() == []


@pytest.mark.slow
def test_same_inputs_give_byte_identical_params(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("RISKOPT_DATA_DIR", str(data_dir))
    cfg_path = write_config(tmp_path / "quick.toml", quick_cfg(n_scenarios=5000))
    outs = []
    for name in ("a", "b"):
        assert main(["run", str(cfg_path), "--out", str(tmp_path / name)]) == 0
        outs.append((tmp_path / name / "params.json").read_bytes())
    assert outs[0] == outs[1]
    params = json.loads(outs[0])
    assert params["status"] == "ok"
    for key in ("format_version", "package_version", "config_sha256", "data_sha256", "seed", "versions"):
        assert key in params["meta"]
    step = load_config(cfg_path).guardrails.grid
    assert params["method"]["grid"]["step"] == step == 0.0025  # the stewards' 25 bp step
    for a, v in params["assets"].items():
        ltv, lt = v["ltv"]["value"], v["liquidation_threshold"]["value"]
        assert 0 <= ltv <= lt < 1, a
        assert v["haircut"] == pytest.approx(1 - ltv)
        for k in ("ltv", "liquidation_threshold", "liquidation_bonus"):
            p = v[k]
            # deployable: on the grid (or exactly the live value, as CRV's 8.3 % bonus), in whole bps,
            # never above the program's answer
            on_grid = abs(p["value"] / step - round(p["value"] / step)) < 1e-6
            assert on_grid or p["value"] == v["current"][k], (a, k, p)
            assert p["bps"] == round(p["value"] * 1e4) and isinstance(p["bps"], int)
            assert p["value"] <= p["unrounded"] + 1e-9, (a, k, p)
    g = params["method"]["grid"]
    assert g["lp_cvar_usd"] <= g["lp_cvar_unrounded_usd"] <= params["method"]["risk_budget_usd"] * (1 + 1e-6)
    assert {"report.md", "report.html", "params.json"} <= {p.name for p in (tmp_path / "a").iterdir()}
    # a different seed gives a different (but still valid) answer
    assert main(["run", str(cfg_path), "--out", str(tmp_path / "c"), "--seed", "99"]) == 0
    assert (tmp_path / "c" / "params.json").read_bytes() != outs[0]


def test_run_outcome_and_exit_code_for_infeasible(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RISKOPT_DATA_DIR", str(data_dir))
    tight = quick_cfg(n_scenarios=3000).with_overrides("optimizer", risk_budget_usd=1.0, lt_min=0.75)
    cfg_path = write_config(tmp_path / "tight.toml", tight)
    assert main(["run", str(cfg_path), "--out", str(tmp_path / "r")]) == 3  # risk target not met
    params = json.loads((tmp_path / "r" / "params.json").read_text())
    assert params["status"] == "infeasible"
    out = capsys.readouterr().out
    assert "smallest feasible budget" in out.lower()
    assert out.strip().splitlines()[-1] == str(tmp_path / "r")


def test_csv_book_config_runs(data_dir):
    """The example CSV book (synthetic, datasets/example_book.csv) drives the same pipeline."""
    cfg = load_config(ROOT / "configs" / "quick-csv-book.toml").with_overrides("scenarios", n_scenarios=5_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_inputs(cfg, data_dir=data_dir)
        sol = solve_thresholds(cfg, inputs, prepare_market(cfg, inputs))
    assert inputs.book.source == "csv: ../datasets/example_book.csv"
    assert inputs.book.n_accounts == 40
    assert sol.recommended.violations() == []


def test_a_reserve_with_ltv_held_at_0_keeps_at_most_its_current_lt(base):
    """Quick config: CRV's LTV is 0, so its LT buys nothing; the risk target would allow more than its live 0.41."""
    from optimizer.optimize import Binding

    cfg, _, market, sol = base
    i = cfg.asset_names.index("crv")
    assert market.ltv_held[i] and market.efficiency_weight[i] == 0.0
    assert lt_of(sol, "crv") == pytest.approx(0.41, abs=1e-9) and sol.binding[i] == Binding.HELD_AT_CURRENT
    assert sol.risk_limit_lt[i] > 0.41
    assert sol.optimizer.objective_ == pytest.approx(market.capital_efficiency(sol.lt), rel=1e-12)


def test_recommendation_on_the_grid_keeps_the_target(base):
    """The run's recommendation (solve_recommendation) is the program's answer rounded down to the 25 bp
    grid: re-evaluated on the program's own scenarios, its CVaR and every stress row are no higher."""
    from optimizer.optimize import solution_on_grid

    cfg, _, market, sol = base
    on = solution_on_grid(sol, cfg.guardrails.grid)
    r, u, g = on.recommended, on.unrounded, on.grid
    assert u is sol.recommended and np.array_equal(on.lt, sol.lt)  # binding labels keep the program's answer
    assert r.violations() == []
    for x in (r.ltv, r.liquidation_threshold):
        live = np.isclose(x, 0.0) | np.isin(x, [*market.current.liquidation_threshold, *market.current.ltv])
        assert np.all((np.abs(x / 0.0025 - np.round(x / 0.0025)) < 1e-6) | live)
    assert np.all(r.liquidation_threshold <= u.liquidation_threshold + 1e-9)
    assert np.all(r.liquidation_threshold >= market.lt_min - 1e-9)
    assert g.lp_cvar_usd <= g.lp_cvar_unrounded_usd <= market.budget * (1 + 1e-6)
    assert g.lp_cvar_unrounded_usd == pytest.approx(sol.optimizer.cvar_, rel=1e-9)
    if g.stress_max_usd is not None:
        assert g.stress_max_usd <= g.stress_max_unrounded_usd <= market.stress.budget * (1 + 1e-6)
    i = cfg.asset_names.index("crv")
    assert r.liquidation_threshold[i] == 0.41 and r.liquidation_bonus[i] == 0.083 and r.ltv[i] == 0.0  # live
