"""DefaultAzureCredential's chain as data, and its selection rule — pure, no I/O.

The rule (azure-identity 1.27, ChainedTokenCredential): links are tried in order; a link that is
*unavailable* (CredentialUnavailableError: nothing configured) is skipped; the first link that returns a
token wins; the first link that *tries and fails* ends the whole chain with its error — later links, however
healthy, are never tried. That last part is what confuses people most, so we compute it explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Link:
    key: str  # azure-identity's internal key (see process_credential_exclusions)
    name: str  # the credential class, as AZURE_TOKEN_CREDENTIALS names it
    exclude_param: str  # DefaultAzureCredential keyword that removes it
    dev: bool  # part of AZURE_TOKEN_CREDENTIALS=dev
    prod: bool  # part of AZURE_TOKEN_CREDENTIALS=prod


# In DefaultAzureCredential's order. The interactive browser link is excluded by default and never probed
# (it would open a browser); the broker link needs azure-identity-broker and a supported OS.
LINKS: tuple[Link, ...] = (
    Link("environment", "EnvironmentCredential", "exclude_environment_credential", False, True),
    Link("workload_identity", "WorkloadIdentityCredential", "exclude_workload_identity_credential", False, True),
    Link("managed_identity", "ManagedIdentityCredential", "exclude_managed_identity_credential", False, True),
    Link("shared_token_cache", "SharedTokenCacheCredential", "exclude_shared_token_cache_credential", True, False),
    Link("visual_studio_code", "VisualStudioCodeCredential", "exclude_visual_studio_code_credential", True, False),
    Link("cli", "AzureCliCredential", "exclude_cli_credential", True, False),
    Link("powershell", "AzurePowerShellCredential", "exclude_powershell_credential", True, False),
    Link("developer_cli", "AzureDeveloperCliCredential", "exclude_developer_cli_credential", True, False),
    Link("broker", "BrokerCredential", "exclude_broker_credential", True, False),
)
# The interactive browser link: DefaultAzureCredential builds it (just before the broker) only with
# exclude_interactive_browser_credential=False; preflight includes it only with --interactive, since probing it
# opens a browser. Kept out of LINKS so "every link we probe concurrently" stays exactly the non-interactive ones.
INTERACTIVE = Link(
    "interactive_browser", "InteractiveBrowserCredential", "exclude_interactive_browser_credential", False, False
)
# Every link in DefaultAzureCredential's real order, the interactive one included.
ALL_LINKS: tuple[Link, ...] = (*LINKS[:-1], INTERACTIVE, LINKS[-1])
LINKS_BY_KEY = {link.key: link for link in ALL_LINKS}
# Names AZURE_TOKEN_CREDENTIALS accepts for a single credential (lower-cased), → link key.
SINGLE_CREDENTIAL_NAMES = {
    link.name.lower(): link.key for link in ALL_LINKS if link.key not in ("shared_token_cache", "broker")
}


class Outcome(StrEnum):
    OK = "ok"  # returned a token
    UNAVAILABLE = "unavailable"  # not configured here: the chain moves on
    FAILED = "failed"  # tried and failed: the chain stops here
    EXCLUDED = "excluded"  # removed by AZURE_TOKEN_CREDENTIALS (still probed, for the report)


@dataclass(frozen=True, slots=True)
class Selection:
    """What DefaultAzureCredential would do: the link it ends at, and why."""

    link: str | None  # key of the link that returns a token, or that fails and ends the chain
    outcome: Outcome | None  # OK or FAILED; None when every included link is unavailable
    included: tuple[str, ...]  # links the real chain contains, in order
    skipped: tuple[str, ...]  # included links tried before `link` that were unavailable
    shadowed: tuple[str, ...]  # included links after `link` that would have worked (never tried)


class ChainConfigError(ValueError):
    """AZURE_TOKEN_CREDENTIALS holds a value DefaultAzureCredential rejects."""


def included_links(environ: Mapping[str, str], interactive: bool = False) -> tuple[str, ...]:
    """The links DefaultAzureCredential builds for this environment (AZURE_TOKEN_CREDENTIALS honoured).

    ``interactive`` is ``exclude_interactive_browser_credential=False``: the browser link joins the default
    chain (``dev`` and ``prod`` never contain it, as in azure-identity).
    """
    value = environ.get("AZURE_TOKEN_CREDENTIALS", "").strip().lower()
    if not value:
        return tuple(link.key for link in ALL_LINKS if interactive or link is not INTERACTIVE)
    if value == "dev":
        return tuple(link.key for link in LINKS if link.dev)
    if value == "prod":
        return tuple(link.key for link in LINKS if link.prod)
    if value in SINGLE_CREDENTIAL_NAMES:
        return (SINGLE_CREDENTIAL_NAMES[value],)
    raise ChainConfigError(f"AZURE_TOKEN_CREDENTIALS={value!r} is not dev, prod or a credential name")


def select(outcomes: Mapping[str, Outcome], included: Sequence[str]) -> Selection:
    """Apply the chain rule to per-link outcomes (probed independently)."""
    skipped: list[str] = []
    for index, key in enumerate(included):
        outcome = outcomes.get(key, Outcome.UNAVAILABLE)
        if outcome is Outcome.UNAVAILABLE:
            skipped.append(key)
            continue
        later = included[index + 1 :]
        shadowed = tuple(k for k in later if outcomes.get(k) is Outcome.OK)
        return Selection(key, outcome, tuple(included), tuple(skipped), shadowed)
    return Selection(None, None, tuple(included), tuple(skipped), ())


# What to do when a link is unavailable, by link key: the most useful way to make it available.
LINK_FIXES = {
    "environment": "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
    "workload_identity": "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (AKS workload "
    "identity sets them for you)",
    "managed_identity": "assign a managed identity to the Azure host (VM, App Service, Container Apps …)",
    "cli": "az login",
    "developer_cli": "azd auth login",
    "powershell": "Connect-AzAccount",
    "interactive_browser": "pass --interactive to let preflight open the browser sign-in",
}


def login_command(tenant: str | None) -> str:
    """``az login``, with ``--tenant`` when the target's tenant is known (a guest account needs it)."""
    return f"az login --tenant {tenant}" if tenant else "az login"


