"""Is the GUID in ``AZURE_CLIENT_ID`` a service principal's *object id*? The directory read behind the advice.

Why: AADSTS700016 ("application not found in the directory") has several causes, and the one the Azure ML
service-principal guide invites — pasting the service principal's object id where the appId belongs — is
fixed by using the appId, not by creating a service principal. Only the directory can tell: one Graph read,
``servicePrincipals/{id}`` (by object id), made only after a 700016 and only for the GUID the environment names.
The classification itself is pure (:func:`preflight.remedies.client_id_advice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.azure.services import registered_fact
from preflight.context import Context
from preflight.errors import FactError
from preflight.remedies import ClientIdAdvice, client_id_advice


@dataclass(frozen=True, slots=True)
class ObjectIdLookup:
    """The service principal whose object id a GUID is (its Graph object), or None when there is none."""

    guid: str
    service_principal: dict[str, Any] | None


@registered_fact("client-id-object")
def service_principal_by_object_id(ctx: Context, guid: str) -> ObjectIdLookup:
    """One ``GET servicePrincipals/{guid}`` with whichever identity reads the directory here (the failing
    service principal cannot: a developer's ``az login`` in the chain often can). 404 → none; a refusal → the
    :class:`~preflight.azure.graph.GraphDenied` naming Application.Read.All."""
    from preflight.azure.graph import batch, graph_reader, raise_for

    reader = ctx.get(graph_reader)
    part = batch(reader, {"sp": f"servicePrincipals/{guid}"})["sp"]
    if part.missing:
        return ObjectIdLookup(guid, None)
    raise_for(part, "client-id-object", f"the service principal with object id {guid}", "servicePrincipal", reader)
    return ObjectIdLookup(guid, dict(part.body) if isinstance(part.body, dict) else None)


def advice_for_client_id(ctx: Context, app_id: str) -> ClientIdAdvice | None:
    """The advice for the GUID Entra did not know as an app id, when it is the one ``AZURE_CLIENT_ID`` names
    (None otherwise: an ``--assignee`` or another variable is not this confusion). Undecided — and said so —
    when nothing here can read the directory or the read is refused."""
    from preflight.guid import GUID

    client_id = (ctx.target.environ.get("AZURE_CLIENT_ID") or "").strip()
    # only a GUID is looked up: a secret pasted into AZURE_CLIENT_ID must never travel in a Graph URL
    if not GUID.match(client_id) or client_id.lower() != app_id.lower():
        return None
    try:
        lookup = ctx.get(service_principal_by_object_id, client_id)
    except FactError as exc:
        permission = getattr(exc, "permission", None)  # GraphDenied: the read was refused
        if permission:
            why = f"{exc.message.split(':', 1)[0]}: reading service principals needs {permission}"
        elif exc.fact != "client-id-object":  # the reader itself: nothing that signs in here can read Graph
            why = "no identity here can read Microsoft Graph"
        else:
            why = exc.message
        return client_id_advice(client_id, None, undecided=why)
    return client_id_advice(client_id, lookup.service_principal)


def advice_after_failed_signin(ctx: Context, who: Any, app_id: str) -> ClientIdAdvice | None:
    """:func:`advice_for_client_id` for the examined subject (:class:`~preflight.azure.graph.Subject`), only
    when it is the one the environment names after its sign-in failed — a signed-in principal or an
    ``--assignee`` is never this confusion."""
    return advice_for_client_id(ctx, app_id) if getattr(who, "source", None) == "environment" else None
