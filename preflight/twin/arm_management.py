"""Management groups on the twin (``Microsoft.Management``, api-version 2021-04-01 / 2023-04-01 shapes).

``GET /providers/Microsoft.Management/managementGroups`` lists the groups the caller may read;
``GET /providers/Microsoft.Management/managementGroups/{name}`` answers one with ``details.parent`` and, on
request, ``$expand=path`` (``details.path``, root first), ``$expand=ancestors``
(``details.managementGroupAncestors``, nearest first) and ``$expand=children`` (``children``: groups and
subscriptions directly beneath, recursively with ``$recurse=true``). Membership of subscriptions comes from each
group's twin-only ``x-twin-subscriptions`` (docs/twin-scenarios.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from preflight.twin import access
from preflight.twin.arm_common import authenticate, authorization_failed, authorize, find_by_id, ok, page
from preflight.twin.http import ARM, Router, TwinRequest, TwinResponse, TwinState

_MG = "/providers/Microsoft.Management/managementGroups"
READ = "Microsoft.Management/managementGroups/read"


def _groups(state: TwinState) -> list[Mapping[str, Any]]:
    return [g for g in state.scenario.get("managementGroups", []) if isinstance(g, Mapping)]


def _summary(group: Mapping[str, Any]) -> dict[str, Any]:
    props = group.get("properties") or {}
    return {
        "id": group["id"],
        "type": group.get("type", "Microsoft.Management/managementGroups"),
        "name": group["name"],
        "properties": {"tenantId": props.get("tenantId"), "displayName": props.get("displayName", group["name"])},
    }


def _parent_ref(state: TwinState, group: Mapping[str, Any]) -> dict[str, Any] | None:
    parent = ((group.get("properties") or {}).get("details") or {}).get("parent")
    if not isinstance(parent, Mapping) or not parent.get("id"):
        return None
    found = find_by_id(_groups(state), str(parent["id"]))
    name = str(parent["id"]).rstrip("/").rsplit("/", 1)[-1]
    display = ((found or {}).get("properties") or {}).get("displayName", name)
    return {"id": parent["id"], "name": name, "displayName": display}


def _children(state: TwinState, group: Mapping[str, Any], recurse: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for child in _groups(state):
        parent = ((child.get("properties") or {}).get("details") or {}).get("parent") or {}
        if access.norm_scope(str(parent.get("id", "-"))) == access.norm_scope(group["id"]):
            out.append(
                {
                    "type": "Microsoft.Management/managementGroups",
                    "id": child["id"],
                    "name": child["name"],
                    "displayName": (child.get("properties") or {}).get("displayName", child["name"]),
                    "children": _children(state, child, recurse) if recurse else None,
                }
            )
    subs = {str(s.get("subscriptionId", "")).lower(): s for s in state.scenario.get("subscriptions", [])}
    for sid in group.get("x-twin-subscriptions", []):
        sub = subs.get(str(sid).lower(), {})
        out.append(
            {
                "type": "/subscriptions",
                "id": f"/subscriptions/{sid}",
                "name": sid,
                "displayName": sub.get("displayName", sid),
                "children": None,
            }
        )
    return out


def list_groups(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Management groups the caller may read."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    readable = [
        _summary(g) for g in _groups(state) if access.check(state.scenario, caller.object_id, READ, g["id"]).allowed
    ]
    return ok(page(state, request, readable), caller.object_id)


def get_group(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """One management group with its parent and, on request, path / ancestors / children."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    group = find_by_id(_groups(state), f"{_MG}/{match['name']}")
    scope = f"{_MG}/{match['name']}"
    if group is None:  # ARM cannot tell a missing group from one the caller may not see
        return authorization_failed(caller, READ, scope)
    refused = authorize(state, caller, READ, group["id"])
    if refused:
        return refused
    body = _summary(group)
    details: dict[str, Any] = {
        "version": 1,
        "updatedTime": "2024-01-01T00:00:00Z",
        "updatedBy": None,
        "parent": _parent_ref(state, group),
    }
    expand = {e.strip().lower() for e in request.query.get("$expand", "").split(",") if e.strip()}
    chain = access.management_group_chain(state.scenario, None, group["id"])[1:]  # ancestors, nearest first
    names = [c.rsplit("/", 1)[-1] for c in chain]
    if "path" in expand:
        path = []
        for gid in reversed(chain):
            found = find_by_id(_groups(state), gid) or {}
            path.append(
                {
                    "name": found.get("name", gid.rsplit("/", 1)[-1]),
                    "displayName": (found.get("properties") or {}).get("displayName", found.get("name")),
                }
            )
        details["path"] = path
    if "ancestors" in expand:
        details["managementGroupAncestors"] = [
            (find_by_id(_groups(state), c) or {}).get("name", n) for c, n in zip(chain, names, strict=False)
        ]
    body["properties"]["details"] = details
    if "children" in expand:
        body["properties"]["children"] = _children(state, group, request.query.get("$recurse", "").lower() == "true")
    return ok(body, caller.object_id)


def register(router: Router) -> None:
    """Register the management-group routes (called by :func:`preflight.twin.arm.register`)."""
    router.add("GET", r"/providers/Microsoft\.Management/managementGroups", ARM)(list_groups)
    router.add("GET", r"/providers/Microsoft\.Management/managementGroups/(?P<name>[^/]+)", ARM)(get_group)
