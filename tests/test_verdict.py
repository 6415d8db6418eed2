"""preflight.verdict: the access verdict from whatever sources could be read — pure, on real built-in roles.

Each test reads as one rule of docs/rbac.md ("How the verdict is decided"), for the least-privilege setups
real users have: a data role that cannot read deny assignments, a subscription-wide data role that reads no
Microsoft.Authorization data, a custom data-only role."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from preflight.rbac import DenyAssignment, Permission, RoleAssignment, RoleDefinition, evaluate
from preflight.verdict import Unread, combine, effective_says

DATA = Path(__file__).resolve().parent / "data" / "roles" / "builtin_role_definitions_key_subset.json"
CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
ACCOUNT = (
    "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-ai/providers/"
    "Microsoft.CognitiveServices/accounts/contoso-openai"
)
ME = "a11ce000-0000-4000-8000-00000000a11c"
DENY_REFUSED = Unread("deny-assignments", "ARM answered HTTP 403 AuthorizationFailed")
ASSIGNMENTS_REFUSED = Unread("role-assignments", "ARM answered HTTP 403 AuthorizationFailed")
THROTTLED = Unread("effective-permissions", "ARM answered HTTP 429", refused=False)


def _roles() -> dict[str, RoleDefinition]:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    items = raw if isinstance(raw, list) else raw.get("value", raw)
    roles = [RoleDefinition.from_arm(item) for item in items]
    return {role.role_name: role for role in roles}


ROLES = _roles()


def _holding(role: str, *, denies: tuple[DenyAssignment, ...] = ()) -> object:
    definition = ROLES[role]
    assignment = RoleAssignment(id="ra", scope=ACCOUNT, role_definition_id=definition.id, principal_id=ME)
    return evaluate(CHAT, ACCOUNT, [ME], [assignment], [definition], denies, data_action=True)


def _blocks(role: str) -> tuple[Permission, ...]:
    return ROLES[role].permissions


def test_a_data_role_without_the_deny_list_is_granted_with_the_caveat_kept() -> None:
    # Cognitive Services OpenAI User reads role assignments but not deny assignments
    verdict = combine(
        CHAT,
        data_action=True,
        decision=_holding("Cognitive Services OpenAI User"),  # type: ignore[arg-type]
        effective=effective_says(_blocks("Cognitive Services OpenAI User"), CHAT, data=True),
        deny_checked=False,
        unread=[DENY_REFUSED],
    )
    assert verdict.status == "granted" and verdict.allowed
    assert verdict.decided_by == ("role-assignments", "effective-permissions")
    assert not verdict.deny_checked
    refused = verdict.unread_source("deny-assignments")
    assert refused is not None and refused.permission == "Microsoft.Authorization/denyAssignments/read"


def test_effective_permissions_alone_decide_when_no_authorization_data_is_readable() -> None:
    # Cognitive Services User at the subscription: no Microsoft.Authorization/*/read at all
    verdict = combine(
        CHAT,
        data_action=True,
        decision=None,
        effective=effective_says(_blocks("Cognitive Services User"), CHAT, data=True),
        deny_checked=False,
        unread=[ASSIGNMENTS_REFUSED, DENY_REFUSED],
    )
    assert verdict.status == "granted" and verdict.decided_by == ("effective-permissions",)


def test_the_wrong_data_role_is_a_certain_no_whatever_the_deny_list_says() -> None:
    # a deny assignment can only take access away: "nothing grants it" needs no deny list
    verdict = combine(
        CHAT,
        data_action=True,
        decision=_holding("Cognitive Services Speech User"),  # type: ignore[arg-type]
        effective=effective_says(_blocks("Cognitive Services Speech User"), CHAT, data=True),
        deny_checked=False,
        unread=[DENY_REFUSED],
    )
    assert verdict.status == "not-granted" and not verdict.allowed


def test_owner_grants_no_data_action_by_its_permissions_either() -> None:
    assert effective_says(_blocks("Owner"), CHAT, data=True) == "not-allowed"
    assert effective_says(_blocks("Owner"), "Microsoft.CognitiveServices/accounts/read", data=False) == "allowed"


def test_a_readable_deny_that_applies_beats_every_grant() -> None:
    deny = DenyAssignment(
        id="d", name="managed app lock", scope=ACCOUNT, permissions=(Permission(data_actions=("*",)),), principals=(ME,)
    )
    decision = _holding("Cognitive Services OpenAI User", denies=(deny,))
    verdict = combine(
        CHAT,
        data_action=True,
        decision=decision,
        effective="allowed",  # type: ignore[arg-type]
        deny_checked=True,
    )
    assert verdict.status == "denied" and "deny-assignments" in verdict.decided_by


def test_sources_that_disagree_are_disputed_not_silently_resolved() -> None:
    granted = combine(
        CHAT,
        data_action=True,
        decision=_holding("Cognitive Services OpenAI User"),  # type: ignore[arg-type]
        effective="not-allowed",
        deny_checked=True,
    )
    hidden = combine(
        CHAT,
        data_action=True,
        decision=_holding("Owner"),
        effective="allowed",  # type: ignore[arg-type]
        deny_checked=True,
    )
    assert granted.status == hidden.status == "disputed"


def test_nothing_readable_is_undecided_never_a_pass() -> None:
    verdict = combine(
        CHAT,
        data_action=True,
        decision=None,
        effective=None,
        deny_checked=False,
        unread=[ASSIGNMENTS_REFUSED, DENY_REFUSED, THROTTLED],
    )
    assert verdict.status == "undecided" and not verdict.allowed and verdict.decided_by == ()
    assert THROTTLED.permission is None  # a throttled read is not a missing permission
    assert "429" in THROTTLED.describe()


def test_a_not_granted_with_an_unreadable_role_definition_proves_nothing() -> None:
    # the assignment whose role could not be read may be the one that grants: that source abstains
    assignment = RoleAssignment(
        id="ra", scope=ACCOUNT, role_definition_id="/x/roleDefinitions/unknown", principal_id=ME
    )
    decision = evaluate(CHAT, ACCOUNT, [ME], [assignment], [], data_action=True)
    verdict = combine(CHAT, data_action=True, decision=decision, effective=None, deny_checked=True)
    assert verdict.status == "undecided"


def test_conditional_blocks_are_conditional_and_an_unconditional_one_wins() -> None:
    condition = "((!(ActionMatches{'" + CHAT + "'})) OR (@Resource[x] StringEquals 'y'))"
    guarded = Permission(data_actions=(CHAT,), condition=condition, condition_version="2.0")
    assert effective_says([guarded], CHAT, data=True) == "conditional"
    assert effective_says([guarded, Permission(data_actions=(CHAT,))], CHAT, data=True) == "allowed"


SAYS = st.sampled_from([None, "allowed", "not-allowed", "conditional"])


@given(effective=SAYS, probe=SAYS)
def test_a_pass_always_has_a_source_that_granted_and_none_that_refused(
    effective: str | None, probe: str | None
) -> None:
    verdict = combine(
        CHAT,
        data_action=True,
        decision=None,
        effective=effective,
        probe=probe,  # type: ignore[arg-type]
        deny_checked=False,
    )
    answers = {effective, probe} - {None}
    assert verdict.allowed == ("allowed" in answers and "not-allowed" not in answers)
    assert (verdict.status == "undecided") == (not answers)
