"""preflight.appconfig: the app's Azure OpenAI settings judged on plain data — which credential the installed
openai SDK sends, the endpoint's form, the api-version, the deployment name."""

from __future__ import annotations

import pytest

from preflight.appconfig import (
    AccountEndpoint,
    AuthFacts,
    Finding,
    analyse_api_version,
    analyse_auth,
    analyse_deployment,
    analyse_endpoint,
    api_version_conflict,
    api_versions,
    app_deployment,
    auth_mode,
    classify_endpoint,
    describe_variables,
    needs_local_auth,
    openai_major,
)

KEY = "0123456789abcdef0123456789abcdef"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln"


def _auth(env: dict[str, str], version: str | None = "1.54.0", local: bool | None = None) -> list[Finding]:
    return analyse_auth(AuthFacts(env, version, local))


# --- key vs keyless -------------------------------------------------------------------------------------------------


def test_openai_major_versions() -> None:
    assert openai_major("1.54.3") == 1
    assert openai_major("0.28.1") == 0
    assert openai_major("2.0.0b1") == 2
    assert openai_major(None) is None and openai_major("") is None


@pytest.mark.parametrize(
    ("env", "version", "mode"),
    [
        ({}, "1.54.0", "keyless"),
        ({"AZURE_OPENAI_API_KEY": KEY}, "1.54.0", "key"),
        ({"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_AD_TOKEN": TOKEN}, "1.54.0", "entra-token"),
        # AzureOpenAI never reads OPENAI_API_KEY (only OpenAI() does)
        ({"OPENAI_API_KEY": KEY}, "1.54.0", "keyless"),
        ({"OPENAI_API_KEY": KEY}, "0.28.1", "legacy-key"),
        ({"OPENAI_API_KEY": TOKEN, "OPENAI_API_TYPE": "azure_ad"}, "0.28.1", "legacy-azure-ad"),
        ({"AZURE_OPENAI_API_KEY": KEY}, None, "key"),  # not installed here: judged as openai>=1.0
    ],
)
def test_auth_mode_follows_the_installed_sdk(env: dict[str, str], version: str | None, mode: str) -> None:
    assert auth_mode(env, version) == mode
    assert needs_local_auth(env, version) is (mode in ("key", "legacy-key"))


def test_no_key_is_a_keyless_pass() -> None:
    (finding,) = _auth({})
    assert finding.status == "pass" and "azure_ad_token_provider" in finding.message


def test_a_key_on_an_account_with_local_auth_disabled_fails() -> None:
    (finding,) = _auth({"AZURE_OPENAI_API_KEY": KEY}, local=True)
    assert finding.status == "fail" and finding.subject == "local-auth"
    assert "AZURE_OPENAI_API_KEY is set (32 characters, hidden)" in finding.message
    assert "unless the code passes azure_ad_token_provider, which then wins over the key" in finding.message
    assert finding.fix.startswith("unset AZURE_OPENAI_API_KEY and authenticate with Entra ID: AzureOpenAI(")
    assert KEY not in finding.message + finding.fix


def test_a_key_the_account_accepts_passes_and_says_keyless_is_recommended() -> None:
    (finding,) = _auth({"AZURE_OPENAI_API_KEY": KEY}, local=False)
    assert finding.status == "pass"
    assert "the account accepts keys" in finding.message and "Entra ID (keyless)" in finding.message


def test_key_and_token_says_the_token_wins_and_the_token_expires() -> None:
    findings = _auth({"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_AD_TOKEN": TOKEN}, local=True)
    by_subject = {f.subject: f for f in findings}
    assert set(by_subject) == {"key-and-token", "static-token"}  # the key is never sent: no local-auth FAIL
    assert "sends the Entra ID token (Authorization: Bearer) and never the key" in by_subject["key-and-token"].message
    assert by_subject["static-token"].status == "warn" and "never refreshes it" in by_subject["static-token"].message


def test_legacy_settings_under_openai_1_are_ignored() -> None:
    env = {"OPENAI_API_TYPE": "azure_ad", "OPENAI_API_BASE": "https://contoso.openai.azure.com/"}
    (finding,) = _auth(env)
    assert finding.status == "warn" and finding.subject == "legacy"
    assert "openai≥1.0 (installed here) ignores" in finding.message
    assert "set AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/" in finding.fix


def test_a_legacy_regional_api_base_is_never_recommended_as_the_endpoint() -> None:
    (finding,) = _auth({"OPENAI_API_BASE": "https://eastus.api.cognitive.microsoft.com/"})
    assert "set AZURE_OPENAI_ENDPOINT to the account's custom-subdomain endpoint (see app.endpoint)" in finding.fix
    assert "eastus" not in finding.fix


def test_legacy_settings_without_openai_installed_say_so() -> None:
    (finding,) = _auth({"OPENAI_API_TYPE": "azure"}, version=None)
    assert finding.status == "warn" and "openai is not installed where preflight runs" in finding.message


