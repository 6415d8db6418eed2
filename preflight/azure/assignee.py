"""``--assignee``: an object id, a UPN or an application (client) id, resolved to a directory object id.

RBAC assignments name object ids, but people know a user by UPN and an app by its client id. Microsoft Graph
turns either into the object id; group memberships are then left to ARM (``assignedTo()`` resolves them
server-side), so no membership walk is needed here. A minimal read-only Graph GET/POST of its own, through a
plain azure-core pipeline (the shared Graph adapter may replace it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from preflight.azure.arm import run_credential
from preflight.azure.facts import cloud
from preflight.context import Context
from preflight.errors import ConfigError

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
UPN = re.compile(r"^[^@\s/]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ODATA_TYPES = {"#microsoft.graph.user": "User", "#microsoft.graph.group": "Group",
               "#microsoft.graph.servicePrincipal": "ServicePrincipal"}


@dataclass(frozen=True, slots=True)
class Assignee:
    """A resolved principal: ``type`` is ARM's principalType (User, Group, ServicePrincipal, or Unknown when
    the directory could not be read and the input was taken as an object id)."""

    object_id: str
    type: str
    display: str | None = None
    note: str | None = None


class _Graph:
    """Just enough Microsoft Graph: one pipeline, JSON in and out, status codes kept."""

    def __init__(self, ctx: Context) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            RetryPolicy,
        )

        the_cloud = ctx.get(cloud)
        self.base = the_cloud.graph_endpoint.rstrip("/") + "/v1.0"
        self.client: Any = PipelineClient(self.base, policies=[
            RetryPolicy(retry_total=2, retry_backoff_max=8),
            BearerTokenCredentialPolicy(ctx.get(run_credential), the_cloud.graph_scope),
        ])

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        from azure.core.rest import HttpRequest

        response = self.client.send_request(HttpRequest(method, self.base + path, json=body))
        try:
            data = response.json()
        except ValueError:
            data = {}
        return response.status_code, data if isinstance(data, dict) else {}


def resolve_assignee(ctx: Context, value: str) -> Assignee:
    """Resolve ``value``; raises ConfigError (exit 2) when it names no directory object."""
    value = value.strip()
    if UPN.match(value):
        graph = _Graph(ctx)
        status, data = graph.call("GET", f"/users/{quote(value)}?$select=id,displayName,userPrincipalName")
        if status == 200 and data.get("id"):
            return Assignee(str(data["id"]).lower(), "User", data.get("displayName"))
        if status == 404:
            raise ConfigError(f"--assignee {value}: no such user in the tenant")
        raise ConfigError(f"--assignee {value}: Microsoft Graph could not resolve the UPN ({status})",
                          remediation="pass the user's object id instead")
    if not GUID.match(value):
        raise ConfigError(f"--assignee {value!r} is neither an object id, a UPN nor an application id")
    graph = _Graph(ctx)
    status, data = graph.call("GET", f"/servicePrincipals(appId='{value}')?$select=id,displayName")
    if status == 200 and data.get("id"):
        return Assignee(str(data["id"]).lower(), "ServicePrincipal", data.get("displayName"),
                        note=f"application id {value} → service principal {data['id']}")
    status, data = graph.call("POST", "/directoryObjects/getByIds",
                              {"ids": [value], "types": ["user", "group", "servicePrincipal"]})
    if status == 200:
        found = [o for o in data.get("value") or [] if isinstance(o, dict)]
        if not found:
            raise ConfigError(f"--assignee {value}: no user, group, service principal or application with this id "
                              "in the tenant")
        obj = found[0]
        return Assignee(str(obj.get("id", value)).lower(), ODATA_TYPES.get(str(obj.get("@odata.type")), "Unknown"),
                        obj.get("displayName"))
    # the directory is not readable (e.g. a guest, or an app without Directory.Read.All): ARM does not need it
    return Assignee(value.lower(), "Unknown",
                    note=f"Microsoft Graph could not be read ({status}); {value} taken as an object id")
