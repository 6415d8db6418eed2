"""The layers are a test: the import contracts of pyproject's ``[tool.importlinter]`` hold, and cover every module.

docs/architecture.md draws the layers. import-linter checks the contracts against the INSTALLED package (where
checks/ and reports/ are preflight.checks / preflight.reports); the tests below keep the contracts complete, so
a new module cannot slip past them by being listed nowhere.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import sys
import tomllib
from pathlib import Path
from typing import Any

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
# Packages whose own __init__ holds nothing and whose modules sit in different layers.
CONTAINERS = frozenset({"preflight", "preflight.audit"})


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _layers() -> list[list[str]]:
    return [[name.strip() for name in re.split(r"[|:]", layer)] for layer in _contracts()["layers"]["layers"]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("preflight")


def _covers(owner: str, module: str) -> bool:
    return module == owner or module.startswith(owner + ".")


@pytest.mark.twin  # runs lint-imports in a process
def test_the_import_contracts_hold(tmp_path: Path) -> None:
    import subprocess

    # Any directory but the checkout: lint-imports puts its working directory first on sys.path, and must find
    # the installed package, not the source tree.
    lint = Path(sys.executable).with_name("lint-imports")
    command = [
        str(lint) if lint.exists() else (shutil.which("lint-imports") or "lint-imports"),
        str(CONFIG),
        "--no-cache",
        "--no-logo",
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_every_module_is_in_a_layer(graph: grimp.ImportGraph) -> None:
    owners = [name for layer in _layers() for name in layer]
    unplaced = sorted(m for m in graph.modules if m not in CONTAINERS and not any(_covers(o, m) for o in owners))
    assert not unplaced, f"add these modules to a layer of pyproject's layers contract: {unplaced}"


def test_the_containers_import_nothing(graph: grimp.ImportGraph) -> None:
    """The packages left out of the layers (their modules are placed one by one) must stay empty shells."""
    for container in CONTAINERS:
        assert graph.find_modules_directly_imported_by(container) == set(), container


def test_the_pure_and_engine_layers_are_exactly_the_no_azure_contract() -> None:
    *_, engine, pure = _layers()
    assert sorted(_contracts()["no-azure-below-facts"]["source_modules"]) == sorted(engine + pure)


def test_renderers_are_forbidden_everything_but_the_model(graph: grimp.ImportGraph) -> None:
    allowed = {"preflight.model", "preflight.errors", "preflight.reports"}
    forbidden = set(_contracts()["reports-see-the-model"]["forbidden_modules"])
    missing = sorted(graph.find_children("preflight") - allowed - forbidden)
    assert not missing, f"add to the reports contract's forbidden_modules: {missing}"


def test_only_the_twin_commands_name_the_twin() -> None:
    """The product never imports the twin; the one exception is the ``twin`` / ``demo`` commands, which live in
    preflight.twin.commands and which the CLI loads lazily BY NAME — invisible to import-linter, so checked here:
    no module outside the twin names any other part of it."""
    import preflight

    package = Path(preflight.__file__).parent
    twin = package / "twin"
    named: list[str] = []
    for path in package.rglob("*.py"):
        if path.is_relative_to(twin):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"preflight\.twin(\.\w+)*", node.value)
            ):
                named.append(f"{path.relative_to(package.parent)}: {node.value}")
    assert named, "the twin/demo commands are no longer registered by name: update this test and the contract"
    assert all(entry.endswith(": preflight.twin.commands") for entry in named), named


def test_the_source_tree_mirrors_the_installed_layout() -> None:
    """preflight/checks and preflight/reports in a checkout are links to checks/ and reports/, so the source
    tree's preflight/ is the package as installed: ``python -m pytest``, mypy and lint-imports run from the
    repository root see preflight.checks and preflight.reports (see docs/architecture.md)."""
    for name in ("checks", "reports"):
        link = ROOT / "preflight" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}", link
        assert link.resolve() == (ROOT / name).resolve()


def test_a_unit_test_may_not_start_a_process_or_use_the_network(
    request: pytest.FixtureRequest, unit_guard: Any
) -> None:
    """The guard that keeps ``pytest -m unit`` honest (tests/conftest.py), tried on this very test."""
    import subprocess

    assert request.node.get_closest_marker("unit") is not None
    with pytest.raises(RuntimeError, match=re.escape("is marked unit but did subprocess.Popen")):
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    with pytest.raises(RuntimeError, match=re.escape("is marked unit but did socket.bind")):
        socket.create_server(("127.0.0.1", 0))
    with socket.socket() as sock, pytest.raises(RuntimeError, match=re.escape("is marked unit but did socket.connect")):
        sock.connect(("127.0.0.1", 9))
    assert len(unit_guard.seen) == 3
    unit_guard.seen.clear()  # expected here: not this test's failure


def test_a_test_using_the_twin_is_in_the_twin_layer(request: pytest.FixtureRequest, twin_session: Any) -> None:
    assert request.node.get_closest_marker("twin") is not None
    assert request.node.get_closest_marker("unit") is None
