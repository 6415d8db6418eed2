"""The least-privilege built-in scenarios (issue 15): each identity signs in the way the scenario says (the real
``az`` shim, a client secret from the environment, the App Service managed identity endpoint), then calls ARM
through the real azure-mgmt clients and the data plane with plain HTTP. What must hold is what real Azure
answers for that setup — docs/twin-scenarios.md, "Least-privilege scenarios", lists the same table for the
product's tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient

from helpers.twin_fixtures import apply_environment, session_twin

from preflight.twin import Twin, decode_claims

ARM_SCOPE = "https://management.azure.com/.default"
COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SUB = "22222222-2222-4222-8222-222222222222"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ai"
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
WORKSPACE = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/contoso-ml"
API = {"api-version": "2024-10-21"}

ALLOWED, REFUSED = 200, 403


@dataclass(frozen=True)
class Expected:
    """What real Azure answers the scenario's signed-in identity at its target."""

    role_assignments: int
    deny_assignments: int
    role_definitions: int
    resource: int
    data: dict[str, int] = field(default_factory=dict)  # data-plane call -> status
    graph_permissions: tuple[str, ...] | None = None  # None: a user (the tenant's default permissions)


ALL_DATA = {"deployments": 200, "chat": 200, "models": 200}
NO_DATA = {"deployments": 401, "chat": 401, "models": 401}

EXPECTED = {
    # Cognitive Services OpenAI User: */read on CognitiveServices, roleAssignments/read, roleDefinitions/read
    "dev-data-role-only": Expected(ALLOWED, REFUSED, ALLOWED, ALLOWED, ALL_DATA),
    # Cognitive Services User: CognitiveServices/*/read and dataActions CognitiveServices/*; no Authorization reads
    "cs-user-subscription": Expected(REFUSED, REFUSED, REFUSED, ALLOWED, ALL_DATA),
    "ci-sp-data-role": Expected(ALLOWED, REFUSED, ALLOWED, ALLOWED, ALL_DATA, graph_permissions=()),
    "mi-via-group": Expected(ALLOWED, REFUSED, ALLOWED, ALLOWED, ALL_DATA, graph_permissions=()),
    # no actions at all; dataActions chat/completions + deployments/read only (models/read is not among them)
    "custom-data-only": Expected(REFUSED, REFUSED, REFUSED, REFUSED, {"deployments": 200, "chat": 200, "models": 401}),
    # Speech User: the same actions as OpenAI User, data actions for Speech only
    "wrong-data-role": Expected(ALLOWED, REFUSED, ALLOWED, ALLOWED, NO_DATA),
    # AzureML Data Scientist: Microsoft.MachineLearningServices/workspaces/*/{read,action,write,delete} only
    "ml-data-scientist": Expected(REFUSED, REFUSED, REFUSED, ALLOWED),
}


@pytest.fixture(scope="module")
def lp_twin() -> Twin:
    """The session twin; each test serves its own scenario (``use()`` is cheap, one server for the module)."""
    return session_twin()


@dataclass
class Signed:
    """A scenario being served, and its signed-in identity's credential (the one the scenario sets up)."""

    twin: Twin
    name: str
    credential: Any
    target: str

    def token(self, scope: str) -> str:
        return str(self.credential.get_token(scope).token)

    def arm_get(self, path: str, **params: str) -> requests.Response:
        return requests.get(
            self.twin.base_url + path,
            params={"api-version": "2022-04-01", **params},
            headers={"Authorization": f"Bearer {self.token(ARM_SCOPE)}"},
            verify=str(self.twin.ca_file),
            timeout=10,
        )

    def authorization(self) -> AuthorizationManagementClient:
        return AuthorizationManagementClient(
            self.credential,
            SUB,
            base_url=self.twin.base_url,
            credential_scopes=[ARM_SCOPE],
            connection_verify=str(self.twin.ca_file),
        )


