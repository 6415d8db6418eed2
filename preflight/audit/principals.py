"""Resolve principal object ids to who they are, in bulk, through Microsoft Graph.

``POST /v1.0/directoryObjects/getByIds`` answers up to 1,000 ids per call, so 20,000 principals cost 20
requests (run a few at a time), never one call per principal. An id Graph does not return belongs to a deleted
object: that is exactly what the portal shows as "Unknown" — an orphaned assignment.

Applications' credentials (for the "secrets expiring" finding) come from the paged listing of
``/v1.0/applications`` with ``$select`` (999 a page), filtered here to the apps whose service principals hold
roles — or, when after the first page at most 200 of those are missing, from ``$batch``es of
``applications(appId='…')`` reads, so a large directory with few role-holding apps is not listed in full.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from preflight.azure.graph import GraphReader, principal_type

GRAPH_WORKERS = 4


@dataclass(frozen=True, slots=True)
class Principal:
    """A directory object as the audit reports it. ``exists`` is False for an id Graph did not return."""

    id: str
    kind: str  # User, Group, ServicePrincipal, Unknown
    display_name: str | None = None
    user_principal_name: str | None = None
    app_id: str | None = None
    user_type: str | None = None  # Member / Guest
    service_principal_type: str | None = None  # Application / ManagedIdentity / Legacy
    exists: bool = True

    @classmethod
    def from_graph(cls, obj: Mapping[str, Any]) -> Principal:
        kind = principal_type(obj)
        intern = sys.intern
        upn = obj.get("userPrincipalName")
        return cls(
            id=str(obj.get("id", "")).lower(),
            kind=kind,
            display_name=obj.get("displayName"),
            user_principal_name=upn,
            app_id=obj.get("appId"),
            user_type=intern(str(obj.get("userType") or ("Guest" if upn and "#EXT#" in str(upn) else "Member")))
            if kind == "User"
            else None,
            service_principal_type=intern(str(obj.get("servicePrincipalType") or "Application"))
            if kind == "ServicePrincipal"
            else None,
        )

    @classmethod
    def missing(cls, object_id: str) -> Principal:
        return cls(id=object_id.lower(), kind="Unknown", exists=False)


def resolve(graph: GraphReader, object_ids: Iterable[str], workers: int = GRAPH_WORKERS) -> dict[str, Principal]:
    """Every id → :class:`Principal` (``exists=False`` when Graph does not know it). Raises GraphError if
    Graph refuses (e.g. 403 ``Authorization_RequestDenied`` without Directory.Read.All): without an answer
    no id may be called deleted."""
    from preflight.azure.graph import get_by_ids

    ids = sorted({i.lower() for i in object_ids if i})
    found = {
        p.id: p
        for p in (
            Principal.from_graph(o)
            for o in get_by_ids(graph, ids, ["user", "group", "servicePrincipal"], workers=workers)
        )
    }
    return {i: found.get(i) or Principal.missing(i) for i in ids}


@dataclass(frozen=True, slots=True)
class AppCredential:
    """A secret or certificate of an application: what it is called and when it ends (never its value)."""

    app_id: str
    app_name: str | None
    kind: str  # secret / certificate
    name: str | None
    key_id: str | None
    end: str | None


APP_SELECT = "id,appId,displayName,passwordCredentials,keyCredentials"
BY_APP_ID_MAX = 200  # apps still wanted after the first listing page: fetch these by appId ($batch, 20 a call)


def _credentials(app: Mapping[str, Any]) -> tuple[AppCredential, ...]:
    app_id = str(app.get("appId", "")).lower()
    creds = [
        AppCredential(
            app_id, app.get("displayName"), "secret", c.get("displayName"), c.get("keyId"), c.get("endDateTime")
        )
        for c in app.get("passwordCredentials") or []
    ]
    creds += [
        AppCredential(
            app_id, app.get("displayName"), "certificate", c.get("displayName"), c.get("keyId"), c.get("endDateTime")
        )
        for c in app.get("keyCredentials") or []
    ]
    return tuple(creds)


def application_credentials(graph: GraphReader, app_ids: Iterable[str]) -> dict[str, tuple[AppCredential, ...]]:
    """Credentials of the applications with these app ids (apps registered in other tenants have none here).

    The cost follows the apps that hold roles, not the tenant's size: the first page of ``/applications``
    (999 apps) answers a small tenant at once; if at most :data:`BY_APP_ID_MAX` wanted apps are still missing,
    they are read by app id — ``GET /applications(appId='…')`` in ``$batch``es of 20 — instead of listing a
    directory of perhaps 50,000 apps page by page; otherwise the listing goes on."""
    wanted = {a.lower() for a in app_ids if a}
    found: dict[str, tuple[AppCredential, ...]] = {}
    if not wanted:
        return found
    from preflight.azure.graph import pages

    for number, page in enumerate(pages(graph, "applications", {"$select": APP_SELECT, "$top": "999"})):
        for app in page:
            if (app_id := str(app.get("appId", "")).lower()) in wanted:
                found[app_id] = _credentials(app)
        missing = wanted - found.keys()
        if not missing:
            return found
        if number == 0 and len(missing) <= BY_APP_ID_MAX:
            found.update(_by_app_id(graph, sorted(missing)))
            return found
    return found


def _by_app_id(graph: GraphReader, app_ids: list[str]) -> dict[str, tuple[AppCredential, ...]]:
    """``GET /applications(appId='…')`` for each id through ``$batch``. 404: not registered in this tenant
    (a multi-tenant app from elsewhere) — no credentials here. Any other refusal raises GraphError, as the
    listing would: without an answer no app may be called fine."""
    from preflight.azure.graph import GraphError, batch, get

    urls = {a: f"applications(appId='{a}')?$select={APP_SELECT}" for a in app_ids}
    found: dict[str, tuple[AppCredential, ...]] = {}
    for app_id, part in batch(graph, urls).items():
        if part.status in (429, 503, 504):  # throttled inside the batch: alone, through the retry policy
            part = get(graph, urls[app_id])
        if part.ok and isinstance(part.body, dict):
            found[app_id] = _credentials(part.body)
        elif part.status != 404:
            raise GraphError("GET", graph.base + urls[app_id], part.status, part.code, part.message or "")
    return found
