"""``preflight can-i`` against the twin: verdicts, the JSON contract, the plane rule, assignees, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers import rbac_scenarios as sc
from helpers.twin_fixtures import apply_environment

from preflight.can_i import is_data_action, validate_action, validate_scope
from preflight.cli import main
from preflight.errors import ConfigError, TargetError
from preflight.rbac import RoleDefinition
from preflight.twin import Twin

CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
KEYS = {
    "allowed",
    "action",
    "scope",
    "principal",
    "grantedBy",
    "deniedBy",
    "conditional",
    "decidedBy",
    "unread",
    "reason",
}
GRANT_KEYS = {"roleAssignmentId", "roleDefinitionId", "roleName", "scope", "viaGroup"}


def _can_i(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scenario: Any, *args: str
) -> tuple[int, str, str]:
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    code = main(["can-i", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_allowed_json_contract(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, "healthy", CHAT, "--format", "json")
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == KEYS
    assert answer["allowed"] is True and answer["action"] == CHAT and answer["scope"] == sc.ACCOUNT
    assert answer["principal"] == {"id": sc.ALICE, "type": "User"}
    (grant,) = answer["grantedBy"]
    assert set(grant) == GRANT_KEYS
    assert grant["roleDefinitionId"].endswith(OPENAI_USER) and grant["viaGroup"] is None
    assert answer["reason"].startswith("Granted:")


def test_not_allowed_explains_and_gives_the_fix(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, "owner-without-data-role", CHAT)
    assert code == 1
    assert out.startswith("no\n")
    assert "'Owner' inherited from /subscriptions/" in out and "no data actions" in out
    assert f"--role {OPENAI_USER} --scope {sc.ACCOUNT}" in out


def test_via_group_and_another_assignee_by_upn(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(
        twin_session,
        monkeypatch,
        capsys,
        "group-assignment",
        CHAT,
        "--format",
        "json",
        "--assignee",
        "alice@contoso.onmicrosoft.com",
    )
    assert code == 0
    assert json.loads(out)["grantedBy"][0]["viaGroup"] == "6e0f0000-0000-4000-8000-00000000a1d0"


def test_denied(twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, "deny-assignment", CHAT, "--format", "json")
    answer = json.loads(out)
    assert code == 1 and answer["allowed"] is False
    assert answer["deniedBy"][0]["name"] == "Deny Azure OpenAI data access (managed application)"
    assert answer["grantedBy"]  # the role does grant it; the deny wins


def test_management_action_at_another_scope(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(
        twin_session,
        monkeypatch,
        capsys,
        "owner-without-data-role",
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        "--scope",
        sc.RG,
    )
    assert code == 0 and "management action" in out and "'Owner'" in out


def test_service_principal_by_app_id(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = sc.service_principal_with([("Cognitive Services OpenAI User", sc.ACCOUNT)])
    doc["signIn"]["azureCli"] = sc.builtin("healthy")["signIn"]["azureCli"]  # Alice asks about the CI app
    doc["signIn"]["environment"] = None
    doc["roleAssignments"].append(sc.assignment("Reader", sc.ALICE, sc.RG))
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, doc, CHAT, "--format", "json", "--assignee", sc.SP_APP)
    answer = json.loads(out)
    assert code == 0 and answer["principal"] == {"id": sc.SP_OBJECT, "type": "ServicePrincipal"}


def test_forced_plane(twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # asked as a management action, no role's `actions` grants chat completions to Alice
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, "healthy", CHAT, "--control-action")
    assert code == 1 and "(--control-action)" in out


def _provider_reads(twin: Twin) -> list[str]:
    return [e.path for e in twin.requests() if "/providerOperations" in e.path]


@pytest.mark.parametrize(
    "action",
    [
        "Microsoft.CognitiveServices/accounts/listKeys/action",
        "Microsoft.CognitiveServices/accounts/read",
        "Microsoft.CognitiveServices/accounts/deployments/write",
    ],
)
def test_owner_may_manage_the_account(
    action: str, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cognitive Services User's dataActions "Microsoft.CognitiveServices/*" match these too, so the role-pattern
    rule called them data actions and told an Owner "no"; Azure's isDataAction says management."""
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, "owner-without-data-role", action)
    assert code == 0 and out.startswith("yes\n")
    assert "management action: Azure's provider operations say so" in out and "'Owner'" in out
    assert _provider_reads(twin_session) == []  # the shipped catalogue knew it: no request


