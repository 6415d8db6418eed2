"""access.probe — the ground truth: one read-only call to the account's data plane with the real token."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight.azure.prerequisites import SIGNIN, NeedsTarget
from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity


class AccessProbe(Check):
    """Evaluating roles offline can be wrong in ways only the service knows (propagation delay, a policy we
    cannot read). With --probe, list the deployments — a read-only call — and classify the answer: 200, or a
    401/403 that is RBAC, audience, tenant, custom subdomain, disabled keys or the network. Compared with
    rbac.data-action's verdict in the report."""

    meta = CheckMeta(
        id="access.probe",
        title="Data-plane probe (read-only)",
        severity=Severity.HIGH,
        description="With --probe: GET {endpoint}/openai/deployments with the Entra ID token and classify the answer.",
        tags=("probe", "opt-in"),
        docs=("https://learn.microsoft.com/azure/ai-services/openai/how-to/managed-identity",),
        facts=("resource", "token"),
        requires=(
            NeedsTarget("no resource given: pass --resource-id or --endpoint", named_by=("resource_id", "endpoint")),
            SIGNIN,
        ),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.facts import cloud, token
        from preflight.azure.probe import dataplane_probe
        from preflight.dataplane import classify_probe
        from preflight.errors import FactError

        try:
            response = ctx.get(dataplane_probe)
        except FactError as exc:
            if exc.fact != "dataplane-probe":
                raise
            yield self.result_error(exc.message)
            return
        named = ctx.target.workspace or ctx.target.resource_id or ""
        if response is None and "/microsoft.machinelearningservices/workspaces/" in named.lower():
            # does not apply: an Azure ML workspace's requirements are actions, decided by rbac.data-action
            yield self.skipped(
                "an Azure Machine Learning workspace has no data-plane call to probe: rbac.data-action decides its "
                "actions"
            )
            return
        if response is None:
            yield self.skipped("the account has no endpoint to probe", caused_by="resource.endpoint")
            return
        found = ctx.get(token, ctx.get(cloud).cognitive_scope)
        body, unclear = _body(response)
        if unclear is not None:
            yield self.result_error(unclear)
            return
        verdict = classify_probe(response.status, body)
        rbac = _rbac_verdict(ctx)
        evidence = {
            "url": response.url,
            "status": response.status,
            "verdict": verdict.kind,
            "message": verdict.message,
            "missing_action": verdict.missing_action,
            "rbac_verdict": rbac,
        }
        if verdict.allowed:
            yield self._accepted(response, body, rbac, evidence)
        else:
            yield self._refused(ctx, response, body, verdict, rbac, found.claims, evidence)

    def _accepted(self, response: Any, body: Any, rbac: str | None, evidence: dict[str, Any]) -> Result:
        """PASS: the data plane accepted the token — a WARN when the role evaluation says it should not have."""
        count = len(body.get("data", [])) if isinstance(body, dict) else None
        summary = f"GET {response.url} answered {response.status}: the token is accepted" + (
            f" ({count} deployment(s) visible)" if count is not None else ""
        )
        if rbac in ("not-granted", "denied"):
            return self.warned(
                summary + f", although the role evaluation says {rbac}: access comes from "
                "something preflight cannot see (e.g. a role at a scope it cannot read)",
                evidence=evidence,
            )
        return self.passed(summary, evidence=evidence)

    def _refused(
        self,
        ctx: Context,
        response: Any,
        body: Any,
        verdict: Any,
        rbac: str | None,
        claims: Any,
        evidence: dict[str, Any],
    ) -> Result:
        """FAIL: the data plane refused the token, with the real cause (audience, tenant, expiry, a grant not
        propagated yet) and its fix."""
        summary = f"the data plane refused the call ({verdict.kind}): {verdict.message}"
        fix = verdict.fix or "see the message"
        if verdict.kind == "audience" and verdict.expected_audience:
            from preflight.scopes import scope_from_data_plane

            wanted = scope_from_data_plane(response.status, body)
            evidence["expected_scope"] = wanted
            fix = (
                f"request the token for {wanted} (the audience this endpoint expects); the token sent was for "
                f"{claims.get('aud')}"
            )
            cause = _generic_401_cause(ctx, claims, verdict.expected_audience)
            if cause is not None:  # the audience was right: the same 401 text covers tenant and expiry too
                kind, summary, fix = cause
                evidence["verdict"] = kind
        if verdict.kind == "permission_denied" and rbac in ("denied", "not-granted"):
            return self._explained_by_rbac(summary, fix, rbac, evidence)
        if verdict.kind == "permission_denied" and rbac == "granted":
            summary += (
                "; the role evaluation says the role is granted, so the assignment has most likely not "
                "propagated to the data plane yet"
            )
            fix = (
                "wait: new role assignments take up to 10 minutes to reach the data plane (longer through "
                "groups or at management-group scope), then re-run"
            )
        return self.failed(summary, evidence=evidence, remediation=fix)

    def _explained_by_rbac(self, summary: str, fix: str, rbac: str, evidence: dict[str, Any]) -> Result:
        """The refusal the role evaluation predicted: told once by the check that owns the cause. A deny
        assignment is not fixed by assigning a role (the holder may already have it)."""
        if rbac == "denied":
            return self.failed(
                summary + "; a deny assignment blocks the data action, whatever role is assigned",
                evidence=evidence,
                remediation="a deny assignment overrides every role: only its owner can change it (see rbac.deny)",
                caused_by="rbac.deny",
            )
        return self.failed(summary, evidence=evidence, remediation=fix, caused_by="rbac.data-action")

    def result_error(self, summary: str) -> Result:
        """An ERROR result: the probe could not be made at all."""
        from preflight.model import Status

        return self.result(Status.ERROR, summary)


def _body(response: Any) -> tuple[Any, str | None]:
    """The answer's body (JSON, else the start of its text), and why it cannot tell whether the token is
    accepted when it cannot: throttled, a 5xx, or a page that is not the service's (a 200 HTML page is a captive
    portal or proxy, not the service accepting the token)."""
    url = response.url
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text[:500]
        if response.status < 400 or response.status == 429 or response.status >= 500:
            from preflight.azure.http import describe_body

            return body, (
                f"the data plane answered HTTP {response.status} with "
                f"{describe_body(response.text, response.content_type)}: cannot tell whether "
                f"the token is accepted (GET {url})"
            )
    if response.status == 429 or response.status >= 500:
        return body, (
            f"the data plane answered HTTP {response.status}"
            f"{' (throttled)' if response.status == 429 else ''}: cannot tell whether "
            f"the token is accepted (GET {url})"
        )
    return body, None


def _generic_401_cause(ctx: Context, claims: Any, expected_audience: str) -> tuple[str, str, str] | None:
    """Azure OpenAI answers one 401 text for every refused token ("missing, invalid, audience is incorrect (…),
    or have expired"). When the token's ``aud`` IS the audience that text names, the audience is not the cause:
    read the token's own claims for the one that is — a tenant other than the account's (a guest or a CLI in
    another directory), or an expired token — as (verdict kind, summary, fix); None when the audience is wrong
    or nothing better is known."""
    import time

    from preflight.azure.facts import target_tenant

    aud = str((claims or {}).get("aud") or "")
    if aud.rstrip("/").lower() != expected_audience.rstrip("/").lower():
        return None
    tid = str(claims.get("tid") or "")
    wanted, source = target_tenant(ctx)
    if wanted and tid and tid.lower() != wanted.lower():
        return (
            "tenant",
            f"the data plane refused the token (401): it was issued by tenant {tid}, but the account is in "
            f"tenant {wanted} (from {source}) — the audience {aud} is right, the tenant is not",
            f"get the token from the account's tenant: az login --tenant {wanted} (a guest account must name "
            "the tenant), or set AZURE_TENANT_ID / --tenant to it",
        )
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp <= time.time():
        return (
            "expired",
            "the data plane refused the token (401): it has expired (the audience is right)",
            "get a fresh token (sign in again: az login)",
        )
    return None


def _rbac_verdict(ctx: Context) -> str | None:
    """The offline verdict for the action the probe exercises (None when it cannot be evaluated)."""
    from preflight.azure.access import data_access
    from preflight.azure.probe import PROBED_ACTION
    from preflight.errors import FactError

    try:
        verdict = ctx.get(data_access).verdict_for(PROBED_ACTION)
    except FactError:
        return None
    return verdict.status if verdict is not None else None
