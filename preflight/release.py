"""Close the SDK clients and credentials a run built, as soon as the run ends.

Every azure-core client and credential owns a ``requests`` session with keep-alive sockets. A run keeps them in
its Context's memoised facts, and the SDK objects reference each other in cycles, so dropping the Context frees
nothing until the cyclic garbage collector happens to run: a process that calls ``preflight.run.run`` again
and again (a service, the soak in tests/reliability/test_soak.py) held ~100 idle sockets between collections.
Closing them explicitly makes a finished run hold nothing.

Generic on purpose (the engine and the Context know nothing about Azure): any object from an SDK module that has
``close()`` is closed, found by walking the facts' values through preflight's own containers.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.context import Context

log = logging.getLogger("preflight.release")

# Modules whose objects own connections: azure-core clients and transports, azure-identity credentials, MSAL,
# requests sessions. Objects from these modules are closed, never walked into.
SDK_MODULES = ("azure.", "msal", "requests")
MAX_DEPTH = 4  # a fact value → a report → a probe → its credential
SETTLE_MAX = 10.0  # seconds a finished run waits for background work it started (see Context.on_settle)


def close_clients(values: Iterable[Any]) -> int:
    """Close every SDK object with a ``close()`` reachable from ``values`` through mappings, sequences,
    dataclasses and preflight objects (at most :data:`MAX_DEPTH` levels); returns how many were closed. A close
    that fails is logged and ignored: releasing is best effort, and must never turn a finished run into an error."""
    seen: set[int] = set()
    closed = 0

    def visit(obj: Any, depth: int) -> None:
        nonlocal closed
        if obj is None or isinstance(obj, str | bytes | int | float | bool) or depth > MAX_DEPTH or id(obj) in seen:
            return
        seen.add(id(obj))
        module = type(obj).__module__ or ""
        if module.startswith(SDK_MODULES):
            close = getattr(obj, "close", None)
            if callable(close):
                try:
                    close()
                    closed += 1
                except Exception:  # best effort, see the docstring
                    log.debug("closing %s failed", type(obj).__name__, exc_info=True)
            return
        for child in _children(obj, module):
            visit(child, depth + 1)

    for value in values:
        visit(value, 0)
    return closed


def _children(obj: Any, module: str) -> Iterable[Any]:
    if isinstance(obj, Mapping):
        return list(obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
    if module.startswith("preflight.") and hasattr(obj, "__dict__"):
        return list(vars(obj).values())
    return ()


def close_context(ctx: Context) -> int:
    """Close what the Context's finished facts and its services hold (see :func:`close_clients`). Facts still
    being computed by a check abandoned at its timeout are left alone (:meth:`Context.finished_values`)."""
    return close_clients([*ctx.finished_values(), ctx.services])


def end_context(ctx: Context, settle: float = SETTLE_MAX) -> int:
    """A finished command's Context: wait (at most ``settle`` seconds) for the background work its facts
    started, then close what they hold. For the commands that run no engine (whoami, can-i)."""
    ctx.settle(settle)
    return close_context(ctx)
