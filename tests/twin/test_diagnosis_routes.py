"""The routes a person runs while diagnosing access, on the twin, through the real SDKs: provider show
(``az provider show``), account keys (``az cognitiveservices account keys list``) and Graph's
getMemberGroups / checkMemberGroups (``az ad user get-member-groups``), with ARM's and Graph's real refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from helpers.twin_world import (
    ACCOUNT,
    ALICE,
    BOB,
    GROUP_INNER,
    GROUP_OUTER,
    SP,
    SUB,
    SUB2,
    TENANT,
    arm_kwargs,
    assignment,
    credential,
    world,
)

from preflight.twin import Twin
from preflight.twin.api_versions import provider_types
from preflight.twin.tokens import AZURE_CLI_APP_ID

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def own_twin() -> Iterator[Twin]:
    """A twin of this module's own, not the session's: listKeys reads secrets and getMemberGroups is a POST, so
    the session-wide read-only proof (tests/helpers/readonly.py) must keep flagging them if the product ever
    sends them; these tests send them on purpose."""
    with Twin(world()) as served:
        yield served


@pytest.fixture
def twin(own_twin: Twin) -> Iterator[Twin]:
    own_twin.use(world())
    yield own_twin
    assert own_twin.errors() == []


def _without(doc: dict[str, Any], principal: str) -> dict[str, Any]:
    """``doc`` with every role of ``principal`` (direct or through its groups) removed."""
    doc["roleAssignments"] = [
        a for a in doc["roleAssignments"] if a["properties"]["principalId"] not in (principal, GROUP_OUTER)
    ]
    return doc


# ------------------------------------------------------------------------------------------------ provider show


def test_provider_show_lists_types_versions_and_registration(twin: Twin) -> None:
    client = ResourceManagementClient(credential(twin), SUB, **arm_kwargs(twin))
    provider = client.providers.get("microsoft.cognitiveservices")  # ARM namespaces are case-insensitive
    assert provider.namespace == "Microsoft.CognitiveServices" and provider.registration_state == "Registered"
    assert provider.id == f"/subscriptions/{SUB}/providers/Microsoft.CognitiveServices"
    accounts = next(t for t in provider.resource_types if t.resource_type == "accounts")
    expected = provider_types("Microsoft.CognitiveServices")["accounts"]["apiVersions"]  # type: ignore[index]
    assert accounts.api_versions == sorted(expected, reverse=True) and "2025-09-01" in accounts.api_versions
    assert accounts.locations == ["East US", "West US"]  # where the scenario's accounts are
    authz = client.providers.get("Microsoft.Authorization")
    assert authz.registration_state == "Registered" and authz.registration_policy == "RegistrationFree"
    # a subscription holding no Cognitive Services resource has not registered the provider
    other = ResourceManagementClient(credential(twin), SUB2, **arm_kwargs(twin))
    assert other.providers.get("Microsoft.CognitiveServices").registration_state == "NotRegistered"
    assert {p.namespace for p in client.providers.list()} >= {"Microsoft.CognitiveServices", "Microsoft.Authorization"}


def test_provider_show_refusals(twin: Twin) -> None:
    client = ResourceManagementClient(credential(twin), SUB, **arm_kwargs(twin))
    with pytest.raises(ResourceNotFoundError) as missing:
        client.providers.get("Microsoft.Nope")
    assert missing.value.error is not None and missing.value.error.code == "InvalidResourceNamespace"
    twin.use(_without(world(), SP))
    with pytest.raises(HttpResponseError) as denied:
        ResourceManagementClient(credential(twin), SUB, **arm_kwargs(twin)).providers.get("Microsoft.Authorization")
    assert denied.value.status_code == 403 and denied.value.error is not None
    assert denied.value.error.code == "AuthorizationFailed"


# ------------------------------------------------------------------------------------------------ listKeys


def test_list_keys_is_authorization_failed_without_the_action(twin: Twin) -> None:
    """The service principal is Reader plus Cognitive Services OpenAI User: neither carries listKeys."""
    client = CognitiveServicesManagementClient(credential(twin), SUB, **arm_kwargs(twin))
    with pytest.raises(HttpResponseError) as caught:
        client.accounts.list_keys("rg-ai", "contoso-openai")
    assert caught.value.status_code == 403 and caught.value.error is not None
    assert caught.value.error.code == "AuthorizationFailed"
    # Real ARM names a service principal by its object id, twice (arm_common.client_name).
    assert caught.value.error.message == (
        f"The client '{SP}' with object id '{SP}' does not have authorization to perform action "
        f"'Microsoft.CognitiveServices/accounts/listKeys/action' over scope '{ACCOUNT}' or the scope is invalid. "
        "If access was recently granted, please refresh your credentials."
    )


def test_list_keys_answers_the_keys_to_a_caller_with_the_action(twin: Twin) -> None:
    doc = world()
    doc["resources"][0].pop("x-twin-keys")  # no declared keys: the twin makes two random ones
    doc["roleAssignments"].append(assignment("Cognitive Services Contributor", SP, ACCOUNT))
    twin.use(doc)
    client = CognitiveServicesManagementClient(credential(twin), SUB, **arm_kwargs(twin))
    keys = client.accounts.list_keys("rg-ai", "contoso-openai")
    assert keys.key1 and keys.key2 and keys.key1 != keys.key2 and len(keys.key1) == 32
    assert client.accounts.list_keys("rg-ai", "contoso-openai").key1 == keys.key1  # stable within a run
    logged = [e for e in twin.requests() if e.path.endswith("/listKeys")]
    assert logged and all(e.status == 200 and e.principal == SP for e in logged)
    assert keys.key1 not in repr(twin.requests()) and keys.key2 not in repr(twin.all_requests())


def test_list_keys_returns_the_accounts_declared_keys(twin: Twin) -> None:
    doc = world()
    doc["roleAssignments"].append(assignment("Cognitive Services Contributor", SP, ACCOUNT))
    twin.use(doc)
    keys = CognitiveServicesManagementClient(credential(twin), SUB, **arm_kwargs(twin)).accounts.list_keys(
        "rg-ai", "contoso-openai"
    )
    assert keys.key1 == "key-one" and keys.key2 and keys.key2 != "key-one"


# ------------------------------------------------------------------------------------------------ Graph


def _graph(twin: Twin, cred: Any = None) -> PipelineClient[Any, Any]:
    policy = BearerTokenCredentialPolicy(cred or credential(twin), GRAPH_SCOPE)
    return PipelineClient(
        twin.base_url, policies=[RetryPolicy(retry_total=0), policy], connection_verify=str(twin.ca_file)
    )


def _post(client: PipelineClient[Any, Any], twin: Twin, path: str, body: Any) -> tuple[int, Any]:
    response = client.send_request(HttpRequest("POST", f"{twin.base_url}/v1.0/{path}", json=body))
    return response.status_code, response.json()


class _UserToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, 2_000_000_000)


def _user(twin: Twin, upn: str) -> _UserToken:
    answer = requests.post(
        f"{twin.base_url}/{TENANT}/oauth2/v2.0/token",
        data={
            "client_id": AZURE_CLI_APP_ID,
            "grant_type": "refresh_token",
            "refresh_token": twin.refresh_token(upn),
            "scope": GRAPH_SCOPE + " offline_access openid profile",
        },
        verify=str(twin.ca_file),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return _UserToken(answer.json()["access_token"])


def test_get_member_groups_is_transitive(twin: Twin) -> None:
    client = _graph(twin)  # the app has Directory.Read.All
    status, body = _post(client, twin, f"users/{ALICE}/getMemberGroups", {"securityEnabledOnly": True})
    assert status == 200 and set(body["value"]) == {GROUP_INNER, GROUP_OUTER}
    assert body["@odata.context"].endswith("/v1.0/$metadata#Collection(Edm.String)")
    assert (
        _post(client, twin, "users/alice@contoso.onmicrosoft.com/getMemberGroups", {"securityEnabledOnly": False})[1][
            "value"
        ]
        == body["value"]
    )
    assert set(
        _post(client, twin, f"servicePrincipals/{SP}/getMemberGroups", {"securityEnabledOnly": False})[1]["value"]
    ) == {GROUP_INNER, GROUP_OUTER}
    assert set(
        _post(client, twin, f"directoryObjects/{SP}/getMemberGroups", {"securityEnabledOnly": False})[1]["value"]
    ) == {GROUP_INNER, GROUP_OUTER}
    assert _post(client, twin, f"users/{BOB}/getMemberGroups", {"securityEnabledOnly": True})[1]["value"] == []
    status, bad = _post(client, twin, f"users/{ALICE}/getMemberGroups", {})
    assert status == 400 and bad["error"]["code"] == "Request_BadRequest"
    status, missing = _post(
        client, twin, "users/nobody@contoso.onmicrosoft.com/getMemberGroups", {"securityEnabledOnly": True}
    )
    assert status == 404 and missing["error"]["code"] == "Request_ResourceNotFound"


def test_security_enabled_only_drops_other_groups(twin: Twin) -> None:
    doc = world()
    doc["directory"]["groups"][0]["securityEnabled"] = False  # GROUP_OUTER becomes a Microsoft 365 group
    twin.use(doc)
    client = _graph(twin)
    assert _post(client, twin, f"users/{ALICE}/getMemberGroups", {"securityEnabledOnly": True})[1]["value"] == [
        GROUP_INNER
    ]
    assert set(_post(client, twin, f"users/{ALICE}/getMemberGroups", {"securityEnabledOnly": False})[1]["value"]) == {
        GROUP_INNER,
        GROUP_OUTER,
    }


def test_check_member_groups(twin: Twin) -> None:
    client = _graph(twin)
    other = "6e0f0000-0000-4000-8000-00000000ffff"
    status, body = _post(client, twin, f"users/{ALICE}/checkMemberGroups", {"groupIds": [GROUP_OUTER, other]})
    assert status == 200 and body["value"] == [GROUP_OUTER]
    status, bad = _post(client, twin, f"users/{ALICE}/checkMemberGroups", {"groupIds": [other] * 21})
    assert status == 400 and bad["error"]["code"] == "Request_BadRequest"


def test_member_groups_need_directory_permissions_except_for_oneself(twin: Twin) -> None:
    doc = world()
    doc["directory"]["permissions"][SP] = ["Application.Read.All"]  # may read apps, not users' memberships
    doc["directory"]["permissions"][ALICE] = ["User.Read"]  # a tenant that restricts default permissions
    twin.use(doc)
    app = _graph(twin)
    status, denied = _post(app, twin, f"users/{ALICE}/getMemberGroups", {"securityEnabledOnly": True})
    assert status == 403 and denied["error"]["code"] == "Authorization_RequestDenied"
    assert _post(app, twin, f"users/{ALICE}/checkMemberGroups", {"groupIds": [GROUP_OUTER]})[0] == 403
    assert _post(app, twin, f"directoryObjects/{ALICE}/getMemberGroups", {"securityEnabledOnly": True})[0] == 403
    alice = _graph(twin, _user(twin, "alice@contoso.onmicrosoft.com"))
    status, own = _post(alice, twin, "me/getMemberGroups", {"securityEnabledOnly": True})
    assert status == 200 and set(own["value"]) == {GROUP_INNER, GROUP_OUTER}  # herself: always
    assert _post(alice, twin, f"users/{BOB}/getMemberGroups", {"securityEnabledOnly": True})[0] == 403
    assert twin.requests()[-1].principal == ALICE
