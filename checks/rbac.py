"""RBAC checks at the target: the data role (rbac.data-action), whether a fresh grant is effective yet
(rbac.propagation), deny assignments (rbac.deny) and over-privileged automation identities
(rbac.least-privilege).

All four read the one shared verdict (fact ``data-access``), so assignments, definitions and deny assignments
are fetched once per run. Roles are recognised by GUID only; names are for display (built-in roles get renamed).
The small decision functions at the bottom are pure, so their rules are tested without Azure.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from preflight.azure.prerequisites import SIGNIN, TARGET
from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity, Status
from preflight.timestamps import parse_time

if TYPE_CHECKING:
    from preflight.azure.access import DataAccess
    from preflight.profiles import Requirement
    from preflight.rbac import AppliedAssignment, Decision
    from preflight.verdict import Unread, Verdict

DOCS = (
    "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",
    "https://learn.microsoft.com/azure/role-based-access-control/role-definitions#control-and-data-actions",
)
PROPAGATION_DOCS = (
    (
        "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting"
        "#symptom---role-assignment-changes-are-not-being-detected"
    ),
)
DENY_DOCS = ("https://learn.microsoft.com/azure/role-based-access-control/deny-assignments",)
PIM_DOCS = (
    (
        "https://learn.microsoft.com/entra/id-governance/privileged-identity-management/"
        "pim-resource-roles-activate-your-roles"
    ),
)
LEAST_PRIVILEGE_DOCS = (
    ("https://learn.microsoft.com/azure/role-based-access-control/best-practices#only-grant-the-access-users-need"),
)
PRINCIPAL_TYPES = {"user": "User", "servicePrincipal": "ServicePrincipal", "managedIdentity": "ServicePrincipal"}
PIM_PERMISSION = "Microsoft.Authorization/roleEligibilityScheduleInstances/read"
READ_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments/read"
ASSIGN_ROLES = "Microsoft.Authorization/roleAssignments/write"

#: A new assignment can take up to ~10 minutes to reach the data plane (ARM lists it at once).
PROPAGATION_SECONDS = 600
#: A managed identity's token (and the group membership in it) is cached for up to 24 hours: a grant through a
#: group older than that has been seen by every token since (https://learn.microsoft.com/entra/identity/
#: managed-identities-azure-resources/managed-identity-best-practice-recommendations#limitation-of-using-managed-identities-for-authorization).  # noqa: E501
GROUP_CACHE_SECONDS = 24 * 3600
#: Privileged roles, by GUID (the names are display only and may change).
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}
_MG = "/providers/microsoft.management/managementgroups/"


def _has_target(ctx: Context) -> bool:
    from preflight.target import has_target

    return has_target(ctx.target)


class RbacDataAction(Check):
    """Having a token is not enough: the principal needs a role whose *dataActions* cover the call. Owner and
    Contributor grant management actions only, so the inference API answers 401/403 until a data role such as
    Cognitive Services OpenAI User is assigned. One result per required action, naming the granting
    assignment — or what the principal does hold and the exact least-privilege assignment to add; a role that
    is only *eligible* in PIM is reported as "activate it". The verdict comes from every source the identity
    can read (:mod:`preflight.verdict`): a least-privilege identity that cannot list assignments or deny
    assignments is still answered, from ARM's own effective permissions; sources that disagree are reported;
    nothing readable is an ERROR, never a pass."""

    meta = CheckMeta(
        id="rbac.data-action",
        title="Role grants the required data actions",
        severity=Severity.CRITICAL,
        description="Decides the profile's required actions from every readable source: ARM's effective "
        "permissions, the role assignments (direct, inherited, through groups) and definitions, deny assignments, "
        "the --probe answer; PIM eligibilities.",
        tags=("rbac",),
        docs=DOCS,
        facts=(
            "resource",
            "principal",
            "role-assignments",
            "role-definition",
            "deny-assignments",
            "arm-permissions",
            "eligible-assignments",
        ),
        requires=(TARGET, SIGNIN),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.access import data_access, start_reads
        from preflight.errors import FactError

        start_reads(ctx, permissions=not ctx.target.assignee)  # ARM's own view is read alongside, not after
        try:
            access = ctx.get(data_access)
        except FactError as exc:
            if exc.fact != "assignee":
                raise
            yield self.failed(
                f"--assignee {ctx.target.assignee}: {exc.message}",
                remediation="pass an object id, a UPN or an application id from this tenant",
            )
            return
        undecided = [(r, v) for r, v in access.verdicts if v.status == "undecided"]
        pim_unreadable: str | None = None
        for requirement, verdict in access.verdicts:
            if verdict.status == "granted":
                yield self._granted(access, requirement, verdict)
            elif verdict.status == "denied":
                yield self._denied(access, requirement, verdict)
            elif verdict.status == "conditional":
                yield self.warned(
                    f"only an assignment with an ABAC condition would grant {requirement.action}: "
                    "conditional — cannot be evaluated offline",
                    subject=requirement.action,
                    evidence=self._evidence(access, requirement, verdict),
                )
            elif verdict.status == "disputed":
                yield self._disputed(access, requirement, verdict)
            elif verdict.status == "not-granted":
                result, unreadable = self._not_granted(ctx, access, requirement, verdict)
                pim_unreadable = pim_unreadable or unreadable
                yield result
        if undecided:
            yield self._undecided(access, undecided)
        if pim_unreadable:
            yield self.warned(
                f"PIM role eligibilities could not be read ({pim_unreadable}): an eligible role "
                f"that would grant access cannot be ruled out — reading others' needs "
                f"{PIM_PERMISSION}",
                subject="pim",
                docs=PIM_DOCS,
            )

    @staticmethod
    def _evidence(access: DataAccess, requirement: Requirement, verdict: Verdict) -> dict[str, Any]:
        """What every per-action result carries: who, where, what each source said, what could not be read."""
        return {
            "principal": access.principal.object_id,
            "scope": access.scope,
            "profile": access.profile.name,
            "action": requirement.action,
            "verdict": verdict.status,
            "decidedBy": list(verdict.decided_by),
            "assignments": list(access.held) if access.assignments_read else "not readable",
            "roleAssignments": verdict.decision.status if verdict.decision else None,
            "armPermissions": verdict.effective
            if access.is_caller
            else "not asked: ARM computes it for the caller only",
            "unread": [{"source": u.source, "permission": u.permission, "reason": u.reason} for u in verdict.unread],
        }

    def _granted(self, access: DataAccess, requirement: Requirement, verdict: Verdict) -> Result:
        noun = _noun(access.scope)
        if verdict.decision is not None and verdict.decision.granted_by:
            grant = verdict.decision.granted_by[0]
            via = f" via group {grant.via_group}" if grant.via_group else ""
            where = "inherited from " + grant.scope if grant.inherited else f"at the {noun}"
            summary = f"{grant.role_name} ({where}{via}) grants {requirement.action}"
        elif verdict.effective == "allowed":
            summary = (
                f"your effective permissions at the {noun} include {requirement.action} (which "
                f"assignment grants it is not readable: needs {READ_ASSIGNMENTS})"
            )
        else:  # only the data plane could decide: its 200 is the proof
            summary = (
                f"the data plane accepted the token for {requirement.action} (see access.probe); no other "
                "source could be read"
            )
        if not verdict.deny_checked:
            summary += "; deny assignments could not be read (see rbac.deny)"
        return self.passed(summary, subject=requirement.action, evidence=self._evidence(access, requirement, verdict))

    def _denied(self, access: DataAccess, requirement: Requirement, verdict: Verdict) -> Result:
        decision = verdict.decision  # only a deny list that was read can deny: the decision is there
        granted = f" although {decision.granted_by[0].role_name} grants it" if decision and decision.granted_by else ""
        names = ", ".join(d.name or d.id for d in (decision.denied_by if decision else ()))
        return self.failed(
            f"a deny assignment blocks {requirement.action}{granted} ({names}; see rbac.deny)",
            subject=requirement.action,
            evidence=self._evidence(access, requirement, verdict),
            caused_by="rbac.deny",
        )

    def _disputed(self, access: DataAccess, requirement: Requirement, verdict: Verdict) -> Result:
        """The role assignments and ARM's own computation disagree: say both, and what it likely means."""
        decision = verdict.decision
        noun = _noun(access.scope)
        if decision is not None and decision.granted_by:
            summary = (
                f"ARM's effective permissions at the {noun} do not include {requirement.action}, "
                f"although {decision.granted_by[0].role_name} appears to grant it"
            )
            meaning = (
                "ARM's own computation is authoritative: the grant is probably through a group "
                "membership ARM does not count yet, or the role definition changed since it was "
                "read — sign in again (az login) and re-check"
            )
        else:
            summary = (
                f"ARM says your effective permissions include {requirement.action}, but no role "
                "assignment preflight could read grants it"
            )
            meaning = (
                "an assignment preflight cannot list probably grants it: one at a scope where you "
                "lack roleAssignments/read, a cross-tenant (Lighthouse) delegation, or a classic "
                "administrator"
            )
        return self.warned(
            summary,
            subject=requirement.action,
            evidence=self._evidence(access, requirement, verdict),
            remediation=meaning,
        )

    def _not_granted(
        self, ctx: Context, access: DataAccess, requirement: Requirement, verdict: Verdict
    ) -> tuple[Result, str | None]:
        """FAIL: nothing grants the action — an eligible PIM role to activate, else the assignment to add (never
        a role the principal already holds at or above the target)."""
        evidence = self._evidence(access, requirement, verdict)
        eligible, unreadable = _eligible_grant(ctx, access, requirement)
        if eligible is not None:
            return self.failed(
                f"'{eligible.role_name}' at {eligible.scope} would grant {requirement.action}, but it is "
                "only eligible in PIM, not active: activate it in PIM",
                subject=requirement.action,
                evidence={**evidence, "eligible": eligible.as_evidence()},
                docs=PIM_DOCS,
                remediation="activate the eligible role (Azure portal → Privileged Identity Management → "
                "My roles → Azure resources → Activate), then re-check; activation takes "
                "effect within minutes",
            ), unreadable
        wanted, noun = access.profile, _noun(access.scope)
        if access.assignments_read:
            summary = _not_granted(requirement.action, list(access.held), noun)
        else:
            summary = (
                f"your effective permissions at the {noun} (ARM's Microsoft.Authorization/permissions) do "
                f"not include {requirement.action}: no role you hold grants it"
            )
        held = _held_role(access, wanted.role_id)
        if held is not None:
            return self.failed(
                summary,
                subject=requirement.action,
                evidence=evidence,
                remediation=f"you already hold {wanted.role_name} at {held}, yet it does not grant "
                f"{requirement.action} here: check for a custom role with this name, or "
                "ask the data plane with --probe",
            ), unreadable
        return self.failed(
            summary,
            subject=requirement.action,
            evidence=evidence,
            remediation=f"assign the least-privilege role {wanted.role_name} at the {noun} (this grants the "
            f"principal that role's actions on this {noun} only: the narrowest role and scope that allow it)",
            commands=[_assign_command(access.principal, access.principal_type, wanted.role_id, access.scope)],
        ), unreadable

    def _undecided(self, access: DataAccess, undecided: list[tuple[Requirement, Verdict]]) -> Result:
        """ERROR, once for every action no source could decide: which reads failed and what would allow them."""
        actions = [r.action for r, _ in undecided]
        unread = undecided[0][1].unread
        reasons = "; ".join(u.describe() for u in unread) or "no source could be read"
        refused = [u.permission for u in unread if u.permission]
        if refused and not access.is_caller:
            fix = (
                f"reading another principal's access needs {' and '.join(refused)} at the "
                f"{_noun(access.scope)} (e.g. the Reader role), or ask that principal to run preflight"
            )
        elif refused:
            fix = _verify_hint(access.scope, f"ask for {' or '.join(refused)} at the {_noun(access.scope)}")
        else:
            fix = "re-run later; if it persists, check the network path to Azure Resource Manager"
        return self.result(
            Status.ERROR,
            f"could not decide whether anything grants {', '.join(actions)}: {reasons}",
            subject=actions[0] if len(actions) == 1 else "verdict",
            evidence={
                "actions": actions,
                "scope": access.scope,
                "unread": [{"source": u.source, "permission": u.permission, "reason": u.reason} for u in unread],
            },
            remediation=fix,
        )


