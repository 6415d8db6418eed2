"""AADSTS error classification by number: code → category, plain cause, concrete fix.

Why by number: Microsoft rewrites ``error_description`` text freely, and the same text arrives through three
channels (a raised azure-identity exception, ``az`` stderr, a raw token-endpoint body) in slightly different
wrappings. The ``AADSTSnnnnn`` number and the body's ``error_codes`` are the stable part, so every credential
error in the tool goes through :func:`parse_aadsts_codes` and :func:`classify_aadsts` and nothing matches on
message wording.

Meanings come from Microsoft's reference (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)
and, for the workload-identity federation codes the reference does not list (70021, 700211-700213, 7002138,
700222, 90061), from the Microsoft Entra workload identity documentation and the azure-workload-identity
troubleshooting guide. Fixes use the placeholders ``{tenant}``, ``{app_id}`` and ``{scope}``, filled in by
:func:`format_fix`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "KNOWN_CODES",
    "AadstsInfo",
    "Category",
    "classify_aadsts",
    "classify_error",
    "docs_url",
    "format_fix",
    "most_specific",
    "parse_aadsts_codes",
]


class Category(StrEnum):
    """What kind of failure a code is; the names are part of the JSON output of ``preflight explain``."""

    MFA_REQUIRED = "mfa_required"
    CONDITIONAL_ACCESS_BLOCKED = "conditional_access_blocked"
    DEVICE_COMPLIANCE_REQUIRED = "device_compliance_required"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    INVALID_CLIENT_SECRET = "invalid_client_secret"
    EXPIRED_CLIENT_SECRET = "expired_client_secret"
    APPLICATION_NOT_FOUND = "application_not_found"
    APPLICATION_MISCONFIGURED = "application_misconfigured"
    TENANT_NOT_FOUND = "tenant_not_found"
    RESOURCE_NOT_FOUND = "resource_not_found"
    INVALID_SCOPE = "invalid_scope"
    CONSENT_REQUIRED = "consent_required"
    INVALID_USER_CREDENTIALS = "invalid_user_credentials"
    USER_NOT_FOUND = "user_not_found"
    ACCOUNT_LOCKED_OR_DISABLED = "account_locked_or_disabled"
    FEDERATION_MISMATCH = "federation_mismatch"
    ASSERTION_INVALID = "assertion_invalid"
    EXTERNAL_USER_NOT_IN_TENANT = "external_user_not_in_tenant"
    USER_NOT_ASSIGNED = "user_not_assigned"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AadstsInfo:
    """Everything a person needs about one code. ``ca_policy`` names the Conditional Access policy family
    ("mfa", "device", "block", "sign_in_frequency", "token_protection") when the code comes from one."""

    code: int
    category: Category
    title: str
    cause: str
    fix: str
    docs: str
    ca_policy: str | None = None

    @property
    def known(self) -> bool:
        """Whether the code is in the knowledge base (``preflight explain`` exits 1 when it is not)."""
        return self.category is not Category.UNKNOWN


def docs_url(code: int) -> str:
    """Microsoft's per-code lookup page, current even when this table is not."""
    return f"https://login.microsoftonline.com/error?code={code}"


# Fix texts shared by several codes.
_LOGIN_AGAIN = "Sign in again interactively: az login --tenant {tenant}"
_MFA_FIX = (
    "Sign in interactively and complete MFA: az login --tenant {tenant} --scope {scope}. "
    "For automation use a service principal or managed identity, which MFA policies do not target."
)
_CA_FIX = (
    "Ask the tenant admin which Conditional Access policy applied (Entra admin center > Sign-in logs > "
    "Conditional Access) and whether this app, location or client is meant to be allowed; "
    "automation should use a service principal or managed identity."
)
_DEVICE_FIX = (
    "Sign in from a compliant (Intune-managed) or Entra-joined device, e.g. az login --tenant {tenant} in a "
    "browser on that device; automation should use a service principal or managed identity."
)
_NEW_SECRET = (
    "Create a new client secret and update AZURE_CLIENT_SECRET: az ad app credential reset --id {app_id} "
    "--append (or switch to a certificate or workload identity federation)."
)
_FIC_FIX = (
    "Compare the assertion's iss / sub / aud with the app's federated credentials (exact, case-sensitive): "
    "az ad app federated-credential list --id {app_id}"
)



@dataclass(frozen=True, slots=True)
class _Entry:
    """One row of the knowledge base (``code`` is the key of the table)."""

    category: Category
    title: str
    cause: str
    fix: str
    ca_policy: str | None = None


