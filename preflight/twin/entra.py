"""Microsoft Entra ID for the twin: OIDC discovery, JWKS and the token endpoint.

MSAL (inside azure-identity's secret / certificate / workload-identity / environment credentials) talks to
``{authority}/{tenant}/v2.0/.well-known/openid-configuration`` and then ``POST {tenant}/oauth2/v2.0/token``.
The twin answers both from the scenario's directory: it authenticates the client (secret, certificate
assertion, federated assertion), checks the requested resource is known to the tenant, and mints RS256 tokens
with :mod:`preflight.twin.tokens`. Failures come back with Entra's real error body (``error``,
``error_description`` = ``AADSTSnnnnn: …\\r\\nTrace ID: …\\r\\nCorrelation ID: …\\r\\nTimestamp: …``, ``error_codes``,
``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``), because that text is exactly what the SDKs put
in their exceptions and what preflight classifies.

The minting helpers (:func:`mint_app_token`, :func:`mint_user_token`, :func:`forced_error`) are shared with
the managed-identity endpoints and the ``az`` shim, so every token of the twin has one shape.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from preflight.twin import tokens
from preflight.twin.http import ARM, ENTRA, GRAPH, Router, TwinRequest, TwinResponse, TwinState
from preflight.twin.scenario import rule_list_errors, unknown_key_errors

if TYPE_CHECKING:
    from preflight.twin.server import TwinServer

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
_TOKEN_ERROR_KEYS = {"match", "status", "body", "description"}
_TOKEN_ERROR_MATCH_KEYS = {"clientId", "principal", "scope", "grantType"}
_TOKEN_ERROR_MATCH_EXPECTED = "clientId, principal, scope, grantType"


# ---------------------------------------------------------------------------------------------- validation


def validate_token_errors(section: Any) -> list[str]:
    """Check a scenario's ``tokenErrors`` section (called by the scenario loader)."""
    return rule_list_errors(section, "tokenErrors", "must be a list", _token_error_rule_errors)


def _token_error_rule_errors(where: str, rule: Mapping[str, Any]) -> list[str]:
    errors = unknown_key_errors(where, rule, _TOKEN_ERROR_KEYS, "match, status, body")
    match = rule.get("match") or {}
    if not isinstance(match, Mapping):
        errors.append(f"{where}.match: must be an object")
    else:
        errors += unknown_key_errors(f"{where}.match", match, _TOKEN_ERROR_MATCH_KEYS, _TOKEN_ERROR_MATCH_EXPECTED)
        for key, value in match.items():
            if not isinstance(value, str):
                errors.append(f"{where}.match.{key}: must be a string")
    status = rule.get("status", 400)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        errors.append(f"{where}.status: must be an HTTP error status (400-599)")
    if "body" not in rule:
        errors.append(f"{where}.body: required (the Entra error body, returned verbatim)")
    elif not isinstance(rule["body"], (dict, str)):
        errors.append(f"{where}.body: must be a JSON object or a string")
    return errors


# ---------------------------------------------------------------------------------------------- directory


def tenant_id_of(tenant: Mapping[str, Any]) -> str:
    """A tenant's GUID from either shape: ARM's (``tenantId``, ``id`` = ``/tenants/{guid}``) or plain ``id``."""
    tid = tenant.get("tenantId") or str(tenant.get("id", "")).rsplit("/", 1)[-1]
    return str(tid)


def _tenant_names(tenant: Mapping[str, Any]) -> set[str]:
    names = {tenant_id_of(tenant).lower()}
    for key in ("defaultDomain",):
        if tenant.get(key):
            names.add(str(tenant[key]).lower())
    names.update(str(d).lower() for d in tenant.get("domains") or () if isinstance(d, str))
    return names


def resolve_tenant(scenario: Mapping[str, Any], segment: str) -> tuple[str, Mapping[str, Any] | None]:
    """``("home" | "other" | "unknown", tenant)`` for the first path segment of an authority URL."""
    seg = segment.lower()
    home = scenario.get("tenant") or {}
    if seg in ("organizations", "common") or seg in _tenant_names(home):
        return "home", home
    for other in scenario.get("otherTenants") or ():
        if isinstance(other, Mapping) and seg in _tenant_names(other):
            return "other", other
    return "unknown", None


