"""access.conditional-access with Graph's What If (``POST identity/conditionalAccess/evaluate``), served by the
twin's own evaluation (preflight/twin/whatif.py, independent of preflight/ca.py): Entra decides which policies
apply where the tenant answers it; preflight's matching is the labelled fallback."""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests

from helpers.principal_world import (
    ALICE,
    SP_ID,
    builtin,
    no_ci,  # noqa: F401  (fixture)
    service_principal,
    workload_block_policy,
)
from helpers.scenarios import one, run_scenario
from helpers.twin_fixtures import apply_environment

from preflight.ca import COGNITIVE_SERVICES_APP, what_if_request
from preflight.engine import RunOptions
from preflight.model import Report, Result, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

ONLY = ["access.conditional-access"]
WHAT_IF_PATH = "/v1.0/identity/conditionalAccess/evaluate"
pytestmark = pytest.mark.usefixtures("no_ci")


def evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def graph_calls(twin: Twin) -> list[tuple[str, str, int]]:
    return [(e.method, e.path, e.status) for e in twin.requests() if e.service == "graph"]


def test_entra_what_if_decides_which_policies_apply(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "ca-policies", only=ONLY)
    overall = one(report, "access.conditional-access")
    assert overall.status is Status.PASS
    assert "2 enforced and 1 report-only would apply" in overall.summary
    assert overall.summary.endswith("(Entra's What If evaluation (Graph identity/conditionalAccess/evaluate))")
    assert "a hint" not in overall.summary
    verdicts = {p["name"]: p for p in evidence(overall, "policies")}
    mfa = verdicts["Require MFA for AI developers"]
    assert mfa["applies"] and mfa["evaluated_by"] == "entra"
    assert mfa["reason"].startswith("Entra's What If: applies; preflight's reading: includes you via group")
    block = verdicts["Block everyone but the AI team"]
    assert not block["applies"] and block["reason"].startswith("Entra's What If: does not apply (users)")
    sharepoint = verdicts["MFA for SharePoint"]
    assert not sharepoint["applies"] and sharepoint["reason"].startswith(
        "Entra's What If: does not apply (application)"
    )
    # a disabled policy keeps preflight's reading (Entra: policyNotEnabled)
    assert verdicts["Block contractors (retired)"]["evaluated_by"] == "preflight"
    warned = one(report, "access.conditional-access", "policy:Require MFA for AI developers")
    assert warned.status is Status.WARN and warned.summary.startswith(
        "policy 'Require MFA for AI developers' (enabled) requires MFA for you on Azure Cognitive Services"
    )
    assert evidence(warned, "evaluation").startswith("Entra's What If")
    # one batch for the directory, one What If evaluation (a read-only POST), nothing else
    assert graph_calls(twin_session) == [("POST", "/v1.0/$batch", 200), ("POST", WHAT_IF_PATH, 200)]


def _sp_examining_alice() -> dict[str, Any]:
    """A CI service principal with Policy.Read.All and User.Read.All but not GroupMember.Read.All examines
    Alice (--assignee): it cannot see her groups, Entra's What If can."""
    doc = service_principal(permissions=["Policy.Read.All", "User.Read.All"])
    ca = builtin("ca-policies")["directory"]
    doc["directory"]["users"] = [u for u in doc["directory"]["users"] if u["id"] != ALICE] + ca["users"]
    doc["directory"]["groups"] = ca["groups"]
    doc["directory"]["memberships"] = ca["memberships"]
    doc["directory"]["conditionalAccessPolicies"] = ca["conditionalAccessPolicies"]
    return doc


def _run_for_alice(twin: Twin, monkeypatch: pytest.MonkeyPatch, scenario: dict[str, Any]) -> Report:
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    target = build_target(dict(os.environ), assignee=ALICE)
    return run(CheckOptions(target, only=ONLY, engine=RunOptions(timeout=30, deadline=60)))


