"""preflight.builtin_roles: the least-privilege built-in role for an action, computed from all 928 built-in role
definitions (shipped compact, generated from the shared reference data) with Azure's matching rules."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from helpers.shared_data import SHARED_ROLES_DIR

from preflight.builtin_roles import (
    ROLES_FILE,
    BuiltinRole,
    builtin_roles,
    compact_role,
    least_privilege,
    least_privilege_role,
    roles_json,
)
from preflight.rbac import Permission, RoleDefinition, granted_operations, permission_grants

SHARED = SHARED_ROLES_DIR
CS = "Microsoft.CognitiveServices"
CHAT = f"{CS}/accounts/OpenAI/deployments/chat/completions/action"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
COGNITIVE_SERVICES_USER = "a97b65f3-24c7-4388-baec-2e87135dc908"
DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"


def _by_name() -> dict[str, RoleDefinition]:
    return {role.role_name: role for role in builtin_roles()}


def test_shipped_roles_are_what_the_generator_writes() -> None:
    """tools/generate_builtin_roles.py over the shared data gives the shipped file byte for byte. Without the
    shared data the file's own invariants still hold."""
    shipped = resources.files("preflight").joinpath(ROLES_FILE).read_text(encoding="utf-8")
    if SHARED.is_dir():
        source = json.loads((SHARED / "builtin_role_definitions_all.json").read_text(encoding="utf-8"))
        assert shipped == roles_json(source)
    roles = json.loads(shipped)["roles"]
    assert len(roles) == 928
    guids = [role["name"] for role in roles]
    assert len(set(guids)) == len(guids) and all(guid == guid.lower() and len(guid) == 36 for guid in guids)
    for role in roles:  # nothing but what deciding a grant needs
        assert set(role) == {"name", "roleName", "permissions"}
        assert all(
            set(block) <= {"actions", "notActions", "dataActions", "notDataActions", "condition"}
            for block in role["permissions"]
        )
    names = {role["name"]: role["roleName"] for role in roles}
    assert names[OPENAI_USER] == "Cognitive Services OpenAI User"
    assert names[COGNITIVE_SERVICES_USER] == "Cognitive Services User"
    assert names[DATA_SCIENTIST] == "AzureML Data Scientist"


def test_the_compact_form_reads_back_as_the_same_definitions() -> None:
    """Dropping empty lists and null conditions loses nothing: both shapes give the same Permission values."""
    arm: dict[str, Any] = {
        "id": f"/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_USER.upper()}",
        "properties": {
            "roleName": "X",
            "permissions": [
                {
                    "actions": ["a/read"],
                    "notActions": [],
                    "dataActions": [],
                    "notDataActions": None,
                    "condition": None,
                    "conditionVersion": None,
                }
            ],
        },
    }
    compact = compact_role(arm)
    assert compact == {"name": OPENAI_USER, "roleName": "X", "permissions": [{"actions": ["a/read"]}]}
    assert RoleDefinition.from_arm(compact).permissions == RoleDefinition.from_arm(arm).permissions
    assert _by_name()["Cognitive Services OpenAI User"].guid == OPENAI_USER


def test_chat_completions_needs_cognitive_services_openai_user() -> None:
    role = least_privilege_role(CHAT)
    assert role is not None and (role.guid, role.name) == (OPENAI_USER, "Cognitive Services OpenAI User")
    assert role.granted_operations > 0
    assert least_privilege_role(f"  {CHAT.upper()} ", data_action=True) == role  # case-insensitive, plane given


def test_text_analytics_needs_the_language_reader_not_cognitive_services_user() -> None:
    """The data says Cognitive Services Language Reader: its dataActions name the Language (TextAnalytics)
    operations one by one, whereas Cognitive Services User's ``Microsoft.CognitiveServices/*`` grants every
    Cognitive Services data action (about 9 times as many operations)."""
    action = f"{CS}/accounts/TextAnalytics/analyze/action"
    role = least_privilege_role(action)
    assert role is not None and role.name == "Cognitive Services Language Reader"
    user = _by_name()["Cognitive Services User"]
    assert any(permission_grants(p, action, data=True) for p in user.permissions)  # it would work, but is wider
    from preflight.builtin_roles import _operations

    assert granted_operations(user, _operations()) > 5 * role.granted_operations


def test_list_keys_is_the_smallest_role_a_person_would_be_given() -> None:
    """A control-plane action (Azure's metadata says so; a wrong ``data_action=True`` would let
    ``Microsoft.CognitiveServices/*`` dataActions match it — the caller owns the plane). The strictly smallest
    built-in granting it is the Defender service role "Defender Cloud Secrets Posture" (four actions, listKeys the
    only catalogued one) — a service's own role, so the advice is the smallest role that is not one."""
    from preflight.builtin_roles import _operations

    role = least_privilege_role(f"{CS}/accounts/listKeys/action")
    assert role is not None and role.name != "Defender Cloud Secrets Posture"
    every = [r for r in builtin_roles() if r.role_name == "Defender Cloud Secrets Posture"]
    assert every and granted_operations(every[0], _operations()) < role.granted_operations


