"""The twin's own small Azure RBAC check, used by its ARM authorization and its data plane.

Deliberately independent of preflight's evaluator (``preflight/rbac.py``): the twin plays Azure, and the product
is tested against it, so sharing code would make both wrong in the same way. It implements what Azure documents
(https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource):
role assignments at the scope or above (management groups → subscription → resource group → resource → child),
to the principal or any group it is a transitive member of; allowed = some assigned role's permission block has
a pattern matching the action and no ``not`` pattern of that same block excluding it; deny assignments then
win over any grant. Patterns are case-insensitive with ``*`` wildcards, Azure's way (docs/rbac.md "Wildcards").
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from preflight.timestamps import parse_time
from preflight.twin.scenario import EVERYONE, find_role_definition


def norm_scope(scope: str) -> str:
    """Lower-case, ``/``-led, no trailing slash, ``//`` collapsed ("/" for the tenant root)."""
    cleaned = re.sub(r"/+", "/", "/" + scope.strip().strip("/")).lower()
    return cleaned if cleaned != "" else "/"


def _resource_chain(scope: str) -> list[str]:
    """The scope and its ARM ancestors inside one subscription, nearest first (resource → … → subscription)."""
    parts = norm_scope(scope).strip("/").split("/")
    chain: list[str] = []
    if len(parts) < 2 or parts[0] != "subscriptions":
        return chain
    cut_points = [2]
    if len(parts) >= 4 and parts[2] == "resourcegroups":
        cut_points.append(4)
        if len(parts) >= 8 and parts[4] == "providers":
            # providers/NS/type/name then (type/name)* for child resources
            cut_points.extend(range(8, len(parts) + 1, 2))
    for cut in cut_points:
        if cut <= len(parts):
            chain.append("/" + "/".join(parts[:cut]))
    chain.reverse()
    if norm_scope(scope) not in chain:  # a non-resource suffix (e.g. …/providers/Microsoft.Authorization)
        chain.insert(0, norm_scope(scope))
    return chain


def management_group_chain(
    scenario: Mapping[str, Any], subscription_id: str | None, group_id: str | None = None
) -> list[str]:
    """Normalised ids of the management groups above a subscription (or above and including ``group_id``),
    nearest first. Membership comes from each group's ``x-twin-subscriptions``; parents from
    ``properties.details.parent.id``."""
    groups = {norm_scope(g["id"]): g for g in scenario.get("managementGroups", []) if isinstance(g, dict)}
    current: str | None = None
    if group_id:
        current = norm_scope(group_id)
    elif subscription_id:
        for gid, group in groups.items():
            if subscription_id.lower() in (str(s).lower() for s in group.get("x-twin-subscriptions", [])):
                current = gid
                break
    chain: list[str] = []
    while current and current in groups and current not in chain:
        chain.append(current)
        parent = ((groups[current].get("properties") or {}).get("details") or {}).get("parent")
        current = norm_scope(parent["id"]) if isinstance(parent, dict) and parent.get("id") else None
    return chain


def ancestors(scenario: Mapping[str, Any], scope: str) -> list[str]:
    """The scope itself and every scope above it, nearest first, ending with the tenant root ``/``."""
    scope_n = norm_scope(scope)
    if scope_n.startswith("/providers/microsoft.management/managementgroups/"):
        chain = management_group_chain(scenario, None, scope_n) or [scope_n]
    else:
        chain = _resource_chain(scope_n)
        sub = chain[-1].split("/")[2] if chain else None
        chain += management_group_chain(scenario, sub)
    if "/" not in chain:
        chain.append("/")
    return chain


def is_at_or_above(scenario: Mapping[str, Any], assignment_scope: str, scope: str) -> bool:
    """True if an assignment at ``assignment_scope`` applies to ``scope`` (inherited or direct)."""
    return norm_scope(assignment_scope) in ancestors(scenario, scope)


def is_below(scenario: Mapping[str, Any], assignment_scope: str, scope: str) -> bool:
    """True if ``assignment_scope`` lies strictly beneath ``scope``."""
    a, s = norm_scope(assignment_scope), norm_scope(scope)
    return a != s and s in ancestors(scenario, a)


def transitive_groups(scenario: Mapping[str, Any], object_id: str) -> list[str]:
    """Ids (as written in the scenario) of every group ``object_id`` is a direct or nested member of."""
    memberships: Mapping[str, list[str]] = (scenario.get("directory") or {}).get("memberships") or {}
    found: list[str] = []
    frontier = {object_id.lower()}
    seen = set(frontier)
    while frontier:
        nxt: set[str] = set()
        for gid, members in memberships.items():
            if gid.lower() in seen:
                continue
            if any(str(m).lower() in frontier for m in members):
                found.append(gid)
                seen.add(gid.lower())
                nxt.add(gid.lower())
        frontier = nxt
    return found


