"""preflight.rbac on REAL built-in role definitions (copied into tests/data/roles, and the twin's ARM-shaped
copy when present), plus property-based tests for the matcher and scope containment."""

from __future__ import annotations

import json
import string
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from helpers.shared_data import SHARED_ROLES_DIR

from preflight.profiles import profiles
from preflight.rbac import (
    ALL_PRINCIPALS,
    DenyAssignment,
    Permission,
    RoleAssignment,
    RoleDefinition,
    action_matches,
    condition_restricts,
    effective_permissions,
    evaluate,
    normalize_scope,
    permission_grants,
    roles_granting,
    scope_contains,
)
from preflight.twin import access as twin_access

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "roles"
TWIN_ROLES = ROOT / "preflight" / "twin" / "data" / "builtin_roles.json"
# the shared reference data (all 928 built-in roles): beside the clone in CI, /work/shared on a workstation
SHARED_ROLES = SHARED_ROLES_DIR / "builtin_role_definitions_all.json"

CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
EMBEDDINGS = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"
STORED_COMPLETIONS_READ = "Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"
FINE_TUNE_DEPLOY = "Microsoft.CognitiveServices/accounts/OpenAI/fine-tunes-deployments/write"
ACCOUNT_WRITE = "Microsoft.CognitiveServices/accounts/write"

SUB = "/subscriptions/22222222-2222-4222-8222-222222222222"
RG = f"{SUB}/resourceGroups/rg-ai"
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
DEPLOYMENT = f"{ACCOUNT}/deployments/gpt-4o"
ME = "a11ce000-0000-4000-8000-00000000a11c"
GROUP = "6e0f0000-0000-4000-8000-00000000a1d0"
OTHER = "b0b00000-0000-4000-8000-00000000b0b0"

GUIDS = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Cognitive Services User": "a97b65f3-24c7-4388-baec-2e87135dc908",
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    "Cognitive Services OpenAI Contributor": "a001fd3d-188f-4b5d-821b-7da978bf7442",
    "Foundry User": "53ca6127-db72-4b80-b1b0-d745d6d5456d",
}


def _load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def _sources() -> list[Any]:
    """The az-shaped copy always; the twin's ARM-shaped file when another part of the tree provides it."""
    params = [pytest.param(DATA / "builtin_role_definitions_key_subset.json", id="az-shape")]
    if TWIN_ROLES.exists():
        params.append(pytest.param(TWIN_ROLES, id="arm-shape"))
    return params


@pytest.fixture(scope="module", params=_sources())
def roles(request: pytest.FixtureRequest) -> dict[str, RoleDefinition]:
    definitions = [RoleDefinition.from_arm(obj) for obj in _load(request.param)]
    return {d.role_name: d for d in definitions}


@pytest.fixture(scope="module")
def catalogue() -> list[tuple[str, bool]]:
    ops = json.loads((DATA / "cognitiveservices_operations.json").read_text(encoding="utf-8"))
    return [(name, False) for name in ops["actions"]] + [(name, True) for name in ops["dataActions"]]


def assign(role: str, scope: str, principal: str = ME, **extra: Any) -> RoleAssignment:
    """An assignment in the ARM REST shape, read through from_arm like real payloads."""
    guid = GUIDS[role]
    return RoleAssignment.from_arm(
        {
            "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{guid[:8]}-{principal[:8]}",
            "name": f"{guid[:8]}-{principal[:8]}",
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                "principalId": principal,
                "principalType": "User",
                "scope": scope,
                "createdOn": "2024-05-01T10:00:00.0000000Z",
                **extra,
            },
        }
    )


def deny(scope: str, data_actions: list[str], **props: Any) -> DenyAssignment:
    body: dict[str, Any] = {
        "denyAssignmentName": "Deny Azure OpenAI data access",
        "permissions": [{"actions": [], "notActions": [], "dataActions": data_actions, "notDataActions": []}],
        "scope": scope,
        "doNotApplyToChildScopes": False,
        "principals": [{"id": ALL_PRINCIPALS, "type": "SystemDefined"}],
        "excludePrincipals": [],
        "isSystemProtected": True,
    }
    body.update(props)
    return DenyAssignment.from_arm(
        {"id": f"{scope}/providers/Microsoft.Authorization/denyAssignments/d1", "name": "d1", "properties": body}
    )


# ---------------------------------------------------------------------------------------------------------------
# Parsing both shapes
# ---------------------------------------------------------------------------------------------------------------


