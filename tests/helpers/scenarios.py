"""Run the real checks in-process against the session twin serving a built-in scenario."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.engine import RunOptions
from preflight.model import Report, Result
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin


def run_scenario(
    twin: Twin,
    monkeypatch: pytest.MonkeyPatch,
    scenario: str,
    only: Sequence[str] = ("signin.*", "tokens.*", "resource.*", "rbac.*"),
) -> Report:
    twin.use(scenario)
    apply_environment(monkeypatch, twin.environment())
    target = build_target(dict(os.environ))
    # an opt-in check named exactly in `only` runs, as on the command line
    return run(CheckOptions(target, only=list(only), engine=RunOptions(timeout=30, deadline=60)))


def results(report: Report, check_id: str) -> list[Result]:
    return [r for r in report.results if r.check_id == check_id]


def one(report: Report, check_id: str, subject: str | None = None) -> Result:
    """The one result of ``check_id`` with ``subject``. A tokens.scope row is named by its service ("Microsoft
    Graph", issue 19) and may also be found by the scope it requested (its ``scope`` evidence)."""
    found = [r for r in results(report, check_id) if r.subject == subject or (subject and subject == _scope_of(r))]
    assert len(found) == 1, f"expected one {check_id} result (subject {subject}), got {found}"
    return found[0]


def _scope_of(result: Result) -> object:
    if result.check_id != "tokens.scope" or result.subject is None:
        return None
    return next((e.value for e in result.evidence if e.name == "scope"), None)
