"""access.probe (--probe) against the twin: the data plane's one generic 401 text ("missing, invalid, audience is
incorrect (…), or have expired") is told apart by the token's own claims — a token for the right audience from
another tenant is a TENANT problem, not an audience one."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.scenarios import one, run_scenario

from preflight.model import Result, Status
from preflight.twin import Twin

TENANT = "11111111-1111-4111-8111-111111111111"
FABRIKAM = "99999999-9999-4999-8999-999999999999"
ONLY = ["access.probe"]


def _evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def test_a_token_from_another_tenant_is_named_as_a_tenant_problem(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = one(run_scenario(twin_session, monkeypatch, "wrong-tenant", only=ONLY), "access.probe")
    assert probe.status is Status.FAIL
    assert _evidence(probe, "status") == 401
    assert _evidence(probe, "verdict") == "tenant"
    assert f"issued by tenant {FABRIKAM}" in probe.summary and f"the account is in tenant {TENANT}" in probe.summary
    assert probe.remediation is not None and f"az login --tenant {TENANT}" in probe.remediation.text
    assert "request the token for" not in probe.remediation.text  # the audience was right


def test_the_healthy_token_is_accepted(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = one(run_scenario(twin_session, monkeypatch, "healthy", only=ONLY), "access.probe")
    assert probe.status is Status.PASS and _evidence(probe, "verdict") == "ok"


@pytest.mark.parametrize(
    ("scenario", "verdict"),
    [
        ("no-custom-subdomain", "custom_subdomain"),
        ("network-blocked", "network"),
        ("owner-without-data-role", "permission_denied"),
    ],
)
def test_refusals_are_classified_by_cause(
    scenario: str, verdict: str, twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = one(run_scenario(twin_session, monkeypatch, scenario, only=ONLY), "access.probe")
    assert probe.status is Status.FAIL and _evidence(probe, "verdict") == verdict
    if verdict == "permission_denied":
        assert _evidence(probe, "missing_action") == "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"


def test_the_generic_401_is_read_from_the_token_claims() -> None:
    """No request: a target without subscription or tenant, so only the token's own claims decide."""
    import time

    from preflight.checks.access import _generic_401_cause
    from preflight.context import Context
    from preflight.target import build_target

    ctx = Context(build_target({}))
    aud = "https://cognitiveservices.azure.com"
    expired = _generic_401_cause(ctx, {"aud": aud + "/", "tid": TENANT, "exp": time.time() - 60}, aud)
    assert expired is not None and expired[0] == "expired" and "az login" in expired[2]
    assert _generic_401_cause(ctx, {"aud": "https://management.azure.com", "exp": time.time() - 60}, aud) is None
    assert _generic_401_cause(ctx, {"aud": aud, "tid": TENANT, "exp": time.time() + 600}, aud) is None


@pytest.mark.parametrize(
    ("scenario", "cause", "fix", "not_in_fix"),
    [
        # a deny assignment blocks the data action although the role is held: assigning a role fixes nothing
        ("deny-assignment", "rbac.deny", "only its owner can change it", "assign a role"),
        # no role grants it: the fix is rbac.data-action's role assignment, told there once
        ("owner-without-data-role", "rbac.data-action", "assign a role granting the data action", "deny"),
    ],
)
def test_a_refusal_the_role_evaluation_predicted_points_at_its_cause(
    scenario: str, cause: str, fix: str, not_in_fix: str, twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = one(run_scenario(twin_session, monkeypatch, scenario, only=ONLY), "access.probe")
    assert probe.status is Status.FAIL and _evidence(probe, "verdict") == "permission_denied"
    assert probe.caused_by == cause
    assert probe.remediation is not None and fix in probe.remediation.text
    assert not_in_fix not in probe.remediation.text


def test_a_workspace_has_nothing_to_probe_and_blames_nothing(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Azure ML workspace's requirements are actions: the probe does not apply, and resource.endpoint (which
    passes) is not named as a cause."""
    probe = one(run_scenario(twin_session, monkeypatch, "ml-data-scientist", only=ONLY), "access.probe")
    assert probe.status is Status.SKIP and probe.caused_by is None
    assert "Azure Machine Learning workspace" in probe.summary and "account" not in probe.summary