def test_role_definition_reads_az_and_arm_shapes_identically() -> None:
    flat = _load(DATA / "builtin_role_definitions_key_subset.json")[0]
    nested = {
        "id": flat["id"],
        "name": flat["name"],
        "type": flat["type"],
        "properties": {
            "roleName": flat["roleName"],
            "type": flat["roleType"],
            "description": flat["description"],
            "assignableScopes": flat["assignableScopes"],
            "permissions": flat["permissions"],
        },
    }
    assert RoleDefinition.from_arm(flat) == RoleDefinition.from_arm(nested)
    owner = RoleDefinition.from_arm(flat)
    assert owner.role_name == "Owner" and owner.role_type == "BuiltInRole"
    assert owner.guid == GUIDS["Owner"] and owner.permissions[0].actions == ("*",)


def test_role_assignment_reads_flat_az_cli_shape() -> None:
    flat = {
        "id": f"{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments/x",
        "name": "x",
        "principalId": ME.upper(),
        "principalType": "User",
        "roleDefinitionId": f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{GUIDS['Reader'].upper()}",
        "roleDefinitionName": "Reader",
        "scope": ACCOUNT,
        "condition": None,
        "conditionVersion": None,
    }
    parsed = RoleAssignment.from_arm(flat)
    assert parsed.principal_id == ME and parsed.role_guid == GUIDS["Reader"]
    assert parsed.condition is None and parsed.scope == ACCOUNT


def test_deny_assignment_reads_rest_shape() -> None:
    d = deny(RG, [CHAT], excludePrincipals=[{"id": ME.upper(), "type": "User"}], doNotApplyToChildScopes=True)
    assert d.name == "Deny Azure OpenAI data access"
    assert d.principals == (ALL_PRINCIPALS,) and d.exclude_principals == (ME,)
    assert d.do_not_apply_to_child_scopes and d.is_system_protected
    assert d.permissions[0].data_actions == (CHAT,)


def test_from_arm_tolerates_nulls() -> None:
    p = Permission.from_arm({"actions": None, "notActions": None, "dataActions": ["a"], "notDataActions": None})
    assert p == Permission(data_actions=("a",))


# ---------------------------------------------------------------------------------------------------------------
# The seed's point: control-plane roles grant no data actions
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Owner", "Contributor", "Reader"])
def test_control_plane_roles_grant_no_cognitive_services_data_action(
    roles: dict[str, RoleDefinition], catalogue: list[tuple[str, bool]], role: str
) -> None:
    definition = roles[role]
    data_actions = [name for name, is_data in catalogue if is_data]
    assert len(data_actions) > 1000  # the real catalogue, not a toy
    granted = [a for a in data_actions if any(permission_grants(p, a, data=True) for p in definition.permissions)]
    assert granted == []
    assert not definition.has_data_actions


def test_owner_grants_control_plane_but_not_chat(roles: dict[str, RoleDefinition]) -> None:
    owner = roles["Owner"].permissions[0]
    assert permission_grants(owner, ACCOUNT_WRITE, data=False)
    # the same string is never granted across planes
    assert not permission_grants(owner, CHAT, data=True)


def test_owner_at_subscription_is_explained_as_management_only(roles: dict[str, RoleDefinition]) -> None:
    decision = evaluate(CHAT, ACCOUNT, [ME], [assign("Owner", SUB)], roles.values(), data_action=True)
    assert decision.status == "not-granted" and not decision.allowed
    assert [a.role_name for a in decision.others] == ["Owner"]
    assert "management (control-plane) actions only, no data actions" in decision.explanation
    assert SUB in decision.explanation


def test_openai_user_grants_chat_completions(roles: dict[str, RoleDefinition]) -> None:
    decision = evaluate(
        CHAT, ACCOUNT, [ME], [assign("Cognitive Services OpenAI User", ACCOUNT)], roles.values(), data_action=True
    )
    assert decision.status == "granted"
    (grant,) = decision.granted_by
    assert grant.role_name == "Cognitive Services OpenAI User"
    assert grant.matched == CHAT and not grant.inherited and grant.via_group is None
    assert "Cognitive Services OpenAI User" in decision.explanation


