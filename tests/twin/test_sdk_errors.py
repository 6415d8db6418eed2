"""ARM's bearer-token refusals and Entra's unknown-tenant error as the REAL SDK clients surface them: exception
type, ARM error code and message — what preflight's diagnosis sees in the field. (The twin-level answers are in
test_server.py / test_entra.py; this file drives them through azure-mgmt-* and azure-identity.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential, DefaultAzureCredential, WorkloadIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from helpers.twin_fixtures import apply_environment, session_twin
from helpers.twin_world import ACCOUNT, APP_ID, RG, SECRET, SP, SUB, TENANT, arm_kwargs, credential, world

from preflight.twin import Twin, tokens

ARM_SCOPE = "https://management.azure.com/.default"
UNKNOWN_TENANT = "12345678-0000-4000-8000-000000000000"
OTHER_TENANT = "99999999-9999-4999-8999-999999999999"


class Static:
    """A TokenCredential handing out one fixed token (as a long-lived process holds a cached one), so the
    SDK presents exactly the token under test and never refreshes it."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2_000_000_000)


@pytest.fixture
def sdk_twin() -> Iterator[Twin]:
    twin = session_twin()
    doc = world()
    doc["otherTenants"] = [{"id": OTHER_TENANT, "displayName": "Fabrikam", "defaultDomain": "fabrikam.onmicrosoft.com"}]
    twin.use(doc)
    yield twin
    assert twin.errors() == []


