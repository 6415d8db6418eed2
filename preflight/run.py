"""``run(options) -> Report``: the work behind ``preflight check``, free of any terminal or file handling so
the demo, tests and benchmarks call exactly what the CLI calls; and :func:`session`, the one lifetime of a
Context every command (``check``, ``audit``, ``can-i``, ``whoami``) runs in."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from preflight import __version__
from preflight.context import Context
from preflight.engine import Interrupted, Observer, RunOptions, discover, load, run_checks, select
from preflight.model import CheckMeta, Report, Result, Status
from preflight.redact import Redactor
from preflight.release import SETTLE_MAX, close_context
from preflight.target import Target

FAIL_ON = {"fail": Status.FAIL.rank, "warn": Status.WARN.rank, "never": None}


@dataclass(frozen=True, slots=True)
class CheckOptions:
    target: Target
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    engine: RunOptions = field(default_factory=RunOptions)
    probe: bool = False  # run opt-in checks that call the data plane (tag "opt-in")
    wait: float = 0.0  # --wait: re-check until PASS or this many seconds passed (issue 6)
    wait_interval: float = 15.0  # seconds between --wait attempts (never more than the time left)


@dataclass(frozen=True, slots=True)
class Session:
    """A command's Context and the redactor for everything that leaves the run (results, answers, messages)."""

    ctx: Context[Target]
    redactor: Redactor


@contextmanager
def session(
    target: Target,
    *,
    services: Mapping[str, Any] | None = None,
    deadline: float | None = None,
    start: float | None = None,
) -> Iterator[Session]:
    """Open a Context over ``target`` for one command and release it however the command ends. With a
    ``deadline`` (seconds), the ``deadline`` service says when the run is due (a ``time.monotonic()`` reading).

    On a normal end, first wait for the background work the facts started (e.g. credential probes after the
    chosen one) — at most :data:`~preflight.release.SETTLE_MAX` seconds and never past ``deadline`` seconds
    after ``start`` (a ``time.perf_counter()`` reading; default: now) — then close what the facts hold
    (sockets of the run's clients and credentials, now rather than at the next gc). After an exception
    (Ctrl-C included) nothing is awaited: the Context is only closed."""
    start = time.perf_counter() if start is None else start
    services = dict(services or {})
    if deadline is not None:  # when the run is due, as a time.monotonic() reading: nothing may outlive it
        services["deadline"] = time.monotonic() + deadline
    ctx = Context(target, services=services)
    try:
        yield Session(ctx, Redactor.from_environ({**target.app_environ, **target.environ}))
        left = SETTLE_MAX if deadline is None else deadline - (time.perf_counter() - start)
        ctx.settle(min(SETTLE_MAX, left))
    finally:
        close_context(ctx)


#: Called between --wait attempts: (attempt just finished, seconds left, its report, the reason to retry).
RetryHook = Callable[[int, float, Report, str], None]


def run(options: CheckOptions, observer: Observer | None = None, on_retry: RetryHook | None = None) -> Report:
    """Discover, select and run the checks against the target; always returns a complete Report.

    With ``options.wait`` (``--wait``), re-run with fresh facts (a new Context: new tokens, a fresh read of
    the role assignments) until the report is settled or the time is up, and return the last report. For CI
    right after provisioning, when a new role assignment is still propagating."""
    if options.wait <= 0:
        return _run_once(options, observer)
    start = time.perf_counter()
    deadline = time.monotonic() + options.wait
    attempt = 0
    while True:
        attempt += 1
        report = _run_once(options, observer)
        reason = unsettled(report)
        left = deadline - time.monotonic()
        if reason is None or left <= 0:
            return replace(report, duration=time.perf_counter() - start)
        if on_retry is not None:
            on_retry(attempt, left, report, reason)
        try:
            time.sleep(max(0.0, min(options.wait_interval, left)))
        except KeyboardInterrupt as exc:  # Ctrl-C between attempts: report the last attempt's checks
            by_check: dict[str, list[Result]] = {}
            for result in report.results:
                by_check.setdefault(result.check_id, []).append(result)
            raise Interrupted(
                [(meta, by_check[meta.id]) for meta in report.checks if meta.id in by_check],
                during=f"the pause after --wait attempt {attempt}",
            ) from exc


def unsettled(report: Report) -> str | None:
    """Why ``--wait`` should try again: a FAIL or ERROR anywhere, or rbac.propagation's WARN (a grant that
    is not effective yet). Other WARNs (e.g. keys still enabled) do not change by waiting. None = settled."""
    for result in report.results:
        if result.status in (Status.FAIL, Status.ERROR) or (
            result.check_id == "rbac.propagation" and result.status is Status.WARN and result.subject != "age"
        ):
            # (a WARN that the grant's age is unreadable cannot settle by waiting: it would never end)
            return f"{result.check_id}: {result.summary}"
    return None


def _run_once(options: CheckOptions, observer: Observer | None) -> Report:
    started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    start = time.perf_counter()
    checks = [c for c in load(select(discover(), options.only, options.skip)) if _wanted(c.meta, options)]
    from preflight.azure.services import describe_fact

    # the tags of the checks that run, so one check can serve another's needs (tokens.scope tests the Graph
    # token when a Graph-reading check is selected); the engine itself never reads them
    tags = frozenset(tag for c in checks for tag in c.meta.tags)
    services = {"describe-fact": describe_fact, "selected-tags": tags}
    with session(options.target, services=services, deadline=options.engine.deadline, start=start) as active:
        results = run_checks(checks, active.ctx, options.engine, observer=observer, sanitize=active.redactor.result)
        target = _target_as_run(options.target.to_dict(), active.ctx.finished_values())
    return Report(
        tool_version=__version__,
        target=active.redactor.value(target),
        started_at=started_at,
        duration=time.perf_counter() - start,
        results=tuple(results),
        checks=tuple(c.meta for c in checks),
    )


def _target_as_run(target: dict[str, Any], facts: list[Any]) -> dict[str, Any]:
    """The target as the run used it: a custom cloud's name from its metadata document (``AzureCloud`` is only
    ``--cloud``'s default, not the cloud an ``ARM_CLOUD_METADATA_URL`` run talked to)."""
    from preflight.clouds import Cloud

    resolved = next((f for f in facts if isinstance(f, Cloud)), None)
    if resolved is not None and target.get("cloud_metadata_url"):
        target["cloud"] = resolved.name
    return target


def _wanted(meta: CheckMeta, options: CheckOptions) -> bool:
    """Opt-in checks (which call the data plane) run with --probe or when --only names them."""
    if "opt-in" not in meta.tags or options.probe:
        return True
    return any(fnmatch.fnmatchcase(meta.id, pattern.lower()) and "*" not in pattern for pattern in options.only)


def exit_code(report: Report, fail_on: str) -> int:
    """0 when nothing reaches the ``--fail-on`` threshold, 1 otherwise (ERROR gates like FAIL)."""
    threshold = FAIL_ON[fail_on]
    if threshold is None:
        return 0
    return 1 if any(r.status.rank >= threshold for r in report.results) else 0
