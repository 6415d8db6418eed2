"""Azure Resource Manager on the twin: cloud metadata, tenants, subscriptions, resource groups and resources.

Role assignments, role definitions, deny assignments and permissions live in :mod:`arm_authorization`;
Resource Graph in :mod:`resource_graph`. Reads are authorised like ARM does: the caller needs a role granting
the read action (``*/read`` matches) at or above the scope, else 403 ``AuthorizationFailed``; collection GETs
are filtered to what the caller may read, as ARM filters them.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Mapping
from typing import Any, cast

from preflight.twin import access, api_versions, arm_authorization, arm_management
from preflight.twin.arm_common import (
    arm_error,
    authenticate,
    authorization_failed,
    authorize,
    find_by_id,
    ok,
    page,
    resource_group_or_404,
    resource_or_404,
    subscription_or_404,
)
from preflight.twin.http import ARM, ENTRA, GRAPH, Caller, Router, TwinRequest, TwinResponse, TwinState

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
# providers/NS then (type/name)+, but never a nested /providers/… (extension resources are other routes)
_RESOURCE = r"(?P<id>" + _RG + r"/providers/(?P<ns>[^/]+)(?:/(?!providers(?:/|$))[^/]+/[^/]+)+)"


def cloud_metadata(login: str, arm: str | None = None, graph: str | None = None) -> dict[str, Any]:
    """The ``/metadata/endpoints`` document (api-version 2022-09-01 shape, keys as AzureCloud publishes them),
    with the twin standing in for login, Resource Manager and Microsoft Graph (at their named hosts, or all at
    the one origin ``login``). The Azure CLI's ``az cloud register --endpoint-resource-manager`` and preflight's
    ``ARM_CLOUD_METADATA_URL`` read it."""
    root = login.rstrip("/") + "/"
    arm_root = (arm or login).rstrip("/") + "/"
    graph_root = (graph or login).rstrip("/") + "/"
    return {
        "portal": "https://portal.azure.com",
        "authentication": {
            "loginEndpoint": root,
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": "AzureTwin",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": arm_root,
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/"
        "quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": graph_root,
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        "gallery": "https://gallery.azure.com/",
    }


def metadata_endpoints(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Unauthenticated, like the real one; ARM requires api-version here too."""
    if not request.query.get("api-version"):
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    return TwinResponse.json(200, cloud_metadata(state.origin(ENTRA), state.origin(ARM), state.origin(GRAPH)))


