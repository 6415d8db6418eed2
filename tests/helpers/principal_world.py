"""Test-only twin scenarios for the principal.* and access.conditional-access checks, derived from the
built-in ``principal-secret-expiring`` / ``healthy`` scenarios so each differs from a known world by one fact."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from preflight.twin.scenario import builtin_scenario_text

TENANT = "11111111-1111-4111-8111-111111111111"
ALICE = "a11ce000-0000-4000-8000-00000000a11c"
APP_ID = "c1c1c1c1-0000-4000-8000-0000000000c1"
SP_ID = "c1c1c1c1-0000-4000-8000-0000000000b0"
FOREIGN_APP = "f0f0f0f0-0000-4000-8000-0000000000c1"  # registered in Fabrikam, never provisioned in Contoso
CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_REPOSITORY",
    "GITHUB_REF",
    "GITHUB_EVENT_NAME",
    "GITHUB_HEAD_REF",
    "PREFLIGHT_GITHUB_ENVIRONMENT",
    "TF_BUILD",
    "SYSTEM_COLLECTIONURI",
    "SYSTEM_TEAMPROJECT",
    "SYSTEM_COLLECTIONID",
    "PREFLIGHT_SERVICE_CONNECTION",
)


def builtin(name: str) -> dict[str, Any]:
    return json.loads(builtin_scenario_text(name))


def alice_cli() -> dict[str, Any]:
    return copy.deepcopy(builtin("healthy")["signIn"]["azureCli"])


def service_principal(secret_end: str = "@now+400d", **changes: Any) -> dict[str, Any]:
    """The SP of ``principal-secret-expiring`` signing in with its secret, which ends at ``secret_end``.
    ``changes``: ``sp`` (fields of the service principal), ``app`` (fields of the application), ``cli``
    (Alice's az login as well), ``permissions`` (the SP's Graph permissions), ``client_id`` (what the
    environment names)."""
    doc = builtin("principal-secret-expiring")
    doc["name"] = "test-principal"
    directory = doc["directory"]
    directory["applications"][0]["passwordCredentials"][0]["endDateTime"] = secret_end
    directory["servicePrincipals"][0].update(changes.get("sp", {}))
    directory["applications"][0].update(changes.get("app", {}))
    if "permissions" in changes:
        directory["permissions"] = {SP_ID: changes["permissions"]}
    if changes.get("cli"):
        doc["signIn"]["azureCli"] = alice_cli()
    if "client_id" in changes:
        doc["signIn"]["environment"]["clientId"] = changes["client_id"]
    return doc


def workload_block_policy() -> dict[str, Any]:
    """The CI service principal (with Policy.Read.All) and two CA policies: the built-in user policy and "Block
    CI identities", a workload-identity policy that blocks this very service principal."""
    scenario = service_principal(permissions=["Application.Read.All", "Policy.Read.All"])
    user_policy, *_ = builtin("ca-policies")["directory"]["conditionalAccessPolicies"]
    workload = {
        **user_policy,
        "id": "ca000000-0000-4000-8000-0000000000a1",
        "displayName": "Block CI identities",
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
        "conditions": {
            **user_policy["conditions"],
            "applications": {"includeApplications": ["All"]},
            "clientApplications": {"includeServicePrincipals": [SP_ID]},
        },
    }
    scenario["directory"]["conditionalAccessPolicies"] = [user_policy, workload]
    return scenario


def foreign_app() -> dict[str, Any]:
    """The environment names an app registered in another tenant (Fabrikam) with no service principal here;
    Alice's az login can read Contoso's directory."""
    doc = service_principal(cli=True, client_id=FOREIGN_APP)
    doc["otherTenants"] = [
        {
            "id": "33333333-3333-4333-8333-333333333333",
            "displayName": "Fabrikam",
            "defaultDomain": "fabrikam.onmicrosoft.com",
        }
    ]
    return doc


def expired_app_for_admin() -> dict[str, Any]:
    """Alice (az login) examines the CI app, whose only secrets expired, with --assignee."""
    doc = service_principal(secret_end="@now-2d")
    doc["signIn"] = copy.deepcopy(builtin("healthy")["signIn"])
    return doc


@pytest.fixture
def no_ci(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This test process is not a CI job (the suite itself may run in one)."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
