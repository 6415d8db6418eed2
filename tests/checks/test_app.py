"""The app.* checks through the CLI on the twin (issue 20 item 3): each app-* scenario's failure, with the check's
status and fix as a reader meets them — and the app's secrets described, never printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers import rbac_scenarios as sc
from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.twin import Twin
from preflight.twin.scenario import list_scenarios

KEY = "0123456789abcdef0123456789abcdef"  # the fake key app-key-local-auth-disabled carries
Found = dict[tuple[str, str | None], dict[str, Any]]


def _check(
    twin: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str | dict[str, Any],
    *extra: str,
    only: str = "app.*",
) -> tuple[int, Found, str]:
    """``preflight check --only app.* --format json -v`` on a built-in scenario: the exit code, the results by
    (check id, subject), and the whole output (to prove what it does not contain)."""
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    code = main(["check", "--only", only, "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, {(r["check_id"], r["subject"]): r for r in json.loads(out)["results"]}, out + err


def _fix(result: dict[str, Any]) -> str:
    remediation = result.get("remediation") or {}
    return " ".join([remediation.get("text") or "", *remediation.get("commands", [])])


def _evidence(result: dict[str, Any], name: str) -> Any:
    return next(e["value"] for e in result["evidence"] if e["name"] == name)


def test_a_key_on_an_account_without_local_auth_fails_with_the_entra_fix(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, out = _check(twin_session, monkeypatch, capsys, "app-key-local-auth-disabled")
    auth = found[("app.auth-mode", "local-auth")]
    assert auth["status"] == "fail", auth
    assert "AZURE_OPENAI_API_KEY is set (32 characters, hidden)" in auth["summary"]
    assert "disableLocalAuth=true" in auth["summary"]
    assert "azure_ad_token_provider=get_bearer_token_provider(DefaultAzureCredential()" in _fix(auth)
    assert _evidence(auth, "disableLocalAuth") is True
    assert KEY not in out  # described, never printed
    # the rest of the app's configuration is fine
    assert found[("app.deployment", None)]["status"] == "pass"
    assert found[("app.api-version", "OPENAI_API_VERSION")]["status"] == "pass"
    assert found[("app.endpoint", None)]["status"] == "pass"
    assert code == 1


def test_the_account_is_read_once_for_every_app_check(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.clear_log()
    _check(twin_session, monkeypatch, capsys, "app-key-local-auth-disabled", only="app.*,resource.endpoint")
    reads = [
        e for e in twin_session.requests() if e.method == "GET" and e.path.lower().endswith("accounts/contoso-openai")
    ]
    assert len(reads) == 1, reads
    assert all(e.method == "GET" for e in twin_session.requests() if e.service == "arm")  # read-only


def test_a_regional_endpoint_fails_naming_the_accounts_own(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = _check(twin_session, monkeypatch, capsys, "app-regional-endpoint")
    endpoint = found[("app.endpoint", None)]
    assert endpoint["status"] == "fail", endpoint
    assert endpoint["summary"].startswith("OPENAI_API_BASE=https://eastus.api.cognitive.microsoft.com/ is a shared")
    assert "a regional endpoint cannot take Entra ID tokens" in endpoint["summary"]
    own = twin_session.base_url + "/dataplane/contoso-openai/"
    assert f"the account's own endpoint is {own}" in endpoint["summary"]
    assert _fix(endpoint) == f"use the custom subdomain: set AZURE_OPENAI_ENDPOINT={own}"
    # the legacy api_base is named too, and its fix never recommends the regional URL
    legacy = found[("app.auth-mode", "legacy")]
    assert "eastus.api.cognitive.microsoft.com" not in _fix(legacy)
    assert code == 1


@pytest.mark.parametrize("scenario", [s for s in list_scenarios() if s.startswith("app-")])
def test_no_app_scenario_makes_a_real_host_the_runs_target(twin_session: Twin, scenario: str) -> None:
    """A scenario's app variables may name real hosts (that is the mistake they show), but never as the run's
    endpoint: with --probe the data plane would be called there. Only loopback is ever a network target."""
    twin_session.use(scenario)
    env = twin_session.environment()
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT"):
        if env.get(name):
            assert urlsplit(env[name]).hostname in ("127.0.0.1", "localhost"), (name, env[name])


def test_legacy_openai_settings_are_named_as_ignored_by_openai_1(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = _check(twin_session, monkeypatch, capsys, "app-legacy-openai-settings")
    legacy = found[("app.auth-mode", "legacy")]
    assert legacy["status"] == "warn", legacy
    assert "OPENAI_API_TYPE=azure_ad" in legacy["summary"]
    # whichever openai is installed where the tests run, the fix is the openai>=1.0 token provider
    assert "azure_ad_token_provider=get_bearer_token_provider" in _fix(legacy)
    assert code == 0


def test_a_deployment_that_does_not_exist_fails_listing_the_real_ones(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = _check(twin_session, monkeypatch, capsys, "app-deployment-missing")
    deployment = found[("app.deployment", None)]
    assert deployment["status"] == "fail", deployment
    assert (
        "AZURE_OPENAI_DEPLOYMENT=gpt-35-turbo: contoso-openai has no deployment of that name" in deployment["summary"]
    )
    assert "its deployments: gpt-4o" in deployment["summary"]
    assert "a deployment name (not a model name)" in _fix(deployment)
    assert code == 1


def test_the_deployment_flag_overrides_the_environment(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, found, _ = _check(twin_session, monkeypatch, capsys, "app-deployment-missing", "--deployment", "GPT-4O")
    deployment = found[("app.deployment", None)]
    assert deployment["status"] == "pass", deployment
    assert deployment["summary"].startswith(
        "--deployment=GPT-4O: the deployment exists on contoso-openai (model gpt-4o)"
    )


def test_a_retired_api_version_fails_naming_the_latest_ga(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = _check(twin_session, monkeypatch, capsys, "app-api-version-retired")
    version = found[("app.api-version", "OPENAI_API_VERSION")]
    assert version["status"] == "fail", version
    assert "OPENAI_API_VERSION=2023-07-01-preview was retired on 2024-07-01" in version["summary"]
    assert "use 2024-10-21 (latest GA)" in _fix(version)
    assert code == 1


def test_healthy_app_settings_pass_or_do_not_apply(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = _check(twin_session, monkeypatch, capsys, "healthy")
    assert found[("app.auth-mode", None)]["status"] == "pass"
    assert found[("app.endpoint", None)]["status"] == "pass"
    assert found[("app.api-version", None)]["status"] == "skip"
    assert found[("app.deployment", None)]["status"] == "skip"
    assert code == 0


def test_an_env_file_supplies_what_the_app_loads_described_never_printed(
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(
        f'# the app calls load_dotenv()\nexport AZURE_OPENAI_API_KEY="{KEY}"\nOPENAI_API_VERSION=2023-07-01-preview\n'
        "AZURE_OPENAI_DEPLOYMENT='gpt-4o'  \n",
        encoding="utf-8",
    )
    code, found, out = _check(twin_session, monkeypatch, capsys, "healthy", "--env-file", str(env_file), "-v")
    auth = found[("app.auth-mode", "local-auth")]
    assert auth["status"] == "fail"  # healthy's account has local auth disabled
    assert _evidence(auth, "env_file") == str(env_file)
    assert "AZURE_OPENAI_API_KEY" in _evidence(auth, "from_env_file")
    assert _evidence(auth, "variables")["AZURE_OPENAI_API_KEY"] == "set (32 characters, hidden)"
    assert found[("app.api-version", "OPENAI_API_VERSION")]["status"] == "fail"
    assert found[("app.deployment", None)]["status"] == "pass"
    assert KEY not in out
    assert code == 1


def test_a_dot_env_in_the_working_directory_is_read_and_said_so(
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_VERSION=2024-13-01\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    _, found, _ = _check(twin_session, monkeypatch, capsys, "healthy")
    version = found[("app.api-version", "OPENAI_API_VERSION")]
    assert version["status"] == "fail" and "is not an api-version" in version["summary"]
    assert _evidence(version, "env_file") == f"{tmp_path / '.env'} (found in the working directory)"


def test_the_environment_wins_over_the_env_file_as_load_dotenv_does(
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_VERSION=2023-07-01-preview\n", encoding="utf-8")
    twin_session.use("healthy")
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    assert main(["check", "--only", "app.api-version", "--format", "json", "--env-file", str(env_file)]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["status"] == "pass" and "2024-10-21" in result["summary"]
    assert _evidence(result, "overridden_by_environment") == ["OPENAI_API_VERSION"]


@pytest.mark.parametrize("bad", ["missing.env", "."])
def test_a_bad_env_file_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, bad: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--only", "app.*", "--env-file", bad]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"preflight: error: --env-file {bad!r}")


def _data_only(deployment: str) -> dict[str, Any]:
    """custom-data-only (a custom role with the two OpenAI data actions and no ``actions``: ARM reads are
    refused) with the app naming ``deployment``."""
    doc = sc.builtin("custom-data-only")
    doc["app"] = {"environment": {"AZURE_OPENAI_DEPLOYMENT": deployment}}
    return doc


def test_a_data_only_identity_cannot_list_deployments_through_arm_so_it_is_undecided(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = _check(twin_session, monkeypatch, capsys, _data_only("gpt-4o"), only="app.deployment")
    deployment = found[("app.deployment", None)]
    assert deployment["status"] == "error", deployment  # never a pass
    assert "needs Microsoft.CognitiveServices/accounts/deployments/read" in deployment["summary"]
    assert "the data plane was not asked (no --probe)" in deployment["summary"]
    assert _fix(deployment).startswith("re-run with --probe")
    assert code == 1


@pytest.mark.parametrize(("name", "status"), [("gpt-4o", "pass"), ("gpt-35-turbo", "fail")])
def test_with_probe_the_data_plane_decides_for_a_data_only_identity(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, status: str
) -> None:
    twin_session.clear_log()
    _, found, _ = _check(
        twin_session, monkeypatch, capsys, _data_only(name), "--probe", only="app.deployment,access.probe"
    )
    deployment = found[("app.deployment", None)]
    assert deployment["status"] == status, deployment
    assert "read through the data plane (GET /openai/deployments)" in deployment["summary"]
    # one data-plane request, shared with access.probe
    assert len([e for e in twin_session.requests() if e.path.endswith("/openai/deployments")]) == 1


def test_a_key_with_an_account_the_identity_cannot_read_is_undecided_never_a_pass(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = sc.builtin("custom-data-only")  # a data-only custom role: the account's GET is refused
    doc["app"] = {"environment": {"AZURE_OPENAI_API_KEY": KEY, "OPENAI_API_TYPE": "azure"}}
    code, found, out = _check(twin_session, monkeypatch, capsys, doc, only="app.auth-mode")
    local = found[("app.auth-mode", "local-auth")]
    assert local["status"] == "error", local
    assert "whether the account accepts keys could not be read" in local["summary"]
    assert local["caused_by"] == "resource.endpoint"
    # what is decided without the account still stands, and nothing passes
    assert found[("app.auth-mode", "legacy")]["status"] == "warn"
    assert ("app.auth-mode", None) not in found
    assert KEY not in out
    assert code == 1


def test_the_reports_target_names_the_env_file_and_the_deployment(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_VERSION=2024-10-21\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    twin_session.use("healthy")
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["check", "--only", "app.api-version", "--format", "json", "--deployment", "chat"]) == 0
    target = json.loads(capsys.readouterr().out)["target"]
    assert target["env_file"] == f"{tmp_path / '.env'} (found in the working directory)"
    assert target["deployment"] == "chat"
