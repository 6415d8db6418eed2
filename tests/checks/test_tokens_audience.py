"""tokens.scope FAILs on a token whose audience is not the scope's, through the real stack: the twin's token
endpoint is made to answer (a scenario fault) with a well-formed token for another audience — what a
misconfigured proxy or a confused token cache hands back — and azure-identity passes it on unread, as it does.
Only preflight decodes the claims, and it must refuse to call that token good."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import pytest

from helpers.twin_fixtures import IDS, apply_environment, core_scenario

from preflight.engine import RunOptions
from preflight.model import Result, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

COGNITIVE = "https://cognitiveservices.azure.com/.default"
WRONG = "https://vault.azure.net"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def test_a_token_for_another_audience_fails(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    claims = {
        "aud": WRONG,
        "iss": f"https://sts.windows.net/{IDS['tenant']}/",
        "tid": IDS["tenant"],
        "oid": IDS["secret_sp"],
        "appid": IDS["secret_app"],
        "idtyp": "app",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "ver": "1.0",
    }
    token = f"{_b64({'typ': 'JWT', 'alg': 'RS256'})}.{_b64(claims)}.c2lnbmF0dXJl"
    doc = core_scenario(
        signIn={
            "managedIdentity": None,
            "azureCli": {"loggedIn": False},
            "environment": {
                "clientId": IDS["secret_app"],
                "tenantId": IDS["tenant"],
                "clientSecret": "twin-secret-value~0",
            },
        }
    )
    doc["target"] = {"tenantId": IDS["tenant"]}
    doc["faults"] = [
        {
            "match": {"service": "entra", "method": "POST", "path": "/oauth2/v2.0/token"},
            "status": 200,
            "body": {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token},
        }
    ]
    twin_session.use(doc)
    apply_environment(monkeypatch, twin_session.environment())
    report = run(
        CheckOptions(build_target(dict(os.environ)), only=["tokens.*"], engine=RunOptions(timeout=30, deadline=60))
    )
    found = {
        _evidence(r, "scope"): r
        for r in report.results
        if r.check_id == "tokens.scope" and r.subject != "claims-challenge"
    }
    cognitive = found[COGNITIVE]
    assert cognitive.status is Status.FAIL, cognitive
    assert _evidence(cognitive, "finding") == "audience-mismatch"
    assert WRONG in cognitive.summary
    assert cognitive.remediation is not None and f"--scope {COGNITIVE}" in cognitive.remediation.text
    assert token not in repr(report)  # the token itself never reaches the report


def test_each_scope_result_carries_the_claims_that_matter(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """aud, tid, oid, idtyp, amr, scp (a user's delegated token) and the expiry, decoded — never the token."""
    twin_session.use("healthy")
    apply_environment(monkeypatch, twin_session.environment())
    report = run(
        CheckOptions(build_target(dict(os.environ)), only=["tokens.*"], engine=RunOptions(timeout=30, deadline=60))
    )
    found = {
        _evidence(r, "scope"): r
        for r in report.results
        if r.check_id == "tokens.scope" and r.subject != "claims-challenge"
    }
    claims = _evidence(found[COGNITIVE], "claims")
    assert {"aud", "tid", "oid", "idtyp", "amr", "scp", "exp"} <= set(claims)
    assert claims["idtyp"] == "user" and claims["oid"] == "a11ce000-0000-4000-8000-00000000a11c"
    assert "access_token" not in claims and "signature" not in json.dumps(claims)


def test_an_arm_claims_challenge_is_named(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """ARM answers the subscription read with 401 + WWW-Authenticate error="insufficient_claims" (a Conditional
    Access / CAE claims challenge): tokens.scope says so and that only an interactive sign-in can satisfy it."""
    from helpers import rbac_scenarios as sc

    doc = sc.builtin("healthy")
    www = (
        'Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        'error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="'
    )
    doc["faults"] = [
        {
            "match": {"service": "arm", "method": "GET", "path": f"^/subscriptions/{sc.SUB}$"},
            "status": 401,
            "headers": {"WWW-Authenticate": www},
            "body": {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "The access token requires additional claims.",
                }
            },
        }
    ]
    twin_session.use(doc)
    apply_environment(monkeypatch, twin_session.environment())
    report = run(
        CheckOptions(build_target(dict(os.environ)), only=["tokens.*"], engine=RunOptions(timeout=30, deadline=60))
    )
    challenge = next(r for r in report.results if r.check_id == "tokens.scope" and r.subject == "claims-challenge")
    assert challenge.status is Status.WARN and "insufficient_claims" in challenge.summary
    assert challenge.remediation is not None and "interactive sign-in" in challenge.remediation.text
