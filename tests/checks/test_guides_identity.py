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


SP_OBJECT_ID = "c1c1c1c1-0000-4000-8000-0000000000b0"
SP_APP_ID = "c1c1c1c1-0000-4000-8000-0000000000c1"


def test_an_object_id_in_azure_client_id_gets_the_app_id_not_az_ad_sp_create(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = _check(twin_session, monkeypatch, capsys, "sp-object-id", "signin.chain,principal.exists")
    chain = found[("signin.chain", None)]
    assert chain["status"] == "fail" and "AADSTS700016" in chain["summary"]
    exists = found[("principal.exists", None)]
    assert exists["status"] == "fail", exists
    assert exists["summary"].startswith(
        f"AZURE_CLIENT_ID holds the service principal's object id; use its appId {SP_APP_ID}"
    )
    assert f"{SP_OBJECT_ID} is the object id of service principal 'preflight-ci'" in exists["summary"]
    assert f"set AZURE_CLIENT_ID={SP_APP_ID}" in exists["remediation"]["text"]
    assert exists["remediation"]["commands"] == [f"az ad sp show --id {SP_OBJECT_ID} --query appId -o tsv"]
    assert "az ad sp create" not in _fix(exists)
    assert code == 1


def test_without_a_directory_reader_the_object_id_question_is_said_undecided(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # sp-missing: nothing else on the machine signs in, so nothing can ask the directory
    code, found = _check(twin_session, monkeypatch, capsys, "sp-missing", "signin.chain,principal.exists")
    exists = found[("principal.exists", None)]
    client_id = "c1c1c1c1-0000-4000-8000-0000000000c1"
    assert exists["status"] == "fail" and "AADSTS700016" in exists["summary"]
    assert (
        f"whether AZURE_CLIENT_ID ({client_id}) is a service principal's object id rather than its appId could "
        "not be decided (no identity here can read Microsoft Graph)" in exists["summary"]
    )
    assert exists["remediation"]["commands"][0] == f"az ad sp show --id {client_id} --query appId -o tsv"
    assert code == 1


def test_a_reader_refused_the_directory_says_the_object_id_question_is_undecided(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers.principal_world import builtin

    doc = builtin("sp-object-id")
    doc["directory"]["permissions"]["a11ce000-0000-4000-8000-00000000a11c"] = ["User.Read"]  # a guest-like reader
    twin_session.use(doc)
    apply_environment(monkeypatch, twin_session.environment())
    code = main(["check", "--only", "signin.chain,principal.exists", "--format", "json"])
    out, _ = capsys.readouterr()
    found = {(r["check_id"], r["subject"]): r for r in json.loads(out)["results"]}
    exists = found[("principal.exists", None)]
    assert exists["status"] == "warn", exists
    assert exists["summary"].endswith(
        f"whether AZURE_CLIENT_ID ({SP_OBJECT_ID}) is a service principal's object id rather than its appId could "
        f"not be decided (the signed-in identity (AzureCliCredential) may not read the service principal with "
        f"object id {SP_OBJECT_ID}: reading service principals needs Application.Read.All); check with: "
        f"az ad sp show --id {SP_OBJECT_ID} --query appId -o tsv"
    )
    assert code == 1  # the sign-in itself failed (signin.chain)


def test_the_data_role_alone_passes_least_privilege_naming_where_it_looked(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, found = _check(twin_session, monkeypatch, capsys, "ci-sp-data-role", "rbac.least-privilege")
    result = found[("rbac.least-privilege", None)]
    assert result["status"] == "pass"
    assert result["summary"] == (
        "this service principal holds no Owner, Contributor, User Access Administrator or Role Based Access "
        "Control Administrator at the account or above"
    )
