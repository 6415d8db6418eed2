"""Conditional Access, pure: which policies would apply to a principal on the target's apps, and what that means.

Why: "AADSTS50076 / 53000 / 53003" surprises people because the policy that caused it lives in a tenant
setting they never see. Given the policies (Graph ``conditionalAccessPolicy`` objects), who the principal is
(its id, groups, directory roles, guest or not) and which applications its tokens are for, this module says
which policies target it and turns their grant and session controls into plain-language hints.

This is **preflight's own matching, a hint** — not Entra's evaluation. It reads users / groups / roles and
applications; conditions it cannot know from here (named locations, device platforms, client app types, risk
levels) are listed as "only when …" instead of guessed. Where the tenant answers Graph's What If evaluation
(``identity/conditionalAccess/evaluate``), :func:`with_what_if` lets Entra's verdict decide whether each policy
applies (:func:`what_if_request` builds the request, :func:`parse_what_if` reads the answer).

User policies never apply to service principals or managed identities; workload-identity policies
(``conditions.clientApplications``) apply to single-tenant service principals only — not managed identities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# The apps and their names: the catalogue is preflight.first_party (re-exported: callers name them from here too).
from preflight.first_party import APP_NAMES as APP_NAMES
from preflight.first_party import AZURE_MANAGEMENT_APP as AZURE_MANAGEMENT_APP
from preflight.first_party import AZURE_ML_APP as AZURE_ML_APP
from preflight.first_party import COGNITIVE_SERVICES_APP as COGNITIVE_SERVICES_APP
from preflight.first_party import ML_SERVICES_APP as ML_SERVICES_APP
from preflight.first_party import app_label as app_label

PrincipalKind = Literal["user", "servicePrincipal", "managedIdentity"]

# Conditions this module cannot evaluate from here, with how to say them.
_UNEVALUATED = {
    "locations": "from certain locations",
    "platforms": "on certain device platforms",
    "devices": "for certain devices",
    "userRiskLevels": "at certain user risk levels",
    "signInRiskLevels": "at certain sign-in risk levels",
    "servicePrincipalRiskLevels": "at certain service-principal risk levels",
    "insiderRiskLevels": "at certain insider risk levels",
}
WORKLOAD_NOTE = (
    "workload identities are not subject to user Conditional Access policies unless "
    "workload-identity Conditional Access is configured"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is signing in, as far as Conditional Access cares."""

    kind: PrincipalKind
    object_id: str
    group_ids: frozenset[str] = frozenset()
    role_template_ids: frozenset[str] = frozenset()
    guest: bool = False

    @classmethod
    def of(
        cls,
        kind: PrincipalKind,
        object_id: str,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        guest: bool = False,
    ) -> Principal:
        return cls(
            kind, object_id.lower(), frozenset(g.lower() for g in groups), frozenset(r.lower() for r in roles), guest
        )


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    """One policy against the principal and the apps. ``applies`` is preflight's reading (a hint)."""

    policy_id: str
    name: str
    state: str  # enabled | enabledForReportingButNotEnforced | disabled
    applies: bool
    reason: str  # why it applies or not ("includes you via group 'AI devs'", "excludes you", …)
    apps: tuple[str, ...] = ()  # which of the checked apps it targets (app ids; "portal" for admin portals)
    controls: tuple[str, ...] = ()  # plain-language requirements ("MFA", "a compliant device", "block" …)
    only_when: tuple[str, ...] = ()  # conditions not evaluated here
    frequency: str | None = None  # sign-in frequency, plain language
    hint: str = ""
    evaluated_by: str = "preflight"  # "preflight" (own matching, a hint) or "entra" (Graph's What If)

    @property
    def enforced(self) -> bool:
        return self.state == "enabled"

    @property
    def report_only(self) -> bool:
        return self.state == "enabledForReportingButNotEnforced"

    @property
    def blocks(self) -> bool:
        return "block" in self.controls

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.policy_id,
            "name": self.name,
            "state": self.state,
            "applies": self.applies,
            "reason": self.reason,
            "apps": list(self.apps),
            "app_names": [APP_NAMES.get(a, a) for a in self.apps],
            "controls": list(self.controls),
            "only_when": list(self.only_when),
            "sign_in_frequency": self.frequency,
            "evaluated_by": self.evaluated_by,
        }


