"""Facts are registered once (``preflight.azure.services.FACTS``): every fact name referenced anywhere — a
provider's ``@fact``, a ``FactError`` raised, a check's ``CheckMeta.facts`` — exists there, a provider's teller is
the registry's, and every ``reported_by`` names a check that exists (or a command that tells its own)."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from preflight.azure.services import COMMANDS, FACTS, describe_fact
from preflight.context import Fact
from preflight.engine import discover as discover_checks
from preflight.engine import load, select

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    p
    for folder in ("preflight", "checks")
    for p in (ROOT / folder).rglob("*.py")
    if "twin" not in p.relative_to(ROOT).parts
)
#: Calls whose first argument is a fact name (and, for the error builders, whose fourth is its teller).
NAMING_CALLS = {"fact", "registered_fact", "FactError", "arm_error", "_rest_error"}
CHECK_GROUPS = ("preflight.checks", "preflight.audit")


def _calls() -> Iterator[tuple[Path, ast.Call]]:
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                yield path, node


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _check_ids() -> set[str]:
    return {ep.name for group in CHECK_GROUPS for ep in entry_points(group=group)}


def _fact_modules() -> list[str]:
    """The modules that declare facts, by source (so a new one is found without being listed here)."""
    modules = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if "@fact(" in text or "@registered_fact(" in text:
            relative = path.relative_to(ROOT).with_suffix("")
            modules.append(".".join(relative.parts))
    return modules


def _declared() -> dict[str, Fact[object]]:
    found: dict[str, Fact[object]] = {}
    for module in _fact_modules():
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, Fact):
                found[value.name] = value
    return found


def test_every_declared_fact_is_registered_with_the_registrys_teller() -> None:
    declared = _declared()
    assert len(declared) >= 30  # the scan found the providers (not an empty pass)
    unregistered = sorted(set(declared) - set(FACTS))
    assert not unregistered, f"facts declared but not in preflight.azure.services.FACTS: {unregistered}"
    differs = {
        name: (f.reported_by, FACTS[name].reported_by)
        for name, f in declared.items()
        if f.reported_by != FACTS[name].reported_by
    }
    assert not differs, f"@fact reported_by (declared, registered) disagree: {differs}"


def test_every_fact_name_in_source_is_registered_and_every_registered_one_is_used() -> None:
    named: dict[str, list[str]] = {}
    for path, call in _calls():
        if _name(call) in NAMING_CALLS and call.args and (name := _constant(call.args[0])) is not None:
            named.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{call.lineno}")
    unknown = {name: where for name, where in named.items() if name not in FACTS}
    assert not unknown, f"fact names used in source but not registered: {unknown}"
    stale = sorted(set(FACTS) - set(named))
    assert not stale, f"registered facts nothing declares or raises: {stale}"


def test_every_fact_a_check_declares_is_registered() -> None:
    checks = [c for group in CHECK_GROUPS for c in load(select(discover_checks(group)))]
    assert checks and all(c.check is not None for c in checks), [c.load_error for c in checks if c.check is None]
    unknown = {c.meta.id: missing for c in checks if (missing := [f for f in c.meta.facts if f not in FACTS])}
    assert not unknown, f"CheckMeta.facts not registered: {unknown}"


def test_every_teller_is_a_check_that_exists() -> None:
    checks = _check_ids()
    tellers: dict[str, list[str]] = {}
    for path, call in _calls():
        values = [k.value for k in call.keywords if k.arg == "reported_by"]
        if _name(call) in ("arm_error", "_rest_error") and len(call.args) >= 4:
            values.append(call.args[3])
        for value in values:
            if (teller := _constant(value)) is not None:
                tellers.setdefault(teller, []).append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert "signin.chain" in tellers  # the scan sees the literals
    for name, spec in FACTS.items():
        if spec.reported_by is not None:
            tellers.setdefault(spec.reported_by, []).append(f"FACTS[{name!r}]")
    unknown = {t: where for t, where in tellers.items() if t not in checks | COMMANDS}
    assert not unknown, f"reported_by names no check: {unknown}"


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("role-assignments", "Azure Resource Manager (role-assignments)"),
        ("arm:rest", "Azure Resource Manager (arm:rest)"),
        ("directory", "Microsoft Graph (directory)"),
        ("resource", "Azure Resource Manager / Azure Resource Graph (resource)"),
        ("profile", None),
        ("no-such-fact", None),
    ],
)
def test_a_registered_fact_is_described_by_its_service(name: str, said: str | None) -> None:
    assert describe_fact(name) == said
