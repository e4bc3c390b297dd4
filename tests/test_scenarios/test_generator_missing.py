"""ScenarioGenerator on returns with an asset's missing days (NaN cells).

Synthetic tests use the i.i.d. Student-t set of conftest with a 200-day gap cut into asset "c"
(its cells set to NaN, as ``PriceData.returns(gaps="keep")`` leaves them). The real-data test
loads Binance btc, eth, usdc and crv over four years to 2025-06-12: usdc has no trade from
2022-09-26 to 2023-03-11, which covers FTX and the CRV squeeze.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from optimizer.data import load_prices
from optimizer.estimators import (
    EWMAVolatility,
    GARCHVolatility,
    SampleCorrelation,
    stress_correlation,
)
from optimizer.exceptions import DataQualityWarning
from optimizer.scenarios import ScenarioGenerator
from optimizer.scenarios._generator import _fhs_drift

GAP = slice(1000, 1200)
N_GAP = 200


@pytest.fixture(scope="module")
def gappy(synthetic_returns: pd.DataFrame) -> pd.DataFrame:
    """Synthetic: the conftest t returns with asset "c" missing on days 1000..1199."""
    out = synthetic_returns.copy()
    out.iloc[GAP, 2] = np.nan
    return out


@pytest.fixture(scope="module")
def gen(gappy: pd.DataFrame) -> ScenarioGenerator:
    return ScenarioGenerator(
        volatility=EWMAVolatility(missing="skip"), correlation=SampleCorrelation()
    ).fit(gappy, rng=np.random.default_rng(9))


def _recovered_innovations(gen: ScenarioGenerator, relatives: np.ndarray) -> np.ndarray:
    """Invert ``log rel = scale * z + c`` for a one-day horizon (vol_multiplier 1)."""
    scale = gen.volatility_.forecast_path(1)
    drift = _fhs_drift(gen.innovations_, scale)
    return (np.log(relatives[:, 0, :]) - drift[0]) / scale[0]


class TestFit:
    def test_residuals_keep_every_day_with_the_gap_imputed(self, gen, gappy):
        assert gen.residuals_.shape == gappy.shape
        np.testing.assert_array_equal(np.isnan(gen.residuals_), gappy.isna().to_numpy())
        assert gen.n_imputed_cells_ == N_GAP
        np.testing.assert_array_equal(gen.imputed_cells_, gappy.isna().to_numpy())
        assert gen.imputed_by_asset_ == {"c": N_GAP}
        assert np.isfinite(gen.innovations_).all()
        observed = ~gen.imputed_cells_
        np.testing.assert_array_equal(gen.innovations_[observed], gen.residuals_[observed])

    def test_correlations_are_pairwise_and_bootstrap_uses_complete_rows(self, gen, gappy):
        complete = gappy.dropna()
        resid = gen.volatility_.residuals_
        assert gen.correlation_estimator_.n_common_[0, 1] == len(gappy)
        assert gen.correlation_estimator_.n_common_[0, 2] == len(complete)
        expected = SampleCorrelation().fit(resid).correlation_
        np.testing.assert_array_equal(gen.correlation_, expected)
        np.testing.assert_array_equal(gen.residual_correlation_, expected)
        # a and b: all their days, c's gap included
        full_ab = np.corrcoef(resid[["a", "b"]].to_numpy(), rowvar=False)[0, 1]
        assert gen.residual_correlation_[0, 1] == pytest.approx(full_ab, abs=1e-12)
        np.testing.assert_array_equal(gen.returns_, complete.to_numpy())

    def test_volatility_estimator_must_skip(self, gappy):
        with pytest.raises(ValueError, match=r"200 missing value\(s\), the first for asset 'c'"):
            ScenarioGenerator(volatility=EWMAVolatility()).fit(gappy)

    def test_imputation_needs_a_generator(self, gappy):
        with pytest.raises(ValueError, match=r"pass `rng=` a numpy.random.Generator .* got NoneType"):
            ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(gappy)

    def test_same_imputation_stream_same_pool(self, gappy):
        def pool(seed):
            return ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(
                gappy, rng=np.random.default_rng(seed)).innovations_

        a, b, c = pool(3), pool(3), pool(4)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a[GAP, 2], c[GAP, 2])
        np.testing.assert_array_equal(np.delete(a, 2, axis=1), np.delete(c, 2, axis=1))

    def test_complete_data_imputes_nothing(self, synthetic_returns):
        gen = ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(synthetic_returns)
        assert gen.n_imputed_cells_ == 0 and gen.imputed_by_asset_ == {}
        scen = gen.simulate(2, 100, rng=np.random.default_rng(0))
        assert scen.info["imputed_residual_cells"] == 0 and scen.info["imputation"] is None


# Synthetic truth for the imputation (known answer): i.i.d. Student-t (nu=5), strong correlation;
# "y" is listed on day 1,200 of 3,000 (NaN before), as a young token beside two majors.
IMP_CORR = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])
YOUNG = slice(0, 1200)


@pytest.fixture(scope="module")
def young_panel() -> tuple[pd.DataFrame, pd.DataFrame]:
    g = np.random.default_rng(20250101)
    n = 3000
    z = g.standard_normal((n, 3)) @ np.linalg.cholesky(IMP_CORR).T
    t = z * np.sqrt(3.0 / g.chisquare(5.0, size=(n, 1)))
    idx = pd.date_range("2016-01-01", periods=n, freq="D", name="date")
    full = pd.DataFrame(t * np.array([0.03, 0.04, 0.06]), index=idx, columns=["eth", "btc", "y"])
    young = full.copy()
    young.iloc[YOUNG, 2] = np.nan
    return full, young


class TestConditionalImputation:
    """Synthetic data with a known correlation: the imputed pre-listing residuals keep it."""

    def test_imputed_residuals_keep_the_known_correlation(self, young_panel):
        _, young = young_panel
        gen = ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(
            young, rng=np.random.default_rng(1))
        pre = gen.innovations_[YOUNG]  # y's 1,200 imputed days
        assert gen.imputed_cells_[YOUNG, 2].all() and gen.imputed_by_asset_ == {"y": 1200}
        c = np.corrcoef(pre, rowvar=False)
        # sampling error of a correlation near 0.7 on 1,200 days is about 0.015; 0.05 is 3 sd
        assert c[2, 0] == pytest.approx(IMP_CORR[2, 0], abs=0.05)
        assert c[2, 1] == pytest.approx(IMP_CORR[2, 1], abs=0.05)
        # the marginal keeps its scale: the imputed days' spread is the listed days'
        own = gen.innovations_[1200:, 2]
        assert pre[:, 2].std() == pytest.approx(own.std(), rel=0.1)
        # R^2 of y on eth and btc under IMP_CORR
        r2 = IMP_CORR[2, :2] @ np.linalg.solve(IMP_CORR[:2, :2], IMP_CORR[:2, 2])
        assert gen.imputed_r_squared_["y"] == pytest.approx(r2, abs=0.05)

    def test_a_joint_crash_day_crashes_the_young_asset(self, young_panel):
        _, young = young_panel
        gen = ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(
            young, rng=np.random.default_rng(1))
        pre = gen.innovations_[YOUNG]
        u = pre / gen.innovations_[1200:].std(axis=0)
        crash = (u[:, 0] < -2) & (u[:, 1] < -2)  # both majors below -2 sd
        assert crash.sum() >= 5
        # E[u_y | both at -2 sd or lower] is below -1.7 sd under IMP_CORR; an independent draw
        # (the rule this replaces) would be below -1 sd with probability 0.16 only
        assert np.all(u[crash, 2] < -1.0) and np.median(u[crash, 2]) < -1.5

    def test_fhs_draws_the_imputed_cells_with_their_day(self, young_panel):
        _, young = young_panel
        gen = ScenarioGenerator(volatility=EWMAVolatility(missing="skip")).fit(
            young, rng=np.random.default_rng(1))
        n = 20_000
        scen = gen.simulate(1, n, rng=np.random.default_rng(5))
        z = _recovered_innovations(gen, scen.relatives)
        tau = np.random.default_rng(5).integers(0, gen.innovations_.shape[0], size=(n, 1))[:, 0]
        np.testing.assert_allclose(z, gen.innovations_[tau], rtol=0, atol=1e-9)
        pre = tau < 1200
        assert np.corrcoef(z[pre, 0], z[pre, 2])[0, 1] > 0.6  # joint on pre-listing days too
        assert scen.info["imputation"]["cells_by_asset"] == {"y": 1200}


class TestFhs:
    def test_same_seed_same_scenarios(self, gen):
        a = gen.simulate(5, 2_000, rng=np.random.default_rng(11))
        b = gen.simulate(5, 2_000, rng=np.random.default_rng(11))
        c = gen.simulate(5, 2_000, rng=np.random.default_rng(12))
        np.testing.assert_array_equal(a.relatives, b.relatives)
        assert not np.array_equal(a.relatives, c.relatives)

    def test_drift_is_exact_over_the_pool(self, gen):
        scale = gen.volatility_.forecast_path(3) * 2.0
        drift = _fhs_drift(gen.innovations_, scale)
        for i in range(3):
            col = gen.innovations_[:, i]
            np.testing.assert_allclose(
                drift[:, i], -np.log(np.mean(np.exp(scale[:, i, None] * col[None, :]), axis=1))
            )

    def test_mean_relative_is_one(self, gen):
        scen = gen.simulate(2, 200_000, rng=np.random.default_rng(3))
        terminal = scen.terminal
        se = terminal.std(axis=0) / np.sqrt(terminal.shape[0])
        assert np.all(np.abs(terminal.mean(axis=0) - 1.0) < 4 * se)

    def test_stressed_rows_are_the_imputed_pool_recoloured(self, gappy):
        def fit(stress):
            return ScenarioGenerator(
                volatility=EWMAVolatility(missing="skip"), correlation=SampleCorrelation(),
                corr_stress=stress,
            ).fit(gappy, rng=np.random.default_rng(9))

        pool = fit(0.0).innovations_
        gen = fit(0.5)
        assert np.isfinite(gen.innovations_).all()
        target = stress_correlation(np.corrcoef(pool, rowvar=False), 0.5)
        np.testing.assert_allclose(np.corrcoef(gen.innovations_, rowvar=False), target, atol=1e-10)
        scen = gen.simulate(3, 5_000, rng=np.random.default_rng(0))
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()


@pytest.fixture(scope="module")
def sparse(synthetic_returns) -> ScenarioGenerator:
    """Synthetic: a on days 0..219 and c on days 200..399 only, so 20 days are complete."""
    out = synthetic_returns.iloc[:400].copy()
    out.iloc[220:, 0] = np.nan
    out.iloc[:200, 2] = np.nan
    return ScenarioGenerator(
        volatility=EWMAVolatility(missing="skip"), correlation=SampleCorrelation()
    ).fit(out, rng=np.random.default_rng(0))


class TestTooFewCompleteDays:
    """Fewer than 30 complete days: no regression, fhs draws the asset's own residuals per draw."""

    def test_cells_stay_missing_and_are_drawn_from_own_residuals(self, sparse):
        assert sparse.n_imputed_cells_ == 380 and sparse.imputed_by_asset_ == {}
        assert np.isnan(sparse.innovations_[:200, 2]).all()
        n = 5_000
        scen = sparse.simulate(1, n, rng=np.random.default_rng(5))
        z = _recovered_innovations(sparse, scen.relatives)
        own = np.sort(sparse.innovations_[200:, 2])
        pos = np.clip(np.searchsorted(own, z[:, 2]), 1, own.size - 1)
        nearest = np.minimum(np.abs(own[pos] - z[:, 2]), np.abs(own[pos - 1] - z[:, 2]))
        assert nearest.max() < 1e-9
        assert scen.info["imputed_residual_cells"] == 380 and scen.info["imputation"] is None


