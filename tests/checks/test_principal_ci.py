"""principal.* through the twin, the cases test_principal.py leaves to pure tests: the subject an Azure Pipelines
job or a GitHub pull-request / environment job will present, compared with the app's federated credentials
before the sign-in; a multi-tenant app's service principal owned by another tenant; a missing first-party
service principal proven by Entra's AADSTS500011."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest

from helpers.principal_world import (
    APP_ID,
    TENANT,
    builtin,
    no_ci,  # noqa: F401  (fixture)
    service_principal,
)
from helpers.scenarios import one
from helpers.twin_fixtures import apply_environment

from preflight.engine import RunOptions
from preflight.model import Report, Result, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

pytestmark = pytest.mark.usefixtures("no_ci")
COLLECTION_ID = "0f0f0f0f-1111-4111-8111-111111111111"
PIPELINES_ISSUER = f"https://vstoken.dev.azure.com/{COLLECTION_ID}"
PIPELINES = {
    "TF_BUILD": "True",
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
    "SYSTEM_TEAMPROJECT": "AI Platform",
    "SYSTEM_COLLECTIONID": COLLECTION_ID,
}
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "contoso/ai-app", "GITHUB_REF": "refs/pull/7/merge"}
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def run_with(
    twin: Twin,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Mapping[str, Any],
    only: list[str],
    env: Mapping[str, str] | None = None,
) -> Report:
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return run(CheckOptions(build_target(dict(os.environ)), only=only, engine=RunOptions(timeout=30, deadline=60)))


def evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def federated_job(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The CI app with these federated records; the job has no secret (it would sign in with the federated
    token) and the directory is read through an az login of the app itself, as in a pipeline's first step."""
    scenario = service_principal(permissions=["Application.Read.All"], app={"federatedIdentityCredentials": records})
    scenario["signIn"]["environment"] = None
    scenario["signIn"]["azureCli"] = {"loggedIn": True, "servicePrincipal": APP_ID, "tenantId": TENANT}
    return scenario


def record(name: str, issuer: str, subject: str) -> dict[str, Any]:
    return {"name": name, "issuer": issuer, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}


@pytest.mark.parametrize(("connection", "status"), [("azure-prod", Status.PASS), ("azure-dev", Status.FAIL)])
def test_azure_pipelines_service_connection_subject(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, connection: str, status: Status
) -> None:
    scenario = federated_job([record("pipelines-prod", PIPELINES_ISSUER, "sc://contoso/AI Platform/azure-prod")])
    report = run_with(
        twin_session,
        monkeypatch,
        scenario,
        ["principal.credentials"],
        {**PIPELINES, "PREFLIGHT_SERVICE_CONNECTION": connection, "AZURE_CLIENT_ID": APP_ID},
    )
    fed = one(report, "principal.credentials", "federated credentials")
    assert fed.status is status, fed
    ci = evidence(fed, "ci")
    assert (ci["source"], ci["issuer"], ci["subject"]) == (
        "azure-pipelines",
        PIPELINES_ISSUER,
        f"sc://contoso/AI Platform/{connection}",
    )
    if status is Status.FAIL:
        assert "sc://contoso/AI Platform/azure-prod" in fed.summary  # the subject the app expects
        assert fed.remediation is not None and "federated-credential create" in fed.remediation.commands[0]


@pytest.mark.parametrize(
    ("extra", "subject"),
    [
        ({"GITHUB_EVENT_NAME": "pull_request"}, "repo:contoso/ai-app:pull_request"),
        (
            {"GITHUB_EVENT_NAME": "pull_request", "PREFLIGHT_GITHUB_ENVIRONMENT": "production"},
            "repo:contoso/ai-app:environment:production",
        ),
    ],
)
def test_github_pull_request_and_environment_subjects(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], subject: str
) -> None:
    records = [
        record("github-pr", GITHUB_ISSUER, "repo:contoso/ai-app:pull_request"),
        record("github-prod", GITHUB_ISSUER, "repo:contoso/ai-app:environment:production"),
    ]
    report = run_with(
        twin_session,
        monkeypatch,
        federated_job(records),
        ["principal.credentials"],
        {**GITHUB, **extra, "AZURE_CLIENT_ID": APP_ID},
    )
    fed = one(report, "principal.credentials", "federated credentials")
    assert fed.status is Status.PASS, fed
    assert evidence(fed, "ci")["subject"] == subject
    # and a job whose environment has no record fails before it ever signs in
    failing = run_with(
        twin_session,
        monkeypatch,
        federated_job(records[:1]),
        ["principal.credentials"],
        {**GITHUB, **extra, "AZURE_CLIENT_ID": APP_ID},
    )
    expected = Status.PASS if subject.endswith(":pull_request") else Status.FAIL
    assert one(failing, "principal.credentials", "federated credentials").status is expected


