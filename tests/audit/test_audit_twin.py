"""``preflight audit`` against the twin: every finding on a tenant built to have one of each, the ARM
fallback when Resource Graph answers 403, a throttled run, and proof that the audit only reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helpers.audit_scenarios import (
    ID,
    SUB1,
    SUB2,
    audit_in_process,
    audit_scenario,
)
from helpers.scenarios import one, results

from preflight.audit.collect import AuditPlan
from preflight.model import Report, Status
from preflight.twin import Twin

ARG = "/providers/Microsoft.ResourceGraph/resources"
GET_BY_IDS = "/v1.0/directoryObjects/getByIds"


def ids(report: Report) -> list[str]:
    return [str(r["assignment_id"]).lower() for r in report.tables["assignments"]]


def evidence(result: Any, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


@pytest.fixture(scope="module")
def audited(twin_session: Twin) -> Iterator[tuple[Report, list[Any]]]:
    """One audit of the findings tenant, shared by the assertions below (the request log with it)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        report = audit_in_process(twin_session, monkeypatch, audit_scenario())
        yield report, twin_session.requests()
    assert twin_session.errors() == []


def test_inventory_lists_every_assignment_once_with_principals_resolved(audited: tuple[Report, list[Any]]) -> None:
    report, _ = audited
    result = one(report, "audit.inventory")
    assert result.status is Status.PASS and evidence(result, "source") == "resource-graph"
    rows = {r["principal_id"]: r for r in report.tables["assignments"]}
    assert len(ids(report)) == len(set(ids(report))) == 10
    bob = next(r for r in report.tables["assignments"] if r["principal_id"] == ID["bob"])
    assert (bob["principal_type"], bob["principal_upn"], bob["role_name"]) == (
        "User",
        "bob@contoso.onmicrosoft.com",
        "Reader",
    )
    assert bob["created_by"] == ID["alice"] and bob["created_by_name"] == "Alice"
    assert (
        rows[ID["readers"]]["condition"].startswith("@Resource") and rows[ID["readers"]]["condition_version"] == "2.0"
    )
    assert rows[ID["deployer"]]["principal_app_id"] == ID["deployer_app"]


def test_each_finding(audited: tuple[Report, list[Any]]) -> None:
    report, _ = audited
    expected = {
        "audit.orphaned": (Status.WARN, {ID["deleted"]}),
        "audit.privileged-apps": (Status.FAIL, {ID["deployer"], ID["build_mi"]}),
        "audit.privileged-guests": (Status.FAIL, {ID["carol"]}),
        "audit.direct-users": (Status.WARN, {ID["alice"], ID["bob"], ID["carol"]}),
        "audit.broad-data-roles": (Status.WARN, {ID["devs"]}),
    }
    # one result per offending assignment, naming who (subject) and what and where (summary), with its command
    for check_id, (status, principals) in expected.items():
        found = results(report, check_id)
        assert {r.status for r in found} == {status}, (check_id, [r.summary for r in found])
        assert {evidence(r, "principal_id") for r in found} == principals, check_id
        for result in found:
            assert result.subject and evidence(result, "role") in result.summary
            assert evidence(result, "scope") in result.summary
            assert result.remediation is not None
            assert (
                result.remediation.commands[-1]
                == f"az role assignment delete --ids {evidence(result, 'assignment_id')}"
            )
    broad = results(report, "audit.broad-data-roles")
    assert [evidence(r, "scope") for r in broad] == [f"/subscriptions/{SUB2}"]  # the account-level grant is fine
    (custom,) = results(report, "audit.custom-wildcards")
    assert custom.status is Status.WARN and custom.subject == "Contoso Operator"
    assert (evidence(custom, "role_name"), evidence(custom, "actions")) == ("Contoso Operator", ["Microsoft.Compute/*"])
    (creds,) = results(report, "audit.expiring-credentials")
    assert creds.status is Status.FAIL and creds.subject == "deployer"
    assert (evidence(creds, "app_id"), evidence(creds, "expired")) == (ID["deployer_app"], True)
    assert creds.remediation is not None and creds.remediation.commands == (
        f"az ad app credential reset --id {ID['deployer_app']} --append",
        f"az ad app credential delete --id {ID['deployer_app']} --key-id 5ec00000-0000-4000-8000-000000000001",
    )
    assert "s3cret" not in repr(report)  # a secret's value never reaches a report
    assert one(report, "audit.classic-admins").status is Status.SKIP


def test_the_audit_only_reads(audited: tuple[Report, list[Any]]) -> None:
    _, requests = audited
    writes = [
        (e.method, e.path)
        for e in requests
        if e.method != "GET"
        and not (
            e.method == "POST" and (e.path in (ARG, GET_BY_IDS) or e.service in ("entra", "twin", "managed_identity"))
        )
    ]
    assert writes == []
    assert sum(e.path == GET_BY_IDS for e in requests) == 1  # one call for every principal, not one each
    by_id = [e.path.lower() for e in requests if "/roledefinitions/" in e.path.lower()]
    assert len(by_id) == len(set(by_id))  # each role definition fetched at most once
    # 10 assignments in 3 groups (two subscriptions and the management group): ONE aggregated page of 3 rows
    assert sum(e.path == ARG for e in requests) == 1


