from __future__ import annotations

import re

import matplotlib as mpl
import numpy as np
import pytest

from optimizer.report import plots


@pytest.fixture(autouse=True)
def _style():
    with plots.report_style():
        yield


def test_report_figures_are_deterministic_png(report, html):
    """Drawing again gives the same bytes as the figures embedded in the session's report.html."""
    figs = plots.report_figures(report)
    assert set(figs) == {"fig-params", "fig-bad-debt", "fig-fund", "fig-prices", "fig-correlation"}
    for key, png in figs.items():
        assert png is not None and png[:4] == b"\x89PNG", key
        m = re.search(rf'<figure id="{key}">\s*<img src="([^"]+)"', html)
        assert m, key
        assert m.group(1) == plots.png_data_uri(png), f"{key} differs between two renders"


def test_style_ignores_user_rc(report):
    baseline = plots.figure_png(plots.plot_params(report.assets))
    with mpl.rc_context({"font.size": 30, "axes.facecolor": "black"}):
        with plots.report_style():
            other = plots.figure_png(plots.plot_params(report.assets))
    assert other == baseline
    assert mpl.rcParams["font.size"] != 30  # context restored by the fixtures


def test_bad_debt_edge_cases():
    assert plots.plot_bad_debt(np.zeros(100)) is None
    assert plots.plot_bad_debt(np.zeros(100), np.zeros(100)) is None
    # only the current parameters produce bad debt: still a figure
    assert plots.plot_bad_debt(np.zeros(100), np.r_[np.zeros(99), 5.0]) is not None
    # a single positive value, VaR = 0
    fig = plots.plot_bad_debt(np.r_[np.zeros(99), 1000.0], var_usd=0.0, cvar_usd=100.0, conf_label="99%")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "VaR 99% = $0" in labels and "CVaR 99% = $100" in labels


def test_other_edge_cases(report):
    assert plots.plot_fund([]) is None
    assert plots.plot_fund([[0, 0.0], [1e6, 0.0]], fund_usd=5e5) is not None  # no log axis possible
    assert plots.plot_correlation(np.ones((2, 2)), ["a"]) is None
    assert plots.plot_prices(report.prices.iloc[:0]) is None
    assert plots.plot_prices(report.prices, None) is not None
    assert plots.plot_params([]) is None
    assert plots.plot_spec({"kind": "bar", "x": ["a", "b"], "series": {"s": [1, None]}}) is not None
    assert plots.plot_spec({"x": []}) is None