def test_multi_tenant_app_owned_by_another_tenant(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    fabrikam = "33333333-3333-4333-8333-333333333333"
    scenario = service_principal(sp={"appOwnerOrganizationId": fabrikam})
    scenario["otherTenants"] = [
        {"id": fabrikam, "displayName": "Fabrikam", "defaultDomain": "fabrikam.onmicrosoft.com"}
    ]
    report = run_with(twin_session, monkeypatch, scenario, ["principal.exists"])
    exists = one(report, "principal.exists")
    assert exists.status is Status.PASS, exists
    assert f"is registered in another tenant ({fabrikam})" in exists.summary
    assert evidence(exists, "owner_tenant") == fabrikam and evidence(exists, "type") == "Application"


def test_missing_cognitive_services_first_party_is_aadsts500011(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenant that never used Cognitive Services has no service principal for it: Entra refuses tokens for
    its audience with AADSTS500011 (forced here with the real body) — principal.first-party WARNs with the fix."""
    scenario = builtin("healthy")
    scenario["tokenErrors"] = [
        {
            "match": {"scope": "https://cognitiveservices.azure.com"},
            "status": 400,
            "body": {
                "error": "invalid_resource",
                "error_codes": [500011],
                "error_description": "AADSTS500011: The resource principal named https://cognitiveservices.azure.com was "
                "not found in the tenant named Contoso. This can happen if the application has not "
                "been installed by the administrator of the tenant or consented to by any user in the "
                "tenant. You might have sent your authentication request to the wrong tenant.\r\n"
                "Trace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z",
            },
        }
    ]
    report = run_with(twin_session, monkeypatch, scenario, ["principal.first-party"])
    missing = one(report, "principal.first-party", "7d312290-28c8-473c-a0ed-8e53749b6d6d")
    assert missing.status is Status.WARN, missing
    assert "'Azure Cognitive Services'" in missing.summary and "AADSTS500011" in missing.summary
    assert missing.remediation is not None
    assert missing.remediation.commands == ("az ad sp create --id 7d312290-28c8-473c-a0ed-8e53749b6d6d",)
    healthy = run_with(twin_session, monkeypatch, builtin("healthy"), ["principal.first-party"])
    assert one(healthy, "principal.first-party", "7d312290-28c8-473c-a0ed-8e53749b6d6d").status is Status.PASS


def test_assignee_by_service_principal_object_id(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.principal_world import SP_ID, expired_app_for_admin

    twin_session.use(expired_app_for_admin())
    apply_environment(monkeypatch, twin_session.environment())
    report = run(
        CheckOptions(
            build_target(dict(os.environ), assignee=SP_ID),
            only=["principal.exists"],
            engine=RunOptions(timeout=30, deadline=60),
        )
    )
    exists = one(report, "principal.exists")
    assert exists.status is Status.PASS, exists
    assert evidence(exists, "object_id") == SP_ID and evidence(exists, "app_id") == APP_ID
    # the id is resolved in one batch, then the directory view in another
    assert [(e.method, e.path) for e in twin_session.requests() if e.service == "graph"] == [
        ("POST", "/v1.0/$batch")
    ] * 2


def test_federated_assertion_with_the_wrong_audience_fails(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """AZURE_FEDERATED_TOKEN_FILE's assertion has the right issuer and subject but an audience no record accepts:
    FAIL before Entra says AADSTS70021, naming the audience the record expects; the listing shows each record's
    issuer and subject."""
    from helpers.principal_world import SP_ID

    scenario = builtin("principal-federated-mismatch")
    main = "repo:contoso/ai-app:ref:refs/heads/main"
    scenario["signIn"]["workloadIdentity"]["subject"] = main
    scenario["signIn"]["azureCli"] = {"loggedIn": True, "user": "alice@contoso.onmicrosoft.com", "tenantId": TENANT}
    scenario["directory"]["permissions"] = {SP_ID: ["Application.Read.All"]}
    token_file = tmp_path / "assertion"
    token_file.write_text(twin_session.federated_token(issuer=GITHUB_ISSUER, subject=main, audience="api://other"))
    report = run_with(
        twin_session,
        monkeypatch,
        scenario,
        ["signin.chain", "principal.credentials"],
        {"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
    )
    fed = one(report, "principal.credentials", "federated credentials")
    assert fed.status is Status.FAIL, fed
    assert "audience" in fed.summary and "api://AzureADTokenExchange" in fed.summary
    assert evidence(fed, "assertion")["aud"] == ["api://other"]
    listed = evidence(fed, "records")
    assert {(r["issuer"], r["subject"]) for r in listed} >= {(GITHUB_ISSUER, main)}