def test_cognitive_services_user_grants_openai_data_actions(roles: dict[str, RoleDefinition]) -> None:
    """The real definition has dataActions ["Microsoft.CognitiveServices/*"], so OpenAI is included."""
    role = roles["Cognitive Services User"]
    assert "Microsoft.CognitiveServices/*" in role.permissions[0].data_actions
    for action in (CHAT, EMBEDDINGS, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"):
        assert any(permission_grants(p, action, data=True) for p in role.permissions), action


def test_not_data_actions_carve_out(roles: dict[str, RoleDefinition]) -> None:
    openai_user = roles["Cognitive Services OpenAI User"]
    # OpenAI/*/read would match, but notDataActions excludes stored completions
    assert action_matches("Microsoft.CognitiveServices/accounts/OpenAI/*/read", STORED_COMPLETIONS_READ)
    assert not any(permission_grants(p, STORED_COMPLETIONS_READ, data=True) for p in openai_user.permissions)
    cs_user = roles["Cognitive Services User"]
    assert not any(permission_grants(p, FINE_TUNE_DEPLOY, data=True) for p in cs_user.permissions)
    contributor = roles["Cognitive Services OpenAI Contributor"]
    assert any(permission_grants(p, FINE_TUNE_DEPLOY, data=True) for p in contributor.permissions)


def test_not_actions_exclude_only_within_their_block() -> None:
    block = Permission(actions=("*",), not_actions=("Microsoft.Authorization/*/write",))
    assert not permission_grants(block, "microsoft.authorization/roleAssignments/WRITE", data=False)
    role = RoleDefinition("id", "0f0f", "Custom", "CustomRole", "", (block, Permission(actions=("*/write",))))
    a = RoleAssignment("a", ACCOUNT, "0f0f", ME)
    decision = evaluate("Microsoft.Authorization/roleAssignments/write", ACCOUNT, [ME], [a], [role], data_action=False)
    assert decision.status == "granted" and decision.granted_by[0].matched == "*/write"


# ---------------------------------------------------------------------------------------------------------------
# Scope inheritance
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [SUB, RG, ACCOUNT, SUB.upper() + "/", RG.lower() + "//"])
def test_assignment_is_inherited_from_parent_scopes(roles: dict[str, RoleDefinition], at: str) -> None:
    decision = evaluate(
        CHAT, DEPLOYMENT, [ME], [assign("Cognitive Services OpenAI User", at)], roles.values(), data_action=True
    )
    assert decision.status == "granted"
    assert decision.granted_by[0].inherited


def test_sibling_with_common_prefix_does_not_inherit(roles: dict[str, RoleDefinition]) -> None:
    sibling_rg = f"{SUB}/resourceGroups/rg-ai2"
    sibling_account = f"{RG}/providers/Microsoft.CognitiveServices/accounts/contoso-openai-dev"
    assignments = [
        assign("Cognitive Services OpenAI User", sibling_rg),
        assign("Cognitive Services OpenAI User", sibling_account),
        assign("Cognitive Services OpenAI User", "/subscriptions/2222"),
    ]
    decision = evaluate(CHAT, ACCOUNT, [ME], assignments, roles.values(), data_action=True)
    assert decision.status == "not-granted" and decision.others == ()


def test_assignment_below_target_does_not_apply_upwards(roles: dict[str, RoleDefinition]) -> None:
    decision = evaluate(
        CHAT, RG, [ME], [assign("Cognitive Services OpenAI User", ACCOUNT)], roles.values(), data_action=True
    )
    assert decision.status == "not-granted"


def test_scope_contains_rules() -> None:
    assert scope_contains("/", ACCOUNT)
    assert scope_contains("", ACCOUNT)
    assert scope_contains(SUB, ACCOUNT) and scope_contains(RG, DEPLOYMENT)
    assert scope_contains(ACCOUNT.upper(), ACCOUNT.lower() + "/")
    assert not scope_contains(f"{SUB}/resourceGroups/rg", f"{SUB}/resourceGroups/rg2")
    assert not scope_contains("/subscriptions/a", "/subscriptions/ab")
    assert not scope_contains(ACCOUNT, RG)
    assert normalize_scope("//subscriptions//X/") == "/subscriptions/x" and normalize_scope("") == "/"


def test_management_group_contains_subscriptions_given_ancestry(roles: dict[str, RoleDefinition]) -> None:
    mg = "/providers/Microsoft.Management/managementGroups/contoso-ai"
    root_mg = "/providers/Microsoft.Management/managementGroups/tenant-root"
    ancestry = {"22222222-2222-4222-8222-222222222222": ["contoso-ai"], "contoso-ai": ["tenant-root"]}
    assert scope_contains(mg, ACCOUNT, ancestry)
    assert scope_contains(root_mg, ACCOUNT, ancestry)  # transitively
    assert scope_contains(root_mg, mg, ancestry)
    assert not scope_contains(mg, ACCOUNT)  # hierarchy unknown → not assumed
    assert not scope_contains(mg, "/subscriptions/33333333-3333-4333-8333-333333333333", ancestry)
    assert not scope_contains(mg, root_mg, ancestry)
    assert not scope_contains("/providers/Microsoft.Management/managementGroups/contoso", ACCOUNT, ancestry)
    decision = evaluate(
        CHAT,
        ACCOUNT,
        [ME],
        [assign("Cognitive Services User", mg)],
        roles.values(),
        data_action=True,
        mg_ancestry=ancestry,
    )
    assert decision.status == "granted" and decision.granted_by[0].scope == mg


