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
    50074: C.MFA_REQUIRED, 50076: C.MFA_REQUIRED, 50079: C.MFA_REQUIRED, 50158: C.MFA_REQUIRED,
    53000: C.DEVICE_COMPLIANCE_REQUIRED, 53001: C.DEVICE_COMPLIANCE_REQUIRED, 530003: C.DEVICE_COMPLIANCE_REQUIRED,
    50097: C.DEVICE_COMPLIANCE_REQUIRED,
    53002: C.CONDITIONAL_ACCESS_BLOCKED, 53003: C.CONDITIONAL_ACCESS_BLOCKED, 530032: C.CONDITIONAL_ACCESS_BLOCKED,
    530084: C.CONDITIONAL_ACCESS_BLOCKED, 50005: C.CONDITIONAL_ACCESS_BLOCKED,
    # sessions
    50058: C.REAUTHENTICATION_REQUIRED, 50132: C.REAUTHENTICATION_REQUIRED, 50173: C.REAUTHENTICATION_REQUIRED,
    700082: C.REAUTHENTICATION_REQUIRED, 70043: C.REAUTHENTICATION_REQUIRED, 54005: C.REAUTHENTICATION_REQUIRED,
    # client credentials
    70002: C.INVALID_CLIENT_SECRET, 7000215: C.INVALID_CLIENT_SECRET, 7000222: C.EXPIRED_CLIENT_SECRET,
    700016: C.APPLICATION_NOT_FOUND, 7000112: C.ACCOUNT_LOCKED_OR_DISABLED, 50011: C.APPLICATION_MISCONFIGURED,
    # assertions and federation
    50012: C.ASSERTION_INVALID, 700024: C.ASSERTION_INVALID, 700027: C.ASSERTION_INVALID,
    70021: C.FEDERATION_MISMATCH, 700211: C.FEDERATION_MISMATCH, 700212: C.FEDERATION_MISMATCH,
    700213: C.FEDERATION_MISMATCH, 7002138: C.FEDERATION_MISMATCH, 700222: C.FEDERATION_MISMATCH,
    90061: C.FEDERATION_MISMATCH,
    # tenant / resource / scope / consent
    90002: C.TENANT_NOT_FOUND, 900023: C.TENANT_NOT_FOUND, 50128: C.TENANT_NOT_FOUND,
    500011: C.RESOURCE_NOT_FOUND, 70011: C.INVALID_SCOPE, 65001: C.CONSENT_REQUIRED, 65004: C.CONSENT_REQUIRED,
    # users
    50126: C.INVALID_USER_CREDENTIALS, 50055: C.INVALID_USER_CREDENTIALS, 50034: C.USER_NOT_FOUND,
    50053: C.ACCOUNT_LOCKED_OR_DISABLED, 50057: C.ACCOUNT_LOCKED_OR_DISABLED,
    50020: C.EXTERNAL_USER_NOT_IN_TENANT, 16000: C.EXTERNAL_USER_NOT_IN_TENANT, 90072: C.EXTERNAL_USER_NOT_IN_TENANT,
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
        (7000222, {"app_id": "11111111-2222-3333-4444-555555555555"},
         "az ad app credential reset --id 11111111-2222-3333-4444-555555555555 --append"),
        (50076, {"tenant": "t", "scope": "https://cognitiveservices.azure.com/.default"},
         "az login --tenant t --scope https://cognitiveservices.azure.com/.default"),
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
        "mfa_required", "conditional_access_blocked", "device_compliance_required", "reauthentication_required",
        "invalid_client_secret", "expired_client_secret", "application_not_found", "tenant_not_found",
        "resource_not_found", "invalid_scope", "consent_required", "invalid_user_credentials", "user_not_found",
        "account_locked_or_disabled", "federation_mismatch", "assertion_invalid", "external_user_not_in_tenant",
        "user_not_assigned", "unknown",
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