def _held_role(access: DataAccess, role_id: str) -> str | None:
    """The scope at or above the target where the principal already holds the role (by GUID), else None."""
    from preflight.rbac import role_definition_guid, scope_contains

    guid = role_definition_guid(role_id)
    for item in access.held:
        if item.get("role_id") == guid and scope_contains(str(item["scope"]), access.scope, access.mg_ancestry):
            return str(item["scope"])
    return None


def _eligible_grant(
    ctx: Context, access: DataAccess, requirement: Requirement
) -> tuple[AppliedAssignment | None, str | None]:
    """The PIM eligibility that would grant the action once activated, or why eligibilities are unreadable."""
    from preflight.azure.arm import definition_at, eligible_assignments, role_definition
    from preflight.errors import FactError
    from preflight.rbac import RoleAssignment, RoleDefinition, evaluate

    try:
        raw = ctx.get(eligible_assignments, access.scope, None if access.is_caller else access.principal.object_id)
        eligible = [RoleAssignment.from_arm(item) for item in raw]
        known = {d.guid for d in access.definitions}
        definitions = list(access.definitions) + [
            RoleDefinition.from_arm(ctx.get(role_definition, definition_at(access.scope, a.role_definition_id)))
            for a in {a.role_guid: a for a in eligible if a.role_guid not in known}.values()
        ]
    except FactError as exc:
        return None, exc.message
    decision = evaluate(
        requirement.action,
        access.scope,
        access.principal_ids,
        eligible,
        definitions,
        data_action=requirement.data,
        mg_ancestry=access.mg_ancestry,
    )
    return (decision.granted_by[0] if decision.granted_by else None), None


