"""What the environment tells azure-identity — pure analysis of a variables mapping, no I/O.

Mirrors the selection logic of the installed azure-identity (1.27): EnvironmentCredential picks client
secret, then certificate, then username/password, each only when *all* its variables are set; managed
identity picks its hosting flavour from IDENTITY_ENDPOINT / MSI_ENDPOINT / …; AZURE_TOKEN_CREDENTIALS
narrows DefaultAzureCredential's chain. Getting this right offline catches the most common mistakes (a
half-configured service principal silently ignored, a secret shadowing a certificate) before any network call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from preflight.guid import GUID
from preflight.redact import ID_ENV_VARS, SECRET_ENV_VARS, describe_secret, looks_like_secret

# Every variable azure-identity (or the hosting platform feeding it) reads, in display order.
IDENTITY_ENV_VARS = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "AZURE_REGIONAL_AUTHORITY_NAME",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)

SECRET_VARS = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID")
CERT_VARS = ("AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_TENANT_ID")
USERNAME_PASSWORD_VARS = ("AZURE_CLIENT_ID", "AZURE_USERNAME", "AZURE_PASSWORD")
WORKLOAD_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")

# AZURE_TOKEN_CREDENTIALS values accepted by azure-identity 1.27 (compared lower-cased).
TOKEN_CREDENTIALS_MODES = {
    "dev": (
        "SharedTokenCacheCredential",
        "VisualStudioCodeCredential",
        "AzureCliCredential",
        "AzurePowerShellCredential",
        "AzureDeveloperCliCredential",
        "BrokerCredential",
    ),
    "prod": ("EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential"),
}
TOKEN_CREDENTIALS_NAMES = (
    "EnvironmentCredential",
    "WorkloadIdentityCredential",
    "ManagedIdentityCredential",
    "VisualStudioCodeCredential",
    "AzureCliCredential",
    "AzureDeveloperCliCredential",
    "AzurePowerShellCredential",
    "InteractiveBrowserCredential",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in the configuration. ``level`` is "fail" (azure-identity will error or a file is
    missing) or "warn" (works, but probably not as intended)."""

    level: str
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class EnvAnalysis:
    """The outcome: which credentials the environment selects and what is wrong with it."""

    variables: dict[str, str]  # name → display value (secrets described, never shown)
    environment_credential: str | None  # "client secret" | "client certificate" | "username/password" | None
    workload_identity: bool
    managed_identity: str  # hosting flavour azure-identity's ManagedIdentityCredential would use
    token_credentials: str | None  # normalised AZURE_TOKEN_CREDENTIALS value
    findings: tuple[Finding, ...] = field(default=())

    @property
    def selected(self) -> str:
        """A one-line description of what DefaultAzureCredential's environment-driven links will do."""
        parts = []
        if self.environment_credential:
            parts.append(f"EnvironmentCredential ({self.environment_credential})")
        if self.workload_identity:
            parts.append("WorkloadIdentityCredential")
        if self.managed_identity != "IMDS":
            parts.append(f"ManagedIdentityCredential ({self.managed_identity} endpoint)")
        return ", ".join(parts) if parts else "no credential configured by environment variables"


def analyse_environment(env: Mapping[str, str], file_exists: Callable[[str], bool]) -> EnvAnalysis:
    """Analyse ``env`` as azure-identity would read it. ``file_exists`` is injected so this stays pure."""
    present = {k: v for k, v in env.items() if k in IDENTITY_ENV_VARS}
    findings: list[Finding] = []

    def has(*names: str) -> bool:
        # azure-identity tests `is not None` for EnvironmentCredential: an empty value still counts as set.
        return all(env.get(n) is not None for n in names)

    env_cred = None
    if has(*SECRET_VARS):
        env_cred = "client secret"
    elif has(*CERT_VARS):
        env_cred = "client certificate"
    elif has(*USERNAME_PASSWORD_VARS):
        env_cred = "username/password"

    _check_service_principal(env, env_cred, findings, file_exists)
    workload = all(env.get(n) for n in WORKLOAD_VARS)
    _check_workload(env, workload, env_cred, findings, file_exists)
    managed = _managed_identity_flavour(env)
    token_credentials = _check_token_credentials(env, findings)
    _check_authority(env, findings)

    variables = {name: _display(name, env[name]) for name in IDENTITY_ENV_VARS if name in present}
    return EnvAnalysis(variables, env_cred, workload, managed, token_credentials, tuple(findings))


