"""Microsoft Graph facts: the principal under examination, its app registration, groups and CA policies.

Thin adapter over a plain azure-core ``PipelineClient`` (no Graph SDK: a handful of GETs do not justify one)
with a bearer-token policy for ``cloud.graph_scope`` and bounded retries. Whenever more than one object is
needed the reads go out as one JSON ``$batch`` (https://learn.microsoft.com/graph/json-batching): the
principal, its application, federated credentials, transitive groups and the Conditional Access policies
cost one round trip. Each part keeps its own outcome, so a 403 ``Authorization_RequestDenied`` on one part
(e.g. Conditional Access without ``Policy.Read.All``) turns into a :class:`GraphDenied` naming the directory
permission that is missing — a SKIP for the checks that need that part, never an ERROR, never a silent gap.

Which credential reads Graph: the one DefaultAzureCredential uses; if that one *fails* (an expired secret, a
federated subject nobody registered), any other link of the chain that did sign in (typically an admin's
``az login``) reads the directory instead, so the report can say *why* the first one fails. The reader is
named in evidence.

This module is the only place a Graph pipeline is built (:func:`graph_client`) and Graph requests are sent:
``--assignee`` resolution (preflight.azure.assignee) and the audit's bulk ``getByIds`` / application listing
(preflight.audit.principals) use :func:`get`, :func:`call`, :func:`pages` and :func:`get_by_ids` with their
own credential and retry budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from preflight.azure.arm import RunCredential
from preflight.azure.facts import cloud, credential, credential_chain, principal
from preflight.azure.http import (
    GRAPH,
    UNEXPECTED,
    Deadline,
    HttpError,
    Pages,
    RefusedRequest,
    answered,
    describe_body,
    describe_transport,
    exchange,
    page_values,
    redirect_text,
    rest_client,
    send_json,
)
from preflight.context import Context, fact
from preflight.errors import FactError, TargetError
from preflight.target import GUID

if TYPE_CHECKING:
    from preflight.claims import PrincipalKind

MAX_BATCH = 20  # Graph's limit of requests per $batch
MAX_IDS = 1000  # Graph's limit of ids per directoryObjects/getByIds
MAX_PAGES = 100  # per collection: 100 pages × 100 groups; more is an ERROR (incomplete), never a partial list
MAX_RETRY_AFTER = 5.0  # seconds: a hostile or buggy Retry-After must not stall the run
RETRIED_PARTS = frozenset({429, 500, 502, 503, 504})  # inner $batch answers asked for again on their own
# The directory permission each kind of read needs (what a 403 names).
PERMISSIONS = {
    "servicePrincipal": "Application.Read.All",
    "application": "Application.Read.All",
    "federatedCredentials": "Application.Read.All",
    "user": "User.Read.All",
    "groups": "GroupMember.Read.All",
    "policies": "Policy.Read.All",
    "firstParty": "Application.Read.All",
    "lookup": "Directory.Read.All",
}


# A directory object's @odata.type → ARM's principalType (Graph's casing varies: compare lower-cased).
PRINCIPAL_TYPES = {
    "#microsoft.graph.user": "User",
    "#microsoft.graph.group": "Group",
    "#microsoft.graph.serviceprincipal": "ServicePrincipal",
}


def principal_type(obj: Mapping[str, Any]) -> str:
    """User / Group / ServicePrincipal for a directory object from getByIds, else Unknown."""
    return PRINCIPAL_TYPES.get(str(obj.get("@odata.type") or "").lower(), "Unknown")


class GraphDenied(FactError):
    """The reader lacks a directory permission for one read; ``permission`` names the one to grant."""

    def __init__(self, fact_name: str, what: str, permission: str, reader: str | None = None) -> None:
        who = f" ({reader})" if reader else ""
        super().__init__(
            fact_name,
            f"the signed-in identity{who} may not read {what}: Microsoft Graph needs the "
            f"directory permission {permission}",
            remediation=f"grant {permission} (application permission for a service principal, or a "
            "directory role such as Directory Readers / Global Reader for a user), or run "
            "preflight as someone who has it",
            status=403,
            code="Authorization_RequestDenied",
        )
        self.permission = permission


@dataclass(frozen=True, slots=True)
class Part:
    """One read of a batch: the body on 2xx, else the status and Graph's error code/message."""

    status: int
    body: Any = None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def missing(self) -> bool:
        return self.status == 404

    @property
    def denied(self) -> bool:
        return self.status == 403

    def values(self) -> list[dict[str, Any]]:
        return [v for v in (self.body or {}).get("value") or [] if isinstance(v, dict)] if self.ok else []