class TestOtherMethods:
    def test_bootstrap_draws_complete_rows_only(self, gen, gappy):
        scen = gen.simulate(1, 5_000, rng=np.random.default_rng(2), method="bootstrap")
        drawn = np.log(scen.relatives[:, 0, :])
        complete = gappy.dropna().to_numpy()
        tau = np.random.default_rng(2).integers(0, complete.shape[0], size=(5_000, 1))[:, 0]
        np.testing.assert_allclose(drawn, complete[tau], rtol=0, atol=1e-14)
        assert scen.info["imputed_residual_cells"] == 0

    def test_parametric_is_finite(self, gen):
        scen = gen.simulate(4, 5_000, rng=np.random.default_rng(2), method="parametric")
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all()
        assert scen.info["imputed_residual_cells"] == 0


# ---------------------------------------------------------------------------------------- real
@pytest.fixture(scope="module")
def binance_gappy(data_dir) -> pd.DataFrame:
    """Real: Binance btc, eth, usdc, crv log returns, four years to 2025-06-12, gaps kept."""
    as_of = "2025-06-12"
    start = (pd.Timestamp(as_of) - pd.Timedelta(days=1460)).date().isoformat()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        prices = load_prices(
            data_dir, ["btc", "eth", "usdc", "crv"], sources="binance", start=start,
            as_of=as_of, stablecoins=["usdc"],
        )
    return prices.returns(gaps="keep")


