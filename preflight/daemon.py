"""Run a few calls concurrently on daemon threads and wait for all of them.

Why not a ``ThreadPoolExecutor``: its threads are not daemons, and the interpreter joins them at exit. A check
the engine abandoned at its timeout may sit inside such a pool, waiting on a token endpoint that accepts and
never answers (azure-core reads for up to 300 s, then retries): the report is written on time, and then the
process does not exit — ``preflight check --deadline 4`` against a hung token endpoint exited after 127 s. On
daemon threads the same wait ends with the process. Callers still wait for every call (``join``): this changes
only what happens at exit, never a result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


def run_all(calls: Sequence[Callable[[], T]], name: str = "preflight") -> list[T]:
    """Each call's result, in order; the first call's exception (in order) is re-raised after all finished."""
    return start_all(calls, name).results()


class Running(Generic[T]):
    """Calls started on daemon threads: wait for one (``result(i)``) as soon as it is done, or for all."""

    def __init__(self, calls: Sequence[Callable[[], T]], name: str) -> None:
        self._results: list[T | None] = [None] * len(calls)
        self._errors: list[BaseException | None] = [None] * len(calls)
        self._threads = [
            threading.Thread(target=self._run, args=(calls[i], i), name=f"{name}-{i}", daemon=True)
            for i in range(len(calls))
        ]

    def _run(self, call: Callable[[], T], index: int) -> None:
        try:
            self._results[index] = call()
        except BaseException as exc:
            self._errors[index] = exc

    def start(self) -> Running[T]:
        for thread in self._threads:
            thread.start()
        return self

    def result(self, index: int) -> T:
        """Call ``index``'s result once it finished (its exception re-raised), whatever the others do."""
        self._threads[index].join()
        error = self._errors[index]
        if error is not None:
            raise error
        return self._results[index]  # type: ignore[return-value]

    def join(self, timeout: float) -> None:
        """Wait until every call finished, at most ``timeout`` seconds in all."""
        import time

        end = time.monotonic() + max(0.0, timeout)
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))

    def results(self) -> list[T]:
        for thread in self._threads:
            thread.join()
        for error in self._errors:
            if error is not None:
                raise error
        return self._results  # type: ignore[return-value]


def start_all(calls: Sequence[Callable[[], T]], name: str = "preflight") -> Running[T]:
    """Start every call on its own daemon thread now; wait later through the returned :class:`Running`."""
    return Running(calls, name).start()


U = TypeVar("U")


def map_bounded(call: Callable[[U], T], items: Sequence[U], workers: int, name: str = "preflight") -> list[T]:
    """``[call(item) for item in items]`` with at most ``workers`` calls at a time, on daemon threads — the
    bounded pools of the ARM fallback, the audit's listings and Graph's getByIds (a ``ThreadPoolExecutor``'s
    threads would be joined at exit: one listing hung on a server that never answers held ``preflight check``
    for 152 s after its report was written). Results in order; the first exception (in order) is re-raised
    once every call finished."""
    import queue

    if not items:
        return []
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        todo.put(index)
    results: list[T | None] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)

    def work() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = call(items[index])
            except BaseException as exc:  # re-raised in the waiting thread
                errors[index] = exc

    threads = [
        threading.Thread(target=work, name=f"{name}-{i}", daemon=True) for i in range(max(1, min(workers, len(items))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]
