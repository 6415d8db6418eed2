"""Profiles and target resolution through the twin, for the cases the older tests did not reach: the Foundry
profile (ai.azure.com token, agents data actions, Foundry User as the fix — chosen by a project endpoint), the ML
profile's ml.azure.com token, and a target given only as AZURE_AI_ENDPOINT."""

from __future__ import annotations

import os
from typing import Any

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import one, results
from helpers.twin_fixtures import apply_environment

from preflight.azure.arm import profile, resource
from preflight.context import Context
from preflight.engine import RunOptions
from preflight.model import Report, Result, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

AI = "https://ai.azure.com/.default"
ML = "https://ml.azure.com/.default"
AGENTS_READ = "Microsoft.CognitiveServices/accounts/AIServices/agents/read"
FOUNDRY_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"
TARGET_VARS = ("PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT", "PREFLIGHT_PROFILE")


def _evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def _run(twin: Twin, monkeypatch: pytest.MonkeyPatch, scenario: Any, only: list[str], **target: Any) -> Report:
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    return run(
        CheckOptions(build_target(dict(os.environ), **target), only=only, engine=RunOptions(timeout=30, deadline=60))
    )


def test_foundry_profile_needs_an_ai_token_and_the_agents_data_actions(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _run(twin_session, monkeypatch, "healthy", ["tokens.*", "rbac.data-action"], profile="foundry")
    ai = one(report, "tokens.scope", AI)
    assert ai.status is Status.PASS and _evidence(ai, "claims")["aud"].rstrip("/") == "https://ai.azure.com"
    agents = one(report, "rbac.data-action", AGENTS_READ)
    # Alice's Cognitive Services OpenAI User covers OpenAI/* only, not the Foundry agents
    assert agents.status is Status.FAIL and "Cognitive Services OpenAI User" in agents.summary
    assert agents.remediation is not None
    assert f"--role {FOUNDRY_USER} --scope {sc.ACCOUNT}" in agents.remediation.commands[0]


def test_foundry_user_grants_the_foundry_profile(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.builtin("healthy")
    doc["roleAssignments"].append(sc.assignment("Foundry User", sc.ALICE, sc.ACCOUNT))
    report = _run(twin_session, monkeypatch, doc, ["rbac.data-action"], profile="foundry")
    found = results(report, "rbac.data-action")
    assert {r.subject for r in found} == {AGENTS_READ, AGENTS_READ.replace("/read", "/write")}
    assert all(r.status is Status.PASS and "Foundry User" in r.summary for r in found), found


def test_a_foundry_project_endpoint_selects_the_foundry_profile() -> None:
    target = build_target({"AZURE_AI_ENDPOINT": "https://contoso.services.ai.azure.com/api/projects/proj-1"})
    assert Context(target).get(profile).name == "foundry"  # decided from the endpoint alone, no request


def test_ml_profile_gets_an_ml_token(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin_session.use(sc.ml_workspace())
    env = twin_session.environment()
    env["PREFLIGHT_RESOURCE_ID"] = sc.WORKSPACE
    apply_environment(monkeypatch, env)
    for name in ("AZURE_OPENAI_ENDPOINT", "PREFLIGHT_PROFILE"):  # the profile comes from the workspace
        monkeypatch.delenv(name, raising=False)
    report = run(CheckOptions(build_target(dict(os.environ)), only=["tokens.*"]))
    ml = one(report, "tokens.scope", ML)
    assert ml.status is Status.PASS and _evidence(ml, "requested_because") == "profile ml"


def test_target_from_azure_ai_endpoint_alone(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin_session.use("healthy")
    env = twin_session.environment()
    endpoint = env["AZURE_OPENAI_ENDPOINT"]
    apply_environment(monkeypatch, env)
    for name in TARGET_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_AI_ENDPOINT", endpoint)
    ctx = Context(build_target(dict(os.environ)))
    assert ctx.target.endpoint == endpoint and not ctx.target.resource_id
    assert ctx.get(resource)["id"] == sc.ACCOUNT
    assert ctx.get(profile).name == "openai"  # from the account's kind


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("OpenAI", "openai"),
        ("AIServices", "openai"),
        ("openai", "openai"),
        ("TextAnalytics", "cognitive"),
        ("SpeechServices", "cognitive"),
        ("Hub", "ml"),
        (None, "openai"),
        ("SomethingNew", "openai"),
    ],
)
def test_default_profile_by_kind(kind: str | None, name: str) -> None:
    from preflight.profiles import profile_for_kind

    assert profile_for_kind(kind).name == name


def test_a_language_account_gets_the_cognitive_profile(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.builtin("healthy")
    doc["resources"][0]["kind"] = "TextAnalytics"
    twin_session.use(doc)
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.delenv("PREFLIGHT_PROFILE", raising=False)
    report = run(
        CheckOptions(
            build_target(dict(os.environ)), only=["rbac.data-action"], engine=RunOptions(timeout=30, deadline=60)
        )
    )
    (analyze,) = results(report, "rbac.data-action")
    assert analyze.subject == "Microsoft.CognitiveServices/accounts/TextAnalytics/analyze/action"
    # Cognitive Services OpenAI User covers OpenAI/* only: the fix is Cognitive Services User
    assert analyze.status is Status.FAIL and analyze.remediation is not None
    assert "--role a97b65f3-24c7-4388-baec-2e87135dc908" in analyze.remediation.commands[0]
