"""The Azure facts checks share. Each is computed once per run (see preflight.context) and raises a
FactError naming the check that diagnoses its failure, so dependants SKIP with a pointer instead of
repeating the cause.

SDKs are imported inside the providers: importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from preflight.chain import ChainConfigError, Outcome, Selection, included_links, select
from preflight.clouds import KNOWN_CLOUDS, Cloud, cloud_from_metadata
from preflight.context import Context, fact
from preflight.errors import FactError

if TYPE_CHECKING:
    from preflight.azure.chain import LinkProbe
    from preflight.claims import PrincipalInfo
    from preflight.profiles import Profile

METADATA_TIMEOUT = 10
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 5.0


def _verify(environ: Mapping[str, str]) -> str | bool:
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True


@fact("cloud")
def cloud(ctx: Context) -> Cloud:
    """The cloud's endpoints: a known cloud by name, or a custom one from its metadata document."""
    target = ctx.target
    if not target.cloud_metadata_url:
        return KNOWN_CLOUDS[target.cloud]
    import requests

    url = target.cloud_metadata_url
    try:
        response = _get_with_retries(requests.Session(), url, _verify(target.environ))
        response.raise_for_status()
        return cloud_from_metadata(response.json())
    except requests.RequestException as exc:
        raise FactError("cloud", f"could not read the cloud metadata from {url}: {exc}",
                        remediation="check ARM_CLOUD_METADATA_URL / --cloud-metadata-url") from exc
    except ValueError as exc:
        raise FactError("cloud", f"the cloud metadata at {url} is not valid JSON: {exc}") from exc


def _get_with_retries(session: Any, url: str, verify: str | bool, attempts: int = 3) -> Any:
    """GET with bounded retries on throttling and server errors; Retry-After honoured but capped, so a
    hostile or buggy value cannot stall the run."""
    import time

    response = None
    for attempt in range(attempts):
        response = session.get(url, timeout=METADATA_TIMEOUT, verify=verify)
        if response.status_code not in RETRY_STATUSES or attempt == attempts - 1:
            break
        time.sleep(min(_retry_after(response.headers.get("Retry-After")), MAX_RETRY_AFTER))
    return response


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Every link's probe and what DefaultAzureCredential would do with them."""

    probes: Mapping[str, LinkProbe]
    selection: Selection
    config_error: str | None = None


@fact("credential-chain", reported_by="signin.chain")
def credential_chain(ctx: Context) -> ChainReport:
    from preflight.azure.chain import probe_chain

    the_cloud = ctx.get(cloud)
    probes = probe_chain(the_cloud, the_cloud.arm_scope)
    try:
        included = included_links(ctx.target.environ)
    except ChainConfigError as exc:
        return ChainReport(probes, Selection(None, None, (), (), ()), str(exc))
    return ChainReport(probes, select({k: p.outcome for k, p in probes.items()}, included))


@fact("credential", reported_by="signin.chain")
def credential(ctx: Context) -> LinkProbe:
    """The credential DefaultAzureCredential would use, if it can sign in at all."""
    report = ctx.get(credential_chain)
    if report.config_error:
        raise FactError("credential", report.config_error, reported_by="signin.chain")
    selection = report.selection
    if selection.link is None:
        raise FactError("credential", "no credential in DefaultAzureCredential's chain is available",
                        reported_by="signin.chain")
    probe = report.probes[selection.link]
    if selection.outcome is Outcome.FAILED:
        raise FactError("credential", f"{probe.name} failed and ends the chain: {probe.message}",
                        reported_by="signin.chain")
    return probe


@dataclass(frozen=True, slots=True)
class TokenFact:
    """A token's decoded claims and expiry. The token string itself is deliberately not kept here."""

    scope: str
    claims: Mapping[str, Any]
    expires_on: int
    # Kept only to call the data plane (access.probe); never rendered, logged or compared.
    access_token: str = field(default="", repr=False, compare=False)


@fact("token", reported_by="tokens.scope")
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
        from preflight.aadsts import most_specific, parse_aadsts_codes

        code = most_specific(parse_aadsts_codes(str(exc)))
        raise FactError("token", f"{probe.name} could not get a token for {scope}: {_one_line(exc)}",
                        reported_by="tokens.scope", code=str(code) if code is not None else None) from exc
    return TokenFact(scope, decode_claims(info.token), int(info.expires_on), info.token)


@fact("principal", reported_by="signin.identity")
def principal(ctx: Context) -> PrincipalInfo:
    """Who the working credential is, from its ARM token's claims (decoded, never verified)."""
    from preflight.claims import describe_principal

    return describe_principal(ctx.get(token, ctx.get(cloud).arm_scope).claims)


def scopes_for(the_cloud: Cloud, profile: Profile) -> tuple[str, ...]:
    audiences = {"arm": the_cloud.arm_audience, "cognitive": the_cloud.cognitive_audience,
                 "ml": the_cloud.ml_audience, "ai": the_cloud.ai_audience, "graph": the_cloud.graph_audience}
    return tuple(Cloud.scope(audiences[a]) for a in profile.audiences)


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())
