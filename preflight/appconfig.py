"""The app's own Azure OpenAI configuration — key vs keyless, endpoint form, api-version, deployment name — judged
from the variables the app reads, pure, no I/O.

Why: the guides' failures that no identity check sees are in the app's settings: a key the account refuses
(``disableLocalAuth``), the openai<1.0 ``OPENAI_API_TYPE`` settings that openai≥1.0 ignores, a regional endpoint
that cannot take Entra ID tokens, a retired api-version, a deployment name that does not exist.

What the installed ``openai`` package reads (openai-python ``src/openai/lib/azure.py``, ``AzureOpenAI.__init__``,
https://github.com/openai/openai-python/blob/main/src/openai/lib/azure.py): ``api_key`` from
``AZURE_OPENAI_API_KEY``, ``azure_ad_token`` from ``AZURE_OPENAI_AD_TOKEN``, ``api_version`` from
``OPENAI_API_VERSION`` (not ``AZURE_OPENAI_API_VERSION``), ``azure_endpoint`` from ``AZURE_OPENAI_ENDPOINT``; and in
``_prepare_options`` an Entra ID token (``azure_ad_token`` or ``azure_ad_token_provider``) is sent as
``Authorization: Bearer`` *instead of* the key, which is only sent when there is no token. openai<1.0 read the
module settings ``api_type`` / ``api_base`` / ``api_version`` / ``api_key`` from ``OPENAI_API_TYPE`` /
``OPENAI_API_BASE`` / ``OPENAI_API_VERSION`` / ``OPENAI_API_KEY``; with ``api_type="azure_ad"`` the "key" is the
Entra token. Keys and Entra ID on Azure OpenAI:
https://learn.microsoft.com/azure/ai-foundry/openai/how-to/managed-identity and
https://learn.microsoft.com/azure/ai-services/disable-local-auth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from preflight.redact import describe_secret

# Every variable the app-side checks read, in display order. Secrets are described, never shown.
APP_VARS = (
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_TYPE",
    "OPENAI_API_BASE",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_OPENAI_DEPLOYMENT",
)
SECRET_APP_VARS = frozenset({"AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN"})
KEY_VARS = ("AZURE_OPENAI_API_KEY", "OPENAI_API_KEY")
LEGACY_VARS = ("OPENAI_API_TYPE", "OPENAI_API_BASE")
LEGACY_API_TYPES = ("open_ai", "azure", "azure_ad", "azuread", "openai")
COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
TOKEN_PROVIDER = (
    "AzureOpenAI(azure_endpoint=…, api_version=…, azure_ad_token_provider=get_bearer_token_provider("
    f'DefaultAzureCredential(), "{COGNITIVE_SCOPE}"))'
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One verdict on the app's configuration: ``status`` is "pass", "warn" or "fail"; ``fix`` is empty on a
    pass."""

    status: str
    message: str
    fix: str = ""
    subject: str | None = None  # which aspect, when a check reports several (local-auth, legacy, …)
    caused_by: str | None = None  # the check that reports (and fixes) the cause, when it is another's


def describe_variables(env: Mapping[str, str], names: Iterable[str] = APP_VARS) -> dict[str, str]:
    """The app variables that are set, for evidence: secrets as "set (32 characters, hidden)", never a value."""
    return {name: describe_secret(env[name]) if name in SECRET_APP_VARS else env[name] for name in names if name in env}


def openai_major(version: str | None) -> int | None:
    """The major version of an installed ``openai`` distribution ("1.54.3" → 1, "0.28.1" → 0), None if unknown."""
    match = re.match(r"\s*(\d+)", version or "")
    return int(match[1]) if match else None


# --- key vs keyless ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthFacts:
    """What the auth verdict is made of: the app's variables, the installed openai version (None: not
    installed where preflight runs), and whether the account refuses keys (None: not known)."""

    env: Mapping[str, str]
    openai_version: str | None
    local_auth_disabled: bool | None


