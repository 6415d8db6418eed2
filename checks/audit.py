"""Audit checks: the role-assignment inventory and one check per kind of risky assignment.

Registered under the SEPARATE entry-point group ``preflight.audit``, so ``preflight check`` never runs them and
``preflight audit`` runs only them, through the same engine (concurrency, crash isolation, the Report). Each
check reads the shared facts of preflight.audit.facts and turns one pure finding of preflight.audit.findings into
a Result carrying the count and the offending assignments.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from preflight.audit import facts, findings
from preflight.azure.prerequisites import Resolved
from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.model import CheckMeta, Prerequisite, Result, Severity, Status

DOCS_RBAC = "https://learn.microsoft.com/azure/role-based-access-control/best-practices"
EVIDENCE_LIMIT = 1000  # offending items listed in evidence; the count is always complete
_LEVELS = {"managementGroup": "management group", "subscription": "subscription", "tenant": "tenant"}
ITEM_LIMIT = 20  # offending items shown one result each (who, what, where, the command); the rest are counted


def _meta(
    check_id: str,
    title: str,
    severity: Severity,
    description: str,
    doc: str,
    *,
    reads: tuple[str, ...],
    requires: tuple[Prerequisite, ...] = (),
) -> CheckMeta:
    """An audit check's metadata: tagged ``audit``, one docs page, the audit facts it reads."""
    return CheckMeta(
        id=check_id,
        title=title,
        severity=severity,
        description=description,
        tags=("audit",),
        docs=(doc,),
        facts=reads,
        requires=requires,
    )


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


@dataclass(frozen=True, slots=True)
class Item:
    """One offending assignment (or role, or application) as a reviewer acts on it: ``subject`` names who,
    ``summary`` says what and where, the fix names it again with the exact commands."""

    subject: str
    summary: str
    evidence: Mapping[str, Any]
    remediation: str
    commands: tuple[str, ...] = ()


def _assignment_item(row: Mapping[str, Any], remediation: str, *commands: str) -> Item:
    """The common shape: subject = the principal's name, summary = role, scope and the principal's kind."""
    summary = f"{findings.assignment_label(row)} \u2014 {findings.principal_label(row)}"
    return Item(findings.principal_name(row), summary, _brief(row), remediation, commands)


def _level(row: Mapping[str, Any]) -> str:
    return _LEVELS.get(str(row.get("scope_level")), str(row.get("scope_level")))


def _delete(row: Mapping[str, Any]) -> str:
    # https://learn.microsoft.com/cli/azure/role/assignment#az-role-assignment-delete
    return f"az role assignment delete --ids {shlex.quote(str(row['assignment_id']))}"


def _create(row: Mapping[str, Any], scope: str, role: str | None = None) -> str:
    """``az role assignment create`` for this row's principal (by object id: no directory lookup, works for a
    service principal whose app lives in another tenant); ``role`` defaults to the row's own role."""
    return (
        f"az role assignment create --assignee-object-id {shlex.quote(str(row['principal_id']))} "
        f"--assignee-principal-type {findings.assignee_type(row)} "
        f"--role {shlex.quote(str(role or row.get('role_name')))} --scope {scope}"
    )


def _findings(
    check: Check,
    finding: findings.Finding,
    clean: str,
    status: Status,
    describe: Callable[[Mapping[str, Any]], Item],
    more_fix: str,
) -> Iterator[Result]:
    """PASS saying ``clean`` when the finding is empty; else one ``status`` result per offending item (who,
    what, where and its own commands), the first ITEM_LIMIT of them, and one result counting the rest."""
    if not finding.count:
        yield check.passed(clean, evidence={"count": 0, **({"note": finding.note} if finding.note else {})})
        return
    for row in finding.rows[:ITEM_LIMIT]:
        item = describe(row)
        yield check.result(
            status,
            item.summary,
            subject=item.subject,
            evidence=dict(item.evidence),
            remediation=item.remediation,
            commands=list(item.commands),
        )
    if finding.count > ITEM_LIMIT:
        yield check.result(
            status,
            f"{finding.count - ITEM_LIMIT} more of {finding.count} like those above (every one: --format csv, "
            "or the json report's evidence and tables.assignments)",
            evidence={
                "count": finding.count,
                "items": [dict(describe(row).evidence) for row in finding.rows[:EVIDENCE_LIMIT]],
                **({"items_truncated": finding.count - EVIDENCE_LIMIT} if finding.count > EVIDENCE_LIMIT else {}),
            },
            remediation=more_fix,
        )


def _evidence(finding: findings.Finding, brief: bool = True, **extra: Any) -> dict[str, Any]:
    items = [(_brief(r) if brief else dict(r)) for r in finding.rows[:EVIDENCE_LIMIT]]
    evidence: dict[str, Any] = {"count": finding.count, "items": items}
    if finding.count > EVIDENCE_LIMIT:
        evidence["items_truncated"] = finding.count - EVIDENCE_LIMIT
    if finding.note:
        evidence["note"] = finding.note
    evidence.update(extra)
    return evidence


