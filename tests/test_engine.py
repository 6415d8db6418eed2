"""The engine: concurrency, shared facts, crash isolation, timeouts, deadline, SKIP propagation, selection."""

from __future__ import annotations

import threading
from importlib.metadata import EntryPoint

import pytest

from helpers.builders import run
from preflight.check import Check
from preflight.context import Context, fact
from preflight.engine import ENTRY_POINT_GROUP, CheckSpec, load, select, split_patterns
from preflight.errors import ConfigError, FactError
from preflight.model import CheckMeta, Severity, Status
from preflight.target import Target


def meta(check_id: str) -> CheckMeta:
    return CheckMeta(id=check_id, title=check_id, severity=Severity.MEDIUM)


def test_checks_waiting_on_one_fact_run_in_parallel_and_the_fact_is_computed_once() -> None:
    # Three checks meet at a barrier before asking for the fact: with serial execution the barrier would
    # break (BrokenBarrierError → ERROR), so three PASS results prove they ran at the same time.
    barrier = threading.Barrier(3, timeout=10)
    calls: list[int] = []

    @fact("slow-thing")
    def slow_thing(ctx: Context) -> str:
        calls.append(1)
        return "value"

    def make(check_id: str) -> type[Check]:
        class Waits(Check):
            meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)

            def run(self, ctx: Context):  # type: ignore[no-untyped-def]
                barrier.wait()
                yield self.passed(ctx.get(slow_thing))

        return Waits

    ctx = Context(Target())
    results = run([make("a.one"), make("a.two"), make("a.three")], ctx, workers=3)
    assert [r.status for r in results] == [Status.PASS] * 3
    assert [r.summary for r in results] == ["value"] * 3
    assert calls == [1]
    assert ctx.computations("slow-thing") == 1