def _ids(values: Any) -> set[str]:
    return {str(v).lower() for v in values or () if isinstance(v, str)}


def _names(ids: Iterable[str], names: Mapping[str, str]) -> str:
    return ", ".join(f"'{names.get(i, i)}'" for i in sorted(ids))


def _user_scope(users: Mapping[str, Any], who: Principal, group_names: Mapping[str, str]) -> tuple[bool, str]:
    """(included and not excluded, why) for ``conditions.users``."""
    include_users = _ids(users.get("includeUsers"))
    include_groups = _ids(users.get("includeGroups"))
    include_roles = _ids(users.get("includeRoles"))
    included: str | None = None
    if "all" in include_users:
        included = "targets all users"
    elif who.object_id in include_users:
        included = "names you"
    elif (who.guest and "guestsorexternalusers" in include_users) or (
        users.get("includeGuestsOrExternalUsers") and who.guest
    ):
        included = "targets guests and external users"
    elif hits := include_groups & who.group_ids:
        included = f"includes you via group {_names(hits, group_names)}"
    elif hits := include_roles & who.role_template_ids:
        included = f"includes your directory role {_names(hits, {})}"
    if included is None:
        return False, "does not include you"
    if who.object_id in _ids(users.get("excludeUsers")):
        return False, f"{included} but excludes you"
    if who.guest and (
        "guestsorexternalusers" in _ids(users.get("excludeUsers")) or users.get("excludeGuestsOrExternalUsers")
    ):
        return False, f"{included} but excludes guests and external users"
    if hits := _ids(users.get("excludeGroups")) & who.group_ids:
        return False, f"{included} but excludes your group {_names(hits, group_names)}"
    if hits := _ids(users.get("excludeRoles")) & who.role_template_ids:
        return False, f"{included} but excludes your directory role {_names(hits, {})}"
    return True, included


def _workload_scope(conditions: Mapping[str, Any], who: Principal) -> tuple[bool, str]:
    """Workload-identity Conditional Access: ``conditions.clientApplications`` (single-tenant SPs only)."""
    client_apps = conditions.get("clientApplications") or {}
    include = _ids(client_apps.get("includeServicePrincipals"))
    if who.kind == "managedIdentity":
        return False, "user and workload-identity policies do not apply to managed identities"
    if not include:
        return False, "a user policy (" + WORKLOAD_NOTE + ")"
    if not ({"serviceprincipalsinmytenant", who.object_id} & include):
        return False, "a workload-identity policy that does not include this service principal"
    if who.object_id in _ids(client_apps.get("excludeServicePrincipals")):
        return False, "a workload-identity policy that excludes this service principal"
    return True, "a workload-identity policy that includes this service principal"