def _directory(scenario: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [o for o in (scenario.get("directory") or {}).get(key) or () if isinstance(o, Mapping)]


def find_application(scenario: Mapping[str, Any], app_id: str) -> Mapping[str, Any] | None:
    return next(
        (a for a in _directory(scenario, "applications") if str(a.get("appId", "")).lower() == app_id.lower()), None
    )


def find_service_principal(
    scenario: Mapping[str, Any], *, app_id: str | None = None, object_id: str | None = None
) -> Mapping[str, Any] | None:
    for sp in _directory(scenario, "servicePrincipals"):
        if app_id and str(sp.get("appId", "")).lower() == app_id.lower():
            return sp
        if object_id and str(sp.get("id", "")).lower() == object_id.lower():
            return sp
    return None


def find_user(scenario: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    """A user by object id or UPN (case-insensitive)."""
    ref = ref.lower()
    return next(
        (
            u
            for u in _directory(scenario, "users")
            if ref in (str(u.get("id", "")).lower(), str(u.get("userPrincipalName", "")).lower())
        ),
        None,
    )


def _parse_time(value: Any) -> float | None:
    """Epoch seconds of a Graph/ARM timestamp (the product's parser: the twin and the product read time alike)."""
    from preflight.timestamps import parse_time

    return parse_time(value) if isinstance(value, str) else None


def resource_known(state: TwinState, resource: str) -> bool:
    """Whether the tenant has a service principal for ``resource`` (else AADSTS500011)."""
    norm = tokens.normalize_resource(resource)
    own = {tokens.normalize_resource(url) for url in (state.origin(ARM), state.origin(GRAPH), state.base_url)}
    if norm in tokens.KNOWN_RESOURCES or norm in own:
        return True
    for app in _directory(state.scenario, "applications"):
        ids = {str(app.get("appId", "")).lower(), f"api://{str(app.get('appId', '')).lower()}"}
        ids.update(tokens.normalize_resource(str(u)) for u in app.get("identifierUris") or ())
        if norm in ids:
            return True
    for sp in _directory(state.scenario, "servicePrincipals"):
        names = {tokens.normalize_resource(str(n)) for n in sp.get("servicePrincipalNames") or ()}
        if norm in names or norm == str(sp.get("appId", "")).lower():
            return True
    return False


def graph_resources(state: TwinState) -> tuple[str, ...]:
    """Audiences the twin's Microsoft Graph accepts: the public one and the twin's own origin (custom cloud)."""
    return ("https://graph.microsoft.com", state.origin(GRAPH) + "/")


# ---------------------------------------------------------------------------------------------- errors


def _stamp(now: float) -> str:
    return _dt.datetime.fromtimestamp(now, _dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def aadsts_body(
    state: TwinState,
    request: TwinRequest | None,
    code: int,
    error: str,
    message: str,
    *,
    suberror: str | None = None,
    claims: str | None = None,
) -> dict[str, Any]:
    """Entra's error body for ``AADSTS{code}: {message}``, with the trace/correlation trailer Entra appends."""
    trace_id = str(uuid.uuid4())
    correlation_id = (request.header("client-request-id") if request else "") or str(uuid.uuid4())
    stamp = _stamp(state.now())
    body: dict[str, Any] = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{state.origin(ENTRA)}/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    if claims:
        body["claims"] = claims
    return body


class EntraError(Exception):
    """An Entra refusal: raised anywhere in a token request, turned into the HTTP answer at the edge."""

    def __init__(
        self,
        status: int,
        code: int,
        error: str,
        message: str,
        *,
        suberror: str | None = None,
        claims: str | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status, self.code, self.error, self.message = status, code, error, message
        self.suberror, self.claims = suberror, claims

    def body(self, state: TwinState, request: TwinRequest | None) -> dict[str, Any]:
        return aadsts_body(
            state, request, self.code, self.error, self.message, suberror=self.suberror, claims=self.claims
        )

    def response(self, state: TwinState, request: TwinRequest | None) -> TwinResponse:
        return TwinResponse.json(
            self.status,
            self.body(state, request),
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )


class ForcedError(Exception):
    """A scenario ``tokenErrors`` rule matched: answer ``status`` with ``body`` verbatim."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body

    def response(self) -> TwinResponse:
        if isinstance(self.body, str):
            return TwinResponse(
                self.status, self.body.encode("utf-8"), {"Content-Type": "application/json; charset=utf-8"}
            )
        return TwinResponse.json(self.status, self.body)


def tenant_display_name(tenant: Mapping[str, Any] | None) -> str:
    return str((tenant or {}).get("displayName") or tenant_id_of(tenant or {}))


def unknown_tenant(segment: str) -> EntraError:
    return EntraError(
        400,
        90002,
        "invalid_request",
        (
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant."
        ),
    )


# The sentence Entra's AADSTS700016 (application not found) and AADSTS500011 (resource principal not found) share,
# word for word; the sentence after it differs ("may" / "might").
_NOT_INSTALLED = (
    "This can happen if the application has not been installed by the administrator of the tenant or consented to by "
    "any user in the tenant."
)


def app_not_found(app_id: str, tenant: Mapping[str, Any] | None) -> EntraError:
    return EntraError(
        400,
        700016,
        "unauthorized_client",
        f"Application with identifier '{app_id}' was not found in the directory '{tenant_display_name(tenant)}'. "
        f"{_NOT_INSTALLED} You may have sent your authentication request to the wrong tenant.",
    )


def resource_not_found(resource: str, tenant: Mapping[str, Any] | None) -> EntraError:
    return EntraError(
        400,
        500011,
        "invalid_resource",
        f"The resource principal named {resource} was not found in the tenant named {tenant_display_name(tenant)}. "
        f"{_NOT_INSTALLED} You might have sent your authentication request to the wrong tenant.",
    )


def refresh_token_expired(issued: float) -> EntraError:
    issued_text = _dt.datetime.fromtimestamp(issued, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    return EntraError(
        400,
        700082,
        "invalid_grant",
        (
            f"The refresh token has expired due to inactivity. The token was issued on {issued_text} and was "
            "inactive for 90.00:00:00."
        ),
        suberror="bad_token",
    )


# ---------------------------------------------------------------------------------------------- forced errors


def forced_error(
    state: TwinState, *, client_id: str = "", principals: Iterable[str] = (), scope: str = "", grant_type: str = ""
) -> ForcedError | None:
    """The first ``tokenErrors`` rule matching this token request, or ``None``.

    ``principals`` are every name of the caller (object id, appId, UPN); ``scope`` matches with or without
    ``/.default`` and a trailing slash; ``grantType`` is the OAuth grant (``client_credentials``,
    ``refresh_token``, …; the ``az`` shim uses ``refresh_token`` like the real CLI, managed identity uses
    ``managed_identity``). All comparisons are case-insensitive; an empty match matches every request.
    """
    names = {p.lower() for p in principals if p}

    def scope_norm(s: str) -> str:
        s = s.strip().lower()
        return tokens.normalize_resource(s.removesuffix("/.default"))

    requested = {scope_norm(s) for s in scope.split() if s.lower() not in OIDC_SCOPES}
    for rule in state.scenario.get("tokenErrors") or ():
        match = rule.get("match") or {}
        if "clientId" in match and match["clientId"].lower() != client_id.lower():
            continue
        if "principal" in match and match["principal"].lower() not in names:
            continue
        if "grantType" in match and match["grantType"].lower() != grant_type.lower():
            continue
        if "scope" in match and scope_norm(match["scope"]) not in requested:
            continue
        return ForcedError(int(rule.get("status", 400)), rule.get("body"))
    return None


# ---------------------------------------------------------------------------------------------- minting


def _scope_to_resource(scope: str) -> tuple[str, str | None]:
    """``(resource, permission)`` of one v2 scope: ``R/.default`` → (R, None), ``R/User.Read`` → (R, User.Read)."""
    if scope.endswith("/.default"):
        return scope[: -len("/.default")], None
    if scope.startswith(("https://", "http://", "api://")) and scope.count("/") > 2:
        base, _, perm = scope.rpartition("/")
        return base, perm
    return scope, None


def mi_resource_id(sp: Mapping[str, Any]) -> str | None:
    """The ARM id of a managed identity (``xms_mirid``), from its service principal's ``alternativeNames``."""
    for name in sp.get("alternativeNames") or ():
        if isinstance(name, str) and name.lower().startswith("/subscriptions/"):
            return name
    return None


def _app_roles(state: TwinState, sp: Mapping[str, Any], audience: str) -> list[str]:
    # Application permissions to Microsoft Graph surface as `roles` in app-only Graph tokens.
    if tokens.normalize_resource(audience) not in {tokens.normalize_resource(a) for a in graph_resources(state)}:
        return []
    perms = ((state.scenario.get("directory") or {}).get("permissions") or {}).get(str(sp.get("id", "")), [])
    return [str(p) for p in perms]


def mint_app_token(
    state: TwinState, sp: Mapping[str, Any], audience: str, *, appidacr: str = "1", lifetime: int = 3599
) -> tuple[str, dict[str, Any]]:
    """An app-only access token for ``sp`` (application or managed identity) and its claims."""
    server = cast("TwinServer", state)
    is_mi = sp.get("servicePrincipalType") == "ManagedIdentity"
    claims = tokens.app_claims(
        tenant_id=server.tenant_id,
        audience=audience,
        app_id=str(sp.get("appId", "")),
        object_id=str(sp.get("id", "")),
        base_url=state.origin(ENTRA),
        now=state.now(),
        appidacr="2" if is_mi else appidacr,
        roles=_app_roles(state, sp, audience),
        mi_resource_id=mi_resource_id(sp) if is_mi else None,
        lifetime=lifetime,
    )
    return server.issuer.sign(claims), claims


def mint_user_token(
    state: TwinState,
    user: Mapping[str, Any],
    audience: str,
    *,
    client_id: str = tokens.AZURE_CLI_APP_ID,
    amr: Sequence[str] | None = None,
    scp: str | None = None,
    lifetime: int = 4199,
    tenant_id: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A delegated access token for ``user`` (as the Azure CLI would get it) and its claims. ``tenant_id`` is
    the tenant the token is issued in (a guest signed into another tenant gets that tenant's ``tid``); ``amr``
    defaults to the user's twin-only ``x-twin-amr`` (e.g. ``["pwd", "mfa"]``), else ``["pwd"]``."""
    server = cast("TwinServer", state)
    amr = amr if amr is not None else [str(a) for a in user.get("x-twin-amr") or ["pwd"]]
    claims = tokens.user_claims(
        tenant_id=tenant_id or server.tenant_id,
        audience=audience,
        user=user,
        client_id=client_id,
        base_url=state.origin(ENTRA),
        now=state.now(),
        amr=amr,
        scp=scp,
        lifetime=lifetime,
    )
    return server.issuer.sign(claims), claims


def issue_refresh_token(state: TwinState, user: Mapping[str, Any], client_id: str = tokens.AZURE_CLI_APP_ID) -> str:
    """An opaque refresh token for ``user`` that the token endpoint's ``refresh_token`` grant accepts."""
    server = cast("TwinServer", state)
    token = "1.AXoA" + tokens.b64url(secrets.token_bytes(48))
    with server.store_lock:
        server.store.setdefault("refresh_tokens", {})[token] = {
            "user": str(user.get("id", "")),
            "client_id": client_id,
            "issued": state.now(),
        }
    server.issuer.remember(token)
    return token


def _id_token(state: TwinState, user: Mapping[str, Any], client_id: str) -> str:
    server = cast("TwinServer", state)
    now = int(state.now())
    return server.issuer.sign(
        {
            "aud": client_id,
            "iss": tokens.v2_issuer(state.origin(ENTRA), server.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.get("displayName", ""),
            "oid": user.get("id", ""),
            "preferred_username": user.get("userPrincipalName", ""),
            "sub": user.get("id", ""),
            "tid": server.tenant_id,
            "ver": "2.0",
        }
    )


def client_info(state: TwinState, object_id: str) -> str:
    server = cast("TwinServer", state)
    return tokens.b64url(json.dumps({"uid": object_id, "utid": server.tenant_id}).encode())


# ---------------------------------------------------------------------------------------------- client auth


def _thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    return (tokens.b64url(cert.fingerprint(hashes.SHA1())), tokens.b64url(cert.fingerprint(hashes.SHA256())))


def _load_key_credential(cred: Mapping[str, Any]) -> x509.Certificate | None:
    import base64

    try:
        return x509.load_der_x509_certificate(base64.b64decode(str(cred.get("key", ""))))
    except ValueError:
        return None


def _verify_assertion_signature(cert: x509.Certificate, assertion: str, alg: str) -> bool:
    signing_input, _, signature = assertion.rpartition(".")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    pad: padding.AsymmetricPadding
    if alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    elif alg == "RS256":
        pad = padding.PKCS1v15()
    else:
        return False
    try:
        public_key.verify(tokens.b64url_decode(signature), signing_input.encode("ascii"), pad, hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


def _check_assertion_lifetime(state: TwinState, claims: Mapping[str, Any]) -> None:
    now = state.now()
    exp, nbf = float(claims.get("exp", 0)), float(claims.get("nbf", claims.get("iat", 0)))
    if exp <= now - 300 or nbf > now + 300:  # Entra allows five minutes of clock skew

        def fmt(ts: float) -> str:
            return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

        raise EntraError(
            400,
            700024,
            "invalid_client",
            (
                f"Client assertion is not within its valid time range. Current time: {_stamp(now)}, assertion valid "
                f"from {fmt(nbf)}, expiry time of assertion {fmt(exp)}. Review the documentation at "
                "https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."
            ),
        )


def authenticate_certificate(
    state: TwinState,
    app: Mapping[str, Any] | None,
    client_id: str,
    assertion: str,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
) -> str:
    """Check a certificate client assertion against the app's ``keyCredentials``; returns ``appidacr``."""
    # MSAL pads its base64url thumbprints ("="); JOSE says unpadded: accept both.
    presented = str(header.get("x5t#S256") or header.get("x5t") or "").rstrip("=")
    thumb_hex = tokens.b64url_decode(presented).hex().upper() if presented else ""
    for cred in (app or {}).get("keyCredentials") or ():
        cert = _load_key_credential(cred)
        if cert is None or presented not in _thumbprints(cert):
            continue
        end = _parse_time(cred.get("endDateTime"))
        if end is not None and end < state.now():
            raise EntraError(
                401,
                700027,
                "invalid_client",
                (
                    f"Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint "
                    f"of key used by client: '{thumb_hex}', Found key 'Start={cred.get('startDateTime')}, "
                    f"End={cred.get('endDateTime')}', Please visit the Azure Portal, Graph Explorer or directly use "
                    f"MS Graph to see configured keys for app Id '{client_id}'.]"
                ),
            )
        if not _verify_assertion_signature(cert, assertion, str(header.get("alg", ""))):
            raise EntraError(401, 700027, "invalid_client", "Client assertion failed signature validation.")
        if (
            str(claims.get("sub", "")).lower() != client_id.lower()
            or str(claims.get("iss", "")).lower() != client_id.lower()
        ):
            raise EntraError(
                401,
                700021,
                "invalid_client",
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        _check_assertion_lifetime(state, claims)
        return "2"
    raise EntraError(
        401,
        700027,
        "invalid_client",
        (
            "The certificate with identifier used to sign the client assertion is not registered on application. "
            f"[Reason - The key was not found., Thumbprint of key used by client: '{thumb_hex}', Please visit the "
            "Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id "
            f"'{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to "
            "determine the corresponding service endpoint and "
            "https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a "
            f"query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}']"
        ),
    )


def authenticate_federated(state: TwinState, app: Mapping[str, Any] | None, assertion: str) -> str:
    """Check a workload-identity (federated) assertion: the twin's own signature, lifetime, and a matching
    ``federatedIdentityCredentials`` record (issuer, subject exact; audience among the record's)."""
    server = cast("TwinServer", state)
    try:
        claims = server.issuer.verify(assertion)
    except ValueError:
        raise EntraError(
            401,
            50013,
            "invalid_client",
            (
                "Assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by "
                "client: '', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured "
                "keys.]"
            ),
        ) from None
    _check_assertion_lifetime(state, claims)
    iss, sub = str(claims.get("iss", "")), str(claims.get("sub", ""))
    auds = claims.get("aud")
    aud_list = [auds] if isinstance(auds, str) else list(auds or [])
    for fic in (app or {}).get("federatedIdentityCredentials") or ():
        audiences = fic.get("audiences") or ["api://AzureADTokenExchange"]
        if fic.get("issuer") == iss and fic.get("subject") == sub and any(a in audiences for a in aud_list):
            return "2"
    raise EntraError(
        400,
        70021,
        "invalid_request",
        (
            f"No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. "
            f"Assertion Subject: '{sub}'. Assertion Audience: '{','.join(aud_list)}'. "
            "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
        ),
    )


def authenticate_secret(state: TwinState, app: Mapping[str, Any] | None, client_id: str, secret: str) -> str:
    """Check a client secret against the app's ``passwordCredentials[].x-twin-secretText``."""
    now = state.now()
    creds = [c for c in (app or {}).get("passwordCredentials") or () if isinstance(c, Mapping)]
    for cred in creds:
        if cred.get("x-twin-secretText") is not None and secrets.compare_digest(str(cred["x-twin-secretText"]), secret):
            end = _parse_time(cred.get("endDateTime"))
            if end is not None and end < now:
                break  # the presented secret is expired
            start = _parse_time(cred.get("startDateTime"))
            if start is None or start <= now + 300:
                return "1"
    else:
        raise EntraError(
            401,
            7000215,
            "invalid_client",
            (
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    raise EntraError(
        401,
        7000222,
        "invalid_client",
        (
            f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new "
            "keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added "
            "security: https://aka.ms/certCreds."
        ),
    )


# ---------------------------------------------------------------------------------------------- token endpoint


def _requested_resource(state: TwinState, scope: str, grant_type: str) -> tuple[str, str | None]:
    scopes = [s for s in scope.split() if s.lower() not in OIDC_SCOPES]
    if not scopes:
        raise EntraError(
            400, 900144, "invalid_request", "The request body must contain the following parameter: 'scope'."
        )
    resource, perm = _scope_to_resource(scopes[0])
    if grant_type == "client_credentials" and perm is not None:
        raise EntraError(
            400,
            1002012,
            "invalid_scope",
            (
                f"The provided value for scope {scopes[0]} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    return resource, perm


def _client_credentials(
    state: TwinState, request: TwinRequest, tenant: Mapping[str, Any] | None, kind: str, form: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    client_id = form.get("client_id", "")
    if not client_id:
        raise EntraError(
            400, 900144, "invalid_request", "The request body must contain the following parameter: 'client_id'."
        )
    resource, _ = _requested_resource(state, form.get("scope", ""), "client_credentials")
    if kind != "home":  # an existing tenant that is not the scenario's holds none of its apps
        raise app_not_found(client_id, tenant)
    scenario = state.scenario
    sp = find_service_principal(scenario, app_id=client_id)
    app = find_application(scenario, client_id)
    if sp is None:
        raise app_not_found(client_id, tenant)
    if sp.get("accountEnabled") is False:
        raise EntraError(
            400, 7000112, "unauthorized_client", f"Application '{client_id}'({sp.get('displayName', '')}) is disabled."
        )
    if form.get("client_secret"):
        appidacr = authenticate_secret(state, app, client_id, form["client_secret"])
    elif form.get("client_assertion"):
        if form.get("client_assertion_type") != JWT_BEARER:
            raise EntraError(
                400, 50027, "invalid_request", "JWT token is invalid or malformed: unsupported client_assertion_type."
            )
        assertion = form["client_assertion"]
        try:
            header, claims = tokens.decode_jwt(assertion)
        except ValueError:
            raise EntraError(400, 50027, "invalid_request", ("JWT token is invalid or malformed.")) from None
        # A certificate assertion is issued by the app itself (iss = sub = client_id); anything else is a
        # federated credential from an external issuer (Kubernetes, GitHub Actions, …).
        if str(claims.get("iss", "")).lower() == client_id.lower():
            appidacr = authenticate_certificate(state, app, client_id, assertion, header, claims)
        else:
            appidacr = authenticate_federated(state, app, assertion)
    else:
        raise EntraError(
            401,
            7000218,
            "invalid_client",
            ("The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
        )
    if not resource_known(state, resource):
        raise resource_not_found(resource, tenant)
    token, _ = mint_app_token(state, sp, resource, appidacr=appidacr)
    return {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}, str(
        sp.get("id", "")
    )


def _refresh(
    state: TwinState, request: TwinRequest, tenant: Mapping[str, Any] | None, kind: str, form: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    server = cast("TwinServer", state)
    with server.store_lock:
        record = (server.store.get("refresh_tokens") or {}).get(form.get("refresh_token", ""))
    if record is None or kind != "home":
        raise EntraError(400, 9002313, "invalid_grant", "Invalid request. Request is malformed or invalid.")
    user = find_user(state.scenario, record["user"])
    if user is None:
        raise EntraError(
            400,
            50034,
            "invalid_grant",
            (
                f"The user account {record['user']} does not exist in the {tenant_id_of(tenant or {})} directory. To "
                "sign into this application, the account must be added to the directory."
            ),
        )
    cli = (state.scenario.get("signIn") or {}).get("azureCli") or {}
    if cli.get("refreshTokenExpired"):
        raise refresh_token_expired(record["issued"] - 90 * 86400)
    if user.get("accountEnabled") is False:
        raise EntraError(
            400,
            50057,
            "invalid_grant",
            "The user account is disabled. The account has been disabled by an administrator.",
        )
    scope = form.get("scope", "")
    resource, perm = _requested_resource(state, scope, "refresh_token")
    if not resource_known(state, resource):
        raise resource_not_found(resource, tenant)
    client_id = form.get("client_id") or record["client_id"]
    token, claims = mint_user_token(state, user, resource, client_id=client_id, scp=perm)
    payload: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": _granted_scope(resource, claims["scp"]) if perm is None else scope,
        "expires_in": 4199,
        "ext_expires_in": 4199,
        "access_token": token,
        "refresh_token": issue_refresh_token(state, user, client_id),
        "client_info": client_info(state, str(user.get("id", ""))),
    }
    if "openid" in scope.split():
        payload["id_token"] = _id_token(state, user, client_id)
    return payload, str(user.get("id", ""))


def _granted_scope(resource: str, scp: str) -> str:
    """The ``scope`` Entra answers a ``{resource}/.default`` request with: the granted permission and the
    ``.default`` itself, e.g. ``https://management.core.windows.net//user_impersonation
    https://management.core.windows.net//.default`` (a real answer quoted in Azure/azure-cli#32931). MSAL caches an
    access token under the answered scopes and finds it again only if the requested ones are among them: without
    ``.default`` every ``get_token`` would redeem the refresh token again."""
    return f"{resource}/{scp.split()[0]} {resource}/.default"


def _principal_names(state: TwinState, form: Mapping[str, str]) -> list[str]:
    names = [form.get("client_id", "")]
    sp = find_service_principal(state.scenario, app_id=form.get("client_id", ""))
    if sp:
        names.append(str(sp.get("id", "")))
    server = cast("TwinServer", state)
    with server.store_lock:
        record = (server.store.get("refresh_tokens") or {}).get(form.get("refresh_token", ""))
    if record:
        user = find_user(state.scenario, record["user"]) or {}
        names += [record["user"], str(user.get("userPrincipalName", ""))]
    return names


def token_endpoint(state: TwinState, request: TwinRequest, tenant_segment: str, *, v1: bool = False) -> TwinResponse:
    """``POST /{tenant}/oauth2/v2.0/token`` (and v1 ``/oauth2/token``, which takes ``resource``)."""
    form = request.form()
    if v1 and "resource" in form and "scope" not in form:
        form["scope"] = (
            form["resource"].rstrip("/") + "/.default"
            if not form["resource"].endswith("/")
            else form["resource"] + "/.default"
        )
    grant_type = form.get("grant_type", "")
    forced = forced_error(
        state,
        client_id=form.get("client_id", ""),
        principals=_principal_names(state, form),
        scope=form.get("scope", ""),
        grant_type=grant_type,
    )
    if forced is not None:
        return forced.response()
    try:
        kind, tenant = resolve_tenant(state.scenario, tenant_segment)
        if kind == "unknown":
            raise unknown_tenant(tenant_segment)
        if grant_type == "client_credentials":
            payload, principal = _client_credentials(state, request, tenant, kind, form)
        elif grant_type == "refresh_token":
            payload, principal = _refresh(state, request, tenant, kind, form)
        elif not grant_type:
            raise EntraError(
                400, 900144, "invalid_request", "The request body must contain the following parameter: 'grant_type'."
            )
        else:
            raise EntraError(
                400, 70003, "unsupported_grant_type", f"The app requested an unsupported grant type '{grant_type}'."
            )
    except EntraError as exc:
        return exc.response(state, request)
    if v1:
        now = int(state.now())
        payload.update(
            expires_in=str(payload["expires_in"]),
            ext_expires_in=str(payload["ext_expires_in"]),
            expires_on=str(now + int(payload["expires_in"])),
            not_before=str(now),
            resource=form.get("resource", ""),
        )
    return TwinResponse.json(
        200, payload, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, principal=principal
    )


# ---------------------------------------------------------------------------------------------- discovery


def openid_configuration(state: TwinState, tenant_segment: str, *, v2: bool = True) -> dict[str, Any]:
    """The OIDC discovery document, with every endpoint on the twin's own origin."""
    # Endpoints name the resolved tenant's GUID (as Entra does for a domain name); the multi-tenant aliases keep
    # their name and a "{tenantid}" issuer template.
    _, tenant = resolve_tenant(state.scenario, tenant_segment)
    alias = tenant_segment.lower() in ("organizations", "common")
    tid = tenant_segment if alias or tenant is None else tenant_id_of(tenant)
    base = f"{state.origin(ENTRA)}/{tid}"
    suffix = "/v2.0" if v2 else ""
    return {
        "token_endpoint": f"{base}/oauth2{suffix}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery{suffix}/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": tokens.v2_issuer(state.origin(ENTRA), "{tenantid}" if alias else tid)
        if v2
        else tokens.v1_issuer("{tenantid}" if alias else tid),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{state.origin(ENTRA)}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2{suffix}/authorize",
        "device_authorization_endpoint": f"{base}/oauth2{suffix}/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2{suffix}/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "NA",
        "cloud_instance_name": "twin.local",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": state.origin(GRAPH).split("://", 1)[1],
        "rbac_url": state.origin(ARM),
    }


# ---------------------------------------------------------------------------------------------- routes

_TENANT = r"/(?P<tenant>[^/]+)"


def register(router: Router) -> None:
    """Entra's routes. Register AFTER every fixed-path service: ``{tenant}`` matches any first segment."""

    def tenant_or_error(state: TwinState, request: TwinRequest, segment: str) -> TwinResponse | None:
        kind, _ = resolve_tenant(state.scenario, segment)
        if kind == "unknown":
            err = unknown_tenant(segment)
            body = err.body(state, request)
            body["error"] = "invalid_tenant"
            return TwinResponse.json(400, body)
        return None

    @router.add("GET", _TENANT + r"/v2\.0/\.well-known/openid-configuration", ENTRA)
    def discovery_v2(state: TwinState, request: TwinRequest, m: re.Match[str]) -> TwinResponse:
        return tenant_or_error(state, request, m["tenant"]) or TwinResponse.json(
            200, openid_configuration(state, m["tenant"])
        )

    @router.add("GET", _TENANT + r"/\.well-known/openid-configuration", ENTRA)
    def discovery_v1(state: TwinState, request: TwinRequest, m: re.Match[str]) -> TwinResponse:
        return tenant_or_error(state, request, m["tenant"]) or TwinResponse.json(
            200, openid_configuration(state, m["tenant"], v2=False)
        )

    @router.add("GET", _TENANT + r"/discovery(?:/v2\.0)?/keys", ENTRA)
    def keys(state: TwinState, request: TwinRequest, m: re.Match[str]) -> TwinResponse:
        server = cast("TwinServer", state)
        return TwinResponse.json(200, server.issuer.jwks(tokens.v2_issuer(state.origin(ENTRA), server.tenant_id)))

    @router.add("POST", _TENANT + r"/oauth2/v2\.0/token", ENTRA)
    def token_v2(state: TwinState, request: TwinRequest, m: re.Match[str]) -> TwinResponse:
        return token_endpoint(state, request, m["tenant"])

    @router.add("POST", _TENANT + r"/oauth2/token", ENTRA)
    def token_v1(state: TwinState, request: TwinRequest, m: re.Match[str]) -> TwinResponse:
        return token_endpoint(state, request, m["tenant"], v1=True)


# ---------------------------------------------------------------------------------------------- preparation


def prepare_scenario(
    scenario: Mapping[str, Any], workdir: Path, cache: dict[tuple[str, ...], Any] | None = None
) -> dict[str, Any]:
    """A copy of ``scenario`` with every ``"x-twin-generate": true`` key credential materialised.

    The twin generates the certificate and key, writes ``{workdir}/certs/{appId}-{keyId}.pem`` (key + cert),
    and fills the credential's real Graph fields (``key``, ``customKeyIdentifier``, ``type``, ``usage``, dates)
    so Graph returns it like Azure would; the PEM path is kept in ``x-twin-certificatePath`` for ``environment()``.
    """
    import copy

    from preflight.twin.tls import generate_client_certificate

    doc = copy.deepcopy(dict(scenario))
    apps = (doc.get("directory") or {}).get("applications") or []
    certs = workdir / "certs"
    for app in apps:
        for i, cred in enumerate(app.get("keyCredentials") or ()):
            if not cred.get("x-twin-generate"):
                continue
            certs.mkdir(exist_ok=True)
            # Deterministic key id, so a scenario swapped back in (Twin.use) reuses its certificate: RSA key
            # generation is the slowest part of loading a scenario.
            key_id = cred.setdefault("keyId", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{app.get('appId')}/{i}")))
            start = _parse_time(cred.get("startDateTime"))
            end = _parse_time(cred.get("endDateTime"))
            cache_key = (str(app.get("appId")), key_id, str(start), str(end))
            generated = (cache or {}).get(cache_key)
            if generated is None:
                # One file per distinct certificate: a cached one must never be overwritten by another.
                generated = generate_client_certificate(
                    certs / f"{app.get('appId', 'app')}-{key_id}-{fingerprint('|'.join(cache_key))}.pem",
                    str(app.get("displayName") or "twin-app"),
                    not_before=_dt.datetime.fromtimestamp(start, _dt.UTC) if start else None,
                    not_after=_dt.datetime.fromtimestamp(end, _dt.UTC) if end else None,
                )
                if cache is not None:
                    cache[cache_key] = generated
            cert = generated.certificate
            cred.update(
                {
                    "customKeyIdentifier": generated.thumbprint,
                    "displayName": cred.get("displayName") or f"CN={app.get('displayName') or 'twin-app'}",
                    "type": "AsymmetricX509Cert",
                    "usage": "Verify",
                    "key": generated.key_b64,
                    "startDateTime": cred.get("startDateTime")
                    or cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endDateTime": cred.get("endDateTime") or cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "x-twin-certificatePath": str(generated.pem_path),
                }
            )
            cred.pop("x-twin-generate", None)
            app["keyCredentials"][i] = cred
    return doc


def certificate_path(scenario: Mapping[str, Any], app_id: str) -> str | None:
    """The PEM the twin generated for ``app_id`` (first one), or ``None``."""
    app = find_application(scenario, app_id)
    for cred in (app or {}).get("keyCredentials") or ():
        if cred.get("x-twin-certificatePath"):
            return str(cred["x-twin-certificatePath"])
    return None


def federated_assertion(state: TwinState, *, issuer: str, subject: str, audience: str, lifetime: int = 3600) -> str:
    """A workload-identity token (what Kubernetes would project into the pod), signed with the twin's key."""
    server = cast("TwinServer", state)
    now = int(state.now())
    return server.issuer.sign(
        {
            "aud": [audience],
            "exp": now + lifetime,
            "iat": now,
            "nbf": now,
            "iss": issuer,
            "sub": subject,
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "workload"}},
        },
        header={"x5t": None, "typ": None},
    )


def fingerprint(text: str) -> str:
    """A short stable digest (for log-safe references to secrets)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]
