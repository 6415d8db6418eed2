"""``preflight whoami`` through the twin: in-process via ``main`` and once as the installed console script."""

from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli
from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.twin import Twin
from preflight.twin.scenario import builtin_scenario_text

ALICE = "a11ce000-0000-4000-8000-00000000a11c"


def test_json_for_a_user(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.use("ca-policies")
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["whoami", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["signed_in"] is True and data["type"] == "user"
    assert data["object_id"] == ALICE and data["user_principal_name"] == "alice@contoso.onmicrosoft.com"
    assert data["display_name"] == "Alice Smith" and data["groups"] == 1
    assert data["credential"] == "AzureCliCredential"
    assert data["tenant_id"] == "11111111-1111-4111-8111-111111111111"
    assert [(e.method, e.path) for e in twin_session.requests() if e.service == "graph"] == [("POST", "/v1.0/$batch")]


def test_table_for_a_service_principal(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.use("principal-secret-expiring")
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["whoami"]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    assert lines["type"].strip() == "servicePrincipal"
    assert lines["name"].strip() == "preflight-ci"
    assert lines["credential"].strip() == "EnvironmentCredential"
    assert "twin-ci-secret-value" not in out


def test_not_signed_in_and_bad_input(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.use("no-credentials")
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["whoami"]) == 1
    assert capsys.readouterr().err.startswith("not signed in: ")
    assert main(["whoami", "--tenant", "not a tenant!"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("preflight: error: tenant 'not a tenant!' is neither a GUID nor a domain name")
    assert "Traceback" not in err


def test_console_script(twin_session: Twin) -> None:
    twin_session.use("healthy")
    done = run_cli(["whoami", "--format", "json"], env=twin_session.process_environment())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["object_id"] == ALICE
    bad = run_cli(["whoami", "--format", "xml"], env=twin_session.process_environment())
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_guest_is_named_a_guest(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """userType is not in Graph v1.0's default user properties: whoami (and the Conditional Access guest rule)
    see it only because the directory read names it in $select."""
    doc = json.loads(builtin_scenario_text("ca-policies"))
    next(u for u in doc["directory"]["users"] if u["id"] == ALICE)["userType"] = "Guest"
    twin_session.use(doc)
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["whoami", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["user_type"] == "Guest"
