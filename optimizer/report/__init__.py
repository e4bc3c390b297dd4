"""Reports of a run: the :class:`RunReport` data model rendered to params.json, Markdown and HTML.

Renderers read a ``RunReport`` and nothing else; :func:`write_report_dir` is the only function that
writes to disk, and it leaves either a complete report directory or none.
"""

from __future__ import annotations

from optimizer.report.html import render_html
from optimizer.report.json_out import params_dict, params_json
from optimizer.report.markdown import render_markdown
from optimizer.report.model import FORMAT_VERSION, AssetResult, RunReport
from optimizer.report.writer import REPORT_FILES, render_all, write_report, write_report_dir

__all__ = [
    "FORMAT_VERSION",
    "REPORT_FILES",
    "AssetResult",
    "RunReport",
    "params_dict",
    "params_json",
    "render_all",
    "render_html",
    "render_markdown",
    "write_report",
    "write_report_dir",
]
