"""Microsoft.Authorization on the twin: role assignments, role definitions, deny assignments, permissions.

Follows the REST reference (api-version 2022-04-01, what azure-mgmt-authorization 4.0 sends):

* role assignments, list for scope: no ``$filter`` → assignments at, above and below the scope;
  ``atScope()`` → at or above; ``principalId eq '{id}'`` → that principal exactly, at/above/below;
  ``assignedTo('{id}')`` → that principal and every group it is a transitive member of; only
  ``atScope() and assignedTo('{id}')`` combines (anything else: 400 ``UnsupportedQuery``, ARM's message).
  Inheritance runs management groups → subscription → resource group →
  resource. Pages of ``options.pageSize`` linked by an absolute ``nextLink`` with ``$skipToken``.
* role definitions: every shipped built-in plus the scenario's custom roles assignable at the scope;
  ``$filter=roleName eq '…'`` and ``type eq 'BuiltInRole'|'CustomRole'``. Reading needs
  ``Microsoft.Authorization/roleDefinitions/read`` at the scope, as the REST reference says.
* deny assignments: same scope rules; ``atScope()``, ``principalId eq``, ``denyAssignmentName eq``.
* permissions (``…/providers/Microsoft.Authorization/permissions``): the CALLER's permission blocks at the
  scope, one entry per distinct block of every role that applies (directly, inherited, via groups); their
  union is the effective permission set. Like Azure, deny assignments are not reflected here.
* provider operations metadata (``/providers/Microsoft.Authorization/providerOperations[/{namespace}]``):
  each operation's ``isDataAction``, from ``preflight/twin/provider_operations.py``; ``resourceTypes`` only
  with ``$expand=resourceTypes``. Tenant-level, readable by any signed-in caller; an unknown namespace is 404
  ``InvalidResourceNamespace``.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from preflight.twin import access, provider_operations, roles
from preflight.twin.arm_common import (
    arm_error,
    authenticate,
    authorize,
    ok,
    page,
    resource_group_or_404,
    resource_or_404,
    subscription_or_404,
)
from preflight.twin.http import ARM, Caller, Handler, Router, TwinRequest, TwinResponse, TwinState

_AUTHZ = r"(?P<scope>(?:/.*)?)/providers/Microsoft\.Authorization/"
# The REST reference (Role Definitions - Get, api-version 2022-04-01, "Permissions") requires it; Reader has it
# through */read, the Cognitive Services data roles list it explicitly, Cognitive Services User does not.
READ_DEFINITIONS = "Microsoft.Authorization/roleDefinitions/read"
_QUOTED = r"""['"]?(?P<id>[^'"\s)]+)['"]?"""


def scope_missing(state: TwinState, scope: str, caller: Caller) -> TwinResponse | None:
    """ARM's 404 for a scope that does not exist (subscription, resource group or resource), else None."""
    parts = scope.strip("/").split("/")
    if not parts or parts[0].lower() != "subscriptions" or len(parts) < 2:
        return None  # tenant root or a management group
    if len(parts) < 4:
        found: Any = subscription_or_404(state, parts[1], caller)
    elif len(parts) < 8:
        found = resource_group_or_404(state, parts[1], parts[3], caller)
    else:
        found = resource_or_404(state, scope, caller)
    return found if isinstance(found, TwinResponse) else None


def _clean_scope(raw: str) -> str:
    return "/" + raw.strip("/") if raw.strip("/") else "/"


