"""The built-in audit scenarios (``preflight twin exec --scenario audit-… -- preflight audit``): each finding
docs/audit.md promises, as a reviewer reads it — one table row per offending assignment naming who (display
name, kind), what (role) and where (scope), with the exact command — and a readable header. The auditor holds
only what a real auditor holds: Reader on the subscription and Directory Readers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.twin import Twin
from preflight.twin.scenario import load_scenario

SUB = "22222222-2222-4222-8222-222222222222"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ai"
AUDITOR = "a0d17000-0000-4000-8000-0000000000b0"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# scenario → {(check id, status, subject, role, scope, kind)}: every non-PASS row the audit must print (docs/audit.md)
EXPECTED: dict[str, set[tuple[str, str, str, str, str, str]]] = {
    "audit-ci-overprivileged": {
        ("audit.privileged-apps", "fail", "contoso-deploy-ci", "Owner", f"/subscriptions/{SUB}", "service principal"),
    },
    "audit-estate": {
        ("audit.privileged-guests", "fail", "Carol (Fabrikam)", "Owner", f"/subscriptions/{SUB}", "guest user"),
        ("audit.direct-users", "warn", "Carol (Fabrikam)", "Owner", f"/subscriptions/{SUB}", "guest user"),
        (
            "audit.orphaned",
            "warn",
            "de1e7ed0-0000-4000-8000-0000000000de",
            "Reader",
            RG,
            'deleted user ("Unknown" in the portal)',
        ),
        (
            "audit.broad-data-roles",
            "warn",
            "AI developers",
            "Cognitive Services OpenAI User",
            f"/subscriptions/{SUB}",
            "group",
        ),
    },
}


def _audit(twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(["audit", "--no-color", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def use(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> Any:
    def serve(name: str) -> None:
        twin_session.use(name)
        apply_environment(monkeypatch, twin_session.environment())

    return serve


def _evidence(result: dict[str, Any], name: str) -> Any:
    return next(e["value"] for e in result["evidence"] if e["name"] == name)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_finding_names_who_what_and_where_with_its_command(
    scenario: str, use: Any, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(scenario)
    code, out, err = _audit(twin_session, monkeypatch, capsys, "--format", "json")
    assert code == 1 and err == ""
    results = json.loads(out)["results"]
    rows = [r for r in results if r["status"] in ("fail", "warn")]
    rows = [r for r in rows if r["check_id"] not in ("audit.custom-wildcards", "audit.expiring-credentials")]
    seen = set()
    for r in rows:
        role, scope = _evidence(r, "role"), _evidence(r, "scope")
        # "<role> on <scope> — <kind> <UPN | app id | object id>"
        assert r["summary"].startswith(f"{role} on {scope} \u2014 "), r["summary"]
        kind = next(k for *_, k in EXPECTED[scenario] if r["summary"].split(" \u2014 ", 1)[1].startswith(k))
        seen.add((r["check_id"], r["status"], r["subject"], role, scope, kind))
        # every row carries its own exact, pasteable command: delete this assignment by its id
        assert r["remediation"]["commands"][-1] == f"az role assignment delete --ids {_evidence(r, 'assignment_id')}"
    assert seen == EXPECTED[scenario]
    assert twin_session.errors() == []


def test_the_ci_app_s_expiring_secret_has_the_rotation_commands(
    use: Any, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use("audit-ci-overprivileged")
    code, out, _ = _audit(twin_session, monkeypatch, capsys, "--format", "json", "--only", "audit.expiring-credentials")
    assert code == 0  # a WARN is below the default --fail-on fail
    (result,) = json.loads(out)["results"]
    app = "c1de9000-0000-4000-8000-0000000000c1"
    assert (result["status"], result["subject"]) == ("warn", "contoso-deploy-ci")
    assert "secret 'github deploy' expires" in result["summary"] and f"app id {app}" in result["summary"]
    # az ad app credential reset --append adds a secret without removing the old one; delete --key-id removes one
    assert result["remediation"]["commands"] == [
        f"az ad app credential reset --id {app} --append",
        f"az ad app credential delete --id {app} --key-id 5ec7c1de-0000-4000-8000-000000000001",
    ]
    assert "twin-deploy-secret-value" not in out  # a secret's value never reaches a report


def test_the_wildcard_custom_role_is_named_with_its_wildcards(
    use: Any, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use("audit-estate")
    _, out, _ = _audit(twin_session, monkeypatch, capsys, "--only", "audit.custom-wildcards")
    assert "WARN  audit.custom-wildcards [Contoso Operator]  custom role grants Microsoft.Compute/*" in out
    assert "$ az role definition update --role-definition role.json" in out


def test_the_table_names_names_and_the_header_is_readable(
    use: Any, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use("audit-estate")
    code, out, _ = _audit(twin_session, monkeypatch, capsys)
    header = out.splitlines()[0]
    assert f"audited=subscription {SUB}" in header and "{" not in header and "[" not in header
    assert (
        f"FAIL  audit.privileged-guests [Carol (Fabrikam)]  Owner on /subscriptions/{SUB} \u2014 guest user "
        "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com" in out
    )
    assert "$ az role assignment delete --ids /subscriptions/" in out
    assert "{'" not in out  # no Python repr anywhere, -v or not
    assert code == 1


@pytest.mark.parametrize("subscription", ["99999999-0000-4000-8000-000000000001"])
def test_an_unknown_subscription_is_an_error_not_a_clean_audit(
    subscription: str,
    use: Any,
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use("audit-estate")
    code, out, err = _audit(twin_session, monkeypatch, capsys, "--subscription", subscription)
    assert code == 1 and "Traceback" not in out + err
    assert "ERROR audit.inventory  could not list role assignments: none of the named scopes is visible: " in out
    assert "PASS" not in out


def test_a_subscription_the_auditor_cannot_read_is_an_error(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "33333333-3333-4333-8333-333333333333"
    doc = load_scenario("audit-estate")
    doc["subscriptions"].append({**doc["subscriptions"][0], "id": f"/subscriptions/{other}", "subscriptionId": other})
    twin_session.use(doc)
    apply_environment(monkeypatch, twin_session.environment())
    code, out, err = _audit(twin_session, monkeypatch, capsys, "--subscription", other)
    assert code == 1 and "Traceback" not in out + err and "PASS" not in out
    assert f"/subscriptions/{other}: 403 AuthorizationFailed" in out


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_the_auditor_holds_only_what_a_real_auditor_holds(scenario: str) -> None:
    """Reader on the subscription and Directory Readers (its Graph reads: Directory.Read.All) — nothing granted
    so that a finding appears."""
    doc = load_scenario(scenario)
    held = [ra["properties"] for ra in doc["roleAssignments"] if ra["properties"]["principalId"] == AUDITOR]
    assert [(p["roleDefinitionId"].rsplit("/", 1)[-1], p["scope"]) for p in held] == [(READER, f"/subscriptions/{SUB}")]
    assert doc["directory"]["permissions"] == {AUDITOR: ["Directory.Read.All"]}
    assert doc["signIn"]["environment"]["clientId"] == "a0d17000-0000-4000-8000-0000000000c1"
