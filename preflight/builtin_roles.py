"""The least-privilege **built-in** role for an action, from every built-in role definition Azure ships.

Why: the error a stuck developer pastes names what is missing ("lacks the required data action
``Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action``", ARM's ``AuthorizationFailed``
with its action), not which role to ask for. The answer is a computation over real data, not a hand-kept table:
the 928 built-in role definitions (``az role definition list``), shipped in a compact form as
``preflight/builtin_roles.json`` by ``tools/generate_builtin_roles.py``, ranked by :func:`preflight.rbac.roles_granting`
with the shipped provider-operations catalogue (``preflight/provider_operations.json``), so "least privilege"
means "grants the fewest known operations", counted exactly, with Azure's own wildcard rules.

Pure: no I/O but reading package data, and that lazily on the first question (never at import).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from preflight.rbac import RoleDefinition, granted_operations, roles_granting

__all__ = [
    "ROLES_FILE",
    "BuiltinRole",
    "builtin_roles",
    "compact_role",
    "least_privilege",
    "least_privilege_role",
    "roles_json",
]

ROLES_FILE = "builtin_roles.json"

SOURCE = (
    "az role definition list output (all built-in roles; per role only its GUID as `name`, `roleName` and "
    "its permission blocks), from /work/shared/data/azure-roles (easimon/azure-builtin-roles, MIT, snapshot "
    "db0b2258505032bd004bc356dd3eec87250d5b99); regenerate with tools/generate_builtin_roles.py"
)

# The permission keys that decide a grant (preflight.rbac.Permission); ``conditionVersion`` does not.
_PERMISSION_KEYS = ("actions", "notActions", "dataActions", "notDataActions", "condition")


def _fields(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    """ARM REST nests a definition's fields under ``properties``; ``az`` output flattens them."""
    inner = definition.get("properties")
    return inner if isinstance(inner, Mapping) else definition


def compact_role(definition: Mapping[str, Any]) -> dict[str, Any]:
    """One role definition reduced to what deciding a grant needs, in ARM's own key names (so
    :meth:`RoleDefinition.from_arm` reads it unchanged): ``name`` (the GUID — roles are joined by GUID, as
    built-ins get renamed), ``roleName`` and the permission blocks without empty lists or null conditions."""
    fields = _fields(definition)
    blocks = []
    for permission in fields.get("permissions") or ():
        block = {key: permission[key] for key in _PERMISSION_KEYS if permission.get(key)}
        blocks.append(block)
    guid = str(definition.get("name") or str(definition.get("id") or "").rsplit("/", 1)[-1]).lower()
    return {"name": guid, "roleName": str(fields.get("roleName") or ""), "permissions": blocks}


def roles_json(definitions: Iterable[Mapping[str, Any]]) -> str:
    """The text of the shipped file for these definitions (what the generator writes and the test compares
    with): one role per line, sorted by name then GUID, so a new snapshot's diff shows exactly which roles
    changed."""
    roles = sorted((compact_role(d) for d in definitions), key=lambda r: (r["roleName"].casefold(), r["name"]))
    lines = ",\n".join(json.dumps(role, separators=(",", ":"), ensure_ascii=False) for role in roles)
    return '{"_source": ' + json.dumps(SOURCE) + ',\n"roles": [\n' + lines + "\n]}\n"


@cache
def builtin_roles() -> tuple[RoleDefinition, ...]:
    """Every built-in role definition shipped with the package, read once on first use."""
    raw = json.loads(resources.files("preflight").joinpath(ROLES_FILE).read_text(encoding="utf-8"))
    return tuple(RoleDefinition.from_arm(role) for role in raw["roles"])


@cache
def _operations() -> tuple[tuple[str, bool], ...]:
    """The shipped provider-operations catalogue as ``(name, is_data_action)`` pairs, what least privilege is
    counted over."""
    from preflight.operations import catalogue

    return tuple(
        (f"{namespace}/{name}", key == "dataActions")
        for namespace, planes in catalogue().items()
        for key in ("actions", "dataActions")
        for name in planes.get(key, ())
    )


@dataclass(frozen=True, slots=True)
class BuiltinRole:
    """A recommended built-in role: ``guid`` to assign it by (names change, GUIDs do not), ``name`` to show,
    and ``granted_operations``, how many operations of the shipped catalogue it grants — the measure it won
    on (operations of other resource providers are not counted; see :func:`least_privilege`)."""

    guid: str
    name: str
    granted_operations: int


