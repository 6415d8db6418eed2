"""principal.* through the twin: real azure-identity sign-ins, real Microsoft Graph requests (batched)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from helpers.principal_world import (
    APP_ID,
    FOREIGN_APP,
    SP_ID,
    expired_app_for_admin,
    foreign_app,
    no_ci,  # noqa: F401  (fixture)
    service_principal,
)
from helpers.principal_world import builtin as builtin_scenario
from helpers.scenarios import one
from helpers.twin_fixtures import IDS, apply_environment, core_scenario

from preflight.engine import RunOptions
from preflight.model import Report, Result, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

PRINCIPAL = ("signin.chain", "principal.*")
pytestmark = pytest.mark.usefixtures("no_ci")


def run_with(
    twin: Twin,
    monkeypatch: pytest.MonkeyPatch,
    scenario: str | Mapping[str, Any],
    only: Sequence[str] = PRINCIPAL,
    env: Mapping[str, str] | None = None,
    **target: Any,
) -> Report:
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    options = CheckOptions(
        build_target(dict(os.environ), **target), only=list(only), engine=RunOptions(timeout=30, deadline=60)
    )
    return run(options)


def evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def graph_requests(twin: Twin) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in twin.requests() if e.service == "graph"]


def test_healthy_service_principal_in_one_batch(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(
        twin_session, monkeypatch, service_principal("@now+400d"), only=("principal.*", "access.conditional-access")
    )
    exists = one(report, "principal.exists")
    assert exists.status is Status.PASS, exists
    assert "'preflight-ci' (Application" in exists.summary
    assert "its app 'preflight-ci' is registered in this tenant" in exists.summary
    assert evidence(exists, "object_id") == SP_ID and evidence(exists, "account_enabled") is True
    creds = one(report, "principal.credentials", "secrets and certificates")
    assert creds.status is Status.PASS, creds
    assert creds.summary.startswith("the secret 'ci secret', hint 'twi' this process uses is valid for 39")
    assert evidence(creds, "count") == 2 and evidence(creds, "in_use") == "secret 'ci secret', hint 'twi'"
    # the SP, its app, federated credentials, groups and CA policies: one round trip
    assert graph_requests(twin_session) == [("POST", "/v1.0/$batch")]
    # no secret value anywhere in the report
    assert "twin-ci-secret-value" not in repr(report)


def test_secret_expiring_in_ten_days_warns(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, "principal-secret-expiring")
    creds = one(report, "principal.credentials", "secrets and certificates")
    assert creds.status is Status.WARN, creds
    assert "this process uses expires in 9 days (threshold 30)" in creds.summary
    assert creds.remediation is not None
    assert creds.remediation.commands == (f"az ad app credential reset --id {APP_ID} --append --years 1",)
    # --expiry-days moves the threshold
    relaxed = run_with(twin_session, monkeypatch, "principal-secret-expiring", credential_warn_days=5)
    assert one(relaxed, "principal.credentials", "secrets and certificates").status is Status.PASS


def test_expired_secret_is_read_by_the_working_az_login(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, service_principal("@now-2d", cli=True))
    assert one(report, "signin.chain").status is Status.FAIL
    creds = one(report, "principal.credentials", "secrets and certificates")
    assert creds.status is Status.FAIL, creds
    assert "this process uses expired 2 days ago" in creds.summary and "AADSTS7000222" in creds.summary
    assert evidence(one(report, "principal.exists"), "read_by") == "AzureCliCredential"


def test_expired_secret_for_an_admin_with_assignee(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, expired_app_for_admin(), assignee=APP_ID)
    creds = one(report, "principal.credentials", "secrets and certificates")
    assert creds.status is Status.FAIL, creds
    assert creds.summary.startswith("every secret and certificate of app 'preflight-ci' has expired (2)")
    assert one(report, "principal.exists").status is Status.PASS
    # resolving the assignee, then the directory view: two batches, no single-object GETs
    assert graph_requests(twin_session) == [("POST", "/v1.0/$batch")] * 2


def test_assignee_by_display_name(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    named = run_with(
        twin_session, monkeypatch, expired_app_for_admin(), assignee="preflight-ci", only=("principal.exists",)
    )
    assert one(named, "principal.exists").status is Status.PASS


def test_app_registered_in_another_tenant(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, foreign_app())
    exists = one(report, "principal.exists")
    assert exists.status is Status.FAIL, exists
    assert f"no service principal for app {FOREIGN_APP}" in exists.summary
    assert "and no app registration" in exists.summary and "AADSTS700016" in exists.summary
    assert "registered in another tenant" in exists.summary
    assert exists.remediation is not None and exists.remediation.commands == (f"az ad sp create --id {FOREIGN_APP}",)
    assert one(report, "principal.credentials").status is Status.SKIP


def test_missing_app_without_any_directory_reader(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing else signs in: the chain's AADSTS700016 alone names the case
    exists = one(run_with(twin_session, monkeypatch, "sp-missing"), "principal.exists")
    assert exists.status is Status.FAIL and "AADSTS700016" in exists.summary


def test_disabled_service_principal(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, service_principal(sp={"accountEnabled": False}, cli=True))
    assert "AADSTS7000112" in one(report, "signin.chain").summary
    exists = one(report, "principal.exists")
    assert exists.status is Status.FAIL, exists
    assert "exists but is disabled" in exists.summary
    assert exists.remediation is not None
    assert exists.remediation.commands == (f"az ad sp update --id {APP_ID} --set accountEnabled=true",)


def test_federated_subject_mismatch(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, "principal-federated-mismatch")
    fed = one(report, "principal.credentials", "federated credentials")
    assert fed.status is Status.FAIL, fed
    assert "subject repo:contoso/ai-app:ref:refs/heads/feature" in fed.summary
    assert "the app expects subject repo:contoso/ai-app:ref:refs/heads/main" in fed.summary
    assert evidence(fed, "assertion")["iss"] == "https://token.actions.githubusercontent.com"
    assert fed.remediation is not None and "federated-credential create" in fed.remediation.commands[0]


GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "contoso/ai-app", "GITHUB_EVENT_NAME": "push"}
FIC = {
    "name": "github-main",
    "issuer": "https://token.actions.githubusercontent.com",
    "subject": "repo:contoso/ai-app:ref:refs/heads/main",
    "audiences": ["api://AzureADTokenExchange"],
}


@pytest.mark.parametrize(("ref", "status"), [("refs/heads/main", Status.PASS), ("refs/heads/Main", Status.FAIL)])
def test_github_job_subject_is_compared_before_signing_in(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, ref: str, status: Status
) -> None:
    scenario = service_principal(permissions=["Application.Read.All"], app={"federatedIdentityCredentials": [FIC]})
    # the job would sign in with a federated token: no secret in its environment
    scenario["signIn"]["environment"] = None
    scenario["signIn"]["azureCli"] = {
        "loggedIn": True,
        "servicePrincipal": APP_ID,
        "tenantId": scenario["tenant"]["id"],
    }
    report = run_with(twin_session, monkeypatch, scenario, env={**GITHUB, "GITHUB_REF": ref, "AZURE_CLIENT_ID": APP_ID})
    fed = one(report, "principal.credentials", "federated credentials")
    assert fed.status is status, fed
    assert evidence(fed, "ci")["subject"] == f"repo:contoso/ai-app:ref:{ref}"
    if status is Status.FAIL:
        assert "differs only in letter case" in fed.summary


def test_user_sign_in_skips_and_first_party_apps_are_checked(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_with(twin_session, monkeypatch, "healthy", profile="ml")
    for check_id in ("principal.exists", "principal.credentials"):
        result = one(report, check_id)
        assert result.status is Status.SKIP and result.summary.startswith("not a service principal"), result
    # a token audience is proven by Entra issuing the token; the Azure ML app is looked up in the directory
    proven = one(report, "principal.first-party", "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe")
    assert proven.status is Status.PASS and "Entra issued a token for" in proven.summary
    missing = one(report, "principal.first-party", "0736f41a-0425-4b46-bdb5-1563eff02385")
    assert missing.status is Status.WARN and "'Azure Machine Learning'" in missing.summary
    assert missing.remediation is not None
    assert missing.remediation.commands == ("az ad sp create --id 0736f41a-0425-4b46-bdb5-1563eff02385",)
    lookup = "/v1.0/servicePrincipals(appId='0736f41a-0425-4b46-bdb5-1563eff02385')"
    assert graph_requests(twin_session) == [("GET", lookup)]


def test_without_application_read_all_credentials_warn_naming_it(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the directory is a read the app itself never makes: not "does not apply" (SKIP) but a WARN naming the
    # permission it lacks (issue 15's gate rule)
    report = run_with(twin_session, monkeypatch, service_principal(permissions=[]))
    creds = one(report, "principal.credentials")
    assert creds.status is Status.WARN, creds
    assert "Application.Read.All" in creds.summary
    # the SP may read itself: existence is still answered
    assert one(report, "principal.exists").status is Status.PASS


def test_short_lived_federated_assertion_warns(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    scenario = builtin_scenario("principal-federated-mismatch")
    main = "repo:contoso/ai-app:ref:refs/heads/main"
    scenario["signIn"]["workloadIdentity"]["subject"] = main
    scenario["signIn"]["azureCli"] = None
    scenario["directory"]["permissions"] = {SP_ID: ["Application.Read.All"]}
    token_file = tmp_path / "assertion"
    # what GitHub hands out: an assertion that lives a few minutes
    token_file.write_text(
        twin_session.federated_token(issuer="https://token.actions.githubusercontent.com", subject=main, lifetime=120)
    )
    report = run_with(twin_session, monkeypatch, scenario, env={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    assert one(report, "signin.chain").status is Status.PASS
    fed = one(report, "principal.credentials", "federated credentials")
    assert fed.status is Status.WARN, fed
    assert "matches record 'github-main' but expires in" in fed.summary and "AADSTS700024" in fed.summary


def test_managed_identity(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_with(twin_session, monkeypatch, core_scenario(), only=("principal.exists", "principal.credentials"))
    exists = one(report, "principal.exists")
    assert exists.status is Status.PASS and "'twin-mi' (ManagedIdentity" in exists.summary
    assert "registered in" not in exists.summary
    creds = one(report, "principal.credentials")
    assert creds.status is Status.PASS and creds.summary.startswith("managed identity: it has no secrets")


def test_graph_throttling_is_retried_with_a_capped_retry_after(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = service_principal()
    scenario["faults"] = [
        {
            "match": {"service": "graph", "method": "POST", "path": r"\$batch"},
            "status": 429,
            "retryAfter": 3600,
            "count": 1,
        }
    ]
    # Without the cap this run would wait an hour (azure-core obeys Retry-After as given); with the product's
    # real cap (preflight.azure.graph.MAX_RETRY_AFTER, 5 s) it waits at most that long.
    report = run_with(twin_session, monkeypatch, scenario, only=("principal.exists",))
    assert one(report, "principal.exists").status is Status.PASS
    statuses = [e.status for e in twin_session.requests() if e.service == "graph"]
    assert statuses == [429, 200]


def test_certificate_in_use_is_identified_by_thumbprint(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = core_scenario(
        signIn={
            "environment": {"clientId": IDS["cert_app"], "tenantId": IDS["tenant"], "certificate": True},
            "managedIdentity": None,
            "azureCli": None,
        }
    )
    scenario["directory"]["permissions"] = {IDS["cert_sp"]: ["Application.Read.All"]}
    report = run_with(twin_session, monkeypatch, scenario, only=("principal.credentials",))
    creds = one(report, "principal.credentials", "secrets and certificates")
    assert creds.status is Status.PASS, creds
    (cert,) = evidence(creds, "credentials")
    assert cert["kind"] == "certificate" and cert["thumbprint"]
    assert (
        evidence(creds, "in_use") == f"certificate '{cert['name'] or cert['key_id']}', thumbprint {cert['thumbprint']}"
    )
    assert "BEGIN" not in repr(report)  # no certificate or key material in the report
