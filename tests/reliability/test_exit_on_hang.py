"""A token endpoint that accepts and never answers: ``preflight check`` writes its report by the deadline AND the
process exits then (issue 10). The chain's probes used to run in a ThreadPoolExecutor, whose non-daemon threads
the interpreter joins at exit: with ``--deadline 4`` the process exited after 127 s (azure-core reads for up to
300 s and retries). Now they are daemon threads (preflight.daemon)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from helpers.cli import clean_env, run_cli

from preflight.twin import Twin
from preflight.twin.scenario import builtin_scenario_text

HANG_MS = 20_000
DEADLINE = 4.0
SLACK = 6.0  # interpreter start, imports and writing the report on a loaded 2-core machine


def _hung(path: str, service: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(builtin_scenario_text("principal-secret-expiring"))
    doc["faults"] = [{"match": {"service": service, "path": path}, "action": "hang", "hangMs": HANG_MS}]
    return doc


def test_a_hung_token_endpoint_does_not_hold_the_process(twin: Twin, tmp_path: Path) -> None:
    twin.use(_hung("oauth2", "entra"))
    report = tmp_path / "report.json"
    started = time.monotonic()
    result = run_cli(
        ["check", "--timeout", "2", "--deadline", str(DEADLINE), "--format", "json", "--output", str(report)],
        env=twin.process_environment(clean_env()),
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + SLACK, f"exited after {elapsed:.1f} s (deadline {DEADLINE} s): {result.stderr[-400:]}"
    assert result.returncode == 1, result.stderr[-400:]
    chain = next(r for r in json.loads(report.read_text("utf-8"))["results"] if r["check_id"] == "signin.chain")
    assert chain["status"] == "error" and "timed out" in chain["summary"], chain["summary"]
    # the hang really held sign-in: no token was issued (a hung request is logged only when its hang ends)
    assert not [e for e in twin.requests() if e.service == "entra" and e.path.endswith("/token") and e.status == 200]
