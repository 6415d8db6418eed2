"""RBAC checks at the target: the data role (rbac.data-action), whether a fresh grant is effective yet
(rbac.propagation), deny assignments (rbac.deny) and over-privileged automation identities
(rbac.least-privilege).

All four read the one shared verdict (fact ``data-access``), so assignments, definitions and deny assignments
are fetched once per run. Roles are recognised by GUID only; names are for display (built-in roles get renamed).
The small decision functions at the bottom are pure, so their rules are tested without Azure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity

if TYPE_CHECKING:
    from preflight.azure.access import DataAccess
    from preflight.profiles import Requirement
    from preflight.rbac import AppliedAssignment, Decision

DOCS = (
    "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",
    "https://learn.microsoft.com/azure/role-based-access-control/role-definitions#control-and-data-actions",
)
PROPAGATION_DOCS = (("https://learn.microsoft.com/azure/role-based-access-control/troubleshooting"
                     "#symptom---role-assignment-changes-are-not-being-detected"),)
DENY_DOCS = ("https://learn.microsoft.com/azure/role-based-access-control/deny-assignments",)
PIM_DOCS = (("https://learn.microsoft.com/entra/id-governance/privileged-identity-management/"
             "pim-resource-roles-activate-your-roles"),)
LEAST_PRIVILEGE_DOCS = (("https://learn.microsoft.com/azure/role-based-access-control/best-practices"
                         "#only-grant-the-access-users-need"),)
PRINCIPAL_TYPES = {"user": "User", "servicePrincipal": "ServicePrincipal", "managedIdentity": "ServicePrincipal"}
PIM_PERMISSION = "Microsoft.Authorization/roleEligibilityScheduleInstances/read"

#: A new assignment can take up to ~10 minutes to reach the data plane (ARM lists it at once).
PROPAGATION_SECONDS = 600
#: Privileged roles, by GUID (the names are display only and may change).
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}
_MG = "/providers/microsoft.management/managementgroups/"


def _no_target(check: Check) -> Result:
    return check.skipped("no resource given: pass --resource-id, --endpoint or --workspace",
                         caused_by="resource.endpoint")


def _has_target(ctx: Context) -> bool:
    from preflight.target import has_target

    return has_target(ctx.target)


class RbacDataAction(Check):
    """Having a token is not enough: the principal needs a role whose *dataActions* cover the call. Owner and
    Contributor grant management actions only, so the inference API answers 401/403 until a data role such as
    Cognitive Services OpenAI User is assigned. One result per required action, naming the granting
    assignment — or what the principal does hold and the exact least-privilege assignment to add; a role that
    is only *eligible* in PIM is reported as "activate it". ARM's own effective-permission computation
    (``Microsoft.Authorization/permissions``) is compared with the verdict; a disagreement is reported."""

    meta = CheckMeta(
        id="rbac.data-action",
        title="Role grants the required data actions",
        severity=Severity.CRITICAL,
        description="Evaluates the principal's role assignments (direct, inherited and through groups) at the "
        "account against the profile's required actions; PIM eligibilities; cross-checked with ARM's "
        "effective permissions.",
        tags=("rbac",),
        docs=DOCS,
        facts=("resource", "principal", "role-assignments", "role-definition", "deny-assignments",
               "arm-permissions", "eligible-assignments"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import after_signin_starts

        after_signin_starts(ctx, needs_target=True)  # own imports after sign-in's (see there)
        from preflight.azure.access import data_access, start_reads
        from preflight.errors import FactError

        if not _has_target(ctx):
            yield _no_target(self)
            return
        start_reads(ctx, permissions=not ctx.target.assignee)  # ARM's own view is read alongside, not after
        try:
            access = ctx.get(data_access)
        except FactError as exc:
            if exc.fact != "assignee":
                raise
            yield self.failed(f"--assignee {ctx.target.assignee}: {exc.message}",
                              remediation="pass an object id, a UPN or an application id from this tenant")
            return
        who, wanted, scope = access.principal, access.profile, access.scope
        evidence_base: dict[str, Any] = {"principal": who.object_id, "scope": scope, "profile": wanted.name,
                                         "assignments": list(access.held)}
        arm_view = _arm_effective(ctx, scope) if access.is_caller else "not asked: ARM computes it for the caller only"
        pim_unreadable: str | None = None
        for requirement, decision in access.decisions:
            evidence = {**evidence_base, "action": requirement.action, "decision": decision.status,
                        "armPermissions": _arm_says(arm_view, requirement)}
            if decision.status == "granted":
                grant = decision.granted_by[0]
                via = f" via group {grant.via_group}" if grant.via_group else ""
                here = "workspace" if "/workspaces/" in scope.lower() else "account"
                where = "inherited from " + grant.scope if grant.inherited else f"at the {here}"
                yield self.passed(f"{grant.role_name} ({where}{via}) grants {requirement.action}",
                                  subject=requirement.action, evidence=evidence)
            elif decision.status == "denied":
                granted = (f" although {decision.granted_by[0].role_name} grants it" if decision.granted_by
                           else "")
                names = ", ".join(d.name or d.id for d in decision.denied_by)
                yield self.failed(f"a deny assignment blocks {requirement.action}{granted} ({names}; see rbac.deny)",
                                  subject=requirement.action, evidence=evidence, caused_by="rbac.deny")
            elif decision.status == "conditional":
                yield self.warned(f"only an assignment with an ABAC condition would grant {requirement.action}: "
                                  "conditional — cannot be evaluated offline", subject=requirement.action,
                                  evidence=evidence)
            else:
                eligible, unreadable = _eligible_grant(ctx, access, requirement)
                pim_unreadable = pim_unreadable or unreadable
                if eligible is not None:
                    yield self.failed(
                        f"'{eligible.role_name}' at {eligible.scope} would grant {requirement.action}, but it is "
                        "only eligible in PIM, not active: activate it in PIM", subject=requirement.action,
                        evidence={**evidence, "eligible": eligible.as_evidence()}, docs=PIM_DOCS,
                        remediation="activate the eligible role (Azure portal → Privileged Identity Management → "
                                    "My roles → Azure resources → Activate), then re-check; activation takes "
                                    "effect within minutes")
                    continue
                yield self.failed(_not_granted(requirement.action, list(access.held), _noun(access.scope)),
                                  subject=requirement.action, evidence=evidence,
                                  remediation=f"assign the least-privilege role {wanted.role_name} at the "
                                              f"{_noun(access.scope)}",
                                  commands=[_assign_command(who, access.principal_type, wanted.role_id, scope)])
        if pim_unreadable:
            yield self.skipped(f"PIM role eligibilities could not be read ({pim_unreadable}): an eligible role "
                               f"that would grant access cannot be ruled out — reading others' needs "
                               f"{PIM_PERMISSION}", subject="pim", docs=PIM_DOCS)
        yield from self._cross_check(access, arm_view)

    def _cross_check(self, access: DataAccess, arm_view: tuple[Any, ...] | str) -> Iterable[Result]:
        """Say when preflight's evaluation and ARM's effective permissions disagree, and what it likely means."""
        if isinstance(arm_view, str):
            return
        for requirement, decision in access.decisions:
            ours = bool(decision.granted_by) or bool(decision.conditional)
            arm = _arm_says(arm_view, requirement)
            if arm == "conditional" or decision.status == "conditional" or ours == (arm == "allowed"):
                continue
            evidence = {"action": requirement.action, "preflight": decision.status, "armPermissions": arm,
                        "scope": access.scope}
            if ours:
                summary = (f"ARM's effective permissions at the {_noun(access.scope)} do not include "
                           f"{requirement.action}, "
                           f"although {decision.granted_by[0].role_name} appears to grant it")
                meaning = ("ARM's own computation is authoritative: the grant is probably through a group "
                           "membership ARM does not count yet, or the role definition changed since it was "
                           "read — sign in again (az login) and re-check")
            else:
                summary = (f"ARM says your effective permissions include {requirement.action}, but no role "
                           "assignment preflight could read grants it")
                meaning = ("an assignment preflight cannot list probably grants it: one at a scope where you "
                           "lack roleAssignments/read, a cross-tenant (Lighthouse) delegation, or a classic "
                           "administrator")
            yield self.warned(summary, subject=f"effective-permissions:{requirement.action}", evidence=evidence,
                              remediation=meaning)


def _arm_effective(ctx: Context, scope: str) -> tuple[Any, ...] | str:
    """ARM's permission blocks for the caller at the account, or why they are unavailable (a string)."""
    from preflight.azure.arm import arm_permissions
    from preflight.errors import FactError
    from preflight.rbac import Permission

    try:
        return tuple(Permission.from_arm(block) for block in ctx.get(arm_permissions, scope))
    except FactError as exc:
        return f"unavailable: {exc.message}"