def _arm_error(info: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = info.value.error
    assert error is not None, info.value
    return str(error.code), str(error.message)


def test_wrong_audience_through_every_management_client(sdk_twin: Twin) -> None:
    graph_token = credential(sdk_twin).get_token("https://graph.microsoft.com/.default").token
    static = Static(graph_token)
    kwargs = {**arm_kwargs(sdk_twin), "retry_total": 0}
    calls = [
        lambda: ResourceManagementClient(static, SUB, **kwargs).resource_groups.get("rg-ai"),
        lambda: SubscriptionClient(static, **kwargs).subscriptions.get(SUB),
        lambda: list(AuthorizationManagementClient(static, SUB, **kwargs).role_assignments.list_for_scope(RG)),
        lambda: CognitiveServicesManagementClient(static, SUB, **kwargs).accounts.get("rg-ai", "contoso-openai"),
    ]
    for call in calls:
        with pytest.raises(ClientAuthenticationError) as info:
            call()
        code, message = _arm_error(info)
        assert code == "InvalidAuthenticationTokenAudience"
        assert message.startswith(
            "The access token has been obtained for wrong audience or resource "
            "'https://graph.microsoft.com'. It should exactly match with one of the allowed "
            "audiences "
        )
        assert info.value.status_code == 401


def test_expired_token(sdk_twin: Twin) -> None:
    token = credential(sdk_twin).get_token(ARM_SCOPE).token
    client = ResourceManagementClient(Static(token), SUB, retry_total=0, **arm_kwargs(sdk_twin))
    assert client.resource_groups.get("rg-ai").name == "rg-ai"
    sdk_twin.advance_clock(2 * 3600)  # past the token's exp
    with pytest.raises(ClientAuthenticationError) as info:
        client.resource_groups.get("rg-ai")
    code, message = _arm_error(info)
    assert code == "ExpiredAuthenticationToken"
    assert re.fullmatch(r"The access token expiry UTC time '.+' is earlier than current UTC time '.+'\.", message)
    # a real credential notices the expiry itself and fetches a new token: the same call then works
    fresh = ResourceManagementClient(credential(sdk_twin), SUB, retry_total=0, **arm_kwargs(sdk_twin))
    assert fresh.resource_groups.get("rg-ai").name == "rg-ai"


def test_token_from_another_tenant(sdk_twin: Twin) -> None:
    alice = next(u for u in sdk_twin.scenario["directory"]["users"] if u["userPrincipalName"].startswith("alice"))
    claims = tokens.user_claims(
        tenant_id=OTHER_TENANT,
        audience="https://management.azure.com",
        user=alice,
        client_id=tokens.AZURE_CLI_APP_ID,
        base_url=sdk_twin.base_url,
        now=sdk_twin.server.now(),
    )
    foreign = Static(sdk_twin.server.issuer.sign(claims))
    kwargs = {**arm_kwargs(sdk_twin), "retry_total": 0}
    assert list(SubscriptionClient(foreign, **kwargs).subscriptions.list()) == []  # tenant-level: none of its own
    for call in (
        lambda: list(ResourceManagementClient(foreign, SUB, **kwargs).resource_groups.list()),
        lambda: CognitiveServicesManagementClient(foreign, SUB, **kwargs).accounts.get("rg-ai", "contoso-openai"),
    ):
        with pytest.raises(ClientAuthenticationError) as info:
            call()
        code, message = _arm_error(info)
        assert code == "InvalidAuthenticationTokenTenant"
        assert message.startswith(
            f"The access token is from the wrong issuer 'https://sts.windows.net/{OTHER_TENANT}/'. "
            f"It must match the tenant 'https://sts.windows.net/{TENANT}/' associated with "
            "this subscription."
        )


def test_authorization_failed_through_the_authorization_client(sdk_twin: Twin) -> None:
    doc = world()
    doc["roleAssignments"] = []  # the SP keeps its sign-in but has no role anywhere
    sdk_twin.use(doc)
    client = AuthorizationManagementClient(credential(sdk_twin), SUB, retry_total=0, **arm_kwargs(sdk_twin))
    with pytest.raises(HttpResponseError) as info:
        list(client.role_assignments.list_for_scope(ACCOUNT))
    assert info.value.status_code == 403
    code, message = _arm_error(info)
    assert code == "AuthorizationFailed"
    assert (
        message.startswith(f"The client '{SP}' with object id '{SP}'")
        and "'Microsoft.Authorization/roleAssignments/read' over scope" in message
    )


def test_unknown_tenant_through_the_credentials(sdk_twin: Twin, tmp_path: Path) -> None:
    """MSAL's credentials fetch the tenant's OIDC metadata first, which Entra refuses with AADSTS90002 — the SDK
    reports it as an authority problem; the workload-identity path posts directly and carries the code."""
    kw = {
        "authority": sdk_twin.base_url,
        "disable_instance_discovery": True,
        "connection_verify": str(sdk_twin.ca_file),
        "retry_total": 0,
    }
    with pytest.raises(
        ClientAuthenticationError,
        match=f"Unable to get authority configuration for {re.escape(sdk_twin.base_url)}/{UNKNOWN_TENANT}",
    ):
        ClientSecretCredential(UNKNOWN_TENANT, APP_ID, SECRET, **kw).get_token(ARM_SCOPE)
    token_file = tmp_path / "assertion"
    token_file.write_text(
        sdk_twin.federated_token(
            issuer="https://token.actions.githubusercontent.com", subject="repo:contoso/app:ref:refs/heads/main"
        )
    )
    wi = WorkloadIdentityCredential(tenant_id=UNKNOWN_TENANT, client_id=APP_ID, token_file_path=str(token_file), **kw)
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS90002: Tenant '{UNKNOWN_TENANT}' not found") as info:
        wi.get_token(ARM_SCOPE)
    assert info.value.response is not None and info.value.response.json()["error_codes"] == [90002]


def test_default_credential_stops_at_a_failing_environment_secret(
    sdk_twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DefaultAzureCredential: a configured but failing EnvironmentCredential ends the chain with the AADSTS
    error (it does not fall through to the next credential)."""
    apply_environment(monkeypatch, sdk_twin.environment(sign_in=False))
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", APP_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")
    cred = DefaultAzureCredential(disable_instance_discovery=True, retry_total=0)
    with pytest.raises(ClientAuthenticationError) as info:
        cred.get_token(ARM_SCOPE)
    assert "EnvironmentCredential" in str(info.value) and "AADSTS7000215" in str(info.value)
    assert not any(e.service == "managed_identity" for e in sdk_twin.requests())  # the chain stopped there


CA_BLOCK = {
    "error": "invalid_grant",
    "error_codes": [53003],
    "suberror": "message_only",
    "error_description": "AADSTS53003: Access has been blocked by Conditional Access policies. The access "
    "policy does not allow token issuance.\r\nTrace ID: t\r\nCorrelation ID: c\r\n"
    "Timestamp: 2026-01-01 00:00:00Z",
}


def test_forced_errors_match_by_grant_type_and_principal(sdk_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """tokenErrors selected by grant type (client_credentials: apps only, not the az user's refresh-token
    grant) and by principal (the service principal's object id)."""
    from azure.identity import AzureCliCredential

    from helpers.twin_world import SP

    doc = world()
    doc["signIn"] = {"azureCli": {"loggedIn": True, "user": "alice@contoso.onmicrosoft.com", "tenantId": TENANT}}
    doc["tokenErrors"] = [{"match": {"grantType": "client_credentials"}, "status": 400, "body": CA_BLOCK}]
    sdk_twin.use(doc)
    with pytest.raises(ClientAuthenticationError, match="AADSTS53003: Access has been blocked by Conditional"):
        credential(sdk_twin).get_token(ARM_SCOPE)
    apply_environment(monkeypatch, sdk_twin.environment())
    assert AzureCliCredential(process_timeout=20).get_token(ARM_SCOPE).token  # a user's grant is not matched
    doc["tokenErrors"] = [{"match": {"principal": SP}, "body": CA_BLOCK}]
    sdk_twin.use(doc)
    with pytest.raises(ClientAuthenticationError, match="AADSTS53003"):
        credential(sdk_twin).get_token(ARM_SCOPE)
    assert AzureCliCredential(process_timeout=20).get_token(ARM_SCOPE).token


def test_sdk_waits_for_retry_after_before_retrying(sdk_twin: Twin) -> None:
    """A 429 with ``Retry-After: 1`` on ARM: the client retries after (at least) the second the header asks for,
    and the request log shows the throttled request, its fault and the retry."""
    doc = world()
    doc["faults"] = [
        {
            "match": {"service": "arm", "method": "GET", "path": "/accounts/contoso-openai$"},
            "status": 429,
            "retryAfter": 1,
            "count": 1,
        }
    ]
    sdk_twin.use(doc)
    client = CognitiveServicesManagementClient(credential(sdk_twin), SUB, **arm_kwargs(sdk_twin))
    assert client.accounts.get("rg-ai", "contoso-openai").name == "contoso-openai"
    gets = [e for e in sdk_twin.requests() if e.service == "arm"]
    assert [(e.status, e.fault) for e in gets] == [(429, "status:429"), (200, None)]
    assert gets[1].time - gets[0].time >= 1.0  # Retry-After obeyed (a lower bound: it cannot be flaky)
