"""``Report.tables`` for the human formats: which columns, which rows, and how many were left out.

A command may attach named tables of plain rows to its report (``preflight audit`` attaches one row per role
assignment — 100,000 rows in a large tenant). JSON and CSV carry every row; the HTML report and the Markdown
step summary are read by people (and GitHub rejects a step summary over 1 MiB), so they show the first rows
and say how many more the CSV/JSON hold. Generic on purpose: nothing here knows what a table is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HTML_MAX_ROWS = 500
MARKDOWN_MAX_ROWS = 50


@dataclass(frozen=True, slots=True)
class TableView:
    """What a renderer shows of one table: the columns (every key of the shown rows, first-seen order)."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)

    @property
    def note(self) -> str | None:
        return f"{self.more} more rows — see the CSV/JSON report" if self.more else None


def views(tables: Mapping[str, Sequence[Mapping[str, Any]]] | None, limit: int) -> list[TableView]:
    """One :class:`TableView` per table, at most ``limit`` rows each."""
    found: list[TableView] = []
    for name, rows in (tables or {}).items():
        shown = tuple(rows[:limit])
        columns = tuple(dict.fromkeys(key for row in shown for key in row))
        found.append(TableView(str(name), columns, shown, len(rows)))
    return found
