"""The Azure facts checks share. Each is computed once per run (see preflight.context) and raises a
FactError naming the check that diagnoses its failure, so dependants SKIP with a pointer instead of
repeating the cause (and are ERROR when that check does not tell it: preflight.engine.gate).

SDKs are imported inside the providers: importing this module costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from preflight.azure.services import registered_fact
from preflight.chain import ChainConfigError, Outcome, Selection, included_links, select
from preflight.clouds import KNOWN_CLOUDS, Cloud, cloud_from_metadata
from preflight.context import Context
from preflight.errors import FactError
from preflight.scopes import (  # noqa: F401 - re-exported: the facts' callers found them here before
    GRAPH_REASON,
    audience_for_endpoint,
    cloud_audience,
    scope_from_data_plane,
    scopes_for,
    wanted_scopes,
)
from preflight.token_errors import (  # noqa: F401 - re-exported (as above)
    claims_challenge,
    classify_probe_error,
    error_body,
    json_or_none,
    one_line,
    probe_claims,
)

if TYPE_CHECKING:
    from preflight.aadsts import AadstsInfo
    from preflight.azure.chain import ChainProbes, LinkProbe
    from preflight.claims import PrincipalInfo

MAX_RETRY_AFTER = 5.0  # seconds: Retry-After is honoured up to this (subscription_tenant's ARM read)


@registered_fact("cloud")
def cloud(ctx: Context) -> Cloud:
    """The cloud's endpoints: a known cloud by name, or a custom one from its metadata document — the first
    request of the run's dependent chain, sent with the standard library so it leaves before any SDK import
    (see preflight.azure.metadata). Its failure is told by signin.chain (sign-in is the first thing that needs
    it); every other check points there — or, without signin.chain in the run, the first one tells it."""
    from preflight.azure.metadata import ATTEMPTS, RETRY_STATUSES, MetadataError, fetch_metadata

    target = ctx.target
    if not target.cloud_metadata_url:
        return KNOWN_CLOUDS[target.cloud]
    url = target.cloud_metadata_url
    where = "check ARM_CLOUD_METADATA_URL / --cloud-metadata-url"
    try:
        return cloud_from_metadata(fetch_metadata(url, target.environ))
    except MetadataError as exc:
        if exc.status in RETRY_STATUSES:  # throttled or failing for good: the URL itself is probably right
            raise FactError(
                "cloud",
                f"could not read the cloud metadata from {url}: {exc} (after {ATTEMPTS} attempts)",
                remediation=f"the endpoint is throttled or failing: try again in a few "
                f"minutes; if it persists, {where}",
                status=exc.status,
            ) from exc
        raise FactError(
            "cloud", f"could not read the cloud metadata from {url}: {exc}", remediation=where, status=exc.status
        ) from exc
    except ValueError as exc:
        raise FactError("cloud", f"the cloud metadata at {url} is not valid JSON: {exc}", remediation=where) from exc


def import_in_background(module: str) -> None:
    """Start importing ``module`` on a daemon thread: a fact that will need an SDK as soon as a request in
    flight answers imports it meanwhile, instead of after (the import is the same work either way; Python's
    import lock makes the real importer wait for it rather than repeat it)."""
    import importlib
    import threading

    def load() -> None:
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # the real import reports it

    threading.Thread(target=load, name=f"import:{module}", daemon=True).start()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Every link's probe and what DefaultAzureCredential would do with them."""

    probes: Mapping[str, LinkProbe]
    selection: Selection
    config_error: str | None = None


NOT_INTERACTIVE = (
    "excluded: it would open a browser, which DefaultAzureCredential only does with "
    "exclude_interactive_browser_credential=False; pass --interactive to include it"
)


@registered_fact("chain-probes")
def chain_probes(ctx: Context) -> ChainProbes:
    """Every non-interactive link's probe, started now and awaited by whoever needs one (see ChainProbes)."""
    from preflight.azure.chain import ChainProbes

    import_in_background("azure.identity")  # the probes need it the moment the cloud's metadata answers
    the_cloud = ctx.get(cloud)
    probes = ChainProbes(the_cloud, the_cloud.arm_scope)
    ctx.on_settle(probes.join)  # a run that never waits for the whole chain still ends with it
    return probes