def test_azureml_run_submit_is_the_data_scientist() -> None:
    role = least_privilege_role("Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action")
    assert role is not None and role.guid == DATA_SCIENTIST


def test_role_assignment_write_and_conditional_grants() -> None:
    """Role Based Access Control Administrator is smaller than User Access Administrator. Foundry Account
    Owner, Key Vault Data Access Administrator … list ``roleAssignments/write`` too, but only under an ABAC
    condition (which roles it may assign): a conditional grant is no recommendation."""
    role = least_privilege_role("Microsoft.Authorization/roleAssignments/write")
    assert role is not None and role.name == "Role Based Access Control Administrator"
    foundry = _by_name()["Foundry Account Owner"]
    assert any(
        permission_grants(p, "Microsoft.Authorization/roleAssignments/write", data=False) and p.condition
        for p in foundry.permissions
    )


def test_deprecated_roles_only_as_the_last_resort() -> None:
    """Purview role 3 (Deprecated) is strictly smaller than Reader for Purview's account read; it is not
    recommended while a current role grants it. Purview's data/write only a deprecated role grants: say it."""
    role = least_privilege_role("Microsoft.Purview/accounts/read", data_action=False)
    assert role is not None and "Deprecated" not in role.name
    last = least_privilege_role("Microsoft.Purview/accounts/data/write", data_action=True)
    assert last is not None and last.name == "Purview role 1 (Deprecated)"


def test_unknown_actions() -> None:
    """No plane from Azure's metadata and none given: no guess (a control-plane guess is always Contributor).
    Given the plane, an action nothing grants is None too."""
    assert least_privilege_role("Contoso.Widgets/widgets/spin/action") is None
    assert least_privilege_role(f"{CS}/accounts/noSuchThing/action") is None
    assert least_privilege_role("Contoso.Widgets/widgets/spin/action", data_action=True) is None
    blob = least_privilege_role(
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", data_action=True
    )
    assert blob is not None and blob.name == "Storage Blob Data Reader"  # outside the catalogue: counts 0


def _role(name: str, *data_actions: str, condition: str | None = None) -> RoleDefinition:
    return RoleDefinition(
        id="",
        name=name.lower().replace(" ", "-"),
        role_name=name,
        role_type="BuiltInRole",
        description="",
        permissions=(Permission(data_actions=data_actions, condition=condition),),
    )


OPS = [("W/a/read", True), ("W/a/write", True), ("W/b/read", True)]


def test_ties_prefer_generally_available_roles_and_conditions_never_count() -> None:
    preview = _role("A Reader (Preview)", "W/a/read")
    ga = _role("B Reader", "W/a/read")
    wide = _role("A Contributor", "W/a/*")
    conditional = _role("Aa Reader", "W/a/read", condition="@Resource[x] StringEquals 'y'")
    found = least_privilege("W/a/read", [wide, preview, conditional, ga], OPS, data_action=True)
    assert found == BuiltinRole(guid=ga.guid, name="B Reader", granted_operations=1)
    assert least_privilege("W/a/write", [conditional, preview], OPS, data_action=True) is None
    retired = _role("Old Reader (Deprecated)", "W/a/read")
    assert least_privilege("W/a/read", [retired, wide], OPS, data_action=True) == BuiltinRole(
        wide.guid, "A Contributor", 2
    )
    assert least_privilege("W/a/read", [retired], OPS, data_action=True) == BuiltinRole(
        retired.guid, "Old Reader (Deprecated)", 1
    )


@pytest.mark.twin  # starts a fresh interpreter
def test_no_file_is_read_at_import() -> None:
    import subprocess
    import sys

    probe = (
        "import preflight.builtin_roles as b; assert b.builtin_roles.cache_info().currsize == 0; "
        "import preflight.operations as o; assert o.catalogue.cache_info().currsize == 0"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("guid", [OPENAI_USER, COGNITIVE_SERVICES_USER, DATA_SCIENTIST])
def test_recommendations_are_assignable_by_guid(guid: str) -> None:
    assert guid in {role.guid for role in builtin_roles()}


def test_a_service_s_own_role_is_never_the_advice() -> None:
    # strictly smaller on the real data ("Defender CSPM" reads agents, "Defender AI" reads accounts,
    # "Defender Cloud Secrets Posture" lists keys), but made for Microsoft Defender's identity, not a person's
    for action, data in [
        ("Microsoft.CognitiveServices/accounts/AIServices/agents/read", True),
        ("Microsoft.CognitiveServices/accounts/read", False),
        ("Microsoft.CognitiveServices/accounts/listKeys/action", False),
    ]:
        found = least_privilege_role(action, data_action=data)
        assert found is not None and not found.name.startswith("Defender"), (action, found)
