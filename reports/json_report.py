"""The JSON report, schema ``preflight.report/1`` (preflight/schemas/report-1.schema.json).

The schema is versioned: fields may be added within version 1; renaming or removing one bumps it.
"""

from __future__ import annotations

import json
from typing import Any

from preflight.model import Report
from preflight.reports import RenderOptions

name = "json"
media_type = "application/json"
SCHEMA = "preflight.report/1"


def to_document(report: Report) -> dict[str, Any]:
    """The report as plain JSON data (shared with renderers that embed it, e.g. HTML)."""
    return {
        "schema": SCHEMA,
        "tool": {"name": "azure-preflight", "version": report.tool_version},
        "target": dict(report.target),
        "started_at": report.started_at,
        "duration_ms": round(report.duration * 1000, 1),
        "summary": {"total": len(report.results), "worst": report.worst().value, "counts": report.counts()},
        "checks": [meta.to_dict() for meta in report.checks],
        "results": _results(report),
        # rows that already are dicts are not copied: an audit's 100,000 rows would double the report's memory
        **(
            {
                "tables": {
                    name: [row if isinstance(row, dict) else dict(row) for row in rows]
                    for name, rows in report.tables.items()
                }
            }
            if report.tables
            else {}
        ),
    }


def _results(report: Report) -> list[dict[str, Any]]:
    """Every result, each with ``cause``: the id of the result that tells its cause when several share it
    (:mod:`preflight.reports.causes`), so a consumer can group them as the human formats do."""
    from preflight.reports.causes import cause_of, group

    causes = cause_of(group(report.results))
    found = []
    for result in report.results:
        cause = causes.get(id(result))
        found.append({**result.to_dict(), "cause": cause.id if cause is not None else None})
    return found


def render(report: Report, options: RenderOptions) -> str:
    """Indented, except the tables' rows: one compact row per line. ``indent`` makes the json module fall back
    to its pure-Python encoder, which for an audit's 100,000 rows took seconds and ~860 MB at its peak; the
    rows go through the C encoder, and a row per line still reads and diffs well."""
    document = to_document(report)
    tables = document.pop("tables", None)
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if not tables:
        return text + "\n"
    compact = json.JSONEncoder(ensure_ascii=False, default=str).encode
    assert text.endswith("\n}")
    pieces = [text[:-2], ',\n  "tables": {']  # one join at the end: the rows are copied once, not per table
    for number, (table, rows) in enumerate(tables.items()):
        pieces.append(f"{',' if number else ''}\n    {compact(table)}: [")
        pieces.extend(f"{',' if i else ''}\n      {compact(row)}" for i, row in enumerate(rows))
        pieces.append("\n    ]" if rows else "]")
    pieces.append("\n  }\n}\n")
    return "".join(pieces)