def after_signin_starts(ctx: Context) -> None:
    """Return once sign-in has what it needs to send its first request (the cloud's endpoints known, the
    credential probes started, azure-identity imported). A check off the run's critical path calls this before
    its own imports, so they run while sign-in waits on the network rather than competing with azure-identity's
    import for the interpreter lock (it is the longest step before the first token request). Never raises: a
    failing cloud or probe is reported by the checks that need them. Checks declare it as the prerequisite
    ``preflight.azure.prerequisites.SIGNIN`` (after ``NeedsTarget``, so a run without a target does not start
    sign-in for a SKIP)."""
    try:
        ctx.get(chain_probes)
    except FactError:
        return
    import azure.identity  # noqa: F401 - waits for the background import (the import lock), or does it


@registered_fact("credential-chain")
def credential_chain(ctx: Context) -> ChainReport:
    """Every link probed, and the chain rule applied. The interactive browser link is included only with
    --interactive, and even then opened only when every link before it is unavailable — exactly when
    DefaultAzureCredential would open it."""
    from preflight.azure.chain import excluded_probe, probe_link
    from preflight.chain import INTERACTIVE

    the_cloud = ctx.get(cloud)
    probes = ctx.get(chain_probes).all()
    try:
        included = included_links(ctx.target.environ, ctx.target.interactive)
    except ChainConfigError as exc:
        probes[INTERACTIVE.key] = excluded_probe(INTERACTIVE.key, NOT_INTERACTIVE)
        return ChainReport(_ordered(probes), Selection(None, None, (), (), ()), str(exc))
    outcomes = {k: p.outcome for k, p in probes.items()}
    if INTERACTIVE.key in included and ctx.target.interactive:
        before = select(outcomes | {INTERACTIVE.key: Outcome.UNAVAILABLE}, included)
        reaches = before.link is None or included.index(before.link) > included.index(INTERACTIVE.key)
        if reaches:
            probes[INTERACTIVE.key] = probe_link(the_cloud, INTERACTIVE.key, the_cloud.arm_scope)
        else:
            probes[INTERACTIVE.key] = excluded_probe(
                INTERACTIVE.key, "not opened: DefaultAzureCredential stops at an earlier credential"
            )
            probes[INTERACTIVE.key] = _replace_outcome(probes[INTERACTIVE.key], Outcome.UNAVAILABLE)
    elif INTERACTIVE.key in included:
        # AZURE_TOKEN_CREDENTIALS=InteractiveBrowserCredential without --interactive: never open a browser
        # unasked; the chain then has nothing it may try.
        probes[INTERACTIVE.key] = _replace_outcome(
            excluded_probe(INTERACTIVE.key, NOT_INTERACTIVE), Outcome.UNAVAILABLE
        )
    else:
        probes[INTERACTIVE.key] = excluded_probe(INTERACTIVE.key, NOT_INTERACTIVE)
    outcomes = {k: p.outcome for k, p in probes.items()}
    return ChainReport(_ordered(probes), select(outcomes, included))


def _ordered(probes: Mapping[str, LinkProbe]) -> dict[str, LinkProbe]:
    from preflight.chain import ALL_LINKS

    return {link.key: probes[link.key] for link in ALL_LINKS if link.key in probes}


def _replace_outcome(probe: LinkProbe, outcome: Outcome) -> LinkProbe:
    from dataclasses import replace

    return replace(probe, outcome=outcome)


