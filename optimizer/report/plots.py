"""Figures of the HTML report, drawn with matplotlib's object API (no pyplot, no global state).

Every figure is drawn inside :func:`report_style`, a fixed rc context (matplotlib's default style,
DejaVu Sans shipped with matplotlib, fixed size and dpi, ``svg.hashsalt``), and saved as PNG with the
``Software`` metadata removed, so the same inputs give the same bytes on the same library versions.

Each ``plot_*`` function returns a :class:`matplotlib.figure.Figure`, or None when there is nothing to
draw (the HTML then shows a sentence instead of an empty chart).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.report._format import as_float, confidence_label, fmt_bps, fmt_usd_short
from optimizer.report.section import HoverArea

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from optimizer.report.model import AssetResult, RunReport

#: Resolution of every PNG (dots per inch). Figure sizes are in inches, so width in px = size x DPI.
DPI = 110

#: Width of a full-width figure: the HTML text column (style.css: body max-width 64rem of 16 px less
#: 2 x 1.25rem padding = 984 px) at :data:`DPI` (979 px), so a chart is shown at its own size and its
#: 9 pt labels read like the text instead of being scaled down.
TEXT_WIDTH_IN = 8.9

#: rc settings applied on top of matplotlib's default style for every figure.
RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "riskopt",
    "svg.fonttype": "path",
    "path.simplify": True,
}

#: Colours: recommended (dark) vs current (light) parameters, and lines in order.
RECOMMENDED_COLOR = "#1f4e79"
CURRENT_COLOR = "#9dbbd9"
VAR_COLOR = "#c0392b"
CVAR_COLOR = "#7b241c"


@contextmanager
def report_style() -> Iterator[None]:
    """Matplotlib's default style plus :data:`RC`, whatever the user's matplotlibrc says."""
    import matplotlib as mpl
    import matplotlib.style

    with mpl.rc_context():
        matplotlib.style.use("default")
        mpl.rcParams.update(RC)
        yield


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, without the ``Software`` metadata (no timestamps are written)."""
    buf = io.BytesIO()
    with report_style():
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>``: keeps the HTML self-contained."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _hover(fig: Figure, ax: Axes, shape: str, where: tuple[Any, ...], text: str, below: Axes | None = None) -> None:
    """Note a hover region of ``fig`` in ``ax``'s data coordinates, turned into pixels once laid out.

    ``shape`` ``"rect"``: ``where`` = (x0, y0, x1, y1); ``"circle"``: (x, y); ``"column"``: (x0, x1),
    the full height of ``ax`` (down to the bottom of ``below`` when given).
    """
    fig.__dict__.setdefault("_riskopt_hover", []).append((ax, shape, where, text, below))


def hover_areas(fig: Figure) -> tuple[HoverArea, ...]:
    """The figure's hover regions in PNG pixels (top-left origin); call after it was saved (laid out)."""
    height = fig.bbox.height

    def px(ax: Axes, x: Any, y: float, axes_y: bool = False) -> tuple[float, float]:
        xd = ax.transData.transform((ax.convert_xunits(x), 0.0))[0]
        yd = ax.transAxes.transform((0.0, y))[1] if axes_y else ax.transData.transform((0.0, y))[1]
        return float(xd), float(height - yd)

    out = []
    for ax, shape, where, text, below in getattr(fig, "_riskopt_hover", []):
        if shape == "circle":
            x, y = px(ax, where[0], where[1])
            coords: tuple[float, ...] = (x, y, 6.0)
        elif shape == "column":
            (x0, top), (x1, _) = px(ax, where[0], 1.0, True), px(ax, where[1], 1.0, True)
            bottom = px(below or ax, where[0], 0.0, True)[1]
            coords = (min(x0, x1), top, max(x0, x1), bottom)
        else:
            (x0, y0), (x1, y1) = px(ax, where[0], where[1]), px(ax, where[2], where[3])
            coords = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if all(np.isfinite(coords)):
            out.append(HoverArea("circle" if shape == "circle" else "rect", tuple(int(round(c)) for c in coords), text))
    return tuple(out)