def test_cyclic_ancestry_terminates() -> None:
    assert not scope_contains(
        "/providers/Microsoft.Management/managementGroups/z", "/subscriptions/s", {"s": ["a"], "a": ["b"], "b": ["a"]}
    )


# ---------------------------------------------------------------------------------------------------------------
# Groups, conditions, deny assignments
# ---------------------------------------------------------------------------------------------------------------


def test_group_assignment_grants_and_names_the_group(roles: dict[str, RoleDefinition]) -> None:
    assignments = [assign("Reader", RG, GROUP), assign("Cognitive Services OpenAI User", ACCOUNT, GROUP)]
    decision = evaluate(CHAT, ACCOUNT, [ME, GROUP], assignments, roles.values(), data_action=True)
    assert decision.status == "granted"
    assert decision.granted_by[0].via_group == GROUP
    assert f"via group {GROUP}" in decision.explanation
    # the same assignments do nothing for a principal outside the group
    assert evaluate(CHAT, ACCOUNT, [OTHER], assignments, roles.values(), data_action=True).status == "not-granted"


def test_conditional_assignment_is_reported_not_granted(roles: dict[str, RoleDefinition]) -> None:
    condition = "((!(ActionMatches{'Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action'})) OR (@Resource[x] StringEquals 'y'))"
    conditional = assign("Cognitive Services OpenAI User", ACCOUNT, condition=condition, conditionVersion="2.0")
    decision = evaluate(CHAT, ACCOUNT, [ME], [conditional], roles.values(), data_action=True)
    assert decision.status == "conditional" and not decision.allowed
    assert decision.granted_by == () and decision.conditional[0].conditional
    assert "cannot be evaluated offline" in decision.explanation
    # an unconditional grant beats a conditional one
    both = [conditional, assign("Cognitive Services User", RG)]
    assert evaluate(CHAT, ACCOUNT, [ME], both, roles.values(), data_action=True).status == "granted"


def test_deny_beats_allow_and_applies_to_everyone(roles: dict[str, RoleDefinition]) -> None:
    grant = [assign("Cognitive Services OpenAI User", ACCOUNT)]
    d = deny(RG, ["Microsoft.CognitiveServices/accounts/OpenAI/*"])
    decision = evaluate(CHAT, ACCOUNT, [ME], grant, roles.values(), [d], data_action=True)
    assert decision.status == "denied" and decision.denied_by == (d,)
    assert "Deny Azure OpenAI data access" in decision.explanation
    assert decision.others == () and decision.granted_by  # the grant is still shown as evidence


def test_deny_exclude_principals_also_by_group(roles: dict[str, RoleDefinition]) -> None:
    grant = [assign("Cognitive Services OpenAI User", ACCOUNT)]
    excluded_me = deny(RG, [CHAT], excludePrincipals=[{"id": ME, "type": "User"}])
    excluded_group = deny(RG, [CHAT], excludePrincipals=[{"id": GROUP, "type": "Group"}])
    assert evaluate(CHAT, ACCOUNT, [ME], grant, roles.values(), [excluded_me], data_action=True).status == "granted"
    assert (
        evaluate(CHAT, ACCOUNT, [ME, GROUP], grant, roles.values(), [excluded_group], data_action=True).status
        == "granted"
    )
    assert evaluate(CHAT, ACCOUNT, [ME], grant, roles.values(), [excluded_group], data_action=True).status == "denied"


def test_deny_do_not_apply_to_child_scopes(roles: dict[str, RoleDefinition]) -> None:
    grant = [assign("Cognitive Services User", SUB)]
    at_rg_only = deny(RG, [CHAT], doNotApplyToChildScopes=True)
    assert evaluate(CHAT, RG, [ME], grant, roles.values(), [at_rg_only], data_action=True).status == "denied"
    assert evaluate(CHAT, ACCOUNT, [ME], grant, roles.values(), [at_rg_only], data_action=True).status == "granted"


