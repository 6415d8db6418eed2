"""Which Azure service each fact talks to, in words — so a check that times out can say what it was waiting
for ("timed out after 60 s waiting for Azure Resource Manager (role-assignments)") instead of just that it
timed out. The engine and the Context know nothing about Azure: :func:`describe_fact` is handed to the Context
as its ``describe-fact`` service by ``preflight.run`` and ``preflight.audit.run``.
"""

from __future__ import annotations

ARM = "Azure Resource Manager"
GRAPH = "Microsoft Graph"
SIGN_IN = "sign-in (the Microsoft Entra ID token endpoint or the managed identity endpoint)"

_FACTS = {
    "cloud": "the cloud metadata document (ARM_CLOUD_METADATA_URL)",
    "credential-chain": SIGN_IN,
    "credential": SIGN_IN,
    "token": "a token from Microsoft Entra ID (or the managed identity endpoint)",
    "principal": "a token from Microsoft Entra ID (or the managed identity endpoint)",
    "devtools": "the developer tools' sign-in state (Azure CLI, azd)",
    "resource": f"{ARM} / Azure Resource Graph",
    "graph-reader": GRAPH,
    "graph-subject": GRAPH,
    "directory": GRAPH,
    "first-party": GRAPH,
    "audit:principals": GRAPH,
    "audit:app-credentials": GRAPH,
    "audit:graph-client": GRAPH,
    "audit:assignments": f"{ARM} / Azure Resource Graph",
    "audit:inventory": f"{ARM} / Azure Resource Graph / {GRAPH}",
}
_ARM_FACTS = {"subscription-tenant", "role-assignments", "role-definition", "deny-assignments", "arm-permissions",
              "eligible-assignments", "role-definitions-at", "provider-operations", "management-group-ancestors",
              "data-access", "subject", "audit:arm-client", "audit:role-definitions", "audit:classic-administrators"}


def describe_fact(name: str) -> str | None:
    """``Azure Resource Manager (role-assignments)`` for a fact name; None for facts that call nothing."""
    if name in _FACTS:
        return f"{_FACTS[name]} ({name})"
    if name in _ARM_FACTS or name.startswith("arm:"):
        return f"{ARM} ({name})"
    return None
