"""A Cognitive Services account as ARM answers it: the properties every real answer carries (``callRateLimit``,
``quotaLimit``, ``isMigrated`` …) are there even when a scenario names only the ones a check reads — through
azure-mgmt-cognitiveservices, the SDK the product uses (issue 21: the real CLI showed the twin's sparse account)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

from helpers.twin_fixtures import session_twin
from helpers.twin_world import ACCOUNT, SUB, arm_kwargs, credential, world

from preflight.twin import Twin
from preflight.twin.arm import ACCOUNT_PROPERTY_DEFAULTS, complete_account


@pytest.fixture
def acct_twin() -> Iterator[Twin]:
    twin = session_twin()
    twin.use(world())
    yield twin
    assert twin.errors() == []


def test_an_account_carries_the_properties_arm_always_answers(acct_twin: Twin) -> None:
    client = CognitiveServicesManagementClient(credential(acct_twin), SUB, **arm_kwargs(acct_twin))
    rg, name = ACCOUNT.split("/")[4], ACCOUNT.rsplit("/", 1)[-1]
    raw = client.accounts.get(rg, name).serialize(keep_readonly=True)
    props = raw["properties"]
    assert props["callRateLimit"].get("rules") == []
    assert "isMigrated" in props and props["isMigrated"] is False
    listed = [a for a in client.accounts.list_by_resource_group(rg) if a.id.lower() == ACCOUNT.lower()]
    assert listed and listed[0].properties.call_rate_limit is not None


def test_the_scenarios_values_win_and_what_the_product_reads_is_left_alone() -> None:
    scenario_account = {
        "type": "Microsoft.CognitiveServices/accounts",
        "properties": {"endpoint": "https://x.openai.azure.com/", "isMigrated": True},
    }
    done = complete_account(scenario_account)["properties"]
    assert done["isMigrated"] is True and done["quotaLimit"] is None
    for read_by_the_product in ("disableLocalAuth", "publicNetworkAccess", "networkAcls", "endpoints", "locations"):
        assert read_by_the_product not in done and read_by_the_product not in ACCOUNT_PROPERTY_DEFAULTS
    done["callRateLimit"]["rules"].append({})
    assert ACCOUNT_PROPERTY_DEFAULTS["callRateLimit"]["rules"] == []  # never shared between answers
    workspace = {"type": "Microsoft.MachineLearningServices/workspaces", "properties": {}}
    assert complete_account(workspace) is workspace
