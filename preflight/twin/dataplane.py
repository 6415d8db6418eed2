"""The Azure OpenAI data plane of each Cognitive Services account in the scenario.

Each account answers on the twin's host at the endpoint :func:`preflight.twin.scenario.bind_endpoints` gives it:
``{base}/dataplane/{customSubDomainName}/`` (or the shared regional ``{base}/dataplane/regional/{location}/`` for
accounts without a custom subdomain). Read-only calls: ``GET openai/deployments``, ``GET
openai/deployments/{name}``, ``GET openai/models`` and ``POST openai/deployments/{name}/chat/completions``
(a canned completion, only to prove that authentication and authorization work), plus the v1 API's
``GET openai/v1/models`` and ``POST openai/v1/chat/completions`` (``model`` = deployment; no api-version).

The checks run in the order the service applies them — api-version, network rules, then the credential:

* network: ``publicNetworkAccess: Disabled`` → 403 "Public access is disabled…"; ``networkAcls.defaultAction:
  Deny`` without an ``ipRules`` entry for 127.0.0.1 → 403 "Access denied due to Virtual Network/Firewall rules.";
* keys (``api-key`` / ``Ocp-Apim-Subscription-Key``): refused with 403 ``AuthenticationTypeDisabled`` when
  ``disableLocalAuth`` is true, else compared with the account's twin-only ``x-twin-keys``;
* Entra tokens: need a custom subdomain (the regional endpoint answers 401 "Please provide a custom subdomain
  for token authentication…"), the audience ``https://cognitiveservices.azure.com``, and a data action granted by
  the twin's own RBAC check (:mod:`preflight.twin.access`, not preflight's evaluator): roles at the account or
  above, via transitive groups, minus ``notDataActions``, minus deny assignments, ignoring assignments younger
  than ``options.dataPlanePropagationSeconds``, and honouring each granting assignment's ABAC ``condition``
  (:mod:`preflight.twin.conditions`: a grant whose condition guards the action applies only when its expression
  is provably true from the account and deployment the request names) → else 401 ``PermissionDenied`` naming
  the missing data action.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from preflight.timestamps import parse_time
from preflight.twin import access, conditions
from preflight.twin.http import DATA_PLANE, AuthError, Caller, Handler, Router, TwinRequest, TwinResponse, TwinState
from preflight.twin.scenario import ACCOUNT_TYPE, DEPLOYMENT_TYPE, option

# Audiences the Azure OpenAI data plane accepts (the first is the one its 401 names).
DATA_PLANE_AUDIENCES = (
    "https://cognitiveservices.azure.com",
    "https://cognitiveservices.azure.com/",
    "https://ai.azure.com",
    "https://ai.azure.com/",
)
READ_DEPLOYMENTS = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
READ_MODELS = "Microsoft.CognitiveServices/accounts/OpenAI/models/read"
CHAT_COMPLETIONS = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
_CLIENT_IP = "127.0.0.1"


def _error(status: int, code: str, message: str, principal: str | None = None) -> TwinResponse:
    return TwinResponse.json(status, {"error": {"code": code, "message": message}}, principal=principal)


def _not_found() -> TwinResponse:
    return _error(404, "404", "Resource not found")


def _accounts(state: TwinState) -> list[Mapping[str, Any]]:
    return [r for r in state.scenario.get("resources", []) if str(r.get("type", "")).lower() == ACCOUNT_TYPE]


def find_account(
    state: TwinState, subdomain: str | None, region: str | None, key: str | None
) -> Mapping[str, Any] | None:
    """The account behind a custom subdomain, or — on a regional endpoint — the one whose key was sent."""
    for account in _accounts(state):
        props = account.get("properties") or {}
        if subdomain is not None:
            if str(props.get("customSubDomainName") or "").lower() == subdomain.lower():
                return account
        elif region is not None and str(account.get("location", "")).lower() == region.lower():
            if key is not None and key in (account.get("x-twin-keys") or []):
                return account
    return None


def _network_refusal(account: Mapping[str, Any]) -> TwinResponse | None:
    props = account.get("properties") or {}
    if str(props.get("publicNetworkAccess", "Enabled")).lower() == "disabled":
        return _error(403, "403", "Public access is disabled. Please configure private endpoint.")
    acls = props.get("networkAcls") or {}
    if str(acls.get("defaultAction", "Allow")).lower() == "deny":
        allowed = {str(rule.get("value", "")).split("/")[0] for rule in acls.get("ipRules") or []}
        if _CLIENT_IP not in allowed:
            return _error(403, "403", "Access denied due to Virtual Network/Firewall rules.")
    return None


def _key(request: TwinRequest) -> str | None:
    return request.header("api-key") or request.header("ocp-apim-subscription-key") or None


def _authorize(
    state: TwinState,
    request: TwinRequest,
    account: Mapping[str, Any] | None,
    subdomain: str | None,
    action: str,
    operation: str,
    deployment: str | None = None,
) -> Caller | str | TwinResponse:
    """The verified caller (a :class:`Caller`, or ``"key"`` for a valid api key), or the refusal."""
    if account is not None:
        refused = _network_refusal(account)
        if refused:
            return refused
    key = _key(request)
    if key is not None:
        if account is not None and (account.get("properties") or {}).get("disableLocalAuth"):
            return _error(403, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.")
        if account is None or key not in (account.get("x-twin-keys") or []):
            return _error(
                401,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.",
            )
        return "key"
    if subdomain is None:  # the regional endpoint
        if not request.header("authorization"):
            return _error(
                401,
                "401",
                "Access denied due to missing subscription key. Make sure to include "
                "subscription key when making requests to an API.",
            )
        return _error(
            401,
            "401",
            "Please provide a custom subdomain for token authentication, otherwise API access will be rejected.",
        )
    try:
        caller = state.verify_bearer(request, DATA_PLANE_AUDIENCES, service=DATA_PLANE)
    except AuthError as exc:
        return exc.response
    assert account is not None
    decision = access.check(
        state.scenario,
        caller.object_id,
        action,
        str(account["id"]),
        data=True,
        now=state.now(),
        propagation_seconds=float(option(state.scenario, "dataPlanePropagationSeconds")),
    )
    if not decision.allowed or not _granted_under_conditions(
        state, caller.object_id, decision, action, account, deployment
    ):
        return _error(
            401,
            "PermissionDenied",
            f"The principal `{caller.object_id}` lacks the required data action `{action}` to perform "
            f"`{operation}` operation.",
            principal=caller.object_id,
        )
    return caller


def _granted_under_conditions(
    state: TwinState,
    object_id: str,
    decision: access.Decision,
    action: str,
    account: Mapping[str, Any],
    deployment: str | None,
) -> bool:
    """Whether one of the granting assignments still applies once its ABAC condition is honoured."""
    attributes = conditions.data_plane_attributes(account, deployment)
    granting = {g.lower() for g in decision.granted_by}
    index = access.assignments_by_principal(state.scenario)
    for ra in (ra for who in access.principal_ids(state.scenario, object_id) for _, ra in index.get(who, ())):
        if str(ra.get("id", "")).lower() in granting and conditions.grant_applies(
            (ra.get("properties") or {}).get("condition"), action, attributes
        ):
            return True
    return False


def _route_parts(match: re.Match[str]) -> tuple[str | None, str | None]:
    groups = match.groupdict()
    return groups.get("sub"), groups.get("region")


def _deployments(state: TwinState, account: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The account's deployments in the data-plane shape (``object: deployment``)."""
    prefix = access.norm_scope(str(account["id"])) + "/deployments/"
    out = []
    for res in state.scenario.get("resources", []):
        if str(res.get("type", "")).lower() != DEPLOYMENT_TYPE or not access.norm_scope(res["id"]).startswith(prefix):
            continue
        props = res.get("properties") or {}
        model = props.get("model") or {}
        created = parse_time((res.get("systemData") or {}).get("createdAt")) or 1700000000
        out.append(
            {
                "scale_settings": {"scale_type": "standard"},
                "model": model.get("name", ""),
                "owner": "organization-owner",
                "id": res["name"].rsplit("/", 1)[-1],
                "status": "succeeded" if props.get("provisioningState", "Succeeded") == "Succeeded" else "failed",
                "created_at": int(created),
                "updated_at": int(created),
                "object": "deployment",
            }
        )
    return out


