"""Reports: the :class:`RunReport` data model rendered to params.json, Markdown and HTML.

Stages hand over typed results; this package writes every sentence and format of a report. A run's
optional parts are :class:`Section` objects (paragraphs, bullets, :class:`Table`, :class:`Figure`,
and the data params.json keeps). Renderers read typed objects and nothing else;
:func:`write_report_dir` is the only function that writes to disk (the run, sensitivity, backtest
and recalibration reports all go through it), and it leaves either a complete report directory or
none.
"""

from __future__ import annotations

from optimizer.report.html import render_html
from optimizer.report.json_out import params_dict, params_json
from optimizer.report.markdown import render_markdown
from optimizer.report.model import FORMAT_VERSION, AssetResult, RunReport
from optimizer.report.section import Column, Figure, Format, Section, Table, text_table
from optimizer.report.writer import REPORT_FILES, check_out_dir, render_all, write_report, write_report_dir

__all__ = [
    "FORMAT_VERSION",
    "REPORT_FILES",
    "AssetResult",
    "Column",
    "Figure",
    "Format",
    "RunReport",
    "Section",
    "Table",
    "check_out_dir",
    "params_dict",
    "params_json",
    "render_all",
    "render_html",
    "render_markdown",
    "text_table",
    "write_report",
    "write_report_dir",
]
