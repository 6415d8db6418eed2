"""Which token scopes a run needs and why: the profile's audiences, the endpoint's inferred audience, Microsoft
Graph when a selected check reads it, --scope; and the scope a data plane's refusal names. Pure (no I/O): the
``tokens.scope`` check and the facts share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from preflight.clouds import Cloud

if TYPE_CHECKING:
    from preflight.profiles import Profile


def scopes_for(the_cloud: Cloud, profile: Profile) -> tuple[str, ...]:
    """The scope of each audience the profile names, in the cloud's own URIs."""
    return tuple(Cloud.scope(cloud_audience(the_cloud, a)) for a in profile.audiences)


# Endpoint host suffix → the Cloud audience its data plane accepts (public and sovereign clouds alike).
_ENDPOINT_AUDIENCES: tuple[tuple[str, str | None, str], ...] = (
    # (host suffix, required path prefix, audience key)
    (".services.ai.azure.com", "/api/projects/", "ai"),
    (".services.ai.azure.com", None, "cognitive"),
    (".openai.azure.com", None, "cognitive"),
    (".cognitiveservices.azure.com", None, "cognitive"),
    (".openai.azure.us", None, "cognitive"),
    (".cognitiveservices.azure.us", None, "cognitive"),
    (".openai.azure.cn", None, "cognitive"),
    (".cognitiveservices.azure.cn", None, "cognitive"),
    (".inference.ml.azure.com", None, "ml"),
    (".api.azureml.ms", None, "ml"),
)


def audience_for_endpoint(endpoint: str | None) -> str | None:
    """The audience key ("cognitive", "ai", "ml") a data-plane endpoint expects, from its host (pure).

    ``*.openai.azure.com`` / ``*.cognitiveservices.azure.com`` → Cognitive Services; an AI Foundry project
    (``*.services.ai.azure.com/api/projects/…``) → ``https://ai.azure.com``; an Azure ML online endpoint
    (``*.inference.ml.azure.com``) → ``https://ml.azure.com``. ``None`` for anything else (the twin's loopback
    endpoints, custom domains): the profile decides then.
    """
    from urllib.parse import urlsplit

    if not endpoint:
        return None
    parts = urlsplit(endpoint.strip())
    host = (parts.hostname or "").lower()
    path = (parts.path or "/").lower()
    for suffix, prefix, key in _ENDPOINT_AUDIENCES:
        if host.endswith(suffix) and (prefix is None or path.startswith(prefix)):
            return key
    return None


def cloud_audience(the_cloud: Cloud, key: str) -> str:
    """The cloud's audience URI for an audience key of a profile."""
    audiences = {
        "arm": the_cloud.arm_audience,
        "cognitive": the_cloud.cognitive_audience,
        "ml": the_cloud.ml_audience,
        "ai": the_cloud.ai_audience,
        "graph": the_cloud.graph_audience,
    }
    return audiences[key]


def scope_from_data_plane(status: int, body: Any) -> str | None:
    """The scope to request when a data plane refused a token naming the audience it expected
    (``401 … audience is incorrect (https://cognitiveservices.azure.com)``), read through
    :func:`preflight.dataplane.classify_probe`; ``None`` when the answer names no audience."""
    from preflight.dataplane import classify_probe

    verdict = classify_probe(status, body)
    if verdict.kind != "audience" or not verdict.expected_audience:
        return None
    return Cloud.scope(verdict.expected_audience.strip())


GRAPH_REASON = "checks that read Microsoft Graph (principal.*, access.conditional-access)"


def wanted_scopes(
    the_cloud: Cloud, profile: Profile, endpoint: str | None, extra: tuple[str, ...] = (), graph: bool = False
) -> tuple[tuple[str, str], ...]:
    """Every scope to test with why: the profile's, the endpoint's inferred audience, Graph when a selected
    check reads it (``graph``), then --scope (pure). Duplicates (compared without case, trailing slash or
    ``/.default``) are dropped, the first reason kept."""
    from preflight.claims import normalize_audience

    found: dict[str, tuple[str, str]] = {}

    def add(scope: str, why: str) -> None:
        found.setdefault(normalize_audience(scope), (scope, why))

    for scope in scopes_for(the_cloud, profile):
        add(scope, f"profile {profile.name}")
    key = audience_for_endpoint(endpoint)
    if key is not None:
        add(Cloud.scope(cloud_audience(the_cloud, key)), "the endpoint's host")
    if graph:
        add(the_cloud.graph_scope, GRAPH_REASON)
    for scope in extra:
        add(scope, "--scope")
    return tuple(found.values())


# Audience key → the service's name, as Azure names it. A token row is labelled by the service the cloud (its
# metadata document, for a custom cloud such as Azure Stack or the twin) says the audience belongs to, so a
# custom cloud's Graph at https://host:port/ still reads "Microsoft Graph" (issue 19 item 4).
SERVICE_NAMES = {
    "arm": "Azure Resource Manager",
    "graph": "Microsoft Graph",
    "cognitive": "Azure AI Services",
    "ml": "Azure Machine Learning",
    "ai": "Azure AI Foundry",
}


def service_label(the_cloud: Cloud, scope: str) -> str | None:
    """The name of the service ``scope`` is a token scope of in this cloud, or ``None`` for any other (pure)."""
    from preflight.claims import normalize_audience

    wanted = normalize_audience(scope)
    for key, name in SERVICE_NAMES.items():
        if normalize_audience(cloud_audience(the_cloud, key)) == wanted:
            return name
    return None
