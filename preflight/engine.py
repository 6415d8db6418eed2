"""Discovers, selects and runs checks. Knows nothing about Azure.

A check that cannot run because a fact it needs is unavailable is not a pass: once every result is known,
:func:`gate` keeps its SKIP only as a dependant of a check that tells the cause with a FAIL or ERROR, and makes
it ERROR otherwise (the gate rule, docs in README's exit codes).

A check that does not apply is told before it runs: the prerequisites it declares in ``CheckMeta.requires``
(objects defined outside the engine, e.g. ``preflight.azure.prerequisites``) are asked in order, and the first
:class:`~preflight.model.Skip` one answers becomes its SKIP result (:func:`unmet`).

Checks run concurrently on daemon worker threads: a check stuck in a network call past its timeout is
reported as ERROR and abandoned (a thread cannot be killed, but a daemon thread cannot hold the process open
either), and a replacement worker keeps the pool at full strength.
"""

from __future__ import annotations

import collections
import fnmatch
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol

from preflight.check import Check
from preflight.context import Context
from preflight.errors import ConfigError, FactError
from preflight.model import (
    CHECK_ID_PATTERN,
    CheckMeta,
    Evidence,
    Remediation,
    Result,
    Severity,
    Skip,
    Status,
    check_sort_key,
)

ENTRY_POINT_GROUP = "preflight.checks"
log = logging.getLogger("preflight.engine")


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A discovered, not yet imported check: selection works on ids alone, so unselected checks (and the
    SDKs they use) are never imported."""

    id: str
    distribution: str
    entry_point: EntryPoint


@dataclass(frozen=True, slots=True)
class LoadedCheck:
    """A check ready to run, or the reason it could not be loaded (reported as an ERROR result)."""

    spec: CheckSpec
    check: Check | None
    meta: CheckMeta
    load_error: str | None = None


@dataclass(frozen=True, slots=True)
class RunOptions:
    timeout: float = 60.0  # seconds per check, from the moment it starts
    deadline: float = 180.0  # seconds for the whole run
    workers: int = 8


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: carries the checks that had finished (in run order) so the CLI can say what
    completed before it stops. Still a KeyboardInterrupt, so callers that only know that type stop too."""

    def __init__(self, finished: Sequence[tuple[CheckMeta, Sequence[Result]]], during: str | None = None) -> None:
        super().__init__("interrupted")
        self.finished = tuple(finished)
        self.during = during  # e.g. "the pause after --wait attempt 2": the finished checks are that attempt's