def _display(name: str, value: str) -> str:
    if name in SECRET_ENV_VARS or (name in ID_ENV_VARS and looks_like_secret(value)):
        return describe_secret(value)
    return value


def _check_service_principal(
    env: Mapping[str, str], env_cred: str | None, findings: list[Finding], file_exists: Callable[[str], bool]
) -> None:
    """The service-principal variables, one check per mistake, in the order the findings are reported."""
    _check_ids(env, findings)
    _check_secret_ignored(env, env_cred, findings)
    _check_certificate(env, env_cred, findings, file_exists)
    if env_cred == "username/password":
        findings.append(
            Finding(
                "warn",
                "username/password authentication is deprecated and fails for any account that requires MFA",
                "use a service principal, workload identity or 'az login' instead",
            )
        )
    if env.get("AZURE_CLIENT_SECRET") is not None and env["AZURE_CLIENT_SECRET"] == "":
        findings.append(
            Finding(
                "fail",
                "AZURE_CLIENT_SECRET is set but empty: every sign-in will fail",
                "set the secret's value (not its id) or unset the variable",
            )
        )


def _check_ids(env: Mapping[str, str], findings: list[Finding]) -> None:
    """A client id that is not a GUID (worst: a secret pasted into it) and a tenant set to nothing."""
    client_id = env.get("AZURE_CLIENT_ID")
    if client_id and not GUID.match(client_id) and looks_like_secret(client_id):
        findings.append(
            Finding(
                "fail",
                f"AZURE_CLIENT_ID looks like a client secret ({describe_secret(client_id)}), "
                "not an application id: are AZURE_CLIENT_ID and AZURE_CLIENT_SECRET swapped?",
                "set AZURE_CLIENT_ID to the app registration's Application (client) ID and "
                "AZURE_CLIENT_SECRET to the secret's value; rotate the secret if this output was "
                "shared",
            )
        )
    elif client_id and not GUID.match(client_id):
        findings.append(
            Finding(
                "fail",
                f"AZURE_CLIENT_ID {client_id!r} is not a GUID (application/client id)",
                "set AZURE_CLIENT_ID to the app registration's Application (client) ID",
            )
        )
    tenant = env.get("AZURE_TENANT_ID")
    if tenant is not None and not tenant.strip():
        findings.append(Finding("fail", "AZURE_TENANT_ID is set but empty", "set it to the tenant GUID or unset it"))


def _check_secret_ignored(env: Mapping[str, str], env_cred: str | None, findings: list[Finding]) -> None:
    """A secret without the rest of its trio is silently skipped by EnvironmentCredential."""
    if env.get("AZURE_CLIENT_SECRET") is not None and env_cred != "client secret":
        missing = [n for n in SECRET_VARS if env.get(n) is None]
        findings.append(
            Finding(
                "warn",
                f"AZURE_CLIENT_SECRET is set but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not: "
                "EnvironmentCredential ignores the secret and DefaultAzureCredential moves on to the next credential",
                f"export {' '.join(f'{m}=<value>' for m in missing)}, or unset AZURE_CLIENT_SECRET",
            )
        )


def _check_certificate(
    env: Mapping[str, str], env_cred: str | None, findings: list[Finding], file_exists: Callable[[str], bool]
) -> None:
    """A certificate shadowed by a secret, pointing nowhere, or ignored for want of its companions."""
    cert = env.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if env_cred == "client secret" and cert:
        findings.append(
            Finding(
                "warn",
                "both AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH are set: the secret wins and the "
                "certificate is ignored",
                "unset the one you do not mean to use",
            )
        )
    if cert is not None and env_cred in ("client certificate", "client secret") and not file_exists(cert):
        level = "fail" if env_cred == "client certificate" else "warn"
        findings.append(
            Finding(
                level,
                f"AZURE_CLIENT_CERTIFICATE_PATH points to {cert!r}, which does not exist",
                "point it to a PEM or PKCS12 file holding the certificate and its private key",
            )
        )
    if cert is not None and env_cred is None:
        missing = [n for n in CERT_VARS if env.get(n) is None]
        findings.append(
            Finding(
                "warn",
                f"AZURE_CLIENT_CERTIFICATE_PATH is set but {' and '.join(missing)} not: the certificate is ignored",
                f"export {' '.join(f'{m}=<value>' for m in missing)}",
            )
        )


