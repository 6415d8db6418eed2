"""Every AADSTS code of issue 5 THROUGH THE TWIN: the twin's token endpoint answers a real-shaped Entra error
body (its own body builder), a real azure-identity ClientSecretCredential raises, and preflight classifies what
the SDK raised — plus the same body through the az shim's stderr. One scenario, one rule per client id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from helpers.twin_fixtures import core_scenario

from preflight.aadsts import Category, classify_error
from preflight.twin import Twin
from preflight.twin.entra import aadsts_body

C = Category
# code → (the category the issue names for it, the OAuth error Entra sends with it)
EXPECTED: dict[int, tuple[Category, str]] = {
    50076: (C.MFA_REQUIRED, "invalid_grant"),
    50079: (C.MFA_REQUIRED, "invalid_grant"),
    50074: (C.MFA_REQUIRED, "invalid_grant"),
    50158: (C.MFA_REQUIRED, "invalid_grant"),
    53000: (C.DEVICE_COMPLIANCE_REQUIRED, "invalid_grant"),
    53001: (C.DEVICE_COMPLIANCE_REQUIRED, "invalid_grant"),
    53003: (C.CONDITIONAL_ACCESS_BLOCKED, "invalid_grant"),
    530003: (C.DEVICE_COMPLIANCE_REQUIRED, "invalid_grant"),
    50097: (C.DEVICE_COMPLIANCE_REQUIRED, "invalid_grant"),
    50058: (C.REAUTHENTICATION_REQUIRED, "invalid_grant"),
    50173: (C.REAUTHENTICATION_REQUIRED, "invalid_grant"),
    50132: (C.REAUTHENTICATION_REQUIRED, "invalid_grant"),
    70043: (C.REAUTHENTICATION_REQUIRED, "invalid_grant"),
    700082: (C.REAUTHENTICATION_REQUIRED, "invalid_grant"),
    7000215: (C.INVALID_CLIENT_SECRET, "invalid_client"),
    7000222: (C.EXPIRED_CLIENT_SECRET, "invalid_client"),
    700016: (C.APPLICATION_NOT_FOUND, "unauthorized_client"),
    90002: (C.TENANT_NOT_FOUND, "invalid_request"),
    500011: (C.RESOURCE_NOT_FOUND, "invalid_resource"),
    70011: (C.INVALID_SCOPE, "invalid_scope"),
    65001: (C.CONSENT_REQUIRED, "invalid_grant"),
    50126: (C.INVALID_USER_CREDENTIALS, "invalid_grant"),
    50034: (C.USER_NOT_FOUND, "invalid_grant"),
    50053: (C.ACCOUNT_LOCKED_OR_DISABLED, "invalid_grant"),
    50057: (C.ACCOUNT_LOCKED_OR_DISABLED, "invalid_grant"),
    70021: (C.FEDERATION_MISMATCH, "invalid_request"),
    700213: (C.FEDERATION_MISMATCH, "invalid_client"),
    700024: (C.ASSERTION_INVALID, "invalid_client"),
    50020: (C.EXTERNAL_USER_NOT_IN_TENANT, "invalid_grant"),
    90072: (C.EXTERNAL_USER_NOT_IN_TENANT, "invalid_grant"),
    700027: (C.ASSERTION_INVALID, "invalid_client"),
    50105: (C.USER_NOT_ASSIGNED, "invalid_grant"),
    530084: (C.CONDITIONAL_ACCESS_BLOCKED, "invalid_grant"),
    50005: (C.CONDITIONAL_ACCESS_BLOCKED, "invalid_grant"),
    700211: (C.FEDERATION_MISMATCH, "invalid_client"),
    700212: (C.FEDERATION_MISMATCH, "invalid_client"),
    7002138: (C.FEDERATION_MISMATCH, "invalid_client"),
    90061: (C.FEDERATION_MISMATCH, "invalid_request"),
}
CA_FAMILY = {50076: "mfa", 53000: "device", 53003: "block", 70043: "sign_in_frequency", 530084: "token_protection"}


def _client(code: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"preflight-aadsts:{code}"))


def _scenario(twin: Twin) -> dict[str, Any]:
    rules = []
    for code, (_, error) in EXPECTED.items():
        body = aadsts_body(twin.server, None, code, error, f"Twin-forced error {code} for the classification test.")
        if code == 50126:  # a chained message: the generic wrapper first, the specific code after it
            body["error_description"] = "AADSTS70002: Error validating credentials. " + body["error_description"]
            body["error_codes"] = [70002, 50126]
        if code == 50076:  # MFA: interaction required, with a claims challenge, as Entra sends it
            body.update(suberror="basic_action", claims='{"access_token":{"capolids":{"essential":true}}}')
        rules.append({"match": {"clientId": _client(code)}, "status": 400, "body": body})
    doc = core_scenario()
    doc["tokenErrors"] = rules
    return doc


@pytest.fixture(scope="module")
def aadsts_twin(twin_session: Twin) -> Twin:
    twin_session.use(_scenario(twin_session))
    return twin_session


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_every_issue_code_through_a_real_credential(aadsts_twin: Twin, code: int) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    if not aadsts_twin.scenario.get("tokenErrors"):  # another test module reset the shared twin
        aadsts_twin.use(_scenario(aadsts_twin))
    credential = ClientSecretCredential(
        aadsts_twin.tenant_id,
        _client(code),
        "canary-secret-never-shown",
        authority=aadsts_twin.base_url,
        disable_instance_discovery=True,
        connection_verify=str(aadsts_twin.ca_file),
    )
    with pytest.raises(ClientAuthenticationError) as raised:
        credential.get_token_info("https://cognitiveservices.azure.com/.default")
    message = str(raised.value)
    assert "canary-secret-never-shown" not in message
    info = classify_error(message)
    assert info is not None, message
    assert info.code == code and info.category is EXPECTED[code][0], (code, info)
    assert info.docs == f"https://login.microsoftonline.com/error?code={code}"
    if code in CA_FAMILY:
        assert info.ca_policy == CA_FAMILY[code]


def test_the_raw_body_and_az_stderr_classify_the_same(aadsts_twin: Twin) -> None:
    """The other two channels: a raw token-endpoint body (error_codes first) and an az stderr message."""
    from preflight.twin.azcli import _aad_failure

    for code in (50076, 53003, 700082):
        body = aadsts_body(aadsts_twin.server, None, code, "invalid_grant", "Forced.")
        assert classify_error(body).code == code  # type: ignore[union-attr]
        stderr = _aad_failure(body["error_description"], "https://cognitiveservices.azure.com/.default").stderr
        assert classify_error(stderr).code == code  # type: ignore[union-attr]
