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
from typing import TypeVar

T = TypeVar("T")


def run_all(calls: Sequence[Callable[[], T]], name: str = "preflight") -> list[T]:
    """Each call's result, in order; the first call's exception (in order) is re-raised after all finished."""
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            errors[index] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"{name}-{i}", daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]