def _prelude(
    state: TwinState, request: TwinRequest, match: re.Match[str], *, action: str | None, must_exist: bool
) -> tuple[Caller, str] | TwinResponse:
    """ARM's order of refusals for an authorization read: the token, then (for collections) the scope must
    exist, then the caller needs ``action`` there. Returns the caller and the cleaned scope, or the refusal."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    scope = _clean_scope(match["scope"])
    if must_exist and (missing := scope_missing(state, scope, caller)):
        return missing
    if action and (refused := authorize(state, caller, action, scope)):
        return refused
    return caller, scope


ScopedHandler = Callable[[TwinState, TwinRequest, "re.Match[str]", Caller, str], TwinResponse]


def _authorization_read(action: str | None, *, must_exist: bool) -> Callable[[ScopedHandler], Handler]:
    """The route for an authorization read: :func:`_prelude`'s refusals first, so the handler starts with the
    caller and the cleaned scope it serves."""

    def decorate(handler: ScopedHandler) -> Handler:
        @functools.wraps(handler)
        def route(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
            checked = _prelude(state, request, match, action=action, must_exist=must_exist)
            if isinstance(checked, TwinResponse):
                return checked
            return handler(state, request, match, *checked)

        return route

    return decorate


def _one_or_404(found: Mapping[str, Any] | None, caller: Caller, code: str, message: str) -> TwinResponse:
    """A GET of one authorization object: the object, or ARM's 404 with that type's own code and message."""
    if found is None:
        return arm_error(404, code, message, principal=caller.object_id)
    return ok(found, caller.object_id)


def parse_assignment_filter(text: str) -> tuple[bool, str | None, str | None] | None:
    """``$filter`` → (atScope, principalId, assignedTo), or None when ARM answers 400 UnsupportedQuery.

    ARM accepts ``atScope()``, ``principalId eq '{id}'`` (quotes required), ``assignedTo('{id}')`` and
    ``atScope() and assignedTo('{id}')``; no other combination."""
    at_scope, principal, assigned = False, None, None
    clauses = [c.strip() for c in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if c.strip()]
    for clause in clauses:
        if re.fullmatch(r"atScope\(\s*\)", clause, re.IGNORECASE):
            at_scope = True
        elif m := re.fullmatch(r"principalId\s+eq\s+'(?P<id>[^']+)'", clause, re.IGNORECASE):
            principal = m["id"]
        elif m := re.fullmatch(r"assignedTo\(\s*'(?P<id>[^']+)'\s*\)", clause, re.IGNORECASE):
            assigned = m["id"]
        else:
            return None
    if len(clauses) > 2 or (len(clauses) == 2 and not (at_scope and assigned)):
        return None
    return at_scope, principal, assigned


def unsupported_filter(text: str, caller: Caller) -> TwinResponse:
    """ARM's exact 400 for a role-assignment ``$filter`` it does not support."""
    return arm_error(
        400,
        "UnsupportedQuery",
        f"The filter '{text}' is not supported. Supported filters are either 'atScope()' or "
        "'principalId eq '{value}' or assignedTo('{value}')'.",
        principal=caller.object_id,
    )


def _in_range(scenario: Mapping[str, Any], item_scope: str, scope: str, at_scope_only: bool) -> bool:
    return access.ScopeView(scenario, scope).in_range(item_scope, at_scope_only)


