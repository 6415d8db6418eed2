"""signin.* — is anyone signed in, which credential DefaultAzureCredential really uses, and as whom."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from preflight.chain import LINK_FIXES, link_fix  # noqa: F401 - LINK_FIXES re-exported (its tests import it here)
from preflight.chain import login_command as _login_command
from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity
from preflight.remedies import conditional_access_hint, error_details

if TYPE_CHECKING:
    from preflight.azure.chain import LinkProbe
    from preflight.azure.facts import ChainReport
    from preflight.chain import AzureHost
    from preflight.devtools import ToolSignin

CHAIN_DOCS = (
    "https://learn.microsoft.com/azure/developer/python/sdk/authentication/credential-chains",
    "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot",
)

# Environment variables only an Azure host sets (App Service / Functions, Container Apps, AKS, Azure ML, Cloud
# Shell). IDENTITY_ENDPOINT / MSI_ENDPOINT are deliberately absent: they are what a developer sets by mistake.
AZURE_HOST_MARKERS = (
    "WEBSITE_SITE_NAME",
    "WEBSITE_INSTANCE_ID",
    "FUNCTIONS_WORKER_RUNTIME",
    "CONTAINER_APP_NAME",
    "KUBERNETES_SERVICE_HOST",
    "AZUREML_RUN_ID",
    "CI_NAME",
    "ACC_CLOUD",
    "AZUREPS_HOST_ENVIRONMENT",
)
DEVELOPER_LINKS = (
    "shared_token_cache",
    "visual_studio_code",
    "cli",
    "powershell",
    "developer_cli",
    "broker",
    "interactive_browser",
)


def _tid_oid(probe: LinkProbe) -> tuple[str | None, str | None, str | None]:
    from preflight.claims import describe_principal
    from preflight.token_errors import probe_claims

    claims = probe_claims(probe)
    if not claims:
        return None, None, None
    who = describe_principal(claims)
    return who.tenant_id, who.object_id, who.display


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
        facts=("credential-chain", "subscription-tenant"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import credential_chain
        from preflight.chain import Outcome

        report = ctx.get(credential_chain)
        evidence = self._evidence(ctx, report)
        if report.config_error:
            yield self.failed(
                report.config_error,
                evidence=evidence,
                remediation="use dev, prod or one credential name, or unset AZURE_TOKEN_CREDENTIALS",
            )
            return
        if report.selection.link is None:
            yield self._none_available(ctx, report, evidence)
        elif report.selection.outcome is Outcome.FAILED:
            yield self._stopped(ctx, report, evidence)
        else:
            yield from self._selected(report, evidence, _recognised_host(ctx, report))
        yield from self._warnings(ctx, report)

    @staticmethod
    def _evidence(ctx: Context, report: ChainReport) -> dict[str, Any]:
        """Every link: its outcome, whether the chain contains it, who it signs in as, and what would make an
        unavailable one available (a failed link's fix is the result's remediation)."""
        from preflight.chain import LINKS_BY_KEY, Outcome

        selection = report.selection
        environ = ctx.target.environ
        links = []
        for key, probe in report.probes.items():
            tid, oid, _ = _tid_oid(probe)
            links.append(
                {
                    "credential": probe.name,
                    "outcome": probe.outcome.value,
                    "in_chain": key in selection.included,
                    "reason": probe.message,
                    "duration_ms": round(probe.duration * 1000),
                    "tenant_id": tid,
                    "object_id": oid,
                    "fix": link_fix(key, environ, ctx.target.tenant_id)
                    if probe.outcome is Outcome.UNAVAILABLE
                    else None,
                }
            )
        return {"links": links, "selected": LINKS_BY_KEY[selection.link].name if selection.link else None}

    def _none_available(self, ctx: Context, report: ChainReport, evidence: dict[str, Any]) -> Result:
        """No link is available. Inside DefaultAzureCredential a developer tool whose sign-in Entra refused (MFA,
        conditional access, expired refresh token) is reported as merely "unavailable": dig the real cause out."""
        from preflight.aadsts import format_fix
        from preflight.azure.facts import cloud
        from preflight.token_errors import classify_probe_error

        selection = report.selection
        tenant = ctx.target.tenant_id
        hidden = [
            (report.probes[k], info)
            for k in selection.included
            if (info := classify_probe_error(report.probes[k])) is not None
        ]
        if not hidden:
            fixes = [fix for k in selection.included if (fix := link_fix(k, ctx.target.environ, tenant)) is not None]
            # the sign-in commands (az, PowerShell, azd) are lines to paste, the CLI's first; the rest stays prose
            commands = [_login_command(tenant), *(f for f in fixes if f.split(" ", 1)[0] in _SIGN_IN_TOOLS)]
            prose = [f for f in fixes if f.split(" ", 1)[0] not in _SIGN_IN_TOOLS]
            return self.failed(
                "no credential is available: DefaultAzureCredential would fail with 'failed to retrieve a token "
                "from the included credentials'",
                evidence=evidence,
                remediation="sign in with one of: " + "; ".join([*prose, "or one of the commands below"]),
                commands=list(dict.fromkeys(commands)),
            )
        probe, info = hidden[0]
        info = format_fix(info, tenant=tenant, scope=ctx.get(cloud).arm_scope)
        hint = conditional_access_hint(info.ca_policy, tenant=tenant, scope=ctx.get(cloud).arm_scope, action=False)
        return self.failed(
            f"no credential is available: {probe.name} is signed in but Entra refused its token "
            f"(AADSTS{info.code}: {info.title}), which DefaultAzureCredential treats as unavailable",
            evidence={**evidence, "error": probe.message, "aadsts": info.category, "ca_policy": info.ca_policy},
            remediation=info.fix.rstrip(". ") + (f". {hint}" if hint else ""),
        )

    def _stopped(self, ctx: Context, report: ChainReport, evidence: dict[str, Any]) -> Result:
        """The chain stops at a link that tried and failed: ERROR when nothing is known to be wrong with the
        credential (no answer, throttled, 5xx, not JSON), else FAIL with Entra's cause and fix."""
        from preflight.azure.facts import probe_failure
        from preflight.model import Status

        probe = report.probes[str(report.selection.link)]
        cause, inconclusive = probe_failure(probe, ctx.target.environ)
        if inconclusive:
            return self.result(
                Status.ERROR,
                f"DefaultAzureCredential stops at {probe.name}, which could not sign in: {cause}",
                evidence={**evidence, "error": probe.message},
                remediation="re-run later; if it persists, check the network path (proxy, "
                "firewall, DNS, TLS inspection) to the sign-in endpoint",
            )
        return self._refused(ctx, report, evidence)

    def _refused(self, ctx: Context, report: ChainReport, evidence: dict[str, Any]) -> Result:
        """FAIL: the selected link tried and Entra said no; names the links it shadows that would work."""
        from preflight.aadsts import format_fix
        from preflight.azure.facts import cloud
        from preflight.chain import LINKS_BY_KEY
        from preflight.token_errors import classify_probe_error

        selection = report.selection
        probe = report.probes[str(selection.link)]
        tenant = ctx.target.tenant_id
        info = classify_probe_error(probe)
        if info is not None:
            info = format_fix(
                info, tenant=tenant, scope=ctx.get(cloud).arm_scope, app_id=ctx.target.environ.get("AZURE_CLIENT_ID")
            )
        never_tried = [LINKS_BY_KEY[k].name for k in selection.shadowed]
        summary = f"DefaultAzureCredential stops at {probe.name}, which tried and failed"
        if info is not None:
            summary += f" (AADSTS{info.code}: {info.title})"
        if never_tried:
            summary += f"; {', '.join(never_tried)} would work but is never tried"
        fix = info.fix if info is not None else f"fix or remove the {probe.name} configuration"
        if selection.link == "environment" and never_tried:
            fix += "; or unset AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH to fall through to " + never_tried[0]
        details = error_details(probe.error)
        hint = conditional_access_hint(
            info.ca_policy if info else None,
            tenant=tenant,
            scope=ctx.get(cloud).arm_scope,
            suberror=details.get("suberror"),
            claims=bool(details.get("claims")),
            action=info is None,  # the AADSTS fix already says what to do about its policy
        )
        if hint:
            fix = fix.rstrip(". ") + f". {hint}"
        return self.failed(
            summary,
            evidence={
                **evidence,
                "error": probe.message,
                "aadsts": info.category if info else None,
                "ca_policy": info.ca_policy if info else None,
                "suberror": details.get("suberror"),
            },
            remediation=fix,
        )

    def _selected(self, report: ChainReport, evidence: dict[str, Any], host: AzureHost | None) -> Iterable[Result]:
        """PASS naming the credential the chain uses (and, for a managed identity, the Azure host it was
        recognised on); WARN when it shadows other links that also sign in."""
        from preflight.chain import LINKS_BY_KEY

        selection = report.selection
        probe = report.probes[str(selection.link)]
        skipped = ", ".join(LINKS_BY_KEY[k].name for k in selection.skipped) or "none"
        summary = f"DefaultAzureCredential uses {probe.name} (unavailable before it: {skipped})"
        if host is not None:
            what = host.name if "workload identity" in host.name else f"a managed identity on {host.name}"
            summary += f"; {what} (recognised from {', '.join(host.evidence)})"
            evidence = {**evidence, "azure_host": {"host": host.name, "recognised_from": list(host.evidence)}}
        yield self.passed(summary, evidence=evidence)
        if not selection.shadowed:
            return
        shadowed = ", ".join(LINKS_BY_KEY[k].name for k in selection.shadowed)
        principals = {k: _tid_oid(report.probes[k]) for k in (str(selection.link), *selection.shadowed)}
        oids = {who[1].lower() for who in principals.values() if who[1]}
        if len(oids) > 1:
            names = ", ".join(f"{LINKS_BY_KEY[k].name} → {who[2] or who[1]}" for k, who in principals.items())
            summary = (
                f"{probe.name} comes first and shadows {shadowed}, which signs in as a DIFFERENT "
                f"principal ({names}): role assignments made for the other one will not apply"
            )
        elif oids:
            summary = f"{probe.name} comes first and shadows {shadowed}, which also signs in (as the same principal)"
        else:
            summary = (
                f"{probe.name} comes first and shadows {shadowed}, which also signs in — possibly as "
                "another principal than you expect"
            )
        yield self.warned(
            summary,
            subject="shadowing",
            evidence={
                **evidence,
                "principals": {
                    LINKS_BY_KEY[k].name: {"tenant_id": w[0], "object_id": w[1]} for k, w in principals.items()
                },
            },
            remediation=f"set AZURE_TOKEN_CREDENTIALS to the credential you mean (e.g. {probe.name}) to make "
            "the choice explicit",
        )

    def _warnings(self, ctx: Context, report: ChainReport) -> Iterable[Result]:
        """Surprises that do not stop the chain but will bite later: a CLI in another tenant, a managed
        identity picked on a developer machine. Only links the chain really contains count (exclusions and
        AZURE_TOKEN_CREDENTIALS honoured)."""
        from preflight.azure.facts import target_tenant
        from preflight.chain import Outcome

        selection = report.selection
        included = set(selection.included)
        cli = report.probes.get("cli")
        if "cli" in included and cli is not None and cli.outcome is Outcome.OK:
            cli_tenant = _tid_oid(cli)[0]
            wanted, source = target_tenant(ctx)
            if cli_tenant and wanted and cli_tenant.lower() != wanted.lower():
                yield self.warned(
                    f"the Azure CLI is signed in to tenant {cli_tenant}, but the target is in tenant {wanted} "
                    f"(from {source}): its tokens will be refused there",
                    subject="cli-tenant",
                    evidence={"cli_tenant": cli_tenant, "target_tenant": wanted, "target_tenant_source": source},
                    remediation="sign the CLI in to the target's tenant (a guest account needs --tenant)",
                    commands=[_login_command(wanted)],
                )
        if selection.link == "managed_identity" and selection.outcome is Outcome.OK:
            environ = ctx.target.environ
            markers = [m for m in AZURE_HOST_MARKERS if environ.get(m)]
            host = _recognised_host(ctx, report)
            developer = [
                report.probes[k].name
                for k in DEVELOPER_LINKS
                if k in report.probes and report.probes[k].outcome is Outcome.OK
            ]
            if developer or host is None:
                why = []
                if developer:
                    why.append(f"{', '.join(developer)} is also signed in")
                if host is None:
                    why.append(
                        "no Azure host environment (App Service, Functions, Container Apps, AKS, Azure ML) is detected"
                    )
                yield self.warned(
                    "DefaultAzureCredential picks ManagedIdentityCredential, but this looks like a developer "
                    f"machine ({'; '.join(why)}): the managed identity endpoint "
                    f"{_mi_endpoint(environ)} answers instead of your own sign-in",
                    subject="managed-identity",
                    evidence={
                        "host_markers": markers,
                        "developer_credentials": developer,
                        **({"azure_host": host.name} if host is not None else {}),
                        "endpoint_variables": [
                            v
                            for v in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST")
                            if environ.get(v)
                        ],
                    },
                    remediation="on a developer machine set AZURE_TOKEN_CREDENTIALS=dev (or unset IDENTITY_ENDPOINT "
                    "/ MSI_ENDPOINT / AZURE_POD_IDENTITY_AUTHORITY_HOST); on an Azure host set "
                    "AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential to make it explicit",
                )


