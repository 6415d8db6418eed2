"""The package type-checks with mypy, in the layout it installs as.

``checks/`` and ``reports/`` install as ``preflight.checks`` / ``preflight.reports`` (a package-dir mapping), which
mypy cannot follow from the source tree, nor through an editable install. So the test assembles that layout in a
temporary directory — exactly what lands in site-packages — and runs mypy there with the project's own settings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_layout_type_checks(tmp_path: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "preflight", tmp_path / "preflight", ignore=ignore)
    shutil.copytree(ROOT / "checks", tmp_path / "preflight" / "checks", ignore=ignore)
    shutil.copytree(ROOT / "reports", tmp_path / "preflight" / "reports", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")  # [tool.mypy] settings
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mypy_cache"),
                           "--no-error-summary", "-p", "preflight"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