@dataclass(frozen=True, slots=True)
class GraphReader:
    """The client reading Graph and who it is (for evidence: directory reads may be done by another link)."""

    client: Any = field(repr=False)
    base: str
    reader: str  # "AzureCliCredential", …
    fallback: bool  # True when the chain's own credential failed and another link reads Graph
    deadline: Deadline = field(default_factory=lambda: Deadline(None), repr=False)


class GraphError(HttpError):
    """A strict Microsoft Graph call that failed for good (after retries)."""


def graph_client(
    graph_endpoint: str,
    token_credential: Any,
    scope: str,
    *,
    retry_total: int = 2,
    retry_backoff_factor: float = 0.8,
    retry_backoff_max: float = 4,
    retry_on_methods: Sequence[str] | None = None,
    max_retry_after: float | None = None,
    verify: str | bool | None = None,
    deadline: Deadline | None = None,
) -> tuple[Any, str]:
    """THE place a Microsoft Graph pipeline is built: (PipelineClient, ``…/v1.0/`` base), through the shared
    factory (preflight.azure.http.rest_client): bearer auth for ``scope`` bound to the Graph host, no redirects,
    timeouts from ``deadline``, and bounded retries whose Retry-After is capped — azure-core obeys it without a
    cap, so a hostile or buggy value could stall a run. Callers differ only in how hard they retry (the audit's
    read-only POSTs are safe to repeat, so it passes ``retry_on_methods``)."""
    cap = MAX_RETRY_AFTER if max_retry_after is None else max_retry_after  # read at build time: tests lower it
    retry: dict[str, Any] = {
        "retry_total": retry_total,
        "retry_backoff_factor": retry_backoff_factor,
        "retry_backoff_max": retry_backoff_max,
    }
    if retry_on_methods is not None:
        retry["retry_on_methods"] = list(retry_on_methods)
    base = graph_endpoint.rstrip("/") + "/v1.0/"
    client = rest_client(
        base,
        credential=token_credential,
        scope=scope,
        deadline=deadline,
        retry=retry,
        max_retry_after=cap,
        verify=verify,
    )
    return client, base


class SharedGraphToken(RunCredential):
    """The Graph reader's TokenCredential when the chain's credential works: the run's memoised ``token`` fact
    (as for ARM), so tokens.scope's Graph row and the reads share one token request (the Azure CLI caches
    nothing: without this, one more ``az`` process per run). A refusal is re-raised as the credential's own
    exception, the one the reader classifies (AADSTS code, fix) — not the fact's wrapper."""

    def _token(self, scope: str) -> Any:
        try:
            return super()._token(scope)
        except FactError as exc:
            if exc.fact != "token" or not isinstance(exc.__cause__, Exception):
                raise
            refusal = exc.__cause__
        raise refusal  # outside the handler: its own cause chain stays as the SDK built it


@fact("graph-reader", reported_by="signin.chain")
def graph_reader(ctx: Context) -> GraphReader:
    the_cloud = ctx.get(cloud)
    fallback = False
    try:
        probe = ctx.get(credential)
    except FactError:
        # The chain's credential fails: read the directory with any other link that signs in, if one does.
        from preflight.chain import Outcome

        probes = ctx.get(credential_chain).probes
        working = [p for p in probes.values() if p.outcome is Outcome.OK and p.credential is not None]
        if not working:
            raise
        probe, fallback = working[0], True
    from preflight.azure.http import deadline_of

    shared = probe.credential if fallback else SharedGraphToken(ctx)
    deadline = deadline_of(ctx)
    client, base = graph_client(the_cloud.graph_endpoint, shared, the_cloud.graph_scope, deadline=deadline)
    return GraphReader(client, base, probe.name, fallback, deadline)


