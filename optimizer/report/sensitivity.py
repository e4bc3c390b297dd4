"""The sensitivity report: ``sensitivity.json``, ``sensitivity.md`` and ``sensitivity.html`` of a sweep.

The sweep (:mod:`optimizer.pipeline.sensitivity`) hands over its setup (:class:`SweepSetup`) and
one :class:`SweepEntry` per point; :func:`sensitivity_document` builds the plain-JSON document of
``sensitivity.json`` from them (the tornado spans, the grids, the notes), and
:func:`build_view` formats that document into a :class:`SensitivityView` for both templates, with
a few wall-clock facts (``run_info``) that stay out of the JSON. Figures are matplotlib PNGs
embedded as ``data:`` URIs, drawn in the report's fixed style
(:func:`optimizer.report.plots.report_style`):

* ``fig-tornado-<asset>``: per asset, how far each assumption moves its LT (bps from the base),
  bars sorted by their span, the assumption's values at the ends;
* ``fig-tornado-fund``: the same for the insurance fund (USD);
* ``fig-heatmap-<x>-<y>``: per two-way grid, one panel per asset (LT) and one for the fund.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.report._format import canonicalize, fmt_pct, fmt_usd, fmt_usd_short
from optimizer.report._jinja import environment, read_template_file
from optimizer.report.plots import RECOMMENDED_COLOR, TEXT_WIDTH_IN, VAR_COLOR, _figure, figure_png, report_style
from optimizer.report.section import FigureRef, Table, text_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MD_TEMPLATE = "sensitivity.md.j2"
HTML_TEMPLATE = "sensitivity.html.j2"


#: Version of sensitivity.json (2: the ``corr_stress`` assumption is named ``comonotone_share``).
SENSITIVITY_FORMAT_VERSION = 2

#: How each assumption is shown: its label and the kind of its values (see :func:`fmt_value`).
ASSUMPTION_DISPLAY: dict[str, tuple[str, str]] = {
    "alpha": ("CVaR confidence", "pct"),
    "vol_multiplier": ("volatility multiplier", "x"),
    "comonotone_share": ("comonotone share", "num"),
    "liquidity_multiplier": ("depth multiplier (every depth curve's USD sellable)", "x"),
    "delay_steps": ("liquidation delay (steps)", "int"),
    "bonus_shift": ("bonus shift", "pp"),
    "horizon_days": ("horizon (days)", "int"),
    "volatility": ("volatility estimator", "str"),
    "window_days": ("estimation window (days)", "int"),
}


@dataclass(frozen=True)
class SweepSetup:
    """The base configuration of a sweep, as its report describes it.

    ``values`` maps each assumption (in :data:`ASSUMPTION_DISPLAY` order) to the values swept and
    ``base_values`` to its value in the base configuration; ``grids`` lists the two-way grids.
    """

    title: str | None
    config_name: str
    config_sha256: str
    seed: int
    as_of: str | None
    assets: tuple[str, ...]
    values: Mapping[str, Sequence[Any]]
    base_values: Mapping[str, Any]
    grids: tuple[tuple[str, str], ...]
    n_scenarios: int
    horizon_days: int
    scenario_method: str
    volatility_estimator: str
    alpha: float
    budget_share: float | None
    steps_per_day: int
    simulation_enabled: bool
    simulation_paths: int


@dataclass(frozen=True)
class SweepEntry:
    """One solved point: where it sits in the sweep and what the solve returned (``result``)."""

    index: int
    kind: str
    sweep: str
    overrides: Mapping[str, Any]
    config_sha256: str
    horizon_days: int
    result: Mapping[str, Any]


def tornado_span(base_val: float | None, points: Sequence[tuple[Any, float | None]]) -> dict[str, Any] | None:
    """Lowest and highest outcome of one assumption's sweep, relative to the base (None: nothing solved)."""
    vals = [(v, y) for v, y in points if y is not None and math.isfinite(y)]
    if base_val is None or not vals:
        return None
    lo = min(vals, key=lambda t: t[1])
    hi = max(vals, key=lambda t: t[1])
    return {"low": lo[1] - base_val, "low_value": lo[0], "high": hi[1] - base_val, "high_value": hi[0],
            "range": hi[1] - lo[1]}


