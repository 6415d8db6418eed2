"""The deadline bounds the process, not just the report (issue 17 item 2): with one ARM listing that accepts and
never answers, ``preflight check`` and ``preflight audit`` exit within ``--deadline`` + 2 s of their report.

Before: the ARM fallback of the endpoint lookup (``azure/arm.py``) and the audit's per-scope listings
(``audit/collect.py``) ran in ``ThreadPoolExecutor``s, whose non-daemon threads the interpreter joins at exit,
and azure-core waited up to 300 s per read (then retried): the report was written at the deadline, the process
exited after 152 s (``check``) / 123 s (``audit``) — here, when the 30 s hang ended. Now those pools are daemon
threads (preflight.daemon.map_bounded) and every request's timeouts come from the run's deadline.

Both commands run at once (each with its own twin), so the file costs one CLI run.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from helpers import rbac_scenarios as sc
from helpers.cli import clean_env, preflight_exe

from preflight.twin import Twin

HANG_MS = 30_000
DEADLINE = 4.0
AFTER_REPORT = 2.0  # the bound: exit within this of the report being written (at the deadline)
STARTUP = 8.0  # interpreter start and imports on a loaded 2-core machine, before the deadline's clock runs


def _hung_listing(path: str) -> dict[str, Any]:
    doc = sc.builtin("healthy")
    doc["faults"] = [{"match": {"service": "resource_graph"}, "status": 403},  # so ARM lists instead
                     {"match": {"service": "arm", "method": "GET", "path": path}, "action": "hang",
                      "hangMs": HANG_MS}]
    return doc


def test_a_hung_listing_does_not_hold_check_or_audit(tmp_path: Path) -> None:
    runs: dict[str, tuple[subprocess.Popen[str], Path, float]] = {}
    with Twin(_hung_listing(r"Microsoft\.CognitiveServices/accounts$")) as check_twin, \
            Twin(_hung_listing(r"/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleAssignments$")) \
            as audit_twin:
        check_env = check_twin.process_environment(clean_env())
        check_env.pop("PREFLIGHT_RESOURCE_ID", None)  # the endpoint is the target: it is looked up
        commands = {
            "check": (check_env, ["check", "--only", "resource.endpoint", "--timeout", "2"]),
            "audit": (audit_twin.process_environment(clean_env()), ["audit", "--all-subscriptions",
                                                                    "--timeout", "2"]),
        }
        for name, (env, args) in commands.items():
            report = tmp_path / f"{name}.json"
            process = subprocess.Popen([preflight_exe(), *args, "--deadline", str(DEADLINE), "--format", "json",
                                        "--output", str(report)], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
            runs[name] = (process, report, time.monotonic())
        for name, (process, report, started) in runs.items():
            try:
                _, stderr = process.communicate(timeout=HANG_MS / 1000 + 60)
            finally:
                process.kill()
            ended = time.time()
            elapsed = time.monotonic() - started
            assert report.exists(), f"{name}: no report ({stderr[-300:]})"
            late = ended - report.stat().st_mtime
            assert late < AFTER_REPORT + 0.5, f"{name}: exited {late:.1f} s after writing its report"
            assert elapsed < DEADLINE + AFTER_REPORT + STARTUP, f"{name}: exited after {elapsed:.1f} s"
            summaries = [r["summary"] for r in json.loads(report.read_text("utf-8"))["results"]]
            assert any("timed out" in s or "deadline" in s for s in summaries), (name, summaries)  # the hang held
