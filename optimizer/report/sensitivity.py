"""``sensitivity.md`` and ``sensitivity.html``: tornado charts and two-way heatmaps of a sweep.

Both render the plain-JSON document of ``sensitivity.json`` (built by
:func:`optimizer.pipeline.sensitivity.build_document`) plus a few wall-clock facts (``run_info``)
that stay out of the JSON. Figures are matplotlib PNGs embedded as ``data:`` URIs, drawn in the
report's fixed style (:func:`optimizer.report.plots.report_style`):

* ``fig-tornado-<asset>``: per asset, how far each assumption moves its LT (bps from the base),
  bars sorted by their span, the assumption's values at the ends;
* ``fig-tornado-fund``: the same for the insurance fund (USD);
* ``fig-heatmap-<x>-<y>``: per two-way grid, one panel per asset (LT) and one for the fund.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import fmt_pct, fmt_usd, fmt_usd_short
from optimizer.report._jinja import environment, read_template_file
from optimizer.report.plots import RECOMMENDED_COLOR, VAR_COLOR, _figure, figure_png, report_style
from optimizer.report.section import FigureRef, text_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MD_TEMPLATE = "sensitivity.md.j2"
HTML_TEMPLATE = "sensitivity.html.j2"


def fmt_value(kind: str, v: Any) -> str:
    """An assumption's value as shown: ``pct`` 0.99 -> 99%, ``x`` 1.5 -> x1.5, ``pp`` 0.02 -> +2 pp."""
    if v is None:
        return "n/a"
    if kind == "pct":
        return f"{float(v) * 100:.4g}%"
    if kind == "x":
        return f"x{float(v):g}"
    if kind == "pp":
        return f"{float(v) * 100:+g} pp"
    if kind == "int":
        return str(int(v))
    if kind == "num":
        return f"{float(v):g}"
    return str(v)


def _fmt_override(doc: dict[str, Any], overrides: dict[str, Any]) -> str:
    if not overrides:
        return "base"
    a = doc["assumptions"]
    return ", ".join(f"{a[k]['label']} = {fmt_value(a[k]['fmt'], v)}" for k, v in overrides.items())


def _bps(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    v = x * 1e4
    return "0 bps" if round(v) == 0 else f"{v:+.0f} bps"


def _usd_delta(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return "$0" if x == 0 else ("+" if x > 0 else "-") + fmt_usd_short(abs(x))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_tornado(entries: dict[str, dict[str, Any]], assumptions: dict[str, Any], *, title: str,
                 unit: str) -> Figure | None:
    """Horizontal bars from the lowest to the highest outcome of each assumption, relative to the base.

    ``unit`` is ``"bps"`` (entries are fractions, drawn in bps) or ``"usd"``.
    """
    rows = [(k, e) for k, e in entries.items() if e is not None]
    if not rows:
        return None
    rows.sort(key=lambda t: (t[1]["range"], t[0]))  # largest at the top (last drawn = top)
    scale = 1e4 if unit == "bps" else 1.0
    fig = _figure(8.0, 1.0 + 0.42 * len(rows))
    ax = fig.subplots()
    span = max(max(abs(e["low"]), abs(e["high"])) for _, e in rows) * scale or 1.0
    for y, (name, e) in enumerate(rows):
        lo, hi = e["low"] * scale, e["high"] * scale
        width = hi - lo
        color = RECOMMENDED_COLOR if width > 0 else "0.6"
        ax.barh(y, width if width > 0 else span * 0.004, left=lo, height=0.6, color=color)
        kind = assumptions[name]["fmt"]
        ax.text(lo - span * 0.02, y, fmt_value(kind, e["low_value"]), ha="right", va="center", fontsize=7)
        ax.text(hi + span * 0.02, y, fmt_value(kind, e["high_value"]), ha="left", va="center", fontsize=7)
    ax.axvline(0.0, color=VAR_COLOR, linewidth=1.0)
    ax.set_yticks(range(len(rows)), [assumptions[n]["label"] for n, _ in rows])
    ax.set_xlim(-span * 1.35, span * 1.35)
    if unit == "usd":
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _usd_delta(v) if v else "$0"))
        ax.set_xlabel("change of the insurance fund from the base (USD)")
    else:
        ax.set_xlabel("change of the liquidation threshold from the base (bps)")
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    return fig


