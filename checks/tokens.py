"""tokens.scope — a token for every scope the intended use needs, with the claims that matter checked."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from preflight.azure.prerequisites import SIGNIN
from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.model import CheckMeta, Result, Severity
from preflight.remedies import conditional_access_hint, error_details

if TYPE_CHECKING:
    from preflight.aadsts import AadstsInfo
    from preflight.azure.facts import TokenFact

#: A scope Entra refused: (scope, why it was requested, the error, its AADSTS classification).
_Failure = tuple[str, str, FactError, "AadstsInfo | None"]
# Conditional Access families whose policies make MFA-less user tokens suspect for the target.
_MFA_POLICIES = frozenset({"mfa"})


class TokensScope(Check):
    """Signing in is not enough: each service needs a token for its own audience, from the right tenant,
    not about to expire. One result per scope; an AADSTS error is classified (MFA, conditional access,
    expired secret …) with its fix."""

    meta = CheckMeta(
        id="tokens.scope",
        title="Token per scope",
        severity=Severity.CRITICAL,
        description="Requests a token for each scope of the target's profile, of the endpoint's audience and of "
        "--scope, and checks aud, tid (against the subscription's tenant) and expiry.",
        tags=("signin", "tokens"),
        docs=(
            "https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference",
            "https://learn.microsoft.com/entra/identity-platform/reference-error-codes",
        ),
        facts=("token", "profile", "subscription-tenant"),
        requires=(SIGNIN,),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.arm import profile
        from preflight.azure.facts import cloud, target_tenant
        from preflight.scopes import wanted_scopes

        target = ctx.target
        graph = "graph" in ctx.services.get("selected-tags", ())  # a selected check reads Microsoft Graph
        scopes = wanted_scopes(
            ctx.get(cloud), ctx.get(profile), target.endpoint, tuple(target.extra_scopes), graph=graph
        )
        tokens, failures, ca_known = self._tokens(ctx, scopes)
        for scope, why, error, info in failures:
            yield self._no_token(ctx, scope, why, error, info)
        if not tokens:
            return
        tenant, tenant_source = target_tenant(ctx)
        challenged = _claims_challenge(ctx)
        if challenged is not None:
            yield self.warned(
                challenged,
                subject="claims-challenge",
                evidence={"www_authenticate_error": "insufficient_claims"},
                remediation=conditional_access_hint(None, tenant=tenant, scope=None, claims=True)
                or "sign in again interactively",
                commands=[f"az login --tenant {tenant}" if tenant else "az login"],
            )
        for scope, why in scopes:
            if scope in tokens:
                yield self._token(ctx, scope, why, tokens[scope], (tenant, tenant_source), ca_known)

    @staticmethod
    def _tokens(
        ctx: Context, scopes: Iterable[tuple[str, str]]
    ) -> tuple[dict[str, TokenFact], list[_Failure], str | None]:
        """A token per scope, the scopes Entra refused (AADSTS classified), and a Conditional Access policy
        family seen on any of them (the target app is then protected by CA)."""
        from preflight.aadsts import classify_aadsts
        from preflight.azure.facts import token

        tokens: dict[str, TokenFact] = {}
        ca_known: str | None = None
        failures: list[_Failure] = []
        for scope, why in scopes:
            try:
                tokens[scope] = ctx.get(token, scope)
            except FactError as exc:
                if exc.fact != "token":
                    raise  # no credential at all: signin.chain reports that; this check is SKIP
                info = classify_aadsts(int(exc.code)) if exc.code else None
                if info is not None and info.ca_policy:
                    ca_known = ca_known or info.ca_policy
                failures.append((scope, why, exc, info))
        return tokens, failures, ca_known

    def _no_token(self, ctx: Context, scope: str, why: str, error: FactError, info: AadstsInfo | None) -> Result:
        """FAIL: Entra refused a token for the scope — the AADSTS cause and its fix, Conditional Access named."""
        from preflight.aadsts import format_fix

        target = ctx.target
        if info is not None:
            info = format_fix(info, tenant=target.tenant_id, scope=scope, app_id=target.environ.get("AZURE_CLIENT_ID"))
        details = error_details(error.__cause__)
        hint = conditional_access_hint(
            info.ca_policy if info else None,
            tenant=target.tenant_id,
            scope=scope,
            suberror=details.get("suberror"),
            claims=bool(details.get("claims")),
            action=info is None,  # the AADSTS fix already says what to do about its policy
        )
        label = _label(ctx, scope)
        summary = f"no token for {label or scope}"
        if info is not None:
            summary += f": AADSTS{info.code} {info.title} ({info.category})"
        fix = info.fix if info else "see the error for the cause"
        if hint:
            fix = fix.rstrip(". ") + f". {hint}"
        return self.failed(
            summary,
            subject=label or scope,
            evidence={
                "scope": scope,
                "error": error.message,
                "aadsts": info.category if info else None,
                "ca_policy": info.ca_policy if info else None,
                "suberror": details.get("suberror"),
                "requested_because": why,
            },
            remediation=fix,
        )

    def _token(
        self, ctx: Context, scope: str, why: str, found: TokenFact, tenant: tuple[str | None, str], ca_known: str | None
    ) -> Result:
        """The token's claims against what the scope needs: PASS, or the worst finding (FAIL before WARN)."""
        from preflight.azure.facts import cloud
        from preflight.claims import ExpectedClaims, analyse_claims, describe_principal, safe_claims

        expected_tenant, tenant_source = tenant
        claims = found.claims
        # The "target app" is the data plane: an ARM or Graph token without MFA says nothing about its policies
        # (and the fix would then name the wrong scope).
        the_cloud = ctx.get(cloud)
        data_plane = scope not in (the_cloud.arm_scope, the_cloud.graph_scope)
        label = _label(ctx, scope)
        expected = ExpectedClaims(
            audiences=(scope.removesuffix("/.default"),),
            tenant_id=expected_tenant,
            now=time.time(),
            require_mfa=data_plane and ca_known in _MFA_POLICIES,
        )
        findings = analyse_claims(claims, expected)
        evidence: dict[str, Any] = {
            "scope": scope,
            "claims": safe_claims(claims),
            "requested_because": why,
            "expected_tenant": expected_tenant,
            "expected_tenant_source": tenant_source,
        }
        worst = next((f for f in findings if f.level == "fail"), None) or next(
            (f for f in findings if f.level == "warn"), None
        )
        if worst is None:
            who = describe_principal(claims)
            minutes = max(0, int((found.expires_on - time.time()) // 60))
            return self.passed(
                f"token for {label or claims.get('aud')} as {who.display or who.object_id}, valid for {minutes} "
                "more minutes",
                subject=label or scope,
                evidence=evidence,
            )
        builder = self.failed if worst.level == "fail" else self.warned
        others = [f.message for f in findings if f is not worst]
        if others:
            evidence["other_findings"] = others
        evidence["finding"] = worst.code
        message = worst.message
        if worst.code == "tenant-mismatch":
            message = message.rstrip(".") + f" (the resource's tenant comes from {tenant_source})."
        text, commands = _finding_fix(worst.code, worst.fix, expected_tenant, scope)
        return builder(message, subject=label or scope, evidence=evidence, remediation=text, commands=commands)


def _finding_fix(code: str, fix: str | None, tenant: str | None, scope: str) -> tuple[str | None, list[str]]:
    """The two claim findings whose fix is a sign-in, as a sentence plus the exact command to paste (the pure
    analysis words them as prose); any other finding's fix as it is."""
    from preflight.chain import login_command

    if code == "tenant-mismatch" and tenant:
        return "sign in to the resource's tenant (a guest account must name it)", [login_command(tenant)]
    if code == "mfa-absent" and tenant:
        return "sign in interactively and complete MFA for this service", [
            f"az login --tenant {tenant} --scope {scope}"
        ]
    return fix, []


def _label(ctx: Context, scope: str) -> str | None:
    """The service a scope belongs to in this cloud ("Microsoft Graph"), which the row is named by: a custom
    cloud's loopback or private URL is no name a reader recognises; the scope itself stays in the evidence."""
    from preflight.azure.facts import cloud
    from preflight.scopes import service_label

    return service_label(ctx.get(cloud), scope)


def _claims_challenge(ctx: Context) -> str | None:
    """The message of an ARM claims challenge met while reading the subscription, if any."""
    from preflight.azure.facts import subscription_tenant

    subscription = ctx.target.subscription_id
    if not subscription:
        return None
    try:
        ctx.get(subscription_tenant, subscription)
    except FactError as exc:
        if exc.code == "insufficient_claims":
            return exc.message
    return None