def test_deny_for_other_principal_plane_or_scope_does_not_apply(roles: dict[str, RoleDefinition]) -> None:
    grant = [assign("Cognitive Services OpenAI User", ACCOUNT)]
    for d in (
        deny(RG, [CHAT], principals=[{"id": OTHER, "type": "User"}]),
        deny(f"{SUB}/resourceGroups/rg-ai2", [CHAT]),
        deny(RG, [EMBEDDINGS]),
        DenyAssignment.from_arm(
            {"properties": {"scope": RG, "principals": [{"id": ALL_PRINCIPALS}], "permissions": [{"actions": [CHAT]}]}}
        ),
    ):
        assert evaluate(CHAT, ACCOUNT, [ME], grant, roles.values(), [d], data_action=True).status == "granted"


def test_role_is_joined_by_guid_not_name(roles: dict[str, RoleDefinition]) -> None:
    """'Azure AI User' was renamed 'Foundry User' under the same GUID: an assignment still resolves."""
    a = assign("Foundry User", ACCOUNT)
    decision = evaluate(CHAT, ACCOUNT, [ME], [a], roles.values(), data_action=True)
    assert decision.status == "granted" and decision.granted_by[0].role_name == "Foundry User"


def test_unknown_role_definition_is_unresolved_not_silently_ignored(roles: dict[str, RoleDefinition]) -> None:
    a = RoleAssignment("x", ACCOUNT, "/providers/Microsoft.Authorization/roleDefinitions/deadbeef", ME)
    decision = evaluate(CHAT, ACCOUNT, [ME], [a], roles.values(), data_action=True)
    assert decision.status == "not-granted" and decision.unresolved == (a,)
    assert "may be incomplete" in decision.explanation


def test_role_definition_condition_only_on_role_assignment_writes_is_not_conditional_for_data(
    roles: dict[str, RoleDefinition],
) -> None:
    foundry_owner = RoleDefinition.from_arm(
        next(r for r in _load(DATA / "builtin_role_definitions_key_subset.json") if r["roleName"] == "Foundry Owner")
    )
    condition = foundry_owner.permissions[0].condition
    assert condition is not None
    assert not condition_restricts(condition, CHAT)
    assert condition_restricts(condition, "Microsoft.Authorization/roleAssignments/write")
    assert condition_restricts(condition, "microsoft.authorization/ROLEASSIGNMENTS/delete")
    assert condition_restricts("@Resource[x] StringEquals 'y'", CHAT)  # unknown shape → assume it restricts
    assert not condition_restricts(None, CHAT)


# ---------------------------------------------------------------------------------------------------------------
# Wildcards, Azure's way (docs/rbac.md "Wildcards"), on real role definitions
# ---------------------------------------------------------------------------------------------------------------

ML = "Microsoft.MachineLearningServices/workspaces"


def _grants(role: RoleDefinition, action: str, *, data: bool = False) -> bool:
    return any(permission_grants(p, action, data=data) for p in role.permissions)


def test_mid_pattern_star_also_stands_for_no_segment() -> None:
    assert action_matches(f"{ML}/*/read", f"{ML}/read")
    assert action_matches(f"{ML}/*/read", f"{ML}/jobs/read")
    assert action_matches(f"{ML}/*/read", f"{ML}/onlineEndpoints/deployments/read")
    assert not action_matches(f"{ML}/*/read", f"{ML}/write")
    # only a whole segment collapses: no sibling with a common prefix, no partial segment
    assert not action_matches(f"{ML}/*/read", "Microsoft.MachineLearningServices/workspacesX/read")
    assert not action_matches(f"{ML}/*/read", "Microsoft.MachineLearningServices/read")


def test_azureml_data_scientist_reads_its_workspace_but_cannot_modify_it(roles: dict[str, RoleDefinition]) -> None:
    """The role's own description: "all actions within a workspace, except for creating or deleting compute
    resources and modifying the workspace itself" — its notActions only make sense under Azure's rule."""
    scientist = roles["AzureML Data Scientist"]
    assert f"{ML}/*/read" in scientist.permissions[0].actions
    for action in (f"{ML}/read", f"{ML}/jobs/read", f"{ML}/experiments/runs/submit/action", f"{ML}/jobs/write"):
        assert _grants(scientist, action), action
    for action in (
        f"{ML}/write",
        f"{ML}/delete",
        f"{ML}/listKeys/action",
        f"{ML}/computes/write",
        f"{ML}/computes/delete",
    ):  # computes/*/write covers computes/write
        assert not _grants(scientist, action), action


