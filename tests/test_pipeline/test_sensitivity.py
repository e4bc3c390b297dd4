"""`riskopt sensitivity`: sweep layout, directions on real data, identical numbers on 1 and 2 workers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from optimizer._random import RunStreams
from optimizer.cli import main
from optimizer.exceptions import ConfigError
from optimizer.pipeline import sensitivity as S
from optimizer.pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"

#: Every assumption's list emptied: a test switches on the ones it needs.
NONE = {name: [] for name in S.ASSUMPTIONS} | {"grids": []}


def sweep_cfg(n_scenarios=4_000, **sweeps):
    # these tests follow each threshold's response to risk: CRV's LTV is held at 0 and its current LT
    # (0.41) is below what the risk target allows, so under the default held_ltv_lt = "up_to_current"
    # it would sit at 0.41 at every point; "risk_limit" lets it follow the risk target
    return load_config(QUICK).with_overrides("sensitivity", **(NONE | {"n_scenarios": n_scenarios} | sweeps)
                                             ).with_overrides("optimizer", held_ltv_lt="risk_limit")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = Client(cluster)
    yield c
    S._close(c, cluster)


# ---------------------------------------------------------------------------------------------
# Layout of a sweep (no solving)
# ---------------------------------------------------------------------------------------------
def test_default_sweep_has_base_one_at_a_time_and_grid_points():
    cfg = load_config(QUICK)
    s = cfg.sensitivity
    points = S.sweep_points(cfg)
    n_oat = sum(len(getattr(s, n)) for n in S.ASSUMPTIONS)
    n_grid = sum(len(getattr(s, x)) * len(getattr(s, y)) for x, y in s.grids)
    assert len(points) == 1 + n_oat + n_grid
    assert points[0].kind == "base" and points[0].overrides == {}
    assert [p.index for p in points] == list(range(len(points)))
    assert {p.sweep for p in points if p.kind == "grid"} == {"vol_multiplier*comonotone_share"}


def test_point_config_maps_each_assumption():
    cfg = load_config(QUICK)
    c = S.point_config(cfg, {"alpha": 0.995})
    assert c.alpha_and_budget_share()[0] == 0.995
    # with the market simulation on, a delay is the simulation's (it moves the fund) ...
    assert cfg.simulation.enabled
    c = S.point_config(cfg, {"delay_steps": 4})
    assert (c.simulation.delay_steps, c.scenarios.horizon_days) == (4, cfg.scenarios.horizon_days)
    # ... without it, extra days of horizon: 4 steps at 4 steps a day = 1 more day
    off = cfg.with_overrides("simulation", enabled=False)
    assert S.point_config(off, {"delay_steps": 4}).scenarios.horizon_days == cfg.scenarios.horizon_days + 1
    assert S.point_config(off, {"delay_steps": 1, "horizon_days": 3}).scenarios.horizon_days == 4
    c = S.point_config(cfg, {"bonus_shift": 0.02})
    assert c.assets["eth"].bonus == pytest.approx(0.07) and c.assets["crv"].bonus == pytest.approx(0.103)
    c = S.point_config(cfg, {"liquidity_multiplier": 2.0, "volatility": "ewma", "window_days": 730})
    assert (c.liquidity.liquidity_multiplier, c.estimators.volatility, c.run.window_days) == (2.0, "ewma", 730)
    # a value equal to the base's resolves to the same configuration (solved once)
    assert S.point_config(cfg, {"vol_multiplier": 1.0}).sha256 == cfg.sha256
    # points sharing estimator and window share one fit
    assert S.fit_key(S.point_config(cfg, {"alpha": 0.975})) == S.fit_key(cfg)
    assert S.fit_key(S.point_config(cfg, {"window_days": 730})) != S.fit_key(cfg)


def test_bad_sweeps_are_config_errors():
    with pytest.raises(ConfigError, match="not an assumption"):
        S.check_sensitivity(sweep_cfg(grids=[["vol_multiplier", "gamma"]]))
    with pytest.raises(ConfigError, match="two different"):
        S.check_sensitivity(sweep_cfg(grids=[["alpha", "alpha"]]))
    with pytest.raises(ConfigError, match="volatility"):
        S.check_sensitivity(sweep_cfg(volatility=["egarch"]))


# ---------------------------------------------------------------------------------------------
# Directions on real data (quick config)
# ---------------------------------------------------------------------------------------------
MAIN = ("eth", "wbtc", "crv")


@pytest.fixture(scope="module")
def directions(client, data_dir):
    cfg = sweep_cfg(
        n_scenarios=10_000,
        vol_multiplier=[1.0, 1.5, 2.0],
        comonotone_share=[0.0, 0.25, 0.5],
        liquidity_multiplier=[0.5, 1.0, 2.0],
        horizon_days=[1, 2, 3],
        delay_steps=[0, 1, 2],
    )
    res = S.run_sensitivity(cfg, data_dir=data_dir, client=client)
    assert res.n_errors == 0, [r.get("error") for r in res.results if r["status"] == "error"]
    return res


def series(res, name):
    """(value, result) of one assumption's sweep, in increasing value."""
    pts = [(p.overrides[name], r) for p, r in zip(res.points, res.results) if p.sweep == name]
    return sorted(pts, key=lambda t: t[0])


