"""Resource Graph on the twin: the project's own queries (built by preflight.azure.resource_graph), their
filters, ``$skipToken`` paging, RBAC limits and the 400 for anything else — through azure-core's pipeline
with a real bearer-token policy, as an SDK would send them."""

from __future__ import annotations

from typing import Any

from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from helpers.twin_world import (
    ACCOUNT,
    ACCOUNT2,
    ALICE,
    BOB,
    CORP_MG,
    RG,
    ROOT_MG,
    SP,
    SUB,
    SUB2,
    credential,
    world,
)

from preflight.azure.resource_graph import (  # the product's queries: the twin answers exactly these
    ACCOUNTS_QUERY,
    ROLE_ASSIGNMENTS_QUERY,
    accounts_query,
    role_assignments_query,
)
from preflight.twin import Twin
from preflight.twin.resource_graph import parse_query

PATH = "/providers/Microsoft.ResourceGraph/resources"


_CLIENTS: dict[int, tuple[Any, PipelineClient[Any, Any]]] = {}


def client(twin: Twin) -> PipelineClient[Any, Any]:
    """One pipeline (one credential, one token) per scenario served, as a real caller would reuse it."""
    cached = _CLIENTS.get(id(twin))
    if cached is None or cached[0] is not twin.scenario:
        policy = BearerTokenCredentialPolicy(credential(twin), "https://management.azure.com/.default")
        pipeline = PipelineClient(
            twin.base_url, policies=[RetryPolicy(retry_total=0), policy], connection_verify=str(twin.ca_file)
        )
        cached = _CLIENTS[id(twin)] = (twin.scenario, pipeline)
    return cached[1]


def query(twin: Twin, body: dict[str, Any], api_version: str = "2022-10-01") -> tuple[int, dict[str, Any]]:
    request = HttpRequest("POST", f"{twin.base_url}{PATH}", params={"api-version": api_version}, json=body)
    response = client(twin).send_request(request)
    return response.status_code, response.json()


