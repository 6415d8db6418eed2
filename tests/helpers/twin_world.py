"""A richer twin scenario for the service tests, and the real SDK clients pointed at a twin.

The built-in scenarios sign in through the Azure CLI; the service tests need a credential they can build
in-process, so :func:`world` describes a tenant with a service principal (secret ``SECRET``) plus enough
management groups, resource groups, accounts, groups and role assignments to exercise paging, filters and
inheritance. Tests tweak the returned mapping and load it with ``twin.use(...)``.
"""

from __future__ import annotations

import copy
from typing import Any

TENANT = "11111111-1111-4111-8111-111111111111"
SUB = "22222222-2222-4222-8222-222222222222"
SUB2 = "33333333-3333-4333-8333-333333333333"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ai"
RG2 = f"/subscriptions/{SUB}/resourceGroups/rg-other"
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
ACCOUNT2 = f"{RG2}/providers/Microsoft.CognitiveServices/accounts/other-openai"
WORKSPACE = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-ws"
ROOT_MG = f"/providers/Microsoft.Management/managementGroups/{TENANT}"
CORP_MG = "/providers/Microsoft.Management/managementGroups/corp"
APP_ID = "c1c1c1c1-0000-4000-8000-0000000000c1"
SP = "c1c1c1c1-0000-4000-8000-0000000000b0"
APP_OBJ = "c1c1c1c1-0000-4000-8000-0000000000a0"
OTHER_SP = "d2d2d2d2-0000-4000-8000-0000000000b0"
ALICE = "a11ce000-0000-4000-8000-00000000a11c"
BOB = "b0b00000-0000-4000-8000-00000000b0b0"
GROUP_OUTER = "6e0f0000-0000-4000-8000-00000000a1d0"
GROUP_INNER = "6e0f0000-0000-4000-8000-00000000a1d1"
SECRET = "twin-test-secret"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def assignment(role: str, principal: str, scope: str, **props: Any) -> dict[str, Any]:
    """A role assignment in the scenario's (real ARM) shape; ``role`` may be a built-in name or GUID."""
    return {"properties": {"roleDefinitionId": role, "principalId": principal, "scope": scope, **props}}