def _noun(scope: str) -> str:
    """What the target is called in messages: an Azure ML workspace or a Cognitive Services account."""
    return "workspace" if "/microsoft.machinelearningservices/workspaces/" in scope.lower() else "account"


def _not_granted(action: str, held: list[Mapping[str, Any]], noun: str = "account") -> str:
    if not held:
        return f"no role assignment applies to this principal at the {noun}, so nothing grants {action}"
    roles = ", ".join(f"{h['role']} at {h['scope']}" for h in held)
    return (
        f"none of the principal's roles ({roles}) grants {action}; management roles such as Owner or "
        "Contributor grant no data actions"
    )


def _assign_command(who: Any, arm_type: str, role_id: str, scope: str) -> str:
    kind = (
        arm_type
        if arm_type in ("User", "Group", "ServicePrincipal")
        else PRINCIPAL_TYPES.get(who.kind, "ServicePrincipal")
    )
    return (
        f"az role assignment create --assignee-object-id {who.object_id} --assignee-principal-type {kind} "
        f"--role {role_id} --scope {scope}"
    )


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
        requires=(TARGET, SIGNIN),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.access import data_access

        access = ctx.get(data_access)
        granted = [(r, v) for r, v in access.verdicts if v.status in ("granted", "disputed")]
        if not granted:
            yield self.skipped(
                "nothing grants the required actions yet, so there is nothing to propagate",
                caused_by="rbac.data-action",
            )
            return
        unnamed = [r.action for r, v in granted if v.decision is None or not v.decision.granted_by]
        if (unnamed or self._pending(access, granted)) and _probe_accepted(ctx):
            # only asked when the ages leave a doubt: a settled run never waits for the probe
            yield self.passed(
                "the data plane already accepts the token (see access.probe): the grant is effective",
                evidence={"principal": access.principal.object_id},
            )
            return
        if unnamed:
            yield self.warned(
                f"which assignment grants {', '.join(unnamed)} could not be read (needs "
                f"{READ_ASSIGNMENTS}), so whether it is recent is unknown",
                subject="age",
                evidence={"actions": unnamed, "scope": access.scope},
                remediation=_verify_hint(
                    access.scope, f"{READ_ASSIGNMENTS} (e.g. Reader) shows the assignment and its age"
                ),
            )
        evidence: dict[str, Any] = {"principal": access.principal.object_id, "kind": access.principal.kind}
        by_action = self._pending(access, granted)
        pending = list(dict.fromkeys(c for concerns in by_action.values() for c in concerns))
        evidence.update(by_action)
        if pending:
            yield self.warned(
                "the assignment that grants access may not be effective yet: " + "; ".join(pending),
                evidence=evidence,
                remediation="wait (up to 10 minutes for a new assignment; longer at management-group "
                "scope or through a managed identity's group) — do not add another "
                "assignment; in CI, re-check with --wait",
                commands=["preflight check --wait 10m"],
            )
        elif len(unnamed) < len(granted):
            yield self.passed(
                "the granting assignments are established (older than 10 minutes, not only at "
                "management-group scope or through a managed identity's group)",
                evidence=evidence,
            )

    @staticmethod
    def _pending(access: DataAccess, granted: list[tuple[Requirement, Verdict]]) -> dict[str, list[str]]:
        """The propagation concerns per granted action whose granting assignments are known (pure)."""
        now = time.time()
        found: dict[str, list[str]] = {}
        for requirement, verdict in granted:
            if verdict.decision is not None and verdict.decision.granted_by:
                concerns = settled_or_concerns(verdict.decision, access.principal.kind, now)
                if concerns:
                    found[requirement.action] = concerns
        return found


