"""tokens.scope: scopes (profile, endpoint audience, --scope), tenant / expiry / MFA verdicts against the twin,
the pure audience inference, and the canary: no token, secret, assertion or certificate in any output."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest

from helpers.cli import run_cli
from helpers.twin_fixtures import apply_environment

from preflight.azure.facts import (
    audience_for_endpoint,
    scope_from_data_plane,
    wanted_scopes,
)
from preflight.clouds import KNOWN_CLOUDS
from preflight.engine import RunOptions
from preflight.model import Report, Result, Status
from preflight.profiles import get_profile
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin
from preflight.twin.scenario import load_scenario

ARM = "https://management.azure.com/.default"
COGNITIVE = "https://cognitiveservices.azure.com/.default"
ML = "https://ml.azure.com/.default"


def _evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def _run(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, scenario: Any, *, scopes: tuple[str, ...] = (), clock: float = 0.0
) -> Report:
    twin.use(scenario)
    twin.advance_clock(clock)
    apply_environment(monkeypatch, twin.environment())
    target = build_target(dict(os.environ), extra_scopes=scopes)
    return run(CheckOptions(target, only=["tokens.scope"], engine=RunOptions(timeout=30, deadline=60)))


def _by_scope(report: Report) -> dict[str | None, Result]:
    # keyed by the scope requested (evidence); the subject names the service (issue 19)
    return {_evidence(r, "scope"): r for r in report.results if r.check_id == "tokens.scope"}


# ---------------------------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://contoso.openai.azure.com/", "cognitive"),
        ("https://contoso.cognitiveservices.azure.com/openai/deployments", "cognitive"),
        ("https://contoso.services.ai.azure.com/api/projects/proj-1", "ai"),
        ("https://contoso.services.ai.azure.com/models", "cognitive"),
        ("https://my-endpoint.eastus.inference.ml.azure.com/score", "ml"),
        ("https://contoso.openai.azure.us/", "cognitive"),
        ("https://127.0.0.1:4443/dataplane/contoso-openai/", None),
        ("https://example.com/", None),
        (None, None),
    ],
)
def test_audience_is_inferred_from_the_endpoint_host(endpoint: str | None, expected: str | None) -> None:
    assert audience_for_endpoint(endpoint) == expected


def test_wanted_scopes_profile_then_endpoint_then_extra_without_duplicates() -> None:
    cloud = KNOWN_CLOUDS["AzureCloud"]
    scopes = wanted_scopes(
        cloud,
        get_profile("openai"),
        "https://p.services.ai.azure.com/api/projects/x",
        ("https://vault.azure.net/.default", "https://cognitiveservices.azure.com/"),
    )
    assert scopes == (
        (ARM, "profile openai"),
        (COGNITIVE, "profile openai"),
        ("https://ai.azure.com/.default", "the endpoint's host"),
        ("https://vault.azure.net/.default", "--scope"),
    )


def test_a_data_plane_401_naming_its_audience_names_the_scope() -> None:
    body = {
        "error": {
            "code": "401",
            "message": "Unauthorized. Access token is missing, invalid, audience is "
            "incorrect (https://cognitiveservices.azure.com), or have expired.",
        }
    }
    assert scope_from_data_plane(401, body) == COGNITIVE
    assert scope_from_data_plane(403, {"error": {"code": "PermissionDenied", "message": "no"}}) is None


# ---------------------------------------------------------------------------------------------- twin


def test_extra_scope_gets_its_own_result(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _by_scope(_run(twin_session, monkeypatch, "healthy", scopes=(ML,)))
    assert set(found) == {ARM, COGNITIVE, ML}
    assert found[ML].status is Status.PASS and _evidence(found[ML], "requested_because") == "--scope"
    assert _evidence(found[ML], "claims")["aud"].rstrip("/") == "https://ml.azure.com"


def test_unknown_scope_is_classified(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _by_scope(_run(twin_session, monkeypatch, "healthy", scopes=("https://nothing.example/.default",)))
    result = found["https://nothing.example/.default"]
    assert result.status is Status.FAIL and _evidence(result, "aadsts") == "resource_not_found"


def test_a_token_expiring_within_five_minutes_warns(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    # the twin's clock is an hour behind: its tokens (70 min lifetime) expire in ~4 minutes by ours
    found = _by_scope(_run(twin_session, monkeypatch, "healthy", clock=-4000))
    assert found[COGNITIVE].status is Status.WARN and _evidence(found[COGNITIVE], "finding") == "token-expiring"


def test_an_already_expired_token_fails(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _by_scope(_run(twin_session, monkeypatch, "healthy", clock=-5000))
    assert found[COGNITIVE].status is Status.FAIL and _evidence(found[COGNITIVE], "finding") == "token-expired"


def test_mfa_absent_warns_where_conditional_access_is_known(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MFA policy refuses the ML scope (AADSTS50076); the Cognitive Services token was issued without MFA
    (amr pwd) — the next request may be refused too: WARN with the interactive sign-in."""
    doc = copy.deepcopy(load_scenario("mfa-required"))
    doc["tokenErrors"][0]["match"]["scope"] = ML
    found = _by_scope(_run(twin_session, monkeypatch, doc, scopes=(ML,)))
    assert found[ML].status is Status.FAIL and _evidence(found[ML], "ca_policy") == "mfa"
    assert found[COGNITIVE].status is Status.WARN and _evidence(found[COGNITIVE], "finding") == "mfa-absent"
    assert found[ARM].status is Status.PASS  # ARM is not the protected target app


