"""The Azure OpenAI data plane on the twin, called with plain ``requests`` as any client would: RBAC through the
twin's own check (groups, notDataActions, deny assignments, propagation delay), keys and ``disableLocalAuth``,
custom subdomain, network rules — and every built-in scenario showing its key behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

from helpers.twin_fixtures import session_twin
from helpers.twin_world import ACCOUNT, RG, SP, SUB, assignment, credential, world

from preflight.twin import Twin, tokens
from preflight.twin.scenario import list_scenarios
from preflight.twin.tokens import AZURE_CLI_APP_ID

COGNITIVE = "https://cognitiveservices.azure.com/.default"
ARM = "https://management.azure.com/.default"
API = {"api-version": "2024-10-21"}


@pytest.fixture
def dp_twin() -> Iterator[Twin]:
    twin = session_twin()
    twin.use(world())
    yield twin
    assert twin.errors() == []


def endpoint(twin: Twin, resource_id: str = ACCOUNT) -> str:
    account = next(r for r in twin.scenario["resources"] if r["id"] == resource_id)
    return str(account["properties"]["endpoint"])


def call(
    twin: Twin,
    path: str,
    *,
    token: str | None = None,
    key: str | None = None,
    method: str = "GET",
    base: str | None = None,
    params: dict[str, str] | None = API,
) -> requests.Response:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["api-key"] = key
    url = (base or endpoint(twin)) + path
    body = {"messages": [{"role": "user", "content": "hi"}]} if method == "POST" else None
    return requests.request(
        method, url, params=params, json=body, headers=headers, verify=str(twin.ca_file), timeout=10
    )


def sp_token(twin: Twin, scope: str = COGNITIVE) -> str:
    return credential(twin).get_token(scope).token


def user_token(twin: Twin, user: str, scope: str = COGNITIVE, tenant: str | None = None) -> requests.Response:
    """A token for a scenario user through the refresh-token grant (what the Azure CLI does)."""
    tid = tenant or twin.tenant_id
    return requests.post(
        f"{twin.base_url}/{tid}/oauth2/v2.0/token",
        data={
            "client_id": AZURE_CLI_APP_ID,
            "grant_type": "refresh_token",
            "refresh_token": twin.refresh_token(user),
            "scope": f"{scope} offline_access openid profile",
        },
        verify=str(twin.ca_file),
        timeout=10,
    )


def denied_message(principal: str, action: str, operation: str) -> str:
    return f"The principal `{principal}` lacks the required data action `{action}` to perform `{operation}` operation."


READ = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"


def test_granted_through_a_nested_group(dp_twin: Twin) -> None:
    token = sp_token(dp_twin)
    listed = call(dp_twin, "openai/deployments", token=token)
    assert listed.status_code == 200
    assert listed.json()["object"] == "list" and [d["id"] for d in listed.json()["data"]] == ["gpt-4o"]
    assert listed.json()["data"][0]["model"] == "gpt-4o"
    assert call(dp_twin, "openai/deployments/gpt-4o", token=token).json()["object"] == "deployment"
    models = call(dp_twin, "openai/models", token=token).json()
    assert [m["id"] for m in models["data"]] == ["gpt-4o"]
    chat = call(dp_twin, "openai/deployments/gpt-4o/chat/completions", token=token, method="POST")
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["role"] == "assistant"
    assert call(dp_twin, "openai/deployments/nope/chat/completions", token=token, method="POST").status_code == 404
    entry = next(e for e in dp_twin.requests() if e.service == "data_plane")
    assert entry.principal == SP and entry.status == 200


def test_owner_has_no_data_actions(dp_twin: Twin) -> None:
    doc = world()
    doc["roleAssignments"] = [assignment("Owner", SP, f"/subscriptions/{SUB}")]
    dp_twin.use(doc)
    answer = call(dp_twin, "openai/deployments", token=sp_token(dp_twin))
    assert answer.status_code == 401
    assert answer.json() == {
        "error": {"code": "PermissionDenied", "message": denied_message(SP, READ, "GET /openai/deployments")}
    }
    client = CognitiveServicesManagementClient(
        credential(dp_twin),
        SUB,
        base_url=dp_twin.base_url,
        credential_scopes=[ARM],
        connection_verify=str(dp_twin.ca_file),
    )
    assert client.accounts.get("rg-ai", "contoso-openai").name == "contoso-openai"  # ARM: fine


def test_not_data_actions_and_deny_assignments(dp_twin: Twin) -> None:
    doc = world()
    doc["roleDefinitions"] = [
        {
            "name": "0e0e0e0e-0000-4000-8000-0000000000ce",
            "properties": {
                "roleName": "Deployments reader",
                "permissions": [
                    {"dataActions": ["Microsoft.CognitiveServices/accounts/OpenAI/*"], "notDataActions": [CHAT]}
                ],
            },
        }
    ]
    doc["roleAssignments"] = [assignment("Deployments reader", SP, RG)]
    dp_twin.use(doc)
    token = sp_token(dp_twin)
    assert call(dp_twin, "openai/deployments", token=token).status_code == 200
    chat = call(dp_twin, "openai/deployments/gpt-4o/chat/completions", token=token, method="POST")
    assert chat.status_code == 401 and chat.json()["error"]["message"] == denied_message(
        SP, CHAT, "POST /openai/deployments/{deployment-id}/chat/completions"
    )
    doc["denyAssignments"] = [
        {
            "properties": {
                "scope": f"/subscriptions/{SUB}",
                "permissions": [{"dataActions": ["*/read"]}],
                "principals": [{"id": SP, "type": "ServicePrincipal"}],
            }
        }
    ]
    dp_twin.use(doc)
    assert call(dp_twin, "openai/deployments", token=sp_token(dp_twin)).status_code == 401


def test_propagation_delay(dp_twin: Twin) -> None:
    doc = world()
    doc["options"]["dataPlanePropagationSeconds"] = 300
    doc["roleAssignments"] = [assignment("Cognitive Services OpenAI User", SP, ACCOUNT, createdOn="@now-60s")]
    dp_twin.use(doc)
    token = sp_token(dp_twin)
    assert call(dp_twin, "openai/deployments", token=token).status_code == 401
    dp_twin.advance_clock(600)  # the data plane catches up; no real waiting
    assert call(dp_twin, "openai/deployments", token=sp_token(dp_twin)).status_code == 200


def test_keys_and_disable_local_auth(dp_twin: Twin) -> None:
    assert call(dp_twin, "openai/deployments", key="key-one").status_code == 200
    wrong = call(dp_twin, "openai/deployments", key="key-two")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "401"
    doc = world()
    doc["resources"][0]["properties"]["disableLocalAuth"] = True
    dp_twin.use(doc)
    refused = call(dp_twin, "openai/deployments", key="key-one")
    assert refused.status_code == 403 and refused.json() == {
        "error": {
            "code": "AuthenticationTypeDisabled",
            "message": "Key based authentication is disabled for this resource.",
        }
    }
    assert call(dp_twin, "openai/deployments", token=sp_token(dp_twin)).status_code == 200


def test_no_custom_subdomain_refuses_tokens(dp_twin: Twin) -> None:
    doc = world()
    doc["resources"][0]["properties"].pop("customSubDomainName")
    dp_twin.use(doc)
    base = endpoint(dp_twin)
    assert base == f"{dp_twin.base_url}/dataplane/regional/eastus/"
    answer = call(dp_twin, "openai/deployments", token=sp_token(dp_twin), base=base)
    assert answer.status_code == 401 and answer.json()["error"]["message"] == (
        "Please provide a custom subdomain for token authentication, otherwise API access will be rejected."
    )
    assert call(dp_twin, "openai/deployments", key="key-one", base=base).status_code == 200  # keys still work


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"publicNetworkAccess": "Disabled"}, "Public access is disabled. Please configure private endpoint."),
        (
            {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]}},
            "Access denied due to Virtual Network/Firewall rules.",
        ),
    ],
)
def test_network_rules(dp_twin: Twin, props: dict[str, Any], message: str) -> None:
    doc = world()
    doc["resources"][0]["properties"].update(props)
    dp_twin.use(doc)
    answer = call(dp_twin, "openai/deployments", token=sp_token(dp_twin))
    assert answer.status_code == 403 and answer.json() == {"error": {"code": "403", "message": message}}
    doc["resources"][0]["properties"]["networkAcls"] = {"defaultAction": "Deny", "ipRules": [{"value": "127.0.0.1"}]}
    doc["resources"][0]["properties"]["publicNetworkAccess"] = "Enabled"
    dp_twin.use(doc)
    assert call(dp_twin, "openai/deployments", token=sp_token(dp_twin)).status_code == 200


def test_audience_api_version_and_unknown_accounts(dp_twin: Twin) -> None:
    wrong = call(dp_twin, "openai/deployments", token=sp_token(dp_twin, ARM))
    assert (
        wrong.status_code == 401
        and "audience is incorrect (https://cognitiveservices.azure.com)" in wrong.json()["error"]["message"]
    )
    assert call(dp_twin, "openai/deployments", token=sp_token(dp_twin), params=None).status_code == 404
    assert (
        call(dp_twin, "openai/deployments", key="key-one", base=f"{dp_twin.base_url}/dataplane/nobody/").status_code
        == 404
    )


# ------------------------------------------------------------------------------------------ built-in scenarios

ALICE_UPN = "alice@contoso.onmicrosoft.com"


def alice_data_plane(twin: Twin) -> requests.Response:
    got = user_token(twin, ALICE_UPN)
    assert got.status_code == 200, got.text
    return call(twin, "openai/deployments", token=got.json()["access_token"], base=twin.scenario["target"]["endpoint"])


def alice_arm(twin: Twin) -> requests.Response:
    token = user_token(twin, ALICE_UPN, ARM).json()["access_token"]
    return requests.get(
        twin.base_url + twin.scenario["target"]["resourceId"],
        params={"api-version": "2025-09-01"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(twin.ca_file),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("healthy", 200, None),
        ("group-assignment", 200, None),
        ("owner-without-data-role", 401, "PermissionDenied"),
        ("propagation-pending", 401, "PermissionDenied"),
        ("deny-assignment", 401, "PermissionDenied"),
        ("network-blocked", 403, "403"),
        ("no-custom-subdomain", 401, "401"),
    ],
)
def test_builtin_data_plane_behaviour(name: str, status: int, code: str | None) -> None:
    twin = session_twin()
    twin.use(name)
    answer = alice_data_plane(twin)
    assert answer.status_code == status, answer.text
    if code:
        assert answer.json()["error"]["code"] == code
    assert alice_arm(twin).status_code == 200  # ARM reads work in all of them
    assert twin.errors() == []


def test_builtin_mfa_and_ca_scenarios() -> None:
    twin = session_twin()
    twin.use("mfa-required")
    assert user_token(twin, ALICE_UPN, ARM).status_code == 200  # ARM is not covered by the policy
    refused = user_token(twin, ALICE_UPN)
    assert refused.status_code == 400
    body = refused.json()
    assert body["error_codes"] == [50076] and body["suberror"] == "basic_action" and "capolids" in body["claims"]
    twin.use("ca-blocked")
    blocked = user_token(twin, ALICE_UPN, ARM)
    assert blocked.status_code == 400 and blocked.json()["error_description"].startswith("AADSTS53003:")


def test_builtin_service_principal_scenarios() -> None:
    twin = session_twin()
    for name, code in (("sp-expired-secret", "AADSTS7000222"), ("sp-missing", "AADSTS700016")):
        twin.use(name)
        env = twin.scenario["signIn"]["environment"]
        from azure.identity import ClientSecretCredential

        cred = ClientSecretCredential(
            env["tenantId"],
            env["clientId"],
            env["clientSecret"],
            authority=twin.base_url,
            disable_instance_discovery=True,
            connection_verify=str(twin.ca_file),
        )
        with pytest.raises(ClientAuthenticationError, match=code):
            cred.get_token(ARM)


def test_builtin_wrong_tenant_throttled_and_no_credentials() -> None:
    twin = session_twin()
    twin.use("wrong-tenant")
    other = twin.scenario["signIn"]["azureCli"]["tenantId"]
    assert other != twin.scenario["subscriptions"][0]["tenantId"]
    assert other in {t["id"] for t in twin.scenario["otherTenants"]}
    # a token Entra would issue to Alice in the other tenant: ARM refuses it for this subscription
    alice = next(u for u in twin.scenario["directory"]["users"] if u["userPrincipalName"] == ALICE_UPN)
    claims = tokens.user_claims(
        tenant_id=other,
        audience="https://management.azure.com",
        user=alice,
        client_id=AZURE_CLI_APP_ID,
        base_url=twin.base_url,
        now=twin.server.now(),
    )
    answer = requests.get(
        f"{twin.base_url}/subscriptions/{twin.scenario['target']['subscriptionId']}",
        params={"api-version": "2022-12-01"},
        verify=str(twin.ca_file),
        timeout=10,
        headers={"Authorization": f"Bearer {twin.server.issuer.sign(claims)}"},
    )
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    twin.use("throttled")
    token = user_token(twin, ALICE_UPN, ARM).json()["access_token"]
    first = requests.get(
        twin.base_url + twin.scenario["target"]["resourceId"],
        params={"api-version": "2025-09-01"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(twin.ca_file),
        timeout=10,
    )
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    twin.use("no-credentials")
    env = twin.environment()
    assert not {"AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_CERTIFICATE_PATH"} & set(env)
    assert set(list_scenarios()) >= {"healthy", "no-credentials"}


def test_sdk_surfaces_data_plane_refusals_as_http_errors(dp_twin: Twin) -> None:
    """The 401 carries no WWW-Authenticate challenge, so azure-core does not retry it."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.rest import HttpRequest

    doc = world()
    doc["roleAssignments"] = []
    dp_twin.use(doc)
    client: PipelineClient[Any, Any] = PipelineClient(
        endpoint(dp_twin),
        policies=[BearerTokenCredentialPolicy(credential(dp_twin), COGNITIVE)],
        connection_verify=str(dp_twin.ca_file),
    )
    response = client.send_request(HttpRequest("GET", endpoint(dp_twin) + "openai/deployments", params=API))
    with pytest.raises(HttpResponseError):
        response.raise_for_status()
    assert response.status_code == 401


def test_v1_api(dp_twin: Twin) -> None:
    token = sp_token(dp_twin)
    models = call(dp_twin, "openai/v1/models", token=token, params=None)
    assert models.status_code == 200 and models.json()["data"][0] == {
        "id": "gpt-4o",
        "object": "model",
        "created": 1700000000,
        "owned_by": "system",
    }
    chat = requests.post(
        endpoint(dp_twin) + "openai/v1/chat/completions",
        json={"model": "gpt-4o", "messages": []},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(dp_twin.ca_file),
        timeout=10,
    )
    assert chat.status_code == 200 and chat.json()["object"] == "chat.completion"
    dp_twin.use(dict(world(), roleAssignments=[]))
    refused = call(dp_twin, "openai/v1/models", token=sp_token(dp_twin), params=None)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == denied_message(
        SP, "Microsoft.CognitiveServices/accounts/OpenAI/models/read", "GET /openai/v1/models"
    )