@registered_fact("credential")
def credential(ctx: Context) -> LinkProbe:
    """The credential DefaultAzureCredential would use, if it can sign in at all — as soon as that is known
    (:func:`decided_early`), else once every link has answered."""
    early = decided_early(ctx)
    if early is not None:
        return early
    report = ctx.get(credential_chain)
    if report.config_error:
        raise FactError("credential", report.config_error, reported_by="signin.chain")
    selection = report.selection
    if selection.link is None:
        # A developer tool whose sign-in Entra refused (MFA, Conditional Access, expired refresh token) counts as
        # "unavailable" inside DefaultAzureCredential: name that refusal, classified, as signin.chain does.
        refused = [
            (report.probes[k], info)
            for k in selection.included
            if (info := _classified(ctx, report.probes[k])) is not None
        ]
        if refused:
            probe, info = refused[0]
            raise FactError(
                "credential",
                "no credential in DefaultAzureCredential's chain is available: "
                f"{probe.name} is signed in but Entra refused its token (AADSTS{info.code} "
                f"{info.category}: {info.title})",
                remediation=info.fix,
                reported_by="signin.chain",
                code=str(info.code),
            )
        raise FactError(
            "credential", "no credential in DefaultAzureCredential's chain is available", reported_by="signin.chain"
        )
    probe = report.probes[selection.link]
    if selection.outcome is Outcome.FAILED:
        # every credential error goes through the AADSTS knowledge base: category and fix, not only Entra's text
        info = _classified(ctx, probe)
        label = f" (AADSTS{info.code} {info.category}: {info.title})" if info is not None else ""
        raise FactError(
            "credential",
            f"{probe.name} failed and ends the chain{label}: {probe_cause(probe, ctx.target.environ)}",
            reported_by="signin.chain",
            remediation=info.fix if info is not None else None,
            code=str(info.code) if info is not None else None,
        )
    return probe


def decided_early(ctx: Context) -> LinkProbe | None:
    """DefaultAzureCredential's working credential once the links before it are known to be unavailable,
    without waiting for the links after it (which only the signin.chain report needs: shadowing, a second
    principal). None when the choice needs the whole chain: a failure (its message comes from the full
    report), no working link, the interactive browser link, or an invalid AZURE_TOKEN_CREDENTIALS."""
    from preflight.chain import INTERACTIVE

    try:
        included = included_links(ctx.target.environ, ctx.target.interactive)
    except ChainConfigError:
        return None
    running = ctx.get(chain_probes)
    for key in included:
        if key == INTERACTIVE.key or key not in running.keys:
            return None
        probe = running.wait(key)
        if probe.outcome is Outcome.UNAVAILABLE:
            continue
        return probe if probe.outcome is Outcome.OK else None
    return None


def _classified(ctx: Context, probe: LinkProbe) -> AadstsInfo | None:
    """A link's Entra refusal through the AADSTS knowledge base, its fix filled in for this target."""
    from preflight.aadsts import format_fix

    info = classify_probe_error(probe)
    if info is None:
        return None
    return format_fix(
        info,
        tenant=ctx.target.tenant_id,
        scope=ctx.get(cloud).arm_scope,
        app_id=ctx.target.environ.get("AZURE_CLIENT_ID"),
    )


# Which service a credential talks to when it signs in (for "could not reach …" messages).
SIGNIN_SERVICES = {
    "ManagedIdentityCredential": "the managed identity endpoint",
    "AzureCliCredential": "the Azure CLI",
    "AzureDeveloperCliCredential": "the Azure Developer CLI",
    "AzurePowerShellCredential": "Azure PowerShell",
}


def probe_cause(probe: LinkProbe, environ: Mapping[str, str] | None = None) -> str:
    """A failed link's cause in words (see :func:`probe_failure`)."""
    return probe_failure(probe, environ)[0]


