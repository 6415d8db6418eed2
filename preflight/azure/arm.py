"""Azure Resource Manager facts: the target resource and the principal's role assignments at it.

Thin adapters: SDK calls in, plain REST-shaped dicts out (``Model.serialize(keep_readonly=True)``), so the pure
evaluators in preflight.rbac and the checks never see SDK types.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from preflight.appconfig import SUBDOMAIN_SUFFIXES
from preflight.azure.facts import cloud, credential
from preflight.context import Context, fact
from preflight.errors import FactError
from preflight.target import RESOURCE_ID, has_target

if TYPE_CHECKING:  # the SDK clients are imported lazily at run time (≈0.3-0.4 s each), only typed here
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    from preflight.profiles import Profile

log = logging.getLogger(__name__)

# Never let a hostile or buggy Retry-After stall a run: bounded retries (the per-check timeout still applies).
CLIENT_KWARGS: dict[str, Any] = {"retry_total": 2, "retry_backoff_max": 8}
MAX_RETRY_AFTER = 5.0  # seconds: Retry-After is honoured up to this


class RunCredential:
    """A TokenCredential that answers from the run's memoised ``token`` fact, so every ARM / Resource Graph /
    Graph client of a run shares one token per scope. Without it each client's bearer policy asks the
    credential itself — with the Azure CLI that is one ``az`` process (~0.5 s) per client, per subscription.
    Requests with claims (a CAE challenge) or a tenant go to the real credential."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        if claims or tenant_id or len(scopes) != 1:
            return self.ctx.get(credential).credential.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        found = self._token(scopes[0])
        return AccessToken(found.access_token, found.expires_on)

    def _token(self, scope: str) -> Any:
        from preflight.azure.facts import token

        return self.ctx.get(token, scope)


@fact("arm:run-credential")
def run_credential(ctx: Context) -> RunCredential:
    return RunCredential(ctx)


def _client_kwargs(ctx: Context) -> dict[str, Any]:
    from preflight.azure.http import capped_retry_policy, deadline_of, sdk_kwargs

    the_cloud = ctx.get(cloud)
    # azure-core obeys Retry-After without a cap: a hostile or buggy value would hold the check until its timeout;
    # the token goes only to the cloud's Resource Manager host (the SDK's pager follows nextLink through that
    # policy), redirects are not followed, timeouts come from the run's deadline (preflight.azure.http)
    return {
        "base_url": the_cloud.resource_manager,
        "credential_scopes": [the_cloud.arm_scope],
        **CLIENT_KWARGS,
        "retry_policy": capped_retry_policy(MAX_RETRY_AFTER, **CLIENT_KWARGS),
        **sdk_kwargs(ctx.get(run_credential), the_cloud.arm_scope, the_cloud.resource_manager, deadline_of(ctx)),
    }


@fact("arm:authorization-client")
def authorization_client(ctx: Context, subscription_id: str) -> AuthorizationManagementClient:
    kwargs = _client_kwargs(ctx)  # the cloud first: importing the SDK before it is known competes with sign-in
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(ctx.get(run_credential), subscription_id, **kwargs)


@fact("arm:cognitive-client")
def cognitive_client(ctx: Context, subscription_id: str) -> CognitiveServicesManagementClient:
    kwargs = _client_kwargs(ctx)  # the cloud first (see authorization_client)
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    return CognitiveServicesManagementClient(ctx.get(run_credential), subscription_id, **kwargs)


def arm_error(fact_name: str, exc: Exception, what: str, reported_by: str) -> FactError:
    """An SDK error as a FactError naming Resource Manager and what happened: ``answered HTTP 503 …`` with ARM's
    status and error code, an answer that is not JSON (an HTML page from a proxy, a broken body), or a transport
    failure (DNS, TLS, reset, timeout) in words."""
    from azure.core.exceptions import DeserializationError

    from preflight.azure.http import ARM, RefusedRequest, answered, describe_transport

    if isinstance(exc, RefusedRequest):  # a paging link or a token for another host, the deadline: not sent
        return FactError(fact_name, f"{what}: {ARM}: {exc.message}", reported_by=reported_by, code=exc.code)
    if isinstance(exc, DeserializationError):  # a 2xx whose body is not ARM's JSON shape
        return FactError(
            fact_name,
            f"{what}: {ARM} answered with something that is not the JSON it should be — "
            "an HTML page from a proxy or captive portal, or a malformed / truncated body "
            f"({str(exc).splitlines()[0][:120]})",
            reported_by=reported_by,
            status=200,
            code="NotJson",
        )
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None or response is None:
        return FactError(
            fact_name, f"{what}: {ARM}: {describe_transport(exc)}", reported_by=reported_by, code=type(exc).__name__
        )
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if not message:
        message = _unparsed(exc, response)
    return FactError(
        fact_name, f"{what}: {answered(ARM, status, code, message)}", reported_by=reported_by, status=status, code=code
    )


