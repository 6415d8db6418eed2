"""The data-plane probe as one shared fact: access.probe classifies the answer, and rbac.propagation takes a
200 as proof that the grant has reached the data plane — one request, whoever asks first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from preflight.context import Context, fact
from preflight.errors import FactError

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
            return isinstance(self.json(), dict)
        except ValueError:
            return False


def probe_endpoint(ctx: Context) -> str | None:
    """The endpoint to probe: the one given, else the account's (None when it has none)."""
    from preflight.azure.arm import resource

    endpoint = ctx.target.endpoint or (ctx.get(resource).get("properties") or {}).get("endpoint")
    return str(endpoint) if endpoint else None


@fact("dataplane-probe", reported_by="access.probe")
def dataplane_probe(ctx: Context) -> ProbeAnswer | None:
    """One read-only call (list deployments) with the Entra ID token for Cognitive Services; None when the
    account has no endpoint. A transport failure is this fact's error (access.probe reports it)."""
    import requests

    from preflight.azure.facts import cloud, token

    endpoint = probe_endpoint(ctx)
    if endpoint is None:
        return None
    found = ctx.get(token, ctx.get(cloud).cognitive_scope)
    url = endpoint.rstrip("/") + "/openai/deployments"
    verify = ctx.target.environ.get("REQUESTS_CA_BUNDLE") or True
    try:
        with ctx.doing(f"the data plane (GET {url})"):
            response = requests.get(url, params={"api-version": API_VERSION}, timeout=TIMEOUT, verify=verify,
                                    headers={"Authorization": f"Bearer {found.access_token}"})
    except requests.RequestException as exc:
        from preflight.azure.http import describe_transport

        raise FactError("dataplane-probe", f"the data plane could not be reached: {describe_transport(exc, url)} "
                        f"(GET {url})", reported_by="access.probe") from exc
    return ProbeAnswer(url, response.status_code, response.text, response.headers.get("Content-Type"))


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