def _notes(setup: SweepSetup) -> list[str]:
    steps = setup.steps_per_day
    if setup.simulation_enabled:
        delay_note = ("Liquidation delay is the dynamic market simulation's delay_steps: it moves the insurance "
                      "fund (sized on the simulated bad debt, as in a run); the convex core is static, so the "
                      "thresholds, set by the liquidation horizon, do not move with it.")
        fund_note = (f"Insurance fund: sized on the bad debt of the market simulation "
                     f"({setup.simulation_paths:,} paths) under each point's "
                     "recommended parameters.")
    else:
        delay_note = (f"Liquidation delay: the market simulation is disabled, so a delay of d simulation steps "
                      f"({steps} per day) is taken as ceil(d / {steps}) extra days of liquidation horizon.")
        fund_note = "Insurance fund: sized on the static evaluation of the book under each point's parameters."
    return [
        "Every point uses the run seed (common random numbers): differences between points come from the "
        "assumption, not from Monte Carlo noise.",
        delay_note,
        fund_note,
        "The comonotone share ([scenarios] comonotone_share) mixes in scenarios where every position crashes "
        "together while each asset keeps its own distribution: it acts through the aggregate risk budget, so it "
        "lowers borrowing power as a whole but can leave an asset outside the stressed tail a few bps higher.",
        "Points show the optimizer's answer; the anti-procyclicality tools of a full run are not applied.",
    ]


def sensitivity_document(
    setup: SweepSetup,
    entries: Sequence[SweepEntry],
    *,
    package_version: str,
    data_sha256: str,
    data_files: Mapping[str, str],
    versions: Mapping[str, str],
) -> dict[str, Any]:
    """The content of sensitivity.json (plain JSON types, no wall-clock values).

    ``entries`` are in point order, the base point first.
    """
    assets = list(setup.assets)
    points = [{"index": e.index, "kind": e.kind, "sweep": e.sweep, "overrides": dict(e.overrides),
               "config_sha256": e.config_sha256, "horizon_days": e.horizon_days, **e.result} for e in entries]
    b = entries[0].result
    base_lt = b.get("lt") or {}
    base_fund = b.get("insurance_fund_usd")
    tornado: dict[str, Any] = {a: {} for a in assets}
    tornado["insurance_fund_usd"] = {}
    for name in ASSUMPTION_DISPLAY:
        sweep = [e for e in entries if e.sweep == name]
        if not sweep:
            continue
        for a in assets:
            t = tornado_span(base_lt.get(a), [(e.overrides[name], (e.result.get("lt") or {}).get(a)) for e in sweep])
            if t is not None:
                tornado[a][name] = t
        t = tornado_span(base_fund, [(e.overrides[name], e.result.get("insurance_fund_usd")) for e in sweep])
        if t is not None:
            tornado["insurance_fund_usd"][name] = t
    grids = []
    for x, y in setup.grids:
        xs, ys = list(setup.values[x]), list(setup.values[y])
        cells = {(e.overrides[x], e.overrides[y]): e.result for e in entries if e.sweep == f"{x}*{y}"}

        def mat(get: Any, cells: Mapping[Any, Any] = cells, xs: list[Any] = xs, ys: list[Any] = ys) -> list[list[Any]]:
            return [[get(cells.get((vx, vy), {})) for vx in xs] for vy in ys]

        grids.append({
            "x": x, "y": y, "x_values": xs, "y_values": ys,
            "lt": {a: mat(lambda r, a=a: (r.get("lt") or {}).get(a)) for a in assets},
            "insurance_fund_usd": mat(lambda r: r.get("insurance_fund_usd")),
            "status": mat(lambda r: r.get("status")),
        })
    assumptions = {
        name: {"label": label, "fmt": kind, "values": list(setup.values[name]), "base": setup.base_values[name]}
        for name, (label, kind) in ASSUMPTION_DISPLAY.items()
    }
    doc = {
        "format_version": SENSITIVITY_FORMAT_VERSION,
        "title": setup.title or f"riskopt: {setup.config_name}",
        "config_name": setup.config_name,
        "assets": assets,
        "assumptions": assumptions,
        "points": points,
        "base": points[0],
        "tornado": tornado,
        "grids": grids,
        "n_points": len(entries),
        "n_errors": sum(1 for e in entries if e.result["status"] == "error"),
        "notes": _notes(setup),
        "method": {
            "n_scenarios": setup.n_scenarios,
            "horizon_days": setup.horizon_days,
            "scenario_method": setup.scenario_method,
            "volatility_estimator": setup.volatility_estimator,
            "alpha": setup.alpha,
            "risk_budget_share_of_debt": setup.budget_share,
            "steps_per_day": setup.steps_per_day,
            "seeding": "every point uses the run seed (common random numbers)",
            "delay": ("market simulation delay_steps (moves the fund)" if setup.simulation_enabled else
                      "ceil(d / steps_per_day) extra days of liquidation horizon (simulation disabled)"),
            "fund": "market simulation" if setup.simulation_enabled else "static evaluation",
        },
        "meta": {
            "format_version": SENSITIVITY_FORMAT_VERSION,
            "package_version": package_version,
            "config_sha256": setup.config_sha256,
            "data_sha256": data_sha256,
            "data_files": dict(sorted(data_files.items())),
            "seed": int(setup.seed),
            "as_of": setup.as_of,
            "versions": dict(versions),
        },
    }
    return canonicalize(doc)