def _unparsed(exc: Exception, response: Any) -> str:
    """The message of an answer the SDK could not read as ARM's error shape: what the body was when it is not
    JSON (an HTML page, a broken body), else the SDK's own first line."""
    from preflight.azure.http import describe_body

    try:
        text = response.text()
    except Exception:
        text = None
    try:
        json.loads(text or "")
    except (ValueError, TypeError):
        return describe_body(text, response.headers.get("Content-Type"))
    return str(exc).splitlines()[0]


def split_resource_id(resource_id: str) -> tuple[str, str, str, str]:
    """(subscription, resource group, provider namespace, remaining type/name path)."""
    match = RESOURCE_ID.match(resource_id)
    if not match:
        raise FactError("resource", f"{resource_id!r} is not a resource id", reported_by="resource.endpoint")
    return match["subscription"], match["group"], match["namespace"], match["rest"]


@fact("arm:resource-client")
def resource_client(ctx: Context, subscription_id: str) -> ResourceManagementClient:
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(ctx.get(run_credential), subscription_id, **_client_kwargs(ctx))


@fact("arm:subscription-client")
def subscription_client(ctx: Context) -> SubscriptionClient:
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    return SubscriptionClient(ctx.get(run_credential), **_client_kwargs(ctx))


WORKSPACE_TYPE = "microsoft.machinelearningservices/workspaces"
WORKSPACE_API_VERSION = "2024-04-01"
ACCOUNT_TYPE = "microsoft.cognitiveservices/accounts"
ACCOUNT_API_VERSION = "2025-09-01"  # what azure-mgmt-cognitiveservices 14 sends (its listing is the ARM fallback)
MAX_LISTING_THREADS = 8  # ARM fallback: subscriptions listed concurrently, bounded


def describe_target(target: Any) -> str:
    return target.resource_id or target.workspace or target.endpoint or "the .azureml/config.json workspace"


@fact("resource", reported_by="resource.endpoint")
def resource(ctx: Context) -> dict[str, Any]:
    """The target resource, REST-shaped: from --resource-id, else --workspace, else the endpoint (flag,
    AZURE_OPENAI_ENDPOINT, AZURE_AI_ENDPOINT) found across the accessible subscriptions, else the workspace of
    the nearest ``.azureml/config.json``."""
    from azure.core.exceptions import AzureError, DeserializationError

    from preflight.azure.http import RefusedRequest
    from preflight.azureml import resolve_workspace
    from preflight.errors import TargetError

    target = ctx.target
    try:
        if target.resource_id:
            return _get_by_id(ctx, target.resource_id)
        if target.workspace or not target.endpoint:
            try:
                workspace = resolve_workspace(target.workspace)
            except TargetError as exc:
                raise FactError("resource", exc.message, reported_by="resource.endpoint") from exc
            if workspace is not None:
                return _get_by_id(ctx, workspace.resource_id)
        if target.endpoint:
            return _find_by_endpoint(ctx, target.endpoint)
    except (AzureError, DeserializationError, RefusedRequest) as exc:
        raise arm_error("resource", exc, "could not read the resource", "resource.endpoint") from exc
    raise FactError(
        "resource",
        "no resource to check: pass --resource-id, --endpoint or --workspace (or set "
        "AZURE_OPENAI_ENDPOINT, or run inside a project with .azureml/config.json)",
        reported_by="resource.endpoint",
    )


