"""The audit's findings, each computed from plain data: inventory rows (preflight.audit.inventory), role
definitions (ARM shape, by GUID) and application credentials. PURE: no I/O, no clock (``now`` is passed in).

Roles are identified by GUID, never by name: Microsoft renames roles under the same GUID, and custom roles may
borrow a built-in's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from preflight.rbac import role_definition_guid

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
PRIVILEGED_ROLES = frozenset({OWNER, CONTRIBUTOR, USER_ACCESS_ADMINISTRATOR, RBAC_ADMINISTRATOR})

# Roles that grant data access to Azure AI accounts: they belong on the account (or its resource group), not on
# a whole subscription or management group. Known GUIDs, plus any role whose dataActions reach
# Microsoft.CognitiveServices (see :func:`is_ai_data_role`).
AI_DATA_ROLES = frozenset(
    {
        "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",  # Cognitive Services OpenAI User
        "a001fd3d-188f-4b5d-821b-7da978bf7442",  # Cognitive Services OpenAI Contributor
        "a97b65f3-24c7-4388-baec-2e87135dc908",  # Cognitive Services User
        "b59867f0-fa02-499b-be73-45a86b5b3e1c",  # Cognitive Services Data Reader
        "f2dc8367-1007-4938-bd23-fe263f013447",  # Cognitive Services Speech User
        "64702f94-c441-49e6-a78b-ef80e0188fee",  # Azure AI Developer
        "53ca6127-db72-4b80-b1b0-d745d6d5456d",  # Foundry User
    }
)
BROAD_LEVELS = frozenset({"tenant", "managementGroup", "subscription"})
SP_TYPES = frozenset({"ServicePrincipal", "MSI", "ManagedIdentity"})
# "the tenant otherwise uses groups": at least this share of user-or-group assignments go to groups
GROUP_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of problem: the offending rows (inventory rows, or other plain rows) and a short reason."""

    kind: str
    rows: tuple[Mapping[str, Any], ...]
    note: str = ""

    @property
    def count(self) -> int:
        return len(self.rows)


# preflight.rbac's reading of a role id, cached: a few thousand distinct ids (roles × subscriptions) across
# 100,000 rows, every finding
guid_of = lru_cache(maxsize=65536)(role_definition_guid)


def orphaned(rows: Sequence[Mapping[str, Any]]) -> Finding:
    """Assignments to principals that no longer exist (shown as "Unknown" in the portal)."""
    return Finding("orphaned", tuple(r for r in rows if r.get("principal_exists") is False))


def _is_service_principal(row: Mapping[str, Any]) -> bool:
    return str(row.get("principal_type")) in SP_TYPES


def privileged_service_principals(rows: Sequence[Mapping[str, Any]]) -> Finding:
    """Owner / Contributor / User Access Administrator / RBAC Administrator held by a service principal or a
    managed identity at subscription, management-group or tenant scope."""
    return Finding(
        "privileged-service-principals",
        tuple(
            r
            for r in rows
            if guid_of(str(r.get("role_definition_id", ""))) in PRIVILEGED_ROLES
            and r.get("scope_level") in BROAD_LEVELS
            and _is_service_principal(r)
            and r.get("principal_exists") is not False
        ),
    )


def privileged_guests(rows: Sequence[Mapping[str, Any]]) -> Finding:
    """Privileged roles (Owner, Contributor, User Access Administrator, RBAC Administrator) held by guests."""
    return Finding(
        "privileged-guests",
        tuple(
            r
            for r in rows
            if guid_of(str(r.get("role_definition_id", ""))) in PRIVILEGED_ROLES
            and r.get("principal_type") == "User"
            and r.get("principal_subtype") == "Guest"
        ),
    )