def plot_heatmap(grid: dict[str, Any], assets: list[str], assumptions: dict[str, Any]) -> Figure | None:
    """One panel per asset (LT, %) and one for the insurance fund, over a two-way grid."""
    xs, ys = grid["x_values"], grid["y_values"]
    if not xs or not ys:
        return None
    panels = [(a.upper() + " LT", np.array(grid["lt"][a], dtype=float) * 100, "pct") for a in assets]
    panels.append(("insurance fund", np.array(grid["insurance_fund_usd"], dtype=float), "usd"))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = _figure(3.0 * ncols + 0.6, 2.5 * nrows + 0.4)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    ax_info, ay_info = assumptions[grid["x"]], assumptions[grid["y"]]
    for ax, (title, mat, kind) in zip(axes, panels):
        m = np.where(np.isfinite(mat), mat, np.nan)
        im = ax.imshow(m, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(xs)), [fmt_value(ax_info["fmt"], v) for v in xs])
        ax.set_yticks(range(len(ys)), [fmt_value(ay_info["fmt"], v) for v in ys])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        finite = m[np.isfinite(m)]
        mid = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
        for j in range(m.shape[0]):
            for i in range(m.shape[1]):
                v = m[j, i]
                txt = "n/a" if not np.isfinite(v) else (f"{v:.1f}" if kind == "pct" else fmt_usd_short(v))
                ax.text(i, j, txt, ha="center", va="center", fontsize=7,
                        color="white" if np.isfinite(v) and v < mid else "black")
        ax.set_title(title + (" (%)" if kind == "pct" else ""))
        ax.set_xlabel(ax_info["label"])
        ax.set_ylabel(ay_info["label"])
        cbar = fig.colorbar(im, ax=ax, shrink=0.8)
        if kind == "usd":
            from matplotlib.ticker import FuncFormatter

            cbar.formatter = FuncFormatter(lambda v, _p: fmt_usd_short(v))
            cbar.update_ticks()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def sensitivity_figures(doc: dict[str, Any]) -> dict[str, FigureRef]:
    """Every figure of the HTML report with its caption, keyed by figure id."""
    a = doc["assumptions"]
    out: dict[str, FigureRef] = {}
    with report_style():
        for asset in doc["assets"]:
            fid = f"fig-tornado-{asset}"
            fig = plot_tornado(doc["tornado"].get(asset, {}), a, title=f"{asset.upper()}: liquidation threshold",
                               unit="bps")
            out[fid] = FigureRef(fid, f"How far each assumption moves {asset.upper()}'s liquidation threshold from "
                                      "the base point (bps); the assumption's values at the ends of each bar.",
                                 None if fig is None else figure_png(fig), None, "No point of this sweep solved.")
        fig = plot_tornado(doc["tornado"].get("insurance_fund_usd", {}), a, title="Insurance fund", unit="usd")
        out["fig-tornado-fund"] = FigureRef(
            "fig-tornado-fund", "How far each assumption moves the insurance fund from the base point (USD).",
            None if fig is None else figure_png(fig), None, "No point of this sweep solved.")
        for g in doc["grids"]:
            fid = f"fig-heatmap-{g['x']}-{g['y']}"
            fig = plot_heatmap(g, doc["assets"], a)
            out[fid] = FigureRef(
                fid, f"Liquidation threshold of each asset (%) and the insurance fund over the grid of "
                     f"{a[g['x']]['label']} (x) and {a[g['y']]['label']} (y).",
                None if fig is None else figure_png(fig), None, "Empty grid.")
    return out


