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

Entra's words come second, and only where the number is not enough (:data:`_READINGS`): a code with several
meanings (AADSTS50012 has been "Invalid client secret is provided", "Client assertion is not within its valid
time range" and "Client assertion audience claim does not match Realm issuer"; AADSTS700027 an unregistered, an
expired or a mismatched signing key; AADSTS50013 an on-behalf-of assertion that expired, was signed by an unknown
key or was issued for another app; AADSTS700024 an expired assertion or a signer's clock running ahead), and a
code the table lacks. Anything still unread is ``unknown`` with the code, Entra's own words and the lookup URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
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
    #: which of Entra's messages decided the meaning (``"assertion_expired"``, ``"certificate_not_registered"``,
    #: …); ``None`` when the number alone did
    variant: str | None = None

    @property
    def known(self) -> bool:
        """Whether the code is in the knowledge base (``preflight explain`` exits 1 when it is not)."""
        return self.category is not Category.UNKNOWN


def docs_url(code: int) -> str:
    """Microsoft's per-code lookup page, current even when this table is not."""
    return f"https://login.microsoftonline.com/error?code={code}"


# Fix texts shared by several codes.
_LOGIN_AGAIN = "Sign in again interactively: `az login --tenant {tenant}`"
_MFA_FIX = (
    "Sign in interactively and complete MFA: `az login --tenant {tenant} --scope {scope}`. "
    "For automation use a service principal or managed identity, which MFA policies do not target."
)
_CA_FIX = (
    "Ask the tenant admin which Conditional Access policy applied (Entra admin center > Sign-in logs > "
    "Conditional Access) and whether this app, location or client is meant to be allowed; "
    "automation should use a service principal or managed identity."
)
_DEVICE_FIX = (
    "Sign in from a compliant (Intune-managed) or Entra-joined device, e.g. `az login --tenant {tenant}` in a "
    "browser on that device; automation should use a service principal or managed identity."
)
_NEW_SECRET = (
    "Create a new client secret and update AZURE_CLIENT_SECRET: `az ad app credential reset --id {app_id} "
    "--append` (or switch to a certificate or workload identity federation)."
)
_FIC_FIX = (
    "Compare the assertion's iss / sub / aud with the app's federated credentials (exact, case-sensitive): "
    "`az ad app federated-credential list --id {app_id}`"
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
    50074: _Entry(
        _C.MFA_REQUIRED,
        "Strong authentication required",
        "Strong authentication is required and the user did not pass the MFA challenge.",
        _MFA_FIX,
        "mfa",
    ),
    50076: _Entry(
        _C.MFA_REQUIRED,
        "MFA required",
        "A Conditional Access policy, per-user MFA or a new location requires multifactor authentication "
        "for this resource; a cached or non-interactive sign-in cannot satisfy it.",
        _MFA_FIX,
        "mfa",
    ),
    50079: _Entry(
        _C.MFA_REQUIRED,
        "MFA registration required",
        "The user must register security info for multifactor authentication (or, when federated, bring "
        "the MFA claim from the federated identity provider).",
        "Register MFA at https://aka.ms/mfasetup, then: `az login --tenant {tenant} --scope {scope}`",
        "mfa",
    ),
    50158: _Entry(
        _C.MFA_REQUIRED,
        "External security challenge not satisfied",
        "An external security challenge (e.g. a third-party MFA provider required by Conditional Access) "
        "was not satisfied.",
        _MFA_FIX,
        "mfa",
    ),
    53000: _Entry(
        _C.DEVICE_COMPLIANCE_REQUIRED,
        "Device not compliant",
        "Conditional Access requires a compliant device and this device is not compliant (not enrolled "
        "with an approved MDM such as Intune).",
        _DEVICE_FIX,
        "device",
    ),
    53001: _Entry(
        _C.DEVICE_COMPLIANCE_REQUIRED,
        "Device not domain joined",
        "Conditional Access requires a domain-joined (hybrid Entra joined) device.",
        _DEVICE_FIX,
        "device",
    ),
    53002: _Entry(
        _C.CONDITIONAL_ACCESS_BLOCKED,
        "Client app not approved",
        "Conditional Access requires an approved client app and the app used is not on that list.",
        _CA_FIX,
        "block",
    ),
    53003: _Entry(
        _C.CONDITIONAL_ACCESS_BLOCKED,
        "Blocked by Conditional Access",
        "A Conditional Access policy blocked token issuance (for example by location, client app or risk).",
        _CA_FIX,
        "block",
    ),
    530003: _Entry(
        _C.DEVICE_COMPLIANCE_REQUIRED,
        "Managed device required",
        "Conditional Access requires the device to be managed to access this resource.",
        _DEVICE_FIX,
        "device",
    ),
    530032: _Entry(
        _C.CONDITIONAL_ACCESS_BLOCKED,
        "Blocked by security policy",
        "A tenant-level security policy blocks this request.",
        _CA_FIX,
        "block",
    ),
    530084: _Entry(
        _C.CONDITIONAL_ACCESS_BLOCKED,
        "Blocked by token protection",
        "A Conditional Access token protection policy requires device-bound tokens, which this client cannot present.",
        "Use a client that supports token protection (e.g. the Windows broker), or ask the admin to "
        "exclude this app from the token protection policy; automation should use a service principal "
        "or managed identity.",
        "token_protection",
    ),
    50005: _Entry(
        _C.CONDITIONAL_ACCESS_BLOCKED,
        "Unsupported device platform",
        "Sign-in came from a device platform that a Conditional Access policy does not support.",
        _CA_FIX,
        "device",
    ),
    50097: _Entry(
        _C.DEVICE_COMPLIANCE_REQUIRED,
        "Device authentication required",
        "Device authentication is required and the device did not authenticate.",
        _DEVICE_FIX,
        "device",
    ),
    70043: _Entry(
        _C.REAUTHENTICATION_REQUIRED,
        "Sign-in frequency reached",
        "The refresh token is no longer valid because of a Conditional Access sign-in frequency policy.",
        _LOGIN_AGAIN,
        "sign_in_frequency",
    ),
    # --- sessions and refresh tokens ------------------------------------------------------------------------
    50058: _Entry(
        _C.REAUTHENTICATION_REQUIRED,
        "Not signed in",
        "Session information is not sufficient for single sign-on: the user is not signed in (or the "
        "SSO session was not found).",
        _LOGIN_AGAIN,
        None,
    ),
    50132: _Entry(
        _C.REAUTHENTICATION_REQUIRED,
        "Session invalid",
        "The session is not valid because the password expired or was recently changed.",
        _LOGIN_AGAIN,
        None,
    ),
    50173: _Entry(
        _C.REAUTHENTICATION_REQUIRED,
        "Grant revoked",
        "The grant was revoked (the user or an admin revoked tokens, e.g. after a password change), so "
        "a fresh sign-in is needed.",
        _LOGIN_AGAIN,
        None,
    ),
    700082: _Entry(
        _C.REAUTHENTICATION_REQUIRED,
        "Refresh token expired by inactivity",
        "The refresh token expired because it was not used for too long.",
        _LOGIN_AGAIN,
        None,
    ),
    54005: _Entry(
        _C.REAUTHENTICATION_REQUIRED,
        "Authorization code already redeemed",
        "The OAuth2 authorization code was already redeemed; a code can be used only once.",
        "Start a new sign-in to get a new code: `az login --tenant {tenant}`; or use the refresh token "
        "already obtained.",
        None,
    ),
    # --- client (application) credentials -------------------------------------------------------------------
    70002: _Entry(
        _C.INVALID_CLIENT_SECRET,
        "Invalid client credentials",
        "Error validating the client credentials: the client_secret does not match the expected value for this client.",
        _NEW_SECRET,
        None,
    ),
    7000215: _Entry(
        _C.INVALID_CLIENT_SECRET,
        "Invalid client secret",
        "The client secret is wrong; a common cause is using the secret's ID instead of its value.",
        "Set AZURE_CLIENT_SECRET to the secret's Value (not its Secret ID), or create a new one: "
        "`az ad app credential reset --id {app_id} --append`",
        None,
    ),
    7000222: _Entry(
        _C.EXPIRED_CLIENT_SECRET,
        "Client secret expired",
        "The provided client secret keys have expired.",
        _NEW_SECRET,
        None,
    ),
    700016: _Entry(
        _C.APPLICATION_NOT_FOUND,
        "Application not found in tenant",
        "No application with this client id exists in the tenant: wrong AZURE_CLIENT_ID (often the service "
        "principal's object id pasted where its appId belongs), the app was deleted, or the request went to the "
        "wrong tenant.",
        "Check the client id and tenant {tenant}: the client id must be the appId (Application (client) ID), "
        "not an object id. When {app_id} is a service principal's object id, this prints its appId: "
        "`az ad sp show --id {app_id} --query appId -o tsv`",
        None,
    ),
    7000112: _Entry(
        _C.ACCOUNT_LOCKED_OR_DISABLED,
        "Application disabled",
        "The application (its service principal) is disabled in this tenant.",
        "Ask an admin to re-enable it: `az ad sp update --id {app_id} --set accountEnabled=true`",
        None,
    ),
    50011: _Entry(
        _C.APPLICATION_MISCONFIGURED,
        "Redirect URI mismatch",
        "The reply (redirect) address is missing or does not match those registered for the app.",
        "Add the redirect URI the client uses to the app registration (Entra admin center > App "
        "registrations > {app_id} > Authentication).",
        None,
    ),
    # --- assertions and certificates ------------------------------------------------------------------------
    50012: _Entry(
        _C.ASSERTION_INVALID,
        "Authentication failed",
        "The client assertion or signing certificate was rejected (untrusted or invalid certificate, "
        "unauthorized thumbprint, or invalid signature).",
        "Check the certificate registered on the app: `az ad app credential list --id {app_id} --cert`",
        None,
    ),
    50013: _Entry(
        _C.ASSERTION_INVALID,
        "Assertion invalid",
        "The assertion presented (in an on-behalf-of or bearer-assertion exchange, the user's token) is "
        "invalid: expired, signed by a key Entra does not know, issued by or for something else, or "
        "malformed.",
        "Acquire a fresh token for this API from the user right before the exchange and pass that access "
        "token (not an ID token) as the assertion.",
        None,
    ),
    700024: _Entry(
        _C.ASSERTION_INVALID,
        "Client assertion expired",
        "The client assertion is not within its valid time range: it expired (federated tokens such as "
        "GitHub's live about 5 minutes) or the clock is skewed.",
        "Request a fresh assertion/federated token just before the token exchange and check the clock.",
        None,
    ),
    700027: _Entry(
        _C.ASSERTION_INVALID,
        "Client assertion signature invalid",
        "The client assertion failed signature validation: usually the certificate that signed it is "
        "not registered on the app.",
        "Upload the signing certificate's public key: `az ad app credential reset --id {app_id} --cert "
        "@cert.pem --append`",
        None,
    ),
    # --- workload identity federation -----------------------------------------------------------------------
    70021: _Entry(
        _C.FEDERATION_MISMATCH,
        "No matching federated identity record",
        "No federated identity credential matches the presented assertion (issuer, subject, audience); "
        "a credential created minutes ago may also not have propagated yet.",
        _FIC_FIX,
        None,
    ),
    700211: _Entry(
        _C.FEDERATION_MISMATCH,
        "Federated issuer mismatch",
        "No federated identity credential matches the assertion's issuer.",
        _FIC_FIX,
        None,
    ),
    700212: _Entry(
        _C.FEDERATION_MISMATCH,
        "Federated audience mismatch",
        "No federated identity credential matches the assertion's audience (usually api://AzureADTokenExchange).",
        _FIC_FIX,
        None,
    ),
    700213: _Entry(
        _C.FEDERATION_MISMATCH,
        "Federated subject mismatch",
        "No federated identity credential matches the assertion's subject.",
        _FIC_FIX,
        None,
    ),
    7002138: _Entry(
        _C.FEDERATION_MISMATCH,
        "Federated subject case mismatch",
        "The subject matches a federated identity credential only case-insensitively; matching is case-sensitive.",
        _FIC_FIX,
        None,
    ),
    700222: _Entry(
        _C.FEDERATION_MISMATCH,
        "Entra-issued assertion not allowed",
        "Tokens issued by Microsoft Entra itself may not be used as federated identity assertions.",
        "Use an external issuer's token (GitHub, Kubernetes, …) as the assertion, or a managed identity "
        "configured as a federated credential.",
        None,
    ),
    90061: _Entry(
        _C.FEDERATION_MISMATCH,
        "External OIDC endpoint unreachable",
        "Entra could not fetch the external issuer's OIDC discovery document or signing keys.",
        "Make {issuer}/.well-known/openid-configuration and its jwks_uri publicly reachable, and check "
        "the federated credential's issuer URL.",
        None,
    ),
    # --- tenant, resource, scope, consent -------------------------------------------------------------------
    90002: _Entry(
        _C.TENANT_NOT_FOUND,
        "Tenant not found",
        "The tenant was not found: wrong tenant id or domain, or the wrong cloud (public vs sovereign).",
        "Check the tenant id (AZURE_TENANT_ID / --tenant): `az account tenant list --output table`",
        None,
    ),
    900023: _Entry(
        _C.TENANT_NOT_FOUND,
        "Invalid tenant identifier",
        "The tenant identifier is neither a valid GUID/DNS name nor a known external domain.",
        "Use the directory (tenant) id GUID: `az account show --query tenantId -o tsv`",
        None,
    ),
    50128: _Entry(
        _C.TENANT_NOT_FOUND,
        "Invalid domain name",
        "No tenant-identifying information was found in the request or implied by the credentials.",
        "Pass the tenant explicitly: `az login --tenant {tenant}`",
        None,
    ),
    500011: _Entry(
        _C.RESOURCE_NOT_FOUND,
        "Resource principal not found",
        "The resource (the API the token is for) has no service principal in the tenant: wrong scope "
        "or audience, wrong tenant, or the resource app was never provisioned there.",
        "Check the requested scope ({scope}) and tenant ({tenant}); for Azure OpenAI use "
        "https://cognitiveservices.azure.com/.default",
        None,
    ),
    70011: _Entry(
        _C.INVALID_SCOPE,
        "Invalid scope",
        "The scope requested is not valid (malformed, or not a '<resource>/.default' form for this flow).",
        "Request '<resource>/.default', e.g. `az account get-access-token --scope "
        "https://cognitiveservices.azure.com/.default`",
        None,
    ),
    65001: _Entry(
        _C.CONSENT_REQUIRED,
        "Consent required",
        "The user or administrator has not consented to the application using this resource.",
        "Grant consent (admin consent grants the app every permission it requests, for the whole tenant — a "
        "trust decision: review them first with `az ad app permission list --id {app_id}`), then "
        "`az ad app permission admin-consent --id {app_id}`; or sign in interactively and accept the consent "
        "prompt for yourself only.",
        None,
    ),
    65004: _Entry(
        _C.CONSENT_REQUIRED,
        "Consent declined",
        "The user declined to consent to the application.",
        "Sign in again and accept the consent prompt, or ask an admin to grant tenant-wide consent.",
        None,
    ),
    # --- users ----------------------------------------------------------------------------------------------
    50126: _Entry(
        _C.INVALID_USER_CREDENTIALS,
        "Invalid username or password",
        "Error validating credentials due to an invalid username or password.",
        "Check AZURE_USERNAME / AZURE_PASSWORD, or sign in interactively: `az login --tenant {tenant}`",
        None,
    ),
    50055: _Entry(
        _C.INVALID_USER_CREDENTIALS,
        "Password expired",
        "The user's password has expired.",
        "Reset the password (https://aka.ms/sspr or ask an admin), then `az login --tenant {tenant}`",
        None,
    ),
    50034: _Entry(
        _C.USER_NOT_FOUND,
        "User account not found",
        "The user account does not exist in this tenant (a mistyped username, or the wrong tenant).",
        "Check the username and sign in to the right tenant: `az login --tenant {tenant}`",
        None,
    ),
    50053: _Entry(
        _C.ACCOUNT_LOCKED_OR_DISABLED,
        "Account locked",
        "The account is locked after too many failed sign-ins, or the sign-in came from an IP address "
        "with malicious activity.",
        "Wait for the lockout to end or ask an admin to unblock the user (Entra admin center > "
        "Sign-in logs shows which).",
        None,
    ),
    50057: _Entry(
        _C.ACCOUNT_LOCKED_OR_DISABLED,
        "User disabled",
        "The user account is disabled.",
        "Ask an admin to re-enable the account.",
        None,
    ),
    50020: _Entry(
        _C.EXTERNAL_USER_NOT_IN_TENANT,
        "External user not in tenant",
        "The account from this identity provider does not exist in the tenant and cannot access the "
        "application there: it must be added as an external (guest) user first.",
        "Ask the tenant admin to invite the account as a guest, or sign in to your home tenant: "
        "`az login --tenant {tenant}`",
        None,
    ),
    16000: _Entry(
        _C.EXTERNAL_USER_NOT_IN_TENANT,
        "Account not in tenant",
        "The user account does not exist in the tenant and cannot access the application there; it must "
        "be added as an external user first.",
        "Sign out and sign in with an account of tenant {tenant}, or ask for a guest invitation.",
        None,
    ),
    90072: _Entry(
        _C.EXTERNAL_USER_NOT_IN_TENANT,
        "External account cannot satisfy MFA here",
        "The external account does not exist in the tenant signed into, so it cannot satisfy the tenant's "
        "MFA requirement.",
        "Ask the tenant admin to add the account as an external user, or sign in to your home tenant.",
        "mfa",
    ),
    50105: _Entry(
        _C.USER_NOT_ASSIGNED,
        "User not assigned to the application",
        "The signed-in user is not assigned to a role of the application, and the application requires assignment.",
        "Ask an admin to assign the user (or a group of it) to the enterprise application {app_id}.",
        None,
    ),
}

#: Every code the knowledge base covers.
KNOWN_CODES: frozenset[int] = frozenset(_TABLE)

# Wrapper codes that arrive first in chained messages ("AADSTS70002: Error validating credentials.
# AADSTS50126: …"); the code after them says what actually went wrong.
_GENERIC: frozenset[int] = frozenset({70002, 50012})

# --------------------------------------------------------------------------------------------------------------
# Entra's words: the meanings a number alone cannot tell apart
# --------------------------------------------------------------------------------------------------------------

#: Codes whose number has several meanings, read by their message (style.md item 10: text only splits these,
#: or reads a code the table lacks).
_SEVERAL_MEANINGS: frozenset[int] = frozenset({50012, 50013, 700024, 700027})
#: Codes whose assertion is a *user's* token (on-behalf-of, bearer assertion), not the app's own client assertion.
_USER_ASSERTION: frozenset[int] = frozenset({50013, 500131})

_SIGN_WITH_REGISTERED = (
    "Sign the assertion with the private key of a certificate registered on the app (compare thumbprints: "
    "`az ad app credential list --id {app_id} --cert`), or upload its public key: "
    "`az ad app credential reset --id {app_id} --cert @cert.pem --append`"
)
_FRESH_ASSERTION = (
    "Build (or fetch the federated token for) the assertion right before each token request instead of caching "
    "it — GitHub's OIDC tokens live about 5 minutes — and keep the signer's clock in sync (NTP)."
)
_FRESH_USER_TOKEN = (
    "Acquire a fresh access token for this API from the user right before the on-behalf-of exchange, and pass "
    "the access token (not an ID token) as the assertion."
)


@dataclass(frozen=True, slots=True)
class _Reading:
    """One meaning recognised by Entra's words: ``pattern`` (case-insensitive) over the code's own sentence;
    ``user`` limits it to user-assertion codes (True), client-assertion codes (False) or neither (None)."""

    variant: str
    pattern: re.Pattern[str]
    entry: _Entry
    user: bool | None = None


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Most specific first: "Client assertion contains an invalid signature. [Reason - The key used is expired." says
# "invalid signature" too. The texts quoted are Entra's as users pasted them in public issues.
_READINGS: tuple[_Reading, ...] = (
    # "AADSTS700024: Client assertion is not within its valid time range. Current time: 2024-10-02T22:05:03.67Z,
    # assertion valid from 1970-01-01T00:00:00.0000000Z, expiry time of assertion 2024-10-02T21:30:53.0000000Z."
    # (AzureAD/microsoft-authentication-library-for-dotnet#4951); "AADSTS70002: Error validating credentials.
    # AADSTS50012: Client assertion is not within its valid time range." (azure-activedirectory-library-for-java#46);
    # "AADSTS50013: Assertion is not within its valid time range." (active-directory-dotnet-webapi-onbehalfof#25);
    # "AADSTS500133: Assertion is not within its valid time range" (MicrosoftDocs/azure-docs#16399).
    # _time_range() turns the first two into assertion_expired / assertion_not_yet_valid when the times are given.
    _Reading(
        "user_assertion_expired",
        _words(r"not within its valid time range"),
        _Entry(
            _C.ASSERTION_INVALID,
            "User assertion expired",
            "The user's token passed as the on-behalf-of assertion is outside its validity period (Entra: 'Assertion "
            "is not within its valid time range'): it was kept past its expiry.",
            _FRESH_USER_TOKEN,
        ),
        user=True,
    ),
    _Reading(
        "assertion_time_range",
        _words(r"not within its valid time range"),
        _Entry(
            _C.ASSERTION_INVALID,
            "Client assertion outside its valid time range",
            "The client assertion is not within its valid time range: it expired before Entra received it (federated "
            "tokens such as GitHub's live about 5 minutes; a cached assertion outlives them) or the signer's clock is "
            "skewed.",
            _FRESH_ASSERTION,
        ),
        user=False,
    ),
    # "AADSTS70002: Error validating credentials. AADSTS50013: Assertion audience does not match the Client app
    # presenting the assertion. The audience in the assertion was 'abc' and the expected audience is 'def' …"
    # (AzureAD/microsoft-authentication-library-for-js#389); the same words under AADSTS500131 (AzureTRE-Deployment#65)
    _Reading(
        "user_assertion_audience",
        _words(r"assertion audience does not match the client app"),
        _Entry(
            _C.ASSERTION_INVALID,
            "On-behalf-of assertion issued for another app",
            "The user's token presented as the on-behalf-of assertion was issued for a different audience than the "
            "app presenting it (Entra: 'Assertion audience does not match the Client app presenting the assertion').",
            "The calling client must request its token for this API (api://{app_id}/.default or the API's App ID "
            "URI) and the API must pass exactly that token as the assertion.",
        ),
    ),
    # "AADSTS70002: Error validating credentials. AADSTS50012: Client assertion audience claim does not match Realm
    # issuer." (AzureAD/azure-activedirectory-library-for-python#79; AADSTS700023 in msal-dotnet#2746);
    # "AADSTS5002741: Number of audience values in the provided client credential exceed maximum allowed."
    # (zitadel/oidc#887)
    _Reading(
        "assertion_audience",
        _words(r"audience claim does not match realm issuer|number of audience values"),
        _Entry(
            _C.ASSERTION_INVALID,
            "Client assertion audience wrong",
            "The client assertion's 'aud' claim is not this token endpoint (Entra: 'Client assertion "
            "audience claim does not match Realm issuer'): built for another tenant, for /common, another "
            "host or cloud, or with more than one audience.",
            "Set 'aud' to the one token endpoint the request goes to: "
            "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        ),
    ),
    # "AADSTS50013: Assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used
    # by client: 'xxxx'" (microsoft-authentication-library-for-dotnet#2604) — for a user assertion, a token whose
    # signing key is not Entra's
    _Reading(
        "user_assertion_signature",
        _words(r"signature"),
        _Entry(
            _C.ASSERTION_INVALID,
            "User assertion signature not verifiable",
            "Entra could not verify the signature of the user's token presented as the assertion (Entra: 'Assertion "
            "failed signature validation'): it was not issued by this tenant's Entra for this API (an ID token, a "
            "token from another tenant or cloud, or one for an app with its own signing keys).",
            _FRESH_USER_TOKEN,
        ),
        user=True,
    ),
    # "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on
    # application. [Reason - The key was not found., Thumbprint of key used by client: '<thumbprint>' …"
    # (microsoft-authentication-library-for-js#8339); "AADSTS700027: Client assertion contains an invalid
    # signature. [Reason - The key was not found., …" (azure-sdk-for-net#29007)
    _Reading(
        "certificate_not_registered",
        _words(r"not registered on application|reason - the key was not found"),
        _Entry(
            _C.ASSERTION_INVALID,
            "Signing certificate not registered",
            "The certificate that signed the client assertion is not registered on the app (Entra: 'The "
            "key was not found'; the message names the thumbprint the client used).",
            _SIGN_WITH_REGISTERED,
        ),
    ),
    # "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used
    # by client: …, Found key 'Start=…, End=…'" (Entra's wording as the twin reproduces it:
    # preflight/twin/entra.py)
    _Reading(
        "certificate_expired",
        _words(r"the key used is expired"),
        _Entry(
            _C.ASSERTION_INVALID,
            "Signing certificate expired",
            "The certificate registered on the app that matches the signing key has expired (Entra: 'The key used is "
            "expired').",
            "Create a new certificate, upload it and sign with it: `az ad app credential reset --id {app_id} "
            "--cert @new-cert.pem --append`",
        ),
    ),
    # "AADSTS50013: Assertion failed signature validation. [Reason - Key was found, but use of the key to verify the
    # signature failed., …" (microsoftgraph/msgraph-sdk-php#1585); "… [Reason - The provided signature value did
    # not match the expected signature value., …" (azure-sdk-for-java#25109); "AADSTS700027: Client assertion
    # failed signature validation."
    _Reading(
        "signature_invalid",
        _words(r"signature"),
        _Entry(
            _C.ASSERTION_INVALID,
            "Client assertion signature invalid",
            "Entra found the registered key but the assertion's signature does not verify with it (Entra: 'invalid "
            "signature' / 'failed signature validation'): signed with another private key, with an algorithm other "
            "than RS256/PS256, or the JWT was altered.",
            _SIGN_WITH_REGISTERED,
        ),
    ),
    # "AADSTS7000222: The provided client secret keys for app '…' are expired." (dotnet/sign#849)
    _Reading(
        "client_secret_expired",
        _words(r"client secret keys (?:for app '[^']*' )?are expired"),
        _Entry(
            _C.EXPIRED_CLIENT_SECRET,
            "Client secret expired",
            "The provided client secret keys have expired.",
            _NEW_SECRET,
        ),
    ),
    # "AADSTS70002: Error validating credentials. AADSTS50012: Invalid client secret is provided."
    # (sjkp/letsencrypt-siteextension#144, microsoft-authentication-library-for-dotnet#544)
    _Reading(
        "client_secret_invalid",
        _words(r"invalid client secret"),
        _Entry(
            _C.INVALID_CLIENT_SECRET,
            "Invalid client secret",
            "Entra says the client secret is invalid ('Invalid client secret is provided'): a wrong or rotated value, "
            "or the secret's ID used instead of its value.",
            "Set AZURE_CLIENT_SECRET to the secret's Value (not its Secret ID), or create a new one: "
            "`az ad app credential reset --id {app_id} --append`",
        ),
    ),
    # "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or
    # 'client_secret'." (MicrosoftDocs/azure-docs#25959)
    _Reading(
        "client_credential_missing",
        _words(r"must contain the following parameter: 'client_assertion'"),
        _Entry(
            _C.APPLICATION_MISCONFIGURED,
            "No client credential sent",
            "The app is a confidential client and the request carried neither a client secret nor a client "
            "assertion — typically a device-code or username/password sign-in with an app registration "
            "that does not allow public client flows.",
            "Send the app's credential (AZURE_CLIENT_SECRET or a certificate); only for an app meant to sign "
            "users in from devices, allow public client flows (then no app credential is needed to sign in "
            "through it): `az ad app update --id {app_id} --set isFallbackPublicClient=true`",
        ),
    ),
    # "AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented."
    # (pnp/cli-microsoft365#948)
    _Reading(
        "public_client_with_credential",
        _words(r"client is public so neither"),
        _Entry(
            _C.APPLICATION_MISCONFIGURED,
            "Credential sent for a public client",
            "The app registration is a public client, so it may not present a client secret or assertion.",
            "Remove the secret/certificate from the request, or, if the app is meant to be confidential, turn "
            "public client flows off: `az ad app update --id {app_id} --set isFallbackPublicClient=false`",
        ),
    ),
)

# "Current time: 2024-10-02T22:05:03.6755165Z, assertion valid from 1970-01-01T00:00:00.0000000Z, expiry time of
# assertion 2024-10-02T21:30:53.0000000Z." — dates may also come as "Tue, 02 Dec 2026 16:00:00 GMT"
_TIME_RANGE = re.compile(
    r"Current time: (?P<now>.+?), assertion valid from (?P<nbf>.+?), expiry time of assertion "
    r"(?P<exp>.+?)\.(?:\s|$)",
    re.IGNORECASE | re.DOTALL,
)


def _instant(text: str) -> datetime | None:
    """An Entra timestamp (ISO 8601 with up to 7 fraction digits, or RFC 1123) as an aware datetime."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes >= 2 else f"{round(seconds)} seconds"


def _time_range(text: str) -> tuple[str, _Entry] | None:
    """Expired or not yet valid, from the times Entra quotes: the fix differs (a fresher assertion vs the clock)."""
    found = _TIME_RANGE.search(text)
    if not found:
        return None
    now, nbf, exp = (_instant(found.group(key)) for key in ("now", "nbf", "exp"))
    if now is None or exp is None:
        return None
    if now > exp:
        return "assertion_expired", _Entry(
            _C.ASSERTION_INVALID,
            "Client assertion expired",
            f"The client assertion expired {_span((now - exp).total_seconds())} before Entra received it (expiry "
            f"{found.group('exp').strip()}, Entra's time {found.group('now').strip()}): it was built or fetched "
            "too early, or cached and reused.",
            _FRESH_ASSERTION,
        )
    if nbf is not None and now < nbf:
        return "assertion_not_yet_valid", _Entry(
            _C.ASSERTION_INVALID,
            "Client assertion not yet valid (clock skew)",
            f"The client assertion becomes valid only {_span((nbf - now).total_seconds())} after Entra's current "
            f"time ({found.group('nbf').strip()} vs {found.group('now').strip()}): the clock of the machine that "
            "signed it runs ahead, or it was built from local time instead of UTC.",
            "Sync the signer's clock (NTP: timedatectl set-ntp true, w32tm /resync) and build nbf / iat / exp "
            "from UTC seconds since the epoch.",
        )
    return None


def _sentence(text: str, code: int) -> str:
    """The part of ``text`` that belongs to ``code``: from ``AADSTS<code>`` to the next code or Trace ID, so a
    chained message's words are read under their own code (all of ``text`` when the code is not in it)."""
    start = re.search(rf"AADSTS{code}(?![0-9])", text, re.IGNORECASE)
    if start is None:
        return text
    rest = text[start.end() :]
    end = re.search(r"AADSTS[0-9]{4,8}|Trace ID:", rest, re.IGNORECASE)
    return rest[: end.start()] if end else rest


def _read(code: int, text: str) -> AadstsInfo | None:
    """The meaning Entra's words give ``code``, or ``None`` when none of :data:`_READINGS` matches."""
    sentence = _sentence(text, code)
    for reading in _READINGS:
        if reading.user is not None and reading.user != (code in _USER_ASSERTION):
            continue
        if reading.pattern.search(sentence):
            variant, entry = reading.variant, reading.entry
            if variant == "assertion_time_range":
                variant, entry = _time_range(sentence) or (variant, entry)
            return AadstsInfo(
                code, entry.category, entry.title, entry.cause, entry.fix, docs_url(code), entry.ca_policy, variant
            )
    return None


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
    """The knowledge-base entry for ``code``. With ``text`` (the error as received), a code with several
    meanings or one the table lacks is read by Entra's words first (:data:`_READINGS`); a code still unknown
    becomes ``unknown`` carrying ``text`` as its cause, so nothing is lost."""
    entry = _TABLE.get(code)
    if text and (entry is None or code in _SEVERAL_MEANINGS):
        read = _read(code, text)
        if read is not None:
            return read
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
    ``None`` when it contains no AADSTS code at all.

    "Most specific" as in :func:`most_specific`, except that a code Entra's words explain (a generic wrapper
    split by its text, a code the table lacks but whose message reads as a known meaning) counts as specific:
    "AADSTS70002: Error validating credentials. AADSTS500133: Assertion is not within its valid time range" is
    about the assertion, not the client secret that 70002 alone would suggest.
    """
    codes = parse_aadsts_codes(source)
    if not codes:
        return None
    text: str | None = None
    if isinstance(source, str):
        text = source
    elif isinstance(source, Mapping) and isinstance(source.get("error_description"), str):
        text = source["error_description"]
    infos = [classify_aadsts(code, text) for code in codes]

    def rank(info: AadstsInfo) -> int:
        if not info.known:
            return 2
        return 1 if info.code in _GENERIC and info.variant is None else 0

    return min(infos, key=rank)  # min keeps the first of equals: the message's order


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
