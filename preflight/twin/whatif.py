"""The twin's Conditional Access *What If* evaluation: ``POST /v1.0/identity/conditionalAccess/evaluate``.

Deliberately independent of preflight's own matching (``preflight/ca.py``): the twin plays Entra, and the product
is tested against it, so sharing code would make both wrong in the same way. It implements the documented
request and answer (https://learn.microsoft.com/graph/api/conditionalaccessroot-evaluate): a ``signInIdentity``
(``#microsoft.graph.userSignIn`` with ``userId``, or ``#microsoft.graph.servicePrincipalSignIn`` whose
``servicePrincipalId`` is the app id), a ``signInContext`` (``#microsoft.graph.applicationContext`` with
``includeApplications``), ``signInConditions`` and ``appliedPoliciesOnly``; the answer is a collection of
``whatIfAnalysisResult`` — each policy as stored, plus ``policyApplies`` and ``analysisReasons`` (``notSet`` when
it applies, else ``policyNotEnabled``, ``users``, ``workloadIdentities``, ``application`` or
``notEnoughInformation`` when the policy has conditions the request gave no details for).

What it evaluates: state, users (``All``, ids, ``None``, groups through transitive membership, exclusions win),
workload identities (``clientApplications.includeServicePrincipals`` / ``exclude…``, ``ServicePrincipalsInMyTenant``),
applications (``All``, app ids, ``excludeApplications``). Directory roles, guests, locations, platforms, devices,
client app types and risk levels are not modelled: a policy that uses them is ``notEnoughInformation`` unless an
evaluated condition already excludes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from preflight.twin import access
from preflight.twin.http import strip_twin_fields

USER_SIGN_IN = "#microsoft.graph.usersignin"
SP_SIGN_IN = "#microsoft.graph.serviceprincipalsignin"
APPLICATION_CONTEXT = "#microsoft.graph.applicationcontext"
# Conditions a sign-in must describe (signInConditions) before the twin can say whether they match.
_NEEDS_DETAILS = (
    "locations",
    "platforms",
    "devices",
    "userRiskLevels",
    "signInRiskLevels",
    "servicePrincipalRiskLevels",
    "insiderRiskLevels",
    "authenticationFlows",
)


class WhatIfRequestError(ValueError):
    """The request body is not a valid evaluate request (Graph answers 400 BadRequest)."""


def _lower(values: Any) -> set[str]:
    return {str(v).lower() for v in values or () if isinstance(v, str)}


def parse_request(body: Any) -> tuple[str, str, list[str], bool]:
    """(identity kind ``user``/``servicePrincipal``, its id, the app ids, appliedPoliciesOnly)."""
    if not isinstance(body, dict):
        raise WhatIfRequestError("The request body must be a JSON object.")
    identity = body.get("signInIdentity")
    context = body.get("signInContext")
    if (
        not isinstance(identity, dict)
        or not isinstance(context, dict)
        or not isinstance(body.get("signInConditions"), dict)
    ):
        raise WhatIfRequestError("signInIdentity, signInContext and signInConditions are required.")
    odata = str(identity.get("@odata.type") or "").lower()
    if odata == USER_SIGN_IN and identity.get("userId"):
        kind, who = "user", str(identity["userId"])
    elif odata == SP_SIGN_IN and identity.get("servicePrincipalId"):
        kind, who = "servicePrincipal", str(identity["servicePrincipalId"])
    else:
        raise WhatIfRequestError(
            "signInIdentity must be a userSignIn with userId or a servicePrincipalSignIn with servicePrincipalId."
        )
    if str(context.get("@odata.type") or "").lower() != APPLICATION_CONTEXT or not isinstance(
        context.get("includeApplications"), list
    ):
        raise WhatIfRequestError("signInContext must be an applicationContext with includeApplications.")
    only = body.get("appliedPoliciesOnly", False)
    return kind, who, [str(a) for a in context["includeApplications"]], bool(only)


def _user_reason(users: Mapping[str, Any], object_id: str, groups: set[str]) -> str | None:
    """None when the user is in scope, else the analysis reason."""
    oid = object_id.lower()
    if (
        oid in _lower(users.get("excludeUsers"))
        or "all" in _lower(users.get("excludeUsers"))
        or groups & _lower(users.get("excludeGroups"))
    ):
        return "users"
    include = _lower(users.get("includeUsers"))
    if "all" in include or oid in include or groups & _lower(users.get("includeGroups")):
        return None
    return "users"


def _workload_reason(conditions: Mapping[str, Any], sp_object_id: str | None) -> str | None:
    clients = conditions.get("clientApplications") or {}
    include = _lower(clients.get("includeServicePrincipals"))
    if not include or sp_object_id is None:
        return "workloadIdentities"
    sp = sp_object_id.lower()
    if sp in _lower(clients.get("excludeServicePrincipals")):
        return "workloadIdentities"
    if sp in include or "serviceprincipalsinmytenant" in include:
        return None
    return "workloadIdentities"


def _application_reason(applications: Mapping[str, Any], app_ids: Iterable[str]) -> str | None:
    wanted = {a.lower() for a in app_ids}
    if wanted & _lower(applications.get("excludeApplications")):
        return "application"
    include = _lower(applications.get("includeApplications"))
    return None if "all" in include or wanted & include else "application"


def _needs_details(conditions: Mapping[str, Any]) -> bool:
    if any(conditions.get(key) for key in _NEEDS_DETAILS):
        return True
    users = conditions.get("users") or {}
    if users.get("includeRoles") or users.get("excludeRoles") or users.get("includeGuestsOrExternalUsers"):
        return True
    return bool(_lower(conditions.get("clientAppTypes")) - {"all"})


def evaluate(scenario: Mapping[str, Any], kind: str, who: str, app_ids: list[str]) -> list[dict[str, Any]]:
    """Every policy of the scenario as a ``whatIfAnalysisResult`` (without the twin-only fields)."""
    directory = scenario.get("directory") or {}
    sp_object_id: str | None = None
    groups: set[str] = set()
    if kind == "user":
        groups = {g.lower() for g in access.transitive_groups(scenario, who)}
    else:
        sp = next(
            (s for s in directory.get("servicePrincipals") or [] if str(s.get("appId", "")).lower() == who.lower()),
            None,
        )
        sp_object_id = str(sp["id"]) if sp else None
    out = []
    for policy in directory.get("conditionalAccessPolicies") or []:
        conditions = policy.get("conditions") or {}
        if str(policy.get("state") or "enabled") == "disabled":
            reason: str | None = "policyNotEnabled"
        elif kind == "user":
            reason = _user_reason(conditions.get("users") or {}, who, groups)
        else:
            reason = _workload_reason(conditions, sp_object_id)
        reason = reason or _application_reason(conditions.get("applications") or {}, app_ids)
        if reason is None and _needs_details(conditions):
            reason = "notEnoughInformation"
        out.append(
            {**strip_twin_fields(policy), "policyApplies": reason is None, "analysisReasons": reason or "notSet"}
        )
    return out