def _part(response: Any) -> Part:
    if isinstance(response, Part):  # refused before or while sending (see _send)
        return response
    if 300 <= response.status_code < 400:
        return Part(502, None, "Redirect", redirect_text(response))
    try:
        body = response.json()
    except ValueError:
        # Not JSON (an HTML page from a proxy, a malformed or truncated body): a failed part that says so,
        # never an empty success.
        what = describe_body(response.text(), response.headers.get("Content-Type"))
        return Part(
            response.status_code if response.status_code >= 300 else 502,
            None,
            "NotJson",
            f"(HTTP {response.status_code}) {what}",
        )
    if 200 <= response.status_code < 300:
        return _checked(response.status_code, body)
    error = (body or {}).get("error") if isinstance(body, dict) else None
    return Part(response.status_code, None, (error or {}).get("code"), (error or {}).get("message"))


def _checked(status: int, body: Any) -> Part:
    """A 2xx part, if its body has what the verdicts read: a JSON object that is a collection (``value`` a
    list) or a directory object with an ``id``. Anything else — ``{}``, an object without its id — is a failed
    part saying what was received, so no check reports "object id None" as found."""
    if isinstance(body, dict) and (
        isinstance(body.get("value"), list)
        or isinstance(body.get("responses"), list)
        or (isinstance(body.get("id"), str) and body["id"])
    ):
        return Part(status, body)
    import json

    shown = json.dumps(body)[:120] if body is not None else "no body"
    what = (
        "a collection without a value list"
        if isinstance(body, dict) and "value" in body
        else "an object without an id"
        if isinstance(body, dict)
        else "JSON that is not an object"
    )
    return Part(502, None, "InvalidAnswer", f"(HTTP {status}) {what}: {shown}")


def _part_from_batch(item: Mapping[str, Any]) -> Part:
    try:
        status = int(item.get("status") or 500)
    except (TypeError, ValueError):
        return Part(502, None, "InvalidAnswer", f"a $batch answer with the status {item.get('status')!r}")
    body = item.get("body")
    if 300 <= status < 400:
        given = item.get("headers")
        headers: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        location = next((str(v) for k, v in headers.items() if str(k).lower() == "location"), None)
        where = f" to {location[:200]}" if location else " (no Location)"
        return Part(502, None, "Redirect", f"a redirect (HTTP {status}){where} inside $batch, not followed")
    if 200 <= status < 300:
        return _checked(status, body)
    error = body.get("error") if isinstance(body, dict) else None
    return Part(status, None, (error or {}).get("code"), (error or {}).get("message"))


