"""Azure ML targets: .azureml/config.json searched upwards like the SDK, --workspace, the ml profile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import one
from helpers.twin_fixtures import apply_environment

from preflight.azureml import (
    find_config,
    parse_workspace,
    read_config,
    resolve_workspace,
)
from preflight.errors import TargetError
from preflight.model import Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

CONFIG = {"subscription_id": sc.SUB, "resource_group": "rg-ai", "workspace_name": "contoso-ml"}


def _write(directory: Path, data: object) -> Path:
    path = directory / ".azureml" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_config_is_found_in_a_parent_directory(tmp_path: Path) -> None:
    path = _write(tmp_path, CONFIG)
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_config(deep) == path
    ref = resolve_workspace(None, deep)
    assert ref is not None and ref.resource_id == sc.WORKSPACE and ref.source == str(path)


def test_the_nearest_config_wins_and_an_azureml_folder_beats_a_plain_config_json(tmp_path: Path) -> None:
    _write(tmp_path, CONFIG)
    inner = tmp_path / "project"
    inner.mkdir()
    (inner / "config.json").write_text(json.dumps({**CONFIG, "workspace_name": "not-this"}))
    nearest = _write(inner / "sub", {**CONFIG, "workspace_name": "nearest"})
    assert find_config(inner / "sub") == nearest
    # azure-ai-ml searches .azureml/ all the way up before it looks at a plain config.json
    assert find_config(inner) == tmp_path / ".azureml" / "config.json"


def _plain(directory: Path, name: str, data: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(data), encoding="utf-8")
    return directory / name


def test_the_search_follows_ml_client_from_config(tmp_path: Path) -> None:
    """azure-ai-ml's MLClient.from_config: product((".azureml", "aml_config", None), ("config.json",
    "project.json")), each from the working directory up through 20 parents."""
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    plain = _plain(deep, "config.json", {**CONFIG, "workspace_name": "plain"})
    assert find_config(deep) == plain  # a plain config.json with the SDK's keys is read, as the SDK does
    legacy = _plain(tmp_path / "aml_config", "config.json", {**CONFIG, "workspace_name": "legacy"})
    assert find_config(deep) == legacy  # aml_config/ two levels up beats the plain file here
    project = _plain(tmp_path / "a" / ".azureml", "project.json", {"Scope": sc.WORKSPACE})
    assert find_config(deep) == project  # .azureml/project.json beats aml_config/config.json
    assert find_config(deep) is not None and read_config(project).resource_id == sc.WORKSPACE
    config = _write(tmp_path, CONFIG)
    assert find_config(deep) == config  # .azureml/config.json first of all


def test_a_plain_config_json_of_another_tool_is_passed_over(tmp_path: Path) -> None:
    _plain(tmp_path, "config.json", {"compilerOptions": {"strict": True}})
    assert find_config(tmp_path) is None and resolve_workspace(None, tmp_path) is None
    (tmp_path / "config.json").write_text("{ not json", encoding="utf-8")
    assert find_config(tmp_path) is None


def test_the_search_stops_twenty_levels_up(tmp_path: Path) -> None:
    _write(tmp_path, CONFIG)
    twenty = tmp_path.joinpath(*["d"] * 20)
    twenty.mkdir(parents=True)
    assert find_config(twenty) == tmp_path / ".azureml" / "config.json"  # 20 levels up: found
    (twenty / "d").mkdir()
    assert find_config(twenty / "d") is None  # 21 levels up: beyond the SDK's search


def test_only_the_capitalised_scope_key_is_read_as_the_sdk_does(tmp_path: Path) -> None:
    # a lower-case "scope" is not the SDK's key: the three keys decide, or the file is incomplete
    path = _write(tmp_path, {**CONFIG, "scope": "/subscriptions/x"})
    assert read_config(path).resource_id == sc.WORKSPACE
    with pytest.raises(TargetError, match="missing subscription_id"):
        read_config(_write(tmp_path / "other", {"scope": sc.WORKSPACE}))


def test_scope_key_and_flag(tmp_path: Path) -> None:
    assert read_config(_write(tmp_path, {"Scope": sc.WORKSPACE})).resource_id == sc.WORKSPACE
    assert resolve_workspace(sc.WORKSPACE + "/", tmp_path) == parse_workspace(sc.WORKSPACE)  # the flag wins


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subscription_id": sc.SUB, "workspace_name": "w"}, "missing resource_group"),
        ({**CONFIG, "subscription_id": "nope"}, "is not an Azure ML workspace id"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_config_is_a_target_error(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        read_config(_write(tmp_path, data))


def test_unreadable_json(tmp_path: Path) -> None:
    path = tmp_path / ".azureml" / "config.json"
    path.parent.mkdir()
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TargetError, match="not a readable JSON"):
        read_config(path)


def test_no_config_anywhere(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    assert resolve_workspace(None, tmp_path) is None


def test_workspace_from_config_is_checked_with_the_ml_profile(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    twin_session.use(sc.ml_workspace())
    apply_environment(monkeypatch, twin_session.environment())
    for name in ("PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT", "PREFLIGHT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    _write(tmp_path, CONFIG)
    monkeypatch.chdir(tmp_path)
    report = run(CheckOptions(build_target(dict(os.environ)), only=["resource.endpoint", "rbac.data-action"]))
    assert one(report, "resource.endpoint").status is Status.PASS
    assert "contoso-ml" in one(report, "resource.endpoint").summary
    submit = one(
        report, "rbac.data-action", "Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action"
    )
    # AzureML Data Scientist alone (least privilege) cannot list role assignments: ARM's effective permissions,
    # which anyone may read for themselves, decide — the PASS says which assignment grants it is unreadable
    assert submit.status is Status.PASS and "your effective permissions at the workspace include" in submit.summary
    assert "Microsoft.Authorization/roleAssignments/read" in submit.summary
    assert next(e.value for e in submit.evidence if e.name == "decidedBy") == ["effective-permissions"]


def test_bad_workspace_input_is_rejected_before_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.cli import clean_env, run_cli

    from preflight.errors import TargetError

    with pytest.raises(TargetError, match="is not an Azure ML workspace id"):
        build_target({}, workspace="/subscriptions/x/workspaces/y")
    proc = run_cli(["check", "--workspace", "/subscriptions/x/workspaces/y", "--only", "env.config"])
    assert proc.returncode == 2 and "is not an Azure ML workspace id" in proc.stderr
    assert "Traceback" not in proc.stderr
    # a broken .azureml/config.json found upwards from the working directory is bad input too
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text('{"subscription_id": ')
    (tmp_path / "src").mkdir()
    proc = run_cli(["check", "--only", "env.config"], env=clean_env(), cwd=tmp_path / "src")
    assert proc.returncode == 2 and "config.json" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------------- least privilege, ml profile
# AzureML Data Scientist reads no role assignments (no Microsoft.Authorization/*/read), so a service principal or
# managed identity holding only it cannot list its own assignments; its effective permissions at the workspace
# (which anyone may read for themselves) include every assignment at or above it and decide instead.


@pytest.mark.parametrize(
    ("role", "broad"),
    [
        ("Owner", ["*"]),
        ("Contributor", ["*"]),
        ("User Access Administrator", ["Microsoft.Authorization/*"]),
        ("Role Based Access Control Administrator", ["Microsoft.Authorization/roleAssignments/write"]),
        ("AzureML Data Scientist", []),
        ("AzureML Compute Operator", []),
        ("Reader", []),
        ("Cognitive Services OpenAI User", []),
    ],
)
def test_broad_grants_on_the_real_built_in_roles(role: str, broad: list[str]) -> None:
    from preflight.builtin_roles import builtin_roles
    from preflight.checks.rbac import broad_grants

    definition = next(d for d in builtin_roles() if d.role_name == role)
    assert broad_grants(definition.permissions) == broad


def test_a_service_principal_with_only_the_data_scientist_role_passes_least_privilege(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.scenarios import run_scenario

    report = run_scenario(twin_session, monkeypatch, "ml-ci-sp-data-scientist", only=["rbac.least-privilege"])
    result = one(report, "rbac.least-privilege")
    assert result.status is Status.PASS, result.summary
    assert "holds no Owner, Contributor" in result.summary and "roleAssignments/read" in result.summary
    assert next(e.value for e in result.evidence if e.name == "decidedBy") == ["effective-permissions"]
    # the role assignment list was refused (the role cannot read it), the caller's own permissions were read
    paths = [(e.path.lower(), e.status) for e in twin_session.requests() if e.service == "arm"]
    assert any(p.endswith("/roleassignments") and s == 403 for p, s in paths), paths
    assert any(p.endswith("/microsoft.authorization/permissions") and s == 200 for p, s in paths), paths


def test_owner_whose_assignments_cannot_be_listed_is_still_flagged_by_its_permissions(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.scenarios import run_scenario

    from preflight.twin.scenario import builtin_scenario_text

    doc = json.loads(builtin_scenario_text("ml-ci-sp-owner"))
    refused = {"error": {"code": "AuthorizationFailed", "message": "refused for this test"}}
    doc["faults"] = [{"match": {"service": "arm", "path": "roleAssignments$"}, "status": 403, "body": refused}]
    report = run_scenario(twin_session, monkeypatch, doc, only=["rbac.least-privilege"])  # type: ignore[arg-type]
    result = one(report, "rbac.least-privilege")
    assert result.status is Status.WARN, result.summary
    assert "effective permissions at the workspace include *" in result.summary
    assert result.remediation is not None and "AzureML Data Scientist" in result.remediation.text


def test_a_config_naming_a_missing_workspace_points_at_the_config_file(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """403 (the caller may not read the resource group, so ARM will not say whether the workspace exists) and
    404 (it may, and it does not) both name the config file's keys; neither asks for a read only preflight makes."""
    from preflight.twin.scenario import builtin_scenario_text

    wrong = {**CONFIG, "subscription_id": "22222222-2222-4222-8222-222222222222", "workspace_name": "contoso-ml-old"}
    reader = json.loads(builtin_scenario_text("ml-data-scientist"))
    reader["roleDefinitions"].append("Reader")
    reader["roleAssignments"].append(
        {
            "properties": {
                "roleDefinitionId": "Reader",
                "principalId": "a11ce000-0000-4000-8000-00000000a11c",
                "principalType": "User",
                "scope": "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-ai",
            }
        }
    )
    _write(tmp_path, wrong)
    for scenario, status in (("ml-config-wrong-workspace", 403), (reader, 404)):
        twin_session.use(scenario)
        apply_environment(monkeypatch, twin_session.environment())
        for name in ("PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT", "PREFLIGHT_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)
        report = run(CheckOptions(build_target(dict(os.environ)), only=["resource.endpoint"]))
        result = one(report, "resource.endpoint")
        assert result.status is Status.FAIL, (status, result.summary)
        assert next(e.value for e in result.evidence if e.name == "status") == status
        assert result.remediation is not None and "workspace_name" in result.remediation.text, result.remediation
        assert "only needed for this diagnosis" not in result.remediation.text
