"""`load_prices` and `resolve_data_dir`: real data from `data_dir`, synthetic bad files in tmp."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from optimizer.data import SOURCES, load_prices, read_wide_csv, resolve_data_dir
from optimizer.exceptions import DataError, DataQualityWarning

from .conftest import BINANCE, COINGECKO, COINMETRICS, quiet_load

# --------------------------------------------------------------------------- real data


@pytest.mark.parametrize(
    ("source", "file", "assets"),
    [
        ("binance", BINANCE, ["btc", "eth", "aave"]),
        ("coingecko", COINGECKO, ["btc", "eth", "steth"]),
        ("coinmetrics", COINMETRICS, ["btc", "eth", "link"]),
    ],
)
def test_real_files_load(data_dir, source, file, assets):
    data = quiet_load(data_dir, [a.upper() for a in assets], sources=source)
    prices = data.prices
    assert list(prices.columns) == assets  # lower-case, in the requested order
    assert prices.index.name == "date" and prices.index.tz is None
    assert prices.index.is_monotonic_increasing and prices.index.is_unique
    assert (prices.index[1:] - prices.index[:-1] == pd.Timedelta(days=1)).all()  # daily calendar
    assert prices.dtypes.eq("float64").all()
    assert ((prices > 0) | prices.isna()).all().all()
    assert data.sources == dict.fromkeys(assets, source)
    assert set(data.file_hashes) == {file} and len(data.file_hashes[file]) == 64
    assert data.volumes is None
    returns = data.returns()
    assert not returns.isna().any().any() and len(returns) > 500


def test_coingecko_dates_are_shifted_to_the_close(data_dir):
    binance = quiet_load(data_dir, ["btc"], sources="binance").prices["btc"]
    coingecko = quiet_load(data_dir, ["btc"], sources="coingecko").prices["btc"]
    raw, _ = read_wide_csv(data_dir / COINGECKO)
    # CoinGecko's snapshot dated 2022-06-14 00:00 UTC is the close of 2022-06-13.
    assert coingecko.loc["2022-06-13"] == raw.loc["2022-06-14", "btc"]
    assert abs(coingecko.loc["2022-06-13"] / binance.loc["2022-06-13"] - 1) < 0.02
    assert SOURCES["coingecko"].date_shift_days == -1
    assert SOURCES["binance"].date_shift_days == SOURCES["coinmetrics"].date_shift_days == 0


def test_mixed_sources(data_dir):
    data = quiet_load(data_dir, ["btc", "steth"], sources={"btc": "binance", "STETH": "coingecko"})
    assert data.sources == {"btc": "binance", "steth": "coingecko"}
    assert set(data.file_hashes) == {BINANCE, COINGECKO}
    # CoinGecko ends 2023-08-28, i.e. the close of 2023-08-27; Binance goes on to 2025.
    assert data.prices["steth"].last_valid_index() == pd.Timestamp("2023-08-27")
    assert data.returns().index[-1] == pd.Timestamp("2023-08-27")
    assert any(f.kind == "ends_early" and f.asset == "steth" for f in data.findings)


def test_binance_usdc_gap_is_flagged_with_its_dates(binance_usdc):
    gaps = [f for f in binance_usdc.findings if f.kind == "gap"]
    assert [(f.asset, f.start, f.end, f.file) for f in gaps] == [
        ("usdc", "2022-09-27", "2023-03-10", BINANCE)
    ]
    assert not gaps[0].fatal
    assert "165 day(s)" in gaps[0].detail


def test_returns_keep_the_other_assets_through_the_usdc_gap(binance_usdc):
    returns = binance_usdc.returns(gaps="keep")
    prices = binance_usdc.prices
    usdc_missing = pd.date_range("2022-09-27", "2023-03-11")  # gap days and the day after it
    # FTX, the CRV squeeze and the depeg day stay for btc and eth; usdc is NaN there.
    for day in ("2022-11-09", "2022-11-22", "2023-03-11"):
        assert np.isfinite(returns.loc[day, ["btc", "eth"]]).all()
        assert np.isnan(returns.loc[day, "usdc"])
    assert returns.index[returns["usdc"].isna()].equals(
        pd.DatetimeIndex(usdc_missing, name="date", freq=None)
    )
    assert not returns[["btc", "eth"]].isna().any().any()
    assert len(returns) == len(prices) - 1
    # Where both panels have a value it is the same value.
    dropped = binance_usdc.returns()
    pd.testing.assert_frame_equal(returns.loc[dropped.index], dropped)


def test_returns_never_span_the_gap(binance_usdc):
    returns = binance_usdc.returns()
    prices = binance_usdc.prices
    assert not returns.isna().any().any()
    assert list(returns.columns) == ["btc", "eth", "usdc"]
    # No return dated in the gap or on the first day after it (2023-03-11 would span 166 days).
    dropped = pd.date_range("2022-09-27", "2023-03-11")
    assert returns.index.intersection(dropped).empty
    assert {pd.Timestamp("2022-09-26"), pd.Timestamp("2023-03-12")} <= set(returns.index)
    # Every row is a true one-day return: both endpoints have prices one day apart.
    previous = returns.index - pd.Timedelta(days=1)
    assert prices.loc[previous].notna().all().all()
    assert prices.loc[returns.index].notna().all().all()
    expected = np.log(prices.loc[returns.index].to_numpy() / prices.loc[previous].to_numpy())
    np.testing.assert_allclose(returns.to_numpy(), expected)
    # The panel stays aligned: btc loses the same dates as usdc.
    assert len(returns) == len(prices) - 1 - len(dropped)


def test_usdc_depeg_is_flagged_in_binance(binance_usdc):
    depegs = [f for f in binance_usdc.findings if f.kind == "depeg"]
    assert [(f.asset, f.start, f.end) for f in depegs] == [("usdc", "2023-03-11", "2023-03-11")]
    assert "0.9592" in depegs[0].detail and "USDT" in depegs[0].detail


def test_usdc_depeg_is_flagged_in_coingecko(data_dir):
    pegged = ["usdc", "dai"]
    data = quiet_load(data_dir, pegged, sources="coingecko", start="2023-01-01", stablecoins=pegged)
    depegs = {(f.asset, f.start, f.end) for f in data.findings if f.kind == "depeg"}
    # 0.96558 is dated 2023-03-12 in the file, the close of 2023-03-11.
    assert ("usdc", "2023-03-11", "2023-03-11") in depegs
    assert ("dai", "2023-03-11", "2023-03-11") in depegs


def test_stablecoins_are_not_stale_but_others_are(data_dir):
    # usdc: 5 equal closes ending 2021-07-02 (tick size, binance README).
    window = dict(sources="binance", as_of="2021-12-31")
    flagged = quiet_load(data_dir, ["usdc"], **window)
    stale = [(f.asset, f.start, f.end) for f in flagged.findings if f.kind == "stale"]
    assert stale == [("usdc", "2021-06-28", "2021-07-02")]
    exempt = quiet_load(data_dir, ["usdc"], stablecoins=["usdc"], **window)
    assert not [f for f in exempt.findings if f.kind == "stale"]


def test_known_stale_run_and_spike_in_coinmetrics(data_dir):
    data = quiet_load(data_dir, ["btc", "ltc"], sources="coinmetrics", as_of="2014-12-31")
    found = {(f.kind, f.asset, f.start, f.end) for f in data.findings}
    assert ("stale", "btc", "2011-06-19", "2011-06-25") in found  # 7 equal values (README)
    assert ("outlier", "ltc", "2013-04-12", "2013-04-12") in found  # 1.2584 between 3.11 and 2.81


def test_known_spike_in_coingecko_is_dated_at_the_close(data_dir):
    data = quiet_load(data_dir, ["wbtc"], sources="coingecko", as_of="2020-12-31")
    spikes = [(f.asset, f.start) for f in data.findings if f.kind == "outlier"]
    assert ("wbtc", "2019-04-01") in spikes  # file date 2019-04-02 (wbtc/btc 0.757)
    assert "dates aligned to the close" in data.findings[0].detail


def test_one_warning_per_kind(data_dir):
    with pytest.warns(DataQualityWarning) as record:
        load_prices(data_dir, ["btc", "usdc"], sources="binance", stablecoins=["usdc"])
    messages = [str(w.message) for w in record if w.category is DataQualityWarning]
    assert len(messages) == 2
    assert any(m.startswith(f"1 'gap' finding(s) in {BINANCE} for usdc") for m in messages)
    assert any(m.startswith("1 'depeg' finding(s)") for m in messages)


def test_as_of_and_start_are_inclusive(data_dir):
    data = quiet_load(data_dir, ["btc", "eth"], start="2022-06-01", as_of="2022-06-13")
    assert data.prices.index[0] == pd.Timestamp("2022-06-01")
    assert data.prices.index[-1] == pd.Timestamp("2022-06-13")
    assert (data.start, data.as_of) == ("2022-06-01", "2022-06-13")
    assert data.returns().index[-1] == pd.Timestamp("2022-06-13")
    assert len(data.returns()) == 12


def test_min_history_days(data_dir):
    data = quiet_load(data_dir, ["btc", "arb"], as_of="2023-04-30", min_history_days=30)
    assert data.prices["arb"].count() == 39  # first price 2023-03-23
    pattern = r"binance_prices_daily\.csv, asset 'arb'.*39 price\(s\).*at least 60"
    with pytest.raises(DataError, match=pattern):
        load_prices(data_dir, ["btc", "arb"], as_of="2023-04-30", min_history_days=60)


def test_asset_without_price_in_window(data_dir):
    with pytest.raises(DataError, match=r"asset 'arb', 2021-01-01 to 2022-12-31.*0 price\(s\)"):
        load_prices(data_dir, ["btc", "arb"], sources="binance", as_of="2022-12-31")


def test_assets_that_never_overlap(data_dir):
    # steth (CoinGecko) starts 2020-12-21 once aligned; sai (Coin Metrics) ends 2019-11-30.
    with pytest.raises(DataError, match=r"never all have a price.*'steth'.*'sai'"):
        load_prices(
            data_dir, ["steth", "sai"], sources={"steth": "coingecko", "sai": "coinmetrics"}
        )


def test_volumes_are_aligned_like_prices(data_dir):
    data = quiet_load(
        data_dir, ["btc", "eth"], sources="coingecko", start="2022-01-01", with_volumes=True
    )
    raw, _ = read_wide_csv(data_dir / "coingecko_volume_daily.csv")
    assert data.volumes is not None
    assert data.volumes.index.equals(data.prices.index)
    assert list(data.volumes.columns) == ["btc", "eth"]
    assert data.volumes.loc["2022-06-13", "btc"] == raw.loc["2022-06-14", "btc"]
    assert "coingecko_volume_daily.csv" in data.file_hashes


def test_volumes_for_binance_prices_end_with_the_coingecko_file(data_dir):
    data = quiet_load(data_dir, ["btc", "aave"], start="2023-01-01", with_volumes=True)
    assert data.volumes is not None
    assert data.volumes["aave"].isna().all()  # not in the CoinGecko set
    no_volume = {(f.asset, f.start) for f in data.findings if f.kind == "no_volume"}
    assert ("btc", "2023-08-28") in no_volume and ("aave", "2023-01-01") in no_volume


def test_data_sha256_is_stable_and_tracks_the_window(data_dir, tmp_path):
    kwargs = dict(sources="binance", start="2022-01-01", as_of="2022-12-31")
    first = quiet_load(data_dir, ["btc", "eth"], **kwargs)
    again = quiet_load(data_dir, ["btc", "eth"], **kwargs)
    assert first.data_sha256 == again.data_sha256
    assert len(first.data_sha256) == 64

    shutil.copy(data_dir / BINANCE, tmp_path / BINANCE)
    original = (tmp_path / BINANCE).read_text()
    changed_in_window = original.replace("\n2022-06-13,", "\n2022-06-13,1", 1)
    assert changed_in_window != original
    (tmp_path / BINANCE).write_text(changed_in_window)
    edited = quiet_load(tmp_path, ["btc", "eth"], **kwargs)
    assert edited.data_sha256 != first.data_sha256
    assert edited.file_hashes[BINANCE] != first.file_hashes[BINANCE]

    # A change outside the window changes the file hash but not the data hash.
    changed_outside = original.replace("\n2021-06-13,", "\n2021-06-13,1", 1)
    (tmp_path / BINANCE).write_text(changed_outside)
    outside = quiet_load(tmp_path, ["btc", "eth"], **kwargs)
    assert outside.data_sha256 == first.data_sha256
    assert outside.file_hashes[BINANCE] != first.file_hashes[BINANCE]


# --------------------------------------------------------------------------- synthetic data

PRICES = (
    "date,btc,eth\n2021-01-01,100,10\n2021-01-02,101,11\n2021-01-03,{cell},12\n2021-01-04,103,13\n"
)


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        ("0", "not > 0"),
        ("-5", "not > 0"),
        ("NaN", "literal NaN"),
        ("inf", "not finite"),
        ("x1", "not a number"),
    ],
)
def test_fatal_value_names_file_asset_and_date(tmp_path, write_file, cell, what):
    write_file(BINANCE, PRICES.format(cell=cell))
    with pytest.raises(DataError) as info:
        load_prices(tmp_path, ["btc", "eth"])
    message = str(info.value)
    for part in (BINANCE, "asset 'btc'", "2021-01-03", what):
        assert part in message


def test_fatal_value_in_an_unused_column_is_ignored(tmp_path, write_file):
    write_file(BINANCE, PRICES.format(cell="0"))
    data = quiet_load(tmp_path, ["eth"])
    assert data.prices["eth"].tolist() == [10.0, 11.0, 12.0, 13.0]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("date,btc\n2021-01-01,1\n2021-01-02,2\n2021-01-02,3\n", r"2021-01-02: \[duplicate_date\]"),
        ("date,btc\n2021-01-01,1\n2021-01-03,2\n2021-01-02,3\n", r"2021-01-02: \[unsorted_dates\]"),
        ("date,btc\n2021-01-01,1\n2021-02-30,2\n", r"\[unparsable_date\] line 3: '2021-02-30'"),
        ("", r"\[empty_file\] the file has no header and no rows"),
        ("date,btc\n", r"\[empty_file\] the file has a header but no data rows"),
    ],
)
def test_fatal_file_problems_name_file_asset_and_date(tmp_path, write_file, text, pattern):
    write_file(BINANCE, text)
    with pytest.raises(DataError, match=pattern) as info:
        load_prices(tmp_path, ["btc"])
    assert f"cannot load 'btc' from {BINANCE}" in str(info.value)


def test_all_fatal_problems_are_listed_together(tmp_path, write_file):
    write_file(BINANCE, "date,btc,eth\n2021-01-01,0,10\n2021-01-02,1,-1\n")
    write_file(COINGECKO, "date,sol\n2021-01-01,1\n")
    with pytest.raises(DataError) as info:
        load_prices(
            tmp_path,
            ["btc", "eth", "steth"],
            sources={"btc": "binance", "eth": "binance", "steth": "coingecko"},
        )
    message = str(info.value)
    assert "asset 'btc', 2021-01-01" in message and "asset 'eth', 2021-01-02" in message
    assert f"asset 'steth' not in {COINGECKO}; available: sol" in message


def test_asset_not_in_file(tmp_path, write_file):
    write_file(BINANCE, PRICES.format(cell="102"))
    with pytest.raises(DataError, match=rf"asset 'xyz' not in {BINANCE}; available: btc, eth"):
        load_prices(tmp_path, ["btc", "xyz"])


def test_as_of_before_the_data(tmp_path, write_file):
    write_file(BINANCE, PRICES.format(cell="102"))
    pattern = rf"as_of 2020-12-31 is before the data start.*2021-01-01.*'btc'.*{BINANCE}"
    with pytest.raises(DataError, match=pattern):
        load_prices(tmp_path, ["btc", "eth"], as_of="2020-12-31")


def test_one_asset_file_loads(tmp_path, write_file):
    write_file(COINMETRICS, "date,btc\n2020-01-01,7200.5\n2020-01-02,6985.1\n2020-01-03,7344.9\n")
    data = load_prices(tmp_path, ["btc"], sources="coinmetrics")
    assert data.prices.shape == (3, 1)
    assert data.returns()["btc"].iloc[0] == pytest.approx(np.log(6985.1 / 7200.5))


def test_missing_calendar_rows_are_gaps(tmp_path, write_file):
    write_file(
        BINANCE, "date,btc,eth\n2021-01-01,1,1\n2021-01-02,2,2\n2021-01-05,3,3\n2021-01-06,4,4\n"
    )
    with pytest.warns(DataQualityWarning, match="gap"):
        data = load_prices(tmp_path, ["btc", "eth"])
    assert len(data.prices) == 6  # reindexed onto every calendar day, never filled
    gaps = [(f.asset, f.start, f.end) for f in data.findings if f.kind == "gap"]
    assert gaps == [("btc", "2021-01-03", "2021-01-04"), ("eth", "2021-01-03", "2021-01-04")]
    assert list(data.returns().index.strftime("%Y-%m-%d")) == ["2021-01-02", "2021-01-06"]


def test_start_inside_leading_missing_rows(tmp_path, write_file):
    write_file(BINANCE, "date,btc,eth\n2021-01-01,,\n2021-01-02,,\n2021-01-03,1,\n2021-01-04,2,5\n")
    data = quiet_load(tmp_path, ["btc", "eth"], start="2021-01-01")
    assert data.start == "2021-01-03"  # rows without any price are not kept
    assert data.returns().empty  # the common window is the single day 2021-01-04


def test_missing_directory_and_file(tmp_path):
    how = r"--data-dir.*RISKOPT_DATA_DIR.*riskopt data fetch"
    with pytest.raises(DataError, match=r"does not exist.*" + how):
        load_prices(tmp_path / "nowhere", ["btc"])
    with pytest.raises(DataError, match=rf"{BINANCE} not found in .*'btc'.*" + how):
        load_prices(tmp_path, ["btc"])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(sources="kraken"), ValueError, r"unknown source 'kraken' for asset 'btc'"),
        (dict(sources={"eth": "binance"}), ValueError, r"no source for asset\(s\) btc"),
        (dict(start="2021/01/01"), ValueError, r"`start` must be an ISO date"),
        (dict(as_of="yesterday"), ValueError, r"`as_of` must be an ISO date"),
        (dict(start="2021-02-01", as_of="2021-01-01"), ValueError, r"must not be after `as_of`"),
        (dict(stale_run_days=1), ValueError, r"`stale_run_days` must be an integer >= 2"),
        (dict(outlier_sigma=0), ValueError, r"`outlier_sigma` must be a positive number"),
        (dict(depeg_tolerance=-1), ValueError, r"`depeg_tolerance` must be a positive number"),
        (dict(min_history_days=-1), ValueError, r"`min_history_days` must be an integer >= 0"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        load_prices(tmp_path, ["btc"], **kwargs)


def test_bad_asset_lists(tmp_path):
    with pytest.raises(TypeError, match="not the string"):
        load_prices(tmp_path, "btc")
    with pytest.raises(ValueError, match="at least one asset"):
        load_prices(tmp_path, [])
    with pytest.raises(ValueError, match="btc more than once"):
        load_prices(tmp_path, ["btc", "BTC"])


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("RISKOPT_DATA_DIR", raising=False)
    with pytest.raises(DataError, match=r"--data-dir.*RISKOPT_DATA_DIR.*riskopt data fetch"):
        resolve_data_dir(None)
    assert resolve_data_dir(tmp_path) == tmp_path
    assert resolve_data_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("RISKOPT_DATA_DIR", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    assert resolve_data_dir("") == tmp_path  # an empty option counts as not given
    with pytest.raises(DataError, match=r"nowhere \(given explicitly\) does not exist"):
        resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv("RISKOPT_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"gone \(from RISKOPT_DATA_DIR\) does not exist"):
        resolve_data_dir(None)


def test_as_of_after_the_data_is_flagged(data_dir):
    data = quiet_load(data_dir, ["btc"], sources="binance", start="2025-06-01", as_of="2025-12-31")
    assert data.as_of == "2025-06-12"  # the panel ends with the data, never padded
    flags = [(f.kind, f.asset, f.start, f.end) for f in data.findings if f.kind != "quote"]
    assert flags == [("ends_early", "btc", "2025-06-13", "2025-12-31")]
    assert "before as_of" in data.findings[-1].detail


def test_volumes_are_none_without_the_volume_file(tmp_path, write_file):
    write_file(BINANCE, "date,btc\n2021-01-01,1\n2021-01-02,2\n")
    data = quiet_load(tmp_path, ["btc"], with_volumes=True)
    assert data.volumes is None
    assert [(f.kind, f.asset, f.file) for f in data.findings if f.kind != "quote"] == [
        ("no_volume", None, "coingecko_volume_daily.csv")
    ]
