"""Ctrl-C during ``preflight check`` (issue 10): stops within a second, says which checks had finished, writes
no report (and leaves no temporary file), exits 130.

A real subprocess against the twin, with every ARM answer delayed so the run is still busy when SIGINT
arrives. The process is started directly (not through ``twin exec``) so the signal reaches ``preflight``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from helpers.cli import preflight_exe

from preflight.twin import Twin
from preflight.twin.log import LogEntry
from preflight.twin.scenario import builtin_scenario_text

ARM_DELAY_MS = 5000


def _as_from_a_terminal() -> None:
    """Run in the child before it starts: SIGINT back to its default. A shell starts a background job (``pytest
    &``) with SIGINT ignored, children inherit that, and Python then installs no KeyboardInterrupt handler — the
    test would see the run finish instead of stop. A terminal's Ctrl-C always reaches a process that has it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _slow_arm_scenario() -> dict[str, object]:
    doc = json.loads(builtin_scenario_text("healthy"))
    doc["name"] = "interrupt-slow-arm"
    doc["faults"] = [
        {
            "match": {"service": "arm", "path": "/subscriptions/.*"},
            "latencyMs": ARM_DELAY_MS,
            "description": "keep the run busy so Ctrl-C lands mid-run",
        }
    ]
    return doc


def _interrupt_once(
    proc: subprocess.Popen[str], twin: Twin, seen: Callable[[LogEntry], bool], what: str, settle: float
) -> tuple[str, str, float]:
    """Once the twin has logged a request ``seen`` accepts (plus ``settle`` seconds), send SIGINT; returns
    stdout, stderr and the seconds the process took to stop."""
    try:
        give_up = time.monotonic() + 30
        while not any(seen(e) for e in twin.requests()):
            assert proc.poll() is None, f"preflight ended before it {what}: {proc.communicate()}"
            assert time.monotonic() < give_up, f"preflight never {what}"
            time.sleep(0.02)
        time.sleep(settle)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        return out, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_sigint_stops_quickly_lists_finished_checks_and_writes_nothing(twin_session: Twin, tmp_path: Path) -> None:
    twin_session.use(_slow_arm_scenario())
    report = tmp_path / "R.json"
    proc = subprocess.Popen(
        [preflight_exe(), "check", "--format", "json", "--output", str(report)],
        env=twin_session.process_environment(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )
    # Wait until the run is really under way: Graph has answered (sign-in checks are finishing) and the delayed
    # ARM calls are in flight. (The twin logs a request when it answers, so ARM cannot be awaited.)
    out, err, latency = _interrupt_once(proc, twin_session, lambda e: e.service == "graph", "called Graph", 0.3)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert latency < 1.5, f"took {latency:.2f} s to stop after SIGINT"
    assert "Traceback" not in err, err
    assert "interrupted" in err and "no report written" in err, err
    # env.config needs no network: it has finished by the time ARM is called, and is listed with its status.
    assert any(line.strip().startswith("env.config: ") for line in err.splitlines()), err
    assert not report.exists()
    assert list(tmp_path.iterdir()) == [], f"left behind: {list(tmp_path.iterdir())}"
    assert out == "", out  # nothing rendered on stdout either


def test_sigint_during_the_wait_pause_lists_the_last_attempt(twin_session: Twin, tmp_path: Path) -> None:
    """--wait sleeps between attempts; Ctrl-C there still says what the last attempt found, exit 130."""
    twin_session.use("owner-without-data-role")  # rbac.data-action FAILs: --wait keeps trying
    report = tmp_path / "R.json"
    proc = subprocess.Popen(
        [preflight_exe(), "check", "--only", "rbac.data-action", "--wait", "60s", "--output", str(report)],
        env=twin_session.process_environment(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )
    # the role assignments have been read once: the first attempt is over and the 15 s pause has begun
    out, err, latency = _interrupt_once(
        proc, twin_session, lambda e: "roleAssignments" in e.path, "read the role assignments", 1.0
    )
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert latency < 1.5 and "Traceback" not in err, err
    assert "interrupted during the pause after --wait attempt 1: 1 check(s) had finished" in err, err
    assert "  rbac.data-action: FAIL" in err.splitlines(), err
    assert not report.exists() and list(tmp_path.iterdir()) == []