def test_real_panel_keeps_ftx_and_the_crv_squeeze(binance_gappy):
    for day in ("2022-11-09", "2022-11-22"):
        row = binance_gappy.loc[day]
        assert np.isfinite(row[["btc", "eth", "crv"]]).all()
        assert np.isnan(row["usdc"])
    assert binance_gappy.loc["2022-11-22", "crv"] > 0.2  # the squeeze itself (+26 %)
    assert int(binance_gappy["usdc"].isna().sum()) == 166  # 2022-09-27 .. 2023-03-11


# btc/eth GARCH fits may fall back to EWMA with a ConvergenceWarning (documented, not tested here).
@pytest.mark.filterwarnings("ignore::optimizer.exceptions.ConvergenceWarning")
def test_real_scenarios_are_finite_and_positive(binance_gappy):
    gen = ScenarioGenerator(volatility=GARCHVolatility(missing="skip")).fit(
        binance_gappy, rng=np.random.default_rng(0))
    assert gen.n_imputed_cells_ == 166 and gen.imputed_by_asset_ == {"usdc": 166}
    resid = pd.DataFrame(gen.residuals_, columns=gen.asset_names_)
    assert resid.isna().sum().to_dict() == {"btc": 0, "eth": 0, "usdc": 166, "crv": 0}
    for method in ("fhs", "parametric", "bootstrap"):
        scen = gen.simulate(5, 20_000, rng=np.random.default_rng(1), method=method)
        assert np.isfinite(scen.relatives).all() and (scen.relatives > 0).all(), method


@pytest.fixture(scope="module")
def binance_ldo(data_dir) -> pd.DataFrame:
    """Real: Binance btc, eth, link, uni, aave and ldo from 2021-01-01 to 2025-06-12, each asset's
    whole history (Binance lists LDOUSDT on 2022-05-09, so ldo has no return before 2022-05-10)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        prices = load_prices(data_dir, ["btc", "eth", "link", "uni", "aave", "ldo"],
                             sources="binance", start="2021-01-01", as_of="2025-06-12")
    return prices.returns(gaps="keep", history="each")


@pytest.mark.filterwarnings("ignore::optimizer.exceptions.ConvergenceWarning")
def test_real_young_ldo_crashes_with_the_others_before_its_listing(binance_ldo):
    gen = ScenarioGenerator(volatility=GARCHVolatility(missing="skip")).fit(
        binance_ldo, rng=np.random.default_rng(0))
    assert gen.imputed_by_asset_ == {"ldo": 493}  # 2021-01-02 .. 2022-05-09
    inn = pd.DataFrame(gen.innovations_, index=binance_ldo.index, columns=gen.asset_names_)
    own = pd.Series(gen.residuals_[:, -1], index=binance_ldo.index).dropna()
    q01, q05 = own.quantile([0.01, 0.05])
    pre = inn.loc[:"2022-05-09"]
    # 2021-05-19 (eth -5.2 sd, uni -6.7 sd): ldo's imputed residual is below its own 1-in-100
    assert pre.loc["2021-05-19", "ldo"] < q01
    # every pre-listing day on which btc and eth both fell more than 2.5 sd is a joint crash
    crash = pre[(pre["eth"] < -2.5) & (pre["btc"] < -2.5)]
    assert len(crash) >= 5
    assert (crash["ldo"] < 0).all() and crash["ldo"].median() < q05
    # the imputed days keep ldo's correlation with eth measured after its listing
    listed = pd.DataFrame(gen.residuals_, index=binance_ldo.index, columns=gen.asset_names_).dropna()
    assert pre["ldo"].corr(pre["eth"]) == pytest.approx(listed["ldo"].corr(listed["eth"]), abs=0.1)
    assert gen.imputed_r_squared_["ldo"] > 0.4