def _widgets() -> dict[str, Any]:
    doc = sc.builtin("owner-without-data-role")
    doc.setdefault("options", {})["x-providerOperations"] = [
        {
            "name": "Contoso.Widgets",
            "displayName": "Widgets",
            "operations": [],
            "resourceTypes": [
                {
                    "name": "widgets",
                    "displayName": "Widget",
                    "operations": [
                        {"name": "Contoso.Widgets/widgets/read", "isDataAction": False, "displayName": "Read widget"},
                        {"name": "Contoso.Widgets/widgets/spin/action", "isDataAction": True, "displayName": "Spin"},
                    ],
                }
            ],
        }
    ]
    return doc


def test_plane_of_another_namespace_comes_from_arm(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(
        twin_session, monkeypatch, capsys, _widgets(), "Contoso.Widgets/widgets/spin/action", "--format", "json"
    )
    answer = json.loads(out)
    assert code == 1 and answer["allowed"] is False  # Owner's actions ["*"] grant no data action
    assert "no data actions" in answer["reason"]
    assert _provider_reads(twin_session) == ["/providers/Microsoft.Authorization/providerOperations/Contoso.Widgets"]
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, _widgets(), "Contoso.Widgets/widgets/read")
    assert code == 0 and "management action: ARM's provider operations for Contoso.Widgets say so" in out


def test_unknown_namespace_falls_back_to_role_patterns_and_says_so(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(
        twin_session,
        monkeypatch,
        capsys,
        "owner-without-data-role",
        "Microsoft.Storage/storageAccounts/listKeys/action",
    )
    assert code == 0  # Owner; no role's dataActions match it, so: a management action, said to be a guess
    assert "guessed from role patterns" in out and "ARM does not know the namespace Microsoft.Storage" in out
    assert "--data-action" in out
    assert len(_provider_reads(twin_session)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chat"], "is not an Azure action"),
        (["Microsoft.CognitiveServices/*"], "contains a wildcard"),
        ([CHAT, "--scope", "/subscriptions/abc"], "is not an Azure scope"),
        ([CHAT, "--assignee", "nobody@contoso.onmicrosoft.com"], "no such user"),
        ([CHAT, "--assignee", "12345678-1234-4234-8234-123456789012"], "no user, group, service principal"),
        ([CHAT, "--assignee", "not an id"], "neither an object id, a UPN nor an application id"),
        ([CHAT, "--resource-id", "/subscriptions/x/rg"], "is not an Azure resource id"),
    ],
)
def test_bad_input_is_exit_2(
    args: list[str],
    message: str,
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _can_i(twin_session, monkeypatch, capsys, "healthy", *args)
    assert code == 2 and message in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    "action",
    [
        CHAT,
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
    ],
)
def test_valid_actions(action: str) -> None:
    assert validate_action(f" {action} ") == action


@pytest.mark.parametrize("action", ["read", "Microsoft/read", "Microsoft.Foo/bar/baz", "Microsoft.Foo bar/read"])
def test_invalid_actions(action: str) -> None:
    with pytest.raises(ConfigError):
        validate_action(action)


@pytest.mark.parametrize(
    "scope",
    [
        "/",
        "/providers/Microsoft.Management/managementGroups/corp",
        f"/subscriptions/{sc.SUB}",
        sc.RG + "/",
        sc.ACCOUNT,
        sc.ACCOUNT + "/deployments/gpt-4o",
    ],
)
def test_valid_scopes(scope: str) -> None:
    assert validate_scope(scope) == (scope if scope == "/" else scope.rstrip("/"))


@pytest.mark.parametrize(
    "scope",
    ["", "subscriptions/x", f"/subscriptions/{sc.SUB}/resourceGroups", sc.RG + "/providers/Microsoft.X/accounts"],
)
def test_invalid_scopes(scope: str) -> None:
    with pytest.raises(TargetError):
        validate_scope(scope)


def test_plane_rule() -> None:
    def role(data: list[str], actions: list[str] = ()) -> RoleDefinition:  # type: ignore[assignment]
        return RoleDefinition.from_arm(
            {
                "name": "r",
                "properties": {"roleName": "r", "permissions": [{"actions": list(actions), "dataActions": data}]},
            }
        )

    roles = [role(["Microsoft.CognitiveServices/*"], ["*"]), role(["*"])]  # a bare "*" says nothing
    assert is_data_action(CHAT, roles)
    assert not is_data_action("Microsoft.Storage/storageAccounts/read", roles)