def test_openai_0_with_azure_ad_warns_that_the_token_expires() -> None:
    (finding,) = _auth({"OPENAI_API_TYPE": "azure_ad", "OPENAI_API_KEY": TOKEN}, version="0.28.1")
    assert finding.status == "warn" and "sends OPENAI_API_KEY as the Entra ID token" in finding.message
    assert finding.fix.startswith("upgrade to openai≥1.0")


def test_openai_0_with_an_azure_base_but_the_openai_type_fails() -> None:
    findings = _auth({"OPENAI_API_BASE": "https://contoso.openai.azure.com/", "OPENAI_API_KEY": KEY}, "0.28.1")
    assert [f.status for f in findings] == ["fail"] and "OpenAI's API shape" in findings[0].message


def test_openai_0_with_an_unknown_type_fails() -> None:
    (finding,) = _auth({"OPENAI_API_TYPE": "azure-ad"}, version="0.28.1")
    assert finding.status == "fail" and "is not a type openai<1.0 knows" in finding.message


def test_openai_0_key_on_an_account_without_keys_fails() -> None:
    findings = _auth({"OPENAI_API_TYPE": "azure", "OPENAI_API_KEY": KEY}, version="0.28.1", local=True)
    assert [(f.status, f.subject) for f in findings] == [("fail", "local-auth")]
    assert "OPENAI_API_KEY is set" in findings[0].message


def test_variables_are_described_secrets_never_shown() -> None:
    shown = describe_variables({"AZURE_OPENAI_API_KEY": KEY, "OPENAI_API_KEY": "", "OPENAI_API_TYPE": "azure"})
    assert shown == {
        "AZURE_OPENAI_API_KEY": "set (32 characters, hidden)",
        "OPENAI_API_KEY": "set but empty",
        "OPENAI_API_TYPE": "azure",
    }


# --- endpoint form --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "name"),
    [
        ("https://contoso.openai.azure.com/", "custom-subdomain", "contoso"),
        ("https://contoso.cognitiveservices.azure.com/", "custom-subdomain", "contoso"),
        ("https://contoso.services.ai.azure.com/", "custom-subdomain", "contoso"),
        ("https://contoso.openai.azure.us/", "custom-subdomain", "contoso"),
        ("https://eastus.api.cognitive.microsoft.com/", "regional", "eastus"),
        ("https://chinaeast2.api.cognitive.azure.cn/", "regional", "chinaeast2"),
        ("https://contoso-apim.azure-api.net/openai", "apim", "contoso-apim"),
        ("https://contoso.services.ai.azure.com/api/projects/proj1", "foundry-project", "proj1"),
        ("https://api.openai.com/v1", "openai", None),
        ("http://contoso.openai.azure.com/", "not-https", None),
        ("https://aoai.internal.contoso.com/", "other", None),
        ("https://a.b.openai.azure.com/", "other", None),  # not one label before the suffix
    ],
)
def test_classify_endpoint(url: str, kind: str, name: str | None) -> None:
    form = classify_endpoint(url)
    assert (form.kind, form.name) == (kind, name)


def test_a_regional_endpoint_fails_and_names_the_accounts_own() -> None:
    own = AccountEndpoint("https://contoso.openai.azure.com/", own=False, subdomain="contoso")
    finding = analyse_endpoint("https://eastus.api.cognitive.microsoft.com/", "AZURE_OPENAI_ENDPOINT", own)
    assert finding.status == "fail"
    assert "a regional endpoint cannot take Entra ID tokens" in finding.message
    assert "the account's own endpoint is https://contoso.openai.azure.com/" in finding.message
    assert finding.fix == "use the custom subdomain: set AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/"


def test_a_regional_endpoint_without_a_known_account_says_how_to_get_a_subdomain() -> None:
    finding = analyse_endpoint("https://westeurope.api.cognitive.microsoft.com/", "--endpoint")
    assert finding.status == "fail" and "(westeurope)" in finding.message
    assert (
        "--custom-domain" in finding.fix and "set AZURE_OPENAI_ENDPOINT=https://<name>.openai.azure.com/" in finding.fix
    )


def test_the_accounts_own_endpoint_without_a_subdomain_is_regional() -> None:
    """The target account itself lacks the subdomain: resource.endpoint owns that cause and its command; the app's
    part is the variable to set afterwards (one cause, one fix step)."""
    account = AccountEndpoint("https://eastus.example/", own=True, subdomain=None)
    finding = analyse_endpoint("https://eastus.example/", "AZURE_OPENAI_ENDPOINT", account)
    assert finding.status == "fail" and finding.caused_by == "resource.endpoint"
    assert finding.fix == (
        "once the account has a custom subdomain (resource.endpoint), "
        "set AZURE_OPENAI_ENDPOINT=https://<name>.openai.azure.com/"
    )


