"""env.config's one-line summary reads as a sentence in both PASS cases: nothing configured, or what is."""

from __future__ import annotations

import json

from helpers.cli import clean_env, run_cli

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
