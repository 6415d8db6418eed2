"""Azure RBAC evaluation as pure functions: "would ARM let these principals do this action at this scope?"

Why a pure core: the question the product answers ("can this principal call the OpenAI inference API?") is a
computation over plain data — role assignments, role definitions, deny assignments, group ids — that ARM itself
only answers for the *signed-in caller*. Doing it here lets a check explain the whole chain (which assignment,
which role, which scope, which group, which pattern) for any principal, and lets tests run on the real built-in
role definitions with no Azure, no SDK and no fakes. ``preflight/azure`` turns SDK objects into these values.

The rules implemented are Azure's documented ones
(https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource):

- an action is allowed by a permission block when it matches ``actions`` and no ``notActions`` (control plane),
  or ``dataActions`` and no ``notDataActions`` (data plane). The two planes never grant each other: that is why
  Owner (``actions: ["*"]``, no ``dataActions``) cannot call the Azure OpenAI inference API;
- matching is case-insensitive; ``*`` matches any run of characters, ``/`` included, and a ``*`` that is a
  whole segment between two others (``a/*/read``) also matches no segment at all (``a/read``) — see
  docs/rbac.md "Wildcards" for the sources
  (https://learn.microsoft.com/azure/role-based-access-control/custom-roles#wildcard-permissions);
- an assignment at a scope applies to that scope and everything below it (management group ⊃ subscription ⊃
  resource group ⊃ resource ⊃ child resource);
- a deny assignment that applies beats any allow; an assignment with an ABAC ``condition`` cannot be evaluated
  offline (it depends on request attributes) and is reported as conditional, never silently counted as a grant.

Roles are joined to assignments by role definition GUID, never by name: built-in roles get renamed ("Azure AI
User" became "Foundry User" under the same id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "ALL_PRINCIPALS",
    "AppliedAssignment",
    "AuthorizationAssignment",
    "Decision",
    "DecisionStatus",
    "DenyAssignment",
    "EffectiveGrant",
    "EffectivePermissions",
    "Permission",
    "RoleAssignment",
    "RoleDefinition",
    "action_matches",
    "condition_restricts",
    "effective_permissions",
    "evaluate",
    "granted_operations",
    "normalize_scope",
    "permission_grants",
    "role_definition_guid",
    "roles_granting",
    "scope_contains",
    "scope_segments",
]

#: The principal id a deny assignment uses to mean "everyone" (Azure: "all principals", type SystemDefined).
ALL_PRINCIPALS = "00000000-0000-0000-0000-000000000000"

DecisionStatus = Literal["granted", "conditional", "denied", "not-granted"]


# --------------------------------------------------------------------------------------------------------------
# Reading ARM / az CLI payloads
# --------------------------------------------------------------------------------------------------------------


def _props(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object's fields: ARM REST nests them under ``properties``, ``az`` output flattens them."""
    inner = obj.get("properties")
    return inner if isinstance(inner, Mapping) else obj


def _str_tuple(value: Any) -> tuple[str, ...]:
    """A JSON list of strings as a tuple; ``null`` / missing as empty (ARM sends both)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value if item is not None)


def _opt_str(value: Any) -> str | None:
    """A string field that ARM may send as ``null`` or omit; empty strings count as absent."""
    if value is None or value == "":
        return None
    return str(value)


def _principal_ids(value: Any) -> tuple[str, ...]:
    """Deny assignment principals: ARM sends ``[{"id", "type"}]``; accept bare id strings as well."""
    if not value:
        return ()
    ids: list[str] = []
    for item in value:
        if isinstance(item, Mapping):
            if item.get("id"):
                ids.append(str(item["id"]).lower())
        elif item:
            ids.append(str(item).lower())
    return tuple(ids)


def role_definition_guid(role_definition_id: str) -> str:
    """The role's GUID from any of its id forms, lowercased.

    Assignments reference ``/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}``, the
    ``az`` listing says ``/providers/Microsoft.Authorization/roleDefinitions/{guid}``, and some callers pass the
    bare GUID: the GUID is the only part that identifies the role across all three.
    """
    return role_definition_id.strip().rstrip("/").rsplit("/", 1)[-1].lower()


@dataclass(frozen=True, slots=True)
class Permission:
    """One permission block of a role definition or deny assignment (``permissions[]`` in ARM)."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    condition: str | None = None
    condition_version: str | None = None

    @classmethod
    def from_arm(cls, obj: Mapping[str, Any]) -> Permission:
        """Read a ``permissions[]`` entry; the key names are the same in the REST and ``az`` shapes."""
        return cls(
            actions=_str_tuple(obj.get("actions")),
            not_actions=_str_tuple(obj.get("notActions")),
            data_actions=_str_tuple(obj.get("dataActions")),
            not_data_actions=_str_tuple(obj.get("notDataActions")),
            condition=_opt_str(obj.get("condition")),
            condition_version=_opt_str(obj.get("conditionVersion")),
        )