_SIGN_IN_TOOLS = frozenset({"az", "azd", "Connect-AzAccount"})


def _recognised_host(ctx: Context, report: ChainReport) -> AzureHost | None:
    """The Azure host of a managed identity the chain selected and signed in with (None for any other link):
    from the environment, or — on a VM, which sets no variable — from the token IMDS gave and its claims."""
    from preflight.chain import Outcome, azure_host
    from preflight.token_errors import probe_claims

    selection = report.selection
    if selection.link not in ("managed_identity", "workload_identity") or selection.outcome is not Outcome.OK:
        return None
    if selection.link == "workload_identity":  # an AKS pod's federated identity: named only from its host markers
        host = azure_host(ctx.target.environ, managed_identity_ok=False)
        return host if host is not None and "workload identity" in host.name else None
    probe = report.probes.get("managed_identity")
    ok = probe is not None and probe.outcome is Outcome.OK
    return azure_host(ctx.target.environ, managed_identity_ok=ok, claims=probe_claims(probe) if probe else None)


def _mi_endpoint(environ: object) -> str:
    from collections.abc import Mapping

    env = environ if isinstance(environ, Mapping) else {}
    for name in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        if env.get(name):
            return f"({name})"
    return "(IMDS)"


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
        evidence = {
            "kind": who.kind,
            "object_id": who.object_id,
            "tenant_id": who.tenant_id,
            "app_id": who.app_id,
            "display": who.display,
            "token_version": who.token_version,
        }
        summary = (
            f"signed in as {who.kind} {who.display or who.object_id} (object id {who.object_id}) in tenant "
            f"{who.tenant_id}"
        )
        tenant = ctx.target.tenant_id
        if tenant and who.tenant_id and tenant.lower() != who.tenant_id.lower() and "." not in tenant:
            yield self.warned(
                summary + f", but the target tenant is {tenant}", evidence=evidence, commands=[_login_command(tenant)]
            )
            return
        yield self.passed(summary, evidence=evidence)