def _send(reader: GraphReader, method: str, url: str, json_body: Any = None) -> Any:
    """One request, read whole under the size cap; a request refused before or while sending (a foreign host,
    a cap, the deadline) comes back as a failed :class:`Part` naming why."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError
    from azure.core.rest import HttpRequest

    try:
        return exchange(reader.client, HttpRequest(method, url, json=json_body), deadline=reader.deadline)
    except RefusedRequest as exc:
        return Part(502, None, exc.code, exc.message)
    except ClientAuthenticationError as exc:
        # Entra refused the Graph token (MFA, Conditional Access, consent …): a sign-in refusal, classified like
        # every credential error — not "could not be reached"
        refusal = _graph_token_refusal(reader, exc)
        if refusal is not None:
            raise refusal from exc
        raise FactError("graph", f"{GRAPH} could not be reached: {describe_transport(exc, url)}") from exc
    except AzureError as exc:
        raise FactError("graph", f"{GRAPH} could not be reached: {describe_transport(exc, url)}") from exc


def _graph_token_refusal(reader: GraphReader, exc: BaseException) -> FactError | None:
    """The FactError for a Graph token Entra refused, with the AADSTS category and fix; None when the error
    carries no AADSTS code (then it is a transport or SDK problem, described as such)."""
    from preflight.aadsts import classify_error, format_fix

    info = classify_error(str(exc))
    if info is None:
        return None
    scope = reader.base.rstrip("/").removesuffix("/v1.0") + "/.default"  # Graph's audience is its endpoint
    info = format_fix(info, scope=scope)
    # tokens.scope asks for the Graph token too when a Graph-reading check runs: it tells this refusal
    return FactError(
        "graph",
        f"{reader.reader} could not get a token for {GRAPH} ({scope}): AADSTS{info.code} {info.category}: {info.title}",
        remediation=info.fix,
        code=str(info.code),
        reported_by="tokens.scope",
    )


def get(reader: GraphReader, relative: str) -> Part:
    """One GET (relative to ``v1.0/``), following ``@odata.nextLink`` for collections."""
    return _follow(reader, _part(_send(reader, "GET", reader.base + relative)))


def _follow(reader: GraphReader, part: Part) -> Part:
    """Complete a collection by following ``@odata.nextLink`` (absolute URLs): on Graph's own origin, never a
    link twice, at most ``MAX_PAGES`` pages (preflight.azure.http.Pages) — past that, a failed part saying the
    listing is incomplete, never a silently partial collection a verdict would trust."""
    if not part.ok or not isinstance(part.body, dict) or "@odata.nextLink" not in part.body:
        return part
    values = list(part.body.get("value") or [])
    link = part.body.get("@odata.nextLink")
    pages = Pages(reader.base, MAX_PAGES)
    while link:
        try:
            pages.next(str(link))
        except RefusedRequest as exc:
            return Part(502, None, exc.code, exc.message)
        page = _part(_send(reader, "GET", str(link)))
        if not page.ok:
            return page
        values.extend(page.body.get("value") or [])
        link = page.body.get("@odata.nextLink")
    return Part(part.status, {"value": values})


def batch(reader: GraphReader, requests: Mapping[str, str]) -> dict[str, Part]:
    """GET every relative URL in ``requests`` (id → url) through ``$batch``, 20 per round trip."""
    items = list(requests.items())
    parts: dict[str, Part] = {}
    for start in range(0, len(items), MAX_BATCH):
        chunk = items[start : start + MAX_BATCH]
        if len(chunk) == 1:  # one object needs no batch
            key, url = chunk[0]
            parts[key] = get(reader, url)
            continue
        payload = {"requests": [{"id": str(i), "method": "GET", "url": "/" + url} for i, (_, url) in enumerate(chunk)]}
        outer = _part(_send(reader, "POST", reader.base + "$batch", payload))
        if not outer.ok:
            for key, _ in chunk:
                parts[key] = outer
            continue
        answered = {str(r.get("id")): r for r in (outer.body or {}).get("responses") or [] if isinstance(r, dict)}
        for i, (key, url) in enumerate(chunk):
            item = answered.get(str(i))
            if item is None:
                parts[key] = Part(500, None, "MissingResponse", "no answer in the batch")
            elif str(item.get("status")) in {str(s) for s in RETRIED_PARTS}:
                # Graph throttles (429) and fails (5xx) each request inside a batch on its own, and retrying it is
                # the caller's job: ask again for that one alone, after its Retry-After (capped), through the
                # pipeline's own retry policy
                time.sleep(_retry_after(item))
                parts[key] = get(reader, url)
            else:
                parts[key] = _follow(reader, _part_from_batch(item))
    return parts


def _retry_after(item: Mapping[str, Any]) -> float:
    """An inner answer's ``Retry-After`` in seconds (delta-seconds form), capped at MAX_RETRY_AFTER; 0 if none."""
    headers = (
        {str(k).lower(): v for k, v in (item.get("headers") or {}).items()}
        if isinstance(item.get("headers"), Mapping)
        else {}
    )
    try:
        return min(max(0.0, float(headers.get("retry-after", 0))), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return 0.0


def raise_for(part: Part, fact_name: str, what: str, permission_key: str, reader: GraphReader) -> None:
    """A refused part as the right FactError: 403 → :class:`GraphDenied` naming the permission."""
    if part.ok:
        return
    if part.denied:
        raise GraphDenied(fact_name, what, PERMISSIONS[permission_key], reader.reader)
    if part.code == "NotJson" or (part.code == "InvalidAnswer" and (part.message or "").startswith("(HTTP")):
        said = f"{GRAPH} answered {part.message}"
    elif part.code in UNEXPECTED:
        said = f"{GRAPH}: {part.message}"
    else:
        said = answered(GRAPH, part.status, part.code, part.message or "")
    raise FactError(fact_name, f"could not read {what}: {said}", status=part.status, code=part.code)


# ------------------------------------------------------------------------------------------ strict calls


def call(
    reader: GraphReader, method: str, relative: str, body: Any = None, params: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One request (relative to ``v1.0/``, or an absolute nextLink): the JSON object, or :class:`GraphError`
    (also for a transport failure or an answer that is not JSON) — for callers that need every answer."""
    from azure.core.rest import HttpRequest

    url = relative if relative.startswith(("https://", "http://")) else reader.base + relative.lstrip("/")
    return send_json(
        reader.client,
        HttpRequest(method, url, params=dict(params or {}), json=body),
        GraphError,
        deadline=reader.deadline,
    )


def pages(
    reader: GraphReader, relative: str, params: Mapping[str, str] | None = None, max_pages: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The ``value`` of each page, following ``@odata.nextLink`` (absolute, carrying its own query) to the end —
    only on Graph's own origin, never a link twice, at most ``max_pages`` (preflight.azure.http.Pages)."""
    guard = Pages(reader.base, max_pages)
    page = call(reader, "GET", relative, params=params)
    while True:
        yield page_values(page, reader.base + relative, GraphError)
        link = page.get("@odata.nextLink")
        if not isinstance(link, str) or not link:
            return
        try:
            guard.next(link)
        except RefusedRequest as exc:
            raise GraphError("GET", reader.base + relative, None, exc.code, exc.message) from exc
        page = call(reader, "GET", link)


def get_by_ids(
    reader: GraphReader, ids: Iterable[str], types: Sequence[str], *, chunk: int | None = None, workers: int = 1
) -> list[dict[str, Any]]:
    """``POST directoryObjects/getByIds`` for every id, ``chunk`` (Graph's limit: 1,000) per request, up to
    ``workers`` requests at a time. Objects Graph does not know are simply absent from the answer. Raises
    :class:`GraphError` when any request is refused: without an answer no id may be called deleted."""
    wanted = list(ids)
    size = chunk or MAX_IDS  # read at call time, so a test may lower it
    batches = [wanted[i : i + size] for i in range(0, len(wanted), size)]

    def one(batch: Sequence[str]) -> list[dict[str, Any]]:
        page = call(reader, "POST", "directoryObjects/getByIds", {"ids": list(batch), "types": list(types)})
        # `{}` is not "none of these exist": without a value list no id may be called deleted
        return page_values(page, reader.base + "directoryObjects/getByIds", GraphError)

    if len(batches) <= 1 or workers <= 1:
        return [o for b in batches for o in one(b)]
    from preflight.daemon import map_bounded  # daemon threads: a hung request must not hold the process at exit

    return [o for found in map_bounded(one, batches, workers, "preflight-graph") for o in found]


# ------------------------------------------------------------------------------------------ the subject


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is examined: the signed-in principal or ``--assignee``. ``object_id`` may be unknown for a
    service principal whose sign-in failed (then only its app id, from AZURE_CLIENT_ID, is known)."""

    kind: PrincipalKind
    object_id: str | None
    app_id: str | None
    display: str | None
    source: str  # "signed-in" | "assignee" | "environment"
    signin_error: str | None = None  # the chain's failure, when the subject could not sign in


@fact("graph-subject", reported_by="signin.identity")
def examined(ctx: Context) -> Subject:
    """The principal the principal.* / access.* checks and ``whoami`` look at."""
    assignee = ctx.target.assignee
    if assignee:
        return _resolve_assignee(ctx, assignee.strip())
    try:
        who = ctx.get(principal)
    except FactError as exc:
        environ = ctx.target.environ
        client_id = environ.get("AZURE_CLIENT_ID")
        if client_id and (
            environ.get("AZURE_CLIENT_SECRET")
            or environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
            or environ.get("AZURE_FEDERATED_TOKEN_FILE")
        ):
            return Subject("servicePrincipal", None, client_id, None, "environment", exc.message)
        raise
    return Subject(who.kind, who.object_id, who.app_id if who.kind != "user" else None, who.display, "signed-in")


def _resolve_assignee(ctx: Context, assignee: str) -> Subject:
    """APP_ID | OBJECT_ID | NAME (a UPN, or a display name) → the directory object, in one batch."""
    from urllib.parse import quote

    reader = ctx.get(graph_reader)
    if GUID.match(assignee):
        parts = batch(
            reader,
            {
                "sp-app": f"servicePrincipals(appId='{assignee}')",
                "sp": f"servicePrincipals/{assignee}",
                "user": f"users/{assignee}",
                "app": f"applications(appId='{assignee}')",
            },
        )
        for key in ("sp-app", "sp"):
            if parts[key].ok:
                return _sp_subject(parts[key].body)
        if parts["user"].ok:
            return _user_subject(parts["user"].body)
        if parts["app"].ok or all(p.missing for p in parts.values()):
            # an app id with no service principal here: the classic AADSTS700016 case, examined as such
            return Subject(
                "servicePrincipal",
                None,
                assignee,
                (parts["app"].body or {}).get("displayName") if parts["app"].ok else None,
                "assignee",
            )
        denied = next((k for k, p in parts.items() if p.denied), None)
        if denied:
            raise GraphDenied("graph-subject", f"the directory object {assignee}", PERMISSIONS["lookup"], reader.reader)
        raise TargetError(f"--assignee {assignee}: no service principal, user or application has this id")
    name = assignee.replace("'", "''")
    requests = {"sp": f"servicePrincipals?$filter=displayName eq '{quote(name)}'"}
    if "@" in assignee:
        requests["user"] = f"users/{quote(assignee)}"
    parts = batch(reader, requests)
    if parts.get("user") and parts["user"].ok:
        return _user_subject(parts["user"].body)
    raise_for(parts["sp"], "graph-subject", "service principals", "servicePrincipal", reader)
    found = parts["sp"].values()
    if len(found) == 1:
        return _sp_subject(found[0])
    if not found:
        raise TargetError(
            f"--assignee {assignee!r}: no service principal or user has this name",
            remediation="pass the app id or object id",
        )
    ids = ", ".join(str(f.get("appId")) for f in found[:5])
    raise TargetError(
        f"--assignee {assignee!r} names {len(found)} service principals ({ids})",
        remediation="pass the app id or object id",
    )


def _sp_subject(body: Mapping[str, Any]) -> Subject:
    kind: PrincipalKind = (
        "managedIdentity" if body.get("servicePrincipalType") == "ManagedIdentity" else "servicePrincipal"
    )
    return Subject(kind, str(body.get("id")), str(body.get("appId")), body.get("displayName"), "assignee")


def _user_subject(body: Mapping[str, Any]) -> Subject:
    return Subject(
        "user", str(body.get("id")), None, body.get("userPrincipalName") or body.get("displayName"), "assignee"
    )


# ------------------------------------------------------------------------------------------ the directory view


@dataclass(frozen=True, slots=True)
class DirectoryView:
    """Everything the checks read about the subject, from one ``$batch``. Each part may be refused on its own."""

    subject: Subject
    reader: GraphReader = field(repr=False)
    parts: Mapping[str, Part] = field(default_factory=dict)

    def require(self, key: str, what: str, permission_key: str) -> Part:
        """The part, or the FactError explaining why it could not be read (403 → the permission)."""
        part = self.parts.get(key)
        if part is None:
            raise FactError("directory", f"{what} was not read (not applicable to a {self.subject.kind})")
        if not part.missing:
            raise_for(part, "directory", what, permission_key, self.reader)
        return part


# What the checks read of a user. Graph v1.0 answers a user without $select with a default subset that lacks
# userType (whoami's user_type, access.conditional-access's guest rule): every property read is named here.
USER_SELECT = "$select=id,displayName,userPrincipalName,userType"


def _requests_for(who: Subject) -> dict[str, str]:
    requests: dict[str, str] = {"policies": "identity/conditionalAccess/policies"}
    if who.kind == "user":
        me = who.source == "signed-in"
        requests["user"] = f"me?{USER_SELECT}" if me else f"users/{who.object_id}?{USER_SELECT}"
        requests["groups"] = "me/transitiveMemberOf" if me else f"users/{who.object_id}/transitiveMemberOf"
        return requests
    if who.object_id:
        requests["servicePrincipal"] = f"servicePrincipals/{who.object_id}"
        requests["groups"] = f"servicePrincipals/{who.object_id}/transitiveMemberOf"
    elif who.app_id:
        requests["servicePrincipal"] = f"servicePrincipals(appId='{who.app_id}')"
    if who.app_id and who.kind == "servicePrincipal":
        # a managed identity has no app registration; an app's federated credentials are read by its app id
        requests["application"] = f"applications(appId='{who.app_id}')"
        requests["federatedCredentials"] = f"applications(appId='{who.app_id}')/federatedIdentityCredentials"
    return requests


@fact("directory", reported_by="signin.chain")
def directory(ctx: Context) -> DirectoryView:
    """One ``$batch`` for the subject: principal object, application, federated credentials, groups, CA."""
    who = ctx.get(examined)
    reader = ctx.get(graph_reader)
    return DirectoryView(who, reader, batch(reader, _requests_for(who)))


@fact("first-party", reported_by="principal.first-party")
def first_party(ctx: Context, app_ids: tuple[str, ...]) -> dict[str, Part]:
    """The service principals of first-party apps, by app id, in one batch."""
    reader = ctx.get(graph_reader)
    return batch(reader, {a: f"servicePrincipals(appId='{a}')" for a in app_ids})


WHAT_IF = "identity/conditionalAccess/evaluate"


@fact("ca-what-if", reported_by="access.conditional-access")
def what_if(ctx: Context, app_ids: tuple[str, ...]) -> Part | None:
    """Entra's Conditional Access What If for the subject on ``app_ids``: one read-only POST (it evaluates, it
    changes nothing), or None when What If cannot describe the subject (a managed identity). A refusal or an
    unknown action comes back as a failed :class:`Part` — the caller falls back to its own matching."""
    from preflight.ca import what_if_request

    who = ctx.get(examined)
    body = what_if_request(who.kind, who.object_id, who.app_id, app_ids)
    if body is None:
        return None
    reader = ctx.get(graph_reader)
    return _part(_send(reader, "POST", reader.base + WHAT_IF, body))


def group_view(parts: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], set[str]]:
    """(group id → name, directory-role template ids) from a ``transitiveMemberOf`` listing."""
    groups: dict[str, str] = {}
    roles: set[str] = set()
    for item in parts:
        odata = str(item.get("@odata.type") or "#microsoft.graph.group")
        if odata.endswith("directoryRole"):
            if item.get("roleTemplateId"):
                roles.add(str(item["roleTemplateId"]).lower())
        elif item.get("id"):
            groups[str(item["id"]).lower()] = str(item.get("displayName") or item["id"])
    return groups, roles


def app_ids_for(audiences: Sequence[str]) -> tuple[str, ...]:
    """Resource app ids for the profile's audience names (what CA policies and first-party checks use)."""
    from preflight.ca import (
        AZURE_MANAGEMENT_APP,
        COGNITIVE_SERVICES_APP,
        ML_SERVICES_APP,
    )

    table = {"arm": AZURE_MANAGEMENT_APP, "cognitive": COGNITIVE_SERVICES_APP, "ml": ML_SERVICES_APP}
    return tuple(dict.fromkeys(table[a] for a in audiences if a in table))