def test_azureml_data_scientist_satisfies_the_ml_profile(roles: dict[str, RoleDefinition]) -> None:
    ml = profiles()["ml"]
    for requirement in ml.requirements:
        decision = evaluate(
            requirement.action,
            ACCOUNT,
            [ME],
            [assign_role(roles["AzureML Data Scientist"], RG)],
            roles.values(),
            data_action=requirement.data,
        )
        assert decision.status == "granted", requirement.action


def test_openai_user_patterns(roles: dict[str, RoleDefinition]) -> None:
    user = roles["Cognitive Services OpenAI User"]
    for action in (
        CHAT,
        EMBEDDINGS,
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read",
        "Microsoft.CognitiveServices/accounts/OpenAI/models/read",
    ):
        assert _grants(user, action, data=True), action
    assert not _grants(user, STORED_COMPLETIONS_READ, data=True)  # notDataActions
    assert not _grants(user, FINE_TUNE_DEPLOY, data=True)
    assert _grants(user, "Microsoft.CognitiveServices/accounts/read")  # Microsoft.CognitiveServices/*/read
    assert not _grants(user, "Microsoft.CognitiveServices/accounts/listKeys/action")


WILD_SEGMENT = st.sampled_from(["a", "b", "ab", "*", "a*", "*b", "x.y", "A"])
PATTERN = st.lists(WILD_SEGMENT, min_size=1, max_size=5).map("/".join)
NAME = st.lists(st.sampled_from(["a", "b", "ab", "abb", "x.y", "B", "read"]), min_size=1, max_size=6).map("/".join)


@given(PATTERN, NAME)
def test_product_and_twin_matchers_agree(pattern: str, action: str) -> None:
    """Two independent implementations (regex per segment vs fnmatch over collapsed variants) of one rule."""
    assert action_matches(pattern, action) == twin_access.action_matches(pattern, action)


@given(st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=6), min_size=2, max_size=6), st.data())
def test_interior_star_segment_may_be_empty_in_both_matchers(segments: list[str], data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, len(segments) - 1))
    pattern = "/".join([*segments[:cut], "*", *segments[cut:]])
    action = "/".join(segments)
    assert action_matches(pattern, action) and twin_access.action_matches(pattern, action)


def test_matchers_agree_on_every_real_pattern_and_operation(
    roles: dict[str, RoleDefinition], catalogue: list[tuple[str, bool]]
) -> None:
    patterns = {
        x
        for r in roles.values()
        for p in r.permissions
        for x in (*p.actions, *p.not_actions, *p.data_actions, *p.not_data_actions)
    }
    names = [name for name, _ in catalogue] + [f"{ML}/read", f"{ML}/write", f"{ML}/computes/write"]
    for pattern in patterns:
        for name in names:
            assert action_matches(pattern, name) == twin_access.action_matches(pattern, name), (pattern, name)


def _all_builtin_roles() -> list[RoleDefinition]:
    """Every built-in role when the shared reference data is beside the clone, else the copied key subset."""
    path = SHARED_ROLES if SHARED_ROLES.exists() else DATA / "builtin_role_definitions_key_subset.json"
    return [RoleDefinition.from_arm(obj) for obj in _load(path)]


def assign_role(role: RoleDefinition, scope: str) -> RoleAssignment:
    return RoleAssignment.from_arm(
        {
            "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{role.guid}",
            "name": role.guid,
            "properties": {
                "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role.guid}",
                "principalId": ME,
                "principalType": "User",
                "scope": scope,
            },
        }
    )


def test_a_fix_never_proposes_a_role_already_held_at_or_above_the_target() -> None:
    """The invariant of issue 15 item 4, over evaluate() + roles_granting(): for every built-in role R held at
    (or above) the target and every action a profile requires, when R does not grant it the first role
    roles_granting proposes is not R — and when R is the first proposal, R grants it."""
    definitions = _all_builtin_roles()
    assert len(definitions) >= 28
    requirements = {(r.action, r.data) for p in profiles().values() for r in p.requirements}
    proposals = {req: roles_granting(req[0], definitions, data_action=req[1], scope=ACCOUNT) for req in requirements}
    for role in definitions:
        for held_at in (ACCOUNT, SUB):
            held = [assign_role(role, held_at)]
            for (action, data), proposed in proposals.items():
                decision = evaluate(action, ACCOUNT, [ME], held, [role], data_action=data)
                if decision.status == "not-granted":
                    assert not proposed or proposed[0].guid != role.guid, (role.role_name, action)
                elif proposed and proposed[0].guid == role.guid:
                    assert decision.status == "granted", (role.role_name, action)


