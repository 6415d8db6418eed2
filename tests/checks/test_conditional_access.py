"""access.conditional-access through the twin: the built-in ca-policies scenario and a caller without
Policy.Read.All."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.principal_world import (
    builtin,
    no_ci,  # noqa: F401  (fixture)
    workload_block_policy,
)
from helpers.scenarios import one, results, run_scenario

from preflight.model import Result, Status
from preflight.twin import Twin

ONLY = ["access.conditional-access"]
pytestmark = pytest.mark.usefixtures("no_ci")


def evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def without_what_if(name: str) -> dict[str, Any]:
    """A built-in scenario in a tenant/cloud that does not answer Graph's What If (the twin's 400)."""
    scenario = builtin(name)
    scenario.setdefault("options", {})["conditionalAccessWhatIf"] = False
    return scenario


def test_policies_that_apply_and_those_that_do_not(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without What If: preflight's own matching, labelled as a hint."""
    report = run_scenario(twin_session, monkeypatch, without_what_if("ca-policies"), only=ONLY)
    overall = one(report, "access.conditional-access")
    assert overall.status is Status.PASS
    assert "6 Conditional Access policies read; 2 enforced and 1 report-only would apply" in overall.summary
    assert "a hint, not Entra's evaluation" in overall.summary
    verdicts = {p["name"]: p for p in evidence(overall, "policies")}
    # included through her group, on the one app the policy names
    mfa = verdicts["Require MFA for AI developers"]
    assert mfa["applies"] and mfa["reason"].startswith("includes you via group 'AI developers'")
    assert mfa["apps"] == ["7d312290-28c8-473c-a0ed-8e53749b6d6d"]
    # "All" apps
    assert verdicts["Require a compliant device"]["reason"].endswith("targets all cloud apps")
    # excluded (through the same group)
    block = verdicts["Block everyone but the AI team"]
    assert not block["applies"] and "but excludes your group 'AI developers'" in block["reason"]
    # only another app
    other = verdicts["MFA for SharePoint"]
    assert not other["applies"] and other["reason"].endswith("targets only other apps")
    # disabled
    disabled = verdicts["Block contractors (retired)"]
    assert not disabled["applies"] and disabled["state"] == "disabled"
    assert evidence(overall, "token") == {"mfa": False, "device_id_present": False}

    warned = one(report, "access.conditional-access", "policy:Require MFA for AI developers")
    assert warned.status is Status.WARN
    assert warned.summary.startswith(
        "policy 'Require MFA for AI developers' (enabled) requires MFA for you on "
        "Azure Cognitive Services (7d312290-28c8-473c-a0ed-8e53749b6d6d); interactive sign-ins will prompt; "
        "automation must "
        "use a service principal or managed identity"
    )
    assert "your current token was issued without MFA" in warned.summary
    device = one(report, "access.conditional-access", "policy:Require a compliant device")
    assert device.status is Status.WARN and "AADSTS53000" in device.summary
    report_only = one(report, "access.conditional-access", "policy:Sign-in frequency 8 hours (pilot)")
    assert report_only.status is Status.PASS
    assert "(report-only)" in report_only.summary and "every 8 hours" in report_only.summary
    assert len(results(report, "access.conditional-access")) == 4
    assert (
        "Entra's What If evaluation is not available (HTTP 400: BadRequest Resource not found for the segment "
        "'evaluate'.)" in evidence(overall, "notes")
    )
    assert all(p["evaluated_by"] == "preflight" for p in verdicts.values())
    # user, groups and policies: one batch; then the What If attempt the tenant refused
    assert [(e.method, e.path, e.status) for e in twin_session.requests() if e.service == "graph"] == [
        ("POST", "/v1.0/$batch", 200),
        ("POST", "/v1.0/identity/conditionalAccess/evaluate", 400),
    ]


def test_without_policy_read_all_it_warns_naming_the_permission(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # undecided is never "does not apply": a WARN naming the permission (issue 15's gate rule)
    report = run_scenario(twin_session, monkeypatch, "healthy", only=ONLY)
    result = one(report, "access.conditional-access")
    assert result.status is Status.WARN, result
    assert "Policy.Read.All" in result.summary
    assert evidence(result, "permission") == "Policy.Read.All"
    assert result.remediation is not None and "Policy.Read.All" in result.remediation.text


def test_workload_identity_policy_applies_to_a_service_principal(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = workload_block_policy()
    report = run_scenario(twin_session, monkeypatch, scenario, only=ONLY)
    blocked = one(report, "access.conditional-access", "policy:Block CI identities")
    assert blocked.status is Status.FAIL
    assert blocked.summary.startswith("policy 'Block CI identities' (enabled) blocks this service principal")
    assert blocked.remediation is not None and "managed identity" not in blocked.remediation.text
    overall = one(report, "access.conditional-access")
    verdicts = {p["name"]: p for p in evidence(overall, "policies")}
    assert not verdicts["Require MFA for AI developers"]["applies"]
    assert "workload identities are not subject" in verdicts["Require MFA for AI developers"]["reason"]