_C = Category
_TABLE: dict[int, _Entry] = {
    # --- MFA and Conditional Access -------------------------------------------------------------------------
    50074: _Entry(_C.MFA_REQUIRED, "Strong authentication required",
            "Strong authentication is required and the user did not pass the MFA challenge.", _MFA_FIX, "mfa"),
    50076: _Entry(_C.MFA_REQUIRED, "MFA required",
            "A Conditional Access policy, per-user MFA or a new location requires multifactor authentication "
            "for this resource; a cached or non-interactive sign-in cannot satisfy it.", _MFA_FIX, "mfa"),
    50079: _Entry(_C.MFA_REQUIRED, "MFA registration required",
            "The user must register security info for multifactor authentication (or, when federated, bring "
            "the MFA claim from the federated identity provider).",
            "Register MFA at https://aka.ms/mfasetup, then: az login --tenant {tenant} --scope {scope}", "mfa"),
    50158: _Entry(_C.MFA_REQUIRED, "External security challenge not satisfied",
            "An external security challenge (e.g. a third-party MFA provider required by Conditional Access) "
            "was not satisfied.", _MFA_FIX, "mfa"),
    53000: _Entry(_C.DEVICE_COMPLIANCE_REQUIRED, "Device not compliant",
            "Conditional Access requires a compliant device and this device is not compliant (not enrolled "
            "with an approved MDM such as Intune).", _DEVICE_FIX, "device"),
    53001: _Entry(_C.DEVICE_COMPLIANCE_REQUIRED, "Device not domain joined",
            "Conditional Access requires a domain-joined (hybrid Entra joined) device.", _DEVICE_FIX, "device"),
    53002: _Entry(_C.CONDITIONAL_ACCESS_BLOCKED, "Client app not approved",
            "Conditional Access requires an approved client app and the app used is not on that list.",
            _CA_FIX, "block"),
    53003: _Entry(_C.CONDITIONAL_ACCESS_BLOCKED, "Blocked by Conditional Access",
            "A Conditional Access policy blocked token issuance (for example by location, client app or "
            "risk).", _CA_FIX, "block"),
    530003: _Entry(_C.DEVICE_COMPLIANCE_REQUIRED, "Managed device required",
             "Conditional Access requires the device to be managed to access this resource.", _DEVICE_FIX,
             "device"),
    530032: _Entry(_C.CONDITIONAL_ACCESS_BLOCKED, "Blocked by security policy",
             "A tenant-level security policy blocks this request.", _CA_FIX, "block"),
    530084: _Entry(_C.CONDITIONAL_ACCESS_BLOCKED, "Blocked by token protection",
             "A Conditional Access token protection policy requires device-bound tokens, which this client "
             "cannot present.",
             "Use a client that supports token protection (e.g. the Windows broker), or ask the admin to "
             "exclude this app from the token protection policy; automation should use a service principal "
             "or managed identity.", "token_protection"),
    50005: _Entry(_C.CONDITIONAL_ACCESS_BLOCKED, "Unsupported device platform",
            "Sign-in came from a device platform that a Conditional Access policy does not support.",
            _CA_FIX, "device"),
    50097: _Entry(_C.DEVICE_COMPLIANCE_REQUIRED, "Device authentication required",
            "Device authentication is required and the device did not authenticate.", _DEVICE_FIX, "device"),
    70043: _Entry(_C.REAUTHENTICATION_REQUIRED, "Sign-in frequency reached",
            "The refresh token is no longer valid because of a Conditional Access sign-in frequency policy.",
            _LOGIN_AGAIN, "sign_in_frequency"),
    # --- sessions and refresh tokens ------------------------------------------------------------------------
    50058: _Entry(_C.REAUTHENTICATION_REQUIRED, "Not signed in",
            "Session information is not sufficient for single sign-on: the user is not signed in (or the "
            "SSO session was not found).", _LOGIN_AGAIN, None),
    50132: _Entry(_C.REAUTHENTICATION_REQUIRED, "Session invalid",
            "The session is not valid because the password expired or was recently changed.", _LOGIN_AGAIN,
            None),
    50173: _Entry(_C.REAUTHENTICATION_REQUIRED, "Grant revoked",
            "The grant was revoked (the user or an admin revoked tokens, e.g. after a password change), so "
            "a fresh sign-in is needed.", _LOGIN_AGAIN, None),
    700082: _Entry(_C.REAUTHENTICATION_REQUIRED, "Refresh token expired by inactivity",
             "The refresh token expired because it was not used for too long.", _LOGIN_AGAIN, None),
    54005: _Entry(_C.REAUTHENTICATION_REQUIRED, "Authorization code already redeemed",
            "The OAuth2 authorization code was already redeemed; a code can be used only once.",
            "Start a new sign-in to get a new code (az login --tenant {tenant}), or use the refresh token "
            "already obtained.", None),
    # --- client (application) credentials -------------------------------------------------------------------
    70002: _Entry(_C.INVALID_CLIENT_SECRET, "Invalid client credentials",
            "Error validating the client credentials: the client_secret does not match the expected value "
            "for this client.", _NEW_SECRET, None),
    7000215: _Entry(_C.INVALID_CLIENT_SECRET, "Invalid client secret",
              "The client secret is wrong; a common cause is using the secret's ID instead of its value.",
              "Set AZURE_CLIENT_SECRET to the secret's Value (not its Secret ID), or create a new one: "
              "az ad app credential reset --id {app_id} --append", None),
    7000222: _Entry(_C.EXPIRED_CLIENT_SECRET, "Client secret expired",
              "The provided client secret keys have expired.", _NEW_SECRET, None),
    700016: _Entry(_C.APPLICATION_NOT_FOUND, "Application not found in tenant",
             "No application with this client id exists in the tenant: wrong AZURE_CLIENT_ID, the app was "
             "deleted, or the request went to the wrong tenant.",
             "Check the client id and tenant: az ad sp show --id {app_id} (run against tenant {tenant}).",
             None),
    7000112: _Entry(_C.ACCOUNT_LOCKED_OR_DISABLED, "Application disabled",
              "The application (its service principal) is disabled in this tenant.",
              "Ask an admin to re-enable it: az ad sp update --id {app_id} --set accountEnabled=true", None),
    50011: _Entry(_C.APPLICATION_MISCONFIGURED, "Redirect URI mismatch",
            "The reply (redirect) address is missing or does not match those registered for the app.",
            "Add the redirect URI the client uses to the app registration (Entra admin center > App "
            "registrations > {app_id} > Authentication).", None),
    # --- assertions and certificates ------------------------------------------------------------------------
    50012: _Entry(_C.ASSERTION_INVALID, "Authentication failed",
            "The client assertion or signing certificate was rejected (untrusted or invalid certificate, "
            "unauthorized thumbprint, or invalid signature).",
            "Check the certificate registered on the app: az ad app credential list --id {app_id} --cert",
            None),
    700024: _Entry(_C.ASSERTION_INVALID, "Client assertion expired",
             "The client assertion is not within its valid time range: it expired (federated tokens such as "
             "GitHub's live about 5 minutes) or the clock is skewed.",
             "Request a fresh assertion/federated token just before the token exchange and check the clock.",
             None),
    700027: _Entry(_C.ASSERTION_INVALID, "Client assertion signature invalid",
             "The client assertion failed signature validation: usually the certificate that signed it is "
             "not registered on the app.",
             "Upload the signing certificate's public key: az ad app credential reset --id {app_id} --cert "
             "@cert.pem --append", None),
    # --- workload identity federation -----------------------------------------------------------------------
    70021: _Entry(_C.FEDERATION_MISMATCH, "No matching federated identity record",
            "No federated identity credential matches the presented assertion (issuer, subject, audience); "
            "a credential created minutes ago may also not have propagated yet.", _FIC_FIX, None),
    700211: _Entry(_C.FEDERATION_MISMATCH, "Federated issuer mismatch",
             "No federated identity credential matches the assertion's issuer.", _FIC_FIX, None),
    700212: _Entry(_C.FEDERATION_MISMATCH, "Federated audience mismatch",
             "No federated identity credential matches the assertion's audience (usually "
             "api://AzureADTokenExchange).", _FIC_FIX, None),
    700213: _Entry(_C.FEDERATION_MISMATCH, "Federated subject mismatch",
             "No federated identity credential matches the assertion's subject.", _FIC_FIX, None),
    7002138: _Entry(_C.FEDERATION_MISMATCH, "Federated subject case mismatch",
              "The subject matches a federated identity credential only case-insensitively; matching is "
              "case-sensitive.", _FIC_FIX, None),
    700222: _Entry(_C.FEDERATION_MISMATCH, "Entra-issued assertion not allowed",
             "Tokens issued by Microsoft Entra itself may not be used as federated identity assertions.",
             "Use an external issuer's token (GitHub, Kubernetes, …) as the assertion, or a managed identity "
             "configured as a federated credential.", None),
    90061: _Entry(_C.FEDERATION_MISMATCH, "External OIDC endpoint unreachable",
            "Entra could not fetch the external issuer's OIDC discovery document or signing keys.",
            "Make {issuer}/.well-known/openid-configuration and its jwks_uri publicly reachable, and check "
            "the federated credential's issuer URL.", None),
    # --- tenant, resource, scope, consent -------------------------------------------------------------------
    90002: _Entry(_C.TENANT_NOT_FOUND, "Tenant not found",
            "The tenant was not found: wrong tenant id or domain, or the wrong cloud (public vs sovereign).",
            "Check the tenant id (AZURE_TENANT_ID / --tenant): az account tenant list", None),
    900023: _Entry(_C.TENANT_NOT_FOUND, "Invalid tenant identifier",
             "The tenant identifier is neither a valid GUID/DNS name nor a known external domain.",
             "Use the directory (tenant) id GUID: az account show --query tenantId -o tsv", None),
    50128: _Entry(_C.TENANT_NOT_FOUND, "Invalid domain name",
            "No tenant-identifying information was found in the request or implied by the credentials.",
            "Pass the tenant explicitly: az login --tenant {tenant}", None),
    500011: _Entry(_C.RESOURCE_NOT_FOUND, "Resource principal not found",
             "The resource (the API the token is for) has no service principal in the tenant: wrong scope "
             "or audience, wrong tenant, or the resource app was never provisioned there.",
             "Check the requested scope ({scope}) and tenant ({tenant}); for Azure OpenAI use "
             "https://cognitiveservices.azure.com/.default", None),
    70011: _Entry(_C.INVALID_SCOPE, "Invalid scope",
            "The scope requested is not valid (malformed, or not a '<resource>/.default' form for this flow).",
            "Request '<resource>/.default', e.g. az account get-access-token --scope "
            "https://cognitiveservices.azure.com/.default", None),
    65001: _Entry(_C.CONSENT_REQUIRED, "Consent required",
            "The user or administrator has not consented to the application using this resource.",
            "Grant consent: az ad app permission admin-consent --id {app_id} (or sign in interactively and "
            "accept the consent prompt).", None),
    65004: _Entry(_C.CONSENT_REQUIRED, "Consent declined",
            "The user declined to consent to the application.",
            "Sign in again and accept the consent prompt, or ask an admin to grant tenant-wide consent.",
            None),
    # --- users ----------------------------------------------------------------------------------------------
    50126: _Entry(_C.INVALID_USER_CREDENTIALS, "Invalid username or password",
            "Error validating credentials due to an invalid username or password.",
            "Check AZURE_USERNAME / AZURE_PASSWORD, or sign in interactively: az login --tenant {tenant}",
            None),
    50055: _Entry(_C.INVALID_USER_CREDENTIALS, "Password expired",
            "The user's password has expired.",
            "Reset the password (https://aka.ms/sspr or ask an admin), then az login --tenant {tenant}", None),
    50034: _Entry(_C.USER_NOT_FOUND, "User account not found",
            "The user account does not exist in this tenant (a mistyped username, or the wrong tenant).",
            "Check the username and sign in to the right tenant: az login --tenant {tenant}", None),
    50053: _Entry(_C.ACCOUNT_LOCKED_OR_DISABLED, "Account locked",
            "The account is locked after too many failed sign-ins, or the sign-in came from an IP address "
            "with malicious activity.",
            "Wait for the lockout to end or ask an admin to unblock the user (Entra admin center > "
            "Sign-in logs shows which).", None),
    50057: _Entry(_C.ACCOUNT_LOCKED_OR_DISABLED, "User disabled",
            "The user account is disabled.", "Ask an admin to re-enable the account.", None),
    50020: _Entry(_C.EXTERNAL_USER_NOT_IN_TENANT, "External user not in tenant",
            "The account from this identity provider does not exist in the tenant and cannot access the "
            "application there: it must be added as an external (guest) user first.",
            "Ask the tenant admin to invite the account as a guest, or sign in to your home tenant: "
            "az login --tenant {tenant}", None),
    16000: _Entry(_C.EXTERNAL_USER_NOT_IN_TENANT, "Account not in tenant",
            "The user account does not exist in the tenant and cannot access the application there; it must "
            "be added as an external user first.",
            "Sign out and sign in with an account of tenant {tenant}, or ask for a guest invitation.", None),
    90072: _Entry(_C.EXTERNAL_USER_NOT_IN_TENANT, "External account cannot satisfy MFA here",
            "The external account does not exist in the tenant signed into, so it cannot satisfy the tenant's "
            "MFA requirement.",
            "Ask the tenant admin to add the account as an external user, or sign in to your home tenant.",
            "mfa"),
    50105: _Entry(_C.USER_NOT_ASSIGNED, "User not assigned to the application",
            "The signed-in user is not assigned to a role of the application, and the application requires "
            "assignment.",
            "Ask an admin to assign the user (or a group of it) to the enterprise application {app_id}.",
            None),
}

