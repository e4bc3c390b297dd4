"""String-name factories."""

from __future__ import annotations

import pytest

from optimizer.estimators import (
    ConstantVolatility,
    EWMAVolatility,
    EWMCorrelation,
    GARCHVolatility,
    SampleCorrelation,
    ShrinkageCorrelation,
    make_correlation,
    make_volatility,
)


@pytest.mark.parametrize(
    ("name", "cls", "params"),
    [
        ("ewma", EWMAVolatility, {"lam": 0.97}),
        ("constant", ConstantVolatility, {"window": 250}),
        ("garch", GARCHVolatility, {"persistence_max": 0.99}),
        ("gjr", GARCHVolatility, {"dist": "normal"}),
    ],
)
def test_make_volatility(name, cls, params):
    est = make_volatility(name, **params)
    assert type(est) is cls
    for k, v in params.items():
        assert est.get_params()[k] == v
    if cls is GARCHVolatility:
        assert est.model == name


@pytest.mark.parametrize(
    ("name", "cls"),
    [("sample", SampleCorrelation), ("ewma", EWMCorrelation), ("shrinkage", ShrinkageCorrelation)],
)
def test_make_correlation(name, cls):
    assert type(make_correlation(name)) is cls


def test_make_correlation_passes_hyperparameters():
    assert make_correlation("ewma", lam=0.9).lam == 0.9


def test_unknown_names_list_the_valid_ones():
    msg = r"'egarch'; valid names are \['ewma', 'garch', 'gjr', 'constant'\]"
    with pytest.raises(ValueError, match=msg):
        make_volatility("egarch")
    msg = r"'pearson'; valid names are \['sample', 'ewma', 'shrinkage'\]"
    with pytest.raises(ValueError, match=msg):
        make_correlation("pearson")


def test_unknown_keyword_and_model_conflict():
    with pytest.raises(TypeError, match="unexpected keyword"):
        make_volatility("ewma", alpha=0.1)
    with pytest.raises(TypeError, match=r"`model` is set by the name 'gjr'"):
        make_volatility("gjr", model="garch")


def test_lam_is_the_decay_of_every_ewma_the_name_builds():
    """``lam`` (a config's ``ewma_lambda``): EWMA's own decay, GARCH's fallback's, none for constant."""
    assert make_volatility("ewma", lam=0.9).get_params()["lam"] == 0.9
    assert make_volatility("ewma", lam=0.9, missing="skip").get_params()["missing"] == "skip"
    assert isinstance(make_volatility("constant", lam=0.9), ConstantVolatility)
    gjr = make_volatility("gjr", lam=0.97)
    assert gjr.model == "gjr" and type(gjr.model) is str and gjr.fallback.get_params()["lam"] == 0.97
    assert make_volatility("garch").fallback is None  # GARCHVolatility's own default EWMA
    with pytest.raises(TypeError, match="not both"):
        make_volatility("garch", lam=0.9, fallback=EWMAVolatility())
    with pytest.raises(ValueError, match="per_asset_volatility"):
        make_volatility("auto")


def test_names_are_the_vocabulary_enums():
    from optimizer.typing import CorrelationName, VolatilityName

    assert make_volatility(VolatilityName.GJR).model == "gjr"
    assert type(make_correlation(CorrelationName.EWMA)) is EWMCorrelation
