"""The twin's token service core: RS256 signing, JWKS, realistic Entra claims, and bearer verification.

Entra ID signs access tokens with RS256 and publishes the keys at ``/{tenant}/discovery/v2.0/keys``; resource
services (ARM, Graph, Cognitive Services) validate signature, audience, tenant and expiry. The twin does the
same with one RSA key generated at start, so preflight's claim analysis sees tokens shaped like Azure's (v1 claims
for ARM/Graph/Cognitive Services/ML, v2 where the resource asks for v2) and its resource services refuse bad
tokens with the real error answers (see :func:`verify_bearer`). Nothing here touches sockets.
"""

from __future__ import annotations

import base64
import collections
import datetime as _dt
import hashlib
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from preflight.twin.http import (
    DATA_PLANE,
    GRAPH,
    AuthError,
    Caller,
    TwinRequest,
    TwinResponse,
)

# Well-known first-party ids, as they appear in real tokens.
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# Resources every tenant knows (AADSTS500011 for anything else), normalised (lower case, no trailing "/"),
# with the access-token version each resource's app registration asks for.
KNOWN_RESOURCES: dict[str, str] = {
    "https://management.azure.com": "1.0",
    "https://management.core.windows.net": "1.0",
    "https://graph.microsoft.com": "1.0",
    "https://cognitiveservices.azure.com": "1.0",
    "https://ml.azure.com": "1.0",
    "https://ai.azure.com": "2.0",
    "https://vault.azure.net": "1.0",
    "https://storage.azure.com": "1.0",
}
# Delegated scopes a first-party client (Azure CLI) gets for each resource: what `scp` says in real tokens.
_USER_SCOPES = {
    "https://graph.microsoft.com": (
        "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All AuditLog.Read.All "
        "DelegatedPermissionGrant.ReadWrite.All Directory.AccessAsUser.All email Group.ReadWrite.All "
        "openid profile User.Read.All User.ReadWrite.All"
    ),
}


