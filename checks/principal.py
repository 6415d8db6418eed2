"""principal.* — does the service principal exist here, are its credentials alive, are first-party apps present.

Automation signs in as a service principal or managed identity. When that fails, Entra's answer (AADSTS700016,
7000112, 7000222, 70021 …) names a symptom; these checks read the directory (Microsoft Graph) to name the
cause: no service principal in this tenant, a disabled one, an expired or soon-expiring secret, a federated
credential whose subject does not match what the CI job presents. For a user sign-in they are SKIP — use
``--assignee APP_ID`` to examine a service principal as an admin.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.app_credentials import DAY, Credential, credentials_of, describe, in_use
from preflight.azure.prerequisites import SERVICE_PRINCIPAL, SIGNIN
from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.first_party import FirstParty, first_party_for
from preflight.model import CheckMeta, Result, Severity

if TYPE_CHECKING:
    from preflight.azure.graph import DirectoryView, Part, Subject

DOCS_SP = (
    "https://learn.microsoft.com/entra/identity-platform/app-objects-and-service-principals",
    "https://learn.microsoft.com/entra/identity-platform/reference-error-codes",
)
FEDERATED = "federated credentials"  # the subject of principal.credentials' federated result
DOCS_CREDS = (
    "https://learn.microsoft.com/entra/identity-platform/howto-create-service-principal-portal",
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
)


def _tenant(ctx: Context) -> str:
    return ctx.target.tenant_id or "<tenant>"


def _view(ctx: Context) -> DirectoryView:
    from preflight.azure.graph import directory

    return ctx.get(directory)


def _signin_code(who: Subject) -> int | None:
    from preflight.aadsts import most_specific, parse_aadsts_codes

    return most_specific(parse_aadsts_codes(who.signin_error)) if who.signin_error else None


SECRETS = "secrets and certificates"  # the subject of principal.credentials' secrets result


@dataclass(frozen=True, slots=True)
class _Ages:
    """An app's secrets and certificates sorted by age at one instant, with the command that renews one."""

    now: float
    warn_days: int
    creds: Sequence[Credential]
    expired: list[Credential]
    soon: list[Credential]
    renew: str

    @classmethod
    def of(cls, creds: Sequence[Credential], now: float, warn_days: int, renew: str) -> _Ages:
        """Expired ones, and those expiring within ``warn_days`` of ``now``."""
        expired = [c for c in creds if c.end is not None and c.end <= now]
        soon = [c for c in creds if c.end is not None and now < c.end <= now + warn_days * DAY]
        return cls(now, warn_days, creds, expired, soon, renew)


