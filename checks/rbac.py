"""rbac.data-action — does a role grant the data actions the intended use needs, at this account?"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity

DOCS = (
    "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",
    "https://learn.microsoft.com/azure/role-based-access-control/role-definitions#control-and-data-actions",
)
PRINCIPAL_TYPES = {"user": "User", "servicePrincipal": "ServicePrincipal", "managedIdentity": "ServicePrincipal"}


class RbacDataAction(Check):
    """Having a token is not enough: the principal needs a role whose *dataActions* cover the call. Owner and
    Contributor grant management actions only, so the inference API answers 401/403 until a data role such as
    Cognitive Services OpenAI User is assigned. One result per required action, naming the granting
    assignment — or what the principal does hold and the exact least-privilege assignment to add."""

    meta = CheckMeta(
        id="rbac.data-action",
        title="Role grants the required data actions",
        severity=Severity.CRITICAL,
        description="Evaluates the principal's role assignments (direct, inherited and through groups) and deny "
        "assignments at the account against the profile's required actions.",
        tags=("rbac",),
        docs=DOCS,
        facts=("resource", "principal", "role-assignments", "role-definition", "deny-assignments"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.access import data_access

        if not (ctx.target.resource_id or ctx.target.endpoint):
            yield self.skipped("no resource given: pass --resource-id or --endpoint", caused_by="resource.endpoint")
            return
        access = ctx.get(data_access)
        who, wanted, scope = access.principal, access.profile, access.scope
        evidence_base: dict[str, Any] = {"principal": who.object_id, "scope": scope, "profile": wanted.name,
                                         "assignments": list(access.held)}
        for requirement, decision in access.decisions:
            evidence = {**evidence_base, "action": requirement.action, "decision": decision.status}
            if decision.status == "granted":
                grant = decision.granted_by[0]
                via = f" via group {grant.via_group}" if grant.via_group else ""
                where = "inherited from " + grant.scope if grant.inherited else "at the account"
                yield self.passed(f"{grant.role_name} ({where}{via}) grants {requirement.action}",
                                  subject=requirement.action, evidence=evidence)
            elif decision.status == "denied":
                names = ", ".join(d.name or d.id for d in decision.denied_by)
                yield self.failed(f"a deny assignment blocks {requirement.action}: {names}",
                                  subject=requirement.action, evidence=evidence,
                                  remediation="deny assignments override every role; they are created by managed "
                                              "applications or Azure Blueprints — ask their owner")
            elif decision.status == "conditional":
                yield self.warned(f"only an assignment with an ABAC condition would grant {requirement.action}: "
                                  "conditional — cannot be evaluated offline", subject=requirement.action,
                                  evidence=evidence)
            else:
                yield self.failed(_not_granted(requirement.action, list(access.held)), subject=requirement.action,
                                  evidence=evidence,
                                  remediation=f"assign the least-privilege role {wanted.role_name} at the account",
                                  commands=[_assign_command(who, wanted.role_id, scope)])


def _not_granted(action: str, held: list[dict[str, Any]]) -> str:
    if not held:
        return f"no role assignment applies to this principal at the account, so nothing grants {action}"
    roles = ", ".join(f"{h['role']} at {h['scope']}" for h in held)
    return f"none of the principal's roles ({roles}) grants {action}; management roles such as Owner or " \
           "Contributor grant no data actions"


def _assign_command(who: Any, role_id: str, scope: str) -> str:
    kind = PRINCIPAL_TYPES.get(who.kind, "ServicePrincipal")
    return (f"az role assignment create --assignee-object-id {who.object_id} --assignee-principal-type {kind} "
            f"--role {role_id} --scope {scope}")
