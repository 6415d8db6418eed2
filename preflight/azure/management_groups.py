"""The management groups above a management group, for questions asked *at* a management-group scope.

At a subscription scope, every management group among the assignments ARM lists is an ancestor (a subscription
has no groups below it), so :func:`preflight.azure.access.ancestry_from` needs no request. At a management-group
scope ARM also lists assignments at groups *below* it, so the hierarchy must be read: one
``GET …/managementGroups/{id}?$expand=ancestors`` (``details.managementGroupAncestors``, nearest first).
"""

from __future__ import annotations

from preflight.context import Context, fact
from preflight.errors import FactError

API_VERSION = "2023-04-01"
PREFIX = "/providers/microsoft.management/managementgroups/"


def management_group_of(scope: str) -> str | None:
    """The group id when ``scope`` is exactly a management group, else None."""
    lowered = scope.rstrip("/").lower()
    if not lowered.startswith(PREFIX):
        return None
    name = scope.rstrip("/")[len(PREFIX) :]
    return name if name and "/" not in name else None


@fact("management-group-ancestors")
def management_group_ancestors(ctx: Context, group: str) -> tuple[str, ...]:
    """Names of the groups above ``group``, nearest first (the tenant root group last)."""
    from urllib.parse import quote

    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    from preflight.azure.arm import arm_error, resource_client, subscription_of

    client = ctx.get(resource_client, subscription_of(ctx, f"{PREFIX}{group}"))
    request = HttpRequest(
        "GET",
        f"/providers/Microsoft.Management/managementGroups/{quote(group, safe='')}",
        params={"api-version": API_VERSION, "$expand": "ancestors"},
    )
    try:
        response = client.send_request(request)
        response.raise_for_status()
        body = response.json()
    except HttpResponseError as exc:
        raise arm_error("management-group-ancestors", exc, f"could not read management group {group}", "can-i") from exc
    except ValueError as exc:
        raise FactError(
            "management-group-ancestors", f"management group {group}: the answer is not JSON", reported_by="can-i"
        ) from exc
    details = ((body.get("properties") or {}).get("details") or {}) if isinstance(body, dict) else {}
    ancestors = details.get("managementGroupAncestors") or []
    return tuple(str(a) for a in ancestors if isinstance(a, str))