def auth_mode(env: Mapping[str, str], openai_version: str | None) -> str:
    """Which credential the installed SDK would send, from the environment alone: "entra-token" (a static
    token), "key", "legacy-azure-ad" / "legacy-key" (openai<1.0 settings) or "keyless" (nothing in the
    environment: the app must pass ``azure_ad_token_provider`` in code)."""
    legacy_type = (env.get("OPENAI_API_TYPE") or "").strip().lower()
    if openai_major(openai_version) == 0:
        if legacy_type in ("azure_ad", "azuread"):
            return "legacy-azure-ad"
        if env.get("OPENAI_API_KEY"):
            return "legacy-key"
        return "keyless"
    if env.get("AZURE_OPENAI_AD_TOKEN"):
        return "entra-token"
    if env.get("AZURE_OPENAI_API_KEY"):
        return "key"
    return "keyless"


def analyse_auth(facts: AuthFacts) -> list[Finding]:
    """Every problem with how the app authenticates, or one pass saying which credential it uses."""
    env, major = facts.env, openai_major(facts.openai_version)
    mode = auth_mode(env, facts.openai_version)
    findings = [*_legacy_findings(env, major), *_both_findings(env, major, mode)]
    findings += _local_auth_findings(env, mode, facts.local_auth_disabled)
    if env.get("AZURE_OPENAI_AD_TOKEN") and major != 0:
        findings.append(
            Finding(
                "warn",
                "AZURE_OPENAI_AD_TOKEN holds a static Entra ID token: it expires (typically after 60–90 minutes) "
                "and the SDK never refreshes it",
                f"unset AZURE_OPENAI_AD_TOKEN and pass a token provider: {TOKEN_PROVIDER}",
                "static-token",
            )
        )
    if not findings:
        findings.append(Finding("pass", _mode_summary(env, mode, facts.local_auth_disabled)))
    return findings


def _mode_summary(env: Mapping[str, str], mode: str, local_auth_disabled: bool | None) -> str:
    if mode == "key":
        accepts = " and the account accepts keys" if local_auth_disabled is False else ""
        return (
            "the app authenticates with the API key in AZURE_OPENAI_API_KEY "
            f"({describe_secret(env['AZURE_OPENAI_API_KEY'])}){accepts}; Entra ID (keyless) is what the guide "
            "recommends"
        )
    if mode == "legacy-key":
        return "openai<1.0 sends the key in OPENAI_API_KEY"
    return (
        "no API key or static token in the app's environment: the app authenticates with Entra ID through "
        "azure_ad_token_provider (whether the identity may call the account is rbac.data-action's question)"
    )


def _legacy_findings(env: Mapping[str, str], major: int | None) -> list[Finding]:
    """openai<1.0 settings: ignored by openai≥1.0, misleading when the version is unknown, and an invalid or
    non-Azure OPENAI_API_TYPE under openai<1.0."""
    legacy = [name for name in LEGACY_VARS if env.get(name)]
    if not legacy:
        return []
    shown = ", ".join(f"{name}={env[name]}" for name in legacy)
    if major == 0:
        return _old_sdk_findings(env)
    installed = "openai≥1.0 (installed here)" if major is not None else "openai≥1.0"
    endpoint_fix = ""
    if env.get("OPENAI_API_BASE") and not env.get("AZURE_OPENAI_ENDPOINT"):
        custom = classify_endpoint(env["OPENAI_API_BASE"]).kind == "custom-subdomain"
        endpoint_fix = (
            f"; set AZURE_OPENAI_ENDPOINT={env['OPENAI_API_BASE']}"
            if custom
            else "; set AZURE_OPENAI_ENDPOINT to the account's custom-subdomain endpoint (see app.endpoint)"
        )
    where = "" if major is not None else " (openai is not installed where preflight runs: it may be elsewhere)"
    return [
        Finding(
            "warn",
            f"{shown}: openai<1.0 settings that {installed} ignores{where} — AzureOpenAI reads "
            "AZURE_OPENAI_ENDPOINT, OPENAI_API_VERSION and AZURE_OPENAI_API_KEY, and Entra ID is "
            "azure_ad_token_provider, not OPENAI_API_TYPE=azure_ad",
            f"remove {' and '.join(legacy)}{endpoint_fix}; use {TOKEN_PROVIDER}",
            "legacy",
        )
    ]


