"""ABAC conditions on role assignments through the twin: reported as "conditional — cannot be evaluated offline",
never silently granted (rbac.data-action WARN, can-i not allowed with the assignment under "conditional") — and
only for the actions the condition can restrict."""

from __future__ import annotations

import json

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import one, run_scenario
from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.model import Status
from preflight.twin import Twin

CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
READ = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
CONDITION = (
    f"((!(ActionMatches{{'{CHAT}'}})) OR "
    "(@Resource[Microsoft.CognitiveServices/accounts/deployments:name] StringEquals 'gpt-4o'))"
)


def _conditional_healthy() -> dict[str, object]:
    doc = sc.builtin("healthy")
    data_role = next(
        a for a in doc["roleAssignments"] if a["properties"]["roleDefinitionId"] == "Cognitive Services OpenAI User"
    )
    data_role["properties"].update(condition=CONDITION, conditionVersion="2.0")
    return doc


def test_rbac_data_action_reports_the_condition(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, _conditional_healthy(), only=["rbac.data-action"])  # type: ignore[arg-type]
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.WARN and "conditional — cannot be evaluated offline" in chat.summary
    assert one(report, "rbac.data-action", READ).status is Status.PASS  # the condition names only chat


def test_can_i_is_not_allowed_and_lists_the_condition(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.use(_conditional_healthy())
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["can-i", CHAT, "--format", "json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["allowed"] is False and answer["grantedBy"] == []
    (conditional,) = answer["conditional"]
    assert conditional["roleName"] == "Cognitive Services OpenAI User" and conditional["condition"] == CONDITION
    assert main(["can-i", READ, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] is True
