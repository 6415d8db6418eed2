"""``run(options) -> Report``: the work behind ``preflight check``, free of any terminal or file handling so
the demo, tests and benchmarks call exactly what the CLI calls."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

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
    engine: RunOptions = RunOptions()
    probe: bool = False  # run opt-in checks that call the data plane (tag "opt-in")
    wait: float = 0.0  # --wait: re-check until PASS or this many seconds passed (issue 6)
    wait_interval: float = 15.0  # seconds between --wait attempts (never more than the time left)


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
            raise Interrupted([(meta, by_check[meta.id]) for meta in report.checks if meta.id in by_check],
                              during=f"the pause after --wait attempt {attempt}") from exc


def unsettled(report: Report) -> str | None:
    """Why ``--wait`` should try again: a FAIL or ERROR anywhere, or rbac.propagation's WARN (a grant that
    is not effective yet). Other WARNs (e.g. keys still enabled) do not change by waiting. None = settled."""
    for result in report.results:
        if result.status in (Status.FAIL, Status.ERROR) or (
                result.check_id == "rbac.propagation" and result.status is Status.WARN and result.subject != "age"):
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
    ctx = Context(options.target, services={"describe-fact": describe_fact, "selected-tags": tags,
                                            "deadline": time.monotonic() + options.engine.deadline})
    redactor = Redactor.from_environ(options.target.environ)
    try:
        results = run_checks(checks, ctx, options.engine, observer=observer, sanitize=redactor.result)
        # background work the checks did not wait for (e.g. credential probes after the chosen one) ends with
        # the run — bounded, never past the run's deadline, and not at all after Ctrl-C
        ctx.settle(min(SETTLE_MAX, options.engine.deadline - (time.perf_counter() - start)))
    finally:
        close_context(ctx)  # sockets of the run's clients and credentials, now rather than at the next gc
    return Report(
        tool_version=__version__,
        target=redactor.value(options.target.to_dict()),
        started_at=started_at,
        duration=time.perf_counter() - start,
        results=tuple(results),
        checks=tuple(c.meta for c in checks),
    )


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
