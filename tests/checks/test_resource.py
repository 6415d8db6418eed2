"""resource.endpoint against the twin: custom subdomain, the configured endpoint, local auth, network rules
(named as network, not RBAC), Azure ML workspaces."""

from __future__ import annotations

import os

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import one, run_scenario
from helpers.twin_fixtures import apply_environment

from preflight.model import Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

ONLY = ["resource.endpoint"]


def test_healthy_account(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "healthy", only=ONLY)
    assert one(report, "resource.endpoint").status is Status.PASS
    assert one(report, "resource.endpoint", "local-auth").status is Status.PASS
    assert not [r for r in report.results if r.subject == "network"]


def test_no_custom_subdomain_fails_with_the_command(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "no-custom-subdomain", only=ONLY)
    result = one(report, "resource.endpoint")
    assert result.status is Status.FAIL and "refuses Entra ID tokens" in result.summary
    assert result.remediation is not None
    assert "--custom-domain" in result.remediation.commands[0]


def test_network_blocked_is_named_as_network_not_rbac(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "network-blocked", only=[*ONLY, "rbac.data-action"])
    network = one(report, "resource.endpoint", "network")
    assert network.status is Status.WARN and "firewall denies by default" in network.summary
    assert network.remediation is not None and "not RBAC" in network.remediation.text
    # the role is right: RBAC passes, so the two are not confused
    assert {r.status for r in report.results if r.check_id == "rbac.data-action"} == {Status.PASS}


def test_keys_still_enabled_and_public_access_disabled(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.builtin("healthy")
    account = doc["resources"][0]["properties"]
    account["disableLocalAuth"] = False
    account["publicNetworkAccess"] = "Disabled"
    report = run_scenario(twin_session, monkeypatch, doc, only=ONLY)
    keys = one(report, "resource.endpoint", "local-auth")
    assert keys.status is Status.WARN and "keys are still enabled" in keys.summary
    network = one(report, "resource.endpoint", "network")
    assert network.status is Status.WARN and "public network access is disabled" in network.summary


def test_configured_endpoint_that_is_not_the_accounts(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin_session.use("healthy")
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso-old.openai.azure.com/")
    report = run(CheckOptions(build_target(dict(os.environ)), only=ONLY))  # --resource-id wins as the target
    result = one(report, "resource.endpoint")
    assert result.status is Status.WARN and "is not one of contoso-openai's endpoints" in result.summary


def test_workspace_with_public_access_disabled(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sc.ml_workspace()
    doc["resources"][-1]["properties"]["publicNetworkAccess"] = "Disabled"
    twin_session.use(doc)
    env = twin_session.environment()
    env["PREFLIGHT_RESOURCE_ID"] = sc.WORKSPACE
    apply_environment(monkeypatch, env)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    report = run(CheckOptions(build_target(dict(os.environ)), only=ONLY))
    assert one(report, "resource.endpoint").status is Status.PASS
    network = one(report, "resource.endpoint", "network")
    assert network.status is Status.WARN and "not RBAC" in network.summary
