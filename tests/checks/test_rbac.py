"""rbac.* checks against the twin (issue 6): data roles, PIM, ARM's effective permissions, propagation, deny
assignments, least privilege — and the pure rules behind them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import one, results, run_scenario

from preflight.model import Report, Status
from preflight.rbac import AppliedAssignment, Decision, RoleAssignment
from preflight.twin import Twin

CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
READ = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
RBAC = ["rbac.*"]
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def _statuses(report: Report, check_id: str) -> set[Status]:
    return {r.status for r in results(report, check_id)}


def test_healthy_least_privilege_passes_and_names_the_unreadable_deny_list(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # healthy is the guide's setup: the data role on the account and nothing else — it cannot read deny
    # assignments, which is a caveat told once (rbac.deny), not a doubt about the grant
    report = run_scenario(twin_session, monkeypatch, "healthy", only=RBAC)
    for check_id in ("rbac.data-action", "rbac.propagation", "rbac.least-privilege"):
        assert _statuses(report, check_id) == {Status.PASS}, results(report, check_id)
    deny = one(report, "rbac.deny")
    assert deny.status is Status.WARN and "Microsoft.Authorization/denyAssignments/read" in deny.summary
    # ARM's effective permissions were read (once) and agree: no cross-check warning
    paths = [e.path.lower() for e in twin_session.requests()]
    assert sum(p.endswith("/providers/microsoft.authorization/permissions") for p in paths) == 1
    assert sum(p.endswith("/providers/microsoft.authorization/roleassignments") for p in paths) == 1
    # every ARM client of the run shares the token the chain probe fetched: one `az` call in all
    assert sum(p == "/_twin/az" for p in paths) == 1
    chat = one(report, "rbac.data-action", CHAT)
    assert next(e.value for e in chat.evidence if e.name == "armPermissions") == "allowed"


def test_owner_without_data_role_fails_with_the_fix_and_arm_agrees(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, "owner-without-data-role", only=RBAC)
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL and "Owner" in chat.summary
    assert chat.remediation is not None
    assert chat.remediation.commands[0].startswith("az role assignment create --assignee-object-id")
    assert next(e.value for e in chat.evidence if e.name == "armPermissions") == "not-allowed"
    assert not [r for r in report.results if (r.subject or "").startswith("effective-permissions")]
    # nothing grants, so nothing to propagate: SKIP pointing at the root cause
    assert one(report, "rbac.propagation").caused_by == "rbac.data-action"


def test_group_assignment_passes_via_the_nested_group(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "group-assignment", only=RBAC)
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.PASS and "via group 6e0f0000-0000-4000-8000-00000000a1d0" in chat.summary
    assert one(report, "rbac.propagation").status is Status.PASS  # a user through a group: no caching caveat


def test_deny_assignment_fails_in_rbac_deny_and_data_action_points_there(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, "deny-assignment", only=RBAC)
    deny = one(report, "rbac.deny", CHAT)
    assert deny.status is Status.FAIL
    assert "Deny Azure OpenAI data access (managed application)" in deny.summary
    assert "/resourceGroups/rg-ai" in deny.summary
    assert deny.remediation is not None and "system-protected" in deny.remediation.text
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL and chat.caused_by == "rbac.deny" and "see rbac.deny" in chat.summary
    assert chat.remediation is None  # the fix is told once, by rbac.deny


def test_propagation_pending_warns_and_names_the_age(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "propagation-pending", only=RBAC)
    assert one(report, "rbac.data-action", CHAT).status is Status.PASS
    warning = one(report, "rbac.propagation")
    assert warning.status is Status.WARN
    assert "Cognitive Services OpenAI User' was assigned" in warning.summary and "10 minutes" in warning.summary
    assert warning.remediation is not None and "--wait" in warning.remediation.commands[0]


def test_data_role_at_a_management_group_counts_but_warns(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, sc.data_role_at_management_group(), only=RBAC)
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.PASS and "managementGroups/corp" in chat.summary
    warning = one(report, "rbac.propagation")
    assert warning.status is Status.WARN and "management group" in warning.summary


def test_pim_eligible_role_says_activate_it(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, sc.with_eligibility(), only=RBAC)
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL
    assert "activate it in PIM" in chat.summary and "Cognitive Services OpenAI User" in chat.summary
    assert chat.remediation is not None and not chat.remediation.commands  # not "assign a role"
    assert any(
        "roleEligibilityScheduleInstances" in e.path and "asTarget()" in str(e.query) for e in twin_session.requests()
    )


def test_unreadable_pim_is_a_warn_naming_the_permission(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.builtin("owner-without-data-role")
    doc["faults"] = [
        {
            "match": {"service": "arm", "path": "roleEligibilityScheduleInstances"},
            "status": 403,
            "body": {"error": {"code": "AuthorizationFailed", "message": "no"}},
        }
    ]
    report = run_scenario(twin_session, monkeypatch, doc, only=RBAC)
    assert one(report, "rbac.data-action", CHAT).status is Status.FAIL  # still the missing role
    pim = one(report, "rbac.data-action", "pim")
    # undecided is never "does not apply": a WARN naming the permission (issue 15's gate rule)
    assert pim.status is Status.WARN and "roleEligibilityScheduleInstances/read" in pim.summary


def test_arm_effective_permissions_disagreeing_are_reported(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ARM answers that the caller holds every Cognitive Services data action (as a Lighthouse delegation would),
    # while no assignment preflight can list grants it
    doc = sc.builtin("owner-without-data-role")
    doc["faults"] = [
        {
            "match": {"service": "arm", "path": "Authorization/permissions"},
            "status": 200,
            "body": {
                "value": [
                    {
                        "actions": ["*"],
                        "notActions": [],
                        "notDataActions": [],
                        "dataActions": ["Microsoft.CognitiveServices/*"],
                    }
                ]
            },
        }
    ]
    report = run_scenario(twin_session, monkeypatch, doc, only=RBAC)
    cross = one(report, "rbac.data-action", CHAT)  # one result per action: the sources disagree
    assert cross.status is Status.WARN and "ARM says your effective permissions include" in cross.summary
    assert cross.remediation is not None and "Lighthouse" in cross.remediation.text


def test_service_principal_with_contributor_on_the_subscription_warns(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = sc.service_principal_with(
        [("Contributor", f"/subscriptions/{sc.SUB}"), ("Cognitive Services OpenAI User", sc.ACCOUNT)]
    )
    report = run_scenario(twin_session, monkeypatch, doc, only=RBAC)
    assert one(report, "rbac.data-action", CHAT).status is Status.PASS
    (warning,) = results(report, "rbac.least-privilege")
    assert warning.status is Status.WARN
    assert "service principal holds Contributor at the subscription (/subscriptions/" in warning.summary
    assert next(e.value for e in warning.evidence if e.name == "roleDefinitionId").endswith(CONTRIBUTOR)
    assert warning.remediation is not None and warning.remediation.commands[0].startswith("az role assignment delete")


def test_service_principal_with_contributor_on_the_accounts_resource_group_warns(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 20: Contributor on the resource group reaches the account (delete it, list its keys): flagged too
    doc = sc.service_principal_with([("Contributor", sc.RG), ("Cognitive Services OpenAI User", sc.ACCOUNT)])
    report = run_scenario(twin_session, monkeypatch, doc, only=RBAC)
    (warning,) = results(report, "rbac.least-privilege")
    assert warning.status is Status.WARN and "holds Contributor at resource group rg-ai" in warning.summary
    # the narrow role is already held: only the removal is left to do
    assert (
        warning.remediation is not None
        and "it already holds Cognitive Services OpenAI User" in warning.remediation.text
    )
    assert [c.split(" --")[0] for c in warning.remediation.commands] == ["az role assignment delete"]


def test_service_principal_with_only_the_data_role_passes(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.service_principal_with([("Reader", sc.RG), ("Cognitive Services OpenAI User", sc.ACCOUNT)])
    report = run_scenario(twin_session, monkeypatch, doc, only=RBAC)
    assert one(report, "rbac.least-privilege").status is Status.PASS


# ------------------------------------------------------------------------------------------------ --wait


def test_wait_rechecks_with_fresh_facts_until_settled(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin_session.use("propagation-pending")
    apply_environment(monkeypatch, twin_session.environment())
    attempts: list[tuple[int, str]] = []

    def on_retry(attempt: int, left: float, report: Report, reason: str) -> None:
        attempts.append((attempt, reason))
        twin_session.use("healthy")  # the assignment "propagated" meanwhile

    options = CheckOptions(
        build_target(dict(os.environ)),
        only=RBAC,
        engine=RunOptions(timeout=30, deadline=60),
        wait=60,
        wait_interval=0.01,
    )
    report = run(options, on_retry=on_retry)
    assert [a for a, _ in attempts] == [1] and attempts[0][1].startswith("rbac.propagation")
    assert one(report, "rbac.propagation").status is Status.PASS


def test_wait_gives_up_when_the_time_is_over(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin_session.use("propagation-pending")
    apply_environment(monkeypatch, twin_session.environment())
    calls: list[int] = []
    options = CheckOptions(
        build_target(dict(os.environ)),
        only=["rbac.propagation"],
        engine=RunOptions(timeout=30, deadline=60),
        wait=2.0,
        wait_interval=0.05,
    )
    started = time.monotonic()
    lefts: list[float] = []
    report = run(options, on_retry=lambda attempt, left, *_: (calls.append(attempt), lefts.append(left)))
    # It gives up with the last verdict. How many re-checks fit into 2 s depends on the machine's load (on a
    # busy machine the first attempt alone may use the whole wait), so only their order and the time left
    # before each are asserted; test_wait_rechecks_with_fresh_facts_until_settled proves that it re-checks.
    assert one(report, "rbac.propagation").status is Status.WARN
    assert calls == list(range(1, len(calls) + 1))
    assert all(0 < left <= 2.0 for left in lefts)
    assert lefts == sorted(lefts, reverse=True)
    assert time.monotonic() - started < 60


# ------------------------------------------------------------------------------------------------ pure rules


def _grant(scope: str, created: str | None, via: str | None = None) -> AppliedAssignment:
    assignment = RoleAssignment(
        id="ra", scope=scope, role_definition_id="r", principal_id=via or "me", created_on=created
    )
    return AppliedAssignment(assignment, None, inherited=False, via_group=via)


def _decision(*grants: AppliedAssignment, data: bool = True) -> Decision:
    return Decision("granted", "a/b/action", "/subscriptions/s", data, tuple(grants), (), (), (), ())


@pytest.mark.parametrize(
    ("created", "kind", "via", "scope", "pending"),
    [
        ("2024-05-01T10:00:00.0000000Z", "user", None, "/subscriptions/s", False),
        ("@recent", "user", None, "/subscriptions/s", True),
        (None, "user", None, "/providers/Microsoft.Management/managementGroups/corp", True),
        (None, "managedIdentity", "group-1", "/subscriptions/s", True),
        (None, "user", "group-1", "/subscriptions/s", False),
    ],
)
def test_grant_concerns(created: str | None, kind: str, via: str | None, scope: str, pending: bool) -> None:
    from rbac_rules import settled_or_concerns  # type: ignore[import-not-found]

    now = time.time()
    if created == "@recent":
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30))
    assert bool(settled_or_concerns(_decision(_grant(scope, created, via)), kind, now)) is pending


def test_one_settled_grant_is_enough() -> None:
    from rbac_rules import settled_or_concerns  # type: ignore[import-not-found]

    now = time.time()
    fresh = _grant("/subscriptions/s", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)))
    old = _grant("/subscriptions/s", "2020-01-01T00:00:00Z")
    assert settled_or_concerns(_decision(fresh, old), "user", now) == []
    assert settled_or_concerns(_decision(fresh), "user", now)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00.0000000Z", 1714557600.0),
        ("2024-05-01T10:00:00Z", 1714557600.0),
        ("2024-05-01T10:00:00.5+00:00", 1714557600.5),
        ("2024-05-01T10:00:00", 1714557600.0),
        ("yesterday", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_time(text: str | None, expected: float | None) -> None:
    from rbac_rules import parse_time  # type: ignore[import-not-found]

    assert parse_time(text) == expected


TARGET_WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"


@pytest.mark.parametrize(
    ("role", "scope", "broad"),
    [
        (CONTRIBUTOR, "/subscriptions/s", True),
        ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "/providers/Microsoft.Management/managementGroups/corp", True),
        ("18D7D88D-D35E-4FB5-A5C3-7773C20A72D9", "/", True),  # GUIDs compared case-insensitively
        (CONTRIBUTOR, "/subscriptions/s/resourceGroups/rg", True),  # the target's resource group
        ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", TARGET_WS, True),  # Owner on the workspace itself
        ("f58310d9-a9f6-439a-9e8d-f62e7b41a168", TARGET_WS.upper(), True),  # RBAC Administrator; case-insensitive
        (CONTRIBUTOR, "/subscriptions/s/resourceGroups/rg2", False),  # another resource group
        (CONTRIBUTOR, "/subscriptions/s2", False),  # another subscription
        (CONTRIBUTOR, TARGET_WS + "/computes/gpu", False),  # below the target
        ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "/subscriptions/s", False),  # Reader
    ],
)
def test_over_privileged_is_decided_by_guid_and_scope(role: str, scope: str, broad: bool) -> None:
    from rbac_rules import over_privileged  # type: ignore[import-not-found]

    assignment = RoleAssignment(
        id="ra",
        scope=scope,
        role_definition_id=f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
        principal_id="sp",
    )
    assert bool(over_privileged([assignment], TARGET_WS)) is broad


@pytest.fixture(autouse=True)
def _alias_checks_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import the installed module under a short alias for the pure-rule tests (never ``checks.rbac``)."""
    import sys

    import preflight.checks.rbac as module

    monkeypatch.setitem(sys.modules, "rbac_rules", module)


