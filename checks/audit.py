"""Audit checks: the role-assignment inventory and one check per kind of risky assignment.

Registered under the SEPARATE entry-point group ``preflight.audit``, so ``preflight check`` never runs them and
``preflight audit`` runs only them, through the same engine (concurrency, crash isolation, the Report). Each
check reads the shared facts of preflight.audit.facts and turns one pure finding of preflight.audit.findings into
a Result carrying the count and the offending assignments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from preflight.audit import facts, findings
from preflight.azure.prerequisites import Resolved
from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.model import CheckMeta, Result, Severity, Status

DOCS_RBAC = "https://learn.microsoft.com/azure/role-based-access-control/best-practices"
EVIDENCE_LIMIT = 1000  # offending items listed in evidence; the count is always complete


def _rows(ctx: Context) -> tuple[dict[str, Any], ...]:
    return ctx.get(facts.inventory)


def _why_unresolved(ctx: Context) -> str:
    """``: <cause>`` when resolving the principals failed with a reason, else nothing."""
    try:
        ctx.get(facts.principals)
    except FactError as exc:
        return f": {exc.message[:300]}"
    return ""


def _brief(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "assignment_id": row.get("assignment_id"),
        "scope": row.get("scope"),
        "role": row.get("role_name"),
        "principal_id": row.get("principal_id"),
        "principal": row.get("principal_display_name"),
        "principal_type": row.get("principal_type"),
        "principal_subtype": row.get("principal_subtype"),
    }


def _evidence(finding: findings.Finding, brief: bool = True, **extra: Any) -> dict[str, Any]:
    items = [(_brief(r) if brief else dict(r)) for r in finding.rows[:EVIDENCE_LIMIT]]
    evidence: dict[str, Any] = {"count": finding.count, "items": items}
    if finding.count > EVIDENCE_LIMIT:
        evidence["items_truncated"] = finding.count - EVIDENCE_LIMIT
    if finding.note:
        evidence["note"] = finding.note
    evidence.update(extra)
    return evidence


def _verdict(
    check: Check,
    finding: findings.Finding,
    clean: str,
    found: str,
    status: Status = Status.WARN,
    *,
    brief: bool = True,
    **fix: Any,
) -> Result:
    """The shape every risky-assignment check shares: PASS saying ``clean`` when the finding is empty, else
    ``status`` saying ``found`` with the fix (``remediation``, ``commands``); the finding's rows as evidence."""
    if not finding.count:
        return check.passed(clean, evidence=_evidence(finding, brief=brief))
    return check.result(status, found, evidence=_evidence(finding, brief=brief), **fix)


def _delete_commands(rows: Sequence[Mapping[str, Any]], limit: int = 3) -> list[str]:
    return [f"az role assignment delete --ids {r['assignment_id']}" for r in rows[:limit]]