class Observer(Protocol):
    """Live progress. Called from worker threads; implementations must be thread-safe."""

    def started(self, meta: CheckMeta) -> None: ...

    def finished(self, meta: CheckMeta, results: Sequence[Result]) -> None: ...


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why a check could not decide: the fact it needed failed (a FactError's words). Kept beside the SKIP the
    engine made of it until the whole report is known, for :func:`gate`."""

    fact: str
    message: str
    remediation: str | None = None
    reported_by: str | None = None  # the check that tells this cause itself, if any


#: A result, and why its check could not decide when it could not (else None).
Outcome = tuple[Result, Unavailable | None]


def gate(outcomes: Sequence[Outcome]) -> list[Result]:
    """The gate rule: SKIP means "does not apply"; a check that could not decide is never a pass.

    A check whose fact was unavailable stays SKIP only as a *dependant*: the check it points at
    (``reported_by``) tells the cause in this report with a FAIL or ERROR result — or, when that check is not in
    the report, another check's FAIL or ERROR names it as ``caused_by`` — and the SKIP points at the teller in a
    short clause. Otherwise — it points nowhere, at itself, at a check not in the report, or at one that
    passed, warned or skipped — it becomes ERROR carrying the cause's message and fix; a later ERROR with the
    same cause says only "same cause as <the first>", so one cause is told once.

    Pure, one result out per result in, in the same order. Runs after the last check: a dependant may finish
    before the check it points at (whose own SKIP may become the ERROR that tells the cause).
    """
    present = {r.check_id for r, _ in outcomes}
    told = _tellers(outcomes, present)
    erring = _undecided_that_err({r.check_id: why for r, why in outcomes if why is not None}, told)
    first: dict[tuple[str, str], str] = {}  # (fact, message) → the check whose ERROR tells it
    out: list[Result] = []
    for result, why in outcomes:
        if why is None:
            out.append(result)
        elif result.check_id not in erring:  # a dependant: a SKIP pointing at the check that tells the cause
            teller = told.get(str(why.reported_by), why.reported_by)
            out.append(_pointing(result, Status.SKIP, teller, f"skipped: {why.fact} is unavailable (see {teller})"))
        elif (teller := first.setdefault((why.fact, why.message), result.check_id)) != result.check_id:
            # an earlier ERROR told this very cause: said once, pointed at here
            summary = f"could not decide: {why.fact} is unavailable (same cause as {teller})"
            out.append(_pointing(result, Status.ERROR, teller, summary))
        else:
            out.append(_as_cause(result, why, present))
    return out


def _tellers(outcomes: Sequence[Outcome], present: set[str]) -> dict[str, str]:
    """Cause (a check id) → the check whose FAIL/ERROR tells it in this report."""
    told: dict[str, str] = {}
    for r, why in outcomes:
        if why is None and r.status in (Status.FAIL, Status.ERROR):
            told[r.check_id] = r.check_id
            if r.caused_by and r.caused_by not in present:  # it caught and told a cause whose owner is not here
                told.setdefault(r.caused_by, r.check_id)
    return told


def _undecided_that_err(pending: dict[str, Unavailable], told: dict[str, str]) -> set[str]:
    """The undecided checks that become ERROR; the others are dependants of the check they point at."""
    erred: dict[str, bool] = {}

    def errs(check_id: str, path: frozenset[str]) -> bool:
        if check_id not in erred:
            owner = pending[check_id].reported_by
            if owner in told:
                erred[check_id] = False
            elif owner in pending and owner != check_id and owner not in path:
                erred[check_id] = not errs(owner, path | {check_id})  # a dependant's dependant tells nothing
            else:  # nobody, itself, a cycle, not in the report, or a check that did not FAIL/ERROR
                erred[check_id] = True
        return erred[check_id]

    return {check_id for check_id in pending if errs(check_id, frozenset())}


def _pointing(result: Result, status: Status, teller: str | None, summary: str) -> Result:
    """The result pointing, in a short clause, at the check whose result tells the cause (no fix of its own)."""
    return replace(result, status=status, remediation=None, caused_by=teller, summary=summary)


def _as_cause(result: Result, why: Unavailable, present: set[str]) -> Result:
    """The ERROR that tells the cause, with its message and fix."""
    # the owner, when it is not here to say otherwise (absent, or this very check); else the fact itself
    silent = why.reported_by in present and why.reported_by != result.check_id
    return replace(
        result,
        status=Status.ERROR,
        caused_by=f"fact:{why.fact}" if silent or not why.reported_by else why.reported_by,
        remediation=Remediation(why.remediation) if why.remediation else None,
        summary=f"could not decide: {why.fact} is unavailable — {why.message}",
    )


def discover(group: str = ENTRY_POINT_GROUP) -> list[CheckSpec]:
    """All checks registered in the entry-point group, in diagnosis order. A duplicate id across distributions is
    a configuration error naming both, never a silent override."""
    specs: dict[str, CheckSpec] = {}
    for ep in entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
        if ep.name in specs and specs[ep.name].distribution != dist:
            other = specs[ep.name]
            raise ConfigError(
                f"check id {ep.name!r} is registered twice: by {other.distribution} ({other.entry_point.value}) "
                f"and by {dist} ({ep.value})",
                remediation="uninstall one of the two distributions or rename the check",
            )
        specs[ep.name] = CheckSpec(ep.name, dist, ep)
    return [specs[k] for k in sorted(specs, key=check_sort_key)]


def split_patterns(values: Iterable[str]) -> list[str]:
    """``--only a,b --only c`` → ``[a, b, c]``."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def select(specs: Sequence[CheckSpec], only: Sequence[str] = (), skip: Sequence[str] = ()) -> list[CheckSpec]:
    """Filter by ids or glob patterns (``rbac.*``). A pattern that matches nothing is an error: a typo in a CI
    gate must not silently run nothing."""
    ids = [s.id for s in specs]
    for pattern in [*only, *skip]:
        if not fnmatch.filter(ids, pattern.lower()):
            raise ConfigError(f"no check matches {pattern!r}", remediation=f"known checks: {', '.join(ids)}")
    chosen = [s for s in specs if not only or any(fnmatch.fnmatchcase(s.id, p.lower()) for p in only)]
    return [s for s in chosen if not any(fnmatch.fnmatchcase(s.id, p.lower()) for p in skip)]


def load(specs: Sequence[CheckSpec]) -> list[LoadedCheck]:
    """Import and instantiate selected checks. A plug-in that fails to import becomes an ERROR result rather
    than aborting the run."""
    loaded = []
    for spec in specs:
        placeholder = CheckMeta(spec.id, spec.id, Severity.HIGH)
        try:
            cls = spec.entry_point.load()
            meta = getattr(cls, "meta", None)
            if not isinstance(meta, CheckMeta):
                raise TypeError(f"{spec.entry_point.value} has no CheckMeta 'meta' attribute")
            if meta.id != spec.id:
                raise ValueError(f"entry point {spec.id!r} loads a check whose id is {meta.id!r}")
            if not CHECK_ID_PATTERN.match(meta.id):
                raise ValueError(f"check id {meta.id!r} is not of the form 'area.name'")
            loaded.append(LoadedCheck(spec, cls(), meta))
        except Exception as exc:
            log.debug("loading %s failed", spec.id, exc_info=True)
            reason = f"could not load check from {spec.distribution}: {type(exc).__name__}: {exc}"
            loaded.append(LoadedCheck(spec, None, placeholder, reason))
    return loaded


def run_checks(
    checks: Sequence[LoadedCheck],
    ctx: Context,
    options: RunOptions = RunOptions(),
    *,
    observer: Observer | None = None,
    sanitize: Callable[[Result], Result] = lambda r: r,
) -> list[Result]:
    """Run every check concurrently; return their results in the order of ``checks``. Never raises for a
    check's sake: crashes become ERROR, overdue checks ERROR, unstarted ones at the deadline SKIP, and a check
    whose fact was unavailable SKIP or ERROR by :func:`gate`."""
    return _Run(checks, ctx, options, observer, sanitize).execute()


class _Run:
    def __init__(
        self,
        checks: Sequence[LoadedCheck],
        ctx: Context,
        options: RunOptions,
        observer: Observer | None,
        sanitize: Callable[[Result], Result],
    ) -> None:
        self.checks = checks
        self.ctx = ctx
        self.options = options
        self.observer = observer
        self.sanitize = sanitize
        self.cond = threading.Condition()
        self.pending: collections.deque[int] = collections.deque(range(len(checks)))
        self.running: dict[int, float] = {}
        self.threads: dict[int, int] = {}  # check index → the worker thread running it
        self.results: dict[int, list[Result]] = {}
        self.unavailable: dict[int, Unavailable] = {}  # check index → why it could not decide
        self.closed = False

    def execute(self) -> list[Result]:
        try:
            return self._execute_all()
        except KeyboardInterrupt:
            # Signals reach the main thread only, i.e. here, in cond.wait. Stop handing out checks (the
            # daemon workers die with the process) and tell the caller which checks had finished.
            self.closed = True
            finished = [(self.checks[i].meta, self.results[i]) for i in sorted(dict(self.results))]
            raise Interrupted(finished) from None

    def _execute_all(self) -> list[Result]:
        end = time.monotonic() + self.options.deadline
        for _ in range(min(self.options.workers, len(self.checks))):
            self._spawn_worker()
        with self.cond:
            while len(self.results) < len(self.checks):
                now = time.monotonic()
                if now >= end:
                    break
                wake = end
                for index, started in list(self.running.items()):
                    overdue_at = started + self.options.timeout
                    if now >= overdue_at:
                        self._record(index, [self._timeout_result(index)], abandoned=True)
                        self._spawn_worker()  # the stuck thread keeps its slot busy: replace it
                    else:
                        wake = min(wake, overdue_at)
                if len(self.results) < len(self.checks):
                    self.cond.wait(max(0.0, wake - now))
            self.closed = True
            for index in list(self.running):
                meta = self.checks[index].meta
                self._record(
                    index,
                    [
                        _make(
                            meta,
                            Status.ERROR,
                            f"still running when the overall deadline of {self.options.deadline:g} s "
                            f"passed{self._waiting_for(index)}",
                        )
                    ],
                    abandoned=True,
                )
            while self.pending:
                index = self.pending.popleft()
                meta = self.checks[index].meta
                self._record(
                    index,
                    [
                        _make(
                            meta,
                            Status.SKIP,
                            f"not started: the overall deadline of {self.options.deadline:g} s passed",
                        )
                    ],
                )
        outcomes = [(r, self.unavailable.get(i)) for i in range(len(self.checks)) for r in self.results[i]]
        gated = [
            r if r is before else self.sanitize(r) for (before, _), r in zip(outcomes, gate(outcomes), strict=True)
        ]
        if self.observer is not None:  # the undecided checks, held back until gate() knew what they are
            by_check = {r.check_id: r for r in gated}
            for index in sorted(self.unavailable):
                meta = self.checks[index].meta
                self.observer.finished(meta, [by_check[meta.id]])
        return gated

    def _spawn_worker(self) -> None:
        threading.Thread(target=self._work, name="preflight-check", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self.cond:
                if self.closed or not self.pending:
                    return
                index = self.pending.popleft()
                self.running[index] = time.monotonic()
                self.threads[index] = threading.get_ident()
            loaded = self.checks[index]
            if self.observer is not None:
                self.observer.started(loaded.meta)
            results, why = self._execute(loaded)
            with self.cond:
                if index in self.running:  # not abandoned by a timeout in the meantime
                    del self.running[index]
                    if why is not None:
                        self.unavailable[index] = why
                    self._record(index, results)
                else:
                    return  # a replacement worker has taken over this thread's slot

    def _record(self, index: int, results: list[Result], abandoned: bool = False) -> None:
        """Store results (caller holds the lock) and tell the observer — about a check that could not decide
        only at the end, once :func:`gate` has made it SKIP or ERROR (progress must not show a SKIP that the
        report then calls ERROR)."""
        if abandoned:
            self.running.pop(index, None)
        self.results[index] = results
        self.cond.notify_all()
        if self.observer is not None and index not in self.unavailable:  # an undecided one: at the end
            self.observer.finished(self.checks[index].meta, results)

    def _timeout_result(self, index: int) -> Result:
        meta = self.checks[index].meta
        return _make(
            meta,
            Status.ERROR,
            f"timed out after {self.options.timeout:g} s{self._waiting_for(index)}",
            duration=self.options.timeout,
        )

    def _waiting_for(self, index: int) -> str:
        """`` waiting for <what>`` — what the check's thread is blocked on, from the Context (which follows
        waits on shared facts to the thread computing them) — or nothing when that is unknown."""
        activity = getattr(self.ctx, "activity", None)
        thread = self.threads.get(index)
        if activity is None or thread is None:
            return ""
        try:
            what = activity(thread)
        except Exception:
            log.debug("activity of check %s", self.checks[index].meta.id, exc_info=True)
            return ""
        return f" waiting for {what} (no answer yet)" if what else ""

    def _execute(self, loaded: LoadedCheck) -> tuple[list[Result], Unavailable | None]:
        meta = loaded.meta
        started = time.perf_counter()
        why = None
        if loaded.check is None:
            return [_make(meta, Status.ERROR, loaded.load_error or "could not be loaded")], None
        try:
            skip = unmet(meta, self.ctx)
            results = (
                [_make(meta, Status.SKIP, skip.summary, caused_by=skip.caused_by, evidence=skip.evidence)]
                if skip is not None
                else list(loaded.check.run(self.ctx))
            )
            bad = [r for r in results if not isinstance(r, Result) or r.check_id != meta.id]
            if bad:
                raise TypeError(f"check yielded {len(bad)} object(s) that are not Results of {meta.id}")
            if not results:
                raise RuntimeError("check finished without a result")
        except FactError as exc:
            # SKIP for now (what live progress shows); gate() decides, once every result is known, whether it
            # stays a dependant of the check telling the cause or becomes the ERROR that tells it
            why = Unavailable(exc.fact, exc.message, exc.remediation, exc.reported_by)
            results = [
                _make(
                    meta,
                    Status.SKIP,
                    f"skipped: {exc.fact} is unavailable — {exc.message}",
                    caused_by=exc.reported_by or f"fact:{exc.fact}",
                )
            ]
        except Exception as exc:
            log.debug("check %s crashed", meta.id, exc_info=True)
            results = [_make(meta, Status.ERROR, f"check crashed: {type(exc).__name__}: {exc}")]
        elapsed = time.perf_counter() - started
        return [self.sanitize(replace(r, duration=r.duration or elapsed)) for r in results], why


def unmet(meta: CheckMeta, ctx: object) -> Skip | None:
    """The first of the check's declared prerequisites that says it does not apply, or None. Called inside the
    same ``try`` as ``run``: a fact a prerequisite reads fails (or crashes) exactly as it would in the check."""
    for prerequisite in meta.requires:
        skip = prerequisite.check(ctx)
        if skip is not None:
            return skip
    return None


def _make(
    meta: CheckMeta,
    status: Status,
    summary: str,
    *,
    duration: float = 0.0,
    caused_by: str | None = None,
    remediation: Remediation | None = None,
    evidence: tuple[Evidence, ...] = (),
) -> Result:
    return Result(
        meta.id,
        meta.title,
        status,
        meta.severity,
        summary,
        evidence=evidence,
        docs=meta.docs,
        duration=duration,
        caused_by=caused_by,
        remediation=remediation,
    )
