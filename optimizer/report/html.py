"""``report.html``: the same content as the Markdown post plus figures, in one self-contained file.

The CSS (``templates/style.css``) is inlined and every figure is a PNG ``data:`` URI, so the file
opens offline, can be attached to a forum post or archived as is. One inlined script
(``templates/report.js``) reflows tables too wide for the screen into cards and sorts a table by a
clicked column; without it the page still reads (tables keep their columns).
"""

from __future__ import annotations

from optimizer.report.run_view import build_view
from optimizer.report._format import confidence_label
from optimizer.report._jinja import environment, read_template_file
from optimizer.report.model import RunReport
from optimizer.report.section import Figure

TEMPLATE = "report.html.j2"
STYLESHEET = "style.css"


def figure_refs(report: RunReport) -> dict[str, Figure]:
    """The five standard figures with their captions, drawn by :mod:`optimizer.report.plots`."""
    from optimizer.report import plots

    hover: dict = {}
    images = plots.report_figures(report, hover)
    conf = confidence_label(report.method.get("alpha"))
    conf_txt = f" at {conf}" if conf else ""
    has_current_dist = report.bad_debt_current is not None
    captions = {
        "fig-params": (
            "Loan-to-value and liquidation threshold per asset"
            + (", current (light) beside recommended (dark); labels give the recommended value in "
               "percent and the change in basis points." if any(a.current for a in report.assets)
               else "; no current parameters were given.")
        ),
        "fig-bad-debt": (
            f"Distribution of aggregate bad debt per scenario under the recommended parameters, "
            f"log scale, with VaR and CVaR{conf_txt} marked"
            + ("; the outline is the distribution under the current parameters." if has_current_dist else ".")
        ),
        "fig-fund": (
            "Probability that bad debt exceeds the insurance fund, for a range of fund sizes; the "
            "dashed line marks the recommended fund."
        ),
        "fig-prices": (
            "One panel per asset: price history normalised to 1 at the first date (log scale where it "
            "moves more than 1.5x), above the conditional daily volatility used for the scenarios, on "
            "one scale for all assets."
        ),
        "fig-correlation": "Correlation of daily log returns between the assets.",
    }
    empty = {
        "fig-bad-debt": "No bad debt in any scenario, so there is no distribution to draw.",
        "fig-fund": "No fund-size curve was computed for this run.",
        "fig-prices": "No price history was supplied.",
        "fig-correlation": "No correlation matrix was supplied.",
        "fig-params": "No assets.",
    }
    return {
        fid: Figure(fid, captions[fid], images.get(fid), None, empty[fid], areas=hover.get(fid, ()))
        for fid in captions
    }


def render_html(report: RunReport) -> str:
    """Render ``report`` as one self-contained HTML document.

    Figures (ids): ``fig-params``, ``fig-bad-debt``, ``fig-fund``, ``fig-prices``,
    ``fig-correlation``; tables have ids starting with ``tbl-``.

    Parameters
    ----------
    report : RunReport

    Returns
    -------
    str
        The document, ending with a newline.
    """
    view = build_view(report)
    html = environment().get_template(TEMPLATE).render(
        v=view, figs=figure_refs(report), css=read_template_file(STYLESHEET)
    )
    return "\n".join(ln.rstrip() for ln in html.splitlines()).strip("\n") + "\n"
