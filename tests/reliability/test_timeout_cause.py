"""A check that times out says what it was waiting for (issue 10): the Context follows a wait on a shared fact
to the thread computing it and reports that thread's innermost fact (described by the ``describe-fact``
service) or its ``ctx.doing`` note; the engine puts it in the ERROR summary. Pure engine + Context, no Azure."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from helpers.builders import run

from preflight.azure.services import describe_fact
from preflight.check import Check
from preflight.context import Context, fact
from preflight.model import CheckMeta, Result, Severity, Status
from preflight.target import Target

release = threading.Event()


@fact("stuck-outer")
def outer(ctx: Context) -> str:
    return ctx.get(inner)


@fact("role-assignments")  # a real fact name: preflight.azure.services describes it as Resource Manager's
def inner(ctx: Context) -> str:
    release.wait(5)
    return "late"


def _check(check_id: str, body: str) -> type[Check]:
    class Stuck(Check):
        meta = CheckMeta(id=check_id, title=check_id, severity=Severity.LOW)

        def run(self, ctx: Context) -> Iterator[Result]:
            if body == "fact":
                yield self.passed(ctx.get(outer))
            elif body == "doing":
                with ctx.doing("the data plane (GET https://example.invalid/openai/deployments)"):
                    release.wait(5)
                yield self.passed("late")
            else:
                release.wait(5)
                yield self.passed("late")

    return Stuck


def test_timeouts_name_what_each_check_waited_for() -> None:
    release.clear()
    ctx = Context(Target(), services={"describe-fact": describe_fact})
    try:
        results = run(
            [
                _check("a.computes", "fact"),
                _check("a.waits", "fact"),
                _check("a.doing", "doing"),
                _check("a.opaque", "nothing"),
            ],
            ctx,
            timeout=0.5,
            deadline=5,
            workers=4,
        )
    finally:
        release.set()
    summary = {r.check_id: r.summary for r in results}
    assert all(r.status is Status.ERROR for r in results), summary
    # the check computing the fact and the one waiting for it both name the innermost fact's service
    for check in ("a.computes", "a.waits"):
        assert summary[check] == (
            "timed out after 0.5 s waiting for Azure Resource Manager (role-assignments) (no answer yet)"
        ), summary
    assert summary["a.doing"] == (
        "timed out after 0.5 s waiting for the data plane "
        "(GET https://example.invalid/openai/deployments) (no answer yet)"
    )
    assert summary["a.opaque"] == "timed out after 0.5 s"  # nothing known: no invented cause


def test_an_undescribed_fact_is_named_and_a_finished_thread_is_idle() -> None:
    release.clear()
    ctx = Context(Target())  # no describe-fact service
    seen: dict[str, str | None] = {}

    @fact("plain-thing")
    def plain(c: Context) -> str:
        seen["during"] = c.activity(threading.get_ident())
        return "x"

    assert ctx.get(plain) == "x"
    assert seen["during"] == "fact 'plain-thing'"
    assert ctx.activity(threading.get_ident()) is None
    assert not ctx.in_progress(plain)