def _get_by_id(ctx: Context, resource_id: str) -> dict[str, Any]:
    """The account or workspace as ARM's JSON, read over the run's plain REST pipeline: the read sits beside
    the role assignments right after the token, and a management client would cost its import (~0.1 s of
    azure-mgmt-cognitiveservices, azure-mgmt-core, isodate, asyncio) on the interpreter lock while sign-in
    imports azure-identity — for a model the evaluators would turn back into this JSON."""
    from preflight.azure.http import HttpError

    _, _, namespace, rest = split_resource_id(resource_id)
    kind = f"{namespace}/{rest.split('/')[0]}".lower()
    if kind == ACCOUNT_TYPE and rest.count("/") == 1:
        api_version = ACCOUNT_API_VERSION
    elif kind == WORKSPACE_TYPE and rest.count("/") == 1:
        api_version = WORKSPACE_API_VERSION
    else:
        raise FactError(
            "resource",
            f"{resource_id} is neither a Cognitive Services account nor an Azure ML "
            "workspace (other resource types are not supported)",
            reported_by="resource.endpoint",
        )
    try:
        found = _arm_get(ctx, _scope_path(resource_id), {"api-version": api_version})
    except HttpError as exc:
        raise _rest_error("resource", exc, "could not read the resource", "resource.endpoint") from exc
    return checked_resource(found, resource_id)


def checked_resource(found: Mapping[str, Any], resource_id: str) -> dict[str, Any]:
    """The account or workspace ARM answered, if it has what the verdicts read: ``id`` and ``name`` as strings,
    ``properties`` an object. Anything else (``{}``, an unrelated JSON object) is a FactError saying what was
    received — inconclusive (ERROR), so no verdict, and above all no irreversible fix such as
    ``--custom-domain``, is ever built from a value that was not read."""
    from preflight.azure.http import ARM

    missing = [
        key
        for key, kind in (("id", str), ("name", str), ("properties", dict))
        if not isinstance(found.get(key), kind) or not found.get(key)
    ]
    if missing:
        shown = json.dumps(found)[:120]
        raise FactError(
            "resource",
            f"could not read the resource {resource_id}: {ARM} answered HTTP 200 without "
            f"{', '.join(missing)} (received {shown})",
            reported_by="resource.endpoint",
            status=200,
            code="InvalidAnswer",
        )
    return dict(found)


def endpoint_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}{parts.path.rstrip('/').lower()}"


def account_endpoints(account: dict[str, Any]) -> list[str]:
    properties = account.get("properties") or {}
    found = [properties.get("endpoint"), *list((properties.get("endpoints") or {}).values())]
    return [e for e in found if isinstance(e, str) and e]


def endpoint_subdomain(endpoint: str) -> str | None:
    """The custom subdomain an endpoint names (``https://contoso.openai.azure.com/`` → ``contoso``), or None
    for any other host (a regional endpoint, a private DNS name, the twin)."""
    host = (urlsplit(endpoint.strip()).hostname or "").lower()
    for suffix in SUBDOMAIN_SUFFIXES:
        if host.endswith(suffix) and host.count(".") == suffix.count("."):
            return host[: -len(suffix)]
    return None


def matches_endpoint(account: dict[str, Any], endpoint: str) -> bool:
    """The account serves ``endpoint``: one of its endpoints, or the custom subdomain the URL names."""
    wanted = endpoint_key(endpoint)
    if any(endpoint_key(e) == wanted for e in account_endpoints(account)):
        return True
    subdomain = endpoint_subdomain(endpoint)
    own = (account.get("properties") or {}).get("customSubDomainName")
    return bool(subdomain and isinstance(own, str) and own.lower() == subdomain)


def _find_by_endpoint(ctx: Context, endpoint: str) -> dict[str, Any]:
    """One Resource Graph query across every accessible subscription; ARM listing when ARG refuses."""
    from preflight.azure.resource_graph import (
        ResourceGraphError,
        accounts_by_endpoint,
        accounts_by_subdomain,
        query,
    )

    subdomain = endpoint_subdomain(endpoint)
    text = (
        accounts_by_subdomain(subdomain)
        if subdomain
        else accounts_by_endpoint(endpoint if endpoint.endswith("/") else endpoint + "/")
    )
    try:
        rows = query(ctx, text)
        candidates = [r for r in rows if matches_endpoint(r, endpoint)]
        source = "Resource Graph"
        if not candidates and not subdomain:
            # ARG compares strings exactly; the endpoint may be written without its trailing slash there
            candidates = [
                r for r in query(ctx, accounts_by_endpoint(endpoint.rstrip("/"))) if matches_endpoint(r, endpoint)
            ]
    except ResourceGraphError as exc:
        log.info("Resource Graph unavailable (%s); listing accounts through ARM", exc)
        candidates = _list_matching_accounts(ctx, endpoint)
        source = "ARM"
    if len(candidates) == 1:
        found = candidates[0]
        if source == "Resource Graph":  # ARG rows are ARG-shaped; read the account itself through ARM
            return _get_by_id(ctx, str(found["id"]))
        return found
    if not candidates:
        raise FactError(
            "resource",
            f"no Cognitive Services account you can read has the endpoint {endpoint} "
            f"(searched every accessible subscription through {source})",
            reported_by="resource.endpoint",
        )
    names = ", ".join(sorted(str(c.get("id", "?")) for c in candidates))
    raise FactError(
        "resource",
        f"{len(candidates)} accounts have the endpoint {endpoint}: {names} — pass --resource-id to choose one",
        reported_by="resource.endpoint",
    )


