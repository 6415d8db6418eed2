"""What every ARM-shaped twin service shares: error bodies, api-version, authentication, paging, lookups.

Error codes and messages are ARM's own (https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors),
so the SDKs raise exactly what they raise against Azure (``HttpResponseError`` with ``error.code``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from preflight.twin import access, api_versions
from preflight.twin.http import ARM, AuthError, Caller, TwinRequest, TwinResponse, TwinState, strip_twin_fields
from preflight.twin.scenario import option

# The audiences ARM accepts (its token audience list in the cloud metadata document) plus the twin's own origin.
ARM_AUDIENCES = (
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
)


def arm_audiences(state: TwinState) -> tuple[str, ...]:
    """Audiences ARM on the twin accepts: the public ones and the twin's own ``resourceManager`` URL."""
    return (*ARM_AUDIENCES, state.origin(ARM), state.origin(ARM) + "/")


def arm_error(
    status: int, code: str, message: str, principal: str | None = None, headers: Mapping[str, str] | None = None
) -> TwinResponse:
    """ARM's error body: ``{"error": {"code", "message"}}``."""
    return TwinResponse.json(
        status, {"error": {"code": code, "message": message}}, headers=headers, principal=principal
    )


def ok(payload: Any, principal: str | None) -> TwinResponse:
    """A 200 with twin-only ``x-twin*`` fields stripped."""
    return TwinResponse.json(200, strip_twin_fields(payload), principal=principal)


def missing_api_version(request: TwinRequest) -> TwinResponse | None:
    """ARM refuses any request without ``api-version`` (400 MissingApiVersionParameter)."""
    if request.query.get("api-version"):
        return None
    return arm_error(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def expected_tenant(state: TwinState, path: str) -> str | None:
    """The tenant ARM checks a token against for ``path``: any tenant for the tenant-level lists
    (``/tenants``, ``/subscriptions``), the subscription's own tenant under ``/subscriptions/{id}``, else
    None (the twin's home tenant)."""
    parts = path.strip("/").split("/")
    if len(parts) == 1 and parts[0].lower() in ("tenants", "subscriptions"):
        return ""
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        sub = find_by_id(state.scenario.get("subscriptions", []), f"/subscriptions/{parts[1]}")
        if sub is not None and sub.get("tenantId"):
            return str(sub["tenantId"])
    return None


def authenticate(state: TwinState, request: TwinRequest, service: str = ARM) -> Caller | TwinResponse:
    """api-version first (ARM checks it before the token: present, and supported by the addressed type — see
    :mod:`api_versions`), then the bearer token; a response means refused.

    Like ARM, the token's tenant must be the tenant of the subscription addressed; tenant-level lists accept
    any tenant's token (they answer that tenant's subscriptions). Uses the server's ``tenant_id=`` extension
    of :meth:`TwinState.verify_bearer` when it has one."""
    refused = missing_api_version(request) or api_versions.refusal(state, request)
    if refused is not None:
        return refused
    tenant = expected_tenant(state, request.path)
    try:
        if tenant is not None and "tenant_id" in inspect.signature(state.verify_bearer).parameters:
            verify: Any = state.verify_bearer
            return verify(request, arm_audiences(state), service=service, tenant_id=tenant)  # type: ignore[no-any-return]
        return state.verify_bearer(request, arm_audiences(state), service=service)
    except AuthError as exc:
        return exc.response


def client_name(caller: Caller) -> str:
    """What ARM calls the client in AuthorizationFailed: the user's UPN, else the object id again — for a service
    principal or managed identity real ARM prints ``The client '<oid>' with object id '<oid>'``, not the appId
    (Azure/azure-sdk-for-net#1157, microsoft/azure-tools-for-java#3643)."""
    claims = caller.claims
    return str(claims.get("upn") or claims.get("unique_name") or caller.object_id)


def authorization_failed(caller: Caller, action: str, scope: str) -> TwinResponse:
    """ARM's 403 when no role grants ``action`` at ``scope``."""
    return arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{client_name(caller)}' with object id '{caller.object_id}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials.",
        principal=caller.object_id,
    )


