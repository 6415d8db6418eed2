"""env.config's one-line summary reads as a sentence in both PASS cases: nothing configured, or what is."""

from __future__ import annotations

import json

import pytest

from helpers.cli import clean_env, run_cli
from helpers.scenarios import one, results, run_scenario

from preflight.twin import Twin
from preflight.twin.scenario import list_scenarios, load_scenario

APP = "11111111-2222-3333-4444-555555555555"
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _summary(extra: dict[str, str]) -> str:
    proc = run_cli(["check", "--only", "env.config", "--format", "json"], env=clean_env(extra))
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["status"] == "pass"
    summary: str = result["summary"]
    return summary


def test_an_empty_environment_says_nothing_is_configured() -> None:
    assert _summary({}) == (
        "no credential is configured by environment variables; signin.chain probes the rest "
        "of DefaultAzureCredential's chain"
    )


def test_a_service_principal_names_the_credential_it_selects() -> None:
    summary = _summary({"AZURE_CLIENT_ID": APP, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": "s3cr3t-value"})
    assert summary.startswith("environment variables configure EnvironmentCredential (client secret)")


# ---------------------------------------------------------------------------------------------- the demo is honest
# Issue 19 item 4: the twin sets only the environment its scenario describes, so env.config and signin.chain agree
# in every built-in scenario — a managed identity is reported exactly where the scenario has one.


@pytest.mark.parametrize("name", list_scenarios())
def test_env_config_reports_a_managed_identity_only_where_the_scenario_has_one(
    name: str, twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    mi = (load_scenario(name).get("signIn") or {}).get("managedIdentity")
    has_mi = mi is not None
    # An Azure VM's identity (IMDS) has no environment variable: env.config cannot see it, signin.chain finds it.
    in_environment = has_mi and mi.get("style") != "imds"
    report = run_scenario(twin_session, monkeypatch, name, only=("env.config", "signin.chain"))
    env = one(report, "env.config")
    assert ("ManagedIdentityCredential" in env.summary) is in_environment, env.summary
    links = next(e.value for e in one(report, "signin.chain").evidence if e.name == "links")
    mi = next(link for link in links if link["credential"] == "ManagedIdentityCredential")
    assert (mi["outcome"] == "ok") is has_mi, mi
    # an identity whose host the scenario describes (a VM's IMDS, App Service's hostEnvironment) is recognised:
    # no "looks like a developer machine"; without a described host that warning is the honest answer
    if mi is None or mi.get("style") == "imds" or mi.get("hostEnvironment"):
        assert not [r for r in results(report, "signin.chain") if r.subject == "managed-identity"]
