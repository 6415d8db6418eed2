"""The twin's ``az``: the REAL AzureCliCredential runs it as a subprocess, exactly as on a developer machine."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    AzureCliCredential,
    CredentialUnavailableError,
    DefaultAzureCredential,
)

from helpers.twin_fixtures import IDS, apply_environment, core_scenario

from preflight.twin import Twin, decode_claims

ARM = "https://management.azure.com/.default"
ALICE = "alice@contoso.onmicrosoft.com"


def az(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``az`` as found on the twin's PATH (subprocess searches ``env["PATH"]``)."""
    return subprocess.run(["az", *args], env=env, capture_output=True, text=True, timeout=30, check=False)


def _use(twin: Twin, monkeypatch: pytest.MonkeyPatch, **cli: Any) -> dict[str, str]:
    twin.use(core_scenario(signIn={"azureCli": cli or None}))
    env = twin.process_environment()
    apply_environment(monkeypatch, twin.environment())
    return env


def test_shim_is_a_python_script_for_this_interpreter(core_twin: Twin, core_env: dict[str, str]) -> None:
    shim = core_twin.shim_dir / "az"
    assert shim.read_text().splitlines()[0] == f"#!{sys.executable}"
    assert core_env["PATH"].startswith(str(core_twin.shim_dir))


def test_cli_credential_user_token(core_twin: Twin, core_env: dict[str, str]) -> None:
    token = AzureCliCredential(process_timeout=20).get_token(ARM)
    claims = decode_claims(token.token)
    assert claims["idtyp"] == "user" and claims["upn"] == ALICE and claims["oid"] == IDS["alice"]
    assert claims["appid"] == "04b07795-8ddb-461a-bbee-02f9e1bf7b46" and claims["scp"] == "user_impersonation"
    assert claims["aud"] == "https://management.azure.com" and claims["name"] == "Alice Example"
    assert core_twin.az_calls() == [
        ["account", "get-access-token", "--output", "json", "--resource", "https://management.azure.com"]
    ]
    (entry,) = core_twin.requests()
    assert (entry.service, entry.principal) == ("twin", IDS["alice"])


def test_cli_credential_with_tenant(core_twin: Twin, core_env: dict[str, str]) -> None:
    cred = AzureCliCredential(tenant_id=IDS["tenant"], process_timeout=20)
    assert decode_claims(cred.get_token(ARM).token)["tid"] == IDS["tenant"]
    assert core_twin.az_calls()[-1][-2:] == ["--tenant", IDS["tenant"]]


def test_cli_credential_with_subscription(core_twin: Twin, core_env: dict[str, str]) -> None:
    cred = AzureCliCredential(subscription=IDS["subscription"], process_timeout=20)
    assert cred.get_token(ARM).token
    assert core_twin.az_calls()[-1][-2:] == ["--subscription", IDS["subscription"]]


def test_not_logged_in(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, loggedIn=False)
    with pytest.raises(CredentialUnavailableError, match="Please run 'az login' to set up an account"):
        AzureCliCredential(process_timeout=20).get_token(ARM)
    shown = az(env, "account", "show")
    assert (shown.returncode, shown.stdout, shown.stderr) == (1, "", "ERROR: Please run 'az login' to setup account.\n")


def test_expired_refresh_token(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, loggedIn=True, user=ALICE, refreshTokenExpired=True)
    with pytest.raises(
        ClientAuthenticationError, match="AADSTS700082: The refresh token has expired due to inactivity"
    ):
        AzureCliCredential(process_timeout=20).get_token(ARM)
    out = az(env, "account", "get-access-token", "--output", "json", "--resource", "https://management.azure.com")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("ERROR: AADSTS700082: ")
    assert (
        "\nInteractive authentication is needed. Please run:\naz login --scope "
        "https://management.azure.com/.default\n" in out.stderr
    )


