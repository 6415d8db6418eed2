"""preflight.aadsts: classification by number, chained messages, real-shaped token error bodies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflight.aadsts import (
    KNOWN_CODES,
    AadstsInfo,
    Category,
    classify_aadsts,
    classify_error,
    docs_url,
    format_fix,
    most_specific,
    parse_aadsts_codes,
)

C = Category

EXPECTED: dict[int, Category] = {
    # MFA / Conditional Access
    50074: C.MFA_REQUIRED,
    50076: C.MFA_REQUIRED,
    50079: C.MFA_REQUIRED,
    50158: C.MFA_REQUIRED,
    53000: C.DEVICE_COMPLIANCE_REQUIRED,
    53001: C.DEVICE_COMPLIANCE_REQUIRED,
    530003: C.DEVICE_COMPLIANCE_REQUIRED,
    50097: C.DEVICE_COMPLIANCE_REQUIRED,
    53002: C.CONDITIONAL_ACCESS_BLOCKED,
    53003: C.CONDITIONAL_ACCESS_BLOCKED,
    530032: C.CONDITIONAL_ACCESS_BLOCKED,
    530084: C.CONDITIONAL_ACCESS_BLOCKED,
    50005: C.CONDITIONAL_ACCESS_BLOCKED,
    # sessions
    50058: C.REAUTHENTICATION_REQUIRED,
    50132: C.REAUTHENTICATION_REQUIRED,
    50173: C.REAUTHENTICATION_REQUIRED,
    700082: C.REAUTHENTICATION_REQUIRED,
    70043: C.REAUTHENTICATION_REQUIRED,
    54005: C.REAUTHENTICATION_REQUIRED,
    # client credentials
    70002: C.INVALID_CLIENT_SECRET,
    7000215: C.INVALID_CLIENT_SECRET,
    7000222: C.EXPIRED_CLIENT_SECRET,
    700016: C.APPLICATION_NOT_FOUND,
    7000112: C.ACCOUNT_LOCKED_OR_DISABLED,
    50011: C.APPLICATION_MISCONFIGURED,
    # assertions and federation
    50012: C.ASSERTION_INVALID,
    50013: C.ASSERTION_INVALID,
    700024: C.ASSERTION_INVALID,
    700027: C.ASSERTION_INVALID,
    70021: C.FEDERATION_MISMATCH,
    700211: C.FEDERATION_MISMATCH,
    700212: C.FEDERATION_MISMATCH,
    700213: C.FEDERATION_MISMATCH,
    7002138: C.FEDERATION_MISMATCH,
    700222: C.FEDERATION_MISMATCH,
    90061: C.FEDERATION_MISMATCH,
    # tenant / resource / scope / consent
    90002: C.TENANT_NOT_FOUND,
    900023: C.TENANT_NOT_FOUND,
    50128: C.TENANT_NOT_FOUND,
    500011: C.RESOURCE_NOT_FOUND,
    70011: C.INVALID_SCOPE,
    65001: C.CONSENT_REQUIRED,
    65004: C.CONSENT_REQUIRED,
    # users
    50126: C.INVALID_USER_CREDENTIALS,
    50055: C.INVALID_USER_CREDENTIALS,
    50034: C.USER_NOT_FOUND,
    50053: C.ACCOUNT_LOCKED_OR_DISABLED,
    50057: C.ACCOUNT_LOCKED_OR_DISABLED,
    50020: C.EXTERNAL_USER_NOT_IN_TENANT,
    16000: C.EXTERNAL_USER_NOT_IN_TENANT,
    90072: C.EXTERNAL_USER_NOT_IN_TENANT,
    50105: C.USER_NOT_ASSIGNED,
}


def token_error_body(code: int, error: str = "invalid_request") -> dict[str, object]:
    """The JSON shape Entra's token endpoint answers with (reference-error-codes: 'Handling error codes')."""
    return {
        "error": error,
        "error_description": f"AADSTS{code}: Something went wrong.\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333"
        "\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2016-01-09 02:02:12Z",
        "error_codes": [code],
        "timestamp": "2016-01-09 02:02:12Z",
        "trace_id": "0000aaaa-11bb-cccc-dd22-eeeeee333333",
        "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd",
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def test_every_listed_code_is_known() -> None:
    assert set(EXPECTED) <= KNOWN_CODES
    assert KNOWN_CODES <= set(EXPECTED), "a code was added without a category test"


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_classification_by_number(code: int) -> None:
    info = classify_aadsts(code)
    assert info.category is EXPECTED[code]
    assert info.known and info.code == code
    assert info.title and info.cause and info.fix
    assert info.docs == docs_url(code) == f"https://login.microsoftonline.com/error?code={code}"


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_classification_through_a_real_shaped_body_ignores_wording(code: int) -> None:
    body = token_error_body(code)
    assert parse_aadsts_codes(body) == (code,)
    info = classify_error(body)
    assert info is not None and info.category is EXPECTED[code]
    # Microsoft rewrites the text; a body whose description lost the code still classifies by error_codes
    body["error_description"] = "The wording changed completely."
    info = classify_error(body)
    assert info is not None and info.category is EXPECTED[code]


def test_chained_message_is_classified_by_the_most_specific_code() -> None:
    message = "AADSTS70002: Error validating credentials. AADSTS50126: Error validating credentials due to invalid username or password."
    assert parse_aadsts_codes(message) == (70002, 50126)
    info = classify_error(message)
    assert info is not None and info.code == 50126 and info.category is Category.INVALID_USER_CREDENTIALS
    assert most_specific([70002]) == 70002  # alone, the wrapper is the answer
    assert most_specific([99999999, 50076]) == 50076  # known beats unknown
    assert most_specific([]) is None


@pytest.mark.parametrize(
    "text,codes",
    [
        ("AADSTS50076", (50076,)),
        ("50076", (50076,)),
        ("  aadsts700082 ", (700082,)),
        ("ERROR: AADSTS7000222: The provided client secret keys for app 'x' are expired.", (7000222,)),
        ("DefaultAzureCredential failed. AADSTS53003: blocked. AADSTS53003: blocked again.", (53003,)),
        ("no code here", ()),
        ("status 50076 in the middle of prose", ()),
        ("", ()),
    ],
)
def test_parse_from_text(text: str, codes: tuple[int, ...]) -> None:
    assert parse_aadsts_codes(text) == codes


def test_parse_from_error_codes_list_and_none() -> None:
    assert parse_aadsts_codes([50076, 50076, 53003]) == (50076, 53003)
    assert parse_aadsts_codes(None) == ()
    assert classify_error("nothing") is None


def test_unknown_code_keeps_the_error_text() -> None:
    text = "AADSTS99999: A brand new failure."
    info = classify_error(text)
    assert info is not None and info.category is Category.UNKNOWN and not info.known
    assert info.code == 99999 and info.cause == text and "99999" in info.fix


@pytest.mark.parametrize(
    "code,values,expected",
    [
        (700082, {"tenant": "contoso.onmicrosoft.com"}, "az login --tenant contoso.onmicrosoft.com"),
        (
            7000222,
            {"app_id": "11111111-2222-3333-4444-555555555555"},
            "az ad app credential reset --id 11111111-2222-3333-4444-555555555555 --append",
        ),
        (
            50076,
            {"tenant": "t", "scope": "https://cognitiveservices.azure.com/.default"},
            "az login --tenant t --scope https://cognitiveservices.azure.com/.default",
        ),
    ],
)
def test_format_fix_fills_placeholders(code: int, values: dict[str, str], expected: str) -> None:
    info = format_fix(classify_aadsts(code), **values)
    assert expected in info.fix
    assert "{" not in info.fix


def test_format_fix_marks_missing_values_and_leaves_other_braces() -> None:
    info = AadstsInfo(1, Category.UNKNOWN, "t", "c", "az login --tenant {tenant} {not_a_placeholder}", "d")
    assert format_fix(info).fix == "az login --tenant <tenant> {not_a_placeholder}"
    assert format_fix(info, tenant=None).fix.startswith("az login --tenant <tenant>")


def test_conditional_access_codes_name_the_policy_family() -> None:
    assert classify_aadsts(50076).ca_policy == "mfa"
    assert classify_aadsts(53000).ca_policy == "device"
    assert classify_aadsts(53003).ca_policy == "block"
    assert classify_aadsts(70043).ca_policy == "sign_in_frequency"
    assert classify_aadsts(530084).ca_policy == "token_protection"
    assert classify_aadsts(7000215).ca_policy is None


def test_fixes_are_concrete_commands() -> None:
    assert "az login --tenant {tenant}" in classify_aadsts(700082).fix
    assert "az ad app credential reset --id {app_id} --append" in classify_aadsts(7000222).fix
    assert "federated-credential list --id {app_id}" in classify_aadsts(700213).fix


def test_category_names_are_the_documented_strings() -> None:
    assert {c.value for c in Category} >= {
        "mfa_required",
        "conditional_access_blocked",
        "device_compliance_required",
        "reauthentication_required",
        "invalid_client_secret",
        "expired_client_secret",
        "application_not_found",
        "tenant_not_found",
        "resource_not_found",
        "invalid_scope",
        "consent_required",
        "invalid_user_credentials",
        "user_not_found",
        "account_locked_or_disabled",
        "federation_mismatch",
        "assertion_invalid",
        "external_user_not_in_tenant",
        "user_not_assigned",
        "unknown",
    }
    assert all(re.fullmatch(r"[a-z_]+", c.value) for c in Category)


@given(st.text(max_size=200))
def test_parse_never_crashes_and_finds_only_what_is_there(text: str) -> None:
    codes = parse_aadsts_codes(text)
    for code in codes:
        assert str(code) in text
    info = classify_error(text)
    assert (info is None) == (codes == ())


@given(st.integers(min_value=1000, max_value=99_999_999))
def test_any_code_classifies(code: int) -> None:
    info = classify_aadsts(code)
    assert info.code == code and (info.known == (code in KNOWN_CODES))


def test_only_ascii_digits_are_codes() -> None:
    assert parse_aadsts_codes("AADSTS١٢٣٤٥") == ()
    assert parse_aadsts_codes({"error_codes": ["١٢٣٤٥", True, "50076", 53003, None]}) == (50076, 53003)


# ---------------------------------------------------------------------------------------------------------------
# Entra's words: codes with several meanings, and codes the table lacks (issue 18 item 4). Texts as users pasted
# them in public issues (the source is named beside each).
# ---------------------------------------------------------------------------------------------------------------

TRACE = (
    "\r\nTrace ID: 62d60ed5-56c3-45a0-b960-93d4ec917d00\r\nCorrelation ID: 23f6c5a9\r\nTimestamp: 2021-10-29 10:23:09Z"
)


@pytest.mark.parametrize(
    "text,code,category,variant",
    [
        # sjkp/letsencrypt-siteextension#144: AADSTS50012 used to mean a wrong secret
        (
            "AADSTS70002: Error validating credentials. AADSTS50012: Invalid client secret is provided.",
            50012,
            C.INVALID_CLIENT_SECRET,
            "client_secret_invalid",
        ),
        # AzureAD/azure-activedirectory-library-for-java#46: … and an expired assertion (no times quoted)
        (
            "AADSTS70002: Error validating credentials. AADSTS50012: Client assertion is not within its valid time range.",
            50012,
            C.ASSERTION_INVALID,
            "assertion_time_range",
        ),
        # AzureAD/azure-activedirectory-library-for-python#79: … and a wrong assertion audience
        (
            "AADSTS70002: Error validating credentials. AADSTS50012: Client assertion audience claim does not match Realm "
            "issuer.",
            50012,
            C.ASSERTION_INVALID,
            "assertion_audience",
        ),
        # microsoft-authentication-library-for-js#8339
        (
            "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on "
            "application. [Reason - The key was not found., Thumbprint of key used by client: '8BDEB513EAC11E9E9DA752EB9D50"
            "87F317F6D931', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys "
            "for app Id '26790ce1-d05c-4de7-ba73-51837152f0bc'.]",
            700027,
            C.ASSERTION_INVALID,
            "certificate_not_registered",
        ),
        # Azure/azure-sdk-for-net#29007: the older wording of the same
        (
            "ClientAssertionCredential authentication failed: … Original exception: AADSTS700027: Client assertion contains "
            "an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '8BDE']",
            700027,
            C.ASSERTION_INVALID,
            "certificate_not_registered",
        ),
        # the twin's (and Entra's) expired-key wording: "invalid signature" must not win over "key used is expired"
        (
            "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint "
            "of key used by client: 'AB12', Found key 'Start=2020-01-01, End=2021-01-01']",
            700027,
            C.ASSERTION_INVALID,
            "certificate_expired",
        ),
        (
            "AADSTS700027: Client assertion failed signature validation.",
            700027,
            C.ASSERTION_INVALID,
            "signature_invalid",
        ),
        # microsoftgraph/msgraph-sdk-php#1585 and azure-sdk-for-java#25109 (OnBehalfOfCredential): a user assertion
        (
            "AADSTS50013: Assertion failed signature validation. [Reason - Key was found, but use of the key to verify the "
            "signature failed., Thumbprint of key used by client: '1FD9E3E40392B30329860D52171EE3695FA507DC']",
            50013,
            C.ASSERTION_INVALID,
            "user_assertion_signature",
        ),
        # AzureAD/microsoft-authentication-library-for-js#389
        (
            "AADSTS70002: Error validating credentials. AADSTS50013: Assertion audience does not match the Client app "
            "presenting the assertion. The audience in the assertion was 'abc' and the expected audience is 'def' or one "
            "of the Application Uris of this application with App ID 'def'.",
            50013,
            C.ASSERTION_INVALID,
            "user_assertion_audience",
        ),
        # Azure-Samples/active-directory-dotnet-webapi-onbehalfof#25
        (
            "AADSTS50013: Assertion is not within its valid time range.",
            50013,
            C.ASSERTION_INVALID,
            "user_assertion_expired",
        ),
    ],
)
def test_a_code_with_several_meanings_is_split_by_entras_words(
    text: str, code: int, category: Category, variant: str
) -> None:
    info = classify_error(text + TRACE)
    assert info is not None and (info.code, info.category, info.variant) == (code, category, variant)
    assert info.known and info.docs == docs_url(code)
    assert (
        classify_error({"error": "invalid_client", "error_description": text + TRACE, "error_codes": [code]}) == info
    )  # the same from a token-endpoint body


def test_the_number_alone_still_decides_without_words() -> None:
    """No text, or words no reading knows: the table's entry, no variant (classification by number first)."""
    for code in (50012, 50013, 700024, 700027):
        assert classify_aadsts(code).variant is None
        assert classify_aadsts(code, f"AADSTS{code}: Twin-forced error.").variant is None
    # a single-meaning code is never re-read by its words, even words that would match a reading
    info = classify_aadsts(7000215, "AADSTS7000215: Client assertion failed signature validation.")
    assert info.category is C.INVALID_CLIENT_SECRET and info.variant is None


def test_an_expired_assertion_says_by_how_much() -> None:
    """microsoft-authentication-library-for-dotnet#4951: expiry 21:30:53, Entra's time 22:05:03 — expired."""
    text = (
        "AADSTS700024: Client assertion is not within its valid time range. Current time: "
        "2024-10-02T22:05:03.6755165Z, assertion valid from 1970-01-01T00:00:00.0000000Z, expiry time of "
        "assertion 2024-10-02T21:30:53.0000000Z. Review the documentation at "
        "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
    )
    info = classify_error(text)
    assert info is not None and info.variant == "assertion_expired" and info.title == "Client assertion expired"
    assert "expired 34 minutes before Entra received it" in info.cause
    assert "right before each token request" in info.fix


def test_an_assertion_from_the_future_is_clock_skew() -> None:
    """The signer's clock ahead: valid from after Entra's time (the twin's RFC 1123 dates)."""
    text = (
        "AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-12-02 16:00:00Z, "
        "assertion valid from Wed, 02 Dec 2026 16:20:00 GMT, expiry time of assertion Wed, 02 Dec 2026 16:30:00 "
        "GMT. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/x ."
    )
    info = classify_error(text)
    assert info is not None and info.variant == "assertion_not_yet_valid"
    assert "20 minutes after Entra's current time" in info.cause and "NTP" in info.fix


def test_a_code_the_table_lacks_is_read_by_its_words() -> None:
    """MicrosoftDocs/azure-docs#16399: 500133 arrived after the generic 70002; the words say assertion time, not
    a wrong secret (70002's number alone) — the read code wins over the wrapper."""
    body = {
        "error": "invalid_grant",
        "error_codes": [70002, 500133],
        "error_description": "AADSTS70002: Error validating credentials. AADSTS500133: Assertion is not within "
        "its valid time range" + TRACE,
    }
    info = classify_error(body)
    assert info is not None and (info.code, info.variant) == (500133, "assertion_time_range") and info.known
    audience = classify_error(
        "AADSTS500131: Assertion audience does not match the Client app presenting the "
        "assertion. The audience in the assertion was 'api://x' and the expected audience "
        "is 'y'."
    )
    assert audience is not None and audience.variant == "user_assertion_audience"
    missing = classify_error(
        "AADSTS7000218: The request body must contain the following parameter: "
        "'client_assertion' or 'client_secret'." + TRACE
    )
    assert missing is not None and missing.category is C.APPLICATION_MISCONFIGURED
    assert "isFallbackPublicClient=true" in missing.fix
    public = classify_error(
        "AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented."
    )
    assert public is not None and public.variant == "public_client_with_credential"
    assertion_aud = classify_error("AADSTS700023: Client assertion audience claim does not match Realm issuer.")
    assert assertion_aud is not None and assertion_aud.variant == "assertion_audience"
    assert "oauth2/v2.0/token" in assertion_aud.fix


def test_unknown_still_prints_the_code_entras_words_and_the_lookup_url() -> None:
    text = "AADSTS9002313: Invalid request. Request is malformed or invalid." + TRACE
    info = classify_error(text)
    assert info is not None and info.category is C.UNKNOWN and info.variant is None and not info.known
    assert info.code == 9002313 and "Request is malformed or invalid" in info.cause
    assert info.docs == "https://login.microsoftonline.com/error?code=9002313" and info.docs in info.fix


def test_readings_read_only_their_own_codes_sentence() -> None:
    """In a chained message each code is read by its own sentence: the 70002 wrapper does not borrow 50012's."""
    text = "AADSTS70002: Error validating credentials. AADSTS50012: Invalid client secret is provided."
    assert classify_aadsts(70002, text).variant is None
    assert classify_aadsts(50012, text).variant == "client_secret_invalid"