def _enabled(state: Any) -> bool:
    """A subscription state (an SDK str-enum, a string or None) is Enabled; disabled ones have no accounts to
    reach (warned and past-due ones are still served)."""
    value = str(getattr(state, "value", state) or "Enabled").lower()
    return value not in ("disabled", "deleted")


def _list_matching_accounts(ctx: Context, endpoint: str) -> list[dict[str, Any]]:
    """ARM fallback: every enabled subscription the caller can see, accounts listed concurrently (daemon
    threads: a listing hung on a server that never answers must not hold the process at exit)."""
    from azure.core.exceptions import HttpResponseError

    from preflight.azure.http import sdk_items
    from preflight.daemon import map_bounded

    subscriptions = [
        s.subscription_id
        for s in sdk_items(ctx.get(subscription_client).subscriptions.list())
        if _enabled(getattr(s, "state", None))
    ]

    def accounts(subscription: str) -> list[dict[str, Any]]:
        try:
            return [
                dict(a.serialize(keep_readonly=True))
                for a in sdk_items(ctx.get(cognitive_client, subscription).accounts.list())
            ]
        except HttpResponseError as exc:  # one unreadable subscription must not hide the others
            log.info("cannot list accounts in %s: %s", subscription, exc)
            return []

    found = [a for batch in map_bounded(accounts, subscriptions, MAX_LISTING_THREADS, "preflight-arm") for a in batch]
    return [a for a in found if matches_endpoint(a, endpoint)]


def subscription_of(ctx: Context, scope: str) -> str:
    """The subscription an authorization client is built for: the scope's own, else the target's (a
    management-group or tenant scope names none; the client only puts it in subscription-level URLs)."""
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return ctx.target.subscription_id or "00000000-0000-0000-0000-000000000000"


AUTHORIZATION_API = "2022-04-01"
_AUTHZ = "/providers/Microsoft.Authorization"


@fact("arm:rest")
def arm_rest(ctx: Context) -> Any:
    """One plain azure-core pipeline for the RBAC reads on the run's critical path (token → role assignments →
    role definitions; deny assignments and permissions beside them). They need no SDK models — the pure
    evaluators read ARM's JSON as it comes — and azure-mgmt-authorization would cost its import (~0.1 s, on the
    critical path right after the token) and a model per item. Same capped retries and bearer policy (with
    its claims-challenge handling) as the SDK clients."""
    from preflight.azure.http import deadline_of, rest_client

    the_cloud = ctx.get(cloud)
    return rest_client(
        the_cloud.resource_manager,
        credential=ctx.get(run_credential),
        scope=the_cloud.arm_scope,
        deadline=deadline_of(ctx),
        retry=CLIENT_KWARGS,
        max_retry_after=MAX_RETRY_AFTER,
    )


def _rest_error(fact_name: str, exc: Exception, what: str, reported_by: str | None) -> FactError:
    """A failed plain REST read in the words :func:`arm_error` uses for the SDK clients' failures."""
    from preflight.azure.http import ARM, UNEXPECTED, answered

    status, code, message = getattr(exc, "status", None), getattr(exc, "code", None), getattr(exc, "message", "")
    if status is None or code in UNEXPECTED - {"InvalidJson"}:
        return FactError(fact_name, f"{what}: {ARM}: {message}", reported_by=reported_by, code=code)
    code = None if code == "InvalidJson" else code
    return FactError(
        fact_name, f"{what}: {answered(ARM, status, code, message)}", reported_by=reported_by, status=status, code=code
    )


