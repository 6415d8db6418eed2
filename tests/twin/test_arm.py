"""ARM on the twin, driven by the REAL azure-mgmt clients (no mocks): shapes, paging, filters, inheritance,
deny assignments, permissions and ARM's error answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from helpers.twin_fixtures import session_twin
from helpers.twin_world import (
    ACCOUNT,
    ALICE,
    BOB,
    CORP_MG,
    GROUP_OUTER,
    OPENAI_USER,
    OTHER_SP,
    RG,
    ROOT_MG,
    SP,
    SUB,
    SUB2,
    TENANT,
    WORKSPACE,
    arm_kwargs,
    assignment,
    credential,
    world,
)

from preflight.twin import Twin


@pytest.fixture
def arm_twin() -> Iterator[Twin]:
    twin = session_twin()
    twin.use(world(page_size=2))
    yield twin
    assert twin.errors() == []


def authz(twin: Twin, cred: Any = None) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(cred or credential(twin), SUB, **arm_kwargs(twin))


def token(twin: Twin, scope: str = "https://management.azure.com/.default") -> str:
    return credential(twin).get_token(scope).token


def get(twin: Twin, path: str, tok: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return requests.get(twin.base_url + path, params=params, headers=headers, verify=str(twin.ca_file), timeout=10)


def names(items: Any) -> set[str]:
    return {(i.principal_id, i.scope.lower()) for i in items}


def test_cloud_metadata_document(arm_twin: Twin) -> None:
    doc = get(arm_twin, "/metadata/endpoints", **{"api-version": "2022-09-01"}).json()
    root = arm_twin.base_url + "/"
    assert doc["resourceManager"] == root and doc["microsoftGraphResourceId"] == root
    assert doc["authentication"] == {
        "loginEndpoint": root,
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    }
    for key in (
        "name",
        "portal",
        "media",
        "graphAudience",
        "graph",
        "sqlManagement",
        "batch",
        "gallery",
        "activeDirectoryDataLake",
        "suffixes",
    ):
        assert key in doc
    missing = get(arm_twin, "/metadata/endpoints")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"


def test_api_version_is_required(arm_twin: Twin) -> None:
    reply = get(arm_twin, f"/subscriptions/{SUB}", token(arm_twin))
    assert reply.status_code == 400
    assert reply.json() == {
        "error": {
            "code": "MissingApiVersionParameter",
            "message": "The api-version query parameter (?api-version=) is required for all requests.",
        }
    }


def test_subscriptions_and_tenants(arm_twin: Twin) -> None:
    client = SubscriptionClient(credential(arm_twin), **arm_kwargs(arm_twin))
    subs = list(client.subscriptions.list())  # page size 2, two subscriptions: one page
    assert {s.subscription_id for s in subs} == {SUB, SUB2}  # Reader on the "corp" management group
    sub = client.subscriptions.get(SUB)
    assert sub.display_name == "Dev" and sub.tenant_id == TENANT and sub.state == "Enabled"
    assert [t.tenant_id for t in client.tenants.list()] == [TENANT]
    with pytest.raises(ResourceNotFoundError) as info:
        client.subscriptions.get("44444444-4444-4444-8444-444444444444")
    assert info.value.error.code == "SubscriptionNotFound"  # type: ignore[union-attr]


def test_resource_groups_and_generic_resources(arm_twin: Twin) -> None:
    client = ResourceManagementClient(credential(arm_twin), SUB, **arm_kwargs(arm_twin))
    assert {g.name for g in client.resource_groups.list()} == {"rg-ai", "rg-other"}
    assert client.resource_groups.get("RG-AI").location == "eastus"  # ids are case-insensitive
    assert client.resource_groups.check_existence("rg-ai") is True  # HEAD
    assert client.resource_groups.check_existence("rg-missing") is False
    with pytest.raises(ResourceNotFoundError) as info:
        client.resource_groups.get("rg-missing")
    assert info.value.error.code == "ResourceGroupNotFound"  # type: ignore[union-attr]
    assert info.value.error.message == "Resource group 'rg-missing' could not be found."  # type: ignore[union-attr]
    ws = client.resources.get_by_id(WORKSPACE, api_version="2024-04-01")
    assert ws.type == "Microsoft.MachineLearningServices/workspaces" and ws.name == "ml-ws"
    with pytest.raises(ResourceNotFoundError) as info:
        client.resources.get_by_id(
            RG + "/providers/Microsoft.CognitiveServices/accounts/nope", api_version="2025-09-01"
        )
    assert info.value.error.code == "ResourceNotFound"  # type: ignore[union-attr]
    assert "Microsoft.CognitiveServices/accounts/nope" in info.value.error.message  # type: ignore[union-attr]


def test_cognitive_services_accounts(arm_twin: Twin) -> None:
    client = CognitiveServicesManagementClient(credential(arm_twin), SUB, **arm_kwargs(arm_twin))
    account = client.accounts.get("rg-ai", "contoso-openai")
    assert account.kind == "OpenAI" and account.properties.custom_sub_domain_name == "contoso-openai"
    assert account.properties.endpoint == f"{arm_twin.base_url}/dataplane/contoso-openai/"
    assert account.properties.public_network_access == "Enabled"
    assert {a.name for a in client.accounts.list()} == {"contoso-openai", "other-openai"}
    assert [a.name for a in client.accounts.list_by_resource_group("rg-ai")] == ["contoso-openai"]
    deployments = list(client.deployments.list("rg-ai", "contoso-openai"))
    assert [d.name for d in deployments] == ["gpt-4o"]
    assert deployments[0].properties.model.name == "gpt-4o"
    raw = get(arm_twin, ACCOUNT, token(arm_twin), **{"api-version": "2025-09-01"}).json()
    assert "x-twin-keys" not in raw  # twin-only fields never go on the wire


def test_role_assignments_without_filter_span_above_and_below(arm_twin: Twin) -> None:
    found = list(authz(arm_twin).role_assignments.list_for_scope(RG))
    assert names(found) == {
        (SP, CORP_MG.lower()),
        (BOB, ROOT_MG.lower()),
        (ALICE, f"/subscriptions/{SUB}"),
        (ALICE, RG.lower()),
        (GROUP_OUTER, ACCOUNT.lower()),
    }
    pages = [e for e in arm_twin.requests() if e.path.endswith("/roleAssignments")]
    assert len(pages) == 3 and "$skiptoken" in pages[1].query  # 5 items, pages of 2, absolute nextLinks
    ra = next(r for r in found if r.principal_id == GROUP_OUTER)
    assert (
        ra.role_definition_id == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_USER}"
    )
    assert ra.principal_type == "Group" and ra.type == "Microsoft.Authorization/roleAssignments"


def test_role_assignment_filters(arm_twin: Twin) -> None:
    client = authz(arm_twin)
    at = names(client.role_assignments.list_for_scope(RG, filter="atScope()"))
    assert (GROUP_OUTER, ACCOUNT.lower()) not in at and (SP, CORP_MG.lower()) in at
    assigned = names(client.role_assignments.list_for_scope(ACCOUNT, filter=f"assignedTo('{SP}')"))
    assert assigned == {(SP, CORP_MG.lower()), (GROUP_OUTER, ACCOUNT.lower())}  # via the nested group
    direct = names(client.role_assignments.list_for_scope(ACCOUNT, filter=f"principalId eq '{SP}'"))
    assert direct == {(SP, CORP_MG.lower())}
    both = names(
        client.role_assignments.list_for_scope(f"/subscriptions/{SUB}", filter=f"atScope() and assignedTo('{SP}')")
    )
    assert both == {(SP, CORP_MG.lower())}
    # the subscription-level operation sends the same path
    subs = names(client.role_assignments.list_for_subscription(filter=f"principalId eq '{ALICE}'"))
    assert subs == {(ALICE, f"/subscriptions/{SUB}"), (ALICE, RG.lower())}
    with pytest.raises(HttpResponseError) as info:
        list(client.role_assignments.list_for_scope(RG, filter="roleName eq 'Reader'"))
    assert info.value.status_code == 400 and info.value.error.code == "UnsupportedQuery"  # type: ignore[union-attr]


def test_role_assignment_get_by_id(arm_twin: Twin) -> None:
    client = authz(arm_twin)
    first = next(iter(client.role_assignments.list_for_scope(ACCOUNT, filter="atScope()")))
    again = client.role_assignments.get_by_id(first.id)
    assert again.id == first.id and again.principal_id == first.principal_id
    with pytest.raises(ResourceNotFoundError) as info:
        client.role_assignments.get(RG, "00000000-0000-4000-8000-00000000dead")
    assert info.value.error.code == "RoleAssignmentNotFound"  # type: ignore[union-attr]


def test_role_definitions(arm_twin: Twin) -> None:
    client = authz(arm_twin)
    scope = f"/subscriptions/{SUB}"
    rd = client.role_definitions.get(scope, OPENAI_USER)
    assert rd.role_name == "Cognitive Services OpenAI User" and rd.role_type == "BuiltInRole"
    assert rd.id == f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_USER}"
    assert "Microsoft.CognitiveServices/accounts/OpenAI/*/read" in rd.permissions[0].data_actions
    by_id = client.role_definitions.get_by_id(rd.id)
    assert by_id.role_name == rd.role_name
    readers = list(client.role_definitions.list(scope, filter="roleName eq 'Reader'"))
    assert [r.role_name for r in readers] == ["Reader"]
    builtins = list(client.role_definitions.list(RG, filter="type eq 'BuiltInRole'"))
    assert len(builtins) >= 11 and all(r.role_type == "BuiltInRole" for r in builtins)
    with pytest.raises(ResourceNotFoundError) as info:
        client.role_definitions.get(scope, "00000000-0000-4000-8000-000000000000")
    assert info.value.error.code == "RoleDefinitionDoesNotExist"  # type: ignore[union-attr]


def test_custom_role_definitions_and_permissions(arm_twin: Twin) -> None:
    doc = world()
    custom = "0e0e0e0e-0000-4000-8000-0000000000ce"
    doc["roleDefinitions"] = [
        {
            "name": custom,
            "properties": {
                "roleName": "OpenAI reader (custom)",
                "assignableScopes": [f"/subscriptions/{SUB}"],
                "permissions": [
                    {
                        "actions": ["Microsoft.CognitiveServices/accounts/read"],
                        "dataActions": ["Microsoft.CognitiveServices/accounts/OpenAI/*"],
                        "notDataActions": [
                            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
                        ],
                    }
                ],
            },
        }
    ]
    doc["roleAssignments"].append(assignment("OpenAI reader (custom)", SP, RG))
    arm_twin.use(doc)
    client = authz(arm_twin)
    got = client.role_definitions.get(f"/subscriptions/{SUB}", custom)
    assert got.role_type == "CustomRole" and got.role_name == "OpenAI reader (custom)"
    customs = list(client.role_definitions.list(RG, filter="type eq 'CustomRole'"))
    assert [c.name for c in customs] == [custom]
    perms = list(
        client.permissions.list_for_resource("rg-ai", "Microsoft.CognitiveServices", "", "accounts", "contoso-openai")
    )
    actions = {a for p in perms for a in p.actions}
    data = {a for p in perms for a in p.data_actions}
    not_data = {a for p in perms for a in p.not_data_actions}
    assert {"*/read", "Microsoft.CognitiveServices/accounts/read"} <= actions
    assert "Microsoft.CognitiveServices/accounts/OpenAI/*" in data  # custom at the RG
    assert "Microsoft.CognitiveServices/accounts/OpenAI/*/read" in data  # OpenAI User via the nested group
    assert "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action" in not_data
    at_rg = list(client.permissions.list_for_resource_group("rg-ai"))
    assert not any("OpenAI/*/read" in a for p in at_rg for a in p.data_actions)  # the account role is below
    # the SDK sends `//` and lower-case `resourcegroups` for the empty parent path: matched all the same
    assert any(
        "/resourcegroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-openai/providers/" in e.path
        for e in arm_twin.requests()
    )


def test_deny_assignments(arm_twin: Twin) -> None:
    doc = world()
    doc["denyAssignments"] = [
        {
            "properties": {
                "scope": RG,
                "denyAssignmentName": "no openai data",
                "permissions": [{"dataActions": ["Microsoft.CognitiveServices/accounts/OpenAI/*"]}],
                "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
                "excludePrincipals": [{"id": ALICE, "type": "User"}],
            }
        }
    ]
    arm_twin.use(doc)
    client = authz(arm_twin)
    below = list(client.deny_assignments.list_for_scope(ACCOUNT))
    assert [d.deny_assignment_name for d in below] == ["no openai data"]
    assert below[0].principals[0].id == "00000000-0000-0000-0000-000000000000"
    assert below[0].exclude_principals[0].id == ALICE
    assert list(client.deny_assignments.list_for_scope(f"/subscriptions/{SUB}", filter="atScope()")) == []
    assert len(list(client.deny_assignments.list_for_scope(f"/subscriptions/{SUB}"))) == 1  # below the scope
    got = client.deny_assignments.get_by_id(below[0].id)
    assert got.is_system_protected is True
    assert len(list(client.deny_assignments.list_for_scope(ACCOUNT, filter=f"principalId eq '{SP}'"))) == 1
    assert list(client.deny_assignments.list_for_scope(ACCOUNT, filter=f"principalId eq '{ALICE}'")) == []


def test_authorization_failed_for_a_caller_without_read(arm_twin: Twin) -> None:
    doc = world()
    other_app = "d2d2d2d2-0000-4000-8000-0000000000c1"
    doc["directory"]["applications"].append(
        {
            "id": "d2d2d2d2-0000-4000-8000-0000000000a0",
            "appId": other_app,
            "displayName": "other-app",
            "passwordCredentials": [
                {
                    "keyId": "5ec7e7a0-0000-4000-8000-000000000002",
                    "endDateTime": "@now+1d",
                    "x-twin-secretText": "other",
                }
            ],
        }
    )
    arm_twin.use(doc)
    cred = credential(arm_twin, other_app, "other")
    cs = CognitiveServicesManagementClient(cred, SUB, **arm_kwargs(arm_twin))
    assert cs.accounts.get("rg-other", "other-openai").name == "other-openai"  # Cognitive Services User
    with pytest.raises(HttpResponseError) as info:
        cs.accounts.get("rg-ai", "contoso-openai")
    assert info.value.status_code == 403 and info.value.error.code == "AuthorizationFailed"  # type: ignore[union-attr]
    assert info.value.error.message == (  # type: ignore[union-attr]
        f"The client '{OTHER_SP}' with object id '{OTHER_SP}' does not have authorization to perform action "
        f"'Microsoft.CognitiveServices/accounts/read' over scope '{ACCOUNT}' or the scope is invalid. If access "
        "was recently granted, please refresh your credentials."
    )
    assert [a.name for a in cs.accounts.list()] == ["other-openai"]  # lists are filtered, not refused
    with pytest.raises(HttpResponseError) as info:
        list(authz(arm_twin, cred).role_assignments.list_for_scope(RG))
    assert info.value.status_code == 403
    entry = next(e for e in arm_twin.requests() if e.status == 403)
    assert entry.principal == OTHER_SP


def test_tokens_for_the_wrong_audience_are_refused(arm_twin: Twin) -> None:
    graph_token = token(arm_twin, "https://graph.microsoft.com/.default")
    reply = get(arm_twin, f"/subscriptions/{SUB}", graph_token, **{"api-version": "2022-12-01"})
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    client = ResourceManagementClient(
        credential(arm_twin),
        SUB,
        base_url=arm_twin.base_url,
        credential_scopes=["https://graph.microsoft.com/.default"],
        connection_verify=str(arm_twin.ca_file),
    )
    with pytest.raises(ClientAuthenticationError):
        client.resource_groups.get("rg-ai")


def test_inheritance_through_management_groups(arm_twin: Twin) -> None:
    # The SP's only ARM role is Reader on the "corp" management group: it can read everything below.
    client = ResourceManagementClient(credential(arm_twin), SUB2, **arm_kwargs(arm_twin))
    assert [g.name for g in client.resource_groups.list()] == ["rg-prod"]
    doc = world()
    doc["managementGroups"][1]["x-twin-subscriptions"] = [SUB]  # SUB2 now sits under the root group only
    arm_twin.use(doc)
    client = ResourceManagementClient(credential(arm_twin), SUB2, **arm_kwargs(arm_twin))
    with pytest.raises(HttpResponseError) as info:
        list(client.resource_groups.list())
    assert info.value.status_code == 403
    assert f"The client '{SP}' with object id '{SP}'" in info.value.error.message  # type: ignore[union-attr]


def test_filtered_paging_keeps_the_filter(arm_twin: Twin) -> None:
    arm_twin.use(world(page_size=1))
    client = authz(arm_twin)
    found = names(client.role_assignments.list_for_scope(f"/subscriptions/{SUB}", filter=f"assignedTo('{ALICE}')"))
    assert found == {(ALICE, f"/subscriptions/{SUB}"), (ALICE, RG.lower()), (GROUP_OUTER, ACCOUNT.lower())}
    pages = [e for e in arm_twin.requests() if e.path.endswith("/roleAssignments")]
    assert len(pages) == 3 and all(f"assignedTo('{ALICE}')" in p.query.get("$filter", "") for p in pages)


def test_management_group_scope_and_raw_encodings(arm_twin: Twin) -> None:
    tok = token(arm_twin)
    reply = get(
        arm_twin,
        f"{CORP_MG}/providers/Microsoft.Authorization/roleAssignments",
        tok,
        **{"api-version": "2022-04-01", "$filter": "atScope()"},
    )
    assert reply.status_code == 200
    assert {r["properties"]["scope"] for r in reply.json()["value"]} == {CORP_MG, ROOT_MG}
    # az and hand-written clients encode differently: %24filter, '+' for spaces, upper-case paths
    url = (
        f"{arm_twin.base_url}/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-AI/providers/microsoft.authorization/"
        f"roleassignments?api-version=2022-04-01&%24filter=principalId+eq+%27{SP}%27"
    )
    raw = requests.get(url, headers={"Authorization": f"Bearer {tok}"}, verify=str(arm_twin.ca_file), timeout=10)
    assert raw.status_code == 200 and [r["properties"]["principalId"] for r in raw.json()["value"]] == [SP]


_SEGMENTS = [
    "subscriptions",
    SUB,
    "resourceGroups",
    "rg-ai",
    "providers",
    "Microsoft.Authorization",
    "roleAssignments",
    "roleDefinitions",
    "denyAssignments",
    "permissions",
    "Microsoft.CognitiveServices",
    "accounts",
    "contoso-openai",
    "deployments",
    "Microsoft.Management",
    "managementGroups",
    "corp",
    "x",
    "",
    "%2F",
    "..",
    "metadata",
    "endpoints",
    "tenants",
]


def test_handlers_never_crash_on_odd_paths_and_filters(arm_twin: Twin) -> None:
    """Any path and $filter the router sends to these services gets an HTTP answer, never an exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from preflight.twin import arm, resource_graph
    from preflight.twin.http import Router, TwinRequest

    router = Router()
    arm.register(router)
    resource_graph.register(router)
    headers = {"authorization": f"Bearer {token(arm_twin)}"}

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=12),
        st.one_of(
            st.none(),
            st.text(max_size=40),
            st.sampled_from(
                [
                    "atScope()",
                    f"assignedTo('{SP}')",
                    "principalId eq ",
                    "roleName eq 'x' and type eq 'y'",
                    "atScope() and and",
                    "assignedTo(')",
                ]
            ),
        ),
    )
    def run(segments: list[str], filt: str | None) -> None:
        path = "/" + "/".join(segments)
        query = {"api-version": "2022-04-01"}
        if filt is not None:
            query["$filter"] = filt
        for method in ("GET", "POST"):
            found = router.resolve(method, path)
            if found is None:
                continue
            route, match = found
            body = b'{"query": "resources | where type =~ \'microsoft.cognitiveservices/accounts\'"}'
            response = route.handler(arm_twin.server, TwinRequest(method, path, query, headers, body), match)
            assert 200 <= response.status < 500

    run()