def test_eligible_role_says_activate_it(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, sc.with_eligibility(), CHAT)
    assert code == 1  # not allowed *now*
    assert "eligible in PIM: 'Cognitive Services OpenAI User'" in out
    assert "activate the eligible role" in out and "az role assignment create" not in out


def _mg(name: str, parent: str | None, subscriptions: list[str] | None = None) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": f"/providers/Microsoft.Management/managementGroups/{name}",
        "name": name,
        "properties": {"displayName": name.title(), "details": {}},
    }
    if parent:
        group["properties"]["details"]["parent"] = {"id": f"/providers/Microsoft.Management/managementGroups/{parent}"}
    if subscriptions:
        group["x-twin-subscriptions"] = subscriptions
    return group


@pytest.mark.parametrize(("held_at", "allowed"), [("corp", True), ("platform", True), ("ai", False)])
def test_at_a_management_group_only_groups_above_count(
    held_at: str, allowed: bool, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asked at 'platform' (corp → platform → ai → subscription): a role at corp (above) or platform (itself)
    grants; the same role at ai (below) does not — ARM lists it at platform, but it applies only beneath."""
    doc = sc.builtin("healthy")
    doc["managementGroups"] = [_mg("corp", None), _mg("platform", "corp"), _mg("ai", "platform", [sc.SUB])]
    doc["roleAssignments"] = [
        sc.assignment("Reader", sc.ALICE, "/providers/Microsoft.Management/managementGroups/corp"),
        sc.assignment("Contributor", sc.ALICE, f"/providers/Microsoft.Management/managementGroups/{held_at}"),
    ]
    scope = "/providers/Microsoft.Management/managementGroups/platform"
    code, out, _ = _can_i(
        twin_session,
        monkeypatch,
        capsys,
        doc,
        "Microsoft.Resources/deployments/write",
        "--scope",
        scope,
        "--format",
        "json",
    )
    answer = json.loads(out)
    assert (code, answer["allowed"]) == ((0, True) if allowed else (1, False)), (
        answer,
        [(e.method, e.path, e.query, e.status) for e in twin_session.requests()],
    )
    if allowed:
        assert answer["grantedBy"][0]["scope"].endswith(f"/managementGroups/{held_at}")
    asked = [e.path for e in twin_session.requests() if e.path.endswith("/managementGroups/platform")]
    assert asked == ["/providers/Microsoft.Management/managementGroups/platform"], "the hierarchy, read once"


# Undecided is an answer too (the gate rule): printed in the asked format, exit 3 — never silence.
METADATA_503 = {"match": {"path": "metadata/endpoints"}, "status": 503, "retryAfter": 0}


def _undecided_scenario(twin: Twin) -> dict[str, Any]:
    scenario = dict(twin.scenario)
    scenario["faults"] = [METADATA_503]
    return scenario


def test_undecided_json_is_printed_with_allowed_null_and_the_reason(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _can_i(
        twin, monkeypatch, capsys, _undecided_scenario(twin), CHAT, "--format", "json", "--scope", sc.ACCOUNT
    )
    assert code == 3 and err == ""
    answer = json.loads(out)
    assert set(answer) == KEYS
    assert answer["allowed"] is None and answer["action"] == CHAT and answer["scope"] == sc.ACCOUNT
    assert (answer["grantedBy"], answer["deniedBy"], answer["conditional"]) == ([], [], [])
    assert answer["reason"].startswith(f"Could not decide: could not read the cloud metadata from {twin.base_url}")
    assert "HTTP 503" in answer["reason"] and "Fix: " in answer["reason"]


def test_undecided_table_says_why_on_stdout(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _can_i(twin, monkeypatch, capsys, _undecided_scenario(twin), CHAT)
    assert code == 3 and err == ""
    assert out.startswith("undecided: could not read the cloud metadata from ")
    assert f"  action:    {CHAT}\n" in out and "  scope:     (not resolved)\n" in out  # no resource without a cloud
    assert "  fix:       " in out


def test_a_refused_role_catalogue_still_yields_the_least_privilege_builtin(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the wrong data role, and role definitions at the scope refused: the fix comes from the shipped built-ins
    doc = sc.builtin("wrong-data-role")
    doc["faults"] = [
        {
            "match": {"service": "arm", "method": "GET", "path": "Authorization/roleDefinitions$"},
            "status": 403,
            "body": {"error": {"code": "AuthorizationFailed", "message": "no"}},
        }
    ]
    code, out, _ = _can_i(twin_session, monkeypatch, capsys, doc, CHAT)
    assert code == 1 and f"--role {OPENAI_USER}" in out, out
