"""historical_windows and realised_path on the real Binance closes (and a tiny synthetic frame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.exceptions import DataError
from optimizer.scenarios import historical_windows, realised_path

ASSETS = ["btc", "eth", "usdc", "crv"]


class TestHistoricalWindows:
    @pytest.mark.parametrize("horizon", [1, 10])
    def test_count_and_values_without_gaps(self, prices, horizon):
        px = prices[["btc", "eth", "crv"]]
        valid = px.dropna()
        assert len(valid) == len(px)  # no gaps in these three
        scen = historical_windows(px, horizon)
        assert scen.method == "historical"
        assert scen.n_scenarios == len(valid) - horizon
        assert scen.relatives.shape == (len(valid) - horizon, horizon, 3)
        assert scen.assets == ("btc", "eth", "crv")
        assert scen.as_of == valid.index[-1].date().isoformat()
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()
        k = 123
        expected = valid.iloc[k + 1 : k + 1 + horizon].to_numpy() / valid.iloc[k].to_numpy()
        np.testing.assert_allclose(scen.relatives[k], expected, rtol=1e-12)
        assert scen.info["t0_dates"][k] == valid.index[k].date().isoformat()
        assert len(scen.info["t0_dates"]) == scen.n_scenarios

    def test_windows_do_not_span_the_usdc_gap(self, prices):
        # Binance has no usdc close 2022-09-27 .. 2023-03-10: two runs of complete dates.
        horizon = 10
        px = prices[ASSETS]
        n_valid = len(px.dropna())
        scen = historical_windows(px, horizon)
        assert scen.n_scenarios == n_valid - 2 * horizon
        t0 = pd.DatetimeIndex(scen.info["t0_dates"])
        assert not ((t0 > "2022-09-16") & (t0 < "2023-03-11")).any()
        assert "2022-09-16" in scen.info["t0_dates"]  # last window ending 2022-09-26
        assert "2023-03-11" in scen.info["t0_dates"]
        assert scen.info["n_dates_skipped"] == 165
        # every window is a true 10-day move: compare with the file
        k = scen.info["t0_dates"].index("2023-03-11")
        np.testing.assert_allclose(
            scen.terminal[k], px.loc["2023-03-21"] / px.loc["2023-03-11"], rtol=1e-12
        )

    def test_last_window_ends_on_last_date(self, prices):
        px = prices[["btc"]].dropna()
        scen = historical_windows(px, 5)
        assert scen.terminal[-1, 0] == pytest.approx(px["btc"].iloc[-1] / px["btc"].iloc[-6])

    def test_as_of_cuts_later_data(self, prices):
        px = prices[ASSETS]
        scen = historical_windows(px, 3, as_of="2022-12-31")
        n_valid = len(px.loc[:"2022-12-31"].dropna())
        assert scen.as_of == "2022-09-26"  # usdc's last close before its gap
        assert scen.n_scenarios == n_valid - 3
        scen = historical_windows(px[["btc"]], 3, as_of="2022-12-31")
        assert scen.as_of == "2022-12-31"
        assert scen.info["t0_dates"][-1] == "2022-12-28"

    def test_rows_with_nan_are_skipped(self):
        # synthetic: asset b misses day 3; no window may touch it.
        idx = pd.date_range("2024-01-01", periods=7, freq="D")
        px = pd.DataFrame(
            {"a": [1.0, 2, 4, 8, 16, 32, 64], "b": [1.0, 1, np.nan, 1, 1, 2, 2]}, index=idx
        )
        scen = historical_windows(px, 2)
        # complete runs: days 1-2 (no 2-day window) and days 4-7 (two windows)
        assert scen.info["t0_dates"] == ("2024-01-04", "2024-01-05")
        np.testing.assert_allclose(scen.relatives[:, :, 0], [[2.0, 4.0], [2.0, 4.0]])
        np.testing.assert_allclose(scen.relatives[:, :, 1], [[1.0, 2.0], [2.0, 2.0]])
        assert scen.info["n_dates_skipped"] == 1

    def test_errors(self, prices):
        px = prices[ASSETS]
        with pytest.raises(ValueError, match=r"`horizon=0` must be >= 1"):
            historical_windows(px, 0)
        with pytest.raises(TypeError, match=r"`horizon` must be an int"):
            historical_windows(px, 2.5)
        with pytest.raises(ValueError, match=r"no run of more than `horizon=100000`"):
            historical_windows(px, 100_000)
        with pytest.raises(TypeError, match=r"DatetimeIndex"):
            historical_windows(px.reset_index(drop=True), 2)
        bad = px.dropna().copy()
        bad.iloc[5, 1] = -1.0
        day = bad.index[5].date()
        with pytest.raises(DataError, match=rf"price -1.0 for asset 'eth' on {day}"):
            historical_windows(bad, 2)


class TestRealisedPath:
    def test_crv_squeeze_2022_11_22_matches_file(self, prices):
        scen = realised_path(prices[["crv", "eth"]], "2022-11-22", "2022-11-22")
        assert scen.relatives.shape == (1, 1, 2)
        assert scen.as_of == "2022-11-21"
        crv = prices["crv"]
        expected = crv.loc["2022-11-22"] / crv.loc["2022-11-21"]
        assert scen.relatives[0, 0, 0] == pytest.approx(expected, rel=1e-12)
        assert scen.method == "historical"

    def test_multi_day_episode(self, prices):
        p = prices[["btc", "eth", "crv", "ftt"]]
        scen = realised_path(p, "2022-11-08", "2022-11-14")  # FTX collapse week
        assert scen.horizon == 7
        assert scen.info["dates"][0] == "2022-11-08" and scen.info["dates"][-1] == "2022-11-14"
        np.testing.assert_allclose(
            scen.relatives[0], p.loc["2022-11-08":"2022-11-14"] / p.loc["2022-11-07"], rtol=1e-12
        )

    def test_errors_name_the_date(self, prices):
        px = prices[ASSETS]
        first = px.index[0].date()
        with pytest.raises(ValueError, match=rf"day before `start` {first}"):
            realised_path(px, str(first), str(first))
        with pytest.raises(ValueError, match=r"`start` date 1999-01-01"):
            realised_path(px, "1999-01-01", "1999-01-05")
        with pytest.raises(ValueError, match=r"`end` date 2099-01-01"):
            realised_path(px, "2022-11-22", "2099-01-01")
        with pytest.raises(ValueError, match=r"before `start`"):
            realised_path(px, "2022-11-22", "2022-11-20")

    def test_missing_price_names_asset_and_date(self, prices):
        # arb was listed in 2023: a 2022 episode has no price for it
        with pytest.raises(DataError, match=r"no price for asset 'arb' on 2022-11-21"):
            realised_path(prices[["btc", "arb"]], "2022-11-22", "2022-11-23")
        # usdc has no Binance close in Nov 2022 (gap 2022-09-27 .. 2023-03-10)
        with pytest.raises(DataError, match=r"'usdc' on 2022-11-21"):
            realised_path(prices[ASSETS], "2022-11-22", "2022-11-22")
