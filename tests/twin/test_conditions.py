"""ABAC conditions on role assignments: the twin's reading (pure), and its data plane honouring them end to end."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from helpers.twin_fixtures import apply_environment, session_twin

from preflight.twin import Twin
from preflight.twin.conditions import ACCOUNT_NAME, DEPLOYMENT_NAME, grant_applies
from preflight.twin.scenario import builtin_scenario_text

CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
READ = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
MODELS = "Microsoft.CognitiveServices/accounts/OpenAI/models/read"
ONLY_GPT4O = f"((!(ActionMatches{{'{CHAT}'}})) OR ({DEPLOYMENT_NAME} StringEquals 'gpt-4o'))"
# the documentation's storage example, pasted onto an OpenAI grant: the attribute never exists here
STORAGE = (
    f"(\n (\n  !(ActionMatches{{'{READ}'}})\n )\n OR\n (\n"
    "  @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'blobs-example-container'\n"
    " )\n)"
)
AT = {ACCOUNT_NAME: "contoso-openai", DEPLOYMENT_NAME: "gpt-4o"}


def test_no_condition_grants() -> None:
    assert grant_applies(None, CHAT, {}) and grant_applies("", CHAT, {}) and grant_applies("  ", CHAT, {})


def test_an_action_the_condition_does_not_name_is_granted() -> None:
    assert grant_applies(ONLY_GPT4O, READ, {})
    assert grant_applies(STORAGE, CHAT, AT)


def test_a_named_action_needs_the_expression_provably_true() -> None:
    assert grant_applies(ONLY_GPT4O, CHAT, AT)
    assert not grant_applies(ONLY_GPT4O, CHAT, {**AT, DEPLOYMENT_NAME: "gpt-35"})
    assert not grant_applies(ONLY_GPT4O, CHAT, {ACCOUNT_NAME: "contoso-openai"})  # no deployment in the request
    assert not grant_applies(STORAGE, READ, AT)  # an attribute Azure OpenAI never has


def test_operators_and_combinations() -> None:
    name = f"{DEPLOYMENT_NAME}"
    assert grant_applies(f"((!(ActionMatches{{'{CHAT}'}})) OR ({name} StringEqualsIgnoreCase 'GPT-4O'))", CHAT, AT)
    assert grant_applies(f"((!(ActionMatches{{'{CHAT}'}})) OR ({name} StringStartsWith 'gpt-'))", CHAT, AT)
    assert not grant_applies(f"((!(ActionMatches{{'{CHAT}'}})) OR ({name} StringNotEquals 'gpt-4o'))", CHAT, AT)
    both = (
        f"((!(ActionMatches{{'{CHAT}'}})) OR ({name} StringEquals 'gpt-4o' AND "
        f"{ACCOUNT_NAME} StringEquals 'contoso-openai'))"
    )
    assert grant_applies(both, CHAT, AT)
    either = (
        f"((!(ActionMatches{{'{CHAT}'}})) OR ({name} StringEquals 'other' OR "
        "@Request[Microsoft.Storage/x:y] StringEquals 'z'))"
    )
    assert not grant_applies(either, CHAT, AT)  # false OR unknown is not provably true
    # two action blocks joined by AND: each guards its own action
    two = f"{ONLY_GPT4O} AND {STORAGE}"
    assert grant_applies(two, CHAT, AT) and not grant_applies(two, READ, AT) and grant_applies(two, MODELS, AT)
    # several actions in one block
    block = f"((!(ActionMatches{{'{CHAT}'}} OR ActionMatches{{'{READ}'}})) OR ({name} StringEquals 'gpt-4o'))"
    assert grant_applies(block, READ, AT) and not grant_applies(block, READ, {ACCOUNT_NAME: "contoso-openai"})


def test_what_the_twin_cannot_read_never_grants() -> None:
    sub_operation = (
        f"((!(ActionMatches{{'{CHAT}'}} AND SubOperationMatches{{'Blob.List'}})) OR "
        f"({DEPLOYMENT_NAME} StringEquals 'gpt-4o'))"
    )
    assert grant_applies(sub_operation, CHAT, AT)  # unknown sub-operation, but the expression is true
    assert not grant_applies(sub_operation, CHAT, {})
    for broken in (
        "((!(ActionMatches{'x'})) OR (",
        "@Resource[a:b] ForAnyOfAnyValues:StringEquals {'a', 'b'}",
        "((!(ActionMatches{'" + CHAT + "'})) OR (@Resource[a:b] StringEquals @Resource[c:d]))",
        "garbage ~",
    ):
        assert not grant_applies(broken, CHAT, AT), broken


# ------------------------------------------------------------------------------------------------- the data plane


def _scenario() -> dict[str, Any]:
    """dev-data-role-only with a second deployment; the data role's condition limits chat to gpt-4o, and a
    second conditional grant of Cognitive Services User carries the storage example (never applies)."""
    import json

    doc: dict[str, Any] = json.loads(builtin_scenario_text("dev-data-role-only"))
    doc["name"] = "conditional-data-role"
    first = next(r for r in doc["resources"] if r["type"] == "Microsoft.CognitiveServices/accounts/deployments")
    second = copy.deepcopy(first)
    second["id"] = first["id"].replace("/gpt-4o", "/gpt-35")
    second["name"] = "gpt-35"
    second["properties"]["model"] = {"format": "OpenAI", "name": "gpt-35-turbo", "version": "0125"}
    doc["resources"].append(second)
    role = doc["roleAssignments"][0]["properties"]
    role.update(condition=ONLY_GPT4O, conditionVersion="2.0")
    models = (
        f"((!(ActionMatches{{'{MODELS}'}})) OR "
        "(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'models'))"
    )
    doc["roleAssignments"][0]["properties"]["condition"] = f"{ONLY_GPT4O} AND {models}"
    return doc


@pytest.fixture(scope="module")
def conditional_twin() -> Iterator[Twin]:
    twin = session_twin()
    twin.use(_scenario())
    yield twin
    assert twin.errors() == []


@pytest.fixture
def token(conditional_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> str:
    from azure.identity import AzureCliCredential

    apply_environment(monkeypatch, conditional_twin.environment())
    return str(AzureCliCredential(process_timeout=30).get_token("https://cognitiveservices.azure.com/.default").token)


def _call(twin: Twin, token: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    account = next(r for r in twin.scenario["resources"] if r["type"] == "Microsoft.CognitiveServices/accounts")
    url = account["properties"]["endpoint"] + path
    params = None if "/v1/" in path else {"api-version": "2024-10-21"}
    return requests.request(
        "POST" if body is not None else "GET",
        url,
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(twin.ca_file),
        timeout=10,
    )


def test_the_data_plane_honours_the_condition(conditional_twin: Twin, token: str) -> None:
    messages = {"messages": [{"role": "user", "content": "hi"}]}
    assert _call(conditional_twin, token, "openai/deployments/gpt-4o/chat/completions", messages).status_code == 200
    refused = _call(conditional_twin, token, "openai/deployments/gpt-35/chat/completions", messages)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "PermissionDenied"
    assert CHAT in refused.json()["error"]["message"]
    # the v1 API names the deployment in the body
    assert (
        _call(conditional_twin, token, "openai/v1/chat/completions", {**messages, "model": "gpt-4o"}).status_code == 200
    )
    assert (
        _call(conditional_twin, token, "openai/v1/chat/completions", {**messages, "model": "gpt-35"}).status_code == 401
    )
    # actions the condition does not name are granted as before; the one guarded by an attribute Azure OpenAI
    # never has is not
    assert _call(conditional_twin, token, "openai/deployments").status_code == 200
    assert _call(conditional_twin, token, "openai/models").status_code == 401
