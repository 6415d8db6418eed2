"""The data-plane probe as one shared fact: access.probe classifies the answer, and rbac.propagation takes a
200 as proof that the grant has reached the data plane — one request, whoever asks first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.context import Context, fact
from preflight.errors import FactError

if TYPE_CHECKING:
    from preflight.azure.http import Answer

API_VERSION = "2024-10-21"  # a GA Azure OpenAI data-plane version
#: The one data action the probe exercises (GET /openai/deployments).
PROBED_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
TIMEOUT = 15


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """What the data plane answered to ``GET {endpoint}/openai/deployments`` with the run's token."""

    url: str
    status: int
    text: str
    content_type: str | None

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not (an HTML page, a truncated body)."""
        return json.loads(self.text)

    @property
    def accepted(self) -> bool:
        """The service accepted the token and answered with JSON: access is proven, not inferred."""
        if self.status != 200:
            return False
        try:
            body = self.json()
        except ValueError:
            return False
        return isinstance(body, dict) and isinstance(body.get("data"), list)


def probe_endpoint(ctx: Context) -> str | None:
    """The endpoint to probe: the one given, else the account's (None when it has none)."""
    from preflight.azure.arm import resource

    endpoint = ctx.target.endpoint or (ctx.get(resource).get("properties") or {}).get("endpoint")
    return str(endpoint) if endpoint else None


@fact("dataplane-probe", reported_by="access.probe")
def dataplane_probe(ctx: Context) -> ProbeAnswer | None:
    """One read-only call (list deployments) with the Entra ID token for Cognitive Services; None when the
    account has no endpoint. A transport failure is this fact's error (access.probe reports it)."""
    endpoint = probe_endpoint(ctx)
    if endpoint is None:
        return None
    url = endpoint.rstrip("/") + "/openai/deployments"
    response = _get_deployments(ctx, endpoint, url)
    if 300 <= response.status_code < 400:
        # never followed: a redirect may point anywhere (another host, a link-local address) and would carry
        # the token there; and a 200 from wherever it points proves nothing about this account
        from preflight.azure.http import redirect_text

        raise _probe_error(
            f"the data plane answered {redirect_text(response)}: cannot tell whether the token is accepted (GET {url})",
            status=response.status_code,
            code="Redirect",
        )
    answer = ProbeAnswer(url, response.status_code, response.text(), response.headers.get("Content-Type"))
    if 200 <= answer.status < 300 and not answer.accepted and _is_json_object(answer):
        # JSON, but not the deployments list: not proof that the token was accepted
        raise _probe_error(
            f"the data plane answered HTTP {answer.status} without the "
            f"deployments list (data) (received {answer.text[:120]!r}): cannot tell whether the "
            f"token is accepted (GET {url})",
            status=answer.status,
            code="InvalidAnswer",
        )
    return answer


def _get_deployments(ctx: Context, endpoint: str, url: str) -> Answer:
    """The request itself through the shared factory: the token only for the endpoint's own origin, no redirect
    followed, timeouts from the run's deadline (at most TIMEOUT), the body read under the size cap; one
    attempt. A refused request or a transport failure becomes this fact's error."""
    from azure.core.exceptions import AzureError
    from azure.core.rest import HttpRequest

    from preflight.azure.facts import cloud, token
    from preflight.azure.http import RefusedRequest, StaticToken, deadline_of, describe_transport, exchange, rest_client

    found = ctx.get(token, ctx.get(cloud).cognitive_scope)
    deadline = deadline_of(ctx)
    client = rest_client(
        endpoint,
        credential=StaticToken(found.access_token, int(found.expires_on)),
        scope=ctx.get(cloud).cognitive_scope,
        deadline=deadline,
        retry={"retry_total": 0},
        verify=ctx.target.environ.get("REQUESTS_CA_BUNDLE") or True,
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
    )
    try:
        with ctx.doing(f"the data plane (GET {url})"), client:
            return exchange(client, HttpRequest("GET", url, params={"api-version": API_VERSION}), deadline=deadline)
    except RefusedRequest as exc:
        raise _probe_error(f"the data plane probe was stopped: {exc.message} (GET {url})", code=exc.code) from exc
    except AzureError as exc:
        raise _probe_error(f"the data plane could not be reached: {describe_transport(exc, url)} (GET {url})") from exc


def _is_json_object(answer: ProbeAnswer) -> bool:
    """Whether the body is a JSON object (not JSON at all: access.probe describes the body itself)."""
    try:
        return isinstance(answer.json(), dict)
    except ValueError:
        return False


def _probe_error(message: str, *, status: int | None = None, code: str | None = None) -> FactError:
    """This fact's failure, reported by access.probe."""
    return FactError("dataplane-probe", message, reported_by="access.probe", status=status, code=code)


def probe_says(ctx: Context) -> str | None:
    """The probe as a verdict source (:mod:`preflight.verdict`): ``allowed`` when this run probes (``--probe``)
    and the service accepted the token; None otherwise — a refusal is not counted, since a 401/403 has causes
    besides RBAC (propagation, network, tenant) that access.probe tells apart."""
    if "probe" not in ctx.services.get("selected-tags", ()):
        return None
    try:
        answer = ctx.get(dataplane_probe)
    except FactError:
        return None
    return "allowed" if answer is not None and answer.accepted else None
