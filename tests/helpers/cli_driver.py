"""Run many ``preflight`` command lines in ONE child interpreter, each with its own environment, stdout and
stderr files — the bytes separate processes would write, without paying the ~1 s import cost per command.

The child calls ``preflight.cli.main(argv)`` (the console script's function) with ``os.environ`` replaced and
file descriptors 1 and 2 pointed at per-command files with ``dup2``, so everything reaches the files: click's
output, the ``-v`` logging handler (which holds ``sys.stderr`` from the first command), and the ``az`` shim
subprocesses azure-identity starts. Used where the ``-v`` logs of many runs must be captured (the secret-hygiene
sweep); tests that check process-level behaviour (exit on signals, startup) still use helpers.cli.run_cli.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

_CHILD = r"""
import json, os, sys, traceback
proto = os.fdopen(os.dup(1), "w")
saved = (os.dup(1), os.dup(2))
from preflight.cli import main
for line in sys.stdin:
    job = json.loads(line)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    with open(job["stdout"], "wb") as out, open(job["stderr"], "wb") as err:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
        try:
            code = main(job["argv"])
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os.dup2(saved[0], 1); os.dup2(saved[1], 2)
    proto.write(json.dumps({"code": code}) + "\n")
    proto.flush()
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One command's exit code and what it wrote to stdout and stderr."""

    code: int
    stdout: str
    stderr: str


class CliDriver:
    """A child interpreter running ``preflight`` command lines one after another (a context manager)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _CHILD],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._count = 0

    def run(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> Outcome:
        self._count += 1
        out, err = cwd / f".cli-{self._count}.stdout", cwd / f".cli-{self._count}.stderr"
        job = {"argv": list(argv), "env": dict(env), "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
        stdin: IO[str] = self._proc.stdin  # type: ignore[assignment]
        stdin.write(json.dumps(job) + "\n")
        stdin.flush()
        line = self._proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"the CLI driver died running {argv}")
        answer: dict[str, Any] = json.loads(line)
        outcome = Outcome(int(answer["code"]), out.read_bytes().decode("latin-1"), err.read_bytes().decode("latin-1"))
        out.unlink()
        err.unlink()
        return outcome

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