def _check_workload(
    env: Mapping[str, str],
    workload: bool,
    env_cred: str | None,
    findings: list[Finding],
    file_exists: Callable[[str], bool],
) -> None:
    token_file = env.get("AZURE_FEDERATED_TOKEN_FILE")
    if not token_file:
        return
    if not file_exists(token_file):
        findings.append(
            Finding(
                "fail",
                f"AZURE_FEDERATED_TOKEN_FILE points to {token_file!r}, which does not exist",
                "check the projected service account token volume (AKS) or the CI step that writes the federated token",
            )
        )
    if not workload:
        missing = [n for n in WORKLOAD_VARS if not env.get(n)]
        findings.append(
            Finding(
                "warn",
                f"AZURE_FEDERATED_TOKEN_FILE is set but {' and '.join(missing)} not: "
                "WorkloadIdentityCredential is unavailable",
                f"export {' '.join(f'{m}=<value>' for m in missing)}",
            )
        )
    if workload and env_cred:
        findings.append(
            Finding(
                "warn",
                f"both an environment service principal ({env_cred}) and workload identity "
                "are configured: DefaultAzureCredential uses the service principal first",
                "unset AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH if workload identity is intended",
            )
        )


# preflight.chain.managed_identity_source (azure-identity's precedence, kept in one place) → the hosting flavour
# shown; workload identity is no managed-identity endpoint set by the environment, so it reads as IMDS here.
_FLAVOURS = {"app_service": "App Service", "service_fabric": "Service Fabric", "azure_arc": "Azure Arc"}


def _managed_identity_flavour(env: Mapping[str, str]) -> str:
    from preflight.chain import managed_identity_source

    source = managed_identity_source(env)
    if source == "msi":
        return "Azure ML" if env.get("MSI_SECRET") else "Cloud Shell"
    return _FLAVOURS.get(source, "IMDS")


def _check_token_credentials(env: Mapping[str, str], findings: list[Finding]) -> str | None:
    raw = env.get("AZURE_TOKEN_CREDENTIALS")
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    valid = {"dev", "prod", *(n.lower() for n in TOKEN_CREDENTIALS_NAMES)}
    if value not in valid:
        findings.append(
            Finding(
                "fail",
                f"AZURE_TOKEN_CREDENTIALS={raw!r} is not valid: DefaultAzureCredential raises ValueError",
                "use dev, prod or one credential name: " + ", ".join(TOKEN_CREDENTIALS_NAMES),
            )
        )
        return value
    if value == "dev" and env.get("AZURE_CLIENT_SECRET") is not None:
        findings.append(
            Finding(
                "warn",
                "AZURE_TOKEN_CREDENTIALS=dev excludes the environment service principal "
                "that AZURE_CLIENT_SECRET configures",
                "use prod, or unset AZURE_TOKEN_CREDENTIALS",
            )
        )
    if value == "prod" and not env.get("AZURE_CLIENT_ID") and _managed_identity_flavour(env) == "IMDS":
        findings.append(
            Finding(
                "warn",
                "AZURE_TOKEN_CREDENTIALS=prod excludes developer tools (Azure CLI, azd …) "
                "and no service principal is configured: only managed identity remains",
                "unset AZURE_TOKEN_CREDENTIALS on a developer machine, or use dev",
            )
        )
    return value


def _check_authority(env: Mapping[str, str], findings: list[Finding]) -> None:
    for name in ("AZURE_AUTHORITY_HOST", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):
        value = env.get(name)
        if not value:
            continue
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if name == "AZURE_AUTHORITY_HOST" and parts.scheme != "https":
            findings.append(
                Finding(
                    "fail",
                    f"AZURE_AUTHORITY_HOST={value!r} is not https: azure-identity refuses non-https authorities",
                    "use https://login.microsoftonline.com or your cloud's https authority",
                )
            )
        if parts.hostname is None:
            findings.append(Finding("fail", f"{name}={value!r} is not a valid URL", f"fix or unset {name}"))
