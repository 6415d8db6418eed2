"""Which resource a run checks: --resource-id, an endpoint found across subscriptions (one Resource Graph query,
ARM listing as fallback), clear errors for none / several matches, exit 2 for malformed ids."""

from __future__ import annotations

import os
from typing import Any

import pytest

from helpers import rbac_scenarios as sc
from helpers.twin_fixtures import apply_environment

from preflight.azure.arm import endpoint_subdomain, matches_endpoint, resource
from preflight.azure.resource_graph import (
    accounts_by_endpoint,
    accounts_by_subdomain,
)
from preflight.context import Context
from preflight.errors import FactError
from preflight.kql import kql_string
from preflight.target import build_target
from preflight.twin import Twin
from preflight.twin.resource_graph import parse_query

ARG_PATH = "/providers/microsoft.resourcegraph/resources"


def _by_endpoint(twin: Twin, monkeypatch: pytest.MonkeyPatch, scenario: Any, endpoint: str | None = None) -> Context:
    """A context whose target is only an endpoint (AZURE_OPENAI_ENDPOINT), as a user would configure it."""
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    monkeypatch.delenv("PREFLIGHT_RESOURCE_ID", raising=False)
    if endpoint is not None:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", endpoint)
    return Context(build_target(dict(os.environ)))


def _arm_listings(twin: Twin) -> list[str]:
    return [
        e.path for e in twin.requests() if e.path.lower().endswith("/providers/microsoft.cognitiveservices/accounts")
    ]


def test_endpoint_is_found_with_one_resource_graph_query(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _by_endpoint(twin_session, monkeypatch, "healthy")
    assert ctx.get(resource)["id"] == sc.ACCOUNT
    graph = [e for e in twin_session.requests() if e.path.lower() == ARG_PATH]
    assert len(graph) == 1 and graph[0].method == "POST" and graph[0].status == 200
    assert _arm_listings(twin_session) == []  # no per-subscription listing


def test_endpoint_in_another_subscription_is_found(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _by_endpoint(twin_session, monkeypatch, sc.second_subscription_account())
    assert ctx.get(resource)["id"].startswith(f"/subscriptions/{sc.SUB2}/")


def test_resource_graph_refused_falls_back_to_arm_listing(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.second_subscription_account()
    doc["faults"] = [
        {
            "match": {"service": "resource_graph"},
            "status": 403,
            "body": {"error": {"code": "AuthorizationFailed", "message": "no ARG for you"}},
        }
    ]
    ctx = _by_endpoint(twin_session, monkeypatch, doc)
    assert ctx.get(resource)["id"].startswith(f"/subscriptions/{sc.SUB2}/")
    listed = {p.split("/")[2] for p in _arm_listings(twin_session)}
    assert listed == {sc.SUB, sc.SUB2}  # every accessible subscription, each listed once


def test_no_account_matches(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _by_endpoint(twin_session, monkeypatch, "healthy", endpoint="https://nobody.openai.azure.com/")
    with pytest.raises(
        FactError,
        match=r"no Cognitive Services account you can read has the endpoint "
        r"https://nobody\.openai\.azure\.com/",
    ):
        ctx.get(resource)


def test_several_accounts_match_and_are_named(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _by_endpoint(twin_session, monkeypatch, sc.two_regional_accounts())
    with pytest.raises(FactError) as caught:
        ctx.get(resource)
    assert "2 accounts have the endpoint" in caught.value.message
    assert "accounts/fabrikam-openai" in caught.value.message and "--resource-id" in caught.value.message


def test_no_match_is_a_resource_endpoint_failure_in_a_run(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.scenarios import one

    from preflight.model import Status
    from preflight.run import CheckOptions, run

    ctx = _by_endpoint(twin_session, monkeypatch, "healthy", endpoint="https://nobody.openai.azure.com/")
    report = run(CheckOptions(ctx.target, only=["resource.endpoint", "rbac.data-action"]))
    assert one(report, "resource.endpoint").status is Status.FAIL
    assert one(report, "rbac.data-action").caused_by == "resource.endpoint"


# ------------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("url", "subdomain"),
    [
        ("https://contoso.openai.azure.com/", "contoso"),
        ("https://Contoso.cognitiveservices.azure.com", "contoso"),
        ("https://contoso.services.ai.azure.com/models", "contoso"),
        ("https://contoso.openai.azure.us/", "contoso"),
        ("https://eastus.api.cognitive.microsoft.com/", None),  # regional: no subdomain
        ("https://a.b.openai.azure.com/", None),
        ("https://127.0.0.1:8443/dataplane/contoso/", None),
    ],
)
def test_endpoint_subdomain(url: str, subdomain: str | None) -> None:
    assert endpoint_subdomain(url) == subdomain


def test_an_account_matches_its_endpoints_and_its_subdomain() -> None:
    account = {
        "properties": {
            "endpoint": "https://contoso.cognitiveservices.azure.com/",
            "customSubDomainName": "Contoso",
            "endpoints": {"OpenAI Language Model Instance API": "https://contoso.openai.azure.com/"},
        }
    }
    assert matches_endpoint(account, "https://CONTOSO.openai.azure.com")
    assert matches_endpoint(account, "https://contoso.services.ai.azure.com/")  # same subdomain
    assert not matches_endpoint(account, "https://contoso2.openai.azure.com/")


def test_the_product_queries_are_ones_the_twin_understands() -> None:
    for text in (accounts_by_subdomain("contoso"), accounts_by_endpoint("https://x/dataplane/a'b/")):
        parsed = parse_query(text)
        assert parsed is not None and parsed.table == "resources"
    assert kql_string("a'b\\c") == "'a\\'b\\\\c'"


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "bad",
    [
        "/subscriptions/not-a-guid/resourceGroups/rg/providers/X/y/z",
        "contoso-openai",
        "/subscriptions/22222222-2222-4222-8222-222222222222",
    ],
)
def test_malformed_resource_id_is_exit_2(
    bad: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.cli import main

    monkeypatch.delenv("PREFLIGHT_RESOURCE_ID", raising=False)
    assert main(["check", "--resource-id", bad, "--only", "resource.endpoint"]) == 2
    err = capsys.readouterr().err
    assert "is not an Azure resource id" in err and "Traceback" not in err
