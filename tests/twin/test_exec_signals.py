"""`twin exec` and `demo` ended by a signal (issue 17 item 6): a CI job cancelled (SIGTERM) or a terminal closed
(SIGHUP) must still stop the twin and delete its temp dir, which holds the twin's TLS server key — in a real
process, with a real signal, as a supervisor sends it.

The command under the twin writes where the twin's files are and then sleeps; the test signals the `twin exec`
process (not the command) and checks what is left: the exit code a shell gives a signalled command, no temp dir,
no listening port, no command still running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from helpers.cli import preflight_exe

# The command run under the twin: report the twin's temp dir and port, then wait to be ended. `exec sleep` keeps
# one process to signal; the trap variant ignores SIGTERM, so the twin must kill it after its grace period.
COOPERATIVE = (
    'echo "$REQUESTS_CA_BUNDLE $AZURE_AUTHORITY_HOST $$" > "$READY.tmp" && mv "$READY.tmp" "$READY" && exec sleep 60'
)
STUBBORN = 'trap "" TERM HUP; echo "$REQUESTS_CA_BUNDLE $AZURE_AUTHORITY_HOST $$" > "$READY.tmp"; mv "$READY.tmp" "$READY"; exec sleep 60'


def _start(tmp_path: Path, script: str) -> tuple[subprocess.Popen[bytes], Path, int, int]:
    """`twin exec` running ``script``; once it is up: (process, the twin's temp dir, its port, the command's pid)."""
    ready = tmp_path / "ready"
    env = {**os.environ, "READY": str(ready), "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [preflight_exe(), "twin", "exec", "--scenario", "healthy", "--", "sh", "-c", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        assert time.monotonic() < deadline, "the twin did not start within 60 s"
        time.sleep(0.05)
    bundle, authority, pid = ready.read_text().split()
    workdir = Path(bundle).parent
    assert workdir.name.startswith("preflight-twin-") and (workdir / "twin-server.key").exists()
    return proc, workdir, int(authority.rsplit(":", 1)[1]), int(pid)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped by its parent) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_twin_exec_cleans_up_on_a_terminating_signal(tmp_path: Path, signum: signal.Signals) -> None:
    proc, workdir, port, child = _start(tmp_path, COOPERATIVE)
    assert _listening(port)
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 128 + signum  # what a shell reports for a command ended by the signal
    assert not workdir.exists(), sorted(p.name for p in workdir.iterdir())
    assert not _listening(port)
    assert not _alive(child)  # the command got the signal too and ended
    assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")


@pytest.mark.slow
def test_a_command_that_ignores_the_signal_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    from preflight.twin.commands import CHILD_GRACE_SECONDS

    proc, workdir, port, child = _start(tmp_path, STUBBORN)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert CHILD_GRACE_SECONDS - 0.5 <= time.monotonic() - started < CHILD_GRACE_SECONDS + 10
    assert not workdir.exists()
    assert not _listening(port)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:  # killed; its reaping by init may take a moment
        time.sleep(0.05)
    assert not _alive(child)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_twin_serve_stops_cleanly_on_a_terminating_signal(signum: signal.Signals) -> None:
    """`twin serve` in a terminal that closes (SIGHUP) stops as it does on SIGTERM: exit 0, nothing left."""
    env = {**os.environ, "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [preflight_exe(), "twin", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    exports: dict[str, str] = {}
    while "REQUESTS_CA_BUNDLE" not in exports or "AZURE_AUTHORITY_HOST" not in exports:
        line = proc.stdout.readline()
        assert line, "twin serve ended before printing its environment"
        if line.startswith("export "):
            key, _, value = line[len("export ") :].strip().partition("=")
            exports[key] = value
    workdir = Path(exports["REQUESTS_CA_BUNDLE"]).parent
    port = int(exports["AZURE_AUTHORITY_HOST"].rsplit(":", 1)[1])
    assert workdir.exists() and _listening(port)
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 0
    assert not workdir.exists()
    assert not _listening(port)
