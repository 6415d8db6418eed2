"""preflight.claims: decode-only JWTs built here with base64, principal kinds, safe evidence, findings — and the
raw token never appearing in anything returned or raised."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflight.claims import (
    SAFE_CLAIMS,
    ClaimFinding,
    ClaimsError,
    ExpectedClaims,
    analyse_claims,
    decode_claims,
    describe_principal,
    normalize_audience,
    safe_claims,
)
from preflight.errors import PreflightError

NOW = 1_700_000_000.0
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
COGNITIVE = "https://cognitiveservices.azure.com"
COGNITIVE_APP_ID = "7d312290-28c8-473c-a0ed-8e53749b6d6d"
# A canary that must never leak: it is the signature part of every token built here.
CANARY = "c2VjcmV0LXNpZ25hdHVyZS1jYW5hcnktZG8tbm90LWxlYWs"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(claims: dict[str, Any], *, signature: str = CANARY) -> str:
    header = b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "k1"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def user_claims(**overrides: Any) -> dict[str, Any]:
    """A v1 Azure CLI user token for Cognitive Services, as Entra issues it."""
    claims: dict[str, Any] = {
        "aud": COGNITIVE,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": NOW - 600,
        "nbf": NOW - 600,
        "exp": NOW + 3000,
        "acr": "1",
        "aio": "AVQAq/8YAAAA-opaque",
        "amr": ["pwd", "mfa"],
        "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "appidacr": "0",
        "family_name": "Doe",
        "given_name": "Alice",
        "idtyp": "user",
        "ipaddr": "203.0.113.7",
        "name": "Alice Doe",
        "oid": "a11ce000-0000-4000-8000-00000000a11c",
        "puid": "10032000ABCDEF",
        "rh": "1.AReftokenhint-opaque.",
        "scp": "user_impersonation",
        "sub": "pairwise-subject-value",
        "tid": TENANT,
        "unique_name": "alice@contoso.com",
        "upn": "alice@contoso.com",
        "uti": "unique-token-id",
        "ver": "1.0",
        "xms_tcdt": 1289241547,
    }
    claims.update(overrides)
    return claims


def sp_claims(**overrides: Any) -> dict[str, Any]:
    """A v2 app-only token of a service principal."""
    claims: dict[str, Any] = {
        "aud": COGNITIVE_APP_ID,
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3540,
        "azp": "11111111-2222-4333-8444-555555555555",
        "azpacr": "1",
        "idtyp": "app",
        "oid": "5e7e0000-0000-4000-8000-000000005e7e",
        "sub": "5e7e0000-0000-4000-8000-000000005e7e",
        "tid": TENANT,
        "uti": "u",
        "ver": "2.0",
    }
    claims.update(overrides)
    return claims


def mi_claims(**overrides: Any) -> dict[str, Any]:
    """A v1 managed identity token (xms_mirid names the identity resource)."""
    claims: dict[str, Any] = {
        "aud": COGNITIVE,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 86000,
        "appid": "99999999-2222-4333-8444-555555555555",
        "appidacr": "2",
        "idtyp": "app",
        "oid": "3a3a0000-0000-4000-8000-000000003a3a",
        "sub": "3a3a0000-0000-4000-8000-000000003a3a",
        "tid": TENANT,
        "ver": "1.0",
        "xms_mirid": "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app",
    }
    claims.update(overrides)
    return claims


def expected(**overrides: Any) -> ExpectedClaims:
    values: dict[str, Any] = {"audiences": (f"{COGNITIVE}/.default",), "tenant_id": TENANT, "now": NOW}
    values.update(overrides)
    return ExpectedClaims(**values)


def codes(findings: tuple[ClaimFinding, ...]) -> dict[str, str]:
    return {f.code: f.level for f in findings}


# ---------------------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------------------


def test_decode_roundtrip_without_verification() -> None:
    claims = user_claims()
    assert decode_claims(make_jwt(claims)) == claims
    assert decode_claims("Bearer " + make_jwt(claims) + "\n") == claims
    assert decode_claims(make_jwt(claims, signature="")) == claims  # unsigned tokens decode too


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=12), max_size=6))
def test_decode_tolerates_any_padding_length(claims: dict[str, Any]) -> None:
    assert decode_claims(make_jwt(claims)) == claims


GARBAGE = [
    "",
    "not-a-token",
    "a.b",
    "a.b.c.d",
    f"eyJhbGciOiJSUzI1NiJ9..{CANARY}",
    f"eyJhbGciOiJSUzI1NiJ9.%%%%.{CANARY}",
    f"eyJhbGciOiJSUzI1NiJ9.{b64url(b'not json')}.{CANARY}",
    f"eyJhbGciOiJSUzI1NiJ9.{b64url(b'[1, 2]')}.{CANARY}",
    f"eyJhbGciOiJSUzI1NiJ9.{b64url(bytes([0xFF, 0xFE]))}.{CANARY}",
    f"eyJhbGciOiJSUzI1NiJ9.{b64url(b'[' * 100000)}.{CANARY}",
]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_raises_typed_error_without_quoting_input(token: str) -> None:
    with pytest.raises(ClaimsError) as raised:
        decode_claims(token)
    assert isinstance(raised.value, PreflightError)
    text = str(raised.value) + repr(raised.value.args) + (raised.value.remediation or "")
    assert CANARY not in text
    if len(token) > 4:
        assert token not in text
    # no chained exception either: a JSONDecodeError would carry the decoded payload in its .doc
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_encrypted_token_is_named_as_such() -> None:
    with pytest.raises(ClaimsError, match="encrypted"):
        decode_claims("a.b.c.d.e")


def test_non_string_is_rejected() -> None:
    with pytest.raises(ClaimsError):
        decode_claims(b"a.b.c")  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_random_input_either_decodes_or_raises_claims_error(token: str) -> None:
    try:
        assert isinstance(decode_claims(token), dict)
    except ClaimsError as exc:
        if len(token.strip()) > 8:
            assert token.strip() not in str(exc)


# ---------------------------------------------------------------------------------------------------------------
# Principal
# ---------------------------------------------------------------------------------------------------------------


def test_describe_user() -> None:
    info = describe_principal(user_claims())
    assert info.kind == "user" and info.display == "alice@contoso.com"
    assert info.object_id == "a11ce000-0000-4000-8000-00000000a11c" and info.tenant_id == TENANT
    assert info.app_id == "04b07795-8ddb-461a-bbee-02f9e1bf7b46" and info.token_version == "1.0"
    # a v1 user token without idtyp is recognised by its delegated claims
    claims = user_claims()
    del claims["idtyp"], claims["upn"]
    assert describe_principal(claims).kind == "user"
    assert describe_principal(claims).display == "alice@contoso.com"  # unique_name


def test_describe_service_principal() -> None:
    info = describe_principal(sp_claims())
    assert info.kind == "servicePrincipal" and info.app_id == "11111111-2222-4333-8444-555555555555"
    assert info.token_version == "2.0" and info.idtyp == "app"
    claims = sp_claims()
    del claims["idtyp"]
    assert describe_principal(claims).kind == "servicePrincipal"


def test_describe_managed_identity() -> None:
    info = describe_principal(mi_claims())
    assert info.kind == "managedIdentity" and info.display == "id-app"
    assert info.app_id == "99999999-2222-4333-8444-555555555555"


# ---------------------------------------------------------------------------------------------------------------
# Safe evidence
# ---------------------------------------------------------------------------------------------------------------


def test_safe_claims_is_an_allow_list() -> None:
    shown = safe_claims(user_claims(brand_new_claim="?"))
    for dropped in (
        "uti",
        "rh",
        "aio",
        "xms_tcdt",
        "ipaddr",
        "puid",
        "sub",
        "given_name",
        "family_name",
        "brand_new_claim",
    ):
        assert dropped not in shown
    for kept in ("aud", "iss", "tid", "oid", "appid", "idtyp", "upn", "scp", "amr", "exp", "ver"):
        assert kept in shown
    assert set(shown) <= SAFE_CLAIMS
    assert "xms_mirid" in safe_claims(mi_claims())


def test_raw_token_never_appears_in_returned_structures() -> None:
    for claims in (user_claims(), sp_claims(), mi_claims()):
        token = make_jwt(claims)
        decoded = decode_claims(token)
        outputs: list[Any] = [
            decoded,
            safe_claims(decoded),
            dataclasses.asdict(describe_principal(decoded)),
            [dataclasses.asdict(f) for f in analyse_claims(decoded, expected(tenant_id=OTHER_TENANT))],
        ]
        dumped = json.dumps(outputs, default=str)
        assert token not in dumped and CANARY not in dumped
        assert token.split(".")[1] not in dumped


# ---------------------------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------------------------


def test_healthy_token_has_no_findings() -> None:
    assert analyse_claims(user_claims(), expected()) == ()
    assert analyse_claims(sp_claims(), expected()) == ()  # v2 audience (app id) accepted for the URI


@pytest.mark.parametrize(
    "aud",
    [COGNITIVE, COGNITIVE + "/", COGNITIVE.upper(), COGNITIVE_APP_ID, [COGNITIVE + "/", "x"]],
)
def test_audience_forms_are_normalised(aud: Any) -> None:
    assert "audience-mismatch" not in codes(analyse_claims(user_claims(aud=aud), expected()))


def test_audience_mismatch() -> None:
    findings = analyse_claims(user_claims(aud="https://management.core.windows.net/"), expected())
    (finding,) = [f for f in findings if f.code == "audience-mismatch"]
    assert finding.level == "fail"
    assert finding.fix and "--scope https://cognitiveservices.azure.com/.default" in finding.fix
    assert "audience-mismatch" in codes(analyse_claims(user_claims(aud=None), expected()))


def test_arm_audiences_are_equivalent() -> None:
    arm = expected(audiences=("https://management.azure.com/.default",))
    for aud in (
        "https://management.core.windows.net/",
        "https://management.azure.com",
        "797f4846-ba00-4fd7-ba43-dac1f8f63013",
    ):
        assert "audience-mismatch" not in codes(analyse_claims(user_claims(aud=aud), arm))
    assert normalize_audience("HTTPS://ml.azure.com/.default") == "https://ml.azure.com"


def test_tenant_mismatch_and_guest() -> None:
    findings = analyse_claims(user_claims(), expected(tenant_id=OTHER_TENANT))
    (finding,) = [f for f in findings if f.code == "tenant-mismatch"]
    assert finding.level == "fail" and finding.fix == f"az login --tenant {OTHER_TENANT}"
    guest = user_claims(idp=f"https://sts.windows.net/{OTHER_TENANT}/")
    assert codes(analyse_claims(guest, expected())) == {"guest-account": "info"}
    assert "tenant-mismatch" not in codes(analyse_claims(user_claims(), expected(tenant_id=None)))


@pytest.mark.parametrize(
    "overrides,code,level",
    [
        ({"exp": NOW - 1}, "token-expired", "fail"),
        ({"exp": NOW}, "token-expired", "fail"),
        ({"exp": NOW + 120}, "token-expiring", "warn"),
        ({"nbf": NOW + 3600, "exp": NOW + 7200}, "token-not-yet-valid", "fail"),
        ({"nbf": NOW + 30}, "clock-skew", "warn"),
        ({"exp": None}, "expiry-missing", "warn"),
        ({"exp": "soon"}, "expiry-missing", "warn"),
    ],
)
def test_lifetime_findings(overrides: dict[str, Any], code: str, level: str) -> None:
    claims = user_claims(**overrides)
    assert codes(analyse_claims(claims, expected())).get(code) == level


def test_min_lifetime_is_configurable() -> None:
    claims = user_claims(exp=NOW + 1000)
    assert "token-expiring" in codes(analyse_claims(claims, expected(min_lifetime_s=1800)))
    assert "token-expiring" not in codes(analyse_claims(claims, expected()))


def test_issuer_version_mismatch() -> None:
    v1_with_v2_issuer = user_claims(iss=f"https://login.microsoftonline.com/{TENANT}/v2.0")
    assert codes(analyse_claims(v1_with_v2_issuer, expected()))["issuer-version-mismatch"] == "warn"
    v2_with_v1_issuer = sp_claims(iss=f"https://sts.windows.net/{TENANT}/")
    assert "issuer-version-mismatch" in codes(analyse_claims(v2_with_v1_issuer, expected()))
    sovereign = user_claims(iss=f"https://sts.chinacloudapi.cn/{TENANT}/")
    assert analyse_claims(sovereign, expected()) == ()
    other = user_claims(iss=f"https://sts.windows.net/{OTHER_TENANT}/")
    assert "issuer-tenant-mismatch" in codes(analyse_claims(other, expected()))


def test_data_plane_authorization_claims() -> None:
    data_plane = expected(data_plane=True)
    assert analyse_claims(user_claims(), data_plane) == ()
    assert codes(analyse_claims(user_claims(scp=None), data_plane)) == {"scope-missing": "warn"}
    assert codes(analyse_claims(sp_claims(), data_plane)) == {"roles-absent": "info"}
    assert analyse_claims(sp_claims(roles=["Reader"]), data_plane) == ()


def test_mfa_absent_when_required() -> None:
    required = expected(require_mfa=True)
    findings = analyse_claims(user_claims(amr=["pwd"]), required)
    assert codes(findings) == {"mfa-absent": "warn"}
    assert findings[0].fix and TENANT in findings[0].fix
    assert analyse_claims(user_claims(), required) == ()
    assert analyse_claims(sp_claims(), required) == ()  # MFA does not apply to apps


def test_findings_are_ordered_fail_first() -> None:
    claims = user_claims(aud="x", exp=NOW + 10, iss=f"https://login.microsoftonline.com/{TENANT}/v2.0")
    levels = [f.level for f in analyse_claims(claims, expected())]
    assert levels == sorted(levels, key=["fail", "warn", "info"].index) and levels[0] == "fail"
