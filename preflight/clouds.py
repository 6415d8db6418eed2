"""Clouds: every endpoint and token audience a run needs, for public, sovereign and custom clouds alike.

A custom cloud (Azure Stack, the twin) is described by ARM's cloud-metadata document, the same one the Azure
CLI's ``az cloud register --endpoint-resource-manager`` reads; the checks never know which cloud they run in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from preflight.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Cloud:
    """Endpoints end with ``/``; audiences are the resource identifiers tokens are requested for."""

    name: str
    authority_host: str
    resource_manager: str
    arm_audience: str
    graph_endpoint: str
    graph_audience: str
    cognitive_audience: str
    ml_audience: str
    ai_audience: str
    portal: str

    @staticmethod
    def scope(audience: str) -> str:
        """``https://management.azure.com`` → ``https://management.azure.com/.default``."""
        return audience.rstrip("/") + "/.default"

    @property
    def arm_scope(self) -> str:
        return self.scope(self.arm_audience)

    @property
    def graph_scope(self) -> str:
        return self.scope(self.graph_audience)

    @property
    def cognitive_scope(self) -> str:
        return self.scope(self.cognitive_audience)

    @property
    def needs_instance_discovery_off(self) -> bool:
        """MSAL's instance discovery only knows Microsoft's own authorities; anything else must turn it off
        or MSAL calls the public cloud to validate the authority."""
        return (urlsplit(self.authority_host).hostname or "") not in PUBLIC_AUTHORITY_HOSTS

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "authority_host": self.authority_host,
            "resource_manager": self.resource_manager,
            "graph_endpoint": self.graph_endpoint,
        }


def _microsoft_cloud(name: str, login: str, management: str, graph: str, tld: str) -> Cloud:
    """One of Microsoft's own clouds from its hosts: the ARM and Graph audiences are ``https://<host>`` and their
    endpoints the same with ``/`` (as in ARM's metadata document); the data-plane audiences and the portal are
    ``https://<service>.azure.<tld>`` (``com``, ``cn``, ``us``)."""
    arm, graph_audience = f"https://{management}", f"https://{graph}"
    return Cloud(
        name=name,
        authority_host=f"https://{login}/",
        resource_manager=arm + "/",
        arm_audience=arm,
        graph_endpoint=graph_audience + "/",
        graph_audience=graph_audience,
        cognitive_audience=f"https://cognitiveservices.azure.{tld}",
        ml_audience=f"https://ml.azure.{tld}",
        ai_audience=f"https://ai.azure.{tld}",
        portal=f"https://portal.azure.{tld}",
    )


AZURE_PUBLIC = _microsoft_cloud(
    "AzureCloud", "login.microsoftonline.com", "management.azure.com", "graph.microsoft.com", "com"
)
AZURE_CHINA = _microsoft_cloud(
    "AzureChinaCloud", "login.chinacloudapi.cn", "management.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn", "cn"
)
AZURE_US_GOVERNMENT = _microsoft_cloud(
    "AzureUSGovernment", "login.microsoftonline.us", "management.usgovcloudapi.net", "graph.microsoft.us", "us"
)
KNOWN_CLOUDS = {c.name: c for c in (AZURE_PUBLIC, AZURE_CHINA, AZURE_US_GOVERNMENT)}
# the known clouds' sign-in hosts, which MSAL's instance discovery can validate (Cloud.needs_instance_discovery_off)
PUBLIC_AUTHORITY_HOSTS = frozenset(urlsplit(c.authority_host).hostname or "" for c in KNOWN_CLOUDS.values())


def cloud_from_metadata(document: Mapping[str, Any]) -> Cloud:
    """Build a Cloud from ARM's ``/metadata/endpoints`` document (api-version 2022-09-01 shape).

    Data-plane audiences are not in the document; a custom cloud named like a known one inherits that cloud's
    audiences, any other inherits the public cloud's (Azure Stack and test clouds issue those).
    """
    try:
        auth = document["authentication"]
        login = str(auth["loginEndpoint"])
        resource_manager = str(document["resourceManager"])
        audiences = [str(a) for a in auth.get("audiences") or []]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"the cloud metadata document lacks {exc}") from exc
    name = str(document.get("name") or "CustomCloud")
    base = KNOWN_CLOUDS.get(name, AZURE_PUBLIC)
    # Prefer the management.azure.com-style audience (what the ARM SDKs request), else the first one.
    arm_audience = next(
        (a for a in reversed(audiences) if "management" in a), audiences[0] if audiences else resource_manager
    )
    graph = str(document.get("microsoftGraphResourceId") or base.graph_endpoint)
    return Cloud(
        name=name,
        authority_host=_slash(login),
        resource_manager=_slash(resource_manager),
        arm_audience=arm_audience.rstrip("/"),
        graph_endpoint=_slash(graph),
        graph_audience=graph.rstrip("/"),
        cognitive_audience=base.cognitive_audience,
        ml_audience=base.ml_audience,
        ai_audience=base.ai_audience,
        portal=str(document.get("portal") or base.portal),
    )


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
