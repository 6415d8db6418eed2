"""Run the installed ``preflight`` console script in a subprocess with a controlled environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Prefixes of variables that would change what azure-identity does; removed so tests start from a clean slate.
IDENTITY_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_", "ARM_", "PREFLIGHT_")
# Managed identity pointed at a closed loopback port: nothing may ever reach the link-local IMDS address.
CLOSED_PORT_MI = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(IDENTITY_PREFIXES)}
    for ci_var in ("CI", "TF_BUILD", "GITHUB_ACTIONS"):
        env.pop(ci_var, None)
    env.update(CLOSED_PORT_MI)
    env.update(extra or {})
    return env


def preflight_exe() -> str:
    """The console script next to the running interpreter (the venv under test)."""
    candidate = Path(sys.executable).with_name("preflight")
    return str(candidate) if candidate.exists() else (shutil.which("preflight") or "preflight")


def run_cli(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [preflight_exe(), *args],
        env=dict(env) if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli_reader_gone(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the console script with stdout a pipe nobody reads any more, as under ``preflight … | head -0``.

    The pipe's reading end is closed before the process starts, so its first write to stdout fails with EPIPE
    (Python ignores SIGPIPE) whatever the timing; the result's ``stdout`` is None, ``stderr`` is captured.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [preflight_exe(), *args],
            env=dict(env) if env is not None else clean_env(),
            cwd=cwd,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    finally:
        os.close(write_end)