def principal_ids(scenario: Mapping[str, Any], object_id: str) -> set[str]:
    """The principal and its transitive groups, lower-cased: who an assignment may name to apply."""
    return {object_id.lower(), *(g.lower() for g in transitive_groups(scenario, object_id))}


@lru_cache(maxsize=4096)
def _globs(pattern: str) -> tuple[str, ...]:
    """The pattern as plain ``fnmatch`` globs (whose ``*`` already crosses ``/``): itself, plus every variant
    with some whole-segment ``*`` between two segments left out — Azure lets ``a/*/read`` cover ``a/read``
    (docs/rbac.md "Wildcards"). ``[`` and ``?`` are fnmatch syntax, not Azure's: escaped to literals."""
    segments = pattern.strip().lower().replace("[", "[[]").replace("?", "[?]").split("/")
    variants: list[list[str]] = [[segments[0]]]
    for index, segment in enumerate(segments[1:], start=1):
        interior = segment == "*" and index < len(segments) - 1
        variants = [[*v, segment] for v in variants] + (variants if interior else [])
    return tuple(dict.fromkeys("/".join(v) for v in variants))


def action_matches(pattern: str, action: str) -> bool:
    """Azure's action pattern match: case-insensitive; ``*`` matches any run of characters (``/`` included),
    and a whole-segment ``*`` between two segments may also match no segment."""
    name = action.strip().lower()
    return any(fnmatch.fnmatchcase(name, glob) for glob in _globs(pattern))


