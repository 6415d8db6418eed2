"""Managed identity endpoints, exactly as the installed azure-identity / MSAL call them.

* **App Service / Functions / Container Apps** (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``): MSAL sends
  ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R[&client_id=|mi_res_id=|object_id=]`` with
  ``X-IDENTITY-HEADER``; the answer carries ``expires_on`` (epoch seconds, as a string).
* **IMDS** (``AZURE_POD_IDENTITY_AUTHORITY_HOST``, else the link-local address the twin exists to replace):
  ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R[&client_id=|msi_res_id=|object_id=]``
  with ``Metadata: true``; the answer carries ``expires_in``.

The identity is the scenario's ``signIn.managedIdentity`` (``clientId``, ``principalId``) backed by its
``ManagedIdentity`` service principal. Without one, both endpoints give the real "no identity" answers, which
azure-identity turns into ``CredentialUnavailableError`` — so a process under the twin never needs IMDS.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from preflight.twin import entra, signin
from preflight.twin.http import (
    MANAGED_IDENTITY,
    Router,
    TwinRequest,
    TwinResponse,
    TwinState,
)

APP_SERVICE_PATH = "/msi/token"
IMDS_PATH = "/metadata/identity/oauth2/token"
MI_LIFETIME = 86399


def _identity(state: TwinState) -> Mapping[str, Any] | None:
    """The assigned identity's service principal (synthesised from ``signIn`` if the directory lacks it)."""
    mi = signin.section(state.scenario, "managedIdentity")
    if mi is None:
        return None
    sp = None
    if mi.get("principalId"):
        sp = entra.find_service_principal(state.scenario, object_id=str(mi["principalId"]))
    if sp is None and mi.get("clientId"):
        sp = entra.find_service_principal(state.scenario, app_id=str(mi["clientId"]))
    if sp is None:
        sp = {
            "id": mi.get("principalId") or str(uuid.uuid4()),
            "appId": mi.get("clientId") or str(uuid.uuid4()),
            "displayName": "managed-identity",
            "servicePrincipalType": "ManagedIdentity",
            "accountEnabled": True,
        }
    return sp


def _selected(sp: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """Whether the request's selector (if any) names the assigned identity."""
    for key, field in (("client_id", "appId"), ("object_id", "id"), ("principal_id", "id")):
        if query.get(key):
            return query[key].lower() == str(sp.get(field, "")).lower()
    for key in ("mi_res_id", "msi_res_id"):
        if query.get(key):
            return query[key].lower() == str(entra.mi_resource_id(sp) or "").lower()
    return True


def _app_service_error(status: int, message: str) -> TwinResponse:
    return TwinResponse.json(status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())})


def _imds_error(status: int, error: str, description: str) -> TwinResponse:
    return TwinResponse.json(status, {"error": error, "error_description": description})


def _issue(state: TwinState, sp: Mapping[str, Any], resource: str) -> tuple[str, int]:
    token, claims = entra.mint_app_token(state, sp, resource, appidacr="2", lifetime=MI_LIFETIME)
    return token, int(claims["exp"])


def _forced(state: TwinState, sp: Mapping[str, Any] | None, resource: str) -> TwinResponse | None:
    names = [str(sp.get("id", "")), str(sp.get("appId", ""))] if sp else []
    forced = entra.forced_error(
        state,
        client_id=str((sp or {}).get("appId", "")),
        principals=names,
        scope=resource,
        grant_type="managed_identity",
    )
    return forced.response() if forced else None


def app_service_token(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    expected = getattr(state, "identity_header", None)
    if not request.header("x-identity-header") or (expected and request.header("x-identity-header") != expected):
        return _app_service_error(401, "The X-IDENTITY-HEADER header is missing or invalid.")
    resource = request.query.get("resource", "")
    if not resource:
        return _app_service_error(400, "The resource parameter is missing.")
    sp = _identity(state)
    forced = _forced(state, sp, resource)
    if forced:
        return forced
    if sp is None or not _selected(sp, request.query):
        return _app_service_error(400, "Unable to load the proper Managed Identity.")
    if not entra.resource_known(state, resource):
        return _app_service_error(400, entra.resource_not_found(resource, state.scenario.get("tenant")).args[0])
    token, exp = _issue(state, sp, resource)
    return TwinResponse.json(
        200,
        {
            "access_token": token,
            "expires_on": str(exp),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": sp.get("appId"),
        },
        principal=str(sp.get("id", "")),
    )


def imds_token(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    if request.header("metadata").lower() != "true":
        return _imds_error(400, "invalid_request", "Required metadata header not specified")
    if not request.query.get("api-version"):
        return _imds_error(400, "invalid_request", "Required query variable 'api-version' is missing")
    resource = request.query.get("resource", "")
    if not resource:
        return _imds_error(400, "invalid_request", "Required query variable 'resource' is missing")
    sp = _identity(state)
    forced = _forced(state, sp, resource)
    if forced:
        return forced
    if sp is None or not _selected(sp, request.query):
        return _imds_error(400, "invalid_request", "Identity not found")
    if not entra.resource_known(state, resource):
        err = entra.resource_not_found(resource, state.scenario.get("tenant"))
        return _imds_error(400, "invalid_resource", str(err.body(state, request)["error_description"]))
    token, exp = _issue(state, sp, resource)
    now = int(state.now())
    return TwinResponse.json(
        200,
        {
            "access_token": token,
            "client_id": sp.get("appId"),
            "expires_in": str(exp - now),
            "expires_on": str(exp),
            "ext_expires_in": str(exp - now),
            "not_before": str(now),
            "resource": resource,
            "token_type": "Bearer",
        },
        principal=str(sp.get("id", "")),
    )


def register(router: Router) -> None:
    router.add("GET", re.escape(APP_SERVICE_PATH), MANAGED_IDENTITY)(app_service_token)
    router.add("GET", re.escape(IMDS_PATH), MANAGED_IDENTITY)(imds_token)


__all__ = ["APP_SERVICE_PATH", "IMDS_PATH", "register"]
