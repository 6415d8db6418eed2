"""Report files are ordinary files: written atomically, yet with the permissions any other file the user writes
would get (0666 minus the umask) — not the private 0600 of the temporary file they are renamed from, which
would keep a CI artefact or a served page unreadable to everyone but the writer.

And only ordinary files (issue 17 item 5): the atomic rename would replace a device node, a FIFO, a socket or a
symlink with a regular file, so such a path is refused (exit 2, one line) before the run; ``-`` is stdout; a
reader that closes stdout early costs neither the files nor the exit code."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.audit_scenarios import audit_scenario
from helpers.cli import clean_env, run_cli, run_cli_reader_gone

from preflight.twin import Twin


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_report_files_get_the_mode_the_umask_gives(tmp_path: Path, umask: int) -> None:
    outputs = [tmp_path / "out" / name for name in ("report.json", "report.html", "results.sarif")]
    previous = os.umask(umask)  # inherited by the child process
    try:
        proc = run_cli(["check", "--only", "env.config", *(arg for p in outputs for arg in ("--output", str(p)))])
    finally:
        os.umask(previous)
    assert proc.returncode == 0, proc.stderr
    for path in outputs:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in outputs)


# --- issue 17 item 5: an --output path that is not a regular file is refused, never replaced ----------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink(path: Path) -> None:
    (path.parent / "target.json").write_text("{}")
    path.symlink_to(path.parent / "target.json")


def _dangling_symlink(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.json")


def _directory(path: Path) -> None:
    path.mkdir()


def _char_device(path: Path) -> None:
    """A node of the null device (1, 3) made inside tmp_path: never a real /dev path, which the code under test
    (before the fix, as root) would replace."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("cannot create a device node here (no CAP_MKNOD)")


def _socket(path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
    except OSError:  # a tmp path longer than sun_path allows
        pytest.skip("tmp path too long for a unix socket")
    finally:
        listener.close()  # the socket file stays


SPECIAL: dict[str, tuple[Callable[[Path], None], Callable[[int], bool], str]] = {
    "fifo": (_fifo, stat.S_ISFIFO, "a named pipe (FIFO)"),
    "symlink": (_symlink, stat.S_ISLNK, "a symbolic link"),
    "dangling-symlink": (_dangling_symlink, stat.S_ISLNK, "a symbolic link"),
    "directory": (_directory, stat.S_ISDIR, "a directory"),
    "char-device": (_char_device, stat.S_ISCHR, "a character device"),
    "socket": (_socket, stat.S_ISSOCK, "a socket"),
}


def _refused(proc: subprocess.CompletedProcess[str], path: Path, kind: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    problem = [line for line in proc.stderr.splitlines() if line.startswith("preflight: error:")]
    assert len(problem) == 1 and repr(str(path)) in problem[0] and kind in problem[0], proc.stderr


@pytest.mark.parametrize("special", list(SPECIAL))
def test_check_refuses_an_output_that_is_not_a_regular_file_before_the_run(
    twin: Twin, tmp_path: Path, special: str
) -> None:
    make, still, kind = SPECIAL[special]
    path = tmp_path / "report.json"
    make(path)
    twin.clear_log()  # the session twin's log holds earlier tests' requests: count only this run's
    proc = run_cli(
        ["check", "--output", str(tmp_path / "ok.json"), "--output", str(path)],
        env=twin.process_environment(clean_env()),
        cwd=tmp_path,
    )
    _refused(proc, path, kind)
    assert still(path.lstat().st_mode), f"{special} was replaced"
    assert twin.requests() == [], "the run started: the refusal must come before any network call"
    assert not (tmp_path / "ok.json").exists()
    if special == "symlink":
        assert (tmp_path / "target.json").read_text() == "{}"


def test_audit_refuses_a_fifo_output_before_the_run(twin_session: Twin, tmp_path: Path) -> None:
    twin_session.use(audit_scenario())
    path = tmp_path / "audit.json"
    os.mkfifo(path)
    twin_session.clear_log()  # the session twin's log holds earlier tests' requests: count only this run's
    proc = run_cli(
        ["audit", "--all-subscriptions", "--output", str(path)],
        env=twin_session.process_environment(clean_env()),
        cwd=tmp_path,
    )
    _refused(proc, path, "a named pipe (FIFO)")
    assert stat.S_ISFIFO(path.lstat().st_mode)
    assert twin_session.requests() == []


def test_dash_is_stdout_not_a_file_named_dash(twin: Twin, tmp_path: Path) -> None:
    """``--output -`` is stdout, which carries the --format rendering: printed once, no file called ``-``."""
    proc = run_cli(
        ["check", "--only", "env.config", "--format", "json", "--output", "-"],
        env=twin.process_environment(clean_env()),
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["schema"]  # one JSON document, not two concatenated
    assert list(tmp_path.iterdir()) == []


# --- a reader that goes away (`preflight … | head -0`) costs neither the files nor the exit code ----------------


def test_check_with_stdout_closed_still_writes_the_files_and_keeps_the_exit_code(twin: Twin, tmp_path: Path) -> None:
    env = twin.process_environment(clean_env())
    args = ["check", "--only", "env.config", "--output", str(tmp_path / "r.json"), "--output", str(tmp_path / "r.html")]
    gone = run_cli_reader_gone(args, env=env, cwd=tmp_path)
    read = run_cli(["check", "--only", "env.config"], env=env, cwd=tmp_path)
    assert gone.returncode == read.returncode and read.returncode in (0, 1), (gone.returncode, gone.stderr)
    assert gone.stderr == ""  # no traceback, no "Exception ignored … BrokenPipeError"
    assert json.loads((tmp_path / "r.json").read_text())["schema"]
    assert "</html>" in (tmp_path / "r.html").read_text()


def test_audit_with_stdout_closed_still_writes_the_files(twin_session: Twin, tmp_path: Path) -> None:
    twin_session.use(audit_scenario())
    out = tmp_path / "audit.json"
    proc = run_cli_reader_gone(
        ["audit", "--all-subscriptions", "--format", "csv", "--output", str(out)],
        env=twin_session.process_environment(clean_env()),
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # privileged findings FAIL, as with stdout read
    assert proc.stderr == ""
    assert len(json.loads(out.read_text())["tables"]["assignments"]) == 10


@pytest.mark.parametrize(
    "args",
    [
        ["whoami"],
        ["whoami", "--format", "json"],
        ["can-i", "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"],
        [
            "can-i",
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
            "--format",
            "json",
        ],
    ],
    ids=["whoami", "whoami-json", "can-i", "can-i-json"],
)
def test_answers_with_stdout_closed_keep_the_exit_code(args: list[str], twin_session: Twin, tmp_path: Path) -> None:
    """``can-i`` and ``whoami`` print through the same shell as the reports: a reader that goes away changes
    neither their exit code (the answer's) nor stderr (no traceback, no click exit 1)."""
    twin_session.use("healthy")
    env = twin_session.process_environment(clean_env())
    read = run_cli(args, env=env, cwd=tmp_path)
    assert read.returncode == 0 and read.stdout, read.stderr  # healthy: signed in, allowed
    gone = run_cli_reader_gone(args, env=env, cwd=tmp_path)
    assert (gone.returncode, gone.stderr) == (0, "")
