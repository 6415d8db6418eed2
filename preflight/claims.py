"""Access-token claims: decode (never verify), describe the principal, pick safe evidence, find problems.

Why decode without verifying: preflight is not a resource server deciding whether to trust a token; it is a
diagnostic reading the token it was just given to say *who* it is for, *which* audience and tenant it targets
and *how long* it lives — the facts behind most "401 from the data plane" mysteries. Verification would need
network access to signing keys and would add nothing to that.

Why so careful with the raw token: it is a bearer credential. Nothing here returns it, logs it, or puts any
part of it in an exception message; :func:`safe_claims` is an allow-list, so a claim Microsoft adds tomorrow is
left out of evidence until someone decides it is harmless.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from preflight.errors import PreflightError

__all__ = [
    "KNOWN_RESOURCE_APP_IDS",
    "SAFE_CLAIMS",
    "ClaimFinding",
    "ClaimsError",
    "ExpectedClaims",
    "PrincipalInfo",
    "analyse_claims",
    "decode_claims",
    "describe_principal",
    "normalize_audience",
    "safe_claims",
]


class ClaimsError(PreflightError):
    """The string is not a decodable JWT. The message says what is wrong, never what the string was."""


PrincipalKind = Literal["user", "servicePrincipal", "managedIdentity"]
FindingLevel = Literal["fail", "warn", "info"]

# A token is three base64url parts; an encrypted (JWE) token is five and its payload cannot be read.
_JWS_PARTS = 3
_JWE_PARTS = 5
# ARM and the data planes tolerate a few minutes of clock skew on nbf; use the same allowance.
_CLOCK_SKEW_S = 300


def _b64url_decode(part: str) -> bytes:
    """base64url without the padding JWTs strip (RFC 7515 §2); strict about the alphabet."""
    padded = part + "=" * (-len(part) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT as a dict, without verifying the signature.

    Accepts an optional ``Bearer`` prefix and surrounding whitespace. Raises :class:`ClaimsError` for anything
    that is not a signed JWT with a JSON object payload; the error never quotes the input.
    """
    if not isinstance(token, str):
        raise ClaimsError("not a token: expected a string")
    text = token.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    parts = text.split(".")
    if len(parts) == _JWE_PARTS:
        raise ClaimsError("the token is encrypted (JWE); its claims cannot be read")
    if len(parts) != _JWS_PARTS or not parts[1]:
        raise ClaimsError(f"not a JWT: expected 3 dot-separated parts, found {len(parts)}")
    try:
        payload = json.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8 and bad JSON; only the kind of failure is kept, never the input.
        raise ClaimsError(f"not a JWT: the payload is not base64url-encoded JSON ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise ClaimsError("not a JWT: the payload is not a JSON object")
    return payload


@dataclass(frozen=True, slots=True)
class PrincipalInfo:
    """Who a token was issued to, as far as its claims tell."""

    object_id: str | None
    tenant_id: str | None
    kind: PrincipalKind
    display: str | None
    app_id: str | None
    token_version: str | None
    idtyp: str | None


def _str_claim(claims: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` present as a non-empty string."""
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _principal_kind(claims: Mapping[str, Any]) -> PrincipalKind:
    """User, service principal or managed identity.

    ``xms_mirid`` (the managed identity's resource id) appears only in managed-identity tokens. ``idtyp`` says
    app or user when present (v2 tokens, or the optional claim in v1). Otherwise a delegated token has ``scp``
    and user name claims, and an app-only token has neither (its ``sub`` equals its ``oid``).
    """
    if _str_claim(claims, "xms_mirid"):
        return "managedIdentity"
    idtyp = _str_claim(claims, "idtyp")
    if idtyp == "app":
        return "servicePrincipal"
    if idtyp == "user":
        return "user"
    if _str_claim(claims, "scp", "upn", "unique_name", "preferred_username"):
        return "user"
    return "servicePrincipal"


def describe_principal(claims: Mapping[str, Any]) -> PrincipalInfo:
    """The principal behind a token: object id, tenant, kind, a display name, app id and token version."""
    kind = _principal_kind(claims)
    display = _str_claim(claims, "upn", "unique_name", "preferred_username", "name", "app_displayname")
    mirid = _str_claim(claims, "xms_mirid")
    if kind == "managedIdentity" and mirid and display is None:
        display = mirid.rstrip("/").rsplit("/", 1)[-1]
    return PrincipalInfo(
        object_id=_str_claim(claims, "oid"),
        tenant_id=_str_claim(claims, "tid"),
        kind=kind,
        display=display,
        app_id=_str_claim(claims, "appid", "azp"),
        token_version=_str_claim(claims, "ver"),
        idtyp=_str_claim(claims, "idtyp"),
    )


#: Claims that are identifiers, authorization facts or times — what a diagnosis needs and nothing secret.
#: Left out on purpose: ``uti`` (unique token id: correlates to this exact token), ``rh`` and ``aio`` (opaque
#: Entra-internal state, sometimes reusable for token refresh hints), ``sub`` (a pairwise id; ``oid`` is the
#: stable one), ``ipaddr`` and ``given_name``/``family_name`` (personal data not needed), ``groups`` (can be
#: hundreds of ids; group membership is read from Graph), ``xms_tcdt`` and other ``xms_*`` internals, ``puid``,
#: ``onprem_sid``, ``deviceid``, ``nonce``, ``at_hash``/``c_hash`` (derived from secrets).
SAFE_CLAIMS: frozenset[str] = frozenset(
    {
        "aud",
        "iss",
        "tid",
        "oid",
        "appid",
        "azp",
        "app_displayname",
        "appidacr",
        "azpacr",
        "idtyp",
        "idp",
        "upn",
        "unique_name",
        "preferred_username",
        "name",
        "scp",
        "roles",
        "wids",
        "amr",
        "acr",
        "iat",
        "nbf",
        "exp",
        "ver",
        "xms_mirid",
    }
)


def safe_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Only the :data:`SAFE_CLAIMS`, in the token's order: what may be shown as evidence in a report."""
    return {name: value for name, value in claims.items() if name in SAFE_CLAIMS}


#: Resource URI → resource application id. v1 access tokens carry the URI as ``aud``, v2 tokens the app id,
#: so an expected audience is accepted in either form. ARM answers to two URIs.
KNOWN_RESOURCE_APP_IDS: Mapping[str, str] = {
    "https://cognitiveservices.azure.com": "7d312290-28c8-473c-a0ed-8e53749b6d6d",
    "https://management.azure.com": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
    "https://management.core.windows.net": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
    "https://ml.azure.com": "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe",
    "https://graph.microsoft.com": "00000003-0000-0000-c000-000000000000",
}


def normalize_audience(audience: str) -> str:
    """Comparable audience: lowercase, no ``/.default`` (so scopes can be passed), no trailing slash."""
    return audience.strip().lower().removesuffix("/.default").rstrip("/")


def _audience_forms(audience: str) -> set[str]:
    """An audience plus its other form (URI ↔ app id), and for ARM both URIs."""
    norm = normalize_audience(audience)
    app_ids = {app_id for uri, app_id in KNOWN_RESOURCE_APP_IDS.items() if norm in (uri, app_id)}
    forms = {norm, *app_ids}
    forms.update(uri for uri, app_id in KNOWN_RESOURCE_APP_IDS.items() if app_id in app_ids)
    return forms


@dataclass(frozen=True, slots=True)
class ExpectedClaims:
    """What the token should look like for the call about to be made.

    ``audiences``: acceptable audiences (URIs, app ids or ``…/.default`` scopes; one match is enough).
    ``tenant_id``: the resource's tenant, when known. ``now``: the current time (epoch seconds), passed in so
    the analysis stays pure. ``data_plane``: the token is for a data plane authorised by Azure RBAC.
    ``require_mfa``: the target is known to be protected by an MFA Conditional Access policy.
    """

    audiences: tuple[str, ...]
    tenant_id: str | None
    now: float
    min_lifetime_s: int = 300
    data_plane: bool = False
    require_mfa: bool = False


@dataclass(frozen=True, slots=True)
class ClaimFinding:
    """One problem (or fact worth knowing) about a token. ``code`` is stable for tests and reports."""

    level: FindingLevel
    code: str
    message: str
    fix: str | None = None


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _scope_for(expected: ExpectedClaims) -> str:
    """The ``/.default`` scope to ask for, from the first expected audience."""
    if not expected.audiences:
        return "<scope>"
    first = expected.audiences[0].strip()
    return first if first.endswith("/.default") else normalize_audience(first) + "/.default"


def _audience_findings(claims: Mapping[str, Any], expected: ExpectedClaims) -> list[ClaimFinding]:
    if not expected.audiences:
        return []
    aud = claims.get("aud")
    presented: list[str] = []
    if isinstance(aud, str):
        presented = [aud]
    elif isinstance(aud, list):
        presented = [a for a in aud if isinstance(a, str)]
    wanted: set[str] = set().union(*(_audience_forms(a) for a in expected.audiences))
    if any(normalize_audience(a) in wanted for a in presented):
        return []
    scope = _scope_for(expected)
    return [
        ClaimFinding(
            "fail",
            "audience-mismatch",
            f"The token's audience {presented or 'is missing'} is not the expected "
            f"{', '.join(expected.audiences)}; the service will answer 401.",
            f"Request a token for the right scope: az account get-access-token --scope {scope}",
        )
    ]


def _tenant_findings(claims: Mapping[str, Any], expected: ExpectedClaims) -> list[ClaimFinding]:
    tid = _str_claim(claims, "tid")
    findings: list[ClaimFinding] = []
    if expected.tenant_id and (tid or "").lower() != expected.tenant_id.lower():
        findings.append(
            ClaimFinding(
                "fail",
                "tenant-mismatch",
                f"The token was issued by tenant {tid or '(none)'} but the resource is in tenant "
                f"{expected.tenant_id}: the resource will reject it (often a home-tenant token used for a "
                "guest tenant, or a CLI logged into another directory).",
                f"az login --tenant {expected.tenant_id}",
            )
        )
    idp = _str_claim(claims, "idp")
    iss = _str_claim(claims, "iss")
    if idp and iss and idp.rstrip("/") != iss.rstrip("/") and idp.startswith("https://sts.windows.net/"):
        findings.append(
            ClaimFinding(
                "info",
                "guest-account",
                f"The user signed in as a guest: its home tenant is {idp}, not the token's tenant {tid}.",
            )
        )
    return findings


def _lifetime_findings(claims: Mapping[str, Any], expected: ExpectedClaims) -> list[ClaimFinding]:
    now = expected.now
    exp = _number(claims, "exp")
    nbf = _number(claims, "nbf")
    renew = "Get a new token (az account get-access-token, or let the credential refresh it)."
    if exp is None:
        return [ClaimFinding("warn", "expiry-missing", "The token has no exp claim; its lifetime is unknown.")]
    if exp <= now:
        return [ClaimFinding("fail", "token-expired", f"The token expired {int(now - exp)} s ago.", renew)]
    findings: list[ClaimFinding] = []
    if nbf is not None and nbf > now + _CLOCK_SKEW_S:
        findings.append(
            ClaimFinding(
                "fail",
                "token-not-yet-valid",
                f"The token is not valid for another {int(nbf - now)} s: this machine's clock is probably wrong.",
                "Synchronise the system clock (NTP), then get a new token.",
            )
        )
    elif nbf is not None and nbf > now:
        findings.append(
            ClaimFinding(
                "warn",
                "clock-skew",
                f"The token becomes valid {int(nbf - now)} s from now by this machine's clock: the clock is "
                "slightly behind.",
                "Synchronise the system clock (NTP).",
            )
        )
    if exp - now < expected.min_lifetime_s:
        findings.append(
            ClaimFinding(
                "warn",
                "token-expiring",
                f"The token expires in {int(exp - now)} s, less than {expected.min_lifetime_s} s.",
                renew,
            )
        )
    return findings


def _issuer_findings(claims: Mapping[str, Any]) -> list[ClaimFinding]:
    """v1 tokens are issued by ``https://sts.windows.net/{tid}/``, v2 by ``https://login…/{tid}/v2.0``;
    the host varies by cloud, so the check looks at the path shape and the tenant in it."""
    iss = _str_claim(claims, "iss")
    ver = _str_claim(claims, "ver")
    tid = _str_claim(claims, "tid")
    if iss is None:
        return [ClaimFinding("warn", "issuer-missing", "The token has no iss claim.")]
    path = [seg for seg in iss.split("://", 1)[-1].split("/")[1:] if seg]
    findings: list[ClaimFinding] = []
    issuer_v2 = bool(path) and path[-1].lower() == "v2.0"
    if ver in ("1.0", "2.0") and issuer_v2 != (ver == "2.0"):
        findings.append(
            ClaimFinding(
                "warn",
                "issuer-version-mismatch",
                f"The token says ver {ver} but its issuer {iss} is the "
                f"{'v2.0' if issuer_v2 else 'v1.0'} form; a resource validating the issuer may reject it.",
                "Check the resource app's accessTokenAcceptedVersion and the authority the client uses.",
            )
        )
    if tid and path and path[0].lower() != tid.lower():
        findings.append(
            ClaimFinding(
                "warn",
                "issuer-tenant-mismatch",
                f"The issuer {iss} names another tenant than the token's tid {tid}.",
            )
        )
    return findings


def _authorization_findings(claims: Mapping[str, Any], expected: ExpectedClaims) -> list[ClaimFinding]:
    """Data planes authorised by Azure RBAC need no ``roles``; a delegated token without ``scp`` is odd."""
    if not expected.data_plane:
        return []
    kind = _principal_kind(claims)
    has_scp = bool(_str_claim(claims, "scp"))
    roles = claims.get("roles")
    if kind == "user" and not has_scp:
        return [
            ClaimFinding(
                "warn",
                "scope-missing",
                "The delegated (user) token carries no scp claim: no permission was consented for this "
                "resource, and the data plane may refuse it.",
                "Request the resource's /.default scope, e.g. az account get-access-token --scope "
                "https://cognitiveservices.azure.com/.default",
            )
        ]
    if kind != "user" and not roles:
        return [
            ClaimFinding(
                "info",
                "roles-absent",
                "The app-only token carries no roles claim: access rests entirely on Azure RBAC role "
                "assignments of this principal.",
            )
        ]
    return []


def _mfa_findings(claims: Mapping[str, Any], expected: ExpectedClaims) -> list[ClaimFinding]:
    if not expected.require_mfa or _principal_kind(claims) != "user":
        return []
    amr = claims.get("amr")
    methods: Sequence[Any] = amr if isinstance(amr, list) else []
    if "mfa" in methods:
        return []
    return [
        ClaimFinding(
            "warn",
            "mfa-absent",
            f"The token's amr {list(methods)} does not include mfa, but the target is protected by an MFA "
            "policy: the next token request may fail with AADSTS50076.",
            f"Sign in interactively with MFA: az login --tenant {expected.tenant_id or '<tenant>'}"
            f" --scope {_scope_for(expected)}",
        )
    ]


def analyse_claims(claims: Mapping[str, Any], expected: ExpectedClaims) -> tuple[ClaimFinding, ...]:
    """Every problem with a token for the intended call, most important first (fail, warn, info)."""
    findings = [
        *_audience_findings(claims, expected),
        *_tenant_findings(claims, expected),
        *_lifetime_findings(claims, expected),
        *_issuer_findings(claims),
        *_authorization_findings(claims, expected),
        *_mfa_findings(claims, expected),
    ]
    order = {"fail": 0, "warn": 1, "info": 2}
    return tuple(sorted(findings, key=lambda finding: order[finding.level]))
