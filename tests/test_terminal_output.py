"""What a person at a real terminal sees (a pseudo-terminal here): the table in colour with status symbols, plain
with ``NO_COLOR`` or ``--no-color`` even on a terminal, and the live progress line kept to one row of the
terminal's width so that redrawing it never leaves stale rows behind."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import termios
import time

from helpers.cli import clean_env, preflight_exe

from preflight.model import CheckMeta, Severity, Status
from preflight.progress import TerminalProgress
from preflight.twin import Twin

REDRAW = "\r\033[K"
COLOUR = re.compile(r"\033\[[0-9;]*m")


def run_on_a_terminal(args: list[str], env: dict[str, str], columns: int = 200) -> tuple[int, str]:
    """Run ``preflight`` with stdin, stdout and stderr on one pseudo-terminal of ``columns`` columns; return the
    exit code and everything the terminal received."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    try:
        proc = subprocess.Popen([preflight_exe(), *args], stdin=slave, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        chunks: list[bytes] = []
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal and everything was read
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def report_part(terminal: str) -> str:
    """The report itself: what follows the last progress redraw (progress goes to the same terminal here)."""
    return terminal.rsplit(REDRAW, 1)[-1]


def test_the_table_is_coloured_on_a_terminal() -> None:
    code, terminal = run_on_a_terminal(["check", "--only", "env.config"], clean_env())
    assert code == 0
    report = report_part(terminal)
    assert "\033[32m✔ PASS" in report, report  # green, with its symbol
    assert COLOUR.search(report.splitlines()[-1]), "the summary line is coloured by the worst status"


def test_no_color_and_the_flag_give_plain_text_even_on_a_terminal() -> None:
    for args, extra in (
        (["check", "--only", "env.config"], {"NO_COLOR": "1"}),
        (["check", "--only", "env.config", "--no-color"], {}),
    ):
        code, terminal = run_on_a_terminal(args, clean_env(extra))
        assert code == 0
        report = report_part(terminal)
        assert "env.config" in report
        assert not COLOUR.search(report) and "✔" not in report, (args, extra, report)
        assert "  PASS  env.config  " in report


def _meta(check_id: str) -> CheckMeta:
    return CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)


def test_the_progress_line_is_cut_to_the_terminal_width() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream, total=12, width=40)
    metas = [_meta(f"area.a-long-check-name-{n}") for n in range(12)]
    for meta in metas:
        progress.started(meta)
    progress.finished(metas[0], [])
    progress.close()
    drawn = [segment.split("\n")[-1] for segment in stream.getvalue().split(REDRAW)]
    assert max(len(line) for line in drawn) <= 39
    assert "[0/12] running: area.a-long-check-name…" in drawn
    assert "  done area.a-long-check-name-0 ()\n" in stream.getvalue()  # finished lines are whole


def test_a_real_run_keeps_its_progress_on_one_row_of_a_narrow_terminal(twin: Twin) -> None:
    twin.use("healthy")
    env = twin.process_environment(clean_env())
    columns = 60
    code, terminal = run_on_a_terminal(["check", "--no-color"], env, columns=columns)
    assert code == 0, terminal
    progress, _, _ = terminal.rpartition(REDRAW)
    lines = [segment.split("\r\n")[-1] for segment in progress.split(REDRAW)]
    running = [line for line in lines if "running: " in line]
    assert len(running) > 3 and any(", " in line for line in running), "several checks ran at once"
    assert max(len(line) for line in running) < columns, max(running, key=len)
    assert any(line.endswith("…") for line in running), "a long list of running checks is cut, not wrapped"
    assert "done rbac.data-action (PASS)" in progress
    assert Status.PASS.value.upper() in report_part(terminal)
