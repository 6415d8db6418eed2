"""The wheel: only `preflight` at the top level, data files inside, no generic `checks`/`reports` names."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers.cli import clean_env
from helpers.wheel import build_wheel, pip

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_only_top_level_package_is_preflight(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"preflight"}


def test_checks_reports_and_data_files_are_inside_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "preflight/checks/env.py",
        "preflight/reports/json_report.py",
        "preflight/reports/table.py",
        "preflight/schemas/report-1.schema.json",
        "preflight/py.typed",
        "preflight/profiles.json",
        "preflight/provider_operations.json",
        "preflight/builtin_roles.json",
    ):
        assert expected in names
    # every data file in the source tree of a package-data folder must ship
    for folder, pattern in (
        ("preflight/twin/scenarios", "*.json"),
        ("preflight/twin/data", "*.json"),
        ("preflight/twin/data", "*.json.gz"),
    ):
        for path in (ROOT / folder).glob(pattern):
            assert f"{folder}/{path.name}" in names


def test_entry_points_and_console_script_are_declared(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = archive.read(entry_points).decode()
    assert "[console_scripts]\npreflight = preflight.cli:main" in text
    assert "env.config = preflight.checks.env:EnvConfig" in text


def test_import_checks_fails_after_install(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip("install", "--target", str(site), str(wheel))
    env = clean_env({"PYTHONPATH": str(site)})
    probe = "import preflight.checks.env, preflight.reports.table; print(preflight.checks.env.__file__)"
    ok = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(str(site))
    for generic in ("checks", "reports"):
        proc = subprocess.run(
            [sys.executable, "-c", f"import {generic}"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr
