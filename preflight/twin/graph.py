"""Microsoft Graph v1.0 on the twin: the directory reads preflight makes.

Serves ``/v1.0/...`` on the twin's host: ``me``, ``users/{id|upn}``, ``servicePrincipals`` (by id,
``(appId='…')``, ``$filter``, ``$select``), ``applications`` (by id, ``(appId='…')``, ``$filter``, with
``passwordCredentials`` / ``keyCredentials`` — secret values never leave the twin), ``applications/{id}/
federatedIdentityCredentials``, ``groups/{id}``, ``…/transitiveMemberOf`` for me / users / service principals,
``directoryObjects/getByIds``, ``getMemberGroups`` / ``checkMemberGroups`` (me, users, service principals, groups,
directory objects), ``$batch``, ``identity/conditionalAccess/policies`` and its What If
(``identity/conditionalAccess/evaluate``). Shapes, ``@odata.*``
annotations and errors (``{"error": {"code", "message", "innerError"}}``) follow the Graph v1.0 reference.

Who may read what (docs/twin-scenarios.md, "directory.permissions"): a caller's Graph permissions are
``directory.permissions[objectId]`` when the scenario lists the caller (the complete set), else the token's
``roles`` and ``scp`` claims plus, for member users, the default user permissions of a real tenant (read
users, groups, applications and service principals: ``User.Read`` + ``Directory.Read.All``; guests only
``User.Read``). Anyone may read themselves. Missing permission → 403 ``Authorization_RequestDenied``.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from preflight.twin import access, graph_defaults
from preflight.twin.http import (
    GRAPH,
    AuthError,
    Caller,
    Handler,
    Router,
    TwinRequest,
    TwinResponse,
    TwinState,
    strip_twin_fields,
)
from preflight.twin.scenario import iso_time, option

GRAPH_AUDIENCES = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
)
MAX_BATCH = 20
MAX_GET_BY_IDS = 1000
_ODATA_TYPES = {
    "users": "#microsoft.graph.user",
    "groups": "#microsoft.graph.group",
    "servicePrincipals": "#microsoft.graph.servicePrincipal",
    "applications": "#microsoft.graph.application",
}
_TYPE_NAMES = {
    "user": "users",
    "group": "groups",
    "serviceprincipal": "servicePrincipals",
    "application": "applications",
}
# Which permissions imply which (a *.ReadWrite.All implies its *.Read.All; Directory.Read.All reads objects).
_IMPLIED = {
    "directory.readwrite.all": {"directory.read.all"},
    "directory.read.all": {
        "user.read.all",
        "user.readbasic.all",
        "group.read.all",
        "groupmember.read.all",
        "application.read.all",
    },
    "directory.accessasuser.all": {"directory.read.all"},
    "user.readwrite.all": {"user.read.all"},
    "user.read.all": {"user.readbasic.all"},
    "group.readwrite.all": {"group.read.all"},
    "group.read.all": {"groupmember.read.all"},
    "application.readwrite.all": {"application.read.all"},
    "application.readwrite.ownedby": {"application.read.all"},
    "policy.readwrite.conditionalaccess": {"policy.read.all"},
}
_MEMBER_DEFAULTS = {"User.Read", "Directory.Read.All"}


# ------------------------------------------------------------------------------------------------ helpers


def graph_error(
    status: int, code: str, message: str, principal: str | None = None, request: TwinRequest | None = None
) -> TwinResponse:
    """Graph's error body with its ``innerError`` (date, request-id, client-request-id)."""
    request_id = str(uuid.uuid4())
    client_id = request.header("client-request-id", request_id) if request else request_id
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": iso_time(time.time()), "request-id": request_id, "client-request-id": client_id},
        }
    }
    return TwinResponse.json(status, body, headers={"request-id": request_id}, principal=principal)


def not_found(key: str, caller: Caller, request: TwinRequest) -> TwinResponse:
    """Graph's 404 ``Request_ResourceNotFound`` naming the key that was looked up."""
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
        caller.object_id,
        request,
    )


