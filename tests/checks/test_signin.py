"""signin.chain / signin.tenants against the twin: one test per sign-in scenario (status, AADSTS category, fix),
the chain's surprising-but-working WARNs, --interactive, and the developer-tool readers."""

from __future__ import annotations

import json
import os
import webbrowser
from typing import Any, ClassVar

import pytest

from helpers.scenarios import one, results, run_scenario
from helpers.twin_fixtures import IDS, core_scenario

from preflight.devtools import (
    parse_az_account,
    parse_azd_token,
    parse_azure_profile,
    parse_vscode_record,
    read_azd,
    read_environment,
)
from preflight.model import Result, Status
from preflight.twin import Twin

SIGNIN = ("signin.*", "tokens.*")
TENANT = "11111111-1111-4111-8111-111111111111"
FABRIKAM = "99999999-9999-4999-8999-999999999999"


def _evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def _fix(result: Result) -> str:
    assert result.remediation is not None, result
    return result.remediation.text + " " + " ".join(result.remediation.commands)


# ---------------------------------------------------------------------------------------------- scenarios


def test_healthy(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "healthy", only=SIGNIN)
    assert [r.status for r in results(report, "signin.chain")] == [Status.PASS]
    tenants = one(report, "signin.tenants")
    assert tenants.status is Status.PASS and "Azure CLI as alice@contoso.onmicrosoft.com" in tenants.summary
    rows = {row["tool"]: row for row in _evidence(tenants, "tools")}
    assert rows["Azure CLI"]["tenant_id"] == TENANT and rows["Azure CLI"]["expires_on"]
    assert rows["Azure CLI"]["other_tenant"] is False
    assert rows["Environment"]["state"] == "signed_out"
    assert _evidence(tenants, "target_tenant_source") == "subscription 22222222-2222-4222-8222-222222222222"


def test_no_credentials(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "no-credentials", only=SIGNIN)
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL and _evidence(chain, "selected") is None
    assert "az login --tenant " + TENANT in _fix(chain) and "AZURE_CLIENT_SECRET" in _fix(chain)
    tenants = one(report, "signin.tenants")
    # nothing signed in: no tenant to compare — SKIP (does not apply), never a PASS (issue 19; was PASS)
    assert tenants.status is Status.SKIP and tenants.summary.startswith("no developer tool is signed in")
    assert {r.status for r in results(report, "tokens.scope")} == {Status.SKIP}


def test_sp_expired_secret(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "sp-expired-secret", only=SIGNIN)
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL
    assert _evidence(chain, "aadsts") == "expired_client_secret"
    assert "az ad app credential reset --id c1c1c1c1-0000-4000-8000-0000000000c1" in _fix(chain)
    rows = {row["tool"]: row for row in _evidence(one(report, "signin.tenants"), "tools")}
    assert rows["Environment"]["state"] == "error" and rows["Environment"]["aadsts"] == "expired_client_secret"


def test_sp_missing(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "sp-missing", only=SIGNIN)
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL
    assert _evidence(chain, "aadsts") == "application_not_found"
    assert "az ad sp show --id c1c1c1c1-0000-4000-8000-0000000000c1" in _fix(chain)


def test_mfa_required(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "mfa-required", only=SIGNIN)
    assert one(report, "signin.chain").status is Status.PASS  # ARM works: the chain is fine
    cognitive = one(report, "tokens.scope", "Azure AI Services")  # named by its service (issue 19)
    assert _evidence(cognitive, "scope") == "https://cognitiveservices.azure.com/.default"
    assert cognitive.status is Status.FAIL
    assert _evidence(cognitive, "aadsts") == "mfa_required" and _evidence(cognitive, "ca_policy") == "mfa"
    fix = _fix(cognitive)
    assert "Conditional Access (MFA policy)" in fix
    assert fix.count(f"az login --tenant {TENANT} --scope https://cognitiveservices.azure.com/.default") == 1
    assert "service principal or managed identity" in fix


def test_ca_blocked(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "ca-blocked", only=SIGNIN)
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL and "AADSTS53003" in chain.summary
    assert _evidence(chain, "aadsts") == "conditional_access_blocked"
    assert _evidence(chain, "ca_policy") == "block"
    assert "Conditional Access (location / block policy)" in _fix(chain)
    # the AADSTS fix says it once; the Conditional Access family is named without repeating it (issue 19)
    assert _fix(chain).lower().count("ask the tenant admin") == 1
    rows = {row["tool"]: row for row in _evidence(one(report, "signin.tenants"), "tools")}
    assert rows["Azure CLI"]["aadsts"] == "conditional_access_blocked"


