"""The audit's facts: REST clients, the collected assignments, role definitions, principals, the inventory.

Computed once per run by the Context (preflight.context) and shared by every audit check, so the whole audit
costs one Resource Graph query, one ``getByIds`` per 1,000 principals and one role-definition listing, however
many findings read them. What to audit comes from ``ctx.services["audit"]`` (an :class:`AuditOptions`), set
by ``preflight audit``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from preflight.audit.collect import AuditPlan, Collected
from preflight.azure.facts import cloud, credential
from preflight.context import Context, fact
from preflight.errors import FactError

if TYPE_CHECKING:
    from preflight.audit.principals import AppCredential, Principal
    from preflight.audit.rest import RestClient
    from preflight.azure.graph import GraphReader

T = TypeVar("T")
INVENTORY_CHECK = "audit.inventory"
UNKNOWN_FIX = (
    "check the ids (az account list --all -o table; az account management-group list -o table) and "
    "that the auditing identity can read them (Reader on the subscription or management group)"
)


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What ``preflight audit`` was asked for."""

    plan: AuditPlan = field(default_factory=AuditPlan)
    expiry_days: int = 30
    classic_administrators: bool = False
    progress: Callable[[str], None] | None = field(default=None, compare=False)


def options(ctx: Context) -> AuditOptions:
    found = ctx.services.get("audit")
    return found if isinstance(found, AuditOptions) else AuditOptions()


def _verify(environ: Mapping[str, str]) -> str | bool:
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True


def _progress(ctx: Context) -> Callable[[str], None]:
    return options(ctx).progress or (lambda message: None)


@fact("audit:arm-client", reported_by="signin.chain")
def arm_client(ctx: Context) -> RestClient:
    from preflight.audit.rest import RestClient

    the_cloud = ctx.get(cloud)
    from preflight.azure.http import deadline_of

    return RestClient(
        the_cloud.resource_manager,
        ctx.get(credential).credential,
        the_cloud.arm_scope,
        verify=_verify(ctx.target.environ),
        deadline=deadline_of(ctx),
    )


@fact("audit:graph-client", reported_by="signin.chain")
def graph_client(ctx: Context) -> GraphReader:
    """The shared Graph pipeline (preflight.azure.graph), retrying harder than a check does: an audit's
    getByIds POSTs are read-only queries, safe to repeat under throttling."""
    from preflight.audit.rest import MAX_RETRY_AFTER, RETRY_TOTAL
    from preflight.azure.graph import GraphReader
    from preflight.azure.graph import graph_client as build
    from preflight.azure.http import deadline_of

    the_cloud = ctx.get(cloud)
    probe = ctx.get(credential)
    client, base = build(
        the_cloud.graph_endpoint,
        probe.credential,
        the_cloud.graph_scope,
        retry_total=RETRY_TOTAL,
        retry_backoff_factor=0.2,
        retry_backoff_max=4,
        retry_on_methods=["GET", "POST"],
        max_retry_after=MAX_RETRY_AFTER,
        verify=_verify(ctx.target.environ),
        deadline=deadline_of(ctx),
    )
    return GraphReader(client, base, probe.name, False, deadline_of(ctx))


@fact("audit:assignments", reported_by=INVENTORY_CHECK)
def assignments(ctx: Context) -> Collected:
    from preflight.audit.collect import collect

    collected = collect(ctx.get(arm_client), options(ctx).plan, _progress(ctx))
    if not collected.assignments and collected.unknown:
        raise FactError(
            "audit:assignments",
            "none of the named scopes is visible: " + "; ".join(collected.unknown[:3]),
            reported_by=INVENTORY_CHECK,
            remediation=UNKNOWN_FIX,
        )
    if not collected.assignments and collected.errors:
        raise FactError(
            "audit:assignments",
            "no role assignment could be read: " + "; ".join(collected.errors[:3]),
            reported_by=INVENTORY_CHECK,
            remediation="the audit needs Microsoft.Authorization/roleAssignments/read (e.g. Reader) "
            "on the audited scopes",
        )
    return collected


@fact("audit:role-definitions")
def role_definitions(ctx: Context) -> tuple[dict[str, dict[str, Any]], tuple[str, ...]]:
    from preflight.audit.collect import role_definitions as fetch

    found, errors = fetch(ctx.get(arm_client), ctx.get(assignments).assignments)
    return found, tuple(errors)


@fact("audit:principals", reported_by=INVENTORY_CHECK)
def principals(ctx: Context) -> dict[str, Principal]:
    from preflight.audit.principals import resolve

    collected = ctx.get(assignments).assignments
    ids = {a.principal_id for a in collected} | {a.created_by for a in collected if a.created_by}
    _progress(ctx)(f"Microsoft Graph: resolving {len(ids)} principals")
    return _from_graph(
        ctx,
        lambda graph: resolve(graph, ids),
        "audit:principals",
        "Microsoft Graph did not resolve the principals",
        "reading principals needs Directory.Read.All (a member user has it by "
        "default; an application needs the Graph application permission)",
        reported_by=INVENTORY_CHECK,
    )


@fact("audit:inventory")
def inventory(ctx: Context) -> tuple[dict[str, Any], ...]:
    """The rows; principals stay unresolved (existence unknown) when Graph refuses — never 'deleted'."""
    from preflight.audit.inventory import build_rows

    collected = ctx.get(assignments)
    try:
        resolved: dict[str, Principal] | None = ctx.get(principals)
    except FactError:
        resolved = None
    definitions, _ = ctx.get(role_definitions)
    return build_rows(collected.assignments, resolved, definitions, options(ctx).plan.roots)


@fact("audit:app-credentials")
def app_credentials(ctx: Context) -> dict[str, tuple[AppCredential, ...]]:
    from preflight.audit.principals import application_credentials

    resolved = ctx.get(principals)
    app_ids = {
        p.app_id
        for p in resolved.values()
        if p.kind == "ServicePrincipal" and p.service_principal_type != "ManagedIdentity" and p.app_id
    }
    return _from_graph(
        ctx,
        lambda graph: application_credentials(graph, app_ids),
        "audit:app-credentials",
        "could not read applications' credentials",
        "reading credentials needs Application.Read.All",
    )


def _from_graph(
    ctx: Context,
    read: Callable[[GraphReader], T],
    name: str,
    message: str,
    remediation: str,
    reported_by: str | None = None,
) -> T:
    """What ``read`` reads through the audit's Graph pipeline; Graph's refusal is the error of fact ``name``
    ("{message}: {Graph's error}"), carrying Graph's status and code."""
    from preflight.azure.graph import GraphError

    try:
        return read(ctx.get(graph_client))
    except GraphError as exc:
        raise FactError(
            name,
            f"{message}: {exc}",
            reported_by=reported_by,
            status=exc.status,
            code=exc.code,
            remediation=remediation,
        ) from exc


@fact("audit:classic-administrators")
def classic_admins(ctx: Context) -> tuple[tuple[dict[str, Any], ...], tuple[str, ...]]:
    from preflight.audit.collect import classic_administrators

    collected = ctx.get(assignments)
    subscriptions = sorted(
        {a.scope.split("/")[2].lower() for a in collected.assignments if a.scope.lower().startswith("/subscriptions/")}
    )
    rows, errors = classic_administrators(ctx.get(arm_client), subscriptions)
    return tuple(rows), tuple(errors)