def test_a_subscription_without_any_role_is_authorization_failed(arm_twin: Twin) -> None:
    doc = world()
    doc["managementGroups"][1]["x-twin-subscriptions"] = [SUB]
    arm_twin.use(doc)
    client = SubscriptionClient(credential(arm_twin), **arm_kwargs(arm_twin))
    assert [s.subscription_id for s in client.subscriptions.list()] == [SUB]
    with pytest.raises(HttpResponseError) as info:
        client.subscriptions.get(SUB2)
    assert info.value.status_code == 403 and info.value.error.code == "AuthorizationFailed"  # type: ignore[union-attr]
    assert "'Microsoft.Resources/subscriptions/read' over scope" in info.value.error.message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        f"principalId eq {SP}",
        f"atScope() and principalId eq '{SP}'",
        "roleDefinitionId eq 'x'",
        f"principalId eq '{SP}' and assignedTo('{SP}')",
    ],
)
def test_unsupported_role_assignment_filters(arm_twin: Twin, text: str) -> None:
    reply = get(
        arm_twin,
        f"{RG}/providers/Microsoft.Authorization/roleAssignments",
        token(arm_twin),
        **{"api-version": "2022-04-01", "$filter": text},
    )
    assert reply.status_code == 400
    assert reply.json() == {
        "error": {
            "code": "UnsupportedQuery",
            "message": (
                f"The filter '{text}' is not supported. Supported filters are either 'atScope()' or "
                "'principalId eq '{value}' or assignedTo('{value}')'."
            ),
        }
    }


