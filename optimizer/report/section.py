"""Typed pieces of a report: :class:`Table`, :class:`Figure` and :class:`Section`.

A stage hands the report its results; ``optimizer.report`` turns them into these objects, and the
Markdown/HTML templates lay them out. A table declares the format of each column
(:class:`Format`) and keeps the raw values, so params.json can hold the numbers while the
documents show them formatted once, here. :func:`text_table` is the one helper for a table whose
cells are already text (the run's recommendations, a sweep's grid, a proposal's schedule).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np

from optimizer.report._format import (
    fmt_auto,
    fmt_bps,
    fmt_num,
    fmt_pct,
    fmt_prob,
    fmt_text,
    fmt_usd,
    fmt_usd_short,
    humanize,
)

__all__ = [
    "Column",
    "Figure",
    "FigureRef",
    "Format",
    "Section",
    "Table",
    "legacy_section",
    "sections_from_legacy",
    "slug",
    "text_table",
]


class Format(str, Enum):
    """How the cells of a column are shown (the value itself is kept as given).

    ``TEXT`` prints text as is and numbers with 4 significant digits; ``NUM`` a plain number;
    ``PCT`` a fraction as a percentage with 2 decimals; ``PROB`` a probability with enough
    digits for rare events; ``USD`` dollars (whole from $1,000); ``USD_SHORT`` abbreviated
    dollars ($1.2M); ``BPS`` a change of a fraction in basis points with its sign.
    """

    TEXT = "text"
    NUM = "num"
    PCT = "pct"
    PROB = "prob"
    USD = "usd"
    USD_SHORT = "usd_short"
    BPS = "bps"

    def __call__(self, value: Any, decimals: int | None = None) -> str:
        """``value`` as text in this format; ``decimals`` applies to ``PCT`` and ``USD``."""
        if decimals is not None and self in (Format.PCT, Format.USD):
            return _FORMATTERS[self](value, decimals)
        return _FORMATTERS[self](value)


_FORMATTERS: dict[Format, Callable[[Any], str]] = {
    Format.TEXT: fmt_text,
    Format.NUM: fmt_num,
    Format.PCT: fmt_pct,
    Format.PROB: fmt_prob,
    Format.USD: fmt_usd,
    Format.USD_SHORT: fmt_usd_short,
    Format.BPS: fmt_bps,
}


@dataclass(frozen=True)
class Column:
    """One column: its header, the format of its cells and whether it is right-aligned.

    ``numeric = None`` decides from the cells: a column is right-aligned when it has rows and
    none of its cells is text (nor missing in a ``TEXT`` column). ``decimals`` overrides the
    format's usual number of decimals (``PCT`` and ``USD`` only).
    """

    label: str
    format: Format = Format.TEXT
    numeric: bool | None = None
    decimals: int | None = None


@dataclass(frozen=True, eq=False)
class Table:
    """A table of raw values with typed columns.

    Attributes
    ----------
    columns : tuple of Column
    rows : tuple of tuple
        One tuple of values per row; a short row is padded with missing values.
    id : str
        HTML element id (``tbl-...``); empty for tables only printed in Markdown.
    caption : str
    """

    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    id: str = ""
    caption: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))
        width = max([len(self.columns)] + [len(r) for r in self.rows])
        if width > len(self.columns):  # rows wider than the header: unnamed text columns
            object.__setattr__(self, "columns", self.columns + (Column(""),) * (width - len(self.columns)))

    @property
    def header(self) -> list[str]:
        """The column labels."""
        return [c.label for c in self.columns]

    @cached_property
    def cells(self) -> list[list[str]]:
        """Every cell as text, formatted by its column."""
        w = len(self.columns)
        return [[c.format(r[j] if j < len(r) else None, c.decimals) for j, c in enumerate(self.columns)]
                for r in self.rows] if w else [[] for _ in self.rows]

    @cached_property
    def numeric(self) -> list[bool]:
        """Right-align column j (declared, else inferred from the values)."""
        out = []
        for j, c in enumerate(self.columns):
            if c.numeric is not None:
                out.append(c.numeric)
                continue
            vals = [r[j] if j < len(r) else None for r in self.rows]
            out.append(bool(vals) and not any(
                isinstance(v, str) or (v is None and c.format is Format.TEXT) for v in vals))
        return out


def text_table(
    id: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[bool],
    caption: str = "",
) -> Table:
    """A table whose cells are already text; ``numeric[j]`` right-aligns column j."""
    cols = tuple(Column(str(label), Format.TEXT, bool(n)) for label, n in zip(columns, numeric, strict=True))
    return Table(cols, tuple(tuple(r) for r in rows), id, caption)


@dataclass(frozen=True, eq=False)
class Figure:
    """A figure: ``id`` is the HTML element id.

    The image is ``png`` (bytes), or drawn on first use by ``draw`` (a callable returning PNG
    bytes or None), or ``svg`` text. Without any, the HTML shows ``empty_text``. Markdown never
    draws: it only names the figure.
    """

    id: str
    caption: str
    image: bytes | None = None
    svg: str | None = None
    empty_text: str = "Not available for this run."
    draw: Callable[[], bytes | None] | None = field(default=None, repr=False)

    @cached_property
    def png(self) -> bytes | None:
        """The PNG bytes (drawn now when the figure was given as a callable)."""
        if self.image is not None:
            return self.image
        return None if self.draw is None else self.draw()


#: The figure record of the templates (the name the report modules used before).
FigureRef = Figure


@dataclass(frozen=True, eq=False)
class Section:
    """An optional section of the run report, added by a stage after the core answer.

    Attributes
    ----------
    title : str
        Empty for a section that only carries data (it is not printed).
    paragraphs, bullets : tuple of str
        Printed in this order, then ``tables``, then ``figures``.
    tables : tuple of Table
    figures : tuple of Figure
    data : JSON-able or None
        What params.json holds for the section (under ``data_key``); None: nothing.
    data_key : str or None
        The params.json key of ``data``; default the section's name in ``RunReport.sections``.
    """

    title: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    data: Any = None
    data_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("paragraphs", "bullets", "tables", "figures"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def shown(self) -> bool:
        """Whether the documents print the section (a data-only section is not printed)."""
        return bool(self.title or self.paragraphs or self.bullets or self.tables or self.figures)


def slug(s: str) -> str:
    """``"frontier_view" -> "frontier-view"``: the HTML id part of a name."""
    out = "".join(c if c.isalnum() else "-" for c in s.lower())
    return "-".join(p for p in out.split("-") if p) or "section"


# ---------------------------------------------------------------------------------------------------------------
# Sections still handed over as dicts (until every producer builds a Section)
# ---------------------------------------------------------------------------------------------------------------

#: Keys of a dict section that describe presentation (anything else is data).
_PRESENTATION_KEYS = ("title", "text", "bullets", "table", "tables", "figures")


def _legacy_table(spec: Mapping[str, Any], tid: str) -> Table:
    labels = [fmt_text(c) for c in spec.get("columns") or []]
    rows = [tuple(r) for r in spec.get("rows") or []]
    width = max([len(labels)] + [len(r) for r in rows]) if (labels or rows) else 0
    labels += [""] * (width - len(labels))
    formats = list(spec.get("formats") or [])
    formats += ["auto"] * (width - len(formats))
    numeric = [bool(rows)] * width
    for r in rows:
        for j in range(width):
            v = r[j] if j < len(r) else None
            if isinstance(v, str) or v is None and formats[j] == "text":
                numeric[j] = False
    cols = tuple(Column(lab, Format(f) if f in Format._value2member_map_ else Format.TEXT, n)
                 for lab, f, n in zip(labels, formats, numeric))
    return Table(cols, tuple(rows), fmt_text(spec.get("id") or tid), fmt_text(spec.get("caption") or ""))


def _legacy_figure(spec: Mapping[str, Any], fid: str) -> Figure:
    png = None
    if isinstance(spec.get("png"), (bytes, bytearray)):
        png = bytes(spec["png"])
    elif isinstance(spec.get("png_base64"), str):
        png = base64.b64decode(spec["png_base64"])
    svg = spec.get("svg") if isinstance(spec.get("svg"), str) else None
    draw = None
    if png is None and svg is None and isinstance(spec.get("plot"), Mapping):
        plot = spec["plot"]

        def draw() -> bytes | None:
            from optimizer.report import plots

            with plots.report_style():
                fig = plots.plot_spec(plot)
                return None if fig is None else plots.figure_png(fig)

    return Figure(fmt_text(spec.get("id") or fid), fmt_text(spec.get("caption") or ""), png, svg, draw=draw)


def _summarise_value(v: Any) -> str:
    if isinstance(v, Mapping):
        return f"{len(v)} entries (see params.json)"
    if isinstance(v, (list, tuple, np.ndarray)):
        if len(v) <= 6 and all(not isinstance(x, (Mapping, list, tuple)) for x in v):
            return fmt_text(list(v))
        return f"{len(v)} items (see params.json)"
    return fmt_text(v)


def _data_only(spec: Any, in_json: bool) -> bool:
    """A params.json entry that is a list or mapping of mappings without presentation keys."""
    if in_json and isinstance(spec, (list, tuple)):
        return all(isinstance(v, Mapping) for v in spec)
    return (
        in_json
        and isinstance(spec, Mapping)
        and bool(spec)
        and not any(k in spec for k in _PRESENTATION_KEYS)
        and all(isinstance(v, Mapping) for v in spec.values())
    )


def legacy_section(name: str, spec: Any, *, in_json: bool = False) -> Section:
    """A :class:`Section` from a section handed over as a plain value (the protocol before Section).

    A dict may use the presentation keys ``title``, ``text`` (str or list of paragraphs),
    ``bullets``, ``table`` / ``tables`` (``columns``, ``rows``, ``formats`` named as in
    :class:`Format`, ``caption``, ``id``) and ``figures`` (``id``, ``caption`` and one of ``png``,
    ``png_base64``, ``svg`` or ``plot`` for :func:`optimizer.report.plots.plot_spec`). A dict with
    none of them is shown as a key/value table; a string as a paragraph, a list as bullets. With
    ``in_json`` the whole value is also the section's params.json data (a list or mapping of
    mappings is then data only and not printed).
    """
    data = spec if in_json else None
    if _data_only(spec, in_json):
        return Section("", data=data)
    title = humanize(name)
    if isinstance(spec, str):
        return Section(title, paragraphs=(spec,), data=data)
    if isinstance(spec, (list, tuple)):
        return Section(title, bullets=tuple(fmt_text(x) for x in spec), data=data)
    if not isinstance(spec, Mapping):
        return Section(title, paragraphs=(fmt_text(spec),), data=data)
    sid = slug(name)
    title = fmt_text(spec.get("title") or title)
    if not any(k in spec for k in _PRESENTATION_KEYS[1:]):
        rows = [(humanize(str(k)), fmt_auto(str(k), v) if not isinstance(v, (Mapping, list, tuple, np.ndarray))
                 else _summarise_value(v)) for k, v in spec.items() if k != "title"]
        tables = (text_table(f"tbl-{sid}", ["Item", "Value"], rows, [False, True]),) if rows else ()
        return Section(title, tables=tables, data=data)
    text = spec.get("text")
    paragraphs = tuple(fmt_text(p) for p in ([text] if isinstance(text, str) else list(text or [])))
    bullets = tuple(fmt_text(x) for x in spec.get("bullets") or [])
    specs = ([spec["table"]] if isinstance(spec.get("table"), Mapping) else []) + [
        t for t in spec.get("tables") or [] if isinstance(t, Mapping)
    ]
    tables = tuple(_legacy_table(t, f"tbl-{sid}" + (f"-{i + 1}" if i else "")) for i, t in enumerate(specs))
    figures = tuple(_legacy_figure(f, f"fig-{sid}-{i + 1}")
                    for i, f in enumerate(spec.get("figures") or []) if isinstance(f, Mapping))
    return Section(title, paragraphs, bullets, tables, figures, data=data)


def sections_from_legacy(sections: Mapping[str, Any], json_names: Sequence[str]) -> dict[str, Section]:
    """Every entry of ``sections`` as a :class:`Section` (entries already typed are kept)."""
    return {name: s if isinstance(s, Section) else legacy_section(name, s, in_json=name in json_names)
            for name, s in sections.items()}
