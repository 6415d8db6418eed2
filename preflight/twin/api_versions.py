"""api-version validation the way ARM does it, before the token is looked at.

ARM answers an api-version the addressed type does not support with 400 and one of two bodies:

- a resource provider's type (``…/providers/Microsoft.CognitiveServices/accounts/x``, an extension type such as
  ``…/providers/Microsoft.Authorization/roleAssignments``, a tenant-level one such as Resource Graph):
  ``NoRegisteredProviderFound`` — "No registered resource provider found for location '<l>' and API version '<v>'
  for type '<type>'. The supported api-versions are '<v1, v2>'. The supported locations are '<l1, l2>'."
  (seen in Azure/azure-quickstart-templates#8013, Azure/azure-sdk-for-python#26565);
- ARM's own APIs (tenants, subscriptions, resource groups, ``…/resources``, providers):
  ``InvalidApiVersionParameter`` — "The api-version '<v>' is invalid. The supported versions are '<v1,v2>'."
  (Azure/azure-cli#28038, ansible-collections/azure#1739).

The supported lists are data (``data/api_versions.json``, whose ``_note`` cites its sources). A type the data does
not list is not validated: the twin stays permissive where it knows nothing, so a new scenario type is never
refused by accident. Without this a product regression to a bad api-version would pass every twin-backed test.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from preflight.twin import access
from preflight.twin.http import TwinRequest, TwinResponse, TwinState

# The region the twin's ARM front door answers from when the request addresses nothing with a location (real
# ARM names the region that served the request).
FRONT_DOOR_LOCATION = "eastus"


@cache
def table() -> dict[str, Any]:
    """The supported api-versions (``arm``: ARM's own list; ``providers``: namespace → type → entry)."""
    text = resources.files("preflight.twin.data").joinpath("api_versions.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def arm_versions() -> list[str]:
    """ARM's own api-versions, newest first, as ARM prints them."""
    return list(table()["arm"])


def provider_types(namespace: str) -> dict[str, Any] | None:
    """The data's resource types of ``namespace`` (case-insensitive), or None if the twin has no list for it."""
    for name, types in table()["providers"].items():
        if name.lower() == namespace.lower():
            return dict(types)
    return None


def canonical_namespace(namespace: str) -> str | None:
    """The namespace as the data spells it (``Microsoft.CognitiveServices``), or None if unknown."""
    return next((name for name in table()["providers"] if name.lower() == namespace.lower()), None)


def addressed_type(method: str, path: str) -> tuple[str, str] | None:
    """``(namespace, type)`` of the provider type a request addresses, or None for ARM's own APIs.

    The last ``providers/{namespace}`` segment decides (extension resources such as role assignments sit under
    another resource's id); the type is every other segment after it (``accounts/x/deployments`` →
    ``accounts/deployments``). A POST's trailing odd segment is an action (``accounts/x/listKeys``) and belongs
    to the type before it. ``…/providers/{namespace}`` alone is ARM's provider API, not a provider type."""
    parts = [p for p in path.split("/") if p]
    marks = [i for i, p in enumerate(parts) if p.lower() == "providers"]
    if not marks or marks[-1] + 2 >= len(parts):
        return None
    start = marks[-1]
    rest = parts[start + 2 :]
    types = rest[0::2]
    if method.upper() == "POST" and len(rest) > 1 and len(rest) % 2 == 1:
        types = types[:-1]
    return parts[start + 1], "/".join(types)


def _location(state: TwinState, path: str) -> str:
    """The location ARM names: the nearest addressed resource's or resource group's, else the front door's."""
    parts = [p for p in path.split("/") if p]
    for end in range(len(parts), 1, -1):
        prefix = "/" + "/".join(parts[:end])
        for kind in ("resources", "resourceGroups"):
            for item in state.scenario.get(kind, []):
                if access.norm_scope(str(item.get("id", ""))) == access.norm_scope(prefix) and item.get("location"):
                    return str(item["location"])
    return FRONT_DOOR_LOCATION


def regional_locations(state: TwinState, namespace: str, rtype: str) -> list[str]:
    """A regional type's supported locations: the twin does not model region availability, so the locations
    its scenario's resources of that type are in."""
    full = f"{namespace}/{rtype}".lower()
    return sorted(
        {
            str(r["location"])
            for r in state.scenario.get("resources", [])
            if str(r.get("type", "")).lower() == full and r.get("location")
        }
    )


def refusal(state: TwinState, request: TwinRequest) -> TwinResponse | None:
    """ARM's 400 for an api-version the addressed type does not support, else None.

    Call after the missing-api-version check (an absent api-version is ``MissingApiVersionParameter``)."""
    version = request.query.get("api-version", "")
    addressed = addressed_type(request.method, request.path)
    if addressed is None:
        supported = arm_versions()
        if version.lower() in {v.lower() for v in supported}:
            return None
        return TwinResponse.json(
            400,
            {
                "error": {
                    "code": "InvalidApiVersionParameter",
                    "message": f"The api-version '{version}' is invalid. "
                    f"The supported versions are '{','.join(supported)}'.",
                }
            },
        )
    namespace, rtype = addressed
    types = provider_types(namespace)
    entry = next((e for name, e in (types or {}).items() if name.lower() == rtype.lower()), None)
    if entry is None:
        return None  # a type the twin has no list for: not validated
    versions = list(entry["apiVersions"])
    if version.lower() in {v.lower() for v in versions}:
        return None
    name = next(n for n in (types or {}) if n.lower() == rtype.lower())
    locations = regional_locations(state, namespace, name) if entry.get("regional") else []
    return TwinResponse.json(
        400,
        {
            "error": {
                "code": "NoRegisteredProviderFound",
                "message": "No registered resource provider found for location "
                f"'{_location(state, request.path)}' and API version '{version}' for type '{name}'. "
                f"The supported api-versions are '{', '.join(versions)}'. "
                f"The supported locations are '{', '.join(locations)}'.",
            }
        },
    )
