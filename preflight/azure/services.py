"""Every fact, registered once: the service it talks to and the check that reports its failure.

A fact's name appears in ``@fact(...)``, in ``FactError(...)``, in the ``facts=`` of a ``CheckMeta`` and in the
``reported_by=`` of both; :data:`FACTS` is the one table they must all agree with (``tests/test_fact_registry.py``
checks every name referenced anywhere exists here, and every teller is a check). Providers in this package declare
themselves with :func:`registered_fact`, which reads their ``reported_by`` from here.

The service is said in words, so a check that times out can say what it was waiting for ("timed out after 60 s
waiting for Azure Resource Manager (role-assignments)") instead of just that it timed out. The engine and the
Context know nothing about Azure: :func:`describe_fact` is handed to the Context as its ``describe-fact`` service
by ``preflight.run`` and ``preflight.audit.run``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from preflight.context import Fact, fact

T = TypeVar("T")

ARM = "Azure Resource Manager"
GRAPH = "Microsoft Graph"
SIGN_IN = "sign-in (the Microsoft Entra ID token endpoint or the managed identity endpoint)"
TOKEN = "a token from Microsoft Entra ID (or the managed identity endpoint)"
ARM_OR_GRAPH_QUERY = f"{ARM} / Azure Resource Graph"

#: Tellers that are commands rather than checks (``can-i`` reports its own facts' failures).
COMMANDS = frozenset({"can-i"})


@dataclass(frozen=True, slots=True)
class FactSpec:
    """One fact: the service it calls (None: it calls nothing worth naming, or only other facts) and the check
    that tells its failure itself (None: no check does — a check that needs it and could not decide is ERROR)."""

    service: str | None
    reported_by: str | None = None


FACTS: Mapping[str, FactSpec] = {
    # sign-in
    "cloud": FactSpec("the cloud metadata document (ARM_CLOUD_METADATA_URL)", "signin.chain"),
    "chain-probes": FactSpec(None, "signin.chain"),
    "credential-chain": FactSpec(SIGN_IN, "signin.chain"),
    "credential": FactSpec(SIGN_IN, "signin.chain"),
    "token": FactSpec(TOKEN, "tokens.scope"),
    "principal": FactSpec(TOKEN, "signin.identity"),
    "devtools": FactSpec("the developer tools' sign-in state (Azure CLI, azd)", "signin.tenants"),
    "subscription-tenant": FactSpec(ARM, "tokens.scope"),
    # Azure Resource Manager
    "resource": FactSpec(ARM_OR_GRAPH_QUERY, "resource.endpoint"),
    "profile": FactSpec(None),
    "role-assignments": FactSpec(ARM, "rbac.data-action"),
    "role-definition": FactSpec(ARM),
    "deny-assignments": FactSpec(ARM, "rbac.data-action"),
    "arm-permissions": FactSpec(ARM, "rbac.data-action"),
    "eligible-assignments": FactSpec(ARM, "rbac.data-action"),
    "role-definitions-at": FactSpec(ARM),
    "provider-operations": FactSpec(ARM),
    "management-group-ancestors": FactSpec(ARM),
    "subject": FactSpec(ARM, "rbac.data-action"),
    "assignee": FactSpec(None, "rbac.data-action"),
    "data-access": FactSpec(ARM, "rbac.data-action"),
    "arm:run-credential": FactSpec(ARM),
    "arm:authorization-client": FactSpec(ARM),
    "arm:cognitive-client": FactSpec(ARM),
    "arm:resource-client": FactSpec(ARM),
    "arm:subscription-client": FactSpec(ARM),
    "arm:rest": FactSpec(ARM),
    "deployments": FactSpec(ARM, "app.deployment"),
    # the data plane
    "dataplane-probe": FactSpec(None, "access.probe"),
    # Microsoft Graph
    "graph": FactSpec(None),
    "graph-reader": FactSpec(GRAPH, "signin.chain"),
    "graph-subject": FactSpec(GRAPH, "signin.identity"),
    "directory": FactSpec(GRAPH, "signin.chain"),
    "first-party": FactSpec(GRAPH, "principal.first-party"),
    "client-id-object": FactSpec(GRAPH, "principal.exists"),
    "ca-what-if": FactSpec(None, "access.conditional-access"),
    # the audit
    "audit:arm-client": FactSpec(ARM, "signin.chain"),
    "audit:graph-client": FactSpec(GRAPH, "signin.chain"),
    "audit:assignments": FactSpec(ARM_OR_GRAPH_QUERY, "audit.inventory"),
    "audit:role-definitions": FactSpec(ARM),
    "audit:principals": FactSpec(GRAPH, "audit.inventory"),
    "audit:inventory": FactSpec(f"{ARM} / Azure Resource Graph / {GRAPH}"),
    "audit:app-credentials": FactSpec(GRAPH),
    "audit:classic-administrators": FactSpec(ARM),
}


def registered_fact(name: str) -> Callable[[Callable[..., T]], Fact[T]]:
    """``@fact(name, reported_by=…)`` with the teller read from :data:`FACTS`: a provider declares only its
    name, and an unregistered name fails at import."""
    return fact(name, reported_by=FACTS[name].reported_by)


def describe_fact(name: str) -> str | None:
    """``Azure Resource Manager (role-assignments)`` for a fact name; None for facts that call nothing."""
    spec = FACTS.get(name)
    if spec is None or spec.service is None:
        return None
    return f"{spec.service} ({name})"