def world(*, page_size: int = 100) -> dict[str, Any]:
    """The test tenant: SP ``SP`` (app ``APP_ID``, secret ``SECRET``) has Reader on the subscription (via the
    ``corp`` management group) and OpenAI User on ``ACCOUNT`` via a nested group; plus noise assignments."""
    account = {
        "id": ACCOUNT,
        "location": "eastus",
        "kind": "OpenAI",
        "sku": {"name": "S0"},
        "properties": {
            "customSubDomainName": "contoso-openai",
            "endpoint": "https://contoso-openai.openai.azure.com/",
            "publicNetworkAccess": "Enabled",
            "disableLocalAuth": False,
        },
        "x-twin-keys": ["key-one"],
    }
    return copy.deepcopy(
        {
            "name": "test-world",
            "options": {"pageSize": page_size, "graphPageSize": page_size},
            "tenant": {"id": TENANT, "displayName": "Contoso", "defaultDomain": "contoso.onmicrosoft.com"},
            "subscriptions": [
                {"subscriptionId": SUB, "displayName": "Dev"},
                {"subscriptionId": SUB2, "displayName": "Prod"},
            ],
            "managementGroups": [
                {"id": ROOT_MG, "properties": {"displayName": "Tenant Root Group"}},
                {
                    "id": CORP_MG,
                    "properties": {"displayName": "Corp", "details": {"parent": {"id": ROOT_MG}}},
                    "x-twin-subscriptions": [SUB, SUB2],
                },
            ],
            "resourceGroups": [
                {"id": RG, "location": "eastus"},
                {"id": RG2, "location": "westus"},
                {"id": f"/subscriptions/{SUB2}/resourceGroups/rg-prod"},
            ],
            "resources": [
                account,
                {
                    "id": ACCOUNT + "/deployments/gpt-4o",
                    "sku": {"name": "Standard", "capacity": 10},
                    "properties": {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "2024-08-06"}},
                },
                {"id": ACCOUNT2, "kind": "OpenAI", "properties": {"customSubDomainName": "other-openai"}},
                {"id": WORKSPACE, "properties": {"friendlyName": "ML"}},
            ],
            "roleAssignments": [
                assignment("Reader", SP, CORP_MG),
                assignment("Cognitive Services OpenAI User", GROUP_OUTER, ACCOUNT),
                assignment("Contributor", ALICE, RG),
                assignment("Reader", BOB, f"/subscriptions/{SUB2}/resourceGroups/rg-prod"),
                assignment("Owner", BOB, ROOT_MG),
                assignment("Cognitive Services User", OTHER_SP, ACCOUNT2),
                assignment("Reader", ALICE, f"/subscriptions/{SUB}"),
            ],
            "directory": {
                "users": [
                    {"id": ALICE, "userPrincipalName": "alice@contoso.onmicrosoft.com", "displayName": "Alice"},
                    {"id": BOB, "userPrincipalName": "bob@contoso.onmicrosoft.com", "displayName": "Bob"},
                ],
                "groups": [
                    {"id": GROUP_OUTER, "displayName": "AI Developers", "securityEnabled": True},
                    {"id": GROUP_INNER, "displayName": "AI Team Alpha", "securityEnabled": True},
                ],
                "memberships": {GROUP_OUTER: [GROUP_INNER], GROUP_INNER: [SP, ALICE]},
                "servicePrincipals": [
                    {"id": SP, "appId": APP_ID, "displayName": "preflight-tests", "servicePrincipalNames": [APP_ID]},
                    {"id": OTHER_SP, "appId": "d2d2d2d2-0000-4000-8000-0000000000c1", "displayName": "other-app"},
                ],
                "applications": [
                    {
                        "id": APP_OBJ,
                        "appId": APP_ID,
                        "displayName": "preflight-tests",
                        "passwordCredentials": [
                            {
                                "keyId": "5ec7e7a0-0000-4000-8000-000000000001",
                                "displayName": "tests",
                                "startDateTime": "@now-1d",
                                "endDateTime": "@now+30d",
                                "hint": "twi",
                                "secretText": None,
                                "x-twin-secretText": SECRET,
                            }
                        ],
                        "federatedIdentityCredentials": [
                            {
                                "id": "f1c00000-0000-4000-8000-000000000001",
                                "name": "gh",
                                "issuer": "https://token.actions.githubusercontent.com",
                                "subject": "repo:contoso/app:ref:refs/heads/main",
                                "audiences": ["api://AzureADTokenExchange"],
                                "description": None,
                            }
                        ],
                    }
                ],
                "conditionalAccessPolicies": [
                    {"id": "c0c0c0c0-0000-4000-8000-0000000000ca", "displayName": "Require MFA", "state": "enabled"}
                ],
                "permissions": {SP: ["Application.Read.All", "Directory.Read.All"]},
            },
            "signIn": {"environment": {"clientId": APP_ID, "tenantId": TENANT, "clientSecret": SECRET}},
        }
    )


def credential(twin: Any, app_id: str = APP_ID, secret: str = SECRET) -> Any:
    """A real ClientSecretCredential against the twin's Entra (a new one per test: tokens are cached)."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        TENANT,
        app_id,
        secret,
        authority=twin.base_url,
        disable_instance_discovery=True,
        connection_verify=str(twin.ca_file),
    )


def arm_kwargs(twin: Any) -> dict[str, Any]:
    """What every azure-mgmt client needs to talk to the twin instead of Azure."""
    return {
        "base_url": twin.base_url,
        "credential_scopes": ["https://management.azure.com/.default"],
        "connection_verify": str(twin.ca_file),
    }