def direct_user_assignments(rows: Sequence[Mapping[str, Any]], group_share: float = GROUP_SHARE) -> Finding:
    """Assignments made directly to users when the tenant otherwise grants through groups (at least
    ``group_share`` of the user-or-group assignments go to groups): the odd ones out escape group reviews."""
    users = [r for r in rows if r.get("principal_type") == "User" and r.get("principal_exists") is not False]
    groups = sum(1 for r in rows if r.get("principal_type") == "Group")
    total = len(users) + groups
    if not users or not groups or groups / total < group_share:
        note = "the tenant grants mostly to users directly" if users and groups else ""
        return Finding("direct-user-assignments", (), note)
    return Finding(
        "direct-user-assignments", tuple(users), f"{groups} of {total} user-or-group assignments go to groups"
    )


def is_ai_data_role(guid: str, definition: Mapping[str, Any] | None) -> bool:
    """A role that grants Azure AI data access: a known AI data role, or one whose dataActions reach
    Microsoft.CognitiveServices."""
    if guid.lower() in AI_DATA_ROLES:
        return True
    for block in ((definition or {}).get("properties") or {}).get("permissions") or []:
        if any(
            str(d).lower().startswith(("microsoft.cognitiveservices/", "*")) for d in block.get("dataActions") or []
        ):
            return True
    return False


def broad_data_roles(rows: Sequence[Mapping[str, Any]], definitions: Mapping[str, Mapping[str, Any]]) -> Finding:
    """AI data roles granted at subscription, management-group or tenant scope instead of on the account."""
    data_role: dict[str, bool] = {}  # per role, not per row
    for guid in {guid_of(str(r.get("role_definition_id", ""))) for r in rows}:
        data_role[guid] = is_ai_data_role(guid, definitions.get(guid))
    return Finding(
        "broad-data-roles",
        tuple(
            r
            for r in rows
            if r.get("scope_level") in BROAD_LEVELS and data_role[guid_of(str(r.get("role_definition_id", "")))]
        ),
    )


def _wildcards(patterns: Iterable[Any]) -> list[str]:
    """Patterns with ``*`` that grant more than reads (``*/read`` style patterns are Reader-like, not flagged)."""
    return [str(p) for p in patterns if "*" in str(p) and not str(p).lower().endswith("/read")]


def custom_role_wildcards(
    definitions: Mapping[str, Mapping[str, Any]], rows: Sequence[Mapping[str, Any]] = ()
) -> Finding:
    """Custom roles with ``*`` in ``actions`` or ``dataActions``; each row names the role, its wildcards and
    how many assignments use it."""
    uses: dict[str, int] = {}
    for r in rows:
        guid = guid_of(str(r.get("role_definition_id", "")))
        uses[guid] = uses.get(guid, 0) + 1
    found = []
    for guid, rd in sorted(definitions.items()):
        props = rd.get("properties") or {}
        if str(props.get("type", "")).lower() != "customrole":
            continue
        actions, data = [], []
        for block in props.get("permissions") or []:
            actions += _wildcards(block.get("actions") or [])
            data += _wildcards(block.get("dataActions") or [])
        if actions or data:
            found.append(
                {
                    "role_name": props.get("roleName"),
                    "role_guid": guid,
                    "actions": actions,
                    "data_actions": data,
                    "assignments": uses.get(guid, 0),
                    "assignable_scopes": list(props.get("assignableScopes") or []),
                }
            )
    return Finding("custom-role-wildcards", tuple(found))