def _credential(twin: Twin) -> Any:
    """The credential the scenario's sign-in provides (DefaultAzureCredential would pick the same one)."""
    from azure.identity import AzureCliCredential, EnvironmentCredential, ManagedIdentityCredential

    sign_in = twin.scenario["signIn"]
    if sign_in.get("azureCli"):
        return AzureCliCredential(process_timeout=30)
    if sign_in.get("environment"):
        return EnvironmentCredential(disable_instance_discovery=True)
    assert sign_in.get("managedIdentity"), "scenario without a sign-in"
    return ManagedIdentityCredential()


@pytest.fixture
def signed(request: pytest.FixtureRequest, lp_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> Iterator[Signed]:
    name = request.param
    lp_twin.use(name)
    apply_environment(monkeypatch, lp_twin.environment())
    yield Signed(lp_twin, name, _credential(lp_twin), lp_twin.scenario["target"]["resourceId"])
    assert lp_twin.errors() == []


def status_of(call: Any) -> int:
    """200 if the SDK call succeeded, else the HTTP status it raised (AuthorizationFailed is a 403)."""
    try:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, (dict, str)):
            list(result)
    except HttpResponseError as exc:
        if exc.status_code == 403:
            assert exc.error is not None and exc.error.code == "AuthorizationFailed", exc
        return int(exc.status_code or 0)
    return 200


def _resource_parts(resource_id: str) -> dict[str, str]:
    parts = resource_id.strip("/").split("/")
    return {
        "resource_group_name": parts[3],
        "resource_provider_namespace": parts[5],
        "parent_resource_path": "",
        "resource_type": parts[6],
        "resource_name": parts[7],
    }


SCENARIOS = sorted(EXPECTED)


@pytest.mark.parametrize("signed", SCENARIOS, indirect=True)
def test_authorization_reads_answer_as_azure_does(signed: Signed) -> None:
    expected = EXPECTED[signed.name]
    client = signed.authorization()
    oid = decode_claims(signed.token(ARM_SCOPE))["oid"]
    assert (
        status_of(
            lambda: client.role_assignments.list_for_scope(signed.target, filter=f"atScope() and assignedTo('{oid}')")
        )
        == expected.role_assignments
    )
    assert status_of(lambda: client.deny_assignments.list_for_scope(signed.target)) == expected.deny_assignments
    assert status_of(lambda: client.role_definitions.list(signed.target)) == expected.role_definitions
    # reading one definition by id at the target (not at the subscription, where a role held on the account
    # gives no read)
    guid = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
    assert status_of(lambda: client.role_definitions.get(signed.target, guid)) == expected.role_definitions
    if expected.role_definitions == ALLOWED and signed.name != "cs-user-subscription":
        assert status_of(lambda: client.role_definitions.get(f"/subscriptions/{SUB}", guid)) == REFUSED
    # the caller's own effective permissions: readable by anyone for themselves
    blocks = list(client.permissions.list_for_resource(**_resource_parts(signed.target)))
    assert blocks, "every scenario's identity holds some role at its target"


def _expected_resource_status(name: str) -> int:
    return EXPECTED[name].resource


@pytest.mark.parametrize("signed", SCENARIOS, indirect=True)
def test_the_target_resource_get(signed: Signed) -> None:
    api = "2025-09-01" if "CognitiveServices" in signed.target else "2024-10-01"
    answer = signed.arm_get(signed.target, **{"api-version": api})
    assert answer.status_code == EXPECTED[signed.name].resource, answer.text
    if answer.status_code == 403:
        assert answer.json()["error"]["code"] == "AuthorizationFailed"


@pytest.mark.parametrize("signed", SCENARIOS, indirect=True)
def test_the_permissions_api_names_the_roles_blocks(signed: Signed) -> None:
    answer = signed.arm_get(signed.target + "/providers/Microsoft.Authorization/permissions")
    assert answer.status_code == 200, answer.text
    blocks = answer.json()["value"]
    data_actions = {a for b in blocks for a in b["dataActions"]}
    actions = {a for b in blocks for a in b["actions"]}
    if signed.name == "custom-data-only":
        assert actions == set() and data_actions == {
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read",
        }
    if signed.name == "cs-user-subscription":
        assert "Microsoft.CognitiveServices/*" in data_actions  # inherited from the subscription
        assert not any(a.startswith("Microsoft.Authorization") for a in actions)