def _old_sdk_findings(env: Mapping[str, str]) -> list[Finding]:
    """openai<1.0 installed: OPENAI_API_TYPE must be azure / azure_ad for an Azure endpoint, and azure_ad puts a
    short-lived token in OPENAI_API_KEY."""
    api_type = (env.get("OPENAI_API_TYPE") or "open_ai").strip().lower()
    upgrade = f"upgrade to openai≥1.0 and use {TOKEN_PROVIDER}"
    if api_type not in LEGACY_API_TYPES:
        return [
            Finding(
                "fail", f"OPENAI_API_TYPE={env['OPENAI_API_TYPE']!r} is not a type openai<1.0 knows", upgrade, "legacy"
            )
        ]
    if api_type in ("open_ai", "openai") and env.get("OPENAI_API_BASE"):
        return [
            Finding(
                "fail",
                "openai<1.0 with OPENAI_API_TYPE unset or open_ai calls OpenAI's API shape, not Azure's: "
                "requests to the Azure endpoint fail",
                f"set OPENAI_API_TYPE=azure_ad (Entra ID), or {upgrade}",
                "legacy",
            )
        ]
    if api_type in ("azure_ad", "azuread"):
        return [
            Finding(
                "warn",
                "openai<1.0 with OPENAI_API_TYPE=azure_ad sends OPENAI_API_KEY as the Entra ID token "
                f"({describe_secret(env.get('OPENAI_API_KEY'))}): a token expires within about an hour and nothing "
                "refreshes it",
                upgrade,
                "legacy",
            )
        ]
    return []


def _both_findings(env: Mapping[str, str], major: int | None, mode: str) -> list[Finding]:
    """A key set beside an Entra ID token: say which one the SDK sends."""
    if major == 0 or not env.get("AZURE_OPENAI_API_KEY") or mode != "entra-token":
        return []
    return [
        Finding(
            "warn",
            "both AZURE_OPENAI_API_KEY and AZURE_OPENAI_AD_TOKEN are set: openai≥1.0 sends the Entra ID token "
            "(Authorization: Bearer) and never the key — as it does whenever azure_ad_token_provider is passed",
            "unset AZURE_OPENAI_API_KEY so that nothing relies on a key by accident",
            "key-and-token",
        )
    ]


def _local_auth_findings(env: Mapping[str, str], mode: str, local_auth_disabled: bool | None) -> list[Finding]:
    """A key the account refuses. An openai≥1.0 key is only sent when no Entra ID token is configured, so this
    is a FAIL unless the code passes ``azure_ad_token_provider`` (which the environment cannot show)."""
    if local_auth_disabled is not True or mode not in ("key", "legacy-key"):
        return []
    name = "AZURE_OPENAI_API_KEY" if mode == "key" else "OPENAI_API_KEY"
    return [
        Finding(
            "fail",
            f"{name} is {describe_secret(env.get(name))} but the account has local (key) authentication "
            "disabled (disableLocalAuth=true): every call made with the key is refused with 401 — unless the code "
            "passes azure_ad_token_provider, which then wins over the key",
            f"unset {name} and authenticate with Entra ID: {TOKEN_PROVIDER}",
            "local-auth",
        )
    ]


def needs_local_auth(env: Mapping[str, str], openai_version: str | None) -> bool:
    """Whether the auth verdict depends on the account's ``disableLocalAuth`` (a key is what would be sent)."""
    return auth_mode(env, openai_version) in ("key", "legacy-key")


# --- endpoint form -------------------------------------------------------------------------------------------------

