"""What to do about a refused sign-in: the Conditional Access policy families and their fixes, and the two
non-secret fields of a token-endpoint error that say a claims challenge is pending. Pure; shared by the
``signin.chain`` and ``tokens.scope`` checks (a check never imports another check).
"""

from __future__ import annotations

import json

# Conditional Access policy family → what it means and what to do about it (AadstsInfo.ca_policy).
CA_ADVICE = {
    "mfa": ("MFA", "sign in interactively and complete MFA: az login --tenant {tenant} --scope {scope}"),
    "device": (
        "device compliance",
        ("sign in from a compliant or Entra-joined device (az login --tenant {tenant} in a browser on that device)"),
    ),
    "block": (
        "location / block",
        (
            "the policy blocks this sign-in (location, client app or risk): ask the "
            "tenant admin which policy applied (Entra sign-in logs > Conditional Access)"
        ),
    ),
    "sign_in_frequency": (
        "sign-in frequency",
        ("the session is older than the policy allows: sign in again interactively: az login --tenant {tenant}"),
    ),
    "token_protection": (
        "token protection",
        (
            "the policy requires device-bound tokens: use a client that "
            "supports token protection (the Windows broker) or ask the admin "
            "to exclude this app"
        ),
    ),
}
AUTOMATION = "for automation use a service principal or managed identity, which user-targeted policies do not challenge"


def conditional_access_hint(
    ca_policy: str | None, *, tenant: str | None, scope: str | None, suberror: str | None = None, claims: bool = False
) -> str | None:
    """A plain sentence naming the Conditional Access policy family behind a refusal and what to do — or
    None when the refusal is not Conditional Access. A claims challenge (``suberror`` / ``claims`` in the
    token error, ``insufficient_claims`` on a 401) is named too: it means only an interactive sign-in that
    satisfies those claims can succeed."""
    parts: list[str] = []
    if ca_policy in CA_ADVICE:
        family, action = CA_ADVICE[ca_policy]
        action = action.format(tenant=tenant or "<tenant>", scope=scope or "<scope>")
        parts.append(f"Conditional Access ({family} policy): {action}; {AUTOMATION}")
    if claims or suberror:
        what = f"suberror {suberror}" if suberror else "a claims challenge"
        parts.append(
            f"Entra answered with {what}: a silent (cached or CLI) token cannot satisfy it — only an "
            "interactive sign-in requesting those claims can"
        )
    return ". ".join(parts) if parts else None


def error_details(error: BaseException | None) -> dict[str, str]:
    """``suberror`` and ``claims`` of the token-endpoint body behind an azure-identity exception, when the
    SDK attached the response (the workload-identity path does; the secret/certificate path keeps only the
    message). Never the body itself: only these two non-secret fields."""
    response = getattr(error, "response", None)
    if response is None:
        return {}
    try:
        body = json.loads(response.text())
    except (ValueError, TypeError, AttributeError):
        return {}
    if not isinstance(body, dict):
        return {}
    return {k: str(body[k]) for k in ("suberror", "claims") if body.get(k)}