def _app_scope(apps: Mapping[str, Any], app_ids: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """Which of ``app_ids`` the policy targets, and why (or why none)."""
    include = _ids(apps.get("includeApplications"))
    exclude = _ids(apps.get("excludeApplications"))
    wanted = [a.lower() for a in app_ids]
    if "all" in include:
        hit = tuple(a for a in wanted if a not in exclude)
        return hit, "targets all cloud apps" if hit else "targets all apps but excludes these"
    hit = tuple(a for a in wanted if a in include and a not in exclude)
    if hit:
        return hit, "targets " + ", ".join(app_label(a) for a in hit)
    if "microsoftadminportals" in include:
        # Microsoft Admin Portals covers the Azure portal and other admin centres, not API tokens from SDKs/az.
        return ("portal",), "targets Microsoft Admin Portals (the Azure portal, not SDK or CLI tokens)"
    if apps.get("includeUserActions") or apps.get("includeAuthenticationContextClassReferences"):
        return (), "targets user actions or authentication contexts, not these apps"
    return (), "targets only other apps"


def _controls(policy: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    grant = policy.get("grantControls") or {}
    controls: list[str] = []
    names = {
        "mfa": "MFA",
        "compliantdevice": "a compliant device",
        "domainjoineddevice": "a hybrid Microsoft Entra joined device",
        "approvedapplication": "an approved client app",
        "compliantapplication": "an app protection policy",
        "passwordchange": "a password change",
        "block": "block",
    }
    for control in grant.get("builtInControls") or ():
        controls.append(names.get(str(control).lower(), str(control)))
    strength = grant.get("authenticationStrength")
    if isinstance(strength, Mapping):
        controls.append(f"authentication strength '{strength.get('displayName') or strength.get('id')}'")
    if grant.get("termsOfUse"):
        controls.append("accepting terms of use")
    frequency = None
    session = policy.get("sessionControls") or {}
    sif = session.get("signInFrequency") if isinstance(session, Mapping) else None
    if isinstance(sif, Mapping) and sif.get("isEnabled", True):
        if str(sif.get("frequencyInterval", "")).lower() == "everytime":
            frequency = "every time"
        elif sif.get("value"):
            frequency = f"every {sif['value']} {sif.get('type') or 'hours'}"
    if len(controls) > 1 and "block" not in controls:
        joiner = " and " if str(grant.get("operator", "OR")).upper() == "AND" else " or "
        controls = [joiner.join(controls)]
    return tuple(controls), frequency


def _only_when(conditions: Mapping[str, Any]) -> tuple[str, ...]:
    out = [text for key, text in _UNEVALUATED.items() if conditions.get(key)]
    client_types = [str(t) for t in conditions.get("clientAppTypes") or () if str(t).lower() != "all"]
    if client_types:
        out.append("for client app types " + ", ".join(client_types))
    return tuple(out)


def evaluate(
    policies: Sequence[Mapping[str, Any]],
    who: Principal,
    app_ids: Sequence[str],
    *,
    group_names: Mapping[str, str] | None = None,
) -> tuple[PolicyVerdict, ...]:
    """Every policy's verdict for ``who`` on ``app_ids`` (disabled ones included, with applies=False)."""
    verdicts = []
    names = {k.lower(): v for k, v in (group_names or {}).items()}
    for policy in policies:
        state = str(policy.get("state") or "enabled")
        name = str(policy.get("displayName") or policy.get("id") or "?")
        conditions = policy.get("conditions") or {}
        controls, frequency = _controls(policy)
        base: dict[str, Any] = {
            "policy_id": str(policy.get("id") or ""),
            "name": name,
            "state": state,
            "controls": controls,
            "frequency": frequency,
            "only_when": _only_when(conditions),
        }
        if who.kind == "user":
            ok, why = _user_scope(conditions.get("users") or {}, who, names)
        else:
            ok, why = _workload_scope(conditions, who)
        apps, app_why = _app_scope(conditions.get("applications") or {}, app_ids)
        if state == "disabled":
            verdicts.append(PolicyVerdict(**base, applies=False, reason=f"disabled ({why}; {app_why})", apps=apps))
            continue
        applies = ok and bool(apps)
        reason = f"{why}; {app_why}"
        verdict = PolicyVerdict(**base, applies=applies, reason=reason, apps=apps)
        verdicts.append(_with_hint(verdict, who) if applies else verdict)
    return tuple(verdicts)


def _with_hint(v: PolicyVerdict, who: Principal) -> PolicyVerdict:
    from dataclasses import replace

    label = {"enabled": "enabled", "enabledForReportingButNotEnforced": "report-only"}.get(v.state, v.state)
    apps = "the Azure portal" if v.apps == ("portal",) else ", ".join(app_label(a) for a in v.apps)
    you = "you" if who.kind == "user" else "this service principal"
    if v.blocks:
        what = f"blocks {you} on {apps}: tokens are refused (AADSTS53003)"
    elif v.controls:
        what = f"requires {'; '.join(v.controls)} for {you} on {apps}"
    elif v.frequency:
        what = f"applies to {you} on {apps}"
    else:
        what = f"applies to {you} on {apps} (no grant control)"
    parts = [f"policy '{v.name}' ({label}) {what}"]
    if v.only_when:
        parts.append("only " + ", ".join(v.only_when))
    if who.kind == "user":
        if any("MFA" in c or "authentication strength" in c for c in v.controls):
            parts.append(
                "interactive sign-ins will prompt; automation must use a service principal or managed "
                f"identity ({WORKLOAD_NOTE})"
            )
        if any("device" in c for c in v.controls):
            parts.append(
                "tokens from an unmanaged machine, container or CI runner are refused (AADSTS53000); "
                "automation must use a service principal or managed identity"
            )
    if v.frequency:
        parts.append(
            f"sign-in is required again {v.frequency}: long jobs using a user sign-in will need az login again"
        )
    if v.report_only:
        parts.append("report-only: evaluated and logged, not enforced")
    return replace(v, hint="; ".join(parts))


@dataclass(frozen=True, slots=True)
class WhatIf:
    """Entra's What If answer for one policy: does it apply, and if not why (``analysisReasons``)."""

    applies: bool
    reasons: str

    @property
    def undecided(self) -> bool:
        """Entra lacked details of the sign-in (location, device …) to decide: preflight's reading stays."""
        return not self.applies and "notenoughinformation" in self.reasons.lower()


def what_if_request(
    kind: PrincipalKind, object_id: str | None, app_id: str | None, app_ids: Sequence[str]
) -> dict[str, Any] | None:
    """The body of ``POST identity/conditionalAccess/evaluate`` for this principal on ``app_ids``, or None when
    What If cannot describe it (a managed identity; a user without object id). No sign-in conditions are sent:
    preflight does not know the location or device of the future sign-in, and Entra then says
    ``notEnoughInformation`` for policies that depend on them instead of guessing.
    https://learn.microsoft.com/graph/api/conditionalaccessroot-evaluate"""
    if kind == "user" and object_id:
        identity = {"@odata.type": "#microsoft.graph.userSignIn", "userId": object_id}
    elif kind == "servicePrincipal" and app_id:
        # servicePrincipalSignIn names the app id, not the service principal's object id
        identity = {"@odata.type": "#microsoft.graph.servicePrincipalSignIn", "servicePrincipalId": app_id}
    else:
        return None
    return {
        "signInIdentity": identity,
        "signInContext": {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": list(app_ids)},
        "signInConditions": {},
        "appliedPoliciesOnly": False,
    }


def parse_what_if(body: Any) -> dict[str, WhatIf]:
    """Policy id (lower-case) → Entra's verdict, from a ``whatIfAnalysisResult`` collection."""
    found: dict[str, WhatIf] = {}
    items = body.get("value") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("id") and isinstance(item.get("policyApplies"), bool):
            found[str(item["id"]).lower()] = WhatIf(item["policyApplies"], str(item.get("analysisReasons") or ""))
    return found


def with_what_if(
    verdicts: Sequence[PolicyVerdict], results: Mapping[str, WhatIf], who: Principal, app_ids: Sequence[str]
) -> tuple[PolicyVerdict, ...]:
    """The verdicts with Entra's What If deciding ``applies`` where it decided; preflight's reading stays (and
    says so) for policies Entra did not return, could not decide (``notEnoughInformation``), or that are
    disabled. Controls, sign-in frequency and "only when" conditions are still read from the policy."""
    from dataclasses import replace

    out = []
    for v in verdicts:
        result = results.get(v.policy_id.lower())
        if result is None or result.undecided or v.state == "disabled":
            out.append(v)
            continue
        said = "applies" if result.applies else f"does not apply ({result.reasons or 'no reason given'})"
        decided = replace(
            v,
            applies=result.applies,
            evaluated_by="entra",
            hint="",
            reason=f"Entra's What If: {said}; preflight's reading: {v.reason}",
            apps=v.apps or tuple(app_ids),
        )
        out.append(_with_hint(decided, who) if result.applies else decided)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TokenHints:
    """What the current token's claims say about MFA and the device (never the claim values themselves)."""

    mfa: bool | None = None
    device: bool | None = None


def token_hints(claims: Mapping[str, Any] | None) -> TokenHints:
    """``amr`` contains ``mfa``? A ``deviceid`` claim present? (None when there are no claims.)"""
    if not claims:
        return TokenHints()
    amr = claims.get("amr")
    mfa = isinstance(amr, list) and any(str(a).lower() in ("mfa", "ngcmfa") for a in amr)
    return TokenHints(mfa, bool(claims.get("deviceid")))


def notes_for(verdict: PolicyVerdict, hints: TokenHints) -> tuple[str, ...]:
    """What the current token says about one applicable policy's requirements."""
    if not verdict.applies or not verdict.enforced:
        return ()
    notes = []
    if hints.mfa is False and any("MFA" in c or "authentication strength" in c for c in verdict.controls):
        notes.append(
            "your current token was issued without MFA (amr has no 'mfa'): the next token for these apps "
            "will require it, and non-interactive tools get AADSTS50076"
        )
    if hints.device is False and any("device" in c for c in verdict.controls):
        notes.append(
            "your current token carries no device id: this sign-in did not come from a registered "
            "device, so the policy will refuse it (AADSTS53000)"
        )
    return tuple(notes)
