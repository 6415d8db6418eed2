"""The audit's inventory: one plain row per role assignment, principal and role resolved. PURE (no I/O).

These rows are what ``--format csv`` prints, what the JSON report carries under ``tables.assignments`` and
what every finding in :mod:`preflight.audit.findings` is computed from — one encoding of the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from preflight.audit.collect import is_inherited, norm_scope, scope_level
from preflight.audit.principals import Principal
from preflight.rbac import RoleAssignment

COLUMNS = (
    "assignment_id",
    "scope",
    "scope_level",
    "subscription_id",
    "inherited",
    "role_name",
    "role_type",
    "role_definition_id",
    "principal_id",
    "principal_type",
    "principal_subtype",
    "principal_display_name",
    "principal_upn",
    "principal_app_id",
    "principal_exists",
    "created_on",
    "created_by",
    "created_by_name",
    "updated_on",
    "condition",
    "condition_version",
    "description",
)


@lru_cache(maxsize=65536)
def subscription_of(scope: str) -> str | None:
    parts = norm_scope(scope).strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "subscriptions" else None


def _subtype(principal: Principal | None) -> str | None:
    if principal is None:
        return None
    return principal.user_type or principal.service_principal_type


def build_rows(
    assignments: Sequence[RoleAssignment],
    principals: Mapping[str, Principal] | None,
    definitions: Mapping[str, Mapping[str, Any]],
    roots: Sequence[str],
) -> tuple[dict[str, Any], ...]:
    """Join assignments with principals (None when the directory could not be read: existence unknown) and
    role definitions (by GUID). Sorted by scope, role and principal so reports are stable."""
    rows = []
    for a in assignments:
        principal = principals.get(a.principal_id) if principals is not None else None
        creator = principals.get(a.created_by) if principals is not None and a.created_by else None
        definition = definitions.get(a.role_guid) or {}
        props = definition.get("properties") or {}
        exists = None if principals is None else bool(principal and principal.exists)
        rows.append(
            {
                "assignment_id": a.id,
                "scope": a.scope,
                "scope_level": scope_level(a.scope),
                "subscription_id": subscription_of(a.scope),
                "inherited": is_inherited(a.scope, roots),
                "role_name": props.get("roleName") or (a.role_guid if not definition else None),
                "role_type": props.get("type"),
                "role_definition_id": a.role_definition_id,
                "principal_id": a.principal_id,
                # ARM's principalType stays authoritative for deleted principals (Graph no longer knows them)
                "principal_type": principal.kind if principal is not None and principal.exists else a.principal_type,
                "principal_subtype": _subtype(principal),
                "principal_display_name": principal.display_name
                if principal is not None and principal.exists
                else ("Unknown" if exists is False else None),
                "principal_upn": principal.user_principal_name if principal is not None else None,
                "principal_app_id": principal.app_id if principal is not None else None,
                "principal_exists": exists,
                "created_on": a.created_on,
                "created_by": a.created_by,
                "created_by_name": (creator.display_name or creator.user_principal_name)
                if creator is not None and creator.exists
                else None,
                "updated_on": a.updated_on,
                "condition": a.condition,
                "condition_version": a.condition_version,
                "description": a.description,
            }
        )
    rows.sort(key=lambda r: (norm_scope(r["scope"]), str(r["role_name"] or ""), r["principal_id"]))
    return tuple(rows)