def test_expired_refresh_token_is_reported_by_default_credential(
    core_twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(core_twin, monkeypatch, loggedIn=True, user=ALICE, refreshTokenExpired=True)
    with pytest.raises(ClientAuthenticationError, match="AzureCliCredential: ERROR: AADSTS700082"):
        DefaultAzureCredential(exclude_managed_identity_credential=True, process_timeout=20).get_token(ARM)


def test_forced_mfa_error(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    core_twin.use(
        core_scenario(
            tokenErrors=[
                {
                    "match": {"principal": ALICE},
                    "body": {
                        "error": "invalid_grant",
                        "error_codes": [50076],
                        "suberror": "basic_action",
                        "error_description": "AADSTS50076: Due to a configuration change made by your administrator, or because "
                        "you moved to a new location, you must use multi-factor authentication to access "
                        "'797f4846-ba00-4fd7-ba43-dac1f8f63013'.\r\nTrace ID: t\r\nCorrelation ID: c\r\n"
                        "Timestamp: 2026-01-01 00:00:00Z",
                    },
                }
            ]
        )
    )
    apply_environment(monkeypatch, core_twin.environment())
    with pytest.raises(ClientAuthenticationError, match="AADSTS50076"):
        AzureCliCredential(process_timeout=20).get_token(ARM)


def test_account_show_shape(core_twin: Twin) -> None:
    out = az(core_twin.process_environment(), "account", "show", "--output", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {
        "environmentName",
        "homeTenantId",
        "id",
        "isDefault",
        "managedByTenants",
        "name",
        "state",
        "tenantDefaultDomain",
        "tenantDisplayName",
        "tenantId",
        "user",
    }
    assert doc["id"] == IDS["subscription"] and doc["name"] == "Twin Subscription"
    assert doc["tenantId"] == IDS["tenant"] and doc["user"] == {"name": ALICE, "type": "user"}


def test_get_access_token_argument_forms(core_twin: Twin) -> None:
    env = core_twin.process_environment()
    plain = json.loads(az(env, "account", "get-access-token").stdout)
    assert set(plain) == {"accessToken", "expiresOn", "expires_on", "subscription", "tenant", "tokenType"}
    assert decode_claims(plain["accessToken"])["aud"] == "https://management.core.windows.net/"
    assert plain["subscription"] == IDS["subscription"] and plain["tokenType"] == "Bearer"
    scoped = json.loads(
        az(env, "account", "get-access-token", "--scope", "https://graph.microsoft.com/.default").stdout
    )
    assert decode_claims(scoped["accessToken"])["aud"] == "https://graph.microsoft.com"
    tenant = json.loads(
        az(
            env,
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            "https://management.azure.com",
            "--tenant",
            IDS["tenant"],
        ).stdout
    )
    assert "subscription" not in tenant and tenant["tenant"] == IDS["tenant"]


def test_unknown_tenant_and_resource(core_twin: Twin) -> None:
    env = core_twin.process_environment()
    bad_tenant = az(env, "account", "get-access-token", "--tenant", "nosuch.onmicrosoft.com")
    assert bad_tenant.returncode == 1 and "AADSTS90002" in bad_tenant.stderr
    other = az(env, "account", "get-access-token", "--tenant", IDS["other_tenant"])
    assert other.returncode == 1 and "AADSTS50020" in other.stderr and "Fabrikam" in other.stderr
    bad_resource = az(env, "account", "get-access-token", "--resource", "https://contoso.openai.azure.com")
    assert bad_resource.returncode == 1 and "AADSTS500011" in bad_resource.stderr
    unknown = az(env, "group", "list")
    assert unknown.returncode == 2 and "misspelled or not recognized" in unknown.stderr


def test_service_principal_login(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, loggedIn=True, servicePrincipal=IDS["secret_app"])
    claims = decode_claims(AzureCliCredential(process_timeout=20).get_token(ARM).token)
    assert claims["idtyp"] == "app" and claims["oid"] == IDS["secret_sp"]
    shown = json.loads(az(env, "account", "show").stdout)
    assert shown["user"] == {"name": IDS["secret_app"], "type": "servicePrincipal"}


def test_tokens_come_from_the_cli_tenant(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, loggedIn=True, user=ALICE, tenantId=IDS["other_tenant"])
    plain = json.loads(az(env, "account", "get-access-token").stdout)
    assert decode_claims(plain["accessToken"])["tid"] == IDS["other_tenant"] == plain["tenant"]
    explicit = json.loads(az(env, "account", "get-access-token", "--tenant", "fabrikam.onmicrosoft.com").stdout)
    assert decode_claims(explicit["accessToken"])["tid"] == IDS["other_tenant"] == explicit["tenant"]
    home = json.loads(az(env, "account", "get-access-token", "--tenant", "contoso.onmicrosoft.com").stdout)
    assert decode_claims(home["accessToken"])["tid"] == IDS["tenant"]


def test_resource_type_and_mfa_amr(core_twin: Twin) -> None:
    doc = core_scenario()
    doc["directory"]["users"][0]["x-twin-amr"] = ["pwd", "mfa"]
    core_twin.use(doc)
    env = core_twin.process_environment()
    graph = json.loads(az(env, "account", "get-access-token", "--resource-type", "ms-graph").stdout)
    claims = decode_claims(graph["accessToken"])
    assert claims["aud"] == "https://graph.microsoft.com/" and claims["amr"] == ["pwd", "mfa"]
    assert "Directory.AccessAsUser.All" in claims["scp"].split()
    bad = az(env, "account", "get-access-token", "--resource-type", "nope")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_disabled_user_is_aadsts50057(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = core_scenario()
    doc["directory"]["users"][0]["accountEnabled"] = False
    core_twin.use(doc)
    apply_environment(monkeypatch, core_twin.environment())
    with pytest.raises(ClientAuthenticationError, match="AADSTS50057: The user account is disabled"):
        AzureCliCredential(process_timeout=20).get_token(ARM)