def test_management_groups(arm_twin: Twin) -> None:
    tok = token(arm_twin)
    listed = get(arm_twin, "/providers/Microsoft.Management/managementGroups", tok, **{"api-version": "2021-04-01"})
    assert [g["name"] for g in listed.json()["value"]] == ["corp"]  # Reader at corp: the root is above it
    corp = get(
        arm_twin,
        CORP_MG,
        tok,
        **{"api-version": "2021-04-01", "$expand": "children,path,ancestors", "$recurse": "true"},
    ).json()
    assert corp["type"] == "Microsoft.Management/managementGroups" and corp["properties"]["displayName"] == "Corp"
    details = corp["properties"]["details"]
    assert details["parent"] == {"id": ROOT_MG, "name": TENANT, "displayName": "Tenant Root Group"}
    assert details["path"] == [{"name": TENANT, "displayName": "Tenant Root Group"}]
    assert details["managementGroupAncestors"] == [TENANT]
    assert {(c["type"], c["name"]) for c in corp["properties"]["children"]} == {
        ("/subscriptions", SUB),
        ("/subscriptions", SUB2),
    }
    root = get(arm_twin, ROOT_MG, tok, **{"api-version": "2021-04-01"})
    assert root.status_code == 403 and root.json()["error"]["code"] == "AuthorizationFailed"


