from __future__ import annotations

import datetime as dt
import math
from enum import Enum

import numpy as np
import pandas as pd
import pytest

from optimizer.report._format import (
    canonicalize,
    confidence_label,
    fmt_bps,
    fmt_pct,
    fmt_prob,
    fmt_usd,
    humanize,
    md_cell,
    round_significant,
)


class Method(str, Enum):
    FHS = "fhs"


@pytest.mark.parametrize(
    ("delta", "text"),
    [(0.005, "+50 bps"), (-0.025, "-250 bps"), (0.0, "0 bps"), (1e-9, "0 bps"), (0.00125, "+12.5 bps"),
     (0.835 - 0.83, "+50 bps"), (None, "—"), (float("nan"), "—")],
)
def test_fmt_bps(delta, text):
    assert fmt_bps(delta) == text


def test_number_formats():
    assert fmt_pct(0.825) == "82.50%"
    assert fmt_usd(2_500_000) == "$2,500,000" and fmt_usd(12.5) == "$12.50" and fmt_usd(-1500) == "-$1,500"
    assert fmt_prob(0.0006) == "0.060%" and fmt_prob(0.05) == "5.00%" and fmt_prob(0) == "0%"
    assert fmt_prob(2e-6) == "0.0002%"
    assert humanize("capital_efficiency_usd") == "Capital efficiency (USD)"
    assert md_cell("a|b\nc") == "a\\|b c"
    assert confidence_label(0.99) == "99%" and confidence_label(0.025) == "97.5%"
    assert confidence_label(None) == ""


def test_canonicalize_types():
    obj = {
        1: np.float32(0.1), "arr": np.arange(3), "nan": float("nan"), "inf": -math.inf,
        "ts": pd.Timestamp("2024-01-02"), "d": dt.date(2024, 1, 3), "e": Method.FHS,
        "t": (np.int64(2), np.bool_(True)), "neg0": -0.0, "s": pd.Series({"a": 1.5}),
        "nat": pd.NaT, "dt64": np.datetime64("2024-01-04"),
    }
    out = canonicalize(obj)
    assert out == {
        "1": 0.1000000015, "arr": [0, 1, 2], "nan": None, "inf": None, "ts": "2024-01-02T00:00:00",
        "d": "2024-01-03", "e": "fhs", "t": [2, True], "neg0": 0.0, "s": {"a": 1.5},
        "nat": None, "dt64": "2024-01-04T00:00:00",
    }
    assert type(out["arr"][0]) is int and type(out["t"][1]) is bool


def test_round_significant_removes_noise():
    assert round_significant(0.1 + 0.2) == 0.3
    assert round_significant(123456.78901234) == 123456.789
    assert round_significant(float("inf")) is None
