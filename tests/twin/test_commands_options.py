"""The options of `preflight twin serve` / `twin exec` from the console script: `--port`, `--latency-ms` (added
to every request, on top of the scenario's faults) and `--request-log FILE` (JSON lines with time, method, path,
query, service, principal, status, duration)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers.cli import clean_env, preflight_exe, run_cli

pytestmark = pytest.mark.slow
LOG_FIELDS = {"time", "method", "path", "query", "service", "principal", "status", "duration_ms"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_port_latency_and_request_log(tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "serve.jsonl"
    proc = subprocess.Popen(
        [
            preflight_exe(),
            "twin",
            "serve",
            "--scenario",
            "healthy",
            "--port",
            str(port),
            "--latency-ms",
            "150",
            "--request-log",
            str(log),
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exported: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "REQUESTS_CA_BUNDLE" not in exported:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if line.startswith("export "):
                key, _, value = line[7:].strip().partition("=")
                exported[key] = value.strip("'")
        assert exported["AZURE_AUTHORITY_HOST"] == f"https://127.0.0.1:{port}"
        answer = requests.get(exported["ARM_CLOUD_METADATA_URL"], verify=exported["REQUESTS_CA_BUNDLE"], timeout=10)
        assert answer.status_code == 200 and answer.json()["resourceManager"] == f"https://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert LOG_FIELDS <= set(entry)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/metadata/endpoints", 200)
    assert entry["query"] == {"api-version": "2022-09-01"}
    assert entry["duration_ms"] >= 150  # the added latency is part of the request's time


def test_exec_latency_and_request_log(tmp_path: Path) -> None:
    log = tmp_path / "exec.jsonl"
    probe = (
        "import os, requests; r = requests.get(os.environ['ARM_CLOUD_METADATA_URL'], timeout=10); print(r.status_code)"
    )
    proc = run_cli(
        [
            "twin",
            "exec",
            "--scenario",
            "healthy",
            "--latency-ms",
            "120",
            "--request-log",
            str(log),
            "--",
            sys.executable,
            "-c",
            probe,
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "200"  # the child trusted the twin's CA through the environment exec set
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert LOG_FIELDS <= set(entry) and entry["path"] == "/metadata/endpoints"
    assert entry["duration_ms"] >= 120


def test_cloud_metadata_url_option_wins_over_the_environment(twin_session: Any) -> None:
    """`preflight check --cloud-metadata-url URL` learns every endpoint from that document (the twin is just
    another cloud); the flag wins over ARM_CLOUD_METADATA_URL, here pointing at a closed port."""
    twin_session.use("healthy")
    url = twin_session.environment()["ARM_CLOUD_METADATA_URL"]
    env = twin_session.process_environment(clean_env())
    env["ARM_CLOUD_METADATA_URL"] = "https://127.0.0.1:9/metadata/endpoints?api-version=2022-09-01"
    proc = run_cli(["check", "--cloud-metadata-url", url, "--format", "json"], env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    statuses = {r["check_id"]: r["status"] for r in json.loads(proc.stdout)["results"]}
    assert statuses["signin.chain"] == "pass" and statuses["rbac.data-action"] == "pass"
    metadata = [e for e in twin_session.requests() if e.path == "/metadata/endpoints"]
    assert metadata and all(e.status == 200 for e in metadata)


@pytest.mark.parametrize(("extra", "status"), [([], "warn"), (["--expiry-days", "5"], "pass")])
def test_expiry_days_option_moves_the_credential_threshold(extra: list[str], status: str) -> None:
    """principal.credentials from the command line: the secret in use ends in about 10 days — WARN at the
    default 30-day threshold, PASS with --expiry-days 5."""
    proc = run_cli(
        [
            "twin",
            "exec",
            "--scenario",
            "principal-secret-expiring",
            "--",
            preflight_exe(),
            "check",
            "--only",
            "principal.credentials",
            "--format",
            "json",
            *extra,
        ]
    )
    assert proc.returncode in (0, 1), proc.stderr
    found = [r for r in json.loads(proc.stdout)["results"] if r["check_id"] == "principal.credentials"]
    assert [r["status"] for r in found if r["subject"] == "secrets and certificates"] == [status]
