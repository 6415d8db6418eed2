"""What real Azure answers an identity, from the scenario's data alone — written here, independently of the twin.

The twin decides access with preflight/twin/access.py; this module is a second, deliberately small reading of
the same scenario (role assignments on the scope or above it, direct or through transitive group membership;
role actions with ARM's ``*`` wildcard, minus ``notActions``), so a shared misunderstanding needs two bugs.
Deny assignments and conditions are not modelled: a command whose answer depends on them is ``observe``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.twin import roles


@dataclass(frozen=True)
class Identity:
    kind: str  # "user" | "servicePrincipal"
    object_id: str
    name: str  # UPN or appId: what `az account show` calls user.name
    tenant_id: str


def _lower(value: Any) -> str:
    return str(value or "").lower()


def transitive_groups(scenario: Mapping[str, Any], object_id: str) -> set[str]:
    memberships: Mapping[str, list[str]] = (scenario.get("directory") or {}).get("memberships") or {}
    found: set[str] = set()
    frontier = {object_id.lower()}
    while frontier:
        frontier = {g.lower() for g, members in memberships.items() if {m.lower() for m in members} & frontier} - found
        found |= frontier
    return found


def _definition(scenario: Mapping[str, Any], definition_id: str) -> Mapping[str, Any] | None:
    guid = definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    for custom in scenario.get("roleDefinitions") or ():
        if _lower(custom.get("name")) == guid:
            return dict(custom.get("properties") or {})
    builtin = roles.find_builtin(guid)
    return dict(builtin.get("properties") or builtin) if builtin else None


def _within(scope: str, target: str) -> bool:
    scope, target = scope.rstrip("/").lower(), target.rstrip("/").lower()
    return target == scope or target.startswith(scope + "/") or scope == ""


def assignments(scenario: Mapping[str, Any], who: Identity, *, groups: bool = True) -> list[Mapping[str, Any]]:
    """The identity's role assignments anywhere (directly, and through its groups when ``groups``)."""
    principals = {who.object_id.lower()} | (transitive_groups(scenario, who.object_id) if groups else set())
    return [
        a
        for a in scenario.get("roleAssignments") or ()
        if _lower((a.get("properties") or {}).get("principalId")) in principals
    ]


def role_name(scenario: Mapping[str, Any], assignment: Mapping[str, Any]) -> str:
    definition = _definition(scenario, str((assignment.get("properties") or {}).get("roleDefinitionId", "")))
    return str((definition or {}).get("roleName", ""))


def effective_on(scenario: Mapping[str, Any], who: Identity, scope: str) -> list[Mapping[str, Any]]:
    """Assignments (direct or via groups) whose scope is ``scope`` or one of its parents."""
    return [a for a in assignments(scenario, who) if _within(str(a["properties"].get("scope", "")), scope)]


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def holds(scenario: Mapping[str, Any], who: Identity, action: str, scope: str, *, data: bool = False) -> bool:
    """Whether some role assigned on ``scope`` or above allows the control-plane ``action`` (``data``: the data
    action, from ``dataActions`` minus ``notDataActions``)."""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    for assignment in effective_on(scenario, who, scope):
        definition = _definition(scenario, str(assignment["properties"].get("roleDefinitionId", ""))) or {}
        for permission in definition.get("permissions") or ():
            allowed = any(_matches(p, action) for p in permission.get(allow) or ())
            denied = any(_matches(p, action) for p in permission.get(deny) or ())
            if allowed and not denied:
                return True
    return False


def conditional_grants(scenario: Mapping[str, Any], who: Identity, scope: str) -> bool:
    """Whether an assignment on ``scope`` or above carries an ABAC condition (this reading does not evaluate
    conditions: such a scenario's data-plane answer is observed, not asserted)."""
    return any((a.get("properties") or {}).get("condition") for a in effective_on(scenario, who, scope))


def has_deny_assignments(scenario: Mapping[str, Any]) -> bool:
    return bool(scenario.get("denyAssignments"))


def graph_permissions(scenario: Mapping[str, Any], who: Identity) -> set[str]:
    """App roles (application permissions) granted to a service principal in Microsoft Graph."""
    granted = ((scenario.get("directory") or {}).get("permissions") or {}).get(who.object_id) or []
    return {str(p) for p in granted}


def sees_subscription(scenario: Mapping[str, Any], who: Identity, subscription: str) -> bool:
    """ARM lists a subscription to a caller holding any role on it, below it or above it (management group)."""
    sub_scope = f"/subscriptions/{subscription}".lower()
    for assignment in assignments(scenario, who):
        scope = _lower(assignment["properties"].get("scope"))
        if scope.startswith(sub_scope) or scope.startswith("/providers/microsoft.management/") or scope == "/":
            return True
    return False