def _permissions(value: Any) -> tuple[Permission, ...]:
    return tuple(Permission.from_arm(p) for p in (value or ()) if isinstance(p, Mapping))


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    """A role definition. ``name`` is the GUID (the identity); ``role_name`` is display only."""

    id: str
    name: str
    role_name: str
    role_type: str
    description: str
    permissions: tuple[Permission, ...]
    assignable_scopes: tuple[str, ...] = ()

    @property
    def guid(self) -> str:
        """The lowercased GUID that assignments are joined on."""
        return role_definition_guid(self.name or self.id)

    @property
    def has_data_actions(self) -> bool:
        """Whether the role can grant anything on the data plane at all (Owner/Contributor cannot)."""
        return any(p.data_actions for p in self.permissions)

    @classmethod
    def from_arm(cls, obj: Mapping[str, Any]) -> RoleDefinition:
        """Read ``GET …/roleDefinitions/{id}`` (``properties.roleName``, ``properties.type``) or ``az`` output
        (``roleName``, ``roleType`` flattened; there ``type`` is the ARM resource type, not the role type)."""
        props = _props(obj)
        nested = props is not obj
        role_type = props.get("roleType") or (props.get("type") if nested else None) or ""
        rid = str(obj.get("id") or "")
        name = str(obj.get("name") or (role_definition_guid(rid) if rid else ""))
        return cls(
            id=rid,
            name=name,
            role_name=str(props.get("roleName") or ""),
            role_type=str(role_type),
            description=str(props.get("description") or ""),
            permissions=_permissions(props.get("permissions")),
            assignable_scopes=_str_tuple(props.get("assignableScopes")),
        )


@dataclass(frozen=True, slots=True)
class AuthorizationAssignment:
    """What role and deny assignments both are: a Microsoft.Authorization object made at ``scope`` (it applies
    there and below) whose ARM ``properties`` share ``scope``, ``description``, the ABAC ``condition`` and who
    created and changed it when (the two resource types' schemas, e.g. bicep-types-az
    generated/authorization/microsoft.authorization/2020-03-01-preview/types.md). Declared and read once here
    (:func:`_assignment_fields`), so the two kinds cannot drift apart; all but ``id`` and ``scope`` are
    keyword-only, so each kind's own fields follow those two positionally."""

    id: str
    scope: str
    _: KW_ONLY
    description: str | None = None
    condition: str | None = None
    condition_version: str | None = None
    created_on: str | None = None
    created_by: str | None = None
    updated_on: str | None = None