def test_fallback_to_arm_when_resource_graph_answers_403(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, audited: tuple[Report, list[Any]]
) -> None:
    denied = {
        "match": {"service": "resource_graph"},
        "status": 403,
        "body": {
            "error": {
                "code": "AuthorizationFailed",
                "message": "The client does not have authorization "
                "to perform action 'Microsoft.ResourceGraph/resources/read'.",
            }
        },
    }
    report = audit_in_process(twin_session, monkeypatch, audit_scenario(faults=[denied]))
    result = one(report, "audit.inventory")
    assert evidence(result, "source") == "arm" and "403" in evidence(result, "fallback")
    assert sorted(ids(report)) == sorted(ids(audited[0]))  # the same assignments, each once
    listed = {e.path.lower() for e in twin_session.requests() if e.path.endswith("roleAssignments")}
    assert listed == {
        f"/subscriptions/{SUB1}/providers/microsoft.authorization/roleassignments",
        f"/subscriptions/{SUB2}/providers/microsoft.authorization/roleassignments",
    }
    assert [r.status for r in results(report, "audit.orphaned")] == [Status.WARN]
    assert twin_session.errors() == []


def test_throttled_pages_are_retried_without_losing_or_doubling_rows(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, audited: tuple[Report, list[Any]]
) -> None:
    faults = [
        # the (only, aggregated) ARG page is throttled once; tests/audit/test_audit_scale.py throttles a middle
        # page of a multi-page answer
        {
            "match": {"service": "resource_graph"},
            "status": 429,
            "retryAfter": 1,
            "count": 1,
            "body": {"error": {"code": "RateLimiting", "message": "Please provide below info when asking for support"}},
        },
        {"match": {"service": "graph", "path": "getByIds"}, "status": 429, "retryAfter": 0, "count": 1},
    ]
    report = audit_in_process(twin_session, monkeypatch, audit_scenario(faults=faults))
    assert evidence(one(report, "audit.inventory"), "source") == "resource-graph"
    assert ids(report) == ids(audited[0])
    statuses = [e.status for e in twin_session.requests() if e.path in (ARG, GET_BY_IDS)]
    assert statuses.count(429) == 2
    assert [r.status for r in results(report, "audit.orphaned")] == [Status.WARN]


def test_management_group_and_subscription_plans(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = audit_in_process(twin_session, monkeypatch, audit_scenario(), plan=AuditPlan(subscriptions=(SUB2,)))
    rows = report.tables["assignments"]
    assert {r["subscription_id"] for r in rows} <= {SUB2, None}
    assert {r["principal_id"] for r in rows if r["subscription_id"] == SUB2} == {ID["carol"], ID["devs"]}
    body = next(e for e in twin_session.requests() if e.path == ARG)
    assert body.status == 200
    report = audit_in_process(
        twin_session,
        monkeypatch,
        audit_scenario(),
        plan=AuditPlan(scopes=(f"/subscriptions/{SUB1}/resourceGroups/rg-ai",)),
    )
    rows = report.tables["assignments"]
    inherited = {r["principal_id"] for r in rows if r["inherited"]}
    assert ID["alice"] in inherited and ID["build_mi"] in inherited  # from the management group
    assert ID["carol"] not in {r["principal_id"] for r in rows}  # another subscription
    assert not any(e.path == ARG for e in twin_session.requests())  # explicit scopes: ARM semantics


def test_graph_refusal_skips_directory_findings_instead_of_calling_everyone_deleted(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    denied = {
        "match": {"service": "graph", "path": "getByIds"},
        "status": 403,
        "body": {
            "error": {
                "code": "Authorization_RequestDenied",
                "message": "Insufficient privileges to complete the operation.",
            }
        },
    }
    report = audit_in_process(twin_session, monkeypatch, audit_scenario(faults=[denied]))
    # the findings that need the principals are undecided: the inventory tells why as an ERROR (an undecided
    # audit is not a pass), and they point at it
    inventory = one(report, "audit.inventory")
    assert inventory.status is Status.ERROR and "principals could not be resolved" in inventory.summary
    assert "Authorization_RequestDenied" in inventory.summary or "403" in inventory.summary, inventory.summary
    assert one(report, "audit.orphaned").status is Status.SKIP
    assert one(report, "audit.orphaned").caused_by == "audit.inventory"
    assert all(r["principal_exists"] is None for r in report.tables["assignments"])
    assert {r.status for r in results(report, "audit.privileged-apps")} == {Status.FAIL}  # ARM principalType tells


def test_classic_administrators_only_when_asked_and_unreadable_is_a_skip(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages: list[str] = []
    report = audit_in_process(
        twin_session,
        monkeypatch,
        audit_scenario(),
        only=["audit.classic-admins"],
        classic_administrators=True,
        progress=messages.append,
    )
    assert "Resource Graph: 3/3 subscriptions and tenant scopes, 10 assignments" in messages, messages
    result = one(report, "audit.classic-admins")
    assert result.status is Status.SKIP and "not readable" in result.summary
    asked = {e.path.lower() for e in twin_session.requests() if e.path.lower().endswith("classicadministrators")}
    assert asked == {
        f"/subscriptions/{s}/providers/microsoft.authorization/classicadministrators" for s in (SUB1, SUB2)
    }


def test_no_sign_in_is_an_error_not_a_clean_audit(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight.run import exit_code

    nobody = {"environment": None, "workloadIdentity": None, "managedIdentity": None, "azureCli": None}
    report = audit_in_process(
        twin_session, monkeypatch, audit_scenario(signIn=nobody), only=["audit.inventory", "audit.orphaned"]
    )
    inventory = one(report, "audit.inventory")
    assert inventory.status is Status.ERROR and inventory.caused_by == "signin.chain", inventory.summary
    assert one(report, "audit.orphaned").status is Status.SKIP
    assert exit_code(report, "fail") == 1 and report.tables == {}
