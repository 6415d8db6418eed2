"""Generated scenarios for scale work: a tenant of N subscriptions × M role assignments × P distinct principals.

Deterministic from a seed (the same arguments always give the same document, ids included), so benchmark
numbers are comparable run to run. The default shape is the audit benchmark's: 100 subscriptions × 1,000 role
assignments (100,000) naming 20,000 distinct principals — members, guests, groups, applications, managed
identities and deleted principals (orphans) — with every kind of audit finding present at realistic rates.

The auditor is an application signed in through environment variables (client secret): Reader on the
management group above every subscription, Directory.Read.All and Application.Read.All in Microsoft Graph.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

AUDITOR_APP = "a0d17000-0000-4000-8000-000000000001"
AUDITOR_SP = "a0d17000-0000-4000-8000-000000000051"
AUDITOR_SECRET = "generated-auditor-secret~0"
CUSTOM_ROLE = "c0570000-0000-4000-8000-00000000c0de"
MG = "corp"
# (role, weight): what a large estate tends to hold. Names resolve to the twin's shipped built-ins.
ROLE_MIX = (
    ("Reader", 38),
    ("Contributor", 14),
    ("Cognitive Services OpenAI User", 14),
    ("Storage Blob Data Reader", 10),
    ("Key Vault Secrets User", 7),
    ("Cognitive Services User", 5),
    (CUSTOM_ROLE, 5),
    ("Owner", 3),
    ("User Access Administrator", 2),
    ("Cognitive Services OpenAI Contributor", 2),
)
# share of each kind among the principals (the rest are member users)
KINDS = (("guest", 0.025), ("group", 0.10), ("app", 0.125), ("mi", 0.05), ("deleted", 0.05))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _principals(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """``count`` (kind, object id) pairs, kinds in the proportions of :data:`KINDS`."""
    kinds: list[str] = []
    for kind, share in KINDS:
        kinds += [kind] * int(count * share)
    kinds += ["user"] * (count - len(kinds))
    rng.shuffle(kinds)
    return [(kind, _uuid(rng)) for kind in kinds]


def generate_scenario(
    subscriptions: int = 100,
    per_subscription: int = 1000,
    principals: int = 20_000,
    seed: int = 0,
    groups_per_subscription: int = 5,
) -> dict[str, Any]:
    """The scenario document (plain JSON data, see docs/twin-scenarios.md). Every principal holds at least one
    assignment when ``subscriptions * per_subscription >= principals``."""
    rng = random.Random(seed)
    tenant = str(uuid.UUID(int=random.Random(f"tenant-{seed}").getrandbits(128), version=4))
    subs = [_uuid(rng) for _ in range(subscriptions)]
    mg_id = f"/providers/Microsoft.Management/managementGroups/{MG}"
    people = _principals(rng, principals)
    users: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    sps: list[dict[str, Any]] = []
    apps: list[dict[str, Any]] = []
    principal_type: dict[str, str] = {}
    for n, (kind, oid) in enumerate(people):
        if kind in ("user", "guest"):
            upn = (
                f"user{n}@contoso.onmicrosoft.com"
                if kind == "user"
                else f"guest{n}_fabrikam.com#EXT#@contoso.onmicrosoft.com"
            )
            users.append(
                {
                    "id": oid,
                    "userPrincipalName": upn,
                    "displayName": f"{kind.title()} {n}",
                    "userType": "Member" if kind == "user" else "Guest",
                }
            )
            principal_type[oid] = "User"
        elif kind == "group":
            groups.append({"id": oid, "displayName": f"Group {n}", "securityEnabled": True})
            principal_type[oid] = "Group"
        elif kind in ("app", "mi"):
            app_id = _uuid(rng)
            sps.append(
                {
                    "id": oid,
                    "appId": app_id,
                    "displayName": f"{kind}-{n}",
                    "servicePrincipalType": "Application" if kind == "app" else "ManagedIdentity",
                }
            )
            if kind == "app":
                days = rng.choice((-30, -2, 10, 200, 400, 700))  # some expired, some expiring soon
                apps.append(
                    {
                        "id": _uuid(rng),
                        "appId": app_id,
                        "displayName": f"app-{n}",
                        "passwordCredentials": [
                            {
                                "keyId": _uuid(rng),
                                "displayName": "ci",
                                "startDateTime": "2024-01-01T00:00:00Z",
                                "endDateTime": f"@now{days:+d}d",
                                "hint": "gen",
                                "secretText": None,
                            }
                        ],
                    }
                )
            principal_type[oid] = "ServicePrincipal"
        else:
            principal_type[oid] = rng.choice(("User", "ServicePrincipal", "Group"))  # deleted: ARM remembers
    roles = [r for r, _ in ROLE_MIX]
    weights = [w for _, w in ROLE_MIX]
    resource_groups = [
        f"/subscriptions/{s}/resourceGroups/rg-{g}" for s in subs for g in range(groups_per_subscription)
    ]
    assignments: list[dict[str, Any]] = []
    total = subscriptions * per_subscription
    for i in range(total):
        sub_index = i // per_subscription
        kind, oid = people[i] if i < len(people) else people[rng.randrange(len(people))]
        if rng.random() < 0.15:
            scope = f"/subscriptions/{subs[sub_index]}"
        else:
            scope = resource_groups[sub_index * groups_per_subscription + rng.randrange(groups_per_subscription)]
        role = rng.choices(roles, weights)[0]
        assignments.append(
            {
                "name": _uuid(rng),
                "properties": {
                    "roleDefinitionId": role,
                    "principalId": oid,
                    "principalType": principal_type[oid],
                    "scope": scope,
                    "createdOn": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                },
            }
        )
    assignments.append(
        {
            "properties": {
                "roleDefinitionId": "Reader",
                "principalId": AUDITOR_SP,
                "principalType": "ServicePrincipal",
                "scope": mg_id,
            }
        }
    )
    sps.append({"id": AUDITOR_SP, "appId": AUDITOR_APP, "displayName": "auditor"})
    apps.append(
        {
            "id": _uuid(rng),
            "appId": AUDITOR_APP,
            "displayName": "auditor",
            "passwordCredentials": [
                {
                    "keyId": _uuid(rng),
                    "displayName": "audit",
                    "startDateTime": "2024-01-01T00:00:00Z",
                    "endDateTime": "2099-01-01T00:00:00Z",
                    "hint": "gen",
                    "secretText": None,
                    "x-twin-secretText": AUDITOR_SECRET,
                }
            ],
        }
    )
    return {
        "name": f"generated-{subscriptions}x{per_subscription}x{principals}-seed{seed}",
        "description": "Generated for scale benchmarks (preflight.twin.generate).",
        "target": {"tenantId": tenant},
        "options": {"pageSize": 1000, "graphPageSize": 999},
        "tenant": {"id": tenant, "displayName": "Generated", "defaultDomain": "contoso.onmicrosoft.com"},
        "subscriptions": [{"subscriptionId": s, "displayName": f"sub-{n}"} for n, s in enumerate(subs)],
        "managementGroups": [
            {"id": mg_id, "name": MG, "properties": {"displayName": "Corp"}, "x-twin-subscriptions": subs}
        ],
        "resourceGroups": [{"id": rg, "location": "eastus"} for rg in resource_groups],
        "roleDefinitions": [
            {
                "name": CUSTOM_ROLE,
                "properties": {
                    "roleName": "Generated Operator",
                    "type": "CustomRole",
                    "assignableScopes": ["/"],
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
        "roleAssignments": assignments,
        "directory": {
            "users": users,
            "groups": groups,
            "servicePrincipals": sps,
            "applications": apps,
            "permissions": {AUDITOR_SP: ["Directory.Read.All", "Application.Read.All"]},
        },
        "signIn": {
            "environment": {"clientId": AUDITOR_APP, "tenantId": tenant, "clientSecret": AUDITOR_SECRET},
            "workloadIdentity": None,
            "managedIdentity": None,
            "azureCli": None,
        },
    }