def sensitivity_json(doc: Mapping[str, Any]) -> str:
    """sensitivity.json as text: sorted keys, two-space indent, strict JSON, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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
    fig = _figure(TEXT_WIDTH_IN, 1.0 + 0.42 * len(rows))
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
    fig = _figure(min(3.0 * ncols + 0.6, TEXT_WIDTH_IN), 2.5 * nrows + 0.4)  # never wider than the text
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
@dataclass(frozen=True)
class GridView:
    """One two-way grid: its axes, its heatmap's figure id and one table per asset plus the fund."""

    x: str
    y: str
    x_label: str
    y_label: str
    id: str
    tables: list[Table]


@dataclass(frozen=True)
class SensitivityView:
    """Everything the sensitivity templates print, as text (a few run facts as given)."""

    title: str
    config_name: str
    as_of: str | None
    n_points: int
    n_errors: int
    n_scenarios: str
    runtime: Any
    workers: Any
    scheduler: Any
    distinct: Any
    fits: Any
    created: Any
    command: Any
    assets: list[str]
    base: Table
    base_fund: str
    base_status: Any
    tornado: Table
    grids: list[GridView]
    points: Table
    errors: list[str]
    notes: list[str]
    method: dict[str, Any]
    meta: dict[str, Any]
    versions: str


def build_view(doc: Mapping[str, Any], run_info: Mapping[str, Any]) -> SensitivityView:
    """Format the document of sensitivity.json (and the run's wall-clock facts) for the templates."""
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
        grids.append(GridView(x=g["x"], y=g["y"], x_label=a[g["x"]]["label"], y_label=a[g["y"]]["label"],
                              id=f"fig-heatmap-{g['x']}-{g['y']}", tables=tables))
    point_rows = []
    for p in doc["points"]:
        lt = p.get("lt") or {}
        point_rows.append([str(p["index"]), _fmt_override(doc, p["overrides"]), p["status"],
                           fmt_usd(p.get("insurance_fund_usd")), *[fmt_pct(lt.get(x)) for x in assets]])
    errors = [f"point {p['index']} ({_fmt_override(doc, p['overrides'])}): {p.get('error')}"
              for p in doc["points"] if p["status"] == "error"]
    meta = doc["meta"]
    return SensitivityView(
        title=doc["title"],
        config_name=doc["config_name"],
        as_of=meta.get("as_of"),
        n_points=doc["n_points"],
        n_errors=doc["n_errors"],
        n_scenarios=f"{int(doc['method']['n_scenarios']):,}",
        runtime=run_info.get("runtime_seconds"),
        workers=run_info.get("workers"),
        scheduler=run_info.get("scheduler"),
        distinct=run_info.get("distinct_points"),
        fits=run_info.get("fits"),
        created=run_info.get("created_utc"),
        command=run_info.get("command"),
        assets=list(assets),
        base=text_table("tbl-base", ["Asset", "LT", "LTV"], base_rows, [False, True, True]),
        base_fund=fmt_usd(base.get("insurance_fund_usd")),
        base_status=base.get("status"),
        tornado=text_table("tbl-tornado", ["Assumption", "Values", *[x.upper() for x in assets], "Fund"], torn_rows,
                           [False, False, *[True] * (len(assets) + 1)],
                           "Lowest .. highest change from the base point over the values swept: LT in bps, "
                           "the insurance fund in USD."),
        grids=grids,
        points=text_table("tbl-points", ["#", "Point", "Status", "Fund", *[f"{x.upper()} LT" for x in assets]],
                          point_rows, [True, False, False, True, *[True] * len(assets)]),
        errors=errors,
        notes=list(doc.get("notes", [])),
        method=dict(doc["method"]),
        meta=dict(meta),
        versions=", ".join(f"{k} {v}" for k, v in sorted((meta.get("versions") or {}).items())),
    )

def render_sensitivity_md(doc: dict[str, Any], run_info: dict[str, Any]) -> str:
    """The sweep as Markdown (tables only; the figures are in the HTML)."""
    from optimizer.report.markdown import _tidy

    return _tidy(environment().get_template(MD_TEMPLATE).render(v=build_view(doc, run_info)))


def render_sensitivity_html(doc: dict[str, Any], run_info: dict[str, Any]) -> str:
    """The sweep as one self-contained HTML page with the tornado charts and heatmaps."""
    html = environment().get_template(HTML_TEMPLATE).render(
        v=build_view(doc, run_info), figs=sensitivity_figures(doc), css=read_template_file("style.css"))
    return "\n".join(ln.rstrip() for ln in html.splitlines()).strip("\n") + "\n"


__all__ = ["ASSUMPTION_DISPLAY", "SENSITIVITY_FORMAT_VERSION", "SensitivityView", "SweepEntry", "SweepSetup",
           "build_view", "fmt_value", "plot_heatmap", "plot_tornado", "render_sensitivity_html",
           "render_sensitivity_md", "sensitivity_document", "sensitivity_figures", "sensitivity_json", "tornado_span"]