# ---------------------------------------------------------------------------------------------
# View
# ---------------------------------------------------------------------------------------------
def build_view(doc: dict[str, Any], run_info: dict[str, Any]) -> dict[str, Any]:
    """Preformatted text for the templates."""
    assets = doc["assets"]
    a = doc["assumptions"]
    base = doc["base"]
    base_rows = [[x.upper(), fmt_pct((base.get("lt") or {}).get(x)), fmt_pct((base.get("ltv") or {}).get(x))]
                 for x in assets]
    # tornado summary: one row per assumption, one column per asset (low / high in bps) + fund
    torn_rows = []
    for name in a:
        cells = []
        any_entry = False
        for x in assets:
            e = doc["tornado"].get(x, {}).get(name)
            any_entry |= e is not None
            cells.append("n/a" if e is None else f"{_bps(e['low'])} .. {_bps(e['high'])}")
        f = doc["tornado"].get("insurance_fund_usd", {}).get(name)
        cells.append("n/a" if f is None else f"{_usd_delta(f['low'])} .. {_usd_delta(f['high'])}")
        if any_entry:
            values = ", ".join(fmt_value(a[name]["fmt"], v) for v in a[name]["values"])
            torn_rows.append([a[name]["label"], values, *cells])
    grids = []
    for g in doc["grids"]:
        xs = [fmt_value(a[g["x"]]["fmt"], v) for v in g["x_values"]]
        tables = []
        for x in assets:
            rows = [[fmt_value(a[g["y"]]["fmt"], yv), *[fmt_pct(v) for v in row]]
                    for yv, row in zip(g["y_values"], g["lt"][x])]
            tables.append(text_table(f"tbl-grid-{g['x']}-{g['y']}-{x}".replace("_", "-"),
                                 [f"{x.upper()} LT ({a[g['y']]['label']} / {a[g['x']]['label']})", *xs], rows,
                                 [False, *[True] * len(xs)]))
        rows = [[fmt_value(a[g["y"]]["fmt"], yv), *[fmt_usd(v) for v in row]]
                for yv, row in zip(g["y_values"], g["insurance_fund_usd"])]
        tables.append(text_table(f"tbl-grid-{g['x']}-{g['y']}-fund".replace("_", "-"),
                             [f"Fund ({a[g['y']]['label']} / {a[g['x']]['label']})", *xs], rows,
                             [False, *[True] * len(xs)]))
        grids.append({"x": g["x"], "y": g["y"], "x_label": a[g["x"]]["label"], "y_label": a[g["y"]]["label"],
                      "id": f"fig-heatmap-{g['x']}-{g['y']}", "tables": tables})
    point_rows = []
    for p in doc["points"]:
        lt = p.get("lt") or {}
        point_rows.append([str(p["index"]), _fmt_override(doc, p["overrides"]), p["status"],
                           fmt_usd(p.get("insurance_fund_usd")), *[fmt_pct(lt.get(x)) for x in assets]])
    errors = [f"point {p['index']} ({_fmt_override(doc, p['overrides'])}): {p.get('error')}"
              for p in doc["points"] if p["status"] == "error"]
    meta = doc["meta"]
    return {
        "title": doc["title"],
        "config_name": doc["config_name"],
        "as_of": meta.get("as_of"),
        "n_points": doc["n_points"],
        "n_errors": doc["n_errors"],
        "n_scenarios": f"{int(doc['method']['n_scenarios']):,}",
        "runtime": run_info.get("runtime_seconds"),
        "workers": run_info.get("workers"),
        "scheduler": run_info.get("scheduler"),
        "distinct": run_info.get("distinct_points"),
        "fits": run_info.get("fits"),
        "created": run_info.get("created_utc"),
        "command": run_info.get("command"),
        "assets_upper": [x.upper() for x in assets],
        "assets": assets,
        "base": text_table("tbl-base", ["Asset", "LT", "LTV"], base_rows, [False, True, True]),
        "base_fund": fmt_usd(base.get("insurance_fund_usd")),
        "base_status": base.get("status"),
        "tornado": text_table("tbl-tornado", ["Assumption", "Values", *[x.upper() for x in assets], "Fund"], torn_rows,
                          [False, False, *[True] * (len(assets) + 1)],
                          "Lowest .. highest change from the base point over the values swept: LT in bps, "
                          "the insurance fund in USD."),
        "grids": grids,
        "points": text_table("tbl-points", ["#", "Point", "Status", "Fund", *[f"{x.upper()} LT" for x in assets]],
                         point_rows, [True, False, False, True, *[True] * len(assets)]),
        "errors": errors,
        "notes": doc.get("notes", []),
        "method": doc["method"],
        "meta": meta,
        "versions": ", ".join(f"{k} {v}" for k, v in sorted((meta.get("versions") or {}).items())),
    }


def render_sensitivity_md(doc: dict[str, Any], run_info: dict[str, Any]) -> str:
    """The sweep as Markdown (tables only; the figures are in the HTML)."""
    from optimizer.report.markdown import _tidy

    return _tidy(environment().get_template(MD_TEMPLATE).render(v=build_view(doc, run_info)))


def render_sensitivity_html(doc: dict[str, Any], run_info: dict[str, Any]) -> str:
    """The sweep as one self-contained HTML page with the tornado charts and heatmaps."""
    html = environment().get_template(HTML_TEMPLATE).render(
        v=build_view(doc, run_info), figs=sensitivity_figures(doc), css=read_template_file("style.css"))
    return "\n".join(ln.rstrip() for ln in html.splitlines()).strip("\n") + "\n"


__all__ = ["build_view", "fmt_value", "plot_heatmap", "plot_tornado", "render_sensitivity_html",
           "render_sensitivity_md", "sensitivity_figures"]