def test_what_if_sees_groups_the_caller_cannot_read(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = _sp_examining_alice()
    report = _run_for_alice(twin_session, monkeypatch, scenario)
    overall = one(report, "access.conditional-access")
    notes = evidence(overall, "notes")
    assert any(n.startswith("group memberships could not be read (GroupMember.Read.All)") for n in notes)
    verdicts = {p["name"]: p for p in evidence(overall, "policies")}
    # preflight alone would miss the group-targeted MFA policy and see the block (its exclusion is a group) …
    assert verdicts["Require MFA for AI developers"]["applies"]
    assert "Entra's What If: applies" in verdicts["Require MFA for AI developers"]["reason"]
    assert not verdicts["Block everyone but the AI team"]["applies"]
    assert one(report, "access.conditional-access", "policy:Require MFA for AI developers").status is Status.WARN
    assert all(r.subject != "policy:Block everyone but the AI team" for r in report.results)

    # … which is exactly what the fallback reports when the tenant does not answer What If.
    scenario["options"] = {**scenario.get("options", {}), "conditionalAccessWhatIf": False}
    fallback = _run_for_alice(twin_session, monkeypatch, scenario)
    hinted = {p["name"]: p for p in evidence(one(fallback, "access.conditional-access"), "policies")}
    assert not hinted["Require MFA for AI developers"]["applies"]
    assert hinted["Block everyone but the AI team"]["applies"]
    blocked = one(fallback, "access.conditional-access", "policy:Block everyone but the AI team")
    assert blocked.status is Status.FAIL


def test_workload_identity_what_if(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = workload_block_policy()
    report = run_scenario(twin_session, monkeypatch, scenario, only=ONLY)  # type: ignore[arg-type]
    blocked = one(report, "access.conditional-access", "policy:Block CI identities")
    assert blocked.status is Status.FAIL
    assert evidence(blocked, "policy")["evaluated_by"] == "entra"
    verdicts = {p["name"]: p for p in evidence(one(report, "access.conditional-access"), "policies")}
    assert verdicts["Require MFA for AI developers"]["reason"].startswith(
        "Entra's What If: does not apply (workloadIdentities)"
    )


def test_the_twin_answers_what_if_in_the_documented_shape(twin_session: Twin) -> None:
    """The request preflight sends, answered as Graph documents it (whatIfAnalysisResult collection); a bad body
    is Graph's 400 and a caller without the policy permission gets 403."""
    from azure.identity import ClientSecretCredential

    scenario = _sp_examining_alice()
    twin_session.use(scenario)
    app = scenario["directory"]["applications"][0]
    secret = next(c["x-twin-secretText"] for c in app["passwordCredentials"] if c.get("x-twin-secretText"))
    cred = ClientSecretCredential(
        twin_session.tenant_id,
        app["appId"],
        secret,
        authority=twin_session.base_url,
        disable_instance_discovery=True,
        connection_verify=str(twin_session.ca_file),
    )
    token = cred.get_token("https://graph.microsoft.com/.default").token
    url = twin_session.base_url + WHAT_IF_PATH

    def post(body: Any) -> requests.Response:
        return requests.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, verify=str(twin_session.ca_file), timeout=10
        )

    body = what_if_request("user", ALICE, None, [COGNITIVE_SERVICES_APP])
    assert body is not None and body["signInIdentity"]["@odata.type"] == "#microsoft.graph.userSignIn"
    answer = post(body)
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["@odata.context"].endswith("/v1.0/$metadata#Collection(microsoft.graph.whatIfAnalysisResult)")
    by_name = {r["displayName"]: r for r in doc["value"]}
    assert len(by_name) == 6
    assert (
        by_name["Require MFA for AI developers"]["policyApplies"],
        by_name["Require MFA for AI developers"]["analysisReasons"],
    ) == (True, "notSet")
    assert by_name["Block contractors (retired)"]["analysisReasons"] == "policyNotEnabled"
    assert by_name["Require MFA for AI developers"]["grantControls"]["builtInControls"] == ["mfa"]
    applied = post({**body, "appliedPoliciesOnly": True}).json()["value"]
    assert {r["displayName"] for r in applied} == {
        "Require MFA for AI developers",
        "Require a compliant device",
        "Sign-in frequency 8 hours (pilot)",
    }
    bad = post({"signInIdentity": {"userId": ALICE}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"
    # managed identities cannot be described to What If: no request is built
    assert what_if_request("managedIdentity", "x", "y", [COGNITIVE_SERVICES_APP]) is None
    scenario["directory"]["permissions"] = {SP_ID: ["User.Read.All"]}
    twin_session.use(scenario)
    denied = post(body)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert twin_session.errors() == []


def test_the_what_if_option_is_validated() -> None:
    from preflight.twin.scenario import ScenarioError, load_scenario

    doc = builtin("ca-policies")
    doc["options"] = {"conditionalAccessWhatIf": "no"}
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc)
    assert "options.conditionalAccessWhatIf: must be true or false" in info.value.errors
    doc["options"] = {"conditionalAccessWhatIf": False}
    assert load_scenario(doc)["options"]["conditionalAccessWhatIf"] is False


def test_policies_are_paged_and_every_page_is_read(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Graph pages the policy list like any collection: with two per page the check still reads all six
    (the batch answers the first page, the rest follow @odata.nextLink)."""
    scenario = builtin("ca-policies")
    scenario["options"] = {"graphPageSize": 2}
    report = run_scenario(twin_session, monkeypatch, scenario, only=ONLY)  # type: ignore[arg-type]
    overall = one(report, "access.conditional-access")
    assert overall.summary.startswith("6 Conditional Access policies read; 2 enforced and 1 report-only")
    pages = [e for e in twin_session.requests() if e.path == "/v1.0/identity/conditionalAccess/policies"]
    assert [e.query.get("$skiptoken") for e in pages] == ["2", "4"]