def _result(caller: Caller | str, payload: Any) -> TwinResponse:
    principal = caller.object_id if isinstance(caller, Caller) else None
    return TwinResponse.json(
        200, payload, headers={"apim-request-id": "00000000-0000-0000-0000-000000000000"}, principal=principal
    )


def _prelude(
    state: TwinState,
    request: TwinRequest,
    match: re.Match[str],
    action: str,
    operation: str,
    deployment: str | None = None,
) -> tuple[Mapping[str, Any], Caller | str] | TwinResponse:
    sub, region = _route_parts(match)
    account = find_account(state, sub, region, _key(request))
    if sub is not None and account is None:
        return _not_found()
    if not request.query.get("api-version") and "/openai/v1/" not in request.path.lower():
        return _not_found()  # the dated API needs api-version; the v1 API does not
    caller = _authorize(
        state, request, account, sub, action, operation, deployment or match.groupdict().get("deployment")
    )
    if isinstance(caller, TwinResponse):
        return caller
    assert account is not None
    return account, caller


DataPlaneHandler = Callable[[TwinState, TwinRequest, "re.Match[str]", Mapping[str, Any], Caller | str], TwinResponse]


def _data_action(action: str, operation: str) -> Callable[[DataPlaneHandler], Handler]:
    """The route for a data-plane call whose deployment (if any) is in the path: :func:`_prelude`'s refusals
    first, so the handler starts with the account and the authorised caller."""

    def decorate(handler: DataPlaneHandler) -> Handler:
        @functools.wraps(handler)
        def route(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
            got = _prelude(state, request, match, action, operation)
            if isinstance(got, TwinResponse):
                return got
            return handler(state, request, match, *got)

        return route

    return decorate


def _deployment(state: TwinState, account: Mapping[str, Any], name: str) -> dict[str, Any] | TwinResponse:
    """One deployment of the account by name, or the data plane's 404 for it."""
    dep = next((d for d in _deployments(state, account) if d["id"].lower() == name.lower()), None)
    if dep is None:
        return _error(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created "
            "the deployment within the last 5 minutes, please wait a moment and try again.",
        )
    return dep


def _model_names(state: TwinState, account: Mapping[str, Any]) -> list[str]:
    """The models the account's deployments use, each once, sorted (both model lists serve exactly these)."""
    return sorted({d["model"] for d in _deployments(state, account) if d["model"]})


@_data_action(READ_DEPLOYMENTS, "GET /openai/deployments")
def list_deployments(
    state: TwinState, request: TwinRequest, match: re.Match[str], account: Mapping[str, Any], caller: Caller | str
) -> TwinResponse:
    """``GET openai/deployments`` (needs the deployments read data action)."""
    return _result(caller, {"data": _deployments(state, account), "object": "list"})


@_data_action(READ_DEPLOYMENTS, "GET /openai/deployments/{deployment-id}")
def get_deployment(
    state: TwinState, request: TwinRequest, match: re.Match[str], account: Mapping[str, Any], caller: Caller | str
) -> TwinResponse:
    """``GET openai/deployments/{name}``."""
    dep = _deployment(state, account, match["deployment"])
    return dep if isinstance(dep, TwinResponse) else _result(caller, dep)


@_data_action(READ_MODELS, "GET /openai/models")
def list_models(
    state: TwinState, request: TwinRequest, match: re.Match[str], account: Mapping[str, Any], caller: Caller | str
) -> TwinResponse:
    """``GET openai/models``: the models the account's deployments use."""
    models = [
        {
            "status": "succeeded",
            "capabilities": {
                "chat_completion": True,
                "completion": False,
                "embeddings": False,
                "fine_tune": False,
                "inference": True,
            },
            "lifecycle_status": "generally-available",
            "id": name,
            "created_at": 1700000000,
            "object": "model",
        }
        for name in _model_names(state, account)
    ]
    return _result(caller, {"data": models, "object": "list"})


@_data_action(CHAT_COMPLETIONS, "POST /openai/deployments/{deployment-id}/chat/completions")
def chat_completions(
    state: TwinState, request: TwinRequest, match: re.Match[str], account: Mapping[str, Any], caller: Caller | str
) -> TwinResponse:
    """``POST openai/deployments/{name}/chat/completions``: a canned answer."""
    return chat_completions_for(state, account, caller, match["deployment"])


def chat_completions_for(
    state: TwinState, account: Mapping[str, Any], caller: Caller | str, deployment: str
) -> TwinResponse:
    """The canned completion of an authorised caller, or 404 for an unknown deployment."""
    dep = _deployment(state, account, deployment)
    if isinstance(dep, TwinResponse):
        return dep
    now = int(state.now())
    return _result(
        caller,
        {
            "id": f"chatcmpl-twin{now}",
            "object": "chat.completion",
            "created": now,
            "model": dep["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Hello from the Azure twin."},
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 6, "total_tokens": 7},
        },
    )


