"""Report files are ordinary files: written atomically, yet with the permissions any other file the user writes
would get (0666 minus the umask) — not the private 0600 of the temporary file they are renamed from, which
would keep a CI artefact or a served page unreadable to everyone but the writer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helpers.cli import run_cli


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