def test_more_volatility_lowers_every_threshold(directions):
    pts = series(directions, "vol_multiplier")
    for asset in directions.config.asset_names:
        lts = [r["lt"][asset] for _, r in pts]
        assert all(b <= a + 1e-9 for a, b in zip(lts, lts[1:])), (asset, lts)
    assert pts[-1][1]["lt"]["eth"] < pts[0][1]["lt"]["eth"] - 0.01
    # the simulated tail grows with volatility (the stress-library terms are never rescaled by it)
    funds = [r["fund_tail_usd"] for _, r in pts]
    assert funds[-1] > funds[0]
    assert all(r["insurance_fund_usd"] >= r["fund_tail_usd"] for _, r in pts)


def test_longer_horizon_lowers_thresholds(directions):
    # a longer horizon draws other paths, so a step may carry a little Monte Carlo noise (2 bps)
    pts = series(directions, "horizon_days")
    for asset in MAIN:
        lts = [r["lt"][asset] for _, r in pts]
        assert all(b <= a + 2e-4 for a, b in zip(lts, lts[1:])), (asset, lts)
        assert lts[-1] < lts[0], (asset, lts)
    objective = [r["lp_objective_usd"] for _, r in pts]
    assert all(b <= a for a, b in zip(objective, objective[1:])), objective
    funds = [r["insurance_fund_usd"] for _, r in pts]
    assert funds[-1] > funds[0]


def test_longer_delay_keeps_thresholds_and_raises_the_fund(directions):
    # the delay is the market simulation's: the static thresholds stay, the simulated fund grows
    pts = series(directions, "delay_steps")
    for asset in directions.config.asset_names:
        lts = [r["lt"][asset] for _, r in pts]
        assert all(b <= a + 1e-12 for a, b in zip(lts, lts[1:])), (asset, lts)
    # (the simulated tail is an expected shortfall of a sparse distribution: compare with no delay;
    # the stress-library terms of the fund are the static model's, the delay does not move them)
    funds = [r["fund_tail_usd"] for _, r in pts]
    assert all(f > funds[0] for f in funds[1:]), funds
    assert all("market simulation" in r["fund_source"] for _, r in pts)


@pytest.mark.slow
def test_longer_delay_lowers_thresholds_without_the_simulation(client, data_dir):
    cfg = sweep_cfg(delay_steps=[0, 4, 8]).with_overrides("simulation", enabled=False)
    res = S.run_sensitivity(cfg, data_dir=data_dir, client=client)
    pts = series(res, "delay_steps")
    assert all(r["status"] != "error" for _, r in pts)
    for asset in MAIN:
        lts = [r["lt"][asset] for _, r in pts]
        assert all(b <= a + 2e-4 for a, b in zip(lts, lts[1:])) and lts[-1] < lts[0], (asset, lts)


def test_a_point_draws_from_the_streams_it_is_given(data_dir):
    cfg = load_config(QUICK).with_overrides("scenarios", n_scenarios=2_000).with_overrides(
        "simulation", enabled=True, n_scenarios=300).with_overrides("book", n_accounts=300)
    fitted = S.fit_task(cfg, str(data_dir))
    default = S.point_task(cfg, fitted)
    assert default["status"] != "error", default
    assert S.point_task(cfg, fitted, RunStreams.from_seed(cfg.run.seed)) == default
    other = S.point_task(cfg, fitted, RunStreams.from_seed(cfg.run.seed + 1))
    assert other["lt"] != default["lt"] and other["sigma_daily"] == default["sigma_daily"]  # same fit, other draws