def _assignment_fields(obj: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`AuthorizationAssignment` fields of an ARM item (or its flattened ``az`` form)."""
    return {
        "id": str(obj.get("id") or obj.get("name") or ""),
        "scope": str(props.get("scope") or ""),
        "description": _opt_str(props.get("description")),
        "condition": _opt_str(props.get("condition")),
        "condition_version": _opt_str(props.get("conditionVersion")),
        "created_on": _opt_str(props.get("createdOn")),
        "created_by": _opt_str(props.get("createdBy")),
        "updated_on": _opt_str(props.get("updatedOn")),
    }


@dataclass(frozen=True, slots=True)
class RoleAssignment(AuthorizationAssignment):
    """A role assignment: ``principal_id`` holds ``role_definition_id`` at ``scope`` (and below)."""

    role_definition_id: str
    principal_id: str
    principal_type: str | None = None

    @property
    def role_guid(self) -> str:
        """The GUID of the assigned role, the join key to :class:`RoleDefinition`."""
        return role_definition_guid(self.role_definition_id)

    @classmethod
    def from_arm(cls, obj: Mapping[str, Any]) -> RoleAssignment:
        """Read ``Role Assignments - List For Scope`` items (``properties.principalId`` …) or ``az role
        assignment list`` output (the same keys flattened)."""
        props = _props(obj)
        return cls(
            **_assignment_fields(obj, props),
            role_definition_id=str(props.get("roleDefinitionId") or ""),
            principal_id=str(props.get("principalId") or "").lower(),
            principal_type=_opt_str(props.get("principalType")),
        )


@dataclass(frozen=True, slots=True)
class DenyAssignment(AuthorizationAssignment):
    """A deny assignment. ``principals`` may contain :data:`ALL_PRINCIPALS`, meaning everyone."""

    name: str
    permissions: tuple[Permission, ...]
    principals: tuple[str, ...]
    exclude_principals: tuple[str, ...] = ()
    do_not_apply_to_child_scopes: bool = False
    is_system_protected: bool = False

    @classmethod
    def from_arm(cls, obj: Mapping[str, Any]) -> DenyAssignment:
        """Read ``Deny Assignments - List For Scope`` items: ``properties.denyAssignmentName``, ``permissions``,
        ``principals`` / ``excludePrincipals`` as ``[{"id", "type"}]``, ``doNotApplyToChildScopes``."""
        props = _props(obj)
        return cls(
            **_assignment_fields(obj, props),
            name=str(props.get("denyAssignmentName") or obj.get("name") or ""),
            permissions=_permissions(props.get("permissions")),
            principals=_principal_ids(props.get("principals")),
            exclude_principals=_principal_ids(props.get("excludePrincipals")),
            do_not_apply_to_child_scopes=bool(props.get("doNotApplyToChildScopes") or False),
            is_system_protected=bool(props.get("isSystemProtected") or False),
        )


# --------------------------------------------------------------------------------------------------------------
# Action matching
# --------------------------------------------------------------------------------------------------------------


def _glob(text: str) -> str:
    """Regex for one piece of a pattern: literals escaped (no regex injection), each ``*`` any run."""
    return ".*".join(re.escape(piece) for piece in text.split("*"))


@lru_cache(maxsize=4096)
def _compile_pattern(pattern: str) -> re.Pattern[str]:
    """A pattern as a regex for ``fullmatch`` (see :func:`action_matches` for the rule).

    Built segment by segment: a ``*`` that is a whole segment *between* two others becomes ``(?:/.*)?`` —
    any run of further segments, or none — so ``workspaces/*/read`` is ``workspaces(?:/.*)?/read``. Both sides
    are casefolded before matching, which is more faithful to "case-insensitive" than ``re.I`` (which compares
    character by character and so treats e.g. ``ß`` and ``SS`` as different).
    """
    segments = pattern.casefold().split("/")
    parts = [_glob(segments[0])]
    for index, segment in enumerate(segments[1:], start=1):
        if segment == "*" and index < len(segments) - 1:
            parts.append("(?:/.*)?")
        else:
            parts.append("/" + _glob(segment))
    return re.compile("".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Whether an ``actions``/``notActions``/``dataActions``/``notDataActions`` entry matches an operation name.

    Azure's rule (docs/rbac.md "Wildcards"): case-insensitive; ``*`` stands for any run of characters,
    segment separators included (``*/read`` is every read, ``Microsoft.CognitiveServices/*`` every Cognitive
    Services operation); and a ``*`` standing for a whole segment in the middle (``a/*/read``) also matches
    *no* segment, so ``Microsoft.MachineLearningServices/workspaces/*/read`` covers ``workspaces/read`` as well
    as ``workspaces/jobs/read`` — which is why AzureML Data Scientist lists ``workspaces/write`` and
    ``workspaces/delete`` in its ``notActions``.
    """
    return _compile_pattern(pattern.strip()).fullmatch(action.strip().casefold()) is not None


def _first_match(patterns: Iterable[str], action: str) -> str | None:
    """The first pattern that matches, as evidence of *why* something is granted or excluded."""
    for pattern in patterns:
        if action_matches(pattern, action):
            return pattern
    return None


def _grant_pattern(permission: Permission, action: str, *, data: bool) -> str | None:
    """The ``actions``/``dataActions`` pattern through which ``permission`` grants ``action``, if it does."""
    allow, carve = (
        (permission.data_actions, permission.not_data_actions) if data else (permission.actions, permission.not_actions)
    )
    matched = _first_match(allow, action)
    if matched is None or _first_match(carve, action) is not None:
        return None
    return matched


def permission_grants(permission: Permission, action: str, *, data: bool) -> bool:
    """Whether one permission block allows ``action`` on the given plane.

    ``data=True`` consults only ``dataActions``/``notDataActions``; ``data=False`` only
    ``actions``/``notActions``. ``notActions`` are exclusions from *this* block's grant, not denies: another
    block or role can still grant the excluded action (Azure documents this difference explicitly).
    """
    return _grant_pattern(permission, action, data=data) is not None


_ACTION_MATCHES = re.compile(r"ActionMatches\s*\{([^}]*)\}")
_QUOTED = re.compile(r"'([^']*)'")


def _strip_parens(text: str) -> str:
    """Remove parentheses that wrap the whole expression (and only those)."""
    text = text.strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start``; -1 when unbalanced."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _split_top_level_and(text: str) -> list[str]:
    """Split on ``AND`` / ``&&`` outside parentheses (ABAC's conjunction of action-guarded clauses)."""
    parts: list[str] = []
    depth, last, index = 0, 0, 0
    upper = text.upper()
    while index < len(text):
        char = text[index]
        depth += char == "("
        depth -= char == ")"
        for token in (" AND ", "&&"):
            if depth == 0 and upper.startswith(token, index):
                parts.append(text[last:index])
                last = index + len(token)
                index = last - 1
                break
        index += 1
    parts.append(text[last:])
    return [part.strip() for part in parts if part.strip()]


def _guarded_actions(clause: str) -> tuple[str, ...] | None:
    """The actions a clause of the form ``(!(ActionMatches{'a'} …)) OR (…)`` restricts; ``None`` otherwise."""
    clause = _strip_parens(clause)
    if clause.startswith("("):
        end = _closing(clause, 0)
        head = clause[1:end] if end != -1 else ""
    else:
        opening = clause.find("(") if clause.startswith("!") else -1
        end = _closing(clause, opening) if opening != -1 else -1
        head = clause[: end + 1] if end != -1 else ""
    head = _strip_parens(head)
    if not head.startswith("!") or not clause[end + 1 :].strip().upper().startswith(("OR", "||")):
        return None
    actions = tuple(quoted for match in _ACTION_MATCHES.finditer(head) for quoted in _QUOTED.findall(match.group(1)))
    return actions or None


def condition_restricts(condition: str | None, action: str) -> bool:
    """Whether an ABAC condition can affect ``action``; ``False`` only when that is provable offline.

    Azure writes conditions as a conjunction of ``(!(ActionMatches{'x'})) OR (<expression>)`` clauses
    (https://learn.microsoft.com/azure/role-based-access-control/conditions-format): a clause is vacuously true
    for any action that ``x`` does not match. Built-in roles such as "Foundry Owner" carry such a condition
    that only constrains ``roleAssignments/write`` and ``/delete``; without this test every one of their data
    actions would look conditional. Anything not in that exact shape is assumed to restrict.
    """
    if condition is None:
        return False
    guarded = _condition_guards(condition)
    if guarded is None:
        return True
    return any(action_matches(pattern, action) for pattern in guarded)


@lru_cache(maxsize=256)
def _condition_guards(condition: str) -> tuple[str, ...] | None:
    """The ``ActionMatches`` patterns of a condition in the provable shape, ``None`` when it is not in it.

    Cached because a condition is parsed once per operation otherwise: ranking the built-in roles by the
    operations they grant asks about the same few conditions thousands of times (a character-by-character
    split, most of the cost of :func:`preflight.builtin_roles.least_privilege_role` before this cache).
    """
    clauses = _split_top_level_and(_strip_parens(condition))
    guarded = [_guarded_actions(clause) for clause in clauses]
    if not clauses or any(actions is None for actions in guarded):
        return None
    return tuple(pattern for actions in guarded if actions for pattern in actions)


# --------------------------------------------------------------------------------------------------------------
# Scopes
# --------------------------------------------------------------------------------------------------------------

_MG_PREFIX = ("providers", "microsoft.management", "managementgroups")


def normalize_scope(scope: str) -> str:
    """A canonical, comparable scope: lowercase, one leading ``/``, no empty segments, no trailing ``/``.

    ARM ids are case-insensitive and users paste them with trailing slashes or doubled separators; ``""`` and
    ``"/"`` both mean the root scope.
    """
    segments = [seg for seg in scope.strip().lower().split("/") if seg]
    return "/" + "/".join(segments)


def scope_segments(scope: str) -> tuple[str, ...]:
    """The normalised scope's segments, the unit containment is decided on (never string prefixes)."""
    return tuple(seg for seg in normalize_scope(scope).split("/") if seg)


def _management_group(segments: Sequence[str]) -> str | None:
    """The management group id when the scope *is* a management group, else ``None``."""
    if len(segments) == 4 and tuple(segments[:3]) == _MG_PREFIX:
        return segments[3]
    return None


def _subscription(segments: Sequence[str]) -> str | None:
    """The subscription id of a subscription-or-below scope, else ``None``."""
    if len(segments) >= 2 and segments[0] == "subscriptions":
        return segments[1]
    return None


def _ancestors(node: str, mg_ancestry: Mapping[str, Sequence[str]]) -> set[str]:
    """Every management group above ``node`` (a subscription or management group id), transitively.

    ``mg_ancestry`` may list only direct parents or the whole chain; following it to a fixed point makes both
    work, and the visited set makes a malformed cyclic mapping terminate.
    """
    lowered = {key.lower(): [v.lower() for v in values] for key, values in mg_ancestry.items()}
    seen: set[str] = set()
    todo = list(lowered.get(node.lower(), ()))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(lowered.get(current, ()))
    return seen


def scope_contains(outer: str, inner: str, mg_ancestry: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Whether an assignment at ``outer`` applies at ``inner`` (``outer`` is ``inner`` or one of its parents).

    Containment is segment-wise, so ``…/resourceGroups/rg`` does not contain ``…/resourceGroups/rg2``. The
    root ``/`` contains everything. A management group contains the subscriptions and management groups that
    ``mg_ancestry`` (subscription or management-group id → its management group ids) places below it; that
    hierarchy must be learnt over the network, so it is passed in as data. Without it, a management group
    contains only itself.
    """
    out = scope_segments(outer)
    inn = scope_segments(inner)
    if out == inn[: len(out)]:
        return True
    group = _management_group(out)
    if group is None or not mg_ancestry:
        return False
    node = _subscription(inn) or _management_group(inn)
    return node is not None and group in _ancestors(node, mg_ancestry)


# --------------------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppliedAssignment:
    """A role assignment that applies to the principal at the target scope, with the evidence about it.

    ``matched`` is the ``actions``/``dataActions`` pattern that grants the action (``None`` when the role does
    not grant it); ``via_group`` is the group id the assignment was made to when it is not the principal
    itself; ``role`` is ``None`` when the assignment's role definition was not supplied.
    """

    assignment: RoleAssignment
    role: RoleDefinition | None
    inherited: bool
    via_group: str | None = None
    matched: str | None = None

    @property
    def scope(self) -> str:
        """The scope the assignment was made at (the target itself or a parent)."""
        return self.assignment.scope

    @property
    def role_name(self) -> str:
        """The role's display name, or its GUID when the definition is unknown."""
        return self.role.role_name if self.role and self.role.role_name else self.assignment.role_guid

    @property
    def conditional(self) -> bool:
        """Whether an ABAC condition (on the assignment) governs this grant."""
        return self.assignment.condition is not None

    def as_evidence(self) -> dict[str, str | bool | None]:
        """The JSON evidence shape of ``can-i`` (``grantedBy[]`` / ``conditional[]`` items)."""
        return {
            "roleAssignmentId": self.assignment.id,
            "roleDefinitionId": self.assignment.role_definition_id,
            "roleName": self.role_name,
            "scope": self.scope,
            "inherited": self.inherited,
            "viaGroup": self.via_group,
            "matched": self.matched,
            "condition": self.assignment.condition,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one action at one scope, complete when built, with the whole chain of evidence.

    ``status``: ``denied`` when a deny assignment applies (deny beats allow), else ``granted`` when some
    assignment grants unconditionally, else ``conditional`` when only ABAC-conditioned assignments would grant
    (cannot be evaluated offline), else ``not-granted``. ``others`` are the assignments that apply to the
    principal here but do not grant the action (what it *does* have, for the explanation);
    ``unresolved`` are those whose role definition was not supplied, so the verdict may be incomplete.
    """

    status: DecisionStatus
    action: str
    scope: str
    data_action: bool
    granted_by: tuple[AppliedAssignment, ...]
    conditional: tuple[AppliedAssignment, ...]
    denied_by: tuple[DenyAssignment, ...]
    others: tuple[AppliedAssignment, ...]
    unresolved: tuple[RoleAssignment, ...]

    @property
    def explanation(self) -> str:
        """The verdict in plain words, derived from the evidence so the two can never disagree."""
        return _explain(self)

    @property
    def allowed(self) -> bool:
        """True only for an unconditional, undenied grant: the one verdict that can be relied on."""
        return self.status == "granted"


def _own_and_groups(principal_ids: Iterable[str]) -> tuple[str | None, frozenset[str]]:
    ids = [pid.lower() for pid in principal_ids if pid]
    return (ids[0] if ids else None), frozenset(ids)


def _index_definitions(definitions: Iterable[RoleDefinition]) -> dict[str, RoleDefinition]:
    return {definition.guid: definition for definition in definitions}


def _applicable(
    assignments: Iterable[RoleAssignment],
    scope: str,
    own_id: str | None,
    ids: frozenset[str],
    mg_ancestry: Mapping[str, Sequence[str]] | None,
) -> Iterable[tuple[RoleAssignment, bool, str | None]]:
    """Assignments to the principal or one of its groups at the target scope or above it."""
    target = normalize_scope(scope)
    for assignment in assignments:
        if assignment.principal_id.lower() not in ids:
            continue
        if not scope_contains(assignment.scope, scope, mg_ancestry):
            continue
        inherited = normalize_scope(assignment.scope) != target
        via = assignment.principal_id.lower() if assignment.principal_id.lower() != own_id else None
        yield assignment, inherited, via


def _role_grant(role: RoleDefinition, action: str, *, data: bool) -> tuple[str | None, bool]:
    """(pattern, conditional) through which the role grants the action; unconditional blocks win."""
    conditional_match: str | None = None
    for permission in role.permissions:
        matched = _grant_pattern(permission, action, data=data)
        if matched is None:
            continue
        if not condition_restricts(permission.condition, action):
            return matched, False
        conditional_match = conditional_match or matched
    return conditional_match, conditional_match is not None


def _deny_applies(
    deny: DenyAssignment,
    action: str,
    scope: str,
    ids: frozenset[str],
    *,
    data: bool,
    mg_ancestry: Mapping[str, Sequence[str]] | None,
) -> bool:
    """A deny applies when its scope covers the target (only the exact scope with ``doNotApplyToChildScopes``),
    it names the principal, a group of it, or everyone, excludes none of them, and its permissions match."""
    if not scope_contains(deny.scope, scope, mg_ancestry):
        return False
    if deny.do_not_apply_to_child_scopes and normalize_scope(deny.scope) != normalize_scope(scope):
        return False
    named = ALL_PRINCIPALS in deny.principals or bool(ids.intersection(deny.principals))
    if not named or ids.intersection(deny.exclude_principals):
        return False
    return any(permission_grants(p, action, data=data) for p in deny.permissions)


def evaluate(
    action: str,
    scope: str,
    principal_ids: Sequence[str],
    assignments: Iterable[RoleAssignment],
    definitions: Iterable[RoleDefinition],
    deny_assignments: Iterable[DenyAssignment] = (),
    *,
    data_action: bool,
    mg_ancestry: Mapping[str, Sequence[str]] | None = None,
) -> Decision:
    """Decide whether the principal may perform ``action`` at ``scope``, and say why.

    ``principal_ids`` is the principal's own object id **first**, then the ids of every group it belongs to
    transitively (group assignments count exactly like direct ones; the first id is how ``via_group`` is told
    apart). ``data_action`` selects the plane: the same string is never both an action and a data action.
    """
    own_id, ids = _own_and_groups(principal_ids)
    roles = _index_definitions(definitions)
    granted: list[AppliedAssignment] = []
    conditional: list[AppliedAssignment] = []
    others: list[AppliedAssignment] = []
    unresolved: list[RoleAssignment] = []
    for assignment, inherited, via in _applicable(assignments, scope, own_id, ids, mg_ancestry):
        role = roles.get(assignment.role_guid)
        if role is None:
            unresolved.append(assignment)
            others.append(AppliedAssignment(assignment, None, inherited, via))
            continue
        matched, role_conditional = _role_grant(role, action, data=data_action)
        applied = AppliedAssignment(assignment, role, inherited, via, matched)
        if matched is None:
            others.append(applied)
        elif role_conditional or condition_restricts(assignment.condition, action):
            # an assignment's condition in Azure's "(!(ActionMatches{'x'})) OR (…)" shape provably leaves every
            # action that x does not match alone; anything else it could restrict is conditional
            conditional.append(applied)
        else:
            granted.append(applied)
    denied = tuple(
        deny
        for deny in deny_assignments
        if _deny_applies(deny, action, scope, ids, data=data_action, mg_ancestry=mg_ancestry)
    )
    status: DecisionStatus = (
        "denied" if denied else "granted" if granted else "conditional" if conditional else "not-granted"
    )
    return Decision(
        status=status,
        action=action,
        scope=scope,
        data_action=data_action,
        granted_by=tuple(granted),
        conditional=tuple(conditional),
        denied_by=denied,
        others=tuple(others),
        unresolved=tuple(unresolved),
    )


def _describe(applied: AppliedAssignment) -> str:
    where = "inherited from" if applied.inherited else "at"
    via = f" via group {applied.via_group}" if applied.via_group else ""
    return f"'{applied.role_name}' {where} {applied.scope}{via}"


def _explain_other(applied: AppliedAssignment, *, data_action: bool) -> str:
    """What a non-granting assignment does give, in the words a person needs (Owner vs data actions)."""
    text = _describe(applied)
    if applied.role is None:
        return f"{text} (role definition not available, not evaluated)"
    if data_action and not applied.role.has_data_actions:
        return f"{text} grants management (control-plane) actions only, no data actions"
    return f"{text} does not include this action"


def _explain(decision: Decision) -> str:
    """The human explanation; kept apart from the evaluation so the rules read without prose."""
    plane = "data action" if decision.data_action else "action"
    head = f"{plane} '{decision.action}' at {decision.scope}"
    lines: list[str] = []
    if decision.status == "denied":
        names = ", ".join(f"'{deny.name or deny.id}' at {deny.scope}" for deny in decision.denied_by)
        lines.append(f"Denied: {head} is blocked by deny assignment {names}; deny assignments override grants.")
    elif decision.status == "granted":
        lines.append(f"Granted: {head} is allowed by " + "; ".join(_describe(a) for a in decision.granted_by))
    elif decision.status == "conditional":
        lines.append(
            f"Conditional: {head} would be allowed by "
            + "; ".join(_describe(a) for a in decision.conditional)
            + ", but only under an ABAC condition that cannot be evaluated offline."
        )
    else:
        lines.append(f"Not granted: no role assignment of this principal grants the {head}.")
    if decision.status in ("not-granted", "conditional", "denied") and decision.others:
        lines.append(
            "The principal does have: "
            + "; ".join(_explain_other(a, data_action=decision.data_action) for a in decision.others)
            + "."
        )
    if decision.unresolved and decision.status != "granted":
        lines.append("Some role definitions were not available, so the verdict may be incomplete.")
    return " ".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Least privilege
# --------------------------------------------------------------------------------------------------------------


def _pattern_breadth(pattern: str) -> int:
    """A rough size of what one pattern grants: 1 for an exact operation, exponentially more for a wildcard
    the fewer literal segments precede and surround it (``*`` ≫ ``Provider/*`` ≫ ``Provider/a/b/*/read``)."""
    if "*" not in pattern:
        return 1
    literal = [seg for seg in pattern.split("/") if seg and "*" not in seg]
    return int(10 ** max(0, 6 - len(literal)))


def _role_breadth(role: RoleDefinition) -> int:
    return sum(_pattern_breadth(pattern) for p in role.permissions for pattern in (*p.actions, *p.data_actions))


def granted_operations(role: RoleDefinition, operations: Iterable[tuple[str, bool]]) -> int:
    """How many known operations (name, is_data_action) the role grants unconditionally: the exact measure of
    its breadth when a provider operation catalogue is at hand (what :func:`roles_granting` orders by, public
    so a recommendation can say how much it grants)."""
    return sum(
        1
        for name, is_data in operations
        if any(
            permission_grants(p, name, data=is_data) and not condition_restricts(p.condition, name)
            for p in role.permissions
        )
    )


def _assignable_at(role: RoleDefinition, scope: str | None, mg_ancestry: Mapping[str, Sequence[str]] | None) -> bool:
    """Whether the role may be assigned at ``scope`` (no scope given, or no assignable scopes listed: yes)."""
    if scope is None or not role.assignable_scopes:
        return True
    return any(scope_contains(allowed, scope, mg_ancestry) for allowed in role.assignable_scopes)


def roles_granting(
    action: str,
    definitions: Iterable[RoleDefinition],
    *,
    data_action: bool,
    operations: Iterable[tuple[str, bool]] | None = None,
    scope: str | None = None,
    mg_ancestry: Mapping[str, Sequence[str]] | None = None,
) -> list[RoleDefinition]:
    """The roles that grant ``action`` unconditionally, least privilege first, to recommend the smallest fix.

    Least privilege means granting the fewest operations: with ``operations`` (the provider's catalogue as
    ``(name, is_data_action)`` pairs, from ``az provider operation show``; ``preflight.operations.catalogue()``
    ships them for the targeted providers) that is counted exactly; without it
    a wildcard-breadth estimate orders them. Either way "Cognitive Services OpenAI User" comes before
    "Cognitive Services OpenAI Contributor" and "Cognitive Services User" for chat completions. With ``scope``,
    only roles assignable there are returned (a custom role may be limited to some subscriptions).
    """
    catalogue = tuple(operations) if operations is not None else ()
    candidates = [
        role
        for role in definitions
        if _assignable_at(role, scope, mg_ancestry)
        and any(
            permission_grants(p, action, data=data_action) and not condition_restricts(p.condition, action)
            for p in role.permissions
        )
    ]
    return sorted(
        candidates,
        key=lambda role: (granted_operations(role, catalogue), _role_breadth(role), role.role_name.lower()),
    )


# --------------------------------------------------------------------------------------------------------------
# Effective permissions
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EffectiveGrant:
    """One allow pattern held at a scope, with the role, assignment and exclusions it comes with."""

    pattern: str
    excluded: tuple[str, ...]
    role_name: str
    role_definition_id: str
    assignment_id: str
    assignment_scope: str
    via_group: str | None
    conditional: bool


@dataclass(frozen=True, slots=True)
class EffectivePermissions:
    """The union of what a principal holds at a scope ("what CAN I do here"), per plane, with provenance.

    Mirrors ``Microsoft.Authorization/permissions`` (which ARM computes only for the caller) so the two can be
    compared. Deny assignments are not folded in: ask :func:`evaluate` for a specific action.
    """

    scope: str
    actions: tuple[EffectiveGrant, ...]
    data_actions: tuple[EffectiveGrant, ...]

    def allows(self, action: str, *, data_action: bool, include_conditional: bool = False) -> bool:
        """Whether some held pattern grants ``action`` (exclusions of the same block honoured)."""
        grants = self.data_actions if data_action else self.actions
        return any(
            (include_conditional or not grant.conditional)
            and action_matches(grant.pattern, action)
            and not any(action_matches(ex, action) for ex in grant.excluded)
            for grant in grants
        )


def _effective(
    pattern: str, excluded: tuple[str, ...], provenance: tuple[str, str, str, str, str | None, bool]
) -> EffectiveGrant:
    role_name, role_id, assignment_id, assignment_scope, via, conditional = provenance
    return EffectiveGrant(pattern, excluded, role_name, role_id, assignment_id, assignment_scope, via, conditional)


def effective_permissions(
    assignments: Iterable[RoleAssignment],
    definitions: Iterable[RoleDefinition],
    scope: str,
    principal_ids: Sequence[str],
    *,
    mg_ancestry: Mapping[str, Sequence[str]] | None = None,
) -> EffectivePermissions:
    """Every ``actions`` / ``dataActions`` pattern the principal (or its groups) holds at ``scope``."""
    own_id, ids = _own_and_groups(principal_ids)
    roles = _index_definitions(definitions)
    actions: list[EffectiveGrant] = []
    data_actions: list[EffectiveGrant] = []
    for assignment, _inherited, via in _applicable(assignments, scope, own_id, ids, mg_ancestry):
        role = roles.get(assignment.role_guid)
        if role is None:
            continue
        for permission in role.permissions:
            conditional = assignment.condition is not None or permission.condition is not None
            provenance = (role.role_name, role.id, assignment.id, assignment.scope, via, conditional)
            actions.extend(_effective(p, permission.not_actions, provenance) for p in permission.actions)
            data_actions.extend(_effective(p, permission.not_data_actions, provenance) for p in permission.data_actions)
    return EffectivePermissions(scope=scope, actions=tuple(actions), data_actions=tuple(data_actions))