def test_each_profile_least_privilege_role_grants_every_requirement_of_its_profile() -> None:
    """rbac.data-action's fix assigns the profile's least-privilege role: were that role unable to grant one of
    the profile's own requirements, a principal holding it would be told to assign it again (AzureML Data
    Scientist and workspaces/read before wildcards followed Azure's rule)."""
    by_guid = {role.guid: role for role in _all_builtin_roles()}
    for profile in profiles().values():
        held = [assign_role(by_guid[profile.role_id], ACCOUNT)]
        for requirement in profile.requirements:
            decision = evaluate(requirement.action, ACCOUNT, [ME], held, by_guid.values(), data_action=requirement.data)
            assert decision.status == "granted", (profile.name, requirement.action)


# ---------------------------------------------------------------------------------------------------------------
# Least privilege and effective permissions
# ---------------------------------------------------------------------------------------------------------------


def test_roles_granting_recommends_openai_user_for_chat(
    roles: dict[str, RoleDefinition], catalogue: list[tuple[str, bool]]
) -> None:
    for ops in (None, catalogue):
        ordered = [r.role_name for r in roles_granting(CHAT, roles.values(), data_action=True, operations=ops)]
        assert ordered[0] == "Cognitive Services OpenAI User"
        assert ordered.index("Cognitive Services OpenAI Contributor") < ordered.index("Cognitive Services User")
        assert "Owner" not in ordered and "Contributor" not in ordered
    control = [r.role_name for r in roles_granting(ACCOUNT_WRITE, roles.values(), data_action=False)]
    assert {"Owner", "Contributor", "Cognitive Services Contributor"} <= set(control)
    assert control.index("Cognitive Services Contributor") < control.index("Contributor") < control.index("Owner")


def test_effective_permissions_union_view(roles: dict[str, RoleDefinition]) -> None:
    assignments = [
        assign("Owner", SUB),
        assign("Cognitive Services OpenAI User", ACCOUNT, GROUP),
        assign("Cognitive Services User", f"{SUB}/resourceGroups/other"),
    ]
    view = effective_permissions(assignments, roles.values(), ACCOUNT, [ME, GROUP])
    assert view.allows(CHAT, data_action=True) and view.allows(ACCOUNT_WRITE, data_action=False)
    assert not view.allows(STORED_COMPLETIONS_READ, data_action=True)
    assert {g.role_name for g in view.actions} == {"Owner", "Cognitive Services OpenAI User"}
    assert {g.role_name for g in view.data_actions} == {"Cognitive Services OpenAI User"}
    assert all(g.via_group == GROUP for g in view.data_actions)


# ---------------------------------------------------------------------------------------------------------------
# Property-based: the matcher and scopes
# ---------------------------------------------------------------------------------------------------------------

SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + ".-_", min_size=1, max_size=12)
ACTION = st.lists(SEGMENT, min_size=1, max_size=7).map("/".join)
ANY_TEXT = st.text(max_size=40)


@given(ACTION)
def test_pattern_equal_to_action_matches_in_any_case(action: str) -> None:
    assert action_matches(action, action)
    assert action_matches(action.upper(), action.lower())
    assert action_matches(action.swapcase(), action)


@given(ANY_TEXT)
def test_star_matches_everything(action: str) -> None:
    assert action_matches("*", action)


@given(st.lists(SEGMENT, min_size=2, max_size=7), st.data())
def test_segment_replaced_by_star_still_matches(segments: list[str], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(segments) - 1))
    pattern = "/".join("*" if i == index else s for i, s in enumerate(segments))
    assert action_matches(pattern, "/".join(segments))
    # a trailing wildcard after a prefix matches everything below it, but not a sibling of the prefix
    prefix = "/".join(segments[: index + 1])
    assert action_matches(prefix + "/*", "/".join(segments) + "/x")
    assert not action_matches(prefix + "/*", prefix + "x/y")


@given(ANY_TEXT, ANY_TEXT)
def test_metacharacters_never_crash_and_match_only_themselves(pattern: str, other: str) -> None:
    assume("*" not in pattern)
    assert action_matches(pattern, pattern)
    if other.strip().casefold() != pattern.strip().casefold():
        assert not action_matches(pattern, other)


@pytest.mark.parametrize("pattern", [".*", "a.b", "a+", "(x)", "[ab]", "a|b", "^a$", "a?", "\\d", "{1}"])
def test_regex_metacharacters_are_literals(pattern: str) -> None:
    assert action_matches(pattern, pattern)
    assert not action_matches(pattern, "axb" if pattern == "a.b" else "zzz")


