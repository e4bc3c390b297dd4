"""`PriceData` built by hand (synthetic panels): returns, hashing, summary, validation."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from optimizer.data import PriceData
from optimizer.exceptions import DataError


def _prices(rows: dict[str, list[float]], index: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=pd.DatetimeIndex(index, name="date"), dtype="float64")


DAYS = ["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04", "2021-01-05", "2021-01-06"]


def test_returns_drop_gap_rows_for_every_asset_and_trim_to_the_common_window():
    prices = _prices(
        {"a": [np.nan, 2, 4, np.nan, 8, 16], "b": [1, 1, 1, 1, 1, np.nan]},
        DAYS,
    )
    returns = PriceData(prices).returns()
    # Common window 01-02..01-05; 01-04 (gap in a) and 01-05 (spans it) are dropped for a and b.
    assert list(returns.index.strftime("%Y-%m-%d")) == ["2021-01-03"]
    assert returns.loc["2021-01-03", "a"] == pytest.approx(np.log(2))
    assert returns.index.name == "date" and list(returns.columns) == ["a", "b"]


def test_returns_skip_rows_more_than_a_day_apart():
    prices = _prices({"a": [1, 2, 4, 8]}, ["2021-01-01", "2021-01-02", "2021-01-04", "2021-01-05"])
    returns = PriceData(prices).returns()
    assert list(returns.index.strftime("%Y-%m-%d")) == ["2021-01-02", "2021-01-05"]


def test_returns_keep_gaps_leave_nan_only_for_the_asset_without_a_one_day_return():
    # Synthetic: a has a one-day gap on 01-04; b is complete on the common window 01-02..01-05.
    prices = _prices(
        {"a": [np.nan, 2, 4, np.nan, 8, 16], "b": [1, 2, 3, 4, 5, np.nan]},
        DAYS,
    )
    returns = PriceData(prices).returns(gaps="keep")
    assert list(returns.index.strftime("%Y-%m-%d")) == ["2021-01-03", "2021-01-04", "2021-01-05"]
    assert returns.index.name == "date" and list(returns.columns) == ["a", "b"]
    np.testing.assert_allclose(returns["b"], np.log([3 / 2, 4 / 3, 5 / 4]))
    # a: 01-04 has no price, 01-05 would span two days (8 / 4): both undefined, never filled.
    assert returns.loc["2021-01-03", "a"] == pytest.approx(np.log(2))
    assert returns["a"].isna().tolist() == [False, True, True]
    # The default is unchanged: the same dates are dropped for every asset.
    assert list(PriceData(prices).returns().index.strftime("%Y-%m-%d")) == ["2021-01-03"]


def test_returns_keep_gaps_drop_rows_no_asset_has_a_return_on():
    prices = _prices(
        {"a": [1, 2, np.nan, 8, 16], "b": [1, 2, np.nan, 8, 16]},
        DAYS[:5],
    )
    returns = PriceData(prices).returns(gaps="keep")
    assert list(returns.index.strftime("%Y-%m-%d")) == ["2021-01-02", "2021-01-05"]
    assert not returns.isna().any().any()
    sparse = _prices({"a": [1, 2, 4, 8]}, ["2021-01-01", "2021-01-02", "2021-01-04", "2021-01-05"])
    assert list(PriceData(sparse).returns(gaps="keep").index.strftime("%Y-%m-%d")) == [
        "2021-01-02",
        "2021-01-05",
    ]


def test_returns_gaps_must_be_drop_or_keep():
    prices = _prices({"a": [1.0, 2.0]}, DAYS[:2])
    with pytest.raises(ValueError, match=r"`gaps` must be 'drop' or 'keep', got gaps='fill'"):
        PriceData(prices).returns(gaps="fill")  # type: ignore[arg-type]


def test_returns_without_a_common_date_raise():
    prices = _prices({"a": [1, np.nan], "b": [np.nan, 1]}, DAYS[:2])
    pattern = r"no date from 2021-01-01 to 2021-01-02 on which every asset \(a, b\)"
    with pytest.raises(DataError, match=pattern):
        PriceData(prices).returns()


def test_data_sha256_depends_on_values_not_on_the_object():
    prices = _prices({"a": [1.0, 2.0, np.nan]}, DAYS[:3])
    same = PriceData(prices.copy()).data_sha256
    assert PriceData(prices).data_sha256 == same
    changed = prices.copy()
    changed.iloc[1, 0] = 2.0000000000000004  # the next float: still a different panel
    assert PriceData(changed).data_sha256 != same
    volumes = PriceData(prices, volumes=prices * 10)
    assert volumes.data_sha256 != same


def test_data_sha256_is_a_known_value():
    # Pinned so that a change of the serialisation (which would break recorded runs) is noticed.
    prices = _prices({"btc": [29331.69, np.nan], "eth": [728.91, 774.56]}, DAYS[:2])
    text = b"[prices]\ndate,btc,eth\n2021-01-01,29331.69,728.91\n2021-01-02,,774.56\n"
    assert PriceData(prices).data_sha256 == hashlib.sha256(text).hexdigest()


def test_summary_and_repr():
    prices = _prices({"a": [1.0, 2.0]}, DAYS[:2])
    data = PriceData(prices, sources={"a": "binance"})
    assert data.summary().startswith("PriceData: 2 days 2021-01-01 to 2021-01-02, 1 asset(s)")
    assert "binance: a" in repr(data)
    assert data.assets == ("a",)


def test_validation():
    with pytest.raises(TypeError, match="DatetimeIndex"):
        PriceData(pd.DataFrame({"a": [1.0]}))
    unsorted = _prices({"a": [1.0, 2.0]}, ["2021-01-02", "2021-01-01"])
    with pytest.raises(ValueError, match="sorted, unique"):
        PriceData(unsorted)
    prices = _prices({"a": [1.0, 2.0]}, DAYS[:2])
    with pytest.raises(ValueError, match="same dates and columns"):
        PriceData(prices, volumes=prices.iloc[:1])


def test_is_frozen():
    data = PriceData(_prices({"a": [1.0]}, DAYS[:1]))
    with pytest.raises(AttributeError):
        data.prices = None  # type: ignore[misc]


# --- the one-day return law and the volume rule -----------------------------------------------
def test_one_day_log_returns_series_leaves_nan_across_gaps_and_non_positive_prices():
    from optimizer.data import one_day_log_returns

    idx = pd.DatetimeIndex(["2021-01-01", "2021-01-02", "2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07"])
    p = pd.Series([1.0, 2.0, 4.0, 8.0, 0.0, 2.0], index=idx, name="a")
    r = one_day_log_returns(p)
    assert r.name == "a" and list(r.index) == list(idx[1:])
    np.testing.assert_array_equal(r.isna().to_numpy(), [False, True, False, True, True])
    assert r.iloc[0] == pytest.approx(np.log(2)) and r.iloc[2] == pytest.approx(np.log(2))


def test_one_day_log_returns_frame_matches_price_data_returns_keep():
    from optimizer.data import one_day_log_returns

    prices = _prices({"a": [1, 2, np.nan, 8, 16, 32], "b": [1, 1.1, 1.2, 1.3, 1.2, 1.1]}, DAYS)
    r = one_day_log_returns(prices)
    kept = PriceData(prices).returns(gaps="keep")
    pd.testing.assert_frame_equal(r.loc[kept.index], kept, check_names=False, check_freq=False)
    # the per-asset view: each asset on its own dates
    assert list(r["a"].dropna().index.strftime("%d")) == ["02", "05", "06"]


def test_median_daily_volume_rule():
    from optimizer.data import median_daily_volume

    idx = pd.date_range("2021-01-01", periods=40, freq="D")
    v = pd.Series(np.arange(40, dtype=float), index=idx)
    last = idx[-1]
    assert median_daily_volume(v, last) == pytest.approx(np.median(np.arange(10, 40)))
    assert median_daily_volume(v, last, days=None) == pytest.approx(19.5)
    assert median_daily_volume(v, last + pd.Timedelta(days=8)) is None  # stale
    assert median_daily_volume(v, last, min_reports=41) is None  # too short
    assert median_daily_volume(v * 0.0, last) is None  # no trades is no volume
    assert median_daily_volume(None, last) is None


def test_average_daily_volume_precedence():
    from optimizer.data import VOLUME_SOURCES, average_daily_volume

    idx = pd.date_range("2021-01-01", periods=40, freq="D")
    prices = pd.DataFrame({"a": 1.0, "b": 1.0, "c": 1.0}, index=pd.DatetimeIndex(idx, name="date"))
    vols = pd.DataFrame({"a": 5.0, "b": 7.0, "c": np.nan}, index=prices.index)
    adv, src = average_daily_volume(PriceData(prices, volumes=vols), {"a": 3.0, "b": None, "c": None}, 11.0)
    np.testing.assert_array_equal(adv, [3.0, 7.0, 11.0])
    assert src == VOLUME_SOURCES


def test_volume_ratio_is_full_median_over_recent_median():
    from optimizer.data import volume_ratio

    idx = pd.date_range("2023-01-01", periods=200, freq="D")
    v = pd.Series(np.r_[np.full(170, 4.0), np.full(30, 1.0)], index=idx)
    assert volume_ratio(v, idx[-1]) == pytest.approx(4.0)  # full median 4, last 30 days 1
    assert volume_ratio(v.iloc[:50], idx[49]) is None  # fewer than min_reports reports
    assert volume_ratio(v.iloc[:50], idx[49], min_reports=10) == pytest.approx(1.0)
    assert volume_ratio(v, idx[-1] + pd.Timedelta(days=30)) is None  # last report too old
    assert volume_ratio(None, idx[-1]) is None


def test_priced_by_renames_the_proxy_and_records_it():
    import pandas as pd

    from optimizer.data import PriceData

    idx = pd.date_range("2024-01-01", periods=3, freq="D")
    pdata = PriceData(prices=pd.DataFrame({"btc": [1.0, 2.0, 3.0], "eth": [1.0, 1.0, 1.0]}, index=idx),
                      volumes=None, sources={"btc": "binance", "eth": "binance"}, findings=(), file_hashes={})
    out = pdata.priced_by({"btc": "wbtc"})
    assert list(out.prices.columns) == ["wbtc", "eth"] and out.sources == {"wbtc": "binance", "eth": "binance"}
    (f,) = out.findings
    assert (f.kind, f.asset, f.fatal) == ("proxy", "wbtc", False) and "priced by the btc series" in f.detail
    assert pdata.priced_by({}) is pdata