# Hosts whose first label is the account's custom subdomain (public, US Gov, China; OpenAI, AI Services, Foundry).
SUBDOMAIN_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    ".openai.azure.us",
    ".cognitiveservices.azure.us",
    ".openai.azure.cn",
    ".cognitiveservices.azure.cn",
)
REGIONAL = re.compile(r"^(?P<region>[a-z0-9]+)\.api\.cognitive\.(?:microsoft\.com|microsoft\.us|azure\.cn)$")
SUBDOMAIN_DOCS = "https://learn.microsoft.com/azure/ai-services/cognitive-services-custom-subdomains"


@dataclass(frozen=True, slots=True)
class EndpointForm:
    """What kind of URL the app was given: ``custom-subdomain``, ``regional``, ``apim``, ``foundry-project``,
    ``openai`` (OpenAI's own API), ``not-https`` or ``other``; ``name`` is the subdomain, region, gateway or
    project it names."""

    kind: str
    host: str
    name: str | None = None
    path: str = "/"


def classify_endpoint(url: str) -> EndpointForm:
    """The form of an endpoint URL, from its scheme, host and path alone."""
    parts = urlsplit(url.strip())
    host, path = (parts.hostname or "").lower(), parts.path or "/"
    if parts.scheme != "https":
        return EndpointForm("not-https", host, path=path)
    regional = REGIONAL.match(host)
    if regional:
        return EndpointForm("regional", host, regional["region"], path)
    if host.endswith(".azure-api.net"):
        return EndpointForm("apim", host, host.split(".")[0], path)
    project = re.match(r"^/api/projects/(?P<project>[^/]+)", path)
    if host.endswith(".services.ai.azure.com") and project:
        return EndpointForm("foundry-project", host, project["project"], path)
    if host == "api.openai.com":
        return EndpointForm("openai", host, path=path)
    for suffix in SUBDOMAIN_SUFFIXES:
        if host.endswith(suffix) and host.count(".") == suffix.count("."):
            return EndpointForm("custom-subdomain", host, host[: -len(suffix)], path)
    return EndpointForm("other", host, path=path)


def app_endpoint(env: Mapping[str, str], flag: str | None) -> tuple[str, str] | None:
    """The endpoint the app is given and where it came from: ``--endpoint``, else AZURE_OPENAI_ENDPOINT, else
    the openai<1.0 OPENAI_API_BASE; None when none is set."""
    if flag:
        return flag, "--endpoint"
    for name in ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_BASE"):
        if env.get(name):
            return env[name], name
    return None


@dataclass(frozen=True, slots=True)
class AccountEndpoint:
    """What the account (when it could be read) says about an endpoint: its own endpoint, whether the app's URL
    is one of its endpoints, and its custom subdomain (None: it has none, so its endpoint is a regional one)."""

    endpoint: str | None
    own: bool
    subdomain: str | None


def analyse_endpoint(url: str, source: str, account: AccountEndpoint | None = None) -> Finding:
    """The verdict on an endpoint's form; ``account`` (None: not known) names the real endpoint and confirms
    a form this check cannot recognise from the URL alone."""
    form = classify_endpoint(url)
    real = f" — the account's own endpoint is {account.endpoint}" if account and account.endpoint else ""
    if form.kind == "regional" or (account and account.own and not account.subdomain):
        return _regional(url, source, form, account)
    if form.kind == "foundry-project":
        return Finding(
            "fail",
            f"{source}={url} is an Azure AI Foundry project URL (project {form.name}): it is for the "
            "azure-ai-projects SDK (AIProjectClient), not for AzureOpenAI, which appends /openai/… to it",
            f"set {_var(source)}=https://{form.host}/ (the resource endpoint), or get the client from "
            "AIProjectClient(…).get_openai_client()",
        )
    if form.kind in ("openai", "not-https"):
        what = "OpenAI's own API, not Azure OpenAI" if form.kind == "openai" else "not an https URL"
        use = account_endpoint(account) or "https://<custom-subdomain>.openai.azure.com/"
        return Finding("fail", f"{source}={url} is {what}", f"set {_var(source)}={use}")
    if form.kind == "apim":
        return Finding(
            "warn",
            f"{source}={url} is an Azure API Management gateway ({form.name}): the gateway's policy decides "
            "whether a key or an Entra ID token is accepted, and the account behind it is not known from the URL",
            "pass --resource-id of the backend Azure OpenAI account so its RBAC is checked; the gateway needs a "
            "validate-jwt policy for Entra ID tokens (audience https://cognitiveservices.azure.com)",
        )
    return _subdomain_or_other(url, source, form, account, real)


