"""What a data-plane answer means — pure classification of (status, body) from an Azure OpenAI / AI Services
endpoint, so a 401 or 403 is named as what it is: RBAC, audience, tenant, custom subdomain, keys disabled or
the network — four of which are not RBAC at all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_AUDIENCE = re.compile(r"audience is incorrect \(([^)]+)\)", re.IGNORECASE)
_ACTION = re.compile(r"(Microsoft\.CognitiveServices/[A-Za-z0-9_./*-]+)")


@dataclass(frozen=True, slots=True)
class ProbeVerdict:
    """``kind`` is stable: ok, permission_denied, audience, tenant, custom_subdomain, keys_disabled, network,
    not_found, throttled, server_error, unexpected."""

    kind: str
    allowed: bool
    message: str
    fix: str | None = None
    missing_action: str | None = None
    expected_audience: str | None = None


def _error_fields(body: Any) -> tuple[str, str]:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("code") or ""), str(error.get("message") or "")
        if isinstance(error, str):
            return error, str(body.get("message") or "")
    return "", str(body or "")


def classify_probe(status: int, body: Any) -> ProbeVerdict:
    """Classify one answer; ``body`` is the parsed JSON (or the raw text when it was not JSON)."""
    code, message = _error_fields(body)
    text = f"{code} {message}".lower()
    if 200 <= status < 300:
        return ProbeVerdict("ok", True, "the data plane accepted the token")
    if "custom subdomain" in text:
        return ProbeVerdict(
            "custom_subdomain",
            False,
            message or "a custom subdomain is required for Entra ID",
            "use the account's custom-subdomain endpoint (see resource.endpoint)",
        )
    audience = _AUDIENCE.search(message)
    if audience or "audience" in text:
        expected = audience.group(1) if audience else None
        return ProbeVerdict(
            "audience",
            False,
            message,
            f"request the token for {expected or 'the right'} "
            "audience (scope https://cognitiveservices.azure.com/.default)",
            expected_audience=expected,
        )
    if "tenant" in text and status == 401:
        return ProbeVerdict("tenant", False, message, "get a token from the resource's tenant (az login --tenant)")
    if code == "AuthenticationTypeDisabled" or "key based authentication is disabled" in text:
        return ProbeVerdict("keys_disabled", False, message, "use an Entra ID token instead of an API key")
    if "firewall" in text or "virtual network" in text or "public access is disabled" in text:
        return ProbeVerdict(
            "network",
            False,
            message,
            "a network rule, not RBAC: call from an allowed network "
            "or private endpoint, or add your IP to the account's firewall",
        )
    if code == "PermissionDenied" or status in (401, 403):
        return _refusal(status, code, message, text)
    if status == 404:
        return ProbeVerdict("not_found", False, message or "not found")
    if status == 429:
        return ProbeVerdict("throttled", False, message or "throttled")
    if status >= 500:
        return ProbeVerdict("server_error", False, message or f"HTTP {status}")
    return ProbeVerdict("unexpected", False, f"HTTP {status}: {message}"[:300])


def _refusal(status: int, code: str, message: str, text: str) -> ProbeVerdict:
    """A 401/403 the earlier readings did not explain: RBAC only when the answer says so (PermissionDenied, or a
    data action named). A bare 401/403 says nothing about its cause — a proxy, a gateway, a network rule or a
    token problem answer the same way — so it is "refused", never a guess at a missing role."""
    if code != "PermissionDenied" and "data action" not in text:
        return ProbeVerdict(
            "refused",
            False,
            message or f"HTTP {status}",
            "the answer names no cause: compare the token's audience and tenant (tokens.scope), the role "
            "(rbac.data-action) and the account's network rules (resource.endpoint)",
        )
    action = _ACTION.search(message)
    return ProbeVerdict(
        "permission_denied",
        False,
        message or f"HTTP {status}",
        "assign a role granting the data action (see rbac.data-action)",
        missing_action=action.group(1) if action else None,
    )
