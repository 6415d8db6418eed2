"""Azure Resource Graph: the product's own queries, sent with a plain azure-core pipeline.

Why Resource Graph: finding the account behind an endpoint means looking through every subscription the caller
can see. ARM listing costs one request per subscription (plus paging); one ARG query answers for all of them
at once. ARG is optional in the product's logic — any refusal (400, 403, 404, 5xx) makes the caller fall back to
ARM listing — so the queries are kept to the simplest KQL shape (table, a ``type`` filter, one ``=~`` filter).

No SDK dependency: ``azure-mgmt-resourcegraph`` is not installed and the wire format is one POST
(https://learn.microsoft.com/rest/api/azureresourcegraph/resourcegraph/resources/resources).

Every query preflight sends (here and in preflight.audit.collect) is built by the pure builders below — the one
definition: the twin (preflight.twin.resource_graph) imports them and answers exactly these shapes, so the product
never depends on the twin and the twin cannot drift from what the product sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from preflight.azure.arm import run_credential
from preflight.azure.facts import cloud
from preflight.azure.http import (
    RESOURCE_GRAPH,
    answered,
    describe_body,
    describe_transport,
)
from preflight.context import Context
from preflight.kql import kql_string

if TYPE_CHECKING:
    from preflight.azure.http import Deadline

API_VERSION = "2022-10-01"
ROLE_ASSIGNMENTS_QUERY = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments'"
ACCOUNTS_QUERY = "resources | where type =~ 'microsoft.cognitiveservices/accounts'"
SUBSCRIPTIONS_QUERY = "resourcecontainers | where type =~ 'microsoft.resources/subscriptions'"
MAX_PAGES = 20  # 20 pages of 1000 rows: far more accounts than one endpoint can ever match
MAX_RETRY_AFTER = 5.0  # seconds: Retry-After is honoured up to this (azure-core alone has no cap)


class ResourceGraphError(Exception):
    """ARG refused or failed; ``status`` is the HTTP status (None for a transport error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def role_assignments_query(
    principal_ids: Iterable[str] = (), scopes: Iterable[str] = (), columns: Iterable[str] = ()
) -> str:
    """Role assignments, tenant-wide, optionally only for these principals and/or at exactly these scopes
    (pass a resource's scope and its ancestors to get every assignment that applies to it), optionally
    projected to some columns (``| project id, properties``: the audit's 100,000 rows at half the bytes)."""
    query = ROLE_ASSIGNMENTS_QUERY
    ids = list(principal_ids)
    if ids:
        query += " | where properties.principalId in~ (" + ", ".join(kql_string(i) for i in ids) + ")"
    scope_list = list(scopes)
    if scope_list:
        query += " | where properties.scope in~ (" + ", ".join(kql_string(s) for s in scope_list) + ")"
    wanted = list(columns)
    if wanted:
        query += " | project " + ", ".join(wanted)
    return query


def role_assignments_summary_query(columns: Sequence[str] = ("id", "properties"), by: str = "subscriptionId") -> str:
    """Role assignments, aggregated: one row per ``by`` value (``subscriptionId``: "" for management-group and
    tenant assignments) carrying ``n`` (``count()``) and ``assignments`` (``make_list`` of ``pack``ed ``columns``).
    ``n`` lets the caller see a truncated list (``make_list`` keeps at most 1,048,576 elements). Ordered by
    the group key, which is unique per row, so ``$skipToken`` pages neither repeat nor skip a row."""
    packed = ", ".join(f"{kql_string(c)}, {c}" for c in columns)
    return (
        f"{ROLE_ASSIGNMENTS_QUERY} | summarize n = count(), assignments = make_list(pack({packed})) by {by}"
        f" | order by {by} asc"
    )


def accounts_query(endpoint: str | None = None, subdomain: str | None = None, name: str | None = None) -> str:
    """Cognitive Services accounts, optionally by endpoint URL, custom subdomain or name (case-insensitive)."""
    query = ACCOUNTS_QUERY
    if endpoint:
        query += f" | where properties.endpoint =~ {kql_string(endpoint)}"
    if subdomain:
        query += f" | where properties.customSubDomainName =~ {kql_string(subdomain)}"
    if name:
        query += f" | where name =~ {kql_string(name)}"
    return query


def subscriptions_query(subscription_ids: Iterable[str] = ()) -> str:
    """Subscriptions (``resourcecontainers``) with their management-group ancestor chain."""
    ids = list(subscription_ids)
    if not ids:
        return SUBSCRIPTIONS_QUERY
    return SUBSCRIPTIONS_QUERY + " | where subscriptionId in~ (" + ", ".join(kql_string(i) for i in ids) + ")"


def accounts_by_subdomain(subdomain: str) -> str:
    """Cognitive Services accounts whose custom subdomain is ``subdomain`` (case-insensitive)."""
    return accounts_query(subdomain=subdomain)


def accounts_by_endpoint(endpoint: str) -> str:
    """Cognitive Services accounts whose ``properties.endpoint`` is ``endpoint`` (case-insensitive)."""
    return accounts_query(endpoint=endpoint)


def query(ctx: Context, text: str, subscriptions: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Run ``text`` over the given subscriptions (none: every subscription the caller can read) and return
    every row, following ``$skipToken``. Raises :class:`ResourceGraphError` on any refusal."""
    from preflight.azure.http import deadline_of, rest_client

    the_cloud = ctx.get(cloud)
    base = the_cloud.resource_manager.rstrip("/")
    deadline = deadline_of(ctx)
    client: Any = rest_client(
        base,
        credential=ctx.get(run_credential),
        scope=the_cloud.arm_scope,
        deadline=deadline,
        max_retry_after=MAX_RETRY_AFTER,
    )
    seen: set[str] = set()
    url = f"{base}/providers/Microsoft.ResourceGraph/resources?api-version={API_VERSION}"
    rows: list[dict[str, Any]] = []
    options: dict[str, Any] = {"resultFormat": "objectArray"}
    with client:
        for _ in range(MAX_PAGES):
            body: dict[str, Any] = {"query": text, "options": dict(options)}
            if subscriptions:
                body["subscriptions"] = list(subscriptions)
            payload = _page(client, url, body, deadline)
            rows.extend(r for r in payload["data"] if isinstance(r, dict))
            token = payload.get("$skipToken")
            if not token:
                break
            if str(token) in seen:  # a loop: the rows so far are not the answer (the caller falls back to ARM)
                raise ResourceGraphError(f"{RESOURCE_GRAPH} repeated a $skipToken (a loop)")
            seen.add(str(token))
            options["$skipToken"] = token
        else:  # every page had a next one: the rows so far are not the answer
            raise ResourceGraphError(f"{RESOURCE_GRAPH}'s answer has more than {MAX_PAGES} pages")
    return rows


def _page(client: Any, url: str, body: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
    """One page: the answer's JSON object, which carries a ``data`` list; anything else (unreachable, refused,
    redirected, an error status, a body that is not that object) is a :class:`ResourceGraphError`."""
    from azure.core.exceptions import AzureError
    from azure.core.rest import HttpRequest

    from preflight.azure.http import RefusedRequest, exchange, redirect_text

    try:
        response = exchange(client, HttpRequest("POST", url, json=body), deadline=deadline)
    except AzureError as exc:
        raise ResourceGraphError(f"{RESOURCE_GRAPH} could not be reached: {describe_transport(exc, url)}") from exc
    except RefusedRequest as exc:
        raise ResourceGraphError(f"{RESOURCE_GRAPH}: {exc.message}") from exc
    if 300 <= response.status_code < 400:
        raise ResourceGraphError(f"{RESOURCE_GRAPH} answered {redirect_text(response)}", response.status_code)
    if response.status_code != 200:
        raise ResourceGraphError(_error_text(response), response.status_code)
    try:
        payload = response.json()
    except ValueError as exc:  # an HTML page from a proxy, a broken body: unusable, like an error
        raise ResourceGraphError(
            f"{RESOURCE_GRAPH} answered HTTP 200 with "
            f"{describe_body(response.text(), response.headers.get('Content-Type'))}",
            response.status_code,
        ) from exc
    if not isinstance(payload, dict):
        raise ResourceGraphError(
            f"{RESOURCE_GRAPH} answered HTTP 200 with JSON that is not an object", response.status_code
        )
    if not isinstance(payload.get("data"), list):  # `{}` is not "no account": fall back to ARM
        raise ResourceGraphError(f"{RESOURCE_GRAPH} answered HTTP 200 without a data list", 200)
    return payload


def _error_text(response: Any) -> str:
    try:
        error = response.json().get("error") or {}
        details = "; ".join(str(d.get("message")) for d in error.get("details") or [] if isinstance(d, dict))
        return answered(
            RESOURCE_GRAPH, response.status_code, error.get("code"), details or str(error.get("message", ""))
        )
    except (ValueError, AttributeError):
        return (
            f"{RESOURCE_GRAPH} answered HTTP {response.status_code} with "
            f"{describe_body(response.text(), response.headers.get('Content-Type'))}"
        )