def account_endpoint(account: AccountEndpoint | None) -> str | None:
    return account.endpoint if account is not None else None


def _regional(url: str, source: str, form: EndpointForm, account: AccountEndpoint | None) -> Finding:
    """A shared regional endpoint: keys only. Names the account's custom-subdomain endpoint when it has one;
    an account without one must be given one first (irreversible, so said, not done)."""
    own = account.endpoint if account is not None and account.subdomain else None
    where = f" ({form.name})" if form.name else ""
    named = f" — the account's own endpoint is {own}" if own else ""
    message = (
        f"{source}={url} is a shared regional endpoint{where}: a regional endpoint cannot take Entra ID tokens "
        f"(only keys){named}"
    )
    if own:
        return Finding("fail", message, f"use the custom subdomain: set {_var(source)}={own}")
    if account is not None and account.own:
        # The target account itself has no custom subdomain: resource.endpoint says so and gives the command;
        # the app's part is only the variable to set once the account has one.
        fix = (
            "once the account has a custom subdomain (resource.endpoint), "
            f"set {_var(source)}=https://<name>.openai.azure.com/"
        )
        return Finding("fail", message, fix, caused_by="resource.endpoint")
    fix = (
        "give the account a custom subdomain ('az cognitiveservices account update --custom-domain <name>', "
        f"irreversible; see {SUBDOMAIN_DOCS}) and set {_var(source)}=https://<name>.openai.azure.com/"
    )
    return Finding("fail", message, fix)


def _subdomain_or_other(
    url: str, source: str, form: EndpointForm, account: AccountEndpoint | None, real: str
) -> Finding:
    if account is not None and account.own:
        return Finding("pass", f"{source}={url} is the account's own custom-subdomain endpoint ({account.subdomain})")
    if account is not None:
        return Finding("warn", f"{source}={url} is not one of the account's endpoints{real}", f"check {_var(source)}")
    extra = form.path.rstrip("/")
    if extra and extra not in ("/openai", "/openai/v1"):
        return Finding(
            "warn",
            f"{source}={url} carries the path {form.path}: AzureOpenAI appends /openai/deployments/… itself",
            f"set {_var(source)}=https://{form.host}/",
        )
    if form.kind == "custom-subdomain":
        return Finding("pass", f"{source}={url} is a custom-subdomain endpoint ({form.name}), which takes Entra ID")
    return Finding(
        "warn",
        f"{source}={url} is not a form this check knows (custom subdomain, regional, API Management, Foundry "
        "project): a private DNS name or a proxy may be fine, but nothing here could confirm it",
        "pass --resource-id so the account's own endpoints can be compared",
    )


def _var(source: str) -> str:
    return "AZURE_OPENAI_ENDPOINT" if source in ("--endpoint", "OPENAI_API_BASE") else source


# --- api-version ---------------------------------------------------------------------------------------------------

API_VERSION = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?P<preview>-preview)?$")
API_VERSION_VARS = ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION")


