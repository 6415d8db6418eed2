"""The twin's KQL subset (preflight/twin/kql.py): the engine on plain rows, then Resource Graph queries outside the
product's fixed set (what ``az graph query`` users type) through azure-core's pipeline, checked against the
product's own queries on the same scenario — two roads to the same rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from helpers.twin_world import ACCOUNT, SUB, credential

from preflight.azure.resource_graph import ACCOUNTS_QUERY, ROLE_ASSIGNMENTS_QUERY
from preflight.twin import Twin, kql

PATH = "/providers/Microsoft.ResourceGraph/resources"


def query(twin: Twin, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    policy = BearerTokenCredentialPolicy(credential(twin), "https://management.azure.com/.default")
    client: PipelineClient[Any, Any] = PipelineClient(
        twin.base_url, policies=[RetryPolicy(retry_total=0), policy], connection_verify=str(twin.ca_file)
    )
    request = HttpRequest("POST", f"{twin.base_url}{PATH}", params={"api-version": "2022-10-01"}, json=body)
    response = client.send_request(request)
    return response.status_code, response.json()


def all_rows(twin: Twin, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every page (the scenario's page size is 2, so ``$skipToken`` paging runs too)."""
    rows: list[dict[str, Any]] = []
    pages, token = 0, None
    while True:
        options = {"$skipToken": token} if token else {}
        status, page = query(twin, dict(body, options=options))
        assert status == 200, page
        pages += 1
        rows += page["data"]
        token = page.get("$skipToken")
        if not token:
            return rows, pages


ROWS: dict[str, list[dict[str, Any]]] = {
    "resources": [
        {
            "id": "/r/a",
            "name": "A",
            "type": "x/accounts",
            "subscriptionId": "s1",
            "properties": {"n": 3, "e": "https://a/"},
        },
        {"id": "/r/b", "name": "b", "type": "x/accounts", "subscriptionId": "s2", "properties": {"n": 1, "e": None}},
        {"id": "/r/c", "name": "C", "type": "x/vaults", "subscriptionId": "s1", "properties": {"n": 2, "e": ""}},
    ],
    "authorizationresources": [
        {"id": "/ra/1", "type": "t", "properties": {"scope": "/r/a", "principalId": "P"}},
        {"id": "/ra/2", "type": "t", "properties": {"scope": "/r/zz", "principalId": "Q"}},
    ],
    "resourcecontainers": [],
}


