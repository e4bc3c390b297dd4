"""Data findings: one record per problem found in a price file, and how they are reported.

A finding is *fatal* when the value cannot be used at all (a zero price, a duplicated date, ...):
the loader refuses the data and raises :class:`~optimizer.exceptions.DataError` listing every fatal
finding. A non-fatal finding flags a real artefact (a gap, a stale run, a spike, a depeg) that the
loader keeps, records in :attr:`PriceData.findings` and summarises with one
:class:`~optimizer.exceptions.DataQualityWarning` per kind. The data are never repaired behind the
user's back.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from optimizer.exceptions import DataError, DataQualityWarning

#: Kinds that make a value or a whole file unusable.
FATAL_KINDS: frozenset[str] = frozenset(
    {
        "non_positive",
        "nan",
        "infinite",
        "unparsable_value",
        "implausible_move",
        "unparsable_date",
        "duplicate_date",
        "unsorted_dates",
        "empty_file",
        "missing_asset",
        "short_history",
        "bad_header",
        "duplicate_column",
        "malformed_row",
        "unreadable",
    }
)

#: What to do about each non-fatal kind; appended to the one warning issued per kind.
_WARNING_HINTS: dict[str, str] = {
    "gap": "Returns spanning a gap are never computed or filled: PriceData.returns() drops "
    "their dates (gaps='drop') or leaves that asset's cells NaN (gaps='keep').",
    "stale": "Pass the asset in `stablecoins=` if it is pegged, or raise `stale_run_days`.",
    "outlier": "The values are kept; raise `outlier_sigma` to flag fewer.",
    "depeg": "The values are kept; widen `depeg_tolerance` to flag fewer.",
    "ends_early": "The asset has no price on the last dates of the window; "
    "returns() stops at its last price.",
    "no_volume": "Volumes are left missing (NaN), never filled.",
    "zero_value": "Zero volumes or market caps are kept as 0.0; "
    "treat them as missing where that matters.",
    "filled": "Days the first source lacks come from the next one in `sources` (one source's "
    "own value per day, never blended).",
    "overlap": "A lower-priority source was compared with the series it fills; "
    "beyond `overlap_tolerance` the load fails.",
    "unfilled": "Too few common days to check the source, so it was not used.",
    "quote": "Prices in another quote currency are used as USD, not converted.",
    "proxied": "Days before the asset's first price follow its declared proxy "
    "(short_history = 'proxy'), scaled by the volatility ratio on their overlap.",
}

#: Non-fatal kinds that record a stated choice or a passed check rather than a problem: they stay
#: in PriceData.findings and the report, without a warning.
RECORD_KINDS: frozenset[str] = frozenset({"overlap", "quote"})

#: Template of the one DataQualityWarning issued per kind of non-fatal finding.
DATA_QUALITY_WARNING = (
    "{count} '{kind}' finding(s) in {files} for {assets}; see PriceData.findings "
    "(each names file, asset and dates). {hint}"
)

# A DataError lists at most this many findings; `riskopt data check` prints all of them.
_MAX_LISTED = 25


@dataclass(frozen=True)
class DataFinding:
    """One problem found in a data file.

    Attributes
    ----------
    kind : str
        What was found. Fatal kinds: ``"non_positive"``, ``"nan"``, ``"infinite"``,
        ``"unparsable_value"``, ``"implausible_move"``, ``"unparsable_date"``, ``"duplicate_date"``, ``"unsorted_dates"``,
        ``"empty_file"``, ``"missing_asset"``, ``"short_history"`` (and the structural
        ``"bad_header"``, ``"duplicate_column"``, ``"malformed_row"``, ``"unreadable"``).
        Non-fatal flags: ``"gap"``, ``"stale"``, ``"outlier"``, ``"depeg"``, ``"ends_early"``,
        ``"no_volume"``, ``"zero_value"``, and from merging sources ``"filled"``, ``"overlap"``,
        ``"unfilled"``, ``"quote"``; from a declared proxy ``"proxied"`` (and ``"proxy"``, a
        ``price_ticker``).
    file : str
        File name (no directory), e.g. ``"binance_prices_daily.csv"``.
    asset : str or None
        Column the finding is about; None for problems of the whole file or of the date column.
    start, end : str or None
        ISO dates (``YYYY-MM-DD``) of the first and last affected day; equal for a single day.
        For prices loaded through :func:`load_prices` they are aligned dates (see ``SOURCES``).
    detail : str
        Human-readable description, including the offending value where there is one.
    fatal : bool
        True when the data cannot be used as they are.
    """

    kind: str
    file: str
    asset: str | None
    start: str | None
    end: str | None
    detail: str
    fatal: bool

    def message(self) -> str:
        """Return the finding as one line naming file, asset and date(s).

        Returns
        -------
        str
            e.g. ``"binance_prices_daily.csv, asset 'usdc', 2022-09-27 to 2023-03-10: [gap] ..."``.
        """
        parts = [self.file]
        if self.asset is not None:
            parts.append(f"asset '{self.asset}'")
        if self.start is not None:
            same_day = self.end is None or self.end == self.start
            parts.append(self.start if same_day else f"{self.start} to {self.end}")
        return f"{', '.join(parts)}: [{self.kind}] {self.detail}"


def finding(
    kind: str,
    file: str,
    asset: str | None,
    start: str | None,
    end: str | None,
    detail: str,
) -> DataFinding:
    """Build a :class:`DataFinding` whose ``fatal`` flag follows from ``kind``."""
    return DataFinding(kind, file, asset, start, end, detail, kind in FATAL_KINDS)


def raise_fatal(header: str, findings: Sequence[DataFinding], *, hint: str = "") -> None:
    """Raise one :class:`DataError` listing ``findings`` under ``header`` (no-op when empty).

    A single finding makes a one-line message; several are listed one per indented line.
    """
    if not findings:
        return
    if len(findings) == 1:  # one problem, one line: the header, the finding, the hint
        raise DataError(f"{header.removesuffix(': 1 problem(s)')}: {findings[0].message()}" + (f" ({hint.rstrip('.')})" if hint else ""))
    lines = [header]
    lines += [f"  - {f.message()}" for f in findings[:_MAX_LISTED]]
    if len(findings) > _MAX_LISTED:
        lines.append(f"  ... and {len(findings) - _MAX_LISTED} more")
    if hint:
        lines.append(hint)
    raise DataError("\n".join(lines))


def warn_by_kind(findings: Iterable[DataFinding], *, stacklevel: int = 3) -> None:
    """Issue one :class:`DataQualityWarning` per kind of non-fatal finding, summarising the count.

    One warning per kind (not per finding) keeps the console readable on real data, where a single
    stablecoin can have dozens of flagged days; the full list stays in :attr:`PriceData.findings`.
    """
    by_kind: dict[str, list[DataFinding]] = {}
    for f in findings:
        if not f.fatal and f.kind not in RECORD_KINDS:
            by_kind.setdefault(f.kind, []).append(f)
    for kind, group in by_kind.items():
        files = ", ".join(dict.fromkeys(f.file for f in group))
        assets = ", ".join(dict.fromkeys(f.asset for f in group if f.asset)) or "the file"
        message = DATA_QUALITY_WARNING.format(
            count=len(group),
            kind=kind,
            files=files,
            assets=assets,
            hint=_WARNING_HINTS.get(kind, ""),
        )
        warnings.warn(message.rstrip(), DataQualityWarning, stacklevel=stacklevel)
