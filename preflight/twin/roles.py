"""The built-in Azure role definitions the twin ships, in the ARM API shape.

Real Azure knows every built-in role in every subscription; the twin ships the subset this project uses
(``data/builtin_roles.json``, converted from ``az role definition list`` output of the public reference data,
see /work/shared/data/azure-roles/README.md). Scenarios refer to them by name or GUID; this module resolves
both. Look roles up by GUID when you can: Microsoft renames roles under the same GUID.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

ROLE_DEFINITION_PROVIDER = "/providers/Microsoft.Authorization/roleDefinitions/"


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Any], ...]:
    text = resources.files("preflight.twin.data").joinpath("builtin_roles.json").read_text("utf-8")
    return tuple(json.loads(text))


def builtin_roles() -> list[dict[str, Any]]:
    """All shipped built-in role definitions (deep copies: callers may mutate them), tenant-level ids
    (``/providers/Microsoft.Authorization/roleDefinitions/{guid}``)."""
    return copy.deepcopy(list(_load()))


def find_builtin(name_or_guid: str) -> dict[str, Any] | None:
    """The built-in role whose roleName (case-insensitive) or GUID is ``name_or_guid`` (a copy), or None."""
    found = builtin_view(name_or_guid)
    return copy.deepcopy(dict(found)) if found is not None else None


def builtin_view(name_or_guid: str) -> Mapping[str, Any] | None:
    """Like :func:`find_builtin` but the shared, read-only definition (no copy: hot path of RBAC checks)."""
    key = name_or_guid.strip().lower()
    if key.startswith("/") and ROLE_DEFINITION_PROVIDER.lower() in key:
        key = key.rsplit("/", 1)[-1]
    return _index().get(key)


@lru_cache(maxsize=1)
def _index() -> dict[str, Mapping[str, Any]]:
    index: dict[str, Mapping[str, Any]] = {}
    for role in _load():
        index[role["name"].lower()] = role
        index.setdefault(role["properties"]["roleName"].lower(), role)
    return index


def builtin_role_names() -> list[str]:
    """The roleName of every shipped built-in role, for error messages and docs."""
    return [r["properties"]["roleName"] for r in _load()]


def role_definition_id(guid: str, scope: str) -> str:
    """The id ARM gives a role definition read at ``scope``: subscription-prefixed inside a subscription,
    tenant-level (``/providers/...``) at management-group or tenant scope — as ARM answers."""
    sub = subscription_of(scope)
    prefix = f"/subscriptions/{sub}" if sub else ""
    return f"{prefix}{ROLE_DEFINITION_PROVIDER}{guid}"


def subscription_of(scope: str) -> str | None:
    """The subscription id in an ARM scope, or None for tenant / management-group scopes."""
    parts = scope.strip("/").split("/")
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return None