def _arm_says(arm_view: tuple[Any, ...] | str, requirement: Requirement) -> str:
    """``allowed`` / ``not-allowed`` / ``conditional`` per ARM's blocks (or the reason they are unavailable)."""
    from preflight.rbac import permission_grants

    if isinstance(arm_view, str):
        return arm_view
    granting = [p for p in arm_view if permission_grants(p, requirement.action, data=requirement.data)]
    if any(p.condition is None for p in granting):
        return "allowed"
    return "conditional" if granting else "not-allowed"


def _eligible_grant(ctx: Context, access: DataAccess,
                    requirement: Requirement) -> tuple[AppliedAssignment | None, str | None]:
    """The PIM eligibility that would grant the action once activated, or why eligibilities are unreadable."""
    from preflight.azure.arm import eligible_assignments, role_definition
    from preflight.errors import FactError
    from preflight.rbac import RoleAssignment, RoleDefinition, evaluate

    try:
        raw = ctx.get(eligible_assignments, access.scope, None if access.is_caller else access.principal.object_id)
        eligible = [RoleAssignment.from_arm(item) for item in raw]
        known = {d.guid for d in access.definitions}
        definitions = list(access.definitions) + [
            RoleDefinition.from_arm(ctx.get(role_definition, a.role_definition_id))
            for a in {a.role_guid: a for a in eligible if a.role_guid not in known}.values()]
    except FactError as exc:
        return None, exc.message
    decision = evaluate(requirement.action, access.scope, access.principal_ids, eligible, definitions,
                        data_action=requirement.data, mg_ancestry=access.mg_ancestry)
    return (decision.granted_by[0] if decision.granted_by else None), None


