"""The engine: concurrency, shared facts, crash isolation, timeouts, deadline, the gate rule (SKIP only for a
dependant whose cause another check tells; ERROR for what could not be decided), selection."""

from __future__ import annotations

import dataclasses
import threading
from importlib.metadata import EntryPoint

import pytest

from helpers.builders import run

from preflight.check import Check
from preflight.context import Context, fact
from preflight.engine import (
    ENTRY_POINT_GROUP,
    CheckSpec,
    Outcome,
    Unavailable,
    gate,
    load,
    select,
    split_patterns,
)
from preflight.errors import ConfigError, FactError
from preflight.model import CheckMeta, Evidence, Result, Severity, Skip, Status
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


def test_a_failed_fact_turns_dependants_into_skip_pointing_at_the_check_that_tells_the_cause() -> None:
    calls: list[int] = []

    @fact("credential", reported_by="signin.chain")
    def credential(ctx: Context) -> str:
        calls.append(1)
        raise FactError("credential", "no credential in the chain could sign in")

    @fact("token")
    def token(ctx: Context, scope: str) -> str:
        return ctx.get(credential) + scope  # fails through the dependency

    class Chain(Check):
        meta = meta("signin.chain")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            yield self.failed("no credential in the chain could sign in")

    def make(check_id: str) -> type[Check]:
        class NeedsToken(Check):
            meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)

            def run(self, ctx: Context):  # type: ignore[no-untyped-def]
                yield self.passed(ctx.get(token, "https://management.azure.com/.default"))

        return NeedsToken

    ctx = Context(Target())
    chain, *results = run([Chain, make("dep.one"), make("dep.two")], ctx)
    assert chain.status is Status.FAIL
    assert [r.status for r in results] == [Status.SKIP, Status.SKIP]
    for result in results:
        assert result.caused_by == "signin.chain"
        assert result.summary == "skipped: credential is unavailable (see signin.chain)"
        assert result.remediation is None
    assert calls == [1]


@dataclasses.dataclass(frozen=True)
class Needs:
    """A prerequisite as a plug-in would declare one: the engine only calls ``check(ctx)``."""

    name: str
    skip: Skip | None = None
    seen: list[str] = dataclasses.field(default_factory=list, compare=False, hash=False)

    def check(self, ctx: Context) -> Skip | None:
        self.seen.append(self.name)
        return self.skip


def test_declared_prerequisites_run_in_order_and_the_first_skip_is_the_result_without_running_the_check() -> None:
    seen: list[str] = []
    ran: list[str] = []
    skip = Skip("no resource given", caused_by="resource.endpoint", evidence=(Evidence("kind", "user"),))

    def make(check_id: str, *requires: Needs) -> type[Check]:
        class Guarded(Check):
            meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW, docs=("https://d",), requires=requires)

            def run(self, ctx: Context):  # type: ignore[no-untyped-def]
                ran.append(check_id)
                yield self.passed("decided")

        return Guarded

    first, second, third = Needs("first", seen=seen), Needs("target", skip, seen=seen), Needs("third", seen=seen)
    skipped, applies = run([make("a.skipped", first, second, third), make("a.applies", first)])
    assert seen.count("third") == 0 and seen.count("target") == 1  # stops at the first that answers a Skip
    assert ran == ["a.applies"]
    assert applies.status is Status.PASS
    assert (skipped.status, skipped.summary, skipped.caused_by) == (
        Status.SKIP,
        "no resource given",
        "resource.endpoint",
    )
    assert skipped.evidence == (Evidence("kind", "user"),) and skipped.docs == ("https://d",)
    assert skipped.remediation is None and skipped.title == "a.skipped" and skipped.severity is Severity.LOW