class AuditInventory(Check):
    """Lists every role assignment in scope (the rows reports print); WARN when part of the scope was
    unreadable, ERROR when a named scope is unknown or principals could not be resolved (the findings that need
    them point here, undecided), so an incomplete audit never looks complete."""

    meta = _meta(
        "audit.inventory",
        "Role assignments in scope",
        Severity.INFO,
        "Every role assignment in the audited scope, principal and role resolved.",
        "https://learn.microsoft.com/azure/role-based-access-control/role-assignments-list-portal",
        reads=("audit:assignments", "audit:principals", "audit:role-definitions"),
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

    meta = _meta(
        "audit.orphaned",
        "Assignments to deleted principals",
        Severity.MEDIUM,
        "Role assignments whose user, group or service principal no longer exists.",
        "https://learn.microsoft.com/azure/role-based-access-control/troubleshoot-role-assignments"
        "#symptom---role-assignments-with-identity-not-found",
        reads=("audit:principals",),
        # unresolved principals: SKIP with the root cause, never "none orphaned"
        requires=(Resolved(facts.principals),),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        yield from _findings(
            self,
            findings.orphaned(_rows(ctx)),
            "no assignment names a deleted principal",
            Status.WARN,
            lambda row: _assignment_item(
                row, "delete the assignment: its principal no longer exists (it grants nothing)", _delete(row)
            ),
            'delete every assignment whose principal is "Unknown" (az role assignment delete --ids …)',
        )


class AuditPrivilegedApps(Check):
    """Service principals and managed identities holding Owner, Contributor, User Access Administrator or RBAC
    Administrator over whole subscriptions or management groups: a leaked credential owns the estate."""

    meta = _meta(
        "audit.privileged-apps",
        "Privileged roles held by applications at broad scope",
        Severity.HIGH,
        "Owner / Contributor / User Access Administrator / RBAC Administrator held by service "
        "principals or managed identities at subscription or management-group scope.",
        DOCS_RBAC + "#only-grant-the-access-users-need",
        reads=("audit:principals",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        yield from _findings(
            self,
            findings.privileged_service_principals(_rows(ctx)),
            "no service principal or managed identity holds a privileged role at "
            "subscription or management-group scope",
            Status.FAIL,
            self.item,
            "replace each with a least-privilege role on the resource group or resource its workload uses",
        )

    @staticmethod
    def item(row: Mapping[str, Any]) -> Item:
        # The narrow grant needs a role and a scope only the workload's owner knows: shown as the pattern to fill
        # in, never as a command to paste; the delete is exact.
        narrow = _create(row, "<resource-group-or-resource-id>", "<least-privilege role>")
        return _assignment_item(
            row,
            f"whoever obtains this identity controls the whole {_level(row)}: first grant "
            f"only what its workload needs where it needs it ({narrow}), then delete this assignment",
            _delete(row),
        )


class AuditPrivilegedGuests(Check):
    """Guests (B2B users from other tenants) holding privileged roles: their account lifecycle is managed by
    another organisation."""

    meta = _meta(
        "audit.privileged-guests",
        "Privileged roles held by guests",
        Severity.HIGH,
        "Owner / Contributor / User Access Administrator / RBAC Administrator held by guest users.",
        DOCS_RBAC,
        reads=("audit:principals",),
        requires=(Resolved(facts.principals),),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        yield from _findings(
            self,
            findings.privileged_guests(_rows(ctx)),
            "no guest holds a privileged role",
            Status.FAIL,
            lambda row: _assignment_item(
                row,
                "another organisation manages this account's lifecycle: remove the privileged role (or make it "
                "eligible-only in PIM, with approval)",
                _delete(row),
            ),
            "remove the guests' privileged roles or move them behind PIM with approval",
        )


class AuditDirectUsers(Check):
    """Users granted roles directly in a tenant that otherwise grants through groups: these escape group
    access reviews and linger after role changes."""

    meta = _meta(
        "audit.direct-users",
        "Direct user assignments in a group-based tenant",
        Severity.LOW,
        "Assignments made directly to users where the tenant otherwise assigns roles to groups.",
        DOCS_RBAC + "#assign-roles-to-groups-not-users",
        reads=("audit:principals",),
        requires=(Resolved(facts.principals),),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        finding = findings.direct_user_assignments(_rows(ctx))
        yield from _findings(
            self,
            finding,
            "no direct user assignment stands out" + (f" ({finding.note})" if finding.note else ""),
            Status.WARN,
            lambda row: _assignment_item(
                row,
                f"{finding.note}: grant {row.get('role_name')} to a group this user belongs to "
                "(az role assignment create --assignee-object-id <group-object-id> --assignee-principal-type "
                f"Group --role {shlex.quote(str(row.get('role_name')))} --scope {row.get('scope')}), "
                "then delete the direct assignment",
                _delete(row),
            ),
            "grant these roles to the groups the users belong to and remove the direct assignments",
        )


class AuditBroadDataRoles(Check):
    """Azure AI data roles granted on a whole subscription or management group give data access to every
    current and future account below it; grant them on the account."""

    meta = _meta(
        "audit.broad-data-roles",
        "AI data roles granted above the account",
        Severity.MEDIUM,
        "Cognitive Services OpenAI User / Contributor, Cognitive Services User … granted at "
        "subscription or management-group scope instead of on the account.",
        "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",
        reads=("audit:role-definitions",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        definitions, _ = ctx.get(facts.role_definitions)
        yield from _findings(
            self,
            findings.broad_data_roles(_rows(ctx), definitions),
            "AI data roles are granted on accounts or resource groups only",
            Status.WARN,
            lambda row: _assignment_item(
                row,
                f"data access to every AI account in this {_level(row)}, today's and tomorrow's: grant "
                f"it on the account the principal uses ({_create(row, '<account-resource-id>')}), then delete "
                "this assignment",
                _delete(row),
            ),
            "re-create each assignment with --scope set to the account's resource id, then delete the broad one",
        )


class AuditCustomWildcards(Check):
    """Custom roles whose actions or dataActions contain ``*``: they silently grow as providers add
    operations."""

    meta = _meta(
        "audit.custom-wildcards",
        "Custom roles with wildcard permissions",
        Severity.MEDIUM,
        "Custom roles used in scope with '*' in actions or dataActions (beyond */read).",
        "https://learn.microsoft.com/azure/role-based-access-control/custom-roles",
        reads=("audit:role-definitions",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        definitions, _ = ctx.get(facts.role_definitions)
        yield from _findings(
            self,
            findings.custom_role_wildcards(definitions, _rows(ctx)),
            "no custom role in use has wildcard actions",
            Status.WARN,
            self.item,
            "list the exact operations each role needs instead of '*'",
        )

    @staticmethod
    def item(row: Mapping[str, Any]) -> Item:
        name = str(row.get("role_name"))
        wildcards = ", ".join([*row.get("actions", []), *row.get("data_actions", [])])
        scopes = ", ".join(row.get("assignable_scopes") or []) or "no assignable scope"
        # https://learn.microsoft.com/cli/azure/role/definition — update takes the whole definition as JSON
        return Item(
            name,
            f"custom role grants {wildcards} \u2014 {row.get('assignments')} assignment(s), assignable at {scopes}",
            dict(row),
            "'*' grows whenever the provider adds an operation: replace it in role.json with the exact "
            "operations the role needs, then update the role",
            (
                f"az role definition list --custom-role-only true --name {shlex.quote(name)} --query '[0]' "
                "--output json > role.json",
                "az role definition update --role-definition role.json",
            ),
        )


class AuditClassicAdmins(Check):
    """Classic administrators (retired in favour of Azure RBAC) are Owner-equivalents outside RBAC reviews.
    Reading them costs one request per subscription, so it runs when asked (``--classic-admins``)."""

    meta = _meta(
        "audit.classic-admins",
        "Classic subscription administrators",
        Severity.MEDIUM,
        "Service administrators and co-administrators of the audited subscriptions, if readable.",
        "https://learn.microsoft.com/azure/role-based-access-control/classic-administrators",
        reads=("audit:classic-administrators",),
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

    meta = _meta(
        "audit.expiring-credentials",
        "Role-holding applications with expiring credentials",
        Severity.MEDIUM,
        "Service principals with role assignments whose secrets/certificates are expired or expire "
        "within --expiry-days (30).",
        "https://learn.microsoft.com/entra/identity-platform/howto-create-service-principal-portal"
        "#set-up-authentication",
        reads=("audit:app-credentials",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        days = facts.options(ctx).expiry_days
        credentials = ctx.get(facts.app_credentials)
        finding = findings.expiring_credentials(_rows(ctx), credentials, datetime.now(UTC), days)
        expired = any(r["expired"] for r in finding.rows)
        yield from _findings(
            self,
            finding,
            f"no role-holding application has credentials expiring within {days} days",
            Status.FAIL if expired else Status.WARN,
            self.item,
            "add a new credential to each application, roll it out, then delete the old one",
        )

    @staticmethod
    def item(row: Mapping[str, Any]) -> Item:
        # https://learn.microsoft.com/cli/azure/ad/app/credential: reset --append adds a credential (and prints
        # the new secret once) without removing the others; delete --key-id removes exactly one.
        app = shlex.quote(str(row["app_id"]))
        ends = str(row["ends"])[:10]
        when = f"expired {ends}" if row["expired"] else f"expires {ends} ({row['days_left']} days)"
        cert = " --cert" if row.get("credential") == "certificate" else ""
        label = f"{row.get('credential')} {row.get('name')!r}" if row.get("name") else str(row.get("credential"))
        return Item(
            str(row.get("principal") or row["app_id"]),
            f"{label} {when} \u2014 application, app id {row['app_id']}; it holds role assignments",
            dict(row),
            "add a new credential (printed once: store it where the workload reads it), roll it out, then delete "
            "the old one",
            (
                f"az ad app credential reset --id {app} --append{cert}",
                f"az ad app credential delete --id {app} --key-id {shlex.quote(str(row.get('key_id')))}{cert}",
            ),
        )
