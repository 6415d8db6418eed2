"""A small tenant with one example of every audit finding, and helpers to run ``preflight audit`` in-process.

Alice (a member user, Azure CLI) is the auditor: Reader on the ``corp`` management group above both
subscriptions, and a member's default Microsoft Graph rights (Directory.Read.All).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.audit.collect import AuditPlan
from preflight.audit.facts import AuditOptions
from preflight.audit.run import run_audit
from preflight.model import Report
from preflight.target import build_target
from preflight.twin import Twin

TENANT = "7e570000-0000-4000-8000-000000000001"
SUB1 = "5b000000-0000-4000-8000-000000000001"
SUB2 = "5b000000-0000-4000-8000-000000000002"
MG = "corp"
MG_SCOPE = f"/providers/Microsoft.Management/managementGroups/{MG}"
RG = f"/subscriptions/{SUB1}/resourceGroups/rg-ai"
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
CUSTOM_ROLE = "c0570000-0000-4000-8000-0000000000c1"
ID = {
    "alice": "a0000000-0000-4000-8000-000000000001",
    "bob": "a0000000-0000-4000-8000-000000000002",
    "carol": "a0000000-0000-4000-8000-000000000003",  # guest
    "deleted": "a0000000-0000-4000-8000-0000000000de",  # no longer in the directory
    "devs": "6a000000-0000-4000-8000-000000000001",
    "ops": "6a000000-0000-4000-8000-000000000002",
    "readers": "6a000000-0000-4000-8000-000000000003",
    "deployer_app": "ab000000-0000-4000-8000-000000000001",
    "deployer": "5d000000-0000-4000-8000-000000000001",
    "build_mi_app": "ab000000-0000-4000-8000-000000000002",
    "build_mi": "5d000000-0000-4000-8000-000000000002",
}


def _ra(role: str, principal: str, scope: str, **props: Any) -> dict[str, Any]:
    return {
        "properties": {"roleDefinitionId": role, "principalId": ID.get(principal, principal), "scope": scope, **props}
    }


def audit_scenario(**overrides: Any) -> dict[str, Any]:
    """The findings tenant; top-level keys in ``overrides`` replace the defaults."""
    doc: dict[str, Any] = {
        "name": "audit-findings",
        "target": {"subscriptionId": SUB1, "tenantId": TENANT},
        "options": {"pageSize": 3},  # small pages: paging is exercised on every path
        "tenant": {"id": TENANT, "displayName": "Contoso", "defaultDomain": "contoso.onmicrosoft.com"},
        "subscriptions": [
            {"subscriptionId": SUB1, "displayName": "AI dev"},
            {"subscriptionId": SUB2, "displayName": "AI prod"},
        ],
        "managementGroups": [
            {"id": MG_SCOPE, "name": MG, "properties": {"displayName": "Corp"}, "x-twin-subscriptions": [SUB1, SUB2]}
        ],
        "resourceGroups": [{"id": RG, "location": "eastus"}],
        "resources": [
            {
                "id": ACCOUNT,
                "kind": "OpenAI",
                "properties": {
                    "customSubDomainName": "contoso-openai",
                    "endpoint": "https://contoso-openai.openai.azure.com/",
                },
            }
        ],
        "roleDefinitions": [
            {
                "name": CUSTOM_ROLE,
                "properties": {
                    "roleName": "Contoso Operator",
                    "type": "CustomRole",
                    "description": "ops",
                    "assignableScopes": [f"/subscriptions/{SUB1}"],
                    "permissions": [
                        {
                            "actions": ["Microsoft.Compute/*", "*/read"],
                            "notActions": [],
                            "dataActions": [],
                            "notDataActions": [],
                        }
                    ],
                },
            }
        ],
        "roleAssignments": [
            _ra("Reader", "alice", MG_SCOPE),
            _ra("Reader", "bob", RG, createdBy=ID["alice"], createdOn="2024-03-01T10:00:00Z"),
            _ra("Owner", "carol", f"/subscriptions/{SUB2}"),
            _ra("Reader", "deleted", RG, principalType="User"),
            _ra("Cognitive Services OpenAI User", "devs", ACCOUNT),
            _ra("Cognitive Services OpenAI User", "devs", f"/subscriptions/{SUB2}"),
            _ra(CUSTOM_ROLE, "ops", RG),
            _ra(
                "Reader",
                "readers",
                f"/subscriptions/{SUB1}",
                condition="@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] "
                "StringEquals 'logs'",
                conditionVersion="2.0",
            ),
            _ra("Contributor", "deployer", f"/subscriptions/{SUB1}"),
            _ra("Owner", "build_mi", MG_SCOPE),
        ],
        "directory": {
            "users": [
                {"id": ID["alice"], "userPrincipalName": "alice@contoso.onmicrosoft.com", "displayName": "Alice"},
                {"id": ID["bob"], "userPrincipalName": "bob@contoso.onmicrosoft.com", "displayName": "Bob"},
                {
                    "id": ID["carol"],
                    "userPrincipalName": "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                    "displayName": "Carol (Fabrikam)",
                    "userType": "Guest",
                },
            ],
            "groups": [
                {"id": ID["devs"], "displayName": "AI developers", "securityEnabled": True},
                {"id": ID["ops"], "displayName": "Operators", "securityEnabled": True},
                {"id": ID["readers"], "displayName": "Readers", "securityEnabled": True},
            ],
            "servicePrincipals": [
                {"id": ID["deployer"], "appId": ID["deployer_app"], "displayName": "deployer"},
                {
                    "id": ID["build_mi"],
                    "appId": ID["build_mi_app"],
                    "displayName": "build-mi",
                    "servicePrincipalType": "ManagedIdentity",
                },
            ],
            "applications": [
                {
                    "id": "ab000000-0000-4000-8000-0000000000a1",
                    "appId": ID["deployer_app"],
                    "displayName": "deployer",
                    "passwordCredentials": [
                        {
                            "keyId": "5ec00000-0000-4000-8000-000000000001",
                            "displayName": "ci",
                            "startDateTime": "2024-01-01T00:00:00Z",
                            "endDateTime": "@now-2d",
                            "hint": "abc",
                            "secretText": None,
                            "x-twin-secretText": "s3cret~value",
                        }
                    ],
                },
            ],
        },
        "signIn": {
            "environment": None,
            "workloadIdentity": None,
            "managedIdentity": None,
            "azureCli": {
                "loggedIn": True,
                "user": "alice@contoso.onmicrosoft.com",
                "tenantId": TENANT,
                "subscriptionId": SUB1,
            },
        },
    }
    for key, value in overrides.items():
        doc[key] = copy.deepcopy(value)
    return doc


def audit_in_process(
    twin: Twin,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Any,
    plan: AuditPlan | None = None,
    only: Sequence[str] = (),
    **options: Any,
) -> Report:
    """Serve ``scenario`` and run the audit in this process (as ``preflight audit`` does)."""
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    target = build_target(dict(os.environ))
    plan = plan or AuditPlan(all_subscriptions=True)
    return run_audit(target, AuditOptions(plan=plan, **options), only=only)
