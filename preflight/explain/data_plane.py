"""A data-plane answer (Azure OpenAI / AI Services, or an API Management gateway in front of it): the key
answers first (a wrong key, a gateway's own key), then :func:`preflight.dataplane.classify_probe` — the reading
`access.probe` uses — for RBAC, audience, tenant, custom subdomain, keys disabled and the network. A bare 401/403
whose message names no cause stays unknown: guessing RBAC would send people to the wrong fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from preflight.dataplane import ProbeVerdict, classify_probe
from preflight.explain.advice import from_fragment, role_fix, unknown
from preflight.explain.model import Explanation, Fragment, Source

_ACCOUNT_ID = re.compile(
    r"/subscriptions/[^/\s'\"`]+/resourceGroups/[^/\s'\"`]+/providers/"
    r"Microsoft\.CognitiveServices/accounts/[^/\s'\"`]+",
    re.IGNORECASE,
)
# any provider's data action (classify_probe names Cognitive Services' ones; Azure ML's read the same way)
_DATA_ACTION = re.compile(r"data action [`'\"]?([A-Za-z]+\.[A-Za-z]+/[^\s`'\"]+)")
_AI_SCOPE = "https://cognitiveservices.azure.com/.default"
_RBAC_DOCS = "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control"


Builder = Callable[[Fragment, ProbeVerdict, str], Explanation]


def _simple(category: str, title: str, cause: str, fix: str, rank: int, commands: tuple[str, ...] = ()) -> Builder:
    """A builder whose explanation is fixed text: it takes nothing from the answer but its evidence."""

    def build(fragment: Fragment, _verdict: ProbeVerdict, _paste: str) -> Explanation:
        return from_fragment(fragment, Source.DATA_PLANE, category, title, cause, fix, rank=rank, commands=commands)

    return build


# The key answers come first: whatever the status, the key (or the gateway's) is at fault.
_KEY_ANSWERS = (
    (
        re.compile(
            r"missing subscription key|ocp-apim-subscription-key|subscription key.*api "
            r"management|invalid subscription key\. make sure",
            re.IGNORECASE,
        ),
        _simple(
            "gateway_key",
            "API Management wants its own subscription key",
            "An Azure API Management gateway in front of the service refused the call before it reached Azure "
            "OpenAI: it requires its subscription key (Ocp-Apim-Subscription-Key), whatever Entra token you send.",
            "send the gateway's subscription key in the Ocp-Apim-Subscription-Key header (from the APIM "
            "subscription), or call the account's own endpoint; the gateway then forwards with its managed identity",
            15,
        ),
    ),
    (
        re.compile(
            r"invalid subscription key or wrong api endpoint|incorrect api key|"
            r"invalid api key",
            re.IGNORECASE,
        ),
        _simple(
            "invalid_key",
            "Wrong API key or endpoint",
            "The call used key authentication and the key does not belong to this endpoint: a key of another "
            "account, a regenerated key, or a regional endpoint instead of the account's own.",
            "use keyless auth (DefaultAzureCredential with the scope https://cognitiveservices.azure.com/.default) "
            "on the account's custom-subdomain endpoint — or a current key of that very account",
            15,
        ),
    ),
)


# A raw body carries no status line: these codes say it for themselves.
_CODE_STATUS = {
    "DeploymentNotFound": 404,
    "NotFound": 404,
    "ResourceNotFound": 404,
    "TooManyRequests": 429,
    "RateLimitExceeded": 429,
    "PermissionDenied": 403,
    "AuthenticationTypeDisabled": 403,
}


def _status(fragment: Fragment) -> int:
    if fragment.status:
        return fragment.status
    code = fragment.code or ""
    return int(code) if code.isdigit() and len(code) == 3 else _CODE_STATUS.get(code, 0)


def read_data_plane(fragment: Fragment, paste: str) -> Explanation:
    """The fragment as a data-plane answer; ``paste`` supplies the account's ARM id when the text holds it."""
    status = _status(fragment)
    verdict = classify_probe(status, {"error": {"code": fragment.code or "", "message": fragment.message}})
    key_answer = next((build for pattern, build in _KEY_ANSWERS if pattern.search(fragment.message)), None)
    builder = key_answer or _DATA_PLANE.get(verdict.kind)  # a bare 401/403 is "refused": no builder, so unknown
    if builder is None:
        return unknown(fragment, Source.DATA_PLANE)
    return builder(fragment, verdict, paste)


