"""`preflight explain` on azure-identity's chain texts and Entra's answers (issue 18): one explanation per
credential named, read as signin.chain reads its probes — an AADSTS refusal by its code, else *unavailable*
(the chain moved on) or *failed* (the chain stopped there) — and Entra's text in every wrapping it arrives in."""

from __future__ import annotations

import json

import pytest

from preflight.chain import link_fix
from preflight.explain import exit_code, explain

# DefaultAzureCredential's message as azure-identity (Python) builds it: one "\t<Credential>: <error>" line per
# credential tried (Azure/azure-cli#31648, dask/dask-cloudprovider#340, Azure/azure-sdk-for-python#28478).
ALL_UNAVAILABLE = """\
DefaultAzureCredential failed to retrieve a token from the included credentials.
Attempted credentials:
\tEnvironmentCredential: EnvironmentCredential authentication unavailable. Environment variables are not fully configured.
Visit https://aka.ms/azsdk/python/identity/environmentcredential/troubleshoot to troubleshoot this issue.
\tWorkloadIdentityCredential: WorkloadIdentityCredential authentication unavailable. The workload options are not fully configured. See the troubleshooting guide for more information: https://aka.ms/azsdk/python/identity/workloadidentitycredential/troubleshoot. Missing required arguments: 'tenant_id', 'client_id', 'token_file_path'.
\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable, no response from the IMDS endpoint.
\tSharedTokenCacheCredential: SharedTokenCacheCredential authentication unavailable. No accounts were found in the cache.
\tVisualStudioCodeCredential: VisualStudioCodeCredential requires the 'azure-identity-broker' package to be installed. The credential is unavailable.
\tAzureCliCredential: Azure CLI not found on path
\tAzurePowerShellCredential: PowerShell is not installed
\tAzureDeveloperCliCredential: Azure Developer CLI could not be found. Please visit https://aka.ms/azure-dev for installation instructions and then,once installed, authenticate to your Azure account using 'azd auth login'.
To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."""

# The chain stops at the first credential that tries and fails: here EnvironmentCredential's client secret.
STOPPED_AT_ENVIRONMENT = """\
Traceback (most recent call last):
  File "/app/main.py", line 9, in <module>
    token = credential.get_token("https://cognitiveservices.azure.com/.default")
azure.core.exceptions.ClientAuthenticationError: DefaultAzureCredential failed to retrieve a token from the included credentials.
Attempted credentials:
\tEnvironmentCredential: Authentication failed: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00000000-0000-0000-0000-000000000002'. Trace ID: 2f1c3a52-0000-0000-0000-000000000000 Correlation ID: 7d0c1a3e-0000-0000-0000-000000000000 Timestamp: 2026-01-01 00:00:00Z
To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."""

MI_FAILED = """\
DefaultAzureCredential failed to retrieve a token from the included credentials.
Attempted credentials:
\tEnvironmentCredential: EnvironmentCredential authentication unavailable. Environment variables are not fully configured.
\tWorkloadIdentityCredential: WorkloadIdentityCredential authentication unavailable. The workload options are not fully configured.
\tManagedIdentityCredential: Unexpected response "{'error': 'invalid_request', 'error_description': 'Identity not found'}"
To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."""


def test_every_credential_named_gets_one_explanation() -> None:
    found = explain(ALL_UNAVAILABLE)
    assert [e.credential for e in found] == [
        "EnvironmentCredential",
        "WorkloadIdentityCredential",
        "ManagedIdentityCredential",
        "SharedTokenCacheCredential",
        "VisualStudioCodeCredential",
        "AzureCliCredential",
        "AzurePowerShellCredential",
        "AzureDeveloperCliCredential",
    ]
    assert {e.category for e in found} == {"credential_unavailable"}
    assert {e.source.value for e in found} == {"credential"}
    assert exit_code(found) == 0


def test_unavailable_links_get_signin_chain_fixes() -> None:
    by_name = {e.credential: e for e in explain(ALL_UNAVAILABLE)}
    assert by_name["AzureCliCredential"].fix == link_fix("cli", {}, None) == "az login"
    assert by_name["AzureCliCredential"].commands == ("az login",)
    assert by_name["AzureDeveloperCliCredential"].fix == "azd auth login"
    assert by_name["EnvironmentCredential"].verify == "preflight check --only signin.chain"
    assert "Visit https://aka.ms" in by_name["EnvironmentCredential"].message  # continuation lines kept


def test_a_refusal_inside_a_chain_is_classified_by_its_code_and_comes_first() -> None:
    found = explain(STOPPED_AT_ENVIRONMENT)
    assert [(e.category, e.credential, e.code) for e in found] == [
        ("invalid_client_secret", "EnvironmentCredential", 7000215)
    ]


def test_a_link_that_failed_without_a_code_is_failed_and_comes_first() -> None:
    found = explain(MI_FAILED)
    assert [(e.category, e.credential) for e in found] == [
        ("credential_failed", "ManagedIdentityCredential"),
        ("credential_unavailable", "EnvironmentCredential"),
        ("credential_unavailable", "WorkloadIdentityCredential"),
    ]


def test_a_chain_inside_a_log_line_and_the_raised_exception_is_explained_once() -> None:
    text = (
        "WARNING:azure.identity._credentials.chained:"
        + ALL_UNAVAILABLE
        + "\n\n"
        + "azure.core.exceptions.ClientAuthenticationError: "
        + ALL_UNAVAILABLE
    )
    assert len(explain(text)) == 8


# Entra's answers, in the wrappings they arrive in
ENTRA_TEXT = (
    "AADSTS700016: Application with identifier '00000000-0000-0000-0000-000000000003' was not found in the "
    "directory 'Contoso'. This can happen if the application has not been installed by the administrator "
    "of the tenant or consented to by any user in the tenant.\nTrace ID: 0b8e0000-0000-0000-0000-000000000000"
    "\nCorrelation ID: 1c9f0000-0000-0000-0000-000000000000\nTimestamp: 2026-01-01 00:00:00Z"
)
TOKEN_BODY = json.dumps(
    {
        "error": "invalid_client",
        "error_description": ENTRA_TEXT.replace("\n", " "),
        "error_codes": [700016],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "0b8e0000-0000-0000-0000-000000000000",
        "correlation_id": "1c9f0000-0000-0000-0000-000000000000",
    }
)
CLIENT_SECRET_TRACEBACK = (
    'Traceback (most recent call last):\n  File "/app/main.py", line 5, in <module>\n'
    "azure.core.exceptions.ClientAuthenticationError: Authentication failed: " + ENTRA_TEXT
)


@pytest.mark.parametrize(
    "text",
    [ENTRA_TEXT, TOKEN_BODY, CLIENT_SECRET_TRACEBACK, "ERROR: " + ENTRA_TEXT.replace("\n", " ")],
    ids=["entra-text", "token-body", "traceback", "az-cli-stderr"],
)
def test_entra_errors_in_every_wrapping(text: str) -> None:
    found = explain(text)
    assert [(e.category, e.code, e.source.value) for e in found] == [("application_not_found", 700016, "entra")]
    assert found[0].docs == "https://login.microsoftonline.com/error?code=700016"


def test_an_unknown_aadsts_code_keeps_entra_s_words() -> None:
    found = explain("AADSTS9999999: A brand new failure. Trace ID: 1 Correlation ID: 2 Timestamp: 3")
    assert (found[0].category, found[0].code, exit_code(found)) == ("unknown", 9999999, 1)
    assert "A brand new failure" in found[0].cause
