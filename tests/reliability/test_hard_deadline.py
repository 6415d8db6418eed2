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
    doc["faults"] = [
        {"match": {"service": "resource_graph"}, "status": 403},  # so ARM lists instead
        {"match": {"service": "arm", "method": "GET", "path": path}, "action": "hang", "hangMs": HANG_MS},
    ]
    return doc


def test_a_hung_listing_does_not_hold_check_or_audit(tmp_path: Path) -> None:
    runs: dict[str, tuple[subprocess.Popen[str], Path, float]] = {}
    with (
        Twin(_hung_listing(r"Microsoft\.CognitiveServices/accounts$")) as check_twin,
        Twin(_hung_listing(r"/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleAssignments$")) as audit_twin,
    ):
        check_env = check_twin.process_environment(clean_env())
        check_env.pop("PREFLIGHT_RESOURCE_ID", None)  # the endpoint is the target: it is looked up
        commands = {
            "check": (check_env, ["check", "--only", "resource.endpoint", "--timeout", "2"]),
            "audit": (audit_twin.process_environment(clean_env()), ["audit", "--all-subscriptions", "--timeout", "2"]),
        }
        for name, (env, args) in commands.items():
            report = tmp_path / f"{name}.json"
            process = subprocess.Popen(
                [preflight_exe(), *args, "--deadline", str(DEADLINE), "--format", "json", "--output", str(report)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
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


def test_request_timeouts_come_from_the_remaining_deadline(monkeypatch: Any) -> None:
    """A server that accepts and never answers: the read gives up when the run's deadline does (1.5 s here),
    not after azure-core's 300 s; and once the deadline has passed no request is sent at all."""
    import pytest
    from azure.core.exceptions import AzureError
    from azure.core.rest import HttpRequest

    from reliability.hostile import Hostile

    from preflight.azure.http import Deadline, RefusedRequest, exchange, rest_client

    with Hostile("127.0.0.2", mode="hang", hang_s=20) as hung:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(hung.ca_file))
        monkeypatch.setenv("NO_PROXY", "127.0.0.2")
        deadline = Deadline(time.monotonic() + 1.5)
        client = rest_client(hung.url, deadline=deadline, retry={"retry_total": 0})
        started = time.monotonic()
        with client, pytest.raises(AzureError):
            exchange(client, HttpRequest("GET", hung.url + "/slow"), deadline=deadline)
        assert time.monotonic() - started < 4.0
        assert len(hung.seen) == 1
        with (
            rest_client(hung.url, deadline=Deadline(time.monotonic() - 1)) as late,
            pytest.raises(RefusedRequest) as refused,
        ):
            exchange(late, HttpRequest("GET", hung.url + "/late"))
        assert refused.value.code == "DeadlinePassed" and len(hung.seen) == 1


def test_map_bounded_runs_on_daemon_threads_in_order_and_bounded() -> None:
    import threading

    import pytest

    from preflight.daemon import map_bounded

    running, peak, lock = [0], [0], threading.Lock()

    def work(n: int) -> tuple[int, bool]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return n * n, threading.current_thread().daemon

    found = map_bounded(work, list(range(12)), 3, "test")
    assert [n for n, _ in found] == [n * n for n in range(12)]
    assert all(daemon for _, daemon in found) and peak[0] <= 3

    def fails(n: int) -> int:
        if n in (2, 5):
            raise ValueError(f"boom {n}")
        return n

    with pytest.raises(ValueError, match="boom 2"):
        map_bounded(fails, list(range(8)), 4)
    assert map_bounded(fails, [], 4) == []
