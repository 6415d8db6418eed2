"""Pure analysis of the identity environment variables (no network, no files: existence is injected)."""

from __future__ import annotations

import pytest

from preflight.envconfig import analyse_environment

APP = "11111111-2222-3333-4444-555555555555"
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def analyse(env: dict[str, str], files: set[str] = frozenset()):  # type: ignore[no-untyped-def, assignment]
    return analyse_environment(env, lambda p: p in files)


def levels(analysis):  # type: ignore[no-untyped-def]
    return [(f.level, f.message) for f in analysis.findings]


def test_an_empty_environment_configures_nothing_and_is_fine() -> None:
    analysis = analyse({})
    assert analysis.environment_credential is None
    assert analysis.managed_identity == "IMDS"
    assert analysis.findings == ()
    assert analysis.selected == "no credential configured by environment variables"


def test_a_complete_client_secret_selects_environment_credential_and_hides_the_secret() -> None:
    analysis = analyse({"AZURE_CLIENT_ID": APP, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": "s3cr3t-value"})
    assert analysis.environment_credential == "client secret"
    assert analysis.findings == ()
    assert analysis.variables["AZURE_CLIENT_SECRET"] == "set (12 characters, hidden)"
    assert analysis.variables["AZURE_CLIENT_ID"] == APP


def test_a_secret_without_tenant_is_ignored_by_azure_identity_and_we_say_so() -> None:
    analysis = analyse({"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": "x" * 20})
    assert analysis.environment_credential is None
    ((level, message),) = levels(analysis)
    assert level == "warn"
    assert "AZURE_TENANT_ID is not" in message


def test_secret_wins_over_certificate() -> None:
    analysis = analyse(
        {
            "AZURE_CLIENT_ID": APP,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_SECRET": "abcdefgh",
            "AZURE_CLIENT_CERTIFICATE_PATH": "/certs/sp.pem",
        },
        {"/certs/sp.pem"},
    )
    assert analysis.environment_credential == "client secret"
    assert any("the secret wins" in m for _, m in levels(analysis))


def test_missing_certificate_file_fails() -> None:
    analysis = analyse(
        {"AZURE_CLIENT_ID": APP, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_CERTIFICATE_PATH": "/nope.pem"}
    )
    assert analysis.environment_credential == "client certificate"
    assert ("fail", "AZURE_CLIENT_CERTIFICATE_PATH points to '/nope.pem', which does not exist") in levels(analysis)


def test_workload_identity_needs_all_three_variables_and_the_file() -> None:
    ok = analyse(
        {"AZURE_CLIENT_ID": APP, "AZURE_TENANT_ID": TENANT, "AZURE_FEDERATED_TOKEN_FILE": "/var/t"}, {"/var/t"}
    )
    assert ok.workload_identity and ok.findings == ()
    missing_file = analyse({"AZURE_CLIENT_ID": APP, "AZURE_TENANT_ID": TENANT, "AZURE_FEDERATED_TOKEN_FILE": "/x"})
    assert [lvl for lvl, _ in levels(missing_file)] == ["fail"]
    partial = analyse({"AZURE_FEDERATED_TOKEN_FILE": "/var/t"}, {"/var/t"})
    assert not partial.workload_identity
    assert "AZURE_CLIENT_ID and AZURE_TENANT_ID not" in levels(partial)[0][1]


def test_service_principal_shadows_workload_identity() -> None:
    analysis = analyse(
        {
            "AZURE_CLIENT_ID": APP,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_SECRET": "abcdefgh",
            "AZURE_FEDERATED_TOKEN_FILE": "/var/t",
        },
        {"/var/t"},
    )
    assert any("uses the service principal first" in m for _, m in levels(analysis))


@pytest.mark.parametrize(
    ("env", "flavour"),
    [
        ({"IDENTITY_ENDPOINT": "http://x", "IDENTITY_HEADER": "h"}, "App Service"),
        (
            {"IDENTITY_ENDPOINT": "http://x", "IDENTITY_HEADER": "h", "IDENTITY_SERVER_THUMBPRINT": "t"},
            "Service Fabric",
        ),
        ({"IDENTITY_ENDPOINT": "http://x", "IMDS_ENDPOINT": "http://y"}, "Azure Arc"),
        ({"MSI_ENDPOINT": "http://x", "MSI_SECRET": "s"}, "Azure ML"),
        ({"MSI_ENDPOINT": "http://x"}, "Cloud Shell"),
        ({}, "IMDS"),
    ],
)
def test_managed_identity_flavour_follows_azure_identity(env: dict[str, str], flavour: str) -> None:
    assert analyse(env).managed_identity == flavour


def test_invalid_token_credentials_fails_like_default_azure_credential() -> None:
    analysis = analyse({"AZURE_TOKEN_CREDENTIALS": "AzureCLI"})
    ((level, message),) = levels(analysis)
    assert level == "fail" and "raises ValueError" in message


def test_valid_token_credentials_values_are_accepted_case_insensitively() -> None:
    for value in ("dev", "PROD", "AzureCliCredential", "managedidentitycredential"):
        assert analyse({"AZURE_TOKEN_CREDENTIALS": value, "AZURE_CLIENT_ID": APP}).findings == (), value


def test_dev_mode_excluding_a_configured_service_principal_warns() -> None:
    analysis = analyse(
        {
            "AZURE_TOKEN_CREDENTIALS": "dev",
            "AZURE_CLIENT_ID": APP,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_SECRET": "abcdefgh",
        }
    )
    assert any("excludes the environment service principal" in m for _, m in levels(analysis))


def test_http_authority_and_non_guid_client_id_fail() -> None:
    analysis = analyse({"AZURE_AUTHORITY_HOST": "http://login.example", "AZURE_CLIENT_ID": "my-app"})
    messages = [m for lvl, m in levels(analysis) if lvl == "fail"]
    assert any("is not https" in m for m in messages)
    assert any("is not a GUID" in m for m in messages)


def test_username_password_is_flagged_as_deprecated() -> None:
    analysis = analyse({"AZURE_CLIENT_ID": APP, "AZURE_USERNAME": "u@contoso.com", "AZURE_PASSWORD": "pw-123456"})
    assert analysis.environment_credential == "username/password"
    assert analysis.variables["AZURE_PASSWORD"] == "set (9 characters, hidden)"
    assert any("deprecated" in m for _, m in levels(analysis))


def test_a_secret_in_azure_client_id_is_named_as_swapped_and_never_shown() -> None:
    secret = "Abc8Q~Zk3LmNoPqRsTuVwXyZ0123456789abcdEF"
    result = analyse_environment(
        {
            "AZURE_CLIENT_ID": secret,
            "AZURE_TENANT_ID": "contoso.onmicrosoft.com",
            "AZURE_CLIENT_SECRET": "0b5c1f3e-1111-4111-8111-111111111111",
        },
        lambda p: True,
    )
    assert result.variables["AZURE_CLIENT_ID"] == "set (40 characters, hidden)"
    fail = [f for f in result.findings if f.level == "fail"]
    assert len(fail) == 1 and "swapped" in fail[0].message, fail
    assert secret not in repr(result)
