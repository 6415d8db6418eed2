"""The package type-checks with mypy, in the layout it installs as.

``checks/`` and ``reports/`` install as ``preflight.checks`` / ``preflight.reports`` (a package-dir mapping; the
source tree mirrors it with the links ``preflight/checks`` and ``preflight/reports``). The test assembles that
layout in a temporary directory — exactly what lands in site-packages, the links copied as the folders they point
at — and runs mypy there with the project's own settings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_layout_type_checks(tmp_path: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "preflight", tmp_path / "preflight", ignore=ignore)  # checks/ and reports/ via the links
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")  # [tool.mypy] settings
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mypy_cache"),
                           "--no-error-summary", "-p", "preflight"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