def _data_call(signed: Signed, call: str) -> requests.Response:
    account = next(r for r in signed.twin.scenario["resources"] if r["id"].lower() == signed.target.lower())
    base = account["properties"]["endpoint"]
    headers = {"Authorization": f"Bearer {signed.token(COGNITIVE_SCOPE)}"}
    if call == "chat":
        return requests.post(
            base + "openai/deployments/gpt-4o/chat/completions",
            params=API,
            headers=headers,
            json={"messages": [{"role": "user", "content": "hi"}]},
            verify=str(signed.twin.ca_file),
            timeout=10,
        )
    path = {"deployments": "openai/deployments", "models": "openai/models"}[call]
    return requests.get(base + path, params=API, headers=headers, verify=str(signed.twin.ca_file), timeout=10)


DATA_CASES = [(name, call) for name in SCENARIOS for call in sorted(EXPECTED[name].data)]


@pytest.mark.parametrize(("signed", "call"), DATA_CASES, indirect=["signed"])
def test_the_data_plane_answers_as_azure_does(signed: Signed, call: str) -> None:
    answer = _data_call(signed, call)
    assert answer.status_code == EXPECTED[signed.name].data[call], answer.text
    if answer.status_code == 401:
        assert answer.json()["error"]["code"] == "PermissionDenied"


@pytest.mark.parametrize("signed", [n for n in SCENARIOS if EXPECTED[n].graph_permissions is not None], indirect=True)
def test_workload_identities_cannot_read_the_directory(signed: Signed) -> None:
    token = signed.token(GRAPH_SCOPE)
    claims = decode_claims(token)
    assert list(claims.get("roles") or []) == list(EXPECTED[signed.name].graph_permissions or ())

    def graph(path: str) -> requests.Response:
        return requests.get(
            f"{signed.twin.base_url}/v1.0/{path}",
            headers={"Authorization": f"Bearer {token}"},
            verify=str(signed.twin.ca_file),
            timeout=10,
        )

    for path in ("servicePrincipals?$filter=servicePrincipalType eq 'Application'", "users", "groups"):
        answer = graph(path)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "Authorization_RequestDenied"
    # Graph lets an application read its own service principal by object id with no permission (observed and
    # reported: microsoftgraph/microsoft-graph-docs#15880, MicrosoftDocs/feedback#3388)
    assert graph(f"servicePrincipals/{claims['oid']}").status_code == 200


def test_no_scenario_gives_an_extra_read() -> None:
    """The scenarios model least privilege: one role assignment each, never Reader (design.md)."""
    from preflight.twin.scenario import load_scenario

    for name in SCENARIOS:
        doc = load_scenario(name)
        assert len(doc["roleAssignments"]) == 1, name
        assert (
            doc["roleAssignments"][0]["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]
            != "acdd72a7-3385-48ef-bd42-f606fba81ae7"
        ), name  # Reader


# ---------------------------------------------------------------------------------- the audit: reads without checks


def _resource_graph(signed: Signed) -> list[dict[str, Any]]:
    from preflight.azure.resource_graph import role_assignments_query

    answer = requests.post(
        signed.twin.base_url + "/providers/Microsoft.ResourceGraph/resources",
        params={"api-version": "2022-10-01"},
        json={"query": role_assignments_query()},
        headers={"Authorization": f"Bearer {signed.token(ARM_SCOPE)}"},
        verify=str(signed.twin.ca_file),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.mark.parametrize("signed", ["cs-user-subscription", "custom-data-only"], indirect=True)
def test_resource_graph_hides_role_assignments_from_who_may_not_read_them(signed: Signed) -> None:
    """Was: any role in the subscription showed every assignment in it through authorizationresources."""
    assert _resource_graph(signed) == []


@pytest.mark.parametrize("signed", ["dev-data-role-only"], indirect=True)
def test_resource_graph_shows_role_assignments_where_they_may_be_read(signed: Signed) -> None:
    rows = _resource_graph(signed)
    assert [r["properties"]["scope"].lower() for r in rows] == [ACCOUNT.lower()]