@_data_action(READ_MODELS, "GET /openai/v1/models")
def list_models_v1(
    state: TwinState, request: TwinRequest, match: re.Match[str], account: Mapping[str, Any], caller: Caller | str
) -> TwinResponse:
    """``GET openai/v1/models`` (the v1 API: OpenAI's own shape)."""
    models = [
        {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}
        for name in _model_names(state, account)
    ]
    return _result(caller, {"object": "list", "data": models})


def chat_completions_v1(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``POST openai/v1/chat/completions``: the deployment is the body's ``model`` (so it is authorised for that
    deployment only once the body is read: no :func:`_data_action` route)."""
    body = request.json_or_none()
    model = str(body.get("model", "")) if isinstance(body, dict) else ""
    got = _prelude(state, request, match, CHAT_COMPLETIONS, "POST /openai/v1/chat/completions", model or None)
    if isinstance(got, TwinResponse):
        return got
    return chat_completions_for(state, *got, model)


def register(router: Router) -> None:
    """Register the data-plane routes for custom-subdomain and regional endpoints."""
    for head in (r"/dataplane/regional/(?P<region>[^/]+)", r"/dataplane/(?P<sub>[^/]+)"):
        router.add("GET", head + r"/openai/deployments", DATA_PLANE)(list_deployments)
        router.add("GET", head + r"/openai/deployments/(?P<deployment>[^/]+)", DATA_PLANE)(get_deployment)
        router.add("GET", head + r"/openai/models", DATA_PLANE)(list_models)
        router.add("POST", head + r"/openai/deployments/(?P<deployment>[^/]+)/chat/completions", DATA_PLANE)(
            chat_completions
        )
        router.add("GET", head + r"/openai/v1/models", DATA_PLANE)(list_models_v1)
        router.add("POST", head + r"/openai/v1/chat/completions", DATA_PLANE)(chat_completions_v1)
