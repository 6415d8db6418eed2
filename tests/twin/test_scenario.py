"""Scenario loading: validation names the bad key, normalisation fills the real shapes, endpoints bind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.twin_world import ACCOUNT, ALICE, OPENAI_USER, SUB, TENANT, world

from preflight.timestamps import parse_time
from preflight.twin import roles
from preflight.twin.scenario import (
    ScenarioError,
    bind_endpoints,
    builtin_scenario_text,
    iso_time,
    list_scenarios,
    load_scenario,
)

BUILT_INS = {
    "healthy",
    "owner-without-data-role",
    "no-custom-subdomain",
    "sp-expired-secret",
    "sp-missing",
    "mfa-required",
    "ca-blocked",
    "wrong-tenant",
    "propagation-pending",
    "deny-assignment",
    "group-assignment",
    "network-blocked",
    "throttled",
    "no-credentials",
    # least privilege (issue 15): tests/twin/test_least_privilege_scenarios.py
    "dev-data-role-only",
    "cs-user-subscription",
    "ci-sp-data-role",
    "mi-via-group",
    "custom-data-only",
    "wrong-data-role",
    "ml-data-scientist",
    # the two guides' identity pitfalls (issue 20): tests/checks/test_guides_identity.py
    "ml-ca-mfa",
    "ml-ci-sp-owner",
    "sp-object-id",
}


def test_every_promised_builtin_is_listed() -> None:
    assert BUILT_INS <= set(list_scenarios())


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_builtin_loads_and_binds(name: str) -> None:
    doc = load_scenario(name)
    assert doc["name"] == name and doc["description"]
    bound = bind_endpoints(doc, "https://127.0.0.1:4443")
    if "/providers/microsoft.cognitiveservices/accounts/" in bound["target"]["resourceId"].lower():
        assert bound["target"]["endpoint"].startswith("https://127.0.0.1:4443/dataplane/")
    else:  # an Azure ML workspace has no account endpoint
        assert "endpoint" not in bound["target"]
    assert bound["target"]["resourceId"] and bound["target"]["subscriptionId"] and bound["target"]["tenantId"]
    # real-shaped, normalised objects
    for ra in bound["roleAssignments"]:
        assert ra["id"].endswith("/providers/Microsoft.Authorization/roleAssignments/" + ra["name"])
        assert "/providers/Microsoft.Authorization/roleDefinitions/" in ra["properties"]["roleDefinitionId"]


def test_builtin_text_is_json_and_loads_from_a_file(tmp_path: Path) -> None:
    text = builtin_scenario_text("healthy")
    path = tmp_path / "mine.json"
    path.write_text(text)
    assert load_scenario(path)["tenant"]["id"] == json.loads(text)["tenant"]["id"]
    assert load_scenario(str(path))["name"] == "healthy"


def test_role_names_resolve_to_the_shipped_definitions() -> None:
    doc = load_scenario(world())
    ra = next(r for r in doc["roleAssignments"] if r["properties"]["scope"] == ACCOUNT)
    assert ra["properties"]["roleDefinitionId"] == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_USER}"
    )
    assert ra["properties"]["principalType"] == "Group"  # looked up in the directory
    mg = next(r for r in doc["roleAssignments"] if r["properties"]["scope"].startswith("/providers/"))
    assert mg["properties"]["roleDefinitionId"].startswith("/providers/Microsoft.Authorization/roleDefinitions/")


def test_shipped_roles_are_in_arm_shape() -> None:
    names = set(roles.builtin_role_names())
    for wanted in (
        "Owner",
        "Contributor",
        "Reader",
        "User Access Administrator",
        "Role Based Access Control Administrator",
        "Cognitive Services User",
        "Cognitive Services Contributor",
        "Cognitive Services OpenAI User",
        "Cognitive Services OpenAI Contributor",
        "Azure AI Developer",
        "AzureML Data Scientist",
    ):
        assert wanted in names
    owner = roles.find_builtin("owner")
    assert owner is not None and owner["properties"]["type"] == "BuiltInRole"
    assert owner["properties"]["permissions"][0]["actions"] == ["*"]
    assert roles.find_builtin(OPENAI_USER)["properties"]["roleName"] == "Cognitive Services OpenAI User"  # type: ignore[index]


def test_relative_times_resolve_against_now() -> None:
    doc = world()
    doc["roleAssignments"][0]["properties"]["createdOn"] = "@now-60s"
    loaded = load_scenario(doc, now=1_800_000_000)
    assert loaded["roleAssignments"][0]["properties"]["createdOn"] == iso_time(1_800_000_000 - 60)
    secret = loaded["directory"]["applications"][0]["passwordCredentials"][0]
    assert parse_time(secret["endDateTime"]) == 1_800_000_000 + 30 * 86400
    assert parse_time("2024-05-01T10:00:00.0000000Z") == parse_time("2024-05-01T10:00:00Z")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(subscriptionz=[]), "subscriptionz: unknown top-level key"),
        (lambda d: d.pop("tenant"), "tenant: required"),
        (lambda d: d["roleAssignments"][2]["properties"].pop("scope"), "roleAssignments[2].properties.scope: required"),
        (
            lambda d: d["roleAssignments"][0]["properties"].update(roleDefinitionId="Reeder"),
            "roleAssignments[0].properties.roleDefinitionId",
        ),
        (lambda d: d["resources"][0].update(id="/subscriptions/x/bad"), "resources[0].id"),
        (lambda d: d["resourceGroups"].pop(0), "resources[0].id: resource group"),
        (lambda d: d["options"].update(pageSize=0), "options.pageSize"),
        (lambda d: d["options"].update(colour="red"), "options.colour: unknown option"),
        (lambda d: d["directory"].update(userz=[]), "directory.userz: unknown key"),
        (lambda d: d["directory"]["memberships"].update({"nope": []}), "directory.memberships.nope"),
        (
            lambda d: d["managementGroups"][1]["x-twin-subscriptions"].append("missing-sub"),
            "managementGroups[1].x-twin-subscriptions[2]",
        ),
        (
            lambda d: d.update(target={"resourceId": "/subscriptions/x/resourceGroups/y/providers/A/b/c"}),
            "target.resourceId",
        ),
        (lambda d: d.update(target={"colour": 1}), "target.colour: unknown key"),
        (
            lambda d: (
                d["roleDefinitions"].append("Not A Role")
                if "roleDefinitions" in d
                else d.update(roleDefinitions=["Not A Role"])
            ),
            "roleDefinitions[0]",
        ),
        (lambda d: d["signIn"].update(azureCli={"loggedIn": "yes"}), "signIn.azureCli.loggedIn"),
        (lambda d: d.update(faults=[{"match": {"service": "arm"}, "status": 429, "bogus": 1}]), "faults[0].bogus"),
        (lambda d: d.update(tokenErrors=[{"status": 400}]), "tokenErrors[0].body"),
    ],
)
def test_invalid_scenarios_name_the_bad_key(mutate: object, path: str) -> None:
    doc = world()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc)
    assert any(path in e for e in info.value.errors), info.value.errors


def test_unknown_name_and_bad_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="neither a built-in scenario"):
        load_scenario("no-such-scenario")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(bad)


def test_bind_endpoints_rewrites_accounts_and_target() -> None:
    doc = load_scenario(world())
    doc["target"]["endpoint"] = "https://contoso-openai.openai.azure.com/"
    bound = bind_endpoints(doc, "https://127.0.0.1:9")
    account = next(r for r in bound["resources"] if r["id"] == ACCOUNT)
    assert account["properties"]["endpoint"] == "https://127.0.0.1:9/dataplane/contoso-openai/"
    assert account["properties"]["endpoints"] == {
        "OpenAI Language Model Instance API": account["properties"]["endpoint"]
    }
    assert account["x-twin-originalEndpoint"] == "https://contoso-openai.openai.azure.com/"
    assert bound["target"]["endpoint"] == account["properties"]["endpoint"]
    assert doc["resources"][0]["properties"]["endpoint"] == "https://contoso-openai.openai.azure.com/"  # copy
    # rebinding (a new port) is idempotent in shape
    again = bind_endpoints(bound, "https://127.0.0.1:10")
    assert again["target"]["endpoint"] == "https://127.0.0.1:10/dataplane/contoso-openai/"


def test_tenant_and_defaults_are_filled() -> None:
    doc = load_scenario(world())
    assert doc["tenant"]["id"] == doc["tenant"]["tenantId"] == TENANT
    sub = doc["subscriptions"][0]
    assert sub["id"] == f"/subscriptions/{SUB}" and sub["state"] == "Enabled" and sub["tenantId"] == TENANT
    assert doc["options"]["dataPlanePropagationSeconds"] == 0
    assert doc["target"] == {"tenantId": TENANT, "subscriptionId": SUB, "resourceId": ACCOUNT, "profile": "openai"}
    alice = next(u for u in doc["directory"]["users"] if u["id"] == ALICE)
    assert alice["accountEnabled"] is True


def test_duplicates_are_rejected() -> None:
    doc = world()
    doc["resources"][2]["properties"]["customSubDomainName"] = "Contoso-OpenAI"
    doc["directory"]["groups"].append({"id": doc["directory"]["users"][0]["id"]})
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc)
    assert any(e.startswith("resources[2].properties.customSubDomainName") for e in info.value.errors)
    assert any(e.startswith("directory.groups[2].id") for e in info.value.errors)