# Developer tool → the chain link whose probe token tells when that tool's access token expires.
_EXPIRY_LINKS = {
    "Azure CLI": ("cli",),
    "Azure Developer CLI": ("developer_cli",),
    "VS Code": ("visual_studio_code",),
    "Environment": ("environment", "workload_identity"),
}


class SigninTenants(Check):
    """A tool signed into the wrong tenant (a guest account's home tenant, a second directory) is the most
    common cause of "the token is from the wrong issuer". One table of what each developer tool is signed
    into — account, tenant, expiry — with any tenant other than the target's flagged before a call fails."""

    meta = CheckMeta(
        id="signin.tenants",
        title="Developer tool sign-ins",
        severity=Severity.MEDIUM,
        description="What the Azure CLI, azd, VS Code and the environment are signed into, and whether that is "
        "the target's tenant.",
        tags=("signin",),
        docs=(
            "https://learn.microsoft.com/cli/azure/authenticate-azure-cli",
            "https://learn.microsoft.com/entra/external-id/b2b-fundamentals",
        ),
        facts=("devtools", "credential-chain", "subscription-tenant"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import credential_chain, devtools, target_tenant

        tools = ctx.get(devtools)
        probes = ctx.get(credential_chain).probes
        wanted, source = target_tenant(ctx)
        rows = [_tool_row(tool, probes, wanted) for tool in tools]
        mismatched = [tool for tool, row in zip(tools, rows, strict=True) if row["other_tenant"]]
        evidence = {"tools": rows, "target_tenant": wanted, "target_tenant_source": source}
        signed_in = [t for t, row in zip(tools, rows, strict=True) if row["state"] == "signed_in"]
        if mismatched:
            yield self._other_tenant(mismatched, wanted, source, evidence)
            return
        # Nothing to compare is not a pass (issue 19): no tool signed in, or no target tenant, is SKIP.
        if not signed_in:
            failing = [row["tool"] for row in rows if row["state"] == "error"]
            what = (
                f"no developer tool has a working sign-in ({', '.join(failing)}: see the table)"
                if failing
                else "no developer tool is signed in"
            )
            yield self.skipped(
                f"{what}, so there is no tenant to compare; signin.chain says what DefaultAzureCredential can use",
                evidence=evidence,
            )
            return
        listing = ", ".join(f"{t.tool} as {t.account or '?'}" for t in signed_in)
        if not wanted:
            yield self.skipped(
                f"{listing}; the target's tenant is unknown, so whether it is the right one cannot be told",
                evidence=evidence,
            )
            return
        yield self.passed(f"{listing} — signed in to the target's tenant {wanted}", evidence=evidence)

    def _other_tenant(
        self, mismatched: list[ToolSignin], wanted: str | None, source: str, evidence: dict[str, Any]
    ) -> Result:
        """A tool signed into another tenant than the target's: the warning, with the login command to fix it."""
        names = "; ".join(f"{t.tool} ({t.account or '?'}) is in tenant {t.tenant_id}" for t in mismatched)
        commands = [_login_command(wanted)] if any(t.tool == "Azure CLI" for t in mismatched) else []
        if any(t.tool == "Azure Developer CLI" for t in mismatched):
            commands.append(f"azd auth login --tenant-id {wanted}")
        return self.warned(
            f"signed in to another tenant than the target's {wanted} (from {source}): {names}",
            evidence=evidence,
            commands=commands,
            remediation="sign in to the target's tenant (a guest account must name it "
            "explicitly), or set AZURE_TENANT_ID / --tenant to the tenant you mean",
        )


def _tool_row(tool: ToolSignin, probes: Mapping[str, LinkProbe], wanted: str | None) -> dict[str, Any]:
    """One row of the table: the tool as it reports itself, its expiry (else its chain link's token's), any
    refusal Entra gave its chain link, and whether it is signed into another tenant than the target's."""
    from datetime import UTC, datetime

    from preflight.chain import Outcome
    from preflight.token_errors import classify_probe_error

    expires_on = tool.expires_on
    for key in _EXPIRY_LINKS.get(tool.tool, ()):
        probe = probes.get(key)
        if expires_on is None and probe is not None and probe.outcome is Outcome.OK and probe.token:
            expires_on = float(probe.token.expires_on)
    row = tool.to_dict()
    for key in _EXPIRY_LINKS.get(tool.tool, ()):
        probe = probes.get(key)
        refused = classify_probe_error(probe) if probe is not None and probe.outcome is not Outcome.OK else None
        if refused is not None:  # configured / signed in, but Entra refuses its tokens
            row.update(
                state="error",
                aadsts=str(refused.category),
                detail=f"{tool.detail}; Entra refuses its token: AADSTS{refused.code} {refused.title}",
            )
    row["expires_on"] = datetime.fromtimestamp(expires_on, UTC).isoformat(timespec="seconds") if expires_on else None
    row["other_tenant"] = bool(
        row["state"] == "signed_in" and wanted and tool.tenant_id and tool.tenant_id.lower() != wanted.lower()
    )
    return row