def normalize_resource(resource: str) -> str:
    """Resource identifiers compare case-insensitively and with or without the trailing slash."""
    return resource.strip().rstrip("/").lower()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, *without* verifying it; raises ValueError if it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWT (expected three dot-separated parts)")
    try:
        return json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a JWT: {exc}") from exc


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT without verification — what tests assert on."""
    return decode_jwt(token)[1]


ISSUED_KEPT = 4096  # how many issued tokens TokenIssuer.issued() remembers


class TokenIssuer:
    """Signs tokens with an RSA key generated at construction and publishes it as a JWKS.

    A self-signed certificate wraps the public key so the JWKS carries ``x5c``/``x5t`` like Entra's does.
    """

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = _dt.datetime.now(_dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.twin.local")])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1))
            .not_valid_after(now + _dt.timedelta(days=30))
            .sign(self._key, hashes.SHA256())
        )
        der = self._cert.public_bytes(serialization.Encoding.DER)
        self.kid = b64url(hashlib.sha1(der).digest())
        self._x5c = base64.b64encode(der).decode("ascii")
        self._lock = threading.Lock()
        # Every credential the twin handed out (bounded: a long `twin serve` must not grow without end), so the
        # secret-hygiene tests can search every output for each one (tests/reliability/test_canaries.py).
        self._issued: collections.deque[str] = collections.deque(maxlen=ISSUED_KEPT)

    def remember(self, token: str) -> None:
        """Record a credential issued outside :meth:`sign` (an opaque refresh token)."""
        with self._lock:
            self._issued.append(token)

    def issued(self) -> tuple[str, ...]:
        """The most recent :data:`ISSUED_KEPT` tokens issued (JWTs and refresh tokens), oldest first."""
        with self._lock:
            return tuple(self._issued)

    def sign(self, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
        """A compact RS256 JWS of ``claims`` with Entra's header (``typ``, ``alg``, ``x5t``, ``kid``)."""
        hdr: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid}
        hdr.update(header or {})
        hdr = {k: v for k, v in hdr.items() if v is not None}  # None removes a default header
        signing_input = (
            b64url(json.dumps(hdr, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        token = signing_input + "." + b64url(signature)
        self.remember(token)
        return token

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of ``token`` if the twin's key signed it; raises ValueError otherwise."""
        header, claims = decode_jwt(token)
        if header.get("alg") != "RS256" or header.get("kid") not in (None, self.kid):
            raise ValueError("token is not signed by the twin's key")
        signing_input, _, signature = token.rpartition(".")
        try:
            self._key.public_key().verify(
                b64url_decode(signature), signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError) as exc:
            raise ValueError("invalid signature") from exc
        return claims

    def jwks(self, issuer: str | None = None) -> dict[str, Any]:
        """The key set in Entra's ``discovery/v2.0/keys`` shape."""
        numbers = self._key.public_key().public_numbers()
        key: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes(3, "big")),
            "x5c": [self._x5c],
        }
        if issuer:
            key["issuer"] = issuer
        return {"keys": [key]}


def v1_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def v2_issuer(base_url: str, tenant_id: str) -> str:
    """The v2 issuer, as the twin's OIDC discovery document announces it."""
    return f"{base_url}/{tenant_id}/v2.0"


def token_version(resource: str) -> str:
    """ "1.0" or "2.0": the access-token version the resource's registration asks for (v1 when unknown)."""
    return KNOWN_RESOURCES.get(normalize_resource(resource), "1.0")


def _pairwise_sub(object_id: str, client_id: str) -> str:
    # Real user tokens carry a pairwise `sub` (per user and app); stable, opaque, base64url.
    return b64url(hashlib.sha256(f"{object_id}:{client_id}".encode()).digest())[:43]


def _common(tenant_id: str, audience: str, version: str, base_url: str, now: float, lifetime: int) -> dict[str, Any]:
    iat = int(now)
    return {
        "aud": audience,
        "iss": v1_issuer(tenant_id) if version == "1.0" else v2_issuer(base_url, tenant_id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "aio": b64url(uuid.uuid4().bytes + uuid.uuid4().bytes)[:40],
        "rh": "0.AAAA" + b64url(uuid.uuid4().bytes) + ".",
        "tid": tenant_id,
        "uti": b64url(uuid.uuid4().bytes)[:22],
        "ver": version,
    }


def app_claims(
    *,
    tenant_id: str,
    audience: str,
    app_id: str,
    object_id: str,
    base_url: str,
    now: float,
    appidacr: str = "1",
    roles: Iterable[str] = (),
    mi_resource_id: str | None = None,
    version: str | None = None,
    lifetime: int = 3599,
) -> dict[str, Any]:
    """Claims of an app-only token (client credentials or managed identity).

    ``appidacr``: "1" for a client secret, "2" for a certificate / federated assertion / managed identity.
    ``mi_resource_id`` adds ``xms_mirid`` as Entra does for managed identities.
    """
    version = version or token_version(audience)
    claims = _common(tenant_id, audience, version, base_url, now, lifetime)
    if version == "1.0":
        claims.update(appid=app_id, appidacr=appidacr, idp=v1_issuer(tenant_id))
    else:
        claims.update(azp=app_id, azpacr=appidacr)
    claims.update(idtyp="app", oid=object_id, sub=object_id, xms_idrel="7 20")
    roles = list(roles)
    if roles:
        claims["roles"] = roles
    if mi_resource_id:
        claims["xms_mirid"] = mi_resource_id
    return claims


def user_claims(
    *,
    tenant_id: str,
    audience: str,
    user: Mapping[str, Any],
    client_id: str,
    base_url: str,
    now: float,
    amr: Iterable[str] = ("pwd",),
    scp: str | None = None,
    version: str | None = None,
    lifetime: int = 4199,
) -> dict[str, Any]:
    """Claims of a delegated (user) token, e.g. what ``az account get-access-token`` returns for a user."""
    version = version or token_version(audience)
    claims = _common(tenant_id, audience, version, base_url, now, lifetime)
    oid = str(user.get("id", ""))
    upn = str(user.get("userPrincipalName", ""))
    scope = scp or user.get("x-twin-scp") or _USER_SCOPES.get(normalize_resource(audience), "user_impersonation")
    claims.update(
        acr="1",
        amr=list(amr),
        idtyp="user",
        ipaddr="127.0.0.1",
        name=user.get("displayName", ""),
        oid=oid,
        scp=scope,
        sub=_pairwise_sub(oid, client_id),
        xms_idrel="1 8",
    )
    if user.get("givenName"):
        claims["given_name"] = user["givenName"]
    if user.get("surname"):
        claims["family_name"] = user["surname"]
    if version == "1.0":
        claims.update(
            appid=client_id,
            appidacr="0",
            unique_name=upn,
            upn=upn,
            puid=hashlib.sha256(oid.encode()).hexdigest()[:16].upper(),
        )
    else:
        claims.update(azp=client_id, azpacr="0", preferred_username=upn)
    if user.get("userType") == "Guest":
        # A guest's home tenant is not the resource tenant: Entra says so with `idp` and `acct`.
        claims["idp"] = user.get("x-twin-homeIdp", "live.com")
        claims["acct"] = 1
    return claims


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    """The :class:`Caller` a verified token stands for."""
    if claims.get("idtyp") == "user" or ("scp" in claims and "upn" in claims):
        kind = "user"
    elif claims.get("xms_mirid"):
        kind = "managedIdentity"
    else:
        kind = "servicePrincipal"
    return Caller(
        object_id=str(claims.get("oid", "")),
        tenant_id=str(claims.get("tid", "")),
        app_id=claims.get("appid") or claims.get("azp"),
        kind=kind,
        claims=dict(claims),
    )


# ---------------------------------------------------------------------------------------------------------
# Bearer verification with each service's real refusal.


def _utc(ts: float) -> str:
    # ARM prints times like "11/23/2026 2:33:40 PM".
    d = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return (
        f"{d.month}/{d.day}/{d.year} {d.hour % 12 or 12}:{d.minute:02d}:{d.second:02d} {'AM' if d.hour < 12 else 'PM'}"
    )


def _arm_refusal(code: str, message: str, base_url: str, description: str) -> TwinResponse:
    www = f'Bearer authorization_uri="{base_url}/", error="invalid_token", error_description="{description}"'
    return TwinResponse.json(
        401,
        {"error": {"code": code, "message": message}},
        headers={"WWW-Authenticate": www, "x-ms-failure-cause": "gateway"},
    )


def _graph_refusal(message: str, request: TwinRequest) -> TwinResponse:
    body = {
        "error": {
            "code": "InvalidAuthenticationToken",
            "message": message,
            "innerError": {
                "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": request.header("client-request-id") or str(uuid.uuid4()),
            },
        }
    }
    www = (
        'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        f'client_id="{GRAPH_APP_ID}"'
    )
    return TwinResponse.json(401, body, headers={"WWW-Authenticate": www})


def _data_plane_refusal(audiences: tuple[str, ...]) -> TwinResponse:
    aud = audiences[0] if audiences else "https://cognitiveservices.azure.com"
    return TwinResponse.json(
        401,
        {
            "error": {
                "code": "401",
                "message": (
                    f"Unauthorized. Access token is missing, invalid, audience is incorrect ({aud.rstrip('/')}), "
                    "or have expired."
                ),
            }
        },
    )


def refusal(
    service: str,
    reason: str,
    *,
    request: TwinRequest,
    audiences: tuple[str, ...],
    base_url: str,
    token_claims: Mapping[str, Any] | None = None,
    expected_tenant: str = "",
    now: float = 0.0,
) -> TwinResponse:
    """The answer ``service`` gives for a refused token. ``reason``: missing | invalid | audience | expired |
    tenant."""
    claims = token_claims or {}
    if service == GRAPH:
        message = {
            "missing": "Access token is empty.",
            "invalid": "Access token validation failure.",
            "audience": "Access token validation failure. Invalid audience.",
            "expired": "Lifetime validation failed, the token is expired.",
            "tenant": "Access token validation failure. Invalid issuer.",
        }[reason]
        return _graph_refusal(message, request)
    if service == DATA_PLANE:
        return _data_plane_refusal(audiences)
    # ARM and everything else served through ARM's front door (Resource Graph, the twin's own endpoints).
    if reason == "missing":
        return _arm_refusal(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            base_url,
            "The authentication failed because of missing 'Authorization' header.",
        )
    if reason == "audience":
        allowed = ",".join(f"'{a}'" for a in audiences)
        return _arm_refusal(
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{claims.get('aud', '')}'. "
            f"It should exactly match with one of the allowed audiences {allowed}.",
            base_url,
            "The access token has been obtained for wrong audience or resource.",
        )
    if reason == "expired":
        return _arm_refusal(
            "ExpiredAuthenticationToken",
            f"The access token expiry UTC time '{_utc(float(claims.get('exp', 0)))}' is earlier than current UTC "
            f"time '{_utc(now)}'.",
            base_url,
            "The access token expiry UTC time is earlier than current UTC time.",
        )
    if reason == "tenant":
        return _arm_refusal(
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer '{claims.get('iss', '')}'. It must match the tenant "
            f"'{v1_issuer(expected_tenant)}' associated with this subscription. Please use the authority (URL) "
            f"'{base_url}/{expected_tenant}' to get the token. Note, if the subscription is transferred to "
            "another tenant there is no impact to the services, but information about new tenant could take "
            "time to propagate (up to an hour). If you just transferred your subscription and see this error "
            "message, please try back later.",
            base_url,
            "The access token is from the wrong issuer.",
        )
    return _arm_refusal(
        "InvalidAuthenticationToken", "The access token is invalid.", base_url, "The access token is invalid."
    )


def verify_bearer(
    issuer: TokenIssuer,
    request: TwinRequest,
    audiences: tuple[str, ...],
    *,
    service: str,
    base_url: str,
    tenant_id: str,
    now: float,
) -> Caller:
    """Validate ``Authorization: Bearer`` like ``service`` does; raise :class:`AuthError` with its refusal.

    Order follows ARM: a token it cannot parse or verify is "invalid", then audience, then expiry, then tenant.
    ``audiences`` compare case-insensitively and with or without a trailing slash.
    """

    def refuse(reason: str, claims: Mapping[str, Any] | None = None) -> AuthError:
        return AuthError(
            refusal(
                service,
                reason,
                request=request,
                audiences=audiences,
                base_url=base_url,
                token_claims=claims,
                expected_tenant=tenant_id,
                now=now,
            )
        )

    auth = request.header("authorization")
    scheme, _, token = auth.partition(" ")
    if not auth or scheme.lower() != "bearer" or not token.strip():
        raise refuse("missing")
    try:
        claims = issuer.verify(token.strip())
    except ValueError:
        raise refuse("invalid") from None
    wanted = {normalize_resource(a) for a in audiences}
    if normalize_resource(str(claims.get("aud", ""))) not in wanted:
        raise refuse("audience", claims)
    if float(claims.get("exp", 0)) <= now:
        raise refuse("expired", claims)
    if tenant_id and str(claims.get("tid", "")).lower() != tenant_id.lower():
        raise refuse("tenant", claims)
    return caller_from_claims(claims)


__all__ = [
    "TokenIssuer",
    "app_claims",
    "caller_from_claims",
    "decode_claims",
    "decode_jwt",
    "normalize_resource",
    "refusal",
    "token_version",
    "user_claims",
    "verify_bearer",
]
