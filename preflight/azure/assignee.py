"""``--assignee``: an object id, a UPN or an application (client) id, resolved to a directory object id.

RBAC assignments name object ids, but people know a user by UPN and an app by its client id. Microsoft Graph
turns either into the object id; group memberships are then left to ARM (``assignedTo()`` resolves them
server-side), so no membership walk is needed here. Two read-only Graph calls at most, through the shared
Graph pipeline of :mod:`preflight.azure.graph`, signed by the credential the ARM reads use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from preflight.azure.arm import run_credential
from preflight.azure.facts import cloud
from preflight.context import Context
from preflight.errors import ConfigError
from preflight.target import GUID, UPN

if TYPE_CHECKING:
    from preflight.azure.graph import GraphReader


@dataclass(frozen=True, slots=True)
class Assignee:
    """A resolved principal: ``type`` is ARM's principalType (User, Group, ServicePrincipal, or Unknown when
    the directory could not be read and the input was taken as an object id)."""

    object_id: str
    type: str
    display: str | None = None
    note: str | None = None


def _reader(ctx: Context) -> GraphReader:
    from preflight.azure.graph import GraphReader, graph_client

    the_cloud = ctx.get(cloud)
    client, base = graph_client(the_cloud.graph_endpoint, ctx.get(run_credential), the_cloud.graph_scope)
    return GraphReader(client, base, "run credential", False)


def resolve_assignee(ctx: Context, value: str) -> Assignee:
    """Resolve ``value``; raises ConfigError (exit 2) when it names no directory object."""
    from preflight.azure.graph import GraphError, get, get_by_ids, principal_type

    value = value.strip()
    if UPN.match(value):
        part = get(_reader(ctx), f"users/{quote(value)}?$select=id,displayName,userPrincipalName")
        status, data = part.status, part.body if isinstance(part.body, dict) else {}
        if status == 200 and data.get("id"):
            return Assignee(str(data["id"]).lower(), "User", data.get("displayName"))
        if status == 404:
            raise ConfigError(f"--assignee {value}: no such user in the tenant")
        raise ConfigError(
            f"--assignee {value}: Microsoft Graph could not resolve the UPN ({status})",
            remediation="pass the user's object id instead",
        )
    if not GUID.match(value):
        raise ConfigError(f"--assignee {value!r} is neither an object id, a UPN nor an application id")
    reader = _reader(ctx)
    part = get(reader, f"servicePrincipals(appId='{value}')?$select=id,displayName")
    data = part.body if part.ok and isinstance(part.body, dict) else {}
    if data.get("id"):
        return Assignee(
            str(data["id"]).lower(),
            "ServicePrincipal",
            data.get("displayName"),
            note=f"application id {value} → service principal {data['id']}",
        )
    try:
        found = get_by_ids(reader, [value], ["user", "group", "servicePrincipal"])
    except GraphError as exc:
        # the directory is not readable (e.g. a guest, or an app without Directory.Read.All): ARM does not need it
        return Assignee(
            value.lower(),
            "Unknown",
            note=f"Microsoft Graph could not be read ({exc.status or exc.code}); {value} taken as an object id",
        )
    if not found:
        raise ConfigError(
            f"--assignee {value}: no user, group, service principal or application with this id in the tenant"
        )
    obj = found[0]
    return Assignee(str(obj.get("id", value)).lower(), principal_type(obj), obj.get("displayName"))