def run(text: str) -> list[dict[str, Any]]:
    return kql.evaluate(kql.parse(text), lambda table: ROWS[table])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Resources | where type =~ 'X/ACCOUNTS' | project id", [{"id": "/r/a"}, {"id": "/r/b"}]),
        ("resources | where type == 'X/ACCOUNTS' | project id", []),  # == is case-sensitive
        ("resources | where name in~ ('a', 'B') | project name", [{"name": "A"}, {"name": "b"}]),
        ("resources | where name !in ('A') | count", [{"Count": 2}]),
        ("resources | where properties.n > 1 and isnotempty(properties.e) | project id", [{"id": "/r/a"}]),
        ("resources | where name startswith 'a' or name has 'c' | project name", [{"name": "A"}, {"name": "C"}]),
        ("resources | extend sub = tostring(subscriptionId) | summarize count() by sub | order by sub asc",
         [{"sub": "s1", "count_": 2}, {"sub": "s2", "count_": 1}]),
        ("resources | summarize n = count(), make_list(name) by type | order by n desc",
         [{"type": "x/accounts", "n": 2, "list_name": ["A", "b"]}, {"type": "x/vaults", "n": 1, "list_name": ["C"]}]),
        ("resources | project id, e = properties['e'] | where isempty(e) | project id", [{"id": "/r/b"}, {"id": "/r/c"}]),
        ("resources | top 1 by properties.n asc | project name", [{"name": "b"}]),
        ("resources | distinct type | order by type asc", [{"type": "x/accounts"}, {"type": "x/vaults"}]),
        ("authorizationresources | extend scope = tostring(properties.scope) "
         "| join kind=inner (resources | project scope = id, name) on scope | project id, name",
         [{"id": "/ra/1", "name": "A"}]),
        ("authorizationresources | extend scope = tostring(properties.scope) "
         "| join kind=leftouter (resources | project rid = id, name) on $left.scope == $right.rid | project id, name",
         [{"id": "/ra/1", "name": "A"}, {"id": "/ra/2", "name": None}]),
        ("resources | project tolower(name) | take 1", [{"Column1": "a"}]),
    ],
)  # fmt: skip
def test_engine_evaluates_the_subset(text: str, expected: list[dict[str, Any]]) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources | mv-expand properties", "operator 'mv-expand' is not supported"),
        ("securityresources | take 1", "table 'securityresources'"),
        ("resources | where nosuch == 1", "Failed to resolve scalar expression named 'nosuch'"),
        ("resources | summarize count() by properties", "cannot group by a dynamic value"),
        ("resources | where properties == 'x'", "cannot compare"),
        ("resources | where", "unexpected 'end of query'"),
        ("resources | project percentile(id)", "function 'percentile' is not supported"),
        ("resources | where name == 'a' )", "unexpected ')'"),
        ("", "empty"),
    ],
)
def test_engine_refuses_what_it_does_not_know(text: str, message: str) -> None:
    with pytest.raises(kql.KqlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(text)


def test_a_free_query_sees_what_the_products_query_sees(rg_twin: Twin) -> None:
    fixed, _ = all_rows(rg_twin, {"query": ACCOUNTS_QUERY})
    free, _ = all_rows(
        rg_twin,
        {"query": "Resources | where type =~ 'Microsoft.CognitiveServices/accounts' | project id, name, location"},
    )
    assert sorted(r["id"] for r in free) == sorted(r["id"] for r in fixed) and free
    assert all(set(r) == {"id", "name", "location"} for r in free)
    assignments, _ = all_rows(rg_twin, {"query": ROLE_ASSIGNMENTS_QUERY})
    counted, _ = all_rows(
        rg_twin,
        {"query": ROLE_ASSIGNMENTS_QUERY + " | summarize n = count() by subscriptionId | order by subscriptionId asc"},
    )
    assert {r["subscriptionId"]: r["n"] for r in counted} == Counter(r["subscriptionId"] for r in assignments)


def test_a_join_across_tables_over_https(rg_twin: Twin) -> None:
    rows, _ = all_rows(
        rg_twin,
        {
            "query": "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' "
            "| extend scope = tolower(tostring(properties.scope)) "
            "| join kind=inner (resources | project scope = tolower(id), account = name) on scope "
            "| project id, account"
        },
    )
    expected, _ = all_rows(rg_twin, {"query": ROLE_ASSIGNMENTS_QUERY})
    on_account = [r["id"] for r in expected if r["properties"]["scope"].lower() == ACCOUNT.lower()]
    assert on_account and sorted(r["id"] for r in rows if r["account"] == "contoso-openai") == sorted(on_account)


def test_resource_containers_hold_subscriptions_and_resource_groups(rg_twin: Twin) -> None:
    rows, _ = all_rows(rg_twin, {"query": "resourcecontainers | summarize count() by type"})
    types = {r["type"] for r in rows}
    assert "microsoft.resources/subscriptions" in types
    rows, _ = all_rows(rg_twin, {"query": f"resourcecontainers | where subscriptionId == '{SUB}' | project id"})
    assert f"/subscriptions/{SUB}" in {r["id"] for r in rows}


def test_unsupported_syntax_answers_resource_graphs_400(rg_twin: Twin) -> None:
    status, body = query(rg_twin, {"query": "resources | mv-expand properties.endpoints"})
    assert status == 400 and body["error"]["code"] == "BadRequest"
    codes = [d["code"] for d in body["error"]["details"]]
    assert codes == ["InvalidQuery", "ParserFailure"]
    assert "mv-expand" in body["error"]["details"][1]["message"]
