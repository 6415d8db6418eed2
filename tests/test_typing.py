"""The installed package type-checks with ``mypy --strict`` (pyproject's ``[tool.mypy]``): preflight, and
``checks/`` / ``reports/`` as the ``preflight.checks`` / ``preflight.reports`` they install as.

mypy runs in a subprocess from an empty directory, so it finds ``preflight`` where Python does — site-packages
(CI installs the wheel's layout with ``pip install .``), or the link tree of a strict editable install — and never
the source tree, where ``checks/`` and ``reports/`` sit outside ``preflight/``. A lenient editable install maps
them with an import hook mypy cannot follow: then the test assembles the installed layout in a temporary
directory and points ``MYPYPATH`` at it. The cache lives under the test's tmp directory (≈5 s cold on 2 cores).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import preflight

ROOT = Path(__file__).resolve().parents[1]


def _installed_layout_or_none() -> Path | None:
    """The directory holding the installed ``preflight`` when checks and reports sit inside it."""
    package = Path(preflight.__file__).parent
    inside = all((package / sub / "__init__.py").is_file() for sub in ("checks", "reports"))
    return package.parent if inside else None


def _assembled_layout(into: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "preflight", into / "preflight", ignore=ignore)
    # (with the source tree's links preflight/checks, preflight/reports the first copy already holds them)
    shutil.copytree(ROOT / "checks", into / "preflight" / "checks", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(ROOT / "reports", into / "preflight" / "reports", ignore=ignore, dirs_exist_ok=True)
    return into


def test_the_installed_package_type_checks_strictly(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    if _installed_layout_or_none() is None:
        env["MYPYPATH"] = str(_assembled_layout(tmp_path / "layout"))
    work = tmp_path / "cwd"
    work.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--linecount-report",
            str(tmp_path),
            "-p",
            "preflight",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # checks/ and reports/ were checked as the modules they install as
    checked = {line.split()[-1] for line in (tmp_path / "linecount.txt").read_text().splitlines()[1:]}
    assert {"preflight.cli", "preflight.checks.rbac", "preflight.reports.table"} <= checked


def test_the_strict_settings_are_the_projects() -> None:
    import tomllib

    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert settings["strict"] is True and settings["packages"] == ["preflight"]
