"""The opt-in interop suite (tests/interop, run by tools/interop.sh with a real az) kept honest in the default
run without az: its independent reading of a scenario (expect.py) and its case tables are pure code, so they are
checked here — a refactor of the scenarios or the twin cannot silently break the suite nobody runs in CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from interop import cases, expect
from interop.run import LOGIN_REFUSED, identities

from preflight.twin.instance import load
from preflight.twin.scenario import list_scenarios

ACCOUNT = (
    "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-ai/providers/"
    "Microsoft.CognitiveServices/accounts/contoso-openai"
)
SUB = "22222222-2222-4222-8222-222222222222"


def _who(name: str) -> tuple[dict[str, object], expect.Identity]:
    scenario = load(name)
    return scenario, identities(scenario)[0][0]


def test_roles_through_nested_groups_and_wildcards() -> None:
    scenario, alice = _who("group-assignment")  # Reader on rg-ai and OpenAI User, both through nested groups
    assert alice.kind == "user" and alice.name == "alice@contoso.onmicrosoft.com"
    assert expect.holds(scenario, alice, "Microsoft.CognitiveServices/accounts/read", ACCOUNT)  # Reader's */read
    assert not expect.holds(scenario, alice, "Microsoft.CognitiveServices/accounts/listKeys/action", ACCOUNT)
    assert not expect.holds(scenario, alice, "Microsoft.Authorization/roleAssignments/read", f"/subscriptions/{SUB}")
    assert expect.assignments(scenario, alice, groups=False) == []
    assert {expect.role_name(scenario, a) for a in expect.assignments(scenario, alice)} == {
        "Reader",
        "Cognitive Services OpenAI User",
    }


def test_a_data_role_only_identity_is_expected_to_be_refused_the_keys() -> None:
    scenario, sp = _who("ci-sp-data-role")
    table = {c.name: c for c in cases.all_cases(scenario, sp, cases.Origins.one("https://127.0.0.1:1"), SUB)}
    keys = table["cognitiveservices account keys list"]
    assert (keys.outcome, keys.code) == ("error", "AuthorizationFailed")
    assert table["ad signed-in-user show"].outcome == "error"  # /me needs a delegated token
    assert table["ad sp show"].code == cases.GRAPH_DENIED  # no Graph permissions
    assert table["cognitiveservices account show"].outcome == "ok"


@pytest.mark.parametrize("name", [str(n) for n in list_scenarios()])
def test_every_builtin_scenario_gives_the_suite_something_to_run(name: str) -> None:
    scenario = load(name)
    for who, how in identities(scenario):
        # the suite needs the principal's id, except where the sign-in is refused (run.LOGIN_REFUSED)
        assert who.object_id or name in LOGIN_REFUSED, (name, who)
        assert set(how) <= {"secret", "user", "identity"}
        sub = SUB if expect.sees_subscription(scenario, who, SUB) else None
        for case in cases.all_cases(scenario, who, cases.Origins.one("https://127.0.0.1:1"), sub):
            assert case.outcome in ("ok", "error", "observe") and all(isinstance(a, str) for a in case.argv)
            assert "twin-ci-secret-value" not in case.argv  # a secret never goes into a recorded command


def test_the_suite_is_not_collected_by_the_default_run() -> None:
    folder = Path(__file__).parent / "interop"
    assert not [p for p in folder.iterdir() if p.name.startswith("test_") or p.name.endswith("_test.py")]
