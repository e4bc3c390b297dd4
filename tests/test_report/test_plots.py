from __future__ import annotations

import re

import matplotlib as mpl
import numpy as np
from optimizer.report import plots
from optimizer.report.section import Figure


def test_report_figures_are_deterministic_png(report, html):
    """Drawing again gives the same bytes as the figures embedded in the session's report.html."""
    figs = plots.report_figures(report)
    assert set(figs) == {"fig-params", "fig-bad-debt", "fig-fund", "fig-prices", "fig-correlation"}
    for key, png in figs.items():
        assert png is not None and png[:4] == b"\x89PNG", key
        m = re.search(rf'<figure id="{key}">\s*<img src="([^"]+)"', html)
        assert m, key
        assert m.group(1) == plots.png_data_uri(png), f"{key} differs between two renders"


def test_user_rc_changes_no_figure(report):
    """Our drawing applies its own style: a user's matplotlibrc changes no byte, and is left as it was."""
    baseline = plots.report_figures(report)
    user = {"font.size": 30.0, "axes.facecolor": "black", "lines.linewidth": 7.0, "axes.grid": False}
    with mpl.rc_context(user):
        other = plots.report_figures(report)
        section_png = report.sections["frontier"].figures[0].draw()
        # report_style scopes its settings: the user's own values are back after our drawing
        assert {k: mpl.rcParams[k] for k in user} == user
    assert other == baseline
    assert section_png == report.sections["frontier"].figures[0].png


def test_report_style_sets_our_rc():
    with mpl.rc_context({"font.size": 30.0}):
        with plots.report_style():
            for key, value in plots.RC.items():
                want = [value] if key == "font.family" else value  # matplotlib stores a list
                assert mpl.rcParams[key] == want, key


def test_section_figures_draw_lazily_and_once():
    calls = []

    def draw():
        calls.append(1)
        return plots.png_of(lambda: plots.plot_cascades(np.linspace(0, 1, 500), np.linspace(0, 0.5, 500)))

    fig = Figure("fig-x", "x", draw=draw)
    assert calls == []  # building the section draws nothing (Markdown never asks)
    assert fig.png[:4] == b"\x89PNG" and fig.png == fig.png
    assert calls == [1]


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


def test_hover_areas_lie_on_their_marks(report):
    """Each bar of the parameter chart has a hover region inside the PNG that names its value; the
    fund curve has one per point, the price panels one per month."""
    import io

    from PIL import Image

    hover: dict = {}
    figs = plots.report_figures(report, hover)
    for key in ("fig-params", "fig-fund", "fig-prices"):
        w, h = Image.open(io.BytesIO(figs[key])).size
        assert hover[key], key
        for a in hover[key]:
            x0, y0 = a.coords[0], a.coords[1]
            assert 0 <= x0 <= w and 0 <= y0 <= h, (key, a)
            if a.shape == "rect":
                assert x0 <= a.coords[2] <= w and y0 <= a.coords[3] <= h, (key, a)
    params = [a for a in hover["fig-params"] if "LT recommended" in a.text]
    assert len(params) == len(report.assets)
    lt = report.assets[0].recommended["liquidation_threshold"] * 100
    assert params[0].text == f"{report.assets[0].asset.upper()} LT recommended: {lt:.2f}%"
    assert all(a.shape == "circle" and a.text.startswith("fund $") for a in hover["fig-fund"])