def all_rows(twin: Twin, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages = 0
    token = None
    while True:
        options = dict(body.get("options") or {}, resultFormat="objectArray")
        if token:
            options["$skipToken"] = token
        status, page = query(twin, dict(body, options=options))
        assert status == 200, page
        pages += 1
        rows += page["data"]
        assert page["count"] == len(page["data"]) and page["resultTruncated"] == "false" and page["facets"] == []
        token = page.get("$skipToken")
        if not token:
            return rows, pages


def test_builders_produce_the_documented_queries() -> None:
    assert role_assignments_query() == ROLE_ASSIGNMENTS_QUERY
    assert accounts_query() == ACCOUNTS_QUERY
    q = role_assignments_query([SP, "o'brien"], [RG])
    assert q == (
        ROLE_ASSIGNMENTS_QUERY + f" | where properties.principalId in~ ('{SP}', 'o\\'brien')"
        f" | where properties.scope in~ ('{RG}')"
    )
    parsed = parse_query(q)
    assert parsed is not None and parsed.wheres[0][2] == [SP, "o'brien"]
    # matched loosely: case, spacing, quotes
    assert parse_query('AuthorizationResources|where type=~"Microsoft.Authorization/roleAssignments"') is not None
    assert parse_query("resources | project name") is None


def test_all_role_assignments_paged_by_skip_token(rg_twin: Twin) -> None:
    rows, pages = all_rows(rg_twin, {"query": role_assignments_query()})
    assert len(rows) == 7 and pages == 4  # every assignment of the tenant, pages of 2
    row = next(r for r in rows if r["properties"]["principalId"] == SP)
    assert row["type"] == "microsoft.authorization/roleassignments" and row["properties"]["scope"] == CORP_MG
    assert row["id"].endswith(row["name"]) and row["tenantId"]
    first = query(rg_twin, {"query": role_assignments_query(), "options": {"$top": 1}})[1]
    assert first["totalRecords"] == 7 and first["count"] == 1 and first["$skipToken"]


def test_role_assignment_filters(rg_twin: Twin) -> None:
    rows, _ = all_rows(rg_twin, {"query": role_assignments_query([ALICE.upper(), BOB])})
    assert {r["properties"]["principalId"] for r in rows} == {ALICE, BOB}
    rows, _ = all_rows(rg_twin, {"query": role_assignments_query(scopes=[RG.lower(), ROOT_MG])})
    assert {r["properties"]["scope"] for r in rows} == {RG, ROOT_MG}
    # a subscription list limits rows to those subscriptions (no tenant-level rows)
    rows, _ = all_rows(rg_twin, {"query": role_assignments_query(), "subscriptions": [SUB2]})
    assert [r["subscriptionId"] for r in rows] == [SUB2]


def test_accounts_query_and_filters(rg_twin: Twin) -> None:
    rows, _ = all_rows(rg_twin, {"query": accounts_query(), "subscriptions": [SUB]})
    assert {r["id"] for r in rows} == {ACCOUNT, ACCOUNT2}
    endpoint = f"{rg_twin.base_url}/dataplane/contoso-openai"  # without the trailing slash: matched loosely
    rows, _ = all_rows(rg_twin, {"query": accounts_query(endpoint=endpoint)})
    assert [r["name"] for r in rows] == ["contoso-openai"]
    assert rows[0]["type"] == "microsoft.cognitiveservices/accounts" and rows[0]["resourceGroup"] == "rg-ai"
    assert "x-twin-keys" not in rows[0]
    rows, _ = all_rows(rg_twin, {"query": accounts_query(subdomain="OTHER-OPENAI")})
    assert [r["name"] for r in rows] == ["other-openai"]
    rows, _ = all_rows(rg_twin, {"query": accounts_query(name="nope")})
    assert rows == []


def test_results_are_limited_to_what_the_caller_can_read(rg_twin: Twin) -> None:
    doc = world()
    doc["managementGroups"][1]["x-twin-subscriptions"] = [SUB]  # the SP's Reader no longer reaches SUB2
    rg_twin.use(doc)
    rows, _ = all_rows(rg_twin, {"query": role_assignments_query(), "subscriptions": [SUB, SUB2]})
    assert {r["subscriptionId"] for r in rows} == {SUB}


def test_unknown_queries_get_the_real_400(rg_twin: Twin) -> None:
    # (was "resources | summarize count() by type", which the twin's KQL subset now evaluates: see test_kql.py)
    status, body = query(rg_twin, {"query": "resources | mv-expand properties.endpoints"})
    assert status == 400
    assert body["error"]["code"] == "BadRequest"
    assert body["error"]["message"].startswith("Please provide below info when asking for support: timestamp = ")
    assert body["error"]["details"][0]["code"] == "InvalidQuery"
    status, body = query(rg_twin, {"query": role_assignments_query(), "options": {"$skipToken": "garbage!"}})
    assert status == 400


def test_api_version_and_token_are_required(rg_twin: Twin) -> None:
    import requests

    answer = requests.post(
        rg_twin.base_url + PATH, json={"query": ACCOUNTS_QUERY}, verify=str(rg_twin.ca_file), timeout=5
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "MissingApiVersionParameter"
    answer = requests.post(
        rg_twin.base_url + PATH,
        params={"api-version": "2021-03-01"},
        json={"query": ACCOUNTS_QUERY},
        verify=str(rg_twin.ca_file),
        timeout=5,
    )
    assert answer.status_code == 401
    assert query(rg_twin, {"query": ACCOUNTS_QUERY}, api_version="2021-03-01")[0] == 200


def test_subscriptions_with_management_group_ancestry(rg_twin: Twin) -> None:
    from preflight.azure.resource_graph import subscriptions_query

    rows, _ = all_rows(rg_twin, {"query": subscriptions_query()})
    assert {r["subscriptionId"] for r in rows} == {SUB, SUB2}
    row = next(r for r in rows if r["subscriptionId"] == SUB)
    assert row["type"] == "microsoft.resources/subscriptions" and row["id"] == f"/subscriptions/{SUB}"
    assert [a["name"] for a in row["properties"]["managementGroupAncestorsChain"]] == ["corp", ROOT_MG.rsplit("/")[-1]]
    rows, _ = all_rows(rg_twin, {"query": subscriptions_query([SUB2.upper()])})
    assert [r["subscriptionId"] for r in rows] == [SUB2]


# ------------------------------------------------------------------------------------------------ summarize


def test_aggregated_query_packs_every_assignment_once_one_row_per_subscription(rg_twin: Twin) -> None:
    from preflight.azure.resource_graph import role_assignments_summary_query

    plain, _ = all_rows(rg_twin, {"query": role_assignments_query()})
    q = role_assignments_summary_query(columns=("id", "properties"))
    rows, pages = all_rows(rg_twin, {"query": q, "options": {"$top": 1}})
    assert pages == len(rows) == len({r["subscriptionId"] for r in plain})  # one row per subscription, "" too
    assert [r["subscriptionId"] for r in rows] == sorted(r["subscriptionId"] for r in rows)  # order by … asc
    assert all(list(r) == ["subscriptionId", "n", "assignments"] for r in rows)  # group key first, as KQL
    packed = [a for r in rows for a in r["assignments"]]
    assert all(r["n"] == len(r["assignments"]) for r in rows)
    assert sorted(a["id"] for a in packed) == sorted(r["id"] for r in plain)  # each exactly once
    assert all(set(a) == {"id", "properties"} for a in packed)
    by_id = {r["id"]: r for r in plain}
    assert all(a["properties"] == by_id[a["id"]]["properties"] for a in packed)
    assert all(
        a["id"].split("/")[2] == r["subscriptionId"] for r in rows if r["subscriptionId"] for a in r["assignments"]
    )
    # the whole answer in one page when the page size allows: the point of aggregating
    rg_twin.use(world())
    status, page = query(rg_twin, {"query": q, "options": {"$top": 1000}})
    assert status == 200 and page["count"] == page["totalRecords"] == len(rows) and "$skipToken" not in page


def test_summarize_subset_semantics(rg_twin: Twin) -> None:
    base = ROLE_ASSIGNMENTS_QUERY
    rows, _ = all_rows(
        rg_twin, {"query": base + " | summarize make_list(id) by subscriptionId | order by subscriptionId"}
    )
    assert list(rows[0]) == ["subscriptionId", "list_id"]  # KQL's default name
    keys = [r["subscriptionId"] for r in rows]
    assert keys == sorted(keys, reverse=True) and len(keys) == 3  # order by without asc: descending, as in KQL
    rows, _ = all_rows(
        rg_twin,
        {
            "query": base + " | summarize c = count(), ids = make_list(bag_pack('i', id), 1) "
            "by subscriptionId | sort by c asc"
        },
    )
    assert all(len(r["ids"]) == 1 and set(r["ids"][0]) == {"i"} for r in rows)  # maxSize honoured
    counts = [r["c"] for r in rows]
    assert counts == sorted(counts) and sum(counts) == 7
    for bad in (
        " | summarize x = make_list(id) by properties",  # no grouping by a dynamic column
        " | summarize x = percentile(id, 50) by subscriptionId",  # not in the twin's subset
        " | summarize x = make_list(pack('id', nosuch)) by subscriptionId",
        " | summarize x = make_list(id) by subscriptionId | order by nosuch",
        " | summarize x = make_list(id) by subscriptionId | where x != ''",
    ):
        status, body = query(rg_twin, {"query": base + bad})
        assert status == 400 and body["error"]["details"][0]["code"] == "InvalidQuery", bad


def test_make_list_truncates_silently_at_its_size_limit(rg_twin: Twin) -> None:
    from preflight.azure.resource_graph import role_assignments_summary_query

    doc = world()
    doc["options"]["x-argMakeListMaxSize"] = 1
    rg_twin.use(doc)
    rows, _ = all_rows(rg_twin, {"query": role_assignments_summary_query()})
    assert all(len(r["assignments"]) == 1 for r in rows) and any(r["n"] > 1 for r in rows)  # only n tells


def test_pages_beyond_the_response_limit_get_arg_400(rg_twin: Twin) -> None:
    from preflight.azure.resource_graph import role_assignments_summary_query

    doc = world()
    doc["options"]["x-argMaxResponseBytes"] = 3000
    rg_twin.use(doc)
    status, body = query(rg_twin, {"query": role_assignments_summary_query(), "options": {"$top": 1000}})
    assert status == 400 and body["error"]["code"] == "BadRequest"
    detail = body["error"]["details"][0]
    assert detail["code"] == "ResponsePayloadTooLarge" and "has exceeded the limit of 3000" in detail["message"]
    status, page = query(rg_twin, {"query": role_assignments_summary_query(), "options": {"$top": 1}})
    assert status == 200 and page["count"] == 1  # smaller pages pass


def test_no_skip_token_when_every_column_is_dynamic(rg_twin: Twin) -> None:
    status, page = query(rg_twin, {"query": role_assignments_query(columns=("properties",)), "options": {"$top": 2}})
    assert status == 200 and page["count"] == 2 and page["totalRecords"] == 7
    assert page["resultTruncated"] == "true" and "$skipToken" not in page


def test_management_group_assignment_rows_have_no_subscription_or_resource_group(rg_twin: Twin) -> None:
    rows, _ = all_rows(rg_twin, {"query": role_assignments_query(scopes=[CORP_MG])})
    assert rows and all((r["subscriptionId"], r["resourceGroup"]) == ("", "") for r in rows)
    rows, _ = all_rows(rg_twin, {"query": role_assignments_query(scopes=[RG])})
    assert rows and all(
        r["subscriptionId"] == SUB and r["resourceGroup"] == RG.rsplit("/", 1)[-1].lower() for r in rows
    )