def _verify_hint(scope: str, read: str) -> str:
    """How to settle what an unreadable source leaves open: the data-plane probe where there is one (an Azure
    OpenAI account), else the read that would show it."""
    if _noun(scope) == "account":
        return f"run with --probe (the data plane's answer settles it for the read it makes), or {read}"
    return read


def _probe_accepted(ctx: Context) -> bool:
    """Whether this run's data-plane probe (``--probe``) got a 200: the one proof that needs no guessing from
    assignment ages."""
    from preflight.azure.probe import probe_says

    return probe_says(ctx) == "allowed"


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
        found.append(
            f"'{grant.role_name}' grants data actions from management group {grant.scope} (can take hours "
            "to take effect on the data plane)"
        )
    if (
        principal_kind == "managedIdentity"
        and grant.via_group
        and (created is None or now - created < GROUP_CACHE_SECONDS)
    ):
        found.append(
            f"'{grant.role_name}' reaches this managed identity through group {grant.via_group} (its group "
            "membership is cached in tokens for up to 24 hours)"
        )
    return found


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
        requires=(TARGET, SIGNIN),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.access import data_access

        access = ctx.get(data_access)
        unread = next((u for u in access.unread if u.source == "deny-assignments"), None)
        if unread is not None:
            yield self._unreadable(access, unread)
            return
        blocked = [(r, v.decision) for r, v in access.verdicts if v.status == "denied" and v.decision]
        for requirement, decision in blocked:
            for deny in decision.denied_by:
                owner = (
                    "it is system-protected (created by a managed application, Azure Blueprints or a "
                    "deployment stack) — only its owner can change it"
                    if deny.is_system_protected
                    else "remove it or add this principal to its excludePrincipals"
                )
                yield self.failed(
                    f"deny assignment '{deny.name or deny.id}' at {deny.scope} blocks {requirement.action}",
                    subject=requirement.action,
                    evidence={
                        "denyAssignment": deny.id,
                        "name": deny.name,
                        "scope": deny.scope,
                        "description": deny.description,
                        "isSystemProtected": deny.is_system_protected,
                        "action": requirement.action,
                    },
                    remediation=f"deny assignments override every role; {owner}",
                )
        if not blocked:
            yield self.passed(
                f"no deny assignment blocks the {len(access.verdicts)} required action(s) at the {_noun(access.scope)}",
                evidence={"scope": access.scope},
            )

    def _unreadable(self, access: DataAccess, unread: Unread) -> Result:
        """The deny list could not be read. When nothing grants the actions anyway, a deny changes nothing
        (it only subtracts); otherwise say what is unknown and why it is rare — a WARN, never a pass."""
        if all(v.status in ("not-granted", "undecided") for _, v in access.verdicts):
            return self.skipped(
                "nothing grants the required actions, so no deny assignment can matter", caused_by="rbac.data-action"
            )
        why = f"needs {unread.permission}" if unread.permission else unread.reason
        return self.warned(
            f"deny assignments at the {_noun(access.scope)} could not be read ({why}); the role "
            "grants access unless one applies",
            evidence={"scope": access.scope, "reason": unread.reason},
            remediation="deny assignments come from managed applications, deployment stacks, Azure Blueprints "
            "or an administrator's user-assigned deny assignment (preview), so one is uncommon; "
            + _verify_hint(access.scope, "Microsoft.Authorization/denyAssignments/read (e.g. Reader) lists them"),
        )


