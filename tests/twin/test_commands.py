"""`preflight twin …` and `preflight demo` from the installed console script, as a newcomer would run them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from helpers.cli import clean_env, preflight_exe, run_cli

SCHEMA = json.loads((Path(__file__).parents[2] / "preflight" / "schemas" / "report-1.schema.json").read_text())
pytestmark = pytest.mark.slow


def test_scenarios_lists_every_builtin_and_dumps_one() -> None:
    proc = run_cli(["twin", "scenarios"])
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    for expected in (
        "healthy",
        "owner-without-data-role",
        "no-custom-subdomain",
        "sp-expired-secret",
        "sp-missing",
        "mfa-required",
        "ca-blocked",
        "wrong-tenant",
        "propagation-pending",
        "deny-assignment",
        "group-assignment",
        "network-blocked",
        "throttled",
        "no-credentials",
    ):
        assert expected in names
    dumped = run_cli(["twin", "scenarios", "--dump", "healthy"])
    assert json.loads(dumped.stdout)["name"] == "healthy"


def test_unknown_scenario_is_a_clear_error() -> None:
    proc = run_cli(["demo", "--scenario", "no-such-scenario"])
    assert proc.returncode == 2
    assert "no-such-scenario" in proc.stderr and "Traceback" not in proc.stderr


def test_exec_runs_a_full_check_against_the_scenario(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    proc = run_cli(
        [
            "twin",
            "exec",
            "--scenario",
            "healthy",
            "--request-log",
            str(log),
            "--",
            preflight_exe(),
            "check",
            "--format",
            "json",
        ]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    statuses = {(r["check_id"], r["subject"]): r["status"] for r in document["results"]}
    assert statuses[("signin.chain", None)] == "pass"
    assert (
        statuses[
            ("rbac.data-action", "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
        ]
        == "pass"
    )
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries, "the request log is empty"
    # read-only: nothing but GETs, token requests and read-only queries
    # (Graph's JSON batch carries only GETs; getByIds is a read)
    graph_reads = ("/v1.0/$batch", "/v1.0/directoryObjects/getByIds")
    for entry in entries:
        assert (
            entry["method"] == "GET"
            or entry["service"] in ("entra", "twin", "resource_graph")
            or (entry["service"] == "graph" and entry["path"] in graph_reads)
        ), entry


def test_exec_with_named_hosts_reaches_each_service_by_its_name(tmp_path: Path) -> None:
    """`--named-hosts`: the product finds ARM, Graph, Entra and the data plane at their own names through the
    twin's proxy (the request log records the Host each request was sent to)."""
    log = tmp_path / "requests.jsonl"
    proc = run_cli(
        [
            *("twin", "exec", "--named-hosts", "--scenario", "ci-sp-data-role", "--request-log", str(log)),
            *("--", preflight_exe(), "check", "--probe"),
        ]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "https://contoso-openai.openai.twin.test/" in proc.stdout
    hosts = {(entry["host"], entry["service"]) for entry in map(json.loads, log.read_text().splitlines())}
    for expected in (
        ("login.twin.test", "entra"),
        ("management.twin.test", "arm"),
        ("graph.twin.test", "graph"),
        ("contoso-openai.openai.twin.test", "data_plane"),
    ):
        assert expected in hosts, hosts
    assert {service for host, service in hosts if host == "127.0.0.1"} <= {"twin", "managed_identity"}


def test_exec_passes_the_exit_code_through() -> None:
    proc = run_cli(["twin", "exec", "--scenario", "owner-without-data-role", "--", preflight_exe(), "check"])
    assert proc.returncode == 1
    assert "az role assignment create" in proc.stdout


def test_demo_shows_a_full_report_with_no_azure_account() -> None:
    proc = run_cli(["demo", "--scenario", "owner-without-data-role"])
    assert proc.returncode == 1
    assert "scenario 'owner-without-data-role'" in proc.stderr
    for check_id in ("signin.chain", "tokens.scope", "resource.endpoint", "rbac.data-action"):
        assert check_id in proc.stdout
    assert "Cognitive Services OpenAI User" in proc.stdout


def test_demo_passes_check_options_through_without_a_double_dash() -> None:
    """`preflight demo --scenario X --probe -v` is how people try it: options demo does not know are check's."""
    proc = run_cli(["demo", "--scenario", "healthy", "--probe", "-v", "--only", "access.probe", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    [probe] = json.loads(proc.stdout)["results"]
    assert probe["check_id"] == "access.probe" and probe["status"] == "pass"
    refused = run_cli(["demo", "--scenario", "healthy", "--no-such-option"])
    assert refused.returncode == 2 and "No such option '--no-such-option'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_serve_prints_the_environment_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [preflight_exe(), "twin", "serve", "--scenario", "healthy"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("export REQUESTS_CA_BUNDLE="):
                break
        exported = {ln.split("=", 1)[0][7:] for ln in lines if ln.startswith("export ")}
        assert {"ARM_CLOUD_METADATA_URL", "AZURE_AUTHORITY_HOST", "REQUESTS_CA_BUNDLE"} <= exported
        # managed identity always points at the twin, never at the link-local IMDS address
        assert exported & {"IDENTITY_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST"}
        assert not any("169.254.169.254" in ln for ln in lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize("scenario", ["sp-expired-secret", "healthy"])
def test_no_secret_or_token_in_any_output(scenario: str, tmp_path: Path) -> None:
    dumped = json.loads(run_cli(["twin", "scenarios", "--dump", scenario]).stdout)
    secrets = [
        c["x-twin-secretText"]
        for app in dumped.get("directory", {}).get("applications", [])
        for c in app.get("passwordCredentials", [])
        if c.get("x-twin-secretText")
    ]
    env_secret = ((dumped.get("signIn") or {}).get("environment") or {}).get("clientSecret")
    secrets += [env_secret] if env_secret else []
    out = tmp_path / "report.json"
    proc = run_cli(
        [
            "twin",
            "exec",
            "--scenario",
            scenario,
            "--",
            preflight_exe(),
            "check",
            "-v",
            "--debug",  # the SDKs' logs too: the most likely place for a token to leak
            "--format",
            "json",
            "--output",
            str(out),
        ]
    )
    assert proc.returncode in (0, 1), proc.stderr
    texts = (proc.stdout, proc.stderr, out.read_text())
    for text in texts:
        assert "eyJ" not in text  # no JWT (access token, assertion) in any output
        for secret in secrets:
            assert secret not in text
    if scenario == "sp-expired-secret":
        assert secrets, "the scenario should carry a canary secret"
