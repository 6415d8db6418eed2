"""Evidence as a person reads it: ``key: value`` lines, values in JSON's spelling (``true``, ``null``, ``"…"``
inside lists and objects), never Python's (``True``, ``None``, ``{'…': …}``) — what ``-v`` prints under a result.

A mapping becomes one line per key (``by_principal_type.User: 3``); a list of plain values one comma-separated
line; a list of objects one line per object (``items[0]: scope=/subscriptions/…, role=Owner``), cut at
:data:`MAX_ITEMS` with a line saying how many more the JSON report has. Deeper values are compact JSON. PURE: the
renderers call :func:`lines` and escape the text for their own medium.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from preflight.model import Evidence

MAX_ITEMS = 20  # objects of one list shown line by line; the JSON report has them all


def text(value: Any) -> str:
    """One value as readable text: strings as they are, everything else as compact JSON (``true``, ``null``,
    ``[…]``), lists of plain values comma-separated."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and value and all(_plain(v) for v in value):
        return ", ".join(v if isinstance(v, str) else _json(v) for v in value)
    return _json(value)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def _pairs(mapping: Mapping[str, Any]) -> str:
    """``k=v, k=v`` of an object's set fields (None and empty values left out)."""
    return ", ".join(f"{k}={text(v)}" for k, v in mapping.items() if v not in (None, "", [], {}))


def lines(evidence: Iterable[Evidence]) -> list[tuple[str, str]]:
    """Each evidence item as ``(key, text)`` pairs, expanded one level (see the module docstring)."""
    out: list[tuple[str, str]] = []
    for item in evidence:
        value = item.value
        if isinstance(value, Mapping) and value:
            out += [(f"{item.name}.{key}", text(inner)) for key, inner in value.items()]
        elif isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
            out += [(f"{item.name}[{i}]", _pairs(entry)) for i, entry in enumerate(value[:MAX_ITEMS])]
            if len(value) > MAX_ITEMS:
                out.append((item.name, f"… {len(value) - MAX_ITEMS} more in the JSON report"))
        else:
            out.append((item.name, text(value)))
    return out
