"""The Context every check receives, and the memoised *facts* it shares between checks.

A fact is something about the world several checks need (the working credential, a token for a scope, the
principal's role assignments …). Fetching it once and sharing it is what keeps a run fast and the request
count low; recording a failure once is what lets dependants say "skipped because X" instead of repeating X.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from preflight.errors import FactError

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

    __slots__ = ("done", "value", "error", "owner")

    def __init__(self, owner: int) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: FactError | None = None
        self.owner = owner


class Context:
    """Passed explicitly to every check; no globals. Holds the target, shared services and memoised facts.

    ``services`` is an open mapping for things built once per run (the cloud, the credential factory …) so
    the engine and this class stay free of Azure knowledge.
    """

    def __init__(self, target: Any, *, services: Mapping[str, Any] | None = None) -> None:
        self.target = target
        self.services: dict[str, Any] = dict(services or {})
        self._lock = threading.Lock()
        self._slots: dict[tuple[Hashable, ...], _Slot] = {}
        self._computations: dict[str, int] = {}

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
            self._compute(which, args, slot)
        elif slot.owner == me and not slot.done.is_set():
            raise FactError(which.name, f"fact {which.name!r} depends on itself")
        else:
            slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[no-any-return]

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

    def computations(self, name: str) -> int:
        """How many times the fact ``name`` was computed (summed over its argument variants) — for tests and
        benchmarks proving each fact is fetched once."""
        with self._lock:
            return self._computations.get(name, 0)
