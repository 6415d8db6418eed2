"""api-version validation on the twin's ARM: an unsupported version gets ARM's real 400 bodies, and every version
the product and the installed SDKs send is accepted (so a product regression to a bad api-version fails here).

Bodies as real ARM sends them: NoRegisteredProviderFound for a provider type (Azure/azure-quickstart-templates#8013,
Azure/azure-sdk-for-python#26565), InvalidApiVersionParameter for ARM's own APIs (Azure/azure-cli#28038,
ansible-collections/azure#1739)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from helpers.twin_fixtures import session_twin
from helpers.twin_world import (
    ACCOUNT,
    CORP_MG,
    RG,
    SUB,
    WORKSPACE,
    arm_kwargs,
    credential,
    world,
)

from preflight.twin import Twin
from preflight.twin.api_versions import (
    addressed_type,
    arm_versions,
    provider_types,
    table,
)

BAD = "1999-01-01"
COGNITIVE = provider_types("Microsoft.CognitiveServices") or {}
AUTHORIZATION = provider_types("Microsoft.Authorization") or {}


@pytest.fixture
def av_twin() -> Iterator[Twin]:
    twin = session_twin()
    twin.use(world())
    yield twin
    assert twin.errors() == []


def _get(twin: Twin, path: str, version: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        twin.base_url + path, params={"api-version": version}, headers=headers, verify=str(twin.ca_file), timeout=10
    )


def _token(twin: Twin) -> str:
    return credential(twin).get_token("https://management.azure.com/.default").token


def test_account_with_an_unsupported_version_is_no_registered_provider_found(av_twin: Twin) -> None:
    answer = _get(av_twin, ACCOUNT, BAD, _token(av_twin))
    versions = ", ".join(COGNITIVE["accounts"]["apiVersions"])
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "code": "NoRegisteredProviderFound",
            "message": f"No registered resource provider found for location 'eastus' and API version '{BAD}' for type 'accounts'. "
            f"The supported api-versions are '{versions}'. The supported locations are 'eastus, westus'.",
        }
    }
    # the real SDK raises what it raises against Azure
    client = CognitiveServicesManagementClient(credential(av_twin), SUB, api_version=BAD, **arm_kwargs(av_twin))
    with pytest.raises(HttpResponseError) as caught:
        client.accounts.get("rg-ai", "contoso-openai")
    assert caught.value.status_code == 400 and caught.value.error is not None
    assert caught.value.error.code == "NoRegisteredProviderFound"


def test_role_assignments_with_an_unsupported_version(av_twin: Twin) -> None:
    versions = ", ".join(AUTHORIZATION["roleAssignments"]["apiVersions"])
    for scope, location in ((f"/subscriptions/{SUB}", "eastus"), (ACCOUNT, "eastus"), (CORP_MG, "eastus")):
        answer = _get(av_twin, scope + "/providers/Microsoft.Authorization/roleAssignments", BAD, _token(av_twin))
        assert answer.status_code == 400, scope
        assert answer.json() == {
            "error": {
                "code": "NoRegisteredProviderFound",
                "message": f"No registered resource provider found for location '{location}' and API version '{BAD}' for type "
                f"'roleAssignments'. The supported api-versions are '{versions}'. The supported locations are ''.",
            }
        }
    assert "2015-06-15" not in versions and "2014-04-01-preview" in versions  # the real list's ends (#8013)


def test_subscription_with_an_unsupported_version_is_invalid_api_version_parameter(av_twin: Twin) -> None:
    expected = {
        "error": {
            "code": "InvalidApiVersionParameter",
            "message": f"The api-version '{BAD}' is invalid. The supported versions are '{','.join(arm_versions())}'.",
        }
    }
    for path in (
        f"/subscriptions/{SUB}",
        "/subscriptions",
        "/tenants",
        f"/subscriptions/{SUB}/resourcegroups",
        f"{RG}/resources",
        f"/subscriptions/{SUB}/providers/Microsoft.CognitiveServices",
    ):
        answer = _get(av_twin, path, BAD, _token(av_twin))
        assert (answer.status_code, answer.json()) == (400, expected), path
    client = SubscriptionClient(credential(av_twin), api_version=BAD, **arm_kwargs(av_twin))
    with pytest.raises(HttpResponseError) as caught:
        client.subscriptions.get(SUB)
    assert caught.value.error is not None and caught.value.error.code == "InvalidApiVersionParameter"


def test_api_version_is_checked_before_the_token(av_twin: Twin) -> None:
    """ARM validates the api-version first: no token at all still gets the 400, not a 401."""
    assert _get(av_twin, ACCOUNT, BAD).json()["error"]["code"] == "NoRegisteredProviderFound"
    assert _get(av_twin, f"/subscriptions/{SUB}", BAD).json()["error"]["code"] == "InvalidApiVersionParameter"
    assert _get(av_twin, ACCOUNT, "2025-09-01").status_code == 401


def test_the_path_decides_the_type() -> None:
    assert addressed_type("GET", ACCOUNT) == ("Microsoft.CognitiveServices", "accounts")
    assert addressed_type("GET", ACCOUNT + "/deployments") == ("Microsoft.CognitiveServices", "accounts/deployments")
    assert addressed_type("POST", ACCOUNT + "/listKeys") == ("Microsoft.CognitiveServices", "accounts")
    assert addressed_type("GET", ACCOUNT + "/providers/Microsoft.Authorization/roleAssignments") == (
        "Microsoft.Authorization",
        "roleAssignments",
    )
    assert addressed_type("POST", "/providers/Microsoft.ResourceGraph/resources") == (
        "Microsoft.ResourceGraph",
        "resources",
    )
    for own in (
        f"/subscriptions/{SUB}",
        "/tenants",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization",
        f"/subscriptions/{SUB}/providers",
        f"{RG}/resources",
    ):
        assert addressed_type("GET", own) is None, own


def _product_versions() -> list[tuple[str, str, str]]:
    """(method, path, api-version) for every api-version constant the product sends to ARM, and the defaults of the
    installed SDKs for the operations the product and its tests call."""
    from azure.mgmt.authorization import AuthorizationManagementClient as Authz

    from preflight.audit import collect
    from preflight.azure import arm, facts, management_groups, resource_graph

    authz = f"/subscriptions/{SUB}/providers/Microsoft.Authorization"
    profile = Authz.LATEST_PROFILE.get_profile_dict()[Authz._PROFILE_TAG]  # type: ignore[attr-defined]
    default = Authz.DEFAULT_API_VERSION
    return [
        ("GET", ACCOUNT, arm.ACCOUNT_API_VERSION),
        ("GET", WORKSPACE, arm.WORKSPACE_API_VERSION),
        ("GET", f"{authz}/roleAssignments", arm.AUTHORIZATION_API),
        ("GET", f"{authz}/roleDefinitions", arm.AUTHORIZATION_API),
        ("GET", f"{authz}/denyAssignments", arm.AUTHORIZATION_API),
        ("GET", f"{RG}/providers/Microsoft.Authorization/permissions", arm.AUTHORIZATION_API),
        (
            "GET",
            "/providers/Microsoft.Authorization/providerOperations/Microsoft.CognitiveServices",
            arm.AUTHORIZATION_API,
        ),
        ("GET", f"{authz}/roleAssignments", collect.AUTHZ_API),
        ("GET", f"{authz}/classicAdministrators", collect.CLASSIC_API),
        ("GET", "/subscriptions", collect.SUBSCRIPTIONS_API),
        ("GET", f"/subscriptions/{SUB}", facts.SUBSCRIPTIONS_API),
        ("GET", CORP_MG, collect.MANAGEMENT_GROUPS_API),
        ("GET", CORP_MG, management_groups.API_VERSION),
        ("POST", "/providers/Microsoft.ResourceGraph/resources", collect.ARG_API),
        ("POST", "/providers/Microsoft.ResourceGraph/resources", resource_graph.API_VERSION),
        # the installed SDKs' own defaults
        ("GET", f"{authz}/roleAssignments", profile.get("role_assignments", default)),
        ("GET", f"{authz}/roleEligibilityScheduleInstances", profile["role_eligibility_schedule_instances"]),
        ("GET", f"/subscriptions/{SUB}", SubscriptionClient(object(), base_url="https://x")._config.api_version),  # type: ignore[arg-type]
        ("GET", f"{RG}/resources", ResourceManagementClient(object(), SUB, base_url="https://x")._config.api_version),  # type: ignore[arg-type]
        ("GET", ACCOUNT, CognitiveServicesManagementClient(object(), SUB, base_url="https://x")._config.api_version),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(("method", "path", "version"), _product_versions())
def test_every_version_the_product_and_the_sdks_send_is_accepted(
    av_twin: Twin, method: str, path: str, version: str
) -> None:
    answer = requests.request(
        method,
        av_twin.base_url + path,
        params={"api-version": version},
        headers={"Authorization": f"Bearer {_token(av_twin)}"},
        json={"query": "resources | limit 1"} if method == "POST" else None,
        verify=str(av_twin.ca_file),
        timeout=10,
    )
    code = answer.json().get("error", {}).get("code") if answer.status_code >= 400 else None
    assert code not in ("NoRegisteredProviderFound", "InvalidApiVersionParameter"), (path, version, answer.text)


def test_the_data_cites_its_sources_and_lists_every_type() -> None:
    data = table()
    assert "azure-rest-api-specs" in data["_note"] and "#1739" in data["_note"]
    assert data["arm"][0] > data["arm"][-1]  # newest first, as ARM prints it
    for namespace, types in data["providers"].items():
        for name, entry in types.items():
            assert entry["apiVersions"] == sorted(set(entry["apiVersions"])), (namespace, name)


# The version azure-cli 2.91 sends for `az cognitiveservices account show / keys list` (the default of the
# azure-mgmt-cognitiveservices 15.0.0b4 it ships): the twin refused it with NoRegisteredProviderFound until the
# interop suite (tests/interop) ran the real CLI. The project's own SDK pin sends an older one, so this is
# checked by value.
AZ_CLI_COGNITIVE_VERSION = "2026-05-15-preview"


def test_the_version_the_azure_cli_sends_for_accounts_is_accepted(av_twin: Twin) -> None:
    # (listKeys is validated against the same `accounts` entry; it is a POST, which the session twin's read-only
    # proof rightly flags, so tests/twin/test_diagnosis_routes.py covers it on a twin of its own)
    answer = _get(av_twin, ACCOUNT, AZ_CLI_COGNITIVE_VERSION, _token(av_twin))
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"].lower() == ACCOUNT.lower()
