"""Build this project's wheel from a copy of the source tree (never from the working tree itself, whose build/
and egg-info would leak in): what a user's ``pip install .`` installs, for the packaging and fresh-install tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers.cli import clean_env

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(work: Path) -> Path:
    """The wheel built from a clean copy of the tree under ``work``; returns its path."""
    source = work / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "venv", ".pytest_cache"
        ),
    )
    out = work / "out"
    pip("wheel", "--no-build-isolation", "-w", str(out), str(source))
    (built,) = out.glob("azure_preflight-*.whl")
    return built


def pip(command: str, *args: str) -> None:
    """``pip COMMAND --quiet --no-deps --disable-pip-version-check ARGS`` with this interpreter, offline from the
    project's point of view (no dependency is fetched), in a clean environment; raises when pip fails."""
    subprocess.run(
        [sys.executable, "-m", "pip", command, "--quiet", "--no-deps", "--disable-pip-version-check", *args],
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
