"""Microsoft Graph v1.0 on the twin through azure-core's PipelineClient + BearerTokenCredentialPolicy (how
preflight calls Graph): shapes, ``@odata`` annotations, filters, paging, $batch, getByIds, and the 403/404s."""

from __future__ import annotations

from typing import Any

import requests
from azure.core import PipelineClient
from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from helpers.twin_world import (
    ALICE,
    APP_ID,
    APP_OBJ,
    BOB,
    GROUP_INNER,
    GROUP_OUTER,
    SP,
    TENANT,
    credential,
    world,
)

from preflight.twin import Twin
from preflight.twin.tokens import AZURE_CLI_APP_ID

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class _UserToken:
    """A TokenCredential holding a delegated token the twin issued for a user (refresh-token grant)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2_000_000_000)


def pipeline(twin: Twin, cred: Any = None) -> PipelineClient[Any, Any]:
    policy = BearerTokenCredentialPolicy(cred or credential(twin), GRAPH_SCOPE)
    return PipelineClient(
        twin.base_url, policies=[RetryPolicy(retry_total=0), policy], connection_verify=str(twin.ca_file)
    )


def call(
    client: PipelineClient[Any, Any], twin: Twin, method: str, path: str, body: Any = None, **params: str
) -> tuple[int, Any]:
    url = path if path.startswith("https://") else f"{twin.base_url}/v1.0/{path.lstrip('/')}"
    response = client.send_request(HttpRequest(method, url, params=params or None, json=body))
    return response.status_code, response.json()


def user_credential(twin: Twin, user: str) -> _UserToken:
    answer = requests.post(
        f"{twin.base_url}/{TENANT}/oauth2/v2.0/token",
        data={
            "client_id": AZURE_CLI_APP_ID,
            "grant_type": "refresh_token",
            "refresh_token": twin.refresh_token(user),
            "scope": GRAPH_SCOPE + " offline_access openid profile",
        },
        verify=str(twin.ca_file),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return _UserToken(answer.json()["access_token"])


def test_service_principal_lookups(graph_twin: Twin) -> None:
    client = pipeline(graph_twin)
    status, sp = call(client, graph_twin, "GET", f"servicePrincipals(appId='{APP_ID}')")
    assert status == 200 and sp["id"] == SP and sp["appId"] == APP_ID
    assert sp["@odata.context"] == f"{graph_twin.base_url}/v1.0/$metadata#servicePrincipals/$entity"
    status, by_id = call(client, graph_twin, "GET", f"servicePrincipals/{SP}", **{"$select": "id,appId"})
    assert by_id == {
        "@odata.context": f"{graph_twin.base_url}/v1.0/$metadata#servicePrincipals(id,appId)/$entity",
        "id": SP,
        "appId": APP_ID,
    }
    status, listed = call(client, graph_twin, "GET", "servicePrincipals", **{"$filter": f"appId eq '{APP_ID}'"})
    assert [s["id"] for s in listed["value"]] == [SP]
    status, named = call(client, graph_twin, "GET", "servicePrincipals", **{"$filter": "displayName eq 'other-app'"})
    assert [s["displayName"] for s in named["value"]] == ["other-app"]
    _, spn = call(
        client, graph_twin, "GET", "servicePrincipals", **{"$filter": f"servicePrincipalNames/any(c:c eq '{APP_ID}')"}
    )
    assert [s["id"] for s in spn["value"]] == [SP]
    status, bad = call(client, graph_twin, "GET", "servicePrincipals", **{"$filter": "colour eq 'red'"})
    assert status == 400 and bad["error"]["code"] == "Request_UnsupportedQuery"


def test_applications_hide_secrets(graph_twin: Twin) -> None:
    client = pipeline(graph_twin)
    status, app = call(client, graph_twin, "GET", f"applications(appId='{APP_ID}')")
    assert status == 200 and app["id"] == APP_OBJ
    cred = app["passwordCredentials"][0]
    assert cred["secretText"] is None and cred["hint"] == "twi" and "x-twin-secretText" not in cred
    assert cred["endDateTime"].endswith("Z")
    assert "federatedIdentityCredentials" not in app  # a navigation property, not inline
    _, listed = call(client, graph_twin, "GET", "applications", **{"$filter": f"appId eq '{APP_ID}'"})
    assert [a["id"] for a in listed["value"]] == [APP_OBJ]
    status, fics = call(client, graph_twin, "GET", f"applications/{APP_OBJ}/federatedIdentityCredentials")
    assert status == 200 and fics["value"][0]["subject"] == "repo:contoso/app:ref:refs/heads/main"
    assert fics["@odata.context"].endswith(f"#applications('{APP_OBJ}')/federatedIdentityCredentials")


def test_transitive_membership_groups_and_users(graph_twin: Twin) -> None:
    client = pipeline(graph_twin)
    status, groups = call(client, graph_twin, "GET", f"servicePrincipals/{SP}/transitiveMemberOf")
    assert status == 200 and groups["@odata.context"].endswith("#directoryObjects")
    assert {(g["@odata.type"], g["id"]) for g in groups["value"]} == {
        ("#microsoft.graph.group", GROUP_INNER),
        ("#microsoft.graph.group", GROUP_OUTER),
    }
    _, user_groups = call(client, graph_twin, "GET", f"users/{ALICE}/transitiveMemberOf")
    assert {g["id"] for g in user_groups["value"]} == {GROUP_INNER, GROUP_OUTER}
    status, group = call(client, graph_twin, "GET", f"groups/{GROUP_OUTER}")
    assert status == 200 and group["displayName"] == "AI Developers"
    status, bob = call(client, graph_twin, "GET", "users/bob@contoso.onmicrosoft.com")
    assert status == 200 and bob["id"] == BOB
    status, missing = call(client, graph_twin, "GET", "users/nobody@contoso.onmicrosoft.com")
    assert status == 404 and missing["error"]["code"] == "Request_ResourceNotFound"
    assert missing["error"]["message"] == (
        "Resource 'nobody@contoso.onmicrosoft.com' does not exist or one of its "
        "queried reference-property objects are not present."
    )
    assert set(missing["error"]["innerError"]) >= {"date", "request-id", "client-request-id"}


def test_paging_with_next_link(graph_twin: Twin) -> None:
    graph_twin.use(world(page_size=1))
    client = pipeline(graph_twin)
    _, page = call(client, graph_twin, "GET", "servicePrincipals")
    ids = [s["id"] for s in page["value"]]
    while "@odata.nextLink" in page:
        assert page["@odata.nextLink"].startswith(graph_twin.base_url + "/v1.0/servicePrincipals?")
        _, page = call(client, graph_twin, "GET", page["@odata.nextLink"])
        ids += [s["id"] for s in page["value"]]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_get_by_ids_and_batch(graph_twin: Twin) -> None:
    client = pipeline(graph_twin)
    status, found = call(
        client,
        graph_twin,
        "POST",
        "directoryObjects/getByIds",
        {"ids": [ALICE, SP, GROUP_OUTER, "00000000-0000-4000-8000-000000000000"], "types": ["user", "group"]},
    )
    assert status == 200 and found["@odata.context"].endswith("#directoryObjects")
    assert {(o["@odata.type"], o["id"]) for o in found["value"]} == {
        ("#microsoft.graph.user", ALICE),
        ("#microsoft.graph.group", GROUP_OUTER),
    }
    status, batch = call(
        client,
        graph_twin,
        "POST",
        "$batch",
        {
            "requests": [
                {"id": "1", "method": "GET", "url": f"/servicePrincipals(appId='{APP_ID}')?$select=id"},
                {"id": "2", "method": "GET", "url": f"users/{BOB}"},
                {"id": "3", "method": "GET", "url": "/groups/00000000-0000-4000-8000-000000000000"},
            ]
        },
    )
    assert status == 200
    by_id = {r["id"]: r for r in batch["responses"]}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["id"] == SP and "appId" not in by_id["1"]["body"]
    assert by_id["2"]["body"]["userPrincipalName"] == "bob@contoso.onmicrosoft.com"
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    status, _too_many = call(
        client,
        graph_twin,
        "POST",
        "$batch",
        {"requests": [{"id": str(i), "method": "GET", "url": f"/users/{BOB}"} for i in range(21)]},
    )
    assert status == 400


def test_permissions_decide_what_an_app_may_read(graph_twin: Twin) -> None:
    client = pipeline(graph_twin)
    status, denied = call(client, graph_twin, "GET", "identity/conditionalAccess/policies")
    assert status == 403 and denied["error"]["code"] == "Authorization_RequestDenied"
    assert denied["error"]["message"] == "Insufficient privileges to complete the operation."
    status, me = call(client, graph_twin, "GET", "me")
    assert status == 400 and me["error"]["message"] == "/me request is only valid with delegated authentication flow."
    doc = world()
    doc["directory"]["permissions"][SP] = ["Policy.Read.All"]
    graph_twin.use(doc)
    client = pipeline(graph_twin)
    status, policies = call(client, graph_twin, "GET", "identity/conditionalAccess/policies")
    assert status == 200 and policies["value"][0]["displayName"] == "Require MFA"
    status, denied = call(client, graph_twin, "GET", f"servicePrincipals(appId='{APP_ID}')")
    assert status == 403  # no Application.Read.All any more — not even for itself
    assert graph_twin.requests()[-1].principal == SP


def test_a_signed_in_user_reads_the_directory_but_not_policies(graph_twin: Twin) -> None:
    client = pipeline(graph_twin, user_credential(graph_twin, "alice@contoso.onmicrosoft.com"))
    status, me = call(client, graph_twin, "GET", "me")
    assert status == 200 and me["id"] == ALICE and me["@odata.context"].endswith("#users/$entity")
    _, groups = call(client, graph_twin, "GET", "me/transitiveMemberOf")
    assert {g["id"] for g in groups["value"]} == {GROUP_INNER, GROUP_OUTER}
    assert call(client, graph_twin, "GET", f"users/{BOB}")[0] == 200  # default member permissions
    assert call(client, graph_twin, "GET", "identity/conditionalAccess/policies")[0] == 403
    doc = world()
    doc["directory"]["permissions"][ALICE] = ["User.Read"]  # a tenant that restricts default permissions
    graph_twin.use(doc)
    client = pipeline(graph_twin, user_credential(graph_twin, "alice@contoso.onmicrosoft.com"))
    assert call(client, graph_twin, "GET", "me")[0] == 200  # herself: always
    assert call(client, graph_twin, "GET", f"users/{BOB}")[0] == 403


_GRAPH_SEGMENTS = [
    "me",
    "users",
    ALICE,
    "alice@contoso.onmicrosoft.com",
    "servicePrincipals",
    f"(appId='{APP_ID}')",
    "applications",
    "groups",
    GROUP_OUTER,
    "transitiveMemberOf",
    "federatedIdentityCredentials",
    "directoryObjects",
    "getByIds",
    "$batch",
    "identity",
    "conditionalAccess",
    "policies",
    "",
    "x",
    "(appId=')",
    "%27",
]


def test_graph_handlers_never_crash(graph_twin: Twin) -> None:
    """Any path, $filter or $batch item gets an HTTP answer from the Graph handlers, never an exception."""
    import json

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from preflight.twin import graph
    from preflight.twin.http import Router, TwinRequest

    router = Router()
    graph.register(router)
    headers = {"authorization": f"Bearer {credential(graph_twin).get_token(GRAPH_SCOPE).token}"}
    segments = st.lists(st.sampled_from(_GRAPH_SEGMENTS), min_size=1, max_size=5)

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        segments,
        st.one_of(st.none(), st.text(max_size=30), st.just("servicePrincipalNames/any(c:c eq 'x')")),
        st.lists(segments, max_size=3),
        st.sampled_from(["GET", "POST"]),
    )
    def run(path_segments: list[str], filt: str | None, batch: list[list[str]], method: str) -> None:
        path = "/v1.0/" + "/".join(path_segments).replace("/(", "(")
        query = {} if filt is None else {"$filter": filt}
        body = {
            "ids": [ALICE, 3, None],
            "requests": [{"id": str(i), "method": "GET", "url": "/".join(b)} for i, b in enumerate(batch)]
            + [{"id": "x"}],
        }
        found = router.resolve(method, path)
        if found is not None:
            request = TwinRequest(method, path, query, headers, json.dumps(body).encode())
            assert 200 <= found[0].handler(graph_twin.server, request, found[1]).status < 500

    run()


def test_a_user_without_select_is_graphs_default_subset(graph_twin: Twin) -> None:
    """GET /users/{id} (and /me, /users, getByIds) without $select answer Graph v1.0's default subset: no
    userType, no accountEnabled — those come only when $select names them (user-get.md)."""
    doc = world()
    next(u for u in doc["directory"]["users"] if u["id"] == BOB).update(
        userType="Guest", accountEnabled=True, jobTitle="Engineer"
    )
    graph_twin.use(doc)
    client = pipeline(graph_twin)
    _, bob = call(client, graph_twin, "GET", "users/bob@contoso.onmicrosoft.com")
    assert set(bob) - {"@odata.context"} == {
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    }
    assert bob["businessPhones"] == [] and bob["jobTitle"] == "Engineer" and bob["surname"] is None
    _, selected = call(client, graph_twin, "GET", f"users/{BOB}", **{"$select": "id,userType"})
    assert {k: v for k, v in selected.items() if k != "@odata.context"} == {"id": BOB, "userType": "Guest"}
    _, listed = call(client, graph_twin, "GET", "users")
    assert all("userType" not in u and "accountEnabled" not in u for u in listed["value"])
    _, by_ids = call(client, graph_twin, "POST", "directoryObjects/getByIds", {"ids": [BOB], "types": ["user"]})
    [found] = by_ids["value"]
    assert set(found) - {"@odata.type"} == set(bob) - {"@odata.context"}
