"""What to do about a refused sign-in: the Conditional Access policy families and their fixes, the two non-secret
fields of a token-endpoint error that say a claims challenge is pending, and what an ``AZURE_CLIENT_ID`` Entra
does not know is when it is a service principal's object id (:func:`client_id_advice`). Pure; shared by the
``signin.chain``, ``tokens.scope`` and ``principal.exists`` checks (a check never imports another check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    ca_policy: str | None,
    *,
    tenant: str | None,
    scope: str | None,
    suberror: str | None = None,
    claims: bool = False,
    action: bool = True,
) -> str | None:
    """A plain sentence naming the Conditional Access policy family behind a refusal and what to do — or
    None when the refusal is not Conditional Access. A claims challenge (``suberror`` / ``claims`` in the
    token error, ``insufficient_claims`` on a 401) is named too: it means only an interactive sign-in that
    satisfies those claims can succeed. ``action=False`` names the family only: the caller's AADSTS fix already
    says what to do, and one result must not say it twice (issue 19)."""
    parts: list[str] = []
    if ca_policy in CA_ADVICE:
        family, advice = CA_ADVICE[ca_policy]
        advice = advice.format(tenant=tenant or "<tenant>", scope=scope or "<scope>")
        parts.append(
            f"Conditional Access ({family} policy): {advice}; {AUTOMATION}"
            if action
            else f"Conditional Access ({family} policy) is the cause"
        )
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


# ------------------------------------------------------------------------------------- object id vs app id


@dataclass(frozen=True, slots=True)
class ClientIdAdvice:
    """What the GUID in ``AZURE_CLIENT_ID`` is, when Entra found no application with it as its app id
    (AADSTS700016). ``object_id_of`` is the appId of the service principal whose *object id* it is — the
    confusion the Azure ML service-principal guide's step 3 invites (the portal shows both ids side by side);
    ``note`` says why that could not be decided, when it could not."""

    client_id: str
    object_id_of: str | None = None
    display_name: str | None = None
    note: str | None = None

    @property
    def is_object_id(self) -> bool:
        return self.object_id_of is not None

    def summary(self) -> str:
        """The finding: the object id in place of the appId, named with both ids."""
        name = f" '{self.display_name}'" if self.display_name else ""
        return (
            f"AZURE_CLIENT_ID holds the service principal's object id; use its appId {self.object_id_of} — "
            f"{self.client_id} is the object id of service principal{name} in this tenant, so Entra finds no "
            "application with it as its client id (AADSTS700016)"
        )

    def fix(self) -> str:
        return (
            f"set AZURE_CLIENT_ID={self.object_id_of} (the appId, shown as 'Application (client) ID'); "
            "the object id identifies the service principal in role assignments, never in a sign-in"
        )

    def commands(self) -> list[str]:
        return [lookup_app_id_command(self.client_id)]

    def suffix(self) -> str:
        """``"; <why it could not be decided>"`` to append to another finding, or "" when nothing is to add."""
        return f"; {self.note}" if self.note else ""


def lookup_app_id_command(object_id: str) -> str:
    """The command that turns a service principal's object id into the appId a sign-in needs."""
    return f"az ad sp show --id {object_id} --query appId -o tsv"


def client_id_advice(
    client_id: str, found: Mapping[str, Any] | None, *, undecided: str | None = None
) -> ClientIdAdvice:
    """Classify the GUID in ``AZURE_CLIENT_ID`` after AADSTS700016. ``found`` is the service principal whose
    object id it is (Graph ``servicePrincipals/{id}``), None when there is none; ``undecided`` says why the
    directory could not be asked (then the advice only names the check to run). Pure."""
    if undecided is not None:
        return ClientIdAdvice(
            client_id,
            note=(
                f"whether AZURE_CLIENT_ID ({client_id}) is a service principal's object id rather than its appId "
                f"could not be decided ({undecided}); check with: {lookup_app_id_command(client_id)}"
            ),
        )
    if found is None or not found.get("appId"):
        return ClientIdAdvice(client_id)
    return ClientIdAdvice(client_id, str(found["appId"]), str(found.get("displayName") or "") or None)


# ------------------------------------------------------------------------------------------ ARM refusals
# ARM's 401 codes (https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
# and the "wrong issuer" body ARM returns): a token from another tenant than the subscription's is not a wrong
# resource id — the fix is a sign-in to that tenant.
_ISSUER_TENANT = re.compile(r"must match the tenant '[^']*/([0-9a-fA-F-]{36})/?'")


@dataclass(frozen=True, slots=True)
class Fix:
    """A remediation sentence and the exact commands (each one argv-safe, to paste as is)."""

    text: str
    commands: tuple[str, ...] = ()


def arm_read_fix(status: int | None, code: str | None, message: str, tenant: str | None) -> Fix:
    """What to do when Azure Resource Manager refused to read the target resource, by ARM's error code. Pure.

    ``tenant`` is the target's tenant when known; for InvalidAuthenticationTokenTenant ARM's own message names
    the subscription's tenant, which is used when ``tenant`` is not known."""
    lowered = (code or "").lower()
    if lowered == "invalidauthenticationtokentenant":
        match = _ISSUER_TENANT.search(message)
        wanted = tenant or (match.group(1) if match else None)
        where = f"tenant {wanted}" if wanted else "the subscription's tenant"
        return Fix(
            "the token comes from another tenant than the one owning the subscription: sign in to "
            f"{where} (a guest account must name it); a service principal needs AZURE_TENANT_ID set to it",
            (f"az login --tenant {wanted}" if wanted else "az login",),
        )
    if lowered in ("expiredauthenticationtoken", "invalidauthenticationtoken", "invalidauthenticationtokenaudience"):
        return Fix(
            "Azure Resource Manager refused the token itself (expired, or not issued for it): sign in again",
            (f"az login --tenant {tenant}" if tenant else "az login",),
        )
    if lowered == "subscriptionnotfound":
        return Fix(
            "the subscription is not visible to this identity (wrong subscription id, or a sign-in to another "
            "tenant): list the subscriptions it can see",
            ("az account list --output table",),
        )
    return Fix("check the resource id / endpoint")