def test_no_mfa_warning_without_a_conditional_access_signal(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _by_scope(_run(twin_session, monkeypatch, "healthy", scopes=(ML,)))
    assert {r.status for r in found.values()} == {Status.PASS}


# ---------------------------------------------------------------------------------------------- canary

CANARY_SECRET = "canary-S3CRET-value-0001"


def test_no_token_secret_assertion_or_certificate_in_any_output(twin_session: Twin, tmp_path: Any) -> None:
    """Environment SP with a canary secret (working), a certificate app and a workload identity in the same
    run (-v, table and JSON): nothing secret may be printed."""
    doc = copy.deepcopy(load_scenario("healthy"))
    app_id = "c4c4c4c4-0000-4000-8000-0000000000c4"
    doc["directory"]["applications"].append(
        {
            "id": "f4f4f4f4-0000-4000-8000-0000000000f4",
            "appId": app_id,
            "displayName": "canary-app",
            "passwordCredentials": [
                {
                    "keyId": "0b0b0b0b-0000-4000-8000-0000000000b0",
                    "displayName": "canary",
                    "endDateTime": "2099-01-01T00:00:00Z",
                    "x-twin-secretText": CANARY_SECRET,
                }
            ],
        }
    )
    doc["directory"]["servicePrincipals"].append(
        {
            "id": "d4d4d4d4-0000-4000-8000-0000000000d4",
            "appId": app_id,
            "displayName": "canary-app",
            "servicePrincipalType": "Application",
            "accountEnabled": True,
        }
    )
    doc["signIn"]["environment"] = {"clientId": app_id, "tenantId": doc["tenant"]["id"], "clientSecret": CANARY_SECRET}
    twin_session.use(doc)
    env = twin_session.process_environment()
    env.update({"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"})
    out_file = tmp_path / "report.json"
    done = run_cli(
        ["check", "-v", "--debug", "--only", "signin.*", "--only", "tokens.*", "--output", str(out_file)],
        env=env,
        cwd=tmp_path,
    )
    written = out_file.read_text(encoding="utf-8")
    text = done.stdout + done.stderr + written
    assert "EnvironmentCredential" in text and "tokens.scope" in text  # the run really happened
    assert CANARY_SECRET not in text
    assert "eyJ" not in text  # no JWT (access token, assertion, id token) in any form
    assert "BEGIN " not in text and "PRIVATE KEY" not in text  # no certificate or key
    report = json.loads(written)
    assert report["results"], "the JSON report has results"


def test_a_claims_challenge_is_recognised_in_www_authenticate() -> None:
    from preflight.azure.facts import claims_challenge

    header = (
        'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        'error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="'
    )
    assert claims_challenge(header) == "eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="
    assert claims_challenge('Bearer authorization_uri="https://x/", error="invalid_token"') is None
    assert claims_challenge("") is None


def test_conditional_access_hint_names_the_family_and_the_action() -> None:
    from preflight.remedies import conditional_access_hint

    hint = conditional_access_hint("sign_in_frequency", tenant="t1", scope="s")
    assert hint is not None and "sign-in frequency" in hint and "az login --tenant t1" in hint
    assert "service principal or managed identity" in hint
    device = conditional_access_hint("device", tenant="t1", scope="s")
    assert device is not None and "compliant" in device
    challenge = conditional_access_hint(None, tenant="t1", scope="s", suberror="basic_action")
    assert challenge is not None and "suberror basic_action" in challenge
    assert conditional_access_hint(None, tenant="t1", scope="s") is None


@pytest.mark.parametrize("sign_in", ["certificate", "workload-identity-refused"])
def test_no_certificate_or_assertion_in_rendered_reports(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, sign_in: str
) -> None:
    """In-process (cheap): a certificate service principal, and a workload identity whose federated assertion
    Entra refuses (the error path quotes the most); the verbose table and the JSON report stay clean."""
    from pathlib import Path

    from helpers.twin_fixtures import IDS, WI_ISSUER, WI_SUBJECT, core_scenario

    from preflight.reports import RenderOptions, get
    from preflight.twin.entra import aadsts_body

    doc = core_scenario(signIn={"managedIdentity": None, "azureCli": {"loggedIn": False}})
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    if sign_in == "certificate":
        doc["signIn"]["environment"] = {"clientId": IDS["cert_app"], "tenantId": IDS["tenant"], "certificate": True}
    else:
        doc["signIn"]["workloadIdentity"] = {
            "clientId": IDS["wi_app"],
            "tenantId": IDS["tenant"],
            "issuer": WI_ISSUER,
            "subject": WI_SUBJECT,
        }
        twin_session.use(doc)
        doc["tokenErrors"] = [
            {
                "match": {"clientId": IDS["wi_app"]},
                "status": 400,
                "body": aadsts_body(
                    twin_session.server, None, 700213, "invalid_client", "No matching federated identity record found."
                ),
            }
        ]
    twin_session.use(doc)
    env = twin_session.environment()
    apply_environment(monkeypatch, env)
    report = run(
        CheckOptions(
            build_target(dict(os.environ)), only=["signin.*", "tokens.*"], engine=RunOptions(timeout=30, deadline=60)
        )
    )
    assert any(r.check_id == "signin.chain" for r in report.results)
    text = "\n".join(get(name).render(report, RenderOptions(verbose=True)) for name in ("table", "json"))
    secrets = [
        Path(env[v]).read_text(encoding="utf-8")
        for v in ("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE")
        if v in env
    ]
    assert secrets, "the scenario configured a certificate or an assertion"
    for secret in secrets:
        for line in secret.splitlines():
            if len(line) > 20:
                assert line not in text
    assert "eyJ" not in text and "BEGIN " not in text
