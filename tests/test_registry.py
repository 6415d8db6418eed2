"""Consistency of the built-in checks: every Check class is registered, ids are well formed and unique,
and check modules import no Azure SDK at module scope."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import preflight.checks
from preflight.check import Check
from preflight.engine import ENTRY_POINT_GROUP
from preflight.model import CHECK_ID_PATTERN


def builtin_check_classes() -> dict[str, type[Check]]:
    found = {}
    for module_info in pkgutil.iter_modules(preflight.checks.__path__, "preflight.checks."):
        module = importlib.import_module(module_info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Check) and obj is not Check and obj.__module__ == module.__name__:
                found[f"{obj.__module__}:{obj.__qualname__}"] = obj
    return found


# `preflight check` runs the first group, `preflight audit` the second; a check belongs to exactly one.
CHECK_GROUPS = (ENTRY_POINT_GROUP, "preflight.audit")


def test_entry_points_are_exactly_the_builtin_check_classes() -> None:
    eps = [ep for ep in distribution("azure-preflight").entry_points if ep.group in CHECK_GROUPS]
    registered = {ep.name: ep.value for ep in eps}
    assert len(registered) == len(eps), "a check id is registered twice (in one group or in both)"
    classes = builtin_check_classes()
    assert sorted(registered.values()) == sorted(classes), "a Check class is missing from pyproject entry points"
    for name, value in registered.items():
        assert classes[value].meta.id == name
    audit_ids = {ep.name for ep in eps if ep.group == "preflight.audit"}
    assert all(i.startswith("audit.") for i in audit_ids), "only audit.* checks belong to preflight.audit"


def test_check_ids_are_well_formed_and_unique() -> None:
    ids = [cls.meta.id for cls in builtin_check_classes().values()]
    assert len(ids) == len(set(ids))
    for check_id in ids:
        assert CHECK_ID_PATTERN.match(check_id), check_id


def test_every_check_has_a_title_docs_and_a_docstring() -> None:
    for cls in builtin_check_classes().values():
        assert cls.meta.title and cls.meta.docs, cls
        assert cls.__doc__, cls


def test_check_modules_import_no_azure_sdk_at_module_scope(tmp_path: Path) -> None:
    code = (
        "import sys, importlib, pkgutil, preflight.checks\n"
        "for m in pkgutil.iter_modules(preflight.checks.__path__, 'preflight.checks.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('azure', 'msal', 'requests', 'jinja2')))\n"
    )
    # cwd outside the repository: `python -c` puts the cwd on sys.path, which would shadow the install.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert proc.stdout.strip() == "[]"


def test_no_source_imports_checks_or_reports_by_their_short_names() -> None:
    # `import checks` works only in a source tree; in an installed wheel those packages are preflight.*.
    root = Path(__file__).parents[1]
    offenders = []
    for folder in ("preflight", "checks", "reports", "tests"):
        for path in (root / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                stripped = line.strip()
                if stripped.startswith(("import checks", "from checks", "import reports", "from reports")):
                    offenders.append(f"{path.relative_to(root)}:{number}")
    assert offenders == []