def test_a_prerequisite_whose_fact_fails_is_gated_like_the_check_asking_for_it() -> None:
    @fact("credential", reported_by="signin.chain")
    def credential(ctx: Context) -> str:
        raise FactError("credential", "no credential in the chain could sign in", remediation="run az login")

    @dataclasses.dataclass(frozen=True)
    class SignedIn:
        def check(self, ctx: Context) -> Skip | None:
            ctx.get(credential)
            return None

    class Guarded(Check):
        meta = CheckMeta(id="dep.one", title="dep.one", severity=Severity.LOW, requires=(SignedIn(),))

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            raise AssertionError("never reached")

    (result,) = run([Guarded])
    assert result.status is Status.ERROR
    assert result.summary == "could not decide: credential is unavailable — no credential in the chain could sign in"


def test_a_failed_fact_whose_reporting_check_is_not_in_the_run_is_an_error_told_once() -> None:
    @fact("credential", reported_by="signin.chain")
    def credential(ctx: Context) -> str:
        raise FactError("credential", "no credential in the chain could sign in", remediation="run az login")

    def make(check_id: str) -> type[Check]:
        class NeedsCredential(Check):
            meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)

            def run(self, ctx: Context):  # type: ignore[no-untyped-def]
                yield self.passed(ctx.get(credential))

        return NeedsCredential

    one, two = run([make("dep.one"), make("dep.two")])
    assert [one.status, two.status] == [Status.ERROR, Status.ERROR]
    assert one.summary == "could not decide: credential is unavailable — no credential in the chain could sign in"
    assert one.remediation is not None and one.remediation.text == "run az login"
    assert two.summary == "could not decide: credential is unavailable (same cause as dep.one)"
    assert two.caused_by == "dep.one" and two.remediation is None


def test_the_check_a_fact_points_at_tells_its_failure_as_error_and_the_others_depend_on_it() -> None:
    # The cloud's metadata: the sign-in check owns it, needs it itself, and may finish after its dependants.
    started = threading.Event()

    @fact("cloud", reported_by="signin.chain")
    def cloud(ctx: Context) -> str:
        started.wait(10)
        raise FactError(
            "cloud",
            "could not read the cloud metadata from https://127.0.0.1:1/m: HTTP 503",
            remediation="check ARM_CLOUD_METADATA_URL",
        )

    class Dependant(Check):
        meta = meta("rbac.thing")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            started.set()
            yield self.passed(ctx.get(cloud))

    class Chain(Check):
        meta = meta("signin.chain")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            started.wait(10)
            yield self.passed(ctx.get(cloud))

    dependant, chain = run([Dependant, Chain], workers=2)
    assert chain.status is Status.ERROR
    assert chain.summary == (
        "could not decide: cloud is unavailable — could not read the cloud metadata from "
        "https://127.0.0.1:1/m: HTTP 503"
    )
    assert chain.remediation is not None and chain.remediation.text == "check ARM_CLOUD_METADATA_URL"
    assert dependant.status is Status.SKIP
    assert dependant.summary == "skipped: cloud is unavailable (see signin.chain)"


def test_live_progress_hears_of_an_undecided_check_only_as_the_report_will_call_it() -> None:
    from helpers.builders import loaded

    from preflight.engine import run_checks

    @fact("token")
    def token(ctx: Context) -> str:
        raise FactError("token", "Entra answered HTTP 503")

    class Needs(Check):
        meta = meta("dep.token")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            yield self.passed(ctx.get(token))

    class Fine(Check):
        meta = meta("dep.fine")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            yield self.passed("ok")

    heard: list[tuple[str, Status]] = []

    class Recorder:
        def started(self, meta: CheckMeta) -> None:
            pass

        def finished(self, meta: CheckMeta, results: list[Result]) -> None:
            heard.extend((r.check_id, r.status) for r in results)

    results = run_checks([loaded(Needs), loaded(Fine)], Context(Target()), observer=Recorder())
    assert sorted(heard) == sorted((r.check_id, r.status) for r in results)
    assert ("dep.token", Status.ERROR) in heard


