"""Typed pieces of a report: :class:`Table`, :class:`Figure` and :class:`Section`.

A stage hands the report its results; ``optimizer.report`` turns them into these objects, and the
Markdown/HTML templates lay them out. A table declares the format of each column
(:class:`Format`) and keeps the raw values, so params.json can hold the numbers while the
documents show them formatted once, here. :func:`text_table` is the one helper for a table whose
cells are already text (the run's recommendations, a sweep's grid, a proposal's schedule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

from optimizer.report._format import fmt_bps, fmt_num, fmt_pct, fmt_prob, fmt_text, fmt_usd, fmt_usd_short

__all__ = [
    "Column",
    "Figure",
    "FigureRef",
    "HoverArea",
    "Format",
    "Section",
    "Table",
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


@dataclass(frozen=True)
class HoverArea:
    """A region of a figure's PNG and the value a reader sees when hovering it (an HTML image map).

    ``shape`` is ``"rect"`` (``coords`` = left, top, right, bottom) or ``"circle"`` (x, y, radius),
    in pixels of the PNG from its top-left corner.
    """

    shape: str
    coords: tuple[int, ...]
    text: str


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
    areas: tuple[HoverArea, ...] = ()

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
    appendix : bool
        Printed in the report's appendix (diagnostics and detail) rather than its main part.
    brief : Section or None
        For an appendix section, the summary the main part shows in its place (no data of its own).
    """

    title: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    data: Any = None
    data_key: str | None = None
    appendix: bool = False
    brief: Section | None = None

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
