"""preflight.ca: which Conditional Access policies apply to whom on which app (preflight's own matching)."""

from __future__ import annotations

from typing import Any

from preflight.ca import (
    AZURE_MANAGEMENT_APP,
    COGNITIVE_SERVICES_APP,
    PolicyVerdict,
    Principal,
    evaluate,
    notes_for,
    token_hints,
)

ALICE = "a11ce000-0000-4000-8000-00000000a11c"
GROUP = "9a0d0000-0000-4000-8000-00000000a1de"
ADMIN_ROLE = "62e90394-69f5-4237-9190-012177145e10"
APPS = (AZURE_MANAGEMENT_APP, COGNITIVE_SERVICES_APP)


def policy(
    name: str,
    users: dict[str, Any],
    apps: list[str],
    controls: list[str] | None = None,
    *,
    state: str = "enabled",
    operator: str = "OR",
    **extra: Any,
) -> dict[str, Any]:
    conditions = {
        "users": users,
        "applications": {"includeApplications": apps, "excludeApplications": []},
        "clientAppTypes": ["all"],
        **extra.pop("conditions", {}),
    }
    grant = {"operator": operator, "builtInControls": controls or []} if controls is not None else None
    return {"id": name, "displayName": name, "state": state, "conditions": conditions, "grantControls": grant, **extra}


def one(policies: list[dict[str, Any]], who: Principal | None = None) -> PolicyVerdict:
    (verdict,) = evaluate(
        policies, who or Principal.of("user", ALICE, [GROUP]), APPS, group_names={GROUP: "AI developers"}
    )
    return verdict


def test_included_via_group_with_mfa() -> None:
    verdict = one([policy("mfa", {"includeGroups": [GROUP.upper()]}, [COGNITIVE_SERVICES_APP], ["mfa"])])
    assert verdict.applies and verdict.reason.startswith("includes you via group 'AI developers'")
    assert verdict.apps == (COGNITIVE_SERVICES_APP,)
    assert "requires MFA for you on Azure Cognitive Services" in verdict.hint
    assert "automation must use a service principal or managed identity" in verdict.hint


def test_exclusion_wins() -> None:
    verdict = one([policy("x", {"includeUsers": ["All"], "excludeGroups": [GROUP]}, ["All"], ["block"])])
    assert not verdict.applies and "excludes your group 'AI developers'" in verdict.reason
    assert not one([policy("y", {"includeUsers": ["All"], "excludeUsers": [ALICE]}, ["All"], ["mfa"])]).applies


def test_all_apps_and_other_apps() -> None:
    everything = one([policy("all", {"includeUsers": [ALICE]}, ["All"], ["compliantDevice"])])
    assert everything.applies and everything.apps == APPS and "all cloud apps" in everything.reason
    other = one([policy("spo", {"includeUsers": ["All"]}, ["00000003-0000-0ff1-ce00-000000000000"], ["mfa"])])
    assert not other.applies and other.reason.endswith("targets only other apps")
    portal = one([policy("portal", {"includeUsers": ["All"]}, ["MicrosoftAdminPortals"], ["mfa"])])
    assert portal.applies and portal.apps == ("portal",) and "the Azure portal" in portal.hint


def test_excluded_application_is_not_targeted() -> None:
    p = policy("all-but", {"includeUsers": ["All"]}, ["All"], ["mfa"])
    p["conditions"]["applications"]["excludeApplications"] = APPS
    assert not one([p]).applies


def test_states() -> None:
    report_only = one(
        [policy("ro", {"includeUsers": ["All"]}, ["All"], ["mfa"], state="enabledForReportingButNotEnforced")]
    )
    assert report_only.applies and report_only.report_only and "report-only" in report_only.hint
    disabled = one([policy("off", {"includeUsers": ["All"]}, ["All"], ["block"], state="disabled")])
    assert not disabled.applies and disabled.reason.startswith("disabled")