def test_an_unexpected_exception_in_a_fact_is_an_error_naming_it() -> None:
    @fact("broken")
    def broken(ctx: Context) -> None:
        raise KeyError("missing")

    class Needs(Check):
        meta = meta("dep.broken")

        def run(self, ctx: Context):  # type: ignore[no-untyped-def]
            ctx.get(broken)
            yield self.passed("unreachable")

    (result,) = run([Needs])
    assert result.status is Status.ERROR
    assert result.caused_by == "fact:broken"
    assert "KeyError" in result.summary


# The gate rule as a pure function over a finished report: gate([(result, why it could not decide | None)]).


def result(check_id: str, status: Status, summary: str = "", caused_by: str | None = None) -> Result:
    return Result(check_id, check_id, status, Severity.MEDIUM, summary, caused_by=caused_by, duration=0.25)


def undecided(
    check_id: str,
    reported_by: str | None,
    fact_name: str = "token",
    message: str = "Entra answered HTTP 503",
    fix: str | None = "try again",
) -> Outcome:
    skip = result(
        check_id,
        Status.SKIP,
        f"skipped: {fact_name} is unavailable — {message}",
        caused_by=reported_by or f"fact:{fact_name}",
    )
    return skip, Unavailable(fact_name, message, fix, reported_by)


def decided(check_id: str, status: Status, caused_by: str | None = None) -> Outcome:
    return result(check_id, status, "decided", caused_by), None


@pytest.mark.parametrize("owner", [Status.FAIL, Status.ERROR])
def test_gate_keeps_a_skip_whose_cause_a_failing_check_tells_as_a_short_pointer(owner: Status) -> None:
    told, dependant = gate([decided("tokens.scope", owner), undecided("rbac.x", "tokens.scope")])
    assert told.status is owner
    assert dependant.status is Status.SKIP
    assert dependant.summary == "skipped: token is unavailable (see tokens.scope)"
    assert dependant.caused_by == "tokens.scope" and dependant.remediation is None


@pytest.mark.parametrize("owner", [Status.PASS, Status.WARN, Status.SKIP])
def test_gate_makes_error_of_a_skip_pointing_at_a_check_that_did_not_tell_the_cause(owner: Status) -> None:
    _, gated = gate([decided("tokens.scope", owner), undecided("rbac.x", "tokens.scope")])
    assert gated.status is Status.ERROR
    assert gated.summary == "could not decide: token is unavailable — Entra answered HTTP 503"
    assert gated.remediation is not None and gated.remediation.text == "try again"
    assert gated.caused_by == "fact:token"  # not "reported by" a check that reported nothing


@pytest.mark.parametrize("reported_by", [None, "not.selected", "rbac.x"], ids=["nobody", "absent", "itself"])
def test_gate_makes_error_of_a_skip_pointing_nowhere_at_an_absent_check_or_at_itself(reported_by: str | None) -> None:
    (gated,) = gate([undecided("rbac.x", reported_by)])
    assert gated.status is Status.ERROR
    assert gated.summary == "could not decide: token is unavailable — Entra answered HTTP 503"
    assert gated.caused_by == (reported_by or "fact:token")


def test_gate_points_at_a_check_that_told_the_cause_of_an_owner_missing_from_the_report() -> None:
    # preflight audit runs no signin.chain: the inventory caught the sign-in failure and told it as its ERROR
    _told, dependant = gate(
        [
            decided("audit.inventory", Status.ERROR, caused_by="signin.chain"),
            undecided("audit.orphaned", "signin.chain", "credential"),
        ]
    )
    assert dependant.status is Status.SKIP
    assert dependant.summary == "skipped: credential is unavailable (see audit.inventory)"
    assert dependant.caused_by == "audit.inventory"
    # … but a check that IS in the report tells its own causes: one that passed told nothing
    _, _, gated = gate(
        [
            decided("rbac.deny", Status.PASS),
            decided("rbac.data-action", Status.FAIL, "rbac.deny"),
            undecided("rbac.x", "rbac.deny"),
        ]
    )
    assert gated.status is Status.ERROR


