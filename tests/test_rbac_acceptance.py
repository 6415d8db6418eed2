"""The matcher cases issue 6's acceptance names, one by one and spelled out (the property-based tests in
test_rbac.py generalise them): `*`, `Microsoft.CognitiveServices/*`, `*/read`, notDataActions carving out, case
differences, and scope prefixes that are not parents (`/subscriptions/a` vs `/subscriptions/ab`)."""

from __future__ import annotations

import pytest

from preflight.rbac import Permission, action_matches, permission_grants, scope_contains

CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
ACCOUNT_READ = "Microsoft.CognitiveServices/accounts/read"


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("*", CHAT, True),
        ("*", "Microsoft.Storage/storageAccounts/write", True),
        ("Microsoft.CognitiveServices/*", CHAT, True),
        ("Microsoft.CognitiveServices/*", ACCOUNT_READ, True),
        ("Microsoft.CognitiveServices/*", "Microsoft.CognitiveServicesX/accounts/read", False),
        ("Microsoft.CognitiveServices/*", "Microsoft.MachineLearningServices/workspaces/read", False),
        ("*/read", ACCOUNT_READ, True),
        ("*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", True),
        ("*/read", "Microsoft.CognitiveServices/accounts/write", False),
        ("*/read", "Microsoft.CognitiveServices/accounts/readonly/action", False),
        ("*/read", CHAT, False),
        ("microsoft.cognitiveservices/ACCOUNTS/openai/*", CHAT, True),
        (CHAT.upper(), CHAT.lower(), True),
    ],
)
def test_wildcards_and_case(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


def test_not_data_actions_carve_out_of_a_wildcard() -> None:
    block = Permission(
        data_actions=("Microsoft.CognitiveServices/*",),
        not_data_actions=("Microsoft.CognitiveServices/accounts/OpenAI/*/chat/completions/action",),
    )
    assert not permission_grants(block, CHAT, data=True)
    assert not permission_grants(block, CHAT.lower(), data=True)  # the carve-out is case-insensitive too
    assert permission_grants(block, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read", data=True)
    assert not permission_grants(block, ACCOUNT_READ, data=False)  # dataActions never grant management actions


@pytest.mark.parametrize(
    ("outer", "inner", "contains"),
    [
        ("/subscriptions/a", "/subscriptions/a/resourceGroups/rg", True),
        ("/subscriptions/a", "/subscriptions/ab", False),
        ("/subscriptions/a", "/subscriptions/ab/resourceGroups/rg", False),
        ("/subscriptions/a/resourceGroups/rg", "/subscriptions/a/resourceGroups/rg-ai", False),
        ("/subscriptions/A/resourcegroups/RG/", "/subscriptions/a/resourceGroups/rg/providers/X/y/z", True),
        ("/subscriptions/a/resourceGroups/rg/providers/X/y/z", "/subscriptions/a/resourceGroups/rg", False),
        ("/", "/subscriptions/a", True),
    ],
)
def test_scope_containment_is_by_segment_not_by_prefix(outer: str, inner: str, contains: bool) -> None:
    assert scope_contains(outer, inner) is contains


def test_an_assignment_condition_guards_only_the_actions_it_names() -> None:
    """Azure's assignment-condition shape "(!(ActionMatches{'chat'})) OR (…)" restricts chat completions and
    provably nothing else: deployments/read through the same assignment is granted, chat is conditional."""
    from preflight.rbac import RoleAssignment, RoleDefinition, evaluate

    role = RoleDefinition.from_arm(
        {
            "id": "/providers/Microsoft.Authorization/roleDefinitions/r1",
            "name": "r1",
            "properties": {
                "roleName": "OpenAI data",
                "permissions": [{"dataActions": ["Microsoft.CognitiveServices/accounts/OpenAI/*"]}],
            },
        }
    )
    condition = (
        f"((!(ActionMatches{{'{CHAT}'}})) OR "
        "(@Resource[Microsoft.CognitiveServices/accounts/deployments:name] StringEquals 'gpt-4o'))"
    )
    scope = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    held = RoleAssignment("ra", scope, "r1", "me", condition=condition, condition_version="2.0")
    read = evaluate(
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read", scope, ["me"], [held], [role], data_action=True
    )
    assert read.status == "granted"
    chat = evaluate(CHAT, scope, ["me"], [held], [role], data_action=True)
    assert chat.status == "conditional" and "cannot be evaluated offline" in chat.explanation
    unparsable = RoleAssignment("ra", scope, "r1", "me", condition="@Request[x] StringEquals 'y'")
    assert (
        evaluate(
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read",
            scope,
            ["me"],
            [unparsable],
            [role],
            data_action=True,
        ).status
        == "conditional"
    )  # not provable: stays conditional
