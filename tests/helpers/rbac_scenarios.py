"""Test-only scenarios derived from the built-in ones (issue 6: RBAC, target resolution, PIM, ML)."""

from __future__ import annotations

import copy
import json
from typing import Any

from preflight.twin.scenario import builtin_scenario_text

SUB = "22222222-2222-4222-8222-222222222222"
SUB2 = "33333333-3333-4333-8333-333333333333"
TENANT = "11111111-1111-4111-8111-111111111111"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ai"
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
WORKSPACE = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/contoso-ml"
ALICE = "a11ce000-0000-4000-8000-00000000a11c"
SP_APP = "c1c1c1c1-0000-4000-8000-0000000000c1"
SP_OBJECT = "c1c1c1c1-0000-4000-8000-0000000000b0"
MG = "/providers/Microsoft.Management/managementGroups/corp"


def builtin(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(builtin_scenario_text(name))
    return data


def assignment(role: str, principal: str, scope: str, **extra: Any) -> dict[str, Any]:
    return {"properties": {"roleDefinitionId": role, "principalId": principal, "scope": scope, **extra}}


def service_principal_with(roles: list[tuple[str, str]]) -> dict[str, Any]:
    """A CI service principal signed in with a client secret, holding ``roles`` (role, scope)."""
    doc = builtin("healthy")
    doc["name"] = "sp-roles"
    doc["directory"]["servicePrincipals"] = [
        {
            "id": SP_OBJECT,
            "appId": SP_APP,
            "displayName": "preflight-ci",
            "servicePrincipalType": "Application",
            "accountEnabled": True,
            "appOwnerOrganizationId": TENANT,
            "servicePrincipalNames": [SP_APP],
        }
    ]
    doc["directory"]["applications"] = [
        {
            "id": "c1c1c1c1-0000-4000-8000-0000000000a0",
            "appId": SP_APP,
            "displayName": "preflight-ci",
            "signInAudience": "AzureADMyOrg",
            "passwordCredentials": [
                {
                    "displayName": "ci secret",
                    "endDateTime": "@now+300d",
                    "keyId": "5ec7e7a0-0000-4000-8000-000000000001",
                    "startDateTime": "2024-05-01T08:00:00Z",
                    "x-twin-secretText": "twin-ci-secret-value",
                }
            ],
        }
    ]
    doc["signIn"] = {
        "environment": {"clientId": SP_APP, "tenantId": TENANT, "clientSecret": "twin-ci-secret-value"},
        "workloadIdentity": None,
        "managedIdentity": None,
        "azureCli": None,
    }
    doc["roleAssignments"] = [assignment(role, SP_OBJECT, scope) for role, scope in roles]
    return doc


def with_eligibility(base: str = "owner-without-data-role") -> dict[str, Any]:
    """Alice may *activate* Cognitive Services OpenAI User on the account (PIM), but holds only Owner."""
    doc = builtin(base)
    doc["name"] = "pim-eligible"
    doc["options"]["x-roleEligibilityScheduleInstances"] = [
        assignment("Cognitive Services OpenAI User", ALICE, ACCOUNT, memberType="Direct", status="Provisioned")
    ]
    return doc


def data_role_at_management_group() -> dict[str, Any]:
    """Cognitive Services OpenAI User granted to Alice at a management group above the subscription."""
    doc = builtin("healthy")
    doc["name"] = "mg-data-role"
    doc["managementGroups"] = [
        {"id": MG, "name": "corp", "properties": {"displayName": "Corp"}, "x-twin-subscriptions": [SUB]}
    ]
    doc["roleAssignments"] = [assignment("Reader", ALICE, RG), assignment("Cognitive Services OpenAI User", ALICE, MG)]
    return doc


def second_subscription_account() -> dict[str, Any]:
    """The account lives in a second subscription; the target names only the first."""
    doc = builtin("healthy")
    doc["name"] = "two-subscriptions"
    second = copy.deepcopy(doc["subscriptions"][0])
    second.update({"id": f"/subscriptions/{SUB2}", "subscriptionId": SUB2, "displayName": "Contoso AI (prod)"})
    doc["subscriptions"].append(second)
    rg2 = f"/subscriptions/{SUB2}/resourceGroups/rg-prod"
    doc["resourceGroups"].append({"id": rg2, "name": "rg-prod", "location": "eastus"})
    for res in doc["resources"]:
        res["id"] = res["id"].replace(RG, rg2)
    doc["roleAssignments"] = [
        assignment("Reader", ALICE, RG),
        assignment("Reader", ALICE, rg2),
        assignment("Cognitive Services OpenAI User", ALICE, ACCOUNT.replace(RG, rg2)),
    ]
    doc["target"] = {"subscriptionId": SUB, "tenantId": TENANT, "profile": "openai"}
    return doc


def two_regional_accounts() -> dict[str, Any]:
    """Two accounts without a custom subdomain in one region: both answer on the shared regional endpoint."""
    doc = builtin("no-custom-subdomain")
    doc["name"] = "two-regional"
    first = next(r for r in doc["resources"] if r["type"] == "Microsoft.CognitiveServices/accounts")
    other = copy.deepcopy(first)
    other["id"] = first["id"].rsplit("/", 1)[0] + "/fabrikam-openai"
    other["name"] = "fabrikam-openai"
    doc["resources"].append(other)
    return doc


def ml_workspace() -> dict[str, Any]:
    """An Azure ML workspace; Alice is AzureML Data Scientist on it (and, from healthy, Cognitive Services OpenAI
    User on the account)."""
    doc = builtin("healthy")
    doc["name"] = "ml-workspace"
    doc["resources"].append(
        {
            "id": WORKSPACE,
            "name": "contoso-ml",
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": "eastus",
            "kind": "Default",
            "sku": {"name": "Basic", "tier": "Basic"},
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "friendlyName": "contoso-ml",
                "publicNetworkAccess": "Enabled",
                "discoveryUrl": "https://eastus.api.azureml.ms/discovery",
                "provisioningState": "Succeeded",
            },
        }
    )
    doc["roleAssignments"].append(assignment("AzureML Data Scientist", ALICE, WORKSPACE))
    return doc