@pytest.mark.slow
def test_base_point_reproduces_the_run(directions, data_dir):
    """Same data, fit, scenario stream, book and simulation: the base point is `riskopt run`."""
    import warnings

    from optimizer.pipeline.run import run

    cfg = directions.config.with_overrides("backtest", in_report=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run(cfg, data_dir=data_dir)
    base = directions.doc["base"]
    # equal up to the LP solver's tolerance (the worker runs single-threaded BLAS, this process not);
    # a sweep reports the program's answer, before the run rounds it to the grid
    for i, a in enumerate(cfg.asset_names):
        assert base["lt"][a] == pytest.approx(float(out.unrounded.liquidation_threshold[i]), abs=1e-6)
    assert base["insurance_fund_usd"] == pytest.approx(out.report.insurance_fund_usd, rel=1e-4)


def test_more_correlation_stress_tightens_the_aggregate_budget(directions):
    pts = series(directions, "comonotone_share")
    # co-moving positions fatten the aggregate tail: borrowing power can only fall ...
    objective = [r["lp_objective_usd"] for _, r in pts]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(objective, objective[1:])), objective
    efficiency = [r["capital_efficiency_usd"] for _, r in pts]
    assert efficiency[-1] < efficiency[0]
    # ... the assets in the stressed tail give up threshold; the shared budget may hand an asset
    # outside it a little more (ETH gains ~15 bps here while WBTC loses ~30 and CRV ~140)
    first, last = pts[0][1]["lt"], pts[-1][1]["lt"]
    assert sum(last[a] < first[a] - 1e-6 for a in MAIN) >= 2, (first, last)
    assert all(last[a] <= first[a] + 25e-4 for a in directions.config.asset_names), (first, last)


def test_more_liquidity_raises_thresholds_or_shrinks_the_fund(directions):
    pts = series(directions, "liquidity_multiplier")
    objective = [r["lp_objective_usd"] for _, r in pts]
    assert all(b >= a * (1 - 1e-7) for a, b in zip(objective, objective[1:])), objective
    for (_, lo), (_, hi) in zip(pts, pts[1:]):
        for asset in MAIN:
            assert (hi["lt"][asset] >= lo["lt"][asset] - 1e-9
                    or hi["insurance_fund_usd"] <= lo["insurance_fund_usd"]), asset


def test_tornado_spans_match_the_points(directions):
    doc = directions.doc
    base = doc["base"]["lt"]["eth"]
    pts = series(directions, "vol_multiplier")
    t = doc["tornado"]["eth"]["vol_multiplier"]
    assert t["low"] == pytest.approx(min(r["lt"]["eth"] for _, r in pts) - base, abs=1e-9)
    assert t["high_value"] == 1.0 and t["low_value"] == 2.0


# ---------------------------------------------------------------------------------------------
# Workers do not change the numbers; the report files
# ---------------------------------------------------------------------------------------------
SMALL = dict(n_scenarios=2_000, alpha=[0.975, 0.995], vol_multiplier=[1.0, 1.5], comonotone_share=[0.0, 0.5],
             volatility=["ewma"], grids=[["vol_multiplier", "comonotone_share"]])


@pytest.mark.slow
def test_one_and_two_workers_give_identical_numbers(data_dir, client, tmp_path):
    from distributed import Client, LocalCluster

    cfg = sweep_cfg(**SMALL)
    two = S.run_sensitivity(cfg, data_dir=data_dir, client=client)
    assert two.run_info["workers"] == 2
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    one_client = Client(cluster)
    try:
        one = S.run_sensitivity(cfg, data_dir=data_dir, client=one_client)
    finally:
        S._close(one_client, cluster)
    assert one.run_info["workers"] == 1
    assert one.results == two.results
    assert S.sensitivity_json(one.doc) == S.sensitivity_json(two.doc)
    assert one.n_errors == 0


@pytest.mark.slow
def test_cli_writes_the_report_with_tornados_and_heatmaps(data_dir, tmp_path, capsys):
    cfg_file = tmp_path / "quick.toml"
    cfg_file.write_text(sweep_cfg(**SMALL).to_toml(), encoding="utf-8")
    out = tmp_path / "sens"
    rc = main(["sensitivity", str(cfg_file), "--out", str(out), "--data-dir", str(data_dir), "--workers", "2"])
    assert rc == 0
    assert Path(capsys.readouterr().out.strip().splitlines()[-1]) == out.absolute()
    doc = json.loads((out / "sensitivity.json").read_text())
    assert json.loads(json.dumps(doc)) == doc
    assert [p["index"] for p in doc["points"]] == list(range(doc["n_points"]))
    html = (out / "sensitivity.html").read_text()
    ids = set(re.findall(r'<figure id="([^"]+)">\s*<img src="data:image/png;base64,', html))
    assets = doc["assets"]
    assert {f"fig-tornado-{a}" for a in assets} | {"fig-tornado-fund", "fig-heatmap-vol_multiplier-comonotone_share"} <= ids
    assert html.count("<script") == 1 and "<script src" not in html  # only the inlined report.js
    md = (out / "sensitivity.md").read_text()
    assert "## How far each assumption moves the answer" in md and "## Grid:" in md
    for a in assets:
        assert np.isfinite(doc["base"]["lt"][a])