class AuditInventory(Check):
    """Lists every role assignment in scope (the rows reports print); WARN when part of the scope was
    unreadable, ERROR when a named scope is unknown or principals could not be resolved (the findings that need
    them point here, undecided), so an incomplete audit never looks complete."""

    meta = CheckMeta(
        id="audit.inventory",
        title="Role assignments in scope",
        severity=Severity.INFO,
        description="Every role assignment in the audited scope, principal and role resolved.",
        tags=("audit",),
        docs=("https://learn.microsoft.com/azure/role-based-access-control/role-assignments-list-portal",),
        facts=("audit:assignments", "audit:principals", "audit:role-definitions"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        try:
            collected = ctx.get(facts.assignments)
        except FactError as exc:
            # Not a SKIP: an audit that could not read anything must not exit 0 as if the estate were clean.
            yield self.result(
                Status.ERROR,
                f"could not list role assignments: {exc.message}",
                evidence={"fact": exc.fact, "caused_by": exc.reported_by, "status": exc.status, "code": exc.code},
                remediation=exc.remediation
                or "sign in (az login, or AZURE_CLIENT_ID/SECRET) as an identity with Reader on the audited scopes",
                caused_by=exc.reported_by,
            )
            return
        rows = _rows(ctx)
        _, definition_errors = ctx.get(facts.role_definitions)
        by_type: dict[str, int] = {}
        for row in rows:
            by_type[str(row["principal_type"])] = by_type.get(str(row["principal_type"]), 0) + 1
        subscriptions = {row["subscription_id"] for row in rows if row["subscription_id"]}
        evidence: dict[str, Any] = {
            "assignments": len(rows),
            "subscriptions": len(subscriptions),
            "source": collected.source,
            "by_principal_type": by_type,
        }
        if collected.fallback_reason:
            evidence["fallback"] = collected.fallback_reason
        summary = f"{len(rows)} role assignments in {len(subscriptions)} subscription(s) (via {collected.source})"
        if collected.unknown:  # a named scope that is not there: part of what was asked was not audited
            evidence["unknown"] = list(collected.unknown)
            yield self.result(
                Status.ERROR,
                f"{summary}; not audited: {'; '.join(collected.unknown[:3])}",
                evidence=evidence,
                remediation=facts.UNKNOWN_FIX,
            )
            return
        problems = list(collected.errors) + list(definition_errors)
        unresolved = rows and all(row["principal_exists"] is None for row in rows)
        if problems or unresolved:
            if problems:
                evidence["unreadable"] = problems[:50]
            if unresolved:
                evidence["principals"] = "not resolved: Microsoft Graph refused (see the checks pointing here)"
            # Name the first cause, so the summary alone says what went wrong (throttling, a 503, DNS …).
            first = f" (first: {str(problems[0])[:300]})" if problems else ""
            said = [f"{len(problems)} scope(s) or role(s) could not be read{first}"] if problems else []
            said += [f"principals could not be resolved{_why_unresolved(ctx)}"] if unresolved else []
            # Unresolved principals leave the findings that need them undecided: they point here, and an
            # undecided audit is not a pass (the gate rule). A partial read only WARNs: what was read is decided.
            yield self.result(
                Status.ERROR if unresolved else Status.WARN,
                "; ".join([summary, *said]),
                evidence=evidence,
                remediation="grant the auditing identity Reader on the scopes (and Directory.Read.All "
                "in Microsoft Graph) and run the audit again",
            )
            return
        yield self.passed(summary, evidence=evidence)


class AuditOrphaned(Check):
    """Assignments whose principal was deleted: the portal shows them as "Unknown"; they grant nothing but
    clutter reviews and may be matched by a re-used object id."""

    meta = CheckMeta(
        id="audit.orphaned",
        title="Assignments to deleted principals",
        severity=Severity.MEDIUM,
        description="Role assignments whose user, group or service principal no longer exists.",
        tags=("audit",),
        docs=(
            (
                "https://learn.microsoft.com/azure/role-based-access-control/troubleshoot-role-assignments"
                "#symptom---role-assignments-with-identity-not-found"
            ),
        ),
        facts=("audit:principals",),
        # unresolved principals: SKIP with the root cause, never "none orphaned"
        requires=(Resolved(facts.principals),),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        finding = findings.orphaned(_rows(ctx))
        yield _verdict(
            self,
            finding,
            "no assignment names a deleted principal",
            f'{finding.count} assignment(s) name a deleted principal ("Unknown" in the portal)',
            remediation="delete the orphaned assignments",
            commands=_delete_commands(finding.rows),
        )


class AuditPrivilegedApps(Check):
    """Service principals and managed identities holding Owner, Contributor, User Access Administrator or RBAC
    Administrator over whole subscriptions or management groups: a leaked credential owns the estate."""

    meta = CheckMeta(
        id="audit.privileged-apps",
        title="Privileged roles held by applications at broad scope",
        severity=Severity.HIGH,
        description="Owner / Contributor / User Access Administrator / RBAC Administrator held by service "
        "principals or managed identities at subscription or management-group scope.",
        tags=("audit",),
        docs=(DOCS_RBAC + "#only-grant-the-access-users-need",),
        facts=("audit:principals",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        finding = findings.privileged_service_principals(_rows(ctx))
        yield _verdict(
            self,
            finding,
            "no service principal or managed identity holds a privileged role at "
            "subscription or management-group scope",
            f"{finding.count} privileged assignment(s) held by service principals or managed identities at broad scope",
            Status.FAIL,
            remediation="replace them with a least-privilege role on the resource group or resource the workload needs",
        )


class AuditPrivilegedGuests(Check):
    """Guests (B2B users from other tenants) holding privileged roles: their account lifecycle is managed by
    another organisation."""

    meta = CheckMeta(
        id="audit.privileged-guests",
        title="Privileged roles held by guests",
        severity=Severity.HIGH,
        description="Owner / Contributor / User Access Administrator / RBAC Administrator held by guest users.",
        tags=("audit",),
        docs=(DOCS_RBAC,),
        facts=("audit:principals",),
        requires=(Resolved(facts.principals),),  # guest status needs the directory
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        finding = findings.privileged_guests(_rows(ctx))
        yield _verdict(
            self,
            finding,
            "no guest holds a privileged role",
            f"{finding.count} privileged assignment(s) held by guests",
            Status.FAIL,
            remediation="remove the guests' privileged roles or move them behind PIM with approval",
        )


class AuditDirectUsers(Check):
    """Users granted roles directly in a tenant that otherwise grants through groups: these escape group
    access reviews and linger after role changes."""

    meta = CheckMeta(
        id="audit.direct-users",
        title="Direct user assignments in a group-based tenant",
        severity=Severity.LOW,
        description="Assignments made directly to users where the tenant otherwise assigns roles to groups.",
        tags=("audit",),
        docs=(DOCS_RBAC + "#assign-roles-to-groups-not-users",),
        facts=("audit:principals",),
        requires=(Resolved(facts.principals),),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        finding = findings.direct_user_assignments(_rows(ctx))
        yield _verdict(
            self,
            finding,
            "no direct user assignment stands out" + (f" ({finding.note})" if finding.note else ""),
            f"{finding.count} assignment(s) made directly to users ({finding.note})",
            remediation="grant these roles to the groups the users belong to and remove the direct assignments",
        )


class AuditBroadDataRoles(Check):
    """Azure AI data roles granted on a whole subscription or management group give data access to every
    current and future account below it; grant them on the account."""

    meta = CheckMeta(
        id="audit.broad-data-roles",
        title="AI data roles granted above the account",
        severity=Severity.MEDIUM,
        description="Cognitive Services OpenAI User / Contributor, Cognitive Services User … granted at "
        "subscription or management-group scope instead of on the account.",
        tags=("audit",),
        docs=("https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",),
        facts=("audit:role-definitions",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        definitions, _ = ctx.get(facts.role_definitions)
        finding = findings.broad_data_roles(_rows(ctx), definitions)
        yield _verdict(
            self,
            finding,
            "AI data roles are granted on accounts or resource groups only",
            f"{finding.count} AI data role assignment(s) at subscription or management-group scope",
            remediation="re-create each assignment with --scope set to the account's resource id, then "
            "delete the broad one",
        )


class AuditCustomWildcards(Check):
    """Custom roles whose actions or dataActions contain ``*``: they silently grow as providers add
    operations."""

    meta = CheckMeta(
        id="audit.custom-wildcards",
        title="Custom roles with wildcard permissions",
        severity=Severity.MEDIUM,
        description="Custom roles used in scope with '*' in actions or dataActions (beyond */read).",
        tags=("audit",),
        docs=("https://learn.microsoft.com/azure/role-based-access-control/custom-roles",),
        facts=("audit:role-definitions",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        definitions, _ = ctx.get(facts.role_definitions)
        finding = findings.custom_role_wildcards(definitions, _rows(ctx))
        names = ", ".join(str(r["role_name"]) for r in finding.rows[:5])
        yield _verdict(
            self,
            finding,
            "no custom role in use has wildcard actions",
            f"{finding.count} custom role(s) with wildcard permissions: {names}",
            brief=False,
            remediation="list the exact operations the role needs instead of '*'",
        )


class AuditClassicAdmins(Check):
    """Classic administrators (retired in favour of Azure RBAC) are Owner-equivalents outside RBAC reviews.
    Reading them costs one request per subscription, so it runs when asked (``--classic-admins``)."""

    meta = CheckMeta(
        id="audit.classic-admins",
        title="Classic subscription administrators",
        severity=Severity.MEDIUM,
        description="Service administrators and co-administrators of the audited subscriptions, if readable.",
        tags=("audit",),
        docs=("https://learn.microsoft.com/azure/role-based-access-control/classic-administrators",),
        facts=("audit:classic-administrators",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        if not facts.options(ctx).classic_administrators:
            yield self.skipped("classic administrators not read (pass --classic-admins: one request per subscription)")
            return
        admins, errors = ctx.get(facts.classic_admins)
        finding = findings.classic_administrators(admins)
        extra = {"unreadable": list(errors[:50])} if errors else {}
        if finding.count:
            yield self.warned(
                f"{finding.count} classic administrator(s)",
                evidence=_evidence(finding, False, **extra),
                remediation="convert them to Azure RBAC role assignments and remove the classic administrators",
            )
        elif errors and len(errors) >= len({row["subscription_id"] for row in _rows(ctx)} - {None}):
            yield self.skipped(f"classic administrators are not readable ({errors[0]})", evidence=extra)
        else:
            yield self.passed("no classic administrator", evidence=_evidence(finding, False, **extra))


class AuditExpiringCredentials(Check):
    """Service principals holding roles whose secrets or certificates are expired or about to expire: the
    workloads running as them are about to fail sign-in (AADSTS7000222)."""

    meta = CheckMeta(
        id="audit.expiring-credentials",
        title="Role-holding applications with expiring credentials",
        severity=Severity.MEDIUM,
        description="Service principals with role assignments whose secrets/certificates are expired or expire "
        "within --expiry-days (30).",
        tags=("audit",),
        docs=(
            (
                "https://learn.microsoft.com/entra/identity-platform/howto-create-service-principal-portal"
                "#set-up-authentication"
            ),
        ),
        facts=("audit:app-credentials",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        days = facts.options(ctx).expiry_days
        credentials = ctx.get(facts.app_credentials)
        finding = findings.expiring_credentials(_rows(ctx), credentials, datetime.now(UTC), days)
        apps = sorted({str(r["app_id"]) for r in finding.rows})
        expired = [r for r in finding.rows if r["expired"]]
        yield _verdict(
            self,
            finding,
            f"no role-holding application has credentials expiring within {days} days",
            f"{len(apps)} role-holding application(s) have only expired or soon-expiring credentials "
            f"({len(expired)} expired)",
            Status.FAIL if expired else Status.WARN,
            brief=False,
            remediation="add a new credential, roll it out, then remove the old one"
            if expired
            else "rotate the credentials before they expire",
            commands=[f"az ad app credential reset --id {app} --append" for app in apps[:3]],
        )
