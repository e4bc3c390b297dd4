"""Non-fatal scans and `check_file` (what `riskopt data check` prints)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.data import DataFinding, check_file
from optimizer.data._validate import Labels, find_spikes, find_stale_runs, robust_sigma, true_runs

from .conftest import BINANCE


def _panel(values: dict[str, list[float]], start: str = "2021-01-01") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame(values, index=pd.date_range(start, periods=n, freq="D", name="date"))


def _labels(frame: pd.DataFrame) -> Labels:
    return Labels(dict.fromkeys(frame.columns, "synthetic.csv"))


def test_true_runs():
    mask = np.array([True, True, False, True, False, False, True])
    assert true_runs(mask) == [(0, 1), (3, 3), (6, 6)]
    assert true_runs(np.array([], dtype=bool)) == []


def test_finding_message_names_file_asset_and_dates():
    f = DataFinding("gap", "x.csv", "usdc", "2022-09-27", "2023-03-10", "165 day(s)", False)
    assert f.message() == "x.csv, asset 'usdc', 2022-09-27 to 2023-03-10: [gap] 165 day(s)"
    single = DataFinding("nan", "x.csv", "btc", "2021-01-02", "2021-01-02", "bad", True)
    assert single.message() == "x.csv, asset 'btc', 2021-01-02: [nan] bad"
    whole = DataFinding("empty_file", "x.csv", None, None, None, "empty", True)
    assert whole.message() == "x.csv: [empty_file] empty"


def test_check_real_binance_file(data_dir):
    findings = check_file(data_dir / BINANCE)
    assert not [f for f in findings if f.fatal]
    gaps = {(f.asset, f.start, f.end) for f in findings if f.kind == "gap"}
    assert gaps == {("usdc", "2022-09-27", "2023-03-10"), ("ftt", "2022-11-16", "2023-09-21")}
    # usdc is a known stablecoin: its depeg is flagged by default, its tick-size runs not as stale.
    assert ("depeg", "usdc", "2023-03-11") in {(f.kind, f.asset, f.start) for f in findings}
    assert not [f for f in findings if f.kind == "stale"]


def test_check_real_volume_file_accepts_zeros(data_dir):
    findings = check_file(data_dir / "coingecko_volume_daily.csv")
    assert not [f for f in findings if f.fatal]
    zeros = {(f.asset, f.start) for f in findings if f.kind == "zero_value"}
    assert zeros == {("wbtc", "2019-02-14"), ("wbtc", "2019-03-11"), ("usdt", "2015-06-08")}


def test_check_file_lists_fatal_and_flags_together(write_file):
    text = "date,btc,eth\n2021-01-01,1,1\n2021-01-02,0,1\n2021-01-03,1,\n2021-01-04,1,1\n"
    findings = check_file(write_file("prices.csv", text))
    assert [(f.kind, f.asset, f.start, f.fatal) for f in findings] == [
        ("non_positive", "btc", "2021-01-02", True),
        ("gap", "eth", "2021-01-03", False),  # btc's bad cell is not reported again as a gap
    ]


def test_check_file_stops_at_date_problems(write_file):
    text = "date,btc\n2021-01-01,1\n2021-01-01,1\n2021-01-03,1\n"
    findings = check_file(write_file("prices.csv", text))
    assert [f.kind for f in findings] == ["duplicate_date"]


def test_stale_runs_are_broken_by_gaps():
    frame = _panel({"x": [1.0, 2, 2, 2, np.nan, 2, 2, 2, 2, 2, 3]})
    found = find_stale_runs(frame, _labels(frame), min_run=5)
    assert [(f.start, f.end) for f in found] == [("2021-01-06", "2021-01-10")]
    assert "5 identical consecutive prices (2.0)" in found[0].detail


def test_spike_needs_a_full_reversal():
    rng = np.random.default_rng(42)
    base = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    spiky = base.copy()
    spiky[100] *= 1.5  # up 40 % then straight back: a one-day spike
    moved = base.copy()
    moved[150:] *= 1.5  # up 40 % and stays: a real move
    frame = _panel({"spiky": list(spiky), "moved": list(moved)})
    found = find_spikes(frame, _labels(frame), n_sigma=12)
    assert [(f.asset, f.start) for f in found] == [("spiky", frame.index[100].strftime("%Y-%m-%d"))]


def test_spike_scan_does_not_reach_across_a_missing_day():
    rng = np.random.default_rng(7)
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))
    x[60] *= 1.5  # a spike ...
    frame = _panel({"a": list(x)})
    frame = frame.drop(frame.index[59])  # ... whose day before is missing: no one-day return into it
    assert find_spikes(frame, _labels(frame), n_sigma=12) == []


def test_robust_sigma_falls_back_when_most_returns_are_zero():
    returns = np.array([0.0] * 30 + [0.01, -0.01] * 5)
    assert robust_sigma(returns) == pytest.approx(1.2533 * np.mean(np.abs(returns)))
    assert robust_sigma(np.array([0.01, 0.02])) == 0.0  # too few returns to estimate a scale


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(stale_run_days=1), "stale_run_days"),
        (dict(stale_run_days=True), "stale_run_days"),
        (dict(outlier_sigma=float("nan")), "outlier_sigma"),
        (dict(depeg_tolerance=0), "depeg_tolerance"),
    ],
)
def test_check_file_validates_thresholds(write_file, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        check_file(write_file("prices.csv", "date,btc\n2021-01-01,1\n"), **kwargs)