def test_resources_list_with_filters(arm_twin: Twin) -> None:
    client = ResourceManagementClient(credential(arm_twin), SUB, **arm_kwargs(arm_twin))
    accounts = list(client.resources.list(filter="resourceType eq 'Microsoft.CognitiveServices/accounts'"))
    assert {a.name for a in accounts} == {"contoso-openai", "other-openai"}
    assert all(a.properties is None for a in accounts)  # lists carry no properties, as in ARM
    named = list(
        client.resources.list_by_resource_group(
            "rg-ai", filter="resourceType eq 'Microsoft.MachineLearningServices/workspaces' and name eq 'ml-ws'"
        )
    )
    assert [r.id for r in named] == [WORKSPACE]
    assert len(list(client.resources.list())) == 4  # two accounts, a deployment and a workspace
    with pytest.raises(HttpResponseError) as info:
        list(client.resources.list(filter="location eq 'eastus'"))
    assert info.value.error.code == "InvalidFilterInQueryString"  # type: ignore[union-attr]


def test_throttled_scenario_is_retried_by_the_sdk(arm_twin: Twin) -> None:
    """The built-in ``throttled`` scenario (its Retry-After lowered to 0 so the test never sleeps): the SDK's
    retry policy absorbs both 429s and the request log shows them."""
    import json

    from azure.core.credentials import AccessToken

    from preflight.twin.scenario import builtin_scenario_text
    from preflight.twin.tokens import AZURE_CLI_APP_ID

    doc = json.loads(builtin_scenario_text("throttled"))
    doc["faults"][0]["retryAfter"] = 0
    arm_twin.use(doc)
    answer = requests.post(
        f"{arm_twin.base_url}/{arm_twin.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": AZURE_CLI_APP_ID,
            "grant_type": "refresh_token",
            "scope": "https://management.azure.com/.default",
            "refresh_token": arm_twin.refresh_token("alice@contoso.onmicrosoft.com"),
        },
        verify=str(arm_twin.ca_file),
        timeout=10,
    )
    access_token = answer.json()["access_token"]

    class Static:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(access_token, 2_000_000_000)

    client = CognitiveServicesManagementClient(
        Static(), arm_twin.scenario["target"]["subscriptionId"], retry_backoff_factor=0, **arm_kwargs(arm_twin)
    )
    assert client.accounts.get("rg-ai", "contoso-openai").name == "contoso-openai"
    statuses = [e.status for e in arm_twin.requests() if e.service == "arm"]
    assert statuses == [429, 429, 200]