#: Every code the knowledge base covers.
KNOWN_CODES: frozenset[int] = frozenset(_TABLE)

# Wrapper codes that arrive first in chained messages ("AADSTS70002: Error validating credentials.
# AADSTS50126: …"); the code after them says what actually went wrong.
_GENERIC: frozenset[int] = frozenset({70002, 50012})

_CODE_IN_TEXT = re.compile(r"AADSTS([0-9]{4,8})", re.IGNORECASE)
_BARE_CODE = re.compile(r"\s*(?:AADSTS)?([0-9]{4,8})\s*", re.IGNORECASE)


def _is_code(value: object) -> bool:
    """An ``error_codes`` entry: an int, or a string of ASCII digits (bools and other digits excluded)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit())


def _codes_from_text(text: str) -> list[int]:
    found = [int(match) for match in _CODE_IN_TEXT.findall(text)]
    if not found:
        bare = _BARE_CODE.fullmatch(text)
        if bare:
            found = [int(bare.group(1))]
    return found


def parse_aadsts_codes(source: str | Mapping[str, Any] | Iterable[int] | None) -> tuple[int, ...]:
    """Every AADSTS code in ``source``, in order, without duplicates.

    ``source`` may be a message (``"… AADSTS50076: …"``, or just ``"50076"`` as typed to ``preflight
    explain``), a token-endpoint error body (its ``error_codes`` first, then codes in ``error_description``),
    or the ``error_codes`` list itself.
    """
    found: list[int] = []
    if source is None:
        return ()
    if isinstance(source, str):
        found = _codes_from_text(source)
    elif isinstance(source, Mapping):
        found = [int(code) for code in (source.get("error_codes") or ()) if _is_code(code)]
        description = source.get("error_description")
        if isinstance(description, str):
            found.extend(_codes_from_text(description))
    else:
        found = [int(code) for code in source]
    return tuple(dict.fromkeys(found))


def most_specific(codes: Iterable[int]) -> int | None:
    """The code that best explains a failure: known codes over unknown, and a specific code over the generic
    wrappers that precede it in chained messages."""
    ordered = list(dict.fromkeys(codes))
    if not ordered:
        return None

    def rank(code: int) -> int:
        if code not in _TABLE:
            return 2
        return 1 if code in _GENERIC else 0

    return min(ordered, key=lambda code: (rank(code), ordered.index(code)))


def classify_aadsts(code: int, text: str | None = None) -> AadstsInfo:
    """The knowledge-base entry for ``code``; an unknown code becomes ``unknown`` carrying ``text`` (the error
    as received) as its cause, so nothing is lost."""
    entry = _TABLE.get(code)
    if entry is None:
        cause = text.strip() if text and text.strip() else "This code is not in preflight's knowledge base."
        return AadstsInfo(
            code=code,
            category=Category.UNKNOWN,
            title=f"AADSTS{code}",
            cause=cause,
            fix=f"Look the code up: {docs_url(code)}",
            docs=docs_url(code),
        )
    return AadstsInfo(code, entry.category, entry.title, entry.cause, entry.fix, docs_url(code), entry.ca_policy)


def classify_error(source: str | Mapping[str, Any] | Iterable[int] | None) -> AadstsInfo | None:
    """Classify a whole error (message, token-endpoint body or code list) by its most specific code;
    ``None`` when it contains no AADSTS code at all."""
    code = most_specific(parse_aadsts_codes(source))
    if code is None:
        return None
    text: str | None = None
    if isinstance(source, str):
        text = source
    elif isinstance(source, Mapping) and isinstance(source.get("error_description"), str):
        text = source["error_description"]
    return classify_aadsts(code, text)


_PLACEHOLDER = re.compile(r"\{(tenant|app_id|scope|issuer)\}")


def format_fix(info: AadstsInfo, **values: str | None) -> AadstsInfo:
    """The entry with its fix's ``{tenant}`` / ``{app_id}`` / ``{scope}`` / ``{issuer}`` filled in.

    Unknown values stay visible as ``<tenant>``-style markers rather than vanishing, so the command still
    reads as a template. Only those four names are replaced, so braces elsewhere in a fix are safe.
    """

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else f"<{match.group(1)}>"

    return replace(info, fix=_PLACEHOLDER.sub(fill, info.fix))
