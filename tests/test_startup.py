"""Start-up cost: --help, --version and list-checks must not import the Azure SDKs (≈1.5 s cold)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("azure", "msal", "requests", "jinja2", "cryptography")

PROBE = (
    "import sys\n"
    "from preflight.cli import main\n"
    "code = main({args!r})\n"
    "heavy = sorted(n for n in sys.modules if n.split('.')[0] in {heavy!r})\n"
    "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["list-checks"], ["check", "--help"]])
def test_fast_commands_import_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    # cwd outside the repository so the installed package is measured, not the source tree.
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    heavy_line = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY=")]
    assert heavy_line == ["HEAVY="], proc.stderr
