"""Azure Resource Manager facts: the target resource and the principal's role assignments at it.

Thin adapters: SDK calls in, plain REST-shaped dicts out (``Model.serialize(keep_readonly=True)``), so the pure
evaluators in preflight.rbac and the checks never see SDK types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from preflight.azure.facts import cloud, credential
from preflight.context import Context, fact
from preflight.errors import FactError
from preflight.target import RESOURCE_ID

if TYPE_CHECKING:
    from preflight.profiles import Profile

# Never let a hostile or buggy Retry-After stall a run: bounded retries (the per-check timeout still applies).
CLIENT_KWARGS: dict[str, Any] = {"retry_total": 2, "retry_backoff_max": 8}


def _client_kwargs(ctx: Context) -> dict[str, Any]:
    the_cloud = ctx.get(cloud)
    return {"base_url": the_cloud.resource_manager, "credential_scopes": [the_cloud.arm_scope], **CLIENT_KWARGS}


@fact("arm:authorization-client")
def authorization_client(ctx: Context, subscription_id: str) -> Any:
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(ctx.get(credential).credential, subscription_id, **_client_kwargs(ctx))


@fact("arm:cognitive-client")
def cognitive_client(ctx: Context, subscription_id: str) -> Any:
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    return CognitiveServicesManagementClient(ctx.get(credential).credential, subscription_id,
                                             **_client_kwargs(ctx))


def arm_error(fact_name: str, exc: Exception, what: str, reported_by: str) -> FactError:
    """An SDK HttpResponseError as a FactError carrying ARM's status and error code."""
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(exc).splitlines()[0]
    return FactError(fact_name, f"{what}: {status or ''} {code or ''} {message}".replace("  ", " "),
                     reported_by=reported_by, status=status, code=code)


def split_resource_id(resource_id: str) -> tuple[str, str, str, str]:
    """(subscription, resource group, provider namespace, remaining type/name path)."""
    match = RESOURCE_ID.match(resource_id)
    if not match:
        raise FactError("resource", f"{resource_id!r} is not a resource id", reported_by="resource.endpoint")
    return match["subscription"], match["group"], match["namespace"], match["rest"]


@fact("resource", reported_by="resource.endpoint")
def resource(ctx: Context) -> dict[str, Any]:
    """The target Cognitive Services account, REST-shaped: from --resource-id, else found by --endpoint."""
    from azure.core.exceptions import HttpResponseError

    target = ctx.target
    try:
        if target.resource_id:
            subscription, group, namespace, rest = split_resource_id(target.resource_id)
            if namespace.lower() != "microsoft.cognitiveservices" or not rest.lower().startswith("accounts/"):
                raise FactError("resource", f"{target.resource_id} is not a Cognitive Services account "
                                "(other resource types are not supported yet)", reported_by="resource.endpoint")
            account = ctx.get(cognitive_client, subscription).accounts.get(group, rest.split("/")[1])
            return dict(account.serialize(keep_readonly=True))
        if target.endpoint:
            return _find_by_endpoint(ctx, target.endpoint)
    except HttpResponseError as exc:
        raise arm_error("resource", exc, "could not read the resource", "resource.endpoint") from exc
    raise FactError("resource", "no resource to check: pass --resource-id or --endpoint (or set "
                    "AZURE_OPENAI_ENDPOINT)", reported_by="resource.endpoint")


def endpoint_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}{parts.path.rstrip('/').lower()}"


def account_endpoints(account: dict[str, Any]) -> list[str]:
    properties = account.get("properties") or {}
    found = [properties.get("endpoint")] + list((properties.get("endpoints") or {}).values())
    return [e for e in found if isinstance(e, str) and e]


def _find_by_endpoint(ctx: Context, endpoint: str) -> dict[str, Any]:
    wanted = endpoint_key(endpoint)
    subscription = ctx.target.subscription_id
    if not subscription:
        raise FactError("resource", f"finding the account behind {endpoint} needs a subscription: pass "
                        "--subscription or set AZURE_SUBSCRIPTION_ID", reported_by="resource.endpoint")
    matches = []
    for account in ctx.get(cognitive_client, subscription).accounts.list():
        data = dict(account.serialize(keep_readonly=True))
        if any(endpoint_key(e) == wanted for e in account_endpoints(data)):
            matches.append(data)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FactError("resource", f"no Cognitive Services account in subscription {subscription} has the "
                        f"endpoint {endpoint}", reported_by="resource.endpoint")
    names = ", ".join(m.get("id", "?") for m in matches)
    raise FactError("resource", f"several accounts have the endpoint {endpoint}: {names}",
                    reported_by="resource.endpoint")


@fact("role-assignments", reported_by="rbac.data-action")
def role_assignments(ctx: Context, scope: str, principal_id: str) -> tuple[dict[str, Any], ...]:
    """Assignments that apply at ``scope`` to the principal or any group it is a transitive member of
    (ARM's ``assignedTo()`` resolves groups server-side), including inherited ones."""
    from azure.core.exceptions import HttpResponseError

    subscription = scope.split("/")[2]
    client = ctx.get(authorization_client, subscription)
    try:
        items = client.role_assignments.list_for_scope(scope, filter=f"assignedTo('{principal_id}')")
        return tuple(dict(a.serialize(keep_readonly=True)) for a in items)
    except HttpResponseError as exc:
        raise arm_error("role-assignments", exc, f"could not list role assignments at {scope}",
                        "rbac.data-action") from exc


@fact("role-definition")
def role_definition(ctx: Context, definition_id: str) -> dict[str, Any]:
    from azure.core.exceptions import HttpResponseError

    subscription = definition_id.split("/")[2] if definition_id.lower().startswith("/subscriptions/") else None
    client = ctx.get(authorization_client, subscription or ctx.target.subscription_id or "")
    try:
        return dict(client.role_definitions.get_by_id(definition_id).serialize(keep_readonly=True))
    except HttpResponseError as exc:
        raise arm_error("role-definition", exc, f"could not read role definition {definition_id}",
                        "rbac.data-action") from exc


@fact("deny-assignments", reported_by="rbac.data-action")
def deny_assignments(ctx: Context, scope: str) -> tuple[dict[str, Any], ...]:
    from azure.core.exceptions import HttpResponseError

    client = ctx.get(authorization_client, scope.split("/")[2])
    try:
        return tuple(dict(d.serialize(keep_readonly=True)) for d in client.deny_assignments.list_for_scope(scope))
    except HttpResponseError as exc:
        raise arm_error("deny-assignments", exc, f"could not list deny assignments at {scope}",
                        "rbac.data-action") from exc


@fact("profile")
def profile(ctx: Context) -> Profile:
    """--profile when given, else inferred from the account's kind (an unreadable account falls back to
    ``openai``: the resource check reports why it is unreadable)."""
    from preflight.profiles import get_profile, profile_for_kind

    if ctx.target.profile:
        return get_profile(ctx.target.profile)
    if not (ctx.target.resource_id or ctx.target.endpoint):
        return get_profile("openai")
    try:
        return profile_for_kind(ctx.get(resource).get("kind"))
    except FactError:
        return get_profile("openai")