def _arm_get(ctx: Context, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
    from azure.core.rest import HttpRequest

    from preflight.azure.http import deadline_of, send_json

    client = ctx.get(arm_rest)
    return send_json(
        client, HttpRequest("GET", _arm_url(ctx, path), params=dict(params or {})), deadline=deadline_of(ctx)
    )


def _arm_url(ctx: Context, path: str) -> str:
    return path if path.startswith(("https://", "http://")) else ctx.get(cloud).resource_manager.rstrip("/") + path


def _arm_list(ctx: Context, path: str, params: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    """Every ``value`` item, following ARM's absolute ``nextLink`` (which carries its own query) — only on
    Resource Manager's own origin, never a link twice, at most ``MAX_PAGES`` pages (preflight.azure.http.Pages):
    anything else is an HttpError naming the host, and no request."""
    from preflight.azure.http import HttpError, Pages, RefusedRequest, page_values

    pages = Pages(_arm_url(ctx, path))
    page = _arm_get(ctx, path, params)
    items: list[dict[str, Any]] = []
    while True:
        items.extend(page_values(page, pages.first_url))
        next_link = page.get("nextLink")
        if not isinstance(next_link, str) or not next_link:
            return tuple(items)
        try:
            next_link = pages.next(next_link)
        except RefusedRequest as exc:
            raise HttpError("GET", pages.first_url, None, exc.code, exc.message) from exc
        page = _arm_get(ctx, next_link)


def _scope_path(scope: str) -> str:
    return "/" + scope.strip("/")


@fact("role-assignments", reported_by="rbac.data-action")
def role_assignments(ctx: Context, scope: str, principal_id: str) -> tuple[dict[str, Any], ...]:
    """Assignments that apply at ``scope`` to the principal or any group it is a transitive member of
    (ARM's ``assignedTo()`` resolves groups server-side), including inherited ones."""
    return _authorization_list(
        ctx, scope, "roleAssignments", "role-assignments", "list role assignments", f"assignedTo('{principal_id}')"
    )


def _authorization_list(
    ctx: Context, scope: str, collection: str, name: str, what: str, where: str | None = None
) -> tuple[dict[str, Any], ...]:
    """Every item of ``{scope}/providers/Microsoft.Authorization/{collection}`` (filtered by ``where``), all
    pages; a refusal is the error of fact ``name`` ("could not {what} at {scope}"), told by rbac.data-action."""
    from preflight.azure.http import HttpError

    params = (
        {"api-version": AUTHORIZATION_API} if where is None else {"$filter": where, "api-version": AUTHORIZATION_API}
    )
    try:
        return _arm_list(ctx, f"{_scope_path(scope)}{_AUTHZ}/{collection}", params)
    except HttpError as exc:
        raise _rest_error(name, exc, f"could not {what} at {scope}", "rbac.data-action") from exc


def definition_at(scope: str, role_definition_id: str) -> str:
    """The id to read a role definition by *at the target scope*. Assignments name definitions at their
    subscription (``/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}``), but reading
    there needs ``roleDefinitions/read`` at the subscription, which an identity whose only role is on the account
    lacks; ARM serves the same definition at any scope it is assignable at (Role Definitions - Get: "valid
    scopes are subscription, resource group, resource")."""
    from preflight.rbac import role_definition_guid

    return f"{_scope_path(scope)}{_AUTHZ}/roleDefinitions/{role_definition_guid(role_definition_id)}"


@fact("role-definition")
def role_definition(ctx: Context, definition_id: str) -> Mapping[str, Any]:
    from preflight.azure.http import HttpError

    try:
        found = _arm_get(ctx, _scope_path(definition_id), {"api-version": AUTHORIZATION_API})
    except HttpError as exc:
        raise _rest_error(
            "role-definition", exc, f"could not read role definition {definition_id}", "rbac.data-action"
        ) from exc
    properties = found.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("permissions"), list):
        # `{}` is not a role that grants nothing: the evaluator must not read it as one
        raise FactError(
            "role-definition",
            f"could not read role definition {definition_id}: Azure Resource "
            f"Manager answered HTTP 200 without properties.permissions (received "
            f"{json.dumps(found)[:120]})",
            status=200,
            code="InvalidAnswer",
        )
    return found


@fact("deny-assignments", reported_by="rbac.data-action")
def deny_assignments(ctx: Context, scope: str) -> tuple[dict[str, Any], ...]:
    return _authorization_list(ctx, scope, "denyAssignments", "deny-assignments", "list deny assignments")


@fact("profile")
def profile(ctx: Context) -> Profile:
    """--profile when given, else ``foundry`` for a Foundry project endpoint, else inferred from the account's
    kind (an unreadable account falls back to ``openai``: the resource check reports why it is unreadable)."""
    from preflight.profiles import get_profile, profile_for_kind

    if ctx.target.profile:
        return get_profile(ctx.target.profile)
    from preflight.scopes import audience_for_endpoint

    if audience_for_endpoint(ctx.target.endpoint) == "ai":  # a Foundry project endpoint (…/api/projects/…)
        return get_profile("foundry")
    if not has_target(ctx.target):
        return get_profile("openai")
    try:
        found = ctx.get(resource)
    except FactError:  # an identity may use the resource without reading it: the id still says what it is
        given = str(ctx.target.resource_id or ctx.target.workspace or "")
        return get_profile("ml" if f"/{WORKSPACE_TYPE}/" in given.lower() else "openai")
    if str(found.get("type", "")).lower() == WORKSPACE_TYPE:
        return get_profile("ml")
    return profile_for_kind(found.get("kind"))


@fact("arm-permissions", reported_by="rbac.data-action")
def arm_permissions(ctx: Context, scope: str) -> tuple[dict[str, Any], ...]:
    """``Microsoft.Authorization/permissions`` for the CALLER at a resource or resource group: the permission
    blocks ARM itself computes (direct, inherited, through groups; deny assignments not reflected)."""
    return _authorization_list(ctx, scope, "permissions", "arm-permissions", "read your effective permissions")


@fact("eligible-assignments", reported_by="rbac.data-action")
def eligible_assignments(ctx: Context, scope: str, principal_id: str | None) -> tuple[dict[str, Any], ...]:
    """PIM role eligibility schedule instances at or above ``scope``: roles the principal may *activate*.
    ``principal_id`` None asks for the caller's own (``asTarget()``, which needs no permission); another
    principal's need ``roleEligibilityScheduleInstances/read`` (``assignedTo()``, groups resolved by ARM)."""
    from azure.core.exceptions import AzureError, DeserializationError

    from preflight.azure.http import RefusedRequest, sdk_items

    client = ctx.get(authorization_client, subscription_of(ctx, scope))
    text = "asTarget()" if principal_id is None else f"assignedTo('{principal_id}')"
    try:
        items = sdk_items(client.role_eligibility_schedule_instances.list_for_scope(scope, filter=text))
        return tuple(dict(i.serialize(keep_readonly=True)) for i in items)
    except (AzureError, DeserializationError, RefusedRequest) as exc:
        raise arm_error(
            "eligible-assignments", exc, f"could not read PIM role eligibilities at {scope}", "rbac.data-action"
        ) from exc


@fact("provider-operations")
def provider_operations(ctx: Context, namespace: str) -> dict[str, Any]:
    """ARM's Provider Operations Metadata for one resource provider namespace — every operation with its
    ``isDataAction`` — for the namespaces the shipped catalogue lacks (``preflight.operations``). Tenant-level,
    readable by any signed-in caller. A 404 / 400 means ARM does not know the namespace."""
    from preflight.azure.http import HttpError

    try:
        return _arm_get(
            ctx,
            f"{_AUTHZ}/providerOperations/{namespace}",
            {"api-version": AUTHORIZATION_API, "$expand": "resourceTypes"},
        )
    except HttpError as exc:
        raise _rest_error(
            "provider-operations", exc, f"could not read the provider operations of {namespace}", None
        ) from exc


@fact("role-definitions-at")
def role_definitions_at(ctx: Context, scope: str) -> tuple[dict[str, Any], ...]:
    """Every role definition assignable at ``scope`` (built-in and custom): to recommend the least-privilege
    role for an arbitrary action and to tell data actions from management actions."""
    from azure.core.exceptions import AzureError, DeserializationError

    from preflight.azure.http import RefusedRequest, sdk_items

    client = ctx.get(authorization_client, subscription_of(ctx, scope))
    try:
        return tuple(dict(d.serialize(keep_readonly=True)) for d in sdk_items(client.role_definitions.list(scope)))
    except (AzureError, DeserializationError, RefusedRequest) as exc:
        raise arm_error(
            "role-definitions-at", exc, f"could not list role definitions at {scope}", "rbac.data-action"
        ) from exc
