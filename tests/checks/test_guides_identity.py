"""The Azure ML and service-principal guides' identity pitfalls through the CLI, as a reader meets them (issue 20
items 1, 2 and 4): a Conditional Access policy on the Azure Machine Learning app, an automation identity with
Owner on the very resource it uses, and AZURE_CLIENT_ID holding a service principal's object id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.twin import Twin

AZURE_ML_APP = "0736f41a-0425-4b46-bdb5-1563eff02385"
ML_SERVICES_APP = "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe"


def _check(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scenario: str, only: str
) -> tuple[int, dict[tuple[str, str | None], dict[str, Any]]]:
    """``preflight check --only … --format json`` on a built-in scenario: the exit code and results by
    (check id, subject)."""
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    code = main(["check", "--only", only, "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, {(r["check_id"], r["subject"]): r for r in json.loads(out)["results"]}


def _fix(result: dict[str, Any]) -> str:
    remediation = result.get("remediation") or {}
    return " ".join([remediation.get("text") or "", *remediation.get("commands", [])])


def test_a_policy_on_the_azure_machine_learning_app_is_seen_for_the_ml_profile(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = _check(twin_session, monkeypatch, capsys, "ml-ca-mfa", "access.conditional-access")
    policy = found[("access.conditional-access", "policy:Require MFA for Azure Machine Learning")]
    assert policy["status"] == "warn", policy
    # the app named by display name and appId — not the data-plane app the tokens are for
    assert f"requires MFA for you on Azure Machine Learning ({AZURE_ML_APP})" in policy["summary"]
    assert "az login" in _fix(policy)
    overall = found[("access.conditional-access", None)]
    assert overall["status"] == "pass" and "1 enforced" in overall["summary"]
    apps = next(e["value"] for e in overall["evidence"] if e["name"] == "apps")
    assert f"Azure Machine Learning ({AZURE_ML_APP})" in apps
    assert f"Azure Machine Learning Services ({ML_SERVICES_APP})" in apps
    assert code == 0  # a WARN: the policy asks for MFA, it does not block


WORKSPACE = (
    "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-ai/providers/"
    "Microsoft.MachineLearningServices/workspaces/contoso-ml"
)
ML_SP_OBJECT = "c1c1c1c1-0000-4000-8000-0000000000b0"
AZUREML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"


def test_owner_on_the_workspace_is_flagged_with_the_two_step_fix(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = _check(twin_session, monkeypatch, capsys, "ml-ci-sp-owner", "rbac.*")
    (warning,) = [r for (check, _), r in found.items() if check == "rbac.least-privilege"]
    assert warning["status"] == "warn", warning
    assert f"service principal holds Owner at the workspace ({WORKSPACE})" in warning["summary"]
    assert "the ml profile needs only AzureML Data Scientist" in warning["summary"]
    text = warning["remediation"]["text"]
    assert text.startswith(f"1) assign the least-privilege role AzureML Data Scientist ({AZUREML_DATA_SCIENTIST})")
    assert "2) then remove the broad Owner assignment" in text
    create, delete = warning["remediation"]["commands"]
    assert create == (
        f"az role assignment create --assignee-object-id {ML_SP_OBJECT} --assignee-principal-type ServicePrincipal "
        f"--role {AZUREML_DATA_SCIENTIST} --scope {WORKSPACE}"
    )
    assignment_id = next(e["value"] for e in warning["evidence"] if e["name"] == "roleAssignmentId")
    assert assignment_id.lower().startswith(WORKSPACE.lower() + "/providers/microsoft.authorization/roleassignments/")
    assert delete == f"az role assignment delete --ids {assignment_id}"
    # Owner grants the workspace's actions: the use itself is allowed, so only the warning stands
    assert found[("rbac.data-action", "Microsoft.MachineLearningServices/workspaces/read")]["status"] == "pass"
    assert code == 0
