"""Builders for engine tests: run ad-hoc Check classes through the real engine without entry points."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint

from preflight.check import Check
from preflight.context import Context
from preflight.engine import ENTRY_POINT_GROUP, CheckSpec, LoadedCheck, RunOptions, run_checks
from preflight.model import Result
from preflight.target import Target


def loaded(check_cls: type[Check]) -> LoadedCheck:
    meta = check_cls.meta
    spec = CheckSpec(meta.id, "tests", EntryPoint(meta.id, f"tests:{check_cls.__name__}", ENTRY_POINT_GROUP))
    return LoadedCheck(spec, check_cls(), meta)


def run(classes: Sequence[type[Check]], ctx: Context | None = None, **options: float) -> list[Result]:
    ctx = ctx or Context(Target())
    return run_checks([loaded(c) for c in classes], ctx, RunOptions(**options))  # type: ignore[arg-type]
