"""Issue 4's acceptance, literally: `preflight twin exec --scenario healthy -- preflight check --format json` and
`preflight demo` work from a fresh install with no Azure account and no network.

Fresh install: the wheel built from this tree, installed (``--no-deps --no-index``) into a new virtual environment
whose only other packages are the runtime dependencies (linked from the test venv, without this project's editable
install). No Azure account: an empty HOME (no ``~/.azure``), no identity variables. No network: every process runs
under the test DNS guard (tests/helpers/no_dns.py), which answers only loopback names and records any other name
asked for — the test asserts none was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from helpers.cli import clean_env
from helpers.no_dns import subprocess_environment
from helpers.wheel import build_wheel

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the built wheel installed; returns its bin directory."""
    work = tmp_path_factory.mktemp("fresh")
    wheel = build_wheel(work)
    # The runtime dependencies, without this project (its dist-info and editable finder would shadow the wheel).
    deps = work / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith(("azure_preflight", "__editable__", "_preflight")) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "runtime-deps.pth").write_text(str(deps) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    return venv / "bin"


def _env(bin_dir: Path, home: Path, dns_log: Path) -> dict[str, str]:
    env = clean_env({"HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"})
    env.pop("AZURE_CONFIG_DIR", None)
    return subprocess_environment(env, dns_log)


def test_the_wheel_is_what_runs(fresh: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(fresh / "python"), "-c", "import preflight; print(preflight.__file__)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(fresh.parent)), where  # not the source tree, not the editable install


def test_twin_exec_check_json_from_a_fresh_install(fresh: Path, tmp_path: Path) -> None:
    home, dns_log = tmp_path / "home", tmp_path / "dns.log"
    home.mkdir()
    proc = subprocess.run(
        [
            str(fresh / "preflight"),
            "twin",
            "exec",
            "--scenario",
            "healthy",
            "--",
            str(fresh / "preflight"),
            "check",
            "--format",
            "json",
        ],
        env=_env(fresh, home, dns_log),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=home,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    statuses = {r["check_id"]: r["status"] for r in report["results"]}
    assert statuses["signin.chain"] == "pass" and statuses["rbac.data-action"] == "pass"
    assert not dns_log.exists() or dns_log.read_text() == "", "a non-loopback name was looked up"
    assert not (home / ".azure").exists()


def test_demo_from_a_fresh_install(fresh: Path, tmp_path: Path) -> None:
    home, dns_log = tmp_path / "home", tmp_path / "dns.log"
    home.mkdir()
    proc = subprocess.run(
        [str(fresh / "preflight"), "demo"],
        env=_env(fresh, home, dns_log),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=home,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "scenario 'healthy'" in proc.stderr and "nothing leaves this machine" in proc.stderr
    for check_id in ("signin.chain", "tokens.scope", "resource.endpoint", "rbac.data-action"):
        assert check_id in proc.stdout
    assert not dns_log.exists() or dns_log.read_text() == "", "a non-loopback name was looked up"
