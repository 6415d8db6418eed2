"""The read-only proof (issue 10). ``tests/conftest.py`` fails the whole session if the session twin ever
served a write; these tests pin what counts as a write, and that a write cannot hide inside a Graph $batch
(the twin does not log a batch's inner requests, so it must refuse the non-reads among them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from helpers.readonly import violations
from helpers.twin_fixtures import session_twin
from helpers.twin_world import ALICE, APP_ID, credential, world

SUB = "/subscriptions/22222222-2222-4222-8222-222222222222"


@dataclass(frozen=True)
class _E:
    method: str
    path: str
    service: str | None = None
    status: int = 200


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", SUB + "/providers/Microsoft.Authorization/roleAssignments"),
        ("POST", "/aaaaaaaa-0000-4000-8000-000000000001/oauth2/v2.0/token"),
        ("POST", "/organizations/oauth2/token"),
        ("POST", "/providers/Microsoft.ResourceGraph/resources"),
        ("POST", "/v1.0/directoryObjects/getByIds"),
        ("POST", "/v1.0/$batch"),
        ("POST", "/dataplane/contoso/openai/deployments/gpt-4o/chat/completions"),
        ("POST", "/_twin/az"),
    ],
)
def test_reads_pass(method: str, path: str) -> None:
    assert violations([_E(method, path)]) == []


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", SUB + "/providers/Microsoft.Authorization/roleAssignments/x"),
        ("DELETE", SUB + "/resourceGroups/rg"),
        ("PATCH", "/v1.0/applications/x"),
        ("POST", "/v1.0/applications/x/addPassword"),
        ("POST", SUB + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a/listKeys"),
        ("PUT", "/nowhere"),  # unrouted: logged without a service, still caught
    ],
)
def test_writes_are_violations(method: str, path: str) -> None:
    assert violations([_E(method, path)]) == [f"{method} {path} (service=None, status=200)"]


def test_a_write_inside_graph_batch_is_refused_by_the_twin() -> None:
    twin = session_twin()
    twin.use(world())
    client: PipelineClient[Any, Any] = PipelineClient(
        twin.base_url,
        policies=[
            RetryPolicy(retry_total=0),
            BearerTokenCredentialPolicy(credential(twin), "https://graph.microsoft.com/.default"),
        ],
        connection_verify=str(twin.ca_file),
    )
    body = {
        "requests": [
            {"id": "1", "method": "GET", "url": f"/users/{ALICE}"},
            {"id": "2", "method": "PATCH", "url": f"/users/{ALICE}", "body": {"displayName": "x"}},
            {"id": "3", "method": "DELETE", "url": f"/servicePrincipals(appId='{APP_ID}')"},
            {"id": "4", "method": "POST", "url": "/users", "body": {"displayName": "y"}},
        ]
    }
    response = client.send_request(HttpRequest("POST", f"{twin.base_url}/v1.0/$batch", json=body))
    assert response.status_code == 200
    status = {r["id"]: r["status"] for r in response.json()["responses"]}
    assert status == {"1": 200, "2": 400, "3": 400, "4": 400}
    assert twin.errors() == []