def test_concurrent_requests_for_a_slow_fact_wait_for_the_single_computation() -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    @fact("gate")
    def gate(ctx: Context) -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 42

    ctx = Context(Target())
    values: list[int] = []
    first = threading.Thread(target=lambda: values.append(ctx.get(gate)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: values.append(ctx.get(gate)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert values == [42, 42]
    assert calls == [1]


def test_a_crashing_check_becomes_error_and_the_others_still_run() -> None:
    class Boom(Check):
        meta = meta("crash.boom")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            raise ValueError("kaboom")

    class Fine(Check):
        meta = meta("crash.fine")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            yield self.passed("ok")

    boom, fine = run([Boom, Fine])
    assert boom.status is Status.ERROR
    assert boom.summary == "check crashed: ValueError: kaboom"
    assert fine.status is Status.PASS


def test_a_check_yielding_nothing_or_garbage_is_an_error_not_silence() -> None:
    class Empty(Check):
        meta = meta("bad.empty")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            return []

    class Garbage(Check):
        meta = meta("bad.garbage")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            return ["not a result"]

    empty, garbage = run([Empty, Garbage])
    assert empty.status is Status.ERROR and "without a result" in empty.summary
    assert garbage.status is Status.ERROR and "not Results" in garbage.summary


def test_a_check_over_its_timeout_is_an_error_and_the_pool_keeps_working() -> None:
    stuck = threading.Event()

    class Hangs(Check):
        meta = meta("slow.hangs")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            stuck.wait(30)
            yield self.passed("too late")

    class Quick(Check):
        meta = meta("slow.quick")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            yield self.passed("quick")

    try:
        # One worker: the quick check can only run if the engine replaces the stuck worker.
        hangs, quick = run([Hangs, Quick], timeout=0.3, deadline=20, workers=1)
    finally:
        stuck.set()
    assert hangs.status is Status.ERROR
    assert hangs.summary == "timed out after 0.3 s"
    assert quick.status is Status.PASS


def test_the_overall_deadline_ends_the_run_with_every_check_accounted_for() -> None:
    stuck = threading.Event()

    def make(check_id: str) -> type[Check]:
        class Blocks(Check):
            meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)

            def run(self, ctx: Context):  # type: ignore[no-untyped-def]
                stuck.wait(30)
                yield self.passed("late")

        return Blocks

    try:
        results = run([make("dl.one"), make("dl.two"), make("dl.three")], timeout=20, deadline=0.3, workers=1)
    finally:
        stuck.set()
    assert [r.status for r in results] == [Status.ERROR, Status.SKIP, Status.SKIP]
    assert "overall deadline of 0.3 s" in results[0].summary
    assert results[1].summary.startswith("not started")


def test_a_failed_fact_turns_dependants_into_skip_naming_the_root_cause_once_computed() -> None:
    calls: list[int] = []

    @fact("credential", reported_by="signin.chain")
    def credential(ctx: Context) -> str:
        calls.append(1)
        raise FactError("credential", "no credential in the chain could sign in")

    @fact("token")
    def token(ctx: Context, scope: str) -> str:
        return ctx.get(credential) + scope  # fails through the dependency

    def make(check_id: str) -> type[Check]:
        class NeedsToken(Check):
            meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)

            def run(self, ctx: Context):  # type: ignore[no-untyped-def]
                yield self.passed(ctx.get(token, "https://management.azure.com/.default"))

        return NeedsToken

    ctx = Context(Target())
    results = run([make("dep.one"), make("dep.two")], ctx)
    assert [r.status for r in results] == [Status.SKIP, Status.SKIP]
    for result in results:
        assert result.caused_by == "signin.chain"
        assert "credential is unavailable" in result.summary
        assert "(see signin.chain)" in result.summary
    assert calls == [1]


def test_an_unexpected_exception_in_a_fact_is_recorded_as_the_root_cause() -> None:
    @fact("broken")
    def broken(ctx: Context) -> None:
        raise KeyError("missing")

    class Needs(Check):
        meta = meta("dep.broken")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            ctx.get(broken)
            yield self.passed("unreachable")

    (result,) = run([Needs])
    assert result.status is Status.SKIP
    assert result.caused_by == "fact:broken"
    assert "KeyError" in result.summary


def test_results_carry_the_time_their_check_took() -> None:
    class Slowish(Check):
        meta = meta("t.slowish")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            threading.Event().wait(0.05)
            yield self.passed("done")

    (result,) = run([Slowish])
    assert result.duration >= 0.05


def _specs(*ids: str) -> list[CheckSpec]:
    return [CheckSpec(i, "tests", EntryPoint(i, "x:y", ENTRY_POINT_GROUP)) for i in ids]


def test_selection_by_ids_and_globs() -> None:
    specs = _specs("env.config", "rbac.data-action", "rbac.propagation", "signin.chain")
    assert [s.id for s in select(specs, only=["rbac.*"])] == ["rbac.data-action", "rbac.propagation"]
    assert [s.id for s in select(specs, skip=["rbac.*", "env.config"])] == ["signin.chain"]
    assert [s.id for s in select(specs, only=["rbac.*", "signin.chain"], skip=["rbac.prop*"])] == [
        "rbac.data-action", "signin.chain"]
    assert [s.id for s in select(specs, only=["RBAC.DATA-ACTION"])] == ["rbac.data-action"]


def test_a_pattern_matching_nothing_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="no check matches 'rbca.*'"):
        select(_specs("rbac.data-action"), only=["rbca.*"])
    with pytest.raises(ConfigError, match="no check matches 'nope'"):
        select(_specs("rbac.data-action"), skip=["nope"])


def test_split_patterns_accepts_commas_and_repeats() -> None:
    assert split_patterns(["a.b,c.*", " d.e ", ""]) == ["a.b", "c.*", "d.e"]


def test_a_check_that_cannot_be_loaded_is_reported_not_dropped() -> None:
    spec = CheckSpec("ghost.check", "ghost-dist", EntryPoint("ghost.check", "no_such_module_x:Check",
                                                             ENTRY_POINT_GROUP))
    (item,) = load([spec])
    assert item.check is None
    assert "could not load check from ghost-dist" in (item.load_error or "")
    results = run_loaded([item])
    assert results[0].status is Status.ERROR


def run_loaded(items):  # type: ignore[no-untyped-def]
    from preflight.engine import run_checks

    return run_checks(items, Context(Target()))