class RbacLeastPrivilege(Check):
    """Automation identities (service principals, managed identities) holding Owner, Contributor, User Access
    Administrator or Role Based Access Control Administrator turn one leaked secret into an incident: they can
    delete the resource or grant themselves (or anyone) more. The guides warn against it at *any* scope the
    identity's work reaches — the resource itself, its resource group, the subscription or a management group —
    so all four are flagged, each with the two-step fix: assign the profile's narrow role, then remove the broad
    assignment (in that order, so the pipeline never loses access in between)."""

    meta = CheckMeta(
        id="rbac.least-privilege",
        title="Automation identity is not over-privileged",
        severity=Severity.MEDIUM,
        description="WARN when a service principal or managed identity holds Owner, Contributor, User Access "
        "Administrator or Role Based Access Control Administrator (by role GUID) at the target resource, its "
        "resource group, subscription or a management group; the fix names the profile's least-privilege role.",
        tags=("rbac",),
        docs=LEAST_PRIVILEGE_DOCS,
        facts=("principal", "role-assignments", "arm-permissions", "profile"),
        requires=(SIGNIN,),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.access import rbac_scope, subject
        from preflight.azure.arm import profile, role_assignments
        from preflight.errors import FactError
        from preflight.rbac import RoleAssignment

        whom = ctx.get(subject)
        who = whom.info
        if whom.arm_type != "ServicePrincipal":
            yield self.passed(
                f"the principal is a {whom.arm_type.lower()}: this check is about service principals "
                "and managed identities",
                evidence={"kind": whom.arm_type},
            )
            return
        resource: str | None = None
        if _has_target(ctx):
            scope = resource = rbac_scope(ctx)  # the key data_access reads them by: one request for both
        elif ctx.target.subscription_id:
            scope = f"/subscriptions/{ctx.target.subscription_id}"
        else:
            yield self.skipped(
                "no resource or subscription given to look for broad assignments", caused_by="resource.endpoint"
            )
            return
        kind = "managed identity" if who.kind == "managedIdentity" else "service principal"
        try:
            listed = ctx.get(role_assignments, scope, who.object_id)
        except FactError:  # e.g. AzureML Data Scientist alone reads no role assignments: its own permissions decide
            if resource is None or not whom.is_caller:
                raise
            yield self._from_permissions(ctx, kind, resource)
            return
        assignments = [RoleAssignment.from_arm(a) for a in listed]
        findings = over_privileged(assignments, scope)
        if not findings:
            yield self.passed(
                f"this {kind} holds no Owner, Contributor, User Access Administrator or Role Based Access "
                f"Control Administrator at {_where(scope, scope)} or above",
                evidence={"scope": scope},
            )
            return
        narrow = ctx.get(profile)
        holds_narrow = any(a.role_guid == narrow.role_id.lower() and _at_or_above(a.scope, scope) for a in assignments)
        for assignment, role_name in findings:
            yield self._finding(who, whom.arm_type, kind, assignment, role_name, scope, resource, narrow, holds_narrow)

    def _from_permissions(self, ctx: Context, kind: str, resource: str) -> Result:
        """Role assignments unreadable: ARM's effective permissions for the caller at the resource (anyone may read
        their own: learn.microsoft.com/rest/api/authorization/permissions/list-for-resource) include every
        assignment at or above it, so they decide whether a broad role is held — ``*`` (Owner, Contributor) or the
        right to assign roles (User Access / RBAC Administrator)."""
        from preflight.azure.arm import arm_permissions, profile
        from preflight.rbac import Permission

        blocks = [Permission.from_arm(b) for b in ctx.get(arm_permissions, resource)]
        broad = broad_grants(blocks)
        unread = f"(its role assignments are not readable: needs {READ_ASSIGNMENTS})"
        if not broad:
            return self.passed(
                f"this {kind} holds no Owner, Contributor, User Access Administrator or Role Based Access Control "
                f"Administrator at {_where(resource, resource)} or above: its effective permissions there include "
                f"neither * nor {ASSIGN_ROLES} {unread}",
                evidence={"scope": resource, "decidedBy": ["effective-permissions"]},
            )
        narrow = ctx.get(profile)
        return self.warned(
            f"this {kind}'s effective permissions at {_where(resource, resource)} include {', '.join(broad)}, as "
            f"Owner, Contributor, User Access Administrator or Role Based Access Control Administrator at it or "
            f"above grant {unread}; the {narrow.name} profile needs only {narrow.role_name}",
            evidence={"scope": resource, "broadActions": broad, "decidedBy": ["effective-permissions"]},
            remediation=f"assign {narrow.role_name} ({narrow.role_id}) at {resource}, then have someone who can "
            f"read role assignments remove the broad one",
        )

    def _finding(
        self,
        who: Any,
        arm_type: str,
        kind: str,
        assignment: Any,
        role_name: str,
        scope: str,
        resource: str | None,
        narrow: Any,
        holds_narrow: bool,
    ) -> Result:
        """One broad assignment: where it is, and the narrow role to hold instead (assigned first, unless held)."""
        via = (
            f" via group {assignment.principal_id}" if assignment.principal_id != (who.object_id or "").lower() else ""
        )
        where = _where(assignment.scope, scope)
        target = resource or "<the resource it uses>"
        steps = [] if holds_narrow else [_assign_command(who, arm_type, narrow.role_id, target)]
        if assignment.id:
            steps.append(f"az role assignment delete --ids {assignment.id}")
        first = (
            f"it already holds {narrow.role_name}"
            if holds_narrow
            else f"1) assign the least-privilege role {narrow.role_name} ({narrow.role_id}) at {target}"
        )
        then = "remove" if holds_narrow else "2) then remove"
        return self.warned(
            f"this {kind} holds {role_name} at {where} ({assignment.scope}){via}: it can change or delete the "
            f"resource and grant access to others; the {narrow.name} profile needs only {narrow.role_name}",
            subject=assignment.id or assignment.scope,
            evidence={
                "roleAssignmentId": assignment.id,
                "roleDefinitionId": assignment.role_definition_id,
                "roleName": role_name,
                "scope": assignment.scope,
                "scopeLevel": where,
                "replacementRoleId": narrow.role_id,
                "replacementRoleName": narrow.role_name,
            },
            remediation=f"{first}; {then} the broad {role_name} assignment"
            + (" (it is the group's: removing it affects every member)" if via else ""),
            commands=steps,
        )


def _where(scope: str, target: str) -> str:
    """What a scope is called relative to the target: the workspace / account itself, its resource group, the
    subscription, a management group, the tenant root."""
    parts = [p.lower() for p in scope.split("/") if p]
    if not parts:
        return "the tenant root"
    if _MG in scope.lower() + "/":
        return f"management group {parts[-1]}"
    if len(parts) == 2 and parts[0] == "subscriptions":
        return "the subscription"
    if len(parts) == 4 and parts[2] == "resourcegroups":
        return f"resource group {scope.rstrip('/').rsplit('/', 1)[-1]}"
    if scope.strip("/").lower() == target.strip("/").lower():
        return f"the {_noun(target)}" if "/providers/" in target.lower() else "the target"
    return "a resource"


def _at_or_above(outer: str, inner: str) -> bool:
    from preflight.rbac import scope_contains

    return scope_contains(outer, inner)


def broad_grants(blocks: Sequence[Any]) -> list[str]:
    """The patterns of effective-permission blocks that only a broad role holds: ``*`` (Owner, Contributor) or
    one that grants :data:`ASSIGN_ROLES` (Owner, User Access / RBAC Administrator). Pure; ``blocks`` are
    :class:`preflight.rbac.Permission`."""
    from preflight.rbac import action_matches

    return sorted(
        {
            pattern
            for block in blocks
            for pattern in block.actions
            if pattern == "*"
            or (
                action_matches(pattern, ASSIGN_ROLES)
                and not any(action_matches(ex, ASSIGN_ROLES) for ex in block.not_actions)
            )
        }
    )


def over_privileged(assignments: Sequence[Any], target_scope: str) -> list[tuple[Any, str]]:
    """Assignments of a privileged role (by GUID) that reach the target: at the target itself, any of its parents
    (resource group, subscription), a management group or the tenant root. An assignment below the target (a
    child resource) or beside it (another resource group) is not about this work. Pure; ``assignments`` are
    :class:`preflight.rbac.RoleAssignment`."""
    found = []
    for assignment in assignments:
        name = PRIVILEGED_ROLES.get(assignment.role_guid)
        if name is None:
            continue
        # a management group's place above the target is not known here: any management group is broad enough
        if _MG in assignment.scope.lower() + "/" or _at_or_above(assignment.scope, target_scope):
            found.append((assignment, name))
    return found
