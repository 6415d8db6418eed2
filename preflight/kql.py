"""KQL string literals, pure: the one quoting function every Resource Graph query is built with.

One definition on purpose: the product builds its queries with it (preflight.azure.resource_graph) and the twin
answers exactly those queries, so two copies could drift apart and make the twin accept what Azure refuses.
"""

from __future__ import annotations


def kql_string(value: str) -> str:
    """A KQL single-quoted string literal (backslash and quote escaped) — never splice raw input into KQL."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