@cache
def api_versions() -> dict[str, Any]:
    """The known / retired Azure OpenAI data-plane api-versions (``openai_api_versions.json``, its source cited
    in the file)."""
    text = resources.files("preflight").joinpath("openai_api_versions.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def analyse_api_version(name: str, value: str, table: Mapping[str, Any] | None = None) -> Finding:
    """One api-version variable's verdict: malformed or retired → fail; no longer supported or unknown → warn;
    GA, a supported preview or the v1 API's "preview"/"latest" → pass."""
    table = table or api_versions()
    version = value.strip()
    latest = f"use {table['latestGa']} (latest GA) or {table['latestPreview']} (latest preview)"
    source = f"see {table['source']}"
    if version.lower() in table["v1"]:
        return Finding("pass", f"{name}={version}: the v1 API (base_url …/openai/v1/), which needs no dated version")
    match = API_VERSION.match(version)
    if not match or not _is_date(match["date"]):
        return Finding("fail", f"{name}={version!r} is not an api-version (YYYY-MM-DD or YYYY-MM-DD-preview)", latest)
    if version in table["retired"]:
        return Finding(
            "fail",
            f"{name}={version} was retired on {table['retired'][version]}: every request with it is refused",
            f"{latest}; {source}",
        )
    if version in table["ga"] or version in table["supportedPreview"]:
        kind = "GA" if version in table["ga"] else "preview"
        return Finding("pass", f"{name}={version} is a supported {kind} api-version (as of {table['asOf']})")
    if version in table["unsupportedPreview"]:
        return Finding(
            "warn",
            f"{name}={version} is an older preview that is no longer supported (only the latest three previews are)",
            f"{latest}; {source}",
        )
    return Finding(
        "warn",
        f"{name}={version} is not an api-version known here (list as of {table['asOf']}): a version that does not "
        "exist is answered 404 Resource not found",
        f"{latest}; {source}",
    )


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def api_version_conflict(env: Mapping[str, str]) -> Finding | None:
    """AZURE_OPENAI_API_VERSION and OPENAI_API_VERSION both set and different: the SDK reads only the latter."""
    ours, sdks = env.get("AZURE_OPENAI_API_VERSION"), env.get("OPENAI_API_VERSION")
    if ours and sdks and ours.strip() != sdks.strip():
        return Finding(
            "warn",
            f"AZURE_OPENAI_API_VERSION={ours} and OPENAI_API_VERSION={sdks} differ: AzureOpenAI reads only "
            "OPENAI_API_VERSION (AZURE_OPENAI_API_VERSION is used only where the code passes it)",
            "set both to the same version, or unset the one the app does not read",
        )
    return None


# --- deployment ----------------------------------------------------------------------------------------------------


def app_deployment(env: Mapping[str, str], flag: str | None) -> tuple[str, str] | None:
    """The deployment the app names and where: ``--deployment``, else AZURE_OPENAI_DEPLOYMENT."""
    if flag:
        return flag, "--deployment"
    if env.get("AZURE_OPENAI_DEPLOYMENT"):
        return env["AZURE_OPENAI_DEPLOYMENT"], "AZURE_OPENAI_DEPLOYMENT"
    return None


def analyse_deployment(name: str, source: str, deployments: Mapping[str, str], account: str, via: str) -> Finding:
    """Whether ``name`` is one of the account's ``deployments`` (name → model). Deployment names are matched
    case-insensitively, as the data plane does."""
    found = {key.lower(): (key, model) for key, model in deployments.items()}
    hit = found.get(name.strip().lower())
    if hit is not None:
        model = f" (model {hit[1]})" if hit[1] else ""
        return Finding("pass", f"{source}={name}: the deployment exists on {account}{model}, read through {via}")
    listed = ", ".join(sorted(deployments)) or "none"
    return Finding(
        "fail",
        f"{source}={name}: {account} has no deployment of that name (its deployments: {listed}; read through "
        f"{via}) — the app gets 404 DeploymentNotFound",
        f"set {source if source != '--deployment' else 'AZURE_OPENAI_DEPLOYMENT'} to a deployment name (not a "
        "model name), or create the deployment: az cognitiveservices account deployment create …",
    )
