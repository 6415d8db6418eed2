"""access.conditional-access — which Conditional Access policies stand between this principal and the target.

Conditional Access is why a sign-in that works in the browser fails in a container (device compliance), why a
script suddenly prompts (MFA, sign-in frequency), or why tokens are refused outright (block). The policies live
in a tenant setting few engineers can see; when the caller may read them (``Policy.Read.All``), this check
matches them against the principal (user, groups, directory roles) and the target's apps, and says in plain
language what each applicable one requires. Where the tenant answers Graph's What If evaluation
(``identity/conditionalAccess/evaluate``), Entra decides which policies apply; otherwise it is preflight's own
matching, labelled as a hint. Either way, conditions such as named locations or device platforms are listed,
not guessed.

The apps are those the profile's tokens are for and, for Azure ML, the **Azure Machine Learning** app
(``0736f41a-…``) the Azure ML guide tells admins to target — no token names it, yet a policy on it applies to
the workspace's users (``preflight.first_party`` keeps the catalogue). Each policy names the app it targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight.azure.prerequisites import SIGNIN
from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.model import CheckMeta, Result, Severity

HINT_LABEL = "preflight's own matching of the policies (a hint, not Entra's evaluation)"
WHAT_IF_LABEL = "Entra's What If evaluation (Graph identity/conditionalAccess/evaluate)"


class ConditionalAccess(Check):
    """Names the Conditional Access policies that would apply, with their requirements as hints."""

    meta = CheckMeta(
        id="access.conditional-access",
        title="Conditional Access policies",
        severity=Severity.MEDIUM,
        description="Enabled and report-only Conditional Access policies that target this principal and the "
        "target's apps, and what they require (MFA, compliant device, block, sign-in frequency …).",
        tags=("access", "graph"),
        docs=(
            "https://learn.microsoft.com/entra/identity/conditional-access/concept-conditional-access-policies",
            "https://learn.microsoft.com/entra/identity/conditional-access/workload-identity",
        ),
        facts=("graph-subject", "directory", "profile", "ca-what-if"),
        requires=(SIGNIN,),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.arm import profile
        from preflight.azure.graph import GraphDenied, app_ids_for, directory
        from preflight.ca import APP_NAMES, evaluate, token_hints
        from preflight.first_party import app_label, ca_apps

        view = ctx.get(directory)
        who = view.subject
        try:
            policies = view.require("policies", "Conditional Access policies", "policies").values()
        except GraphDenied as exc:
            # a read the app itself never makes: a WARN naming the permission, not "does not apply" (SKIP)
            yield self.warned(
                exc.message,
                remediation=exc.remediation,
                evidence={"permission": exc.permission, "read_by": view.reader.reader},
            )
            return
        notes: list[str] = []
        principal, groups, claims = self._principal(ctx, view, notes)
        the_profile = ctx.get(profile)
        # the token audiences' apps, and the apps the profile's guide tells admins to target (Azure ML: 0736f41a-…)
        apps = ca_apps(the_profile.name, app_ids_for(the_profile.audiences))
        verdicts = evaluate(policies, principal, apps, group_names=groups)
        verdicts, label = self._what_if(ctx, verdicts, principal, apps, notes)
        hints = token_hints(claims) if who.kind == "user" else None
        applicable = [v for v in verdicts if v.applies]
        evidence: dict[str, Any] = {
            "evaluation": label,
            "principal": who.display or who.object_id,
            "kind": who.kind,
            "apps": [app_label(a) for a in apps],
            "groups": len(groups),
            "policies": [v.to_dict() for v in verdicts],
            "notes": notes,
        }
        if hints is not None:
            evidence["token"] = {"mfa": hints.mfa, "device_id_present": hints.device}
        for verdict in applicable:
            yield self._policy(verdict, label, hints, who.kind)
        enforced = [v for v in applicable if v.enforced]
        disabled = sum(1 for v in verdicts if v.state == "disabled")
        summary = (
            f"{len(verdicts)} Conditional Access policies read; {len(enforced)} enforced and "
            f"{len(applicable) - len(enforced)} report-only would apply to {who.display or who.object_id} "
            f"on {', '.join(APP_NAMES.get(a, a) for a in apps)}; {disabled} disabled ({label})"
        )
        if who.kind != "user" and not applicable:
            summary += "; user policies do not apply to workload identities"
        yield self.passed(summary, evidence=evidence)

    def _principal(
        self, ctx: Context, view: Any, notes: list[str]
    ) -> tuple[Any, dict[str, str], dict[str, Any] | None]:
        """The principal as the policies see it (groups, directory roles, guest or member), its group names and
        its token's claims (the signed-in one's only); a note when its groups could not be read."""
        from preflight.azure.graph import group_view
        from preflight.ca import Principal

        who = view.subject
        groups: dict[str, str] = {}
        roles: set[str] = set()
        groups_part = view.parts.get("groups")
        if groups_part is not None and groups_part.ok:
            groups, roles = group_view(groups_part.values())
        elif groups_part is not None:
            notes.append(
                "group memberships could not be read (GroupMember.Read.All): policies that target "
                "groups were matched without them"
            )
        guest = False
        user_part = view.parts.get("user")
        if user_part is not None and user_part.ok:
            guest = str((user_part.body or {}).get("userType") or "").lower() == "guest"
        claims = self._claims(ctx) if who.source == "signed-in" else None
        if claims and isinstance(claims.get("wids"), list):
            roles |= {str(w).lower() for w in claims["wids"]}
        return Principal.of(who.kind, who.object_id or "", groups, roles, guest), groups, claims

    def _policy(self, verdict: Any, label: str, hints: Any, kind: str) -> Result:
        """One applicable policy: report-only PASS, an unconditional block FAIL, any other requirement WARN."""
        from preflight.ca import notes_for

        extra = list(notes_for(verdict, hints)) if hints is not None else []
        text = verdict.hint + ("; " + "; ".join(extra) if extra else "")
        item = {"policy": verdict.to_dict(), "evaluation": label}
        subject = f"policy:{verdict.name}"
        if verdict.report_only:
            return self.passed(text, subject=subject, evidence=item)
        if verdict.blocks and not verdict.only_when:
            fix = "ask the tenant's Conditional Access admin for an exclusion" + (
                ", or use a service principal / managed identity for automation" if kind == "user" else ""
            )
            return self.failed(text, subject=subject, evidence=item, remediation=fix)
        return self.warned(text, subject=subject, evidence=item, remediation=_fix(verdict, kind))

    @staticmethod
    def _what_if(
        ctx: Context, verdicts: Any, principal: Any, apps: tuple[str, ...], notes: list[str]
    ) -> tuple[Any, str]:
        """Entra's What If decides where the tenant answers it; else preflight's matching stays, labelled as a
        hint, with a note saying why What If was not used."""
        from preflight.azure.graph import what_if
        from preflight.ca import parse_what_if, with_what_if

        if principal.kind == "managedIdentity":
            return verdicts, HINT_LABEL
        try:
            part = ctx.get(what_if, apps)
        except FactError as exc:
            notes.append(f"Entra's What If evaluation could not be read ({exc.message})")
            return verdicts, HINT_LABEL
        if part is None:
            return verdicts, HINT_LABEL
        if not part.ok:
            said = " ".join(str(x) for x in (part.code, part.message) if x) or "no details"
            notes.append(f"Entra's What If evaluation is not available (HTTP {part.status}: {said})")
            return verdicts, HINT_LABEL
        return with_what_if(verdicts, parse_what_if(part.body), principal, apps), WHAT_IF_LABEL

    @staticmethod
    def _claims(ctx: Context) -> dict[str, Any] | None:
        from preflight.azure.facts import cloud, token

        try:
            return dict(ctx.get(token, ctx.get(cloud).arm_scope).claims)
        except FactError:
            return None


def _fix(verdict: Any, kind: str) -> str:
    if kind != "user":
        return "workload-identity Conditional Access applies: check the policy's conditions with the tenant admin"
    if any("MFA" in c or "strength" in c for c in verdict.controls):
        return (
            "interactive: az login (it will prompt for MFA); automation: sign in as a service principal or "
            "managed identity"
        )
    if any("device" in c for c in verdict.controls):
        return "sign in from a compliant / joined device, or use a service principal or managed identity in CI"
    return "see the policy in the Entra admin center (Protection → Conditional Access)"
