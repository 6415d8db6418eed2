"""What each developer tool is signed into — Azure CLI, Azure Developer CLI, VS Code, the environment.

Why a separate reader from the credential chain: the chain answers "which credential would my code use", but
the most common surprise is a tool signed into *another tenant* (a guest account's home tenant, a second
directory) — visible in the tools' own state before any token is refused. Each reader is I/O-light (one
subprocess or one small file) and turns what it read into a :class:`ToolSignin` through a pure parser, so
the parsing is testable on plain strings.

Nothing here keeps or returns a token: ``azd auth token`` output is decoded for its claims (tenant, account,
expiry) and dropped. Errors go through :func:`preflight.aadsts.classify_error`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

State = Literal["signed_in", "signed_out", "not_installed", "error"]

# Seconds a tool's subprocess may take (the real az takes 0.4-0.9 s per command).
TOOL_TIMEOUT = 8.0
AZ_PROFILE = "azureProfile.json"
VSCODE_AUTH_RECORDS = (
    ".azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json",
    ".Azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json",
)
AZD_SCOPE = "https://management.azure.com/.default"


@dataclass(frozen=True, slots=True)
class ToolSignin:
    """One developer tool's sign-in state. ``expires_on`` (epoch seconds) is the expiry of the access token the
    tool hands out when known; ``aadsts`` the category of an Entra refusal the tool reported."""

    tool: str
    state: State
    account: str | None = None
    tenant_id: str | None = None
    expires_on: float | None = None
    detail: str = ""
    source: str = ""
    aadsts: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "state": self.state,
            "account": self.account,
            "tenant_id": self.tenant_id,
            "expires_on": self.expires_on,
            "detail": self.detail,
            "source": self.source,
            "aadsts": self.aadsts,
        }


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", ""))


def _run(argv: list[str], environ: Mapping[str, str], timeout: float) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr); exit code ``None`` when the tool could not be run or timed out."""
    try:
        done = subprocess.run(
            argv,
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, "", f"{type(exc).__name__}: {exc}"
    return done.returncode, done.stdout, done.stderr


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _ask(
    tool: str,
    argv: list[str],
    parse: Callable[[str], ToolSignin],
    named: tuple[str, str],
    environ: Mapping[str, str],
    timeout: float,
) -> ToolSignin:
    """Run the tool's own command (``argv``): its output parsed when it succeeds, else its error read. ``named``:
    the command as a person knows it (``az account show``) and the one that signs in (``az login``)."""
    code, out, err = _run(argv, environ, timeout)
    if code == 0:
        return parse(out)
    return _failure(tool, err, *named)


def _failure(tool: str, stderr: str, source: str, signed_out_hint: str) -> ToolSignin:
    """A tool's error output: an Entra refusal (classified by code), "not logged in", or something else."""
    from preflight.aadsts import classify_error

    info = classify_error(stderr)
    if info is not None:
        return ToolSignin(
            tool,
            "error",
            detail=f"signed in, but Entra refused a token: AADSTS{info.code} {info.title}",
            source=source,
            aadsts=str(info.category),
        )
    lowered = stderr.lower()
    if signed_out_hint in lowered or "not logged in" in lowered:
        return ToolSignin(tool, "signed_out", detail=_one_line(stderr) or "not signed in", source=source)
    return ToolSignin(tool, "error", detail=_one_line(stderr) or "failed", source=source)


# ---------------------------------------------------------------------------------------------- Azure CLI


def parse_az_account(stdout: str, source: str = "az account show") -> ToolSignin:
    """``az account show --output json`` → account, tenant (the CLI's active subscription's tenant)."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return ToolSignin("Azure CLI", "error", detail="az account show did not print JSON", source=source)
    if not isinstance(data, Mapping):
        return ToolSignin("Azure CLI", "error", detail="az account show printed no account", source=source)
    found_user = data.get("user")
    user: Mapping[str, Any] = found_user if isinstance(found_user, Mapping) else {}
    kind = str(user.get("type") or "")
    detail = f"{kind} · subscription {data.get('name') or ''} ({data.get('id') or '?'})".strip(" ·")
    home, tenant = data.get("homeTenantId"), data.get("tenantId")
    if isinstance(home, str) and isinstance(tenant, str) and home and home.lower() != tenant.lower():
        detail += f" · guest: home tenant {home}"
    return ToolSignin(
        "Azure CLI", "signed_in", account=user.get("name"), tenant_id=data.get("tenantId"), detail=detail, source=source
    )


def parse_azure_profile(text: str) -> ToolSignin:
    """The CLI's ``azureProfile.json`` (UTF-8 with a BOM): its default subscription's account and tenant."""
    source = AZ_PROFILE
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError:
        return ToolSignin("Azure CLI", "error", detail=f"{AZ_PROFILE} is not valid JSON", source=source)
    subs = [s for s in (data.get("subscriptions") or []) if isinstance(s, Mapping)] if isinstance(data, Mapping) else []
    if not subs:
        return ToolSignin("Azure CLI", "signed_out", detail="no account in azureProfile.json", source=source)
    current = next((s for s in subs if s.get("isDefault")), subs[0])
    return parse_az_account(json.dumps(current), source=source)


def read_azure_cli(environ: Mapping[str, str], timeout: float = TOOL_TIMEOUT) -> ToolSignin:
    """``az account show`` through the PATH; without ``az``, the profile file in AZURE_CONFIG_DIR."""
    az = _which("az", environ)
    if az is None:
        config = Path(environ.get("AZURE_CONFIG_DIR") or Path(environ.get("HOME", "~")).expanduser() / ".azure")
        profile = config / AZ_PROFILE
        if profile.is_file():
            found = parse_azure_profile(profile.read_text(encoding="utf-8-sig", errors="replace"))
            return ToolSignin(
                found.tool,
                found.state,
                found.account,
                found.tenant_id,
                found.expires_on,
                (found.detail + "; az is not on PATH").strip("; "),
                found.source,
                found.aadsts,
            )
        return ToolSignin("Azure CLI", "not_installed", detail="az is not on PATH")
    argv = [az, "account", "show", "--output", "json"]
    return _ask("Azure CLI", argv, parse_az_account, ("az account show", "az login"), environ, timeout)


# ---------------------------------------------------------------------------------------------- azd


def parse_azd_token(stdout: str) -> ToolSignin:
    """``azd auth token --output json`` → claims of the token (decoded, then dropped) and its expiry."""
    from preflight.claims import ClaimsError, decode_claims, describe_principal

    source = "azd auth token"
    try:
        data = json.loads(stdout)
        claims = decode_claims(str(data.get("token") or ""))
    except (ValueError, AttributeError, ClaimsError):
        return ToolSignin(
            "Azure Developer CLI", "error", detail="azd auth token printed no readable token", source=source
        )
    who = describe_principal(claims)
    expires = data.get("expiresOn")
    expires_on: float | None = claims.get("exp") if isinstance(claims.get("exp"), int | float) else None
    if expires_on is None and isinstance(expires, str):
        try:
            expires_on = datetime.fromisoformat(expires).timestamp()
        except ValueError:
            expires_on = None
    return ToolSignin(
        "Azure Developer CLI",
        "signed_in",
        account=who.display or who.object_id,
        tenant_id=who.tenant_id,
        expires_on=expires_on,
        detail=who.kind,
        source=source,
    )


def read_azd(environ: Mapping[str, str], timeout: float = TOOL_TIMEOUT) -> ToolSignin:
    azd = _which("azd", environ)
    if azd is None:
        return ToolSignin("Azure Developer CLI", "not_installed", detail="azd is not on PATH")
    argv = [azd, "auth", "token", "--output", "json", "--scope", AZD_SCOPE]
    return _ask("Azure Developer CLI", argv, parse_azd_token, ("azd auth token", "azd auth login"), environ, timeout)


# ---------------------------------------------------------------------------------------------- VS Code


def parse_vscode_record(text: str) -> ToolSignin:
    """The Azure Resources extension's authentication record (what VisualStudioCodeCredential reads)."""
    source = "VS Code authRecord.json"
    try:
        data = json.loads(text)
    except ValueError:
        return ToolSignin("VS Code", "error", detail="authRecord.json is not valid JSON", source=source)
    if not isinstance(data, Mapping) or not data.get("username"):
        return ToolSignin("VS Code", "error", detail="authRecord.json has no username", source=source)
    return ToolSignin(
        "VS Code",
        "signed_in",
        account=str(data["username"]),
        tenant_id=str(data.get("tenantId") or "") or None,
        detail="Azure Resources extension",
        source=source,
    )


def read_vscode(environ: Mapping[str, str]) -> ToolSignin:
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    for relative in VSCODE_AUTH_RECORDS:
        record = home / relative
        if record.is_file() and record.stat().st_size < 100_000:
            return parse_vscode_record(record.read_text(encoding="utf-8", errors="replace"))
    if _which("code", environ) or (home / ".vscode").is_dir():
        return ToolSignin(
            "VS Code", "signed_out", detail="not signed in with the Azure Resources extension (Azure: Sign In)"
        )
    return ToolSignin("VS Code", "not_installed", detail="VS Code not found")


# ---------------------------------------------------------------------------------------------- environment


def read_environment(environ: Mapping[str, str]) -> ToolSignin:
    """The service principal / workload identity the environment variables describe (names only, never values
    of secrets)."""
    client = environ.get("AZURE_CLIENT_ID")
    tenant = environ.get("AZURE_TENANT_ID")
    if environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        kind = "workload identity (AZURE_FEDERATED_TOKEN_FILE)"
    elif environ.get("AZURE_CLIENT_SECRET"):
        kind = "service principal (AZURE_CLIENT_SECRET)"
    elif environ.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        kind = "service principal (AZURE_CLIENT_CERTIFICATE_PATH)"
    elif environ.get("AZURE_USERNAME"):
        kind = "user (AZURE_USERNAME)"
        client = environ.get("AZURE_USERNAME")
    else:
        return ToolSignin(
            "Environment",
            "signed_out",
            tenant_id=tenant,
            detail="no AZURE_CLIENT_SECRET, certificate, federated token or username set",
            source="environment variables",
        )
    if not (client and tenant):
        missing = " and ".join(n for n, v in (("AZURE_CLIENT_ID", client), ("AZURE_TENANT_ID", tenant)) if not v)
        return ToolSignin(
            "Environment",
            "error",
            account=client,
            tenant_id=tenant,
            detail=f"{kind} is incomplete: {missing} missing",
            source="environment variables",
        )
    return ToolSignin(
        "Environment", "signed_in", account=client, tenant_id=tenant, detail=kind, source="environment variables"
    )


def read_all(environ: Mapping[str, str], timeout: float = TOOL_TIMEOUT) -> tuple[ToolSignin, ...]:
    """Every tool, read concurrently (the CLIs are subprocesses)."""
    readers = (
        lambda: read_azure_cli(environ, timeout),
        lambda: read_azd(environ, timeout),
        lambda: read_vscode(environ),
        lambda: read_environment(environ),
    )
    from preflight.daemon import run_all

    # daemon threads: an `az` that hangs must not hold the process past its report (see preflight.daemon)
    return tuple(run_all(readers, name="devtools"))