SCOPE = st.lists(SEGMENT, min_size=0, max_size=6).map(lambda segs: "/" + "/".join(segs))


@given(SCOPE)
def test_scope_contains_is_reflexive(scope: str) -> None:
    assert scope_contains(scope, scope) and scope_contains(scope.upper() + "/", scope)


@given(SCOPE, SCOPE, SCOPE)
def test_scope_contains_is_transitive(a: str, b: str, c: str) -> None:
    for outer, middle, inner in ((a, a + b, a + b + c), (a, b, c)):
        if scope_contains(outer, middle) and scope_contains(middle, inner):
            assert scope_contains(outer, inner)


@given(SCOPE, SEGMENT, st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=5))
def test_scope_never_contains_sibling_with_common_prefix(parent: str, name: str, suffix: str) -> None:
    base = parent.rstrip("/") + "/" + name
    sibling = base + suffix
    assert not scope_contains(base, sibling) and not scope_contains(sibling, base)
    assert scope_contains(base, base + "/child") and not scope_contains(base, sibling + "/child")


def test_roles_granting_honours_assignable_scopes(roles: dict[str, RoleDefinition]) -> None:
    custom = RoleDefinition(
        "/subscriptions/other/providers/Microsoft.Authorization/roleDefinitions/c0ffee00",
        "c0ffee00",
        "Chat only",
        "CustomRole",
        "",
        (Permission(data_actions=(CHAT,)),),
        ("/subscriptions/other",),
    )
    everything = [*roles.values(), custom]
    assert roles_granting(CHAT, everything, data_action=True)[0].role_name == "Chat only"
    at_account = roles_granting(CHAT, everything, data_action=True, scope=ACCOUNT)
    assert at_account[0].role_name == "Cognitive Services OpenAI User"
    assert "Chat only" not in [r.role_name for r in at_account]


def test_applied_assignment_evidence_shape(roles: dict[str, RoleDefinition]) -> None:
    decision = evaluate(
        CHAT,
        ACCOUNT,
        [ME, GROUP],
        [assign("Cognitive Services OpenAI User", RG, GROUP)],
        roles.values(),
        data_action=True,
    )
    evidence = decision.granted_by[0].as_evidence()
    assert evidence["roleName"] == "Cognitive Services OpenAI User" and evidence["viaGroup"] == GROUP
    assert evidence["scope"] == RG and evidence["inherited"] is True and evidence["matched"] == CHAT
    assert str(evidence["roleDefinitionId"]).endswith(GUIDS["Cognitive Services OpenAI User"])
    json.dumps(evidence)


@pytest.mark.parametrize(
    "condition,restricts",
    [
        ("!(ActionMatches{'a/b'}) OR @Resource[x] StringEquals 'y'", False),
        ("(!(ActionMatches{'Microsoft.CognitiveServices/*'})) OR (@Resource[x] StringEquals 'y')", True),
        ("((!(ActionMatches{'a/b'} AND SubOperationMatches{'s'})) OR (@Resource[x] StringEquals 'y'))", False),
        ("((!(ActionMatches{'a/b'})) OR (x)) AND (@Resource[x] StringEquals 'y')", True),
        ("@Resource[HasObotoken] boolequals true && ((!(ActionMatches{'a/b'})) OR (x))", True),
        ("((!(ActionMatches{'a/b'})) AND (x))", True),
        ("(((", True),
        ("", True),
    ],
)
def test_condition_restricts_shapes(condition: str, restricts: bool) -> None:
    assert condition_restricts(condition, CHAT) is restricts


MG_NAME = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=10)


@given(st.lists(MG_NAME, min_size=1, max_size=5, unique=True), MG_NAME)
def test_management_group_chain_contains_everything_below(chain: list[str], sub: str) -> None:
    """m0 ⊃ m1 ⊃ … ⊃ mk ⊃ subscription ⊃ resource group, with ancestry given as direct parents only."""
    sub_id = "sub-" + sub
    ancestry = {sub_id: [chain[-1]], **{child: [parent] for parent, child in pairwise(chain)}}
    mg = [f"/providers/Microsoft.Management/managementGroups/{name}" for name in chain]
    below = f"/subscriptions/{sub_id}/resourceGroups/rg"
    for i, outer in enumerate(mg):
        assert scope_contains(outer, below, ancestry)
        assert scope_contains(outer.upper(), f"/subscriptions/{sub_id}", ancestry)
        for j, inner in enumerate(mg):
            assert scope_contains(outer, inner, ancestry) is (i <= j)
        assert not scope_contains(below, outer, ancestry)
