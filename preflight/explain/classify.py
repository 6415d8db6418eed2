"""What one error means: a :class:`Fragment` → an :class:`Explanation` with cause, fix, commands and the check
that verifies the fix. Pure: no I/O, so every category is tested on text alone.

Order of knowledge: an AADSTS code goes to :mod:`preflight.aadsts`; an azure-identity chain entry gets
signin.chain's reading (unavailable: the chain moves on; failed: the chain stops there); ARM's error codes are
read by code, then by ARM's own wording; everything else is a data-plane answer, read by
:func:`preflight.dataplane.classify_probe` after the key-authentication answers it does not know.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from preflight.aadsts import AadstsInfo, classify_error, format_fix
from preflight.chain import LINKS_BY_KEY, link_fix, login_command
from preflight.dataplane import ProbeVerdict, classify_probe
from preflight.explain.model import Explanation, Fragment, Source

_GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_ACCOUNT_ID = re.compile(r"/subscriptions/[^/\s'\"`]+/resourceGroups/[^/\s'\"`]+/providers/"
                         r"Microsoft\.CognitiveServices/accounts/[^/\s'\"`]+", re.IGNORECASE)
_PRINCIPAL = re.compile(rf"(?:principal|object id)\s*[`'\"]?({_GUID})", re.IGNORECASE)
_ARM_ACTION = re.compile(r"perform action '([^']+)'(?: (?:over|on) scope '([^']+)')?", re.IGNORECASE)
# any provider's data action (classify_probe names Cognitive Services' ones; Azure ML's read the same way)
_DATA_ACTION = re.compile(r"data action [`'\"]?([A-Za-z]+\.[A-Za-z]+/[^\s`'\"]+)")
_TENANT_IN_ISSUER = re.compile(rf"must match the tenant '[^']*?({_GUID})", re.IGNORECASE)
_LINKED_SUBSCRIPTION = re.compile(rf"linked subscription '({_GUID})'", re.IGNORECASE)

_AI_SCOPE = "https://cognitiveservices.azure.com/.default"
_RBAC_DOCS = "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control"
_ARM_ERRORS_DOCS = "https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors"

# The `preflight check --only …` that shows a fix worked, by category (docs/explain.md lists them).
VERIFY: dict[str, str] = {
    "permission_denied": "preflight check --only rbac.data-action,rbac.deny,access.probe --probe",
    "audience": "preflight check --only tokens.scope,access.probe --probe",
    "tenant": "preflight check --only signin.tenants,tokens.scope,access.probe --probe",
    "custom_subdomain": "preflight check --only resource.endpoint,access.probe --probe",
    "keys_disabled": "preflight check --only resource.endpoint,rbac.data-action,access.probe --probe",
    "network": "preflight check --only resource.endpoint,access.probe --probe",
    "invalid_key": "preflight check --only env.config,resource.endpoint",
    "gateway_key": "preflight check --only resource.endpoint,access.probe --probe",
    "throttled": "preflight check --only access.probe --probe",
    "not_found": "preflight check --only resource.endpoint,access.probe --probe",
    "authorization_failed": "preflight check --only rbac.data-action,rbac.deny,rbac.propagation",
    "token_tenant": "preflight check --only signin.tenants,tokens.scope",
    "token_expired": "preflight check --only signin.chain,tokens.scope",
    "token_audience": "preflight check --only tokens.scope",
    "linked_authorization_failed": "preflight check --only signin.tenants,rbac.data-action",
    "credential_unavailable": "preflight check --only signin.chain",
    "credential_failed": "preflight check --only signin.chain,signin.identity",
    "entra": "preflight check --only signin.chain,signin.identity",
    "conditional_access": "preflight check --only signin.chain,access.conditional-access",
    "unknown": "preflight check",
}


def _least_privilege_role(action: str, data_action: bool) -> tuple[str, str] | None:
    """The least-privilege built-in role granting ``action`` as (role definition GUID, name), or None.

    The one place the recommendation comes from. For now: the profiles' roles (preflight/profiles.json), each the
    least-privilege built-in role for the actions its profile requires; an action no profile lists gets None and
    the command keeps a ``<ROLE>`` placeholder. Meant to be replaced by the shipped catalogue of built-in roles.
    """
    from preflight.profiles import profiles

    wanted = action.lower()
    for profile in profiles().values():
        if any(r.action.lower() == wanted and r.data == data_action for r in profile.requirements):
            return profile.role_id, profile.role_name
    return None


def _assign(principal: str | None, role: tuple[str, str] | None, scope: str | None) -> str:
    """The assignment command; what the text does not say stays a ``<PLACEHOLDER>`` the user fills in."""
    return (f"az role assignment create --assignee-object-id {principal or '<PRINCIPAL_ID>'} "
            f"--role {role[0] if role else '<ROLE>'} --scope {scope or '<SCOPE>'}")


def _principal(text: str) -> str | None:
    match = _PRINCIPAL.search(text)
    return match.group(1) if match else None


def explain_fragment(fragment: Fragment, paste: str) -> Explanation:
    """The explanation of one fragment; ``paste`` (redacted) is the whole text, read for context the fragment
    itself lacks (the account's ARM id, for instance)."""
    if fragment.credential:
        return _credential(fragment)
    if fragment.entra:
        return _aadsts(fragment, Source.ENTRA) or _unknown(fragment, Source.ENTRA)
    arm = _arm(fragment)
    if arm is not None:
        return arm
    if (info := _aadsts(fragment, Source.ENTRA)) is not None:  # an AADSTS text inside another rendering
        return info
    return _data_plane(fragment, paste)


# ------------------------------------------------------------------------------------------------ Entra / chain

def _from_aadsts(info: AadstsInfo, fragment: Fragment, source: Source) -> Explanation:
    info = format_fix(info)
    category = info.category.value
    return Explanation(category, source, f"AADSTS{info.code}: {info.title}", info.cause, info.fix,
                       VERIFY["conditional_access" if info.ca_policy else "entra"], code=info.code,
                       status=fragment.status, message=fragment.message[:600], docs=info.docs,
                       credential=fragment.credential, conditional_access=info.ca_policy,
                       rank=10 if info.known else 45)


def _aadsts(fragment: Fragment, source: Source) -> Explanation | None:
    info = classify_error(fragment.message) or (classify_error(fragment.code) if fragment.code else None)
    return _from_aadsts(info, fragment, source) if info is not None else None


# azure-identity's wording for "not configured here" (CredentialUnavailableError); DefaultAzureCredential also
# reports a developer tool's failure this way, so any of these means the chain moved on.
_UNAVAILABLE = re.compile(r"unavailable|not installed|not found on path|could not be found|not fully configured"
                          r"|no accounts were found|please run '?az login|run 'azd auth login'|not logged in"
                          r"|failed to invoke the azure cli|connect-azaccount|no response from the imds"
                          r"|extension not found|not signed in", re.IGNORECASE)


def _credential(fragment: Fragment) -> Explanation:
    """One chain entry, read as signin.chain reads a probe: an AADSTS refusal is classified by its code; else
    unavailable (the chain moved on: how to make it available) or failed (the chain stopped here)."""
    name = fragment.credential or ""
    key = next((k for k, link in LINKS_BY_KEY.items() if link.name == name), "")
    if (info := _aadsts(fragment, Source.CREDENTIAL)) is not None:
        return info
    if _UNAVAILABLE.search(fragment.message):
        fix = link_fix(key, {}, None) or f"configure {name}, or exclude it from the chain"
        return Explanation("credential_unavailable", Source.CREDENTIAL, f"{name} is unavailable",
                           f"{name} is not configured here; DefaultAzureCredential skipped it and tried the next "
                           "credential.", fix, VERIFY["credential_unavailable"], message=fragment.message[:600],
                           commands=(fix,) if fix in ("az login", "azd auth login", "Connect-AzAccount") else (),
                           credential=name, rank=40)
    return Explanation("credential_failed", Source.CREDENTIAL, f"{name} tried and failed",
                       f"{name} is configured but could not get a token; DefaultAzureCredential stops at the first "
                       "credential that fails, so the ones after it were never tried.",
                       f"fix or remove the {name} configuration (its own message says what it hit), or set "
                       f"AZURE_TOKEN_CREDENTIALS to the credential you mean", VERIFY["credential_failed"],
                       message=fragment.message[:600], credential=name, rank=20)


# -------------------------------------------------------------------------------------------------------- ARM

def _arm(fragment: Fragment) -> Explanation | None:
    code, message = fragment.code or "", fragment.message
    low = message.lower()
    rule = next((handler for test, handler in _ARM_RULES if test(code, low)), None)
    return rule(fragment) if rule is not None else None


def _authorization_failed(fragment: Fragment) -> Explanation:
    found = _ARM_ACTION.search(fragment.message)
    action, scope = (found.group(1), found.group(2)) if found else (None, None)
    role = _least_privilege_role(action, data_action=False) if action else None
    principal = _principal(fragment.message)
    command = _assign(principal, role, scope)
    role_text = f"the built-in role {role[1]} ({role[0]})" if role else "a built-in role granting it (least " \
        "privilege: the role with the fewest actions that includes it)"
    return Explanation(
        "authorization_failed", Source.ARM, f"ARM refused {action or 'an action'}",
        f"No role assigned to the principal grants {action or 'the action'} at {scope or 'that scope'} or above "
        "(or the scope does not exist). A role assigned minutes ago may not be effective yet.",
        f"assign {role_text} at the scope, then sign in again to refresh the token", VERIFY["authorization_failed"],
        code=fragment.code or "AuthorizationFailed", status=fragment.status, message=fragment.message[:600],
        commands=(command,), docs=_ARM_ERRORS_DOCS, action=action, scope=scope, principal=principal, role=role,
        rank=5)


def _token_tenant(fragment: Fragment) -> Explanation:
    found = _TENANT_IN_ISSUER.search(fragment.message)
    tenant = found.group(1) if found else None
    return Explanation(
        "token_tenant", Source.ARM, "Token from the wrong tenant",
        "The access token was issued by another tenant than the one the subscription belongs to (a guest account, "
        "or a CLI signed in to its home tenant).",
        f"sign in to the subscription's tenant{f' ({tenant})' if tenant else ''} and retry",
        VERIFY["token_tenant"], code=fragment.code or "InvalidAuthenticationTokenTenant",
        status=fragment.status, message=fragment.message[:600], commands=(login_command(tenant),),
        docs=_ARM_ERRORS_DOCS, rank=8)


def _token_expired(fragment: Fragment) -> Explanation:
    return Explanation(
        "token_expired", Source.ARM, "Expired access token",
        "ARM received a token past its expiry: a cached token was reused (a long-running process, a token copied "
        "into a variable) instead of asking the credential for a fresh one.",
        "let the SDK's credential fetch tokens on each call instead of caching one; for the CLI, sign in again",
        VERIFY["token_expired"], code=fragment.code or "ExpiredAuthenticationToken", status=fragment.status,
        message=fragment.message[:600], commands=("az account get-access-token --output none",),
        docs=_ARM_ERRORS_DOCS, rank=8)


def _token_audience(fragment: Fragment) -> Explanation:
    return Explanation(
        "token_audience", Source.ARM, "Token for another audience",
        "ARM accepts only tokens for https://management.azure.com/ — this one was requested for another resource "
        "(e.g. the Cognitive Services scope).",
        "request the token for the scope https://management.azure.com/.default", VERIFY["token_audience"],
        code=fragment.code or "InvalidAuthenticationTokenAudience", status=fragment.status,
        message=fragment.message[:600], expected_audience="https://management.azure.com/", docs=_ARM_ERRORS_DOCS,
        rank=8)


def _linked(fragment: Fragment) -> Explanation:
    found = _ARM_ACTION.search(fragment.message)
    linked = _LINKED_SUBSCRIPTION.search(fragment.message)
    return Explanation(
        "linked_authorization_failed", Source.ARM, "Refused on a linked resource",
        "You may perform the action on the resource itself, but it references another resource (a subnet, an "
        "identity, an image) in a scope or tenant where you lack the linked permission"
        + (f" (linked subscription {linked.group(1)})" if linked else "") + ".",
        "get the linked permission on the referenced resource (e.g. .../join/action or .../assign/action), or sign "
        "in with an account of the tenant that owns the linked subscription", VERIFY["linked_authorization_failed"],
        code=fragment.code or "LinkedAuthorizationFailed", status=fragment.status,
        message=fragment.message[:600], action=found.group(1) if found else None,
        scope=found.group(2) if found else None, docs=_ARM_ERRORS_DOCS, rank=6)


_ARM_RULES: tuple[tuple[Callable[[str, str], bool], Callable[[Fragment], Explanation]], ...] = (
    (lambda code, low: code == "LinkedAuthorizationFailed" or "linked subscription" in low
     or "linked scope" in low, _linked),
    (lambda code, low: code == "AuthorizationFailed" or "does not have authorization to perform action" in low,
     _authorization_failed),
    (lambda code, low: code == "InvalidAuthenticationTokenTenant" or "access token is from the wrong issuer" in low,
     _token_tenant),
    (lambda code, low: code == "ExpiredAuthenticationToken" or "lifetime validation failed, the token is expired"
     in low, _token_expired),
    (lambda code, low: code == "InvalidAuthenticationTokenAudience" or "access token has been obtained for wrong "
     "audience" in low, _token_audience),
)


# ------------------------------------------------------------------------------------------------- data plane

_KEY_ANSWERS = (
    ("gateway_key", re.compile(r"missing subscription key|ocp-apim-subscription-key|subscription key.*api "
                               r"management|invalid subscription key\. make sure", re.IGNORECASE)),
    ("invalid_key", re.compile(r"invalid subscription key or wrong api endpoint|incorrect api key|"
                               r"invalid api key", re.IGNORECASE)),
)


# A raw body carries no status line: these codes say it for themselves.
_CODE_STATUS = {"DeploymentNotFound": 404, "NotFound": 404, "ResourceNotFound": 404, "TooManyRequests": 429,
                "RateLimitExceeded": 429, "PermissionDenied": 403, "AuthenticationTypeDisabled": 403}


def _status(fragment: Fragment) -> int:
    if fragment.status:
        return fragment.status
    code = fragment.code or ""
    return int(code) if code.isdigit() and len(code) == 3 else _CODE_STATUS.get(code, 0)


def _data_plane(fragment: Fragment, paste: str) -> Explanation:
    status = _status(fragment)
    for category, pattern in _KEY_ANSWERS:
        if pattern.search(fragment.message):
            return _key_answer(category, fragment)
    verdict = classify_probe(status, {"error": {"code": fragment.code or "", "message": fragment.message}})
    kind = verdict.kind
    if kind == "permission_denied" and fragment.code != "PermissionDenied" and "data action" not in \
            fragment.message.lower():
        kind = "unknown"  # a bare 401/403 says nothing about its cause: do not guess RBAC
    builder = _DATA_PLANE.get(kind)
    if builder is None:
        return _unknown(fragment, Source.DATA_PLANE)
    return builder(fragment, verdict, paste)


def _key_answer(category: str, fragment: Fragment) -> Explanation:
    if category == "gateway_key":
        return Explanation(
            "gateway_key", Source.DATA_PLANE, "API Management wants its own subscription key",
            "An Azure API Management gateway in front of the service refused the call before it reached Azure "
            "OpenAI: it requires its subscription key (Ocp-Apim-Subscription-Key), whatever Entra token you send.",
            "send the gateway's subscription key in the Ocp-Apim-Subscription-Key header (from the APIM "
            "subscription), or call the account's own endpoint; the gateway then forwards with its managed identity",
            VERIFY["gateway_key"], code=fragment.code, status=fragment.status, message=fragment.message[:600], rank=15)
    return Explanation(
        "invalid_key", Source.DATA_PLANE, "Wrong API key or endpoint",
        "The call used key authentication and the key does not belong to this endpoint: a key of another account, "
        "a regenerated key, or a regional endpoint instead of the account's own.",
        "use keyless auth (DefaultAzureCredential with the scope https://cognitiveservices.azure.com/.default) on "
        "the account's custom-subdomain endpoint — or a current key of that very account",
        VERIFY["invalid_key"], code=fragment.code, status=fragment.status, message=fragment.message[:600], rank=15)


def _permission_denied(fragment: Fragment, verdict: ProbeVerdict, paste: str) -> Explanation:
    named = _DATA_ACTION.search(fragment.message)
    action = verdict.missing_action or (named.group(1).rstrip(".") if named else None)
    role = _least_privilege_role(action, data_action=True) if action else None
    principal = _principal(fragment.message)
    account = _ACCOUNT_ID.search(paste)
    scope = account.group(0) if account else None
    role_text = f"the built-in role {role[1]} ({role[0]})" if role else "a built-in role granting it (the verify " \
        "command names the least-privilege one from your subscription's role definitions)"
    return Explanation(
        "permission_denied", Source.DATA_PLANE, f"Missing data action {action or ''}".strip(),
        f"The token is fine, but no role assigned to the principal grants the data action {action or '(unnamed)'} "
        "on this account. Owner and Contributor grant management actions only, no data actions.",
        f"assign {role_text} on the account (or its resource group); it can take a few minutes to apply",
        VERIFY["permission_denied"], code=fragment.code, status=fragment.status, message=fragment.message[:600],
        commands=(_assign(principal, role, scope),), docs=_RBAC_DOCS, action=action, scope=scope,
        principal=principal, role=role, rank=5)


def _audience(fragment: Fragment, verdict: ProbeVerdict, paste: str) -> Explanation:
    expected = verdict.expected_audience or "https://cognitiveservices.azure.com"
    return Explanation(
        "audience", Source.DATA_PLANE, "Token rejected: audience, expiry or missing",
        f"The service expects a token for {expected}: the one sent was for another audience (often ARM's), expired, "
        "or absent.",
        f"request the token for the scope {expected.rstrip('/')}/.default (the openai SDK: "
        "azure_ad_token_provider=get_bearer_token_provider(credential, "
        f"\"{_AI_SCOPE}\")) and let the provider refresh it", VERIFY["audience"], code=fragment.code,
        status=fragment.status, message=fragment.message[:600], expected_audience=expected, rank=10)


def _simple(category: str, title: str, cause: str, fix: str, rank: int,
            commands: tuple[str, ...] = ()) -> Callable[[Fragment, ProbeVerdict, str], Explanation]:
    def build(fragment: Fragment, _verdict: ProbeVerdict, _paste: str) -> Explanation:
        return Explanation(category, Source.DATA_PLANE, title, cause, fix, VERIFY[category], code=fragment.code,
                           status=fragment.status, message=fragment.message[:600], commands=commands, rank=rank)
    return build


_DATA_PLANE: dict[str, Callable[[Fragment, ProbeVerdict, str], Explanation]] = {
    "permission_denied": _permission_denied,
    "audience": _audience,
    "tenant": _simple("tenant", "Token from another tenant",
                      "The token was issued by another tenant than the account's (a guest account, or a credential "
                      "signed in to its home tenant).",
                      "sign in to the account's tenant (az login --tenant <TENANT_ID>, or AZURE_TENANT_ID for a "
                      "service principal) and request a new token", 10, ("az login --tenant <TENANT_ID>",)),
    "custom_subdomain": _simple("custom_subdomain", "Entra ID needs the custom-subdomain endpoint",
                                "Entra ID tokens are accepted only on the account's own endpoint "
                                "(https://<account>.openai.azure.com or .cognitiveservices.azure.com), not on a "
                                "regional endpoint such as https://<region>.api.cognitive.microsoft.com.",
                                "use the endpoint shown under the account's Keys and Endpoint page; an account "
                                "without one needs a custom subdomain (az cognitiveservices account update "
                                "--custom-domain <name>, irreversible)", 10),
    "keys_disabled": _simple("keys_disabled", "API keys are disabled on this account",
                             "The account has local (key) authentication disabled (disableLocalAuth): an API key "
                             "is refused whatever its value.",
                             "authenticate with Entra ID instead of the key (DefaultAzureCredential with the scope "
                             f"{_AI_SCOPE}) and hold a data role such as Cognitive Services OpenAI User", 10),
    "network": _simple("network", "Blocked by the network rules, not by RBAC",
                       "The account's firewall, virtual-network rules or disabled public network access refused the "
                       "caller's network before any role was checked.",
                       "call from an allowed network or through the private endpoint, or add your IP to the "
                       "account's firewall (az cognitiveservices account network-rule add --ip-address <IP>)", 10),
    "throttled": _simple("throttled", "Throttled", "The deployment's rate or token quota is exhausted; access "
                         "itself is fine.", "retry after the Retry-After delay, or raise the deployment's quota", 30),
    "not_found": _simple("not_found", "Not found", "The deployment, API version or path does not exist on this "
                         "account (access itself was not refused).",
                         "check the deployment name, the api-version and the endpoint", 30),
}


def _unknown(fragment: Fragment, source: Source) -> Explanation:
    return Explanation(
        "unknown", source, f"Unrecognised error{f' {fragment.code}' if fragment.code else ''}",
        "preflight recognises this as an Azure error but does not know its cause.",
        "run the checks, which look at the sign-in, the token, the roles and the resource", VERIFY["unknown"],
        code=fragment.code, status=fragment.status, message=fragment.message[:600], rank=90)
