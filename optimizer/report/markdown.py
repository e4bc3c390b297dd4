"""``report.md``: the run as a governance forum post, from ``templates/report.md.j2``."""

from __future__ import annotations

from optimizer.report.run_view import build_view
from optimizer.report._jinja import environment
from optimizer.report.model import RunReport

TEMPLATE = "report.md.j2"


def render_markdown(report: RunReport) -> str:
    """Render ``report`` as Markdown that also reads well as plain text.

    Sections: Summary, Recommendations, Risk metrics, Insurance fund, What drove each asset,
    References, the optional ``report.sections``, Data quality, Method and assumptions,
    Reproducibility. Figures are only in the HTML report.

    Parameters
    ----------
    report : RunReport

    Returns
    -------
    str
        The document, ending with a single newline.
    """
    view = build_view(report)
    text = environment().get_template(TEMPLATE).render(v=view)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Collapse runs of blank lines left by optional blocks, strip trailing spaces, end with one newline."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    out: list[str] = []
    in_code = False
    for ln in lines:
        if ln.startswith("```"):
            in_code = not in_code
        if not in_code and not ln and out and not out[-1]:
            continue
        out.append(ln)
    return "\n".join(out).strip("\n") + "\n"