def test_apim_and_foundry_project_urls() -> None:
    apim = analyse_endpoint("https://gw.azure-api.net/", "AZURE_OPENAI_ENDPOINT")
    assert apim.status == "warn" and "API Management gateway" in apim.message and "--resource-id" in apim.fix
    project = analyse_endpoint("https://contoso.services.ai.azure.com/api/projects/p1", "AZURE_OPENAI_ENDPOINT")
    assert project.status == "fail" and "Foundry project URL (project p1)" in project.message
    assert "AZURE_OPENAI_ENDPOINT=https://contoso.services.ai.azure.com/" in project.fix


def test_custom_subdomain_forms() -> None:
    assert analyse_endpoint("https://contoso.openai.azure.com/", "AZURE_OPENAI_ENDPOINT").status == "pass"
    assert analyse_endpoint("https://contoso.openai.azure.com/openai/v1/", "OPENAI_API_BASE").status == "pass"
    with_path = analyse_endpoint("https://contoso.openai.azure.com/openai/deployments/x/chat", "AZURE_OPENAI_ENDPOINT")
    assert with_path.status == "warn" and with_path.fix == "set AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/"
    other = AccountEndpoint("https://fabrikam.openai.azure.com/", own=False, subdomain="fabrikam")
    mismatch = analyse_endpoint("https://contoso.openai.azure.com/", "AZURE_OPENAI_ENDPOINT", other)
    assert mismatch.status == "warn" and "not one of the account's endpoints" in mismatch.message


def test_an_unknown_host_is_a_warning_unless_the_account_confirms_it() -> None:
    url = "https://aoai.internal.contoso.com/"
    assert analyse_endpoint(url, "AZURE_OPENAI_ENDPOINT").status == "warn"
    own = AccountEndpoint(url, own=True, subdomain="contoso")
    assert analyse_endpoint(url, "AZURE_OPENAI_ENDPOINT", own).status == "pass"


def test_openai_and_plain_http_fail() -> None:
    assert analyse_endpoint("https://api.openai.com/v1", "OPENAI_API_BASE").status == "fail"
    assert analyse_endpoint("http://contoso.openai.azure.com/", "OPENAI_API_BASE").fix.startswith(
        "set AZURE_OPENAI_ENDPOINT="
    )


# --- api-version ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        ("2024-10-21", "pass", "supported GA"),
        ("2025-04-01-preview", "pass", "supported preview"),
        ("preview", "pass", "the v1 API"),
        ("2023-07-01-preview", "fail", "was retired on 2024-07-01"),
        ("2024-02-15-preview", "warn", "no longer supported"),
        ("2024-13-01", "fail", "is not an api-version"),
        ("2024-10-21-Preview", "fail", "is not an api-version"),
        ("v2024", "fail", "is not an api-version"),
        ("2026-01-01", "warn", "not an api-version known here"),
    ],
)
def test_api_versions(value: str, status: str, words: str) -> None:
    finding = analyse_api_version("OPENAI_API_VERSION", value)
    assert finding.status == status and words in finding.message, finding
    if status != "pass":
        assert "2024-10-21 (latest GA)" in finding.fix


def test_the_version_table_cites_its_source_and_is_consistent() -> None:
    table = api_versions()
    assert table["source"].startswith("https://learn.microsoft.com/")
    lists = [set(table["ga"]), set(table["supportedPreview"]), set(table["unsupportedPreview"]), set(table["retired"])]
    assert sum(len(s) for s in lists) == len(set().union(*lists))  # no version in two lists
    assert table["latestGa"] in table["ga"] and table["latestPreview"] in table["supportedPreview"]


def test_two_version_variables_that_differ() -> None:
    finding = api_version_conflict({"AZURE_OPENAI_API_VERSION": "2024-06-01", "OPENAI_API_VERSION": "2024-10-21"})
    assert finding is not None and "AzureOpenAI reads only OPENAI_API_VERSION" in finding.message
    assert api_version_conflict({"AZURE_OPENAI_API_VERSION": "2024-06-01"}) is None


# --- deployment -----------------------------------------------------------------------------------------------------


def test_the_deployment_the_app_names() -> None:
    assert app_deployment({"AZURE_OPENAI_DEPLOYMENT": "gpt-4o"}, None) == ("gpt-4o", "AZURE_OPENAI_DEPLOYMENT")
    assert app_deployment({"AZURE_OPENAI_DEPLOYMENT": "gpt-4o"}, "chat") == ("chat", "--deployment")
    assert app_deployment({}, None) is None


def test_deployments_match_case_insensitively_and_a_missing_one_lists_the_real_ones() -> None:
    listed = {"gpt-4o": "gpt-4o", "embed": "text-embedding-3-small"}
    hit = analyse_deployment("GPT-4O", "--deployment", listed, "contoso", "ARM")
    assert hit.status == "pass" and "(model gpt-4o)" in hit.message
    miss = analyse_deployment("gpt-35-turbo", "AZURE_OPENAI_DEPLOYMENT", listed, "contoso", "ARM")
    assert miss.status == "fail" and "its deployments: embed, gpt-4o" in miss.message
    assert miss.fix.startswith("set AZURE_OPENAI_DEPLOYMENT to a deployment name (not a model name)")