# ------------------------------------------------------------------------------------------------ --assignee


def _with_assignee(twin: Twin, monkeypatch: pytest.MonkeyPatch, scenario: Any, assignee: str) -> Report:
    import os

    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    target = build_target(dict(os.environ), assignee=assignee)
    return run(CheckOptions(target, only=RBAC, engine=RunOptions(timeout=30, deadline=60)))


def test_check_another_principal_by_app_id(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    # Alice (signed in) checks the CI service principal, which holds Contributor on the subscription only
    doc = sc.service_principal_with([("Contributor", f"/subscriptions/{sc.SUB}")])
    doc["signIn"]["azureCli"] = sc.builtin("healthy")["signIn"]["azureCli"]
    doc["signIn"]["environment"] = None
    doc["roleAssignments"].append(sc.assignment("Owner", sc.ALICE, f"/subscriptions/{sc.SUB}"))
    report = _with_assignee(twin_session, monkeypatch, doc, sc.SP_APP)
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL and "Contributor" in chat.summary
    assert chat.remediation is not None
    assert (
        f"--assignee-object-id {sc.SP_OBJECT} --assignee-principal-type ServicePrincipal"
        in chat.remediation.commands[0]
    )
    assert next(e.value for e in chat.evidence if e.name == "armPermissions").startswith("not asked")
    assert {r.status for r in results(report, "rbac.least-privilege")} == {Status.WARN}


def test_unknown_assignee_fails_rbac_data_action(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = _with_assignee(twin_session, monkeypatch, "healthy", "nobody@contoso.onmicrosoft.com")
    (result,) = results(report, "rbac.data-action")
    assert result.status is Status.FAIL and "no such user" in result.summary
    assert one(report, "rbac.deny").caused_by == "rbac.data-action"


def test_managed_identity_through_a_group_warns_about_token_caching(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, sc.managed_identity_through_group(), only=RBAC)
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.PASS and f"via group {sc.MI_GROUP}" in chat.summary
    warning = one(report, "rbac.propagation")
    assert warning.status is Status.WARN and "managed identity through group" in warning.summary
    assert "24 hours" in warning.summary


def test_an_old_group_grant_of_a_managed_identity_has_settled(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the caveat (its tokens cache group membership for up to 24 h) can only hold while the grant is younger:
    # an old one must not WARN forever (nor keep --wait from settling)
    report = run_scenario(twin_session, monkeypatch, sc.managed_identity_through_group("@now-3d"), only=RBAC)
    assert one(report, "rbac.data-action", CHAT).status is Status.PASS
    assert one(report, "rbac.propagation").status is Status.PASS


def test_a_fresh_grant_the_data_plane_already_accepts_has_settled(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with --probe, the service's 200 proves the grant is effective: no guessing from the assignment's age
    doc = sc.builtin("propagation-pending")
    doc["options"]["dataPlanePropagationSeconds"] = 0  # this data plane has already learnt the assignment
    report = run_scenario(twin_session, monkeypatch, doc, only=[*RBAC, "access.probe"])  # type: ignore[arg-type]
    assert one(report, "access.probe").status is Status.PASS
    settled = one(report, "rbac.propagation")
    assert settled.status is Status.PASS and "already accepts the token" in settled.summary


def test_a_fresh_grant_the_data_plane_refuses_says_wait_not_assign(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a least-privilege developer (no deny-assignment read) with a role granted a minute ago, probed: the
    # refusal is propagation — the fix is to wait, never a second assignment
    doc = sc.builtin("propagation-pending")
    doc["roleAssignments"] = [a for a in doc["roleAssignments"] if a["properties"]["roleDefinitionId"] != "Reader"]
    report = run_scenario(twin_session, monkeypatch, doc, only=[*RBAC, "access.probe"])  # type: ignore[arg-type]
    assert one(report, "rbac.data-action", READ).status is Status.PASS
    assert one(report, "rbac.propagation").status is Status.WARN
    probe = one(report, "access.probe")
    assert probe.status is Status.FAIL and probe.remediation is not None
    assert probe.remediation.text.startswith("wait") and not probe.remediation.commands
    assert "role assignment create" not in str(report.results)


def test_the_fix_never_proposes_a_role_already_held(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    # Alice holds Cognitive Services OpenAI User on the account, but its definition cannot be read and ARM's
    # permissions (here emptied) say nothing grants chat: the verdict is "not granted", yet the least-privilege
    # role is one she already holds — adding it again is never the fix
    doc = sc.builtin("healthy")
    doc["faults"] = [
        {
            "match": {"service": "arm", "path": "roleDefinitions/"},
            "status": 403,
            "body": {"error": {"code": "AuthorizationFailed", "message": "no"}},
        },
        {"match": {"service": "arm", "path": "Authorization/permissions"}, "status": 200, "body": {"value": []}},
    ]
    report = run_scenario(twin_session, monkeypatch, doc, only=["rbac.data-action"])
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL and chat.remediation is not None
    assert not chat.remediation.commands, chat.remediation
    assert chat.remediation.text.startswith("you already hold Cognitive Services OpenAI User at ")


def test_the_data_plane_decides_what_no_other_source_could(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    # Cognitive Services User at the subscription reads no Microsoft.Authorization data, and ARM's permissions
    # answer 503 throughout: only --probe's 200 can decide — for the action it exercises, and only that one
    doc = sc.builtin("cs-user-subscription")
    doc["faults"] = [
        {
            "match": {"service": "arm", "path": "Authorization/permissions"},
            "status": 503,
            "body": {"error": {"code": "ServiceUnavailable", "message": "try later"}},
        }
    ]
    report = run_scenario(twin_session, monkeypatch, doc, only=["rbac.data-action", "access.probe"])  # type: ignore[arg-type]
    read = one(report, "rbac.data-action", READ)
    assert read.status is Status.PASS and "the data plane accepted the token" in read.summary
    assert next(e.value for e in read.evidence if e.name == "decidedBy") == ["data-plane"]
    undecided = one(report, "rbac.data-action", CHAT)
    assert undecided.status is Status.ERROR and "could not decide" in undecided.summary
    assert "roleAssignments/read" in undecided.summary
