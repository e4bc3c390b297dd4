"""The jinja2 environment of the report templates (package data in ``optimizer/report/templates``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from optimizer.report._format import keep_units, md_cell, md_inline

if TYPE_CHECKING:
    import jinja2

TEMPLATE_PACKAGE = "optimizer.report"
TEMPLATE_DIR = "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One shared environment: strict undefined, autoescape for ``*.html.j2`` only.

    ``StrictUndefined`` turns a misspelt variable into an error instead of an empty string, so a
    template bug cannot silently drop a number from a governance report.
    """
    import jinja2

    from optimizer.report.plots import png_data_uri

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md_cell"] = md_cell
    env.filters["md_inline"] = md_inline
    env.filters["keep_units"] = keep_units
    env.filters["data_uri"] = png_data_uri
    return env


def read_template_file(name: str) -> str:
    """The text of a file shipped beside the templates (e.g. ``style.css``)."""
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR, name).read_text(encoding="utf-8")
