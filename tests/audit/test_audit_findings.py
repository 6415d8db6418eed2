"""The pure findings (preflight.audit.findings) and inventory join, on plain data: no twin, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from preflight.audit import findings
from preflight.audit.collect import (
    dedupe,
    is_inherited,
    norm_scope,
    scope_level,
)
from preflight.audit.inventory import build_rows
from preflight.audit.principals import AppCredential, Principal
from preflight.rbac import RoleAssignment

SUB = "/subscriptions/00000000-0000-4000-8000-000000000001"
MG = "/providers/Microsoft.Management/managementGroups/corp"
OWNER = f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{findings.OWNER}"
READER = f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
OPENAI_USER = f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"


def row(**kw: Any) -> dict[str, Any]:
    base = {
        "assignment_id": "x",
        "scope": SUB,
        "scope_level": "subscription",
        "role_definition_id": READER,
        "principal_id": "p",
        "principal_type": "User",
        "principal_subtype": "Member",
        "principal_exists": True,
        "principal_app_id": None,
        "principal_display_name": "someone",
    }
    base.update(kw)
    return base


def test_scope_levels_and_inheritance() -> None:
    assert scope_level("/") == "tenant"
    assert scope_level(MG) == "managementGroup"
    assert scope_level(SUB) == "subscription"
    assert scope_level(SUB + "/resourceGroups/rg") == "resourceGroup"
    assert scope_level(SUB + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a") == "resource"
    assert norm_scope("//Subscriptions/ABC/") == "/subscriptions/abc"
    assert is_inherited(MG, [norm_scope(SUB)]) is True
    assert is_inherited(SUB + "/resourceGroups/rg", [norm_scope(SUB)]) is False
    assert is_inherited(MG, ["/"]) is False


def test_dedupe_keeps_one_row_per_assignment_id_case_insensitively() -> None:
    a = RoleAssignment(
        id="/X/roleAssignments/1", scope=SUB, role_definition_id=READER, principal_id="p", principal_type="User"
    )
    b = RoleAssignment(
        id="/x/roleassignments/1", scope=SUB, role_definition_id=READER, principal_id="p", principal_type="User"
    )
    assert dedupe([a, b, a]) == (a,)


def test_orphaned_only_when_the_directory_answered() -> None:
    rows = [row(principal_exists=False), row(principal_exists=None), row()]
    assert findings.orphaned(rows).count == 1


def test_privileged_service_principals_by_guid_and_scope() -> None:
    rows = [
        row(role_definition_id=OWNER, principal_type="ServicePrincipal"),  # flagged
        row(role_definition_id=OWNER, principal_type="ServicePrincipal", scope_level="resourceGroup"),
        row(role_definition_id=OWNER, principal_type="User"),
        row(role_definition_id=READER, principal_type="ServicePrincipal"),
        row(
            role_definition_id="/providers/Microsoft.Authorization/roleDefinitions/" + findings.RBAC_ADMINISTRATOR,
            principal_type="ServicePrincipal",
            scope_level="managementGroup",
        ),  # flagged
    ]
    assert findings.privileged_service_principals(rows).count == 2


def test_privileged_guests() -> None:
    rows = [
        row(role_definition_id=OWNER, principal_subtype="Guest"),
        row(role_definition_id=OWNER),
        row(principal_subtype="Guest"),
    ]
    assert findings.privileged_guests(rows).count == 1


def test_direct_users_only_in_a_group_based_tenant() -> None:
    mostly_groups = [row(principal_type="Group")] * 3 + [row()]
    assert findings.direct_user_assignments(mostly_groups).count == 1
    mostly_users = [row(principal_type="Group")] + [row()] * 3
    assert findings.direct_user_assignments(mostly_users).count == 0
    assert findings.direct_user_assignments([row()]).count == 0


def test_broad_data_roles_by_guid_or_cognitive_data_actions() -> None:
    custom = {
        "c1": {
            "properties": {
                "type": "CustomRole",
                "permissions": [{"dataActions": ["Microsoft.CognitiveServices/accounts/OpenAI/*"]}],
            }
        }
    }
    rows = [
        row(role_definition_id=OPENAI_USER),
        row(role_definition_id=OPENAI_USER, scope_level="resource"),
        row(
            role_definition_id=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/c1",
            scope_level="managementGroup",
        ),
        row(),
    ]
    assert findings.broad_data_roles(rows, custom).count == 2


def test_custom_role_wildcards_ignore_reads_and_builtins() -> None:
    definitions = {
        "a": {
            "properties": {
                "type": "CustomRole",
                "roleName": "Ops",
                "permissions": [{"actions": ["*/read", "Microsoft.Compute/*"], "dataActions": []}],
            }
        },
        "b": {
            "properties": {
                "type": "CustomRole",
                "roleName": "Readerish",
                "permissions": [{"actions": ["*/read"], "dataActions": []}],
            }
        },
        "c": {"properties": {"type": "BuiltInRole", "roleName": "Owner", "permissions": [{"actions": ["*"]}]}},
    }
    found = findings.custom_role_wildcards(definitions)
    assert [(r["role_name"], r["actions"]) for r in found.rows] == [("Ops", ["Microsoft.Compute/*"])]


def test_expiring_credentials_flag_apps_without_a_credential_beyond_the_window() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        row(principal_type="ServicePrincipal", principal_subtype="Application", principal_app_id="app1"),
        row(principal_type="ServicePrincipal", principal_subtype="Application", principal_app_id="app2"),
        row(principal_type="ServicePrincipal", principal_subtype="Application", principal_app_id="app3"),
    ]
    creds = {
        "app1": [AppCredential("app1", "one", "secret", "old", "k1", (now - timedelta(days=2)).isoformat())],
        "app2": [
            AppCredential("app2", "two", "secret", "old", "k2", "2025-12-30T00:00:00.1234567Z"),
            AppCredential("app2", "two", "secret", "new", "k3", (now + timedelta(days=300)).isoformat()),
        ],
        "app3": [AppCredential("app3", "three", "certificate", "c", "k4", (now + timedelta(days=10)).isoformat())],
    }
    found = findings.expiring_credentials(rows, creds, now, days=30)
    assert {(r["app_id"], r["expired"]) for r in found.rows} == {("app1", True), ("app3", False)}


def test_inventory_marks_deleted_principals_unknown_and_unresolved_ones_as_unknown_existence() -> None:
    a = RoleAssignment(id="/a", scope=SUB, role_definition_id=READER, principal_id="gone", principal_type="User")
    b = RoleAssignment(
        id="/b", scope=MG, role_definition_id=OWNER, principal_id="sp", principal_type="ServicePrincipal"
    )
    principals = {
        "gone": Principal.missing("gone"),
        "sp": Principal("sp", "ServicePrincipal", "deployer", app_id="app", service_principal_type="Application"),
    }
    definitions = {
        "acdd72a7-3385-48ef-bd42-f606fba81ae7": {"properties": {"roleName": "Reader", "type": "BuiltInRole"}}
    }
    rows = {r["assignment_id"]: r for r in build_rows([a, b], principals, definitions, [norm_scope(SUB)])}
    assert rows["/a"]["principal_exists"] is False and rows["/a"]["principal_display_name"] == "Unknown"
    assert rows["/a"]["role_name"] == "Reader" and rows["/a"]["inherited"] is False
    assert rows["/b"]["inherited"] is True and rows["/b"]["principal_app_id"] == "app"
    assert rows["/b"]["role_name"] == findings.OWNER  # unknown definition: its GUID, never a blank
    unresolved = build_rows([a], None, definitions, ["/"])
    assert unresolved[0]["principal_exists"] is None


def test_the_audit_query_projects_two_columns_and_the_twin_refuses_unknown_ones() -> None:
    from preflight.azure.resource_graph import role_assignments_query
    from preflight.twin.resource_graph import parse_query

    parsed = parse_query(role_assignments_query(columns=("id", "properties")))
    assert parsed is not None and parsed.columns == ("id", "properties") and parsed.wheres == []
    assert parse_query(role_assignments_query(columns=("Id",))) is None  # KQL column names are case-sensitive


def test_preflight_check_never_discovers_audit_checks() -> None:
    from preflight.audit.run import AUDIT_GROUP, audit_checks
    from preflight.engine import discover

    assert not [s.id for s in discover() if s.id.startswith("audit.")]
    assert AUDIT_GROUP != "preflight.checks" and "audit.inventory" in audit_checks()


# --- who and where: the words a finding's row uses ------------------------------------------------------------------


def test_principal_kinds_and_labels_name_who() -> None:
    guest = row(principal_subtype="Guest", principal_upn="carol_fabrikam.com#EXT#@contoso.onmicrosoft.com")
    assert findings.principal_kind(guest) == "guest user"
    assert findings.principal_label(guest) == "guest user carol_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    mi = row(principal_type="ServicePrincipal", principal_subtype="ManagedIdentity", principal_app_id="app-1")
    assert findings.principal_label(mi) == "managed identity, app id app-1"
    assert findings.assignee_type(mi) == "ServicePrincipal"
    group = row(principal_type="Group", principal_subtype=None, principal_id="g-1")
    assert findings.principal_label(group) == "group, object id g-1"
    gone = row(principal_exists=False, principal_display_name="Unknown", principal_id="d-1")
    assert (findings.principal_name(gone), findings.principal_label(gone)) == (
        "d-1",
        'deleted user ("Unknown" in the portal)',
    )
    assert findings.assignment_label(row(role_name="Owner")) == f"Owner on {SUB}"
    # a role whose definition could not be read is named by its GUID, never left blank
    assert findings.assignment_label(row(role_name=None, role_definition_id=OWNER)) == f"{findings.OWNER} on {SUB}"


def test_a_long_finding_lists_the_first_rows_one_result_each_and_counts_the_rest() -> None:
    from preflight.checks.audit import ITEM_LIMIT, AuditOrphaned, _assignment_item, _delete, _findings
    from preflight.model import Status

    rows = tuple(
        row(assignment_id=f"{SUB}/providers/Microsoft.Authorization/roleAssignments/{i:04}", principal_exists=False)
        for i in range(ITEM_LIMIT + 5)
    )
    out = list(
        _findings(
            AuditOrphaned(),
            findings.Finding("orphaned", rows),
            "clean",
            Status.WARN,
            lambda r: _assignment_item(r, "delete it", _delete(r)),
            "delete them all",
        )
    )
    assert len(out) == ITEM_LIMIT + 1 and {r.status for r in out} == {Status.WARN}
    assert [r.remediation.commands for r in out[:2] if r.remediation] == [
        (f"az role assignment delete --ids {rows[0]['assignment_id']}",),
        (f"az role assignment delete --ids {rows[1]['assignment_id']}",),
    ]
    last = out[-1]
    assert last.summary.startswith(f"5 more of {ITEM_LIMIT + 5} like those above")
    evidence = {e.name: e.value for e in last.evidence}
    assert evidence["count"] == ITEM_LIMIT + 5 and len(evidence["items"]) == ITEM_LIMIT + 5  # the JSON has all


def test_a_clean_finding_is_one_pass() -> None:
    from preflight.checks.audit import AuditOrphaned, _assignment_item, _findings
    from preflight.model import Status

    finding = findings.Finding("orphaned", ())
    (result,) = _findings(AuditOrphaned(), finding, "clean", Status.WARN, lambda r: _assignment_item(r, "x"), "x")
    assert (result.status, result.summary, result.subject) == (Status.PASS, "clean", None)