def test_wrong_tenant(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "wrong-tenant", only=SIGNIN)
    cli = one(report, "signin.chain", "cli-tenant")
    assert cli.status is Status.WARN and FABRIKAM in cli.summary
    assert f"az login --tenant {TENANT}" in _fix(cli)
    tenants = one(report, "signin.tenants")
    assert (
        tenants.status is Status.WARN
        and f"Azure CLI (alice@contoso.onmicrosoft.com) is in tenant {FABRIKAM}" in tenants.summary
    )
    # ARM refused the Fabrikam token for the subscription, naming the subscription's tenant: that is read.
    assert _evidence(tenants, "target_tenant") == TENANT
    for service in ("Azure Resource Manager", "Azure AI Services"):
        result = one(report, "tokens.scope", service)
        assert result.status is Status.FAIL and _evidence(result, "finding") == "tenant-mismatch"
        assert _evidence(result, "expected_tenant_source").startswith("subscription ")


# ---------------------------------------------------------------------------------------------- chain WARNs


def _sp_and_cli(**sign_in: Any) -> dict[str, Any]:
    """Core scenario: a working environment SP and a working CLI (different principals), no managed identity."""
    doc = core_scenario(
        signIn={
            "managedIdentity": None,
            "environment": {
                "clientId": IDS["secret_app"],
                "tenantId": IDS["tenant"],
                "clientSecret": "twin-secret-value~0",
            },
            **sign_in,
        }
    )
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    return doc


def test_two_working_credentials_that_are_different_principals_warn(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, _sp_and_cli(), only=["signin.chain"])  # type: ignore[arg-type]
    assert one(report, "signin.chain").summary.startswith("DefaultAzureCredential uses EnvironmentCredential")
    shadow = one(report, "signin.chain", "shadowing")
    assert shadow.status is Status.WARN and "DIFFERENT principal" in shadow.summary
    principals = _evidence(shadow, "principals")
    assert principals["EnvironmentCredential"]["object_id"] == IDS["secret_sp"]
    assert principals["AzureCliCredential"]["object_id"] == IDS["alice"]


