"""Every built-in twin scenario through the real checks, real azure-identity and azure-mgmt clients."""

from __future__ import annotations

import pytest

from helpers.scenarios import one, results, run_scenario

from preflight.model import Status
from preflight.reports.first_screen import first_screen
from preflight.twin import Twin

OPENAI_USER_ROLE = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
ARM_SCOPE = "https://management.azure.com/.default"
COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"


def test_healthy_everything_that_matters_passes(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "healthy")
    chain = one(report, "signin.chain")
    assert chain.status is Status.PASS, chain
    assert chain.summary.startswith("DefaultAzureCredential uses AzureCliCredential")
    identity = one(report, "signin.identity")
    assert identity.status is Status.PASS and "user" in identity.summary
    for scope in (ARM_SCOPE, COGNITIVE_SCOPE):
        assert one(report, "tokens.scope", scope).status is Status.PASS
    assert one(report, "resource.endpoint").status is Status.PASS
    for result in results(report, "rbac.data-action"):
        assert result.status is Status.PASS, result
        assert "Cognitive Services OpenAI User" in result.summary
    assert report.worst() in (Status.PASS, Status.WARN)


def test_owner_without_data_role_fails_with_the_least_privilege_fix(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, "owner-without-data-role")
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL
    assert "Owner" in chat.summary and "grant no data actions" in chat.summary
    (command,) = chat.remediation.commands  # type: ignore[union-attr]
    assert command.startswith("az role assignment create --assignee-object-id ")
    assert f"--role {OPENAI_USER_ROLE}" in command
    assert "--assignee-principal-type User" in command
    assert command.endswith("/providers/Microsoft.CognitiveServices/accounts/contoso-openai")
    # ARM reads work: the resource and tokens are fine, the problem is only the data role.
    assert one(report, "resource.endpoint").status is Status.PASS
    assert one(report, "tokens.scope", COGNITIVE_SCOPE).status is Status.PASS


def test_group_assignment_passes_via_the_group(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "group-assignment")
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.PASS
    assert "via group" in chat.summary


def test_deny_assignment_fails_naming_it(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "deny-assignment")
    chat = one(report, "rbac.data-action", CHAT)
    assert chat.status is Status.FAIL
    assert "deny assignment blocks" in chat.summary


def test_no_custom_subdomain_fails_with_the_update_command(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "no-custom-subdomain")
    endpoint = one(report, "resource.endpoint")
    assert endpoint.status is Status.FAIL
    assert "no custom subdomain" in endpoint.summary
    assert endpoint.remediation is not None
    assert endpoint.remediation.commands[0].startswith("az cognitiveservices account update")


def test_no_custom_subdomain_is_one_cause_for_the_account_and_the_app(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's regional endpoint fails because the account has no subdomain: told once, under resource.endpoint
    (before, the first screen gave two fix steps for the one cause)."""
    report = run_scenario(twin_session, monkeypatch, "no-custom-subdomain", only=["signin.*", "resource.*", "app.*"])
    app = one(report, "app.endpoint")
    assert app.status is Status.FAIL and app.caused_by == "resource.endpoint"
    screen = first_screen(report)
    assert screen is not None and [step.cause for step in screen.steps] == ["resource.endpoint"]


def test_network_blocked_is_named_as_a_network_problem(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "network-blocked")
    network = one(report, "resource.endpoint", "network")
    assert network.status is Status.WARN
    assert "firewall" in network.summary or "public network access" in network.summary


def test_expired_secret_stops_the_chain_and_dependants_skip(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, "sp-expired-secret")
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL
    assert "EnvironmentCredential" in chain.summary and "AADSTS7000222" in chain.summary
    for check_id in ("tokens.scope", "signin.identity", "rbac.data-action"):
        for result in results(report, check_id):
            assert result.status is Status.SKIP, result
            assert result.caused_by == "signin.chain"


def test_missing_app_is_classified(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = one(run_scenario(twin_session, monkeypatch, "sp-missing"), "signin.chain")
    assert chain.status is Status.FAIL and "AADSTS700016" in chain.summary


def test_no_credentials_says_so_and_how_to_sign_in(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "no-credentials")
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL
    assert chain.summary.startswith("no credential is available")
    assert chain.remediation is not None and chain.remediation.commands[0].startswith("az login")
    links = next(e.value for e in chain.evidence if e.name == "links")
    assert {link["outcome"] for link in links if link["in_chain"]} == {"unavailable"}
    # the browser link is not part of the chain without --interactive, and is reported as excluded
    assert [link["outcome"] for link in links if not link["in_chain"]] == ["excluded"]


def test_mfa_required_fails_only_the_cognitive_scope(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "mfa-required")
    assert one(report, "tokens.scope", ARM_SCOPE).status is Status.PASS
    cognitive = one(report, "tokens.scope", COGNITIVE_SCOPE)
    assert cognitive.status is Status.FAIL
    assert "AADSTS50076" in cognitive.summary


def test_ca_blocked_is_classified(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "ca-blocked")
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL and "AADSTS53003" in chain.summary


def test_wrong_tenant_is_flagged_before_anything_else_fails(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_scenario(twin_session, monkeypatch, "wrong-tenant")
    assert one(report, "signin.identity").status is Status.WARN
    arm = one(report, "tokens.scope", ARM_SCOPE)
    assert arm.status is Status.FAIL and "tenant" in arm.summary.lower()


def test_throttled_arm_still_gives_the_right_verdicts(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "throttled")
    assert one(report, "resource.endpoint").status is Status.PASS
    assert all(r.status is Status.PASS for r in results(report, "rbac.data-action"))
    statuses = [e.status for e in twin_session.requests() if e.service == "arm"]
    assert 429 in statuses  # the SDK retried through the throttling