def test_roles_guests_and_none() -> None:
    admin = Principal.of("user", ALICE, roles=[ADMIN_ROLE])
    assert one([policy("r", {"includeRoles": [ADMIN_ROLE]}, ["All"], ["mfa"])], admin).applies
    guest = Principal.of("user", ALICE, guest=True)
    assert one([policy("g", {"includeUsers": ["GuestsOrExternalUsers"]}, ["All"], ["mfa"])], guest).applies
    assert not one([policy("g", {"includeUsers": ["GuestsOrExternalUsers"]}, ["All"], ["mfa"])]).applies
    assert not one([policy("n", {"includeUsers": ["None"]}, ["All"], ["mfa"])]).applies


def test_controls_in_plain_language() -> None:
    strength = policy("s", {"includeUsers": ["All"]}, ["All"], [])
    strength["grantControls"]["authenticationStrength"] = {"id": "x", "displayName": "Phishing-resistant MFA"}
    assert one([strength]).controls == ("authentication strength 'Phishing-resistant MFA'",)
    both = one([policy("d", {"includeUsers": ["All"]}, ["All"], ["compliantDevice", "domainJoinedDevice"])])
    assert both.controls == ("a compliant device or a hybrid Microsoft Entra joined device",)
    anded = one([policy("a", {"includeUsers": ["All"]}, ["All"], ["mfa", "compliantDevice"], operator="AND")])
    assert anded.controls == ("MFA and a compliant device",)
    sif = policy(
        "f",
        {"includeUsers": ["All"]},
        ["All"],
        None,
        sessionControls={"signInFrequency": {"value": 8, "type": "hours", "isEnabled": True}},
    )
    verdict = one([sif])
    assert verdict.frequency == "every 8 hours" and "az login again" in verdict.hint
    blocked = one([policy("b", {"includeUsers": ["All"]}, ["All"], ["block"])])
    assert blocked.blocks and "AADSTS53003" in blocked.hint


def test_unevaluated_conditions_are_named_not_guessed() -> None:
    p = policy(
        "loc",
        {"includeUsers": ["All"]},
        ["All"],
        ["block"],
        conditions={
            "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
            "clientAppTypes": ["exchangeActiveSync", "other"],
        },
    )
    verdict = one([p])
    assert verdict.applies and verdict.only_when == (
        "from certain locations",
        "for client app types exchangeActiveSync, other",
    )
    assert "only from certain locations" in verdict.hint


def test_workload_identities() -> None:
    sp = Principal.of("servicePrincipal", "dddddddd-0000-4000-8000-000000000001")
    user_policy = one([policy("u", {"includeUsers": ["All"]}, ["All"], ["mfa"])], sp)
    assert not user_policy.applies and "workload identities are not subject" in user_policy.reason
    wl = policy(
        "wl",
        {"includeUsers": ["None"]},
        ["All"],
        ["block"],
        conditions={"clientApplications": {"includeServicePrincipals": ["ServicePrincipalsInMyTenant"]}},
    )
    verdict = one([wl], sp)
    assert verdict.applies and "this service principal" in verdict.hint
    mi = Principal.of("managedIdentity", "dddddddd-0000-4000-8000-000000000007")
    assert not one([wl], mi).applies


def test_token_hints() -> None:
    mfa = one([policy("m", {"includeUsers": ["All"]}, ["All"], ["mfa"])])
    assert token_hints(None).mfa is None
    no_mfa = token_hints({"amr": ["pwd"]})
    assert no_mfa.mfa is False and no_mfa.device is False
    assert "without MFA" in notes_for(mfa, no_mfa)[0]
    assert notes_for(mfa, token_hints({"amr": ["pwd", "mfa"], "deviceid": "d"})) == ()
    device = one([policy("d", {"includeUsers": ["All"]}, ["All"], ["compliantDevice"])])
    assert "no device id" in notes_for(device, no_mfa)[0]