MI_APP = "3a3a3a3a-0000-4000-8000-0000000000a1"
MI_OBJECT = "3a3a3a3a-0000-4000-8000-0000000000b1"
MI_GROUP = "6e0f0000-0000-4000-8000-0000000000c0"


def managed_identity_through_group(granted: str = "@now-2h") -> dict[str, Any]:
    """A user-assigned managed identity (App Service style endpoint) that gets Cognitive Services OpenAI User
    only through a group: its group membership is cached in tokens for up to ~24 hours."""
    doc = builtin("healthy")
    doc["name"] = "mi-through-group"
    mi_id = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ci-mi"
    doc["directory"]["servicePrincipals"] = [
        {
            "id": MI_OBJECT,
            "appId": MI_APP,
            "displayName": "ci-mi",
            "servicePrincipalType": "ManagedIdentity",
            "accountEnabled": True,
            "alternativeNames": ["isExplicit=True", mi_id],
            "servicePrincipalNames": [MI_APP],
        }
    ]
    doc["directory"]["groups"] = [
        {"id": MI_GROUP, "displayName": "AI workloads", "securityEnabled": True, "mailEnabled": False, "groupTypes": []}
    ]
    doc["directory"]["memberships"] = {MI_GROUP: [MI_OBJECT]}
    doc["signIn"] = {
        "environment": None,
        "workloadIdentity": None,
        "azureCli": None,
        "managedIdentity": {"clientId": MI_APP, "principalId": MI_OBJECT, "style": "appService"},
    }
    doc["roleAssignments"] = [assignment("Cognitive Services OpenAI User", MI_GROUP, ACCOUNT, createdOn=granted)]
    return doc