# What each partly-configurable link reads from the environment: (variables it needs, alternatives for the last).
_ENVIRONMENT_NEEDS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID")
_ENVIRONMENT_CREDENTIALS = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH")
_WORKLOAD_NEEDS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")


def link_fix(key: str, environ: Mapping[str, str], tenant: str | None) -> str | None:
    """How to make an unavailable link available, from this environment: a half-configured service principal
    or workload identity names exactly the variables still missing (azure-identity only says "not fully
    configured"); the CLI's login names the target's tenant."""
    if key == "environment":
        user_password = ("AZURE_USERNAME", "AZURE_PASSWORD")
        if any(environ.get(v) for v in user_password) and not any(environ.get(v) for v in _ENVIRONMENT_CREDENTIALS):
            # the (deprecated) username/password form needs AZURE_CLIENT_ID, AZURE_USERNAME and AZURE_PASSWORD
            missing = [v for v in ("AZURE_CLIENT_ID", *user_password) if not environ.get(v)]
            return (
                f"set {' and '.join(missing)} (EnvironmentCredential's username/password form needs them all)"
                if missing
                else LINK_FIXES[key]
            )
        credential_set = any(environ.get(v) for v in _ENVIRONMENT_CREDENTIALS)
        if environ.get("AZURE_CLIENT_ID") or credential_set:  # started, not finished
            missing = [v for v in _ENVIRONMENT_NEEDS if not environ.get(v)]
            if not credential_set:
                missing.append("AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)")
            if missing:
                return f"set {' and '.join(missing)} (EnvironmentCredential needs them all)"
    elif key == "workload_identity" and environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        missing = [v for v in _WORKLOAD_NEEDS if not environ.get(v)]
        if missing:
            return f"set {' and '.join(missing)} (WorkloadIdentityCredential needs them all)"
    elif key == "cli":
        return login_command(tenant)
    elif tenant and key == "developer_cli":  # as for the CLI: a guest account must name the tenant
        return f"azd auth login --tenant-id {tenant}"
    elif tenant and key == "powershell":
        return f"Connect-AzAccount -Tenant {tenant}"
    return LINK_FIXES.get(key)


# ---------------------------------------------------------------------------------------------- the Azure host
# Which Azure host a managed identity runs on, from what the process can see — its environment and the chain's
# own outcome — never from a new request. Variable names as azure-identity 1.27 reads them
# (azure/identity/_constants.py EnvironmentVariables; _credentials/managed_identity.py picks the source:
# IDENTITY_ENDPOINT + IDENTITY_HEADER → App Service (+ IDENTITY_SERVER_THUMBPRINT → Service Fabric),
# IDENTITY_ENDPOINT + IMDS_ENDPOINT → Azure Arc, MSI_ENDPOINT (+ MSI_SECRET) → Cloud Shell / Azure ML,
# AZURE_AUTHORITY_HOST + AZURE_TENANT_ID + AZURE_FEDERATED_TOKEN_FILE → workload identity, else IMDS, whose base
# AZURE_POD_IDENTITY_AUTHORITY_HOST overrides). The platform variables are the hosts' own: App Service / Functions
# set WEBSITE_SITE_NAME, WEBSITE_INSTANCE_ID, FUNCTIONS_WORKER_RUNTIME; Container Apps CONTAINER_APP_NAME;
# Kubernetes KUBERNETES_SERVICE_HOST; Azure ML AZUREML_RUN_ID (compute instances CI_NAME); Cloud Shell ACC_CLOUD
# and AZUREPS_HOST_ENVIRONMENT. IDENTITY_ENDPOINT / IDENTITY_HEADER / MSI_ENDPOINT alone never name a host: they
# are what a developer sets by mistake (or a local emulator does).

