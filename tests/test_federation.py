"""preflight.federation: assertion claims, the subject a CI job presents, Entra's matching rule."""

from __future__ import annotations

import base64
import json

import pytest

from preflight.claims import ClaimsError
from preflight.federation import (
    GITHUB_ISSUER,
    FederatedRecord,
    azure_devops_organization,
    azure_pipelines_subject,
    ci_subject,
    github_subject,
    match_records,
    read_assertion,
)


def jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def test_read_assertion_decodes_without_verifying() -> None:
    found = read_assertion(
        jwt(
            {
                "iss": GITHUB_ISSUER,
                "sub": "repo:o/r:ref:refs/heads/main",
                "aud": "api://AzureADTokenExchange",
                "exp": 1700000300,
                "iat": 1700000000,
            }
        )
    )
    assert found.issuer == GITHUB_ISSUER and found.subject == "repo:o/r:ref:refs/heads/main"
    assert found.audiences == ("api://AzureADTokenExchange",)
    assert found.lifetime_left(1700000200) == 100
    assert read_assertion(jwt({"aud": ["a", "b", 3]})).audiences == ("a", "b")


def test_read_assertion_rejects_garbage_without_quoting_it() -> None:
    with pytest.raises(ClaimsError) as info:
        read_assertion("secret-looking-value")
    assert "secret-looking-value" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "subject"),
    [
        (
            {"GITHUB_REPOSITORY": "Contoso/AI-App", "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push"},
            "repo:Contoso/AI-App:ref:refs/heads/main",
        ),
        (
            {"GITHUB_REPOSITORY": "o/r", "GITHUB_REF": "refs/tags/v1.2", "GITHUB_EVENT_NAME": "push"},
            "repo:o/r:ref:refs/tags/v1.2",
        ),
        (
            {
                "GITHUB_REPOSITORY": "o/r",
                "GITHUB_REF": "refs/pull/7/merge",
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_HEAD_REF": "feature",
            },
            "repo:o/r:pull_request",
        ),
        # a job that references an environment presents it, whatever the event
        (
            {
                "GITHUB_REPOSITORY": "o/r",
                "GITHUB_REF": "refs/heads/main",
                "GITHUB_EVENT_NAME": "pull_request",
                "PREFLIGHT_GITHUB_ENVIRONMENT": "production",
            },
            "repo:o/r:environment:production",
        ),
    ],
)
def test_github_subjects(env: dict[str, str], subject: str) -> None:
    expected = ci_subject({"GITHUB_ACTIONS": "true", **env})
    assert expected is not None and expected.source == "github"
    assert expected.subject == subject and expected.issuer == GITHUB_ISSUER


def test_github_without_ref_cannot_compute() -> None:
    expected = github_subject({"GITHUB_REPOSITORY": "o/r"})
    assert expected.subject is None and expected.why == "GITHUB_REF is not set"


def test_azure_pipelines_subject() -> None:
    env = {
        "TF_BUILD": "True",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
        "SYSTEM_TEAMPROJECT": "AI Platform",
        "SYSTEM_COLLECTIONID": "0f0f0f0f-1111-4111-8111-111111111111",
        "PREFLIGHT_SERVICE_CONNECTION": "azure-prod",
    }
    expected = ci_subject(env)
    assert expected is not None and expected.source == "azure-pipelines"
    assert expected.subject == "sc://contoso/AI Platform/azure-prod"
    assert expected.issuer == "https://vstoken.dev.azure.com/0f0f0f0f-1111-4111-8111-111111111111"
    missing = azure_pipelines_subject({k: v for k, v in env.items() if k != "PREFLIGHT_SERVICE_CONNECTION"})
    assert missing.subject is None and "PREFLIGHT_SERVICE_CONNECTION" in (missing.why or "")
    assert azure_devops_organization("https://fabrikam.visualstudio.com/") == "fabrikam"
    assert azure_devops_organization("https://example.com/x") is None


def test_outside_ci_there_is_no_subject() -> None:
    assert ci_subject({"PATH": "/usr/bin"}) is None


RECORDS = [
    FederatedRecord("main", GITHUB_ISSUER, "repo:Contoso/AI-App:ref:refs/heads/main", ("api://AzureADTokenExchange",)),
    FederatedRecord("prod", GITHUB_ISSUER, "repo:Contoso/AI-App:environment:prod", ("api://AzureADTokenExchange",)),
]


def test_match_is_exact_and_case_sensitive() -> None:
    assert match_records(RECORDS, GITHUB_ISSUER, "repo:Contoso/AI-App:environment:prod").matched == RECORDS[1]
    near = match_records(RECORDS, GITHUB_ISSUER, "repo:contoso/ai-app:ref:refs/heads/main")
    assert not near.ok and near.closest == RECORDS[0] and "letter case" in (near.reason or "")
    other = match_records(RECORDS, GITHUB_ISSUER, "repo:Contoso/AI-App:ref:refs/heads/dev")
    assert not other.ok and "no record for subject" in (other.reason or "")


def test_match_checks_issuer_and_audience() -> None:
    issuer = match_records(RECORDS, GITHUB_ISSUER + "/", "repo:Contoso/AI-App:ref:refs/heads/main")
    assert not issuer.ok and "issuer differs" in (issuer.reason or "")
    audience = match_records(RECORDS, GITHUB_ISSUER, "repo:Contoso/AI-App:ref:refs/heads/main", ["api://other"])
    assert not audience.ok and "audience differs" in (audience.reason or "")
    assert match_records([], GITHUB_ISSUER, "x").reason == "the application has no federated credentials"
    # an unknown issuer (None) compares subjects only
    assert match_records(RECORDS, None, "repo:Contoso/AI-App:environment:prod", ()).ok