def list_tenants(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """The caller's home tenant (``TenantIdDescription`` shape)."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    tenants = [state.scenario["tenant"], *state.scenario.get("otherTenants", [])]
    mine = [tenant_description(t) for t in tenants if str(t.get("tenantId", "")).lower() == caller.tenant_id.lower()]
    return ok(page(state, request, mine), caller.object_id)


def tenant_description(tenant: Any) -> dict[str, Any]:
    """ARM's ``TenantIdDescription`` for a scenario tenant (whose ``id`` is the bare GUID)."""
    tid = str(tenant.get("tenantId") or tenant.get("id"))
    keys = (
        "countryCode",
        "displayName",
        "domains",
        "tenantCategory",
        "defaultDomain",
        "tenantType",
        "tenantBrandingLogoUrl",
    )
    return {"id": f"/tenants/{tid}", "tenantId": tid, **{k: tenant[k] for k in keys if k in tenant}}


def list_subscriptions(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Subscriptions of the caller's tenant where it holds any role (at, above or below), as ARM lists them."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    subs = [
        s
        for s in state.scenario.get("subscriptions", [])
        if str(s.get("tenantId", "")).lower() == caller.tenant_id.lower()
        and access.has_any_access(state.scenario, caller.object_id, s["id"])
    ]
    return ok(page(state, request, subs), caller.object_id)


def _subscription(
    state: TwinState, request: TwinRequest, match: re.Match[str]
) -> tuple[Caller, Mapping[str, Any]] | TwinResponse:
    """The authenticated caller and the path's subscription; else ARM's answer (401, or 404 SubscriptionNotFound)."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    sub = subscription_or_404(state, match["sub"], caller)
    return sub if isinstance(sub, TwinResponse) else (caller, sub)


def get_subscription(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """GET a subscription: any role at, above or below it lets the caller see it."""
    found = _subscription(state, request, match)
    if isinstance(found, TwinResponse):
        return found
    caller, sub = found
    if not access.has_any_access(state.scenario, caller.object_id, sub["id"]):
        # a role anywhere in the subscription is enough to see it; none at all is ARM's AuthorizationFailed
        return authorization_failed(caller, "Microsoft.Resources/subscriptions/read", f"/subscriptions/{match['sub']}")
    return ok(sub, caller.object_id)


def list_resource_groups(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Resource groups of a subscription the caller may read (ARM filters the list)."""
    found = _subscription(state, request, match)
    if isinstance(found, TwinResponse):
        return found
    caller, sub = found
    action = "Microsoft.Resources/subscriptions/resourceGroups/read"
    if not access.has_any_access(state.scenario, caller.object_id, sub["id"]):
        return authorization_failed(caller, action, sub["id"])
    prefix = access.norm_scope(sub["id"]) + "/"
    groups = [
        g
        for g in state.scenario.get("resourceGroups", [])
        if access.norm_scope(g["id"]).startswith(prefix)
        and access.check(state.scenario, caller.object_id, action, g["id"]).allowed
    ]
    return ok(page(state, request, groups), caller.object_id)


def get_resource_group(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """GET a resource group; needs its read action at or above it."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    rg = resource_group_or_404(state, match["sub"], match["rg"], caller)
    if isinstance(rg, TwinResponse):
        return rg
    refused = authorize(
        state,
        caller,
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        f"/subscriptions/{match['sub']}/resourceGroups/{match['rg']}",
    )
    return refused or ok(rg, caller.object_id)


def head_resource_group(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``HEAD`` a resource group (``check_existence``): 204 if it exists, 404 if not, no body either way."""
    answer = get_resource_group(state, request, match)
    status = 204 if answer.status == 200 else answer.status
    return TwinResponse(
        status, b"", {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}, answer.principal
    )


def _read_action(resource_id: str) -> str:
    """``{namespace}/{type}[/{childType}…]/read`` for a resource id."""
    parts = resource_id.strip("/").split("/")
    types = [parts[5], parts[6]] + [parts[k] for k in range(8, len(parts), 2)]
    return "/".join(types) + "/read"


# Properties ARM answers on every Cognitive Services account that a scenario rarely names (shapes from
# `az cognitiveservices account create/show` output quoted in Microsoft Learn's quickstarts; the api reference:
# specification/cognitiveservices/…/cognitiveservices.json, AccountProperties). `callRateLimit.rules` lists
# per-operation limits in real answers; the twin does not model them and answers an empty list. Properties the
# product reads (endpoint(s), disableLocalAuth, publicNetworkAccess, networkAcls, locations) stay the scenario's.
ACCOUNT_PROPERTY_DEFAULTS: dict[str, Any] = {
    "abusePenalty": None,
    "allowedFqdnList": None,
    "apiProperties": None,
    "callRateLimit": {"count": None, "renewalPeriod": None, "rules": []},
    "capabilities": [],
    "dateCreated": None,
    "deletionDate": None,
    "dynamicThrottlingEnabled": None,
    "encryption": None,
    "isMigrated": False,
    "migrationToken": None,
    "privateEndpointConnections": [],
    "quotaLimit": None,
    "restore": None,
    "restrictOutboundNetworkAccess": None,
    "scheduledPurgeDate": None,
    "skuChangeInfo": None,
    "userOwnedStorage": None,
}


def complete_account(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Cognitive Services account with the properties ARM always answers (the scenario's values win);
    any other resource unchanged."""
    if str(resource.get("type", "")).lower() != "microsoft.cognitiveservices/accounts":
        return resource
    properties = dict(resource.get("properties") or {})
    for key, value in ACCOUNT_PROPERTY_DEFAULTS.items():
        properties.setdefault(key, copy.deepcopy(value))
    return dict(resource, properties=properties)


def get_resource(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Generic resource GET by id: accounts, workspaces, deployments, anything in ``resources``."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    rid = match["id"]
    res = resource_or_404(state, rid, caller)
    if isinstance(res, TwinResponse):
        return res
    refused = authorize(state, caller, _read_action(res["id"]), rid)
    return refused or ok(complete_account(res), caller.object_id)


def _list_typed(state: TwinState, request: TwinRequest, scope: str, rtype: str) -> TwinResponse:
    """Resources of one type under a subscription or resource group, filtered to what the caller may read."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    parts = scope.strip("/").split("/")
    if len(parts) == 2:
        holder: Any = subscription_or_404(state, parts[1], caller)
    else:
        holder = resource_group_or_404(state, parts[1], parts[3], caller)
    if isinstance(holder, TwinResponse):
        return holder
    action = f"{rtype}/read"
    if not access.has_any_access(state.scenario, caller.object_id, scope):
        return authorization_failed(caller, action, scope)
    prefix = access.norm_scope(scope) + "/"
    found = [
        r
        for r in state.scenario.get("resources", [])
        if str(r.get("type", "")).lower() == rtype.lower()
        and access.norm_scope(r["id"]).startswith(prefix)
        and access.check(state.scenario, caller.object_id, action, r["id"]).allowed
    ]
    return ok(page(state, request, [complete_account(r) for r in found]), caller.object_id)


_LIST_KEYS = (
    "id",
    "name",
    "type",
    "kind",
    "location",
    "managedBy",
    "sku",
    "plan",
    "identity",
    "tags",
    "zones",
    "extendedLocation",
)


def list_resources(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``GET …/resources`` (subscription or resource group): ``GenericResourceExpanded`` items — no
    ``properties``, as ARM lists them — with ``$filter`` on ``resourceType eq '…'`` / ``name eq '…'``
    (joined by ``and``), filtered to what the caller may read."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    groups = match.groupdict()
    scope = f"/subscriptions/{groups['sub']}" + (f"/resourceGroups/{groups['rg']}" if groups.get("rg") else "")
    holder: Any = (
        resource_group_or_404(state, groups["sub"], groups["rg"], caller)
        if groups.get("rg")
        else subscription_or_404(state, groups["sub"], caller)
    )
    if isinstance(holder, TwinResponse):
        return holder
    text = request.query.get("$filter", "").strip()
    wanted: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text, flags=re.IGNORECASE) if text else []:
        m = re.fullmatch(r"(resourceType|name)\s+eq\s+'([^']*)'", clause.strip(), re.IGNORECASE)
        if not m:
            return arm_error(
                400,
                "InvalidFilterInQueryString",
                f"Invalid $filter '{text}' specified in the query string.",
                principal=caller.object_id,
            )
        wanted["type" if m[1].lower() == "resourcetype" else "name"] = m[2].lower()
    if not access.has_any_access(state.scenario, caller.object_id, scope):
        return authorization_failed(caller, "Microsoft.Resources/subscriptions/resources/read", scope)
    prefix = access.norm_scope(scope) + "/"
    found = []
    for res in state.scenario.get("resources", []):
        if not access.norm_scope(res["id"]).startswith(prefix):
            continue
        if any(str(res.get(k, "")).lower() != v for k, v in wanted.items()):
            continue
        if not access.check(state.scenario, caller.object_id, _read_action(res["id"]), res["id"]).allowed:
            continue
        found.append({k: res[k] for k in _LIST_KEYS if k in res})
    return ok(page(state, request, found), caller.object_id)


def list_accounts_in_subscription(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Cognitive Services accounts of a subscription the caller may read."""
    return _list_typed(state, request, f"/subscriptions/{match['sub']}", "Microsoft.CognitiveServices/accounts")


def list_accounts_in_group(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """Cognitive Services accounts of a resource group the caller may read."""
    return _list_typed(
        state,
        request,
        f"/subscriptions/{match['sub']}/resourceGroups/{match['rg']}",
        "Microsoft.CognitiveServices/accounts",
    )


def _account(
    state: TwinState, request: TwinRequest, match: re.Match[str], action: str
) -> tuple[Caller, str, Mapping[str, Any]] | TwinResponse:
    """The caller, id and resource of the path's ``accounts/{account}``, once the caller is authenticated, the
    account found and ``action`` granted at it; else ARM's answer (401, 404 or 403 AuthorizationFailed)."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    account_id = (
        f"/subscriptions/{match['sub']}/resourceGroups/{match['rg']}/providers/"
        f"Microsoft.CognitiveServices/accounts/{match['account']}"
    )
    account = resource_or_404(state, account_id, caller)
    if isinstance(account, TwinResponse):
        return account
    return authorize(state, caller, action, account_id) or (caller, account_id, account)


def list_deployments(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``accounts/{name}/deployments``: the account must exist; deployments are resources of type
    ``Microsoft.CognitiveServices/accounts/deployments`` under it."""
    granted = _account(state, request, match, "Microsoft.CognitiveServices/accounts/deployments/read")
    if isinstance(granted, TwinResponse):
        return granted
    caller, account_id, _ = granted
    prefix = access.norm_scope(account_id) + "/deployments/"
    found = [r for r in state.scenario.get("resources", []) if access.norm_scope(r["id"]).startswith(prefix)]
    return ok(page(state, request, found), caller.object_id)


# Namespaces every subscription has without registering them (``registrationPolicy: RegistrationFree``).
_REGISTRATION_FREE = {
    "microsoft.authorization",
    "microsoft.management",
    "microsoft.resourcegraph",
    "microsoft.resources",
}
# Display names ARM uses in a provider's ``resourceTypes[].locations`` (the scenario uses the short names).
_REGION_NAMES = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westeurope": "West Europe",
    "northeurope": "North Europe",
    "uksouth": "UK South",
    "francecentral": "France Central",
    "swedencentral": "Sweden Central",
    "germanywestcentral": "Germany West Central",
    "switzerlandnorth": "Switzerland North",
    "japaneast": "Japan East",
    "australiaeast": "Australia East",
    "canadaeast": "Canada East",
    "southeastasia": "Southeast Asia",
    "eastasia": "East Asia",
    "koreacentral": "Korea Central",
    "southindia": "South India",
    "centralindia": "Central India",
    "brazilsouth": "Brazil South",
    "norwayeast": "Norway East",
    "uaenorth": "UAE North",
    "southafricanorth": "South Africa North",
}


def _provider(state: TwinState, subscription_id: str, namespace: str) -> dict[str, Any]:
    """ARM's ``Provider`` for one namespace of the twin's api-version data (Providers - Get shape): each resource
    type with its ``apiVersions`` (newest first, as ARM lists them) and ``locations``. ``Registered`` when the
    namespace needs no registration or the subscription holds a resource of it (one cannot exist otherwise),
    else ``NotRegistered``."""
    types = api_versions.provider_types(namespace) or {}
    prefix = f"/subscriptions/{subscription_id}/".lower()
    held = any(
        str(r.get("type", "")).lower().startswith(namespace.lower() + "/")
        and access.norm_scope(str(r.get("id", ""))).startswith(prefix.rstrip("/"))
        for r in state.scenario.get("resources", [])
    )
    free = namespace.lower() in _REGISTRATION_FREE
    resource_types = []
    for name, entry in types.items():
        regions = (
            [_REGION_NAMES.get(loc.lower(), loc) for loc in api_versions.regional_locations(state, namespace, name)]
            if entry.get("regional")
            else []
        )
        resource_types.append(
            {
                "resourceType": name,
                "locations": regions,
                "apiVersions": sorted(entry["apiVersions"], reverse=True),
                "capabilities": "SupportsTags, SupportsLocation" if entry.get("regional") else "None",
            }
        )
    return {
        "id": f"/subscriptions/{subscription_id}/providers/{namespace}",
        "namespace": namespace,
        "resourceTypes": resource_types,
        "registrationState": "Registered" if free or held else "NotRegistered",
        "registrationPolicy": "RegistrationFree" if free else "RegistrationRequired",
    }


def _providers_reader(state: TwinState, request: TwinRequest, sub_id: str) -> Any:
    """The caller, or ARM's answer refusing it: the subscription must exist and the caller hold some role in it
    (``Microsoft.Resources/subscriptions/providers/read`` is part of every built-in role's ``*/read``)."""
    caller = authenticate(state, request)
    if isinstance(caller, TwinResponse):
        return caller
    sub = subscription_or_404(state, sub_id, caller)
    if isinstance(sub, TwinResponse):
        return sub
    if not access.has_any_access(state.scenario, caller.object_id, sub["id"]):
        return authorization_failed(caller, "Microsoft.Resources/subscriptions/providers/read", sub["id"])
    return caller


def get_provider(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``GET /subscriptions/{sub}/providers/{namespace}`` (``az provider show``); an unknown namespace is ARM's
    404 ``InvalidResourceNamespace``."""
    caller = _providers_reader(state, request, match["sub"])
    if isinstance(caller, TwinResponse):
        return caller
    namespace = api_versions.canonical_namespace(match["ns"])
    if namespace is None:
        return arm_error(
            404,
            "InvalidResourceNamespace",
            f"The resource namespace '{match['ns']}' is invalid.",
            principal=caller.object_id,
        )
    return ok(_provider(state, match["sub"], namespace), caller.object_id)


def list_providers(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``GET /subscriptions/{sub}/providers`` (``az provider list``): every namespace the twin knows."""
    caller = _providers_reader(state, request, match["sub"])
    if isinstance(caller, TwinResponse):
        return caller
    items = [_provider(state, match["sub"], ns) for ns in api_versions.table()["providers"]]
    return ok(page(state, request, items), caller.object_id)


LIST_KEYS = "Microsoft.CognitiveServices/accounts/listKeys/action"


def list_keys(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``POST …/accounts/{name}/listKeys`` (``az cognitiveservices account keys list``): needs
    ``accounts/listKeys/action`` at the account (ARM's 403 ``AuthorizationFailed`` otherwise — a data role such as
    *Cognitive Services OpenAI User* does not carry it). The keys are the account's twin-only ``x-twin-keys`` (so a
    listed key works on the data plane), random per account and twin run where the scenario declares none; they
    are secrets, so nothing logs them (the request log keeps no response body)."""
    granted = _account(state, request, match, LIST_KEYS)
    if isinstance(granted, TwinResponse):
        return granted
    caller, account_id, account = granted
    declared = [str(k) for k in account.get("x-twin-keys") or []]
    server = cast(Any, state)
    with server.store_lock:
        keys: dict[str, Mapping[str, str]] = server.store.setdefault("account_keys", {})
        pair = keys.setdefault(
            access.norm_scope(account_id),
            {
                name: declared[i] if i < len(declared) else secrets.token_hex(16)
                for i, name in enumerate(("key1", "key2"))
            },
        )
    return TwinResponse.json(200, dict(pair), principal=caller.object_id)


def register(router: Router) -> None:
    """ARM routes; authorization (role assignments …) first, as they share prefixes with resources."""
    arm_authorization.register(router)
    arm_management.register(router)
    router.add("GET", r"/metadata/endpoints", ARM)(metadata_endpoints)
    router.add("GET", r"/tenants", ARM)(list_tenants)
    router.add("GET", r"/subscriptions", ARM)(list_subscriptions)
    router.add("GET", _SUB, ARM)(get_subscription)
    router.add("GET", _SUB + r"/resourceGroups", ARM)(list_resource_groups)
    router.add("GET", _RG, ARM)(get_resource_group)
    router.add("HEAD", _RG, ARM)(head_resource_group)
    router.add("GET", _SUB + r"/resources", ARM)(list_resources)
    router.add("GET", _RG + r"/resources", ARM)(list_resources)
    router.add("GET", _SUB + r"/providers/Microsoft\.CognitiveServices/accounts", ARM)(list_accounts_in_subscription)
    router.add("GET", _RG + r"/providers/Microsoft\.CognitiveServices/accounts", ARM)(list_accounts_in_group)
    router.add("GET", _RG + r"/providers/Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)/deployments", ARM)(
        list_deployments
    )
    router.add("POST", _RG + r"/providers/Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)/listKeys", ARM)(
        list_keys
    )
    router.add("GET", _SUB + r"/providers", ARM)(list_providers)
    router.add("GET", _SUB + r"/providers/(?P<ns>[^/]+)", ARM)(get_provider)
    router.add("GET", _RESOURCE, ARM)(get_resource)


__all__ = ["cloud_metadata", "find_by_id", "register"]