_MI_SOURCE_VARIABLES = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")
_WORKLOAD_IDENTITY_VARIABLES = ("AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")

# (host, the variables any one of which names it), first match wins: the more specific hosts first.
_HOST_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Azure Functions", ("FUNCTIONS_WORKER_RUNTIME",)),
    ("Azure App Service", ("WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID")),
    ("Azure Container Apps", ("CONTAINER_APP_NAME",)),
    ("Azure Machine Learning", ("AZUREML_RUN_ID", "CI_NAME")),
    ("Azure Cloud Shell", ("ACC_CLOUD", "AZUREPS_HOST_ENVIRONMENT")),
    ("Kubernetes (AKS)", ("KUBERNETES_SERVICE_HOST",)),
)


@dataclass(frozen=True, slots=True)
class AzureHost:
    """The Azure host a managed identity was recognised on, and what recognised it (variable names, or
    the IMDS token's claim) — so a report can say why it believes the process runs on Azure."""

    name: str
    evidence: tuple[str, ...]


def managed_identity_source(environ: Mapping[str, str]) -> str:
    """The endpoint ManagedIdentityCredential uses in this environment, by azure-identity's own precedence:
    "app_service", "service_fabric", "azure_arc", "msi" (Cloud Shell / Azure ML), "workload_identity" or "imds"."""
    if environ.get("IDENTITY_ENDPOINT"):
        if environ.get("IDENTITY_HEADER"):
            return "service_fabric" if environ.get("IDENTITY_SERVER_THUMBPRINT") else "app_service"
        if environ.get("IMDS_ENDPOINT"):
            return "azure_arc"
    elif environ.get("MSI_ENDPOINT"):
        return "msi"
    elif all(environ.get(v) for v in _WORKLOAD_IDENTITY_VARIABLES):
        return "workload_identity"
    return "imds"


def azure_host(
    environ: Mapping[str, str], *, managed_identity_ok: bool, claims: Mapping[str, Any] | None = None
) -> AzureHost | None:
    """The Azure host this process runs on, or None when nothing says it is one (a developer machine).

    The environment names App Service, Functions, Container Apps, Azure ML, Cloud Shell, Kubernetes, Azure Arc
    and Service Fabric. An Azure VM (or scale set) sets no variable: it is recognised when ManagedIdentityCredential
    got its token from IMDS (``managed_identity_ok`` with no other source configured) — IMDS answers only on Azure
    — and the token, when its claims are known, is an app-only one (``xms_mirid``, ``idtyp=app``; never a user's).
    """
    source = managed_identity_source(environ)
    if source == "azure_arc":
        return AzureHost("Azure Arc-enabled server", ("IDENTITY_ENDPOINT", "IMDS_ENDPOINT"))
    if source == "service_fabric":
        return AzureHost("Azure Service Fabric", ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT"))
    for name, markers in _HOST_MARKERS:
        present = tuple(m for m in markers if environ.get(m))
        if present:
            if name.startswith("Kubernetes") and source == "workload_identity":
                return AzureHost("Kubernetes (AKS) workload identity", (*present, "AZURE_FEDERATED_TOKEN_FILE"))
            return AzureHost(name, present)
    if source == "imds" and managed_identity_ok:
        return _imds_host(claims)
    return None


def _imds_host(claims: Mapping[str, Any] | None) -> AzureHost | None:
    """A token from IMDS: an Azure VM, named by ``xms_mirid`` when that is the VM's (or scale set's) own resource
    id (a system-assigned identity); a user's token (impossible from real IMDS) recognises nothing."""
    if not claims:
        return AzureHost("Azure VM", ("token from IMDS",))
    mirid = claims.get("xms_mirid")
    if claims.get("idtyp") == "user" or claims.get("upn") or claims.get("scp"):
        return None
    if isinstance(mirid, str):
        parts = mirid.strip("/").split("/")
        lowered = [p.lower() for p in parts]
        for kind, label in (("virtualmachines", "Azure VM"), ("virtualmachinescalesets", "Azure VM scale set")):
            if kind in lowered and lowered.index(kind) + 1 < len(parts):
                return AzureHost(f"{label} {parts[lowered.index(kind) + 1]}", ("token from IMDS", "xms_mirid"))
        return AzureHost("Azure VM", ("token from IMDS", "xms_mirid"))
    return AzureHost("Azure VM", ("token from IMDS",) + (("idtyp=app",) if claims.get("idtyp") == "app" else ()))
