"""tokens.scope — a token for every scope the intended use needs, with the claims that matter checked."""

from __future__ import annotations

import time
from collections.abc import Iterable

from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.model import CheckMeta, Result, Severity


class TokensScope(Check):
    """Signing in is not enough: each service needs a token for its own audience, from the right tenant,
    not about to expire. One result per scope; an AADSTS error is classified (MFA, conditional access,
    expired secret …) with its fix."""

    meta = CheckMeta(
        id="tokens.scope",
        title="Token per scope",
        severity=Severity.CRITICAL,
        description="Requests a token for each scope of the target's profile and checks aud, tid and expiry.",
        tags=("signin", "tokens"),
        docs=("https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference",
              "https://learn.microsoft.com/entra/identity-platform/reference-error-codes"),
        facts=("token", "profile"),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.aadsts import classify_aadsts, format_fix
        from preflight.azure.arm import profile
        from preflight.azure.facts import cloud, scopes_for, token
        from preflight.claims import ExpectedClaims, analyse_claims, describe_principal, safe_claims

        for scope in scopes_for(ctx.get(cloud), ctx.get(profile)):
            try:
                found = ctx.get(token, scope)
            except FactError as exc:
                if exc.fact != "token":
                    raise  # no credential at all: signin.chain reports that; this check is SKIP
                info = classify_aadsts(int(exc.code)) if exc.code else None
                if info is not None:
                    info = format_fix(info, tenant=ctx.target.tenant_id, scope=scope,
                                      app_id=ctx.target.environ.get("AZURE_CLIENT_ID"))
                summary = f"no token for {scope}"
                if info is not None:
                    summary += f": AADSTS{info.code} {info.title} ({info.category})"
                yield self.failed(summary, subject=scope, evidence={"error": exc.message,
                                                                    "aadsts": info.category if info else None},
                                  remediation=info.fix if info else "see the error for the cause")
                continue
            expected = ExpectedClaims(audiences=(scope.removesuffix("/.default"),), tenant_id=_guid_tenant(ctx),
                                      now=time.time())
            findings = analyse_claims(found.claims, expected)
            who = describe_principal(found.claims)
            evidence = {"claims": safe_claims(found.claims)}
            worst = next((f for f in findings if f.level == "fail"), None) or next(
                (f for f in findings if f.level == "warn"), None)
            if worst is None:
                minutes = max(0, int((found.expires_on - time.time()) // 60))
                yield self.passed(f"token for {found.claims.get('aud')} as {who.display or who.object_id}, "
                                  f"valid for {minutes} more minutes", subject=scope, evidence=evidence)
                continue
            builder = self.failed if worst.level == "fail" else self.warned
            others = [f.message for f in findings if f is not worst]
            if others:
                evidence["other_findings"] = others
            yield builder(worst.message, subject=scope, evidence=evidence, remediation=worst.fix)


def _guid_tenant(ctx: Context) -> str | None:
    from preflight.target import GUID

    tenant = ctx.target.tenant_id
    return tenant if tenant and GUID.match(tenant) else None