class PrincipalExists(Check):
    """AADSTS700016 ("application not found in the directory") and 7000112 ("application is disabled") do not
    say which of several causes applies. Reading the directory does: no service principal here although the
    app is registered here, an app registered in another tenant never provisioned here, or a disabled one."""

    meta = CheckMeta(
        id="principal.exists",
        title="Service principal in this tenant",
        severity=Severity.HIGH,
        description="The service principal exists in the target tenant, is enabled; its type, app and owner "
        "tenant (Microsoft Graph).",
        tags=("principal", "graph"),
        docs=DOCS_SP,
        facts=("graph-subject", "directory"),
        requires=(SIGNIN, SERVICE_PRINCIPAL),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.graph import GraphDenied, examined

        who = ctx.get(examined)
        app_id = who.app_id or "<app id>"
        try:
            view = _view(ctx)
        except GraphDenied:
            raise
        except FactError:
            # Nobody can read the directory: the sign-in error alone still tells the 700016 / 7000112 story.
            told = self._from_signin_error(ctx, who, app_id)
            if told is None:
                raise
            yield told
            return
        try:
            sp_part = view.require("servicePrincipal", f"the service principal of app {app_id}", "servicePrincipal")
        except GraphDenied as exc:
            from preflight.azure.client_id import advice_after_failed_signin

            advice = advice_after_failed_signin(ctx, who, app_id)  # an object id in AZURE_CLIENT_ID? (issue 20)
            if advice is not None and advice.is_object_id:
                yield self.failed(advice.summary(), remediation=advice.fix(), commands=advice.commands())
                return
            suffix = advice.suffix() if advice is not None else ""
            yield self.warned(exc.message + suffix, remediation=exc.remediation)  # the directory is not the app's read
            return
        evidence: dict[str, Any] = {"app_id": who.app_id, "read_by": view.reader.reader}
        if sp_part.missing:
            app = view.parts.get("application")
            registered_here = app.ok if app is not None and not app.denied else None
            summary, fix, commands = _missing_sp(ctx, app_id, registered_here)
            yield self.failed(summary, evidence=evidence, remediation=fix, commands=commands)
            return
        yield self._found(ctx, view, sp_part.body or {}, app_id, evidence)

    def _from_signin_error(self, ctx: Context, who: Subject, app_id: str) -> Result | None:
        """Without the directory: a 700016 or 7000112 sign-in error still names the cause (else None)."""
        code = _signin_code(who)
        if code == 700016:
            summary, fix, commands = _missing_sp(ctx, app_id, registered_here=None)
            return self.failed(summary, evidence={"app_id": app_id, "aadsts": code}, remediation=fix, commands=commands)
        if code == 7000112:
            return self.failed(
                f"the service principal of app {app_id} is disabled (AADSTS7000112)",
                evidence={"app_id": app_id},
                commands=[_enable(app_id)],
            )
        return None

    def _found(
        self, ctx: Context, view: DirectoryView, sp: dict[str, Any], app_id: str, evidence: dict[str, Any]
    ) -> Result:
        """The service principal is here: disabled is a FAIL; enabled passes, naming the tenant its app is
        registered in."""
        evidence.update(
            {
                "object_id": sp.get("id"),
                "display_name": sp.get("displayName"),
                "type": sp.get("servicePrincipalType"),
                "account_enabled": sp.get("accountEnabled"),
                "owner_tenant": sp.get("appOwnerOrganizationId"),
            }
        )
        kind = sp.get("servicePrincipalType") or "Application"
        name = sp.get("displayName") or app_id
        if sp.get("accountEnabled") is False:
            return self.failed(
                f"service principal '{name}' ({kind}) exists but is disabled: every sign-in fails with AADSTS7000112",
                evidence=evidence,
                remediation="enable it (Enterprise applications → Properties → Enabled for users "
                "to sign-in), if it was not disabled on purpose",
                commands=[_enable(str(sp.get("appId") or app_id))],
            )
        app_part = view.parts.get("application")
        app_name = (app_part.body or {}).get("displayName") if app_part is not None and app_part.ok else None
        evidence["app_display_name"] = app_name
        summary = f"service principal '{name}' ({kind}, object id {sp.get('id')}) exists and is enabled"
        owner_text = _owner_text(ctx, sp)
        if owner_text:
            summary += f"; its app{f' {app_name!r}' if app_name else ''} is {owner_text}"
        return self.passed(summary, evidence=evidence)


def _owner_text(ctx: Context, sp: Mapping[str, Any]) -> str:
    """Where the service principal's app is registered ("" for a managed identity: its app belongs to Azure)."""
    home = ctx.target.tenant_id
    owner = sp.get("appOwnerOrganizationId")
    if not owner or sp.get("servicePrincipalType") == "ManagedIdentity":
        return ""
    return (
        "registered in this tenant"
        if home and owner.lower() == home.lower()
        else f"registered in another tenant ({owner})"
    )


def _enable(app_id: str) -> str:
    return f"az ad sp update --id {app_id} --set accountEnabled=true"


def _missing_sp(ctx: Context, app_id: str, registered_here: bool | None) -> tuple[str, str, list[str]]:
    from preflight.azure.client_id import advice_for_client_id

    tenant = _tenant(ctx)
    # AZURE_CLIENT_ID may hold the service principal's object id: then the fix is its appId (issue 20)
    advice = None if registered_here else advice_for_client_id(ctx, app_id)
    if advice is not None and advice.is_object_id:
        return advice.summary(), advice.fix(), advice.commands()
    commands = [*(advice.commands() if advice and advice.note else []), f"az ad sp create --id {app_id}"]
    if registered_here:
        summary = (
            f"app {app_id} is registered in tenant {tenant} but has no service principal there: sign-ins "
            "fail with AADSTS700016"
        )
        return summary, "create its service principal (an app registration alone cannot sign in)", commands
    known = "" if registered_here is None else " and no app registration"
    summary = (
        f"no service principal for app {app_id} in tenant {tenant}{known} — the classic AADSTS700016: "
        "the app is registered in another tenant and was never provisioned (consented) here, was deleted, "
        "or AZURE_TENANT_ID names the wrong tenant"
    ) + (advice.suffix() if advice else "")
    fix = (
        "use the tenant the app is registered in (AZURE_TENANT_ID); only if it is a multi-tenant app you trust, "
        "an admin of this tenant provisions it (`az ad sp create`, its signInAudience must allow other "
        "tenants) — that lets another tenant's app sign in here, a trust decision rather than a fix to paste"
    )
    return summary, fix, commands


# ------------------------------------------------------------------------------------------- credentials


class PrincipalCredentials(Check):
    """AADSTS7000222 (expired secret) breaks a pipeline on a random Tuesday; a federated subject that differs by
    one character (a branch, an environment, letter case) gives AADSTS70021. This check reads the app's secrets,
    certificates and federated credentials, says which one this process uses, warns ahead of expiry
    (``--expiry-days``), and compares the subject this job presents with what the app expects."""

    meta = CheckMeta(
        id="principal.credentials",
        title="App credentials: secrets, certificates, federated",
        severity=Severity.HIGH,
        description="Expired / soon-expiring secrets and certificates of the app registration; federated "
        "credentials against the assertion or CI job this process presents.",
        tags=("principal", "graph"),
        docs=DOCS_CREDS,
        facts=("graph-subject", "directory"),
        requires=(SIGNIN, SERVICE_PRINCIPAL),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.graph import GraphDenied, examined

        who = ctx.get(examined)
        if who.kind == "managedIdentity":
            yield self.passed(
                "managed identity: it has no secrets or certificates to expire (Azure rotates its credentials)",
                evidence={"object_id": who.object_id},
            )
            return
        view = _view(ctx)
        app_id = who.app_id or "<app id>"
        try:
            app_part = view.require("application", f"the app registration {app_id}", "application")
        except GraphDenied as exc:
            yield self.warned(exc.message, remediation=exc.remediation)  # the directory is not the app's read
            return
        if app_part.missing:
            sp = view.parts.get("servicePrincipal")
            owner = (sp.body or {}).get("appOwnerOrganizationId") if sp is not None and sp.ok else None
            where = f"in its home tenant {owner}" if owner else "in the tenant that owns it"
            yield self.skipped(
                f"app {app_id} has no registration in this tenant, so its credentials cannot be "
                f"read here; they are managed {where} (see principal.exists)",
                caused_by="principal.exists",
            )
            return
        app = app_part.body or {}
        yield self._secrets(ctx, who, app)
        yield from self._federated(ctx, who, view)

    def _secrets(self, ctx: Context, who: Subject, app: Mapping[str, Any]) -> Result:
        """The app's secrets and certificates: judged by the one this process uses when it can be told, else by
        the latest to expire."""
        now = time.time()
        warn_days = ctx.target.credential_warn_days
        creds = credentials_of(app)
        used = in_use(creds, ctx.target.environ, who.app_id)
        name = app.get("displayName") or who.app_id
        evidence: dict[str, Any] = {
            "app": name,
            "count": len(creds),
            "warn_days": warn_days,
            "in_use": used.label() if used else None,
            "credentials": [describe(c, now) for c in creds],
        }
        if not creds:
            return self.passed(
                f"app '{name}' has no secrets or certificates (it signs in another way: federated credentials or none)",
                subject=SECRETS,
                evidence=evidence,
            )
        ages = _Ages.of(creds, now, warn_days, f"az ad app credential reset --id {who.app_id} --append --years 1")
        if used is not None:
            return self._judge_in_use(used, ages, evidence)
        return self._judge_latest(str(name), ages, evidence)

    def _judge_in_use(self, used: Credential, ages: _Ages, evidence: dict[str, Any]) -> Result:
        """The credential this process signs in with decides: expired fails, expiring soon warns."""
        left = used.days_left(ages.now)
        if used in ages.expired:
            return self.failed(
                f"the {used.label()} this process uses expired {int(-(left or 0))} days ago: "
                "sign-ins fail with AADSTS7000222",
                subject=SECRETS,
                evidence=evidence,
                remediation="create a new secret, update AZURE_CLIENT_SECRET (or your "
                "pipeline's secret), then delete the old one",
                commands=[ages.renew],
            )
        if used in ages.soon:
            return self.warned(
                f"the {used.label()} this process uses expires in {int(left or 0)} days (threshold {ages.warn_days})",
                subject=SECRETS,
                evidence=evidence,
                remediation="rotate it before it expires",
                commands=[ages.renew],
            )
        others = f"; {len(ages.expired)} other credential(s) expired" if ages.expired else ""
        return self.passed(
            f"the {used.label()} this process uses is valid for {int(left or 0)} more days" + others
            if left is not None
            else f"the {used.label()} never expires" + others,
            subject=SECRETS,
            evidence=evidence,
        )

    def _judge_latest(self, name: str, ages: _Ages, evidence: dict[str, Any]) -> Result:
        """The one in use cannot be told: all expired fails, the latest expiring soon warns."""
        alive = [c for c in ages.creds if c not in ages.expired]
        if not alive:
            return self.failed(
                f"every secret and certificate of app '{name}' has expired ({len(ages.creds)}): "
                "sign-ins fail with AADSTS7000222 / 700027",
                subject=SECRETS,
                evidence=evidence,
                remediation="create a new credential and update whatever signs in with it",
                commands=[ages.renew],
            )
        best = max(alive, key=lambda c: c.end if c.end is not None else float("inf"))
        if best in ages.soon:
            return self.warned(
                f"app '{name}''s latest credential ({best.label()}) expires in "
                f"{int(best.days_left(ages.now) or 0)} days (threshold {ages.warn_days})",
                subject=SECRETS,
                evidence=evidence,
                remediation="rotate it before it expires",
                commands=[ages.renew],
            )
        expired, soon = ages.expired, ages.soon
        note = (
            f" ({len(expired)} expired, {len(soon)} expiring within {ages.warn_days} days)" if expired or soon else ""
        )
        return self.passed(
            f"app '{name}' has {len(alive)} valid credential(s){note}; the one in use could not be identified",
            subject=SECRETS,
            evidence=evidence,
        )

    def _federated(self, ctx: Context, who: Subject, view: DirectoryView) -> Iterable[Result]:
        """The app's federated credentials against what this process presents: the assertion file it signs in
        with, else the subject of the CI job it runs in (only for an app set up for federation)."""
        from preflight.azure.graph import GraphDenied
        from preflight.federation import FederatedRecord, ci_subject

        environ = ctx.target.environ
        mine = (environ.get("AZURE_CLIENT_ID") or "").lower() == (who.app_id or "").lower()
        token_file = environ.get("AZURE_FEDERATED_TOKEN_FILE") if mine else None
        expected = ci_subject(environ) if mine else None
        try:
            part = view.require("federatedCredentials", "the app's federated credentials", "federatedCredentials")
        except GraphDenied as exc:
            if token_file or expected:
                yield self.warned(exc.message, subject=FEDERATED, remediation=exc.remediation)
            return
        records = [FederatedRecord.from_graph(v) for v in part.values()]
        evidence: dict[str, Any] = {"records": [r.to_dict() for r in records]}
        if token_file:
            yield self._assertion(who, token_file, records, evidence)
        elif expected is not None and records:
            # Only an app set up for federation is compared with the job: a secret-based app in CI is fine.
            yield self._ci_job(who, expected, records, evidence, environ)
        elif records:
            yield self.passed(
                f"{len(records)} federated credential(s): "
                + "; ".join(f"{r.name}: {r.issuer} / {r.subject}" for r in records),
                subject=FEDERATED,
                evidence=evidence,
            )

    def _assertion(self, who: Subject, token_file: str, records: list[Any], evidence: dict[str, Any]) -> Result:
        """The assertion in AZURE_FEDERATED_TOKEN_FILE: readable, matched by a record, not (about to be)
        expired."""
        from preflight.federation import ClaimsError, match_records, read_assertion_file

        try:
            assertion = read_assertion_file(token_file)
        except (OSError, ClaimsError) as exc:
            return self.failed(
                f"AZURE_FEDERATED_TOKEN_FILE cannot be read as an assertion: {exc}",
                subject=FEDERATED,
                evidence=evidence,
                remediation="check the projected token volume / the CI step that writes it",
            )
        evidence["assertion"] = assertion.to_dict()
        found = match_records(records, assertion.issuer, assertion.subject, assertion.audiences)
        if not found.ok:
            wanted = [r.subject for r in records if r.issuer == assertion.issuer] or [r.subject for r in records]
            return self.failed(
                f"no federated credential of app {who.app_id} matches the assertion "
                f"(issuer {assertion.issuer}, subject {assertion.subject}): {found.reason}; "
                f"the app expects subject {', '.join(map(str, wanted)) or '(none)'} — sign-in "
                "fails with AADSTS70021",
                subject=FEDERATED,
                evidence=evidence,
                remediation=_fic_remedy(who.app_id, assertion.subject, wanted),
                commands=[_fic_command(who.app_id, assertion.issuer, assertion.subject)],
            )
        matched = found.matched.name if found.matched else ""
        left = assertion.lifetime_left(time.time())
        if left is not None and left <= 0:
            return self.failed(
                f"the federated assertion expired {int(-left)} s ago: sign-in fails with AADSTS700024",
                subject=FEDERATED,
                evidence=evidence,
                remediation="request a fresh token from the CI / Kubernetes issuer just before "
                "signing in (GitHub's last about 5 minutes)",
            )
        if left is not None and left < 300:
            return self.warned(
                f"the federated assertion matches record '{matched}'"
                f" but expires in {int(left)} s: a long job that signs in later meets AADSTS700024",
                subject=FEDERATED,
                evidence=evidence,
                remediation="sign in early, or re-request the assertion for later steps",
            )
        return self.passed(
            f"the federated assertion (subject {assertion.subject}) matches record '{matched}'",
            subject=FEDERATED,
            evidence=evidence,
        )

    def _ci_job(
        self, who: Subject, expected: Any, records: list[Any], evidence: dict[str, Any], environ: Mapping[str, str]
    ) -> Result:
        """The subject this CI job will present against the app's records (a mismatch only WARNs while the
        process still signs in with a secret or certificate: it bites when switching to federation)."""
        from preflight.federation import match_records

        evidence["ci"] = {"source": expected.source, "issuer": expected.issuer, "subject": expected.subject}
        if expected.subject is None:
            return self.skipped(
                f"the subject this {expected.source} job presents cannot be computed: {expected.why}",
                subject=FEDERATED,
                evidence=evidence,
            )
        found = match_records(records, expected.issuer, expected.subject, ())
        if found.ok:
            return self.passed(
                f"this {expected.source} job will present subject {expected.subject}, which "
                f"record '{found.matched.name if found.matched else ''}' accepts",
                subject=FEDERATED,
                evidence=evidence,
            )
        wanted = [r.subject for r in records]
        uses_secret = bool(environ.get("AZURE_CLIENT_SECRET") or environ.get("AZURE_CLIENT_CERTIFICATE_PATH"))
        builder = self.warned if uses_secret else self.failed
        return builder(
            f"this {expected.source} job will present subject {expected.subject}, but app "
            f"{who.app_id} expects {', '.join(map(str, wanted)) or 'no federated subject'}: "
            f"{found.reason} — a federated sign-in from this job fails with AADSTS70021",
            subject=FEDERATED,
            evidence=evidence,
            remediation=_fic_remedy(who.app_id, expected.subject, wanted),
            commands=[_fic_command(who.app_id, expected.issuer or "<issuer>", expected.subject)],
        )


def _fic_remedy(app_id: str | None, subject: str | None, trusted: list[Any]) -> str:
    """Adding a federated credential widens who can sign in as the app — a security decision, not a copy-paste
    (issue 19): say so, name the exact (narrowest) subject, and offer the other fix, running from a trusted one."""
    others = ", ".join(map(str, trusted))
    instead = f"; otherwise run the job where the app already trusts it ({others})" if others else ""
    return (
        f"if {subject} is meant to sign in as app {app_id}, add a federated credential for exactly this issuer "
        "and subject (case-sensitive, no wildcards). This widens trust: every run that presents this subject "
        "(for a branch: anyone who can push to it) gets the app's access — check it is the intended branch or "
        f"environment (a GitHub environment with protection rules is narrower than a branch){instead}"
    )


def _fic_command(app_id: str | None, issuer: str | None, subject: str | None) -> str:
    """``az ad app federated-credential create`` for exactly one issuer and subject; the JSON shell-quoted, the
    record named after the subject (a name is unique per app, at most 120 of [A-Za-z0-9_-])."""
    import json
    import re
    import shlex

    name = re.sub(r"[^A-Za-z0-9_-]+", "-", str(subject or "subject")).strip("-")[-120:] or "subject"
    params = json.dumps(
        {
            "name": name,
            "issuer": issuer,
            "subject": subject,
            "audiences": ["api://AzureADTokenExchange"],
        }
    )
    return f"az ad app federated-credential create --id {app_id} --parameters {shlex.quote(params)}"


# ------------------------------------------------------------------------------------------- first-party


# Provisioning Microsoft's own app (by its well-known appId) is what Entra does on a service's first use; it
# gives no principal any access (the check's docs link: verify-first-party-apps-sign-in).
_FIRST_PARTY_FIX = (
    "an admin creates Microsoft's service principal once for the tenant (by its appId); it lets the tenant use the "
    "service and grants no one access by itself"
)


class PrincipalFirstParty(Check):
    """A tenant that never used a service lacks its first-party service principal: tokens for it fail with
    AADSTS500011 and Azure ML cannot act on the workspace's resources. For a token audience, Entra's answer is
    the proof (a token: it exists; AADSTS500011: it does not); apps that are no audience (the "Azure Machine
    Learning" app) are looked up in the directory, in one batch."""

    meta = CheckMeta(
        id="principal.first-party",
        title="First-party service principals",
        severity=Severity.MEDIUM,
        description="The Microsoft service principals the target needs (Azure Cognitive Services, Azure Machine "
        "Learning) exist in the tenant.",
        tags=("principal", "graph"),
        docs=("https://learn.microsoft.com/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in",),
        facts=("profile", "token", "first-party"),
        requires=(SIGNIN,),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.arm import profile
        from preflight.azure.facts import cloud
        from preflight.azure.graph import first_party
        from preflight.scopes import scopes_for

        the_profile = ctx.get(profile)
        scopes = dict(zip(the_profile.audiences, scopes_for(ctx.get(cloud), the_profile), strict=True))
        unproven: list[FirstParty] = []
        for app in first_party_for(the_profile.name):
            scope = scopes.get(app.audience or "")
            if scope is None:
                unproven.append(app)
            else:
                yield self._by_token(ctx, app, scope)
        if not unproven:
            return
        parts = ctx.get(first_party, tuple(a.app_id for a in unproven))
        for app in unproven:
            yield self._by_directory(ctx, app, parts[app.app_id])

    def _by_token(self, ctx: Context, app: FirstParty, scope: str) -> Result:
        """A token audience: Entra's answer to a token request is the proof."""
        from preflight.azure.facts import token

        try:
            ctx.get(token, scope)
        except FactError as exc:
            if exc.code == "500011":
                return self.warned(
                    f"'{app.name}' ({app.app_id}) has no service principal in this tenant: tokens "
                    f"for {scope} fail with AADSTS500011",
                    subject=app.app_id,
                    remediation=_FIRST_PARTY_FIX,
                    commands=[f"az ad sp create --id {app.app_id}"],
                )
            # no token at all: the sign-in / token check reports why; the audience's SP is not in question
            return self.skipped(
                f"cannot tell whether '{app.name}' exists: no token for {scope}"
                + (f" (see {exc.reported_by})" if exc.reported_by else f": {exc.message}"),
                subject=app.app_id,
                caused_by=exc.reported_by or f"fact:{exc.fact}",
            )
        return self.passed(f"'{app.name}' exists in the tenant (Entra issued a token for {scope})", subject=app.app_id)

    def _by_directory(self, ctx: Context, app: FirstParty, part: Part) -> Result:
        """An app that is no token audience: its service principal as the directory answered for it."""
        from preflight.azure.graph import PERMISSIONS, GraphDenied, graph_reader

        if part.ok:
            return self.passed(
                f"'{app.name}' exists in the tenant (service principal {(part.body or {}).get('id')})",
                subject=app.app_id,
            )
        if part.missing:
            return self.warned(
                f"'{app.name}' ({app.app_id}) has no service principal in this tenant",
                subject=app.app_id,
                remediation=_FIRST_PARTY_FIX,
                commands=[f"az ad sp create --id {app.app_id}"],
            )
        if part.denied:
            denied = GraphDenied(
                "first-party",
                f"the service principal of '{app.name}'",
                PERMISSIONS["firstParty"],
                ctx.get(graph_reader).reader,
            )
            return self.warned(denied.message, subject=app.app_id, remediation=denied.remediation)
        return self.warned(
            f"Microsoft Graph could not read the service principal of '{app.name}': {part.status} {part.code or ''}",
            subject=app.app_id,
        )
