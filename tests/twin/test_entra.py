"""Entra ID on the twin, driven by the REAL azure-identity credentials (no mocks).

(azure-identity's client-certificate credential is ``CertificateCredential``.)

Each test asserts what the SDK really raises (type and the AADSTS code in the message), because that is what
preflight's diagnosis sees in the field.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    WorkloadIdentityCredential,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from helpers.twin_fixtures import (
    IDS,
    SECRET,
    WI_ISSUER,
    WI_SUBJECT,
    apply_environment,
    core_scenario,
)

from preflight.twin import Twin, decode_claims
from preflight.twin.entra import validate_token_errors

ARM = "https://management.azure.com/.default"
TENANT = IDS["tenant"]


def _sdk(twin: Twin) -> dict[str, Any]:
    # What the design doc prescribes for a non-public authority; no retries so failures are instant.
    return {
        "authority": twin.base_url,
        "disable_instance_discovery": True,
        "connection_verify": str(twin.ca_file),
        "retry_total": 0,
    }


def secret_credential(
    twin: Twin, client_id: str = IDS["secret_app"], secret: str = SECRET, tenant: str = TENANT, **kwargs: Any
) -> ClientSecretCredential:
    return ClientSecretCredential(tenant, client_id, secret, **{**_sdk(twin), **kwargs})


def _token_url(twin: Twin, tenant: str = TENANT) -> str:
    return f"{twin.base_url}/{tenant}/oauth2/v2.0/token"


# ------------------------------------------------------------------------------------------------ discovery


def test_openid_configuration_points_at_the_twin(core_twin: Twin, core_env: dict[str, str]) -> None:
    url = f"{core_twin.base_url}/{TENANT}/v2.0/.well-known/openid-configuration"
    doc = requests.get(url, verify=str(core_twin.ca_file), timeout=5).json()
    assert doc["token_endpoint"] == f"{core_twin.base_url}/{TENANT}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"].startswith(core_twin.base_url)
    assert doc["issuer"] == f"{core_twin.base_url}/{TENANT}/v2.0"
    assert doc["jwks_uri"] == f"{core_twin.base_url}/{TENANT}/discovery/v2.0/keys"
    # the tenant's domain name works as an authority segment too
    by_domain = requests.get(
        f"{core_twin.base_url}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    assert by_domain.status_code == 200


def test_discovery_for_unknown_tenant_is_aadsts90002(core_twin: Twin, core_env: dict[str, str]) -> None:
    url = f"{core_twin.base_url}/nosuchtenant.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    answer = requests.get(url, verify=str(core_twin.ca_file), timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_tenant"
    assert answer.json()["error_codes"] == [90002]


def test_jwks_verifies_issued_tokens(core_twin: Twin, core_env: dict[str, str]) -> None:
    token = secret_credential(core_twin).get_token(ARM).token
    jwks = requests.get(
        f"{core_twin.base_url}/{TENANT}/discovery/v2.0/keys", verify=str(core_twin.ca_file), timeout=5
    ).json()
    (key,) = jwks["keys"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256" and header["kid"] == key["kid"]

    def num(text: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

    public = rsa.RSAPublicNumbers(num(key["e"]), num(key["n"])).public_key()
    signing_input, _, sig = token.rpartition(".")
    public.verify(
        base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)),
        signing_input.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


# ------------------------------------------------------------------------------------------------ client secret


def test_client_secret_success_and_v1_claims(core_twin: Twin, core_env: dict[str, str]) -> None:
    token = secret_credential(core_twin).get_token(ARM)
    claims = decode_claims(token.token)
    assert claims["aud"] == "https://management.azure.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["tid"] == TENANT
    assert claims["oid"] == claims["sub"] == IDS["secret_sp"]
    assert claims["appid"] == IDS["secret_app"] and claims["appidacr"] == "1"
    assert claims["idtyp"] == "app" and claims["ver"] == "1.0"
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert "scp" not in claims and "roles" not in claims
    (post,) = [e for e in core_twin.requests() if e.method == "POST"]
    assert post.service == "entra" and post.principal == IDS["secret_sp"] and post.status == 200


def test_v2_resource_gets_v2_claims(core_twin: Twin, core_env: dict[str, str]) -> None:
    claims = decode_claims(secret_credential(core_twin).get_token("https://ai.azure.com/.default").token)
    assert claims["ver"] == "2.0" and claims["azp"] == IDS["secret_app"] and claims["azpacr"] == "1"
    assert claims["iss"] == f"{core_twin.base_url}/{TENANT}/v2.0"
    assert "appid" not in claims


def test_graph_audiences_public_and_twin(core_twin: Twin, core_env: dict[str, str]) -> None:
    cred = secret_credential(core_twin)
    assert (
        decode_claims(cred.get_token("https://graph.microsoft.com/.default").token)["aud"]
        == "https://graph.microsoft.com"
    )
    # the custom cloud's Graph resource id is the twin's origin; audience = scope minus "/.default"
    assert decode_claims(cred.get_token(core_twin.base_url + "/.default").token)["aud"] == core_twin.base_url
    assert decode_claims(cred.get_token(core_twin.base_url + "//.default").token)["aud"] == core_twin.base_url + "/"


def test_wrong_secret_is_aadsts7000215(core_twin: Twin, core_env: dict[str, str]) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215: Invalid client secret provided"):
        secret_credential(core_twin, secret="not-the-secret").get_token(ARM)


def test_expired_secret_is_aadsts7000222(core_twin: Twin, core_env: dict[str, str]) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000222: The provided client secret keys"):
        secret_credential(core_twin, client_id=IDS["expired_app"], secret="old-secret").get_token(ARM)


@pytest.mark.parametrize("client_id", ["99999999-0000-4000-8000-000000000099", IDS["no_sp_app"]])
def test_unknown_app_is_aadsts700016(core_twin: Twin, core_env: dict[str, str], client_id: str) -> None:
    with pytest.raises(
        ClientAuthenticationError,
        match=f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory 'Contoso'",
    ):
        secret_credential(core_twin, client_id=client_id).get_token(ARM)


def test_other_tenant_is_aadsts700016_not_90002(core_twin: Twin, core_env: dict[str, str]) -> None:
    with pytest.raises(ClientAuthenticationError, match=r"AADSTS700016.*directory 'Fabrikam'"):
        secret_credential(core_twin, tenant=IDS["other_tenant"]).get_token(ARM)


def test_unknown_tenant_is_aadsts90002(core_twin: Twin, core_env: dict[str, str]) -> None:
    answer = requests.post(
        _token_url(core_twin, "12345678-0000-4000-8000-000000000000"),
        data={
            "client_id": IDS["secret_app"],
            "client_secret": SECRET,
            "grant_type": "client_credentials",
            "scope": ARM,
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request" and answer.json()["error_codes"] == [90002]


def test_unknown_resource_is_aadsts500011(core_twin: Twin, core_env: dict[str, str]) -> None:
    with pytest.raises(
        ClientAuthenticationError,
        match=r"AADSTS500011: The resource principal named https://contoso.openai.azure.com was not found",
    ):
        secret_credential(core_twin).get_token("https://contoso.openai.azure.com/.default")


def test_disabled_service_principal_is_aadsts7000112(core_twin: Twin, core_env: dict[str, str]) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000112"):
        secret_credential(core_twin, client_id=IDS["disabled_app"]).get_token(ARM)


def test_error_body_has_the_real_shape(core_twin: Twin, core_env: dict[str, str]) -> None:
    answer = requests.post(
        _token_url(core_twin),
        data={
            "client_id": IDS["secret_app"],
            "client_secret": "wrong",
            "grant_type": "client_credentials",
            "scope": ARM,
        },
        headers={"client-request-id": "0d1f2e3c-0000-4000-8000-00000000abcd"},
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    assert answer.status_code == 401
    body = answer.json()
    assert set(body) == {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    }
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    desc = body["error_description"]
    assert desc.startswith("AADSTS7000215: ")
    assert (
        f"\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {body['correlation_id']}\r\n"
        f"Timestamp: {body['timestamp']}" in desc
    )
    assert body["correlation_id"] == "0d1f2e3c-0000-4000-8000-00000000abcd"  # echoed, like Entra
    assert body["error_uri"].endswith("error?code=7000215")


def test_client_credentials_needs_dot_default(core_twin: Twin, core_env: dict[str, str]) -> None:
    answer = requests.post(
        _token_url(core_twin),
        data={
            "client_id": IDS["secret_app"],
            "client_secret": SECRET,
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/User.Read",
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["error_codes"] == [1002012]


def test_v1_token_endpoint(core_twin: Twin, core_env: dict[str, str]) -> None:
    answer = requests.post(
        f"{core_twin.base_url}/{TENANT}/oauth2/token",
        data={
            "client_id": IDS["secret_app"],
            "client_secret": SECRET,
            "grant_type": "client_credentials",
            "resource": "https://management.core.windows.net/",
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    body = answer.json()
    assert answer.status_code == 200 and body["resource"] == "https://management.core.windows.net/"
    assert isinstance(body["expires_on"], str) and isinstance(body["expires_in"], str)
    assert decode_claims(body["access_token"])["aud"] == "https://management.core.windows.net/"


# ------------------------------------------------------------------------------------------------ certificate


def test_client_certificate_success(core_twin: Twin, core_env: dict[str, str]) -> None:
    path = core_twin.certificate_path(IDS["cert_app"])
    cred = CertificateCredential(TENANT, IDS["cert_app"], certificate_path=path, **_sdk(core_twin))
    claims = decode_claims(cred.get_token(ARM).token)
    assert claims["appid"] == IDS["cert_app"] and claims["appidacr"] == "2" and claims["oid"] == IDS["cert_sp"]
    # Graph shape of the generated credential: real fields filled, twin-only generate flag gone.
    app = next(a for a in core_twin.scenario["directory"]["applications"] if a["appId"] == IDS["cert_app"])
    (key,) = app["keyCredentials"]
    assert key["type"] == "AsymmetricX509Cert" and key["usage"] == "Verify" and len(key["customKeyIdentifier"]) == 40
    assert "x-twin-generate" not in key


def test_client_certificate_with_chain(core_twin: Twin, core_env: dict[str, str]) -> None:
    path = core_twin.certificate_path(IDS["cert_app"])
    cred = CertificateCredential(
        TENANT, IDS["cert_app"], certificate_path=path, send_certificate_chain=True, **_sdk(core_twin)
    )
    assert cred.get_token(ARM).token


def test_unregistered_certificate_is_aadsts700027(core_twin: Twin, core_env: dict[str, str]) -> None:
    stray = core_twin.certificate_path(IDS["secret_app"])  # the secret app has no key credential
    cred = CertificateCredential(TENANT, IDS["secret_app"], certificate_path=stray, **_sdk(core_twin))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027: The certificate with identifier"):
        cred.get_token(ARM)


def test_expired_certificate_is_aadsts700027(core_twin: Twin, core_env: dict[str, str]) -> None:
    doc = core_scenario()
    app = next(a for a in doc["directory"]["applications"] if a["appId"] == IDS["cert_app"])
    app["keyCredentials"] = [
        {"x-twin-generate": True, "startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2021-01-01T00:00:00Z"}
    ]
    core_twin.use(doc)
    cred = CertificateCredential(
        TENANT, IDS["cert_app"], certificate_path=core_twin.certificate_path(IDS["cert_app"]), **_sdk(core_twin)
    )
    with pytest.raises(ClientAuthenticationError, match=r"AADSTS700027: .*The key used is expired"):
        cred.get_token(ARM)


# ------------------------------------------------------------------------------------------------ workload identity


def _wi_credential(twin: Twin, tmp_path: Any, subject: str = WI_SUBJECT) -> WorkloadIdentityCredential:
    token_file = tmp_path / "token"
    token_file.write_text(twin.federated_token(issuer=WI_ISSUER, subject=subject))
    return WorkloadIdentityCredential(
        tenant_id=TENANT, client_id=IDS["wi_app"], token_file_path=str(token_file), **_sdk(twin)
    )


def test_workload_identity_success(core_twin: Twin, core_env: dict[str, str], tmp_path: Any) -> None:
    claims = decode_claims(_wi_credential(core_twin, tmp_path).get_token(ARM).token)
    assert claims["appid"] == IDS["wi_app"] and claims["oid"] == IDS["wi_sp"] and claims["appidacr"] == "2"
    # one POST carrying the assertion, no discovery
    assert [(e.method, e.status) for e in core_twin.requests()] == [("POST", 200)]


def test_workload_identity_mismatch_is_aadsts70021(core_twin: Twin, core_env: dict[str, str], tmp_path: Any) -> None:
    cred = _wi_credential(core_twin, tmp_path, subject="system:serviceaccount:other:sa")
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021: No matching federated identity record") as info:
        cred.get_token(ARM)
    # this path attaches the response, so the error codes are machine-readable
    assert info.value.response is not None and info.value.response.json()["error_codes"] == [70021]
    assert "Assertion Subject: 'system:serviceaccount:other:sa'" in str(info.value)


def test_expired_federated_assertion_is_aadsts700024(core_twin: Twin, core_env: dict[str, str], tmp_path: Any) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(core_twin.federated_token(issuer=WI_ISSUER, subject=WI_SUBJECT, lifetime=-900))
    cred = WorkloadIdentityCredential(
        tenant_id=TENANT, client_id=IDS["wi_app"], token_file_path=str(token_file), **_sdk(core_twin)
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS700024: Client assertion is not within its valid"):
        cred.get_token(ARM)


def test_workload_identity_from_scenario_environment(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    core_twin.use(
        core_scenario(
            signIn={
                "workloadIdentity": {
                    "clientId": IDS["wi_app"],
                    "tenantId": TENANT,
                    "issuer": WI_ISSUER,
                    "subject": WI_SUBJECT,
                }
            }
        )
    )
    env = core_twin.environment()
    assert {"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST"} <= set(env)
    apply_environment(monkeypatch, env)
    claims = decode_claims(WorkloadIdentityCredential(retry_total=0).get_token(ARM).token)
    assert claims["oid"] == IDS["wi_sp"]


# ------------------------------------------------------------------------------------------------ environment / DAC


def test_default_credential_with_environment_secret(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    core_twin.use(
        core_scenario(
            signIn={"environment": {"clientId": IDS["secret_app"], "tenantId": TENANT, "clientSecret": SECRET}}
        )
    )
    apply_environment(monkeypatch, core_twin.environment())
    cred = DefaultAzureCredential(disable_instance_discovery=True, retry_total=0)
    assert decode_claims(cred.get_token(ARM).token)["oid"] == IDS["secret_sp"]


def test_default_credential_with_environment_certificate(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    core_twin.use(
        core_scenario(signIn={"environment": {"clientId": IDS["cert_app"], "tenantId": TENANT, "certificate": True}})
    )
    env = core_twin.environment()
    assert env["AZURE_CLIENT_CERTIFICATE_PATH"].endswith(".pem")
    apply_environment(monkeypatch, env)
    cred = DefaultAzureCredential(disable_instance_discovery=True, retry_total=0)
    assert decode_claims(cred.get_token(ARM).token)["oid"] == IDS["cert_sp"]


# ------------------------------------------------------------------------------------------------ forced errors

MFA_BODY = {
    "error": "invalid_grant",
    "error_description": "AADSTS50076: Due to a configuration change made by your administrator, or because you "
    "moved to a new location, you must use multi-factor authentication to access "
    "'797f4846-ba00-4fd7-ba43-dac1f8f63013'. Trace ID: 1 Correlation ID: 2 Timestamp: 3",
    "error_codes": [50076],
    "suberror": "basic_action",
    "claims": '{"access_token":{"capolids":{"essential":true,"values":["ca-1"]}}}',
}


def test_forced_token_error_is_returned_verbatim(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(tokenErrors=[{"match": {"clientId": IDS["secret_app"]}, "status": 400, "body": MFA_BODY}])
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS50076"):
        secret_credential(core_twin).get_token(ARM)
    raw = requests.post(
        _token_url(core_twin),
        data={
            "client_id": IDS["secret_app"],
            "client_secret": SECRET,
            "grant_type": "client_credentials",
            "scope": ARM,
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    assert raw.status_code == 400 and raw.json() == MFA_BODY
    # the rule matches one client only
    assert secret_credential(core_twin, client_id=IDS["cert_app"], secret="x") is not None
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        secret_credential(core_twin, client_id=IDS["cert_app"], secret="x").get_token(ARM)


def test_forced_error_by_scope_and_empty_match(core_twin: Twin, core_env: dict[str, str]) -> None:
    ca_body = {
        "error": "invalid_grant",
        "error_description": "AADSTS53003: Access has been blocked by Conditional "
        "Access policies. The access policy does not allow token issuance.",
        "error_codes": [53003],
        "suberror": "message_only",
    }
    core_twin.use(core_scenario(tokenErrors=[{"match": {"scope": "https://graph.microsoft.com"}, "body": ca_body}]))
    cred = secret_credential(core_twin)
    assert cred.get_token(ARM).token
    with pytest.raises(ClientAuthenticationError, match="AADSTS53003"):
        cred.get_token("https://graph.microsoft.com/.default")
    core_twin.use(core_scenario(tokenErrors=[{"body": ca_body}]))
    with pytest.raises(ClientAuthenticationError, match="AADSTS53003"):
        secret_credential(core_twin).get_token(ARM)


def test_validate_token_errors_names_bad_keys() -> None:
    assert validate_token_errors(None) == []
    assert validate_token_errors([{"match": {}, "body": {}}]) == []
    errors = validate_token_errors([{"match": {"client": "x"}, "status": 200}, "nope"])
    assert any(e.startswith("tokenErrors[0].match.client") for e in errors)
    assert any(e.startswith("tokenErrors[0].status") for e in errors)
    assert any(e.startswith("tokenErrors[0].body") for e in errors)
    assert any(e.startswith("tokenErrors[1]") for e in errors)


# ------------------------------------------------------------------------------------------------ refresh token


def test_refresh_token_grant(core_twin: Twin, core_env: dict[str, str]) -> None:
    rt = core_twin.refresh_token("alice@contoso.onmicrosoft.com")
    answer = requests.post(
        _token_url(core_twin),
        data={
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "grant_type": "refresh_token",
            "refresh_token": rt,
            "scope": "https://management.core.windows.net//.default offline_access openid profile",
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    body = answer.json()
    assert answer.status_code == 200 and body["refresh_token"] != rt and "id_token" in body
    claims = decode_claims(body["access_token"])
    assert claims["aud"] == "https://management.core.windows.net/"
    assert claims["idtyp"] == "user" and claims["upn"] == "alice@contoso.onmicrosoft.com"
    assert claims["oid"] == IDS["alice"] and claims["scp"] == "user_impersonation" and claims["amr"] == ["pwd"]


def test_refresh_answer_keeps_dot_default_in_scope(core_twin: Twin, core_env: dict[str, str]) -> None:
    """Entra answers a ``.default`` request with the granted permission *and* ``.default`` (Azure/azure-cli#32931)."""
    rt = core_twin.refresh_token("alice@contoso.onmicrosoft.com")
    answer = requests.post(
        _token_url(core_twin),
        data={
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "grant_type": "refresh_token",
            "refresh_token": rt,
            "scope": "https://management.core.windows.net//.default offline_access openid profile",
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    assert answer.json()["scope"].split() == [
        "https://management.core.windows.net//user_impersonation",
        "https://management.core.windows.net//.default",
    ]


def test_msal_reuses_its_cached_user_token(core_twin: Twin, core_env: dict[str, str]) -> None:
    """A public client (the Azure CLI's MSAL set-up) redeems the refresh token once; the second request for the
    same ``.default`` scope is served from MSAL's cache — one token POST in the request log for two tokens."""
    import msal

    app = msal.PublicClientApplication(
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        authority=f"{core_twin.base_url}/{TENANT}",
        instance_discovery=False,
        verify=str(core_twin.ca_file),
    )
    scopes = ["https://management.core.windows.net//.default"]
    refresh_token = core_twin.refresh_token("alice@contoso.onmicrosoft.com")
    core_twin.clear_log()
    first = app.acquire_token_by_refresh_token(refresh_token, scopes)
    assert "access_token" in first, first.get("error_description")
    account = app.get_accounts(username="alice@contoso.onmicrosoft.com")
    assert account, "MSAL cached no account for the refresh answer"
    again = app.acquire_token_silent(scopes, account=account[0])
    assert again is not None and again["access_token"] == first["access_token"]
    assert again.get("token_source") == "cache"
    posts = [e for e in core_twin.requests() if e.method == "POST"]
    assert [(e.path, e.status) for e in posts] == [(f"/{TENANT}/oauth2/v2.0/token", 200)]


def test_expired_refresh_token_is_aadsts700082(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(
            signIn={
                "azureCli": {"loggedIn": True, "user": "alice@contoso.onmicrosoft.com", "refreshTokenExpired": True}
            }
        )
    )
    rt = core_twin.refresh_token("alice@contoso.onmicrosoft.com")
    answer = requests.post(
        _token_url(core_twin),
        data={
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "grant_type": "refresh_token",
            "refresh_token": rt,
            "scope": ARM,
        },
        verify=str(core_twin.ca_file),
        timeout=5,
    )
    body = answer.json()
    assert answer.status_code == 400 and body["error"] == "invalid_grant" and body["suberror"] == "bad_token"
    assert body["error_description"].startswith("AADSTS700082: The refresh token has expired due to inactivity.")


# ------------------------------------------------------------------------------------------------ throttling


def test_throttled_token_request_is_retried_by_the_sdk(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(
            faults=[
                {
                    "match": {"service": "entra", "method": "POST", "path": "/oauth2/"},
                    "status": 429,
                    "retryAfter": 0,
                    "count": 1,
                }
            ]
        )
    )
    cred = ClientSecretCredential(
        TENANT,
        IDS["secret_app"],
        SECRET,
        authority=core_twin.base_url,
        disable_instance_discovery=True,
        connection_verify=str(core_twin.ca_file),
    )
    assert cred.get_token(ARM).token
    posts = [e for e in core_twin.requests() if e.method == "POST"]
    assert [(e.status, e.fault) for e in posts] == [(429, "status:429"), (200, None)]