def test_exclusions_are_honoured(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = _run_interactive(twin_session, monkeypatch, _sp_and_cli(), False, {"AZURE_TOKEN_CREDENTIALS": "prod"})
    # the CLI still works but is not in the chain: no shadowing, no principal comparison
    assert [r.subject for r in results(report, "signin.chain")] == [None]
    links = {link["credential"]: link for link in _evidence(one(report, "signin.chain"), "links")}
    assert links["AzureCliCredential"]["outcome"] == "ok" and links["AzureCliCredential"]["in_chain"] is False


def test_cli_in_another_tenant_is_not_flagged_when_excluded(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _sp_and_cli(
        azureCli={
            "loggedIn": True,
            "user": "alice@contoso.onmicrosoft.com",
            "tenantId": IDS["other_tenant"],
            "subscriptionId": IDS["subscription"],
        }
    )
    report = _run_interactive(
        twin_session, monkeypatch, doc, False, {"AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential"}
    )
    assert [r.subject for r in results(report, "signin.chain")] == [None]


def test_managed_identity_on_a_developer_machine_warns(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = core_scenario()  # managed identity (App Service style) AND a signed-in Azure CLI, no host markers
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    report = run_scenario(twin_session, monkeypatch, doc, only=["signin.chain"])  # type: ignore[arg-type]
    assert one(report, "signin.chain").summary.startswith("DefaultAzureCredential uses ManagedIdentityCredential")
    mi = one(report, "signin.chain", "managed-identity")
    assert mi.status is Status.WARN
    assert "AzureCliCredential is also signed in" in mi.summary and "(IDENTITY_ENDPOINT)" in mi.summary
    assert "AZURE_TOKEN_CREDENTIALS=dev" in _fix(mi)


def test_managed_identity_on_an_azure_host_without_developer_tools_does_not_warn(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = core_scenario(signIn={"azureCli": {"loggedIn": False}})
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    report = _run_interactive(twin_session, monkeypatch, doc, False, {"WEBSITE_SITE_NAME": "contoso-app"})
    assert [(r.subject, r.status) for r in results(report, "signin.chain")] == [(None, Status.PASS)]
    summary = one(report, "signin.chain").summary
    assert "a managed identity on Azure App Service (recognised from WEBSITE_SITE_NAME)" in summary, summary


# ---------------------------------------------------------------------------------------------- --interactive


class _RecordingBrowser(webbrowser.BaseBrowser):
    """Registered as the preferred browser: records the URL and reports failure, so no browser ever opens."""

    urls: ClassVar[list[str]] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.urls.append(url)
        return False


def _run_interactive(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, scenario: Any, interactive: bool, env: dict[str, str] | None = None
) -> Any:
    import os

    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    target = build_target(dict(os.environ), interactive=interactive)
    return run(CheckOptions(target, only=["signin.chain"], engine=RunOptions(timeout=30, deadline=60)))


def test_interactive_browser_is_excluded_without_the_flag(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = _run_interactive(twin_session, monkeypatch, "no-credentials", interactive=False)
    links = {link["credential"]: link for link in _evidence(one(report, "signin.chain"), "links")}
    browser = links["InteractiveBrowserCredential"]
    assert browser["outcome"] == "excluded" and browser["in_chain"] is False and "--interactive" in browser["reason"]


def test_interactive_includes_the_browser_link_but_tests_never_open_one(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    webbrowser.register("preflight-test-recorder", None, _RecordingBrowser("recorder"), preferred=True)
    _RecordingBrowser.urls.clear()
    report = _run_interactive(twin_session, monkeypatch, "no-credentials", interactive=True)
    links = {link["credential"]: link for link in _evidence(one(report, "signin.chain"), "links")}
    browser = links["InteractiveBrowserCredential"]
    assert browser["in_chain"] is True and browser["outcome"] == "unavailable"
    assert "Failed to open a browser" in browser["reason"]
    # DefaultAzureCredential really reached the browser step, at the twin's authorize endpoint
    (url,) = _RecordingBrowser.urls
    assert url.startswith(twin_session.base_url + "/") and "/oauth2/v2.0/authorize" in url


def test_interactive_does_not_open_a_browser_when_an_earlier_link_works(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    webbrowser.register("preflight-test-recorder", None, _RecordingBrowser("recorder"), preferred=True)
    _RecordingBrowser.urls.clear()
    report = _run_interactive(twin_session, monkeypatch, "healthy", interactive=True)
    chain = one(report, "signin.chain")
    assert chain.status is Status.PASS and _evidence(chain, "selected") == "AzureCliCredential"
    assert _RecordingBrowser.urls == []


# ---------------------------------------------------------------------------------------------- devtools (pure)


def test_parse_az_account_show() -> None:
    found = parse_az_account(
        json.dumps(
            {"id": "s1", "name": "Dev", "tenantId": TENANT, "user": {"name": "alice@contoso.com", "type": "user"}}
        )
    )
    assert (found.state, found.account, found.tenant_id) == ("signed_in", "alice@contoso.com", TENANT)
    assert parse_az_account("not json").state == "error"
    guest = parse_az_account(
        json.dumps(
            {
                "id": "s1",
                "tenantId": TENANT,
                "homeTenantId": FABRIKAM,
                "user": {"name": "dave@fabrikam.com", "type": "user"},
            }
        )
    )
    assert guest.tenant_id == TENANT and f"guest: home tenant {FABRIKAM}" in guest.detail


def test_parse_azure_profile_with_bom_takes_the_default_subscription() -> None:
    text = "\ufeff" + json.dumps(
        {
            "subscriptions": [
                {"id": "s1", "tenantId": "t1", "isDefault": False, "user": {"name": "a", "type": "user"}},
                {"id": "s2", "tenantId": "t2", "isDefault": True, "user": {"name": "b", "type": "user"}},
            ]
        }
    )
    found = parse_azure_profile(text)
    assert (found.account, found.tenant_id, found.source) == ("b", "t2", "azureProfile.json")
    assert parse_azure_profile('{"subscriptions": []}').state == "signed_out"


def test_parse_azd_token_keeps_claims_not_the_token() -> None:
    import base64

    payload = base64.urlsafe_b64encode(
        json.dumps(
            {"tid": TENANT, "oid": "o1", "upn": "bob@contoso.com", "scp": "user_impersonation", "exp": 2000000000}
        ).encode()
    )
    token = "e30." + payload.decode().rstrip("=") + ".sig-canary"
    found = parse_azd_token(json.dumps({"token": token, "expiresOn": "2033-05-18T03:33:20Z"}))
    assert (found.account, found.tenant_id, found.expires_on) == ("bob@contoso.com", TENANT, 2000000000)
    assert "sig-canary" not in repr(found)


def test_parse_vscode_record() -> None:
    found = parse_vscode_record(
        json.dumps(
            {
                "username": "carol@contoso.com",
                "tenantId": TENANT,
                "authority": "login.microsoftonline.com",
                "clientId": "c",
                "homeAccountId": "h",
            }
        )
    )
    assert (found.state, found.account, found.tenant_id) == ("signed_in", "carol@contoso.com", TENANT)


def test_environment_reader_names_no_secret() -> None:
    found = read_environment(
        {"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": "canary-secret-value"}
    )
    assert found.state == "signed_in" and "canary-secret-value" not in repr(found)
    assert read_environment({"AZURE_CLIENT_SECRET": "x"}).state == "error"


def test_azd_not_installed(tmp_path: Any) -> None:
    assert read_azd({"PATH": str(tmp_path)}).state == "not_installed"


def test_azure_cli_without_az_reads_the_profile_file(tmp_path: Any) -> None:
    from preflight.devtools import read_azure_cli

    (tmp_path / "azureProfile.json").write_text(
        "\ufeff"
        + json.dumps(
            {
                "subscriptions": [
                    {
                        "id": "s1",
                        "name": "Dev",
                        "tenantId": TENANT,
                        "isDefault": True,
                        "user": {"name": "alice@contoso.com", "type": "user"},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    found = read_azure_cli({"PATH": str(tmp_path / "empty"), "AZURE_CONFIG_DIR": str(tmp_path)})
    assert (found.state, found.account, found.tenant_id) == ("signed_in", "alice@contoso.com", TENANT)
    assert "az is not on PATH" in found.detail
    assert (
        read_azure_cli({"PATH": str(tmp_path / "empty"), "AZURE_CONFIG_DIR": str(tmp_path / "none")}).state
        == "not_installed"
    )


def test_an_installed_azd_is_read_through_the_path(tmp_path: Any) -> None:
    """A stand-in azd on PATH (like the twin's az shim) printing what `azd auth token --output json` prints."""
    import base64
    import sys

    payload = base64.urlsafe_b64encode(
        json.dumps(
            {"tid": FABRIKAM, "oid": "o2", "upn": "dave@fabrikam.com", "scp": "user_impersonation", "exp": 2000000000}
        ).encode()
    )
    token = "e30." + payload.decode().rstrip("=") + ".c2ln"
    script = tmp_path / "azd"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"assert sys.argv[1:3] == ['auth', 'token']\n"
        f"print(json.dumps({{'token': {token!r}, 'expiresOn': '2033-05-18T03:33:20Z'}}))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    found = read_azd({"PATH": str(tmp_path)})
    assert (found.state, found.account, found.tenant_id) == ("signed_in", "dave@fabrikam.com", FABRIKAM)
    logged_out = tmp_path / "out"
    logged_out.mkdir()
    (logged_out / "azd").write_text(
        "#!/bin/sh\necho 'ERROR: not logged in, run `azd auth login` to login' >&2\nexit 1\n", encoding="utf-8"
    )
    (logged_out / "azd").chmod(0o755)
    assert read_azd({"PATH": str(logged_out)}).state == "signed_out"


def test_workload_identity_error_body_is_classified_with_its_suberror(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workload identity keeps Entra's response on the exception: its error_codes and suberror are read."""
    from helpers.twin_fixtures import WI_ISSUER, WI_SUBJECT

    from preflight.twin.entra import aadsts_body

    doc = core_scenario(
        signIn={
            "managedIdentity": None,
            "azureCli": {"loggedIn": False},
            "workloadIdentity": {
                "clientId": IDS["wi_app"],
                "tenantId": IDS["tenant"],
                "issuer": WI_ISSUER,
                "subject": WI_SUBJECT,
            },
        }
    )
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    twin_session.use(doc)
    body = aadsts_body(
        twin_session.server,
        None,
        50076,
        "invalid_grant",
        "MFA required (forced).",
        suberror="basic_action",
        claims='{"access_token":{"capolids":{"essential":true}}}',
    )
    doc["tokenErrors"] = [{"match": {"clientId": IDS["wi_app"]}, "status": 400, "body": body}]
    report = _run_interactive(twin_session, monkeypatch, doc, False)
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL and "WorkloadIdentityCredential" in chain.summary
    assert _evidence(chain, "aadsts") == "mfa_required" and _evidence(chain, "suberror") == "basic_action"
    assert "Conditional Access (MFA policy)" in _fix(chain) and "suberror basic_action" in _fix(chain)


def test_tenants_with_no_target_tenant_is_skipped_not_passed(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed in, but the run names no subscription or tenant: nothing to compare the sign-in with — SKIP, never
    PASS (issue 19: undecided is not a pass; was PASS "signed in to a tenant (the target's tenant is unknown)")."""
    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin_session.use("healthy")
    apply_environment(monkeypatch, twin_session.environment())
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID", "PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    report = run(
        CheckOptions(
            build_target(dict(os.environ)), only=["signin.tenants"], engine=RunOptions(timeout=30, deadline=60)
        )
    )
    tenants = one(report, "signin.tenants")
    assert tenants.status is Status.SKIP, tenants
    assert "Azure CLI as alice@contoso.onmicrosoft.com" in tenants.summary and "unknown" in tenants.summary