def _noun(scope: str) -> str:
    """What the target is called in messages: an Azure ML workspace or a Cognitive Services account."""
    return "workspace" if "/microsoft.machinelearningservices/workspaces/" in scope.lower() else "account"


def _not_granted(action: str, held: list[Mapping[str, Any]], noun: str = "account") -> str:
    if not held:
        return f"no role assignment applies to this principal at the {noun}, so nothing grants {action}"
    roles = ", ".join(f"{h['role']} at {h['scope']}" for h in held)
    return f"none of the principal's roles ({roles}) grants {action}; management roles such as Owner or " \
           "Contributor grant no data actions"


def _assign_command(who: Any, arm_type: str, role_id: str, scope: str) -> str:
    kind = arm_type if arm_type in ("User", "Group", "ServicePrincipal") else PRINCIPAL_TYPES.get(who.kind,
                                                                                                "ServicePrincipal")
    return (f"az role assignment create --assignee-object-id {who.object_id} --assignee-principal-type {kind} "
            f"--role {role_id} --scope {scope}")


class RbacPropagation(Check):
    """ARM lists a new role assignment at once, but the data plane and token caches learn it later: a grant
    made minutes ago, data actions granted at management-group scope, or a managed identity that gets the
    role through a group (its group membership is cached for up to ~24 h) all produce 401/403 that look like a
    missing role. WARN so nobody adds a second assignment; ``--wait`` re-checks until it clears."""

    meta = CheckMeta(
        id="rbac.propagation",
        title="Role assignment is effective (propagated)",
        severity=Severity.MEDIUM,
        description="WARN when every assignment that grants a required action may not be effective yet: "
        "created < 10 minutes ago, at management-group scope, or to a group of a managed identity.",
        tags=("rbac",),
        docs=PROPAGATION_DOCS,
        facts=("resource", "principal", "role-assignments", "role-definition", "deny-assignments"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import after_signin_starts

        after_signin_starts(ctx, needs_target=True)  # own imports after sign-in's (see there)
        from preflight.azure.access import data_access

        if not _has_target(ctx):
            yield _no_target(self)
            return
        access = ctx.get(data_access)
        granted = [(r, d) for r, d in access.decisions if d.granted_by]
        if not granted:
            yield self.skipped("nothing grants the required actions yet, so there is nothing to propagate",
                               caused_by="rbac.data-action")
            return
        now = time.time()
        pending: list[str] = []
        evidence: dict[str, Any] = {"principal": access.principal.object_id, "kind": access.principal.kind}
        for requirement, decision in granted:
            concerns = settled_or_concerns(decision, access.principal.kind, now)
            if concerns:
                pending.extend(c for c in concerns if c not in pending)
                evidence[requirement.action] = concerns
        if pending:
            yield self.warned("the assignment that grants access may not be effective yet: " + "; ".join(pending),
                              evidence=evidence,
                              remediation="wait (up to 10 minutes for a new assignment; longer at management-group "
                                          "scope or through a managed identity's group) — do not add another "
                                          "assignment; in CI, re-check with --wait",
                              commands=["preflight check --wait 10m"])
        else:
            yield self.passed("the granting assignments are established (older than 10 minutes, not only at "
                              "management-group scope or through a managed identity's group)", evidence=evidence)


def settled_or_concerns(decision: Decision, principal_kind: str, now: float) -> list[str]:
    """Why the decision's grant may not be effective yet; empty when at least one granting assignment is
    settled (one settled grant is enough). Pure."""
    concerns: list[list[str]] = []
    for grant in decision.granted_by:
        mine = grant_concerns(grant, principal_kind, now, data_action=decision.data_action)
        if not mine:
            return []
        concerns.append(mine)
    return [c for group in concerns for c in group]


def grant_concerns(grant: AppliedAssignment, principal_kind: str, now: float, *, data_action: bool) -> list[str]:
    """The reasons one granting assignment may not be effective yet. Pure."""
    found: list[str] = []
    created = parse_time(grant.assignment.created_on)
    if created is not None and now - created < PROPAGATION_SECONDS:
        found.append(f"'{grant.role_name}' was assigned {max(0, int(now - created))} s ago (allow up to 10 minutes)")
    if data_action and _MG in grant.scope.lower():
        found.append(f"'{grant.role_name}' grants data actions from management group {grant.scope} (can take hours "
                     "to take effect on the data plane)")
    if principal_kind == "managedIdentity" and grant.via_group:
        found.append(f"'{grant.role_name}' reaches this managed identity through group {grant.via_group} (its group "
                     "membership is cached in tokens for up to 24 hours)")
    return found


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_time(text: str | None) -> float | None:
    """ARM timestamps (``2024-05-01T10:00:00.0000000Z``, 7 fractional digits) as epoch seconds; None if absent
    or unreadable."""
    if not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class RbacDeny(Check):
    """A deny assignment beats every role: people then add roles that can never work. Name the deny
    assignment, its scope and who usually owns it (a managed application or a Blueprint / deployment stack)."""

    meta = CheckMeta(
        id="rbac.deny",
        title="No deny assignment blocks the required actions",
        severity=Severity.CRITICAL,
        description="FAIL, naming it, when a deny assignment at or above the account blocks a required action "
        "for the principal or one of its groups.",
        tags=("rbac",),
        docs=DENY_DOCS,
        facts=("resource", "principal", "role-assignments", "deny-assignments"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import after_signin_starts

        after_signin_starts(ctx, needs_target=True)  # own imports after sign-in's (see there)
        from preflight.azure.access import data_access

        if not _has_target(ctx):
            yield _no_target(self)
            return
        access = ctx.get(data_access)
        blocked = [(r, d) for r, d in access.decisions if d.status == "denied"]
        for requirement, decision in blocked:
            for deny in decision.denied_by:
                owner = ("it is system-protected (created by a managed application, Azure Blueprints or a "
                         "deployment stack) — only its owner can change it" if deny.is_system_protected
                         else "remove it or add this principal to its excludePrincipals")
                yield self.failed(f"deny assignment '{deny.name or deny.id}' at {deny.scope} blocks "
                                  f"{requirement.action}", subject=requirement.action,
                                  evidence={"denyAssignment": deny.id, "name": deny.name, "scope": deny.scope,
                                            "description": deny.description,
                                            "isSystemProtected": deny.is_system_protected,
                                            "action": requirement.action},
                                  remediation=f"deny assignments override every role; {owner}")
        if not blocked:
            yield self.passed(f"no deny assignment blocks the {len(access.decisions)} required action(s) at the "
                              f"{_noun(access.scope)}", evidence={"scope": access.scope})


class RbacLeastPrivilege(Check):
    """Automation identities (service principals, managed identities) holding Owner, Contributor or User
    Access Administrator on a whole subscription or management group turn one leaked secret into a tenant
    incident. Seed guidance: grant the minimum the task needs — here, a data role on the account."""

    meta = CheckMeta(
        id="rbac.least-privilege",
        title="Automation identity is not over-privileged",
        severity=Severity.MEDIUM,
        description="WARN when a service principal or managed identity holds Owner, Contributor or User Access "
        "Administrator (by role GUID) at subscription or management-group scope.",
        tags=("rbac",),
        docs=LEAST_PRIVILEGE_DOCS,
        facts=("principal", "role-assignments"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import after_signin_starts

        after_signin_starts(ctx)  # own imports after sign-in's (see there)
        from preflight.azure.access import rbac_scope, subject
        from preflight.azure.arm import role_assignments
        from preflight.rbac import RoleAssignment

        whom = ctx.get(subject)
        who = whom.info
        if whom.arm_type != "ServicePrincipal":
            yield self.passed(f"the principal is a {whom.arm_type.lower()}: this check is about service principals "
                              "and managed identities", evidence={"kind": whom.arm_type})
            return
        if _has_target(ctx):
            scope = rbac_scope(ctx)  # the key data_access reads them by: one request for both
        elif ctx.target.subscription_id:
            scope = f"/subscriptions/{ctx.target.subscription_id}"
        else:
            yield self.skipped("no resource or subscription given to look for broad assignments",
                               caused_by="resource.endpoint")
            return
        assignments = [RoleAssignment.from_arm(a) for a in ctx.get(role_assignments, scope, who.object_id)]
        findings = broad_privileged(assignments, who.object_id or "")
        kind = "managed identity" if who.kind == "managedIdentity" else "service principal"
        if not findings:
            yield self.passed(f"this {kind} holds no Owner, Contributor or User Access Administrator at "
                              "subscription or management-group scope", evidence={"scope": scope})
            return
        for assignment, role_name in findings:
            via = f" via group {assignment.principal_id}" if assignment.principal_id != (who.object_id or "").lower() \
                else ""
            yield self.warned(f"this {kind} holds {role_name} at {assignment.scope}{via}: far more than calling the "
                              "model needs", subject=assignment.id or assignment.scope,
                              evidence={"roleAssignmentId": assignment.id,
                                        "roleDefinitionId": assignment.role_definition_id, "roleName": role_name,
                                        "scope": assignment.scope},
                              remediation="grant the minimum the task needs (a data role such as Cognitive Services "
                                          "OpenAI User on the account) and remove the broad assignment",
                              commands=[f"az role assignment delete --ids {assignment.id}"] if assignment.id else [])


def broad_privileged(assignments: Sequence[Any], principal_id: str) -> list[tuple[Any, str]]:
    """Assignments of a privileged role (by GUID) at the tenant root, a management group or a subscription.
    Pure; ``assignments`` are :class:`preflight.rbac.RoleAssignment`."""
    found = []
    for assignment in assignments:
        name = PRIVILEGED_ROLES.get(assignment.role_guid)
        if name is None:
            continue
        parts = [p for p in assignment.scope.lower().split("/") if p]
        broad = (not parts or _MG in assignment.scope.lower() + "/"
                 or (len(parts) == 2 and parts[0] == "subscriptions"))
        if broad:
            found.append((assignment, name))
    return found
