"""Peg-break scan and pooled frequency/severity: synthetic series with known answers, then the real data."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from optimizer.data import IntradayExtreme, PegSeries, intraday_extremes, peg_history
from optimizer.estimators import PegBreakModel, find_peg_breaks

DAYS = pd.date_range("2020-01-01", periods=1461, freq="D", name="date")  # four years


def series(values: dict[int, float], asset: str = "usdx", reference: str = "usd", nan: range = range(0)) -> PegSeries:
    """Synthetic peg ratio: 1.0 every day except ``values`` (day index -> ratio); NaN on ``nan``."""
    x = pd.Series(1.0, index=DAYS)
    for i, v in values.items():
        x.iloc[i] = v
    x.iloc[list(nan)] = np.nan
    src = pd.Series(np.where(x.notna(), "coinmetrics", ""), index=DAYS, dtype="object")
    return PegSeries(asset=asset, reference=reference, ratio=x, source=src)


def _series(x: np.ndarray, days: pd.DatetimeIndex) -> PegSeries:
    r = pd.Series(x, index=days)
    return PegSeries(asset="usdx", reference="usd", ratio=r, source=pd.Series("coinmetrics", index=days, dtype="object"))


def row(asset: str, day: pd.Timestamp, low: float, reference: str = "usd") -> IntradayExtreme:
    return IntradayExtreme(asset, day.date(), low, reference, reference.upper(), "test https://x.y", "n")


def test_known_events_frequency_and_severity():
    """Synthetic, known answer: 3 events (one declustered pair), one intraday replacement, one intraday-only."""
    s = series({100: 0.95, 101: 0.97, 105: 0.96, 500: 1.05, 900: 0.99})
    events = find_peg_breaks(s, threshold=0.02, decluster_days=7)
    assert [(e.start, e.end, e.side, e.level) for e in events] == [
        (DAYS[100].date(), DAYS[105].date(), "below", 0.95),  # days 100-101 and 105: 4 days apart, one event
        (DAYS[500].date(), DAYS[500].date(), "above", 1.05),
    ]  # day 900 (0.99) is within 2 % of par
    table = [row("usdx", DAYS[102], 0.90), row("usdx", DAYS[1200], 0.93), row("usdx", DAYS[1300], 0.99),
             row("other", DAYS[100], 0.5)]
    m = PegBreakModel(threshold=0.02, decluster_days=7, intraday=table).fit([s, series({}, asset="usdy")])
    levels = sorted(round(e.level, 4) for e in m.events_)
    assert levels == [0.90, 0.93, 1.05]  # 0.95 -> 0.90 intraday; 0.93 intraday-only; 0.99 not a break
    assert [e.depth_source for e in m.events_] == ["intraday", "close", "intraday"]
    assert m.events_[0].close_level == 0.95 and m.events_[2].close_level is None
    assert m.asset_years_ == pytest.approx({"usdx": 1461 / 365.25, "usdy": 1461 / 365.25})
    assert m.frequency_ == pytest.approx(3 / 8.0)
    p = m.history_.horizon_probability(2)
    assert p == pytest.approx(1 - math.exp(-3 / 8.0 * 2 / 365.25))


def test_a_gap_is_neither_a_depeg_nor_a_recovery():
    """Synthetic: off peg on day 10, no value on days 11..20, off peg again on day 21."""
    s = series({10: 0.9, 21: 0.92}, nan=range(11, 21))
    two = find_peg_breaks(s, threshold=0.02, decluster_days=7)  # 11 calendar days apart
    assert [(e.start, e.end) for e in two] == [(DAYS[10].date(),) * 2, (DAYS[21].date(),) * 2]
    one = find_peg_breaks(s, threshold=0.02, decluster_days=14)
    assert [(e.start, e.end, e.level) for e in one] == [(DAYS[10].date(), DAYS[21].date(), 0.9)]
    # the missing days count as not observed
    m = PegBreakModel(decluster_days=14).fit([s])
    assert m.asset_years_["usdx"] == pytest.approx((1461 - 10) / 365.25)
    # a gap alone makes no event
    assert find_peg_breaks(series({}, nan=range(50, 300)), threshold=0.02, decluster_days=7) == []


def test_event_days_include_the_return_out_of_it():
    (e,) = find_peg_breaks(series({10: 0.9, 11: 0.95}), threshold=0.02, decluster_days=7)
    assert list(e.days()) == [DAYS[10], DAYS[11], DAYS[12]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="mixes classes"):
        PegBreakModel().fit([series({}), series({}, asset="x", reference="eth")])
    with pytest.raises(ValueError, match="at least one PegSeries"):
        PegBreakModel().fit([])
    with pytest.raises(ValueError, match="threshold"):
        PegBreakModel(threshold=1.5).fit([series({})])


@pytest.fixture(scope="module")
def usd(data_dir):
    return PegBreakModel(intraday=intraday_extremes()).fit(peg_history(data_dir, reference="usd", as_of="2025-06-12"))


def _event(model, asset, day, side="below"):
    day = pd.Timestamp(day).date()
    hits = [e for e in model.events_ if e.asset == asset and e.side == side and e.start <= day <= e.end]
    assert hits, f"no {side} event of {asset} on {day}: {model.history_.summary()}"
    return hits[0]


def test_real_usd_class_finds_usdc_2023_03_at_its_intraday_depth_and_dai_2020_03(usd):
    usdc = _event(usd, "usdc", "2023-03-11")
    assert usdc.level == 0.87 and usdc.depth_source == "intraday"
    assert usdc.close_level == pytest.approx(0.96558, abs=1e-4) and usdc.close_source == "coingecko"
    dai = _event(usd, "dai", "2020-03-12", side="above")  # Black Thursday: DAI at a premium
    assert dai.level == pytest.approx(1.0663, abs=1e-4) and dai.close_source == "coinmetrics"
    usdt = _event(usd, "usdt", "2022-05-12")  # closes stayed within 1 %: the table's low is the event
    assert usdt.close_level is None and usdt.level == 0.948
    assert {"usdt", "usdc", "dai", "frax"} <= {e.asset for e in usd.events_}
    assert set(usd.asset_years_) == {"usdt", "usdc", "dai", "sai", "tusd", "pax", "gusd", "busd", "frax"}
    # thin markets (market cap below $100M) are listed but out: GUSD never reached it, USDT before 2017-05-26
    out = usd.history_.excluded
    assert usd.asset_years_["gusd"] == 0 and {e.asset for e in out} >= {"gusd", "sai", "usdt"}
    assert all(e.excluded.startswith("thin market") for e in out)
    assert not [e for e in usd.events_ if e.asset == "usdt" and e.start < date(2017, 5, 26)]
    assert 0.5 < usd.frequency_ < 1.0


def test_real_eth_class_finds_steth_2022_06(data_dir):
    m = PegBreakModel(intraday=intraday_extremes()).fit(peg_history(data_dir, reference="eth", as_of="2025-06-12"))
    steth = _event(m, "steth", "2022-06-18")
    assert steth.level == 0.92 and steth.close_level == pytest.approx(0.9346, abs=1e-3)
    assert set(m.asset_years_) == {"steth", "wbeth"}
    assert not [e for e in m.events_ if e.asset == "wbeth"]  # its accruing rate is not a depeg


def test_as_of_cuts_the_history(data_dir):
    early = PegBreakModel(intraday=intraday_extremes()).fit(peg_history(data_dir, reference="usd", as_of="2023-03-01"))
    assert not [e for e in early.events_ if e.start >= date(2023, 3, 1)]


def test_an_event_that_drifts_for_months_contributes_its_horizon_move_not_its_level():
    """Synthetic: a ratio drifting from 1 to 0.82 over 200 days (0.1 % a day) is one event at 0.82,
    but its worst two-day move is about -0.2 %; a one-day crash from par to 0.87 contributes all of it."""
    days = pd.date_range("2020-01-01", periods=400, freq="D")
    x = np.ones(400)
    x[100:300] = np.linspace(0.999, 0.82, 200)
    x[300:] = 1.0
    x[350] = 0.87  # one day off peg after a year on
    (drift, crash) = find_peg_breaks(_series(x, days), threshold=0.02, decluster_days=7)
    assert drift.level == pytest.approx(0.82) and drift.end - drift.start > pd.Timedelta(days=150).to_pytimedelta()
    step = (0.999 - 0.82) / 199
    assert drift.move(2) == pytest.approx(0.82 / (0.82 + 2 * step), rel=1e-9)  # worst two days: the drift's end
    assert drift.move(2) > 0.995  # not 0.82
    assert crash.move(2) == pytest.approx(0.87) and crash.move(1) == pytest.approx(0.87)
    # a base beyond par on the far side counts as par: a fall from a 1 % premium is not deeper than par
    y = np.ones(30)
    y[10], y[11] = 1.01, 0.95
    (ev,) = find_peg_breaks(_series(y, pd.date_range("2020-01-01", periods=30, freq="D")), threshold=0.02,
                            decluster_days=7)
    assert ev.move(1) == pytest.approx(0.95)
