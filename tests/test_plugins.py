"""The plug-in path: a separately installed distribution's checks are discovered, listed and run exactly
like the built-ins, with crash isolation and redaction applied to them too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import clean_env, run_cli

SECRET = "plugin-visible-secret-9f3a"

pytestmark = pytest.mark.slow


def env_with(plugin_path: Path, **extra: str) -> dict[str, str]:
    return clean_env({"PYTHONPATH": str(plugin_path), **extra})


def test_plugin_checks_are_listed_with_their_distribution(plugin_path: Path) -> None:
    proc = run_cli(["list-checks", "--format", "json"], env=env_with(plugin_path))
    assert proc.returncode == 0, proc.stderr
    checks = {c["id"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["example.hello"]["distribution"] == "example-preflight-plugin"
    assert checks["env.config"]["distribution"] == "azure-preflight"
    table = run_cli(["list-checks"], env=env_with(plugin_path)).stdout
    assert "example.hello" in table and "(example-preflight-plugin)" in table


def test_plugin_checks_run_and_a_crashing_one_is_isolated(plugin_path: Path) -> None:
    proc = run_cli(
        ["check", "--format", "json", "--only", "example.*", "--skip", "example.leaky"], env=env_with(plugin_path)
    )
    assert proc.returncode == 1  # the crash is an ERROR, which gates like a FAIL
    assert "Traceback" not in proc.stderr + proc.stdout
    results = {r["check_id"]: r for r in json.loads(proc.stdout)["results"]}
    assert results["example.hello"]["status"] == "pass"
    assert results["example.crash"]["status"] == "error"
    assert results["example.crash"]["summary"] == "check crashed: ZeroDivisionError: plug-in bug"


def test_a_secret_echoed_by_a_careless_plugin_is_redacted(plugin_path: Path) -> None:
    proc = run_cli(
        ["check", "--format", "json", "--only", "example.leaky"], env=env_with(plugin_path, AZURE_CLIENT_SECRET=SECRET)
    )
    assert SECRET not in proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["summary"] == "the secret is ***"
    assert result["remediation"]["commands"] == ["az login --service-principal -p ***"]


def test_a_duplicate_check_id_from_another_distribution_is_a_loud_error(tmp_path: Path) -> None:
    # An installed distribution is, to importlib.metadata, a dist-info directory on sys.path.
    dist_info = tmp_path / "rogue_checks-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rogue-checks\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[preflight.checks]\nenv.config = rogue:EnvConfig\n")
    proc = run_cli(["list-checks"], env=env_with(tmp_path))
    assert proc.returncode == 2
    assert "check id 'env.config' is registered twice" in proc.stderr
    assert "azure-preflight" in proc.stderr and "rogue-checks" in proc.stderr
