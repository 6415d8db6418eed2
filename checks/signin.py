"""signin.* — is anyone signed in, which credential DefaultAzureCredential really uses, and as whom."""

from __future__ import annotations

from collections.abc import Iterable

from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity

CHAIN_DOCS = (
    "https://learn.microsoft.com/azure/developer/python/sdk/authentication/credential-chains",
    "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot",
)

# What to do when a link is unavailable, by link key: the most useful way to make it available.
LINK_FIXES = {
    "environment": "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
    "workload_identity": "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (AKS workload "
                         "identity sets them for you)",
    "managed_identity": "assign a managed identity to the Azure host (VM, App Service, Container Apps …)",
    "cli": "az login",
    "developer_cli": "azd auth login",
    "powershell": "Connect-AzAccount",
}


def _login_command(tenant: str | None) -> str:
    return f"az login --tenant {tenant}" if tenant else "az login"


class SigninChain(Check):
    """People see "DefaultAzureCredential failed to retrieve a token" and a wall of text. This check probes
    every link on its own and applies the chain's real rule — skip the unavailable, stop at the first that
    fails — so the report names the one credential that matters and why the others did not."""

    meta = CheckMeta(
        id="signin.chain",
        title="DefaultAzureCredential sign-in",
        severity=Severity.CRITICAL,
        description="Probes every credential DefaultAzureCredential would try, concurrently and with short "
        "timeouts, and says which one it would use.",
        tags=("signin",),
        docs=CHAIN_DOCS,
        facts=("credential-chain",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.aadsts import classify_error, format_fix
        from preflight.azure.facts import cloud, credential_chain
        from preflight.chain import LINKS_BY_KEY, Outcome

        report = ctx.get(credential_chain)
        selection = report.selection
        links = [
            {
                "credential": probe.name,
                "outcome": probe.outcome.value,
                "in_chain": key in selection.included,
                "reason": probe.message,
                "duration_ms": round(probe.duration * 1000),
            }
            for key, probe in report.probes.items()
        ]
        evidence = {"links": links, "selected": LINKS_BY_KEY[selection.link].name if selection.link else None}
        tenant = ctx.target.tenant_id

        if report.config_error:
            yield self.failed(report.config_error, evidence=evidence,
                              remediation="use dev, prod or one credential name, or unset AZURE_TOKEN_CREDENTIALS")
            return
        if selection.link is None:
            # Inside DefaultAzureCredential a developer tool whose sign-in Entra refused (MFA, conditional
            # access, expired refresh token) is reported as merely "unavailable": dig the real cause out.
            hidden = [(report.probes[k], info) for k in selection.included
                      if (info := classify_error(report.probes[k].message)) is not None]
            if hidden:
                probe, info = hidden[0]
                info = format_fix(info, tenant=tenant, scope=ctx.get(cloud).arm_scope)
                yield self.failed(
                    f"no credential is available: {probe.name} is signed in but Entra refused its token "
                    f"(AADSTS{info.code}: {info.title}), which DefaultAzureCredential treats as unavailable",
                    evidence={**evidence, "error": probe.message, "aadsts": info.category},
                    remediation=info.fix)
                return
            yield self.failed(
                "no credential is available: DefaultAzureCredential would fail with 'failed to retrieve a token "
                "from the included credentials'", evidence=evidence,
                remediation="sign in with one of: " + "; ".join(
                    LINK_FIXES[k] for k in selection.included if k in LINK_FIXES),
                commands=[_login_command(tenant)])
            return

        probe = report.probes[selection.link]
        skipped = ", ".join(LINKS_BY_KEY[k].name for k in selection.skipped) or "none"
        if selection.outcome is Outcome.FAILED:
            info = classify_error(probe.message)
            if info is not None:
                info = format_fix(info, tenant=tenant, scope=ctx.get(cloud).arm_scope,
                                  app_id=ctx.target.environ.get("AZURE_CLIENT_ID"))
            never_tried = [LINKS_BY_KEY[k].name for k in selection.shadowed]
            summary = f"DefaultAzureCredential stops at {probe.name}, which tried and failed"
            if info is not None:
                summary += f" (AADSTS{info.code}: {info.title})"
            if never_tried:
                summary += f"; {', '.join(never_tried)} would work but is never tried"
            fix = info.fix if info is not None else f"fix or remove the {probe.name} configuration"
            if selection.link == "environment" and never_tried:
                fix += "; or unset AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH to fall through to " \
                       + never_tried[0]
            yield self.failed(summary, evidence={**evidence, "error": probe.message,
                                                 "aadsts": info.category if info else None}, remediation=fix)
            return

        yield self.passed(f"DefaultAzureCredential uses {probe.name} (unavailable before it: {skipped})",
                          evidence=evidence)
        if selection.shadowed:
            shadowed = ", ".join(LINKS_BY_KEY[k].name for k in selection.shadowed)
            yield self.warned(
                f"{probe.name} comes first and shadows {shadowed}, which also signs in — possibly as another "
                "principal than you expect", subject="shadowing", evidence=evidence,
                remediation=f"set AZURE_TOKEN_CREDENTIALS to the credential you mean (e.g. {probe.name}) to make "
                            "the choice explicit")


class SigninIdentity(Check):
    """Role assignments are per principal: before anything else, show exactly who the working credential is
    (kind, object id, app id, tenant) — from the token's claims, decoded and never printed."""

    meta = CheckMeta(
        id="signin.identity",
        title="Signed-in identity",
        severity=Severity.HIGH,
        description="Who the working credential is: user, service principal or managed identity.",
        tags=("signin",),
        docs=("https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference",),
        facts=("principal",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import principal

        who = ctx.get(principal)
        evidence = {"kind": who.kind, "object_id": who.object_id, "tenant_id": who.tenant_id,
                    "app_id": who.app_id, "display": who.display, "token_version": who.token_version}
        summary = f"signed in as {who.kind} {who.display or who.object_id} (object id {who.object_id}) in tenant " \
                  f"{who.tenant_id}"
        tenant = ctx.target.tenant_id
        if tenant and who.tenant_id and tenant.lower() != who.tenant_id.lower() and "." not in tenant:
            yield self.warned(summary + f", but the target tenant is {tenant}", evidence=evidence,
                              commands=[_login_command(tenant)])
            return
        yield self.passed(summary, evidence=evidence)