def _permission_denied(fragment: Fragment, verdict: ProbeVerdict, paste: str) -> Explanation:
    named = _DATA_ACTION.search(fragment.message)
    action = verdict.missing_action or (named.group(1).rstrip(".") if named else None)
    account = _ACCOUNT_ID.search(paste)
    scope = account.group(0) if account else None
    fix = role_fix(
        fragment.message,
        action,
        scope,
        data_action=True,
        no_role="a built-in role granting it (the verify "
        "command names the least-privilege one from your subscription's role definitions)",
    )
    explanation = from_fragment(
        fragment,
        Source.DATA_PLANE,
        "permission_denied",
        f"Missing data action {action or ''}".strip(),
        f"The token is fine, but no role assigned to the principal grants the data action {action or '(unnamed)'} "
        "on this account. Owner and Contributor grant management actions only, no data actions.",
        f"assign {fix.describe} on the account (or its resource group); it can take a few minutes to apply",
        rank=5,
        commands=(fix.command,),
        docs=_RBAC_DOCS,
    )
    return replace(explanation, action=action, scope=scope, principal=fix.principal, role=fix.role)


def _audience(fragment: Fragment, verdict: ProbeVerdict, paste: str) -> Explanation:
    expected = verdict.expected_audience or "https://cognitiveservices.azure.com"
    explanation = from_fragment(
        fragment,
        Source.DATA_PLANE,
        "audience",
        "Token rejected: audience, expiry or missing",
        f"The service expects a token for {expected}: the one sent was for another audience (often ARM's), expired, "
        "or absent.",
        f"request the token for the scope {expected.rstrip('/')}/.default (the openai SDK: "
        "azure_ad_token_provider=get_bearer_token_provider(credential, "
        f'"{_AI_SCOPE}")) and let the provider refresh it',
        rank=10,
    )
    return replace(explanation, expected_audience=expected)


_DATA_PLANE: dict[str, Builder] = {
    "permission_denied": _permission_denied,
    "audience": _audience,
    "tenant": _simple(
        "tenant",
        "Token from another tenant",
        "The token was issued by another tenant than the account's (a guest account, or a credential "
        "signed in to its home tenant).",
        "sign in to the account's tenant (az login --tenant <TENANT_ID>, or AZURE_TENANT_ID for a "
        "service principal) and request a new token",
        10,
        ("az login --tenant <TENANT_ID>",),
    ),
    "custom_subdomain": _simple(
        "custom_subdomain",
        "Entra ID needs the custom-subdomain endpoint",
        "Entra ID tokens are accepted only on the account's own endpoint "
        "(https://<account>.openai.azure.com or .cognitiveservices.azure.com), not on a "
        "regional endpoint such as https://<region>.api.cognitive.microsoft.com.",
        "use the endpoint shown under the account's Keys and Endpoint page; an account "
        "without one needs a custom subdomain (az cognitiveservices account update "
        "--custom-domain <name>, irreversible)",
        10,
    ),
    "keys_disabled": _simple(
        "keys_disabled",
        "API keys are disabled on this account",
        "The account has local (key) authentication disabled (disableLocalAuth): an API key "
        "is refused whatever its value.",
        "authenticate with Entra ID instead of the key (DefaultAzureCredential with the scope "
        f"{_AI_SCOPE}) and hold a data role such as Cognitive Services OpenAI User",
        10,
    ),
    "network": _simple(
        "network",
        "Blocked by the network rules, not by RBAC",
        "The account's firewall, virtual-network rules or disabled public network access refused the "
        "caller's network before any role was checked.",
        "call from an allowed network or through the private endpoint, or add your IP to the "
        "account's firewall (az cognitiveservices account network-rule add --ip-address <IP>)",
        10,
    ),
    "throttled": _simple(
        "throttled",
        "Throttled",
        "The deployment's rate or token quota is exhausted; access itself is fine.",
        "retry after the Retry-After delay, or raise the deployment's quota",
        30,
    ),
    "not_found": _simple(
        "not_found",
        "Not found",
        "The deployment, API version or path does not exist on this account (access itself was not refused).",
        "check the deployment name, the api-version and the endpoint",
        30,
    ),
}