def classic_administrators(admins: Sequence[Mapping[str, Any]]) -> Finding:
    """Classic subscription administrators (Service Administrator, Co-Administrators): retired in favour of
    Azure RBAC, every one still present is an unmanaged Owner-equivalent."""
    return Finding(
        "classic-administrators",
        tuple(
            {"subscription": a.get("subscription"), "email": a.get("emailAddress"), "role": a.get("role")}
            for a in admins
        ),
    )


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if "." in text:  # Graph / ARM use up to 7 fractional digits; Python takes 6
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expiring_credentials(
    rows: Sequence[Mapping[str, Any]], credentials: Mapping[str, Sequence[Any]], now: datetime, days: int = 30
) -> Finding:
    """Secrets and certificates of service principals that hold role assignments and are expired or expire
    within ``days``: whatever runs as them is about to stop authenticating. An application is flagged only
    when it has no credential valid beyond the window (a rotated app with a fresh secret is fine)."""
    holders: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        app_id = str(r.get("principal_app_id") or "").lower()
        if app_id and r.get("principal_subtype") != "ManagedIdentity" and _is_service_principal(r):
            holders.setdefault(app_id, r)
    found = []
    horizon = now.timestamp() + days * 86400
    for app_id, row in sorted(holders.items()):
        creds = list(credentials.get(app_id) or [])
        ends = [(c, _parse(getattr(c, "end", None))) for c in creds]
        if not ends or any(e is not None and e.timestamp() > horizon for _, e in ends):
            continue
        for cred, end in ends:
            if end is None:
                continue
            found.append(
                {
                    "app_id": app_id,
                    "principal": row.get("principal_display_name"),
                    "principal_id": row.get("principal_id"),
                    "credential": cred.kind,
                    "name": cred.name,
                    "key_id": cred.key_id,
                    "ends": end.isoformat(),
                    "expired": end.timestamp() <= now.timestamp(),
                    "days_left": int((end.timestamp() - now.timestamp()) // 86400),
                }
            )
    return Finding("expiring-credentials", tuple(found))


# --- who and where, in the words a reviewer acts on ----------------------------------------------------------------

_KINDS = {
    "User": "user",
    "Group": "group",
    "ServicePrincipal": "service principal",
    "ForeignGroup": "foreign group",
    "Device": "device",
    "MSI": "managed identity",
    "ManagedIdentity": "managed identity",
}
# what ``az role assignment create --assignee-principal-type`` accepts
ASSIGNEE_TYPES = frozenset({"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"})


def principal_kind(row: Mapping[str, Any]) -> str:
    """``guest user``, ``managed identity``, ``service principal``, ``group`` …: the type a reviewer reads, from
    ARM's principalType and the directory's userType / servicePrincipalType."""
    kind = str(row.get("principal_type") or "")
    subtype = row.get("principal_subtype")
    if kind == "User" and subtype == "Guest":
        return "guest user"
    if subtype == "ManagedIdentity":
        return "managed identity"
    return _KINDS.get(kind, kind or "principal")


def principal_name(row: Mapping[str, Any]) -> str:
    """The display name, else the object id (a deleted principal has only that)."""
    if row.get("principal_exists") is False:
        return str(row.get("principal_id"))
    return str(row.get("principal_display_name") or row.get("principal_id"))


def principal_label(row: Mapping[str, Any]) -> str:
    """The principal's kind and what identifies it besides its name: the UPN of a user, the app id of an
    application; ``deleted …`` (the portal's "Unknown") when the directory no longer has it."""
    kind = principal_kind(row)
    if row.get("principal_exists") is False:
        return f'deleted {kind} ("Unknown" in the portal)'
    if row.get("principal_upn"):
        return f"{kind} {row['principal_upn']}"
    if row.get("principal_app_id"):
        return f"{kind}, app id {row['principal_app_id']}"
    return f"{kind}, object id {row.get('principal_id')}"


def assignment_label(row: Mapping[str, Any]) -> str:
    """``Owner on /subscriptions/…``: the role and the scope it is granted at."""
    return f"{row.get('role_name') or guid_of(str(row.get('role_definition_id', '')))} on {row.get('scope')}"


def assignee_type(row: Mapping[str, Any]) -> str:
    """The ``--assignee-principal-type`` for this row's principal (a managed identity is a ServicePrincipal)."""
    kind = str(row.get("principal_type") or "")
    return kind if kind in ASSIGNEE_TYPES else "ServicePrincipal"