def test_gate_lets_a_skip_depend_on_the_owner_whose_own_skip_became_the_error_whatever_the_order() -> None:
    gated = gate(
        [
            undecided("rbac.x", "signin.chain", "cloud"),
            undecided("signin.chain", "signin.chain", "cloud"),
            undecided("tokens.scope", "signin.chain", "cloud"),
        ]
    )
    assert [r.status for r in gated] == [Status.SKIP, Status.ERROR, Status.SKIP]
    assert gated[0].summary == gated[2].summary == "skipped: cloud is unavailable (see signin.chain)"


def test_gate_tells_one_cause_once_and_the_other_errors_point_at_the_first() -> None:
    first, second, other = gate(
        [
            undecided("rbac.x", None),
            undecided("rbac.y", None),
            undecided("rbac.z", None, message="ARM answered HTTP 429"),
        ]
    )
    assert first.summary == "could not decide: token is unavailable — Entra answered HTTP 503"
    assert first.remediation is not None
    assert second.status is Status.ERROR and second.remediation is None and second.caused_by == "rbac.x"
    assert second.summary == "could not decide: token is unavailable (same cause as rbac.x)"
    assert other.summary == "could not decide: token is unavailable — ARM answered HTTP 429"


def test_gate_does_not_touch_decided_results_not_even_a_skip_that_does_not_apply() -> None:
    outcomes = [
        decided("principal.exists", Status.SKIP),
        decided("access.probe", Status.SKIP, "resource.endpoint"),
        decided("signin.chain", Status.PASS),
    ]
    gated = gate(outcomes)
    assert all(after is before for after, (before, _) in zip(gated, outcomes, strict=True))


def test_gate_breaks_a_cycle_of_pointers_with_one_error() -> None:
    gated = gate([undecided("a.one", "a.two"), undecided("a.two", "a.one")])
    assert sorted(r.status for r in gated) == [Status.ERROR, Status.SKIP]


def test_gate_returns_new_frozen_results_keeping_order_and_durations() -> None:
    outcomes = [undecided("rbac.x", None), decided("signin.chain", Status.PASS)]
    gated = gate(outcomes)
    assert [r.check_id for r in gated] == ["rbac.x", "signin.chain"]
    assert outcomes[0][0].status is Status.SKIP  # the input is untouched
    assert gated[0].duration == 0.25
    with pytest.raises(dataclasses.FrozenInstanceError):
        gated[0].status = Status.PASS  # type: ignore[misc]


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
        "rbac.data-action",
        "signin.chain",
    ]
    assert [s.id for s in select(specs, only=["RBAC.DATA-ACTION"])] == ["rbac.data-action"]


def test_a_pattern_matching_nothing_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"no check matches 'rbca.*'"):
        select(_specs("rbac.data-action"), only=["rbca.*"])
    with pytest.raises(ConfigError, match="no check matches 'nope'"):
        select(_specs("rbac.data-action"), skip=["nope"])


def test_split_patterns_accepts_commas_and_repeats() -> None:
    assert split_patterns(["a.b,c.*", " d.e ", ""]) == ["a.b", "c.*", "d.e"]


def test_a_check_that_cannot_be_loaded_is_reported_not_dropped() -> None:
    spec = CheckSpec(
        "ghost.check", "ghost-dist", EntryPoint("ghost.check", "no_such_module_x:Check", ENTRY_POINT_GROUP)
    )
    (item,) = load([spec])
    assert item.check is None
    assert "could not load check from ghost-dist" in (item.load_error or "")
    results = run_loaded([item])
    assert results[0].status is Status.ERROR


def run_loaded(items):  # type: ignore[no-untyped-def]
    from preflight.engine import run_checks

    return run_checks(items, Context(Target()))