# Lifecycle words Azure puts in built-in role names: "Purview role 1 (Deprecated)", "Security Manager (Legacy)",
# "Cognitive Services Data Contributor (Preview)", "Microsoft Discovery Tools Reader - Preview". Every deprecated
# built-in in the data says so in its name; descriptions are not used ("Planned DEPRECATION on March 31, 2028"
# is still a current role).
_RETIRED = re.compile(r"\((?:deprecated|legacy)\)", re.IGNORECASE)
_PREVIEW = re.compile(r"(?:\(preview\)|- preview)\s*$", re.IGNORECASE)


_DEPRECATED = 2
#: Roles made for a Microsoft service's own identity, not for a person or an app: Microsoft Defender's plans
#: ("Defender AI": "Service role that provides permissions for Microsoft Defender for AI"; "AI Model Scanner
#: Operator": "Grants Microsoft Defender for AI access …") and the "… Service Role" family. Strictly smaller
#: than the roles the guides name (Defender CSPM reads Foundry agents; Defender AI reads accounts), they are
#: never the advice a developer needs — recommended only when nothing else grants the action.
_SERVICE_ROLE = re.compile(r"^(?:Defender\b|AI Model Scanner\b)|\bService Role\b", re.IGNORECASE)


def _lifecycle_rank(name: str) -> int:
    """0 for a generally available role, 1 for a preview one (subject to change), 2 for a deprecated one."""
    return _DEPRECATED if _RETIRED.search(name) else 1 if _PREVIEW.search(name) else 0


def least_privilege(
    action: str, definitions: Sequence[RoleDefinition], operations: Sequence[tuple[str, bool]], *, data_action: bool
) -> BuiltinRole | None:
    """The pure core of :func:`least_privilege_role`: among ``definitions``, the role that grants ``action``
    on the given plane unconditionally and grants the fewest of ``operations``; ``None`` when none does.

    The order is :func:`roles_granting`'s (fewest catalogue operations, then a wildcard-breadth estimate, then
    the name), with two lifecycle rules on top. A deprecated or legacy role is recommended only when no current
    role grants the action at all — a mere tie-break would never fire on the real data, where "Purview role 3
    (Deprecated)" is strictly smaller than Reader for ``Microsoft.Purview/accounts/read`` and "Security Manager
    (Legacy)" ("Please use Security Administrator instead") than Reader for ``Microsoft.ClassicCompute/*/read``;
    and among roles granting equally few operations a generally available role beats a preview one. Service roles
    (:data:`_SERVICE_ROLE`) count as deprecated: a last resort.
    Roles whose only grant is under an ABAC condition are not candidates (roles_granting excludes them: the
    condition might not allow it). Operations of providers outside ``operations`` are not counted, so a role
    granting one catalogue operation plus a few of another provider still counts as 1.
    """
    granting = roles_granting(action, definitions, data_action=data_action, operations=operations)
    ordered = [
        role
        for role in granting
        if _lifecycle_rank(role.role_name) < _DEPRECATED and not _SERVICE_ROLE.search(role.role_name)
    ] or granting
    if not ordered:
        return None
    smallest = granted_operations(ordered[0], operations)
    tied = [ordered[0]]
    for role in ordered[1:]:
        if granted_operations(role, operations) != smallest:
            break
        tied.append(role)
    best = min(tied, key=lambda role: _lifecycle_rank(role.role_name))  # min keeps roles_granting's order on ties
    return BuiltinRole(guid=best.guid, name=best.role_name, granted_operations=smallest)


def least_privilege_role(action: str, *, data_action: bool | None = None) -> BuiltinRole | None:
    """The least-privilege built-in role that grants ``action`` (see :func:`least_privilege`), or ``None``
    when no built-in role grants it unconditionally.

    ``data_action`` is the plane: ``True`` for a data action (``dataActions``), ``False`` for a management
    action (``actions``); ``None`` asks Azure's operation metadata (:func:`preflight.operations.plane_of`),
    and an operation it does not know gives ``None`` rather than a guess — a control-plane guess would
    always find Contributor (``actions: ["*"]``), which is no advice. A caller that knows the plane (the
    data plane's "lacks the required data action", ARM's ``AuthorizationFailed``) passes it.

    Answers are cached per (action, plane): the first question ranks the candidates over the 2,132
    catalogue operations (a few tenths of a second), repeats are free.
    """
    if data_action is None:
        from preflight.operations import plane_of

        data_action = plane_of(action)
        if data_action is None:
            return None
    # matching is case-insensitive (rbac.action_matches casefolds), so the casefolded name is the cache key
    return _answer(action.strip().casefold(), data_action)


@cache
def _answer(action: str, data_action: bool) -> BuiltinRole | None:
    return least_privilege(action, builtin_roles(), _operations(), data_action=data_action)
