"""Managed identity on the twin, with the REAL ManagedIdentityCredential / DefaultAzureCredential.

Both styles are reached only through the environment the twin hands out, so these tests also prove that nothing
falls through to the link-local IMDS address.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CredentialUnavailableError,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

from helpers.twin_fixtures import IDS, MI_RESOURCE_ID, apply_environment, core_scenario

from preflight.twin import Twin, decode_claims

ARM = "https://management.azure.com/.default"
IMDS = {"clientId": IDS["mi_client"], "principalId": IDS["mi_principal"], "style": "imds"}


def _use(twin: Twin, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> dict[str, str]:
    twin.use(core_scenario(**overrides))
    env = twin.environment()
    apply_environment(monkeypatch, env)
    return env


def _assert_mi_claims(token: str) -> None:
    claims = decode_claims(token)
    assert claims["oid"] == IDS["mi_principal"] and claims["appid"] == IDS["mi_client"]
    assert claims["xms_mirid"] == MI_RESOURCE_ID and claims["idtyp"] == "app" and claims["appidacr"] == "2"
    assert claims["aud"] == "https://management.azure.com"


def test_app_service_style(core_twin: Twin, core_env: dict[str, str]) -> None:
    assert core_env["IDENTITY_ENDPOINT"] == core_twin.base_url + "/msi/token"
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST" not in core_env
    token = ManagedIdentityCredential(client_id=IDS["mi_client"]).get_token(ARM)
    _assert_mi_claims(token.token)
    (entry,) = core_twin.requests()
    assert (entry.service, entry.path, entry.principal) == ("managed_identity", "/msi/token", IDS["mi_principal"])
    assert entry.query["api-version"] == "2019-08-01" and entry.query["resource"] == "https://management.azure.com"
    assert entry.query["client_id"] == IDS["mi_client"]


def test_app_service_wrong_client_id_is_unavailable(core_twin: Twin, core_env: dict[str, str]) -> None:
    cred = ManagedIdentityCredential(client_id="00000000-0000-4000-8000-0000000000ff")
    with pytest.raises(CredentialUnavailableError, match="Unable to load the proper Managed Identity"):
        cred.get_token(ARM)


def test_app_service_rejects_a_wrong_identity_header(core_twin: Twin, core_env: dict[str, str]) -> None:
    url = core_env["IDENTITY_ENDPOINT"]
    params = {"api-version": "2019-08-01", "resource": "https://management.azure.com"}
    bad = requests.get(
        url, params=params, headers={"X-IDENTITY-HEADER": "nope"}, verify=str(core_twin.ca_file), timeout=5
    )
    assert bad.status_code == 401 and bad.json()["statusCode"] == 401
    good = requests.get(
        url,
        params=params,
        headers={"X-IDENTITY-HEADER": core_env["IDENTITY_HEADER"]},
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    body = good.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str) and body["expires_on"].isdigit()


def test_imds_style(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, signIn={"managedIdentity": IMDS})
    assert env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == core_twin.base_url
    assert "IDENTITY_ENDPOINT" not in env
    token = ManagedIdentityCredential().get_token(ARM)  # system-assigned form: no selector
    _assert_mi_claims(token.token)
    (entry,) = core_twin.requests()
    assert entry.path == "/metadata/identity/oauth2/token" and entry.query["api-version"] == "2018-02-01"


def test_imds_answer_shape_and_metadata_header(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(core_twin, monkeypatch, signIn={"managedIdentity": IMDS})
    url = core_twin.base_url + "/metadata/identity/oauth2/token"
    params = {"api-version": "2018-02-01", "resource": "https://management.azure.com/"}
    missing = requests.get(url, params=params, verify=str(core_twin.ca_file), timeout=5)
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_request", "error_description": "Required metadata header not specified"}
    body = requests.get(
        url, params=params, headers={"Metadata": "true"}, verify=str(core_twin.ca_file), timeout=5
    ).json()
    assert {"access_token", "expires_in", "expires_on", "resource", "token_type", "client_id"} <= set(body)
    assert body["resource"] == "https://management.azure.com/"
    assert decode_claims(body["access_token"])["aud"] == "https://management.azure.com/"


def test_imds_no_identity_is_unavailable(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, signIn={"managedIdentity": None})
    # no identity: the twin's IMDS route still answers the real "no identity" error when asked directly
    assert "IDENTITY_ENDPOINT" not in env and "IDENTITY_HEADER" not in env
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", core_twin.base_url)
    with pytest.raises(CredentialUnavailableError, match="Identity not found"):
        ManagedIdentityCredential().get_token(ARM)


def test_no_identity_sets_no_managed_identity_variables(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scenario without a managed identity gets none of its variables (a laptop or CI runner has none, and
    env.config would report one), and managed identity is pointed at a loopback port the twin holds closed:
    refused at once, never the link-local IMDS address (issue 19 item 4). Was: App Service variables always."""
    import dataclasses
    import socket
    from urllib.parse import urlsplit

    from preflight.azure.chain import probe_link
    from preflight.chain import Outcome
    from preflight.clouds import AZURE_PUBLIC

    env = _use(core_twin, monkeypatch, signIn={"managedIdentity": None})
    assert not {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT"} & set(env)
    refusing = urlsplit(env["AZURE_POD_IDENTITY_AUTHORITY_HOST"])
    assert refusing.hostname == "127.0.0.1" and refusing.port not in (None, core_twin.port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((refusing.hostname, refusing.port), timeout=2).close()
    twin_cloud = dataclasses.replace(AZURE_PUBLIC, authority_host=core_twin.base_url + "/")
    probe = probe_link(twin_cloud, "managed_identity", ARM)  # as the product probes the link
    assert probe.outcome is Outcome.UNAVAILABLE and probe.duration < 5, probe
    assert not any(e.service == "managed_identity" for e in core_twin.requests())


def test_app_service_host_environment_is_exported(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """``hostEnvironment`` names the platform variables the scenario's host sets (App Service: WEBSITE_SITE_NAME),
    so a managed identity on App Service is recognised as one, not as a developer machine's stray endpoint."""
    mi = {**IMDS, "style": "appService", "hostEnvironment": {"WEBSITE_SITE_NAME": "contoso-chat"}}
    env = _use(core_twin, monkeypatch, signIn={"managedIdentity": mi})
    assert env["WEBSITE_SITE_NAME"] == "contoso-chat" and env["IDENTITY_ENDPOINT"].startswith(core_twin.base_url)
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST" not in env


def test_unknown_resource(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(core_twin, monkeypatch, signIn={"managedIdentity": IMDS})
    with pytest.raises(CredentialUnavailableError, match="AADSTS500011"):
        ManagedIdentityCredential().get_token("https://contoso.openai.azure.com/.default")


def test_forced_error_applies_to_managed_identity(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {
        "error": "invalid_request",
        "error_description": "AADSTS53003: Access has been blocked by Conditional Access policies.",
        "error_codes": [53003],
    }
    _use(
        core_twin,
        monkeypatch,
        signIn={"managedIdentity": IMDS},
        tokenErrors=[{"match": {"grantType": "managed_identity"}, "status": 400, "body": body}],
    )
    with pytest.raises((CredentialUnavailableError, ClientAuthenticationError), match="AADSTS53003"):
        ManagedIdentityCredential().get_token(ARM)


def test_default_credential_uses_the_twin_managed_identity(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _use(core_twin, monkeypatch, signIn={"azureCli": None})
    assert env["AZURE_CLIENT_ID"] == IDS["mi_client"]  # user-assigned identity selected by client id
    token = DefaultAzureCredential(exclude_cli_credential=True).get_token(ARM)
    _assert_mi_claims(token.token)


def test_default_credential_imds_style(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(core_twin, monkeypatch, signIn={"managedIdentity": IMDS, "azureCli": None})
    token = DefaultAzureCredential(exclude_cli_credential=True).get_token(ARM)
    _assert_mi_claims(token.token)


@pytest.mark.parametrize("style", ["appService", "imds", None])
def test_nothing_ever_dials_the_link_local_imds(
    core_twin: Twin, monkeypatch: pytest.MonkeyPatch, style: str | None
) -> None:
    import socket

    mi = None if style is None else {**IMDS, "style": style}
    _use(core_twin, monkeypatch, signIn={"managedIdentity": mi, "azureCli": {"loggedIn": False}})
    dialed: list[object] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> Any:
        dialed.append(address)
        if str(address[0]).startswith("169.254."):
            raise AssertionError(f"dialed the link-local IMDS address {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    cred = DefaultAzureCredential(process_timeout=20)
    if mi is None:
        with pytest.raises(ClientAuthenticationError):
            cred.get_token(ARM)
    else:
        _assert_mi_claims(cred.get_token(ARM).token)
    assert dialed and all(addr[0] == "127.0.0.1" for addr in dialed)  # type: ignore[index]