@_authorization_read("Microsoft.Authorization/roleAssignments/read", must_exist=True)
def list_role_assignments(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """Role assignments for a scope with ARM's ``$filter`` semantics (module docstring)."""
    text = request.query.get("$filter", "")
    parsed = parse_assignment_filter(text)
    if parsed is None:
        return unsupported_filter(text, caller)
    at_scope, principal, assigned = parsed
    who: set[str] | None = None
    if principal:
        who = {principal.lower()}
    elif assigned:
        who = access.principal_ids(state.scenario, assigned)
    view = access.ScopeView(state.scenario, scope)
    found = [
        ra
        for ra in _candidates(state.scenario, scope, who)
        if (who is None or str(ra["properties"]["principalId"]).lower() in who)
        and view.in_range(ra["properties"]["scope"], at_scope)
    ]
    return ok(page(state, request, found), caller.object_id)


_BY_SUBSCRIPTION_LOCK = threading.Lock()
_BY_SUBSCRIPTION: list[Any] = [None, -1, {}]  # [scenario, number of assignments, subscription -> [(position, ra)]]


def assignments_by_subscription(scenario: Mapping[str, Any]) -> Mapping[str, list[tuple[int, dict[str, Any]]]]:
    """Role assignments by the lower-cased subscription their scope lies in ("" for management-group and
    tenant-root scopes), with their position in the scenario. Built once per served scenario (rebuilt when
    another is served or assignments are appended), like :func:`access.assignments_by_principal`: the audit's
    ARM fallback lists 100 subscriptions × 2 pages over 100,000 assignments, and a scan per page took minutes."""
    items = scenario.get("roleAssignments", [])
    with _BY_SUBSCRIPTION_LOCK:
        if _BY_SUBSCRIPTION[0] is scenario and _BY_SUBSCRIPTION[1] == len(items):
            return _BY_SUBSCRIPTION[2]  # type: ignore[no-any-return]
        index: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for position, ra in enumerate(items):
            index.setdefault(_subscription_of(str(ra.get("properties", {}).get("scope", ""))), []).append(
                (position, ra)
            )
        _BY_SUBSCRIPTION[:] = [scenario, len(items), index]
        return index


def _subscription_of(scope: str) -> str:
    parts = scope.strip("/").split("/")
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""


def _candidates(scenario: Mapping[str, Any], scope: str, who: set[str] | None) -> list[dict[str, Any]]:
    """The assignments that can be in range of ``scope``, in scenario order: a principal's own (by the principal
    index), else for a scope inside a subscription that subscription's plus the management-group / tenant
    ones (nothing else can be at, above or below it); every assignment for a management group or the root."""
    if who is not None:
        by_principal = access.assignments_by_principal(scenario)
        found = sorted(
            (item for principal in who for item in by_principal.get(principal, ())), key=lambda item: item[0]
        )
        return [ra for _, ra in found]
    subscription = _subscription_of(scope)
    if not subscription:
        return list(scenario.get("roleAssignments", []))
    index = assignments_by_subscription(scenario)
    merged = sorted([*index.get(subscription, ()), *index.get("", ())], key=lambda item: item[0])
    return [ra for _, ra in merged]


@_authorization_read("Microsoft.Authorization/roleAssignments/read", must_exist=False)
def get_role_assignment(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """One role assignment by scope and name (``get`` and ``get_by_id`` send the same path)."""
    name, at = match["name"].lower(), access.norm_scope(scope)
    found = next(
        (
            ra
            for ra in state.scenario.get("roleAssignments", [])
            if ra["name"].lower() == name and access.norm_scope(ra["properties"]["scope"]) == at
        ),
        None,
    )
    return _one_or_404(found, caller, "RoleAssignmentNotFound", f"The role assignment '{match['name']}' is not found.")


def _definitions_at(state: TwinState, scope: str) -> list[dict[str, Any]]:
    """Built-ins (ids prefixed for the scope, as ARM answers) then the custom roles assignable there."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    custom = [rd for rd in state.scenario.get("roleDefinitions", []) if rd["properties"].get("type") != "BuiltInRole"]
    for rd in custom:
        assignable = rd["properties"].get("assignableScopes") or ["/"]
        if any(_in_range(state.scenario, s, scope, True) for s in assignable):
            item = dict(rd, id=roles.role_definition_id(rd["name"], scope))
            out.append(item)
            seen.add(rd["name"].lower())
    for rd in roles.builtin_roles():
        if rd["name"].lower() not in seen:
            rd["id"] = roles.role_definition_id(rd["name"], scope)
            out.append(rd)
    return out


@_authorization_read(READ_DEFINITIONS, must_exist=True)
def list_role_definitions(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """Role definitions visible at a scope, optionally filtered by roleName / type."""
    found = _definitions_at(state, scope)
    text = request.query.get("$filter", "").strip()
    for clause in re.split(r"\s+and\s+", text, flags=re.IGNORECASE) if text else []:
        m = re.fullmatch(r"(roleName|type)\s+eq\s+'(?P<v>(?:[^']|'')*)'", clause.strip(), re.IGNORECASE)
        if not m:
            return arm_error(
                400, "UnsupportedQuery", f"The filter '{text}' is not supported.", principal=caller.object_id
            )
        key = "roleName" if m[1].lower() == "rolename" else "type"
        value = m["v"].replace("''", "'").lower()
        found = [rd for rd in found if str(rd["properties"].get(key, "")).lower() == value]
    return ok(page(state, request, found), caller.object_id)


@_authorization_read(READ_DEFINITIONS, must_exist=False)
def get_role_definition(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """One role definition by GUID at a scope (also ``get_by_id``)."""
    found = next((rd for rd in _definitions_at(state, scope) if rd["name"].lower() == match["name"].lower()), None)
    message = f"The specified role definition with ID '{match['name']}' does not exist."
    return _one_or_404(found, caller, "RoleDefinitionDoesNotExist", message)


@_authorization_read("Microsoft.Authorization/denyAssignments/read", must_exist=True)
def list_deny_assignments(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """Deny assignments for a scope (at, above, below; ``atScope()``, ``principalId eq``, name)."""
    text = request.query.get("$filter", "")
    at_scope, principal, name = False, None, None
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        clause = clause.strip()
        if re.fullmatch(r"atScope\(\s*\)", clause, re.IGNORECASE):
            at_scope = True
        elif m := re.fullmatch(r"(?:principalId|gdprExportPrincipalId)\s+eq\s+" + _QUOTED, clause, re.IGNORECASE):
            principal = m["id"]
        elif m := re.fullmatch(r"denyAssignmentName\s+eq\s+'(?P<n>[^']*)'", clause, re.IGNORECASE):
            name = m["n"]
        else:
            return arm_error(
                400, "UnsupportedQuery", f"The filter '{text}' is not supported.", principal=caller.object_id
            )
    found = []
    view = access.ScopeView(state.scenario, scope)
    for da in state.scenario.get("denyAssignments", []):
        props = da["properties"]
        if not view.in_range(props["scope"], at_scope):
            continue
        if name and props.get("denyAssignmentName", "").lower() != name.lower():
            continue
        if principal:
            applies = access.applicable_deny_assignments(state.scenario, principal, props["scope"])
            if da not in applies:
                continue
        found.append(da)
    return ok(page(state, request, found), caller.object_id)


@_authorization_read("Microsoft.Authorization/denyAssignments/read", must_exist=False)
def get_deny_assignment(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, _scope: str
) -> TwinResponse:
    """One deny assignment by id."""
    name = match["name"].lower()
    found = next((da for da in state.scenario.get("denyAssignments", []) if da["name"].lower() == name), None)
    return _one_or_404(found, caller, "DenyAssignmentNotFound", f"The deny assignment '{match['name']}' is not found.")


@_authorization_read(None, must_exist=True)
def list_permissions(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """The caller's own permissions at a resource group or resource: no role needed to ask about oneself."""
    blocks: list[dict[str, Any]] = []
    for assignment in access.applicable_assignments(state.scenario, caller.object_id, scope):
        # Permission.condition is "the conditions on the role assignment" (REST reference, Permissions - List
        # For Resource): an assignment's ABAC condition travels with each block its role grants
        props = assignment.get("properties", {})
        for block in access.permission_blocks(state.scenario, [assignment]):
            entry = {
                "actions": list(block.get("actions") or []),
                "notActions": list(block.get("notActions") or []),
                "dataActions": list(block.get("dataActions") or []),
                "notDataActions": list(block.get("notDataActions") or []),
                "condition": props.get("condition") or block.get("condition"),
                "conditionVersion": props.get("conditionVersion") or block.get("conditionVersion"),
            }
            if entry not in blocks:
                blocks.append(entry)
    return ok(page(state, request, blocks), caller.object_id)


def get_provider_operations(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """One namespace's operation metadata (Provider Operations Metadata - Get); any signed-in caller."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    namespace = match["namespace"]
    found = provider_operations.find(state.scenario, namespace)
    if found is None:
        return arm_error(
            404,
            "InvalidResourceNamespace",
            f"The resource namespace '{namespace}' is invalid.",
            principal=caller.object_id,
        )
    return ok(provider_operations.as_served(found, request.query.get("$expand", "")), caller.object_id)


def list_provider_operations(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Every namespace's operation metadata (Provider Operations Metadata - List), one page."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    expand = request.query.get("$expand", "")
    items = [provider_operations.as_served(d, expand) for d in provider_operations.documents(state.scenario)]
    return ok({"value": items}, caller.object_id)


ELIGIBILITY_KEY = "x-roleEligibilityScheduleInstances"


def _eligibility(state: TwinState, item: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario eligibility entry in the REST shape (api-version 2020-10-01): role names resolved to ids,
    ids and defaults filled like the role assignments' loader does."""
    import uuid

    from preflight.twin.scenario import find_role_definition, principal_type

    props = dict(item.get("properties") or {})
    scope = str(props.get("scope", "/"))
    ref = str(props.get("roleDefinitionId", ""))
    rd = find_role_definition(state.scenario, ref)
    if rd is not None:
        props["roleDefinitionId"] = roles.role_definition_id(str(rd["name"]), scope)
    principal = str(props.get("principalId", ""))
    props.setdefault("principalType", principal_type(state.scenario, principal))
    props.setdefault("status", "Provisioned")
    props.setdefault("memberType", "Direct")
    props.setdefault("startDateTime", "2024-01-01T00:00:00Z")
    props.setdefault("endDateTime", None)
    props.setdefault("createdOn", "2024-01-01T00:00:00Z")
    props.setdefault("condition", None)
    props.setdefault("conditionVersion", None)
    name = str(item.get("name") or uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal}|{ref}"))
    base = scope.rstrip("/")
    return {
        "id": item.get("id") or f"{base}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleEligibilityScheduleInstances",
        "properties": props,
    }


@_authorization_read(None, must_exist=True)
def list_role_eligibility_instances(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller, scope: str
) -> TwinResponse:
    """PIM ``roleEligibilityScheduleInstances`` for a scope (api-version 2020-10-01): ``asTarget()`` → the
    caller's own (and its groups'), no permission needed; ``assignedTo('{id}')`` → that principal and its
    groups, needs the read action; at, above and below the scope. Entries come from the scenario's
    ``options["x-roleEligibilityScheduleInstances"]`` (REST shape; ``roleDefinitionId`` may be a role name)."""
    text = request.query.get("$filter", "").strip()
    if re.fullmatch(r"asTarget\(\s*\)", text, re.IGNORECASE):
        who = access.principal_ids(state.scenario, caller.object_id)
    elif m := re.fullmatch(r"assignedTo\(\s*'(?P<id>[^']+)'\s*\)", text, re.IGNORECASE):
        refused = authorize(state, caller, "Microsoft.Authorization/roleEligibilityScheduleInstances/read", scope)
        if refused:
            return refused
        who = access.principal_ids(state.scenario, m["id"])
    else:
        return arm_error(400, "InvalidFilter", f"The filter '{text}' is not supported.", principal=caller.object_id)
    view = access.ScopeView(state.scenario, scope)
    raw = (state.scenario.get("options") or {}).get(ELIGIBILITY_KEY) or []
    found = [
        item
        for item in (_eligibility(state, r) for r in raw if isinstance(r, Mapping))
        if str(item["properties"].get("principalId", "")).lower() in who
        and view.in_range(str(item["properties"]["scope"]), False)
    ]
    return ok(page(state, request, found), caller.object_id)


def register(router: Router) -> None:
    """Register before generic resource routes: these paths extend resource ids."""
    router.add("GET", r"/providers/Microsoft\.Authorization/providerOperations", ARM)(list_provider_operations)
    router.add("GET", r"/providers/Microsoft\.Authorization/providerOperations/(?P<namespace>[^/]+)", ARM)(
        get_provider_operations
    )
    router.add("GET", _AUTHZ + r"roleEligibilityScheduleInstances", ARM)(list_role_eligibility_instances)
    router.add("GET", _AUTHZ + r"roleAssignments", ARM)(list_role_assignments)
    router.add("GET", _AUTHZ + r"roleAssignments/(?P<name>[^/]+)", ARM)(get_role_assignment)
    router.add("GET", _AUTHZ + r"roleDefinitions", ARM)(list_role_definitions)
    router.add("GET", _AUTHZ + r"roleDefinitions/(?P<name>[^/]+)", ARM)(get_role_definition)
    router.add("GET", _AUTHZ + r"denyAssignments", ARM)(list_deny_assignments)
    router.add("GET", _AUTHZ + r"denyAssignments/(?P<name>[^/]+)", ARM)(get_deny_assignment)
    router.add("GET", _AUTHZ + r"permissions", ARM)(list_permissions)