def _block_grants(block: Mapping[str, Any], action: str, data: bool) -> bool:
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    return any(action_matches(p, action) for p in block.get(allow) or []) and not any(
        action_matches(p, action) for p in block.get(deny) or []
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """Why access was or was not granted: the granting assignment ids and the denying deny assignment."""

    allowed: bool
    granted_by: tuple[str, ...] = ()
    denied_by: str | None = None


_INDEX_LOCK = threading.Lock()
_INDEX: list[Any] = [None, -1, {}]  # [scenario, number of assignments, principal id -> [(position, assignment)]]


def assignments_by_principal(scenario: Mapping[str, Any]) -> Mapping[str, list[tuple[int, dict[str, Any]]]]:
    """Role assignments by lower-cased principal id, with their position in the scenario (to keep its order).

    Built once per served scenario (rebuilt when another scenario is served or assignments are appended): with
    100,000 assignments, a scan per request would make every ARM call and Resource Graph page take seconds."""
    items = scenario.get("roleAssignments", [])
    with _INDEX_LOCK:
        if _INDEX[0] is scenario and _INDEX[1] == len(items):
            return _INDEX[2]  # type: ignore[no-any-return]
        index: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for position, ra in enumerate(items):
            index.setdefault(str(ra.get("properties", {}).get("principalId", "")).lower(), []).append((position, ra))
        _INDEX[:] = [scenario, len(items), index]
        return index


def _assignments_of(scenario: Mapping[str, Any], who: Iterable[str]) -> list[dict[str, Any]]:
    """The assignments naming any of ``who`` (lower-cased ids), in scenario order."""
    index = assignments_by_principal(scenario)
    found = [item for principal in who for item in index.get(principal, ())]
    return [ra for _, ra in sorted(found, key=lambda item: item[0])]


def applicable_assignments(
    scenario: Mapping[str, Any], object_id: str, scope: str, *, now: float | None = None, propagation_seconds: float = 0
) -> list[dict[str, Any]]:
    """Role assignments that apply to ``object_id`` (directly or via groups) at ``scope``. With ``now`` and
    ``propagation_seconds``, assignments created less than that long ago are not yet visible (how the data
    plane lags behind ARM after a role is granted)."""
    who = principal_ids(scenario, object_id)
    above = set(ancestors(scenario, scope))
    out = []
    for ra in _assignments_of(scenario, who):
        props = ra.get("properties", {})
        if str(props.get("principalId", "")).lower() not in who or norm_scope(props.get("scope", "/")) not in above:
            continue
        if now is not None and propagation_seconds > 0:
            created = parse_time(props.get("createdOn"))
            if created is not None and now - created < propagation_seconds:
                continue
        out.append(ra)
    return out


def applicable_deny_assignments(scenario: Mapping[str, Any], object_id: str, scope: str) -> list[dict[str, Any]]:
    """Deny assignments at or above ``scope`` naming the principal, one of its groups or Everyone, and not
    excluding it; ``doNotApplyToChildScopes`` limits one to its own scope."""
    who = principal_ids(scenario, object_id)
    above = ancestors(scenario, scope)
    out = []
    for da in scenario.get("denyAssignments", []):
        props = da.get("properties", {})
        da_scope = norm_scope(props.get("scope", "/"))
        if da_scope not in above or (props.get("doNotApplyToChildScopes") and da_scope != norm_scope(scope)):
            continue
        named = {str(p.get("id", "")).lower() for p in props.get("principals", [])}
        excluded = {str(p.get("id", "")).lower() for p in props.get("excludePrincipals", [])}
        if (named & who or EVERYONE in named) and not excluded & who:
            out.append(da)
    return out


def permission_blocks(scenario: Mapping[str, Any], assignments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The permission blocks of the role definitions the assignments name (unknown definitions are skipped)."""
    blocks: list[dict[str, Any]] = []
    for ra in assignments:
        rd = find_role_definition(scenario, ra.get("properties", {}).get("roleDefinitionId", ""))
        if rd is not None:
            blocks.extend(rd.get("properties", {}).get("permissions", []))
    return blocks


def check(
    scenario: Mapping[str, Any],
    object_id: str,
    action: str,
    scope: str,
    *,
    data: bool = False,
    now: float | None = None,
    propagation_seconds: float = 0,
) -> Decision:
    """May ``object_id`` perform ``action`` (a data action if ``data``) at ``scope``?"""
    granted: list[str] = []
    for ra in applicable_assignments(scenario, object_id, scope, now=now, propagation_seconds=propagation_seconds):
        if any(_block_grants(b, action, data) for b in permission_blocks(scenario, [ra])):
            granted.append(str(ra.get("id")))
    if not granted:
        return Decision(False)
    for da in applicable_deny_assignments(scenario, object_id, scope):
        if any(_block_grants(b, action, data) for b in da.get("properties", {}).get("permissions", [])):
            return Decision(False, tuple(granted), str(da.get("id")))
    return Decision(True, tuple(granted))


def has_any_access(scenario: Mapping[str, Any], object_id: str, scope: str) -> bool:
    """True if the principal holds any role assignment at, above or below ``scope`` (ARM lists a subscription
    to anyone with some role in it)."""
    who = principal_ids(scenario, object_id)
    for ra in _assignments_of(scenario, who):
        props = ra.get("properties", {})
        if str(props.get("principalId", "")).lower() in who and (
            is_at_or_above(scenario, props.get("scope", "/"), scope)
            or is_below(scenario, props.get("scope", "/"), scope)
        ):
            return True
    return False


class ScopeView:
    """Where other scopes sit relative to one scope, computed once per request: lists of thousands of
    assignments compare against it without re-walking the management-group tree for each."""

    def __init__(self, scenario: Mapping[str, Any], scope: str) -> None:
        self.scenario = scenario
        self.scope = norm_scope(scope)
        self.above = set(ancestors(scenario, scope))
        self._chains: dict[str, list[str]] = {}

    def at_or_above(self, other: str) -> bool:
        """``other`` is this scope or one of its ancestors (an assignment there applies here)."""
        return norm_scope(other) in self.above

    def below(self, other: str) -> bool:
        """``other`` lies strictly beneath this scope."""
        other_n = norm_scope(other)
        if other_n == self.scope:
            return False
        if self.scope == "/" or other_n.startswith(self.scope + "/"):
            return True
        if not self.scope.startswith("/providers/microsoft.management/managementgroups/"):
            return False
        parts = other_n.strip("/").split("/")
        chain_of: tuple[str | None, str | None]
        if len(parts) >= 2 and parts[0] == "subscriptions":
            key, chain_of = parts[1], (parts[1], None)
        elif other_n.startswith("/providers/microsoft.management/managementgroups/"):
            key, chain_of = other_n, (None, other_n)
        else:
            return False
        if key not in self._chains:
            self._chains[key] = management_group_chain(self.scenario, chain_of[0], chain_of[1])
        return self.scope in self._chains[key]

    def in_range(self, other: str, at_scope_only: bool) -> bool:
        """ARM's list semantics: at or above, plus below unless ``atScope()`` was asked for."""
        return self.at_or_above(other) or (not at_scope_only and self.below(other))
