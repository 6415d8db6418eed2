"""Named hosts: the twin's services under distinct names, as Azure serves them (issue 21 item 3).

On one origin (``https://127.0.0.1:PORT``) ARM, Microsoft Graph and Entra ID share a host, so anything that
picks a token audience by host cannot be told apart: ``az rest --url <graph>/v1.0/me`` got an ARM token and the
twin took it. With named hosts each service has its own name under the reserved ``.test`` top-level domain
(RFC 2606: it never resolves on the Internet), and each accepts only its own audience:

- ``login.twin.test``: Entra ID (token endpoint, OIDC discovery, keys);
- ``management.twin.test``: Azure Resource Manager and Resource Graph;
- ``graph.twin.test``: Microsoft Graph;
- ``<subdomain>.openai.twin.test`` / ``<subdomain>.cognitiveservices.twin.test``: an account's data plane (kind
  ``OpenAI`` / any other kind, as ARM's ``properties.endpoint`` names it);
- ``<region>.api.cognitive.twin.test``: the shared regional endpoint (keys only, like the real one).

How the names reach the twin with no root and no change to the machine's resolver: the process under test
gets ``HTTPS_PROXY`` pointing at the twin's own loopback CONNECT proxy (:mod:`preflight.twin.proxy`).
``requests`` / ``urllib3`` (the Azure SDKs, MSAL, the Azure CLI) and ``urllib`` then never resolve a name
themselves: they ask the proxy for a tunnel to ``name:443``. The proxy opens tunnels to the twin for the names
above and refuses every other name without resolving it, so a real Azure name can never be reached through it.
The managed-identity endpoint stays on ``127.0.0.1`` (IMDS is an address, and ``NO_PROXY`` keeps loopback
direct).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.twin.http import ARM, DATA_PLANE, ENTRA, GRAPH, RESOURCE_GRAPH

DOMAIN = "twin.test"
LOGIN = f"login.{DOMAIN}"
MANAGEMENT = f"management.{DOMAIN}"
GRAPH_HOST = f"graph.{DOMAIN}"
OPENAI_SUFFIX = f".openai.{DOMAIN}"
COGNITIVE_SUFFIX = f".cognitiveservices.{DOMAIN}"
REGIONAL_SUFFIX = f".api.cognitive.{DOMAIN}"

# The host each service is reached at (what the cloud metadata document and the token audiences name).
SERVICE_HOSTS: Mapping[str, str] = {ENTRA: LOGIN, ARM: MANAGEMENT, RESOURCE_GRAPH: MANAGEMENT, GRAPH: GRAPH_HOST}


@dataclass(frozen=True, slots=True)
class HostRoute:
    """What a named host serves: the services whose routes answer there, the path prefix the twin's
    data-plane routes carry (``/dataplane/<subdomain>``), which the host stands for, and the account's custom
    subdomain a per-account name names."""

    services: frozenset[str]
    prefix: str = ""
    subdomain: str | None = None


def host_of(header: str) -> str:
    """The host name of a ``Host`` header, lower-cased, without port or trailing dot."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0].rstrip(".") if ":" in header else header.rstrip(".")


def is_twin_name(host: str) -> bool:
    """A name under the twin's domain (``*.twin.test``)."""
    return host == DOMAIN or host.endswith("." + DOMAIN)


def _single_label(host: str, suffix: str) -> str | None:
    """The one label in front of ``suffix`` (``contoso.openai.twin.test`` → ``contoso``), else None."""
    if host.endswith(suffix):
        label = host[: -len(suffix)]
        if label and "." not in label:
            return label
    return None


def route_for(host: str) -> HostRoute | None:
    """What a twin name serves, or None for a name the twin does not have."""
    fixed = {LOGIN: (ENTRA,), MANAGEMENT: (ARM, RESOURCE_GRAPH), GRAPH_HOST: (GRAPH,)}
    if host in fixed:
        return HostRoute(frozenset(fixed[host]))
    region = _single_label(host, REGIONAL_SUFFIX)
    if region is not None:
        return HostRoute(frozenset({DATA_PLANE}), f"/dataplane/regional/{region}")
    for suffix in (OPENAI_SUFFIX, COGNITIVE_SUFFIX):
        subdomain = _single_label(host, suffix)
        if subdomain is not None:
            return HostRoute(frozenset({DATA_PLANE}), f"/dataplane/{subdomain}", subdomain)
    return None


def serves(host: str, scenario: Mapping[str, Any]) -> bool:
    """Whether ``host`` exists while ``scenario`` is served — what name resolution would say. A data-plane name
    exists only for an account with that custom subdomain (a real ``<name>.openai.azure.com`` of an account
    that does not exist does not resolve); every region's shared endpoint exists."""
    route = route_for(host)
    if route is None or route.subdomain is None:
        return route is not None
    return any(route.subdomain == _subdomain(r) for r in scenario.get("resources") or ())


def _subdomain(resource: Mapping[str, Any]) -> str:
    return str((resource.get("properties") or {}).get("customSubDomainName") or "").lower()


def origin(service: str) -> str:
    """``https://<host>`` of a service (port 443: the proxy's tunnels end at the twin whatever its port)."""
    return f"https://{SERVICE_HOSTS[service]}"


def account_endpoint(account: Mapping[str, Any]) -> str:
    """An account's data-plane endpoint under its own name, as ARM reports it: ``https://<subdomain>.openai…/``
    for kind ``OpenAI``, ``https://<subdomain>.cognitiveservices…/`` for other kinds, and the shared regional
    ``https://<region>.api.cognitive…/`` for an account without a custom subdomain."""
    sub = _subdomain(account)
    if not sub:
        return f"https://{str(account.get('location', 'eastus')).lower()}{REGIONAL_SUFFIX}/"
    suffix = OPENAI_SUFFIX if str(account.get("kind", "")).lower() == "openai" else COGNITIVE_SUFFIX
    return f"https://{sub}{suffix}/"


def certificate_names() -> tuple[str, ...]:
    """The DNS names the twin's server certificate carries for named hosts (wildcards cover one label)."""
    return (LOGIN, MANAGEMENT, GRAPH_HOST, "*" + OPENAI_SUFFIX, "*" + COGNITIVE_SUFFIX, "*" + REGIONAL_SUFFIX)