def denied(caller: Caller, request: TwinRequest) -> TwinResponse:
    """Graph's 403 ``Authorization_RequestDenied``."""
    return graph_error(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
        caller.object_id,
        request,
    )


def _authenticate(state: TwinState, request: TwinRequest) -> Caller | TwinResponse:
    audiences = (*GRAPH_AUDIENCES, state.origin(GRAPH), state.origin(GRAPH) + "/")
    try:
        return state.verify_bearer(request, audiences, service=GRAPH)
    except AuthError as exc:
        return exc.response


GraphHandler = Callable[[TwinState, TwinRequest, "re.Match[str]", Caller], TwinResponse]


def _signed_in(handler: GraphHandler) -> Handler:
    """The route for a Graph handler: every Graph call first verifies the bearer token (Graph's 401 before any
    other answer), so the handler itself starts with the caller it serves."""

    @functools.wraps(handler)
    def route(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
        caller = _authenticate(state, request)
        if isinstance(caller, TwinResponse):
            return caller
        return handler(state, request, match, caller)

    return route


def _directory(state: TwinState) -> Mapping[str, Any]:
    return state.scenario.get("directory") or {}


def _context(state: TwinState, fragment: str) -> str:
    return f"{state.origin(GRAPH)}/v1.0/$metadata#{fragment}"


def granted_permissions(state: TwinState, caller: Caller) -> set[str]:
    """The caller's Graph permissions, lower-cased, with implied ones expanded (see module docstring)."""
    listed = {k.lower(): v for k, v in (_directory(state).get("permissions") or {}).items()}
    if caller.object_id.lower() in listed:
        perms = set(listed[caller.object_id.lower()])
    else:
        roles_claim = caller.claims.get("roles") or []
        scp = str(caller.claims.get("scp") or "").split()
        perms = set(roles_claim if isinstance(roles_claim, list) else [roles_claim]) | set(scp)
        user = _find(state, "users", caller.object_id)
        if user is not None:
            perms |= _MEMBER_DEFAULTS if user.get("userType", "Member") != "Guest" else {"User.Read"}
    expanded = {p.lower() for p in perms}
    frontier = set(expanded)
    while frontier:
        nxt = set().union(*(_IMPLIED.get(p, set()) for p in frontier)) - expanded
        expanded |= nxt
        frontier = nxt
    return expanded


def _allowed(state: TwinState, caller: Caller, any_of: Iterable[str]) -> bool:
    have = granted_permissions(state, caller)
    return any(p.lower() in have for p in any_of)


def _is_self(obj: Mapping[str, Any] | None, caller: Caller) -> bool:
    """Anyone may read themselves, whatever permissions they hold."""
    return obj is not None and str(obj.get("id", "")).lower() == caller.object_id.lower()


def _readable(
    obj: dict[str, Any] | None, key: str, allowed: bool, caller: Caller, request: TwinRequest
) -> dict[str, Any] | TwinResponse:
    """One object read the way Graph answers it: 403 without permission (whether or not the object exists), then
    404 naming the key that was looked up, else the object."""
    if not allowed:
        return denied(caller, request)
    if obj is None:
        return not_found(key, caller, request)
    return obj


_READ = {
    "users": ("User.ReadBasic.All", "User.Read.All"),
    "groups": ("Group.Read.All", "GroupMember.Read.All"),
    "servicePrincipals": ("Application.Read.All",),
    "applications": ("Application.Read.All",),
}


_INDEX_LOCK = threading.Lock()
_INDEX: list[Any] = [None, (), {}]  # [directory, sizes, (kind, id) -> object]


def _by_id(state: TwinState) -> Mapping[tuple[str, str], dict[str, Any]]:
    """Directory objects by (kind, lower-cased id), built once per served directory (rebuilt when objects are
    added): ``getByIds`` with 1,000 ids over a 20,000-object directory must not scan it per id."""
    directory = _directory(state)
    sizes = tuple(len(directory.get(kind, [])) for kind in _ODATA_TYPES)
    with _INDEX_LOCK:
        if _INDEX[0] is directory and _INDEX[1] == sizes:
            return _INDEX[2]  # type: ignore[no-any-return]
        index: dict[tuple[str, str], dict[str, Any]] = {}
        for kind in _ODATA_TYPES:
            for obj in directory.get(kind, []):
                index.setdefault((kind, str(obj.get("id", "")).lower()), obj)
        _INDEX[:] = [directory, sizes, index]
        return index


def _find(state: TwinState, kind: str, key: str) -> dict[str, Any] | None:
    """A directory object by id (or, for users, UPN; for apps and SPs, ``appId=`` lookups use _find_app)."""
    wanted = unquote(key).strip("'").lower()
    found = _by_id(state).get((kind, wanted))
    if found is not None or kind != "users" or "@" not in wanted:  # only a UPN needs the scan
        return found
    objects: list[dict[str, Any]] = _directory(state).get(kind, [])
    for obj in objects:
        if str(obj.get("userPrincipalName", "")).lower() == wanted:
            return obj
    return None


def _find_by_app_id(state: TwinState, kind: str, app_id: str) -> dict[str, Any] | None:
    objects: list[dict[str, Any]] = _directory(state).get(kind, [])
    for obj in objects:
        if str(obj.get("appId", "")).lower() == app_id.lower():
            return obj
    return None


def _kind_of(state: TwinState, object_id: str) -> str | None:
    index = _by_id(state)
    wanted = object_id.lower()
    for kind in ("users", "groups", "servicePrincipals", "applications"):
        if (kind, wanted) in index:
            return kind
    return None


def _public(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The object as Graph returns it: no twin fields, no expanded navigation properties, no secrets."""
    out: dict[str, Any] = graph_defaults.complete(strip_twin_fields(dict(obj)), kind)  # Graph's default set
    out.pop("federatedIdentityCredentials", None)
    if kind == "applications":
        out["passwordCredentials"] = [dict(c, secretText=None) for c in out.get("passwordCredentials", [])]
        out["keyCredentials"] = [dict(c, key=None) for c in out.get("keyCredentials", [])]
    return out


def _select(obj: dict[str, Any], request: TwinRequest, kind: str) -> dict[str, Any]:
    """``$select``'s properties, or without it Graph's default view of ``kind`` (a user's default subset)."""
    fields = [f.strip() for f in request.query.get("$select", "").split(",") if f.strip()]
    if not fields:
        return graph_defaults.default_view(obj, kind)
    lowered = {f.lower() for f in fields}
    return {k: v for k, v in obj.items() if k.lower() in lowered or k.startswith("@odata.")}


def _select_suffix(request: TwinRequest) -> str:
    fields = [f.strip() for f in request.query.get("$select", "").split(",") if f.strip()]
    return f"({','.join(fields)})" if fields else ""


def _entity(state: TwinState, request: TwinRequest, caller: Caller, kind: str, obj: Mapping[str, Any]) -> TwinResponse:
    body = {"@odata.context": _context(state, f"{kind}{_select_suffix(request)}/$entity")}
    body.update(_select(_public(obj, kind), request, kind))
    return TwinResponse.json(200, body, principal=caller.object_id)


def _collection(
    state: TwinState,
    request: TwinRequest,
    caller: Caller,
    fragment: str,
    items: list[dict[str, Any]],
    typed: bool = False,
) -> TwinResponse:
    """A Graph collection page: ``value`` plus ``@odata.nextLink`` (absolute, ``$skiptoken``) when more remain."""
    size = int(option(state.scenario, "graphPageSize"))
    top = request.query.get("$top")
    if top and top.isdigit() and int(top) > 0:
        size = min(int(top), 999)
    token = request.query.get("$skiptoken", "")
    start = int(token) if token.isdigit() else 0
    chunk = items[start : start + size]
    values = []
    for item in chunk:
        kind = _kind_of(state, str(item.get("id", ""))) or "users"
        value = _public(item, kind)
        if typed:
            value = {"@odata.type": _ODATA_TYPES[kind], **value}
        values.append(_select(value, request, kind))
    body: dict[str, Any] = {"@odata.context": _context(state, fragment + _select_suffix(request)), "value": values}
    if start + size < len(items):
        params = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = str(start + size)
        body["@odata.nextLink"] = f"{state.origin(GRAPH)}{request.path}?{urlencode(params)}"
    return TwinResponse.json(200, body, principal=caller.object_id)


def _filter(
    items: list[dict[str, Any]], text: str, caller: Caller, request: TwinRequest, kind: str
) -> list[dict[str, Any]] | TwinResponse:
    """The ``$filter`` forms preflight uses: ``prop eq 'v'`` (appId, displayName, id, userPrincipalName,
    servicePrincipalType), ``startswith(displayName,'v')``, joined by ``and``."""
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        clause = clause.strip()
        m = re.fullmatch(r"(\w+)\s+eq\s+'((?:[^']|'')*)'", clause, re.IGNORECASE)
        s = re.fullmatch(r"startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)", clause, re.IGNORECASE)
        # what `az ad sp show --id <appId or URI>` and `az role assignment --assignee` send
        spn = re.fullmatch(
            r"servicePrincipalNames/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'((?:[^']|'')*)'\s*\)", clause, re.IGNORECASE
        )
        if spn:
            wanted = spn[2].replace("''", "'").lower()
            items = [o for o in items if wanted in {str(n).lower() for n in o.get("servicePrincipalNames") or []}]
        elif m and m[1].lower() in ("appid", "displayname", "id", "userprincipalname", "mail", "serviceprincipaltype"):
            prop, value = m[1], m[2].replace("''", "'")
            items = [o for o in items if str(_get_ci(o, prop)).lower() == value.lower()]
        elif s and s[1].lower() == "displayname":
            items = [o for o in items if str(o.get("displayName", "")).lower().startswith(s[2].lower())]
        else:
            found = m or s
            prop = found[1] if found else clause
            return graph_error(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{prop}' of "
                f"resource '{kind[0].upper() + kind[1:-1]}'.",
                caller.object_id,
                request,
            )
    return items


def _get_ci(obj: Mapping[str, Any], key: str) -> Any:
    return next((v for k, v in obj.items() if k.lower() == key.lower()), "")


# ------------------------------------------------------------------------------------------------ handlers


@_signed_in
def me(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
    """``GET /me``: delegated tokens only (an app token gets Graph's 400)."""
    user = _find(state, "users", caller.object_id)
    if caller.kind != "user":
        return graph_error(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
            caller.object_id,
            request,
        )
    if user is None:
        return not_found(caller.object_id, caller, request)
    return _entity(state, request, caller, "users", user)


def get_object(kind: str) -> Handler:
    """GET ``/{kind}/{id}`` (users also by UPN)."""

    def handler(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
        obj = _find(state, kind, match["key"])
        allowed = _is_self(obj, caller) or _allowed(state, caller, _READ[kind])
        found = _readable(obj, unquote(match["key"]), allowed, caller, request)
        return found if isinstance(found, TwinResponse) else _entity(state, request, caller, kind, found)

    handler.__name__ = f"get_{kind}"
    return _signed_in(handler)


def get_by_app_id(kind: str) -> Handler:
    """GET ``/{kind}(appId='…')``."""

    def handler(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
        obj = _find_by_app_id(state, kind, match["app"])
        found = _readable(obj, match["app"], _allowed(state, caller, _READ[kind]), caller, request)
        return found if isinstance(found, TwinResponse) else _entity(state, request, caller, kind, found)

    handler.__name__ = f"get_{kind}_by_app_id"
    return _signed_in(handler)


def list_objects(kind: str) -> Handler:
    """GET ``/{kind}`` with ``$filter`` / ``$select`` / ``$top`` and paging."""

    def handler(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
        if not _allowed(state, caller, _READ[kind]):
            return denied(caller, request)
        items = _filter(list(_directory(state).get(kind, [])), request.query.get("$filter", ""), caller, request, kind)
        if isinstance(items, TwinResponse):
            return items
        return _collection(state, request, caller, kind, items)

    handler.__name__ = f"list_{kind}"
    return _signed_in(handler)


def transitive_member_of(kind: str) -> Handler:
    """GET ``/{kind}/{id}/transitiveMemberOf`` and ``/me/transitiveMemberOf``: every group, nested included."""

    def handler(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
        key = match.groupdict().get("key") or caller.object_id
        obj = _find(state, kind, key)
        allowed = _is_self(obj, caller) or _allowed(state, caller, ("GroupMember.Read.All", "Directory.Read.All"))
        found = _readable(obj, unquote(key), allowed, caller, request)
        if isinstance(found, TwinResponse):
            return found
        ids = access.transitive_groups(state.scenario, str(found["id"]))
        groups = [g for g in (_find(state, "groups", gid) for gid in ids) if g is not None]
        return _collection(state, request, caller, "directoryObjects", groups, typed=True)

    handler.__name__ = f"transitive_member_of_{kind}"
    return _signed_in(handler)


# Who may ask for an object's group memberships (Graph v1.0, "user: getMemberGroups" / "checkMemberGroups" and
# "directoryObject: getMemberObjects"): every clause's permissions together, any clause suffices.
_MEMBER_GROUPS_READ: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    "users": (
        (("User.ReadBasic.All", "User.Read.All"), ("GroupMember.Read.All", "Group.Read.All")),
        (("Directory.Read.All",),),
    ),
    "servicePrincipals": ((("Application.Read.All",),), (("Directory.Read.All",),)),
    "groups": ((("GroupMember.Read.All", "Group.Read.All"),), (("Directory.Read.All",),)),
    "directoryObjects": ((("Directory.Read.All",),),),
}
MAX_CHECK_GROUPS = 20


def _may_read_memberships(state: TwinState, caller: Caller, kind: str) -> bool:
    have = granted_permissions(state, caller)
    return any(
        all(any(p.lower() in have for p in alternatives) for alternatives in clause)
        for clause in _MEMBER_GROUPS_READ[kind]
    )


def member_groups(kind: str, check: bool) -> Handler:
    """``POST /{kind}/{id}/getMemberGroups`` (body ``securityEnabledOnly``) and ``…/checkMemberGroups`` (body
    ``groupIds``, at most 20), also on ``/me``: the ids of the groups the object is a member of, nested
    memberships included, as ``Collection(Edm.String)``. Anyone may ask about themselves; otherwise the
    reference's permissions for the object's type (see ``_MEMBER_GROUPS_READ``)."""

    def handler(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
        body = request.json_or_none()
        field = "groupIds" if check else "securityEnabledOnly"
        value = body.get(field) if isinstance(body, dict) else None
        group_ids: list[Any] = value if isinstance(value, list) else []
        if (check and not isinstance(value, list)) or (not check and not isinstance(value, bool)):
            return graph_error(
                400,
                "Request_BadRequest",
                f"Invalid request: a value is required for parameter '{field}'.",
                caller.object_id,
                request,
            )
        if check and len(group_ids) > MAX_CHECK_GROUPS:
            return graph_error(
                400,
                "Request_BadRequest",
                f"Too many group identifiers were specified; the maximum is {MAX_CHECK_GROUPS}.",
                caller.object_id,
                request,
            )
        key = match.groupdict().get("key") or caller.object_id
        found_kind = _kind_of(state, unquote(key)) if kind == "directoryObjects" else kind
        obj = _find(state, found_kind, key) if found_kind else None
        allowed = _is_self(obj, caller) or _may_read_memberships(state, caller, kind)
        found = _readable(obj, unquote(key), allowed, caller, request)
        if isinstance(found, TwinResponse):
            return found
        ids = access.transitive_groups(state.scenario, str(found["id"]))
        if check:
            wanted = {str(g).lower() for g in group_ids}
            ids = [g for g in ids if g.lower() in wanted]
        elif value:  # securityEnabledOnly
            ids = [g for g in ids if (_find(state, "groups", g) or {}).get("securityEnabled", True)]
        result = {"@odata.context": _context(state, "Collection(Edm.String)"), "value": list(ids)}
        return TwinResponse.json(200, result, principal=caller.object_id)

    handler.__name__ = f"{'check' if check else 'get'}_member_groups_{kind}"
    return _signed_in(handler)


@_signed_in
def federated_credentials(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
    """An application's federated identity credentials (by object id or ``(appId='…')``)."""
    if not _allowed(state, caller, _READ["applications"]):
        return denied(caller, request)
    app = (
        _find_by_app_id(state, "applications", match["app"])
        if match.groupdict().get("app")
        else _find(state, "applications", match["key"])
    )
    if app is None:
        return not_found(match.groupdict().get("app") or match["key"], caller, request)
    creds = [strip_twin_fields(c) for c in app.get("federatedIdentityCredentials", [])]
    body = {
        "@odata.context": _context(state, f"applications('{app['id']}')/federatedIdentityCredentials"),
        "value": creds,
    }
    return TwinResponse.json(200, body, principal=caller.object_id)


# Either reads Conditional Access policies (and runs What If); Policy.Read.ConditionalAccess is the least one.
_CA_READ = ("Policy.Read.All", "Policy.Read.ConditionalAccess")


@_signed_in
def conditional_access_policies(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller
) -> TwinResponse:
    """Conditional Access policies; needs ``Policy.Read.All`` (or ``Policy.Read.ConditionalAccess``). Paged like
    every Graph collection: a page holds ``graphPageSize`` policies, the rest follow ``@odata.nextLink``."""
    if not _allowed(state, caller, _CA_READ):
        return denied(caller, request)
    policies = [strip_twin_fields(p) for p in _directory(state).get("conditionalAccessPolicies", [])]
    size = int(option(state.scenario, "graphPageSize"))
    token = request.query.get("$skiptoken", "")
    start = int(token) if token.isdigit() else 0
    body: dict[str, Any] = {
        "@odata.context": _context(state, "identity/conditionalAccess/policies"),
        "value": policies[start : start + size],
    }
    if start + size < len(policies):
        params = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = str(start + size)
        body["@odata.nextLink"] = f"{state.origin(GRAPH)}{request.path}?{urlencode(params)}"
    return TwinResponse.json(200, body, principal=caller.object_id)


@_signed_in
def conditional_access_what_if(
    state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller
) -> TwinResponse:
    """``POST identity/conditionalAccess/evaluate`` — Entra's What If, by the twin's own evaluation
    (:mod:`preflight.twin.whatif`). Same permission as reading the policies. ``options.conditionalAccessWhatIf:
    false`` plays a cloud without the action: Graph's 400 for an unknown segment."""
    from preflight.twin import whatif

    if not option(state.scenario, "conditionalAccessWhatIf"):
        return graph_error(
            400, "BadRequest", "Resource not found for the segment 'evaluate'.", caller.object_id, request
        )
    if not _allowed(state, caller, _CA_READ):
        return denied(caller, request)
    try:
        kind, who, apps, applied_only = whatif.parse_request(request.json())
    except ValueError as exc:  # not JSON, or not an evaluate request
        return graph_error(
            400,
            "BadRequest",
            str(exc) if isinstance(exc, whatif.WhatIfRequestError) else "Invalid JSON in the request body.",
            caller.object_id,
            request,
        )
    results = whatif.evaluate(state.scenario, kind, who, apps)
    if applied_only:
        results = [r for r in results if r["policyApplies"]]
    body = {"@odata.context": _context(state, "Collection(microsoft.graph.whatIfAnalysisResult)"), "value": results}
    return TwinResponse.json(200, body, principal=caller.object_id)


@dataclass(frozen=True, slots=True)
class _ListBody:
    """A POST body that carries one list of at most ``limit`` items, and Graph's own 400s for that action when the
    list is missing or too long (their words differ between actions, so each action keeps its own)."""

    field: str
    limit: int
    code: str
    missing: str
    too_long: str

    def read(self, request: TwinRequest, caller: Caller) -> dict[str, Any] | TwinResponse:
        body = request.json_or_none()
        if not isinstance(body, dict) or not isinstance(body.get(self.field), list):
            return graph_error(400, self.code, self.missing, caller.object_id, request)
        if len(body[self.field]) > self.limit:
            return graph_error(400, self.code, self.too_long, caller.object_id, request)
        return body


_GET_BY_IDS_BODY = _ListBody(
    "ids",
    MAX_GET_BY_IDS,
    "Request_BadRequest",
    "Invalid request: 'ids' is required.",
    f"Too many identifiers were specified; the maximum is {MAX_GET_BY_IDS}.",
)
_BATCH_BODY = _ListBody(
    "requests",
    MAX_BATCH,
    "BadRequest",
    "Invalid batch payload format.",
    "Number of requests inside batch exceeds the limit.",  # Graph's own words (its limit is MAX_BATCH)
)


@_signed_in
def get_by_ids(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
    """``POST directoryObjects/getByIds``: up to 1000 ids, optionally limited to ``types``."""
    body = _GET_BY_IDS_BODY.read(request, caller)
    if isinstance(body, TwinResponse):
        return body
    if not _allowed(state, caller, ("Directory.Read.All",)):
        return denied(caller, request)
    wanted_types = {
        _TYPE_NAMES.get(str(t).lower().removeprefix("microsoft.graph."), "?") for t in body.get("types") or []
    }
    found = []
    for oid in body["ids"]:
        kind = _kind_of(state, str(oid))
        if kind is None or (wanted_types and kind not in wanted_types):
            continue
        obj = _find(state, kind, str(oid))
        if obj is not None:
            found.append(obj)
    kinds = [(o, _kind_of(state, o["id"]) or "users") for o in found]
    values = [{"@odata.type": _ODATA_TYPES[kind], **_select(_public(o, kind), request, kind)} for o, kind in kinds]
    return TwinResponse.json(
        200, {"@odata.context": _context(state, "directoryObjects"), "value": values}, principal=caller.object_id
    )


@_signed_in
def batch(state: TwinState, request: TwinRequest, match: re.Match[str], caller: Caller) -> TwinResponse:
    """JSON batching: up to 20 requests with relative urls, answered in one ``responses`` array."""
    body = _BATCH_BODY.read(request, caller)
    if isinstance(body, TwinResponse):
        return body
    responses = []
    for item in body["requests"]:
        responses.append(_batch_one(state, request, item))
    return TwinResponse.json(200, {"responses": responses}, principal=caller.object_id)


def _batch_one(state: TwinState, outer: TwinRequest, item: Any) -> dict[str, Any]:
    rid = str(item.get("id", "")) if isinstance(item, dict) else ""
    if not isinstance(item, dict) or not item.get("url") or not item.get("method"):
        return {
            "id": rid,
            "status": 400,
            "headers": {"Content-Type": "application/json"},
            "body": {"error": {"code": "BadRequest", "message": "Each request needs id, method and url."}},
        }
    url = urlsplit(str(item["url"]))
    path = "/v1.0/" + unquote(url.path).lstrip("/")
    query = {k.lower(): v for k, v in parse_qsl(url.query, keep_blank_values=True)}
    headers = dict(outer.headers)
    headers.update({str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()})
    payload = json.dumps(item["body"]).encode() if "body" in item else b""
    inner = TwinRequest(str(item["method"]).upper(), path, query, headers, payload, raw_path=str(item["url"]))
    resolved = _ROUTER.resolve(inner.method, inner.path)
    if resolved is None or resolved[0].handler is batch:
        return {
            "id": rid,
            "status": 400,
            "headers": {"Content-Type": "application/json"},
            "body": {"error": {"code": "BadRequest", "message": f"Invalid request URL '{item['url']}'."}},
        }
    response = state.inner_fault(GRAPH, inner) or resolved[0].handler(state, inner, resolved[1])
    try:
        inner_body: Any = json.loads(response.body.decode() or "null")
    except ValueError:
        inner_body = response.body.decode(errors="replace")
    return {
        "id": rid,
        "status": response.status,
        "headers": {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "retry-after")},
        "body": inner_body,
    }


# ------------------------------------------------------------------------------------------------ routes


def _add_routes(router: Router) -> None:
    v1 = r"/v1\.0"
    key = r"(?P<key>[^/()]+)"
    app = r"\(appId='?(?P<app>[^')]+)'?\)"
    router.add("POST", v1 + r"/\$batch", GRAPH)(batch)
    router.add("GET", v1 + r"/me", GRAPH)(me)
    router.add("GET", v1 + r"/me/transitiveMemberOf(?:/microsoft\.graph\.group)?", GRAPH)(transitive_member_of("users"))
    router.add("GET", v1 + r"/users", GRAPH)(list_objects("users"))
    router.add("GET", v1 + r"/users/" + key, GRAPH)(get_object("users"))
    router.add("GET", v1 + r"/users/" + key + r"/transitiveMemberOf(?:/microsoft\.graph\.group)?", GRAPH)(
        transitive_member_of("users")
    )
    router.add("GET", v1 + r"/servicePrincipals", GRAPH)(list_objects("servicePrincipals"))
    router.add("GET", v1 + r"/servicePrincipals" + app, GRAPH)(get_by_app_id("servicePrincipals"))
    router.add("GET", v1 + r"/servicePrincipals/" + key, GRAPH)(get_object("servicePrincipals"))
    router.add("GET", v1 + r"/servicePrincipals/" + key + r"/transitiveMemberOf(?:/microsoft\.graph\.group)?", GRAPH)(
        transitive_member_of("servicePrincipals")
    )
    router.add("GET", v1 + r"/applications", GRAPH)(list_objects("applications"))
    router.add("GET", v1 + r"/applications" + app, GRAPH)(get_by_app_id("applications"))
    router.add("GET", v1 + r"/applications" + app + r"/federatedIdentityCredentials", GRAPH)(federated_credentials)
    router.add("GET", v1 + r"/applications/" + key, GRAPH)(get_object("applications"))
    router.add("GET", v1 + r"/applications/" + key + r"/federatedIdentityCredentials", GRAPH)(federated_credentials)
    router.add("GET", v1 + r"/groups", GRAPH)(list_objects("groups"))
    router.add("GET", v1 + r"/groups/" + key, GRAPH)(get_object("groups"))
    router.add("POST", v1 + r"/directoryObjects/getByIds", GRAPH)(get_by_ids)
    for check, action in ((False, "getMemberGroups"), (True, "checkMemberGroups")):
        router.add("POST", v1 + r"/me/" + action, GRAPH)(member_groups("users", check))
        for kind in ("users", "servicePrincipals", "groups", "directoryObjects"):
            router.add("POST", v1 + f"/{kind}/" + key + "/" + action, GRAPH)(member_groups(kind, check))
    router.add("GET", v1 + r"/identity/conditionalAccess/policies", GRAPH)(conditional_access_policies)
    router.add("POST", v1 + r"/identity/conditionalAccess/evaluate", GRAPH)(conditional_access_what_if)


_ROUTER = Router()  # the same routes, for dispatching the requests inside a $batch
_add_routes(_ROUTER)


def register(router: Router) -> None:
    """Register the Microsoft Graph v1.0 routes."""
    _add_routes(router)