def authorize(state: TwinState, caller: Caller, action: str, scope: str) -> TwinResponse | None:
    """None if the caller's roles grant ``action`` at ``scope``, else the AuthorizationFailed answer."""
    if access.check(state.scenario, caller.object_id, action, scope).allowed:
        return None
    return authorization_failed(caller, action, scope)


def page(
    state: TwinState,
    request: TwinRequest,
    items: Sequence[Any],
    *,
    size_option: str = "pageSize",
    token_param: str = "$skipToken",
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One page of ``items`` as ``{"value": [...], "nextLink"?}``. ``nextLink`` is absolute on the twin's own
    origin and repeats the query (``$filter`` …) with ``token_param`` = the next offset, as ARM's does; the
    SDK follows it verbatim except for replacing ``api-version``."""
    size = int(option(state.scenario, size_option))
    try:
        start = max(0, int(request.query.get(token_param.lower(), "0") or 0))
    except ValueError:
        start = 0
    chunk = list(items[start : start + size])
    result: dict[str, Any] = {"value": chunk}  # ok() strips twin-only fields
    if start + size < len(items):
        params = {k: v for k, v in request.query.items() if k != token_param.lower()}
        restored = {_CANONICAL.get(k, k): v for k, v in params.items()}
        restored.update(extra or {})
        restored[token_param] = str(start + size)
        result["nextLink"] = f"{state.origin(ARM)}{request.path}?{urlencode(restored)}"
    return result


_CANONICAL = {"$filter": "$filter", "$top": "$top", "$select": "$select", "$expand": "$expand"}


def find_by_id(items: Sequence[Mapping[str, Any]], resource_id: str) -> Mapping[str, Any] | None:
    """The object whose ``id`` equals ``resource_id`` case-insensitively (ARM ids are case-insensitive)."""
    wanted = access.norm_scope(resource_id)
    for item in items:
        if access.norm_scope(str(item.get("id", ""))) == wanted:
            return item
    return None


def subscription_or_404(state: TwinState, subscription_id: str, caller: Caller) -> Mapping[str, Any] | TwinResponse:
    """The subscription, or ARM's 404 SubscriptionNotFound (also for subscriptions of another tenant)."""
    sub = find_by_id(state.scenario.get("subscriptions", []), f"/subscriptions/{subscription_id}")
    if sub is None or str(sub.get("tenantId", "")).lower() != caller.tenant_id.lower():
        return arm_error(
            404,
            "SubscriptionNotFound",
            f"The subscription '{subscription_id}' could not be found.",
            principal=caller.object_id,
        )
    return sub


def resource_group_or_404(
    state: TwinState, subscription_id: str, group: str, caller: Caller
) -> Mapping[str, Any] | TwinResponse:
    """The resource group, or ARM's 404 (SubscriptionNotFound / ResourceGroupNotFound)."""
    sub = subscription_or_404(state, subscription_id, caller)
    if isinstance(sub, TwinResponse):
        return sub
    rg = find_by_id(
        state.scenario.get("resourceGroups", []), f"/subscriptions/{subscription_id}/resourceGroups/{group}"
    )
    if rg is None:
        return arm_error(
            404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.", principal=caller.object_id
        )
    return rg


def resource_or_404(state: TwinState, resource_id: str, caller: Caller) -> Mapping[str, Any] | TwinResponse:
    """The resource, or ARM's 404 (SubscriptionNotFound / ResourceGroupNotFound / ResourceNotFound)."""
    parts = access.norm_scope(resource_id).strip("/").split("/")
    original = resource_id.strip("/").split("/")
    rg = resource_group_or_404(state, original[1], original[3], caller)
    if isinstance(rg, TwinResponse):
        return rg
    res = find_by_id(state.scenario.get("resources", []), resource_id)
    if res is None:
        type_name = "/".join(original[5:])
        if len(parts) >= 8:
            type_name = f"{original[5]}/{original[6]}/{original[7]}" if len(parts) == 8 else "/".join(original[5:])
        return arm_error(
            404,
            "ResourceNotFound",
            f"The Resource '{type_name}' under resource group '{original[3]}' was not found. For more details "
            "please go to https://aka.ms/ARMResourceNotFoundFix",
            principal=caller.object_id,
        )
    return res


Handler = Callable[[TwinState, TwinRequest, Any], TwinResponse]
