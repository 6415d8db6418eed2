"""CSV: one row per table row (``preflight audit``: one per role assignment), else one per result.

Generic on purpose: the columns are the keys of the report's first table (``Report.tables``), in their order,
so this renderer knows nothing about the audit. Cells that a spreadsheet would run as a formula (a display
name such as ``=HYPERLINK(…)``) are prefixed with ``'`` — directory data is attacker-controlled text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from preflight.model import Report
from preflight.reports import RenderOptions

name = "csv"
media_type = "text/csv"
RESULT_COLUMNS = ("check_id", "status", "severity", "subject", "summary")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_START)


def cell(value: Any) -> str:
    """A value as CSV text: empty for None, true/false for booleans, lists joined, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows[:1]:
        columns.update(dict.fromkeys(row))
    for row in rows[1:]:
        for key in row:  # rows may add keys: keep every column, first-row order first
            if key not in columns:
                columns[key] = None
    return list(columns)


def _write(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    write = writer.writerow
    for row in rows:  # plain, formula-free text as is: 100,000 audit rows × 22 cells would call cell() 2.2M times
        write([v if type(v) is str and v[:1] not in _FORMULA_FIRST else cell(v) for v in map(row.get, columns)])
    return out.getvalue()


def render(report: Report, options: RenderOptions) -> str:
    if report.tables:
        rows = next(iter(report.tables.values()))
        return _write(_columns(rows), rows)
    return _write(
        RESULT_COLUMNS,
        (
            {
                "check_id": r.check_id,
                "status": r.status.value,
                "severity": r.severity.value,
                "subject": r.subject,
                "summary": r.summary,
            }
            for r in report.results
        ),
    )
