"""The Context every check receives, and the memoised *facts* it shares between checks.

A fact is something about the world several checks need (the working credential, a token for a scope, the
principal's role assignments …). Fetching it once and sharing it is what keeps a run fast and the request
count low; recording a failure once is what lets dependants say "skipped because X" instead of repeating X.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from preflight.errors import FactError

if TYPE_CHECKING:
    from typing_extensions import TypeVar as DefaultedTypeVar

    from preflight.target import Target

    # A bare ``Context`` annotation means ``Context[Target]``: the checks and facts read ``ctx.target`` typed
    # without spelling the parameter at every one of their signatures. The engine, which knows nothing about
    # what a target is, says ``Context[Any]``. (PEP 696 defaults; at runtime a plain TypeVar does.)
    TargetT = DefaultedTypeVar("TargetT", default=Target)
else:
    TargetT = TypeVar("TargetT")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A named way to establish one fact. ``compute(ctx, *args)`` runs at most once per distinct ``args``
    per Context. ``reported_by`` is the check that diagnoses this fact's failure itself."""

    name: str
    compute: Callable[..., T]
    reported_by: str | None = None


def fact(name: str, *, reported_by: str | None = None) -> Callable[[Callable[..., T]], Fact[T]]:
    """Decorator turning ``def provider(ctx, *args) -> T`` into a :class:`Fact`."""

    def wrap(compute: Callable[..., T]) -> Fact[T]:
        return Fact(name=name, compute=compute, reported_by=reported_by)

    return wrap


class _Slot:
    """One memo entry: the first caller computes, every concurrent caller waits for the same outcome."""

    __slots__ = ("done", "error", "owner", "value")

    def __init__(self, owner: int) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: FactError | None = None
        self.owner = owner


class Context(Generic[TargetT]):
    """Passed explicitly to every check; no globals. Holds the target, shared services and memoised facts.

    ``services`` is an open mapping for things built once per run (the cloud, the credential factory …) so
    the engine and this class stay free of Azure knowledge.
    """

    def __init__(self, target: TargetT, *, services: Mapping[str, Any] | None = None) -> None:
        self.target: TargetT = target
        self.services: dict[str, Any] = dict(services or {})
        self._lock = threading.Lock()
        self._slots: dict[tuple[Hashable, ...], _Slot] = {}
        self._computations: dict[str, int] = {}
        # What each thread is doing, so a check that times out can say what it was waiting for.
        self._computing: dict[int, list[str]] = {}
        self._waiting: dict[int, _Slot] = {}
        self._doing: dict[int, str] = {}
        self._settlers: list[Callable[[float], None]] = []

    def on_settle(self, wait: Callable[[float], None]) -> None:
        """Register background work a fact started and its value does not wait for (``wait(seconds)`` waits for
        it at most that long). The run settles it before releasing the Context, so nothing of one run is still
        talking to a service when the run returns — or when the next ``--wait`` attempt starts."""
        with self._lock:
            self._settlers.append(wait)

    def settle(self, timeout: float) -> None:
        """Wait for the registered background work, at most ``timeout`` seconds in all."""
        import time

        end = time.monotonic() + max(0.0, timeout)
        with self._lock:
            settlers = list(self._settlers)
        for wait in settlers:
            wait(max(0.0, end - time.monotonic()))

    def get(self, which: Fact[T], *args: Hashable) -> T:
        """Return the fact, computing it on first use. A failure is remembered and re-raised to every caller
        as the same :class:`FactError` — its ``fact`` names the root cause even through nested facts."""
        key = (which.name, *args)
        me = threading.get_ident()
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot(me)
                self._computations[which.name] = self._computations.get(which.name, 0) + 1
        if owner:
            with self._lock:
                self._computing.setdefault(me, []).append(which.name)
            try:
                self._compute(which, args, slot)
            finally:
                with self._lock:
                    stack = self._computing.get(me)
                    if stack:
                        stack.pop()
                    if not stack:
                        self._computing.pop(me, None)
        elif slot.owner == me and not slot.done.is_set():
            raise FactError(which.name, f"fact {which.name!r} depends on itself")
        elif not slot.done.is_set():
            with self._lock:
                self._waiting[me] = slot
            try:
                slot.done.wait()
            finally:
                with self._lock:
                    self._waiting.pop(me, None)
        if slot.error is not None:
            raise slot.error
        return cast(T, slot.value)  # the slot of a Fact[T] holds what its compute returned

    def _compute(self, which: Fact[Any], args: tuple[Hashable, ...], slot: _Slot) -> None:
        try:
            slot.value = which.compute(self, *args)
        except FactError as exc:
            # Either this fact's own failure or a dependency's: keep the innermost cause as the root.
            if exc.reported_by is None and exc.fact == which.name:
                exc.reported_by = which.reported_by
            slot.error = exc
        except Exception as exc:  # a provider bug or an unexpected SDK error: still one recorded cause
            error = FactError(which.name, f"{type(exc).__name__}: {exc}", reported_by=which.reported_by)
            error.__cause__ = exc
            slot.error = error
        finally:
            slot.done.set()

    def in_progress(self, which: Fact[Any], *args: Hashable) -> bool:
        """Whether the fact is being computed right now (by a thread that may be stuck: a caller past its
        deadline must not wait for it)."""
        with self._lock:
            slot = self._slots.get((which.name, *args))
        return slot is not None and not slot.done.is_set()

    @contextlib.contextmanager
    def doing(self, what: str) -> Iterator[None]:
        """Say what the current thread is doing outside any fact (e.g. a check's own call to the data plane),
        for :meth:`activity`."""
        me = threading.get_ident()
        with self._lock:
            before = self._doing.get(me)
            self._doing[me] = what
        try:
            yield
        finally:
            with self._lock:
                if before is None:
                    self._doing.pop(me, None)
                else:
                    self._doing[me] = before

    def activity(self, thread_id: int) -> str | None:
        """What ``thread_id`` is blocked on, following waits to the thread that computes the awaited fact: its
        :meth:`doing` note, else the innermost fact being computed that the ``describe-fact`` service (name →
        text) describes, else that fact's name; None when it is doing nothing the Context knows of."""
        with self._lock:
            thread = thread_id
            for _ in range(32):  # a chain of waits; bounded in case of a cycle
                slot = self._waiting.get(thread)
                if slot is None:
                    break
                thread = slot.owner
            doing = self._doing.get(thread)
            stack = list(self._computing.get(thread, ()))
        if doing:
            return doing
        describe = self.services.get("describe-fact")
        for name in reversed(stack):
            described = describe(name) if callable(describe) else None
            if described:
                return str(described)
        return f"fact {stack[-1]!r}" if stack else None

    def computations(self, name: str) -> int:
        """How many times the fact ``name`` was computed (summed over its argument variants) — for tests and
        benchmarks proving each fact is fetched once."""
        with self._lock:
            return self._computations.get(name, 0)

    def finished_values(self) -> list[Any]:
        """The values of the facts computed successfully so far (a snapshot), so a finished run can release the
        clients they hold (preflight.release). A fact still being computed — by a check abandoned at its
        timeout — is left out: its thread owns the value until it ends."""
        with self._lock:
            return [slot.value for slot in self._slots.values() if slot.done.is_set() and slot.error is None]