def probe_failure(probe: LinkProbe, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """(A failed link's cause in words, whether it is *inconclusive*). A transport failure names the service it
    could not reach and how (DNS, TLS, reset, timeout); an HTTP error status or an answer that is not JSON names
    the service and says so (MSAL / azure-identity keep these only in the text of the exceptions they chain) —
    all inconclusive: nothing is known to be wrong with the credential. Anything else is the link's own
    message (e.g. an AADSTS refusal: conclusive). ``environ`` names the endpoint when the error does not."""
    from preflight.azure.http import (
        _chain_text,
        answered,
        describe_transport,
        is_transport_error,
    )

    error = probe.error
    service = SIGNIN_SERVICES.get(probe.name, "the Microsoft Entra ID token endpoint")
    # the probe's message may carry a status the exception lost (managed identity: see chain._LastStatus)
    text = f"{_chain_text(error)} {probe.message}" if error is not None else probe.message
    if error is not None and is_transport_error(error):
        return f"{service} could not be reached: {describe_transport(error, _endpoint(probe, environ))}", True
    status = re.search(r"HTTP (?:status|Error):? (\d{3})", text)
    if status and (int(status.group(1)) in (408, 429) or int(status.group(1)) >= 500):
        said = answered(service[0].upper() + service[1:], int(status.group(1)), None, "")
        return f"{said} ({probe.message[:160]})", True
    low = text.lower()
    if "<html" in low or "<!doctype html" in low:
        return f"{service} answered with an HTML page instead of JSON (a proxy or captive portal answered)", True
    if "jsondecodeerror" in low or "json is invalid" in low or "expecting value" in low:
        return (
            f"{service} answered with something that is not JSON — an HTML page from a proxy or captive "
            f"portal, or a malformed / truncated body ({probe.message[:120]})"
        ), True
    return probe.message, False


def _endpoint(probe: LinkProbe, environ: Mapping[str, str] | None) -> str | None:
    """The URL a link signs in at, from the environment (for messages when the error does not name the host)."""
    if not environ:
        return None
    if probe.name == "ManagedIdentityCredential":
        return (
            environ.get("IDENTITY_ENDPOINT")
            or environ.get("MSI_ENDPOINT")
            or environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        )
    return environ.get("AZURE_AUTHORITY_HOST")


@dataclass(frozen=True, slots=True)
class TokenFact:
    """A token's decoded claims and expiry. The token string itself is deliberately not kept here."""

    scope: str
    claims: Mapping[str, Any]
    expires_on: int
    # Kept only to call the data plane (access.probe); never rendered, logged or compared.
    access_token: str = field(default="", repr=False, compare=False)


@registered_fact("token")
def token(ctx: Context, scope: str) -> TokenFact:
    from azure.core.exceptions import ClientAuthenticationError

    from preflight.claims import decode_claims

    probe = ctx.get(credential)
    try:
        if scope == ctx.get(cloud).arm_scope and probe.token is not None:
            info = probe.token  # the chain probe already fetched this one
        else:
            info = probe.credential.get_token_info(scope)
    except ClientAuthenticationError as exc:
        from preflight.aadsts import classify_error

        info = classify_error(error_body(exc)) or classify_error(str(exc))
        raise FactError(
            "token",
            f"{probe.name} could not get a token for {scope}: {one_line(exc)}",
            reported_by="tokens.scope",
            code=str(info.code) if info is not None else None,
        ) from exc
    return TokenFact(scope, decode_claims(info.token), int(info.expires_on), info.token)


@registered_fact("principal")
def principal(ctx: Context) -> PrincipalInfo:
    """Who the working credential is, from its ARM token's claims (decoded, never verified)."""
    from preflight.claims import describe_principal

    return describe_principal(ctx.get(token, ctx.get(cloud).arm_scope).claims)


@dataclass(frozen=True, slots=True)
class SubscriptionTenant:
    """The tenant a subscription belongs to — the tenant every token for its resources must come from.
    ``source`` says how ARM told us: ``subscription`` (its ``tenantId``) or ``tenant-refusal`` (ARM's
    InvalidAuthenticationTokenTenant answer names it even when our token is from another tenant)."""

    subscription_id: str
    tenant_id: str
    source: str


_REFUSAL_TENANT = re.compile(r"must match the tenant '[^']*?([0-9a-fA-F-]{36})", re.IGNORECASE)
SUBSCRIPTIONS_API = "2022-12-01"


@registered_fact("subscription-tenant")
def subscription_tenant(ctx: Context, subscription_id: str) -> SubscriptionTenant:
    """``GET /subscriptions/{id}`` with the ARM token already fetched (one plain azure-core request).

    A token from the wrong tenant is refused with InvalidAuthenticationTokenTenant, whose message names the
    subscription's tenant: that is the very case this fact exists for, so it is read rather than failed on.
    """
    status, text, challenge = _get_subscription(ctx, subscription_id)
    body = json_or_none(text)
    if status == 200 and isinstance(body, Mapping) and isinstance(body.get("tenantId"), str):
        return SubscriptionTenant(subscription_id, body["tenantId"], "subscription")
    error = body.get("error") if isinstance(body, Mapping) else None
    code = str(error.get("code")) if isinstance(error, Mapping) else None
    message = str(error.get("message")) if isinstance(error, Mapping) else (text or "")[:200]
    if code == "InvalidAuthenticationTokenTenant" and (found := _REFUSAL_TENANT.search(message)):
        return SubscriptionTenant(subscription_id, found.group(1).lower(), "tenant-refusal")
    if status == 401 and challenge is not None:
        raise _subscription_error(
            f"ARM answered 401 with a claims challenge (insufficient_claims) "
            f"reading subscription {subscription_id}: a Conditional Access / continuous access "
            "evaluation policy wants a fresh sign-in that satisfies those claims",
            status=401,
            code="insufficient_claims",
        )
    raise _subscription_error(
        f"could not read subscription {subscription_id}: HTTP {status} {code or ''} {message}".strip(),
        status=status,
        code=code,
    )


def _get_subscription(ctx: Context, subscription_id: str) -> tuple[int, str, str | None]:
    """The request through the shared factory (Retry-After capped, no redirects, timeouts from the deadline, body
    capped): its status, body text and claims challenge. Not reaching ARM is this fact's error."""
    from azure.core.exceptions import ServiceRequestError
    from azure.core.rest import HttpRequest

    from preflight.azure.http import RefusedRequest, deadline_of, exchange, rest_client

    the_cloud = ctx.get(cloud)
    bearer = ctx.get(token, the_cloud.arm_scope)
    base = the_cloud.resource_manager.rstrip("/")
    client: Any = rest_client(
        base,
        deadline=deadline_of(ctx),
        retry={"retry_total": 1, "retry_backoff_max": 2},
        max_retry_after=MAX_RETRY_AFTER,
    )
    request = HttpRequest(
        "GET",
        f"{base}/subscriptions/{subscription_id}?api-version={SUBSCRIPTIONS_API}",
        headers={"Authorization": f"Bearer {bearer.access_token}", "Accept": "application/json"},
    )
    try:
        with client:
            response = exchange(client, request, deadline=deadline_of(ctx))
            return response.status_code, response.text(), claims_challenge(response.headers.get("WWW-Authenticate", ""))
    except (ServiceRequestError, RefusedRequest) as exc:
        raise _subscription_error(
            f"could not reach ARM to read subscription {subscription_id}: {one_line(exc)}"
        ) from exc


def _subscription_error(message: str, *, status: int | None = None, code: str | None = None) -> FactError:
    """This fact's failure; tokens.scope reports it."""
    return FactError("subscription-tenant", message, reported_by="tokens.scope", status=status, code=code)


def target_tenant(ctx: Context) -> tuple[str | None, str]:
    """The tenant the target lives in, and where that came from: the subscription's tenant read from ARM when a
    subscription is known and readable, else --tenant / AZURE_TENANT_ID when it is a GUID."""
    from preflight.target import GUID

    subscription = ctx.target.subscription_id
    if subscription:
        try:
            return ctx.get(subscription_tenant, subscription).tenant_id, f"subscription {subscription}"
        except FactError:
            pass
    tenant = ctx.target.tenant_id
    if tenant and GUID.match(tenant):
        return tenant, "--tenant / AZURE_TENANT_ID"
    return None, "unknown"


@registered_fact("devtools")
def devtools(ctx: Context) -> tuple[Any, ...]:
    """What each developer tool (Azure CLI, azd, VS Code, environment) is signed into; see preflight.devtools."""
    from preflight.devtools import read_all

    return read_all(ctx.target.environ)