def test_tokens_from_another_tenant(arm_twin: Twin) -> None:
    """Tenant-level lists accept any tenant's token (answering that tenant's subscriptions: none here);
    a subscription refuses a token not issued by its own tenant."""
    from preflight.twin import tokens

    other = "99999999-9999-4999-8999-999999999999"
    doc = world()
    doc["otherTenants"] = [{"id": other, "displayName": "Fabrikam", "defaultDomain": "fabrikam.onmicrosoft.com"}]
    arm_twin.use(doc)
    alice = next(u for u in arm_twin.scenario["directory"]["users"] if u["id"] == ALICE)
    claims = tokens.user_claims(
        tenant_id=other,
        audience="https://management.azure.com",
        user=alice,
        client_id=tokens.AZURE_CLI_APP_ID,
        base_url=arm_twin.base_url,
        now=arm_twin.server.now(),
    )
    foreign = arm_twin.server.issuer.sign(claims)
    listed = get(arm_twin, "/subscriptions", foreign, **{"api-version": "2022-12-01"})
    assert listed.status_code == 200 and listed.json()["value"] == []
    tenants = get(arm_twin, "/tenants", foreign, **{"api-version": "2022-12-01"}).json()["value"]
    assert [t["tenantId"] for t in tenants] == [other] and tenants[0]["id"] == f"/tenants/{other}"
    refused = get(arm_twin, f"/subscriptions/{SUB}/resourceGroups", foreign, **{"api-version": "2022-12-01"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"


def test_provider_operations_metadata_through_the_real_sdk(arm_twin: Twin) -> None:
    """Provider Operations Metadata - Get (api-version 2022-04-01), read by the real client: every operation's
    isDataAction, resource types only with $expand=resourceTypes; any signed-in caller may read it."""
    doc = world()
    other_app = "d2d2d2d2-0000-4000-8000-0000000000c1"  # a caller with no role at all
    doc["directory"]["applications"].append(
        {
            "id": "d2d2d2d2-0000-4000-8000-0000000000a0",
            "appId": other_app,
            "displayName": "no-roles",
            "passwordCredentials": [
                {
                    "keyId": "5ec7e7a0-0000-4000-8000-000000000002",
                    "endDateTime": "@now+1d",
                    "x-twin-secretText": "other",
                }
            ],
        }
    )
    doc["roleAssignments"] = [ra for ra in doc["roleAssignments"] if ra["properties"]["principalId"] != OTHER_SP]
    arm_twin.use(doc)
    meta = authz(arm_twin, credential(arm_twin, other_app, "other")).provider_operations_metadata.get(
        "microsoft.cognitiveservices", expand="resourceTypes"
    )
    assert meta.name == "Microsoft.CognitiveServices" and meta.type == "Microsoft.Authorization/providerOperations"
    planes = {op.name: op.is_data_action for rt in meta.resource_types for op in rt.operations}
    assert planes["Microsoft.CognitiveServices/accounts/listKeys/action"] is False
    assert planes["Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"] is True
    assert len(planes) > 1500
    bare = get(
        arm_twin,
        "/providers/Microsoft.Authorization/providerOperations/Microsoft.Authorization",
        token(arm_twin),
        **{"api-version": "2022-04-01"},
    ).json()
    assert (
        "resourceTypes" not in bare and bare["operations"][0]["name"] == "Microsoft.Authorization/elevateAccess/action"
    )


def test_provider_operations_unknown_namespace_and_scenario_additions(arm_twin: Twin) -> None:
    missing = get(
        arm_twin,
        "/providers/Microsoft.Authorization/providerOperations/Contoso.Widgets",
        token(arm_twin),
        **{"api-version": "2022-04-01", "$expand": "resourceTypes"},
    )
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "InvalidResourceNamespace", "message": "The resource namespace 'Contoso.Widgets' is invalid."}
    }
    with pytest.raises(ResourceNotFoundError):
        authz(arm_twin).provider_operations_metadata.get("Contoso.Widgets")
    assert (
        get(
            arm_twin,
            "/providers/Microsoft.Authorization/providerOperations/Microsoft.Authorization",
            **{"api-version": "2022-04-01"},
        ).status_code
        == 401
    )  # signed in, like every ARM read
    doc = world()
    doc["options"]["x-providerOperations"] = [
        {
            "name": "Contoso.Widgets",
            "displayName": "Widgets",
            "operations": [
                {"name": "Contoso.Widgets/widgets/read", "isDataAction": False},
                {"name": "Contoso.Widgets/widgets/spin/action", "isDataAction": True},
            ],
        }
    ]
    arm_twin.use(doc)
    listed = get(
        arm_twin,
        "/providers/Microsoft.Authorization/providerOperations",
        token(arm_twin),
        **{"api-version": "2022-04-01"},
    ).json()["value"]
    assert [d["name"] for d in listed][:2] == ["Contoso.Widgets", "Microsoft.Authorization"]
    meta = authz(arm_twin).provider_operations_metadata.get("Contoso.Widgets")
    assert [(op.name, op.is_data_action) for op in meta.operations] == [
        ("Contoso.Widgets/widgets/read", False),
        ("Contoso.Widgets/widgets/spin/action", True),
    ]