def _asset_colors(names: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def _usd_axis(ax: Axes, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: fmt_usd_short(v))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def _plain_log_axis(ax: Axes, axis: str, values: np.ndarray, suffix: str = "") -> None:
    """Log axis labelled with plain numbers (0.5, 1, 2 instead of 10^-1 powers)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    decades = float(np.log10(v.max() / v.min())) if v.size else 1.0
    if decades <= 1.2:
        subs: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    elif decades <= 3.0:
        subs = (1.0, 2.0, 5.0)
    else:
        subs = (1.0,)
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10.0, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}{suffix}"))
    target.set_minor_formatter(NullFormatter())


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------


def plot_prices(prices: pd.DataFrame, volatility: pd.DataFrame | None = None) -> Figure | None:
    """Small multiples: one panel per asset, its normalised price (log scale) above its daily volatility.

    Twelve lines on one axis hide each other; one panel per asset shows each path, and every
    volatility strip shares one y range so the assets' risk can be compared across panels.

    Parameters
    ----------
    prices : DataFrame of shape (n_dates, n_assets)
        Prices in USD; each column is divided by its first valid value, so all start at 1.
    volatility : DataFrame of shape (n_dates, n_assets) or None
        Conditional daily volatility (fraction); drawn in percent under each price when given.

    Returns
    -------
    Figure or None
        None when there are no prices.
    """
    import matplotlib.dates as mdates

    if prices is None or prices.empty or not prices.notna().any().any():
        return None
    series = {}
    for col in prices.columns:
        s = pd.to_numeric(prices[col], errors="coerce")
        s = s.where(s > 0).dropna()
        if not s.empty:
            series[str(col)] = s / s.iloc[0]
    if not series:
        return None
    vols = {}
    if volatility is not None and not volatility.empty:
        for col in volatility.columns:
            v = pd.to_numeric(volatility[col], errors="coerce").dropna()
            if str(col) in series and not v.empty:
                vols[str(col)] = v * 100
    names = list(series)
    n = len(names)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    panel_h = 2.1 if vols else 1.6
    fig = _figure(TEXT_WIDTH_IN, 0.45 + panel_h * nrows)
    fig.suptitle("Price normalised to 1 at the first date (log scale where it moves > 1.5x) and daily volatility (%)",
                 fontsize=RC["axes.titlesize"])
    ratios = [3, 1.4] if vols else [1]
    grid = fig.add_gridspec(nrows * len(ratios), ncols, height_ratios=ratios * nrows)
    # one volatility range for all panels (the 99.5th percentile, so one spike does not flatten the rest)
    vmax = float(np.nanpercentile(np.concatenate([v.to_numpy() for v in vols.values()]), 99.5)) * 1.1 if vols else 0.0
    locator = mdates.AutoDateLocator(minticks=2, maxticks=4)
    for i, name in enumerate(names):
        r, c = divmod(i, ncols)
        ax_p = fig.add_subplot(grid[r * len(ratios), c])
        rel = series[name]
        ax_p.plot(rel.index, rel, color=RECOMMENDED_COLOR, linewidth=0.9)  # one panel each: no colour key
        if float(rel.max() / rel.min()) > 1.5:  # a peg's few percent read better on a plain axis
            ax_p.set_yscale("log")
            _plain_log_axis(ax_p, "y", rel.to_numpy())
        ax_p.set_title(name.upper(), loc="left", fontsize=RC["axes.labelsize"], fontweight="bold", pad=2)
        ax_p.tick_params(labelsize=7)
        last = ax_p
        if vols:
            ax_v = fig.add_subplot(grid[r * len(ratios) + 1, c], sharex=ax_p)
            if name in vols:
                v = vols[name]
                ax_v.fill_between(v.index, 0, v.to_numpy(), color=CURRENT_COLOR, linewidth=0)
            ax_v.set_ylim(0, vmax if vmax > 0 else None)
            ax_v.tick_params(labelsize=7)
            ax_p.tick_params(labelbottom=False)
            last = ax_v
        # hover: the month-end price (x first price) and volatility, one column per month
        months = rel.resample("ME").last().dropna() if isinstance(rel.index, pd.DatetimeIndex) else rel.iloc[:0]
        vol_m = vols[name].resample("ME").last() if name in vols and isinstance(vols[name].index, pd.DatetimeIndex) else None
        starts = [max(m - pd.offsets.MonthBegin(1), rel.index[0]) for m in months.index]
        for m, start, value in zip(months.index, starts, months.to_numpy(), strict=True):
            vtxt = ""
            if vol_m is not None and m in vol_m.index and np.isfinite(vol_m[m]):
                vtxt = f", daily vol {vol_m[m]:.2f}%"
            _hover(fig, ax_p, "column", (start, m), f"{name.upper()} {m:%Y-%m}: {value:.3g}x first price{vtxt}",
                   below=last)
        last.xaxis.set_major_locator(locator)
        last.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return fig


def plot_correlation(correlation: np.ndarray, names: Sequence[str]) -> Figure | None:
    """Heatmap of the correlation matrix with asset labels and (up to 12 assets) the values printed.

    Parameters
    ----------
    correlation : ndarray of shape (n_assets, n_assets)
    names : sequence of str, length n_assets
    """
    corr = np.asarray(correlation, dtype=float)
    n = len(names)
    if corr.ndim != 2 or corr.shape != (n, n) or n == 0:
        return None
    side = float(np.clip(1.2 + 0.55 * n, 3.2, 7.5))
    fig = _figure(side + 1.0, side)
    ax = fig.subplots()
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    labels = [str(a).upper() for a in names]
    ax.set_xticks(range(n), labels, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), labels)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if n <= 12:
        for i in range(n):
            for j in range(n):
                v = corr[i, j]
                txt = "n/a" if not np.isfinite(v) else f"{v:.2f}"
                ax.text(
                    j, i, txt, ha="center", va="center", fontsize=8,
                    color="white" if np.isfinite(v) and abs(v) > 0.6 else "black",
                )
    fig.colorbar(im, ax=ax, shrink=0.8, label="correlation")
    ax.set_title("Correlation of daily log returns")
    return fig


def _log_bins(values: Sequence[np.ndarray], n_bins: int = 40) -> np.ndarray:
    pos = np.concatenate([v[v > 0] for v in values])
    lo, hi = float(pos.min()), float(pos.max())
    if hi <= lo * 1.0001:
        lo, hi = lo / 1.5, hi * 1.5
    return np.geomspace(lo, hi, n_bins + 1)


def plot_bad_debt(
    bad_debt: np.ndarray,
    bad_debt_current: np.ndarray | None = None,
    *,
    var_usd: float | None = None,
    cvar_usd: float | None = None,
    conf_label: str = "",
    weights: np.ndarray | None = None,
) -> Figure | None:
    """Histogram of aggregate bad debt per scenario on a log axis, with VaR and CVaR marked.

    Scenarios without bad debt cannot be drawn on a log axis; their share is given in the title. The
    distribution under the current parameters is overlaid as an outline when given.

    Parameters
    ----------
    bad_debt : ndarray of shape (n_scenarios,)
        USD bad debt per scenario under the recommended parameters.
    bad_debt_current : ndarray of shape (n_scenarios,) or None
    var_usd, cvar_usd : float or None
        Drawn as vertical lines when positive.
    weights : ndarray of shape (n_scenarios,) or None
        Scenario probabilities of both series (a tail-stratified sample); None: equal.
    conf_label : str
        Confidence level for the legend, e.g. ``"99%"``.

    Returns
    -------
    Figure or None
        None when no scenario has bad debt under either parameter set.
    """
    rec = np.asarray([] if bad_debt is None else bad_debt, dtype=float).ravel()
    p = None if weights is None or len(weights) != rec.size else np.asarray(weights, float) / np.sum(weights)
    ok = np.isfinite(rec)
    rec, p_rec = rec[ok], (None if p is None else p[ok])
    cur, p_cur = None, None
    if bad_debt_current is not None:
        cur = np.asarray(bad_debt_current, dtype=float).ravel()
        okc = np.isfinite(cur)
        p_cur = None if p is None or cur.size != p.size else p[okc]
        cur = cur[okc]
    series = [rec] + ([cur] if cur is not None else [])
    if not any(np.any(s > 0) for s in series):
        return None
    bins = _log_bins(series)
    fig = _figure(TEXT_WIDTH_IN, 3.6)
    ax = fig.subplots()
    n_rec = max(rec.size, 1)
    if np.any(rec > 0):
        pos = rec[rec > 0]
        w_pos = np.full(pos.size, 100.0 / n_rec) if p_rec is None else 100.0 * p_rec[rec > 0]
        ax.hist(
            pos, bins=bins, weights=w_pos, color=RECOMMENDED_COLOR,
            alpha=0.85, label="recommended parameters",
        )
    if cur is not None and np.any(cur > 0):
        pos_c = cur[cur > 0]
        w_c = np.full(pos_c.size, 100.0 / max(cur.size, 1)) if p_cur is None else 100.0 * p_cur[cur > 0]
        ax.hist(
            pos_c, bins=bins, weights=w_c,
            histtype="step", color="#e67e22", linewidth=1.5, label="current parameters",
        )
    ax.set_xscale("log")
    _usd_axis(ax, "x")
    ax.set_xlabel("aggregate bad debt per scenario (USD, log scale)")
    ax.set_ylabel("share of scenarios (%)")
    suffix = f" {conf_label}" if conf_label else ""
    for value, name, color, style in (
        (var_usd, "VaR", VAR_COLOR, "--"),
        (cvar_usd, "CVaR", CVAR_COLOR, ":"),
    ):
        v = as_float(value)
        if v is not None and v > 0:
            ax.axvline(v, color=color, linestyle=style, linewidth=1.4,
                       label=f"{name}{suffix} = {fmt_usd_short(v)}")
        elif v is not None:
            ax.plot([], [], color=color, linestyle=style, label=f"{name}{suffix} = $0")
    zero_rec = 100.0 * float(np.average(rec <= 0, weights=p_rec)) if rec.size else 0.0
    title = f"Bad debt across scenarios ({zero_rec:.1f}% of scenarios have none"
    if cur is not None and cur.size:
        title += f"; {100.0 * float(np.average(cur <= 0, weights=p_cur)):.1f}% under current parameters"
    ax.set_title(title + ")")
    ax.legend(loc="upper right", frameon=False)
    return fig


_PARAM_BARS = (
    ("ltv", "current", "LTV current", CURRENT_COLOR, "//"),
    ("ltv", "recommended", "LTV recommended", RECOMMENDED_COLOR, "//"),
    ("liquidation_threshold", "current", "LT current", CURRENT_COLOR, ""),
    ("liquidation_threshold", "recommended", "LT recommended", RECOMMENDED_COLOR, ""),
)


def plot_params(assets: Sequence[AssetResult]) -> Figure | None:
    """Grouped bars of LTV and liquidation threshold per asset, current beside recommended.

    Bars of the current parameters are left out when no asset has them.
    """
    if not assets:
        return None
    has_current = any(a.current for a in assets)
    bars = [b for b in _PARAM_BARS if has_current or b[1] == "recommended"]
    n = len(assets)
    width = 0.8 / len(bars)
    fig = _figure(float(np.clip(2.5 + 1.3 * n, 7.0, TEXT_WIDTH_IN)), 3.8)
    ax = fig.subplots()
    x = np.arange(n)
    for k, (key, which, label, color, hatch) in enumerate(bars):
        vals = []
        for a in assets:
            src = a.recommended if which == "recommended" else (a.current or {})
            v = as_float(src.get(key))
            vals.append(np.nan if v is None else v * 100)
        pos = x + (k - (len(bars) - 1) / 2) * width
        ax.bar(pos, vals, width * 0.95, label=label, color=color, hatch=hatch, edgecolor="white",
               linewidth=0.5)
        for i, a in enumerate(assets):
            if np.isfinite(vals[i]):
                _hover(fig, ax, "rect", (pos[i] - width / 2, 0.0, pos[i] + width / 2, max(vals[i], 4.0)),
                       f"{a.asset.upper()} {label}: {vals[i]:.2f}%")
        if which != "recommended" or n > 8:
            continue
        for i, a in enumerate(assets):
            cur = as_float((a.current or {}).get(key))
            rec = as_float(a.recommended.get(key))
            if rec is None:
                continue
            text = f"{rec * 100:.1f}"
            if cur is not None:
                change = fmt_bps(rec - cur)
                text += "\n" + ("±0 bp" if change == "0 bps" else change.replace(" bps", " bp"))
            ax.text(pos[i], rec * 100 + 1.0, text, ha="center", va="bottom", fontsize=7,
                    color=RECOMMENDED_COLOR, linespacing=1.1)
    ax.set_xticks(x, [a.asset.upper() for a in assets])
    ax.set_ylabel("% of collateral value")
    ax.set_ylim(0, 109)
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="x", visible=False)
    ax.set_title("LTV (hatched) and liquidation threshold per asset")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=len(bars), frameon=False)
    return fig


def plot_fund(
    curve: Sequence[Sequence[float]], *, fund_usd: float | None = None, epsilon: float | None = None
) -> Figure | None:
    """Probability that bad debt exceeds the fund, against the fund size.

    Parameters
    ----------
    curve : sequence of ``[fund_usd, prob_exceed]`` pairs
    fund_usd : float or None
        The chosen fund, marked with a vertical line.
    epsilon : float or None
        The target exceedance probability, marked with a horizontal line.
    """
    pts = np.asarray([[as_float(p[0]), as_float(p[1])] for p in curve or []], dtype=float)
    if pts.size == 0:
        return None
    pts = pts[np.isfinite(pts).all(axis=1)]
    if pts.size == 0:
        return None
    pts = pts[np.argsort(pts[:, 0], kind="stable")]
    fig = _figure(TEXT_WIDTH_IN, 3.4)
    ax = fig.subplots()
    positive = pts[:, 1] > 0
    log_y = bool(positive.any())
    shown = pts[positive] if log_y else pts
    ax.plot(shown[:, 0], shown[:, 1] * 100, marker="o", markersize=3, color=RECOMMENDED_COLOR,
            linewidth=1.3, label="P(bad debt > fund)")
    for x, y in shown:
        _hover(fig, ax, "circle", (x, y * 100), f"fund {fmt_usd_short(x)}: P(bad debt > fund) {y * 100:.3g}%")
    if log_y:
        ax.set_yscale("log")
        _plain_log_axis(ax, "y", shown[:, 1] * 100, "%")
    _usd_axis(ax, "x")
    ax.set_xlabel("insurance fund size (USD)")
    ax.set_ylabel("probability" + (" (log scale)" if log_y else ""))
    f = as_float(fund_usd)
    if f is not None:
        ax.axvline(f, color=VAR_COLOR, linestyle="--", linewidth=1.2,
                   label=f"recommended fund {fmt_usd_short(f)}")
    e = as_float(epsilon)
    if e is not None and (e > 0 or not log_y):
        ax.axhline(e * 100, color="0.35", linestyle=":", linewidth=1.2, label=f"target ε = {e:.2%}")
    if not log_y:
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}%"))
    ax.set_title("Insurance fund size vs probability that bad debt exceeds it")
    ax.legend(loc="upper right", frameon=False)
    return fig


def plot_spec(spec: Mapping[str, Any]) -> Figure | None:
    """A simple chart described by data, for optional report sections.

    ``spec`` keys: ``kind`` (``"line"``, ``"scatter"`` or ``"bar"``), ``x`` (list), ``series``
    (label -> list of y, same length as x), and optional ``xlabel``, ``ylabel``, ``title``,
    ``xscale``/``yscale`` (``"linear"``, ``"log"``, ``"symlog"``).
    """
    kind = spec.get("kind", "line")
    x = list(spec.get("x") or [])
    series = spec.get("series") or {}
    if not x or not isinstance(series, Mapping) or not series:
        return None
    fig = _figure(TEXT_WIDTH_IN, 3.4)
    ax = fig.subplots()
    if kind == "bar":
        pos = np.arange(len(x))
        w = 0.8 / len(series)
        for k, (label, ys) in enumerate(series.items()):
            vals = [np.nan if as_float(v) is None else as_float(v) for v in ys]
            ax.bar(pos + (k - (len(series) - 1) / 2) * w, vals, w * 0.95, label=str(label))
        ax.set_xticks(pos, [str(v) for v in x])
        ax.grid(axis="x", visible=False)
    else:
        xs = [as_float(v) if as_float(v) is not None else v for v in x]
        for label, ys in series.items():
            vals = [np.nan if as_float(v) is None else as_float(v) for v in ys]
            if kind == "scatter":
                ax.scatter(xs, vals, s=14, label=str(label))
            else:
                ax.plot(xs, vals, marker="o", markersize=3, linewidth=1.2, label=str(label))
    for axis in ("x", "y"):
        scale = spec.get(f"{axis}scale")
        if scale in ("linear", "log", "symlog"):
            (ax.set_xscale if axis == "x" else ax.set_yscale)(scale)
    ax.set_xlabel(str(spec.get("xlabel", "")))
    ax.set_ylabel(str(spec.get("ylabel", "")))
    if spec.get("title"):
        ax.set_title(str(spec["title"]))
    if len(series) > 1 or kind != "bar":
        ax.legend(frameon=False)
    return fig


def plot_cascades(bad_debt: np.ndarray, bad_debt_nocascade: np.ndarray) -> Figure:
    """The top 5 % of simulated bad debt per path, with and without liquidation cascades."""
    fig = _figure(TEXT_WIDTH_IN, 3.2)
    ax = fig.subplots()
    pos = np.sort(bad_debt)
    off = np.sort(bad_debt_nocascade)
    q = np.linspace(0.95, 1.0, 200)
    ax.plot(q * 100, np.quantile(pos, q), label="cascades on")
    ax.plot(q * 100, np.quantile(off, q), label="cascades off", linestyle="--")
    ax.set_xlabel("percentile of scenarios")
    ax.set_ylabel("aggregate bad debt (USD)")
    ax.set_title("Tail of simulated bad debt with and without liquidation cascades")
    ax.legend(frameon=False)
    return fig


def plot_frontier(
    frontier: Sequence[Mapping[str, Any]],
    tail_key: str,
    *,
    budgets: Mapping[str, float] | None = None,
    convex_point: Mapping[str, Any] | None = None,
    current_point: Mapping[str, Any] | None = None,
) -> Figure:
    """Capital efficiency (USD bn) against the tail measure ``tail_key`` of each frontier point.

    Appetites are annotated; the convex-core start and the current parameters are marked, and with
    ``tail_key = "bad_debt_cvar_usd"`` each appetite budget is a dotted vertical line.
    """
    fig = _figure(TEXT_WIDTH_IN, 3.8)
    ax = fig.subplots()
    xs = [p[tail_key] for p in frontier]
    ys = [p["capital_efficiency_usd"] / 1e9 for p in frontier]
    ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.0, label="frontier")
    for p in frontier:
        if p.get("appetite"):
            ax.annotate(p["appetite"], (p[tail_key], p["capital_efficiency_usd"] / 1e9), textcoords="offset points",
                        xytext=(6, -10), fontsize=8)
    if convex_point is not None:
        ax.scatter([convex_point[tail_key]], [convex_point["capital_efficiency_usd"] / 1e9], marker="s", s=40,
                   label="convex core (trial 0)", zorder=3)
    if current_point is not None:
        ax.scatter([current_point[tail_key]], [current_point["capital_efficiency_usd"] / 1e9], marker="*", s=80,
                   label="current parameters", zorder=3)
    for b in (budgets or {}).values():
        if tail_key == "bad_debt_cvar_usd":
            ax.axvline(b, linewidth=0.8, linestyle=":", color="grey")
    ax.set_xlabel(tail_key.replace("_", " "))
    ax.set_ylabel("capital efficiency (USD bn)")
    ax.set_title("Capital efficiency vs tail of bad debt (worst-case book, dynamic simulation)")
    ax.legend(frameon=False, loc="lower right")
    return fig


def png_of(draw: Callable[[], Figure | None]) -> bytes | None:
    """PNG bytes of the figure ``draw()`` returns, drawn in :func:`report_style` (None: nothing drawn)."""
    with report_style():
        fig = draw()
        return None if fig is None else figure_png(fig)


# ---------------------------------------------------------------------------------------------------------------
# All figures of a report
# ---------------------------------------------------------------------------------------------------------------


def _correlation_names(report: RunReport) -> list[str]:
    n = int(np.shape(report.correlation)[0]) if np.ndim(report.correlation) == 2 else 0
    if len(report.assets) == n:
        return report.asset_names
    cols = [str(c) for c in getattr(report.prices, "columns", [])]
    return cols if len(cols) == n else [f"asset {i + 1}" for i in range(n)]


def report_figures(report: RunReport, hover: dict[str, tuple[HoverArea, ...]] | None = None) -> dict[str, bytes | None]:
    """PNG bytes of the five standard figures, keyed by figure id; None where there is nothing to draw.

    Keys: ``fig-params``, ``fig-bad-debt``, ``fig-fund``, ``fig-prices``, ``fig-correlation``.
    ``hover``, when given, receives each drawn figure's hover regions (:func:`hover_areas`).
    """
    out: dict[str, bytes | None] = {}
    with report_style():
        figs: dict[str, Figure | None] = {
            "fig-params": plot_params(report.assets),
            "fig-bad-debt": plot_bad_debt(
                report.bad_debt,
                report.bad_debt_current,
                var_usd=report.metrics.get("bad_debt_var_usd"),
                cvar_usd=report.metrics.get("bad_debt_cvar_usd"),
                conf_label=confidence_label(report.method.get("alpha")),
                weights=report.bad_debt_weights,
            ),
            "fig-fund": plot_fund(
                report.fund.get("curve") or [],
                fund_usd=report.insurance_fund_usd,
                epsilon=report.fund.get("epsilon"),
            ),
            "fig-prices": plot_prices(report.prices, report.volatility),
            "fig-correlation": plot_correlation(report.correlation, _correlation_names(report)),
        }
        for key, fig in figs.items():
            out[key] = None if fig is None else figure_png(fig)
            if fig is not None and hover is not None:
                hover[key] = hover_areas(fig)
    return out
