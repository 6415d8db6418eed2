"""Live progress: shown on a real terminal (a pseudo-terminal here), never in CI or when redirected."""

from __future__ import annotations

import os
import subprocess

from helpers.cli import clean_env, preflight_exe


def run_with_tty_stderr(env: dict[str, str]) -> tuple[int, str, str]:
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [preflight_exe(), "check", "--only", "env.config"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            timeout=60,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the slave side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.returncode, proc.stdout, b"".join(chunks).decode()


def test_progress_is_drawn_on_a_terminal() -> None:
    code, stdout, tty = run_with_tty_stderr(clean_env())
    assert code == 0
    assert "[0/1] running: env.config" in tty
    assert "done env.config (PASS)" in tty
    assert "running:" not in stdout  # progress never pollutes the report


def test_no_progress_in_ci_even_on_a_terminal() -> None:
    code, _, tty = run_with_tty_stderr(clean_env({"CI": "true"}))
    assert code == 0
    assert "running:" not in tty
